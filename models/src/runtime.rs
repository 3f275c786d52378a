//! The ONNX Runtime library and the process-wide environment.
//!
//! `ort` is built with `load-dynamic`: nothing is linked or downloaded at build time, and
//! the library (`libonnxruntime.so.1.31.x`) is found at run time, in this order:
//!
//! 1. an explicit path ([`RuntimeOptions::ort_lib`], the `--ort-lib` flag or config):
//!    a file, or a folder holding one;
//! 2. the `ORT_DYLIB_PATH` environment variable;
//! 3. an installed `onnxruntime` or `onnxruntime-gpu` Python package
//!    (`site-packages/onnxruntime/capi/libonnxruntime.so.*`), found by asking `python3`
//!    for its site-packages folders and by scanning the usual ones;
//! 4. the system library path (`libonnxruntime.so` through the dynamic loader, then
//!    `/usr/lib`, `/usr/local/lib`, …).
//!
//! Libraries older than 1.31 (the C API `ort` is built against, feature `api-31`) are
//! skipped during discovery and refused when named explicitly. Loading goes through
//! [`ort::init_from`], so a missing library is an [`Error`] that says how to install one,
//! never a panic. ONNX Runtime allows one environment per process: [`init`] creates it
//! once, in a global, and every later call returns the same [`Runtime`].
//!
//! Devices ([`Device`]) are chosen per session (see [`crate::session`]): `auto` uses CUDA
//! when this build has the `cuda` feature, the library has the CUDA execution provider and
//! it starts, and says which one it used; an explicitly requested GPU that cannot start is
//! an error, never a silent CPU run.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};

use ort::environment::Environment;
use ort::logging::LogLevel;

use crate::error::{Error, Result};

/// The oldest ONNX Runtime release this build can use (`ort` feature `api-31`).
pub const MIN_ORT_VERSION: (u32, u32) = (1, 31);

/// The ONNX Runtime release the project tests with (`pip install onnxruntime==1.31.1`).
pub const TESTED_ORT_VERSION: &str = "1.31.1";

/// Where a model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    /// CUDA when available (feature `cuda`, a CUDA build of the library, a GPU), else CPU.
    #[default]
    Auto,
    /// The CPU execution provider.
    Cpu,
    /// The CUDA execution provider on device N. Failing to start is an error.
    Cuda(u32),
    /// The TensorRT execution provider on device N (CUDA for nodes TensorRT does not
    /// take). Failing to start is an error.
    TensorRt(u32),
}

impl Device {
    /// True for the explicitly requested GPU devices.
    pub fn is_gpu(self) -> bool {
        matches!(self, Self::Cuda(_) | Self::TensorRt(_))
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
            Self::TensorRt(n) => write!(f, "tensorrt:{n}"),
        }
    }
}

/// A string that is not a valid [`Device`], [`OptLevel`] or [`Precision`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} '{got}': expected {expected}")]
pub struct ParseOptionError {
    /// Which setting.
    pub what: &'static str,
    /// The accepted values.
    pub expected: &'static str,
    /// The value given.
    pub got: String,
}

impl FromStr for Device {
    type Err = ParseOptionError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let err = || ParseOptionError {
            what: "device",
            expected: "auto, cpu, cuda, cuda:N, tensorrt or tensorrt:N",
            got: s.to_string(),
        };
        let lower = s.trim().to_ascii_lowercase();
        let (kind, index) = match lower.split_once(':') {
            Some((k, n)) => (k, Some(n.parse::<u32>().map_err(|_| err())?)),
            None => (lower.as_str(), None),
        };
        match (kind, index) {
            ("auto", None) => Ok(Self::Auto),
            ("cpu", None) => Ok(Self::Cpu),
            ("cuda", n) => Ok(Self::Cuda(n.unwrap_or(0))),
            ("tensorrt", n) => Ok(Self::TensorRt(n.unwrap_or(0))),
            _ => Err(err()),
        }
    }
}

/// ONNX Runtime graph optimisation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptLevel {
    /// No graph optimisation.
    Disable,
    /// Constant folding and redundant-node removal.
    Basic,
    /// Basic plus node fusions.
    Extended,
    /// Everything, including layout optimisations.
    #[default]
    All,
}

