//! End to end: a small real Groth16 circuit over BN254 → setup → prove → render the Solidity
//! verifier with zkml-gen → forge tests (generated from Rust, proof baked in) with the pinned
//! forge from `node_modules/` (installed by `script/install-toolchain.sh` when missing).
//!
//! The generated files go to `tests/forge/generated/verifiers/` (git-ignored), the sources of
//! the foundry profile `verifiers`, and forge runs from the repository root, as
//! `script/README.md` requires.

use crate::circuits::{Fixture, TwoRoundFixture, fixture, two_round_fixture};
use crate::common::{assert_forge_passed, forge_test, repo_root, with_b_outside_g2};
use std::process::Command;

use ark_bn254::{Bn254, Fr};
use ark_groth16::Groth16;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, LinearCombination, SynthesisError, Variable};
use ark_serialize::CanonicalSerialize;
use ark_snark::SNARK;
use ark_std::rand::{SeedableRng, rngs::StdRng};
use zkml::wrap::groth16::TwoRoundProof;
use zkml_verifier_gen::{calldata, keys, solidity, solidity::PrecompileGas};

/// Knowledge of s = x_0 + … + x_{n-1} for n public x_i: a key with many public inputs, whose
/// verifier reads its IC points from a table.
#[derive(Clone)]
struct Sum {
    xs: Vec<Option<Fr>>,
}

impl ConstraintSynthesizer<Fr> for Sum {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let missing = || SynthesisError::AssignmentMissing;
        let mut vars = Vec::new();
        for x in &self.xs {
            vars.push(cs.new_input_variable(|| x.ok_or_else(missing))?);
        }
        let s = cs.new_witness_variable(|| self.xs.iter().map(|x| x.ok_or_else(missing)).sum())?;
        cs.enforce_r1cs_constraint(
            || LinearCombination::sum_vars(&vars),
            || LinearCombination::sum_vars(&[Variable::One]),
            || LinearCombination::sum_vars(&[s]),
        )?;
        Ok(())
    }
}

/// A proof for [`Sum`] with `n` public inputs.
pub(crate) fn sum_fixture(n: usize) -> Fixture {
    let mut rng = StdRng::seed_from_u64(7);
    let (pk, vk) = Groth16::<Bn254>::circuit_specific_setup(Sum { xs: vec![None; n] }, &mut rng).expect("setup");
    let inputs: Vec<Fr> = (0..n as u64).map(|i| Fr::from(1000 + i * i)).collect();
    let proof =
        Groth16::<Bn254>::prove(&pk, Sum { xs: inputs.iter().copied().map(Some).collect() }, &mut rng).expect("prove");
    assert!(Groth16::<Bn254>::verify(&vk, &inputs, &proof).expect("verify"));
    Fixture { vk, proof, inputs }
}

/// The most public inputs a bare key's verifier may have (EIP-170, through the size bound).
pub(crate) fn max_public_inputs() -> usize {
    let fx = fixture();
    let mut vk = fx.vk.clone();
    while solidity::check_code_size(&vk, None).is_ok() {
        vk.gamma_abc_g1.push(vk.gamma_abc_g1[1]);
    }
    vk.gamma_abc_g1.len() - 2
}

fn u256_dec(x: &Fr) -> String {
    calldata::fr_to_u256(x).to_string()
}

