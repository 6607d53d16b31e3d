//! The durable job queue: each paid inference is a row whose stage is written before the side
//! effect that depends on it, so that a server or worker killed at any point resumes without a
//! lost payment, a second settlement or a second charge.
//!
//! A job goes `accepted` (the payment passed every check that needs no chain; nothing settled
//! yet) → `settled` (the transfer is on-chain; the job waits for a worker) → `proving` (a worker
//! holds it, with a lease) → `proved` (the answer is stored), or `failed` (paid, not proved: the
//! error and the settlement are stored for the buyer's claim). A restart finds each job at its
//! last written stage: `accepted` jobs are settled again (EIP-3009's nonce makes the transfer
//! happen at most once on-chain, and a settlement already mined is found, not repeated),
//! `proving` jobs whose worker is gone go back to `settled`.
//!
//! One table on one of two engines behind sqlx's Any driver: SQLite (embedded, the default: a
//! file in the server's data directory) or PostgreSQL (`postgres://…`), where several workers
//! claim jobs with `FOR UPDATE SKIP LOCKED`. The same SQL runs on both but for that clause.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use tokio::sync::Mutex;

use crate::x402::{PaymentPayload, SettlementResponse};

/// Where a job is; see the module's doc.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// The payment passed the checks that need no chain; nothing was settled yet.
    Accepted,
    /// The payment is settled; the job waits for a worker.
    Settled,
    /// A worker is proving it.
    Proving,
    /// The answer is stored.
    Proved,
    /// Paid, not proved: the error is stored.
    Failed,
    /// A `zkml-escrow` job's proof released the escrow's money to the provider (its transaction
    /// in the answer's `release`).
    Released,
    /// A `zkml-escrow` job's proof was not accepted by the escrow (the deadline passed, the
    /// request refunded): the answer stands, the money stays for the payer's refund.
    Unreleased,
}

impl Stage {
    const ALL: [Stage; 7] = [
        Stage::Accepted,
        Stage::Settled,
        Stage::Proving,
        Stage::Proved,
        Stage::Failed,
        Stage::Released,
        Stage::Unreleased,
    ];

    /// Its name in the table and in answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Accepted => "accepted",
            Stage::Settled => "settled",
            Stage::Proving => "proving",
            Stage::Proved => "proved",
            Stage::Failed => "failed",
            Stage::Released => "released",
            Stage::Unreleased => "unreleased",
        }
    }

    fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the job still counts against the queue's bound.
    pub fn is_active(self) -> bool {
        matches!(self, Stage::Accepted | Stage::Settled | Stage::Proving)
    }
}

/// A job as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// Its id: 128 random bits in hex, the capability to read its answer.
    pub id: String,
    /// The model's name in the catalog.
    pub model: String,
    /// Where it is.
    pub stage: Stage,
    /// The input, as the buyer sent it.
    pub input: Vec<f64>,
    /// The buyer's payment, as it passed `exact::check`.
    pub payment: PaymentPayload,
    /// When the payment passed the checks (Unix seconds): the time they are repeated at.
    pub accepted_at: u64,
    /// The context the proof is bound to (`http::payment_context`), decimal.
    pub context: String,
    /// The settlement, from `settled` on.
    pub settlement: Option<SettlementResponse>,
    /// The answer, once `proved`.
    pub result: Option<Value>,
    /// Why it `failed`.
    pub error: Option<String>,
    /// The worker that holds it or last held it.
    pub worker: Option<String>,
    /// How many times a worker claimed it.
    pub attempts: u32,
}

/// A job to add, once its payment passed the checks that need no chain.
#[derive(Clone, Debug)]
pub struct NewJob<'a> {
    /// The model's name.
    pub model: &'a str,
    /// The input.
    pub input: &'a [f64],
    /// The payment.
    pub payment: &'a PaymentPayload,
    /// What makes the payment unique: the chain, the token, the payer and the nonce. A second
    /// request with the same payment finds the first's job instead of adding one.
    pub payment_key: String,
    /// The proof's context, decimal.
    pub context: String,
}

/// What adding a job did.
#[derive(Clone, Debug, PartialEq)]
pub enum Admission {
    /// Added, `accepted`, with this id.
    Added(String),
    /// The same payment made a job before: this one (a client retrying).
    Existing(Box<Job>),
    /// The queue holds its bound of unfinished jobs: nothing was added.
    Full {
        /// The jobs that count against the bound.
        active: usize,
    },
}

