//! The main job's report, `DIR/<stem>.report.json` ([`ImageReport`]): what one run read,
//! which settings and reconstruction it used, what it produced and how long each stage
//! took. The fields every report shares are described in [`crate::report`].

use std::path::PathBuf;

use img23d_meshing::atlas::AtlasStats;
use img23d_meshing::bake::BakeStats;
use img23d_meshing::convert_coordinates::Transform;
use img23d_meshing::extract::ExtractStats;
use img23d_meshing::render::Camera;
use img23d_meshing::topology::TopologyReport;

use super::{Header, OutputFile, Timings};
use crate::foreground::{ForegroundMethod, KeyingStats};
use crate::image::ImageInfo;
use crate::inflate::InflateStats;
use crate::output::Format;

/// One run of the main job on one picture.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageReport {
    /// `schema_version`, `command` (`img23d`), `img23d_version`.
    #[serde(flatten)]
    pub header: Header,
    /// The picture read.
    pub input: ImageInfo,
    /// The settings used.
    pub settings: Settings,
    /// How the object was found.
    pub foreground: ForegroundReport,
    /// Which reconstruction ran, and why.
    pub reconstruction: ReconstructionReport,
    /// The marching-cubes extraction's counters and timings.
    pub extraction: ExtractStats,
    /// The final mesh.
    pub mesh: MeshSummary,
    /// Colors, texture and material.
    pub appearance: AppearanceReport,
    /// The asset seen from the input camera against the picture.
    pub fidelity: FidelityReport,
    /// Files written (besides this report).
    pub outputs: Vec<OutputFile>,
    /// `stages` and `total_ms`.
    #[serde(flatten)]
    pub timings: Timings,
}

/// The settings of the run, as validated.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Settings {
    /// Output formats.
    pub formats: Vec<Format>,
    /// Grid points per axis.
    pub resolution: usize,
    /// Asset height in meters.
    pub height_m: f32,
    /// Fraction of the square the object fills.
    pub foreground_ratio: f32,
    /// Whether the object was looked for (false with `--no-remove-bg`).
    pub remove_background: bool,
    /// Worker threads of the heavy stages (`--threads`, 0 resolved to the core count).
    pub threads: usize,
    /// Threads inside one ONNX Runtime operator, as the sessions were built
    /// (`--threads`; 0: ONNX Runtime's own choice, one per physical core).
    pub ort_intra_op_threads: usize,
    /// Weight precision asked for (`--precision`): `fp32` or `fp16`.
    pub precision: String,
    /// `--model` as given.
    pub model: crate::neural::ModelChoice,
    /// `--bg` as given.
    pub background: crate::neural::BackgroundChoice,
}

/// How the object was found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ForegroundReport {
    /// Alpha, keyed or whole picture.
    pub method: ForegroundMethod,
    /// The object's bounding box in source pixels, `[x0, y0, x1, y1)`.
    pub bbox_px: [f64; 4],
    /// Fraction of the picture the object covers.
    pub coverage: f32,
    /// The square handed to the reconstruction, in source pixels `[x, y, side]`.
    pub square_px: [f64; 3],
    /// Side of the square's raster in pixels.
    pub square_size: usize,
    /// Keying details, for keyed pictures.
    pub keying: Option<KeyingStats>,
    /// Where the mask came from: the picture's alpha, the segmentation model, keying,
    /// or none.
    pub background: crate::neural::BackgroundMethod,
    /// The segmentation model (file, device, input size, normalisation), when it made
    /// the mask; its time is the `segmentation` stage.
    pub segmentation: Option<crate::neural::SegmentationReport>,
}

/// Which reconstruction ran.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReconstructionReport {
    /// Field name (`inflate` for the built-in one).
    pub name: String,
    /// `weight-free` or `neural`.
    pub kind: &'static str,
    /// Why this one.
    pub reason: String,
    /// The input view in the field's frame: an orthographic camera on +Z looking along
    /// -Z, the picture square spanning `x, y ∈ [-1, 1]`.
    pub view: &'static str,
    /// The map from the field's frame to the output (glTF, meters).
    pub field_to_output: Transform,
    /// Figures of the inflation.
    pub inflate: Option<InflateStats>,
    /// TripoSR's details, when it ran.
    pub triposr: Option<TriposrReport>,
}

