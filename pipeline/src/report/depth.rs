//! `img23d depth`'s report, `DIR/<stem>.report.json` ([`DepthReport`]): the focal length
//! and where it came from, fields of view, intrinsics, depth statistics, the point cloud
//! and relief mesh figures. The fields every report shares are described in
//! [`crate::report`].

use std::path::PathBuf;

use img23d_meshing::depth::{DepthStats, Intrinsics};
use img23d_models::depth_pro::{DepthSemantics, FocalSource};

use super::{Header, OutputFile, Timings};

/// One photo through `img23d depth`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DepthReport {
    /// `schema_version`, `command` (`img23d depth`), `img23d_version`.
    #[serde(flatten)]
    pub header: Header,
    /// The photo.
    pub input: PathBuf,
    /// Its width in pixels, after EXIF orientation.
    pub width: usize,
    /// Its height in pixels, after EXIF orientation.
    pub height: usize,
    /// The model file and how it ran.
    pub model: DepthModelReport,
    /// The focal length the depth was scaled with, pixels.
    pub focal_length_px: f32,
    /// Where it came from: `network`, `exif` or `user` (`--focal-px`).
    pub focal_source: FocalSource,
    /// The photo's EXIF 35 mm-equivalent focal length, millimeters, when read.
    pub exif_focal_length_35mm: Option<f32>,
    /// The network's own focal length estimate, pixels.
    pub network_focal_length_px: f32,
    /// The network's horizontal field of view estimate, degrees.
    pub network_fov_deg: f32,
    /// Horizontal field of view at `focal_length_px`, degrees.
    pub horizontal_fov_deg: f32,
    /// Vertical field of view at `focal_length_px`, degrees.
    pub vertical_fov_deg: f32,
    /// Pinhole intrinsics in pixels (`fx`, `fy`, `cx`, `cy`).
    pub intrinsics: Intrinsics,
    /// Depth statistics in meters: `min`, `median`, `max`, `valid_pixels`.
    pub depth_m: DepthStats,
    /// What the numbers and files mean.
    pub conventions: DepthConventions,
    /// The point cloud, when written.
    pub point_cloud: Option<PointCloudReport>,
    /// The relief mesh, when written.
    pub relief_mesh: Option<ReliefReport>,
    /// Files written (besides this report).
    pub outputs: Vec<OutputFile>,
    /// `stages` and `total_ms`.
    #[serde(flatten)]
    pub timings: Timings,
}

/// The Depth Pro file a run used.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DepthModelReport {
    /// The file loaded.
    pub file: PathBuf,
    /// The layout its signature matched (`name vN`).
    pub layout: String,
    /// What its two outputs mean.
    pub semantics: DepthSemantics,
    /// Where its session runs (`CPU`, `CUDA`, ...).
    pub execution_provider: String,
    /// The registry variant's precision (`fp32`, `fp16`); none for a file given by path.
    pub precision: Option<String>,
    /// Threads inside one operator, as the session was built (`--threads`; 0: ONNX
    /// Runtime's own choice).
    pub intra_op_threads: usize,
}

/// The conventions of `img23d depth`'s numbers and files.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DepthConventions {
    /// What a depth value is.
    pub depth: &'static str,
    /// Where a pixel's centre and the principal point are.
    pub pixels: &'static str,
    /// The frame of the point cloud and the relief mesh.
    pub frame: &'static str,
    /// The 16-bit PNG's unit and special values.
    pub depth_png: &'static str,
}

impl Default for DepthConventions {
    fn default() -> Self {
        Self {
            depth: "planar depth along the optical axis, meters",
            pixels: "pixel (u, v) has its centre at (u + 0.5, v + 0.5); principal point at the \
                     image centre",
            frame: "glTF: x right, y up, z toward the viewer; the camera at the origin looking \
                    down -Z",
            depth_png: "16-bit depth in millimeters (depth_scale 1000); 0 = no depth; 65535 = \
                        65.535 m or more",
        }
    }
}

/// The point cloud written.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PointCloudReport {
    /// Its file name.
    pub file: String,
    /// Every `stride`-th pixel along both axes.
    pub stride: usize,
    /// Farther pixels were dropped, meters (`null`: none).
    pub max_depth_m: f32,
    /// Points written.
    pub points: usize,
}

/// The relief mesh written.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReliefReport {
    /// Its file name.
    pub file: String,
    /// Grid spacing in pixels.
    pub stride: usize,
    /// The relative depth-discontinuity tolerance it was cut with.
    pub edge_tolerance: f32,
    /// Farther pixels were dropped, meters (`null`: none).
    pub max_depth_m: f32,
    /// Vertices.
    pub vertices: usize,
    /// Triangles.
    pub triangles: usize,
    /// The embedded photo texture's width and height, pixels.
    pub texture_size: [u32; 2],
}
