//! The main job, `img23d IMAGE... -o DIR`: stage orchestration for each picture.
//!
//! ```text
//! load ─ foreground (+ crop/pad) ─ reconstruction (a Field) ─ extraction (marching cubes)
//!      ─ geometry (floaters, to glTF meters, normals) ─ appearance (vertex colors)
//!      ─ atlas ─ bake (texture) ─ export ─ preview ─ fidelity ─ report.json
//! ```
//!
//! Each stage runs in a `tracing` span and is timed; a [`Progress`] receives one event per
//! stage (the binary prints them as lines). Every file goes through
//! `img23d_meshing::io::write_atomic`, and when a picture fails after some of its files
//! were written, those are removed again: a failed picture leaves nothing in `DIR`.
//!
//! Reconstruction ([`crate::neural`]): TripoSR when it is installed (or asked for with
//! `--model triposr`), else the built-in weight-free [`crate::inflate`] field, and the
//! run says which and why ([`NeuralModels::notice`]). The background: the picture's
//! alpha, the segmentation model, or weight-free keying (`--bg`). Both reconstructions
//! give a field in glTF's frame, so everything after them is shared.

use std::path::{Path, PathBuf};
use std::time::Instant;

use img23d_meshing::Field;
use img23d_meshing::cleanup::{ComponentOptions, KeepComponents, remove_small_components};
use img23d_meshing::convert_coordinates::fit_to_height;
use img23d_meshing::export::{GlbOptions, write_glb, write_obj, write_ply};
use img23d_meshing::extract::{ExtractOptions, color_vertices, extract};
use img23d_meshing::field::TransformedField;
use img23d_meshing::topology::analyze;
use img23d_meshing::{Asset, Mesh};
use img23d_models::triposr::triposr_to_gltf;

use crate::appearance::{
    self, FIDELITY_SIZE, InputCamera, fidelity_of, input_view, textured_material,
};
use crate::cli::Format;
use crate::config::{RunConfig, output_stem};
use crate::foreground::{ForegroundOptions, cut_out, find_foreground};
use crate::image::load_image;
use crate::inflate::{InflateOptions, InflatedField};
use crate::mask_ops::Window;
use crate::neural::{
    BackgroundMethod, NeuralModels, ReconstructionChoice, TriposrOutput, masked_picture, segment,
};
use crate::report::{
    AppearanceReport, FidelityReport, ForegroundReport, MeshReport, OutputFile,
    ReconstructionReport, Report, Settings, StageTime, Versions, write_report,
};
use crate::{Error, Result};

/// Pieces of the mesh smaller than this fraction of its area are floaters and removed.
const FLOATER_FRACTION: f32 = 0.002;

/// Largest side of the square raster the reconstruction reads.
const MAX_SQUARE: usize = 2048;
/// Smallest side of the square raster the reconstruction reads.
const MIN_SQUARE: usize = 256;

/// One finished stage of one picture.
#[derive(Debug, Clone)]
pub struct StageEvent<'a> {
    /// The picture.
    pub input: &'a Path,
    /// Stage name.
    pub name: &'static str,
    /// Wall time in seconds.
    pub seconds: f64,
    /// What it found or made, in a few words.
    pub detail: String,
}

