//! Implicit fields: the one abstraction every reconstruction (neural or built-in)
//! implements, and the grids extraction samples them on.
//!
//! A [`Field`] is evaluated in **batches** — neural decoders are batch operations, so
//! nothing in img23d ever asks for one point at a time. Callers pass large batches
//! (see [`Field::preferred_batch`]); implementations may parallelise inside a call.

use crate::FieldError;
use crate::convert_coordinates::Transform;

/// Which side of the iso level is inside the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Inside {
    /// Values above the level are inside (densities, occupancies).
    Above,
    /// Values below the level are inside (signed distance functions).
    Below,
}

/// Where a field's surface is: the iso level and which side is inside.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Surface {
    /// The iso level (e.g. 25.0 for TripoSR's density, 0.0 for an SDF).
    pub level: f32,
    /// Which side of `level` is inside.
    pub inside: Inside,
}

impl Surface {
    /// Signed "insideness" of a value: positive inside, negative outside, zero on the
    /// surface. Lets algorithms treat densities and SDFs alike.
    #[inline]
    pub fn inside_amount(&self, value: f32) -> f32 {
        match self.inside {
            Inside::Above => value - self.level,
            Inside::Below => self.level - value,
        }
    }
}

/// An axis-aligned box.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Bounds {
    /// Minimum corner.
    pub min: [f32; 3],
    /// Maximum corner.
    pub max: [f32; 3],
}

impl Bounds {
    /// The cube `[-r, r]^3`.
    pub fn cube(r: f32) -> Self {
        Self {
            min: [-r; 3],
            max: [r; 3],
        }
    }

    /// Edge lengths.
    pub fn size(&self) -> [f32; 3] {
        [
            self.max[0] - self.min[0],
            self.max[1] - self.min[1],
            self.max[2] - self.min[2],
        ]
    }

    /// Length of the diagonal.
    pub fn diagonal(&self) -> f32 {
        let s = self.size();
        (s[0] * s[0] + s[1] * s[1] + s[2] * s[2]).sqrt()
    }

    /// True when every edge is finite and positive.
    pub fn is_valid(&self) -> bool {
        (0..3).all(|a| {
            self.min[a].is_finite() && self.max[a].is_finite() && self.max[a] > self.min[a]
        })
    }
}

/// A regular grid of sample points over [`Bounds`], ends included: along axis `a` point
/// `i` sits at `min[a] + size[a] * i / (dims[a] - 1)`. Linear index is x fastest:
/// `i + dims[0] * (j + dims[1] * k)`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Grid {
    /// The box whose corners are the first and last grid points.
    pub bounds: Bounds,
    /// Points per axis (x, y, z), each at least 2.
    pub dims: [usize; 3],
}

impl Grid {
    /// A grid with `resolution` points on every axis.
    pub fn cubic(bounds: Bounds, resolution: usize) -> Self {
        Self {
            bounds,
            dims: [resolution; 3],
        }
    }

    /// Spacing between neighbouring points per axis.
    pub fn spacing(&self) -> [f32; 3] {
        let s = self.bounds.size();
        [0, 1, 2].map(|a| s[a] / (self.dims[a].max(2) - 1) as f32)
    }

    /// Position of grid point `(i, j, k)`.
    #[inline]
    pub fn point(&self, i: usize, j: usize, k: usize) -> [f32; 3] {
        let s = self.spacing();
        [
            self.bounds.min[0] + s[0] * i as f32,
            self.bounds.min[1] + s[1] * j as f32,
            self.bounds.min[2] + s[2] * k as f32,
        ]
    }

    /// Number of grid points, or `None` on overflow.
    pub fn point_count(&self) -> Option<usize> {
        self.dims[0]
            .checked_mul(self.dims[1])?
            .checked_mul(self.dims[2])
    }
}

/// An implicit surface: a scalar field plus a color field, evaluated in batches.
///
/// Points are in the field's own frame (for a neural model, the model's frame). Wrap a
/// field in [`TransformedField`] to query it in another frame.
pub trait Field: Send + Sync {
    /// Human-readable name for reports and errors (e.g. `"triposr"`, `"inflate"`).
    fn name(&self) -> &str;

    /// The box outside which the field is considered empty. Extraction grids span it.
    fn bounds(&self) -> Bounds;

    /// The iso level and which side is inside.
    fn surface(&self) -> Surface;

