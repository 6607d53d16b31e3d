//! Comparisons, logic and Where. Greater, Less, GreaterOrEqual and LessOrEqual are a step table
//! on the difference of their operands (Equal the difference of two such steps), so their outputs
//! are 0 or 1 by the lookup itself; Not, And, Or and Xor of such booleans are affine maps and
//! products. A Where with a constant condition is a selection (data movement); one whose
//! condition is such a boolean is `y + c·(x − y)`. A condition the lookup has not made boolean (a model input, a ReLU) is
//! refused: a product with it would select nothing the proof can vouch for. Cast is the
//! identity on activations cast to a floating type (or a boolean to bool) and converts
//! constants.

use crate::ir::Kind;
use crate::onnx::FTensor;

use super::{Builder, Func, LowerError, MASK, UnaryFn, Value, numel};

/// ONNX element types (`TensorProto.DataType`) that Cast may name.
const FLOAT: i64 = 1;
const BOOL: i64 = 9;
/// `BOOL` as the `i32` of a `TensorProto.data_type` or a tensor type's `elem_type`.
pub(super) const BOOL_TYPE: i32 = BOOL as i32;
const FLOAT16: i64 = 10;
const DOUBLE: i64 = 11;
const BFLOAT16: i64 = 16;
/// The integer types: INT8 … UINT64 (2–7, 12, 13).
const INTEGERS: [i64; 8] = [2, 3, 4, 5, 6, 7, 12, 13];
/// `INTEGERS` as `TensorProto.data_type`s or tensor types' `elem_type`s.
pub(super) const INTEGER_TYPES: [i32; 8] = [2, 3, 4, 5, 6, 7, 12, 13];

/// The comparisons, as `a > b` or `a ≥ b` with the operands in ONNX's order or swapped (and
/// equality as the difference of the two).
#[derive(Clone, Copy, Debug)]
pub(super) enum Comparison {
    Greater,
    Less,
    GreaterOrEqual,
    LessOrEqual,
    Equal,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Logic {
    Not,
    And,
    Or,
    Xor,
}

impl Builder<'_> {
    /// Input `i`, which must be 0/1: a constant, or an activation the lookup made boolean.
    fn boolean_input(&self, i: usize) -> Result<Value, LowerError> {
        let v = self.input(i)?;
        match &v {
            Value::Act { .. } if !self.booleans.contains(&self.node.input[i]) => Err(self.err(format!(
                "input {:?} is not a boolean computed by a comparison (Greater, Less, GreaterOrEqual, LessOrEqual, \
                 Equal) or by logic on one",
                self.node.input[i]
            ))),
            _ => Ok(v),
        }
    }

    fn mark_boolean(&mut self, v: &Value) {
        if matches!(v, Value::Act { .. }) {
            self.booleans.insert(self.node.output[0].clone());
        }
    }

    /// `v ≠ 0` as 0/1: `1 − ([v ≥ 0] − [v > 0])`.
    pub(super) fn nonzero(&mut self, v: Value) -> Result<Value, LowerError> {
        let ge = self.func_of(v.clone(), Func::Table(UnaryFn::Step { or_equal: true }))?;
        let gt = self.func_of(v, Func::Table(UnaryFn::Step { or_equal: false }))?;
        let eq = self.sub_values(ge, gt)?;
        self.affine(eq, -1.0, 1.0)
    }

    pub(super) fn compare(&mut self, c: Comparison) -> Result<Value, LowerError> {
        let (a, b) = (self.input(0)?, self.input(1)?);
        let (a, b, or_equal) = match c {
            Comparison::Greater => (a, b, false),
            Comparison::Less => (b, a, false),
            Comparison::GreaterOrEqual | Comparison::Equal => (a, b, true),
            Comparison::LessOrEqual => (b, a, true),
        };
        let d = self.sub_values(a, b)?;
        let mut v = self.func_of(d.clone(), Func::Table(UnaryFn::Step { or_equal }))?;
        if matches!(c, Comparison::Equal) {
            // [a ≥ b] − [a > b]: equality at the precision the difference is quantized to.
            let gt = self.func_of(d, Func::Table(UnaryFn::Step { or_equal: false }))?;
            v = self.sub_values(v, gt)?;
        }
        self.mark_boolean(&v);
        Ok(v)
    }

    pub(super) fn logic(&mut self, op: Logic) -> Result<Value, LowerError> {
        let a = self.boolean_input(0)?;
        let v = match op {
            Logic::Not => self.affine(a, -1.0, 1.0)?,
            Logic::And | Logic::Or | Logic::Xor => {
                let b = self.boolean_input(1)?;
                let ab = self.mul_values(a.clone(), b.clone())?;
                let sum = self.add_values(a, b)?;
                match op {
                    Logic::And => ab,
                    // a + b − ab, a + b − 2ab
                    Logic::Or => self.sub_values(sum, ab)?,
                    _ => {
                        let two_ab = self.affine(ab, 2.0, 0.0)?;
                        self.sub_values(sum, two_ab)?
                    }
                }
            }
        };
        self.mark_boolean(&v);
        Ok(v)
    }

