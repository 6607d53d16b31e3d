// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {HookFixtures} from "./HookFixtures.t.sol";
import {ZkmlOracle} from "../../../contracts/ZkmlOracle.sol";
import {ZkmlFeedOracle} from "../../../contracts/ZkmlFeedOracle.sol";
import {ZkmlPublicInputs} from "../../../contracts/ZkmlPublicInputs.sol";
import {AggregatorV3Interface} from "../../../contracts/interfaces/AggregatorV3Interface.sol";
import {TestAggregator} from "../../../contracts/testing/TestAggregator.sol";

/// @notice The on-chain-sources mode: the oracle reads its model inputs from Chainlink-style
///         feeds, so a proof on any other inputs fails whoever posts it.
contract ZkmlFeedOracleTest is HookFixtures {
    uint64 internal constant MAX_AGE = 3600;
    address internal owner = makeAddr("owner");
    address internal attacker = makeAddr("attacker");
    TestAggregator internal feedA;
    TestAggregator internal feedB;
    ZkmlFeedOracle internal oracle;
    uint64 internal t0;
    int8 internal scale;
    uint8 internal feedDecimals;

    function setUp() public {
        loadFixtures();
        t0 = uint64(vm.parseJsonUint(fx, ".oracle.t0"));
        scale = int8(int256(vm.parseJsonUint(fx, ".feedOracle.inputScale")));
        feedDecimals = uint8(vm.parseJsonUint(fx, ".feedOracle.feedDecimals"));
        feedA = new TestAggregator(feedDecimals, "A / USD");
        feedB = new TestAggregator(feedDecimals, "B / USD");
        oracle = ZkmlFeedOracle(deployAt(creation(sources(0, 0)), fixtureAddress("feedOracle")));
        vm.warp(t0 + 200);
    }

    function sources(uint80 backA, uint80 backB) internal view returns (ZkmlFeedOracle.Source[] memory s) {
        s = new ZkmlFeedOracle.Source[](2);
        s[0] = ZkmlFeedOracle.Source({feed: feedA, roundsBack: backA});
        s[1] = ZkmlFeedOracle.Source({feed: feedB, roundsBack: backB});
    }

    function config() internal view returns (ZkmlOracle.Config memory) {
        return oracleConfig(verifier, "zkml price model on feeds / USD", MAX_AGE, 1 days, owner);
    }

    function creation(ZkmlFeedOracle.Source[] memory s) internal view returns (bytes memory) {
        return abi.encodePacked(type(ZkmlFeedOracle).creationCode, abi.encode(config(), s, scale));
    }

    function path(uint256 i) internal pure returns (string memory) {
        return string.concat(".feedOracle.rounds[", vm.toString(i), "]");
    }

    /// @notice The feeds publish round i's market data at its timestamp.
    function publish(uint256 i) internal returns (uint64 ts) {
        ts = uint64(vm.parseJsonUint(fx, string.concat(path(i), ".ts")));
        int256[] memory a = vm.parseJsonIntArray(fx, string.concat(path(i), ".feedAnswers"));
        feedA.push(a[0], ts);
        feedB.push(a[1], ts);
    }

    function post(uint256 i) internal returns (uint80) {
        bytes memory proof = vm.parseJsonBytes(fx, string.concat(path(i), ".proof"));
        uint64 ts = uint64(vm.parseJsonUint(fx, string.concat(path(i), ".ts")));
        int256 answer = vm.parseJsonInt(fx, string.concat(path(i), ".answer"));
        return oracle.update(proof, ts, answer);
    }

    function test_FeedOracleUpdate() public {
        uint64 ts = publish(0);
        (int256[] memory features, uint64 at) = oracle.currentInputs();
        assertEq(at, ts);
        assertEq(features, vm.parseJsonIntArray(fx, string.concat(path(0), ".inputs")));
        (, uint256[] memory pub) = statementAt(path(0));
        assertEq(pub[1], ZkmlPublicInputs.oracleContext(address(oracle), ts));
        vm.prank(attacker); // anyone may post: nothing they say goes into the model
        assertEq(post(0), 1);
        (, int256 answer,, uint256 updatedAt,) = oracle.latestRoundData();
        assertEq(answer, vm.parseJsonInt(fx, string.concat(path(0), ".answer")));
        assertEq(updatedAt, ts);
        publish(1);
        assertEq(post(1), 2);
    }

    function test_GasOfUpdate() public {
        uint64 ts = publish(0);
        bytes memory proof = vm.parseJsonBytes(fx, string.concat(path(0), ".proof"));
        int256 answer = vm.parseJsonInt(fx, string.concat(path(0), ".answer"));
        uint256 before = gasleft();
        oracle.update(proof, ts, answer);
        emit log_named_uint("ZkmlFeedOracle.update gas, 2 feeds (first round, incl. call)", before - gasleft());
    }

    /// @notice The attack: a valid proof of the model on doctored features for this oracle and
    ///         time. The oracle checks it against what the feeds say, so it fails.
    function test_RevertWhen_AttackerProvesDoctoredFeatures() public {
        publish(0);
        (bytes memory proof, uint256[] memory pub) = statementAt(".feedOracle.doctored");
        assertTrue(verifier.verifyProof(proof, pub), "the attacker's proof itself is valid");
        uint64 ts = uint64(vm.parseJsonUint(fx, ".feedOracle.doctored.ts"));
        int256 answer = vm.parseJsonInt(fx, ".feedOracle.doctored.answer");
        vm.prank(attacker);
        vm.expectRevert(ZkmlOracle.InvalidProof.selector);
        oracle.update(proof, ts, answer);
    }

    function test_RevertWhen_UpdaterNotAllowlisted() public {
        publish(0);
        vm.prank(owner);
        oracle.setUpdatersRestricted(true);
        vm.prank(attacker);
        vm.expectRevert(abi.encodeWithSelector(ZkmlOracle.NotAnUpdater.selector, attacker));
        post(0);
    }

    function test_RevertWhen_FeedsMovedSinceTheProof() public {
        publish(0);
        vm.warp(t0 + 250);
        feedA.push(1, t0 + 240);
        uint64 ts = uint64(vm.parseJsonUint(fx, string.concat(path(0), ".ts")));
        vm.expectRevert(abi.encodeWithSelector(ZkmlFeedOracle.FeedsMoved.selector, ts, t0 + 240));
        post(0);
    }

    function test_RevertWhen_FeedStale() public {
        uint64 ts = publish(0);
        vm.warp(ts + MAX_AGE + 1);
        vm.expectRevert(abi.encodeWithSelector(ZkmlFeedOracle.StaleFeed.selector, 0, ts, block.timestamp));
        post(0);
    }

    function test_RevertWhen_FeedHasNoRound() public {
        vm.expectRevert(abi.encodeWithSelector(TestAggregator.NoDataPresent.selector));
        oracle.currentInputs();
    }

    function test_ReadsRecentRounds() public {
        // Source B reads one round back: round 0's B value stays in, whatever B says now.
        ZkmlFeedOracle lagged = new ZkmlFeedOracle(config(), sources(0, 1), scale);
        publish(0);
        feedB.push(123_456_789, t0 + 10);
        (int256[] memory f,) = lagged.currentInputs();
        assertEq(f[1], vm.parseJsonIntArray(fx, string.concat(path(0), ".inputs"))[1]);
        assertEq(f[1], lagged.quantize(1, vm.parseJsonIntArray(fx, string.concat(path(0), ".feedAnswers"))[1]));
        ZkmlFeedOracle tooFar = new ZkmlFeedOracle(config(), sources(0, 5), scale);
        vm.expectRevert(abi.encodeWithSelector(ZkmlFeedOracle.NoRound.selector, 1, 0));
        tooFar.currentInputs();
    }

    function test_RevertWhen_SourceCountIsNotTheInputCount() public {
        ZkmlFeedOracle.Source[] memory one = new ZkmlFeedOracle.Source[](1);
        one[0] = ZkmlFeedOracle.Source({feed: feedA, roundsBack: 0});
        ZkmlOracle.Config memory c = config();
        vm.expectRevert(abi.encodeWithSelector(ZkmlFeedOracle.SourceCount.selector, 1, 2));
        new ZkmlFeedOracle(c, one, scale);
    }

    /// @notice quantize is round(answer * 2^scale / 10^decimals), halves away from zero, as the
    ///         prover quantizes (and as `zkml_verifier_gen::hooks::feed_input` computes it).
    function testFuzz_QuantizeRoundsHalfAwayFromZero(int128 answer) public view {
        int256 q = oracle.quantize(0, answer);
        int256 den = int256(10) ** feedDecimals;
        int256 num = int256(answer) * int256(1 << uint8(scale));
        // |num - q*den| <= den/2, and a tie goes away from zero.
        int256 err = num - q * den;
        assertLe(err < 0 ? -err : err, den / 2);
        if (2 * (err < 0 ? -err : err) == den) {
            assertTrue((q > 0) == (num > 0), "tie away from zero");
        }
    }

    function test_QuantizeKnownAnswers() public view {
        assertEq(oracle.quantize(0, 250_000_000), 10);
        assertEq(oracle.quantize(0, 12_500_000), 1);
        assertEq(oracle.quantize(0, -12_500_000), -1);
        assertEq(oracle.quantize(0, 12_499_999), 0);
    }
}
