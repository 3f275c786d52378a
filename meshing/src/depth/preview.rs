//! Pictures of a depth map: a 16-bit PNG in millimeters (the Open3D / RGB-D convention,
//! `depth_scale = 1000`), and a colorized preview with a legend.
//!
//! The preview follows `depth-pro-run` (`apple/ml-depth-pro`, `src/depth_pro/cli/run.py`):
//! depth is clipped to [0.1 m, 250 m], inverted, min-max normalised over the picture and
//! mapped through a turbo colormap, so near is red and far is blue (inverse depth, not
//! depth, because it spreads the near field, as the maintainers advise in issue #8). Below
//! the map, a legend bar shows the colors with the depth they stand for in meters.
//!
//! The colormap is a piecewise-linear curve through eleven control colors chosen to look
//! like Google's Turbo (dark violet, blue, cyan, green, yellow, orange, dark red); it is
//! not Turbo's exact table.

use std::path::Path;

use image::{ImageBuffer, Luma, Rgb, RgbImage};

use super::{DepthMap, is_valid_depth};
use crate::{Error, Result};

/// Nearest depth the preview distinguishes, meters (`depth-pro-run` clips at 0.1 m).
pub const PREVIEW_NEAR_M: f32 = 0.1;
/// Farthest depth the preview distinguishes, meters (`depth-pro-run` clips at 250 m).
pub const PREVIEW_FAR_M: f32 = 250.0;

/// Control colors of the turbo-like map at `t = 0, 0.1, …, 1`.
const TURBO_STOPS: [[f32; 3]; 11] = [
    [0.19, 0.07, 0.23],
    [0.27, 0.36, 0.85],
    [0.16, 0.62, 0.99],
    [0.10, 0.85, 0.80],
    [0.27, 0.98, 0.50],
    [0.60, 0.99, 0.24],
    [0.85, 0.90, 0.20],
    [0.99, 0.70, 0.20],
    [0.96, 0.42, 0.09],
    [0.80, 0.18, 0.03],
    [0.48, 0.02, 0.01],
];

/// The turbo-like colormap at `t` (clamped to `[0, 1]`), as sRGB bytes: `0` is dark
/// violet, `1` dark red.
pub fn turbo(t: f32) -> [u8; 3] {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let x = t * (TURBO_STOPS.len() - 1) as f32;
    let i = (x.floor() as usize).min(TURBO_STOPS.len() - 2);
    let f = x - i as f32;
    let (a, b) = (TURBO_STOPS[i], TURBO_STOPS[i + 1]);
    [0, 1, 2].map(|c| ((a[c] + (b[c] - a[c]) * f) * 255.0).round() as u8)
}

/// Entries of the colormap table the preview looks colors up in.
const LUT_SIZE: usize = 1024;

/// How [`colorize_preview`] draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreviewOptions {
    /// Longest side of the colorized map in pixels; larger maps are box-averaged down (in
    /// inverse depth). By default, 2048.
    pub max_side: usize,
    /// Smaller maps are enlarged (nearest neighbour) to at least this width, so the legend
    /// has room. By default, 320.
    pub min_width: usize,
    /// Draw the legend bar under the map. By default, true.
    pub legend: bool,
}

impl Default for PreviewOptions {
    fn default() -> Self {
        Self {
            max_side: 2048,
            min_width: 320,
            legend: true,
        }
    }
}

