//! The main job's arguments, `img23d IMAGE... -o DIR` ([`RunArgs`]), and their mapping
//! onto [`RunConfig`].

use std::path::PathBuf;

use crate::neural::{BackgroundChoice, ModelChoice};
use crate::output::Format;
use crate::run::RunConfig;
use crate::{Error, Result};

use super::asset::JobArgs;
use super::{AssetArgs, RuntimeArgs};

/// Arguments of the main job, `img23d IMAGE... -o DIR`, as typed. Mapped onto a validated
/// [`RunConfig`] ([`RunArgs::to_config`]) before any work starts.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Pictures to reconstruct: PNG, JPEG, WebP, BMP or TIFF; 8- or 16-bit; gray, RGB or
    /// RGBA. EXIF orientation is applied. Each gives DIR/<stem>.<format>.
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<PathBuf>,

    /// Output folder (created if missing). Each picture writes DIR/<stem>.<format>,
    /// DIR/<stem>.preview.png (unless --no-preview) and DIR/<stem>.report.json.
    #[arg(short, long, value_name = "DIR", required = true)]
    pub output: Option<PathBuf>,

    /// Formats, grid, foreground, texture and material.
    #[command(flatten)]
    pub asset: AssetArgs,

    /// Height of the asset in meters: the mesh is scaled so its bounding box is this tall
    /// along +Y, stands on y = 0 and is centered on the Y axis.
    #[arg(long, value_name = "METERS", default_value_t = 1.0)]
    pub height: f32,

    /// Reconstruction: auto (TripoSR when installed, else the built-in silhouette
    /// inflation, saying so), triposr (an error when it is not installed), inflate.
    #[arg(long, value_enum, value_name = "MODEL", default_value_t = ModelChoice::Auto)]
    pub model: ModelChoice,

    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,

    /// Runtime and models folder.
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

impl RunArgs {
    /// Maps the arguments onto a [`RunConfig`] and validates it.
    pub fn to_config(&self) -> Result<RunConfig> {
        let output_dir = self.output.clone().ok_or_else(|| Error::InvalidArgument {
            name: "--output",
            expected: "an output folder".into(),
            got: "nothing".into(),
        })?;
        let job = JobArgs {
            images: self.images.clone(),
            output_dir,
            height: self.height,
            model: self.model,
            quiet: self.quiet,
        };
        self.asset.to_run_config(job, &self.runtime)
    }
}

super::value_enum!(Format {
    Glb => "glb": "binary glTF 2.0: normals, UVs, the embedded baked texture, a PBR material",
    Ply => "ply": "binary little-endian PLY with normals and 8-bit vertex colors",
    Obj => "obj": "Wavefront OBJ with UVs, an MTL and the texture PNG beside it",
});

super::value_enum!(ModelChoice {
    Auto => "auto": "TripoSR when it is installed, else the built-in inflation (saying so)",
    Triposr => "triposr": "TripoSR; an error when it is not installed",
    Inflate => "inflate": "the built-in weight-free silhouette inflation",
});

super::value_enum!(BackgroundChoice {
    Auto => "auto": "the picture's alpha if it has real transparency, else the segmentation \
                     model if installed, else weight-free keying",
    Alpha => "alpha": "the picture's alpha channel (an error when it has no transparency)",
    Model => "model": "the segmentation model (an error when it is not installed)",
    Key => "key": "weight-free keying of a plain background",
    None => "none": "the whole picture is the object",
});

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::ValueEnum;

    use super::*;
    use crate::cli::{Cli, parse_from};
    use img23d_models::runtime::{Device, Precision};

    fn parse(args: &[&str]) -> Result<RunConfig> {
        let cli: Cli = parse_from(std::iter::once("img23d").chain(args.iter().copied())).unwrap();
        cli.run.to_config()
    }

    #[test]
    fn format_names_are_the_extensions() {
        for f in Format::value_variants() {
            assert_eq!(f.to_possible_value().unwrap().get_name(), f.extension());
        }
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let c = parse(&["a.png", "-o", "out"]).unwrap();
        let d = RunConfig::default();
        assert_eq!(c.formats, d.formats);
        assert_eq!(c.resolution, d.resolution);
        assert_eq!(c.height, d.height);
        assert_eq!(c.foreground_ratio, d.foreground_ratio);
        assert_eq!(
            (c.texture_size, c.metallic, c.roughness, c.preview),
            (d.texture_size, d.metallic, d.roughness, d.preview)
        );
        assert!(c.remove_background);
        assert_eq!(
            c.output_path(Path::new("x/a.png"), Format::Glb).unwrap(),
            Path::new("out/a.glb")
        );
        assert_eq!(
            c.report_path(Path::new("a.png")).unwrap(),
            Path::new("out/a.report.json")
        );
    }

    #[test]
    fn formats_sorted_and_deduplicated() {
        let c = parse(&["a.png", "-o", "o", "--format", "obj,glb,obj"]).unwrap();
        assert_eq!(c.formats, [Format::Glb, Format::Obj]);
    }

    #[test]
    fn bad_values_are_refused() {
        for args in [
            &["a.png", "-o", "o", "--resolution", "4"][..],
            &["a.png", "-o", "o", "--resolution", "100000"],
            &["a.png", "-o", "o", "--height", "0"],
            &["a.png", "-o", "o", "--height", "NaN"],
            &["a.png", "-o", "o", "--foreground-ratio", "1.5"],
            &["a.png", "-o", "o", "--foreground-ratio", "0"],
            &["a.png", "-o", "o", "--precision", "fp8"],
            &["a.png", "-o", "o", "--threads", "5000"],
        ] {
            let err = parse(args).unwrap_err();
            assert!(
                matches!(err, Error::InvalidArgument { .. }),
                "{args:?}: {err}"
            );
            assert_eq!(err.exit_code(), 2);
        }
    }

    #[test]
    fn background_device_threads_and_precision() {
        let c = parse(&["a.png", "-o", "o", "--no-remove-bg"]).unwrap();
        assert_eq!(c.background, BackgroundChoice::None);
        assert!(!c.remove_background);
        let c = parse(&["a.png", "-o", "o", "--bg", "key", "--device", "cpu"]).unwrap();
        assert_eq!(c.background, BackgroundChoice::Key);
        assert_eq!(c.runtime.device, Device::Cpu);
        let c = parse(&["a.png", "-o", "o", "--threads", "3", "--precision", "fp16"]).unwrap();
        assert_eq!((c.threads, c.runtime.intra_threads), (3, 3));
        assert_eq!(c.runtime.precision, Precision::Fp16);
        let err = parse(&["a.png", "-o", "o", "--device", "tpu"]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidArgument {
                    name: "--device",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn inputs_with_the_same_stem_collide() {
        let err = parse(&["a/chair.png", "b/chair.jpg", "-o", "o"]).unwrap_err();
        assert!(matches!(err, Error::OutputCollision { .. }), "{err}");
        assert!(err.to_string().contains("b/chair.jpg"), "{err}");
    }
}
