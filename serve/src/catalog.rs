//! The models a server sells: each compiled model directory (`zkml compile`, then `zkml setup`)
//! loaded once at start with its wrap keys and its verifier's calldata layout; and the one `exact`
//! offer every model is sold at (`Pricing`). Workers load the same catalog without the offer.
//! Keys anyone can forge proofs for (a development setup, a ceremony without contributions,
//! keys that record no setup) are refused unless allowed, as `zkml-gen` refuses to render their
//! verifiers: both ask `zkml::setup::trust`, which also checks a ceremony's record.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use serde::{Deserialize, Serialize};
use serde_json::json;
use zkml::artifact::{self, Compiled, KeysRecord, Provenance, TensorSettings};
use zkml::setup::{SetupError, Trust};
use zkml::wrap::two_round::ProverKey;
use zkml_verifier_gen::hooks;
use zkml_verifier_gen::model::ModelLayout;

use crate::{escrow, exact};

mod verifier {
    alloy::sol!(
        #[sol(rpc, all_derives)]
        "../contracts/interfaces/IZkmlVerifier.sol"
    );
}
use crate::x402::{PaymentRequirements, caip2};
/// The generated verifiers' interfaces (contracts/interfaces/IZkmlVerifier.sol): `verifyProof`,
/// and the constants each exposes (`MODEL_ID`, `NUM_PUBLIC_INPUTS`), which a listing's escrow
/// verifier is checked by.
pub use verifier::{IZkmlVerifier, IZkmlVerifierLayout};

/// What the server charges for one proved inference and where the money goes: one token and one
/// recipient for every model.
#[derive(Clone, Debug)]
pub struct Pricing {
    /// The chain (`eip155:N`).
    pub chain_id: u64,
    /// The EIP-3009 token.
    pub asset: Address,
    /// The token's EIP-712 domain name (USDC: "USD Coin").
    pub token_name: String,
    /// The token's EIP-712 domain version (USDC: "2").
    pub token_version: String,
    /// Who is paid.
    pub pay_to: Address,
    /// The price, in the token's smallest unit.
    pub amount: U256,
    /// How long a buyer's authorization should stay valid, in seconds.
    pub max_timeout_seconds: u64,
    /// How long after its opening an escrow request may be released by its proof, in seconds (the
    /// `zkml-escrow` offer's `deadlineSeconds`); after it, the payer may take the money back.
    pub escrow_deadline_seconds: u64,
}

impl Pricing {
    /// The `exact` offer of this price, as a 402 lists it and a payment must copy it.
    pub fn offer(&self) -> PaymentRequirements {
        PaymentRequirements {
            scheme: exact::SCHEME.into(),
            network: caip2(self.chain_id),
            amount: self.amount.to_string(),
            asset: self.asset.to_checksum(None),
            pay_to: self.pay_to.to_checksum(None),
            max_timeout_seconds: self.max_timeout_seconds,
            extra: json!({ "name": self.token_name, "version": self.token_version }),
        }
    }

    /// The `zkml-escrow` offer of this price for `l`'s model through its escrow (none when the
    /// model has no escrow): the money goes to the escrow, and to [`Pricing::pay_to`] on a proof.
    pub fn escrow_offer(&self, l: &Listing) -> Option<PaymentRequirements> {
        let (escrow, words) = (l.escrow?, escrow::input_slots(&l.compiled.settings)?.count);
        let o = hooks::EscrowOffer {
            chain_id: self.chain_id,
            escrow,
            asset: self.asset,
            asset_name: self.token_name.clone(),
            asset_version: self.token_version.clone(),
            amount: self.amount,
            max_timeout_seconds: self.max_timeout_seconds,
            provider: self.pay_to,
            deadline_seconds: self.escrow_deadline_seconds,
            model_id: l.layout.model_id,
            num_input_words: words,
            // Only the offer is kept, not the 402 it would be part of.
            resource_url: String::new(),
            description: String::new(),
            mime_type: String::new(),
        };
        hooks::payment_required(&o).accepts.into_iter().next()
    }

