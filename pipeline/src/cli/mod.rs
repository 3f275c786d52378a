//! The `img23d` command line: the main job (`img23d IMAGE... -o DIR`) and its
//! subcommands. Only this module knows clap: each command's raw arguments are mapped
//! here onto that command's validated configuration ([`crate::run::RunConfig`],
//! [`crate::depth_cmd::DepthConfig`], [`crate::mesh_cmd::MeshConfig`]) before any work
//! starts, and the library's enums get their command-line names here too.
//!
//! | file | what |
//! |---|---|
//! | `cli/image.rs` | the main job's arguments ([`RunArgs`]) |
//! | `cli/asset.rs` | the asset options the main job and `img23d text` share ([`AssetArgs`]) |
//! | `cli/runtime.rs` | the runtime and models-folder group every command that runs a model flattens ([`RuntimeArgs`], [`OfflineArg`]) |
//! | `cli/depth.rs`, `cli/doctor.rs`, `cli/mesh.rs`, `cli/models.rs`, `cli/text.rs` | the subcommands' arguments |

/// Implements `clap::ValueEnum` for a library enum: the variants with their names on the
/// command line (and aliases) and the help of each, so the library stays free of clap.
macro_rules! value_enum {
    ($ty:ty { $($variant:ident => $name:literal $(| $alias:literal)* : $help:literal),+ $(,)? }) => {
        impl clap::ValueEnum for $ty {
            fn value_variants<'a>() -> &'a [Self] {
                &[$(Self::$variant),+]
            }

            fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
                Some(match self {
                    $(Self::$variant => clap::builder::PossibleValue::new($name)
                        $(.alias($alias))*
                        .help($help)),+
                })
            }
        }
    };
}
pub(crate) use value_enum;

mod asset;
mod depth;
mod doctor;
mod image;
mod mesh;
mod models;
mod runtime;
mod text;

use std::ffi::OsString;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

pub use asset::AssetArgs;
pub use depth::{DepthArgs, SemanticsArg};
pub use doctor::DoctorArgs;
pub use image::RunArgs;
pub use mesh::{InsideArg, KeepArg, MeshArgs};
pub use models::{ModelsActionArg, ModelsArgs};
pub use runtime::{OfflineArg, RuntimeArgs};
pub use text::TextArgs;

/// img23d: turn a picture into a textured 3D asset (GLB, PLY, OBJ).
///
/// Without a subcommand, img23d reconstructs each IMAGE into a closed, textured mesh in
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
    Mesh(MeshArgs),
    /// List, fetch, verify and locate the neural models.
    Models(ModelsArgs),
    /// Metric depth, point clouds and relief meshes from photos (Depth Pro).
    Depth(DepthArgs),
    /// What this machine can run: ONNX Runtime, GPUs, CUDA libraries, models; why a run is
    /// on the CPU. Exit status 1 with the first problem and its fix.
    Doctor(DoctorArgs),
    /// A prompt to a picture (SD-Turbo, SDXL-Turbo or an Optimum-layout folder), then to
    /// a textured asset through the main job.
    Text(TextArgs),
}

/// The whole command line as clap sees it. The runtime group is global under
/// `img23d models`, so it may come before or after the action
/// (`img23d models --device cpu list`, `img23d models fetch NAME --models-dir DIR`).
pub fn command() -> clap::Command {
    Cli::command().mut_subcommand("models", |models| {
        RuntimeArgs::IDS
            .into_iter()
            .chain(["offline"])
            .fold(models, |c, id| c.mut_arg(id, |a| a.global(true)))
    })
}

/// Parses the process's arguments ([`command`]); on an error clap prints it and exits
/// with status 2.
pub fn parse() -> Cli {
    parse_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
}

