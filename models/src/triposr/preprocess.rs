//! TripoSR's image preprocessing, step for step as upstream does it
//! (VAST-AI-Research/TripoSR: `run.py` l.139–151, `tsr/utils.py` `resize_foreground`
//! and `ImagePreprocessor`):
//!
//! 1. Crop to the bounding box of the pixels whose alpha is above zero. Upstream slices
//!    `image[y1:y2, x1:x2]` with the *inclusive* extremes, so the last row and column of
//!    the object are dropped; we do the same (a one-pixel box keeps its pixel).
//! 2. Pad (transparent black) to a centred square, then pad again to
//!    `int(side / ratio)` so the object fills `ratio` of the side
//!    ([`FOREGROUND_RATIO`] = 0.85 by default).
//! 3. Composite over gray: `rgb * a + 0.5 * (1 - a)` in `[0, 1]`, then back to 8 bits with
//!    truncation (`(x * 255).astype(uint8)`), as `run.py` does before saving `input.png`.
//! 4. Resize to [`COND_IMAGE_SIZE`]² with `F.interpolate(mode="bilinear",
//!    antialias=True, align_corners=False)` ([`crate::resample`], triangle filter).
//! 5. Hand the encoder `[1, 3, 512, 512]` RGB in `[0, 1]` (NCHW). ImageNet mean/std is
//!    applied inside the public encoder graphs (`tsr/models/tokenizers/image.py`); for an
//!    export that expects it outside, [`normalize_imagenet`] applies it here.
//!
//! The padded canvas is never materialised: rows are composed on the fly for the resize,
//! so a large photo with a small object costs no more memory than the crop.

use image::RgbaImage;

use crate::resample::{Filter, ResampleError, resize_rows};

/// Side of the square image the encoder takes (`cond_image_size: 512` in TripoSR's
/// `config.yaml`).
pub const COND_IMAGE_SIZE: u32 = 512;

/// Fraction of the side the object fills after padding (`--foreground-ratio` default in
/// `run.py` and the gradio app).
pub const FOREGROUND_RATIO: f32 = 0.85;

/// The gray the foreground is composited on (`run.py` l.146).
pub const BACKGROUND_GRAY: f32 = 0.5;

/// ImageNet mean, applied by TripoSR's DINO tokenizer (`tokenizers/image.py`).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet standard deviation, applied by TripoSR's DINO tokenizer.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Options of [`preprocess`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreprocessOptions {
    /// Fraction of the square side the object fills, in `(0, 1]`. By default, 0.85.
    pub foreground_ratio: f32,
    /// Side of the output square in pixels. By default, 512.
    pub size: u32,
}

impl Default for PreprocessOptions {
    fn default() -> Self {
        Self {
            foreground_ratio: FOREGROUND_RATIO,
            size: COND_IMAGE_SIZE,
        }
    }
}

/// Why preprocessing failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PreprocessError {
    /// No pixel has alpha above zero: there is no object to frame.
    #[error("the foreground mask is empty: no pixel of the {width}x{height} picture is foreground")]
    NoForeground {
        /// Picture width.
        width: u32,
        /// Picture height.
        height: u32,
    },
    /// The foreground ratio is outside `(0, 1]`.
    #[error("invalid foreground ratio: expected a value in (0, 1], got {got}")]
    InvalidRatio {
        /// The value given.
        got: f32,
    },
    /// The output size is zero.
    #[error("invalid output size: expected at least 1 pixel, got {got}")]
    InvalidSize {
        /// The value given.
        got: u32,
    },
    /// Resizing failed.
    #[error(transparent)]
    Resample(#[from] ResampleError),
}

/// Where the object sat and how it was framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    /// Crop box in the picture: `[x0, y0, x1, y1)` (end exclusive).
    pub crop: [u32; 4],
    /// Side of the padded square canvas, in picture pixels.
    pub canvas: u32,
    /// Offset of the crop inside the canvas: `(x, y)`.
    pub offset: [u32; 2],
}

/// The encoder's input and how it was made.
#[derive(Debug, Clone)]
pub struct Preprocessed {
    /// `3 * size * size` floats, RGB planes (NCHW without the batch axis), in `[0, 1]`.
    pub tensor: Vec<f32>,
    /// Side of the square.
    pub size: u32,
    /// The crop and padding applied.
    pub framing: Framing,
}

