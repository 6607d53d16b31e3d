//! Compiles the Cairo packages that `zkml-gen starknet` writes and runs their functions, with the
//! Cairo compiler and runner crates (cairo-lang-* 2.16.1, pinned in Cargo.toml) instead of Scarb.
//!
//! The compiler needs Cairo's corelib sources, which the cairo-lang crates do not ship. The
//! crate-registry package of `cairo-native` [`CAIRO_NATIVE_VERSION`] carries the corelib matching
//! cairo-lang 2.16 in its `corelib/` folder: [`corelib_dir`] has cargo fetch that package (as a
//! dependency of a throw-away manifest, read with `cargo metadata`; nothing of it is built) and
//! uses its folder. `ZKML_CAIRO_CORELIB` (a corelib's `src/` folder) overrides the lookup.

#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow, bail};
use cairo_lang_compiler::db::RootDatabase;
use cairo_lang_compiler::diagnostics::DiagnosticsReporter;
use cairo_lang_compiler::project::setup_project;
use cairo_lang_compiler::{CompilerConfig, compile_prepared_db_program};
use cairo_lang_filesystem::db::init_dev_corelib;
use cairo_lang_filesystem::ids::CrateInput;
use cairo_lang_runner::{Arg, RunResultValue, SierraCasmRunner, StarknetState};
use cairo_lang_sierra::program::Program;
use cairo_lang_sierra_generator::replace_ids::DebugReplacer;
use cairo_lang_starknet::starknet_plugin_suite;
use starknet_types_core::felt::Felt as Felt252;

/// The `cairo-native` release whose crate-registry package carries the corelib of Cairo 2.16.
pub const CAIRO_NATIVE_VERSION: &str = "0.9.0-rc.2";

/// The corelib's `src/` folder (see the crate docs). Fetched once per process.
pub fn corelib_dir() -> Result<PathBuf> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| find_corelib().map_err(|e| format!("{e:#}"))).clone().map_err(|e| anyhow!(e))
}

fn find_corelib() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("ZKML_CAIRO_CORELIB") {
        let p = PathBuf::from(p);
        if !p.join("lib.cairo").exists() {
            bail!("ZKML_CAIRO_CORELIB={} has no lib.cairo", p.display());
        }
        return Ok(p);
    }
    let dir = std::env::temp_dir().join(format!("zkml-corelib-fetch-{CAIRO_NATIVE_VERSION}"));
    std::fs::create_dir_all(dir.join("src")).context("creating the corelib fetch manifest")?;
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"zkml-corelib-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             publish = false\n\n[workspace]\n\n[dependencies]\n\
             cairo-native = {{ version = \"={CAIRO_NATIVE_VERSION}\", default-features = false }}\n"
        ),
    )?;
    std::fs::write(dir.join("src/lib.rs"), "")?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .output()
        .with_context(|| format!("running {cargo} metadata"))?;
    if !out.status.success() {
        bail!(
            "cargo metadata could not fetch cairo-native {CAIRO_NATIVE_VERSION} (for Cairo's corelib): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).context("cargo metadata output")?;
    let manifest = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "cairo-native" && p["version"] == CAIRO_NATIVE_VERSION)
        .and_then(|p| p["manifest_path"].as_str())
        .context("cargo metadata lists no cairo-native package")?;
    let src = Path::new(manifest).parent().unwrap().join("corelib/src");
    if !src.join("lib.cairo").exists() {
        bail!("{} has no lib.cairo", src.display());
    }
    Ok(src)
}

/// A compiled package.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Compiled {
    /// The package's Sierra program.
    pub program: Program,
    /// The compiler's warnings (errors fail [`compile`]).
    pub warnings: String,
    /// Whether the package's Starknet contract compiled to a contract class.
    pub contract_ok: bool,
    /// Length of the contract class's Sierra program in felts (what a declare transaction
    /// carries; Starknet's gateway refuses more than [`MAX_CONTRACT_BYTECODE_SIZE`]).
    pub sierra_felts: usize,
}