    /// What `l`'s model is sold at: `exact`, and `zkml-escrow` when it has an escrow. (Clients
    /// offered both prefer `exact`.)
    pub fn offers(&self, l: &Listing) -> Vec<PaymentRequirements> {
        std::iter::once(self.offer()).chain(self.escrow_offer(l)).collect()
    }
}

/// Where a model's wrap keys came from, as vk.json records it: what `GET /v1/models` tells a
/// buyer. (Whether the keys are sound is `setup::trust`'s answer, `Listing::trust`.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum KeySetup {
    /// `zkml setup --dev-seed`: anyone who knows the seed can forge proofs.
    Development,
    /// A ceremony with at least one contribution: sound if one contributor was honest.
    Ceremony,
    /// A ceremony's initial state, before any contribution: forgeable.
    CeremonyWithoutContributions,
    /// Keys from a zkml that did not record their origin.
    Unrecorded,
}

impl KeySetup {
    fn of(p: Option<&Provenance>) -> Self {
        match p {
            Some(Provenance::Dev { .. }) => KeySetup::Development,
            Some(Provenance::Ceremony { contributions, .. }) if contributions.is_empty() => {
                KeySetup::CeremonyWithoutContributions
            }
            Some(Provenance::Ceremony { .. }) => KeySetup::Ceremony,
            None => KeySetup::Unrecorded,
        }
    }
}

/// One model on sale. Cloning shares the model and its keys (a caller that proves with them
/// too, as the demo does, keeps one copy in memory).
#[derive(Clone)]
pub struct Listing {
    /// Its name in URLs: the directory's name.
    pub name: String,
    /// The directory it was loaded from.
    pub dir: PathBuf,
    /// The compiled model.
    pub compiled: Arc<Compiled>,
    /// Its wrap's proving key, read once.
    pub keys: Arc<ProverKey>,
    /// vk.bin's SHA3-256: what a buyer pins its verifier to.
    pub vk_digest: String,
    /// Where the keys came from.
    pub setup: KeySetup,
    /// Whether anyone can forge proofs for them, and why (`setup::trust`).
    pub trust: Trust,
    /// The generated verifier's calldata layout.
    pub layout: ModelLayout,
    /// Where the model's Solidity verifier is deployed, when the server was told
    /// ([`Catalog::pin_verifier`]).
    pub verifier: Option<Address>,
    /// The model's `ZkmlEscrow` on the chain, when the server was told ([`Catalog::pin_escrow`]):
    /// the model is then sold by `zkml-escrow` too.
    pub escrow: Option<Address>,
}

/// A model as `GET /v1/models` describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelInfo {
    /// The name in URLs.
    pub id: String,
    /// The model id its proofs carry as public input 0 (decimal).
    pub model_id: String,
    /// The input tensor: name, shape, scale (log2), visibility.
    pub input: TensorSettings,
    /// The output tensor.
    pub output: TensorSettings,
    /// vk.bin's SHA3-256.
    pub vk_digest: String,
    /// Where the keys came from.
    pub setup: KeySetup,
    /// The model's Solidity verifier on the server's chain, EIP-55, when the server was told
    /// (checked at start: it reports this model's id and public-input count). A buyer who
    /// relies on it checks its code (`zkml-gen solidity --solc` prints the runtime code hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifier: Option<String>,
    /// The model's ZkmlEscrow, EIP-55, when it is sold by `zkml-escrow` too (checked at start:
    /// it holds the server's token and releases on this model's proofs from its verifier).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escrow: Option<String>,
    /// What one proved inference costs.
    pub accepts: Vec<PaymentRequirements>,
}

