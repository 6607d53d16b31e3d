// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {HookFixtures} from "./HookFixtures.t.sol";
import {ZkmlOracle} from "../../../contracts/ZkmlOracle.sol";
import {ZkmlSignedOracle} from "../../../contracts/ZkmlSignedOracle.sol";
import {ZkmlPublicInputs} from "../../../contracts/ZkmlPublicInputs.sol";
import {AggregatorV3Interface} from "../../../contracts/interfaces/AggregatorV3Interface.sol";
import {IZkmlVerifier, IZkmlVerifierLayout} from "../../../contracts/interfaces/IZkmlVerifier.sol";

/// @notice A consumer written for Chainlink, unchanged: reads latestRoundData and checks freshness.
contract ChainlinkStyleConsumer {
    AggregatorV3Interface public immutable feed;

    constructor(AggregatorV3Interface feed_) {
        feed = feed_;
    }

    function price(uint256 maxDelay) external view returns (int256) {
        (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound) =
            feed.latestRoundData();
        require(answer > 0, "bad answer");
        require(answeredInRound >= roundId, "stale round");
        require(block.timestamp - updatedAt <= maxDelay, "stale price");
        require(updatedAt - startedAt < 1 days, "slow round"); // underflows if startedAt > updatedAt
        return answer;
    }
}

/// @notice A verifier-shaped contract with another public-input count.
contract OtherLayoutVerifier {
    uint256 public constant NUM_PUBLIC_INPUTS = 5;

    function verifyProof(bytes calldata, uint256[] calldata) external pure returns (bool) {
        return true;
    }
}

/// @notice An upgradeable verifier: forwards to an implementation its deployer can swap.
contract SwappableVerifier {
    IZkmlVerifier public impl;
    address internal immutable admin;

    constructor(IZkmlVerifier impl_) {
        impl = impl_;
        admin = msg.sender;
    }

    function swap(IZkmlVerifier next) external {
        require(msg.sender == admin, "admin");
        impl = next;
    }

    function NUM_PUBLIC_INPUTS() external view returns (uint256) {
        return IZkmlVerifierLayout(address(impl)).NUM_PUBLIC_INPUTS();
    }

    function verifyProof(bytes calldata proof, uint256[] calldata pub) external view returns (bool) {
        return impl.verifyProof(proof, pub);
    }
}

