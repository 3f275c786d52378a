//! 2-D mask operations for the foreground and inflation stages on [`Raster`] grids: exact
//! Euclidean distance transforms (with the nearest site), morphology by distance,
//! connected components and hole filling; [`resample`] is the [`Raster`] face of the
//! one resampler, `img23d_models::resample`.
//!
//! The distance transform is Felzenszwalb & Huttenlocher's lower envelope of parabolas
//! ("Distance Transforms of Sampled Functions", Theory of Computing 8, 2012): two 1-D
//! passes, linear in the pixel count, exact for any sampled function `f`, so the same code
//! gives plain distance maps (`f = 0` on sites) and the union-of-balls height of
//! [`crate::inflate`] (`f = -r²`). Rows and columns run in parallel with rayon.

use img23d_models::resample::resample_window;
pub use img23d_models::resample::{Outside, Window};
use rayon::prelude::*;

/// A row-major 2-D array of `T`, `width * height` long.
#[derive(Debug, Clone, PartialEq)]
pub struct Raster<T> {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Values, row-major (x fastest).
    pub data: Vec<T>,
}

impl<T: Clone> Raster<T> {
    /// A raster filled with `value`.
    pub fn filled(width: usize, height: usize, value: T) -> Self {
        Self {
            width,
            height,
            data: vec![value; width * height],
        }
    }
}

impl<T> Raster<T> {
    /// Linear index of `(x, y)`.
    #[inline]
    pub fn index(&self, x: usize, y: usize) -> usize {
        y * self.width + x
    }

    /// Whether `(x, y)` lies on the outermost ring of pixels.
    #[inline]
    pub fn on_border(&self, x: usize, y: usize) -> bool {
        x == 0 || y == 0 || x + 1 == self.width || y + 1 == self.height
    }
}

/// Result of [`distance_transform`]: for each pixel `p`, `value[p] = min_q |p - q|² + f(q)`
/// and `nearest[p]` the minimising `q` (linear index), or `u32::MAX` when `f` has no
/// finite sample.
#[derive(Debug, Clone)]
pub struct DistanceMap {
    /// The minimum, per pixel.
    pub value: Raster<f32>,
    /// The pixel attaining it.
    pub nearest: Raster<u32>,
}

/// Generalised squared Euclidean distance transform of the sampled function `f`
/// (`f32::INFINITY` where there is no site): `min_q |p - q|² + f(q)` with the arg-min.
pub fn distance_transform(f: &Raster<f32>) -> DistanceMap {
    let (w, h) = (f.width, f.height);
    if w == 0 || h == 0 {
        return DistanceMap {
            value: Raster::filled(w, h, f32::INFINITY),
            nearest: Raster::filled(w, h, u32::MAX),
        };
    }
    // Pass 1: along rows. `row_val[y][x]`, `row_arg[y][x]` = best x' in row y.
    let mut row_val = vec![0f64; w * h];
    let mut row_arg = vec![u32::MAX; w * h];
    row_val
        .par_chunks_mut(w)
        .zip(row_arg.par_chunks_mut(w))
        .zip(f.data.par_chunks(w))
        .for_each_init(
            || Envelope::new(w),
            |env, ((val, arg), src)| {
                env.run(src.iter().map(|&v| f64::from(v)), val, arg);
            },
        );
    // Pass 2: along columns, in parallel over blocks of columns (gathered so each
    // column is contiguous).
    const BLOCK: usize = 16;
    let mut columns: Vec<(Vec<f32>, Vec<u32>)> = (0..w.div_ceil(BLOCK))
        .into_par_iter()
        .map_init(
            || {
                (
                    Envelope::new(h),
                    vec![0f64; h],
                    vec![0f64; h],
                    vec![0u32; h],
                )
            },
            |(env, col_in, col_out, col_arg), block| {
                let x0 = block * BLOCK;
                let x1 = (x0 + BLOCK).min(w);
                let mut vals = Vec::with_capacity((x1 - x0) * h);
                let mut args = Vec::with_capacity((x1 - x0) * h);
                for x in x0..x1 {
                    for (y, c) in col_in.iter_mut().enumerate() {
                        *c = row_val[y * w + x];
                    }
                    env.run(col_in.iter().copied(), col_out, col_arg);
                    for y in 0..h {
                        vals.push(col_out[y] as f32);
                        let yy = col_arg[y];
                        args.push(if yy == u32::MAX {
                            u32::MAX
                        } else {
                            let xx = row_arg[yy as usize * w + x];
                            yy * w as u32 + xx
                        });
                    }
                }
                (vals, args)
            },
        )
        .collect();
    let mut value = Raster::filled(w, h, f32::INFINITY);
    let mut nearest = Raster::filled(w, h, u32::MAX);
    for (block, (vals, args)) in columns.iter_mut().enumerate() {
        let x0 = block * BLOCK;
        let n = vals.len() / h;
        for dx in 0..n {
            for y in 0..h {
                value.data[y * w + x0 + dx] = vals[dx * h + y];
                nearest.data[y * w + x0 + dx] = args[dx * h + y];
            }
        }
    }
    DistanceMap { value, nearest }
}

