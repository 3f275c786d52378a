//! The whole main job on `examples/chair.png` at default settings (256^3 grid, GLB),
//! in process: load, foreground, inflation, extraction, geometry, colors, export,
//! report. Target: under 1.5 s wall on the 2-core development machine.
//!
//!     cargo bench --bench run
//!
//! The time of the command itself (process start included) is measured with
//! `time target/release/img23d examples/chair.png -o out/` (see README).
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use img23d::run::{RunConfig, run_image};
use img23d::stage::Silent;

fn whole_command(c: &mut Criterion) {
    let chair = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/chair.png");
    let out = tempfile::tempdir().expect("temporary folder");
    let config = RunConfig {
        images: vec![chair.clone()],
        output_dir: out.path().to_path_buf(),
        ..RunConfig::default()
    };
    let mut group = c.benchmark_group("img23d");
    group.sample_size(10);
    group.measurement_time(std::time::Duration::from_secs(20));
    group.bench_function("chair.png defaults (256^3, glb)", |b| {
        b.iter(|| run_image(&config, &chair, &mut Silent).expect("the run succeeds"))
    });
    group.finish();
}

criterion_group!(benches, whole_command);
criterion_main!(benches);
