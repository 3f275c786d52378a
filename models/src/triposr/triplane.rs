//! The triplane and its sampling, as TripoSR's `TriplaneNeRFRenderer.query_triplane`
//! (`tsr/models/nerf_renderer.py`) does it:
//!
//! * points in `(-radius, radius)` (radius 0.87) are rescaled to `(-1, 1)`;
//! * plane 0 is looked up at `(x, y)`, plane 1 at `(x, z)`, plane 2 at `(y, z)`, each with
//!   `F.grid_sample(mode="bilinear", align_corners=False)` and the default zero padding —
//!   the first coordinate indexes the plane's width, the second its height, and
//!   normalised `u` sits at pixel `((u + 1) * W - 1) / 2`;
//! * the three lookups are concatenated plane-major, `[xy C, xz C, yz C]` (`concat`
//!   feature reduction), giving `3 * 40 = 120` features per point.
//!
//! **First-layer folding.** Bilinear sampling is linear in the plane values and the
//! decoder's first layer is linear in the features, so `W1 · concat(sample_p(plane_p))`
//! equals `Σ_p sample_p(W1_p · plane_p)`, where `W1_p` is the block of `W1` that reads
//! plane `p`'s channels. [`Triplane::fold`] applies those blocks to every texel once; the
//! folded planes are then sampled with [`Triplane::sample_sum`]. Zero padding is
//! preserved (a padded tap contributes `W1_p · 0 = 0`), and the bias is added once after
//! the sum. The per-point work drops from sampling 120 channels and a 120→64 product to
//! sampling 3 × 64 channels.
//!
//! Planes are stored channel-last (`[3][H][W][C]`), so each bilinear tap reads one
//! contiguous run of channels.

use rayon::prelude::*;

/// Number of planes (xy, xz, yz).
pub const PLANES: usize = 3;

/// TripoSR's scene box half-size (`renderer.radius: 0.87`).
pub const RADIUS: f32 = 0.87;

/// Coordinates each plane is looked up at: `(u → width, v → height)` as point axes.
pub const PLANE_AXES: [(usize, usize); PLANES] = [(0, 1), (0, 2), (1, 2)];

/// Why a triplane could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TriplaneError {
    /// The data length does not match the shape.
    #[error(
        "triplane data has {got} values, expected {expected} for shape [3, {channels}, {height}, {width}]"
    )]
    Length {
        /// Values expected.
        expected: usize,
        /// Values given.
        got: usize,
        /// Channels per plane.
        channels: usize,
        /// Plane height.
        height: usize,
        /// Plane width.
        width: usize,
    },
    /// A weight matrix does not fit the triplane.
    #[error(
        "first-layer weights have {got} values, expected {expected} ({inputs} inputs x {outputs} outputs)"
    )]
    Weights {
        /// Values expected.
        expected: usize,
        /// Values given.
        got: usize,
        /// Input features (3 × channels).
        inputs: usize,
        /// Output features.
        outputs: usize,
    },
}

/// Three feature planes, channel-last.
#[derive(Debug, Clone, PartialEq)]
pub struct Triplane {
    channels: usize,
    height: usize,
    width: usize,
    /// `[plane][y][x][channel]`.
    data: Vec<f32>,
}

/// The four bilinear taps of one plane lookup: texel offsets (into a plane's
/// `[y][x]` grid) and weights; taps outside the plane have weight zero.
#[derive(Debug, Clone, Copy)]
struct Taps {
    index: [usize; 4],
    weight: [f32; 4],
}

