//! `img23d mesh VOLUME.npy --iso V -o OUT.{glb,ply,obj}`: isosurface any volume.
//!
//! Reads a float32/float64 C-order `.npy` of shape `(nz, ny, nx)` (x fastest), samples it
//! on grid vertices over `--bounds` (ends included), runs marching cubes
//! ([`img23d_meshing::extract::marching_cubes`]), optionally removes small components,
//! smooths and simplifies, computes normals and writes the mesh. A `report.json` beside
//! the output (or at `--report`) gives the counts, checks and each stage's time, with the
//! marching-cubes time alone (`mc_ms`) beside the total; `--timings` prints the same
//! times as `NAME_ms=VALUE` lines.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::ValueEnum;
use img23d_meshing::cleanup::{
    ComponentOptions, KeepComponents, TaubinOptions, remove_small_components, taubin_smooth,
};
use img23d_meshing::export::{GlbOptions, write_glb, write_obj, write_ply};
use img23d_meshing::extract::marching_cubes_with_limits;
use img23d_meshing::simplify::{SimplifyOptions, SimplifyReport, simplify_with_report};
use img23d_meshing::topology::analyze;
use img23d_meshing::{Asset, Bounds, Grid, Inside, Limits, Surface};

use crate::{Error, Result};

/// Arguments of `img23d mesh`.
#[derive(Debug, Clone, clap::Args)]
pub struct MeshArgs {
    /// The volume: a float32 or float64 .npy in C order, shape (nz, ny, nx), x fastest,
    /// sampled on grid vertices over --bounds.
    #[arg(value_name = "VOLUME")]
    pub volume: PathBuf,

    /// The iso level of the surface.
    #[arg(long, value_name = "V", allow_negative_numbers = true)]
    pub iso: f32,

    /// Which side of the level is inside: above (densities, occupancies) or below
    /// (signed distance fields).
    #[arg(long, value_enum, default_value_t = InsideArg::Above)]
    pub inside: InsideArg,

    /// The box the volume spans, as xmin,ymin,zmin,xmax,ymax,zmax: the first and last
    /// samples of each axis sit on its faces.
    #[arg(
        long,
        value_name = "X0,Y0,Z0,X1,Y1,Z1",
        default_value = "-1,-1,-1,1,1,1",
        allow_hyphen_values = true,
        value_parser = parse_bounds
    )]
    pub bounds: Bounds,

    /// Output mesh; the extension picks the format: .glb, .ply or .obj.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,

    /// Simplify to at most this many triangles (quadric error, attributes kept).
    #[arg(long, value_name = "N")]
    pub faces: Option<usize>,

    /// Remove small disconnected pieces: keep the largest only, or all whose area is at
    /// least --min-component-fraction of the total.
    #[arg(long, value_enum, value_name = "WHICH")]
    pub keep_components: Option<KeepArg>,

    /// Area fraction under which --keep-components all-above removes a piece.
    #[arg(long, value_name = "F", default_value_t = 0.05)]
    pub min_component_fraction: f32,

    /// Taubin smoothing iterations (volume-preserving; 0 = none).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub smooth: usize,

    /// Print each stage's time as NAME_ms=VALUE, one per line.
    #[arg(long)]
    pub timings: bool,

    /// Where to write the report (default: report.json beside the output).
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,

    /// Print nothing but errors (and --timings lines).
    #[arg(short, long)]
    pub quiet: bool,
}

/// `--inside` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InsideArg {
    /// Values above the level are inside.
    Above,
    /// Values below the level are inside.
    Below,
}

/// `--keep-components` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeepArg {
    /// The largest piece only.
    Largest,
    /// Every piece above --min-component-fraction of the area.
    AllAbove,
}

/// The output formats, from the file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MeshFormat {
    Glb,
    Ply,
    Obj,
}

