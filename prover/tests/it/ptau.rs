//! Phase 1 from a real peer: `.ptau` files made by snarkjs (pinned in package.json) at test time,
//! cached under `~/.cache/zkml-ptau/`, read and checked by `zkml::wrap::ptau`; and every way a
//! file must be refused, each with its own error.

use std::path::{Path, PathBuf};
use std::process::Command;

use ark_ec::AffineRepr;
use rand::SeedableRng;
use rand::rngs::StdRng;
use zkml::wrap::ptau::{self, PtauError};

use crate::common::repo_root;

/// The power of the test ceremony: 2^6 constraints.
pub(crate) const POWER: u32 = 6;

/// The test ceremony of power `POWER` (`snarkjs_ptau_of`).
pub(crate) fn snarkjs_ptau() -> PathBuf {
    snarkjs_ptau_of(POWER)
}

/// A ceremony of power `power` as a production user gets one, made once per machine by
/// `script/test-ptau.sh` (snarkjs; see there).
pub(crate) fn snarkjs_ptau_of(power: u32) -> PathBuf {
    let script = repo_root().join("script/test-ptau.sh");
    let o = Command::new("bash").arg(&script).arg(power.to_string()).output().expect("run script/test-ptau.sh");
    assert!(o.status.success(), "script/test-ptau.sh {power}: {}", String::from_utf8_lossy(&o.stderr));
    PathBuf::from(String::from_utf8(o.stdout).unwrap().trim())
}

/// The file `snarkjs_ptau_of` keeps beside `prepared`: its powers before `prepare phase2`.
pub(crate) fn unprepared(prepared: &Path) -> PathBuf {
    prepared.with_extension("unprepared.ptau")
}

pub(crate) fn rng() -> StdRng {
    StdRng::seed_from_u64(5)
}

/// The byte offset of section `kind`'s data.
fn section(bytes: &[u8], kind: u32) -> usize {
    let mut at = 12;
    loop {
        let k = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let size = u64::from_le_bytes(bytes[at + 4..at + 12].try_into().unwrap()) as usize;
        if k == kind {
            return at + 12;
        }
        at += 12 + size;
    }
}

/// Reads `bytes` as a ptau file (written to a temporary file).
fn read_bytes(bytes: &[u8], power: u32) -> Result<ptau::Powers, PtauError> {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), bytes).unwrap();
    ptau::read(f.path(), power, &mut rng())
}

#[test]
fn snarkjs_ptau_is_read_checked_and_hashed() {
    let path = snarkjs_ptau();
    let p = ptau::read(&path, POWER, &mut rng()).unwrap();
    let n = 1usize << POWER;
    assert_eq!((p.power, p.file_power), (POWER, POWER));
    assert_eq!((p.tau_g1.len(), p.tau_g2.len(), p.alpha_tau_g1.len(), p.beta_tau_g1.len()), (2 * n - 1, n, n, n));
    assert_eq!(p.tau_g1[0], ark_bn254::G1Affine::generator());
    // The hash is BLAKE2b-512 of the file, as `b2sum` prints it (and snarkjs's README lists).
    let b2sum = Command::new("b2sum").arg(&path).output().unwrap();
    let printed = String::from_utf8(b2sum.stdout).unwrap();
    assert_eq!(printed.split_whitespace().next().unwrap(), hex::encode(p.file_hash));
    // A smaller circuit reads a prefix of the same powers.
    let small = ptau::read(&path, POWER - 2, &mut rng()).unwrap();
    assert_eq!((small.tau_g1.len(), small.tau_g2.len()), (2 * (n / 4) - 1, n / 4));
    assert_eq!(small.tau_g1[..], p.tau_g1[..small.tau_g1.len()]);
    assert_eq!((small.beta_g2, small.file_hash), (p.beta_g2, p.file_hash));
}

#[test]
fn a_hermez_file_is_named_by_its_hash() {
    // powersOfTau28_hez_final_17.ptau's BLAKE2b-512, as snarkjs's README lists it.
    let listed = "6247a3433948b35fbfae414fa5a9355bfb45f56efa7ab4929e669264a0258976\
                  741dfbe3288bfb49828e5df02c2e633df38d2245e30162ae7e3bcca5b8b49345";
    let mut hash = [0u8; 64];
    hex::decode_to_slice(listed, &mut hash).unwrap();
    assert_eq!(ptau::hermez_file(&hash), Some("powersOfTau28_hez_final_17.ptau"));
    hash[63] ^= 1;
    assert_eq!(ptau::hermez_file(&hash), None);
    // The test ceremony's own file is not a Hermez one.
    let p = ptau::read(&snarkjs_ptau(), POWER, &mut rng()).unwrap();
    assert_eq!(ptau::hermez_file(&p.file_hash), None);
}

