//! The agent-payment flow on the demo's chain: an agent pays for one proved inference through
//! x402 into `ZkmlEscrow` (an EIP-3009 ReceiveWithAuthorization it signs with EIP-712), a provider
//! proves the inference bound to the request, the escrow pays the provider on the proof and
//! `ZkmlValidator` records the ERC-8004 validation (response 100). The two take different proofs
//! of the provider's one run of the model: a proof's context names its hook (the escrow and the
//! request id; the validator, the agent and the request hash), so neither proof counts at the
//! other. Then a second request: a tampered proof is refused on-chain (the transaction reverts)
//! and, after anvil's clock is moved past the deadline, the agent is refunded.

use alloy::contract::SolCallBuilder;
use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolStruct, SolValue, eip712_domain};
use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zkml::artifact::Compiled;
use zkml::wrap::two_round::ProverKey;
use zkml_serve::escrow;
use zkml_verifier_gen::x402::{PaymentPayload, PaymentRequired, parse_address};
use zkml_verifier_gen::{calldata, hooks};

use crate::bindings::{
    IIdentityRegistry, ITestUSDC, IValidationRegistry, IZkmlEscrow, IZkmlValidator, ValidationRequest,
};
use crate::chain::{USDC_NAME, USDC_VERSION, confirm, deploy, deploy_escrow, refused, send_reverting};
use crate::data::RoundRow;
use crate::proving::{prove_wrapped, wrap};

/// The price of one proved inference: 1.50 USDC (6 decimals).
pub const PRICE: u64 = 1_500_000;
/// What the agent starts with: 10 USDC.
const AGENT_FUNDS: u64 = 10_000_000;
/// ETH the deployer gives the provider for its gas (0.1 ETH).
const PROVIDER_GAS_FUNDS: u128 = 100_000_000_000_000_000;
/// Seconds from opening a request until the payer may take a refund.
pub const DEADLINE_SECONDS: u64 = 600;
/// How long the payer's authorization may wait before the escrow submits it.
const AUTHORIZATION_SECONDS: u64 = 300;
/// Gas limit of the tampered release: set, so that the transaction is sent and mined (and
/// reverts on-chain) instead of failing at gas estimation.
const TAMPERED_GAS_LIMIT: u64 = 1_000_000;
/// Escrow request statuses (ZkmlEscrow.Status): released by a proof, refunded.
pub use zkml_serve::escrow::{STATUS_REFUNDED, STATUS_RELEASED};

/// What the payment flow needs from the oracle demo.
pub struct Setup<'a, P: Provider> {
    /// The chain's RPC URL.
    pub url: &'a str,
    /// The deployer; here also the resource server that submits the agent's payment, and the
    /// one who triggers the refund.
    pub me: &'a P,
    /// Its address.
    pub me_address: Address,
    /// The chain's id.
    pub chain_id: u64,
    /// The contracts, compiled.
    pub codes: &'a zkml_verifier_gen::solc::Artifacts,
    /// The model.
    pub compiled: &'a Compiled,
    /// Its wrap's proving key.
    pub pk: &'a ProverKey,
    /// The model's deployed verifier.
    pub verifier: Address,
    /// The model id its proofs carry.
    pub model_id: U256,
    /// Bits per packed input value.
    pub input_slot_bits: u32,
    /// Bits per packed output value.
    pub output_slot_bits: u32,
    /// Fractional bits of the quantized output.
    pub output_frac_bits: u32,
    /// The answers' decimals.
    pub decimals: u8,
    /// The features the agent pays a proved forecast for, and those of the tampered request.
    pub paid_row: RoundRow,
    /// The tampered request's features.
    pub tampered_row: RoundRow,
}

/// USDC balances (smallest unit) at one step of the flow.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Balances {
    /// The step, in words.
    pub step: String,
    /// The agent's (the buyer's).
    pub agent: u64,
    /// The escrow contract's.
    pub escrow: u64,
    /// The provider's (the seller's).
    pub provider: u64,
}

