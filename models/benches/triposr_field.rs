//! TripoSR field evaluation throughput and 256³ extraction time on the CPU, with a
//! decoder of TripoSR's real sizes (triplane 3 × 40 × 64 × 64; MLP 120→64, 8 × 64→64
//! SiLU, 64→4) and fixed weights (`triposr::synthetic`, a bumpy sphere): plain sampling
//! (120 features + full MLP) against the folded first layer (3 × 64 folded channels +
//! the 9 remaining layers), with the MLP in Rust and in ONNX Runtime (CPU execution
//! provider, generated graph).
//!
//! `cargo bench -p img23d-models --bench triposr_field`
//! (ONNX Runtime found as `img23d_models::runtime` finds it; the ORT cases are skipped,
//! with a note, without it).

#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use img23d_meshing::Field;
use img23d_meshing::extract::{ExtractOptions, extract};
use img23d_models::triposr::decoder::{OrtMlp, mlp_to_onnx};
use img23d_models::triposr::mlp::Linear;
use img23d_models::triposr::synthetic;
use img23d_models::triposr::{MlpExec, TriplaneField};
use img23d_models::{Device, RuntimeOptions};

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

fn ort_mlp(layers: &[Linear], folded: bool) -> Option<OrtMlp> {
    let opts = RuntimeOptions::default()
        .with_device(Device::Cpu)
        .with_intra_threads(rayon::current_num_threads());
    match OrtMlp::from_bytes(&mlp_to_onnx(layers, folded), layers[0].inputs, &opts) {
        Ok(m) => Some(m),
        Err(e) => {
            eprintln!("ONNX Runtime cases skipped: {e}");
            None
        }
    }
}

fn field_eval(c: &mut Criterion) {
    let mlp = Arc::new(synthetic::mlp());
    let planes = synthetic::triplane();
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
    if let (Some(full), Some(tail)) = (
        ort_mlp(mlp.layers(), false),
        ort_mlp(&mlp.layers()[1..], true),
    ) {
        fields.push((
            "plain_ort",
            TriplaneField::plain(planes.clone(), MlpExec::Ort(Arc::new(full))),
        ));
        fields.push((
            "folded_ort",
            TriplaneField::folded(&planes, &mlp.layers()[0], MlpExec::Ort(Arc::new(tail)))
                .expect("fold"),
        ));
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

    // Coarse-to-fine extraction at 256^3 through each path.
    let mut group = c.benchmark_group("triposr_extract_256");
    group.sample_size(10);
    for (name, field) in &fields {
        let opts = ExtractOptions::default();
        group.bench_function(*name, |b| {
            b.iter(|| extract(field, &opts).expect("extract"));
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
