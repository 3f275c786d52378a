//! Chart segmentation and flattening.
//!
//! Charts grow best-first over triangle adjacency: a seed triangle takes in the neighbour
//! whose normal deviates least from the chart's area-weighted mean normal, as long as the
//! deviation stays under the cone angle (the normal-cone clustering of "smart UV
//! project" style unwrappers), then Lloyd iterations regrow all charts at once from
//! their most central triangles with a compactness term ([`relax_charts`]). Each chart
//! is then flattened by orthogonal projection onto
//! the plane of its mean normal: with every normal inside the cone no triangle flips, and
//! a triangle at angle `α` from the mean is compressed by `cos α` in one direction only.
//! Charts whose projection overlaps itself (a fold seen twice along the projection
//! direction) are split again, adding triangles only where they overlap nothing.
//! Few-triangle charts then merge into neighbours ([`merge_small_charts`]), and small
//! closed components may instead be charted as two hemispheres ([`hemisphere_charts`]).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::Mesh;
use crate::mesh::{cross, dot, length, sub};

/// Marks "no triangle" in adjacency and chart tables.
pub(crate) const NONE: u32 = u32::MAX;
/// Marks a triangle [`relax_charts`] must leave alone.
const FIXED: u32 = u32::MAX - 1;

/// Per-triangle data the segmentation needs.
pub(crate) struct TriangleInfo {
    /// Unit normal (zero for degenerate triangles).
    pub normal: Vec<[f32; 3]>,
    /// Area.
    pub area: Vec<f64>,
    /// The triangle across each edge (`t[k]`, `t[(k+1)%3]`), or [`NONE`] on borders and
    /// non-manifold edges.
    pub neighbours: Vec<[u32; 3]>,
}

impl TriangleInfo {
    pub(crate) fn new(mesh: &Mesh) -> Self {
        let n = mesh.triangles.len();
        let mut normal = Vec::with_capacity(n);
        let mut area = Vec::with_capacity(n);
        for t in &mesh.triangles {
            let [a, b, c] = t.map(|i| mesh.positions[i as usize]);
            let cr = cross(sub(b, a), sub(c, a));
            let l = length(cr);
            area.push(0.5 * f64::from(l));
            normal.push(if l > 0.0 && l.is_finite() {
                cr.map(|x| x / l)
            } else {
                [0.0; 3]
            });
        }
        Self {
            normal,
            area,
            neighbours: neighbours(&mesh.triangles),
        }
    }
}

/// Edge adjacency by sorting half-edges on their undirected key; an edge shared by other
/// than exactly two triangles is a border.
pub(crate) fn neighbours(triangles: &[[u32; 3]]) -> Vec<[u32; 3]> {
    let mut half: Vec<(u64, u32)> = Vec::with_capacity(triangles.len() * 3);
    for (ti, t) in triangles.iter().enumerate() {
        for k in 0..3 {
            let (a, b) = (t[k], t[(k + 1) % 3]);
            let key = (u64::from(a.min(b)) << 32) | u64::from(a.max(b));
            half.push((key, (ti as u32) * 3 + k as u32));
        }
    }
    half.sort_unstable_by_key(|h| h.0);
    let mut out = vec![[NONE; 3]; triangles.len()];
    let mut i = 0;
    while i < half.len() {
        let mut j = i + 1;
        while j < half.len() && half[j].0 == half[i].0 {
            j += 1;
        }
        if j - i == 2 {
            let (h0, h1) = (half[i].1, half[i + 1].1);
            out[(h0 / 3) as usize][(h0 % 3) as usize] = h1 / 3;
            out[(h1 / 3) as usize][(h1 % 3) as usize] = h0 / 3;
        }
        i = j;
    }
    out
}

/// The component (over edge adjacency) of every triangle, and each component's area.
pub(crate) fn components(info: &TriangleInfo) -> (Vec<u32>, Vec<f64>) {
    let n = info.normal.len();
    let mut comp = vec![NONE; n];
    let mut areas = Vec::new();
    let mut stack = Vec::new();
    for seed in 0..n {
        if comp[seed] != NONE {
            continue;
        }
        let id = areas.len() as u32;
        let mut area = 0.0;
        comp[seed] = id;
        stack.push(seed as u32);
        while let Some(t) = stack.pop() {
            area += info.area[t as usize];
            for &nb in &info.neighbours[t as usize] {
                if nb != NONE && comp[nb as usize] == NONE {
                    comp[nb as usize] = id;
                    stack.push(nb);
                }
            }
        }
        areas.push(area);
    }
    (comp, areas)
}

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

