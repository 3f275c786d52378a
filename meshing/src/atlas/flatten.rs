//! Chart flattening: each chart is projected orthogonally onto the plane of its mean
//! normal (with every normal inside the cone no triangle flips, and a triangle at angle
//! `α` from the mean is compressed by `cos α` in one direction only). Charts whose
//! projection overlaps itself (a fold seen twice along the projection direction) are
//! split again, adding triangles only where they overlap nothing. Few-triangle charts
//! then merge into neighbours ([`merge_small_charts`]), and small closed components may
//! instead be charted as two hemispheres ([`hemisphere_charts`]).

use super::geometry::{
    OverlapGrid, area2, overlap_eps, plane_basis, shares_edge, triangles_overlap,
};
use super::segment::{Chart, FlatChart, NONE, TriangleInfo};
use crate::Mesh;
use crate::mesh::dot;

/// Charts a closed, roughly star-shaped component as two halves: the plane through its
/// centroid across its axis of least spread cuts it, and each half is mapped by the
/// Lambert azimuthal equal-area projection of the directions from the centroid about
/// its pole (a hemisphere of a sphere flattens with L2 stretch 1.03 and anisotropy at
/// most 2 at the rim). Two charts per small component instead of five or more under a
/// normal cone means far less padding. Returns `None` (chart it by normal cones) unless
/// both halves flatten with every triangle counter-clockwise, no overlap, L2 stretch at
/// most `max_stretch` and every triangle's anisotropy at most `max_anisotropy`. Corners are scaled so UV area equals surface area.
pub(crate) fn hemisphere_charts(
    mesh: &Mesh,
    info: &TriangleInfo,
    triangles: &[u32],
    max_stretch: f64,
    max_anisotropy: f64,
) -> Option<Vec<FlatChart>> {
    let pos = |i: u32| mesh.positions[i as usize].map(f64::from);
    let centroid = |t: u32| {
        let [a, b, c] = mesh.triangles[t as usize].map(pos);
        [0, 1, 2].map(|k| (a[k] + b[k] + c[k]) / 3.0)
    };
    let mut area = 0.0;
    let mut c = [0.0f64; 3];
    for &t in triangles {
        let (a, m) = (info.area[t as usize], centroid(t));
        area += a;
        for k in 0..3 {
            c[k] += a * m[k];
        }
    }
    if area.is_nan() || area <= 0.0 {
        return None;
    }
    c = c.map(|x| x / area);
    // Area-weighted covariance; the axis of least spread by power iteration on
    // trace·I - C.
    let mut cov = [[0.0f64; 3]; 3];
    for &t in triangles {
        let (a, m) = (info.area[t as usize], centroid(t));
        let d = [m[0] - c[0], m[1] - c[1], m[2] - c[2]];
        for i in 0..3 {
            for j in 0..3 {
                cov[i][j] += a * d[i] * d[j];
            }
        }
    }
    let trace = cov[0][0] + cov[1][1] + cov[2][2];
    let mut axis = [0.577f64, 0.577, 0.577];
    for _ in 0..64 {
        let next: [f64; 3] = std::array::from_fn(|i| {
            trace * axis[i] - (0..3).map(|j| cov[i][j] * axis[j]).sum::<f64>()
        });
        let l = next.iter().map(|x| x * x).sum::<f64>().sqrt();
        if l.is_nan() || l <= 0.0 {
            return None;
        }
        axis = next.map(|x| x / l);
    }
    let mut halves: [Vec<u32>; 2] = [Vec::new(), Vec::new()];
    for &t in triangles {
        let m = centroid(t);
        let side = (0..3).map(|k| (m[k] - c[k]) * axis[k]).sum::<f64>() < 0.0;
        halves[usize::from(side)].push(t);
    }
    let mut out = Vec::with_capacity(2);
    for (h, tris) in halves.into_iter().enumerate() {
        if tris.is_empty() {
            continue;
        }
        let pole = if h == 0 { axis } else { axis.map(|x| -x) };
        let pole32 = pole.map(|x| x as f32);
        let (u, v) = plane_basis(pole32);
        let (u, v) = (u.map(f64::from), v.map(f64::from));
        let map = |i: u32| -> Option<[f64; 2]> {
            let p = pos(i);
            let d = [p[0] - c[0], p[1] - c[1], p[2] - c[2]];
            let l = d.iter().map(|x| x * x).sum::<f64>().sqrt();
            if l.is_nan() || l <= 0.0 {
                return None;
            }
            let w = d.map(|x| x / l);
            let cz = (0..3).map(|k| w[k] * pole[k]).sum::<f64>();
            let (x, y) = (
                (0..3).map(|k| w[k] * u[k]).sum::<f64>(),
                (0..3).map(|k| w[k] * v[k]).sum::<f64>(),
            );
            let rxy = (x * x + y * y).sqrt();
            let r = (2.0 * (1.0 - cz)).max(0.0).sqrt();
            Some(if rxy > 0.0 {
                [x / rxy * r, y / rxy * r]
            } else {
                [0.0, 0.0]
            })
        };
        let mut corners = Vec::with_capacity(tris.len());
        for &t in &tris {
            let tri = mesh.triangles[t as usize];
            let p = [map(tri[0])?, map(tri[1])?, map(tri[2])?];
            if area2(p) <= 0.0 {
                return None;
            }
            corners.push(p);
        }
        // Scale to surface area, then measure stretch (as `stretch` does).
        let a2: f64 = corners.iter().map(|p| 0.5 * area2(*p)).sum();
        let a3: f64 = tris.iter().map(|&t| info.area[t as usize]).sum();
        if a2.is_nan() || a3.is_nan() || a2 <= 0.0 || a3 <= 0.0 {
            return None;
        }
        let k = (a3 / a2).sqrt();
        for p in &mut corners {
            *p = p.map(|q| q.map(|x| x * k));
        }
        let mut sum = 0.0;
        for (&t, p) in tris.iter().zip(&corners) {
            let q = mesh.triangles[t as usize].map(pos);
            let d1 = [q[1][0] - q[0][0], q[1][1] - q[0][1], q[1][2] - q[0][2]];
            let d2 = [q[2][0] - q[0][0], q[2][1] - q[0][1], q[2][2] - q[0][2]];
            let e1 = [p[1][0] - p[0][0], p[1][1] - p[0][1]];
            let e2 = [p[2][0] - p[0][0], p[2][1] - p[0][1]];
            let det = e1[0] * e2[1] - e2[0] * e1[1];
            let ss: [f64; 3] = std::array::from_fn(|k| (d1[k] * e2[1] - d2[k] * e1[1]) / det);
            let st: [f64; 3] = std::array::from_fn(|k| (d2[k] * e1[0] - d1[k] * e2[0]) / det);
            let a = ss.iter().map(|x| x * x).sum::<f64>();
            let cc = st.iter().map(|x| x * x).sum::<f64>();
            let b = ss.iter().zip(&st).map(|(x, y)| x * y).sum::<f64>();
            let root = ((a - cc) * (a - cc) + 4.0 * b * b).sqrt();
            // Anisotropy σ1/σ2 over the bound: squared, (a+c+root) > bound² (a+c-root).
            if a + cc + root > max_anisotropy * max_anisotropy * (a + cc - root) {
                return None;
            }
            sum += info.area[t as usize] * 0.5 * (a + cc);
        }
        let stretch = (sum / a3).sqrt();
        if stretch.is_nan() || stretch > max_stretch {
            return None;
        }
        let eps = overlap_eps(&corners);
        let grid = OverlapGrid::new(&corners, |_| true);
        let overlapping = (0..corners.len()).any(|i| {
            grid.any_near(&corners[i], |j| {
                let j = j as usize;
                j > i
                    && !shares_edge(mesh, tris[i], tris[j])
                    && triangles_overlap(&corners[i], &corners[j], eps)
            })
        });
        if overlapping {
            return None;
        }
        out.push((
            Chart {
                triangles: tris,
                normal: pole32,
            },
            corners,
        ));
    }
    Some(out)
}

