//! The hook contracts (`contracts/`: ZkmlSignedOracle, ZkmlFeedOracle, ZkmlValidator,
//! ZkmlEscrow, the ERC-8274 adapter) against a REAL generated Groth16 verifier and REAL proofs.
//!
//! A stand-in circuit over BN254 `Fr` plays the model (small and fast to prove any statement the
//! tests need; the real wrap is exercised by the oracle demo). It is a two-round (UltraGroth)
//! circuit, as the wrap is, with the wrap's public-input layout (see
//! `contracts/ZkmlPublicInputs.sol`):
//!
//! ```text
//! pub[0] = model id        constrained: model_id == MODEL_ID (a constant of the circuit)
//! pub[1] = context         constrained: context * context == c2 (a witness, the round-1 wire)
//! pub[2] = input, packed   constrained: output == 3 * input + 5
//! pub[3] = output, packed
//! seed                     constrained: seed * 1 == seed; derived by every verifier from D and
//!                          pub[0..4], never given
//! ```
//!
//! Every public input appears in a constraint, so Groth16 binds each of them; the proofs are
//! 320 bytes (A, B, C, D).
//!
//! This test sets the circuit up from a fixed seed, renders `HookVerifier` with
//! `zkml_verifier_gen::solidity::render_two_round`, proves the statements the forge tests need (contexts
//! derived exactly as `ZkmlPublicInputs` derives them), compiles the verifier with the pinned
//! solc, writes `tests/forge/generated/HookVerifier.sol` and `hook_fixtures.json` (git-ignored;
//! the JSON carries the verifier's bytecode and the proofs) and runs the pinned forge on the
//! hand-written tests in `tests/forge/`, which read the JSON at run time (no import of generated
//! code, so `forge test` and forge.rs compile on a clean clone before this test has run).

use crate::common::{forge, forge_test, repo_root, solc, with_b_outside_g2, write_if_changed};
use std::path::Path;
use std::process::Command;

use alloy_primitives::{Address, U256, keccak256};
use ark_bn254::{Bn254, Fr};
use ark_ff::{Field, PrimeField};
use ark_groth16::{ProvingKey, VerifyingKey};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, LinearCombination, SynthesisError, Variable};
use ark_std::rand::{SeedableRng, rngs::StdRng};
use serde_json::{Value, json};
use zkml::wrap::groth16::{self as g16, TwoRoundProof};
use zkml_verifier_gen::hooks::{self, escrow_context, oracle_context, request_hash, validation_context, words_hash};
use zkml_verifier_gen::{calldata, solidity};

/// The stand-in circuit; `None` fields during setup.
#[derive(Clone)]
struct StandIn {
    model_id: Fr,
    context: Option<Fr>,
    input: Option<Fr>,
    seed: Option<Fr>,
}

impl ConstraintSynthesizer<Fr> for StandIn {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let missing = || SynthesisError::AssignmentMissing;
        let ctx = self.context;
        let inp = self.input;
        let model_id = cs.new_input_variable(|| Ok(self.model_id))?;
        let context = cs.new_input_variable(|| ctx.ok_or_else(missing))?;
        let input = cs.new_input_variable(|| inp.ok_or_else(missing))?;
        let output = cs.new_input_variable(|| Ok(inp.ok_or_else(missing)? * Fr::from(3u64) + Fr::from(5u64)))?;
        // The first witness: the round-1 wire D commits to.
        let c2 = cs.new_witness_variable(|| Ok(ctx.ok_or_else(missing)?.square()))?;
        let seed = cs.new_input_variable(|| self.seed.ok_or_else(missing))?;
        let one = || LinearCombination::from(Variable::One);
        // model_id - MODEL_ID == 0
        cs.enforce_r1cs_constraint(
            || LinearCombination::from(model_id) - (self.model_id, Variable::One),
            one,
            LinearCombination::zero,
        )?;
        // context * context == c2
        cs.enforce_r1cs_constraint(
            || LinearCombination::from(context),
            || LinearCombination::from(context),
            || LinearCombination::from(c2),
        )?;
        // 3 * input + 5 == output
        cs.enforce_r1cs_constraint(
            || LinearCombination::from((Fr::from(3u64), input)) + (Fr::from(5u64), Variable::One),
            one,
            || LinearCombination::from(output),
        )?;
        // seed * 1 == seed: a verifier that derives another seed fails the pairing.
        cs.enforce_r1cs_constraint(|| LinearCombination::from(seed), one, || LinearCombination::from(seed))?;
        Ok(())
    }
}

