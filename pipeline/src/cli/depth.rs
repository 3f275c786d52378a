//! `img23d depth`'s arguments ([`DepthArgs`]) and their mapping onto [`DepthConfig`].

use std::path::PathBuf;

use img23d_meshing::Limits;
use img23d_models::depth_pro::DepthSemantics;

use crate::Result;
use crate::depth_cmd::{DepthConfig, DepthOutput, Stride};

use super::{OfflineArg, RuntimeArgs};

/// What a model file's outputs mean, as given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SemanticsArg {
    /// From the layout the file's signature matches (`canonical_inverse_depth` + `fov_deg`,
    /// or `predicted_depth` + `focallength_px`).
    Auto,
    /// Canonical inverse depth and field of view in degrees (Apple's `forward`).
    Canonical,
    /// Metric depth and focal length in 1536-pixel units (onnx-community's export).
    Metric,
}

/// Arguments of `img23d depth`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Outputs (meters, glTF frame: x right, y up, z toward the viewer; \
camera at the origin looking down -Z):\n  \
<stem>.depth.npy          float32 depth (H, W) in meters\n  \
<stem>.depth.png          16-bit depth in millimeters, 0 = no depth\n  \
<stem>.depth-preview.png  turbo colormap of inverse depth, legend in meters\n  \
<stem>.report.json        focal length, fov, intrinsics, min/median/max depth\n  \
<stem>.ply                point cloud: float x y z, uchar red green blue\n  \
<stem>.glb                relief mesh textured with the photo"
)]
pub struct DepthArgs {
    /// Photos: PNG, JPEG, WebP, BMP or TIFF; EXIF orientation is applied.
    #[arg(value_name = "PHOTO", required = true)]
    pub photos: Vec<PathBuf>,

    /// Output folder (created if missing).
    #[arg(short, long, value_name = "DIR", required = true)]
    pub output: PathBuf,

    /// Files to write, comma separated: npy, png, preview, report, ply, glb.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "npy,png,preview,report,ply,glb"
    )]
    pub outputs: Vec<DepthOutput>,

    /// A Depth Pro ONNX file to use instead of the installed `depth-pro` model.
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,

    /// What the model file's two outputs mean.
    #[arg(long, value_enum, default_value = "auto")]
    pub semantics: SemanticsArg,

    /// Focal length in pixels of the photo; overrides EXIF and the network's estimate.
    #[arg(long, value_name = "PX")]
    pub focal_px: Option<f32>,

    /// Ignore the photo's EXIF focal length (use the network's estimate).
    #[arg(long)]
    pub no_exif_focal: bool,

    /// Point cloud: keep every N-th pixel along both axes; auto keeps at most 1536 samples
    /// along the longer side.
    #[arg(long, value_name = "N|auto", default_value = "auto")]
    pub stride: Stride,

    /// Relief mesh: grid spacing in pixels; auto keeps at most 1024 vertices along the
    /// longer side.
    #[arg(long, value_name = "N|auto", default_value = "auto")]
    pub mesh_stride: Stride,

    /// Drop pixels farther than this (sky, far background) from the point cloud and the
    /// relief mesh, in meters.
    #[arg(long, value_name = "METERS", default_value_t = 250.0)]
    pub max_depth: f32,

    /// Relief mesh: a pixel is a depth discontinuity when the depth range of its 3x3
    /// window exceeds this fraction of its depth; the mesh is cut there.
    #[arg(long, value_name = "RATIO", default_value_t = 0.04)]
    pub edge_tolerance: f32,

    /// Relief mesh: longest side of the embedded photo texture, in pixels (larger photos
    /// are scaled down).
    #[arg(long, value_name = "PX", default_value_t = 4096)]
    pub texture_size: u32,

    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,

    /// Network use.
    #[command(flatten)]
    pub offline: OfflineArg,

    /// Runtime and models folder.
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