/// The forge test contract, with the proof, public inputs and Rust-encoded calldata baked in,
/// for a verifier rendered with precompile gas policy `gas`.
fn forge_test_source(contract: &str, fx: &Fixture, gas: PrecompileGas) -> String {
    let proof_hex = hex::encode(calldata::encode_proof(&fx.proof));
    let outside_g2_hex = hex::encode(calldata::encode_proof(&with_b_outside_g2(&fx.proof)));
    let calldata_hex = hex::encode(calldata::verify_proof_calldata(&fx.proof, &fx.inputs));
    let compact_hex = hex::encode(calldata::verify_compact_calldata(&fx.proof, &fx.inputs, 0));
    let n = fx.inputs.len();
    // The precompile price (6.15k per public input) plus margin.
    let gas_cap = 500_000 + 10_000 * n;
    // Loops over the public inputs take every `step`-th: each iteration's copies stay in memory,
    // whose cost grows quadratically.
    let step = n / 24 + 1;
    // The "1M" gas limit of the rejection tests: enough for a valid call of this key.
    let low_limit = gas_cap.max(1_000_000);
    let mode = match gas {
        PrecompileGas::Forward => "forwarded",
        PrecompileGas::Eip1108 => "capped",
    };
    // What a B outside G2 costs: with forwarded gas the failing pairing burns 63/64 of the gas
    // left (so most of the limit), with the caps at most PAIRING_GAS.
    let outside_g2_bound = |limit: usize| match gas {
        PrecompileGas::Forward => {
            format!("assertGt(used, {limit} * 9 / 10, \"the failing pairing burns the forwarded gas\");")
        }
        PrecompileGas::Eip1108 => {
            format!("assertLt(used, {}, \"the failing pairing burns at most PAIRING_GAS\");", 300_000 + 10_000 * n)
        }
    };
    let (outside_low, outside_30m) = (outside_g2_bound(low_limit), outside_g2_bound(30_000_000));
    // A rejection before the pairing: the ecMul and ecAdd of each public input, no pairing.
    let before_pairing_bound = 40_000 + 10_000 * n;
    let set_inputs: String =
        fx.inputs.iter().enumerate().map(|(i, x)| format!("        a[{i}] = {};\n", u256_dec(x))).collect();
    format!(
        r#"// SPDX-License-Identifier: MIT OR Apache-2.0
// Generated by verifier-gen/tests/it/forge.rs; do not edit.
pragma solidity ^0.8.24;

import {{Test}} from "forge-std/Test.sol";
import {{{contract}}} from "./{contract}.sol";

contract {contract}Test is Test {{
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    uint256 internal constant P = 21888242871839275222246405745257275088696311157297823662689037894645226208583;
    bytes internal constant PROOF = hex"{proof_hex}";
    bytes internal constant CALLDATA = hex"{calldata_hex}";
    bytes internal constant COMPACT = hex"{compact_hex}";
    /// PROOF with B on the twist but outside G2.
    bytes internal constant OUTSIDE_G2 = hex"{outside_g2_hex}";

    {contract} internal verifier;

    function setUp() public {{
        verifier = new {contract}();
    }}

    function inputs() internal pure returns (uint256[] memory a) {{
        a = new uint256[]({n});
{set_inputs}    }}

    /// Result of verifyProof, a revert counting as "not verified".
    function verified(bytes memory proof, uint256[] memory pub) internal view returns (bool) {{
        // A bounded gas budget, as a real transaction has: a failing precompile call burns all
        // the gas it is given, and the verifier must still return (false) afterwards.
        try verifier.verifyProof{{gas: {gas_cap}}}(proof, pub) returns (bool ok) {{
            return ok;
        }} catch {{
            return false;
        }}
    }}

    /// verifyCompact through raw calldata; a revert counts as "not verified".
    function compactVerified(bytes memory cd) internal view returns (bool) {{
        (bool success, bytes memory ret) = address(verifier).staticcall{{gas: {gas_cap}}}(cd);
        return success && ret.length == 32 && abi.decode(ret, (bool));
    }}

    /// `b` with the word at byte `offset` set to `v`.
    function setAt(bytes memory b, uint256 offset, uint256 v) internal pure returns (bytes memory c) {{
        c = bytes.concat(b);
        assembly {{
            mstore(add(add(c, 0x20), offset), v)
        }}
    }}

    function setWord(bytes memory proof, uint256 i, uint256 v) internal pure returns (bytes memory) {{
        bytes memory p = bytes.concat(proof);
        assembly {{
            mstore(add(add(p, 0x20), mul(i, 0x20)), v)
        }}
        return p;
    }}

    function word(bytes memory proof, uint256 i) internal pure returns (uint256 v) {{
        assembly {{
            v := mload(add(add(proof, 0x20), mul(i, 0x20)))
        }}
    }}

    function test_validProofVerifies() public view {{
        assertEq(verifier.NUM_PUBLIC_INPUTS(), {n});
        assertTrue(verifier.verifyProof(PROOF, inputs()));
    }}

    function test_rustCalldataVerifies() public view {{
        (bool success, bytes memory ret) = address(verifier).staticcall(CALLDATA);
        assertTrue(success);
        assertTrue(abi.decode(ret, (bool)));
        assertTrue(compactVerified(COMPACT), "verifyCompact");
        uint256[{n}] memory a;
        uint256[] memory d = inputs();
        for (uint256 i = 0; i < {n}; i++) a[i] = d[i];
        uint256[8] memory p;
        for (uint256 i = 0; i < 8; i++) p[i] = word(PROOF, i);
        assertTrue(verifier.verifyCompact(p, a), "verifyCompact, Solidity call");
    }}

    function test_compactRejections() public view {{
        for (uint256 i = 0; i < 8 + {n}; i += (i < 8 ? 1 : {step})) {{
            uint256 o = 4 + 32 * i;
            uint256 w;
            bytes memory cd = COMPACT;
            assembly {{
                w := mload(add(add(cd, 0x20), o))
            }}
            assertFalse(compactVerified(setAt(cd, o, w ^ 1)), "flipped bit");
            if (i >= 8) {{
                assertFalse(compactVerified(setAt(cd, o, w + R)), "input + r");
            }}
        }}
        bytes memory full = COMPACT; // one copy: indexing the constant copies it each time
        bytes memory shorter = new bytes(full.length - 1);
        for (uint256 i = 0; i < shorter.length; i++) shorter[i] = full[i];
        assertFalse(compactVerified(shorter), "truncated calldata");
    }}

    function test_codeSize() public {{
        emit log_named_uint("runtime code bytes", address(verifier).code.length);
        assertLe(address(verifier).code.length, 24_576);
    }}

    function test_gasOfOneCall() public {{
        uint256[] memory pub = inputs();
        bytes memory proof = PROOF;
        uint256 before = gasleft();
        bool ok = verifier.verifyProof(proof, pub);
        uint256 used = before - gasleft();
        assertTrue(ok);
        emit log_named_uint("verifyProof gas (call incl. overhead)", used);
        emit log_named_uint("{contract} ({mode}): verifyProof execution gas", vm.lastCallGas().gasTotalUsed);
        (bool success, bytes memory ret) = address(verifier).call(COMPACT);
        assertTrue(success && abi.decode(ret, (bool)));
        emit log_named_uint("{contract} ({mode}): verifyCompact execution gas", vm.lastCallGas().gasTotalUsed);
    }}

    /// Execution gas of a verifyProof call that must return false (a revert fails the test).
    function rejectionGas(bytes memory proof, uint256[] memory pub, uint256 limit) internal returns (uint256) {{
        assertFalse(verifier.verifyProof{{gas: limit}}(proof, pub));
        return vm.lastCallGas().gasTotalUsed;
    }}

    function test_validProofVerifiesWithinLowGasLimit() public view {{
        assertTrue(verifier.verifyProof{{gas: {low_limit}}}(PROOF, inputs()));
    }}

    function test_flippedBitInARejectedBeforePairing() public {{
        uint256 used = rejectionGas(setWord(PROOF, 0, word(PROOF, 0) ^ 1), inputs(), 30_000_000);
        emit log_named_uint("{contract} ({mode}): gas, A.x bit flipped (30M limit)", used);
        assertLt(used, {before_pairing_bound});
    }}

    function test_bOffTwistRejectedBeforePairing() public {{
        uint256 used = rejectionGas(setWord(PROOF, 2, word(PROOF, 2) ^ 1), inputs(), 30_000_000);
        emit log_named_uint("{contract} ({mode}): gas, B.x_im bit flipped (30M limit)", used);
        assertLt(used, {before_pairing_bound});
    }}

    function test_wrongStatementRejectedByPairing() public {{
        uint256[] memory a = inputs();
        a[0] = addmod(a[0], 1, R);
        uint256 used = rejectionGas(PROOF, a, {low_limit});
        emit log_named_uint("{contract} ({mode}): gas, wrong statement ({low_limit} limit)", used);
        assertEq(rejectionGas(PROOF, a, 30_000_000), used, "the pairing returns false: no gas burnt");
        assertGt(used, 181_000, "the pairing ran");
    }}

    function test_bOutsideG2RejectedAtLowGasLimit() public {{
        uint256 used = rejectionGas(OUTSIDE_G2, inputs(), {low_limit});
        emit log_named_uint("{contract} ({mode}): gas, B outside G2 ({low_limit} limit)", used);
        {outside_low}
    }}

    function test_bOutsideG2RejectedAt30MGasLimit() public {{
        uint256 used = rejectionGas(OUTSIDE_G2, inputs(), 30_000_000);
        emit log_named_uint("{contract} ({mode}): gas, B outside G2 (30M limit)", used);
        {outside_30m}
    }}

    function test_flippedProofByteRejected() public view {{
        for (uint256 i = 0; i < 256; i++) {{
            bytes memory p = bytes.concat(PROOF);
            p[i] = bytes1(uint8(p[i]) ^ 0x01);
            assertFalse(verified(p, inputs()), "flipped bit accepted");
        }}
    }}

    function test_changedPublicInputRejected() public view {{
        for (uint256 i = 0; i < {n}; i += {step}) {{
            uint256[] memory a = inputs();
            a[i] = addmod(a[i], 1, R);
            assertFalse(verified(PROOF, a));
        }}
        uint256[] memory last = inputs();
        last[{n} - 1] = addmod(last[{n} - 1], 1, R);
        assertFalse(verified(PROOF, last), "last public input changed");
    }}

    function test_publicInputNotBelowRRejected() public view {{
        for (uint256 i = 0; i < {n}; i += {step}) {{
            uint256[] memory a = inputs();
            a[i] = a[i] + R; // same value mod r: must still be rejected
            assertFalse(verified(PROOF, a));
            a[i] = R;
            assertFalse(verified(PROOF, a));
            a[i] = type(uint256).max;
            assertFalse(verified(PROOF, a));
        }}
    }}

    function test_wrongLengthsRejected() public view {{
        assertFalse(verified(bytes.concat(PROOF, hex"00"), inputs()));
        bytes memory shortProof = new bytes(255);
        for (uint256 i = 0; i < 255; i++) shortProof[i] = PROOF[i];
        assertFalse(verified(shortProof, inputs()));
        assertFalse(verified(hex"", inputs()));
        uint256[] memory a = inputs();
        uint256[] memory fewer = new uint256[]({n} - 1);
        for (uint256 i = 0; i + 1 < {n}; i++) fewer[i] = a[i];
        assertFalse(verified(PROOF, fewer));
        uint256[] memory more = new uint256[]({n} + 1);
        for (uint256 i = 0; i < {n}; i++) more[i] = a[i];
        assertFalse(verified(PROOF, more));
    }}

    function test_pointNotOnCurveRejected() public view {{
        // (1, 3) is not on y^2 = x^3 + 3.
        bytes memory p = setWord(setWord(PROOF, 0, 1), 1, 3);
        assertFalse(verified(p, inputs()), "A off curve");
        // Returns false (does not revert) within a normal gas budget.
        assertFalse(verifier.verifyProof{{gas: {gas_cap}}}(p, inputs()), "A off curve, direct");
        p = setWord(setWord(PROOF, 6, 1), 7, 3);
        assertFalse(verified(p, inputs()), "C off curve");
        p = setWord(PROOF, 2, 1);
        assertFalse(verified(p, inputs()), "B off curve");
    }}

    function test_coordinateNotBelowPRejected() public view {{
        assertFalse(verified(setWord(PROOF, 1, word(PROOF, 1) + P), inputs()), "A.y + p");
        assertFalse(verified(setWord(PROOF, 0, word(PROOF, 0) + P), inputs()), "A.x + p");
        assertFalse(verified(setWord(PROOF, 7, word(PROOF, 7) + P), inputs()), "C.y + p");
        assertFalse(verified(setWord(PROOF, 5, word(PROOF, 5) + P), inputs()), "B.y_re + p");
    }}

    function test_negatedOrZeroPointsRejected() public view {{
        assertFalse(verified(setWord(PROOF, 1, P - word(PROOF, 1)), inputs()), "-A");
        assertFalse(verified(setWord(PROOF, 7, P - word(PROOF, 7)), inputs()), "-C");
        bytes memory p = setWord(setWord(PROOF, 0, 0), 1, 0);
        assertFalse(verified(p, inputs()), "A = infinity");
        p = setWord(setWord(PROOF, 6, 0), 7, 0);
        assertFalse(verified(p, inputs()), "C = infinity");
        assertFalse(verified(new bytes(256), inputs()), "all zero");
        p = setWord(setWord(PROOF, 0, 0), 1, P);
        assertFalse(verified(p, inputs()), "A = (0, p)");
    }}

    function testFuzz_randomProofNeverVerifies(bytes32[8] memory words) public view {{
        bytes memory p = abi.encodePacked(words);
        assertFalse(verified(p, inputs()));
    }}

    function testFuzz_randomPublicInputsNeverVerify(uint256 a0, uint256 a1) public view {{
        uint256[] memory a = inputs();
        vm.assume(a0 != a[0] || a1 != a[1]);
        a[0] = a0;
        a[1] = a1;
        assertFalse(verified(PROOF, a));
    }}

    function testFuzz_tamperedWordNeverVerifies(uint8 i, uint256 v) public view {{
        uint256 k = uint256(i) % 8;
        vm.assume(v != word(PROOF, k));
        assertFalse(verified(setWord(PROOF, k, v), inputs()));
    }}
}}
"#
    )
}

