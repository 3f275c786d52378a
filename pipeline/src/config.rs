//! Raw command-line arguments of the main job ([`crate::cli::RunArgs`]) → one validated
//! [`RunConfig`], checked once before any work starts: every value in range, sizes
//! within [`Limits`], one output stem per input.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use img23d_meshing::Limits;
use img23d_models::{Device, RuntimeOptions};

use crate::cli::{Format, RunArgs};
use crate::neural::{BackgroundChoice, ModelChoice};
use crate::{Error, Result};

/// Settings of the main job after validation: no `Option`s for things with defaults.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunConfig {
    /// The pictures, in the order given. Their file stems are distinct.
    pub images: Vec<PathBuf>,
    /// The output folder.
    pub output_dir: PathBuf,
    /// Output formats, sorted and without repeats. By default, GLB only.
    pub formats: Vec<Format>,
    /// Marching-cubes grid points per axis. By default, 256.
    pub resolution: usize,
    /// Height of the asset in meters. By default, 1.0.
    pub height: f32,
    /// Fraction of the reconstruction square the object fills. By default, 0.85
    /// (TripoSR's `--foreground-ratio`).
    pub foreground_ratio: f32,
    /// Look for the object (alpha or background keying); when false the whole picture is
    /// the object. By default, true.
    pub remove_background: bool,
    /// Worker threads for heavy stages; 0 means one per core. By default, 0.
    pub threads: usize,
    /// Print nothing but errors. By default, false.
    pub quiet: bool,
    /// Caps on sizes from user input. By default, [`Limits::default`].
    #[serde(skip)]
    pub limits: Limits,
    /// The reconstruction asked for. By default, [`ModelChoice::Auto`].
    pub model: ModelChoice,
    /// How the object is told from the background. By default,
    /// [`BackgroundChoice::Auto`] (`--no-remove-bg` gives [`BackgroundChoice::None`]).
    pub background: BackgroundChoice,
    /// The models folder; `None` resolves `$IMG23D_MODELS`, else the user's cache
    /// folder. By default, `None`.
    pub models_dir: Option<PathBuf>,
    /// Where the neural models run. By default, [`Device::Auto`].
    #[serde(skip)]
    pub device: Device,
    /// The ONNX Runtime library, when given. By default, `None` (searched).
    pub ort_lib: Option<PathBuf>,
    /// Side of the baked base-color texture in texels; 0 keeps vertex colors only. By
    /// default, 1024.
    pub texture_size: u32,
    /// With a texture, also write COLOR_0 into the GLB. By default, false.
    pub keep_vertex_colors: bool,
    /// Metalness of the material. By default, 0.
    pub metallic: f32,
    /// Roughness of the material. By default, 0.9.
    pub roughness: f32,
    /// Write the preview sheet `DIR/<stem>.preview.png`. By default, true.
    pub preview: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            images: Vec::new(),
            output_dir: PathBuf::from("out"),
            formats: vec![Format::Glb],
            resolution: 256,
            height: 1.0,
            foreground_ratio: 0.85,
            remove_background: true,
            threads: 0,
            quiet: false,
            limits: Limits::default(),
            model: ModelChoice::Auto,
            background: BackgroundChoice::Auto,
            models_dir: None,
            device: Device::Auto,
            ort_lib: None,
            texture_size: 1024,
            keep_vertex_colors: false,
            metallic: 0.0,
            roughness: 0.9,
            preview: true,
        }
    }
}

