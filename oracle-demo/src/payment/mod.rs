//! The agent-payment flow on the demo's chain. The provider sells the model with `zkml serve`
//! (in this process, on a loopback port, its account opening and releasing escrow requests); an
//! agent buys one proved forecast from it over HTTP with `zkml pay`'s library call (x402's 402,
//! a `zkml-escrow` payment: an EIP-3009 ReceiveWithAuthorization into `ZkmlEscrow` it signs with
//! EIP-712), checks the proof against its own copy of the verifying key, and the server's proof
//! releases the escrow to the provider. `ZkmlValidator` then records the ERC-8004 validation
//! (response 100) on a second proof of the same input, bound to the validation: a proof's
//! context names its hook (the escrow and the request id; the validator, the agent and the
//! request hash), so neither proof counts at the other. Then a second request, opened with the
//! same library calls the server makes: a tampered proof is refused on-chain (the transaction
//! reverts) and, after anvil's clock is moved past the deadline, the agent is refunded.

use alloy::contract::SolCallBuilder;
use alloy::eips::BlockId;
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
use zkml_serve::catalog::Listing;
use zkml_serve::escrow;
use zkml_verifier_gen::x402::{PaymentRequired, parse_address};
use zkml_verifier_gen::{calldata, hooks};

use crate::bindings::{
    IERC8004Identity, IERC8004Validation, ITestUSDC, IZkmlEscrow, IZkmlValidator, ValidationRequest,
};
use crate::chain::{USDC_NAME, USDC_VERSION, confirm, deploy, deploy_escrow, refused, send_reverting};
use crate::data::RoundRow;
use crate::proving::{prove_wrapped, wrap};

mod sale;
use sale::Sale;

/// The price of one proved inference: 1.50 USDC (6 decimals).
pub const PRICE: u64 = 1_500_000;
/// What the agent starts with: 10 USDC.
const AGENT_FUNDS: u64 = 10_000_000;
/// ETH the deployer gives the provider for its gas (0.1 ETH).
const PROVIDER_GAS_FUNDS: u128 = 100_000_000_000_000_000;
/// Seconds from opening a request until the payer may take a refund: what the provider's server
/// offers, and the longest the agent lets its money wait.
pub const DEADLINE_SECONDS: u64 = 600;
/// How long the payer's authorization may wait before the escrow submits it.
const AUTHORIZATION_SECONDS: u64 = 300;
/// Gas limit of the tampered release: set, so that the transaction is sent and mined (and
/// reverts on-chain) instead of failing at gas estimation.
const TAMPERED_GAS_LIMIT: u64 = 1_000_000;

