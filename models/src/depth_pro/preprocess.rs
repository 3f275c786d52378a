//! Depth Pro preprocessing, as Apple's reference does it (`apple/ml-depth-pro`,
//! `src/depth_pro/depth_pro.py`: `create_model_and_transforms` and `DepthPro.infer`):
//!
//! 1. RGB bytes to float in `[0, 1]` (`ToTensor`), then `Normalize(mean 0.5, std 0.5)`,
//!    i.e. `x/127.5 - 1` in `[-1, 1]`;
//! 2. a bilinear resize to 1536×1536 with `align_corners=False` and no antialias filter —
//!    the picture is stretched, its aspect ratio is not kept;
//! 3. NCHW planar layout, batch 1.
//!
//! Normalising before or after the resize gives the same values up to rounding (both are
//! linear); like Apple, this code normalises first (through a 256-entry table) and
//! interpolates the normalised floats.
//!
//! The bilinear resize is PyTorch's `upsample_bilinear2d` with `align_corners=False`
//! ([`crate::resample::bilinear`]); the same taps serve the post-processing resize of the
//! inverse depth back to the picture's size.

use image::RgbImage;

use super::PostprocessError;
use crate::resample::bilinear::Taps;

/// Side of Depth Pro's square input and output: `img_size = 4 * 384`, the 384-pixel
/// DINOv2 ViT-L patch size times 4 (`depth_pro.py`, `DepthPro.__init__`; `forward` asserts
/// `H == W == img_size`).
pub const INPUT_SIZE: usize = 1536;

/// Per-channel normalisation mean (`depth_pro.py`, `create_model_and_transforms`:
/// `Normalize([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])`).
pub const MEAN: [f32; 3] = [0.5, 0.5, 0.5];

/// Per-channel normalisation standard deviation (same `Normalize` as [`MEAN`]).
pub const STD: [f32; 3] = [0.5, 0.5, 0.5];

/// The network input for `image`: `1 × 3 × 1536 × 1536` floats in `[-1, 1]`, NCHW.
/// Errors for an empty image.
pub fn preprocess(image: &RgbImage) -> Result<Vec<f32>, PostprocessError> {
    let mut out = vec![0.0f32; 3 * INPUT_SIZE * INPUT_SIZE];
    preprocess_into(image, &mut out)?;
    Ok(out)
}

