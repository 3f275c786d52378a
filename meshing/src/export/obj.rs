//! Wavefront OBJ writer, with an MTL file and the PNG texture beside it when the material
//! has one.
//!
//! * Vertex colors use the common `v x y z r g b` extension (sRGB floats in `[0, 1]`,
//!   read by MeshLab, Blender, tobj and trimesh).
//! * OBJ's `vt` origin is the bottom-left of the image, glTF's the top-left: `vt u (1 - v)`.
//! * Faces are 1-based `f v/vt/vn` with one index per vertex (attributes are per vertex).
//! * The MTL carries `Kd` (base color factor), `d`, `map_Kd`, and the PBR extension keys
//!   `Pr` (roughness) and `Pm` (metallic) that Blender's importer reads.
//!
//! Each file is written atomically; when a later one fails, the ones this call already
//! wrote are removed, so a failed export leaves nothing behind.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{check_material, encode_png, prepared_mesh};
use crate::{Asset, Error, Result};

/// The files an OBJ export consists of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjFiles {
    /// The `.obj` itself.
    pub obj: PathBuf,
    /// `<stem>.mtl` beside it, when the material has a texture.
    pub mtl: Option<PathBuf>,
    /// `<stem>_basecolor.png` beside it, when the material has a texture.
    pub texture: Option<PathBuf>,
}

/// The paths [`write_obj`] writes for `path` (the MTL and PNG as if textured).
///
/// The texture is `<stem>_basecolor.png`, not `<stem>.png`, so exporting next to the
/// input picture never overwrites it.
pub fn obj_file_names(path: &Path) -> ObjFiles {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "asset".to_string());
    ObjFiles {
        obj: path.to_path_buf(),
        mtl: Some(path.with_file_name(format!("{stem}.mtl"))),
        texture: Some(path.with_file_name(format!("{stem}_basecolor.png"))),
    }
}