    /// `Where(condition, X, Y)` with a constant condition: a selection, each output element moved
    /// from X where the condition holds and from Y elsewhere (a constant side adds its selected
    /// entries as a constant); all three broadcast. A condition computed from the input is a
    /// product with a boolean (`computed_where`).
    pub(super) fn where_op(&mut self) -> Result<Value, LowerError> {
        let Value::Const(cond) = self.input(0)? else {
            return self.computed_where();
        };
        let (x, y) = (self.input(1)?, self.input(2)?);
        let shape = self.broadcast_shape(&self.broadcast_shape(&cond.shape, x.shape())?, y.shape())?;
        let cond = self.broadcast_const(&cond, &shape)?;
        let n = numel(&shape);
        let mut constant = vec![0.0; n];
        let mut terms = vec![];
        for (v, side) in [(x, true), (y, false)] {
            let chosen: Vec<bool> = cond.data.iter().map(|&c| (c != 0.0) == side).collect();
            match v {
                Value::Const(t) => {
                    let t = self.broadcast_const(&t, &shape)?;
                    for o in (0..n).filter(|&o| chosen[o]) {
                        constant[o] = t.data[o];
                    }
                }
                Value::Act { node, shape: from } if chosen.contains(&true) => {
                    let src = Self::broadcast_map(&from, &shape);
                    let map: Vec<Option<usize>> = (0..n).map(|o| chosen[o].then_some(src[o])).collect();
                    terms.push((self.gather(node, &from, &shape, &map), 1.0));
                }
                Value::Act { .. } => {}
            }
        }
        if !terms.is_empty() && constant.iter().any(|&c| c <= MASK) {
            // An attention mask written as a selection (`masked_fill`): see `masked_scores`.
            let mask = constant.iter().map(|&c| c <= MASK).collect();
            constant.iter_mut().filter(|c| **c <= MASK).for_each(|c| *c = 0.0);
            self.masked.insert(self.node.output[0].clone(), mask);
        }
        let constant = FTensor { shape: shape.clone(), data: constant };
        if terms.is_empty() {
            return Ok(Value::Const(constant));
        }
        if constant.data.iter().any(|&v| v != 0.0) {
            terms.push((self.const_node(&constant, &shape)?, 1.0));
        }
        let node = match terms[..] {
            [(only, _)] => only,
            _ => self.add(Kind::Lin(terms), &shape),
        };
        Ok(Value::Act { node, shape })
    }

    /// `Where(c, x, y) = y + c·(x − y)` for a boolean `c` computed from the input.
    pub(super) fn computed_where(&mut self) -> Result<Value, LowerError> {
        let c = self.boolean_input(0).map_err(|_| {
            self.err(
                "the condition must be a constant of the model or a boolean computed by a comparison (Greater, \
                 Less, GreaterOrEqual, LessOrEqual, Equal) or by logic on one",
            )
        })?;
        let (x, y) = (self.input(1)?, self.input(2)?);
        let diff = self.sub_values(x, y.clone())?;
        let picked = self.mul_values(c, diff)?;
        self.add_values(y, picked)
    }

    pub(super) fn cast(&mut self) -> Result<Value, LowerError> {
        let to = self.attr_i("to")?.ok_or_else(|| self.err("the attribute `to` is required"))?;
        let v = self.input(0)?;
        match v {
            Value::Const(mut t) => {
                if to == BOOL {
                    t.data.iter_mut().for_each(|x| *x = f64::from(u8::from(*x != 0.0)));
                } else if INTEGERS.contains(&to) {
                    t.data.iter_mut().for_each(|x| *x = x.trunc());
                } else if ![FLOAT, FLOAT16, DOUBLE, BFLOAT16].contains(&to) {
                    return Err(self.err(format!("cast to element type {to} is not supported")));
                }
                Ok(Value::Const(t))
            }
            Value::Act { .. } => {
                let boolean = self.booleans.contains(&self.node.input[0]);
                if [FLOAT, FLOAT16, DOUBLE, BFLOAT16].contains(&to) || (to == BOOL && boolean) {
                    if boolean {
                        self.mark_boolean(&v);
                    }
                    return Ok(v);
                }
                Err(self.err(format!(
                    "cast of an activation to element type {to}: only floating types (and bool, of a boolean) are \
                     supported"
                )))
            }
        }
    }
}
