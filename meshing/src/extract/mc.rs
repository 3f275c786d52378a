//! The marching-cubes core, shared by dense volumes and coarse-to-fine extraction.
//!
//! The volume is reduced to one **inside bit per grid point**, stored as 64-bit words per
//! x-row. Everything the mesher needs follows from the bits with word operations, in the
//! manner of Schroeder et al.'s *Flying Edges* (2015), whose four-pass structure this
//! mirrors (classify, count per row, prefix sums, generate):
//!
//! * an x-edge crosses where `row ^ (row >> 1)` has a bit, a y-edge (z-edge) where two
//!   neighbouring rows (layers) differ; a cell is active where its 8 corners are neither
//!   all in nor all out — 64 cells per handful of instructions, so empty space is skipped
//!   at word speed;
//! * each crossing edge gets one vertex. Vertices are numbered row by row (x-, y-, then
//!   z-edges of each row, rows in z-major order), so a cell finds the index of the vertex
//!   on any of its edges as the row's offset plus a popcount of the crossing bits before
//!   it — shared vertices without hash maps or per-cell state;
//! * counting, then generating, runs in parallel over z-layers (rayon) and writes straight
//!   into the final buffers, split at the per-layer offsets.
//!
//! Points on the faces of the grid count as outside, so a surface that leaves the grid is
//! capped there and the mesh stays closed. Vertices are interpolated linearly on edges,
//! with the parameter kept within [`EDGE_EPSILON`] of the ends so that vertices never sit
//! on grid points (no duplicate vertices, no zero-area triangles).

use crate::extract::tables::{Case, tables};
use crate::limits::try_vec_with_capacity;
use crate::{Error, Grid, Limits, Mesh, Result};

/// Edge parameters are clamped to `[EDGE_EPSILON, 1 - EDGE_EPSILON]` (in units of the
/// edge), which moves a vertex by at most a thousandth of a voxel and only where the field
/// is within that distance of a grid point.
pub const EDGE_EPSILON: f32 = 1e-3;

/// One inside bit per grid point, x-rows of 64-bit words, rows indexed `j + ny * k`.
#[derive(Debug, Clone)]
pub(crate) struct Bits {
    pub dims: [usize; 3],
    pub words_per_row: usize,
    pub words: Vec<u64>,
}

impl Bits {
    /// All-outside bits for `dims`, allocated fallibly.
    pub fn new(dims: [usize; 3]) -> Result<Self> {
        let words_per_row = dims[0].div_ceil(64);
        let len = words_per_row
            .checked_mul(dims[1])
            .and_then(|v| v.checked_mul(dims[2]))
            .ok_or_else(|| Error::invalid_parameter("grid", "fewer points", dims[0]))?;
        let mut words = try_vec_with_capacity(len, "grid sign bits")?;
        words.resize(len, 0);
        Ok(Self {
            dims,
            words_per_row,
            words,
        })
    }

    #[inline]
    pub fn row(&self, j: usize, k: usize) -> &[u64] {
        let s = (j + self.dims[1] * k) * self.words_per_row;
        &self.words[s..s + self.words_per_row]
    }

    #[inline]
    pub fn get(&self, i: usize, j: usize, k: usize) -> bool {
        self.row(j, k)[i / 64] >> (i % 64) & 1 == 1
    }

    #[inline]
    pub fn set(&mut self, i: usize, j: usize, k: usize, v: bool) {
        let s = (j + self.dims[1] * k) * self.words_per_row + i / 64;
        let m = 1u64 << (i % 64);
        if v {
            self.words[s] |= m;
        } else {
            self.words[s] &= !m;
        }
    }

    /// Clears every point on the faces of the grid (outside the grid is outside).
    pub fn clear_boundary(&mut self) {
        let [nx, ny, nz] = self.dims;
        let w = self.words_per_row;
        let last_word = (nx - 1) / 64;
        let last_bit = 1u64 << ((nx - 1) % 64);
        for (r, row) in self.words.chunks_exact_mut(w).enumerate() {
            let (j, k) = (r % ny, r / ny);
            if j == 0 || k == 0 || j + 1 == ny || k + 1 == nz {
                row.fill(0);
            } else {
                row[0] &= !1;
                row[last_word] &= !last_bit;
            }
        }
    }
}

/// Effective "insideness" of grid points (positive inside), with points on the grid's
/// faces already clamped to at most zero.
pub(crate) trait Amounts: Sync {
    /// The amount at point `(i, j, k)`; NaN when unknown.
    fn amount(&self, i: usize, j: usize, k: usize) -> f32;
}

