//! Reading a node's attributes and constant operands: typed, with ONNX's negative axes resolved,
//! and a clear error naming the attribute.

use super::{Builder, LowerError, Value};

impl Builder<'_> {
    pub(super) fn attr_i(&self, name: &str) -> Result<Option<i64>, LowerError> {
        self.node.get_attr_opt::<i64>(name).map_err(|e| self.err(format!("attribute {name}: {e}")))
    }

    pub(super) fn attr_f(&self, name: &str) -> Result<Option<f32>, LowerError> {
        self.node.get_attr_opt::<f32>(name).map_err(|e| self.err(format!("attribute {name}: {e}")))
    }

    pub(super) fn attr_ints(&self, name: &str) -> Result<Option<Vec<i64>>, LowerError> {
        self.node.get_attr_opt_vec::<i64>(name).map_err(|e| self.err(format!("attribute {name}: {e}")))
    }

    pub(super) fn attr_s(&self, name: &str) -> Result<Option<String>, LowerError> {
        self.node.get_attr_opt::<String>(name).map_err(|e| self.err(format!("attribute {name}: {e}")))
    }

    pub(super) fn axis(&self, a: i64, rank: usize) -> Result<usize, LowerError> {
        let r = rank as i64;
        if a < -r || a >= r {
            return Err(self.err(format!("axis {a} is out of range for rank {rank}")));
        }
        Ok(if a < 0 { (a + r) as usize } else { a as usize })
    }

    /// A constant input as integers (axes, pads, indices, shapes).
    pub(super) fn const_ints(&self, i: usize, what: &str) -> Result<Option<Vec<i64>>, LowerError> {
        match self.opt_input(i)? {
            Some(Value::Const(t)) => Ok(Some(t.data.iter().map(|&x| x as i64).collect())),
            Some(Value::Act { .. }) => Err(self.err(format!("{what} must be a constant of the model"))),
            None => Ok(None),
        }
    }

    /// A list of integers from input `i` (newer opsets) or attribute `attr` (older ones).
    pub(super) fn ints_input_or_attr(&self, i: usize, attr: &str) -> Result<Option<Vec<i64>>, LowerError> {
        match self.const_ints(i, attr)? {
            Some(v) => Ok(Some(v)),
            None => self.attr_ints(attr),
        }
    }
}
