//! The pinned anvil (node_modules/.bin/anvil) as a child process that is always stopped: the
//! guard's Drop kills it, and a Ctrl-C handler kills it before the process exits.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Anvil's first dev account key (public knowledge: anvil prints it on start). Used only
/// against the anvil this crate starts.
pub const ANVIL_DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// Pid of the running anvil, for the Ctrl-C handler (0: none).
static CHILD_PID: AtomicU32 = AtomicU32::new(0);

/// The repository root (this crate lives in `oracle-demo/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("oracle-demo has a parent").to_path_buf()
}

/// `$ZKML_DEMO_ANVIL`, else the pinned `node_modules/.bin/anvil` (installing the toolchain with
/// `script/install-toolchain.sh` when it is missing).
pub fn anvil_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("ZKML_DEMO_ANVIL") {
        return Ok(PathBuf::from(p));
    }
    let root = repo_root();
    let p = root.join("node_modules/.bin/anvil");
    if !p.exists() {
        eprintln!("node_modules/ lacks anvil: running script/install-toolchain.sh");
        let ok = Command::new(root.join("script/install-toolchain.sh")).current_dir(&root).status()?.success();
        if !ok || !p.exists() {
            bail!("cannot install the pinned toolchain (script/install-toolchain.sh failed); anvil is needed at {}", p.display());
        }
    }
    Ok(p)
}

/// A running anvil; dropping it stops it unless [`Anvil::keep`] was called.
pub struct Anvil {
    child: Option<Child>,
    pub port: u16,
    pub url: String,
}

/// A free loopback port (the OS picks it; there is a small window before anvil binds it, and a
/// port taken meanwhile makes anvil exit, which `start` reports).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0").context("binding a loopback port")?.local_addr()?.port())
}

impl Anvil {
    /// Starts anvil on 127.0.0.1:`port` (a free one if None) and waits until it answers.
    pub fn start(port: Option<u16>) -> Result<Anvil> {
        let bin = anvil_path()?;
        let port = match port {
            Some(p) => p,
            None => free_port()?,
        };
        if TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_millis(200)).is_ok() {
            bail!("cannot start anvil: port {port} on 127.0.0.1 is already taken by another process");
        }
        let mut child = Command::new(&bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--silent"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start anvil ({}): is the toolchain installed? run script/install-toolchain.sh", bin.display()))?;
        CHILD_PID.store(child.id(), Ordering::SeqCst);
        let mut anvil = Anvil { child: None, port, url: format!("http://127.0.0.1:{port}") };
        let t = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                let mut err = String::new();
                if let Some(mut s) = child.stderr.take() {
                    let _ = s.read_to_string(&mut err);
                }
                CHILD_PID.store(0, Ordering::SeqCst);
                bail!("anvil exited at start ({status}) on port {port}: {}", err.trim());
            }
            if TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_millis(200)).is_ok() {
                anvil.child = Some(child);
                return Ok(anvil);
            }
            if t.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                let _ = child.wait();
                CHILD_PID.store(0, Ordering::SeqCst);
                bail!("anvil did not open port {port} within 20 s");
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
