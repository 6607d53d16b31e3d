//! LSTM and GRU: every input, output and attribute of the ONNX operators, compiled, proved,
//! verified and compared with onnxruntime's float output. Also, where tract (which `compile` runs
//! for its calibration report) does not read an attribute: `direction = reverse` and the
//! batch-first layout (which onnxruntime refuses) with onnxruntime's output of an equivalent model,
//! named activations and `clip` with the operator's equations.

use tract_onnx::pb::{AttributeProto, NodeProto, attribute_proto::AttributeType};

use crate::common::onnxruntime;
use crate::operators::{
    Rng, compile_error, float, int, ints, ints_tensor, model_outputs, node, prove_against, prove_and_compare, string,
    tensor, typed_tensor,
};

fn rec(op: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        name: op.into(),
        op_type: op.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute: attrs,
        ..Default::default()
    }
}

fn strings(name: &str, v: &[&str]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Strings as i32,
        strings: v.iter().map(|s| s.as_bytes().to_vec()).collect(),
        ..Default::default()
    }
}

fn floats(name: &str, v: &[f32]) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Floats as i32, floats: v.to_vec(), ..Default::default() }
}

/// Forward LSTM with a bias, full-length sequence_lens, initial states, peepholes and all three
/// outputs.
#[test]
fn lstm_with_every_input_and_output() {
    let mut r = Rng(41);
    let (seq, batch, input, hidden) = (4, 2, 3, 5);
    let nodes = vec![rec(
        "LSTM",
        &["input", "w", "r", "b", "lens", "h0", "c0", "p"],
        &["y", "yh", "yc"],
        vec![int("hidden_size", hidden)],
    )];
    let inits = vec![
        tensor("w", &[1, 4 * hidden, input], r.vec((4 * hidden * input) as usize, 0.5)),
        tensor("r", &[1, 4 * hidden, hidden], r.vec((4 * hidden * hidden) as usize, 0.4)),
        tensor("b", &[1, 8 * hidden], r.vec((8 * hidden) as usize, 0.2)),
        typed_tensor("lens", &[batch], 6, &[seq as i32; 2]),
        tensor("h0", &[1, batch, hidden], r.vec((batch * hidden) as usize, 0.5)),
        tensor("c0", &[1, batch, hidden], r.vec((batch * hidden) as usize, 0.5)),
        tensor("p", &[1, 3 * hidden], r.vec((3 * hidden) as usize, 0.3)),
    ];
    let bytes = model_outputs(nodes, inits, &[seq, batch, input], &["y", "yh", "yc"], 14);
    let err = prove_and_compare(bytes, (seq * batch * input) as usize, 5);
    assert!(err < 0.03, "relative error {err}");
}

/// Bidirectional GRU with `linear_before_reset`, a bias and an initial state.
#[test]
fn gru_bidirectional_linear_before_reset() {
    let mut r = Rng(42);
    let (seq, batch, input, hidden) = (3, 2, 4, 6);
    let nodes = vec![rec(
        "GRU",
        &["input", "w", "r", "b", "", "h0"],
        &["y", "yh"],
        vec![int("hidden_size", hidden), string("direction", "bidirectional"), int("linear_before_reset", 1)],
    )];
    let inits = vec![
        tensor("w", &[2, 3 * hidden, input], r.vec((2 * 3 * hidden * input) as usize, 0.5)),
        tensor("r", &[2, 3 * hidden, hidden], r.vec((2 * 3 * hidden * hidden) as usize, 0.4)),
        tensor("b", &[2, 6 * hidden], r.vec((2 * 6 * hidden) as usize, 0.3)),
        tensor("h0", &[2, batch, hidden], r.vec((batch * 2 * hidden) as usize, 0.5)),
    ];
    let bytes = model_outputs(nodes, inits, &[seq, batch, input], &["y", "yh"], 14);
    let err = prove_and_compare(bytes, (seq * batch * input) as usize, 6);
    assert!(err < 0.03, "relative error {err}");
}

