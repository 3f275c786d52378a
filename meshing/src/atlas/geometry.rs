//! 2-D geometry of flattened charts: the projection plane's basis, signed areas, the
//! triangle overlap test (separating axes) and a uniform grid that finds the triangles
//! near a triangle.

use crate::Mesh;
use crate::mesh::{cross, length};

/// An orthonormal basis `(u, v)` of the plane perpendicular to unit `n`, with
/// `u × v = n` (so triangles facing `n` keep their counter-clockwise winding).
pub(crate) fn plane_basis(n: [f32; 3]) -> ([f32; 3], [f32; 3]) {
    let helper = if n[0].abs() < 0.9 {
        [1.0, 0.0, 0.0]
    } else {
        [0.0, 1.0, 0.0]
    };
    let u = cross(helper, n);
    let lu = length(u);
    let u = u.map(|c| c / lu);
    let v = cross(n, u);
    (u, v)
}

/// Twice the signed area of 2D triangle `p`.
#[inline]
pub(crate) fn area2(p: [[f64; 2]; 3]) -> f64 {
    (p[1][0] - p[0][0]) * (p[2][1] - p[0][1]) - (p[2][0] - p[0][0]) * (p[1][1] - p[0][1])
}

/// True when the interiors of 2D triangles `a` and `b` (both counter-clockwise) overlap
/// by more than `eps` along every separating-axis candidate.
pub(crate) fn triangles_overlap(a: &[[f64; 2]; 3], b: &[[f64; 2]; 3], eps: f64) -> bool {
    // Bounding boxes first: most candidate pairs end here.
    for k in 0..2 {
        let amax = a[0][k].max(a[1][k]).max(a[2][k]);
        let amin = a[0][k].min(a[1][k]).min(a[2][k]);
        let bmax = b[0][k].max(b[1][k]).max(b[2][k]);
        let bmin = b[0][k].min(b[1][k]).min(b[2][k]);
        if amax <= bmin + eps || bmax <= amin + eps {
            return false;
        }
    }
    for (tri, other) in [(a, b), (b, a)] {
        for k in 0..3 {
            let p = tri[k];
            let q = tri[(k + 1) % 3];
            // Outward (unnormalised) normal of a counter-clockwise edge.
            let axis = [q[1] - p[1], p[0] - q[0]];
            let len = (axis[0].abs() + axis[1].abs()).max(f64::MIN_POSITIVE);
            let proj = |v: [f64; 2]| v[0] * axis[0] + v[1] * axis[1];
            let edge = proj(p);
            let other_min = proj(other[0]).min(proj(other[1])).min(proj(other[2]));
            // `len` (an L1 length) only scales the tolerance.
            if other_min >= edge - eps * len {
                return false;
            }
        }
    }
    true
}

/// A uniform grid over a chart's 2D bounding box that buckets triangles by the cells
/// their bounding boxes touch, in compressed rows (one allocation for all cells).
pub(crate) struct OverlapGrid {
    origin: [f64; 2],
    inv_cell: f64,
    dims: [usize; 2],
    start: Vec<u32>,
    ids: Vec<u32>,
}

