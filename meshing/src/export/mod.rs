//! Export of an [`Asset`](crate::Asset) to the files people open: binary glTF (GLB), PLY
//! and OBJ (+ MTL + PNG). Every file goes through [`crate::io::write_atomic`], so a failure
//! never leaves a half-written file behind.
//!
//! | format | geometry | appearance |
//! |---|---|---|
//! | [`glb`] | positions (with min/max), unit normals, u32 indices | PBR metallic-roughness material; `COLOR_0` (linear) or `TEXCOORD_0` + embedded PNG |
//! | [`ply`] | binary little endian: `float x y z nx ny nz`, `list uchar uint` faces | `uchar red green blue` (sRGB) |
//! | [`obj`] | `v`, `vn`, 1-based `f` | `v x y z r g b` (sRGB); with a texture `vt` (flipped V), `.mtl` and the PNG beside it |
//!
//! The glTF layout follows the glTF 2.0 specification (§3.6.2 accessor alignment, §4.4 GLB
//! container, §3.9 materials) and what the Khronos glTF-Validator checks; see DESIGN.md.

pub mod glb;
pub mod obj;
pub mod ply;
pub mod point_cloud;

pub use glb::{GlbOptions, glb_bytes, write_glb};
pub use obj::{ObjFiles, obj_file_names, write_obj};
pub use ply::{ply_bytes, write_ply};
pub use point_cloud::{point_cloud_ply_bytes, write_point_cloud_ply};

use std::borrow::Cow;

use crate::{Error, Mesh, Result};

#[cfg(test)]
#[path = "../../../tests/support/gltf_validator.rs"]
mod gltf_validator;

/// Converts one sRGB-encoded channel in `[0, 1]` to linear light (IEC 61966-2-1).
#[inline]
pub fn srgb_to_linear(c: f32) -> f32 {
    if c <= 0.040_45 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// Converts one linear channel in `[0, 1]` to sRGB encoding (IEC 61966-2-1).
#[inline]
pub fn linear_to_srgb(c: f32) -> f32 {
    if c <= 0.003_130_8 {
        c * 12.92
    } else {
        1.055 * c.powf(1.0 / 2.4) - 0.055
    }
}

/// Quantises a `[0, 1]` channel to a byte, rounding to nearest.
#[inline]
pub(crate) fn to_u8(c: f32) -> u8 {
    (c.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// The mesh with validated invariants and unit normals: computed when absent, renormalised
/// otherwise (the glTF validator is stricter about unit length than [`Mesh::validate`]).
pub(crate) fn prepared_mesh(mesh: &Mesh) -> Result<Cow<'_, Mesh>> {
    mesh.validate()?;
    let needs_work = mesh.normals.is_empty()
        || mesh.normals.iter().any(|n| {
            let l2 = n[0] * n[0] + n[1] * n[1] + n[2] * n[2];
            (l2 - 1.0).abs() > 1e-6
        });
    if !needs_work {
        return Ok(Cow::Borrowed(mesh));
    }
    let mut owned = mesh.clone();
    if owned.normals.is_empty() {
        owned.compute_normals();
    } else {
        for n in &mut owned.normals {
            let l = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
            *n = n.map(|c| c / l);
        }
    }
    Ok(Cow::Owned(owned))
}

/// Encodes an RGBA texture as PNG (RGB when fully opaque: smaller, and glTF's default
/// `alphaMode` is `OPAQUE` anyway). Fast compression: textures are re-encoded by every
/// run, and a 1024² texture must not dominate the command's time.
pub fn encode_png(image: &image::RgbaImage) -> Result<Vec<u8>> {
    use image::ImageEncoder;
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};

    let (w, h) = image.dimensions();
    if w == 0 || h == 0 {
        return Err(Error::invalid_parameter(
            "texture",
            "at least 1x1 pixels",
            format!("{w}x{h}"),
        ));
    }
    let mut out = Vec::new();
    let encoder =
        PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive);
    let raw = image.as_raw();
    if raw.chunks_exact(4).all(|p| p[3] == 255) {
        let rgb: Vec<u8> = raw
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        encoder.write_image(&rgb, w, h, image::ExtendedColorType::Rgb8)?;
    } else {
        encoder.write_image(raw, w, h, image::ExtendedColorType::Rgba8)?;
    }
    Ok(out)
}

