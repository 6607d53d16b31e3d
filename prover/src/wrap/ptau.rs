//! Phase 1 of a Groth16 setup from a real Powers-of-Tau ceremony: the snarkjs/iden3 `.ptau` file
//! (the Hermez and Perpetual Powers of Tau ceremonies publish theirs in it), read in one streaming
//! pass and checked before any key is derived from it.
//!
//! The container: `"ptau"`, version 1 (u32), the number of sections (u32), then each section as
//! its type (u32), its size in bytes (u64) and its bytes; integers little-endian. The sections read
//! here: 1, the header (n8, the base field's modulus q in n8 bytes, the power p, the ceremony's
//! power); 2, τⁱ·G1 for i < 2·2ᵖ − 1; 3, τⁱ·G2; 4, α·τⁱ·G1; 5, β·τⁱ·G1 (each i < 2ᵖ); 6, β·G2.
//! The contributions (7) are hashed with the rest and not otherwise read. The Lagrange-basis
//! sections that `snarkjs powersoftau prepare phase2` adds (12–15: τ·G1, τ·G2, ατ·G1, βτ·G1 in
//! the Lagrange basis of every domain of 2⁰ … 2ᵖ points, in that order, τ·G1 also of 2ᵖ⁺¹) are read at the circuit's
//! domain when present: phase 2 then needs no FFT over points. A coordinate is n8 = 32 bytes, little-endian, in
//! Montgomery form with R = 2²⁵⁶ (arkworks' own representation of BN254's base field); a G2
//! coordinate is c0 then c1.
//!
//! `check` is what `snarkjs powersoftau verify` checks of the powers themselves: the first powers
//! are the generators, and each list is a geometric sequence in the same τ (α's and β's too, with
//! β·G1 and β·G2 the same β), by pairing random linear combinations (Schwartz–Zippel: a wrong list
//! passes with probability at most about 1/2¹²⁸ over the verifier's random coefficients); and each
//! Lagrange list read is the monomial one in the Lagrange basis (`basis_of`). A prepared file's
//! τ·G2 list is kept only to τ¹: the keys take their G2 points from lTauG2, which is checked
//! against the powers in G1 (`basis_in_g2_of`), so the rest of τ·G2 would be checked — 2ᵖ
//! subgroup and pairing checks over G2 — for nothing.

