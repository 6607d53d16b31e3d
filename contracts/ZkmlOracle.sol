// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {AggregatorV3Interface} from "./interfaces/AggregatorV3Interface.sol";
import {IZkmlVerifier} from "./interfaces/IZkmlVerifier.sol";
import {ZkmlPublicInputs as PI} from "./ZkmlPublicInputs.sol";

/// @title ZkmlOracle
/// @notice A price feed whose every round is a verified model inference. `update` takes the proof,
///         the model's typed inputs, the data timestamp and the answer; it rebuilds the public
///         inputs [modelId, oracleContext(dataTimestamp), pack(inputs), pack(answer)], verifies the proof through the model's verifier and stores a
///         round. The output is one signed value q (outputBits-bit slot, outputFracBits
///         fractional bits); answer = q * 10^decimals / 2^outputFracBits, exact because the
///         constructor requires decimals >= outputFracBits. Reads through Chainlink's AggregatorV3Interface: one verified proof = one round,
///         answeredInRound = roundId, updatedAt = the data timestamp the proof commits to,
///         startedAt = the block time of the update.
/// @dev Rejects stale data (older than maxAge), data from the future, non-positive answers,
///      rounds not newer than the latest one and replays of an already used statement. The owner
///      may rotate the verifier and model id (model upgrade); nobody else can.
contract ZkmlOracle is AggregatorV3Interface, Ownable, ReentrancyGuardTransient {
    /// @notice Static description of the model's I/O, fixed at deployment.
    struct ModelIO {
        uint8 numInputs; // typed input values
        uint8 inputBits; // slot width of the inputs
        uint8 outputBits; // slot width of the output (one signed value: the price)
        uint8 outputFracBits; // fractional bits of the output value
    }

    struct Round {
        int256 answer;
        uint64 startedAt;
        uint64 updatedAt;
    }

    IZkmlVerifier public verifier;
    uint256 public modelId;
    uint64 public immutable maxAge;
    uint8 public immutable override decimals;
    uint256 public constant override version = 1;
    string public override description;

    uint8 public immutable numInputs;
    uint8 public immutable inputBits;
    uint8 public immutable outputBits;
    uint8 public immutable outputFracBits;

    uint80 public latestRound;
    mapping(uint80 => Round) internal rounds;
    /// @notice keccak256 of the public inputs of every accepted update.
    mapping(bytes32 => bool) public usedStatements;

    /// @notice Chainlink's AggregatorInterface events, so Chainlink-aware indexers follow the feed.
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);
    event NewRound(uint256 indexed roundId, address indexed startedBy, uint256 startedAt);
    event RoundProved(uint80 indexed roundId, uint256 indexed modelId, uint64 dataTimestamp, bytes32 statement);
    event VerifierRotated(
        address indexed oldVerifier, address indexed newVerifier, uint256 oldModelId, uint256 newModelId
    );

    error WrongInputCount(uint256 got, uint256 expected);
    error StaleData(uint256 dataTimestamp, uint256 now_, uint256 maxAge);
    error FutureData(uint256 dataTimestamp, uint256 now_);
    error OutOfOrder(uint256 dataTimestamp, uint256 latestTimestamp);
    error ReplayedStatement(bytes32 statement);
    error NonPositiveAnswer(int256 answer);
    error AnswerNotRepresentable(int256 answer);
    error ScaleNotExact(uint8 decimals, uint8 fracBits);
    error InvalidProof();
    error NoDataPresent();
    error ZeroVerifier();

    constructor(
        IZkmlVerifier verifier_,
        uint256 modelId_,
        ModelIO memory io,
        uint8 decimals_,
        string memory description_,
        uint64 maxAge_,
        address owner_
    ) Ownable(owner_) {
        if (address(verifier_) == address(0)) revert ZeroVerifier();
        verifier = verifier_;
        modelId = modelId_;
        numInputs = io.numInputs;
        inputBits = io.inputBits;
        outputBits = io.outputBits;
        outputFracBits = io.outputFracBits;
        PI.slots(io.inputBits);
        PI.slots(io.outputBits);
        if (decimals_ < io.outputFracBits || decimals_ > 38) revert ScaleNotExact(decimals_, io.outputFracBits);
        decimals = decimals_;
        description = description_;
        maxAge = maxAge_;
    }

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

    /// @notice The public inputs an update with these arguments is verified against:
    ///         [modelId, oracleContext(dataTimestamp), pack(inputs, inputBits), outputWordOf(answer)].
    function publicInputs(int256[] memory inputs, uint64 dataTimestamp, int256 answer)
        public
        view
        returns (uint256[] memory)
    {
        if (inputs.length != numInputs) revert WrongInputCount(inputs.length, numInputs);
        uint256[] memory out = new uint256[](1);
        out[0] = outputWordOf(answer);
        return PI.assemble(modelId, PI.oracleContext(dataTimestamp), PI.packSigned(inputs, inputBits), out);
    }

    /// @notice Adds a round from a verified inference.
    /// @param proof The Groth16 proof (256 bytes).
    /// @param inputs The model's input values (quantized integers), packed here into the proof's
    ///        public inputs.
    /// @param dataTimestamp Time of the data the inputs describe; bound into the proof's context.
    /// @param answer The price in `decimals` decimals: the model's output value q (with
    ///        outputFracBits fractional bits) times 10^decimals / 2^outputFracBits.
    function update(bytes calldata proof, int256[] calldata inputs, uint64 dataTimestamp, int256 answer)
        external
        nonReentrant
        returns (uint80 roundId)
    {
        return _update(proof, inputs, dataTimestamp, answer);
    }

    /// @dev `update`'s body, for per-model wrappers with typed inputs (`zkml-gen hooks --oracle`).
    function _update(bytes calldata proof, int256[] memory inputs, uint64 dataTimestamp, int256 answer)
        internal
        returns (uint80 roundId)
    {
        if (dataTimestamp > block.timestamp) revert FutureData(dataTimestamp, block.timestamp);
        if (block.timestamp - dataTimestamp > maxAge) revert StaleData(dataTimestamp, block.timestamp, maxAge);
        if (answer <= 0) revert NonPositiveAnswer(answer);
        uint256[] memory pub = publicInputs(inputs, dataTimestamp, answer);
        bytes32 statement = keccak256(abi.encodePacked(pub));
        if (usedStatements[statement]) revert ReplayedStatement(statement);
        uint80 latest = latestRound;
        if (latest != 0 && dataTimestamp <= rounds[latest].updatedAt) {
            revert OutOfOrder(dataTimestamp, rounds[latest].updatedAt);
        }
        if (!verifier.verifyProof(proof, pub)) revert InvalidProof();

        usedStatements[statement] = true;
        roundId = latest + 1;
        latestRound = roundId;
        rounds[roundId] = Round({answer: answer, startedAt: uint64(block.timestamp), updatedAt: dataTimestamp});
        emit NewRound(roundId, msg.sender, block.timestamp);
        emit AnswerUpdated(answer, roundId, dataTimestamp);
        emit RoundProved(roundId, modelId, dataTimestamp, statement);
    }

    /// @notice Model upgrade: a new verifier (and model id). Owner only.
    function setVerifier(IZkmlVerifier newVerifier, uint256 newModelId) external onlyOwner {
        if (address(newVerifier) == address(0)) revert ZeroVerifier();
        emit VerifierRotated(address(verifier), address(newVerifier), modelId, newModelId);
        verifier = newVerifier;
        modelId = newModelId;
    }

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