/// The colorized preview of `depth`: turbo on normalised inverse depth (see the module
/// docs), pixels without depth in black, and a legend below. Errors when the map has no
/// valid pixel.
pub fn colorize_preview(depth: &DepthMap, options: &PreviewOptions) -> Result<RgbImage> {
    let (w, h) = (depth.width(), depth.height());
    let clip = |z: f32| z.clamp(PREVIEW_NEAR_M, PREVIEW_FAR_M);
    // Inverse depth is monotone in depth: its range comes from the depth range.
    let (mut z_lo, mut z_hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for (lo, hi) in super::map_indices(h, |v| {
        depth.data()[v * w..(v + 1) * w]
            .iter()
            .filter(|&&z| is_valid_depth(z))
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &z| {
                (a.min(z), b.max(z))
            })
    }) {
        z_lo = z_lo.min(lo);
        z_hi = z_hi.max(hi);
    }
    if !z_lo.is_finite() {
        return Err(Error::invalid_parameter(
            "depth map",
            "at least one pixel with a finite, positive depth",
            "none",
        ));
    }
    let (inv_lo, inv_hi) = (1.0 / clip(z_hi), 1.0 / clip(z_lo));
    let span = inv_hi - inv_lo;
    let lut: Vec<[u8; 3]> = (0..LUT_SIZE)
        .map(|i| turbo(i as f32 / (LUT_SIZE - 1) as f32))
        .collect();
    let color = |inv: f32| {
        let t = if span > 0.0 {
            (inv - inv_lo) / span
        } else {
            0.5
        };
        lut[((t * (LUT_SIZE - 1) as f32 + 0.5) as usize).min(LUT_SIZE - 1)]
    };

    // Size of the colorized map: box-average down by `down`, or enlarge by `up`.
    let long = w.max(h);
    let down = long.div_ceil(options.max_side.max(1)).max(1);
    let (mut pw, mut ph) = (w.div_ceil(down), h.div_ceil(down));
    let mut up = 1;
    if down == 1 && pw < options.min_width {
        up = options
            .min_width
            .div_ceil(pw)
            .min((options.max_side / ph).max(1))
            .max(1);
        pw *= up;
        ph *= up;
    }

    let s = (pw / 320).clamp(1, 4);
    let band = if options.legend { 20 * s } else { 0 };
    let (pw32, total_h) = (
        u32::try_from(pw).unwrap_or(u32::MAX),
        u32::try_from(ph + band).unwrap_or(u32::MAX),
    );
    let mut out = RgbImage::new(pw32, total_h);
    let d = depth.data();
    let buf: &mut [u8] = &mut out;
    super::for_each_row_mut(&mut buf[..pw * ph * 3], pw * 3, |py, row| {
        if up > 1 {
            let src = &d[(py / up) * w..(py / up + 1) * w];
            for (px, out) in row.chunks_exact_mut(3).enumerate() {
                let z = src[px / up];
                let c = if is_valid_depth(z) {
                    color(1.0 / clip(z))
                } else {
                    [0, 0, 0]
                };
                out.copy_from_slice(&c);
            }
            return;
        }
        // Mean inverse depth of the valid pixels in each down x down block.
        let mut sum = vec![0.0f32; pw];
        let mut count = vec![0u32; pw];
        for y in py * down..((py + 1) * down).min(h) {
            for ((s, n), block) in sum
                .iter_mut()
                .zip(count.iter_mut())
                .zip(d[y * w..(y + 1) * w].chunks(down))
            {
                for &z in block {
                    let ok = is_valid_depth(z);
                    *s += if ok { 1.0 / clip(z) } else { 0.0 };
                    *n += u32::from(ok);
                }
            }
        }
        for ((out, &s), &n) in row.chunks_exact_mut(3).zip(&sum).zip(&count) {
            let c = if n > 0 {
                color(s / n as f32)
            } else {
                [0, 0, 0]
            };
            out.copy_from_slice(&c);
        }
    });
    if options.legend {
        draw_legend(&mut out, ph, s, inv_lo, inv_hi);
    }
    Ok(out)
}

/// Draws the legend band (rows `top..`): a color bar from near (left) to far (right) with
/// five ticks labelled with their depth in meters.
fn draw_legend(img: &mut RgbImage, top: usize, s: usize, inv_lo: f32, inv_hi: f32) {
    let width = img.width() as usize;
    let background = Rgb([24, 24, 24]);
    for y in top as u32..img.height() {
        for x in 0..img.width() {
            img.put_pixel(x, y, background);
        }
    }
    let margin = 4 * s;
    if width <= 2 * margin + 1 {
        return;
    }
    let bar_w = width - 2 * margin;
    let bar_top = top + 3 * s;
    let bar_h = 6 * s;
    for x in 0..bar_w {
        // Left end is the nearest depth (largest inverse depth).
        let t = 1.0 - x as f32 / (bar_w - 1).max(1) as f32;
        let c = Rgb(turbo(t));
        for y in bar_top..bar_top + bar_h {
            img.put_pixel((margin + x) as u32, y as u32, c);
        }
    }
    let tick_top = bar_top + bar_h;
    let label_top = tick_top + 3 * s;
    let white = Rgb([235, 235, 235]);
    let mut free_from = 0usize;
    for k in 0..5 {
        let t = k as f32 / 4.0;
        let x = margin + ((bar_w - 1) as f32 * t).round() as usize;
        for y in tick_top..tick_top + 2 * s {
            for dx in 0..s {
                if x + dx < width {
                    img.put_pixel((x + dx) as u32, y as u32, white);
                }
            }
        }
        let inv = inv_hi + (inv_lo - inv_hi) * t;
        let text = format_meters(1.0 / inv);
        let text_w = text_width(&text, s);
        let left = x
            .saturating_sub(text_w / 2)
            .min(width.saturating_sub(text_w));
        if left < free_from || left + text_w > width {
            continue;
        }
        draw_text(img, &text, left, label_top, s, white);
        free_from = left + text_w + 3 * s;
    }
}

