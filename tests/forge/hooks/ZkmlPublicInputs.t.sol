// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {HookFixtures} from "./HookFixtures.t.sol";
import {ZkmlPublicInputs as PI} from "../../../contracts/ZkmlPublicInputs.sol";

/// @notice External wrapper so that library reverts can be expected.
contract PIHarness {
    function packSigned(int256[] memory v, uint256 bits) external pure returns (uint256[] memory) {
        return PI.packSigned(v, bits);
    }

    function decodeSigned(uint256 w, uint256 bits, uint256 f, uint256 d) external pure returns (int256) {
        return PI.decodeSigned(w, bits, f, d);
    }

    function unpackSignedAt(uint256[] memory w, uint256 n, uint256 bits, uint256 i) external pure returns (int256) {
        return PI.unpackSignedAt(w, n, bits, i);
    }
}

contract ZkmlPublicInputsTest is HookFixtures {
    PIHarness internal h;

    function setUp() public {
        loadFixtures();
        h = new PIHarness();
    }

    function test_ContextsMatchTheProofs() public view {
        // The Rust side (verifier-gen/tests/it/hooks.rs, through zkml::context) derived the contexts
        // it proved for the hooks at the fixtures' addresses on this chain; the library agrees.
        assertEq(block.chainid, vm.parseJsonUint(fx, ".chainId"));
        (, uint256[] memory pub) = statementAt(".oracle.rounds[0]");
        assertEq(pub[1], PI.oracleContext(fixtureAddress("signedOracle"), vm.parseJsonUint(fx, ".oracle.rounds[0].ts")));
        (, pub) = statementAt(".feedOracle.rounds[1]");
        assertEq(
            pub[1], PI.oracleContext(fixtureAddress("feedOracle"), vm.parseJsonUint(fx, ".feedOracle.rounds[1].ts"))
        );
        (, pub) = statementAt(".validator[1]");
        assertEq(
            pub[1],
            PI.validationContext(fixtureAddress("validator"), 0, vm.parseJsonBytes32(fx, ".validator[1].requestHash"))
        );
        (, pub) = statementAt(".escrow[0]");
        assertEq(pub[1], PI.escrowContext(fixtureAddress("escrow"), vm.parseJsonBytes32(fx, ".escrow[0].requestId")));
        assertEq(pub[0], modelId);
        assertEq(modelId, PI.modelId(keccak256("zkml stand-in model (hooks test)")));
    }

    function test_ContextLayout() public view {
        address hook = address(0x1234);
        assertEq(
            PI.oracleContext(hook, 7),
            uint256(keccak256(abi.encode(keccak256("zkml.oracle.v2"), block.chainid, hook, uint256(7)))) >> 8
        );
        assertEq(
            PI.validationContext(hook, 3, bytes32(uint256(9))),
            uint256(keccak256(abi.encode(keccak256("zkml.erc8004.v2"), block.chainid, hook, uint256(3), uint256(9))))
                >> 8
        );
        assertEq(
            PI.escrowContext(hook, bytes32(uint256(9))),
            uint256(keccak256(abi.encode(keccak256("zkml.escrow.v2"), block.chainid, hook, uint256(9)))) >> 8
        );
    }

    /// @notice Every context is a field element as it is (no reduction), and the uses do not
    ///         collide: h and h + r (equal mod r) get different contexts, and so do other agents,
    ///         hooks and chains.
    function testFuzz_ContextsAreInjective(bytes32 hash, uint256 agent, address hook) public {
        vm.assume(uint256(hash) < type(uint256).max - PI.R && agent < type(uint256).max);
        bytes32 alias_ = bytes32(uint256(hash) + PI.R);
        assertLt(PI.validationContext(hook, agent, hash), PI.R);
        assertTrue(PI.validationContext(hook, agent, hash) != PI.validationContext(hook, agent, alias_));
        assertTrue(PI.validationContext(hook, agent, hash) != PI.validationContext(hook, agent + 1, hash));
        assertTrue(PI.escrowContext(hook, hash) != PI.escrowContext(hook, alias_));
        assertTrue(PI.escrowContext(hook, hash) != PI.escrowContext(address(uint160(hook) ^ 1), hash));
        assertTrue(PI.oracleContext(hook, uint256(hash)) != PI.oracleContext(hook, uint256(alias_)));
        uint256 c = PI.escrowContext(hook, hash);
        vm.chainId(block.chainid + 1);
        assertTrue(PI.escrowContext(hook, hash) != c);
    }

    function test_PackLayoutAsProver() public view {
        // pack.rs: slot i at bit i*bits, signed values offset by 2^(bits-1).
        int256[] memory v = new int256[](2);
        v[0] = -1;
        v[1] = 0;
        uint256[] memory w = h.packSigned(v, 16);
        assertEq(w.length, 1);
        assertEq(w[0], 0x7fff | (0x8000 << 16));
        assertEq(PI.slots(16), 15);
        assertEq(PI.slots(12), 21);
        assertEq(PI.packedLength(16, 16), 2);
        // The oracle fixture's input word.
        (, uint256[] memory pub) = statementAt(".oracle.rounds[0]");
        int256[] memory inputs = vm.parseJsonIntArray(fx, ".oracle.rounds[0].inputs");
        assertEq(h.packSigned(inputs, 16)[0], pub[2]);
    }

    function test_DecodeOutputWord() public pure {
        // A 34-bit slot holding q = 1000 (offset 2^33), 8 fractional bits, 8 decimals.
        uint256[] memory w = new uint256[](1);
        w[0] = (1 << 33) + 1000;
        int256 q = PI.unpackSignedAt(w, 1, 34, 0);
        assertEq(q, 1000);
        assertEq(PI.toDecimals(q, 8, 8), 1000 * 390625); // 1000 / 256 = 3.90625
        w[0] = (1 << 33) - 256;
        q = PI.unpackSignedAt(w, 1, 34, 0);
        assertEq(q, -256);
        assertEq(PI.toDecimals(q, 8, 2), -100);
        assertEq(PI.decodeSigned((1 << 33) + 1000, 34, 8, 8), 1000 * 390625);
        assertEq(PI.decodeSigned((1 << 33) - 256, 34, 8, 2), -100);
        assertEq(PI.decodeSigned(0, 34, 0, 0), -(int256(1) << 33));
        assertEq(PI.toDecimals(3, 1, 0), 1); // rounds toward zero
        assertEq(PI.toDecimals(-3, 1, 0), -1);
    }

    function test_RevertWhen_NotAPacking() public {
        uint256[] memory w = new uint256[](1);
        w[0] = 1 << 34; // a bit above the only used slot
        vm.expectRevert(abi.encodeWithSelector(PI.NotAPacking.selector, 0));
        h.unpackSignedAt(w, 1, 34, 0);
        w[0] = 1 << 32;
        vm.expectRevert(abi.encodeWithSelector(PI.NotAPacking.selector, 0));
        h.unpackSignedAt(w, 2, 16, 0); // 2 slots of 16 bits use bits 0..31 only
        vm.expectRevert(abi.encodeWithSelector(PI.NotAPacking.selector, 0));
        h.decodeSigned(1 << 40, 34, 8, 8);
        uint256[] memory two = new uint256[](2);
        vm.expectRevert(abi.encodeWithSelector(PI.NotAPacking.selector, 0));
        h.unpackSignedAt(two, 1, 16, 0); // wrong length
    }

    function test_RevertWhen_ValueDoesNotFitSlot() public {
        int256[] memory v = new int256[](1);
        v[0] = 1 << 15;
        vm.expectRevert(abi.encodeWithSelector(PI.ValueOutOfRange.selector, v[0], 16));
        h.packSigned(v, 16);
        v[0] = -(1 << 15) - 1;
        vm.expectRevert(abi.encodeWithSelector(PI.ValueOutOfRange.selector, v[0], 16));
        h.packSigned(v, 16);
        vm.expectRevert(abi.encodeWithSelector(PI.SlotWidthInvalid.selector, 0));
        h.packSigned(v, 0);
    }

    function testFuzz_PackUnpackRoundTrip(int64[40] memory raw, uint8 bitsSeed, uint8 nSeed) public view {
        uint256 bits = bound(bitsSeed, 2, 64);
        uint256 n = bound(nSeed, 1, 40);
        int256 half = int256(1 << (bits - 1));
        int256[] memory v = new int256[](n);
        for (uint256 i = 0; i < n; i++) {
            int256 x = int256(raw[i]) % half; // in (-half, half)
            v[i] = x;
        }
        uint256[] memory w = h.packSigned(v, bits);
        assertEq(w.length, PI.packedLength(n, bits));
        for (uint256 i = 0; i < n; i++) {
            assertEq(h.unpackSignedAt(w, n, bits, i), v[i]);
            assertLt(w[i / PI.slots(bits)], PI.R);
        }
    }

    function test_AssembleLayout() public pure {
        uint256[] memory i = new uint256[](2);
        i[0] = 10;
        i[1] = 11;
        uint256[] memory o = new uint256[](1);
        o[0] = 20;
        uint256[] memory pub = PI.assemble(1, 2, i, o);
        assertEq(pub.length, 5);
        assertEq(pub[0], 1);
        assertEq(pub[1], 2);
        assertEq(pub[2], 10);
        assertEq(pub[3], 11);
        assertEq(pub[4], 20);
        assertEq(PI.wordsHash(i), keccak256(abi.encodePacked(uint256(10), uint256(11))));
    }
}
