//! Coarse-to-fine extraction against dense extraction (field evaluation + marching cubes)
//! on analytic fields. `cargo bench -p img23d-meshing --bench extract`.
#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use criterion::{Criterion, criterion_group, criterion_main};
use img23d_meshing::Field;
use img23d_meshing::extract::test_fields::{Blobs, Gyroid};
use img23d_meshing::extract::{ExtractOptions, extract};
use img23d_meshing::field::analytic::SphereSdf;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("extract");
    g.sample_size(10);
    let fields: [(&str, &dyn Field); 3] = [
        ("sphere", &SphereSdf::new(0.6)),
        ("blobs", &Blobs),
        ("gyroid", &Gyroid::default()),
    ];
    for (name, field) in fields {
        for (res, dense) in [(128, true), (128, false), (256, false)] {
            let opts = ExtractOptions {
                resolution: res,
                dense,
                ..ExtractOptions::default()
            };
            let mode = if dense { "dense" } else { "coarse-to-fine" };
            g.bench_function(format!("{name}/{res}/{mode}"), |b| {
                b.iter(|| extract(field, &opts).map(|e| e.mesh.triangle_count()))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
