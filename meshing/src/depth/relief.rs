//! Relief meshes: a grid of vertices over the picture's pixels, back-projected to metric
//! 3D, with the quads across depth discontinuities left out, so that a foreground object
//! does not get glued to the background by a curtain of stretched triangles.
//!
//! * Grid: every `stride`-th pixel along both axes plus the last row and column, so the
//!   mesh covers the whole picture.
//! * Cutting: a grid cell (the pixel block between four grid vertices, borders included)
//!   is kept only when none of its pixels is a depth edge (see [`super::edge_mask`]),
//!   invalid, or beyond the maximum depth. At stride 1 this is MoGe's rule: a quad is kept
//!   when its four corners are valid and not edges (`build_mesh_from_map` in `utils3d`).
//!   At larger strides a discontinuity anywhere inside a cell still cuts it, and a smooth
//!   slope is judged at full resolution, not at the grid's coarser spacing.
//! * Each kept cell becomes two triangles split along the diagonal with the smaller depth
//!   difference (MVE's `depthmap_triangulate` rule), counter-clockwise seen from the camera.
//! * UVs map each vertex to its pixel centre in the picture (origin top-left), so the
//!   picture textures the mesh as is. Normals come from central differences over the grid
//!   neighbours that share a kept cell.

use super::{DepthMap, Intrinsics, grid_samples};
use crate::mesh::{cross, length, scale, sub};
use crate::{Error, Limits, Mesh, Result};

/// How [`relief_mesh`] builds the mesh.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReliefOptions {
    /// Grid spacing in pixels. By default, 1 (a vertex per pixel).
    pub stride: usize,
    /// Relative depth tolerance of the discontinuity test. By default,
    /// [`super::DEFAULT_EDGE_RTOL`] (0.04).
    pub edge_rtol: f32,
    /// Pixels farther than this many meters are left out. By default, infinity.
    pub max_depth: f32,
    /// Compute vertex normals. By default, true.
    pub normals: bool,
}

impl Default for ReliefOptions {
    fn default() -> Self {
        Self {
            stride: 1,
            edge_rtol: super::DEFAULT_EDGE_RTOL,
            max_depth: f32::INFINITY,
            normals: true,
        }
    }
}

/// Cell states: no triangles, split along the b–c diagonal, split along the a–d diagonal
/// (a = top-left, b = top-right, c = bottom-left, d = bottom-right).
const CELL_CUT: u8 = 0;
const CELL_DIAG_BC: u8 = 1;
const CELL_DIAG_AD: u8 = 2;
const UNUSED: u32 = u32::MAX;

