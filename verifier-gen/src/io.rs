//! Reading verifying keys, proofs and public inputs.

use std::path::{Path, PathBuf};

use alloy_primitives::U256;
use ark_bn254::{Bn254, Fr, G2Affine};
use ark_ff::PrimeField;
use ark_groth16::{Proof, VerifyingKey};
use ark_serialize::CanonicalDeserialize;

/// A generated file or its directory that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {path}")]
pub struct WriteError {
    /// "create" (the directory) or "write" (the file).
    pub action: &'static str,
    /// The path that failed.
    pub path: String,
    #[source]
    source: std::io::Error,
}

/// Writes generated files (paths relative to `out`) under `out`, creating their directories;
/// returns the paths written, in order.
pub fn write_files(out: &Path, files: Vec<(String, String)>) -> Result<Vec<PathBuf>, WriteError> {
    let failed = |action, path: &Path| {
        let path = path.display().to_string();
        move |source| WriteError { action, path, source }
    };
    let mut written = Vec::with_capacity(files.len());
    for (rel, text) in files {
        let p = out.join(rel);
        let dir = p.parent().unwrap_or(out);
        std::fs::create_dir_all(dir).map_err(failed("create", dir))?;
        std::fs::write(&p, text).map_err(failed("write", &p))?;
        written.push(p);
    }
    Ok(written)
}

/// Why a key, a proof or public inputs cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IoError {
    /// The file could not be read.
    #[error("cannot read {what} file {path}")]
    Read {
        /// What the file should hold.
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A two-round key where a bare one-round key file was expected (the file).
    #[error(
        "{0} is a two-round key (its Groth16 VerifyingKey<Bn254> is followed by [δ₁]₂), and a bare proof file holds \
         a one-round proof: pass the model directory and its wrap proof file instead"
    )]
    TwoRoundKey(String),
    /// A directory where a key file was expected (the path).
    #[error(
        "{0} is a directory; expected an ark-serialize compressed VerifyingKey<Bn254> file (read a compiled model \
         directory with `model::load_dir`)"
    )]
    Directory(String),
    /// The bytes do not deserialize.
    #[error("{path} is not a valid ark-serialize compressed Groth16 {what} ({len} bytes): {reason}")]
    Malformed {
        /// The file.
        path: String,
        /// What it should hold.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The deserializer's reason.
        reason: String,
    },
    /// A verifying key without the constant term's IC point (the file).
    #[error("verifying key {0} has no IC points")]
    NoIcPoints(String),
    /// Bytes after the key that are not a `[δ₁]₂`.
    #[error(
        "{path} has {after} bytes after its Groth16 VerifyingKey<Bn254>, which are not a two-round key's compressed [δ₁]₂"
    )]
    TrailingBytes {
        /// The file.
        path: String,
        /// How many bytes follow the key.
        after: usize,
    },
    /// The public inputs are not JSON.
    #[error("public inputs are not valid JSON")]
    Json(#[source] serde_json::Error),
    /// The public inputs are JSON but not an array.
    #[error("public inputs must be a JSON array, e.g. [\"12\", \"0x07\"]")]
    NotAnArray,
    /// A string that is no uint256 (decimal or 0x hex).
    #[error("public input {index}: {text:?} is not a uint256")]
    NotUint256 {
        /// Its position.
        index: usize,
        /// What it says.
        text: String,
    },
    /// A JSON number that is negative or fractional.
    #[error("public input {index}: {text} is not a non-negative integer")]
    NotAnInteger {
        /// Its position.
        index: usize,
        /// What it says.
        text: String,
    },
    /// Neither a string nor a number.
    #[error("public input {index}: expected a string or integer, got {text}")]
    WrongType {
        /// Its position.
        index: usize,
        /// What it is.
        text: String,
    },
    /// A value the verifier would reject: not below r.
    #[error("public input {index} is {value}, not below the BN254 scalar modulus r; the verifier rejects it")]
    NotBelowModulus {
        /// Its position.
        index: usize,
        /// Its value.
        value: U256,
    },
}

fn read_bytes(path: &Path, what: &'static str) -> Result<Vec<u8>, IoError> {
    std::fs::read(path).map_err(|source| IoError::Read { what, path: path.display().to_string(), source })
}

/// Reads a one-round Groth16 verifying key, the key of a bare `Proof<Bn254>` file, refusing a
/// two-round key ([`load_key`] reads either).
///
/// Today `path` is a file holding an ark-serialize *compressed* `VerifyingKey<Bn254>` (points
/// checked on the curve and in their subgroups). This is the single place where vks are read,
/// so it can later also accept a compiled model directory.
pub fn load_vk(path: &Path) -> Result<VerifyingKey<Bn254>, IoError> {
    let (vk, delta1) = load_key(path)?;
    if delta1.is_some() {
        return Err(IoError::TwoRoundKey(path.display().to_string()));
    }
    Ok(vk)
}

