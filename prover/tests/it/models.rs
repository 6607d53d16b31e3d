//! End to end on the benchmark models, and every way a proof must be rejected.

use zkml::artifact::{self, Compiled};
use zkml::pipeline::{self, argmax};
use zkml::quantize::QuantConfig;
use zkml::stage1::{self, Stage1Proof};

use crate::common::{compile, compiled, compressed, data, input, zkml};

fn proved(model: &str) -> (tempfile::TempDir, Compiled, Stage1Proof) {
    let (tmp, c) = compiled(model);
    let p = pipeline::prove(&c, &input(model)).unwrap();
    (tmp, c, p)
}

fn end_to_end(model: &str) {
    let (tmp, c, p) = proved(model);
    let out = stage1::verify(&c.graph, c.id, &p).expect("an honest proof verifies");
    assert_eq!(out, p.output);
    // Through the files, as the CLI does.
    let path = tmp.path().join("proof.bin");
    artifact::write_proof(&path, &p).unwrap();
    let loaded = Compiled::load(&c.dir).unwrap();
    assert_eq!(stage1::verify(&loaded.graph, loaded.id, &artifact::read_proof(&path).unwrap()).unwrap(), out);
    // The proved output is the model's output: close to the float reference.
    let q = c.graph.dequantize_output(&out);
    let f = pipeline::reference(&c, &input(model)).unwrap();
    let err = q.iter().zip(&f).fold(0.0f64, |a, (x, y)| a.max((x - y).abs()));
    assert!(err < 0.05, "{model}: quantized {q:?} vs float {f:?}");
}

#[test]
fn price_mlp_end_to_end() {
    end_to_end("price_mlp");
}

#[test]
fn digits_mlp_end_to_end() {
    end_to_end("digits_mlp");
}

#[test]
fn lenet_end_to_end() {
    end_to_end("lenet");
}

/// The tiny GPT of `script/tiny_gpt.py` (2 pre-norm layers, d = 64, 16 tokens, causal attention
/// with Q·Kᵀ and A·V as products of two activations, softmax, LayerNorm, GELU MLP): proved,
/// verified, and its next-token choice per position the float model's.
#[test]
fn tiny_gpt_end_to_end() {
    let (_tmp, c, p) = proved("tiny_gpt");
    let out = stage1::verify(&c.graph, c.id, &p).expect("an honest proof verifies");
    let q = c.graph.dequantize_output(&out);
    let f = pipeline::reference(&c, &input("tiny_gpt")).unwrap();
    assert_eq!((q.len(), f.len()), (16 * 64, 16 * 64));
    let agree = q.chunks(64).zip(f.chunks(64)).filter(|(a, b)| argmax(a) == argmax(b)).count();
    assert!(agree >= 15, "next-token argmax agrees on {agree} of 16 positions");
    let scale = f.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let err = q.iter().zip(&f).fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    assert!(err < 0.05 * scale, "max error {err} against logits up to {scale}");
    let mut bad = p.clone();
    bad.output[0] += 1;
    assert!(stage1::verify(&c.graph, c.id, &bad).is_err(), "a changed logit is rejected");
}

#[test]
fn digits_quantized_argmax_matches_float_on_the_test_set() {
    #[derive(serde::Deserialize)]
    struct Set {
        input_data: Vec<Vec<f64>>,
    }
    let set: Set = serde_json::from_slice(&std::fs::read(data("digits_test.json")).unwrap()).unwrap();
    assert_eq!(set.input_data.len(), 297);
    // Calibrate on the shipped sample and a few held-out rows; measure on all 297.
    let mut samples = artifact::read_inputs(&data("digits_mlp.input.json")).unwrap();
    samples.extend(set.input_data.iter().step_by(10).cloned());
    let tmp = tempfile::tempdir().unwrap();
    let c = pipeline::compile(&data("digits_mlp.onnx"), &samples, QuantConfig::default(), tmp.path()).unwrap();
    let reference = zkml::onnx::Reference::load(&data("digits_mlp.onnx"), &c.graph.input_shape).unwrap();
    let agree = set
        .input_data
        .iter()
        .filter(|x| {
            let t = c.graph.execute(x).unwrap();
            let q = c.graph.dequantize_output(&c.graph.output_of(&t.segments[c.graph.output]));
            argmax(&q) == argmax(&reference.run(x).unwrap())
        })
        .count();
    assert!(agree * 100 >= 99 * 297, "argmax agreement {agree}/297");
}

// ---- rejections -------------------------------------------------------------------------------

