//! Prints the extraction statistics (evaluations, timings, mesh checks, peak memory) of
//! one analytic field at one resolution, as one JSON line. Used for BENCHMARKS.md:
//!
//! ```text
//! cargo run --release -p img23d-meshing --example extract_stats -- blobs 512 [dense|compare]
//! ```
//!
//! `compare` also runs the dense extraction and reports whether the two meshes are equal
//! (same triangles over the same vertex positions).
//!
//! Fields: `sphere`, `torus`, `blobs`, `gyroid`, `noisy-blobs`. Run one field per
//! process so that the peak resident memory (`VmHWM`) belongs to that extraction.

use anyhow::{Context, bail};
use img23d_meshing::Field;
use img23d_meshing::extract::test_fields::{Blobs, Gyroid, NoisyBlobs};
use img23d_meshing::extract::{ExtractOptions, extract};
use img23d_meshing::field::analytic::{SphereSdf, TorusSdf};
use img23d_meshing::topology::analyze;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args
        .first()
        .context("usage: extract_stats FIELD RESOLUTION [dense]")?;
    let resolution: usize = args.get(1).context("missing RESOLUTION")?.parse()?;
    let dense = args.get(2).is_some_and(|a| a == "dense");
    let compare = args.get(2).is_some_and(|a| a == "compare");
    let field: Box<dyn Field> = match name.as_str() {
        "sphere" => Box::new(SphereSdf::new(0.6)),
        "torus" => Box::new(TorusSdf::new(0.55, 0.2)),
        "blobs" => Box::new(Blobs),
        "gyroid" => Box::new(Gyroid::default()),
        "noisy-blobs" => Box::new(NoisyBlobs::new(300, 1)),
        other => bail!("unknown field {other}"),
    };
    let options = ExtractOptions {
        resolution,
        dense,
        ..ExtractOptions::default()
    };
    let e = extract(field.as_ref(), &options)?;
    let topo = analyze(&e.mesh);
    let peak_kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    let equal_to_dense = if compare {
        let d = extract(
            field.as_ref(),
            &ExtractOptions {
                dense: true,
                ..options.clone()
            },
        )?;
        Some(canonical(&d.mesh) == canonical(&e.mesh))
    } else {
        None
    };
    let line = serde_json::json!({
        "equal_to_dense": equal_to_dense,
        "field": name,
        "stats": e.stats,
        "closed_manifold": topo.is_closed_manifold(),
        "euler": topo.euler_characteristic(),
        "components": topo.components,
        "peak_rss_mib": peak_kib as f64 / 1024.0,
    });
    println!("{line}");
    Ok(())
}

/// Triangles as sorted position triples, each rotated to start at its smallest corner.
fn canonical(mesh: &img23d_meshing::Mesh) -> Vec<[[u32; 3]; 3]> {
    let mut out: Vec<[[u32; 3]; 3]> = mesh
        .triangles
        .iter()
        .map(|t| {
            let p = t.map(|i| mesh.positions[i as usize].map(f32::to_bits));
            let r = (0..3).min_by_key(|&k| p[k]).unwrap_or(0);
            [p[r], p[(r + 1) % 3], p[(r + 2) % 3]]
        })
        .collect();
    out.sort_unstable();
    out
}
