//! Metric depth maps and what people make of them: back-projection through a pinhole
//! camera, discontinuity detection, point clouds, relief meshes, a 16-bit depth PNG and a
//! colorized preview. Nothing here knows which network produced the depth (Depth Pro in
//! img23d, see `img23d-models`).
//!
//! # Conventions (written once, here)
//!
//! * A [`DepthMap`] holds **planar** depth — the distance along the optical axis, not along
//!   the ray — in meters, row-major, `width × height`, row 0 at the top of the picture.
//! * Pixel `(u, v)` (column, row) covers `[u, u+1) × [v, v+1)`; its centre is at
//!   `(u + 0.5, v + 0.5)`. This matches `align_corners=False` resizing, which is how Depth
//!   Pro's depth is brought to the picture's size.
//! * [`Intrinsics`] are in pixels of the depth map, principal point at the image centre by
//!   default (`cx = W/2`, `cy = H/2`: Depth Pro estimates no principal point, users of
//!   `apple/ml-depth-pro` assume the centre, issue #11).
//! * Back-projection happens in OpenCV's camera frame (`X = (u + 0.5 - cx)·z/fx`,
//!   `Y = (v + 0.5 - cy)·z/fy`, `Z = z`; x right, y down, z forward), and outputs are then
//!   converted once, by [`crate::convert_coordinates::opencv_camera_to_gltf`], to glTF's frame:
//!   x right, y up, z toward the viewer, the camera at the origin looking down -Z.
//! * A pixel is a depth *edge* when the depth range (max - min) over its 3×3 window exceeds
//!   `rtol` times its own depth, MoGe's rule (`utils3d` `depth_edge`, `rtol = 0.04` in
//!   `moge/scripts/infer.py`).

mod cloud;
mod edges;
mod preview;
mod relief;

pub use cloud::{PointCloud, PointCloudOptions, point_cloud};
pub use edges::{DEFAULT_EDGE_RTOL, edge_mask};
pub use preview::{
    PREVIEW_FAR_M, PREVIEW_NEAR_M, PreviewOptions, colorize_preview, depth_png_millimeters, turbo,
    write_depth_png_millimeters, write_rgb_png,
};
pub use relief::{ReliefOptions, relief_mesh};

use crate::{Error, Limits, Result};

/// A metric depth map: planar depth in meters, row-major, row 0 at the top.
///
/// Values that are not finite or not positive mean "no depth here"; every consumer in this
/// module skips them.
#[derive(Debug, Clone, PartialEq)]
pub struct DepthMap {
    width: usize,
    height: usize,
    data: Vec<f32>,
}

