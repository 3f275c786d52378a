//! TripoSR field evaluation throughput on the CPU, with a decoder of TripoSR's real
//! sizes (triplane 3 × 40 × 64 × 64; MLP 120→64, 8 × 64→64 SiLU, 64→4) and fixed
//! random weights: plain sampling (120 features + full MLP) against the folded first
//! layer (3 × 64 folded channels + the 9 remaining layers), with the MLP in Rust and in
//! ONNX Runtime (CPU execution provider, generated graph).
//!
//! `cargo bench -p img23d-models --bench triposr_field`
//! (ONNX Runtime from `ORT_DYLIB_PATH` or the `onnxruntime` Python package; the ORT
//! cases are skipped, with a note, when neither is there).

#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use std::path::PathBuf;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use img23d_meshing::Field;
use img23d_models::triposr::decoder::{OrtMlp, mlp_to_onnx};
use img23d_models::triposr::mlp::{Linear, Mlp};
use img23d_models::triposr::{MlpExec, Triplane, TriplaneField};

/// Deterministic uniform numbers in [-1, 1).
fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// TripoSR's decoder sizes with random weights (uniform, scaled by 1/sqrt(fan_in)).
fn real_size_mlp() -> Mlp {
    let sizes = [120, 64, 64, 64, 64, 64, 64, 64, 64, 64, 4];
    let layers = sizes
        .windows(2)
        .enumerate()
        .map(|(i, w)| {
            let scale = 1.7 / (w[0] as f32).sqrt();
            Linear {
                inputs: w[0],
                outputs: w[1],
                weight: noise(w[0] * w[1], 100 + i as u64)
                    .iter()
                    .map(|v| v * scale)
                    .collect(),
                bias: noise(w[1], 200 + i as u64)
                    .iter()
                    .map(|v| v * 0.1)
                    .collect(),
            }
        })
        .collect();
    Mlp::new(layers).expect("valid sizes")
}

fn triplane() -> Triplane {
    Triplane::from_nchw(&noise(3 * 40 * 64 * 64, 1), 40, 64, 64).expect("valid triplane")
}

/// `n` points in grid order (z fastest) over the scene box, as an extraction asks.
fn points(n: usize) -> Vec<[f32; 3]> {
    let side = (n as f64).cbrt().ceil() as usize;
    let step = 1.74 / (side.max(2) - 1) as f32;
    (0..n)
        .map(|i| {
            let (x, y, z) = (i / (side * side), (i / side) % side, i % side);
            [
                -0.87 + step * x as f32,
                -0.87 + step * y as f32,
                -0.87 + step * z as f32,
            ]
        })
        .collect()
}

fn ort_env() -> Option<ort::environment::Environment> {
    let path = std::env::var_os("ORT_DYLIB_PATH")
        .map(PathBuf::from)
        .or_else(|| {
            let out = std::process::Command::new("python3")
                .args([
                    "-c",
                    "import onnxruntime, os; print(os.path.dirname(onnxruntime.__file__))",
                ])
                .output()
                .ok()?;
            let dir = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim()).join("capi");
            std::fs::read_dir(&dir)
                .ok()?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("libonnxruntime.so."))
                })
        })?;
    ort::init_from(&path).ok()?.build().ok()
}

fn ort_mlp(env: &ort::environment::Environment, layers: &[Linear], folded: bool) -> OrtMlp {
    let bytes = mlp_to_onnx(layers, folded);
    let build = || -> ort::Result<ort::session::Session> {
        let mut b =
            ort::session::Session::builder(env)?.with_intra_threads(rayon::current_num_threads())?;
        b.commit_from_memory(&bytes)
    };
    let session = build().expect("session");
    OrtMlp::new(session, "h", "raw", layers[0].inputs, 4)
}

fn field_eval(c: &mut Criterion) {
    let mlp = Arc::new(real_size_mlp());
    let planes = triplane();
    let n = 1 << 16;
    let pts = points(n);
    let mut out = vec![0.0f32; n];
    let mut fields: Vec<(&str, TriplaneField)> = vec![
        (
            "plain_rust",
            TriplaneField::plain(planes.clone(), MlpExec::Rust(mlp.clone())),
        ),
        (
            "folded_rust",
            TriplaneField::folded(&planes, &mlp.layers()[0], MlpExec::Rust(mlp.clone()))
                .expect("fold"),
        ),
    ];
    match ort_env() {
        Some(env) => {
            let full = Arc::new(ort_mlp(&env, mlp.layers(), false));
            let tail = Arc::new(ort_mlp(&env, &mlp.layers()[1..], true));
            fields.push((
                "plain_ort",
                TriplaneField::plain(planes.clone(), MlpExec::Ort(full)),
            ));
            fields.push((
                "folded_ort",
                TriplaneField::folded(&planes, &mlp.layers()[0], MlpExec::Ort(tail)).expect("fold"),
            ));
        }
        None => eprintln!("ONNX Runtime not found: ORT cases skipped"),
    }
    let mut group = c.benchmark_group("triposr_field_eval");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(10);
    for (name, field) in &mut fields {
        group.bench_with_input(BenchmarkId::new(*name, n), &pts, |b, p| {
            b.iter(|| field.eval_scalar(p, &mut out).expect("eval"));
        });
    }
    group.finish();

    // Folding itself (once per picture).
    let mut group = c.benchmark_group("triposr_fold");
    group.sample_size(10);
    group.bench_function("fold_first_layer_3x64x64", |b| {
        b.iter(|| planes.fold(&mlp.layers()[0].weight, 64).expect("fold"));
    });
    group.finish();
}

criterion_group!(benches, field_eval);
criterion_main!(benches);
