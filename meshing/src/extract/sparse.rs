//! Coarse-to-fine extraction: evaluate the field on a coarse lattice, refine only the
//! blocks the surface can pass through, and mesh the sparse result with the same core as
//! dense volumes.
//!
//! 1. **Coarse lattice.** Level `L` samples every `2^L`-th grid point (and the last one).
//! 2. **Refinement.** A block is split in 8 when its corners change sign, or when the
//!    smallest corner value is within `margin × ĝ × diagonal` of the level (half the
//!    margin for the last split into cells), where `ĝ` is
//!    the largest finite-difference gradient seen in the block's 3×3×3 neighbourhood at
//!    the coarse level and in the block itself below (for a signed distance field
//!    `ĝ ≈ 1`, and the test is the Lipschitz bound: thin parts between two samples are
//!    kept). This is the multiresolution scheme of Mescheder et al.'s Occupancy Networks
//!    (MISE) with a value margin instead of a plain dilation.
//! 3. **Inferred signs.** Points never evaluated take the sign of the smallest block that
//!    was not refined (its corners all agree).
//! 4. **Closure.** Every cell whose corners change sign must have all 8 corners evaluated;
//!    cells that do not are completed and their neighbours rechecked until none is left.
//!    So a surface that was touched anywhere is followed wherever it goes, and every cell
//!    the mesher uses has exact values: the mesh equals the dense extraction's wherever
//!    the coarse levels saw the surface.
//!
//! Memory: values are kept in 8³ bricks only where evaluated (near the surface); the sign
//! and "evaluated" bits take one bit per grid point each (32 MiB together at 512³).

use std::time::Instant;

use super::mc::{Amounts, Bits};
use crate::{Error, Field, Grid, Result, Surface};

const BRICK: usize = 8;
const BRICK_VOLUME: usize = BRICK * BRICK * BRICK;
const UNKNOWN: u32 = 0x7fc0_0000;
const PENDING: u32 = 0x7fc0_0001;

/// Values on one level's lattice, stored in 8³ bricks allocated on first write.
pub(crate) struct LevelStore {
    /// Lattice points per axis.
    dims: [usize; 3],
    /// Bricks per axis.
    bdims: [usize; 3],
    /// Brick index into `pool` (in bricks), or `u32::MAX`.
    map: Vec<u32>,
    pool: Vec<f32>,
}

impl LevelStore {
    fn new(dims: [usize; 3]) -> Result<Self> {
        let bdims = dims.map(|d| d.div_ceil(BRICK));
        let n = bdims[0] * bdims[1] * bdims[2];
        let mut map = crate::limits::try_vec_with_capacity(n, "brick map")?;
        map.resize(n, u32::MAX);
        Ok(Self {
            dims,
            bdims,
            map,
            pool: Vec::new(),
        })
    }

    #[inline]
    fn locate(&self, m: [usize; 3]) -> (usize, usize) {
        let b = (m[0] / BRICK) + self.bdims[0] * ((m[1] / BRICK) + self.bdims[1] * (m[2] / BRICK));
        let o = (m[0] % BRICK) + BRICK * ((m[1] % BRICK) + BRICK * (m[2] % BRICK));
        (b, o)
    }

    /// The value at lattice point `m` (NaN with the `UNKNOWN` or `PENDING` payload when
    /// there is none yet).
    #[inline]
    fn get(&self, m: [usize; 3]) -> f32 {
        let (b, o) = self.locate(m);
        match self.map[b] {
            u32::MAX => f32::from_bits(UNKNOWN),
            slot => self.pool[slot as usize * BRICK_VOLUME + o],
        }
    }

    #[inline]
    fn set(&mut self, m: [usize; 3], v: f32) {
        let (b, o) = self.locate(m);
        let slot = match self.map[b] {
            u32::MAX => {
                let slot = (self.pool.len() / BRICK_VOLUME) as u32;
                self.pool
                    .resize(self.pool.len() + BRICK_VOLUME, f32::from_bits(UNKNOWN));
                self.map[b] = slot;
                slot
            }
            s => s,
        };
        self.pool[slot as usize * BRICK_VOLUME + o] = v;
    }