/// What the payment flow needs from the oracle demo.
pub struct Setup<'a, P: Provider> {
    /// The chain's RPC URL.
    pub url: &'a str,
    /// The deployer; here also the resource server that opens the second request, and the one
    /// who triggers the refund.
    pub me: &'a P,
    /// The chain's id.
    pub chain_id: u64,
    /// The contracts, compiled.
    pub codes: &'a zkml_verifier_gen::solc::Artifacts,
    /// The model and its wrap's keys, as the provider's server lists them (the demo's one copy).
    pub listing: &'a Listing,
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
    /// The features the agent buys a proved forecast for.
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
    /// The provider's account (its server's: it opens and releases the escrow's requests).
    pub provider: String,
    /// The provider's ERC-8004 agent id.
    pub provider_agent_id: u64,
    /// The provider's `zkml serve`, where the agent bought.
    pub server_url: String,
    /// The price, USDC's smallest unit.
    pub amount: u64,
    /// The agent's x402 v2 `PaymentPayload` (its `accepted` is the server's offer).
    pub payment_payload: Value,
    /// The escrow's request id.
    pub request_id: String,
    /// The request's deadline (Unix seconds), after which it can be refunded.
    pub deadline: u64,
    /// The transaction that opened the request (sent by the provider's server).
    pub open_tx: String,
    /// Its gas.
    pub open_gas: u64,
    /// The purchase over HTTP, from the first request to the agent's verified proof, ms.
    pub buy_ms: u64,
    /// Gas of the provider's ERC-8004 validation request.
    pub validation_request_gas: u64,
    /// The provider's second run of the paid input and its proof for the validator, ms.
    pub validation_prove_ms: u64,
    /// The proved forecast (the output value, quantized).
    pub output_q: i64,
    /// The forecast in the oracle's decimals (decimal string).
    pub answer: String,
    /// The release by the proof (sent by the provider's server).
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
    /// a validation proof of the second request at the escrow.
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
    println!(
        "\n== an agent buys one proved inference over HTTP (zkml serve, x402 zkml-escrow: EIP-3009 into ZkmlEscrow) and ERC-8004 records the validation"
    );

    let k = hooks::pack_signed(&vec![0; s.listing.compiled.graph.input_len()], s.input_slot_bits)
        .map_err(|e| anyhow!("the model's input does not pack: {e}"))?
        .len();
    let m = Market::open(s, deploy_contracts(s, k).await?).await?;
    let mut balances = vec![m.balances("start", None).await?];

    // The provider sells the model with zkml serve; the agent buys a proved forecast from it.
    let served = m.serve().await?;
    let sale = m.buy(&served).await?;
    balances.push(m.balances("agent paid into the escrow (open)", sale.open.block_number).await?);
    balances.push(m.balances("released to the provider on the proof", sale.release.block_number).await?);

    // ERC-8004: the provider proves the same input for the validation the agent asks for.
    let v = m.prove_for_validation(&sale).await?;
    let client_sig = ask_for_validation(&m.agent, &m.validator, s.chain_id, m.agent_id, sale.request_id).await?;
    println!(
        "the agent signs an EIP-712 ValidationRequest(agent #{}, request {}) for the validator",
        m.agent_id, sale.request_id
    );
    let (at_validator, unasked) = m.refusals(&sale, &v, &client_sig).await?;
    let (resp, response) = m.validate(&sale, &v, &client_sig).await?;
    // Paid once: the same proof again is refused.
    let double = refused(
        "a second release of the same request",
        m.escrow.release(sale.request_id, sale.proof.clone(), sale.public.clone()).call().await,
        "ZkmlEscrow.NotOpen(Released)",
        |e| matches!(e, IZkmlEscrow::IZkmlEscrowErrors::NotOpen(n) if n.status == escrow::Status::Released),
    )?;

    println!(
        "\n-- a second request, opened with the library calls zkml serve makes; the provider submits a tampered proof"
    );
    let payment_required = hooks::payment_required(&m.offer(k));
    let second = m.pay(&payment_required, &s.tampered_row.features).await?;
    balances.push(m.balances("second request opened", None).await?);
    let tampered = m.release_tampered(&second).await?;
    balances.push(m.balances("tampered proof refused on-chain", None).await?);
    let server_url = served.url.clone();
    served.stop().await?;

    // Refund: refused before the deadline; after anvil's clock passes it, the agent gets it back.
    let early = refused(
        "a refund before the deadline",
        m.escrow.refund(second.request_id).call().await,
        "ZkmlEscrow.DeadlineNotReached",
        |e| matches!(e, IZkmlEscrow::IZkmlEscrowErrors::DeadlineNotReached(_)),
    )?;
    let refund = refund_after_deadline(s, m.c.escrow, second.request_id, second.deadline, m.agent.address()).await?;
    if refund.is_some() {
        balances.push(m.balances("refunded after the deadline", None).await?);
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
        server_url,
        amount: PRICE,
        payment_payload: serde_json::to_value(&sale.payment)?,
        request_id: sale.request_id.to_string(),
        deadline: sale.deadline,
        open_tx: sale.open.transaction_hash.to_string(),
        open_gas: sale.open.gas_used,
        buy_ms: sale.buy_ms,
        validation_request_gas: v.request_gas,
        validation_prove_ms: v.prove_ms,
        output_q: v.output_q,
        answer: sale.answer.to_string(),
        release_tx: sale.release.transaction_hash.to_string(),
        release_gas: sale.release.gas_used,
        respond_tx: resp.transaction_hash.to_string(),
        respond_gas: resp.gas_used,
        validation_response: response,
        cross_context_refused: [at_validator, tampered.at_escrow],
        unasked_validation_refused: unasked,
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
    /// The escrow as the deployer calls it (it opens the second request and triggers refunds).
    escrow: IZkmlEscrow::IZkmlEscrowInstance<&'s P>,
    /// The escrow as the provider calls it (its account, which its server sends from too: one
    /// provider, so that both take their transaction nonces from one count).
    escrow_p: IZkmlEscrow::IZkmlEscrowInstance<DynProvider>,
    /// The validator as the provider calls it.
    validator: IZkmlValidator::IZkmlValidatorInstance<DynProvider>,
}