#[test]
fn flipped_byte_anywhere_is_rejected() {
    let (tmp, c, p) = proved("price_mlp");
    let path = tmp.path().join("proof.bin");
    artifact::write_proof(&path, &p).unwrap();
    let good = std::fs::read(&path).unwrap();
    let bad_path = tmp.path().join("bad.bin");
    // Every section is hit: header, model id, statement, advice, messages (stride coprime to 32).
    let positions: Vec<usize> = (0..good.len()).step_by(97).chain([0, 7, 8, 40, good.len() - 1]).collect();
    for pos in positions {
        let mut b = good.clone();
        b[pos] ^= 0x10;
        std::fs::write(&bad_path, &b).unwrap();
        let accepted =
            artifact::read_proof(&bad_path).map(|q| stage1::verify(&c.graph, c.id, &q).is_ok()).unwrap_or(false);
        assert!(!accepted, "a proof with byte {pos} flipped was accepted");
    }
}

#[test]
fn proof_for_another_input_is_rejected() {
    let (_tmp, c, p) = proved("price_mlp");
    let mut other = input("price_mlp");
    other[3] += 0.5;
    let q_other = c.graph.quantize_input(&other).unwrap();
    assert_ne!(q_other, p.input);
    let forged = Stage1Proof { input: q_other, ..p.clone() };
    assert!(stage1::verify(&c.graph, c.id, &forged).is_err());
    // And a genuine proof of the other input says so: its statement differs.
    let p2 = pipeline::prove(&c, &other).unwrap();
    assert_ne!(p2.input, p.input);
}