fn r() -> U256 {
    hooks::modulus()
}

fn fr(x: U256) -> Fr {
    Fr::from_be_bytes_mod_order(&x.to_be_bytes::<32>())
}

/// `ZkmlPublicInputs.modelId(keccak256(model))`.
fn model_id() -> U256 {
    hooks::model_id(keccak256(b"zkml stand-in model (hooks test)"))
}

/// `ZkmlPublicInputs.packSigned` for values that fit one word (the library's `pack_signed`).
fn pack_signed_one_word(values: &[i64], bits: usize) -> U256 {
    let w = hooks::pack_signed(values, bits as u32).expect("values fit their slots");
    assert_eq!(w.len(), 1);
    w[0]
}

// The oracle's model: 2 inputs of 16 bits (one word), 1 output of 34 bits with 8 fractional
// bits, reported with 8 decimals (10^8 / 2^8 = 390625 exactly).
const ORACLE_INPUT_BITS: usize = 16;
const ORACLE_OUTPUT_BITS: usize = 34;
const ORACLE_FRAC_BITS: u32 = 8;
const ORACLE_DECIMALS: u32 = 8;
/// First oracle data timestamp; the others follow every 60 s.
const T0: u64 = 1_800_000_000;
/// anvil's first account (private key 0xac09…ff80), the escrow's payer in the forge tests.
const PAYER: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
/// The client of the ERC-8004 validation requests (anvil's second account).
const CLIENT: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
/// forge's default chain id; the forge tests deploy each hook at a fixed address (`deployAt`), so
/// the contexts the proofs carry here are the ones the deployed hooks derive.
const CHAIN_ID: u64 = 31337;
const SIGNED_ORACLE: &str = "0x10000000000000000000000000000000000000a1";
const FEED_ORACLE: &str = "0x10000000000000000000000000000000000000a2";
const VALIDATOR: &str = "0x10000000000000000000000000000000000000b1";
const ESCROW: &str = "0x10000000000000000000000000000000000000c1";
/// The feed oracle's model input scale and its feeds' decimals: input q is read from a feed
/// answering q * 10^8 / 2^2.
const FEED_INPUT_SCALE: i8 = 2;
const FEED_DECIMALS: u8 = 8;

fn address(a: &str) -> Address {
    a.parse().expect("an address")
}

struct Setup {
    pk: ProvingKey<Bn254>,
    ck: g16::CommitKey,
    r1cs: g16::R1cs,
    rng: StdRng,
    model_id: U256,
}

impl Setup {
    fn new() -> Self {
        let mut rng = StdRng::seed_from_u64(8004);
        let model_id = model_id();
        let circuit = StandIn { model_id: fr(model_id), context: None, input: None, seed: None };
        let r1cs = g16::R1cs::synthesize(circuit).unwrap().with_round1(1).unwrap();
        let (pk, ck) = g16::setup_two_round(&r1cs, &mut rng).expect("setup");
        Setup { pk, ck, r1cs, rng, model_id }
    }

    fn vk(&self) -> &VerifyingKey<Bn254> {
        &self.pk.vk
    }

    /// vk.bin as `zkml setup` writes it: Groth16's key, then `[δ₁]₂`.
    fn vk_bin(&self) -> Vec<u8> {
        use ark_serialize::CanonicalSerialize;
        let mut bytes = Vec::new();
        self.pk.vk.serialize_compressed(&mut bytes).unwrap();
        self.ck.delta1_g2.serialize_compressed(&mut bytes).unwrap();
        bytes
    }

    fn verifier(&self) -> String {
        solidity::render_two_round(self.vk(), &self.ck.delta1_g2, "HookVerifier", None, Default::default(), None)
            .unwrap()
    }

    /// A real proof for (context, input word); returns (proof bytes, public inputs).
    fn prove(&mut self, context: U256, input: U256) -> (Vec<u8>, Vec<U256>) {
        let (proof, public) = self.two_round_proof(context, input);
        (calldata::encode_proof(&proof), public)
    }

