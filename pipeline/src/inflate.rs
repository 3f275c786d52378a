//! The built-in, weight-free reconstruction: the object's silhouette inflated into a
//! closed volume, as an implicit [`Field`] in glTF's frame.
//!
//! # The shape
//!
//! The volume is the **union of the balls inscribed in the silhouette**, centred in the
//! picture plane: every object pixel `c` at distance `d(c)` from the background carries
//! a ball of radius `d(c)`. Seen from the front its outline is exactly the silhouette; a
//! round part becomes a sphere, a bar of width `2w` a cylinder of radius `w`, so the
//! profile is round at the rim and fuller in the middle, and front and back mirror each
//! other. A point `(x, y, z)` is inside when `z² < H(x, y)` with
//!
//! ```text
//! H(p) = max_c ( d(c)² - |p - c|² )
//! ```
//!
//! the upper envelope of the balls' squared half-thicknesses. `H` is one generalised
//! distance transform (Felzenszwalb & Huttenlocher, see [`crate::mask_ops`]) of
//! `f(c) = -d(c)²`, so it costs two linear passes over the pixels. It is exact at pixel
//! centres and interpolated bilinearly in between; no integer heights, so no terracing.
//!
//! Outside the silhouette `H` is continued linearly, `H = -2 R D` with `D` the distance
//! to the silhouette's edge and `R` the radius of the nearest object pixel's ball, and the
//! whole map is softened by one 3x3 binomial pass, which moves the surface by well under a
//! pixel and removes the pixel staircase.
//!
//! The scalar is `F = (z² - H) / sqrt(4 z² + |∇H|² + H⁺ / 2)`, negative inside: the
//! numerator divided by (nearly) its own gradient's length, so `F` is a signed distance to
//! first order at the surface — marching cubes places vertices accurately at the rim and
//! on the faces alike — and grows no faster than a distance away from it, which lets
//! coarse-to-fine extraction skip empty space.
//!
//! # Frame and colors
//!
//! glTF's frame: the picture square spans `x, y ∈ [-1, 1]` (+Y up, the picture's top row
//! at `y = 1`), the viewer sits on +Z looking along -Z (orthographic), so the object
//! faces +Z. The color at `(x, y, z)` is the picture's color at `(x, y)`: the picture
//! projected onto the front, and its mirror image onto the back. Pixels at and outside
//! the silhouette's edge take the color of the nearest pixel past the cutout's untrusted
//! edge band ([`Cutout::edge_band`]: antialiasing and JPEG ringing mix object and
//! background there), so the background never bleeds onto the rim.

use rayon::prelude::*;

use img23d_meshing::{Bounds, Field, FieldError, Inside, Surface};

use crate::foreground::Cutout;
use crate::mask_ops::{self, Raster};

/// Settings of the inflation.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct InflateOptions {
    /// Scales the thickness (front to back) of the inflated volume; 1 gives round
    /// cross-sections. By default, 1.0.
    pub depth_scale: f32,
}

impl Default for InflateOptions {
    fn default() -> Self {
        Self { depth_scale: 1.0 }
    }
}

/// Figures about an [`InflatedField`], for the report.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct InflateStats {
    /// Side of the height map in pixels.
    pub size: usize,
    /// Object pixels in the height map.
    pub object_pixels: usize,
    /// Half-thickness at the thickest point, in field units (the square spans 2).
    pub max_half_thickness: f32,
    /// The thickness scale used.
    pub depth_scale: f32,
}

/// The inflated silhouette as a [`Field`] (see the module docs).
#[derive(Debug, Clone)]
pub struct InflatedField {
    size: usize,
    /// Per pixel: `[H, |∇H|²]` in field units.
    table: Vec<[f32; 2]>,
    /// Per pixel: sRGB color, extended past the silhouette.
    color: Vec<[f32; 3]>,
    stats: InflateStats,
}

/// Bounds of every inflated field: the picture square, and as deep as it is wide.
pub const FIELD_BOUNDS: Bounds = Bounds {
    min: [-1.0; 3],
    max: [1.0; 3],
};