/// Scratch for the 1-D lower envelope of parabolas.
struct Envelope {
    v: Vec<usize>,
    z: Vec<f64>,
    fv: Vec<f64>,
}

impl Envelope {
    fn new(n: usize) -> Self {
        Self {
            v: vec![0; n],
            z: vec![0.0; n + 1],
            fv: vec![0.0; n],
        }
    }

    /// `out[q] = min_p (q - p)² + f(p)`, `arg[q]` the minimising `p` (u32::MAX if none).
    fn run(&mut self, f: impl Iterator<Item = f64>, out: &mut [f64], arg: &mut [u32]) {
        let n = out.len();
        for (dst, v) in self.fv.iter_mut().zip(f) {
            *dst = v;
        }
        let fv = &self.fv;
        let (v, z) = (&mut self.v, &mut self.z);
        let mut k: usize = 0;
        let mut any = false;
        for q in 0..n {
            let fq = fv[q];
            if !fq.is_finite() {
                continue;
            }
            if !any {
                any = true;
                v[0] = q;
                z[0] = f64::NEG_INFINITY;
                z[1] = f64::INFINITY;
                continue;
            }
            let qf = q as f64;
            loop {
                let p = v[k];
                let pf = p as f64;
                let s = ((fq + qf * qf) - (fv[p] + pf * pf)) / (2.0 * (qf - pf));
                if s <= z[k] && k > 0 {
                    k -= 1;
                    continue;
                }
                if s <= z[k] {
                    // k == 0 and z[0] = -inf: cannot happen, but keep the envelope valid.
                    v[0] = q;
                    z[1] = f64::INFINITY;
                    break;
                }
                k += 1;
                v[k] = q;
                z[k] = s;
                z[k + 1] = f64::INFINITY;
                break;
            }
        }
        if !any {
            out.fill(f64::INFINITY);
            arg.fill(u32::MAX);
            return;
        }
        let mut k = 0;
        for q in 0..n {
            let qf = q as f64;
            while z[k + 1] < qf {
                k += 1;
            }
            let p = v[k];
            let d = qf - p as f64;
            out[q] = d * d + fv[p];
            arg[q] = p as u32;
        }
    }
}

/// Squared distance from every pixel to the nearest `true` pixel of `sites` (0 on sites),
/// with the nearest site.
pub fn distance_to(sites: &Raster<bool>) -> DistanceMap {
    let f = Raster {
        width: sites.width,
        height: sites.height,
        data: sites
            .data
            .iter()
            .map(|&s| if s { 0.0 } else { f32::INFINITY })
            .collect(),
    };
    distance_transform(&f)
}

/// Pixels within Euclidean distance `r` of a `true` pixel (dilation by a disc).
pub fn dilate(mask: &Raster<bool>, r: f32) -> Raster<bool> {
    let d = distance_to(mask);
    let r2 = r * r;
    Raster {
        width: mask.width,
        height: mask.height,
        data: d.value.data.iter().map(|&v| v <= r2).collect(),
    }
}