/// Per-triangle chart cones (a component's triangles share theirs).
pub(crate) struct Cones {
    /// Cosine of the cone charts grow in.
    pub cos_max: Vec<f32>,
    /// Cosine of the cone beyond which a chart's triangle is re-charted.
    pub cos_limit: Vec<f32>,
    /// Triangles already charted (as hemispheres), which growth and relaxation skip.
    pub fixed: Vec<bool>,
}

/// A chart with its triangles' 2D corners, in the same order.
pub(crate) type FlatChart = (Chart, Vec<[[f64; 2]; 3]>);

/// A chart: its triangles and the direction it is projected along.
#[derive(Debug, Clone)]
pub(crate) struct Chart {
    pub triangles: Vec<u32>,
    pub normal: [f32; 3],
}

#[derive(PartialEq)]
struct Candidate {
    deviation: f32,
    triangle: u32,
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        // Smallest deviation first (BinaryHeap is a max-heap).
        other
            .deviation
            .total_cmp(&self.deviation)
            .then_with(|| other.triangle.cmp(&self.triangle))
    }
}

/// Grows charts over the triangles whose `chart_of` is [`NONE`], so that every normal
/// stays within `cos_max` of its chart's mean normal.
pub(crate) fn grow_charts(
    info: &TriangleInfo,
    cos_max: &[f32],
    chart_of: &mut [u32],
) -> Vec<Chart> {
    let mut charts = Vec::new();
    let mut heap = BinaryHeap::new();
    for seed in 0..chart_of.len() {
        if chart_of[seed] != NONE {
            continue;
        }
        let id = charts.len() as u32;
        let cos_max = cos_max[seed];
        let mut sum = [0.0f64; 3];
        let mut mean = info.normal[seed];
        let mut triangles = Vec::new();
        heap.clear();
        heap.push(Candidate {
            deviation: 0.0,
            triangle: seed as u32,
        });
        while let Some(Candidate { triangle, .. }) = heap.pop() {
            let t = triangle as usize;
            if chart_of[t] != NONE {
                continue;
            }
            let n = info.normal[t];
            let degenerate = n == [0.0; 3];
            if !degenerate && !triangles.is_empty() && dot(n, mean) < cos_max {
                continue;
            }
            chart_of[t] = id;
            triangles.push(triangle);
            for k in 0..3 {
                sum[k] += f64::from(n[k]) * info.area[t];
            }
            let l = (sum[0] * sum[0] + sum[1] * sum[1] + sum[2] * sum[2]).sqrt();
            if l > 0.0 {
                mean = sum.map(|c| (c / l) as f32);
            }
            for &nb in &info.neighbours[t] {
                if nb != NONE && chart_of[nb as usize] == NONE {
                    let nn = info.normal[nb as usize];
                    let deviation = if nn == [0.0; 3] {
                        0.0
                    } else {
                        1.0 - dot(nn, mean)
                    };
                    heap.push(Candidate {
                        deviation,
                        triangle: nb,
                    });
                }
            }
        }
        if mean == [0.0; 3] {
            mean = [0.0, 0.0, 1.0];
        }
        charts.push(Chart {
            triangles,
            normal: mean,
        });
    }
    charts
}