impl OverlapGrid {
    /// Buckets the triangles `corners[i]` for which `keep(i)` holds.
    pub(crate) fn new(corners: &[[[f64; 2]; 3]], keep: impl Fn(usize) -> bool) -> Self {
        let mut lo = [f64::INFINITY; 2];
        let mut hi = [f64::NEG_INFINITY; 2];
        for p in corners.iter().flatten() {
            for k in 0..2 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
        let size = [(hi[0] - lo[0]).max(1e-12), (hi[1] - lo[1]).max(1e-12)];
        // About one triangle per cell.
        let cell = (size[0] * size[1] / corners.len().max(1) as f64)
            .sqrt()
            .max(1e-12)
            * 1.5;
        let dims = [
            ((size[0] / cell).ceil() as usize).clamp(1, 2048),
            ((size[1] / cell).ceil() as usize).clamp(1, 2048),
        ];
        let cell = (size[0] / dims[0] as f64).max(size[1] / dims[1] as f64);
        let mut grid = Self {
            origin: lo,
            inv_cell: 1.0 / cell,
            dims,
            start: vec![0; dims[0] * dims[1] + 1],
            ids: Vec::new(),
        };
        for (i, t) in corners.iter().enumerate() {
            if keep(i) {
                let (a, b) = grid.range(t);
                for y in a[1]..=b[1] {
                    for x in a[0]..=b[0] {
                        grid.start[y * dims[0] + x + 1] += 1;
                    }
                }
            }
        }
        for c in 1..grid.start.len() {
            grid.start[c] += grid.start[c - 1];
        }
        let mut fill = grid.start.clone();
        grid.ids = vec![0; *grid.start.last().unwrap_or(&0) as usize];
        for (i, t) in corners.iter().enumerate() {
            if keep(i) {
                let (a, b) = grid.range(t);
                for y in a[1]..=b[1] {
                    for x in a[0]..=b[0] {
                        let c = y * dims[0] + x;
                        grid.ids[fill[c] as usize] = i as u32;
                        fill[c] += 1;
                    }
                }
            }
        }
        grid
    }

    fn range(&self, t: &[[f64; 2]; 3]) -> ([usize; 2], [usize; 2]) {
        let mut lo = [0usize; 2];
        let mut hi = [0usize; 2];
        for k in 0..2 {
            let mn = t[0][k].min(t[1][k]).min(t[2][k]);
            let mx = t[0][k].max(t[1][k]).max(t[2][k]);
            let c = |x: f64| {
                (((x - self.origin[k]) * self.inv_cell).max(0.0) as usize).min(self.dims[k] - 1)
            };
            lo[k] = c(mn);
            hi[k] = c(mx);
        }
        (lo, hi)
    }

    /// Calls `f` with every id stored in a cell that `t`'s bounding box touches (an id
    /// may come more than once); stops early when `f` returns true.
    pub(crate) fn any_near(&self, t: &[[f64; 2]; 3], mut f: impl FnMut(u32) -> bool) -> bool {
        let (lo, hi) = self.range(t);
        for y in lo[1]..=hi[1] {
            for x in lo[0]..=hi[0] {
                let c = y * self.dims[0] + x;
                for &id in &self.ids[self.start[c] as usize..self.start[c + 1] as usize] {
                    if f(id) {
                        return true;
                    }
                }
            }
        }
        false
    }
}

/// Tolerance of the 2D overlap tests among `corners`: 1e-7 of their extent.
pub(crate) fn overlap_eps<'a>(corners: impl IntoIterator<Item = &'a [[f64; 2]; 3]>) -> f64 {
    let extent = corners
        .into_iter()
        .flatten()
        .fold([f64::INFINITY, f64::NEG_INFINITY], |acc, p| {
            [acc[0].min(p[0].min(p[1])), acc[1].max(p[0].max(p[1]))]
        });
    1e-7 * (extent[1] - extent[0]).max(1e-12)
}

/// Whether triangles `a` and `b` of `mesh` share an edge (two vertices).
pub(crate) fn shares_edge(mesh: &Mesh, a: u32, b: u32) -> bool {
    let (ta, tb) = (mesh.triangles[a as usize], mesh.triangles[b as usize]);
    ta.iter().filter(|i| tb.contains(i)).count() >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_test_separates_touching_triangles() {
        let a = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]];
        // Shares the hypotenuse: touching, not overlapping.
        let b = [[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]];
        assert!(!triangles_overlap(&a, &b, 1e-9));
        // Shares a vertex only.
        let c = [[0.0, 0.0], [-1.0, 0.0], [0.0, -1.0]];
        assert!(area2(c) > 0.0);
        assert!(!triangles_overlap(&a, &c, 1e-9));
        // Clearly overlapping.
        let d = [[0.2, 0.2], [1.2, 0.2], [0.2, 1.2]];
        assert!(triangles_overlap(&a, &d, 1e-9));
        // Contained.
        let e = [[0.1, 0.1], [0.3, 0.1], [0.1, 0.3]];
        assert!(triangles_overlap(&a, &e, 1e-9));
    }

    #[test]
    fn basis_is_right_handed() {
        for n in [
            [0.0, 0.0, 1.0],
            [1.0, 0.0, 0.0],
            [0.0, -1.0, 0.0],
            [0.6, 0.0, 0.8],
        ] {
            let (u, v) = plane_basis(n);
            let c = cross(u, v);
            assert!((0..3).all(|k| (c[k] - n[k]).abs() < 1e-6), "{n:?}");
        }
    }
}