/// Why the catalog could not be loaded; each names the directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// No model directory given.
    #[error("no model to serve: give at least one compiled model directory")]
    Empty,
    /// A directory whose name makes no URL segment.
    #[error("{dir}: a model's name in URLs is its directory's name, which must be letters, digits, '-', '_' or '.'")]
    Name {
        /// The directory.
        dir: String,
    },
    /// Two directories with the same name.
    #[error("two models are named {name}: their directories' names must differ")]
    Duplicate {
        /// The name.
        name: String,
    },
    /// The compiled model or its keys could not be read.
    #[error("{dir}: {error}")]
    Artifact {
        /// The directory.
        dir: String,
        /// Why.
        error: artifact::ArtifactError,
    },
    /// The settings make no verifier layout.
    #[error("{dir}: its settings make no verifier layout: {reason}")]
    Layout {
        /// The directory.
        dir: String,
        /// Why.
        reason: String,
    },
    /// Forgeable keys, not allowed.
    #[error(
        "{dir}: anyone can forge proofs for its keys ({why}): run a ceremony (docs/setup.md), or pass \
         --allow-dev-keys for a test deployment"
    )]
    UnsoundKeys {
        /// The directory.
        dir: String,
        /// Why the keys are unsafe (`setup::trust`).
        why: String,
    },
    /// A ceremony whose record does not check (a relabelled or tampered key).
    #[error("{dir}: {error}")]
    Setup {
        /// The directory.
        dir: String,
        /// Why.
        error: SetupError,
    },
}

/// Why a model's verifier address was refused at start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifierError {
    /// No model of that name.
    #[error("--verifier {name}=...: no model {name} is served (this server sells: {models})")]
    UnknownModel {
        /// The name given.
        name: String,
        /// The models served.
        models: String,
    },
    /// The contract does not answer as a generated verifier does (no code, or no constant).
    #[error("--verifier {name}={address}: not a zkml verifier ({what} could not be read: {reason})")]
    NotAVerifier {
        /// The model.
        name: String,
        /// The address.
        address: Address,
        /// The constant asked for.
        what: &'static str,
        /// The call's error.
        reason: String,
    },
    /// A verifier of another model.
    #[error("--verifier {name}={address}: its {what} is {found}, {name}'s is {expected}")]
    Mismatch {
        /// The model.
        name: String,
        /// The address.
        address: Address,
        /// The constant.
        what: &'static str,
        /// The verifier's.
        found: U256,
        /// The model's.
        expected: U256,
    },
}

/// Why a model's escrow address was refused at start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EscrowPinError {
    /// No model of that name.
    #[error("--escrow {name}=...: no model {name} is served (this server sells: {models})")]
    UnknownModel {
        /// The name given.
        name: String,
        /// The models served.
        models: String,
    },
    /// The model's proofs do not carry its input as packed public words, which the escrow
    /// releases on.
    #[error("--escrow {name}=...: {name}'s input is not public (its proofs carry no input words to bind a request to)")]
    NoPublicInput {
        /// The model.
        name: String,
    },
    /// The contract does not answer as ZkmlEscrow does.
    #[error("--escrow {name}={address}: not a ZkmlEscrow ({reason})")]
    NotAnEscrow {
        /// The model.
        name: String,
        /// The address.
        address: Address,
        /// The call's error.
        reason: String,
    },
    /// An escrow of another model, token or verifier.
    #[error("--escrow {name}={address}: its {what} is {found}, not {expected}")]
    Mismatch {
        /// The model.
        name: String,
        /// The address.
        address: Address,
        /// What it was asked.
        what: &'static str,
        /// The escrow's answer.
        found: String,
        /// What this server sells.
        expected: String,
    },
    /// The escrow's verifier is not the model's.
    #[error("--escrow {name}={address}: its verifier: {error}")]
    Verifier {
        /// The model.
        name: String,
        /// The address.
        address: Address,
        /// Why the verifier was refused.
        error: Box<VerifierError>,
    },
}

/// The models on sale, by name.
pub struct Catalog {
    listings: Vec<Listing>,
}

impl Catalog {
    /// Loads each directory once, its keys included. `allow_unsound_keys` admits keys anyone can
    /// forge proofs for (tests and demos on a local chain).
    pub fn load(dirs: &[PathBuf], allow_unsound_keys: bool) -> Result<Self, CatalogError> {
        Self::new(dirs.iter().map(|d| Listing::load(d)), allow_unsound_keys)
    }