/// Proves `model` and compares it with onnxruntime's output of `definition`, an equivalent model.
fn against_definition(model: Vec<u8>, definition: Vec<u8>, input_len: usize, seed: u64) -> f64 {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("definition.onnx");
    std::fs::write(&path, definition).unwrap();
    prove_against(model, input_len, seed, &[&|_, x| onnxruntime(&path, x)])
}

/// `layout = 1` (batch first) against its definition: the time-major layer between transposes,
/// its initial state transposed too (onnxruntime 1.23 refuses `layout = 1`). Forward only: tract
/// 0.23 cannot load a bidirectional batch-first layer, and `compile` runs tract for its
/// calibration report.
#[test]
fn gru_batch_first_is_the_time_major_layer_transposed() {
    let (batch, seq, input, hidden) = (2, 3, 4, 5);
    let inits = || {
        let mut r = Rng(48);
        vec![
            tensor("w", &[1, 3 * hidden, input], r.vec((3 * hidden * input) as usize, 0.5)),
            tensor("r", &[1, 3 * hidden, hidden], r.vec((3 * hidden * hidden) as usize, 0.4)),
            tensor("b", &[1, 6 * hidden], r.vec((6 * hidden) as usize, 0.3)),
            tensor("h0", &[batch, 1, hidden], r.vec((batch * hidden) as usize, 0.5)),
        ]
    };
    let attrs = |layout| vec![int("hidden_size", hidden), int("layout", layout)];
    let model = model_outputs(
        vec![rec("GRU", &["input", "w", "r", "b", "", "h0"], &["y", "yh"], attrs(1))],
        inits(),
        &[batch, seq, input],
        &["y", "yh"],
        14,
    );
    let definition = model_outputs(
        vec![
            node("Transpose", &["input"], "xt", vec![ints("perm", &[1, 0, 2])]),
            node("Transpose", &["h0"], "h0t", vec![ints("perm", &[1, 0, 2])]),
            rec("GRU", &["xt", "w", "r", "b", "", "h0t"], &["yt", "yht"], attrs(0)),
            node("Transpose", &["yt"], "y", vec![ints("perm", &[2, 0, 1, 3])]),
            node("Transpose", &["yht"], "yh", vec![ints("perm", &[1, 0, 2])]),
        ],
        inits(),
        &[batch, seq, input],
        &["y", "yh"],
        14,
    );
    let err = against_definition(model, definition, (batch * seq * input) as usize, 10);
    assert!(err < 0.03, "relative error {err}");
}

/// Both cells with every default: no bias, zero initial states, one of the outputs named.
#[test]
fn lstm_into_gru_with_defaults() {
    let mut r = Rng(43);
    let nodes = vec![
        rec("LSTM", &["input", "w1", "r1"], &["y1"], vec![int("hidden_size", 4)]),
        node("Squeeze", &["y1", "axis1"], "s", vec![]),
        rec("GRU", &["s", "w2", "r2"], &["", "yh"], vec![int("hidden_size", 3)]),
    ];
    let inits = vec![
        tensor("w1", &[1, 16, 3], r.vec(48, 0.6)),
        tensor("r1", &[1, 16, 4], r.vec(64, 0.5)),
        ints_tensor("axis1", &[1]),
        tensor("w2", &[1, 9, 4], r.vec(36, 0.6)),
        tensor("r2", &[1, 9, 3], r.vec(27, 0.5)),
    ];
    let bytes = model_outputs(nodes, inits, &[5, 1, 3], &["yh"], 14);
    let err = prove_and_compare(bytes, 15, 7);
    assert!(err < 0.03, "relative error {err}");
}