impl Triplane {
    /// Builds a triplane from the encoder's `[3, C, H, W]` layout (batch axis removed).
    pub fn from_nchw(
        data: &[f32],
        channels: usize,
        height: usize,
        width: usize,
    ) -> Result<Self, TriplaneError> {
        // The sizes come from a model's output shape: checked, in release builds too.
        let texels = height.checked_mul(width);
        let expected = texels
            .and_then(|t| t.checked_mul(channels))
            .and_then(|n| n.checked_mul(PLANES));
        let (Some(texels), Some(expected)) = (texels, expected) else {
            return Err(TriplaneError::Length {
                expected: usize::MAX,
                got: data.len(),
                channels,
                height,
                width,
            });
        };
        if data.len() != expected || expected == 0 {
            return Err(TriplaneError::Length {
                expected,
                got: data.len(),
                channels,
                height,
                width,
            });
        }
        let mut out = vec![0.0f32; expected];
        out.par_chunks_exact_mut(texels * channels)
            .zip(data.par_chunks_exact(channels * texels))
            .for_each(|(dst, src)| {
                for (c, plane_c) in src.chunks_exact(texels).enumerate() {
                    for (t, v) in plane_c.iter().enumerate() {
                        dst[t * channels + c] = *v;
                    }
                }
            });
        Ok(Self {
            channels,
            height,
            width,
            data: out,
        })
    }

    /// Channels per plane.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Plane height in texels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Plane width in texels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Features per point after concatenation (`3 * channels`).
    pub fn feature_count(&self) -> usize {
        PLANES * self.channels
    }

    /// The planes back in `[3, C, H, W]` layout (for decoders that sample in their graph).
    pub fn to_nchw(&self) -> Vec<f32> {
        let texels = self.height * self.width;
        let c = self.channels;
        let mut out = vec![0.0f32; self.data.len()];
        for (dst, src) in out
            .chunks_exact_mut(c * texels)
            .zip(self.data.chunks_exact(texels * c))
        {
            for (t, px) in src.chunks_exact(c).enumerate() {
                for (ch, v) in px.iter().enumerate() {
                    dst[ch * texels + t] = *v;
                }
            }
        }
        out
    }

    /// Applies the first decoder layer's weight to each plane (see the module docs).
    /// `weight` is `[3 * channels][outputs]`, input-major (`x · W`, as ONNX `MatMul`
    /// stores it). The result has `outputs` channels per plane and is sampled with
    /// [`Self::sample_sum`]; the layer's bias is not included.
    pub fn fold(&self, weight: &[f32], outputs: usize) -> Result<Self, TriplaneError> {
        let inputs = self.feature_count();
        let expected = inputs * outputs;
        if weight.len() != expected || outputs == 0 {
            return Err(TriplaneError::Weights {
                expected,
                got: weight.len(),
                inputs,
                outputs,
            });
        }
        let texels = self.height * self.width;
        let c = self.channels;
        let mut out = vec![0.0f32; PLANES * texels * outputs];
        out.par_chunks_exact_mut(texels * outputs)
            .zip(self.data.par_chunks_exact(texels * c))
            .enumerate()
            .for_each(|(p, (dst, src))| {
                let w = &weight[p * c * outputs..(p + 1) * c * outputs];
                for (o, s) in dst.chunks_exact_mut(outputs).zip(src.chunks_exact(c)) {
                    for (k, sk) in s.iter().enumerate() {
                        let row = &w[k * outputs..(k + 1) * outputs];
                        for (oj, wj) in o.iter_mut().zip(row) {
                            *oj += sk * wj;
                        }
                    }
                }
            });
        Ok(Self {
            channels: outputs,
            height: self.height,
            width: self.width,
            data: out,
        })
    }

    /// Bilinear taps of normalised `(u, v)` on an `h x w` plane, `align_corners=False`,
    /// zero padding.
    #[inline(always)]
    fn taps(&self, u: f32, v: f32) -> Taps {
        let (w, h) = (self.width, self.height);
        let ix = ((u + 1.0) * w as f32 - 1.0) * 0.5;
        let iy = ((v + 1.0) * h as f32 - 1.0) * 0.5;
        let mut t = Taps {
            index: [0; 4],
            weight: [0.0; 4],
        };
        if !(ix.is_finite() && iy.is_finite()) {
            return t;
        }
        let x0 = ix.floor();
        let y0 = iy.floor();
        let fx = ix - x0;
        let fy = iy - y0;
        let corners = [
            (x0, y0, (1.0 - fx) * (1.0 - fy)),
            (x0 + 1.0, y0, fx * (1.0 - fy)),
            (x0, y0 + 1.0, (1.0 - fx) * fy),
            (x0 + 1.0, y0 + 1.0, fx * fy),
        ];
        for (k, (cx, cy, wt)) in corners.into_iter().enumerate() {
            if cx >= 0.0 && cy >= 0.0 && cx < w as f32 && cy < h as f32 {
                t.index[k] = cy as usize * w + cx as usize;
                t.weight[k] = wt;
            }
        }
        t
    }

