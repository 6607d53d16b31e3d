// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @title IZkmlEscrow
/// @notice ZkmlEscrow's external face (contracts/ZkmlEscrow.sol: x402 pay on proof), as the Rust
///         side binds it (`sol!` reads this file: the server's `zkml-escrow` scheme, the demo's
///         agent). ZkmlEscrow inherits it, so solc holds the two to one another: its types,
///         events and errors are defined here, once. Only plain Solidity (no imported types), so
///         that `sol!`, which reads one file, can bind it.
interface IZkmlEscrow {
    /// @notice A request's state: opened by `open`, settled once by `release`,
    ///         `releaseByValidation` or `refund`.
    enum Status {
        None,
        Open,
        Released,
        Refunded
    }

    /// @notice What the payer agrees to (all of it bound by the authorization's nonce).
    struct Terms {
        address payer;
        address provider;
        uint256 amount;
        uint64 deadline;
        bytes32 inputHash;
        bytes32 salt;
    }

    /// @notice The payer's EIP-3009 ReceiveWithAuthorization signature and validity window.
    struct Authorization {
        uint256 validAfter;
        uint256 validBefore;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    event Opened(
        bytes32 indexed requestId,
        address indexed payer,
        address indexed provider,
        uint256 amount,
        uint64 deadline,
        bytes32 inputHash
    );
    event Released(bytes32 indexed requestId, address indexed provider, uint256 amount, bytes32 outputHash);
    event Refunded(bytes32 indexed requestId, address indexed payer, uint256 amount);

    error RequestExists(bytes32 requestId);
    error NotOpen(bytes32 requestId, Status status);
    error DeadlinePassed(bytes32 requestId, uint64 deadline);
    error DeadlineNotReached(bytes32 requestId, uint64 deadline);
    error BadTerms();
    error WrongModel(uint256 got, uint256 expected);
    error WrongRequest(uint256 context, uint256 expected);
    error WrongInput(bytes32 got, bytes32 expected);
    error PublicInputsLength(uint256 got, uint256 minimum);
    error InvalidProof();
    error NotValidated(bytes32 requestId);
    error ValidatorMismatch();
    error ValidatedInTime(bytes32 requestId);

    function open(Terms calldata t, Authorization calldata a) external returns (bytes32 requestId);
    function release(bytes32 requestId, bytes calldata proof, uint256[] calldata publicInputs) external;
    function releaseByValidation(bytes32 requestId) external;
    function refund(bytes32 requestId) external;
    function requestIdOf(address payer, bytes32 inputHash, bytes32 salt) external view returns (bytes32);
    function nonceOf(bytes32 requestId, address provider, uint256 amount, uint64 deadline)
        external
        pure
        returns (bytes32);
    /// @notice The EIP-3009 token the escrow holds (an IERC3009).
    function token() external view returns (address);
    /// @notice The verifier of the model's proofs (an IZkmlVerifier).
    function verifier() external view returns (address);
    /// @notice The model whose proofs release requests.
    function modelId() external view returns (uint256);
    /// @notice How many packed input words a proof's public inputs carry.
    function numInputWords() external view returns (uint256);
    function requests(bytes32 requestId)
        external
        view
        returns (address payer, address provider, uint256 amount, uint64 deadline, Status status, bytes32 inputHash);
}
