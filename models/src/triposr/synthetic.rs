//! A decoder of TripoSR's exact sizes (triplane 3 × 40 × 64 × 64; MLP 120→64,
//! 8 × 64→64 SiLU, 64→4) with fixed weights whose surface is a known object — a bumpy
//! sphere of radius about 0.52 in the scene box — for benchmarks and tests of the field
//! and of extraction. Every weight is non-zero, so evaluation costs exactly what the
//! real decoder costs; the shape comes from a pass-through channel:
//!
//! * channel 0 of every plane holds `-K (u² + v²)` plus small bumps, so the first layer's
//!   neuron 0 (weights 1 on the three channel-0 features, bias [`OFFSET`]) is
//!   `OFFSET - 2K |p|²`-like, positive inside the object, where SiLU is close to identity;
//! * each hidden layer copies neuron 0 forward (weight 1, plus tiny weights elsewhere);
//! * the last layer turns it into the raw density so that `exp(d - 1) = 25` at the
//!   object's radius;
//! * neuron 1 carries the sum of the planes' channel 1 the same way to the red logit;
//!   the green and blue logits are random combinations of the hidden units.
//!
//! [`asymmetric_triplane`] shapes an object whose sides can be told apart — a nose
//! toward +X (the input camera's side in TripoSR's frame), an ear toward +Y (the
//! picture's right), a knob toward +Z (up), red on the +Y side — to check frame
//! conversions end to end.

use super::mlp::{Linear, Mlp};
use super::model::noise;
use super::triplane::Triplane;

/// Bias of the pass-through neuron: keeps it in SiLU's near-linear range inside.
pub const OFFSET: f32 = 10.0;
/// Curvature of the channel-0 paraboloids.
pub const K: f32 = 5.0;
/// Object radius in normalised plane coordinates (× 0.87 in the scene).
pub const RADIUS_UNIT: f32 = 0.6;

/// The triplane: channel 0 shapes the object, the other 39 channels are smooth patterns.
pub fn triplane() -> Triplane {
    let (c, h, w) = (40usize, 64usize, 64usize);
    let mut data = vec![0.0f32; 3 * c * h * w];
    for p in 0..3 {
        for ch in 0..c {
            for y in 0..h {
                for x in 0..w {
                    // Texel centre in normalised coordinates (align_corners=False).
                    let u = (2.0 * x as f32 + 1.0) / w as f32 - 1.0;
                    let v = (2.0 * y as f32 + 1.0) / h as f32 - 1.0;
                    let val = if ch == 0 {
                        let bumps = 0.6 * (3.0 * u + p as f32).sin() * (2.0 * v).cos();
                        -K * (u * u + v * v) + bumps
                    } else {
                        let f = ch as f32 * 0.37 + p as f32;
                        0.5 * (f * u + 1.3 * v).sin() * (0.7 * f * v - u).cos()
                    };
                    data[((p * c + ch) * h + y) * w + x] = val;
                }
            }
        }
    }
    // Valid by construction: the length matches the shape.
    Triplane::from_nchw(&data, c, h, w).expect("the data length matches the shape by construction")
}

/// A Gaussian bump of height `a` and width `w` at `(cu, cv)`.
fn bump(u: f32, v: f32, cu: f32, cv: f32, a: f32, w: f32) -> f32 {
    a * (-((u - cu).powi(2) + (v - cv).powi(2)) / (w * w)).exp()
}

