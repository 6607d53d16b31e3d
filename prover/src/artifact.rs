//! Files: EZKL-style input JSON, the compiled model directory and the proof file.

#![warn(missing_docs)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use ark_bn254::Bn254;
use ark_groth16::{ProvingKey, VerifyingKey};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use serde::{Deserialize, Serialize};
use sha3::{Digest, Sha3_256};

use crate::ir::QuantGraph;
use crate::stage1::{Stage1Proof, model_id};
use crate::wrap::groth16::{self, CommitKey, R1cs};
use crate::wrap::{Scheme, two_round};

/// The compiled model directory's quantized graph (`QuantGraph` as JSON; its hash is the model id).
pub const MODEL_FILE: &str = "model.json";
/// The compiled model's readable description (`Settings`).
pub const SETTINGS_FILE: &str = "settings.json";
/// The ONNX model it was compiled from, copied in (the float reference).
pub const ONNX_FILE: &str = "model.onnx";
const PROOF_MAGIC: &[u8; 8] = b"ZKMLPRF1";
/// The one-round wrap's proofs, which zkml made before its wrap became two-round: recognised, to
/// say so, and refused.
const ONE_ROUND_MAGIC: &[u8; 8] = b"ZKMLWRP1";
const TWO_ROUND_MAGIC: &[u8; 8] = b"ZKMLWRP2";
/// The wrap's proving key, then the round-1 commitment key (`write_keys`).
pub const PK_FILE: &str = "pk.bin";
/// The wrap's verifying key, then `[δ₁]₂`.
pub const VK_FILE: &str = "vk.bin";
/// The verifying key in readable form, with the key files' digests and their provenance.
pub const VK_JSON: &str = "vk.json";
/// The wrap circuit's matrices, which proving reads instead of synthesizing them again.
pub const R1CS_FILE: &str = "r1cs.bin";
/// A ceremony's phase-2 state (`zkml setup --ptau`, `contribute`, `beacon`).
pub const PHASE2_FILE: &str = "phase2.bin";