/// `triangles` of `mesh` projected orthogonally onto the plane across `normal` (2D
/// corners in the plane's basis, counter-clockwise for triangles facing `normal`).
fn project_triangles(mesh: &Mesh, normal: [f32; 3], triangles: &[u32]) -> Vec<[[f64; 2]; 3]> {
    let (u, v) = plane_basis(normal);
    let project = |p: [f32; 3]| [f64::from(dot(p, u)), f64::from(dot(p, v))];
    triangles
        .iter()
        .map(|&t| mesh.triangles[t as usize].map(|i| project(mesh.positions[i as usize])))
        .collect()
}

/// Projects `chart` and splits it into pieces whose projections do not overlap (and
/// whose triangles all face the projection direction). Returns the pieces with their
/// triangles' 2D corners (counter-clockwise), in the same order as each piece's list.
pub(crate) fn flatten_chart(
    mesh: &Mesh,
    info: &TriangleInfo,
    chart: Chart,
    cos_limit: f32,
) -> Vec<(Chart, Vec<[[f64; 2]; 3]>)> {
    let corners = project_triangles(mesh, chart.normal, &chart.triangles);
    let eps = overlap_eps(&corners);
    // Triangles of (numerically) zero projected area cover nothing: never in conflict.
    let flat: Vec<bool> = corners
        .iter()
        .map(|c| area2(*c).abs() <= eps * eps)
        .collect();

    // Facing check: a triangle too oblique (or flipped) to the final mean normal leaves.
    let ok: Vec<bool> = chart
        .triangles
        .iter()
        .zip(&corners)
        .map(|(&t, c)| {
            let n = info.normal[t as usize];
            n == [0.0; 3] || (dot(n, chart.normal) >= cos_limit && area2(*c) > 0.0)
        })
        .collect();
    let ok: Vec<bool> = ok.iter().zip(&flat).map(|(&o, &f)| o || f).collect();
    let grid = OverlapGrid::new(&corners, |i| ok[i] && !flat[i]);
    let overlapping = (0..corners.len()).any(|i| {
        ok[i]
            && !flat[i]
            && grid.any_near(&corners[i], |j| {
                let j = j as usize;
                j > i
                    && !shares_edge(mesh, chart.triangles[i], chart.triangles[j])
                    && triangles_overlap(&corners[i], &corners[j], eps)
            })
    });
    if !overlapping && ok.iter().all(|&b| b) {
        return vec![(chart, corners)];
    }

    // Split: grow pieces over the chart's adjacency, taking a triangle only where it
    // overlaps nothing already in the piece. Rejected (non-facing) triangles come back
    // as their own pieces, to be re-charted by the caller.
    let local: std::collections::HashMap<u32, usize> = chart
        .triangles
        .iter()
        .enumerate()
        .map(|(i, &t)| (t, i))
        .collect();
    let mut piece_of = vec![NONE; corners.len()];
    let mut pieces = Vec::new();
    let mut stack = Vec::new();
    for seed in 0..corners.len() {
        if piece_of[seed] != NONE || !ok[seed] {
            continue;
        }
        let id = pieces.len() as u32;
        let mut members = Vec::new();
        stack.clear();
        stack.push(seed);
        while let Some(i) = stack.pop() {
            if piece_of[i] != NONE {
                continue;
            }
            let clash = !flat[i]
                && grid.any_near(&corners[i], |j| {
                    let j = j as usize;
                    piece_of[j] == id
                        && !shares_edge(mesh, chart.triangles[i], chart.triangles[j])
                        && triangles_overlap(&corners[i], &corners[j], eps)
                });
            if clash {
                continue;
            }
            piece_of[i] = id;
            members.push(i);
            for &nb in &info.neighbours[chart.triangles[i] as usize] {
                if let Some(&j) = local.get(&nb)
                    && piece_of[j] == NONE
                    && ok[j]
                {
                    stack.push(j);
                }
            }
        }
        pieces.push(members);
    }
    let mut out: Vec<(Chart, Vec<[[f64; 2]; 3]>)> = pieces
        .into_iter()
        .map(|members| {
            (
                Chart {
                    triangles: members.iter().map(|&i| chart.triangles[i]).collect(),
                    normal: chart.normal,
                },
                members.iter().map(|&i| corners[i]).collect(),
            )
        })
        .collect();
    // Non-facing triangles: returned with empty corners to signal "re-chart me".
    let rejected: Vec<u32> = (0..corners.len())
        .filter(|&i| !ok[i])
        .map(|i| chart.triangles[i])
        .collect();
    if !rejected.is_empty() {
        out.push((
            Chart {
                triangles: rejected,
                normal: chart.normal,
            },
            Vec::new(),
        ));
    }
    out
}

