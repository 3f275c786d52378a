//! Seeded Gaussian noise that reproduces PyTorch's CPU generator, so a seed gives the
//! same initial latents and ancestral noise as diffusers with
//! `torch.Generator("cpu").manual_seed(seed)`, on every device (the noise is always drawn
//! on the CPU, as diffusers' `randn_tensor` does for a CPU generator).
//!
//! What it mirrors (PyTorch, `aten/src/ATen/core/MT19937RNGEngine.h`,
//! `CPUGeneratorImpl.cpp`, `core/TransformationHelper.h`,
//! `native/cpu/DistributionTemplates.h`):
//!
//! * the engine is a 32-bit MT19937 seeded with the low 32 bits of the seed (the classic
//!   `init_genrand`);
//! * a float32 uniform is the low 24 bits of one 32-bit draw times 2⁻²⁴; a float64 uniform
//!   the low 53 bits of two draws (first draw high) times 2⁻⁵³;
//! * `randn` of at least 16 values first fills the whole tensor with float32 uniforms, then
//!   turns each block of 16 into normals by Box–Muller (values 0..8 are u₁, 8..16 are u₂;
//!   `r = √(−2 ln(1−u₁))`, `θ = 2π u₂`, `r cos θ` into the first half and `r sin θ` into
//!   the second), in float32 with the Cephes `ln`/`sin`/`cos` polynomials of ATen's
//!   `avx_mathfun.h` (PyTorch's x86-64 kernel); when the count is not a multiple of 16, the
//!   last 16 values are drawn again and transformed again;
//! * `randn` of fewer than 16 values draws one float64 normal per value (Box–Muller on two
//!   float64 uniforms, `r = √(−2 log1p(−u₂))`, `θ = 2π u₁`, returning `r cos θ` and keeping
//!   `r sin θ` for the next value), cast to float32.
//!
//! PyTorch on x86-64 runs its AVX2 kernel on every CPU with AVX2 (also on AVX-512 ones: the
//! dispatcher does not register an AVX-512 variant of `normal`), and that is what is
//! reproduced bit for bit. Its portable kernel (CPUs without AVX2, other architectures)
//! uses the C library's `log`/`cos`/`sin` instead and so differs from it, and from this, in
//! the last bits of some values; the stream of uniforms, and so everything else, is the
//! same.

/// MT19937 state size.
const N: usize = 624;
/// MT19937 shift size.
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// PyTorch's CPU random generator (`torch.Generator("cpu")`): MT19937 plus the cached
/// second float64 normal.
#[derive(Clone)]
pub struct TorchGenerator {
    state: [u32; N],
    next: usize,
    seed: u64,
    cached_normal: Option<f64>,
}