/// Why a file could not be read or written; each message names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The file could not be read (missing, unreadable).
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The file or directory could not be written.
    #[error("cannot write {path}: {reason}")]
    Write {
        /// The file or directory.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// An input file that is not `{"input_data": [[...]]}` with values.
    #[error("{path} is not an input file: {reason} (expected JSON like {{\"input_data\": [[0.1, 0.2, ...]]}})")]
    Input {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A directory without a compiled model, or whose files disagree.
    #[error("{path} is not a compiled model directory: {reason} (run `zkml compile` first)")]
    NotCompiled {
        /// The directory.
        path: String,
        /// What is missing or inconsistent.
        reason: String,
    },
    /// A file without either proof header.
    #[error("{path} is not a zkml proof file: it does not start with the proof header")]
    NotAProof {
        /// The file.
        path: String,
    },
    /// A proof file whose body does not decode (or a proof of the wrong kind or version).
    #[error("{path} is a corrupt proof: {reason}")]
    CorruptProof {
        /// The file.
        path: String,
        /// Why it does not decode.
        reason: String,
    },
    /// A key file that does not decode, has trailing bytes or invalid points.
    #[error("{path} is a corrupt or foreign key file: {reason}")]
    CorruptKey {
        /// The file.
        path: String,
        /// Why it is refused.
        reason: String,
    },
    /// The model directory has no keys yet.
    #[error("{path} does not exist: run `zkml setup` on the model directory first")]
    NoKeys {
        /// The key file looked for.
        path: String,
    },
    /// A key file whose digest or contents do not match the rest of the keys.
    #[error("{path} does not belong to this model's keys: {reason}")]
    ForeignKey {
        /// The file.
        path: String,
        /// What does not match.
        reason: String,
    },
    /// Keys of a scheme this version does not prove or verify with.
    #[error("the keys in {dir} are {found} keys: {reason}")]
    Scheme {
        /// The model directory.
        dir: String,
        /// The scheme vk.json records.
        found: Scheme,
        /// What to do instead.
        reason: String,
    },
}

fn read(path: &Path) -> Result<Vec<u8>, ArtifactError> {
    std::fs::read(path).map_err(|e| ArtifactError::Read { path: path.display().to_string(), reason: e.to_string() })
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), ArtifactError> {
    std::fs::write(path, bytes)
        .map_err(|e| ArtifactError::Write { path: path.display().to_string(), reason: e.to_string() })
}

#[derive(Serialize, Deserialize)]
struct InputFile {
    input_data: Vec<Vec<f64>>,
}

/// Reads `{"input_data": [[...], ...]}`: one or more flattened inputs.
pub fn read_inputs(path: &Path) -> Result<Vec<Vec<f64>>, ArtifactError> {
    parse_inputs(&read(path)?).map_err(|reason| ArtifactError::Input { path: path.display().to_string(), reason })
}

/// Parses `{"input_data": [[...], ...]}` from memory (a request's body); the error says why not.
pub fn parse_inputs(bytes: &[u8]) -> Result<Vec<Vec<f64>>, String> {
    let f: InputFile = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if f.input_data.is_empty() || f.input_data.iter().any(|v| v.is_empty()) {
        return Err("input_data holds no values".into());
    }
    Ok(f.input_data)
}

/// Writes `{"output_data": [outputs]}`, EZKL's output format.
pub fn write_outputs(path: &Path, outputs: &[f64]) -> Result<(), ArtifactError> {
    let json = serde_json::json!({ "output_data": [outputs] });
    write(path, serde_json::to_string_pretty(&json).expect("json").as_bytes())
}

/// The human-readable description of a compiled model.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    /// The zkml version that compiled it.
    pub zkml_version: String,
    /// `model_id` of the graph, in decimal: the wrap's first public input.
    pub model_id: String,
    /// The model's input tensor.
    pub input: TensorSettings,
    /// The model's output tensor.
    pub output: TensorSettings,
    /// The width of the function tables' domains (`zkml compile --lookup-bits`).
    pub lookup_bits: u32,
    /// The width weights are quantized to (`--weight-bits`).
    pub weight_bits: u32,
    /// The ONNX operators the model uses.
    pub ops: Vec<String>,
    /// The lookup tables, as `kind (bits)`.
    pub tables: Vec<String>,
    /// How many values a stage-1 proof carries as advice (multiplicities included).
    pub advice_values: usize,
    /// The quantized graph's linear nodes.
    pub linear_nodes: usize,
    /// The requantizations (rescalings after products) it proves.
    pub requantizations: usize,
    /// How the quantized model compares with the float reference on the calibration inputs.
    pub calibration: CalibrationReport,
    /// Public inputs of a wrapped proof, in order.
    pub public_inputs: Vec<PublicInputSettings>,
}

/// One entry of the wrap's public inputs, as a verifier contract reads them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PublicInputSettings {
    /// `model_id`, `context`, `input` or `output` (`input_commitment`, `output_commitment` when
    /// hashed).
    pub name: String,
    /// Its first public input's index.
    pub index: usize,
    /// How many public inputs it takes.
    pub count: usize,
    /// For packed tensors: values per field element, slot width, signedness (offset `2^(bits−1)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packing: Option<Packing>,
}

/// How a public tensor's values are packed into field elements (`pack.rs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Packing {
    /// The tensor's values (logical positions).
    pub values: usize,
    /// Values per field element.
    pub per_element: usize,
    /// Each slot's width in bits.
    pub slot_bits: u32,
    /// Whether values are signed (stored offset by `2^(slot_bits − 1)`).
    pub signed: bool,
    /// Values are `round(x · 2^scale)`.
    pub scale: i32,
}

/// The model's input or output tensor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorSettings {
    /// Its name in the ONNX graph.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Values are `round(x · 2^scale)`.
    pub scale: i32,
    /// `public`, `hashed` (a salted commitment is public) or `private`.
    pub visibility: String,
}

/// Quantized outputs against the float reference (tract) on the calibration inputs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CalibrationReport {
    /// The calibration inputs.
    pub samples: usize,
    /// The largest absolute difference of an output value.
    pub max_abs_error: f64,
    /// The fraction of inputs whose outputs have the same argmax.
    pub argmax_agreement: f64,
}

/// A compiled model directory, loaded once.
pub struct Compiled {
    /// The directory.
    pub dir: PathBuf,
    /// The quantized graph (model.json).
    pub graph: QuantGraph,
    /// `model_id(&graph)`.
    pub id: crate::field::F,
    /// settings.json.
    pub settings: Settings,
}

