//! The piecewise-linear ops: ReLU, Clip, Max/Min of tensors, Abs, PRelu and LeakyRelu, from ReLU
//! lookups and linear combinations; and the shared steps that apply a function or an affine map to
//! a value.

use crate::ir::Kind;
use crate::onnx::FTensor;

use super::reduce::Extremum;
use super::{Builder, Func, LowerError, Value};

/// The leaky rectifiers: the slope an input (PRelu) or the attribute `alpha` (LeakyRelu).
#[derive(Clone, Copy, Debug)]
pub(super) enum Rectifier {
    PRelu,
    LeakyRelu,
}

impl Builder<'_> {
    pub(super) fn unary_func(&mut self, f: Func) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        self.func_of(v, f)
    }

    /// `f(v)` elementwise: materialized through `f` (a table's input requantized to its own
    /// scale; a ReLU or a clip of exact values kept exact); of a constant, a constant (the
    /// builder folds).
    pub(super) fn func_of(&mut self, v: Value, f: Func) -> Result<Value, LowerError> {
        let (node, shape) = self.node_of(v)?;
        Ok(match f {
            Func::Table(g) => Value::Act { node: self.apply_table(node, g), shape },
            f => {
                let keep = !self.grown[node];
                Value::Act { node: self.materialized(node, f, keep), shape }
            }
        })
    }

    /// `α·v + β` elementwise (a fractional α is a product with a constant: a linear
    /// combination's coefficients are integers).
    pub(super) fn affine(&mut self, v: Value, alpha: f64, beta: f64) -> Result<Value, LowerError> {
        let (node, shape) = self.node_of(v)?;
        let scaled = if alpha == 1.0 {
            Value::Act { node, shape }
        } else if alpha.fract() == 0.0 {
            let id = self.add(Kind::Lin(vec![(node, alpha)]), &shape);
            Value::Act { node: id, shape }
        } else {
            self.mul_values(Value::Act { node, shape }, Value::Const(FTensor::scalar(alpha)))?
        };
        if beta == 0.0 {
            return Ok(scaled);
        }
        self.add_values(scaled, Value::Const(FTensor::scalar(beta)))
    }

    pub(super) fn clip(&mut self) -> Result<Value, LowerError> {
        let bound = |b: &Self, i: usize, attr: &str, dflt: f64| -> Result<f64, LowerError> {
            if let Some(t) = b.opt_input(i)? {
                return match t {
                    Value::Const(t) if t.data.len() == 1 => Ok(t.data[0]),
                    _ => Err(b.err("min and max must be scalar constants")),
                };
            }
            Ok(b.attr_f(attr)?.map(|v| v as f64).unwrap_or(dflt))
        };
        let lo = bound(self, 1, "min", f64::NEG_INFINITY)?;
        let hi = bound(self, 2, "max", f64::INFINITY)?;
        if lo > hi {
            return Err(self.err(format!("min {lo} is greater than max {hi}")));
        }
        self.unary_func(Func::Clip { lo, hi })
    }

    pub(super) fn max_min(&mut self, e: Extremum) -> Result<Value, LowerError> {
        let (parts, shape) = self.inputs_broadcast()?;
        let mut nodes = vec![];
        for p in &parts {
            let n = self.broadcast_to(p, &shape)?;
            nodes.push(n);
        }
        let id = self.max_of(nodes, &shape, e);
        Ok(Value::Act { node: id, shape })
    }

    /// `|x| = 2·relu(x) − x`.
    pub(super) fn abs(&mut self) -> Result<Value, LowerError> {
        let (node, shape) = self.node_of(self.input(0)?)?;
        let x = self.factor(node);
        let r = self.materialized(x, Func::Relu, true);
        let id = self.add(Kind::Lin(vec![(r, 2.0), (x, -1.0)]), &shape);
        Ok(Value::Act { node: id, shape })
    }

    /// PRelu (the slope an input) and LeakyRelu (the slope `alpha`), through `leaky`.
    pub(super) fn prelu(&mut self, r: Rectifier) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        let slope = if let Rectifier::LeakyRelu = r {
            FTensor::scalar(self.attr_f("alpha")?.unwrap_or(0.01) as f64)
        } else {
            self.const_input(1, "the slope")?
        };
        let shape = v.shape().to_vec();
        // ONNX broadcasts the slope unidirectionally; before opset 7 a 1-D slope of C values
        // was per channel (axis 1), as old PyTorch exports have it.
        let per_channel = slope.shape.len() == 1
            && shape.len() > 2
            && slope.shape[0] == shape[1]
            && slope.shape[0] != shape[shape.len() - 1];
        let slope = if per_channel {
            let s: Vec<usize> = [slope.shape[0]].into_iter().chain(std::iter::repeat_n(1, shape.len() - 2)).collect();
            FTensor { shape: s, data: slope.data }
        } else {
            slope
        };
        self.leaky(v, &slope)
    }

    /// `relu(x) + slope·(x − relu(x))` (`slope` broadcast to `v`'s shape): one ReLU lookup and a
    /// product with the constant slope.
    pub(super) fn leaky(&mut self, v: Value, slope: &FTensor) -> Result<Value, LowerError> {
        let (node, shape) = self.node_of(v)?;
        let slope = self.broadcast_const(slope, &shape)?;
        let x = self.factor(node);
        let r = self.materialized(x, Func::Relu, true);
        let neg = self.add(Kind::Lin(vec![(x, 1.0), (r, -1.0)]), &shape);
        let a = self.const_node(&slope, &shape)?;
        let h = self.add(Kind::Hadamard(neg, a), &shape);
        let id = self.add(Kind::Lin(vec![(r, 1.0), (h, 1.0)]), &shape);
        Ok(Value::Act { node: id, shape })
    }
}