/// [`compile`], at most once per package contents and test run: under cargo-nextest, which runs
/// each test in a process of its own, the first process to need a package compiles it and
/// leaves the result in `cache_dir` (under a lock file, so the others wait for it instead of
/// compiling it too), keyed by the run (`NEXTEST_RUN_ID`) and the package's files; the other
/// processes of the run read it. Outside nextest (`cargo test` runs a binary's tests as threads
/// of one process, which keeps its own result) it compiles.
pub fn compile_once_per_run(pkg: &Path, cache_dir: &Path) -> Result<Compiled> {
    let Ok(run) = std::env::var("NEXTEST_RUN_ID") else { return compile(pkg) };
    let key = package_key(pkg, &run)?;
    std::fs::create_dir_all(cache_dir).with_context(|| format!("creating {}", cache_dir.display()))?;
    let lock_path = cache_dir.join(format!("{key}.lock"));
    let lock = std::fs::File::create(&lock_path).with_context(|| format!("creating {}", lock_path.display()))?;
    lock.lock().with_context(|| format!("locking {}", lock_path.display()))?;
    let path = cache_dir.join(format!("{key}.json"));
    if let Ok(bytes) = std::fs::read(&path) {
        return serde_json::from_slice(&bytes)
            .with_context(|| format!("reading the compiled package {}", path.display()));
    }
    // A compiled package is a large JSON file (a generated verifier's whole Sierra program):
    // keep only this run's (another package of this run may be compiling beside this one).
    let run_prefix = key.split('-').next().unwrap_or_default();
    for e in std::fs::read_dir(cache_dir)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with(run_prefix) {
            let _ = std::fs::remove_file(e.path());
        }
    }
    let compiled = compile(pkg)?;
    let tmp = cache_dir.join(format!("{key}.json.tmp"));
    std::fs::write(&tmp, serde_json::to_vec(&compiled)?).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(compiled)
}

/// `RUN-PACKAGE`: SHA3-256 (hex) of the run id, then of the package's files (relative paths and
/// contents, in path order).
fn package_key(pkg: &Path, run: &str) -> Result<String> {
    use sha3::{Digest, Sha3_256};
    fn files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let p = e?.path();
            if p.is_dir() { files(&p, out)? } else { out.push(p) }
        }
        Ok(())
    }
    let mut all = vec![];
    files(pkg, &mut all)?;
    all.sort();
    let hex = |h: Sha3_256| h.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut h = Sha3_256::new();
    for p in all {
        let rel = p.strip_prefix(pkg).unwrap_or(&p).to_string_lossy().into_owned();
        h.update((rel.len() as u64).to_le_bytes());
        h.update(rel.as_bytes());
        let bytes = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(format!("{}-{}", hex(Sha3_256::new_with_prefix(run.as_bytes())), hex(h)))
}

/// The Starknet gateway's `max_contract_bytecode_size` (felts of a declared Sierra program).
pub const MAX_CONTRACT_BYTECODE_SIZE: usize = 81_920;

fn database(pkg: &Path) -> Result<(RootDatabase, Vec<CrateInput>)> {
    let mut db = RootDatabase::builder().with_default_plugin_suite(starknet_plugin_suite()).build()?;
    init_dev_corelib(&mut db, corelib_dir()?);
    let crates = setup_project(&mut db, pkg).with_context(|| format!("setting up {}", pkg.display()))?;
    Ok((db, crates))
}