/// The payment flow as it ran (`--summary`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PaymentReport {
    /// The test USDC.
    pub usdc: String,
    /// ERC-8004's identity registry.
    pub identity_registry: String,
    /// ERC-8004's validation registry.
    pub validation_registry: String,
    /// The zkml ERC-8004 validator.
    pub validator: String,
    /// ZkmlEscrow.
    pub escrow: String,
    /// Gas of deploying each of the five contracts above, in order.
    pub deploy_gas: [u64; 5],
    /// The agent's account.
    pub agent: String,
    /// The provider's account.
    pub provider: String,
    /// The provider's ERC-8004 agent id.
    pub provider_agent_id: u64,
    /// The price, USDC's smallest unit.
    pub amount: u64,
    /// x402 v2 `PaymentRequired` of the resource server and the agent's `PaymentPayload`.
    pub payment_required: Value,
    /// The agent's payment.
    pub payment_payload: Value,
    /// The escrow's request id.
    pub request_id: String,
    /// The request's deadline (Unix seconds), after which it can be refunded.
    pub deadline: u64,
    /// The transaction that opened the request.
    pub open_tx: String,
    /// Its gas.
    pub open_gas: u64,
    /// Gas of the agent's ERC-8004 validation request.
    pub validation_request_gas: u64,
    /// The model's run and its proof for the escrow.
    pub prove_ms: u64,
    /// A second proof of the same run, for the validator's context.
    pub validation_wrap_ms: u64,
    /// The proved forecast (the output value, and in the oracle's decimals).
    pub output_q: i64,
    /// The forecast in the oracle's decimals (decimal string).
    pub answer: String,
    /// The release by the proof.
    pub release_tx: String,
    /// Its gas.
    pub release_gas: u64,
    /// The validator's response to the registry.
    pub respond_tx: String,
    /// Its gas.
    pub respond_gas: u64,
    /// The registry's response for the request (100: valid).
    pub validation_response: u8,
    /// How each hook refused the other's proof (eth_call): the escrow's proof at the validator,
    /// the validator's at the escrow.
    pub cross_context_refused: [String; 2],
    /// How the validator refused the provider's validation without the agent's signature
    /// (eth_call).
    pub unasked_validation_refused: String,
    /// How a second `release` of the paid request was refused (eth_call).
    pub double_release_refused: String,
    /// The request released with a tampered proof.
    pub tampered_request_id: String,
    /// Its deadline.
    pub tampered_deadline: u64,
    /// Proving the request's (honest) proof before it was tampered with, ms.
    pub tampered_prove_ms: u64,
    /// The mined, reverted release with the tampered proof, and its revert (decoded by eth_call).
    pub tampered_tx: String,
    /// The revert.
    pub tampered_error: String,
    /// How a refund before the deadline was refused (eth_call).
    pub early_refund_refused: String,
    /// None when the node has no `evm_increaseTime` (not anvil): then nothing was refunded.
    pub refund_tx: Option<String>,
    /// Its gas.
    pub refund_gas: Option<u64>,
    /// USDC balances after each step.
    pub balances: Vec<Balances>,
}

