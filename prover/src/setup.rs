//! `zkml setup` on a compiled model directory. A development setup writes keys from a seed. A
//! production setup is a phase-2 ceremony (`wrap::phase2`) on a Powers-of-Tau file: `from_ptau`
//! writes the keys in their initial state (not safe yet) with DIR/phase2.bin, the ceremony's
//! record; each `contribute`, and a final `beacon`, rewrites the keys and appends to the record;
//! `verify` checks the whole chain against the ptau and the model. The directory's key files are
//! the ceremony's state: contributors pass it on in turn as one file (`export`, `import`), each
//! step verifiable by anyone (docs/setup.md).

#![warn(missing_docs)]

use std::path::Path;

use blake2::{Blake2b512, Digest};
use rand::rngs::{OsRng, StdRng};
use rand::{RngCore, SeedableRng};

use crate::artifact::{self, ArtifactError, Compiled, PHASE2_FILE, Provenance};
use crate::wrap::groth16::R1cs;
use crate::wrap::phase2::{self, Keys, Phase2Error, Record};
use crate::wrap::ptau::{self, PtauError};
use crate::wrap::{self, WrapError};

/// Why a setup step failed; each message names the file or directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// A model or key file could not be read or written.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// The wrap circuit could not be built.
    #[error(transparent)]
    Wrap(#[from] WrapError),
    /// The Powers-of-Tau file is refused.
    #[error("{path}: {error}")]
    Ptau {
        /// The file.
        path: String,
        /// Why.
        error: PtauError,
    },
    /// A ceremony step or its record is refused.
    #[error(transparent)]
    Phase2(#[from] Phase2Error),
    /// A ceremony step on development keys.
    #[error("{dir} holds keys from a development setup, not a ceremony: start one with `zkml setup {dir} --ptau FILE`")]
    NotACeremony {
        /// The model directory.
        dir: String,
    },
    /// Keys, matrices or record that do not belong together (what does not match).
    #[error("{0}")]
    Mismatch(String),
    /// A file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// An exported ceremony state that does not unpack.
    #[error("{path} is not a ceremony's state as `zkml setup export` writes it: {reason}")]
    State {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// What `from_ptau` found and wrote.
pub struct CeremonyStart {
    /// The power of the circuit's domain (the file may be larger).
    pub power: u32,
    /// The Powers-of-Tau file's BLAKE2b-512.
    pub ptau_blake2b: [u8; 64],
    /// The published Hermez file it is, if it is one.
    pub hermez: Option<&'static str>,
    /// pk.bin's size in bytes.
    pub pk_size: u64,
}

/// What a setup wrote: pk.bin's size, and the size of the circuit the keys are for (its
/// constraints and the power of two of its domain, what proving time follows).
pub struct Written {
    /// pk.bin's size in bytes.
    pub pk_size: u64,
    /// The wrap circuit's constraints.
    pub constraints: usize,
    /// `log₂` of its evaluation domain.
    pub power: u32,
}

/// Keys from `seed` (UNSAFE: whoever knows it can forge proofs).
pub fn dev(dir: &Path, seed: u64) -> Result<Written, SetupError> {
    dev_keys(&Compiled::load(dir)?, dir, seed)
}

/// [`dev`]'s keys for the compiled model `c`, written to `dir` (`zkml bench` writes them to a
/// scratch directory).
pub fn dev_keys(c: &Compiled, dir: &Path, seed: u64) -> Result<Written, SetupError> {
    let (key, _) = wrap::two_round::dev_setup(&c.graph, c.id, seed)?;
    let pk_size = artifact::write_keys(dir, &key.pk, &key.ck, &key.r1cs, &Provenance::Dev { seed })?;
    Ok(Written { pk_size, constraints: key.r1cs.num_constraints(), power: key.r1cs.power().map_err(WrapError::from)? })
}

/// Writes the wrap circuit of the model in `dir` to `out` in iden3's `.r1cs` format, for snarkjs
/// and the circom tools; returns its number of constraints. `snarkjs zkey new` on it derives the
/// verifying key `from_ptau` does: snarkjs takes the round-1 wires for plain witnesses, and the
/// initial keys put them over δ₁ = 1 = δ.
pub fn export_r1cs(dir: &Path, out: &Path) -> Result<usize, SetupError> {
    let c = Compiled::load(dir)?;
    let r1cs = wrap::two_round::synthesize(&c.graph, c.id)?;
    let io = |error| SetupError::Io { path: out.display().to_string(), error };
    let mut w = std::io::BufWriter::new(std::fs::File::create(out).map_err(io)?);
    r1cs.write_iden3(&mut w).map_err(WrapError::from)?;
    std::io::Write::flush(&mut w).map_err(io)?;
    Ok(r1cs.num_constraints())
}

/// Keys in phase 2's initial state from the Powers-of-Tau file `ptau`, and the ceremony's record.
/// Not safe until someone contributes.
pub fn from_ptau(dir: &Path, ptau: &Path) -> Result<CeremonyStart, SetupError> {
    let c = Compiled::load(dir)?;
    from_ptau_for(dir, wrap::two_round::synthesize(&c.graph, c.id)?, ptau)
}

/// [`from_ptau`] for `r1cs`, the wrap circuit of the model in `dir` (`two_round::synthesize`),
/// which a caller that has synthesized it already passes instead of loading the model again.
pub fn from_ptau_for(dir: &Path, r1cs: R1cs, ptau: &Path) -> Result<CeremonyStart, SetupError> {
    let power = r1cs.power().map_err(WrapError::from)?;
    let powers = read_ptau(ptau, power)?;
    let keys = phase2::initial_keys(&powers, &r1cs).map_err(Phase2Error::from)?;
    let record = Record::new(phase2::origin(&powers.file_hash, &r1cs));
    let (ptau_blake2b, hermez) = (powers.file_hash, ptau::hermez_file(&powers.file_hash));
    drop(powers);
    let ceremony = Ceremony { ptau_blake2b: hex::encode(ptau_blake2b), hermez: hermez.map(str::to_string) };
    let pk_size = ceremony.save(dir, &keys, &r1cs, &record)?;
    Ok(CeremonyStart { power, ptau_blake2b, hermez, pk_size })
}

/// Adds a contribution with a secret from the operating system's randomness, `entropy` mixed in;
/// returns its hash.
pub fn contribute(dir: &Path, entropy: Option<&[u8]>) -> Result<[u8; 64], SetupError> {
    let (ceremony, mut keys, r1cs, mut record) = Ceremony::load(dir)?;
    let mut os = [0u8; 64];
    OsRng.fill_bytes(&mut os);
    let seed = Blake2b512::new().chain_update(os).chain_update(entropy.unwrap_or_default()).finalize();
    let mut seed32 = [0u8; 32];
    seed32.copy_from_slice(&seed[..32]);
    let hash = phase2::contribute(&mut keys, &mut record, &mut StdRng::from_seed(seed32));
    ceremony.save(dir, &keys, &r1cs, &record)?;
    Ok(hash)
}

/// Adds the final public randomness: `value` hashed 2^`iterations` times; returns its hash.
pub fn beacon(dir: &Path, value: &[u8], iterations: u32) -> Result<[u8; 64], SetupError> {
    let (ceremony, mut keys, r1cs, mut record) = Ceremony::load(dir)?;
    let hash = phase2::beacon(&mut keys, &mut record, value, iterations)?;
    ceremony.save(dir, &keys, &r1cs, &record)?;
    Ok(hash)
}

/// Checks that the keys in `dir` are the model's wrap circuit's keys derived from `ptau` and then
/// updated by every contribution its record lists, and that vk.bin and vk.json agree; returns
/// the contributions' hashes in order.
pub fn verify(dir: &Path, ptau: &Path) -> Result<Vec<[u8; 64]>, SetupError> {
    let c = Compiled::load(dir)?;
    let (ceremony, keys, r1cs, record) = Ceremony::load(dir)?;
    if r1cs != wrap::two_round::synthesize(&c.graph, c.id)? {
        return Err(SetupError::Mismatch(format!(
            "{}/r1cs.bin is not the wrap circuit of the model in {}",
            dir.display(),
            dir.display()
        )));
    }
    let powers = read_ptau(ptau, r1cs.power().map_err(WrapError::from)?)?;
    if hex::encode(powers.file_hash) != ceremony.ptau_blake2b {
        return Err(SetupError::Mismatch(format!(
            "vk.json records a ceremony on the ptau with BLAKE2b {}, but {} is {}",
            ceremony.ptau_blake2b,
            ptau.display(),
            hex::encode(powers.file_hash)
        )));
    }
    let hashes = phase2::verify(&powers, &r1cs, &keys, &record, &mut OsRng)?;
    let vk = artifact::read_verifier_key(dir)?;
    if vk.groth16 != keys.pk.vk || Some(vk.delta1_g2) != keys.ck.as_ref().map(|ck| ck.delta1_g2) {
        return Err(SetupError::Mismatch(format!("{}/vk.bin is not pk.bin's verifying key", dir.display())));
    }
    Ok(hashes)
}

/// The files that hold a ceremony's state, in the order a step renames them into place and an
/// exported state holds them.
const STATE_FILES: [&str; 5] =
    [artifact::PK_FILE, artifact::R1CS_FILE, artifact::VK_FILE, PHASE2_FILE, artifact::VK_JSON];

/// Writes the state of the ceremony in `dir` to `out` as one file, for the next participant
/// (`import`): a tar archive of its key files and record, streamed (lenet's pk.bin is 55 MB) and
/// deterministic (no dates, owners or modes), so the same state gives the same bytes. Returns the
/// number of contributions so far.
pub fn export(dir: &Path, out: &Path) -> Result<usize, SetupError> {
    let Some(Provenance::Ceremony { contributions, .. }) = artifact::read_provenance(dir)? else {
        return Err(SetupError::NotACeremony { dir: dir.display().to_string() });
    };
    read_record(dir, &contributions)?;
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |error| SetupError::Io { path, error }
    };
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let file = tempfile::NamedTempFile::new_in(parent).map_err(io(out))?;
    let mut archive = tar::Builder::new(std::io::BufWriter::new(file));
    for name in STATE_FILES {
        let path = dir.join(name);
        let f = std::fs::File::open(&path).map_err(io(&path))?;
        let mut header = tar::Header::new_ustar();
        header.set_size(f.metadata().map_err(io(&path))?.len());
        header.set_mode(0o644);
        archive.append_data(&mut header, name, f).map_err(io(out))?;
    }
    let file = archive.into_inner().map_err(io(out))?.into_inner().map_err(|e| io(out)(e.into_error()))?;
    file.persist(out).map_err(|e| io(out)(e.error))?;
    Ok(contributions.len())
}

/// Makes the ceremony state in `file` (`export`'s) the keys of the model directory `dir`,
/// replacing any there; returns its number of contributions. Refused, leaving `dir` as it was: an
/// entry other than the five state files (a path elsewhere included), a file missing or twice, a
/// truncated archive, dev keys, a record that is not the one vk.json lists or whose chain does
/// not end at vk.bin's δ and δ₁. That the keys derive from the ptau and the model is `verify`'s
/// to check, which a participant runs before contributing.
pub fn import(dir: &Path, file: &Path) -> Result<usize, SetupError> {
    let state = |reason: String| SetupError::State { path: file.display().to_string(), reason };
    if !dir.is_dir() {
        return Err(SetupError::Io {
            path: dir.display().to_string(),
            error: std::io::Error::new(std::io::ErrorKind::NotFound, "no such model directory"),
        });
    }
    let f = std::fs::File::open(file).map_err(|error| SetupError::Io { path: file.display().to_string(), error })?;
    let tmp = tempfile::tempdir_in(dir)
        .map_err(|e| ArtifactError::Write { path: dir.display().to_string(), reason: e.to_string() })?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(f));
    let mut found = Vec::new();
    for entry in archive.entries().map_err(|e| state(e.to_string()))? {
        let mut entry = entry.map_err(|e| state(e.to_string()))?;
        let path = entry.path().map_err(|e| state(e.to_string()))?.display().to_string();
        // Only the state's own names, each once: the archive never chooses where a file goes.
        let Some(name) = STATE_FILES.into_iter().find(|n| *n == path) else {
            return Err(state(format!("it holds {path:?}, which is not one of {STATE_FILES:?}")));
        };
        if found.contains(&name) || entry.header().entry_type() != tar::EntryType::Regular {
            return Err(state(format!("{name} is there twice, or not as a plain file")));
        }
        let target = tmp.path().join(name);
        let mut out = std::fs::File::create(&target)
            .map_err(|error| SetupError::Io { path: target.display().to_string(), error })?;
        let size = entry.header().size().map_err(|e| state(e.to_string()))?;
        let copied = std::io::copy(&mut entry, &mut out).map_err(|e| state(format!("{name}: {e}")))?;
        if copied != size {
            return Err(state(format!("{name} is cut short ({copied} of its {size} bytes)")));
        }
        found.push(name);
    }
    let missing: Vec<&str> = STATE_FILES.into_iter().filter(|n| !found.contains(n)).collect();
    if !missing.is_empty() {
        return Err(state(format!("{missing:?} missing")));
    }
    let Some(Provenance::Ceremony { contributions, .. }) = artifact::read_provenance(tmp.path())? else {
        return Err(state("its vk.json records no ceremony (dev keys are not a ceremony's state)".into()));
    };
    let record = read_record(tmp.path(), &contributions)?;
    let vk = artifact::read_verifier_key(tmp.path())?;
    // pk.bin's δ·G1s, which the chain also gives, are `verify`'s to check (with the rest of it).
    let _delta_g1s = phase2::check_record(&record, &vk.groth16.delta_g2, Some(&vk.delta1_g2))?;
    move_state(tmp.path(), dir)?;
    Ok(contributions.len())
}

/// Renames the state files from `from` into `dir`.
fn move_state(from: &Path, dir: &Path) -> Result<(), SetupError> {
    for f in STATE_FILES {
        std::fs::rename(from.join(f), dir.join(f))
            .map_err(|e| ArtifactError::Write { path: dir.join(f).display().to_string(), reason: e.to_string() })?;
    }
    Ok(())
}

/// How far a model directory's keys can be trusted without the ptau: what `zkml-gen` checks
/// before it renders a verifier of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trust {
    /// A ceremony with this many contributions (at least one), whose chain checks and ends at
    /// the verifying key's δ (that the keys derive from the ptau is `verify`'s to check).
    Ceremony {
        /// Its contributions.
        contributions: usize,
    },
    /// Keys someone can forge proofs for, and why.
    Unsafe(String),
}

