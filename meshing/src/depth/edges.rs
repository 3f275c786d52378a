//! Depth discontinuities: MoGe's relative 3×3 rule (`utils3d` `depth_edge`, used by
//! `moge/scripts/infer.py` with `--threshold 0.04`). A pixel is an edge when the depth
//! range over its 3×3 window exceeds `rtol` times its own depth. Pixels without a valid
//! depth are left out of their neighbours' windows and are never edges themselves.
//!
//! The window minimum and maximum are computed separably (a horizontal pass of three, then
//! a vertical pass of three) over blocks of rows in parallel.

use super::{DepthMap, is_valid_depth};
use crate::{Error, Result};

/// MoGe's default relative tolerance: a 4 % depth jump within a 3×3 window is an edge.
pub const DEFAULT_EDGE_RTOL: f32 = 0.04;

/// Rows per parallel block of [`edge_mask`].
const BLOCK_ROWS: usize = 32;

/// One flag per pixel (row-major): `true` where the pixel is a depth edge.
///
/// `rtol` must be finite and positive.
pub fn edge_mask(depth: &DepthMap, rtol: f32) -> Result<Vec<bool>> {
    mask_with(depth, rtol, None)
}

/// One flag per pixel: `true` where the pixel is a depth edge or (with `max_depth`) has no
/// valid depth or lies beyond `max_depth` — the pixels a mesh must not use.
pub(crate) fn unusable_mask(depth: &DepthMap, rtol: f32, max_depth: f32) -> Result<Vec<bool>> {
    mask_with(depth, rtol, Some(max_depth))
}

fn mask_with(depth: &DepthMap, rtol: f32, max_depth: Option<f32>) -> Result<Vec<bool>> {
    if !(rtol.is_finite() && rtol > 0.0) {
        return Err(Error::invalid_parameter(
            "edge tolerance",
            "a finite, positive ratio",
            rtol,
        ));
    }
    let (w, h) = (depth.width(), depth.height());
    let d = depth.data();
    let mut mask: Vec<bool> = crate::limits::try_vec_with_capacity(w * h, "depth edge mask")?;
    mask.resize(w * h, false);
    super::for_each_row_mut(&mut mask, w * BLOCK_ROWS, |block, out| {
        let v_start = block * BLOCK_ROWS;
        let rows = out.len() / w;
        // Horizontal min/max of rows v_start-1 ..= v_start+rows (clamped to the map), with
        // invalid pixels as +inf (for the min) and -inf (for the max): branch-free loops
        // the compiler vectorises.
        let r0 = v_start.saturating_sub(1);
        let r1 = (v_start + rows).min(h - 1);
        let n = r1 - r0 + 1;
        let mut hmin = vec![0.0f32; n * w];
        let mut hmax = vec![0.0f32; n * w];
        let mut lo_c = vec![0.0f32; w];
        let mut hi_c = vec![0.0f32; w];
        for (k, r) in (r0..=r1).enumerate() {
            for ((l, hh), &z) in lo_c
                .iter_mut()
                .zip(hi_c.iter_mut())
                .zip(&d[r * w..(r + 1) * w])
            {
                let ok = is_valid_depth(z);
                *l = if ok { z } else { f32::INFINITY };
                *hh = if ok { z } else { f32::NEG_INFINITY };
            }
            window3(&lo_c, &mut hmin[k * w..(k + 1) * w], f32::min);
            window3(&hi_c, &mut hmax[k * w..(k + 1) * w], f32::max);
        }
        for (i, row) in out.chunks_mut(w).enumerate() {
            let v = v_start + i;
            let (a, b) = (v.saturating_sub(1) - r0, (v + 1).min(h - 1) - r0);
            let (mut lo, mut hi) = (
                hmin[a * w..(a + 1) * w].to_vec(),
                hmax[a * w..(a + 1) * w].to_vec(),
            );
            for k in a + 1..=b {
                for (x, &y) in lo.iter_mut().zip(&hmin[k * w..(k + 1) * w]) {
                    *x = x.min(y);
                }
                for (x, &y) in hi.iter_mut().zip(&hmax[k * w..(k + 1) * w]) {
                    *x = x.max(y);
                }
            }
            let src = &d[v * w..(v + 1) * w];
            for (((flag, &z), &l), &hh) in row.iter_mut().zip(src).zip(&lo).zip(&hi) {
                // An invalid centre has no valid window value of its own; NaN or +-inf
                // make the comparison false, and `is_valid_depth` settles the rest.
                let edge = is_valid_depth(z) & (hh - l > rtol * z);
                *flag = match max_depth {
                    None => edge,
                    Some(m) => edge | !(is_valid_depth(z) & (z <= m)),
                };
            }
        }
    });
    Ok(mask)
}

