//! Packing flattened charts into the texture square.
//!
//! Each chart is first turned so that its minimum-area bounding rectangle is axis
//! aligned (rotating calipers over its convex hull). Packing then works on a grid of
//! cells (one texel up to 512² textures, coarser above): every chart is rasterised
//! conservatively into a cell mask, dilated by half the padding, and placed — largest
//! first, trying four quarter turns — at the lowest position where its mask overlaps
//! nothing, so small charts fill the holes that larger ones leave (the raster packing
//! that xatlas also uses). Free-run lengths per cell make each test one lookup per mask
//! span. The scale (texels per meter) is searched so that everything just fits.

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
    Footprint {
        width: tw,
        height: th,
        spans,
    }
}

/// The atlas's occupancy on the cell grid, with the length of the free run that starts
/// at each cell (so a span test is one lookup).
struct Occupancy {
    size: usize,
    free_run: Vec<u32>,
    max_run: Vec<u32>,
}

impl Occupancy {
    fn new(size: usize) -> Self {
        let mut free_run = vec![0u32; size * size];
        for y in 0..size {
            for x in 0..size {
                free_run[y * size + x] = (size - x) as u32;
            }
        }
        Self {
            size,
            free_run,
            max_run: vec![size as u32; size],
        }
    }

    /// First column at which `fp` fits with its top row at `y`, if any.
    fn fit_in_row(&self, fp: &Footprint, y: usize) -> Option<usize> {
        let n = self.size;
        let first = fp.spans.first()?;
        let widest = fp.spans.iter().map(|s| s.2 - s.1).max().unwrap_or(0);
        // Quick reject: some row must hold the widest span.
        if self.max_run[y + first.0 as usize] < first.2 - first.1
            || fp
                .spans
                .iter()
                .find(|s| s.2 - s.1 == widest)
                .is_some_and(|s| self.max_run[y + s.0 as usize] < widest)
        {
            return None;
        }
        // Every span needs a long enough free run somewhere in its row.
        if fp
            .spans
            .iter()
            .any(|&(r, a, b)| self.max_run[y + r as usize] < b - a)
        {
            return None;
        }
        let mut x = 0usize;
        'scan: while x + fp.width <= n {
            for &(r, a, b) in &fp.spans {
                let c = x + a as usize;
                let run = self.free_run[(y + r as usize) * n + c] as usize;
                if run < (b - a) as usize {
                    // Blocked at column c + run: the span must start past it.
                    x = c + run + 1 - a as usize;
                    continue 'scan;
                }
            }
            return Some(x);
        }
        None
    }

    fn place(&mut self, fp: &Footprint, x: usize, y: usize) {
        let n = self.size;
        let mut last_row = usize::MAX;
        for &(r, a, b) in &fp.spans {
            let row = y + r as usize;
            let base = row * n;
            for c in x + a as usize..x + b as usize {
                self.free_run[base + c] = 0;
            }
            if row != last_row {
                last_row = row;
            }
        }
        // Recompute runs of the touched rows right to left.
        for r in 0..fp.height {
            let base = (y + r) * n;
            let mut run = 0u32;
            let mut best = 0u32;
            for c in (0..n).rev() {
                run = if self.free_run[base + c] == 0 {
                    0
                } else {
                    run + 1
                };
                self.free_run[base + c] = run;
                best = best.max(run);
            }
            self.max_run[y + r] = best;
        }
    }
}

/// Packs `charts` at `k` cells per world unit into the `n`×`n` cell square, largest
/// first, each at the lowest position (over four quarter turns) where it overlaps
/// nothing. `None` when a chart finds no room.
fn pack_at(
    charts: &[PackChart],
    order: &[usize],
    k: f64,
    margin: usize,
    n: usize,
) -> Option<Vec<Placed>> {
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

    let mut occ = Occupancy::new(n);
    let mut out = vec![(0u8, 0usize, 0usize, [0usize; 2]); charts.len()];
    for (&ci, (wh, turns)) in order.iter().zip(&prepared) {
        // (y, x, index into turns)
        let mut best: Option<(usize, usize, usize)> = None;
        for (ti, (_, fp)) in turns.iter().enumerate() {
            let reach_best = best.map(|b| b.0 + turns[b.2].1.height);
            let limit = match reach_best {
                // Only rows that could beat the best reach so far.
                Some(r) => r.saturating_sub(fp.height + 1).min(n - fp.height),
                None => n - fp.height,
            };
            if reach_best.is_some_and(|r| r <= fp.height) {
                continue;
            }
            for y in 0..=limit {
                if let Some(x) = occ.fit_in_row(fp, y) {
                    best = Some((y, x, ti));
                    break;
                }
            }
        }
        let (y, x, ti) = best?;
        let (t, fp) = &turns[ti];
        occ.place(fp, x, y);
        out[ci] = (*t, x, y, *wh);
    }
    Some(out)
}

/// Finds the largest scale (texels per world unit, within about 1%) at which the charts
/// fit a `size`-texel square with `padding` texels between them.
pub(crate) fn pack(charts: &[PackChart], size: u32, padding: u32) -> Option<Packing> {
    let size_f = f64::from(size);
    // Cells of 1 texel up to 512 px textures, coarser above: packing cost stays bounded.
    let cell = (size_f / 512.0).max(1.0);
    let n = (size_f / cell).floor() as usize;
    // Half the padding around every chart (so `padding` between two), and half a
    // padding from the texture border.
    let margin = ((f64::from(padding) / 2.0) / cell).ceil() as usize;
    let total_area: f64 = charts
        .iter()
        .flat_map(|c| &c.corners)
        .map(|t| 0.5 * super::charts::area2(*t).abs())
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
    // Start from the scale that would give 75% utilisation; grow while it fits, then
    // bisect between the largest fitting and the smallest failing scale.
    let mut scale = (0.75 * size_f * size_f / total_area).sqrt();
    let mut best: Option<(f64, Vec<Placed>)> = None;
    let mut failed = f64::INFINITY;
    for _ in 0..60 {
        let next = match pack_at(charts, &order, scale / cell, margin, n) {
            Some(placed) => {
                best = Some((scale, placed));
                if failed.is_finite() {
                    0.5 * (scale + failed)
                } else {
                    scale * 1.1
                }
            }
            None => {
                failed = scale;
                match &best {
                    Some(b) => 0.5 * (b.0 + scale),
                    None => scale * 0.85,
                }
            }
        };
        if let Some(b) = &best
            && failed / b.0 < 1.01
        {
            break;
        }
        // More charts than the square can hold at any scale: the caller reports it.
        if best.is_none() && scale * total_area.sqrt() < 1e-3 {
            break;
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
            assert!(super::super::charts::area2(*t) > 0.0);
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
