//! ONNX import: tract-onnx parses the protobuf; we keep the nodes, constants and the input and
//! output declarations, and tract also runs the float reference the quantized outputs are
//! compared against.

#![warn(missing_docs)]

use std::collections::HashMap;
use std::path::Path;

use tract_onnx::pb::{self, NodeProto};
use tract_onnx::prelude::*;

/// Why an ONNX model cannot be imported or run.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    /// The file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The protobuf does not parse as a model.
    #[error("{path} is not a valid ONNX model: {reason}")]
    Malformed {
        /// The file.
        path: String,
        /// The parser's reason.
        reason: String,
    },
    /// A model without an input (the count it declares).
    #[error("the model has no input tensor")]
    Inputs(usize),
    /// A model without an output (the count it declares).
    #[error("the model has no output tensor")]
    Outputs(usize),
    /// An initializer or Constant that tract cannot load as numbers.
    #[error("constant {name:?} cannot be read: {reason}")]
    Constant {
        /// Its name.
        name: String,
        /// tract's reason.
        reason: String,
    },
    /// tract could not run the float model (its reason).
    #[error("the float reference (tract) failed: {0}")]
    Reference(String),
}

/// A float tensor with its logical shape.
#[derive(Clone, Debug, PartialEq)]
pub struct FTensor {
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its values, row-major.
    pub data: Vec<f64>,
}

impl FTensor {
    /// A scalar (shape `[]`).
    pub fn scalar(v: f64) -> Self {
        FTensor { shape: vec![], data: vec![v] }
    }
}

/// What lowering reads of an ONNX model.
pub struct OnnxModel {
    /// The graph's nodes, in order.
    pub nodes: Vec<NodeProto>,
    /// Initializers and Constant nodes' values, by name.
    pub constants: HashMap<String, FTensor>,
    /// Each constant's and input's ONNX element type (`TensorProto.data_type`): a
    /// QuantizeLinear's range is its zero point's type, and a boolean input must be made 0/1,
    /// which the f64 values do not say.
    pub dtypes: HashMap<String, i32>,
    /// The model's input tensors (name, shape) in declaration order. Several inputs are proved
    /// as one flat input: their values concatenated in this order.
    pub inputs: Vec<(String, Vec<usize>)>,
    /// The one input's name, or the names joined by `+`.
    pub input_name: String,
    /// The one input's shape, or `[total]` for several inputs.
    pub input_shape: Vec<usize>,
    /// The one output's name, or the names joined by `+`.
    pub output_name: String,
    /// Every output's name: several outputs are proved as one flat output, concatenated.
    pub outputs: Vec<String>,
    /// The default domain's opset version (attribute forms and defaults differ across opsets).
    pub opset: i64,
}

/// Reads an ONNX file.
pub fn load(path: &Path) -> Result<OnnxModel, OnnxError> {
    let p = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| OnnxError::Read { path: p.clone(), reason: e.to_string() })?;
    let proto = tract_onnx::onnx()
        .proto_model_for_read(&mut bytes.as_slice())
        .map_err(|e| OnnxError::Malformed { path: p.clone(), reason: format!("{e:#}") })?;
    let opset =
        proto.opset_import.iter().find(|o| o.domain.is_empty() || o.domain == "ai.onnx").map_or(13, |o| o.version);
    let graph =
        proto.graph.ok_or_else(|| OnnxError::Malformed { path: p.clone(), reason: "it has no graph".into() })?;
    if graph.node.is_empty() {
        return Err(OnnxError::Malformed { path: p, reason: "its graph has no nodes".into() });
    }
    let mut constants = HashMap::new();
    let mut dtypes = HashMap::new();
    for init in &graph.initializer {
        constants.insert(init.name.clone(), tensor_from_proto(init, &init.name)?);
        dtypes.insert(init.name.clone(), init.data_type);
    }
    let inputs: Vec<&pb::ValueInfoProto> = graph.input.iter().filter(|i| !constants.contains_key(&i.name)).collect();
    if inputs.is_empty() {
        return Err(OnnxError::Inputs(0));
    }
    if graph.output.is_empty() {
        return Err(OnnxError::Outputs(0));
    }
    for i in &inputs {
        if let Some(pb::type_proto::Value::TensorType(t)) = i.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            dtypes.insert(i.name.clone(), t.elem_type);
        }
    }
    let inputs: Vec<(String, Vec<usize>)> = inputs.iter().map(|i| (i.name.clone(), value_info_shape(i))).collect();
    let outputs: Vec<String> = graph.output.iter().map(|o| o.name.clone()).collect();
    let output_name = outputs.join("+");
    let (input_name, input_shape) = if inputs.len() == 1 {
        inputs[0].clone()
    } else {
        let names: Vec<&str> = inputs.iter().map(|i| i.0.as_str()).collect();
        (names.join("+"), vec![inputs.iter().map(|i| i.1.iter().product::<usize>()).sum()])
    };
    Ok(OnnxModel {
        nodes: graph.node.clone(),
        constants,
        dtypes,
        inputs,
        input_name,
        input_shape,
        output_name,
        outputs,
        opset,
    })
}

