//! Finding the object in the picture, then cropping and padding it into the square the
//! reconstruction sees.
//!
//! * **Alpha**: when the picture has real transparency (some pixel not fully opaque), its
//!   alpha channel is the object, as in TripoSR's `remove_background` (`tsr/utils.py`),
//!   which only keys pictures that are fully opaque. Specks smaller than 1% of the largest
//!   piece are dropped.
//! * **Keying** (weight-free, for product shots: an object on a plain or gently shaded
//!   background): a smooth background color model (quadratic in x and y per channel) is
//!   fitted robustly to the picture's border; pixels connected to the border whose color
//!   is within a tolerance of the model (set from the border's own noise) are background
//!   (flood fill); the rest is cleaned by a morphological opening and closing, reduced to
//!   its largest 8-connected component, and its holes are filled.
//! * **Whole picture** (`--no-remove-bg`): everything is the object; transparent pixels
//!   are composited over gray 0.5 as TripoSR does.
//!
//! [`cut_out`] then mirrors TripoSR's `resize_foreground(image, ratio)`: crop to the
//! object's bounding box, pad to a centred square, and pad again so the object spans
//! `ratio` of the side (default 0.85, `run.py --foreground-ratio`).

use std::path::Path;

use rayon::prelude::*;

use crate::image::LoadedImage;
use crate::mask_ops::{self, Raster, Window};
use crate::{Error, Result};

/// Longest side of the raster the foreground is looked for on; larger pictures are
/// shrunk to it first (area-averaged), which bounds the stage's time and memory.
pub const ANALYSIS_SIZE: usize = 1024;

/// How the object was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ForegroundMethod {
    /// The picture's alpha channel.
    Alpha,
    /// Weight-free keying of a plain background.
    Keyed,
    /// The whole picture (`--no-remove-bg`).
    WholePicture,
}

impl ForegroundMethod {
    /// A short description for the stage line.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Alpha => "alpha channel",
            Self::Keyed => "background keyed out (weight-free)",
            Self::WholePicture => "whole picture (--no-remove-bg)",
        }
    }
}

/// Settings of the foreground stage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForegroundOptions {
    /// Look for the object; when false the whole picture is the object. By default, true.
    pub remove_background: bool,
}

impl Default for ForegroundOptions {
    fn default() -> Self {
        Self {
            remove_background: true,
        }
    }
}

/// What keying found, for the report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KeyingStats {
    /// Background color model at the picture's centre (sRGB, `[0, 1]`).
    pub background_color: [f32; 3],
    /// Color distance under which a pixel matches the background.
    pub tolerance: f32,
    /// Fraction of border pixels that fit the background model.
    pub border_fit: f32,
    /// Radius of the opening and closing, in analysis pixels.
    pub morphology_radius: f32,
    /// Separate pieces dropped (only the largest is kept).
    pub components_dropped: usize,
}

/// The object found in a picture, at analysis resolution.
#[derive(Debug, Clone)]
pub struct Foreground {
    /// How it was found.
    pub method: ForegroundMethod,
    /// The picture at analysis resolution: sRGB color premultiplied by coverage, and
    /// coverage (the object's mask, soft at its edges) in the fourth channel.
    pub premultiplied: Raster<[f32; 4]>,
    /// Source pixels per analysis pixel (1 when the picture was small enough).
    pub scale: f64,
    /// Bounding box of the object, analysis pixels: `[x0, y0, x1, y1)`.
    pub bbox: [usize; 4],
    /// Fraction of the picture covered by the object.
    pub coverage: f32,
    /// Keying details (keyed pictures only).
    pub keying: Option<KeyingStats>,
}

impl Foreground {
    /// The object's bounding box in source pixels, `[x0, y0, x1, y1)`.
    pub fn bbox_source(&self) -> [f64; 4] {
        self.bbox.map(|v| v as f64 * self.scale)
    }
}