    /// A catalog of `listings` (loaded by [`Listing::load`], or made by [`Listing::from_parts`]
    /// from a model and keys the caller holds), refused at the first whose keys are forgeable
    /// (unless allowed) or whose name another has.
    pub fn new(
        listings: impl IntoIterator<Item = Result<Listing, CatalogError>>,
        allow_unsound_keys: bool,
    ) -> Result<Self, CatalogError> {
        let mut kept: Vec<Listing> = Vec::new();
        for l in listings {
            let l = l?;
            if let Trust::Unsafe(why) = &l.trust
                && !allow_unsound_keys
            {
                return Err(CatalogError::UnsoundKeys { dir: l.dir.display().to_string(), why: why.clone() });
            }
            if kept.iter().any(|m| m.name == l.name) {
                return Err(CatalogError::Duplicate { name: l.name });
            }
            kept.push(l);
        }
        if kept.is_empty() {
            return Err(CatalogError::Empty);
        }
        Ok(Catalog { listings: kept })
    }

    /// The listing named `name`.
    pub fn get(&self, name: &str) -> Option<&Listing> {
        self.listings.iter().find(|l| l.name == name)
    }

    /// The models' names, in the order given.
    pub fn names(&self) -> Vec<&str> {
        self.listings.iter().map(|l| l.name.as_str()).collect()
    }

    /// Records that `name`'s Solidity verifier is at `address`, once the contract there reports
    /// this model's id (`MODEL_ID`) and its proofs' public-input count (`NUM_PUBLIC_INPUTS`).
    pub async fn pin_verifier<P: Provider>(
        &mut self,
        provider: &P,
        name: &str,
        address: Address,
    ) -> Result<(), VerifierError> {
        let models = self.names().join(", ");
        let l = self
            .listings
            .iter_mut()
            .find(|l| l.name == name)
            .ok_or_else(|| VerifierError::UnknownModel { name: name.to_string(), models })?;
        let v = IZkmlVerifierLayout::new(address, provider);
        let unreadable = |what| {
            move |e: alloy::contract::Error| VerifierError::NotAVerifier {
                name: name.to_string(),
                address,
                what,
                reason: e.to_string(),
            }
        };
        let model_id = v.MODEL_ID().call().await.map_err(unreadable("MODEL_ID()"))?;
        let public = v.NUM_PUBLIC_INPUTS().call().await.map_err(unreadable("NUM_PUBLIC_INPUTS()"))?;
        let expected = [
            ("MODEL_ID", model_id, l.layout.model_id),
            ("NUM_PUBLIC_INPUTS", public, U256::from(l.layout.num_public())),
        ];
        for (what, found, expected) in expected {
            if found != expected {
                return Err(VerifierError::Mismatch { name: name.to_string(), address, what, found, expected });
            }
        }
        l.verifier = Some(address);
        Ok(())
    }

    /// Records that `name`'s escrow (ZkmlEscrow) is at `address`, once the contract reports
    /// `asset` as its token, this model's id and input-word count, and a verifier of this model
    /// (which is pinned as the model's verifier, or must be the one pinned already).
    pub async fn pin_escrow<P: Provider>(
        &mut self,
        provider: &P,
        name: &str,
        address: Address,
        asset: Address,
    ) -> Result<(), EscrowPinError> {
        let models = self.names().join(", ");
        let l = self.get(name).ok_or_else(|| EscrowPinError::UnknownModel { name: name.to_string(), models })?;
        let words = escrow::input_slots(&l.compiled.settings)
            .ok_or_else(|| EscrowPinError::NoPublicInput { name: name.to_string() })?
            .count;
        let (model_id, pinned) = (l.layout.model_id, l.verifier);
        let e = escrow::IZkmlEscrow::new(address, provider);
        let unreadable = |e: alloy::contract::Error| EscrowPinError::NotAnEscrow {
            name: name.to_string(),
            address,
            reason: e.to_string(),
        };
        let mismatch = |what, found: String, expected: String| {
            Err(EscrowPinError::Mismatch { name: name.to_string(), address, what, found, expected })
        };
        let token = e.token().call().await.map_err(unreadable)?;
        if token != asset {
            return mismatch("token", token.to_string(), asset.to_string());
        }
        let id = e.modelId().call().await.map_err(unreadable)?;
        if id != model_id {
            return mismatch("model id", id.to_string(), model_id.to_string());
        }
        let n = e.numInputWords().call().await.map_err(unreadable)?;
        if n != U256::from(words) {
            return mismatch("input-word count", n.to_string(), words.to_string());
        }
        let verifier = e.verifier().call().await.map_err(unreadable)?;
        match pinned {
            Some(v) if v != verifier => return mismatch("verifier", verifier.to_string(), v.to_string()),
            Some(_) => {}
            None => self.pin_verifier(provider, name, verifier).await.map_err(|e| EscrowPinError::Verifier {
                name: name.to_string(),
                address,
                error: Box::new(e),
            })?,
        }
        if let Some(l) = self.listings.iter_mut().find(|l| l.name == name) {
            l.escrow = Some(address);
        }
        Ok(())
    }

