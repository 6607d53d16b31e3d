//! Typed alloy bindings of the contracts the demo deploys and calls: the functions, events and
//! errors it uses, read from the contract's interface file where there is one (IERC8004.sol
//! here; IZkmlVerifier.sol and IZkmlEscrow.sol, which ZkmlEscrow inherits, bound once, by
//! zkml-serve), else declared by hand (alloy's `sol!` cannot read a contract that imports and
//! inherits others, as these do). They cannot drift silently: [`check`] compares every
//! signature, return type and event topic count here with the ABI solc compiles from the
//! Solidity in contracts/ and oracle-demo/contracts/, and the demo runs it before it deploys.
#![allow(
    clippy::too_many_arguments,
    reason = "sol! gives each contract function a builder with one argument per Solidity parameter"
)]

use std::collections::BTreeMap;

use alloy::sol;
use alloy::sol_types::{SolCall, SolEvent, SolType, TopicList};
use anyhow::{Result, bail};
use serde_json::Value;

sol! {
    /// contracts/ZkmlSignedOracle.sol (and its base contracts/ZkmlOracle.sol): the oracle whose
    /// model inputs come in EIP-712 reports signed by a quorum of registered data signers.
    #[sol(rpc, all_derives)]
    interface IZkmlSignedOracle {
        struct ModelIO {
            uint8 numInputs;
            uint8 inputBits;
            uint8 outputBits;
            uint8 outputFracBits;
        }
        /// The constructor's first argument (`verifier` is an IZkmlVerifier).
        struct Config {
            address verifier;
            uint256 modelId;
            ModelIO io;
            uint8 decimals;
            string description;
            uint64 maxAge;
            uint64 upgradeDelay;
            address owner;
        }

        function update(bytes proof, int256[] features, uint64 dataTimestamp, int256 answer, bytes[] signatures) external returns (uint80 roundId);
        function reportDigest(int256[] features, uint64 dataTimestamp) external view returns (bytes32);
        function publicInputs(int256[] inputs, uint64 dataTimestamp, int256 answer) external view returns (uint256[] memory);
        function latestRoundData() external view returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
        function getRoundData(uint80 roundId) external view returns (uint80, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
        function latestRound() external view returns (uint80);
        function decimals() external view returns (uint8);
        function modelId() external view returns (uint256);
        function verifier() external view returns (address);
        function maxAge() external view returns (uint64);
        function maxPostDelay() external view returns (uint64);
        function upgradeDelay() external view returns (uint64);
        function owner() external view returns (address);
        function setUpdatersRestricted(bool restricted) external;
        function setUpdater(address updater, bool allowed) external;
        function updatersRestricted() external view returns (bool);
        function isUpdater(address updater) external view returns (bool);
        function signers() external view returns (address[] memory);
        function isSigner(address signer) external view returns (bool);
        function quorum() external view returns (uint8);

        event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);
        event NewRound(uint256 indexed roundId, address indexed startedBy, uint256 startedAt);
        event RoundProved(uint80 indexed roundId, uint256 indexed modelId, uint64 dataTimestamp, bytes32 statement);
        event UpdaterSet(address indexed updater, bool allowed);
        event UpdatersRestricted(bool restricted);
        event SignersSet(address[] signers, uint8 quorum);

        error WrongInputCount(uint256 got, uint256 expected);
        error StaleData(uint256 dataTimestamp, uint256 now_, uint256 maxAge);
        error PostedTooLate(uint256 dataTimestamp, uint256 now_, uint256 maxPostDelay);
        error FutureData(uint256 dataTimestamp, uint256 now_);
        error OutOfOrder(uint256 dataTimestamp, uint256 latestTimestamp);
        error NonPositiveAnswer(int256 answer);
        error AnswerNotRepresentable(int256 answer);
        error ScaleNotExact(uint8 decimals, uint8 fracBits);
        error InvalidProof();
        error NoDataPresent();
        error ZeroVerifier();
        error NotAnUpdater(address caller);
        error ModelIdNotAFieldElement(uint256 modelId);
        error LayoutMismatch(uint256 verifierPublicInputs, uint256 expected);
        error VerifierModelMismatch(uint256 verifierModelId, uint256 modelId);
        error BadQuorum(uint256 quorum, uint256 signers);
        error DuplicateSigner(address signer);
        error ZeroSigner();
        error BadSignature(uint256 index);
        error NotASigner(uint256 index, address recovered);
        error SignersNotAscending(uint256 index);
        error QuorumNotMet(uint256 signatures, uint256 quorum);
        error SlotWidthInvalid(uint256 bits);
        error ValueOutOfRange(int256 value, uint256 bits);
        error OwnableUnauthorizedAccount(address account);
    }

    /// oracle-demo/contracts/CollateralMonitor.sol: the feed's consumer.
    #[sol(rpc, all_derives)]
    interface ICollateralMonitor {
        function check() external returns (bool);
        function lastPrice() external view returns (int256);
        function lastRound() external view returns (uint80);
        function healthy() external view returns (bool);
        function checks() external view returns (uint256);
        function debt() external view returns (uint256);
        function collateral() external view returns (uint256);
        function liquidationRatioBps() external view returns (uint256);

        event Checked(uint80 indexed roundId, int256 price, uint256 collateralValue, bool healthy);

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

    /// ZkmlValidator's EIP-712 struct: the client asks agent `agentId` to validate `requestHash`.
    #[derive(Debug)]
    struct ValidationRequest {
        uint256 agentId;
        bytes32 requestHash;
    }

    /// contracts/ZkmlValidator.sol: the ERC-8004 validator backed by zkml proofs.
    #[sol(rpc, all_derives)]
    interface IZkmlValidator {
        function respond(uint256 agentId, address client, bytes32 salt, bytes proof, uint256[] publicInputs, string responseURI, bytes clientSignature) external returns (bytes32 requestHash, bytes32 responseHash);
        function requestDigest(uint256 agentId, bytes32 requestHash) external view returns (bytes32);
        function resultOf(bytes32 requestHash) external view returns (address client, bytes32 inputHash, bytes32 outputHash);
        function requestHashOf(address client, bytes32 inputHash, bytes32 salt) external view returns (bytes32);

        event ProofValidated(bytes32 indexed requestHash, uint256 indexed agentId, address indexed client, bytes32 inputHash, bytes32 outputHash, bytes32 responseHash);
        event RegistryNotAnswered(bytes32 indexed requestHash, address registeredValidator, uint256 registeredAgent);

        error NotAgentOperator(uint256 agentId, address caller);
        error ClientDidNotAsk(address client, uint256 agentId, bytes32 requestHash);
        error WrongModel(uint256 got, uint256 expected);
        error WrongRequest(uint256 context, uint256 expected);
        error PublicInputsLength(uint256 got, uint256 minimum);
        error AlreadyValidated(bytes32 requestHash);
        error InvalidProof();
        error ModelIdNotAFieldElement(uint256 modelId);
    }
}

// The rendered verifier (templates/Groth16Verifier.sol) and contracts/ZkmlEscrow.sol (x402 pay
// on proof): zkml-serve's bindings of their interface files.
pub use zkml_serve::catalog::{IZkmlVerifier, IZkmlVerifierLayout};
pub use zkml_serve::escrow::IZkmlEscrow;

mod erc8004 {
    alloy::sol!(
        #[sol(rpc, all_derives)]
        "../contracts/interfaces/IERC8004.sol"
    );
}
/// ERC-8004 v2.0.0's Identity and Validation Registries (contracts/interfaces/IERC8004.sol, which
/// contracts/testing/TestIdentityRegistry.sol and TestValidationRegistry.sol implement).
/// `register` is overloaded there: `register_1` is `register(string agentURI)`.
pub use erc8004::{IERC8004Identity, IERC8004Validation};

/// One interface above and the contract it binds.
pub struct Binding {
    /// The `sol!` interface's name.
    pub interface: &'static str,
    /// The contract's name in solc's output.
    pub contract: &'static str,
    /// Every function, error and event signature of the interface (from `sol!`'s enums).
    pub functions: &'static [&'static str],
    /// Every error signature.
    pub errors: &'static [&'static str],
    /// Every event signature.
    pub events: &'static [&'static str],
    /// (function signature, return tuple), for every function.
    pub returns: Vec<(&'static str, &'static str)>,
    /// (event signature, topics incl. the signature's), for every event.
    pub topics: Vec<(&'static str, usize)>,
}