/// Pixels farther than `r` from every `false` pixel (erosion by a disc; outside the
/// raster counts as `false`).
pub fn erode(mask: &Raster<bool>, r: f32) -> Raster<bool> {
    // Pad by one ring of `false` so the raster's edge erodes too.
    let padded = pad(mask, 1, false);
    let inv = Raster {
        width: padded.width,
        height: padded.height,
        data: padded.data.iter().map(|&m| !m).collect(),
    };
    let grown = dilate(&inv, r);
    let mut out = Raster::filled(mask.width, mask.height, false);
    for y in 0..mask.height {
        for x in 0..mask.width {
            out.data[y * mask.width + x] = !grown.data[(y + 1) * padded.width + x + 1];
        }
    }
    out
}

/// Morphological opening (erode, then dilate) by a disc of radius `r`: removes specks
/// and bridges thinner than `2r`.
pub fn open(mask: &Raster<bool>, r: f32) -> Raster<bool> {
    dilate(&erode(mask, r), r)
}

/// Morphological closing (dilate, then erode) by a disc of radius `r`: fills notches and
/// gaps narrower than `2r`.
pub fn close(mask: &Raster<bool>, r: f32) -> Raster<bool> {
    // Pad so growth past the edge can come back.
    let pr = r.ceil() as usize + 1;
    let padded = pad(mask, pr, false);
    let closed = dilate(&padded, r);
    let closed = {
        let inv = Raster {
            width: closed.width,
            height: closed.height,
            data: closed.data.iter().map(|&m| !m).collect(),
        };
        let grown = dilate(&inv, r);
        Raster {
            width: closed.width,
            height: closed.height,
            data: grown.data.iter().map(|&g| !g).collect(),
        }
    };
    let mut out = Raster::filled(mask.width, mask.height, false);
    for y in 0..mask.height {
        for x in 0..mask.width {
            out.data[y * mask.width + x] = closed.data[(y + pr) * closed.width + x + pr];
        }
    }
    out
}

fn pad<T: Copy>(r: &Raster<T>, by: usize, value: T) -> Raster<T> {
    let (w, h) = (r.width + 2 * by, r.height + 2 * by);
    let mut out = Raster::filled(w, h, value);
    for y in 0..r.height {
        let src = &r.data[y * r.width..(y + 1) * r.width];
        out.data[(y + by) * w + by..(y + by) * w + by + r.width].copy_from_slice(src);
    }
    out
}

/// Connected components of the `true` pixels (8-connected), as a label per pixel
/// (`0` = not in the set, components numbered from 1) and the pixel count of each
/// (index 0 unused).
pub fn components(mask: &Raster<bool>, eight: bool) -> (Raster<u32>, Vec<usize>) {
    let (w, h) = (mask.width, mask.height);
    let mut labels = Raster::filled(w, h, 0u32);
    let mut sizes = vec![0usize];
    let mut stack: Vec<usize> = Vec::new();
    for start in 0..w * h {
        if !mask.data[start] || labels.data[start] != 0 {
            continue;
        }
        let label = sizes.len() as u32;
        let mut size = 0;
        labels.data[start] = label;
        stack.push(start);
        while let Some(i) = stack.pop() {
            size += 1;
            let (x, y) = ((i % w) as isize, (i / w) as isize);
            for (dx, dy) in NEIGHBOURS {
                if !eight && dx != 0 && dy != 0 {
                    continue;
                }
                let (nx, ny) = (x + dx, y + dy);
                if nx < 0 || ny < 0 || nx >= w as isize || ny >= h as isize {
                    continue;
                }
                let j = ny as usize * w + nx as usize;
                if mask.data[j] && labels.data[j] == 0 {
                    labels.data[j] = label;
                    stack.push(j);
                }
            }
        }
        sizes.push(size);
    }
    (labels, sizes)
}

const NEIGHBOURS: [(isize, isize); 8] = [
    (-1, -1),
    (0, -1),
    (1, -1),
    (-1, 0),
    (1, 0),
    (-1, 1),
    (0, 1),
    (1, 1),
];

