//! InstanceNormalization and LayerNormalization.

use crate::ir::Kind;
use crate::lookup::UnaryFn;
use crate::onnx::FTensor;

use super::{Builder, LowerError, Value, numel, padded_positions};

/// InstanceNormalization (over each channel's spatial positions) and LayerNormalization (over
/// the axes from `axis` on).
#[derive(Clone, Copy, Debug)]
pub(super) enum Norm {
    Instance,
    Layer,
}

impl Builder<'_> {
    /// `(x − mean)·(var + ε)^(−1/2)·scale + bias` over the normalized axes: the means are data
    /// movements, the square an elementwise product, `t^(−1/2)` a lookup.
    pub(super) fn normalization(&mut self, kind: Norm) -> Result<Value, LowerError> {
        let layer = matches!(kind, Norm::Layer);
        let Value::Act { node, shape: s } = self.input(0)? else { return Err(self.err("normalizing a constant")) };
        let rank = s.len();
        let eps = self.attr_f("epsilon")?.unwrap_or(1e-5) as f64;
        let axes: Vec<usize> = if layer {
            let a = self.axis(self.attr_i("axis")?.unwrap_or(-1), rank)?;
            (a..rank).collect()
        } else {
            if rank < 3 {
                return Err(self.err(format!("expects an [N, C, ...] input; got {s:?}")));
            }
            (2..rank).collect()
        };
        let param_shape: Vec<usize> =
            if layer { s[axes[0]..].to_vec() } else { (0..rank).map(|d| if d == 1 { s[1] } else { 1 }).collect() };
        let param = |b: &Self, i: usize, what: &str| -> Result<Option<FTensor>, LowerError> {
            match b.opt_input(i)? {
                None => Ok(None),
                Some(Value::Const(t)) => {
                    if t.data.len() != numel(&param_shape) {
                        return Err(b.err(format!(
                            "{what} has {} values; {} expected",
                            t.data.len(),
                            numel(&param_shape)
                        )));
                    }
                    Ok(Some(FTensor { shape: param_shape.clone(), data: t.data }))
                }
                Some(_) => Err(b.err(format!("{what} must be a constant"))),
            }
        };
        let scale = param(self, 1, "the scale")?;
        let bias = param(self, 2, "the bias")?;
        let (red, groups) = Self::reduce_groups(&s, &axes, true);
        let n = groups[0].len() as f64;
        let (src_pos, dst_pos) = (padded_positions(&s), padded_positions(&red));
        let entries: Vec<(u32, u32, f64)> = groups
            .iter()
            .enumerate()
            .flat_map(|(o, g)| g.iter().map(move |&i| (o, i)))
            .map(|(o, i)| (dst_pos[o] as u32, src_pos[i] as u32, 1.0 / n))
            .collect();
        let mut back = vec![None; numel(&s)];
        for (o, g) in groups.iter().enumerate() {
            for &i in g {
                back[i] = Some(o);
            }
        }
        let x = self.factor(node);
        let mean = self.add(Kind::Sparse { src: x, entries: entries.clone() }, &red);
        let mb = self.gather(mean, &red, &s, &back);
        let c = self.add(Kind::Lin(vec![(x, 1.0), (mb, -1.0)]), &s);
        let c = self.factor(c);
        let sq = self.add(Kind::Hadamard(c, c), &s);
        let var = self.add(Kind::Sparse { src: sq, entries }, &red);
        let e = self.const_node(&FTensor::scalar(eps), &red)?;
        let ve = self.add(Kind::Lin(vec![(var, 1.0), (e, 1.0)]), &red);
        let rs = self.apply_table(ve, UnaryFn::Pow { p: -0.5 });
        let rsb = self.gather(rs, &red, &s, &back);
        let mut y = self.add(Kind::Hadamard(c, rsb), &s);
        if let Some(g) = scale {
            let yf = self.factor(y);
            let gn = self.const_node(&g, &s)?;
            y = self.add(Kind::Hadamard(yf, gn), &s);
        }
        if let Some(b) = bias {
            let bn = self.const_node(&b, &s)?;
            y = self.add(Kind::Lin(vec![(y, 1.0), (bn, 1.0)]), &s);
        }
        Ok(Value::Act { node: y, shape: s })
    }
}