/// Compiles the package at `pkg` (a folder with cairo_project.toml) to Sierra, and its Starknet
/// contract to a contract class. Fails on any compiler error. The two compile side by side, each
/// in a database of its own: the compiler works on one core for most of a compile, so two
/// databases on two cores take ~62 s for a generated verifier where one database took 88 s (the
/// program 59 s, then the contract 29 s though it shared the program's semantic analysis).
pub fn compile(pkg: &Path) -> Result<Compiled> {
    let (program, class) = std::thread::scope(|s| {
        let class = s.spawn(|| compile_contract(pkg));
        let program = compile_program(pkg);
        (program, class.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    });
    let (program, warnings) = program?;
    Ok(Compiled { program, warnings, contract_ok: true, sierra_felts: class? })
}

/// The package's Sierra program and the compiler's warnings.
fn compile_program(pkg: &Path) -> Result<(Program, String)> {
    let (db, crates) = database(pkg)?;
    let mut diagnostics = String::new();
    let program = {
        let reporter = DiagnosticsReporter::write_to_string(&mut diagnostics).with_crates(&crates).allow_warnings();
        let ids = CrateInput::into_crate_ids(&db, crates.clone());
        compile_prepared_db_program(
            &db,
            ids,
            CompilerConfig { diagnostics_reporter: reporter, ..CompilerConfig::default() },
        )
    };
    let mut program = program.map_err(|e| anyhow!("{e:#}\n{diagnostics}"))?;
    DebugReplacer { db: &db }.enrich_function_names(&mut program);
    Ok((program, diagnostics))
}

/// The length in felts of the package's Starknet contract class's Sierra program.
fn compile_contract(pkg: &Path) -> Result<usize> {
    let (db, crates) = database(pkg)?;
    let ids = CrateInput::into_crate_ids(&db, crates.clone());
    let mut diagnostics = String::new();
    let class = cairo_lang_starknet::compile::compile_contract_in_prepared_db(
        &db,
        None,
        ids,
        CompilerConfig {
            diagnostics_reporter: DiagnosticsReporter::write_to_string(&mut diagnostics)
                .with_crates(&crates)
                .allow_warnings(),
            ..CompilerConfig::default()
        },
    );
    let class = class.map_err(|e| anyhow!("compiling the Starknet contract: {e:#}\n{diagnostics}"))?;
    Ok(class.sierra_program.len())
}

/// What a run gave.
#[derive(Debug)]
pub enum Outcome {
    /// The function returned; its return values (the memory of the non-implicit outputs).
    Returned(Vec<Felt252>),
    /// The function panicked with this data.
    Panicked(Vec<Felt252>),
}

/// A run's result and cost.
#[derive(Debug)]
pub struct Run {
    /// How the run ended.
    pub outcome: Outcome,
    /// The VM's memory after the run (holes as `None`).
    pub memory: Vec<Option<Felt252>>,
    /// Cairo VM steps.
    pub steps: usize,
    /// Sierra gas consumed as the runner counts it (steps, holes and builtins at their costs).
    pub gas: u64,
    /// Builtin instances used, by name.
    pub builtins: Vec<(String, usize)>,
}

/// A program made ready to run: its Sierra compiled to CASM, with the gas metadata, once (a
/// quarter of a second for a generated verifier, which the tests run dozens of times).
pub struct Runner(SierraCasmRunner);

impl Runner {
    /// Compiles `program` to CASM with its gas metadata.
    pub fn new(program: &Program) -> Result<Self> {
        SierraCasmRunner::new(program.clone(), Some(Default::default()), Default::default(), None)
            .map(Self)
            .map_err(|e| anyhow!("preparing the runner: {e}"))
    }

    /// Runs the function whose path ends with `name` on `args`.
    pub fn run(&self, name: &str, args: Vec<Arg>) -> Result<Run> {
        let runner = &self.0;
        const AVAILABLE_GAS: usize = 4_000_000_000_000;
        let func = runner.find_function(name).map_err(|e| anyhow!("{name}: {e}"))?;
        let r = runner
            .run_function_with_starknet_context(func, args, Some(AVAILABLE_GAS), StarknetState::default())
            .map_err(|e| anyhow!("running {name}: {e}"))?;
        let left: u64 = r.gas_counter.map(|g| g.to_string().parse().unwrap_or(0)).unwrap_or(AVAILABLE_GAS as u64);
        let builtins = r
            .used_resources
            .basic_resources
            .builtin_instance_counter
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(b, n)| (format!("{b:?}"), *n))
            .collect();
        Ok(Run {
            outcome: match r.value {
                RunResultValue::Success(v) => Outcome::Returned(v),
                RunResultValue::Panic(v) => Outcome::Panicked(v),
            },
            memory: r.memory,
            steps: r.used_resources.basic_resources.n_steps,
            gas: AVAILABLE_GAS as u64 - left,
            builtins,
        })
    }
}

/// An argument `Span<felt252>`.
pub fn felt_span(values: &[Felt252]) -> Arg {
    Arg::Array(values.iter().cloned().map(Arg::Value).collect())
}

/// Decodes an `Option<Span<u256>>` return value: `Some` of the (low, high) halves, or `None`.
pub fn option_span_u256(run: &Run) -> Result<Option<Vec<(u128, u128)>>> {
    let Outcome::Returned(v) = &run.outcome else { bail!("the function panicked") };
    if v.len() != 3 {
        bail!("unexpected Option<Span<u256>> layout: {v:?}");
    }
    if v[0] == Felt252::from(1u8) {
        return Ok(None);
    }
    if v[0] != Felt252::ZERO {
        bail!("unexpected Option variant {}", v[0]);
    }
    let num = |f: &Felt252| -> Result<u128> { f.to_string().parse().context("not a u128") };
    let (start, end) = (num(&v[1])? as usize, num(&v[2])? as usize);
    let cells = run.memory.get(start..end).context("span out of memory")?;
    let felts: Vec<u128> =
        cells.iter().map(|c| num(c.as_ref().context("unset memory cell")?)).collect::<Result<_>>()?;
    if !felts.len().is_multiple_of(2) {
        bail!("a Span<u256> has an even number of felts");
    }
    Ok(Some(felts.chunks(2).map(|c| (c[0], c[1])).collect()))
}
