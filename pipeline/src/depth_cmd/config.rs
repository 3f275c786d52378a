//! `img23d depth`'s validated configuration ([`DepthConfig`]) and the kinds of file it
//! writes ([`DepthOutput`]). The command line ([`crate::cli`]) fills it in.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use img23d_meshing::Limits;
use img23d_models::RuntimeOptions;
use img23d_models::depth_pro::DepthSemantics;

use crate::output::{distinct_stems, output_stem};
use crate::{Error, Result};

/// One kind of output file of `img23d depth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DepthOutput {
    /// `<stem>.depth.npy`: float32 depth in meters, H x W.
    Npy,
    /// `<stem>.depth.png`: 16-bit depth in millimeters (0 = no depth).
    Png,
    /// `<stem>.depth-preview.png`: colorized inverse depth with a legend.
    Preview,
    /// `<stem>.report.json`: focal length, fields of view, intrinsics, depth statistics
    /// ([`crate::report::DepthReport`]).
    Report,
    /// `<stem>.ply`: colored point cloud.
    Ply,
    /// `<stem>.glb`: relief mesh textured with the photo.
    Glb,
}

impl DepthOutput {
    /// Every kind, in the order they are written.
    pub const ALL: [Self; 6] = [
        Self::Npy,
        Self::Png,
        Self::Preview,
        Self::Report,
        Self::Ply,
        Self::Glb,
    ];

    /// The file name suffix after the stem.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Npy => ".depth.npy",
            Self::Png => ".depth.png",
            Self::Preview => ".depth-preview.png",
            Self::Report => ".report.json",
            Self::Ply => ".ply",
            Self::Glb => ".glb",
        }
    }

    /// The format name the report lists the file under.
    pub fn format(self) -> &'static str {
        match self {
            Self::Npy => "npy",
            Self::Png => "png",
            Self::Preview => "preview",
            Self::Report => "report",
            Self::Ply => "ply",
            Self::Glb => "glb",
        }
    }
}

/// A sampling stride: `auto` or a number of pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stride {
    /// Chosen from the photo's size.
    Auto,
    /// Every N-th pixel.
    Fixed(usize),
}

impl Stride {
    /// The stride for a `w` x `h` photo: `auto` keeps at most `auto_samples` samples
    /// along the longer side.
    pub fn resolve(self, w: usize, h: usize, auto_samples: usize) -> usize {
        match self {
            Self::Auto => img23d_meshing::depth::auto_stride(w, h, auto_samples),
            Self::Fixed(n) => n,
        }
    }
}

impl FromStr for Stride {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Self::Auto);
        }
        match s.parse::<usize>() {
            Ok(n) if (1..=4096).contains(&n) => Ok(Self::Fixed(n)),
            _ => Err(format!("expected auto or a stride from 1 to 4096, got {s}")),
        }
    }
}

/// `img23d depth` settings after validation.
#[derive(Debug, Clone)]
pub struct DepthConfig {
    /// The photos, with distinct file stems.
    pub photos: Vec<PathBuf>,
    /// The output folder.
    pub output_dir: PathBuf,
    /// The files to write. By default, all of them.
    pub outputs: BTreeSet<DepthOutput>,
    /// A model file given by path. By default, none: the installed `depth-pro` model.
    pub model: Option<PathBuf>,
    /// Forced semantics. By default, none: from the matched layout.
    pub semantics: Option<DepthSemantics>,
    /// Focal length override in pixels. By default, none.
    pub focal_px: Option<f32>,
    /// Use the EXIF 35 mm focal length. By default, true.
    pub exif_focal: bool,
    /// Point cloud stride. By default, auto.
    pub cloud_stride: Stride,
    /// Relief mesh stride. By default, auto.
    pub mesh_stride: Stride,
    /// Far cut-off in meters. By default, 250.
    pub max_depth: f32,
    /// Relative discontinuity tolerance. By default, 0.04.
    pub edge_tolerance: f32,
    /// Longest texture side. By default, 4096.
    pub texture_size: u32,
    /// Print nothing but errors. By default, false.
    pub quiet: bool,
    /// Size caps. By default, [`Limits::default`].
    pub limits: Limits,
    /// The models folder; `None` resolves `$IMG23D_MODELS`, else the user's cache folder.
    /// By default, `None`.
    pub models_dir: Option<PathBuf>,
    /// Never touch the network. By default, false.
    pub offline: bool,
    /// ONNX Runtime settings. By default, [`RuntimeOptions::default`].
    pub runtime: RuntimeOptions,
    /// `--precision auto`: Depth Pro in fp16 when it runs on a GPU, else in
    /// [`RuntimeOptions::precision`]. By default, true.
    pub auto_precision: bool,
}

