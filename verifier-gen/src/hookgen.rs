//! `zkml-gen hooks`: per-model hook wrappers and forge deploy scripts, rendered from
//! `templates/hooks/`, for a compiled model directory (`zkml compile` + `zkml setup`: `vk.bin` and
//! `settings.json`, whose `model_id` and `public_inputs` give the model id and the packing).

use std::path::{Path, PathBuf};

use alloy_primitives::U256;
use askama::Template;
use zkml::artifact::Settings;

use crate::solidity;

/// Why `zkml-gen hooks` writes no hook for a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HookError {
    #[error("settings.json: public_inputs are {names:?}; the hooks need [model_id, context, input, output]")]
    Layout { names: Vec<String> },
    #[error(transparent)]
    Settings(#[from] crate::model::SettingsError),
    #[error("settings.json: public input {name:?} is not packed")]
    NotPacked { name: String },
    #[error("--name {name:?} is not a valid Solidity identifier")]
    Name { name: String },
    #[error("the oracle reports one signed output value; this model outputs {values} value(s) in {count} element(s)")]
    OracleOutput { values: usize, count: usize },
    #[error("the oracle needs an output scale in 0..=38 fractional bits (got {scale})")]
    OracleScale { scale: i32 },
    #[error(
        "--decimals {decimals} must be at least the output's {scale} fractional bits (so answers are exact) and at \
         most 38"
    )]
    Decimals { decimals: u8, scale: i32 },
    #[error("the oracle takes 1..=255 signed input values (this model has {values}, signed: {signed})")]
    OracleInput { values: usize, signed: bool },
    #[error("--description must not contain quotes, backslashes or newlines")]
    Description,
    #[error("cannot render a hook template")]
    Template(#[from] askama::Error),
    #[error(transparent)]
    Artifact(#[from] zkml::artifact::ArtifactError),
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),
    #[error("vk.bin has {key} public inputs but settings.json lays out {layout}")]
    PublicInputs { key: usize, layout: usize },
    #[error(transparent)]
    Render(#[from] solidity::RenderError),
    #[error(transparent)]
    Write(#[from] crate::io::WriteError),
}

/// Which hook to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    Oracle,
    Erc8004,
    X402,
}

/// One packed tensor of the public inputs, as `settings.json` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packed {
    /// Field elements in the public inputs.
    pub count: usize,
    /// Values packed into them.
    pub values: usize,
    pub slot_bits: u32,
    pub signed: bool,
    /// Values are round(x * 2^scale).
    pub scale: i32,
}

/// What the hooks need to know about a model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelInfo {
    pub model_id: U256,
    pub input: Packed,
    pub output: Packed,
    /// Human-readable name (the output tensor's name).
    pub output_name: String,
}

/// What the hooks need of a model's settings (as `zkml compile` writes them): the model id and
/// the public inputs `[model_id, context, input, output]`, the last two packed. The layout is
/// checked as the verifier's is ([`crate::model::ModelLayout::from_settings`]).
pub fn model_info(settings: &Settings) -> Result<ModelInfo, HookError> {
    let names: Vec<&str> = settings.public_inputs.iter().map(|e| e.name.as_str()).collect();
    if names != ["model_id", "context", "input", "output"] {
        return Err(HookError::Layout { names: names.iter().map(|n| n.to_string()).collect() });
    }
    let layout = crate::model::ModelLayout::from_settings(settings)?;
    let packed = |e: &crate::model::Entry| -> Result<Packed, HookError> {
        let k = e.packing.as_ref().ok_or_else(|| HookError::NotPacked { name: e.name.clone() })?;
        Ok(Packed { count: e.count, values: k.values, slot_bits: k.slot_bits, signed: k.signed, scale: k.scale })
    };
    Ok(ModelInfo {
        model_id: layout.model_id,
        input: packed(&layout.entries[2])?,
        output: packed(&layout.entries[3])?,
        output_name: settings.output.name.clone(),
    })
}

/// Oracle options.
#[derive(Clone, Debug)]
pub struct OracleOptions {
    pub decimals: u8,
    pub description: Option<String>,
}

#[derive(Template)]
#[template(path = "hooks/Oracle.sol", escape = "none")]
struct OracleTemplate<'a> {
    generator_version: &'static str,
    name: &'a str,
    model_id: String,
    model_id_hex: String,
    description: String,
    num_inputs: usize,
    input_bits: u32,
    output_bits: u32,
    frac_bits: u32,
    decimals: u8,
}

