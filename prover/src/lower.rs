//! Lowering: ONNX nodes → the float program. Every op becomes linear nodes (matmuls, sparse
//! data-movement maps, sums, elementwise products) plus materializations: the points where a
//! value becomes advice, is requantized and goes through a lookup (ReLU, Clip, max).

use std::collections::HashMap;

use tract_onnx::pb::NodeProto;

use crate::onnx::{FTensor, OnnxModel};
use crate::program::{Kind, Node, NodeId, SegId};

#[derive(Debug, thiserror::Error)]
pub enum LowerError {
    #[error("unsupported operator {op} (node {node:?}); supported: {}", SUPPORTED.join(", "))]
    Unsupported { op: String, node: String },
    #[error("node {node:?} ({op}): {reason}")]
    Invalid { op: String, node: String, reason: String },
    #[error("node {node:?} reads tensor {tensor:?}, which no earlier node produces")]
    MissingInput { node: String, tensor: String },
    #[error("the model output {0:?} is never produced")]
    MissingOutput(String),
    #[error("the model output is a constant: there is nothing to prove")]
    ConstantOutput,
}

pub const SUPPORTED: &[&str] = &[
    "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "Conv", "AveragePool", "GlobalAveragePool",
    "MaxPool", "BatchNormalization", "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze",
    "Concat", "Identity", "Clip", "Constant",
];

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Func {
    Identity,
    Relu,
    Clip { lo: f64, hi: f64 },
}

impl Func {
    pub fn apply(&self, x: f64) -> f64 {
        match self {
            Func::Identity => x,
            Func::Relu => x.max(0.0),
            Func::Clip { lo, hi } => x.clamp(*lo, *hi),
        }
    }
}

/// `seg := func(z)`: the value of node `z` becomes advice. `keep_scale` asks for no rounding
/// (a max of two values must stay exact).
#[derive(Clone, Debug)]
pub struct Materialize {
    pub z: NodeId,
    pub func: Func,
    pub seg: SegId,
    pub keep_scale: bool,
}

#[derive(Clone, Copy, Debug)]
pub enum Step {
    Eval(NodeId),
    Materialize(usize),
}

pub struct FloatProgram {
    pub nodes: Vec<Node<f64>>,
    pub steps: Vec<Step>,
    pub materials: Vec<Materialize>,
    /// Logical shapes of the segments. Segment 0 is the model input; segment `k > 0` is written
    /// by `materials[k - 1]`.
    pub seg_shape: Vec<Vec<usize>>,
    pub seg_origin: Vec<String>,
    pub input_shape: Vec<usize>,
    pub output: SegId,
    pub output_shape: Vec<usize>,
    pub ops: Vec<String>,
}

pub fn padded_dims(shape: &[usize]) -> Vec<usize> {
    shape.iter().map(|d| d.next_power_of_two()).collect()
}

pub fn log_len(shape: &[usize]) -> u32 {
    padded_dims(shape).iter().map(|d| d.trailing_zeros()).sum()
}

/// Position of each logical (row-major) element in the padded layout.
pub fn padded_positions(shape: &[usize]) -> Vec<usize> {
    let pd = padded_dims(shape);
    let mut out = vec![0usize];
    for (&d, &p) in shape.iter().zip(&pd) {
        out = out.iter().flat_map(|&base| (0..d).map(move |i| base * p + i)).collect();
    }
    out
}

fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

#[derive(Clone)]
enum Value {
    Const(FTensor),
    Act { node: NodeId, shape: Vec<usize> },
}

impl Value {
    fn shape(&self) -> &[usize] {
        match self {
            Value::Const(t) => &t.shape,
            Value::Act { shape, .. } => shape,
        }
    }
}

struct Builder<'a> {
    p: FloatProgram,
    grown: Vec<bool>,
    shapes: Vec<Vec<usize>>,
    env: HashMap<String, Value>,
    node: &'a NodeProto,
}

