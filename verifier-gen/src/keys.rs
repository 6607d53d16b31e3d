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

use anyhow::{Result, bail};
use ark_bn254::{Bn254, G2Affine};
use ark_groth16::VerifyingKey;
use zkml::setup::{self, Trust};

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
) -> Result<Option<String>> {
    let why = match dir {
        None => BARE_KEY_FILE.to_string(),
        Some(dir) => match setup::trust(dir, vk, delta1_g2)? {
            Trust::Ceremony { .. } => return Ok(None),
            Trust::Unsafe(why) => why,
        },
    };
    if !allow_dev_keys {
        bail!(
            "refusing to render a verifier for these keys: {why}. A verifier of them would accept forged proofs: make \
             production keys with a ceremony (zkml setup DIR --ptau FILE, then zkml setup contribute; docs/setup.md), \
             or pass --allow-dev-keys for a test deployment (the contract will say its keys are unsafe)"
        );
    }
    Ok(Some(why))
}
