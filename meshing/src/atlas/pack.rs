//! Packing flattened charts into the texture square.
//!
//! Each chart is first turned so that its minimum-area bounding rectangle is axis
//! aligned (rotating calipers over its convex hull). Packing then works on a grid of
//! cells (one texel up to 512² textures, coarser above, halved for many small charts): every chart is rasterised
//! conservatively into a cell mask, dilated by half the padding, and placed — largest
//! first, trying four quarter turns — at the lowest position where its mask overlaps
//! nothing, so small charts fill the holes that larger ones leave (the raster packing
//! that xatlas also uses). Occupancy is kept as bit rows with their erosions by free runs
//! of 2^k cells, so one footprint is tested at 64 columns per word; each footprint's
//! search starts at the first row holding a free block the size of its solid core (kept
//! per block size, and only moving down as the atlas fills). The scale (texels per
//! meter) is searched so that everything just fits: charts are packed into a strip twice
//! the square's height, and the rows they use predict the next scale.

/// Mean chart area, in cells, under which [`pack`] halves its cells.
const SMALL_CHART_CELLS: f64 = 256.0;

/// A chart ready for packing: its triangles' 2D corners, turned and moved so that the
/// chart's bounding box is `[0, size[0]] x [0, size[1]]` (world units).
pub(crate) struct PackChart {
    pub corners: Vec<[[f64; 2]; 3]>,
    pub size: [f64; 2],
}

/// Where a chart went, on the packing's cell grid (see [`Placement::texel`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Placement {
    turns: u8,
    /// Cells per world unit.
    k: f64,
    /// Dilation margin in cells.
    margin: f64,
    /// The chart's (unturned, dilated) box in cells.
    box_cells: [f64; 2],
    /// Texels per cell.
    cell: f64,
    /// Cell of the turned box's corner.
    origin: [f64; 2],
}

/// Result of packing: a scale (texels per world unit) and one placement per chart.
pub(crate) struct Packing {
    pub scale: f64,
    pub placements: Vec<Placement>,
}