/// Why the queue failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// The database refused, or could not be reached.
    #[error("the job database: {0}")]
    Database(#[from] sqlx::Error),
    /// A URL of an engine the queue does not run on.
    #[error("the job database URL {url:?} is neither sqlite:// nor postgres://")]
    Engine {
        /// The URL, as given.
        url: String,
    },
    /// A row that does not read back as a job.
    #[error("job {id}: its {what} is not what this server writes")]
    Corrupt {
        /// The job.
        id: String,
        /// The column.
        what: &'static str,
    },
}

/// The engine under the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// SQLite, embedded: one process writes at a time.
    Sqlite,
    /// PostgreSQL: several processes claim jobs at once.
    Postgres,
}

/// The queue, on its database.
pub struct JobStore {
    pool: AnyPool,
    engine: Engine,
    // Admission counts the unfinished jobs and adds one: one at a time, so that two requests
    // cannot both take the last place. (Only the server admits; workers only claim.)
    admitting: Mutex<()>,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS zkml_jobs (
    id TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    stage TEXT NOT NULL,
    payment_key TEXT NOT NULL UNIQUE,
    input TEXT NOT NULL,
    payment TEXT NOT NULL,
    context TEXT NOT NULL,
    settlement TEXT,
    result TEXT,
    error TEXT,
    worker TEXT,
    attempts BIGINT NOT NULL,
    accepted_ms BIGINT NOT NULL,
    claimed_ms BIGINT,
    updated_ms BIGINT NOT NULL
)";
/// The payment keys of `zkml-escrow` jobs (`http::Paid::key`), as a LIKE pattern.
const ESCROW_KEYS: &str = "zkml-escrow/%";
const INDEX: &str = "CREATE INDEX IF NOT EXISTS zkml_jobs_stage ON zkml_jobs (stage, accepted_ms)";
// Every statement is a literal (sqlx refuses SQL built at run time): the columns a job is read
// from, spliced in by `concat!`.
macro_rules! columns {
    () => {
        "id, model, stage, input, payment, context, settlement, result, error, worker, attempts, accepted_ms"
    };
}
// The claim: the oldest job waiting for a worker. PostgreSQL's workers skip the rows another is
// claiming instead of waiting on them; SQLite runs one write at a time, so there the inner
// SELECT and the UPDATE are one step anyway.
macro_rules! claim {
    ($lock:literal) => {
        concat!(
            "UPDATE zkml_jobs SET stage = $1, worker = $2, claimed_ms = $3, updated_ms = $3, attempts = attempts + 1 ",
            "WHERE id = (SELECT id FROM zkml_jobs WHERE model = $6 AND (stage = $4 OR (stage = $1 AND claimed_ms < $5)) ",
            "ORDER BY accepted_ms, id LIMIT 1",
            $lock,
            ") RETURNING ",
            columns!()
        )
    };
}
const CLAIM_SQLITE: &str = claim!("");
const CLAIM_POSTGRES: &str = claim!(" FOR UPDATE SKIP LOCKED");

impl JobStore {
    /// Opens (and creates, the first time) the queue at `url`: `sqlite://PATH` (the file is
    /// created) or `postgres://…`.
    pub async fn open(url: &str) -> Result<JobStore, JobError> {
        sqlx::any::install_default_drivers();
        let (engine, url) = if let Some(path) = url.strip_prefix("sqlite://") {
            let sep = if path.contains('?') { '&' } else { '?' };
            (Engine::Sqlite, format!("{url}{sep}mode=rwc"))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Engine::Postgres, url.to_string())
        } else {
            return Err(JobError::Engine { url: url.to_string() });
        };
        let pool = AnyPoolOptions::new().max_connections(8).connect(&url).await?;
        if engine == Engine::Sqlite {
            // Readers (a status poll) do not wait for the writer, nor it for them.
            sqlx::query("PRAGMA journal_mode=WAL").execute(&pool).await?;
        }
        sqlx::query(SCHEMA).execute(&pool).await?;
        sqlx::query(INDEX).execute(&pool).await?;
        Ok(JobStore { pool, engine, admitting: Mutex::new(()) })
    }

