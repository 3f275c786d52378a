//! TripoSR's decoder MLP in Rust: `NeRFMLP` (`tsr/models/network_utils.py`) with
//! `n_hidden_layers: 9`, `n_neurons: 64`, `activation: silu` — Linear(120→64) + SiLU,
//! 8 × [Linear(64→64) + SiLU], Linear(64→4) — evaluated in blocks of points.
//!
//! The hot loop is a 3-row × 4-vector register tile (three points share each weight
//! load; twelve independent accumulators cover the FMA latency), written once against `pulp`'s portable SIMD types and dispatched at run time
//! to the best instruction set the CPU has (AVX2 + FMA on x86-64), so the release build
//! needs no `target-cpu` flag. SiLU uses a vectorised `exp` (Cephes `expf`: range
//! reduction by `ln 2`, degree-5 polynomial; relative error about 1e-7).

use pulp::{Arch, Simd, WithSimd};

/// One fully connected layer, `y = x · W + b`.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    /// Input features.
    pub inputs: usize,
    /// Output features.
    pub outputs: usize,
    /// `[inputs][outputs]`, input-major (ONNX `MatMul` layout, torch's `weight.T`).
    pub weight: Vec<f32>,
    /// `[outputs]`.
    pub bias: Vec<f32>,
}

/// Why an MLP could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MlpError {
    /// The network has no layer.
    #[error("an MLP needs at least one layer")]
    Empty,
    /// A layer's arrays do not match its sizes.
    #[error("layer {layer}: {what} has {got} values, expected {expected}")]
    Shape {
        /// Layer index.
        layer: usize,
        /// `weight` or `bias`.
        what: &'static str,
        /// Values expected.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// Consecutive layers do not chain.
    #[error("layer {layer} takes {inputs} features but the previous layer gives {previous}")]
    Chain {
        /// Layer index.
        layer: usize,
        /// Its input features.
        inputs: usize,
        /// The previous layer's outputs.
        previous: usize,
    },
}

/// A stack of [`Linear`] layers with SiLU between them (none after the last).
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    layers: Vec<Linear>,
}

/// Points per block: activations of a block stay in L1/L2 while the weights (16 KiB per
/// 64×64 layer) stay in L1.
pub const BLOCK: usize = 128;

impl Mlp {
    /// Checks the layer shapes and chains.
    pub fn new(layers: Vec<Linear>) -> Result<Self, MlpError> {
        if layers.is_empty() {
            return Err(MlpError::Empty);
        }
        for (i, l) in layers.iter().enumerate() {
            if l.weight.len() != l.inputs * l.outputs || l.inputs == 0 || l.outputs == 0 {
                return Err(MlpError::Shape {
                    layer: i,
                    what: "weight",
                    expected: l.inputs * l.outputs,
                    got: l.weight.len(),
                });
            }
            if l.bias.len() != l.outputs {
                return Err(MlpError::Shape {
                    layer: i,
                    what: "bias",
                    expected: l.outputs,
                    got: l.bias.len(),
                });
            }
            if i > 0 && layers[i - 1].outputs != l.inputs {
                return Err(MlpError::Chain {
                    layer: i,
                    inputs: l.inputs,
                    previous: layers[i - 1].outputs,
                });
            }
        }
        Ok(Self { layers })
    }

    /// The layers.
    pub fn layers(&self) -> &[Linear] {
        &self.layers
    }

    /// Input features of the first layer.
    pub fn inputs(&self) -> usize {
        self.layers[0].inputs
    }

    /// Output features of the last layer.
    pub fn outputs(&self) -> usize {
        self.layers[self.layers.len() - 1].outputs
    }

    /// Widest layer output (scratch size per row).
    pub fn max_width(&self) -> usize {
        self.layers
            .iter()
            .map(|l| l.outputs.max(l.inputs))
            .max()
            .unwrap_or(0)
    }

    /// Runs the network on `rows` input rows (`input`: `[rows][inputs]`) into `out`
    /// (`[rows][outputs]`). `scratch` must hold `2 * rows * max_width()` floats.
    pub fn forward(&self, input: &[f32], rows: usize, scratch: &mut [f32], out: &mut [f32]) {
        Arch::new().dispatch(Forward {
            layers: &self.layers,
            input,
            rows,
            activate_input: false,
            scratch,
            out,
        });
    }