#[test]
fn a_ptau_too_small_names_the_power_needed() {
    let e = ptau::read(&snarkjs_ptau(), POWER + 1, &mut rng()).err().unwrap();
    assert!(matches!(e, PtauError::TooSmall { power: POWER, needed } if needed == POWER + 1), "{e}");
    let msg = e.to_string();
    assert!(msg.contains(&format!("power {}", POWER + 1)) && msg.contains("hez_final_07"), "{msg}");
    let e = ptau::read(&snarkjs_ptau(), 64, &mut rng()).err().unwrap();
    assert!(matches!(e, PtauError::CircuitTooLarge { needed: 64 }), "{e}");
}

#[test]
fn a_point_replaced_by_another_point_is_refused() {
    let bytes = std::fs::read(snarkjs_ptau()).unwrap();
    // tauG1[3] := tauG1[4]: both on the curve, so only the consistency check can see it.
    let (g1, at) = (64, section(&bytes, 2));
    let mut t = bytes.clone();
    t.copy_within(at + 4 * g1..at + 5 * g1, at + 3 * g1);
    let e = read_bytes(&t, POWER).err().unwrap();
    assert!(matches!(e, PtauError::Inconsistent(m) if m.contains("tauG1")), "{e}");
    // The same in tauG2, alphaTauG1 and betaTauG1.
    for (kind, size, what) in [(3, 128, "tauG2"), (4, 64, "alphaTauG1"), (5, 64, "betaTauG1")] {
        let at = section(&bytes, kind);
        let mut t = bytes.clone();
        t.copy_within(at + 2 * size..at + 3 * size, at + size);
        let e = read_bytes(&t, POWER).err().unwrap();
        assert!(matches!(e, PtauError::Inconsistent(m) if m.contains(what)), "{what}: {e}");
    }
    // The Lagrange sections, inside the basis of the domain read (2^POWER points, after
    // 2^POWER − 1 points of the smaller domains' bases).
    let skip = (1 << POWER) - 1;
    for (kind, size, what) in [(12, 64, "lTauG1"), (13, 128, "lTauG2"), (14, 64, "lAlphaTauG1"), (15, 64, "lBetaTauG1")]
    {
        let at = section(&bytes, kind) + skip * size;
        let mut t = bytes.clone();
        t.copy_within(at + 2 * size..at + 3 * size, at + size);
        let e = read_bytes(&t, POWER).err().unwrap();
        assert!(matches!(e, PtauError::Inconsistent(m) if m.contains(what)), "{what}: {e}");
    }
    // betaG2 from another β.
    let (beta_g2, tau_g2) = (section(&bytes, 6), section(&bytes, 3));
    let mut t = bytes.clone();
    t.copy_within(tau_g2 + 128..tau_g2 + 256, beta_g2);
    let e = read_bytes(&t, POWER).err().unwrap();
    assert!(matches!(e, PtauError::Inconsistent(m) if m.contains("betaG2")), "{e}");
}

#[test]
fn a_changed_byte_is_refused() {
    let bytes = std::fs::read(snarkjs_ptau()).unwrap();
    for (kind, what) in [(2, "tauG1"), (3, "tauG2"), (4, "alphaTauG1"), (5, "betaTauG1"), (6, "betaG2")] {
        let mut t = bytes.clone();
        t[section(&bytes, kind) + 5] ^= 1;
        let e = read_bytes(&t, POWER).err().unwrap();
        assert!(
            matches!(&e, PtauError::NotAPoint { what: w, index: 0, .. } if *w == what)
                || matches!(&e, PtauError::Inconsistent(_)),
            "{what}: {e}"
        );
    }
}

#[test]
fn a_truncated_or_foreign_file_is_refused() {
    let bytes = std::fs::read(snarkjs_ptau()).unwrap();
    for cut in [3, 20, bytes.len() / 2, bytes.len() - 1] {
        let e = read_bytes(&bytes[..cut], POWER).err().unwrap();
        assert!(matches!(e, PtauError::Truncated(_)), "cut at {cut}: {e}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(read_bytes(&longer, POWER), Err(PtauError::Inconsistent(_))));
    assert!(matches!(read_bytes(b"zkey\x01\0\0\0", POWER), Err(PtauError::NotPtau(m)) if &m == b"zkey"));
    let mut v2 = bytes.clone();
    v2[4] = 2;
    assert!(matches!(read_bytes(&v2, POWER), Err(PtauError::Version(2))));
    // Another curve's header (n8 = 48, as BLS12-381's) is named as such.
    let mut bls = bytes.clone();
    let h = section(&bytes, 1);
    bls[h] = 48;
    assert!(matches!(read_bytes(&bls, POWER), Err(PtauError::Curve(_))));
}
