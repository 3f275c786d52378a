//! The main job's report for one picture ([`ImageReport`]), assembled from what each
//! stage made.

use std::path::PathBuf;

use img23d_meshing::convert_coordinates::Transform;
use img23d_meshing::extract::ExtractStats;
use img23d_meshing::render::Fidelity;
use img23d_meshing::topology::analyze;
use img23d_models::triposr::triposr_to_gltf;

use crate::appearance::{FIDELITY_SIZE, InputView};
use crate::neural::{ModelChoice, NeuralModels, ReconstructionChoice};
use crate::report::{
    AppearanceReport, FidelityReport, ForegroundReport, Header, ImageReport, MeshSummary,
    OutputFile, ReconstructionReport, Settings, Timings,
};

use super::RunConfig;
use super::picture::Framed;
use super::reconstruct::Reconstructed;
use super::texture::Dressed;

/// Everything one picture's stages made that the report describes.
pub(super) struct Made<'a> {
    pub framed: Framed,
    pub reconstructed: &'a Reconstructed,
    pub extraction: ExtractStats,
    pub to_output: Transform,
    pub floaters_removed: usize,
    pub dressed: &'a Dressed,
    pub view: &'a InputView,
    pub preview: Option<PathBuf>,
    pub fidelity: Fidelity,
    pub outputs: Vec<OutputFile>,
}

/// The report of one picture.
pub(super) fn report(
    config: &RunConfig,
    neural: &NeuralModels,
    made: Made<'_>,
    timings: Timings,
) -> ImageReport {
    let f = &made.fidelity;
    ImageReport {
        header: Header::new("img23d"),
        settings: settings(config),
        foreground: foreground(&made.framed, neural),
        reconstruction: reconstruction(config, neural, made.reconstructed, made.to_output),
        extraction: made.extraction,
        mesh: mesh(made.dressed, made.floaters_removed),
        appearance: appearance(config, made.dressed, made.preview),
        fidelity: FidelityReport {
            camera: made.view.camera,
            size_px: FIDELITY_SIZE,
            iou: f.iou,
            psnr_db: f.psnr,
            mask_pixels: f.mask_pixels,
            render_pixels: f.render_pixels,
        },
        input: made.framed.info,
        outputs: made.outputs,
        timings,
    }
}

fn settings(config: &RunConfig) -> Settings {
    Settings {
        formats: config.formats.clone(),
        resolution: config.resolution,
        height_m: config.height,
        foreground_ratio: config.foreground_ratio,
        remove_background: config.remove_background,
        threads: rayon::current_num_threads(),
        ort_intra_op_threads: config.runtime.intra_threads,
        precision: config.runtime.precision.to_string(),
        model: config.model,
        background: config.background,
    }
}

fn foreground(framed: &Framed, neural: &NeuralModels) -> ForegroundReport {
    let (fg, cut) = (&framed.foreground, &framed.cutout);
    ForegroundReport {
        method: fg.method,
        bbox_px: fg.bbox_source(),
        coverage: fg.coverage,
        square_px: [
            cut.window_source.x,
            cut.window_source.y,
            cut.window_source.width,
        ],
        square_size: cut.size,
        keying: fg.keying.clone(),
        background: framed.background,
        segmentation: neural.segmentation_report(framed.background),
    }
}

fn reconstruction(
    config: &RunConfig,
    neural: &NeuralModels,
    reconstructed: &Reconstructed,
    to_output: Transform,
) -> ReconstructionReport {
    match reconstructed {
        Reconstructed::Inflate(f) => ReconstructionReport {
            name: "inflate".to_string(),
            kind: "weight-free",
            reason: match &neural.reconstruction {
                ReconstructionChoice::Inflate { reason } => reason.clone(),
                ReconstructionChoice::Triposr => "TripoSR was not loaded".to_string(),
            },
            view: "orthographic camera on +Z looking along -Z; the picture square spans \
                   x, y in [-1, 1] of the field frame (glTF axes)",
            field_to_output: to_output,
            inflate: Some(f.stats()),
            triposr: None,
        },
        Reconstructed::Triposr(t) => ReconstructionReport {
            name: "triposr".to_string(),
            kind: "neural",
            reason: match config.model {
                ModelChoice::Triposr => "--model triposr".to_string(),
                _ => "TripoSR is installed".to_string(),
            },
            view: "TripoSR's frame: Z up, the input camera on +X (right +Y); rotated \
                   into glTF's by (x, y, z) -> (y, z, x), so the input view faces +Z",
            field_to_output: to_output.after(&triposr_to_gltf()),
            inflate: None,
            triposr: Some(neural.triposr_report(t)),
        },
    }
}

fn mesh(dressed: &Dressed, floaters_removed: usize) -> MeshSummary {
    let welded = dressed.welded();
    let topology = analyze(welded);
    let (bbox_min, bbox_max) = welded.bounding_box().unwrap_or_default();
    MeshSummary {
        vertices: welded.vertex_count(),
        triangles: welded.triangle_count(),
        bbox_min,
        bbox_max,
        area_m2: welded.area(),
        volume_m3: welded.signed_volume(),
        closed_manifold: topology.is_closed_manifold(),
        euler_characteristic: topology.euler_characteristic(),
        topology,
        appearance: dressed.kind(),
        floater_triangles_removed: floaters_removed,
    }
}

fn appearance(config: &RunConfig, dressed: &Dressed, preview: Option<PathBuf>) -> AppearanceReport {
    let texture = dressed.texture;
    AppearanceReport {
        kind: dressed.kind(),
        texture_size: config.texture_size,
        atlas: texture.map(|t| t.0),
        bake: texture.map(|t| t.1),
        textured_vertices: texture.map(|_| dressed.asset.mesh.vertex_count()),
        metallic: config.metallic,
        roughness: config.roughness,
        glb_vertex_colors: texture.is_none() || config.keep_vertex_colors,
        preview,
    }
}