/// The forge test of a two-round verifier, its proofs and Rust-encoded calldata baked in.
fn two_round_test_source(contract: &str, fx: &TwoRoundFixture) -> String {
    use ark_ec::{AffineRepr, CurveGroup};
    let [a, b] = &fx.proofs;
    let hex_of = |p: &TwoRoundProof| hex::encode(calldata::encode_proof(p));
    let mut moved = a.clone();
    moved.d = (moved.d + ark_bn254::G1Affine::generator()).into_affine();
    let mut mixed = a.clone();
    mixed.d = b.d;
    let seed = zkml::wrap::groth16::challenge(&a.d, &fx.inputs);
    let one_round_length = &calldata::encode_proof(a)[..256];
    format!(
        r#"// SPDX-License-Identifier: MIT OR Apache-2.0
// Generated by verifier-gen/tests/it/forge.rs: the two-round verifier {contract} on real proofs.
pragma solidity ^0.8.24;

import {{Test, console}} from "forge-std/Test.sol";
import {{{contract}}} from "./{contract}.sol";

contract {contract}Test is Test {{
    {contract} v;
    uint256 constant Z = {z};
    uint256 constant W = {w};
    /// The seed zkml derives for `proof`: the contract derives it too, and takes it from no caller.
    uint256 constant SEED = {seed};
    bytes proof = hex"{a}";
    /// Another proof of the same statement: another D, so another seed.
    bytes otherProof = hex"{b}";
    /// `proof` with D + G.
    bytes movedD = hex"{moved}";
    /// A, B and C of `proof` with the D of `otherProof`.
    bytes mixed = hex"{mixed}";
    /// The first 256 bytes of `proof`: a one-round proof's length.
    bytes oneRoundLength = hex"{short}";

    function setUp() public {{
        v = new {contract}();
    }}

    function _inputs(uint256 z, uint256 w) internal pure returns (uint256[] memory x) {{
        x = new uint256[](2);
        x[0] = z;
        x[1] = w;
    }}

    function test_validProofsVerify() public view {{
        assertEq(v.PROOF_LENGTH(), 320);
        assertEq(v.NUM_PUBLIC_INPUTS(), 2);
        assertTrue(v.verifyProof(proof, _inputs(Z, W)));
        assertTrue(v.verifyProof(otherProof, _inputs(Z, W)));
        uint256 g = gasleft();
        v.verifyProof(proof, _inputs(Z, W));
        console.log("two-round verifyProof gas (call incl. overhead): %d", g - gasleft());
    }}

    function test_rustCalldataVerifies() public view {{
        (bool ok, bytes memory ret) = address(v).staticcall(hex"{calldata}");
        assertTrue(ok && abi.decode(ret, (bool)), "verifyProof calldata from zkml-gen");
        (ok, ret) = address(v).staticcall(hex"{compact}");
        assertTrue(ok && abi.decode(ret, (bool)), "verifyCompact calldata from zkml-gen");
    }}

    function test_changedPublicInputRejected() public view {{
        assertFalse(v.verifyProof(proof, _inputs(Z + 1, W)));
        assertFalse(v.verifyProof(proof, _inputs(Z, W + 1)));
        assertFalse(v.verifyProof(proof, _inputs(Z + {r}, W)), "an input not below r");
    }}

    function test_movedDRejected() public view {{
        assertFalse(v.verifyProof(movedD, _inputs(Z, W)));
    }}

    function test_anotherProofsDRejected() public view {{
        assertFalse(v.verifyProof(mixed, _inputs(Z, W)));
    }}

    function test_seedFromTheCallerRejected() public view {{
        uint256[] memory x = new uint256[](3);
        (x[0], x[1], x[2]) = (Z, W, SEED);
        assertFalse(v.verifyProof(proof, x));
    }}

    function test_oneRoundLengthRejected() public view {{
        assertFalse(v.verifyProof(oneRoundLength, _inputs(Z, W)));
    }}

    function test_dOffCurveRejected() public view {{
        bytes memory p = proof;
        p[319] = p[319] ^ 0x01;
        assertFalse(v.verifyProof(p, _inputs(Z, W)));
    }}

    function testFuzz_flippedByteRejected(uint16 i, uint8 m) public {{
        vm.assume(m != 0);
        i = uint16(bound(i, 0, 319));
        bytes memory p = proof;
        p[i] = p[i] ^ bytes1(m);
        assertFalse(v.verifyProof(p, _inputs(Z, W)));
    }}
}}
"#,
        z = u256_dec(&fx.inputs[0]),
        w = u256_dec(&fx.inputs[1]),
        seed = u256_dec(&seed),
        a = hex_of(a),
        b = hex_of(b),
        moved = hex_of(&moved),
        mixed = hex_of(&mixed),
        short = hex::encode(one_round_length),
        calldata = hex::encode(calldata::verify_proof_calldata(a, &fx.inputs)),
        compact = hex::encode(calldata::verify_compact_calldata(a, &fx.inputs, 0)),
        r = calldata::fr_to_u256(&-Fr::from(1u64)) + alloy_primitives::U256::from(1u64),
    )
}

