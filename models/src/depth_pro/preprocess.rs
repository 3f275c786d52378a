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
//! The bilinear resize mirrors PyTorch's `upsample_bilinear2d` with `align_corners=False`:
//! source coordinate `(dst + 0.5) · in/out - 0.5`, clamped at 0 from below, the upper tap
//! clamped to the last pixel. The same taps serve the post-processing resize of the
//! inverse depth back to the picture's size.

use image::RgbImage;

/// Side of Depth Pro's square input and output: `img_size = 4 * 384`, the 384-pixel
/// DINOv2 ViT-L patch size times 4 (`depth_pro.py`, `DepthPro.__init__`; `forward` asserts
/// `H == W == img_size`).
pub const INPUT_SIZE: usize = 1536;

/// Per-channel normalisation mean (`depth_pro.py`, `create_model_and_transforms`:
/// `Normalize([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])`).
pub const MEAN: [f32; 3] = [0.5, 0.5, 0.5];

/// Per-channel normalisation standard deviation (same `Normalize` as [`MEAN`]).
pub const STD: [f32; 3] = [0.5, 0.5, 0.5];

/// Interpolation taps along one axis: for each output index, the two input indices and
/// their weights.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Taps {
    pub lo: Vec<usize>,
    pub hi: Vec<usize>,
    pub w_lo: Vec<f32>,
    pub w_hi: Vec<f32>,
}

impl Taps {
    /// PyTorch's `align_corners=False` linear taps from `in_len` to `out_len` samples.
    pub(crate) fn linear(in_len: usize, out_len: usize) -> Self {
        let scale = in_len as f32 / out_len as f32;
        let mut t = Self {
            lo: Vec::with_capacity(out_len),
            hi: Vec::with_capacity(out_len),
            w_lo: Vec::with_capacity(out_len),
            w_hi: Vec::with_capacity(out_len),
        };
        for dst in 0..out_len {
            let src = (scale * (dst as f32 + 0.5) - 0.5).max(0.0);
            let i0 = (src as usize).min(in_len - 1);
            let i1 = if i0 < in_len - 1 { i0 + 1 } else { i0 };
            let l1 = (src - i0 as f32).clamp(0.0, 1.0);
            t.lo.push(i0);
            t.hi.push(i1);
            t.w_lo.push(1.0 - l1);
            t.w_hi.push(l1);
        }
        t
    }
}

/// Bilinear resize of a single-channel `sw × sh` float image to `dw × dh` with PyTorch's
/// `align_corners=False` convention and no antialias filter, into `out` (`dw × dh`,
/// row-major). Rows run in parallel.
///
/// # Panics
///
/// Panics when `src` or `out` is shorter than its size says, or a size is zero (callers
/// in this crate check sizes first).
#[cfg(test)]
pub(crate) fn resize_bilinear(
    src: &[f32],
    (sw, sh): (usize, usize),
    out: &mut [f32],
    (dw, dh): (usize, usize),
) {
    resize_bilinear_map(src, (sw, sh), out, (dw, dh), |v| v);
}

/// [`resize_bilinear`] followed by `post` on every output value, in the same pass.
pub(crate) fn resize_bilinear_map(
    src: &[f32],
    (sw, sh): (usize, usize),
    out: &mut [f32],
    (dw, dh): (usize, usize),
    post: impl Fn(f32) -> f32 + Sync,
) {
    use rayon::prelude::*;
    let tx = Taps::linear(sw, dw);
    let ty = Taps::linear(sh, dh);
    // Blend the two source rows first (sw values), then interpolate along the row: the
    // same weights as PyTorch's h0·(w0·a + w1·b) + h1·(w0·c + w1·d), associated
    // differently (equal up to float rounding).
    out[..dw * dh].par_chunks_mut(dw).enumerate().for_each_init(
        || vec![0.0f32; sw],
        |blend, (y, row)| {
            let r0 = &src[ty.lo[y] * sw..(ty.lo[y] + 1) * sw];
            let r1 = &src[ty.hi[y] * sw..(ty.hi[y] + 1) * sw];
            let (h0, h1) = (ty.w_lo[y], ty.w_hi[y]);
            for ((b, &a), &c) in blend.iter_mut().zip(r0).zip(r1) {
                *b = h0 * a + h1 * c;
            }
            for ((((o, &x0), &x1), &w0), &w1) in row
                .iter_mut()
                .zip(&tx.lo)
                .zip(&tx.hi)
                .zip(&tx.w_lo)
                .zip(&tx.w_hi)
            {
                *o = post(w0 * blend[x0] + w1 * blend[x1]);
            }
        },
    );
}

/// The network input for `image`: `1 × 3 × 1536 × 1536` floats in `[-1, 1]`, NCHW.
pub fn preprocess(image: &RgbImage) -> Vec<f32> {
    let mut out = vec![0.0f32; 3 * INPUT_SIZE * INPUT_SIZE];
    preprocess_into(image, &mut out);
    out
}

/// [`preprocess`] into a caller-owned buffer of `3 × 1536 × 1536` floats (reused across
/// pictures).
///
/// # Panics
///
/// Panics when `out` holds fewer than `3 × 1536 × 1536` floats, or the image is empty.
pub fn preprocess_into(image: &RgbImage, out: &mut [f32]) {
    use rayon::prelude::*;
    let (w, h) = (image.width() as usize, image.height() as usize);
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values from `tools/depth_pro_reference.py` (ONNX Runtime's `Resize`,
    /// `pytorch_half_pixel`, no antialias: an independent implementation of PyTorch's
    /// `align_corners=False`).
    #[test]
    fn taps_match_onnx_resize() {
        let src = [0.0, 1.0, 2.0, 3.0];
        let mut out = [0.0f32; 8];
        resize_bilinear(&src, (4, 1), &mut out, (8, 1));
        assert_eq!(out, [0.0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.0]);
        // Downscaling 8 -> 3 without antialias.
        let src: Vec<f32> = (0..8).map(|x| x as f32).collect();
        let mut out = [0.0f32; 3];
        resize_bilinear(&src, (8, 1), &mut out, (3, 1));
        for (o, e) in out.iter().zip([8.333_334e-1, 3.5, 6.166_667]) {
            assert!((o - e).abs() < 1e-6, "{out:?}");
        }
    }

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
        let x = preprocess(&img);
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
        let x = preprocess(&img);
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
        let x = preprocess(&img);
        let plane = INPUT_SIZE * INPUT_SIZE;
        assert_eq!(x[0], -1.0);
        assert!((x[plane + 1000] - (51.0 / 127.5 - 1.0)).abs() < 1e-6);
        assert_eq!(x[2 * plane + plane - 1], 1.0);
    }
}