    fn two_round_proof(&mut self, context: U256, input: U256) -> (TwoRoundProof, Vec<U256>) {
        assert!(context < r() && input < r());
        let output = input * U256::from(3) + U256::from(5);
        assert!(output < r());
        let public = vec![self.model_id, context, input, output];
        let frs: Vec<Fr> = public.iter().map(|&x| fr(x)).collect();
        let round1 = g16::commit(&self.pk, &self.ck, &[fr(context).square()], &mut self.rng).expect("commit");
        let seed = g16::challenge(&round1.d, &frs);
        let circuit = StandIn {
            model_id: fr(self.model_id),
            context: Some(fr(context)),
            input: Some(fr(input)),
            seed: Some(seed),
        };
        let z = g16::assignment(circuit).expect("assignment");
        let proof = g16::prove_two_round(&self.pk, &self.ck, &self.r1cs, &z, &round1, &mut self.rng).expect("prove");
        assert!(g16::verify_two_round(&self.pk.vk, &self.ck.delta1_g2, &frs, &proof));
        for (a, b) in frs.iter().zip(&public) {
            assert_eq!(calldata::fr_to_u256(a), *b);
        }
        (proof, public)
    }
}

fn hex_u256(x: U256) -> String {
    format!("{x:#x}")
}

fn statement(proof: &[u8], public: &[U256]) -> Value {
    json!({
        "proof": format!("0x{}", hex::encode(proof)),
        "pub": public.iter().map(|&x| hex_u256(x)).collect::<Vec<_>>(),
    })
}

/// Decoded oracle answer (Chainlink units) of an output word, as `ZkmlPublicInputs` decodes it.
fn oracle_answer(output_word: U256) -> i128 {
    hooks::decode_signed(output_word, ORACLE_OUTPUT_BITS as u32, ORACLE_FRAC_BITS, ORACLE_DECIMALS)
        .expect("the output word is a packing of one value")
}

/// An oracle round: a proof for `inputs` at `ts`, for the oracle at `oracle`.
fn oracle_round(s: &mut Setup, oracle: Address, ts: u64, inputs: [i64; 2]) -> Value {
    let word = pack_signed_one_word(&inputs, ORACLE_INPUT_BITS);
    let (proof, public) = s.prove(oracle_context(CHAIN_ID, oracle, ts), word);
    let mut st = statement(&proof, &public);
    st["ts"] = json!(ts.to_string());
    st["inputs"] = json!(inputs.iter().map(|v| v.to_string()).collect::<Vec<_>>());
    st["answer"] = json!(oracle_answer(public[3]).to_string());
    st
}

