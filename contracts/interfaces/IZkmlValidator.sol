// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @title IZkmlValidator
/// @notice ZkmlValidator's external face (contracts/ZkmlValidator.sol: an ERC-8004 validator
///         backed by zkml proofs), as the Rust side binds it (`sol!` reads this file: the demo's
///         agent). ZkmlValidator inherits it, so solc holds the two to one another: its events
///         and errors are defined here, once. Only plain Solidity (no imported types), so that
///         `sol!`, which reads one file, can bind it.
interface IZkmlValidator {
    event ProofValidated(
        bytes32 indexed requestHash,
        uint256 indexed agentId,
        address indexed client,
        bytes32 inputHash,
        bytes32 outputHash,
        bytes32 responseHash
    );

    /// @notice The validation is kept here, but the registry's request for this hash is not this
    ///         agent's at this validator (someone registered it first, or nobody did), so the
    ///         registry was not answered. Zero address and agent: no request there.
    event RegistryNotAnswered(bytes32 indexed requestHash, address registeredValidator, uint256 registeredAgent);

    error NotAgentOperator(uint256 agentId, address caller);
    error WrongModel(uint256 got, uint256 expected);
    error WrongRequest(uint256 context, uint256 expected);
    error PublicInputsLength(uint256 got, uint256 minimum);
    error AlreadyValidated(bytes32 requestHash);
    error InvalidProof();
    error ModelIdNotAFieldElement(uint256 modelId);
    /// @notice `client` did not sign this agent's validation of this request.
    error ClientDidNotAsk(address client, uint256 agentId, bytes32 requestHash);

    /// @notice Verifies `proof` for agent `agentId`'s answer to the request of `client` (with
    ///         `salt`) on the proof's input, keeps the result, and records a response of 100 in
    ///         the registry if the registry's request for it names this validator and this agent.
    ///         Only the agent's owner or an approved operator may call it, with the client's
    ///         signature over `requestDigest(agentId, requestHash)`.
    function respond(
        uint256 agentId,
        address client,
        bytes32 salt,
        bytes calldata proof,
        uint256[] calldata publicInputs,
        string calldata responseURI,
        bytes calldata clientSignature
    ) external returns (bytes32 requestHash, bytes32 responseHash);
    /// @notice The request hash of a task: `client` asks for this model on the input whose packed
    ///         words hash to `inputHash`, with a salt of its choice.
    function requestHashOf(address client, bytes32 inputHash, bytes32 salt) external view returns (bytes32);
    /// @notice The EIP-712 digest a client signs to ask agent `agentId` for the validation of
    ///         `requestHash` (which names the client, the model, the input and a salt).
    function requestDigest(uint256 agentId, bytes32 requestHash) external view returns (bytes32);
    /// @notice When this contract validated `requestHash` (a block timestamp); 0 if it did not.
    function validatedAt(bytes32 requestHash) external view returns (uint64);
    /// @notice What a validation proved; zeros if not validated by this contract.
    function resultOf(bytes32 requestHash) external view returns (address client, bytes32 inputHash, bytes32 outputHash);
    /// @notice The ERC-8004 Validation Registry it answers (an IERC8004Validation).
    function registry() external view returns (address);
    /// @notice The verifier of the model's proofs (an IZkmlVerifier).
    function verifier() external view returns (address);
    /// @notice The model whose proofs it validates.
    function modelId() external view returns (uint256);
    /// @notice How many packed input words a proof's public inputs carry.
    function numInputWords() external view returns (uint256);
}
