//! Marching-cubes case tables, generated (once, at first use) from a rule instead of
//! copied from a published table, so that the rule that makes the mesh watertight and
//! 2-manifold is written down and tested:
//!
//! * **Faces decide.** On each cube face the contour segments follow from that face's
//!   four corners alone; on an ambiguous face (two diagonal corners inside) the inside
//!   corners are kept apart. Two cells that share a face therefore draw the same segments
//!   on it, so the surface has no cracks.
//! * **One disk per loop.** The segments of a cell join into closed loops; each loop is
//!   triangulated as a disk with the minimum-length triangulation that never draws a
//!   diagonal between two vertices of the same face (such a diagonal could be drawn by the
//!   neighbouring cell too, giving an edge shared by four triangles). Every mesh edge is
//!   then shared by exactly two triangles and every vertex has a single fan.
//! * **Orientation.** Segments run so that, seen from outside the cube, the inside corners
//!   lie on their right; loops inherit this and triangles come out counter-clockwise seen
//!   from outside the object (outward normals).
//!
//! Numbering: corner `c = x | y << 1 | z << 2`. Edge ids: x-edges `0..4` are
//! `y | z << 1`, y-edges `4..8` are `4 + (x | z << 1)`, z-edges `8..12` are
//! `8 + (x | y << 1)`. Case index bit `c` is set when corner `c` is inside.

use std::sync::OnceLock;

/// Most triangles any case produces (checked by the tests).
pub const MAX_TRIANGLES: usize = 6;

/// Triangles of one case, as edge ids, counter-clockwise from outside.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// Number of triangles used in `triangles`.
    pub count: u8,
    /// Triangle corners as edge ids (0..12).
    pub triangles: [[u8; 3]; MAX_TRIANGLES],
}

/// All 256 cases, plus whether generation hit the fan fallback (never, per the tests).
pub struct Tables {
    /// Indexed by case.
    pub cases: [Case; 256],
    /// True when some loop could not avoid a same-face diagonal (a generation bug).
    pub used_fallback: bool,
}

/// The tables, built on first use.
pub fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(build)
}

/// The two corners of edge `e`.
pub const fn edge_corners(e: usize) -> (usize, usize) {
    let axis = e / 4;
    let rest = e % 4;
    let (a, b) = (rest & 1, rest >> 1);
    // The other two coordinates, in increasing axis order.
    let base = match axis {
        0 => (a << 1) | (b << 2),
        1 => a | (b << 2),
        _ => a | (b << 1),
    };
    (base, base | (1 << axis))
}

fn corner_pos(c: usize) -> [f32; 3] {
    [(c & 1) as f32, ((c >> 1) & 1) as f32, ((c >> 2) & 1) as f32]
}

fn edge_of(c0: usize, c1: usize) -> usize {
    (0..12)
        .find(|&e| {
            let (a, b) = edge_corners(e);
            (a == c0 && b == c1) || (a == c1 && b == c0)
        })
        .unwrap_or(0)
}

/// The 6 faces, each as 4 corners counter-clockwise seen from outside the cube.
fn faces() -> [[usize; 4]; 6] {
    let mut out = [[0; 4]; 6];
    for axis in 0..3 {
        for side in 0..2 {
            let (u, v) = ((axis + 1) % 3, (axis + 2) % 3);
            let at = |du: usize, dv: usize| (side << axis) | (du << u) | (dv << v);
            // (u, v, axis) is a right-handed frame: the cycle (0,0)->(1,0)->(1,1)->(0,1)
            // turns counter-clockwise about +axis, so it is CCW from outside on the +side.
            let cycle = [at(0, 0), at(1, 0), at(1, 1), at(0, 1)];
            out[axis * 2 + side] = if side == 1 {
                cycle
            } else {
                [cycle[0], cycle[3], cycle[2], cycle[1]]
            };
        }
    }
    out
}

fn edges_share_face(e0: usize, e1: usize, faces: &[[usize; 4]; 6]) -> bool {
    faces.iter().any(|f| {
        let on = |e: usize| (0..4).any(|k| edge_of(f[k], f[(k + 1) % 4]) == e);
        on(e0) && on(e1)
    })
}

fn build() -> Tables {
    let faces = faces();
    let mut cases = [Case {
        count: 0,
        triangles: [[0; 3]; MAX_TRIANGLES],
    }; 256];
    let mut used_fallback = false;
    for (case, slot) in cases.iter_mut().enumerate() {
        let inside = |c: usize| case >> c & 1 == 1;
        // next[e] = the edge the segment starting at e runs to.
        let mut next = [usize::MAX; 12];
        for f in &faces {
            let edge = |k: usize| edge_of(f[k], f[(k + 1) % 4]);
            // Walking CCW, an entry edge goes outside -> inside, an exit inside -> outside.
            let entries: Vec<usize> = (0..4)
                .filter(|&k| !inside(f[k]) && inside(f[(k + 1) % 4]))
                .collect();
            for &k in &entries {
                // The inside run starting at corner k+1 ends at the first exit after it;
                // pairing each entry with its own run's exit keeps inside corners apart.
                let mut m = (k + 1) % 4;
                while inside(f[(m + 1) % 4]) {
                    m = (m + 1) % 4;
                }
                next[edge(k)] = edge(m);
            }
        }
        let mut seen = [false; 12];
        let mut tris: Vec<[u8; 3]> = Vec::new();
        for start in 0..12 {
            if next[start] == usize::MAX || seen[start] {
                continue;
            }
            let mut lp = Vec::new();
            let mut e = start;
            while !seen[e] {
                seen[e] = true;
                lp.push(e);
                e = next[e];
            }
            let (loop_tris, fallback) = triangulate(&lp, &faces);
            used_fallback |= fallback;
            tris.extend(loop_tris);
        }
        slot.count = tris.len().min(MAX_TRIANGLES) as u8;
        used_fallback |= tris.len() > MAX_TRIANGLES;
        for (d, t) in slot.triangles.iter_mut().zip(&tris) {
            *d = *t;
        }
    }
    Tables {
        cases,
        used_fallback,
    }
}