/// Parses `args` (the program name first) with [`command`].
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = command().try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::neural::{BackgroundChoice, ModelChoice};
    use crate::output::Format;

    fn parse(args: &[&str]) -> Cli {
        parse_from(std::iter::once("img23d").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn cli_is_well_formed() {
        command().debug_assert();
    }

    #[test]
    fn main_job_parses_defaults() {
        let cli = parse(&["a.png", "-o", "out"]);
        assert!(cli.command.is_none());
        assert_eq!(cli.run.images, [PathBuf::from("a.png")]);
        assert_eq!(cli.run.asset.format, [Format::Glb]);
        assert_eq!(cli.run.asset.resolution, 256);
        assert_eq!(cli.run.height, 1.0);
        assert_eq!(cli.run.asset.foreground_ratio, 0.85);
        assert!(!cli.run.asset.no_remove_bg);
        assert_eq!(cli.run.model, ModelChoice::Auto);
        assert_eq!(cli.run.asset.bg, BackgroundChoice::Auto);
        assert_eq!(cli.run.runtime.device, "auto");
        assert_eq!(cli.run.asset.texture_size, 1024);
        assert_eq!(
            (cli.run.asset.metallic, cli.run.asset.roughness),
            (0.0, 0.9)
        );
        assert!(!cli.run.asset.no_preview && !cli.run.asset.keep_vertex_colors);
    }

    #[test]
    fn preview_flags_override_each_other() {
        let no_preview = |extra: &[&str]| {
            let mut args = vec!["a.png", "-o", "o"];
            args.extend(extra);
            parse(&args).run.asset.no_preview
        };
        assert!(no_preview(&["--no-preview"]));
        assert!(!no_preview(&["--no-preview", "--preview"]));
        assert!(no_preview(&["--preview", "--no-preview"]));
    }

    #[test]
    fn model_and_background_choices() {
        let cli = parse(&[
            "a.png", "-o", "o", "--model", "triposr", "--bg", "model", "--device", "cpu",
        ]);
        assert_eq!(cli.run.model, ModelChoice::Triposr);
        assert_eq!(cli.run.asset.bg, BackgroundChoice::Model);
        for bad in [["--model", "sf3d"], ["--bg", "magic"]] {
            let mut args = vec!["img23d", "a.png", "-o", "o"];
            args.extend(bad);
            assert!(parse_from(args).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn formats_are_comma_separated() {
        let cli = parse(&["a.png", "-o", "o", "--format", "glb,ply,obj"]);
        assert_eq!(
            cli.run.asset.format,
            [Format::Glb, Format::Ply, Format::Obj]
        );
        assert!(parse_from(["img23d", "a.png", "-o", "o", "--format", "fbx"]).is_err());
    }

    #[test]
    fn images_and_output_are_required_without_subcommand() {
        assert!(parse_from(["img23d"]).is_err());
        assert!(parse_from(["img23d", "a.png"]).is_err());
        assert!(parse_from(["img23d", "-o", "out"]).is_err());
    }

    #[test]
    fn subcommands_need_no_images() {
        let cli = parse(&["models", "list"]);
        assert!(matches!(cli.command, Some(Command::Models(_))));
    }

    /// One definition of the runtime group, on every command that runs a model; under
    /// `models` it may come before or after the action.
    #[test]
    fn the_runtime_group_is_shared() {
        let main = parse(&["a.png", "-o", "o", "--threads", "3", "--precision", "fp16"]);
        assert_eq!(main.run.runtime.threads, 3);
        let Some(Command::Depth(depth)) =
            parse(&["depth", "a.jpg", "-o", "o", "--threads", "2"]).command
        else {
            panic!("not the depth command")
        };
        assert_eq!(depth.runtime.threads, 2);
        for args in [
            &["models", "--device", "cpu", "list"][..],
            &["models", "list", "--device", "cpu"],
        ] {
            let Some(Command::Models(m)) = parse(args).command else {
                panic!("not the models command")
            };
            assert_eq!(m.runtime.device, "cpu", "{args:?}");
        }
        let Some(Command::Models(m)) = parse(&["models", "fetch", "x", "--offline"]).command else {
            panic!("not the models command")
        };
        assert!(m.offline.offline);
        // `mesh` runs no model: no runtime flags there.
        assert!(
            parse_from([
                "img23d", "mesh", "v.npy", "--iso", "0", "-o", "m.glb", "--device", "cpu"
            ])
            .is_err()
        );
    }
}
