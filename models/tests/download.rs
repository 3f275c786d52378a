//! The downloader and `ModelStore::fetch` against a local HTTP server on 127.0.0.1
//! (tests/support/http.rs): success, resume after a cut, checksum mismatch, HTTP errors,
//! a stalled server, and the hub metadata path with its lock file.

#[path = "support/http.rs"]
mod http;

use std::path::Path;
use std::time::Duration;

use http::{Reply, Server, hub_tree_json};
use img23d_models::download::{self, DownloadOptions, Expected};
use img23d_models::registry::{ModelEntry, ModelFile, ModelId, Source, Variant};
use img23d_models::store::{ChecksumOrigin, FetchOptions, FileCheck, LOCK_FILE, ModelState};
use img23d_models::{Error, ErrorKind, ModelStore, Precision, Registry};

/// 300 kB of deterministic bytes.
fn payload() -> Vec<u8> {
    (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

fn sha(d: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x");
    std::fs::write(&p, d).unwrap();
    download::sha256_file(&p).unwrap().0
}

fn quick() -> DownloadOptions {
    DownloadOptions {
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_millis(400),
        progress: false,
    }
}

fn expected(d: &[u8]) -> Expected {
    Expected {
        sha256: sha(d),
        size: Some(d.len() as u64),
    }
}

#[test]
fn downloads_and_checks() {
    let data = payload();
    let d2 = data.clone();
    let server = Server::start(move |req, _| Reply::file(req, &d2));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("model.onnx");
    download::download(
        &format!("{}/f", server.url),
        &dest,
        &expected(&data),
        &quick(),
    )
    .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    assert!(!download::part_path(&dest).exists());
}

#[test]
fn resumes_after_a_cut() {
    let data = payload();
    let d2 = data.clone();
    let server = Server::start(move |req, n| {
        if n == 0 {
            Reply::file(req, &d2).cut(100_000)
        } else {
            Reply::file(req, &d2)
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("model.onnx");
    let url = format!("{}/f", server.url);
    let e = download::download(&url, &dest, &expected(&data), &quick()).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Truncated {
                expected: 300_000,
                got: 100_000,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string().contains("run the fetch again to resume"),
        "{e}"
    );
    assert!(!dest.exists());
    assert_eq!(
        std::fs::metadata(download::part_path(&dest)).unwrap().len(),
        100_000
    );
    download::download(&url, &dest, &expected(&data), &quick()).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    assert_eq!(
        server.requests()[1].1,
        Some(100_000),
        "second request resumes with a Range"
    );
}

#[test]
fn restarts_when_the_server_ignores_the_range() {
    let data = payload();
    let d2 = data.clone();
    let server = Server::start(move |_, _| Reply::new(200, d2.clone()));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("model.onnx");
    std::fs::write(download::part_path(&dest), &data[..5000]).unwrap();
    download::download(
        &format!("{}/f", server.url),
        &dest,
        &expected(&data),
        &quick(),
    )
    .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    assert_eq!(server.requests()[0].1, Some(5000));
}

#[test]
fn checksum_mismatch_is_refused_and_nothing_is_installed() {
    let data = payload();
    let d2 = data.clone();
    let server = Server::start(move |req, _| Reply::file(req, &d2));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("model.onnx");
    let mut exp = expected(&data);
    exp.sha256 = "0".repeat(64);
    let e = download::download(&format!("{}/f", server.url), &dest, &exp, &quick()).unwrap_err();
    assert!(matches!(e, Error::ChecksumMismatch { .. }), "{e}");
    assert!(
        e.to_string().starts_with(&format!(
            "checksum mismatch: expected sha256 {}, found {}",
            "0".repeat(64),
            sha(&data)
        )),
        "{e}"
    );
    assert!(!dest.exists() && !download::part_path(&dest).exists());
}

#[test]
fn http_errors_are_reported_with_status_and_url() {
    let server = Server::start(|req, _| {
        if req.path.ends_with("missing") {
            Reply::new(404, "no")
        } else {
            Reply::new(500, "boom")
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("m.onnx");
    for (path, status) in [("missing", 404u16), ("broken", 500)] {
        let url = format!("{}/{path}", server.url);
        let e = download::download(&url, &dest, &expected(b"x"), &quick()).unwrap_err();
        assert!(
            matches!(e, Error::HttpStatus { status: s, .. } if s == status),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            format!("download failed: server answered HTTP {status}: {url}")
        );
    }
    assert!(!dest.exists());
}

#[test]
fn a_stalled_server_times_out() {
    let data = payload();
    let d2 = data.clone();
    let server = Server::start(move |req, _| Reply::file(req, &d2).stall(Duration::from_secs(5)));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("m.onnx");
    let e = download::download(
        &format!("{}/f", server.url),
        &dest,
        &expected(&data),
        &quick(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Download, "{e}");
    assert!(
        e.to_string().to_lowercase().contains("timed out") || e.to_string().contains("timeout"),
        "{e}"
    );
    assert!(!dest.exists());
}

#[test]
fn unreachable_server_is_a_network_error() {
    let dir = tempfile::tempdir().unwrap();
    // Port 9 (discard) on loopback: nothing listens there in the test environment.
    let e = download::download(
        "http://127.0.0.1:9/f",
        &dir.path().join("m"),
        &expected(b"x"),
        &quick(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::Network { .. }), "{e}");
}

// ---------------------------------------------------------------- store + hub metadata

static TINY: [ModelEntry; 1] = [ModelEntry {
    id: ModelId::TriposrDecoder,
    description: "tiny decoder",
    licence: "MIT",
    homepage: "",
    source: Source::HuggingFace {
        repo: "test/tiny",
        revision: "main",
    },
    variants: &[Variant {
        precision: Precision::Fp32,
        files: &[ModelFile {
            local: "triposr_decoder.onnx",
            remote: "onnx/decoder.onnx",
            sha256: None,
            size: None,
        }],
    }],
    contracts: &[&img23d_models::contracts::TRIPOSR_DECODER_MLP],
    preprocess: None,
    notes: "",
}];

fn tiny_model() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/triposr_decoder_mlp.onnx"))
        .unwrap()
}

fn hub(model: Vec<u8>, served: Vec<u8>) -> Server {
    let tree = hub_tree_json(&[("onnx/decoder.onnx", &model)], sha);
    Server::start(move |req, _| {
        if req.path == "/api/models/test/tiny/tree/main/onnx" {
            Reply::new(200, tree.clone())
        } else if req.path == "/test/tiny/resolve/main/onnx/decoder.onnx" {
            Reply::file(req, &served)
        } else {
            Reply::new(404, "")
        }
    })
}

fn fetch_opts(server: &Server) -> FetchOptions {
    FetchOptions {
        endpoint: server.url.clone(),
        download: quick(),
    }
}

#[test]
fn fetch_records_hub_checksums_and_verify_catches_corruption() {
    let model = tiny_model();
    let server = hub(model.clone(), model.clone());
    let dir = tempfile::tempdir().unwrap();
    let store = ModelStore::new(dir.path()).with_registry(Registry::with_entries(TINY.to_vec()));
    let name = "triposr-decoder";
    assert_eq!(
        store.state(name, Precision::Fp32).unwrap(),
        ModelState::Missing
    );
    let got = store
        .fetch(name, Precision::Fp32, &fetch_opts(&server))
        .unwrap();
    assert!(got[0].downloaded && got[0].size == model.len() as u64);
    assert_eq!(
        store.state(name, Precision::Fp32).unwrap(),
        ModelState::Installed
    );
    let lock = store.read_lock().unwrap();
    let entry = &lock.files["triposr-decoder/triposr_decoder.onnx"];
    assert_eq!(
        (entry.origin, entry.sha256.clone()),
        (ChecksumOrigin::HubMetadata, sha(&model))
    );
    assert!(entry.contracts.contains("TripoSR decoder (MLP) v1"));
    assert!(dir.path().join(LOCK_FILE).is_file());

    // The installed file loads through the real runtime path.
    let path = store.locate(name, Precision::Fp32, None).unwrap();
    img23d_models::load_session(
        &path,
        &img23d_models::contracts::TRIPOSR_DECODER_MLP,
        &img23d_models::RuntimeOptions::default().with_device(img23d_models::Device::Cpu),
    )
    .unwrap();

    // Fetching again touches nothing.
    let n = server.requests().len();
    assert!(
        !store
            .fetch(name, Precision::Fp32, &fetch_opts(&server))
            .unwrap()[0]
            .downloaded
    );
    assert_eq!(server.requests().len(), n);

    // Corrupt one byte: verify refuses it by the checksum; a fetch repairs it.
    let mut bad = model.clone();
    bad[1000] ^= 0xff;
    std::fs::write(&path, &bad).unwrap();
    let v = store.verify(name, Precision::Fp32).unwrap();
    assert!(
        matches!(&v[0].1, FileCheck::Mismatch(m) if m.contains("expected sha256")),
        "{v:?}"
    );
    assert!(
        store
            .fetch(name, Precision::Fp32, &fetch_opts(&server))
            .unwrap()[0]
            .downloaded
    );
    assert_eq!(
        store.verify(name, Precision::Fp32).unwrap()[0].1,
        FileCheck::Ok
    );
}

#[test]
fn fetch_refuses_content_that_differs_from_the_hub_metadata() {
    let model = tiny_model();
    let mut served = model.clone();
    served[10] ^= 1;
    let server = hub(model, served);
    let dir = tempfile::tempdir().unwrap();
    let store = ModelStore::new(dir.path()).with_registry(Registry::with_entries(TINY.to_vec()));
    let e = store
        .fetch("triposr-decoder", Precision::Fp32, &fetch_opts(&server))
        .unwrap_err();
    assert!(matches!(e, Error::ChecksumMismatch { .. }), "{e}");
    assert_eq!(
        store.state("triposr-decoder", Precision::Fp32).unwrap(),
        ModelState::Missing
    );
    assert!(store.read_lock().unwrap().files.is_empty());
}

#[test]
fn offline_fetch_never_touches_the_network() {
    let model = tiny_model();
    let server = hub(model.clone(), model);
    let dir = tempfile::tempdir().unwrap();
    let store = ModelStore::new(dir.path())
        .with_registry(Registry::with_entries(TINY.to_vec()))
        .with_offline(true);
    let e = store
        .fetch("triposr-decoder", Precision::Fp32, &fetch_opts(&server))
        .unwrap_err();
    assert!(matches!(e, Error::Offline { .. }), "{e}");
    assert!(server.requests().is_empty());
}

#[test]
fn manifest_names_that_escape_the_folder_are_refused() {
    static EVIL: [ModelEntry; 1] = [ModelEntry {
        id: ModelId::TriposrDecoder,
        description: "",
        licence: "",
        homepage: "",
        source: Source::HuggingFace {
            repo: "test/tiny",
            revision: "main",
        },
        variants: &[Variant {
            precision: Precision::Fp32,
            files: &[ModelFile {
                local: "../../outside.onnx",
                remote: "onnx/decoder.onnx",
                sha256: None,
                size: None,
            }],
        }],
        contracts: &[],
        preprocess: None,
        notes: "",
    }];
    let model = tiny_model();
    let server = hub(model.clone(), model);
    let dir = tempfile::tempdir().unwrap();
    let store = ModelStore::new(dir.path().join("models"))
        .with_registry(Registry::with_entries(EVIL.to_vec()));
    let e = store
        .fetch("triposr-decoder", Precision::Fp32, &fetch_opts(&server))
        .unwrap_err();
    assert!(matches!(e, Error::UnsafeFileName { .. }), "{e}");
    assert!(!dir.path().join("outside.onnx").exists());
    assert!(server.requests().is_empty());
}