/// @notice ZkmlOracle's shared behaviour (rounds, times, answers, owner powers) and the
///         signed-report mode, against the real generated verifier and real proofs made for an
///         oracle at the fixtures' address on forge's chain.
contract ZkmlOracleTest is HookFixtures {
    uint64 internal constant MAX_AGE = 3600;
    /// The oracle most tests use lets a report wait as long as it stays fresh, so that they can
    /// post rounds of different ages; the post-delay tests deploy one with a deployment's value.
    uint64 internal constant POST_DELAY = MAX_AGE;
    /// A few blocks and the stand-in model's proving time.
    uint64 internal constant TIGHT_POST_DELAY = 30;
    uint64 internal constant DELAY = 2 days;
    address internal owner = makeAddr("owner");
    address internal keeper = makeAddr("keeper");
    address internal attacker = makeAddr("attacker");
    uint256[3] internal signerKeys = [uint256(0xA11CE), 0xB0B, 0xCA11];
    ZkmlSignedOracle internal oracle;
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
        oracle = ZkmlSignedOracle(deployAt(creation(verifier, signerSet(2), 2), fixtureAddress("signedOracle")));
        vm.warp(t0 + 200);
    }

    function config(IZkmlVerifier v) internal view returns (ZkmlOracle.Config memory) {
        return oracleConfig(v, "zkml price model / USD", MAX_AGE, DELAY, owner);
    }

    /// @notice Deploys, at the fixtures' address (where their proofs count), an oracle that takes
    ///         reports at most `postDelay` seconds old.
    function redeployWithPostDelay(uint64 postDelay) internal {
        bytes memory code = abi.encodePacked(
            type(ZkmlSignedOracle).creationCode, abi.encode(config(verifier), postDelay, signerSet(2), uint8(2))
        );
        oracle = ZkmlSignedOracle(deployAt(code, fixtureAddress("signedOracle")));
    }

    function creation(IZkmlVerifier v, address[] memory signers, uint8 quorum) internal view returns (bytes memory) {
        return abi.encodePacked(type(ZkmlSignedOracle).creationCode, abi.encode(config(v), POST_DELAY, signers, quorum));
    }

    /// @notice The first n data signers, sorted by address.
    function signerSet(uint256 n) internal view returns (address[] memory s) {
        s = new address[](n);
        for (uint256 i = 0; i < n; i++) {
            s[i] = vm.addr(signerKeys[i]);
        }
        sortAddresses(s);
    }

    function sortAddresses(address[] memory s) internal pure {
        for (uint256 i = 1; i < s.length; i++) {
            for (uint256 j = i; j > 0 && s[j - 1] > s[j]; j--) {
                (s[j - 1], s[j]) = (s[j], s[j - 1]);
            }
        }
    }

    /// @notice Signatures of `keys` over the report, sorted by signer address.
    function signReport(ZkmlSignedOracle o, uint256[] memory keys, int256[] memory features, uint64 ts)
        internal
        view
        returns (bytes[] memory sigs)
    {
        bytes32 digest = reportDigestOf(address(o), features, ts);
        address[] memory who = new address[](keys.length);
        for (uint256 i = 0; i < keys.length; i++) {
            who[i] = vm.addr(keys[i]);
        }
        sortAddresses(who);
        sigs = new bytes[](keys.length);
        for (uint256 i = 0; i < keys.length; i++) {
            for (uint256 k = 0; k < keys.length; k++) {
                if (vm.addr(keys[k]) == who[i]) {
                    (uint8 v, bytes32 r, bytes32 s) = vm.sign(keys[k], digest);
                    sigs[i] = abi.encodePacked(r, s, v);
                }
            }
        }
    }

    /// @notice The EIP-712 digest of a report, computed here (no call: the tests set
    ///         expectRevert before `submit`), and checked against the oracle's in test_OracleUpdate.
    function reportDigestOf(address o, int256[] memory features, uint64 ts) internal view returns (bytes32) {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("ZkmlOracle"),
                keccak256("1"),
                block.chainid,
                o
            )
        );
        bytes32 report = keccak256(
            abi.encode(
                keccak256("Report(uint64 dataTimestamp,int256[] features)"), ts, keccak256(abi.encodePacked(features))
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domain, report));
    }

    function twoSigners() internal view returns (uint256[] memory k) {
        k = new uint256[](2);
        k[0] = signerKeys[0];
        k[1] = signerKeys[1];
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

    /// @notice Posts `u` with the quorum's signatures over its own features, as the keeper.
    function submit(Upd memory u) internal returns (uint80) {
        return submitTo(oracle, u);
    }

    function submitTo(ZkmlSignedOracle o, Upd memory u) internal returns (uint80) {
        bytes[] memory sigs = signReport(o, twoSigners(), u.inputs, u.ts);
        vm.prank(keeper);
        return o.update(u.proof, u.inputs, u.ts, u.answer, sigs);
    }

    // ----- happy path -----

    function test_OracleUpdate() public {
        Upd memory u = round(0);
        // The oracle rebuilds exactly the public inputs the proof was made for.
        (, uint256[] memory pub) = statementAt(".oracle.rounds[0]");
        assertEq(oracle.publicInputs(u.inputs, u.ts, u.answer), pub);
        assertEq(pub[1], ZkmlPublicInputs.oracleContext(address(oracle), u.ts));
        assertEq(oracle.numPublicInputs(), pub.length);
        assertEq(oracle.reportDigest(u.inputs, u.ts), reportDigestOf(address(oracle), u.inputs, u.ts));

        vm.expectEmit(address(oracle));
        emit ZkmlOracle.AnswerUpdated(u.answer, 1, u.ts);
        uint80 id = submit(u);
        assertEq(id, 1);
        (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound) =
            oracle.latestRoundData();
        assertEq(roundId, 1);
        assertEq(answer, u.answer);
        assertEq(updatedAt, u.ts);
        assertEq(answeredInRound, 1);
        assertEq(oracle.decimals(), 8);
        assertEq(oracle.version(), 2);
        assertEq(oracle.description(), "zkml price model / USD");

        ChainlinkStyleConsumer consumer = new ChainlinkStyleConsumer(oracle);
        assertEq(consumer.price(1 hours), u.answer);
        assertLe(startedAt, updatedAt);
    }

    function test_StartedAtIsNotAfterUpdatedAt() public {
        Upd memory u = round(0);
        vm.warp(u.ts + MAX_AGE); // posted as late as allowed
        submit(u);
        (,, uint256 startedAt, uint256 updatedAt,) = oracle.latestRoundData();
        assertLe(startedAt, updatedAt, "Chainlink's order: startedAt <= updatedAt");
        assertEq(updatedAt, u.ts);
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
        bytes[] memory sigs = signReport(oracle, twoSigners(), u.inputs, u.ts);
        vm.prank(keeper);
        uint256 before = gasleft();
        oracle.update(u.proof, u.inputs, u.ts, u.answer, sigs);
        emit log_named_uint(
            "ZkmlSignedOracle.update gas, 2 of 2 signatures (first round, incl. call)", before - gasleft()
        );
        u = round(1);
        sigs = signReport(oracle, twoSigners(), u.inputs, u.ts);
        vm.prank(keeper);
        before = gasleft();
        oracle.update(u.proof, u.inputs, u.ts, u.answer, sigs);
        emit log_named_uint(
            "ZkmlSignedOracle.update gas, 2 of 2 signatures (next round, incl. call)", before - gasleft()
        );
    }

    // ----- input provenance (signed reports) -----

    /// @notice The attack on the unauthenticated oracle: a valid proof of the model on features the
    ///         attacker made up, posted by the attacker. Without the data signers' report it is refused.
    function test_RevertWhen_AttackerProvesDoctoredFeatures() public {
        Upd memory d = upd(".oracle.doctored");
        (bytes memory proof, uint256[] memory pub) = statementAt(".oracle.doctored");
        assertTrue(verifier.verifyProof(proof, pub), "the attacker's proof itself is valid");
        vm.prank(attacker);
        vm.expectRevert(abi.encodeWithSelector(ZkmlSignedOracle.QuorumNotMet.selector, 0, 2));
        oracle.update(d.proof, d.inputs, d.ts, d.answer, new bytes[](0));
        assertEq(oracle.latestRound(), 0);
    }

    function test_RevertWhen_AttackerSignsDoctoredFeatures() public {
        Upd memory d = upd(".oracle.doctored");
        uint256[] memory keys = new uint256[](2);
        keys[0] = 0xBAD;
        keys[1] = signerKeys[0];
        bytes[] memory sigs = signReport(oracle, keys, d.inputs, d.ts);
        vm.prank(attacker);
        vm.expectRevert();
        oracle.update(d.proof, d.inputs, d.ts, d.answer, sigs);
        // The revert names the stranger.
        try oracle.update(d.proof, d.inputs, d.ts, d.answer, sigs) {
            revert("accepted");
        } catch (bytes memory err) {
            assertEq(bytes4(err), ZkmlSignedOracle.NotASigner.selector);
        }
    }

    function test_RevertWhen_HonestReportWithDoctoredFeatures() public {
        // The signers' report for round 0, with the attacker's features and proof.
        Upd memory u = round(0);
        Upd memory d = upd(".oracle.doctored");
        bytes[] memory sigs = signReport(oracle, twoSigners(), u.inputs, u.ts);
        vm.prank(attacker);
        vm.expectRevert();
        oracle.update(d.proof, d.inputs, d.ts, d.answer, sigs);
        assertEq(oracle.latestRound(), 0);
    }

    function test_RevertWhen_BelowQuorum() public {
        Upd memory u = round(0);
        uint256[] memory one = new uint256[](1);
        one[0] = signerKeys[0];
        bytes[] memory sigs = signReport(oracle, one, u.inputs, u.ts);
        vm.expectRevert(abi.encodeWithSelector(ZkmlSignedOracle.QuorumNotMet.selector, 1, 2));
        oracle.update(u.proof, u.inputs, u.ts, u.answer, sigs);
    }

    function test_RevertWhen_SignerCountedTwice() public {
        Upd memory u = round(0);
        uint256[] memory one = new uint256[](1);
        one[0] = signerKeys[0];
        bytes[] memory sig = signReport(oracle, one, u.inputs, u.ts);
        bytes[] memory sigs = new bytes[](2);
        sigs[0] = sig[0];
        sigs[1] = sig[0];
        vm.expectRevert(abi.encodeWithSelector(ZkmlSignedOracle.SignersNotAscending.selector, 1));
        oracle.update(u.proof, u.inputs, u.ts, u.answer, sigs);
    }

    function test_RevertWhen_SignatureMalformed() public {
        Upd memory u = round(0);
        bytes[] memory sigs = signReport(oracle, twoSigners(), u.inputs, u.ts);
        sigs[1] = bytes.concat(sigs[1], hex"00"); // 66 bytes
        vm.expectRevert(abi.encodeWithSelector(ZkmlSignedOracle.BadSignature.selector, 1));
        oracle.update(u.proof, u.inputs, u.ts, u.answer, sigs);
    }

    function test_RevertWhen_ReportForAnotherTime() public {
        Upd memory u = round(1);
        bytes[] memory sigs = signReport(oracle, twoSigners(), u.inputs, u.ts - 1);
        vm.expectRevert();
        oracle.update(u.proof, u.inputs, u.ts, u.answer, sigs);
    }

    /// @notice A report signed for another oracle (or chain) does not count here: the EIP-712
    ///         domain binds the chain id and the verifying contract.
    function test_RevertWhen_ReportForAnotherDeployment() public {
        ZkmlSignedOracle other = new ZkmlSignedOracle(config(verifier), POST_DELAY, signerSet(2), 2);
        Upd memory u = round(0);
        bytes[] memory sigs = signReport(other, twoSigners(), u.inputs, u.ts);
        vm.expectRevert();
        oracle.update(u.proof, u.inputs, u.ts, u.answer, sigs);
        assertTrue(other.reportDigest(u.inputs, u.ts) != oracle.reportDigest(u.inputs, u.ts));
        uint256 here = block.chainid;
        bytes32 d = oracle.reportDigest(u.inputs, u.ts);
        vm.chainId(here + 1);
        assertTrue(oracle.reportDigest(u.inputs, u.ts) != d, "another chain, another digest");
    }

    /// @notice A proof made for the oracle at one address does not count for another deployment
    ///         of the same model, even with a valid report there: the context binds the oracle.
    function test_RevertWhen_ProofForAnotherDeployment() public {
        ZkmlSignedOracle other = new ZkmlSignedOracle(config(verifier), POST_DELAY, signerSet(2), 2);
        vm.expectRevert(ZkmlOracle.InvalidProof.selector);
        submitTo(other, round(0));
    }

    function test_RevertWhen_ProofForAnotherChain() public {
        vm.chainId(block.chainid + 1);
        vm.expectRevert(ZkmlOracle.InvalidProof.selector);
        submit(round(0));
    }

    function test_RevertWhen_UpdaterNotAllowlisted() public {
        vm.prank(owner);
        oracle.setUpdatersRestricted(true);
        vm.expectRevert(abi.encodeWithSelector(ZkmlOracle.NotAnUpdater.selector, keeper));
        submit(round(0));
        vm.prank(owner);
        oracle.setUpdater(keeper, true);
        assertEq(submit(round(0)), 1);
    }

    function test_RevertWhen_SignerSetInvalid() public {
        address[] memory s = signerSet(2);
        vm.expectRevert(abi.encodeWithSelector(ZkmlSignedOracle.BadQuorum.selector, 3, 2));
        new ZkmlSignedOracle(config(verifier), POST_DELAY, s, 3);
        vm.expectRevert(abi.encodeWithSelector(ZkmlSignedOracle.BadQuorum.selector, 0, 2));
        new ZkmlSignedOracle(config(verifier), POST_DELAY, s, 0);
        s[1] = s[0];
        vm.expectRevert(abi.encodeWithSelector(ZkmlSignedOracle.DuplicateSigner.selector, s[0]));
        new ZkmlSignedOracle(config(verifier), POST_DELAY, s, 1);
        s[1] = address(0);
        vm.expectRevert(ZkmlSignedOracle.ZeroSigner.selector);
        new ZkmlSignedOracle(config(verifier), POST_DELAY, s, 1);
    }

    function test_SignerChangeIsTwoStep() public {
        address[] memory next = signerSet(3);
        vm.prank(attacker);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, attacker));
        oracle.proposeSigners(next, 1);
        vm.prank(owner);
        oracle.proposeSigners(next, 1);
        vm.prank(owner);
        vm.expectRevert(
            abi.encodeWithSelector(
                ZkmlOracle.UpgradeTooEarly.selector, uint64(block.timestamp) + DELAY, block.timestamp
            )
        );
        oracle.applySigners();
        // Until applied, the old quorum holds.
        assertEq(oracle.quorum(), 2);
        vm.warp(block.timestamp + DELAY);
        vm.prank(owner);
        oracle.applySigners();
        assertEq(oracle.quorum(), 1);
        assertEq(oracle.signers().length, 3);
        assertTrue(oracle.isSigner(vm.addr(signerKeys[2])));
    }

    function test_RevertWhen_RemovedSignerSigns() public {
        address[] memory next = new address[](1);
        next[0] = vm.addr(signerKeys[2]);
        vm.prank(owner);
        oracle.proposeSigners(next, 1);
        vm.warp(block.timestamp + DELAY);
        vm.prank(owner);
        oracle.applySigners();
        assertFalse(oracle.isSigner(vm.addr(signerKeys[0])));
        vm.warp(t0 + 200);
        Upd memory u = round(0);
        uint256[] memory one = new uint256[](1);
        one[0] = signerKeys[0];
        bytes[] memory sigs = signReport(oracle, one, u.inputs, u.ts);
        vm.expectRevert(abi.encodeWithSelector(ZkmlSignedOracle.NotASigner.selector, 0, vm.addr(signerKeys[0])));
        oracle.update(u.proof, u.inputs, u.ts, u.answer, sigs);
        one[0] = signerKeys[2];
        sigs = signReport(oracle, one, u.inputs, u.ts);
        assertEq(oracle.update(u.proof, u.inputs, u.ts, u.answer, sigs), 1);
    }

    // ----- what the proof binds -----

    function test_RevertWhen_BOutsideG2_AtBoundedGas() public {
        Upd memory u = round(0);
        bytes[] memory sigs = signReport(oracle, twoSigners(), u.inputs, u.ts);
        vm.prank(keeper);
        (bool ok, bytes memory ret, uint256 used) = callWith30MGas(
            address(oracle), abi.encodeCall(oracle.update, (outsideG2Proof(), u.inputs, u.ts, u.answer, sigs))
        );
        assertFalse(ok);
        assertEq(ret, abi.encodeWithSelector(ZkmlOracle.InvalidProof.selector));
        assertLt(used, REJECTED_PROOF_GAS_BOUND);
    }

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
        u.inputs[0] += 1; // signed by the quorum, but not what was proved
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
        vm.expectRevert(abi.encodeWithSelector(ZkmlOracle.OutOfOrder.selector, u.ts, u.ts));
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

    /// @notice Review round 2, item 1: reports are signed every minute; at round 3's time the
    ///         updater holds rounds 0–3, all fresh (maxAge 1 h). It posts round 1's price, lets a
    ///         Chainlink-style consumer act on it, then posts round 3's. With a post delay of a few
    ///         blocks only round 3 can still be posted.
    function test_RevertWhen_UpdaterPicksAnOlderSignedReport() public {
        redeployWithPostDelay(TIGHT_POST_DELAY);
        Upd memory older = round(1);
        Upd memory newest = round(3);
        vm.warp(newest.ts + 12);
        vm.expectRevert(
            abi.encodeWithSelector(ZkmlSignedOracle.PostedTooLate.selector, older.ts, block.timestamp, TIGHT_POST_DELAY)
        );
        submit(older);
        assertEq(submit(newest), 1);
        ChainlinkStyleConsumer consumer = new ChainlinkStyleConsumer(oracle);
        assertEq(consumer.price(1 hours), newest.answer);
    }

    function test_PostDelayBoundary() public {
        redeployWithPostDelay(TIGHT_POST_DELAY);
        assertEq(oracle.maxPostDelay(), TIGHT_POST_DELAY);
        Upd memory u = round(0);
        vm.warp(u.ts + TIGHT_POST_DELAY + 1);
        vm.expectRevert(
            abi.encodeWithSelector(ZkmlSignedOracle.PostedTooLate.selector, u.ts, block.timestamp, TIGHT_POST_DELAY)
        );
        submit(u);
        vm.warp(u.ts + TIGHT_POST_DELAY);
        assertEq(submit(u), 1);
    }

    /// @notice A post delay of 0 lets no proved report in; one above maxAge would be dead config
    ///         that reads as if it allowed more.
    function test_RevertWhen_PostDelayZeroOrAboveMaxAge() public {
        address[] memory s = signerSet(2);
        vm.expectRevert(abi.encodeWithSelector(ZkmlSignedOracle.BadPostDelay.selector, 0, MAX_AGE));
        new ZkmlSignedOracle(config(verifier), 0, s, 2);
        vm.expectRevert(abi.encodeWithSelector(ZkmlSignedOracle.BadPostDelay.selector, MAX_AGE + 1, MAX_AGE));
        new ZkmlSignedOracle(config(verifier), MAX_AGE + 1, s, 2);
        new ZkmlSignedOracle(config(verifier), MAX_AGE, s, 2);
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

    // ----- owner powers -----

    function test_RevertWhen_UnauthorizedUpgrade() public {
        IZkmlVerifier next = newVerifier();
        vm.startPrank(attacker);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, attacker));
        oracle.proposeUpgrade(next, modelId, address(next).codehash);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, attacker));
        oracle.applyUpgrade();
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, attacker));
        oracle.setUpdatersRestricted(true);
        vm.stopPrank();
        assertEq(address(oracle.verifier()), address(verifier));
    }

    /// @notice The owner proposes the code hash `zkml-gen solidity --solc` printed for the
    ///         verifier (hooks.rs runs it), which the deployed verifier has.
    function test_UpgradeIsTwoStep() public {
        submit(round(0));
        IZkmlVerifier next = newVerifier();
        bytes32 printed = vm.parseJsonBytes32(fx, ".verifierCodeHash");
        assertEq(address(next).codehash, printed);
        uint256 nextModel = modelId + 1;
        vm.expectEmit(address(oracle));
        emit ZkmlOracle.UpgradeProposed(address(next), nextModel, printed, uint64(block.timestamp) + DELAY);
        vm.prank(owner);
        oracle.proposeUpgrade(next, nextModel, printed);
        // Not yet: the old model still serves.
        assertEq(address(oracle.verifier()), address(verifier));
        vm.prank(owner);
        vm.expectRevert(
            abi.encodeWithSelector(
                ZkmlOracle.UpgradeTooEarly.selector, uint64(block.timestamp) + DELAY, block.timestamp
            )
        );
        oracle.applyUpgrade();
        assertEq(submit(round(1)), 2);

        vm.warp(block.timestamp + DELAY);
        vm.expectEmit(address(oracle));
        emit ZkmlOracle.VerifierRotated(address(verifier), address(next), modelId, nextModel);
        vm.prank(owner);
        oracle.applyUpgrade();
        assertEq(address(oracle.verifier()), address(next));
        assertEq(oracle.modelId(), nextModel);
        // Rounds already stored stay readable; proofs of the old model no longer pass.
        (, int256 answer,,,) = oracle.latestRoundData();
        assertEq(answer, round(1).answer);
        vm.warp(round(2).ts + 10);
        vm.expectRevert(ZkmlOracle.InvalidProof.selector);
        submit(round(2));
    }

    /// @notice Review round 2, item 4: an upgrade names the verifier's code, and the oracle checks
    ///         the address holds it, at the proposal and again at the switch.
    function test_RevertWhen_UpgradeCodeHashIsNotTheVerifiers() public {
        IZkmlVerifier next = newVerifier();
        bytes32 other = keccak256("some other verifier's code");
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(ZkmlOracle.VerifierCodeMismatch.selector, address(next).codehash, other));
        oracle.proposeUpgrade(next, modelId, other);
    }

    /// @notice Review round 2, item 4: a proxy verifier passes every check at the proposal, then
    ///         its owner points it at code that accepts everything once the delay has passed.
    ///         Pinned to the generated verifier's code hash, the proxy is refused; proposed with
    ///         its own hash, it is announced as code that is not a generated verifier's.
    function test_RevertWhen_UpgradeToAProxyVerifier() public {
        SwappableVerifier proxy = new SwappableVerifier(verifier);
        bytes32 generated = vm.parseJsonBytes32(fx, ".verifierCodeHash");
        vm.prank(owner);
        vm.expectRevert(
            abi.encodeWithSelector(ZkmlOracle.VerifierCodeMismatch.selector, address(proxy).codehash, generated)
        );
        oracle.proposeUpgrade(IZkmlVerifier(address(proxy)), modelId, generated);
        assertTrue(address(proxy).codehash != generated);
        // The swap changes what the proxy does, never its code hash.
        bytes32 before = address(proxy).codehash;
        proxy.swap(IZkmlVerifier(address(new OtherLayoutVerifier())));
        assertEq(address(proxy).codehash, before);
    }

    function test_OwnerCancelsUpgrade() public {
        IZkmlVerifier next = newVerifier();
        vm.startPrank(owner);
        oracle.proposeUpgrade(next, modelId + 1, address(next).codehash);
        oracle.cancelUpgrade();
        vm.warp(block.timestamp + DELAY);
        vm.expectRevert(ZkmlOracle.NoUpgradePending.selector);
        oracle.applyUpgrade();
        vm.stopPrank();
        assertEq(oracle.modelId(), modelId);
    }

    /// @notice Review round 2, item 4: with no delay, propose and apply fit in one transaction and
    ///         consumers cannot watch and leave.
    function test_RevertWhen_UpgradeDelayBelowTheMinimum() public {
        address[] memory s = signerSet(2);
        uint64 min = oracle.MIN_UPGRADE_DELAY();
        assertEq(min, 1 days);
        for (uint256 i = 0; i < 2; i++) {
            uint64 delay = i == 0 ? 0 : min - 1;
            ZkmlOracle.Config memory c = oracleConfig(verifier, "d", MAX_AGE, delay, owner);
            vm.expectRevert(abi.encodeWithSelector(ZkmlOracle.UpgradeDelayTooShort.selector, delay, min));
            new ZkmlSignedOracle(c, POST_DELAY, s, 2);
        }
        new ZkmlSignedOracle(oracleConfig(verifier, "d", MAX_AGE, min, owner), POST_DELAY, s, 2);
    }

    /// @notice Review round 2, item 4: a signer change proposed by mistake (or by a stolen owner
    ///         key, noticed in time) can be withdrawn before it applies.
    function test_OwnerCancelsSignerChange() public {
        address[] memory next = signerSet(3);
        vm.prank(owner);
        oracle.proposeSigners(next, 1);
        vm.prank(attacker);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, attacker));
        oracle.cancelSigners();
        vm.prank(owner);
        vm.expectEmit(address(oracle));
        emit ZkmlSignedOracle.SignersCancelled(next, 1);
        oracle.cancelSigners();
        vm.warp(block.timestamp + DELAY);
        vm.prank(owner);
        vm.expectRevert(ZkmlSignedOracle.NoSignersPending.selector);
        oracle.applySigners();
        assertEq(oracle.quorum(), 2);
        (,, uint64 notBefore) = oracle.pendingSigners();
        assertEq(notBefore, 0);
    }

    function test_RevertWhen_CancelSignersWithNonePending() public {
        vm.prank(owner);
        vm.expectRevert(ZkmlSignedOracle.NoSignersPending.selector);
        oracle.cancelSigners();
    }

    function test_RevertWhen_UpgradeModelIdNotAFieldElement() public {
        IZkmlVerifier next = newVerifier();
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(ZkmlOracle.ModelIdNotAFieldElement.selector, R));
        oracle.proposeUpgrade(next, R, address(next).codehash);
    }

    function test_RevertWhen_UpgradeVerifierHasAnotherLayout() public {
        OtherLayoutVerifier other = new OtherLayoutVerifier();
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(ZkmlOracle.LayoutMismatch.selector, 5, 4));
        oracle.proposeUpgrade(IZkmlVerifier(address(other)), modelId, address(other).codehash);
        // Nor an account without code.
        vm.prank(owner);
        vm.expectRevert(ZkmlOracle.ZeroVerifier.selector);
        oracle.proposeUpgrade(IZkmlVerifier(attacker), modelId, bytes32(0));
    }

    function test_RevertWhen_DeployedWithAnotherLayout() public {
        IZkmlVerifier other = IZkmlVerifier(address(new OtherLayoutVerifier()));
        ZkmlOracle.Config memory c = config(other);
        address[] memory s = signerSet(2);
        vm.expectRevert(abi.encodeWithSelector(ZkmlOracle.LayoutMismatch.selector, 5, 4));
        new ZkmlSignedOracle(c, POST_DELAY, s, 2);
    }

    // ----- fuzz -----

    /// @notice An update is accepted exactly when its data is at most maxAge old and not from the future.
    function testFuzz_Staleness(uint256 i, uint256 age) public {
        Upd memory u = round(bound(i, 0, 3));
        age = bound(age, 0, 3 * uint256(MAX_AGE));
        vm.warp(uint256(u.ts) + age);
        if (age > MAX_AGE) {
            bytes[] memory sigs = signReport(oracle, twoSigners(), u.inputs, u.ts);
            vm.expectRevert(abi.encodeWithSelector(ZkmlOracle.StaleData.selector, u.ts, block.timestamp, MAX_AGE));
            oracle.update(u.proof, u.inputs, u.ts, u.answer, sigs);
            assertEq(oracle.latestRound(), 0);
        } else {
            assertEq(submit(u), 1);
            (,,, uint256 updatedAt,) = oracle.latestRoundData();
            assertEq(updatedAt, u.ts);
        }
    }

    /// @notice With a post delay below maxAge, an update is accepted exactly when its report is at
    ///         most maxPostDelay old; older ones are refused as stale (beyond maxAge) or as posted
    ///         too late.
    function testFuzz_PostDelay(uint256 i, uint256 age) public {
        redeployWithPostDelay(TIGHT_POST_DELAY);
        Upd memory u = round(bound(i, 0, 3));
        age = bound(age, 0, 2 * uint256(MAX_AGE));
        vm.warp(uint256(u.ts) + age);
        if (age <= TIGHT_POST_DELAY) {
            assertEq(submit(u), 1);
            return;
        }
        bytes[] memory sigs = signReport(oracle, twoSigners(), u.inputs, u.ts);
        if (age > MAX_AGE) {
            vm.expectRevert(abi.encodeWithSelector(ZkmlOracle.StaleData.selector, u.ts, block.timestamp, MAX_AGE));
        } else {
            vm.expectRevert(
                abi.encodeWithSelector(ZkmlSignedOracle.PostedTooLate.selector, u.ts, block.timestamp, TIGHT_POST_DELAY)
            );
        }
        oracle.update(u.proof, u.inputs, u.ts, u.answer, sigs);
        assertEq(oracle.latestRound(), 0);
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
                bytes[] memory sigs = signReport(oracle, twoSigners(), u.inputs, u.ts);
                vm.expectRevert(abi.encodeWithSelector(ZkmlOracle.OutOfOrder.selector, u.ts, latestTs));
                oracle.update(u.proof, u.inputs, u.ts, u.answer, sigs);
            }
        }
        assertEq(oracle.latestRound(), rounds);
        for (uint80 id = 2; id <= rounds; id++) {
            (,,, uint256 prev,) = oracle.getRoundData(id - 1);
            (,,, uint256 cur,) = oracle.getRoundData(id);
            assertGt(cur, prev);
        }
    }

    /// @notice Whatever bytes come as signatures, an update without the quorum's report never lands.
    function testFuzz_ForgedSignaturesNeverLand(bytes memory a, bytes memory b) public {
        Upd memory d = upd(".oracle.doctored");
        bytes[] memory sigs = new bytes[](2);
        sigs[0] = a;
        sigs[1] = b;
        vm.prank(attacker);
        try oracle.update(d.proof, d.inputs, d.ts, d.answer, sigs) {
            revert("a forged report landed");
        } catch {}
        assertEq(oracle.latestRound(), 0);
    }
}
