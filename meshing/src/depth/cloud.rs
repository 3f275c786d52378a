//! Point clouds from a depth map: one point per sampled pixel with a valid depth no farther
//! than a cut-off, back-projected through the pixel centre and converted to glTF's frame.

use super::{DepthMap, Intrinsics, is_valid_depth};
use crate::{Error, Result};

/// How [`point_cloud`] samples the depth map.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointCloudOptions {
    /// Keep every `stride`-th pixel along both axes (starting at 0). By default, 1.
    pub stride: usize,
    /// Drop pixels whose depth exceeds this many meters (sky, far background). By default,
    /// infinity (keep every valid pixel).
    pub max_depth: f32,
}

impl Default for PointCloudOptions {
    fn default() -> Self {
        Self {
            stride: 1,
            max_depth: f32::INFINITY,
        }
    }
}

/// Points in glTF's frame (x right, y up, z toward the viewer; meters; the camera at the
/// origin looking down -Z) with sRGB colors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PointCloud {
    /// Positions, meters.
    pub positions: Vec<[f32; 3]>,
    /// sRGB colors: empty, or one per position.
    pub colors: Vec<[u8; 3]>,
}

/// Back-projects every `stride`-th pixel of `depth` whose depth is valid and at most
/// `max_depth`, in row-major order. `colors`, when given, must have the depth map's size;
/// each point takes its pixel's color.
pub fn point_cloud(
    depth: &DepthMap,
    intrinsics: &Intrinsics,
    colors: Option<&image::RgbImage>,
    options: &PointCloudOptions,
) -> Result<PointCloud> {
    let PointCloudOptions { stride, max_depth } = *options;
    if stride == 0 {
        return Err(Error::invalid_parameter("stride", "at least 1", stride));
    }
    if max_depth.is_nan() || max_depth <= 0.0 {
        return Err(Error::invalid_parameter(
            "max depth",
            "a positive number of meters",
            max_depth,
        ));
    }
    let (w, h) = (depth.width(), depth.height());
    if let Some(img) = colors
        && (img.width() as usize, img.height() as usize) != (w, h)
    {
        return Err(Error::invalid_parameter(
            "point colors",
            format!("a {w}x{h} picture (the depth map's size)"),
            format!("{}x{}", img.width(), img.height()),
        ));
    }
    let keep = |z: f32| is_valid_depth(z) && z <= max_depth;
    let rows: Vec<usize> = (0..h).step_by(stride).collect();
    let d = depth.data();
    let counts = super::map_indices(rows.len(), |k| {
        let v = rows[k];
        d[v * w..(v + 1) * w]
            .iter()
            .step_by(stride)
            .filter(|&&z| keep(z))
            .count()
    });
    let total: usize = counts.iter().sum();

    let mut positions: Vec<[f32; 3]> = crate::limits::try_vec_with_capacity(total, "point cloud")?;
    positions.resize(total, [0.0; 3]);
    let mut point_colors: Vec<[u8; 3]> = Vec::new();
    if colors.is_some() {
        point_colors = crate::limits::try_vec_with_capacity(total, "point colors")?;
        point_colors.resize(total, [0u8; 3]);
    }
    let color_counts: Vec<usize> = if colors.is_some() {
        counts.clone()
    } else {
        vec![0; counts.len()]
    };

    // One slice of each output per sampled row, filled in parallel.
    let jobs: Vec<_> = rows
        .iter()
        .copied()
        .zip(super::split_by_counts(&mut positions, &counts))
        .zip(super::split_by_counts(&mut point_colors, &color_counts))
        .collect();
    super::for_each_job(jobs, |((v, p), c)| {
        let row = &d[v * w..(v + 1) * w];
        let mut k = 0;
        for u in (0..w).step_by(stride) {
            let z = row[u];
            if !keep(z) {
                continue;
            }
            p[k] = intrinsics.back_project_gltf(u, v, z);
            if let Some(img) = colors {
                c[k] = img.get_pixel(u as u32, v as u32).0;
            }
            k += 1;
        }
    });

    Ok(PointCloud {
        positions,
        colors: point_colors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;

    /// Planar depth of the plane `n · P = c` (OpenCV camera frame) seen through pixel `(u, v)`.
    fn plane_depth(k: &Intrinsics, n: [f64; 3], c: f64, u: usize, v: usize) -> f32 {
        let x = (u as f64 + 0.5 - f64::from(k.cx)) / f64::from(k.fx);
        let y = (v as f64 + 0.5 - f64::from(k.cy)) / f64::from(k.fy);
        (c / (n[0] * x + n[1] * y + n[2])) as f32
    }

    /// Planar depth of the sphere `|P - centre| = r` (front surface) through pixel `(u, v)`.
    fn sphere_depth(k: &Intrinsics, centre: [f64; 3], r: f64, u: usize, v: usize) -> f32 {
        let x = (u as f64 + 0.5 - f64::from(k.cx)) / f64::from(k.fx);
        let y = (v as f64 + 0.5 - f64::from(k.cy)) / f64::from(k.fy);
        // Ray P = t (x, y, 1); planar depth is t.
        let a = x * x + y * y + 1.0;
        let b = -2.0 * (x * centre[0] + y * centre[1] + centre[2]);
        let cc = centre.iter().map(|c| c * c).sum::<f64>() - r * r;
        let disc = b * b - 4.0 * a * cc;
        if disc < 0.0 {
            return f32::NAN;
        }
        ((-b - disc.sqrt()) / (2.0 * a)) as f32
    }

    fn map(w: usize, h: usize, f: impl Fn(usize, usize) -> f32) -> DepthMap {
        let data = (0..h)
            .flat_map(|v| (0..w).map(move |u| (u, v)))
            .map(|(u, v)| f(u, v))
            .collect();
        DepthMap::new(w, h, data, &Limits::default()).unwrap()
    }

    #[test]
    fn tilted_plane_points_lie_on_the_plane() {
        // A plane 3 m away, tilted 30 degrees about the vertical axis, seen by a camera
        // with a 60 degree horizontal field of view on a non-square 64x48 image.
        let (w, h) = (64, 48);
        let f = 0.5 * w as f32 / (30f32.to_radians()).tan();
        let k = Intrinsics::centered(w, h, f).unwrap();
        let t = 30f64.to_radians();
        let n = [t.sin(), 0.0, t.cos()];
        let c = 3.0;
        let d = map(w, h, |u, v| plane_depth(&k, n, c, u, v));
        let cloud = point_cloud(&d, &k, None, &PointCloudOptions::default()).unwrap();
        assert_eq!(cloud.positions.len(), w * h);
        // Back in glTF the plane's normal is (n.x, -n.y, -n.z) and the plane is n' . P = c.
        let ng = [n[0], -n[1], -n[2]];
        for p in &cloud.positions {
            let dist = ng[0] * f64::from(p[0]) + ng[1] * f64::from(p[1]) + ng[2] * f64::from(p[2]);
            let r = (p.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>()).sqrt();
            assert!(
                ((dist - c) / r).abs() < 1e-4,
                "{p:?} off the plane by {}",
                dist - c
            );
            assert!(p[2] < 0.0, "in front of the camera, down -Z");
        }
        // The pixel at the image centre's right looks right, the top row looks up.
        let first = cloud.positions[0];
        assert!(first[0] < 0.0 && first[1] > 0.0);
    }

    #[test]
    fn sphere_points_lie_on_the_sphere() {
        let (w, h) = (80, 60);
        let k = Intrinsics::centered(w, h, 70.0).unwrap();
        let centre = [0.2, -0.1, 2.5];
        let r = 0.8;
        let d = map(w, h, |u, v| sphere_depth(&k, centre, r, u, v));
        let cloud = point_cloud(&d, &k, None, &PointCloudOptions::default()).unwrap();
        assert!(
            cloud.positions.len() > w * h / 4,
            "the sphere fills the view"
        );
        assert!(cloud.positions.len() < w * h, "and misses the corners");
        let cg = [centre[0], -centre[1], -centre[2]];
        for p in &cloud.positions {
            let dist = (0..3)
                .map(|i| (f64::from(p[i]) - cg[i]).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!(((dist - r) / r).abs() < 1e-4, "{p:?} at {dist}, radius {r}");
        }
    }

    #[test]
    fn stride_and_max_depth_thin_the_cloud() {
        let (w, h) = (10, 7);
        let k = Intrinsics::centered(w, h, 10.0).unwrap();
        // Left half at 1 m, right half at 100 m ("sky").
        let d = map(w, h, |u, _| if u < 5 { 1.0 } else { 100.0 });
        let img =
            image::RgbImage::from_fn(w as u32, h as u32, |u, v| image::Rgb([u as u8, v as u8, 7]));
        let all = point_cloud(&d, &k, Some(&img), &PointCloudOptions::default()).unwrap();
        assert_eq!(all.positions.len(), 70);
        let near = point_cloud(
            &d,
            &k,
            Some(&img),
            &PointCloudOptions {
                stride: 2,
                max_depth: 50.0,
            },
        )
        .unwrap();
        // Rows 0,2,4,6 and columns 0,2,4 (columns 6, 8 are at 100 m).
        assert_eq!(near.positions.len(), 12);
        assert_eq!(near.colors.len(), 12);
        assert_eq!(near.colors[0], [0, 0, 7]);
        assert_eq!(near.colors[4], [2, 2, 7]);
        assert!(near.positions.iter().all(|p| p[2] == -1.0));
        let wrong = image::RgbImage::new(3, 3);
        assert!(point_cloud(&d, &k, Some(&wrong), &PointCloudOptions::default()).is_err());
        let zero = PointCloudOptions {
            stride: 0,
            ..Default::default()
        };
        assert!(point_cloud(&d, &k, None, &zero).is_err());
    }
}