/// Convex hull (Andrew's monotone chain), counter-clockwise, without repeated points.
pub(crate) fn convex_hull(mut pts: Vec<[f64; 2]>) -> Vec<[f64; 2]> {
    pts.sort_unstable_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let cross = |o: [f64; 2], a: [f64; 2], b: [f64; 2]| {
        (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    };
    let mut hull: Vec<[f64; 2]> = Vec::with_capacity(pts.len() + 1);
    for pass in 0..2 {
        let start = hull.len();
        let iter: Box<dyn Iterator<Item = &[f64; 2]>> = if pass == 0 {
            Box::new(pts.iter())
        } else {
            Box::new(pts.iter().rev())
        };
        for &p in iter {
            while hull.len() >= start + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0
            {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop();
    }
    hull
}

/// Turns and moves a chart's corners so its minimum-area bounding rectangle becomes
/// `[0, w] x [0, h]` with `w >= h`.
pub(crate) fn orient_chart(mut corners: Vec<[[f64; 2]; 3]>) -> PackChart {
    let hull = convex_hull(corners.iter().flatten().copied().collect());
    // Best direction: the hull edge whose bounding rectangle has the least area.
    let mut best = ([1.0, 0.0], f64::INFINITY);
    for k in 0..hull.len() {
        let p = hull[k];
        let q = hull[(k + 1) % hull.len()];
        let d = [q[0] - p[0], q[1] - p[1]];
        let l = (d[0] * d[0] + d[1] * d[1]).sqrt();
        if l == 0.0 {
            continue;
        }
        let d = [d[0] / l, d[1] / l];
        let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
        for h in &hull {
            let a = h[0] * d[0] + h[1] * d[1];
            let b = -h[0] * d[1] + h[1] * d[0];
            lo = [lo[0].min(a), lo[1].min(b)];
            hi = [hi[0].max(a), hi[1].max(b)];
        }
        let area = (hi[0] - lo[0]) * (hi[1] - lo[1]);
        if area < best.1 {
            best = (d, area);
        }
    }
    let d = best.0;
    // Rotation by -angle(d) keeps orientation (a proper rotation).
    let rot = |p: [f64; 2]| [p[0] * d[0] + p[1] * d[1], -p[0] * d[1] + p[1] * d[0]];
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for c in corners.iter_mut() {
        for p in c.iter_mut() {
            *p = rot(*p);
            lo = [lo[0].min(p[0]), lo[1].min(p[1])];
            hi = [hi[0].max(p[0]), hi[1].max(p[1])];
        }
    }
    let mut size = [hi[0] - lo[0], hi[1] - lo[1]];
    let landscape = size[0] >= size[1];
    for c in corners.iter_mut() {
        for p in c.iter_mut() {
            let q = [p[0] - lo[0], p[1] - lo[1]];
            // A quarter turn (x, y) -> (h - y, x) when portrait.
            *p = if landscape { q } else { [size[1] - q[1], q[0]] };
        }
    }
    if !landscape {
        size = [size[1], size[0]];
    }
    PackChart { corners, size }
}

/// Applies `turns` quarter turns to point `p` of a box of `size`, giving a point of the
/// turned box (whose size is swapped for odd turns).
#[inline]
pub(crate) fn turn(p: [f64; 2], size: [f64; 2], turns: u8) -> [f64; 2] {
    match turns % 4 {
        0 => p,
        1 => [size[1] - p[1], p[0]],
        2 => [size[0] - p[0], size[1] - p[1]],
        _ => [p[1], size[0] - p[0]],
    }
}

/// Where `pack_at` put a chart: quarter turns, cell column and row of its turned
/// box's corner, and its unturned box size in cells.
type Placed = (u8, usize, usize, [usize; 2]);

/// A chart's box size in cells and its footprint for each usable quarter turn.
type Turned = ([usize; 2], Vec<(u8, Footprint)>);

/// A chart's footprint on the cell grid at one scale and quarter turn: the occupied
/// cells (dilated by the margin) as horizontal spans `(row, start, end)`.
struct Footprint {
    width: usize,
    height: usize,
    spans: Vec<(u32, u32, u32)>,
    /// The spans, longest first (the order they are tested in).
    by_length: Vec<(u32, u32, u32)>,
    /// A solid block inside the footprint: column, row, width, height. Where the
    /// footprint fits, this block of free cells exists, which bounds the search.
    core: [usize; 4],
}

/// A solid block of `spans` (sorted by row, one footprint of `height` rows): the
/// common part of the longest spans of the middle rows, shrinking the band of rows
/// towards the middle until that part is not empty.
fn core_block(spans: &[(u32, u32, u32)], height: usize) -> [usize; 4] {
    let mut longest = vec![(0u32, 0u32); height];
    for &(r, a, b) in spans {
        let l = &mut longest[r as usize];
        if b - a > l.1 - l.0 {
            *l = (a, b);
        }
    }
    let mid = height / 2;
    let mut half = height / 4;
    loop {
        let (r0, r1) = (mid.saturating_sub(half), (mid + half + 1).min(height));
        let (mut a, mut b) = (0u32, u32::MAX);
        for &(sa, sb) in &longest[r0..r1] {
            a = a.max(sa);
            b = b.min(sb);
        }
        if a < b {
            return [a as usize, r0, (b - a) as usize, r1 - r0];
        }
        if half == 0 {
            break;
        }
        half /= 2;
    }
    // The middle row is empty (possible without dilation): any one cell.
    spans
        .first()
        .map_or([0, 0, 1, 1], |&(r, a, _)| [a as usize, r as usize, 1, 1])
}

/// Marks every cell of a `w`×`h` grid that triangle `p` (cell units) touches.
fn mark_triangle(p: [[f64; 2]; 3], w: usize, h: usize, cells: &mut [bool]) {
    let ymin = p.iter().map(|q| q[1]).fold(f64::INFINITY, f64::min);
    let ymax = p.iter().map(|q| q[1]).fold(f64::NEG_INFINITY, f64::max);
    let r0 = (ymin.max(0.0) as usize).min(h - 1);
    let r1 = (ymax.max(0.0) as usize).min(h - 1);
    let xmin = p.iter().map(|q| q[0]).fold(f64::INFINITY, f64::min);
    let xmax = p.iter().map(|q| q[0]).fold(f64::NEG_INFINITY, f64::max);
    let c0 = (xmin.max(0.0) as usize).min(w - 1);
    let c1 = (xmax.max(0.0) as usize).min(w - 1);
    if r1 - r0 <= 1 && c1 - c0 <= 1 {
        // Small triangles (the usual case): their bounding box is at most 2x2 cells.
        for row in r0..=r1 {
            cells[row * w + c0..=row * w + c1].fill(true);
        }
        return;
    }
    for row in r0..=r1 {
        let (y0, y1) = (row as f64, row as f64 + 1.0);
        let mut xmin = f64::INFINITY;
        let mut xmax = f64::NEG_INFINITY;
        for e in 0..3 {
            let (a, b) = (p[e], p[(e + 1) % 3]);
            if a[1] >= y0 && a[1] <= y1 {
                xmin = xmin.min(a[0]);
                xmax = xmax.max(a[0]);
            }
            for ys in [y0, y1] {
                if (a[1] - ys) * (b[1] - ys) < 0.0 {
                    let x = a[0] + (b[0] - a[0]) * (ys - a[1]) / (b[1] - a[1]);
                    xmin = xmin.min(x);
                    xmax = xmax.max(x);
                }
            }
        }
        if xmin <= xmax {
            let c0 = (xmin.max(0.0) as usize).min(w - 1);
            let c1 = (xmax.max(0.0) as usize).min(w - 1);
            cells[row * w + c0..=row * w + c1].fill(true);
        }
    }
}

/// The chart's cell mask at `k` cells per world unit, dilated by `margin` cells (and
/// shifted by it), unturned. Its box is `[0, w] x [0, h]` cells.
fn chart_mask(chart: &PackChart, k: f64, margin: usize) -> (usize, usize, Vec<bool>) {
    let w = ((chart.size[0] * k).ceil() as usize).max(1) + 2 * margin;
    let h = ((chart.size[1] * k).ceil() as usize).max(1) + 2 * margin;
    let mut cells = vec![false; w * h];
    let m = margin as f64;
    for c in &chart.corners {
        mark_triangle(c.map(|q| [q[0] * k + m, q[1] * k + m]), w, h, &mut cells);
    }
    if margin > 0 {
        // Square dilation, separable: rows, then columns.
        let mut tmp = vec![false; w * h];
        for y in 0..h {
            let row = &cells[y * w..(y + 1) * w];
            for x in 0..w {
                let lo = x.saturating_sub(margin);
                let hi = (x + margin).min(w - 1);
                tmp[y * w + x] = row[lo..=hi].iter().any(|&b| b);
            }
        }
        for y in 0..h {
            let lo = y.saturating_sub(margin);
            let hi = (y + margin).min(h - 1);
            for x in 0..w {
                cells[y * w + x] = (lo..=hi).any(|yy| tmp[yy * w + x]);
            }
        }
    }
    (w, h, cells)
}

/// Turns a `w`×`h` mask by `turns` quarter turns (as [`turn`] turns points) and lists
/// its spans.
fn footprint(w: usize, h: usize, cells: &[bool], turns: u8) -> Footprint {
    let (tw, th) = if turns % 2 == 1 { (h, w) } else { (w, h) };
    // Cell (tx, ty) of the turned grid comes from cell (i, j) of the original.
    let mut turned = vec![false; w * h];
    for j in 0..h {
        for i in 0..w {
            let (tx, ty) = match turns % 4 {
                0 => (i, j),
                1 => (h - 1 - j, i),
                2 => (w - 1 - i, h - 1 - j),
                _ => (j, w - 1 - i),
            };
            turned[ty * tw + tx] = cells[j * w + i];
        }
    }
    let mut spans = Vec::new();
    for (ty, row) in turned.chunks_exact(tw).enumerate() {
        let mut x = 0;
        while x < tw {
            if !row[x] {
                x += 1;
                continue;
            }
            let start = x;
            while x < tw && row[x] {
                x += 1;
            }
            spans.push((ty as u32, start as u32, x as u32));
        }
    }
    let mut by_length = spans.clone();
    by_length.sort_by_key(|s| std::cmp::Reverse(s.2 - s.1));
    let core = core_block(&spans, th);
    Footprint {
        core,
        width: tw,
        height: th,
        spans,
        by_length,
    }
}

/// The atlas's occupancy on the cell grid as bit rows (bit set = free), with, for each
/// row, its erosions by runs of 2^k cells (bit `x` of level `k` is set when cells
/// `x..x + 2^k` are all free). A span of any length `L` then fits at `x` when bit `x` of
/// level `k` (2^k ≤ L) and bit `x + L - 2^k` are set, so one footprint is tested at
/// every column of a row at once, 64 columns per word.
struct Occupancy {
    /// Columns.
    size: usize,
    /// Words per bit row.
    words: usize,
    /// Erosion levels per row.
    levels: usize,
    /// `bits[(row * levels + k) * words + i]`.
    bits: Vec<u64>,
    /// Longest free run of each row.
    max_run: Vec<u32>,
    /// For a block size `(width, height)`: no free block of that size has its top row
    /// above this one (occupancy only grows, so this only moves down).
    block_row: std::collections::HashMap<(usize, usize), usize>,
}

/// `out[i] &= (src >> shift)[i]`, for multiword bit rows (bit `x` of the shifted row is
/// bit `x + shift` of `src`), over words `lo..hi`.
#[inline]
fn and_shifted(out: &mut [u64], src: &[u64], shift: usize, lo: usize, hi: usize) {
    let (ws, bs) = (shift / 64, (shift % 64) as u32);
    for (i, o) in out.iter_mut().enumerate().take(hi).skip(lo) {
        let a = src.get(i + ws).copied().unwrap_or(0);
        let v = if bs == 0 {
            a
        } else {
            let b = src.get(i + ws + 1).copied().unwrap_or(0);
            (a >> bs) | (b << (64 - bs))
        };
        *o &= v;
    }
}

impl Occupancy {
    /// An empty strip of `size` columns and `rows` rows.
    fn new(size: usize, rows: usize) -> Self {
        let words = size.div_ceil(64);
        let levels = (usize::BITS - size.leading_zeros()) as usize;
        let mut occ = Self {
            size,
            words,
            levels,
            bits: vec![0; rows * levels * words],
            max_run: vec![size as u32; rows],
            block_row: std::collections::HashMap::new(),
        };
        let mut free = vec![0u64; words];
        for (i, w) in free.iter_mut().enumerate() {
            let lo = i * 64;
            let count = size.saturating_sub(lo).min(64);
            *w = if count == 64 {
                u64::MAX
            } else {
                (1u64 << count) - 1
            };
        }
        for y in 0..rows {
            occ.row_level_mut(y, 0).copy_from_slice(&free);
            occ.refresh_row(y);
        }
        occ
    }

    #[inline]
    fn row_level(&self, y: usize, k: usize) -> &[u64] {
        let o = (y * self.levels + k) * self.words;
        &self.bits[o..o + self.words]
    }

    #[inline]
    fn row_level_mut(&mut self, y: usize, k: usize) -> &mut [u64] {
        let o = (y * self.levels + k) * self.words;
        &mut self.bits[o..o + self.words]
    }

    /// Recomputes row `y`'s erosion levels and longest run from its level 0.
    fn refresh_row(&mut self, y: usize) {
        let (words, levels) = (self.words, self.levels);
        let row = &mut self.bits[y * levels * words..(y + 1) * levels * words];
        for k in 1..levels {
            let (prev, next) = row[(k - 1) * words..(k + 1) * words].split_at_mut(words);
            next.copy_from_slice(prev);
            and_shifted(next, prev, 1 << (k - 1), 0, words);
        }
        // Longest run: walk the runs of level 0.
        let free = &row[..words];
        let mut best = 0u32;
        let mut run = 0u32;
        for &w in free {
            if w == u64::MAX {
                run += 64;
                continue;
            }
            let mut w = w;
            let mut left = 64u32;
            while left > 0 {
                if w & 1 == 1 {
                    let ones = w.trailing_ones().min(left);
                    run += ones;
                    w = w.checked_shr(ones).unwrap_or(0);
                    left -= ones;
                } else {
                    best = best.max(run);
                    run = 0;
                    let zeros = w.trailing_zeros().min(left);
                    w = w.checked_shr(zeros).unwrap_or(0);
                    left -= zeros;
                }
            }
        }
        self.max_run[y] = best.max(run);
    }

    /// First column at which `fp` fits with its top row at `y`, if any; `scratch`
    /// holds one bit row.
    fn fit_in_row(&self, fp: &Footprint, y: usize, scratch: &mut [u64]) -> Option<usize> {
        // Quick reject: every span needs a long enough free run in its row.
        if fp
            .by_length
            .iter()
            .take(4)
            .any(|&(r, a, b)| self.max_run[y + r as usize] < b - a)
        {
            return None;
        }
        scratch.fill(u64::MAX);
        let (mut lo, mut hi) = (0, self.words);
        for &(r, a, b) in &fp.by_length {
            let len = (b - a) as usize;
            let k = (usize::BITS - 1 - len.leading_zeros()) as usize;
            let level = self.row_level(y + r as usize, k);
            and_shifted(scratch, level, a as usize, lo, hi);
            and_shifted(scratch, level, a as usize + len - (1 << k), lo, hi);
            while lo < hi && scratch[lo] == 0 {
                lo += 1;
            }
            while hi > lo && scratch[hi - 1] == 0 {
                hi -= 1;
            }
            if lo == hi {
                return None;
            }
        }
        let x = lo * 64 + scratch[lo].trailing_zeros() as usize;
        (x + fp.width <= self.size).then_some(x)
    }

    /// The first row at or below which a free `w`×`h` block may start (`rows` when
    /// there is none); `scratch` holds one bit row.
    fn first_block_row(&mut self, w: usize, h: usize, scratch: &mut [u64]) -> usize {
        let rows = self.max_run.len();
        let start = self.block_row.get(&(w, h)).copied().unwrap_or(0);
        let k = (usize::BITS - 1 - w.leading_zeros()) as usize;
        let mut y = start;
        while y + h <= rows {
            if (y..y + h).all(|r| self.max_run[r] as usize >= w) {
                scratch.fill(u64::MAX);
                let mut any = true;
                for r in y..y + h {
                    let level = self.row_level(r, k);
                    and_shifted(scratch, level, 0, 0, self.words);
                    and_shifted(scratch, level, w - (1 << k), 0, self.words);
                    if scratch.iter().all(|&b| b == 0) {
                        any = false;
                        break;
                    }
                }
                if any {
                    break;
                }
            }
            y += 1;
        }
        let y = y.min(rows);
        self.block_row.insert((w, h), y);
        y
    }

    fn place(&mut self, fp: &Footprint, x: usize, y: usize) {
        for &(r, a, b) in &fp.spans {
            let row = self.row_level_mut(y + r as usize, 0);
            for c in x + a as usize..x + b as usize {
                row[c / 64] &= !(1u64 << (c % 64));
            }
        }
        for r in 0..fp.height {
            self.refresh_row(y + r);
        }
    }
}

/// Packs `charts` at `k` cells per world unit into a strip `n` cells wide and `2n`
/// tall, largest first, each at the position (over four quarter turns) that reaches
/// least far down, where it overlaps nothing. Returns the placements and the rows used
/// (the charts fit the `n`×`n` square when that is at most `n`: lowest-first placement
/// never looks past the first row that fits), or `None` when a chart finds no room.
fn pack_at(
    charts: &[PackChart],
    order: &[usize],
    k: f64,
    margin: usize,
    n: usize,
) -> Option<(Vec<Placed>, usize)> {
    // Masks and their four turns, in parallel; placement is sequential.
    #[cfg(feature = "rayon")]
    use rayon::prelude::*;
    #[cfg(feature = "rayon")]
    let iter = order.par_iter();
    #[cfg(not(feature = "rayon"))]
    let iter = order.iter();
    let prepared: Vec<Turned> = iter
        .map(|&ci| {
            let (w, h, cells) = chart_mask(&charts[ci], k, margin);
            let turns: Vec<(u8, Footprint)> = if w.max(h) > n {
                Vec::new()
            } else {
                (0..4u8)
                    .filter(|t| w != h || t % 2 == 0)
                    .map(|t| (t, footprint(w, h, &cells, t)))
                    .filter(|(_, fp)| !fp.spans.is_empty())
                    .collect()
            };
            ([w, h], turns)
        })
        .collect();

    let rows = 2 * n;
    let mut occ = Occupancy::new(n, rows);
    let mut scratch = vec![0u64; occ.words];
    let mut out = vec![(0u8, 0usize, 0usize, [0usize; 2]); charts.len()];
    let mut used = 0;
    for (&ci, (wh, turns)) in order.iter().zip(&prepared) {
        // (y, x, index into turns)
        let mut best: Option<(usize, usize, usize)> = None;
        for (ti, (_, fp)) in turns.iter().enumerate() {
            let reach_best = best.map(|b| b.0 + turns[b.2].1.height);
            if reach_best.is_some_and(|r| r <= fp.height) {
                continue;
            }
            let limit = match reach_best {
                // Only rows that could beat the best reach so far.
                Some(r) => (r - fp.height - 1).min(rows - fp.height),
                None => rows - fp.height,
            };
            let [_, oy, cw, ch] = fp.core;
            let first = occ.first_block_row(cw, ch, &mut scratch).saturating_sub(oy);
            for y in first..=limit {
                if let Some(x) = occ.fit_in_row(fp, y, &mut scratch) {
                    best = Some((y, x, ti));
                    break;
                }
            }
        }
        let (y, x, ti) = best?;
        let (t, fp) = &turns[ti];
        occ.place(fp, x, y);
        used = used.max(y + fp.height);
        out[ci] = (*t, x, y, *wh);
    }
    Some((out, used))
}

/// Finds the largest scale (texels per world unit, within about 1%) at which the charts
/// fit a `size`-texel square with `padding` texels between them.
pub(crate) fn pack(charts: &[PackChart], size: u32, padding: u32) -> Option<Packing> {
    let size_f = f64::from(size);
    // Cells of 1 texel up to 512 px textures, coarser above: packing cost stays bounded.
    let mut cell = (size_f / 512.0).max(1.0);
    // Many small charts (a mean chart under `SMALL_CHART_CELLS` cells at three quarters
    // fill): rounding each chart's mask out to whole cells costs them much of their
    // area, so the cells halve (down to one texel); packing takes about four times longer.
    if cell > 1.0 && 0.75 * (size_f / cell).powi(2) < SMALL_CHART_CELLS * charts.len() as f64 {
        cell = (cell / 2.0).max(1.0);
    }
    let n = (size_f / cell).floor() as usize;
    // Half the padding around every chart (so `padding` between two), and half a
    // padding from the texture border.
    let margin = ((f64::from(padding) / 2.0) / cell).ceil() as usize;
    let total_area: f64 = charts
        .iter()
        .flat_map(|c| &c.corners)
        .map(|t| 0.5 * super::geometry::area2(*t).abs())
        .sum();
    if total_area <= 0.0 || !total_area.is_finite() || charts.is_empty() {
        return None;
    }
    let mut order: Vec<usize> = (0..charts.len()).collect();
    order.sort_by(|&a, &b| {
        let ka = charts[a].size[0] * charts[a].size[1];
        let kb = charts[b].size[0] * charts[b].size[1];
        kb.total_cmp(&ka).then(a.cmp(&b))
    });
    // Start from the scale that would give 75% utilisation. Each packing into the
    // strip tells how many rows the charts need at that scale; the area they cover
    // grows with the square of the scale, so the next guess is the scale times
    // sqrt(n / rows), kept inside the bracket of the largest fitting and the smallest
    // failing scale (bisection where the guess falls outside it).
    let mut scale = (0.75 * size_f * size_f / total_area).sqrt();
    let mut best: Option<(f64, Vec<Placed>)> = None;
    let mut failed = f64::INFINITY;
    let nf = n as f64;
    for _ in 0..40 {
        let attempt = pack_at(charts, &order, scale / cell, margin, n);
        let rows = attempt.as_ref().map(|a| a.1);
        let fits = rows.is_some_and(|r| r <= n);
        tracing::trace!(scale, ?rows, "packing attempt");
        // Scale the rows allow (a chart without room at all: shrink a good deal).
        let ratio = rows.map_or(0.7, |r| (nf / r.max(1) as f64).sqrt());
        if let Some((placed, _)) = attempt.filter(|_| fits) {
            best = Some((scale, placed));
        } else {
            failed = failed.min(scale);
        }
        let lo = best.as_ref().map_or(0.0, |b| b.0);
        if failed / lo < 1.01 || (fits && ratio < 1.005) {
            break;
        }
        // More charts than the square can hold at any scale: the caller reports it.
        if best.is_none() && scale * total_area.sqrt() < 1e-3 {
            break;
        }
        // Aim a little under the prediction after a failure, a little over after a fit
        // (packing is not exactly proportional).
        let mut next = scale * ratio * if fits { 1.002 } else { 0.995 };
        if !(next > lo * 1.003 && next < failed * 0.997) {
            next = if failed.is_finite() && lo > 0.0 {
                0.5 * (lo + failed)
            } else if fits {
                scale * 1.05
            } else {
                scale * 0.9
            };
        }
        scale = next;
    }
    if let Some(b) = &best {
        let bbox: f64 = charts.iter().map(|c| c.size[0] * c.size[1]).sum();
        tracing::debug!(
            charts = charts.len(),
            area_over_bbox = total_area / bbox,
            packed_bbox_fraction = bbox * b.0 * b.0 / (size_f * size_f),
            "packed"
        );
    }
    let (scale, placed) = best?;
    let k = scale / cell;
    let m = margin as f64;
    Some(Packing {
        scale,
        placements: placed
            .into_iter()
            .map(|(turns, x, y, [w, h])| Placement {
                turns,
                k,
                margin: m,
                box_cells: [w as f64, h as f64],
                cell,
                origin: [x as f64, y as f64],
            })
            .collect(),
    })
}

impl Placement {
    /// Texel coordinates of chart point `p` (world units, in the chart's box).
    pub(crate) fn texel(&self, p: [f64; 2]) -> [f64; 2] {
        let c = [p[0] * self.k + self.margin, p[1] * self.k + self.margin];
        let t = turn(c, self.box_cells, self.turns);
        [
            (t[0] + self.origin[0]) * self.cell,
            (t[1] + self.origin[1]) * self.cell,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hull_of_a_square_with_inner_points() {
        let h = convex_hull(vec![
            [0.0, 0.0],
            [1.0, 0.0],
            [0.5, 0.5],
            [1.0, 1.0],
            [0.0, 1.0],
            [0.2, 0.7],
        ]);
        assert_eq!(h.len(), 4);
        assert_eq!(h[0], [0.0, 0.0]);
    }

    #[test]
    fn orient_turns_a_tilted_rectangle_axis_aligned() {
        // A 4x1 rectangle rotated by 30 degrees, as two triangles.
        let (s, c) = (0.5f64, 3f64.sqrt() / 2.0);
        let r = |x: f64, y: f64| [c * x - s * y + 3.0, s * x + c * y - 2.0];
        let corners = vec![
            [r(0.0, 0.0), r(4.0, 0.0), r(4.0, 1.0)],
            [r(0.0, 0.0), r(4.0, 1.0), r(0.0, 1.0)],
        ];
        let pc = orient_chart(corners);
        assert!(
            (pc.size[0] - 4.0).abs() < 1e-9 && (pc.size[1] - 1.0).abs() < 1e-9,
            "{:?}",
            pc.size
        );
        for t in &pc.corners {
            assert!(super::super::geometry::area2(*t) > 0.0);
        }
    }

    #[test]
    fn turns_keep_points_in_the_box() {
        let size = [3.0, 1.0];
        for turns in 0..4 {
            let t = turn([3.0, 1.0], size, turns);
            let ts = if turns % 2 == 1 { [1.0, 3.0] } else { size };
            assert!(t[0] >= 0.0 && t[0] <= ts[0] && t[1] >= 0.0 && t[1] <= ts[1]);
        }
    }

    #[test]
    fn packs_squares_densely() {
        // 16 unit squares must pack into a 4x4 grid: scale near size / 4 minus padding.
        let square = || PackChart {
            corners: vec![
                [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]],
                [[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]],
            ],
            size: [1.0, 1.0],
        };
        let charts: Vec<PackChart> = (0..16).map(|_| square()).collect();
        let p = pack(&charts, 256, 4).unwrap();
        assert!(p.scale > 55.0 && p.scale <= 64.0, "scale {}", p.scale);
        for pl in &p.placements {
            for corner in [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]] {
                let t = pl.texel(corner);
                assert!(t.iter().all(|&c| (2.0..=254.0).contains(&c)), "{t:?}");
            }
        }
    }
}
