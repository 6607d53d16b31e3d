//! Typed alloy bindings of the contracts the demo deploys and calls (the functions, events and
//! errors it uses; ABI-identical to the Solidity in contracts/ and oracle-demo/contracts/).

use alloy::sol;

sol! {
    #[sol(rpc, all_derives)]
    interface IZkmlOracle {
        function update(bytes proof, int256[] inputs, uint64 dataTimestamp, int256 answer) external returns (uint80 roundId);
        function publicInputs(int256[] inputs, uint64 dataTimestamp, int256 answer) external view returns (uint256[] memory);
        function latestRoundData() external view returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
        function getRoundData(uint80 roundId) external view returns (uint80, int256 answer, uint256, uint256 updatedAt, uint80);
        function latestRound() external view returns (uint80);
        function decimals() external view returns (uint8);
        function modelId() external view returns (uint256);

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
        error SlotWidthInvalid(uint256 bits);
        error ValueOutOfRange(int256 value, uint256 bits);
    }

    #[sol(rpc, all_derives)]
    interface ICollateralMonitor {
        function check() external returns (bool);
        function lastPrice() external view returns (int256);
        function lastRound() external view returns (uint80);
        function healthy() external view returns (bool);
        function checks() external view returns (uint256);

        error StalePrice(uint256 updatedAt, uint256 now_);
        error IncompleteRound(uint80 roundId, uint80 answeredInRound);
        error BadPrice(int256 price);
    }

    /// contracts/testing/TestUSDC.sol: a USDC-style EIP-3009 token (6 decimals, anyone may mint).
    #[sol(rpc, all_derives)]
    interface ITestUSDC {
        function mint(address to, uint256 amount) external;
        function balanceOf(address account) external view returns (uint256);
        function DOMAIN_SEPARATOR() external view returns (bytes32);
        function authorizationState(address authorizer, bytes32 nonce) external view returns (bool);

        error AuthorizationNotYetValid();
        error AuthorizationExpired();
        error AuthorizationUsedOrCanceled();
        error InvalidSignature();
        error CallerMustBePayee();
        error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed);
    }

    /// EIP-3009's `ReceiveWithAuthorization` (EIP-712 struct; USDC's type hash).
    #[derive(Debug)]
    struct ReceiveWithAuthorization {
        address from;
        address to;
        uint256 value;
        uint256 validAfter;
        uint256 validBefore;
        bytes32 nonce;
    }

    /// contracts/ZkmlEscrow.sol (x402 pay-on-proof). `Status`: 0 None, 1 Open, 2 Released, 3 Refunded.
    #[sol(rpc, all_derives)]
    interface IZkmlEscrow {
        struct Terms {
            address payer;
            address provider;
            uint256 amount;
            uint64 deadline;
            bytes32 inputHash;
            bytes32 salt;
        }
        struct Authorization {
            uint256 validAfter;
            uint256 validBefore;
            uint8 v;
            bytes32 r;
            bytes32 s;
        }

        function open(Terms t, Authorization a) external returns (bytes32 requestId);
        function release(bytes32 requestId, bytes proof, uint256[] publicInputs) external;
        function releaseByValidation(bytes32 requestId) external;
        function refund(bytes32 requestId) external;
        function requestIdOf(address payer, bytes32 inputHash, bytes32 salt) external view returns (bytes32);
        function nonceOf(bytes32 requestId, address provider, uint256 amount, uint64 deadline) external pure returns (bytes32);
        function requests(bytes32 requestId) external view returns (address payer, address provider, uint256 amount, uint64 deadline, uint8 status, bytes32 inputHash);

        event Opened(bytes32 indexed requestId, address indexed payer, address indexed provider, uint256 amount, uint64 deadline, bytes32 inputHash);
        event Released(bytes32 indexed requestId, address indexed provider, uint256 amount, bytes32 outputHash);
        event Refunded(bytes32 indexed requestId, address indexed payer, uint256 amount);

        error RequestExists(bytes32 requestId);
        error NotOpen(bytes32 requestId, uint8 status);
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
    }

    /// contracts/ZkmlValidator.sol: the ERC-8004 validator backed by zkml proofs.
    #[sol(rpc, all_derives)]
    interface IZkmlValidator {
        function respond(bytes32 requestHash, bytes proof, uint256[] publicInputs, string responseURI) external returns (bytes32 responseHash);
        function resultOf(bytes32 requestHash) external view returns (bytes32 inputHash, bytes32 outputHash);

        event ProofValidated(bytes32 indexed requestHash, uint256 indexed agentId, bytes32 inputHash, bytes32 outputHash, bytes32 responseHash);

        error NotRequestedValidator(bytes32 requestHash, address validatorAddress);
        error WrongModel(uint256 got, uint256 expected);
        error WrongRequest(uint256 context, uint256 expected);
        error PublicInputsLength(uint256 got, uint256 minimum);
        error AlreadyValidated(bytes32 requestHash);
        error InvalidProof();
    }

    /// ERC-8004 v2.0.0 Validation Registry (contracts/testing/TestValidationRegistry.sol).
    #[sol(rpc, all_derives)]
    interface IValidationRegistry {
        function validationRequest(address validatorAddress, uint256 agentId, string requestURI, bytes32 requestHash) external;
        function getValidationStatus(bytes32 requestHash) external view returns (address validatorAddress, uint256 agentId, uint8 response, bytes32 responseHash, string tag, uint256 lastUpdate);
        function getSummary(uint256 agentId, address[] validatorAddresses, string tag) external view returns (uint64 count, uint8 avgResponse);
    }

    /// ERC-8004 v2.0.0 Identity Registry (contracts/testing/TestIdentityRegistry.sol).
    #[sol(rpc, all_derives)]
    interface IIdentityRegistry {
        function register(string agentURI) external returns (uint256 agentId);
        function ownerOf(uint256 agentId) external view returns (address);

        event Registered(uint256 indexed agentId, string agentURI, address indexed owner);
    }
}