/// The triplane of an object with distinguishable sides (see the module docs): a
/// sphere with a nose toward +X, an ear toward +Y and a knob toward +Z, red toward +Y.
pub fn asymmetric_triplane() -> Triplane {
    let (c, h, w) = (40usize, 64usize, 64usize);
    let mut data = vec![0.0f32; 3 * c * h * w];
    for p in 0..3 {
        for y in 0..h {
            for x in 0..w {
                let u = (2.0 * x as f32 + 1.0) / w as f32 - 1.0;
                let v = (2.0 * y as f32 + 1.0) / h as f32 - 1.0;
                // Plane p is looked up at (a, b) = (x,y), (x,z), (y,z).
                let (shape, red) = match p {
                    // xy: nose (x) and ear (y).
                    0 => (
                        bump(u, v, 0.55, 0.0, 4.0, 0.25) + bump(u, v, 0.0, 0.55, 3.0, 0.22),
                        0.0,
                    ),
                    // xz: nose (x) and knob (z).
                    1 => (
                        bump(u, v, 0.55, 0.0, 4.0, 0.25) + bump(u, v, 0.0, 0.55, 2.0, 0.2),
                        0.0,
                    ),
                    // yz: ear (y) and knob (z); red grows with y.
                    _ => (
                        bump(u, v, 0.55, 0.0, 3.0, 0.22) + bump(u, v, 0.0, 0.55, 2.0, 0.2),
                        5.0 * u,
                    ),
                };
                let base = ((p * c) * h + y) * w + x;
                data[base] = -K * (u * u + v * v) + shape;
                data[base + h * w] = red;
                for ch in 2..c {
                    let f = ch as f32 * 0.37 + p as f32;
                    data[base + ch * h * w] = 0.2 * (f * u + 1.3 * v).sin();
                }
            }
        }
    }
    Triplane::from_nchw(&data, c, h, w).expect("the data length matches the shape by construction")
}

/// The MLP (see the module docs).
pub fn mlp() -> Mlp {
    let sizes = [120usize, 64, 64, 64, 64, 64, 64, 64, 64, 64, 4];
    let n_layers = sizes.len() - 1;
    let layers: Vec<Linear> = (0..n_layers)
        .map(|i| {
            let (k, m) = (sizes[i], sizes[i + 1]);
            let scale = 1.0 / (k as f32).sqrt();
            let mut weight: Vec<f32> = noise(k * m, 10 + i as u64)
                .iter()
                .map(|v| v * scale)
                .collect();
            let mut bias: Vec<f32> = noise(m, 50 + i as u64).iter().map(|v| v * 0.1).collect();
            // Columns 0 and 1 are pass-through neurons (last: density and red logit).
            for r in 0..k {
                weight[r * m] *= 1e-4;
                weight[r * m + 1] *= 1e-4;
            }
            if i == 0 {
                for p in 0..3 {
                    weight[(p * 40) * m] = 1.0;
                    weight[(p * 40 + 1) * m + 1] = 1.0;
                }
                bias[0] = OFFSET;
                bias[1] = OFFSET;
            } else {
                weight[0] = 1.0;
                weight[m + 1] = 1.0;
                bias[0] = 0.0;
                bias[1] = 0.0;
            }
            if i == n_layers - 1 {
                // raw density = h0 - OFFSET + (1 + ln 25) + 2K r²: exp(raw - 1) = 25 at r.
                bias[0] = -OFFSET + 1.0 + 25f32.ln() + 2.0 * K * RADIUS_UNIT * RADIUS_UNIT;
                bias[1] = -OFFSET;
            }
            Linear {
                inputs: k,
                outputs: m,
                weight,
                bias,
            }
        })
        .collect();
    Mlp::new(layers).expect("the layer sizes chain by construction")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use img23d_meshing::Field;

    use super::*;
    use crate::triposr::{MlpExec, TriplaneField};

    #[test]
    fn the_object_is_inside_and_the_corners_outside() {
        let mlp = Arc::new(mlp());
        let t = triplane();
        let f = TriplaneField::folded(&t, &mlp.layers()[0], MlpExec::Rust(mlp.clone())).unwrap();
        let mut d = [0.0f32; 3];
        f.eval_scalar(&[[0.0; 3], [0.85, 0.85, 0.85], [0.0, 0.0, 0.86]], &mut d)
            .unwrap();
        assert!(d[0] > 25.0, "{d:?}");
        assert!(d[1] < 25.0 && d[2] < 25.0, "{d:?}");
    }
}
