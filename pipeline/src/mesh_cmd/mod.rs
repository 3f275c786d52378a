//! `img23d mesh VOLUME.npy --iso V -o OUT.{glb,ply,obj}`: isosurface any volume.
//!
//! Reads a float32/float64 C-order `.npy` of shape `(nz, ny, nx)` (x fastest), samples it
//! on grid vertices over `--bounds` (ends included), runs marching cubes
//! ([`img23d_meshing::extract::marching_cubes`]), optionally removes small components,
//! smooths and simplifies, computes normals and writes the mesh. `<stem>.report.json`
//! beside the output (or `--report PATH`; [`crate::report::MeshReport`]) gives the
//! counts, checks and each stage's time (the marching-cubes time alone is the `mc`
//! stage); `--timings` prints the same times as `NAME_ms=VALUE` lines.
//!
//! ```text
//! load ─ mc ─ [components] ─ [smooth] ─ [simplify] ─ normals ─ check ─ write ─ report
//! ```

mod config;

use img23d_meshing::cleanup::{
    ComponentOptions, TaubinOptions, remove_small_components, taubin_smooth,
};
use img23d_meshing::export::{GlbOptions, write_glb, write_obj, write_ply};
use img23d_meshing::extract::marching_cubes_with_limits;
use img23d_meshing::npy::NpyArray;
use img23d_meshing::simplify::{SimplifyOptions, SimplifyReport, simplify_with_report};
use img23d_meshing::topology::{TopologyReport, analyze};
use img23d_meshing::{Asset, Grid, Mesh, Surface};

pub use config::MeshConfig;

use std::path::{Path, PathBuf};

use crate::output::{Format, folder_of, remove_leftovers, staged};
use crate::report::{Header, MeshCounts, MeshReport, VolumeSummary};
use crate::stage::{Silent, Stages};
use crate::{Error, Result};

/// Runs `img23d mesh`: its stages, in order.
pub fn run(config: &MeshConfig) -> Result<()> {
    let input = config.volume.as_path();
    let mut silent = Silent;
    let mut stages = Stages::new(input, &mut silent);
    let s = &mut stages;
    let array = s.run(
        "load",
        || Ok(img23d_meshing::npy::read_npy(input)?),
        |_| String::new(),
    )?;
    let grid = grid_of(config, &array)?;
    let surface = Surface {
        level: config.iso,
        inside: config.inside,
    };
    let mut mesh = s.run(
        "mc",
        || {
            marching_cubes_with_limits(&array.data, &grid, surface, &config.limits)
                .map_err(Error::stage("marching cubes", input))
        },
        |_| String::new(),
    )?;
    drop(array);
    let marching_cubes_triangles = mesh.triangle_count();
    let simplify = cleanup(s, config, &mut mesh)?;
    s.run(
        "normals",
        || {
            mesh.compute_normals();
            Ok(())
        },
        |_| String::new(),
    )?;
    mesh.validate()
        .map_err(|e| Error::stage("meshing", input)(img23d_meshing::Error::InvalidMesh(e)))?;
    let topology = s.run("check", || Ok(analyze(&mesh)), |_| String::new())?;
    let out = config.output.as_path();
    let (report, _) = staged(&output_folder(out)?, |staging| {
        let staged_out = staging.path(out)?;
        let s = &mut stages;
        s.run(
            "write",
            || write_mesh(config, &staged_out, &mut mesh),
            |_| String::new(),
        )?;
        let output = staging.add(config.format()?.extension(), &staged_out);
        let report = MeshReport {
            header: Header::new("img23d mesh"),
            input: input.to_path_buf(),
            volume: VolumeSummary {
                shape: [grid.dims[2], grid.dims[1], grid.dims[0]],
                bounds: config.bounds,
                iso: config.iso,
                inside: config.inside,
            },
            mesh: counts(&mesh, marching_cubes_triangles, topology),
            simplify,
            outputs: vec![output],
            timings: stages.finish(),
        };
        staging.report(&config.report_path(), &report)?;
        Ok(report)
    })?;
    print_summary(config, &report);
    Ok(())
}

/// The sampling grid of the volume: its shape checked (at least 2 samples per axis,
/// within the limits) and spread over `--bounds`.
fn grid_of(config: &MeshConfig, array: &NpyArray) -> Result<Grid> {
    let path = config.volume.as_path();
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
        config
            .limits
            .check_grid_resolution(d)
            .map_err(Error::stage("loading", path))?;
    }
    Ok(Grid {
        bounds: config.bounds,
        dims,
    })
}