/// Runs the flow; every step's transaction must succeed except the tampered release, which must
/// revert with `ZkmlEscrow.InvalidProof`.
pub async fn run<P: Provider>(s: &Setup<'_, P>) -> Result<PaymentReport> {
    println!("\n== an agent pays for one proved inference (x402 escrow, EIP-3009) and ERC-8004 records the validation");

    let k = hooks::pack_signed(&vec![0; s.compiled.graph.input_len()], s.input_slot_bits)
        .map_err(|e| anyhow!("the model's input does not pack: {e:?}"))?
        .len();
    let m = Market::open(s, deploy_contracts(s, k).await?).await?;
    let mut balances = vec![m.balances("start").await?];
    let payment_required = hooks::payment_required(&m.offer(k));

    // The agent pays for a proved forecast on its features; the provider proves it twice.
    let paid = m.pay(&payment_required, &s.paid_row.features).await?;
    balances.push(m.balances("agent paid into the escrow (open)").await?);
    let proved = m.prove(&paid, k).await?;
    let client_sig = ask_for_validation(&m.agent, &m.validator, s.chain_id, m.agent_id, paid.request_id).await?;
    println!(
        "the agent signs an EIP-712 ValidationRequest(agent #{}, request {}) for the validator",
        m.agent_id, paid.request_id
    );
    let refusals = m.refusals(&paid, &proved, &client_sig).await?;

    // The escrow pays on its proof; the validator verifies its own and answers the registry.
    let rel = m.release(&paid, &proved).await?;
    balances.push(m.balances("released to the provider on the proof").await?);
    let (resp, response) = m.validate(&paid, &proved, &client_sig, &rel).await?;
    // Paid once: the same proof again is refused.
    let double = refused(
        "a second release of the same request",
        m.escrow.release(paid.request_id, proved.proof.clone(), proved.public.clone()).call().await,
        "ZkmlEscrow.NotOpen(Released)",
        |e| matches!(e, IZkmlEscrow::IZkmlEscrowErrors::NotOpen(n) if n.status == STATUS_RELEASED),
    )?;

    println!("\n-- a second request; the provider submits a tampered proof");
    let second = m.pay(&payment_required, &s.tampered_row.features).await?;
    balances.push(m.balances("second request opened").await?);
    let tampered = m.release_tampered(&second).await?;
    balances.push(m.balances("tampered proof refused on-chain").await?);

    // Refund: refused before the deadline; after anvil's clock passes it, the agent gets it back.
    let early = refused(
        "a refund before the deadline",
        m.escrow.refund(second.request_id).call().await,
        "ZkmlEscrow.DeadlineNotReached",
        |e| matches!(e, IZkmlEscrow::IZkmlEscrowErrors::DeadlineNotReached(_)),
    )?;
    let refund = refund_after_deadline(s, m.c.escrow, second.request_id, second.deadline, m.agent.address()).await?;
    if refund.is_some() {
        balances.push(m.balances("refunded after the deadline").await?);
    }
    let (refund_tx, refund_gas) = refund.map(|r| (r.transaction_hash.to_string(), r.gas_used)).unzip();

    println!("\n{:<40} {:>12} {:>12} {:>12}", "USDC balances", "agent", "escrow", "provider");
    for b in &balances {
        println!("{:<40} {:>12} {:>12} {:>12}", b.step, usdc_str(b.agent), usdc_str(b.escrow), usdc_str(b.provider));
    }

    Ok(PaymentReport {
        usdc: m.c.usdc.to_string(),
        identity_registry: m.c.identity.to_string(),
        validation_registry: m.c.registry.to_string(),
        validator: m.c.validator.to_string(),
        escrow: m.c.escrow.to_string(),
        deploy_gas: m.c.gas,
        agent: m.agent.address().to_string(),
        provider: m.provider.to_string(),
        provider_agent_id: u64::try_from(m.agent_id).context("agent id")?,
        amount: PRICE,
        payment_required: serde_json::to_value(&payment_required)?,
        payment_payload: serde_json::to_value(&paid.payment)?,
        request_id: paid.request_id.to_string(),
        deadline: paid.deadline,
        open_tx: paid.open.transaction_hash.to_string(),
        open_gas: paid.open.gas_used,
        validation_request_gas: proved.validation_request_gas,
        prove_ms: proved.prove_ms,
        validation_wrap_ms: proved.validation_wrap_ms,
        output_q: proved.output_q,
        answer: proved.answer.to_string(),
        release_tx: rel.transaction_hash.to_string(),
        release_gas: rel.gas_used,
        respond_tx: resp.transaction_hash.to_string(),
        respond_gas: resp.gas_used,
        validation_response: response,
        cross_context_refused: [refusals.at_validator, refusals.at_escrow],
        unasked_validation_refused: refusals.unasked,
        double_release_refused: double,
        tampered_request_id: second.request_id.to_string(),
        tampered_deadline: second.deadline,
        tampered_prove_ms: tampered.prove_ms,
        tampered_tx: tampered.tx.transaction_hash.to_string(),
        tampered_error: tampered.error,
        early_refund_refused: early,
        refund_tx,
        refund_gas,
        balances,
    })
}

/// The flow's parties once deployed and funded: the agent (the payer; it only signs) and the
/// provider (an ERC-8004 agent that sends its own transactions), with the contracts each calls.
struct Market<'s, 'a, P: Provider> {
    s: &'s Setup<'a, P>,
    c: Contracts,
    agent: PrivateKeySigner,
    provider: Address,
    agent_id: U256,
    /// The escrow as the resource server calls it (it opens requests and triggers refunds).
    escrow: IZkmlEscrow::IZkmlEscrowInstance<&'s P>,
    /// The escrow as the provider calls it.
    escrow_p: IZkmlEscrow::IZkmlEscrowInstance<DynProvider>,
    /// The validator as the provider calls it.
    validator: IZkmlValidator::IZkmlValidatorInstance<DynProvider>,
}

