//! The main job, `img23d IMAGE... -o DIR`: each picture through the stages
//! [`run_image_with`] lists, one file per stage group:
//!
//! | stage | what | file |
//! |---|---|---|
//! | `load` | decode, EXIF orientation, size limits ([`crate::image`]) | `run/picture.rs` |
//! | `segmentation` | the segmentation model's mask, when it is the background method ([`crate::neural`]) | `run/picture.rs` |
//! | `foreground` | the object's mask, cropped and padded into the square ([`crate::foreground`]) | `run/picture.rs` |
//! | `reconstruction` | TripoSR ([`crate::neural`]) or the weight-free inflation ([`crate::inflate`]): a field in glTF's frame | `run/reconstruct.rs` |
//! | `extraction` | coarse-to-fine marching cubes | `run/geometry.rs` |
//! | `geometry` | floaters removed, scaled to `--height`, normals | `run/geometry.rs` |
//! | `appearance`, `atlas`, `bake` | vertex colors, UV atlas, baked texture, material ([`crate::appearance`]) | `run/texture.rs` |
//! | `export` | GLB, PLY, OBJ | `run/export.rs` |
//! | `preview`, `fidelity` | the preview sheet; the asset from the input camera against the picture | `run/check.rs` |
//! | report | `DIR/<stem>.report.json` ([`crate::report::ImageReport`]) | `run/summary.rs` |
//!
//! Each stage is timed by [`crate::stage::Stages`] and announced to a
//! [`Progress`]. A picture's files appear together or not at all
//! ([`crate::output::staged`]): each is written through `img23d_meshing::io::write_atomic`
//! into a staging folder in `DIR` and renamed into place when the picture succeeded, the
//! report last; a failed picture leaves `DIR` exactly as it was.
//!
//! Reconstruction ([`crate::neural`]): TripoSR when it is installed (or asked for with
//! `--model triposr`), else the built-in weight-free [`crate::inflate`] field, and the
//! run says which and why ([`NeuralModels::notice`]). The background: the picture's
//! alpha, the segmentation model, or weight-free keying (`--bg`).

mod check;
pub mod config;
mod export;
mod geometry;
mod picture;
mod reconstruct;
mod summary;
mod texture;

use std::path::{Path, PathBuf};

pub use config::RunConfig;

use crate::Result;
use crate::neural::NeuralModels;
use crate::output::staged;
use crate::report::ImageReport;
use crate::stage::{Progress, Stages};

/// What one picture produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The picture.
    pub input: PathBuf,
    /// The files written, the report last.
    pub files: Vec<PathBuf>,
    /// The report written beside them.
    pub report: ImageReport,
}

/// Runs the main job on one picture, preparing the neural models for it alone (a run of
/// several pictures prepares them once: [`prepare_models`], [`run_image_with`]).
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
        &config.runtime,
    )
}

/// Runs the main job on one picture with the run's neural models: its stages, in order.
pub fn run_image_with(
    config: &RunConfig,
    input: &Path,
    progress: &mut dyn Progress,
    neural: &NeuralModels,
) -> Result<Outcome> {
    let _span = tracing::info_span!("image", path = %input.display()).entered();
    let (report, files) = staged(&config.output_dir, |staging| {
        let mut stages = Stages::new(input, progress);
        let s = &mut stages;
        let image = picture::load(s, config, input)?;
        let (image, background) = picture::remove_background(s, config, neural, image, input)?;
        let mut framed = picture::foreground(s, config, neural, image, background)?;
        let reconstructed = reconstruct::reconstruct(s, config, neural, &mut framed, input)?;
        let field = reconstructed.field();
        let extraction = geometry::extraction(s, config, field, input)?;
        let shaped = geometry::geometry(s, config, extraction.mesh, input)?;
        let (to_output, floaters_removed) = (shaped.to_output, shaped.floaters_removed);
        let color_source = reconstructed.color_source();
        let dressed = texture::dress(s, config, field, color_source, shaped, input)?;
        let mut outputs = export::export(s, config, &dressed, input, staging)?;
        let view = check::view(&framed, &reconstructed, &to_output);
        let asset = &dressed.asset;
        let preview = check::preview(s, config, asset, &view, input, staging, &mut outputs)?;
        let fidelity = check::fidelity(s, asset, &view, input)?;
        let made = summary::Made {
            framed,
            reconstructed: &reconstructed,
            extraction: extraction.stats,
            to_output,
            floaters_removed,
            dressed: &dressed,
            view: &view,
            preview,
            fidelity,
            outputs,
        };
        let report = summary::report(config, neural, made, stages.finish());
        staging.report(&config.report_path(input)?, &report)?;
        Ok(report)
    })?;
    Ok(Outcome {
        input: input.to_path_buf(),
        files,
        report,
    })
}
