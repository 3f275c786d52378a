//! `img23d doctor`: one screen a user pastes into a bug report, saying what this machine
//! can run and why a run is on the CPU. The runtime side (library, providers, GPUs, CUDA
//! libraries, `--device auto`'s pick) comes from [`img23d_models::doctor`]; this module adds
//! the build, the models folder with each model's state, and prints it for people or as
//! JSON (`--json`).
//!
//! Exit status: 0 when everything the user has installed can run, 1 with the first
//! problem and its fix otherwise.

use std::io::Write;
use std::path::PathBuf;

use img23d_models::doctor::{self, Diagnosis, Problem};
use img23d_models::runtime::RuntimeOptions;
use img23d_models::store::{self, ModelState, ModelStore};
use serde::Serialize;

use crate::{Error, Result};

/// Version of the `--json` document; bumped when a field changes meaning or goes away.
pub const DOCTOR_SCHEMA_VERSION: u32 = 1;

/// What `img23d doctor` looks at and how it prints (from [`crate::cli::DoctorArgs`]).
#[derive(Debug, Clone)]
pub struct DoctorConfig {
    /// One JSON document instead of the screen for people.
    pub json: bool,
    /// The models folder; `None` resolves `$IMG23D_MODELS`, else the user's cache folder.
    pub models_dir: Option<PathBuf>,
    /// ONNX Runtime settings (the library to look at).
    pub runtime: RuntimeOptions,
}

/// Everything `img23d doctor` reports (the `--json` document).
#[derive(Debug, Serialize)]
pub struct DoctorReport {
    /// [`DOCTOR_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// This img23d's version.
    pub img23d_version: &'static str,
    /// The runtime side: library, providers, GPUs, CUDA libraries, auto's pick, problems.
    #[serde(flatten)]
    pub runtime: Diagnosis,
    /// The models folder and each known model's state.
    pub models: ModelsReport,
}

/// The models folder.
#[derive(Debug, Serialize)]
pub struct ModelsReport {
    /// Where it is.
    pub folder: PathBuf,
    /// Each known model and precision.
    pub entries: Vec<ModelRow>,
}

/// One model (and precision) of the registry.
#[derive(Debug, Serialize)]
pub struct ModelRow {
    /// Registry name.
    pub name: String,
    /// `fp32`/`fp16`, when the model has variants.
    pub precision: Option<String>,
    /// `installed`, `partial`, `not installed`, `present (unrecorded)`, `export only`.
    pub state: String,
}

/// Runs `img23d doctor`; returns the exit status (0 or 1).
pub fn run(config: &DoctorConfig) -> Result<i32> {
    let store = ModelStore::new(store::resolve_models_dir(config.models_dir.as_deref())?);
    let mut runtime = doctor::diagnose(&config.runtime);
    let models = models_report(&store, &mut runtime.problems)?;
    let report = DoctorReport {
        schema_version: DOCTOR_SCHEMA_VERSION,
        img23d_version: env!("CARGO_PKG_VERSION"),
        runtime,
        models,
    };
    let text = if config.json {
        serde_json::to_string_pretty(&report)
            .map_err(|e| Error::io(std::io::Error::other(e), "<stdout>"))?
            + "\n"
    } else {
        render(&report)
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Error::io(e, "<stdout>"))?;
    Ok(if report.runtime.problems.is_empty() {
        0
    } else {
        1
    })
}

fn models_report(store: &ModelStore, problems: &mut Vec<Problem>) -> Result<ModelsReport> {
    let mut entries = Vec::new();
    for e in store.registry().entries() {
        for p in e.precisions() {
            let state = store.state(e.name(), p.unwrap_or_default())?;
            if state == ModelState::Partial {
                problems.push(Problem {
                    problem: format!(
                        "{}{} is partly installed (files missing or of the wrong size)",
                        e.name(),
                        p.map(|p| format!(" ({p})")).unwrap_or_default()
                    ),
                    fix: format!(
                        "img23d models fetch {} (resumes), or img23d models verify {}",
                        e.name(),
                        e.name()
                    ),
                });
            }
            entries.push(ModelRow {
                name: e.name().to_string(),
                precision: p.map(|p| p.to_string()),
                state: state.to_string(),
            });
        }
    }
    Ok(ModelsReport {
        folder: store.dir().to_path_buf(),
        entries,
    })
}