/// A model.json that names what it does not have (a lookup of segment 999999) is refused when
/// loaded, naming the part and the id, before any proof is read; the library's verifier refuses
/// the same graph in memory.
#[test]
fn malformed_model_json_is_refused_by_name() {
    let (_tmp, c, p) = proved("price_mlp");
    let path = c.dir.join("model.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    v["lookups"][0]["input"] = serde_json::json!(999_999);
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    let err = Compiled::load(&c.dir).err().expect("a malformed model.json is refused").to_string();
    assert!(err.contains("model.json: lookup 0") && err.contains("segment 999999"), "{err}");
    let g: zkml::ir::QuantGraph = serde_json::from_value(v).unwrap();
    let id = stage1::model_id(&g);
    let err = stage1::verify(&g, id, &Stage1Proof { model_id: id, ..p }).unwrap_err();
    assert!(matches!(err, zkml::role::VerifyError::Model(_)), "{err}");
}

/// A graph whose linear nodes form a chain longer than the verifier recurses through
/// (`ir::MAX_DEPTH`) is refused by name; one just within the bound is accepted.
#[test]
fn too_deep_a_chain_of_nodes_is_refused() {
    use zkml::ir::{Kind, MAX_DEPTH, Node};
    let (_tmp, c) = compiled("price_mlp");
    // A chain of `extra` sums from a segment's node (a leaf: a chain of one).
    let chain = |g: &mut zkml::ir::QuantGraph, extra: usize| {
        let leaf = g.nodes.iter().position(|n| matches!(n.kind, Kind::Segment(_))).unwrap();
        let log_len = g.nodes[leaf].log_len;
        let mut last = leaf;
        for k in 0..extra {
            g.nodes.push(Node { kind: Kind::Lin(vec![(last, 1)]), log_len, origin: format!("chain {k}") });
            last = g.nodes.len() - 1;
        }
    };
    let mut ok = c.graph.clone();
    chain(&mut ok, MAX_DEPTH - 1);
    assert_eq!(ok.check(), Ok(()));
    let mut deep = c.graph.clone();
    chain(&mut deep, MAX_DEPTH);
    let err = deep.check().unwrap_err().to_string();
    assert!(err.contains(&format!("a chain of more than {MAX_DEPTH} linear nodes")), "{err}");
}

#[test]
fn proof_checked_against_another_model_is_rejected() {
    let (_tmp, _c, p) = proved("price_mlp");
    let tmp = tempfile::tempdir().unwrap();
    let other = compile("digits_mlp", tmp.path());
    let err = stage1::verify(&other.graph, other.id, &p).unwrap_err();
    assert!(matches!(err, zkml::role::VerifyError::ModelMismatch { .. }), "{err}");
    // Claiming the other model's id does not help.
    let forged = Stage1Proof { model_id: other.id, ..p };
    assert!(stage1::verify(&other.graph, other.id, &forged).is_err());
}

#[test]
fn changed_output_is_rejected() {
    let (_tmp, c, p) = proved("digits_mlp");
    for i in 0..p.output.len() {
        let mut forged = p.clone();
        forged.output[i] += 1;
        assert!(stage1::verify(&c.graph, c.id, &forged).is_err(), "output {i} changed by one was accepted");
    }
}

#[test]
fn truncated_proof_file_is_rejected_cleanly() {
    let (tmp, _c, p) = proved("price_mlp");
    let path = tmp.path().join("proof.bin");
    let n = artifact::write_proof(&path, &p).unwrap();
    let full = std::fs::read(&path).unwrap();
    for cut in [0, 4, 8, 100, n / 2, n - 1] {
        std::fs::write(&path, &full[..cut]).unwrap();
        assert!(artifact::read_proof(&path).is_err(), "a proof cut to {cut} bytes was read");
    }
    // Dropping messages inside a well-formed file is caught by the verifier.
    let mut short = p.clone();
    short.messages.pop();
    let (_t, c, _) = proved("price_mlp");
    assert_eq!(stage1::verify(&c.graph, c.id, &short).unwrap_err(), zkml::role::VerifyError::Truncated);
    assert!(compressed(&short).len() < compressed(&p).len());
}

/// A malicious prover shifts a quotient down by one and moves 2^k into the remainder: the
/// requantization identity still holds, but the remainder no longer fits its slot. Packed anyway
/// (spilling into the neighbouring slot), the proof must still be rejected.
#[test]
fn advice_outside_its_range_is_rejected() {
    use ark_ff::Field;
    let tmp = tempfile::tempdir().unwrap();
    let c = compile("price_mlp", tmp.path());
    let g = &c.graph;
    let honest = pipeline::prove(&c, &input("price_mlp")).unwrap();
    let mut trace = g.execute(&input("price_mlp")).unwrap();
    let rq = g.requants.iter().find(|r| !r.limbs.is_empty()).expect("a requantization with a remainder");
    let (limb, w) = rq.limbs[0];
    trace.segments[rq.q][0] -= 1;
    trace.segments[limb][0] += 1 << w;
    // Locate the limb's packed elements and re-pack its values without any range check.
    let mut at = 0;
    let mut forged = honest.clone();
    for (s, _) in stage1::layout(g).0 {
        let seg = &g.segments[s];
        if !stage1::is_private(seg.role) {
            continue;
        }
        let sent = seg.sent_positions();
        let n = zkml::pack::packed_len(sent.len(), seg.bits);
        if s == limb || s == rq.q {
            let off = if seg.signed { 1i64 << (seg.bits - 1) } else { 0 };
            for (k, chunk) in sent.chunks(zkml::pack::slots(seg.bits)).enumerate() {
                forged.advice[at + k] = chunk
                    .iter()
                    .enumerate()
                    .map(|(i, &p)| {
                        zkml::field::fe(trace.segments[s][p] + off)
                            * zkml::field::F::from(2u64).pow([(i as u32 * seg.bits) as u64])
                    })
                    .sum();
            }
        }
        at += n;
    }
    assert_ne!(forged.advice, honest.advice);
    assert!(stage1::verify(g, c.id, &forged).is_err());
}

/// Skipping the ReLU (passing a negative value through) breaks the lookup.
#[test]
fn skipped_relu_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let c = compile("price_mlp", tmp.path());
    let g = &c.graph;
    let mut trace = g.execute(&input("price_mlp")).unwrap();
    let l = &g.lookups[0];
    let (q, y) = (l.input, l.output);
    let i = trace.segments[q].iter().position(|&v| v < 0).expect("a negative pre-activation");
    trace.segments[y][i] = trace.segments[q][i];
    assert!(stage1::verify(g, c.id, &stage1::prove(g, c.id, &trace)).is_err());
}

/// A prover that computes a layer with other weights: the sumcheck no longer matches.
#[test]
fn wrong_linear_layer_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let c = compile("lenet", tmp.path());
    let g = &c.graph;
    let mut trace = g.execute(&input("lenet")).unwrap();
    // Change the first requantized pre-activation as if z had been different, consistently.
    let rq = &g.requants[0];
    trace.segments[rq.q][5] += 3;
    let p = stage1::prove(g, c.id, &trace);
    assert!(stage1::verify(g, c.id, &p).is_err());
}

#[test]
fn tampered_sumcheck_message_is_rejected() {
    let (_tmp, c, p) = proved("lenet");
    for i in [0, p.messages.len() / 3, p.messages.len() - 1] {
        let mut forged = p.clone();
        forged.messages[i] += ark_bn254::Fr::from(1u64);
        assert!(stage1::verify(&c.graph, c.id, &forged).is_err(), "message {i} altered was accepted");
    }
}

