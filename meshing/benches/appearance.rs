//! The appearance stages on a ~100k-triangle marching-cubes mesh with a cheap field:
//! UV atlas, texture bake at 1024² and 2048², preview sheet; and the UV atlas of a
//! ~250k-triangle mesh of many small blobs (the noisy-blobs density), the case with
//! thousands of charts.
//! `cargo bench -p img23d-meshing --bench appearance`.
#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use criterion::{Criterion, criterion_group, criterion_main};
use img23d_meshing::atlas::{AtlasOptions, build_atlas};
use img23d_meshing::bake::{BakeOptions, bake_texture};
use img23d_meshing::extract::test_fields::NoisyBlobs;
use img23d_meshing::extract::{ExtractOptions, extract};
use img23d_meshing::field::analytic::SphereSdf;
use img23d_meshing::render::{PreviewOptions, render_preview};
use img23d_meshing::{Asset, Material};

fn bench(c: &mut Criterion) {
    let field = SphereSdf::new(0.8);
    let mut mesh = extract(
        &field,
        &ExtractOptions {
            resolution: 150,
            ..ExtractOptions::default()
        },
    )
    .expect("the test field has a surface")
    .mesh;
    mesh.compute_normals();
    eprintln!("mesh: {} triangles", mesh.triangle_count());

    let mut g = c.benchmark_group("appearance");
    g.sample_size(10);
    g.bench_function("atlas/1024", |b| {
        b.iter(|| build_atlas(&mesh, &AtlasOptions::default()).expect("atlas"))
    });
    let atlas = build_atlas(&mesh, &AtlasOptions::default()).expect("atlas");
    eprintln!("atlas: {:?}", atlas.stats);
    for size in [1024u32, 2048] {
        g.bench_function(format!("bake/{size}"), |b| {
            b.iter(|| {
                bake_texture(
                    &atlas.mesh,
                    &field,
                    &BakeOptions {
                        size,
                        ..BakeOptions::default()
                    },
                )
                .expect("bake")
            })
        });
    }

    let mut blobs = extract(
        &NoisyBlobs::new(300, 1),
        &ExtractOptions {
            resolution: 160,
            ..ExtractOptions::default()
        },
    )
    .expect("the test field has a surface")
    .mesh;
    blobs.compute_normals();
    let blob_atlas = build_atlas(&blobs, &AtlasOptions::default()).expect("atlas");
    eprintln!(
        "noisy blobs: {} triangles, atlas: {:?}",
        blobs.triangle_count(),
        blob_atlas.stats
    );
    g.bench_function("atlas/noisy-blobs/1024", |b| {
        b.iter(|| build_atlas(&blobs, &AtlasOptions::default()).expect("atlas"))
    });

    let texture = bake_texture(&atlas.mesh, &field, &BakeOptions::default()).expect("bake");
    let asset = Asset {
        name: "bench".into(),
        mesh: atlas.mesh,
        material: Material {
            base_color_texture: Some(texture),
            ..Material::default()
        },
    };
    g.bench_function("preview/9x384", |b| {
        b.iter(|| render_preview(&asset, None, &PreviewOptions::default()).expect("preview"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