    /// Runs layers `1..` on the first layer's pre-activation output `h1`
    /// (`[rows][layers[0].outputs]`): SiLU, then the rest. This is the tail used with
    /// folded triplanes, whose sampling already produced `h1`.
    /// A single-layer network has no tail: `h1` is its output.
    pub fn forward_tail(&self, h1: &[f32], rows: usize, scratch: &mut [f32], out: &mut [f32]) {
        if self.layers.len() == 1 {
            let n = rows * self.layers[0].outputs;
            out[..n].copy_from_slice(&h1[..n]);
            return;
        }
        Arch::new().dispatch(Forward {
            layers: &self.layers[1..],
            input: h1,
            rows,
            activate_input: true,
            scratch,
            out,
        });
    }
}

struct Forward<'a> {
    layers: &'a [Linear],
    input: &'a [f32],
    rows: usize,
    activate_input: bool,
    scratch: &'a mut [f32],
    out: &'a mut [f32],
}

impl WithSimd for Forward<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Self {
            layers,
            input,
            rows,
            activate_input,
            scratch,
            out,
        } = self;
        if layers.is_empty() {
            let n = out.len().min(input.len());
            out[..n].copy_from_slice(&input[..n]);
            if activate_input {
                silu_in_place(simd, &mut out[..n]);
            }
            return;
        }
        let half = scratch.len() / 2;
        let (a, b) = scratch.split_at_mut(half);
        let mut bufs = [a, b];
        let in_width = layers[0].inputs;
        let mut cur_in: usize; // which scratch buffer holds the current input, 2 = `input`
        if activate_input {
            let n = rows * in_width;
            bufs[0][..n].copy_from_slice(&input[..n]);
            silu_in_place(simd, &mut bufs[0][..n]);
            cur_in = 0;
        } else {
            cur_in = 2;
        }
        let last = layers.len() - 1;
        for (i, layer) in layers.iter().enumerate() {
            let n_in = rows * layer.inputs;
            let n_out = rows * layer.outputs;
            if i == last {
                let src: &[f32] = if cur_in == 2 {
                    &input[..n_in]
                } else {
                    &bufs[cur_in][..n_in]
                };
                linear(simd, layer, src, rows, &mut out[..n_out], false);
            } else {
                let dst_idx = if cur_in == 0 { 1 } else { 0 };
                let [b0, b1] = &mut bufs;
                let (src, dst): (&[f32], &mut [f32]) = match (cur_in, dst_idx) {
                    (2, _) => (&input[..n_in], &mut b0[..n_out]),
                    (0, _) => (&b0[..n_in], &mut b1[..n_out]),
                    _ => (&b1[..n_in], &mut b0[..n_out]),
                };
                linear(simd, layer, src, rows, dst, true);
                cur_in = dst_idx;
            }
        }
    }
}