/// `word >> 1` with the next word's low bit shifted in at the top.
#[inline(always)]
fn shr1(row: &[u64], w: usize) -> u64 {
    let next = row.get(w + 1).copied().unwrap_or(0);
    (row[w] >> 1) | (next << 63)
}

/// Mask of the first `n` bits of word `w` of a row of `n` bits.
#[inline(always)]
fn valid_mask(n: usize, w: usize) -> u64 {
    let rem = n.saturating_sub(w * 64);
    if rem >= 64 { !0 } else { (1u64 << rem) - 1 }
}

/// Crossing bits of the x-edges `i -> i+1` of a row.
#[inline(always)]
fn x_cross(row: &[u64], w: usize, nx: usize) -> u64 {
    (row[w] ^ shr1(row, w)) & valid_mask(nx - 1, w)
}

/// The two bits `b` and `b + 1` of a row (the next word supplies bit 64).
#[inline(always)]
fn pair(row: &[u64], w: usize, b: u32) -> usize {
    let win = u128::from(row[w]) | (u128::from(row.get(w + 1).copied().unwrap_or(0)) << 64);
    ((win >> b) & 3) as usize
}

/// Active cells (sign change among the 8 corners) of the cell row between point rows
/// `r00 (j,k)`, `r10 (j+1,k)`, `r01 (j,k+1)`, `r11 (j+1,k+1)`, word `w`.
#[inline(always)]
pub(crate) fn active_cells(r: [&[u64]; 4], w: usize, nx: usize) -> u64 {
    let any = r[0][w] | r[1][w] | r[2][w] | r[3][w];
    let all = r[0][w] & r[1][w] & r[2][w] & r[3][w];
    let next = |row: &[u64]| row.get(w + 1).copied().unwrap_or(0);
    let any_n = next(r[0]) | next(r[1]) | next(r[2]) | next(r[3]);
    let all_n = next(r[0]) & next(r[1]) & next(r[2]) & next(r[3]);
    let any2 = any | (any >> 1) | (any_n << 63);
    let all2 = all & ((all >> 1) | (all_n << 63));
    any2 & !all2 & valid_mask(nx - 1, w)
}

#[inline(always)]
fn case_of(r: [&[u64]; 4], w: usize, b: u32) -> usize {
    pair(r[0], w, b) | pair(r[1], w, b) << 2 | pair(r[2], w, b) << 4 | pair(r[3], w, b) << 6
}

/// Per-row counts: vertices on the row's x-, y- and z-edges, triangles of its cell row.
#[derive(Debug, Clone, Copy, Default)]
struct RowCounts {
    x: u32,
    y: u32,
    z: u32,
    tris: u32,
}

fn count_layer(bits: &Bits, cases: &[Case; 256], k: usize, out: &mut [RowCounts]) {
    let [nx, ny, nz] = bits.dims;
    let words = bits.words_per_row;
    for (j, c) in out.iter_mut().enumerate() {
        let r00 = bits.row(j, k);
        let mut counts = RowCounts::default();
        for w in 0..words {
            counts.x += x_cross(r00, w, nx).count_ones();
        }
        if j + 1 < ny {
            let r10 = bits.row(j + 1, k);
            counts.y = r00.iter().zip(r10).map(|(a, b)| (a ^ b).count_ones()).sum();
        }
        if k + 1 < nz {
            let r01 = bits.row(j, k + 1);
            counts.z = r00.iter().zip(r01).map(|(a, b)| (a ^ b).count_ones()).sum();
        }
        if j + 1 < ny && k + 1 < nz {
            let r = [
                r00,
                bits.row(j + 1, k),
                bits.row(j, k + 1),
                bits.row(j + 1, k + 1),
            ];
            for w in 0..words {
                let mut act = active_cells(r, w, nx);
                while act != 0 {
                    let b = act.trailing_zeros();
                    act &= act - 1;
                    counts.tris += u32::from(cases[case_of(r, w, b)].count);
                }
            }
        }
        *c = counts;
    }
}

/// Offsets of each row's vertices (x, then y, then z edges) and triangles.
#[derive(Debug, Clone, Copy, Default)]
struct RowOffsets {
    x: u32,
    y: u32,
    z: u32,
    tris: usize,
}

#[inline(always)]
fn interpolate(a0: f32, a1: f32) -> f32 {
    let t = a0 / (a0 - a1);
    let t = if t.is_nan() { 0.5 } else { t };
    t.clamp(EDGE_EPSILON, 1.0 - EDGE_EPSILON)
}

struct Frame {
    min: [f32; 3],
    step: [f32; 3],
}

impl Frame {
    #[inline(always)]
    fn coord(&self, axis: usize, i: usize, t: f32) -> f32 {
        self.min[axis] + (i as f32 + t) * self.step[axis]
    }
}