impl FromStr for OptLevel {
    type Err = ParseOptionError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "0" | "disable" | "none" => Ok(Self::Disable),
            "1" | "basic" => Ok(Self::Basic),
            "2" | "extended" => Ok(Self::Extended),
            "3" | "all" => Ok(Self::All),
            _ => Err(ParseOptionError {
                what: "optimisation level",
                expected: "disable, basic, extended, all (or 0-3)",
                got: s.to_string(),
            }),
        }
    }
}

impl OptLevel {
    pub(crate) fn to_ort(self) -> ort::session::builder::GraphOptimizationLevel {
        use ort::session::builder::GraphOptimizationLevel as G;
        match self {
            Self::Disable => G::Disable,
            Self::Basic => G::Level1,
            Self::Extended => G::Level2,
            Self::All => G::Level3,
        }
    }
}

/// Which weight file of a model to use, where the registry offers both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub enum Precision {
    /// 32-bit float weights.
    #[default]
    Fp32,
    /// 16-bit float weights (half the download and memory; best on GPUs).
    Fp16,
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Fp32 => "fp32",
            Self::Fp16 => "fp16",
        })
    }
}

impl FromStr for Precision {
    type Err = ParseOptionError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fp32" | "f32" | "float32" => Ok(Self::Fp32),
            "fp16" | "f16" | "float16" | "half" => Ok(Self::Fp16),
            _ => Err(ParseOptionError {
                what: "precision",
                expected: "fp32 or fp16",
                got: s.to_string(),
            }),
        }
    }
}

/// Settings for the ONNX Runtime library and the sessions created through it.
///
/// The library path matters only to the first [`init`] of the process; the rest is read
/// by every [`crate::session::load_session`].
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    /// The ONNX Runtime library file, or a folder holding one. By default, `None`: search
    /// `ORT_DYLIB_PATH`, the Python packages and the system path.
    pub ort_lib: Option<PathBuf>,
    /// Where models run. By default, [`Device::Auto`].
    pub device: Device,
    /// Threads inside one operator; 0 lets ONNX Runtime decide (one per physical core).
    /// By default, 0.
    pub intra_threads: usize,
    /// Threads running independent operators in parallel; 0 keeps ONNX Runtime's
    /// sequential executor. By default, 0.
    pub inter_threads: usize,
    /// Graph optimisation level. By default, [`OptLevel::All`].
    pub opt_level: OptLevel,
    /// Weight precision for models not named in `model_precision`. By default,
    /// [`Precision::Fp32`].
    pub precision: Precision,
    /// Weight precision per model (registry name, e.g. `"depth-pro"`). By default, empty.
    pub model_precision: BTreeMap<String, Precision>,
    /// Record on which execution provider each node was placed (from ONNX Runtime's
    /// verbose session log; costs a little at load time). By default, false.
    pub record_placement: bool,
}

impl RuntimeOptions {
    /// The precision to use for `model` (a registry name).
    pub fn precision_for(&self, model: &str) -> Precision {
        self.model_precision
            .get(model)
            .copied()
            .unwrap_or(self.precision)
    }

    /// Sets [`RuntimeOptions::device`].
    #[must_use]
    pub fn with_device(mut self, device: Device) -> Self {
        self.device = device;
        self
    }

    /// Sets [`RuntimeOptions::ort_lib`].
    #[must_use]
    pub fn with_ort_lib(mut self, path: impl Into<PathBuf>) -> Self {
        self.ort_lib = Some(path.into());
        self
    }

    /// Sets [`RuntimeOptions::intra_threads`].
    #[must_use]
    pub fn with_intra_threads(mut self, n: usize) -> Self {
        self.intra_threads = n;
        self
    }

    /// Sets [`RuntimeOptions::record_placement`].
    #[must_use]
    pub fn with_record_placement(mut self, yes: bool) -> Self {
        self.record_placement = yes;
        self
    }
}

/// How the library in use was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LibrarySource {
    /// [`RuntimeOptions::ort_lib`] (`--ort-lib` or config).
    Explicit,
    /// The `ORT_DYLIB_PATH` environment variable.
    EnvVar,
    /// An `onnxruntime`/`onnxruntime-gpu` Python package.
    PythonPackage,
    /// The system library path.
    System,
}

impl fmt::Display for LibrarySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Explicit => "--ort-lib",
            Self::EnvVar => "ORT_DYLIB_PATH",
            Self::PythonPackage => "Python package",
            Self::System => "system library path",
        })
    }
}

