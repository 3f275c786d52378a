//! `img23d doctor` on this CPU machine (issue 17): the library found and what else was
//! looked at, the CUDA provider library absent (a line saying so and how to install it), a
//! provider library that fails to load (the loader's own message), no ONNX Runtime at all
//! (the install hint, exit 1), the `--json` document's fields, and the default build's
//! feature set. Also the one line `--device auto` prints when models ran on the CPU.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::util::{example, img23d, root};

fn doctor(args: &[&OsStr]) -> Output {
    img23d()
        .arg("doctor")
        .args(args)
        .output()
        .expect("img23d doctor runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The ONNX Runtime library the tests use (pip's onnxruntime), as doctor finds it.
fn ort_library() -> Option<PathBuf> {
    let o = doctor(&[OsStr::new("--json")]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).ok()?;
    v["onnxruntime"]["path"].as_str().map(PathBuf::from)
}

fn require_ort() -> PathBuf {
    match ort_library() {
        Some(p) => p,
        None => panic!(
            "no ONNX Runtime library found: these tests need `python3 -m pip install \
             onnxruntime==1.31.1` (README's test command installs it)"
        ),
    }
}

#[test]
fn finds_the_library_and_says_the_cuda_provider_is_absent() {
    let lib = require_ort();
    let o = doctor(&[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains(&format!("library     {}", lib.display())), "{t}");
    assert!(t.contains("found by"), "{t}");
    assert!(t.contains("looked at"), "{t}");
    assert!(
        t.contains("CPUExecutionProvider") && t.contains("starts"),
        "{t}"
    );
    // pip's onnxruntime is CPU-only: the CUDA provider library is not beside it.
    assert!(
        t.contains("libonnxruntime_providers_cuda.so is not installed"),
        "{t}"
    );
    assert!(t.contains("pip install onnxruntime-gpu==1.31.1"), "{t}");
    assert!(t.contains("--device auto picks: cpu"), "{t}");
    assert!(t.contains("Models folder"), "{t}");
    assert!(t.contains("triposr-encoder"), "{t}");
    assert!(t.contains("OK: everything installed can run"), "{t}");
    assert!(t.contains("features: cuda, tensorrt"), "{t}");
}

/// A folder with the real library and a `libonnxruntime_providers_cuda.so` that is not a
/// library: the loader's own message is shown, and it is a problem (exit 1).
#[test]
fn a_provider_library_that_fails_to_load_shows_the_loaders_message() {
    let lib = require_ort();
    let dir = tempfile::tempdir().unwrap();
    let name = lib.file_name().unwrap();
    std::os::unix::fs::symlink(&lib, dir.path().join(name)).unwrap();
    std::fs::write(
        dir.path().join("libonnxruntime_providers_cuda.so"),
        b"this is not an ELF file",
    )
    .unwrap();
    let o = doctor(&[OsStr::new("--ort-lib"), dir.path().as_os_str()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    // glibc's message for a file that is not a shared object.
    assert!(
        t.contains("loader: ")
            && (t.contains("invalid ELF header") || t.contains("file too short")),
        "{t}"
    );
    assert!(t.contains("PROBLEM: "), "{t}");
    assert!(
        t.contains("libonnxruntime_providers_cuda.so is installed but does not load"),
        "{t}"
    );
    assert!(t.contains("FIX: "), "{t}");
}

#[test]
fn no_onnx_runtime_at_all_gives_the_install_hint() {
    // Named explicitly and missing.
    let o = doctor(&[
        OsStr::new("--ort-lib"),
        OsStr::new("/nonexistent/libonnxruntime.so.1.31.1"),
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("PROBLEM: no usable ONNX Runtime library"), "{t}");
    assert!(t.contains("FIX: pip install onnxruntime==1.31.1"), "{t}");
    // Found by nobody: no python3 on PATH, another HOME (pip's package is under ~/.pyenv
    // on these machines), no ORT_DYLIB_PATH.
    let empty = tempfile::tempdir().unwrap();
    let o = img23d()
        .arg("doctor")
        .env_clear()
        .env("PATH", empty.path())
        .env("HOME", empty.path())
        .env("IMG23D_MODELS", empty.path())
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("library     none usable"), "{t}");
    assert!(t.contains("looked at"), "{t}");
    assert!(t.contains("pip install onnxruntime==1.31.1"), "{t}");
    assert!(t.contains("--device auto picks: none"), "{t}");
}

#[test]
fn json_has_every_section() {
    require_ort();
    let o = doctor(&[OsStr::new("--json")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["img23d_version"], env!("CARGO_PKG_VERSION"));
    for key in ["path", "version", "found_by", "build_info", "looked_at"] {
        assert!(!v["onnxruntime"][key].is_null(), "onnxruntime.{key}: {v}");
    }
    assert_eq!(v["onnxruntime"]["version"], "1.31.1");
    let providers = v["providers"].as_array().unwrap();
    let names: Vec<&str> = providers
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "CPUExecutionProvider",
            "CUDAExecutionProvider",
            "TensorrtExecutionProvider"
        ]
    );
    assert_eq!(providers[0]["starts"], true);
    assert_eq!(providers[1]["in_library"], false);
    assert_eq!(providers[1]["library_file_present"], false);
    assert!(v["gpus"].is_array() && v["gpu_source"].is_string());
    let libs = v["cuda_libraries"].as_array().unwrap();
    let lib_names: Vec<&str> = libs.iter().map(|l| l["name"].as_str().unwrap()).collect();
    for n in [
        "libcuda.so.1",
        "libcudart.so.13",
        "libcublasLt.so.13",
        "libcudnn.so.9",
    ] {
        assert!(lib_names.contains(&n), "{lib_names:?}");
    }
    assert_eq!(v["auto_device"]["device"], "cpu");
    assert!(
        v["auto_device"]["reason"]
            .as_str()
            .unwrap()
            .contains("CUDA")
    );
    assert!(v["problems"].as_array().unwrap().is_empty(), "{v}");
    assert!(!v["notes"].as_array().unwrap().is_empty(), "{v}");
    let entries = v["models"]["entries"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["name"] == "triposr-encoder" && e["state"] == "not installed")
    );
    assert!(v["models"]["folder"].is_string());
}

/// The binary README's first command builds registers both GPU providers (issue 17): the
/// default features are `cuda` and `tensorrt`, and doctor reports what was compiled in.
#[test]
fn the_default_build_has_the_gpu_providers() {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let table: Vec<&str> = manifest
        .lines()
        .skip_while(|l| l.trim() != "[features]")
        .take_while(|l| !l.trim().is_empty() || l.trim() == "[features]")
        .collect();
    let default = table
        .iter()
        .find(|l| l.starts_with("default ="))
        .expect("a default feature list");
    assert!(
        default.contains("\"cuda\"") && default.contains("\"tensorrt\""),
        "{default}"
    );
    require_ort();
    let o = doctor(&[OsStr::new("--json")]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut want = Vec::new();
    if cfg!(feature = "cuda") {
        want.push("cuda");
    }
    if cfg!(feature = "tensorrt") {
        want.push("tensorrt");
    }
    assert_eq!(v["build_features"], serde_json::json!(want));
    assert_eq!(v["providers"][1]["in_build"], cfg!(feature = "cuda"));
}

fn tiny_triposr(dir: &Path) -> PathBuf {
    let m = dir.join("models");
    for (model, file, from) in [
        (
            "triposr-encoder",
            "triposr_encoder.onnx",
            "triposr_object_encoder.onnx",
        ),
        (
            "triposr-decoder",
            "triposr_decoder.onnx",
            "triposr_object_decoder.onnx",
        ),
    ] {
        std::fs::create_dir_all(m.join(model)).unwrap();
        std::fs::copy(
            root().join("models/tests/data").join(from),
            m.join(model).join(file),
        )
        .unwrap();
    }
    m
}

/// `--device auto` on a machine without the CUDA provider: the models run on the CPU and
/// one line says so and why; the report names the device of each session.
#[test]
fn device_auto_says_once_that_models_ran_on_the_cpu() {
    require_ort();
    let dir = tempfile::tempdir().unwrap();
    let models = tiny_triposr(dir.path());
    let out = dir.path().join("out");
    let chair = example("chair.png");
    let o = img23d()
        .args([
            chair.as_os_str(),
            OsStr::new("-o"),
            out.as_os_str(),
            OsStr::new("--models-dir"),
            models.as_os_str(),
            OsStr::new("--model"),
            OsStr::new("triposr"),
            OsStr::new("--resolution"),
            OsStr::new("64"),
            OsStr::new("--texture-size"),
            OsStr::new("0"),
            OsStr::new("--no-preview"),
        ])
        .output()
        .unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let line = "note: --device auto: models ran on the CPU: ";
    assert_eq!(t.matches(line).count(), 1, "{t}");
    assert!(t.contains("onnxruntime-gpu==1.31.1"), "{t}");
    // The stage line names where each session runs.
    assert!(
        t.contains("TripoSR, 512x512 input, encoder on CPU, decoder on Rust (CPU)"),
        "{t}"
    );
    let report = crate::util::read_report(&out.join("chair.report.json"));
    let r = report.to_string();
    assert!(r.contains("\"execution_provider\":\"CPU\""), "{r}");

    // The weight-free path runs no model: no such line.
    let o = img23d()
        .args([
            chair.as_os_str(),
            OsStr::new("-o"),
            dir.path().join("out2").as_os_str(),
            OsStr::new("--resolution"),
            OsStr::new("64"),
            OsStr::new("--texture-size"),
            OsStr::new("0"),
            OsStr::new("--no-preview"),
        ])
        .output()
        .unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(!t.contains(line), "{t}");
}
