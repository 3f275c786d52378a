//! `img23d models list|fetch|verify|path`: the neural models img23d knows, where they are
//! installed, downloading and re-checking them. Also home of the flags every command that
//! runs a model shares ([`RuntimeArgs`], [`ModelDirArgs`]).

use std::io::Write;
use std::path::PathBuf;

use img23d_models::registry::ModelEntry;
use img23d_models::runtime::{self, Device, OptLevel, Precision, RuntimeOptions};
use img23d_models::store::{self, FetchOptions, FileCheck, ModelState, ModelStore};

use crate::{Error, Result};

/// Where the models live and whether the network may be used.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ModelDirArgs {
    /// Models folder. By default, $IMG23D_MODELS, else the user's cache folder
    /// (~/.cache/img23d/models on Linux).
    #[arg(long, value_name = "DIR", global = true)]
    pub models_dir: Option<PathBuf>,

    /// Never touch the network: use installed or given model files only.
    #[arg(long, global = true)]
    pub offline: bool,
}

impl ModelDirArgs {
    /// The models store these flags describe.
    pub fn store(&self) -> Result<ModelStore> {
        let dir = store::resolve_models_dir(self.models_dir.as_deref())?;
        Ok(ModelStore::new(dir).with_offline(self.offline))
    }
}

/// ONNX Runtime settings shared by every command that runs a model.
#[derive(Debug, Clone, clap::Args)]
pub struct RuntimeArgs {
    /// Where models run: auto (CUDA when available, else CPU), cpu, cuda[:N], tensorrt[:N].
    /// An explicitly requested GPU that cannot start is an error.
    #[arg(long, value_name = "DEVICE", default_value = "auto", global = true)]
    pub device: String,

    /// The ONNX Runtime library (libonnxruntime.so) or a folder holding it. By default:
    /// $ORT_DYLIB_PATH, an installed onnxruntime / onnxruntime-gpu Python package, then
    /// the system library path.
    #[arg(long, value_name = "PATH", global = true)]
    pub ort_lib: Option<PathBuf>,

    /// Threads per operator (0: one per core).
    #[arg(long, value_name = "N", default_value_t = 0, global = true)]
    pub threads: usize,

    /// Graph optimisation level: disable, basic, extended, all.
    #[arg(long, value_name = "LEVEL", default_value = "all", global = true)]
    pub opt_level: String,

    /// Weight precision where a model has both: fp32, fp16, or auto (fp16 for Depth Pro
    /// when it runs on a GPU, else fp32).
    #[arg(long, value_name = "P", default_value = "auto", global = true)]
    pub precision: String,
}

impl Default for RuntimeArgs {
    fn default() -> Self {
        Self {
            device: "auto".into(),
            ort_lib: None,
            threads: 0,
            opt_level: "all".into(),
            precision: "auto".into(),
        }
    }
}

fn invalid(name: &'static str, e: runtime::ParseOptionError) -> Error {
    Error::InvalidArgument {
        name,
        expected: e.expected.to_string(),
        got: e.got,
    }
}

impl RuntimeArgs {
    /// Validates the flags into [`RuntimeOptions`].
    pub fn to_options(&self) -> Result<RuntimeOptions> {
        Ok(RuntimeOptions {
            ort_lib: self.ort_lib.clone(),
            device: self
                .device
                .parse::<Device>()
                .map_err(|e| invalid("--device", e))?,
            intra_threads: self.threads,
            opt_level: self
                .opt_level
                .parse::<OptLevel>()
                .map_err(|e| invalid("--opt-level", e))?,
            precision: if self.precision_is_auto() {
                Precision::Fp32
            } else {
                self.precision
                    .parse::<Precision>()
                    .map_err(|e| invalid("--precision", e))?
            },
            ..RuntimeOptions::default()
        })
    }

    /// True when `--precision` is `auto` (the default): fp32, except where a command
    /// picks fp16 for a GPU (`img23d depth`).
    pub fn precision_is_auto(&self) -> bool {
        self.precision.trim().eq_ignore_ascii_case("auto")
    }
}