/// The loaded ONNX Runtime library and its (only) environment.
#[derive(Debug)]
pub struct Runtime {
    env: Environment,
    library: PathBuf,
    source: LibrarySource,
    version: Option<String>,
}

impl Runtime {
    /// The library file in use.
    pub fn library(&self) -> &Path {
        &self.library
    }

    /// How it was found.
    pub fn source(&self) -> LibrarySource {
        self.source
    }

    /// Its version, read from the file name (`libonnxruntime.so.1.31.1`), when it has one.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// True when this build has the `cuda` feature and the library has the CUDA execution
    /// provider compiled in (the `onnxruntime-gpu` package). It may still fail to start
    /// (no GPU, missing CUDA or cuDNN libraries); sessions report what they got.
    pub fn has_cuda(&self) -> bool {
        #[cfg(feature = "cuda")]
        {
            use ort::ep::ExecutionProvider;
            ort::ep::CUDA::is_available().unwrap_or(false)
        }
        #[cfg(not(feature = "cuda"))]
        {
            false
        }
    }

    /// True when this build has the `tensorrt` feature and the library has the TensorRT
    /// execution provider compiled in.
    pub fn has_tensorrt(&self) -> bool {
        #[cfg(feature = "tensorrt")]
        {
            use ort::ep::ExecutionProvider;
            ort::ep::TensorRT::is_available().unwrap_or(false)
        }
        #[cfg(not(feature = "tensorrt"))]
        {
            false
        }
    }

    /// ONNX Runtime's build information string.
    pub fn build_info(&self) -> &'static str {
        ort::info()
    }

    /// One line for logs and reports: version, path and how it was found.
    pub fn describe(&self) -> String {
        format!(
            "ONNX Runtime {} from {} ({})",
            self.version.as_deref().unwrap_or("(version unknown)"),
            self.library.display(),
            self.source
        )
    }

    pub(crate) fn environment(&self) -> &Environment {
        &self.env
    }
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static AUTO_FALLBACK: OnceLock<String> = OnceLock::new();

/// Records why `--device auto` put a session on the CPU (the first reason of the process).
pub(crate) fn note_auto_fallback(reason: &str) {
    let _ = AUTO_FALLBACK.set(reason.to_string());
}

/// Why `--device auto` put a session on the CPU instead of CUDA, the first time it did in
/// this process; `None` when every `auto` session so far ran on CUDA (or none was made).
/// Commands print it once, as one line, so a CPU run on a GPU machine is never silent.
pub fn auto_fallback() -> Option<&'static str> {
    AUTO_FALLBACK.get().map(String::as_str)
}
static INIT_LOCK: Mutex<()> = Mutex::new(());

/// The runtime, if [`init`] has already succeeded in this process.
pub fn get() -> Option<&'static Runtime> {
    RUNTIME.get()
}

/// Loads ONNX Runtime (once per process) and returns it.
///
/// The first successful call picks the library (see the module docs for the search order)
/// and creates the environment; later calls return the same runtime, and fail only when
/// they name a different library explicitly.
pub fn init(opts: &RuntimeOptions) -> Result<&'static Runtime> {
    // A poisoned lock only means another thread panicked while holding it; the state it
    // guards (the OnceLock) is still consistent.
    let _guard = INIT_LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(rt) = RUNTIME.get() {
        if let Some(requested) = &opts.ort_lib {
            let requested = resolve_explicit(requested)?;
            if !same_file(&requested, &rt.library) {
                return Err(Error::RuntimeAlreadyLoaded {
                    loaded: rt.library.clone(),
                    requested,
                });
            }
        }
        return Ok(rt);
    }
    let rt = load(opts)?;
    Ok(RUNTIME.get_or_init(|| rt))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// One place the library may be, and how it was found.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The library file (or bare name for the dynamic loader).
    pub path: PathBuf,
    /// How it was found.
    pub source: LibrarySource,
}

