//! Helpers shared by the tests that drive the pinned Solidity toolchain.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The pinned forge, installing the toolchain first if needed. Panics (never skips) when forge
/// cannot be found.
pub fn forge(root: &Path) -> PathBuf {
    let forge = root.join("node_modules/.bin/forge");
    if !forge.exists() {
        let script = root.join("script/install-toolchain.sh");
        eprintln!("{} missing: running {}", forge.display(), script.display());
        let status = Command::new("bash")
            .arg(&script)
            .current_dir(root)
            .status()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(status.success(), "{} failed ({status})", script.display());
    }
    assert!(forge.exists(), "forge not found at {}", forge.display());
    forge
}