impl Compiled {
    /// Writes a compiled model directory: model.json, settings.json and a copy of the ONNX file.
    pub fn write(dir: &Path, graph: &QuantGraph, settings: &Settings, onnx: &Path) -> Result<(), ArtifactError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| ArtifactError::Write { path: dir.display().to_string(), reason: e.to_string() })?;
        write(&dir.join(MODEL_FILE), &serde_json::to_vec(graph).expect("graph serializes"))?;
        write(
            &dir.join(SETTINGS_FILE),
            serde_json::to_string_pretty(settings).expect("settings serialize").as_bytes(),
        )?;
        if onnx != dir.join(ONNX_FILE) {
            write(&dir.join(ONNX_FILE), &read(onnx)?)?;
        }
        Ok(())
    }

    /// Loads a compiled model directory; refuses one whose settings.json names another model
    /// than model.json hashes to.
    pub fn load(dir: &Path) -> Result<Self, ArtifactError> {
        let nc = |reason: String| ArtifactError::NotCompiled { path: dir.display().to_string(), reason };
        if !dir.is_dir() {
            return Err(nc("it is not a directory".into()));
        }
        let mp = dir.join(MODEL_FILE);
        let file = std::fs::File::open(&mp).map_err(|e| nc(format!("{}: {e}", mp.display())))?;
        let graph: QuantGraph =
            serde_json::from_reader(std::io::BufReader::new(file)).map_err(|e| nc(format!("{MODEL_FILE}: {e}")))?;
        graph.check().map_err(|e| nc(format!("{MODEL_FILE}: {e}")))?;
        let settings = read_settings(dir)?;
        let id = model_id(&graph);
        if settings.model_id != id.to_string() {
            return Err(nc(format!(
                "{SETTINGS_FILE} names model {} but {MODEL_FILE} hashes to another",
                settings.model_id
            )));
        }
        Ok(Compiled { dir: dir.to_path_buf(), graph, id, settings })
    }
}