/// A depth in meters with about three significant digits, e.g. `0.523 m`, `12.3 m`, `250 m`.
fn format_meters(d: f32) -> String {
    if d >= 99.95 {
        format!("{d:.0} m")
    } else if d >= 9.995 {
        format!("{d:.1} m")
    } else if d >= 0.9995 {
        format!("{d:.2} m")
    } else {
        format!("{d:.3} m")
    }
}

/// 5×7 bitmap glyphs (one 5-bit row each, most significant bit on the left) for the
/// characters the legend writes.
fn glyph(ch: char) -> [u8; 7] {
    match ch {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        'm' => [0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11],
        _ => [0; 7],
    }
}

/// Width in pixels of `text` at scale `s` (6 columns per character, the last without its
/// spacing column).
fn text_width(text: &str, s: usize) -> usize {
    (text.chars().count() * 6).saturating_sub(1) * s
}

fn draw_text(img: &mut RgbImage, text: &str, left: usize, top: usize, s: usize, color: Rgb<u8>) {
    let (iw, ih) = (img.width() as usize, img.height() as usize);
    for (k, ch) in text.chars().enumerate() {
        let rows = glyph(ch);
        for (gy, bits) in rows.iter().enumerate() {
            for gx in 0..5 {
                if bits >> (4 - gx) & 1 == 0 {
                    continue;
                }
                for dy in 0..s {
                    for dx in 0..s {
                        let x = left + (k * 6 + gx) * s + dx;
                        let y = top + gy * s + dy;
                        if x < iw && y < ih {
                            img.put_pixel(x as u32, y as u32, color);
                        }
                    }
                }
            }
        }
    }
}

/// The depth map as 16-bit millimeters: `round(depth × 1000)` clamped to `[1, 65535]`, and
/// 0 where there is no valid depth. Depths of 65.535 m and more all read 65535.
pub fn depth_png_millimeters(depth: &DepthMap) -> Result<ImageBuffer<Luma<u16>, Vec<u16>>> {
    let (w, h) = (depth.width(), depth.height());
    let mut mm: Vec<u16> = crate::limits::try_vec_with_capacity(w * h, "depth png")?;
    mm.resize(w * h, 0);
    let d = depth.data();
    super::for_each_row_mut(&mut mm, w, |v, row| {
        for (o, &z) in row.iter_mut().zip(&d[v * w..(v + 1) * w]) {
            // Rounds half up; the clamp keeps 0 for "no depth".
            *o = if is_valid_depth(z) {
                (z * 1000.0 + 0.5).clamp(1.0, 65535.0) as u16
            } else {
                0
            };
        }
    });
    ImageBuffer::from_raw(
        u32::try_from(w).unwrap_or(u32::MAX),
        u32::try_from(h).unwrap_or(u32::MAX),
        mm,
    )
    .ok_or_else(|| Error::invalid_parameter("depth png", "a buffer of width x height", w * h))
}

/// Writes [`depth_png_millimeters`] to `path` (atomically).
pub fn write_depth_png_millimeters(path: &Path, depth: &DepthMap) -> Result<()> {
    let img = depth_png_millimeters(depth)?;
    write_png(path, &img)
}

