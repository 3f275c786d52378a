//! A small CPU rasteriser for previews and fidelity checks: z-buffer, perspective-correct
//! attribute interpolation (Heckbert & Moreton 1991: attributes over `w` are affine in
//! screen space), mipmapped bilinear texture lookup, and a simple studio lighting rig.
//! No GPU, no display.
//!
//! * [`render`] draws one view of an [`Asset`] into an image with a coverage mask;
//! * [`preview`] lays out a turntable sheet ([`render_preview`]);
//! * [`fidelity`] renders from the input camera and compares with the input picture.
//!
//! Rows are split into bands rendered in parallel, each band owning its slice of the
//! colour and depth buffers. Pixels are sampled at their centres with the shared
//! top-left rule (`scan_convert`), so meshes with shared edges leave no cracks; supersampling
//! ([`RenderOptions::supersample`]) gives antialiased edges.

pub mod fidelity;
pub mod preview;

pub use fidelity::{Fidelity, fidelity};
pub use preview::{PreviewOptions, render_preview};

use image::RgbaImage;

use crate::convert_coordinates::Transform;
use crate::export::{linear_to_srgb, srgb_to_linear, to_u8};
use crate::mesh::{cross, dot, length, sub};
use crate::scan_convert::RasterTriangle;
use crate::{Asset, Error, Limits, Result};

/// How a camera projects.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Projection {
    /// Pinhole camera with a vertical field of view.
    Perspective {
        /// Vertical field of view in degrees.
        fov_y_deg: f32,
    },
    /// Parallel projection.
    Orthographic {
        /// Half the visible height, in world units.
        half_height: f32,
    },
}

/// A camera: a pose (eye, target, up) and a projection. The image's aspect ratio comes
/// from the image being rendered; its rows go top-down (+up is row 0's side).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Camera {
    /// Position of the eye (perspective) or of the view plane's centre (orthographic).
    pub eye: [f32; 3],
    /// A point the camera looks at.
    pub target: [f32; 3],
    /// Approximate up direction (made perpendicular to the view direction).
    pub up: [f32; 3],
    /// The projection.
    pub projection: Projection,
}

impl Camera {
    /// A perspective camera on a sphere around `center`: `azimuth_deg` turns about +Y
    /// starting from +Z (the object's front) towards +X, `elevation_deg` lifts it
    /// towards +Y; `distance` from the centre.
    pub fn orbit(
        center: [f32; 3],
        distance: f32,
        azimuth_deg: f32,
        elevation_deg: f32,
        fov_y_deg: f32,
    ) -> Self {
        let (az, el) = (azimuth_deg.to_radians(), elevation_deg.to_radians());
        let dir = [az.sin() * el.cos(), el.sin(), az.cos() * el.cos()];
        Self {
            eye: std::array::from_fn(|k| center[k] + distance * dir[k]),
            target: center,
            up: [0.0, 1.0, 0.0],
            projection: Projection::Perspective { fov_y_deg },
        }
    }

    /// The camera seen through `t` (a similarity: rotation, uniform scale, translation),
    /// e.g. the input camera carried along when the mesh is moved into glTF's frame.
    pub fn transformed(&self, t: &Transform) -> Self {
        let scale = t.determinant().abs().cbrt();
        Self {
            eye: t.apply_point(self.eye),
            target: t.apply_point(self.target),
            up: t.apply_vector(self.up),
            projection: match self.projection {
                Projection::Orthographic { half_height } => Projection::Orthographic {
                    half_height: half_height * scale,
                },
                p => p,
            },
        }
    }

    /// The view basis: right, up, forward (unit), or `None` if degenerate.
    fn basis(&self) -> Option<([f32; 3], [f32; 3], [f32; 3])> {
        let f = sub(self.target, self.eye);
        let lf = length(f);
        if !(lf > 0.0 && lf.is_finite()) {
            return None;
        }
        let f = f.map(|c| c / lf);
        let r = cross(f, self.up);
        let lr = length(r);
        if lr.is_nan() || lr <= 1e-6 {
            return None;
        }
        let r = r.map(|c| c / lr);
        Some((r, cross(r, f), f))
    }
}

/// How surfaces are shaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Shading {
    /// Base color only (texture × vertex color × factor): what the fidelity check
    /// compares with the input picture.
    Unlit,
    /// A studio rig: a key light from the upper left, a fill from the right, a rim light
    /// from behind and a sky/ground ambient, all fixed to the camera.
    Studio,
}