/// `out[r] = input[r] · W + b` for every row, then SiLU when `activate` (applied to the
/// register tile before it is stored).
#[inline(always)]
fn linear<S: Simd>(
    simd: S,
    layer: &Linear,
    input: &[f32],
    rows: usize,
    out: &mut [f32],
    activate: bool,
) {
    let lanes = size_of::<S::f32s>() / size_of::<f32>();
    let (k_dim, n_dim) = (layer.inputs, layer.outputs);
    let tile = 4 * lanes;
    if n_dim % tile != 0 {
        linear_scalar(layer, input, rows, out);
        if activate {
            silu_in_place(simd, &mut out[..rows * n_dim]);
        }
        return;
    }
    let (wv, _) = S::as_simd_f32s(&layer.weight);
    let (bv, _) = S::as_simd_f32s(&layer.bias);
    let vec_per_row = n_dim / lanes;
    let mut r = 0;
    // Three rows share each weight load: 12 independent accumulators keep both FMA
    // pipes busy through the FMA latency (8 were not enough), in 16 vector registers.
    while r + 3 <= rows {
        let x0 = &input[r * k_dim..(r + 1) * k_dim];
        let x1 = &input[(r + 1) * k_dim..(r + 2) * k_dim];
        let x2 = &input[(r + 2) * k_dim..(r + 3) * k_dim];
        let (o0, rest) = out[r * n_dim..(r + 3) * n_dim].split_at_mut(n_dim);
        let (o1, o2) = rest.split_at_mut(n_dim);
        let (o0v, _) = S::as_mut_simd_f32s(o0);
        let (o1v, _) = S::as_mut_simd_f32s(o1);
        let (o2v, _) = S::as_mut_simd_f32s(o2);
        for t in (0..vec_per_row).step_by(4) {
            let mut a = [bv[t], bv[t + 1], bv[t + 2], bv[t + 3]];
            let mut b = a;
            let mut c = a;
            for (((wrow, &p0), &p1), &p2) in wv.chunks_exact(vec_per_row).zip(x0).zip(x1).zip(x2) {
                let s0 = simd.splat_f32s(p0);
                let s1 = simd.splat_f32s(p1);
                let s2 = simd.splat_f32s(p2);
                for j in 0..4 {
                    let w = wrow[t + j];
                    a[j] = simd.mul_add_e_f32s(s0, w, a[j]);
                    b[j] = simd.mul_add_e_f32s(s1, w, b[j]);
                    c[j] = simd.mul_add_e_f32s(s2, w, c[j]);
                }
            }
            if activate {
                for j in 0..4 {
                    a[j] = silu_simd(simd, a[j]);
                    b[j] = silu_simd(simd, b[j]);
                    c[j] = silu_simd(simd, c[j]);
                }
            }
            o0v[t..t + 4].copy_from_slice(&a);
            o1v[t..t + 4].copy_from_slice(&b);
            o2v[t..t + 4].copy_from_slice(&c);
        }
        r += 3;
    }
    while r < rows {
        let x0 = &input[r * k_dim..(r + 1) * k_dim];
        let (o0v, _) = S::as_mut_simd_f32s(&mut out[r * n_dim..(r + 1) * n_dim]);
        for t in (0..vec_per_row).step_by(4) {
            let mut a = [bv[t], bv[t + 1], bv[t + 2], bv[t + 3]];
            for (k, xk) in x0.iter().enumerate() {
                let s0 = simd.splat_f32s(*xk);
                let w = &wv[k * vec_per_row + t..k * vec_per_row + t + 4];
                for j in 0..4 {
                    a[j] = simd.mul_add_e_f32s(s0, w[j], a[j]);
                }
            }
            if activate {
                for v in &mut a {
                    *v = silu_simd(simd, *v);
                }
            }
            o0v[t..t + 4].copy_from_slice(&a);
        }
        r += 1;
    }
}

/// Plain loops for widths the tile does not divide (e.g. the 4-wide output layer).
#[inline(always)]
fn linear_scalar(layer: &Linear, input: &[f32], rows: usize, out: &mut [f32]) {
    let (k_dim, n_dim) = (layer.inputs, layer.outputs);
    for (x, o) in input
        .chunks_exact(k_dim)
        .zip(out.chunks_exact_mut(n_dim))
        .take(rows)
    {
        o.copy_from_slice(&layer.bias);
        for (k, xk) in x.iter().enumerate() {
            let w = &layer.weight[k * n_dim..(k + 1) * n_dim];
            for (oj, wj) in o.iter_mut().zip(w) {
                *oj += xk * wj;
            }
        }
    }
}

/// `x * sigmoid(x)` in place.
#[inline(always)]
fn silu_in_place<S: Simd>(simd: S, data: &mut [f32]) {
    let (head, tail) = S::as_mut_simd_f32s(data);
    for v in head {
        *v = silu_simd(simd, *v);
    }
    if !tail.is_empty() {
        let v = simd.partial_load_f32s(tail);
        simd.partial_store_f32s(tail, silu_simd(simd, v));
    }
}

#[inline(always)]
fn silu_simd<S: Simd>(simd: S, x: S::f32s) -> S::f32s {
    let e = exp_simd(simd, simd.sub_f32s(simd.splat_f32s(0.0), x));
    simd.div_f32s(x, simd.add_f32s(simd.splat_f32s(1.0), e))
}