impl Default for DepthConfig {
    fn default() -> Self {
        Self {
            photos: Vec::new(),
            output_dir: PathBuf::from("out"),
            outputs: DepthOutput::ALL.into_iter().collect(),
            model: None,
            semantics: None,
            focal_px: None,
            exif_focal: true,
            cloud_stride: Stride::Auto,
            mesh_stride: Stride::Auto,
            max_depth: 250.0,
            edge_tolerance: 0.04,
            texture_size: 4096,
            quiet: false,
            limits: Limits::default(),
            models_dir: None,
            offline: false,
            runtime: RuntimeOptions::default(),
            auto_precision: true,
        }
    }
}

impl DepthConfig {
    /// Checks every value; the command line calls it before any work.
    pub fn validate(&self) -> Result<()> {
        let invalid = |name: &'static str, expected: &str, got: String| Error::InvalidArgument {
            name,
            expected: expected.to_string(),
            got,
        };
        if let Some(f) = self.focal_px
            && !(f.is_finite() && f > 0.0)
        {
            return Err(invalid(
                "--focal-px",
                "a positive focal length in pixels",
                f.to_string(),
            ));
        }
        if self.max_depth.is_nan() || self.max_depth <= 0.0 {
            return Err(invalid(
                "--max-depth",
                "a positive distance in meters (inf keeps everything)",
                self.max_depth.to_string(),
            ));
        }
        if !(self.edge_tolerance.is_finite() && self.edge_tolerance > 0.0) {
            return Err(invalid(
                "--edge-tolerance",
                "a positive ratio, e.g. 0.04",
                self.edge_tolerance.to_string(),
            ));
        }
        if self.texture_size < 16 || self.texture_size > self.limits.max_texture_size {
            return Err(invalid(
                "--texture-size",
                &format!("16 to {} pixels", self.limits.max_texture_size),
                self.texture_size.to_string(),
            ));
        }
        if self.outputs.is_empty() {
            return Err(invalid(
                "--outputs",
                "at least one of npy, png, preview, report, ply, glb",
                "nothing".into(),
            ));
        }
        distinct_stems(&self.photos)
    }

    /// Whether `output` is to be written.
    pub fn wants(&self, output: DepthOutput) -> bool {
        self.outputs.contains(&output)
    }

    /// `DIR/<stem><suffix>` for `photo`.
    pub fn output_path(&self, photo: &Path, output: DepthOutput) -> Result<PathBuf> {
        Ok(self
            .output_dir
            .join(format!("{}{}", output_stem(photo)?, output.suffix())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_write_everything_and_the_report_follows_the_rule() {
        let c = DepthConfig {
            photos: vec!["x/a.jpg".into()],
            ..DepthConfig::default()
        };
        c.validate().unwrap();
        assert_eq!(c.outputs.len(), 6);
        assert_eq!(
            c.output_path(Path::new("x/a.jpg"), DepthOutput::Report)
                .unwrap(),
            crate::report::report_path(Path::new("out"), "a")
        );
    }

    #[test]
    fn strides() {
        assert_eq!("auto".parse::<Stride>(), Ok(Stride::Auto));
        assert_eq!("3".parse::<Stride>(), Ok(Stride::Fixed(3)));
        assert!("0".parse::<Stride>().is_err());
        assert_eq!(Stride::Fixed(3).resolve(3000, 60, 1536), 3);
        assert_eq!(Stride::Auto.resolve(3000, 60, 1536), 2);
    }
}