/// Writes the vertices of point rows `(j, k)` for all `j` into `out` (starting at the
/// layer's first vertex).
fn vertices_layer<A: Amounts>(
    bits: &Bits,
    amounts: &A,
    frame: &Frame,
    k: usize,
    offsets: &[RowOffsets],
    layer_start: u32,
    out: &mut [[f32; 3]],
) {
    let [nx, ny, nz] = bits.dims;
    for (j, &o) in offsets.iter().enumerate().take(ny) {
        let r00 = bits.row(j, k);
        let y = frame.coord(1, j, 0.0);
        let z = frame.coord(2, k, 0.0);
        let mut at = (o.x - layer_start) as usize;
        for w in 0..bits.words_per_row {
            let mut c = x_cross(r00, w, nx);
            while c != 0 {
                let i = w * 64 + c.trailing_zeros() as usize;
                c &= c - 1;
                let t = interpolate(amounts.amount(i, j, k), amounts.amount(i + 1, j, k));
                out[at] = [frame.coord(0, i, t), y, z];
                at += 1;
            }
        }
        if j + 1 < ny {
            let r10 = bits.row(j + 1, k);
            let mut at = (o.y - layer_start) as usize;
            for w in 0..bits.words_per_row {
                let mut c = r00[w] ^ r10[w];
                while c != 0 {
                    let i = w * 64 + c.trailing_zeros() as usize;
                    c &= c - 1;
                    let t = interpolate(amounts.amount(i, j, k), amounts.amount(i, j + 1, k));
                    out[at] = [frame.coord(0, i, 0.0), frame.coord(1, j, t), z];
                    at += 1;
                }
            }
        }
        if k + 1 < nz {
            let r01 = bits.row(j, k + 1);
            let mut at = (o.z - layer_start) as usize;
            for w in 0..bits.words_per_row {
                let mut c = r00[w] ^ r01[w];
                while c != 0 {
                    let i = w * 64 + c.trailing_zeros() as usize;
                    c &= c - 1;
                    let t = interpolate(amounts.amount(i, j, k), amounts.amount(i, j, k + 1));
                    out[at] = [frame.coord(0, i, 0.0), y, frame.coord(2, k, t)];
                    at += 1;
                }
            }
        }
    }
}

/// Writes the triangles of cell layer `k` into `out` (starting at the layer's first
/// triangle).
fn triangles_layer(
    bits: &Bits,
    cases: &[Case; 256],
    k: usize,
    offsets: &[RowOffsets],
    next_offsets: &[RowOffsets],
    out: &mut [[u32; 3]],
) {
    let [nx, ny, _] = bits.dims;
    let tri_start = offsets[0].tris;
    let below = |b: u32| (1u64 << b) - 1;
    for j in 0..ny - 1 {
        let r = [
            bits.row(j, k),
            bits.row(j + 1, k),
            bits.row(j, k + 1),
            bits.row(j + 1, k + 1),
        ];
        let (o00, o10, o01, o11) = (
            offsets[j],
            offsets[j + 1],
            next_offsets[j],
            next_offsets[j + 1],
        );
        // Bases of the 8 crossing rows a cell of this row touches:
        // x-rows of (j,k), (j+1,k), (j,k+1), (j+1,k+1); y-rows of (j,k), (j,k+1);
        // z-rows of (j,k), (j+1,k).
        let mut base = [o00.x, o10.x, o01.x, o11.x, o00.y, o01.y, o00.z, o10.z];
        let mut at = offsets[j].tris - tri_start;
        for w in 0..bits.words_per_row {
            let mut act = active_cells(r, w, nx);
            let cross = [
                x_cross(r[0], w, nx),
                x_cross(r[1], w, nx),
                x_cross(r[2], w, nx),
                x_cross(r[3], w, nx),
                r[0][w] ^ r[1][w],
                r[2][w] ^ r[3][w],
                r[0][w] ^ r[2][w],
                r[1][w] ^ r[3][w],
            ];
            while act != 0 {
                let b = act.trailing_zeros();
                act &= act - 1;
                let case = &cases[case_of(r, w, b)];
                let m = below(b);
                let rank = |q: usize| base[q] + (cross[q] & m).count_ones();
                let bit = |q: usize| ((cross[q] >> b) & 1) as u32;
                let (y0, y1, z0, z1) = (rank(4), rank(5), rank(6), rank(7));
                let edge_vertex = [
                    rank(0),
                    rank(1),
                    rank(2),
                    rank(3),
                    y0,
                    y0 + bit(4),
                    y1,
                    y1 + bit(5),
                    z0,
                    z0 + bit(6),
                    z1,
                    z1 + bit(7),
                ];
                for t in &case.triangles[..usize::from(case.count)] {
                    out[at] = t.map(|e| edge_vertex[usize::from(e)]);
                    at += 1;
                }
            }
            for (bq, cq) in base.iter_mut().zip(cross) {
                *bq += cq.count_ones();
            }
        }
    }
}

