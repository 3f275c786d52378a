//! `img23d mesh`'s validated configuration ([`MeshConfig`]). The command line
//! ([`crate::cli`]) fills it in.

use std::path::{Path, PathBuf};

use img23d_meshing::cleanup::KeepComponents;
use img23d_meshing::{Bounds, Inside, Limits};

use crate::output::Format;
use crate::{Error, Result};

/// `img23d mesh` settings after validation.
#[derive(Debug, Clone)]
pub struct MeshConfig {
    /// The `.npy` volume.
    pub volume: PathBuf,
    /// The iso level.
    pub iso: f32,
    /// Which side of the level is inside. By default, [`Inside::Above`].
    pub inside: Inside,
    /// The box the volume spans. By default, `[-1, 1]³`.
    pub bounds: Bounds,
    /// The mesh file.
    pub output: PathBuf,
    /// Simplify to at most this many triangles. By default, none.
    pub faces: Option<usize>,
    /// Remove small pieces. By default, none.
    pub keep_components: Option<KeepComponents>,
    /// Area fraction under which [`KeepComponents::AllAbove`] removes a piece. By
    /// default, 0.05.
    pub min_component_fraction: f32,
    /// Taubin smoothing iterations. By default, 0.
    pub smooth: usize,
    /// Print each stage's time as `NAME_ms=VALUE`. By default, false.
    pub timings: bool,
    /// Where the report goes. By default, none: `<output's stem>.report.json` beside the
    /// output ([`MeshConfig::report_path`]).
    pub report: Option<PathBuf>,
    /// Print nothing but errors (and `--timings` lines). By default, false.
    pub quiet: bool,
    /// Size caps. By default, [`Limits::default`].
    pub limits: Limits,
}

impl MeshConfig {
    /// `volume` isosurfaced at `iso` into `output`, every other setting at its default.
    pub fn new(volume: impl Into<PathBuf>, iso: f32, output: impl Into<PathBuf>) -> Self {
        Self {
            volume: volume.into(),
            iso,
            inside: Inside::Above,
            bounds: Bounds {
                min: [-1.0; 3],
                max: [1.0; 3],
            },
            output: output.into(),
            faces: None,
            keep_components: None,
            min_component_fraction: 0.05,
            smooth: 0,
            timings: false,
            report: None,
            quiet: false,
            limits: Limits::default(),
        }
    }

    /// Checks every value; the command line calls it before any work.
    pub fn validate(&self) -> Result<()> {
        self.format()?;
        if !self.iso.is_finite() {
            return Err(Error::InvalidArgument {
                name: "--iso",
                expected: "a finite number".into(),
                got: self.iso.to_string(),
            });
        }
        if !(0.0..=1.0).contains(&self.min_component_fraction) {
            return Err(Error::InvalidArgument {
                name: "--min-component-fraction",
                expected: "a number in [0, 1]".into(),
                got: self.min_component_fraction.to_string(),
            });
        }
        if self.faces == Some(0) {
            return Err(Error::InvalidArgument {
                name: "--faces",
                expected: "at least 1".into(),
                got: "0".into(),
            });
        }
        Ok(())
    }

    /// The format the output's extension names.
    pub fn format(&self) -> Result<Format> {
        Format::of_path(&self.output).ok_or_else(|| Error::InvalidArgument {
            name: "--output",
            expected: "a file name ending in .glb, .ply or .obj".into(),
            got: self.output.display().to_string(),
        })
    }

    /// The output's name: its file stem (`mesh` when it has none).
    pub fn name(&self) -> String {
        self.output
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "mesh".into())
    }

    /// `--report`, else `<stem>.report.json` in the output's folder
    /// ([`crate::report::report_path`]): two meshes written into one folder keep one
    /// report each.
    pub fn report_path(&self) -> PathBuf {
        self.report.clone().unwrap_or_else(|| {
            let dir = self.output.parent().unwrap_or(Path::new(""));
            crate::report::report_path(dir, &self.name())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(output: &str) -> MeshConfig {
        MeshConfig::new("v.npy", 0.0, output)
    }

    #[test]
    fn reports_are_named_after_the_output() {
        let c = config("out/torus.glb");
        c.validate().unwrap();
        assert_eq!(c.format().unwrap(), Format::Glb);
        assert_eq!(c.report_path(), Path::new("out/torus.report.json"));
        assert_eq!(config("t.PLY").report_path(), Path::new("t.report.json"));
        let given = MeshConfig {
            report: Some("r.json".into()),
            ..config("out/torus.glb")
        };
        assert_eq!(given.report_path(), Path::new("r.json"));
    }

    #[test]
    fn bad_values_are_refused() {
        for c in [
            config("torus.fbx"),
            MeshConfig {
                iso: f32::NAN,
                ..config("t.glb")
            },
            MeshConfig {
                faces: Some(0),
                ..config("t.glb")
            },
            MeshConfig {
                min_component_fraction: 2.0,
                ..config("t.glb")
            },
        ] {
            assert_eq!(c.validate().unwrap_err().exit_code(), 2);
        }
    }
}