#[derive(Template)]
#[template(path = "hooks/DeployOracle.s.sol", escape = "none")]
struct DeployOracleTemplate<'a> {
    generator_version: &'static str,
    name: &'a str,
}

#[derive(Template)]
#[template(path = "hooks/DeployValidator.s.sol", escape = "none")]
struct DeployValidatorTemplate<'a> {
    generator_version: &'static str,
    name: &'a str,
    model_id: String,
    model_id_hex: String,
    input_words: usize,
}

#[derive(Template)]
#[template(path = "hooks/DeployEscrow.s.sol", escape = "none")]
struct DeployEscrowTemplate<'a> {
    generator_version: &'static str,
    name: &'a str,
    model_id: String,
    model_id_hex: String,
    input_words: usize,
}

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn hex_id(m: &ModelInfo) -> String {
    format!("{:#066x}", m.model_id)
}

/// The files of one hook: (file name, contents). The verifier itself (`{name}Verifier.sol`) is
/// rendered by [`generate`], which has the verifying key.
pub fn render(
    hook: Hook,
    name: &str,
    m: &ModelInfo,
    oracle: &OracleOptions,
) -> Result<Vec<(String, String)>, HookError> {
    if !solidity::is_valid_contract_name(name) {
        return Err(HookError::Name { name: name.to_string() });
    }
    Ok(match hook {
        Hook::Oracle => {
            let o = &m.output;
            if o.values != 1 || o.count != 1 || !o.signed {
                return Err(HookError::OracleOutput { values: o.values, count: o.count });
            }
            if o.scale < 0 || o.scale > 38 || o.slot_bits > 255 {
                return Err(HookError::OracleScale { scale: o.scale });
            }
            if (oracle.decimals as i32) < o.scale || oracle.decimals > 38 {
                return Err(HookError::Decimals { decimals: oracle.decimals, scale: o.scale });
            }
            let i = &m.input;
            if !i.signed || i.values == 0 || i.values > 255 || i.slot_bits > 255 {
                return Err(HookError::OracleInput { values: i.values, signed: i.signed });
            }
            let description = oracle.description.clone().unwrap_or_else(|| format!("zkml {name} / {}", m.output_name));
            if description.contains(['"', '\\', '\n']) {
                return Err(HookError::Description);
            }
            let oracle_src = OracleTemplate {
                generator_version: VERSION,
                name,
                model_id: m.model_id.to_string(),
                model_id_hex: hex_id(m),
                description,
                num_inputs: i.values,
                input_bits: i.slot_bits,
                output_bits: o.slot_bits,
                frac_bits: o.scale as u32,
                decimals: oracle.decimals,
            }
            .render()?;
            let deploy = DeployOracleTemplate { generator_version: VERSION, name }.render()?;
            vec![(format!("{name}Oracle.sol"), oracle_src), (format!("Deploy{name}Oracle.s.sol"), deploy)]
        }
        Hook::Erc8004 => vec![(
            format!("Deploy{name}Validator.s.sol"),
            DeployValidatorTemplate {
                generator_version: VERSION,
                name,
                model_id: m.model_id.to_string(),
                model_id_hex: hex_id(m),
                input_words: m.input.count,
            }
            .render()?,
        )],
        Hook::X402 => vec![(
            format!("Deploy{name}Escrow.s.sol"),
            DeployEscrowTemplate {
                generator_version: VERSION,
                name,
                model_id: m.model_id.to_string(),
                model_id_hex: hex_id(m),
                input_words: m.input.count,
            }
            .render()?,
        )],
    })
}

