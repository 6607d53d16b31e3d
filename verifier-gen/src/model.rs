//! A compiled model's public inputs, as `zkml compile` lays them out in `settings.json`
//! (`public_inputs: [{name, index, count, packing?}]`): `[model_id, context, input…, output…]`,
//! where a public tensor is packed (`packing`: `⌊253 / slot_bits⌋` values per field element,
//! value i at bit offset `(i % per_element) · slot_bits` of element `i / per_element`, a signed
//! value v stored as `v + 2^(slot_bits − 1)`, as `prover/src/pack.rs`), a hashed tensor is one
//! commitment and a private tensor is absent.
//!
//! From it come the verifier's typed entry point, e.g. for price_mlp
//! `verify(bytes proof, uint256 context, int256[16] input, int256 output)`, and its calldata.

#![warn(missing_docs)]

use std::path::Path;

use alloy_primitives::{Bytes, I256, U256};
use alloy_sol_types::SolValue;
use ark_bn254::{Bn254, Fr, G1Affine, G2Affine};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::PrimeField;
use ark_groth16::VerifyingKey;
use zkml::artifact::Settings;
use zkml::wrap::Scheme;

use crate::calldata::{encode_proof, fr_to_u256};
use crate::io::IoError;

/// What is wrong with settings.json's public-input layout.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// `model_id` does not parse.
    #[error("settings.json: model_id is not a decimal or 0x number")]
    ModelId,
    /// `model_id` is not a field element.
    #[error("settings.json: model_id is not below r")]
    ModelIdRange,
    /// An entry does not start where the previous one ends.
    #[error("settings.json: public input {name:?} starts at {index}, expected {expected}")]
    Start {
        /// The entry.
        name: String,
        /// Where it starts.
        index: usize,
        /// Where it should.
        expected: usize,
    },
    /// An entry of no public inputs.
    #[error("settings.json: public input {name:?} has count 0")]
    Empty {
        /// The entry.
        name: String,
    },
    /// A name the typed entry point cannot take as a parameter name.
    #[error("settings.json: public input name {name:?} does not make a Solidity identifier")]
    Identifier {
        /// The entry.
        name: String,
    },
    /// A slot width outside 1..=`zkml::pack::MAX_BITS`.
    #[error("settings.json: {name:?} has slot_bits {bits}")]
    SlotBits {
        /// The entry.
        name: String,
        /// Its slot width.
        bits: u32,
    },
    /// A packing whose values per element do not follow from its slot width.
    #[error("settings.json: {name:?} packs {per_element} values per element; {bits}-bit slots give {expected}")]
    PerElement {
        /// The entry.
        name: String,
        /// Values per element it records.
        per_element: usize,
        /// Its slot width.
        bits: u32,
        /// Values per element that width gives.
        expected: usize,
    },
    /// A packing whose values do not fill its count of elements.
    #[error("settings.json: {name:?} packs {values} values into {count} elements")]
    Values {
        /// The entry.
        name: String,
        /// Its values.
        values: usize,
        /// Its public inputs.
        count: usize,
    },
    /// The layout does not start with `model_id` and `context`, one input each.
    #[error("settings.json: public_inputs are {names:?}; expected [model_id, context, ...]")]
    Order {
        /// The entries' names, in order.
        names: Vec<String>,
    },
}

