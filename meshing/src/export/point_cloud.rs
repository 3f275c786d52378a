//! Point clouds as binary little-endian PLY: `float x y z` and, when colors are given,
//! `uchar red green blue` — the layout that loads in Open3D, PCL, MeshLab, CloudCompare,
//! trimesh and Blender (float32 positions: PCL refuses double; uchar colors named exactly
//! `red`/`green`/`blue`: float or `diffuse_`-prefixed colors show black in some readers;
//! LF line endings in the header). Vertex-only: no face element.

use std::io::Write;
use std::path::Path;

use crate::{Error, Result};

/// Writes `positions` (and `colors`, empty or one per position) as a binary little-endian
/// PLY point cloud at `path`, atomically.
pub fn write_point_cloud_ply(
    path: &Path,
    positions: &[[f32; 3]],
    colors: &[[u8; 3]],
) -> Result<()> {
    check_lengths(positions, colors)?;
    crate::io::write_atomic(path, |w| write_point_cloud_ply_to(w, positions, colors))
}

/// The PLY bytes of a point cloud (see [`write_point_cloud_ply`]).
pub fn point_cloud_ply_bytes(positions: &[[f32; 3]], colors: &[[u8; 3]]) -> Result<Vec<u8>> {
    check_lengths(positions, colors)?;
    let mut out = Vec::new();
    write_point_cloud_ply_to(&mut out, positions, colors).map_err(|e| Error::io(e, "<memory>"))?;
    Ok(out)
}

fn check_lengths(positions: &[[f32; 3]], colors: &[[u8; 3]]) -> Result<()> {
    if !colors.is_empty() && colors.len() != positions.len() {
        return Err(Error::invalid_parameter(
            "point colors",
            format!("0 or {} colors (one per point)", positions.len()),
            colors.len(),
        ));
    }
    if let Some((i, p)) = positions
        .iter()
        .enumerate()
        .find(|(_, p)| !p.iter().all(|c| c.is_finite()))
    {
        return Err(Error::invalid_parameter(
            "point position",
            "finite coordinates",
            format!("{p:?} at point {i}"),
        ));
    }
    Ok(())
}

fn write_point_cloud_ply_to(
    w: &mut dyn Write,
    positions: &[[f32; 3]],
    colors: &[[u8; 3]],
) -> std::io::Result<()> {
    let with_color = !colors.is_empty();
    let mut header = String::from("ply\nformat binary_little_endian 1.0\n");
    header.push_str(
        "comment img23d point cloud: meters, glTF frame (x right, y up, z toward the viewer)\n",
    );
    header.push_str(&format!("element vertex {}\n", positions.len()));
    header.push_str("property float x\nproperty float y\nproperty float z\n");
    if with_color {
        header.push_str("property uchar red\nproperty uchar green\nproperty uchar blue\n");
    }
    header.push_str("end_header\n");
    w.write_all(header.as_bytes())?;
    let record = if with_color { 15 } else { 12 };
    const CHUNK: usize = 1 << 16;
    let mut buf = Vec::with_capacity(CHUNK * record);
    for (k, block) in positions.chunks(CHUNK).enumerate() {
        buf.clear();
        for (j, p) in block.iter().enumerate() {
            for c in p {
                buf.extend_from_slice(&c.to_le_bytes());
            }
            if with_color {
                buf.extend_from_slice(&colors[k * CHUNK + j]);
            }
        }
        w.write_all(&buf)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal binary PLY vertex reader written from the format description (not sharing
    /// code with the writer): header lines, then packed little-endian records.
    fn read_back(bytes: &[u8]) -> (Vec<String>, Vec<[f32; 3]>, Vec<[u8; 3]>) {
        let end = bytes
            .windows(11)
            .position(|w| w == b"end_header\n")
            .unwrap()
            + 11;
        let header = std::str::from_utf8(&bytes[..end]).unwrap();
        let lines: Vec<String> = header.lines().map(str::to_string).collect();
        let n: usize = lines
            .iter()
            .find_map(|l| l.strip_prefix("element vertex "))
            .unwrap()
            .parse()
            .unwrap();
        let color = lines.iter().any(|l| l == "property uchar red");
        let rec = if color { 15 } else { 12 };
        let body = &bytes[end..];
        assert_eq!(body.len(), n * rec);
        let mut pos = Vec::new();
        let mut col = Vec::new();
        for r in body.chunks_exact(rec) {
            let f = |i: usize| f32::from_le_bytes(r[4 * i..4 * i + 4].try_into().unwrap());
            pos.push([f(0), f(1), f(2)]);
            if color {
                col.push([r[12], r[13], r[14]]);
            }
        }
        (lines, pos, col)
    }

    #[test]
    fn round_trip_with_and_without_colors() {
        let pos = vec![[1.0, -2.0, 3.5], [0.0, 0.25, -7.0]];
        let col = vec![[255, 0, 10], [1, 2, 3]];
        let bytes = point_cloud_ply_bytes(&pos, &col).unwrap();
        let (lines, p, c) = read_back(&bytes);
        assert_eq!(lines[1], "format binary_little_endian 1.0");
        assert!(lines.contains(&"property uchar blue".to_string()));
        assert_eq!((p, c), (pos.clone(), col));
        let (_, p, c) = read_back(&point_cloud_ply_bytes(&pos, &[]).unwrap());
        assert_eq!((p, c.len()), (pos, 0));
    }

    #[test]
    fn refuses_mismatched_colors_and_nan() {
        assert!(point_cloud_ply_bytes(&[[0.0; 3]], &[[0; 3], [0; 3]]).is_err());
        assert!(point_cloud_ply_bytes(&[[f32::NAN, 0.0, 0.0]], &[]).is_err());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.ply");
        assert!(write_point_cloud_ply(&p, &[[f32::NAN, 0.0, 0.0]], &[]).is_err());
        assert!(!p.exists());
    }
}