    /// Samples every point and concatenates the planes: `out` is `[points][3 * C]`.
    /// Points are in normalised `[-1, 1]` coordinates.
    pub fn sample_concat(&self, points: &[[f32; 3]], out: &mut [f32]) {
        // Compiled for the best instruction set the CPU has (AVX2 on x86-64).
        pulp::Arch::new().dispatch(|| self.sample_concat_impl(points, out));
    }

    #[inline(always)]
    fn sample_concat_impl(&self, points: &[[f32; 3]], out: &mut [f32]) {
        let c = self.channels;
        let texels = self.height * self.width;
        for (p, row) in points.iter().zip(out.chunks_exact_mut(PLANES * c)) {
            for (plane, ((a, b), dst)) in PLANE_AXES.iter().zip(row.chunks_exact_mut(c)).enumerate()
            {
                dst.fill(0.0);
                let t = self.taps(p[*a], p[*b]);
                let base = &self.data[plane * texels * c..(plane + 1) * texels * c];
                for k in 0..4 {
                    let wt = t.weight[k];
                    if wt == 0.0 {
                        continue;
                    }
                    let src = &base[t.index[k] * c..(t.index[k] + 1) * c];
                    for (d, s) in dst.iter_mut().zip(src) {
                        *d += wt * s;
                    }
                }
            }
        }
    }

    /// Samples every point on the three planes and sums them, starting from `bias`:
    /// `out` is `[points][C]`. Used on folded planes. Points are in `[-1, 1]`.
    pub fn sample_sum(&self, points: &[[f32; 3]], bias: &[f32], out: &mut [f32]) {
        pulp::Arch::new().dispatch(|| self.sample_sum_impl(points, bias, out));
    }

    #[inline(always)]
    fn sample_sum_impl(&self, points: &[[f32; 3]], bias: &[f32], out: &mut [f32]) {
        let c = self.channels;
        let texels = self.height * self.width;
        for (p, dst) in points.iter().zip(out.chunks_exact_mut(c)) {
            dst.copy_from_slice(&bias[..c]);
            for (plane, (a, b)) in PLANE_AXES.iter().enumerate() {
                let t = self.taps(p[*a], p[*b]);
                let base = &self.data[plane * texels * c..(plane + 1) * texels * c];
                for k in 0..4 {
                    let wt = t.weight[k];
                    if wt == 0.0 {
                        continue;
                    }
                    let src = &base[t.index[k] * c..(t.index[k] + 1) * c];
                    for (d, s) in dst.iter_mut().zip(src) {
                        *d += wt * s;
                    }
                }
            }
        }
    }
}