    /// Calls `f(m, value)` for every known lattice point.
    fn for_each_known(&self, mut f: impl FnMut([usize; 3], f32)) {
        for (b, &slot) in self.map.iter().enumerate() {
            if slot == u32::MAX {
                continue;
            }
            let bb = [
                b % self.bdims[0],
                (b / self.bdims[0]) % self.bdims[1],
                b / (self.bdims[0] * self.bdims[1]),
            ];
            let vals = &self.pool[slot as usize * BRICK_VOLUME..][..BRICK_VOLUME];
            for (o, &v) in vals.iter().enumerate() {
                if v.is_nan() {
                    continue;
                }
                let m = [
                    bb[0] * BRICK + o % BRICK,
                    bb[1] * BRICK + (o / BRICK) % BRICK,
                    bb[2] * BRICK + o / (BRICK * BRICK),
                ];
                if m[0] < self.dims[0] && m[1] < self.dims[1] && m[2] < self.dims[2] {
                    f(m, v);
                }
            }
        }
    }

    fn bytes(&self) -> usize {
        self.map.len() * 4 + self.pool.capacity() * 4
    }
}

/// Knobs of the refinement (see [`crate::extract::ExtractOptions`]).
pub(crate) struct SparseParams {
    pub levels: u32,
    pub margin: f32,
    pub batch: usize,
}

/// Counters reported in [`crate::extract::ExtractStats`].
#[derive(Debug, Default, Clone)]
pub(crate) struct SparseCounters {
    pub evaluations: u64,
    pub batches: u64,
    pub eval_seconds: f64,
    pub closure_rounds: u32,
    pub closure_evaluations: u64,
    pub store_bytes: usize,
}

/// Evaluates fine-grid points in batches.
struct Evaluator<'a> {
    field: &'a dyn Field,
    grid: Grid,
    batch: usize,
    points: Vec<[f32; 3]>,
    out: Vec<f32>,
    counters: SparseCounters,
}

impl Evaluator<'_> {
    /// Evaluates the fine points `coords`, calling `sink(index, value)` for each.
    fn eval(&mut self, coords: &[[u32; 3]], mut sink: impl FnMut(usize, f32)) -> Result<()> {
        let start = Instant::now();
        for (c, chunk) in coords.chunks(self.batch.max(1)).enumerate() {
            self.points.clear();
            self.points.extend(
                chunk
                    .iter()
                    .map(|p| self.grid.point(p[0] as usize, p[1] as usize, p[2] as usize)),
            );
            self.out.clear();
            self.out.resize(chunk.len(), 0.0);
            self.field.eval_scalar(&self.points, &mut self.out)?;
            self.counters.batches += 1;
            for (i, &v) in self.out.iter().enumerate() {
                if v.is_nan() {
                    return Err(Error::NotFinite {
                        what: format!("value of field {}", self.field.name()),
                        index: c * self.batch + i,
                    });
                }
                sink(c * self.batch + i, v);
            }
        }
        self.counters.evaluations += coords.len() as u64;
        self.counters.eval_seconds += start.elapsed().as_secs_f64();
        Ok(())
    }
}

/// One level's lattice geometry.
#[derive(Clone, Copy)]
struct Lattice {
    step: usize,
    /// Points per axis.
    dims: [usize; 3],
    /// Fine points per axis.
    fine: [usize; 3],
}

impl Lattice {
    fn new(fine: [usize; 3], level: u32) -> Self {
        let step = 1usize << level;
        Self {
            step,
            dims: fine.map(|n| (n - 1).div_ceil(step) + 1),
            fine,
        }
    }