#[test]
fn replayed_proof_verifies_only_its_own_statement() {
    // A stage-1 proof is a statement about (model, input, output); replaying it proves nothing
    // new, and it cannot be re-targeted: tested above for input, output and model. Here: the
    // same proof twice gives the same answer (verification is deterministic).
    let (_tmp, c, p) = proved("price_mlp");
    assert_eq!(stage1::verify(&c.graph, c.id, &p).unwrap(), stage1::verify(&c.graph, c.id, &p).unwrap());
}

// ---- the command line -------------------------------------------------------------------------

#[test]
fn cli_compile_prove_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    let (d, i, m) = (dir.to_str().unwrap(), data("price_mlp.input.json"), data("price_mlp.onnx"));
    let (ok, log) = zkml(&["compile", m.to_str().unwrap(), "--calibrate", i.to_str().unwrap(), "--out", d]);
    assert!(ok, "{log}");
    let settings: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("settings.json")).unwrap()).unwrap();
    assert_eq!(settings["input"]["shape"], serde_json::json!([1, 16]));
    assert_eq!(settings["input"]["visibility"], "public");
    let proof = tmp.path().join("p.bin");
    let (ok, log) = zkml(&["prove", d, "--input", i.to_str().unwrap(), "--out", proof.to_str().unwrap()]);
    assert!(ok, "{log}");
    let out: serde_json::Value =
        serde_json::from_slice(&std::fs::read(artifact::output_path(&proof)).unwrap()).unwrap();
    assert_eq!(out["output_data"][0].as_array().unwrap().len(), 1);
    let (ok, log) = zkml(&["verify", d, proof.to_str().unwrap()]);
    assert!(ok && log.contains("proof is valid"), "{log}");
    let (ok, log) = zkml(&["verify", d, proof.to_str().unwrap(), "--input", i.to_str().unwrap()]);
    assert!(ok && log.contains("proof is valid"), "{log}");
    // The same valid proof, asked about another input.
    let other = tmp.path().join("other.json");
    let mut x = artifact::read_inputs(&i).unwrap().remove(0);
    x[0] += 1.0;
    std::fs::write(&other, serde_json::json!({ "input_data": [x] }).to_string()).unwrap();
    let (ok, log) = zkml(&["verify", d, proof.to_str().unwrap(), "--input", other.to_str().unwrap()]);
    assert!(!ok && log.contains("proves another input"), "{log}");
    let (ok, log) = zkml(&["run", d, "--input", i.to_str().unwrap()]);
    assert!(ok && log.contains("float reference"), "{log}");
    // A corrupt proof: exit code 1 and a reason.
    let mut b = std::fs::read(&proof).unwrap();
    let n = b.len();
    b[n - 5] ^= 1;
    std::fs::write(&proof, &b).unwrap();
    let (ok, log) = zkml(&["verify", d, proof.to_str().unwrap()]);
    assert!(!ok && log.contains("error"), "{log}");
}

#[test]
fn cli_rejects_a_malformed_onnx_file() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.onnx");
    std::fs::write(&bad, b"this is not protobuf \xff\xff\xff").unwrap();
    let i = data("price_mlp.input.json");
    let (ok, log) = zkml(&[
        "compile",
        bad.to_str().unwrap(),
        "--calibrate",
        i.to_str().unwrap(),
        "--out",
        tmp.path().join("o").to_str().unwrap(),
    ]);
    assert!(!ok && log.contains("not a valid ONNX model"), "{log}");
}

#[test]
fn cli_rejects_a_wrong_input_length() {
    let tmp = tempfile::tempdir().unwrap();
    let c = compile("price_mlp", tmp.path());
    let short = tmp.path().join("short.json");
    std::fs::write(&short, r#"{"input_data": [[0.1, 0.2, 0.3]]}"#).unwrap();
    let (ok, log) = zkml(&[
        "prove",
        c.dir.to_str().unwrap(),
        "--input",
        short.to_str().unwrap(),
        "--out",
        tmp.path().join("p").to_str().unwrap(),
    ]);
    assert!(!ok && log.contains("the input has 3 values; the model expects 16"), "{log}");
    let not_json = tmp.path().join("x.json");
    std::fs::write(&not_json, "input_data = 1").unwrap();
    let (ok, log) = zkml(&["run", c.dir.to_str().unwrap(), "--input", not_json.to_str().unwrap()]);
    assert!(!ok && log.contains("is not an input file"), "{log}");
    let (ok, log) = zkml(&["verify", tmp.path().to_str().unwrap(), short.to_str().unwrap()]);
    assert!(!ok && log.contains("not a compiled model directory"), "{log}");
    let (ok, log) = zkml(&["verify", c.dir.to_str().unwrap(), short.to_str().unwrap()]);
    assert!(!ok && log.contains("not a zkml proof file"), "{log}");
}
