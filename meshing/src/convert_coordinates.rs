//! The frame machinery: affine transforms, the output frame (glTF's: +Y up, object
//! facing +Z, meters), the conversion of the frames this crate itself defines into it,
//! and fitting a mesh to a requested size.
//!
//! * A neural model's own frame is a fact about that model and is converted where the
//!   model lives: TripoSR's is `img23d_models::triposr::triposr_to_gltf`, a
//!   [`Transform`] built here.
//! * The built-in inflation field is defined directly in glTF's frame.
//! * Depth maps are back-projected in OpenCV's camera frame (x right, y down, z forward,
//!   the convention of Open3D and MoGe); [`opencv_camera_to_gltf`] turns that into glTF's
//!   (x right, y up, z toward the viewer), the `(1, -1, -1)` flip MoGe applies before its
//!   glTF export (`moge/scripts/infer.py`).

use crate::Mesh;
use crate::field::Bounds;

/// An affine map `p -> linear * p + translation` (row-major 3×3).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Transform {
    /// Row-major linear part.
    pub linear: [[f32; 3]; 3],
    /// Translation, applied after the linear part.
    pub translation: [f32; 3],
}

impl Default for Transform {
    fn default() -> Self {
        Self::IDENTITY
    }
}

impl Transform {
    /// The identity.
    pub const IDENTITY: Self = Self {
        linear: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        translation: [0.0; 3],
    };

    /// A pure linear map.
    pub const fn linear(linear: [[f32; 3]; 3]) -> Self {
        Self {
            linear,
            translation: [0.0; 3],
        }
    }

    /// Uniform scaling about the origin.
    pub fn uniform_scale(s: f32) -> Self {
        Self::linear([[s, 0.0, 0.0], [0.0, s, 0.0], [0.0, 0.0, s]])
    }

    /// A translation.
    pub fn translate(t: [f32; 3]) -> Self {
        Self {
            translation: t,
            ..Self::IDENTITY
        }
    }

    /// Maps a point.
    #[inline]
    pub fn apply_point(&self, p: [f32; 3]) -> [f32; 3] {
        let m = &self.linear;
        [
            m[0][0] * p[0] + m[0][1] * p[1] + m[0][2] * p[2] + self.translation[0],
            m[1][0] * p[0] + m[1][1] * p[1] + m[1][2] * p[2] + self.translation[1],
            m[2][0] * p[0] + m[2][1] * p[1] + m[2][2] * p[2] + self.translation[2],
        ]
    }

    /// Maps a direction (no translation).
    #[inline]
    pub fn apply_vector(&self, v: [f32; 3]) -> [f32; 3] {
        let m = &self.linear;
        [
            m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
            m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
            m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2],
        ]
    }

    /// Determinant of the linear part; negative means the map mirrors (and triangle
    /// winding must be flipped to stay counter-clockwise from outside).
    pub fn determinant(&self) -> f32 {
        let m = &self.linear;
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    }

    /// The inverse map, or `None` when the linear part is singular.
    pub fn inverse(&self) -> Option<Self> {
        let det = self.determinant();
        if det.abs() < 1e-12 || !det.is_finite() {
            return None;
        }
        let m = &self.linear;
        let inv_det = 1.0 / det;
        let mut inv = [[0.0f32; 3]; 3];
        for (r, row) in inv.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                // Cofactor of (c, r), i.e. the adjugate.
                let (r1, r2) = ((c + 1) % 3, (c + 2) % 3);
                let (c1, c2) = ((r + 1) % 3, (r + 2) % 3);
                *v = (m[r1][c1] * m[r2][c2] - m[r1][c2] * m[r2][c1]) * inv_det;
            }
        }
        let linear_inv = Self::linear(inv);
        let t = linear_inv.apply_vector(self.translation);
        Some(Self {
            linear: inv,
            translation: [-t[0], -t[1], -t[2]],
        })
    }

    /// `self ∘ first`: apply `first`, then `self`.
    pub fn after(&self, first: &Self) -> Self {
        let a = &self.linear;
        let b = &first.linear;
        let mut m = [[0.0f32; 3]; 3];
        for (r, row) in m.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = (0..3).map(|k| a[r][k] * b[k][c]).sum();
            }
        }
        Self {
            linear: m,
            translation: self.apply_point(first.translation),
        }
    }

    /// Bounding box of the transformed corners of `b`.
    pub fn apply_bounds(&self, b: &Bounds) -> Bounds {
        let mut min = [f32::INFINITY; 3];
        let mut max = [f32::NEG_INFINITY; 3];
        for corner in 0..8 {
            let p = [0, 1, 2].map(|a| {
                if corner >> a & 1 == 0 {
                    b.min[a]
                } else {
                    b.max[a]
                }
            });
            let q = self.apply_point(p);
            for a in 0..3 {
                min[a] = min[a].min(q[a]);
                max[a] = max[a].max(q[a]);
            }
        }
        Bounds { min, max }
    }

    /// Transforms a mesh in place: positions, normals (by the inverse transpose,
    /// renormalised) and, for mirroring maps, the triangle winding.
    pub fn apply_to_mesh(&self, mesh: &mut Mesh) {
        for p in &mut mesh.positions {
            *p = self.apply_point(*p);
        }
        if !mesh.normals.is_empty()
            && let Some(inv) = self.inverse()
        {
            // Normals transform by the inverse transpose.
            let it = &inv.linear;
            for n in &mut mesh.normals {
                let v = [
                    it[0][0] * n[0] + it[1][0] * n[1] + it[2][0] * n[2],
                    it[0][1] * n[0] + it[1][1] * n[1] + it[2][1] * n[2],
                    it[0][2] * n[0] + it[1][2] * n[1] + it[2][2] * n[2],
                ];
                let l = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
                *n = if l > 0.0 {
                    [v[0] / l, v[1] / l, v[2] / l]
                } else {
                    [0.0, 1.0, 0.0]
                };
            }
        }
        if self.determinant() < 0.0 {
            for t in &mut mesh.triangles {
                t.swap(1, 2);
            }
        }
    }
}

