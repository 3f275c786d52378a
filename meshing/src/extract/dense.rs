//! Marching cubes over a dense volume: classify every point into the sign bits (pass 1),
//! then hand the bits to the shared core in [`super::mc`].

use super::mc::{Amounts, Bits, mesh_bits, par_layers};
use crate::{Error, Grid, Inside, Limits, Mesh, Result, Surface};

/// Effective amounts read from a dense volume.
pub(crate) struct DenseAmounts<'a> {
    pub values: &'a [f32],
    pub dims: [usize; 3],
    pub surface: Surface,
}

impl Amounts for DenseAmounts<'_> {
    #[inline]
    fn amount(&self, i: usize, j: usize, k: usize) -> f32 {
        let [nx, ny, nz] = self.dims;
        let a = self
            .surface
            .inside_amount(self.values[i + nx * (j + ny * k)]);
        if i == 0 || j == 0 || k == 0 || i + 1 == nx || j + 1 == ny || k + 1 == nz {
            a.min(0.0)
        } else {
            a
        }
    }
}

/// Packs the inside bits of one x-row; returns true when the row holds a NaN.
///
/// Eight comparisons become eight 0/1 bytes, and one multiplication gathers them into a
/// byte (`0x0102_0408_1020_4080` moves byte `i`'s low bit to bit `56 + i`), so the
/// compiler can compare whole vectors and no bit is shifted in one at a time.
#[inline]
fn classify_row<const ABOVE: bool>(values: &[f32], level: f32, out: &mut [u64]) -> bool {
    let mut nan = false;
    for (word, chunk) in out.iter_mut().zip(values.chunks(64)) {
        let mut bits = 0u64;
        if chunk.len() == 64 {
            for (g, eight) in chunk.chunks_exact(8).enumerate() {
                let mut b = [0u8; 8];
                let mut n = false;
                for (x, &v) in b.iter_mut().zip(eight) {
                    *x = u8::from(if ABOVE { v > level } else { v < level });
                    n |= v.is_nan();
                }
                nan |= n;
                bits |=
                    (u64::from_le_bytes(b).wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * g);
            }
        } else {
            for (b, &v) in chunk.iter().enumerate() {
                let inside = if ABOVE { v > level } else { v < level };
                bits |= u64::from(inside) << b;
                nan |= v.is_nan();
            }
        }
        *word = bits;
    }
    nan
}

/// Classifies a dense volume into sign bits (faces of the grid forced outside).
/// [`Error::NoSurface`] when every value is on the same side of the level.
pub(crate) fn classify(values: &[f32], dims: [usize; 3], surface: Surface) -> Result<Bits> {
    let mut bits = Bits::new(dims)?;
    let [nx, ny, _] = dims;
    let words = bits.words_per_row;
    let level = surface.level;
    let has_nan = std::sync::atomic::AtomicBool::new(false);
    par_layers(&mut bits.words, words * ny, |k, layer| {
        let vals = &values[k * nx * ny..(k + 1) * nx * ny];
        let mut nan = false;
        for (row_bits, row_vals) in layer.chunks_exact_mut(words).zip(vals.chunks_exact(nx)) {
            nan |= match surface.inside {
                Inside::Above => classify_row::<true>(row_vals, level, row_bits),
                Inside::Below => classify_row::<false>(row_vals, level, row_bits),
            };
        }
        if nan {
            has_nan.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    if has_nan.into_inner() {
        let index = values.iter().position(|v| v.is_nan()).unwrap_or(0);
        return Err(Error::NotFinite {
            what: "volume value".into(),
            index,
        });
    }
    // A volume entirely on one side has no surface (the caps alone would make a box).
    let inside: u64 = bits.words.iter().map(|w| u64::from(w.count_ones())).sum();
    if inside == 0 || inside == values.len() as u64 {
        return Err(Error::NoSurface {
            level: surface.level,
        });
    }
    bits.clear_boundary();
    Ok(bits)
}

/// Dense marching cubes; see [`crate::extract::marching_cubes`].
pub(crate) fn marching_cubes_dense(
    values: &[f32],
    grid: &Grid,
    surface: Surface,
    limits: &Limits,
) -> Result<Mesh> {
    let dims = grid.dims;
    let expected = grid
        .point_count()
        .ok_or_else(|| Error::invalid_parameter("grid", "a point count that fits", "overflow"))?;
    if dims.iter().any(|&d| d < 2) {
        return Err(Error::invalid_parameter(
            "grid dims",
            "at least 2 points per axis",
            format!("{dims:?}"),
        ));
    }
    for &d in &dims {
        limits.check_grid_resolution(d)?;
    }
    if values.len() != expected {
        return Err(Error::invalid_parameter(
            "values",
            format!("{expected} values for a {dims:?} grid"),
            values.len(),
        ));
    }
    if !grid.bounds.is_valid() {
        return Err(Error::invalid_parameter(
            "bounds",
            "finite bounds with max > min on every axis",
            format!("{:?}", grid.bounds),
        ));
    }
    if !surface.level.is_finite() {
        return Err(Error::invalid_parameter(
            "iso level",
            "a finite number",
            surface.level,
        ));
    }
    let bits = classify(values, dims, surface)?;
    let amounts = DenseAmounts {
        values,
        dims,
        surface,
    };
    mesh_bits(&bits, &amounts, grid, limits)
}