/// Minimum-length triangulation of a loop of edge ids, avoiding same-face diagonals.
/// Returns the triangles and whether the fan fallback was needed.
fn triangulate(lp: &[usize], faces: &[[usize; 4]; 6]) -> (Vec<[u8; 3]>, bool) {
    let n = lp.len();
    let mid = |e: usize| {
        let (a, b) = edge_corners(e);
        let (pa, pb) = (corner_pos(a), corner_pos(b));
        [0, 1, 2].map(|k| 0.5 * (pa[k] + pb[k]))
    };
    let weight = |i: usize, j: usize| -> f32 {
        if j == i + 1 || (i == 0 && j == n - 1) {
            return 0.0; // a loop edge
        }
        if edges_share_face(lp[i], lp[j], faces) {
            return f32::INFINITY;
        }
        let (a, b) = (mid(lp[i]), mid(lp[j]));
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
    };
    // cost[i][j]: best triangulation of the sub-polygon i..=j; split[i][j] its apex.
    let mut cost = vec![vec![0.0f32; n]; n];
    let mut split = vec![vec![0usize; n]; n];
    #[allow(
        clippy::needless_range_loop,
        reason = "the DP reads cost[i][k] and cost[k][j]"
    )]
    for len in 2..n {
        for i in 0..n - len {
            let j = i + len;
            let mut best = f32::INFINITY;
            let mut arg = i + 1;
            for k in i + 1..j {
                let c = cost[i][k] + cost[k][j] + weight(i, k) + weight(k, j);
                if c < best {
                    best = c;
                    arg = k;
                }
            }
            cost[i][j] = best;
            split[i][j] = arg;
        }
    }
    let mut out = Vec::new();
    if n < 3 {
        return (out, true);
    }
    let fallback = !cost[0][n - 1].is_finite();
    if fallback {
        for k in 1..n - 1 {
            out.push([lp[0] as u8, lp[k] as u8, lp[k + 1] as u8]);
        }
        return (out, true);
    }
    let mut stack = vec![(0usize, n - 1)];
    while let Some((i, j)) = stack.pop() {
        if j < i + 2 {
            continue;
        }
        let k = split[i][j];
        out.push([lp[i] as u8, lp[k] as u8, lp[j] as u8]);
        stack.push((i, k));
        stack.push((k, j));
    }
    (out, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_is_triangulated_without_fallback() {
        let t = tables();
        assert!(!t.used_fallback);
        assert_eq!(t.cases[0].count, 0);
        assert_eq!(t.cases[255].count, 0);
        let max = t.cases.iter().map(|c| c.count).max().unwrap();
        assert!(max as usize <= MAX_TRIANGLES);
        for (case, c) in t.cases.iter().enumerate() {
            // Every crossing edge of the case is used, and no other.
            let mut used = [false; 12];
            for tri in &c.triangles[..c.count as usize] {
                for &e in tri {
                    used[e as usize] = true;
                }
            }
            for (e, &u) in used.iter().enumerate() {
                let (a, b) = edge_corners(e);
                let crosses = (case >> a & 1) != (case >> b & 1);
                assert_eq!(u, crosses, "case {case} edge {e}");
            }
        }
    }

    #[test]
    fn single_corner_triangle_faces_away_from_the_corner() {
        // Corner 0 inside: the triangle must be counter-clockwise seen from (1,1,1).
        let c = tables().cases[1];
        assert_eq!(c.count, 1);
        let p = c.triangles[0].map(|e| {
            let (a, b) = edge_corners(e as usize);
            let (pa, pb) = (corner_pos(a), corner_pos(b));
            [0, 1, 2].map(|k| 0.5 * (pa[k] + pb[k]))
        });
        let u = [0, 1, 2].map(|k| p[1][k] - p[0][k]);
        let v = [0, 1, 2].map(|k| p[2][k] - p[0][k]);
        let n = [
            u[1] * v[2] - u[2] * v[1],
            u[2] * v[0] - u[0] * v[2],
            u[0] * v[1] - u[1] * v[0],
        ];
        assert!(n[0] > 0.0 && n[1] > 0.0 && n[2] > 0.0, "{n:?}");
    }

    #[test]
    fn complement_cases_have_the_same_crossings() {
        let t = tables();
        for case in 0..256 {
            let a = t.cases[case].count;
            let b = t.cases[255 - case].count;
            // Not equal in general (ambiguous faces resolve differently), but both empty
            // or both non-empty.
            assert_eq!(a == 0, b == 0, "case {case}");
        }
    }
}