impl InflatedField {
    /// Inflates the object of `cutout`. Returns `None` when the cutout holds no pixel at
    /// least half covered (nothing to inflate).
    pub fn new(cutout: &Cutout, options: &InflateOptions) -> Option<Self> {
        let _span = tracing::debug_span!("inflate", size = cutout.size).entered();
        let n = cutout.size;
        let solid = Raster {
            width: n,
            height: n,
            data: cutout.mask.data.iter().map(|&m| m >= 0.5).collect(),
        };
        let object_pixels = solid.data.iter().filter(|&&s| s).count();
        if object_pixels == 0 {
            return None;
        }
        let radius = edge_radius(&solid);
        let (h, outside_slope) = height_map(&solid, &radius);
        let k = options.depth_scale;
        let table = field_table(&h, &outside_slope, k);
        let max_h = table.iter().map(|t| t[0]).fold(0.0f32, f32::max);
        let color = core_colors(cutout, &radius, solid);
        Some(Self {
            size: n,
            table,
            color,
            stats: InflateStats {
                size: n,
                object_pixels,
                max_half_thickness: max_h.max(0.0).sqrt(),
                depth_scale: k,
            },
        })
    }

    /// Figures for the report.
    pub fn stats(&self) -> InflateStats {
        self.stats
    }

    /// Bilinear lookup position of field point `(x, y)`: pixel indices and weights.
    #[inline]
    fn locate(&self, x: f32, y: f32) -> ([usize; 4], [f32; 4]) {
        let n = self.size;
        let half = 0.5 * n as f32;
        // Pixel centres at x = -1 + (i + 0.5) * pitch; rows top-down from y = 1.
        let px = ((x + 1.0) * half - 0.5).clamp(0.0, (n - 1) as f32);
        let py = ((1.0 - y) * half - 0.5).clamp(0.0, (n - 1) as f32);
        let (x0, y0) = (px.floor() as usize, py.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(n - 1), (y0 + 1).min(n - 1));
        let (fx, fy) = (px - x0 as f32, py - y0 as f32);
        (
            [y0 * n + x0, y0 * n + x1, y1 * n + x0, y1 * n + x1],
            [
                (1.0 - fx) * (1.0 - fy),
                fx * (1.0 - fy),
                (1.0 - fx) * fy,
                fx * fy,
            ],
        )
    }
}

/// Weight of `H` in the normaliser (see the module docs): keeps `F` finite on the medial
/// axis at `z = 0` (where `∇(z² - H)` vanishes) at the cost of a gradient of 0.94 instead
/// of 1 on the thickest points of the surface.
const NORM_H: f32 = 0.5;

/// Points per parallel work item inside one batch.
const CHUNK: usize = 4096;

/// Per pixel of the `n`² silhouette: the radius of the largest ball centred there that
/// stays inside it (0 outside), in pixels.
fn edge_radius(solid: &Raster<bool>) -> Vec<f32> {
    let n = solid.width;
    // Distance from each object pixel to the nearest background pixel centre; the
    // raster's outside counts as background (pad by one ring).
    let padded_bg = {
        let w = n + 2;
        let mut r = Raster::filled(w, w, true);
        for y in 0..n {
            for x in 0..n {
                r.data[(y + 1) * w + x + 1] = !solid.data[y * n + x];
            }
        }
        r
    };
    let to_bg = mask_ops::distance_to(&padded_bg);
    // Ball radius d(c): to the pixel edge rather than the background pixel's centre.
    (0..n * n)
        .map(|i| {
            if solid.data[i] {
                let (x, y) = (i % n, i / n);
                to_bg.value.data[(y + 1) * (n + 2) + x + 1].sqrt() - 0.5
            } else {
                0.0
            }
        })
        .collect()
}

