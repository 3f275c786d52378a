//! Builds a UV atlas for a binary PLY (as `img23d --format ply` or `img23d mesh` write
//! it) and prints its figures and the time taken; optionally bakes a texture from a
//! cheap position-colored field.
//!
//! `cargo run --release -p img23d-meshing --example atlas_stats -- MESH.ply [SIZE] [REPEATS]`

use std::path::Path;

use anyhow::{Context, bail};
use img23d_meshing::Mesh;
use img23d_meshing::atlas::{AtlasOptions, build_atlas};
use img23d_meshing::bake::{BakeOptions, bake_texture};
use img23d_meshing::field::analytic::SphereSdf;

fn read_ply(path: &Path) -> anyhow::Result<Mesh> {
    use ply_rs_bw::parser::Parser;
    use ply_rs_bw::ply::{DefaultElement, Property};
    let mut f = std::fs::File::open(path).with_context(|| path.display().to_string())?;
    let ply = Parser::<DefaultElement>::new()
        .read_ply(&mut f)
        .with_context(|| path.display().to_string())?;
    let float = |e: &DefaultElement, k: &str| match e.get(k) {
        Some(Property::Float(v)) => Ok(*v),
        other => bail!("{k}: {other:?}"),
    };
    let mut mesh = Mesh::default();
    for v in ply.payload.get("vertex").context("no vertices")? {
        mesh.positions
            .push([float(v, "x")?, float(v, "y")?, float(v, "z")?]);
    }
    for f in ply.payload.get("face").context("no faces")? {
        match f.get("vertex_indices") {
            Some(Property::ListUInt(l)) if l.len() == 3 => {
                mesh.triangles.push([l[0], l[1], l[2]]);
            }
            Some(Property::ListInt(l)) if l.len() == 3 => {
                mesh.triangles.push([l[0] as u32, l[1] as u32, l[2] as u32]);
            }
            other => bail!("vertex_indices: {other:?}"),
        }
    }
    Ok(mesh.with_computed_normals())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        bail!("usage: atlas_stats MESH.ply [SIZE] [REPEATS]");
    };
    let size: u32 = args.get(1).map_or(Ok(1024), |s| s.parse())?;
    let repeats: usize = args.get(2).map_or(Ok(3), |s| s.parse())?;
    let mesh = read_ply(Path::new(path))?;
    println!("mesh: {} triangles", mesh.triangle_count());
    let options = AtlasOptions {
        texture_size: size,
        ..AtlasOptions::default()
    };
    let mut times = Vec::new();
    let mut atlas = None;
    for _ in 0..repeats.max(1) {
        let t = std::time::Instant::now();
        atlas = Some(build_atlas(&mesh, &options)?);
        times.push(t.elapsed().as_secs_f64());
    }
    let atlas = atlas.context("no run")?;
    times.sort_by(f64::total_cmp);
    println!(
        "atlas: min {:.3} s, median {:.3} s",
        times[0],
        times[times.len() / 2]
    );
    println!("{:?}", atlas.stats);
    let field = SphereSdf::new(1.0);
    let t = std::time::Instant::now();
    let image = bake_texture(
        &atlas.mesh,
        &field,
        &BakeOptions {
            size,
            ..BakeOptions::default()
        },
    )?;
    println!("bake {size}: {:.3} s", t.elapsed().as_secs_f64());
    if let Some(out) = args.get(3) {
        image.save(out)?;
    }
    Ok(())
}
