//! The sale over HTTP: the provider's `zkml serve` in this process, and the agent's purchase from
//! it with `zkml pay`'s library call, until the server's proof has released the escrow.

use std::time::{Duration, Instant};

use alloy::primitives::{B256, Bytes, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionReceipt;
use anyhow::{Context, Result, anyhow, bail};
use zkml_serve::catalog::{Catalog, Pricing};
use zkml_serve::http::{self, Server};
use zkml_serve::jobs::JobStore;
use zkml_serve::{escrow, pay};
use zkml_verifier_gen::x402::PaymentPayload;
use zkml_verifier_gen::{calldata, hooks};

use super::{AUTHORIZATION_SECONDS, DEADLINE_SECONDS, Market, PRICE, usdc_str};
use crate::bindings::IZkmlEscrow;
use crate::chain::{USDC_NAME, USDC_VERSION};

/// How long the agent waits for the provider's server to release the escrow after the proof.
const RELEASE_WAIT: Duration = Duration::from_secs(60);

/// The provider's `zkml serve`, running in this process until [`Served::stop`].
pub(super) struct Served {
    pub(super) url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    // The job queue's SQLite file lives here.
    _data: tempfile::TempDir,
}

impl Served {
    /// Stops listening (the server's workers, idle, end with the runtime).
    pub(super) async fn stop(self) -> Result<()> {
        // Sending fails only if the server already stopped; its task's result says why.
        let _ = self.stop.send(());
        self.task.await.context("zkml serve's task")?.context("zkml serve")
    }
}

/// A proved inference the agent bought over HTTP: the purchase (`pay::Bought`: its signed
/// payment, the request id and salt, the server's answer), the proof as calldata, the opening and
/// the release the provider's server sent, the forecast the proof carries and how long buying
/// took.
pub(super) struct Sale {
    pub(super) payment: PaymentPayload,
    pub(super) request_id: B256,
    pub(super) salt: B256,
    pub(super) deadline: u64,
    pub(super) input_words: Vec<U256>,
    pub(super) proof: Bytes,
    pub(super) public: Vec<U256>,
    pub(super) open: TransactionReceipt,
    pub(super) release: TransactionReceipt,
    pub(super) answer: i128,
    pub(super) buy_ms: u64,
}

impl<P: Provider> Market<'_, '_, P> {
    /// The provider's `zkml serve` on a loopback port: the model on sale at the flow's price, by
    /// `exact` and, through the escrow (pinned once the contract reports the token, the model and
    /// its verifier), by `zkml-escrow`; its jobs in a SQLite file of its own; its account, the
    /// provider's, opening the escrow's requests and releasing them with its proofs.
    pub(super) async fn serve(&self) -> Result<Served> {
        let (s, prov) = (self.s, self.escrow_p.provider().clone());
        let pricing = Pricing {
            chain_id: s.chain_id,
            asset: self.c.usdc,
            token_name: USDC_NAME.into(),
            token_version: USDC_VERSION.into(),
            pay_to: self.provider,
            amount: U256::from(PRICE),
            max_timeout_seconds: AUTHORIZATION_SECONDS,
            escrow_deadline_seconds: DEADLINE_SECONDS,
        };
        let name = &s.listing.name;
        let mut catalog = Catalog::new([Ok(s.listing.clone())], false)?;
        catalog.pin_escrow(&prov, name, self.c.escrow, self.c.usdc).await?;
        let data = tempfile::tempdir()?;
        let jobs = JobStore::open(&format!("sqlite://{}", data.path().join("jobs.sqlite").display())).await?;
        let server = Server::start(catalog, &pricing, prov, http::Limits::default(), jobs).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("zkml serve's port")?;
        let url = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(http::serve(listener, server, async {
            let _ = stopped.await;
        }));
        println!(
            "provider: zkml serve at {url} sells {name} for {} USDC, by exact or into ZkmlEscrow {} (zkml-escrow)",
            usdc_str(PRICE),
            self.c.escrow
        );
        Ok(Served { url, stop, task, _data: data })
    }

    /// The agent buys a proved forecast from `served` (`zkml_serve::pay::buy`, what `zkml pay`
    /// runs: the 402, its payment into the escrow, the proof checked against the agent's own copy
    /// of the verifying key, bound to its request and input); then waits for the provider's
    /// server to release the escrow with the proof.
    pub(super) async fn buy(&self, served: &Served) -> Result<Sale> {
        let (s, l) = (self.s, self.s.listing);
        let t = Instant::now();
        let vk = l.keys.verifying_key();
        let purchase = pay::Purchase {
            server: &served.url,
            name: &l.name,
            model: &l.compiled,
            vk: &vk,
            input: &s.paid_row.features,
            signer: &self.agent,
            limits: pay::Limits {
                chain_id: s.chain_id,
                asset: self.c.usdc,
                max_price: U256::from(PRICE),
                escrow: Some(self.c.escrow),
                max_deadline_seconds: DEADLINE_SECONDS,
            },
        };
        let bought = pay::buy(&purchase, |step| println!("agent (zkml pay): {step}")).await?;
        let buy_ms = t.elapsed().as_millis() as u64;
        let w = bought.answer.wrapped_proof().map_err(|e| anyhow!("the server's answer: {e}"))?;
        let public: Vec<U256> = w.public_inputs.iter().map(calldata::fr_to_u256).collect();
        let out_word = *public.get(2 + bought.input_words.len()).context("the proof has no output word")?;
        let answer = hooks::decode_signed(out_word, s.output_slot_bits, s.output_frac_bits, s.decimals as u32)
            .context("the proof's output word is not one packed value")?;
        println!(
            "agent: the proof checks against its verifying key, bound to request {} and its features: the forecast {:.4} USD for hour {} ({:.2} s from the first request)",
            bought.request_id,
            answer as f64 / 10f64.powi(s.decimals as i32),
            s.paid_row.hour + 1,
            buy_ms as f64 / 1e3
        );
        let receipt = async |tx: B256, what: &str| {
            s.me.get_transaction_receipt(tx).await?.with_context(|| format!("no receipt for the {what}"))
        };
        let opened: B256 = bought.answer.payment.transaction.parse().context("the answer's settlement")?;
        let open = receipt(opened, "opening").await?;
        // The transaction the server names must be this request's opening, at the escrow.
        let ev = open.decoded_log::<IZkmlEscrow::Opened>().context("the server's settlement opened nothing")?;
        if ev.address != self.c.escrow
            || ev.data.requestId != bought.request_id
            || ev.data.payer != self.agent.address()
        {
            bail!("the server's settlement {opened} is not the opening of request {}", bought.request_id);
        }
        let release = receipt(self.released_by_server(bought.request_id).await?, "release").await?;
        let ev = release.decoded_log::<IZkmlEscrow::Released>().context("the release logged no Released event")?;
        if ev.data.provider != self.provider || ev.data.amount != U256::from(PRICE) {
            bail!("the escrow released {} to {}, not {PRICE} to the provider", ev.data.amount, ev.data.provider);
        }
        println!(
            "zkml serve: opened the request (tx {}, {} gas) and released {} USDC to the provider with the proof (tx {}, {} gas)",
            open.transaction_hash,
            open.gas_used,
            usdc_str(PRICE),
            release.transaction_hash,
            release.gas_used
        );
        let pay::Bought { payment, request_id, input_words, salt, deadline, .. } = bought;
        let proof = Bytes::copy_from_slice(&calldata::encode_proof(&w.proof));
        Ok(Sale { payment, request_id, salt, deadline, input_words, proof, public, open, release, answer, buy_ms })
    }

    /// The release of `request_id` the provider's server sends after its proof: its transaction,
    /// once mined (the escrow's `Released` event), within [`RELEASE_WAIT`].
    async fn released_by_server(&self, request_id: B256) -> Result<B256> {
        let until = Instant::now() + RELEASE_WAIT;
        loop {
            if let Some(sent) = escrow::find::<_, IZkmlEscrow::Released>(self.s.me, self.c.escrow, request_id).await? {
                return Ok(sent.tx);
            }
            if Instant::now() >= until {
                bail!("the provider's server did not release request {request_id} within {RELEASE_WAIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
