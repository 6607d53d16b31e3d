//! End to end on real models: `zkml` compile → two-round dev setup (fixed seed) or a ceremony → prove (the
//! two-round wrap) → `zkml-gen solidity DIR` / `zkml-gen calldata DIR PROOF` (the binary) → the pinned solc
//! → forge, running the hand-written suites of `tests/forge/models/ModelVerifiers.t.sol` on the
//! fixtures written to `tests/forge/generated/verifier_<model>.json` (git-ignored).
//!
//! One test per model: `cargo test --workspace price_mlp_verifier_end_to_end`, lenet's
//! (`lenet_verifier_end_to_end`, the slower: its setup and wrap) and tiny_gemm's from a key
//! ceremony instead of a dev setup (`tiny_gemm_ceremony_verifier_end_to_end`).

use crate::common::{
    assert_forge_passed, forge, forge_test, repo_root, solc, test_ptau, with_b_outside_g2, write_if_changed,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use alloy_primitives::U256;
use serde_json::json;
use zkml::artifact::{self, Compiled};
use zkml::field::F;
use zkml::pipeline;
use zkml::quantize::QuantConfig;
use zkml::setup;
use zkml::wrap::groth16::TwoRoundProof;
use zkml::wrap::two_round;
use zkml_verifier_gen::keys::VerifierKey;
use zkml_verifier_gen::{calldata, model::ModelLayout, starknet};

fn data(name: &str) -> PathBuf {
    repo_root().join("tests/data").join(name)
}

/// Where a model's Groth16 keys come from.
#[derive(Clone, Copy, PartialEq)]
enum Keys {
    /// A dev setup with a fixed seed: forgeable, so zkml-gen renders it only with --allow-dev-keys.
    Dev,
    /// A ceremony as docs/setup.md describes it: a snarkjs Powers of Tau of power 13, two
    /// contributions and a beacon; zkml-gen renders it as it is.
    Ceremony,
}

/// A compiled model directory with its two-round keys (vk.bin, vk.json, and from a ceremony its
/// record) and a wrapped proof of the model's sample input, written to DIR/proof.bin.
pub(crate) struct Proved {
    dir: PathBuf,
    compiled: Compiled,
    proof: two_round::Proof,
    vk: ark_groth16::VerifyingKey<ark_bn254::Bn254>,
    keys: Keys,
}

/// A model proved once per test process: price_mlp's proof is also the other model's in lenet's
/// and tiny_gemm's suites, and `solc_js` renders every model's verifier. (Its directory lives as
/// long as the process, as the Starknet harness's fixture does.)
struct Shared {
    proved: Proved,
    _tmp: tempfile::TempDir,
}

fn shared(cell: &'static OnceLock<Shared>, make: impl FnOnce(&Path) -> Proved) -> &'static Proved {
    &cell
        .get_or_init(|| {
            let tmp = tempfile::tempdir().unwrap();
            Shared { proved: make(tmp.path()), _tmp: tmp }
        })
        .proved
}

/// price_mlp on dev keys, context 99.
pub(crate) fn price_mlp() -> &'static Proved {
    static CELL: OnceLock<Shared> = OnceLock::new();
    shared(&CELL, |tmp| prove_model(tmp, "price_mlp", 99))
}

/// lenet on dev keys, context 99.
pub(crate) fn lenet() -> &'static Proved {
    static CELL: OnceLock<Shared> = OnceLock::new();
    shared(&CELL, |tmp| prove_model(tmp, "lenet", 99))
}

/// tiny_gemm at 6 bits, the smallest model the tests run a ceremony on (`script/tiny_gemm.py`:
/// its circuit needs power 12), on keys from a ceremony, context 99.
pub(crate) fn tiny_gemm() -> &'static Proved {
    static CELL: OnceLock<Shared> = OnceLock::new();
    let six_bits = QuantConfig { lookup_bits: 6, weight_bits: 6, ..QuantConfig::default() };
    shared(&CELL, |tmp| prove_model_with(tmp, "tiny_gemm", 99, six_bits, Keys::Ceremony))
}

