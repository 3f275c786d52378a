//! Scan conversion of 2D triangles onto a pixel grid, shared by the texture baker (UV
//! space), the atlas's utilisation measurement and the preview renderer (screen space).
//!
//! A pixel `(x, y)` is covered when its centre `(x + 0.5, y + 0.5)` lies inside the
//! triangle. Edges follow a consistent tie rule (a centre exactly on an edge belongs to
//! the triangle on one side only, as in Direct3D's top-left rule), so triangles sharing
//! an edge cover every pixel along it exactly once. Triangles of either winding are
//! accepted; degenerate ones cover nothing.

/// A triangle prepared for scan conversion: its edge functions, normalised so that they
/// are the barycentric coordinates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RasterTriangle {
    /// Barycentric `λ_i(x, y) = a[i] x + b[i] y + c[i]` (λ_i is 1 at vertex i).
    a: [f64; 3],
    b: [f64; 3],
    c: [f64; 3],
    /// Rows whose centres may be covered, `[y0, y1)`, before clipping.
    y0: i64,
    y1: i64,
}

impl RasterTriangle {
    /// Prepares triangle `p` (pixel units). `None` when degenerate or not finite.
    pub(crate) fn new(p: [[f64; 2]; 3]) -> Option<Self> {
        let area2 =
            (p[1][0] - p[0][0]) * (p[2][1] - p[0][1]) - (p[2][0] - p[0][0]) * (p[1][1] - p[0][1]);
        if area2 == 0.0 || !area2.is_finite() {
            return None;
        }
        let mut a = [0.0; 3];
        let mut b = [0.0; 3];
        let mut c = [0.0; 3];
        for i in 0..3 {
            // λ_i is the edge function of the edge opposite vertex i, over twice the area.
            let (j, k) = ((i + 1) % 3, (i + 2) % 3);
            a[i] = (p[j][1] - p[k][1]) / area2;
            b[i] = (p[k][0] - p[j][0]) / area2;
            c[i] = (p[j][0] * p[k][1] - p[k][0] * p[j][1]) / area2;
        }
        let ymin = p[0][1].min(p[1][1]).min(p[2][1]);
        let ymax = p[0][1].max(p[1][1]).max(p[2][1]);
        Some(Self {
            a,
            b,
            c,
            y0: (ymin - 0.5).ceil() as i64,
            y1: (ymax - 0.5).floor() as i64 + 1,
        })
    }

    /// Rows `[y0, y1)` whose centres may lie inside, clipped to `[0, height)`.
    pub(crate) fn rows(&self, height: u32) -> std::ops::Range<u32> {
        let y0 = self.y0.clamp(0, i64::from(height)) as u32;
        let y1 = self.y1.clamp(0, i64::from(height)) as u32;
        y0..y1.max(y0)
    }

    /// The covered pixels of row `y`, clipped to `[0, width)`, as `x0..x1`, with the
    /// barycentrics of pixel `x0` and their step per pixel.
    #[inline]
    pub(crate) fn span(&self, y: u32, width: u32) -> Option<(u32, u32, [f32; 3], [f32; 3])> {
        let yc = f64::from(y) + 0.5;
        // Each λ_i(x) = a x + k ≥ 0 bounds x on one side.
        let mut lo = f64::NEG_INFINITY;
        let mut hi = f64::INFINITY;
        for i in 0..3 {
            let k = self.b[i] * yc + self.c[i];
            let a = self.a[i];
            // Tie rule: edges bounding x from below are inclusive, from above exclusive;
            // horizontal edges are inclusive when the triangle lies below them (b > 0).
            if a > 0.0 {
                lo = lo.max(-k / a);
            } else if a < 0.0 {
                hi = hi.min(-k / a);
            } else if k < 0.0 || (k == 0.0 && self.b[i] < 0.0) {
                return None;
            }
        }
        // Centres x + 0.5 in [lo, hi).
        let x0 = (lo - 0.5).ceil().max(0.0);
        let x1 = (hi - 0.5).ceil().min(f64::from(width));
        if x1 <= x0 || x0.is_nan() || x1.is_nan() {
            return None;
        }
        let xc = x0 + 0.5;
        let bary: [f32; 3] =
            std::array::from_fn(|i| (self.a[i] * xc + self.b[i] * yc + self.c[i]) as f32);
        let step: [f32; 3] = std::array::from_fn(|i| self.a[i] as f32);
        Some((x0 as u32, x1 as u32, bary, step))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coverage(tris: &[[[f64; 2]; 3]], w: u32, h: u32) -> Vec<u32> {
        let mut count = vec![0u32; (w * h) as usize];
        for t in tris {
            let Some(r) = RasterTriangle::new(*t) else {
                continue;
            };
            for y in r.rows(h) {
                if let Some((x0, x1, _, _)) = r.span(y, w) {
                    for x in x0..x1 {
                        count[(y * w + x) as usize] += 1;
                    }
                }
            }
        }
        count
    }

    #[test]
    fn shared_edges_cover_each_pixel_once() {
        // A 4x4 square split along its diagonal through pixel centres, both windings:
        //   (0,0)-----(4,0)
        //     |  \      |
        //     |    \    |
        //   (0,4)-----(4,4)
        for flip in [false, true] {
            let mut t1 = [[0.0, 0.0], [4.0, 4.0], [4.0, 0.0]];
            let mut t2 = [[0.0, 0.0], [0.0, 4.0], [4.0, 4.0]];
            if flip {
                t1.swap(1, 2);
                t2.swap(1, 2);
            }
            let c = coverage(&[t1, t2], 4, 4);
            assert!(c.iter().all(|&n| n == 1), "{c:?}");
        }
        // A fan of 6 triangles around the pixel centre (2.5, 2.5), every vertex on a
        // pixel centre (exactly representable, so ties are exact).
        let centre = [2.5, 2.5];
        let ring = [
            [4.5, 2.5],
            [3.5, 4.5],
            [1.5, 4.5],
            [0.5, 2.5],
            [1.5, 0.5],
            [3.5, 0.5],
        ];
        let fan: Vec<_> = (0..6)
            .map(|k| [centre, ring[k], ring[(k + 1) % 6]])
            .collect();
        let c = coverage(&fan, 5, 5);
        assert!(c.iter().all(|&n| n <= 1), "{c:?}");
        assert_eq!(c[2 * 5 + 2], 1);
    }

    #[test]
    fn barycentrics_interpolate_vertices() {
        let t = [[0.5, 0.5], [8.5, 0.5], [0.5, 6.5]];
        let r = RasterTriangle::new(t).unwrap();
        let (x0, x1, bary, step) = r.span(0, 16).unwrap();
        assert_eq!(x0, 0);
        assert!(x1 >= 8);
        // Pixel 0's centre is vertex 0.
        assert!((bary[0] - 1.0).abs() < 1e-6 && bary[1].abs() < 1e-6);
        // Moving one pixel right moves 1/8 of the way to vertex 1.
        assert!((step[1] - 0.125).abs() < 1e-6);
        assert!(RasterTriangle::new([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]).is_none());
    }

    #[test]
    fn clipping_keeps_spans_inside() {
        let t = [[-10.0, -10.0], [30.0, -10.0], [-10.0, 30.0]];
        let c = coverage(&[t], 8, 8);
        assert!(c.iter().all(|&n| n == 1));
    }
}