/// Settings of [`render`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenderOptions {
    /// Shading. By default, [`Shading::Studio`].
    pub shading: Shading,
    /// Samples per pixel along each axis (1 = none). By default, 2.
    pub supersample: u32,
    /// Draw back faces too. By default, `None`: as the material's `double_sided` says.
    pub double_sided: Option<bool>,
    /// Size caps for the image. By default, [`Limits::default`].
    pub limits: Limits,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            shading: Shading::Studio,
            supersample: 2,
            double_sided: None,
            limits: Limits::default(),
        }
    }
}

/// A rendered view: sRGB colors with alpha = coverage (0 where the background shows).
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Colors, straight (not premultiplied) alpha.
    pub image: RgbaImage,
}

impl Rendered {
    /// Alpha-composites the view over a background image of the same size.
    pub fn over(&self, background: &RgbaImage) -> RgbaImage {
        let mut out = background.clone();
        for (o, s) in out.pixels_mut().zip(self.image.pixels()) {
            let a = f32::from(s.0[3]) / 255.0;
            for k in 0..3 {
                let v = f32::from(s.0[k]) * a + f32::from(o.0[k]) * (1.0 - a);
                o.0[k] = v.round() as u8;
            }
        }
        out
    }
}

/// A linear-light texture pyramid (box-filtered), for trilinear-free mipmapped lookup.
struct Mips {
    levels: Vec<(usize, usize, Vec<[f32; 3]>)>,
}

impl Mips {
    fn new(img: &RgbaImage) -> Self {
        let lut: Vec<f32> = (0..256).map(|i| srgb_to_linear(i as f32 / 255.0)).collect();
        let (w, h) = (img.width() as usize, img.height() as usize);
        let base: Vec<[f32; 3]> = img
            .pixels()
            .map(|p| {
                [
                    lut[p.0[0] as usize],
                    lut[p.0[1] as usize],
                    lut[p.0[2] as usize],
                ]
            })
            .collect();
        let mut levels = vec![(w, h, base)];
        while let Some((lw, lh, last)) = levels.last()
            && (*lw > 1 || *lh > 1)
        {
            let (cw, ch) = (lw.div_ceil(2), lh.div_ceil(2));
            let mut next = vec![[0.0f32; 3]; cw * ch];
            for y in 0..ch {
                for x in 0..cw {
                    let mut acc = [0.0f32; 3];
                    let mut n = 0.0;
                    for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                        let (fx, fy) = (2 * x + dx, 2 * y + dy);
                        if fx < *lw && fy < *lh {
                            let v = last[fy * lw + fx];
                            for k in 0..3 {
                                acc[k] += v[k];
                            }
                            n += 1.0;
                        }
                    }
                    next[y * cw + x] = acc.map(|c| c / n);
                }
            }
            levels.push((cw, ch, next));
        }
        Self { levels }
    }

    /// Bilinear lookup at `uv` (origin top-left, clamped to the edge) in level `lod`.
    #[inline]
    fn sample(&self, uv: [f32; 2], lod: usize) -> [f32; 3] {
        let (w, h, data) = &self.levels[lod.min(self.levels.len() - 1)];
        let x = (uv[0] * *w as f32 - 0.5).clamp(0.0, (*w - 1) as f32);
        let y = (uv[1] * *h as f32 - 0.5).clamp(0.0, (*h - 1) as f32);
        let (x0, y0) = (x as usize, y as usize);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let (tx, ty) = (x - x0 as f32, y - y0 as f32);
        let (a, b, c, d) = (
            data[y0 * w + x0],
            data[y0 * w + x1],
            data[y1 * w + x0],
            data[y1 * w + x1],
        );
        std::array::from_fn(|k| {
            (a[k] * (1.0 - tx) + b[k] * tx) * (1.0 - ty) + (c[k] * (1.0 - tx) + d[k] * tx) * ty
        })
    }
}

/// An asset prepared for drawing many views: linear colors and the texture pyramid.
pub(crate) struct Prepared<'a> {
    asset: &'a Asset,
    normals: std::borrow::Cow<'a, [[f32; 3]]>,
    colors_linear: Vec<[f32; 3]>,
    mips: Option<Mips>,
    factor: [f32; 3],
}