/// What TripoSR ran on and how.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TriposrReport {
    /// Sessions and the field's evaluation path.
    pub models: String,
    /// How fields were evaluated (Rust sampling with the folded first layer, ...).
    pub field_path: &'static str,
    /// Crop box in the picture, `[x0, y0, x1, y1)` (upstream's `resize_foreground`).
    pub crop_px: [u32; 4],
    /// Side of the padded square canvas, in picture pixels.
    pub canvas_px: u32,
    /// Side of the encoder's input.
    pub input_size: u32,
    /// The encoder and decoder files, where each runs and how long it took to load.
    pub files: Vec<crate::neural::ModelUsed>,
    /// The decoder file's layout: `mlp` (`[P, 120] -> [P, 4]`) or `graph` (triplane and
    /// points in, density and color out).
    pub decoder_layout: &'static str,
    /// TripoSR's preprocessing as applied to this picture.
    pub preprocessing: crate::neural::TriposrPreprocessing,
    /// Preprocessing, encoder and field set-up times for this picture.
    pub timings: crate::neural::TriposrTimings,
}

/// The final mesh.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MeshSummary {
    /// Vertices.
    pub vertices: usize,
    /// Triangles.
    pub triangles: usize,
    /// Bounding box minimum, meters (glTF frame: +Y up, facing +Z).
    pub bbox_min: [f32; 3],
    /// Bounding box maximum, meters.
    pub bbox_max: [f32; 3],
    /// Surface area, square meters.
    pub area_m2: f64,
    /// Enclosed volume, cubic meters.
    pub volume_m3: f64,
    /// Every edge in two triangles, consistently oriented, no degenerate triangles.
    pub closed_manifold: bool,
    /// V - E + F (2 per sphere-like piece).
    pub euler_characteristic: i64,
    /// The full topology check.
    pub topology: TopologyReport,
    /// Vertex colors (`vertex`) or a baked texture (`texture`).
    pub appearance: &'static str,
    /// Triangles of small disconnected pieces removed after extraction.
    pub floater_triangles_removed: usize,
}

/// Colors, texture and material of the asset.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AppearanceReport {
    /// `texture` (UV atlas + baked base color) or `vertex` (vertex colors only).
    pub kind: &'static str,
    /// Side of the texture in texels (0 without one).
    pub texture_size: u32,
    /// Charts, texel utilisation, stretch, vertices before and after the seams split
    /// them (textured assets only).
    pub atlas: Option<AtlasStats>,
    /// Texels baked from the field and texels filled past chart borders (textured
    /// assets only).
    pub bake: Option<BakeStats>,
    /// Vertices of the textured mesh (seams duplicate vertices; the PLY keeps the
    /// welded mesh of [`MeshSummary`]).
    pub textured_vertices: Option<usize>,
    /// The material's metalness.
    pub metallic: f32,
    /// The material's roughness.
    pub roughness: f32,
    /// The GLB also carries COLOR_0 next to the texture.
    pub glb_vertex_colors: bool,
    /// The preview sheet, when written.
    pub preview: Option<PathBuf>,
}

/// The asset rendered from the input camera (unlit) against the picture as that camera
/// framed it: silhouette IoU against the foreground mask, color PSNR inside both.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FidelityReport {
    /// The input camera in the output frame (glTF, meters).
    pub camera: Camera,
    /// Side of the compared square in pixels.
    pub size_px: u32,
    /// Intersection over union of the rendered silhouette and the mask (1 is perfect).
    pub iou: f64,
    /// Color PSNR in dB where both cover (higher is better; 100 means identical).
    pub psnr_db: f64,
    /// Pixels in the mask.
    pub mask_pixels: usize,
    /// Pixels the render covers.
    pub render_pixels: usize,
}
