//! Image resampling, written once for the models' preprocessing and the pipeline.
//!
//! * The separable filtered resize ([`resize_rows`], [`resample_window`]) has the
//!   convolution weights of PIL's `ImagingResample` and ATen's antialiased `interpolate`
//!   (`_compute_indices_min_size_weights_aa` in
//!   `aten/src/ATen/native/cpu/UpSampleKernel.cpp`): for output sample `i` of an axis
//!   scaled by `scale = extent / out`, the filter is centred at `start + scale * (i + 0.5)`,
//!   stretched by `max(scale, 1)` (so downscaling averages every covered input, the
//!   "antialias", and enlarging is plain bilinear), and the weights are renormalised to
//!   sum to one (which clamps at the borders, [`Outside::Ignore`]), or normalised with the
//!   taps outside the source counted as zeros ([`Outside::Zero`], for a window that
//!   extends past the picture).
//!
//!   Users: TripoSR resizes with the triangle filter
//!   (`F.interpolate(mode="bilinear", antialias=True, align_corners=False)`), rembg with
//!   PIL's `LANCZOS`; the pipeline shrinks pictures for analysis, cuts the object's
//!   square out of the picture (TripoSR's framing and the input view) and scales the
//!   depth command's texture with the triangle filter. Both passes run in floating point
//!   (PIL quantises 8-bit images to integers between passes; the difference is below one
//!   8-bit level).
//! * `bilinear`: PyTorch's non-antialiased `upsample_bilinear2d` with
//!   `align_corners=False`, kept separate because Depth Pro's preprocessing (and its
//!   post-processing resize) demand exactly that operation, whose taps differ from the
//!   filtered resize's when shrinking.

pub(crate) mod bilinear;

use rayon::prelude::*;

/// Why a resize could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResampleError {
    /// An input or output side (or the channel count) is zero.
    #[error("cannot resample a {width}x{height} image to {out_width}x{out_height}")]
    Empty {
        /// Input width.
        width: usize,
        /// Input height.
        height: usize,
        /// Output width.
        out_width: usize,
        /// Output height.
        out_height: usize,
    },
    /// The intermediate buffer could not be allocated.
    #[error(
        "resampling needs a {width}x{height} intermediate image, more than the memory available"
    )]
    TooLarge {
        /// Intermediate width.
        width: usize,
        /// Intermediate height.
        height: usize,
    },
}

/// A rectangle of the source image, in source pixels (may extend past its edges).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Window {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

impl Window {
    /// The whole of a `width × height` image.
    pub fn whole(width: usize, height: usize) -> Self {
        Self {
            x: 0.0,
            y: 0.0,
            width: width as f64,
            height: height as f64,
        }
    }
}

/// What the filtered resize reads outside the source image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outside {
    /// Zero: a window past the edge fades out (transparent padding).
    Zero,
    /// Nothing: weights are renormalised over the pixels inside, so edges keep their
    /// values (shrinking a whole picture).
    Ignore,
}

/// The resampling filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// The triangle ("bilinear") filter, support 1.
    Triangle,
    /// Lanczos with three lobes, support 3 (PIL's `LANCZOS`).
    Lanczos3,
}

impl Filter {
    fn support(self) -> f64 {
        match self {
            Self::Triangle => 1.0,
            Self::Lanczos3 => 3.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        match self {
            Self::Triangle => {
                let x = x.abs();
                if x < 1.0 { 1.0 - x } else { 0.0 }
            }
            Self::Lanczos3 => {
                if x.abs() >= 3.0 {
                    0.0
                } else {
                    sinc(x) * sinc(x / 3.0)
                }
            }
        }
    }
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let px = std::f64::consts::PI * x;
        px.sin() / px
    }
}

/// The taps of one axis: for each output sample, the first input index, the number of
/// taps inside the source and their weights.
#[derive(Debug, Clone)]
struct AxisWeights {
    starts: Vec<usize>,
    lens: Vec<usize>,
    /// `taps` weights per output sample, zero-padded.
    weights: Vec<f32>,
    taps: usize,
}

