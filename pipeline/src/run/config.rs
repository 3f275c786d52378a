//! The main job's validated configuration ([`RunConfig`]), checked once before any work
//! starts: every value in range, sizes within [`Limits`], one output stem per input. The
//! command line ([`crate::cli`]) fills it in; the library knows nothing of clap.

use std::path::{Path, PathBuf};

use img23d_meshing::Limits;
use img23d_models::RuntimeOptions;

use crate::neural::{BackgroundChoice, ModelChoice};
use crate::output::{Format, distinct_stems, output_stem};
use crate::{Error, Result};

/// Settings of the main job after validation: no `Option`s for things with defaults.
#[derive(Debug, Clone)]
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
    /// Worker threads for heavy stages; 0 means one per core. By default, 0. The
    /// command line gives ONNX Runtime the same number ([`RuntimeOptions::intra_threads`]).
    pub threads: usize,
    /// Print nothing but errors. By default, false.
    pub quiet: bool,
    /// Caps on sizes from user input. By default, [`Limits::default`].
    pub limits: Limits,
    /// The reconstruction asked for. By default, [`ModelChoice::Auto`].
    pub model: ModelChoice,
    /// How the object is told from the background. By default,
    /// [`BackgroundChoice::Auto`] (`--no-remove-bg` gives [`BackgroundChoice::None`]).
    pub background: BackgroundChoice,
    /// The models folder; `None` resolves `$IMG23D_MODELS`, else the user's cache
    /// folder. By default, `None`.
    pub models_dir: Option<PathBuf>,
    /// ONNX Runtime: the library, the device, threads, optimisation level, weight
    /// precision. By default, [`RuntimeOptions::default`] (searched library, `auto`
    /// device, fp32).
    pub runtime: RuntimeOptions,
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
            runtime: RuntimeOptions::default(),
            texture_size: 1024,
            keep_vertex_colors: false,
            metallic: 0.0,
            roughness: 0.9,
            preview: true,
        }
    }
}

impl RunConfig {
    /// Checks every value; the command line calls it before any work.
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
        distinct_stems(&self.images)
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

    /// The report of `image`: `DIR/<stem>.report.json` ([`crate::report::report_path`]).
    pub fn report_path(&self, image: &Path) -> Result<PathBuf> {
        Ok(crate::report::report_path(
            &self.output_dir,
            &output_stem(image)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> RunConfig {
        RunConfig {
            images: vec!["x/a.png".into()],
            ..RunConfig::default()
        }
    }

    #[test]
    fn output_paths_follow_the_stem() {
        let c = config();
        c.validate().unwrap();
        assert_eq!(
            c.preview_path(Path::new("a.png")).unwrap(),
            Path::new("out/a.preview.png")
        );
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let bad = [
            RunConfig {
                resolution: 4,
                ..config()
            },
            RunConfig {
                texture_size: 8,
                ..config()
            },
            RunConfig {
                metallic: 1.5,
                ..config()
            },
            RunConfig {
                threads: 5000,
                ..config()
            },
            RunConfig {
                formats: Vec::new(),
                ..config()
            },
            RunConfig {
                images: Vec::new(),
                ..config()
            },
        ];
        for c in bad {
            let err = c.validate().unwrap_err();
            assert_eq!(err.exit_code(), 2, "{err}");
        }
    }
}