/// A request the agent paid for: its signed payment (x402 v2 `PaymentPayload`: the accepted
/// offer, the EIP-3009 authorization and its signature, the escrow terms under
/// `extensions.zkml`), the packed input words it binds, its salt and deadline, the escrow's
/// request id and the opening.
struct Paid {
    payment: PaymentPayload,
    input_words: Vec<U256>,
    salt: B256,
    deadline: u64,
    request_id: B256,
    open: TransactionReceipt,
}

/// The provider's two proofs of its one run for a paid request (for the escrow, for the
/// validator), as calldata, and what they prove.
struct Proved {
    proof: Bytes,
    public: Vec<U256>,
    proof_v: Bytes,
    public_v: Vec<U256>,
    output_q: i64,
    answer: i128,
    prove_ms: u64,
    validation_wrap_ms: u64,
    validation_request_gas: u64,
}

/// How each hook refused a proof made for the other, and the validator a validation the agent
/// did not ask for.
struct Refusals {
    at_validator: String,
    at_escrow: String,
    unasked: String,
}

/// The release of a request with a tampered proof: mined, reverted.
struct Tampered {
    tx: TransactionReceipt,
    error: String,
    prove_ms: u64,
}

impl<'s, 'a, P: Provider> Market<'s, 'a, P> {
    /// Fresh keys for the agent and the provider (never printed), the provider's gas, the agent's
    /// 10 USDC, and the provider's ERC-8004 registration naming our validator.
    async fn open(s: &'s Setup<'a, P>, c: Contracts) -> Result<Self> {
        let agent = PrivateKeySigner::random();
        let provider_key = PrivateKeySigner::random();
        let provider = provider_key.address();
        let prov = ProviderBuilder::new()
            .wallet(EthereumWallet::from(provider_key))
            .connect_http(s.url.parse().context("the RPC URL")?)
            .erased();
        confirm(
            "funding the provider's gas",
            s.me.send_transaction(
                TransactionRequest::default().with_to(provider).with_value(U256::from(PROVIDER_GAS_FUNDS)),
            )
            .await
            .map_err(alloy::contract::Error::from),
        )
        .await?;
        confirm(
            "TestUSDC.mint",
            ITestUSDC::new(c.usdc, s.me).mint(agent.address(), U256::from(AGENT_FUNDS)).send().await,
        )
        .await?;

        let reg_file = hooks::registration_file(&hooks::AgentRegistration {
            name: "zkml price forecaster".into(),
            description: "Next-hour SYN/USD forecasts from a proved price model; pay per inference with x402".into(),
            image: String::new(),
            services: vec![("web".into(), "http://127.0.0.1/forecast".into())],
            x402_support: true,
            chain_id: s.chain_id,
            identity_registry: c.identity,
            agent_id: None,
            other_trust: vec![],
            verifier: s.verifier,
            validator: c.validator,
            model_id: s.model_id,
        });
        let agent_uri = format!("data:application/json;base64,{}", base64(reg_file.to_string().as_bytes()));
        let r = confirm(
            "IdentityRegistry.register",
            IIdentityRegistry::new(c.identity, &prov).register(agent_uri).send().await,
        )
        .await?;
        let agent_id = r
            .decoded_log::<IIdentityRegistry::Registered>()
            .context("register emitted no Registered event")?
            .data
            .agentId;
        println!(
            "agent (payer) {}: 10 USDC; provider {provider}: ERC-8004 agent #{agent_id} in the identity registry",
            agent.address()
        );
        Ok(Market {
            s,
            escrow: IZkmlEscrow::new(c.escrow, s.me),
            escrow_p: IZkmlEscrow::new(c.escrow, prov.clone()),
            validator: IZkmlValidator::new(c.validator, prov),
            c,
            agent,
            provider,
            agent_id,
        })
    }

    /// The USDC each party holds now.
    async fn balances(&self, step: &str) -> Result<Balances> {
        let usdc = ITestUSDC::new(self.c.usdc, self.s.me);
        let of = async |a: Address| {
            let v = usdc.balanceOf(a).call().await.context("TestUSDC.balanceOf")?;
            u64::try_from(v).map_err(|_| anyhow!("balance {v} too large"))
        };
        Ok(Balances {
            step: step.to_string(),
            agent: of(self.agent.address()).await?,
            escrow: of(self.c.escrow).await?,
            provider: of(self.provider).await?,
        })
    }

