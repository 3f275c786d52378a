//! What an exported asset is: a [`Mesh`] plus a PBR [`Material`].

use crate::Mesh;

/// A metallic-roughness PBR material, as glTF defines it.
///
/// Always written, even for vertex-colored meshes: glTF's default material is fully
/// metallic, which renders dark in three.js and white in Blender 3.4.
#[derive(Debug, Clone, PartialEq)]
pub struct Material {
    /// Name written to the file.
    pub name: String,
    /// Base color multiplier, linear RGBA. By default, opaque white.
    pub base_color_factor: [f32; 4],
    /// Base color texture: sRGB, rows top-down (UV origin top-left). By default, none.
    pub base_color_texture: Option<image::RgbaImage>,
    /// Metalness in `[0, 1]`. By default, 0.
    pub metallic: f32,
    /// Roughness in `[0, 1]`. By default, 0.9.
    pub roughness: f32,
    /// Render back faces too. By default, false (our meshes are closed).
    pub double_sided: bool,
}

impl Default for Material {
    fn default() -> Self {
        Self {
            name: "img23d".to_string(),
            base_color_factor: [1.0; 4],
            base_color_texture: None,
            metallic: 0.0,
            roughness: 0.9,
            double_sided: false,
        }
    }
}

/// A mesh with its material and a name: what exporters write.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Asset {
    /// Name of the mesh/node in the file.
    pub name: String,
    /// Geometry and per-vertex attributes (glTF frame).
    pub mesh: Mesh,
    /// Its material.
    pub material: Material,
}