/// Checks that `asset`'s material is within glTF's ranges and, when it has a texture,
/// that the mesh has UVs.
pub(crate) fn check_material(asset: &crate::Asset) -> Result<()> {
    let m = &asset.material;
    for (name, v) in [("metallic", m.metallic), ("roughness", m.roughness)] {
        if !(0.0..=1.0).contains(&v) {
            return Err(Error::invalid_parameter(name, "a value in [0, 1]", v));
        }
    }
    if !m.base_color_factor.iter().all(|c| (0.0..=1.0).contains(c)) {
        return Err(Error::invalid_parameter(
            "base color factor",
            "four values in [0, 1]",
            format!("{:?}", m.base_color_factor),
        ));
    }
    if m.base_color_texture.is_some() && asset.mesh.uvs.is_empty() {
        return Err(Error::invalid_parameter(
            "uvs",
            "texture coordinates on a mesh with a base color texture",
            "a mesh without uvs",
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod test_assets {
    //! Small assets shared by the exporters' tests.

    use crate::{Asset, Material, Mesh};

    /// A unit cube with 24 vertices (4 per face, so each face has its own UV square and
    /// flat normals), counter-clockwise from outside, colored per face.
    ///
    /// ```text
    ///   face order: +X, -X, +Y, -Y, +Z, -Z; each face's square at
    ///   uv ((f % 3) / 3 + [0, 1/3], (f / 3) / 2 + [0, 1/2])
    /// ```
    pub fn cube() -> Mesh {
        let faces: [([f32; 3], [f32; 3], [f32; 3]); 6] = [
            ([1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]),
            ([-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]),
            ([0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]),
            ([0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]),
            ([0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]),
            ([0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]),
        ];
        let mut mesh = Mesh::default();
        for (f, (n, u, v)) in faces.iter().enumerate() {
            let base = mesh.positions.len() as u32;
            for (su, sv) in [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)] {
                let p: [f32; 3] = std::array::from_fn(|k| 0.5 * (n[k] + su * u[k] + sv * v[k]));
                mesh.positions.push(p);
                mesh.normals.push(*n);
                let c = (f as f32 + 0.5) / 6.0;
                mesh.colors
                    .push([c, 1.0 - c, if f % 2 == 0 { 0.2 } else { 0.9 }]);
                let (cu, cv) = ((f % 3) as f32 / 3.0, (f / 3) as f32 / 2.0);
                // v grows downwards in the texture while sv grows upwards on the face.
                mesh.uvs.push([
                    cu + (0.05 + 0.45 * (su + 1.0)) / 3.0,
                    cv + (0.05 + 0.45 * (1.0 - sv)) / 2.0,
                ]);
            }
            mesh.triangles.push([base, base + 1, base + 2]);
            mesh.triangles.push([base, base + 2, base + 3]);
        }
        mesh
    }

    /// An 8x4 texture with distinct pixels (alpha 255). Power-of-two sides: the validator
    /// notes non-power-of-two images (WebGL 1 cannot mipmap them).
    pub fn texture() -> image::RgbaImage {
        image::RgbaImage::from_fn(8, 4, |x, y| {
            image::Rgba([(x * 30) as u8, (y * 60) as u8, 200 - (x * y) as u8, 255])
        })
    }

    /// The cube with vertex colors and no texture.
    pub fn colored_cube() -> Asset {
        let mut mesh = cube();
        mesh.uvs.clear();
        Asset {
            name: "cube".into(),
            mesh,
            material: Material::default(),
        }
    }

    /// The cube with UVs and a texture (vertex colors kept in the mesh).
    pub fn textured_cube() -> Asset {
        Asset {
            name: "cube".into(),
            mesh: cube(),
            material: Material {
                base_color_texture: Some(texture()),
                metallic: 0.25,
                roughness: 0.6,
                ..Material::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srgb_round_trip() {
        for i in 0..=255 {
            let c = i as f32 / 255.0;
            assert!((linear_to_srgb(srgb_to_linear(c)) - c).abs() < 1e-5);
        }
        assert_eq!(srgb_to_linear(0.0), 0.0);
        assert!((srgb_to_linear(1.0) - 1.0).abs() < 1e-6);
        // sRGB mid-grey 0.5 is about 21.4% linear light.
        assert!((srgb_to_linear(0.5) - 0.214_04).abs() < 1e-4);
    }

    #[test]
    fn png_is_rgb_when_opaque_and_decodes_back() {
        let tex = test_assets::texture();
        let png = encode_png(&tex).unwrap();
        let back = image::load_from_memory(&png).unwrap();
        assert_eq!(back.color(), image::ColorType::Rgb8);
        assert_eq!(back.to_rgba8(), tex);

        let mut translucent = tex.clone();
        translucent.put_pixel(1, 1, image::Rgba([1, 2, 3, 4]));
        let back = image::load_from_memory(&encode_png(&translucent).unwrap()).unwrap();
        assert_eq!(back.to_rgba8(), translucent);
        assert!(encode_png(&image::RgbaImage::new(0, 3)).is_err());
    }

    #[test]
    fn prepared_mesh_normalises_and_computes_normals() {
        let mut m = test_assets::cube();
        m.normals.clear();
        let p = prepared_mesh(&m).unwrap();
        assert_eq!(p.normals.len(), m.positions.len());
        // The first face is +X.
        assert!((p.normals[0][0] - 1.0).abs() < 1e-6);

        let mut m = test_assets::cube();
        m.normals[0] = [1.0005, 0.0, 0.0];
        let p = prepared_mesh(&m).unwrap();
        assert!(matches!(p, Cow::Owned(_)));
        assert_eq!(p.normals[0], [1.0, 0.0, 0.0]);
        assert!(matches!(
            prepared_mesh(&test_assets::cube()).unwrap(),
            Cow::Borrowed(_)
        ));
    }
}