/// `zkml-gen hooks DIR --<hook> --out OUT`: reads DIR/vk.bin and DIR/settings.json, writes
/// `{name}Verifier.sol` and the hook's files into OUT; returns the paths written. Keys someone
/// can forge proofs for are refused unless `allow_dev_keys` ([`crate::keys`]).
pub fn generate(
    dir: &Path,
    hook: Hook,
    out: &Path,
    name: &str,
    oracle: &OracleOptions,
    allow_dev_keys: bool,
) -> Result<Vec<PathBuf>, HookError> {
    let info = model_info(&zkml::artifact::read_settings(dir)?)?;
    let key = crate::keys::VerifierKey::load(dir, allow_dev_keys)?;
    let expected = 2 + info.input.count + info.output.count;
    if key.num_public() != expected {
        return Err(HookError::PublicInputs { key: key.num_public(), layout: expected });
    }
    let mut files = render(hook, name, &info, oracle)?;
    let verifier = key.solidity(&format!("{name}Verifier"), Default::default())?;
    files.insert(0, (format!("{name}Verifier.sol"), verifier));
    Ok(crate::io::write_files(out, files)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::settings_of;
    use serde_json::json;

    fn settings() -> serde_json::Value {
        json!({
            "model_id": "12345",
            "output": {"name": "price", "shape": [1], "scale": 8, "visibility": "public"},
            "public_inputs": [
                {"name": "model_id", "index": 0, "count": 1},
                {"name": "context", "index": 1, "count": 1},
                {"name": "input", "index": 2, "count": 1,
                 "packing": {"values": 2, "per_element": 15, "slot_bits": 16, "signed": true, "scale": 6}},
                {"name": "output", "index": 3, "count": 1,
                 "packing": {"values": 1, "per_element": 7, "slot_bits": 34, "signed": true, "scale": 8}},
            ],
        })
    }

    #[test]
    fn reads_settings() {
        let m = model_info(&settings_of(settings())).unwrap();
        assert_eq!(m.model_id, U256::from(12345u64));
        assert_eq!(m.input.values, 2);
        assert_eq!(m.output.slot_bits, 34);
        assert_eq!(m.output.scale, 8);
        let mut bad = settings();
        bad["public_inputs"][1]["name"] = json!("input");
        let e = model_info(&settings_of(bad)).unwrap_err();
        assert!(matches!(e, HookError::Layout { .. }) && e.to_string().contains("[model_id, context, input, output]"));
        let mut unpacked = settings();
        unpacked["public_inputs"][2].as_object_mut().unwrap().remove("packing");
        assert!(matches!(model_info(&settings_of(unpacked)), Err(HookError::NotPacked { name }) if name == "input"));
    }

    #[test]
    fn renders_each_hook() {
        let m = model_info(&settings_of(settings())).unwrap();
        let o = OracleOptions { decimals: 8, description: None };
        let f = render(Hook::Oracle, "PriceMlp", &m, &o).unwrap();
        assert_eq!(f[0].0, "PriceMlpOracle.sol");
        assert!(f[0].1.contains("contract PriceMlpOracle is ZkmlSignedOracle"));
        assert!(f[0].1.contains("outputFracBits: 8"));
        assert!(f[0].1.contains("int256[2] calldata features"));
        assert!(f[0].1.contains("\"zkml PriceMlp / price\""));
        assert!(f[1].1.contains("contract DeployPriceMlpOracle is Script"));
        assert!(f[1].1.contains("import {PriceMlpVerifier} from \"./PriceMlpVerifier.sol\";"));
        let f = render(Hook::Erc8004, "PriceMlp", &m, &o).unwrap();
        assert!(f[0].1.contains("uint256 public constant MODEL_ID = 12345;"));
        let f = render(Hook::X402, "PriceMlp", &m, &o).unwrap();
        assert!(f[0].1.contains("new ZkmlEscrow("));
        for (_, text) in f {
            assert!(!text.contains("{{") && !text.contains("{%"));
        }
        // Errors, each its own variant: decimals below the output scale, bad name, several
        // outputs, a scale past 38 bits, unsigned inputs, a quote in the description.
        let low = OracleOptions { decimals: 6, description: None };
        let e = render(Hook::Oracle, "P", &m, &low).unwrap_err();
        assert!(matches!(e, HookError::Decimals { decimals: 6, scale: 8 }) && e.to_string().contains("--decimals"));
        assert!(matches!(render(Hook::Oracle, "1P", &m, &o), Err(HookError::Name { .. })));
        let mut many = m.clone();
        many.output.values = 3;
        let e = render(Hook::Oracle, "P", &many, &o).unwrap_err();
        assert!(matches!(e, HookError::OracleOutput { values: 3, .. }) && e.to_string().contains("one signed output"));
        let mut wide = m.clone();
        wide.output.scale = 39;
        assert!(matches!(render(Hook::Oracle, "P", &wide, &o), Err(HookError::OracleScale { scale: 39 })));
        let mut unsigned = m.clone();
        unsigned.input.signed = false;
        assert!(matches!(render(Hook::Oracle, "P", &unsigned, &o), Err(HookError::OracleInput { signed: false, .. })));
        let quoted = OracleOptions { decimals: 8, description: Some("a \"b\"".into()) };
        assert!(matches!(render(Hook::Oracle, "P", &m, &quoted), Err(HookError::Description)));
    }
}