impl DepthMap {
    /// Wraps `data` (`width × height` values, row-major). Checks the size against `limits`
    /// and that `data` has exactly one value per pixel.
    pub fn new(width: usize, height: usize, data: Vec<f32>, limits: &Limits) -> Result<Self> {
        let (w32, h32) = (
            u32::try_from(width).unwrap_or(u32::MAX),
            u32::try_from(height).unwrap_or(u32::MAX),
        );
        limits.check_image(w32, h32)?;
        let expected = width * height;
        if data.len() != expected {
            return Err(Error::invalid_parameter(
                "depth map",
                format!("{expected} values for {width}x{height} pixels"),
                data.len(),
            ));
        }
        Ok(Self {
            width,
            height,
            data,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The values, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// Consumes the map, returning its values.
    pub fn into_data(self) -> Vec<f32> {
        self.data
    }

    /// Depth at column `u`, row `v` (no bounds check beyond the slice's).
    #[inline]
    pub fn at(&self, u: usize, v: usize) -> f32 {
        self.data[v * self.width + u]
    }

    /// Minimum, median and maximum over the valid (finite, positive) pixels, or `None` when
    /// there are none. The median of an even count is the lower middle value.
    ///
    /// Exact, by a two-pass radix selection: positive floats order like their bit patterns,
    /// so a histogram of the top 16 bits finds the bucket holding the median, and only that
    /// bucket is sorted.
    pub fn stats(&self) -> Result<Option<DepthStats>> {
        const CHUNK: usize = 1 << 20;
        const BINS: usize = 1 << 16;
        let d = &self.data;
        let chunks = d.len().div_ceil(CHUNK);
        let partial = map_indices(chunks, |c| {
            let mut hist = vec![0u32; BINS];
            let (mut lo, mut hi, mut n) = (f32::INFINITY, f32::NEG_INFINITY, 0usize);
            for &z in &d[c * CHUNK..((c + 1) * CHUNK).min(d.len())] {
                if is_valid_depth(z) {
                    hist[(z.to_bits() >> 16) as usize] += 1;
                    lo = lo.min(z);
                    hi = hi.max(z);
                    n += 1;
                }
            }
            (hist, lo, hi, n)
        });
        let mut hist = vec![0usize; BINS];
        let (mut min, mut max, mut count) = (f32::INFINITY, f32::NEG_INFINITY, 0usize);
        for (h, lo, hi, n) in &partial {
            for (acc, &x) in hist.iter_mut().zip(h) {
                *acc += x as usize;
            }
            min = min.min(*lo);
            max = max.max(*hi);
            count += n;
        }
        if count == 0 {
            return Ok(None);
        }
        let mid = (count - 1) / 2;
        let mut before = 0usize;
        let mut bin = 0usize;
        for (b, &c) in hist.iter().enumerate() {
            if before + c > mid {
                bin = b;
                break;
            }
            before += c;
        }
        let mut bucket: Vec<f32> = crate::limits::try_vec_with_capacity(hist[bin], "depth median")?;
        bucket.extend(
            d.iter()
                .copied()
                .filter(|&z| is_valid_depth(z) && (z.to_bits() >> 16) as usize == bin),
        );
        let (_, median, _) = bucket.select_nth_unstable_by(mid - before, f32::total_cmp);
        Ok(Some(DepthStats {
            min,
            median: *median,
            max,
            valid_pixels: count,
        }))
    }
}

/// Summary of a depth map's valid pixels, in meters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct DepthStats {
    /// Nearest depth.
    pub min: f32,
    /// Median depth (lower middle value for an even count).
    pub median: f32,
    /// Farthest depth.
    pub max: f32,
    /// Number of pixels with a finite, positive depth.
    pub valid_pixels: usize,
}

/// Whether a depth value means "a surface at this distance".
#[inline]
pub fn is_valid_depth(d: f32) -> bool {
    d.is_finite() && d > 0.0
}

/// Pinhole intrinsics in pixels of the depth map. Pixel `(u, v)` has its centre at
/// `(u + 0.5, v + 0.5)`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Intrinsics {
    /// Focal length along x, pixels.
    pub fx: f32,
    /// Focal length along y, pixels.
    pub fy: f32,
    /// Principal point x, pixels from the left edge.
    pub cx: f32,
    /// Principal point y, pixels from the top edge.
    pub cy: f32,
}

impl Intrinsics {
    /// Square pixels with focal length `focal_px` and the principal point at the image
    /// centre (`W/2`, `H/2`). Errors unless `focal_px` is finite and positive.
    pub fn centered(width: usize, height: usize, focal_px: f32) -> Result<Self> {
        if !(focal_px.is_finite() && focal_px > 0.0) {
            return Err(Error::invalid_parameter(
                "focal length",
                "a finite, positive number of pixels",
                focal_px,
            ));
        }
        Ok(Self {
            fx: focal_px,
            fy: focal_px,
            cx: 0.5 * width as f32,
            cy: 0.5 * height as f32,
        })
    }

    /// The OpenCV camera-frame point (x right, y down, z forward) seen through the centre
    /// of pixel `(u, v)` at planar depth `z`.
    #[inline]
    pub fn back_project_opencv(&self, u: usize, v: usize, z: f32) -> [f32; 3] {
        let x = (u as f32 + 0.5 - self.cx) / self.fx;
        let y = (v as f32 + 0.5 - self.cy) / self.fy;
        [x * z, y * z, z]
    }

    /// The glTF-frame point (x right, y up, z toward the viewer, camera at the origin
    /// looking down -Z) seen through the centre of pixel `(u, v)` at planar depth `z`.
    #[inline]
    pub fn back_project_gltf(&self, u: usize, v: usize, z: f32) -> [f32; 3] {
        crate::convert_coordinates::opencv_camera_to_gltf()
            .apply_point(self.back_project_opencv(u, v, z))
    }

    /// Horizontal field of view in degrees for an image `width` pixels wide (centred
    /// principal point).
    pub fn horizontal_fov_deg(&self, width: usize) -> f32 {
        (2.0 * (0.5 * width as f32 / self.fx).atan()).to_degrees()
    }

    /// Vertical field of view in degrees for an image `height` pixels tall.
    pub fn vertical_fov_deg(&self, height: usize) -> f32 {
        (2.0 * (0.5 * height as f32 / self.fy).atan()).to_degrees()
    }
}

/// The automatic sampling stride that keeps the longer side of `width × height` at or
/// below `target_long_side` samples: `ceil(long_side / target_long_side)`, at least 1.
pub fn auto_stride(width: usize, height: usize, target_long_side: usize) -> usize {
    let long = width.max(height);
    long.div_ceil(target_long_side.max(1)).max(1)
}

/// Sample positions along an axis of `len` pixels at `stride`: `0, s, 2s, …` and always the
/// last pixel `len - 1`, so a grid covers the whole picture.
pub(crate) fn grid_samples(len: usize, stride: usize) -> Vec<usize> {
    if len == 0 {
        return Vec::new();
    }
    let stride = stride.max(1);
    let mut out: Vec<usize> = (0..len).step_by(stride).collect();
    if out.last() != Some(&(len - 1)) {
        out.push(len - 1);
    }
    out
}

/// Calls `f(row_index, row)` for every `width`-long row of `data`, in parallel with the
/// `rayon` feature.
pub(crate) fn for_each_row_mut<T, F>(data: &mut [T], width: usize, f: F)
where
    T: Send,
    F: Fn(usize, &mut [T]) + Send + Sync,
{
    if width == 0 {
        return;
    }
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        data.par_chunks_mut(width)
            .enumerate()
            .for_each(|(v, row)| f(v, row));
    }
    #[cfg(not(feature = "rayon"))]
    for (v, row) in data.chunks_mut(width).enumerate() {
        f(v, row);
    }
}