    /// Evaluates the scalar field at every point into `out` (same length as `points`).
    fn eval_scalar(&self, points: &[[f32; 3]], out: &mut [f32]) -> Result<(), FieldError>;

    /// Evaluates the sRGB color in `[0, 1]` at every point into `out`.
    fn eval_color(&self, points: &[[f32; 3]], out: &mut [[f32; 3]]) -> Result<(), FieldError>;

    /// Batch size this field is efficient at; callers split larger work into batches of
    /// about this many points. By default, 65 536.
    fn preferred_batch(&self) -> usize {
        65_536
    }
}

impl<F: Field + ?Sized> Field for &F {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn bounds(&self) -> Bounds {
        (**self).bounds()
    }
    fn surface(&self) -> Surface {
        (**self).surface()
    }
    fn eval_scalar(&self, points: &[[f32; 3]], out: &mut [f32]) -> Result<(), FieldError> {
        (**self).eval_scalar(points, out)
    }
    fn eval_color(&self, points: &[[f32; 3]], out: &mut [[f32; 3]]) -> Result<(), FieldError> {
        (**self).eval_color(points, out)
    }
    fn preferred_batch(&self) -> usize {
        (**self).preferred_batch()
    }
}

impl<F: Field + ?Sized> Field for Box<F> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn bounds(&self) -> Bounds {
        (**self).bounds()
    }
    fn surface(&self) -> Surface {
        (**self).surface()
    }
    fn eval_scalar(&self, points: &[[f32; 3]], out: &mut [f32]) -> Result<(), FieldError> {
        (**self).eval_scalar(points, out)
    }
    fn eval_color(&self, points: &[[f32; 3]], out: &mut [[f32; 3]]) -> Result<(), FieldError> {
        (**self).eval_color(points, out)
    }
    fn preferred_batch(&self) -> usize {
        (**self).preferred_batch()
    }
}

/// A field seen through a transform: `TransformedField { inner, to_outer }` answers
/// queries in the outer frame, where `to_outer` maps the inner field's frame to the
/// outer one. Used after a mesh has been converted to glTF's frame, so the texture baker
/// can query the model's field at output-frame positions.
pub struct TransformedField<F> {
    inner: F,
    to_outer: Transform,
    to_inner: Transform,
}

impl<F: Field> TransformedField<F> {
    /// Wraps `inner`; `to_outer` must be invertible.
    pub fn new(inner: F, to_outer: Transform) -> Option<Self> {
        let to_inner = to_outer.inverse()?;
        Some(Self {
            inner,
            to_outer,
            to_inner,
        })
    }

    /// The wrapped field.
    pub fn inner(&self) -> &F {
        &self.inner
    }

    fn map_points(&self, points: &[[f32; 3]]) -> Vec<[f32; 3]> {
        points
            .iter()
            .map(|p| self.to_inner.apply_point(*p))
            .collect()
    }
}

impl<F: Field> Field for TransformedField<F> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn bounds(&self) -> Bounds {
        self.to_outer.apply_bounds(&self.inner.bounds())
    }
    fn surface(&self) -> Surface {
        self.inner.surface()
    }
    fn eval_scalar(&self, points: &[[f32; 3]], out: &mut [f32]) -> Result<(), FieldError> {
        self.inner.eval_scalar(&self.map_points(points), out)
    }
    fn eval_color(&self, points: &[[f32; 3]], out: &mut [[f32; 3]]) -> Result<(), FieldError> {
        self.inner.eval_color(&self.map_points(points), out)
    }
    fn preferred_batch(&self) -> usize {
        self.inner.preferred_batch()
    }
}

pub mod analytic {
    //! Closed-form fields for tests, benchmarks and the `img23d mesh` examples.

    use super::*;

    /// Signed distance to a sphere (negative inside); color varies with position.
    #[derive(Debug, Clone, Copy)]
    pub struct SphereSdf {
        /// Centre.
        pub center: [f32; 3],
        /// Radius.
        pub radius: f32,
        /// Bounds of the field.
        pub bounds: Bounds,
    }

    impl SphereSdf {
        /// A sphere of `radius` at the origin inside `[-1, 1]^3`.
        pub fn new(radius: f32) -> Self {
            Self {
                center: [0.0; 3],
                radius,
                bounds: Bounds::cube(1.0),
            }
        }
    }