    /// The resource server's offer (its 402) for a model whose input packs into `k` words.
    fn offer(&self, k: usize) -> hooks::EscrowOffer {
        hooks::EscrowOffer {
            chain_id: self.s.chain_id,
            escrow: self.c.escrow,
            asset: self.c.usdc,
            asset_name: USDC_NAME.into(),
            asset_version: USDC_VERSION.into(),
            amount: U256::from(PRICE),
            max_timeout_seconds: AUTHORIZATION_SECONDS,
            provider: self.provider,
            deadline_seconds: DEADLINE_SECONDS,
            model_id: self.s.model_id,
            num_input_words: k,
            resource_url: "http://127.0.0.1/forecast".into(),
            description: "one proved next-hour SYN/USD forecast".into(),
            mime_type: "application/json".into(),
        }
    }

    /// The agent signs a payment for `features` (`zkml_serve::escrow::sign`, the payer's side of
    /// zkml-escrow: its input quantized and packed as the proof will carry it, a fresh salt, the
    /// request id and the nonce the offer's rules give, an EIP-712 ReceiveWithAuthorization to the
    /// escrow); the resource server checks it (`escrow::check`) and opens the request with it
    /// (`escrow::open`: the escrow pulls the price with the authorization).
    async fn pay(&self, offer: &PaymentRequired, features: &[f64]) -> Result<Paid> {
        let s = self.s;
        let accepted = offer.accepts.first().context("the 402 answer offers nothing")?;
        // The token's domain separator must be the one the agent signs under.
        let asset = parse_address("asset", &accepted.asset)?;
        let domain = zkml_serve::exact::domain(accepted, s.chain_id)?;
        let onchain =
            ITestUSDC::new(asset, s.me).DOMAIN_SEPARATOR().call().await.context("TestUSDC.DOMAIN_SEPARATOR")?;
        if onchain != domain.separator() {
            bail!("the token's EIP-712 domain is not {{\"{USDC_NAME}\", \"{USDC_VERSION}\", {}, {asset}}}", s.chain_id);
        }
        let input_words = escrow::input_words(s.compiled, features).map_err(|e| anyhow!("the agent's input: {e}"))?;
        let now = latest_timestamp(s.me).await?;
        let salt = B256::from(rand::random::<[u8; 32]>());
        let (payment, request_id) = escrow::sign(accepted, s.chain_id, &self.agent, &input_words, salt, now)?;
        println!(
            "x402: 402 Payment Required, {} USDC into the escrow (scheme {}); the agent signs an EIP-712 ReceiveWithAuthorization (nonce {})",
            usdc_str(PRICE),
            hooks::ESCROW_SCHEME,
            payment.payload["authorization"]["nonce"].as_str().unwrap_or("?")
        );
        let opening = escrow::check(&offer.accepts, s.chain_id, &payment, &input_words, now)?;
        if opening.request_id != request_id {
            bail!("the resource server opens request {}, not the agent's {request_id}", opening.request_id);
        }
        let sent = escrow::open(s.me, &opening).await?;
        let open = s.me.get_transaction_receipt(sent.tx).await?.context("no receipt for the opening")?;
        println!(
            "escrow: request {request_id} opened (tx {}, {} gas), deadline {}",
            open.transaction_hash, open.gas_used, opening.deadline
        );
        Ok(Paid { payment, input_words, salt, deadline: opening.deadline, request_id, open })
    }

