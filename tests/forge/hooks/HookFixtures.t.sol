// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {IZkmlVerifier} from "../../../contracts/interfaces/IZkmlVerifier.sol";
import {ZkmlOracle} from "../../../contracts/ZkmlOracle.sol";

/// @notice Loads what verifier-gen/tests/it/hooks.rs generates into tests/forge/generated/
///         (git-ignored): hook_fixtures.json, with the creation bytecode of the real Groth16
///         verifier of the stand-in circuit (rendered by zkml-gen to HookVerifier.sol, compiled
///         with the pinned solc) and real proofs. Nothing generated is imported, so forge compiles
///         without it; the hook suites fail in setUp until
///         `cargo test --workspace hook_contracts` has run once.
abstract contract HookFixtures is Test {
    string internal constant FIXTURES = "tests/forge/generated/hook_fixtures.json";
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

    string internal fx;
    IZkmlVerifier internal verifier;
    uint256 internal modelId;

    function loadFixtures() internal {
        require(
            vm.exists(FIXTURES),
            "hook fixtures missing: run `cargo test --workspace hook_contracts` (writes tests/forge/generated/)"
        );
        fx = vm.readFile(FIXTURES);
        verifier = newVerifier();
        vm.label(address(verifier), "HookVerifier");
        modelId = vm.parseJsonUint(fx, ".modelId");
    }

    /// @notice The proof and public inputs at a JSON path.
    function statementAt(string memory path) internal view returns (bytes memory proof, uint256[] memory pub) {
        proof = vm.parseJsonBytes(fx, string.concat(path, ".proof"));
        pub = vm.parseJsonUintArray(fx, string.concat(path, ".pub"));
    }

    /// @notice Deploys the generated verifier from its creation bytecode in the fixtures.
    function newVerifier() internal returns (IZkmlVerifier v) {
        bytes memory code = vm.parseJsonBytes(fx, ".verifierBytecode");
        assembly {
            v := create(0, add(code, 0x20), mload(code))
        }
        require(address(v) != address(0), "deploying HookVerifier failed");
    }

    /// @notice The deployment config of an oracle for the fixtures' stand-in model (2 inputs, one
    ///         output value with the fixtures' slot widths and scale).
    function oracleConfig(IZkmlVerifier v, string memory description, uint64 maxAge, uint64 delay, address owner)
        internal
        view
        returns (ZkmlOracle.Config memory)
    {
        return ZkmlOracle.Config({
            verifier: v,
            modelId: modelId,
            io: ZkmlOracle.ModelIO({
                numInputs: 2,
                inputBits: uint8(vm.parseJsonUint(fx, ".oracle.inputBits")),
                outputBits: uint8(vm.parseJsonUint(fx, ".oracle.outputBits")),
                outputFracBits: uint8(vm.parseJsonUint(fx, ".oracle.fracBits"))
            }),
            decimals: uint8(vm.parseJsonUint(fx, ".oracle.decimals")),
            description: description,
            maxAge: maxAge,
            upgradeDelay: delay,
            owner: owner
        });
    }

    /// @notice The fixed address the fixtures' proofs were made for (their contexts bind it).
    function fixtureAddress(string memory name) internal view returns (address) {
        return vm.parseJsonAddress(fx, string.concat(".addresses.", name));
    }

    /// @notice Runs `creation` (creation code with its constructor arguments) as the constructor of
    ///         a contract at `where`, as forge-std's deployCodeTo does, without an artifact lookup.
    function deployAt(bytes memory creation, address where) internal returns (address) {
        vm.etch(where, creation);
        (bool ok, bytes memory runtime) = where.call("");
        if (!ok) {
            assembly {
                revert(add(runtime, 0x20), mload(runtime))
            }
        }
        vm.etch(where, runtime);
        return where;
    }

    /// @notice A proof whose B is on the twist but outside G2: the verifier leaves it to the pairing
    ///         precompile, which fails and consumes all the gas it was given.
    function outsideG2Proof() internal view returns (bytes memory) {
        return vm.parseJsonBytes(fx, ".outsideG2Proof");
    }

    /// @notice What a rejected proof may cost whoever submits it, a relayer or a contract that
    ///         calls a hook: above a valid verification of the stand-in model (~210k gas), far below
    ///         the 29.5M of 30M that an uncapped verifier call burns on `outsideG2Proof()`.
    uint256 internal constant REJECTED_PROOF_GAS_BOUND = 1_000_000;

    /// @notice Calls `target` with a block's worth of gas (30M), as a relayer might.
    function callWith30MGas(address target, bytes memory data)
        internal
        returns (bool ok, bytes memory ret, uint256 used)
    {
        uint256 before = gasleft();
        (ok, ret) = target.call{gas: 30_000_000}(data);
        used = before - gasleft();
    }

    function flipBit(bytes memory proof, uint256 i) internal pure returns (bytes memory p) {
        p = bytes.concat(proof);
        p[i] = bytes1(uint8(p[i]) ^ 0x01);
    }

    function copy(uint256[] memory a) internal pure returns (uint256[] memory b) {
        b = new uint256[](a.length);
        for (uint256 i = 0; i < a.length; i++) {
            b[i] = a[i];
        }
    }
}
