//! Phase 1 from a real peer: `.ptau` files made by snarkjs (pinned in package.json) at test time,
//! cached under `~/.cache/zkml-ptau/`, read and checked by `zkml::wrap::ptau`; and every way a
//! file must be refused, each with its own error.

use std::path::{Path, PathBuf};
use std::process::Command;

use ark_bn254::{Fq, Fq2, Fr, G2Affine};
use ark_ec::{AffineRepr, CurveGroup, PrimeGroup};
use ark_ff::{One, PrimeField, Zero};
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
    // A prepared file's τ·G2 only to τ¹ (its keys take lTauG2).
    assert_eq!((p.tau_g1.len(), p.tau_g2.len(), p.alpha_tau_g1.len(), p.beta_tau_g1.len()), (2 * n - 1, 2, n, n));
    assert_eq!(p.tau_g1[0], ark_bn254::G1Affine::generator());
    // The hash is BLAKE2b-512 of the file, as `b2sum` prints it (and snarkjs's README lists).
    let b2sum = Command::new("b2sum").arg(&path).output().unwrap();
    let printed = String::from_utf8(b2sum.stdout).unwrap();
    assert_eq!(printed.split_whitespace().next().unwrap(), hex::encode(p.file_hash));
    // A smaller circuit reads a prefix of the same powers.
    let small = ptau::read(&path, POWER - 2, &mut rng()).unwrap();
    assert_eq!((small.tau_g1.len(), small.tau_g2.len()), (2 * (n / 4) - 1, 2));
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

/// h/10,069, h = 10,069 · … the cofactor of BN254's twist: [h/10,069·r]·P has order 10,069.
const H_OVER_10069: [u64; 4] = [0x6c3cd334915f1659, 0x207142f7671af448, 0x9e28bcf65b5681da, 0x13af7a58fce69];

/// Points of BN254's twist outside G2: one of order h·r, and one of order 10,069 (h's smallest
/// prime factor), which a random combination of points misses most often.
fn off_g2() -> [G2Affine; 2] {
    let mut x = Fq2::one();
    let p = loop {
        if let Some(p) = G2Affine::get_point_from_x_unchecked(x, false) {
            break p;
        }
        x += Fq2::one();
    };
    let small = p.mul_bigint(Fr::MODULUS).mul_bigint(H_OVER_10069);
    assert!(!p.is_in_correct_subgroup_assuming_on_curve() && !small.is_zero());
    assert!(small.mul_bigint([10_069u64]).is_zero());
    [p, small.into_affine()]
}

#[test]
fn a_g2_point_outside_the_subgroup_is_refused() {
    let bytes = std::fs::read(snarkjs_ptau()).unwrap();
    let encode = |q: G2Affine| -> Vec<u8> {
        [q.x.c0, q.x.c1, q.y.c0, q.y.c1].iter().flat_map(|f: &Fq| f.0.0.iter().flat_map(|l| l.to_le_bytes())).collect()
    };
    let decode = |b: &[u8]| -> G2Affine {
        let f = |o: usize| {
            Fq::new_unchecked(ark_ff::BigInt(std::array::from_fn(|i| {
                u64::from_le_bytes(b[o + 8 * i..o + 8 * i + 8].try_into().unwrap())
            })))
        };
        G2Affine::new(Fq2::new(f(0), f(32)), Fq2::new(f(64), f(96)))
    };
    // Each point moved off G2 by adding an element of the cofactor's group, so that it stays
    // on the twist: tauG2[1] (a prepared file's last τ·G2 read), betaG2, and lTauG2[1] in the
    // basis of the domain read.
    let skip = (1 << POWER) - 1;
    for off in off_g2() {
        for (kind, index, at, what) in [(3, 1, 1, "tauG2"), (6, 0, 0, "betaG2"), (13, 1, skip + 1, "lTauG2")] {
            let o = section(&bytes, kind) + 128 * at;
            let mut t = bytes.clone();
            t[o..o + 128].copy_from_slice(&encode((decode(&bytes[o..o + 128]) + off).into_affine()));
            let e = read_bytes(&t, POWER).err().unwrap();
            assert!(
                matches!(&e, PtauError::NotAPoint { what: w, index: i, group: "G2" } if *w == what && *i == index),
                "{what}: {e}"
            );
        }
    }
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
