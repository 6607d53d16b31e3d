//! QuantizeLinear, DequantizeLinear and QLinearMatMul: a static quantizer's Q/DQ pairs are
//! saturations kept in real units, integer model inputs are dequantized, and quantized outputs are
//! given back as their integers.

use crate::onnx::FTensor;

use super::logic::INTEGER_TYPES;
use super::{Builder, Func, LowerError, Value, numel, strides};

impl Builder<'_> {
    /// A QuantizeLinear's or DequantizeLinear's scale and zero point (0 when absent), broadcast
    /// to `shape`: per tensor, or per axis (`axis`, default 1) for 1-D ones.
    pub(super) fn quant_params(&self, shape: &[usize]) -> Result<(Vec<f64>, Vec<f64>), LowerError> {
        if self.attr_i("block_size")?.unwrap_or(0) != 0 {
            return Err(self.err("attribute block_size (blocked quantization) is not supported"));
        }
        self.quant_params_at(shape, 1, self.attr_i("axis")?.unwrap_or(1))
    }

    /// The scale and zero point at inputs `at` and `at + 1` (0 when absent), broadcast to
    /// `shape`: per tensor, or one per entry of axis `axis_attr` for 1-D ones.
    pub(super) fn quant_params_at(
        &self,
        shape: &[usize],
        at: usize,
        axis_attr: i64,
    ) -> Result<(Vec<f64>, Vec<f64>), LowerError> {
        // The axis matters only for parameters per axis entry (a per-tensor bias of rank 1 keeps
        // the default axis 1, as onnxruntime's quantizer writes it).
        let param = |i: usize, what: &str| -> Result<Option<Vec<f64>>, LowerError> {
            let Some(v) = self.opt_input(i)? else { return Ok(None) };
            let Value::Const(t) = v else { return Err(self.err(format!("{what} must be a constant of the model"))) };
            let n = numel(shape);
            if t.data.len() == 1 {
                return Ok(Some(vec![t.data[0]; n]));
            }
            let axis = self.axis(axis_attr, shape.len().max(1))?;
            Ok(Some(match t.data.len() {
                k if shape.get(axis) == Some(&k) => {
                    let (os, len) = (strides(shape)[axis], shape[axis]);
                    (0..n).map(|o| t.data[o / os % len]).collect()
                }
                k => return Err(self.err(format!("{what} has {k} values, neither one nor one per axis-{axis} entry"))),
            }))
        };
        let scale = param(at, "the scale")?.ok_or_else(|| self.err("the scale is required"))?;
        if scale.iter().any(|&s| !(s > 0.0 && s.is_finite())) {
            return Err(self.err("every scale must be positive and finite"));
        }
        let zero = param(at + 1, "the zero point")?.unwrap_or_else(|| vec![0.0; scale.len()]);
        Ok((scale, zero))
    }

    /// QuantizeLinear: `q = saturate(round(x/s) + z)` in the range of the zero point's type
    /// (uint8 when absent). On a constant, exactly. On an activation (scale and zero point per
    /// tensor) the value is kept in real units, `(q − z)·s`, as the DequantizeLinear after it
    /// gives it back: `clip(x, (qmin − z)·s, (qmax − z)·s)` — the clamp kept (a static quantizer
    /// folds ReLUs into it), the rounding to the 8-bit grid left to our own quantization.
    pub(super) fn quantize_linear(&mut self) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        let shape = v.shape().to_vec();
        let (scale, zero) = self.quant_params(&shape)?;
        let (lo, hi) = self.zero_point_range(2)?;
        match v {
            Value::Const(t) => {
                let data = t
                    .data
                    .iter()
                    .enumerate()
                    .map(|(i, &x)| ((x / scale[i]).round_ties_even() + zero[i]).clamp(lo, hi))
                    .collect();
                Ok(Value::Const(FTensor { shape, data }))
            }
            Value::Act { node, shape } => {
                let (s, z) = self.per_tensor(&scale, &zero)?;
                if let Some(out) = self.node.output.first() {
                    self.quantized.insert(out.clone(), (s, z));
                }
                let keep = !self.grown[node];
                let clipped = self.materialized(node, Func::Clip { lo: (lo - z) * s, hi: (hi - z) * s }, keep);
                Ok(Value::Act { node: clipped, shape })
            }
        }
    }

    /// `(q − z)·s` of the integers `q` that input `i`, an activation, holds: a QuantizeLinear's
    /// output (kept in real units, `(q − z_q)·s_q`) or a model input of an integer type.
    pub(super) fn dequantized(&mut self, v: Value, i: usize, s: f64, z: f64) -> Result<Value, LowerError> {
        let name = &self.node.input[i];
        if let Some(&(sq, zq)) = self.quantized.get(name) {
            if (sq, zq) == (s, z) {
                return Ok(v);
            }
            // (q − z)·s with q = v/s_q + z_q.
            return self.affine(v, s / sq, (zq - z) * s);
        }
        if self.dtypes.get(name).is_some_and(|t| INTEGER_TYPES.contains(t)) {
            return self.affine(v, s, -z * s);
        }
        Err(self.err(format!(
            "reads {name:?} as integers, but neither a QuantizeLinear nor an integer model input produced it"
        )))
    }

    /// The integer range of the zero point at input `i` (its element type; uint8 when absent).
    pub(super) fn zero_point_range(&self, i: usize) -> Result<(f64, f64), LowerError> {
        let dtype = self.node.input.get(i).filter(|n| !n.is_empty()).map_or(Some(2), |n| self.dtypes.get(n).copied());
        Ok(match dtype {
            Some(2) => (0.0, 255.0),
            Some(3) => (-128.0, 127.0),
            Some(4) => (0.0, 65535.0),
            Some(5) => (-32768.0, 32767.0),
            Some(t) => {
                return Err(self.err(format!(
                    "a zero point of ONNX element type {t} is not supported (8- and 16-bit integers are)"
                )));
            }
            None => {
                return Err(
                    self.err("the zero point's element type is unknown: give it as an initializer or a Constant")
                );
            }
        })
    }

    /// QLinearMatMul, QDQ's integer form: `y = saturate(round(A·B/s_y) + z_y)` with
    /// `A = (a − z_a)·s_a`, `B = (b − z_b)·s_b`. Kept in real units as QuantizeLinear's output is,
    /// `clip(A·B, (qmin − z_y)·s_y, (qmax − z_y)·s_y)`, for a DequantizeLinear (or the model's
    /// output, which gives the integers back) to read. An operand from a QuantizeLinear is in
    /// real units already; another activation holds integers (a model input).
    pub(super) fn qlinear_matmul(&mut self) -> Result<Value, LowerError> {
        // A per tensor or per row, B per tensor or per column.
        let real = |b: &mut Self, i: usize, axis: i64| -> Result<Value, LowerError> {
            let v = b.input(i)?;
            let (scale, zero) = b.quant_params_at(v.shape(), i + 1, axis)?;
            match v {
                Value::Const(t) => {
                    let data = t.data.iter().zip(scale.iter().zip(&zero)).map(|(&q, (&s, &z))| (q - z) * s).collect();
                    Ok(Value::Const(FTensor { shape: t.shape, data }))
                }
                act => {
                    let (s, z) = b.per_tensor(&scale, &zero)?;
                    b.dequantized(act, i, s, z)
                }
            }
        };
        let a = real(self, 0, -2)?;
        let bm = real(self, 3, -1)?;
        let p = self.matmul_of(a, bm)?;
        let (s, z) = {
            let (sy, zy) = (self.const_input(6, "y_scale")?, self.const_input(7, "y_zero_point")?);
            self.per_tensor(&sy.data, &zy.data)?
        };
        let (lo, hi) = self.zero_point_range(7)?;
        let v = self.func_of(p, Func::Clip { lo: (lo - z) * s, hi: (hi - z) * s })?;
        if let Some(out) = self.node.output.first() {
            self.quantized.insert(out.clone(), (s, z));
        }
        Ok(v)
    }

    /// DequantizeLinear: `(q − z)·s`, exactly on a constant (int8 weights, int32 biases, per axis
    /// or per tensor). On a QuantizeLinear's output (kept in its real units `(q − z_q)·s_q`), the
    /// identity when the parameters are the same, else the affine map between the two.
    pub(super) fn dequantize_linear(&mut self) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        let shape = v.shape().to_vec();
        let (scale, zero) = self.quant_params(&shape)?;
        match v {
            Value::Const(t) => {
                let data = t.data.iter().enumerate().map(|(i, &q)| (q - zero[i]) * scale[i]).collect();
                Ok(Value::Const(FTensor { shape, data }))
            }
            Value::Act { node, shape } => {
                let (s, z) = self.per_tensor(&scale, &zero)?;
                self.dequantized(Value::Act { node, shape }, 0, s, z)
            }
        }
    }

    /// The one scale and zero point of a per-tensor quantization of an activation.
    pub(super) fn per_tensor(&self, scale: &[f64], zero: &[f64]) -> Result<(f64, f64), LowerError> {
        let (s, z) = (scale[0], zero[0]);
        if scale.iter().any(|&x| x != s) || zero.iter().any(|&x| x != z) {
            return Err(self.err("per-axis quantization of an activation is not supported (only of constants)"));
        }
        Ok((s, z))
    }
}
