//! The one CPU mesh type of img23d, with its one validator.

use crate::MeshError;

/// An indexed triangle mesh, stored as a struct of arrays.
///
/// Every per-vertex attribute vector is either empty (attribute absent) or has exactly
/// `positions.len()` entries. [`Mesh::validate`] checks this and the other invariants; call
/// it at every stage boundary and in every test.
///
/// # Common points of confusion
///
/// * **Frame.** Meshes leaving the pipeline are in glTF's frame: right-handed, +Y up, the
///   object faces +Z, units are meters. Meshes straight out of extraction are in their
///   field's own frame; frames change only through [`crate::convert_coordinates`]'s
///   transforms (a neural model's own frame is converted beside the model).
/// * **Winding.** Triangles are counter-clockwise seen from outside, so
///   `(b - a) × (c - a)` points outward.
/// * **Colors** are sRGB-encoded in `[0, 1]` (like the input picture), not linear.
/// * **UVs** have their origin at the top-left of the texture (glTF convention): `v = 0` is
///   the first row of the image.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mesh {
    /// Vertex positions.
    pub positions: Vec<[f32; 3]>,
    /// Unit vertex normals: empty, or one per vertex.
    pub normals: Vec<[f32; 3]>,
    /// sRGB vertex colors in `[0, 1]`: empty, or one per vertex.
    pub colors: Vec<[f32; 3]>,
    /// Texture coordinates, origin top-left: empty, or one per vertex.
    pub uvs: Vec<[f32; 2]>,
    /// Triangles as vertex indices, counter-clockwise from outside.
    pub triangles: Vec<[u32; 3]>,
}

/// Tolerance on normal length accepted by [`Mesh::validate`] (the glTF validator accepts
/// about 5e-4 as well).
pub const NORMAL_LENGTH_TOLERANCE: f32 = 1e-3;

impl Mesh {
    /// A mesh with positions and triangles only.
    pub fn from_triangles(positions: Vec<[f32; 3]>, triangles: Vec<[u32; 3]>) -> Self {
        Self {
            positions,
            triangles,
            ..Self::default()
        }
    }

    /// Number of vertices.
    pub fn vertex_count(&self) -> usize {
        self.positions.len()
    }

    /// Number of triangles.
    pub fn triangle_count(&self) -> usize {
        self.triangles.len()
    }

    /// Checks every invariant of the type: non-empty, attribute lengths, indices in range,
    /// finite values, unit normals, colors in `[0, 1]`.
    pub fn validate(&self) -> Result<(), MeshError> {
        let Self {
            positions,
            normals,
            colors,
            uvs,
            triangles,
        } = self;
        let n = positions.len();
        if n == 0 || triangles.is_empty() {
            return Err(MeshError::Empty {
                vertices: n,
                triangles: triangles.len(),
            });
        }
        if u32::try_from(n).is_err() {
            return Err(MeshError::TooManyVertices { vertices: n });
        }
        for (attribute, got) in [
            ("normals", normals.len()),
            ("colors", colors.len()),
            ("uvs", uvs.len()),
        ] {
            if got != 0 && got != n {
                return Err(MeshError::AttributeLength {
                    attribute,
                    expected: n,
                    got,
                });
            }
        }
        for (vertex, p) in positions.iter().enumerate() {
            if !p.iter().all(|c| c.is_finite()) {
                return Err(MeshError::NotFinite {
                    attribute: "position",
                    vertex,
                    value: p.to_vec(),
                });
            }
        }
        for (vertex, nrm) in normals.iter().enumerate() {
            if !nrm.iter().all(|c| c.is_finite()) {
                return Err(MeshError::NotFinite {
                    attribute: "normal",
                    vertex,
                    value: nrm.to_vec(),
                });
            }
            let length = (nrm[0] * nrm[0] + nrm[1] * nrm[1] + nrm[2] * nrm[2]).sqrt();
            if (length - 1.0).abs() > NORMAL_LENGTH_TOLERANCE {
                return Err(MeshError::NonUnitNormal { vertex, length });
            }
        }
        for (vertex, c) in colors.iter().enumerate() {
            if !c.iter().all(|v| (0.0..=1.0).contains(v)) {
                return Err(MeshError::ColorOutOfRange { vertex, value: *c });
            }
        }
        for (vertex, uv) in uvs.iter().enumerate() {
            if !uv.iter().all(|c| c.is_finite()) {
                return Err(MeshError::NotFinite {
                    attribute: "uv",
                    vertex,
                    value: uv.to_vec(),
                });
            }
        }
        let vertices = n;
        for (triangle, t) in triangles.iter().enumerate() {
            for &index in t {
                if index as usize >= vertices {
                    return Err(MeshError::IndexOutOfBounds {
                        triangle,
                        index,
                        vertices,
                    });
                }
            }
        }
        Ok(())
    }

    /// Axis-aligned bounding box `(min, max)` of the positions, or `None` when empty.
    pub fn bounding_box(&self) -> Option<([f32; 3], [f32; 3])> {
        let first = *self.positions.first()?;
        let mut lo = first;
        let mut hi = first;
        for p in &self.positions {
            for a in 0..3 {
                lo[a] = lo[a].min(p[a]);
                hi[a] = hi[a].max(p[a]);
            }
        }
        Some((lo, hi))
    }