    #[inline]
    fn fine_of(&self, m: [usize; 3]) -> [usize; 3] {
        [0, 1, 2].map(|a| (m[a] * self.step).min(self.fine[a] - 1))
    }
}

/// A block to refine, with the gradient bound seen around it.
#[derive(Clone, Copy)]
struct Block {
    m: [u32; 3],
    ghat: f32,
}

/// Everything the mesher needs afterwards.
pub(crate) struct SparseResult {
    pub bits: Bits,
    pub amounts: SparseAmounts,
    pub counters: SparseCounters,
}

/// Effective amounts looked up in the level stores.
pub(crate) struct SparseAmounts {
    stores: Vec<LevelStore>,
    surface: Surface,
    fine: [usize; 3],
}

impl SparseAmounts {
    fn value(&self, p: [usize; 3]) -> f32 {
        let v = self.stores[0].get(p);
        if !v.is_nan() {
            return v;
        }
        for (l, s) in self.stores.iter().enumerate().skip(1) {
            let step = 1usize << l;
            let mut m = [0usize; 3];
            for a in 0..3 {
                if p[a].is_multiple_of(step) {
                    m[a] = p[a] / step;
                } else if p[a] + 1 == self.fine[a] {
                    m[a] = s.dims[a] - 1;
                } else {
                    return f32::NAN;
                }
            }
            let v = s.get(m);
            if !v.is_nan() {
                return v;
            }
        }
        f32::NAN
    }
}

impl Amounts for SparseAmounts {
    #[inline]
    fn amount(&self, i: usize, j: usize, k: usize) -> f32 {
        effective(self.surface, self.fine, [i, j, k], self.value([i, j, k]))
    }
}

/// The field value as an amount, clamped to at most zero on the grid's faces.
#[inline]
fn effective(surface: Surface, fine: [usize; 3], p: [usize; 3], v: f32) -> f32 {
    let a = surface.inside_amount(v);
    if (0..3).any(|ax| p[ax] == 0 || p[ax] + 1 == fine[ax]) {
        a.min(0.0)
    } else {
        a
    }
}

/// The 8 corner amounts, sign change, own gradient bound and diagonal of a block.
struct BlockInfo {
    sign_change: bool,
    min_abs: f32,
    inside: bool,
    g: f32,
    diag: f32,
}

fn block_info(
    store: &LevelStore,
    lat: &Lattice,
    m: [usize; 3],
    surface: Surface,
    spacing: [f32; 3],
) -> BlockInfo {
    let mut a = [0.0f32; 8];
    for (c, slot) in a.iter_mut().enumerate() {
        let q = [m[0] + (c & 1), m[1] + (c >> 1 & 1), m[2] + (c >> 2 & 1)];
        *slot = effective(surface, lat.fine, lat.fine_of(q), store.get(q));
    }
    let lo = lat.fine_of(m);
    let hi = lat.fine_of([m[0] + 1, m[1] + 1, m[2] + 1]);
    let len = [0, 1, 2].map(|ax| ((hi[ax] - lo[ax]) as f32 * spacing[ax]).max(f32::MIN_POSITIVE));
    let inside = a[0] > 0.0;
    let sign_change = a.iter().any(|&v| (v > 0.0) != inside);
    let min_abs = a.iter().fold(f32::INFINITY, |m, v| m.min(v.abs()));
    // Largest difference along each axis, over the block's four edges on that axis.
    let mut g2 = 0.0f32;
    for (ax, l) in len.iter().enumerate() {
        let mut d = 0.0f32;
        for c in 0..8 {
            if c >> ax & 1 == 0 {
                d = d.max((a[c | 1 << ax] - a[c]).abs());
            }
        }
        let gx = d / l;
        g2 += gx * gx;
    }
    let g = if g2.is_finite() { g2.sqrt() } else { f32::MAX };
    let diag = (len[0] * len[0] + len[1] * len[1] + len[2] * len[2]).sqrt();
    BlockInfo {
        sign_change,
        min_abs,
        inside,
        g,
        diag,
    }
}

