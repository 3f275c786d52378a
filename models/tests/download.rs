//! The downloader and `ModelStore::fetch` against a local HTTP server on 127.0.0.1
//! (tests/support/http.rs): success, resume after a cut (and a restart when the server's
//! Content-Range does not fit), checksum mismatch, HTTP errors, a stalled server, the hub
//! metadata path with its lock file, branches pinned to commits, concurrent fetches.

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

/// The commit the test hub's `main` points at.
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// A hub whose `test/tiny` has `main` at [`COMMIT`] and serves its files only at that
/// commit (a fetch from the branch would get 404).
fn hub(model: Vec<u8>, served: Vec<u8>) -> Server {
    hub_with(vec![("onnx/decoder.onnx", model, served)], None)
}

/// A hub serving `(path, listed bytes, served bytes)` files at [`COMMIT`], stalling each
/// file's body by `stall`.
fn hub_with(files: Vec<(&'static str, Vec<u8>, Vec<u8>)>, stall: Option<Duration>) -> Server {
    let listed: Vec<(&str, &[u8])> = files.iter().map(|(p, l, _)| (*p, &l[..])).collect();
    let tree = hub_tree_json(&listed, sha);
    Server::start(move |req, _| {
        if req.path == "/api/models/test/tiny/revision/main" {
            return Reply::new(200, format!(r#"{{"id":"test/tiny","sha":"{COMMIT}"}}"#));
        }
        if req.path == format!("/api/models/test/tiny/tree/{COMMIT}/onnx") {
            return Reply::new(200, tree.clone());
        }
        for (p, _, served) in &files {
            if req.path == format!("/test/tiny/resolve/{COMMIT}/{p}") {
                let r = Reply::file(req, served);
                return match stall {
                    Some(d) => r.stall(d),
                    None => r,
                };
            }
        }
        Reply::new(404, "")
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

/// A server that cuts the first answer after 100 kB, then answers the resume with a 206
/// whose Content-Range is `range` (and the body it describes), and any later request with
/// the whole file.
fn resume_server(
    data: Vec<u8>,
    range: impl Fn(usize) -> (u64, String) + Send + Sync + 'static,
) -> Server {
    Server::start(move |req, n| match (n, req.range_start) {
        (0, _) => Reply::file(req, &data).cut(100_000),
        (1, Some(_)) => {
            let (from, header) = range(data.len());
            let mut r = Reply::new(206, data[from as usize..].to_vec());
            if !header.is_empty() {
                r.headers.push(("Content-Range".into(), header));
            }
            r
        }
        _ => Reply::file(req, &data),
    })
}

#[test]
fn a_resume_whose_content_range_does_not_fit_starts_over() {
    // For a file of n bytes: where the 206's body starts, and its Content-Range.
    type Range = fn(usize) -> (u64, String);
    let cases: [(&str, Range); 3] = [
        // The server sends the file from the start although the range asked for more.
        ("wrong start", |n| (0, format!("bytes 0-{}/{n}", n - 1))),
        // The file changed size on the server: the partial one belongs to another file.
        ("wrong total", |n| {
            (100_000, format!("bytes 100000-{}/{}", n - 1, n + 7))
        }),
        // No Content-Range at all.
        ("missing", |_| (100_000, "".to_string())),
    ];
    for (what, range) in cases {
        let data = payload();
        let server = resume_server(data.clone(), range);
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("model.onnx");
        let url = format!("{}/f", server.url);
        download::download(&url, &dest, &expected(&data), &quick()).unwrap_err();
        assert_eq!(
            std::fs::metadata(download::part_path(&dest)).unwrap().len(),
            100_000
        );
        download::download(&url, &dest, &expected(&data), &quick())
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(std::fs::read(&dest).unwrap(), data, "{what}");
        let ranges: Vec<Option<u64>> = server.requests().iter().map(|r| r.1).collect();
        assert_eq!(
            ranges,
            [None, Some(100_000), None],
            "{what}: cut, resume refused, fetched from zero"
        );
    }
}

#[test]
fn content_ranges_are_checked_against_the_partial_file() {
    use download::check_content_range as check;
    assert_eq!(check(Some("bytes 100-299/300"), 100, Some(300)), Ok(()));
    assert_eq!(check(Some("bytes 100-299/*"), 100, None), Ok(()));
    assert_eq!(check(Some("bytes 100-299/300"), 100, None), Ok(()));
    for (v, why) in [
        (
            Some("bytes 0-299/300"),
            "starts at 0, the partial file ends at 100",
        ),
        (Some("bytes 100-299/301"), "301 bytes in all, 300 expected"),
        (Some("bytes 100-199/300"), "stops before the end"),
        (Some("bytes 100-299/*"), "no total"),
        (Some("items 100-299/300"), "not 'bytes START-END/TOTAL'"),
        (Some("bytes 100-99/300"), "not 'bytes START-END/TOTAL'"),
        (
            Some("bytes 18446744073709551615-18446744073709551615/18446744073709551615"),
            "starts at",
        ),
        (None, "no Content-Range"),
    ] {
        let e = check(v, 100, Some(300)).unwrap_err();
        assert!(e.contains(why), "{v:?}: {e}");
    }
}

#[test]
fn branches_are_pinned_to_the_commit_they_point_at_and_recorded() {
    let model = tiny_model();
    let server = hub(model.clone(), model.clone());
    let dir = tempfile::tempdir().unwrap();
    let store = ModelStore::new(dir.path()).with_registry(Registry::with_entries(TINY.to_vec()));
    store
        .fetch("triposr-decoder", Precision::Fp32, &fetch_opts(&server))
        .unwrap();
    let lock = store.read_lock().unwrap();
    let entry = &lock.files["triposr-decoder/triposr_decoder.onnx"];
    assert_eq!(entry.revision.as_deref(), Some(COMMIT));
    assert_eq!(
        entry.url,
        format!(
            "{}/test/tiny/resolve/{COMMIT}/onnx/decoder.onnx",
            server.url
        )
    );
    // A repair later fetches from the recorded commit, without asking the branch again.
    std::fs::write(
        dir.path().join("triposr-decoder/triposr_decoder.onnx"),
        b"bad",
    )
    .unwrap();
    let asked = server.requests().len();
    store
        .fetch("triposr-decoder", Precision::Fp32, &fetch_opts(&server))
        .unwrap();
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.0).collect();
    assert!(paths.len() > asked, "the repair downloaded: {paths:?}");
    assert_eq!(
        paths
            .iter()
            .filter(|p| p.contains("/revision/main"))
            .count(),
        1,
        "the branch is resolved once: {paths:?}"
    );
    assert!(
        paths
            .iter()
            .all(|p| !p.contains("/resolve/main") && !p.contains("/tree/main")),
        "{paths:?}"
    );
    assert_eq!(
        store.verify("triposr-decoder", Precision::Fp32).unwrap()[0].1,
        FileCheck::Ok
    );
}

#[test]
fn a_branch_that_cannot_be_resolved_is_refused() {
    let server = Server::start(|req, _| {
        if req.path == "/api/models/test/tiny/revision/main" {
            Reply::new(200, r#"{"id":"test/tiny","sha":"main"}"#)
        } else {
            Reply::new(404, "")
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let store = ModelStore::new(dir.path()).with_registry(Registry::with_entries(TINY.to_vec()));
    let e = store
        .fetch("triposr-decoder", Precision::Fp32, &fetch_opts(&server))
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("'sha' is 'main', not a 40-digit commit hash"),
        "{e}"
    );
    assert_eq!(
        server.requests().len(),
        1,
        "nothing fetched from the branch"
    );
}

#[test]
fn two_fetches_of_one_model_at_once_download_it_once() {
    let model = tiny_model();
    let server = hub_with(
        vec![("onnx/decoder.onnx", model.clone(), model.clone())],
        Some(Duration::from_millis(250)),
    );
    let dir = tempfile::tempdir().unwrap();
    let store = ModelStore::new(dir.path()).with_registry(Registry::with_entries(TINY.to_vec()));
    let opts = fetch_opts(&server);
    let got: Vec<_> = std::thread::scope(|s| {
        let a = s.spawn(|| store.fetch("triposr-decoder", Precision::Fp32, &opts));
        let b = s.spawn(|| store.fetch("triposr-decoder", Precision::Fp32, &opts));
        [a.join().unwrap(), b.join().unwrap()]
    })
    .into_iter()
    .map(|r| r.unwrap()[0].downloaded)
    .collect();
    let path = dir.path().join("triposr-decoder/triposr_decoder.onnx");
    assert_eq!(std::fs::read(&path).unwrap(), model);
    assert!(!download::part_path(&path).exists());
    let downloads = server
        .requests()
        .iter()
        .filter(|r| r.0.contains("/resolve/"))
        .count();
    assert_eq!(
        downloads,
        1,
        "the second fetch waited: {:?}",
        server.requests()
    );
    assert_eq!(got.iter().filter(|d| **d).count(), 1, "{got:?}");
    assert_eq!(
        store.verify("triposr-decoder", Precision::Fp32).unwrap()[0].1,
        FileCheck::Ok
    );
}

#[test]
fn two_fetches_of_different_models_at_once_keep_both_records() {
    static TWO: [ModelEntry; 2] = [
        ModelEntry {
            id: ModelId::TriposrDecoder,
            variants: &[Variant {
                precision: Precision::Fp32,
                files: &[ModelFile {
                    local: "triposr_decoder.onnx",
                    remote: "onnx/decoder.onnx",
                    sha256: None,
                    size: None,
                }],
            }],
            ..TINY[0]
        },
        ModelEntry {
            id: ModelId::TriposrEncoder,
            variants: &[Variant {
                precision: Precision::Fp32,
                files: &[ModelFile {
                    local: "triposr_encoder.onnx",
                    remote: "onnx/encoder.onnx",
                    sha256: None,
                    size: None,
                }],
            }],
            ..TINY[0]
        },
    ];
    let a = tiny_model();
    let b = payload();
    let server = hub_with(
        vec![
            ("onnx/decoder.onnx", a.clone(), a.clone()),
            ("onnx/encoder.onnx", b.clone(), b.clone()),
        ],
        Some(Duration::from_millis(250)),
    );
    let dir = tempfile::tempdir().unwrap();
    let store = ModelStore::new(dir.path()).with_registry(Registry::with_entries(TWO.to_vec()));
    let opts = fetch_opts(&server);
    std::thread::scope(|s| {
        let x = s.spawn(|| store.fetch("triposr-decoder", Precision::Fp32, &opts));
        let y = s.spawn(|| store.fetch("triposr-encoder", Precision::Fp32, &opts));
        x.join().unwrap().unwrap();
        y.join().unwrap().unwrap();
    });
    let lock = store.read_lock().unwrap();
    let names: Vec<&String> = lock.files.keys().collect();
    assert_eq!(
        names,
        [
            "triposr-decoder/triposr_decoder.onnx",
            "triposr-encoder/triposr_encoder.onnx"
        ]
    );
    for m in ["triposr-decoder", "triposr-encoder"] {
        assert_eq!(
            store.verify(m, Precision::Fp32).unwrap()[0].1,
            FileCheck::Ok,
            "{m}"
        );
    }
}
