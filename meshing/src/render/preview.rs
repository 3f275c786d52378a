//! The preview sheet: the asset from the input camera, then a turntable of views around
//! it, shaded with the studio rig over a soft backdrop, laid out in a grid.

use image::RgbaImage;

use super::{Camera, Prepared, RenderOptions, Shading, render_prepared};
use crate::{Asset, Error, Limits, Result};

/// Settings of [`render_preview`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreviewOptions {
    /// Side of each square tile in pixels. By default, 384.
    pub tile: u32,
    /// Turntable views (evenly spaced azimuths, the first facing the object's front).
    /// By default, 8.
    pub views: u32,
    /// Elevation of the turntable views in degrees. By default, 20.
    pub elevation_deg: f32,
    /// Vertical field of view of the turntable views in degrees. By default, 30.
    pub fov_y_deg: f32,
    /// Samples per pixel along each axis. By default, 2.
    pub supersample: u32,
    /// Size caps for the sheet. By default, [`Limits::default`].
    pub limits: Limits,
}

impl Default for PreviewOptions {
    fn default() -> Self {
        Self {
            tile: 384,
            views: 8,
            elevation_deg: 20.0,
            fov_y_deg: 30.0,
            supersample: 2,
            limits: Limits::default(),
        }
    }
}

/// The backdrop of a tile: a vertical gradient, light at the top.
fn backdrop(size: u32) -> RgbaImage {
    RgbaImage::from_fn(size, size, |x, y| {
        let t = y as f32 / size.max(2) as f32;
        let dx = (x as f32 / size as f32 - 0.5) * 2.0;
        // Light grey to a slightly darker, cooler grey, with a faint vignette.
        let v = 236.0 - 36.0 * t - 10.0 * dx * dx;
        image::Rgba([v as u8, v as u8, (v + 4.0).min(255.0) as u8, 255])
    })
}

/// Renders the preview sheet of `asset`: tile 0 from `input_camera` (when given; a
/// straight front view otherwise), then `views` turntable views, in a near-square grid
/// read left to right, top to bottom.
pub fn render_preview(
    asset: &Asset,
    input_camera: Option<&Camera>,
    options: &PreviewOptions,
) -> Result<RgbaImage> {
    let prepared = Prepared::new(asset)?;
    let tile = options.tile;
    if tile < 16 {
        return Err(Error::invalid_parameter(
            "preview tile",
            "at least 16 px",
            tile,
        ));
    }
    let cells = options.views + 1;
    let cols = (f64::from(cells).sqrt().ceil() as u32).max(1);
    let rows = cells.div_ceil(cols);
    let (sheet_w, sheet_h) = (cols.saturating_mul(tile), rows.saturating_mul(tile));
    options.limits.check_image(sheet_w, sheet_h)?;
    let _span = tracing::debug_span!("preview", views = options.views, tile).entered();

    let (lo, hi) = asset
        .mesh
        .bounding_box()
        .ok_or_else(|| Error::invalid_parameter("mesh", "a non-empty mesh", "an empty mesh"))?;
    let center: [f32; 3] = std::array::from_fn(|k| 0.5 * (lo[k] + hi[k]));
    // Bounding sphere about the box centre: frames the object tightly from any side.
    let radius = asset
        .mesh
        .positions
        .iter()
        .map(|p| {
            let d: [f32; 3] = std::array::from_fn(|k| p[k] - center[k]);
            (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt()
        })
        .fold(0.0f32, f32::max);
    let fov = options.fov_y_deg.clamp(5.0, 120.0);
    let distance = radius.max(1e-6) / (0.5 * fov.to_radians()).sin() * 1.04;

    let mut cameras = vec![
        input_camera
            .copied()
            .unwrap_or_else(|| Camera::orbit(center, distance, 0.0, 0.0, fov)),
    ];
    for i in 0..options.views {
        let az = 360.0 * i as f32 / options.views as f32;
        cameras.push(Camera::orbit(
            center,
            distance,
            az,
            options.elevation_deg,
            fov,
        ));
    }
    let render_options = RenderOptions {
        shading: Shading::Studio,
        supersample: options.supersample,
        double_sided: None,
        limits: options.limits,
    };
    let back = backdrop(tile);
    let mut sheet = RgbaImage::from_pixel(sheet_w, sheet_h, image::Rgba([255, 255, 255, 255]));
    for (i, cam) in cameras.iter().enumerate() {
        let view = render_prepared(&prepared, cam, tile, tile, &render_options)?;
        let composed = view.over(&back);
        let (cx, cy) = ((i as u32 % cols) * tile, (i as u32 / cols) * tile);
        image::imageops::replace(&mut sheet, &composed, i64::from(cx), i64::from(cy));
    }
    Ok(sheet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::test_assets::textured_cube;

    #[test]
    fn sheet_has_every_view_with_the_object_in_it() {
        let asset = textured_cube();
        let opts = PreviewOptions {
            tile: 64,
            supersample: 1,
            ..PreviewOptions::default()
        };
        let sheet = render_preview(&asset, None, &opts).unwrap();
        assert_eq!(sheet.dimensions(), (192, 192));
        // Each tile's centre shows the object, not the backdrop.
        let back = backdrop(64);
        for i in 0..9u32 {
            let (cx, cy) = ((i % 3) * 64 + 32, (i / 3) * 64 + 32);
            assert_ne!(sheet.get_pixel(cx, cy), back.get_pixel(32, 32), "tile {i}");
        }
        assert!(render_preview(&asset, None, &PreviewOptions { tile: 4, ..opts }).is_err());
    }
}
