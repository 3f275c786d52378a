//! What this machine can run, for `img23d doctor`: the ONNX Runtime library (where it was
//! found, what else was looked at), the execution providers it offers and whether each one
//! starts here, the NVIDIA GPUs the driver shows, the CUDA and cuDNN libraries the CUDA
//! provider needs (resolved by the dynamic loader, by name, with its message when one is
//! missing), and what `--device auto` picks and why.
//!
//! Whether a provider starts is tried, not guessed: a 169-byte graph (`probe.onnx`, made by
//! `tools/gen_doctor_probe.py`, y = x + [0.5, 1.5, 2.5, 3.5]) is loaded on it with
//! `error_on_failure` and run once, and its output is compared. The CUDA libraries are the
//! ones the `onnxruntime-gpu==1.31.1` CUDA 13 provider links against
//! (`ldd libonnxruntime_providers_cuda.so` of that wheel: cudart 13, cuBLAS/cuBLASLt 13,
//! cuFFT 12, cuRAND 10, cuDNN 9) plus the driver's `libcuda.so.1`.
//!
//! The findings are plain data ([`Diagnosis`], serialisable for `--json`); the problems
//! found come with their fix ([`Problem`]). The command in the `img23d` binary adds the
//! models folder and prints them.

mod gpus;
mod libraries;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::runtime::{self, Device, LibrarySource, RuntimeOptions};

pub use gpus::{Gpu, GpuSource, find_gpus};
pub use libraries::{LibraryCheck, cuda_library_names, resolve_library};

/// The probe graph run on each provider (see the module docs).
const PROBE: &[u8] = include_bytes!("probe.onnx");
/// The probe's input and the output it must give.
const PROBE_X: [f32; 4] = [1.0, 2.0, 3.0, 4.0];
const PROBE_Y: [f32; 4] = [1.5, 3.5, 5.5, 7.5];

/// The name of the CUDA provider library beside `libonnxruntime.so`.
pub const CUDA_PROVIDER_FILE: &str = if cfg!(windows) {
    "onnxruntime_providers_cuda.dll"
} else {
    "libonnxruntime_providers_cuda.so"
};
/// The name of the TensorRT provider library beside `libonnxruntime.so`.
pub const TENSORRT_PROVIDER_FILE: &str = if cfg!(windows) {
    "onnxruntime_providers_tensorrt.dll"
} else {
    "libonnxruntime_providers_tensorrt.so"
};

/// Everything the doctor found about the runtime side of this machine.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    /// The cargo features this build was compiled with that matter here.
    pub build_features: Vec<&'static str>,
    /// The ONNX Runtime library.
    pub onnxruntime: LibraryReport,
    /// The execution providers: CPU, CUDA, TensorRT.
    pub providers: Vec<ProviderReport>,
    /// NVIDIA GPUs the driver shows.
    pub gpus: Vec<Gpu>,
    /// Where the GPU list came from.
    pub gpu_source: GpuSource,
    /// The libraries the CUDA provider needs, resolved by the dynamic loader.
    pub cuda_libraries: Vec<LibraryCheck>,
    /// What `--device auto` picks here.
    pub auto_device: AutoChoice,
    /// Problems, each with its fix; empty when everything installed can run.
    pub problems: Vec<Problem>,
    /// Things worth knowing that are not problems.
    pub notes: Vec<String>,
}

/// The ONNX Runtime library: the one in use and the places looked at.
#[derive(Debug, Clone, Serialize)]
pub struct LibraryReport {
    /// The library loaded, when one was.
    pub path: Option<PathBuf>,
    /// Its version (from the file name).
    pub version: Option<String>,
    /// How it was found: `--ort-lib`, `ORT_DYLIB_PATH`, Python package, system library path.
    pub found_by: Option<String>,
    /// ONNX Runtime's own build string.
    pub build_info: Option<String>,
    /// Why no library could be used, when none was.
    pub error: Option<String>,
    /// Every place looked at, in search order, with what was there.
    pub looked_at: Vec<LookedAt>,
}

/// One place the library may have been.
#[derive(Debug, Clone, Serialize)]
pub struct LookedAt {
    /// The file (or the bare name given to the dynamic loader).
    pub path: PathBuf,
    /// How the place came up.
    pub source: String,
    /// What was found there (`used`, `not used: ...`).
    pub note: String,
}