/// A name usable in `newmtl`/`usemtl` (no whitespace).
fn material_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .collect();
    if cleaned.is_empty() {
        "img23d".to_string()
    } else {
        cleaned
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Writes `asset` to `path` as OBJ; with a texture also the MTL and the PNG beside it.
/// Returns the files written.
pub fn write_obj(path: &Path, asset: &Asset) -> Result<ObjFiles> {
    let mesh = prepared_mesh(&asset.mesh)?;
    check_material(asset)?;
    let names = obj_file_names(path);
    let material = &asset.material;
    let textured = material.base_color_texture.is_some();
    let mat_name = material_name(&material.name);

    let mut obj = String::new();
    // `write!` into a String cannot fail.
    let _ = writeln!(obj, "# img23d {}", env!("CARGO_PKG_VERSION"));
    if textured && let Some(mtl) = &names.mtl {
        let _ = writeln!(obj, "mtllib {}", file_name(mtl));
    }
    if !asset.name.is_empty() {
        let _ = writeln!(obj, "o {}", material_name(&asset.name));
    }
    for (i, p) in mesh.positions.iter().enumerate() {
        match mesh.colors.get(i) {
            Some(c) => writeln!(
                obj,
                "v {} {} {} {} {} {}",
                p[0], p[1], p[2], c[0], c[1], c[2]
            ),
            None => writeln!(obj, "v {} {} {}", p[0], p[1], p[2]),
        }
        .map_err(|_| Error::invalid_parameter("obj", "formattable values", "a fmt error"))?;
    }
    for n in &mesh.normals {
        let _ = writeln!(obj, "vn {} {} {}", n[0], n[1], n[2]);
    }
    if textured {
        for uv in &mesh.uvs {
            let _ = writeln!(obj, "vt {} {}", uv[0], 1.0 - uv[1]);
        }
        let _ = writeln!(obj, "usemtl {mat_name}");
    }
    let _ = writeln!(obj, "s 1");
    for t in &mesh.triangles {
        let [a, b, c] = t.map(|i| u64::from(i) + 1);
        let _ = if textured {
            writeln!(obj, "f {a}/{a}/{a} {b}/{b}/{b} {c}/{c}/{c}")
        } else {
            writeln!(obj, "f {a}//{a} {b}//{b} {c}//{c}")
        };
    }

    let mut written: Vec<PathBuf> = Vec::new();
    let result = (|| -> Result<ObjFiles> {
        let mut files = ObjFiles {
            obj: names.obj.clone(),
            mtl: None,
            texture: None,
        };
        if let (Some(texture), Some(png_path), Some(mtl_path)) =
            (&material.base_color_texture, &names.texture, &names.mtl)
        {
            let png = encode_png(texture)?;
            crate::io::write_bytes_atomic(png_path, &png)?;
            written.push(png_path.clone());
            files.texture = Some(png_path.clone());

            let [r, g, b, alpha] = material.base_color_factor;
            let mut mtl = String::new();
            let _ = writeln!(mtl, "# img23d {}", env!("CARGO_PKG_VERSION"));
            let _ = writeln!(mtl, "newmtl {mat_name}");
            let _ = writeln!(mtl, "Ka 0 0 0");
            let _ = writeln!(mtl, "Kd {r} {g} {b}");
            let _ = writeln!(mtl, "Ks 0 0 0");
            let _ = writeln!(mtl, "d {alpha}");
            let _ = writeln!(mtl, "illum 1");
            let _ = writeln!(mtl, "Pr {}", material.roughness);
            let _ = writeln!(mtl, "Pm {}", material.metallic);
            let _ = writeln!(mtl, "map_Kd {}", file_name(png_path));
            crate::io::write_bytes_atomic(mtl_path, mtl.as_bytes())?;
            written.push(mtl_path.clone());
            files.mtl = Some(mtl_path.clone());
        }
        crate::io::write_bytes_atomic(&names.obj, obj.as_bytes())?;
        Ok(files)
    })();
    if result.is_err() {
        for p in &written {
            let _ = std::fs::remove_file(p);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::super::test_assets::{colored_cube, textured_cube};
    use super::*;

    #[test]
    fn vertex_colored_round_trip_through_tobj() {
        let asset = colored_cube();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cube.obj");
        let files = write_obj(&path, &asset).unwrap();
        assert_eq!(files.mtl, None);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        let (models, materials) = tobj::load_obj(&path, &tobj::GPU_LOAD_OPTIONS).unwrap();
        assert!(materials.unwrap().is_empty());
        assert_eq!(models.len(), 1);
        let m = &models[0].mesh;
        let positions: Vec<[f32; 3]> = m
            .positions
            .chunks_exact(3)
            .map(|c| [c[0], c[1], c[2]])
            .collect();
        assert_eq!(positions, asset.mesh.positions);
        let colors: Vec<[f32; 3]> = m
            .vertex_color
            .chunks_exact(3)
            .map(|c| [c[0], c[1], c[2]])
            .collect();
        assert_eq!(colors, asset.mesh.colors);
        let indices: Vec<u32> = asset.mesh.triangles.iter().flatten().copied().collect();
        assert_eq!(m.indices, indices);
        assert_eq!(m.normals.len(), positions.len() * 3);
        assert!(m.texcoords.is_empty());
    }

    #[test]
    fn textured_writes_mtl_and_png_beside() {
        let asset = textured_cube();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("my cube.obj");
        let files = write_obj(&path, &asset).unwrap();
        let png = files.texture.clone().unwrap();
        assert_eq!(png, dir.path().join("my cube_basecolor.png"));
        assert_eq!(files.mtl.clone().unwrap(), dir.path().join("my cube.mtl"));

        let (models, materials) = tobj::load_obj(&path, &tobj::GPU_LOAD_OPTIONS).unwrap();
        let materials = materials.unwrap();
        assert_eq!(materials.len(), 1);
        let mat = &materials[0];
        assert_eq!(
            mat.diffuse_texture.as_deref(),
            Some("my cube_basecolor.png")
        );
        assert_eq!(mat.diffuse, Some([1.0, 1.0, 1.0]));
        assert_eq!(mat.unknown_param.get("Pr").map(String::as_str), Some("0.6"));
        let m = &models[0].mesh;
        assert_eq!(m.material_id, Some(0));
        // vt is bottom-left based: v flips.
        for (t, uv) in m.texcoords.chunks_exact(2).zip(&asset.mesh.uvs) {
            assert_eq!(t[0], uv[0]);
            assert!((t[1] - (1.0 - uv[1])).abs() < 1e-6);
        }
        let back = image::open(&png).unwrap().to_rgba8();
        assert_eq!(&back, asset.material.base_color_texture.as_ref().unwrap());
    }

    #[test]
    fn failures_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing").join("cube.obj");
        let err = write_obj(&missing, &textured_cube()).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");

        // The OBJ's own path is a folder: PNG and MTL get written first, then removed.
        let blocked = dir.path().join("blocked.obj");
        std::fs::create_dir(&blocked).unwrap();
        assert!(write_obj(&blocked, &textured_cube()).is_err());
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("blocked.obj")]);

        let mut asset = textured_cube();
        asset.mesh.uvs.clear();
        assert!(write_obj(&dir.path().join("a.obj"), &asset).is_err());
        assert!(!dir.path().join("a.obj").exists());
    }
}