fn fixtures() -> (Setup, Value) {
    let mut s = Setup::new();
    let model_id = s.model_id;
    let round_inputs = |i: u64| [100 + 7 * i as i64, 12_000 + 1_000 * i as i64];

    // Signed-report oracle: 4 rounds in time order, positive answers; one with a negative answer;
    // and an attacker's valid proof on doctored features at round 0's time.
    let signed = address(SIGNED_ORACLE);
    let rounds: Vec<Value> = (0..4u64).map(|i| oracle_round(&mut s, signed, T0 + 60 * i, round_inputs(i))).collect();
    let negative = oracle_round(&mut s, signed, T0 + 30, [5, -20_000]);
    assert!(negative["answer"].as_str().unwrap().starts_with('-'));
    let doctored = oracle_round(&mut s, signed, T0, [100, 20_000]);

    // On-chain-feed oracle: 2 rounds on the inputs its feeds give (each feed answers
    // q * 10^8 / 2^FEED_INPUT_SCALE), and the attacker's doctored proof.
    let feed = address(FEED_ORACLE);
    let feed_rounds: Vec<Value> = (0..2u64)
        .map(|i| {
            let inputs = round_inputs(i);
            let mut st = oracle_round(&mut s, feed, T0 + 60 * i, inputs);
            let answers: Vec<String> = inputs
                .iter()
                .map(|&q| {
                    let a = (q as i128 * 10i128.pow(FEED_DECIMALS as u32)) >> FEED_INPUT_SCALE;
                    assert_eq!(hooks::feed_input(a, FEED_DECIMALS, FEED_INPUT_SCALE), Some(q as i128));
                    a.to_string()
                })
                .collect();
            st["feedAnswers"] = json!(answers);
            st
        })
        .collect();
    let feed_doctored = oracle_round(&mut s, feed, T0, [100, 20_000]);
    assert!(rounds.iter().chain(&feed_rounds).all(|r| !r["answer"].as_str().unwrap().starts_with('-')));

    // ERC-8004 validator: two requests of CLIENT (hashes derived from the task), answered for
    // agent 0 (the first agent the identity registry mints).
    let client = address(CLIENT);
    let validator = address(VALIDATOR);
    let mut validations = Vec::new();
    for i in 0..2u64 {
        let input_word = U256::from(1_000 + i);
        let input_hash = words_hash(&[input_word]);
        let salt = keccak256(format!("zkml validation salt {i}").as_bytes());
        let request = request_hash(client, model_id, input_hash, salt);
        let (proof, public) = s.prove(validation_context(CHAIN_ID, validator, U256::ZERO, request), input_word);
        let mut st = statement(&proof, &public);
        st["requestHash"] = json!(request.to_string());
        st["salt"] = json!(salt.to_string());
        validations.push(st);
    }
    // A proof with B on the twist but outside G2, which a verifier leaves to the pairing
    // precompile, where it burns all the gas the call was given, whatever the public inputs.
    let (proof, _) = s.two_round_proof(U256::ZERO, U256::ZERO);
    let proof = TwoRoundProof { proof: with_b_outside_g2(&proof.proof), d: proof.d };
    let outside_g2 = format!("0x{}", hex::encode(calldata::encode_proof(&proof)));

    // x402 escrow: two requests from PAYER, one input word each; each also proved for the
    // validator (agent 0), to settle through releaseByValidation.
    let payer: Address = PAYER.parse().unwrap();
    let escrow_addr = address(ESCROW);
    let mut escrow = Vec::new();
    for i in 0..2u64 {
        let input_word = U256::from(77_777 + i);
        let input_hash = words_hash(&[input_word]);
        let salt = keccak256(format!("zkml escrow salt {i}").as_bytes());
        let request_id = request_hash(payer, model_id, input_hash, salt);
        let (proof, public) = s.prove(escrow_context(CHAIN_ID, escrow_addr, request_id), input_word);
        let mut st = statement(&proof, &public);
        st["salt"] = json!(salt.to_string());
        st["inputHash"] = json!(input_hash.to_string());
        st["requestId"] = json!(request_id.to_string());
        let (vproof, vpublic) = s.prove(validation_context(CHAIN_ID, validator, U256::ZERO, request_id), input_word);
        st["validation"] = statement(&vproof, &vpublic);
        escrow.push(st);
    }

    let fx = json!({
        "note": "generated by verifier-gen/tests/it/hooks.rs; do not edit",
        "modelId": hex_u256(model_id),
        "chainId": CHAIN_ID.to_string(),
        "payer": PAYER,
        "client": CLIENT,
        "addresses": {
            "signedOracle": SIGNED_ORACLE,
            "feedOracle": FEED_ORACLE,
            "validator": VALIDATOR,
            "escrow": ESCROW,
        },
        "oracle": {
            "t0": T0.to_string(),
            "inputBits": ORACLE_INPUT_BITS.to_string(),
            "outputBits": ORACLE_OUTPUT_BITS.to_string(),
            "fracBits": ORACLE_FRAC_BITS.to_string(),
            "decimals": ORACLE_DECIMALS.to_string(),
            "rounds": rounds,
            "negative": negative,
            "doctored": doctored,
        },
        "feedOracle": {
            "inputScale": FEED_INPUT_SCALE.to_string(),
            "feedDecimals": FEED_DECIMALS.to_string(),
            "rounds": feed_rounds,
            "doctored": feed_doctored,
        },
        "outsideG2Proof": outside_g2,
        "validator": validations,
        "escrow": escrow,
    });
    (s, fx)
}

