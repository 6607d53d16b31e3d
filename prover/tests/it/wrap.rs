//! The wrap: its circuit satisfied by an honest run and its seeded stage-1 messages, unsatisfied by
//! every rejected one; its proofs verified and tampered ones refused, natively and through the
//! binary.

use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
use zkml::artifact::{self, Compiled};
use zkml::field::F;
use zkml::ir::Trace;
use zkml::lookup::TableKind;
use zkml::pipeline;
use zkml::quantize::QuantConfig;
use zkml::stage1;
use zkml::wrap::circuit::{Part, RangePlan, Witness, WrapCircuit};

use crate::common::{compiled, data, input, zkml};

/// Proving synthesizes the circuit in witness-only mode against the matrices stored at setup:
/// checks that the witness-only assignment for `w` equals the assignment of a full synthesis and
/// satisfies the setup's matrices; returns both.
fn witness_only_equals_full(c: &Compiled, w: &Witness) -> (zkml::wrap::groth16::R1cs, Vec<F>) {
    use zkml::wrap::groth16::{R1cs, assignment};
    let part = Part::All;
    let circuit = || WrapCircuit { graph: &c.graph, id: c.id, context: F::from(7u64), witness: Some(w), part };
    let cs = ConstraintSystem::<F>::new_ref();
    cs.set_optimization_goal(ark_relations::gr1cs::OptimizationGoal::Constraints);
    circuit().generate_constraints(cs.clone()).unwrap();
    cs.finalize();
    let full = {
        let cs = cs.borrow().unwrap();
        [cs.instance_assignment().unwrap(), cs.witness_assignment().unwrap()].concat()
    };
    let z = assignment(circuit()).unwrap();
    assert_eq!(z, full);
    let r1cs = R1cs::synthesize(WrapCircuit { graph: &c.graph, id: c.id, context: F::from(0u64), witness: None, part })
        .unwrap();
    assert_eq!((r1cs.num_constraints(), r1cs.num_variables()), (cs.num_constraints(), z.len()));
    assert_eq!(r1cs.first_unsatisfied(&z).unwrap(), None);
    (r1cs, z)
}

/// A hashed input: the proof file holds the commitment, not one input value; the commitment
/// opens with the salt `prove` wrote, and not with another.
#[test]
fn hashed_input_reveals_only_its_commitment() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("m");
    let (m, i) = (data("price_mlp.onnx"), data("price_mlp.input.json"));
    let (ok, log) = zkml(&[
        "compile",
        m.to_str().unwrap(),
        "--calibrate",
        i.to_str().unwrap(),
        "--out",
        d.to_str().unwrap(),
        "--input-visibility",
        "hashed",
    ]);
    assert!(ok, "{log}");
    let settings: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("settings.json")).unwrap()).unwrap();
    assert_eq!(settings["input"]["visibility"], "hashed");
    assert_eq!(settings["public_inputs"][2]["name"], "input_commitment");
    // A stage-1 proof would carry the input in the clear: refused without --wrap, unless asked for.
    let s1 = tmp.path().join("s1.bin");
    let (ok, log) =
        zkml(&["prove", d.to_str().unwrap(), "--input", i.to_str().unwrap(), "--out", s1.to_str().unwrap()]);
    assert!(
        !ok && log.contains("input is hashed") && log.contains("in the clear") && log.contains("use --wrap"),
        "{log}"
    );
    assert!(!s1.exists(), "nothing written");
    let (ok, log) = zkml(&[
        "prove",
        d.to_str().unwrap(),
        "--input",
        i.to_str().unwrap(),
        "--out",
        s1.to_str().unwrap(),
        "--reveal-private",
    ]);
    assert!(ok && log.contains("WARNING: --reveal-private"), "{log}");
    let (ok, log) = zkml(&["verify", d.to_str().unwrap(), s1.to_str().unwrap(), "--input", i.to_str().unwrap()]);
    assert!(ok && log.contains("proof is valid"), "{log}");
    assert!(zkml(&["setup", d.to_str().unwrap(), "--dev-seed", "5"]).0);
    let proof = tmp.path().join("p.bin");
    let (ok, log) = zkml(&[
        "prove",
        d.to_str().unwrap(),
        "--input",
        i.to_str().unwrap(),
        "--out",
        proof.to_str().unwrap(),
        "--wrap",
    ]);
    assert!(ok, "{log}");
    let artifact::AnyProof::TwoRound(w) = artifact::read_any_proof(&proof).unwrap() else {
        panic!("no wrapped proof was written")
    };
    assert_eq!(w.public_inputs.len(), 4, "model id, context, input commitment, packed output");
    // No input value, packed or alone, appears in the file.
    let c = Compiled::load(&d).unwrap();
    let bytes = std::fs::read(&proof).unwrap();
    let q = c.graph.quantize_input(&input("price_mlp")).unwrap();
    let seg = &c.graph.segments[c.graph.input];
    for f in zkml::pack::pack(&q, seg.bits, seg.signed).unwrap() {
        let mut b = vec![];
        ark_serialize::CanonicalSerialize::serialize_compressed(&f, &mut b).unwrap();
        assert!(!bytes.windows(b.len()).any(|x| x == b.as_slice()), "a packed input element is in the proof file");
    }
    for v in &q {
        let b = v.to_le_bytes();
        assert!(!bytes.windows(8).any(|x| x == b), "input value {v} is in the proof file");
    }
    let salt = std::fs::read_to_string(format!("{}.input.salt", proof.display())).unwrap();
    let (ok, log) = zkml(&[
        "verify",
        d.to_str().unwrap(),
        proof.to_str().unwrap(),
        "--input",
        i.to_str().unwrap(),
        "--input-salt",
        &salt,
    ]);
    assert!(ok && log.contains("input commitment"), "{log}");
    let (ok, log) = zkml(&[
        "verify",
        d.to_str().unwrap(),
        proof.to_str().unwrap(),
        "--input",
        i.to_str().unwrap(),
        "--input-salt",
        "12345",
    ]);
    assert!(!ok && log.contains("another input"), "{log}");
    // A committed input needs its salt, as a field element.
    let verify_input = |extra: &[&str]| {
        zkml(
            &[&["verify", d.to_str().unwrap(), proof.to_str().unwrap(), "--input", i.to_str().unwrap()], extra]
                .concat(),
        )
    };
    let (ok, log) = verify_input(&[]);
    assert!(!ok && log.contains("give its salt with --input-salt"), "{log}");
    let (ok, log) = verify_input(&["--input-salt", "0xzz"]);
    assert!(!ok && log.contains("--input-salt must be a decimal field element"), "{log}");
}