/// The two-round verifier of `fx` as `zkml-gen solidity` renders a two-round key file.
pub(crate) fn render_two_round(contract: &str, fx: &TwoRoundFixture) -> String {
    solidity::render_two_round(&fx.vk, &fx.delta1_g2, contract, None, PrecompileGas::Forward, None).unwrap()
}

/// Where the generated verifiers and their tests go: the `verifiers` profile's sources.
const GENERATED: &str = "tests/forge/generated/verifiers";

/// Renders `contract` for `fx.vk` (precompile gas `gas`) and its forge test into `GENERATED`.
fn write_generated(root: &std::path::Path, contract: &str, fx: &Fixture, gas: PrecompileGas) {
    let dir = root.join(GENERATED);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!("{contract}.sol")),
        solidity::render_with(&fx.vk, contract, None, gas, None).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join(format!("{contract}.t.sol")), forge_test_source(contract, fx, gas)).unwrap();
}

/// Runtime code size from forge's artifact.
fn runtime_size(root: &std::path::Path, contract: &str) -> usize {
    let artifact = root.join(format!("out/verifiers/{contract}.sol/{contract}.json"));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&artifact).expect("forge artifact")).unwrap();
    let code = json["deployedBytecode"]["object"].as_str().expect("deployedBytecode");
    code.trim_start_matches("0x").len() / 2
}