fn load(opts: &RuntimeOptions) -> Result<Runtime> {
    // Explicit choices are final: a bad one is an error, not a reason to look elsewhere.
    if let Some(p) = &opts.ort_lib {
        let path = resolve_explicit(p)?;
        return load_from(&path, LibrarySource::Explicit);
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        let path = resolve_explicit(Path::new(&p))?;
        return load_from(&path, LibrarySource::EnvVar);
    }
    let mut tried = Vec::new();
    for cand in discover(&mut tried) {
        match try_load(&cand.path) {
            Ok(()) => return build_env(&cand.path, cand.source),
            Err(reason) => tried.push(format!("{} ({reason})", cand.path.display())),
        }
    }
    Err(Error::RuntimeNotFound {
        tried: if tried.is_empty() {
            "nothing found".to_string()
        } else {
            tried.join("; ")
        },
    })
}

fn load_from(path: &Path, source: LibrarySource) -> Result<Runtime> {
    if let Some(v) = version_from_file_name(path)
        && !version_ok(v)
    {
        return Err(Error::RuntimeLoad {
            reason: format!(
                "version {}.{}.{} is too old, {}.{} or newer is needed",
                v.0, v.1, v.2, MIN_ORT_VERSION.0, MIN_ORT_VERSION.1
            ),
            path: path.to_path_buf(),
        });
    }
    try_load(path).map_err(|reason| Error::RuntimeLoad {
        reason,
        path: path.to_path_buf(),
    })?;
    build_env(path, source)
}

fn try_load(path: &Path) -> std::result::Result<(), String> {
    // `init_from` loads the library into ort's process-wide slot (only on success) and
    // checks its API version; the builder it returns is dropped here and recreated below.
    ort::init_from(path).map(|_| ()).map_err(|e| e.to_string())
}

fn build_env(path: &Path, source: LibrarySource) -> Result<Runtime> {
    let logger: ort::logging::LoggerFunction = Arc::new(forward_log);
    let env = ort::init()
        .with_name("img23d")
        .with_telemetry(false)
        .with_logger(logger)
        .build()
        .map_err(|e| Error::RuntimeInit {
            reason: e.to_string(),
            path: path.to_path_buf(),
        })?;
    // The custom logger is registered at VERBOSE; keep the environment's own messages to
    // warnings (ORT_LOG=verbose|info|warning|error overrides).
    env.set_log_level(env_log_level());
    let version = version_from_file_name(path).map(|(a, b, c)| format!("{a}.{b}.{c}"));
    let rt = Runtime {
        env,
        library: path.to_path_buf(),
        source,
        version,
    };
    tracing::info!("{}", rt.describe());
    Ok(rt)
}

fn env_log_level() -> LogLevel {
    match std::env::var("ORT_LOG").as_deref() {
        Ok("verbose") => LogLevel::Verbose,
        Ok("info") => LogLevel::Info,
        Ok("error") => LogLevel::Error,
        Ok("fatal") => LogLevel::Fatal,
        _ => LogLevel::Warning,
    }
}

/// Routes ONNX Runtime's log messages into `tracing`.
fn forward_log(level: LogLevel, _category: &str, _id: &str, location: &str, message: &str) {
    match level {
        LogLevel::Verbose => tracing::trace!(target: "onnxruntime", "{message} ({location})"),
        LogLevel::Info => tracing::debug!(target: "onnxruntime", "{message}"),
        LogLevel::Warning => tracing::warn!(target: "onnxruntime", "{message}"),
        LogLevel::Error | LogLevel::Fatal => {
            tracing::error!(target: "onnxruntime", "{message}")
        }
    }
}

/// Resolves an explicitly named library: a file, or a folder holding one.
fn resolve_explicit(p: &Path) -> Result<PathBuf> {
    if p.is_dir() {
        return best_library_in(p).ok_or_else(|| Error::RuntimeLoad {
            reason: format!("no {} file in this folder", lib_file_pattern()),
            path: p.to_path_buf(),
        });
    }
    if !p.exists() {
        return Err(Error::RuntimeLoad {
            reason: "no such file".to_string(),
            path: p.to_path_buf(),
        });
    }
    Ok(p.to_path_buf())
}

fn lib_file_pattern() -> &'static str {
    if cfg!(windows) {
        "onnxruntime.dll"
    } else if cfg!(target_os = "macos") {
        "libonnxruntime*.dylib"
    } else {
        "libonnxruntime.so*"
    }
}

