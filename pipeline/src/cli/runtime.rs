//! The options every command that runs a model shares, defined once: where ONNX Runtime
//! and the models are, where and how models run ([`RuntimeArgs`]), and whether the
//! network may be used ([`OfflineArg`]).

use std::path::PathBuf;

use img23d_models::runtime::{Device, OptLevel, ParseOptionError, Precision, RuntimeOptions};

use crate::{Error, Result};

/// `--models-dir`, `--device`, `--ort-lib`, `--threads`, `--opt-level`, `--precision`:
/// the main job, `img23d models` and `img23d depth` flatten this one group.
#[derive(Debug, Clone, clap::Args)]
pub struct RuntimeArgs {
    /// Models folder. By default, $IMG23D_MODELS, else the user's cache folder
    /// (~/.cache/img23d/models on Linux).
    #[arg(long, value_name = "DIR")]
    pub models_dir: Option<PathBuf>,

    /// Where neural models run: auto (CUDA when available, else CPU), cpu, cuda[:N],
    /// tensorrt[:N]. An explicitly requested GPU that cannot start is an error.
    #[arg(long, value_name = "DEVICE", default_value = "auto")]
    pub device: String,

    /// The ONNX Runtime library (libonnxruntime.so) or a folder holding it. By default:
    /// $ORT_DYLIB_PATH, an installed onnxruntime / onnxruntime-gpu Python package, then
    /// the system library path.
    #[arg(long, value_name = "PATH")]
    pub ort_lib: Option<PathBuf>,

    /// Worker threads: img23d's own heavy stages, and the threads inside each ONNX
    /// Runtime operator (0: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,

    /// ONNX Runtime's graph optimisation level: disable, basic, extended, all.
    #[arg(long, value_name = "LEVEL", default_value = "all")]
    pub opt_level: String,

    /// Weight precision where a model has both files: fp32, fp16, or auto (fp16 for
    /// Depth Pro when it runs on a GPU, else fp32).
    #[arg(long, value_name = "P", default_value = "auto")]
    pub precision: String,
}

impl Default for RuntimeArgs {
    fn default() -> Self {
        Self {
            models_dir: None,
            device: "auto".into(),
            ort_lib: None,
            threads: 0,
            opt_level: "all".into(),
            precision: "auto".into(),
        }
    }
}

impl RuntimeArgs {
    /// The ids of the group's arguments (`img23d models` takes them before or after its
    /// action: [`super::command`] marks them global there).
    pub const IDS: [&'static str; 6] = [
        "models_dir",
        "device",
        "ort_lib",
        "threads",
        "opt_level",
        "precision",
    ];

    /// Validates the flags into [`RuntimeOptions`]; `--precision auto` is fp32 here (a
    /// command that prefers fp16 on a GPU asks [`RuntimeArgs::precision_is_auto`]).
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

fn invalid(name: &'static str, e: ParseOptionError) -> Error {
    Error::InvalidArgument {
        name,
        expected: e.expected.to_string(),
        got: e.got,
    }
}

/// `--offline`, for the commands that may download a model.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct OfflineArg {
    /// Never touch the network: use installed or given model files only.
    #[arg(long)]
    pub offline: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_args_are_validated() {
        let a = RuntimeArgs {
            device: "cuda:1".into(),
            precision: "fp16".into(),
            threads: 3,
            ..RuntimeArgs::default()
        };
        let o = a.to_options().unwrap();
        assert_eq!((o.device, o.precision), (Device::Cuda(1), Precision::Fp16));
        assert_eq!(o.intra_threads, 3);
        let bad = RuntimeArgs {
            device: "gpu".into(),
            ..RuntimeArgs::default()
        };
        let e = bad.to_options().unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("invalid --device"), "{e}");
        let auto = RuntimeArgs::default();
        assert!(auto.precision_is_auto());
        assert_eq!(auto.to_options().unwrap().precision, Precision::Fp32);
        let fp8 = RuntimeArgs {
            precision: "fp8".into(),
            ..RuntimeArgs::default()
        };
        assert!(fp8.to_options().is_err());
    }
}