#[test]
fn generated_verifier_passes_forge_tests() {
    let root = repo_root();
    let fx = fixture();
    assert_eq!(fx.inputs.len(), 2, "the forge test's fuzz over inputs assumes 2 public inputs");
    // The largest key that still gets a verifier: its IC points are a table.
    let n_max = max_public_inputs();
    let big = sum_fixture(n_max);
    let (contract, capped_contract, big_contract) = ("MulAddVerifier", "MulAddCappedVerifier", "SumVerifier");
    write_generated(&root, contract, &fx, PrecompileGas::Forward);
    write_generated(&root, capped_contract, &fx, PrecompileGas::Eip1108);
    write_generated(&root, big_contract, &big, PrecompileGas::Forward);
    assert!(solidity::render(&big.vk, big_contract).unwrap().contains("bytes internal constant IC_TABLE"));
    let (two_round, two_round_contract) = (two_round_fixture(), "MulAddTwoRoundVerifier");
    let dir = root.join(GENERATED);
    std::fs::write(dir.join(format!("{two_round_contract}.sol")), render_two_round(two_round_contract, &two_round))
        .unwrap();
    std::fs::write(
        dir.join(format!("{two_round_contract}.t.sol")),
        two_round_test_source(two_round_contract, &two_round),
    )
    .unwrap();

    let stdout = forge_test(&root, "verifiers", &["-vv"]);
    for suite in [contract, capped_contract, big_contract] {
        assert_forge_passed(
            &stdout,
            &format!("{suite}Test"),
            &[
                "test_validProofVerifies",
                "test_compactRejections",
                "test_changedPublicInputRejected",
                "test_flippedProofByteRejected",
                "test_validProofVerifiesWithinLowGasLimit",
                "test_flippedBitInARejectedBeforePairing",
                "test_bOffTwistRejectedBeforePairing",
                "test_wrongStatementRejectedByPairing",
                "test_bOutsideG2RejectedAtLowGasLimit",
                "test_bOutsideG2RejectedAt30MGasLimit",
            ],
        );
    }
    assert_forge_passed(
        &stdout,
        &format!("{two_round_contract}Test"),
        &[
            "test_validProofsVerify",
            "test_rustCalldataVerifies",
            "test_changedPublicInputRejected",
            "test_movedDRejected",
            "test_anotherProofsDRejected",
            "test_seedFromTheCallerRejected",
            "test_oneRoundLengthRejected",
            "test_dOffCurveRejected",
            "testFuzz_flippedByteRejected",
        ],
    );
    assert!(!stdout.contains("[FAIL"), "a forge test failed:\n{stdout}");
    for line in stdout.lines().map(str::trim).filter(|l| l.starts_with("two-round verifyProof gas")) {
        println!("{line}");
    }
    let two_round_size = runtime_size(&root, two_round_contract);
    println!("{two_round_contract} runtime code size: {two_round_size} bytes");
    assert!(
        two_round_size <= solidity::two_round_code_size_bound(&two_round.vk, None),
        "the size bound is not an upper bound"
    );

    // Gas of one verifyProof call, measured in the forge test with gasleft().
    let gas: Vec<u64> = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("verifyProof gas (call incl. overhead): "))
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    println!("verifyProof gas (2 and {n_max} public inputs, incl. call overhead): {gas:?}");
    // Precompile floor: 181k (pairing of 4) + 2 * (6k ecMul + 150 ecAdd).
    assert!(gas.iter().min().is_some_and(|g| *g < 215_000), "verifyProof costs {gas:?} gas");

    for line in stdout.lines().map(str::trim).filter(|l| l.contains("(forwarded): ") || l.contains("(capped): ")) {
        println!("{line}");
    }

    let size = runtime_size(&root, contract);
    let big_size = runtime_size(&root, big_contract);
    println!("{contract} runtime code size: {size} bytes; {big_contract} ({n_max} public inputs): {big_size} bytes");
    assert!(size > 0 && size <= 4096, "runtime code is {size} bytes");
    assert!(size <= solidity::code_size_bound(&fx.vk, None), "the size bound is not an upper bound");
    assert!(big_size <= solidity::code_size_bound(&big.vk, None) && big_size <= solidity::CODE_SIZE_LIMIT);
}

