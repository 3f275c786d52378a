//! Separable image resampling with the convolution weights of PIL's `ImagingResample` and
//! ATen's antialiased `interpolate` (`_compute_indices_min_size_weights_aa` in
//! `aten/src/ATen/native/cpu/UpSampleKernel.cpp`): for output sample `i` of an axis scaled
//! by `scale = in / out`, the filter is centred at `scale * (i + 0.5)`, stretched by
//! `max(scale, 1)` (so downscaling averages every covered input, the "antialias"), and the
//! weights are renormalised to sum to one (which clamps at the borders).
//!
//! Models' preprocessing uses it: TripoSR resizes with the triangle filter
//! (`F.interpolate(mode="bilinear", antialias=True, align_corners=False)`), rembg with
//! PIL's `LANCZOS`. Both passes run in floating point (PIL quantises 8-bit images to
//! integers between passes; the difference is below one 8-bit level).

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

/// The taps of one axis: for each output sample, the first input index and its weights.
#[derive(Debug, Clone)]
pub(crate) struct AxisWeights {
    starts: Vec<usize>,
    /// `taps` weights per output sample, zero-padded.
    weights: Vec<f32>,
    taps: usize,
}

impl AxisWeights {
    pub(crate) fn new(input: usize, output: usize, filter: Filter) -> Self {
        let scale = input as f64 / output as f64;
        let filterscale = scale.max(1.0);
        let support = filter.support() * filterscale;
        let taps = (support.ceil() as usize) * 2 + 1;
        let mut starts = Vec::with_capacity(output);
        let mut weights = vec![0.0f32; output * taps];
        let mut scratch = vec![0.0f64; taps];
        for (i, row) in weights.chunks_exact_mut(taps).enumerate() {
            let center = scale * (i as f64 + 0.5);
            // Truncation toward zero, as `static_cast<int64_t>` and PIL's `(int)` do.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).clamp(0, input as i64) as usize;
            let n = xmax.saturating_sub(xmin).min(taps);
            let mut total = 0.0;
            for (j, w) in scratch.iter_mut().enumerate().take(n) {
                *w = filter.weight((j as f64 + xmin as f64 - center + 0.5) / filterscale);
                total += *w;
            }
            for (dst, w) in row.iter_mut().zip(&scratch).take(n) {
                *dst = if total != 0.0 {
                    (*w / total) as f32
                } else {
                    0.0
                };
            }
            starts.push(xmin);
        }
        Self {
            starts,
            weights,
            taps,
        }
    }

    #[inline]
    fn sample(&self, i: usize) -> (usize, &[f32]) {
        (
            self.starts[i],
            &self.weights[i * self.taps..(i + 1) * self.taps],
        )
    }
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
    let hx = AxisWeights::new(width, out_width, filter);
    let vy = AxisWeights::new(height, out_height, filter);
    let mid_len = out_width
        .checked_mul(height)
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
    let row_len = out_width * channels;
    mid.par_chunks_exact_mut(row_len).enumerate().for_each_init(
        || vec![0.0f32; width * channels],
        |row, (y, out)| {
            fill_row(y, row);
            for (x, px) in out.chunks_exact_mut(channels).enumerate() {
                let (start, w) = hx.sample(x);
                px.fill(0.0);
                for (k, wk) in w.iter().enumerate() {
                    if *wk == 0.0 || start + k >= width {
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
    let mut out = vec![0.0f32; out_height * row_len];
    out.par_chunks_exact_mut(row_len)
        .enumerate()
        .for_each(|(y, dst)| {
            let (start, w) = vy.sample(y);
            for (k, wk) in w.iter().enumerate() {
                if *wk == 0.0 || start + k >= height {
                    continue;
                }
                let src = &mid[(start + k) * row_len..(start + k + 1) * row_len];
                for (o, s) in dst.iter_mut().zip(src) {
                    *o += wk * s;
                }
            }
        });
    Ok(out)
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