/// Builds the relief mesh of `depth` seen through `intrinsics`: positions in glTF's frame
/// (meters, camera at the origin looking down -Z), UVs into the picture, and normals when
/// asked. Vertices used by no triangle are left out. Errors when no cell survives (every
/// block has an edge, an invalid pixel or a pixel beyond `max_depth`; or the picture is a
/// single row or column), or when the grid would exceed `limits.max_triangles`.
pub fn relief_mesh(
    depth: &DepthMap,
    intrinsics: &Intrinsics,
    options: &ReliefOptions,
    limits: &Limits,
) -> Result<Mesh> {
    let ReliefOptions {
        stride,
        edge_rtol,
        max_depth,
        normals,
    } = *options;
    if stride == 0 {
        return Err(Error::invalid_parameter(
            "mesh stride",
            "at least 1",
            stride,
        ));
    }
    if max_depth.is_nan() || max_depth <= 0.0 {
        return Err(Error::invalid_parameter(
            "max depth",
            "a positive number of meters",
            max_depth,
        ));
    }
    let (w, h) = (depth.width(), depth.height());
    let us = grid_samples(w, stride);
    let vs = grid_samples(h, stride);
    let (gw, gh) = (us.len(), vs.len());
    let cells = (gw - 1) * (gh - 1);
    let max_tris = cells.saturating_mul(2);
    if max_tris > limits.max_triangles {
        return Err(Error::Limit {
            what: format!("a relief mesh of {gw}x{gh} vertices"),
            requested: format!("up to {max_tris} triangles"),
            limit: format!("{} triangles (raise the mesh stride)", limits.max_triangles),
        });
    }
    let d = depth.data();

    // Full-resolution "bad" mask: invalid, beyond max depth, or a depth edge.
    let bad = super::edges::unusable_mask(depth, edge_rtol, max_depth)?;

    // Cell states in a grid padded by one cell on every side (so that the cells around
    // any vertex can be read without bounds checks): cell (i, j) lives at
    // `(j + 1) * pw + i + 1`.
    let pw = gw + 1;
    let mut padded: Vec<u8> = crate::limits::try_vec_with_capacity(pw * (gh + 1), "relief cells")?;
    padded.resize(pw * (gh + 1), CELL_CUT);
    super::for_each_row_mut(&mut padded[pw..pw * gh], pw, |j, row| {
        let (v0, v1) = (vs[j], vs[j + 1]);
        // Per pixel column: does any pixel of rows v0..=v1 fail?
        let mut col_bad = bad[v0 * w..(v0 + 1) * w].to_vec();
        for v in v0 + 1..=v1 {
            for (c, &b) in col_bad.iter_mut().zip(&bad[v * w..(v + 1) * w]) {
                *c |= b;
            }
        }
        for (i, s) in row[1..gw].iter_mut().enumerate() {
            let (u0, u1) = (us[i], us[i + 1]);
            if col_bad[u0..=u1].contains(&true) {
                continue;
            }
            let (za, zb) = (d[v0 * w + u0], d[v0 * w + u1]);
            let (zc, zd) = (d[v1 * w + u0], d[v1 * w + u1]);
            *s = if (za - zd).abs() < (zb - zc).abs() {
                CELL_DIAG_AD
            } else {
                CELL_DIAG_BC
            };
        }
    });
    drop(bad);
    let kept = |k: usize| padded[k] != CELL_CUT;
    // The four cells around vertex (i, j): north-west, north-east, south-west, south-east.
    let around = |i: usize, j: usize| {
        let (n, s) = (j * pw + i, (j + 1) * pw + i);
        [kept(n), kept(n + 1), kept(s), kept(s + 1)]
    };

    // Vertex indices: row-major over the grid, only vertices of kept cells.
    let row_used = |j: usize| (0..gw).filter(|&i| around(i, j).contains(&true)).count();
    let vertex_counts = super::map_indices(gh, row_used);
    let n: usize = vertex_counts.iter().sum();
    if n == 0 {
        return Err(Error::invalid_parameter(
            "depth map",
            "at least one 2x2 block of pixels with valid depth, no depth edge and within the max depth",
            format!("none in {w}x{h} pixels at mesh stride {stride}"),
        ));
    }
    if u32::try_from(n).is_err() {
        return Err(Error::Limit {
            what: "a relief mesh".to_string(),
            requested: format!("{n} vertices"),
            limit: "u32 indices (raise the mesh stride)".to_string(),
        });
    }
    let vertex_offsets = prefix_sums(&vertex_counts);
    let mut index: Vec<u32> = crate::limits::try_vec_with_capacity(gw * gh, "relief vertices")?;
    index.resize(gw * gh, UNUSED);
    super::for_each_row_mut(&mut index, gw, |j, row| {
        let mut next = vertex_offsets[j] as u32;
        for (i, slot) in row.iter_mut().enumerate() {
            if around(i, j).contains(&true) {
                *slot = next;
                next += 1;
            }
        }
    });

    let mut positions: Vec<[f32; 3]> = crate::limits::try_vec_with_capacity(n, "relief positions")?;
    positions.resize(n, [0.0; 3]);
    let mut uvs: Vec<[f32; 2]> = crate::limits::try_vec_with_capacity(n, "relief uvs")?;
    uvs.resize(n, [0.0; 2]);
    let (inv_w, inv_h) = (1.0 / w as f32, 1.0 / h as f32);
    let jobs: Vec<_> = super::split_by_counts(&mut positions, &vertex_counts)
        .into_iter()
        .zip(super::split_by_counts(&mut uvs, &vertex_counts))
        .enumerate()
        .collect();
    super::for_each_job(jobs, |(j, (p, t))| {
        let v = vs[j];
        let mut k = 0;
        for (i, &u) in us.iter().enumerate() {
            if index[j * gw + i] != UNUSED {
                p[k] = intrinsics.back_project_gltf(u, v, d[v * w + u]);
                t[k] = [(u as f32 + 0.5) * inv_w, (v as f32 + 0.5) * inv_h];
                k += 1;
            }
        }
    });

    let triangle_counts = super::map_indices(gh - 1, |j| {
        2 * (0..gw - 1).filter(|&i| kept((j + 1) * pw + i + 1)).count()
    });
    let total: usize = triangle_counts.iter().sum();
    let mut triangles: Vec<[u32; 3]> =
        crate::limits::try_vec_with_capacity(total, "relief triangles")?;
    triangles.resize(total, [0; 3]);
    let jobs: Vec<_> = super::split_by_counts(&mut triangles, &triangle_counts)
        .into_iter()
        .enumerate()
        .collect();
    super::for_each_job(jobs, |(j, out)| {
        let mut k = 0;
        for i in 0..gw - 1 {
            let s = padded[(j + 1) * pw + i + 1];
            if s == CELL_CUT {
                continue;
            }
            let a = index[j * gw + i];
            let b = index[j * gw + i + 1];
            let c = index[(j + 1) * gw + i];
            let dd = index[(j + 1) * gw + i + 1];
            let pair = if s == CELL_DIAG_BC {
                [[a, c, b], [b, c, dd]]
            } else {
                [[a, c, dd], [a, dd, b]]
            };
            out[k..k + 2].copy_from_slice(&pair);
            k += 2;
        }
    });

    let mut mesh = Mesh {
        positions,
        uvs,
        triangles,
        ..Mesh::default()
    };
    if normals {
        let mut out: Vec<[f32; 3]> = crate::limits::try_vec_with_capacity(n, "relief normals")?;
        out.resize(n, [0.0; 3]);
        let positions = &mesh.positions;
        let at = |i: usize, j: usize| positions[index[j * gw + i] as usize];
        let jobs: Vec<_> = super::split_by_counts(&mut out, &vertex_counts)
            .into_iter()
            .enumerate()
            .collect();
        super::for_each_job(jobs, |(j, out)| {
            let mut k = 0;
            for i in 0..gw {
                let [nw, ne, sw, se] = around(i, j);
                if !(nw || ne || sw || se) {
                    continue;
                }
                // Central differences over the neighbours that share a kept cell with the
                // vertex, one-sided where one is missing; oriented like the triangles:
                // (down - up) x (right - left).
                let p = at(i, j);
                let right = if ne || se { at(i + 1, j) } else { p };
                let left = if nw || sw { at(i - 1, j) } else { p };
                let down = if sw || se { at(i, j + 1) } else { p };
                let up = if nw || ne { at(i, j - 1) } else { p };
                let nrm = cross(sub(down, up), sub(right, left));
                let l = length(nrm);
                out[k] = if l > 0.0 && l.is_finite() {
                    scale(nrm, 1.0 / l)
                } else {
                    [0.0, 0.0, 1.0]
                };
                k += 1;
            }
        });
        mesh.normals = out;
    }
    Ok(mesh)
}

