//! Each supported operator, with ONNX's defaults and with explicit attributes, in small models
//! built here: compiled, proved, verified, and compared with onnxruntime's float output (a
//! pinned onnxruntime in Python, `script/onnxruntime-reference.py`, one process per test binary).

use prost::Message;
use tract_onnx::pb::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto, attribute_proto::AttributeType, tensor_shape_proto, type_proto,
};
use zkml::pipeline;
use zkml::quantize::QuantConfig;

use crate::common::{onnxruntime, proved_output, relative_error};

pub(crate) struct Rng(pub(crate) u64);
impl Rng {
    pub(crate) fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0
    }
    pub(crate) fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.next() * scale).collect()
    }
}

pub(crate) fn tensor(name: &str, dims: &[i64], data: Vec<f32>) -> TensorProto {
    TensorProto { name: name.into(), dims: dims.to_vec(), data_type: 1, float_data: data, ..Default::default() }
}

pub(crate) fn ints_tensor(name: &str, data: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: vec![data.len() as i64],
        data_type: 7,
        int64_data: data.to_vec(),
        ..Default::default()
    }
}

fn bools_tensor(name: &str, dims: &[i64], data: &[bool]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 9,
        int32_data: data.iter().map(|&b| i32::from(b)).collect(),
        ..Default::default()
    }
}

pub(crate) fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Ints as i32, ints: v.to_vec(), ..Default::default() }
}

pub(crate) fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Int as i32, i: v, ..Default::default() }
}

pub(crate) fn float(name: &str, v: f32) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Float as i32, f: v, ..Default::default() }
}

pub(crate) fn node(op: &str, inputs: &[&str], output: &str, attrs: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        name: format!("{op}_{output}"),
        op_type: op.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        attribute: attrs,
        ..Default::default()
    }
}

pub(crate) fn value_info(name: &str, shape: &[i64]) -> ValueInfoProto {
    let dim = shape
        .iter()
        .map(|&d| tensor_shape_proto::Dimension {
            value: Some(tensor_shape_proto::dimension::Value::DimValue(d)),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: 1,
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn model(nodes: Vec<NodeProto>, inits: Vec<TensorProto>, input: &[i64], output: &str) -> Vec<u8> {
    model_v(nodes, inits, input, output, 13)
}

pub(crate) fn model_v(
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    input: &[i64],
    output: &str,
    opset: i64,
) -> Vec<u8> {
    model_outputs(nodes, inits, input, &[output], opset)
}

/// A model with several outputs (proved as one, concatenated in this order).
pub(crate) fn model_outputs(
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    input: &[i64],
    outputs: &[&str],
    opset: i64,
) -> Vec<u8> {
    let graph = GraphProto {
        node: nodes,
        name: "test".into(),
        initializer: inits,
        input: vec![value_info("input", input)],
        output: outputs.iter().map(|&o| ValueInfoProto { name: o.into(), ..Default::default() }).collect(),
        ..Default::default()
    };
    let m = ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: opset }],
        graph: Some(graph),
        ..Default::default()
    };
    m.encode_to_vec()
}

/// Compiles, proves, verifies; returns the largest error against onnxruntime's float output for
/// the same input, relative to its range.
pub(crate) fn prove_and_compare(bytes: Vec<u8>, input_len: usize, seed: u64) -> f64 {
    prove_against(bytes, input_len, seed, &[&onnxruntime])
}

/// A float output to compare a proved one with: of the model at this path, for this input.
pub(crate) type Reference<'a> = &'a dyn Fn(&std::path::Path, &[f64]) -> Vec<f64>;

/// Compiles, proves, verifies; returns the largest error against any of `references` (onnxruntime,
/// onnxruntime on an equivalent model, the operator's equations) for the same input, relative to
/// its range.
pub(crate) fn prove_against(bytes: Vec<u8>, input_len: usize, seed: u64, references: &[Reference]) -> f64 {
    let p = proved(bytes, input_len, seed);
    references.iter().map(|r| relative_error(&p.output, &r(&p.model, &p.input), 1e-3)).fold(0.0, f64::max)
}

/// A test model compiled (calibrated on four random inputs), proved on the first and verified.
struct Proved {
    _tmp: tempfile::TempDir,
    model: std::path::PathBuf,
    input: Vec<f64>,
    /// The verified proof's output, dequantized.
    output: Vec<f64>,
}

fn proved(bytes: Vec<u8>, input_len: usize, seed: u64) -> Proved {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("m.onnx");
    std::fs::write(&model, bytes).unwrap();
    let mut rng = Rng(seed);
    let mut samples: Vec<Vec<f64>> =
        (0..4).map(|_| rng.vec(input_len, 1.0).into_iter().map(f64::from).collect()).collect();
    let compiled = pipeline::compile(&model, &samples, QuantConfig::default(), &tmp.path().join("dir")).unwrap();
    let output = proved_output(&compiled, &samples[0]);
    Proved { _tmp: tmp, model, input: samples.swap_remove(0), output }
}

/// Compiles a model that must be refused (calibrated on one input of 0.5s); returns the error.
pub(crate) fn compile_error(bytes: Vec<u8>, input_len: usize) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("m.onnx");
    std::fs::write(&path, bytes).unwrap();
    let err = pipeline::compile(&path, &[vec![0.5; input_len]], QuantConfig::default(), &tmp.path().join("d"));
    format!("{:#}", err.err().expect("the model is refused"))
}

