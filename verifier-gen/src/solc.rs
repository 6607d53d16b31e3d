//! Compiles Solidity through solc's standard-JSON interface: a native `solc`, or the repository's
//! `script/solc` (the pinned solc-js), with one set of settings for every caller — the optimizer
//! at 200 runs and evm cancun as in foundry.toml, and no metadata trailer.
//!
//! Without the trailer (the CBOR hash of the metadata, which holds the unit's path and the
//! project's remappings) the runtime code depends only on the source text, the compiler version
//! and these settings: anyone can rebuild a generated verifier and get the code hash that
//! `zkml-gen solidity --solc` prints and that the oracle's `proposeUpgrade` pins. forge builds
//! the same code with `--no-metadata`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use alloy_primitives::{B256, keccak256};
use serde_json::{Value, json};

/// Why solc could not compile the sources, or what it made lacks what was asked for.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SolcError {
    /// solc could not be started.
    #[error("cannot run {solc}{hint}")]
    Run {
        /// The solc it ran.
        solc: String,
        /// What to do about it.
        hint: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Writing the input to solc or reading its output failed.
    #[error("talking to {solc} through its standard input and output")]
    Pipe {
        /// The solc it ran.
        solc: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// solc exited with an error.
    #[error("{solc} failed: {stderr}")]
    Failed {
        /// The solc it ran.
        solc: String,
        /// What it said.
        stderr: String,
    },
    /// solc's output is not standard JSON.
    #[error("{solc} printed no standard JSON")]
    NotJson {
        /// The solc it ran.
        solc: String,
        /// The parser's reason.
        #[source]
        source: serde_json::Error,
    },
    /// The sources do not compile: solc's error messages.
    #[error("Solidity compilation failed:\n{}", .0.join("\n"))]
    Compilation(Vec<String>),
    /// solc compiled nothing.
    #[error("no contracts in solc's output")]
    NoContracts,
    /// A bytecode field that is not hex.
    #[error("solc's {key} of {name} is not hex")]
    NotHex {
        /// The field.
        key: String,
        /// The contract.
        name: String,
    },
    /// Two contracts of one name in different units.
    #[error("two contracts named {name} (one in {unit}): artifacts are looked up by name")]
    DuplicateName {
        /// The name.
        name: String,
        /// One of the units.
        unit: String,
    },
    /// No contract of that name was compiled.
    #[error("solc compiled no contract {0}")]
    NoContract(String),
    /// The contract has no bytecode.
    #[error("solc produced no bytecode for {0} (an interface or an abstract contract)")]
    NoBytecode(String),
    /// `solc --version` said nothing.
    #[error("solc --version printed nothing")]
    NoVersion,
}

type Result<T> = std::result::Result<T, SolcError>;

/// The settings every compile here uses, in words (for what the CLI prints).
pub const SETTINGS: &str = "optimizer 200 runs, evm cancun, no metadata (forge --no-metadata)";

/// One compiled contract.
pub struct Contract {
    /// Its JSON ABI.
    pub abi: Value,
    /// Creation bytecode; empty for an interface or an abstract contract.
    pub creation: Vec<u8>,
    /// Runtime (deployed) bytecode, with no immutables to fill in for the contracts zkml generates.
    pub runtime: Vec<u8>,
}

impl Contract {
    /// keccak256 of the runtime code: what `EXTCODEHASH` returns once it is deployed.
    pub fn code_hash(&self) -> B256 {
        keccak256(&self.runtime)
    }
}

/// What solc made of the sources, by contract name.
#[derive(Default)]
pub struct Artifacts {
    /// Each contract, by name.
    pub contracts: BTreeMap<String, Contract>,
}

impl Artifacts {
    /// The contract `name`.
    pub fn get(&self, name: &str) -> Result<&Contract> {
        self.contracts.get(name).ok_or_else(|| SolcError::NoContract(name.to_string()))
    }

    /// The creation bytecode of `name`, which must be deployable.
    pub fn code(&self, name: &str) -> Result<Vec<u8>> {
        let c = self.get(name)?;
        if c.creation.is_empty() {
            return Err(SolcError::NoBytecode(name.to_string()));
        }
        Ok(c.creation.clone())
    }

    /// Every contract's ABI, by name.
    pub fn abis(&self) -> BTreeMap<String, Value> {
        self.contracts.iter().map(|(n, c)| (n.clone(), c.abi.clone())).collect()
    }
}

/// Compiles `sources` (unit name, Solidity text) as one compilation unit with `solc`. Imports that
/// are not among the sources are read from under `base` (unit names are paths relative to it; the
/// OpenZeppelin remapping points into its node_modules/). Contract names must be unique.
pub fn compile(solc: &Path, base: &Path, sources: &[(String, String)]) -> Result<Artifacts> {
    let srcs: serde_json::Map<_, _> =
        sources.iter().map(|(name, text)| (name.clone(), json!({ "content": text }))).collect();
    let input = json!({
        "language": "Solidity",
        "sources": srcs,
        "settings": {
            "optimizer": { "enabled": true, "runs": 200 },
            "evmVersion": "cancun",
            "metadata": { "appendCBOR": false, "bytecodeHash": "none" },
            "remappings": ["@openzeppelin/contracts/=node_modules/@openzeppelin/contracts/"],
            "outputSelection": { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } }
        }
    });
    let base_s = base.display().to_string();
    let shown = || solc.display().to_string();
    let pipe = |source| SolcError::Pipe { solc: shown(), source };
    let mut child = Command::new(solc)
        .args(["--base-path", &base_s, "--allow-paths", &format!("{base_s},{base_s}/node_modules"), "--standard-json"])
        .current_dir(base)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| SolcError::Run { solc: shown(), hint: " (script/solc needs node >= 20)", source })?;
    let mut stdin = child.stdin.take().ok_or_else(|| pipe(std::io::Error::other("no standard input")))?;
    stdin.write_all(input.to_string().as_bytes()).map_err(pipe)?;
    drop(stdin);
    let out = child.wait_with_output().map_err(pipe)?;
    if !out.status.success() {
        return Err(SolcError::Failed {
            solc: shown(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    let v: Value =
        serde_json::from_slice(&out.stdout).map_err(|source| SolcError::NotJson { solc: shown(), source })?;
    let errors: Vec<String> = v["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["severity"] == "error")
        .map(|e| e["formattedMessage"].as_str().unwrap_or("?").to_string())
        .collect();
    if !errors.is_empty() {
        return Err(SolcError::Compilation(errors));
    }
    let mut artifacts = Artifacts::default();
    for (unit, contracts) in v["contracts"].as_object().ok_or(SolcError::NoContracts)? {
        for (name, c) in contracts.as_object().into_iter().flatten() {
            let bytes = |key: &str| {
                alloy_primitives::hex::decode(c["evm"][key]["object"].as_str().unwrap_or(""))
                    .map_err(|_| SolcError::NotHex { key: key.to_string(), name: name.clone() })
            };
            let contract =
                Contract { abi: c["abi"].clone(), creation: bytes("bytecode")?, runtime: bytes("deployedBytecode")? };
            if artifacts.contracts.insert(name.clone(), contract).is_some() {
                return Err(SolcError::DuplicateName { name: name.clone(), unit: unit.clone() });
            }
        }
    }
    Ok(artifacts)
}

/// The version `solc --version` reports (its last line, e.g. "Version: 0.8.28+commit.7893614a…").
pub fn version(solc: &Path) -> Result<String> {
    let shown = || solc.display().to_string();
    let out = Command::new(solc).arg("--version").output().map_err(|source| SolcError::Run {
        solc: shown(),
        hint: "",
        source,
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(SolcError::Failed { solc: format!("{} --version", shown()), stderr });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().rev().find(|l| !l.trim().is_empty()).map(|l| l.trim().to_string()).ok_or(SolcError::NoVersion)
}
