//! Chart segmentation: per-triangle data (normal, area, edge adjacency), connected
//! components, and the growth of charts under a normal cone. Charts grow best-first over
//! triangle adjacency: a seed triangle takes in the neighbour whose normal deviates least
//! from the chart's area-weighted mean normal, as long as the deviation stays under the
//! cone angle (the normal-cone clustering of "smart UV project" style unwrappers), then
//! Lloyd iterations regrow all charts at once from their most central triangles with a
//! compactness term ([`relax_charts`]).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::Mesh;
use crate::connectivity::{edge_runs, sorted_half_edges};
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

/// Edge adjacency: the triangle across each edge, where exactly two triangles share it;
/// an edge shared by other than exactly two triangles is a border.
pub(crate) fn neighbours(triangles: &[[u32; 3]]) -> Vec<[u32; 3]> {
    let half = sorted_half_edges(triangles);
    let mut out = vec![[NONE; 3]; triangles.len()];
    for run in edge_runs(&half) {
        if let [h0, h1] = run {
            out[h0.triangle() as usize][h0.corner()] = h1.triangle();
            out[h1.triangle() as usize][h1.corner()] = h0.triangle();
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