/// Why a model directory's keys cannot be used, or a proof's public inputs are not the model's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// settings.json or vk.json could not be read.
    #[error(transparent)]
    Artifact(#[from] zkml::artifact::ArtifactError),
    /// settings.json's layout is refused.
    #[error("in {path}")]
    Settings {
        /// The settings file.
        path: String,
        /// What is wrong with it.
        #[source]
        source: SettingsError,
    },
    /// The directory has no keys.
    #[error("{path} does not exist: run `zkml setup` on the model directory first")]
    NoKeys {
        /// The key file looked for.
        path: String,
    },
    /// A key file could not be read or is invalid.
    #[error(transparent)]
    Key(#[from] IoError),
    /// vk.json and vk.bin disagree on the wrap.
    #[error("{vk_json} records {recorded} keys, but {key} is a {shape} key")]
    Scheme {
        /// vk.json's path.
        vk_json: String,
        /// The scheme it records.
        recorded: Scheme,
        /// vk.bin's path.
        key: String,
        /// The scheme vk.bin's shape says.
        shape: Scheme,
    },
    /// Keys of the retired one-round wrap.
    #[error(
        "{key} holds one-round keys, of the wrap of an earlier zkml, which no longer proves with them: run `zkml \
         setup` on {dir} again"
    )]
    OneRound {
        /// The key file.
        key: String,
        /// The model directory.
        dir: String,
    },
    /// The verifying key has another count of public inputs than the layout.
    #[error(transparent)]
    Layout(#[from] LayoutMismatch),
    /// A proof's public inputs are not as many as the layout's.
    #[error("the proof has {got} public inputs; the model lays out {expected}")]
    PublicInputs {
        /// The proof's.
        got: usize,
        /// The layout's.
        expected: usize,
    },
    /// A proof of another model.
    #[error("the proof is for model {got}, not this model ({expected})")]
    OtherModel {
        /// The proof's model id.
        got: U256,
        /// This model's.
        expected: U256,
    },
    /// A packed public input whose slots do not hold values of their range.
    #[error("public input {index} is not a packing of {name}")]
    NotAPacking {
        /// The public input.
        index: usize,
        /// The entry it belongs to.
        name: String,
    },
}

/// Up to this many values, a packed tensor's packing is unrolled in the typed entry point.
pub const UNROLL_VALUES_MAX: usize = 64;

/// How a tensor's values are packed into field elements (and their scale), as settings.json
/// records it.
pub use zkml::artifact::Packing;

/// One entry of the public inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// As in settings.json: `model_id`, `context`, `input`, `output`, `input_commitment`, ….
    pub name: String,
    /// Its first public input's index.
    pub index: usize,
    /// How many public inputs it takes.
    pub count: usize,
    /// How a public tensor is packed; none for a field (`model_id`, `context`) or a commitment.
    pub packing: Option<Packing>,
}

/// The public-input layout of a compiled model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelLayout {
    /// The model id, public input 0 (fixed in the verifier).
    pub model_id: U256,
    /// The entries in order, `model_id` and `context` first.
    pub entries: Vec<Entry>,
}

/// What the template inserts for the typed entry point.
#[derive(Clone, Debug, Default)]
pub struct TypedEntry {
    /// Its NatSpec.
    pub doc: String,
    /// Its parameter list.
    pub params: String,
    /// Its assembly body, which packs the arguments into public inputs.
    pub body: String,
}

fn r_u256() -> U256 {
    U256::from_be_bytes(zkml::field::modulus_word::<Fr>())
}

fn parse_u256(s: &str) -> Option<U256> {
    match s.strip_prefix("0x") {
        Some(h) => U256::from_str_radix(h, 16).ok(),
        None => U256::from_str_radix(s, 10).ok(),
    }
}