/// `out[u] = op(x[u-1], x[u], x[u+1])` with the window clamped at both ends.
fn window3(x: &[f32], out: &mut [f32], op: impl Fn(f32, f32) -> f32) {
    let w = x.len();
    if w == 1 {
        out[0] = x[0];
        return;
    }
    out[0] = op(x[0], x[1]);
    out[w - 1] = op(x[w - 2], x[w - 1]);
    for (o, t) in out[1..w - 1].iter_mut().zip(x.windows(3)) {
        *o = op(op(t[0], t[1]), t[2]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;

    fn map(w: usize, h: usize, f: impl Fn(usize, usize) -> f32) -> DepthMap {
        let data = (0..h)
            .flat_map(|v| (0..w).map(move |u| (u, v)))
            .map(|(u, v)| f(u, v))
            .collect();
        DepthMap::new(w, h, data, &Limits::default()).unwrap()
    }

    /// The definition, pixel by pixel: the reference for the separable version.
    fn brute_force(d: &DepthMap, rtol: f32) -> Vec<bool> {
        let (w, h) = (d.width(), d.height());
        let mut out = vec![false; w * h];
        for v in 0..h {
            for u in 0..w {
                let z = d.at(u, v);
                if !is_valid_depth(z) {
                    continue;
                }
                let (mut lo, mut hi) = (z, z);
                for y in v.saturating_sub(1)..=(v + 1).min(h - 1) {
                    for x in u.saturating_sub(1)..=(u + 1).min(w - 1) {
                        let n = d.at(x, y);
                        if is_valid_depth(n) {
                            lo = lo.min(n);
                            hi = hi.max(n);
                        }
                    }
                }
                out[v * w + u] = hi - lo > rtol * z;
            }
        }
        out
    }

    #[test]
    fn step_marks_both_sides_only() {
        // Columns 0..4 at 1 m, 4..8 at 2 m: columns 3 and 4 see the jump.
        let d = map(8, 5, |u, _| if u < 4 { 1.0 } else { 2.0 });
        let m = edge_mask(&d, DEFAULT_EDGE_RTOL).unwrap();
        for v in 0..5 {
            let row: Vec<bool> = (0..8).map(|u| m[v * 8 + u]).collect();
            assert_eq!(
                row,
                [false, false, false, true, true, false, false, false],
                "row {v}"
            );
        }
    }

    #[test]
    fn gentle_slope_has_no_edges() {
        // 1 % per pixel: a 3x3 window spans 2 % < 4 %.
        let d = map(16, 16, |u, _| 1.0 + 0.01 * u as f32);
        assert!(!edge_mask(&d, DEFAULT_EDGE_RTOL).unwrap().contains(&true));
    }

    #[test]
    fn invalid_neighbours_are_ignored() {
        let d = map(3, 3, |u, v| if (u, v) == (1, 1) { f32::NAN } else { 1.0 });
        let m = edge_mask(&d, DEFAULT_EDGE_RTOL).unwrap();
        assert!(!m.contains(&true));
        assert!(edge_mask(&d, 0.0).is_err());
    }

    #[test]
    fn separable_blocks_match_the_definition() {
        // A pseudo-random map with holes, taller than several blocks, odd sizes.
        let (w, h) = (37, 3 * BLOCK_ROWS + 5);
        let mut state = 12345u32;
        let data = (0..w * h)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let r = (state >> 8) as f32 / (1 << 24) as f32;
                if r < 0.05 { f32::NAN } else { 1.0 + 0.1 * r }
            })
            .collect();
        let d = DepthMap::new(w, h, data, &Limits::default()).unwrap();
        for rtol in [0.01, 0.04, 0.08] {
            let expected = brute_force(&d, rtol);
            assert_eq!(edge_mask(&d, rtol).unwrap(), expected);
            // The mesh mask adds invalid pixels and pixels beyond the max depth.
            let unusable = unusable_mask(&d, rtol, 1.05).unwrap();
            for (k, &z) in d.data().iter().enumerate() {
                let far_or_invalid = !(is_valid_depth(z) && z <= 1.05);
                assert_eq!(unusable[k], expected[k] || far_or_invalid, "pixel {k}");
            }
        }
        let one = map(1, 1, |_, _| 2.0);
        assert_eq!(edge_mask(&one, 0.04).unwrap(), vec![false]);
    }
}