/// Lloyd-style relaxation of charts (in the manner of Variational Shape Approximation,
/// Cohen-Steiner et al. 2004, with a compactness term): every chart restarts from its
/// most central triangle and all charts grow at once, a triangle going to the chart
/// that reaches it at the lowest cost
///
/// ```text
/// cost = (1 - n·N_chart) / (1 - cos_max) + |centroid - seed|² / (area_chart / π)
/// ```
///
/// within the normal cone (`cones.cos_max`, or `cones.cos_limit` in the last pass). Simultaneous growth gives compact, rounder charts than
/// growing one chart to exhaustion, which packs far better. Triangles no chart may take
/// seed new charts. Triangles marked `cones.fixed` (charted otherwise) are left alone.
pub(crate) fn relax_charts(
    mesh: &Mesh,
    info: &TriangleInfo,
    mut charts: Vec<Chart>,
    cones: &Cones,
    min_charts: usize,
    iterations: usize,
) -> Vec<Chart> {
    let (cos_max, cos_last, fixed) = (&cones.cos_max[..], &cones.cos_limit[..], &cones.fixed[..]);
    let n = info.normal.len();
    let centroid: Vec<[f32; 3]> = mesh
        .triangles
        .iter()
        .map(|t| {
            let [a, b, c] = t.map(|i| mesh.positions[i as usize]);
            std::array::from_fn(|k| (a[k] + b[k] + c[k]) / 3.0)
        })
        .collect();
    let dist2 = |a: [f32; 3], b: [f32; 3]| {
        let d = sub(a, b);
        dot(d, d)
    };
    let mut chart_of = vec![NONE; n];
    let mut heap: BinaryHeap<(Candidate, u32)> = BinaryHeap::new();
    for iteration in 0..iterations {
        // The last pass may take triangles a little further from the proxy, so that
        // boundary slivers join a neighbour instead of forming charts of their own.
        let cos_accept = if iteration + 1 == iterations {
            cos_last
        } else {
            cos_max
        };
        // Tiny charts do not get a seed: their triangles join neighbours (or, where they
        // cannot, come back as leftovers below).
        let total: f64 = info.area.iter().sum();
        let chart_area = |c: &Chart| {
            c.triangles
                .iter()
                .map(|&t| info.area[t as usize])
                .sum::<f64>()
        };
        if charts.len() > 1 {
            charts.retain(|c| chart_area(c) >= 0.002 * total);
        }
        // Seeds and proxies from the current charts.
        let mut seeds = Vec::with_capacity(charts.len());
        for chart in &charts {
            let mut area = 0.0f64;
            let mut c = [0.0f64; 3];
            for &t in &chart.triangles {
                let a = info.area[t as usize];
                area += a;
                for k in 0..3 {
                    c[k] += a * f64::from(centroid[t as usize][k]);
                }
            }
            let c = if area > 0.0 {
                c.map(|x| (x / area) as f32)
            } else {
                centroid[chart.triangles[0] as usize]
            };
            let seed = chart
                .triangles
                .iter()
                .copied()
                .min_by(|&a, &b| {
                    dist2(centroid[a as usize], c).total_cmp(&dist2(centroid[b as usize], c))
                })
                .unwrap_or(chart.triangles[0]);
            let radius2 = (area / std::f64::consts::PI).max(1e-30) as f32;
            seeds.push((seed, chart.normal, radius2));
        }
        // Too few charts pack coarsely (one big chart that does not fit wastes a lot):
        // split the largest by adding a seed at its triangle farthest from the first.
        let mut order: Vec<usize> = (0..charts.len()).collect();
        order.sort_by(|&a, &b| seeds[b].2.total_cmp(&seeds[a].2));
        for &ci in order.iter().take(min_charts.saturating_sub(seeds.len())) {
            let (seed, normal, radius2) = seeds[ci];
            let far = charts[ci]
                .triangles
                .iter()
                .copied()
                .max_by(|&a, &b| {
                    dist2(centroid[a as usize], centroid[seed as usize])
                        .total_cmp(&dist2(centroid[b as usize], centroid[seed as usize]))
                })
                .unwrap_or(seed);
            if far != seed {
                seeds[ci].2 = radius2 * 0.5;
                seeds.push((far, normal, radius2 * 0.5));
            }
        }
        for (c, &f) in chart_of.iter_mut().zip(fixed) {
            *c = if f { FIXED } else { NONE };
        }
        heap.clear();
        for (ci, &(seed, _, _)) in seeds.iter().enumerate() {
            heap.push((
                Candidate {
                    deviation: 0.0,
                    triangle: seed,
                },
                ci as u32,
            ));
        }
        while let Some((Candidate { triangle, .. }, ci)) = heap.pop() {
            let t = triangle as usize;
            if chart_of[t] != NONE {
                continue;
            }
            chart_of[t] = ci;
            let (seed, normal, radius2) = seeds[ci as usize];
            let norm = (1.0 - cos_max[seed as usize]).max(1e-6);
            let cos_accept = cos_accept[seed as usize];
            let seed_c = centroid[seed as usize];
            for &nb in &info.neighbours[t] {
                if nb == NONE || chart_of[nb as usize] != NONE {
                    continue;
                }
                let nn = info.normal[nb as usize];
                let d = if nn == [0.0; 3] { 1.0 } else { dot(nn, normal) };
                if d < cos_accept {
                    continue;
                }
                let cost = (1.0 - d) / norm + dist2(centroid[nb as usize], seed_c) / radius2;
                heap.push((
                    Candidate {
                        deviation: cost,
                        triangle: nb,
                    },
                    ci,
                ));
            }
        }
        let mut next: Vec<Chart> = seeds
            .iter()
            .map(|&(_, normal, _)| Chart {
                triangles: Vec::new(),
                normal,
            })
            .collect();
        for (t, &c) in chart_of.iter().enumerate() {
            if c != NONE && c != FIXED {
                next[c as usize].triangles.push(t as u32);
            }
        }
        // Fresh proxies: area-weighted mean normals.
        for chart in &mut next {
            let mut sum = [0.0f64; 3];
            for &t in &chart.triangles {
                let (n, a) = (info.normal[t as usize], info.area[t as usize]);
                for (s, c) in sum.iter_mut().zip(n) {
                    *s += f64::from(c) * a;
                }
            }
            let l = (sum[0] * sum[0] + sum[1] * sum[1] + sum[2] * sum[2]).sqrt();
            if l > 0.0 {
                chart.normal = sum.map(|c| (c / l) as f32);
            }
        }
        if iteration + 1 == iterations {
            // Leftovers (mostly single triangles where three charts meet) join an
            // adjacent chart whose proxy they face within `cos_last`, if any.
            let mut changed = true;
            while changed {
                changed = false;
                for t in 0..n {
                    if chart_of[t] != NONE {
                        continue;
                    }
                    let nt = info.normal[t];
                    let best = info.neighbours[t]
                        .iter()
                        .filter(|&&nb| {
                            nb != NONE
                                && chart_of[nb as usize] != NONE
                                && chart_of[nb as usize] != FIXED
                        })
                        .map(|&nb| chart_of[nb as usize])
                        .map(|c| {
                            (
                                c,
                                if nt == [0.0; 3] {
                                    1.0
                                } else {
                                    dot(nt, next[c as usize].normal)
                                },
                            )
                        })
                        .filter(|&(_, d)| d >= cos_last[t])
                        .max_by(|a, b| a.1.total_cmp(&b.1));
                    if let Some((c, _)) = best {
                        chart_of[t] = c;
                        next[c as usize].triangles.push(t as u32);
                        changed = true;
                    }
                }
            }
        }
        next.retain(|c| !c.triangles.is_empty());
        // Unreached triangles start charts of their own.
        next.extend(grow_charts(info, cos_max, &mut chart_of));
        charts = next;
    }
    charts
}

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