/// Writes the generated verifier (for reading; the forge tests do not import it) and the
/// fixtures, which carry the verifier's creation bytecode: the hand-written tests deploy it at
/// run time, so `forge test` compiles (and forge.rs's run works) before this test has run.
fn write_generated(root: &Path) {
    let (s, mut fx) = fixtures();
    let dir = root.join("tests/forge/generated");
    std::fs::create_dir_all(&dir).unwrap();
    let sol = s.verifier();
    assert!(sol.contains("uint256 public constant NUM_PUBLIC_INPUTS = 4;") && sol.contains("PROOF_LENGTH = 320"));
    let code = solc(root, "HookVerifier", &sol).0;
    fx["verifierBytecode"] = json!(format!("0x{}", hex::encode(code)));
    fx["verifierCodeHash"] = json!(zkml_gen_code_hash(root, &s));
    write_if_changed(&dir.join("HookVerifier.sol"), &sol);
    write_if_changed(&dir.join("hook_fixtures.json"), &serde_json::to_string_pretty(&fx).unwrap());
}

/// The runtime code hash `zkml-gen solidity --solc script/solc` prints for the verifier of the
/// keys `s`: the forge tests propose upgrades with it and check that the deployed verifier has it.
fn zkml_gen_code_hash(root: &Path, s: &Setup) -> String {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("vk.bin"), s.vk_bin()).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_zkml-gen"))
        .current_dir(root)
        .arg("solidity")
        .arg(tmp.path().join("vk.bin"))
        .args(["--contract-name", "HookVerifier", "--allow-dev-keys", "--solc", "script/solc", "--out"])
        .arg(tmp.path().join("HookVerifier.sol"))
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "zkml-gen solidity --solc: {stderr}");
    assert!(stderr.contains("no metadata"), "zkml-gen names the settings of the hash: {stderr}");
    let hash = stdout.trim().strip_prefix("runtime code hash: ").unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(hash.len(), 66, "{hash}");
    hash.to_string()
}

#[test]
fn fixtures_are_deterministic() {
    let (s1, a) = fixtures();
    let (s2, b) = fixtures();
    assert_eq!(a, b);
    assert_eq!(s1.verifier(), s2.verifier());
    assert_eq!(pack_signed_one_word(&[-1, 0], 16), U256::from(0x7fffu64) | (U256::from(0x8000u64) << 16));
}

/// A model directory as `zkml compile` + `zkml setup` leave it (settings.json with the
/// public-input layout, vk.bin) for the stand-in circuit, in `dir`; returns its settings. No
/// vk.json: nothing records where its (dev) keys came from.
fn stand_in_model(dir: &Path) -> serde_json::Value {
    let s = Setup::new();
    std::fs::write(dir.join("vk.bin"), s.vk_bin()).unwrap();
    let packing = |values: u64, bits: u64, scale: i64| json!({"values": values, "per_element": 253 / bits, "slot_bits": bits, "signed": true, "scale": scale});
    let tensor = |name: &str, n: usize, scale: u32| json!({"name": name, "shape": [1, n], "scale": scale, "visibility": "public"});
    let settings = json!({
        "zkml_version": env!("CARGO_PKG_VERSION"),
        "model_id": s.model_id.to_string(),
        "input": tensor("features", 2, 0),
        "output": tensor("price", 1, ORACLE_FRAC_BITS),
        "lookup_bits": 12, "weight_bits": 8, "ops": ["Gemm"], "tables": [], "advice_values": 0,
        "linear_nodes": 1, "requantizations": 0,
        "calibration": {"samples": 1, "max_abs_error": 0.0, "argmax_agreement": 1.0},
        "public_inputs": [
            {"name": "model_id", "index": 0, "count": 1},
            {"name": "context", "index": 1, "count": 1},
            {"name": "input", "index": 2, "count": 1,
             "packing": packing(2, ORACLE_INPUT_BITS as u64, 0)},
            {"name": "output", "index": 3, "count": 1,
             "packing": packing(1, ORACLE_OUTPUT_BITS as u64, ORACLE_FRAC_BITS as i64)},
        ],
    });
    std::fs::write(dir.join("settings.json"), settings.to_string()).unwrap();
    settings
}