/// What cannot be rendered is an error naming the problem, not a panic.
#[test]
fn render_refuses_a_bad_name_and_keys_without_the_points_it_needs() {
    let fx = fixture();
    assert!(
        matches!(solidity::render(&fx.vk, "not a name"), Err(solidity::RenderError::ContractName(n)) if n == "not a name")
    );
    let mut no_ic = fx.vk.clone();
    no_ic.gamma_abc_g1.clear();
    assert!(matches!(solidity::render(&no_ic, "V"), Err(solidity::RenderError::NoIcPoints)));
    let mut one_ic = fx.vk.clone();
    one_ic.gamma_abc_g1.truncate(1);
    let d1 = two_round_fixture().delta1_g2;
    let e = solidity::render_two_round(&one_ic, &d1, "V", None, PrecompileGas::Forward, None).unwrap_err();
    assert!(matches!(e, solidity::RenderError::NoSeedPoint(1)), "{e}");
}

#[test]
fn too_many_public_inputs_is_a_clear_error() {
    let n_max = max_public_inputs();
    let mut vk = fixture().vk;
    vk.gamma_abc_g1.resize(n_max + 2, vk.gamma_abc_g1[1]);
    assert!(matches!(
        solidity::render(&vk, "V"),
        Err(solidity::RenderError::CodeSize { public_inputs, bound }) if public_inputs == n_max + 1 && bound > solidity::CODE_SIZE_LIMIT
    ));
    let e = solidity::check_code_size(&vk, None).unwrap_err().to_string();
    assert!(
        e.contains(&format!("{} public inputs", n_max + 1)) && e.contains("EIP-170") && e.contains("hashed"),
        "{e}"
    );
    // The CLI says so instead of writing a contract that cannot be deployed.
    let tmp = tempfile::tempdir().unwrap();
    let vk_path = tmp.path().join("vk.bin");
    let mut buf = Vec::new();
    vk.serialize_compressed(&mut buf).unwrap();
    std::fs::write(&vk_path, &buf).unwrap();
    let sol = tmp.path().join("V.sol");
    let o = Command::new(env!("CARGO_BIN_EXE_zkml-gen"))
        .arg("solidity")
        .arg(&vk_path)
        .arg("--out")
        .arg(&sol)
        .arg("--allow-dev-keys")
        .output()
        .unwrap();
    assert!(!o.status.success() && !sol.exists());
    assert!(String::from_utf8_lossy(&o.stderr).contains("EIP-170"), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn render_is_deterministic_and_well_formed() {
    let fx = fixture();
    let a = solidity::render(&fx.vk, "V").unwrap();
    assert_eq!(a, solidity::render(&fx.vk, "V").unwrap());
    assert!(a.starts_with("// SPDX-License-Identifier:"));
    assert!(a.contains("pragma solidity ^0.8.24;"));
    assert!(a.contains("contract V {"));
    assert!(a.contains("uint256 public constant NUM_PUBLIC_INPUTS = 2;"));
    assert!(a.contains("IC2_Y") && !a.contains("IC3_X"));
    assert!(!a.contains("{{") && !a.contains("{%"));
}

#[test]
fn precompile_gas_is_forwarded_by_default_and_capped_on_request() {
    let fx = fixture();
    let forward = solidity::render(&fx.vk, "V").unwrap();
    assert_eq!(forward, solidity::render_with(&fx.vk, "V", None, PrecompileGas::Forward, None).unwrap());
    assert!(
        forward.contains("staticcall(gas(), 0x08,")
            && forward.contains("staticcall(gas(), 0x07,")
            && forward.contains("staticcall(gas(), 0x06,")
    );
    assert!(!forward.contains("_GAS"), "no gas caps by default");
    let capped = solidity::render_with(&fx.vk, "V", None, PrecompileGas::Eip1108, None).unwrap();
    for c in ["ECADD_GAS = 1_000;", "ECMUL_GAS = 10_000;", "PAIRING_GAS = 200_000;"] {
        assert!(capped.contains(c), "{c}");
    }
    assert!(
        capped.contains("staticcall(PAIRING_GAS, 0x08,")
            && capped.contains("staticcall(ECMUL_GAS, 0x07,")
            && capped.contains("staticcall(ECADD_GAS, 0x06,")
    );
    assert!(!capped.contains("gas()"));
    // B is checked on the twist in both.
    assert!(forward.contains("TWIST_B_RE") && capped.contains("TWIST_B_RE"));
    // The same contract otherwise: only the gas arguments, the caps and the comments differ.
    let strip = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| !l.trim_start().starts_with("//") && !l.contains("_GAS = "))
            .map(|l| {
                l.replace("gas()", "G").replace("PAIRING_GAS", "G").replace("ECMUL_GAS", "G").replace("ECADD_GAS", "G")
            })
            .collect()
    };
    assert_eq!(strip(&forward), strip(&capped));
}

