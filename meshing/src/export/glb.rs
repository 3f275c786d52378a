//! Binary glTF 2.0 (GLB) writer.
//!
//! One buffer, one bufferView per attribute, each starting on a 4-byte boundary
//! (glTF 2.0 §3.6.2.4); the JSON chunk padded with spaces and the BIN chunk with zeros
//! (§4.4.3). The document always has a metallic-roughness material (glTF's default
//! material is fully metallic and renders dark). Attributes:
//!
//! * `POSITION` f32 VEC3 with `min`/`max`; `NORMAL` f32 VEC3, unit length;
//! * `COLOR_0` f32 VEC3, **linear** (the mesh stores sRGB; glTF vertex colors are linear,
//!   §3.7.2.1) — written for vertex-colored meshes, and for textured ones only when
//!   [`GlbOptions::vertex_colors_with_texture`] asks (they would multiply the texture);
//! * `TEXCOORD_0` f32 VEC2 when the material has a texture; the texture is an embedded
//!   PNG (`images[].bufferView`, no target, no stride) with a CLAMP_TO_EDGE sampler;
//! * indices u32 SCALAR.

use std::path::Path;

use serde_json::{Value, json};

use super::{check_material, encode_png, prepared_mesh, srgb_to_linear};
use crate::{Asset, Error, Result};

/// glTF constants (glTF 2.0 §5, "JSON Schema Reference").
mod gl {
    pub const FLOAT: u32 = 5126;
    pub const UNSIGNED_INT: u32 = 5125;
    pub const ARRAY_BUFFER: u32 = 34962;
    pub const ELEMENT_ARRAY_BUFFER: u32 = 34963;
    pub const LINEAR: u32 = 9729;
    pub const LINEAR_MIPMAP_LINEAR: u32 = 9987;
    pub const CLAMP_TO_EDGE: u32 = 33071;
}

/// GLB header magic `glTF`, version 2, and the chunk types (glTF 2.0 §4.4).
const GLB_MAGIC: &[u8; 4] = b"glTF";
const GLB_VERSION: u32 = 2;
const CHUNK_JSON: &[u8; 4] = b"JSON";
const CHUNK_BIN: &[u8; 4] = b"BIN\0";

/// Options of the GLB writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlbOptions {
    /// Also write the mesh's vertex colors as `COLOR_0` when the material has a base color
    /// texture. glTF multiplies `COLOR_0` into the base color, so this darkens the texture
    /// unless the colors are white. By default, false.
    pub vertex_colors_with_texture: bool,
    /// `asset.generator` in the file. By default, `img23d <version>`.
    pub generator: String,
}

