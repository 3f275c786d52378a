//! Texture baking: a [`Field`]'s color sampled over a mesh's UV atlas into an RGBA image.
//!
//! 1. Every triangle is scan-converted in UV space (texel centres, see `scan_convert`); the
//!    surface point of each covered texel is the barycentric blend of the triangle's
//!    3D corners. Rows are split into bands of [`BAND_ROWS`] texels, processed in
//!    parallel (rayon), each band taking the triangles binned to it.
//! 2. The surface points are evaluated in large batches ([`Field::preferred_batch`]),
//!    batches in parallel; colors are the field's sRGB values, stored as bytes.
//! 3. Texels no triangle covers are filled by push-pull (Gortler et al. 1996, "The
//!    Lumigraph", §3.4.2): covered colors are averaged down an image pyramid and
//!    interpolated back up into the holes, so chart borders bleed smoothly outwards and
//!    mipmaps and bilinear filtering never pick up an unrelated color across a seam.
//!
//! The texture is fully opaque; rows are top-down and `v = 0` is the first row, as
//! the mesh's UV convention says.

use image::RgbaImage;

use crate::export::to_u8;
use crate::limits::try_vec_with_capacity;
use crate::scan_convert::RasterTriangle;
use crate::{Error, Field, Limits, Mesh, Result};

/// Texel rows per parallel band.
pub const BAND_ROWS: u32 = 32;

/// Settings of [`bake_texture`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BakeOptions {
    /// Texture side in texels. By default, 1024.
    pub size: u32,
    /// Size caps. By default, [`Limits::default`].
    pub limits: Limits,
}

impl Default for BakeOptions {
    fn default() -> Self {
        Self {
            size: 1024,
            limits: Limits::default(),
        }
    }
}

/// Figures about a bake, for reports.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BakeStats {
    /// Texels whose centre some triangle covers (each evaluated once).
    pub covered_texels: usize,
    /// Texels filled from their surroundings (push-pull).
    pub filled_texels: usize,
}

/// Bakes `field`'s color over `mesh` (which must have UVs) into a `size`² texture.
pub fn bake_texture(mesh: &Mesh, field: &dyn Field, options: &BakeOptions) -> Result<RgbaImage> {
    bake_texture_with_stats(mesh, field, options).map(|(image, _)| image)
}