impl Preprocessed {
    /// The tensor as an 8-bit RGB picture (what the encoder sees), for reports.
    pub fn to_rgb_image(&self) -> image::RgbImage {
        let s = self.size as usize;
        let plane = s * s;
        image::RgbImage::from_fn(self.size, self.size, |x, y| {
            let i = y as usize * s + x as usize;
            image::Rgb(
                [0, 1, 2]
                    .map(|c| (self.tensor[c * plane + i].clamp(0.0, 1.0) * 255.0).round() as u8),
            )
        })
    }
}

/// TripoSR's preprocessing of a picture whose alpha channel is the foreground mask.
pub fn preprocess(
    rgba: &RgbaImage,
    options: &PreprocessOptions,
) -> Result<Preprocessed, PreprocessError> {
    let ratio = options.foreground_ratio;
    if !(ratio > 0.0 && ratio <= 1.0) {
        return Err(PreprocessError::InvalidRatio { got: ratio });
    }
    if options.size == 0 {
        return Err(PreprocessError::InvalidSize { got: options.size });
    }
    let framing = frame(rgba, ratio)?;
    let [x0, y0, x1, y1] = framing.crop;
    let (cw, ch) = ((x1 - x0) as usize, (y1 - y0) as usize);
    let canvas = framing.canvas as usize;
    let [ox, oy] = framing.offset.map(|v| v as usize);
    // Transparent black composited on gray, truncated to 8 bits as upstream does.
    let bg = composite_u8([0, 0, 0, 0]);
    let fill_row = |y: usize, row: &mut [f32]| {
        for px in row.chunks_exact_mut(3) {
            px.copy_from_slice(&bg);
        }
        if y < oy || y >= oy + ch {
            return;
        }
        let sy = (y - oy) as u32 + y0;
        for cx in 0..cw {
            let p = rgba.get_pixel(x0 + cx as u32, sy).0;
            row[(ox + cx) * 3..(ox + cx) * 3 + 3].copy_from_slice(&composite_u8(p));
        }
    };
    let size = options.size as usize;
    let hwc = resize_rows(canvas, canvas, 3, size, size, Filter::Triangle, fill_row)?;
    let plane = size * size;
    let mut tensor = vec![0.0f32; 3 * plane];
    for (i, px) in hwc.chunks_exact(3).enumerate() {
        for c in 0..3 {
            tensor[c * plane + i] = px[c];
        }
    }
    Ok(Preprocessed {
        tensor,
        size: options.size,
        framing,
    })
}

