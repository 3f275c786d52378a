//! The `export` stage: every requested format, each file through
//! `img23d_meshing::io::write_atomic` into the picture's staging folder. The GLB and OBJ
//! hold the asset (textured when it has a texture); the PLY holds the welded mesh with
//! vertex colors.

use std::path::Path;

use img23d_meshing::export::{GlbOptions, write_glb, write_obj, write_ply};

use crate::report::OutputFile;
use crate::stage::Stages;
use crate::{Error, Result};

use super::RunConfig;
use super::texture::Dressed;
use crate::output::{Format, Staging};

/// `export`: writes every format into `staging`; records each file as soon as it exists.
pub(super) fn export(
    stages: &mut Stages,
    config: &RunConfig,
    dressed: &Dressed,
    input: &Path,
    staging: &mut Staging,
) -> Result<Vec<OutputFile>> {
    stages.run(
        "export",
        || write_formats(config, dressed, input, staging),
        |files| {
            files
                .iter()
                .map(|f| format!("{} ({})", f.path.display(), human_bytes(f.bytes)))
                .collect::<Vec<_>>()
                .join(", ")
        },
    )
}

fn write_formats(
    config: &RunConfig,
    dressed: &Dressed,
    input: &Path,
    staging: &mut Staging,
) -> Result<Vec<OutputFile>> {
    let glb_options = GlbOptions {
        vertex_colors_with_texture: config.keep_vertex_colors,
        ..GlbOptions::default()
    };
    let asset = &dressed.asset;
    let mut files = Vec::new();
    for &format in &config.formats {
        let target = config.output_path(input, format)?;
        let path = staging.path(&target)?;
        let mut made = vec![(format.extension().to_string(), path.clone())];
        match format {
            Format::Glb => write_glb(&path, asset, &glb_options),
            Format::Ply => write_ply(&path, dressed.welded()),
            Format::Obj => write_obj(&path, asset).map(|f| {
                made.extend(f.mtl.map(|p| ("mtl".to_string(), p)));
                made.extend(f.texture.map(|p| ("png".to_string(), p)));
            }),
        }
        .map_err(Error::stage("export", input))?;
        for (format, path) in made {
            files.push(staging.add(format, &path));
        }
        crate::fault::check(&format!("export {}", format.extension()), &target)?;
    }
    Ok(files)
}

fn human_bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MB", n as f64 / f64::from(1 << 20))
    } else {
        format!("{:.0} kB", n as f64 / 1024.0)
    }
}
