//! The asset options the main job and `img23d text` share, defined once ([`AssetArgs`]):
//! output formats, the extraction grid, the foreground, the texture and the material.

use std::path::PathBuf;

use crate::Result;
use crate::neural::{BackgroundChoice, ModelChoice};
use crate::output::Format;
use crate::run::RunConfig;

use super::RuntimeArgs;

/// What the main job and `img23d text` give [`AssetArgs::to_run_config`] besides the
/// shared groups: the pictures and folder, the asset's height, the reconstruction.
#[derive(Debug, Clone)]
pub struct JobArgs {
    /// The pictures.
    pub images: Vec<PathBuf>,
    /// The output folder.
    pub output_dir: PathBuf,
    /// The asset's height in meters.
    pub height: f32,
    /// The reconstruction.
    pub model: ModelChoice,
    /// Print nothing but errors.
    pub quiet: bool,
}

/// `--format`, `--resolution`, `--foreground-ratio`, `--no-remove-bg`, `--bg`,
/// `--texture-size`, `--keep-vertex-colors`, `--metallic`, `--roughness`,
/// `--preview`/`--no-preview`: flattened by the main job and `img23d text`.
#[derive(Debug, Clone, clap::Args)]
pub struct AssetArgs {
    /// Output formats, comma separated: glb (binary glTF with normals, UVs, the baked
    /// texture and a PBR material), ply (binary little endian with normals and vertex
    /// colors), obj (with UVs, an MTL and the texture PNG). With --texture-size 0, the
    /// GLB and OBJ carry vertex colors instead of a texture.
    #[arg(
        short,
        long,
        value_name = "FORMATS",
        value_delimiter = ',',
        default_value = "glb"
    )]
    pub format: Vec<Format>,

    /// Marching-cubes grid resolution: points per axis of the extraction grid, from 8 to
    /// 1024. Higher gives finer meshes and takes longer.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub resolution: usize,

    /// Fraction of the reconstruction square the object fills after cropping to the
    /// foreground and padding (as TripoSR's resize_foreground), in (0, 1].
    #[arg(long, value_name = "RATIO", default_value_t = 0.85)]
    pub foreground_ratio: f32,

    /// Do not look for the object: treat the whole picture as the object (no alpha, no
    /// background keying).
    #[arg(long)]
    pub no_remove_bg: bool,

    /// Background removal: auto (the picture's alpha if it has transparency, else the
    /// segmentation model if installed, else weight-free keying), alpha, model, key, none
    /// (the same as --no-remove-bg).
    #[arg(long = "bg", value_enum, value_name = "HOW", default_value_t = BackgroundChoice::Auto)]
    pub bg: BackgroundChoice,

    /// Side of the square base-color texture, in texels (16 to 8192): the mesh gets a UV
    /// atlas and the reconstruction's color is baked into an embedded PNG (GLB), a PNG
    /// beside the OBJ with its MTL; the PLY keeps vertex colors. 0: vertex colors only.
    #[arg(long, value_name = "TEXELS", default_value_t = 1024)]
    pub texture_size: u32,

    /// With a texture, also write the vertex colors into the GLB as COLOR_0 (glTF
    /// multiplies them into the texture, so the asset looks darker).
    #[arg(long)]
    pub keep_vertex_colors: bool,

    /// Metalness of the PBR material, from 0 (dielectric) to 1 (metal).
    #[arg(long, value_name = "0..1", default_value_t = 0.0)]
    pub metallic: f32,

    /// Roughness of the PBR material, from 0 (mirror) to 1 (matte).
    #[arg(long, value_name = "0..1", default_value_t = 0.9)]
    pub roughness: f32,

    /// Write DIR/<stem>.preview.png: the asset from the input camera and from 8 sides
    /// around it, shaded and textured (on by default).
    #[arg(long, overrides_with = "no_preview")]
    pub preview: bool,

    /// Do not write the preview sheet.
    #[arg(long, overrides_with = "preview")]
    pub no_preview: bool,
}

impl AssetArgs {
    /// The background choice, `none` when `--no-remove-bg` is given.
    pub fn background(&self) -> BackgroundChoice {
        if self.no_remove_bg {
            BackgroundChoice::None
        } else {
            self.bg
        }
    }

    /// The formats, sorted and without repeats.
    pub fn formats(&self) -> Vec<Format> {
        let mut formats = self.format.clone();
        formats.sort();
        formats.dedup();
        formats
    }

    /// The main job's validated configuration from these options, the runtime group and
    /// the command's own (`job`).
    pub fn to_run_config(&self, job: JobArgs, runtime: &RuntimeArgs) -> Result<RunConfig> {
        let background = self.background();
        let config = RunConfig {
            images: job.images,
            output_dir: job.output_dir,
            formats: self.formats(),
            resolution: self.resolution,
            height: job.height,
            foreground_ratio: self.foreground_ratio,
            remove_background: background != BackgroundChoice::None,
            threads: runtime.threads,
            quiet: job.quiet,
            model: job.model,
            background,
            models_dir: runtime.models_dir.clone(),
            runtime: runtime.to_options()?,
            texture_size: self.texture_size,
            keep_vertex_colors: self.keep_vertex_colors,
            metallic: self.metallic,
            roughness: self.roughness,
            preview: !self.no_preview,
            ..RunConfig::default()
        };
        config.validate()?;
        Ok(config)
    }
}