/// Applies ImageNet mean/std to a `[3, H, W]` tensor in place, for encoder exports whose
/// graph expects normalised input.
pub fn normalize_imagenet(tensor: &mut [f32]) {
    let plane = tensor.len() / 3;
    for (c, chunk) in tensor.chunks_exact_mut(plane.max(1)).take(3).enumerate() {
        for v in chunk {
            *v = (*v - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
        }
    }
}

/// `rgb * a + 0.5 * (1 - a)` in float32, truncated to 8 bits, returned in `[0, 1]`.
fn composite_u8(p: [u8; 4]) -> [f32; 3] {
    let a = f32::from(p[3]) / 255.0;
    [0, 1, 2].map(|c| {
        let v = f32::from(p[c]) / 255.0 * a + (1.0 - a) * BACKGROUND_GRAY;
        // `astype(np.uint8)` truncates toward zero.
        f32::from((v * 255.0) as u8) / 255.0
    })
}

/// The crop box and padding of `resize_foreground`.
fn frame(rgba: &RgbaImage, ratio: f32) -> Result<Framing, PreprocessError> {
    let (w, h) = rgba.dimensions();
    let (mut xmin, mut ymin, mut xmax, mut ymax) = (u32::MAX, u32::MAX, 0u32, 0u32);
    for (y, row) in rgba.rows().enumerate() {
        for (x, p) in row.enumerate() {
            if p.0[3] > 0 {
                let (x, y) = (x as u32, y as u32);
                xmin = xmin.min(x);
                xmax = xmax.max(x);
                ymin = ymin.min(y);
                ymax = ymax.max(y);
            }
        }
    }
    if xmin == u32::MAX {
        return Err(PreprocessError::NoForeground {
            width: w,
            height: h,
        });
    }
    // Upstream's `image[y1:y2, x1:x2]` with inclusive extremes: the end is exclusive.
    // Keep at least one pixel so a one-pixel-thin object still frames.
    let x1 = xmax.max(xmin + 1);
    let y1 = ymax.max(ymin + 1);
    let (cw, ch) = (x1 - xmin, y1 - ymin);
    let side = cw.max(ch);
    let (pw0, ph0) = ((side - cw) / 2, (side - ch) / 2);
    // `int(side / ratio)`: Python divides in double precision.
    let canvas = ((f64::from(side) / f64::from(ratio)) as u32).max(side);
    let pad0 = (canvas - side) / 2;
    Ok(Framing {
        crop: [xmin, ymin, x1, y1],
        canvas,
        offset: [pad0 + pw0, pad0 + ph0],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture() -> RgbaImage {
        // 40x30 picture; opaque red rectangle x in 10..=29, y in 5..=14, with a
        // half-transparent green pixel at its top-left corner.
        let mut img = RgbaImage::from_pixel(40, 30, image::Rgba([9, 9, 9, 0]));
        for y in 5..=14 {
            for x in 10..=29 {
                img.put_pixel(x, y, image::Rgba([255, 0, 0, 255]));
            }
        }
        img.put_pixel(10, 5, image::Rgba([0, 255, 0, 128]));
        img
    }

    #[test]
    fn framing_matches_upstream_slicing() {
        let f = frame(&picture(), 0.85).unwrap();
        // Inclusive extremes 10..=29, 5..=14 sliced as [10:29, 5:14].
        assert_eq!(f.crop, [10, 5, 29, 14]);
        // 19x9 crop -> 19 square, int(19 / 0.85) = 22.
        assert_eq!(f.canvas, 22);
        // (22-19)//2 = 1 horizontally; vertically 1 + (19-9)//2 = 6.
        assert_eq!(f.offset, [1, 6]);
    }

    #[test]
    fn composite_truncates_like_numpy() {
        // 0.5 gray: 127.5 -> 127.
        assert_eq!(composite_u8([0, 0, 0, 0]), [127.0 / 255.0; 3]);
        // a = 128/255: g = 1 * a + 0.5 * (1 - a) = 0.75098..., * 255 = 191.5 -> 191.
        let g = composite_u8([0, 255, 0, 128]);
        assert_eq!(g[1], 191.0 / 255.0);
        assert_eq!(composite_u8([255, 0, 0, 255]), [1.0, 0.0, 0.0]);
    }

    #[test]
    fn output_is_square_planar_and_in_range() {
        let p = preprocess(
            &picture(),
            &PreprocessOptions {
                size: 64,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(p.tensor.len(), 3 * 64 * 64);
        assert!(p.tensor.iter().all(|v| (0.0..=1.0).contains(v)));
        // Corner: background gray; centre: red.
        let plane = 64 * 64;
        assert!((p.tensor[0] - 127.0 / 255.0).abs() < 1e-6);
        let centre = 32 * 64 + 32;
        assert!((p.tensor[centre] - 1.0).abs() < 1e-6);
        assert!(p.tensor[plane + centre].abs() < 1e-6);
    }

    #[test]
    fn errors() {
        let empty = RgbaImage::new(8, 8);
        assert!(matches!(
            preprocess(&empty, &PreprocessOptions::default()),
            Err(PreprocessError::NoForeground { .. })
        ));
        for r in [0.0, 1.5, f32::NAN] {
            let o = PreprocessOptions {
                foreground_ratio: r,
                ..Default::default()
            };
            assert!(matches!(
                preprocess(&picture(), &o),
                Err(PreprocessError::InvalidRatio { .. })
            ));
        }
    }

    #[test]
    fn imagenet_normalisation() {
        let mut t = vec![0.485, 0.456, 0.406 + 0.225];
        normalize_imagenet(&mut t);
        assert!(t[0].abs() < 1e-6 && t[1].abs() < 1e-6 && (t[2] - 1.0).abs() < 1e-6);
    }
}
