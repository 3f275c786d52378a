//! Dense marching cubes on sampled volumes (sampling not timed).
//! `cargo bench -p img23d-meshing --bench marching_cubes`.
#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use img23d_meshing::extract::marching_cubes;
use img23d_meshing::extract::test_fields::{Gyroid, NoisyBlobs};
use img23d_meshing::field::analytic::SphereSdf;
use img23d_meshing::{Bounds, Field, Grid};

fn sample(field: &dyn Field, grid: &Grid) -> Vec<f32> {
    let [nx, ny, nz] = grid.dims;
    let pts: Vec<[f32; 3]> = (0..nx * ny * nz)
        .map(|p| grid.point(p % nx, (p / nx) % ny, p / (nx * ny)))
        .collect();
    let mut v = vec![0.0; pts.len()];
    field
        .eval_scalar(&pts, &mut v)
        .expect("analytic fields do not fail");
    v
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("marching_cubes");
    g.sample_size(10);
    let noisy = NoisyBlobs::new(300, 1);
    let fields: [(&str, &dyn Field); 3] = [
        ("sphere", &SphereSdf::new(0.6)),
        ("gyroid", &Gyroid::default()),
        ("noisy-blobs", &noisy),
    ];
    for res in [128usize, 256] {
        let grid = Grid::cubic(Bounds::cube(1.0), res);
        for (name, field) in fields {
            let values = sample(field, &grid);
            g.throughput(Throughput::Elements(values.len() as u64));
            g.bench_function(format!("{name}/{res}"), |b| {
                b.iter(|| {
                    marching_cubes(&values, &grid, field.surface()).map(|m| m.triangle_count())
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
