//! A photo's measuring stages: `load` (with its EXIF 35 mm focal length), `network`
//! (Depth Pro's raw outputs), `metric depth` (at the photo's size, with the focal length
//! from `--focal-px`, EXIF or the network) and `statistics`.

use std::path::Path;

use image::RgbImage;
use img23d_meshing::depth::DepthStats;
use img23d_models::depth_pro::{
    self, DepthPro, FocalSource, KnownFocal, MetricDepth, focal_length_35mm, focal_px_from_35mm,
};

use crate::report::DepthModelReport;
use crate::stage::Stages;
use crate::{Error, Result};

use super::DepthConfig;

/// `load`: the photo as 8-bit RGB (alpha dropped, as Apple's `load_rgb` does) and its
/// EXIF 35 mm-equivalent focal length unless `--no-exif-focal`.
pub(super) fn load(
    stages: &mut Stages,
    config: &DepthConfig,
    photo: &Path,
) -> Result<(RgbImage, Option<f32>)> {
    stages.run(
        "load",
        || {
            let loaded = crate::image::load_image(photo, &config.limits)?;
            let exif = if config.exif_focal {
                read_exif(photo).as_deref().and_then(focal_length_35mm)
            } else {
                None
            };
            Ok((to_rgb8(&loaded.rgba), exif))
        },
        |(img, f35)| {
            format!(
                "{}x{}{}",
                img.width(),
                img.height(),
                f35.map(|f| format!(", EXIF focal {f} mm (35 mm equivalent)"))
                    .unwrap_or_default()
            )
        },
    )
}

/// `network` and `metric depth`: Depth Pro on the photo, then depth in meters at the
/// photo's size, scaled with the known focal length when there is one.
pub(super) fn metric_depth(
    stages: &mut Stages,
    config: &DepthConfig,
    model: &mut DepthPro,
    model_report: &DepthModelReport,
    rgb: &RgbImage,
    exif_f35: Option<f32>,
) -> Result<MetricDepth> {
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let known = match (config.focal_px, exif_f35) {
        (Some(px), _) => Some(KnownFocal {
            px,
            source: FocalSource::User,
        }),
        (None, Some(f35)) => Some(KnownFocal {
            px: focal_px_from_35mm(f35, w, h),
            source: FocalSource::Exif,
        }),
        (None, None) => None,
    };
    let raw = stages.run(
        "network",
        || Ok(model.infer(rgb)?),
        |_| model_report.execution_provider.clone(),
    )?;
    stages.run(
        "metric depth",
        || {
            let (map, scalar, semantics) = (&raw.map, raw.scalar, raw.semantics);
            depth_pro::metric_depth(map, scalar, semantics, (w, h), known, &config.limits)
                .map_err(|e| img23d_models::Error::from(e).into())
        },
        |m| {
            format!(
                "focal {:.1} px ({}), network fov {:.1} deg",
                m.focal_px,
                source_name(m.focal_source),
                m.network_fov_deg
            )
        },
    )
}

/// `statistics`: min, median and max depth; an error when no pixel has a depth.
pub(super) fn statistics(
    stages: &mut Stages,
    depth: &MetricDepth,
    photo: &Path,
) -> Result<DepthStats> {
    stages
        .run(
            "statistics",
            || Ok(depth.depth.stats()?),
            |s| match s {
                Some(s) => format!(
                    "depth {:.3} / {:.3} / {:.3} m (min / median / max)",
                    s.min, s.median, s.max
                ),
                None => "no valid depth".to_string(),
            },
        )?
        .ok_or_else(|| {
            Error::stage("metric depth", photo)(img23d_meshing::Error::invalid_parameter(
                "depth map",
                "at least one pixel with a finite, positive depth",
                "none",
            ))
        })
}

fn source_name(s: FocalSource) -> &'static str {
    match s {
        FocalSource::Network => "network estimate",
        FocalSource::Exif => "EXIF",
        FocalSource::User => "--focal-px",
    }
}

/// The raw EXIF block of a photo, if its format carries one (a cheap header read; any
/// failure means "no EXIF").
fn read_exif(path: &Path) -> Option<Vec<u8>> {
    use image::ImageDecoder;
    let reader = image::ImageReader::open(path)
        .ok()?
        .with_guessed_format()
        .ok()?;
    let mut decoder = reader.into_decoder().ok()?;
    decoder.exif_metadata().ok().flatten()
}

/// 8-bit RGB of a loaded picture; alpha is dropped, as Apple's `load_rgb` does.
fn to_rgb8(rgba: &image::Rgba32FImage) -> RgbImage {
    let q = |c: f32| (c.clamp(0.0, 1.0) * 255.0).round() as u8;
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let p = rgba.get_pixel(x, y).0;
        image::Rgb([q(p[0]), q(p[1]), q(p[2])])
    })
}