impl AxisWeights {
    /// The taps reading `extent` source samples from `start` (of `input`) into `output`.
    fn new(
        input: usize,
        start: f64,
        extent: f64,
        output: usize,
        filter: Filter,
        outside: Outside,
    ) -> Self {
        let scale = extent / output as f64;
        let filterscale = scale.max(1.0);
        let support = filter.support() * filterscale;
        let taps = (support.ceil() as usize) * 2 + 1;
        let mut starts = Vec::with_capacity(output);
        let mut lens = Vec::with_capacity(output);
        let mut weights = vec![0.0f32; output * taps];
        let mut scratch = vec![0.0f64; taps];
        for (i, row) in weights.chunks_exact_mut(taps).enumerate() {
            let center = start + scale * (i as f64 + 0.5);
            // Floor, as `static_cast<int64_t>` and PIL's `(int)` truncate the (there
            // non-negative) bounds.
            let lo = (center - support + 0.5).floor() as i64;
            let hi = (center + support + 0.5).floor() as i64;
            let weight = |j: i64| filter.weight((j as f64 - center + 0.5) / filterscale);
            let xmin = lo.clamp(0, input as i64);
            let xmax = hi.clamp(0, input as i64);
            let n = (xmax - xmin).max(0) as usize;
            let n = n.min(taps);
            let mut total = 0.0;
            if outside == Outside::Zero {
                for j in lo..hi.max(lo) {
                    total += weight(j);
                }
            }
            for (k, w) in scratch.iter_mut().enumerate().take(n) {
                *w = weight(xmin + k as i64);
                if outside == Outside::Ignore {
                    total += *w;
                }
            }
            for (dst, w) in row.iter_mut().zip(&scratch).take(n) {
                *dst = if total != 0.0 {
                    (*w / total) as f32
                } else {
                    0.0
                };
            }
            starts.push(xmin as usize);
            lens.push(n);
        }
        Self {
            starts,
            lens,
            weights,
            taps,
        }
    }

    #[inline]
    fn sample(&self, i: usize) -> (usize, &[f32]) {
        let w = &self.weights[i * self.taps..(i + 1) * self.taps];
        (self.starts[i], &w[..self.lens[i]])
    }

    /// The source indices some output sample reads (empty when none does).
    fn span(&self) -> std::ops::Range<usize> {
        let mut lo = usize::MAX;
        let mut hi = 0;
        for (i, &n) in self.lens.iter().enumerate() {
            let (s, w) = self.sample(i);
            if n > 0 && w.iter().any(|&x| x != 0.0) {
                lo = lo.min(s);
                hi = hi.max(s + n);
            }
        }
        if lo >= hi { 0..0 } else { lo..hi }
    }
}

/// The two passes of a separable resize: source rows `rows` (written by `fill_row`, each
/// `width * channels` interleaved floats) through the horizontal taps `hx` into `mid`
/// (`rows.len() * out_width * channels` floats), then the vertical taps `vy` into `out`
/// (`out_height * out_width * channels`, zeroed). Rows run in parallel.
#[allow(clippy::too_many_arguments, reason = "the two passes share every size")]
fn passes<F>(
    width: usize,
    channels: usize,
    hx: &AxisWeights,
    vy: &AxisWeights,
    rows: std::ops::Range<usize>,
    fill_row: F,
    mid: &mut [f32],
    out: &mut [f32],
) where
    F: Fn(usize, &mut [f32]) + Sync,
{
    let row_len = hx.starts.len() * channels;
    if rows.is_empty() || row_len == 0 {
        return;
    }
    mid.par_chunks_exact_mut(row_len).enumerate().for_each_init(
        || vec![0.0f32; width * channels],
        |row, (r, out)| {
            fill_row(rows.start + r, row);
            for (x, px) in out.chunks_exact_mut(channels).enumerate() {
                let (start, w) = hx.sample(x);
                px.fill(0.0);
                for (k, wk) in w.iter().enumerate() {
                    if *wk == 0.0 {
                        continue;
                    }
                    let src = &row[(start + k) * channels..(start + k + 1) * channels];
                    for (o, s) in px.iter_mut().zip(src) {
                        *o += wk * s;
                    }
                }
            }
        },
    );
    out.par_chunks_exact_mut(row_len)
        .enumerate()
        .for_each(|(y, dst)| {
            let (start, w) = vy.sample(y);
            for (k, wk) in w.iter().enumerate() {
                if *wk == 0.0 {
                    continue;
                }
                let r = start + k - rows.start;
                let src = &mid[r * row_len..(r + 1) * row_len];
                for (o, s) in dst.iter_mut().zip(src) {
                    *o += wk * s;
                }
            }
        });
}

