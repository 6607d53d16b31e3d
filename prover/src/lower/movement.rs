//! Data movement: Reshape and its kin, Transpose, Concat, Pad, Slice, Gather, Split, Tile, Expand
//! and DepthToSpace/SpaceToDepth. Each output position reads one input position (or a constant): a
//! gather map, no arithmetic.

use crate::ir::Kind;
use crate::onnx::FTensor;

use super::{Builder, LowerError, Value, numel, strides};

/// DepthToSpace and SpaceToDepth.
#[derive(Clone, Copy, Debug)]
pub(super) enum Rearrange {
    DepthToSpace,
    SpaceToDepth,
}

impl Builder<'_> {
    pub(super) fn reshape(&mut self) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        let s = v.shape().to_vec();
        let rank = s.len();
        let op = self.node.op_type.clone();
        let axes_of = |b: &Self| -> Result<Option<Vec<i64>>, LowerError> {
            if let Some(t) = b.opt_input(1)? {
                return match t {
                    Value::Const(t) => Ok(Some(t.data.iter().map(|&x| x as i64).collect())),
                    _ => Err(b.err("axes must be a constant")),
                };
            }
            b.attr_ints("axes")
        };
        let out: Vec<usize> = match op.as_str() {
            "Flatten" => {
                let a = self.attr_i("axis")?.unwrap_or(1);
                let a = if a == rank as i64 { rank } else { self.axis(a, rank)? };
                vec![s[..a].iter().product(), s[a..].iter().product()]
            }
            "Squeeze" => match axes_of(self)? {
                Some(axes) => {
                    let axes: Vec<usize> = axes.iter().map(|&a| self.axis(a, rank)).collect::<Result<_, _>>()?;
                    if let Some(&a) = axes.iter().find(|&&a| s[a] != 1) {
                        return Err(self.err(format!("cannot squeeze axis {a} of size {}", s[a])));
                    }
                    s.iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, &d)| d).collect()
                }
                None => s.iter().copied().filter(|&d| d != 1).collect(),
            },
            "Unsqueeze" => {
                let axes = axes_of(self)?.ok_or_else(|| self.err("axes are required"))?;
                let n = rank + axes.len();
                let axes: Vec<usize> = axes.iter().map(|&a| self.axis(a, n)).collect::<Result<_, _>>()?;
                let mut it = s.iter();
                (0..n).map(|i| if axes.contains(&i) { 1 } else { *it.next().unwrap_or(&1) }).collect()
            }
            _ => {
                let t = self.const_input(1, "the target shape")?;
                let allowzero = self.attr_i("allowzero")?.unwrap_or(0) != 0;
                let mut out: Vec<i64> = t.data.iter().map(|&x| x as i64).collect();
                for (i, d) in out.iter_mut().enumerate() {
                    if *d == 0 && !allowzero {
                        *d = *s.get(i).ok_or_else(|| self.err("a 0 in the shape has no input dimension to copy"))?
                            as i64;
                    }
                }
                let known: i64 = out.iter().filter(|&&d| d != -1).product();
                if out.iter().filter(|&&d| d == -1).count() > 1 || known <= 0 && out.contains(&-1) {
                    return Err(self.err(format!("target shape {out:?} is ambiguous")));
                }
                let total = numel(&s) as i64;
                out.iter().map(|&d| if d == -1 { (total / known) as usize } else { d as usize }).collect()
            }
        };
        if numel(&out) != numel(&s) {
            return Err(self.err(format!("cannot reshape {s:?} ({} elements) into {out:?}", numel(&s))));
        }
        Ok(self.reshaped(v, &out))
    }

    /// The same elements, row-major, in shape `out` (of as many elements).
    pub(super) fn reshaped(&mut self, v: Value, out: &[usize]) -> Value {
        match v {
            Value::Const(t) => Value::Const(FTensor { shape: out.to_vec(), data: t.data }),
            Value::Act { node, shape } => {
                let map: Vec<Option<usize>> = (0..numel(&shape)).map(Some).collect();
                let id = self.gather(node, &shape, out, &map);
                Value::Act { node: id, shape: out.to_vec() }
            }
        }
    }

    pub(super) fn transposed(&mut self, v: Value, perm: &[usize]) -> Result<Value, LowerError> {
        let s = v.shape().to_vec();
        let mut sorted = perm.to_vec();
        sorted.sort();
        if sorted != (0..s.len()).collect::<Vec<_>>() {
            return Err(self.err(format!("perm {perm:?} is not a permutation of the {} axes", s.len())));
        }
        if let Value::Const(t) = &v
            && s.len() == 2
            && perm == [1, 0]
        {
            return Ok(Value::Const(Self::transpose_const(t)));
        }
        let out: Vec<usize> = perm.iter().map(|&p| s[p]).collect();
        let (is, os) = (strides(&s), strides(&out));
        let map: Vec<usize> =
            (0..numel(&out)).map(|o| (0..out.len()).map(|d| (o / os[d] % out[d]) * is[perm[d]]).sum()).collect();
        Ok(match v {
            Value::Const(t) => Value::Const(FTensor { shape: out, data: map.iter().map(|&i| t.data[i]).collect() }),
            Value::Act { node, .. } => {
                let m: Vec<Option<usize>> = map.into_iter().map(Some).collect();
                let id = self.gather(node, &s, &out, &m);
                Value::Act { node: id, shape: out }
            }
        })
    }

    pub(super) fn transpose(&mut self) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        let perm: Vec<usize> = match self.attr_ints("perm")? {
            Some(p) => p.iter().map(|&x| self.axis(x, v.shape().len())).collect::<Result<_, _>>()?,
            None => (0..v.shape().len()).rev().collect(),
        };
        self.transposed(v, &perm)
    }

    pub(super) fn concat(&mut self) -> Result<Value, LowerError> {
        let parts: Vec<Value> = (0..self.node.input.len()).map(|i| self.input(i)).collect::<Result<_, _>>()?;
        let rank = parts[0].shape().len();
        let axis = self.axis(self.attr_i("axis")?.ok_or_else(|| self.err("axis is required"))?, rank)?;
        let mut out = parts[0].shape().to_vec();
        out[axis] = 0;
        for p in &parts {
            let s = p.shape();
            if s.len() != rank || (0..rank).any(|d| d != axis && s[d] != out[d]) {
                return Err(self.err(format!("cannot concatenate {s:?} with {:?} on axis {axis}", parts[0].shape())));
            }
            out[axis] += s[axis];
        }
        let os = strides(&out);
        let mut offset = 0;
        let mut placed = vec![];
        for p in parts {
            let s = p.shape().to_vec();
            let ps = strides(&s);
            let mut map = vec![None; numel(&out)];
            for i in 0..numel(&s) {
                let o: usize = (0..rank).map(|d| (i / ps[d] % s[d] + if d == axis { offset } else { 0 }) * os[d]).sum();
                map[o] = Some(i);
            }
            offset += s[axis];
            placed.push((p, map));
        }
        self.assemble(placed, &out)
    }

    /// The sum of `parts`, each moved into `out` by its map (`out[o] = part[map[o]]`, `None`
    /// reads zero): the pieces of a concatenation or a stack. The constant parts become one
    /// constant term.
    pub(super) fn assemble(
        &mut self,
        parts: Vec<(Value, Vec<Option<usize>>)>,
        out: &[usize],
    ) -> Result<Value, LowerError> {
        let mut terms = vec![];
        let mut const_data = vec![0.0; numel(out)];
        let mut any_const = false;
        for (p, map) in &parts {
            match p {
                Value::Const(t) => {
                    any_const = true;
                    for (o, m) in map.iter().enumerate() {
                        if let Some(i) = m {
                            const_data[o] += t.data[*i];
                        }
                    }
                }
                Value::Act { node, shape } => terms.push((self.gather(*node, shape, out, map), 1.0)),
            }
        }
        let constant = FTensor { shape: out.to_vec(), data: const_data };
        if terms.is_empty() {
            return Ok(Value::Const(constant));
        }
        if any_const {
            terms.push((self.const_node(&constant, out)?, 1.0));
        }
        let id = if terms.len() == 1 { terms[0].0 } else { self.add(Kind::Lin(terms), out) };
        Ok(Value::Act { node: id, shape: out.to_vec() })
    }

    /// `out[o] = v[map[o]]` (`None` reads zero), for constants and activations alike.
    pub(super) fn moved(&mut self, v: &Value, out: &[usize], map: &[Option<usize>]) -> Value {
        match v {
            Value::Const(t) => Value::Const(FTensor {
                shape: out.to_vec(),
                data: map.iter().map(|m| m.map_or(0.0, |i| t.data[i])).collect(),
            }),
            Value::Act { node, shape } => {
                let id = self.gather(*node, shape, out, map);
                Value::Act { node: id, shape: out.to_vec() }
            }
        }
    }

    /// Maps every output element to a source element through per-axis coordinate functions.
    pub(super) fn coord_map(
        out: &[usize],
        from: &[usize],
        src: impl Fn(usize, usize) -> Option<usize>,
    ) -> Vec<Option<usize>> {
        let (os, fs) = (strides(out), strides(from));
        (0..numel(out))
            .map(|o| {
                let mut i = 0;
                for d in 0..out.len() {
                    i += src(d, o / os[d] % out[d])? * fs[d];
                }
                Some(i)
            })
            .collect()
    }

    pub(super) fn pad(&mut self) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        let s = v.shape().to_vec();
        let rank = s.len();
        let pads = match self.const_ints(1, "pads")? {
            Some(p) => p,
            None => {
                self.attr_ints("pads")?.or(self.attr_ints("paddings")?).ok_or_else(|| self.err("pads are required"))?
            }
        };
        let value = match self.opt_input(2)? {
            Some(Value::Const(t)) if t.data.len() == 1 => t.data[0],
            Some(_) => return Err(self.err("the constant value must be a scalar constant")),
            None => self.attr_f("value")?.unwrap_or(0.0) as f64,
        };
        let axes: Vec<usize> = match self.const_ints(3, "axes")? {
            Some(a) => a.iter().map(|&x| self.axis(x, rank)).collect::<Result<_, _>>()?,
            None => (0..rank).collect(),
        };
        if pads.len() != 2 * axes.len() {
            return Err(self.err(format!("pads {pads:?} do not fit {} axes", axes.len())));
        }
        let mut begin = vec![0i64; rank];
        let mut end = vec![0i64; rank];
        for (k, &a) in axes.iter().enumerate() {
            begin[a] = pads[k];
            end[a] = pads[k + axes.len()];
        }
        let mode = self.attr_s("mode")?.unwrap_or_else(|| "constant".into());
        let mut out = vec![0; rank];
        for d in 0..rank {
            let o = s[d] as i64 + begin[d] + end[d];
            if o <= 0 {
                return Err(self.err(format!("pads {pads:?} remove all of axis {d}")));
            }
            out[d] = o as usize;
            if mode != "constant" && (begin[d] > 0 || end[d] > 0) && (mode == "reflect" && s[d] < 2 || s[d] == 0) {
                return Err(self.err(format!("{mode} padding of axis {d} of size {}", s[d])));
            }
        }
        let src = |d: usize, o: usize| -> Option<usize> {
            let n = s[d] as i64;
            let mut i = o as i64 - begin[d];
            match mode.as_str() {
                "edge" => Some(i.clamp(0, n - 1) as usize),
                "reflect" if n > 1 => {
                    let period = 2 * (n - 1);
                    i = i.rem_euclid(period);
                    Some(if i >= n { period - i } else { i } as usize)
                }
                _ => (0..n).contains(&i).then_some(i as usize),
            }
        };
        if !["constant", "reflect", "edge"].contains(&mode.as_str()) {
            return Err(self.err(format!("mode {mode:?} is not supported (constant, reflect, edge are)")));
        }
        let map = Self::coord_map(&out, &s, src);
        let moved = self.moved(&v, &out, &map);
        if value == 0.0 || mode != "constant" {
            return Ok(moved);
        }
        let fill =
            FTensor { shape: out.clone(), data: map.iter().map(|m| if m.is_none() { value } else { 0.0 }).collect() };
        Ok(match moved {
            Value::Const(t) => {
                Value::Const(FTensor { shape: out, data: t.data.iter().zip(&fill.data).map(|(a, b)| a + b).collect() })
            }
            Value::Act { node, .. } => {
                let c = self.const_node(&fill, &out)?;
                let id = self.add(Kind::Lin(vec![(node, 1.0), (c, 1.0)]), &out);
                Value::Act { node: id, shape: out }
            }
        })
    }

    pub(super) fn slice(&mut self) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        let s = v.shape().to_vec();
        let rank = s.len();
        let starts = self.ints_input_or_attr(1, "starts")?.ok_or_else(|| self.err("starts are required"))?;
        let ends = self.ints_input_or_attr(2, "ends")?.ok_or_else(|| self.err("ends are required"))?;
        let axes: Vec<i64> = self.ints_input_or_attr(3, "axes")?.unwrap_or_else(|| (0..starts.len() as i64).collect());
        let steps: Vec<i64> = self.const_ints(4, "steps")?.unwrap_or_else(|| vec![1; starts.len()]);
        if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
            return Err(self.err("starts, ends, axes and steps differ in length"));
        }
        let mut first = vec![0i64; rank];
        let mut step = vec![1i64; rank];
        let mut out = s.clone();
        for k in 0..starts.len() {
            let a = self.axis(axes[k], rank)?;
            let n = s[a] as i64;
            let st = steps[k];
            if st == 0 {
                return Err(self.err("a step of 0"));
            }
            let norm = |x: i64| if x < 0 { x.saturating_add(n) } else { x };
            let (b, e) = if st > 0 {
                (norm(starts[k]).clamp(0, n), norm(ends[k]).clamp(0, n))
            } else {
                (norm(starts[k]).clamp(0, n - 1), norm(ends[k]).clamp(-1, n - 1))
            };
            let len = if st > 0 {
                (e - b).max(0).div_euclid(st) + i64::from((e - b).max(0) % st != 0)
            } else {
                (b - e).max(0).div_euclid(-st) + i64::from((b - e).max(0) % -st != 0)
            };
            if len == 0 {
                return Err(self.err(format!("the slice of axis {a} is empty")));
            }
            first[a] = b;
            step[a] = st;
            out[a] = len as usize;
        }
        let map = Self::coord_map(&out, &s, |d, o| Some((first[d] + o as i64 * step[d]) as usize));
        Ok(self.moved(&v, &out, &map))
    }

    pub(super) fn gather_op(&mut self) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        let idx = match self.input(1)? {
            Value::Const(t) => t,
            Value::Act { .. } => return Err(self.err("indices computed from the input (an embedding lookup) are not supported: the indices must be constants")),
        };
        let s = v.shape().to_vec();
        let axis = self.axis(self.attr_i("axis")?.unwrap_or(0), s.len())?;
        let n = s[axis] as i64;
        let mut ix = vec![];
        for &x in &idx.data {
            let i = x as i64;
            let i = if i < 0 { i + n } else { i };
            if !(0..n).contains(&i) {
                return Err(self.err(format!("index {x} is out of range for axis {axis} of size {n}")));
            }
            ix.push(i as usize);
        }
        let out: Vec<usize> = s[..axis].iter().chain(&idx.shape).chain(&s[axis + 1..]).copied().collect();
        let (outer, inner) = (numel(&s[..axis]), numel(&s[axis + 1..]));
        let mut map = Vec::with_capacity(numel(&out));
        for a in 0..outer {
            for &i in &ix {
                for b in 0..inner {
                    map.push(Some((a * s[axis] + i) * inner + b));
                }
            }
        }
        Ok(self.moved(&v, &out, &map))
    }

    pub(super) fn split(&mut self) -> Result<Vec<Value>, LowerError> {
        let v = self.input(0)?;
        let s = v.shape().to_vec();
        let axis = self.axis(self.attr_i("axis")?.unwrap_or(0), s.len())?;
        let n_out = self.node.output.len();
        let sizes: Vec<usize> = match self.ints_input_or_attr(1, "split")? {
            Some(p) => p.iter().map(|&x| x.max(0) as usize).collect(),
            None => {
                let k = n_out.max(1);
                let chunk = s[axis].div_ceil(k);
                (0..k).map(|i| chunk.min(s[axis].saturating_sub(i * chunk))).collect()
            }
        };
        if sizes.len() != n_out || sizes.iter().sum::<usize>() != s[axis] || sizes.contains(&0) {
            return Err(self.err(format!(
                "split sizes {sizes:?} do not divide axis {axis} of size {} into {n_out} outputs",
                s[axis]
            )));
        }
        let mut at = 0;
        let mut outs = vec![];
        for sz in sizes {
            let mut out = s.clone();
            out[axis] = sz;
            let map = Self::coord_map(&out, &s, |d, o| Some(if d == axis { o + at } else { o }));
            outs.push(self.moved(&v, &out, &map));
            at += sz;
        }
        Ok(outs)
    }

    pub(super) fn tile(&mut self) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        let s = v.shape().to_vec();
        let reps = self.const_ints(1, "repeats")?.ok_or_else(|| self.err("repeats are required"))?;
        if reps.len() != s.len() || reps.iter().any(|&r| r < 1) {
            return Err(self.err(format!("repeats {reps:?} do not fit shape {s:?}")));
        }
        let out: Vec<usize> = s.iter().zip(&reps).map(|(&d, &r)| d * r as usize).collect();
        let map = Self::coord_map(&out, &s, |d, o| Some(o % s[d]));
        Ok(self.moved(&v, &out, &map))
    }

    pub(super) fn expand(&mut self) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        let target: Vec<usize> = self
            .const_ints(1, "the shape")?
            .ok_or_else(|| self.err("the shape is required"))?
            .iter()
            .map(|&x| x.max(1) as usize)
            .collect();
        let out = self.broadcast_shape(v.shape(), &target)?;
        Ok(match v {
            Value::Const(t) => Value::Const(self.broadcast_const(&t, &out)?),
            v => {
                let id = self.broadcast_to(&v, &out)?;
                Value::Act { node: id, shape: out }
            }
        })
    }

    pub(super) fn depth_space(&mut self, kind: Rearrange) -> Result<Value, LowerError> {
        let to_space = matches!(kind, Rearrange::DepthToSpace);
        let v = self.input(0)?;
        let s = v.shape().to_vec();
        let b =
            self.attr_i("blocksize")?.filter(|&b| b > 0).ok_or_else(|| self.err("a positive blocksize is required"))?
                as usize;
        if s.len() != 4 {
            return Err(self.err(format!("expects an [N, C, H, W] input; got {s:?}")));
        }
        let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
        let crd = self.attr_s("mode")?.is_some_and(|m| m == "CRD");
        let (out, map): (Vec<usize>, Vec<Option<usize>>) = if to_space {
            if c % (b * b) != 0 {
                return Err(self.err(format!("{c} channels are not a multiple of blocksize² = {}", b * b)));
            }
            let co = c / (b * b);
            let out = vec![n, co, h * b, w * b];
            let mut map = vec![];
            for ni in 0..n {
                for ci in 0..co {
                    for y in 0..h * b {
                        for x in 0..w * b {
                            let (i, j) = (y % b, x % b);
                            let src_c = if crd { ci * b * b + i * b + j } else { (i * b + j) * co + ci };
                            map.push(Some(((ni * c + src_c) * h + y / b) * w + x / b));
                        }
                    }
                }
            }
            (out, map)
        } else {
            if h % b != 0 || w % b != 0 {
                return Err(self.err(format!("spatial size {h}×{w} is not a multiple of blocksize {b}")));
            }
            let (ho, wo) = (h / b, w / b);
            let out = vec![n, c * b * b, ho, wo];
            let mut map = vec![];
            for ni in 0..n {
                for oc in 0..c * b * b {
                    let (blk, ci) = (oc / c, oc % c);
                    let (i, j) = (blk / b, blk % b);
                    for y in 0..ho {
                        for x in 0..wo {
                            map.push(Some(((ni * c + ci) * h + y * b + i) * w + x * b + j));
                        }
                    }
                }
            }
            (out, map)
        };
        Ok(self.moved(&v, &out, &map))
    }
}