impl<'a> Prepared<'a> {
    pub(crate) fn new(asset: &'a Asset) -> Result<Self> {
        let mesh = &asset.mesh;
        mesh.validate()?;
        let textured = asset.material.base_color_texture.is_some() && !mesh.uvs.is_empty();
        let normals = if mesh.normals.is_empty() {
            std::borrow::Cow::Owned(mesh.clone().with_computed_normals().normals)
        } else {
            std::borrow::Cow::Borrowed(mesh.normals.as_slice())
        };
        Ok(Self {
            asset,
            normals,
            colors_linear: if textured {
                Vec::new()
            } else {
                mesh.colors.iter().map(|c| c.map(srgb_to_linear)).collect()
            },
            mips: asset
                .material
                .base_color_texture
                .as_ref()
                .filter(|_| textured)
                .map(Mips::new),
            factor: std::array::from_fn(|k| asset.material.base_color_factor[k]),
        })
    }
}

/// Renders `asset` from `camera` into a `width`×`height` image (see [`Rendered`]).
pub fn render(
    asset: &Asset,
    camera: &Camera,
    width: u32,
    height: u32,
    options: &RenderOptions,
) -> Result<Rendered> {
    let prepared = Prepared::new(asset)?;
    render_prepared(&prepared, camera, width, height, options)
}

/// Per-vertex data in screen space.
#[derive(Clone, Copy)]
struct ScreenVertex {
    /// Pixel coordinates.
    p: [f64; 2],
    /// Depth key, affine in screen space; larger is nearer.
    key: f32,
    /// 1 / w for perspective-correct interpolation (1 for orthographic).
    inv_w: f32,
    /// Valid (in front of the camera).
    ok: bool,
}

