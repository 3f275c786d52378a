//! Fuzzing on stable Rust: seeded mutation loops over the parsers that read what a
//! user, a crawler or a server hands img23d — the image loader (`pipeline::image`), the
//! `.npy` reader (`meshing::npy`), Depth Pro's EXIF reader, the ONNX graph reader
//! (`models::onnx_graph`), the models lock file and the hub's metadata
//! (`models::store`, `models::download`).
//!
//! Each target starts from valid seeds (the image fixtures of tests/data/images from
//! tools/make_image_fixtures.py, the tiny ONNX models of models/tests/data, files the
//! writers make), applies one to four random mutations per case (bit flips, bytes and
//! 32-bit words set to boundary values, insertions, deletions, truncation, a chunk
//! repeated) from a fixed seed, and runs a bounded number of cases. Every case must
//! return an error or a value that passes the target's own check, never panic, and
//! never ask the allocator for a block of [`HUGE`] bytes or more (a
//! recording global allocator sees every request of this test binary): an input that
//! claims a huge size is refused before anything of that size is allocated.
//!
//! A failing case is written to `$CARGO_TARGET_TMPDIR/fuzz-failures/` and named in the
//! failure; once fixed, it joins the regression corpus `tests/data/fuzz/<target>/`
//! (files named after the issue), which every run replays first.
//! `IMG23D_FUZZ_CASES=N` multiplies the number of cases (a longer hunt).

use std::alloc::{GlobalAlloc, Layout, System};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use img23d_meshing::Limits;

/// No single allocation may reach this while a case runs (the inputs are all under a
/// megabyte, and the image target's limits allow 1 MP, 16 MB as float RGBA).
const HUGE: usize = 256 << 20;

/// The largest block asked of the allocator so far, in bytes.
static LARGEST: AtomicUsize = AtomicUsize::new(0);

/// [`System`], recording the largest request in [`LARGEST`].
struct Recording;