/// The height map H over the silhouette (the upper envelope of the balls, continued
/// linearly outside) and, outside, the slope |∇H| it carries on with.
fn height_map(solid: &Raster<bool>, radius: &[f32]) -> (Raster<f32>, Vec<f32>) {
    let n = solid.width;
    let f = Raster {
        width: n,
        height: n,
        data: radius
            .iter()
            .zip(&solid.data)
            .map(|(&r, &s)| if s { -(r * r) } else { f32::INFINITY })
            .collect(),
    };
    let envelope = mask_ops::distance_transform(&f);
    // Radius of the ball attaining H at each object pixel, then its maximum over the
    // 5x5 neighbourhood: on a pixelated edge the attaining ball flips between the big
    // inscribed one and the pixel's own tiny one from pixel to pixel.
    let ball = Raster {
        width: n,
        height: n,
        data: (0..n * n)
            .map(|i| {
                if solid.data[i] {
                    radius
                        .get(envelope.nearest.data[i] as usize)
                        .copied()
                        .unwrap_or(0.5)
                        .max(0.5)
                } else {
                    0.0
                }
            })
            .collect(),
    };
    let ball = max_filter(&ball, 2);
    let thickest = radius.iter().copied().fold(0.5f32, f32::max);
    // Outside the silhouette the envelope is attained by the small balls along the
    // edge, which would make F steep there; continue H linearly instead: H = -2 R D, D
    // the distance to the silhouette's edge, so F = D at z = 0 (a distance again). R is
    // the nearest edge ball's radius at the edge (so H's slope carries on across it)
    // and blends into the object's largest radius within FAR_BAND pixels, so the far
    // field does not jump where the nearest part changes.
    let to_object = mask_ops::distance_to(solid);
    // Outside, also the slope |∇H| = 2R that H has away from the background's own
    // medial axis (where the distance D has a ridge and a numerical gradient is 0).
    let mut outside_slope = vec![0.0f32; n * n];
    let mut h = Raster {
        width: n,
        height: n,
        data: (0..n * n)
            .map(|i| {
                if solid.data[i] {
                    -envelope.value.data[i]
                } else {
                    let q = to_object.nearest.data[i] as usize;
                    let d = to_object.value.data[i].sqrt() - 0.5;
                    let t = (d / FAR_BAND).clamp(0.0, 1.0);
                    let s = t * t * (3.0 - 2.0 * t);
                    let r = ball.data[q] + (thickest - ball.data[q]) * s;
                    outside_slope[i] = 2.0 * r;
                    -2.0 * r * d
                }
            })
            .collect(),
    };
    // Soften the pixel staircase of the binary silhouette (a 3x3 binomial blur moves
    // the surface by well under a pixel).
    binomial_blur(&mut h);
    (h, outside_slope)
}

/// Per pixel, in field units: `[H, |∇H|²]` of the height map `h` (pixels) with the
/// thickness scale `k`.
fn field_table(h: &Raster<f32>, outside_slope: &[f32], k: f32) -> Vec<[f32; 2]> {
    let n = h.width;
    // Per pixel, in field units: H and |∇H|² (for the normaliser of F).
    let pitch = 2.0 / n as f32;
    let unit = pitch * k;
    (0..n * n)
        .map(|i| {
            let (x, y) = (i % n, i / n);
            let at = |x: usize, y: usize| h.data[y * n + x];
            let gx = (at((x + 1).min(n - 1), y) - at(x.saturating_sub(1), y))
                / ((x + 1).min(n - 1) - x.saturating_sub(1)).max(1) as f32;
            let gy = (at(x, (y + 1).min(n - 1)) - at(x, y.saturating_sub(1)))
                / ((y + 1).min(n - 1) - y.saturating_sub(1)).max(1) as f32;
            let g2 = (gx * gx + gy * gy).max(outside_slope[i] * outside_slope[i]);
            // H_field(x) = unit² H_px(x / pitch), so ∇H_field = pitch k² ∇H_px.
            let g = pitch * k * k;
            [h.data[i] * unit * unit, g2 * g * g]
        })
        .collect()
}