/// Cephes `expf` on SIMD lanes; inputs are clamped to the finite range.
#[inline(always)]
fn exp_simd<S: Simd>(simd: S, x: S::f32s) -> S::f32s {
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer.
    const C1: f32 = 0.693_359_4;
    const C2: f32 = -2.121_944_4e-4;
    let x = simd.min_f32s(
        simd.max_f32s(x, simd.splat_f32s(-87.336_54)),
        simd.splat_f32s(88.376_26),
    );
    let t = simd.add_f32s(
        simd.mul_f32s(x, simd.splat_f32s(std::f32::consts::LOG2_E)),
        simd.splat_f32s(MAGIC),
    );
    let n = simd.sub_f32s(t, simd.splat_f32s(MAGIC));
    let r = simd.mul_add_e_f32s(n, simd.splat_f32s(-C1), x);
    let r = simd.mul_add_e_f32s(n, simd.splat_f32s(-C2), r);
    let mut p = simd.splat_f32s(1.987_569_2e-4);
    for c in [1.398_2e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_65, 0.5] {
        p = simd.mul_add_e_f32s(p, r, simd.splat_f32s(c));
    }
    let r2 = simd.mul_f32s(r, r);
    let y = simd.add_f32s(simd.mul_add_e_f32s(p, r2, r), simd.splat_f32s(1.0));
    // 2^n: the low mantissa bits of `t` hold n (two's complement, |n| < 2^22).
    let bits = simd.transmute_u32s_f32s(t);
    let biased = simd.sub_u32s(bits, simd.splat_u32s(0x4B40_0000 - 127));
    let pow2 = simd.transmute_f32s_u32s(simd.mul_u32s(biased, simd.splat_u32s(1 << 23)));
    simd.mul_f32s(y, pow2)
}

/// TripoSR's output activations on raw decoder rows `[d, f0, f1, f2]`:
/// density `exp(d - 1)` (`density_activation: exp`, `density_bias: -1.0`), clamped to
/// stay finite, and color `sigmoid(f)`.
#[inline]
pub fn activate(raw: &[f32]) -> (f32, [f32; 3]) {
    let density = (raw[0] + DENSITY_BIAS).min(88.0).exp();
    let color = [1, 2, 3].map(|i| 1.0 / (1.0 + (-raw[i]).exp()));
    (density, color)
}