/// Reads DIR/settings.json (as `zkml compile` writes it).
pub fn read_settings(dir: &Path) -> Result<Settings, ArtifactError> {
    let nc = |reason: String| ArtifactError::NotCompiled { path: dir.display().to_string(), reason };
    let bytes = std::fs::read(dir.join(SETTINGS_FILE)).map_err(|e| nc(format!("{SETTINGS_FILE}: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| nc(format!("{SETTINGS_FILE}: {e}")))
}

/// Writes a proof file: its header, then the proof compressed; returns its size.
fn tagged(magic: &[u8; 8], proof: &impl CanonicalSerialize) -> Vec<u8> {
    let mut bytes = magic.to_vec();
    proof.serialize_compressed(&mut bytes).expect("writing to memory");
    bytes
}

fn write_bytes(path: &Path, bytes: Vec<u8>) -> Result<usize, ArtifactError> {
    write(path, &bytes)?;
    Ok(bytes.len())
}

/// Writes a stage-1 proof file; returns its size.
pub fn write_proof(path: &Path, proof: &Stage1Proof) -> Result<usize, ArtifactError> {
    write_bytes(path, tagged(PROOF_MAGIC, proof))
}

/// Reads a stage-1 proof file (refusing a wrapped one).
pub fn read_proof(path: &Path) -> Result<Stage1Proof, ArtifactError> {
    match read_any_proof(path)? {
        AnyProof::Stage1(p) => Ok(p),
        AnyProof::TwoRound(_) => Err(ArtifactError::CorruptProof {
            path: path.display().to_string(),
            reason: "it is a wrapped (Groth16) proof, not a stage-1 proof".into(),
        }),
    }
}

/// A proof file's proof, of either kind.
#[allow(clippy::large_enum_variant, reason = "one per proof file, moved into place once")]
pub enum AnyProof {
    /// A stage-1 proof (its advice in the clear).
    Stage1(Stage1Proof),
    /// A wrapped, zero-knowledge Groth16 proof of the two-round wrap.
    TwoRound(two_round::Proof),
}

/// Writes a proof file of its kind; returns its size.
pub fn write_any_proof(path: &Path, proof: &AnyProof) -> Result<usize, ArtifactError> {
    write_bytes(path, encode_any_proof(proof))
}

/// A proof file's bytes, as `write_any_proof` writes them (a server sends them in its answer).
pub fn encode_any_proof(proof: &AnyProof) -> Vec<u8> {
    match proof {
        AnyProof::Stage1(p) => tagged(PROOF_MAGIC, p),
        AnyProof::TwoRound(p) => tagged(TWO_ROUND_MAGIC, p),
    }
}

/// Reads either kind of proof file, told apart by its header.
pub fn read_any_proof(path: &Path) -> Result<AnyProof, ArtifactError> {
    decode_any_proof(&read(path)?, &path.display().to_string())
}

/// Decodes a proof file's bytes (`encode_any_proof`'s), from `source` (a path, or what sent them:
/// errors name it).
pub fn decode_any_proof(bytes: &[u8], source: &str) -> Result<AnyProof, ArtifactError> {
    let p = source.to_string();
    let corrupt = |reason: String| ArtifactError::CorruptProof { path: p.clone(), reason };
    fn parse<T: CanonicalDeserialize>(mut body: &[u8]) -> Result<T, String> {
        let v = T::deserialize_compressed(&mut body).map_err(|e| e.to_string())?;
        if body.is_empty() { Ok(v) } else { Err(format!("{} trailing bytes", body.len())) }
    }
    if let Some(body) = bytes.strip_prefix(PROOF_MAGIC.as_slice()) {
        return parse(body).map(AnyProof::Stage1).map_err(corrupt);
    }
    if bytes.starts_with(ONE_ROUND_MAGIC) {
        return Err(corrupt(
            "it is a one-round wrapped proof, from a zkml before the two-round wrap; this version proves and \
             verifies two-round proofs only: prove again with keys from `zkml setup`"
                .into(),
        ));
    }
    if let Some(body) = bytes.strip_prefix(TWO_ROUND_MAGIC.as_slice()) {
        return parse(body).map(AnyProof::TwoRound).map_err(corrupt);
    }
    Err(ArtifactError::NotAProof { path: p })
}

/// A reader or writer that hashes (SHA3-256) the bytes passing through it, so that a key file is
/// hashed in the same pass that reads or writes it.
struct Hashing<T> {
    inner: T,
    hash: Sha3_256,
}

impl<T> Hashing<T> {
    fn new(inner: T) -> Self {
        Hashing { inner, hash: Sha3_256::new() }
    }
    fn hex(self) -> String {
        hex::encode(self.hash.finalize())
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The SHA3-256 digests of the key files, recorded in vk.json by `zkml setup`: vk.bin's is the
/// one to pin (`zkml prove --wrap --vk-digest`), the others tie what proving reads to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyFiles {
    /// pk.bin's, hex.
    #[serde(rename = "pk.bin")]
    pub pk: String,
    /// r1cs.bin's, hex.
    #[serde(rename = "r1cs.bin")]
    pub r1cs: String,
    /// vk.bin's, hex: the digest to pin.
    #[serde(rename = "vk.bin")]
    pub vk: String,
}

/// Writes a key file streaming through `body`; returns its size and SHA3-256.
fn write_hashed(
    path: &Path,
    body: impl FnOnce(&mut dyn Write) -> Result<(), String>,
) -> Result<(u64, String), ArtifactError> {
    let err = |e: String| ArtifactError::Write { path: path.display().to_string(), reason: e };
    let f = std::fs::File::create(path).map_err(|e| err(e.to_string()))?;
    let mut w = Hashing::new(std::io::BufWriter::new(f));
    body(&mut w).map_err(err)?;
    w.flush().map_err(|e| err(e.to_string()))?;
    let size = std::fs::metadata(path).map(|m| m.len()).map_err(|e| err(e.to_string()))?;
    Ok((size, w.hex()))
}

/// Reads a key file streaming through `body`, refusing trailing bytes; returns what `body`
/// read and the file's SHA3-256, hashed in the same pass.
fn read_hashed<T>(
    path: &Path,
    body: impl FnOnce(&mut dyn Read) -> Result<T, String>,
) -> Result<(T, String), ArtifactError> {
    let p = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|_| ArtifactError::NoKeys { path: p.clone() })?;
    let mut r = Hashing::new(std::io::BufReader::new(f));
    let v = body(&mut r).map_err(|reason| ArtifactError::CorruptKey { path: p.clone(), reason })?;
    if r.read(&mut [0u8; 1]).map_err(|e| ArtifactError::CorruptKey { path: p.clone(), reason: e.to_string() })? != 0 {
        return Err(ArtifactError::CorruptKey { path: p, reason: "trailing bytes".into() });
    }
    Ok((v, r.hex()))
}

/// Where a setup's keys came from, recorded in vk.json as `"setup"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Provenance {
    /// `zkml setup --dev-seed`: whoever knows the seed can forge proofs.
    Dev {
        /// The seed.
        seed: u64,
    },
    /// Phase 2 of a ceremony (`zkml setup --ptau`), DIR/phase2.bin holding its record.
    Ceremony {
        /// BLAKE2b-512 of the Powers-of-Tau file, as `b2sum` prints it.
        ptau_blake2b: String,
        /// The published Hermez file with that hash, if it is one.
        hermez: Option<String>,
        /// The contributions' hashes, in order; none means the keys are not safe yet.
        contributions: Vec<String>,
    },
}

/// Writes the keys of a setup: pk.bin and r1cs.bin (what proving reads), vk.bin and vk.json,
/// which records the others' digests, the wrap they are for and where the keys came from.
/// pk.bin holds the proving key, then the round-1 commitment key `ck`; vk.bin Groth16's verifying
/// key, then `[δ₁]₂`. Returns pk.bin's size.
pub fn write_keys(
    dir: &Path,
    pk: &ProvingKey<Bn254>,
    ck: &CommitKey,
    r1cs: &R1cs,
    setup: &Provenance,
) -> Result<u64, ArtifactError> {
    let (pk_size, pk_digest) = write_hashed(&dir.join(PK_FILE), |w| {
        pk.serialize_uncompressed(&mut *w).map_err(|e| e.to_string())?;
        ck.serialize_uncompressed(w).map_err(|e| e.to_string())
    })?;
    let (_, r1cs) = write_hashed(&dir.join(R1CS_FILE), |w| r1cs.write(w).map_err(|e| e.to_string()))?;
    let (_, vk_digest) = write_hashed(&dir.join(VK_FILE), |w| {
        pk.vk.serialize_compressed(&mut *w).map_err(|e| e.to_string())?;
        ck.delta1_g2.serialize_compressed(w).map_err(|e| e.to_string())
    })?;
    let files = KeyFiles { pk: pk_digest, r1cs, vk: vk_digest };
    let json = serde_json::to_string_pretty(&vk_json(&pk.vk, ck, &files, setup)).expect("json");
    write(&dir.join(VK_JSON), json.as_bytes())?;
    Ok(pk_size)
}

/// Where the keys in `dir` came from, as vk.json records it; None for keys from a zkml that did
/// not record it.
pub fn read_provenance(dir: &Path) -> Result<Option<Provenance>, ArtifactError> {
    #[derive(Deserialize)]
    struct Recorded {
        setup: Option<Provenance>,
    }
    read_vk_json::<Recorded>(dir).map(|r| r.setup)
}

/// vk.bin's SHA3-256 as vk.json records it: what `zkml prove --wrap --vk-digest` pins.
pub fn vk_digest(dir: &Path) -> Result<String, ArtifactError> {
    #[derive(Deserialize)]
    struct Recorded {
        sha3_256: KeyFiles,
    }
    read_vk_json::<Recorded>(dir).map(|r| r.sha3_256.vk)
}

/// The fields `T` names of DIR/vk.json.
fn read_vk_json<T: serde::de::DeserializeOwned>(dir: &Path) -> Result<T, ArtifactError> {
    let path = dir.join(VK_JSON);
    let p = path.display().to_string();
    let json = std::fs::read(&path).map_err(|_| ArtifactError::NoKeys { path: p.clone() })?;
    serde_json::from_slice(&json).map_err(|e| ArtifactError::CorruptKey { path: p, reason: e.to_string() })
}

/// The verifying key in readable form, with the digests of the files proving reads.
fn vk_json(vk: &VerifyingKey<Bn254>, ck: &CommitKey, files: &KeyFiles, setup: &Provenance) -> serde_json::Value {
    use ark_ec::AffineRepr;
    let g1 = |p: &ark_bn254::G1Affine| serde_json::json!([p.x().map(|x| x.to_string()), p.y().map(|y| y.to_string())]);
    let g2 = |p: &ark_bn254::G2Affine| {
        let (x, y) = (p.x().unwrap_or_default(), p.y().unwrap_or_default());
        serde_json::json!({"x": [x.c0.to_string(), x.c1.to_string()], "y": [y.c0.to_string(), y.c1.to_string()]})
    };
    serde_json::json!({
        "curve": "bn254",
        "scheme": Scheme::TwoRound,
        "alpha_g1": g1(&vk.alpha_g1),
        "beta_g2": g2(&vk.beta_g2),
        "gamma_g2": g2(&vk.gamma_g2),
        "delta_g2": g2(&vk.delta_g2),
        "ic": vk.gamma_abc_g1.iter().map(g1).collect::<Vec<_>>(),
        "sha3_256": files,
        "setup": setup,
        // The seed c, the last public input, is derived: keccak256(tag, D, the others) mod r.
        "delta1_g2": g2(&ck.delta1_g2),
    })
}

/// The kind of the keys in `dir`, as vk.json records it.
pub fn scheme(dir: &Path) -> Result<Scheme, ArtifactError> {
    #[derive(Deserialize)]
    struct Recorded {
        #[serde(default = "unrecorded_scheme")]
        scheme: Scheme,
    }
    read_vk_json::<Recorded>(dir).map(|r| r.scheme)
}

/// The kind of keys whose vk.json records none: one-round keys of a zkml from before the field.
fn unrecorded_scheme() -> Scheme {
    Scheme::OneRound
}

/// Refuses keys of the one-round wrap, which zkml no longer proves nor verifies.
fn check_two_round(dir: &Path, scheme: Scheme) -> Result<(), ArtifactError> {
    match scheme {
        Scheme::TwoRound => Ok(()),
        found => Err(ArtifactError::Scheme {
            dir: dir.display().to_string(),
            found,
            reason: "they are for the one-round wrap of an earlier zkml, whose proofs this version neither makes \
                     nor verifies: run `zkml setup` on the directory again"
                .into(),
        }),
    }
}

/// Reads DIR/vk.bin, validating every point.
pub fn read_verifier_key(dir: &Path) -> Result<two_round::VerifyingKey, ArtifactError> {
    check_two_round(dir, scheme(dir)?)?;
    read_key(&dir.join(VK_FILE))
}

/// Reads what proving needs (pk.bin, r1cs.bin) and the verifying key they belong to (vk.bin),
/// hashing each file as it streams in, for the wrap vk.json names. Refuses a file whose digest is
/// not the one vk.json recorded at setup, a vk.bin whose digest is not `vk_pin` (when given: the
/// digest of the keys the deployed verifier was made from), a proving key whose verifying key is
/// not vk.bin, that does not fit the matrices, or that could make proofs which reveal the witness
/// ([`groth16::check_hiding`], [`groth16::check_commit_key`]). The keys come from whoever ran the
/// setup, not from the prover, and a key made to leak looks valid: a wrong point is not only a
/// proof that fails to verify.
pub fn read_prover_keys(dir: &Path, vk_pin: Option<&str>) -> Result<two_round::ProverKey, ArtifactError> {
    read_prover_keys_recorded(dir, vk_pin).map(|(keys, _)| keys)
}

/// What vk.json records of the keys [`read_prover_keys_recorded`] read: vk.bin's SHA3-256 (the
/// digest `--vk-digest` pins) and where the keys came from.
pub struct KeysRecord {
    /// vk.bin's SHA3-256, hex.
    pub vk_digest: String,
    /// Where the keys came from; none for keys from a zkml that did not record it.
    pub setup: Option<Provenance>,
}

/// [`read_prover_keys`], with what vk.json records of them (read once with the keys).
pub fn read_prover_keys_recorded(
    dir: &Path,
    vk_pin: Option<&str>,
) -> Result<(two_round::ProverKey, KeysRecord), ArtifactError> {
    #[derive(Deserialize)]
    struct Recorded {
        sha3_256: Option<KeyFiles>,
        #[serde(default = "unrecorded_scheme")]
        scheme: Scheme,
        setup: Option<Provenance>,
    }
    let recorded = read_vk_json::<Recorded>(dir)?;
    check_two_round(dir, recorded.scheme)?;
    let Some(files) = recorded.sha3_256 else {
        return Err(ArtifactError::CorruptKey {
            path: dir.join(VK_JSON).display().to_string(),
            reason: "it records no digests of pk.bin, r1cs.bin and vk.bin (keys from an older zkml): run `zkml setup` \
                     again"
                .into(),
        });
    };
    let hashed = |path: &Path, want: &str, got: String| -> Result<(), ArtifactError> {
        if got == want {
            return Ok(());
        }
        Err(ArtifactError::ForeignKey {
            path: path.display().to_string(),
            reason: format!(
                "its SHA3-256 is {got} but vk.json records {want} (it comes from another setup: run `zkml setup` again)"
            ),
        })
    };
    use ark_serialize::{Compress, Validate};
    let vk_bin = dir.join(VK_FILE);
    let ((vk, delta1_g2), got) = read_hashed(&vk_bin, |r| {
        let vk = VerifyingKey::<Bn254>::deserialize_compressed(&mut *r).map_err(|e| e.to_string())?;
        let delta1 = ark_bn254::G2Affine::deserialize_compressed(r).map_err(|e| e.to_string())?;
        Ok((vk, delta1))
    })?;
    if let Some(pin) = vk_pin {
        let pin = pin.trim_start_matches("0x").to_ascii_lowercase();
        if got != pin {
            return Err(ArtifactError::ForeignKey {
                path: vk_bin.display().to_string(),
                reason: format!(
                    "its SHA3-256 is {got} but --vk-digest gives {pin}: these are not the keys of the verifier you \
                     pinned, so a proof from them would not verify there"
                ),
            });
        }
    }
    hashed(&vk_bin, &files.vk, got)?;
    let (pk_path, r1cs_path) = (dir.join(PK_FILE), dir.join(R1CS_FILE));
    let ((pk, ck), got) = read_hashed(&pk_path, |r| {
        let pk = ProvingKey::deserialize_with_mode(&mut *r, Compress::No, Validate::No).map_err(|e| e.to_string())?;
        let ck = CommitKey::deserialize_with_mode(r, Compress::No, Validate::No).map_err(|e| e.to_string())?;
        Ok((pk, ck))
    })?;
    hashed(&pk_path, &files.pk, got)?;
    let (r1cs, got) = read_hashed(&r1cs_path, |r| R1cs::read(r).map_err(|e| e.to_string()))?;
    hashed(&r1cs_path, &files.r1cs, got)?;
    let foreign = |e: groth16::Groth16Error| ArtifactError::ForeignKey {
        path: pk_path.display().to_string(),
        reason: e.to_string(),
    };
    r1cs.check_key(&pk, Some(&ck)).map_err(foreign)?;
    if pk.vk != vk || ck.delta1_g2 != delta1_g2 {
        return Err(ArtifactError::ForeignKey {
            path: pk_path.display().to_string(),
            reason: format!("its verifying key is not {} (the two come from different setups)", vk_bin.display()),
        });
    }
    let not_hiding = |e: groth16::Groth16Error| ArtifactError::CorruptKey {
        path: pk_path.display().to_string(),
        reason: e.to_string(),
    };
    groth16::check_hiding(&pk).map_err(not_hiding)?;
    groth16::check_commit_key(&ck).map_err(not_hiding)?;
    Ok((two_round::ProverKey { pk, ck, r1cs }, KeysRecord { vk_digest: files.vk, setup: recorded.setup }))
}

/// Writes a (verifying) key compressed, with arkworks' canonical serialization.
pub fn write_key<T: CanonicalSerialize>(path: &Path, key: &T) -> Result<u64, ArtifactError> {
    write_hashed(path, |w| key.serialize_compressed(w).map_err(|e| e.to_string())).map(|(size, _)| size)
}

/// Reads a key `write_key` wrote, validating every curve point.
pub fn read_key<T: CanonicalDeserialize>(path: &Path) -> Result<T, ArtifactError> {
    read_hashed(path, |r| T::deserialize_compressed(r).map_err(|e| e.to_string())).map(|(key, _)| key)
}

/// `PROOF.output.json` beside `PROOF`.
pub fn output_path(proof: &Path) -> PathBuf {
    let mut s = proof.as_os_str().to_owned();
    s.push(".output.json");
    PathBuf::from(s)
}