#[test]
fn calldata_matches_abi_and_layout() {
    use alloy_sol_types::SolCall;
    let fx = fixture();
    let cd = calldata::verify_proof_calldata(&fx.proof, &fx.inputs);
    assert_eq!(cd[..4], calldata::VERIFY_PROOF_SELECTOR);
    // selector + 2 offsets + (len + 8 words) + (len + 2 words)
    assert_eq!(cd.len(), 4 + 32 * (2 + 9 + 3));
    let call = calldata::verifyProofCall::abi_decode(&cd).unwrap();
    assert_eq!(call.proof.as_ref(), &calldata::encode_proof(&fx.proof)[..]);
    assert_eq!(call.pubInputs, fx.inputs.iter().map(calldata::fr_to_u256).collect::<Vec<_>>());
    // A is not negated; B is in EIP-197 order (x_im first).
    let enc = calldata::encode_proof(&fx.proof);
    use ark_ec::AffineRepr;
    use ark_ff::{BigInteger, PrimeField};
    let (ax, _) = fx.proof.a.xy().unwrap();
    let (bx, _) = fx.proof.b.xy().unwrap();
    let be = |b: Vec<u8>| {
        let mut w = [0u8; 32];
        w[32 - b.len()..].copy_from_slice(&b);
        w
    };
    assert_eq!(enc[0..32], be(ax.into_bigint().to_bytes_be()));
    assert_eq!(enc[64..96], be(bx.c1.into_bigint().to_bytes_be()));
    assert_eq!(enc[96..128], be(bx.c0.into_bigint().to_bytes_be()));
}

