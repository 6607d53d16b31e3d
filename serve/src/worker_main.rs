//! `zkml-worker`, which `zkml worker` runs: proves the paid jobs a `zkml serve` queued, from the
//! same job database, in a process of its own — beside the server or on other machines
//! (PostgreSQL; an SQLite queue is only reachable on the server's machine).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use zkml_serve::catalog::Catalog;
use zkml_serve::cli;
use zkml_serve::http::LEASE;
use zkml_serve::jobs::JobStore;
use zkml_serve::metrics::Metrics;
use zkml_serve::worker::Provers;

const EXAMPLES: &str = "\
Examples:
  # The server queues on PostgreSQL and proves nothing itself; two workers prove
  zkml serve --models build/price_mlp --database-url postgres://zkml@db/zkml --workers 0 ...
  zkml worker --models build/price_mlp --database-url postgres://zkml@db/zkml --name gpu-box-1
  zkml worker --models build/price_mlp --database-url postgres://zkml@db/zkml --name gpu-box-2";

/// Prove the paid jobs `zkml serve` queued: claim the oldest settled job, prove it with the
/// model's keys, store the answer for the server to give the buyer; repeat until stopped.
#[derive(Parser)]
#[command(name = "zkml worker", version, after_help = EXAMPLES)]
struct Args {
    /// Compiled model directories with their keys, as the server was given them (the same
    /// names: a job names its model by its directory's name).
    #[arg(long, required = true, num_args = 1..)]
    models: Vec<PathBuf>,
    /// The job queue's database: the server's --database-url.
    #[arg(long)]
    database_url: String,
    /// This worker's name. Started again under the same name, it takes back at once the jobs it
    /// held when it stopped (others wait for --lease-seconds) [default: worker-PID].
    #[arg(long)]
    name: Option<String>,
    /// Jobs proved at once, each by its own worker (NAME-0, NAME-1, ...).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// How long a job may stay with a worker before another takes it over (the first presumed
    /// gone), in seconds.
    #[arg(long, default_value_t = LEASE.as_secs())]
    lease_seconds: u64,
    /// Prove with keys anyone can forge proofs for (`zkml setup --dev-seed`): for tests only.
    #[arg(long)]
    allow_dev_keys: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    cli::exit(run(Args::parse()).await)
}

async fn run(args: Args) -> Result<()> {
    anyhow::ensure!(args.workers > 0, "--workers must be at least 1");
    let name = args.name.unwrap_or_else(|| format!("worker-{}", std::process::id()));
    eprintln!("loading {} model(s) and their keys", args.models.len());
    let catalog = Catalog::load(&args.models, args.allow_dev_keys)?;
    let names = catalog.names().join(", ");
    // The URL may hold a password: it is not printed.
    let jobs = JobStore::open(&args.database_url).await.context("opening the job queue (--database-url)")?;
    let engine = jobs.engine();
    let lease = Duration::from_secs(args.lease_seconds);
    let provers = Provers::new(catalog, jobs, Metrics::new(0), lease, args.workers);
    provers.start(&name).await?;
    // The first line on stdout, for scripts.
    println!("worker {name} proving {names} ({} at once) from the {engine:?} queue", args.workers);
    tokio::signal::ctrl_c().await.context("waiting for ctrl-c")?;
    Ok(())
}