/// A request the agent paid for without HTTP, opened: the escrow's request id and its deadline.
struct Paid {
    deadline: u64,
    request_id: B256,
}

/// The provider's proof for the validator of a sold request's input (a second run), as
/// calldata, and what it proves.
struct ValidationProof {
    proof: Bytes,
    public: Vec<U256>,
    output_q: i64,
    prove_ms: u64,
    request_gas: u64,
}

/// The release of a request with a tampered proof: mined, reverted; and how the escrow refused a
/// validation proof of the same request.
struct Tampered {
    tx: TransactionReceipt,
    error: String,
    prove_ms: u64,
    at_escrow: String,
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
            IERC8004Identity::new(c.identity, &prov).register_1(agent_uri).send().await,
        )
        .await?;
        let agent_id = r
            .decoded_log::<IERC8004Identity::Registered>()
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

    /// The USDC each party holds after `block` (the latest when None).
    async fn balances(&self, step: &str, block: Option<u64>) -> Result<Balances> {
        let usdc = ITestUSDC::new(self.c.usdc, self.s.me);
        let at = block.map_or(BlockId::latest(), BlockId::number);
        let of = async |a: Address| {
            let v = usdc.balanceOf(a).block(at).call().await.context("TestUSDC.balanceOf")?;
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

    /// The agent signs a payment for `features` without HTTP (`zkml_serve::escrow::sign`, what
    /// `pay::buy` signs with, the payer's side of zkml-escrow: its input quantized and packed as
    /// the proof will carry it, a fresh salt, the request id and the nonce the offer's rules give,
    /// an EIP-712 ReceiveWithAuthorization to the escrow); the resource server checks it
    /// (`escrow::check`) and opens the request with it (`escrow::open`: the escrow pulls the price
    /// with the authorization).
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
        let input_words =
            escrow::input_words(&s.listing.compiled, features).map_err(|e| anyhow!("the agent's input: {e}"))?;
        let now = latest_timestamp(s.me).await?;
        let salt = B256::from(rand::random::<[u8; 32]>());
        let (payment, request_id) = escrow::sign(accepted, s.chain_id, &self.agent, &input_words, salt, now)?;
        println!(
            "the agent signs a {} payment of {} USDC into the escrow: an EIP-712 ReceiveWithAuthorization (nonce {})",
            hooks::ESCROW_SCHEME,
            usdc_str(PRICE),
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
        Ok(Paid { deadline: opening.deadline, request_id })
    }

    /// The provider asks the ERC-8004 registry for a validation by our validator of the sold
    /// request (the validator's request hash is the escrow's request id: the same rule, client =
    /// the payer, the same salt), then runs the model on the same input again and proves it bound
    /// to the validation; the proof must carry the sold proof's input and output.
    async fn prove_for_validation(&self, sale: &Sale) -> Result<ValidationProof> {
        let (s, request_id) = (self.s, sale.request_id);
        let vr = confirm(
            "ValidationRegistry.validationRequest",
            IERC8004Validation::new(self.c.registry, self.escrow_p.provider())
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
        let (run, w, prove_ms) = prove_wrapped(
            &s.listing.compiled,
            &s.listing.keys,
            &s.paid_row.features,
            hooks::validation_context(s.chain_id, self.c.validator, self.agent_id, request_id),
        )
        .context("proving the inference for the validation")?;
        let public: Vec<U256> = w.public_inputs.iter().map(calldata::fr_to_u256).collect();
        if public.get(2..2 + sale.input_words.len()) != Some(&sale.input_words[..])
            || public.get(2..) != sale.public.get(2..)
        {
            bail!("the validation proof's input and output words are not the sold proof's");
        }
        println!(
            "provider: ran the model on the agent's features again and proved it for the ERC-8004 validation ({:.2} s)",
            prove_ms as f64 / 1e3
        );
        Ok(ValidationProof {
            proof: Bytes::copy_from_slice(&calldata::encode_proof(&w.proof)),
            public,
            output_q: *run.output.first().context("no output")?,
            prove_ms,
            request_gas: vr.gas_used,
        })
    }

    /// The provider's answer to the validation request of `sale` with a proof, its public inputs
    /// and the client's signature.
    fn respond(
        &self,
        sale: &Sale,
        proof: &Bytes,
        public: &[U256],
        sig: &Bytes,
    ) -> SolCallBuilder<&DynProvider, IZkmlValidator::respondCall> {
        let uri = format!("data:,zkml proof of request {}", sale.request_id);
        self.validator
            .respond(self.agent_id, self.agent.address(), sale.salt, proof.clone(), public.to_vec(), uri, sig.clone())
            .from(self.provider)
    }

    /// The validator refuses the escrow's proof (the context names the hook and the use), and
    /// the provider alone cannot record a validation in the agent's name.
    async fn refusals(&self, sale: &Sale, v: &ValidationProof, client_sig: &Bytes) -> Result<(String, String)> {
        let at_validator = refused(
            "the escrow's proof at the validator",
            self.respond(sale, &sale.proof, &sale.public, client_sig).call().await,
            "ZkmlValidator.WrongRequest",
            |e| matches!(e, IZkmlValidator::IZkmlValidatorErrors::WrongRequest(_)),
        )?;
        println!("the escrow's proof is not the validator's: at the validator -> {at_validator}");
        let unasked = refused(
            "a validation the agent never asked for",
            self.respond(sale, &v.proof, &v.public, &Bytes::new()).call().await,
            "ZkmlValidator.ClientDidNotAsk",
            |e| matches!(e, IZkmlValidator::IZkmlValidatorErrors::ClientDidNotAsk(_)),
        )?;
        println!("the provider's validation without the agent's signature -> {unasked}");
        Ok((at_validator, unasked))
    }

    /// The provider answers the validation request with the validator's proof; the registry
    /// then holds the validator's response (100) for the request.
    async fn validate(&self, sale: &Sale, v: &ValidationProof, client_sig: &Bytes) -> Result<(TransactionReceipt, u8)> {
        let request_id = sale.request_id;
        let resp =
            confirm("ZkmlValidator.respond", self.respond(sale, &v.proof, &v.public, client_sig).send().await).await?;
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
        let st = IERC8004Validation::new(self.c.registry, self.s.me)
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
            "ERC-8004: validation response {} tagged \"{}\" for the request (tx {}, {} gas)",
            st.response, st.tag, resp.transaction_hash, resp.gas_used
        );
        Ok((resp, st.response))
    }

    /// The provider proves `paid`'s request and releases it with the proof tampered with: A
    /// negated (a valid curve point, so the verifier runs the pairing check, which fails). Refused
    /// by eth_call, then sent, mined and reverted. Before that, the escrow refuses a proof of the
    /// same run bound to a validation of the request.
    async fn release_tampered(&self, paid: &Paid) -> Result<Tampered> {
        let (s, l) = (self.s, self.s.listing);
        let (run, w, prove_ms) = prove_wrapped(
            &l.compiled,
            &l.keys,
            &s.tampered_row.features,
            hooks::escrow_context(s.chain_id, self.c.escrow, paid.request_id),
        )
        .context("proving the second request")?;
        let public: Vec<U256> = w.public_inputs.iter().map(calldata::fr_to_u256).collect();
        // The same run proved for a validation of this request: the escrow takes only its own.
        let (wv, _) = wrap(
            &l.compiled,
            &l.keys,
            &run,
            hooks::validation_context(s.chain_id, self.c.validator, self.agent_id, paid.request_id),
        )
        .context("wrapping the second request for a validation")?;
        let at_escrow = refused(
            "a validation proof at the escrow",
            self.escrow_p
                .release(
                    paid.request_id,
                    Bytes::copy_from_slice(&calldata::encode_proof(&wv.proof)),
                    wv.public_inputs.iter().map(calldata::fr_to_u256).collect(),
                )
                .call()
                .await,
            "ZkmlEscrow.WrongRequest",
            |e| matches!(e, IZkmlEscrow::IZkmlEscrowErrors::WrongRequest(_)),
        )?;
        println!(
            "a proof of this request for its ERC-8004 validation is not the escrow's: at the escrow -> {at_escrow}"
        );
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
        Ok(Tampered { tx, error, prove_ms, at_escrow })
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