/// Writes an image as PNG (fast compression, adaptive filtering) through
/// [`crate::io::write_atomic`].
pub(crate) fn write_png<P>(path: &Path, img: &ImageBuffer<P, Vec<P::Subpixel>>) -> Result<()>
where
    P: image::PixelWithColorType,
    [P::Subpixel]: image::EncodableLayout,
{
    use image::ImageEncoder;
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    crate::io::write_atomic(path, |w| {
        PngEncoder::new_with_quality(w, CompressionType::Fast, FilterType::Adaptive)
            .write_image(
                image::EncodableLayout::as_bytes(img.as_raw().as_slice()),
                img.width(),
                img.height(),
                P::COLOR_TYPE,
            )
            .map_err(std::io::Error::other)
    })
}

/// Writes an RGB picture (e.g. a [`colorize_preview`]) as PNG, atomically.
pub fn write_rgb_png(path: &Path, img: &RgbImage) -> Result<()> {
    write_png(path, img)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;

    #[test]
    fn turbo_runs_from_violet_through_green_to_red() {
        let lo = turbo(0.0);
        let mid = turbo(0.45);
        let hi = turbo(1.0);
        assert!(lo[2] > lo[0] && lo[2] > lo[1], "{lo:?} bluish");
        assert!(mid[1] > mid[0] && mid[1] > mid[2], "{mid:?} greenish");
        assert!(hi[0] > hi[1] && hi[0] > hi[2], "{hi:?} reddish");
        assert_eq!(turbo(f32::NAN), turbo(0.0));
        assert_eq!(turbo(2.0), turbo(1.0));
    }

    #[test]
    fn millimeters_round_and_mark_missing_depth() {
        let d = DepthMap::new(
            5,
            1,
            vec![1.2344, 0.00001, 100.0, f32::NAN, -1.0],
            &Limits::default(),
        )
        .unwrap();
        let png = depth_png_millimeters(&d).unwrap();
        assert_eq!(png.as_raw(), &vec![1234, 1, 65535, 0, 0]);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.png");
        write_depth_png_millimeters(&p, &d).unwrap();
        let back = image::open(&p).unwrap().into_luma16();
        assert_eq!(back.as_raw(), png.as_raw());
    }

    #[test]
    fn preview_is_near_red_far_blue_with_a_legend() {
        // Top half at 1 m, bottom half at 10 m, one pixel without depth.
        let (w, h) = (8, 8);
        let mut data: Vec<f32> = (0..w * h)
            .map(|i| if i / w < 4 { 1.0 } else { 10.0 })
            .collect();
        data[63] = f32::NAN;
        let d = DepthMap::new(w, h, data, &Limits::default()).unwrap();
        let img = colorize_preview(&d, &PreviewOptions::default()).unwrap();
        // Enlarged 40x to 320 px wide, plus a 20 px legend.
        assert_eq!((img.width(), img.height()), (320, 340));
        assert_eq!(img.get_pixel(0, 0).0, turbo(1.0));
        assert_eq!(img.get_pixel(0, 200).0, turbo(0.0));
        assert_eq!(img.get_pixel(319, 319).0, [0, 0, 0]);
        // The legend's bar starts at the near color; its labels are drawn in white.
        assert_eq!(img.get_pixel(4, 323).0, turbo(1.0));
        let white = (320..340)
            .flat_map(|y| (0..320).map(move |x| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0 == [235, 235, 235])
            .count();
        assert!(white > 50, "labels drawn: {white} white pixels");
        assert_eq!(format_meters(1.0), "1.00 m");
        assert_eq!(format_meters(10.0), "10.0 m");
        assert_eq!(format_meters(0.1234), "0.123 m");
        assert_eq!(format_meters(250.0), "250 m");
    }

    #[test]
    fn large_maps_are_averaged_down() {
        let (w, h) = (5000, 10);
        let d = DepthMap::new(w, h, vec![2.0; w * h], &Limits::default()).unwrap();
        let img = colorize_preview(&d, &PreviewOptions::default()).unwrap();
        assert_eq!(img.width(), 1667);
        assert_eq!(img.height(), 4 + 20 * 4);
        // 1667 / 320 = 5, capped at 4.
        let flat = DepthMap::new(2, 1, vec![f32::NAN; 2], &Limits::default()).unwrap();
        assert!(colorize_preview(&flat, &PreviewOptions::default()).is_err());
    }
}