/// One execution provider.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderReport {
    /// ONNX Runtime's name, e.g. `CUDAExecutionProvider`.
    pub name: &'static str,
    /// The device it is asked for with (`cpu`, `cuda:0`, `tensorrt:0`).
    pub device: String,
    /// Whether this img23d was built with its registration (cargo feature).
    pub in_build: bool,
    /// Whether the ONNX Runtime library in use offers it.
    pub in_library: bool,
    /// Its provider library beside `libonnxruntime`, when it has one.
    pub library_file: Option<PathBuf>,
    /// Whether that file is there.
    pub library_file_present: Option<bool>,
    /// The dynamic loader's message when the provider library does not load.
    pub library_load_error: Option<String>,
    /// Whether a session on it started and computed the probe correctly; `None` when it
    /// was not tried (not in the build or the library).
    pub starts: Option<bool>,
    /// What happened, in a few words (the error when it did not start).
    pub detail: String,
}

/// What `--device auto` picks.
#[derive(Debug, Clone, Serialize)]
pub struct AutoChoice {
    /// `cuda:0` or `cpu`.
    pub device: String,
    /// Why.
    pub reason: String,
}

/// A problem and what to do about it.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// What is wrong.
    pub problem: String,
    /// How to fix it.
    pub fix: String,
}

/// The cargo features of this build that decide which providers can be registered.
pub fn build_features() -> Vec<&'static str> {
    let mut f = Vec::new();
    if cfg!(feature = "cuda") {
        f.push("cuda");
    }
    if cfg!(feature = "tensorrt") {
        f.push("tensorrt");
    }
    f
}

/// Looks at everything (see the module docs). Loads the ONNX Runtime library as
/// [`runtime::init`] would (once per process) and starts a probe session on each provider
/// the build and the library offer.
pub fn diagnose(opts: &RuntimeOptions) -> Diagnosis {
    let _span = tracing::info_span!("doctor").entered();
    let init = runtime::init(opts);
    let onnxruntime = library_report(opts, &init);
    let rt = init.ok();
    let gpu_list = find_gpus();
    let cuda_libraries: Vec<LibraryCheck> = cuda_library_names()
        .iter()
        .map(|n| resolve_library(n))
        .collect();
    let providers = match rt {
        Some(rt) => vec![
            cpu_provider(rt),
            gpu_provider(rt, Device::Cuda(0)),
            gpu_provider(rt, Device::TensorRt(0)),
        ],
        None => Vec::new(),
    };
    let auto_device = auto_choice(rt.is_some(), &providers);
    let mut d = Diagnosis {
        build_features: build_features(),
        onnxruntime,
        providers,
        gpus: gpu_list.gpus,
        gpu_source: gpu_list.source,
        cuda_libraries,
        auto_device,
        problems: Vec::new(),
        notes: Vec::new(),
    };
    find_problems(&mut d);
    d
}

fn library_report(
    opts: &RuntimeOptions,
    init: &crate::Result<&'static runtime::Runtime>,
) -> LibraryReport {
    let mut looked_at = Vec::new();
    if let Some(p) = &opts.ort_lib {
        looked_at.push(LookedAt {
            path: p.clone(),
            source: LibrarySource::Explicit.to_string(),
            note: "named explicitly: used or an error, never skipped".into(),
        });
    } else if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        looked_at.push(LookedAt {
            path: PathBuf::from(p),
            source: LibrarySource::EnvVar.to_string(),
            note: "named by the environment: used or an error, never skipped".into(),
        });
    } else {
        let mut skipped = Vec::new();
        for c in runtime::discover(&mut skipped) {
            let exists = c.path.is_absolute().then(|| c.path.exists());
            looked_at.push(LookedAt {
                note: match exists {
                    Some(false) => "not there".into(),
                    _ => "a candidate".into(),
                },
                path: c.path,
                source: c.source.to_string(),
            });
        }
        for s in skipped {
            looked_at.push(LookedAt {
                path: PathBuf::from(&s),
                source: "skipped".into(),
                note: "too old".into(),
            });
        }
    }
    match init {
        Ok(rt) => {
            for l in &mut looked_at {
                if same_path(&l.path, rt.library()) {
                    l.note = "used".into();
                }
            }
            LibraryReport {
                path: Some(rt.library().to_path_buf()),
                version: rt.version().map(str::to_string),
                found_by: Some(rt.source().to_string()),
                build_info: Some(rt.build_info().trim().to_string()),
                error: None,
                looked_at,
            }
        }
        Err(e) => LibraryReport {
            path: None,
            version: None,
            found_by: None,
            build_info: None,
            error: Some(e.to_string()),
            looked_at,
        },
    }
}

fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn cpu_provider(rt: &runtime::Runtime) -> ProviderReport {
    let (starts, detail) = match probe(rt, Device::Cpu) {
        Ok(()) => (true, "the probe ran and gave the right answer".to_string()),
        Err(e) => (false, e),
    };
    ProviderReport {
        name: "CPUExecutionProvider",
        device: "cpu".into(),
        in_build: true,
        in_library: true,
        library_file: None,
        library_file_present: None,
        library_load_error: None,
        starts: Some(starts),
        detail,
    }
}

fn gpu_provider(rt: &runtime::Runtime, device: Device) -> ProviderReport {
    let (name, file, in_build, in_library) = match device {
        Device::TensorRt(_) => (
            "TensorrtExecutionProvider",
            TENSORRT_PROVIDER_FILE,
            cfg!(feature = "tensorrt"),
            rt.has_tensorrt(),
        ),
        _ => (
            "CUDAExecutionProvider",
            CUDA_PROVIDER_FILE,
            cfg!(feature = "cuda"),
            rt.has_cuda(),
        ),
    };
    let lib_file = rt.library().parent().map(|d| d.join(file));
    let present = lib_file.as_ref().map(|f| f.is_file());
    let load_error = match (&lib_file, present) {
        (Some(f), Some(true)) => resolve_library(&f.to_string_lossy()).error,
        _ => None,
    };
    let (starts, detail) = if !in_build {
        (
            None,
            format!(
                "this img23d was built without the `{}` feature",
                feature_of(device)
            ),
        )
    } else if !in_library {
        (
            None,
            format!(
                "the ONNX Runtime library in use does not offer it{}",
                if present == Some(false) {
                    format!(" ({file} is not beside it)")
                } else {
                    String::new()
                }
            ),
        )
    } else {
        match probe(rt, device) {
            Ok(()) => (Some(true), "the probe ran and gave the right answer".into()),
            Err(e) => (Some(false), e),
        }
    };
    ProviderReport {
        name,
        device: device.to_string(),
        in_build,
        in_library,
        library_file: lib_file,
        library_file_present: present,
        library_load_error: load_error,
        starts,
        detail,
    }
}

fn feature_of(device: Device) -> &'static str {
    match device {
        Device::TensorRt(_) => "tensorrt",
        _ => "cuda",
    }
}

/// ONNX Runtime's error text without its source-location prefix
/// (`/onnxruntime_src/...cc:2043 ... [ONNXRuntimeError] : 1 : FAIL : `).
fn tidy(message: &str) -> String {
    let m = message.trim_end();
    match m.find("[ONNXRuntimeError]") {
        Some(i) => {
            let rest = &m[i..];
            // "[ONNXRuntimeError] : 1 : FAIL : text": the text after the third " : ".
            rest.splitn(4, " : ").nth(3).unwrap_or(rest).to_string()
        }
        None => m.to_string(),
    }
}

/// Whether `device` starts here and computes correctly: the probe graph is loaded on it
/// (never falling back to the CPU) and run once. For choices that depend on the device
/// actually working, such as `--precision auto` picking fp16 only where CUDA starts (a
/// CUDA build of the library on a machine without a GPU must not switch to fp16).
pub fn device_starts(rt: &runtime::Runtime, device: Device) -> Result<(), String> {
    probe(rt, device)
}

