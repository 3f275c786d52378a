//! PyTorch's bilinear `interpolate` without antialias (`upsample_bilinear2d`,
//! `align_corners=False`): source coordinate `(dst + 0.5) · in/out - 0.5`, clamped at 0
//! from below, the upper tap clamped to the last pixel; two taps per axis whatever the
//! scale. Depth Pro's preprocessing (`apple/ml-depth-pro`, `src/depth_pro/depth_pro.py`,
//! `DepthPro.infer`) resizes this way, in both directions, so its wrapper uses this and
//! not the filtered resize of the parent module (whose taps average when shrinking).

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
}
