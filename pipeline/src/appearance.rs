//! How the asset looks, and how faithfully it shows the picture:
//!
//! * the texture: a UV atlas of the final mesh (`img23d_meshing::atlas`), the field's
//!   color baked into it (`img23d_meshing::bake`, queried in the output frame), and a
//!   metallic-roughness material around it ([`textured_material`]);
//! * the input camera of each reconstruction in the output frame ([`InputView`]): the
//!   weight-free inflation sees the picture square through an orthographic camera on +Z;
//!   TripoSR's input camera sits at distance 1.9 with a 40° vertical field of view on its
//!   +X axis (TripoSR `tsr/utils.py` defaults, see `shared/reference/triposr.md` §1.7),
//!   which is +Z in glTF's frame;
//! * the fidelity check ([`fidelity_of`]): the asset rendered from the input camera
//!   against the picture and its foreground mask as that camera framed them — silhouette
//!   IoU and color PSNR — written to the report for every path;
//! * the preview sheet ([`write_preview`]): the input view plus a turntable, as PNG.

use std::path::Path;

use image::{GrayImage, RgbaImage};
use img23d_meshing::atlas::{Atlas, AtlasOptions, AtlasStats, build_atlas};
use img23d_meshing::bake::{BakeOptions, BakeStats, bake_texture_with_stats};
use img23d_meshing::convert_coordinates::Transform;
use img23d_meshing::export::encode_png;
use img23d_meshing::render::{Camera, Fidelity, PreviewOptions, Projection, fidelity};
use img23d_meshing::{Asset, Field, Limits, Material, Mesh};
use img23d_models::triposr::triposr_to_gltf;

use crate::foreground::{Foreground, resample_straight};
use crate::mask_ops::Window;

/// Side of the square the fidelity check renders and compares, in pixels.
pub const FIDELITY_SIZE: u32 = 512;

/// TripoSR's input camera: distance from the origin (`tsr/utils.py`, `camera_distance`).
pub const TRIPOSR_CAMERA_DISTANCE: f32 = 1.9;
/// TripoSR's input camera: vertical field of view in degrees (`tsr/utils.py`, `fovy_deg`).
pub const TRIPOSR_FOV_Y_DEG: f32 = 40.0;

/// Distance of the inflation's orthographic camera from the origin: outside the field's
/// box (`z ∈ [-1, 1]`), so nothing is behind it.
const INFLATE_CAMERA_DISTANCE: f32 = 4.0;

/// A texture and the mesh it belongs to.
#[derive(Debug, Clone)]
pub struct Textured {
    /// The mesh split along chart seams, with UVs (and the vertex colors copied).
    pub mesh: Mesh,
    /// The baked base color, sRGB, rows top-down.
    pub texture: RgbaImage,
    /// Figures of the atlas.
    pub atlas: AtlasStats,
    /// Figures of the bake.
    pub bake: BakeStats,
}

/// Builds the UV atlas of `mesh` for a `size`² texture.
pub fn atlas(mesh: &Mesh, size: u32, limits: Limits) -> img23d_meshing::Result<Atlas> {
    build_atlas(
        mesh,
        &AtlasOptions {
            texture_size: size,
            limits,
            ..AtlasOptions::default()
        },
    )
}

/// Bakes `field`'s color (a field in the mesh's frame) over the atlas into a `size`²
/// texture.
pub fn bake(
    atlas: Atlas,
    field: &dyn Field,
    size: u32,
    limits: Limits,
) -> img23d_meshing::Result<Textured> {
    let (texture, bake) =
        bake_texture_with_stats(&atlas.mesh, field, &BakeOptions { size, limits })?;
    Ok(Textured {
        mesh: atlas.mesh,
        texture,
        atlas: atlas.stats,
        bake,
    })
}

/// The material of the asset: a base color texture when there is one (else the vertex
/// colors carry the color), with the given metalness and roughness.
pub fn textured_material(texture: Option<RgbaImage>, metallic: f32, roughness: f32) -> Material {
    Material {
        base_color_texture: texture,
        metallic,
        roughness,
        ..Material::default()
    }
}

/// The input picture as a reconstruction's camera saw it, with that camera in the output
/// frame.
#[derive(Debug, Clone)]
pub struct InputView {
    /// The camera, in the output frame (glTF, meters).
    pub camera: Camera,
    /// The picture inside the camera's square (straight sRGB; transparent outside the
    /// picture).
    pub picture: RgbaImage,
    /// The foreground mask in the same square (255 inside the object).
    pub mask: GrayImage,
}