/// A model with function tables (Sigmoid, Tanh): the circuit computes every table row from the
/// table's description, as the native verifier does, and rejects an output not in the table.
#[test]
fn function_tables_in_the_circuit() {
    use prost::Message;
    use tract_onnx::pb::{
        GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TypeProto, ValueInfoProto,
        tensor_shape_proto, type_proto,
    };
    let t = |name: &str, dims: &[i64], data: Vec<f32>| TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 1,
        float_data: data,
        ..Default::default()
    };
    let n = |op: &str, i: &[&str], o: &str| NodeProto {
        name: format!("{op}_{o}"),
        op_type: op.into(),
        input: i.iter().map(|s| s.to_string()).collect(),
        output: vec![o.into()],
        ..Default::default()
    };
    let dims = [1i64, 4]
        .iter()
        .map(|&d| tensor_shape_proto::Dimension {
            value: Some(tensor_shape_proto::dimension::Value::DimValue(d)),
            ..Default::default()
        })
        .collect();
    let input = ValueInfoProto {
        name: "input".into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: 1,
                shape: Some(tract_onnx::pb::TensorShapeProto { dim: dims }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    };
    let w1: Vec<f32> = (0..12).map(|i| ((i * 7 % 11) as f32 - 5.0) / 6.0).collect();
    let w2: Vec<f32> = (0..6).map(|i| ((i * 5 % 7) as f32 - 3.0) / 4.0).collect();
    let graph = GraphProto {
        node: vec![
            n("MatMul", &["input", "w1"], "a"),
            n("Sigmoid", &["a"], "s"),
            n("MatMul", &["s", "w2"], "b"),
            n("Tanh", &["b"], "out"),
        ],
        initializer: vec![t("w1", &[4, 3], w1), t("w2", &[3, 2], w2)],
        input: vec![input],
        output: vec![ValueInfoProto { name: "out".into(), ..Default::default() }],
        ..Default::default()
    };
    let m = ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 13 }],
        graph: Some(graph),
        ..Default::default()
    };
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("tables.onnx");
    std::fs::write(&path, m.encode_to_vec()).unwrap();
    let x = vec![0.5, -1.0, 0.25, 2.0];
    let c = pipeline::compile(
        &path,
        &[x.clone(), vec![-1.5, 1.0, 0.0, -0.5]],
        QuantConfig::default(),
        &tmp.path().join("d"),
    )
    .unwrap();
    assert!(c.graph.tables.iter().any(|t| matches!(t.kind, zkml::lookup::TableKind::Func { .. })));
    // A sigmoid output one step off its table value.
    let g = &c.graph;
    let mut trace = g.execute(&x).unwrap();
    let l = &g.lookups[0];
    trace.segments[l.output][0] += 1;
    let bad = zkml::stage1::prove(g, c.id, &trace);
    assert!(zkml::stage1::verify(g, c.id, &bad).is_err(), "the native verifier rejects it");
    // The circuit: the function tables' LogUp beside the range tables'.
    let seed = F::from(SEED);
    assert!(two_round_satisfied(&c, &two_round_witness(&c, &g.execute(&x).unwrap(), seed)), "honest run");
    assert!(!two_round_satisfied(&c, &two_round_witness(&c, &trace, seed)), "so does the circuit");
    // A lookup multiplicity that does not balance: one count moved to the next row of the
    // sigmoid's table, everything else honest.
    assert!(RangePlan::new(g).direct.is_empty(), "function tables go through LogUp");
    let mut mults = g.execute(&x).unwrap();
    let m = &mut mults.segments[g.table_mults[l.table]];
    let k = m.iter().position(|&n| n > 0).unwrap();
    m[k] -= 1;
    let next = (k + 1) % m.len();
    m[next] += 1;
    assert!(!two_round_satisfied(&c, &two_round_witness(&c, &mults, seed)), "unbalanced multiplicities");
}