/// Merges small flattened charts into adjacent ones: smallest first, a chart of at
/// most `max_triangles` triangles joins the neighbouring chart whose projection direction
/// it faces best, when all its triangles face that direction within `cos_limit` and the
/// merged projection does not overlap itself (checked as [`flatten_chart`] checks it).
/// Every chart pays the packing padding around it, so few-triangle charts (slivers left
/// where charts meet, triangles a flattening rejected) cost far more texels than they
/// cover; merged, they cost nothing.
pub(crate) fn merge_small_charts(
    mesh: &Mesh,
    info: &TriangleInfo,
    mut flat: Vec<(Chart, Vec<[[f64; 2]; 3]>)>,
    cos_limit: &[f32],
    max_triangles: usize,
) -> Vec<(Chart, Vec<[[f64; 2]; 3]>)> {
    let mut chart_of = vec![NONE; info.normal.len()];
    for (ci, (chart, _)) in flat.iter().enumerate() {
        for &t in &chart.triangles {
            chart_of[t as usize] = ci as u32;
        }
    }
    let area = |c: &Chart| {
        c.triangles
            .iter()
            .map(|&t| info.area[t as usize])
            .sum::<f64>()
    };
    let mut order: Vec<usize> = (0..flat.len())
        .filter(|&ci| flat[ci].0.triangles.len() <= max_triangles)
        .collect();
    order.sort_by(|&a, &b| {
        area(&flat[a].0)
            .total_cmp(&area(&flat[b].0))
            .then(a.cmp(&b))
    });
    let mut alive = vec![true; flat.len()];
    let mut candidates: Vec<(f32, u32)> = Vec::new();
    for ci in order {
        if !alive[ci] || flat[ci].0.triangles.len() > max_triangles {
            continue;
        }
        candidates.clear();
        // Charts never span components, so the cone is the first triangle's.
        let cos_limit = cos_limit[flat[ci].0.triangles[0] as usize];
        for &t in &flat[ci].0.triangles {
            for &nb in &info.neighbours[t as usize] {
                if nb == NONE {
                    continue;
                }
                let cj = chart_of[nb as usize];
                if cj == NONE || cj as usize == ci || candidates.iter().any(|c| c.1 == cj) {
                    continue;
                }
                // The worst facing of the small chart's triangles towards cj.
                let normal = flat[cj as usize].0.normal;
                let worst = flat[ci]
                    .0
                    .triangles
                    .iter()
                    .map(|&t| info.normal[t as usize])
                    .filter(|n| *n != [0.0; 3])
                    .map(|n| dot(n, normal))
                    .fold(1.0f32, f32::min);
                if worst >= cos_limit {
                    candidates.push((worst, cj));
                }
            }
        }
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for &(_, cj) in &candidates {
            let cj = cj as usize;
            if let Some(corners) = try_join(mesh, info, &flat[cj], &flat[ci].0, cos_limit) {
                let moved = std::mem::take(&mut flat[ci].0.triangles);
                for &t in &moved {
                    chart_of[t as usize] = cj as u32;
                }
                flat[cj].0.triangles.extend(moved);
                flat[cj].1.extend(corners);
                alive[ci] = false;
                break;
            }
        }
    }
    flat.retain(|(c, _)| !c.triangles.is_empty());
    flat
}

