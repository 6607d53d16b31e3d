// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC3009} from "./interfaces/IERC3009.sol";
import {IERC8004Validation} from "./interfaces/IERC8004.sol";
import {IZkmlEscrow} from "./interfaces/IZkmlEscrow.sol";
import {IZkmlVerifier} from "./interfaces/IZkmlVerifier.sol";
import {ZkmlPublicInputs as PI} from "./ZkmlPublicInputs.sol";
import {ZkmlValidator} from "./ZkmlValidator.sol";

/// @title ZkmlEscrow
/// @notice x402 pay-on-proof. A payer signs an EIP-3009 ReceiveWithAuthorization to this escrow for
///         a request; anyone (the resource server, a facilitator) submits it with `open`, and the
///         escrow pulls the funds itself (receiveWithAuthorization: only the payee may submit, so
///         nobody can front-run the transfer). The request is bound to (model id, input hash):
///           requestId = keccak256(abi.encode(payer, modelId, inputHash, salt))
///         (ZkmlPublicInputs.requestHashOf, the rule of ZkmlValidator's request hashes)
///         and the authorization's nonce to the request and its terms:
///           nonce = keccak256(abi.encode(requestId, provider, amount, deadline))
///         Funds go to the provider only on a valid proof for that request, until the deadline:
///         `release` with a proof whose public inputs are [modelId, escrowContext(this, requestId),
///         the request's input words, output...] (the context binds the chain, this escrow and the
///         request), or `releaseByValidation` when the ERC-8004 validation
///         with requestHash = requestId, answered by the trusted ZkmlValidator, reads 100 for the
///         same input, the validation made by the deadline (settled at any time). After the
///         deadline, `refund` returns them to the payer unless such a validation exists. Each
///         request settles once.
contract ZkmlEscrow is IZkmlEscrow, ReentrancyGuardTransient {
    using SafeERC20 for IERC3009;

    struct Request {
        address payer;
        address provider;
        uint256 amount;
        uint64 deadline;
        Status status;
        bytes32 inputHash;
    }

    // Typed for the calls; the interface's getters below return their addresses (an interface
    // that names IERC3009 would be one sol! cannot read on its own).
    IERC3009 internal immutable _token;
    IZkmlVerifier internal immutable _verifier;
    uint256 public immutable modelId;
    uint256 public immutable numInputWords;
    IERC8004Validation public immutable validationRegistry;
    ZkmlValidator public immutable validator;

    mapping(bytes32 => Request) public requests;

    constructor(
        IERC3009 token_,
        IZkmlVerifier verifier_,
        uint256 modelId_,
        uint256 numInputWords_,
        IERC8004Validation validationRegistry_,
        ZkmlValidator validator_
    ) {
        if (modelId_ >= PI.R) revert WrongModel(modelId_, PI.R);
        _token = token_;
        _verifier = verifier_;
        modelId = modelId_;
        numInputWords = numInputWords_;
        validationRegistry = validationRegistry_;
        validator = validator_;
        if (
            address(validator_) != address(0)
                && (validator_.modelId() != modelId_
                    || address(validator_.verifier()) != address(verifier_)
                    || validator_.numInputWords() != numInputWords_
                    || address(validator_.registry()) != address(validationRegistry_))
        ) revert ValidatorMismatch();
    }

    /// @inheritdoc IZkmlEscrow
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IZkmlEscrow
    function verifier() external view returns (address) {
        return address(_verifier);
    }

    /// @notice The request id of a payer's request for this model on the input whose packed words
    ///         hash to `inputHash`.
    function requestIdOf(address payer, bytes32 inputHash, bytes32 salt) public view returns (bytes32) {
        return PI.requestHashOf(payer, modelId, inputHash, salt);
    }

    function nonceOf(bytes32 requestId, address provider, uint256 amount, uint64 deadline)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(requestId, provider, amount, deadline));
    }

    /// @notice Opens a request and pulls the payment with the payer's EIP-3009
    ///         ReceiveWithAuthorization (from = payer, to = this escrow, value = amount,
    ///         nonce = nonceOf(requestIdOf(payer, inputHash, salt), provider, amount, deadline)).
    function open(Terms calldata t, Authorization calldata a) external nonReentrant returns (bytes32 requestId) {
        if (t.provider == address(0) || t.amount == 0 || t.deadline <= block.timestamp) revert BadTerms();
        requestId = requestIdOf(t.payer, t.inputHash, t.salt);
        if (requests[requestId].status != Status.None) revert RequestExists(requestId);
        requests[requestId] = Request({
            payer: t.payer,
            provider: t.provider,
            amount: t.amount,
            deadline: t.deadline,
            status: Status.Open,
            inputHash: t.inputHash
        });
        emit Opened(requestId, t.payer, t.provider, t.amount, t.deadline, t.inputHash);
        _pull(t, a, nonceOf(requestId, t.provider, t.amount, t.deadline));
    }

    function _pull(Terms calldata t, Authorization calldata a, bytes32 nonce) internal {
        uint256 before = _token.balanceOf(address(this));
        _token.receiveWithAuthorization(
            t.payer, address(this), t.amount, a.validAfter, a.validBefore, nonce, a.v, a.r, a.s
        );
        if (_token.balanceOf(address(this)) - before != t.amount) revert BadTerms();
    }

    /// @notice Pays the provider on a valid proof for this request.
    function release(bytes32 requestId, bytes calldata proof, uint256[] calldata publicInputs) external nonReentrant {
        Request storage q = _openBeforeDeadline(requestId);
        uint256 firstOutput = PI.FIRST_INPUT_INDEX + numInputWords;
        if (publicInputs.length <= firstOutput) revert PublicInputsLength(publicInputs.length, firstOutput + 1);
        if (publicInputs[PI.MODEL_ID_INDEX] != modelId) revert WrongModel(publicInputs[PI.MODEL_ID_INDEX], modelId);
        uint256 context = PI.escrowContext(address(this), requestId);
        if (publicInputs[PI.CONTEXT_INDEX] != context) revert WrongRequest(publicInputs[PI.CONTEXT_INDEX], context);
        bytes32 inputHash = PI.sliceHash(publicInputs, PI.FIRST_INPUT_INDEX, firstOutput);
        if (inputHash != q.inputHash) revert WrongInput(inputHash, q.inputHash);
        if (!_verifier.verifyProof{gas: PI.verifyGas(publicInputs.length)}(proof, publicInputs)) revert InvalidProof();
        _pay(requestId, q, PI.sliceHash(publicInputs, firstOutput, publicInputs.length));
    }

    /// @notice Pays the provider because the ERC-8004 validation of this request (requestHash =
    ///         requestId), named to and answered by the trusted ZkmlValidator no later than the
    ///         deadline, reads 100 for the request's input. The deadline applies to the validation,
    ///         not to this call: a validation made in time pays even when settled later.
    function releaseByValidation(bytes32 requestId) external nonReentrant {
        Request storage q = requests[requestId];
        if (q.status != Status.Open) revert NotOpen(requestId, q.status);
        (bool validated, uint64 at, bytes32 inputHash, bytes32 outputHash) = _validation(requestId);
        if (!validated) revert NotValidated(requestId);
        if (at > q.deadline) revert DeadlinePassed(requestId, q.deadline);
        if (inputHash != q.inputHash) revert WrongInput(inputHash, q.inputHash);
        _pay(requestId, q, outputHash);
    }

    /// @notice Returns the funds to the payer after the deadline (anyone may call), unless the
    ///         request was validated in time (then `releaseByValidation` pays the provider).
    function refund(bytes32 requestId) external nonReentrant {
        Request storage q = requests[requestId];
        if (q.status != Status.Open) revert NotOpen(requestId, q.status);
        if (block.timestamp <= q.deadline) revert DeadlineNotReached(requestId, q.deadline);
        (bool validated, uint64 at, bytes32 inputHash,) = _validation(requestId);
        if (validated && at <= q.deadline && inputHash == q.inputHash) revert ValidatedInTime(requestId);
        q.status = Status.Refunded;
        emit Refunded(requestId, q.payer, q.amount);
        _token.safeTransfer(q.payer, q.amount);
    }

    /// @dev Whether the trusted validator validated `requestId`, and when, on which input, with
    ///      which output. Its record suffices: it records a validation only when the registry named
    ///      it for the request, and answers it with 100, once. (No call to the registry, which
    ///      reverts for unknown requests: catching that would let a caller starve the call of gas
    ///      and refund a validated request.)
    function _validation(bytes32 requestId)
        internal
        view
        returns (bool validated, uint64 at, bytes32 inputHash, bytes32 outputHash)
    {
        if (address(validator) == address(0)) return (false, 0, 0, 0);
        at = validator.validatedAt(requestId);
        if (at == 0) return (false, 0, 0, 0);
        (, inputHash, outputHash) = validator.resultOf(requestId);
        return (true, at, inputHash, outputHash);
    }

    function _openBeforeDeadline(bytes32 requestId) internal view returns (Request storage q) {
        q = requests[requestId];
        if (q.status != Status.Open) revert NotOpen(requestId, q.status);
        if (block.timestamp > q.deadline) revert DeadlinePassed(requestId, q.deadline);
    }

    function _pay(bytes32 requestId, Request storage q, bytes32 outputHash) internal {
        q.status = Status.Released;
        emit Released(requestId, q.provider, q.amount, outputHash);
        _token.safeTransfer(q.provider, q.amount);
    }
}