/// Loads the probe graph on `device` (never falling back) and runs it once.
fn probe(rt: &runtime::Runtime, device: Device) -> Result<(), String> {
    use ort::session::Session;
    use ort::value::TensorRef;
    let mut b = Session::builder(rt.environment()).map_err(|e| e.to_string())?;
    if let Some(ep) = crate::session::providers::gpu_provider_of(device) {
        b = crate::session::providers::register_gpu(rt, b, ep).map_err(|e| tidy(&e))?;
    }
    let mut session = b.commit_from_memory(PROBE).map_err(|e| tidy(e.message()))?;
    let x = TensorRef::from_array_view(([1usize, 4], &PROBE_X[..])).map_err(|e| e.to_string())?;
    let out = session
        .run(ort::inputs!["x" => x])
        .map_err(|e| tidy(e.message()))?;
    let y = out
        .get("y")
        .ok_or("the probe gave no output 'y'")?
        .try_extract_tensor::<f32>()
        .map_err(|e| e.to_string())?
        .1
        .to_vec();
    if y != PROBE_Y {
        return Err(format!(
            "the probe computed {y:?}, expected {PROBE_Y:?}: this provider gives wrong results"
        ));
    }
    Ok(())
}

fn auto_choice(have_runtime: bool, providers: &[ProviderReport]) -> AutoChoice {
    if !have_runtime {
        return AutoChoice {
            device: "none".into(),
            reason: "no ONNX Runtime library: only the weight-free stages can run".into(),
        };
    }
    let cuda = providers.iter().find(|p| p.name == "CUDAExecutionProvider");
    match cuda {
        Some(p) if p.starts == Some(true) => AutoChoice {
            device: "cuda:0".into(),
            reason: "the CUDA provider starts on GPU 0".into(),
        },
        Some(p) => AutoChoice {
            device: "cpu".into(),
            reason: format!("CUDA is not used: {}", p.detail),
        },
        None => AutoChoice {
            device: "cpu".into(),
            reason: "no CUDA provider".into(),
        },
    }
}

/// Fills in the problems (things the user installed that cannot run) and notes.
fn find_problems(d: &mut Diagnosis) {
    if let Some(e) = &d.onnxruntime.error {
        d.problems.push(Problem {
            problem: format!("no usable ONNX Runtime library: {e}"),
            fix: format!(
                "pip install onnxruntime=={v} (CPU) or onnxruntime-gpu=={v} (CUDA), or name \
                 the library with --ort-lib PATH or ORT_DYLIB_PATH",
                v = runtime::TESTED_ORT_VERSION
            ),
        });
        return;
    }
    let missing: Vec<String> = d
        .cuda_libraries
        .iter()
        .filter(|l| l.error.is_some())
        .map(|l| l.name.clone())
        .collect();
    let gpus = d.gpus.len();
    let tensorrt = tensorrt_installed();
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    for p in &d.providers {
        match provider_finding(p, &missing, gpus, tensorrt) {
            Some(Finding::Problem(x)) => problems.push(x),
            Some(Finding::Note(n)) => notes.push(n),
            None => {}
        }
    }
    d.problems.extend(problems);
    d.notes.extend(notes);
}

/// What one provider's state means for the user.
enum Finding {
    Problem(Problem),
    Note(String),
}

fn gpu_install_hint() -> String {
    format!(
        "pip install onnxruntime-gpu=={} (CUDA 13, cuDNN 9; NVIDIA driver 580 or newer), then \
         run img23d doctor again",
        runtime::TESTED_ORT_VERSION
    )
}

fn missing_libraries_fix(missing: &[String]) -> String {
    format!(
        "install the missing CUDA libraries ({}) where the dynamic loader finds them: the \
         CUDA 13 toolkit and cuDNN 9, or the nvidia-* pip packages with their lib folders on \
         LD_LIBRARY_PATH",
        missing.join(", ")
    )
}

