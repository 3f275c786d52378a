//! The main job through TripoSR and the segmentation model, on tiny models with the
//! exact contracts (`tools/gen_test_models.py`: `triposr_object_encoder.onnx` and
//! `triposr_object_decoder.onnx`, whose field is a sphere cut flat on TripoSR's -X, round
//! toward +X (the input camera's side), red toward +Y; `segmentation.onnx`), installed in
//! a temporary models folder.
//! Needs the ONNX Runtime library (`pip install onnxruntime==1.31.1`).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::gltf_validator::assert_valid;
use crate::util::{
    assert_closed_manifold, assert_upright_with_height, example, read_glb, read_glb_material,
    read_ply, read_report, root, run, run_ok, texture_vs_vertex_colors, weld,
};

fn test_model(name: &str) -> PathBuf {
    root().join("models/tests/data").join(name)
}

/// A models folder holding TripoSR (the object pair) and, when `segmentation`, the
/// segmentation model, under the file names the registry gives them.
fn models_dir(dir: &Path, triposr: bool, segmentation: bool) -> PathBuf {
    let m = dir.join("models");
    let put = |model: &str, file: &str, from: &str| {
        std::fs::create_dir_all(m.join(model)).unwrap();
        std::fs::copy(test_model(from), m.join(model).join(file)).unwrap();
    };
    if triposr {
        put(
            "triposr-encoder",
            "triposr_encoder.onnx",
            "triposr_object_encoder.onnx",
        );
        put(
            "triposr-decoder",
            "triposr_decoder.onnx",
            "triposr_object_decoder.onnx",
        );
    }
    if segmentation {
        put("birefnet-lite", "model.onnx", "segmentation.onnx");
    }
    std::fs::create_dir_all(&m).unwrap();
    m
}