/// Per pixel: the color of the nearest "core" pixel, past the cutout's untrusted edge
/// band.
fn core_colors(cutout: &Cutout, radius: &[f32], solid: Raster<bool>) -> Vec<[f32; 3]> {
    let n = cutout.size;
    // Colors: from the nearest "core" pixel (past the cutout's untrusted edge band,
    // and at least a pixel inside) outside the core; all object pixels when the
    // object is too thin to have a core.
    let band = cutout.edge_band.max(1.0);
    let mut core = Raster {
        width: n,
        height: n,
        data: radius.iter().map(|&r| r >= band).collect(),
    };
    if !core.data.iter().any(|&c| c) {
        core = solid;
    }
    let nearest_core = mask_ops::distance_to(&core);
    (0..n * n)
        .map(|i| {
            if core.data[i] {
                cutout.color.data[i]
            } else {
                cutout.color.data[nearest_core.nearest.data[i] as usize]
            }
        })
        .collect()
}

impl Field for InflatedField {
    fn name(&self) -> &str {
        "inflate"
    }

    fn bounds(&self) -> Bounds {
        FIELD_BOUNDS
    }

    fn surface(&self) -> Surface {
        Surface {
            level: 0.0,
            inside: Inside::Below,
        }
    }

    fn eval_scalar(&self, points: &[[f32; 3]], out: &mut [f32]) -> Result<(), FieldError> {
        check_len(points.len(), out.len())?;
        points
            .par_chunks(CHUNK)
            .zip(out.par_chunks_mut(CHUNK))
            .for_each(|(ps, os)| {
                for (p, o) in ps.iter().zip(os) {
                    let (idx, w) = self.locate(p[0], p[1]);
                    let mut h = 0.0;
                    let mut g2 = 0.0;
                    for k in 0..4 {
                        let t = self.table[idx[k]];
                        h += w[k] * t[0];
                        g2 += w[k] * t[1];
                    }
                    let z2 = p[2] * p[2];
                    let norm = (4.0 * z2 + g2 + NORM_H * h.max(0.0)).sqrt();
                    *o = (z2 - h) / norm.max(f32::MIN_POSITIVE);
                }
            });
        Ok(())
    }

    fn eval_color(&self, points: &[[f32; 3]], out: &mut [[f32; 3]]) -> Result<(), FieldError> {
        check_len(points.len(), out.len())?;
        points
            .par_chunks(CHUNK)
            .zip(out.par_chunks_mut(CHUNK))
            .for_each(|(ps, os)| {
                for (p, o) in ps.iter().zip(os) {
                    let (idx, w) = self.locate(p[0], p[1]);
                    let mut c = [0.0f32; 3];
                    for k in 0..4 {
                        let s = self.color[idx[k]];
                        for ch in 0..3 {
                            c[ch] += w[k] * s[ch];
                        }
                    }
                    *o = c.map(|v| v.clamp(0.0, 1.0));
                }
            });
        Ok(())
    }

    fn preferred_batch(&self) -> usize {
        1 << 18
    }
}

/// Pixels outside the silhouette over which `H`'s slope blends from the nearest edge
/// ball's to the object's largest ball's.
const FAR_BAND: f32 = 8.0;

/// Maximum over the `(2r+1)²` neighbourhood, separable, edges clamped.
fn max_filter(src: &Raster<f32>, r: usize) -> Raster<f32> {
    let (w, h) = (src.width, src.height);
    let mut tmp = src.data.clone();
    tmp.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        let s = &src.data[y * w..(y + 1) * w];
        for (x, o) in row.iter_mut().enumerate() {
            *o = s[x.saturating_sub(r)..(x + r + 1).min(w)]
                .iter()
                .copied()
                .fold(f32::MIN, f32::max);
        }
    });
    let mut out = src.clone();
    out.data.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for (x, o) in row.iter_mut().enumerate() {
            *o = (y.saturating_sub(r)..(y + r + 1).min(h))
                .map(|yy| tmp[yy * w + x])
                .fold(f32::MIN, f32::max);
        }
    });
    out
}

