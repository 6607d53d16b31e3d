//! Lowering: ONNX nodes → the float program. Every op becomes linear nodes (matmuls, sparse
//! data-movement maps, sums, elementwise products) plus materializations: the points where a
//! value becomes advice, is requantized and goes through a lookup (ReLU, Clip, max).

#![warn(missing_docs)]

use std::collections::{HashMap, HashSet};

use tract_onnx::pb::NodeProto;

use crate::ir::{
    FloatProgram, Func, Kind, Materialize, Node, NodeId, SegId, Step, eval_node, log_len, padded_positions,
};
use crate::lookup::UnaryFn;
use crate::onnx::{FTensor, OnnxModel};

mod attrs;
mod conv;
mod elementwise;
mod linear;
mod logic;
mod movement;
mod norm;
mod piecewise;
mod quant;
mod recurrent;
mod reduce;
mod registry;
mod resize;
mod table;

pub use registry::supported;

/// Why a model could not be lowered; each names the node and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum LowerError {
    /// An operator zkml does not lower (the supported ones are listed).
    #[error("unsupported operator {op} (node {node:?}); supported: {}", supported().collect::<Vec<_>>().join(", "))]
    Unsupported {
        /// The operator.
        op: String,
        /// The node's name.
        node: String,
    },
    /// A supported operator with attributes or operands it cannot take.
    #[error("node {node:?} ({op}): {reason}")]
    Invalid {
        /// The operator.
        op: String,
        /// The node's name.
        node: String,
        /// What is wrong.
        reason: String,
    },
    /// A node reads a tensor nothing produced.
    #[error("node {node:?} reads tensor {tensor:?}, which no earlier node produces")]
    MissingInput {
        /// The node's name.
        node: String,
        /// The tensor.
        tensor: String,
    },
    /// The graph's output is never produced (its name).
    #[error("the model output {0:?} is never produced")]
    MissingOutput(String),
    /// The output does not depend on the input.
    #[error("the model output is a constant: there is nothing to prove")]
    ConstantOutput,
}

/// A constant at or below this, added to scores or selected in their place, is an attention
/// mask: the Softmax that reads them leaves its positions out (`Builder::masked_scores`).
const MASK: f64 = -1.0e4;

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
    /// Constant nodes that folding may have left unread (the operands of a folded node, a
    /// folded output taken as a constant): `prune_folded` drops those nothing reads.
    folded: Vec<NodeId>,
    /// Why a function of a constant could not be folded (it is not finite there): the node's
    /// error, once it is lowered.
    unfoldable: Option<String>,
    node: &'a NodeProto,
    opset: i64,
}

/// Lowers `model`'s nodes in order into a float program (a model without an input shape takes
/// one value); calibration then runs the program to fix the quantization scales.
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
        folded: vec![],
        unfoldable: None,
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
        if registry::lowering(&n.op_type).is_none() || !(n.domain.is_empty() || n.domain == "ai.onnx") {
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
    prune_folded(&mut b.p, &b.folded);
    Ok(b.p)
}

/// Drops the nodes of `candidates` that are constants nothing reads, renumbering the rest.
fn prune_folded(p: &mut FloatProgram, candidates: &[NodeId]) {
    let mut read = vec![false; p.nodes.len()];
    for n in &p.nodes {
        n.kind.inputs().into_iter().for_each(|i| read[i] = true);
    }
    p.materials.iter().for_each(|m| read[m.z] = true);
    let mut dropped = vec![false; p.nodes.len()];
    for &i in candidates {
        dropped[i] = !read[i] && matches!(p.nodes[i].kind, Kind::Const(_));
    }
    if !dropped.contains(&true) {
        return;
    }
    let mut renumbered = vec![0; p.nodes.len()];
    let mut next = 0;
    for (i, &d) in dropped.iter().enumerate() {
        renumbered[i] = next;
        next += usize::from(!d);
    }
    let nodes = std::mem::take(&mut p.nodes);
    p.nodes = nodes
        .into_iter()
        .zip(&dropped)
        .filter(|(_, d)| !**d)
        .map(|(mut n, _)| {
            n.kind.inputs_mut().into_iter().for_each(|i| *i = renumbered[*i]);
            n
        })
        .collect();
    p.materials.iter_mut().for_each(|m| m.z = renumbered[m.z]);
    p.steps.retain_mut(|s| match s {
        Step::Eval(id) if dropped[*id] => false,
        Step::Eval(id) => {
            *id = renumbered[*id];
            true
        }
        Step::Materialize(_) => true,
    });
}