/// Keeps only the pixels of the largest 8-connected component of `mask`.
pub fn largest_component(mask: &Raster<bool>) -> Raster<bool> {
    let (labels, sizes) = components(mask, true);
    let Some((best, _)) = sizes.iter().enumerate().skip(1).max_by_key(|(_, s)| **s) else {
        return mask.clone();
    };
    Raster {
        width: mask.width,
        height: mask.height,
        data: labels.data.iter().map(|&l| l == best as u32).collect(),
    }
}

/// Sets every `false` region that does not touch the raster's edge (a hole) to `true`.
pub fn fill_holes(mask: &Raster<bool>) -> Raster<bool> {
    let inv = Raster {
        width: mask.width,
        height: mask.height,
        data: mask.data.iter().map(|&m| !m).collect(),
    };
    // Background is 4-connected when the object is 8-connected.
    let (labels, sizes) = components(&inv, false);
    let mut touches = vec![false; sizes.len()];
    for y in 0..mask.height {
        for x in 0..mask.width {
            if mask.on_border(x, y) {
                touches[labels.data[y * mask.width + x] as usize] = true;
            }
        }
    }
    Raster {
        width: mask.width,
        height: mask.height,
        data: labels
            .data
            .iter()
            .map(|&l| l == 0 || !touches[l as usize])
            .collect(),
    }
}

/// Resamples `window` of `src` into a `out_w × out_h` raster with the triangle filter
/// ([`img23d_models::resample::resample_window`]: area-correct when shrinking, bilinear
/// when enlarging); C channels.
pub fn resample<const C: usize>(
    src: &Raster<[f32; C]>,
    window: Window,
    out_w: usize,
    out_h: usize,
    outside: Outside,
) -> Raster<[f32; C]> {
    resample_slice(
        &src.data, src.width, src.height, window, out_w, out_h, outside,
    )
}

