//! Depth discontinuities: MoGe's relative 3×3 rule (`utils3d` `depth_edge`, used by
//! `moge/scripts/infer.py` with `--threshold 0.04`). A pixel is an edge when the depth
//! range over its 3×3 window exceeds `rtol` times its own depth. Pixels without a valid
//! depth are left out of their neighbours' windows and are never edges themselves.

use super::{DepthMap, is_valid_depth};
use crate::{Error, Result};

/// MoGe's default relative tolerance: a 4 % depth jump within a 3×3 window is an edge.
pub const DEFAULT_EDGE_RTOL: f32 = 0.04;

/// One flag per pixel (row-major): `true` where the pixel is a depth edge.
///
/// `rtol` must be finite and positive. Runs over rows in parallel.
pub fn edge_mask(depth: &DepthMap, rtol: f32) -> Result<Vec<bool>> {
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
    super::for_each_row_mut(&mut mask, w, |v, row| {
        let v0 = v.saturating_sub(1);
        let v1 = (v + 1).min(h - 1);
        for (u, out) in row.iter_mut().enumerate() {
            let z = d[v * w + u];
            if !is_valid_depth(z) {
                continue;
            }
            let u0 = u.saturating_sub(1);
            let u1 = (u + 1).min(w - 1);
            let (mut lo, mut hi) = (z, z);
            for r in v0..=v1 {
                for &n in &d[r * w + u0..=r * w + u1] {
                    if is_valid_depth(n) {
                        lo = lo.min(n);
                        hi = hi.max(n);
                    }
                }
            }
            *out = hi - lo > rtol * z;
        }
    });
    Ok(mask)
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
}
