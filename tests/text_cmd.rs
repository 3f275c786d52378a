//! `img23d text` end to end on the tiny Optimum-layout SD folder of the models crate
//! (`models/tests/data/diffusion/tiny_sd`, from `tools/gen_diffusion_models.py`): the
//! picture with its PNG text chunks, the asset through the main job (a valid GLB), the
//! report's `text` section, candidates, prompt files, `--image-only`, and the missing
//! model. Needs the ONNX Runtime library (`pip install onnxruntime==1.31.1`).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::gltf_validator::assert_valid;
use crate::util::{files_in, read_glb, read_report, root, run, run_ok};

fn tiny_sd() -> PathBuf {
    root().join("models/tests/data/diffusion/tiny_sd")
}

/// `img23d text` on the tiny folder, small sizes, plus `extra`.
fn text(out: &Path, extra: &[&str]) -> Vec<std::ffi::OsString> {
    let mut v: Vec<std::ffi::OsString> =
        ["text", "--device", "cpu", "--width", "64", "--height", "64"]
            .iter()
            .map(Into::into)
            .collect();
    v.push("--model".into());
    v.push(tiny_sd().into());
    v.push("-o".into());
    v.push(out.into());
    v.extend(extra.iter().map(Into::into));
    v
}

fn os(v: &[std::ffi::OsString]) -> Vec<&OsStr> {
    v.iter().map(|s| s.as_os_str()).collect()
}

/// The PNG's `tEXt` chunks, read with the `png` crate.
fn png_text(path: &Path) -> Vec<(String, String)> {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let reader = decoder.read_info().unwrap();
    reader
        .info()
        .uncompressed_latin1_text
        .iter()
        .map(|t| (t.keyword.clone(), t.text.clone()))
        .collect()
}

fn chunk<'a>(text: &'a [(String, String)], key: &str) -> &'a str {
    &text
        .iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no {key} in {text:?}"))
        .1
}

#[test]
fn a_prompt_becomes_a_picture_and_a_valid_glb() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let args = text(
        &out,
        &[
            "a red wooden chair",
            "--seed",
            "42",
            "--steps",
            "2",
            "--resolution",
            "32",
            "--texture-size",
            "64",
            "--bg",
            "none",
        ],
    );
    let stdout = run_ok(&os(&args));
    assert_eq!(
        stdout.matches("step ").count(),
        2,
        "one progress line per step:\n{stdout}"
    );
    assert!(stdout.contains("(seed 42, UNet on CPU)"), "{stdout}");
    assert_eq!(
        files_in(&out),
        [
            "a-red-wooden-chair.glb",
            "a-red-wooden-chair.png",
            "a-red-wooden-chair.preview.png",
            "a-red-wooden-chair.report.json"
        ]
    );
    let png = out.join("a-red-wooden-chair.png");
    let img = image::open(&png).unwrap();
    assert_eq!((img.width(), img.height()), (64, 64));
    let t = png_text(&png);
    assert_eq!(chunk(&t, "prompt"), "a red wooden chair");
    assert_eq!(
        chunk(&t, "model_prompt"),
        "a red wooden chair, a single object, centered, full view, plain white background"
    );
    assert_eq!(chunk(&t, "seed"), "42");
    assert_eq!(chunk(&t, "steps"), "2");
    let glb = out.join("a-red-wooden-chair.glb");
    let mesh = read_glb(&glb);
    mesh.validate().unwrap();
    assert!(!mesh.triangles.is_empty());
    assert_valid(&glb);
    let report = read_report(&out.join("a-red-wooden-chair.report.json"));
    assert_eq!(report["text"]["seed"], 42);
    // Issue 17: the report names where the diffusion model ran (--device cpu here).
    assert_eq!(report["text"]["execution_provider"], "CPU");
    assert_eq!(report["text"]["prompt"], "a red wooden chair");
    assert_eq!(report["text"]["steps"], 2);
    assert!(
        report["text"]["template"]
            .as_str()
            .unwrap()
            .contains("plain white background")
    );

    // the same seed gives the same picture
    let again = dir.path().join("again");
    run_ok(&os(&text(
        &again,
        &[
            "a red wooden chair",
            "--seed",
            "42",
            "--steps",
            "2",
            "--image-only",
        ],
    )));
    assert_eq!(
        image::open(again.join("a-red-wooden-chair.png")).unwrap(),
        img,
        "same seed, same picture"
    );
}

#[test]
fn image_only_candidates_prompt_files_and_raw_prompts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let list = dir.path().join("prompts.txt");
    std::fs::write(&list, "# a comment\na blue teapot\n\na blue teapot\n").unwrap();
    let args = text(
        &out,
        &[
            "--prompts",
            list.to_str().unwrap(),
            "--image-only",
            "--num-images",
            "2",
            "--raw-prompt",
            "--seed",
            "7",
            "-q",
        ],
    );
    let stdout = run_ok(&os(&args));
    assert!(stdout.is_empty(), "--quiet prints nothing: {stdout}");
    // two prompts (the same text gets a second slug), two candidates each: the chosen one
    // as <slug>.png, the other as <slug>.candidate<k>.png
    let names = files_in(&out);
    assert_eq!(names.len(), 4, "{names:?}");
    for slug in ["a-blue-teapot", "a-blue-teapot-2"] {
        assert!(names.contains(&format!("{slug}.png")), "{names:?}");
        let candidates = names
            .iter()
            .filter(|n| n.starts_with(&format!("{slug}.candidate")))
            .count();
        assert_eq!(candidates, 1, "{names:?}");
    }
    let t = png_text(&out.join("a-blue-teapot.png"));
    assert_eq!(
        chunk(&t, "model_prompt"),
        "a blue teapot",
        "--raw-prompt sends the prompt as is"
    );
    let seed: u64 = chunk(&t, "seed").parse().unwrap();
    assert!(
        seed == 7 || seed == 8,
        "candidates use seed and seed+1: {seed}"
    );
}

#[test]
fn a_missing_model_is_an_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = run(&os(&[
        "text".into(),
        "a chair".into(),
        "-o".into(),
        out.clone().into(),
        "--device".into(),
        "cpu".into(),
    ]));
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("img23d models fetch sd-turbo")
            && stderr.contains("export_text_to_image.py"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing written");
    let o = run(&os(&text(&out, &["a chair", "--width", "60"])));
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--width"));
    assert!(!out.exists(), "nothing written");
}