/// `input_commitment` → `inputCommitment`.
fn camel(name: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in name.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// DIR/settings.json's public-input layout, and DIR/vk.bin's path (which must exist).
fn read_layout(dir: &Path) -> Result<(ModelLayout, std::path::PathBuf), ModelError> {
    let settings = zkml::artifact::read_settings(dir)?;
    let layout = ModelLayout::from_settings(&settings)
        .map_err(|source| ModelError::Settings { path: dir.join("settings.json").display().to_string(), source })?;
    let vk_path = dir.join("vk.bin");
    if !vk_path.exists() {
        return Err(ModelError::NoKeys { path: vk_path.display().to_string() });
    }
    Ok((layout, vk_path))
}

/// DIR's keys as `zkml compile` + `zkml setup` leave them: vk.bin (Groth16's verifying key, then
/// `[δ₁]₂`) and settings.json's layout, checked against each other and against the scheme
/// vk.json records. Without vk.json (nothing records where the keys came from) vk.bin's shape
/// gives the scheme. Keys of the one-round wrap of an earlier zkml are refused: no zkml proves
/// with them any more.
pub fn load_dir(dir: &Path) -> Result<(VerifyingKey<Bn254>, G2Affine, ModelLayout), ModelError> {
    let (layout, vk_path) = read_layout(dir)?;
    let (vk, delta1) = crate::io::load_key(&vk_path)?;
    let shape = Scheme::of_key(delta1.is_some());
    if dir.join(zkml::artifact::VK_JSON).exists() {
        let recorded = zkml::artifact::scheme(dir)?;
        if recorded != shape {
            return Err(ModelError::Scheme {
                vk_json: format!("{}/{}", dir.display(), zkml::artifact::VK_JSON),
                recorded,
                key: vk_path.display().to_string(),
                shape,
            });
        }
    }
    let Some(delta1) = delta1 else {
        return Err(ModelError::OneRound { key: vk_path.display().to_string(), dir: dir.display().to_string() });
    };
    layout.check_vk(&vk, Scheme::TwoRound)?;
    Ok((vk, delta1, layout))
}

/// A verifying key whose public inputs are not the ones a model's settings lay out
/// ([`ModelLayout::check_vk`]).
#[derive(Debug, thiserror::Error)]
#[error("vk.bin has {key} public inputs but settings.json lays out {layout}")]
pub struct LayoutMismatch {
    /// The key's public inputs (the seed not counted).
    pub key: usize,
    /// The layout's.
    pub layout: usize,
}

impl ModelLayout {
    /// Reads `model_id` and `public_inputs` of a model's settings and checks the layout: entries
    /// in order from index 0, packings that match their counts, names that make Solidity
    /// identifiers, `[model_id, context, ...]` first.
    pub fn from_settings(settings: &Settings) -> Result<Self, SettingsError> {
        let model_id = parse_u256(&settings.model_id).ok_or(SettingsError::ModelId)?;
        if model_id >= r_u256() {
            return Err(SettingsError::ModelIdRange);
        }
        let mut entries = Vec::new();
        let mut next = 0;
        for p in &settings.public_inputs {
            let (name, index, count) = (p.name.clone(), p.index, p.count);
            if index != next {
                return Err(SettingsError::Start { name, index, expected: next });
            }
            if count == 0 {
                return Err(SettingsError::Empty { name });
            }
            let ident = camel(&name);
            if !crate::ident::is_valid(&ident) || ["proof", "pub", "inRange"].contains(&ident.as_str()) {
                return Err(SettingsError::Identifier { name });
            }
            if let Some(k) = &p.packing {
                let bits = k.slot_bits;
                if !(1..=zkml::pack::MAX_BITS).contains(&bits) {
                    return Err(SettingsError::SlotBits { name, bits });
                }
                let expected = zkml::pack::slots(bits);
                if k.per_element != expected {
                    return Err(SettingsError::PerElement { name, per_element: k.per_element, bits, expected });
                }
                if k.values == 0 || k.values.div_ceil(k.per_element) != count {
                    return Err(SettingsError::Values { name, values: k.values, count });
                }
            }
            next = index + count;
            entries.push(Entry { name, index, count, packing: p.packing.clone() });
        }
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        if !(names.len() >= 2
            && names[0] == "model_id"
            && names[1] == "context"
            && entries[0].count == 1
            && entries[1].count == 1)
        {
            return Err(SettingsError::Order { names: names.iter().map(|n| n.to_string()).collect() });
        }
        Ok(ModelLayout { model_id, entries })
    }

    /// Number of public inputs (field elements).
    pub fn num_public(&self) -> usize {
        self.entries.iter().map(|e| e.count).sum()
    }

    /// Checks that `vk`, a key of the wrap `scheme`, has this layout's public inputs (and, for a
    /// two-round key, one more: the seed).
    pub fn check_vk(&self, vk: &VerifyingKey<Bn254>, scheme: Scheme) -> Result<(), LayoutMismatch> {
        let seed = usize::from(scheme == Scheme::TwoRound);
        let key = scheme.num_public_inputs(vk);
        if key != self.num_public() || vk.gamma_abc_g1.len() <= seed {
            return Err(LayoutMismatch { key, layout: self.num_public() });
        }
        Ok(())
    }

    /// IC0 + model_id · IC1: public input 0 is fixed.
    pub fn ic_base(&self, vk: &VerifyingKey<Bn254>) -> G1Affine {
        let id = Fr::from_be_bytes_mod_order(&self.model_id.to_be_bytes::<32>());
        (vk.gamma_abc_g1[0].into_group() + vk.gamma_abc_g1[1] * id).into_affine()
    }

    fn typed(&self) -> &[Entry] {
        &self.entries[2..]
    }

    /// The number of values the typed entry point packs for each typed argument (1 for an
    /// argument it copies as is).
    pub fn typed_values(&self) -> impl Iterator<Item = usize> + '_ {
        self.typed().iter().map(|e| e.packing.as_ref().map_or(1, |p| p.values))
    }

    /// Solidity type of an entry's argument (with `calldata` for arrays when `location`).
    fn sol_type(e: &Entry, location: bool) -> String {
        let loc = if location { " calldata" } else { "" };
        match &e.packing {
            Some(p) => {
                let t = if p.signed { "int256" } else { "uint256" };
                if p.values == 1 { t.into() } else { format!("{t}[{}]{loc}", p.values) }
            }
            None if e.count == 1 => "uint256".into(),
            None => format!("uint256[{}]{loc}", e.count),
        }
    }

    /// The typed entry point's signature, e.g. `verify(bytes,uint256,int256[16],int256)`.
    pub fn signature(&self) -> String {
        let mut s = String::from("verify(bytes,uint256");
        for e in self.typed() {
            s.push(',');
            s.push_str(&Self::sol_type(e, false));
        }
        s.push(')');
        s
    }

    /// Parameters, NatSpec and assembly body of the typed entry point.
    pub fn typed_entry(&self) -> TypedEntry {
        let mut params = vec!["bytes calldata proof".to_string(), "uint256 context".to_string()];
        let mut doc = vec![
            "    /// @param proof The proof, `PROOF_LENGTH` bytes (as for `verifyProof`).".to_string(),
            "    /// @param context The context bound into the proof (public input 1), < r.".to_string(),
        ];
        let mut body = String::new();
        for e in self.typed() {
            let id = camel(&e.name);
            params.push(format!("{} {id}", Self::sol_type(e, true)));
            let at = |k: usize| format!("add(pub, {:#x})", (e.index + k) * 32);
            match &e.packing {
                Some(p) => {
                    let bits = p.slot_bits;
                    let (off, limit) = if p.signed {
                        (U256::from(1) << (bits - 1), U256::from(1) << bits)
                    } else {
                        (U256::ZERO, U256::from(1) << bits)
                    };
                    let range = if p.signed {
                        format!("-2^{} <= v < 2^{}", bits - 1, bits - 1)
                    } else {
                        format!("0 <= v < 2^{bits}")
                    };
                    doc.push(format!(
                        "    /// @param {id} The {} quantized value(s) of `{}`, each {range} (public inputs {}..{}).",
                        p.values,
                        e.name,
                        e.index,
                        e.index + e.count - 1
                    ));
                    let val = |x: String| if p.signed { format!("add({x}, {off:#x})") } else { x };
                    body.push_str(&format!(
                        "            // {}: {} values, {bits}-bit slots, {} per element\n",
                        e.name, p.values, p.per_element
                    ));
                    if p.values == 1 {
                        body.push_str(&format!(
                            "            {{\n                let v := {}\n                inRange := and(inRange, lt(v, {limit:#x}))\n                mstore({}, v)\n            }}\n",
                            val(id.clone()),
                            at(0)
                        ));
                    } else if p.values <= UNROLL_VALUES_MAX {
                        // Unrolled: one word at a time.
                        for (k, chunk) in (0..p.values).collect::<Vec<_>>().chunks(p.per_element).enumerate() {
                            body.push_str("            {\n                let w := 0\n                let v := 0\n");
                            for (j, &i) in chunk.iter().enumerate() {
                                body.push_str(&format!(
                                    "                v := {}\n                inRange := and(inRange, lt(v, {limit:#x}))\n",
                                    val(format!("calldataload(add({id}, {:#x}))", i * 32))
                                ));
                                if j == 0 {
                                    body.push_str("                w := v\n");
                                } else {
                                    body.push_str(&format!(
                                        "                w := or(w, shl({}, v))\n",
                                        j as u32 * bits
                                    ));
                                }
                            }
                            body.push_str(&format!("                mstore({}, w)\n            }}\n", at(k)));
                        }
                    } else {
                        body.push_str(&format!(
                            "            for {{ let i := 0 }} lt(i, {n}) {{ i := add(i, 1) }} {{\n                let v := {}\n                inRange := and(inRange, lt(v, {limit:#x}))\n                let q := add(pub, shl(5, add({idx}, div(i, {per}))))\n                mstore(q, or(mload(q), shl(mul(mod(i, {per}), {bits}), v)))\n            }}\n",
                            val(format!("calldataload(add({id}, shl(5, i)))")),
                            n = p.values,
                            idx = e.index,
                            per = p.per_element,
                        ));
                    }
                }
                None => {
                    doc.push(format!(
                        "    /// @param {id} `{}` (public input{} {}), < r.",
                        e.name,
                        if e.count > 1 { "s" } else { "" },
                        e.index
                    ));
                    if e.count == 1 {
                        body.push_str(&format!("            mstore({}, {id})\n", at(0)));
                    } else {
                        body.push_str(&format!("            calldatacopy({}, {id}, {:#x})\n", at(0), e.count * 32));
                    }
                }
            }
        }
        TypedEntry { doc: doc.join("\n"), params: params.join(", "), body: body.trim_end().to_string() }
    }

    /// The typed values of a proof's public inputs, one ABI word per value, in argument order
    /// after `proof` and `context` (unpacking and checking each packed element).
    pub fn typed_words(&self, public_inputs: &[Fr]) -> Result<Vec<[u8; 32]>, ModelError> {
        if public_inputs.len() != self.num_public() {
            return Err(ModelError::PublicInputs { got: public_inputs.len(), expected: self.num_public() });
        }
        let pub_u: Vec<U256> = public_inputs.iter().map(fr_to_u256).collect();
        if pub_u[0] != self.model_id {
            return Err(ModelError::OtherModel { got: pub_u[0], expected: self.model_id });
        }
        let word = |x: Vec<u8>| -> [u8; 32] { x.try_into().expect("a static ABI value is one word") };
        let mut words = vec![word(pub_u[1].abi_encode())];
        for e in self.typed() {
            match &e.packing {
                None => words.extend(pub_u[e.index..e.index + e.count].iter().map(|x| word(x.abi_encode()))),
                Some(p) => {
                    let elems = &public_inputs[e.index..e.index + e.count];
                    let values = zkml::pack::unpack(elems, p.values, p.slot_bits, p.signed).map_err(|err| {
                        let index = match err {
                            zkml::pack::PackError::Element { index, .. } => e.index + index,
                            _ => e.index,
                        };
                        ModelError::NotAPacking { index, name: e.name.clone() }
                    })?;
                    // (an unsigned slot's value is not negative: as int256 it is its uint256 word)
                    words.extend(values.into_iter().map(|v| word(I256::try_from(v).expect("an i64").abi_encode())));
                }
            }
        }
        Ok(words)
    }

    /// ABI calldata of the typed entry point for a proof and its public inputs: the selector of
    /// [`Self::signature`], then the head (offset of `proof`, `context`, the typed values: all
    /// static words) and the tail (`proof` as ABI `bytes`), each value encoded with alloy's
    /// `sol!` types.
    pub fn typed_calldata(
        &self,
        proof: &impl crate::calldata::ProofWords,
        public_inputs: &[Fr],
    ) -> Result<Vec<u8>, ModelError> {
        let words = self.typed_words(public_inputs)?;
        let mut out = alloy_primitives::keccak256(self.signature().as_bytes())[..4].to_vec();
        let head_len = 32 * (1 + words.len());
        out.extend(U256::from(head_len).abi_encode());
        for w in &words {
            out.extend_from_slice(w);
        }
        // `bytes` alone encodes as (offset 0x20, length, data): keep length and data.
        let tail = Bytes::copy_from_slice(&encode_proof(proof)).abi_encode();
        out.extend_from_slice(&tail[32..]);
        Ok(out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// A model's settings with the fields of `v` (`model_id`, `public_inputs`, ...), the others
    /// as `zkml compile` writes them for some small model.
    pub(crate) fn settings_of(v: Value) -> Settings {
        let mut full = json!({
            "zkml_version": "0.1.0", "model_id": "0",
            "input": {"name": "input", "shape": [1], "scale": 0, "visibility": "public"},
            "output": {"name": "output", "shape": [1], "scale": 0, "visibility": "public"},
            "lookup_bits": 12, "weight_bits": 8, "ops": [], "tables": [], "advice_values": 0,
            "linear_nodes": 0, "requantizations": 0,
            "calibration": {"samples": 1, "max_abs_error": 0.0, "argmax_agreement": 1.0},
            "public_inputs": [],
        });
        for (k, x) in v.as_object().expect("an object") {
            full[k] = x.clone();
        }
        serde_json::from_value(full).expect("settings")
    }

    fn settings() -> Value {
        json!({
            "model_id": "12345",
            "public_inputs": [
                {"name": "model_id", "index": 0, "count": 1},
                {"name": "context", "index": 1, "count": 1},
                {"name": "input", "index": 2, "count": 2,
                 "packing": {"values": 16, "per_element": 15, "slot_bits": 16, "signed": true, "scale": 6}},
                {"name": "output_commitment", "index": 4, "count": 1},
            ],
        })
    }

    /// A key with one public input more or fewer than the layout is refused, by `check_vk` and
    /// by the renderer, naming both counts.
    #[test]
    fn a_key_that_does_not_match_the_layout_is_refused() {
        let l = ModelLayout::from_settings(&settings_of(settings())).unwrap();
        let vk_with =
            |ics: usize| VerifyingKey::<Bn254> { gamma_abc_g1: vec![G1Affine::generator(); ics], ..Default::default() };
        // Two-round: the constant's IC point, one per public input, then the seed's.
        assert!(l.check_vk(&vk_with(7), Scheme::TwoRound).is_ok());
        for ics in [6, 8] {
            let e = l.check_vk(&vk_with(ics), Scheme::TwoRound).unwrap_err();
            assert_eq!((e.key, e.layout), (ics - 2, 5));
            let r = crate::solidity::render_two_round(
                &vk_with(ics),
                &G2Affine::generator(),
                "V",
                Some(&l),
                Default::default(),
                None,
            );
            assert!(
                matches!(&r, Err(crate::solidity::RenderError::Layout(m)) if m.key == ics - 2),
                "{:?}",
                r.map(|_| ())
            );
            assert!(
                r.unwrap_err().to_string().contains(&format!("{} public inputs but settings.json lays out 5", ics - 2))
            );
        }
    }

    #[test]
    fn parses_and_renders_the_typed_entry() {
        let l = ModelLayout::from_settings(&settings_of(settings())).unwrap();
        assert_eq!(l.num_public(), 5);
        assert_eq!(l.signature(), "verify(bytes,uint256,int256[16],uint256)");
        let t = l.typed_entry();
        assert_eq!(
            t.params,
            "bytes calldata proof, uint256 context, int256[16] calldata input, uint256 outputCommitment"
        );
        assert!(t.body.contains("mstore(add(pub, 0x80), outputCommitment)"));
        assert!(t.body.contains("w := or(w, shl(224, v))"));
        let mut bad = settings();
        bad["public_inputs"][2]["count"] = json!(3);
        assert!(ModelLayout::from_settings(&settings_of(bad)).is_err());
        let mut bad = settings();
        bad["public_inputs"][1]["name"] = json!("input");
        assert!(ModelLayout::from_settings(&settings_of(bad)).is_err());
    }

    /// Each layout problem is its own error, with the message naming it.
    #[test]
    fn settings_errors_name_what_is_wrong() {
        let check = |edit: &dyn Fn(&mut Value), says: &str, is: fn(&SettingsError) -> bool| {
            let mut v = settings();
            edit(&mut v);
            let e = ModelLayout::from_settings(&settings_of(v)).unwrap_err();
            assert!(is(&e) && e.to_string().contains(says), "{e}");
        };
        check(&|v| v["model_id"] = json!("twelve"), "not a decimal", |e| matches!(e, SettingsError::ModelId));
        check(&|v| v["model_id"] = json!(format!("{}", r_u256())), "not below r", |e| {
            matches!(e, SettingsError::ModelIdRange)
        });
        check(&|v| v["public_inputs"][1]["index"] = json!(2), "\"context\" starts at 2, expected 1", |e| {
            matches!(e, SettingsError::Start { index: 2, expected: 1, .. })
        });
        check(&|v| v["public_inputs"][3]["count"] = json!(0), "has count 0", |e| {
            matches!(e, SettingsError::Empty { .. })
        });
        check(&|v| v["public_inputs"][3]["name"] = json!("proof"), "does not make a Solidity identifier", |e| {
            matches!(e, SettingsError::Identifier { .. })
        });
        check(&|v| v["public_inputs"][2]["packing"]["slot_bits"] = json!(0), "has slot_bits 0", |e| {
            matches!(e, SettingsError::SlotBits { bits: 0, .. })
        });
        check(
            &|v| v["public_inputs"][2]["packing"]["per_element"] = json!(16),
            "packs 16 values per element; 16-bit slots give 15",
            |e| matches!(e, SettingsError::PerElement { per_element: 16, expected: 15, .. }),
        );
        check(&|v| v["public_inputs"][2]["count"] = json!(3), "packs 16 values into 3 elements", |e| {
            matches!(e, SettingsError::Values { values: 16, count: 3, .. })
        });
        check(&|v| v["public_inputs"][1]["name"] = json!("input"), "expected [model_id, context, ...]", |e| {
            matches!(e, SettingsError::Order { .. })
        });
    }

    #[test]
    fn typed_words_unpack_and_check() {
        let l = ModelLayout::from_settings(&settings_of(settings())).unwrap();
        // values -3, 5, then zeros (stored + 2^15)
        let off = 1u64 << 15;
        let mut w0 = U256::ZERO;
        let vals: Vec<i64> = (0..15)
            .map(|i| {
                if i == 0 {
                    -3
                } else if i == 1 {
                    5
                } else {
                    0
                }
            })
            .collect();
        for (j, v) in vals.iter().enumerate() {
            w0 |= U256::from((v + off as i64) as u64) << (16 * j);
        }
        let w1 = U256::from(off + 7);
        let fr = |u: U256| Fr::from_be_bytes_mod_order(&u.to_be_bytes::<32>());
        let pubs = vec![Fr::from(12345u64), Fr::from(9u64), fr(w0), fr(w1), Fr::from(77u64)];
        let words = l.typed_words(&pubs).unwrap();
        assert_eq!(words.len(), 1 + 16 + 1);
        assert_eq!(I256::try_from_be_slice(&words[1]).unwrap(), I256::try_from(-3).unwrap());
        assert_eq!(I256::try_from_be_slice(&words[16]).unwrap(), I256::try_from(7).unwrap());
        assert_eq!(U256::from_be_slice(&words[17]), U256::from(77));
        // Bits above the used slot of the last element: not a packing.
        let mut bad = pubs.clone();
        bad[3] = fr(w1 | (U256::from(1) << 20));
        assert!(matches!(l.typed_words(&bad), Err(ModelError::NotAPacking { index: 3, .. })));
        let mut other = pubs.clone();
        other[0] = Fr::from(1u64);
        let e = l.typed_words(&other).unwrap_err();
        assert!(matches!(e, ModelError::OtherModel { .. }) && e.to_string().contains("not this model"), "{e}");
        assert!(matches!(l.typed_words(&pubs[1..]), Err(ModelError::PublicInputs { got: 4, expected: 5 })));
    }
}