/// A symbolic dimension (a batch size `N`) is taken as 1: one inference per proof.
fn value_info_shape(v: &pb::ValueInfoProto) -> Vec<usize> {
    use pb::tensor_shape_proto::dimension::Value as D;
    use pb::type_proto::Value as T;
    match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(T::TensorType(t)) => t
            .shape
            .as_ref()
            .map(|s| {
                s.dim
                    .iter()
                    .map(|d| match d.value {
                        Some(D::DimValue(n)) if n > 0 => n as usize,
                        _ => 1,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        _ => vec![],
    }
}

/// A tensor proto's values as floats (external data included), `name` for the error.
pub fn tensor_from_proto(t: &pb::TensorProto, name: &str) -> Result<FTensor, OnnxError> {
    let err = |e: TractError| OnnxError::Constant { name: name.to_string(), reason: format!("{e:#}") };
    let tensor = tract_onnx::tensor::load_tensor(&tract_onnx::data_resolver::MmapDataResolver, t, None).map_err(err)?;
    let shape = tensor.shape().to_vec();
    let f = tensor.cast_to::<f64>().map_err(err)?;
    let data = f.to_plain_array_view::<f64>().map_err(err)?.iter().copied().collect();
    Ok(FTensor { shape, data })
}

/// Runs the float model with tract: the reference our quantized outputs are measured against.
pub struct Reference {
    plan: std::sync::Arc<TypedRunnableModel>,
    shapes: Vec<Vec<usize>>,
}

impl Reference {
    /// `input_shape` is the compiled model's input shape: the one input's, or `[total]` when
    /// the model has several inputs (their declared shapes are then read from the model).
    pub fn load(path: &Path, input_shape: &[usize]) -> Result<Self, OnnxError> {
        let err = |e: TractError| OnnxError::Reference(format!("{e:#}"));
        let declared = load(path)?.inputs;
        let shapes: Vec<Vec<usize>> =
            if declared.len() == 1 { vec![input_shape.to_vec()] } else { declared.into_iter().map(|i| i.1).collect() };
        let mut model = tract_onnx::onnx().model_for_path(path).map_err(err)?;
        for (i, s) in shapes.iter().enumerate() {
            model = model.with_input_fact(i, f32::fact(s).into()).map_err(err)?;
        }
        let plan = model.into_optimized().and_then(|m| m.into_runnable()).map_err(err)?;
        Ok(Reference { plan, shapes })
    }

    /// The float model's output (all outputs flattened, concatenated) on a flat input.
    pub fn run(&self, input: &[f64]) -> Result<Vec<f64>, OnnxError> {
        let err = |e: TractError| OnnxError::Reference(format!("{e:#}"));
        let total: usize = self.shapes.iter().map(|s| s.iter().product::<usize>()).sum();
        if input.len() != total {
            return Err(OnnxError::Reference(format!("the input has {} values; the model takes {total}", input.len())));
        }
        let mut at = 0;
        let mut tensors = tvec!();
        for s in &self.shapes {
            let n: usize = s.iter().product();
            let data: Vec<f32> = input[at..at + n].iter().map(|&x| x as f32).collect();
            at += n;
            tensors.push(Tensor::from_shape(s, &data).map_err(err)?.into());
        }
        let out = self.plan.run(tensors).map_err(err)?;
        // Several outputs: concatenated, as the compiled model proves them.
        let mut all = vec![];
        for o in out.iter() {
            let o = o.cast_to::<f64>().map_err(err)?;
            all.extend(o.to_plain_array_view::<f64>().map_err(err)?.iter().copied());
        }
        Ok(all)
    }
}
