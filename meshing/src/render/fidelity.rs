//! How faithfully an asset reproduces its input picture: render it from the input
//! camera (unlit, one sample per pixel) and compare with the picture — silhouette IoU
//! against the foreground mask, and color PSNR where both the mask and the render cover.
//! Flipped textures, wrong axes, misplaced UVs and lost detail all show up here.

use image::{GrayImage, RgbaImage};

use super::{Camera, RenderOptions, Shading, render};
use crate::{Asset, Error, Limits, Result};

/// PSNR reported when the colors match exactly (a finite number for JSON reports).
pub const PSNR_CAP_DB: f64 = 100.0;

/// Fidelity figures (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Fidelity {
    /// |render ∩ mask| / |render ∪ mask| over pixels (1 is a perfect silhouette).
    pub iou: f64,
    /// 10·log10(255² / MSE) over RGB where mask and render overlap, in dB (capped at
    /// [`PSNR_CAP_DB`]; 0 when they do not overlap).
    pub psnr: f64,
    /// Pixels in the foreground mask.
    pub mask_pixels: usize,
    /// Pixels the render covers.
    pub render_pixels: usize,
}

/// Compares `asset` seen from `camera` with `picture` and its foreground `mask` (both the
/// same size; mask values above 127 are foreground).
pub fn fidelity(
    asset: &Asset,
    camera: &Camera,
    picture: &RgbaImage,
    mask: &GrayImage,
) -> Result<Fidelity> {
    let (w, h) = picture.dimensions();
    if mask.dimensions() != (w, h) {
        return Err(Error::invalid_parameter(
            "mask",
            format!("the picture's size {w}x{h}"),
            format!("{}x{}", mask.width(), mask.height()),
        ));
    }
    let _span = tracing::debug_span!("fidelity", w, h).entered();
    let rendered = render(
        asset,
        camera,
        w,
        h,
        &RenderOptions {
            shading: Shading::Unlit,
            supersample: 1,
            double_sided: None,
            limits: Limits::default(),
        },
    )?;
    let (mut inter, mut union, mut in_mask, mut in_render) = (0usize, 0usize, 0usize, 0usize);
    let mut sq = 0.0f64;
    for ((r, p), m) in rendered
        .image
        .pixels()
        .zip(picture.pixels())
        .zip(mask.pixels())
    {
        let covered = r.0[3] >= 128;
        let fg = m.0[0] > 127;
        in_mask += usize::from(fg);
        in_render += usize::from(covered);
        union += usize::from(fg || covered);
        if fg && covered {
            inter += 1;
            for k in 0..3 {
                let d = f64::from(r.0[k]) - f64::from(p.0[k]);
                sq += d * d;
            }
        }
    }
    let iou = if union > 0 {
        inter as f64 / union as f64
    } else {
        0.0
    };
    let psnr = if inter == 0 {
        0.0
    } else {
        let mse = sq / (3 * inter) as f64;
        if mse <= 0.0 {
            PSNR_CAP_DB
        } else {
            (10.0 * (255.0f64 * 255.0 / mse).log10()).min(PSNR_CAP_DB)
        }
    };
    Ok(Fidelity {
        iou,
        psnr,
        mask_pixels: in_mask,
        render_pixels: in_render,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::test_assets::colored_cube;
    use crate::render::Projection;

    fn front() -> Camera {
        Camera {
            eye: [0.0, 0.0, 3.0],
            target: [0.0; 3],
            up: [0.0, 1.0, 0.0],
            projection: Projection::Orthographic { half_height: 1.0 },
        }
    }

    #[test]
    fn a_render_matches_itself_and_a_shifted_mask_does_not() {
        let asset = colored_cube();
        let opts = RenderOptions {
            shading: Shading::Unlit,
            supersample: 1,
            ..RenderOptions::default()
        };
        let picture = render(&asset, &front(), 64, 64, &opts).unwrap().image;
        let mask = GrayImage::from_fn(64, 64, |x, y| {
            image::Luma([if picture.get_pixel(x, y).0[3] > 0 {
                255
            } else {
                0
            }])
        });
        let f = fidelity(&asset, &front(), &picture, &mask).unwrap();
        assert_eq!(f.iou, 1.0);
        assert_eq!(f.psnr, PSNR_CAP_DB);
        assert_eq!(f.mask_pixels, 32 * 32);

        // Mask shifted by 8 pixels: IoU 24/40 = 0.6.
        let shifted = GrayImage::from_fn(64, 64, |x, y| {
            image::Luma([if (24..56).contains(&x) && (16..48).contains(&y) {
                255
            } else {
                0
            }])
        });
        let f = fidelity(&asset, &front(), &picture, &shifted).unwrap();
        assert!((f.iou - 0.6).abs() < 1e-9, "{f:?}");

        // A picture off by 10 levels everywhere: PSNR = 20 log10(255 / 10).
        let mut off = picture.clone();
        for p in off.pixels_mut() {
            for k in 0..3 {
                p.0[k] = p.0[k].saturating_add(10);
            }
        }
        let f = fidelity(&asset, &front(), &off, &mask).unwrap();
        assert!((f.psnr - 20.0 * (25.5f64).log10()).abs() < 0.2, "{f:?}");

        assert!(fidelity(&asset, &front(), &picture, &GrayImage::new(3, 3)).is_err());
    }
}