    /// The provider asks the ERC-8004 registry for a validation by our validator of the same
    /// request (the validator's request hash is the escrow's request id: the same rule, client =
    /// the payer, the same salt), then proves the inference once and wraps it twice, bound to the
    /// escrow's request and to the validation.
    async fn prove(&self, paid: &Paid, k: usize) -> Result<Proved> {
        let (s, request_id) = (self.s, paid.request_id);
        let vr = confirm(
            "ValidationRegistry.validationRequest",
            IValidationRegistry::new(self.c.registry, self.escrow_p.provider())
                .validationRequest(
                    self.c.validator,
                    self.agent_id,
                    format!("{}#request={request_id}", hooks::caip10(s.chain_id, self.c.escrow)),
                    request_id,
                )
                .send()
                .await,
        )
        .await?;
        let (s1, w, prove_ms) = prove_wrapped(
            s.compiled,
            s.pk,
            &s.paid_row.features,
            hooks::escrow_context(s.chain_id, self.c.escrow, request_id),
        )
        .context("proving the paid inference")?;
        let (wv, validation_wrap_ms) = wrap(
            s.compiled,
            s.pk,
            &s1,
            hooks::validation_context(s.chain_id, self.c.validator, self.agent_id, request_id),
        )
        .context("wrapping for the validator")?;
        let public: Vec<U256> = w.public_inputs.iter().map(calldata::fr_to_u256).collect();
        let public_v: Vec<U256> = wv.public_inputs.iter().map(calldata::fr_to_u256).collect();
        if public.get(2..2 + k) != Some(&paid.input_words[..]) || public_v.get(2..) != public.get(2..) {
            bail!("the proofs' input words are not the ones the agent paid for");
        }
        let out_word = *public.get(2 + k).context("the proof has no output word")?;
        let answer = hooks::decode_signed(out_word, s.output_slot_bits, s.output_frac_bits, s.decimals as u32)
            .context("the proof's output word is not one packed value")?;
        println!(
            "provider: proved the forecast {:.4} USD for hour {} (the run and its two-round Groth16 proof for the escrow's request: {:.2} s; a second proof of the same run for the validation: {:.2} s)",
            answer as f64 / 10f64.powi(s.decimals as i32),
            s.paid_row.hour + 1,
            prove_ms as f64 / 1e3,
            validation_wrap_ms as f64 / 1e3
        );
        Ok(Proved {
            proof: Bytes::copy_from_slice(&calldata::encode_proof(&w.proof)),
            public,
            proof_v: Bytes::copy_from_slice(&calldata::encode_proof(&wv.proof)),
            public_v,
            output_q: *s1.output.first().context("no output")?,
            answer,
            prove_ms,
            validation_wrap_ms,
            validation_request_gas: vr.gas_used,
        })
    }

    /// The provider's answer to the validation request of `paid` with a proof, its public inputs
    /// and the client's signature.
    fn respond(
        &self,
        paid: &Paid,
        proof: &Bytes,
        public: &[U256],
        sig: &Bytes,
    ) -> SolCallBuilder<&DynProvider, IZkmlValidator::respondCall> {
        let uri = format!("data:,zkml proof of request {}", paid.request_id);
        self.validator
            .respond(self.agent_id, self.agent.address(), paid.salt, proof.clone(), public.to_vec(), uri, sig.clone())
            .from(self.provider)
    }

    /// Each hook refuses the other's proof (the context names the hook and the use), and the
    /// provider alone cannot record a validation in the agent's name.
    async fn refusals(&self, paid: &Paid, p: &Proved, client_sig: &Bytes) -> Result<Refusals> {
        let at_validator = refused(
            "the escrow's proof at the validator",
            self.respond(paid, &p.proof, &p.public, client_sig).call().await,
            "ZkmlValidator.WrongRequest",
            |e| matches!(e, IZkmlValidator::IZkmlValidatorErrors::WrongRequest(_)),
        )?;
        let at_escrow = refused(
            "the validator's proof at the escrow",
            self.escrow_p.release(paid.request_id, p.proof_v.clone(), p.public_v.clone()).call().await,
            "ZkmlEscrow.WrongRequest",
            |e| matches!(e, IZkmlEscrow::IZkmlEscrowErrors::WrongRequest(_)),
        )?;
        println!(
            "the two proofs are not interchangeable: the escrow's at the validator -> {at_validator}, the validator's at the escrow -> {at_escrow}"
        );
        let unasked = refused(
            "a validation the agent never asked for",
            self.respond(paid, &p.proof_v, &p.public_v, &Bytes::new()).call().await,
            "ZkmlValidator.ClientDidNotAsk",
            |e| matches!(e, IZkmlValidator::IZkmlValidatorErrors::ClientDidNotAsk(_)),
        )?;
        println!("the provider's validation without the agent's signature -> {unasked}");
        Ok(Refusals { at_validator, at_escrow, unasked })
    }

    /// The provider releases the escrow's funds to itself with the escrow's proof.
    async fn release(&self, paid: &Paid, p: &Proved) -> Result<TransactionReceipt> {
        let rel = confirm(
            "ZkmlEscrow.release",
            self.escrow_p.release(paid.request_id, p.proof.clone(), p.public.clone()).send().await,
        )
        .await?;
        let released = rel.decoded_log::<IZkmlEscrow::Released>().context("release emitted no Released event")?;
        if released.data.provider != self.provider || released.data.amount != U256::from(PRICE) {
            bail!(
                "the escrow released {} to {}, not {PRICE} to the provider",
                released.data.amount,
                released.data.provider
            );
        }
        Ok(rel)
    }