pub fn lower(model: &OnnxModel) -> Result<FloatProgram, LowerError> {
    let shape = if model.input_shape.is_empty() { vec![1] } else { model.input_shape.clone() };
    let dummy = NodeProto::default();
    let mut b = Builder {
        p: FloatProgram {
            nodes: vec![],
            steps: vec![],
            materials: vec![],
            seg_shape: vec![shape.clone()],
            seg_origin: vec![model.input_name.clone()],
            input_shape: shape.clone(),
            output: 0,
            output_shape: vec![],
            ops: vec![],
        },
        grown: vec![],
        shapes: vec![],
        env: HashMap::new(),
        node: &dummy,
    };
    for (k, v) in &model.constants {
        b.env.insert(k.clone(), Value::Const(v.clone()));
    }
    let input = b.push(Kind::Segment(0), &shape, model.input_name.clone());
    b.env.insert(model.input_name.clone(), Value::Act { node: input, shape });
    // Check every op first so that an unsupported one is reported before any other work.
    for n in &model.nodes {
        if !SUPPORTED.contains(&n.op_type.as_str()) || !(n.domain.is_empty() || n.domain == "ai.onnx") {
            return Err(LowerError::Unsupported { op: n.op_type.clone(), node: node_name(n) });
        }
    }
    for n in &model.nodes {
        b.node = n;
        b.p.ops.push(n.op_type.clone());
        let outs = b.lower_node()?;
        for (name, v) in n.output.iter().zip(outs) {
            b.env.insert(name.clone(), v);
        }
    }
    let out = b.env.get(&model.output_name).cloned().ok_or_else(|| LowerError::MissingOutput(model.output_name.clone()))?;
    let (node, shape) = match out {
        Value::Const(_) => return Err(LowerError::ConstantOutput),
        Value::Act { node, shape } => (node, shape),
    };
    b.node = &dummy;
    let seg = match b.p.nodes[node].kind {
        Kind::Segment(s) if s != 0 => s,
        _ => b.materialize(node, Func::Identity, false, &model.output_name),
    };
    b.p.output = seg;
    b.p.output_shape = shape;
    b.p.ops.sort();
    b.p.ops.dedup();
    Ok(b.p)
}

fn node_name(n: &NodeProto) -> String {
    if n.name.is_empty() { format!("{}({})", n.op_type, n.output.join(",")) } else { n.name.clone() }
}