/// `zkml-gen solidity DIR --contract-name CONTRACT` of a proved model's keys, as text.
pub(crate) fn render(p: &Proved, contract: &str, out: &Path) -> String {
    zkml_gen_for(
        p.keys,
        &[
            "solidity".as_ref(),
            p.dir.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
            "--contract-name".as_ref(),
            contract.as_ref(),
        ],
    );
    std::fs::read_to_string(out).unwrap()
}

fn prove_model(tmp: &Path, model: &str, context: u64) -> Proved {
    prove_model_with(tmp, model, context, QuantConfig::default(), Keys::Dev)
}

fn prove_model_with(tmp: &Path, model: &str, context: u64, cfg: QuantConfig, keys: Keys) -> Proved {
    let dir = tmp.join(model);
    let samples = artifact::read_inputs(&data(&format!("{model}.input.json"))).unwrap();
    let c = pipeline::compile(&data(&format!("{model}.onnx")), &samples, cfg, &dir).unwrap();
    match keys {
        Keys::Dev => {
            setup::dev(&dir, 1).unwrap();
        }
        Keys::Ceremony => {
            let start = setup::from_ptau(&dir, &test_ptau(13)).unwrap();
            assert_eq!(start.power, two_round::synthesize(&c.graph, c.id).unwrap().power().unwrap());
            setup::contribute(&dir, Some(b"the first contributor's text")).unwrap();
            setup::contribute(&dir, None).unwrap();
            setup::beacon(&dir, b"\x00\x11\x22\x33", 3).unwrap();
        }
    }
    let pk = artifact::read_prover_keys(&dir, None).unwrap();
    let proved = pipeline::prove_wrapped(&c, &samples[0], F::from(context), &pk).unwrap();
    artifact::write_any_proof(&dir.join("proof.bin"), &proved.proof).unwrap();
    let artifact::AnyProof::TwoRound(w) = proved.proof else { panic!("a wrap made another kind of proof") };
    let vk = pk.verifying_key();
    assert!(two_round::verify(&vk, &w));
    Proved { dir, compiled: c, proof: w, vk: vk.groth16, keys }
}