/// `zkml-gen hooks` renders the three hooks for the stand-in model into
/// tests/forge/generated/hooks/.
fn render_hooks_with_cli(root: &Path) {
    let tmp = tempfile::tempdir().unwrap();
    let settings = stand_in_model(tmp.path());
    let out = root.join("tests/forge/generated/hooks");
    for flag in ["--oracle", "--erc8004", "--x402"] {
        let o = Command::new(env!("CARGO_BIN_EXE_zkml-gen"))
            .arg("hooks")
            .arg(tmp.path())
            .arg(flag)
            .args(["--name", "StandIn", "--decimals", "8", "--allow-dev-keys", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "zkml-gen hooks {flag}: {}", String::from_utf8_lossy(&o.stderr));
    }
    // A model with several outputs has no oracle.
    let mut many = settings.clone();
    many["public_inputs"][3]["packing"]["values"] = json!(3);
    std::fs::write(tmp.path().join("settings.json"), many.to_string()).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_zkml-gen"))
        .arg("hooks")
        .arg(tmp.path())
        .args(["--oracle", "--allow-dev-keys", "--out"])
        .arg(tmp.path().join("x"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("one signed output value"));
}

/// Runs a generated deploy script in forge's local EVM (no RPC, nothing broadcast).
fn run_deploy_script(root: &Path, script: &str, env: &[(&str, &str)]) {
    let path = format!("tests/forge/generated/hooks/{script}");
    let out = crate::common::forge_command(root, "hooks")
        .args(["script", &path])
        .envs(env.iter().copied())
        .output()
        .expect("run forge script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("Script ran successfully"),
        "forge script {path} failed:\n{stdout}\n{stderr}"
    );
}

#[test]
fn hook_contracts_pass_forge_tests() {
    let root = repo_root();
    forge(&root); // installs the pinned toolchain, solc-js included, when it is missing
    write_generated(&root);
    render_hooks_with_cli(&root);
    // The profile `hooks` compiles contracts/, tests/forge/hooks/ and the generated hooks only,
    // in one unit: `forge test` and `forge script` each compile only what they run, which
    // compiled the hook contracts four times.
    let build = crate::common::forge_command(&root, "hooks").arg("build").output().expect("run forge build");
    assert!(build.status.success(), "forge build failed:\n{}", String::from_utf8_lossy(&build.stderr));
    let stdout = forge_test(&root, "hooks", &["--match-contract", "^Zkml", "-vv", "--gas-report"]);
    for name in [
        "test_OracleUpdate",
        "test_ValidatorRespond",
        "test_EscrowRelease",
        "test_RevertWhen_ProofIsWrong",
        "testFuzz_Staleness",
    ] {
        assert!(stdout.contains(name), "forge did not run {name}:\n{stdout}");
    }
    assert!(!stdout.contains("[FAIL"), "a forge test failed:\n{stdout}");

    // The generated hooks compiled with the tests above; their deploy scripts run.
    let some = "0x00000000000000000000000000000000000000aa";
    run_deploy_script(&root, "DeployStandInOracle.s.sol", &[]);
    run_deploy_script(&root, "DeployStandInValidator.s.sol", &[("ZKML_VALIDATION_REGISTRY", some)]);
    run_deploy_script(&root, "DeployStandInEscrow.s.sol", &[("ZKML_TOKEN", some)]);
}

/// Renders with `zkml-gen ARGS…` (a verifier of the stand-in model's keys into `out`): whether it
/// succeeded, and stderr.
fn zkml_gen_render(args: &[&str], dir: &Path, out: &Path) -> (bool, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_zkml-gen"))
        .arg(args[0])
        .arg(dir)
        .args(&args[1..])
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    (o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn zkml_gen_refuses_keys_someone_can_forge_proofs_for() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("model");
    std::fs::create_dir(&dir).unwrap();
    stand_in_model(&dir);
    let sol = tmp.path().join("V.sol");
    let vk_json = |setup: serde_json::Value| {
        std::fs::write(dir.join("vk.json"), json!({ "scheme": "two_round", "setup": setup }).to_string()).unwrap()
    };
    // No vk.json, a dev setup, a ceremony before its first contribution: refused by every
    // renderer, and rendered with --allow-dev-keys into a contract that says why.
    for (setup, why) in [
        (None, "has no vk.json"),
        (Some(json!({"kind": "dev", "seed": 1})), "development setup (zkml setup --dev-seed 1)"),
        (
            Some(json!({"kind": "ceremony", "ptau_blake2b": "00", "hermez": null, "contributions": []})),
            "no contribution yet",
        ),
    ] {
        if let Some(setup) = setup {
            vk_json(setup);
        }
        for cmd in [&["solidity"][..], &["starknet"], &["hooks", "--x402"]] {
            let out = tmp.path().join(format!("out-{}", cmd[0]));
            let target = if cmd[0] == "solidity" { sol.clone() } else { out.clone() };
            let (ok, err) = zkml_gen_render(cmd, &dir, &target);
            assert!(!ok && err.contains(why) && err.contains("--allow-dev-keys") && !target.exists(), "{cmd:?}: {err}");
        }
        let (ok, err) = zkml_gen_render(&["solidity", "--allow-dev-keys"], &dir, &sol);
        assert!(ok, "{err}");
        let written = std::fs::read_to_string(&sol).unwrap();
        assert!(
            written.contains("@custom:unsafe-keys UNSAFE KEYS, FOR TESTS ONLY") && written.contains(why),
            "{written}"
        );
        std::fs::remove_file(&sol).unwrap();
        let pkg = tmp.path().join("pkg");
        let (ok, err) = zkml_gen_render(&["starknet", "--allow-dev-keys"], &dir, &pkg);
        assert!(ok, "{err}");
        let cairo = std::fs::read_to_string(pkg.join("src/verifier.cairo")).unwrap();
        assert!(cairo.contains("//! UNSAFE KEYS, FOR TESTS ONLY") && cairo.contains(why));
    }
    // Dev keys relabelled as a ceremony's: the record is missing, or lists other contributions,
    // and no flag renders them.
    vk_json(json!({"kind": "ceremony", "ptau_blake2b": "00", "hermez": null, "contributions": ["ab".repeat(64)]}));
    let (ok, err) = zkml_gen_render(&["solidity", "--allow-dev-keys"], &dir, &sol);
    assert!(!ok && err.contains("phase2.bin") && !sol.exists(), "{err}");
    // A key of one kind that vk.json calls the other: this two-round key called one-round, and
    // its Groth16 part alone (a one-round key with a public input more than the layout, the
    // seed's) called two-round. Every renderer refuses both; none takes one kind for the other.
    for (scheme, why) in [("one_round", "is a two-round key"), ("two_round", "is a one-round key")] {
        if scheme == "two_round" {
            let vk = Setup::new().vk().clone();
            let mut bytes = Vec::new();
            ark_serialize::CanonicalSerialize::serialize_compressed(&vk, &mut bytes).unwrap();
            std::fs::write(dir.join("vk.bin"), bytes).unwrap();
        }
        std::fs::write(dir.join("vk.json"), json!({"scheme": scheme, "setup": {"kind": "dev", "seed": 1}}).to_string())
            .unwrap();
        for cmd in [&["solidity", "--allow-dev-keys"][..], &["starknet", "--allow-dev-keys"], &["hooks", "--x402"]] {
            let out = tmp.path().join(format!("mislabelled-{}", cmd[0]));
            let (ok, err) = zkml_gen_render(cmd, &dir, &out);
            assert!(!ok && err.contains(why) && !out.exists(), "{scheme}, {cmd:?}: {err}");
        }
    }
    // One-round keys called one-round (the wrap of an earlier zkml, which no longer proves with
    // them): refused too, saying to run the setup again.
    std::fs::write(
        dir.join("vk.json"),
        json!({"scheme": "one_round", "setup": {"kind": "dev", "seed": 1}}).to_string(),
    )
    .unwrap();
    for cmd in [&["solidity", "--allow-dev-keys"][..], &["starknet", "--allow-dev-keys"], &["hooks", "--x402"]] {
        let out = tmp.path().join(format!("one-round-{}", cmd[0]));
        let (ok, err) = zkml_gen_render(cmd, &dir, &out);
        assert!(
            !ok && err.contains("one-round keys") && err.contains("run `zkml setup`") && !out.exists(),
            "{cmd:?}: {err}"
        );
    }
}
