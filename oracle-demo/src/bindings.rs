//! Typed alloy bindings of the contracts the demo deploys and calls, read with `sol!` from what
//! solc holds the contracts to: the interface files they inherit (IZkmlValidator.sol,
//! ICollateralMonitor.sol and IERC8004.sol here; IZkmlVerifier.sol and IZkmlEscrow.sol bound
//! once, by zkml-serve), or, for ZkmlSignedOracle and TestUSDC, whose functions and errors come
//! partly from OpenZeppelin bases that `sol!` cannot follow from a source file, the ABI solc
//! compiles for them (oracle-demo/abi/). None can drift silently: [`check`] compares every
//! signature, return type and event topic count of the interfaces, and every entry of the ABI
//! files, with the ABI solc compiles from the Solidity in contracts/ and oracle-demo/contracts/;
//! the demo runs it before it deploys.
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
    /// ZkmlValidator's EIP-712 struct: the client asks agent `agentId` to validate `requestHash`.
    #[derive(Debug)]
    struct ValidationRequest {
        uint256 agentId;
        bytes32 requestHash;
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
mod oracle {
    alloy::sol!(
        #[sol(rpc, all_derives)]
        IZkmlSignedOracle,
        "abi/ZkmlSignedOracle.json"
    );
}
/// contracts/ZkmlSignedOracle.sol (on contracts/ZkmlOracle.sol, whose `Config` and `ModelIO` its
/// constructor takes), bound from its ABI ([`ABI_FILES`]).
pub use oracle::{IZkmlSignedOracle, ZkmlOracle};

mod usdc {
    alloy::sol!(
        #[sol(rpc, all_derives)]
        ITestUSDC,
        "abi/TestUSDC.json"
    );
}
/// contracts/testing/TestUSDC.sol, a USDC-style EIP-3009 token (6 decimals, anyone may mint),
/// bound from its ABI ([`ABI_FILES`]).
pub use usdc::ITestUSDC;

/// A contract bound from the ABI solc compiles for it.
pub struct AbiFile {
    /// The contract's name.
    pub contract: &'static str,
    /// Its source, from the repository root.
    pub source: &'static str,
    /// The ABI file, from the repository root.
    pub file: &'static str,
    /// The ABI file's text, as `sol!` read it.
    pub text: &'static str,
}

/// The contracts bound from the ABI solc compiles for them (oracle-demo/abi/): those whose
/// functions and errors come from OpenZeppelin bases, which `sol!` cannot follow from a source
/// file.
pub const ABI_FILES: [AbiFile; 2] = [
    AbiFile {
        contract: "ZkmlSignedOracle",
        source: "contracts/ZkmlSignedOracle.sol",
        file: "oracle-demo/abi/ZkmlSignedOracle.json",
        text: include_str!("../abi/ZkmlSignedOracle.json"),
    },
    AbiFile {
        contract: "TestUSDC",
        source: "contracts/testing/TestUSDC.sol",
        file: "oracle-demo/abi/TestUSDC.json",
        text: include_str!("../abi/TestUSDC.json"),
    },
];

/// How to write oracle-demo/abi/ again from the contracts (the test that compares them).
pub const WRITE_ABI_FILES: &str = "ZKML_WRITE_ABI=1 cargo test --workspace --test demo -- abi_files";

mod monitor {
    alloy::sol!(
        #[sol(rpc, all_derives)]
        "contracts/ICollateralMonitor.sol"
    );
}
/// oracle-demo/contracts/CollateralMonitor.sol, the feed's consumer, bound from the interface it
/// inherits (oracle-demo/contracts/ICollateralMonitor.sol).
pub use monitor::ICollateralMonitor;

mod validator {
    alloy::sol!(
        #[sol(rpc, all_derives)]
        "../contracts/interfaces/IZkmlValidator.sol"
    );
}
/// contracts/ZkmlValidator.sol, the ERC-8004 validator backed by zkml proofs, bound from the
/// interface it inherits (contracts/interfaces/IZkmlValidator.sol).
pub use validator::IZkmlValidator;

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
    vec![
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
            returns: returns!(ICollateralMonitor: checkCall, collateralCall, debtCall, liquidationRatioBpsCall, maxAgeCall, lastRoundCall,
                lastPriceCall, lastValueCall, healthyCall, checksCall),
            topics: topics!(ICollateralMonitor: Checked),
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
            returns: returns!(IZkmlValidator: respondCall, requestHashOfCall, requestDigestCall, validatedAtCall, resultOfCall,
                registryCall, verifierCall, modelIdCall, numInputWordsCall),
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

/// An ABI entry as the messages name it: `function name(types)`, or its kind alone.
fn entry_name(e: &Value) -> String {
    let kind = e["type"].as_str().unwrap_or("?");
    if e.get("name").is_some() { format!("{kind} {}", signature(e)) } else { kind.to_string() }
}

/// What differs between an ABI file and the ABI solc compiled: the entries only one of them has
/// (an entry that changed is in both lists, by name).
fn abi_differences(file: &[Value], compiled: &[Value]) -> Vec<String> {
    let only = |a: &[Value], b: &[Value], side: &str| {
        a.iter().filter(|e| !b.contains(e)).map(|e| format!("{} only {side}", entry_name(e))).collect::<Vec<_>>()
    };
    [only(file, compiled, "in the file"), only(compiled, file, "in the contract")].concat()
}

/// What differs between each of [`ABI_FILES`] and the ABI solc produced for its contract.
pub fn check_abi_files(abis: &BTreeMap<String, Value>) -> Result<Vec<String>> {
    let mut problems = vec![];
    for AbiFile { contract, file, text, .. } in ABI_FILES {
        let Some(compiled) = abis.get(contract).and_then(Value::as_array) else {
            problems.push(format!("{file}: solc compiled no contract {contract}"));
            continue;
        };
        let ours: Vec<Value> = serde_json::from_str(text)?;
        let differences = abi_differences(&ours, compiled);
        if !differences.is_empty() {
            problems.push(format!(
                "{file} is not the ABI of {contract} ({}); write it again: {WRITE_ABI_FILES}",
                differences.join(", ")
            ));
        }
    }
    Ok(problems)
}

/// Compares every binding with the ABI solc produced for its contract (by contract name): each
/// function (with its return types), error and event (with its number of topics) the interface
/// bindings declare must be the contract's, and each ABI file (`ABI_FILES`) must be its ABI,
/// entry for entry. The error names what to fix.
pub fn check(abis: &BTreeMap<String, Value>) -> Result<()> {
    let mut problems = check_abi_files(abis)?;
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
        bail!(
            "the demo's bindings (oracle-demo/src/bindings.rs) no longer match the compiled contracts:\n  {}",
            problems.join("\n  ")
        );
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

    #[test]
    fn check_names_a_drifted_abi_file() {
        let mut usdc: Vec<Value> = serde_json::from_str(ABI_FILES[1].text).unwrap();
        usdc.retain(|e| e["name"] != "mint");
        usdc.push(json!({"type": "function", "name": "burn", "inputs": [{"type": "uint256"}], "outputs": []}));
        let abis = BTreeMap::from([("TestUSDC".to_string(), Value::Array(usdc))]);
        let e = check_abi_files(&abis).unwrap().join("\n");
        assert!(
            e.contains("oracle-demo/abi/TestUSDC.json is not the ABI of TestUSDC (function mint(address,uint256) only in the file, function burn(uint256) only in the contract)"),
            "{e}"
        );
        assert!(e.contains(WRITE_ABI_FILES), "{e}");
        assert!(e.contains("solc compiled no contract ZkmlSignedOracle"), "{e}");
    }
}