#[allow(
    unsafe_code,
    reason = "a global allocator is an unsafe trait; this one forwards to System"
)]
// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the only addition is an atomic update, which does not allocate.
unsafe impl GlobalAlloc for Recording {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's guarantees for `alloc` are passed on as they are.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` (every block of this allocator does) with
        // `layout`, as the caller guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: as for `dealloc`, and the caller guarantees `new_size` is valid.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Recording = Recording;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `base` cases, times `IMG23D_FUZZ_CASES` when set.
fn cases(base: usize) -> usize {
    let k = std::env::var("IMG23D_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1);
    base * k.max(1)
}

/// Boundary values that find size and offset bugs.
const WORDS: [u32; 8] = [
    0,
    1,
    0x7F,
    0xFF,
    0xFFFF,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFF,
];

/// One to four random mutations of `seed`.
fn mutate(rng: &mut fastrand::Rng, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..rng.usize(1..=4) {
        let n = b.len();
        match rng.u8(0..7) {
            0 if n > 0 => {
                let i = rng.usize(..n);
                b[i] ^= 1 << rng.u8(0..8);
            }
            1 if n > 0 => {
                let i = rng.usize(..n);
                b[i] = [0, 0xFF, 0x7F, 0x80, b'0', b'9'][rng.usize(..6)];
            }
            2 if n >= 4 => {
                let i = rng.usize(..=n - 4);
                let w = WORDS[rng.usize(..WORDS.len())];
                let bytes = if rng.bool() {
                    w.to_le_bytes()
                } else {
                    w.to_be_bytes()
                };
                b[i..i + 4].copy_from_slice(&bytes);
            }
            3 => {
                let i = rng.usize(..=n);
                let k = rng.usize(1..=8);
                let junk: Vec<u8> = (0..k).map(|_| rng.u8(..)).collect();
                b.splice(i..i, junk);
            }
            4 if n > 0 => {
                let i = rng.usize(..n);
                let k = rng.usize(1..=(n - i).min(64));
                b.drain(i..i + k);
            }
            5 => b.truncate(rng.usize(..=n)),
            _ if n > 0 => {
                let i = rng.usize(..n);
                let k = rng.usize(1..=(n - i).min(256));
                let chunk = b[i..i + k].to_vec();
                let at = rng.usize(..=b.len());
                b.splice(at..at, chunk);
            }
            _ => b.push(rng.u8(..)),
        }
    }
    b
}

/// Runs `check` on `input`; a panic or a huge allocation fails the test with the input
/// saved for the corpus. `check` returns an error text for an invalid value.
fn one_case(target: &str, label: &str, input: &[u8], check: &impl Fn(&[u8]) -> Result<(), String>) {
    let outcome = catch_unwind(AssertUnwindSafe(|| check(input)));
    let largest = LARGEST.load(Ordering::Relaxed);
    let problem = match outcome {
        Err(_) => Some("panicked".to_string()),
        Ok(Err(e)) => Some(format!("returned an invalid value: {e}")),
        Ok(Ok(())) if largest >= HUGE => Some(format!("allocated {largest} bytes at once")),
        Ok(Ok(())) => None,
    };
    if let Some(problem) = problem {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures");
        std::fs::create_dir_all(&dir).unwrap();
        let saved = dir.join(format!("{target}-{label}.bin"));
        std::fs::write(&saved, input).unwrap();
        panic!(
            "fuzz target {target}, case {label}: {problem}; input saved to {}",
            saved.display()
        );
    }
}

/// Replays the corpus `tests/data/fuzz/<target>/`, then `n` mutations of the seeds.
fn fuzz(target: &str, seeds: &[Vec<u8>], n: usize, check: impl Fn(&[u8]) -> Result<(), String>) {
    let corpus = root().join("tests/data/fuzz").join(target);
    if let Ok(entries) = std::fs::read_dir(&corpus) {
        let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in files {
            let label = f.file_name().unwrap().to_string_lossy().into_owned();
            one_case(target, &label, &std::fs::read(&f).unwrap(), &check);
        }
    }
    for s in seeds {
        one_case(target, "seed", s, &check);
    }
    // One fixed stream per target: the same cases every run.
    let mut rng = fastrand::Rng::with_seed(target.bytes().fold(12, |h, b| h * 31 + u64::from(b)));
    for case in 0..n {
        let seed = &seeds[rng.usize(..seeds.len())];
        let input = mutate(&mut rng, seed);
        one_case(target, &case.to_string(), &input, &check);
    }
}

fn read(p: impl AsRef<Path>) -> Vec<u8> {
    std::fs::read(root().join(p)).unwrap()
}

#[test]
fn image_loader() {
    let seeds: Vec<Vec<u8>> = [
        "plain.png",
        "baseline.jpg",
        "progressive.jpg",
        "lossy.webp",
        "lossless.webp",
        "plain.bmp",
        "plain.tiff",
    ]
    .iter()
    .map(|n| read(format!("tests/data/images/{n}")))
    .collect();
    let limits = Limits {
        max_image_side: 2048,
        max_image_pixels: 1 << 20,
        ..Limits::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("picture");
    fuzz("image", &seeds, cases(20_000), |bytes| {
        std::fs::write(&path, bytes).unwrap();
        match img23d::image::load_image(&path, &limits) {
            Err(e) => {
                let line = e.to_string();
                (line.contains("picture") && !line.is_empty())
                    .then_some(())
                    .ok_or_else(|| format!("the error does not name the file: {line}"))
            }
            Ok(img) => {
                let (w, h) = img.rgba.dimensions();
                let ok = w > 0
                    && h > 0
                    && u64::from(w) * u64::from(h) <= limits.max_image_pixels
                    && img.rgba.pixels().all(|p| p.0.iter().all(|v| v.is_finite()));
                ok.then_some(())
                    .ok_or_else(|| format!("a {w}x{h} picture outside the limits or not finite"))
            }
        }
    });
}

#[test]
fn npy_reader() {
    let dir = tempfile::tempdir().unwrap();
    let mut seeds = Vec::new();
    for shape in [&[2usize, 3, 4][..], &[5], &[1, 1, 1], &[3, 3]] {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 1.0).collect();
        let p = dir.path().join("v.npy");
        img23d_meshing::npy::write_npy_f32(&p, shape, &data).unwrap();
        seeds.push(std::fs::read(&p).unwrap());
    }
    fuzz(
        "npy",
        &seeds,
        cases(400_000),
        |bytes| match img23d_meshing::npy::parse_npy(bytes) {
            Err(_) => Ok(()),
            Ok(a) => {
                let n = a.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
                (n == Some(a.data.len()) && a.data.len() * 4 <= bytes.len())
                    .then_some(())
                    .ok_or_else(|| format!("shape {:?} with {} values", a.shape, a.data.len()))
            }
        },
    );
}

#[test]
fn exif_reader() {
    use img23d_models::depth_pro::exif::{exif_block_with_focal_35mm, focal_length_35mm};
    let seeds = vec![
        exif_block_with_focal_35mm(26, true),
        exif_block_with_focal_35mm(50, false),
    ];
    fuzz(
        "exif",
        &seeds,
        cases(750_000),
        |bytes| match focal_length_35mm(bytes) {
            Some(f) if !(f.is_finite() && f > 0.0) => Err(format!("focal {f}")),
            _ => Ok(()),
        },
    );
}

#[test]
fn onnx_graph_reader() {
    let seeds: Vec<Vec<u8>> = [
        "depth_pro_canonical.onnx",
        "depth_pro_metric.onnx",
        "segmentation.onnx",
        "triposr_decoder_field.onnx",
        "triposr_encoder.onnx",
        "triposr_object_encoder.onnx",
        "wrong_decoder_fp16.onnx",
        "wrong_encoder.onnx",
    ]
    .iter()
    .map(|n| read(format!("models/tests/data/{n}")))
    .collect();
    fuzz("onnx", &seeds, cases(150_000), |bytes| {
        let Ok(model) = img23d_models::onnx_graph::OnnxModel::parse(bytes) else {
            return Ok(());
        };
        for t in &model.graph.initializers {
            if let Ok(v) = model.tensor_f32(t)
                && Some(v.len()) != t.len()
            {
                return Err(format!(
                    "{} has dims {:?} and {} values",
                    t.name,
                    t.dims,
                    v.len()
                ));
            }
        }
        Ok(())
    });
}

#[test]
fn lock_file_parser() {
    let seed = r#"{
  "version": 1,
  "files": {
    "depth-pro/model_fp16.onnx": {
      "sha256": "d39b897ceb16ae654c1731f3dba0cf9b368d9cae74b5a57459b455cc8bfec402",
      "size": 1391,
      "url": "https://huggingface.co/o/r/resolve/0123456789abcdef0123456789abcdef01234567/onnx/model_fp16.onnx",
      "origin": "hub-metadata",
      "model": "depth-pro",
      "precision": "fp16",
      "contracts": "Depth Pro v1",
      "revision": "0123456789abcdef0123456789abcdef01234567"
    },
    "triposr-decoder/triposr_decoder.onnx": {
      "sha256": "00", "size": 1, "url": "x", "origin": "pinned",
      "model": "triposr-decoder", "precision": "fp32", "contracts": ""
    }
  }
}"#;
    let dir = Path::new("/models");
    fuzz(
        "lock",
        &[seed.as_bytes().to_vec()],
        cases(150_000),
        |bytes| {
            let text = String::from_utf8_lossy(bytes);
            match img23d_models::store::LockFile::parse(&text, dir) {
                Err(_) => Ok(()),
                Ok(lock) => lock
                    .files
                    .keys()
                    .all(|k| img23d_models::store::safe_join(dir, k).is_ok())
                    .then_some(())
                    .ok_or_else(|| "a name that leaves the folder".to_string()),
            }
        },
    );
}

#[test]
fn hub_metadata_parser() {
    use img23d_models::download::{is_commit, parse_hub_revision, parse_hub_tree};
    let tree = r#"[
      {"type":"directory","oid":"x","size":0,"path":"onnx"},
      {"type":"file","oid":"5f1","size":1391,"path":"onnx/model.onnx",
       "lfs":{"oid":"ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34","size":1391,"pointerSize":132}},
      {"type":"file","oid":"9e0","size":274,"path":"config.json"}
    ]"#;
    let revision = r#"{"id":"o/r","sha":"0123456789abcdef0123456789abcdef01234567","siblings":[]}"#;
    let seeds = [tree.as_bytes().to_vec(), revision.as_bytes().to_vec()];
    fuzz("hub", &seeds, cases(150_000), |bytes| {
        let text = String::from_utf8_lossy(bytes);
        if let Ok(files) = parse_hub_tree(&text) {
            for f in files {
                if f.sha256
                    .as_ref()
                    .is_some_and(|s| s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()))
                {
                    return Err(format!("{f:?}"));
                }
            }
        }
        match parse_hub_revision(&text) {
            Ok(c) if !is_commit(&c) => Err(format!("commit {c}")),
            _ => Ok(()),
        }
    });
}