/// Reads a verifying key file: an ark-serialize compressed `VerifyingKey<Bn254>`, followed for a
/// two-round key (`zkml setup`'s vk.bin) by its compressed `[δ₁]₂`, returned
/// beside it. Points are checked on the curve and in their subgroups; anything else after the
/// key is refused.
pub fn load_key(path: &Path) -> Result<(VerifyingKey<Bn254>, Option<G2Affine>), IoError> {
    let shown = || path.display().to_string();
    if path.is_dir() {
        return Err(IoError::Directory(shown()));
    }
    let bytes = read_bytes(path, "verifying key")?;
    let mut rest = &bytes[..];
    let vk = VerifyingKey::<Bn254>::deserialize_compressed(&mut rest).map_err(|e| IoError::Malformed {
        path: shown(),
        what: "VerifyingKey<Bn254>",
        len: bytes.len(),
        reason: e.to_string(),
    })?;
    if vk.gamma_abc_g1.is_empty() {
        return Err(IoError::NoIcPoints(shown()));
    }
    if rest.is_empty() {
        return Ok((vk, None));
    }
    let after = rest.len();
    let delta1 = G2Affine::deserialize_compressed(&mut rest)
        .ok()
        .filter(|_| rest.is_empty())
        .ok_or_else(|| IoError::TrailingBytes { path: shown(), after })?;
    Ok((vk, Some(delta1)))
}

/// Reads an ark-serialize compressed `Proof<Bn254>`.
pub fn load_proof(path: &Path) -> Result<Proof<Bn254>, IoError> {
    let bytes = read_bytes(path, "proof")?;
    Proof::<Bn254>::deserialize_compressed(&bytes[..]).map_err(|e| IoError::Malformed {
        path: path.display().to_string(),
        what: "Proof<Bn254>",
        len: bytes.len(),
        reason: e.to_string(),
    })
}

/// Parses public inputs from JSON: an array whose items are decimal strings, `0x` hex strings or
/// non-negative integers, e.g. `["12", "0x07", 3]`. Each value must be < r (the BN254 scalar
/// field modulus).
pub fn parse_public_inputs(json: &str) -> Result<Vec<Fr>, IoError> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(IoError::Json)?;
    let items = value.as_array().ok_or(IoError::NotAnArray)?;
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
                    .map_err(|_| IoError::NotUint256 { index: i, text: s.to_string() })?
                }
                serde_json::Value::Number(n) => {
                    U256::from(n.as_u64().ok_or_else(|| IoError::NotAnInteger { index: i, text: n.to_string() })?)
                }
                other => return Err(IoError::WrongType { index: i, text: other.to_string() }),
            };
            if n >= r {
                return Err(IoError::NotBelowModulus { index: i, value: n });
            }
            Ok(Fr::from_be_bytes_mod_order(&n.to_be_bytes::<32>()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Files land under their directories, made as needed; a directory that cannot be made or a
    /// file that cannot be written is named, with what failed.
    #[test]
    fn write_files_makes_directories_and_names_what_failed() {
        let tmp = tempfile::tempdir().unwrap();
        let files = || vec![("a.txt".to_string(), "a".to_string()), ("src/b.txt".to_string(), "b".to_string())];
        let written = write_files(tmp.path(), files()).unwrap();
        assert_eq!(written, [tmp.path().join("a.txt"), tmp.path().join("src/b.txt")]);
        assert_eq!(std::fs::read_to_string(&written[1]).unwrap(), "b");
        // A directory where a file is: src/b.txt cannot be written over it.
        std::fs::remove_file(&written[1]).unwrap();
        std::fs::create_dir(&written[1]).unwrap();
        let e = write_files(tmp.path(), files()).unwrap_err();
        assert_eq!(e.to_string(), format!("cannot write {}", written[1].display()));
        // A file where a directory must be: out itself is a file.
        let e = write_files(&written[0], files()).unwrap_err();
        assert_eq!((e.action, e.path), ("create", written[0].display().to_string()));
    }

    #[test]
    fn public_inputs_parse_or_name_what_is_wrong() {
        assert_eq!(
            parse_public_inputs(r#"["12", "0x07", 3]"#).unwrap(),
            [Fr::from(12u64), Fr::from(7u64), Fr::from(3u64)]
        );
        let e = |json: &str| parse_public_inputs(json).unwrap_err();
        assert!(matches!(e("[1,"), IoError::Json(_)));
        assert!(matches!(e(r#"{"a": 1}"#), IoError::NotAnArray));
        assert!(matches!(e(r#"[1, "12a"]"#), IoError::NotUint256 { index: 1, .. }));
        assert!(matches!(e("[-1]"), IoError::NotAnInteger { index: 0, .. }));
        assert!(matches!(e("[1.5]"), IoError::NotAnInteger { index: 0, .. }));
        assert!(matches!(e("[true]"), IoError::WrongType { index: 0, .. }));
        let r = "21888242871839275222246405745257275088548364400416034343698204186575808495617";
        assert!(matches!(e(&format!(r#"["{r}"]"#)), IoError::NotBelowModulus { index: 0, .. }));
    }
}
