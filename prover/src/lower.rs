//! Lowering: ONNX nodes → the float program. Every op becomes linear nodes (matmuls, sparse
//! data-movement maps, sums, elementwise products) plus materializations: the points where a
//! value becomes advice, is requantized and goes through a lookup (ReLU, Clip, max).

use std::collections::{HashMap, HashSet};

use tract_onnx::pb::NodeProto;

use crate::lookup::UnaryFn;
use crate::onnx::{FTensor, OnnxModel};
use crate::program::{Kind, Node, NodeId, SegId};

mod logic;
mod recurrent;
use logic::{Comparison, Logic};
use recurrent::Cell;

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

/// Resize's modes.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Interpolation {
    Nearest,
    Linear,
    Cubic { a: f64, exclude_outside: bool },
}

/// A constant at or below this, added to scores or selected in their place, is an attention
/// mask: the Softmax that reads them leaves its positions out (`Builder::masked_scores`).
const MASK: f64 = -1.0e4;

pub const SUPPORTED: &[&str] = &[
    "Gemm",
    "MatMul",
    "Where",
    "Greater",
    "Less",
    "GreaterOrEqual",
    "LessOrEqual",
    "Equal",
    "Not",
    "And",
    "Or",
    "Xor",
    "Cast",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Relu",
    "Conv",
    "AveragePool",
    "GlobalAveragePool",
    "MaxPool",
    "BatchNormalization",
    "Flatten",
    "Reshape",
    "Transpose",
    "Squeeze",
    "Unsqueeze",
    "Concat",
    "Identity",
    "Clip",
    "Constant",
    "ConvTranspose",
    "GlobalMaxPool",
    "Pad",
    "Slice",
    "Gather",
    "Split",
    "Tile",
    "Resize",
    "LSTM",
    "GRU",
    "QuantizeLinear",
    "DequantizeLinear",
    "QLinearMatMul",
    "Expand",
    "DepthToSpace",
    "SpaceToDepth",
    "ReduceSum",
    "ReduceMean",
    "ReduceMax",
    "ReduceMin",
    "Neg",
    "Sum",
    "Max",
    "Min",
    "Abs",
    "PRelu",
    "LeakyRelu",
    "Sigmoid",
    "Tanh",
    "Exp",
    "Log",
    "Sqrt",
    "Reciprocal",
    "Erf",
    "Gelu",
    "Softplus",
    "Softsign",
    "Elu",
    "Selu",
    "HardSigmoid",
    "HardSwish",
    "Pow",
    "Softmax",
    "LogSoftmax",
    "InstanceNormalization",
    "LayerNormalization",
];

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Func {
    Identity,
    Relu,
    Clip {
        lo: f64,
        hi: f64,
    },
    /// A function table: the input is rounded to its own scale, the output gets another.
    Table(UnaryFn),
}

impl Func {
    pub fn apply(&self, x: f64) -> f64 {
        match self {
            Func::Identity => x,
            Func::Relu => x.max(0.0),
            Func::Clip { lo, hi } => x.clamp(*lo, *hi),
            Func::Table(g) => g.apply(x),
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
    /// Whether a node is zero on the padded positions whatever the input (as the quantizer's
    /// `pad_zero`: a function with f(0) ≠ 0 fills the padding of its segment).
    pad_zero: Vec<bool>,
    shapes: Vec<Vec<usize>>,
    env: HashMap<String, Value>,
    /// The ONNX element type of each constant tensor that has one (initializers, Constant nodes).
    dtypes: HashMap<String, i32>,
    /// Outputs of QuantizeLinear on activations, with their scale and zero point: their values
    /// are kept in real units, `(q − z)·s` (see `quantize_linear`), so only a DequantizeLinear
    /// may read them.
    quantized: HashMap<String, (f64, f64)>,
    /// Scores with an attention mask added (`masked_scores`): the tensor holds them without the
    /// mask, which marks the positions a Softmax, their only reader, leaves out.
    masked: HashMap<String, Vec<bool>>,
    /// Activations that are 0 or 1 by a lookup (comparisons, and logic on them): what a Where's
    /// computed condition must be.
    booleans: HashSet<String>,
    node: &'a NodeProto,
    opset: i64,
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
        pad_zero: vec![],
        shapes: vec![],
        env: HashMap::new(),
        dtypes: model.dtypes.clone(),
        quantized: HashMap::new(),
        masked: HashMap::new(),
        booleans: HashSet::new(),
        node: &dummy,
        opset: model.opset,
    };
    for (k, v) in &model.constants {
        b.env.insert(k.clone(), Value::Const(v.clone()));
    }
    let input = b.push(Kind::Segment(0), &shape, model.input_name.clone());
    if model.inputs.len() > 1 {
        // Several inputs are one flat input segment: each is a slice of it.
        let mut at = 0;
        for (name, s) in &model.inputs {
            let n = numel(s);
            let map: Vec<Option<usize>> = (at..at + n).map(Some).collect();
            at += n;
            let id = b.gather(input, &shape, s, &map);
            b.env.insert(name.clone(), Value::Act { node: id, shape: s.clone() });
        }
    } else {
        b.env.insert(model.input_name.clone(), Value::Act { node: input, shape });
    }
    // Check every op first so that an unsupported one is reported before any other work.
    for n in &model.nodes {
        if !SUPPORTED.contains(&n.op_type.as_str()) || !(n.domain.is_empty() || n.domain == "ai.onnx") {
            return Err(LowerError::Unsupported { op: n.op_type.clone(), node: node_name(n) });
        }
    }
    // A boolean input is any value to the proof: it becomes `x ≠ 0` by lookups, as ONNX casts to
    // bool, so that what reads it as a condition reads 0 or 1.
    for (name, _) in &model.inputs {
        if model.dtypes.get(name) == Some(&logic::BOOL_TYPE) {
            let v = b.env[name].clone();
            let checked = b.nonzero(v)?;
            b.env.insert(name.clone(), checked);
            b.booleans.insert(name.clone());
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
    let mut outs = vec![];
    b.node = &dummy;
    for name in &model.outputs {
        let v = b.env.get(name).cloned().ok_or_else(|| LowerError::MissingOutput(name.clone()))?;
        // A quantized output is its integers, `v/s + z`, not the real units kept inside.
        let v = match b.quantized.get(name) {
            Some(&(s, z)) => b.affine(v, 1.0 / s, z)?,
            None => v,
        };
        outs.push(v);
    }
    let out = if outs.len() == 1 {
        outs.swap_remove(0)
    } else {
        // Several outputs are one flat output: each is a slice of it.
        b.node = &dummy;
        let total: usize = outs.iter().map(|v| numel(v.shape())).sum();
        let flat = vec![total];
        let mut terms = vec![];
        let mut cst = vec![0.0; total];
        let mut at = 0;
        for v in &outs {
            let n = numel(v.shape());
            match v {
                Value::Const(t) => cst[at..at + n].copy_from_slice(&t.data),
                Value::Act { node, shape } => {
                    let mut map = vec![None; total];
                    for i in 0..n {
                        map[at + i] = Some(i);
                    }
                    let id = b.gather(*node, shape, &flat, &map);
                    terms.push((id, 1.0));
                }
            }
            at += n;
        }
        if terms.is_empty() {
            return Err(LowerError::ConstantOutput);
        }
        if cst.iter().any(|&x| x != 0.0) {
            let c = b.const_node(&FTensor { shape: flat.clone(), data: cst }, &flat)?;
            terms.push((c, 1.0));
        }
        let id = if terms.len() == 1 { terms[0].0 } else { b.add(Kind::Lin(terms), &flat) };
        Value::Act { node: id, shape: flat }
    };
    let (node, shape) = match out {
        Value::Const(_) => return Err(LowerError::ConstantOutput),
        Value::Act { node, shape } => (node, shape),
    };
    b.node = &dummy;
    // The output's padding must be zero (it is fixed, not sent): copy it out if it is not.
    let node = if b.pad_zero[node] { node } else { b.zero_padding(node, &shape) };
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
        let pad_zero = match &kind {
            Kind::Segment(0) | Kind::Const(_) | Kind::Sparse { .. } => true,
            Kind::Segment(s) => {
                let m = &self.p.materials[s - 1];
                self.pad_zero[m.z] && m.func.apply(0.0) == 0.0
            }
            Kind::Lin(t) => t.iter().all(|(n, _)| self.pad_zero[*n]),
            Kind::MatMul { l, r, .. } => self.pad_zero[*l] && self.pad_zero[*r],
            Kind::Hadamard(a, b) => self.pad_zero[*a] || self.pad_zero[*b],
        };
        self.pad_zero.push(pad_zero);
        self.shapes.push(shape.to_vec());
        self.p.nodes.push(Node { kind, log_len: log_len(shape), origin });
        let id = self.p.nodes.len() - 1;
        self.p.steps.push(Step::Eval(id));
        id
    }

    /// The same values with zeros on the padded positions (an identity data movement).
    fn zero_padding(&mut self, node: NodeId, shape: &[usize]) -> NodeId {
        let entries = padded_positions(shape).into_iter().map(|p| (p as u32, p as u32, 1.0)).collect();
        let origin = self.p.nodes[node].origin.clone();
        self.push(Kind::Sparse { src: node, entries }, shape, origin)
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
        let name = self
            .node
            .input
            .get(i)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.err(format!("input #{i} is missing")))?;
        if self.quantized.contains_key(name)
            && !["DequantizeLinear", "QLinearMatMul"].contains(&self.node.op_type.as_str())
        {
            return Err(self.err(format!(
                "reads {name:?}, a QuantizeLinear's integers: only a DequantizeLinear may (QLinear* ops are not supported)"
            )));
        }
        if self.masked.contains_key(name) && self.node.op_type != "Softmax" {
            return Err(self.err(format!(
                "reads {name:?}, scores with an attention mask added (constants at or below {MASK:e}): only a \
                 Softmax may (a LogSoftmax would be −∞ at the masked positions)"
            )));
        }
        self.env
            .get(name)
            .cloned()
            .ok_or_else(|| LowerError::MissingInput { node: node_name(self.node), tensor: name.clone() })
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
            "Where" => self.where_op()?,
            "Greater" => self.compare(Comparison::Greater)?,
            "Less" => self.compare(Comparison::Less)?,
            "GreaterOrEqual" => self.compare(Comparison::GreaterOrEqual)?,
            "LessOrEqual" => self.compare(Comparison::LessOrEqual)?,
            "Equal" => self.compare(Comparison::Equal)?,
            "Not" => self.logic(Logic::Not)?,
            "And" => self.logic(Logic::And)?,
            "Or" => self.logic(Logic::Or)?,
            "Xor" => self.logic(Logic::Xor)?,
            "Cast" => self.cast()?,
            "Conv" => self.conv()?,
            "AveragePool" | "GlobalAveragePool" | "MaxPool" => self.pool()?,
            "BatchNormalization" => self.batchnorm()?,
            "Flatten" | "Reshape" | "Squeeze" | "Unsqueeze" => self.reshape()?,
            "Transpose" => self.transpose()?,
            "Concat" => self.concat()?,
            "ConvTranspose" => self.conv()?,
            "GlobalMaxPool" => self.global_max_pool()?,
            "Pad" => self.pad()?,
            "Slice" => self.slice()?,
            "Gather" => self.gather_op()?,
            "Split" => return self.split(),
            "LSTM" => return self.recurrent(Cell::Lstm),
            "GRU" => return self.recurrent(Cell::Gru),
            "Tile" => self.tile()?,
            "Resize" => self.resize()?,
            "QuantizeLinear" => self.quantize_linear()?,
            "DequantizeLinear" => self.dequantize_linear()?,
            "QLinearMatMul" => self.qlinear_matmul()?,
            "Expand" => self.expand()?,
            "DepthToSpace" | "SpaceToDepth" => self.depth_space(op == "DepthToSpace")?,
            "ReduceSum" | "ReduceMean" => self.reduce_linear(op == "ReduceMean")?,
            "ReduceMax" | "ReduceMin" => self.reduce_max(op == "ReduceMin")?,
            "Neg" => self.neg()?,
            "Sum" => self.sum()?,
            "Max" | "Min" => self.max_min(op == "Min")?,
            "Abs" => self.abs()?,
            "PRelu" | "LeakyRelu" => self.prelu(op == "LeakyRelu")?,
            "Sigmoid" => self.table_op(UnaryFn::Sigmoid)?,
            "Tanh" => self.table_op(UnaryFn::Tanh)?,
            "Exp" => self.table_op(UnaryFn::Exp)?,
            "Log" => self.table_op(UnaryFn::Log)?,
            "Sqrt" => self.table_op(UnaryFn::Sqrt)?,
            "Reciprocal" => self.table_op(UnaryFn::Reciprocal)?,
            "Erf" => self.table_op(UnaryFn::Erf)?,
            "Softplus" => self.table_op(UnaryFn::Softplus)?,
            "Softsign" => self.table_op(UnaryFn::Softsign)?,
            "HardSwish" => self.table_op(UnaryFn::HardSwish)?,
            "Gelu" => {
                let tanh = self.attr_s("approximate")?.is_some_and(|a| a == "tanh");
                self.table_op(UnaryFn::Gelu { tanh })?
            }
            "Elu" => {
                let alpha = self.attr_f("alpha")?.unwrap_or(1.0) as f64;
                self.table_op(UnaryFn::Elu { alpha })?
            }
            "Selu" => {
                let alpha = self.attr_f("alpha")?.unwrap_or(1.673_263_2) as f64;
                let gamma = self.attr_f("gamma")?.unwrap_or(1.050_701) as f64;
                self.table_op(UnaryFn::Selu { alpha, gamma })?
            }
            "HardSigmoid" => {
                let alpha = self.attr_f("alpha")?.unwrap_or(0.2) as f64;
                let beta = self.attr_f("beta")?.unwrap_or(0.5) as f64;
                self.table_op(UnaryFn::HardSigmoid { alpha, beta })?
            }
            "Pow" => match self.input(1)? {
                Value::Const(t) if t.data.len() == 1 => self.table_op(UnaryFn::Pow { p: t.data[0] })?,
                _ => return Err(self.err("the exponent must be a scalar constant")),
            },
            "Softmax" | "LogSoftmax" => self.softmax(op == "LogSoftmax")?,
            "InstanceNormalization" | "LayerNormalization" => self.normalization(op == "LayerNormalization")?,
            _ => return Err(LowerError::Unsupported { op, node: node_name(self.node) }),
        };
        Ok(vec![v])
    }

