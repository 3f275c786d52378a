//! The picture's stages: `load`, the background method (with the `segmentation` stage
//! when the model makes the mask), and `foreground`: the object's mask, cropped and
//! padded into the reconstruction's square.

use std::path::Path;

use crate::Result;
use crate::foreground::{Cutout, Foreground, ForegroundOptions, cut_out, find_foreground};
use crate::image::{ImageInfo, LoadedImage, load_image};
use crate::neural::{
    BackgroundMethod, NeuralModels, ReconstructionChoice, choose_background, flatten_on_gray,
    segment, segmentation_model,
};
use crate::stage::Stages;

use super::RunConfig;

/// Largest side of the square raster the reconstruction reads.
const MAX_SQUARE: usize = 2048;
/// Smallest side of the square raster the reconstruction reads.
const MIN_SQUARE: usize = 256;

/// The picture with its object found.
pub(super) struct Framed {
    /// What was read.
    pub info: ImageInfo,
    /// Where the mask came from.
    pub background: BackgroundMethod,
    /// The object's mask and colors at analysis resolution.
    pub foreground: Foreground,
    /// The reconstruction's square.
    pub cutout: Cutout,
    /// The full-resolution picture (its mask as alpha) TripoSR's own preprocessing
    /// starts from, when TripoSR runs.
    pub triposr_source: Option<LoadedImage>,
}

/// `load`: decodes the picture (EXIF orientation applied, sizes checked first).
pub(super) fn load(stages: &mut Stages, config: &RunConfig, input: &Path) -> Result<LoadedImage> {
    stages.run(
        "load",
        || load_image(input, &config.limits),
        |img| {
            let i = &img.info;
            format!(
                "{}x{} {} {} {}-bit",
                i.width, i.height, i.format, i.channels, i.bits_per_channel
            )
        },
    )
}

/// The background method for this picture, and the picture ready for it: the
/// segmentation model's mask becomes its alpha (the `segmentation` stage); for keying, a
/// transparent picture is flattened on gray first.
pub(super) fn remove_background(
    stages: &mut Stages,
    config: &RunConfig,
    neural: &NeuralModels,
    image: LoadedImage,
    input: &Path,
) -> Result<(LoadedImage, BackgroundMethod)> {
    let background = choose_background(
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
                    "mask from the {} model on {}",
                    segmentation_model(),
                    seg.execution_provider()
                )
            },
        )?,
        (BackgroundMethod::Key, _) if image.has_transparency() => flatten_on_gray(image),
        _ => image,
    };
    Ok((image, background))
}

/// `foreground`: finds the object, then crops and pads it into the reconstruction's
/// square. Keying consumes the picture; TripoSR keeps its own copy for its
/// full-resolution preprocessing.
pub(super) fn foreground(
    stages: &mut Stages,
    config: &RunConfig,
    neural: &NeuralModels,
    image: LoadedImage,
    background: BackgroundMethod,
) -> Result<Framed> {
    let info = image.info.clone();
    let triposr_source = match (&neural.reconstruction, &neural.triposr) {
        (ReconstructionChoice::Triposr, Some(_)) => Some(image.clone()),
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
    Ok(Framed {
        info,
        background,
        foreground,
        cutout,
        triposr_source,
    })
}
