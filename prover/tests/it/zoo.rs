//! The model zoo of `script/model_zoo.py` (tests/data/zoo): models of the kinds users bring, with
//! the operators real exports use — an int8 MLP and CNN from onnxruntime's static quantizer, an
//! LSTM forecaster, a bidirectional GRU, a U-Net block and a 2-layer Llama-style decoder with
//! rotary embeddings and a causal mask. Each is compiled (calibrated on its four sample rows),
//! proved and verified, and its proved output is onnxruntime's (run at test time) within 5% of
//! the output's scale; the smallest also through the Groth16 wrap.

use crate::common::{compiled, data, input, onnxruntime, proved_output, relative_error};

/// Proves `zoo/NAME`, verifies the proof, and returns the largest |proved − onnxruntime| over
/// onnxruntime's largest |output| (onnxruntime run now, on the proved input).
fn proved_against_onnxruntime(name: &str) -> f64 {
    let model = format!("zoo/{name}");
    let (_tmp, c) = compiled(&model);
    let x = input(&model);
    let got = proved_output(&c, &x);
    let want = onnxruntime(&data(&format!("{model}.onnx")), &x);
    let err = relative_error(&got, &want, 1e-6);
    println!("{name}: proved output within {:.2}% of its scale of onnxruntime's", err * 100.0);
    err
}

fn within_five_percent(name: &str) {
    let err = proved_against_onnxruntime(name);
    assert!(err < 0.05, "{name}: the proved output is {:.1}% of its scale from onnxruntime's", err * 100.0);
}

/// onnxruntime's static quantizer's QDQ MLP (its ReLUs folded into QuantizeLinear zero points),
/// also through the two-round Groth16 wrap (with its tampering checks).
#[test]
fn zoo_int8_mlp_from_onnxruntimes_quantizer_through_the_wrap() {
    within_five_percent("int8_mlp");
    crate::wrap::two_round_wrap("zoo/int8_mlp");
}

#[test]
fn zoo_int8_cnn_from_onnxruntimes_quantizer() {
    within_five_percent("int8_cnn");
}

#[test]
fn zoo_lstm_forecaster() {
    within_five_percent("lstm_forecaster");
}

#[test]
fn zoo_gru_classifier() {
    within_five_percent("gru_classifier");
}

#[test]
fn zoo_unet_block() {
    within_five_percent("unet_block");
}

#[test]
fn zoo_llama_decoder() {
    within_five_percent("llama_decoder");
}
