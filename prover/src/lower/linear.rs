//! Gemm and MatMul (batched, of constants folded): matrix products of an activation with a
//! constant, or of two activations.

use crate::ir::{Kind, NodeId};
use crate::onnx::FTensor;

use super::{Builder, LowerError, Value, numel};

impl Builder<'_> {
    pub(super) fn transpose_const(t: &FTensor) -> FTensor {
        let (r, c) = (t.shape[0], t.shape[1]);
        let mut data = vec![0.0; r * c];
        for i in 0..r {
            for j in 0..c {
                data[j * r + i] = t.data[i * c + j];
            }
        }
        FTensor { shape: vec![c, r], data }
    }

    pub(super) fn as_matrix(&self, s: &[usize], what: &str) -> Result<(usize, usize), LowerError> {
        let lead: usize = s.iter().rev().skip(2).product();
        if s.len() < 2 || lead != 1 {
            return Err(
                self.err(format!("{what} must be a matrix (2-D, or with leading dimensions of 1); its shape is {s:?}"))
            );
        }
        Ok((s[s.len() - 2], s[s.len() - 1]))
    }

    /// `A·B` for 2-D operands (of two constants, a constant: the builder folds; exporters leave
    /// such products in, weights stored factored or a projection of a constant).
    pub(super) fn matmul_values(&mut self, a: Value, b: Value) -> Result<(NodeId, Vec<usize>), LowerError> {
        let (m, k) = self.as_matrix(a.shape(), "the left operand")?;
        let (k2, n) = self.as_matrix(b.shape(), "the right operand")?;
        if k != k2 {
            return Err(self.err(format!("inner dimensions differ: {:?} × {:?}", a.shape(), b.shape())));
        }
        let operand = |s: &mut Self, v: &Value, r: usize, c: usize| -> Result<NodeId, LowerError> {
            match v {
                Value::Const(t) => s.const_node(&FTensor { shape: vec![r, c], data: t.data.clone() }, &[r, c]),
                Value::Act { node, .. } => Ok(s.factor(*node)),
            }
        };
        let l = operand(self, &a, m, k)?;
        let mut r = operand(self, &b, k, n)?;
        // The product sums over the padded inner dimension: one side must be zero there.
        if !self.pad_zero[l] && !self.pad_zero[r] {
            r = self.zero_padding(r, &[k, n]);
        }
        let lg = |x: usize| x.next_power_of_two().trailing_zeros();
        let shape = vec![m, n];
        let id = self.add(Kind::MatMul { l, r, a: lg(m), b: lg(k), c: lg(n) }, &shape);
        Ok((id, shape))
    }

    pub(super) fn gemm(&mut self) -> Result<Value, LowerError> {
        let mut a = self.input(0)?;
        let mut b = self.input(1)?;
        let alpha = self.attr_f("alpha")?.unwrap_or(1.0) as f64;
        let beta = self.attr_f("beta")?.unwrap_or(1.0) as f64;
        for (v, attr) in [(&mut a, "transA"), (&mut b, "transB")] {
            if self.attr_i(attr)?.unwrap_or(0) != 0 {
                *v = self.transposed(v.clone(), &[1, 0])?;
            }
        }
        match (&mut a, &mut b) {
            (_, Value::Const(t)) | (Value::Const(t), _) => t.data.iter_mut().for_each(|x| *x *= alpha),
            _ if alpha != 1.0 => return Err(self.err("alpha ≠ 1 with two non-constant operands")),
            _ => {}
        }
        let product = self.product(a, b)?;
        let Some(c) = self.opt_input(2)? else { return Ok(product) };
        let c = match c {
            Value::Const(mut t) => {
                t.data.iter_mut().for_each(|x| *x *= beta);
                Value::Const(t)
            }
            v if beta == 1.0 => v,
            _ => return Err(self.err("beta ≠ 1 with a non-constant C")),
        };
        // C broadcasts to the product's shape (unidirectionally), never the other way.
        if self.broadcast_shape(c.shape(), product.shape())? != product.shape() {
            return Err(self.err(format!("C of shape {:?} does not broadcast to {:?}", c.shape(), product.shape())));
        }
        self.add_values(product, c)
    }

    /// `A·B` of 2-D operands.
    pub(super) fn product(&mut self, a: Value, b: Value) -> Result<Value, LowerError> {
        let (node, shape) = self.matmul_values(a, b)?;
        Ok(Value::Act { node, shape })
    }

    pub(super) fn matmul(&mut self) -> Result<Value, LowerError> {
        let (a, b) = (self.input(0)?, self.input(1)?);
        self.matmul_of(a, b)
    }

    /// ONNX's MatMul (numpy's `matmul`) of operands with two or more dimensions: the leading
    /// (batch) dimensions broadcast. One B for every batch is one product, A's batches stacked
    /// as its rows; otherwise a product per batch (attention's heads), placed in the output.
    pub(super) fn matmul_of(&mut self, a: Value, b: Value) -> Result<Value, LowerError> {
        let (sa, sb) = (a.shape().to_vec(), b.shape().to_vec());
        if sa.len() < 2 || sb.len() < 2 {
            return Err(self.err(format!("1-D operands are not supported; the shapes are {sa:?} and {sb:?}")));
        }
        let (la, lb) = (&sa[..sa.len() - 2], &sb[..sb.len() - 2]);
        let lead = self.broadcast_shape(la, lb)?;
        let (m, k, k2, n) = (sa[sa.len() - 2], sa[sa.len() - 1], sb[sb.len() - 2], sb[sb.len() - 1]);
        let out: Vec<usize> = lead.iter().copied().chain([m, n]).collect();
        let batches = numel(&lead);
        let rows = |s: &mut Self, v: &Value, batch: usize, r: usize, c: usize| {
            let map: Vec<Option<usize>> = (0..r * c).map(|i| Some(batch * r * c + i)).collect();
            s.moved(v, &[r, c], &map)
        };
        if numel(lb) == 1 {
            let a2 = rows(self, &a, 0, batches * m, k);
            let b2 = rows(self, &b, 0, k2, n);
            let p = self.product(a2, b2)?;
            return Ok(self.reshaped(p, &out));
        }
        let (amap, bmap) = (Self::broadcast_map(la, &lead), Self::broadcast_map(lb, &lead));
        let mut parts = vec![];
        for i in 0..batches {
            let ai = rows(self, &a, amap[i], m, k);
            let bi = rows(self, &b, bmap[i], k2, n);
            let p = self.product(ai, bi)?;
            let map: Vec<Option<usize>> = (0..numel(&out)).map(|o| (o / (m * n) == i).then_some(o % (m * n))).collect();
            parts.push((p, map));
        }
        self.assemble(parts, &out)
    }
}
