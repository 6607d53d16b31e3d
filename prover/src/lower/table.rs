//! Non-linear functions by lookup tables (Sigmoid, Tanh, Exp, Erf, ...), and Softmax and LogSoftmax
//! built from them.

use crate::ir::{Kind, NodeId};
use crate::lookup::UnaryFn;

use super::reduce::Extremum;
use super::{Builder, Func, LowerError, Value, numel, padded_positions};

/// Softmax and LogSoftmax.
#[derive(Clone, Copy, Debug)]
pub(super) enum Softmax {
    Softmax,
    LogSoftmax,
}

impl Builder<'_> {
    /// `g(x)` elementwise: the input is requantized to its own scale and looked up in a table
    /// of `(t, g(t))` that gives the output its own scale.
    pub(super) fn apply_table(&mut self, node: NodeId, g: UnaryFn) -> NodeId {
        self.materialized(node, Func::Table(g), false)
    }

    pub(super) fn table_op(&mut self, g: UnaryFn) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        self.func_of(v, Func::Table(g))
    }

    /// Gelu, exact or (`approximate = "tanh"`) by its tanh approximation.
    pub(super) fn gelu(&mut self) -> Result<Value, LowerError> {
        let tanh = self.attr_s("approximate")?.is_some_and(|a| a == "tanh");
        self.table_op(UnaryFn::Gelu { tanh })
    }

    pub(super) fn elu(&mut self) -> Result<Value, LowerError> {
        let alpha = self.attr_f("alpha")?.unwrap_or(1.0) as f64;
        self.table_op(UnaryFn::Elu { alpha })
    }

    pub(super) fn selu(&mut self) -> Result<Value, LowerError> {
        let alpha = self.attr_f("alpha")?.unwrap_or(1.673_263_2) as f64;
        let gamma = self.attr_f("gamma")?.unwrap_or(1.050_701) as f64;
        self.table_op(UnaryFn::Selu { alpha, gamma })
    }

    pub(super) fn hard_sigmoid(&mut self) -> Result<Value, LowerError> {
        let alpha = self.attr_f("alpha")?.unwrap_or(0.2) as f64;
        let beta = self.attr_f("beta")?.unwrap_or(0.5) as f64;
        self.table_op(UnaryFn::HardSigmoid { alpha, beta })
    }

    /// `x^p` for a scalar constant exponent `p`.
    pub(super) fn pow(&mut self) -> Result<Value, LowerError> {
        match self.input(1)? {
            Value::Const(t) if t.data.len() == 1 => self.table_op(UnaryFn::Pow { p: t.data[0] }),
            _ => Err(self.err("the exponent must be a scalar constant")),
        }
    }

    /// `softmax(x) = e / Σe` with `e = exp(x − max x)` (exp and the reciprocal by lookup, the
    /// max by ReLUs); `log_softmax(x) = (x − max x) − log Σe`.
    pub(super) fn softmax(&mut self, kind: Softmax) -> Result<Value, LowerError> {
        let log = matches!(kind, Softmax::LogSoftmax);
        let v = self.input(0)?;
        let s = v.shape().to_vec();
        let rank = s.len().max(1);
        let axis = self.axis(self.attr_i("axis")?.unwrap_or(if self.opset < 13 { 1 } else { -1 }), rank)?;
        // Before opset 13 the input is coerced to 2-D at `axis`: all later axes are reduced.
        let axes: Vec<usize> = if self.opset < 13 { (axis..s.len()).collect() } else { vec![axis] };
        let (red, groups) = Self::reduce_groups(&s, &axes, true);
        let (node, _) = self.node_of(v)?;
        let mask = self.masked.get(&self.node.input[0]).cloned();
        let masked = |i: usize| mask.as_ref().is_some_and(|m| m[i]);
        // Each group without its masked positions (a causal mask leaves rows of every length).
        let groups: Vec<Vec<usize>> =
            groups.iter().map(|g| g.iter().copied().filter(|&i| !masked(i)).collect()).collect();
        if groups.iter().any(|g| g.is_empty()) {
            return Err(self.err("the attention mask masks a whole row of the Softmax"));
        }
        let mut x = self.factor(node);
        let width = groups.iter().map(|g| g.len()).max().unwrap_or(0);
        // A shorter group repeats its last entry: the max is the same.
        let parts: Vec<NodeId> = (0..width)
            .map(|k| self.gather(x, &s, &red, &groups.iter().map(|g| Some(g[k.min(g.len() - 1)])).collect::<Vec<_>>()))
            .collect();
        let m = self.max_of(parts, &red, Extremum::Max);
        let mut back = vec![None; numel(&s)];
        for (o, g) in groups.iter().enumerate() {
            for &i in g {
                back[i] = Some(o);
            }
        }
        if mask.is_some() {
            // Zero at the masked positions: exp(0) there is multiplied by a zero reciprocal.
            let keep: Vec<Option<usize>> = (0..numel(&s)).map(|i| (!masked(i)).then_some(i)).collect();
            x = self.gather(x, &s, &s, &keep);
        }
        let mb = self.gather(m, &red, &s, &back);
        let d = self.add(Kind::Lin(vec![(x, 1.0), (mb, -1.0)]), &s);
        let e = self.apply_table(d, UnaryFn::Exp);
        let (src_pos, dst_pos) = (padded_positions(&s), padded_positions(&red));
        let entries = groups
            .iter()
            .enumerate()
            .flat_map(|(o, g)| g.iter().map(move |&i| (o, i)))
            .map(|(o, i)| (dst_pos[o] as u32, src_pos[i] as u32, 1.0))
            .collect();
        let sum = self.add(Kind::Sparse { src: e, entries }, &red);
        let g = if log { UnaryFn::Log } else { UnaryFn::Reciprocal };
        let t = self.apply_table(sum, g);
        let tb = self.gather(t, &red, &s, &back);
        let id =
            if log { self.add(Kind::Lin(vec![(d, 1.0), (tb, -1.0)]), &s) } else { self.add(Kind::Hadamard(e, tb), &s) };
        Ok(Value::Act { node: id, shape: s })
    }
}