/// `components`, `smooth` and `simplify`, each when asked for.
fn cleanup(
    stages: &mut Stages,
    config: &MeshConfig,
    mesh: &mut Mesh,
) -> Result<Option<SimplifyReport>> {
    let input = config.volume.as_path();
    if let Some(keep) = config.keep_components {
        let options = ComponentOptions {
            min_fraction: config.min_component_fraction,
            keep,
        };
        *mesh = stages.run(
            "components",
            || {
                remove_small_components(mesh, &options)
                    .map_err(Error::stage("component cleanup", input))
            },
            |_| String::new(),
        )?;
    }
    if config.smooth > 0 {
        let options = TaubinOptions {
            iterations: config.smooth,
            ..TaubinOptions::default()
        };
        stages.run(
            "smooth",
            || taubin_smooth(mesh, &options).map_err(Error::stage("smoothing", input)),
            |_| String::new(),
        )?;
    }
    let Some(faces) = config.faces else {
        return Ok(None);
    };
    let options = SimplifyOptions {
        target_triangles: faces,
        ..SimplifyOptions::default()
    };
    let (simplified, report) = stages.run(
        "simplify",
        || simplify_with_report(mesh, &options).map_err(Error::stage("simplification", input)),
        |_| String::new(),
    )?;
    *mesh = simplified;
    Ok(Some(report))
}

/// The folder of `out`, created when missing, with what killed runs left there removed.
fn output_folder(out: &Path) -> Result<PathBuf> {
    let dir = folder_of(out);
    std::fs::create_dir_all(dir).map_err(|source| Error::OutputFolder {
        source,
        path: dir.to_path_buf(),
    })?;
    remove_leftovers(dir);
    Ok(dir.to_path_buf())
}

/// `write`: the mesh in the output's format, at `out` (its staged path).
fn write_mesh(config: &MeshConfig, out: &Path, mesh: &mut Mesh) -> Result<()> {
    // Export errors already name the file.
    let format = config.format()?;
    if format == Format::Ply {
        return write_ply(out, mesh).map_err(Error::Meshing);
    }
    let asset = Asset {
        name: config.name(),
        mesh: std::mem::take(mesh),
        ..Asset::default()
    };
    let written = match format {
        Format::Glb => write_glb(out, &asset, &GlbOptions::default()),
        _ => write_obj(out, &asset).map(|_| ()),
    };
    *mesh = asset.mesh;
    written.map_err(Error::Meshing)
}

fn counts(mesh: &Mesh, marching_cubes_triangles: usize, topology: TopologyReport) -> MeshCounts {
    MeshCounts {
        vertices: mesh.vertex_count(),
        triangles: mesh.triangle_count(),
        marching_cubes_triangles,
        closed_manifold: topology.is_closed_manifold(),
        components: topology.components,
        euler_characteristic: topology.euler_characteristic(),
        topology,
    }
}

/// `--timings` lines on stdout, then (unless `--quiet`) one line on stderr.
fn print_summary(config: &MeshConfig, report: &MeshReport) {
    let t = &report.timings;
    if config.timings {
        for stage in &t.stages {
            println!("{}_ms={:.3}", stage.name, stage.ms);
        }
        println!("total_ms={:.3}", t.total_ms);
    }
    if !config.quiet {
        let m = &report.mesh;
        eprintln!(
            "wrote {} ({} vertices, {} triangles, {}; marching cubes {:.1} ms, total {:.1} ms)",
            config.output.display(),
            m.vertices,
            m.triangles,
            if m.closed_manifold {
                "closed 2-manifold"
            } else {
                "not closed"
            },
            t.ms("mc"),
            t.total_ms
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn two_meshes_in_one_folder_keep_their_own_reports() {
        let dir = tempfile::tempdir().unwrap();
        let n = 6;
        let c = |i: usize| -1.0 + 2.0 * i as f32 / (n - 1) as f32;
        let mut ball = Vec::new();
        for k in 0..n {
            for j in 0..n {
                for i in 0..n {
                    ball.push(c(i) * c(i) + c(j) * c(j) + c(k) * c(k));
                }
            }
        }
        let volume = dir.path().join("ball.npy");
        img23d_meshing::npy::write_npy_f32(&volume, &[n, n, n], &ball).unwrap();
        let run_to = |name: &str| {
            let config = MeshConfig {
                inside: img23d_meshing::Inside::Below,
                quiet: true,
                ..MeshConfig::new(&volume, 0.5, dir.path().join(name))
            };
            run(&config).unwrap();
            config.report_path()
        };
        let a: PathBuf = run_to("a.glb");
        let b = run_to("b.ply");
        assert_ne!(a, b);
        for (report, mesh) in [(a, "a.glb"), (b, "b.ply")] {
            let json: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
            assert_eq!(json["command"], "img23d mesh");
            assert_eq!(json["schema_version"], crate::report::SCHEMA_VERSION);
            let out = json["outputs"][0]["path"].as_str().unwrap();
            assert!(out.ends_with(mesh), "{out}");
        }
    }
}