/// Arguments of `img23d models`.
#[derive(Debug, clap::Args)]
pub struct ModelsArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: ModelsAction,

    /// Models folder and network use.
    #[command(flatten)]
    pub dir: ModelDirArgs,

    /// ONNX Runtime settings.
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

/// The `img23d models` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ModelsAction {
    /// Show every known model: precision, state, size, licence.
    List,
    /// Download a model's files (resumes; checks size and SHA-256 before installing).
    Fetch {
        /// The model's name (see `img23d models list`).
        name: String,
    },
    /// Re-check installed files against their recorded SHA-256.
    Verify {
        /// Only this model (default: every installed one).
        name: Option<String>,
        /// Also load each model with ONNX Runtime and check its inputs/outputs against
        /// the contract its wrapper expects.
        #[arg(long)]
        signatures: bool,
    },
    /// Print where a model's main file lives (or would be installed).
    Path {
        /// The model's name.
        name: String,
    },
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn out(line: impl AsRef<str>) -> Result<()> {
    let mut o = std::io::stdout().lock();
    writeln!(o, "{}", line.as_ref()).map_err(|e| Error::io(e, "<stdout>"))
}

/// Runs `img23d models …`.
pub fn run(args: &ModelsArgs) -> Result<()> {
    let store = args.dir.store()?;
    let opts = args.runtime.to_options()?;
    match &args.action {
        ModelsAction::List => list(&store, &opts),
        ModelsAction::Fetch { name } => fetch(&store, name, &opts),
        ModelsAction::Verify { name, signatures } => {
            verify(&store, name.as_deref(), *signatures, &opts)
        }
        ModelsAction::Path { name } => path(&store, name, &opts),
    }
}

fn list(store: &ModelStore, opts: &RuntimeOptions) -> Result<()> {
    out(format!("models folder: {}", store.dir().display()))?;
    match runtime::init(opts) {
        Ok(rt) => out(rt.describe())?,
        Err(e) => out(format!("ONNX Runtime: {e}"))?,
    }
    out("")?;
    out(format!(
        "{:<16} {:<9} {:<20} {:>9}  {:<30} {}",
        "MODEL", "PRECISION", "STATE", "SIZE", "LICENCE", "DESCRIPTION"
    ))?;
    for e in store.registry().entries() {
        let rows: Vec<Option<Precision>> = if e.variants.is_empty() {
            vec![None]
        } else {
            e.variants.iter().map(|v| Some(v.precision)).collect()
        };
        for p in rows {
            let prec = p.unwrap_or_default();
            let state = store.state(e.name(), prec)?;
            let size = match state {
                ModelState::Missing | ModelState::ExportOnly => "-".to_string(),
                _ => store
                    .size(e.name(), prec)?
                    .map(human)
                    .unwrap_or_else(|| "?".into()),
            };
            out(format!(
                "{:<16} {:<9} {:<20} {:>9}  {:<30} {}",
                e.name(),
                p.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                state.to_string(),
                size,
                e.licence,
                e.description
            ))?;
        }
    }
    Ok(())
}

fn fetch(store: &ModelStore, name: &str, opts: &RuntimeOptions) -> Result<()> {
    let entry = store.registry().get(name)?;
    let prec = opts.precision_for(name);
    let fetched = store.fetch(name, prec, &FetchOptions::default())?;
    for f in &fetched {
        out(format!(
            "{} {} ({})",
            if f.downloaded {
                "installed"
            } else {
                "already installed"
            },
            f.path.display(),
            human(f.size)
        ))?;
    }
    out(format!(
        "{name}: licence {} ({})",
        entry.licence, entry.homepage
    ))?;
    Ok(())
}

/// The precisions of `e` whose files are (at least partly) on disk.
fn present(store: &ModelStore, e: &ModelEntry) -> Result<Vec<Precision>> {
    let mut v = Vec::new();
    for var in e.variants {
        match store.state(e.name(), var.precision)? {
            ModelState::Missing | ModelState::ExportOnly => {}
            _ => v.push(var.precision),
        }
    }
    Ok(v)
}