/// Resizes an image given row by row: `fill_row(y, row)` writes input row `y`
/// (`width * channels` interleaved floats) into `row`. Returns the `out_width x out_height`
/// image, interleaved, rows top-down. The horizontal pass runs first, then the vertical
/// one, as ATen does; input rows are requested in parallel.
pub fn resize_rows<F>(
    width: usize,
    height: usize,
    channels: usize,
    out_width: usize,
    out_height: usize,
    filter: Filter,
    fill_row: F,
) -> Result<Vec<f32>, ResampleError>
where
    F: Fn(usize, &mut [f32]) + Sync,
{
    if width == 0 || height == 0 || out_width == 0 || out_height == 0 || channels == 0 {
        return Err(ResampleError::Empty {
            width,
            height,
            out_width,
            out_height,
        });
    }
    let hx = AxisWeights::new(width, 0.0, width as f64, out_width, filter, Outside::Ignore);
    let vy = AxisWeights::new(
        height,
        0.0,
        height as f64,
        out_height,
        filter,
        Outside::Ignore,
    );
    let rows = vy.span();
    let mid_len = out_width
        .checked_mul(rows.len())
        .and_then(|n| n.checked_mul(channels))
        .ok_or(ResampleError::TooLarge {
            width: out_width,
            height,
        })?;
    let mut mid = img23d_meshing::limits::try_vec_with_capacity::<f32>(mid_len, "resample buffer")
        .map_err(|_| ResampleError::TooLarge {
            width: out_width,
            height,
        })?;
    mid.resize(mid_len, 0.0);
    let mut out = vec![0.0f32; out_height * out_width * channels];
    passes(
        width, channels, &hx, &vy, rows, fill_row, &mut mid, &mut out,
    );
    Ok(out)
}

/// Resamples `window` of a `width × height` image (`src`, row-major, `C` channels) into
/// `out_w × out_h` with the triangle filter: area-correct when shrinking, bilinear when
/// enlarging; `outside` says what the window reads past the image's edges. Only the
/// source rows the window covers are read.
///
/// # Panics
///
/// Panics when `src` holds fewer than `width * height` pixels.
pub fn resample_window<const C: usize>(
    src: &[[f32; C]],
    (width, height): (usize, usize),
    window: Window,
    (out_w, out_h): (usize, usize),
    outside: Outside,
) -> Vec<[f32; C]> {
    let mut out = vec![[0.0f32; C]; out_w * out_h];
    if width == 0 || height == 0 || out_w == 0 || out_h == 0 || C == 0 {
        return out;
    }
    let f = Filter::Triangle;
    let hx = AxisWeights::new(width, window.x, window.width, out_w, f, outside);
    let vy = AxisWeights::new(height, window.y, window.height, out_h, f, outside);
    let rows = vy.span();
    let mut mid = vec![0.0f32; rows.len() * out_w * C];
    let fill_row = |y: usize, row: &mut [f32]| {
        row.copy_from_slice(src[y * width..(y + 1) * width].as_flattened());
    };
    passes(
        width,
        C,
        &hx,
        &vy,
        rows,
        fill_row,
        &mut mid,
        out.as_flattened_mut(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_image_stays_constant() {
        for filter in [Filter::Triangle, Filter::Lanczos3] {
            for (w, ow) in [(37, 512), (1000, 512), (512, 512), (3, 2)] {
                let out = resize_rows(w, 7, 3, ow, 5, filter, |_, row| row.fill(0.25)).unwrap();
                assert!(
                    out.iter().all(|v| (v - 0.25).abs() < 1e-6),
                    "{filter:?} {w}"
                );
            }
        }
    }

    #[test]
    fn identity_size_is_identity_for_triangle() {
        let out = resize_rows(4, 3, 1, 4, 3, Filter::Triangle, |y, row| {
            for (x, v) in row.iter_mut().enumerate() {
                *v = (x + 10 * y) as f32;
            }
        })
        .unwrap();
        let want: Vec<f32> = (0..3)
            .flat_map(|y| (0..4).map(move |x| (x + 10 * y) as f32))
            .collect();
        assert_eq!(out, want);
    }

    #[test]
    fn halving_averages_pairs_with_neighbours() {
        // Scale 2: triangle of half-width 2 centred between input pixels 2i and 2i+1:
        // weights 1/8, 3/8, 3/8, 1/8 (renormalised at the borders).
        let out = resize_rows(8, 1, 1, 4, 1, Filter::Triangle, |_, row| {
            for (x, v) in row.iter_mut().enumerate() {
                *v = x as f32;
            }
        })
        .unwrap();
        let interior = (1.0 + 3.0 * 2.0 + 3.0 * 3.0 + 4.0) / 8.0;
        assert!((out[1] - interior).abs() < 1e-6, "{out:?}");
        // First sample: taps 0,1,2 with weights 3/8, 3/8, 1/8 renormalised by 7/8.
        let first = (3.0 * 0.0 + 3.0 * 1.0 + 2.0) / 7.0;
        assert!((out[0] - first).abs() < 1e-6, "{out:?}");
    }

    #[test]
    fn empty_is_an_error() {
        assert!(resize_rows(0, 1, 3, 4, 4, Filter::Triangle, |_, _| {}).is_err());
    }
}