fn args<'a>(v: &'a [&'a OsStr]) -> Vec<&'a OsStr> {
    v.to_vec()
}

#[test]
fn triposr_runs_when_installed_and_faces_the_viewer() {
    let dir = tempfile::tempdir().unwrap();
    let models = models_dir(dir.path(), true, false);
    let out = dir.path().join("out");
    let chair = example("chair.png");
    let stdout = run_ok(&args(&[
        chair.as_os_str(),
        OsStr::new("-o"),
        out.as_os_str(),
        OsStr::new("--models-dir"),
        models.as_os_str(),
        OsStr::new("--device"),
        OsStr::new("cpu"),
        OsStr::new("--resolution"),
        OsStr::new("96"),
        OsStr::new("--format"),
        OsStr::new("glb,ply"),
    ]));
    assert!(
        stdout.contains("chair.png: reconstruction") && stdout.contains("TripoSR"),
        "{stdout}"
    );
    assert!(stdout.contains("note: reconstruction: TripoSR"), "{stdout}");

    // The GLB is textured from TripoSR's color field; the PLY keeps the welded mesh with
    // vertex colors, and the texture agrees with them.
    let glb = out.join("chair.glb");
    assert_valid(&glb);
    let textured = read_glb(&glb);
    let texture = read_glb_material(&glb).texture.expect("a baked texture");
    let mesh = read_ply(&out.join("chair.ply"));
    assert_closed_manifold(&mesh, "TripoSR chair.ply");
    assert_closed_manifold(&weld(&textured), "TripoSR chair.glb (welded)");
    assert_upright_with_height(&mesh, 1.0, 1e-3, "TripoSR chair.ply");
    let diff = texture_vs_vertex_colors(&textured, &texture, &mesh);
    assert!(diff < 0.05, "texture differs from vertex colors by {diff}");

    // TripoSR's +X (the input camera's side) faces glTF's +Z: the object's round front is
    // on +Z and its flat back (cut at TripoSR x = -0.27) on -Z, so far more vertices lie
    // on the back face than near the front's tip; the picture's right (TripoSR +Y, red)
    // is glTF's +X.
    let (lo, hi) = mesh.bounding_box().unwrap();
    let near = |z: f32| {
        mesh.positions
            .iter()
            .filter(|p| (p[2] - z).abs() < 0.03)
            .count()
    };
    let (front, back) = (near(hi[2]), near(lo[2]));
    assert!(
        back > 2 * front,
        "front cap {front} vertices, back cap {back}"
    );
    assert!(hi[2] - lo[2] < 0.85 * (hi[0] - lo[0]), "{lo:?} {hi:?}");
    let red_x: Vec<f32> = mesh
        .positions
        .iter()
        .zip(&mesh.colors)
        .filter(|(_, c)| c[0] > 0.8)
        .map(|(p, _)| p[0])
        .collect();
    assert!(!red_x.is_empty(), "no red vertex");
    let mean_red_x = red_x.iter().sum::<f32>() / red_x.len() as f32;
    assert!(mean_red_x > 0.1, "red side at x = {mean_red_x}");

    let report = read_report(&out.join("chair.report.json"));
    let r = &report["reconstruction"];
    assert_eq!(r["name"], "triposr");
    assert_eq!(r["kind"], "neural");
    assert_eq!(r["reason"], "TripoSR is installed");
    assert!(
        r["triposr"]["field_path"]
            .as_str()
            .unwrap()
            .contains("folded"),
        "{r}"
    );
    assert_eq!(r["triposr"]["input_size"], 512);
    assert_eq!(report["foreground"]["background"], "alpha");
    assert_eq!(report["appearance"]["kind"], "texture");
    // The input camera: TripoSR's, at 1.9 units on +Z of the field's glTF-oriented frame,
    // looking at the object.
    let camera = &report["fidelity"]["camera"];
    assert_eq!(camera["projection"]["kind"], "perspective", "{camera}");
    // The tiny models (tools/gen_test_models.py) reach a silhouette IoU of 0.383 (this
    // test's report, 2026-12-04); a floor just under it catches a broken camera or mask.
    assert!(
        report["fidelity"]["iou"].as_f64().unwrap() >= 0.35,
        "{report}"
    );
    assert!(out.join("chair.preview.png").is_file());
    assert!(report["foreground"]["segmentation"].is_null());

    // What a user needs to know about the TripoSR path: which files ran where, the
    // decoder layout, the preprocessing as applied, and the time of each step.
    let t = &r["triposr"];
    let files = t["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{t}");
    for (f, name) in files.iter().zip(["triposr-encoder", "triposr-decoder"]) {
        assert_eq!(f["name"], name);
        assert!(Path::new(f["path"].as_str().unwrap()).is_file(), "{f}");
        assert!(
            f["path"]
                .as_str()
                .unwrap()
                .starts_with(models.to_str().unwrap())
        );
        assert!(f["load_ms"].as_f64().unwrap() > 0.0, "{f}");
    }
    assert_eq!(files[0]["execution_provider"], "CPU");
    // No --threads: ONNX Runtime chooses (0), and the default precision is fp32.
    assert_eq!(files[0]["intra_op_threads"], 0, "{t}");
    assert_eq!(report["settings"]["ort_intra_op_threads"], 0);
    assert_eq!(report["settings"]["precision"], "fp32");
    assert_eq!(report["schema_version"], 3);
    assert_eq!(t["decoder_layout"], "mlp");
    let p = &t["preprocessing"];
    assert_eq!(p["framing"], "mask");
    assert!((p["foreground_ratio"].as_f64().unwrap() - 0.85).abs() < 1e-6);
    assert_eq!(p["background_gray"], 0.5);
    assert_eq!(p["input_size"], 512);
    assert_eq!(p["crop_px"], t["crop_px"]);
    // The tiny encoder has no ImageNet constants next to its input: img23d normalises.
    assert_eq!(p["imagenet_normalization"], "by img23d, before the encoder");
    // The crop is the chair's alpha box, inside the 512x512 picture, centred in the canvas.
    let crop: Vec<u64> = p["crop_px"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert!(crop[0] < crop[2] && crop[1] < crop[3] && crop[2] <= 512 && crop[3] <= 512);
    let side = (crop[2] - crop[0]).max(crop[3] - crop[1]);
    let canvas = p["canvas_px"].as_u64().unwrap();
    assert_eq!(canvas, (side as f64 / f64::from(0.85f32)) as u64, "{p}");
    // Each TripoSR step took time, inside the reconstruction stage that ran them; the
    // stages took time and add up to the input's total, less the small gaps between them.
    let stage_ms = |name: &str| {
        report["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .and_then(|s| s["ms"].as_f64())
            .unwrap_or_else(|| panic!("no {name} stage: {report}"))
    };
    let steps: f64 = ["preprocess_ms", "encoder_ms", "field_ms"]
        .iter()
        .map(|k| {
            let ms = t["timings"][k].as_f64().unwrap();
            assert!(ms > 0.0, "{k}: {t}");
            ms
        })
        .sum();
    assert!(steps <= stage_ms("reconstruction"), "{t}\n{report}");
    let total = report["total_ms"].as_f64().unwrap();
    let stages: f64 = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let ms = s["ms"].as_f64().unwrap();
            assert!(ms > 0.0 && ms <= total, "{s} of {total} ms");
            ms
        })
        .sum();
    // 1702 ms of stages in 1716 ms measured.
    assert!(
        stages <= total && stages >= 0.8 * total,
        "stages {stages} ms, total {total} ms"
    );
    let stages: Vec<&str> = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(stages.contains(&"reconstruction") && stages.contains(&"extraction"));
}

#[test]
fn forced_models_that_are_missing_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let models = models_dir(dir.path(), false, false);
    let out = dir.path().join("out");
    let chair = example("chair.png");
    for (flag, value, needle) in [
        ("--model", "triposr", "img23d models fetch triposr-encoder"),
        ("--bg", "model", "img23d models fetch birefnet-lite"),
    ] {
        let o = run(&args(&[
            chair.as_os_str(),
            OsStr::new("-o"),
            out.as_os_str(),
            OsStr::new("--models-dir"),
            models.as_os_str(),
            OsStr::new(flag),
            OsStr::new(value),
        ]));
        assert_eq!(o.status.code(), Some(2), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains(needle), "{flag} {value}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(crate::util::files_in(&out).is_empty());
}

#[test]
fn inflation_when_triposr_is_missing_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let models = models_dir(dir.path(), false, false);
    let out = dir.path().join("out");
    let vase = example("vase.png");
    let stdout = run_ok(&args(&[
        vase.as_os_str(),
        OsStr::new("-o"),
        out.as_os_str(),
        OsStr::new("--models-dir"),
        models.as_os_str(),
        OsStr::new("--resolution"),
        OsStr::new("64"),
    ]));
    assert!(
        stdout.contains("built-in weight-free") && stdout.contains("triposr-encoder"),
        "{stdout}"
    );
    assert_valid(&out.join("vase.glb"));
    let report = read_report(&out.join("vase.report.json"));
    assert_eq!(report["reconstruction"]["name"], "inflate");
    assert!(
        report["reconstruction"]["reason"]
            .as_str()
            .unwrap()
            .contains("not installed")
    );
}

#[test]
fn segmentation_model_then_triposr_on_an_opaque_photo() {
    let dir = tempfile::tempdir().unwrap();
    let models = models_dir(dir.path(), true, true);
    let out = dir.path().join("out");
    let apple = example("apple.jpg");
    let stdout = run_ok(&args(&[
        apple.as_os_str(),
        OsStr::new("-o"),
        out.as_os_str(),
        OsStr::new("--models-dir"),
        models.as_os_str(),
        OsStr::new("--device"),
        OsStr::new("cpu"),
        OsStr::new("--resolution"),
        OsStr::new("64"),
    ]));
    // --bg auto on an opaque picture with the model installed: segmentation runs.
    assert!(stdout.contains("apple.jpg: segmentation"), "{stdout}");
    let report = read_report(&out.join("apple.report.json"));
    assert_eq!(report["foreground"]["background"], "model");
    let seg = &report["foreground"]["segmentation"];
    assert_eq!(seg["model"]["name"], "birefnet-lite", "{seg}");
    assert_eq!(seg["model"]["execution_provider"], "CPU");
    assert!(
        Path::new(seg["model"]["path"].as_str().unwrap()).is_file(),
        "{seg}"
    );
    assert_eq!(seg["input_size"], 1024);
    assert_eq!(seg["mean"].as_array().unwrap().len(), 3);
    assert_eq!(report["reconstruction"]["name"], "triposr");
    let glb = out.join("apple.glb");
    assert_valid(&glb);
    assert_closed_manifold(&weld(&read_glb(&glb)), "segmented apple.glb (welded)");

    // --bg key skips the model.
    let out2 = dir.path().join("out2");
    let stdout = run_ok(&args(&[
        apple.as_os_str(),
        OsStr::new("-o"),
        out2.as_os_str(),
        OsStr::new("--models-dir"),
        models.as_os_str(),
        OsStr::new("--device"),
        OsStr::new("cpu"),
        OsStr::new("--resolution"),
        OsStr::new("64"),
        OsStr::new("--bg"),
        OsStr::new("key"),
        OsStr::new("--model"),
        OsStr::new("inflate"),
    ]));
    assert!(!stdout.contains("segmentation"), "{stdout}");
    let report = read_report(&out2.join("apple.report.json"));
    assert_eq!(report["foreground"]["background"], "key");
    assert_valid(&out2.join("apple.glb"));
    assert!(report["foreground"]["segmentation"].is_null());
    assert_eq!(report["reconstruction"]["name"], "inflate");
    assert!(report["reconstruction"]["triposr"].is_null());
}

/// `--threads` reaches ONNX Runtime (each session's intra-op threads, in the report) and
/// the heavy stages' pool; `--precision fp16` picks the segmentation model's fp16 file.
#[test]
fn threads_and_precision_reach_the_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let models = models_dir(dir.path(), true, true);
    std::fs::copy(
        test_model("segmentation.onnx"),
        models.join("birefnet-lite/model_fp16.onnx"),
    )
    .unwrap();
    let out = dir.path().join("out");
    let apple = example("apple.jpg");
    let mut argv = vec![apple.as_os_str(), OsStr::new("-o"), out.as_os_str()];
    argv.extend([OsStr::new("--models-dir"), models.as_os_str()]);
    argv.extend(
        [
            "--device",
            "cpu",
            "--resolution",
            "64",
            "--texture-size",
            "0",
            "--no-preview",
            "--threads",
            "1",
            "--precision",
            "fp16",
        ]
        .map(OsStr::new),
    );
    run_ok(&argv);
    let report = read_report(&out.join("apple.report.json"));
    let settings = &report["settings"];
    assert_eq!(settings["threads"], 1, "{settings}");
    assert_eq!(settings["ort_intra_op_threads"], 1, "{settings}");
    assert_eq!(settings["precision"], "fp16", "{settings}");
    let seg = &report["foreground"]["segmentation"]["model"];
    assert_eq!(seg["intra_op_threads"], 1, "{seg}");
    assert!(
        seg["path"].as_str().unwrap().ends_with("model_fp16.onnx"),
        "{seg}"
    );
    // TripoSR has fp32 files only: they serve an fp16 run, with the threads asked for.
    let encoder = &report["reconstruction"]["triposr"]["files"][0];
    assert_eq!(encoder["name"], "triposr-encoder");
    assert_eq!(encoder["intra_op_threads"], 1, "{encoder}");
    assert!(
        encoder["path"]
            .as_str()
            .unwrap()
            .ends_with("triposr_encoder.onnx")
    );
    assert_eq!(report["reconstruction"]["name"], "triposr");
}
