//! Binary little-endian PLY writer (Stanford polygon format, as read by trimesh, Open3D,
//! MeshLab and Blender).
//!
//! ```text
//! element vertex N:  float x y z, float nx ny nz, uchar red green blue (sRGB, when colored)
//! element face M:    list uchar uint vertex_indices
//! ```
//!
//! Normals are always written (computed when the mesh has none); colors only when the
//! mesh has them. The writer formats records straight into one buffer: no per-vertex maps.

use std::path::Path;

use super::{prepared_mesh, to_u8};
use crate::{Error, Mesh, Result};

/// Serialises `mesh` as a binary little-endian PLY file in memory.
pub fn ply_bytes(mesh: &Mesh) -> Result<Vec<u8>> {
    let mesh = prepared_mesh(mesh)?;
    let colored = !mesh.colors.is_empty();
    let mut header = String::from("ply\nformat binary_little_endian 1.0\n");
    header.push_str(concat!("comment img23d ", env!("CARGO_PKG_VERSION"), "\n"));
    header.push_str(&format!("element vertex {}\n", mesh.positions.len()));
    for p in ["x", "y", "z", "nx", "ny", "nz"] {
        header.push_str(&format!("property float {p}\n"));
    }
    if colored {
        for p in ["red", "green", "blue"] {
            header.push_str(&format!("property uchar {p}\n"));
        }
    }
    header.push_str(&format!("element face {}\n", mesh.triangles.len()));
    header.push_str("property list uchar uint vertex_indices\nend_header\n");

    let vertex_size = 24 + if colored { 3 } else { 0 };
    let size = mesh
        .positions
        .len()
        .checked_mul(vertex_size)
        .and_then(|v| v.checked_add(mesh.triangles.len().checked_mul(13)?))
        .and_then(|v| v.checked_add(header.len()))
        .ok_or_else(|| Error::Limit {
            what: "a PLY file".to_string(),
            requested: "more bytes than the address space".to_string(),
            limit: format!("{} bytes", usize::MAX),
        })?;
    let mut out = crate::limits::try_vec_with_capacity::<u8>(size, "a PLY file")?;
    out.extend_from_slice(header.as_bytes());
    for (i, (p, n)) in mesh.positions.iter().zip(&mesh.normals).enumerate() {
        for c in p.iter().chain(n) {
            out.extend_from_slice(&c.to_le_bytes());
        }
        if colored {
            out.extend(mesh.colors[i].map(to_u8));
        }
    }
    for t in &mesh.triangles {
        out.push(3);
        for i in t {
            out.extend_from_slice(&i.to_le_bytes());
        }
    }
    Ok(out)
}

/// Writes `mesh` to `path` as binary little-endian PLY, atomically.
pub fn write_ply(path: &Path, mesh: &Mesh) -> Result<()> {
    let bytes = ply_bytes(mesh)?;
    crate::io::write_bytes_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::super::test_assets::cube;
    use super::*;
    use ply_rs_bw::parser::Parser;
    use ply_rs_bw::ply::{DefaultElement, Property};

    fn read(path: &Path) -> ply_rs_bw::ply::Ply<DefaultElement> {
        let mut f = std::io::BufReader::new(std::fs::File::open(path).unwrap());
        Parser::<DefaultElement>::new().read_ply(&mut f).unwrap()
    }

    fn float(e: &DefaultElement, k: &str) -> f32 {
        match e.get(k) {
            Some(Property::Float(v)) => *v,
            other => panic!("{k}: {other:?}"),
        }
    }

    #[test]
    fn round_trip_through_ply_rs() {
        let mesh = cube();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cube.ply");
        write_ply(&path, &mesh).unwrap();

        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes[..200]);
        assert!(
            text.starts_with("ply\nformat binary_little_endian 1.0\n"),
            "{text}"
        );

        let ply = read(&path);
        let verts = &ply.payload["vertex"];
        let faces = &ply.payload["face"];
        assert_eq!(verts.len(), mesh.positions.len());
        assert_eq!(faces.len(), mesh.triangles.len());
        for (i, v) in verts.iter().enumerate() {
            let p = [float(v, "x"), float(v, "y"), float(v, "z")];
            let n = [float(v, "nx"), float(v, "ny"), float(v, "nz")];
            assert_eq!(p, mesh.positions[i]);
            assert_eq!(n, mesh.normals[i]);
            let c = ["red", "green", "blue"].map(|k| match v.get(k) {
                Some(Property::UChar(c)) => *c,
                other => panic!("{k}: {other:?}"),
            });
            assert_eq!(c, mesh.colors[i].map(to_u8));
        }
        for (f, t) in faces.iter().zip(&mesh.triangles) {
            match f.get("vertex_indices") {
                Some(Property::ListUInt(l)) => assert_eq!(l.as_slice(), t),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn uncolored_mesh_has_no_color_properties() {
        let mut mesh = cube();
        mesh.colors.clear();
        mesh.normals.clear();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain.ply");
        write_ply(&path, &mesh).unwrap();
        let ply = read(&path);
        let v = &ply.payload["vertex"][0];
        assert!(v.get("red").is_none());
        // Normals were computed: the first face is +X.
        assert!((float(v, "nx") - 1.0).abs() < 1e-6);
    }

    #[test]
    fn errors_leave_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.ply");
        let mut mesh = cube();
        mesh.triangles[0] = [0, 1, 77];
        assert!(matches!(
            write_ply(&path, &mesh),
            Err(Error::InvalidMesh(_))
        ));
        let missing = dir.path().join("missing").join("cube.ply");
        let err = write_ply(&missing, &cube()).unwrap_err();
        assert!(err.to_string().ends_with("cube.ply"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
