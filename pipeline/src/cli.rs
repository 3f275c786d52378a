//! The `img23d` command line: the main job (`img23d IMAGE... -o DIR`) and its
//! subcommands. Raw clap arguments live here; each command converts them into a
//! validated configuration before doing any work (the main job through
//! [`crate::config::RunConfig::from_args`]).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::neural::{BackgroundChoice, ModelChoice};

/// img23d: turn a picture into a textured 3D asset (GLB, PLY, OBJ).
///
/// Without a subcommand, img23d reconstructs each IMAGE into a closed, colored mesh in
/// glTF's frame (+Y up, facing +Z, meters) and writes DIR/<stem>.glb (and any other
/// --format) plus DIR/<stem>.report.json.
#[derive(Debug, Parser)]
#[command(
    name = "img23d",
    version,
    about,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// A subcommand; without one, img23d reconstructs the given pictures.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The main job's arguments (used when no subcommand is given).
    #[command(flatten)]
    pub run: RunArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Isosurface a volume stored as .npy into a mesh.
    Mesh(crate::mesh_cmd::MeshArgs),
    /// List, fetch, verify and locate the neural models.
    Models(crate::models_cmd::ModelsArgs),
    /// Metric depth, point clouds and relief meshes from photos (Depth Pro).
    Depth(crate::depth_cmd::DepthArgs),
    /// A prompt to a picture (SD-Turbo, SDXL-Turbo or an Optimum-layout folder), then to
    /// a textured asset through the main job.
    Text(crate::text_cmd::TextArgs),
}

/// Arguments of the main job, `img23d IMAGE... -o DIR`, as typed. Converted into a
/// validated [`crate::config::RunConfig`] before any work starts.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Pictures to reconstruct: PNG, JPEG, WebP, BMP or TIFF; 8- or 16-bit; gray, RGB or
    /// RGBA. EXIF orientation is applied. Each gives DIR/<stem>.<format>.
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<PathBuf>,

    /// Output folder (created if missing). Each picture writes DIR/<stem>.<format> and
    /// DIR/<stem>.report.json.
    #[arg(short, long, value_name = "DIR", required = true)]
    pub output: Option<PathBuf>,

    /// Output formats, comma separated: glb (binary glTF with vertex colors and normals),
    /// ply (binary little endian with normals and colors), obj (with per-vertex colors).
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

    /// Height of the asset in meters: the mesh is scaled so its bounding box is this tall
    /// along +Y, stands on y = 0 and is centered on the Y axis.
    #[arg(long, value_name = "METERS", default_value_t = 1.0)]
    pub height: f32,

    /// Fraction of the reconstruction square the object fills after cropping to the
    /// foreground and padding (as TripoSR's resize_foreground), in (0, 1].
    #[arg(long, value_name = "RATIO", default_value_t = 0.85)]
    pub foreground_ratio: f32,

    /// Do not look for the object: treat the whole picture as the object (no alpha, no
    /// background keying).
    #[arg(long)]
    pub no_remove_bg: bool,

    /// Reconstruction: auto (TripoSR when installed, else the built-in silhouette
    /// inflation, saying so), triposr (an error when it is not installed), inflate.
    #[arg(long, value_enum, value_name = "MODEL", default_value_t = ModelChoice::Auto)]
    pub model: ModelChoice,

    /// Background removal: auto (the picture's alpha if it has transparency, else the
    /// segmentation model if installed, else weight-free keying), alpha, model, key, none
    /// (the same as --no-remove-bg).
    #[arg(long = "bg", value_enum, value_name = "HOW", default_value_t = BackgroundChoice::Auto)]
    pub bg: BackgroundChoice,

    /// Models folder. By default, $IMG23D_MODELS, else the user's cache folder
    /// (~/.cache/img23d/models on Linux).
    #[arg(long, value_name = "DIR")]
    pub models_dir: Option<PathBuf>,

    /// Where neural models run: auto (CUDA when available, else CPU), cpu, cuda[:N],
    /// tensorrt[:N]. An explicitly requested GPU that cannot start is an error.
    #[arg(long, value_name = "DEVICE", default_value = "auto")]
    pub device: String,

    /// The ONNX Runtime library (libonnxruntime.so) or a folder holding it. By default:
    /// $ORT_DYLIB_PATH, an installed onnxruntime / onnxruntime-gpu Python package, then
    /// the system library path.
    #[arg(long, value_name = "PATH")]
    pub ort_lib: Option<PathBuf>,

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

    /// Worker threads for the heavy stages (0: one per CPU core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,

    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

