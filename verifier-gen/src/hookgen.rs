//! `zkml-gen hooks`: per-model hook wrappers and forge deploy scripts, rendered from
//! `templates/hooks/`, for a compiled model directory (`zkml compile` + `zkml setup`: `vk.bin` and
//! `settings.json`, whose `model_id` and `public_inputs` give the model id and the packing).

use std::path::{Path, PathBuf};

use alloy_primitives::U256;
use askama::Template;
use zkml::artifact::Settings;

use crate::{ident, solidity};

/// Why `zkml-gen hooks` writes no hook for a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HookError {
    /// The public inputs are not the four the hooks read (their names).
    #[error("settings.json: public_inputs are {names:?}; the hooks need [model_id, context, input, output]")]
    Layout {
        /// The layout's names, in order.
        names: Vec<String>,
    },
    /// The settings make no verifier layout.
    #[error(transparent)]
    Settings(#[from] crate::model::SettingsError),
    /// A tensor the hooks decode is not packed (hashed or private).
    #[error("settings.json: public input {name:?} is not packed")]
    NotPacked {
        /// The tensor.
        name: String,
    },
    /// `--name` is no Solidity identifier.
    #[error("--name {name:?} is not a valid Solidity identifier")]
    Name {
        /// The name given.
        name: String,
    },
    /// The oracle reports one value; the model outputs more.
    #[error("the oracle reports one signed output value; this model outputs {values} value(s) in {count} element(s)")]
    OracleOutput {
        /// The output's values.
        values: usize,
        /// The field elements they are packed in.
        count: usize,
    },
    /// An output scale the oracle's decimals cannot express.
    #[error("the oracle needs an output scale in 0..=38 fractional bits (got {scale})")]
    OracleScale {
        /// The output's scale.
        scale: i32,
    },
    /// `--decimals` below the output's precision or above 38.
    #[error(
        "--decimals {decimals} must be at least the output's {scale} fractional bits (so answers are exact) and at \
         most 38"
    )]
    Decimals {
        /// The decimals asked for.
        decimals: u8,
        /// The output's scale.
        scale: i32,
    },
    /// An input the oracle cannot take.
    #[error("the oracle takes 1..=255 signed input values (this model has {values}, signed: {signed})")]
    OracleInput {
        /// The input's values.
        values: usize,
        /// Whether they are signed.
        signed: bool,
    },
    /// A description that would break out of its Solidity string.
    #[error("--description must not contain quotes, backslashes or newlines")]
    Description,
    /// A template failed to render.
    #[error("cannot render a hook template")]
    Template(#[from] askama::Error),
    /// The model directory could not be read.
    #[error(transparent)]
    Artifact(#[from] zkml::artifact::ArtifactError),
    /// The keys are refused.
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),
    /// The key and the settings disagree on the public inputs' number.
    #[error("vk.bin has {key} public inputs but settings.json lays out {layout}")]
    PublicInputs {
        /// The key's.
        key: usize,
        /// The settings'.
        layout: usize,
    },
    /// The verifier could not be rendered.
    #[error(transparent)]
    Render(#[from] solidity::RenderError),
    /// A file could not be written.
    #[error(transparent)]
    Write(#[from] crate::io::WriteError),
}

/// Which hook to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    /// A Chainlink-compatible price oracle fed by proofs.
    Oracle,
    /// An ERC-8004 validator.
    Erc8004,
    /// An x402 pay-on-proof escrow.
    X402,
}

/// One packed tensor of the public inputs, as `settings.json` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packed {
    /// Field elements in the public inputs.
    pub count: usize,
    /// Values packed into them.
    pub values: usize,
    /// Bits per value's slot.
    pub slot_bits: u32,
    /// Whether values are signed (two's complement in their slots).
    pub signed: bool,
    /// Values are round(x * 2^scale).
    pub scale: i32,
}

/// What the hooks need to know about a model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelInfo {
    /// The model id, public input 0.
    pub model_id: U256,
    /// The input tensor.
    pub input: Packed,
    /// The output tensor.
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
    /// The answers' decimals.
    pub decimals: u8,
    /// The feed's description (default: `zkml NAME / OUTPUT`, the hook's and the output's names).
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
    if !ident::is_valid(name) {
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