/// Classifies the keys of `dir`, whose verifying key is `vk` (with `[δ₁]₂` for a two-round key);
/// an error for a ceremony whose record does not check (a relabelled or tampered key).
pub fn trust(
    dir: &Path,
    vk: &ark_groth16::VerifyingKey<ark_bn254::Bn254>,
    delta1_g2: Option<&ark_bn254::G2Affine>,
) -> Result<Trust, SetupError> {
    if !dir.join(artifact::VK_JSON).exists() {
        return Ok(Trust::Unsafe(format!(
            "{} has no vk.json: nothing records where its keys came from",
            dir.display()
        )));
    }
    Ok(match artifact::read_provenance(dir)? {
        None => Trust::Unsafe(format!(
            "{}/vk.json records no setup (keys from an older zkml, or made by hand)",
            dir.display()
        )),
        Some(Provenance::Dev { seed }) => Trust::Unsafe(format!(
            "a development setup (zkml setup --dev-seed {seed}): anyone who knows the seed can forge proofs"
        )),
        Some(Provenance::Ceremony { contributions, .. }) if contributions.is_empty() => Trust::Unsafe(
            "a ceremony's initial state, with no contribution yet: its δ is public, so anyone can forge proofs".into(),
        ),
        Some(Provenance::Ceremony { contributions, .. }) => {
            let record = read_record(dir, &contributions)?;
            // The chain ends at the key's δ (and a two-round key's δ₁); the δ·G1s are the proving
            // key's business.
            let _delta_g1s = phase2::check_record(&record, &vk.delta_g2, delta1_g2)?;
            Trust::Ceremony { contributions: contributions.len() }
        }
    })
}