pub(crate) fn render_prepared(
    prepared: &Prepared<'_>,
    camera: &Camera,
    width: u32,
    height: u32,
    options: &RenderOptions,
) -> Result<Rendered> {
    options.limits.check_image(width, height)?;
    let ss = options.supersample.clamp(1, 4);
    let (w, h) = (width * ss, height * ss);
    options.limits.check_image(w, h)?;
    let (right, up, forward) = camera.basis().ok_or_else(|| {
        Error::invalid_parameter(
            "camera",
            "an eye distinct from the target and an up not along the view",
            format!("{camera:?}"),
        )
    })?;
    let aspect = w as f32 / h as f32;
    let mesh = &prepared.asset.mesh;
    let near = 1e-4f32;
    let (wf, hf) = (f64::from(w), f64::from(h));
    let verts: Vec<ScreenVertex> = mesh
        .positions
        .iter()
        .map(|&p| {
            let d = sub(p, camera.eye);
            let (x, y, z) = (dot(d, right), dot(d, up), dot(d, forward));
            let (sx, sy, key, inv_w, ok) = match camera.projection {
                Projection::Perspective { fov_y_deg } => {
                    let t = (fov_y_deg.to_radians() * 0.5).tan();
                    let ok = z > near;
                    let zz = z.max(near);
                    (x / (zz * t * aspect), y / (zz * t), 1.0 / zz, 1.0 / zz, ok)
                }
                Projection::Orthographic { half_height } => {
                    (x / (half_height * aspect), y / half_height, -z, 1.0, true)
                }
            };
            ScreenVertex {
                p: [
                    (f64::from(sx) + 1.0) * 0.5 * wf,
                    (1.0 - f64::from(sy)) * 0.5 * hf,
                ],
                key,
                inv_w,
                ok,
            }
        })
        .collect();
    let double_sided = options
        .double_sided
        .unwrap_or(prepared.asset.material.double_sided);
    let ortho = matches!(camera.projection, Projection::Orthographic { .. });

    // Triangles to draw, with their rasteriser setup and texture level.
    let tex_texels = prepared
        .mips
        .as_ref()
        .map(|m| (m.levels[0].0 * m.levels[0].1) as f64)
        .unwrap_or(0.0);
    let tris: Vec<(u32, RasterTriangle, usize, bool)> = mesh
        .triangles
        .iter()
        .enumerate()
        .filter_map(|(ti, t)| {
            let v = t.map(|i| verts[i as usize]);
            if !v.iter().all(|x| x.ok) {
                return None;
            }
            let p = t.map(|i| mesh.positions[i as usize]);
            let n = cross(sub(p[1], p[0]), sub(p[2], p[0]));
            let to_eye = if ortho {
                forward.map(|c| -c)
            } else {
                sub(camera.eye, p[0])
            };
            let front = dot(n, to_eye) > 0.0;
            if !front && !double_sided {
                return None;
            }
            let r = RasterTriangle::new(v.map(|x| x.p))?;
            let lod = if tex_texels > 0.0 {
                let uv = t.map(|i| mesh.uvs[i as usize].map(f64::from));
                let uv_area = 0.5 * crate::atlas::area2_f64(uv).abs() * tex_texels;
                let px_area = 0.5 * crate::atlas::area2_f64(v.map(|x| x.p)).abs();
                if px_area > 0.0 && uv_area > px_area {
                    (0.5 * (uv_area / px_area).log2()).round() as usize
                } else {
                    0
                }
            } else {
                0
            };
            Some((ti as u32, r, lod, front))
        })
        .collect();

    // Bin by bands of rows.
    let band_rows = 16u32;
    let bands = h.div_ceil(band_rows) as usize;
    let mut start = vec![0u32; bands + 1];
    for (_, r, _, _) in &tris {
        let rows = r.rows(h);
        if !rows.is_empty() {
            for b in rows.start / band_rows..=(rows.end - 1) / band_rows {
                start[b as usize + 1] += 1;
            }
        }
    }
    for b in 1..=bands {
        start[b] += start[b - 1];
    }
    let mut fill = start.clone();
    let mut binned = vec![0u32; start[bands] as usize];
    for (k, (_, r, _, _)) in tris.iter().enumerate() {
        let rows = r.rows(h);
        if !rows.is_empty() {
            for b in rows.start / band_rows..=(rows.end - 1) / band_rows {
                binned[fill[b as usize] as usize] = k as u32;
                fill[b as usize] += 1;
            }
        }
    }

    let pixels = (w as usize) * (h as usize);
    let mut color: Vec<[f32; 4]> = crate::limits::try_vec_with_capacity(pixels, "a render")?;
    color.resize(pixels, [0.0; 4]);
    let mut depth = vec![f32::NEG_INFINITY; pixels];
    let lights = Lights::new(right, up, forward);
    let band_len = (band_rows * w) as usize;
    let draw_band = |(b, (cband, dband)): (usize, (&mut [[f32; 4]], &mut [f32]))| {
        let y0 = b as u32 * band_rows;
        let y1 = (y0 + band_rows).min(h);
        for &k in &binned[start[b] as usize..start[b + 1] as usize] {
            let (ti, r, lod, front) = &tris[k as usize];
            let t = mesh.triangles[*ti as usize];
            let v = t.map(|i| verts[i as usize]);
            let rows = r.rows(h);
            for y in rows.start.max(y0)..rows.end.min(y1) {
                let Some((x0, x1, mut l, step)) = r.span(y, w) else {
                    continue;
                };
                let row = ((y - y0) * w) as usize;
                for x in x0..x1 {
                    let key = l[0] * v[0].key + l[1] * v[1].key + l[2] * v[2].key;
                    let i = row + x as usize;
                    if key > dband[i] {
                        dband[i] = key;
                        // Perspective-correct barycentrics.
                        let q = [l[0] * v[0].inv_w, l[1] * v[1].inv_w, l[2] * v[2].inv_w];
                        let s = q[0] + q[1] + q[2];
                        let bc = if s > 0.0 { q.map(|c| c / s) } else { l };
                        let c = shade(prepared, t, bc, *lod, *front, options.shading, &lights);
                        cband[i] = [c[0], c[1], c[2], 1.0];
                    }
                    for k in 0..3 {
                        l[k] += step[k];
                    }
                }
            }
        }
    };
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        color
            .par_chunks_mut(band_len)
            .zip(depth.par_chunks_mut(band_len))
            .enumerate()
            .for_each(draw_band);
    }
    #[cfg(not(feature = "rayon"))]
    color
        .chunks_mut(band_len)
        .zip(depth.chunks_mut(band_len))
        .enumerate()
        .for_each(draw_band);

    // Resolve supersamples (in linear light) into sRGB with coverage alpha.
    let mut image = RgbaImage::new(width, height);
    let n = (ss * ss) as f32;
    for (y, row) in image.rows_mut().enumerate() {
        for (x, px) in row.enumerate() {
            let mut acc = [0.0f32; 4];
            for sy in 0..ss {
                for sx in 0..ss {
                    let i = ((y as u32 * ss + sy) * w + x as u32 * ss + sx) as usize;
                    let c = color[i];
                    for k in 0..4 {
                        acc[k] += c[k];
                    }
                }
            }
            let a = acc[3] / n;
            *px = if acc[3] > 0.0 {
                image::Rgba([
                    to_u8(linear_to_srgb(acc[0] / acc[3])),
                    to_u8(linear_to_srgb(acc[1] / acc[3])),
                    to_u8(linear_to_srgb(acc[2] / acc[3])),
                    to_u8(a),
                ])
            } else {
                image::Rgba([0, 0, 0, 0])
            };
        }
    }
    Ok(Rendered { image })
}