/// `direction = reverse` (which tract reads as forward) against its definition: a forward LSTM
/// over the sequence reversed in time, its Y reversed back.
#[test]
fn lstm_reverse_is_forward_over_the_reversed_sequence() {
    let (seq, input, hidden) = (4, 3, 4);
    let inits = || {
        let mut r = Rng(45);
        vec![
            tensor("w", &[1, 4 * hidden, input], r.vec((4 * hidden * input) as usize, 0.5)),
            tensor("r", &[1, 4 * hidden, hidden], r.vec((4 * hidden * hidden) as usize, 0.4)),
            tensor("b", &[1, 8 * hidden], r.vec((8 * hidden) as usize, 0.2)),
            ints_tensor("start", &[-1]),
            ints_tensor("end", &[i64::MIN]),
            ints_tensor("axis", &[0]),
            ints_tensor("step", &[-1]),
        ]
    };
    let attrs = |dir: &str| vec![int("hidden_size", hidden), string("direction", dir)];
    let reversed = model_outputs(
        vec![rec("LSTM", &["input", "w", "r", "b"], &["y", "yh"], attrs("reverse"))],
        inits(),
        &[seq, 1, input],
        &["y", "yh"],
        14,
    );
    let by_definition = model_outputs(
        vec![
            node("Slice", &["input", "start", "end", "axis", "step"], "xr", vec![]),
            rec("LSTM", &["xr", "w", "r", "b"], &["yf", "yh"], attrs("forward")),
            node("Slice", &["yf", "start", "end", "axis", "step"], "y", vec![]),
        ],
        inits(),
        &[seq, 1, input],
        &["y", "yh"],
        14,
    );
    let err = against_definition(reversed.clone(), by_definition, (seq * input) as usize, 8);
    assert!(err < 0.03, "relative error {err}");
    let err = prove_and_compare(reversed, (seq * input) as usize, 8);
    assert!(err < 0.03, "relative error against onnxruntime {err}");
}

/// A GRU with named activations and an optional `clip` (which tract does not read), proved and
/// compared with ONNX's equations written out here with `f` and `g`, and with onnxruntime.
fn gru_against_its_equations(
    activations: [&str; 2],
    alphas: &[f32],
    betas: &[f32],
    clip: Option<f32>,
    f: impl Fn(f64) -> f64,
    g: impl Fn(f64) -> f64,
) -> f64 {
    let mut r = Rng(46);
    let (seq, input, hidden) = (3usize, 2usize, 3usize);
    let w = r.vec(3 * hidden * input, 0.9);
    let rr = r.vec(3 * hidden * hidden, 0.7);
    let b = r.vec(6 * hidden, 0.4);
    let mut attrs = vec![
        int("hidden_size", hidden as i64),
        strings("activations", &activations),
        floats("activation_alpha", alphas),
        floats("activation_beta", betas),
    ];
    attrs.extend(clip.map(|c| float("clip", c)));
    let inits = vec![
        tensor("w", &[1, 3 * hidden as i64, input as i64], w.clone()),
        tensor("r", &[1, 3 * hidden as i64, hidden as i64], rr.clone()),
        tensor("b", &[1, 6 * hidden as i64], b.clone()),
    ];
    let nodes = vec![rec("GRU", &["input", "w", "r", "b"], &["y"], attrs)];
    let bytes = model_outputs(nodes, inits, &[seq as i64, 1, input as i64], &["y"], 14);
    let [w, rr, b] = [w, rr, b].map(|v| v.into_iter().map(f64::from).collect::<Vec<f64>>());
    let clip = clip.map_or(f64::INFINITY, f64::from);
    let reference = |x: &[f64]| {
        let mut h = vec![0.0; hidden];
        let mut y = vec![];
        for t in 0..seq {
            let xt = &x[t * input..(t + 1) * input];
            // Row `gate·hidden + k` of W·x + R·v + Wb + Rb, clipped.
            let pre = |gate: usize, k: usize, v: &[f64]| {
                let row = gate * hidden + k;
                ((0..input).map(|j| w[row * input + j] * xt[j]).sum::<f64>()
                    + (0..hidden).map(|j| rr[row * hidden + j] * v[j]).sum::<f64>()
                    + b[row]
                    + b[3 * hidden + row])
                    .clamp(-clip, clip)
            };
            let z: Vec<f64> = (0..hidden).map(|k| f(pre(0, k, &h))).collect();
            let rg: Vec<f64> = (0..hidden).map(|k| f(pre(1, k, &h))).collect();
            let rh: Vec<f64> = (0..hidden).map(|k| rg[k] * h[k]).collect();
            let cand: Vec<f64> = (0..hidden).map(|k| g(pre(2, k, &rh))).collect();
            h = (0..hidden).map(|k| (1.0 - z[k]) * cand[k] + z[k] * h[k]).collect();
            y.extend_from_slice(&h);
        }
        y
    };
    prove_against(bytes, seq * input, 9, &[&|_, x| reference(x), &onnxruntime])
}

