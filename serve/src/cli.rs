//! What the binaries (`zkml-serve`, `zkml-worker`, `zkml-pay`) share.

use std::process::ExitCode;

use alloy::signers::local::PrivateKeySigner;
use anyhow::Context;

/// A binary's exit: its error printed with its causes.
pub fn exit(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The private key (hex) in environment variable `var`, whose account `does` what the error
/// says when it is missing (keys are never taken on the command line, where `ps` shows them).
pub fn key_from_env(var: &str, does: &str) -> anyhow::Result<PrivateKeySigner> {
    let key = std::env::var(var).with_context(|| format!("set {var} to the private key (hex) whose account {does}"))?;
    key.trim().parse().with_context(|| format!("{var} does not hold a private key"))
}