fn zkml_gen(args: &[&std::ffi::OsStr]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_zkml-gen")).args(args).output().unwrap();
    assert!(out.status.success(), "zkml-gen {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// `zkml-gen solidity ARGS…`, with --allow-dev-keys for dev keys (which it refuses without).
fn zkml_gen_for(keys: Keys, args: &[&std::ffi::OsStr]) -> String {
    let mut args = args.to_vec();
    if keys == Keys::Dev {
        args.push("--allow-dev-keys".as_ref());
    }
    zkml_gen(&args)
}

fn hex_u256(x: &F) -> String {
    format!("{:#x}", calldata::fr_to_u256(x))
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.trim().trim_start_matches("0x")).unwrap()
}

/// Measured figures of one model's verifier.
#[derive(Debug)]
struct Figures {
    typed_gas: u64,
    verify_proof_gas: u64,
    runtime_bytes: usize,
    calldata_bytes: usize,
    compact_gas: u64,
    compact_bytes: usize,
    deploy_gas: u64,
    /// The same figures for the verifier with EIP-1108 gas caps (`--precompile-gas eip1108`).
    capped_verify_proof_gas: u64,
    capped_compact_gas: u64,
}

/// Renders `model`'s verifier with the zkml-gen binary (from dev keys only with
/// --allow-dev-keys), writes its fixture and runs the forge suite `suite`; `other` is another
/// model's proof (rejected by this verifier).
fn generate_and_test(model: &str, contract: &str, suite: &str, p: &Proved, other: &Proved) -> Figures {
    let root = repo_root();
    let keys = p.keys;
    forge(&root); // installs the pinned toolchain, solc-js included, when it is missing
    let gen_dir = root.join("tests/forge/generated");
    std::fs::create_dir_all(&gen_dir).unwrap();

    // zkml-gen solidity DIR: deterministic, and typed from settings.json.
    let sol = render(p, contract, &gen_dir.join(format!("{contract}.sol")));
    assert_eq!(sol.contains("@custom:unsafe-keys"), keys == Keys::Dev, "the contract says when its keys are unsafe");
    assert_eq!(render(p, contract, &p.dir.join("again.sol")), sol, "output is deterministic");
    let layout = ModelLayout::from_settings(&zkml::artifact::read_settings(&p.dir).unwrap()).unwrap();
    assert!(sol.contains(&format!("function verify({})", layout.typed_entry().params)), "typed entry point");
    // The same verifier with the precompile gas capped at EIP-1108 prices.
    let capped_path = gen_dir.join(format!("{contract}Capped.sol"));
    zkml_gen_for(
        keys,
        &[
            "solidity".as_ref(),
            p.dir.as_os_str(),
            "--out".as_ref(),
            capped_path.as_os_str(),
            "--contract-name".as_ref(),
            contract.as_ref(),
            "--precompile-gas".as_ref(),
            "eip1108".as_ref(),
        ],
    );
    let capped_sol = std::fs::read_to_string(&capped_path).unwrap();
    // Five pairs (the fifth is D's): 45,000 + 5 * 34,000 and a margin.
    assert!(capped_sol.contains("PAIRING_GAS = 250_000") && !sol.contains("PAIRING_GAS"));

    // zkml-gen calldata DIR PROOF (typed, and --verify-proof).
    let proof_path = p.dir.join("proof.bin");
    let typed = unhex(&zkml_gen(&["calldata".as_ref(), p.dir.as_os_str(), proof_path.as_os_str()]));
    let vp =
        unhex(&zkml_gen(&["calldata".as_ref(), p.dir.as_os_str(), proof_path.as_os_str(), "--verify-proof".as_ref()]));
    assert_eq!(vp, calldata::verify_proof_calldata(&p.proof.proof, &p.proof.public_inputs));
    let compact =
        unhex(&zkml_gen(&["calldata".as_ref(), p.dir.as_os_str(), proof_path.as_os_str(), "--compact".as_ref()]));
    assert_eq!(compact, calldata::verify_compact_calldata(&p.proof.proof, &p.proof.public_inputs, 1));
    assert_eq!(compact.len(), 4 + 32 * (10 + p.proof.public_inputs.len() - 1));
    assert_eq!(&typed[..4], &alloy_primitives::keccak256(layout.signature().as_bytes())[..4]);

    // Where the typed values lie in the calldata: selector, proof offset, context, the typed
    // values (one word each), then the proof's length and bytes.
    let words = layout.typed_words(&p.proof.public_inputs).unwrap();
    let n_head = 1 + words.len();
    let proof_offset = 4 + 32 * n_head + 32;
    assert_eq!(typed.len(), proof_offset + 320);
    assert_eq!(&typed[proof_offset..], &calldata::encode_proof(&p.proof.proof)[..]);
    let (mut offsets, mut bits, mut signed) = (vec![], vec![], vec![]);
    let mut at = 4 + 64; // after the proof offset and context
    for e in &layout.entries[2..] {
        match &e.packing {
            Some(k) => {
                for _ in 0..k.values {
                    offsets.push(at);
                    bits.push(k.slot_bits);
                    signed.push(k.signed);
                    at += 32;
                }
            }
            None => at += 32 * e.count,
        }
    }
    assert_eq!(at, 4 + 32 * n_head);
    // The values are the model's quantized input and output.
    let g = &p.compiled.graph;
    if let Some(out) = two_round::output_of(g, &p.proof).unwrap() {
        let last = *out.last().unwrap();
        let w = U256::from_be_slice(&typed[at - 32..at]);
        assert_eq!(w, alloy_primitives::I256::try_from(last).unwrap().into_raw(), "last typed value is the output");
    }

    let (creation, runtime) = solc(&root, contract, &sol);
    let (capped_creation, _) = solc(&root, contract, &capped_sol);
    let outside_g2 = TwoRoundProof { proof: with_b_outside_g2(&p.proof.proof.proof), d: p.proof.proof.d };
    let fx = json!({
        "model": model,
        "bytecode": format!("0x{}", hex::encode(&creation)),
        "proof": format!("0x{}", hex::encode(calldata::encode_proof(&p.proof.proof))),
        "pub": p.proof.public_inputs.iter().map(hex_u256).collect::<Vec<_>>(),
        "typedCalldata": format!("0x{}", hex::encode(&typed)),
        "verifyProofCalldata": format!("0x{}", hex::encode(&vp)),
        "compactCalldata": format!("0x{}", hex::encode(&compact)),
        "contextOffset": 4 + 32,
        "proofOffset": proof_offset,
        "valueOffsets": offsets,
        "valueBits": bits,
        "valueSigned": signed,
        "otherProof": format!("0x{}", hex::encode(calldata::encode_proof(&other.proof.proof))),
        "otherPub": other.proof.public_inputs.iter().map(hex_u256).collect::<Vec<_>>(),
        "cappedBytecode": format!("0x{}", hex::encode(&capped_creation)),
        "outsideG2Proof": format!("0x{}", hex::encode(calldata::encode_proof(&outside_g2))),
    });
    write_if_changed(&gen_dir.join(format!("verifier_{model}.json")), &serde_json::to_string_pretty(&fx).unwrap());

    // The models share the profile: the first model's run compiles it (see `forge_test`).
    let stdout = forge_test(&root, "models", &["--match-contract", suite, "-vv"]);
    assert_forge_passed(
        &stdout,
        suite,
        &[
            "test_validProofVerifies",
            "test_flippedProofByteRejected",
            "test_anotherModelsProofRejected",
            "test_pointNotOnCurveRejected",
            "test_typedValueOutOfRangeRejected",
            "testFuzz_randomProofNeverVerifies",
            "test_cappedValidProofVerifies",
            "test_flippedBitInARejectedBeforePairing",
            "test_bOffTwistRejectedBeforePairing",
            "test_wrongStatementRejectedByPairing",
            "test_bOutsideG2RejectedAt1MGasLimit",
            "test_bOutsideG2RejectedAt30MGasLimit",
            "test_cappedBOutsideG2CostsBoundedGas",
        ],
    );
    let logged = |label: &str| -> u64 {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{label}: ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {label:?} in the forge log"))
    };
    let f = Figures {
        typed_gas: logged("typed verify execution gas"),
        verify_proof_gas: logged("verifyProof execution gas"),
        runtime_bytes: logged("runtime code bytes") as usize,
        calldata_bytes: logged("typed calldata bytes") as usize,
        compact_gas: logged("verifyCompact execution gas"),
        compact_bytes: logged("compact calldata bytes") as usize,
        deploy_gas: logged("deploy gas"),
        capped_verify_proof_gas: logged("capped verifyProof execution gas"),
        capped_compact_gas: logged("capped verifyCompact execution gas"),
    };
    // The caps change nothing for a valid proof (GAS vs PUSH: a few gas per precompile call).
    assert!(
        f.capped_verify_proof_gas.abs_diff(f.verify_proof_gas) < 1_000
            && f.capped_compact_gas.abs_diff(f.compact_gas) < 1_000,
        "{f:?}"
    );
    // What a rejection costs, forwarded and capped.
    for line in stdout.lines().map(str::trim).filter(|l| l.contains("gas, ")) {
        println!("{model}: {line}");
    }
    assert_eq!(f.runtime_bytes, runtime.len());
    assert_eq!(f.calldata_bytes, typed.len());
    assert_eq!(f.compact_bytes, compact.len());
    assert!(
        f.runtime_bytes <= zkml_verifier_gen::solidity::two_round_code_size_bound(&p.vk, Some(&layout)),
        "the size bound is not an upper bound"
    );
    println!("{model}: {f:?}");
    // The EIP-170 limit, whatever the model.
    assert!(f.runtime_bytes <= 24_576, "{model}: runtime code {} bytes", f.runtime_bytes);
    f
}

#[test]
fn price_mlp_verifier_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let price = price_mlp();
    let digits = prove_model(tmp.path(), "digits_mlp", 99);
    let f = generate_and_test("price_mlp", "PriceMlpVerifier", "PriceMlpVerifierTest", price, &digits);
    // Two-round verification costs a fifth pair (34,000 gas at EIP-1108 prices) and the seed's
    // hash and ecMul over the one-round verifier's 209k (docs/benchmarks.md).
    assert!(f.typed_gas <= 275_000, "typed verify costs {} gas", f.typed_gas);
    // The cheapest entry point within 250k (issue "Wrap v2, step 2"; 249,340 on 2026-12-05).
    assert!(f.compact_gas <= 250_000, "verifyCompact costs {} gas", f.compact_gas);
    assert!(f.runtime_bytes <= 4096, "runtime code is {} bytes", f.runtime_bytes);
    // Calldata: the ABI gives each of the 16 typed input values its own word, so the typed call is
    // 4 + 32 * (1 + 1 + 16 + 1) + 32 + 320 = 964 bytes; verifyCompact takes the packed words:
    // 4 + 32 * (10 + 4) = 452 bytes.
    assert_eq!(f.calldata_bytes, 964);
    assert_eq!(f.compact_bytes, 452);
    assert!(f.compact_gas <= f.typed_gas, "{f:?}");
    assert!(f.verify_proof_gas <= f.typed_gas && f.deploy_gas < 1_000_000, "{f:?}");

    // The Starknet side of the same keys and proof: `zkml-gen starknet` renders a verifier that
    // derives the seed, and `starknet-calldata` gives the felts whose hint the contract's
    // computation accepts (the Cairo runs in the starknet-harness tests).
    let (dir, w) = (&price.dir, &price.proof);
    let pkg = tmp.path().join("pkg");
    zkml_gen_for(Keys::Dev, &["starknet".as_ref(), dir.as_os_str(), "--out".as_ref(), pkg.as_os_str()]);
    assert!(std::fs::read_to_string(pkg.join("src/verifier.cairo")).unwrap().contains("fn seed("));
    let proof_path = dir.join("proof.bin");
    let felts: Vec<String> =
        serde_json::from_str(&zkml_gen(&["starknet-calldata".as_ref(), dir.as_os_str(), proof_path.as_os_str()]))
            .unwrap();
    let key = VerifierKey::load_dir(dir).unwrap();
    let spec = key.starknet_spec();
    assert_eq!(felts, starknet::calldata(&spec, &w.proof, &w.public_inputs).unwrap());
    let hint = starknet::hint(&spec, &w.proof, &w.public_inputs).unwrap();
    assert_eq!(starknet::reference_verify(&spec, &w.proof, &w.public_inputs, &hint).as_ref(), Some(&w.public_inputs));
}

/// About 2–3 minutes on 2 cores (lenet's dev setup and wrap).
#[test]
fn lenet_verifier_end_to_end() {
    generate_and_test("lenet", "LenetVerifier", "LenetVerifierTest", lenet(), price_mlp());
}

/// Production keys on-chain: a model's keys from a ceremony on a snarkjs Powers of Tau (two
/// contributions and a beacon), rendered by zkml-gen without --allow-dev-keys, pass the whole
/// forge suite — the proof verifies; tampered proofs, changed inputs and another model's proof
/// are refused.
#[test]
fn tiny_gemm_ceremony_verifier_end_to_end() {
    let tiny = tiny_gemm();
    let vk_json: serde_json::Value = serde_json::from_slice(&std::fs::read(tiny.dir.join("vk.json")).unwrap()).unwrap();
    assert_eq!(vk_json["setup"]["kind"], "ceremony");
    assert_eq!(vk_json["setup"]["contributions"].as_array().map(Vec::len), Some(3));
    generate_and_test("tiny_gemm", "TinyGemmVerifier", "TinyGemmCeremonyVerifierTest", tiny, price_mlp());
}