#[test]
fn conv_with_default_attributes_relu_maxpool_gemm() {
    let mut r = Rng(1);
    let nodes = vec![
        node("Conv", &["input", "w", "b"], "c", vec![]),
        node("Relu", &["c"], "r", vec![]),
        node("MaxPool", &["r"], "p", vec![ints("kernel_shape", &[2, 2])]),
        node("Flatten", &["p"], "f", vec![]),
        node("Gemm", &["f", "fw", "fb"], "out", vec![int("transB", 1)]),
    ];
    let inits = vec![
        tensor("w", &[4, 2, 3, 3], r.vec(72, 0.4)),
        tensor("b", &[4], r.vec(4, 0.1)),
        tensor("fw", &[5, 100], r.vec(500, 0.15)),
        tensor("fb", &[5], r.vec(5, 0.1)),
    ];
    let err = prove_and_compare(model(nodes, inits, &[1, 2, 8, 8], "out"), 128, 11);
    assert!(err < 0.02, "relative error {err}");
}

#[test]
fn conv_strides_pads_dilations_batchnorm_pools() {
    let mut r = Rng(2);
    let nodes = vec![
        node(
            "Conv",
            &["input", "w"],
            "c",
            vec![ints("strides", &[2, 1]), ints("pads", &[1, 2, 1, 0]), ints("dilations", &[1, 2])],
        ),
        node("BatchNormalization", &["c", "g", "bb", "m", "v"], "bn", vec![float("epsilon", 1e-3)]),
        node(
            "AveragePool",
            &["bn"],
            "ap",
            vec![ints("kernel_shape", &[3, 3]), ints("pads", &[1, 1, 1, 1]), ints("strides", &[2, 2])],
        ),
        node("Relu", &["ap"], "r", vec![]),
        node(
            "MaxPool",
            &["r"],
            "mp",
            vec![ints("kernel_shape", &[2, 2]), ints("pads", &[0, 0, 1, 1]), ints("strides", &[1, 1])],
        ),
        node("GlobalAveragePool", &["mp"], "out", vec![]),
    ];
    let inits = vec![
        tensor("w", &[3, 1, 3, 3], r.vec(27, 0.5)),
        tensor("g", &[3], vec![1.0, 0.5, 2.0]),
        tensor("bb", &[3], vec![0.1, -0.2, 0.3]),
        tensor("m", &[3], vec![0.05, -0.1, 0.0]),
        tensor("v", &[3], vec![0.5, 1.5, 0.8]),
    ];
    let err = prove_and_compare(model(nodes, inits, &[1, 1, 9, 10], "out"), 90, 12);
    assert!(err < 0.02, "relative error {err}");
}

#[test]
fn conv_auto_pad_same_and_one_dimensional() {
    let mut r = Rng(3);
    let nodes = vec![
        node(
            "Conv",
            &["input", "w", "b"],
            "c",
            vec![
                AttributeProto {
                    name: "auto_pad".into(),
                    r#type: AttributeType::String as i32,
                    s: b"SAME_UPPER".to_vec(),
                    ..Default::default()
                },
                ints("strides", &[2]),
            ],
        ),
        node("Relu", &["c"], "out", vec![]),
    ];
    let inits = vec![tensor("w", &[2, 3, 4], r.vec(24, 0.5)), tensor("b", &[2], r.vec(2, 0.1))];
    let err = prove_and_compare(model(nodes, inits, &[1, 3, 11], "out"), 33, 13);
    assert!(err < 0.02, "relative error {err}");
}

#[test]
fn matmul_arithmetic_and_clip() {
    let mut r = Rng(4);
    let nodes = vec![
        node("MatMul", &["input", "w"], "mm", vec![]),
        node("Add", &["mm", "b"], "a", vec![]),
        node("Mul", &["a", "k"], "m", vec![]),
        node("Clip", &["m", "lo", "hi"], "cl", vec![]),
        node("Sub", &["cl", "a"], "s", vec![]),
        node("Mul", &["s", "cl"], "sq", vec![]),
        node("Div", &["sq", "two"], "out", vec![]),
    ];
    let inits = vec![
        tensor("w", &[6, 5], r.vec(30, 0.6)),
        tensor("b", &[5], r.vec(5, 0.2)),
        tensor("k", &[], vec![1.5]),
        tensor("lo", &[], vec![-0.5]),
        tensor("hi", &[], vec![0.75]),
        tensor("two", &[], vec![2.0]),
    ];
    let err = prove_and_compare(model(nodes, inits, &[1, 6], "out"), 6, 14);
    assert!(err < 0.02, "relative error {err}");
}

#[test]
fn shape_ops_transpose_concat() {
    let mut r = Rng(5);
    let nodes = vec![
        node("Reshape", &["input", "shape"], "rs", vec![]),
        node("Transpose", &["rs"], "t", vec![ints("perm", &[0, 2, 1])]),
        node("Unsqueeze", &["t", "ax0"], "u", vec![]),
        node("Squeeze", &["u", "ax0"], "sq", vec![]),
        node("Identity", &["sq"], "id", vec![]),
        node("Concat", &["id", "cst"], "cat", vec![int("axis", 1)]),
        node("Flatten", &["cat"], "fl", vec![int("axis", 1)]),
        node("Gemm", &["fl", "w"], "g", vec![]),
        node("Relu", &["g"], "out", vec![]),
    ];
    let inits = vec![
        ints_tensor("shape", &[1, 3, 4]),
        ints_tensor("ax0", &[0]),
        tensor("cst", &[1, 2, 3], r.vec(6, 1.0)),
        tensor("w", &[18, 4], r.vec(72, 0.4)),
    ];
    let err = prove_and_compare(model(nodes, inits, &[1, 12], "out"), 12, 15);
    assert!(err < 0.02, "relative error {err}");
}