/// An output file format of the main job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Binary glTF 2.0: normals, UVs, an embedded base-color texture and a PBR material
    /// (vertex colors as COLOR_0 with `--texture-size 0`).
    Glb,
    /// Binary little-endian PLY with normals and 8-bit vertex colors.
    Ply,
    /// Wavefront OBJ with UVs, an MTL and the texture PNG beside it (per-vertex colors
    /// with `--texture-size 0`).
    Obj,
}

impl Format {
    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Glb => "glb",
            Self::Ply => "ply",
            Self::Obj => "obj",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn main_job_parses_defaults() {
        let cli = Cli::try_parse_from(["img23d", "a.png", "-o", "out"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.run.images, [PathBuf::from("a.png")]);
        assert_eq!(cli.run.format, [Format::Glb]);
        assert_eq!(cli.run.resolution, 256);
        assert_eq!(cli.run.height, 1.0);
        assert_eq!(cli.run.foreground_ratio, 0.85);
        assert!(!cli.run.no_remove_bg);
        assert_eq!(cli.run.model, ModelChoice::Auto);
        assert_eq!(cli.run.bg, BackgroundChoice::Auto);
        assert_eq!(cli.run.device, "auto");
        assert_eq!(cli.run.texture_size, 1024);
        assert_eq!((cli.run.metallic, cli.run.roughness), (0.0, 0.9));
        assert!(!cli.run.no_preview && !cli.run.keep_vertex_colors);
    }

    #[test]
    fn preview_flags_override_each_other() {
        let parse = |extra: &[&str]| {
            let mut args = vec!["img23d", "a.png", "-o", "o"];
            args.extend(extra);
            Cli::try_parse_from(args).unwrap().run.no_preview
        };
        assert!(parse(&["--no-preview"]));
        assert!(!parse(&["--no-preview", "--preview"]));
        assert!(parse(&["--preview", "--no-preview"]));
    }

    #[test]
    fn model_and_background_choices() {
        let cli = Cli::try_parse_from([
            "img23d", "a.png", "-o", "o", "--model", "triposr", "--bg", "model", "--device", "cpu",
        ])
        .unwrap();
        assert_eq!(cli.run.model, ModelChoice::Triposr);
        assert_eq!(cli.run.bg, BackgroundChoice::Model);
        for bad in [["--model", "sf3d"], ["--bg", "magic"]] {
            let mut args = vec!["img23d", "a.png", "-o", "o"];
            args.extend(bad);
            assert!(Cli::try_parse_from(args).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn formats_are_comma_separated() {
        let cli =
            Cli::try_parse_from(["img23d", "a.png", "-o", "o", "--format", "glb,ply,obj"]).unwrap();
        assert_eq!(cli.run.format, [Format::Glb, Format::Ply, Format::Obj]);
        assert!(Cli::try_parse_from(["img23d", "a.png", "-o", "o", "--format", "fbx"]).is_err());
    }

    #[test]
    fn images_and_output_are_required_without_subcommand() {
        assert!(Cli::try_parse_from(["img23d"]).is_err());
        assert!(Cli::try_parse_from(["img23d", "a.png"]).is_err());
        assert!(Cli::try_parse_from(["img23d", "-o", "out"]).is_err());
    }

    #[test]
    fn subcommands_need_no_images() {
        let cli = Cli::try_parse_from(["img23d", "models", "list"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Models(_))));
    }
}