// A verifier path: no panic on any input (see Cargo.toml's [workspace.lints]).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![warn(missing_docs)]

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use ark_bn254::{Bn254, Fq, Fq2, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::{BigInt, BigInteger, PrimeField};
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
use blake2::{Blake2b512, Digest};
use rand::Rng;
use rayon::prelude::*;

/// The largest power a `.ptau` file has (the Hermez ceremony's last file is 2²⁸).
pub const MAX_POWER: u32 = 28;

const MAGIC: &[u8; 4] = b"ptau";
const HEADER: u32 = 1;
const N8: usize = 32;
const TAU_G1: Points<G1Affine> = Points { kind: 2, name: "tauG1", group: "G1", bytes: 2 * N8, decode: g1 };
const TAU_G2: Points<G2Affine> = Points { kind: 3, name: "tauG2", group: "G2", bytes: 4 * N8, decode: g2 };
const ALPHA_TAU_G1: Points<G1Affine> = Points { kind: 4, name: "alphaTauG1", group: "G1", bytes: 2 * N8, decode: g1 };
const BETA_TAU_G1: Points<G1Affine> = Points { kind: 5, name: "betaTauG1", group: "G1", bytes: 2 * N8, decode: g1 };
const BETA_G2: Points<G2Affine> = Points { kind: 6, name: "betaG2", group: "G2", bytes: 4 * N8, decode: g2 };
const L_TAU_G1: Points<G1Affine> = Points { kind: 12, name: "lTauG1", group: "G1", bytes: 2 * N8, decode: g1 };
const L_TAU_G2: Points<G2Affine> = Points { kind: 13, name: "lTauG2", group: "G2", bytes: 4 * N8, decode: g2 };
const L_ALPHA_TAU_G1: Points<G1Affine> =
    Points { kind: 14, name: "lAlphaTauG1", group: "G1", bytes: 2 * N8, decode: g1 };
const L_BETA_TAU_G1: Points<G1Affine> = Points { kind: 15, name: "lBetaTauG1", group: "G1", bytes: 2 * N8, decode: g1 };

/// Why a `.ptau` file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PtauError {
    /// The file could not be read.
    #[error("cannot read the ptau file: {0}")]
    Io(#[from] std::io::Error),
    /// Another file type (its first four bytes).
    #[error("not a ptau file: it starts with {0:?}, not \"ptau\"")]
    NotPtau([u8; 4]),
    /// Another format version.
    #[error("ptau version {0} is not supported (only version 1)")]
    Version(u32),
    /// The file ends early; names what it was reading.
    #[error("the ptau file ends inside {0}")]
    Truncated(&'static str),
    /// A section the setup needs is absent (its number and name).
    #[error("the ptau file has no section {0} ({1})")]
    MissingSection(u32, &'static str),
    /// A section's length is not its points'.
    #[error("section {section} ({name}) is {got} bytes, expected {expected}")]
    SectionSize {
        /// The section's number.
        section: u32,
        /// Its name.
        name: &'static str,
        /// Its length.
        got: u64,
        /// The length its points take.
        expected: u64,
    },
    /// Another curve's powers.
    #[error("the ptau file is not over BN254 (bn128): {0}")]
    Curve(String),
    /// A power no ceremony reached.
    #[error("the ptau file's power is {power}, above the largest ceremony's {MAX_POWER}")]
    PowerTooLarge {
        /// The file's power.
        power: u32,
    },
    /// A circuit too large for any ceremony's powers.
    #[error("the circuit needs a ptau of power {needed}, above the largest ceremony's {MAX_POWER}")]
    CircuitTooLarge {
        /// The power the circuit needs.
        needed: u32,
    },
    /// The file's power is below the circuit's.
    #[error(
        "the circuit needs a ptau of power {needed} (2^{needed} ≥ its constraints and public inputs); this file's \
         is {power}: use powersOfTau28_hez_final_{needed:02}.ptau or larger"
    )]
    TooSmall {
        /// The file's power.
        power: u32,
        /// The circuit's.
        needed: u32,
    },
    /// A point off the curve or outside the prime-order subgroup.
    #[error("{what}[{index}] is not a point of {group}")]
    NotAPoint {
        /// Which powers.
        what: &'static str,
        /// The point's index among them.
        index: usize,
        /// G1 or G2.
        group: &'static str,
    },
    /// The pairing checks that tie the powers together fail; names which.
    #[error("the powers are inconsistent: {0}")]
    Inconsistent(&'static str),
}

/// The powers a circuit of domain size 2^`power` needs, from a ptau of power ≥ `power`.
pub struct Powers {
    /// The power these powers are for (the circuit's, not the file's).
    pub power: u32,
    /// The file's power.
    pub file_power: u32,
    /// τⁱ·G1 for i < 2·2^`power` − 1.
    pub tau_g1: Vec<G1Affine>,
    /// τⁱ·G2 for i < 2^`power`; only τ⁰·G2 and τ¹·G2 when the file has the Lagrange sections.
    pub tau_g2: Vec<G2Affine>,
    /// α·τⁱ·G1 for i < 2^`power`.
    pub alpha_tau_g1: Vec<G1Affine>,
    /// β·τⁱ·G1 for i < 2^`power`.
    pub beta_tau_g1: Vec<G1Affine>,
    /// β·G2.
    pub beta_g2: G2Affine,
    /// The same powers in the Lagrange basis of the domain of 2^`power` points, if the file has
    /// the sections `snarkjs powersoftau prepare phase2` adds (the Hermez files do).
    pub lagrange: Option<Lagrange>,
    /// BLAKE2b-512 of the whole file, as `b2sum` prints it and snarkjs's README lists the Hermez
    /// files' hashes.
    pub file_hash: [u8; 64],
}

/// Lⱼ(τ)·G for the Lagrange polynomials Lⱼ of the radix-2 domain of 2^`power` points (ω the
/// domain's generator, as arkworks and snarkjs both take it), and α, β times them in G1.
pub struct Lagrange {
    /// Lⱼ(τ)·G1.
    pub tau_g1: Vec<G1Affine>,
    /// Lⱼ(τ)·G2.
    pub tau_g2: Vec<G2Affine>,
    /// α·Lⱼ(τ)·G1.
    pub alpha_tau_g1: Vec<G1Affine>,
    /// β·Lⱼ(τ)·G1.
    pub beta_tau_g1: Vec<G1Affine>,
}

/// Reads the powers for a domain of 2^`power` from `path`, reading the file once, front to back
/// (the points a smaller circuit does not need are hashed, not kept), and checks them (`check`).
pub fn read(path: &Path, power: u32, rng: &mut impl Rng) -> Result<Powers, PtauError> {
    if power > MAX_POWER {
        return Err(PtauError::CircuitTooLarge { needed: power });
    }
    let mut r = Hashing { inner: BufReader::with_capacity(1 << 20, File::open(path)?), hash: Blake2b512::new() };
    let mut magic = [0u8; 4];
    r.exact(&mut magic, "the file's magic")?;
    if &magic != MAGIC {
        return Err(PtauError::NotPtau(magic));
    }
    let version = r.u32("the version")?;
    if version != 1 {
        return Err(PtauError::Version(version));
    }
    let sections = r.u32("the section count")?;
    let mut file_power: Option<u32> = None;
    let keep = 1usize << power;
    let (mut tau_g1, mut tau_g2, mut alpha, mut beta, mut beta_g2) = (None, None, None, None, None);
    let (mut l_tau_g1, mut l_tau_g2, mut l_alpha, mut l_beta) = (None, None, None, None);
    for _ in 0..sections {
        let kind = r.u32("a section header")?;
        let size = r.u64("a section header")?;
        // The header comes first in every file snarkjs writes; the point sections need its power.
        let n = || file_power.map(|p| 1usize << p).ok_or(PtauError::MissingSection(HEADER, "header"));
        match kind {
            HEADER => file_power = Some(read_header(&mut r, size, power)?),
            k if k == TAU_G1.kind => tau_g1 = Some(TAU_G1.read(&mut r, size, 2 * n()? - 1, 0, 2 * keep - 1)?),
            k if k == TAU_G2.kind => tau_g2 = Some(TAU_G2.read(&mut r, size, n()?, 0, keep)?),
            k if k == ALPHA_TAU_G1.kind => alpha = Some(ALPHA_TAU_G1.read(&mut r, size, n()?, 0, keep)?),
            k if k == BETA_TAU_G1.kind => beta = Some(BETA_TAU_G1.read(&mut r, size, n()?, 0, keep)?),
            k if k == BETA_G2.kind => beta_g2 = BETA_G2.read(&mut r, size, 1, 0, 1)?.pop(),
            // One basis per domain of 2^0, 2^1, … 2^(file's power) points, in that order (and for
            // τ·G1 one more, of 2^(power + 1)): the circuit's starts after 2^power − 1 points.
            k if k == L_TAU_G1.kind => l_tau_g1 = Some(L_TAU_G1.read(&mut r, size, 4 * n()? - 1, keep - 1, keep)?),
            k if k == L_TAU_G2.kind => l_tau_g2 = Some(L_TAU_G2.read(&mut r, size, 2 * n()? - 1, keep - 1, keep)?),
            k if k == L_ALPHA_TAU_G1.kind => {
                l_alpha = Some(L_ALPHA_TAU_G1.read(&mut r, size, 2 * n()? - 1, keep - 1, keep)?)
            }
            k if k == L_BETA_TAU_G1.kind => {
                l_beta = Some(L_BETA_TAU_G1.read(&mut r, size, 2 * n()? - 1, keep - 1, keep)?)
            }
            _ => r.skip(size, "a section")?,
        }
    }
    // Nothing may follow the last section: the hash is of the whole file.
    if r.inner.read(&mut [0u8; 1])? != 0 {
        return Err(PtauError::Inconsistent("bytes after the last section"));
    }
    let file_power = file_power.ok_or(PtauError::MissingSection(HEADER, "header"))?;
    let lagrange = match (l_tau_g1, l_tau_g2, l_alpha, l_beta) {
        (None, None, None, None) => None,
        (l_tau_g1, l_tau_g2, l_alpha, l_beta) => Some(Lagrange {
            tau_g1: L_TAU_G1.found(l_tau_g1)?,
            tau_g2: L_TAU_G2.found(l_tau_g2)?,
            alpha_tau_g1: L_ALPHA_TAU_G1.found(l_alpha)?,
            beta_tau_g1: L_BETA_TAU_G1.found(l_beta)?,
        }),
    };
    let mut tau_g2 = TAU_G2.found(tau_g2)?;
    if lagrange.is_some() {
        tau_g2.truncate(2);
    }
    let p = Powers {
        power,
        file_power,
        tau_g1: TAU_G1.found(tau_g1)?,
        tau_g2,
        alpha_tau_g1: ALPHA_TAU_G1.found(alpha)?,
        beta_tau_g1: BETA_TAU_G1.found(beta)?,
        beta_g2: BETA_G2.found(beta_g2)?,
        lagrange,
        file_hash: r.hash.finalize().into(),
    };
    p.check(rng)?;
    Ok(p)
}

/// The header: n8 = 32, q = BN254's base field modulus, the file's power (≥ `power`), which it
/// returns.
fn read_header(r: &mut Hashing, size: u64, power: u32) -> Result<u32, PtauError> {
    let expected = 4 + N8 as u64 + 4 + 4;
    if size != expected {
        return Err(PtauError::SectionSize { section: HEADER, name: "header", got: size, expected });
    }
    let n8 = r.u32("the header")?;
    if n8 as usize != N8 {
        return Err(PtauError::Curve(format!("field elements of {n8} bytes, not {N8}")));
    }
    let mut q = [0u8; N8];
    r.exact(&mut q, "the header")?;
    if q[..] != Fq::MODULUS.to_bytes_le()[..] {
        return Err(PtauError::Curve("another base field modulus".into()));
    }
    let file_power = r.u32("the header")?;
    let _ceremony_power = r.u32("the header")?;
    if file_power > MAX_POWER {
        return Err(PtauError::PowerTooLarge { power: file_power });
    }
    if file_power < power {
        return Err(PtauError::TooSmall { power: file_power, needed: power });
    }
    Ok(file_power)
}

/// The prepared (phase 2) files of the Hermez ceremony, 54 contributions and a beacon, with their
/// BLAKE2b-512 as snarkjs's README lists them (powers 8 to 28).
const HERMEZ: [(&str, &str); 21] = [
    (
        "powersOfTau28_hez_final_08.ptau",
        "d6a8fb3a04feb600096c3b791f936a578c4e664d262e4aa24beed1b7a9a96aa5eb72864d628db247e9293384b74b36ffb52ca8d148d6e1b8b51e279fdf57b583",
    ),
    (
        "powersOfTau28_hez_final_09.ptau",
        "94f108a80e81b5d932d8e8c9e8fd7f46cf32457e31462deeeef37af1b71c2c1b3c71fb0d9b59c654ec266b042735f50311f9fd1d4cadce47ab234ad163157cb5",
    ),
    (
        "powersOfTau28_hez_final_10.ptau",
        "6cfeb8cda92453099d20120bdd0e8a5c4e7706c2da9a8f09ccc157ed2464d921fd0437fb70db42104769efd7d6f3c1f964bcf448c455eab6f6c7d863e88a5849",
    ),
    (
        "powersOfTau28_hez_final_11.ptau",
        "47c282116b892e5ac92ca238578006e31a47e7c7e70f0baa8b687f0a5203e28ea07bbbec765a98dcd654bad618475d4661bfaec3bd9ad2ed12e7abc251d94d33",
    ),
    (
        "powersOfTau28_hez_final_12.ptau",
        "ded2694169b7b08e898f736d5de95af87c3f1a64594013351b1a796dbee393bd825f88f9468c84505ddd11eb0b1465ac9b43b9064aa8ec97f2b73e04758b8a4a",
    ),
    (
        "powersOfTau28_hez_final_13.ptau",
        "58efc8bf2834d04768a3d7ffcd8e1e23d461561729beaac4e3e7a47829a1c9066d5320241e124a1a8e8aa6c75be0ba66f65bc8239a0542ed38e11276f6fdb4d9",
    ),
    (
        "powersOfTau28_hez_final_14.ptau",
        "eeefbcf7c3803b523c94112023c7ff89558f9b8e0cf5d6cdcba3ade60f168af4a181c9c21774b94fbae6c90411995f7d854d02ebd93fb66043dbb06f17a831c1",
    ),
    (
        "powersOfTau28_hez_final_15.ptau",
        "982372c867d229c236091f767e703253249a9b432c1710b4f326306bfa2428a17b06240359606cfe4d580b10a5a1f63fbed499527069c18ae17060472969ae6e",
    ),
    (
        "powersOfTau28_hez_final_16.ptau",
        "6a6277a2f74e1073601b4f9fed6e1e55226917efb0f0db8a07d98ab01df1ccf43eb0e8c3159432acd4960e2f29fe84a4198501fa54c8dad9e43297453efec125",
    ),
    (
        "powersOfTau28_hez_final_17.ptau",
        "6247a3433948b35fbfae414fa5a9355bfb45f56efa7ab4929e669264a0258976741dfbe3288bfb49828e5df02c2e633df38d2245e30162ae7e3bcca5b8b49345",
    ),
    (
        "powersOfTau28_hez_final_18.ptau",
        "7e6a9c2e5f05179ddfc923f38f917c9e6831d16922a902b0b4758b8e79c2ab8a81bb5f29952e16ee6c5067ed044d7857b5de120a90704c1d3b637fd94b95b13e",
    ),
    (
        "powersOfTau28_hez_final_19.ptau",
        "bca9d8b04242f175189872c42ceaa21e2951e0f0f272a0cc54fc37193ff6648600eaf1c555c70cdedfaf9fb74927de7aa1d33dc1e2a7f1a50619484989da0887",
    ),
    (
        "powersOfTau28_hez_final_20.ptau",
        "89a66eb5590a1c94e3f1ee0e72acf49b1669e050bb5f93c73b066b564dca4e0c7556a52b323178269d64af325d8fdddb33da3a27c34409b821de82aa2bf1a27b",
    ),
    (
        "powersOfTau28_hez_final_21.ptau",
        "9aef0573cef4ded9c4a75f148709056bf989f80dad96876aadeb6f1c6d062391f07a394a9e756d16f7eb233198d5b69407cca44594c763ab4a5b67ae73254678",
    ),
    (
        "powersOfTau28_hez_final_22.ptau",
        "0d64f63dba1a6f11139df765cb690da69d9b2f469a1ddd0de5e4aa628abb28f787f04c6a5fb84a235ec5ea7f41d0548746653ecab0559add658a83502d1cb21b",
    ),
    (
        "powersOfTau28_hez_final_23.ptau",
        "3063a0bd81d68711197c8820a92466d51aeac93e915f5136d74f63c394ee6d88c5e8016231ea6580bec02e25d491f319d92e77f5c7f46a9caa8f3b53c0ea544f",
    ),
    (
        "powersOfTau28_hez_final_24.ptau",
        "fa404d140d5819d39984833ca5ec3632cd4995f81e82db402371a4de7c2eae8687c62bc632a95b0c6aadba3fb02680a94e09174b7233ccd26d78baca2647c733",
    ),
    (
        "powersOfTau28_hez_final_25.ptau",
        "0377d860cdb09a8a31ea1b0b8c04335614c8206357181573bf294c25d5ca7dff72387224fbd868897e6769f7805b3dab02854aec6d69d7492883b5e4e5f35eeb",
    ),
    (
        "powersOfTau28_hez_final_26.ptau",
        "418dee4a74b9592198bd8fd02ad1aea76f9cf3085f206dfd7d594c9e264ae919611b1459a1cc920c2f143417744ba9edd7b8d51e44be9452344a225ff7eead19",
    ),
    (
        "powersOfTau28_hez_final_27.ptau",
        "10ffd99837c512ef99752436a54b9810d1ac8878d368fb4b806267bdd664b4abf276c9cd3c4b9039a1fa4315a0c326c0e8e9e8fe0eb588ffd4f9021bf7eae1a1",
    ),
    (
        "powersOfTau28_hez_final.ptau",
        "55c77ce8562366c91e7cda394cf7b7c15a06c12d8c905e8b36ba9cf5e13eb37d1a429c589e8eaba4c591bc4b88a0e2828745a53e170eac300236f5c1a326f41a",
    ),
];

/// The Hermez file whose hash `file_hash` is, if any.
pub fn hermez_file(file_hash: &[u8; 64]) -> Option<&'static str> {
    let hex = hex::encode(file_hash);
    HERMEZ.iter().find(|(_, h)| *h == hex).map(|(name, _)| *name)
}

/// A section of points: its type, its name in snarkjs's sources, its group and how to decode a
/// point of it (`bytes` long).
struct Points<P> {
    kind: u32,
    name: &'static str,
    group: &'static str,
    bytes: usize,
    decode: fn(&[u8]) -> Option<P>,
}

impl<P: Send> Points<P> {
    /// Reads the section (`size` bytes, which must be `count` points), decoding and checking the
    /// `keep` points after the first `from`; the rest is read through the hash only.
    fn read(&self, r: &mut Hashing, size: u64, count: usize, from: usize, keep: usize) -> Result<Vec<P>, PtauError> {
        let expected = (count * self.bytes) as u64;
        if size != expected {
            return Err(PtauError::SectionSize { section: self.kind, name: self.name, got: size, expected });
        }
        let before = (from * self.bytes) as u64;
        r.skip(before, self.name)?;
        let mut raw = vec![0u8; keep * self.bytes];
        r.exact(&mut raw, self.name)?;
        r.skip(expected - before - raw.len() as u64, self.name)?;
        raw.par_chunks(self.bytes)
            .enumerate()
            .map(|(index, c)| {
                (self.decode)(c).ok_or(PtauError::NotAPoint { what: self.name, index, group: self.group })
            })
            .collect()
    }

    fn found<T>(&self, v: Option<T>) -> Result<T, PtauError> {
        v.ok_or(PtauError::MissingSection(self.kind, self.name))
    }
}

/// A G1 point (x, y); BN254's G1 has cofactor 1, so on the curve is in the group.
fn g1(c: &[u8]) -> Option<G1Affine> {
    let p = G1Affine::new_unchecked(fq(c.get(..N8)?)?, fq(c.get(N8..2 * N8)?)?);
    p.is_on_curve().then_some(p)
}

/// A point of the twist (x.c0, x.c1, y.c0, y.c1); that it is in G2, the r-torsion, `check`
/// sees for the whole list at once (`all_in_g2`).
fn g2(c: &[u8]) -> Option<G2Affine> {
    let coord = |o: usize| -> Option<Fq2> { Some(Fq2::new(fq(c.get(o..o + N8)?)?, fq(c.get(o + N8..o + 2 * N8)?)?)) };
    let p = G2Affine::new_unchecked(coord(0)?, coord(2 * N8)?);
    p.is_on_curve().then_some(p)
}

/// A base field element from 32 little-endian bytes in Montgomery form; None when not below q.
fn fq(b: &[u8]) -> Option<Fq> {
    let mut limbs = [0u64; 4];
    for (l, c) in limbs.iter_mut().zip(b.chunks_exact(8)) {
        *l = u64::from_le_bytes(c.try_into().ok()?);
    }
    let v = BigInt(limbs);
    (v < Fq::MODULUS).then(|| Fq::new_unchecked(v))
}

impl Powers {
    /// The checks of `read` (module docs): generators first, and every list a geometric sequence
    /// in the same τ, α's and β's included; `rng` draws the linear combinations' coefficients.
    pub fn check(&self, rng: &mut impl Rng) -> Result<(), PtauError> {
        // The pairing checks below mean something only for points of G2: first that.
        all_in_g2(&self.tau_g2, TAU_G2.name, rng)?;
        all_in_g2(std::slice::from_ref(&self.beta_g2), BETA_G2.name, rng)?;
        if let Some(l) = &self.lagrange {
            all_in_g2(&l.tau_g2, L_TAU_G2.name, rng)?;
        }
        let (g1, g2) = (G1Affine::generator(), G2Affine::generator());
        if self.tau_g1.first() != Some(&g1) {
            return Err(PtauError::Inconsistent("tauG1[0] is not the generator of G1"));
        }
        if self.tau_g2.first() != Some(&g2) {
            return Err(PtauError::Inconsistent("tauG2[0] is not the generator of G2"));
        }
        let (Some(&tau_g2), Some(&tau_g1)) = (self.tau_g2.get(1), self.tau_g1.get(1)) else {
            return Err(PtauError::Inconsistent("fewer than two powers"));
        };
        // The G2 powers against τ·G1: e(τ·G1, Σ rᵢ·Qᵢ) = e(G1, Σ rᵢ·Qᵢ₊₁).
        let (lo, hi) = consecutive::<G2Projective>(&self.tau_g2, rng);
        same(Bn254::pairing(tau_g1, lo) == Bn254::pairing(g1, hi), "tauG2 is not a sequence of powers of τ")?;
        // e(Σ rᵢ·Pᵢ₊₁, G2) = e(Σ rᵢ·Pᵢ, τ·G2) holds for every r exactly when Pᵢ₊₁ = τ·Pᵢ.
        shifted(&self.tau_g1, tau_g2, rng, "tauG1 is not a sequence of powers of the τ of tauG2[1]")?;
        shifted(&self.alpha_tau_g1, tau_g2, rng, "alphaTauG1 is not α times the powers of τ")?;
        shifted(&self.beta_tau_g1, tau_g2, rng, "betaTauG1 is not β times the powers of τ")?;
        let beta_g1 = self.beta_tau_g1.first().ok_or(PtauError::Inconsistent("no betaTauG1"))?;
        same(Bn254::pairing(*beta_g1, g2) == Bn254::pairing(g1, self.beta_g2), "betaG2 is not the β of betaTauG1")?;
        let Some(l) = &self.lagrange else { return Ok(()) };
        same(basis_of::<G1Projective>(&l.tau_g1, &self.tau_g1, rng), "lTauG1 is not tauG1 in the Lagrange basis")?;
        same(basis_in_g2_of(&l.tau_g2, &self.tau_g1, rng), "lTauG2 is not tauG2 in the Lagrange basis")?;
        same(
            basis_of::<G1Projective>(&l.alpha_tau_g1, &self.alpha_tau_g1, rng),
            "lAlphaTauG1 is not alphaTauG1 in the Lagrange basis",
        )?;
        same(
            basis_of::<G1Projective>(&l.beta_tau_g1, &self.beta_tau_g1, rng),
            "lBetaTauG1 is not betaTauG1 in the Lagrange basis",
        )
    }
}

/// How many random combinations `all_in_g2` checks.
const SUBGROUP_ROUNDS: usize = 10;

/// Checks that every point of `points` (each on the twist) is in G2, by batches: the twist's
/// group is G2 × H with |H| = h, the cofactor, prime to r, so Σ ρᵢ·Qᵢ is in G2 exactly when
/// Σ ρᵢ·π(Qᵢ) = 0, π the projection onto H. If some π(Qᵢ) ≠ 0, it has a nonzero component of
/// order q for a prime q | h, and for uniform 16-bit ρᵢ that component of the sum vanishes with
/// probability ≤ ⌈2¹⁶/q⌉/2¹⁶: 7/2¹⁶ for h's smallest prime factor, 10,069 (h = 10,069 ·
/// 5,864,401 · 1,875,725,156,269 · a 178-bit prime), 2⁻¹⁶ for the others. Ten independent
/// combinations let a point outside G2 through with probability ≤ (7/2¹⁶)¹⁰ < 2⁻¹³¹, for an
/// MSM over 16-bit scalars each: a fifth of the work of a check per point (a multiplication by
/// 6x², 128 bits; Scott, "A note on group membership tests for G1, G2 and GT on BLS pairing-
/// friendly curves", ePrint 2021/1130, and ePrint 2022/352 §4.3 for BN254). One combination
/// would not do: with 128-bit ρᵢ a component of order 10,069 still vanishes with probability
/// 1/10,069. A list of at most ten points (β·G2), or one a batch refused, is checked point by
/// point: exactly, and naming the first outside G2.
pub(crate) fn all_in_g2(points: &[G2Affine], what: &'static str, rng: &mut impl Rng) -> Result<(), PtauError> {
    let in_g2 = |p: &G2Affine| p.is_in_correct_subgroup_assuming_on_curve();
    let batch_ok = points.len() > SUBGROUP_ROUNDS
        && (0..SUBGROUP_ROUNDS).all(|_| {
            let mut rho = vec![0u16; points.len()];
            rng.fill(&mut rho[..]);
            in_g2(&G2Projective::msm_u16(points, &rho).into_affine())
        });
    if batch_ok {
        return Ok(());
    }
    match points.par_iter().position_first(|p| !in_g2(p)) {
        None => Ok(()),
        Some(index) => Err(PtauError::NotAPoint { what, index, group: "G2" }),
    }
}

/// Whether `lagrange` is `monomial` in the Lagrange basis of its domain: for random rⱼ,
/// Σ rⱼ·Lⱼ(τ)·G is p(τ)·G for the polynomial p that takes the values r on the domain, whose
/// coefficients c = IFFT(r) give it from the monomials as Σ cₖ·τᵏ·G. Two MSMs instead of an FFT
/// over points.
fn basis_of<G: CurveGroup<ScalarField = Fr>>(
    lagrange: &[G::Affine],
    monomial: &[G::Affine],
    rng: &mut impl Rng,
) -> bool {
    let Some((r, c)) = interpolation(lagrange.len(), monomial.len(), rng) else { return false };
    let Some(monomial) = monomial.get(..r.len()) else { return false };
    G::msm_unchecked(lagrange, &r) == G::msm_unchecked(monomial, &c)
}

/// [`basis_of`] for a list in G2 against the powers in G1: e(G1, Σ rⱼ·Lⱼ(τ)·G2) = e(Σ cₖ·τᵏ·G1,
/// G2), for points of G2 (`all_in_g2` first). A G1 MSM instead of a G2 one, and no τ·G2 list.
fn basis_in_g2_of(lagrange: &[G2Affine], tau_g1: &[G1Affine], rng: &mut impl Rng) -> bool {
    let Some((r, c)) = interpolation(lagrange.len(), tau_g1.len(), rng) else { return false };
    let Some(tau_g1) = tau_g1.get(..r.len()) else { return false };
    let (l, m) = rayon::join(|| G2Projective::msm_unchecked(lagrange, &r), || G1Projective::msm_unchecked(tau_g1, &c));
    Bn254::pairing(G1Affine::generator(), l) == Bn254::pairing(m, G2Affine::generator())
}

/// Random values r on the domain of `n` points and the coefficients c = IFFT(r) of the polynomial
/// that takes them; `None` unless `n` is a power of two and there are `monomials` ≥ n powers.
fn interpolation(n: usize, monomials: usize, rng: &mut impl Rng) -> Option<(Vec<Fr>, Vec<Fr>)> {
    let domain = GeneralEvaluationDomain::<Fr>::new(n).filter(|d| d.size() == n && monomials >= n)?;
    let r = coefficients(n, rng);
    let c = domain.ifft(&r);
    Some((r, c))
}

/// Checks that `points` is a geometric sequence in the τ of `tau_g2` = τ·G2.
fn shifted(points: &[G1Affine], tau_g2: G2Affine, rng: &mut impl Rng, what: &'static str) -> Result<(), PtauError> {
    let (lo, hi) = consecutive::<G1Projective>(points, rng);
    same(Bn254::pairing(hi, G2Affine::generator()) == Bn254::pairing(lo, tau_g2), what)
}

fn same(ok: bool, what: &'static str) -> Result<(), PtauError> {
    if ok { Ok(()) } else { Err(PtauError::Inconsistent(what)) }
}

/// 128-bit random coefficients: enough for the Schwartz–Zippel bound, half the cost of full ones.
/// Drawn in one call: from the OS, a call per coefficient was a system call each.
pub(super) fn coefficients(n: usize, rng: &mut impl Rng) -> Vec<Fr> {
    let mut r = vec![0u128; n];
    rng.fill(&mut r[..]);
    r.into_iter().map(Fr::from).collect()
}

/// (Σ rᵢ·Pᵢ, Σ rᵢ·Pᵢ₊₁) over the consecutive pairs of `points`, for random rᵢ (zeros for fewer
/// than two points).
fn consecutive<G: CurveGroup<ScalarField = Fr>>(points: &[G::Affine], rng: &mut impl Rng) -> (G::Affine, G::Affine) {
    let (Some((_, init)), Some((_, tail))) = (points.split_last(), points.split_first()) else {
        return (G::Affine::zero(), G::Affine::zero());
    };
    let r = coefficients(init.len(), rng);
    (G::msm_unchecked(init, &r).into_affine(), G::msm_unchecked(tail, &r).into_affine())
}

/// A reader that hashes every byte it hands out.
struct Hashing {
    inner: BufReader<File>,
    hash: Blake2b512,
}

impl Hashing {
    fn exact(&mut self, buf: &mut [u8], what: &'static str) -> Result<(), PtauError> {
        self.inner.read_exact(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => PtauError::Truncated(what),
            _ => PtauError::Io(e),
        })?;
        self.hash.update(&*buf);
        Ok(())
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, PtauError> {
        let mut b = [0u8; 4];
        self.exact(&mut b, what)?;
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, PtauError> {
        let mut b = [0u8; 8];
        self.exact(&mut b, what)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Reads `n` bytes through the hash without keeping them.
    fn skip(&mut self, mut n: u64, what: &'static str) -> Result<(), PtauError> {
        let mut buf = vec![0u8; 1 << 16];
        while n > 0 {
            let k = n.min(buf.len() as u64) as usize;
            self.exact(buf.split_at_mut(k).0, what)?;
            n -= k as u64;
        }
        Ok(())
    }
}