#[test]
fn unsupported_operator_is_named_before_any_work() {
    let nodes = vec![node("Relu", &["input"], "r", vec![]), node("Hardmax", &["r"], "out", vec![])];
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("m.onnx");
    std::fs::write(&path, model(nodes, vec![], &[1, 4], "out")).unwrap();
    let err = pipeline::compile(&path, &[vec![0.0; 4]], QuantConfig::default(), &tmp.path().join("d")).err().unwrap();
    let msg = format!("{err:#}");
    assert!(msg.contains("unsupported operator Hardmax") && msg.contains("Hardmax_out"), "{msg}");
    assert!(!tmp.path().join("d").exists(), "nothing is written for an unsupported model");
    // And through the binary: exit code 1, the same message.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zkml"))
        .args(["compile", path.to_str().unwrap(), "--calibrate", "/dev/null", "--out", "/tmp/never"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn out_of_range_values_get_a_clear_error() {
    let mut r = Rng(6);
    let nodes = vec![node("Gemm", &["input", "w"], "g", vec![]), node("Relu", &["g"], "out", vec![])];
    let inits = vec![tensor("w", &[4, 3], r.vec(12, 1.0))];
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("m.onnx");
    std::fs::write(&path, model(nodes, inits, &[1, 4], "out")).unwrap();
    let c =
        pipeline::compile(&path, &[vec![0.1, -0.1, 0.05, 0.0]], QuantConfig::default(), &tmp.path().join("d")).unwrap();
    let err = pipeline::prove(&c, &[3.0, -3.0, 3.0, 3.0]).err().unwrap();
    let msg = format!("{err:#}");
    assert!(msg.contains("quantized range (--lookup-bits) allows") && msg.contains("Gemm_g"), "{msg}");
}

pub(crate) fn string(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::String as i32,
        s: v.as_bytes().to_vec(),
        ..Default::default()
    }
}

#[test]
fn grouped_batched_and_transposed_convolutions() {
    let mut r = Rng(7);
    let nodes = vec![
        // Depthwise with a multiplier (group = C = 4, 8 outputs), batch of 2.
        node("Conv", &["input", "dw", "db"], "c1", vec![int("group", 4), ints("pads", &[1, 1, 1, 1])]),
        node("Relu", &["c1"], "r1", vec![]),
        node("Conv", &["r1", "gw"], "c2", vec![int("group", 2), ints("strides", &[2, 2])]),
        node(
            "ConvTranspose",
            &["c2", "tw", "tb"],
            "out",
            vec![ints("strides", &[2, 2]), ints("pads", &[1, 0, 0, 1]), ints("output_padding", &[1, 0])],
        ),
    ];
    let inits = vec![
        tensor("dw", &[8, 1, 3, 3], r.vec(72, 0.5)),
        tensor("db", &[8], r.vec(8, 0.1)),
        tensor("gw", &[6, 4, 2, 2], r.vec(96, 0.4)),
        tensor("tw", &[6, 2, 3, 2], r.vec(72, 0.4)),
        tensor("tb", &[2], r.vec(2, 0.1)),
    ];
    let err = prove_and_compare(model(nodes, inits, &[2, 4, 6, 5], "out"), 240, 21);
    assert!(err < 0.02, "relative error {err}");
}

#[test]
fn data_movement_ops() {
    let nodes = vec![
        node("Pad", &["input", "pads"], "p1", vec![string("mode", "reflect")]),
        node("Pad", &["p1", "pads2", "pv"], "p2", vec![]),
        node("Pad", &["p2", "pads"], "p3", vec![string("mode", "edge")]),
        node("Slice", &["p3", "starts", "ends", "axes", "steps"], "s", vec![]),
        node("Gather", &["s", "idx"], "g", vec![int("axis", 3)]),
        node("Split", &["g", "split"], "a", vec![int("axis", 1)]),
        node("Tile", &["b", "reps"], "t", vec![]),
        node("Add", &["a", "t"], "sum", vec![]),
        node("DepthToSpace", &["sum"], "d2s", vec![int("blocksize", 2), string("mode", "CRD")]),
        node("SpaceToDepth", &["d2s"], "s2d", vec![int("blocksize", 2)]),
        node("Expand", &["s2d", "eshape"], "out", vec![]),
    ];
    // Split has two outputs.
    let mut nodes = nodes;
    nodes[5].output = vec!["a".into(), "b".into()];
    let inits = vec![
        ints_tensor("pads", &[0, 0, 1, 2, 0, 0, 2, 1]),
        ints_tensor("pads2", &[0, 0, 0, 1, 0, 0, 1, 0]),
        tensor("pv", &[], vec![0.25]),
        ints_tensor("starts", &[1, -1]),
        ints_tensor("ends", &[100, 0]),
        ints_tensor("axes", &[2, 3]),
        ints_tensor("steps", &[1, -2]),
        ints_tensor("idx", &[0, 3, 1, 1]),
        ints_tensor("split", &[4, 4]),
        ints_tensor("reps", &[1, 1, 1, 1]),
        ints_tensor("eshape", &[2, 1, 1, 1]),
    ];
    let err = prove_and_compare(model(nodes, inits, &[1, 8, 3, 4], "out"), 96, 22);
    assert!(err < 0.02, "relative error {err}");
}

/// `Where` with a constant condition: both sides activations (broadcast from different shapes),
/// and an activation beside a constant fill, as a mask leaves it.
#[test]
fn where_with_a_constant_condition_selects() {
    let mut r = Rng(23);
    let cond: Vec<bool> = (0..12).map(|i| (i * 7) % 5 < 2).collect();
    let nodes = vec![
        node("MatMul", &["input", "w"], "mm", vec![]),
        node("Mul", &["input", "k"], "scaled", vec![]),
        node("Where", &["cond", "mm", "scaled"], "sel", vec![]),
        node("Where", &["row", "fill", "sel"], "masked", vec![]),
        node("Relu", &["masked"], "out", vec![]),
    ];
    let inits = vec![
        tensor("w", &[6, 6], r.vec(36, 0.6)),
        tensor("k", &[], vec![0.5]),
        bools_tensor("cond", &[2, 6], &cond),
        bools_tensor("row", &[6], &[false, true, false, false, true, false]),
        tensor("fill", &[], vec![0.375]),
    ];
    let err = prove_and_compare(model(nodes, inits, &[1, 6], "out"), 6, 23);
    assert!(err < 0.02, "relative error {err}");
}

/// A condition that is not a constant of the model is refused, naming the node and why, not
/// lowered wrongly.
#[test]
fn where_with_a_computed_condition_is_refused_by_name() {
    let nodes = vec![node("Relu", &["input"], "c", vec![]), node("Where", &["c", "input", "zero"], "out", vec![])];
    let msg = compile_error(model(nodes, vec![tensor("zero", &[], vec![0.0])], &[1, 4], "out"), 4);
    assert!(msg.contains("Where_out") && msg.contains("condition must be a constant"), "{msg}");
}

/// Comparisons (a step table on the difference; Equal two), logic on their booleans, a Where on
/// a computed condition (`y + c·(x − y)`) and a Cast of a boolean to float.
#[test]
fn comparisons_logic_and_a_computed_where() {
    let mut r = Rng(24);
    let nodes = vec![
        node("MatMul", &["input", "w"], "mm", vec![]),
        node("Greater", &["mm", "t"], "g", vec![]),
        node("Less", &["input", "mm"], "l", vec![]),
        node("GreaterOrEqual", &["input", "half"], "ge", vec![]),
        node("LessOrEqual", &["mm", "input"], "le", vec![]),
        node("Not", &["l"], "n", vec![]),
        node("And", &["g", "n"], "a", vec![]),
        node("Or", &["ge", "le"], "o", vec![]),
        node("Xor", &["a", "o"], "x", vec![]),
        node("Mul", &["input", "k"], "scaled", vec![]),
        node("Where", &["a", "mm", "scaled"], "w1", vec![]),
        node("Where", &["x", "w1", "fill"], "w2", vec![]),
        node("Cast", &["o"], "c", vec![int("to", 1)]),
        node("Add", &["w2", "c"], "sum", vec![]),
        node("Relu", &["mm"], "rm", vec![]),
        node("Equal", &["rm", "zero"], "eq", vec![]),
        node("Cast", &["eq"], "ec", vec![int("to", 1)]),
        node("Add", &["sum", "ec"], "out", vec![]),
    ];
    let inits = vec![
        tensor("w", &[6, 6], r.vec(36, 0.6)),
        tensor("t", &[], vec![0.1]),
        tensor("half", &[], vec![-0.2]),
        tensor("k", &[], vec![0.5]),
        tensor("fill", &[], vec![0.375]),
        tensor("zero", &[], vec![0.0]),
    ];
    let err = prove_and_compare(model(nodes, inits, &[1, 6], "out"), 6, 24);
    assert!(err < 0.02, "relative error {err}");
}

/// Logic and a Where read only booleans that a comparison made: a ReLU's output is not one.
#[test]
fn logic_on_a_value_that_is_not_boolean_is_refused_by_name() {
    let nodes = vec![
        node("Relu", &["input"], "r", vec![]),
        node("Greater", &["input", "zero"], "g", vec![]),
        node("And", &["g", "r"], "out", vec![]),
    ];
    let msg = compile_error(model(nodes, vec![tensor("zero", &[], vec![0.0])], &[1, 4], "out"), 4);
    assert!(msg.contains("And_out") && msg.contains("\"r\" is not a boolean"), "{msg}");
    let nodes = vec![node("Cast", &["input"], "out", vec![int("to", 6)])];
    let msg = compile_error(model(nodes, vec![], &[1, 4], "out"), 4);
    assert!(msg.contains("Cast_out") && msg.contains("element type 6"), "{msg}");
}

/// Products of constants are folded at compile time (MatMul, and Gemm with its C an activation).
#[test]
fn products_of_constants_are_folded() {
    let mut r = Rng(24);
    let nodes = vec![
        node("MatMul", &["w1", "w2"], "w", vec![]),
        node("MatMul", &["input", "w"], "mm", vec![]),
        node("Gemm", &["a", "b", "mm"], "g", vec![int("transB", 1), float("alpha", 0.5)]),
        node("Relu", &["g"], "out", vec![]),
    ];
    let inits = vec![
        tensor("w1", &[5, 3], r.vec(15, 0.6)),
        tensor("w2", &[3, 4], r.vec(12, 0.6)),
        tensor("a", &[1, 2], r.vec(2, 1.0)),
        tensor("b", &[4, 2], r.vec(8, 1.0)),
    ];
    let err = prove_and_compare(model(nodes, inits, &[1, 5], "out"), 5, 24);
    assert!(err < 0.02, "relative error {err}");
}

/// A subgraph of constants (here arithmetic, a ReLU and an Abs, a reduction, a Softmax, a table) folds into
/// one constant at compile time, computed by the engine calibration runs: the program keeps
/// nothing of it, neither a node nor a lookup, and the proof matches onnxruntime.
#[test]
fn constant_subgraphs_fold_into_constants() {
    let mut r = Rng(25);
    let nodes = vec![
        node("Neg", &["k"], "nk", vec![]),
        node("Abs", &["nk"], "ak", vec![]),
        node("Sub", &["ak", "m"], "d", vec![]),
        node("Relu", &["d"], "rd", vec![]),
        node("ReduceMax", &["rd"], "e", vec![ints("axes", &[0]), int("keepdims", 0)]),
        node("Softmax", &["e"], "sm", vec![]),
        node("Sigmoid", &["sm"], "se", vec![]),
        node("Mul", &["input", "se"], "out", vec![]),
    ];
    let inits = vec![tensor("k", &[3, 4], r.vec(12, 1.0)), tensor("m", &[3, 4], r.vec(12, 0.5))];
    let bytes = model(nodes, inits, &[1, 4], "out");
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("m.onnx");
    std::fs::write(&path, &bytes).unwrap();
    let p = zkml::lower::lower(&zkml::onnx::load(&path).unwrap()).unwrap();
    let kinds: Vec<&str> = p
        .nodes
        .iter()
        .map(|n| match n.kind {
            zkml::ir::Kind::Segment(_) => "segment",
            zkml::ir::Kind::Const(_) => "const",
            _ => "computed",
        })
        .collect();
    // The input, the folded constant, their product, and the output's segment.
    assert_eq!(kinds, ["segment", "const", "computed", "segment"], "{:?}", p.nodes);
    assert_eq!(p.materials.len(), 1, "only the output is materialized");
    let err = prove_and_compare(bytes, 4, 25);
    assert!(err < 0.02, "relative error {err}");
}

/// A function of a constant that is not finite there (the log of a zero) is refused by name, not
/// folded into an infinite constant.
#[test]
fn a_constant_that_folds_to_infinity_is_refused_by_name() {
    let nodes = vec![node("Log", &["k"], "lk", vec![]), node("Add", &["input", "lk"], "out", vec![])];
    let bytes = model(nodes, vec![tensor("k", &[2], vec![1.0, 0.0])], &[1, 2], "out");
    let e = compile_error(bytes, 2);
    assert!(e.contains("Log_lk") && e.contains("of a constant is -inf at 0"), "{e}");
}

pub(crate) fn floats_tensor(name: &str, data: &[f32]) -> TensorProto {
    tensor(name, &[data.len() as i64], data.to_vec())
}

/// Resize in its nearest and linear modes, up and down, by integer and fractional scales and by
/// sizes, under four coordinate transformations and two nearest modes.
#[test]
fn resize_nearest_and_linear() {
    let mut r = Rng(25);
    let nodes = vec![
        node("Reshape", &["input", "shape"], "img", vec![]),
        node("Resize", &["img", "", "up"], "n1", vec![]),
        node(
            "Resize",
            &["n1", "", "", "sizes"],
            "l1",
            vec![string("mode", "linear"), string("coordinate_transformation_mode", "align_corners")],
        ),
        node("Resize", &["l1", "", "frac"], "l2", vec![string("mode", "linear")]),
        node(
            "Resize",
            &["l2", "", "down"],
            "n2",
            vec![string("coordinate_transformation_mode", "asymmetric"), string("nearest_mode", "ceil")],
        ),
        node(
            "Resize",
            &["n2", "", "frac"],
            "n3",
            vec![string("coordinate_transformation_mode", "pytorch_half_pixel"), string("nearest_mode", "floor")],
        ),
        node("Flatten", &["n3"], "f", vec![]),
        node("Gemm", &["f", "w"], "out", vec![int("transB", 1)]),
    ];
    let inits = vec![
        ints_tensor("shape", &[1, 1, 2, 3]),
        floats_tensor("up", &[1.0, 1.0, 2.0, 2.0]),
        ints_tensor("sizes", &[1, 1, 3, 5]),
        floats_tensor("frac", &[1.0, 1.0, 2.0, 1.5]),
        floats_tensor("down", &[1.0, 1.0, 0.5, 0.75]),
        tensor("w", &[3, 42], r.vec(126, 0.5)),
    ];
    let err = prove_and_compare(model(nodes, inits, &[1, 6], "out"), 6, 25);
    assert!(err < 0.02, "relative error {err}");
}

/// Resize's cubic mode: Keys' kernel at the default coefficient with edge taps clamped, then
/// another coefficient with the taps outside the input excluded (weights renormalized).
#[test]
fn resize_cubic() {
    let mut r = Rng(26);
    let nodes = vec![
        node("Reshape", &["input", "shape"], "img", vec![]),
        node("Resize", &["img", "", "up"], "c1", vec![string("mode", "cubic")]),
        node(
            "Resize",
            &["c1", "", "down"],
            "c2",
            vec![string("mode", "cubic"), float("cubic_coeff_a", -0.5), int("exclude_outside", 1)],
        ),
        node("Flatten", &["c2"], "f", vec![]),
        node("Gemm", &["f", "w"], "out", vec![int("transB", 1)]),
    ];
    let inits = vec![
        ints_tensor("shape", &[1, 1, 3, 4]),
        floats_tensor("up", &[1.0, 1.0, 2.0, 1.5]),
        floats_tensor("down", &[1.0, 1.0, 0.5, 0.75]),
        tensor("w", &[3, 12], r.vec(36, 0.5)),
    ];
    let err = prove_and_compare(model(nodes, inits, &[1, 12], "out"), 12, 26);
    assert!(err < 0.02, "relative error {err}");
}

/// The other coordinate transformations and nearest mode: tf_half_pixel_for_nn with
/// round_prefer_ceil, then linear under half_pixel_symmetric, up and down.
#[test]
fn resize_other_coordinate_modes() {
    let mut r = Rng(27);
    let nodes = vec![
        node("Reshape", &["input", "shape"], "img", vec![]),
        node(
            "Resize",
            &["img", "", "up"],
            "n",
            vec![
                string("coordinate_transformation_mode", "tf_half_pixel_for_nn"),
                string("nearest_mode", "round_prefer_ceil"),
            ],
        ),
        node(
            "Resize",
            &["n", "", "mixed"],
            "l",
            vec![string("mode", "linear"), string("coordinate_transformation_mode", "half_pixel_symmetric")],
        ),
        node("Flatten", &["l"], "f", vec![]),
        node("Gemm", &["f", "w"], "out", vec![int("transB", 1)]),
    ];
    let inits = vec![
        ints_tensor("shape", &[1, 1, 2, 3]),
        floats_tensor("up", &[1.0, 1.0, 2.0, 2.0]),
        floats_tensor("mixed", &[1.0, 1.0, 1.5, 0.5]),
        tensor("w", &[2, 18], r.vec(36, 0.5)),
    ];
    let err = prove_and_compare(model(nodes, inits, &[1, 6], "out"), 6, 27);
    assert!(err < 0.02, "relative error {err}");
}

/// What Resize does not support is refused naming the node and the attribute.
#[test]
fn resize_refuses_antialias_and_unknown_modes_by_name() {
    for (attrs, part) in [
        (vec![int("antialias", 1)], "antialias applies to linear and cubic"),
        (vec![string("coordinate_transformation_mode", "half_pixel_ish")], "half_pixel_ish"),
        (vec![string("mode", "lanczos")], "lanczos"),
    ] {
        let nodes = vec![node("Resize", &["input", "", "up"], "out", attrs)];
        let msg = compile_error(model(nodes, vec![floats_tensor("up", &[1.0, 2.0])], &[1, 4], "out"), 4);
        assert!(msg.contains("Resize_out") && msg.contains(part), "{msg}");
    }
}

pub(crate) fn typed_tensor(name: &str, dims: &[i64], data_type: i32, data: &[i32]) -> TensorProto {
    TensorProto { name: name.into(), dims: dims.to_vec(), data_type, int32_data: data.to_vec(), ..Default::default() }
}

/// A QDQ model as onnxruntime's static quantizer writes one: the input quantized to uint8 and
/// back (its zero point a Constant node), int8 weights dequantized per output channel, an int32
/// bias, and the output quantized with zero point 0, the ReLU the quantizer folds into it. Our
/// lowering keeps every clamp (the input's range is narrower than the input here) and leaves
/// the rounding to the 8-bit grids out.
#[test]
fn quantize_dequantize_linear_as_a_static_quantizer_writes_them() {
    let mut r = Rng(26);
    let weights: Vec<i32> = r.vec(24, 100.0).iter().map(|&x| x.round() as i32).collect();
    let sw = [0.011f32, 0.009, 0.013, 0.01];
    let sx = 0.006f32;
    let zx = TensorProto { data_type: 2, int32_data: vec![128], ..Default::default() };
    let zx_node = NodeProto {
        name: "zx".into(),
        op_type: "Constant".into(),
        output: vec!["zx".into()],
        attribute: vec![AttributeProto {
            name: "value".into(),
            r#type: AttributeType::Tensor as i32,
            t: Some(zx),
            ..Default::default()
        }],
        ..Default::default()
    };
    let nodes = vec![
        zx_node,
        node("QuantizeLinear", &["input", "sx", "zx"], "xq", vec![]),
        node("DequantizeLinear", &["xq", "sx", "zx"], "xd", vec![]),
        node("DequantizeLinear", &["wq", "sw", "zw"], "w", vec![int("axis", 1)]),
        node("MatMul", &["xd", "w"], "mm", vec![]),
        node("DequantizeLinear", &["bq", "sb"], "b", vec![int("axis", 0)]),
        node("Add", &["mm", "b"], "y", vec![]),
        node("QuantizeLinear", &["y", "sy", "zy"], "yq", vec![]),
        node("DequantizeLinear", &["yq", "sy", "zy"], "out", vec![]),
    ];
    let inits = vec![
        tensor("sx", &[], vec![sx]),
        typed_tensor("wq", &[6, 4], 3, &weights),
        floats_tensor("sw", &sw),
        typed_tensor("zw", &[4], 3, &[0, 0, 0, 0]),
        typed_tensor("bq", &[4], 6, &[900, -1500, 300, 0]),
        floats_tensor("sb", &sw.map(|w| w * sx)),
        tensor("sy", &[], vec![0.01]),
        typed_tensor("zy", &[], 2, &[0]),
    ];
    let err = prove_and_compare(model(nodes, inits, &[1, 6], "out"), 6, 26);
    assert!(err < 0.05, "relative error {err}");
}

/// What the QDQ lowering does not support is refused naming the node and the reason.
#[test]
fn quantize_linear_refuses_what_it_cannot_lower_by_name() {
    for (inits, part) in [
        (
            vec![floats_tensor("s", &[0.1, 0.2, 0.1, 0.2]), typed_tensor("z", &[4], 2, &[0, 0, 0, 0])],
            "per-axis quantization of an activation",
        ),
        (vec![tensor("s", &[], vec![0.1]), typed_tensor("z", &[], 6, &[0])], "element type 6"),
        (vec![tensor("s", &[], vec![0.0]), typed_tensor("z", &[], 2, &[0])], "positive and finite"),
    ] {
        let nodes = vec![node("QuantizeLinear", &["input", "s", "z"], "out", vec![])];
        let msg = compile_error(model(nodes, inits, &[1, 4], "out"), 4);
        assert!(msg.contains("QuantizeLinear_out") && msg.contains(part), "{msg}");
    }
}

#[test]
fn reductions_max_min_abs_prelu() {
    let mut r = Rng(8);
    let nodes = vec![
        node("ReduceSum", &["input", "ax"], "rs", vec![int("keepdims", 1)]),
        node("ReduceMean", &["input"], "rm", vec![ints("axes", &[1]), int("keepdims", 1)]),
        node("ReduceMax", &["input"], "rx", vec![ints("axes", &[2]), int("keepdims", 1)]),
        node("Add", &["rs", "rm"], "a1", vec![]),
        node("Max", &["input", "a1"], "mx", vec![]),
        node("Min", &["mx", "rx"], "mn", vec![]),
        node("Abs", &["input"], "ab", vec![]),
        node("Neg", &["ab"], "ng", vec![]),
        node("PRelu", &["mn", "slope"], "pr", vec![]),
        node("LeakyRelu", &["ng"], "lr", vec![float("alpha", 0.2)]),
        node("Sum", &["pr", "lr", "mn"], "sm", vec![]),
        node("GlobalMaxPool", &["sm"], "out", vec![]),
    ];
    let inits = vec![ints_tensor("ax", &[3]), tensor("slope", &[3, 1, 1], r.vec(3, 0.5))];
    let err = prove_and_compare(model(nodes, inits, &[2, 3, 4, 5], "out"), 120, 23);
    assert!(err < 0.02, "relative error {err}");
}

/// Each function table after a Gemm (so that its input has a rounded scale of its own).
#[test]
fn function_tables() {
    let cases: Vec<(&str, Vec<AttributeProto>)> = vec![
        ("Sigmoid", vec![]),
        ("Tanh", vec![]),
        ("Exp", vec![]),
        ("Softplus", vec![]),
        ("Softsign", vec![]),
        ("Erf", vec![]),
        ("Elu", vec![float("alpha", 0.7)]),
        ("Selu", vec![]),
        ("HardSigmoid", vec![float("alpha", 0.3)]),
        ("HardSwish", vec![]),
    ];
    for (i, (op, attrs)) in cases.into_iter().enumerate() {
        let mut r = Rng(30 + i as u64);
        let nodes = vec![node("Gemm", &["input", "w", "b"], "g", vec![]), node(op, &["g"], "out", attrs)];
        let inits = vec![tensor("w", &[6, 5], r.vec(30, 0.8)), tensor("b", &[5], r.vec(5, 0.3))];
        // Opset 14: HardSwish's first.
        let err = prove_and_compare(model_v(nodes, inits, &[1, 6], "out", 14), 6, 40 + i as u64);
        assert!(err < 0.02, "{op}: relative error {err}");
    }
}

#[test]
fn positive_domain_tables_and_division_by_a_tensor() {
    let mut r = Rng(9);
    // x·w → exp (positive) → sqrt, log, pow; then a / (1 + |a|) with Div by a tensor.
    let nodes = vec![
        node("MatMul", &["input", "w"], "g", vec![]),
        node("Exp", &["g"], "e", vec![]),
        node("Sqrt", &["e"], "sq", vec![]),
        node("Log", &["e"], "lg", vec![]),
        node("Pow", &["e", "p"], "pw", vec![]),
        node("Reciprocal", &["e"], "rc", vec![]),
        node("Abs", &["g"], "ab", vec![]),
        node("Add", &["ab", "one"], "den", vec![]),
        node("Div", &["g", "den"], "ss", vec![]),
        node("Sum", &["sq", "lg", "pw", "rc", "ss"], "out", vec![]),
    ];
    let inits = vec![tensor("w", &[6, 7], r.vec(42, 0.5)), tensor("p", &[], vec![1.5]), tensor("one", &[], vec![1.0])];
    let err = prove_and_compare(model(nodes, inits, &[1, 6], "out"), 6, 24);
    assert!(err < 0.02, "relative error {err}");
}

#[test]
fn softmax_and_log_softmax() {
    let mut r = Rng(10);
    let nodes = vec![
        node("MatMul", &["input", "w"], "g", vec![]),
        node("Softmax", &["g"], "sm", vec![int("axis", -1)]),
        node("LogSoftmax", &["g"], "ls", vec![int("axis", 1)]),
        node("Mul", &["sm", "ls"], "out", vec![]),
    ];
    let inits = vec![tensor("w", &[8, 12], r.vec(96, 1.0))];
    let err = prove_and_compare(model(nodes, inits, &[3, 8], "out"), 24, 25);
    assert!(err < 0.03, "relative error {err}");
}

#[test]
fn instance_and_layer_normalization() {
    let mut r = Rng(11);
    let nodes = vec![
        node("Conv", &["input", "w"], "c", vec![]),
        node("InstanceNormalization", &["c", "g", "b"], "in", vec![float("epsilon", 1e-3)]),
        node("LayerNormalization", &["in", "lg", "lb"], "out", vec![int("axis", -2)]),
    ];
    let inits = vec![
        tensor("w", &[3, 2, 3, 3], r.vec(54, 0.5)),
        tensor("g", &[3], vec![1.0, 0.5, 1.5]),
        tensor("b", &[3], vec![0.1, -0.2, 0.0]),
        tensor("lg", &[4, 4], r.vec(16, 1.0)),
        tensor("lb", &[4, 4], r.vec(16, 0.2)),
    ];
    let err = prove_and_compare(model_v(nodes, inits, &[1, 2, 6, 6], "out", 17), 72, 26);
    assert!(err < 0.03, "relative error {err}");
}

/// Self-attention's scaled scores `ss = (x·wq)·(x·wk)ᵀ·scale`, and its values `v = x·wv`.
fn attention_scores() -> Vec<NodeProto> {
    vec![
        node("MatMul", &["input", "wq"], "q", vec![]),
        node("MatMul", &["input", "wk"], "k", vec![]),
        node("MatMul", &["input", "wv"], "v", vec![]),
        node("Transpose", &["k"], "kt", vec![ints("perm", &[1, 0])]),
        node("MatMul", &["q", "kt"], "s", vec![]),
        node("Mul", &["s", "scale"], "ss", vec![]),
    ]
}

/// Self-attention: products of two activations (Q·Kᵀ and A·V) proved by sumcheck, a softmax,
/// a residual and a layer norm.
#[test]
fn attention_block_with_activation_products() {
    let mut r = Rng(12);
    let mut nodes = attention_scores();
    nodes.extend([
        node("Softmax", &["ss"], "a", vec![int("axis", -1)]),
        node("MatMul", &["a", "v"], "o", vec![]),
        node("Add", &["o", "input"], "res", vec![]),
        node("LayerNormalization", &["res", "lg", "lb"], "ln", vec![]),
        node("Gemm", &["ln", "w1", "b1"], "h", vec![]),
        node("Gelu", &["h"], "out", vec![]),
    ]);
    let inits = vec![
        tensor("wq", &[8, 8], r.vec(64, 0.6)),
        tensor("wk", &[8, 8], r.vec(64, 0.6)),
        tensor("wv", &[8, 8], r.vec(64, 0.6)),
        tensor("scale", &[], vec![0.35]),
        tensor("lg", &[8], r.vec(8, 1.0)),
        tensor("lb", &[8], r.vec(8, 0.1)),
        tensor("w1", &[8, 6], r.vec(48, 0.5)),
        tensor("b1", &[6], r.vec(6, 0.1)),
    ];
    let err = prove_and_compare(model_v(nodes, inits, &[5, 8], "out", 20), 40, 27);
    assert!(err < 0.03, "relative error {err}");
}

/// Multi-head attention as exporters write it: heads split by Reshape and Transpose, batched
/// MatMuls over the heads (activation by activation), a batched activation times a constant, the
/// heads merged back.
#[test]
fn multi_head_attention_with_batched_matmuls() {
    let mut r = Rng(14);
    let nodes = vec![
        node("MatMul", &["input", "wq"], "q", vec![]),
        node("MatMul", &["input", "wk"], "k", vec![]),
        node("MatMul", &["input", "wv"], "v", vec![]),
        node("Reshape", &["q", "heads"], "qh", vec![]),
        node("Reshape", &["k", "heads"], "kh", vec![]),
        node("Reshape", &["v", "heads"], "vh", vec![]),
        node("Transpose", &["qh"], "qt", vec![ints("perm", &[1, 0, 2])]),
        node("Transpose", &["kh"], "kt", vec![ints("perm", &[1, 2, 0])]),
        node("Transpose", &["vh"], "vt", vec![ints("perm", &[1, 0, 2])]),
        node("MatMul", &["qt", "kt"], "s", vec![]),
        node("Mul", &["s", "scale"], "ss", vec![]),
        node("Softmax", &["ss"], "a", vec![int("axis", -1)]),
        node("MatMul", &["a", "vt"], "o", vec![]),
        node("MatMul", &["o", "wh"], "oh", vec![]),
        node("Transpose", &["oh"], "ot", vec![ints("perm", &[1, 0, 2])]),
        node("Reshape", &["ot", "merged"], "out", vec![]),
    ];
    let inits = vec![
        tensor("wq", &[1, 8, 8], r.vec(64, 0.6)),
        tensor("wk", &[8, 8], r.vec(64, 0.6)),
        tensor("wv", &[8, 8], r.vec(64, 0.6)),
        ints_tensor("heads", &[5, 2, 4]),
        tensor("scale", &[], vec![0.5]),
        tensor("wh", &[2, 4, 3], r.vec(24, 0.6)),
        ints_tensor("merged", &[5, 6]),
    ];
    let err = prove_and_compare(model_v(nodes, inits, &[5, 8], "out", 20), 40, 30);
    assert!(err < 0.03, "relative error {err}");
}

/// Causal self-attention: scores plus a mask, as exporters write it (`mask` the constant added,
/// or a Where selecting it), into a Softmax.
fn causal_attention(mask: impl Fn(&str, &str) -> (Vec<NodeProto>, Vec<TensorProto>)) -> Vec<u8> {
    let mut r = Rng(13);
    let mut nodes = attention_scores();
    let (mask_nodes, mut inits) = mask("ss", "masked");
    nodes.extend(mask_nodes);
    nodes.push(node("Softmax", &["masked"], "a", vec![int("axis", -1)]));
    nodes.push(node("MatMul", &["a", "v"], "out", vec![]));
    inits.extend([
        tensor("wq", &[8, 8], r.vec(64, 0.6)),
        tensor("wk", &[8, 8], r.vec(64, 0.6)),
        tensor("wv", &[8, 8], r.vec(64, 0.6)),
        tensor("scale", &[], vec![0.35]),
    ]);
    model_v(nodes, inits, &[5, 8], "out", 20)
}

fn causal(masked: f32, kept: f32) -> Vec<f32> {
    (0..25).map(|i| if i % 5 > i / 5 { masked } else { kept }).collect()
}

/// The masked positions are left out of the Softmax, whatever the mask's constant (−10⁴ as older
/// exports write it, float32's minimum as Hugging Face's do, −∞ selected by a Where).
#[test]
fn attention_masks_added_or_selected() {
    for fill in [-1.0e4, f32::MIN] {
        let added = causal_attention(|s, out| {
            (vec![node("Add", &[s, "mask"], out, vec![])], vec![tensor("mask", &[5, 5], causal(fill, 0.0))])
        });
        let err = prove_and_compare(added, 40, 28);
        assert!(err < 0.03, "mask {fill}: relative error {err}");
    }
    let selected = causal_attention(|s, out| {
        let keep: Vec<bool> = causal(0.0, 1.0).iter().map(|&k| k != 0.0).collect();
        (
            vec![node("Where", &["keep", s, "minus_inf"], out, vec![])],
            vec![bools_tensor("keep", &[5, 5], &keep), tensor("minus_inf", &[], vec![f32::NEG_INFINITY])],
        )
    });
    let err = prove_and_compare(selected, 40, 29);
    assert!(err < 0.03, "Where with −∞: relative error {err}");
}

#[test]
fn masked_scores_are_read_only_by_a_softmax() {
    let relu = causal_attention(|s, out| {
        (
            vec![node("Add", &[s, "mask"], "m", vec![]), node("Relu", &["m"], out, vec![])],
            vec![tensor("mask", &[5, 5], causal(-1.0e9, 0.0))],
        )
    });
    let e = compile_error(relu, 40);
    assert!(e.contains("attention mask") && e.contains("(Relu)"), "{e}");
    let log = causal_attention(|s, out| {
        (vec![node("Add", &[s, "mask"], out, vec![])], vec![tensor("mask", &[5, 5], causal(-1.0e9, 0.0))])
    });
    let log = {
        let mut m = tract_onnx::pb::ModelProto::decode(&log[..]).unwrap();
        let g = m.graph.as_mut().unwrap();
        g.node.iter_mut().filter(|n| n.op_type == "Softmax").for_each(|n| n.op_type = "LogSoftmax".into());
        m.encode_to_vec()
    };
    let e = compile_error(log, 40);
    assert!(e.contains("LogSoftmax") && e.contains("only a Softmax"), "{e}");
}