/// Which camera saw the picture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InputCamera {
    /// The inflation's orthographic camera on +Z; the square spans `x, y ∈ [-1, 1]` of
    /// the field's frame.
    Inflate,
    /// TripoSR's perspective camera (see the module docs), in the field's glTF-oriented
    /// frame.
    Triposr,
}

impl InputCamera {
    /// The camera in the field's frame.
    pub fn in_field_frame(self) -> Camera {
        match self {
            Self::Inflate => Camera {
                eye: [0.0, 0.0, INFLATE_CAMERA_DISTANCE],
                target: [0.0; 3],
                up: [0.0, 1.0, 0.0],
                projection: Projection::Orthographic { half_height: 1.0 },
            },
            Self::Triposr => {
                // Upstream: on +X of TripoSR's frame, up +Z; carried into glTF axes.
                let t = triposr_to_gltf();
                Camera {
                    eye: t.apply_point([TRIPOSR_CAMERA_DISTANCE, 0.0, 0.0]),
                    target: [0.0; 3],
                    up: t.apply_vector([0.0, 0.0, 1.0]),
                    projection: Projection::Perspective {
                        fov_y_deg: TRIPOSR_FOV_Y_DEG,
                    },
                }
            }
        }
    }
}

/// The input view of a reconstruction whose camera framed the square `window_source` of
/// the picture (source pixels), with the field carried to the output by `to_output`.
/// The picture and mask come from the foreground at `size × size`.
pub fn input_view(
    fg: &Foreground,
    window_source: Window,
    camera: InputCamera,
    to_output: &Transform,
    size: u32,
) -> InputView {
    let s = fg.scale.max(f64::MIN_POSITIVE);
    let window = Window {
        x: window_source.x / s,
        y: window_source.y / s,
        width: window_source.width / s,
        height: window_source.height / s,
    };
    let (coverage, color) = resample_straight(fg, window, size as usize);
    let mut picture = RgbaImage::new(size, size);
    let mut mask = GrayImage::new(size, size);
    for (((&a, c), out), m) in coverage
        .data
        .iter()
        .zip(&color.data)
        .zip(picture.pixels_mut())
        .zip(mask.pixels_mut())
    {
        if a > 1e-4 {
            out.0 = [to_u8(c[0]), to_u8(c[1]), to_u8(c[2]), to_u8(a)];
        }
        m.0[0] = if a >= 0.5 { 255 } else { 0 };
    }
    InputView {
        camera: camera.in_field_frame().transformed(to_output),
        picture,
        mask,
    }
}

fn to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// Renders `asset` from the input camera and compares it with the picture.
pub fn fidelity_of(asset: &Asset, view: &InputView) -> img23d_meshing::Result<Fidelity> {
    fidelity(asset, &view.camera, &view.picture, &view.mask)
}

/// Renders the preview sheet of `asset` (the input view first, then a turntable) and
/// writes it as PNG to `path`, atomically. Returns the sheet's size in pixels.
pub fn write_preview(
    asset: &Asset,
    view: &InputView,
    path: &Path,
    limits: Limits,
) -> img23d_meshing::Result<(u32, u32)> {
    let sheet = img23d_meshing::render::render_preview(
        asset,
        Some(&view.camera),
        &PreviewOptions {
            limits,
            ..PreviewOptions::default()
        },
    )?;
    let png = encode_png(&sheet)?;
    img23d_meshing::io::write_bytes_atomic(path, &png)?;
    Ok(sheet.dimensions())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triposr_camera_faces_the_front_from_plus_z() {
        let c = InputCamera::Triposr.in_field_frame();
        assert!((c.eye[2] - TRIPOSR_CAMERA_DISTANCE).abs() < 1e-6, "{c:?}");
        assert!(c.eye[0].abs() < 1e-6 && c.eye[1].abs() < 1e-6, "{c:?}");
        assert!((c.up[1] - 1.0).abs() < 1e-6, "{c:?}");
    }

    #[test]
    fn inflate_camera_moves_with_the_output_transform() {
        let t = img23d_meshing::convert_coordinates::fit_to_height(
            ([-1.0, -1.0, -0.5], [1.0, 1.0, 0.5]),
            2.0,
        )
        .unwrap();
        let c = InputCamera::Inflate.in_field_frame().transformed(&t);
        // Height 2 over 2 units: scale 1, lifted so the bottom is on y = 0.
        assert!((c.target[1] - 1.0).abs() < 1e-5, "{c:?}");
        match c.projection {
            Projection::Orthographic { half_height } => assert!((half_height - 1.0).abs() < 1e-5),
            p => panic!("{p:?}"),
        }
    }
}
