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

use super::{DepthMap, Intrinsics, grid_samples, is_valid_depth};
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
    let mut bad = super::edge_mask(depth, edge_rtol)?;
    for (b, &z) in bad.iter_mut().zip(d) {
        *b |= !(is_valid_depth(z) && z <= max_depth);
    }

    // Cell states, one grid row of cells at a time.
    let mut state: Vec<u8> = crate::limits::try_vec_with_capacity(cells, "relief cells")?;
    state.resize(cells, CELL_CUT);
    if cells > 0 {
        super::for_each_row_mut(&mut state, gw - 1, |j, row| {
            let (v0, v1) = (vs[j], vs[j + 1]);
            // Per pixel column: does any pixel of rows v0..=v1 fail?
            let col_bad: Vec<bool> = (0..w).map(|u| (v0..=v1).any(|v| bad[v * w + u])).collect();
            for (i, s) in row.iter_mut().enumerate() {
                let (u0, u1) = (us[i], us[i + 1]);
                if col_bad[u0..=u1].iter().any(|&b| b) {
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
    }
    let cell = |i: usize, j: usize| state[j * (gw - 1) + i];
    let cell_kept = |i: isize, j: isize| {
        i >= 0
            && j >= 0
            && (i as usize) < gw - 1
            && (j as usize) < gh - 1
            && cell(i as usize, j as usize) != CELL_CUT
    };

    // Vertex indices: row-major over the grid, only vertices of kept cells.
    let mut index: Vec<u32> = crate::limits::try_vec_with_capacity(gw * gh, "relief vertices")?;
    let mut next: u32 = 0;
    for j in 0..gh as isize {
        for i in 0..gw as isize {
            let used = cell_kept(i - 1, j - 1)
                || cell_kept(i, j - 1)
                || cell_kept(i - 1, j)
                || cell_kept(i, j);
            if used {
                index.push(next);
                next += 1;
            } else {
                index.push(UNUSED);
            }
        }
    }
    let n = next as usize;
    if n == 0 {
        return Err(Error::invalid_parameter(
            "depth map",
            "at least one 2x2 block of pixels with valid depth, no depth edge and within the max depth",
            format!("none in {w}x{h} pixels at mesh stride {stride}"),
        ));
    }

    let mut positions: Vec<[f32; 3]> = crate::limits::try_vec_with_capacity(n, "relief positions")?;
    let mut uvs: Vec<[f32; 2]> = crate::limits::try_vec_with_capacity(n, "relief uvs")?;
    for (j, &v) in vs.iter().enumerate() {
        for (i, &u) in us.iter().enumerate() {
            if index[j * gw + i] != UNUSED {
                positions.push(intrinsics.back_project_gltf(u, v, d[v * w + u]));
                uvs.push([(u as f32 + 0.5) / w as f32, (v as f32 + 0.5) / h as f32]);
            }
        }
    }

    let kept = state.iter().filter(|&&s| s != CELL_CUT).count();
    let mut triangles: Vec<[u32; 3]> =
        crate::limits::try_vec_with_capacity(2 * kept, "relief triangles")?;
    for j in 0..gh - 1 {
        for i in 0..gw - 1 {
            let s = cell(i, j);
            if s == CELL_CUT {
                continue;
            }
            let a = index[j * gw + i];
            let b = index[j * gw + i + 1];
            let c = index[(j + 1) * gw + i];
            let dd = index[(j + 1) * gw + i + 1];
            if s == CELL_DIAG_BC {
                triangles.push([a, c, b]);
                triangles.push([b, c, dd]);
            } else {
                triangles.push([a, c, dd]);
                triangles.push([a, dd, b]);
            }
        }
    }

    let mut mesh = Mesh {
        positions,
        uvs,
        triangles,
        ..Mesh::default()
    };
    if normals {
        mesh.normals = grid_normals(&mesh.positions, &index, gw, gh, &cell_kept)?;
    }
    Ok(mesh)
}

/// Unit vertex normals from central differences over the grid neighbours that share a kept
/// cell with the vertex (one-sided where a neighbour is missing), oriented like the
/// triangles: `(down - up) × (right - left)`.
fn grid_normals(
    positions: &[[f32; 3]],
    index: &[u32],
    gw: usize,
    gh: usize,
    cell_kept: &(dyn Fn(isize, isize) -> bool + Sync),
) -> Result<Vec<[f32; 3]>> {
    let mut normals: Vec<[f32; 3]> =
        crate::limits::try_vec_with_capacity(positions.len(), "relief normals")?;
    let at = |i: usize, j: usize| positions[index[j * gw + i] as usize];
    for j in 0..gh {
        for i in 0..gw {
            if index[j * gw + i] == UNUSED {
                continue;
            }
            let (ii, jj) = (i as isize, j as isize);
            let p = at(i, j);
            // The edge to the right neighbour borders cells (i, j-1) and (i, j); the other
            // three likewise.
            let pick = |ok: bool, i: usize, j: usize| if ok { at(i, j) } else { p };
            let right = pick(
                i + 1 < gw && (cell_kept(ii, jj - 1) || cell_kept(ii, jj)),
                i + 1,
                j,
            );
            let left = pick(
                i > 0 && (cell_kept(ii - 1, jj - 1) || cell_kept(ii - 1, jj)),
                i.wrapping_sub(1),
                j,
            );
            let down = pick(
                j + 1 < gh && (cell_kept(ii - 1, jj) || cell_kept(ii, jj)),
                i,
                j + 1,
            );
            let up = pick(
                j > 0 && (cell_kept(ii - 1, jj - 1) || cell_kept(ii, jj - 1)),
                i,
                j.wrapping_sub(1),
            );
            let nrm = cross(sub(down, up), sub(right, left));
            let l = length(nrm);
            normals.push(if l > 0.0 && l.is_finite() {
                scale(nrm, 1.0 / l)
            } else {
                [0.0, 0.0, 1.0]
            });
        }
    }
    Ok(normals)
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
