//! Caps on sizes that come from user input (grid resolution, texture size, triangle
//! counts), checked before anything is allocated — in the manner of `image::Limits`.

use crate::{Error, Result};

/// Upper bounds on user-controlled sizes. `Default` gives limits that fit a 24 GiB machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest marching-cubes grid resolution (vertices per axis). By default, 1024.
    pub max_grid_resolution: usize,
    /// Largest texture side in pixels. By default, 8192.
    pub max_texture_size: u32,
    /// Largest input image side in pixels. By default, 16384.
    pub max_image_side: u32,
    /// Largest input image in pixels (width × height). By default, 100 megapixels.
    pub max_image_pixels: u64,
    /// Largest triangle count a mesh may reach. By default, 50 million.
    pub max_triangles: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_grid_resolution: 1024,
            max_texture_size: 8192,
            max_image_side: 16384,
            max_image_pixels: 100_000_000,
            max_triangles: 50_000_000,
        }
    }
}

impl Limits {
    /// Checks a grid resolution (vertices per axis).
    pub fn check_grid_resolution(&self, resolution: usize) -> Result<()> {
        if resolution < 2 {
            return Err(Error::invalid_parameter(
                "resolution",
                "at least 2",
                resolution,
            ));
        }
        if resolution > self.max_grid_resolution {
            return Err(Error::Limit {
                what: format!("a grid of {resolution}^3 points"),
                requested: format!("resolution {resolution}"),
                limit: format!("resolution {}", self.max_grid_resolution),
            });
        }
        Ok(())
    }

    /// Checks a texture side length.
    pub fn check_texture_size(&self, size: u32) -> Result<()> {
        if size > self.max_texture_size {
            return Err(Error::Limit {
                what: format!("a {size}x{size} texture"),
                requested: format!("{size} px"),
                limit: format!("{} px", self.max_texture_size),
            });
        }
        Ok(())
    }

    /// Checks image dimensions before decoding.
    pub fn check_image(&self, width: u32, height: u32) -> Result<()> {
        let pixels = u64::from(width) * u64::from(height);
        if width > self.max_image_side
            || height > self.max_image_side
            || pixels > self.max_image_pixels
        {
            return Err(Error::Limit {
                what: format!("a {width}x{height} image"),
                requested: format!("{width}x{height} = {pixels} pixels"),
                limit: format!(
                    "{} px per side and {} pixels",
                    self.max_image_side, self.max_image_pixels
                ),
            });
        }
        if width == 0 || height == 0 {
            return Err(Error::invalid_parameter(
                "image size",
                "at least 1x1 pixels",
                format!("{width}x{height}"),
            ));
        }
        Ok(())
    }
}

/// `Vec::with_capacity` that returns [`Error::Limit`] instead of aborting when the
/// allocation fails.
pub fn try_vec_with_capacity<T>(len: usize, what: &str) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| Error::Limit {
        what: what.to_string(),
        requested: format!("{} bytes", len.saturating_mul(size_of::<T>())),
        limit: "the memory available".to_string(),
    })?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_limits() {
        let l = Limits::default();
        assert!(l.check_grid_resolution(256).is_ok());
        assert!(matches!(
            l.check_grid_resolution(1),
            Err(Error::InvalidParameter { .. })
        ));
        assert!(matches!(
            l.check_grid_resolution(4096),
            Err(Error::Limit { .. })
        ));
    }

    #[test]
    fn image_limits() {
        let l = Limits::default();
        assert!(l.check_image(1920, 1080).is_ok());
        assert!(matches!(
            l.check_image(40000, 40000),
            Err(Error::Limit { .. })
        ));
        assert!(l.check_image(0, 10).is_err());
    }

    #[test]
    fn fallible_allocation_reports_limit() {
        let r = try_vec_with_capacity::<u64>(usize::MAX / 4, "test buffer");
        assert!(matches!(r, Err(Error::Limit { .. })));
    }
}