    /// The provider answers the validation request with the validator's proof; the registry
    /// then holds the validator's response (100) for the request.
    async fn validate(
        &self,
        paid: &Paid,
        p: &Proved,
        client_sig: &Bytes,
        rel: &TransactionReceipt,
    ) -> Result<(TransactionReceipt, u8)> {
        let request_id = paid.request_id;
        let resp =
            confirm("ZkmlValidator.respond", self.respond(paid, &p.proof_v, &p.public_v, client_sig).send().await)
                .await?;
        let validated =
            resp.decoded_log::<IZkmlValidator::ProofValidated>().context("respond emitted no ProofValidated event")?;
        if validated.data.requestHash != request_id
            || validated.data.client != self.agent.address()
            || validated.data.agentId != self.agent_id
        {
            bail!(
                "the validator validated request {} of client {}, not the escrow's request {request_id}",
                validated.data.requestHash,
                validated.data.client
            );
        }
        let st = IValidationRegistry::new(self.c.registry, self.s.me)
            .getValidationStatus(request_id)
            .call()
            .await
            .context("ValidationRegistry.getValidationStatus")?;
        if st.validatorAddress != self.c.validator || st.response != 100 || st.tag != "zkml" {
            bail!(
                "the registry holds response {} tagged {:?} from {} for the request",
                st.response,
                st.tag,
                st.validatorAddress
            );
        }
        println!(
            "escrow: released {} USDC to the provider (tx {}, {} gas); ERC-8004: validation response {} tagged \"{}\" (tx {}, {} gas)",
            usdc_str(PRICE),
            rel.transaction_hash,
            rel.gas_used,
            st.response,
            st.tag,
            resp.transaction_hash,
            resp.gas_used
        );
        Ok((resp, st.response))
    }

    /// The provider proves `paid`'s request and releases it with the proof tampered with: A
    /// negated (a valid curve point, so the verifier runs the pairing check, which fails). Refused
    /// by eth_call, then sent, mined and reverted.
    async fn release_tampered(&self, paid: &Paid) -> Result<Tampered> {
        let s = self.s;
        let (_, w, prove_ms) = prove_wrapped(
            s.compiled,
            s.pk,
            &s.tampered_row.features,
            hooks::escrow_context(s.chain_id, self.c.escrow, paid.request_id),
        )
        .context("proving the second request")?;
        let public: Vec<U256> = w.public_inputs.iter().map(calldata::fr_to_u256).collect();
        let mut bad = calldata::encode_proof(&w.proof);
        // A's y negated: q − y, q BN254's base field modulus.
        let q = U256::from_be_bytes(zkml::field::modulus_word::<ark_bn254::Fq>());
        let y = U256::from_be_slice(&bad[32..64]);
        bad[32..64].copy_from_slice(&(q - y).to_be_bytes::<32>());
        let bad = Bytes::copy_from_slice(&bad);
        let error = refused(
            "a release on a tampered proof",
            self.escrow_p.release(paid.request_id, bad.clone(), public.clone()).call().await,
            "ZkmlEscrow.InvalidProof",
            |e| matches!(e, IZkmlEscrow::IZkmlEscrowErrors::InvalidProof(_)),
        )?;
        let tx = send_reverting(
            "the tampered release",
            self.escrow_p.release(paid.request_id, bad, public),
            TAMPERED_GAS_LIMIT,
        )
        .await?;
        println!(
            "escrow: release with the tampered proof reverted on-chain (tx {}, status 0, {} gas): {error}; the escrow keeps the {} USDC",
            tx.transaction_hash,
            tx.gas_used,
            usdc_str(PRICE)
        );
        Ok(Tampered { tx, error, prove_ms })
    }
}

/// The flow's contracts: the token, the ERC-8004 registries, our validator and the escrow; and
/// the gas each creation took, in that order.
struct Contracts {
    usdc: Address,
    identity: Address,
    registry: Address,
    validator: Address,
    escrow: Address,
    gas: [u64; 5],
}

