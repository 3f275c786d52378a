//! `img23d models list|fetch|verify|path` end to end: the real binary against a local
//! hub server on 127.0.0.1 (HF_ENDPOINT), a temporary models folder, and the tiny
//! decoder model of models/tests/data as the "download".

#[path = "../models/tests/support/http.rs"]
mod http;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use http::{Reply, Server, hub_tree_json};

fn tiny_decoder() -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/tests/data/triposr_decoder_mlp.onnx"),
    )
    .unwrap()
}

fn sha(d: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x");
    std::fs::write(&p, d).unwrap();
    img23d_models::download::sha256_file(&p).unwrap().0
}

/// Serves the TripoSR decoder repository of the registry with the tiny decoder in it.
fn hub() -> Server {
    let model = tiny_decoder();
    let tree = hub_tree_json(
        &[
            ("triposr_decoder.onnx", &model),
            ("triposr_encoder.onnx", b"unused"),
        ],
        sha,
    );
    // `main` points at this commit; files are served at the commit only.
    let commit = "89abcdef0123456789abcdef0123456789abcdef";
    let repo = "fernandotonon/QtMeshEditor-triposr-onnx";
    Server::start(move |req, _| {
        let p = req.path.as_str();
        if p == format!("/api/models/{repo}/revision/main") {
            Reply::new(200, format!(r#"{{"sha":"{commit}"}}"#))
        } else if p == format!("/api/models/{repo}/tree/{commit}") {
            Reply::new(200, tree.clone())
        } else if p == format!("/{repo}/resolve/{commit}/triposr_decoder.onnx") {
            Reply::file(req, &model)
        } else {
            Reply::new(404, "")
        }
    })
}

fn img23d(models: &Path, endpoint: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_img23d"))
        .arg("models")
        .args(args)
        .arg("--models-dir")
        .arg(models)
        .env("HF_ENDPOINT", endpoint)
        .env_remove("IMG23D_MODELS")
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn row<'a>(stdout: &'a str, model: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(model))
        .unwrap_or_else(|| panic!("no row for {model} in\n{stdout}"))
}

#[test]
fn list_fetch_verify_path_round_trip() {
    let server = hub();
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");

    let o = img23d(&models, &server.url, &["list"]);
    let (stdout, _) = text(&o);
    assert!(o.status.success());
    assert!(stdout.contains(&format!("models folder: {}", models.display())));
    assert!(row(&stdout, "triposr-decoder").contains("not installed"));
    assert!(
        row(&stdout, "zero123pp").contains("export only")
            && row(&stdout, "zero123pp").contains("CC-BY-NC-4.0")
    );

    let o = img23d(&models, &server.url, &["fetch", "triposr-decoder"]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    let installed: PathBuf = models.join("triposr-decoder/triposr_decoder.onnx");
    assert!(
        stdout.contains(&format!("installed {}", installed.display())),
        "{stdout}"
    );
    assert!(stdout.contains("licence MIT"), "{stdout}");
    assert_eq!(std::fs::read(&installed).unwrap(), tiny_decoder());

    let (stdout, _) = text(&img23d(&models, &server.url, &["list"]));
    let r = row(&stdout, "triposr-decoder");
    assert!(
        r.contains("installed") && !r.contains("not installed") && r.contains("166."),
        "{r}"
    );

    let o = img23d(&models, &server.url, &["verify", "--signatures"]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("ok          {}", installed.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains("matches TripoSR decoder (MLP) v1"),
        "{stdout}"
    );

    let o = img23d(&models, &server.url, &["path", "triposr-decoder"]);
    assert_eq!(text(&o).0.trim(), installed.display().to_string());

    // A corrupted file is refused by the checksum.
    let mut bad = tiny_decoder();
    bad[500] ^= 0x55;
    std::fs::write(&installed, bad).unwrap();
    let o = img23d(&models, &server.url, &["verify", "triposr-decoder"]);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout.contains("MISMATCH"), "{stdout}");
    assert!(
        stderr.contains("checksum mismatch, expected sha256"),
        "{stderr}"
    );
}

#[test]
fn offline_fetch_fails_without_network() {
    let server = hub();
    let dir = tempfile::tempdir().unwrap();
    let o = img23d(
        dir.path(),
        &server.url,
        &["--offline", "fetch", "triposr-decoder"],
    );
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr.contains("--offline forbids downloading"), "{stderr}");
    assert!(server.requests().is_empty());
}

#[test]
fn bad_names_and_servers_give_clear_errors() {
    let server = Server::start(|_, _| Reply::new(500, "down"));
    let dir = tempfile::tempdir().unwrap();
    let (_, stderr) = text(&img23d(dir.path(), &server.url, &["fetch", "triposr"]));
    assert!(
        stderr.contains("unknown model 'triposr'; known models: triposr-encoder"),
        "{stderr}"
    );
    let (_, stderr) = text(&img23d(dir.path(), &server.url, &["fetch", "sd-turbo"]));
    assert!(
        stderr.contains("no public ONNX export") && stderr.contains("optimum-cli export onnx"),
        "{stderr}"
    );
    let (_, stderr) = text(&img23d(
        dir.path(),
        &server.url,
        &["fetch", "triposr-decoder"],
    ));
    assert!(stderr.contains("server answered HTTP 500"), "{stderr}");
    let o = img23d(dir.path(), &server.url, &["verify", "depth-pro"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("img23d models fetch depth-pro"));
    let o = img23d(dir.path(), &server.url, &["--device", "gpu", "list"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn missing_onnx_runtime_says_how_to_install_it() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("m");
    std::fs::create_dir_all(models.join("triposr-decoder")).unwrap();
    std::fs::write(
        models.join("triposr-decoder/triposr_decoder.onnx"),
        tiny_decoder(),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_img23d"))
        .args(["models", "verify", "--signatures", "--models-dir"])
        .arg(&models)
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so.1.31.1")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("unrecorded"), "{stdout}");
    assert!(
        stderr.contains("pip install onnxruntime==1.31.1"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