/// Tolerance of the 2D overlap tests among `corners`: 1e-7 of their extent.
fn overlap_eps<'a>(corners: impl IntoIterator<Item = &'a [[f64; 2]; 3]>) -> f64 {
    let extent = corners
        .into_iter()
        .flatten()
        .fold([f64::INFINITY, f64::NEG_INFINITY], |acc, p| {
            [acc[0].min(p[0].min(p[1])), acc[1].max(p[0].max(p[1]))]
        });
    1e-7 * (extent[1] - extent[0]).max(1e-12)
}

/// Whether triangles `a` and `b` of `mesh` share an edge (two vertices).
fn shares_edge(mesh: &Mesh, a: u32, b: u32) -> bool {
    let (ta, tb) = (mesh.triangles[a as usize], mesh.triangles[b as usize]);
    ta.iter().filter(|i| tb.contains(i)).count() >= 2
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

    #[test]
    fn adjacency_of_a_tetrahedron() {
        let tris = [[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]];
        let nb = neighbours(&tris);
        for (t, n) in nb.iter().enumerate() {
            assert!(n.iter().all(|&x| x != NONE && x as usize != t), "{nb:?}");
        }
        // Edge (0,2) of triangle 0 is shared with triangle 2.
        assert_eq!(nb[0][0], 2);
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
