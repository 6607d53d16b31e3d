// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";

/// @notice What every generated model verifier exposes (the typed entry point differs per model
///         and is called with Rust-encoded calldata).
interface IModelVerifier {
    function verifyProof(bytes calldata proof, uint256[] calldata pubInputs) external view returns (bool);
    function NUM_PUBLIC_INPUTS() external view returns (uint256);
    function MODEL_ID() external view returns (uint256);
}

/// @notice Tests of the verifiers that `zkml-gen solidity DIR` renders for real models, with
///         real wrapped proofs. verifier-gen/tests/it/models.rs compiles each model, makes its
///         two-round keys and proves (a 320-byte proof: A, B, C and the commitment D; the contract
///         derives the seed from D), renders the verifier and its calldata with
///         the zkml-gen binary, compiles it with the pinned solc and writes the fixture
///         tests/forge/generated/verifier_<model>.json (git-ignored): creation bytecode, proof,
///         public inputs, calldata of both entry points and where the typed values lie in it,
///         plus the same verifier rendered with `--precompile-gas eip1108` (fixed EIP-1108 gas
///         caps; the default forwards the available gas) and the proof with B replaced by a point
///         on the twist outside G2.
///         Nothing generated is imported, so forge compiles on a clean clone; a suite whose
///         fixture is missing is skipped.
abstract contract ModelVerifierSuite is Test {
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    uint256 internal constant P = 21888242871839275222246405745257275088696311157297823662689037894645226208583;

    IModelVerifier internal verifier;
    bytes internal proof;
    uint256[] internal pub;
    bytes internal typed;
    bytes internal verifyProofCalldata;
    bytes internal compact;
    uint256 internal contextOffset;
    uint256 internal proofOffset;
    uint256[] internal valueOffsets;
    uint256[] internal valueBits;
    bool[] internal valueSigned;
    bytes internal otherProof;
    uint256[] internal otherPub;
    uint256 internal deployGas;
    /// The verifier with the precompile gas capped at EIP-1108 prices.
    IModelVerifier internal capped;
    /// The proof with B on the twist but outside G2: the only malformed B that reaches the
    /// pairing precompile, which then fails and consumes all the gas it was given.
    bytes internal outsideG2;

    function fixturePath() internal pure virtual returns (string memory);

    function setUp() public {
        string memory path = fixturePath();
        if (!vm.exists(path)) {
            // Written by `cargo test --workspace verifier_end_to_end`.
            vm.skip(true);
            return;
        }
        string memory fx = vm.readFile(path);
        bytes memory code = vm.parseJsonBytes(fx, ".bytecode");
        address v;
        uint256 g = gasleft();
        assembly {
            v := create(0, add(code, 0x20), mload(code))
        }
        deployGas = g - gasleft();
        require(v != address(0), "deploying the verifier failed");
        verifier = IModelVerifier(v);
        proof = vm.parseJsonBytes(fx, ".proof");
        pub = vm.parseJsonUintArray(fx, ".pub");
        typed = vm.parseJsonBytes(fx, ".typedCalldata");
        verifyProofCalldata = vm.parseJsonBytes(fx, ".verifyProofCalldata");
        compact = vm.parseJsonBytes(fx, ".compactCalldata");
        contextOffset = vm.parseJsonUint(fx, ".contextOffset");
        proofOffset = vm.parseJsonUint(fx, ".proofOffset");
        valueOffsets = vm.parseJsonUintArray(fx, ".valueOffsets");
        valueBits = vm.parseJsonUintArray(fx, ".valueBits");
        valueSigned = vm.parseJsonBoolArray(fx, ".valueSigned");
        otherProof = vm.parseJsonBytes(fx, ".otherProof");
        otherPub = vm.parseJsonUintArray(fx, ".otherPub");
        outsideG2 = vm.parseJsonBytes(fx, ".outsideG2Proof");
        code = vm.parseJsonBytes(fx, ".cappedBytecode");
        assembly {
            v := create(0, add(code, 0x20), mload(code))
        }
        require(v != address(0), "deploying the capped verifier failed");
        capped = IModelVerifier(v);
    }

    // ----- helpers -----

    /// verifyProof with a bounded gas budget, as a real transaction has; a revert counts as
    /// "not verified".
    function verified(bytes memory p, uint256[] memory a) internal view returns (bool) {
        try verifier.verifyProof{gas: 2_000_000}(p, a) returns (bool ok) {
            return ok;
        } catch {
            return false;
        }
    }

    /// The typed entry point through raw calldata; a revert counts as "not verified".
    function typedVerified(bytes memory cd) internal view returns (bool) {
        (bool success, bytes memory ret) = address(verifier).staticcall{gas: 2_000_000}(cd);
        return success && ret.length == 32 && abi.decode(ret, (bool));
    }

    /// verifyCompact through raw calldata; a revert counts as "not verified".
    function compactVerified(bytes memory cd) internal view returns (bool) {
        (bool success, bytes memory ret) = address(verifier).staticcall{gas: 2_000_000}(cd);
        return success && ret.length == 32 && abi.decode(ret, (bool));
    }

    /// verifyCompact's calldata for another proof and these public inputs (model id left out).
    function compactFor(bytes memory p, uint256[] memory a) internal view returns (bytes memory cd) {
        uint256 n = proof.length;
        require(p.length == n, "proof length");
        cd = new bytes(4 + n + 32 * (a.length - 1));
        bytes memory c = compact;
        assembly {
            let d := add(cd, 0x20)
            mstore(d, mload(add(c, 0x20))) // the selector (the rest is overwritten below)
            mcopy(add(d, 4), add(p, 0x20), n)
            for { let i := 1 } lt(i, mload(a)) { i := add(i, 1) } {
                mstore(add(d, add(add(4, n), mul(sub(i, 1), 0x20))), mload(add(a, mul(add(i, 1), 0x20))))
            }
        }
    }

    function setWord(bytes memory b, uint256 offset, uint256 v) internal pure returns (bytes memory c) {
        c = bytes.concat(b);
        assembly {
            mstore(add(add(c, 0x20), offset), v)
        }
    }

    function word(bytes memory b, uint256 offset) internal pure returns (uint256 v) {
        assembly {
            v := mload(add(add(b, 0x20), offset))
        }
    }

    /// The typed calldata with another proof of the fixture's proof's length.
    function typedWithProof(bytes memory p) internal view returns (bytes memory cd) {
        require(p.length == proof.length, "proof length");
        cd = bytes.concat(typed);
        for (uint256 i = 0; i < p.length; i++) {
            cd[proofOffset + i] = p[i];
        }
    }

    /// Execution gas of a verifyProof call to `v` with gas limit `limit` that must return false
    /// (a revert fails the test).
    function rejectionGas(IModelVerifier v, bytes memory p, uint256[] memory a, uint256 limit)
        internal
        returns (uint256)
    {
        assertFalse(v.verifyProof{gas: limit}(p, a));
        return vm.lastCallGas().gasTotalUsed;
    }

    function copy(uint256[] memory a) internal pure returns (uint256[] memory b) {
        b = new uint256[](a.length);
        for (uint256 i = 0; i < a.length; i++) {
            b[i] = a[i];
        }
    }

    // ----- the valid proof -----

    function test_validProofVerifies() public view {
        assertEq(verifier.NUM_PUBLIC_INPUTS(), pub.length);
        assertEq(verifier.MODEL_ID(), pub[0]);
        assertTrue(verifier.verifyProof(proof, pub), "verifyProof");
        assertTrue(typedVerified(typed), "typed verify");
        (bool success, bytes memory ret) = address(verifier).staticcall(verifyProofCalldata);
        assertTrue(success && abi.decode(ret, (bool)), "Rust verifyProof calldata");
        assertTrue(compactVerified(compact), "Rust verifyCompact calldata");
        assertEq(keccak256(compactFor(proof, pub)), keccak256(compact), "verifyCompact layout");
    }

    /// Execution gas of one typed verify call (the callee frame, as forge measures it), the
    /// runtime code size, the calldata size and the deploy gas.
    function test_gasOfTypedVerify() public {
        (bool success, bytes memory ret) = address(verifier).call(typed);
        assertTrue(success && abi.decode(ret, (bool)));
        uint256 gasTyped = vm.lastCallGas().gasTotalUsed;
        assertTrue(verifier.verifyProof(proof, pub));
        uint256 gasVerifyProof = vm.lastCallGas().gasTotalUsed;
        (success, ret) = address(verifier).call(compact);
        assertTrue(success && abi.decode(ret, (bool)));
        uint256 gasCompact = vm.lastCallGas().gasTotalUsed;
        emit log_named_uint("typed verify execution gas", gasTyped);
        emit log_named_uint("verifyProof execution gas", gasVerifyProof);
        emit log_named_uint("runtime code bytes", address(verifier).code.length);
        emit log_named_uint("verifyCompact execution gas", gasCompact);
        emit log_named_uint("typed calldata bytes", typed.length);
        emit log_named_uint("compact calldata bytes", compact.length);
        emit log_named_uint("deploy gas", deployGas);
        assertTrue(capped.verifyProof(proof, pub));
        emit log_named_uint("capped verifyProof execution gas", vm.lastCallGas().gasTotalUsed);
        (success, ret) = address(capped).call(compact);
        assertTrue(success && abi.decode(ret, (bool)));
        emit log_named_uint("capped verifyCompact execution gas", vm.lastCallGas().gasTotalUsed);
    }

    function test_cappedValidProofVerifies() public view {
        assertTrue(capped.verifyProof(proof, pub), "verifyProof");
        (bool success, bytes memory ret) = address(capped).staticcall(typed);
        assertTrue(success && abi.decode(ret, (bool)), "typed verify");
        (success, ret) = address(capped).staticcall(compact);
        assertTrue(success && abi.decode(ret, (bool)), "verifyCompact");
    }

    // ----- rejections -----

    function test_flippedProofByteRejected() public view {
        for (uint256 i = 0; i < proof.length; i++) {
            bytes memory p = bytes.concat(proof);
            p[i] = bytes1(uint8(p[i]) ^ 0x01);
            assertFalse(verified(p, pub), "flipped bit accepted by verifyProof");
            assertFalse(typedVerified(typedWithProof(p)), "flipped bit accepted by verify");
            assertFalse(compactVerified(compactFor(p, pub)), "flipped bit accepted by verifyCompact");
        }
    }

    function sampleStep() internal view returns (uint256) {
        return valueOffsets.length / 24 + 1;
    }

    function test_changedPublicInputRejected() public view {
        for (uint256 i = 0; i < pub.length; i++) {
            uint256[] memory a = copy(pub);
            a[i] = addmod(a[i], 1, R);
            assertFalse(verified(proof, a));
            if (i > 0) assertFalse(compactVerified(compactFor(proof, a)), "compact input changed");
        }
        // The typed values: context, then each value by one (staying in range where possible).
        assertFalse(typedVerified(setWord(typed, contextOffset, word(typed, contextOffset) + 1)), "context");
        // A sample of the values (every one for small models): each changed call copies the
        // whole calldata, which for lenet's ~800 values would exhaust the test's memory.
        for (uint256 k = 0; k < valueOffsets.length; k += sampleStep()) {
            uint256 o = valueOffsets[k];
            uint256 w = word(typed, o);
            assertFalse(typedVerified(setWord(typed, o, w ^ 1)), "typed value changed");
        }
    }

    function test_publicInputNotBelowRRejected() public view {
        for (uint256 i = 0; i < pub.length; i++) {
            uint256[] memory a = copy(pub);
            a[i] = a[i] + R; // the same value mod r: must still be rejected
            assertFalse(verified(proof, a));
            if (i > 0) assertFalse(compactVerified(compactFor(proof, a)), "compact input + r");
            a[i] = type(uint256).max;
            assertFalse(verified(proof, a));
        }
        uint256 ctx = word(typed, contextOffset);
        assertFalse(typedVerified(setWord(typed, contextOffset, ctx + R)), "context + r");
    }

    function test_anotherModelsProofRejected() public view {
        assertFalse(verified(otherProof, otherPub), "other proof, other public inputs");
        assertFalse(verified(otherProof, pub), "other proof, these public inputs");
        assertFalse(typedVerified(typedWithProof(otherProof)), "other proof, typed");
        assertFalse(compactVerified(compactFor(otherProof, pub)), "other proof, compact");
        // This proof, claimed for the other model's id.
        uint256[] memory a = copy(pub);
        a[0] = otherPub[0];
        assertFalse(verified(proof, a), "other model id");
    }

    function test_pointNotOnCurveRejected() public view {
        // (1, 3) is not on y^2 = x^3 + 3.
        bytes memory p = setWord(setWord(proof, 0, 1), 0x20, 3);
        assertFalse(verified(p, pub), "A off curve");
        assertFalse(typedVerified(typedWithProof(p)), "A off curve, typed");
        p = setWord(setWord(proof, 0xc0, 1), 0xe0, 3);
        assertFalse(verified(p, pub), "C off curve");
        p = setWord(setWord(proof, 0x100, 1), 0x120, 3);
        assertFalse(verified(p, pub), "D off curve");
        assertFalse(typedVerified(typedWithProof(p)), "D off curve, typed");
        p = setWord(proof, 0x40, 1);
        assertFalse(verified(p, pub), "B off curve");
        assertFalse(typedVerified(typedWithProof(p)), "B off curve, typed");
        assertFalse(verified(setWord(proof, 0x20, word(proof, 0x20) + P), pub), "A.y + p");
        assertFalse(verified(new bytes(proof.length), pub), "all zero");
    }

    // ----- what a rejection costs (forwarded gas by default; the capped verifier) -----

    /// A bit flipped in A puts it off the curve: rejected before the pairing, whatever the gas.
    function test_flippedBitInARejectedBeforePairing() public {
        bytes memory p = setWord(proof, 0, word(proof, 0) ^ 1);
        uint256 used = rejectionGas(verifier, p, pub, 30_000_000);
        emit log_named_uint("forwarded: gas, A.x bit flipped (30M limit)", used);
        assertLt(used, 40_000 + 10_000 * pub.length);
        emit log_named_uint("capped: gas, A.x bit flipped (30M limit)", rejectionGas(capped, p, pub, 30_000_000));
    }

    /// B off the twist is rejected by the contract's own check, before the pairing.
    function test_bOffTwistRejectedBeforePairing() public {
        bytes memory p = setWord(proof, 0x40, word(proof, 0x40) ^ 1);
        uint256 used = rejectionGas(verifier, p, pub, 30_000_000);
        emit log_named_uint("forwarded: gas, B.x_im bit flipped (30M limit)", used);
        assertLt(used, 40_000 + 10_000 * pub.length);
        assertLt(
            rejectionGas(verifier, setWord(proof, 0x40, 1), pub, 30_000_000), 40_000 + 10_000 * pub.length, "B.x_im = 1"
        );
        assertLt(
            rejectionGas(verifier, setWord(proof, 0xa0, word(proof, 0xa0) + P), pub, 30_000_000),
            40_000 + 10_000 * pub.length,
            "B.y_re + p"
        );
    }

    /// Valid points, wrong statement: the pairing runs and returns false; no gas is burnt, so the
    /// cost does not depend on the gas limit.
    function test_wrongStatementRejectedByPairing() public {
        uint256[] memory a = copy(pub);
        a[a.length - 1] = addmod(a[a.length - 1], 1, R);
        uint256 used = rejectionGas(verifier, proof, a, 1_000_000);
        emit log_named_uint("forwarded: gas, wrong statement (1M limit)", used);
        assertEq(rejectionGas(verifier, proof, a, 30_000_000), used, "30M limit");
        assertGt(used, 181_000, "the pairing ran");
        emit log_named_uint("capped: gas, wrong statement (1M limit)", rejectionGas(capped, proof, a, 1_000_000));
    }

    /// B on the twist but outside G2: the pairing precompile fails and, with forwarded gas,
    /// consumes 63/64 of the gas left; the verifier still returns false.
    function test_bOutsideG2RejectedAt1MGasLimit() public {
        uint256 used = rejectionGas(verifier, outsideG2, pub, 1_000_000);
        emit log_named_uint("forwarded: gas, B outside G2 (1M limit)", used);
        assertGt(used, 900_000);
    }

    function test_bOutsideG2RejectedAt30MGasLimit() public {
        uint256 used = rejectionGas(verifier, outsideG2, pub, 30_000_000);
        emit log_named_uint("forwarded: gas, B outside G2 (30M limit)", used);
        assertGt(used, 29_000_000);
    }

    /// With the EIP-1108 caps, the failing pairing burns at most PAIRING_GAS (250k for the five
    /// pairs of a two-round proof).
    function test_cappedBOutsideG2CostsBoundedGas() public {
        uint256 used = rejectionGas(capped, outsideG2, pub, 30_000_000);
        emit log_named_uint("capped: gas, B outside G2 (30M limit)", used);
        assertLt(used, 290_000 + 10_000 * pub.length);
        assertEq(rejectionGas(capped, outsideG2, pub, 1_000_000), used, "1M limit");
    }

    function test_typedValueOutOfRangeRejected() public view {
        for (uint256 k = 0; k < valueOffsets.length; k += sampleStep()) {
            uint256 o = valueOffsets[k];
            uint256 bits = valueBits[k];
            if (valueSigned[k]) {
                int256 half = int256(1 << (bits - 1));
                assertFalse(typedVerified(setWord(typed, o, uint256(half))), "max + 1");
                assertFalse(typedVerified(setWord(typed, o, uint256(-half - 1))), "min - 1");
                assertFalse(typedVerified(setWord(typed, o, uint256(type(int256).max))), "int256 max");
                assertFalse(typedVerified(setWord(typed, o, uint256(type(int256).min))), "int256 min");
            } else {
                assertFalse(typedVerified(setWord(typed, o, 1 << bits)), "max + 1");
                assertFalse(typedVerified(setWord(typed, o, type(uint256).max)), "uint256 max");
            }
        }
    }

    // ----- fuzz -----

    function testFuzz_randomProofNeverVerifies(bytes32[10] memory words) public view {
        bytes memory p = abi.encodePacked(words);
        vm.assume(keccak256(p) != keccak256(proof));
        assertFalse(verified(p, pub));
        assertFalse(typedVerified(typedWithProof(p)));
        assertFalse(compactVerified(compactFor(p, pub)));
    }

    function testFuzz_typedValueOutOfRangeNeverVerifies(uint256 k, int256 v) public view {
        vm.assume(valueOffsets.length > 0);
        k = k % valueOffsets.length;
        uint256 bits = valueBits[k];
        if (valueSigned[k]) {
            int256 half = int256(1 << (bits - 1));
            vm.assume(v >= half || v < -half);
        } else {
            vm.assume(v < 0 || uint256(v) >> bits != 0);
        }
        assertFalse(typedVerified(setWord(typed, valueOffsets[k], uint256(v))));
    }
}

contract PriceMlpVerifierTest is ModelVerifierSuite {
    function fixturePath() internal pure override returns (string memory) {
        return "tests/forge/generated/verifier_price_mlp.json";
    }
}

contract LenetVerifierTest is ModelVerifierSuite {
    function fixturePath() internal pure override returns (string memory) {
        return "tests/forge/generated/verifier_lenet.json";
    }
}

/// @notice The verifier of keys from a key ceremony (snarkjs Powers of Tau, two contributions, a
///         beacon), rendered without --allow-dev-keys.
contract TinyGemmCeremonyVerifierTest is ModelVerifierSuite {
    function fixturePath() internal pure override returns (string memory) {
        return "tests/forge/generated/verifier_tiny_gemm.json";
    }
}
