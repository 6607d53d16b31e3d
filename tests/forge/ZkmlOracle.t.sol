// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {HookFixtures} from "./HookFixtures.t.sol";
import {ZkmlOracle} from "../../contracts/ZkmlOracle.sol";
import {ZkmlPublicInputs} from "../../contracts/ZkmlPublicInputs.sol";
import {AggregatorV3Interface} from "../../contracts/interfaces/AggregatorV3Interface.sol";
import {IZkmlVerifier} from "../../contracts/interfaces/IZkmlVerifier.sol";

/// @notice A consumer written for Chainlink, unchanged: reads latestRoundData and checks freshness.
contract ChainlinkStyleConsumer {
    AggregatorV3Interface public immutable feed;

    constructor(AggregatorV3Interface feed_) {
        feed = feed_;
    }

    function price(uint256 maxDelay) external view returns (int256) {
        (uint80 roundId, int256 answer,, uint256 updatedAt, uint80 answeredInRound) = feed.latestRoundData();
        require(answer > 0, "bad answer");
        require(answeredInRound >= roundId, "stale round");
        require(block.timestamp - updatedAt <= maxDelay, "stale price");
        return answer;
    }
}

contract ZkmlOracleTest is HookFixtures {
    uint64 internal constant MAX_AGE = 3600;
    address internal owner = makeAddr("owner");
    address internal keeper = makeAddr("keeper");
    ZkmlOracle internal oracle;
    uint64 internal t0;

    struct Upd {
        bytes proof;
        int256[] inputs;
        uint64 ts;
        int256 answer;
    }

    function setUp() public {
        loadFixtures();
        t0 = uint64(vm.parseJsonUint(fx, ".oracle.t0"));
        ZkmlOracle.ModelIO memory io = ZkmlOracle.ModelIO({
            numInputs: 2,
            inputBits: uint8(vm.parseJsonUint(fx, ".oracle.inputBits")),
            outputBits: uint8(vm.parseJsonUint(fx, ".oracle.outputBits")),
            outputFracBits: uint8(vm.parseJsonUint(fx, ".oracle.fracBits"))
        });
        oracle = new ZkmlOracle(
            verifier, modelId, io, uint8(vm.parseJsonUint(fx, ".oracle.decimals")), "zkml price model / USD", MAX_AGE, owner
        );
        vm.warp(t0 + 200);
    }

    function upd(string memory path) internal view returns (Upd memory u) {
        u.proof = vm.parseJsonBytes(fx, string.concat(path, ".proof"));
        u.inputs = vm.parseJsonIntArray(fx, string.concat(path, ".inputs"));
        u.ts = uint64(vm.parseJsonUint(fx, string.concat(path, ".ts")));
        u.answer = vm.parseJsonInt(fx, string.concat(path, ".answer"));
    }

    function round(uint256 i) internal view returns (Upd memory) {
        return upd(string.concat(".oracle.rounds[", vm.toString(i), "]"));
    }

    function submit(Upd memory u) internal returns (uint80) {
        vm.prank(keeper);
        return oracle.update(u.proof, u.inputs, u.ts, u.answer);
    }

    // ----- happy path -----

    function test_OracleUpdate() public {
        Upd memory u = round(0);
        // The oracle rebuilds exactly the public inputs the proof was made for.
        (, uint256[] memory pub) = statementAt(".oracle.rounds[0]");
        assertEq(oracle.publicInputs(u.inputs, u.ts, u.answer), pub);
        assertEq(pub[1], ZkmlPublicInputs.oracleContext(u.ts));

        vm.expectEmit(address(oracle));
        emit ZkmlOracle.AnswerUpdated(u.answer, 1, u.ts);
        uint80 id = submit(u);
        assertEq(id, 1);
        (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound) =
            oracle.latestRoundData();
        assertEq(roundId, 1);
        assertEq(answer, u.answer);
        assertEq(startedAt, block.timestamp);
        assertEq(updatedAt, u.ts);
        assertEq(answeredInRound, 1);
        assertEq(oracle.decimals(), 8);
        assertEq(oracle.version(), 1);
        assertEq(oracle.description(), "zkml price model / USD");

        ChainlinkStyleConsumer consumer = new ChainlinkStyleConsumer(oracle);
        assertEq(consumer.price(1 hours), u.answer);
    }

    function test_OracleUpdateEveryRound() public {
        for (uint256 i = 0; i < 4; i++) {
            assertEq(submit(round(i)), i + 1);
        }
        for (uint80 i = 1; i <= 4; i++) {
            (uint80 roundId, int256 answer,, uint256 updatedAt, uint80 answeredInRound) = oracle.getRoundData(i);
            assertEq(roundId, i);
            assertEq(answer, round(i - 1).answer);
            assertEq(updatedAt, round(i - 1).ts);
            assertEq(answeredInRound, i);
        }
        assertEq(oracle.latestRound(), 4);
    }

    function test_GasOfUpdate() public {
        Upd memory u = round(0);
        vm.prank(keeper);
        uint256 before = gasleft();
        oracle.update(u.proof, u.inputs, u.ts, u.answer);
        emit log_named_uint("ZkmlOracle.update gas (first round, incl. call)", before - gasleft());
        u = round(1);
        vm.prank(keeper);
        before = gasleft();
        oracle.update(u.proof, u.inputs, u.ts, u.answer);
        emit log_named_uint("ZkmlOracle.update gas (next round, incl. call)", before - gasleft());
    }

    // ----- attacks -----

    function test_RevertWhen_ProofIsWrong() public {
        Upd memory u = round(0);
        u.proof = flipBit(u.proof, 40);
        vm.expectRevert(ZkmlOracle.InvalidProof.selector);
        submit(u);
        // A valid proof of another round, with this round's claims.
        u.proof = round(1).proof;
        vm.expectRevert(ZkmlOracle.InvalidProof.selector);
        submit(u);
    }

    function test_RevertWhen_InputsAreNotTheProvedOnes() public {
        Upd memory u = round(0);
        u.inputs[0] += 1;
        vm.expectRevert(ZkmlOracle.InvalidProof.selector);
        submit(u);
    }

    function test_RevertWhen_AnswerIsNotTheProvedOne() public {
        Upd memory u = round(0);
        u.answer += 390625; // the next representable answer
        vm.expectRevert(ZkmlOracle.InvalidProof.selector);
        submit(u);
        u.answer = round(0).answer + 1; // not representable at all
        vm.expectRevert(abi.encodeWithSelector(ZkmlOracle.AnswerNotRepresentable.selector, u.answer));
        submit(u);
    }

    function test_RevertWhen_TimestampIsNotTheProvedOne() public {
        Upd memory u = round(0);
        u.ts += 1;
        vm.expectRevert(ZkmlOracle.InvalidProof.selector);
        submit(u);
    }

    function test_RevertWhen_ProofReplayed() public {
        Upd memory u = round(0);
        submit(u);
        bytes32 st = keccak256(abi.encodePacked(oracle.publicInputs(u.inputs, u.ts, u.answer)));
        vm.expectRevert(abi.encodeWithSelector(ZkmlOracle.ReplayedStatement.selector, st));
        submit(u);
    }

    function test_RevertWhen_Stale() public {
        Upd memory u = round(0);
        vm.warp(u.ts + MAX_AGE + 1);
        vm.expectRevert(abi.encodeWithSelector(ZkmlOracle.StaleData.selector, u.ts, block.timestamp, MAX_AGE));
        submit(u);
    }

    function test_RevertWhen_DataFromTheFuture() public {
        Upd memory u = round(3);
        vm.warp(u.ts - 1);
        vm.expectRevert(abi.encodeWithSelector(ZkmlOracle.FutureData.selector, u.ts, block.timestamp));
        submit(u);
    }

    function test_RevertWhen_OutOfOrder() public {
        submit(round(2));
        Upd memory older = round(1);
        vm.expectRevert(abi.encodeWithSelector(ZkmlOracle.OutOfOrder.selector, older.ts, round(2).ts));
        submit(older);
    }

    function test_RevertWhen_AnswerNotPositive() public {
        Upd memory u = upd(".oracle.negative");
        assertLe(u.answer, 0);
        // The proof is valid (the model did say so), but a feed never reports it.
        (bytes memory proof, uint256[] memory pub) = statementAt(".oracle.negative");
        assertTrue(verifier.verifyProof(proof, pub));
        vm.expectRevert(abi.encodeWithSelector(ZkmlOracle.NonPositiveAnswer.selector, u.answer));
        submit(u);
        u.answer = 0;
        vm.expectRevert(abi.encodeWithSelector(ZkmlOracle.NonPositiveAnswer.selector, int256(0)));
        submit(u);
    }

    function test_RevertWhen_WrongInputCount() public {
        Upd memory u = round(0);
        int256[] memory three = new int256[](3);
        u.inputs = three;
        vm.expectRevert(abi.encodeWithSelector(ZkmlOracle.WrongInputCount.selector, 3, 2));
        submit(u);
    }

    function test_RevertWhen_UnknownRound() public {
        vm.expectRevert(ZkmlOracle.NoDataPresent.selector);
        oracle.latestRoundData();
        submit(round(0));
        vm.expectRevert(ZkmlOracle.NoDataPresent.selector);
        oracle.getRoundData(2);
        vm.expectRevert(ZkmlOracle.NoDataPresent.selector);
        oracle.getRoundData(0);
    }

    function test_RevertWhen_UnauthorizedRotation() public {
        address attacker = makeAddr("attacker");
        vm.prank(attacker);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, attacker));
        oracle.setVerifier(IZkmlVerifier(attacker), 1);
        assertEq(address(oracle.verifier()), address(verifier));
    }

    function test_OwnerRotatesVerifier() public {
        submit(round(0));
        IZkmlVerifier next = newVerifier();
        uint256 nextModel = modelId + 1;
        vm.expectEmit(address(oracle));
        emit ZkmlOracle.VerifierRotated(address(verifier), address(next), modelId, nextModel);
        vm.prank(owner);
        oracle.setVerifier(next, nextModel);
        assertEq(address(oracle.verifier()), address(next));
        assertEq(oracle.modelId(), nextModel);
        // Proofs of the old model no longer pass: the model id is a public input.
        vm.expectRevert(ZkmlOracle.InvalidProof.selector);
        submit(round(1));
        // Rounds already stored stay readable.
        (, int256 answer,,,) = oracle.latestRoundData();
        assertEq(answer, round(0).answer);
    }

    // ----- fuzz -----

    /// @notice An update is accepted exactly when its data is at most maxAge old and not from the future.
    function testFuzz_Staleness(uint256 i, uint256 age) public {
        Upd memory u = round(bound(i, 0, 3));
        age = bound(age, 0, 3 * uint256(MAX_AGE));
        vm.warp(uint256(u.ts) + age);
        if (age > MAX_AGE) {
            vm.expectRevert(abi.encodeWithSelector(ZkmlOracle.StaleData.selector, u.ts, block.timestamp, MAX_AGE));
            submit(u);
            assertEq(oracle.latestRound(), 0);
        } else {
            assertEq(submit(u), 1);
            (,,, uint256 updatedAt,) = oracle.latestRoundData();
            assertEq(updatedAt, u.ts);
        }
    }

    /// @notice Any submission order: a round is stored iff its data is newer than the latest one,
    ///         round ids are consecutive and updatedAt strictly increases.
    function testFuzz_Ordering(uint8[8] memory order) public {
        vm.warp(t0 + 300);
        uint64 latestTs;
        uint80 rounds;
        for (uint256 k = 0; k < order.length; k++) {
            Upd memory u = round(order[k] % 4);
            if (u.ts > latestTs) {
                assertEq(submit(u), rounds + 1);
                rounds++;
                latestTs = u.ts;
            } else {
                vm.expectRevert();
                submit(u);
            }
        }
        assertEq(oracle.latestRound(), rounds);
        for (uint80 id = 2; id <= rounds; id++) {
            (,,, uint256 prev,) = oracle.getRoundData(id - 1);
            (,,, uint256 cur,) = oracle.getRoundData(id);
            assertGt(cur, prev);
        }
    }
}