/// One pass of the separable 3x3 binomial filter `[1 2 1] / 4`, edges clamped.
fn binomial_blur(r: &mut Raster<f32>) {
    let (w, h) = (r.width, r.height);
    let mut tmp = r.data.clone();
    tmp.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        let src = &r.data[y * w..(y + 1) * w];
        for x in 0..w {
            let l = src[x.saturating_sub(1)];
            let rr = src[(x + 1).min(w - 1)];
            row[x] = 0.25 * l + 0.5 * src[x] + 0.25 * rr;
        }
    });
    r.data.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        let up = &tmp[y.saturating_sub(1) * w..][..w];
        let mid = &tmp[y * w..][..w];
        let down = &tmp[(y + 1).min(h - 1) * w..][..w];
        for x in 0..w {
            row[x] = 0.25 * up[x] + 0.5 * mid[x] + 0.25 * down[x];
        }
    });
}

fn check_len(points: usize, out: usize) -> Result<(), FieldError> {
    if points == out {
        Ok(())
    } else {
        Err(FieldError::new(
            "inflate",
            format!("{points} points but room for {out} results"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask_ops::Window;

    /// A cutout of `n × n` pixels whose mask is `inside(x, y)` (field coordinates), with
    /// color red on the left half and blue on the right.
    fn cutout(n: usize, inside: impl Fn(f32, f32) -> bool) -> Cutout {
        let mut mask = Raster::filled(n, n, 0.0);
        let mut color = Raster::filled(n, n, [0.0; 3]);
        for y in 0..n {
            for x in 0..n {
                let fx = -1.0 + (x as f32 + 0.5) * 2.0 / n as f32;
                let fy = 1.0 - (y as f32 + 0.5) * 2.0 / n as f32;
                if inside(fx, fy) {
                    mask.data[y * n + x] = 1.0;
                    color.data[y * n + x] = if fx < 0.0 {
                        [1.0, 0.0, 0.0]
                    } else {
                        [0.0, 0.0, 1.0]
                    };
                }
            }
        }
        Cutout {
            size: n,
            mask,
            color,
            window_source: Window {
                x: 0.0,
                y: 0.0,
                width: n as f64,
                height: n as f64,
            },
            ratio: 0.85,
            edge_band: 1.5,
        }
    }

    fn eval(f: &InflatedField, p: [f32; 3]) -> f32 {
        let mut out = [0.0];
        f.eval_scalar(&[p], &mut out).unwrap();
        out[0]
    }

    #[test]
    fn a_disc_inflates_to_a_sphere() {
        let r = 0.6;
        let f = InflatedField::new(
            &cutout(256, |x, y| x * x + y * y < r * r),
            &InflateOptions::default(),
        )
        .unwrap();
        // In every direction the field crosses zero within 1.5 pixels of radius r (the
        // balls sit on pixel centres, the silhouette is a pixel staircase), and behaves
        // like a signed distance nearby.
        let pitch = 2.0 / 256.0;
        for (theta, phi) in [
            (0.3f32, 0.2f32),
            (1.2, 2.0),
            (1.57, 0.0),
            (0.1, 4.0),
            (2.9, 1.0),
        ] {
            let dir = [
                theta.sin() * phi.cos(),
                theta.sin() * phi.sin(),
                theta.cos(),
            ];
            let at = |s: f32| eval(&f, dir.map(|c| c * s));
            assert!(at(r - 3.0 * pitch) < 0.0 && at(r + 3.0 * pitch) > 0.0);
            // Bisect the crossing.
            let (mut lo, mut hi) = (r - 3.0 * pitch, r + 3.0 * pitch);
            for _ in 0..30 {
                let mid = 0.5 * (lo + hi);
                if at(mid) < 0.0 { lo = mid } else { hi = mid }
            }
            assert!(
                (lo - r).abs() < 1.5 * pitch,
                "dir {dir:?}: crossing at {lo}"
            );
            let slope = (at(lo + 2.0 * pitch) - at(lo - 2.0 * pitch)) / (4.0 * pitch);
            assert!((slope - 1.0).abs() < 0.25, "dir {dir:?}: slope {slope}");
        }
        let s = f.stats();
        assert!((s.max_half_thickness - r).abs() < 1.5 * pitch, "{s:?}");
    }

    #[test]
    fn a_bar_inflates_to_a_cylinder_not_a_slab() {
        // A horizontal bar 0.2 tall and 1.4 wide: its middle is a cylinder of radius 0.1.
        let f = InflatedField::new(
            &cutout(256, |x, y| x.abs() < 0.7 && y.abs() < 0.1),
            &InflateOptions::default(),
        )
        .unwrap();
        let pitch = 2.0 / 256.0;
        assert!(eval(&f, [0.0, 0.0, 0.1 - 2.0 * pitch]) < 0.0);
        assert!(eval(&f, [0.0, 0.0, 0.1 + 2.0 * pitch]) > 0.0);
        assert!(eval(&f, [0.3, 0.07, 0.07 - 2.0 * pitch]) < 0.0);
        assert!(eval(&f, [0.3, 0.07, 0.0714 + 2.0 * pitch]) > 0.0);
    }

    #[test]
    fn front_and_back_mirror_and_outside_is_outside() {
        let f = InflatedField::new(
            &cutout(128, |x, y| (x + 0.2).abs() < 0.4 && y.abs() < 0.5),
            &InflateOptions::default(),
        )
        .unwrap();
        let pts = [[0.1, 0.2, 0.15], [-0.5, -0.3, 0.05], [0.15, 0.4, 0.3]];
        let mut front = [0.0; 3];
        let mut back = [0.0; 3];
        f.eval_scalar(&pts, &mut front).unwrap();
        f.eval_scalar(&pts.map(|p| [p[0], p[1], -p[2]]), &mut back)
            .unwrap();
        assert_eq!(front, back);
        // Outside the silhouette, and beyond the square: positive.
        for p in [
            [0.5, 0.0, 0.0],
            [-0.9, 0.9, 0.0],
            [3.0, -2.0, 0.0],
            [0.0, 0.0, 0.9],
        ] {
            assert!(eval(&f, p) > 0.0, "{p:?}");
        }
    }

    #[test]
    fn colors_project_the_picture_and_never_the_background() {
        let f = InflatedField::new(
            &cutout(128, |x, y| x * x + y * y < 0.25),
            &InflateOptions::default(),
        )
        .unwrap();
        let pts = [
            [-0.3, 0.0, 0.3],
            [-0.3, 0.0, -0.3],
            [0.3, 0.1, 0.2],
            // On the rim and just outside it: still the object's color.
            [0.0, 0.5, 0.0],
            [0.0, -0.52, 0.0],
        ];
        let mut out = [[0.0; 3]; 5];
        f.eval_color(&pts, &mut out).unwrap();
        assert_eq!(out[0], [1.0, 0.0, 0.0]);
        assert_eq!(out[1], [1.0, 0.0, 0.0], "the back mirrors the front");
        assert_eq!(out[2], [0.0, 0.0, 1.0]);
        for c in &out[3..] {
            assert!(c[1] == 0.0 && (c[0] + c[2] - 1.0).abs() < 1e-5, "{c:?}");
        }
    }

    /// A shape with thick and thin parts touching the square's edge, and a sampler.
    fn mixed_shape() -> (Cutout, InflatedField) {
        let c = cutout(128, |x, y| {
            (x * x + y * y < 0.3) || (x.abs() < 0.04 && y > -0.9) || (y.abs() < 0.02 && x > 0.0)
        });
        let f = InflatedField::new(&c, &InflateOptions::default()).unwrap();
        (c, f)
    }

    fn lcg(state: &mut u64) -> f32 {
        *state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        ((*state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// Coarse-to-fine extraction skips a block when F says the surface is far: F must not
    /// claim much more than the true distance (it is a first-order estimate, so up to
    /// 1.3 times near concave junctions). Outside the union of balls the distance is
    /// exactly `min_c |p - c| - r_c` over the balls (brute force here).
    #[test]
    fn field_never_overestimates_the_distance_outside() {
        let (c, f) = mixed_shape();
        let n = c.size;
        let pitch = 2.0 / n as f32;
        let solid: Vec<bool> = c.mask.data.iter().map(|&m| m >= 0.5).collect();
        let bg = Raster {
            width: n,
            height: n,
            data: solid.iter().map(|&s| !s).collect(),
        };
        let to_bg = mask_ops::distance_to(&bg);
        let balls: Vec<([f32; 2], f32)> = (0..n * n)
            .filter(|&i| solid[i])
            .map(|i| {
                let (x, y) = (i % n, i / n);
                let center = [
                    -1.0 + (x as f32 + 0.5) * pitch,
                    1.0 - (y as f32 + 0.5) * pitch,
                ];
                (center, (to_bg.value.data[i].sqrt() - 0.5) * pitch)
            })
            .collect();
        let mut state = 7u64;
        let mut checked = 0;
        for _ in 0..3000 {
            let p = [lcg(&mut state), lcg(&mut state), lcg(&mut state)];
            let distance = balls
                .iter()
                .map(|(c, r)| {
                    let d = ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2) + p[2] * p[2]).sqrt();
                    d - r
                })
                .fold(f32::INFINITY, f32::min);
            if distance <= 0.0 {
                continue;
            }
            checked += 1;
            let value = eval(&f, p);
            assert!(value > 0.0, "{p:?} is outside but F = {value}");
            assert!(
                value <= 1.4 * distance + 1.5 * pitch,
                "{p:?}: F = {value} but the surface is {distance} away"
            );
        }
        assert!(checked > 1000);
    }

    /// Near the surface F is a signed distance to first order (gradient length near 1;
    /// lower on parts only a few pixels thin, where first order is coarse), and nowhere
    /// does it jump (finite differences stay bounded).
    #[test]
    fn field_is_distance_like_near_the_surface_and_never_jumps() {
        let (_, f) = mixed_shape();
        let pitch = 2.0f32 / 128.0;
        let mut state = 99u64;
        let (mut near, mut worst) = (Vec::new(), 0.0f32);
        for _ in 0..20_000 {
            let a = [lcg(&mut state), lcg(&mut state), lcg(&mut state) * 0.5];
            let fa = eval(&f, a);
            let h = 0.5 * pitch;
            let grad = [0, 1, 2].map(|k| {
                let mut b = a;
                b[k] += h;
                (eval(&f, b) - fa) / h
            });
            let len = (grad[0] * grad[0] + grad[1] * grad[1] + grad[2] * grad[2]).sqrt();
            worst = worst.max(len);
            if fa.abs() < 2.0 * pitch {
                near.push(len);
                assert!(
                    (0.1..2.0).contains(&len),
                    "|∇F| = {len} at {a:?} (F = {fa})"
                );
            }
        }
        assert!(near.len() > 100, "{} samples near the surface", near.len());
        near.sort_by(f32::total_cmp);
        let median = near[near.len() / 2];
        assert!(
            (0.85..1.15).contains(&median),
            "median |∇F| near the surface {median}"
        );
        assert!(worst < 6.0, "steepest |∇F| {worst}");
    }

    #[test]
    fn depth_scale_flattens() {
        let c = cutout(128, |x, y| x * x + y * y < 0.25);
        let flat = InflatedField::new(&c, &InflateOptions { depth_scale: 0.5 }).unwrap();
        assert!((flat.stats().max_half_thickness - 0.25).abs() < 0.02);
        assert!(eval(&flat, [0.0, 0.0, 0.3]) > 0.0);
        assert!(eval(&flat, [0.0, 0.0, 0.2]) < 0.0);
    }

    #[test]
    fn empty_cutout_gives_none_and_length_mismatch_errors() {
        assert!(
            InflatedField::new(&cutout(16, |_, _| false), &InflateOptions::default()).is_none()
        );
        let f =
            InflatedField::new(&cutout(16, |x, _| x < 0.0), &InflateOptions::default()).unwrap();
        assert!(f.eval_scalar(&[[0.0; 3]; 2], &mut [0.0]).is_err());
    }
}