/// `f(0), f(1), …, f(n - 1)`, in parallel with the `rayon` feature.
pub(crate) fn map_indices<T, F>(n: usize, f: F) -> Vec<T>
where
    T: Send,
    F: Fn(usize) -> T + Send + Sync,
{
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        (0..n).into_par_iter().map(f).collect()
    }
    #[cfg(not(feature = "rayon"))]
    (0..n).map(f).collect()
}

/// Runs `f` on every job, in parallel with the `rayon` feature.
pub(crate) fn for_each_job<J, F>(jobs: Vec<J>, f: F)
where
    J: Send,
    F: Fn(J) + Send + Sync,
{
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        jobs.into_par_iter().for_each(f);
    }
    #[cfg(not(feature = "rayon"))]
    jobs.into_iter().for_each(f);
}

/// Splits `data` into consecutive runs of `counts[k]` items (which must sum to at most
/// `data.len()`).
pub(crate) fn split_by_counts<'a, T>(mut data: &'a mut [T], counts: &[usize]) -> Vec<&'a mut [T]> {
    let mut out = Vec::with_capacity(counts.len());
    for &c in counts {
        let (head, tail) = std::mem::take(&mut data).split_at_mut(c);
        out.push(head);
        data = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_skip_invalid_pixels() {
        let d = DepthMap::new(
            3,
            2,
            vec![2.0, f32::NAN, 1.0, 0.0, 4.0, f32::INFINITY],
            &Limits::default(),
        )
        .unwrap();
        let s = d.stats().unwrap().unwrap();
        assert_eq!((s.min, s.median, s.max, s.valid_pixels), (1.0, 2.0, 4.0, 3));
        let none = DepthMap::new(1, 1, vec![f32::NAN], &Limits::default()).unwrap();
        assert!(none.stats().unwrap().is_none());
        // Against a full sort, on values spread over many radix buckets and chunks.
        let (w, h) = (1024, 3 * 1024 + 1);
        let n = w * h;
        let mut state = 7u32;
        let data: Vec<f32> = (0..n)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                0.1 + 300.0 * ((state >> 8) as f32 / (1 << 24) as f32).powi(3)
            })
            .collect();
        let mut sorted = data.clone();
        sorted.sort_by(f32::total_cmp);
        let s = DepthMap::new(w, h, data, &Limits::default())
            .unwrap()
            .stats()
            .unwrap()
            .unwrap();
        assert_eq!(s.median, sorted[(n - 1) / 2]);
        assert_eq!((s.min, s.max), (sorted[0], sorted[n - 1]));
    }

    #[test]
    fn new_checks_size() {
        assert!(DepthMap::new(2, 2, vec![1.0; 3], &Limits::default()).is_err());
        assert!(DepthMap::new(0, 2, vec![], &Limits::default()).is_err());
    }

    #[test]
    fn principal_ray_goes_down_minus_z() {
        // 4x2 image: the image centre (2, 1) lies between pixels; the point between the
        // centres of pixels (1,0),(2,0),(1,1),(2,1) is on the axis.
        let k = Intrinsics::centered(4, 2, 10.0).unwrap();
        let a = k.back_project_gltf(1, 0, 5.0);
        let b = k.back_project_gltf(2, 1, 5.0);
        assert!((a[0] + b[0]).abs() < 1e-6 && (a[1] + b[1]).abs() < 1e-6);
        assert_eq!(a[2], -5.0);
        // Top-left pixel is left (x < 0) and up (y > 0) in glTF.
        assert!(a[0] < 0.0 && a[1] > 0.0);
        assert!((k.horizontal_fov_deg(4) - 2.0 * (0.2f32).atan().to_degrees()).abs() < 1e-5);
        assert!(Intrinsics::centered(4, 2, 0.0).is_err());
    }

    #[test]
    fn grid_samples_cover_the_axis() {
        assert_eq!(grid_samples(10, 4), vec![0, 4, 8, 9]);
        assert_eq!(grid_samples(9, 4), vec![0, 4, 8]);
        assert_eq!(grid_samples(1, 4), vec![0]);
        assert_eq!(auto_stride(4000, 3000, 1024), 4);
        assert_eq!(auto_stride(8, 8, 1024), 1);
    }
}