/// Camera-fixed lights: (direction towards the light, linear intensity).
struct Lights {
    key: ([f32; 3], f32),
    fill: ([f32; 3], f32),
    rim: ([f32; 3], f32),
    view: [f32; 3],
    sky: [f32; 3],
}

impl Lights {
    fn new(right: [f32; 3], up: [f32; 3], forward: [f32; 3]) -> Self {
        let dir = |r: f32, u: f32, b: f32| {
            let d: [f32; 3] = std::array::from_fn(|k| r * right[k] + u * up[k] - b * forward[k]);
            let l = length(d);
            d.map(|c| c / l)
        };
        Self {
            key: (dir(-0.55, 0.65, 0.55), 1.9),
            fill: (dir(0.7, 0.1, 0.5), 0.45),
            rim: (dir(0.2, 0.5, -0.8), 0.6),
            view: forward.map(|c| -c),
            sky: [0.0, 1.0, 0.0],
        }
    }
}

#[inline]
fn shade(
    prepared: &Prepared<'_>,
    t: [u32; 3],
    bc: [f32; 3],
    lod: usize,
    front: bool,
    shading: Shading,
    lights: &Lights,
) -> [f32; 3] {
    let mesh = &prepared.asset.mesh;
    let lerp3 = |a: &[[f32; 3]]| -> [f32; 3] {
        let [p, q, r] = t.map(|i| a[i as usize]);
        std::array::from_fn(|k| bc[0] * p[k] + bc[1] * q[k] + bc[2] * r[k])
    };
    let mut albedo = prepared.factor;
    if let Some(m) = &prepared.mips {
        let [p, q, r] = t.map(|i| mesh.uvs[i as usize]);
        let uv = [
            bc[0] * p[0] + bc[1] * q[0] + bc[2] * r[0],
            bc[0] * p[1] + bc[1] * q[1] + bc[2] * r[1],
        ];
        let c = m.sample(uv, lod);
        albedo = std::array::from_fn(|k| albedo[k] * c[k]);
    } else if !prepared.colors_linear.is_empty() {
        let c = lerp3(&prepared.colors_linear);
        albedo = std::array::from_fn(|k| albedo[k] * c[k]);
    }
    if shading == Shading::Unlit {
        return albedo;
    }
    let mut n = lerp3(&prepared.normals);
    let ln = length(n);
    n = if ln > 0.0 {
        n.map(|c| c / ln)
    } else {
        lights.view
    };
    if !front {
        n = n.map(|c| -c);
    }
    let hemi = 0.5 + 0.5 * dot(n, lights.sky);
    let ambient = 0.22 + 0.18 * hemi;
    let mut diffuse = ambient;
    for (l, i) in [lights.key, lights.fill, lights.rim] {
        diffuse += i * dot(n, l).max(0.0);
    }
    // A soft specular lobe on the key light, weaker on rough materials.
    let m = &prepared.asset.material;
    let half = {
        let s: [f32; 3] = std::array::from_fn(|k| lights.key.0[k] + lights.view[k]);
        let l = length(s);
        s.map(|c| c / l)
    };
    let shininess = 2.0 + 60.0 * (1.0 - m.roughness).powi(2);
    let spec = 0.25 * (1.0 - 0.7 * m.roughness) * dot(n, half).max(0.0).powf(shininess);
    let exposure = 0.62;
    std::array::from_fn(|k| {
        let lit = exposure * (albedo[k] * diffuse + spec);
        // Soft shoulder instead of hard clipping.
        lit / (1.0 + 0.25 * lit)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Material;
    use crate::export::test_assets::{colored_cube, textured_cube};

    fn unlit() -> RenderOptions {
        RenderOptions {
            shading: Shading::Unlit,
            supersample: 1,
            ..RenderOptions::default()
        }
    }

    #[test]
    fn orthographic_front_view_of_the_cube_shows_its_plus_z_face() {
        // Orthographic camera on +Z looking at the origin, 2 units tall: the unit cube
        // covers the middle half of the image.
        let cam = Camera {
            eye: [0.0, 0.0, 3.0],
            target: [0.0; 3],
            up: [0.0, 1.0, 0.0],
            projection: Projection::Orthographic { half_height: 1.0 },
        };
        let asset = colored_cube();
        let r = render(&asset, &cam, 64, 64, &unlit()).unwrap();
        let covered = r.image.pixels().filter(|p| p.0[3] == 255).count();
        assert_eq!(covered, 32 * 32);
        // Face 4 (+Z) color: c = 4.5/6, (c, 1 - c, 0.2).
        let c = 4.5 / 6.0;
        let want = [c, 1.0 - c, 0.2].map(to_u8);
        let got = r.image.get_pixel(32, 32).0;
        for k in 0..3 {
            assert!(got[k].abs_diff(want[k]) <= 1, "{got:?} vs {want:?}");
        }
        assert_eq!(r.image.get_pixel(2, 2).0[3], 0);
    }

    #[test]
    fn perspective_texture_lookup_is_upright_and_correct() {
        // The textured cube seen from +Z: the face's texture cell (u 1/3..2/3,
        // v 1/2..1) appears with v growing downwards on screen (uv origin top-left).
        let mut asset = textured_cube();
        let tex = RgbaImage::from_fn(64, 64, |_, y| {
            if y < 48 {
                image::Rgba([255, 0, 0, 255])
            } else {
                image::Rgba([0, 0, 255, 255])
            }
        });
        asset.material = Material {
            base_color_texture: Some(tex),
            ..Material::default()
        };
        let cam = Camera::orbit([0.0; 3], 4.0, 0.0, 0.0, 30.0);
        let r = render(&asset, &cam, 96, 96, &unlit()).unwrap();
        // Upper half of the face: v in 0.5..0.75 -> red; lower half: blue.
        let top = r.image.get_pixel(48, 36).0;
        let bottom = r.image.get_pixel(48, 60).0;
        assert!(top[0] > 200 && top[2] < 50, "{top:?}");
        assert!(bottom[2] > 200 && bottom[0] < 50, "{bottom:?}");
    }

    #[test]
    fn nearer_surfaces_win_and_back_faces_are_culled() {
        let asset = colored_cube();
        // From -Z the visible face is -Z (face 5): c = 5.5/6, (c, 1 - c, 0.9).
        let cam = Camera::orbit([0.0; 3], 4.0, 180.0, 0.0, 30.0);
        let r = render(&asset, &cam, 64, 64, &unlit()).unwrap();
        let c = 5.5 / 6.0;
        let want = [c, 1.0 - c, 0.9].map(to_u8);
        let got = r.image.get_pixel(32, 32).0;
        for k in 0..3 {
            assert!(got[k].abs_diff(want[k]) <= 1, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn studio_shading_and_supersampling_give_soft_edges() {
        let asset = colored_cube();
        let cam = Camera::orbit([0.0; 3], 4.0, 30.0, 20.0, 30.0);
        let r = render(&asset, &cam, 64, 64, &RenderOptions::default()).unwrap();
        let partial = r
            .image
            .pixels()
            .filter(|p| p.0[3] > 0 && p.0[3] < 255)
            .count();
        assert!(partial > 10, "{partial}");
        assert!(r.image.pixels().any(|p| p.0[3] == 255));
    }

    #[test]
    fn bad_cameras_and_sizes_are_errors() {
        let asset = colored_cube();
        let mut cam = Camera::orbit([0.0; 3], 4.0, 0.0, 0.0, 30.0);
        assert!(render(&asset, &cam, 0, 10, &unlit()).is_err());
        assert!(render(&asset, &cam, 100_000, 100_000, &unlit()).is_err());
        cam.up = [0.0, 0.0, 1.0];
        assert!(render(&asset, &cam, 10, 10, &unlit()).is_err());
    }

    #[test]
    fn transformed_camera_follows_the_mesh() {
        let cam = Camera {
            eye: [0.0, 0.0, 3.0],
            target: [0.0; 3],
            up: [0.0, 1.0, 0.0],
            projection: Projection::Orthographic { half_height: 1.0 },
        };
        let t = Transform::uniform_scale(2.0).after(&Transform::IDENTITY);
        let c2 = cam.transformed(&t);
        assert_eq!(c2.eye, [0.0, 0.0, 6.0]);
        assert_eq!(c2.projection, Projection::Orthographic { half_height: 2.0 });
    }
}