impl std::fmt::Debug for TorchGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TorchGenerator")
            .field("seed", &self.seed)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl TorchGenerator {
    /// `torch.Generator("cpu").manual_seed(seed)`.
    pub fn new(seed: u64) -> Self {
        let mut state = [0u32; N];
        state[0] = seed as u32;
        for j in 1..N {
            let prev = state[j - 1];
            state[j] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(j as u32);
        }
        Self {
            state,
            next: N,
            seed,
            cached_normal: None,
        }
    }

    /// The seed it was created with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// One 32-bit draw.
    pub fn next_u32(&mut self) -> u32 {
        if self.next >= N {
            self.twist();
        }
        let mut y = self.state[self.next];
        self.next += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    fn twist(&mut self) {
        let mix = |u: u32, v: u32| {
            let y = (u & UPPER_MASK) | (v & LOWER_MASK);
            (y >> 1) ^ if v & 1 == 1 { MATRIX_A } else { 0 }
        };
        for i in 0..N {
            let j = (i + 1) % N;
            self.state[i] = self.state[(i + M) % N] ^ mix(self.state[i], self.state[j]);
        }
        self.next = 0;
    }

    /// `random64()`: two draws, the first one high.
    fn next_u64(&mut self) -> u64 {
        let hi = u64::from(self.next_u32());
        let lo = u64::from(self.next_u32());
        (hi << 32) | lo
    }

    /// A float32 uniform in `[0, 1)`: 24 random bits.
    fn uniform_f32(&mut self) -> f32 {
        (self.next_u32() & 0x00ff_ffff) as f32 * (1.0 / 16_777_216.0)
    }

    /// A float64 uniform in `[0, 1)`: 53 random bits.
    fn uniform_f64(&mut self) -> f64 {
        (self.next_u64() & ((1u64 << 53) - 1)) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// One float64 standard normal (`at::normal_distribution<double>`), with its cache.
    fn normal_f64(&mut self) -> f64 {
        if let Some(v) = self.cached_normal.take() {
            return v;
        }
        let u1 = self.uniform_f64();
        let u2 = self.uniform_f64();
        let r = (-2.0 * (-u2).ln_1p()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u1;
        self.cached_normal = Some(r * theta.sin());
        r * theta.cos()
    }

    /// `torch.randn(out.len(), generator=self)` (float32, contiguous) into `out`.
    pub fn fill_randn(&mut self, out: &mut [f32]) {
        let n = out.len();
        if n < 16 {
            for v in out.iter_mut() {
                *v = self.normal_f64() as f32;
            }
            return;
        }
        for v in out.iter_mut() {
            *v = self.uniform_f32();
        }
        for block in out.chunks_exact_mut(16) {
            box_muller_16(block);
        }
        if !n.is_multiple_of(16) {
            let tail = &mut out[n - 16..];
            for v in tail.iter_mut() {
                *v = self.uniform_f32();
            }
            box_muller_16(tail);
        }
    }

    /// `torch.randn(len, generator=self)` as a new vector.
    pub fn randn(&mut self, len: usize) -> Vec<f32> {
        let mut v = vec![0.0; len];
        self.fill_randn(&mut v);
        v
    }
}

/// ATen's `NormalFill16` on 16 uniforms, as its AVX2 kernel computes it (the kernel
/// PyTorch runs on x86-64 CPUs with AVX2, AVX-512 included): float32 throughout, `ln` and
/// `sin`/`cos` by the Cephes polynomials of `avx_mathfun.h`, evaluated here one lane at a
/// time with the same operations in the same order, including the multiply-adds the
/// compiler of PyTorch's release builds fuses (found by matching 16384 values bit for
/// bit), so the values are bit-identical.
fn box_muller_16(data: &mut [f32]) {
    let two_pi = (2.0 * std::f64::consts::PI) as f32;
    for j in 0..8 {
        let u1 = 1.0 - data[j];
        let u2 = data[j + 8];
        let radius = (-2.0 * cephes_ln(u1)).sqrt();
        let (sin, cos) = cephes_sincos(two_pi * u2);
        data[j] = radius * cos;
        data[j + 8] = radius * sin;
    }
}

/// Cephes `logf` for `x` in `(0, 1]` as `avx_mathfun.h`'s `log256_ps` evaluates it:
/// `x = m · 2^e` with `m` in `[0.5, 1)`, folded to `[√½, √2)`, then a degree-8 polynomial.
fn cephes_ln(x: f32) -> f32 {
    // Cephes logf coefficients, written as the float32 values they round to
    const P: [f32; 9] = [
        0.070_376_836,
        -0.115_146_1,
        0.116_769_984,
        -0.124_201_41,
        0.142_493_23,
        -0.166_680_57,
        0.200_007_14,
        -0.249_999_94,
        0.333_333_3,
    ];
    const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;
    let x = x.max(f32::MIN_POSITIVE);
    let bits = x.to_bits();
    let mut e = ((bits >> 23) as i32 - 0x7f) as f32 + 1.0;
    let mut m = f32::from_bits((bits & !0x7f80_0000) | 0.5f32.to_bits());
    let small = m < SQRT_HALF;
    let fold = if small { m } else { 0.0 };
    m -= 1.0;
    if small {
        e -= 1.0;
    }
    let x = m + fold;
    let z = x * x;
    let mut y = P[0];
    for &p in &P[1..] {
        y = y.mul_add(x, p);
    }
    y = (y * x).mul_add(z, e * -0.000_212_194_44);
    y = (-z).mul_add(0.5, y);
    e.mul_add(0.693_359_4, x + y)
}

/// Cephes `sinf`/`cosf` for `x >= 0` as `avx_mathfun.h`'s `sincos256_ps` evaluates them:
/// reduction by multiples of π/4 in three parts, then the sine or cosine polynomial by
/// octant.
fn cephes_sincos(x: f32) -> (f32, f32) {
    const FOUR_OVER_PI: f32 = 1.273_239_5;
    let j = (((x * FOUR_OVER_PI) as i32) + 1) & !1;
    let y = j as f32;
    let x = y.mul_add(
        -3.774_895e-8,
        y.mul_add(-0.000_241_875_65, y.mul_add(-0.785_156_25, x)),
    );
    let z = x * x;
    let mut c = 2.443_315_7e-5f32;
    c = c.mul_add(z, -0.001_388_731_6);
    c = c.mul_add(z, 0.041_666_646);
    c = (c * z).mul_add(z, -(z * 0.5)) + 1.0;
    let mut s = -0.000_195_152_96f32;
    s = s.mul_add(z, 0.008_332_161);
    s = s.mul_add(z, -0.166_666_55);
    s = (s * z).mul_add(x, x);
    let (mut sin, mut cos) = if j & 2 == 0 { (s, c) } else { (c, s) };
    if j & 4 != 0 {
        sin = -sin;
    }
    if !(j - 2) & 4 != 0 {
        cos = -cos;
    }
    (sin, cos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_matches_the_reference_sequence() {
        // The 10000th output of std::mt19937 with its default seed 5489 is 4123659995
        // (C++11 [rand.predef]).
        let mut g = TorchGenerator::new(5489);
        let mut last = 0;
        for _ in 0..10_000 {
            last = g.next_u32();
        }
        assert_eq!(last, 4_123_659_995);
    }

    #[test]
    fn normals_have_unit_spread_and_a_ragged_tail_is_redrawn() {
        let mut g = TorchGenerator::new(0);
        let v = g.randn(100_000);
        let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64;
        let var = v
            .iter()
            .map(|&x| (f64::from(x) - mean).powi(2))
            .sum::<f64>()
            / v.len() as f64;
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.02,
            "{mean} {var}"
        );
        // 20 values: the first 16 are the same as those of a 16-value draw.
        let a = TorchGenerator::new(7).randn(16);
        let b = TorchGenerator::new(7).randn(20);
        assert_eq!(a[..4], b[..4]);
        assert_ne!(a[4..16], b[4..16]);
    }
}