macro_rules! returns {
    ($iface:ident: $($call:ident),* $(,)?) => {
        vec![$((
            <$iface::$call as SolCall>::SIGNATURE,
            <<$iface::$call as SolCall>::ReturnTuple<'static> as SolType>::SOL_NAME,
        )),*]
    };
}

macro_rules! topics {
    ($iface:ident: $($event:ident),* $(,)?) => {
        vec![$((<$iface::$event as SolEvent>::SIGNATURE, <<$iface::$event as SolEvent>::TopicList as TopicList>::COUNT)),*]
    };
}

/// All the bindings, with what [`check`] compares.
pub fn bindings() -> Vec<Binding> {
    use IZkmlSignedOracle as O;
    vec![
        Binding {
            interface: "IZkmlSignedOracle",
            contract: "ZkmlSignedOracle",
            functions: O::IZkmlSignedOracleCalls::SIGNATURES,
            errors: O::IZkmlSignedOracleErrors::SIGNATURES,
            events: O::IZkmlSignedOracleEvents::SIGNATURES,
            returns: returns!(O: updateCall, reportDigestCall, publicInputsCall, latestRoundDataCall, getRoundDataCall, latestRoundCall,
                decimalsCall, modelIdCall, verifierCall, maxAgeCall, maxPostDelayCall, upgradeDelayCall, ownerCall, setUpdatersRestrictedCall,
                setUpdaterCall, updatersRestrictedCall, isUpdaterCall, signersCall, isSignerCall, quorumCall),
            topics: topics!(O: AnswerUpdated, NewRound, RoundProved, UpdaterSet, UpdatersRestricted, SignersSet),
        },
        Binding {
            interface: "IZkmlVerifier",
            contract: "ZkmlPriceVerifier",
            functions: IZkmlVerifier::IZkmlVerifierCalls::SIGNATURES,
            errors: &[],
            events: &[],
            returns: returns!(IZkmlVerifier: verifyProofCall),
            topics: vec![],
        },
        Binding {
            interface: "IZkmlVerifierLayout",
            contract: "ZkmlPriceVerifier",
            functions: IZkmlVerifierLayout::IZkmlVerifierLayoutCalls::SIGNATURES,
            errors: &[],
            events: &[],
            returns: returns!(IZkmlVerifierLayout: NUM_PUBLIC_INPUTSCall, MODEL_IDCall),
            topics: vec![],
        },
        Binding {
            interface: "ICollateralMonitor",
            contract: "CollateralMonitor",
            functions: ICollateralMonitor::ICollateralMonitorCalls::SIGNATURES,
            errors: ICollateralMonitor::ICollateralMonitorErrors::SIGNATURES,
            events: ICollateralMonitor::ICollateralMonitorEvents::SIGNATURES,
            returns: returns!(ICollateralMonitor: checkCall, lastPriceCall, lastRoundCall, healthyCall, checksCall, debtCall, collateralCall,
                liquidationRatioBpsCall),
            topics: topics!(ICollateralMonitor: Checked),
        },
        Binding {
            interface: "ITestUSDC",
            contract: "TestUSDC",
            functions: ITestUSDC::ITestUSDCCalls::SIGNATURES,
            errors: ITestUSDC::ITestUSDCErrors::SIGNATURES,
            events: &[],
            returns: returns!(ITestUSDC: mintCall, balanceOfCall, DOMAIN_SEPARATORCall, authorizationStateCall),
            topics: vec![],
        },
        Binding {
            interface: "IZkmlEscrow",
            contract: "ZkmlEscrow",
            functions: IZkmlEscrow::IZkmlEscrowCalls::SIGNATURES,
            errors: IZkmlEscrow::IZkmlEscrowErrors::SIGNATURES,
            events: IZkmlEscrow::IZkmlEscrowEvents::SIGNATURES,
            returns: returns!(IZkmlEscrow: openCall, releaseCall, releaseByValidationCall, refundCall, requestIdOfCall, nonceOfCall, requestsCall,
                tokenCall, verifierCall, modelIdCall, numInputWordsCall),
            topics: topics!(IZkmlEscrow: Opened, Released, Refunded),
        },
        Binding {
            interface: "IZkmlValidator",
            contract: "ZkmlValidator",
            functions: IZkmlValidator::IZkmlValidatorCalls::SIGNATURES,
            errors: IZkmlValidator::IZkmlValidatorErrors::SIGNATURES,
            events: IZkmlValidator::IZkmlValidatorEvents::SIGNATURES,
            returns: returns!(IZkmlValidator: respondCall, requestDigestCall, resultOfCall, requestHashOfCall),
            topics: topics!(IZkmlValidator: ProofValidated, RegistryNotAnswered),
        },
        Binding {
            interface: "IERC8004Validation",
            contract: "TestValidationRegistry",
            functions: IERC8004Validation::IERC8004ValidationCalls::SIGNATURES,
            errors: &[],
            events: IERC8004Validation::IERC8004ValidationEvents::SIGNATURES,
            returns: returns!(IERC8004Validation: validationRequestCall, validationResponseCall, getValidationStatusCall,
                getSummaryCall, getAgentValidationsCall, getValidatorRequestsCall, getIdentityRegistryCall, getVersionCall),
            topics: topics!(IERC8004Validation: ValidationRequest, ValidationResponse),
        },
        Binding {
            interface: "IERC8004Identity",
            contract: "TestIdentityRegistry",
            functions: IERC8004Identity::IERC8004IdentityCalls::SIGNATURES,
            errors: &[],
            events: IERC8004Identity::IERC8004IdentityEvents::SIGNATURES,
            returns: returns!(IERC8004Identity: register_0Call, register_1Call, register_2Call, setAgentURICall, getMetadataCall,
                setMetadataCall, getVersionCall),
            topics: topics!(IERC8004Identity: Registered, MetadataSet, URIUpdated),
        },
    ]
}

