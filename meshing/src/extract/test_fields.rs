//! Analytic fields that stand in for real reconstructions in the extraction tests and
//! benchmarks: an object-like union of spheres with a thin rod, a gyroid (many handles)
//! and a noisy density of many small blobs. The peer benchmark
//! (`benches/peers/peers.py`) builds the same kinds of volumes in NumPy.

use crate::field::analytic::position_color;
use crate::{Bounds, Field, FieldError, Inside, Surface};

fn colors(points: &[[f32; 3]], out: &mut [[f32; 3]]) {
    for (p, o) in points.iter().zip(out.iter_mut()) {
        *o = position_color(*p);
    }
}

#[inline]
fn dist(p: [f32; 3], c: [f32; 3]) -> f32 {
    ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2) + (p[2] - c[2]).powi(2)).sqrt()
}

/// An object-like signed distance field in `[-1, 1]^3`: three spheres and a thin rod
/// (radius 0.02, thinner than one coarse block at 256³) sticking out of the body.
#[derive(Debug, Clone, Copy, Default)]
pub struct Blobs;

impl Field for Blobs {
    fn name(&self) -> &str {
        "blobs"
    }
    fn bounds(&self) -> Bounds {
        Bounds::cube(1.0)
    }
    fn surface(&self) -> Surface {
        Surface {
            level: 0.0,
            inside: Inside::Below,
        }
    }
    fn eval_scalar(&self, points: &[[f32; 3]], out: &mut [f32]) -> Result<(), FieldError> {
        for (p, o) in points.iter().zip(out.iter_mut()) {
            let p = *p;
            let rod = ((p[1] - 0.1).powi(2) + (p[2] + 0.05).powi(2)).sqrt() - 0.02;
            let rod = rod.max(p[0] - 0.85).max(-p[0]);
            *o = (dist(p, [0.0, 0.0, 0.0]) - 0.45)
                .min(dist(p, [0.35, 0.3, 0.1]) - 0.25)
                .min(dist(p, [-0.5, -0.4, 0.3]) - 0.15)
                .min(rod);
        }
        Ok(())
    }
    fn eval_color(&self, points: &[[f32; 3]], out: &mut [[f32; 3]]) -> Result<(), FieldError> {
        colors(points, out);
        Ok(())
    }
}

/// A gyroid `sin(fx)cos(fy) + sin(fy)cos(fz) + sin(fz)cos(fx)` clipped to a ball of
/// radius 0.9 (negative inside): a surface with many handles.
#[derive(Debug, Clone, Copy)]
pub struct Gyroid {
    /// Angular frequency `f` (2π / period).
    pub frequency: f32,
}

impl Default for Gyroid {
    /// Four periods across the box.
    fn default() -> Self {
        Self {
            frequency: 4.0 * std::f32::consts::PI,
        }
    }
}

impl Field for Gyroid {
    fn name(&self) -> &str {
        "gyroid"
    }
    fn bounds(&self) -> Bounds {
        Bounds::cube(1.0)
    }
    fn surface(&self) -> Surface {
        Surface {
            level: 0.0,
            inside: Inside::Below,
        }
    }
    fn eval_scalar(&self, points: &[[f32; 3]], out: &mut [f32]) -> Result<(), FieldError> {
        let f = self.frequency;
        for (p, o) in points.iter().zip(out.iter_mut()) {
            let [x, y, z] = p.map(|c| c * f);
            let g = x.sin() * y.cos() + y.sin() * z.cos() + z.sin() * x.cos();
            // Scaled to roughly unit gradient, then intersected with the ball.
            *o = (g / f).max(dist(*p, [0.0; 3]) - 0.9);
        }
        Ok(())
    }
    fn eval_color(&self, points: &[[f32; 3]], out: &mut [[f32; 3]]) -> Result<(), FieldError> {
        colors(points, out);
        Ok(())
    }
}

/// A density (inside above 0.5) made of `count` Gaussian blobs of radius about 0.05 at
/// reproducible random places, with a little high-frequency ripple.
#[derive(Debug, Clone)]
pub struct NoisyBlobs {
    centers: Vec<([f32; 3], f32)>,
}

impl NoisyBlobs {
    /// `count` blobs from `seed`.
    pub fn new(count: usize, seed: u64) -> Self {
        let mut s = seed;
        let mut unit = move || {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32
        };
        let centers = (0..count)
            .map(|_| {
                let c = [0; 3].map(|_| unit() * 1.5 - 0.75);
                (c, 0.03 + 0.04 * unit())
            })
            .collect();
        Self { centers }
    }
}

impl Field for NoisyBlobs {
    fn name(&self) -> &str {
        "noisy-blobs"
    }
    fn bounds(&self) -> Bounds {
        Bounds::cube(1.0)
    }
    fn surface(&self) -> Surface {
        Surface {
            level: 0.5,
            inside: Inside::Above,
        }
    }
    fn eval_scalar(&self, points: &[[f32; 3]], out: &mut [f32]) -> Result<(), FieldError> {
        for (p, o) in points.iter().zip(out.iter_mut()) {
            let mut d = 0.0f32;
            for (c, r) in &self.centers {
                let q = dist(*p, *c) / r;
                if q < 4.0 {
                    d += (-0.5 * q * q).exp();
                }
            }
            let ripple = 0.05 * (40.0 * p[0]).sin() * (37.0 * p[1]).sin() * (43.0 * p[2]).sin();
            *o = d * (1.0 + ripple);
        }
        Ok(())
    }
    fn eval_color(&self, points: &[[f32; 3]], out: &mut [[f32; 3]]) -> Result<(), FieldError> {
        colors(points, out);
        Ok(())
    }
}