fn verify(
    store: &ModelStore,
    only: Option<&str>,
    signatures: bool,
    opts: &RuntimeOptions,
) -> Result<()> {
    let entries: Vec<&ModelEntry> = match only {
        Some(n) => vec![store.registry().get(n)?],
        None => store.registry().entries().iter().collect(),
    };
    let mut failures: Vec<img23d_models::Error> = Vec::new();
    let mut checked = 0;
    for e in entries {
        let precs = present(store, e)?;
        if precs.is_empty() {
            if only.is_some() {
                let path = store.model_path(e.name(), opts.precision_for(e.name()))?;
                return Err(img23d_models::Error::ModelMissing {
                    model: e.name().to_string(),
                    hint: format!("run `img23d models fetch {}`", e.name()),
                    path,
                }
                .into());
            }
            continue;
        }
        for p in precs {
            for (path, check) in store.verify(e.name(), p)? {
                checked += 1;
                let line = match &check {
                    FileCheck::Ok => format!("ok          {}", path.display()),
                    FileCheck::Missing => format!("missing     {}", path.display()),
                    FileCheck::NoRecord => format!(
                        "unrecorded  {} (no checksum to compare with; fetch it to record one)",
                        path.display()
                    ),
                    FileCheck::Mismatch(why) => format!("MISMATCH    {} ({why})", path.display()),
                };
                out(line)?;
                match check {
                    FileCheck::Mismatch(why) => failures.push(img23d_models::Error::BadManifest {
                        what: "model file",
                        reason: format!("checksum mismatch, {why}; delete it and fetch again"),
                        path,
                    }),
                    FileCheck::Missing => failures.push(img23d_models::Error::ModelMissing {
                        model: e.name().to_string(),
                        hint: format!("run `img23d models fetch {}`", e.name()),
                        path,
                    }),
                    _ => {}
                }
            }
            if signatures && !e.contracts.is_empty() {
                let main = store.model_path(e.name(), p)?;
                let sig_opts = RuntimeOptions {
                    device: Device::Cpu,
                    opt_level: OptLevel::Disable,
                    ..opts.clone()
                };
                match img23d_models::load_session_any(&main, e.contracts, &sig_opts) {
                    Ok((_, k)) => out(format!(
                        "signature   {} matches {} v{}",
                        main.display(),
                        e.contracts[k].name,
                        e.contracts[k].version
                    ))?,
                    Err(err) => {
                        out(format!("SIGNATURE   {}", main.display()))?;
                        failures.push(err);
                    }
                }
            }
        }
    }
    if checked == 0 {
        out("no model files installed")?;
    }
    match failures.into_iter().next() {
        Some(first) => Err(first.into()),
        None => Ok(()),
    }
}

fn path(store: &ModelStore, name: &str, opts: &RuntimeOptions) -> Result<()> {
    let entry = store.registry().get(name)?;
    let prec = opts.precision_for(name);
    if entry.variants.is_empty() {
        out(store.dir().join(entry.name()).display().to_string())?;
        return Ok(());
    }
    let p = store.model_path(name, prec)?;
    out(p.display().to_string())?;
    match store.state(name, prec)? {
        ModelState::Installed | ModelState::Unrecorded => {}
        s => eprintln!("note: {name} is {s}; run `img23d models fetch {name}`"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_args_are_validated() {
        let a = RuntimeArgs {
            device: "cuda:1".into(),
            precision: "fp16".into(),
            ..RuntimeArgs::default()
        };
        let o = a.to_options().unwrap();
        assert_eq!((o.device, o.precision), (Device::Cuda(1), Precision::Fp16));
        let bad = RuntimeArgs {
            device: "gpu".into(),
            ..RuntimeArgs::default()
        };
        let e = bad.to_options().unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("invalid --device"), "{e}");
    }

    #[test]
    fn sizes_are_human() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(1_900_000_000), "1.9 GB");
    }
}