/// Finds the object in `image` (see the module docs). Consumes the picture: its pixels
/// are premultiplied in place rather than copied (a 100-megapixel picture is 1.6 GB).
pub fn find_foreground(image: LoadedImage, options: &ForegroundOptions) -> Result<Foreground> {
    let _span = tracing::debug_span!("find_foreground").entered();
    let path_buf = image.info.path.clone();
    let path = path_buf.as_path();
    let (sw, sh) = (image.rgba.width() as usize, image.rgba.height() as usize);
    let method = if !options.remove_background {
        ForegroundMethod::WholePicture
    } else if image.has_transparency() {
        ForegroundMethod::Alpha
    } else {
        ForegroundMethod::Keyed
    };
    // Premultiplied source (coverage = alpha, or 1 for the whole picture composited on
    // gray), in place in the decoded buffer, then shrunk to analysis size.
    let mut buffer = image.rgba.into_raw();
    buffer.par_chunks_exact_mut(4).for_each(|p| {
        let a = p[3];
        match method {
            ForegroundMethod::WholePicture => {
                let gray = 0.5 * (1.0 - a);
                for c in &mut p[..3] {
                    *c = *c * a + gray;
                }
                p[3] = 1.0;
            }
            ForegroundMethod::Alpha => {
                for c in &mut p[..3] {
                    *c *= a;
                }
            }
            ForegroundMethod::Keyed => p[3] = 1.0,
        }
    });
    let (pixels, _) = buffer.as_chunks::<4>();
    let scale = (sw.max(sh) as f64 / ANALYSIS_SIZE as f64).max(1.0);
    let mut work = if scale > 1.0 {
        let (aw, ah) = (
            ((sw as f64 / scale).round() as usize).max(1),
            ((sh as f64 / scale).round() as usize).max(1),
        );
        mask_ops::resample_slice(
            pixels,
            sw,
            sh,
            Window {
                x: 0.0,
                y: 0.0,
                width: sw as f64,
                height: sh as f64,
            },
            aw,
            ah,
            mask_ops::Outside::Ignore,
        )
    } else {
        Raster {
            width: sw,
            height: sh,
            data: pixels.to_vec(),
        }
    };
    drop(buffer);
    let mut keying = None;
    match method {
        ForegroundMethod::WholePicture => {}
        ForegroundMethod::Alpha => drop_alpha_specks(&mut work, path)?,
        ForegroundMethod::Keyed => {
            let (mask, stats) = key_background(&work, path)?;
            for (p, &m) in work.data.iter_mut().zip(&mask.data) {
                if !m {
                    *p = [0.0; 4];
                }
            }
            keying = Some(stats);
        }
    }
    let (bbox, coverage) = bbox_and_coverage(&work)
        .ok_or_else(|| no_foreground("nothing is left of the object", path))?;
    Ok(Foreground {
        method,
        premultiplied: work,
        scale,
        bbox,
        coverage,
        keying,
    })
}

/// Clears the pixels of alpha specks: pieces (of pixels at least half opaque) under 1% of
/// the largest, keeping the soft rim of the kept ones.
fn drop_alpha_specks(work: &mut Raster<[f32; 4]>, path: &Path) -> Result<()> {
    let solid = Raster {
        width: work.width,
        height: work.height,
        data: work.data.iter().map(|p| p[3] >= 0.5).collect(),
    };
    if !solid.data.iter().any(|&s| s) {
        return Err(no_foreground(
            "the alpha channel is transparent everywhere (no pixel is at least half \
             opaque)",
            path,
        ));
    }
    // Drop specks: pieces under 1% of the largest.
    let (labels, sizes) = mask_ops::components(&solid, true);
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let keep: Vec<bool> = sizes.iter().map(|&s| s * 100 >= largest).collect();
    let dilated_keep = {
        let kept = Raster {
            width: work.width,
            height: work.height,
            data: labels
                .data
                .iter()
                .map(|&l| l != 0 && keep[l as usize])
                .collect(),
        };
        // Keep the soft rim of kept pieces (pixels below half opacity next to them).
        mask_ops::dilate(&kept, 2.0)
    };
    for (p, k) in work.data.iter_mut().zip(&dilated_keep.data) {
        if !k {
            *p = [0.0; 4];
        }
    }
    Ok(())
}

