//! Conv, ConvTranspose, the pools and BatchNormalization: their spatial geometry (strides, pads,
//! dilations, auto_pad) and their lowering to sparse linear maps, with max pooling by ReLUs.

use crate::ir::{Kind, NodeId};
use crate::onnx::FTensor;

use super::reduce::Extremum;
use super::{Builder, Func, LowerError, Value, padded_positions, strides};

/// A convolution's or a pool's spatial geometry, per spatial axis: the input and output sizes,
/// the kernel, its stride and dilation, and the padding before the input.
pub(super) struct Geometry {
    input: Vec<usize>,
    output: Vec<usize>,
    kernel: Vec<usize>,
    stride: Vec<usize>,
    dilation: Vec<usize>,
    begin: Vec<usize>,
}

impl Geometry {
    /// The input position that output position `o` reads at kernel offset `k` (None: padding).
    fn window(&self, o: usize, k: usize) -> Option<usize> {
        let (os, ks, is) = (strides(&self.output), strides(&self.kernel), strides(&self.input));
        let mut idx = 0;
        for d in 0..self.input.len() {
            let oc = o / os[d] % self.output[d];
            let kc = k / ks[d] % self.kernel[d];
            let i = (oc * self.stride[d] + kc * self.dilation[d]) as isize - self.begin[d] as isize;
            if i < 0 || i >= self.input[d] as isize {
                return None;
            }
            idx += i as usize * is[d];
        }
        Some(idx)
    }
}