/// `zkml context` prints the context as a decimal field element and as 32 hex bytes; a bad spec
/// is an error that names the bad part, never a panic.
#[test]
fn context_command() {
    let addr = format!("0x{}", "11".repeat(20));
    let (ok, out) = zkml(&["context", &format!("oracle:31337:{addr}:1800000000")]);
    assert!(ok, "{out}");
    let c = zkml::context::oracle(31337, [0x11; 20], 1_800_000_000);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, [zkml::context::to_field(c).to_string(), format!("0x{}", zkml::context::hex(&c))]);
    let (ok, out) = zkml(&["context", "12345"]);
    assert!(ok && out.starts_with("12345\n0x"), "{out}");
    let rh = format!("0x{}", "ab".repeat(32));
    for (spec, part) in [
        (format!("erc8004:1:{addr}:seven:{rh}"), "agent id \"seven\""),
        (format!("erc8004:1:{addr}:7"), "has 3 field(s)"),
        (format!("oracle:one:{addr}:7"), "chain id \"one\""),
        (format!("escrow:1:{addr}:0x1234"), "request id \"0x1234\""),
        ("nonsense".to_string(), "unknown context"),
        (<F as ark_ff::PrimeField>::MODULUS.to_string(), "not below the BN254 scalar modulus"),
    ] {
        let (ok, out) = zkml(&["context", &spec]);
        assert!(!ok && out.contains(part) && !out.contains("panicked"), "{spec}: {out}");
    }
}