/// Receives the progress of a run (the binary prints it; tests may collect it).
pub trait Progress {
    /// A stage finished.
    fn stage(&mut self, event: &StageEvent<'_>);
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn stage(&mut self, _event: &StageEvent<'_>) {}
}

/// What one picture produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The picture.
    pub input: PathBuf,
    /// The files written, the report last.
    pub files: Vec<PathBuf>,
    /// The report written beside them.
    pub report: Report,
}

/// Creates the output folder if needed and checks that a file can be written in it.
pub fn prepare_output_dir(dir: &Path) -> Result<()> {
    let folder_error = |source: std::io::Error| Error::OutputFolder {
        source,
        path: dir.to_path_buf(),
    };
    std::fs::create_dir_all(dir).map_err(folder_error)?;
    if !dir.is_dir() {
        return Err(folder_error(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "not a folder",
        )));
    }
    let probe = dir.join(format!(".img23d-write-test.{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(folder_error)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Runs the main job on one picture, preparing the neural models for it alone (a run of
/// several pictures prepares them once: [`NeuralModels::prepare`], [`run_image_with`]).
pub fn run_image(config: &RunConfig, input: &Path, progress: &mut dyn Progress) -> Result<Outcome> {
    let neural = prepare_models(config)?;
    run_image_with(config, input, progress, &neural)
}

/// The neural side of a run of `config` (see [`NeuralModels::prepare`]).
pub fn prepare_models(config: &RunConfig) -> Result<NeuralModels> {
    NeuralModels::prepare(
        config.model,
        config.background,
        config.models_dir.as_deref(),
        &config.runtime_options(),
    )
}

/// Runs the main job on one picture with the run's neural models.
pub fn run_image_with(
    config: &RunConfig,
    input: &Path,
    progress: &mut dyn Progress,
    neural: &NeuralModels,
) -> Result<Outcome> {
    let _span = tracing::info_span!("image", path = %input.display()).entered();
    let mut written: Vec<PathBuf> = Vec::new();
    let result = run_image_inner(config, input, progress, &mut written, neural);
    if result.is_err() {
        for path in &written {
            let _ = std::fs::remove_file(path);
        }
    }
    result
}

/// Times one stage inside a tracing span.
struct Stages<'p, 'i> {
    progress: &'p mut dyn Progress,
    input: &'i Path,
    times: Vec<StageTime>,
}

impl Stages<'_, '_> {
    fn run<T>(
        &mut self,
        name: &'static str,
        work: impl FnOnce() -> Result<T>,
        detail: impl FnOnce(&T) -> String,
    ) -> Result<T> {
        let span = tracing::info_span!("stage", name);
        let start = Instant::now();
        let value = span.in_scope(work)?;
        let seconds = start.elapsed().as_secs_f64();
        self.times.push(StageTime {
            name,
            ms: seconds * 1e3,
        });
        self.progress.stage(&StageEvent {
            input: self.input,
            name,
            seconds,
            detail: detail(&value),
        });
        Ok(value)
    }
}

fn stage_error(stage: &'static str, input: &Path) -> impl FnOnce(img23d_meshing::Error) -> Error {
    move |source| Error::Stage {
        stage,
        source,
        path: input.to_path_buf(),
    }
}

/// The field a reconstruction made, in glTF's frame.
enum Reconstructed {
    Inflate(InflatedField),
    Triposr(Box<TriposrOutput>),
}

impl Reconstructed {
    fn field(&self) -> &dyn Field {
        match self {
            Self::Inflate(f) => f,
            Self::Triposr(t) => &t.field,
        }
    }
}

fn run_image_inner(
    config: &RunConfig,
    input: &Path,
    progress: &mut dyn Progress,
    written: &mut Vec<PathBuf>,
    neural: &NeuralModels,
) -> Result<Outcome> {
    let total = Instant::now();
    let mut stages = Stages {
        progress,
        input,
        times: Vec::new(),
    };

    // Load.
    let image = stages.run(
        "load",
        || load_image(input, &config.limits),
        |img| {
            let i = &img.info;
            format!(
                "{}x{} {} {} {}-bit",
                i.width, i.height, i.format, i.channels, i.bits_per_channel
            )
        },
    )?;

    // Background: the picture's alpha, the segmentation model (its mask becomes the
    // alpha), or keying (a transparent picture is flattened on gray first).
    let background = crate::neural::choose_background(
        config.background,
        image.has_transparency(),
        neural.segmenter.is_some(),
        input,
    )?;
    let image = match (background, &neural.segmenter) {
        (BackgroundMethod::Model, Some(seg)) => stages.run(
            "segmentation",
            || segment(seg, &image),
            |_| {
                format!(
                    "mask from the {} model",
                    crate::neural::segmentation_model()
                )
            },
        )?,
        (BackgroundMethod::Key, _) if image.has_transparency() => {
            crate::neural::flatten_on_gray(image)
        }
        _ => image,
    };

    // Foreground, then crop and pad into the reconstruction's square. Keying consumes the
    // picture; TripoSR keeps its own copy for its full-resolution preprocessing.
    let info = image.info.clone();
    let triposr_source = match (&neural.reconstruction, &neural.triposr) {
        (ReconstructionChoice::Triposr, Some(triposr)) => Some((triposr, image.clone())),
        _ => None,
    };
    let (foreground, cutout) = stages.run(
        "foreground",
        || {
            let fg = find_foreground(
                image,
                &ForegroundOptions {
                    remove_background: background != BackgroundMethod::None,
                },
            )?;
            // The square's raster: at least twice the grid (so the height map is finer
            // than the voxels) and as fine as the picture allows.
            let [x0, y0, x1, y1] = fg.bbox;
            let side = ((x1 - x0).max(y1 - y0) as f32 / config.foreground_ratio).ceil() as usize;
            let size = side
                .max(2 * config.resolution)
                .clamp(MIN_SQUARE, MAX_SQUARE);
            let cut = cut_out(&fg, config.foreground_ratio, size);
            Ok((fg, cut))
        },
        |(fg, cut)| {
            let b = fg.bbox_source();
            format!(
                "{}, object {:.0}x{:.0} px, {:.0}% of the picture, square {}x{}",
                fg.method.describe(),
                b[2] - b[0],
                b[3] - b[1],
                fg.coverage * 100.0,
                cut.size,
                cut.size
            )
        },
    )?;
    // Reconstruction: TripoSR (from the full-resolution picture and its mask, through
    // its own preprocessing) or the weight-free inflation (from the square).
    let reconstructed = stages.run(
        "reconstruction",
        || match &triposr_source {
            Some((triposr, source)) => {
                let picture = masked_picture(source, &foreground);
                let out = triposr.reconstruct(
                    &picture,
                    config.foreground_ratio,
                    background == BackgroundMethod::None,
                    input,
                )?;
                Ok(Reconstructed::Triposr(Box::new(out)))
            }
            _ => InflatedField::new(&cutout, &InflateOptions::default())
                .map(Reconstructed::Inflate)
                .ok_or_else(|| Error::NoForeground {
                    reason: "the object is too small to reconstruct".to_string(),
                    path: input.to_path_buf(),
                }),
        },
        |r| match r {
            Reconstructed::Inflate(f) => format!(
                "built-in silhouette inflation (weight-free), {}x{} height map",
                f.stats().size,
                f.stats().size
            ),
            Reconstructed::Triposr(t) => format!(
                "TripoSR, {}x{} input, triplane NeRF ({})",
                t.input.size,
                t.input.size,
                t.field.inner().path()
            ),
        },
    )?;
    drop(triposr_source);
    let field = reconstructed.field();

    // Extraction.
    let extraction = stages.run(
        "extraction",
        || {
            let options = ExtractOptions {
                resolution: config.resolution,
                limits: config.limits,
                ..ExtractOptions::default()
            };
            extract(field, &options).map_err(stage_error("extraction", input))
        },
        |e| {
            format!(
                "{r}^3 grid, {:.1}% of it evaluated, {} vertices, {} triangles",
                e.stats.evaluation_fraction * 100.0,
                e.mesh.vertex_count(),
                e.mesh.triangle_count(),
                r = e.stats.resolution
            )
        },
    )?;
    let extract_stats = extraction.stats;
    let mut mesh = extraction.mesh;

    // Geometry: drop floaters (specks of thin parts the grid barely resolved), then — the
    // field is in glTF's frame already — scale to the requested height, stand the asset
    // on y = 0, and compute normals.
    let (to_output, removed) = stages.run(
        "geometry",
        || {
            let before = mesh.triangle_count();
            mesh = remove_small_components(
                &mesh,
                &ComponentOptions {
                    min_fraction: FLOATER_FRACTION,
                    keep: KeepComponents::AllAbove,
                },
            )
            .map_err(stage_error("geometry", input))?;
            let removed = before - mesh.triangle_count();
            let bbox = mesh.bounding_box().ok_or_else(|| {
                stage_error("geometry", input)(img23d_meshing::Error::NoSurface { level: 0.0 })
            })?;
            let fit = fit_to_height(bbox, config.height).ok_or_else(|| {
                stage_error("geometry", input)(img23d_meshing::Error::invalid_parameter(
                    "mesh height",
                    "a mesh with some height",
                    format!("{bbox:?}"),
                ))
            })?;
            fit.apply_to_mesh(&mut mesh);
            mesh.compute_normals();
            mesh.validate()
                .map_err(|e| stage_error("geometry", input)(e.into()))?;
            Ok((fit, removed))
        },
        |(_, removed)| {
            format!(
                "{} m tall, +Y up, facing +Z; {removed} triangles of floaters removed",
                config.height
            )
        },
    )?;
    // Appearance: vertex colors from the field, queried in the output frame (the PLY
    // keeps them), then the UV atlas and the texture baked from the same field.
    let output_field = TransformedField::new(field, to_output).ok_or_else(|| {
        stage_error("appearance", input)(img23d_meshing::Error::invalid_parameter(
            "output transform",
            "an invertible transform",
            format!("{to_output:?}"),
        ))
    })?;
    let color_source = match &reconstructed {
        Reconstructed::Inflate(_) => "the picture (front) and its mirror (back)",
        Reconstructed::Triposr(_) => "TripoSR's color field",
    };
    stages.run(
        "appearance",
        || color_vertices(&mut mesh, &output_field).map_err(stage_error("appearance", input)),
        |_| format!("vertex colors from {color_source}"),
    )?;
    let topology = analyze(&mesh);
    let (bbox_min, bbox_max) = mesh.bounding_box().unwrap_or_default();
    let size = config.texture_size;
    let textured = if size > 0 {
        let atlas = stages.run(
            "atlas",
            || appearance::atlas(&mesh, size, config.limits).map_err(stage_error("atlas", input)),
            |a| {
                format!(
                    "{} charts, {:.0}% of the {size}x{size} texture used, stretch {:.3}, \
                     {} vertices after splitting seams",
                    a.stats.charts,
                    a.stats.utilisation * 100.0,
                    a.stats.stretch_l2,
                    a.stats.output_vertices
                )
            },
        )?;
        Some(stages.run(
            "bake",
            || {
                appearance::bake(atlas, &output_field, size, config.limits)
                    .map_err(stage_error("bake", input))
            },
            |t| {
                format!(
                    "{size}x{size} base color from {color_source}: {} texels evaluated, \
                     {} filled past chart borders",
                    t.bake.covered_texels, t.bake.filled_texels
                )
            },
        )?)
    } else {
        None
    };
    let name = output_stem(input)?;
    let (asset, welded, texture_stats) = match textured {
        Some(t) => (
            Asset {
                name,
                mesh: t.mesh,
                material: textured_material(Some(t.texture), config.metallic, config.roughness),
            },
            Some(mesh),
            Some((t.atlas, t.bake)),
        ),
        None => (
            Asset {
                name,
                mesh,
                material: textured_material(None, config.metallic, config.roughness),
            },
            None,
            None,
        ),
    };
    // The welded, vertex-colored mesh: what the PLY holds and the mesh figures describe.
    let welded = welded.as_ref().unwrap_or(&asset.mesh);

    // Export.
    let mut outputs = stages.run(
        "export",
        || export(config, input, &asset, welded, written),
        |files| {
            files
                .iter()
                .map(|f| format!("{} ({})", f.path.display(), human_bytes(f.bytes)))
                .collect::<Vec<_>>()
                .join(", ")
        },
    )?;

    // The input camera in the output frame and the picture as it framed it: the preview's
    // first tile and the fidelity check.
    let (window, camera) = match &reconstructed {
        Reconstructed::Inflate(_) => (cutout.window_source, InputCamera::Inflate),
        Reconstructed::Triposr(t) => {
            let f = t.input.framing;
            let side = f64::from(f.canvas);
            (
                Window {
                    x: f64::from(f.crop[0]) - f64::from(f.offset[0]),
                    y: f64::from(f.crop[1]) - f64::from(f.offset[1]),
                    width: side,
                    height: side,
                },
                InputCamera::Triposr,
            )
        }
    };
    let view = input_view(&foreground, window, camera, &to_output, FIDELITY_SIZE);
    let preview = if config.preview {
        let path = config.preview_path(input)?;
        stages.run(
            "preview",
            || {
                appearance::write_preview(&asset, &view, &path, config.limits)
                    .map_err(stage_error("preview", input))
            },
            |(w, h)| {
                format!(
                    "{} ({w}x{h}: the input view, then 8 views around)",
                    path.display()
                )
            },
        )?;
        written.push(path.clone());
        outputs.push(OutputFile {
            format: "preview".to_string(),
            bytes: std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
            path: path.clone(),
        });
        Some(path)
    } else {
        None
    };
    let fidelity = stages.run(
        "fidelity",
        || fidelity_of(&asset, &view).map_err(stage_error("fidelity", input)),
        |f| {
            format!(
                "from the input camera: silhouette IoU {:.3}, color PSNR {:.1} dB",
                f.iou, f.psnr
            )
        },
    )?;

    let appearance_kind = if texture_stats.is_some() {
        "texture"
    } else {
        "vertex"
    };
    let report = Report {
        report_version: crate::report::REPORT_VERSION,
        versions: Versions::default(),
        input: info,
        settings: Settings {
            formats: config.formats.clone(),
            resolution: config.resolution,
            height_m: config.height,
            foreground_ratio: config.foreground_ratio,
            remove_background: config.remove_background,
            threads: rayon::current_num_threads(),
            model: config.model,
            background: config.background,
        },
        foreground: ForegroundReport {
            method: foreground.method,
            bbox_px: foreground.bbox_source(),
            coverage: foreground.coverage,
            square_px: [
                cutout.window_source.x,
                cutout.window_source.y,
                cutout.window_source.width,
            ],
            square_size: cutout.size,
            keying: foreground.keying.clone(),
            background,
            segmentation: neural.segmentation_report(background),
        },
        reconstruction: match &reconstructed {
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
                    crate::neural::ModelChoice::Triposr => "--model triposr".to_string(),
                    _ => "TripoSR is installed".to_string(),
                },
                view: "TripoSR's frame: Z up, the input camera on +X (right +Y); rotated \
                       into glTF's by (x, y, z) -> (y, z, x), so the input view faces +Z",
                field_to_output: to_output.after(&triposr_to_gltf()),
                inflate: None,
                triposr: Some(neural.triposr_report(t)),
            },
        },
        extraction: extract_stats,
        mesh: MeshReport {
            vertices: welded.vertex_count(),
            triangles: welded.triangle_count(),
            bbox_min,
            bbox_max,
            area_m2: welded.area(),
            volume_m3: welded.signed_volume(),
            closed_manifold: topology.is_closed_manifold(),
            euler_characteristic: topology.euler_characteristic(),
            topology,
            appearance: appearance_kind,
            floater_triangles_removed: removed,
        },
        appearance: AppearanceReport {
            kind: appearance_kind,
            texture_size: size,
            atlas: texture_stats.map(|t| t.0),
            bake: texture_stats.map(|t| t.1),
            textured_vertices: texture_stats.map(|_| asset.mesh.vertex_count()),
            metallic: config.metallic,
            roughness: config.roughness,
            glb_vertex_colors: texture_stats.is_none() || config.keep_vertex_colors,
            preview,
        },
        fidelity: FidelityReport {
            camera: view.camera,
            size_px: FIDELITY_SIZE,
            iou: fidelity.iou,
            psnr_db: fidelity.psnr,
            mask_pixels: fidelity.mask_pixels,
            render_pixels: fidelity.render_pixels,
        },
        outputs,
        stages: stages.times,
        total_ms: total.elapsed().as_secs_f64() * 1e3,
    };
    let report_path = config.report_path(input)?;
    write_report(&report_path, &report)?;
    written.push(report_path);
    Ok(Outcome {
        input: input.to_path_buf(),
        files: written.clone(),
        report,
    })
}

/// Writes every requested format; records each file in `written` as soon as it exists.
/// The GLB and OBJ hold `asset` (textured when it has a texture); the PLY holds `welded`,
/// the seamless mesh with vertex colors.
fn export(
    config: &RunConfig,
    input: &Path,
    asset: &Asset,
    welded: &Mesh,
    written: &mut Vec<PathBuf>,
) -> Result<Vec<OutputFile>> {
    let glb_options = GlbOptions {
        vertex_colors_with_texture: config.keep_vertex_colors,
        ..GlbOptions::default()
    };
    let mut files = Vec::new();
    for &format in &config.formats {
        let path = config.output_path(input, format)?;
        let mut made = vec![(format.extension().to_string(), path.clone())];
        match format {
            Format::Glb => write_glb(&path, asset, &glb_options),
            Format::Ply => write_ply(&path, welded),
            Format::Obj => write_obj(&path, asset).map(|f| {
                made.extend(f.mtl.map(|p| ("mtl".to_string(), p)));
                made.extend(f.texture.map(|p| ("png".to_string(), p)));
            }),
        }
        .map_err(stage_error("export", input))?;
        for (format, path) in made {
            written.push(path.clone());
            let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            files.push(OutputFile {
                format,
                path,
                bytes,
            });
        }
    }
    Ok(files)
}

fn human_bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MB", n as f64 / f64::from(1 << 20))
    } else {
        format!("{:.0} kB", n as f64 / 1024.0)
    }
}