/// Rescales points from the scene box `(-radius, radius)` to grid_sample's `(-1, 1)`.
#[inline]
pub fn to_unit(p: [f32; 3], radius: f32) -> [f32; 3] {
    // `scale_tensor`: (p - (-r)) / (2r) * 2 - 1.
    p.map(|c| (c + radius) / (2.0 * radius) * 2.0 - 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3 x C x H x W triplane with value `plane*1000 + c*100 + y*10 + x`.
    fn indexed(c: usize, h: usize, w: usize) -> Triplane {
        let mut d = Vec::new();
        for p in 0..3 {
            for ch in 0..c {
                for y in 0..h {
                    for x in 0..w {
                        d.push((p * 1000 + ch * 100 + y * 10 + x) as f32);
                    }
                }
            }
        }
        Triplane::from_nchw(&d, c, h, w).unwrap()
    }

    #[test]
    fn texel_centres_return_texels() {
        let t = indexed(2, 4, 5);
        // Texel (x=3, y=1) centre: u = (2*3 + 1)/5 - 1, v = (2*1 + 1)/4 - 1.
        let u = 7.0 / 5.0 - 1.0;
        let v = 3.0 / 4.0 - 1.0;
        // Plane 0 is looked up at (x, y): put u in x, v in y; z is at texel (x=?).
        let mut out = vec![0.0; 6];
        t.sample_concat(&[[u, v, v]], &mut out);
        assert!((out[0] - 13.0).abs() < 1e-4, "{out:?}");
        assert!((out[1] - 113.0).abs() < 1e-4, "{out:?}");
        // Plane 1 at (x, z) = (u, v): also texel (3, 1).
        assert!((out[2] - 1013.0).abs() < 1e-4, "{out:?}");
        // Plane 2 at (y, z) = (v, v): v indexes width (5 texels): ix = ((v+1)*5-1)/2 = 1.375.
        let ix = ((v + 1.0) * 5.0 - 1.0) / 2.0;
        let want = 2000.0 + 10.0 * 1.0 + ix;
        assert!((out[4] - want).abs() < 1e-3, "{out:?} {want}");
    }

    #[test]
    fn zero_padding_outside_and_at_edges() {
        let t = indexed(1, 4, 4);
        let mut out = vec![0.0; 3];
        t.sample_concat(&[[1.5, 0.0, 0.0]], &mut out);
        // Plane 0 and 1 are outside (x = 1.5); plane 2 is inside.
        assert_eq!(out[0], 0.0);
        assert_eq!(out[1], 0.0);
        assert!(out[2] > 0.0);
        // At u = 1 exactly: ix = 3.5, half of the last texel column.
        t.sample_concat(&[[1.0, -0.75, -0.75]], &mut out);
        // Plane 0 at (1, -0.75): iy = 0.5 * ((0.25)*4 - 1) = 0 -> row 0, x 3 with weight 0.5.
        assert!((out[0] - 0.5 * 3.0).abs() < 1e-5, "{out:?}");
    }

    #[test]
    fn folding_equals_sampling_then_layer() {
        let t = indexed(3, 5, 6);
        let inputs = 9;
        let outputs = 4;
        let w: Vec<f32> = (0..inputs * outputs)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.01)
            .collect();
        let bias = [0.5, -0.25, 0.125, 1.0];
        let folded = t.fold(&w, outputs).unwrap();
        let points = [
            [0.1, -0.3, 0.7],
            [0.99, 0.99, -0.99],
            [-1.2, 0.0, 0.3],
            [0.0, 0.0, 0.0],
        ];
        let mut feats = vec![0.0; points.len() * inputs];
        t.sample_concat(&points, &mut feats);
        let mut got = vec![0.0; points.len() * outputs];
        folded.sample_sum(&points, &bias, &mut got);
        for (p, f) in feats.chunks_exact(inputs).enumerate() {
            for j in 0..outputs {
                let want: f32 =
                    bias[j] + (0..inputs).map(|k| f[k] * w[k * outputs + j]).sum::<f32>();
                let g = got[p * outputs + j];
                assert!(
                    (g - want).abs() <= 1e-3 * want.abs().max(1.0),
                    "{p} {j}: {g} vs {want}"
                );
            }
        }
    }

    #[test]
    fn nchw_round_trip_and_errors() {
        let t = indexed(2, 3, 4);
        let back = Triplane::from_nchw(&t.to_nchw(), 2, 3, 4).unwrap();
        assert_eq!(back, t);
        assert!(Triplane::from_nchw(&[0.0; 5], 2, 3, 4).is_err());
        // Issue 12: sizes from a model's output whose product overflows are an error,
        // not a wrapped length.
        assert!(Triplane::from_nchw(&[0.0; 6], 1 << 40, 1 << 20, 1 << 20).is_err());
        assert!(t.fold(&[0.0; 5], 2).is_err());
        // Non-finite points sample zeros instead of panicking.
        let mut out = vec![1.0; 6];
        t.sample_concat(&[[f32::NAN, 0.0, f32::INFINITY]], &mut out);
        assert_eq!(out[0], 0.0);
    }

    #[test]
    fn unit_rescale() {
        assert_eq!(to_unit([-0.87, 0.0, 0.87], RADIUS), [-1.0, 0.0, 1.0]);
    }
}