fn is_lib_name(name: &str) -> bool {
    if cfg!(windows) {
        name.eq_ignore_ascii_case("onnxruntime.dll")
    } else if cfg!(target_os = "macos") {
        name.starts_with("libonnxruntime")
            && name.ends_with(".dylib")
            && !name.contains("providers")
    } else {
        name == "libonnxruntime.so" || name.starts_with("libonnxruntime.so.")
    }
}

/// Parses `libonnxruntime.so.1.31.1` / `libonnxruntime.1.31.1.dylib` into (1, 31, 1).
pub fn version_from_file_name(path: &Path) -> Option<(u32, u32, u32)> {
    let name = path.file_name()?.to_str()?;
    let rest = name.strip_prefix("libonnxruntime.so.").or_else(|| {
        name.strip_prefix("libonnxruntime.")
            .and_then(|r| r.strip_suffix(".dylib"))
    })?;
    let mut it = rest.split('.').map(|s| s.parse::<u32>().ok());
    let major = it.next()??;
    let minor = it.next()??;
    let patch = it.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

/// A library version (major, minor, patch).
type Version = (u32, u32, u32);

fn version_ok(v: Version) -> bool {
    (v.0, v.1) >= MIN_ORT_VERSION
}

/// The best library file in a folder: the highest version, else the plain name.
fn best_library_in(dir: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut best: Option<(Option<Version>, PathBuf)> = None;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if !is_lib_name(name) {
            continue;
        }
        let path = e.path();
        let v = version_from_file_name(&path);
        if best.as_ref().is_none_or(|(bv, _)| v > *bv) {
            best = Some((v, path));
        }
    }
    best.map(|(_, p)| p)
}

/// Every place the library may be, in search order, after the explicit ones: the Python
/// packages, then the system. Libraries older than [`MIN_ORT_VERSION`] are left out (and
/// noted in `skipped`).
pub fn discover(skipped: &mut Vec<String>) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let mut push = |path: PathBuf, source: LibrarySource, skipped: &mut Vec<String>| {
        if let Some(v) = version_from_file_name(&path)
            && !version_ok(v)
        {
            skipped.push(format!(
                "{} (version {}.{}.{} is older than {}.{})",
                path.display(),
                v.0,
                v.1,
                v.2,
                MIN_ORT_VERSION.0,
                MIN_ORT_VERSION.1
            ));
            return;
        }
        if !out.iter().any(|c| same_file(&c.path, &path)) {
            out.push(Candidate { path, source });
        }
    };
    for dir in python_package_dirs() {
        if let Some(lib) = best_library_in(&dir.join("onnxruntime").join("capi")) {
            push(lib, LibrarySource::PythonPackage, skipped);
        }
    }
    // The dynamic loader's own search (LD_LIBRARY_PATH, ld.so.cache, rpath).
    let bare = if cfg!(windows) {
        "onnxruntime.dll"
    } else if cfg!(target_os = "macos") {
        "libonnxruntime.dylib"
    } else {
        "libonnxruntime.so"
    };
    push(PathBuf::from(bare), LibrarySource::System, skipped);
    for dir in [
        "/usr/local/lib",
        "/usr/lib",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/opt/homebrew/lib",
    ] {
        if let Some(lib) = best_library_in(Path::new(dir)) {
            push(lib, LibrarySource::System, skipped);
        }
    }
    out
}

/// site-packages / dist-packages folders that may hold an `onnxruntime` package: what
/// `python3` reports first (its `sys.path`, so virtual environments and user sites count),
/// then the usual locations.
pub fn python_package_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut add = |p: PathBuf| {
        if p.is_dir() && !dirs.contains(&p) {
            dirs.push(p);
        }
    };
    for p in ask_python() {
        add(p);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let mut roots: Vec<PathBuf> = Vec::new();
    for var in ["VIRTUAL_ENV", "CONDA_PREFIX"] {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            roots.push(PathBuf::from(v).join("lib"));
        }
    }
    if let Some(h) = &home {
        roots.push(h.join(".local/lib"));
        if let Ok(rd) = std::fs::read_dir(h.join(".pyenv/versions")) {
            let mut vs: Vec<PathBuf> = rd.flatten().map(|e| e.path().join("lib")).collect();
            vs.sort();
            vs.reverse();
            roots.extend(vs);
        }
    }
    roots.extend(
        ["/usr/local/lib", "/usr/lib", "/opt/conda/lib"]
            .iter()
            .map(PathBuf::from),
    );
    for root in roots {
        let Ok(rd) = std::fs::read_dir(&root) else {
            continue;
        };
        let mut pys: Vec<PathBuf> = rd
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
            .map(|e| e.path())
            .collect();
        pys.sort();
        pys.reverse();
        for py in pys {
            add(py.join("site-packages"));
            add(py.join("dist-packages"));
        }
    }
    add(PathBuf::from("/usr/lib/python3/dist-packages"));
    dirs
}