/// The box `[x0, y0, x1, y1)` of the pixels at least half covered, and the fraction of
/// the picture covered; `None` when no pixel is.
fn bbox_and_coverage(work: &Raster<[f32; 4]>) -> Option<([usize; 4], f32)> {
    let (w, h) = (work.width, work.height);
    let mut bbox = [usize::MAX, usize::MAX, 0, 0];
    let mut covered = 0.0f64;
    for y in 0..h {
        for x in 0..w {
            let a = work.data[y * w + x][3];
            covered += f64::from(a);
            if a >= 0.5 {
                bbox[0] = bbox[0].min(x);
                bbox[1] = bbox[1].min(y);
                bbox[2] = bbox[2].max(x + 1);
                bbox[3] = bbox[3].max(y + 1);
            }
        }
    }
    if bbox[0] == usize::MAX {
        return None;
    }
    Some((bbox, (covered / (w * h) as f64) as f32))
}

fn no_foreground(reason: &str, path: &Path) -> Error {
    Error::NoForeground {
        reason: reason.to_string(),
        path: path.to_path_buf(),
    }
}

/// Weight-free background keying (see the module docs). Returns the object mask.
fn key_background(img: &Raster<[f32; 4]>, path: &Path) -> Result<(Raster<bool>, KeyingStats)> {
    let (w, h) = (img.width, img.height);
    if w < 8 || h < 8 {
        return Err(no_foreground(
            &format!(
                "the picture is only {w}x{h} pixels, too small to tell an object from its \
                 background; give a larger one, or pass --no-remove-bg"
            ),
            path,
        ));
    }
    // Border band.
    let band = ((w.min(h) as f32 * 0.01).round() as usize).clamp(1, w.min(h) / 4);
    let mut samples: Vec<(usize, usize)> = Vec::new();
    for y in 0..h {
        for x in 0..w {
            if x < band || y < band || x + band >= w || y + band >= h {
                samples.push((x, y));
            }
        }
    }
    let model = BackgroundModel::fit(img, &samples);
    let residual = |x: usize, y: usize| -> f32 {
        let m = model.color(x, y, w, h);
        let p = img.data[y * w + x];
        ((p[0] - m[0]).powi(2) + (p[1] - m[1]).powi(2) + (p[2] - m[2]).powi(2)).sqrt()
    };
    // Tolerance from the inliers' spread: 4 robust sigmas above a floor that absorbs
    // JPEG noise and banding.
    let mut res: Vec<f32> = samples.iter().map(|&(x, y)| residual(x, y)).collect();
    let inliers: Vec<f32> = res
        .iter()
        .copied()
        .filter(|&r| r < model.inlier_threshold)
        .collect();
    let border_fit = inliers.len() as f32 / res.len().max(1) as f32;
    res.clear();
    let sigma = robust_sigma(&inliers);
    let tolerance = (0.06 + 4.0 * sigma).min(0.25);
    if border_fit < 0.25 {
        return Err(no_foreground(
            &format!(
                "the picture's border is not a plain background (only {:.0}% of it fits one \
                 smooth color); give a picture with a transparent background or the object \
                 on a plain background, or pass --no-remove-bg",
                border_fit * 100.0
            ),
            path,
        ));
    }
    // Flood fill from the outermost ring through background-colored pixels.
    let close_to_background: Vec<bool> = (0..w * h)
        .map(|i| residual(i % w, i / w) <= tolerance)
        .collect();
    let background = flood_from_border(&close_to_background, w, h);
    let object = Raster {
        width: w,
        height: h,
        data: background.data.iter().map(|&b| !b).collect(),
    };
    let object_pixels = object.data.iter().filter(|&&o| o).count();
    let min_pixels = 16.max(w * h / 2000);
    if object_pixels < min_pixels {
        let c = model.color(w / 2, h / 2, w, h);
        return Err(no_foreground(
            &format!(
                "every pixel matches the background color (about rgb {:.0} {:.0} {:.0}); the \
                 picture looks like one plain color. Give a picture with the object on a plain \
                 background or a transparent one, or pass --no-remove-bg",
                c[0] * 255.0,
                c[1] * 255.0,
                c[2] * 255.0
            ),
            path,
        ));
    }
    let radius = (w.max(h) as f32 * 0.002).round().max(1.0);
    let cleaned = mask_ops::close(&mask_ops::open(&object, radius), radius);
    let (_, sizes) = mask_ops::components(&cleaned, true);
    let pieces = sizes.len() - 1;
    let largest = mask_ops::largest_component(&cleaned);
    let filled = mask_ops::fill_holes(&largest);
    if filled.data.iter().filter(|&&o| o).count() < min_pixels {
        return Err(no_foreground(
            "only specks differ from the background; give a picture with the object on a \
             plain background or a transparent one, or pass --no-remove-bg",
            path,
        ));
    }
    Ok((
        filled,
        KeyingStats {
            background_color: model.color(w / 2, h / 2, w, h),
            tolerance,
            border_fit,
            morphology_radius: radius,
            components_dropped: pieces.saturating_sub(1),
        },
    ))
}