/// Meshes the sign bits, interpolating vertices from `amounts`, with positions in
/// `grid`'s frame. Returns an empty mesh when no cell is active.
pub(crate) fn mesh_bits<A: Amounts>(
    bits: &Bits,
    amounts: &A,
    grid: &Grid,
    limits: &Limits,
) -> Result<Mesh> {
    let [nx, ny, nz] = bits.dims;
    if nx < 2 || ny < 2 || nz < 2 {
        return Ok(Mesh::default());
    }
    let cases = &tables().cases;

    // Pass 2: counts per row, in parallel over layers.
    let mut counts = vec![RowCounts::default(); ny * nz];
    par_layers(&mut counts, ny, |k, layer| {
        count_layer(bits, cases, k, layer)
    });

    // Pass 3: prefix sums.
    let mut offsets = Vec::with_capacity(ny * nz + 1);
    let (mut v, mut t) = (0u64, 0usize);
    for c in &counts {
        let x = v;
        let y = x + u64::from(c.x);
        let z = y + u64::from(c.y);
        v = z + u64::from(c.z);
        if v > u64::from(u32::MAX) {
            return Err(Error::Limit {
                what: "a marching-cubes mesh".into(),
                requested: format!("more than {v} vertices"),
                limit: format!("{} vertices (u32 indices)", u32::MAX),
            });
        }
        offsets.push(RowOffsets {
            x: x as u32,
            y: y as u32,
            z: z as u32,
            tris: t,
        });
        t += c.tris as usize;
    }
    offsets.push(RowOffsets {
        x: v as u32,
        y: v as u32,
        z: v as u32,
        tris: t,
    });
    if t > limits.max_triangles {
        return Err(Error::Limit {
            what: "a marching-cubes mesh".into(),
            requested: format!("{t} triangles"),
            limit: format!("{} triangles", limits.max_triangles),
        });
    }
    if t == 0 {
        return Ok(Mesh::default());
    }
    let mut positions = try_vec_with_capacity(v as usize, "mesh vertices")?;
    positions.resize(v as usize, [0.0f32; 3]);
    let mut triangles = try_vec_with_capacity(t, "mesh triangles")?;
    triangles.resize(t, [0u32; 3]);

    // Pass 4: generate, one task per layer, writing into disjoint slices.
    let frame = Frame {
        min: grid.bounds.min,
        step: grid.spacing(),
    };
    let mut tasks = Vec::with_capacity(nz);
    let (mut pos_rest, mut tri_rest) = (positions.as_mut_slice(), triangles.as_mut_slice());
    for k in 0..nz {
        let (p0, p1) = (offsets[k * ny].x, offsets[(k + 1) * ny].x);
        let (t0, t1) = (offsets[k * ny].tris, offsets[(k + 1) * ny].tris);
        let (p, pr) = std::mem::take(&mut pos_rest).split_at_mut((p1 - p0) as usize);
        let (tr, trr) = std::mem::take(&mut tri_rest).split_at_mut(t1 - t0);
        pos_rest = pr;
        tri_rest = trr;
        tasks.push((k, p, tr));
    }
    let run = |(k, p, tr): (usize, &mut [[f32; 3]], &mut [[u32; 3]])| {
        let layer = &offsets[k * ny..(k + 1) * ny];
        vertices_layer(bits, amounts, &frame, k, layer, layer[0].x, p);
        if k + 1 < nz {
            let next = &offsets[(k + 1) * ny..(k + 2) * ny];
            triangles_layer(bits, cases, k, layer, next, tr);
        }
    };
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        tasks.into_par_iter().for_each(run);
    }
    #[cfg(not(feature = "rayon"))]
    tasks.into_iter().for_each(run);

    Ok(Mesh::from_triangles(positions, triangles))
}

/// Runs `f(k, layer)` over the `rows_per_layer`-sized chunks of `data`, in parallel when
/// the `rayon` feature is on.
pub(crate) fn par_layers<T: Send>(
    data: &mut [T],
    rows_per_layer: usize,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        data.par_chunks_mut(rows_per_layer)
            .enumerate()
            .for_each(|(k, c)| f(k, c));
    }
    #[cfg(not(feature = "rayon"))]
    data.chunks_mut(rows_per_layer)
        .enumerate()
        .for_each(|(k, c)| f(k, c));
}
