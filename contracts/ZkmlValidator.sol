// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IERC8004Validation} from "./interfaces/IERC8004.sol";
import {IZkmlVerifier} from "./interfaces/IZkmlVerifier.sol";
import {ZkmlPublicInputs as PI} from "./ZkmlPublicInputs.sol";

/// @title ZkmlValidator
/// @notice An ERC-8004 (v2.0.0) validator backed by a zkml proof. The Validation Registry takes a
///         response only from the validator named in the request, so an agent that wants a zkml
///         validation names this contract. Anyone may then call `respond` with a proof: the
///         contract reads the request, checks that the public inputs commit to this request
///         (pub[1] = uint256(requestHash) % r) and to this model (pub[0] = modelId), verifies the
///         proof and only then calls validationResponse(requestHash, 100, responseURI,
///         keccak256(abi.encode(proof, publicInputs)), "zkml"). An invalid proof reverts, so
///         nothing is written.
/// @dev One validator per model (verifier + model id + input length); a model upgrade deploys a
///      new validator. Results are kept so that other contracts (ZkmlEscrow) can read which input
///      and output a validation proved.
contract ZkmlValidator is ReentrancyGuardTransient {
    struct Result {
        bytes32 inputHash; // keccak256(abi.encodePacked(pub[2 .. 2+k]))
        bytes32 outputHash; // keccak256(abi.encodePacked(pub[2+k ..]))
    }

    string public constant TAG = "zkml";
    uint8 public constant RESPONSE_VALID = 100;

    IERC8004Validation public immutable registry;
    IZkmlVerifier public immutable verifier;
    uint256 public immutable modelId;
    /// @notice k: packed input words in the public inputs.
    uint256 public immutable numInputWords;

    mapping(bytes32 => Result) internal results;

    event ProofValidated(
        bytes32 indexed requestHash, uint256 indexed agentId, bytes32 inputHash, bytes32 outputHash, bytes32 responseHash
    );

    error NotRequestedValidator(bytes32 requestHash, address validatorAddress);
    error WrongModel(uint256 got, uint256 expected);
    error WrongRequest(uint256 context, uint256 expected);
    error PublicInputsLength(uint256 got, uint256 minimum);
    error AlreadyValidated(bytes32 requestHash);
    error InvalidProof();

    constructor(IERC8004Validation registry_, IZkmlVerifier verifier_, uint256 modelId_, uint256 numInputWords_) {
        registry = registry_;
        verifier = verifier_;
        modelId = modelId_;
        numInputWords = numInputWords_;
    }

    /// @notice Verifies `proof` for the request and records a response of 100 in the registry.
    function respond(
        bytes32 requestHash,
        bytes calldata proof,
        uint256[] calldata publicInputs,
        string calldata responseURI
    ) external nonReentrant returns (bytes32 responseHash) {
        uint256 agentId = _checkRequest(requestHash, publicInputs);
        if (!verifier.verifyProof(proof, publicInputs)) revert InvalidProof();
        Result memory r = _result(publicInputs);
        results[requestHash] = r;
        responseHash = keccak256(abi.encode(proof, publicInputs));
        registry.validationResponse(requestHash, RESPONSE_VALID, responseURI, responseHash, TAG);
        emit ProofValidated(requestHash, agentId, r.inputHash, r.outputHash, responseHash);
    }

    /// @dev The request names this validator, is not validated yet, and the public inputs commit to
    ///      this model and this request.
    function _checkRequest(bytes32 requestHash, uint256[] calldata publicInputs)
        internal
        view
        returns (uint256 agentId)
    {
        address validatorAddress;
        (validatorAddress, agentId,,,,) = registry.getValidationStatus(requestHash);
        if (validatorAddress != address(this)) revert NotRequestedValidator(requestHash, validatorAddress);
        if (results[requestHash].inputHash != bytes32(0)) revert AlreadyValidated(requestHash);
        uint256 minimum = PI.FIRST_INPUT_INDEX + numInputWords + 1;
        if (publicInputs.length < minimum) revert PublicInputsLength(publicInputs.length, minimum);
        if (publicInputs[PI.MODEL_ID_INDEX] != modelId) revert WrongModel(publicInputs[PI.MODEL_ID_INDEX], modelId);
        uint256 context = PI.requestContext(requestHash);
        if (publicInputs[PI.CONTEXT_INDEX] != context) revert WrongRequest(publicInputs[PI.CONTEXT_INDEX], context);
    }

    function _result(uint256[] calldata publicInputs) internal view returns (Result memory) {
        uint256 firstOutput = PI.FIRST_INPUT_INDEX + numInputWords;
        return Result({
            inputHash: PI.sliceHash(publicInputs, PI.FIRST_INPUT_INDEX, firstOutput),
            outputHash: PI.sliceHash(publicInputs, firstOutput, publicInputs.length)
        });
    }

    /// @notice What a validation proved; zero hashes if not validated by this contract.
    function resultOf(bytes32 requestHash) external view returns (bytes32 inputHash, bytes32 outputHash) {
        Result memory r = results[requestHash];
        return (r.inputHash, r.outputHash);
    }
}