/// Added to the raw density before `exp` (`density_bias` in TripoSR's renderer config).
pub const DENSITY_BIAS: f32 = -1.0;

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    fn random_mlp(sizes: &[usize], seed: u64) -> Mlp {
        let mut s = seed;
        let layers = sizes
            .windows(2)
            .map(|w| Linear {
                inputs: w[0],
                outputs: w[1],
                weight: (0..w[0] * w[1]).map(|_| lcg(&mut s) * 0.3).collect(),
                bias: (0..w[1]).map(|_| lcg(&mut s) * 0.1).collect(),
            })
            .collect();
        Mlp::new(layers).unwrap()
    }

    fn reference(mlp: &Mlp, x: &[f32]) -> Vec<f64> {
        let mut h: Vec<f64> = x.iter().map(|v| f64::from(*v)).collect();
        let n = mlp.layers().len();
        for (i, l) in mlp.layers().iter().enumerate() {
            let mut o: Vec<f64> = l.bias.iter().map(|b| f64::from(*b)).collect();
            for (k, hk) in h.iter().enumerate() {
                for (j, oj) in o.iter_mut().enumerate() {
                    *oj += hk * f64::from(l.weight[k * l.outputs + j]);
                }
            }
            if i + 1 < n {
                for v in &mut o {
                    *v /= 1.0 + (-*v).exp();
                }
            }
            h = o;
        }
        h
    }

    #[test]
    fn forward_matches_f64_reference() {
        let mlp = random_mlp(&[120, 64, 64, 64, 4], 7);
        // 7 and 8 rows: three-row tiles plus one and two single-row tails; 1 row: the
        // tail alone.
        for rows in [7, 8, 1] {
            let mut s = 99;
            let x: Vec<f32> = (0..rows * 120).map(|_| lcg(&mut s) * 3.0).collect();
            let mut scratch = vec![0.0; 2 * rows * mlp.max_width()];
            let mut out = vec![0.0; rows * 4];
            mlp.forward(&x, rows, &mut scratch, &mut out);
            for r in 0..rows {
                let want = reference(&mlp, &x[r * 120..(r + 1) * 120]);
                for j in 0..4 {
                    let g = f64::from(out[r * 4 + j]);
                    assert!(
                        (g - want[j]).abs() < 1e-5 * want[j].abs().max(1.0),
                        "{rows} rows, {r} {j}: {g} {}",
                        want[j]
                    );
                }
            }
        }
    }

    #[test]
    fn tail_equals_full_forward() {
        let mlp = random_mlp(&[12, 64, 64, 4], 3);
        let rows = 5;
        let mut s = 5;
        let x: Vec<f32> = (0..rows * 12).map(|_| lcg(&mut s)).collect();
        let first = Mlp::new(vec![mlp.layers()[0].clone()]).unwrap();
        let mut scratch = vec![0.0; 2 * rows * mlp.max_width()];
        let mut h1 = vec![0.0; rows * 64];
        first.forward(&x, rows, &mut scratch, &mut h1);
        let mut a = vec![0.0; rows * 4];
        let mut b = vec![0.0; rows * 4];
        mlp.forward(&x, rows, &mut scratch, &mut a);
        mlp.forward_tail(&h1, rows, &mut scratch, &mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn odd_widths_use_the_scalar_path() {
        let mlp = random_mlp(&[5, 6, 3], 11);
        let x = [0.1, -0.2, 0.3, 0.4, -0.5, 1.0, 0.0, 0.5, -1.0, 2.0];
        let mut scratch = vec![0.0; 2 * 2 * mlp.max_width()];
        let mut out = vec![0.0; 6];
        mlp.forward(&x, 2, &mut scratch, &mut out);
        for r in 0..2 {
            let want = reference(&mlp, &x[r * 5..(r + 1) * 5]);
            for j in 0..3 {
                assert!((f64::from(out[r * 3 + j]) - want[j]).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn simd_exp_is_accurate_and_finite() {
        let xs: Vec<f32> = (-1000..=1000).map(|i| i as f32 * 0.1).collect();
        let mut ys = xs.clone();
        // silu(x) = x * sigmoid(x); compare with f64.
        struct Run<'a>(&'a mut [f32]);
        impl WithSimd for Run<'_> {
            type Output = ();
            fn with_simd<S: Simd>(self, simd: S) {
                silu_in_place(simd, self.0);
            }
        }
        Arch::new().dispatch(Run(&mut ys));
        for (x, y) in xs.iter().zip(&ys) {
            let want = f64::from(*x) / (1.0 + (-f64::from(*x)).exp());
            assert!(y.is_finite());
            assert!(
                (f64::from(*y) - want).abs() <= 2e-6 * want.abs().max(1e-3),
                "{x}: {y} {want}"
            );
        }
        let mut big = [-200.0f32, 200.0, f32::MAX, -f32::MAX];
        Arch::new().dispatch(Run(&mut big));
        assert!(big.iter().all(|v| v.is_finite()), "{big:?}");
    }

    #[test]
    fn activation_matches_triposr() {
        let (d, c) = activate(&[1.0 + 25f32.ln(), 0.0, 100.0, -100.0]);
        assert!((d - 25.0).abs() < 1e-4);
        assert_eq!(c[0], 0.5);
        assert!(c[1] > 0.999 && c[2] < 1e-3);
        assert!(activate(&[1e9, 0.0, 0.0, 0.0]).0.is_finite());
    }

    #[test]
    fn shape_errors() {
        assert_eq!(Mlp::new(vec![]), Err(MlpError::Empty));
        let bad = Linear {
            inputs: 2,
            outputs: 2,
            weight: vec![0.0; 3],
            bias: vec![0.0; 2],
        };
        assert!(matches!(Mlp::new(vec![bad]), Err(MlpError::Shape { .. })));
        let a = Linear {
            inputs: 2,
            outputs: 3,
            weight: vec![0.0; 6],
            bias: vec![0.0; 3],
        };
        let b = Linear {
            inputs: 4,
            outputs: 1,
            weight: vec![0.0; 4],
            bias: vec![0.0; 1],
        };
        assert!(matches!(Mlp::new(vec![a, b]), Err(MlpError::Chain { .. })));
    }
}