impl Builder<'_> {
    fn err(&self, reason: impl Into<String>) -> LowerError {
        LowerError::Invalid { op: self.node.op_type.clone(), node: node_name(self.node), reason: reason.into() }
    }

    fn push(&mut self, kind: Kind<f64>, shape: &[usize], origin: String) -> NodeId {
        let grown = match &kind {
            Kind::Segment(_) | Kind::Const(_) => false,
            Kind::Lin(t) => t.iter().any(|(id, _)| self.grown[*id]),
            Kind::MatMul { .. } | Kind::Hadamard(..) => true,
            Kind::Sparse { src, entries } => self.grown[*src] || entries.iter().any(|e| e.2.fract() != 0.0),
        };
        self.grown.push(grown);
        self.shapes.push(shape.to_vec());
        self.p.nodes.push(Node { kind, log_len: log_len(shape), origin });
        let id = self.p.nodes.len() - 1;
        self.p.steps.push(Step::Eval(id));
        id
    }

    fn add(&mut self, kind: Kind<f64>, shape: &[usize]) -> NodeId {
        let origin = node_name(self.node);
        self.push(kind, shape, origin)
    }

    fn materialize(&mut self, z: NodeId, func: Func, keep_scale: bool, origin: &str) -> SegId {
        let seg = self.p.seg_shape.len();
        let shape = self.shapes[z].clone();
        self.p.seg_shape.push(shape.clone());
        self.p.seg_origin.push(origin.to_string());
        self.p.materials.push(Materialize { z, func, seg, keep_scale });
        self.p.steps.push(Step::Materialize(self.p.materials.len() - 1));
        self.push(Kind::Segment(seg), &shape, origin.to_string());
        seg
    }

    fn materialized(&mut self, z: NodeId, func: Func, keep_scale: bool, shape: &[usize]) -> Value {
        let origin = self.node.output.first().cloned().unwrap_or_else(|| node_name(self.node));
        self.materialize(z, func, keep_scale, &origin);
        Value::Act { node: self.p.nodes.len() - 1, shape: shape.to_vec() }
    }

    /// An activation used as a factor of a product must not carry an unreduced scale.
    fn factor(&mut self, node: NodeId) -> NodeId {
        if self.grown[node] {
            let origin = format!("{} (input rescaled)", node_name(self.node));
            self.materialize(node, Func::Identity, false, &origin);
            self.p.nodes.len() - 1
        } else {
            node
        }
    }

    fn const_node(&mut self, t: &FTensor, shape: &[usize]) -> Result<NodeId, LowerError> {
        let b = self.broadcast_const(t, shape)?;
        let mut data = vec![0.0; 1 << log_len(shape)];
        for (pos, v) in padded_positions(shape).into_iter().zip(b.data) {
            data[pos] = v;
        }
        Ok(self.add(Kind::Const(data), shape))
    }

    fn input(&self, i: usize) -> Result<Value, LowerError> {
        let name = self.node.input.get(i).filter(|s| !s.is_empty()).ok_or_else(|| self.err(format!("input #{i} is missing")))?;
        self.env.get(name).cloned().ok_or_else(|| LowerError::MissingInput { node: node_name(self.node), tensor: name.clone() })
    }

    fn opt_input(&self, i: usize) -> Result<Option<Value>, LowerError> {
        match self.node.input.get(i) {
            Some(s) if !s.is_empty() => self.input(i).map(Some),
            _ => Ok(None),
        }
    }

    fn const_input(&self, i: usize, what: &str) -> Result<FTensor, LowerError> {
        match self.input(i)? {
            Value::Const(t) => Ok(t),
            Value::Act { .. } => Err(self.err(format!("{what} must be a constant of the model"))),
        }
    }

    fn attr_i(&self, name: &str) -> Result<Option<i64>, LowerError> {
        self.node.get_attr_opt::<i64>(name).map_err(|e| self.err(format!("attribute {name}: {e}")))
    }

    fn attr_f(&self, name: &str) -> Result<Option<f32>, LowerError> {
        self.node.get_attr_opt::<f32>(name).map_err(|e| self.err(format!("attribute {name}: {e}")))
    }

    fn attr_ints(&self, name: &str) -> Result<Option<Vec<i64>>, LowerError> {
        self.node.get_attr_opt_vec::<i64>(name).map_err(|e| self.err(format!("attribute {name}: {e}")))
    }

    fn attr_s(&self, name: &str) -> Result<Option<String>, LowerError> {
        self.node.get_attr_opt::<String>(name).map_err(|e| self.err(format!("attribute {name}: {e}")))
    }

    fn axis(&self, a: i64, rank: usize) -> Result<usize, LowerError> {
        let r = rank as i64;
        if a < -r || a >= r {
            return Err(self.err(format!("axis {a} is out of range for rank {rank}")));
        }
        Ok(if a < 0 { (a + r) as usize } else { a as usize })
    }

    fn lower_node(&mut self) -> Result<Vec<Value>, LowerError> {
        let op = self.node.op_type.clone();
        let v = match op.as_str() {
            "Identity" => self.input(0)?,
            "Constant" => self.constant()?,
            "Relu" => self.unary_func(Func::Relu)?,
            "Clip" => self.clip()?,
            "Add" | "Sub" => self.add_sub(op == "Sub")?,
            "Mul" => self.mul(false)?,
            "Div" => self.mul(true)?,
            "Gemm" => self.gemm()?,
            "MatMul" => self.matmul()?,
            "Conv" => self.conv()?,
            "AveragePool" | "GlobalAveragePool" | "MaxPool" => self.pool()?,
            "BatchNormalization" => self.batchnorm()?,
            "Flatten" | "Reshape" | "Squeeze" | "Unsqueeze" => self.reshape()?,
            "Transpose" => self.transpose()?,
            "Concat" => self.concat()?,
            _ => return Err(LowerError::Unsupported { op, node: node_name(self.node) }),
        };
        Ok(vec![v])
    }

    fn constant(&self) -> Result<Value, LowerError> {
        if let Some(t) = self.node.attribute.iter().find(|a| a.name == "value").and_then(|a| a.t.as_ref()) {
            return crate::onnx::tensor_from_proto(t, &node_name(self.node)).map(Value::Const).map_err(|e| self.err(e.to_string()));
        }
        if let Some(v) = self.attr_f("value_float")? {
            return Ok(Value::Const(FTensor::scalar(v as f64)));
        }
        if let Some(v) = self.attr_i("value_int")? {
            return Ok(Value::Const(FTensor::scalar(v as f64)));
        }
        if let Some(v) = self.attr_ints("value_ints")? {
            return Ok(Value::Const(FTensor { shape: vec![v.len()], data: v.iter().map(|&x| x as f64).collect() }));
        }
        Err(self.err("only tensor, float and int values are supported"))
    }

    fn unary_func(&mut self, f: Func) -> Result<Value, LowerError> {
        match self.input(0)? {
            Value::Const(mut t) => {
                t.data.iter_mut().for_each(|x| *x = f.apply(*x));
                Ok(Value::Const(t))
            }
            Value::Act { node, shape } => {
                // Max and clip of exact values stay exact: no requantization is needed.
                let keep = !self.grown[node];
                Ok(self.materialized(node, f, keep, &shape))
            }
        }
    }

    fn clip(&mut self) -> Result<Value, LowerError> {
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

    fn broadcast_shape(&self, a: &[usize], b: &[usize]) -> Result<Vec<usize>, LowerError> {
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
    fn broadcast_map(from: &[usize], out: &[usize]) -> Vec<usize> {
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

    fn broadcast_const(&self, t: &FTensor, shape: &[usize]) -> Result<FTensor, LowerError> {
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
    fn gather(&mut self, node: NodeId, from: &[usize], out: &[usize], map: &[Option<usize>]) -> NodeId {
        let src_pos = padded_positions(from);
        let dst_pos = padded_positions(out);
        let identity = log_len(from) == log_len(out)
            && map.len() == src_pos.len()
            && map.iter().zip(&dst_pos).all(|(m, d)| m.map(|i| src_pos[i]) == Some(*d));
        if identity {
            return node;
        }
        let entries = map
            .iter()
            .zip(&dst_pos)
            .filter_map(|(m, &d)| m.map(|i| (d as u32, src_pos[i] as u32, 1.0)))
            .collect();
        self.add(Kind::Sparse { src: node, entries }, out)
    }

    fn to_shape(&mut self, v: &Value, shape: &[usize]) -> Result<NodeId, LowerError> {
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

    fn add_sub(&mut self, sub: bool) -> Result<Value, LowerError> {
        let (a, b) = (self.input(0)?, self.input(1)?);
        let shape = self.broadcast_shape(a.shape(), b.shape())?;
        let sign = if sub { -1.0 } else { 1.0 };
        if let (Value::Const(x), Value::Const(y)) = (&a, &b) {
            let (x, y) = (self.broadcast_const(x, &shape)?, self.broadcast_const(y, &shape)?);
            let data = x.data.iter().zip(&y.data).map(|(p, q)| p + sign * q).collect();
            return Ok(Value::Const(FTensor { shape, data }));
        }
        let na = self.to_shape(&a, &shape)?;
        let nb = self.to_shape(&b, &shape)?;
        let id = self.add(Kind::Lin(vec![(na, 1.0), (nb, sign)]), &shape);
        Ok(Value::Act { node: id, shape })
    }

    fn mul(&mut self, div: bool) -> Result<Value, LowerError> {
        let (a, mut b) = (self.input(0)?, self.input(1)?);
        if div {
            match &mut b {
                Value::Const(t) => {
                    if t.data.iter().any(|&x| x == 0.0) {
                        return Err(self.err("division by a constant that contains zero"));
                    }
                    t.data.iter_mut().for_each(|x| *x = 1.0 / *x);
                }
                Value::Act { .. } => return Err(self.err("division by a non-constant tensor is not supported yet")),
            }
        }
        let shape = self.broadcast_shape(a.shape(), b.shape())?;
        if let (Value::Const(x), Value::Const(y)) = (&a, &b) {
            let (x, y) = (self.broadcast_const(x, &shape)?, self.broadcast_const(y, &shape)?);
            let data = x.data.iter().zip(&y.data).map(|(p, q)| p * q).collect();
            return Ok(Value::Const(FTensor { shape, data }));
        }
        let factor = |s: &mut Self, v: &Value| -> Result<NodeId, LowerError> {
            let n = s.to_shape(v, &shape)?;
            Ok(if matches!(v, Value::Act { .. }) { s.factor(n) } else { n })
        };
        let na = factor(self, &a)?;
        let nb = factor(self, &b)?;
        let id = self.add(Kind::Hadamard(na, nb), &shape);
        Ok(Value::Act { node: id, shape })
    }

    fn transpose_const(t: &FTensor) -> FTensor {
        let (r, c) = (t.shape[0], t.shape[1]);
        let mut data = vec![0.0; r * c];
        for i in 0..r {
            for j in 0..c {
                data[j * r + i] = t.data[i * c + j];
            }
        }
        FTensor { shape: vec![c, r], data }
    }

    fn as_matrix(&self, v: &Value, what: &str) -> Result<(usize, usize), LowerError> {
        let s = v.shape();
        let lead: usize = s.iter().rev().skip(2).product();
        if s.len() < 2 || lead != 1 {
            return Err(self.err(format!("{what} must be a matrix (2-D, or with leading dimensions of 1); its shape is {s:?}")));
        }
        Ok((s[s.len() - 2], s[s.len() - 1]))
    }

    /// `A·B` for 2-D operands, at most one of them constant.
    fn matmul_values(&mut self, a: Value, b: Value) -> Result<(NodeId, Vec<usize>), LowerError> {
        let (m, k) = self.as_matrix(&a, "the left operand")?;
        let (k2, n) = self.as_matrix(&b, "the right operand")?;
        if k != k2 {
            return Err(self.err(format!("inner dimensions differ: {:?} × {:?}", a.shape(), b.shape())));
        }
        let operand = |s: &mut Self, v: &Value, r: usize, c: usize| -> Result<NodeId, LowerError> {
            match v {
                Value::Const(t) => s.const_node(&FTensor { shape: vec![r, c], data: t.data.clone() }, &[r, c]),
                Value::Act { node, .. } => Ok(s.factor(*node)),
            }
        };
        if let (Value::Const(_), Value::Const(_)) = (&a, &b) {
            return Err(self.err("a product of two constants should have been folded by the exporter"));
        }
        let l = operand(self, &a, m, k)?;
        let r = operand(self, &b, k, n)?;
        let lg = |x: usize| x.next_power_of_two().trailing_zeros();
        let shape = vec![m, n];
        let id = self.add(Kind::MatMul { l, r, a: lg(m), b: lg(k), c: lg(n) }, &shape);
        Ok((id, shape))
    }

    fn gemm(&mut self) -> Result<Value, LowerError> {
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
        let (mm, shape) = self.matmul_values(a, b)?;
        let Some(c) = self.opt_input(2)? else { return Ok(Value::Act { node: mm, shape }) };
        let c = match c {
            Value::Const(mut t) => {
                t.data.iter_mut().for_each(|x| *x *= beta);
                Value::Const(t)
            }
            v if beta == 1.0 => v,
            _ => return Err(self.err("beta ≠ 1 with a non-constant C")),
        };
        let cn = self.to_shape(&c, &shape)?;
        let id = self.add(Kind::Lin(vec![(mm, 1.0), (cn, 1.0)]), &shape);
        Ok(Value::Act { node: id, shape })
    }

    fn matmul(&mut self) -> Result<Value, LowerError> {
        let (a, b) = (self.input(0)?, self.input(1)?);
        let out_lead: Vec<usize> = a.shape().iter().take(a.shape().len().saturating_sub(2)).copied().collect();
        let (id, shape) = self.matmul_values(a, b)?;
        let full: Vec<usize> = out_lead.into_iter().chain(shape).collect();
        Ok(Value::Act { node: id, shape: full })
    }

    /// Spatial geometry shared by Conv and the pools: output sizes and begin pads per axis.
    fn geometry(&self, input: &[usize], kernel: &[usize], dilations: &[usize]) -> Result<(Vec<usize>, Vec<usize>, Vec<usize>), LowerError> {
        let nd = input.len();
        let strides: Vec<usize> = match self.attr_ints("strides")? {
            Some(s) => s.iter().map(|&x| x as usize).collect(),
            None => vec![1; nd],
        };
        if strides.len() != nd || strides.contains(&0) {
            return Err(self.err(format!("strides {strides:?} do not fit {nd} spatial dimensions")));
        }
        let auto = self.attr_s("auto_pad")?.unwrap_or_else(|| "NOTSET".into());
        let ceil = self.attr_i("ceil_mode")?.unwrap_or(0) != 0;
        let mut begin = vec![0; nd];
        let mut end = vec![0; nd];
        match auto.as_str() {
            "NOTSET" => {
                if let Some(p) = self.attr_ints("pads")? {
                    if p.len() != 2 * nd || p.iter().any(|&x| x < 0) {
                        return Err(self.err(format!("pads {p:?} do not fit {nd} spatial dimensions")));
                    }
                    for i in 0..nd {
                        begin[i] = p[i] as usize;
                        end[i] = p[i + nd] as usize;
                    }
                }
            }
            "VALID" => {}
            "SAME_UPPER" | "SAME_LOWER" => {
                for i in 0..nd {
                    let out = input[i].div_ceil(strides[i]);
                    let span = (kernel[i] - 1) * dilations[i] + 1;
                    let total = ((out - 1) * strides[i] + span).saturating_sub(input[i]);
                    begin[i] = if auto == "SAME_UPPER" { total / 2 } else { total - total / 2 };
                    end[i] = total - begin[i];
                }
            }
            other => return Err(self.err(format!("auto_pad {other:?} is not an ONNX value"))),
        }
        let mut out = vec![0; nd];
        for i in 0..nd {
            let span = (kernel[i] - 1) * dilations[i] + 1;
            let full = input[i] + begin[i] + end[i];
            if full < span {
                return Err(self.err(format!("kernel span {span} is larger than the padded input {full}")));
            }
            out[i] = if ceil { (full - span).div_ceil(strides[i]) + 1 } else { (full - span) / strides[i] + 1 };
        }
        Ok((out, strides, begin))
    }

    fn spatial(&self, v: &Value) -> Result<(usize, Vec<usize>), LowerError> {
        let s = v.shape();
        if s.len() < 3 || s.len() > 4 || s[0] != 1 {
            return Err(self.err(format!("expects a [1, C, H, W] or [1, C, L] input; got {s:?}")));
        }
        Ok((s[1], s[2..].to_vec()))
    }

    /// For each output position and each kernel offset, the input position it reads (None: padding).
    #[allow(clippy::too_many_arguments)]
    fn window(
        in_sp: &[usize],
        out_sp: &[usize],
        kernel: &[usize],
        step: &[usize],
        dil: &[usize],
        begin: &[usize],
        o: usize,
        k: usize,
    ) -> Option<usize> {
        let (os, ks, is) = (strides(out_sp), strides(kernel), strides(in_sp));
        let mut idx = 0;
        for d in 0..in_sp.len() {
            let oc = o / os[d] % out_sp[d];
            let kc = k / ks[d] % kernel[d];
            let i = (oc * step[d] + kc * dil[d]) as isize - begin[d] as isize;
            if i < 0 || i >= in_sp[d] as isize {
                return None;
            }
            idx += i as usize * is[d];
        }
        Some(idx)
    }

    fn conv(&mut self) -> Result<Value, LowerError> {
        let x = self.input(0)?;
        let w = self.const_input(1, "the Conv weight")?;
        let Value::Act { node: xn, shape: xs } = x else { return Err(self.err("the Conv input is a constant")) };
        let (c, in_sp) = self.spatial(&Value::Act { node: xn, shape: xs.clone() })?;
        let nd = in_sp.len();
        if self.attr_i("group")?.unwrap_or(1) != 1 {
            return Err(self.err("grouped convolutions (group > 1) are not supported yet"));
        }
        if w.shape.len() != nd + 2 || w.shape[1] != c {
            return Err(self.err(format!("weight shape {:?} does not match input {xs:?}", w.shape)));
        }
        let co = w.shape[0];
        let kernel = w.shape[2..].to_vec();
        let dil: Vec<usize> = match self.attr_ints("dilations")? {
            Some(d) => d.iter().map(|&x| x as usize).collect(),
            None => vec![1; nd],
        };
        if dil.len() != nd || dil.contains(&0) {
            return Err(self.err(format!("dilations {dil:?} do not fit {nd} spatial dimensions")));
        }
        let (out_sp, strides, begin) = self.geometry(&in_sp, &kernel, &dil)?;
        let kk: usize = kernel.iter().product();
        let kdim = c * kk;
        let p: usize = out_sp.iter().product();
        // im2col: column matrix [C·K, out positions], rows padded flat, columns in the output's layout.
        let col_shape: Vec<usize> = std::iter::once(kdim).chain(out_sp.iter().copied()).collect();
        let in_plane: usize = in_sp.iter().product();
        let mut map = vec![None; kdim * p];
        for ci in 0..c {
            for k in 0..kk {
                for o in 0..p {
                    map[(ci * kk + k) * p + o] =
                        Self::window(&in_sp, &out_sp, &kernel, &strides, &dil, &begin, o, k).map(|i| ci * in_plane + i);
                }
            }
        }
        let cols = self.gather(xn, &xs, &col_shape, &map);
        let lg = |v: usize| v.next_power_of_two().trailing_zeros();
        let wl = self.const_node(&FTensor { shape: vec![co, kdim], data: w.data.clone() }, &[co, kdim])?;
        let out_shape: Vec<usize> = [1, co].into_iter().chain(out_sp.iter().copied()).collect();
        let pl: u32 = out_sp.iter().map(|&d| lg(d)).sum();
        let mm = self.add(Kind::MatMul { l: wl, r: cols, a: lg(co), b: lg(kdim), c: pl }, &out_shape);
        let Some(bias) = self.opt_input(2)? else { return Ok(Value::Act { node: mm, shape: out_shape }) };
        let Value::Const(bias) = bias else { return Err(self.err("the Conv bias must be a constant")) };
        let bshape: Vec<usize> = [1, co].into_iter().chain(std::iter::repeat_n(1, nd)).collect();
        let bn = self.const_node(&FTensor { shape: bshape, data: bias.data }, &out_shape)?;
        let id = self.add(Kind::Lin(vec![(mm, 1.0), (bn, 1.0)]), &out_shape);
        Ok(Value::Act { node: id, shape: out_shape })
    }

    fn pool(&mut self) -> Result<Value, LowerError> {
        let op = self.node.op_type.clone();
        let Value::Act { node: xn, shape: xs } = self.input(0)? else { return Err(self.err("pooling a constant")) };
        let (c, in_sp) = self.spatial(&Value::Act { node: xn, shape: xs.clone() })?;
        let nd = in_sp.len();
        let (kernel, out_sp, strides, begin, dil) = if op == "GlobalAveragePool" {
            (in_sp.clone(), vec![1; nd], vec![1; nd], vec![0; nd], vec![1; nd])
        } else {
            let kernel: Vec<usize> = self
                .attr_ints("kernel_shape")?
                .ok_or_else(|| self.err("kernel_shape is required"))?
                .iter()
                .map(|&x| x as usize)
                .collect();
            if kernel.len() != nd || kernel.contains(&0) {
                return Err(self.err(format!("kernel_shape {kernel:?} does not fit {nd} spatial dimensions")));
            }
            let dil: Vec<usize> = match self.attr_ints("dilations")? {
                Some(d) => d.iter().map(|&x| x as usize).collect(),
                None => vec![1; nd],
            };
            let (out_sp, strides, begin) = self.geometry(&in_sp, &kernel, &dil)?;
            (kernel, out_sp, strides, begin, dil)
        };
        let kk: usize = kernel.iter().product();
        let p: usize = out_sp.iter().product();
        let in_plane: usize = in_sp.iter().product();
        let out_shape: Vec<usize> = [1, c].into_iter().chain(out_sp.iter().copied()).collect();
        let win = |o: usize, k: usize| Self::window(&in_sp, &out_sp, &kernel, &strides, &dil, &begin, o, k);
        if op == "MaxPool" {
            // max(a, b) = a + relu(b − a), folded over the window; a window short of an offset
            // (padding) reads its first element again, which leaves the max unchanged.
            let slot = |k: usize| -> Vec<Option<usize>> {
                (0..c * p)
                    .map(|cp| {
                        let (ci, o) = (cp / p, cp % p);
                        win(o, k).or_else(|| (0..kk).find_map(|j| win(o, j))).map(|i| ci * in_plane + i)
                    })
                    .collect()
            };
            let mut acc = vec![(self.gather(xn, &xs, &out_shape, &slot(0)), 1.0)];
            for k in 1..kk {
                let g = self.gather(xn, &xs, &out_shape, &slot(k));
                let mut diff = vec![(g, 1.0)];
                diff.extend(acc.iter().map(|&(n, c)| (n, -c)));
                let d = self.add(Kind::Lin(diff), &out_shape);
                let Value::Act { node: y, .. } = self.materialized(d, Func::Relu, true, &out_shape) else { unreachable!() };
                acc.push((y, 1.0));
            }
            let id = if acc.len() == 1 { acc[0].0 } else { self.add(Kind::Lin(acc), &out_shape) };
            return Ok(Value::Act { node: id, shape: out_shape });
        }
        let include_pad = self.attr_i("count_include_pad")?.unwrap_or(0) != 0;
        let src_pos = padded_positions(&xs);
        let dst_pos = padded_positions(&out_shape);
        let mut entries = vec![];
        for ci in 0..c {
            for o in 0..p {
                let reads: Vec<usize> = (0..kk).filter_map(|k| win(o, k)).collect();
                let count = if include_pad { kk } else { reads.len().max(1) };
                for i in reads {
                    entries.push((dst_pos[ci * p + o] as u32, src_pos[ci * in_plane + i] as u32, 1.0 / count as f64));
                }
            }
        }
        let id = self.add(Kind::Sparse { src: xn, entries }, &out_shape);
        Ok(Value::Act { node: id, shape: out_shape })
    }

    fn batchnorm(&mut self) -> Result<Value, LowerError> {
        let Value::Act { node: xn, shape: xs } = self.input(0)? else { return Err(self.err("normalizing a constant")) };
        let eps = self.attr_f("epsilon")?.unwrap_or(1e-5) as f64;
        let [g, b, m, v] = [1, 2, 3, 4].map(|i| self.const_input(i, "scale, bias, mean and variance"));
        let (g, b, m, v) = (g?, b?, m?, v?);
        let c = xs.get(1).copied().unwrap_or(1);
        if [&g, &b, &m, &v].iter().any(|t| t.data.len() != c) {
            return Err(self.err(format!("parameters must have {c} entries (the channel count)")));
        }
        let a: Vec<f64> = (0..c).map(|i| g.data[i] / (v.data[i] + eps).sqrt()).collect();
        let shift: Vec<f64> = (0..c).map(|i| b.data[i] - m.data[i] * a[i]).collect();
        let pshape: Vec<usize> = (0..xs.len()).map(|d| if d == 1 { c } else { 1 }).collect();
        let an = self.const_node(&FTensor { shape: pshape.clone(), data: a }, &xs)?;
        let xf = self.factor(xn);
        let prod = self.add(Kind::Hadamard(xf, an), &xs);
        let sn = self.const_node(&FTensor { shape: pshape, data: shift }, &xs)?;
        let id = self.add(Kind::Lin(vec![(prod, 1.0), (sn, 1.0)]), &xs);
        Ok(Value::Act { node: id, shape: xs })
    }

    fn reshape(&mut self) -> Result<Value, LowerError> {
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
                        *d = *s.get(i).ok_or_else(|| self.err("a 0 in the shape has no input dimension to copy"))? as i64;
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
        Ok(match v {
            Value::Const(t) => Value::Const(FTensor { shape: out, data: t.data }),
            Value::Act { node, .. } => {
                let map: Vec<Option<usize>> = (0..numel(&s)).map(Some).collect();
                let id = self.gather(node, &s, &out, &map);
                Value::Act { node: id, shape: out }
            }
        })
    }

    fn transposed(&mut self, v: Value, perm: &[usize]) -> Result<Value, LowerError> {
        let s = v.shape().to_vec();
        let mut sorted = perm.to_vec();
        sorted.sort();
        if sorted != (0..s.len()).collect::<Vec<_>>() {
            return Err(self.err(format!("perm {perm:?} is not a permutation of the {} axes", s.len())));
        }
        if let Value::Const(t) = &v {
            if s.len() == 2 && perm == [1, 0] {
                return Ok(Value::Const(Self::transpose_const(t)));
            }
        }
        let out: Vec<usize> = perm.iter().map(|&p| s[p]).collect();
        let (is, os) = (strides(&s), strides(&out));
        let map: Vec<usize> = (0..numel(&out))
            .map(|o| (0..out.len()).map(|d| (o / os[d] % out[d]) * is[perm[d]]).sum())
            .collect();
        Ok(match v {
            Value::Const(t) => Value::Const(FTensor { shape: out, data: map.iter().map(|&i| t.data[i]).collect() }),
            Value::Act { node, .. } => {
                let m: Vec<Option<usize>> = map.into_iter().map(Some).collect();
                let id = self.gather(node, &s, &out, &m);
                Value::Act { node: id, shape: out }
            }
        })
    }

    fn transpose(&mut self) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        let perm: Vec<usize> = match self.attr_ints("perm")? {
            Some(p) => p.iter().map(|&x| self.axis(x, v.shape().len())).collect::<Result<_, _>>()?,
            None => (0..v.shape().len()).rev().collect(),
        };
        self.transposed(v, &perm)
    }

    fn concat(&mut self) -> Result<Value, LowerError> {
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
        let mut terms = vec![];
        let mut const_data = vec![0.0; numel(&out)];
        let mut any_const = false;
        for p in &parts {
            let s = p.shape().to_vec();
            let ps = strides(&s);
            let mut map = vec![None; numel(&out)];
            for i in 0..numel(&s) {
                let o: usize = (0..rank).map(|d| (i / ps[d] % s[d] + if d == axis { offset } else { 0 }) * os[d]).sum();
                map[o] = Some(i);
            }
            offset += s[axis];
            match p {
                Value::Const(t) => {
                    any_const = true;
                    for (o, m) in map.iter().enumerate() {
                        if let Some(i) = m {
                            const_data[o] = t.data[*i];
                        }
                    }
                }
                Value::Act { node, .. } => terms.push((self.gather(*node, &s, &out, &map), 1.0)),
            }
        }
        if terms.is_empty() {
            return Ok(Value::Const(FTensor { shape: out, data: const_data }));
        }
        if any_const {
            let c = self.const_node(&FTensor { shape: out.clone(), data: const_data }, &out)?;
            terms.push((c, 1.0));
        }
        let id = if terms.len() == 1 { terms[0].0 } else { self.add(Kind::Lin(terms), &out) };
        Ok(Value::Act { node: id, shape: out })
    }
}