impl Default for GlbOptions {
    fn default() -> Self {
        Self {
            vertex_colors_with_texture: false,
            generator: format!("img23d {}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// The growing BIN chunk plus the JSON arrays that describe it.
struct Builder {
    bin: Vec<u8>,
    buffer_views: Vec<Value>,
    accessors: Vec<Value>,
}

impl Builder {
    /// Appends `bytes` as a new bufferView starting on a 4-byte boundary; returns its index.
    fn view(&mut self, bytes: &[u8], target: Option<u32>) -> usize {
        while !self.bin.len().is_multiple_of(4) {
            self.bin.push(0);
        }
        let mut view = json!({
            "buffer": 0,
            "byteOffset": self.bin.len(),
            "byteLength": bytes.len(),
        });
        if let Some(t) = target {
            view["target"] = json!(t);
        }
        self.bin.extend_from_slice(bytes);
        self.buffer_views.push(view);
        self.buffer_views.len() - 1
    }

    /// Adds a float accessor over `values` (each `N` floats) in its own bufferView.
    fn float_accessor<const N: usize>(&mut self, values: &[[f32; N]], bounds: bool) -> usize {
        let mut bytes = Vec::with_capacity(values.len() * N * 4);
        for v in values {
            for c in v {
                bytes.extend_from_slice(&c.to_le_bytes());
            }
        }
        let view = self.view(&bytes, Some(gl::ARRAY_BUFFER));
        let kind = match N {
            2 => "VEC2",
            3 => "VEC3",
            4 => "VEC4",
            _ => "SCALAR",
        };
        let mut accessor = json!({
            "bufferView": view,
            "componentType": gl::FLOAT,
            "count": values.len(),
            "type": kind,
        });
        if bounds {
            let mut lo = [f32::INFINITY; N];
            let mut hi = [f32::NEG_INFINITY; N];
            for v in values {
                for k in 0..N {
                    lo[k] = lo[k].min(v[k]);
                    hi[k] = hi[k].max(v[k]);
                }
            }
            accessor["min"] = json!(lo.as_slice());
            accessor["max"] = json!(hi.as_slice());
        }
        self.accessors.push(accessor);
        self.accessors.len() - 1
    }

    /// Adds the u32 index accessor.
    fn index_accessor(&mut self, triangles: &[[u32; 3]]) -> usize {
        let mut bytes = Vec::with_capacity(triangles.len() * 12);
        for t in triangles {
            for i in t {
                bytes.extend_from_slice(&i.to_le_bytes());
            }
        }
        let view = self.view(&bytes, Some(gl::ELEMENT_ARRAY_BUFFER));
        self.accessors.push(json!({
            "bufferView": view,
            "componentType": gl::UNSIGNED_INT,
            "count": triangles.len() * 3,
            "type": "SCALAR",
        }));
        self.accessors.len() - 1
    }
}

/// Serialises `asset` as a GLB file in memory.
///
/// Errors: an invalid mesh ([`crate::Mesh::validate`]), material values outside `[0, 1]`,
/// a texture without UVs, or a file over GLB's 4 GiB size limit.
pub fn glb_bytes(asset: &Asset, options: &GlbOptions) -> Result<Vec<u8>> {
    let mesh = prepared_mesh(&asset.mesh)?;
    check_material(asset)?;
    let material = &asset.material;
    let textured = material.base_color_texture.is_some();

    let mut b = Builder {
        bin: Vec::new(),
        buffer_views: Vec::new(),
        accessors: Vec::new(),
    };
    let mut attributes = serde_json::Map::new();
    attributes.insert(
        "POSITION".into(),
        json!(b.float_accessor(&mesh.positions, true)),
    );
    attributes.insert(
        "NORMAL".into(),
        json!(b.float_accessor(&mesh.normals, false)),
    );
    if !mesh.colors.is_empty() && (!textured || options.vertex_colors_with_texture) {
        let linear: Vec<[f32; 3]> = mesh.colors.iter().map(|c| c.map(srgb_to_linear)).collect();
        attributes.insert("COLOR_0".into(), json!(b.float_accessor(&linear, false)));
    }
    if textured {
        attributes.insert(
            "TEXCOORD_0".into(),
            json!(b.float_accessor(&mesh.uvs, false)),
        );
    }
    let indices = b.index_accessor(&mesh.triangles);

    let mut pbr = json!({
        "baseColorFactor": material.base_color_factor,
        "metallicFactor": material.metallic,
        "roughnessFactor": material.roughness,
    });
    let mut document = json!({
        "asset": { "version": "2.0", "generator": options.generator },
        "scene": 0,
        "scenes": [{ "nodes": [0] }],
        "nodes": [{ "mesh": 0 }],
        "meshes": [{
            "primitives": [{
                "attributes": attributes,
                "indices": indices,
                "material": 0,
            }],
        }],
    });
    if let Some(texture) = &material.base_color_texture {
        let png = encode_png(texture)?;
        let view = b.view(&png, None);
        pbr["baseColorTexture"] = json!({ "index": 0 });
        document["images"] = json!([{ "bufferView": view, "mimeType": "image/png" }]);
        document["samplers"] = json!([{
            "magFilter": gl::LINEAR,
            "minFilter": gl::LINEAR_MIPMAP_LINEAR,
            "wrapS": gl::CLAMP_TO_EDGE,
            "wrapT": gl::CLAMP_TO_EDGE,
        }]);
        document["textures"] = json!([{ "sampler": 0, "source": 0 }]);
    }
    let mut mat = json!({ "pbrMetallicRoughness": pbr });
    if !material.name.is_empty() {
        mat["name"] = json!(material.name);
    }
    if material.double_sided {
        mat["doubleSided"] = json!(true);
    }
    document["materials"] = json!([mat]);
    if !asset.name.is_empty() {
        document["nodes"][0]["name"] = json!(asset.name);
        document["meshes"][0]["name"] = json!(asset.name);
    }
    while !b.bin.len().is_multiple_of(4) {
        b.bin.push(0);
    }
    document["buffers"] = json!([{ "byteLength": b.bin.len() }]);
    document["bufferViews"] = Value::Array(b.buffer_views);
    document["accessors"] = Value::Array(b.accessors);

    let mut json_bytes = serde_json::to_vec(&document)?;
    while !json_bytes.len().is_multiple_of(4) {
        json_bytes.push(b' ');
    }
    let total = 12 + 8 + json_bytes.len() + 8 + b.bin.len();
    let too_big = || Error::Limit {
        what: "a GLB file".to_string(),
        requested: format!("{total} bytes"),
        limit: format!("{} bytes (u32 lengths)", u32::MAX),
    };
    let total_u32 = u32::try_from(total).map_err(|_| too_big())?;
    let mut out = Vec::new();
    out.try_reserve_exact(total).map_err(|_| too_big())?;
    out.extend_from_slice(GLB_MAGIC);
    out.extend_from_slice(&GLB_VERSION.to_le_bytes());
    out.extend_from_slice(&total_u32.to_le_bytes());
    // Both chunk lengths are below `total`, which fits in u32.
    out.extend_from_slice(&(json_bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(CHUNK_JSON);
    out.extend_from_slice(&json_bytes);
    out.extend_from_slice(&(b.bin.len() as u32).to_le_bytes());
    out.extend_from_slice(CHUNK_BIN);
    out.extend_from_slice(&b.bin);
    Ok(out)
}

/// Writes `asset` to `path` as GLB, atomically (nothing is left at `path` on error).
pub fn write_glb(path: &Path, asset: &Asset, options: &GlbOptions) -> Result<()> {
    let bytes = glb_bytes(asset, options)?;
    crate::io::write_bytes_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::super::gltf_validator;
    use super::super::test_assets::{colored_cube, textured_cube};
    use super::*;
    use crate::Material;

    fn read_u32(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn container_layout_is_aligned_and_padded() {
        let bytes = glb_bytes(&textured_cube(), &GlbOptions::default()).unwrap();
        assert_eq!(&bytes[0..4], b"glTF");
        assert_eq!(read_u32(&bytes, 4), 2);
        assert_eq!(read_u32(&bytes, 8) as usize, bytes.len());
        let json_len = read_u32(&bytes, 12) as usize;
        assert_eq!(&bytes[16..20], b"JSON");
        assert_eq!(json_len % 4, 0);
        let json = &bytes[20..20 + json_len];
        // Padding is spaces, never zeros.
        assert!(!json.contains(&0));
        let bin_header = 20 + json_len;
        let bin_len = read_u32(&bytes, bin_header) as usize;
        assert_eq!(&bytes[bin_header + 4..bin_header + 8], b"BIN\0");
        assert_eq!(bin_len % 4, 0);
        assert_eq!(bin_header + 8 + bin_len, bytes.len());

        let doc: Value = serde_json::from_slice(json).unwrap();
        assert_eq!(doc["buffers"][0]["byteLength"], bin_len);
        for view in doc["bufferViews"].as_array().unwrap() {
            assert_eq!(view["byteOffset"].as_u64().unwrap() % 4, 0, "{view}");
        }
        assert_eq!(
            doc["asset"]["generator"],
            format!("img23d {}", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(doc["samplers"][0]["wrapS"], gl::CLAMP_TO_EDGE);
        assert_eq!(doc["samplers"][0]["wrapT"], gl::CLAMP_TO_EDGE);
        // The image's view has no target (it is not vertex data).
        let image_view = doc["images"][0]["bufferView"].as_u64().unwrap() as usize;
        assert!(doc["bufferViews"][image_view].get("target").is_none());
    }

    #[test]
    fn vertex_colored_round_trip_through_gltf_crate() {
        let asset = colored_cube();
        let bytes = glb_bytes(&asset, &GlbOptions::default()).unwrap();
        gltf_validator::assert_valid_glb_bytes(&bytes);

        let (doc, buffers, images) = gltf::import_slice(&bytes).unwrap();
        assert!(images.is_empty());
        let mesh = doc.meshes().next().unwrap();
        assert_eq!(mesh.name(), Some("cube"));
        let prim = mesh.primitives().next().unwrap();
        let reader = prim.reader(|b| Some(&buffers[b.index()]));
        let positions: Vec<[f32; 3]> = reader.read_positions().unwrap().collect();
        assert_eq!(positions, asset.mesh.positions);
        let normals: Vec<[f32; 3]> = reader.read_normals().unwrap().collect();
        assert_eq!(normals, asset.mesh.normals);
        let colors: Vec<[f32; 3]> = reader.read_colors(0).unwrap().into_rgb_f32().collect();
        for (got, srgb) in colors.iter().zip(&asset.mesh.colors) {
            for k in 0..3 {
                assert!((got[k] - srgb_to_linear(srgb[k])).abs() < 1e-6);
            }
        }
        assert!(reader.read_tex_coords(0).is_none());
        let indices: Vec<u32> = reader.read_indices().unwrap().into_u32().collect();
        let expected: Vec<u32> = asset.mesh.triangles.iter().flatten().copied().collect();
        assert_eq!(indices, expected);
        let bbox = prim.bounding_box();
        assert_eq!(bbox.min, [-0.5; 3]);
        assert_eq!(bbox.max, [0.5; 3]);

        let mat = prim.material();
        assert_eq!(mat.pbr_metallic_roughness().metallic_factor(), 0.0);
        assert_eq!(mat.pbr_metallic_roughness().roughness_factor(), 0.9);
        assert!(mat.pbr_metallic_roughness().base_color_texture().is_none());
        assert_eq!(doc.nodes().next().unwrap().name(), Some("cube"));
    }

    #[test]
    fn textured_round_trip_through_gltf_crate_and_validator() {
        let asset = textured_cube();
        let bytes = glb_bytes(&asset, &GlbOptions::default()).unwrap();
        if let Some(report) = gltf_validator::assert_valid_glb_bytes(&bytes) {
            let info = report.info();
            assert_eq!(info["hasTextures"], true, "{info}");
            assert_eq!(info["materialCount"], 1, "{info}");
            assert_eq!(info["maxUVs"], 1, "{info}");
            assert_eq!(
                report.infos() + report.hints(),
                0,
                "{:?}",
                report.messages()
            );
        }

        let (doc, buffers, images) = gltf::import_slice(&bytes).unwrap();
        let prim = doc.meshes().next().unwrap().primitives().next().unwrap();
        let reader = prim.reader(|b| Some(&buffers[b.index()]));
        let uvs: Vec<[f32; 2]> = reader.read_tex_coords(0).unwrap().into_f32().collect();
        assert_eq!(uvs, asset.mesh.uvs);
        // No COLOR_0 with a texture unless asked.
        assert!(reader.read_colors(0).is_none());

        let mat = prim.material();
        let pbr = mat.pbr_metallic_roughness();
        assert_eq!(pbr.metallic_factor(), 0.25);
        assert_eq!(pbr.roughness_factor(), 0.6);
        let info = pbr.base_color_texture().unwrap();
        assert_eq!(info.tex_coord(), 0);
        let sampler = info.texture().sampler();
        assert_eq!(sampler.wrap_s(), gltf::texture::WrappingMode::ClampToEdge);
        assert_eq!(sampler.wrap_t(), gltf::texture::WrappingMode::ClampToEdge);

        assert_eq!(images.len(), 1);
        let img = &images[0];
        let tex = asset.material.base_color_texture.as_ref().unwrap();
        assert_eq!((img.width, img.height), tex.dimensions());
        assert_eq!(img.format, gltf::image::Format::R8G8B8);
        let rgb: Vec<u8> = tex
            .as_raw()
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        assert_eq!(img.pixels, rgb);
    }

    #[test]
    fn textured_with_vertex_colors_when_asked() {
        let options = GlbOptions {
            vertex_colors_with_texture: true,
            ..GlbOptions::default()
        };
        let bytes = glb_bytes(&textured_cube(), &options).unwrap();
        gltf_validator::assert_valid_glb_bytes(&bytes);
        let (doc, buffers, _) = gltf::import_slice(&bytes).unwrap();
        let prim = doc.meshes().next().unwrap().primitives().next().unwrap();
        let reader = prim.reader(|b| Some(&buffers[b.index()]));
        assert!(reader.read_colors(0).is_some());
        assert!(reader.read_tex_coords(0).is_some());
    }

    #[test]
    fn plain_mesh_gets_normals_and_a_material() {
        let mut asset = colored_cube();
        asset.mesh.colors.clear();
        asset.mesh.normals.clear();
        asset.name.clear();
        asset.material.double_sided = true;
        let bytes = glb_bytes(&asset, &GlbOptions::default()).unwrap();
        gltf_validator::assert_valid_glb_bytes(&bytes);
        let (doc, buffers, _) = gltf::import_slice(&bytes).unwrap();
        let prim = doc.meshes().next().unwrap().primitives().next().unwrap();
        let reader = prim.reader(|b| Some(&buffers[b.index()]));
        let normals: Vec<[f32; 3]> = reader.read_normals().unwrap().collect();
        for n in normals {
            assert!(((n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt() - 1.0).abs() < 1e-6);
        }
        assert!(prim.material().double_sided());
        assert_eq!(
            prim.material().pbr_metallic_roughness().metallic_factor(),
            0.0
        );
    }

    #[test]
    fn odd_sized_png_is_padded() {
        // A 3x1 texture gives a PNG whose length is (almost surely) not a multiple of 4.
        let mut asset = textured_cube();
        asset.material.base_color_texture = Some(image::RgbaImage::from_pixel(
            3,
            1,
            image::Rgba([10, 20, 30, 128]),
        ));
        let bytes = glb_bytes(&asset, &GlbOptions::default()).unwrap();
        assert_eq!(bytes.len() % 4, 0);
        gltf_validator::assert_valid_glb_bytes(&bytes);
        let (_, _, images) = gltf::import_slice(&bytes).unwrap();
        assert_eq!(images[0].format, gltf::image::Format::R8G8B8A8);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let mut asset = textured_cube();
        asset.mesh.uvs.clear();
        let err = glb_bytes(&asset, &GlbOptions::default()).unwrap_err();
        assert!(
            matches!(err, Error::InvalidParameter { name: "uvs", .. }),
            "{err}"
        );

        let mut asset = colored_cube();
        asset.material = Material {
            roughness: 1.5,
            ..Material::default()
        };
        let err = glb_bytes(&asset, &GlbOptions::default()).unwrap_err();
        assert!(err.to_string().contains("roughness"), "{err}");

        let mut asset = colored_cube();
        asset.mesh.triangles[3][0] = 999;
        assert!(matches!(
            glb_bytes(&asset, &GlbOptions::default()),
            Err(Error::InvalidMesh(_))
        ));
    }

    #[test]
    fn write_glb_is_atomic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cube.glb");
        write_glb(&path, &textured_cube(), &GlbOptions::default()).unwrap();
        gltf_validator::assert_valid(&path);
        gltf::import(&path).unwrap();

        // An invalid asset leaves the previous file untouched and no temporary file.
        let before = std::fs::read(&path).unwrap();
        let mut bad = textured_cube();
        bad.mesh.positions[0][0] = f32::NAN;
        assert!(write_glb(&path, &bad, &GlbOptions::default()).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        // An unwritable folder is an error naming the path, and nothing is written.
        let missing = dir.path().join("no-such-folder").join("cube.glb");
        let err = write_glb(&missing, &textured_cube(), &GlbOptions::default()).unwrap_err();
        assert!(err.to_string().contains("no-such-folder"), "{err}");
        assert!(!missing.exists());
    }
}
