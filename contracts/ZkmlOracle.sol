// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {AggregatorV3Interface} from "./interfaces/AggregatorV3Interface.sol";
import {IZkmlVerifier, IZkmlVerifierLayout} from "./interfaces/IZkmlVerifier.sol";
import {ZkmlPublicInputs as PI} from "./ZkmlPublicInputs.sol";

/// @title ZkmlOracle
/// @notice A price feed whose every round is a verified model inference on authenticated inputs.
///         A proof only says "this model, on this input, gave this output"; who chose the input
///         is the feed's business, so this base contract leaves it to its two modes:
///         `ZkmlSignedOracle` (the inputs are an EIP-712 report signed by a quorum of registered
///         data signers) and `ZkmlFeedOracle` (the oracle reads the inputs itself from on-chain
///         Chainlink-style feeds). Either way nothing the caller says goes into the model.
///
///         A round's proof is checked against [modelId, oracleContext(this, dataTimestamp),
///         pack(inputs), pack(answer)]: the context binds the chain, this oracle and the data
///         timestamp, so a proof made for another deployment or round fails. The output is one
///         signed value q (outputBits-bit slot, outputFracBits fractional bits); answer =
///         q * 10^decimals / 2^outputFracBits, exact because decimals >= outputFracBits.
///         Reads through Chainlink's AggregatorV3Interface: one verified proof = one round,
///         answeredInRound = roundId, startedAt = updatedAt = the data timestamp the proof commits
///         to (Chainlink's order: startedAt <= updatedAt).
/// @dev Rejects stale data (older than maxAge), data from the future, non-positive answers and
///      rounds not newer than the latest one (which is also what stops a replay: a statement
///      carries its data timestamp). Owner powers, all with events: an
///      optional updater allowlist (instant: it can only stop updates, never change an answer),
///      and a model upgrade (new verifier and model id), which is two-step: proposed, then applied
///      no sooner than `upgradeDelay` later, so consumers can watch and leave. A proposal is
///      refused unless the model id is a field element and the verifier reports the public-input
///      layout of this feed. Ownership moves in two steps (Ownable2Step).
abstract contract ZkmlOracle is AggregatorV3Interface, Ownable2Step, ReentrancyGuardTransient {
    /// @notice Static description of the model's I/O, fixed at deployment.
    struct ModelIO {
        uint8 numInputs; // typed input values
        uint8 inputBits; // slot width of the inputs
        uint8 outputBits; // slot width of the output (one signed value: the price)
        uint8 outputFracBits; // fractional bits of the output value
    }

    /// @notice What every oracle is deployed with.
    struct Config {
        IZkmlVerifier verifier;
        uint256 modelId;
        ModelIO io;
        uint8 decimals;
        string description;
        uint64 maxAge; // seconds a round's data may be old when it is posted
        uint64 upgradeDelay; // seconds between proposing and applying a model upgrade
        address owner;
    }

    struct Round {
        int256 answer;
        uint64 startedAt;
        uint64 updatedAt;
    }

    struct PendingUpgrade {
        IZkmlVerifier verifier;
        uint64 notBefore; // 0: none pending
        uint256 modelId;
        bytes32 codeHash; // the new verifier's runtime code hash, as proposed
    }

    IZkmlVerifier public verifier;
    uint256 public modelId;
    uint64 public immutable maxAge;
    uint64 public immutable upgradeDelay;
    uint8 public immutable override decimals;
    uint256 public constant override version = 2;
    string public override description;

    uint8 public immutable numInputs;
    uint8 public immutable inputBits;
    uint8 public immutable outputBits;
    uint8 public immutable outputFracBits;

    uint80 public latestRound;
    mapping(uint80 => Round) internal rounds;

    /// @notice When true only allowlisted updaters may post rounds.
    bool public updatersRestricted;
    mapping(address => bool) public isUpdater;
    PendingUpgrade public pendingUpgrade;

    /// @notice Chainlink's AggregatorInterface events, so Chainlink-aware indexers follow the feed.
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);
    event NewRound(uint256 indexed roundId, address indexed startedBy, uint256 startedAt);
    event RoundProved(uint80 indexed roundId, uint256 indexed modelId, uint64 dataTimestamp, bytes32 statement);
    event UpgradeProposed(address indexed newVerifier, uint256 newModelId, bytes32 codeHash, uint64 notBefore);
    event UpgradeCancelled(address indexed newVerifier, uint256 newModelId);
    event VerifierRotated(
        address indexed oldVerifier, address indexed newVerifier, uint256 oldModelId, uint256 newModelId
    );
    event UpdaterSet(address indexed updater, bool allowed);
    event UpdatersRestricted(bool restricted);

    error WrongInputCount(uint256 got, uint256 expected);
    error StaleData(uint256 dataTimestamp, uint256 now_, uint256 maxAge);
    error FutureData(uint256 dataTimestamp, uint256 now_);
    error OutOfOrder(uint256 dataTimestamp, uint256 latestTimestamp);
    error NonPositiveAnswer(int256 answer);
    error AnswerNotRepresentable(int256 answer);
    error ScaleNotExact(uint8 decimals, uint8 fracBits);
    error InvalidProof();
    error NoDataPresent();
    /// @notice The verifier is not a contract (the zero address or an account without code).
    error ZeroVerifier();
    error NotAnUpdater(address caller);
    error ModelIdNotAFieldElement(uint256 modelId);
    error LayoutMismatch(uint256 verifierPublicInputs, uint256 expected);
    error VerifierModelMismatch(uint256 verifierModelId, uint256 modelId);
    error NoUpgradePending();
    error UpgradeTooEarly(uint64 notBefore, uint256 now_);
    error UpgradeDelayTooShort(uint64 upgradeDelay, uint64 minimum);
    /// @notice The verifier's runtime code is not the code the upgrade names.
    error VerifierCodeMismatch(bytes32 codeHash, bytes32 expected);

    /// @notice The shortest `upgradeDelay` a deployment may choose: with less, consumers could
    ///         not watch a proposed upgrade or signer change and leave before it applies (with
    ///         0, propose and apply fit in one transaction).
    uint64 public constant MIN_UPGRADE_DELAY = 1 days;

    constructor(Config memory c) Ownable(c.owner) {
        numInputs = c.io.numInputs;
        inputBits = c.io.inputBits;
        outputBits = c.io.outputBits;
        outputFracBits = c.io.outputFracBits;
        PI.slots(c.io.inputBits);
        PI.slots(c.io.outputBits);
        if (c.decimals < c.io.outputFracBits || c.decimals > 38) revert ScaleNotExact(c.decimals, c.io.outputFracBits);
        decimals = c.decimals;
        description = c.description;
        maxAge = c.maxAge;
        if (c.upgradeDelay < MIN_UPGRADE_DELAY) revert UpgradeDelayTooShort(c.upgradeDelay, MIN_UPGRADE_DELAY);
        upgradeDelay = c.upgradeDelay;
        _checkModel(c.verifier, c.modelId, c.io);
        verifier = c.verifier;
        modelId = c.modelId;
    }

    // ----- statements -----

    /// @notice The packed output word that encodes `answer`: the value q = answer / factor with
    ///         factor = 10^decimals / 2^outputFracBits (an integer, since decimals >= fracBits),
    ///         offset into its slot. Reverts if the answer is not a multiple of the factor or q
    ///         does not fit the output slot.
    function outputWordOf(int256 answer) public view returns (uint256) {
        int256 factor = int256(10 ** decimals) / int256(1 << outputFracBits);
        if (answer % factor != 0) revert AnswerNotRepresentable(answer);
        int256[] memory q = new int256[](1);
        q[0] = answer / factor;
        return PI.packSigned(q, outputBits)[0];
    }

    /// @notice The public inputs a round with these inputs, data timestamp and answer is verified
    ///         against: [modelId, oracleContext(this, dataTimestamp), pack(inputs, inputBits),
    ///         outputWordOf(answer)].
    function publicInputs(int256[] memory inputs, uint64 dataTimestamp, int256 answer)
        public
        view
        returns (uint256[] memory)
    {
        if (inputs.length != numInputs) revert WrongInputCount(inputs.length, numInputs);
        uint256[] memory out = new uint256[](1);
        out[0] = outputWordOf(answer);
        return
            PI.assemble(modelId, PI.oracleContext(address(this), dataTimestamp), PI.packSigned(inputs, inputBits), out);
    }

    /// @notice The number of public inputs of this feed's proofs: model id, context, the packed
    ///         inputs and one output word.
    function numPublicInputs() public view returns (uint256) {
        return _numPublicInputs(numInputs, inputBits);
    }

    /// @dev numPublicInputs of a feed with this input count and slot width (also at construction,
    ///      before the immutables can be read).
    function _numPublicInputs(uint256 n, uint256 bits) internal pure returns (uint256) {
        return PI.FIRST_INPUT_INDEX + PI.packedLength(n, bits) + 1;
    }

    /// @dev First in every mode's update, before any signature or feed is read.
    modifier onlyUpdater() {
        if (updatersRestricted && !isUpdater[msg.sender]) revert NotAnUpdater(msg.sender);
        _;
    }

    /// @dev Adds a round from a verified inference on `inputs`, which the mode has authenticated.
    function _prove(bytes calldata proof, int256[] memory inputs, uint64 dataTimestamp, int256 answer)
        internal
        returns (uint80 roundId)
    {
        _checkTime(dataTimestamp);
        if (answer <= 0) revert NonPositiveAnswer(answer);
        uint256[] memory pub = publicInputs(inputs, dataTimestamp, answer);
        if (!verifier.verifyProof{gas: PI.verifyGas(pub.length)}(proof, pub)) revert InvalidProof();

        roundId = latestRound + 1;
        latestRound = roundId;
        rounds[roundId] = Round({answer: answer, startedAt: dataTimestamp, updatedAt: dataTimestamp});
        emit NewRound(roundId, msg.sender, dataTimestamp);
        emit AnswerUpdated(answer, roundId, dataTimestamp);
        emit RoundProved(roundId, modelId, dataTimestamp, keccak256(abi.encodePacked(pub)));
    }

    /// @dev Fresh (not older than maxAge, not from the future) and newer than the latest round.
    function _checkTime(uint64 dataTimestamp) internal view virtual {
        if (dataTimestamp > block.timestamp) revert FutureData(dataTimestamp, block.timestamp);
        if (block.timestamp - dataTimestamp > maxAge) revert StaleData(dataTimestamp, block.timestamp, maxAge);
        uint80 latest = latestRound;
        if (latest != 0 && dataTimestamp <= rounds[latest].updatedAt) {
            revert OutOfOrder(dataTimestamp, rounds[latest].updatedAt);
        }
    }

    // ----- owner -----

    /// @notice Restricts posting rounds to allowlisted updaters (or lifts the restriction).
    function setUpdatersRestricted(bool restricted) external onlyOwner {
        updatersRestricted = restricted;
        emit UpdatersRestricted(restricted);
    }

    function setUpdater(address updater, bool allowed) external onlyOwner {
        isUpdater[updater] = allowed;
        emit UpdaterSet(updater, allowed);
    }

    /// @notice Step 1 of a model upgrade: the new verifier, pinned by its runtime code hash
    ///         (`codeHash`: keccak256 of the generated verifier's deployed bytecode, which anyone
    ///         can rebuild from the model's keys with `zkml-gen solidity` and the pinned solc:
    ///         `cast keccak $(forge inspect <Name>Verifier deployedBytecode)`), and
    ///         the model id, applicable from `upgradeDelay` seconds on. Replaces any pending
    ///         proposal. Pinning the code, not the address, is what keeps a proxy out: a proxy's
    ///         own code hash is not a generated verifier's, and it never changes when its
    ///         implementation does.
    function proposeUpgrade(IZkmlVerifier newVerifier, uint256 newModelId, bytes32 codeHash) external onlyOwner {
        _checkModel(newVerifier, newModelId, ModelIO(numInputs, inputBits, outputBits, outputFracBits));
        _checkCode(newVerifier, codeHash);
        uint64 notBefore = uint64(block.timestamp) + upgradeDelay;
        pendingUpgrade =
            PendingUpgrade({verifier: newVerifier, notBefore: notBefore, modelId: newModelId, codeHash: codeHash});
        emit UpgradeProposed(address(newVerifier), newModelId, codeHash, notBefore);
    }

    function cancelUpgrade() external onlyOwner {
        PendingUpgrade memory p = pendingUpgrade;
        if (p.notBefore == 0) revert NoUpgradePending();
        delete pendingUpgrade;
        emit UpgradeCancelled(address(p.verifier), p.modelId);
    }

    /// @notice Step 2: switches to the proposed verifier and model id once the delay has passed.
    function applyUpgrade() external onlyOwner {
        PendingUpgrade memory p = pendingUpgrade;
        if (p.notBefore == 0) revert NoUpgradePending();
        if (block.timestamp < p.notBefore) revert UpgradeTooEarly(p.notBefore, block.timestamp);
        // Again at the switch: code redeployed at the address since the proposal is not the code
        // consumers watched for `upgradeDelay`.
        _checkCode(p.verifier, p.codeHash);
        delete pendingUpgrade;
        emit VerifierRotated(address(verifier), address(p.verifier), modelId, p.modelId);
        verifier = p.verifier;
        modelId = p.modelId;
    }

    function _checkCode(IZkmlVerifier v, bytes32 codeHash) internal view {
        if (address(v).codehash != codeHash) revert VerifierCodeMismatch(address(v).codehash, codeHash);
    }

    /// @dev A verifier for this feed: a contract whose public-input count is this feed's layout,
    ///      a model id below r, and the verifier's own model id (when it has one folded in) equal.
    function _checkModel(IZkmlVerifier v, uint256 id, ModelIO memory io) internal view {
        if (address(v).code.length == 0) revert ZeroVerifier();
        if (id >= PI.R) revert ModelIdNotAFieldElement(id);
        uint256 expected = _numPublicInputs(io.numInputs, io.inputBits);
        uint256 got;
        try IZkmlVerifierLayout(address(v)).NUM_PUBLIC_INPUTS() returns (uint256 n) {
            got = n;
        } catch {}
        if (got != expected) revert LayoutMismatch(got, expected);
        try IZkmlVerifierLayout(address(v)).MODEL_ID() returns (uint256 folded) {
            if (folded != id) revert VerifierModelMismatch(folded, id);
        } catch {}
    }

    // ----- AggregatorV3Interface -----

    function getRoundData(uint80 roundId_)
        public
        view
        override
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        Round memory r = rounds[roundId_];
        if (r.updatedAt == 0) revert NoDataPresent();
        return (roundId_, r.answer, r.startedAt, r.updatedAt, roundId_);
    }

    function latestRoundData()
        external
        view
        override
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return getRoundData(latestRound);
    }
}