    fn constant(&mut self) -> Result<Value, LowerError> {
        if let Some(t) = self.node.attribute.iter().find(|a| a.name == "value").and_then(|a| a.t.as_ref()) {
            if let Some(out) = self.node.output.first() {
                self.dtypes.insert(out.clone(), t.data_type);
            }
            return crate::onnx::tensor_from_proto(t, &node_name(self.node))
                .map(Value::Const)
                .map_err(|e| self.err(e.to_string()));
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
        let v = self.input(0)?;
        Ok(self.func_of(v, f))
    }

    /// `f(v)` elementwise: folded on a constant; an activation is materialized through `f` (a
    /// table's input requantized to its own scale; a ReLU or a clip of exact values kept exact).
    fn func_of(&mut self, v: Value, f: Func) -> Value {
        match (v, f) {
            (Value::Const(mut t), f) => {
                t.data.iter_mut().for_each(|x| *x = f.apply(*x));
                Value::Const(t)
            }
            (Value::Act { node, shape }, Func::Table(g)) => self.apply_table(node, g, &shape),
            (Value::Act { node, shape }, f) => {
                let keep = !self.grown[node];
                self.materialized(node, f, keep, &shape)
            }
        }
    }

    /// `α·v + β` elementwise (a fractional α is a product with a constant: a linear
    /// combination's coefficients are integers).
    fn affine(&mut self, v: Value, alpha: f64, beta: f64) -> Result<Value, LowerError> {
        let scaled = match v {
            Value::Const(mut t) => {
                t.data.iter_mut().for_each(|x| *x *= alpha);
                Value::Const(t)
            }
            v @ Value::Act { .. } if alpha == 1.0 => v,
            Value::Act { node, shape } if alpha.fract() == 0.0 => {
                let id = self.add(Kind::Lin(vec![(node, alpha)]), &shape);
                Value::Act { node: id, shape }
            }
            v => self.mul_values(v, Value::Const(FTensor::scalar(alpha)))?,
        };
        if beta == 0.0 {
            return Ok(scaled);
        }
        self.add_values(scaled, Value::Const(FTensor::scalar(beta)), false)
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
        let entries =
            map.iter().zip(&dst_pos).filter_map(|(m, &d)| m.map(|i| (d as u32, src_pos[i] as u32, 1.0))).collect();
        self.add(Kind::Sparse { src: node, entries }, out)
    }

    /// `v` as a node of `shape` (a constant made at that shape; an activation broadcast to it).
    fn broadcast_to(&mut self, v: &Value, shape: &[usize]) -> Result<NodeId, LowerError> {
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
        if !sub && let Some(v) = self.masked_scores(&a, &b)? {
            return Ok(v);
        }
        self.add_values(a, b, sub)
    }

    /// An activation plus a constant with entries at or below `MASK` (−10⁴, −10⁹, float32's
    /// minimum, −∞: what exporters write for an attention mask): the activation plus the
    /// constant's other entries, the masked positions recorded for the Softmax that reads it.
    /// Such a constant cannot be quantized beside real scores, and a Softmax gives its positions
    /// zero whatever its value, so they are left out of the Softmax instead.
    fn masked_scores(&mut self, a: &Value, b: &Value) -> Result<Option<Value>, LowerError> {
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
        let v = self.add_values(act.clone(), Value::Const(c), false)?;
        self.masked.insert(self.node.output[0].clone(), mask);
        Ok(Some(v))
    }

    /// `a + b`, or `a − b` (`sub`), broadcast; folded when both are constants.
    fn add_values(&mut self, a: Value, b: Value, sub: bool) -> Result<Value, LowerError> {
        let shape = self.broadcast_shape(a.shape(), b.shape())?;
        let sign = if sub { -1.0 } else { 1.0 };
        if let (Value::Const(x), Value::Const(y)) = (&a, &b) {
            let (x, y) = (self.broadcast_const(x, &shape)?, self.broadcast_const(y, &shape)?);
            let data = x.data.iter().zip(&y.data).map(|(p, q)| p + sign * q).collect();
            return Ok(Value::Const(FTensor { shape, data }));
        }
        let na = self.broadcast_to(&a, &shape)?;
        let nb = self.broadcast_to(&b, &shape)?;
        let id = self.add(Kind::Lin(vec![(na, 1.0), (nb, sign)]), &shape);
        Ok(Value::Act { node: id, shape })
    }

    fn mul(&mut self, div: bool) -> Result<Value, LowerError> {
        let (a, mut b) = (self.input(0)?, self.input(1)?);
        if div {
            match &mut b {
                Value::Const(t) => {
                    if t.data.contains(&0.0) {
                        return Err(self.err("division by a constant that contains zero"));
                    }
                    t.data.iter_mut().for_each(|x| *x = 1.0 / *x);
                }
                Value::Act { node, shape } => {
                    // a / b = a · (1/b), the reciprocal by lookup.
                    let (node, shape) = (*node, shape.clone());
                    let r = self.apply_table(node, UnaryFn::Reciprocal, &shape);
                    b = r;
                }
            }
        }
        self.mul_values(a, b)
    }

    /// `a ⊙ b`, broadcast; folded when both are constants.
    fn mul_values(&mut self, a: Value, b: Value) -> Result<Value, LowerError> {
        let shape = self.broadcast_shape(a.shape(), b.shape())?;
        if let (Value::Const(x), Value::Const(y)) = (&a, &b) {
            let (x, y) = (self.broadcast_const(x, &shape)?, self.broadcast_const(y, &shape)?);
            let data = x.data.iter().zip(&y.data).map(|(p, q)| p * q).collect();
            return Ok(Value::Const(FTensor { shape, data }));
        }
        let factor = |s: &mut Self, v: &Value| -> Result<NodeId, LowerError> {
            let n = s.broadcast_to(v, &shape)?;
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

    fn as_matrix(&self, s: &[usize], what: &str) -> Result<(usize, usize), LowerError> {
        let lead: usize = s.iter().rev().skip(2).product();
        if s.len() < 2 || lead != 1 {
            return Err(
                self.err(format!("{what} must be a matrix (2-D, or with leading dimensions of 1); its shape is {s:?}"))
            );
        }
        Ok((s[s.len() - 2], s[s.len() - 1]))
    }

    /// `A·B` for 2-D operands, at most one of them constant.
    fn matmul_values(&mut self, a: Value, b: Value) -> Result<(NodeId, Vec<usize>), LowerError> {
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
        if let (Value::Const(_), Value::Const(_)) = (&a, &b) {
            return Err(self.err("a product of two constants should have been folded by the exporter"));
        }
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
        self.add_values(product, c, false)
    }

    /// `A·B` of 2-D operands; folded when both are constants.
    fn product(&mut self, a: Value, b: Value) -> Result<Value, LowerError> {
        Ok(match (&a, &b) {
            (Value::Const(x), Value::Const(y)) => Value::Const(self.const_matmul(x, y)?),
            _ => {
                let (node, shape) = self.matmul_values(a, b)?;
                Value::Act { node, shape }
            }
        })
    }

    fn matmul(&mut self) -> Result<Value, LowerError> {
        let (a, b) = (self.input(0)?, self.input(1)?);
        self.matmul_of(a, b)
    }

    /// ONNX's MatMul (numpy's `matmul`) of operands with two or more dimensions: the leading
    /// (batch) dimensions broadcast. One B for every batch is one product, A's batches stacked
    /// as its rows; otherwise a product per batch (attention's heads), placed in the output.
    fn matmul_of(&mut self, a: Value, b: Value) -> Result<Value, LowerError> {
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

    /// The product of two constant matrices (2-D, or with leading dimensions of 1), folded here:
    /// exporters leave such products in (weights stored factored, a projection of a constant).
    fn const_matmul(&self, a: &FTensor, b: &FTensor) -> Result<FTensor, LowerError> {
        let (m, k) = self.as_matrix(&a.shape, "the left operand")?;
        let (k2, n) = self.as_matrix(&b.shape, "the right operand")?;
        if k != k2 {
            return Err(self.err(format!("inner dimensions differ: {:?} × {:?}", a.shape, b.shape)));
        }
        let mut data = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                data[i * n + j] = (0..k).map(|l| a.data[i * k + l] * b.data[l * n + j]).sum();
            }
        }
        Ok(FTensor { shape: vec![m, n], data })
    }

    /// `Where(condition, X, Y)` with a constant condition: a selection, each output element moved
    /// from X where the condition holds and from Y elsewhere (a constant side adds its selected
    /// entries as a constant); all three broadcast. A condition computed from the input is a
    /// product with a boolean (`computed_where`).
    fn where_op(&mut self) -> Result<Value, LowerError> {
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

    /// Spatial geometry shared by Conv and the pools: output sizes and begin pads per axis.
    fn geometry(
        &self,
        input: &[usize],
        kernel: &[usize],
        dilations: &[usize],
    ) -> Result<(Vec<usize>, Vec<usize>, Vec<usize>), LowerError> {
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

    /// `[N, C, spatial...]` with 1 to 3 spatial axes: (N, C, spatial sizes).
    fn spatial(&self, s: &[usize]) -> Result<(usize, usize, Vec<usize>), LowerError> {
        if s.len() < 3 || s.len() > 5 {
            return Err(self.err(format!("expects an [N, C, L], [N, C, H, W] or [N, C, D, H, W] input; got {s:?}")));
        }
        Ok((s[0], s[1], s[2..].to_vec()))
    }

    fn dilations(&self, nd: usize) -> Result<Vec<usize>, LowerError> {
        let dil: Vec<usize> = match self.attr_ints("dilations")? {
            Some(d) if d.iter().all(|&x| x > 0) => d.iter().map(|&x| x as usize).collect(),
            Some(d) => return Err(self.err(format!("dilations {d:?} must be positive"))),
            None => vec![1; nd],
        };
        if dil.len() != nd {
            return Err(self.err(format!("dilations {dil:?} do not fit {nd} spatial dimensions")));
        }
        Ok(dil)
    }

    /// ConvTranspose's output sizes and begin pads: `out = s·(in − 1) + output_padding +
    /// (k − 1)·d + 1 − pads`, or the pads that give `output_shape`.
    fn transpose_geometry(
        &self,
        input: &[usize],
        kernel: &[usize],
        dil: &[usize],
    ) -> Result<(Vec<usize>, Vec<usize>, Vec<usize>), LowerError> {
        let nd = input.len();
        let ints = |name: &str, dflt: usize| -> Result<Vec<usize>, LowerError> {
            match self.attr_ints(name)? {
                Some(v) if v.len() == nd && v.iter().all(|&x| x >= 0) => Ok(v.iter().map(|&x| x as usize).collect()),
                Some(v) => Err(self.err(format!("{name} {v:?} do not fit {nd} spatial dimensions"))),
                None => Ok(vec![dflt; nd]),
            }
        };
        let strides = ints("strides", 1)?;
        if strides.contains(&0) {
            return Err(self.err("strides must be positive"));
        }
        let out_pad = ints("output_padding", 0)?;
        let auto = self.attr_s("auto_pad")?.unwrap_or_else(|| "NOTSET".into());
        let full: Vec<usize> =
            (0..nd).map(|i| strides[i] * (input[i] - 1) + out_pad[i] + (kernel[i] - 1) * dil[i] + 1).collect();
        let target: Option<Vec<usize>> = match self.attr_ints("output_shape")? {
            Some(v) => {
                let v: Vec<usize> = v.iter().rev().take(nd).rev().map(|&x| x.max(0) as usize).collect();
                if v.len() != nd {
                    return Err(self.err("output_shape does not fit the spatial dimensions"));
                }
                Some(v)
            }
            None if auto == "SAME_UPPER" || auto == "SAME_LOWER" => {
                Some((0..nd).map(|i| input[i] * strides[i]).collect())
            }
            None => None,
        };
        let mut begin = vec![0; nd];
        let mut out = full.clone();
        match target {
            Some(t) => {
                for i in 0..nd {
                    if t[i] > full[i] {
                        return Err(self.err(format!("output_shape {t:?} is larger than the full output {full:?}")));
                    }
                    let total = full[i] - t[i];
                    begin[i] = if auto == "SAME_UPPER" { total / 2 } else { total - total / 2 };
                    out[i] = t[i];
                }
            }
            None if auto == "NOTSET" || auto == "VALID" => {
                if let Some(p) = self.attr_ints("pads")?.filter(|_| auto == "NOTSET") {
                    if p.len() != 2 * nd || p.iter().any(|&x| x < 0) {
                        return Err(self.err(format!("pads {p:?} do not fit {nd} spatial dimensions")));
                    }
                    for i in 0..nd {
                        let (b, e) = (p[i] as usize, p[i + nd] as usize);
                        if b + e >= full[i] {
                            return Err(self.err(format!("pads {p:?} remove the whole output")));
                        }
                        begin[i] = b;
                        out[i] = full[i] - b - e;
                    }
                }
            }
            None => return Err(self.err(format!("auto_pad {auto:?} is not an ONNX value"))),
        }
        Ok((out, strides, begin))
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

    /// Conv and ConvTranspose, grouped or not, on a batch: one matrix product of the weight
    /// (block-diagonal over the groups) with the im2col matrix of the input.
    fn conv(&mut self) -> Result<Value, LowerError> {
        let transpose = self.node.op_type == "ConvTranspose";
        let x = self.input(0)?;
        let w = self.const_input(1, "the weight")?;
        let Value::Act { node: xn, shape: xs } = x else { return Err(self.err("the input is a constant")) };
        let (n, c, in_sp) = self.spatial(&xs)?;
        let nd = in_sp.len();
        let g = self.attr_i("group")?.unwrap_or(1);
        if g < 1 || c % g as usize != 0 {
            return Err(self.err(format!("group {g} does not divide the {c} input channels")));
        }
        let g = g as usize;
        if w.shape.len() != nd + 2 {
            return Err(self.err(format!("weight shape {:?} does not match input {xs:?}", w.shape)));
        }
        let cg = c / g;
        let co = if transpose { w.shape[1] * g } else { w.shape[0] };
        let ok = if transpose { w.shape[0] == c } else { w.shape[1] == cg && co % g == 0 };
        if !ok || co == 0 {
            return Err(self.err(format!("weight shape {:?} does not match input {xs:?} with {g} group(s)", w.shape)));
        }
        let cog = co / g;
        let kernel = w.shape[2..].to_vec();
        if let Some(k) = self.attr_ints("kernel_shape")?
            && k.iter().map(|&x| x as usize).ne(kernel.iter().copied())
        {
            return Err(self.err(format!("kernel_shape {k:?} differs from the weight's {kernel:?}")));
        }
        let dil = self.dilations(nd)?;
        let (out_sp, step, begin) = if transpose {
            self.transpose_geometry(&in_sp, &kernel, &dil)?
        } else {
            self.geometry(&in_sp, &kernel, &dil)?
        };
        let kk: usize = kernel.iter().product();
        let kdim = c * kk;
        let p: usize = out_sp.iter().product();
        let in_plane: usize = in_sp.iter().product();
        let (ks, os, is) = (strides(&kernel), strides(&out_sp), strides(&in_sp));
        // The input position an output position reads at a kernel offset (None: padding).
        let read = |o: usize, k: usize| -> Option<usize> {
            if !transpose {
                return Self::window(&in_sp, &out_sp, &kernel, &step, &dil, &begin, o, k);
            }
            let mut idx = 0;
            for d in 0..nd {
                let (oc, kc) = (o / os[d] % out_sp[d], k / ks[d] % kernel[d]);
                let v = (oc + begin[d]) as isize - (kc * dil[d]) as isize;
                if v < 0 || !(v as usize).is_multiple_of(step[d]) || v as usize / step[d] >= in_sp[d] {
                    return None;
                }
                idx += v as usize / step[d] * is[d];
            }
            Some(idx)
        };
        // im2col: rows (channel, kernel offset), columns (batch, output position).
        let col_shape: Vec<usize> = [kdim, n].into_iter().chain(out_sp.iter().copied()).collect();
        let mut map = vec![None; kdim * n * p];
        for ci in 0..c {
            for k in 0..kk {
                for o in 0..p {
                    if let Some(i) = read(o, k) {
                        for b in 0..n {
                            map[(ci * kk + k) * n * p + b * p + o] = Some(b * c * in_plane + ci * in_plane + i);
                        }
                    }
                }
            }
        }
        let cols = self.gather(xn, &xs, &col_shape, &map);
        let mut wd = vec![0.0; co * kdim];
        for o in 0..co {
            let grp = o / cog;
            for cl in 0..cg {
                let ci = grp * cg + cl;
                for k in 0..kk {
                    wd[o * kdim + ci * kk + k] =
                        if transpose { w.data[(ci * cog + o % cog) * kk + k] } else { w.data[(o * cg + cl) * kk + k] };
                }
            }
        }
        let lg = |v: usize| v.next_power_of_two().trailing_zeros();
        let wl = self.const_node(&FTensor { shape: vec![co, kdim], data: wd }, &[co, kdim])?;
        let mm_shape: Vec<usize> = [co, n].into_iter().chain(out_sp.iter().copied()).collect();
        let pl: u32 = lg(n) + out_sp.iter().map(|&d| lg(d)).sum::<u32>();
        let mut id = self.add(Kind::MatMul { l: wl, r: cols, a: lg(co), b: lg(kdim), c: pl }, &mm_shape);
        if let Some(bias) = self.opt_input(2)? {
            let Value::Const(bias) = bias else { return Err(self.err("the bias must be a constant")) };
            if bias.data.len() != co {
                return Err(self.err(format!("the bias has {} values for {co} output channels", bias.data.len())));
            }
            let bshape: Vec<usize> = [co].into_iter().chain(std::iter::repeat_n(1, nd + 1)).collect();
            let bn = self.const_node(&FTensor { shape: bshape, data: bias.data }, &mm_shape)?;
            id = self.add(Kind::Lin(vec![(id, 1.0), (bn, 1.0)]), &mm_shape);
        }
        // [Co, N, ...] → [N, Co, ...] (a relabeling when N = 1).
        let perm: Vec<usize> = [1, 0].into_iter().chain(2..nd + 2).collect();
        self.transposed(Value::Act { node: id, shape: mm_shape }, &perm)
    }

    fn pool(&mut self) -> Result<Value, LowerError> {
        let op = self.node.op_type.clone();
        let Value::Act { node: xn, shape: xs } = self.input(0)? else { return Err(self.err("pooling a constant")) };
        let (batch, c, in_sp) = self.spatial(&xs)?;
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
            let dil = self.dilations(nd)?;
            let (out_sp, strides, begin) = self.geometry(&in_sp, &kernel, &dil)?;
            (kernel, out_sp, strides, begin, dil)
        };
        let kk: usize = kernel.iter().product();
        let p: usize = out_sp.iter().product();
        let in_plane: usize = in_sp.iter().product();
        let out_shape: Vec<usize> = [batch, c].into_iter().chain(out_sp.iter().copied()).collect();
        // Batch and channel together index the planes.
        let c = batch * c;
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
                let Value::Act { node: y, .. } = self.materialized(d, Func::Relu, true, &out_shape) else {
                    unreachable!()
                };
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
        let a: Vec<f64> = (0..c).map(|i| g.data[i] / libm::sqrt(v.data[i] + eps)).collect();
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
                        *d = *s.get(i).ok_or_else(|| self.err("a 0 in the shape has no input dimension to copy"))?
                            as i64;
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
        Ok(self.reshaped(v, &out))
    }

    /// The same elements, row-major, in shape `out` (of as many elements).
    fn reshaped(&mut self, v: Value, out: &[usize]) -> Value {
        match v {
            Value::Const(t) => Value::Const(FTensor { shape: out.to_vec(), data: t.data }),
            Value::Act { node, shape } => {
                let map: Vec<Option<usize>> = (0..numel(&shape)).map(Some).collect();
                let id = self.gather(node, &shape, out, &map);
                Value::Act { node: id, shape: out.to_vec() }
            }
        }
    }

    fn transposed(&mut self, v: Value, perm: &[usize]) -> Result<Value, LowerError> {
        let s = v.shape().to_vec();
        let mut sorted = perm.to_vec();
        sorted.sort();
        if sorted != (0..s.len()).collect::<Vec<_>>() {
            return Err(self.err(format!("perm {perm:?} is not a permutation of the {} axes", s.len())));
        }
        if let Value::Const(t) = &v
            && s.len() == 2
            && perm == [1, 0]
        {
            return Ok(Value::Const(Self::transpose_const(t)));
        }
        let out: Vec<usize> = perm.iter().map(|&p| s[p]).collect();
        let (is, os) = (strides(&s), strides(&out));
        let map: Vec<usize> =
            (0..numel(&out)).map(|o| (0..out.len()).map(|d| (o / os[d] % out[d]) * is[perm[d]]).sum()).collect();
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
        let mut placed = vec![];
        for p in parts {
            let s = p.shape().to_vec();
            let ps = strides(&s);
            let mut map = vec![None; numel(&out)];
            for i in 0..numel(&s) {
                let o: usize = (0..rank).map(|d| (i / ps[d] % s[d] + if d == axis { offset } else { 0 }) * os[d]).sum();
                map[o] = Some(i);
            }
            offset += s[axis];
            placed.push((p, map));
        }
        self.assemble(placed, &out)
    }

    /// The sum of `parts`, each moved into `out` by its map (`out[o] = part[map[o]]`, `None`
    /// reads zero): the pieces of a concatenation or a stack. The constant parts become one
    /// constant term.
    fn assemble(&mut self, parts: Vec<(Value, Vec<Option<usize>>)>, out: &[usize]) -> Result<Value, LowerError> {
        let mut terms = vec![];
        let mut const_data = vec![0.0; numel(out)];
        let mut any_const = false;
        for (p, map) in &parts {
            match p {
                Value::Const(t) => {
                    any_const = true;
                    for (o, m) in map.iter().enumerate() {
                        if let Some(i) = m {
                            const_data[o] += t.data[*i];
                        }
                    }
                }
                Value::Act { node, shape } => terms.push((self.gather(*node, shape, out, map), 1.0)),
            }
        }
        let constant = FTensor { shape: out.to_vec(), data: const_data };
        if terms.is_empty() {
            return Ok(Value::Const(constant));
        }
        if any_const {
            terms.push((self.const_node(&constant, out)?, 1.0));
        }
        let id = if terms.len() == 1 { terms[0].0 } else { self.add(Kind::Lin(terms), out) };
        Ok(Value::Act { node: id, shape: out.to_vec() })
    }
}

/// Data movement, reductions and the piecewise-linear ops.
impl Builder<'_> {
    /// `out[o] = v[map[o]]` (`None` reads zero), for constants and activations alike.
    fn moved(&mut self, v: &Value, out: &[usize], map: &[Option<usize>]) -> Value {
        match v {
            Value::Const(t) => Value::Const(FTensor {
                shape: out.to_vec(),
                data: map.iter().map(|m| m.map_or(0.0, |i| t.data[i])).collect(),
            }),
            Value::Act { node, shape } => {
                let id = self.gather(*node, shape, out, map);
                Value::Act { node: id, shape: out.to_vec() }
            }
        }
    }

    /// A constant input as integers (axes, pads, indices, shapes).
    fn const_ints(&self, i: usize, what: &str) -> Result<Option<Vec<i64>>, LowerError> {
        match self.opt_input(i)? {
            Some(Value::Const(t)) => Ok(Some(t.data.iter().map(|&x| x as i64).collect())),
            Some(Value::Act { .. }) => Err(self.err(format!("{what} must be a constant of the model"))),
            None => Ok(None),
        }
    }

    /// A list of integers from input `i` (newer opsets) or attribute `attr` (older ones).
    fn ints_input_or_attr(&self, i: usize, attr: &str) -> Result<Option<Vec<i64>>, LowerError> {
        match self.const_ints(i, attr)? {
            Some(v) => Ok(Some(v)),
            None => self.attr_ints(attr),
        }
    }

    /// Maps every output element to a source element through per-axis coordinate functions.
    fn coord_map(out: &[usize], from: &[usize], src: impl Fn(usize, usize) -> Option<usize>) -> Vec<Option<usize>> {
        let (os, fs) = (strides(out), strides(from));
        (0..numel(out))
            .map(|o| {
                let mut i = 0;
                for d in 0..out.len() {
                    i += src(d, o / os[d] % out[d])? * fs[d];
                }
                Some(i)
            })
            .collect()
    }

    fn pad(&mut self) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        let s = v.shape().to_vec();
        let rank = s.len();
        let pads = match self.const_ints(1, "pads")? {
            Some(p) => p,
            None => {
                self.attr_ints("pads")?.or(self.attr_ints("paddings")?).ok_or_else(|| self.err("pads are required"))?
            }
        };
        let value = match self.opt_input(2)? {
            Some(Value::Const(t)) if t.data.len() == 1 => t.data[0],
            Some(_) => return Err(self.err("the constant value must be a scalar constant")),
            None => self.attr_f("value")?.unwrap_or(0.0) as f64,
        };
        let axes: Vec<usize> = match self.const_ints(3, "axes")? {
            Some(a) => a.iter().map(|&x| self.axis(x, rank)).collect::<Result<_, _>>()?,
            None => (0..rank).collect(),
        };
        if pads.len() != 2 * axes.len() {
            return Err(self.err(format!("pads {pads:?} do not fit {} axes", axes.len())));
        }
        let mut begin = vec![0i64; rank];
        let mut end = vec![0i64; rank];
        for (k, &a) in axes.iter().enumerate() {
            begin[a] = pads[k];
            end[a] = pads[k + axes.len()];
        }
        let mode = self.attr_s("mode")?.unwrap_or_else(|| "constant".into());
        let mut out = vec![0; rank];
        for d in 0..rank {
            let o = s[d] as i64 + begin[d] + end[d];
            if o <= 0 {
                return Err(self.err(format!("pads {pads:?} remove all of axis {d}")));
            }
            out[d] = o as usize;
            if mode != "constant" && (begin[d] > 0 || end[d] > 0) && (mode == "reflect" && s[d] < 2 || s[d] == 0) {
                return Err(self.err(format!("{mode} padding of axis {d} of size {}", s[d])));
            }
        }
        let src = |d: usize, o: usize| -> Option<usize> {
            let n = s[d] as i64;
            let mut i = o as i64 - begin[d];
            match mode.as_str() {
                "edge" => Some(i.clamp(0, n - 1) as usize),
                "reflect" if n > 1 => {
                    let period = 2 * (n - 1);
                    i = i.rem_euclid(period);
                    Some(if i >= n { period - i } else { i } as usize)
                }
                _ => (0..n).contains(&i).then_some(i as usize),
            }
        };
        if !["constant", "reflect", "edge"].contains(&mode.as_str()) {
            return Err(self.err(format!("mode {mode:?} is not supported (constant, reflect, edge are)")));
        }
        let map = Self::coord_map(&out, &s, src);
        let moved = self.moved(&v, &out, &map);
        if value == 0.0 || mode != "constant" {
            return Ok(moved);
        }
        let fill =
            FTensor { shape: out.clone(), data: map.iter().map(|m| if m.is_none() { value } else { 0.0 }).collect() };
        Ok(match moved {
            Value::Const(t) => {
                Value::Const(FTensor { shape: out, data: t.data.iter().zip(&fill.data).map(|(a, b)| a + b).collect() })
            }
            Value::Act { node, .. } => {
                let c = self.const_node(&fill, &out)?;
                let id = self.add(Kind::Lin(vec![(node, 1.0), (c, 1.0)]), &out);
                Value::Act { node: id, shape: out }
            }
        })
    }

    fn slice(&mut self) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        let s = v.shape().to_vec();
        let rank = s.len();
        let starts = self.ints_input_or_attr(1, "starts")?.ok_or_else(|| self.err("starts are required"))?;
        let ends = self.ints_input_or_attr(2, "ends")?.ok_or_else(|| self.err("ends are required"))?;
        let axes: Vec<i64> = self.ints_input_or_attr(3, "axes")?.unwrap_or_else(|| (0..starts.len() as i64).collect());
        let steps: Vec<i64> = self.const_ints(4, "steps")?.unwrap_or_else(|| vec![1; starts.len()]);
        if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
            return Err(self.err("starts, ends, axes and steps differ in length"));
        }
        let mut first = vec![0i64; rank];
        let mut step = vec![1i64; rank];
        let mut out = s.clone();
        for k in 0..starts.len() {
            let a = self.axis(axes[k], rank)?;
            let n = s[a] as i64;
            let st = steps[k];
            if st == 0 {
                return Err(self.err("a step of 0"));
            }
            let norm = |x: i64| if x < 0 { x.saturating_add(n) } else { x };
            let (b, e) = if st > 0 {
                (norm(starts[k]).clamp(0, n), norm(ends[k]).clamp(0, n))
            } else {
                (norm(starts[k]).clamp(0, n - 1), norm(ends[k]).clamp(-1, n - 1))
            };
            let len = if st > 0 {
                (e - b).max(0).div_euclid(st) + i64::from((e - b).max(0) % st != 0)
            } else {
                (b - e).max(0).div_euclid(-st) + i64::from((b - e).max(0) % -st != 0)
            };
            if len == 0 {
                return Err(self.err(format!("the slice of axis {a} is empty")));
            }
            first[a] = b;
            step[a] = st;
            out[a] = len as usize;
        }
        let map = Self::coord_map(&out, &s, |d, o| Some((first[d] + o as i64 * step[d]) as usize));
        Ok(self.moved(&v, &out, &map))
    }

