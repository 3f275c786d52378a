//! Times dense marching cubes on a `.npy` volume in-process, several runs, printing each
//! run's milliseconds (the first run includes one-time costs: table generation, thread
//! pool start). `cargo run --release -p img23d-meshing --example mc_timing -- VOL.npy
//! ISO above|below [RUNS]`.

use anyhow::Context;
use img23d_meshing::extract::marching_cubes;
use img23d_meshing::{Bounds, Grid, Inside, Surface};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .context("usage: mc_timing VOL.npy ISO above|below [RUNS]")?;
    let level: f32 = args.get(1).context("missing ISO")?.parse()?;
    let inside = match args.get(2).map(String::as_str) {
        Some("below") => Inside::Below,
        _ => Inside::Above,
    };
    let runs: usize = args.get(3).map_or(Ok(5), |r| r.parse())?;
    let a = img23d_meshing::npy::read_npy(std::path::Path::new(path))?;
    let grid = Grid {
        bounds: Bounds::cube(1.0),
        dims: [a.shape[2], a.shape[1], a.shape[0]],
    };
    let surface = Surface { level, inside };
    for _ in 0..runs {
        let t = std::time::Instant::now();
        let m = marching_cubes(&a.data, &grid, surface)?;
        println!(
            "{:.2} ms, {} triangles",
            t.elapsed().as_secs_f64() * 1e3,
            m.triangle_count()
        );
    }
    Ok(())
}