/// DIR/phase2.bin, refused unless its contributions are the ones vk.json lists.
fn read_record(dir: &Path, listed: &[String]) -> Result<Record, SetupError> {
    let record: Record = artifact::read_key(&dir.join(PHASE2_FILE))?;
    if record.hashes().iter().map(hex::encode).ne(listed.iter().cloned()) {
        return Err(SetupError::Mismatch(format!(
            "{}/phase2.bin and vk.json list different contributions: the directory mixes two ceremonies' files",
            dir.display()
        )));
    }
    Ok(record)
}

fn read_ptau(path: &Path, power: u32) -> Result<ptau::Powers, SetupError> {
    ptau::read(path, power, &mut OsRng).map_err(|error| SetupError::Ptau { path: path.display().to_string(), error })
}

/// The part of vk.json's provenance that stays the same through a ceremony.
struct Ceremony {
    ptau_blake2b: String,
    hermez: Option<String>,
}

impl Ceremony {
    /// The keys, matrices and record of the ceremony in `dir`, refusing a record that vk.json
    /// does not list.
    fn load(dir: &Path) -> Result<(Self, Keys, R1cs, Record), SetupError> {
        let Some(Provenance::Ceremony { ptau_blake2b, hermez, contributions }) = artifact::read_provenance(dir)? else {
            return Err(SetupError::NotACeremony { dir: dir.display().to_string() });
        };
        let k = artifact::read_prover_keys(dir, None)?;
        let (keys, r1cs) = (Keys { pk: k.pk, ck: Some(k.ck) }, k.r1cs);
        let record = read_record(dir, &contributions)?;
        Ok((Ceremony { ptau_blake2b, hermez }, keys, r1cs, record))
    }

    /// Writes the keys, vk.json and the record, each first under a temporary name and then
    /// renamed, so that an interrupted step leaves the directory as it was or nearly so.
    fn save(&self, dir: &Path, keys: &Keys, r1cs: &R1cs, record: &Record) -> Result<u64, SetupError> {
        let tmp = tempfile::tempdir_in(dir)
            .map_err(|e| ArtifactError::Write { path: dir.display().to_string(), reason: e.to_string() })?;
        let setup = Provenance::Ceremony {
            ptau_blake2b: self.ptau_blake2b.clone(),
            hermez: self.hermez.clone(),
            contributions: record.hashes().iter().map(hex::encode).collect(),
        };
        // phase2 runs ceremonies of plain Groth16 keys too; a model's wrap keys have round 1.
        let ck = keys.ck.as_ref().ok_or_else(|| {
            SetupError::Mismatch(format!("the wrap circuit of {} has no round-1 wires", dir.display()))
        })?;
        let size = artifact::write_keys(tmp.path(), &keys.pk, ck, r1cs, &setup)?;
        artifact::write_key(&tmp.path().join(PHASE2_FILE), record)?;
        move_state(tmp.path(), dir)?;
        Ok(size)
    }
}