/// Every named activation we lower, their α and β taken in order by the functions that have
/// them, ONNX's defaults when the lists run out.
#[test]
fn gru_named_activations_and_clip() {
    let softsign = |v: f64| v / (1.0 + v.abs());
    let cases = [
        gru_against_its_equations(
            ["HardSigmoid", "Softsign"],
            &[0.3],
            &[0.6],
            Some(0.8),
            |v| (0.3 * v + 0.6).clamp(0.0, 1.0),
            softsign,
        ),
        gru_against_its_equations(
            ["Sigmoid", "ScaledTanh"],
            &[0.9],
            &[1.2],
            None,
            |v| 1.0 / (1.0 + (-v).exp()),
            |v| 0.9 * (1.2 * v).tanh(),
        ),
        gru_against_its_equations(
            ["Affine", "LeakyRelu"],
            &[0.25, 0.1],
            &[0.5],
            Some(1.5),
            |v| 0.25 * v + 0.5,
            |v| if v >= 0.0 { v } else { 0.1 * v },
        ),
        gru_against_its_equations(
            ["Softplus", "Elu"],
            &[],
            &[],
            None,
            |v: f64| v.exp().ln_1p(),
            |v: f64| {
                if v >= 0.0 { v } else { v.exp() - 1.0 }
            },
        ),
        gru_against_its_equations(
            ["HardSigmoid", "Relu"],
            &[],
            &[],
            None,
            |v| (0.2 * v + 0.5).clamp(0.0, 1.0),
            |v| v.max(0.0),
        ),
    ];
    for (i, err) in cases.into_iter().enumerate() {
        assert!(err < 0.03, "case {i}: relative error {err}");
    }
}

#[test]
fn recurrent_layers_refuse_what_they_cannot_lower_by_name() {
    let mut r = Rng(47);
    let inits = |r: &mut Rng| {
        vec![
            tensor("w", &[1, 9, 2], r.vec(18, 0.5)),
            tensor("r", &[1, 9, 3], r.vec(27, 0.5)),
            typed_tensor("lens", &[1], 6, &[2]),
        ]
    };
    let mut gru = |inputs: &[&str], attrs| {
        model_outputs(vec![rec("GRU", inputs, &["y"], attrs)], inits(&mut r), &[3, 1, 2], &["y"], 14)
    };
    let e = compile_error(gru(&["input", "w", "r", "", "lens"], vec![]), 6);
    assert!(e.contains("sequence_lens") && e.contains("padded"), "{e}");
    let e = compile_error(gru(&["input", "w", "r"], vec![strings("activations", &["ThresholdedRelu", "Tanh"])]), 6);
    assert!(e.contains("ThresholdedRelu"), "{e}");
    let e = compile_error(gru(&["input", "w", "r"], vec![int("hidden_size", 4)]), 6);
    assert!(e.contains("hidden_size"), "{e}");
    let e = compile_error(gru(&["input", "w", "r"], vec![string("direction", "bidirectional")]), 6);
    assert!(e.contains("directions"), "{e}");
    let lstm = model_outputs(
        vec![rec("LSTM", &["input", "w", "r"], &["y"], vec![int("input_forget", 1)])],
        vec![tensor("w", &[1, 8, 2], r.vec(16, 0.5)), tensor("r", &[1, 8, 2], r.vec(16, 0.5))],
        &[3, 1, 2],
        &["y"],
        14,
    );
    let e = compile_error(lstm, 6);
    assert!(e.contains("input_forget"), "{e}");
}
