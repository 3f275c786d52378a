//! `img23d models list|fetch|verify|path`: the neural models img23d knows, where they are
//! installed, downloading and re-checking them.

use std::io::Write;
use std::path::PathBuf;

use img23d_models::registry::ModelEntry;
use img23d_models::runtime::{self, Device, OptLevel, Precision, RuntimeOptions};
use img23d_models::store::{self, FetchOptions, FileCheck, ModelState, ModelStore};

use crate::{Error, Result};

/// What `img23d models` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelsAction {
    /// Show every known model: precision, state, size, licence.
    List,
    /// Download a model's files.
    Fetch {
        /// The model's registry name.
        name: String,
    },
    /// Re-check installed files against their recorded SHA-256.
    Verify {
        /// Only this model; by default, every installed one.
        name: Option<String>,
        /// Also load each model and check its signature against its contract.
        signatures: bool,
    },
    /// Print where a model's main file lives (or would be installed).
    Path {
        /// The model's registry name.
        name: String,
    },
}

/// `img23d models` settings.
#[derive(Debug, Clone)]
pub struct ModelsConfig {
    /// What to do.
    pub action: ModelsAction,
    /// The models folder; `None` resolves `$IMG23D_MODELS`, else the user's cache folder.
    pub models_dir: Option<PathBuf>,
    /// Never touch the network.
    pub offline: bool,
    /// ONNX Runtime settings (for `list` and `verify --signatures`; `fetch` and `path`
    /// read the precision).
    pub runtime: RuntimeOptions,
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
pub fn run(config: &ModelsConfig) -> Result<()> {
    let dir = store::resolve_models_dir(config.models_dir.as_deref())?;
    let store = ModelStore::new(dir).with_offline(config.offline);
    let opts = &config.runtime;
    match &config.action {
        ModelsAction::List => list(&store, opts),
        ModelsAction::Fetch { name } => fetch(&store, name, opts),
        ModelsAction::Verify { name, signatures } => {
            verify(&store, name.as_deref(), *signatures, opts)
        }
        ModelsAction::Path { name } => path(&store, name, opts),
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
        for p in e.precisions() {
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
    fn sizes_are_human() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(1_900_000_000), "1.9 GB");
    }
}