/// A parameter's canonical type, tuples expanded (`(address,uint256)[]`).
fn canonical(p: &Value) -> String {
    let ty = p["type"].as_str().unwrap_or("?");
    match ty.strip_prefix("tuple") {
        Some(suffix) => format!("({}){suffix}", list(&p["components"])),
        None => ty.to_string(),
    }
}

fn list(params: &Value) -> String {
    params.as_array().into_iter().flatten().map(canonical).collect::<Vec<_>>().join(",")
}

/// An ABI entry's signature, `name(types)`.
fn signature(e: &Value) -> String {
    format!("{}({})", e["name"].as_str().unwrap_or("?"), list(&e["inputs"]))
}

/// Compares every binding with the ABI solc produced for its contract (by contract name): each
/// function (with its return types), error and event (with its number of topics) the bindings
/// declare must be the contract's. The error names what to fix in this file.
pub fn check(abis: &BTreeMap<String, Value>) -> Result<()> {
    let mut problems = vec![];
    for b in bindings() {
        let Some(abi) = abis.get(b.contract).and_then(Value::as_array) else {
            problems.push(format!("{}: solc compiled no contract {}", b.interface, b.contract));
            continue;
        };
        let entries = |kind: &'static str| abi.iter().filter(move |e| e["type"] == kind);
        let mut missing = |kind: &'static str, sigs: &[&str]| {
            for s in sigs {
                if !entries(kind).any(|e| signature(e) == *s) {
                    problems.push(format!("{}: {} has no {kind} {s}", b.interface, b.contract));
                }
            }
        };
        missing("function", b.functions);
        missing("error", b.errors);
        missing("event", b.events);
        for (sig, ret) in &b.returns {
            if let Some(e) = entries("function").find(|e| signature(e) == *sig) {
                let got = format!("({})", list(&e["outputs"]));
                if got != *ret {
                    problems.push(format!("{}: {sig} returns {got} in {}, {ret} here", b.interface, b.contract));
                }
            }
        }
        for (sig, n) in &b.topics {
            if let Some(e) = entries("event").find(|e| signature(e) == *sig) {
                let indexed = e["inputs"].as_array().into_iter().flatten().filter(|i| i["indexed"] == true).count();
                let got = indexed + usize::from(e["anonymous"] != true);
                if got != *n {
                    problems.push(format!(
                        "{}: event {sig} has {got} topics in {}, {n} here (indexed parameters differ)",
                        b.interface, b.contract
                    ));
                }
            }
        }
        let declared = b.returns.len();
        if declared != b.functions.len() {
            problems.push(format!(
                "{}: bindings() lists the returns of {declared} of its {} functions",
                b.interface,
                b.functions.len()
            ));
        }
        if b.topics.len() != b.events.len() {
            problems.push(format!(
                "{}: bindings() lists the topics of {} of its {} events",
                b.interface,
                b.topics.len(),
                b.events.len()
            ));
        }
    }
    if !problems.is_empty() {
        bail!("oracle-demo/src/bindings.rs no longer matches the compiled contracts:\n  {}", problems.join("\n  "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_signatures_expand_tuples() {
        let e = json!({"type": "function", "name": "open", "inputs": [
            {"type": "tuple", "components": [{"type": "address"}, {"type": "uint64"}]},
            {"type": "tuple[]", "components": [{"type": "uint8"}, {"type": "tuple", "components": [{"type": "bytes32"}]}]},
            {"type": "bytes[]"}
        ]});
        assert_eq!(signature(&e), "open((address,uint64),(uint8,(bytes32))[],bytes[])");
        // What sol! says for the same shapes.
        assert_eq!(
            <IZkmlEscrow::openCall as SolCall>::SIGNATURE,
            "open((address,address,uint256,uint64,bytes32,bytes32),(uint256,uint256,uint8,bytes32,bytes32))"
        );
        assert_eq!(
            <<IZkmlSignedOracle::latestRoundCall as SolCall>::ReturnTuple<'static> as SolType>::SOL_NAME,
            "(uint80)"
        );
        assert_eq!(<<IZkmlEscrow::refundCall as SolCall>::ReturnTuple<'static> as SolType>::SOL_NAME, "()");
    }

    #[test]
    fn check_names_a_drifted_binding() {
        let mut abis: BTreeMap<String, Value> = BTreeMap::new();
        abis.insert(
            "ZkmlValidator".into(),
            json!([{"type": "function", "name": "resultOf", "inputs": [{"type": "bytes32"}], "outputs": [{"type": "bytes32"}, {"type": "bytes32"}]}]),
        );
        let e = check(&abis).unwrap_err().to_string();
        assert!(e.contains("IZkmlValidator: resultOf(bytes32) returns (bytes32,bytes32) in ZkmlValidator, (address,bytes32,bytes32) here"), "{e}");
        assert!(
            e.contains("ZkmlValidator has no function respond(uint256,address,bytes32,bytes,uint256[],string,bytes)"),
            "{e}"
        );
        assert!(e.contains("solc compiled no contract ZkmlSignedOracle"), "{e}");
    }
}