/// OpenCV's camera frame (x right, y down, z forward, the camera at the origin) to glTF's
/// (x right, y up, z toward the viewer): `(x, y, z) -> (x, -y, -z)`. A half turn about +X
/// (determinant +1), so triangle winding is kept. The camera stays at the origin and now
/// looks down -Z, as a glTF camera does.
pub const fn opencv_camera_to_gltf() -> Transform {
    Transform::linear([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])
}

/// The similarity that scales a mesh with bounding box `(min, max)` to `height` meters
/// along +Y, centres it on the Y axis (x and z) and puts its lowest point at `y = 0`, so
/// the asset stands on the ground at the origin. Returns `None` for a flat box.
pub fn fit_to_height(bbox: ([f32; 3], [f32; 3]), height: f32) -> Option<Transform> {
    let (min, max) = bbox;
    let extent = max[1] - min[1];
    if !(extent > 0.0 && height > 0.0 && extent.is_finite()) {
        return None;
    }
    let s = height / extent;
    let cx = 0.5 * (min[0] + max[0]);
    let cz = 0.5 * (min[2] + max[2]);
    Some(Transform {
        translation: [-s * cx, -s * min[1], -s * cz],
        ..Transform::uniform_scale(s)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: [f32; 3], b: [f32; 3]) -> bool {
        (0..3).all(|i| (a[i] - b[i]).abs() < 1e-5)
    }

    #[test]
    fn opencv_camera_frame_becomes_y_up_facing_the_viewer() {
        let t = opencv_camera_to_gltf();
        // A point in front of the camera (OpenCV +Z) lies down glTF's -Z.
        assert_eq!(t.apply_point([0.0, 0.0, 2.0]), [0.0, 0.0, -2.0]);
        // Image "down" (OpenCV +Y) is glTF's -Y; "right" stays +X.
        assert_eq!(t.apply_point([0.0, 1.0, 0.0]), [0.0, -1.0, 0.0]);
        assert_eq!(t.apply_point([1.0, 0.0, 0.0]), [1.0, 0.0, 0.0]);
        assert!((t.determinant() - 1.0).abs() < 1e-6, "a rotation");
    }

    #[test]
    fn inverse_and_composition() {
        let t = Transform {
            linear: [[0.0, 2.0, 0.0], [0.0, 0.0, 3.0], [-1.0, 0.0, 0.0]],
            translation: [1.0, -2.0, 0.5],
        };
        let inv = t.inverse().unwrap();
        let p = [0.3, -0.7, 1.9];
        assert!(close(inv.apply_point(t.apply_point(p)), p));
        assert!(close(t.after(&inv).apply_point(p), p));
    }

    #[test]
    fn mirror_flips_winding() {
        let mut m = Mesh::from_triangles(
            vec![
                [0.0, 0.0, 0.0],
                [1.0, 0.0, 0.0],
                [0.0, 1.0, 0.0],
                [0.0, 0.0, 1.0],
            ],
            vec![[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]],
        );
        let before = m.signed_volume();
        Transform::linear([[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
            .apply_to_mesh(&mut m);
        assert!(
            (m.signed_volume() - before).abs() < 1e-9,
            "still outward after mirroring"
        );
    }

    #[test]
    fn fit_to_height_stands_on_ground() {
        let t = fit_to_height(([-1.0, -0.5, 2.0], [1.0, 1.5, 4.0]), 1.0).unwrap();
        assert!(close(t.apply_point([-1.0, -0.5, 2.0]), [-0.5, 0.0, -0.5]));
        assert!(close(t.apply_point([1.0, 1.5, 4.0]), [0.5, 1.0, 0.5]));
    }
}