    /// Color used by the analytic fields: a smooth function of position, in `[0, 1]`.
    pub fn position_color(p: [f32; 3]) -> [f32; 3] {
        p.map(|c| (0.5 + 0.5 * c).clamp(0.0, 1.0))
    }

    impl Field for SphereSdf {
        fn name(&self) -> &str {
            "sphere"
        }
        fn bounds(&self) -> Bounds {
            self.bounds
        }
        fn surface(&self) -> Surface {
            Surface {
                level: 0.0,
                inside: Inside::Below,
            }
        }
        fn eval_scalar(&self, points: &[[f32; 3]], out: &mut [f32]) -> Result<(), FieldError> {
            for (p, o) in points.iter().zip(out.iter_mut()) {
                let d = [
                    p[0] - self.center[0],
                    p[1] - self.center[1],
                    p[2] - self.center[2],
                ];
                *o = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt() - self.radius;
            }
            Ok(())
        }
        fn eval_color(&self, points: &[[f32; 3]], out: &mut [[f32; 3]]) -> Result<(), FieldError> {
            for (p, o) in points.iter().zip(out.iter_mut()) {
                *o = position_color(*p);
            }
            Ok(())
        }
    }

    /// Signed distance to a torus around the Y axis (negative inside).
    #[derive(Debug, Clone, Copy)]
    pub struct TorusSdf {
        /// Distance from the centre to the tube's centre line.
        pub major: f32,
        /// Tube radius.
        pub minor: f32,
        /// Bounds of the field.
        pub bounds: Bounds,
    }

    impl TorusSdf {
        /// A torus at the origin inside `[-1, 1]^3`.
        pub fn new(major: f32, minor: f32) -> Self {
            Self {
                major,
                minor,
                bounds: Bounds::cube(1.0),
            }
        }
    }

    impl Field for TorusSdf {
        fn name(&self) -> &str {
            "torus"
        }
        fn bounds(&self) -> Bounds {
            self.bounds
        }
        fn surface(&self) -> Surface {
            Surface {
                level: 0.0,
                inside: Inside::Below,
            }
        }
        fn eval_scalar(&self, points: &[[f32; 3]], out: &mut [f32]) -> Result<(), FieldError> {
            for (p, o) in points.iter().zip(out.iter_mut()) {
                let q = (p[0] * p[0] + p[2] * p[2]).sqrt() - self.major;
                *o = (q * q + p[1] * p[1]).sqrt() - self.minor;
            }
            Ok(())
        }
        fn eval_color(&self, points: &[[f32; 3]], out: &mut [[f32; 3]]) -> Result<(), FieldError> {
            for (p, o) in points.iter().zip(out.iter_mut()) {
                *o = position_color(*p);
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::analytic::SphereSdf;
    use super::*;

    #[test]
    fn grid_points_include_ends() {
        let g = Grid::cubic(Bounds::cube(0.87), 256);
        assert_eq!(g.point(0, 0, 0), [-0.87; 3]);
        let last = g.point(255, 255, 255);
        assert!(last.iter().all(|c| (c - 0.87).abs() < 1e-6));
        assert_eq!(g.point_count(), Some(256 * 256 * 256));
    }

    #[test]
    fn surface_sign() {
        let density = Surface {
            level: 25.0,
            inside: Inside::Above,
        };
        assert!(density.inside_amount(30.0) > 0.0);
        let sdf = Surface {
            level: 0.0,
            inside: Inside::Below,
        };
        assert!(sdf.inside_amount(-0.1) > 0.0);
    }

    #[test]
    fn transformed_field_queries_inner_frame() {
        let sphere = SphereSdf {
            center: [0.5, 0.0, 0.0],
            ..SphereSdf::new(0.25)
        };
        // Outer frame = inner frame scaled by 2.
        let f = TransformedField::new(sphere, Transform::uniform_scale(2.0)).unwrap();
        let mut out = [0.0];
        f.eval_scalar(&[[1.0, 0.0, 0.0]], &mut out).unwrap();
        // Outer (1,0,0) is inner (0.5,0,0): the sphere's centre, a radius deep inside.
        assert!((out[0] + 0.25).abs() < 1e-6, "{out:?}");
        assert_eq!(f.bounds(), Bounds::cube(2.0));
    }
}