/// The pixels reached from the outermost ring through pixels `close` to the background
/// (4-connected).
fn flood_from_border(close: &[bool], w: usize, h: usize) -> Raster<bool> {
    let mut background = Raster::filled(w, h, false);
    let mut stack: Vec<usize> = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if background.on_border(x, y) && close[i] {
                background.data[i] = true;
                stack.push(i);
            }
        }
    }
    while let Some(i) = stack.pop() {
        let (x, y) = (i % w, i / w);
        let mut visit = |j: usize| {
            if !background.data[j] && close[j] {
                background.data[j] = true;
                stack.push(j);
            }
        };
        if x > 0 {
            visit(i - 1);
        }
        if x + 1 < w {
            visit(i + 1);
        }
        if y > 0 {
            visit(i - w);
        }
        if y + 1 < h {
            visit(i + w);
        }
    }
    background
}

/// Median absolute deviation scaled to a standard deviation (of distances from 0).
fn robust_sigma(values: &[f32]) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f32::total_cmp);
    1.4826 * v[v.len() / 2]
}

/// Per channel `c(x, y) = a0 + a1 x + a2 y + a3 xy + a4 x² + a5 y²` over coordinates
/// normalised to `[-1, 1]`: a plain background with gentle gradients and vignetting.
struct BackgroundModel {
    coefficients: [[f64; 6]; 3],
    inlier_threshold: f32,
}

impl BackgroundModel {
    fn basis(x: usize, y: usize, w: usize, h: usize) -> [f64; 6] {
        let u = (x as f64 + 0.5) / w as f64 * 2.0 - 1.0;
        let v = (y as f64 + 0.5) / h as f64 * 2.0 - 1.0;
        [1.0, u, v, u * v, u * u, v * v]
    }

    fn color(&self, x: usize, y: usize, w: usize, h: usize) -> [f32; 3] {
        let b = Self::basis(x, y, w, h);
        self.coefficients.map(|c| {
            let v: f64 = c.iter().zip(&b).map(|(a, b)| a * b).sum();
            v as f32
        })
    }

    /// Least squares on the border samples, refitted three times on the inliers (samples
    /// within 3 robust sigmas, at least 0.03) so an object touching the border does not
    /// pull the model.
    fn fit(img: &Raster<[f32; 4]>, samples: &[(usize, usize)]) -> Self {
        let (w, h) = (img.width, img.height);
        let mut model = Self {
            coefficients: [[0.0; 6]; 3],
            inlier_threshold: f32::INFINITY,
        };
        // Start from the median border color (robust to the object).
        for c in 0..3 {
            let mut v: Vec<f32> = samples
                .iter()
                .map(|&(x, y)| img.data[y * w + x][c])
                .collect();
            v.sort_by(f32::total_cmp);
            model.coefficients[c][0] = f64::from(v[v.len() / 2]);
        }
        let mut threshold = 0.1f32;
        for _ in 0..4 {
            let mut ata = [[0.0f64; 6]; 6];
            let mut atb = [[0.0f64; 6]; 3];
            let mut residuals = Vec::with_capacity(samples.len());
            for &(x, y) in samples {
                let m = model.color(x, y, w, h);
                let p = img.data[y * w + x];
                let r =
                    ((p[0] - m[0]).powi(2) + (p[1] - m[1]).powi(2) + (p[2] - m[2]).powi(2)).sqrt();
                residuals.push(r);
                if r > threshold {
                    continue;
                }
                let b = Self::basis(x, y, w, h);
                for i in 0..6 {
                    for j in 0..6 {
                        ata[i][j] += b[i] * b[j];
                    }
                    for c in 0..3 {
                        atb[c][i] += b[i] * f64::from(p[c]);
                    }
                }
            }
            for (coefficients, rhs) in model.coefficients.iter_mut().zip(atb) {
                if let Some(sol) = solve6(ata, rhs) {
                    *coefficients = sol;
                }
            }
            let inl: Vec<f32> = residuals.into_iter().filter(|&r| r <= threshold).collect();
            threshold = (3.0 * robust_sigma(&inl)).max(0.03);
        }
        model.inlier_threshold = threshold;
        model
    }
}