    fn gather_op(&mut self) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        let idx = match self.input(1)? {
            Value::Const(t) => t,
            Value::Act { .. } => return Err(self.err("indices computed from the input (an embedding lookup) are not supported: the indices must be constants")),
        };
        let s = v.shape().to_vec();
        let axis = self.axis(self.attr_i("axis")?.unwrap_or(0), s.len())?;
        let n = s[axis] as i64;
        let mut ix = vec![];
        for &x in &idx.data {
            let i = x as i64;
            let i = if i < 0 { i + n } else { i };
            if !(0..n).contains(&i) {
                return Err(self.err(format!("index {x} is out of range for axis {axis} of size {n}")));
            }
            ix.push(i as usize);
        }
        let out: Vec<usize> = s[..axis].iter().chain(&idx.shape).chain(&s[axis + 1..]).copied().collect();
        let (outer, inner) = (numel(&s[..axis]), numel(&s[axis + 1..]));
        let mut map = Vec::with_capacity(numel(&out));
        for a in 0..outer {
            for &i in &ix {
                for b in 0..inner {
                    map.push(Some((a * s[axis] + i) * inner + b));
                }
            }
        }
        Ok(self.moved(&v, &out, &map))
    }

    fn split(&mut self) -> Result<Vec<Value>, LowerError> {
        let v = self.input(0)?;
        let s = v.shape().to_vec();
        let axis = self.axis(self.attr_i("axis")?.unwrap_or(0), s.len())?;
        let n_out = self.node.output.len();
        let sizes: Vec<usize> = match self.ints_input_or_attr(1, "split")? {
            Some(p) => p.iter().map(|&x| x.max(0) as usize).collect(),
            None => {
                let k = n_out.max(1);
                let chunk = s[axis].div_ceil(k);
                (0..k).map(|i| chunk.min(s[axis].saturating_sub(i * chunk))).collect()
            }
        };
        if sizes.len() != n_out || sizes.iter().sum::<usize>() != s[axis] || sizes.contains(&0) {
            return Err(self.err(format!(
                "split sizes {sizes:?} do not divide axis {axis} of size {} into {n_out} outputs",
                s[axis]
            )));
        }
        let mut at = 0;
        let mut outs = vec![];
        for sz in sizes {
            let mut out = s.clone();
            out[axis] = sz;
            let map = Self::coord_map(&out, &s, |d, o| Some(if d == axis { o + at } else { o }));
            outs.push(self.moved(&v, &out, &map));
            at += sz;
        }
        Ok(outs)
    }

    fn tile(&mut self) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        let s = v.shape().to_vec();
        let reps = self.const_ints(1, "repeats")?.ok_or_else(|| self.err("repeats are required"))?;
        if reps.len() != s.len() || reps.iter().any(|&r| r < 1) {
            return Err(self.err(format!("repeats {reps:?} do not fit shape {s:?}")));
        }
        let out: Vec<usize> = s.iter().zip(&reps).map(|(&d, &r)| d * r as usize).collect();
        let map = Self::coord_map(&out, &s, |d, o| Some(o % s[d]));
        Ok(self.moved(&v, &out, &map))
    }

    /// Resize, `nearest` and `linear` modes at any scale, with every coordinate transformation
    /// but `tf_crop_and_resize`: each output element reads one input element (nearest: a
    /// gather) or a weighted sum of up to 2^rank neighbours (linear: a `Sparse` map whose weights
    /// are the products of each axis's two), indices clamped to the input as ONNX's edge padding
    /// does. Attributes that would change that (cubic, antialias, axes, a kept aspect ratio) are
    /// refused by name.
    fn resize(&mut self) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        let s = v.shape().to_vec();
        let mode = self.attr_s("mode")?.unwrap_or_else(|| "nearest".into());
        let interpolation = match mode.as_str() {
            "nearest" => Interpolation::Nearest,
            "linear" => Interpolation::Linear,
            "cubic" => Interpolation::Cubic {
                a: self.attr_f("cubic_coeff_a")?.map_or(-0.75, f64::from),
                exclude_outside: self.attr_i("exclude_outside")?.unwrap_or(0) != 0,
            },
            m => return Err(self.err(format!("mode {m:?} is not supported (nearest, linear and cubic are)"))),
        };
        let antialias = self.attr_i("antialias")?.unwrap_or(0) != 0;
        if antialias && interpolation == Interpolation::Nearest {
            return Err(self.err("attribute antialias applies to linear and cubic modes, not nearest"));
        }
        let axes: Vec<usize> = match self.attr_ints("axes")? {
            Some(a) => a.iter().map(|&x| self.axis(x, s.len())).collect::<Result<_, _>>()?,
            None => (0..s.len()).collect(),
        };
        let policy = self.attr_s("keep_aspect_ratio_policy")?.unwrap_or_else(|| "stretch".into());
        if !["stretch", "not_larger", "not_smaller"].contains(&policy.as_str()) {
            return Err(
                self.err(format!("keep_aspect_ratio_policy {policy:?} is not stretch, not_larger or not_smaller"))
            );
        }
        let default = if self.opset < 11 { "asymmetric" } else { "half_pixel" };
        let coord = self.attr_s("coordinate_transformation_mode")?.unwrap_or_else(|| default.into());
        let nearest = self.attr_s("nearest_mode")?.unwrap_or_else(|| "round_prefer_floor".into());
        // Opset 10: (X, scales); from 11: (X, roi, scales, sizes), an empty tensor for one not given.
        let floats = |i: usize| -> Result<Vec<f64>, LowerError> {
            match self.opt_input(i)? {
                Some(Value::Const(t)) => Ok(t.data),
                Some(Value::Act { .. }) => Err(self.err(format!("input #{i} must be a constant of the model"))),
                None => Ok(vec![]),
            }
        };
        let (scales, sizes) = if self.opset < 11 { (floats(1)?, vec![]) } else { (floats(2)?, floats(3)?) };
        // Scales or sizes given for `axes` only: the other axes keep theirs.
        let full = |given: Vec<f64>, keep: &dyn Fn(usize) -> f64| -> Result<Vec<f64>, LowerError> {
            if given.is_empty() {
                return Ok(given);
            }
            if given.len() != axes.len() {
                return Err(self.err(format!("{} scales or sizes for {} axes", given.len(), axes.len())));
            }
            let mut v: Vec<f64> = (0..s.len()).map(keep).collect();
            for (&d, g) in axes.iter().zip(given) {
                v[d] = g;
            }
            Ok(v)
        };
        let scales = full(scales, &|_| 1.0)?;
        let sizes = full(sizes, &|d| s[d] as f64)?;
        // tf_crop_and_resize's region: starts then ends, in units of the axis (default 0 and 1).
        let crop = coord == "tf_crop_and_resize";
        let roi = if crop && self.opset >= 11 { floats(1)? } else { vec![] };
        let (mut start, mut end) = (vec![0.0; s.len()], vec![1.0; s.len()]);
        if !roi.is_empty() {
            if roi.len() != 2 * axes.len() {
                return Err(self.err(format!("roi has {} values; {} expected", roi.len(), 2 * axes.len())));
            }
            for (k, &d) in axes.iter().enumerate() {
                (start[d], end[d]) = (roi[k], roi[axes.len() + k]);
            }
        }
        let (out, scale): (Vec<usize>, Vec<f64>) = if !sizes.is_empty() {
            if sizes.iter().any(|&x| x < 1.0) {
                return Err(self.err(format!("sizes {sizes:?} do not fit shape {s:?}")));
            }
            let ratio: Vec<f64> = sizes.iter().zip(&s).map(|(&o, &i)| o / i as f64).collect();
            if policy == "stretch" {
                (sizes.iter().map(|&x| x as usize).collect(), ratio)
            } else {
                // One scale for the listed axes, the smallest or largest ratio; sizes rounded
                // half up from it.
                let pick = axes.iter().map(|&d| ratio[d]);
                let k =
                    if policy == "not_larger" { pick.fold(f64::INFINITY, f64::min) } else { pick.fold(0.0, f64::max) };
                let scale: Vec<f64> = (0..s.len()).map(|d| if axes.contains(&d) { k } else { 1.0 }).collect();
                let out = (0..s.len())
                    .map(|d| if axes.contains(&d) { ((k * s[d] as f64) + 0.5).floor() as usize } else { s[d] })
                    .collect();
                (out, scale)
            }
        } else if scales.len() == s.len() && scales.iter().all(|&x| x > 0.0) {
            let len = |d: usize| (s[d] as f64 * (end[d] - start[d]) * scales[d]).floor() as usize;
            ((0..s.len()).map(|d| len(d).max(1)).collect(), scales)
        } else {
            return Err(self.err(format!("needs scales (one positive value per axis) or sizes; got {scales:?}")));
        };
        // Per axis and output coordinate: the input coordinate it samples (ONNX's formulas);
        // `None` outside the input, where tf_crop_and_resize writes its extrapolation value.
        let origin = |d: usize, x: usize| -> Result<Option<f64>, LowerError> {
            let (x, k, len_in, len_out) = (x as f64, scale[d], s[d] as f64, out[d] as f64);
            Ok(Some(match coord.as_str() {
                "half_pixel" => (x + 0.5) / k - 0.5,
                "half_pixel_symmetric" => {
                    let adjustment = len_out / (k * len_in);
                    len_in / 2.0 * (1.0 - adjustment) + (x + 0.5) / k - 0.5
                }
                "pytorch_half_pixel" if len_out > 1.0 => (x + 0.5) / k - 0.5,
                "pytorch_half_pixel" => 0.0,
                // The spec's length_resized is `scale·length_original`, fractional when scales
                // are given (as the onnx reference computes it; tract and onnxruntime use the
                // rounded output length).
                "align_corners" if k * len_in != 1.0 => x * (len_in - 1.0) / (k * len_in - 1.0),
                "align_corners" => 0.0,
                "asymmetric" => x / k,
                "tf_half_pixel_for_nn" => (x + 0.5) / k,
                "tf_crop_and_resize" => {
                    let (a, b) = (start[d], end[d]);
                    let o = if len_out > 1.0 {
                        a * (len_in - 1.0) + x * (b - a) * (len_in - 1.0) / (len_out - 1.0)
                    } else {
                        0.5 * (a + b) * (len_in - 1.0)
                    };
                    if o < 0.0 || o > len_in - 1.0 {
                        return Ok(None);
                    }
                    o
                }
                m => return Err(self.err(format!("coordinate_transformation_mode {m:?} is not supported"))),
            }))
        };
        let clamp = |d: usize, i: f64| i.clamp(0.0, (s[d] - 1) as f64) as usize;
        // Each axis's taps: (input index, weight) for every output coordinate.
        let mut taps: Vec<Vec<Vec<(usize, f64)>>> = vec![];
        for (d, &len_out) in out.iter().enumerate() {
            let mut axis = vec![];
            for x in 0..len_out {
                let Some(o) = origin(d, x)? else {
                    axis.push(vec![]);
                    continue;
                };
                axis.push(if interpolation != Interpolation::Nearest {
                    // The kernel (a triangle, or Keys' cubic with coefficient `a`) at the taps
                    // around `o`, as the onnx reference places them (an integer `o` is the right
                    // end of its interval); under antialias a downsampling axis widens it by
                    // 1/scale. Weights normalized; taps outside the input clamped to its edge,
                    // or with exclude_outside dropped.
                    let (kernel, radius, exclude_outside): (Box<dyn Fn(f64) -> f64>, f64, bool) = match interpolation {
                        Interpolation::Cubic { a, exclude_outside } => (
                            Box::new(move |t: f64| {
                                let t = t.abs();
                                if t <= 1.0 {
                                    ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0
                                } else if t < 2.0 {
                                    ((a * t - 5.0 * a) * t + 8.0 * a) * t - 4.0 * a
                                } else {
                                    0.0
                                }
                            }),
                            2.0,
                            exclude_outside,
                        ),
                        _ => (Box::new(|t: f64| (1.0 - t.abs()).max(0.0)), 1.0, false),
                    };
                    let sigma = if antialias { scale[d].min(1.0) } else { 1.0 };
                    let (lo, r) = if o.fract() == 0.0 { (o - 1.0, 1.0) } else { (o.floor(), o - o.floor()) };
                    let first = (-radius / sigma).floor() as i64 + 1;
                    let mut w: Vec<(f64, f64)> =
                        (first..2 - first).map(|i| (lo + i as f64, kernel(sigma * (i as f64 - r)))).collect();
                    if exclude_outside {
                        w.retain(|&(i, _)| i >= 0.0 && i < s[d] as f64);
                    }
                    let sum: f64 = w.iter().map(|t| t.1).sum();
                    w.into_iter().map(|(i, c)| (clamp(d, i), c / sum)).collect()
                } else {
                    let i = match nearest.as_str() {
                        "round_prefer_floor" if o.fract() == 0.5 => o.floor(),
                        "round_prefer_ceil" if o.fract() == 0.5 => o.ceil(),
                        "round_prefer_floor" | "round_prefer_ceil" => o.round(),
                        "floor" => o.floor(),
                        "ceil" => o.ceil(),
                        m => return Err(self.err(format!("nearest_mode {m:?} is not supported"))),
                    };
                    vec![(clamp(d, i), 1.0)]
                });
            }
            taps.push(axis);
        }
        // Outputs with no taps (outside a crop) get the extrapolation value.
        let extrapolation = self.attr_f("extrapolation_value")?.map_or(0.0, f64::from);
        let os = strides(&out);
        let outside = (0..numel(&out)).filter(|&o| (0..s.len()).any(|d| taps[d][o / os[d] % out[d]].is_empty()));
        let fill: Vec<usize> = if extrapolation != 0.0 { outside.collect() } else { vec![] };
        let resized = if interpolation == Interpolation::Nearest {
            let map = Self::coord_map(&out, &s, |d, x| taps[d][x].first().map(|t| t.0));
            self.moved(&v, &out, &map)
        } else {
            self.interpolated(v, &s, &out, &taps)
        };
        if fill.is_empty() {
            return Ok(resized);
        }
        let mut c = vec![0.0; numel(&out)];
        fill.into_iter().for_each(|o| c[o] = extrapolation);
        self.add_values(resized, Value::Const(FTensor { shape: out, data: c }), false)
    }

    /// Each output of a linear or cubic Resize as its weighted sources: the products of each
    /// axis's taps, the weights of one source summed (clamping makes an edge tap repeat), zero
    /// weights dropped.
    fn interpolated(&mut self, v: Value, s: &[usize], out: &[usize], taps: &[Vec<Vec<(usize, f64)>>]) -> Value {
        let (os, fs) = (strides(out), strides(s));
        let sources: Vec<Vec<(usize, f64)>> = (0..numel(out))
            .map(|o| {
                let mut acc: Vec<(usize, f64)> = vec![(0, 1.0)];
                for d in 0..s.len() {
                    let (x, stride) = (o / os[d] % out[d], fs[d]);
                    acc = acc
                        .iter()
                        .flat_map(|&(i, w)| taps[d][x].iter().map(move |&(j, c)| (i + j * stride, w * c)))
                        .collect();
                }
                let mut merged: std::collections::BTreeMap<usize, f64> = Default::default();
                for (i, w) in acc {
                    *merged.entry(i).or_default() += w;
                }
                merged.into_iter().filter(|&(_, w)| w != 0.0).collect()
            })
            .collect();
        self.linear_map(v, out, &sources)
    }

    /// A QuantizeLinear's or DequantizeLinear's scale and zero point (0 when absent), broadcast
    /// to `shape`: per tensor, or per axis (`axis`, default 1) for 1-D ones.
    fn quant_params(&self, shape: &[usize]) -> Result<(Vec<f64>, Vec<f64>), LowerError> {
        if self.attr_i("block_size")?.unwrap_or(0) != 0 {
            return Err(self.err("attribute block_size (blocked quantization) is not supported"));
        }
        self.quant_params_at(shape, 1, self.attr_i("axis")?.unwrap_or(1))
    }

    /// The scale and zero point at inputs `at` and `at + 1` (0 when absent), broadcast to
    /// `shape`: per tensor, or one per entry of axis `axis_attr` for 1-D ones.
    fn quant_params_at(&self, shape: &[usize], at: usize, axis_attr: i64) -> Result<(Vec<f64>, Vec<f64>), LowerError> {
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
    fn quantize_linear(&mut self) -> Result<Value, LowerError> {
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
            Value::Act { node, .. } => {
                let (s, z) = self.per_tensor(&scale, &zero)?;
                if let Some(out) = self.node.output.first() {
                    self.quantized.insert(out.clone(), (s, z));
                }
                let keep = !self.grown[node];
                Ok(self.materialized(node, Func::Clip { lo: (lo - z) * s, hi: (hi - z) * s }, keep, &shape))
            }
        }
    }

    /// `(q − z)·s` of the integers `q` that input `i`, an activation, holds: a QuantizeLinear's
    /// output (kept in real units, `(q − z_q)·s_q`) or a model input of an integer type.
    fn dequantized(&mut self, v: Value, i: usize, s: f64, z: f64) -> Result<Value, LowerError> {
        let name = &self.node.input[i];
        if let Some(&(sq, zq)) = self.quantized.get(name) {
            if (sq, zq) == (s, z) {
                return Ok(v);
            }
            // (q − z)·s with q = v/s_q + z_q.
            return self.affine(v, s / sq, (zq - z) * s);
        }
        if self.dtypes.get(name).is_some_and(|t| logic::INTEGER_TYPES.contains(t)) {
            return self.affine(v, s, -z * s);
        }
        Err(self.err(format!(
            "reads {name:?} as integers, but neither a QuantizeLinear nor an integer model input produced it"
        )))
    }

    /// The integer range of the zero point at input `i` (its element type; uint8 when absent).
    fn zero_point_range(&self, i: usize) -> Result<(f64, f64), LowerError> {
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
    fn qlinear_matmul(&mut self) -> Result<Value, LowerError> {
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
        let v = self.func_of(p, Func::Clip { lo: (lo - z) * s, hi: (hi - z) * s });
        if let Some(out) = self.node.output.first() {
            self.quantized.insert(out.clone(), (s, z));
        }
        Ok(v)
    }

    /// DequantizeLinear: `(q − z)·s`, exactly on a constant (int8 weights, int32 biases, per axis
    /// or per tensor). On a QuantizeLinear's output (kept in its real units `(q − z_q)·s_q`), the
    /// identity when the parameters are the same, else the affine map between the two.
    fn dequantize_linear(&mut self) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        let shape = v.shape().to_vec();
        let (scale, zero) = self.quant_params(&shape)?;
        match v {
            Value::Const(t) => {
                let data = t.data.iter().enumerate().map(|(i, &q)| (q - zero[i]) * scale[i]).collect();
                Ok(Value::Const(FTensor { shape, data }))
            }
            Value::Act { node, .. } => {
                let (s, z) = self.per_tensor(&scale, &zero)?;
                self.dequantized(Value::Act { node, shape }, 0, s, z)
            }
        }
    }

    /// The one scale and zero point of a per-tensor quantization of an activation.
    fn per_tensor(&self, scale: &[f64], zero: &[f64]) -> Result<(f64, f64), LowerError> {
        let (s, z) = (scale[0], zero[0]);
        if scale.iter().any(|&x| x != s) || zero.iter().any(|&x| x != z) {
            return Err(self.err("per-axis quantization of an activation is not supported (only of constants)"));
        }
        Ok((s, z))
    }

    fn expand(&mut self) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        let target: Vec<usize> = self
            .const_ints(1, "the shape")?
            .ok_or_else(|| self.err("the shape is required"))?
            .iter()
            .map(|&x| x.max(1) as usize)
            .collect();
        let out = self.broadcast_shape(v.shape(), &target)?;
        Ok(match v {
            Value::Const(t) => Value::Const(self.broadcast_const(&t, &out)?),
            v => {
                let id = self.broadcast_to(&v, &out)?;
                Value::Act { node: id, shape: out }
            }
        })
    }

    fn depth_space(&mut self, to_space: bool) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        let s = v.shape().to_vec();
        let b =
            self.attr_i("blocksize")?.filter(|&b| b > 0).ok_or_else(|| self.err("a positive blocksize is required"))?
                as usize;
        if s.len() != 4 {
            return Err(self.err(format!("expects an [N, C, H, W] input; got {s:?}")));
        }
        let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
        let crd = self.attr_s("mode")?.is_some_and(|m| m == "CRD");
        let (out, map): (Vec<usize>, Vec<Option<usize>>) = if to_space {
            if c % (b * b) != 0 {
                return Err(self.err(format!("{c} channels are not a multiple of blocksize² = {}", b * b)));
            }
            let co = c / (b * b);
            let out = vec![n, co, h * b, w * b];
            let mut map = vec![];
            for ni in 0..n {
                for ci in 0..co {
                    for y in 0..h * b {
                        for x in 0..w * b {
                            let (i, j) = (y % b, x % b);
                            let src_c = if crd { ci * b * b + i * b + j } else { (i * b + j) * co + ci };
                            map.push(Some(((ni * c + src_c) * h + y / b) * w + x / b));
                        }
                    }
                }
            }
            (out, map)
        } else {
            if h % b != 0 || w % b != 0 {
                return Err(self.err(format!("spatial size {h}×{w} is not a multiple of blocksize {b}")));
            }
            let (ho, wo) = (h / b, w / b);
            let out = vec![n, c * b * b, ho, wo];
            let mut map = vec![];
            for ni in 0..n {
                for oc in 0..c * b * b {
                    let (blk, ci) = (oc / c, oc % c);
                    let (i, j) = (blk / b, blk % b);
                    for y in 0..ho {
                        for x in 0..wo {
                            map.push(Some(((ni * c + ci) * h + y * b + i) * w + x * b + j));
                        }
                    }
                }
            }
            (out, map)
        };
        Ok(self.moved(&v, &out, &map))
    }

    /// The reduced axes (sorted) and whether they are kept, per ONNX's attributes or inputs.
    fn reduce_axes(&self, rank: usize) -> Result<(Vec<usize>, bool), LowerError> {
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
    fn reduce_groups(s: &[usize], axes: &[usize], keep: bool) -> (Vec<usize>, Vec<Vec<usize>>) {
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

    fn reduce_linear(&mut self, mean: bool) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        let s = v.shape().to_vec();
        let (axes, keep) = self.reduce_axes(s.len())?;
        if axes.is_empty() {
            return Ok(v);
        }
        let (out, groups) = Self::reduce_groups(&s, &axes, keep);
        let sources: Vec<Vec<(usize, f64)>> = groups
            .iter()
            .map(|g| {
                let c = if mean { 1.0 / g.len() as f64 } else { 1.0 };
                g.iter().map(|&i| (i, c)).collect()
            })
            .collect();
        Ok(self.linear_map(v, &out, &sources))
    }

    /// The linear map `out[o] = Σ w·v[i]` over each output's weighted sources `(i, w)`: folded on
    /// a constant, a `Sparse` map on an activation.
    fn linear_map(&mut self, v: Value, out: &[usize], sources: &[Vec<(usize, f64)>]) -> Value {
        match v {
            Value::Const(t) => Value::Const(FTensor {
                shape: out.to_vec(),
                data: sources.iter().map(|src| src.iter().map(|&(i, w)| t.data[i] * w).sum()).collect(),
            }),
            Value::Act { node, shape } => {
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
                Value::Act { node: id, shape: out.to_vec() }
            }
        }
    }

    /// The elementwise max (or min) of same-shaped activations:
    /// `max(a, b) = a + relu(b − a)`, `min(a, b) = a − relu(a − b)`, folded left to right.
    fn max_of(&mut self, parts: Vec<NodeId>, shape: &[usize], min: bool) -> NodeId {
        let sign = if min { -1.0 } else { 1.0 };
        let mut acc = vec![(parts[0], 1.0)];
        for &p in &parts[1..] {
            let mut diff = vec![(p, sign)];
            diff.extend(acc.iter().map(|&(n, c)| (n, -c * sign)));
            let d = self.add(Kind::Lin(diff), shape);
            let keep = !self.grown[d];
            let Value::Act { node: y, .. } = self.materialized(d, Func::Relu, keep, shape) else { unreachable!() };
            acc.push((y, sign));
        }
        if acc.len() == 1 { acc[0].0 } else { self.add(Kind::Lin(acc), shape) }
    }

    fn reduce_max(&mut self, min: bool) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        let s = v.shape().to_vec();
        let (axes, keep) = self.reduce_axes(s.len())?;
        if axes.is_empty() {
            return Ok(v);
        }
        let (out, groups) = Self::reduce_groups(&s, &axes, keep);
        let pick = |g: &Vec<usize>| {
            g.iter()
                .map(|&i| v_data(&v, i))
                .fold(if min { f64::INFINITY } else { f64::NEG_INFINITY }, |a, x| if min { a.min(x) } else { a.max(x) })
        };
        fn v_data(v: &Value, i: usize) -> f64 {
            match v {
                Value::Const(t) => t.data[i],
                Value::Act { .. } => 0.0,
            }
        }
        let Value::Act { node, .. } = v else {
            return Ok(Value::Const(FTensor { shape: out, data: groups.iter().map(pick).collect() }));
        };
        let node = self.factor(node);
        let width = groups.iter().map(|g| g.len()).max().unwrap_or(1);
        let parts: Vec<NodeId> = (0..width)
            .map(|k| {
                self.gather(node, &s, &out, &groups.iter().map(|g| Some(g[k.min(g.len() - 1)])).collect::<Vec<_>>())
            })
            .collect();
        let id = self.max_of(parts, &out, min);
        Ok(Value::Act { node: id, shape: out })
    }

    fn global_max_pool(&mut self) -> Result<Value, LowerError> {
        let Value::Act { node, shape } = self.input(0)? else { return Err(self.err("pooling a constant")) };
        self.spatial(&shape)?;
        let axes: Vec<usize> = (2..shape.len()).collect();
        let (out, groups) = Self::reduce_groups(&shape, &axes, true);
        let node = self.factor(node);
        let width = groups[0].len();
        let parts: Vec<NodeId> = (0..width)
            .map(|k| self.gather(node, &shape, &out, &groups.iter().map(|g| Some(g[k])).collect::<Vec<_>>()))
            .collect();
        let id = self.max_of(parts, &out, false);
        Ok(Value::Act { node: id, shape: out })
    }

    fn neg(&mut self) -> Result<Value, LowerError> {
        Ok(match self.input(0)? {
            Value::Const(mut t) => {
                t.data.iter_mut().for_each(|x| *x = -*x);
                Value::Const(t)
            }
            Value::Act { node, shape } => {
                let id = self.add(Kind::Lin(vec![(node, -1.0)]), &shape);
                Value::Act { node: id, shape }
            }
        })
    }

    fn inputs_broadcast(&mut self) -> Result<(Vec<Value>, Vec<usize>), LowerError> {
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

    fn sum(&mut self) -> Result<Value, LowerError> {
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
        if terms.is_empty() {
            return Ok(Value::Const(FTensor { shape, data: cst }));
        }
        if any_const {
            let c = self.const_node(&FTensor { shape: shape.clone(), data: cst }, &shape)?;
            terms.push((c, 1.0));
        }
        let id = if terms.len() == 1 { terms[0].0 } else { self.add(Kind::Lin(terms), &shape) };
        Ok(Value::Act { node: id, shape })
    }

    fn max_min(&mut self, min: bool) -> Result<Value, LowerError> {
        let (parts, shape) = self.inputs_broadcast()?;
        if parts.iter().all(|p| matches!(p, Value::Const(_))) {
            let mut acc: Option<Vec<f64>> = None;
            for p in &parts {
                let Value::Const(t) = p else { unreachable!() };
                let b = self.broadcast_const(t, &shape)?.data;
                acc = Some(match acc {
                    None => b,
                    Some(a) => a.iter().zip(&b).map(|(x, y)| if min { x.min(*y) } else { x.max(*y) }).collect(),
                });
            }
            return Ok(Value::Const(FTensor { shape, data: acc.unwrap_or_default() }));
        }
        let mut nodes = vec![];
        for p in &parts {
            let n = self.broadcast_to(p, &shape)?;
            nodes.push(n);
        }
        let id = self.max_of(nodes, &shape, min);
        Ok(Value::Act { node: id, shape })
    }

    /// `|x| = 2·relu(x) − x`.
    fn abs(&mut self) -> Result<Value, LowerError> {
        match self.input(0)? {
            Value::Const(mut t) => {
                t.data.iter_mut().for_each(|x| *x = x.abs());
                Ok(Value::Const(t))
            }
            Value::Act { node, shape } => {
                let x = self.factor(node);
                let Value::Act { node: r, .. } = self.materialized(x, Func::Relu, true, &shape) else { unreachable!() };
                let id = self.add(Kind::Lin(vec![(r, 2.0), (x, -1.0)]), &shape);
                Ok(Value::Act { node: id, shape })
            }
        }
    }

    /// PRelu (the slope an input) and LeakyRelu (the slope `alpha`), through `leaky`.
    fn prelu(&mut self, leaky: bool) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        let slope = if leaky {
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
    fn leaky(&mut self, v: Value, slope: &FTensor) -> Result<Value, LowerError> {
        let shape = v.shape().to_vec();
        let slope = self.broadcast_const(slope, &shape)?;
        let Value::Act { node, .. } = v else {
            let Value::Const(t) = v else { unreachable!() };
            let data = t.data.iter().zip(&slope.data).map(|(&x, &a)| if x >= 0.0 { x } else { a * x }).collect();
            return Ok(Value::Const(FTensor { shape, data }));
        };
        let x = self.factor(node);
        let Value::Act { node: r, .. } = self.materialized(x, Func::Relu, true, &shape) else { unreachable!() };
        let neg = self.add(Kind::Lin(vec![(x, 1.0), (r, -1.0)]), &shape);
        let a = self.const_node(&slope, &shape)?;
        let h = self.add(Kind::Hadamard(neg, a), &shape);
        let id = self.add(Kind::Lin(vec![(r, 1.0), (h, 1.0)]), &shape);
        Ok(Value::Act { node: id, shape })
    }
}

/// Non-linear functions by lookup tables, and the ops built from them.
impl Builder<'_> {
    /// `g(x)` elementwise: the input is requantized to its own scale and looked up in a table
    /// of `(t, g(t))` that gives the output its own scale.
    fn apply_table(&mut self, node: NodeId, g: UnaryFn, shape: &[usize]) -> Value {
        self.materialized(node, Func::Table(g), false, shape)
    }

    fn table_op(&mut self, g: UnaryFn) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        Ok(self.func_of(v, Func::Table(g)))
    }

    /// `softmax(x) = e / Σe` with `e = exp(x − max x)` (exp and the reciprocal by lookup, the
    /// max by ReLUs); `log_softmax(x) = (x − max x) − log Σe`.
    fn softmax(&mut self, log: bool) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        let s = v.shape().to_vec();
        let rank = s.len().max(1);
        let axis = self.axis(self.attr_i("axis")?.unwrap_or(if self.opset < 13 { 1 } else { -1 }), rank)?;
        // Before opset 13 the input is coerced to 2-D at `axis`: all later axes are reduced.
        let axes: Vec<usize> = if self.opset < 13 { (axis..s.len()).collect() } else { vec![axis] };
        let (red, groups) = Self::reduce_groups(&s, &axes, true);
        let Value::Act { node, .. } = v else {
            let Value::Const(t) = v else { unreachable!() };
            let mut data = t.data.clone();
            for g in &groups {
                let m = g.iter().map(|&i| t.data[i]).fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = g.iter().map(|&i| libm::exp(t.data[i] - m)).sum();
                for &i in g {
                    data[i] = if log { t.data[i] - m - libm::log(sum) } else { libm::exp(t.data[i] - m) / sum };
                }
            }
            return Ok(Value::Const(FTensor { shape: s, data }));
        };
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
        let m = self.max_of(parts, &red, false);
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
        let Value::Act { node: e, .. } = self.apply_table(d, UnaryFn::Exp, &s) else { unreachable!() };
        let (src_pos, dst_pos) = (padded_positions(&s), padded_positions(&red));
        let entries = groups
            .iter()
            .enumerate()
            .flat_map(|(o, g)| g.iter().map(move |&i| (o, i)))
            .map(|(o, i)| (dst_pos[o] as u32, src_pos[i] as u32, 1.0))
            .collect();
        let sum = self.add(Kind::Sparse { src: e, entries }, &red);
        let g = if log { UnaryFn::Log } else { UnaryFn::Reciprocal };
        let Value::Act { node: t, .. } = self.apply_table(sum, g, &red) else { unreachable!() };
        let tb = self.gather(t, &red, &s, &back);
        let id =
            if log { self.add(Kind::Lin(vec![(d, 1.0), (tb, -1.0)]), &s) } else { self.add(Kind::Hadamard(e, tb), &s) };
        Ok(Value::Act { node: id, shape: s })
    }
}

impl Builder<'_> {
    /// `(x − mean)·(var + ε)^(−1/2)·scale + bias` over the normalized axes: the means are data
    /// movements, the square an elementwise product, `t^(−1/2)` a lookup.
    fn normalization(&mut self, layer: bool) -> Result<Value, LowerError> {
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
        let Value::Act { node: rs, .. } = self.apply_table(ve, UnaryFn::Pow { p: -0.5 }, &red) else { unreachable!() };
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