impl RunConfig {
    /// Validates raw arguments into a configuration.
    pub fn from_args(args: &RunArgs) -> Result<Self> {
        let output_dir = args.output.clone().ok_or_else(|| Error::InvalidArgument {
            name: "--output",
            expected: "an output folder".into(),
            got: "nothing".into(),
        })?;
        let device = args
            .device
            .parse::<Device>()
            .map_err(|e| Error::InvalidArgument {
                name: "--device",
                expected: e.expected.to_string(),
                got: e.got,
            })?;
        let background = if args.no_remove_bg {
            BackgroundChoice::None
        } else {
            args.bg
        };
        let mut formats = args.format.clone();
        formats.sort();
        formats.dedup();
        let config = Self {
            images: args.images.clone(),
            output_dir,
            formats,
            resolution: args.resolution,
            height: args.height,
            foreground_ratio: args.foreground_ratio,
            remove_background: background != BackgroundChoice::None,
            threads: args.threads,
            quiet: args.quiet,
            limits: Limits::default(),
            model: args.model,
            background,
            models_dir: args.models_dir.clone(),
            device,
            ort_lib: args.ort_lib.clone(),
            texture_size: args.texture_size,
            keep_vertex_colors: args.keep_vertex_colors,
            metallic: args.metallic,
            roughness: args.roughness,
            preview: !args.no_preview,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks every value; [`RunConfig::from_args`] calls it.
    pub fn validate(&self) -> Result<()> {
        if self.images.is_empty() {
            return Err(Error::InvalidArgument {
                name: "IMAGE",
                expected: "at least one picture".into(),
                got: "none".into(),
            });
        }
        if self.formats.is_empty() {
            return Err(Error::InvalidArgument {
                name: "--format",
                expected: "at least one of glb, ply, obj".into(),
                got: "none".into(),
            });
        }
        if self.resolution < 8 || self.resolution > self.limits.max_grid_resolution {
            return Err(Error::InvalidArgument {
                name: "--resolution",
                expected: format!(
                    "a grid resolution from 8 to {}",
                    self.limits.max_grid_resolution
                ),
                got: self.resolution.to_string(),
            });
        }
        if !(self.height.is_finite() && self.height > 0.0 && self.height <= 1.0e4) {
            return Err(Error::InvalidArgument {
                name: "--height",
                expected: "a height in meters, above 0 and at most 10000".into(),
                got: self.height.to_string(),
            });
        }
        if !(self.foreground_ratio > 0.05 && self.foreground_ratio <= 1.0) {
            return Err(Error::InvalidArgument {
                name: "--foreground-ratio",
                expected: "a fraction above 0.05 and at most 1".into(),
                got: self.foreground_ratio.to_string(),
            });
        }
        if self.texture_size != 0
            && (self.texture_size < 16 || self.texture_size > self.limits.max_texture_size)
        {
            return Err(Error::InvalidArgument {
                name: "--texture-size",
                expected: format!(
                    "0 (vertex colors) or a texture side from 16 to {} texels",
                    self.limits.max_texture_size
                ),
                got: self.texture_size.to_string(),
            });
        }
        for (name, value) in [
            ("--metallic", self.metallic),
            ("--roughness", self.roughness),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(Error::InvalidArgument {
                    name,
                    expected: "a value from 0 to 1".into(),
                    got: value.to_string(),
                });
            }
        }
        if self.threads > 1024 {
            return Err(Error::InvalidArgument {
                name: "--threads",
                expected: "0 (one per core) to 1024".into(),
                got: self.threads.to_string(),
            });
        }
        let mut stems: BTreeMap<String, &Path> = BTreeMap::new();
        for image in &self.images {
            let stem = output_stem(image)?;
            if let Some(first) = stems.insert(stem.clone(), image) {
                return Err(Error::OutputCollision {
                    stem,
                    first: first.to_path_buf(),
                    second: image.clone(),
                });
            }
        }
        Ok(())
    }

    /// ONNX Runtime settings for the neural stages.
    pub fn runtime_options(&self) -> RuntimeOptions {
        RuntimeOptions {
            ort_lib: self.ort_lib.clone(),
            device: self.device,
            ..RuntimeOptions::default()
        }
    }

    /// The output file of `image` in `format`: `DIR/<stem>.<ext>`.
    pub fn output_path(&self, image: &Path, format: Format) -> Result<PathBuf> {
        Ok(self
            .output_dir
            .join(format!("{}.{}", output_stem(image)?, format.extension())))
    }

    /// The preview sheet of `image`: `DIR/<stem>.preview.png`.
    pub fn preview_path(&self, image: &Path) -> Result<PathBuf> {
        Ok(self
            .output_dir
            .join(format!("{}.preview.png", output_stem(image)?)))
    }

    /// The report of `image`: `DIR/<stem>.report.json`.
    pub fn report_path(&self, image: &Path) -> Result<PathBuf> {
        Ok(self
            .output_dir
            .join(format!("{}.report.json", output_stem(image)?)))
    }
}

/// The file stem outputs of `image` are named after (`chair` for `photos/chair.png`).
pub fn output_stem(image: &Path) -> Result<String> {
    image
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::InvalidArgument {
            name: "IMAGE",
            expected: "a file path".into(),
            got: image.display().to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<RunConfig> {
        let mut full = vec!["img23d"];
        full.extend_from_slice(args);
        RunConfig::from_args(&Cli::try_parse_from(full).unwrap().run)
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let c = parse(&["a.png", "-o", "out"]).unwrap();
        let d = RunConfig::default();
        assert_eq!(c.formats, d.formats);
        assert_eq!(c.resolution, d.resolution);
        assert_eq!(c.height, d.height);
        assert_eq!(c.foreground_ratio, d.foreground_ratio);
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
    fn background_and_device() {
        let c = parse(&["a.png", "-o", "o", "--no-remove-bg"]).unwrap();
        assert_eq!(c.background, BackgroundChoice::None);
        assert!(!c.remove_background);
        let c = parse(&["a.png", "-o", "o", "--bg", "key", "--device", "cpu"]).unwrap();
        assert_eq!(c.background, BackgroundChoice::Key);
        assert_eq!(c.runtime_options().device, Device::Cpu);
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
