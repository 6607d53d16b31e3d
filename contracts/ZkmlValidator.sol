// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {IERC8004Validation} from "./interfaces/IERC8004.sol";
import {IZkmlValidator} from "./interfaces/IZkmlValidator.sol";
import {IZkmlVerifier} from "./interfaces/IZkmlVerifier.sol";
import {ZkmlPublicInputs as PI} from "./ZkmlPublicInputs.sol";

/// @title ZkmlValidator
/// @notice An ERC-8004 (v2.0.0) validator backed by a zkml proof. The Validation Registry takes a
///         response only from the validator named in the request, so an agent that wants a zkml
///         validation names this contract in a request whose hash derives from the task:
///           requestHash = keccak256(abi.encode(client, modelId, inputHash, salt)),
///           inputHash = keccak256(abi.encodePacked(input words))
///         (`requestHashOf`, the rule ZkmlEscrow uses for its request ids). `respond(agentId, …)`
///         rebuilds the request hash from the client, the salt and the proof's own input words,
///         so a proof only answers the request for that input; checks that the caller is the
///         agent's owner or operator in the identity registry (so nobody else can answer for it,
///         or front-run the answer with another responseURI); that the proof is for this model
///         and carries validationContext(this, agentId, requestHash), which binds the chain, this
///         validator, the agent and the request; that the client asked for it: its signature
///         (ECDSA, or ERC-1271 for a contract client) over the EIP-712
///         `ValidationRequest(uint256 agentId, bytes32 requestHash)` under the domain
///         {name "ZkmlValidator", version "1", chainId, this validator}; verifies it; keeps the
///         result (`resultOf`, `validatedAt`: what ZkmlEscrow settles on); and then, if the
///         registry's request for that hash names this validator and this agent, calls
///         validationResponse(requestHash, 100, responseURI,
///         keccak256(abi.encode(proof, publicInputs)), "zkml"), else emits RegistryNotAnswered.
///         The registry is first come, first served, and a request hash is public (an escrow's
///         request id once opened, a registration in the mempool): the validation does not
///         depend on who registered it there first, so nobody can block it by squatting.
///
///         What a "zkml" 100 means: the recorded client asked this agent to run this model on the
///         input committed to in the request hash, and the agent's owner showed a valid proof that
///         the model gave the recorded output (`resultOf`). It says nothing about whether the
///         client is independent of the agent (an agent can be its own client: count validations
///         per client you trust, not in total), whether the input was true or useful, or whether
///         the output reached the client.
/// @dev One validator per model (verifier + model id + input length); a model upgrade deploys a
///      new validator. Results are kept so that other contracts (ZkmlEscrow) can read which input
///      and output a validation proved.
contract ZkmlValidator is IZkmlValidator, ReentrancyGuardTransient, EIP712 {
    struct Result {
        address client;
        uint64 validatedAt; // block.timestamp of the response (in the client's slot: no new slot)
        bytes32 inputHash; // keccak256(abi.encodePacked(pub[2 .. 2+k]))
        bytes32 outputHash; // keccak256(abi.encodePacked(pub[2+k ..]))
    }

    bytes32 public constant VALIDATION_REQUEST_TYPEHASH =
        keccak256("ValidationRequest(uint256 agentId,bytes32 requestHash)");
    string public constant TAG = "zkml";
    uint8 public constant RESPONSE_VALID = 100;

    IERC8004Validation internal immutable _registry;
    IZkmlVerifier internal immutable _verifier;
    uint256 public immutable modelId;
    /// @notice k: packed input words in the public inputs.
    uint256 public immutable numInputWords;

    mapping(bytes32 => Result) internal results;

    constructor(IERC8004Validation registry_, IZkmlVerifier verifier_, uint256 modelId_, uint256 numInputWords_)
        EIP712("ZkmlValidator", "1")
    {
        if (modelId_ >= PI.R) revert ModelIdNotAFieldElement(modelId_);
        _registry = registry_;
        _verifier = verifier_;
        modelId = modelId_;
        numInputWords = numInputWords_;
    }

    /// @inheritdoc IZkmlValidator
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc IZkmlValidator
    function verifier() external view returns (address) {
        return address(_verifier);
    }

    /// @inheritdoc IZkmlValidator
    function requestHashOf(address client, bytes32 inputHash, bytes32 salt) public view returns (bytes32) {
        return PI.requestHashOf(client, modelId, inputHash, salt);
    }

    /// @inheritdoc IZkmlValidator
    function requestDigest(uint256 agentId, bytes32 requestHash) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(VALIDATION_REQUEST_TYPEHASH, agentId, requestHash)));
    }

    /// @inheritdoc IZkmlValidator
    function respond(
        uint256 agentId,
        address client,
        bytes32 salt,
        bytes calldata proof,
        uint256[] calldata publicInputs,
        string calldata responseURI,
        bytes calldata clientSignature
    ) external nonReentrant returns (bytes32 requestHash, bytes32 responseHash) {
        requestHash = _checkRequest(agentId, client, salt, publicInputs, clientSignature);
        if (!_verifier.verifyProof{gas: PI.verifyGas(publicInputs.length)}(proof, publicInputs)) revert InvalidProof();
        responseHash = keccak256(abi.encode(proof, publicInputs));
        _record(requestHash, agentId, client, publicInputs, responseURI, responseHash);
    }

    /// @dev The request (hashed from the client, the salt and the proof's input words) is not
    ///      validated yet; the caller acts for the agent; the public inputs commit to this model
    ///      and to this validator, agent and request; the client signed the agent's validation
    ///      of it. Nothing here reads the registry's request: whoever registers a request hash
    ///      first there (anyone can, for an agent of theirs) cannot block its validation.
    function _checkRequest(
        uint256 agentId,
        address client,
        bytes32 salt,
        uint256[] calldata publicInputs,
        bytes calldata clientSignature
    ) internal view returns (bytes32 requestHash) {
        uint256 firstOutput = PI.FIRST_INPUT_INDEX + numInputWords;
        if (publicInputs.length <= firstOutput) revert PublicInputsLength(publicInputs.length, firstOutput + 1);
        requestHash = requestHashOf(client, PI.sliceHash(publicInputs, PI.FIRST_INPUT_INDEX, firstOutput), salt);
        if (results[requestHash].inputHash != bytes32(0)) revert AlreadyValidated(requestHash);
        // Read per call: the registry names its identity registry, and a deployment script may
        // create this validator before the registry has code (a counterfactual address).
        IERC721 identity = IERC721(_registry.getIdentityRegistry());
        address owner = identity.ownerOf(agentId);
        if (
            msg.sender != owner && !identity.isApprovedForAll(owner, msg.sender)
                && identity.getApproved(agentId) != msg.sender
        ) revert NotAgentOperator(agentId, msg.sender);
        if (publicInputs[PI.MODEL_ID_INDEX] != modelId) revert WrongModel(publicInputs[PI.MODEL_ID_INDEX], modelId);
        uint256 context = PI.validationContext(address(this), agentId, requestHash);
        if (publicInputs[PI.CONTEXT_INDEX] != context) revert WrongRequest(publicInputs[PI.CONTEXT_INDEX], context);
        if (!SignatureChecker.isValidSignatureNow(client, requestDigest(agentId, requestHash), clientSignature)) {
            revert ClientDidNotAsk(client, agentId, requestHash);
        }
    }

    /// @dev Keeps what the validation proved, then answers the registry.
    function _record(
        bytes32 requestHash,
        uint256 agentId,
        address client,
        uint256[] calldata publicInputs,
        string calldata responseURI,
        bytes32 responseHash
    ) internal {
        uint256 firstOutput = PI.FIRST_INPUT_INDEX + numInputWords;
        Result memory r = Result({
            client: client,
            validatedAt: uint64(block.timestamp),
            inputHash: PI.sliceHash(publicInputs, PI.FIRST_INPUT_INDEX, firstOutput),
            outputHash: PI.sliceHash(publicInputs, firstOutput, publicInputs.length)
        });
        results[requestHash] = r;
        emit ProofValidated(requestHash, agentId, client, r.inputHash, r.outputHash, responseHash);
        _answerRegistry(requestHash, agentId, responseURI, responseHash);
    }

    /// @dev Answers the registry if its request for `requestHash` is this agent's at this
    ///      validator. The registry reverts for a request it does not know; either way the
    ///      result kept here stands.
    function _answerRegistry(bytes32 requestHash, uint256 agentId, string calldata responseURI, bytes32 responseHash)
        internal
    {
        try _registry.getValidationStatus(requestHash) returns (
            address validatorAddress, uint256 requestedBy, uint8, bytes32, string memory, uint256
        ) {
            if (validatorAddress == address(this) && requestedBy == agentId) {
                _registry.validationResponse(requestHash, RESPONSE_VALID, responseURI, responseHash, TAG);
            } else {
                emit RegistryNotAnswered(requestHash, validatorAddress, requestedBy);
            }
        } catch {
            emit RegistryNotAnswered(requestHash, address(0), 0);
        }
    }

    /// @inheritdoc IZkmlValidator
    function validatedAt(bytes32 requestHash) external view returns (uint64) {
        return results[requestHash].validatedAt;
    }

    /// @inheritdoc IZkmlValidator
    function resultOf(bytes32 requestHash)
        external
        view
        returns (address client, bytes32 inputHash, bytes32 outputHash)
    {
        Result memory r = results[requestHash];
        return (r.client, r.inputHash, r.outputHash);
    }
}