fn node_name(n: &NodeProto) -> String {
    if n.name.is_empty() { format!("{}({})", n.op_type, n.output.join(",")) } else { n.name.clone() }
}

impl Builder<'_> {
    fn err(&self, reason: impl Into<String>) -> LowerError {
        LowerError::Invalid { op: self.node.op_type.clone(), node: node_name(self.node), reason: reason.into() }
    }

    fn push(&mut self, kind: Kind<f64>, shape: &[usize], origin: String) -> NodeId {
        let kind = self.folded_kind(kind, shape);
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

    /// A node that reads constants only is a constant, evaluated here by `eval_node`, the engine
    /// calibration runs: a constant subexpression is computed by the same code as an
    /// activation's, not by a second copy of each op in floats. (Its operands, read by nothing
    /// else, are dropped at the end.)
    fn folded_kind(&mut self, kind: Kind<f64>, shape: &[usize]) -> Kind<f64> {
        let inputs = kind.inputs();
        let constant = |i: &NodeId| matches!(self.p.nodes[*i].kind, Kind::Const(_));
        if inputs.is_empty() || !inputs.iter().all(constant) {
            return kind;
        }
        let mut values = vec![vec![]; self.p.nodes.len()];
        for &i in &inputs {
            if let Kind::Const(v) = &self.p.nodes[i].kind {
                values[i] = v.clone();
            }
        }
        let node = Node { kind, log_len: log_len(shape), origin: String::new() };
        match eval_node(&node, &values, &[]) {
            Ok(v) => {
                self.folded.extend(inputs);
                Kind::Const(v)
            }
            Err(_) => node.kind,
        }
    }

    /// `f` of constant node `z`, by `Func::apply` as calibration's run applies it, on the
    /// logical positions (the padding stays zero); none for an activation. Where `f` is not
    /// finite the node is refused (`unfoldable`).
    fn folded_func(&mut self, z: NodeId, f: &Func) -> Option<Vec<f64>> {
        let Kind::Const(v) = &self.p.nodes[z].kind else { return None };
        let mut out = vec![0.0; v.len()];
        for p in padded_positions(&self.shapes[z]) {
            out[p] = f.apply(v[p]);
            if !out[p].is_finite() {
                self.unfoldable = Some(format!("{f:?} of a constant is {} at {}", out[p], v[p]));
            }
        }
        Some(out)
    }

    /// `v`, a constant when its node folded to one (in logical order).
    fn folded_value(&mut self, v: Value) -> Value {
        match v {
            Value::Act { node, shape } => match &self.p.nodes[node].kind {
                Kind::Const(d) => {
                    let data = padded_positions(&shape).into_iter().map(|p| d[p]).collect();
                    self.folded.push(node);
                    Value::Const(FTensor { shape, data })
                }
                _ => Value::Act { node, shape },
            },
            c => c,
        }
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

    fn materialized(&mut self, z: NodeId, func: Func, keep_scale: bool) -> NodeId {
        let origin = self.node.output.first().cloned().unwrap_or_else(|| node_name(self.node));
        if let Some(v) = self.folded_func(z, &func) {
            self.folded.push(z);
            let shape = self.shapes[z].clone();
            return self.push(Kind::Const(v), &shape, origin);
        }
        self.materialize(z, func, keep_scale, &origin);
        self.p.nodes.len() - 1
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

    /// `v` as a node: a constant becomes a constant node.
    fn node_of(&mut self, v: Value) -> Result<(NodeId, Vec<usize>), LowerError> {
        match v {
            Value::Const(t) => Ok((self.const_node(&t, &t.shape)?, t.shape)),
            Value::Act { node, shape } => Ok((node, shape)),
        }
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

    /// The node's outputs; those that folded to constants are constants, as the model's own.
    fn lower_node(&mut self) -> Result<Vec<Value>, LowerError> {
        let Some(lowering) = registry::lowering(&self.node.op_type) else {
            return Err(LowerError::Unsupported { op: self.node.op_type.clone(), node: node_name(self.node) });
        };
        let outs = lowering(self)?;
        if let Some(why) = self.unfoldable.take() {
            return Err(self.err(why));
        }
        Ok(outs.into_iter().map(|v| self.folded_value(v)).collect())
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
}