/// Solves the 6x6 system by Gaussian elimination with partial pivoting (`None` when
/// singular).
fn solve6(mut a: [[f64; 6]; 6], mut b: [f64; 6]) -> Option<[f64; 6]> {
    for col in 0..6 {
        let pivot = (col..6).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-9 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let pivot_row = a[col];
        for row in col + 1..6 {
            let f = a[row][col] / pivot_row[col];
            for (v, p) in a[row][col..].iter_mut().zip(&pivot_row[col..]) {
                *v -= f * p;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0.0; 6];
    for row in (0..6).rev() {
        let s: f64 = (row + 1..6).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

/// The square the reconstruction sees: the object cropped, centred and padded so it spans
/// `ratio` of the side, at `size × size` pixels.
#[derive(Debug, Clone)]
pub struct Cutout {
    /// Side in pixels.
    pub size: usize,
    /// Coverage of the object per pixel, in `[0, 1]`.
    pub mask: Raster<f32>,
    /// Straight (not premultiplied) sRGB color; meaningful where `mask > 0`.
    pub color: Raster<[f32; 3]>,
    /// The square's window in source pixels (may extend past the picture).
    pub window_source: Window,
    /// Fraction of the side the object spans.
    pub ratio: f32,
    /// Width in pixels of the band inside the object's edge whose colors are mixed with
    /// the background (antialiasing, JPEG ringing): colors there are not to be trusted.
    pub edge_band: f32,
}

/// Width of the untrusted color band at the object's edge, in analysis pixels: keyed
/// pictures mix object and background over a few pixels (antialiasing, JPEG's 8x8
/// blocks); alpha mattes are premultiplied and need less.
fn edge_band_analysis(method: ForegroundMethod) -> f32 {
    match method {
        ForegroundMethod::Keyed => 3.0,
        ForegroundMethod::Alpha => 1.5,
        ForegroundMethod::WholePicture => 0.0,
    }
}

/// `window` (analysis pixels) of `fg` resampled to `size × size`: the coverage, and the
/// straight (not premultiplied) sRGB color, meaningful where the coverage is above 0.
/// Outside the picture, coverage is 0.
pub fn resample_straight(
    fg: &Foreground,
    window: Window,
    size: usize,
) -> (Raster<f32>, Raster<[f32; 3]>) {
    let square = mask_ops::resample(
        &fg.premultiplied,
        window,
        size,
        size,
        mask_ops::Outside::Zero,
    );
    let mut mask = Raster::filled(size, size, 0.0f32);
    let mut color = Raster::filled(size, size, [0.0f32; 3]);
    for ((p, m), c) in square.data.iter().zip(&mut mask.data).zip(&mut color.data) {
        let a = p[3].clamp(0.0, 1.0);
        *m = a;
        if a > 1e-4 {
            *c = [0, 1, 2].map(|k| (p[k] / p[3]).clamp(0.0, 1.0));
        }
    }
    (mask, color)
}

/// Crops `fg` to its object and pads to a centred square where the object spans `ratio`
/// of the side, resampled to `size × size` (TripoSR's `resize_foreground`).
pub fn cut_out(fg: &Foreground, ratio: f32, size: usize) -> Cutout {
    let [x0, y0, x1, y1] = fg.bbox.map(|v| v as f64);
    let side = (x1 - x0).max(y1 - y0) / f64::from(ratio);
    let (cx, cy) = (0.5 * (x0 + x1), 0.5 * (y0 + y1));
    let window = Window {
        x: cx - 0.5 * side,
        y: cy - 0.5 * side,
        width: side,
        height: side,
    };
    let (mask, color) = resample_straight(fg, window, size);
    let s = fg.scale;
    Cutout {
        size,
        mask,
        color,
        window_source: Window {
            x: window.x * s,
            y: window.y * s,
            width: window.width * s,
            height: window.height * s,
        },
        ratio,
        edge_band: edge_band_analysis(fg.method) * size as f32 / side as f32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::ImageInfo;
    use image::{Rgba, Rgba32FImage};

    fn loaded(img: Rgba32FImage, has_alpha: bool) -> LoadedImage {
        LoadedImage {
            info: ImageInfo {
                path: "test.png".into(),
                file_bytes: 0,
                format: "PNG".into(),
                width: img.width(),
                height: img.height(),
                channels: if has_alpha { "rgba" } else { "rgb" },
                bits_per_channel: 8,
                has_alpha,
                orientation: "none".into(),
            },
            rgba: img,
        }
    }

    /// A 120x100 picture: a red disc of radius 30 at (60, 50) on a background that goes
    /// from light blue (left) to a slightly darker blue (right), with mild noise.
    fn disc_on_gradient() -> Rgba32FImage {
        let mut state = 7u32;
        Rgba32FImage::from_fn(120, 100, |x, y| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let noise = ((state >> 16) % 100) as f32 / 100.0 * 0.02 - 0.01;
            let (dx, dy) = (x as f32 - 60.0, y as f32 - 50.0);
            if dx * dx + dy * dy < 30.0 * 30.0 {
                Rgba([0.8 + noise, 0.15, 0.1, 1.0])
            } else {
                let t = x as f32 / 120.0;
                Rgba([0.6 - 0.1 * t + noise, 0.75 - 0.1 * t, 0.95 - 0.05 * t, 1.0])
            }
        })
    }

    #[test]
    fn keys_an_object_on_a_shaded_background() {
        let fg = find_foreground(
            loaded(disc_on_gradient(), false),
            &ForegroundOptions::default(),
        )
        .unwrap();
        assert_eq!(fg.method, ForegroundMethod::Keyed);
        // Disc: x 30..90, y 20..80.
        let [x0, y0, x1, y1] = fg.bbox;
        assert!(
            x0.abs_diff(30) <= 1 && x1.abs_diff(90) <= 1,
            "{:?}",
            fg.bbox
        );
        assert!(
            y0.abs_diff(20) <= 1 && y1.abs_diff(80) <= 1,
            "{:?}",
            fg.bbox
        );
        let expect = std::f32::consts::PI * 900.0 / 12000.0;
        assert!((fg.coverage - expect).abs() < 0.01, "{}", fg.coverage);
        let k = fg.keying.unwrap();
        assert!(k.border_fit > 0.9, "{k:?}");
    }

    #[test]
    fn keeps_the_largest_piece_and_fills_holes() {
        // A ring (hole in the middle) plus a small separate square.
        let img = Rgba32FImage::from_fn(100, 100, |x, y| {
            let (dx, dy) = (x as f32 - 50.0, y as f32 - 50.0);
            let r = (dx * dx + dy * dy).sqrt();
            if (10.0..30.0).contains(&r) || ((85..92).contains(&x) && (85..92).contains(&y)) {
                Rgba([0.1, 0.1, 0.1, 1.0])
            } else {
                Rgba([1.0, 1.0, 1.0, 1.0])
            }
        });
        let fg = find_foreground(loaded(img, false), &ForegroundOptions::default()).unwrap();
        let m = |x: usize, y: usize| fg.premultiplied.data[y * 100 + x][3];
        assert_eq!(m(50, 50), 1.0, "hole filled");
        assert_eq!(m(88, 88), 0.0, "small piece dropped");
        assert_eq!(fg.keying.unwrap().components_dropped, 1);
    }

    #[test]
    fn flat_color_has_no_foreground() {
        let img = Rgba32FImage::from_pixel(64, 48, Rgba([0.3, 0.6, 0.2, 1.0]));
        let err = find_foreground(loaded(img, false), &ForegroundOptions::default()).unwrap_err();
        assert!(matches!(err, Error::NoForeground { .. }), "{err}");
        assert!(err.to_string().contains("plain color"), "{err}");
    }

    #[test]
    fn alpha_defines_the_object() {
        let img = Rgba32FImage::from_fn(50, 40, |x, y| {
            let inside = (10..30).contains(&x) && (5..35).contains(&y);
            let speck = x == 45 && y == 2;
            Rgba([0.2, 0.4, 0.6, if inside || speck { 1.0 } else { 0.0 }])
        });
        let fg = find_foreground(loaded(img, true), &ForegroundOptions::default()).unwrap();
        assert_eq!(fg.method, ForegroundMethod::Alpha);
        assert_eq!(fg.bbox, [10, 5, 30, 35], "speck dropped");
        let transparent = Rgba32FImage::from_pixel(8, 8, Rgba([1.0, 1.0, 1.0, 0.0]));
        assert!(matches!(
            find_foreground(loaded(transparent, true), &ForegroundOptions::default()),
            Err(Error::NoForeground { .. })
        ));
    }

    #[test]
    fn whole_picture_without_background_removal() {
        let fg = find_foreground(
            loaded(
                Rgba32FImage::from_pixel(30, 20, Rgba([1.0, 0.0, 0.0, 0.0])),
                true,
            ),
            &ForegroundOptions {
                remove_background: false,
            },
        )
        .unwrap();
        assert_eq!(fg.method, ForegroundMethod::WholePicture);
        assert_eq!(fg.bbox, [0, 0, 30, 20]);
        // Transparent red over gray 0.5.
        assert_eq!(fg.premultiplied.data[0], [0.5, 0.5, 0.5, 1.0]);
    }

    #[test]
    fn large_pictures_are_analysed_shrunk() {
        let img = Rgba32FImage::from_fn(3000, 1500, |x, y| {
            let inside = (1000..2000).contains(&x) && (300..1200).contains(&y);
            Rgba([0.5, 0.5, 0.5, if inside { 1.0 } else { 0.0 }])
        });
        let fg = find_foreground(loaded(img, true), &ForegroundOptions::default()).unwrap();
        assert_eq!(fg.premultiplied.width, 1024);
        let b = fg.bbox_source();
        assert!(
            (b[0] - 1000.0).abs() < 4.0 && (b[3] - 1200.0).abs() < 4.0,
            "{b:?}"
        );
    }

    #[test]
    fn cutout_centres_and_pads_to_the_ratio() {
        let img = Rgba32FImage::from_fn(200, 100, |x, y| {
            let inside = (20..60).contains(&x) && (10..90).contains(&y);
            Rgba([0.0, 1.0, 0.0, if inside { 1.0 } else { 0.0 }])
        });
        let fg = find_foreground(loaded(img, true), &ForegroundOptions::default()).unwrap();
        let cut = cut_out(&fg, 0.8, 100);
        // Object 40x80: the square side is 80/0.8 = 100 source px, 1:1 here.
        assert!((cut.window_source.width - 100.0).abs() < 1e-4);
        let rows: Vec<usize> = (0..100)
            .filter(|&y| cut.mask.data[y * 100 + 50] > 0.5)
            .collect();
        assert_eq!((rows[0], *rows.last().unwrap()), (10, 89));
        let cols: Vec<usize> = (0..100)
            .filter(|&x| cut.mask.data[50 * 100 + x] > 0.5)
            .collect();
        assert_eq!((cols[0], *cols.last().unwrap()), (30, 69));
        assert_eq!(cut.color.data[50 * 100 + 50], [0.0, 1.0, 0.0]);
    }
}
