//! Add, Sub, Mul, Div, Neg and Sum with ONNX's broadcasting: linear combinations of their operands,
//! or products (an elementwise product of two activations, a constant scaling of one); an attention
//! mask added to scores is recorded, not quantized.

use crate::ir::{Kind, NodeId};
use crate::lookup::UnaryFn;
use crate::onnx::FTensor;

use super::{Builder, LowerError, MASK, Value, log_len, numel, padded_positions, strides};

/// The binary arithmetic operators.
#[derive(Clone, Copy, Debug)]
pub(super) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

impl Builder<'_> {
    pub(super) fn broadcast_shape(&self, a: &[usize], b: &[usize]) -> Result<Vec<usize>, LowerError> {
        let n = a.len().max(b.len());
        let get = |s: &[usize], i: usize| if i + s.len() >= n { s[i + s.len() - n] } else { 1 };
        (0..n)
            .map(|i| match (get(a, i), get(b, i)) {
                (x, y) if x == y => Ok(x),
                (1, y) => Ok(y),
                (x, 1) => Ok(x),
                (x, y) => Err(self.err(format!("shapes {a:?} and {b:?} do not broadcast (dimension {i}: {x} vs {y})"))),
            })
            .collect()
    }

    /// For each element of `out` (row-major), the index of the element of `from` it reads.
    pub(super) fn broadcast_map(from: &[usize], out: &[usize]) -> Vec<usize> {
        let n = out.len();
        let fs = strides(from);
        let os = strides(out);
        (0..numel(out))
            .map(|o| {
                let mut src = 0;
                for d in 0..n {
                    let k = d as isize - (n - from.len()) as isize;
                    if k >= 0 && from[k as usize] != 1 {
                        src += (o / os[d] % out[d]) * fs[k as usize];
                    }
                }
                src
            })
            .collect()
    }

    pub(super) fn broadcast_const(&self, t: &FTensor, shape: &[usize]) -> Result<FTensor, LowerError> {
        if t.shape == shape {
            return Ok(t.clone());
        }
        let s = self.broadcast_shape(&t.shape, shape)?;
        if s != shape {
            return Err(self.err(format!("constant of shape {:?} does not broadcast to {shape:?}", t.shape)));
        }
        let data = Self::broadcast_map(&t.shape, shape).into_iter().map(|i| t.data[i]).collect();
        Ok(FTensor { shape: shape.to_vec(), data })
    }

    /// Moves the elements of an activation: `out[o] = x[map[o]]` (`None` reads zero).
    pub(super) fn gather(&mut self, node: NodeId, from: &[usize], out: &[usize], map: &[Option<usize>]) -> NodeId {
        let src_pos = padded_positions(from);
        let dst_pos = padded_positions(out);
        let identity = log_len(from) == log_len(out)
            && map.len() == src_pos.len()
            && map.iter().zip(&dst_pos).all(|(m, d)| m.map(|i| src_pos[i]) == Some(*d));
        if identity {
            return node;
        }
        let entries =
            map.iter().zip(&dst_pos).filter_map(|(m, &d)| m.map(|i| (d as u32, src_pos[i] as u32, 1.0))).collect();
        self.add(Kind::Sparse { src: node, entries }, out)
    }

    /// `v` as a node of `shape` (a constant made at that shape; an activation broadcast to it).
    pub(super) fn broadcast_to(&mut self, v: &Value, shape: &[usize]) -> Result<NodeId, LowerError> {
        match v {
            Value::Const(t) => self.const_node(t, shape),
            Value::Act { node, shape: s } => {
                if s.as_slice() == shape {
                    return Ok(*node);
                }
                let b = self.broadcast_shape(s, shape)?;
                if b != shape {
                    return Err(self.err(format!("shape {s:?} does not broadcast to {shape:?}")));
                }
                let map: Vec<Option<usize>> = Self::broadcast_map(s, shape).into_iter().map(Some).collect();
                Ok(self.gather(*node, s, shape, &map))
            }
        }
    }

    /// Add, Sub, Mul and Div, broadcast; an attention mask added to scores is recorded
    /// (`masked_scores`).
    pub(super) fn arith(&mut self, op: Arith) -> Result<Value, LowerError> {
        let (a, b) = (self.input(0)?, self.input(1)?);
        match op {
            Arith::Add => match self.masked_scores(&a, &b)? {
                Some(v) => Ok(v),
                None => self.add_values(a, b),
            },
            Arith::Sub => self.sub_values(a, b),
            Arith::Mul => self.mul_values(a, b),
            Arith::Div => {
                let r = self.reciprocal(b)?;
                self.mul_values(a, r)
            }
        }
    }

    /// An activation plus a constant with entries at or below `MASK` (−10⁴, −10⁹, float32's
    /// minimum, −∞: what exporters write for an attention mask): the activation plus the
    /// constant's other entries, the masked positions recorded for the Softmax that reads it.
    /// Such a constant cannot be quantized beside real scores, and a Softmax gives its positions
    /// zero whatever its value, so they are left out of the Softmax instead.
    pub(super) fn masked_scores(&mut self, a: &Value, b: &Value) -> Result<Option<Value>, LowerError> {
        let (act, c) = match (a, b) {
            (Value::Act { .. }, Value::Const(c)) | (Value::Const(c), Value::Act { .. }) => {
                (if matches!(a, Value::Act { .. }) { a } else { b }, c)
            }
            _ => return Ok(None),
        };
        if !c.data.iter().any(|&x| x <= MASK) {
            return Ok(None);
        }
        let shape = self.broadcast_shape(a.shape(), b.shape())?;
        let mut c = self.broadcast_const(c, &shape)?;
        let mask: Vec<bool> = c.data.iter().map(|&x| x <= MASK).collect();
        c.data.iter_mut().filter(|x| **x <= MASK).for_each(|x| *x = 0.0);
        let v = self.add_values(act.clone(), Value::Const(c))?;
        self.masked.insert(self.node.output[0].clone(), mask);
        Ok(Some(v))
    }

    /// `a + b`, broadcast (of constants, a constant: the builder folds).
    pub(super) fn add_values(&mut self, a: Value, b: Value) -> Result<Value, LowerError> {
        self.signed_sum(a, b, 1.0)
    }

    /// `a − b`, broadcast.
    pub(super) fn sub_values(&mut self, a: Value, b: Value) -> Result<Value, LowerError> {
        self.signed_sum(a, b, -1.0)
    }

    /// `a + sign·b`.
    fn signed_sum(&mut self, a: Value, b: Value, sign: f64) -> Result<Value, LowerError> {
        let shape = self.broadcast_shape(a.shape(), b.shape())?;
        let na = self.broadcast_to(&a, &shape)?;
        let nb = self.broadcast_to(&b, &shape)?;
        let id = self.add(Kind::Lin(vec![(na, 1.0), (nb, sign)]), &shape);
        Ok(Value::Act { node: id, shape })
    }

    /// `1/b` by lookup (a constant holding a zero is refused).
    fn reciprocal(&mut self, b: Value) -> Result<Value, LowerError> {
        if let Value::Const(t) = &b
            && t.data.contains(&0.0)
        {
            return Err(self.err("division by a constant that contains zero"));
        }
        let (node, shape) = self.node_of(b)?;
        Ok(Value::Act { node: self.apply_table(node, UnaryFn::Reciprocal), shape })
    }

    /// `a ⊙ b`, broadcast.
    pub(super) fn mul_values(&mut self, a: Value, b: Value) -> Result<Value, LowerError> {
        let shape = self.broadcast_shape(a.shape(), b.shape())?;
        let factor = |s: &mut Self, v: &Value| -> Result<NodeId, LowerError> {
            let n = s.broadcast_to(v, &shape)?;
            Ok(if matches!(v, Value::Act { .. }) { s.factor(n) } else { n })
        };
        let na = factor(self, &a)?;
        let nb = factor(self, &b)?;
        let id = self.add(Kind::Hadamard(na, nb), &shape);
        Ok(Value::Act { node: id, shape })
    }

    pub(super) fn neg(&mut self) -> Result<Value, LowerError> {
        let (node, shape) = self.node_of(self.input(0)?)?;
        let id = self.add(Kind::Lin(vec![(node, -1.0)]), &shape);
        Ok(Value::Act { node: id, shape })
    }

    pub(super) fn inputs_broadcast(&mut self) -> Result<(Vec<Value>, Vec<usize>), LowerError> {
        let parts: Vec<Value> = (0..self.node.input.len()).map(|i| self.input(i)).collect::<Result<_, _>>()?;
        if parts.is_empty() {
            return Err(self.err("no inputs"));
        }
        let mut shape = parts[0].shape().to_vec();
        for p in &parts[1..] {
            shape = self.broadcast_shape(&shape, p.shape())?;
        }
        Ok((parts, shape))
    }

    pub(super) fn sum(&mut self) -> Result<Value, LowerError> {
        let (parts, shape) = self.inputs_broadcast()?;
        let mut terms = vec![];
        let mut cst = vec![0.0; numel(&shape)];
        let mut any_const = false;
        for p in &parts {
            match p {
                Value::Const(t) => {
                    any_const = true;
                    let b = self.broadcast_const(t, &shape)?;
                    cst.iter_mut().zip(b.data).for_each(|(a, x)| *a += x);
                }
                v => terms.push((self.broadcast_to(v, &shape)?, 1.0)),
            }
        }
        if any_const {
            let c = self.const_node(&FTensor { shape: shape.clone(), data: cst }, &shape)?;
            terms.push((c, 1.0));
        }
        let id = if terms.len() == 1 { terms[0].0 } else { self.add(Kind::Lin(terms), &shape) };
        Ok(Value::Act { node: id, shape })
    }
}