/// [`bake_texture`], also returning coverage figures.
pub fn bake_texture_with_stats(
    mesh: &Mesh,
    field: &dyn Field,
    options: &BakeOptions,
) -> Result<(RgbaImage, BakeStats)> {
    mesh.validate()?;
    let size = options.size;
    options.limits.check_texture_size(size)?;
    if size == 0 {
        return Err(Error::invalid_parameter(
            "texture size",
            "at least 1 texel",
            size,
        ));
    }
    if mesh.uvs.is_empty() {
        return Err(Error::invalid_parameter(
            "uvs",
            "texture coordinates on the mesh to bake (build an atlas first)",
            "a mesh without uvs",
        ));
    }
    let _span = tracing::debug_span!("bake", size, triangles = mesh.triangles.len()).entered();
    let texels = (size as usize) * (size as usize);

    // 1. Bin triangles by band, then scan-convert bands in parallel.
    let bands = size.div_ceil(BAND_ROWS) as usize;
    let s = f64::from(size);
    let prepared: Vec<Option<RasterTriangle>> = mesh
        .triangles
        .iter()
        .map(|t| {
            RasterTriangle::new(t.map(|i| {
                let uv = mesh.uvs[i as usize];
                [f64::from(uv[0]) * s, f64::from(uv[1]) * s]
            }))
        })
        .collect();
    let mut band_start = vec![0u32; bands + 1];
    for r in prepared.iter().flatten() {
        let rows = r.rows(size);
        if !rows.is_empty() {
            for b in (rows.start / BAND_ROWS)..=((rows.end - 1) / BAND_ROWS) {
                band_start[b as usize + 1] += 1;
            }
        }
    }
    for b in 1..=bands {
        band_start[b] += band_start[b - 1];
    }
    let mut fill = band_start.clone();
    let mut band_tris = vec![0u32; band_start[bands] as usize];
    for (ti, r) in prepared.iter().enumerate() {
        if let Some(r) = r {
            let rows = r.rows(size);
            if !rows.is_empty() {
                for b in (rows.start / BAND_ROWS)..=((rows.end - 1) / BAND_ROWS) {
                    band_tris[fill[b as usize] as usize] = ti as u32;
                    fill[b as usize] += 1;
                }
            }
        }
    }
    let raster_band = |b: usize| -> (Vec<u32>, Vec<[f32; 3]>) {
        let y_lo = b as u32 * BAND_ROWS;
        let y_hi = (y_lo + BAND_ROWS).min(size);
        let mut idx = Vec::new();
        let mut pts = Vec::new();
        for &ti in &band_tris[band_start[b] as usize..band_start[b + 1] as usize] {
            let Some(r) = &prepared[ti as usize] else {
                continue;
            };
            let [a, bq, c] = mesh.triangles[ti as usize].map(|i| mesh.positions[i as usize]);
            let rows = r.rows(size);
            for y in rows.start.max(y_lo)..rows.end.min(y_hi) {
                let Some((x0, x1, mut l, step)) = r.span(y, size) else {
                    continue;
                };
                let row = y as usize * size as usize;
                for x in x0..x1 {
                    idx.push((row + x as usize) as u32);
                    pts.push(std::array::from_fn(|k| {
                        l[0] * a[k] + l[1] * bq[k] + l[2] * c[k]
                    }));
                    for k in 0..3 {
                        l[k] += step[k];
                    }
                }
            }
        }
        (idx, pts)
    };
    #[cfg(feature = "rayon")]
    let per_band: Vec<(Vec<u32>, Vec<[f32; 3]>)> = {
        use rayon::prelude::*;
        (0..bands).into_par_iter().map(raster_band).collect()
    };
    #[cfg(not(feature = "rayon"))]
    let per_band: Vec<(Vec<u32>, Vec<[f32; 3]>)> = (0..bands).map(raster_band).collect();
    let covered: usize = per_band.iter().map(|b| b.0.len()).sum();
    let mut texel_of: Vec<u32> = try_vec_with_capacity(covered, "texel indices of the bake")?;
    let mut points: Vec<[f32; 3]> = try_vec_with_capacity(covered, "surface points of the bake")?;
    for (i, p) in per_band {
        texel_of.extend(i);
        points.extend(p);
    }

    // 2. Evaluate the colors in batches.
    let mut colors = vec![[0.0f32; 3]; covered];
    let batch = field.preferred_batch().max(1024);
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        points
            .par_chunks(batch)
            .zip(colors.par_chunks_mut(batch))
            .try_for_each(|(p, c)| field.eval_color(p, c))?;
    }
    #[cfg(not(feature = "rayon"))]
    for (p, c) in points.chunks(batch).zip(colors.chunks_mut(batch)) {
        field.eval_color(p, c)?;
    }

    // 3. Scatter, then fill the rest by push-pull.
    let mut rgb: Vec<[f32; 3]> = try_vec_with_capacity(texels, "the texture being baked")?;
    rgb.resize(texels, [0.0; 3]);
    let mut weight = vec![0.0f32; texels];
    for (&t, c) in texel_of.iter().zip(&colors) {
        rgb[t as usize] = c.map(|v| {
            if v.is_finite() {
                v.clamp(0.0, 1.0)
            } else {
                0.0
            }
        });
        weight[t as usize] = 1.0;
    }
    let covered_texels = weight.iter().filter(|&&w| w > 0.0).count();
    push_pull(&mut rgb, &weight, size as usize, size as usize);

    let mut image = RgbaImage::new(size, size);
    for (px, c) in image.pixels_mut().zip(&rgb) {
        *px = image::Rgba([to_u8(c[0]), to_u8(c[1]), to_u8(c[2]), 255]);
    }
    let stats = BakeStats {
        covered_texels,
        filled_texels: texels - covered_texels,
    };
    tracing::debug!(?stats, "baked");
    Ok((image, stats))
}