    /// The models whose keys anyone can forge proofs for (allowed at load), with why.
    pub fn unsound(&self) -> impl Iterator<Item = (&str, &str)> {
        self.listings.iter().filter_map(|l| match &l.trust {
            Trust::Unsafe(why) => Some((l.name.as_str(), why.as_str())),
            Trust::Ceremony { .. } => None,
        })
    }

    /// Every model as `GET /v1/models` describes it, sold at `pricing`.
    pub fn describe(&self, pricing: &Pricing) -> Vec<ModelInfo> {
        self.listings.iter().map(|l| l.describe(pricing)).collect()
    }
}

/// The name a model directory is sold under (in URLs): the directory's own name, when it is one
/// a URL path carries as it is.
pub fn model_name(dir: &Path) -> Option<String> {
    dir.canonicalize()
        .ok()
        .and_then(|d| d.file_name().and_then(|n| n.to_str()).map(String::from))
        .filter(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) && !n.starts_with('.'))
}

impl Listing {
    /// Reads the model compiled in `dir` and its keys (checked as `artifact::read_prover_keys`
    /// checks them).
    pub fn load(dir: &Path) -> Result<Self, CatalogError> {
        let at = || dir.display().to_string();
        let artifact = |error| CatalogError::Artifact { dir: at(), error };
        // Read first: a missing directory is named as such, not as a bad name.
        let compiled = Compiled::load(dir).map_err(artifact)?;
        model_name(dir).ok_or_else(|| CatalogError::Name { dir: at() })?;
        let (keys, record) = artifact::read_prover_keys_recorded(dir, None).map_err(artifact)?;
        Self::from_parts(dir, Arc::new(compiled), Arc::new(keys), record)
    }

    /// The listing of the model compiled in `dir` from what the caller already read of it: the
    /// compiled model, and its keys with their record, as one
    /// `artifact::read_prover_keys_recorded` of `dir` returns them (the keys are checked there).
    pub fn from_parts(
        dir: &Path,
        compiled: Arc<Compiled>,
        keys: Arc<ProverKey>,
        record: KeysRecord,
    ) -> Result<Self, CatalogError> {
        let at = || dir.display().to_string();
        let name = model_name(dir).ok_or_else(|| CatalogError::Name { dir: at() })?;
        let trust = zkml::setup::trust(dir, &keys.pk.vk, Some(&keys.ck.delta1_g2))
            .map_err(|error| CatalogError::Setup { dir: at(), error })?;
        let layout = ModelLayout::from_settings(&compiled.settings)
            .map_err(|e| CatalogError::Layout { dir: at(), reason: e.to_string() })?;
        Ok(Listing {
            name,
            dir: dir.to_path_buf(),
            compiled,
            keys,
            vk_digest: record.vk_digest,
            setup: KeySetup::of(record.setup.as_ref()),
            trust,
            layout,
            verifier: None,
            escrow: None,
        })
    }

    /// The packed words of `input` as this model's proofs carry them: what an escrow request is
    /// bound to (`escrow::input_words`).
    pub fn input_words(&self, input: &[f64]) -> Result<Vec<U256>, String> {
        escrow::input_words(&self.compiled, input)
    }

    fn describe(&self, pricing: &Pricing) -> ModelInfo {
        let s = &self.compiled.settings;
        ModelInfo {
            id: self.name.clone(),
            model_id: s.model_id.clone(),
            input: s.input.clone(),
            output: s.output.clone(),
            vk_digest: self.vk_digest.clone(),
            setup: self.setup,
            verifier: self.verifier.map(|a| a.to_checksum(None)),
            escrow: self.escrow.map(|a| a.to_checksum(None)),
            accepts: pricing.offers(self),
        }
    }
}