fn provider_finding(
    p: &ProviderReport,
    missing: &[String],
    gpus: usize,
    tensorrt: bool,
) -> Option<Finding> {
    let cpu = p.name == "CPUExecutionProvider";
    let trt = p.name == "TensorrtExecutionProvider";
    if p.starts == Some(true) {
        return None;
    }
    if cpu {
        return Some(Finding::Problem(Problem {
            problem: format!("the CPU provider does not run: {}", p.detail),
            fix: format!(
                "reinstall ONNX Runtime (pip install --force-reinstall onnxruntime=={})",
                runtime::TESTED_ORT_VERSION
            ),
        }));
    }
    // TensorRT is opt-in (`--device tensorrt` only): a problem only where the user
    // installed TensorRT itself.
    if trt && !tensorrt {
        return Some(Finding::Note(format!(
            "TensorRT ({}) is not usable here: {} (only --device tensorrt uses it)",
            p.device, p.detail
        )));
    }
    let file = p
        .library_file
        .as_ref()
        .map(|f| f.display().to_string())
        .unwrap_or_default();
    if p.starts == Some(false) {
        let fix = if !missing.is_empty() {
            missing_libraries_fix(missing)
        } else if gpus == 0 {
            "no NVIDIA GPU is visible: check the driver (nvidia-smi), or run with --device cpu"
                .into()
        } else {
            format!(
                "check the NVIDIA driver (580 or newer for CUDA 13); {}",
                gpu_install_hint()
            )
        };
        return Some(Finding::Problem(Problem {
            problem: format!("{} ({}) does not start: {}", p.name, p.device, p.detail),
            fix,
        }));
    }
    if !p.in_build {
        return Some(Finding::Note(format!(
            "{}: {}; rebuild with the default features",
            p.name, p.detail
        )));
    }
    // Not offered by the library in use.
    if let Some(e) = &p.library_load_error {
        return Some(Finding::Problem(Problem {
            problem: format!("{file} is installed but does not load: {e}"),
            fix: if missing.is_empty() {
                format!("reinstall the GPU package: {}", gpu_install_hint())
            } else {
                missing_libraries_fix(missing)
            },
        }));
    }
    let line = if p.library_file_present == Some(false) {
        format!(
            "the {} provider library {file} is not installed (the CPU-only onnxruntime \
             package): models run on the CPU",
            if trt { "TensorRT" } else { "CUDA" }
        )
    } else {
        format!("the ONNX Runtime library in use has no {} provider", p.name)
    };
    if gpus > 0 && !trt {
        Some(Finding::Problem(Problem {
            problem: format!("{gpus} NVIDIA GPU(s) visible, but {line}"),
            fix: gpu_install_hint(),
        }))
    } else if trt {
        Some(Finding::Note(line))
    } else {
        Some(Finding::Note(format!(
            "{line}; for the GPU: {}",
            gpu_install_hint()
        )))
    }
}

/// True when TensorRT's own library can be loaded (the user installed TensorRT).
fn tensorrt_installed() -> bool {
    ["libnvinfer.so.10", "libnvinfer.so"]
        .iter()
        .any(|n| resolve_library(n).error.is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_graph_is_embedded() {
        // An ONNX ModelProto starts with field 1 (ir_version, varint): tag byte 0x08.
        assert_eq!(PROBE.first(), Some(&0x08));
        assert!(PROBE.len() < 1024);
    }

    #[test]
    fn build_features_follow_cargo() {
        let f = build_features();
        assert_eq!(f.contains(&"cuda"), cfg!(feature = "cuda"));
        assert_eq!(f.contains(&"tensorrt"), cfg!(feature = "tensorrt"));
    }

    #[test]
    fn ort_messages_lose_their_source_location() {
        let m = "/onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:2043 \
                 onnxruntime::Provider& onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] \
                 : 1 : FAIL : Failed to load library x.so with error: libcublasLt.so.13: \
                 cannot open shared object file";
        assert_eq!(
            tidy(m),
            "Failed to load library x.so with error: libcublasLt.so.13: cannot open shared \
             object file"
        );
        assert_eq!(tidy("plain message \n"), "plain message");
    }

    #[test]
    fn auto_without_runtime_is_none() {
        let a = auto_choice(false, &[]);
        assert_eq!(a.device, "none");
    }

    #[test]
    fn auto_prefers_cuda_that_starts() {
        let p = |starts| ProviderReport {
            name: "CUDAExecutionProvider",
            device: "cuda:0".into(),
            in_build: true,
            in_library: true,
            library_file: None,
            library_file_present: Some(true),
            library_load_error: None,
            starts,
            detail: "libcublasLt.so.13: cannot open shared object file".into(),
        };
        assert_eq!(auto_choice(true, &[p(Some(true))]).device, "cuda:0");
        let cpu = auto_choice(true, &[p(Some(false))]);
        assert_eq!(cpu.device, "cpu");
        assert!(cpu.reason.contains("libcublasLt"), "{}", cpu.reason);
    }
}