/// Fills texels of weight 0 from their surroundings (see the module docs). `weight` is
/// 1 for known texels and 0 for holes; known texels keep their color.
pub(crate) fn push_pull(rgb: &mut [[f32; 3]], weight: &[f32], w: usize, h: usize) {
    if w == 0 || h == 0 || weight.iter().all(|&x| x > 0.0) {
        return;
    }
    if weight.iter().all(|&x| x <= 0.0) {
        rgb.fill([0.5; 3]);
        return;
    }
    // Pull: premultiplied colors and weights down to 1x1.
    let mut levels: Vec<(usize, usize, Vec<[f32; 4]>)> = vec![(
        w,
        h,
        rgb.iter()
            .zip(weight)
            .map(|(c, &a)| [c[0] * a, c[1] * a, c[2] * a, a])
            .collect(),
    )];
    while let Some((lw, lh, last)) = levels.last()
        && (*lw > 1 || *lh > 1)
    {
        let (cw, ch) = (lw.div_ceil(2), lh.div_ceil(2));
        let mut coarse = vec![[0.0f32; 4]; cw * ch];
        for y in 0..ch {
            for x in 0..cw {
                let mut acc = [0.0f32; 4];
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let (fx, fy) = (2 * x + dx, 2 * y + dy);
                    if fx < *lw && fy < *lh {
                        let v = last[fy * lw + fx];
                        for k in 0..4 {
                            acc[k] += v[k];
                        }
                    }
                }
                // Normalise to a weighted mean with weight min(1, total).
                if acc[3] > 0.0 {
                    let wgt = acc[3].min(1.0);
                    let s = wgt / acc[3];
                    acc = [acc[0] * s, acc[1] * s, acc[2] * s, wgt];
                }
                coarse[y * cw + x] = acc;
            }
        }
        levels.push((cw, ch, coarse));
    }
    // Push: fill each level's holes from the (bilinearly sampled) level above.
    for li in (0..levels.len() - 1).rev() {
        let (upper, lower) = levels.split_at_mut(li + 1);
        let (fw, fh, fine) = &mut upper[li];
        let (cw, ch, coarse) = &lower[0];
        let sample = |x: f32, y: f32| -> [f32; 4] {
            // Coarse texel centres sit at fine coordinates 2i + 0.5.
            let gx = ((x - 0.5) / 2.0).clamp(0.0, (*cw - 1) as f32);
            let gy = ((y - 0.5) / 2.0).clamp(0.0, (*ch - 1) as f32);
            let (x0, y0) = (gx.floor() as usize, gy.floor() as usize);
            let (x1, y1) = ((x0 + 1).min(cw - 1), (y0 + 1).min(ch - 1));
            let (tx, ty) = (gx - x0 as f32, gy - y0 as f32);
            let mut out = [0.0f32; 4];
            for (xx, yy, wgt) in [
                (x0, y0, (1.0 - tx) * (1.0 - ty)),
                (x1, y0, tx * (1.0 - ty)),
                (x0, y1, (1.0 - tx) * ty),
                (x1, y1, tx * ty),
            ] {
                let v = coarse[yy * cw + xx];
                for k in 0..4 {
                    out[k] += wgt * v[k];
                }
            }
            out
        };
        for y in 0..*fh {
            for x in 0..*fw {
                let v = &mut fine[y * *fw + x];
                if v[3] >= 1.0 {
                    continue;
                }
                let c = sample(x as f32, y as f32);
                // Coarse values are premultiplied means with weight c[3] <= 1.
                let cm = if c[3] > 0.0 {
                    [c[0] / c[3], c[1] / c[3], c[2] / c[3]]
                } else {
                    [0.5; 3]
                };
                let missing = 1.0 - v[3];
                for k in 0..3 {
                    v[k] += missing * cm[k];
                }
                v[3] = 1.0;
            }
        }
    }
    for (c, v) in rgb.iter_mut().zip(&levels[0].2) {
        *c = [v[0], v[1], v[2]];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FieldError;
    use crate::export::test_assets::cube;
    use crate::field::analytic::{SphereSdf, position_color};

    /// The cube's faces each own a UV rectangle; texels inside must carry the field's
    /// color at the matching surface point.
    #[test]
    fn texels_carry_the_field_color_at_their_surface_point() {
        let mut mesh = cube();
        mesh.colors.clear();
        let field = SphereSdf::new(0.5);
        let size = 64;
        let (img, stats) = bake_texture_with_stats(
            &mesh,
            &field,
            &BakeOptions {
                size,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(stats.covered_texels > 0 && stats.filled_texels > 0);
        // Face 4 (+Z): uv cell (1/3.., 1/2..); the face square maps u -> x, v -> -y.
        // Check the texel at the face centre.
        let (cu, cv) = (1.0 / 3.0 + 0.5 / 3.0, 0.5 + 0.5 / 2.0);
        let (x, y) = ((cu * size as f32) as u32, (cv * size as f32) as u32);
        let got = img.get_pixel(x, y).0;
        // Texel centre -> surface point on the +Z face: invert the cube's uv formula.
        let u_local = ((x as f32 + 0.5) / size as f32 - 1.0 / 3.0) * 3.0; // 0.05..0.95
        let v_local = ((y as f32 + 0.5) / size as f32 - 0.5) * 2.0;
        let su = (u_local - 0.05) / 0.45 - 1.0;
        let sv = 1.0 - (v_local - 0.05) / 0.45;
        let p = [0.5 * su, 0.5 * sv, 0.5];
        let want = position_color(p).map(to_u8);
        for k in 0..3 {
            assert!(
                got[k].abs_diff(want[k]) <= 1,
                "{got:?} vs {want:?} at {p:?}"
            );
        }
        // Everything is opaque and holes are filled with nearby colors, not black.
        assert!(img.pixels().all(|p| p.0[3] == 255));
        let corner = img.get_pixel(size - 1, size - 1).0;
        assert!(corner[..3].iter().any(|&c| c > 40), "{corner:?}");
    }

    #[test]
    fn push_pull_keeps_known_texels_and_fills_holes_smoothly() {
        let (w, h) = (9, 5);
        let mut rgb = vec![[0.0f32; 3]; w * h];
        let mut weight = vec![0.0f32; w * h];
        // Left column red, right column blue.
        for y in 0..h {
            rgb[y * w] = [1.0, 0.0, 0.0];
            weight[y * w] = 1.0;
            rgb[y * w + w - 1] = [0.0, 0.0, 1.0];
            weight[y * w + w - 1] = 1.0;
        }
        push_pull(&mut rgb, &weight, w, h);
        assert_eq!(rgb[0], [1.0, 0.0, 0.0]);
        assert_eq!(rgb[w - 1], [0.0, 0.0, 1.0]);
        // Redder near the red side, bluer near the blue side.
        let near_red = rgb[2 * w + 1];
        let near_blue = rgb[2 * w + w - 2];
        assert!(near_red[0] > near_red[2], "{near_red:?}");
        assert!(near_blue[2] > near_blue[0], "{near_blue:?}");
        assert!(rgb.iter().flatten().all(|c| (0.0..=1.0).contains(c)));
    }

    struct Failing;
    impl Field for Failing {
        fn name(&self) -> &str {
            "failing"
        }
        fn bounds(&self) -> crate::Bounds {
            crate::Bounds::cube(1.0)
        }
        fn surface(&self) -> crate::Surface {
            SphereSdf::new(0.5).surface()
        }
        fn eval_scalar(&self, _: &[[f32; 3]], _: &mut [f32]) -> Result<(), FieldError> {
            Ok(())
        }
        fn eval_color(&self, _: &[[f32; 3]], _: &mut [[f32; 3]]) -> Result<(), FieldError> {
            Err(FieldError::new("failing", "decoder exploded"))
        }
    }

    #[test]
    fn errors() {
        let field = SphereSdf::new(0.5);
        let mut no_uv = cube();
        no_uv.uvs.clear();
        assert!(matches!(
            bake_texture(&no_uv, &field, &BakeOptions::default()),
            Err(Error::InvalidParameter { name: "uvs", .. })
        ));
        for size in [0, 100_000] {
            assert!(
                bake_texture(
                    &cube(),
                    &field,
                    &BakeOptions {
                        size,
                        ..Default::default()
                    }
                )
                .is_err()
            );
        }
        let err = bake_texture(
            &cube(),
            &Failing,
            &BakeOptions {
                size: 32,
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("decoder exploded"), "{err}");
    }
}
