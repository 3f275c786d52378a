//! How the asset looks: `appearance` (vertex colors from the field, queried in the output
//! frame; the PLY keeps them), then, unless `--texture-size 0`, `atlas` (UV charts, seams
//! split) and `bake` (the same field's color into the texture), and the material around
//! it (see [`crate::appearance`]).

use std::path::Path;

use img23d_meshing::atlas::AtlasStats;
use img23d_meshing::bake::BakeStats;
use img23d_meshing::extract::color_vertices;
use img23d_meshing::field::TransformedField;
use img23d_meshing::{Asset, Field, Mesh};

use crate::appearance::{self, textured_material};
use crate::output::output_stem;
use crate::stage::Stages;
use crate::{Error, Result};

use super::RunConfig;
use super::geometry::Shaped;

/// The asset and the welded mesh it came from.
pub(super) struct Dressed {
    /// The asset the GLB and OBJ hold: split along UV seams when textured.
    pub asset: Asset,
    /// The welded, vertex-colored mesh when the asset is textured (without a texture the
    /// asset's mesh is the welded one).
    welded: Option<Mesh>,
    /// The atlas and bake figures, when textured.
    pub texture: Option<(AtlasStats, BakeStats)>,
}

impl Dressed {
    /// The welded, vertex-colored mesh: what the PLY holds and the mesh figures describe.
    pub fn welded(&self) -> &Mesh {
        self.welded.as_ref().unwrap_or(&self.asset.mesh)
    }

    /// `texture` or `vertex`.
    pub fn kind(&self) -> &'static str {
        if self.texture.is_some() {
            "texture"
        } else {
            "vertex"
        }
    }
}

/// `appearance`, `atlas` and `bake`: colors the mesh from `field` (in the field's
/// frame; `shaped.to_output` maps it to the mesh's) and makes the asset.
pub(super) fn dress(
    stages: &mut Stages,
    config: &RunConfig,
    field: &dyn Field,
    color_source: &str,
    shaped: Shaped,
    input: &Path,
) -> Result<Dressed> {
    let to_output = shaped.to_output;
    let output_field = TransformedField::new(field, to_output).ok_or_else(|| {
        Error::stage("appearance", input)(img23d_meshing::Error::invalid_parameter(
            "output transform",
            "an invertible transform",
            format!("{to_output:?}"),
        ))
    })?;
    let mut mesh = shaped.mesh;
    stages.run(
        "appearance",
        || color_vertices(&mut mesh, &output_field).map_err(Error::stage("appearance", input)),
        |_| format!("vertex colors from {color_source}"),
    )?;
    let name = output_stem(input)?;
    let size = config.texture_size;
    if size == 0 {
        return Ok(Dressed {
            asset: Asset {
                name,
                mesh,
                material: textured_material(None, config.metallic, config.roughness),
            },
            welded: None,
            texture: None,
        });
    }
    let atlas = stages.run(
        "atlas",
        || appearance::atlas(&mesh, size, config.limits).map_err(Error::stage("atlas", input)),
        |a| {
            format!(
                "{} charts, {:.0}% of the {size}x{size} texture used, stretch {:.3}, \
                 {} vertices after splitting seams",
                a.stats.charts,
                a.stats.utilisation * 100.0,
                a.stats.stretch_l2,
                a.stats.output_vertices
            )
        },
    )?;
    let textured = stages.run(
        "bake",
        || {
            appearance::bake(atlas, &output_field, size, config.limits)
                .map_err(Error::stage("bake", input))
        },
        |t| {
            format!(
                "{size}x{size} base color from {color_source}: {} texels evaluated, \
                 {} filled past chart borders",
                t.bake.covered_texels, t.bake.filled_texels
            )
        },
    )?;
    Ok(Dressed {
        asset: Asset {
            name,
            mesh: textured.mesh,
            material: textured_material(Some(textured.texture), config.metallic, config.roughness),
        },
        welded: Some(mesh),
        texture: Some((textured.atlas, textured.bake)),
    })
}