/// Deploys the flow's contracts for a model whose input packs into `k` words.
async fn deploy_contracts<P: Provider>(s: &Setup<'_, P>, k: usize) -> Result<Contracts> {
    let (usdc_a, g_usdc) =
        deploy(s.me, s.codes.code("TestUSDC")?, (USDC_NAME.to_string(), USDC_VERSION.to_string()).abi_encode_params())
            .await
            .context("deploying TestUSDC")?;
    let e = deploy_escrow(s.me, s.codes, usdc_a, s.verifier, s.model_id, k).await?;
    let [g_id, g_reg, g_val, g_esc] = e.gas;
    println!(
        "deployed TestUSDC {usdc_a}, ERC-8004 identity {} and validation {} registries, ZkmlValidator {} ({g_val} gas), ZkmlEscrow {} ({g_esc} gas)",
        e.identity, e.registry, e.validator, e.escrow
    );
    Ok(Contracts {
        usdc: usdc_a,
        identity: e.identity,
        registry: e.registry,
        validator: e.validator,
        escrow: e.escrow,
        gas: [g_usdc, g_id, g_reg, g_val, g_esc],
    })
}

/// Moves anvil's clock past `deadline` and has the escrow refund `request` to `payer`; None
/// (the demo goes on) on a node that cannot move its clock.
async fn refund_after_deadline<P: Provider>(
    s: &Setup<'_, P>,
    escrow: Address,
    request: B256,
    deadline: u64,
    payer: Address,
) -> Result<Option<TransactionReceipt>> {
    let now = latest_timestamp(s.me).await?;
    let jump = deadline.saturating_sub(now) + 1;
    let travelled = async {
        s.me.raw_request::<_, Value>("evm_increaseTime".into(), (jump,)).await?;
        s.me.raw_request::<_, Value>("evm_mine".into(), ()).await
    }
    .await;
    if let Err(e) = travelled {
        println!(
            "the node does not move its clock (evm_increaseTime: {e}); the agent can call refund after {deadline}"
        );
        return Ok(None);
    }
    let ts = latest_timestamp(s.me).await?;
    let rf = confirm("ZkmlEscrow.refund", IZkmlEscrow::new(escrow, s.me).refund(request).send().await).await?;
    let ev = rf.decoded_log::<IZkmlEscrow::Refunded>().context("refund emitted no Refunded event")?;
    if ev.data.payer != payer || ev.data.amount != U256::from(PRICE) {
        bail!("the escrow refunded {} to {}, not {PRICE} to the agent", ev.data.amount, ev.data.payer);
    }
    println!(
        "anvil: evm_increaseTime {jump} s + evm_mine (block time {ts} > deadline {deadline}); refund to the agent (tx {}, {} gas)",
        rf.transaction_hash, rf.gas_used
    );
    Ok(Some(rf))
}

/// The client's EIP-712 signature asking agent `agent_id` to validate `request_id` at the
/// validator, over the digest it computes itself (checked against the validator's).
async fn ask_for_validation<P: Provider>(
    client: &PrivateKeySigner,
    validator: &IZkmlValidator::IZkmlValidatorInstance<P>,
    chain_id: u64,
    agent_id: U256,
    request_id: B256,
) -> Result<Bytes> {
    let domain = eip712_domain! {
        name: "ZkmlValidator",
        version: "1",
        chain_id: chain_id,
        verifying_contract: *validator.address(),
    };
    let digest = ValidationRequest { agentId: agent_id, requestHash: request_id }.eip712_signing_hash(&domain);
    let onchain = validator.requestDigest(agent_id, request_id).call().await.context("ZkmlValidator.requestDigest")?;
    if onchain != digest {
        bail!(
            "the validator's EIP-712 digest is not ValidationRequest under {{\"ZkmlValidator\", \"1\", {chain_id}, {}}}",
            validator.address()
        );
    }
    let sig = client.sign_hash_sync(&digest).context("signing the validation request")?;
    Ok(Bytes::copy_from_slice(&sig.as_bytes()))
}

async fn latest_timestamp<P: Provider>(p: &P) -> Result<u64> {
    let b = p
        .get_block_by_number(alloy::rpc::types::BlockNumberOrTag::Latest)
        .await
        .context("reading the latest block")?
        .context("the node has no latest block")?;
    Ok(b.header.timestamp)
}

/// `1500000` → `1.500000`.
pub fn usdc_str(v: u64) -> String {
    format!("{}.{:06}", v / 1_000_000, v % 1_000_000)
}

/// Standard base64 (RFC 4648, padded), for the agent's data: URI.
fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn usdc_amounts_print_with_six_decimals() {
        assert_eq!(usdc_str(1_500_000), "1.500000");
        assert_eq!(usdc_str(7), "0.000007");
    }
}