fn parse_bounds(s: &str) -> std::result::Result<Bounds, String> {
    let v: Vec<f32> = s
        .split(',')
        .map(|t| t.trim().parse::<f32>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| format!("{e} (expected six numbers xmin,ymin,zmin,xmax,ymax,zmax)"))?;
    let [x0, y0, z0, x1, y1, z1] = v[..] else {
        return Err(format!(
            "expected six numbers xmin,ymin,zmin,xmax,ymax,zmax, got {}",
            v.len()
        ));
    };
    let b = Bounds {
        min: [x0, y0, z0],
        max: [x1, y1, z1],
    };
    if !b.is_valid() {
        return Err("each max must be finite and greater than its min".into());
    }
    Ok(b)
}

/// Stage timings in milliseconds, in the order they ran.
#[derive(Debug, Default)]
struct Timings(Vec<(&'static str, f64)>);

impl Timings {
    fn time<T>(&mut self, name: &'static str, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        self.0.push((name, start.elapsed().as_secs_f64() * 1e3));
        out
    }
    fn get(&self, name: &str) -> f64 {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0.0, |(_, v)| *v)
    }
}

/// Runs `img23d mesh`.
pub fn run(args: &MeshArgs) -> Result<()> {
    let total_start = Instant::now();
    let mut timings = Timings::default();
    let format = match args
        .output
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("glb") => MeshFormat::Glb,
        Some("ply") => MeshFormat::Ply,
        Some("obj") => MeshFormat::Obj,
        _ => {
            return Err(Error::InvalidArgument {
                name: "--output",
                expected: "a file name ending in .glb, .ply or .obj".into(),
                got: args.output.display().to_string(),
            });
        }
    };
    if !args.iso.is_finite() {
        return Err(Error::InvalidArgument {
            name: "--iso",
            expected: "a finite number".into(),
            got: args.iso.to_string(),
        });
    }
    if !(0.0..=1.0).contains(&args.min_component_fraction) {
        return Err(Error::InvalidArgument {
            name: "--min-component-fraction",
            expected: "a number in [0, 1]".into(),
            got: args.min_component_fraction.to_string(),
        });
    }
    if args.faces == Some(0) {
        return Err(Error::InvalidArgument {
            name: "--faces",
            expected: "at least 1".into(),
            got: "0".into(),
        });
    }
    let limits = Limits::default();
    let path = args.volume.as_path();
    let stage = |stage: &'static str| {
        move |source: img23d_meshing::Error| Error::Stage {
            stage,
            source,
            path: path.to_path_buf(),
        }
    };

    let array = timings.time("load", || img23d_meshing::npy::read_npy(path))?;
    let dims = match array.shape[..] {
        [nz, ny, nx] if nx >= 2 && ny >= 2 && nz >= 2 => [nx, ny, nz],
        _ => {
            return Err(Error::BadVolume {
                expected: "a 3-D array of shape (nz, ny, nx) with at least 2 samples per axis"
                    .into(),
                got: format!("shape {:?}", array.shape),
                path: path.to_path_buf(),
            });
        }
    };
    for d in dims {
        limits.check_grid_resolution(d).map_err(stage("loading"))?;
    }
    let grid = Grid {
        bounds: args.bounds,
        dims,
    };
    let surface = Surface {
        level: args.iso,
        inside: match args.inside {
            InsideArg::Above => Inside::Above,
            InsideArg::Below => Inside::Below,
        },
    };
    let mut mesh = timings
        .time("mc", || {
            marching_cubes_with_limits(&array.data, &grid, surface, &limits)
        })
        .map_err(stage("marching cubes"))?;
    drop(array);
    let mc_triangles = mesh.triangle_count();

    if let Some(keep) = args.keep_components {
        let options = ComponentOptions {
            min_fraction: args.min_component_fraction,
            keep: match keep {
                KeepArg::Largest => KeepComponents::Largest,
                KeepArg::AllAbove => KeepComponents::AllAbove,
            },
        };
        mesh = timings
            .time("components", || remove_small_components(&mesh, &options))
            .map_err(stage("component cleanup"))?;
    }
    if args.smooth > 0 {
        let options = TaubinOptions {
            iterations: args.smooth,
            ..TaubinOptions::default()
        };
        timings
            .time("smooth", || taubin_smooth(&mut mesh, &options))
            .map_err(stage("smoothing"))?;
    }
    let mut simplify_report: Option<SimplifyReport> = None;
    if let Some(faces) = args.faces {
        let options = SimplifyOptions {
            target_triangles: faces,
            ..SimplifyOptions::default()
        };
        let (simplified, report) = timings
            .time("simplify", || simplify_with_report(&mesh, &options))
            .map_err(stage("simplification"))?;
        mesh = simplified;
        simplify_report = Some(report);
    }
    timings.time("normals", || mesh.compute_normals());
    mesh.validate()
        .map_err(|e| stage("meshing")(img23d_meshing::Error::InvalidMesh(e)))?;
    let topology = timings.time("check", || analyze(&mesh));

    let name = args
        .output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "mesh".into());
    let out = args.output.as_path();
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| Error::OutputFolder {
            source,
            path: dir.to_path_buf(),
        })?;
    }
    // Export errors already name the file.
    let export_err = Error::Meshing;
    timings.time("write", || -> Result<()> {
        match format {
            MeshFormat::Ply => write_ply(out, &mesh).map_err(export_err),
            MeshFormat::Glb | MeshFormat::Obj => {
                let asset = Asset {
                    name: name.clone(),
                    mesh: std::mem::take(&mut mesh),
                    ..Asset::default()
                };
                let r = match format {
                    MeshFormat::Glb => write_glb(out, &asset, &GlbOptions::default()),
                    _ => write_obj(out, &asset).map(|_| ()),
                };
                mesh = asset.mesh;
                r.map_err(export_err)
            }
        }
    })?;
    let total_ms = total_start.elapsed().as_secs_f64() * 1e3;

    let report_path = args
        .report
        .clone()
        .unwrap_or_else(|| default_report_path(out));
    let stage_ms: serde_json::Map<String, serde_json::Value> = timings
        .0
        .iter()
        .map(|(n, v)| ((*n).to_string(), serde_json::json!(v)))
        .collect();
    let report = serde_json::json!({
        "command": "mesh",
        "input": path,
        "output": out,
        "volume": {
            "shape": [dims[2], dims[1], dims[0]],
            "bounds": args.bounds,
            "iso": args.iso,
            "inside": surface.inside,
        },
        "mesh": {
            "vertices": mesh.vertex_count(),
            "triangles": mesh.triangle_count(),
            "marching_cubes_triangles": mc_triangles,
            "closed_manifold": topology.is_closed_manifold(),
            "components": topology.components,
            "euler_characteristic": topology.euler_characteristic(),
            "topology": topology,
        },
        "simplify": simplify_report,
        "mc_ms": timings.get("mc"),
        "total_ms": total_ms,
        "stages_ms": stage_ms,
    });
    let text = serde_json::to_string_pretty(&report).map_err(|e| Error::Stage {
        stage: "report",
        source: img23d_meshing::Error::Json(e),
        path: report_path.clone(),
    })?;
    img23d_meshing::io::write_bytes_atomic(&report_path, text.as_bytes())?;

    if args.timings {
        for (n, v) in &timings.0 {
            println!("{n}_ms={v:.3}");
        }
        println!("total_ms={total_ms:.3}");
    }
    if !args.quiet {
        eprintln!(
            "wrote {} ({} vertices, {} triangles, {}; marching cubes {:.1} ms, total {:.1} ms)",
            out.display(),
            mesh.vertex_count(),
            mesh.triangle_count(),
            if topology.is_closed_manifold() {
                "closed 2-manifold"
            } else {
                "not closed"
            },
            timings.get("mc"),
            total_ms
        );
    }
    Ok(())
}

/// `report.json` in the output's folder.
fn default_report_path(output: &Path) -> PathBuf {
    output.with_file_name("report.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_parse() {
        let b = parse_bounds("-1,-2,-3,1,2,3").unwrap();
        assert_eq!(b.min, [-1.0, -2.0, -3.0]);
        assert_eq!(b.max, [1.0, 2.0, 3.0]);
        assert!(parse_bounds("0,0,0,1,1").is_err());
        assert!(parse_bounds("0,0,0,1,1,x").is_err());
        assert!(parse_bounds("1,0,0,0,1,1").is_err());
    }
}