/// The 2D corners of `small`'s triangles projected as `target` is (along its normal),
/// when they all face that direction within `cos_limit` and overlap neither each other
/// nor `target`'s triangles (the checks of [`flatten_chart`], on the new triangles only).
fn try_join(
    mesh: &Mesh,
    info: &TriangleInfo,
    target: &(Chart, Vec<[[f64; 2]; 3]>),
    small: &Chart,
    cos_limit: f32,
) -> Option<Vec<[[f64; 2]; 3]>> {
    let (chart, old) = target;
    let new = project_triangles(mesh, chart.normal, &small.triangles);
    let eps = overlap_eps(old.iter().chain(&new));
    let is_flat = |c: &[[f64; 2]; 3]| area2(*c).abs() <= eps * eps;
    for (&t, c) in small.triangles.iter().zip(&new) {
        let n = info.normal[t as usize];
        let facing = n == [0.0; 3] || (dot(n, chart.normal) >= cos_limit && area2(*c) > 0.0);
        if !facing && !is_flat(c) {
            return None;
        }
    }
    // Bounding box of the new triangles: only old triangles meeting it can overlap.
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for p in new.iter().flatten() {
        lo = [lo[0].min(p[0]), lo[1].min(p[1])];
        hi = [hi[0].max(p[0]), hi[1].max(p[1])];
    }
    for (i, (&ti, a)) in small.triangles.iter().zip(&new).enumerate() {
        if is_flat(a) {
            continue;
        }
        for (&tj, b) in small.triangles.iter().zip(&new).skip(i + 1) {
            if !is_flat(b) && !shares_edge(mesh, ti, tj) && triangles_overlap(a, b, eps) {
                return None;
            }
        }
    }
    for (&tj, b) in chart.triangles.iter().zip(old) {
        let outside = (0..2).any(|k| {
            b[0][k].max(b[1][k]).max(b[2][k]) <= lo[k] || b[0][k].min(b[1][k]).min(b[2][k]) >= hi[k]
        });
        if outside || is_flat(b) {
            continue;
        }
        for (&ti, a) in small.triangles.iter().zip(&new) {
            if !is_flat(a) && !shares_edge(mesh, ti, tj) && triangles_overlap(a, b, eps) {
                return None;
            }
        }
    }
    Some(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sphere_flattens_as_two_hemispheres_and_a_long_one_does_not() {
        let mut mesh = crate::atlas::tests::icosphere(3, 0.0);
        let info = TriangleInfo::new(&mesh);
        let all: Vec<u32> = (0..mesh.triangles.len() as u32).collect();
        let halves = hemisphere_charts(&mesh, &info, &all, 1.08, 3.0).unwrap();
        assert_eq!(halves.len(), 2);
        let mut seen: Vec<u32> = halves.iter().flat_map(|h| h.0.triangles.clone()).collect();
        seen.sort_unstable();
        assert_eq!(seen, all);
        for (chart, corners) in &halves {
            // Equal-area: UV area matches surface area; every triangle counter-clockwise.
            let a2: f64 = corners.iter().map(|c| 0.5 * area2(*c)).sum();
            let a3: f64 = chart.triangles.iter().map(|&t| info.area[t as usize]).sum();
            assert!((a2 / a3 - 1.0).abs() < 1e-9, "{a2} {a3}");
            assert!(corners.iter().all(|c| area2(*c) > 0.0));
        }
        // Stretched 4:1, the equal-area map of directions distorts too much.
        for p in &mut mesh.positions {
            p[0] *= 4.0;
        }
        let info = TriangleInfo::new(&mesh);
        assert!(hemisphere_charts(&mesh, &info, &all, 1.08, 3.0).is_none());
    }

    #[test]
    fn a_one_triangle_chart_merges_into_its_neighbour() {
        // A 3x3-vertex flat grid of 8 triangles facing +z; the last one charted alone.
        let positions: Vec<[f32; 3]> = (0..9)
            .map(|i| [(i % 3) as f32, (i / 3) as f32, 0.0])
            .collect();
        let mut triangles = Vec::new();
        for y in 0..2u32 {
            for x in 0..2u32 {
                let v = y * 3 + x;
                triangles.push([v, v + 1, v + 4]);
                triangles.push([v, v + 4, v + 3]);
            }
        }
        let mesh = Mesh::from_triangles(positions, triangles);
        let info = TriangleInfo::new(&mesh);
        let chart = |triangles: Vec<u32>| Chart {
            triangles,
            normal: [0.0, 0.0, 1.0],
        };
        let cos = 0.5f32;
        let mut flat = flatten_chart(&mesh, &info, chart((0..7).collect()), cos);
        flat.extend(flatten_chart(&mesh, &info, chart(vec![7]), cos));
        assert_eq!(flat.len(), 2);
        let merged = merge_small_charts(&mesh, &info, flat.clone(), &[cos; 8], 4);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].0.triangles.len(), 8);
        assert_eq!(merged[0].1.len(), 8);
        // A chart that may not merge (cone impossible to meet) stays.
        let kept = merge_small_charts(&mesh, &info, flat, &[2.0; 8], 4);
        assert_eq!(kept.len(), 2);
    }
}