/// A reader that stops early (`zkml context … | head -1` closes the pipe) ends the CLI quietly
/// with SIGPIPE's status, 141, not a panic and not a success.
#[test]
fn a_closed_stdout_ends_the_cli_quietly() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zkml"))
        .args(["context", "12345"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

/// `zkml serve` runs the `zkml-serve` beside `zkml` (found from `zkml`'s own path) with the
/// same arguments, and ends with its status; with none there, an error says where it looked.
#[test]
fn serve_runs_the_server_binary_beside_zkml() {
    // A hard link, not a copy: no executable is written here, which a test running beside this
    // one could fork while it is open ("text file busy"); zkml-serve stands in as echo, then false.
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let zkml = tmp.path().join("zkml");
    std::fs::hard_link(env!("CARGO_BIN_EXE_zkml"), &zkml).unwrap();
    let run = |args: &[&str]| std::process::Command::new(&zkml).args(args).output().unwrap();
    let out = run(&["serve", "--models", "a b", "--help"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains(&format!("{} is missing", tmp.path().join("zkml-serve").display())), "{stderr}");
    let server = tmp.path().join("zkml-serve");
    std::os::unix::fs::symlink("/bin/echo", &server).unwrap();
    let out = run(&["serve", "--models", "a b", "--help"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "--models a b --help\n");
    std::fs::remove_file(&server).unwrap();
    std::os::unix::fs::symlink("/bin/false", &server).unwrap();
    assert_eq!(run(&["serve"]).status.code(), Some(1));
    // `zkml worker` runs zkml-worker the same way.
    let out = run(&["worker", "--name", "w"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("zkml-worker is missing"));
    std::os::unix::fs::symlink("/bin/echo", tmp.path().join("zkml-worker")).unwrap();
    assert_eq!(String::from_utf8_lossy(&run(&["worker", "--name", "w"]).stdout), "--name w\n");
    // And `zkml pay` runs zkml-pay.
    assert!(String::from_utf8_lossy(&run(&["pay", "http://h"]).stderr).contains("zkml-pay is missing"));
    std::os::unix::fs::symlink("/bin/echo", tmp.path().join("zkml-pay")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&run(&["pay", "http://h", "--max-price", "1"]).stdout),
        "http://h --max-price 1\n"
    );
}

/// A private output would leave the wrapped proof saying nothing about the result: compile
/// refuses it and points to `hashed`. A private input compiles, but its stage-1 proof is refused.
#[test]
fn private_output_is_refused_and_hidden_inputs_need_the_wrap() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("m");
    let (m, i) = (data("price_mlp.onnx"), data("price_mlp.input.json"));
    let compile = |extra: &[&str]| {
        let mut args =
            vec!["compile", m.to_str().unwrap(), "--calibrate", i.to_str().unwrap(), "--out", d.to_str().unwrap()];
        args.extend_from_slice(extra);
        zkml(&args)
    };
    let (ok, log) = compile(&["--output-visibility", "private"]);
    assert!(
        !ok && log.contains("--output-visibility private is refused") && log.contains("--output-visibility hashed"),
        "{log}"
    );
    assert!(!d.exists(), "nothing written");
    let cfg = QuantConfig { output_visibility: zkml::ir::Visibility::Private, ..QuantConfig::default() };
    let samples = artifact::read_inputs(&i).unwrap();
    let Err(e) = pipeline::compile(&m, &samples, cfg, &d) else { panic!("a private output compiled") };
    assert!(e.to_string().contains("--output-visibility hashed"), "{e}");
    let (ok, log) = compile(&["--input-visibility", "private", "--output-visibility", "hashed"]);
    assert!(ok, "{log}");
    let proof = tmp.path().join("p.bin");
    let (ok, log) =
        zkml(&["prove", d.to_str().unwrap(), "--input", i.to_str().unwrap(), "--out", proof.to_str().unwrap()]);
    assert!(!ok && log.contains("input is private and its output is hashed") && log.contains("use --wrap"), "{log}");
    assert!(!proof.exists());
    // --reveal-private makes no sense with --wrap.
    let (ok, log) = zkml(&[
        "prove",
        d.to_str().unwrap(),
        "--input",
        i.to_str().unwrap(),
        "--out",
        proof.to_str().unwrap(),
        "--wrap",
        "--reveal-private",
    ]);
    assert!(!ok && log.contains("cannot be used with"), "{log}");
}

/// The two-round wrap runs stage 1 with its transcript seeded by `c` instead of absorbing the
/// advice: such a proof verifies with its seed and no other, is not a standalone proof, and
/// still fails on advice changed after the seed.
#[test]
fn seeded_stage1_proofs_verify_only_with_their_seed() {
    use zkml::stage1::{self, Binding};
    let (_t, c) = compiled("lenet");
    let g = &c.graph;
    let trace = g.execute(&input("lenet")).unwrap();
    let seed = Binding::Seed(F::from(123_456_789u64));
    let p = stage1::prove_with(g, c.id, &trace, seed);
    assert_eq!(stage1::verify_with(g, c.id, &p, seed).unwrap(), p.output);
    assert!(stage1::verify_with(g, c.id, &p, Binding::Seed(F::from(123_456_790u64))).is_err(), "another seed");
    assert!(stage1::verify(g, c.id, &p).is_err(), "a seeded proof is not a standalone one");
    assert!(stage1::verify_with(g, c.id, &stage1::prove(g, c.id, &trace), seed).is_err(), "and conversely");
    let mut advice = p.clone();
    advice.advice[7] += F::from(1u64);
    assert!(stage1::verify_with(g, c.id, &advice, seed).is_err(), "a packed advice element changed");
    // An in-range change to one quotient, proved honestly from there: the seed does not depend
    // on the advice, so only the protocol's checks can catch it, and they do.
    let mut wrong = g.execute(&input("lenet")).unwrap();
    let q = g.requants[0].q;
    wrong.segments[q][0] += if wrong.segments[q][0] > 0 { -1 } else { 1 };
    assert!(
        stage1::verify_with(g, c.id, &stage1::prove_with(g, c.id, &wrong, seed), seed).is_err(),
        "a wrong quotient"
    );
    let mut out = p.clone();
    out.output[0] += 1;
    assert!(stage1::verify_with(g, c.id, &out, seed).is_err(), "another output");
}

// The wrap (`zkml::wrap::two_round`).

const SEED: u64 = 987_654_321;

/// The two-round circuit's witness for a run and the stage-1 messages seeded with `seed`.
fn two_round_witness(c: &Compiled, trace: &Trace, seed: F) -> Witness {
    let mut w = Witness::from_run(&c.graph, trace.segments.clone(), [F::from(1u64), F::from(2u64)]).unwrap();
    w.seed = seed;
    w.messages = stage1::seeded_messages(&c.graph, c.id, trace, seed);
    w
}

fn two_round_satisfied(c: &Compiled, w: &Witness) -> bool {
    let cs = ConstraintSystem::<F>::new_ref();
    let circuit = WrapCircuit { graph: &c.graph, id: c.id, context: F::from(7u64), witness: Some(w), part: Part::All };
    if circuit.generate_constraints(cs.clone()).is_err() {
        return false;
    }
    eprintln!("{} constraints, {} witnesses", cs.num_constraints(), cs.num_witness_variables());
    cs.is_satisfied().unwrap()
}

#[test]
fn two_round_honest_price_mlp_run_satisfies_the_circuit() {
    let (_t, c) = compiled("price_mlp");
    let trace = c.graph.execute(&input("price_mlp")).unwrap();
    assert!(two_round_satisfied(&c, &two_round_witness(&c, &trace, F::from(SEED))));
}

#[test]
fn two_round_rejected_runs_leave_the_circuit_unsatisfied() {
    let (_t, c) = compiled("price_mlp");
    let g = &c.graph;
    let seed = F::from(SEED);
    let trace = g.execute(&input("price_mlp")).unwrap();
    let honest = two_round_witness(&c, &trace, seed);
    let mut out = two_round_witness(&c, &trace, seed);
    out.segments[g.output][0] += 1;
    out.packed = Witness::from_run(g, out.segments.clone(), out.salts).unwrap().packed;
    assert!(!two_round_satisfied(&c, &out), "changed output");
    let mut msg = two_round_witness(&c, &trace, seed);
    msg.messages[3] += F::from(1u64);
    assert!(!two_round_satisfied(&c, &msg), "tampered message");
    let mut short = two_round_witness(&c, &trace, seed);
    short.messages.pop();
    assert!(!two_round_satisfied(&c, &short), "a missing message");
    // The messages of another seed: a proof whose challenges are not the circuit's.
    let mut other_seed = two_round_witness(&c, &trace, seed + F::from(1u64));
    other_seed.seed = seed;
    assert!(!two_round_satisfied(&c, &other_seed), "messages of another seed");
    // Advice changed after the seed (the messages are the honest run's).
    let mut after = two_round_witness(&c, &trace, seed);
    let q = g.requants[0].q;
    after.segments[q][0] += if after.segments[q][0] > 0 { -1 } else { 1 };
    assert!(!two_round_satisfied(&c, &after), "a quotient changed after the seed");
    let mut inp = g.execute(&input("price_mlp")).unwrap();
    inp.segments[g.input][0] += 1;
    assert!(!two_round_satisfied(&c, &two_round_witness(&c, &inp, seed)), "another input");
    // A ReLU passing a negative value through, proved honestly from there.
    let mut relu = g.execute(&input("price_mlp")).unwrap();
    let l = &g.lookups[0];
    let i = relu.segments[l.input].iter().position(|&v| v < 0).unwrap();
    relu.segments[l.output][i] = relu.segments[l.input][i];
    assert!(!two_round_satisfied(&c, &two_round_witness(&c, &relu, seed)), "skipped ReLU");
    // The last requantization's remainder taken out of its range and paid for by its quotient:
    // `z + o = 2^k·(q + 1) + (r − 2^k)` still holds, so only the range check of the remainder
    // stands between this and an output one step higher.
    let rq = g.requants.iter().find(|r| r.q == g.output).expect("the output is a requantization's quotient");
    let (limb, _) = rq.limbs[rq.limbs.len() - 1];
    let mut shifted = g.execute(&input("price_mlp")).unwrap();
    shifted.segments[g.output][0] += 1;
    shifted.segments[limb][0] -= 1i64 << (rq.shift - rq.limbs[..rq.limbs.len() - 1].iter().map(|l| l.1).sum::<u32>());
    let seg = &g.segments[limb];
    assert!(
        zkml::pack::pack(&shifted.segments[limb], seg.bits, seg.signed).is_err(),
        "natively the remainder fits no slot"
    );
    let mut w = two_round_witness(&c, &trace, seed);
    w.segments = shifted.segments.clone();
    w.messages = stage1::seeded_messages(g, c.id, &shifted, seed);
    let k = stage1::layout(g).0.iter().position(|&(s, _)| s == g.output).unwrap();
    w.packed[k] = out.packed[k].clone();
    assert!(!two_round_satisfied(&c, &w), "a remainder out of its range");
    assert!(two_round_satisfied(&c, &honest), "the honest witness still satisfies it");
    // price_mlp's ReLU table is checked pair by pair, not by LogUp (its multiplicities are no
    // wires: `function_tables_in_the_circuit` unbalances a LogUp table's). Whole runs of models
    // whose ReLU is another function — every other step of them honest, the messages proved from
    // there — must fail that check alone.
    assert_eq!(RangePlan::new(g).direct, vec![g.lookups[0].table]);
    for (what, run) in price_mlp_runs_with_another_relu(&c) {
        assert_ne!(run.segments[g.output], trace.segments[g.output], "{what} changes the output");
        assert!(!two_round_satisfied(&c, &two_round_witness(&c, &run, seed)), "{what}");
    }
    // Another model's run: its witness does not even fit this circuit.
    let (_t2, d) = compiled("digits_mlp");
    let other = d.graph.execute(&input("digits_mlp")).unwrap();
    let ow = two_round_witness(&d, &other, seed);
    assert!(!two_round_satisfied(&c, &ow), "another model's run");
}

/// Whole runs of price_mlp whose first ReLU table is another function, each step of them honest
/// from there: passing negative values through, zeroing positive ones, passing −1 through (a
/// value the range check of `2y − x` lets pass; only the product `y·(y − x)` catches it).
fn price_mlp_runs_with_another_relu(c: &Compiled) -> Vec<(&'static str, Trace)> {
    let g = &c.graph;
    [
        (TableKind::Clip { lo: i64::MIN, hi: i64::MAX }, "a ReLU passing negative values through"),
        (TableKind::Clip { lo: 0, hi: 0 }, "a ReLU zeroing positive values"),
        (TableKind::Clip { lo: -1, hi: i64::MAX }, "a ReLU passing −1 through"),
    ]
    .into_iter()
    .map(|(kind, what)| {
        let mut other = g.clone();
        other.tables[g.lookups[0].table].kind = kind;
        (what, other.execute(&input("price_mlp")).unwrap())
    })
    .collect()
}

/// The protocol runs under three roles: the native prover records, the native verifier and the
/// wrap circuit check. Each negative case of stage 1 through both checking roles, from the same
/// tampered run or messages: the native verifier (a proof seeded as the wrap seeds it) returns an
/// error and the circuit is unsatisfied. `cargo test --workspace three_roles` runs it.
#[test]
fn three_roles_reject_each_negative_case() {
    use zkml::stage1::{Binding, Stage1Proof};
    let (_t, c) = compiled("price_mlp");
    let g = &c.graph;
    let seed = F::from(SEED);
    let run = || g.execute(&input("price_mlp")).unwrap();
    let native_rejects = |trace: &Trace, proved_with: F, tamper: &dyn Fn(&mut Stage1Proof)| {
        let mut p = stage1::prove_with(g, c.id, trace, Binding::Seed(proved_with));
        tamper(&mut p);
        stage1::verify_with(g, c.id, &p, Binding::Seed(seed)).is_err()
    };
    let circuit_rejects = |trace: &Trace, proved_with: F, tamper: &dyn Fn(&mut Witness)| {
        let mut w = two_round_witness(&c, trace, proved_with);
        w.seed = seed;
        tamper(&mut w);
        !two_round_satisfied(&c, &w)
    };
    let honest = run();
    assert!(!native_rejects(&honest, seed, &|_| ()) && !circuit_rejects(&honest, seed, &|_| ()), "the honest run");
    let mut cases: Vec<(&str, bool, bool)> = vec![
        (
            "another output",
            native_rejects(&honest, seed, &|p| p.output[0] += 1),
            circuit_rejects(&honest, seed, &|w| {
                w.segments[g.output][0] += 1;
                w.packed = Witness::from_run(g, w.segments.clone(), w.salts).unwrap().packed;
            }),
        ),
        (
            "a tampered message",
            native_rejects(&honest, seed, &|p| p.messages[3] += F::from(1u64)),
            circuit_rejects(&honest, seed, &|w| w.messages[3] += F::from(1u64)),
        ),
        (
            "a missing message",
            native_rejects(&honest, seed, &|p| {
                p.messages.pop();
            }),
            circuit_rejects(&honest, seed, &|w| {
                w.messages.pop();
            }),
        ),
        (
            "the messages of another seed",
            native_rejects(&honest, seed + F::from(1u64), &|_| ()),
            circuit_rejects(&honest, seed + F::from(1u64), &|_| ()),
        ),
    ];
    let mut quotient = run();
    let q = g.requants[0].q;
    quotient.segments[q][0] += if quotient.segments[q][0] > 0 { -1 } else { 1 };
    let mut other_input = run();
    other_input.segments[g.input][0] += 1;
    let mut runs = vec![("a quotient one off, proved from there", quotient), ("another input", other_input)];
    runs.extend(price_mlp_runs_with_another_relu(&c));
    for (what, trace) in &runs {
        cases.push((what, native_rejects(trace, seed, &|_| ()), circuit_rejects(trace, seed, &|_| ())));
    }
    let missed: Vec<String> = cases
        .iter()
        .filter(|(_, native, circuit)| !(native & circuit))
        .map(|(what, native, circuit)| format!("{what}: native verifier rejects {native}, circuit {circuit}"))
        .collect();
    assert!(missed.is_empty(), "{missed:#?}");
    assert_eq!(cases.len(), 9);
}

#[test]
fn two_round_wrap_of_price_mlp() {
    two_round_wrap("price_mlp");
}

#[test]
fn two_round_wrap_of_digits_mlp() {
    two_round_wrap("digits_mlp");
}

#[test]
fn two_round_wrap_of_lenet() {
    let (_t, c) = compiled("lenet");
    // Thousands of pairs in its ReLU table: LogUp's one constraint a pair and a row is cheaper.
    assert!(RangePlan::new(&c.graph).direct.is_empty());
    let trace = c.graph.execute(&input("lenet")).unwrap();
    let (pk, vk) = zkml::wrap::two_round::dev_setup(&c.graph, c.id, 1).unwrap();
    let w = zkml::wrap::two_round::prove(
        &pk,
        &c.graph,
        c.id,
        F::from(1u64),
        [F::from(0u64); 2],
        &trace,
        &mut rand::rngs::OsRng,
    )
    .unwrap();
    assert!(zkml::wrap::two_round::verify(&vk, &w));
    assert_eq!(
        zkml::wrap::two_round::output_of(&c.graph, &w).unwrap().unwrap(),
        c.graph.output_of(&trace.segments[c.graph.output])
    );
}

/// Honest proofs verify and are randomized (D included); a changed public input, a moved D, a
/// D from another proof (so another seed) and each proof point moved are rejected.
pub(crate) fn two_round_wrap(model: &str) {
    use ark_ec::{AffineRepr, CurveGroup};
    use ark_std::rand::{SeedableRng, rngs::StdRng};
    let (_t, c) = compiled(model);
    let trace = c.graph.execute(&input(model)).unwrap();
    let (pk, vk) = zkml::wrap::two_round::dev_setup(&c.graph, c.id, 1).unwrap();
    let mut rng = StdRng::seed_from_u64(42);
    let a =
        zkml::wrap::two_round::prove(&pk, &c.graph, c.id, F::from(5u64), [F::from(0u64); 2], &trace, &mut rng).unwrap();
    let b =
        zkml::wrap::two_round::prove(&pk, &c.graph, c.id, F::from(5u64), [F::from(0u64); 2], &trace, &mut rng).unwrap();
    assert!(zkml::wrap::two_round::verify(&vk, &a) && zkml::wrap::two_round::verify(&vk, &b));
    assert_ne!(a.proof.d, b.proof.d, "commitments are blinded");
    assert_ne!(a.seed(), b.seed(), "so the seeds differ");
    assert_eq!(a.public_inputs, b.public_inputs);
    for i in 0..a.public_inputs.len() {
        let mut x = a.clone();
        x.public_inputs[i] += F::from(1u64);
        assert!(!zkml::wrap::two_round::verify(&vk, &x), "public input {i} changed and still verified");
    }
    let g = ark_bn254::G1Affine::generator();
    let mut moved = a.clone();
    moved.proof.d = (moved.proof.d + g).into_affine();
    assert!(!zkml::wrap::two_round::verify(&vk, &moved), "D moved");
    let mut swapped = a.clone();
    swapped.proof.d = b.proof.d;
    assert!(!zkml::wrap::two_round::verify(&vk, &swapped), "another proof's D (another seed)");
    for k in 0..2 {
        let mut x = a.clone();
        if k == 0 {
            x.proof.proof.a = (x.proof.proof.a + g).into_affine()
        } else {
            x.proof.proof.c = (x.proof.proof.c + g).into_affine()
        }
        assert!(!zkml::wrap::two_round::verify(&vk, &x), "point {k} moved");
    }
    let mut mixed = a.clone();
    mixed.proof.proof = b.proof.proof;
    assert!(!zkml::wrap::two_round::verify(&vk, &mixed), "A, B, C of one proof with D of another");
}

/// The wrap circuit's size for each model, pinned: a change to the protocol's code shared by its
/// roles (field.rs's eq tables and interpolation, native and in the circuit) must not change the
/// circuit unnoticed.
#[test]
fn three_roles_leave_the_circuit_sizes_pinned() {
    for (model, constraints) in [("price_mlp", 12_537), ("digits_mlp", 15_473), ("lenet", 111_141)] {
        let (_t, c) = compiled(model);
        let r1cs = zkml::wrap::two_round::synthesize(&c.graph, c.id).unwrap();
        assert_eq!(r1cs.num_constraints(), constraints, "{model}");
    }
}

#[test]
fn two_round_witness_only_assignment_equals_the_full_synthesis() {
    use zkml::wrap::groth16::assignment;
    let (_t, c) = compiled("price_mlp");
    let w = two_round_witness(&c, &c.graph.execute(&input("price_mlp")).unwrap(), F::from(SEED));
    let (r1cs, z) = witness_only_equals_full(&c, &w);
    // Round 1 alone allocates exactly the first witness wires of the full assignment: what D
    // commits to is what the rest of the circuit uses.
    let round1 =
        WrapCircuit { graph: &c.graph, id: c.id, context: F::from(7u64), witness: Some(&w), part: Part::Round1 };
    let z1 = assignment(round1).unwrap();
    let ni = r1cs.num_instance;
    assert_eq!(z1[1..], z[ni..ni + z1.len() - 1]);
    eprintln!(
        "price_mlp two-round wrap circuit: {} constraints, {} round-1 wires",
        r1cs.num_constraints(),
        z1.len() - 1
    );
}

#[test]
fn two_round_proof_is_refused_under_another_models_key() {
    use zkml::wrap::two_round;
    let (_t, c) = compiled("price_mlp");
    let (_t2, d) = compiled("digits_mlp");
    let (pk, vk) = two_round::dev_setup(&c.graph, c.id, 1).unwrap();
    let (_, other) = two_round::dev_setup(&d.graph, d.id, 1).unwrap();
    let trace = c.graph.execute(&input("price_mlp")).unwrap();
    let p = two_round::prove(&pk, &c.graph, c.id, F::from(3u64), [F::from(0u64); 2], &trace, &mut rand::rngs::OsRng)
        .unwrap();
    assert!(two_round::verify(&vk, &p));
    assert!(!two_round::verify(&other, &p), "another model's key");
    let mut forged = p.clone();
    forged.public_inputs[0] = d.id;
    forged.public_inputs.resize(other.num_public_inputs(), F::from(0u64));
    assert!(!two_round::verify(&other, &forged), "another model's key, with its model id and input count");
}

/// A wrapped proof whose public inputs are not as many as the model's layout has is refused by
/// name, before its Groth16 check and before any of them is read by the layout.
#[test]
fn two_round_proof_with_another_public_input_count_is_refused_by_name() {
    use zkml::wrap::two_round;
    let (_t, c) = compiled("price_mlp");
    let (pk, vk) = two_round::dev_setup(&c.graph, c.id, 1).unwrap();
    let trace = c.graph.execute(&input("price_mlp")).unwrap();
    let p = two_round::prove(&pk, &c.graph, c.id, F::from(3u64), [F::from(0u64); 2], &trace, &mut rand::rngs::OsRng)
        .unwrap();
    let n = p.public_inputs.len();
    assert!(pipeline::verify_wrapped(&c, &vk, &p).is_ok());
    for count in [1, n - 1, n + 1] {
        let mut cut = p.clone();
        cut.public_inputs.resize(count, F::from(0u64));
        let Err(e) = pipeline::verify_wrapped(&c, &vk, &cut) else { panic!("{count} public inputs accepted") };
        let e = format!("{e:#}");
        assert!(e.contains(&format!("it has {count} public inputs, the model's layout has {n}")), "{e}");
    }
}

/// The wrap through the binary: `setup` → `prove --wrap` → `verify`. The proof verifies for its
/// model, input and context only; a moved D, a changed context and another model's keys refuse
/// it, and so does `verify` with keys or a proof of the one-round wrap of earlier versions; a
/// hook's context is the one `zkml context` prints, and a bad one is refused before any work;
/// proving refuses pk.bin and r1cs.bin from another setup or with a flipped bit, and a
/// commitment key whose proofs would not verify (a changed δ₁·G1) never releases a proof.
#[test]
fn cli_setup_prove_verify() {
    use ark_ec::{AffineRepr, CurveGroup};
    use zkml::wrap::two_round;
    let tmp = tempfile::tempdir().unwrap();
    let dir = |m: &str| tmp.path().join(m);
    let s = |p: &std::path::Path| p.to_str().unwrap().to_string();
    for m in ["price_mlp", "digits_mlp"] {
        let (ok, log) = zkml(&[
            "compile",
            &s(&data(&format!("{m}.onnx"))),
            "--calibrate",
            &s(&data(&format!("{m}.input.json"))),
            "--out",
            &s(&dir(m)),
        ]);
        assert!(ok, "{log}");
        let (ok, log) = zkml(&["setup", &s(&dir(m)), "--dev-seed", "3"]);
        assert!(ok && log.contains("keys written") && log.contains("WARNING: development setup"), "{log}");
        assert!(log.contains(" constraints (a 2^1") && log.contains(" domain), pk "), "{log}");
    }
    let (ok, log) = zkml(&["setup", &s(&dir("price_mlp"))]);
    assert!(!ok && log.contains("Powers-of-Tau"), "{log}");
    let vk_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir("price_mlp").join("vk.json")).unwrap()).unwrap();
    assert_eq!(vk_json["scheme"], "two_round");
    assert!(vk_json["delta1_g2"]["x"].is_array(), "{vk_json}");

    let (proof, i) = (tmp.path().join("p.bin"), data("price_mlp.input.json"));
    let prove = |d: &str, out: &std::path::Path, extra: &[&str]| {
        let mut args = vec!["prove", d, "--input", i.to_str().unwrap(), "--out", out.to_str().unwrap(), "--wrap"];
        args.extend_from_slice(extra);
        zkml(&args)
    };
    let (ok, log) = prove(&s(&dir("price_mlp")), &proof, &["--context", "99"]);
    assert!(ok, "{log}");
    let artifact::AnyProof::TwoRound(w) = artifact::read_any_proof(&proof).unwrap() else {
        panic!("no two-round proof was written")
    };
    // A, B, C and D: 160 bytes compressed.
    assert_eq!(ark_serialize::CanonicalSerialize::compressed_size(&w.proof), 160);
    let verify =
        |d: &str, p: &std::path::Path| zkml(&["verify", d, p.to_str().unwrap(), "--input", i.to_str().unwrap()]);
    let (ok, log) = verify(&s(&dir("price_mlp")), &proof);
    assert!(ok && log.contains("context: 99") && log.contains("proof is valid"), "{log}");
    let (ok, log) = zkml(&["verify", &s(&dir("digits_mlp")), &s(&proof)]);
    assert!(!ok && log.contains("another model"), "{log}");

    let tampered = tmp.path().join("t.bin");
    let mut moved = w.clone();
    moved.proof.d = (moved.proof.d + ark_bn254::G1Affine::generator()).into_affine();
    let mut context = w.clone();
    context.public_inputs[1] += F::from(1u64);
    for (what, p) in [("D moved", moved), ("another context", context)] {
        artifact::write_any_proof(&tampered, &artifact::AnyProof::TwoRound(p)).unwrap();
        let (ok, log) = verify(&s(&dir("price_mlp")), &tampered);
        assert!(!ok && log.contains("the Groth16 check failed"), "{what}: {log}");
    }

    // A hook's context: the proof is bound to what `zkml context` prints and the library derives.
    let spec = format!("escrow:31337:0x{}:0x{}", "11".repeat(20), "5a".repeat(32));
    let (ok, printed) = zkml(&["context", &spec]);
    assert!(ok, "{printed}");
    let expected = zkml::context::to_field(zkml::context::escrow(31337, [0x11; 20], [0x5a; 32]));
    assert_eq!(printed.lines().next(), Some(expected.to_string().as_str()), "{printed}");
    let (ok, log) = prove(&s(&dir("price_mlp")), &tampered, &["--context", &spec]);
    assert!(ok, "{log}");
    let (ok, log) = verify(&s(&dir("price_mlp")), &tampered);
    assert!(ok && log.contains(&format!("context: {expected}")), "{log}");
    // A bad context is refused before any work, naming the bad part.
    let (ok, log) = prove(&s(&dir("price_mlp")), &tampered, &["--context", "oracle:1:0x12:5"]);
    assert!(!ok && log.contains("--context: oracle address \"0x12\""), "{log}");

    // Proving reads pk.bin and r1cs.bin only if they are the files vk.json's digests name.
    for file in ["pk.bin", "r1cs.bin"] {
        let (mine, theirs) = (dir("price_mlp").join(file), dir("digits_mlp").join(file));
        let saved = std::fs::read(&mine).unwrap();
        std::fs::copy(&theirs, &mine).unwrap();
        let (ok, log) = prove(&s(&dir("price_mlp")), &tampered, &[]);
        assert!(
            !ok && log.contains(file)
                && log.contains("does not belong to this model's keys")
                && log.contains("SHA3-256"),
            "{file}: {log}"
        );
        // The same setup's file with one bit flipped: still refused, before any proving.
        let mut flipped = saved.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 1;
        std::fs::write(&mine, &flipped).unwrap();
        assert!(artifact::read_prover_keys(&dir("price_mlp"), None).is_err(), "{file} with a flipped bit");
        std::fs::write(&mine, &saved).unwrap();
    }

    // A commitment key whose proofs do not verify under its verifying key: nothing is released.
    let mut key = artifact::read_prover_keys(&dir("price_mlp"), None).unwrap();
    key.ck.delta1_g1 = (key.ck.delta1_g1 + ark_bn254::G1Affine::generator()).into_affine();
    let c = Compiled::load(&dir("price_mlp")).unwrap();
    let trace = c.graph.execute(&input("price_mlp")).unwrap();
    let err = two_round::prove(&key, &c.graph, c.id, F::from(0u64), [F::from(0u64); 2], &trace, &mut rand::rngs::OsRng)
        .unwrap_err();
    assert!(matches!(err, zkml::wrap::WrapError::KeyRejectsItsProof), "{err}");

    // The one-round wrap of earlier versions: its proof files and its keys (vk.json without a
    // scheme) are refused, saying what to do.
    let old = tmp.path().join("old.bin");
    let mut bytes = b"ZKMLWRP1".to_vec();
    bytes.extend_from_slice(&std::fs::read(&proof).unwrap()[8..]);
    std::fs::write(&old, bytes).unwrap();
    let (ok, log) = verify(&s(&dir("price_mlp")), &old);
    assert!(!ok && log.contains("one-round wrapped proof") && log.contains("prove again"), "{log}");
    let vk_json = dir("price_mlp").join("vk.json");
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&vk_json).unwrap()).unwrap();
    json.as_object_mut().unwrap().remove("scheme");
    std::fs::write(&vk_json, json.to_string()).unwrap();
    for (ok, log) in [verify(&s(&dir("price_mlp")), &proof), prove(&s(&dir("price_mlp")), &tampered, &[])] {
        assert!(!ok && log.contains("one-round keys") && log.contains("run `zkml setup`"), "{log}");
    }
}