    /// The engine it runs on.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Adds `job` as `accepted` unless its payment made a job already (that one is returned) or
    /// `bound` jobs are unfinished.
    pub async fn admit(&self, job: NewJob<'_>, bound: usize) -> Result<Admission, JobError> {
        let _one = self.admitting.lock().await;
        if let Some(existing) = self.by_payment(&job.payment_key).await? {
            return Ok(Admission::Existing(Box::new(existing)));
        }
        let active = self.active().await?;
        if active >= bound {
            return Ok(Admission::Full { active });
        }
        let id = new_id();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO zkml_jobs (id, model, stage, payment_key, input, payment, context, attempts, accepted_ms, \
             updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8)",
        )
        .bind(&id)
        .bind(job.model)
        .bind(Stage::Accepted.as_str())
        .bind(&job.payment_key)
        .bind(to_json(&job.input))
        .bind(to_json(job.payment))
        .bind(&job.context)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(Admission::Added(id))
    }

    /// Removes an `accepted` job whose payment was refused before any transaction: nothing
    /// happened, and the buyer may pay again with the same authorization.
    pub async fn forget(&self, id: &str) -> Result<(), JobError> {
        sqlx::query("DELETE FROM zkml_jobs WHERE id = $1 AND stage = $2")
            .bind(id)
            .bind(Stage::Accepted.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// `accepted` → `settled`, with the settlement. False when the job was not `accepted`.
    pub async fn settled(&self, id: &str, settlement: &SettlementResponse) -> Result<bool, JobError> {
        let r = sqlx::query(
            "UPDATE zkml_jobs SET stage = $1, settlement = $2, updated_ms = $3 WHERE id = $4 AND stage = $5",
        )
        .bind(Stage::Settled.as_str())
        .bind(to_json(settlement))
        .bind(now_ms())
        .bind(id)
        .bind(Stage::Accepted.as_str())
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Claims the oldest job of `model` waiting for a worker — `settled`, or `proving` under a
    /// lease older than `lease` (its worker is presumed gone) — for `worker`: `proving`, its
    /// attempts counted.
    pub async fn claim(&self, worker: &str, lease: Duration, model: &str) -> Result<Option<Job>, JobError> {
        let now = now_ms();
        let expired = now - i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
        let sql = match self.engine {
            Engine::Postgres => CLAIM_POSTGRES,
            Engine::Sqlite => CLAIM_SQLITE,
        };
        let row = sqlx::query(sql)
            .bind(Stage::Proving.as_str())
            .bind(worker)
            .bind(now)
            .bind(Stage::Settled.as_str())
            .bind(expired)
            .bind(model)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(read_job).transpose()
    }

    /// `proving` by `worker` → `proved`, with the answer. False when the job is no longer
    /// `worker`'s (its lease expired and another worker claimed it): the answer is dropped.
    pub async fn proved(&self, id: &str, worker: &str, result: &Value) -> Result<bool, JobError> {
        const SQL: &str = concat!(
            "UPDATE zkml_jobs SET stage = $1, result = $2, updated_ms = $3 ",
            "WHERE id = $4 AND stage = $5 AND worker = $6"
        );
        self.finish(SQL, id, worker, Stage::Proved, &result.to_string()).await
    }

    /// `proving` by `worker` → `failed`, with the error; false as for `proved`.
    pub async fn failed(&self, id: &str, worker: &str, error: &str) -> Result<bool, JobError> {
        const SQL: &str = concat!(
            "UPDATE zkml_jobs SET stage = $1, error = $2, updated_ms = $3 ",
            "WHERE id = $4 AND stage = $5 AND worker = $6"
        );
        self.finish(SQL, id, worker, Stage::Failed, error).await
    }

    async fn finish(
        &self,
        sql: &'static str,
        id: &str,
        worker: &str,
        stage: Stage,
        value: &str,
    ) -> Result<bool, JobError> {
        let r = sqlx::query(sql)
            .bind(stage.as_str())
            .bind(value)
            .bind(now_ms())
            .bind(id)
            .bind(Stage::Proving.as_str())
            .bind(worker)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The `zkml-escrow` jobs proved and not yet released, oldest first: the server releases
    /// their escrow with their proof (workers hold no key).
    pub async fn to_release(&self) -> Result<Vec<Job>, JobError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM zkml_jobs WHERE stage = $1 AND payment_key LIKE $2 ORDER BY accepted_ms, id"
        ))
        .bind(Stage::Proved.as_str())
        .bind(ESCROW_KEYS)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(read_job).collect()
    }

    /// `proved` → `released`, the answer now `result` (with the release). False when the job was
    /// not `proved`.
    pub async fn released(&self, id: &str, result: &Value) -> Result<bool, JobError> {
        const SQL: &str = "UPDATE zkml_jobs SET stage = $1, result = $2, updated_ms = $3 WHERE id = $4 AND stage = $5";
        self.after_proof(SQL, id, Stage::Released, &result.to_string()).await
    }

    /// `proved` → `unreleased`, with why the escrow refused the proof. False when the job was not
    /// `proved`.
    pub async fn unreleased(&self, id: &str, error: &str) -> Result<bool, JobError> {
        const SQL: &str = "UPDATE zkml_jobs SET stage = $1, error = $2, updated_ms = $3 WHERE id = $4 AND stage = $5";
        self.after_proof(SQL, id, Stage::Unreleased, error).await
    }

    async fn after_proof(&self, sql: &'static str, id: &str, stage: Stage, value: &str) -> Result<bool, JobError> {
        let r = sqlx::query(sql)
            .bind(stage.as_str())
            .bind(value)
            .bind(now_ms())
            .bind(id)
            .bind(Stage::Proved.as_str())
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Gives back the jobs `worker` was proving (it restarted): `proving` → `settled`.
    pub async fn release(&self, worker: &str) -> Result<u64, JobError> {
        let r = sqlx::query(
            "UPDATE zkml_jobs SET stage = $1, worker = NULL, updated_ms = $2 WHERE stage = $3 AND worker = $4",
        )
        .bind(Stage::Settled.as_str())
        .bind(now_ms())
        .bind(Stage::Proving.as_str())
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    /// The job `id`, if there is one.
    pub async fn get(&self, id: &str) -> Result<Option<Job>, JobError> {
        let row = sqlx::query(concat!("SELECT ", columns!(), " FROM zkml_jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(read_job).transpose()
    }

    /// The job the payment `payment_key` made, if there is one.
    pub async fn by_payment(&self, payment_key: &str) -> Result<Option<Job>, JobError> {
        let row = sqlx::query(concat!("SELECT ", columns!(), " FROM zkml_jobs WHERE payment_key = $1"))
            .bind(payment_key)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(read_job).transpose()
    }

    /// The jobs accepted and not yet settled, oldest first (a restart settles them).
    pub async fn unsettled(&self) -> Result<Vec<Job>, JobError> {
        let rows =
            sqlx::query(concat!("SELECT ", columns!(), " FROM zkml_jobs WHERE stage = $1 ORDER BY accepted_ms, id"))
                .bind(Stage::Accepted.as_str())
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(read_job).collect()
    }

    /// How many jobs are unfinished (`accepted`, `settled` or `proving`).
    pub async fn active(&self) -> Result<usize, JobError> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM zkml_jobs WHERE stage IN ($1, $2, $3)")
            .bind(Stage::Accepted.as_str())
            .bind(Stage::Settled.as_str())
            .bind(Stage::Proving.as_str())
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        Ok(usize::try_from(n).unwrap_or(0))
    }
}

fn read_job(row: &AnyRow) -> Result<Job, JobError> {
    let id: String = row.try_get("id")?;
    let corrupt = |what| JobError::Corrupt { id: id.clone(), what };
    let json = |column: &'static str| -> Result<Option<Value>, JobError> {
        let text: Option<String> = row.try_get(column)?;
        text.map(|t| serde_json::from_str(&t).map_err(|_| corrupt(column))).transpose()
    };
    let stage: String = row.try_get("stage")?;
    let input = json("input")?.ok_or_else(|| corrupt("input"))?;
    let payment = json("payment")?.ok_or_else(|| corrupt("payment"))?;
    let accepted_ms: i64 = row.try_get("accepted_ms")?;
    let attempts: i64 = row.try_get("attempts")?;
    Ok(Job {
        model: row.try_get("model")?,
        stage: Stage::parse(&stage).ok_or_else(|| corrupt("stage"))?,
        input: serde_json::from_value(input).map_err(|_| corrupt("input"))?,
        payment: serde_json::from_value(payment).map_err(|_| corrupt("payment"))?,
        accepted_at: u64::try_from(accepted_ms / 1000).map_err(|_| corrupt("accepted_ms"))?,
        context: row.try_get("context")?,
        settlement: json("settlement")?.map(serde_json::from_value).transpose().map_err(|_| corrupt("settlement"))?,
        result: json("result")?,
        error: row.try_get("error")?,
        worker: row.try_get("worker")?,
        attempts: u32::try_from(attempts).map_err(|_| corrupt("attempts"))?,
        id,
    })
}

fn to_json(v: &impl serde::Serialize) -> String {
    // A job's fields are numbers, strings and JSON values: nothing that serde_json refuses.
    serde_json::to_string(v).expect("a job's fields serialize")
}

fn new_id() -> String {
    zkml::context::hex(&rand::random::<[u8; 16]>())
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
