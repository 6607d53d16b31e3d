//! Reductions: ReduceSum and ReduceMean are linear maps; ReduceMax and ReduceMin a tree of ReLUs.

use crate::ir::{Kind, NodeId};

use super::{Builder, Func, LowerError, Value, numel, padded_positions, strides};

/// The Reduce operators.
#[derive(Clone, Copy, Debug)]
pub(super) enum Reducer {
    Sum,
    Mean,
    Max,
    Min,
}

/// Which of two values a max-like fold keeps.
#[derive(Clone, Copy, Debug)]
pub(super) enum Extremum {
    Max,
    Min,
}

impl Extremum {
    /// `max(a, b) = a + relu(b − a)`; `min(a, b) = a − relu(a − b)`: the sign of both terms.
    fn sign(self) -> f64 {
        match self {
            Extremum::Max => 1.0,
            Extremum::Min => -1.0,
        }
    }
}

impl Builder<'_> {
    /// The reduced axes (sorted) and whether they are kept, per ONNX's attributes or inputs.
    pub(super) fn reduce_axes(&self, rank: usize) -> Result<(Vec<usize>, bool), LowerError> {
        let keep = self.attr_i("keepdims")?.unwrap_or(1) != 0;
        let axes = self.ints_input_or_attr(1, "axes")?.unwrap_or_default();
        let mut axes: Vec<usize> = if axes.is_empty() {
            if self.attr_i("noop_with_empty_axes")?.unwrap_or(0) != 0 { vec![] } else { (0..rank).collect() }
        } else {
            axes.iter().map(|&a| self.axis(a, rank)).collect::<Result<_, _>>()?
        };
        axes.sort();
        axes.dedup();
        Ok((axes, keep))
    }

    /// For each reduced output element (row-major), the input elements it reduces.
    pub(super) fn reduce_groups(s: &[usize], axes: &[usize], keep: bool) -> (Vec<usize>, Vec<Vec<usize>>) {
        let kept: Vec<usize> = s.iter().enumerate().map(|(d, &n)| if axes.contains(&d) { 1 } else { n }).collect();
        let ks = strides(&kept);
        let mut groups = vec![vec![]; numel(&kept)];
        let ss = strides(s);
        for i in 0..numel(s) {
            let o: usize = (0..s.len()).map(|d| if axes.contains(&d) { 0 } else { (i / ss[d] % s[d]) * ks[d] }).sum();
            groups[o].push(i);
        }
        let out = if keep {
            kept
        } else {
            s.iter().enumerate().filter(|(d, _)| !axes.contains(d)).map(|(_, &n)| n).collect()
        };
        (out, groups)
    }

    /// ReduceSum, ReduceMean, ReduceMax and ReduceMin over the axes the node names.
    pub(super) fn reduce(&mut self, r: Reducer) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        let s = v.shape().to_vec();
        let (axes, keep) = self.reduce_axes(s.len())?;
        if axes.is_empty() {
            return Ok(v);
        }
        let (out, groups) = Self::reduce_groups(&s, &axes, keep);
        match r {
            Reducer::Sum | Reducer::Mean => {
                let sources: Vec<Vec<(usize, f64)>> = groups
                    .iter()
                    .map(|g| {
                        let c = if let Reducer::Mean = r { 1.0 / g.len() as f64 } else { 1.0 };
                        g.iter().map(|&i| (i, c)).collect()
                    })
                    .collect();
                self.linear_map(v, &out, &sources)
            }
            Reducer::Max => self.extremum_of_groups(v, &s, out, &groups, Extremum::Max),
            Reducer::Min => self.extremum_of_groups(v, &s, out, &groups, Extremum::Min),
        }
    }

    /// The linear map `out[o] = Σ w·v[i]` over each output's weighted sources `(i, w)`: a
    /// `Sparse` map.
    pub(super) fn linear_map(
        &mut self,
        v: Value,
        out: &[usize],
        sources: &[Vec<(usize, f64)>],
    ) -> Result<Value, LowerError> {
        let (node, shape) = self.node_of(v)?;
        let (src_pos, dst_pos) = (padded_positions(&shape), padded_positions(out));
        let entries = sources
            .iter()
            .zip(dst_pos)
            .flat_map(|(src, d)| {
                let src_pos = &src_pos;
                src.iter().map(move |&(i, w)| (d as u32, src_pos[i] as u32, w))
            })
            .collect();
        let id = self.add(Kind::Sparse { src: node, entries }, out);
        Ok(Value::Act { node: id, shape: out.to_vec() })
    }

    /// The elementwise max (or min) of same-shaped activations:
    /// `max(a, b) = a + relu(b − a)`, `min(a, b) = a − relu(a − b)`, folded left to right.
    pub(super) fn max_of(&mut self, parts: Vec<NodeId>, shape: &[usize], e: Extremum) -> NodeId {
        let sign = e.sign();
        let mut acc = vec![(parts[0], 1.0)];
        for &p in &parts[1..] {
            let mut diff = vec![(p, sign)];
            diff.extend(acc.iter().map(|&(n, c)| (n, -c * sign)));
            let d = self.add(Kind::Lin(diff), shape);
            let keep = !self.grown[d];
            let y = self.materialized(d, Func::Relu, keep);
            acc.push((y, sign));
        }
        if acc.len() == 1 { acc[0].0 } else { self.add(Kind::Lin(acc), shape) }
    }

    /// Each group's max (or min) of `v` (shape `s`): `max_of` over the groups' members, a short
    /// group repeating its last member (which leaves its max unchanged).
    fn extremum_of_groups(
        &mut self,
        v: Value,
        s: &[usize],
        out: Vec<usize>,
        groups: &[Vec<usize>],
        e: Extremum,
    ) -> Result<Value, LowerError> {
        let (node, _) = self.node_of(v)?;
        let node = self.factor(node);
        let width = groups.iter().map(|g| g.len()).max().unwrap_or(1);
        let parts: Vec<NodeId> = (0..width)
            .map(|k| {
                self.gather(node, s, &out, &groups.iter().map(|g| Some(g[k.min(g.len() - 1)])).collect::<Vec<_>>())
            })
            .collect();
        let id = self.max_of(parts, &out, e);
        Ok(Value::Act { node: id, shape: out })
    }
}
