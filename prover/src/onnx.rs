//! ONNX import: tract-onnx parses the protobuf; we keep the nodes, constants and the input and
//! output declarations, and tract also runs the float reference the quantized outputs are
//! compared against.

use std::collections::HashMap;
use std::path::Path;

use tract_onnx::pb::{self, NodeProto};
use tract_onnx::prelude::*;

#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} is not a valid ONNX model: {reason}")]
    Malformed { path: String, reason: String },
    #[error("the model must have exactly one input tensor; it has {0}")]
    Inputs(usize),
    #[error("the model must have exactly one output tensor; it has {0}")]
    Outputs(usize),
    #[error("constant {name:?} cannot be read: {reason}")]
    Constant { name: String, reason: String },
    #[error("the float reference (tract) failed: {0}")]
    Reference(String),
}

/// A float tensor with its logical shape.
#[derive(Clone, Debug, PartialEq)]
pub struct FTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

impl FTensor {
    pub fn scalar(v: f64) -> Self {
        FTensor { shape: vec![], data: vec![v] }
    }
}

pub struct OnnxModel {
    pub nodes: Vec<NodeProto>,
    pub constants: HashMap<String, FTensor>,
    pub input_name: String,
    pub input_shape: Vec<usize>,
    pub output_name: String,
}

pub fn load(path: &Path) -> Result<OnnxModel, OnnxError> {
    let p = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| OnnxError::Read { path: p.clone(), reason: e.to_string() })?;
    let proto = tract_onnx::onnx()
        .proto_model_for_read(&mut bytes.as_slice())
        .map_err(|e| OnnxError::Malformed { path: p.clone(), reason: format!("{e:#}") })?;
    let graph = proto
        .graph
        .ok_or_else(|| OnnxError::Malformed { path: p.clone(), reason: "it has no graph".into() })?;
    if graph.node.is_empty() {
        return Err(OnnxError::Malformed { path: p, reason: "its graph has no nodes".into() });
    }
    let mut constants = HashMap::new();
    for init in &graph.initializer {
        constants.insert(init.name.clone(), tensor_from_proto(init, &init.name)?);
    }
    let inputs: Vec<&pb::ValueInfoProto> =
        graph.input.iter().filter(|i| !constants.contains_key(&i.name)).collect();
    if inputs.len() != 1 {
        return Err(OnnxError::Inputs(inputs.len()));
    }
    if graph.output.len() != 1 {
        return Err(OnnxError::Outputs(graph.output.len()));
    }
    let input_shape = value_info_shape(inputs[0]);
    Ok(OnnxModel {
        nodes: graph.node.clone(),
        constants,
        input_name: inputs[0].name.clone(),
        input_shape,
        output_name: graph.output[0].name.clone(),
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

pub fn tensor_from_proto(t: &pb::TensorProto, name: &str) -> Result<FTensor, OnnxError> {
    let err = |e: TractError| OnnxError::Constant { name: name.to_string(), reason: format!("{e:#}") };
    let tensor = tract_onnx::tensor::load_tensor(&tract_onnx::data_resolver::MmapDataResolver, t, None)
        .map_err(err)?;
    let shape = tensor.shape().to_vec();
    let f = tensor.cast_to::<f64>().map_err(err)?;
    let data = f.to_plain_array_view::<f64>().map_err(err)?.iter().copied().collect();
    Ok(FTensor { shape, data })
}

/// Runs the float model with tract: the reference our quantized outputs are measured against.
pub struct Reference {
    plan: std::sync::Arc<TypedRunnableModel>,
    shape: Vec<usize>,
}

impl Reference {
    pub fn load(path: &Path, input_shape: &[usize]) -> Result<Self, OnnxError> {
        let err = |e: TractError| OnnxError::Reference(format!("{e:#}"));
        let model = tract_onnx::onnx()
            .model_for_path(path)
            .and_then(|m| m.with_input_fact(0, f32::fact(input_shape).into()))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(err)?;
        Ok(Reference { plan: model, shape: input_shape.to_vec() })
    }

    pub fn run(&self, input: &[f64]) -> Result<Vec<f64>, OnnxError> {
        let err = |e: TractError| OnnxError::Reference(format!("{e:#}"));
        let data: Vec<f32> = input.iter().map(|&x| x as f32).collect();
        let t = Tensor::from_shape(&self.shape, &data).map_err(err)?;
        let out = self.plan.run(tvec!(t.into())).map_err(err)?;
        let o = out[0].cast_to::<f64>().map_err(err)?;
        Ok(o.to_plain_array_view::<f64>().map_err(err)?.iter().copied().collect())
    }
}
