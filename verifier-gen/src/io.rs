//! Reading verifying keys, proofs and public inputs.

use std::path::Path;

use alloy_primitives::U256;
use anyhow::{Context, Result, bail};
use ark_bn254::{Bn254, Fr, G2Affine};
use ark_ff::PrimeField;
use ark_groth16::{Proof, VerifyingKey};
use ark_serialize::CanonicalDeserialize;

fn read_bytes(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {what} file {}", path.display()))
}

/// Reads a one-round Groth16 verifying key, the key of a bare `Proof<Bn254>` file, refusing a
/// two-round key ([`load_key`] reads either).
///
/// Today `path` is a file holding an ark-serialize *compressed* `VerifyingKey<Bn254>` (points
/// checked on the curve and in their subgroups). This is the single place where vks are read,
/// so it can later also accept a compiled model directory.
pub fn load_vk(path: &Path) -> Result<VerifyingKey<Bn254>> {
    let (vk, delta1) = load_key(path)?;
    if delta1.is_some() {
        bail!(
            "{} is a two-round key (its Groth16 VerifyingKey<Bn254> is followed by [δ₁]₂), and a bare proof file \
             holds a one-round proof: pass the model directory and its wrap proof file instead",
            path.display()
        );
    }
    Ok(vk)
}

/// Reads a verifying key file: an ark-serialize compressed `VerifyingKey<Bn254>`, followed for a
/// two-round key (`zkml setup`'s vk.bin) by its compressed `[δ₁]₂`, returned
/// beside it. Points are checked on the curve and in their subgroups; anything else after the
/// key is refused.
pub fn load_key(path: &Path) -> Result<(VerifyingKey<Bn254>, Option<G2Affine>)> {
    if path.is_dir() {
        bail!(
            "{} is a directory; expected an ark-serialize compressed VerifyingKey<Bn254> file \
             (read a compiled model directory with `model::load_dir`)",
            path.display()
        );
    }
    let bytes = read_bytes(path, "verifying key")?;
    let mut rest = &bytes[..];
    let vk = VerifyingKey::<Bn254>::deserialize_compressed(&mut rest).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a valid ark-serialize compressed Groth16 VerifyingKey<Bn254> ({} bytes): {e}",
            path.display(),
            bytes.len()
        )
    })?;
    if vk.gamma_abc_g1.is_empty() {
        bail!("verifying key {} has no IC points", path.display());
    }
    if rest.is_empty() {
        return Ok((vk, None));
    }
    let after = rest.len();
    let delta1 = G2Affine::deserialize_compressed(&mut rest).ok().filter(|_| rest.is_empty()).with_context(|| {
        format!(
            "{} has {after} bytes after its Groth16 VerifyingKey<Bn254>, which are not a two-round key's compressed [δ₁]₂",
            path.display()
        )
    })?;
    Ok((vk, Some(delta1)))
}

/// Reads an ark-serialize compressed `Proof<Bn254>`.
pub fn load_proof(path: &Path) -> Result<Proof<Bn254>> {
    let bytes = read_bytes(path, "proof")?;
    Proof::<Bn254>::deserialize_compressed(&bytes[..]).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a valid ark-serialize compressed Groth16 Proof<Bn254> ({} bytes): {e}",
            path.display(),
            bytes.len()
        )
    })
}

/// Parses public inputs from JSON: an array whose items are decimal strings, `0x` hex strings or
/// non-negative integers, e.g. `["12", "0x07", 3]`. Each value must be < r (the BN254 scalar
/// field modulus).
pub fn parse_public_inputs(json: &str) -> Result<Vec<Fr>> {
    let value: serde_json::Value = serde_json::from_str(json).context("public inputs are not valid JSON")?;
    let items = value.as_array().context("public inputs must be a JSON array, e.g. [\"12\", \"0x07\"]")?;
    let r = U256::from_be_slice(&ark_ff::BigInteger::to_bytes_be(&Fr::MODULUS));
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let n: U256 = match v {
                serde_json::Value::String(s) => {
                    let s = s.trim();
                    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                        U256::from_str_radix(h, 16)
                    } else {
                        U256::from_str_radix(s, 10)
                    }
                    .with_context(|| format!("public input {i}: {s:?} is not a uint256"))?
                }
                serde_json::Value::Number(n) => U256::from(
                    n.as_u64().with_context(|| format!("public input {i}: {n} is not a non-negative integer"))?,
                ),
                other => bail!("public input {i}: expected a string or integer, got {other}"),
            };
            if n >= r {
                bail!("public input {i} is {n}, not below the BN254 scalar modulus r; the verifier rejects it");
            }
            Ok(Fr::from_be_bytes_mod_order(&n.to_be_bytes::<32>()))
        })
        .collect()
}
