//! The asset seen again: the input camera in the output frame and the picture as it
//! framed it, then `preview` (the sheet: the input view and 8 views around) and
//! `fidelity` (the asset rendered from the input camera against the picture).

use std::path::{Path, PathBuf};

use img23d_meshing::Asset;
use img23d_meshing::convert_coordinates::Transform;
use img23d_meshing::render::Fidelity;

use crate::appearance::{self, FIDELITY_SIZE, InputCamera, InputView, fidelity_of, input_view};
use crate::mask_ops::Window;
use crate::output::Staging;
use crate::report::OutputFile;
use crate::stage::Stages;
use crate::{Error, Result};

use super::RunConfig;
use super::picture::Framed;
use super::reconstruct::Reconstructed;

/// The input camera in the output frame and the picture as it framed it: the preview's
/// first tile and the fidelity check's reference.
pub(super) fn view(
    framed: &Framed,
    reconstructed: &Reconstructed,
    to_output: &Transform,
) -> InputView {
    let (window, camera) = match reconstructed {
        Reconstructed::Inflate(_) => (framed.cutout.window_source, InputCamera::Inflate),
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
    input_view(&framed.foreground, window, camera, to_output, FIDELITY_SIZE)
}

/// `preview`: writes `DIR/<stem>.preview.png` (into `staging`) unless `--no-preview`;
/// records it in `outputs`.
pub(super) fn preview(
    stages: &mut Stages,
    config: &RunConfig,
    asset: &Asset,
    view: &InputView,
    input: &Path,
    staging: &mut Staging,
    outputs: &mut Vec<OutputFile>,
) -> Result<Option<PathBuf>> {
    if !config.preview {
        return Ok(None);
    }
    let path = config.preview_path(input)?;
    let staged = staging.path(&path)?;
    stages.run(
        "preview",
        || {
            appearance::write_preview(asset, view, &staged, config.limits)
                .map_err(Error::stage("preview", input))
        },
        |(w, h)| {
            format!(
                "{} ({w}x{h}: the input view, then 8 views around)",
                path.display()
            )
        },
    )?;
    outputs.push(staging.add("preview", &staged));
    Ok(Some(path))
}

/// `fidelity`: silhouette IoU and color PSNR from the input camera.
pub(super) fn fidelity(
    stages: &mut Stages,
    asset: &Asset,
    view: &InputView,
    input: &Path,
) -> Result<Fidelity> {
    stages.run(
        "fidelity",
        || fidelity_of(asset, view).map_err(Error::stage("fidelity", input)),
        |f| {
            format!(
                "from the input camera: silhouette IoU {:.3}, color PSNR {:.1} dB",
                f.iou, f.psnr
            )
        },
    )
}