/// [`resample`] from pixels in a slice (`width * height`, row-major) rather than a
/// [`Raster`], so a decoded buffer can be read without copying it.
pub fn resample_slice<const C: usize>(
    src: &[[f32; C]],
    width: usize,
    height: usize,
    window: Window,
    out_w: usize,
    out_h: usize,
    outside: Outside,
) -> Raster<[f32; C]> {
    Raster {
        width: out_w,
        height: out_h,
        data: resample_window(src, (width, height), window, (out_w, out_h), outside),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(f: &Raster<f32>) -> Vec<f32> {
        let (w, h) = (f.width, f.height);
        let mut out = vec![f32::INFINITY; w * h];
        for y in 0..h {
            for x in 0..w {
                for qy in 0..h {
                    for qx in 0..w {
                        let v = f.data[qy * w + qx];
                        if v.is_finite() {
                            let d = ((x as f32 - qx as f32).powi(2)
                                + (y as f32 - qy as f32).powi(2))
                                + v;
                            out[y * w + x] = out[y * w + x].min(d);
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn distance_transform_matches_brute_force() {
        // Pseudo-random sites with negative offsets (the union-of-balls case).
        let (w, h) = (23, 17);
        let mut state = 12345u32;
        let data = (0..w * h)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                if state >> 28 < 3 {
                    -(((state >> 8) % 40) as f32)
                } else {
                    f32::INFINITY
                }
            })
            .collect();
        let f = Raster {
            width: w,
            height: h,
            data,
        };
        let dt = distance_transform(&f);
        let expect = brute(&f);
        for (i, &e) in expect.iter().enumerate() {
            assert!((dt.value.data[i] - e).abs() < 1e-3, "{i}");
            // The arg-min attains the minimum.
            let q = dt.nearest.data[i] as usize;
            let (x, y, qx, qy) = (i % w, i / w, q % w, q / w);
            let d = (x as f32 - qx as f32).powi(2) + (y as f32 - qy as f32).powi(2) + f.data[q];
            assert!((d - e).abs() < 1e-3);
        }
    }

    #[test]
    fn empty_sites_give_infinity() {
        let dt = distance_to(&Raster::filled(4, 3, false));
        assert!(dt.value.data.iter().all(|v| v.is_infinite()));
        assert!(dt.nearest.data.iter().all(|&n| n == u32::MAX));
    }

    #[test]
    fn morphology_by_discs() {
        //  . . . . . . .
        //  . # # # # # .      a 5x3 block with a one-pixel speck at (0,6)
        //  . # # # # # .
        //  . # # # # # .
        //  . . . . . . .
        //  . . . . . . .
        //  # . . . . . .
        let mut m = Raster::filled(7, 7, false);
        for y in 1..4 {
            for x in 1..6 {
                m.data[y * 7 + x] = true;
            }
        }
        m.data[6 * 7] = true;
        let opened = open(&m, 1.0);
        assert!(!opened.data[6 * 7], "speck removed");
        assert!(opened.data[2 * 7 + 3], "block kept");
        let eroded = erode(&m, 1.0);
        assert_eq!(eroded.data.iter().filter(|&&v| v).count(), 3);
        let dil = dilate(&m, 1.0);
        assert!(dil.data[2 * 7] && dil.data[4 * 7 + 3] && !dil.data[4 * 7]);
        // Closing fills a one-pixel hole, and (with a wider disc) a notch in an edge.
        let mut n = m.clone();
        n.data[2 * 7 + 3] = false;
        assert!(close(&n, 1.0).data[2 * 7 + 3]);
        let mut n = m.clone();
        n.data[3 * 7 + 3] = false;
        assert!(!close(&n, 1.0).data[3 * 7 + 3]);
        assert!(close(&n, 1.5).data[3 * 7 + 3]);
    }

    #[test]
    fn components_holes_and_largest() {
        //  # # # . #
        //  # . # . .
        //  # # # . .
        let rows = ["###.#", "#.#..", "###.."];
        let m = Raster {
            width: 5,
            height: 3,
            data: rows
                .iter()
                .flat_map(|r| r.bytes().map(|b| b == b'#'))
                .collect(),
        };
        let (_, sizes) = components(&m, true);
        assert_eq!(sizes[1..], [8, 1]);
        let largest = largest_component(&m);
        assert!(!largest.data[4]);
        let filled = fill_holes(&largest);
        assert!(filled.data[5 + 1], "hole filled");
        assert!(!filled.data[3], "outside stays outside");
    }

    #[test]
    fn resampling_preserves_area_and_constants() {
        let src = Raster::filled(40, 30, [1.0f32, 0.5]);
        // Shrink the whole raster: constants stay constant.
        let out = resample(
            &src,
            Window {
                x: 0.0,
                y: 0.0,
                width: 40.0,
                height: 30.0,
            },
            8,
            6,
            Outside::Ignore,
        );
        for p in &out.data {
            assert!(
                (p[0] - 1.0).abs() < 1e-5 && (p[1] - 0.5).abs() < 1e-5,
                "{p:?}"
            );
        }
        // A window twice the raster: coverage (mean) is a quarter.
        let out = resample(
            &src,
            Window {
                x: -20.0,
                y: -15.0,
                width: 80.0,
                height: 60.0,
            },
            16,
            16,
            Outside::Zero,
        );
        let mean: f32 = out.data.iter().map(|p| p[0]).sum::<f32>() / 256.0;
        assert!((mean - 0.25).abs() < 0.02, "{mean}");
        // Enlarging is bilinear: a ramp stays a ramp.
        let ramp = Raster {
            width: 4,
            height: 1,
            data: (0..4).map(|i| [i as f32]).collect(),
        };
        let up = resample(
            &ramp,
            Window {
                x: 1.0,
                y: 0.0,
                width: 2.0,
                height: 1.0,
            },
            4,
            1,
            Outside::Zero,
        );
        let got: Vec<f32> = up.data.iter().map(|p| p[0]).collect();
        for (g, e) in got.iter().zip([0.75, 1.25, 1.75, 2.25]) {
            assert!((g - e).abs() < 1e-5, "{got:?}");
        }
    }
}