fn refine(info: &BlockInfo, ghat: f32, margin: f32) -> bool {
    info.sign_change || info.min_abs <= margin * ghat * info.diag
}

/// Sets the inside bits of every fine point of block `m` (closed box).
fn fill_block(bits: &mut Bits, lat: &Lattice, m: [usize; 3]) {
    let lo = lat.fine_of(m);
    let hi = lat.fine_of([m[0] + 1, m[1] + 1, m[2] + 1]);
    for k in lo[2]..=hi[2] {
        for j in lo[1]..=hi[1] {
            let s = (j + bits.dims[1] * k) * bits.words_per_row;
            for i in lo[0]..=hi[0] {
                bits.words[s + i / 64] |= 1 << (i % 64);
            }
        }
    }
}

/// Runs the refinement and closure; see the module docs.
pub(crate) fn refine_field(
    field: &dyn Field,
    grid: Grid,
    surface: Surface,
    params: &SparseParams,
) -> Result<SparseResult> {
    let fine = grid.dims;
    let spacing = grid.spacing();
    let top = params.levels;
    let lattices: Vec<Lattice> = (0..=top).map(|l| Lattice::new(fine, l)).collect();
    let mut stores = lattices
        .iter()
        .map(|lat| LevelStore::new(lat.dims))
        .collect::<Result<Vec<_>>>()?;
    let mut ev = Evaluator {
        field,
        grid,
        batch: params.batch,
        points: Vec::new(),
        out: Vec::new(),
        counters: SparseCounters::default(),
    };
    let mut bits = Bits::new(fine)?;
    let mut known = Bits::new(fine)?;

    // Level `top`: every lattice point.
    let lat = lattices[top as usize];
    let mut coords: Vec<[u32; 3]> = Vec::with_capacity(lat.dims.iter().product());
    let mut lattice_of: Vec<[u32; 3]> = Vec::with_capacity(coords.capacity());
    for k in 0..lat.dims[2] {
        for j in 0..lat.dims[1] {
            for i in 0..lat.dims[0] {
                coords.push(lat.fine_of([i, j, k]).map(|c| c as u32));
                lattice_of.push([i as u32, j as u32, k as u32]);
            }
        }
    }
    {
        let store = &mut stores[top as usize];
        ev.eval(&coords, |n, v| {
            store.set(lattice_of[n].map(|c| c as usize), v)
        })?;
    }

    // Blocks of the top level, with gradients max-filtered over 3x3x3 neighbourhoods.
    let bd = lat.dims.map(|d| d - 1);
    let nblocks = bd[0] * bd[1] * bd[2];
    let mut infos = Vec::with_capacity(nblocks);
    for k in 0..bd[2] {
        for j in 0..bd[1] {
            for i in 0..bd[0] {
                infos.push(block_info(
                    &stores[top as usize],
                    &lat,
                    [i, j, k],
                    surface,
                    spacing,
                ));
            }
        }
    }
    let bidx = |i: usize, j: usize, k: usize| i + bd[0] * (j + bd[1] * k);
    let mut ghat: Vec<f32> = infos.iter().map(|b| b.g).collect();
    for axis in 0..3 {
        let prev = ghat.clone();
        for k in 0..bd[2] {
            for j in 0..bd[1] {
                for i in 0..bd[0] {
                    let p = [i, j, k];
                    let mut m = prev[bidx(i, j, k)];
                    if p[axis] > 0 {
                        let mut q = p;
                        q[axis] -= 1;
                        m = m.max(prev[bidx(q[0], q[1], q[2])]);
                    }
                    if p[axis] + 1 < bd[axis] {
                        let mut q = p;
                        q[axis] += 1;
                        m = m.max(prev[bidx(q[0], q[1], q[2])]);
                    }
                    ghat[bidx(i, j, k)] = m;
                }
            }
        }
    }
    let mut active: Vec<Block> = Vec::new();
    for k in 0..bd[2] {
        for j in 0..bd[1] {
            for i in 0..bd[0] {
                let n = bidx(i, j, k);
                if refine(&infos[n], ghat[n], params.margin) {
                    active.push(Block {
                        m: [i as u32, j as u32, k as u32],
                        ghat: ghat[n],
                    });
                } else if infos[n].inside {
                    fill_block(&mut bits, &lat, [i, j, k]);
                }
            }
        }
    }
    drop(infos);
    drop(ghat);

    // Refine level by level.
    for l in (1..=top as usize).rev() {
        let c = l - 1;
        let clat = lattices[c];
        coords.clear();
        lattice_of.clear();
        {
            let (lower, upper) = stores.split_at_mut(l);
            let (cstore, pstore) = (&mut lower[c], &upper[0]);
            for b in &active {
                let m = b.m.map(|v| v as usize);
                for dz in 0..3 {
                    for dy in 0..3 {
                        for dx in 0..3 {
                            let p = [
                                (2 * m[0] + dx).min(clat.dims[0] - 1),
                                (2 * m[1] + dy).min(clat.dims[1] - 1),
                                (2 * m[2] + dz).min(clat.dims[2] - 1),
                            ];
                            let cur = cstore.get(p).to_bits();
                            if cur != UNKNOWN {
                                continue;
                            }
                            let upper_point = [0, 1, 2].map(|a| {
                                if p[a].is_multiple_of(2) {
                                    Some(p[a] / 2)
                                } else if p[a] + 1 == clat.dims[a] {
                                    Some(pstore.dims[a] - 1)
                                } else {
                                    None
                                }
                            });
                            let from_parent = match upper_point {
                                [Some(x), Some(y), Some(z)] => {
                                    let v = pstore.get([x, y, z]);
                                    (!v.is_nan()).then_some(v)
                                }
                                _ => None,
                            };
                            match from_parent {
                                Some(v) => cstore.set(p, v),
                                None => {
                                    cstore.set(p, f32::from_bits(PENDING));
                                    coords.push(clat.fine_of(p).map(|v| v as u32));
                                    lattice_of.push(p.map(|v| v as u32));
                                }
                            }
                        }
                    }
                }
            }
        }
        {
            let cstore = &mut stores[c];
            ev.eval(&coords, |n, v| {
                cstore.set(lattice_of[n].map(|v| v as usize), v)
            })?;
        }
        if c == 0 {
            break;
        }
        // The last split (into single cells) only needs the surface's own blocks: the
        // closure completes any cell the surface reaches beyond them. Half the margin
        // there keeps sub-cell features near the surface.
        let margin = if c == 1 {
            0.5 * params.margin
        } else {
            params.margin
        };
        let mut next = Vec::with_capacity(active.len() * 4);
        for b in &active {
            let m = b.m.map(|v| v as usize);
            for dz in 0..2 {
                for dy in 0..2 {
                    for dx in 0..2 {
                        let q = [2 * m[0] + dx, 2 * m[1] + dy, 2 * m[2] + dz];
                        if (0..3).any(|a| q[a] + 1 >= clat.dims[a]) {
                            continue;
                        }
                        let info = block_info(&stores[c], &clat, q, surface, spacing);
                        let g = info.g.max(b.ghat);
                        if refine(&info, g, margin) {
                            next.push(Block {
                                m: q.map(|v| v as u32),
                                ghat: g,
                            });
                        } else if info.inside {
                            fill_block(&mut bits, &clat, q);
                        }
                    }
                }
            }
        }
        active = next;
    }
    drop(active);

    // Known values set their own bits (overriding inferred ones).
    for (l, store) in stores.iter().enumerate() {
        let lat = lattices[l];
        store.for_each_known(|m, v| {
            let p = lat.fine_of(m);
            known.set(p[0], p[1], p[2], true);
            let a = effective(surface, fine, p, v);
            bits.set(p[0], p[1], p[2], a > 0.0);
        });
    }
    bits.clear_boundary();

    let mut amounts = SparseAmounts {
        stores,
        surface,
        fine,
    };
    closure(&mut bits, &mut known, &mut amounts, &mut ev)?;
    ev.counters.store_bytes =
        amounts.stores.iter().map(LevelStore::bytes).sum::<usize>() + 2 * bits.words.len() * 8;
    Ok(SparseResult {
        bits,
        amounts,
        counters: ev.counters,
    })
}