    /// Surface area.
    pub fn area(&self) -> f64 {
        self.triangles
            .iter()
            .map(|t| {
                let [a, b, c] = t.map(|i| self.positions[i as usize]);
                0.5 * f64::from(length(cross(sub(b, a), sub(c, a))))
            })
            .sum()
    }

    /// Signed enclosed volume (positive for a closed mesh with outward winding).
    pub fn signed_volume(&self) -> f64 {
        self.triangles
            .iter()
            .map(|t| {
                let [a, b, c] = t.map(|i| self.positions[i as usize].map(f64::from));
                (a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0])
                    + a[2] * (b[0] * c[1] - b[1] * c[0]))
                    / 6.0
            })
            .sum()
    }

    /// Recomputes unit vertex normals, each the angle-weighted average of its triangles'
    /// normals (Thürmer & Wüthrich). Vertices of degenerate neighbourhoods get +Y.
    pub fn compute_normals(&mut self) {
        let mut acc = vec![[0.0f32; 3]; self.positions.len()];
        for t in &self.triangles {
            let p = t.map(|i| self.positions[i as usize]);
            let face = cross(sub(p[1], p[0]), sub(p[2], p[0]));
            let face_len = length(face);
            if face_len <= f32::MIN_POSITIVE {
                continue;
            }
            let face = scale(face, 1.0 / face_len);
            for corner in 0..3 {
                let e1 = sub(p[(corner + 1) % 3], p[corner]);
                let e2 = sub(p[(corner + 2) % 3], p[corner]);
                let (l1, l2) = (length(e1), length(e2));
                if l1 <= f32::MIN_POSITIVE || l2 <= f32::MIN_POSITIVE {
                    continue;
                }
                let cos = (dot(e1, e2) / (l1 * l2)).clamp(-1.0, 1.0);
                let angle = cos.acos();
                let a = &mut acc[t[corner] as usize];
                for k in 0..3 {
                    a[k] += face[k] * angle;
                }
            }
        }
        for a in &mut acc {
            let l = length(*a);
            *a = if l > 1e-20 {
                scale(*a, 1.0 / l)
            } else {
                [0.0, 1.0, 0.0]
            };
        }
        self.normals = acc;
    }

    /// Consuming form of [`Mesh::compute_normals`].
    #[must_use]
    pub fn with_computed_normals(mut self) -> Self {
        self.compute_normals();
        self
    }
}

#[inline]
pub(crate) fn sub(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
#[inline]
pub(crate) fn cross(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}
#[inline]
pub(crate) fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
#[inline]
pub(crate) fn length(a: [f32; 3]) -> f32 {
    dot(a, a).sqrt()
}
#[inline]
pub(crate) fn scale(a: [f32; 3], s: f32) -> [f32; 3] {
    [a[0] * s, a[1] * s, a[2] * s]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unit tetrahedron, counter-clockwise from outside.
    fn tetra() -> Mesh {
        Mesh::from_triangles(
            vec![
                [0.0, 0.0, 0.0],
                [1.0, 0.0, 0.0],
                [0.0, 1.0, 0.0],
                [0.0, 0.0, 1.0],
            ],
            vec![[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]],
        )
    }

    #[test]
    fn validate_accepts_good_mesh() {
        let m = tetra().with_computed_normals();
        m.validate().unwrap();
        assert!((m.signed_volume() - 1.0 / 6.0).abs() < 1e-9);
    }

    #[test]
    fn validate_rejects_each_broken_invariant() {
        let mut m = tetra();
        m.triangles[0][1] = 9;
        assert!(matches!(
            m.validate(),
            Err(MeshError::IndexOutOfBounds { index: 9, .. })
        ));

        let mut m = tetra();
        m.colors = vec![[0.5; 3]; 3];
        assert!(matches!(
            m.validate(),
            Err(MeshError::AttributeLength { .. })
        ));

        let mut m = tetra();
        m.positions[2][1] = f32::NAN;
        assert!(matches!(
            m.validate(),
            Err(MeshError::NotFinite { vertex: 2, .. })
        ));

        let mut m = tetra();
        m.normals = vec![[0.0, 2.0, 0.0]; 4];
        assert!(matches!(m.validate(), Err(MeshError::NonUnitNormal { .. })));

        let mut m = tetra();
        m.colors = vec![[0.5, 1.5, 0.0]; 4];
        assert!(matches!(
            m.validate(),
            Err(MeshError::ColorOutOfRange { .. })
        ));

        assert!(matches!(
            Mesh::default().validate(),
            Err(MeshError::Empty { .. })
        ));
    }

    #[test]
    fn normals_point_outward() {
        let m = tetra().with_computed_normals();
        // Vertex 1 = (1,0,0) sits on faces with normals -z, -y and (1,1,1)/√3.
        let n = m.normals[1];
        assert!(n[0] > 0.0 && n[1] < 0.0 && n[2] < 0.0, "{n:?}");
        assert!((length(n) - 1.0).abs() < 1e-6);
    }
}
