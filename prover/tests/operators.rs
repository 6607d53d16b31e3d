//! Each supported operator, with ONNX's defaults and with explicit attributes, in small models
//! built here: compiled, proved, verified, and compared with tract's float output.

use prost::Message;
use tract_onnx::pb::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto, attribute_proto::AttributeType, tensor_shape_proto, type_proto,
};
use zkml::quantize::QuantConfig;
use zkml::{pipeline, stage1};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0
    }
    fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.next() * scale).collect()
    }
}

fn tensor(name: &str, dims: &[i64], data: Vec<f32>) -> TensorProto {
    TensorProto { name: name.into(), dims: dims.to_vec(), data_type: 1, float_data: data, ..Default::default() }
}

fn ints_tensor(name: &str, data: &[i64]) -> TensorProto {
    TensorProto { name: name.into(), dims: vec![data.len() as i64], data_type: 7, int64_data: data.to_vec(), ..Default::default() }
}

fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Ints as i32, ints: v.to_vec(), ..Default::default() }
}

fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Int as i32, i: v, ..Default::default() }
}

fn float(name: &str, v: f32) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Float as i32, f: v, ..Default::default() }
}

fn node(op: &str, inputs: &[&str], output: &str, attrs: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        name: format!("{op}_{output}"),
        op_type: op.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        attribute: attrs,
        ..Default::default()
    }
}

fn value_info(name: &str, shape: &[i64]) -> ValueInfoProto {
    let dim = shape
        .iter()
        .map(|&d| tensor_shape_proto::Dimension { value: Some(tensor_shape_proto::dimension::Value::DimValue(d)), ..Default::default() })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor { elem_type: 1, shape: Some(TensorShapeProto { dim }) })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn model(nodes: Vec<NodeProto>, inits: Vec<TensorProto>, input: &[i64], output: &str) -> Vec<u8> {
    let graph = GraphProto {
        node: nodes,
        name: "test".into(),
        initializer: inits,
        input: vec![value_info("input", input)],
        output: vec![ValueInfoProto { name: output.into(), ..Default::default() }],
        ..Default::default()
    };
    let m = ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 13 }],
        graph: Some(graph),
        ..Default::default()
    };
    m.encode_to_vec()
}

/// Compiles, proves, verifies; returns the largest error against tract relative to the output range.
fn prove_and_compare(bytes: Vec<u8>, input_len: usize, seed: u64) -> f64 {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("m.onnx");
    std::fs::write(&path, bytes).unwrap();
    let mut rng = Rng(seed);
    let samples: Vec<Vec<f64>> = (0..4).map(|_| rng.vec(input_len, 1.0).into_iter().map(f64::from).collect()).collect();
    let c = pipeline::compile(&path, &samples, QuantConfig::default(), &tmp.path().join("dir")).unwrap();
    let p = pipeline::prove(&c, &samples[0]).unwrap();
    let out = stage1::verify(&c.graph, c.id, &p).expect("the proof verifies");
    let q = c.graph.dequantize_output(&out);
    let f = pipeline::reference(&c, &samples[0]).unwrap();
    assert_eq!(q.len(), f.len());
    let range = f.iter().fold(1e-3f64, |a, x| a.max(x.abs()));
    q.iter().zip(&f).fold(0.0f64, |a, (x, y)| a.max((x - y).abs())) / range
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
        node("Conv", &["input", "w"], "c", vec![ints("strides", &[2, 1]), ints("pads", &[1, 2, 1, 0]), ints("dilations", &[1, 2])]),
        node("BatchNormalization", &["c", "g", "bb", "m", "v"], "bn", vec![float("epsilon", 1e-3)]),
        node("AveragePool", &["bn"], "ap", vec![ints("kernel_shape", &[3, 3]), ints("pads", &[1, 1, 1, 1]), ints("strides", &[2, 2])]),
        node("Relu", &["ap"], "r", vec![]),
        node("MaxPool", &["r"], "mp", vec![ints("kernel_shape", &[2, 2]), ints("pads", &[0, 0, 1, 1]), ints("strides", &[1, 1])]),
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
        node("Conv", &["input", "w", "b"], "c", vec![AttributeProto { name: "auto_pad".into(), r#type: AttributeType::String as i32, s: b"SAME_UPPER".to_vec(), ..Default::default() }, ints("strides", &[2])]),
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
    let nodes = vec![node("Relu", &["input"], "r", vec![]), node("Softsign", &["r"], "out", vec![])];
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("m.onnx");
    std::fs::write(&path, model(nodes, vec![], &[1, 4], "out")).unwrap();
    let err = pipeline::compile(&path, &[vec![0.0; 4]], QuantConfig::default(), &tmp.path().join("d")).err().unwrap();
    let msg = format!("{err:#}");
    assert!(msg.contains("unsupported operator Softsign") && msg.contains("Softsign_out"), "{msg}");
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
    let c = pipeline::compile(&path, &[vec![0.1, -0.1, 0.05, 0.0]], QuantConfig::default(), &tmp.path().join("d")).unwrap();
    let err = pipeline::prove(&c, &[3.0, -3.0, 3.0, 3.0]).err().unwrap();
    let msg = format!("{err:#}");
    assert!(msg.contains("quantized range (--lookup-bits) allows") && msg.contains("Gemm_g"), "{msg}");
}