/// The screen for people: one section per finding, then the verdict.
fn render(r: &DoctorReport) -> String {
    let mut out = Vec::new();
    render_library(r, &mut out);
    render_providers(&r.runtime, &mut out);
    render_machine(&r.runtime, &mut out);
    render_verdict(r, &mut out);
    out.join("\n") + "\n"
}

fn render_library(r: &DoctorReport, out: &mut Vec<String>) {
    let d = &r.runtime;
    out.push(format!(
        "img23d {} (features: {})",
        r.img23d_version,
        if d.build_features.is_empty() {
            "none: CPU only".to_string()
        } else {
            d.build_features.join(", ")
        }
    ));
    out.push(String::new());
    out.push("ONNX Runtime".into());
    out.push(match (&d.onnxruntime.path, &d.onnxruntime.error) {
        (Some(p), _) => format!(
            "  library     {} (version {}, found by {})",
            p.display(),
            d.onnxruntime.version.as_deref().unwrap_or("unknown"),
            d.onnxruntime.found_by.as_deref().unwrap_or("?")
        ),
        (None, Some(e)) => format!("  library     none usable: {e}"),
        (None, None) => "  library     none".into(),
    });
    for l in &d.onnxruntime.looked_at {
        out.push(format!(
            "  looked at   {} ({}): {}",
            l.path.display(),
            l.source,
            l.note
        ));
    }
}

fn render_providers(d: &Diagnosis, out: &mut Vec<String>) {
    out.push(String::new());
    out.push("Execution providers".into());
    for p in &d.providers {
        let state = match p.starts {
            Some(true) => "starts",
            Some(false) => "FAILS",
            None => "not available",
        };
        out.push(format!(
            "  {:<26} {:<11} {:<13} {}",
            p.name, p.device, state, p.detail
        ));
        if let (Some(f), Some(false)) = (&p.library_file, p.library_file_present) {
            out.push(format!("  {:<26} {} not found", "", f.display()));
        }
        if let Some(e) = &p.library_load_error {
            out.push(format!("  {:<26} loader: {e}", ""));
        }
    }
}

fn render_machine(d: &Diagnosis, out: &mut Vec<String>) {
    out.push(String::new());
    out.push("GPUs".into());
    if d.gpus.is_empty() {
        out.push("  none visible (no nvidia-smi, no /proc/driver/nvidia)".into());
    }
    for g in &d.gpus {
        out.push(format!(
            "  {}: {}{}{}",
            g.index,
            g.name,
            g.memory_mib
                .map(|m| format!(", {:.1} GiB", m as f64 / 1024.0))
                .unwrap_or_default(),
            g.driver
                .as_deref()
                .map(|v| format!(", driver {v}"))
                .unwrap_or_default()
        ));
    }
    out.push(String::new());
    out.push("CUDA libraries (as the dynamic loader resolves them)".into());
    for l in &d.cuda_libraries {
        out.push(match (&l.path, &l.error) {
            (_, Some(e)) => format!("  {:<20} not found: {e}", l.name),
            (Some(p), None) => format!("  {:<20} {}", l.name, p.display()),
            (None, None) => format!("  {:<20} loads", l.name),
        });
    }
}

fn render_verdict(r: &DoctorReport, out: &mut Vec<String>) {
    let d = &r.runtime;
    out.push(String::new());
    out.push(format!("Models folder {}", r.models.folder.display()));
    for m in &r.models.entries {
        out.push(format!(
            "  {:<16} {:<5} {}",
            m.name,
            m.precision.as_deref().unwrap_or("-"),
            m.state
        ));
    }
    out.push(String::new());
    out.push(format!(
        "--device auto picks: {} ({})",
        d.auto_device.device, d.auto_device.reason
    ));
    out.extend(d.notes.iter().map(|n| format!("note: {n}")));
    match d.problems.first() {
        None => out.push("OK: everything installed can run".into()),
        Some(p) => {
            out.push(format!("PROBLEM: {}", p.problem));
            out.push(format!("FIX: {}", p.fix));
            if d.problems.len() > 1 {
                out.push(format!(
                    "({} more problem(s): img23d doctor --json lists them all)",
                    d.problems.len() - 1
                ));
            }
        }
    }
}
