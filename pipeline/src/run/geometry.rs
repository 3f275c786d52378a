//! The mesh's stages: `extraction` (coarse-to-fine marching cubes of the field) and
//! `geometry` (floaters removed; the field is in glTF's frame already, so the mesh is
//! scaled to the requested height, stood on y = 0, and given normals).

use std::path::Path;

use img23d_meshing::cleanup::{ComponentOptions, KeepComponents, remove_small_components};
use img23d_meshing::convert_coordinates::{Transform, fit_to_height};
use img23d_meshing::extract::{ExtractOptions, Extraction, extract};
use img23d_meshing::{Field, Mesh};

use crate::stage::Stages;
use crate::{Error, Result};

use super::RunConfig;

/// Pieces of the mesh smaller than this fraction of its area are floaters and removed.
const FLOATER_FRACTION: f32 = 0.002;

/// The mesh in the output frame.
pub(super) struct Shaped {
    /// Welded, with normals, `--height` tall, standing on y = 0.
    pub mesh: Mesh,
    /// The map from the field's frame to the output frame.
    pub to_output: Transform,
    /// Triangles of floaters removed.
    pub floaters_removed: usize,
}

/// `extraction`: the field's surface as a mesh in the field's frame.
pub(super) fn extraction(
    stages: &mut Stages,
    config: &RunConfig,
    field: &dyn Field,
    input: &Path,
) -> Result<Extraction> {
    stages.run(
        "extraction",
        || {
            let options = ExtractOptions {
                resolution: config.resolution,
                limits: config.limits,
                ..ExtractOptions::default()
            };
            extract(field, &options).map_err(Error::stage("extraction", input))
        },
        |e| {
            format!(
                "{r}^3 grid, {:.1}% of it evaluated, {} vertices, {} triangles",
                e.stats.evaluation_fraction * 100.0,
                e.mesh.vertex_count(),
                e.mesh.triangle_count(),
                r = e.stats.resolution
            )
        },
    )
}

/// `geometry`: drops floaters (specks of thin parts the grid barely resolved), then fits
/// the mesh to `--height` and computes normals.
pub(super) fn geometry(
    stages: &mut Stages,
    config: &RunConfig,
    mesh: Mesh,
    input: &Path,
) -> Result<Shaped> {
    stages.run(
        "geometry",
        || {
            let failed = || Error::stage("geometry", input);
            let before = mesh.triangle_count();
            let mut mesh = remove_small_components(
                &mesh,
                &ComponentOptions {
                    min_fraction: FLOATER_FRACTION,
                    keep: KeepComponents::AllAbove,
                },
            )
            .map_err(failed())?;
            let floaters_removed = before - mesh.triangle_count();
            let bbox = mesh
                .bounding_box()
                .ok_or_else(|| failed()(img23d_meshing::Error::NoSurface { level: 0.0 }))?;
            let to_output = fit_to_height(bbox, config.height).ok_or_else(|| {
                failed()(img23d_meshing::Error::invalid_parameter(
                    "mesh height",
                    "a mesh with some height",
                    format!("{bbox:?}"),
                ))
            })?;
            to_output.apply_to_mesh(&mut mesh);
            mesh.compute_normals();
            mesh.validate().map_err(|e| failed()(e.into()))?;
            Ok(Shaped {
                mesh,
                to_output,
                floaters_removed,
            })
        },
        |s| {
            format!(
                "{} m tall, +Y up, facing +Z; {} triangles of floaters removed",
                config.height, s.floaters_removed
            )
        },
    )
}