/// [`preprocess`] into a caller-owned buffer of `3 × 1536 × 1536` floats (reused across
/// pictures). Errors (issue 12: it used to panic) when `out` holds fewer floats or the
/// image has no pixels.
pub fn preprocess_into(image: &RgbImage, out: &mut [f32]) -> Result<(), PostprocessError> {
    use rayon::prelude::*;
    let (w, h) = (image.width() as usize, image.height() as usize);
    let need = 3 * INPUT_SIZE * INPUT_SIZE;
    if w == 0 || h == 0 {
        return Err(PostprocessError::Input {
            reason: format!("the picture is {w}x{h} pixels"),
        });
    }
    if out.len() < need {
        return Err(PostprocessError::Input {
            reason: format!("the buffer holds {} floats, {need} are needed", out.len()),
        });
    }
    // ToTensor (x / 255) then Normalize ((x - mean) / std), per byte value and channel.
    let lut: [[f32; 256]; 3] =
        std::array::from_fn(|c| std::array::from_fn(|v| (v as f32 / 255.0 - MEAN[c]) / STD[c]));
    let tx = Taps::linear(w, INPUT_SIZE);
    let ty = Taps::linear(h, INPUT_SIZE);
    let raw = image.as_raw();
    let plane = INPUT_SIZE * INPUT_SIZE;
    out[..3 * plane]
        .par_chunks_mut(INPUT_SIZE)
        .enumerate()
        .for_each(|(row_index, row)| {
            let (c, y) = (row_index / INPUT_SIZE, row_index % INPUT_SIZE);
            let lut = &lut[c];
            let r0 = &raw[ty.lo[y] * w * 3..(ty.lo[y] + 1) * w * 3];
            let r1 = &raw[ty.hi[y] * w * 3..(ty.hi[y] + 1) * w * 3];
            let (h0, h1) = (ty.w_lo[y], ty.w_hi[y]);
            for (x, o) in row.iter_mut().enumerate() {
                let (x0, x1) = (tx.lo[x] * 3 + c, tx.hi[x] * 3 + c);
                let (w0, w1) = (tx.w_lo[x], tx.w_hi[x]);
                *o = h0 * (w0 * lut[usize::from(r0[x0])] + w1 * lut[usize::from(r0[x1])])
                    + h1 * (w0 * lut[usize::from(r1[x0])] + w1 * lut[usize::from(r1[x1])]);
            }
        });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values from `tools/depth_pro_reference.py`, section 2.
    #[test]
    fn preprocess_matches_reference() {
        let img = RgbImage::from_fn(5, 3, |u, v| {
            image::Rgb([
                ((37 * u + 11 * v) % 256) as u8,
                ((53 * u + 7 * v + 100) % 256) as u8,
                ((19 * u * v + 3) % 256) as u8,
            ])
        });
        let x = preprocess(&img).unwrap();
        let probes = [
            ((0, 0, 0), -1.0),
            ((0, 700, 901), -2.185_967_9e-1),
            ((1, 1535, 3), -1.058_823_5e-1),
            ((2, 512, 1024), -7.648_256_4e-1),
            ((1, 250, 1300), -6.716_069_6e-1),
            ((2, 1535, 1535), 2.156_863_2e-1),
        ];
        for ((c, y, xx), e) in probes {
            let got = x[(c * INPUT_SIZE + y) * INPUT_SIZE + xx];
            assert!((got - e).abs() < 1e-5, "({c}, {y}, {xx}): {got} vs {e}");
        }
    }

    #[test]
    fn stretches_and_normalises() {
        // A 2x1 picture: black left, white right. After stretching to 1536 wide, the left
        // quarter is -1, the right quarter +1, and every row is the same (H is stretched).
        let mut img = RgbImage::new(2, 1);
        img.put_pixel(1, 0, image::Rgb([255, 255, 255]));
        let x = preprocess(&img).unwrap();
        assert_eq!(x.len(), 3 * INPUT_SIZE * INPUT_SIZE);
        let row = |c: usize, y: usize| &x[(c * INPUT_SIZE + y) * INPUT_SIZE..][..INPUT_SIZE];
        assert_eq!(row(0, 0)[0], -1.0);
        assert_eq!(row(0, 0)[383], -1.0);
        assert_eq!(row(2, 0)[1535], 1.0);
        assert_eq!(row(1, 1535), row(1, 0));
        // The middle is the average of the two pixels: 0.
        let mid = 0.5 * (row(0, 7)[767] + row(0, 7)[768]);
        assert!(mid.abs() < 1e-6);
        // Monotone across the stretch.
        assert!(row(0, 3).windows(2).all(|p| p[0] <= p[1]));
    }

    #[test]
    fn channels_are_planar_in_rgb_order() {
        let img = RgbImage::from_pixel(3, 5, image::Rgb([0, 51, 255]));
        let x = preprocess(&img).unwrap();
        let plane = INPUT_SIZE * INPUT_SIZE;
        assert_eq!(x[0], -1.0);
        assert!((x[plane + 1000] - (51.0 / 127.5 - 1.0)).abs() < 1e-6);
        assert_eq!(x[2 * plane + plane - 1], 1.0);
    }

    /// Issue 12: an empty picture or a short buffer is an error, not a panic.
    #[test]
    fn empty_pictures_and_short_buffers_are_errors() {
        let e = preprocess(&RgbImage::new(0, 5)).unwrap_err().to_string();
        assert!(e.contains("0x5 pixels"), "{e}");
        let mut short = vec![0.0; 10];
        let e = preprocess_into(&RgbImage::new(2, 2), &mut short)
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds 10 floats"), "{e}");
    }
}
