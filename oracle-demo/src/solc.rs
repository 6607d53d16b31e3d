//! Compiles the demo's contracts with the pinned solc-js (`script/solc --standard-json`), with
//! foundry.toml's settings (optimizer 200 runs, evm cancun, the OpenZeppelin remapping).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// What solc made of the sources, by contract name.
#[derive(Default)]
pub struct Artifacts {
    /// Creation bytecode of each contract that has one (not of interfaces, abstract contracts).
    pub codes: BTreeMap<String, Vec<u8>>,
    /// The JSON ABI of every contract.
    pub abis: BTreeMap<String, Value>,
}

impl Artifacts {
    /// The creation bytecode of `name`.
    pub fn code(&self, name: &str) -> Result<Vec<u8>> {
        self.codes.get(name).cloned().with_context(|| format!("solc produced no bytecode for {name}"))
    }
}

/// `sources`: (unit name, Solidity text). Imports not among them are read by script/solc from the
/// repository (unit names are paths relative to the repo root).
pub fn compile(root: &Path, sources: &[(String, String)]) -> Result<Artifacts> {
    let mut srcs = serde_json::Map::new();
    for (name, text) in sources {
        srcs.insert(name.clone(), json!({ "content": text }));
    }
    let input = json!({
        "language": "Solidity",
        "sources": srcs,
        "settings": {
            "optimizer": { "enabled": true, "runs": 200 },
            "evmVersion": "cancun",
            "remappings": ["@openzeppelin/contracts/=node_modules/@openzeppelin/contracts/"],
            "outputSelection": { "*": { "*": ["abi", "evm.bytecode.object"] } }
        }
    });
    crate::anvil::ensure_toolchain(root)?;
    let solc = root.join("script/solc");
    let root_s = root.display().to_string();
    let mut child = Command::new(&solc)
        .args(["--base-path", &root_s, "--allow-paths", &format!("{root_s},{root_s}/node_modules"), "--standard-json"])
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {} (needs node >= 20)", solc.display()))?;
    child.stdin.take().expect("piped").write_all(input.to_string().as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("script/solc failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let v: Value = serde_json::from_slice(&out.stdout).context("script/solc printed no standard JSON")?;
    let errors: Vec<String> = v["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["severity"] == "error")
        .map(|e| e["formattedMessage"].as_str().unwrap_or("?").to_string())
        .collect();
    if !errors.is_empty() {
        bail!("Solidity compilation failed:\n{}", errors.join("\n"));
    }
    let mut out = Artifacts::default();
    for (_unit, contracts) in v["contracts"].as_object().context("no contracts in solc output")? {
        for (name, c) in contracts.as_object().into_iter().flatten() {
            let hex_code = c["evm"]["bytecode"]["object"].as_str().unwrap_or("");
            if !hex_code.is_empty() {
                out.codes.insert(name.clone(), alloy::primitives::hex::decode(hex_code).context("solc bytecode hex")?);
            }
            out.abis.insert(name.clone(), c["abi"].clone());
        }
    }
    Ok(out)
}
