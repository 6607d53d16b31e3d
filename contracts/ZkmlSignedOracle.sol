// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ZkmlOracle} from "./ZkmlOracle.sol";

/// @title ZkmlSignedOracle
/// @notice ZkmlOracle whose model inputs come in signed reports, the pull-oracle pattern
///         (Chainlink Data Streams, Pyth, RedStone): data signers the owner registers sign
///         EIP-712 `Report(uint64 dataTimestamp, int256[] features)` under the domain
///         {name "ZkmlOracle", version "1", chainId, verifyingContract = this oracle}, so a
///         report counts on one chain, for one oracle, at one data timestamp. `update` checks a
///         quorum of distinct signers' signatures before the proof; the features are the model's
///         quantized inputs exactly as proved.
///
///         Which report is current is the updater's choice among those signed in the last
///         `maxPostDelay` seconds: every report signed later than the latest round's and no older
///         than that may be posted, so an updater could post the most favourable of them (then,
///         in the same transaction, act on it and post the newest). Deployments keep
///         `maxPostDelay` to the prover's latency plus a few blocks, well below `maxAge`.
/// @dev Signatures come sorted by signer address, strictly ascending (which rules out counting a
///      signer twice without a set in memory). Changing the signer set or the quorum is two-step
///      with the oracle's `upgradeDelay`, like a model upgrade: a new set could sign any price.
contract ZkmlSignedOracle is ZkmlOracle, EIP712 {
    bytes32 public constant REPORT_TYPEHASH = keccak256("Report(uint64 dataTimestamp,int256[] features)");

    /// @notice The most seconds a report may wait between its data timestamp and its posting.
    uint64 public immutable maxPostDelay;

    struct PendingSigners {
        address[] signers;
        uint8 quorum;
        uint64 notBefore; // 0: none pending
    }

    address[] internal signerList;
    mapping(address => bool) public isSigner;
    uint8 public quorum;
    PendingSigners internal pendingSignerSet;

    event SignersProposed(address[] signers, uint8 quorum, uint64 notBefore);
    event SignersSet(address[] signers, uint8 quorum);
    event SignersCancelled(address[] signers, uint8 quorum);

    error BadQuorum(uint256 quorum, uint256 signers);
    error DuplicateSigner(address signer);
    error ZeroSigner();
    error BadSignature(uint256 index);
    error NotASigner(uint256 index, address recovered);
    error SignersNotAscending(uint256 index);
    error QuorumNotMet(uint256 signatures, uint256 quorum);
    error NoSignersPending();
    error PostedTooLate(uint256 dataTimestamp, uint256 now_, uint256 maxPostDelay);
    /// @notice maxPostDelay is 0 (no report could be proved and posted in time) or above maxAge.
    error BadPostDelay(uint64 maxPostDelay, uint64 maxAge);

    constructor(Config memory c, uint64 maxPostDelay_, address[] memory signers_, uint8 quorum_)
        ZkmlOracle(c)
        EIP712("ZkmlOracle", "1")
    {
        if (maxPostDelay_ == 0 || maxPostDelay_ > c.maxAge) revert BadPostDelay(maxPostDelay_, c.maxAge);
        maxPostDelay = maxPostDelay_;
        _setSigners(signers_, quorum_);
    }

    /// @notice Adds a round: the report (features at dataTimestamp) signed by at least `quorum`
    ///         registered signers, and a proof that the model maps those features to `answer`.
    /// @param signatures 65-byte ECDSA signatures (r, s, v) over `reportDigest`, sorted by signer
    ///        address, ascending.
    function update(
        bytes calldata proof,
        int256[] calldata features,
        uint64 dataTimestamp,
        int256 answer,
        bytes[] calldata signatures
    ) external nonReentrant onlyUpdater returns (uint80) {
        _checkReport(features, dataTimestamp, signatures);
        return _prove(proof, features, dataTimestamp, answer);
    }

    /// @dev The base's checks (fresh, not from the future, newer than the latest round), then the
    ///      post delay, which bounds the menu of signed reports an updater can choose from.
    function _checkTime(uint64 dataTimestamp) internal view override {
        super._checkTime(dataTimestamp);
        if (block.timestamp - dataTimestamp > maxPostDelay) {
            revert PostedTooLate(dataTimestamp, block.timestamp, maxPostDelay);
        }
    }

    /// @notice The EIP-712 digest the data signers sign for these features at this time.
    function reportDigest(int256[] memory features, uint64 dataTimestamp) public view returns (bytes32) {
        return
            _hashTypedDataV4(
                keccak256(abi.encode(REPORT_TYPEHASH, dataTimestamp, keccak256(abi.encodePacked(features))))
            );
    }

    /// @dev At least `quorum` valid signatures of distinct registered signers over the report.
    function _checkReport(int256[] memory features, uint64 dataTimestamp, bytes[] calldata signatures) internal view {
        if (signatures.length < quorum) revert QuorumNotMet(signatures.length, quorum);
        bytes32 digest = reportDigest(features, dataTimestamp);
        address previous = address(0);
        for (uint256 i = 0; i < signatures.length; i++) {
            (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signatures[i]);
            if (err != ECDSA.RecoverError.NoError) revert BadSignature(i);
            if (!isSigner[signer]) revert NotASigner(i, signer);
            if (signer <= previous) revert SignersNotAscending(i);
            previous = signer;
        }
    }

    function signers() external view returns (address[] memory) {
        return signerList;
    }

    function pendingSigners() external view returns (address[] memory, uint8, uint64) {
        PendingSigners storage p = pendingSignerSet;
        return (p.signers, p.quorum, p.notBefore);
    }

    /// @notice Step 1 of a signer-set change, applicable from `upgradeDelay` seconds on.
    function proposeSigners(address[] calldata newSigners, uint8 newQuorum) external onlyOwner {
        _validSignerSet(newSigners, newQuorum);
        uint64 notBefore = uint64(block.timestamp) + upgradeDelay;
        pendingSignerSet = PendingSigners({signers: newSigners, quorum: newQuorum, notBefore: notBefore});
        emit SignersProposed(newSigners, newQuorum, notBefore);
    }

    /// @notice Withdraws the pending signer-set change.
    function cancelSigners() external onlyOwner {
        PendingSigners memory p = pendingSignerSet;
        if (p.notBefore == 0) revert NoSignersPending();
        delete pendingSignerSet;
        emit SignersCancelled(p.signers, p.quorum);
    }

    /// @notice Step 2: the proposed signer set and quorum take effect.
    function applySigners() external onlyOwner {
        PendingSigners memory p = pendingSignerSet;
        if (p.notBefore == 0) revert NoSignersPending();
        if (block.timestamp < p.notBefore) revert UpgradeTooEarly(p.notBefore, block.timestamp);
        delete pendingSignerSet;
        for (uint256 i = 0; i < signerList.length; i++) {
            isSigner[signerList[i]] = false;
        }
        _setSigners(p.signers, p.quorum);
    }

    function _setSigners(address[] memory newSigners, uint8 newQuorum) internal {
        _validSignerSet(newSigners, newQuorum);
        for (uint256 i = 0; i < newSigners.length; i++) {
            isSigner[newSigners[i]] = true;
        }
        signerList = newSigners;
        quorum = newQuorum;
        emit SignersSet(newSigners, newQuorum);
    }

    /// @dev 1 <= quorum <= signers, no zero address, no signer twice.
    function _validSignerSet(address[] memory s, uint8 q) internal pure {
        if (q == 0 || q > s.length) revert BadQuorum(q, s.length);
        for (uint256 i = 0; i < s.length; i++) {
            if (s[i] == address(0)) revert ZeroSigner();
            for (uint256 j = 0; j < i; j++) {
                if (s[j] == s[i]) revert DuplicateSigner(s[i]);
            }
        }
    }
}