/// Exclusive prefix sums: where each row's run starts.
fn prefix_sums(counts: &[usize]) -> Vec<usize> {
    let mut acc = 0;
    counts
        .iter()
        .map(|&c| {
            let start = acc;
            acc += c;
            start
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::analyze;

    fn map(w: usize, h: usize, f: impl Fn(usize, usize) -> f32) -> DepthMap {
        let data = (0..h)
            .flat_map(|v| (0..w).map(move |u| (u, v)))
            .map(|(u, v)| f(u, v))
            .collect();
        DepthMap::new(w, h, data, &Limits::default()).unwrap()
    }

    /// Connected components, after checking the sheet is consistently oriented, manifold
    /// and without unused vertices.
    fn components(mesh: &Mesh) -> usize {
        let r = analyze(mesh);
        assert_eq!(r.misoriented_edges, 0);
        assert_eq!(r.nonmanifold_edges + r.nonmanifold_vertices, 0);
        assert_eq!(r.degenerate_triangles + r.unused_vertices, 0);
        r.components
    }

    #[test]
    fn flat_wall_is_one_sheet_facing_the_camera() {
        //   a---b      grid of 5x4 vertices over a 5x4 picture at 2 m:
        //   | \ |      4x3 cells, 24 triangles, every normal +Z (toward the viewer)
        //   c---d
        let (w, h) = (5, 4);
        let k = Intrinsics::centered(w, h, 4.0).unwrap();
        let d = map(w, h, |_, _| 2.0);
        let m = relief_mesh(&d, &k, &ReliefOptions::default(), &Limits::default()).unwrap();
        m.validate().unwrap();
        assert_eq!((m.vertex_count(), m.triangle_count()), (20, 24));
        for t in &m.triangles {
            let [a, b, c] = t.map(|i| m.positions[i as usize]);
            let nrm = cross(sub(b, a), sub(c, a));
            assert!(nrm[2] > 0.0, "counter-clockwise seen from the camera");
        }
        for nrm in &m.normals {
            assert!((nrm[2] - 1.0).abs() < 1e-6, "{nrm:?}");
        }
        // UV of the top-left vertex is the top-left pixel's centre.
        assert_eq!(m.uvs[0], [0.1, 0.125]);
        let report = analyze(&m);
        assert_eq!(report.euler_characteristic(), 1, "a disc");
    }

    #[test]
    fn two_planes_at_different_depths_come_apart() {
        // Left half at 1 m, right half at 3 m.
        let (w, h) = (40, 30);
        let k = Intrinsics::centered(w, h, 40.0).unwrap();
        let d = map(w, h, |u, _| if u < 20 { 1.0 } else { 3.0 });
        for stride in [1, 3, 7] {
            let opts = ReliefOptions {
                stride,
                ..Default::default()
            };
            let m = relief_mesh(&d, &k, &opts, &Limits::default()).unwrap();
            m.validate().unwrap();
            assert_eq!(components(&m), 2, "stride {stride}");
            // No triangle spans both depths.
            for t in &m.triangles {
                let z = t.map(|i| m.positions[i as usize][2]);
                assert!(z.iter().all(|&zz| zz == z[0]), "stride {stride}: {z:?}");
            }
        }
    }

    #[test]
    fn smooth_slope_stays_whole() {
        // A floor-like plane receding from 1 m to about 1.9 m across 64 rows: 1 % per row.
        let (w, h) = (48, 64);
        let k = Intrinsics::centered(w, h, 50.0).unwrap();
        let d = map(w, h, |_, v| 1.0 * 1.01f32.powi(v as i32));
        for stride in [1, 4, 9] {
            let opts = ReliefOptions {
                stride,
                ..Default::default()
            };
            let m = relief_mesh(&d, &k, &opts, &Limits::default()).unwrap();
            m.validate().unwrap();
            assert_eq!(components(&m), 1, "stride {stride}");
            let gw = grid_samples(w, stride).len();
            let gh = grid_samples(h, stride).len();
            assert_eq!(m.vertex_count(), gw * gh, "stride {stride}: nothing cut");
            assert_eq!(m.triangle_count(), 2 * (gw - 1) * (gh - 1));
        }
    }

    #[test]
    fn far_pixels_and_empty_results() {
        let (w, h) = (6, 6);
        let k = Intrinsics::centered(w, h, 6.0).unwrap();
        let d = map(w, h, |_, v| if v < 3 { 1.0 } else { 500.0 });
        let opts = ReliefOptions {
            max_depth: 100.0,
            ..Default::default()
        };
        let m = relief_mesh(&d, &k, &opts, &Limits::default()).unwrap();
        m.validate().unwrap();
        // Rows 0..=1 are kept (row 2 is an edge: its window sees row 3).
        assert_eq!(m.vertex_count(), 12);
        let row = map(7, 1, |_, _| 1.0);
        assert!(relief_mesh(&row, &k, &ReliefOptions::default(), &Limits::default()).is_err());
        let limits = Limits {
            max_triangles: 10,
            ..Limits::default()
        };
        assert!(matches!(
            relief_mesh(&d, &k, &ReliefOptions::default(), &limits),
            Err(Error::Limit { .. })
        ));
    }
}
