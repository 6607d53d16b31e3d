//! The pinned anvil (node_modules/.bin/anvil) as a child process that is always stopped: the
//! guard's Drop kills it, and a Ctrl-C handler kills it before the process exits.

use std::fs::File;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Anvil's first dev account key (public knowledge: anvil prints it on start). Used only
/// against the anvil this crate starts, or a node the caller names with this key.
pub const ANVIL_DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// Anvil's dev account #2 (0x3C44…93BC): the demo's market-data provider, who signs the oracle's
/// reports. A well-known key: a demo stand-in, never a real signer.
pub const DATA_SIGNER_KEY: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
/// Anvil's dev account #3 (0x90F7…b906): the demo's attacker, funded by anvil's genesis.
pub const ATTACKER_KEY: &str = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";

/// Pid of the running anvil, for the Ctrl-C handler (0: none).
static CHILD_PID: AtomicU32 = AtomicU32::new(0);

/// How long anvil may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The repository root (this crate lives in `oracle-demo/`): from the manifest directory cargo
/// gives a process it runs (the tests), else the compiled-in one (script/demo.sh runs the binary
/// it just built). A target directory shared by two clones can hold a test binary another clone
/// built, whose compiled-in path points into that clone.
pub fn repo_root() -> PathBuf {
    let manifest =
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), PathBuf::from);
    manifest.parent().expect("oracle-demo has a parent").to_path_buf()
}

/// Installs the pinned toolchain with `script/install-toolchain.sh` unless it is complete: the
/// script's stamp `node_modules/.zkml-toolchain` is written last, and the script holds a lock, so
/// tests that call this at once on a fresh clone install once and never use a half-made tree.
pub fn ensure_toolchain(root: &Path) -> Result<()> {
    if root.join("node_modules/.zkml-toolchain").exists() {
        return Ok(());
    }
    eprintln!("node_modules/ lacks the pinned toolchain: running script/install-toolchain.sh");
    let script = root.join("script/install-toolchain.sh");
    let status = Command::new("bash")
        .arg(&script)
        .current_dir(root)
        .status()
        .with_context(|| format!("cannot run {}", script.display()))?;
    if !status.success() {
        bail!("cannot install the pinned toolchain: script/install-toolchain.sh failed ({status})");
    }
    Ok(())
}

/// `$ZKML_DEMO_ANVIL`, else the pinned `node_modules/.bin/anvil` (see [`ensure_toolchain`]).
pub fn anvil_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("ZKML_DEMO_ANVIL") {
        return Ok(PathBuf::from(p));
    }
    let root = repo_root();
    ensure_toolchain(&root)?;
    let p = root.join("node_modules/.bin/anvil");
    if !p.exists() {
        bail!("anvil is missing at {} after script/install-toolchain.sh", p.display());
    }
    Ok(p)
}

/// A running anvil; dropping it stops it unless [`Anvil::keep`] was called.
pub struct Anvil {
    child: Option<Child>,
    /// Its loopback port.
    pub port: u16,
    /// Its RPC URL.
    pub url: String,
}

fn answers(port: u16) -> bool {
    TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_millis(200)).is_ok()
}

/// What anvil wrote so far (stdout and stderr go to one anonymous file, read without moving the
/// offset anvil writes at).
fn read_log(log: &File) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = log.read_at(&mut buf, out.len() as u64) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The port of anvil's "Listening on 127.0.0.1:PORT" line.
fn listening_port(log: &str) -> Option<u16> {
    log.lines()
        .find_map(|l| l.trim().strip_prefix("Listening on "))
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.trim().parse().ok())
}

impl Anvil {
    /// Starts anvil on 127.0.0.1:`port` and waits until it answers. With `None` anvil binds
    /// port 0 itself, so the OS picks a free port at bind time and anvil reports it: no window in
    /// which another process (another test's anvil) could take a port chosen in advance.
    pub fn start(port: Option<u16>) -> Result<Anvil> {
        let bin = anvil_path()?;
        let taken = |p: u16| format!("cannot start anvil: port {p} on 127.0.0.1 is already taken by another process");
        if let Some(p) = port
            && answers(p)
        {
            bail!("{}", taken(p));
        }
        // Not --silent: anvil then prints the address it listens on. Its output (its banner lists
        // the dev keys) goes to an unlinked temporary file, never to ours; the file lives as long
        // as anvil has it open, also after this process ends (--keep-chain).
        let log = tempfile::tempfile().context("creating a temporary file for anvil's output")?;
        let mut child = Command::new(&bin)
            .args(["--host", "127.0.0.1", "--port", &port.unwrap_or(0).to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log.try_clone()?)
            .spawn()
            .with_context(|| {
                format!(
                    "cannot start anvil ({}): is the toolchain installed? run script/install-toolchain.sh",
                    bin.display()
                )
            })?;
        CHILD_PID.store(child.id(), Ordering::SeqCst);
        let t = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                CHILD_PID.store(0, Ordering::SeqCst);
                // Only its error lines: the rest of the output is the banner with the dev keys.
                let out = read_log(&log);
                let err: Vec<&str> = out.lines().filter(|l| l.contains("rror")).collect();
                match port {
                    Some(p) if out.contains("already in use") => bail!("{}", taken(p)),
                    Some(p) => bail!("anvil exited at start ({status}) on port {p}: {}", err.join("; ")),
                    None => bail!("anvil exited at start ({status}): {}", err.join("; ")),
                }
            }
            if let Some(p) = listening_port(&read_log(&log))
                && port.is_none_or(|want| want == p)
                && answers(p)
            {
                return Ok(Anvil { child: Some(child), port: p, url: format!("http://127.0.0.1:{p}") });
            }
            if t.elapsed() > START_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                CHILD_PID.store(0, Ordering::SeqCst);
                bail!(
                    "anvil did not listen{} within {} s",
                    port.map(|p| format!(" on port {p}")).unwrap_or_default(),
                    START_TIMEOUT.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Leaves anvil running after this process ends (`--keep-chain`).
    pub fn keep(mut self) -> u32 {
        CHILD_PID.store(0, Ordering::SeqCst);
        let child = self.child.take().expect("running");
        let pid = child.id();
        std::mem::forget(child);
        pid
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
            CHILD_PID.store(0, Ordering::SeqCst);
        }
    }
}

/// On Ctrl-C: stop the anvil this process started (if any) and exit 130.
pub fn install_ctrlc_handler() {
    let _ = ctrlc::set_handler(|| {
        let pid = CHILD_PID.swap(0, Ordering::SeqCst);
        if pid != 0 {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        eprintln!("\ninterrupted{}", if pid != 0 { ": anvil stopped" } else { "" });
        std::process::exit(130);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::signers::local::PrivateKeySigner;

    #[test]
    fn anvil_reports_the_port_it_listens_on() {
        let banner = "Available Accounts\n==================\n\nListening on 127.0.0.1:38157\n";
        assert_eq!(listening_port(banner), Some(38157));
        assert_eq!(listening_port("Genesis Timestamp\n"), None);
    }

    #[test]
    fn the_demo_keys_are_anvils_dev_accounts() {
        let addr = |k: &str| k.parse::<PrivateKeySigner>().unwrap().address().to_string();
        assert_eq!(addr(ANVIL_DEV_KEY), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
        assert_eq!(addr(DATA_SIGNER_KEY), "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC");
        assert_eq!(addr(ATTACKER_KEY), "0x90F79bf6EB2c4f870365E785982E1f101E93b906");
    }
}