#[test]
fn cli_solidity_and_calldata() {
    let fx = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let vk_path = tmp.path().join("vk.bin");
    let proof_path = tmp.path().join("proof.bin");
    let mut buf = Vec::new();
    fx.vk.serialize_compressed(&mut buf).unwrap();
    std::fs::write(&vk_path, &buf).unwrap();
    buf.clear();
    fx.proof.serialize_compressed(&mut buf).unwrap();
    std::fs::write(&proof_path, &buf).unwrap();
    let bin = env!("CARGO_BIN_EXE_zkml-gen");

    let sol = tmp.path().join("V.sol");
    // A bare key file records no setup: refused unless asked for, and then the contract says so.
    let out = Command::new(bin).arg("solidity").arg(&vk_path).arg("--out").arg(&sol).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && !sol.exists() && err.contains("--allow-dev-keys"), "{err}");
    let out = Command::new(bin)
        .arg("solidity")
        .arg(&vk_path)
        .arg("--out")
        .arg(&sol)
        .args(["--contract-name", "MyV", "--allow-dev-keys"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let noted = |gas| solidity::render_with(&fx.vk, "MyV", None, gas, Some(keys::BARE_KEY_FILE)).unwrap();
    let written = std::fs::read_to_string(&sol).unwrap();
    assert_eq!(written, noted(PrecompileGas::Forward));
    assert!(
        written.contains("@custom:unsafe-keys UNSAFE KEYS, FOR TESTS ONLY: a bare verifying key file"),
        "{written}"
    );
    for (arg, gas) in [("forward", PrecompileGas::Forward), ("eip1108", PrecompileGas::Eip1108)] {
        let out = Command::new(bin)
            .arg("solidity")
            .arg(&vk_path)
            .arg("--out")
            .arg(&sol)
            .args(["--contract-name", "MyV", "--precompile-gas", arg, "--allow-dev-keys"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(std::fs::read_to_string(&sol).unwrap(), noted(gas), "--precompile-gas {arg}");
    }

    let json = format!("[\"{}\", \"0x{:x}\"]", u256_dec(&fx.inputs[0]), calldata::fr_to_u256(&fx.inputs[1]));
    let out = Command::new(bin)
        .arg("calldata")
        .arg(&vk_path)
        .arg(&proof_path)
        .args(["--public-inputs", &json])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = format!("0x{}\n", hex::encode(calldata::verify_proof_calldata(&fx.proof, &fx.inputs)));
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);

    // Clear errors: missing file, corrupt file, bad name, input >= r, wrong count.
    let run = |args: &[&std::ffi::OsStr]| {
        let o = Command::new(bin).args(args).output().unwrap();
        assert!(!o.status.success());
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let missing = tmp.path().join("nope.vk");
    let e = run(&["solidity".as_ref(), missing.as_os_str(), "--out".as_ref(), sol.as_os_str()]);
    assert!(e.contains("cannot read verifying key file"), "{e}");
    let corrupt = tmp.path().join("corrupt.vk");
    std::fs::write(&corrupt, b"not a key").unwrap();
    let e = run(&["solidity".as_ref(), corrupt.as_os_str(), "--out".as_ref(), sol.as_os_str()]);
    assert!(e.contains("not a valid ark-serialize compressed Groth16 VerifyingKey"), "{e}");
    let e = run(&[
        "solidity".as_ref(),
        vk_path.as_os_str(),
        "--out".as_ref(),
        sol.as_os_str(),
        "--contract-name".as_ref(),
        "1x".as_ref(),
    ]);
    assert!(e.contains("not a valid Solidity identifier"), "{e}");
    let e = run(&[
        "solidity".as_ref(),
        vk_path.as_os_str(),
        "--out".as_ref(),
        sol.as_os_str(),
        "--precompile-gas".as_ref(),
        "unbounded".as_ref(),
    ]);
    assert!(e.contains("forward") && e.contains("eip1108"), "{e}");
    let r = "21888242871839275222246405745257275088548364400416034343698204186575808495617";
    let e = run(&[
        "calldata".as_ref(),
        vk_path.as_os_str(),
        proof_path.as_os_str(),
        "--public-inputs".as_ref(),
        format!("[\"{r}\", 1]").as_ref(),
    ]);
    assert!(e.contains("not below the BN254 scalar modulus"), "{e}");
    let e = run(&[
        "calldata".as_ref(),
        vk_path.as_os_str(),
        proof_path.as_os_str(),
        "--public-inputs".as_ref(),
        "[1]".as_ref(),
    ]);
    assert!(e.contains("expects 2 public inputs"), "{e}");

    let help = Command::new(bin).arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("Examples:"));
}

/// `zkml-gen solidity` on a two-round key file (the Groth16 key, then `[δ₁]₂`, as `zkml setup`
/// writes vk.bin) renders the two-round verifier; other trailing bytes are
/// refused, and the commands that render one-round verifiers only say so.
#[test]
fn cli_solidity_of_a_two_round_key() {
    let fx = two_round_fixture();
    let tmp = tempfile::tempdir().unwrap();
    let (key, sol) = (tmp.path().join("vk.bin"), tmp.path().join("V.sol"));
    let mut bytes = Vec::new();
    fx.vk.serialize_compressed(&mut bytes).unwrap();
    fx.delta1_g2.serialize_compressed(&mut bytes).unwrap();
    std::fs::write(&key, &bytes).unwrap();
    let zkml_gen =
        |args: &[&std::ffi::OsStr]| Command::new(env!("CARGO_BIN_EXE_zkml-gen")).args(args).output().unwrap();
    let o = zkml_gen(&[
        "solidity".as_ref(),
        key.as_os_str(),
        "--out".as_ref(),
        sol.as_os_str(),
        "--contract-name".as_ref(),
        "T".as_ref(),
        "--allow-dev-keys".as_ref(),
    ]);
    assert!(o.status.success() && String::from_utf8_lossy(&o.stderr).contains("2 public inputs"), "{o:?}");
    let expected =
        solidity::render_two_round(&fx.vk, &fx.delta1_g2, "T", None, PrecompileGas::Forward, Some(keys::BARE_KEY_FILE))
            .unwrap();
    assert_eq!(std::fs::read_to_string(&sol).unwrap(), expected);
    // The Starknet verifier of the same key file derives the seed too.
    let pkg = tmp.path().join("pkg");
    let o = zkml_gen(&[
        "starknet".as_ref(),
        key.as_os_str(),
        "--out".as_ref(),
        pkg.as_os_str(),
        "--allow-dev-keys".as_ref(),
    ]);
    assert!(o.status.success() && String::from_utf8_lossy(&o.stderr).contains("2 public inputs"), "{o:?}");
    assert!(std::fs::read_to_string(pkg.join("src/verifier.cairo")).unwrap().contains("fn seed("));
    // A key followed by bytes that are not a G2 point.
    bytes.truncate(bytes.len() - 1);
    std::fs::write(&key, &bytes).unwrap();
    let o = zkml_gen(&["solidity".as_ref(), key.as_os_str(), "--out".as_ref(), sol.as_os_str()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("not a two-round key's compressed [δ₁]₂"), "{err}");
}