impl DepthArgs {
    /// Maps the arguments onto a [`DepthConfig`] and validates it.
    pub fn to_config(&self) -> Result<DepthConfig> {
        let config = DepthConfig {
            photos: self.photos.clone(),
            output_dir: self.output.clone(),
            outputs: self.outputs.iter().copied().collect(),
            model: self.model.clone(),
            semantics: match self.semantics {
                SemanticsArg::Auto => None,
                SemanticsArg::Canonical => Some(DepthSemantics::CanonicalInverseDepth),
                SemanticsArg::Metric => Some(DepthSemantics::MetricDepth),
            },
            focal_px: self.focal_px,
            exif_focal: !self.no_exif_focal,
            cloud_stride: self.stride,
            mesh_stride: self.mesh_stride,
            max_depth: self.max_depth,
            edge_tolerance: self.edge_tolerance,
            texture_size: self.texture_size,
            quiet: self.quiet,
            limits: Limits::default(),
            models_dir: self.runtime.models_dir.clone(),
            offline: self.offline.offline,
            runtime: self.runtime.to_options()?,
            auto_precision: self.runtime.precision_is_auto(),
        };
        config.validate()?;
        Ok(config)
    }
}

super::value_enum!(DepthOutput {
    Npy => "npy": "<stem>.depth.npy: float32 depth in meters, H x W",
    Png => "png": "<stem>.depth.png: 16-bit depth in millimeters (0 = no depth)",
    Preview => "preview": "<stem>.depth-preview.png: colorized inverse depth with a legend",
    Report => "report" | "json": "<stem>.report.json: focal length, fields of view, intrinsics, \
                                  depth statistics",
    Ply => "ply": "<stem>.ply: colored point cloud",
    Glb => "glb": "<stem>.glb: relief mesh textured with the photo",
});

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::Error;
    use crate::cli::{Command, parse_from};

    fn parse(args: &[&str]) -> Result<DepthConfig> {
        let full = ["img23d", "depth"].into_iter().chain(args.iter().copied());
        match parse_from(full).unwrap().command {
            Some(Command::Depth(a)) => a.to_config(),
            _ => panic!("not the depth command"),
        }
    }

    #[test]
    fn defaults_write_everything() {
        let c = parse(&["a.jpg", "-o", "out"]).unwrap();
        assert_eq!(c.outputs.len(), 6);
        assert_eq!(
            (c.cloud_stride, c.mesh_stride),
            (Stride::Auto, Stride::Auto)
        );
        assert_eq!((c.max_depth, c.edge_tolerance), (250.0, 0.04));
        assert!(c.exif_focal && c.semantics.is_none() && c.auto_precision);
        assert_eq!(
            c.output_path(Path::new("x/a.jpg"), DepthOutput::Preview)
                .unwrap(),
            Path::new("out/a.depth-preview.png")
        );
        // `json`, the report's former name, still selects it.
        let c = parse(&["a.jpg", "-o", "out", "--outputs", "npy,json"]).unwrap();
        assert!(c.wants(DepthOutput::Report) && c.outputs.len() == 2);
    }

    #[test]
    fn precision_auto_unless_given() {
        assert!(
            !parse(&["a.jpg", "-o", "o", "--precision", "fp32"])
                .unwrap()
                .auto_precision
        );
        assert!(parse(&["a.jpg", "-o", "o", "--precision", "fp8"]).is_err());
    }

    #[test]
    fn bad_values_are_refused() {
        for args in [
            &["a.jpg", "-o", "o", "--focal-px", "0"][..],
            &["a.jpg", "-o", "o", "--max-depth=-1"],
            &["a.jpg", "-o", "o", "--edge-tolerance", "0"],
            &["a.jpg", "-o", "o", "--texture-size", "8"],
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}: {e}");
        }
        let e = parse(&["a.jpg", "b/a.png", "-o", "o"]).unwrap_err();
        assert!(matches!(e, Error::OutputCollision { .. }), "{e}");
    }
}