impl Builder<'_> {
    /// Spatial geometry shared by Conv and the pools: output sizes and begin pads per axis.
    pub(super) fn geometry(
        &self,
        input: &[usize],
        kernel: &[usize],
        dilations: &[usize],
    ) -> Result<Geometry, LowerError> {
        let nd = input.len();
        let strides: Vec<usize> = match self.attr_ints("strides")? {
            Some(s) => s.iter().map(|&x| x as usize).collect(),
            None => vec![1; nd],
        };
        if strides.len() != nd || strides.contains(&0) {
            return Err(self.err(format!("strides {strides:?} do not fit {nd} spatial dimensions")));
        }
        let auto = self.attr_s("auto_pad")?.unwrap_or_else(|| "NOTSET".into());
        let ceil = self.attr_i("ceil_mode")?.unwrap_or(0) != 0;
        let mut begin = vec![0; nd];
        let mut end = vec![0; nd];
        match auto.as_str() {
            "NOTSET" => {
                if let Some(p) = self.attr_ints("pads")? {
                    if p.len() != 2 * nd || p.iter().any(|&x| x < 0) {
                        return Err(self.err(format!("pads {p:?} do not fit {nd} spatial dimensions")));
                    }
                    for i in 0..nd {
                        begin[i] = p[i] as usize;
                        end[i] = p[i + nd] as usize;
                    }
                }
            }
            "VALID" => {}
            "SAME_UPPER" | "SAME_LOWER" => {
                for i in 0..nd {
                    let out = input[i].div_ceil(strides[i]);
                    let span = (kernel[i] - 1) * dilations[i] + 1;
                    let total = ((out - 1) * strides[i] + span).saturating_sub(input[i]);
                    begin[i] = if auto == "SAME_UPPER" { total / 2 } else { total - total / 2 };
                    end[i] = total - begin[i];
                }
            }
            other => return Err(self.err(format!("auto_pad {other:?} is not an ONNX value"))),
        }
        let mut out = vec![0; nd];
        for i in 0..nd {
            let span = (kernel[i] - 1) * dilations[i] + 1;
            let full = input[i] + begin[i] + end[i];
            if full < span {
                return Err(self.err(format!("kernel span {span} is larger than the padded input {full}")));
            }
            out[i] = if ceil { (full - span).div_ceil(strides[i]) + 1 } else { (full - span) / strides[i] + 1 };
        }
        Ok(Geometry {
            input: input.to_vec(),
            output: out,
            kernel: kernel.to_vec(),
            stride: strides,
            dilation: dilations.to_vec(),
            begin,
        })
    }

    /// `[N, C, spatial...]` with 1 to 3 spatial axes: (N, C, spatial sizes).
    pub(super) fn spatial(&self, s: &[usize]) -> Result<(usize, usize, Vec<usize>), LowerError> {
        if s.len() < 3 || s.len() > 5 {
            return Err(self.err(format!("expects an [N, C, L], [N, C, H, W] or [N, C, D, H, W] input; got {s:?}")));
        }
        Ok((s[0], s[1], s[2..].to_vec()))
    }

    pub(super) fn dilations(&self, nd: usize) -> Result<Vec<usize>, LowerError> {
        let dil: Vec<usize> = match self.attr_ints("dilations")? {
            Some(d) if d.iter().all(|&x| x > 0) => d.iter().map(|&x| x as usize).collect(),
            Some(d) => return Err(self.err(format!("dilations {d:?} must be positive"))),
            None => vec![1; nd],
        };
        if dil.len() != nd {
            return Err(self.err(format!("dilations {dil:?} do not fit {nd} spatial dimensions")));
        }
        Ok(dil)
    }

    /// ConvTranspose's output sizes and begin pads: `out = s·(in − 1) + output_padding +
    /// (k − 1)·d + 1 − pads`, or the pads that give `output_shape`.
    pub(super) fn transpose_geometry(
        &self,
        input: &[usize],
        kernel: &[usize],
        dil: &[usize],
    ) -> Result<Geometry, LowerError> {
        let nd = input.len();
        let ints = |name: &str, dflt: usize| -> Result<Vec<usize>, LowerError> {
            match self.attr_ints(name)? {
                Some(v) if v.len() == nd && v.iter().all(|&x| x >= 0) => Ok(v.iter().map(|&x| x as usize).collect()),
                Some(v) => Err(self.err(format!("{name} {v:?} do not fit {nd} spatial dimensions"))),
                None => Ok(vec![dflt; nd]),
            }
        };
        let strides = ints("strides", 1)?;
        if strides.contains(&0) {
            return Err(self.err("strides must be positive"));
        }
        let out_pad = ints("output_padding", 0)?;
        let auto = self.attr_s("auto_pad")?.unwrap_or_else(|| "NOTSET".into());
        let full: Vec<usize> =
            (0..nd).map(|i| strides[i] * (input[i] - 1) + out_pad[i] + (kernel[i] - 1) * dil[i] + 1).collect();
        let target: Option<Vec<usize>> = match self.attr_ints("output_shape")? {
            Some(v) => {
                let v: Vec<usize> = v.iter().rev().take(nd).rev().map(|&x| x.max(0) as usize).collect();
                if v.len() != nd {
                    return Err(self.err("output_shape does not fit the spatial dimensions"));
                }
                Some(v)
            }
            None if auto == "SAME_UPPER" || auto == "SAME_LOWER" => {
                Some((0..nd).map(|i| input[i] * strides[i]).collect())
            }
            None => None,
        };
        let mut begin = vec![0; nd];
        let mut out = full.clone();
        match target {
            Some(t) => {
                for i in 0..nd {
                    if t[i] > full[i] {
                        return Err(self.err(format!("output_shape {t:?} is larger than the full output {full:?}")));
                    }
                    let total = full[i] - t[i];
                    begin[i] = if auto == "SAME_UPPER" { total / 2 } else { total - total / 2 };
                    out[i] = t[i];
                }
            }
            None if auto == "NOTSET" || auto == "VALID" => {
                if let Some(p) = self.attr_ints("pads")?.filter(|_| auto == "NOTSET") {
                    if p.len() != 2 * nd || p.iter().any(|&x| x < 0) {
                        return Err(self.err(format!("pads {p:?} do not fit {nd} spatial dimensions")));
                    }
                    for i in 0..nd {
                        let (b, e) = (p[i] as usize, p[i + nd] as usize);
                        if b + e >= full[i] {
                            return Err(self.err(format!("pads {p:?} remove the whole output")));
                        }
                        begin[i] = b;
                        out[i] = full[i] - b - e;
                    }
                }
            }
            None => return Err(self.err(format!("auto_pad {auto:?} is not an ONNX value"))),
        }
        Ok(Geometry {
            input: input.to_vec(),
            output: out,
            kernel: kernel.to_vec(),
            stride: strides,
            dilation: dil.to_vec(),
            begin,
        })
    }

    /// Conv and ConvTranspose, grouped or not, on a batch: one matrix product of the weight
    /// (block-diagonal over the groups) with the im2col matrix of the input.
    pub(super) fn conv(&mut self) -> Result<Value, LowerError> {
        let transpose = self.node.op_type == "ConvTranspose";
        let x = self.input(0)?;
        let w = self.const_input(1, "the weight")?;
        let Value::Act { node: xn, shape: xs } = x else { return Err(self.err("the input is a constant")) };
        let (n, c, in_sp) = self.spatial(&xs)?;
        let nd = in_sp.len();
        let g = self.attr_i("group")?.unwrap_or(1);
        if g < 1 || c % g as usize != 0 {
            return Err(self.err(format!("group {g} does not divide the {c} input channels")));
        }
        let g = g as usize;
        if w.shape.len() != nd + 2 {
            return Err(self.err(format!("weight shape {:?} does not match input {xs:?}", w.shape)));
        }
        let cg = c / g;
        let co = if transpose { w.shape[1] * g } else { w.shape[0] };
        let ok = if transpose { w.shape[0] == c } else { w.shape[1] == cg && co % g == 0 };
        if !ok || co == 0 {
            return Err(self.err(format!("weight shape {:?} does not match input {xs:?} with {g} group(s)", w.shape)));
        }
        let cog = co / g;
        let kernel = w.shape[2..].to_vec();
        if let Some(k) = self.attr_ints("kernel_shape")?
            && k.iter().map(|&x| x as usize).ne(kernel.iter().copied())
        {
            return Err(self.err(format!("kernel_shape {k:?} differs from the weight's {kernel:?}")));
        }
        let dil = self.dilations(nd)?;
        let geo = if transpose {
            self.transpose_geometry(&in_sp, &kernel, &dil)?
        } else {
            self.geometry(&in_sp, &kernel, &dil)?
        };
        let (out_sp, step, begin) = (&geo.output, &geo.stride, &geo.begin);
        let kk: usize = kernel.iter().product();
        let kdim = c * kk;
        let p: usize = out_sp.iter().product();
        let in_plane: usize = in_sp.iter().product();
        let (ks, os, is) = (strides(&kernel), strides(out_sp), strides(&in_sp));
        // The input position an output position reads at a kernel offset (None: padding).
        let read = |o: usize, k: usize| -> Option<usize> {
            if !transpose {
                return geo.window(o, k);
            }
            let mut idx = 0;
            for d in 0..nd {
                let (oc, kc) = (o / os[d] % out_sp[d], k / ks[d] % kernel[d]);
                let v = (oc + begin[d]) as isize - (kc * dil[d]) as isize;
                if v < 0 || !(v as usize).is_multiple_of(step[d]) || v as usize / step[d] >= in_sp[d] {
                    return None;
                }
                idx += v as usize / step[d] * is[d];
            }
            Some(idx)
        };
        // im2col: rows (channel, kernel offset), columns (batch, output position).
        let col_shape: Vec<usize> = [kdim, n].into_iter().chain(out_sp.iter().copied()).collect();
        let mut map = vec![None; kdim * n * p];
        for ci in 0..c {
            for k in 0..kk {
                for o in 0..p {
                    if let Some(i) = read(o, k) {
                        for b in 0..n {
                            map[(ci * kk + k) * n * p + b * p + o] = Some(b * c * in_plane + ci * in_plane + i);
                        }
                    }
                }
            }
        }
        let cols = self.gather(xn, &xs, &col_shape, &map);
        let mut wd = vec![0.0; co * kdim];
        for o in 0..co {
            let grp = o / cog;
            for cl in 0..cg {
                let ci = grp * cg + cl;
                for k in 0..kk {
                    wd[o * kdim + ci * kk + k] =
                        if transpose { w.data[(ci * cog + o % cog) * kk + k] } else { w.data[(o * cg + cl) * kk + k] };
                }
            }
        }
        let lg = |v: usize| v.next_power_of_two().trailing_zeros();
        let wl = self.const_node(&FTensor { shape: vec![co, kdim], data: wd }, &[co, kdim])?;
        let mm_shape: Vec<usize> = [co, n].into_iter().chain(out_sp.iter().copied()).collect();
        let pl: u32 = lg(n) + out_sp.iter().map(|&d| lg(d)).sum::<u32>();
        let mut id = self.add(Kind::MatMul { l: wl, r: cols, a: lg(co), b: lg(kdim), c: pl }, &mm_shape);
        if let Some(bias) = self.opt_input(2)? {
            let Value::Const(bias) = bias else { return Err(self.err("the bias must be a constant")) };
            if bias.data.len() != co {
                return Err(self.err(format!("the bias has {} values for {co} output channels", bias.data.len())));
            }
            let bshape: Vec<usize> = [co].into_iter().chain(std::iter::repeat_n(1, nd + 1)).collect();
            let bn = self.const_node(&FTensor { shape: bshape, data: bias.data }, &mm_shape)?;
            id = self.add(Kind::Lin(vec![(id, 1.0), (bn, 1.0)]), &mm_shape);
        }
        // [Co, N, ...] → [N, Co, ...] (a relabeling when N = 1).
        let perm: Vec<usize> = [1, 0].into_iter().chain(2..nd + 2).collect();
        self.transposed(Value::Act { node: id, shape: mm_shape }, &perm)
    }

    pub(super) fn pool(&mut self) -> Result<Value, LowerError> {
        let op = self.node.op_type.clone();
        let Value::Act { node: xn, shape: xs } = self.input(0)? else { return Err(self.err("pooling a constant")) };
        let (batch, c, in_sp) = self.spatial(&xs)?;
        let nd = in_sp.len();
        let geo = if op == "GlobalAveragePool" {
            Geometry {
                input: in_sp.clone(),
                output: vec![1; nd],
                kernel: in_sp.clone(),
                stride: vec![1; nd],
                dilation: vec![1; nd],
                begin: vec![0; nd],
            }
        } else {
            let kernel: Vec<usize> = self
                .attr_ints("kernel_shape")?
                .ok_or_else(|| self.err("kernel_shape is required"))?
                .iter()
                .map(|&x| x as usize)
                .collect();
            if kernel.len() != nd || kernel.contains(&0) {
                return Err(self.err(format!("kernel_shape {kernel:?} does not fit {nd} spatial dimensions")));
            }
            let dil = self.dilations(nd)?;
            self.geometry(&in_sp, &kernel, &dil)?
        };
        let kk: usize = geo.kernel.iter().product();
        let p: usize = geo.output.iter().product();
        let in_plane: usize = in_sp.iter().product();
        let out_shape: Vec<usize> = [batch, c].into_iter().chain(geo.output.iter().copied()).collect();
        // Batch and channel together index the planes.
        let c = batch * c;
        let win = |o: usize, k: usize| geo.window(o, k);
        if op == "MaxPool" {
            // max(a, b) = a + relu(b − a), folded over the window; a window short of an offset
            // (padding) reads its first element again, which leaves the max unchanged.
            let slot = |k: usize| -> Vec<Option<usize>> {
                (0..c * p)
                    .map(|cp| {
                        let (ci, o) = (cp / p, cp % p);
                        win(o, k).or_else(|| (0..kk).find_map(|j| win(o, j))).map(|i| ci * in_plane + i)
                    })
                    .collect()
            };
            let mut acc = vec![(self.gather(xn, &xs, &out_shape, &slot(0)), 1.0)];
            for k in 1..kk {
                let g = self.gather(xn, &xs, &out_shape, &slot(k));
                let mut diff = vec![(g, 1.0)];
                diff.extend(acc.iter().map(|&(n, c)| (n, -c)));
                let d = self.add(Kind::Lin(diff), &out_shape);
                let y = self.materialized(d, Func::Relu, true);
                acc.push((y, 1.0));
            }
            let id = if acc.len() == 1 { acc[0].0 } else { self.add(Kind::Lin(acc), &out_shape) };
            return Ok(Value::Act { node: id, shape: out_shape });
        }
        let include_pad = self.attr_i("count_include_pad")?.unwrap_or(0) != 0;
        let src_pos = padded_positions(&xs);
        let dst_pos = padded_positions(&out_shape);
        let mut entries = vec![];
        for ci in 0..c {
            for o in 0..p {
                let reads: Vec<usize> = (0..kk).filter_map(|k| win(o, k)).collect();
                let count = if include_pad { kk } else { reads.len().max(1) };
                for i in reads {
                    entries.push((dst_pos[ci * p + o] as u32, src_pos[ci * in_plane + i] as u32, 1.0 / count as f64));
                }
            }
        }
        let id = self.add(Kind::Sparse { src: xn, entries }, &out_shape);
        Ok(Value::Act { node: id, shape: out_shape })
    }

    pub(super) fn batchnorm(&mut self) -> Result<Value, LowerError> {
        let Value::Act { node: xn, shape: xs } = self.input(0)? else { return Err(self.err("normalizing a constant")) };
        let eps = self.attr_f("epsilon")?.unwrap_or(1e-5) as f64;
        let [g, b, m, v] = [1, 2, 3, 4].map(|i| self.const_input(i, "scale, bias, mean and variance"));
        let (g, b, m, v) = (g?, b?, m?, v?);
        let c = xs.get(1).copied().unwrap_or(1);
        if [&g, &b, &m, &v].iter().any(|t| t.data.len() != c) {
            return Err(self.err(format!("parameters must have {c} entries (the channel count)")));
        }
        let a: Vec<f64> = (0..c).map(|i| g.data[i] / libm::sqrt(v.data[i] + eps)).collect();
        let shift: Vec<f64> = (0..c).map(|i| b.data[i] - m.data[i] * a[i]).collect();
        let pshape: Vec<usize> = (0..xs.len()).map(|d| if d == 1 { c } else { 1 }).collect();
        let an = self.const_node(&FTensor { shape: pshape.clone(), data: a }, &xs)?;
        let xf = self.factor(xn);
        let prod = self.add(Kind::Hadamard(xf, an), &xs);
        let sn = self.const_node(&FTensor { shape: pshape, data: shift }, &xs)?;
        let id = self.add(Kind::Lin(vec![(prod, 1.0), (sn, 1.0)]), &xs);
        Ok(Value::Act { node: id, shape: xs })
    }

    pub(super) fn global_max_pool(&mut self) -> Result<Value, LowerError> {
        let Value::Act { node, shape } = self.input(0)? else { return Err(self.err("pooling a constant")) };
        self.spatial(&shape)?;
        let axes: Vec<usize> = (2..shape.len()).collect();
        let (out, groups) = Self::reduce_groups(&shape, &axes, true);
        let node = self.factor(node);
        let width = groups[0].len();
        let parts: Vec<NodeId> = (0..width)
            .map(|k| self.gather(node, &shape, &out, &groups.iter().map(|g| Some(g[k])).collect::<Vec<_>>()))
            .collect();
        let id = self.max_of(parts, &out, Extremum::Max);
        Ok(Value::Act { node: id, shape: out })
    }
}
