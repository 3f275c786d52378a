//! The Depth Pro model of a run: which file (a path given, else the installed
//! `depth-pro` in the precision asked for, else the other one), which precision
//! (`--precision auto`: fp16 on a GPU, as Apple runs it), loaded once for every photo.

use std::path::PathBuf;
use std::time::Instant;

use img23d_models::depth_pro::{self, DepthPro};
use img23d_models::registry::ModelId;
use img23d_models::runtime::{Device, Precision, RuntimeOptions};
use img23d_models::session::Contract;
use img23d_models::store::{ModelState, ModelStore};

use crate::Result;
use crate::report::DepthModelReport;

use super::DepthConfig;

/// The loaded model and what the report says about it.
pub(super) struct Loaded {
    /// The model.
    pub model: DepthPro,
    /// Its file, layout, semantics and where it runs.
    pub report: DepthModelReport,
    /// The one line the command prints about it.
    pub line: String,
}

/// The runtime options for Depth Pro: `--precision auto` becomes fp16 when the session
/// will run on a GPU.
pub(super) fn runtime_options(config: &DepthConfig) -> RuntimeOptions {
    let mut opts = config.runtime.clone();
    if config.auto_precision
        && prefers_fp16(opts.device, || {
            // fp16 only where CUDA really starts: a CUDA build of the library on a
            // machine without a GPU runs on the CPU, where fp32 is the right choice.
            img23d_models::runtime::init(&opts).is_ok_and(|r| {
                r.has_cuda() && img23d_models::doctor::device_starts(r, Device::Cuda(0)).is_ok()
            })
        })
    {
        opts.model_precision
            .insert(ModelId::DepthPro.name().to_string(), Precision::Fp16);
    }
    opts
}

/// Finds and loads the model.
pub(super) fn load(
    config: &DepthConfig,
    store: &ModelStore,
    opts: &RuntimeOptions,
) -> Result<Loaded> {
    let (path, contracts, precision) = locate_model(config, store, opts)?;
    let start = Instant::now();
    let model = DepthPro::load_with_contracts(&path, &contracts, opts, config.semantics)?;
    let contract = model.session().contract();
    let report = DepthModelReport {
        file: path.clone(),
        layout: format!("{} v{}", contract.name, contract.version),
        semantics: model.semantics(),
        execution_provider: model.execution_provider().to_string(),
        precision: precision.map(|p| p.to_string()),
        intra_op_threads: opts.intra_threads,
    };
    // The full reason CUDA was not used (with --device auto) is logged at info level.
    let fallback = if model.session().cpu_fallback_reason().is_some() {
        " (CUDA not available; IMG23D_LOG=info says why)"
    } else {
        ""
    };
    let line = format!(
        "Depth Pro: {} ({}, {}) on {}{fallback}, loaded in {:.1} s",
        path.display(),
        report.layout,
        report.semantics,
        report.execution_provider,
        start.elapsed().as_secs_f64()
    );
    Ok(Loaded {
        model,
        report,
        line,
    })
}

/// `--precision auto` for Depth Pro (as Apple runs it): fp16 when the session runs on a
/// GPU — an explicit CUDA or TensorRT device, or `auto` when `cuda_available` (the build
/// and the library have the CUDA provider) — else fp32. The fp32 files serve when the
/// fp16 ones are not installed (see [`locate_model`]).
pub(super) fn prefers_fp16(device: Device, cuda_available: impl FnOnce() -> bool) -> bool {
    match device {
        Device::Cuda(_) | Device::TensorRt(_) => true,
        Device::Auto => cuda_available(),
        _ => false,
    }
}

/// The model file to load, the layouts to check it against, and its precision (registry
/// models only). A file given by path always wins; otherwise the installed `depth-pro` in
/// the requested precision, else in the other one (said on stderr).
fn locate_model(
    config: &DepthConfig,
    store: &ModelStore,
    opts: &RuntimeOptions,
) -> Result<(PathBuf, Vec<&'static Contract>, Option<Precision>)> {
    let name = ModelId::DepthPro.name();
    let entry = store.registry().entry(ModelId::DepthPro)?;
    if let Some(p) = &config.model {
        let path = store.locate(name, Precision::Fp32, Some(p))?;
        return Ok((path, depth_pro::CONTRACTS.to_vec(), None));
    }
    let wanted = opts.precision_for(name);
    let contracts = entry.contracts.to_vec();
    match store.locate(name, wanted, None) {
        Ok(path) => Ok((path, contracts, Some(wanted))),
        Err(e) => {
            let other = match wanted {
                Precision::Fp32 => Precision::Fp16,
                Precision::Fp16 => Precision::Fp32,
            };
            if matches!(
                store.state(name, other)?,
                ModelState::Installed | ModelState::Unrecorded
            ) {
                let path = store.locate(name, other, None)?;
                eprintln!(
                    "note: {name} {wanted} is not installed; using the installed {other} files \
                     (`img23d models fetch {name} --precision {wanted}` installs {wanted})"
                );
                Ok((path, contracts, Some(other)))
            } else {
                Err(e.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fp16_on_a_gpu_fp32_on_the_cpu_by_default() {
        assert!(prefers_fp16(Device::Cuda(0), || false));
        assert!(prefers_fp16(Device::TensorRt(1), || false));
        assert!(prefers_fp16(Device::Auto, || true));
        assert!(!prefers_fp16(Device::Auto, || false));
        assert!(!prefers_fp16(Device::Cpu, || true));
        // A forced precision is kept: no fp16 entry for Depth Pro.
        let forced = DepthConfig {
            auto_precision: false,
            runtime: RuntimeOptions::default().with_device(Device::Cuda(0)),
            ..DepthConfig::default()
        };
        let opts = runtime_options(&forced);
        assert_eq!(opts.precision_for("depth-pro"), Precision::Fp32);
        let auto = DepthConfig {
            runtime: RuntimeOptions::default().with_device(Device::Cuda(0)),
            ..DepthConfig::default()
        };
        assert_eq!(
            runtime_options(&auto).precision_for("depth-pro"),
            Precision::Fp16
        );
    }
}