/// Evaluates the unknown corners of every active cell until there are none.
fn closure(
    bits: &mut Bits,
    known: &mut Bits,
    amounts: &mut SparseAmounts,
    ev: &mut Evaluator<'_>,
) -> Result<()> {
    let [nx, ny, nz] = bits.dims;
    let words = bits.words_per_row;
    let mut dirty = vec![true; ny * nz];
    let mut pending: Vec<[u32; 3]> = Vec::new();
    loop {
        pending.clear();
        for k in 0..nz - 1 {
            for j in 0..ny - 1 {
                if !dirty[j + ny * k] {
                    continue;
                }
                for w in 0..words {
                    let rows = [(j, k), (j + 1, k), (j, k + 1), (j + 1, k + 1)];
                    let b = rows.map(|(y, z)| bits.row(y, z));
                    let act = super::mc::active_cells(b, w, nx);
                    if act == 0 {
                        continue;
                    }
                    // Cells with an unknown corner: any unknown at bit i or i + 1.
                    let unk = rows.map(|(y, z)| {
                        let r = known.row(y, z);
                        let next = r.get(w + 1).copied().unwrap_or(!0);
                        let u = !r[w];
                        u | (u >> 1) | (!next << 63)
                    });
                    let mut need = act & (unk[0] | unk[1] | unk[2] | unk[3]);
                    while need != 0 {
                        let i = w * 64 + need.trailing_zeros() as usize;
                        need &= need - 1;
                        for c in 0..8 {
                            let p = [i + (c & 1), j + (c >> 1 & 1), k + (c >> 2 & 1)];
                            if !known.get(p[0], p[1], p[2]) {
                                known.set(p[0], p[1], p[2], true);
                                pending.push(p.map(|v| v as u32));
                            }
                        }
                    }
                }
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        ev.counters.closure_rounds += 1;
        dirty.fill(false);
        // Points known at a coarser level are copied, the rest evaluated.
        let mut to_eval: Vec<[u32; 3]> = Vec::with_capacity(pending.len());
        for &p in &pending {
            let q = p.map(|v| v as usize);
            let v = amounts.value(q);
            if v.is_nan() {
                to_eval.push(p);
            } else {
                amounts.stores[0].set(q, v);
            }
        }
        let before = ev.counters.evaluations;
        let store = &mut amounts.stores[0];
        ev.eval(&to_eval, |n, v| {
            store.set(to_eval[n].map(|c| c as usize), v);
        })?;
        ev.counters.closure_evaluations += ev.counters.evaluations - before;
        for &p in &pending {
            let q = p.map(|v| v as usize);
            let a = effective(amounts.surface, amounts.fine, q, amounts.stores[0].get(q));
            let on_face = (0..3).any(|ax| q[ax] == 0 || q[ax] + 1 == amounts.fine[ax]);
            bits.set(q[0], q[1], q[2], a > 0.0 && !on_face);
            for dk in 0..2 {
                for dj in 0..2 {
                    if let (Some(j), Some(k)) = (q[1].checked_sub(dj), q[2].checked_sub(dk))
                        && j + 1 < ny
                        && k + 1 < nz
                    {
                        dirty[j + ny * k] = true;
                    }
                }
            }
        }
    }
}