/// `python3`'s import path (site-packages of the active interpreter, venv or user site).
fn ask_python() -> Vec<PathBuf> {
    let script = "import sys, site\n\
paths = list(sys.path)\n\
try:\n    paths += site.getsitepackages()\nexcept Exception:\n    pass\n\
try:\n    paths.append(site.getusersitepackages())\nexcept Exception:\n    pass\n\
print('\\n'.join(p for p in paths if p))";
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| {
                !l.is_empty() && (l.ends_with("site-packages") || l.ends_with("dist-packages"))
            })
            .map(PathBuf::from)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_devices() {
        assert_eq!("auto".parse::<Device>(), Ok(Device::Auto));
        assert_eq!("CPU".parse::<Device>(), Ok(Device::Cpu));
        assert_eq!("cuda".parse::<Device>(), Ok(Device::Cuda(0)));
        assert_eq!("cuda:3".parse::<Device>(), Ok(Device::Cuda(3)));
        assert_eq!("tensorrt:1".parse::<Device>(), Ok(Device::TensorRt(1)));
        for bad in ["gpu", "cuda:", "cuda:x", "cpu:1", "auto:0", ""] {
            let e = bad.parse::<Device>().unwrap_err();
            assert!(e.to_string().contains("cuda:N"), "{e}");
        }
        for d in [
            Device::Auto,
            Device::Cpu,
            Device::Cuda(2),
            Device::TensorRt(0),
        ] {
            assert_eq!(d.to_string().parse::<Device>(), Ok(d));
        }
    }

    #[test]
    fn parses_levels_and_precision() {
        assert_eq!("all".parse::<OptLevel>(), Ok(OptLevel::All));
        assert_eq!("1".parse::<OptLevel>(), Ok(OptLevel::Basic));
        assert!("fast".parse::<OptLevel>().is_err());
        assert_eq!("fp16".parse::<Precision>(), Ok(Precision::Fp16));
        assert!("int8".parse::<Precision>().is_err());
        let mut o = RuntimeOptions::default();
        o.model_precision
            .insert("depth-pro".into(), Precision::Fp16);
        assert_eq!(o.precision_for("depth-pro"), Precision::Fp16);
        assert_eq!(o.precision_for("triposr-encoder"), Precision::Fp32);
    }

    #[test]
    fn versions_from_names() {
        let v = |s: &str| version_from_file_name(Path::new(s));
        assert_eq!(v("/x/libonnxruntime.so.1.31.1"), Some((1, 31, 1)));
        assert_eq!(v("libonnxruntime.so.1.30.0"), Some((1, 30, 0)));
        assert_eq!(v("libonnxruntime.1.31.1.dylib"), Some((1, 31, 1)));
        assert_eq!(v("libonnxruntime.so"), None);
        assert_eq!(v("libonnxruntime_providers_cuda.so"), None);
        assert!(version_ok((1, 31, 0)) && version_ok((2, 0, 0)) && !version_ok((1, 30, 9)));
    }

    #[test]
    fn picks_highest_version_in_folder() {
        let dir = tempfile::tempdir().unwrap();
        for n in [
            "libonnxruntime.so.1.30.0",
            "libonnxruntime.so.1.31.1",
            "libonnxruntime_providers_shared.so",
        ] {
            std::fs::write(dir.path().join(n), b"").unwrap();
        }
        if cfg!(target_os = "linux") {
            let best = best_library_in(dir.path()).unwrap();
            assert!(best.ends_with("libonnxruntime.so.1.31.1"), "{best:?}");
        }
    }

    #[test]
    fn explicit_missing_library_is_an_error_with_install_hint() {
        let e = resolve_explicit(Path::new("/nonexistent/libonnxruntime.so")).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("pip install onnxruntime==1.31.1"), "{msg}");
        assert!(msg.ends_with("/nonexistent/libonnxruntime.so"), "{msg}");
    }
}
