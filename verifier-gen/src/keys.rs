//! Whether `zkml-gen` renders a verifier for a key. A verifier of keys someone can forge proofs
//! for accepts any statement, so a dev setup's keys (`zkml setup --dev-seed`), a ceremony's before
//! its first contribution, keys whose provenance is not recorded and bare key files are refused
//! unless the user asks for them (`--allow-dev-keys`, for tests), and the contract then says so
//! in its NatSpec. A ceremony's keys are checked as far as they can be without the ptau: the
//! record's chain of contributions and proofs of knowledge ends at the key's δ
//! (`zkml::setup::trust`). That much stops dev keys relabelled as a ceremony's by anyone who
//! does not know their δ; someone who does (the dev setup's author) can write a record that
//! passes, so whoever deploys checks the rest with `zkml setup verify DIR --ptau FILE`: that
//! the keys derive from the ptau and the model.

use std::path::Path;

use ark_bn254::{Bn254, G2Affine};
use ark_ff::PrimeField;
use ark_groth16::VerifyingKey;
use zkml::setup::{self, Trust};
use zkml::wrap::Scheme;

/// Why `zkml-gen` renders no verifier for a key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Keys anyone can forge proofs for, not allowed; says why they are unsafe.
    #[error(
        "refusing to render a verifier for these keys: {why}. A verifier of them would accept forged proofs: make \
         production keys with a ceremony (zkml setup DIR --ptau FILE, then zkml setup contribute; docs/setup.md), or \
         pass --allow-dev-keys for a test deployment (the contract will say its keys are unsafe)"
    )]
    Unsafe {
        /// Why the keys are unsafe.
        why: String,
    },
    /// A ceremony whose record does not check (a relabelled or tampered key), or a vk.json that
    /// cannot be read.
    #[error(transparent)]
    Setup(#[from] zkml::setup::SetupError),
    /// The model directory's settings or layout could not be read.
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    /// The key file could not be read.
    #[error(transparent)]
    Io(#[from] crate::io::IoError),
    /// A key too short for its kind: no IC point for the constant term (or a two-round key's seed).
    #[error("{path} has no IC point for {what}")]
    NoIcPoint {
        /// The key.
        path: String,
        /// What the missing point is for.
        what: &'static str,
    },
}

/// Why a key given as a bare file is unsafe: nothing says where it came from.
pub const BARE_KEY_FILE: &str = "a bare verifying key file records no setup";

/// `Ok(None)` for keys from a ceremony; `Ok(Some(why))` for unsafe keys the caller allowed; an
/// error for unsafe keys not allowed, or for a ceremony whose record does not check. `dir` is the
/// model directory the key `vk` (and a two-round key's `[δ₁]₂`) comes from (None: a bare key
/// file).
pub fn unsafe_keys(
    dir: Option<&Path>,
    vk: &VerifyingKey<Bn254>,
    delta1_g2: Option<&G2Affine>,
    allow_dev_keys: bool,
) -> Result<Option<String>, KeyError> {
    let why = match dir {
        None => BARE_KEY_FILE.to_string(),
        Some(dir) => match setup::trust(dir, vk, delta1_g2)? {
            Trust::Ceremony { .. } => return Ok(None),
            Trust::Unsafe(why) => why,
        },
    };
    if !allow_dev_keys {
        return Err(KeyError::Unsafe { why });
    }
    Ok(Some(why))
}

/// The key a verifier is rendered from: a model directory's (either kind, with the model's
/// layout) or a bare key file (`zkml setup`'s vk.bin), and why it is unsafe where the caller
/// allowed unsafe keys.
pub struct VerifierKey {
    /// Groth16's verifying key.
    pub vk: VerifyingKey<Bn254>,
    /// A two-round key's `[δ₁]₂`: the verifier takes D with the proof and derives the seed, the
    /// key's last public input.
    pub delta1: Option<G2Affine>,
    /// A model directory's public-input layout.
    pub layout: Option<crate::model::ModelLayout>,
    /// [`unsafe_keys`]'s answer.
    pub note: Option<String>,
}

impl VerifierKey {
    /// The keys at `path` (a model directory or a key file), refused where [`unsafe_keys`]
    /// refuses them.
    pub fn load(path: &Path, allow_dev_keys: bool) -> Result<Self, KeyError> {
        let mut k = if path.is_dir() {
            Self::load_dir(path)?
        } else {
            let (vk, delta1) = crate::io::load_key(path)?;
            VerifierKey { vk, delta1, layout: None, note: None }
        };
        if k.vk.gamma_abc_g1.len() <= usize::from(k.delta1.is_some()) {
            return Err(KeyError::NoIcPoint {
                path: path.display().to_string(),
                what: if k.delta1.is_some() { "a two-round key's seed" } else { "the constant term" },
            });
        }
        let dir = k.layout.is_some().then_some(path);
        k.note = unsafe_keys(dir, &k.vk, k.delta1.as_ref(), allow_dev_keys)?;
        Ok(k)
    }

    /// DIR's keys ([`crate::model::load_dir`]), with the model's layout; not checked for safety
    /// ([`Self::load`] does that).
    pub fn load_dir(dir: &Path) -> Result<Self, KeyError> {
        let (vk, delta1, layout) = crate::model::load_dir(dir)?;
        Ok(VerifierKey { vk, delta1: Some(delta1), layout: Some(layout), note: None })
    }

    /// Which wrap this key is for.
    pub fn scheme(&self) -> Scheme {
        Scheme::of_key(self.delta1.is_some())
    }

    /// The public inputs a proof comes with: the key's, less a two-round key's seed (derived).
    pub fn num_public(&self) -> usize {
        self.scheme().num_public_inputs(&self.vk)
    }

    /// The Solidity verifier `contract_name` of this key, of the key's kind.
    pub fn solidity(
        &self,
        contract_name: &str,
        gas: crate::solidity::PrecompileGas,
    ) -> Result<String, crate::solidity::RenderError> {
        let (layout, note) = (self.layout.as_ref(), self.note.as_deref());
        match &self.delta1 {
            Some(d1) => crate::solidity::render_two_round(&self.vk, d1, contract_name, layout, gas, note),
            None => crate::solidity::render_with(&self.vk, contract_name, layout, gas, note),
        }
    }

    /// What the Starknet verifier of this key is generated from.
    pub fn starknet_spec(&self) -> crate::starknet::VerifierSpec<'_> {
        crate::starknet::VerifierSpec {
            vk: &self.vk,
            delta1: self.delta1.as_ref(),
            model_id: self
                .layout
                .as_ref()
                .map(|l| ark_bn254::Fr::from_be_bytes_mod_order(&l.model_id.to_be_bytes::<32>())),
            unsafe_keys: self.note.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bare key file is refused, saying why and what to do, unless unsafe keys are allowed;
    /// then the answer is why they are unsafe (the contract's NatSpec says it).
    #[test]
    fn a_bare_key_is_refused_unless_allowed() {
        let vk = VerifyingKey::<Bn254>::default();
        let e = unsafe_keys(None, &vk, None, false).unwrap_err();
        assert!(matches!(&e, KeyError::Unsafe { why } if why == BARE_KEY_FILE), "{e}");
        assert!(e.to_string().contains("--allow-dev-keys") && e.to_string().contains("zkml setup DIR --ptau"));
        assert_eq!(unsafe_keys(None, &vk, None, true).unwrap().as_deref(), Some(BARE_KEY_FILE));
    }
}
