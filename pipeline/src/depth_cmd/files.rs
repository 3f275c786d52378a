//! A photo's writing stages, each for the files `--outputs` asks for: `write npy`,
//! `write png`, `preview`, `point cloud`, `relief mesh`, then the report
//! ([`crate::report::DepthReport`]).

use std::path::{Path, PathBuf};

use image::RgbImage;
use img23d_meshing::depth::{
    DepthStats, Intrinsics, PointCloudOptions, PreviewOptions, ReliefOptions, colorize_preview,
    point_cloud, relief_mesh, write_depth_png_millimeters, write_rgb_png,
};
use img23d_meshing::export::{GlbOptions, write_glb, write_point_cloud_ply};
use img23d_meshing::{Asset, Material};
use img23d_models::depth_pro::MetricDepth;
use img23d_models::resample::{Outside, Window, resample_window};

use crate::output::{Staging, output_stem};
use crate::report::{
    DepthConventions, DepthModelReport, DepthReport, Header, OutputFile, PointCloudReport,
    ReliefReport, Timings,
};
use crate::stage::Stages;
use crate::{Error, Result};

use super::{DepthConfig, DepthOutput};

/// Longest side, in samples, of the automatic point cloud grid: Depth Pro predicts depth
/// at 1536×1536, so denser clouds only add interpolated points.
pub const AUTO_CLOUD_SAMPLES: usize = 1536;
/// Longest side, in vertices, of the automatic relief mesh grid (about 1.5 million
/// triangles for a 4:3 photo).
pub const AUTO_MESH_SAMPLES: usize = 1024;

/// One photo, measured.
pub(super) struct Measured<'a> {
    /// The photo's path.
    pub path: &'a Path,
    /// Its pixels.
    pub rgb: RgbImage,
    /// Its EXIF 35 mm focal length, when read.
    pub exif_f35: Option<f32>,
    /// Depth in meters at its size.
    pub depth: MetricDepth,
    /// Depth statistics.
    pub stats: DepthStats,
    /// Pinhole intrinsics at the focal length used.
    pub intrinsics: Intrinsics,
}

impl Measured<'_> {
    fn size(&self) -> (usize, usize) {
        (self.rgb.width() as usize, self.rgb.height() as usize)
    }
}

/// The files one photo writes: staged until the photo succeeded, and the report's list.
pub(super) struct Files<'w> {
    /// Where they are written.
    pub staging: &'w mut Staging,
    /// The files besides the report.
    pub outputs: Vec<OutputFile>,
}

impl<'w> Files<'w> {
    /// Writes into `staging`.
    pub fn new(staging: &'w mut Staging) -> Self {
        Self {
            staging,
            outputs: Vec::new(),
        }
    }

    /// The staged path of the photo's `kind` file and its target.
    fn paths(
        &mut self,
        config: &DepthConfig,
        photo: &Path,
        kind: DepthOutput,
    ) -> Result<(PathBuf, PathBuf)> {
        let target = config.output_path(photo, kind)?;
        Ok((self.staging.path(&target)?, target))
    }

    fn add(&mut self, kind: DepthOutput, staged: &Path) {
        self.outputs.push(self.staging.add(kind.format(), staged));
    }
}

/// `write npy`, `write png` and `preview`: the depth map's three image files.
pub(super) fn depth_maps(
    stages: &mut Stages,
    config: &DepthConfig,
    m: &Measured<'_>,
    files: &mut Files<'_>,
) -> Result<()> {
    let (w, h) = m.size();
    let depth = &m.depth.depth;
    if config.wants(DepthOutput::Npy) {
        let (staged, p) = files.paths(config, m.path, DepthOutput::Npy)?;
        stages.run(
            "write npy",
            || {
                Ok(img23d_meshing::npy::write_npy_f32(
                    &staged,
                    &[h, w],
                    depth.data(),
                )?)
            },
            |_| p.display().to_string(),
        )?;
        files.add(DepthOutput::Npy, &staged);
    }
    if config.wants(DepthOutput::Png) {
        let (staged, p) = files.paths(config, m.path, DepthOutput::Png)?;
        stages.run(
            "write png",
            || Ok(write_depth_png_millimeters(&staged, depth)?),
            |_| format!("{} (16-bit, millimeters)", p.display()),
        )?;
        files.add(DepthOutput::Png, &staged);
    }
    if config.wants(DepthOutput::Preview) {
        let (staged, p) = files.paths(config, m.path, DepthOutput::Preview)?;
        stages.run(
            "preview",
            || {
                let img = colorize_preview(depth, &PreviewOptions::default())
                    .map_err(Error::stage("preview", m.path))?;
                Ok(write_rgb_png(&staged, &img)?)
            },
            |_| p.display().to_string(),
        )?;
        files.add(DepthOutput::Preview, &staged);
    }
    Ok(())
}

/// `point cloud`: every `--stride`-th pixel nearer than `--max-depth`, colored like the
/// photo, as a PLY.
pub(super) fn cloud(
    stages: &mut Stages,
    config: &DepthConfig,
    m: &Measured<'_>,
    files: &mut Files<'_>,
) -> Result<Option<PointCloudReport>> {
    if !config.wants(DepthOutput::Ply) {
        return Ok(None);
    }
    let (staged, p) = files.paths(config, m.path, DepthOutput::Ply)?;
    let (w, h) = m.size();
    let stride = config.cloud_stride.resolve(w, h, AUTO_CLOUD_SAMPLES);
    let points = stages.run(
        "point cloud",
        || {
            let options = PointCloudOptions {
                stride,
                max_depth: config.max_depth,
            };
            let cloud = point_cloud(&m.depth.depth, &m.intrinsics, Some(&m.rgb), &options)
                .map_err(Error::stage("point cloud", m.path))?;
            write_point_cloud_ply(&staged, &cloud.positions, &cloud.colors)?;
            Ok(cloud.positions.len())
        },
        |n| format!("{n} points at stride {stride}: {}", p.display()),
    )?;
    let report = PointCloudReport {
        file: file_name(&p),
        stride,
        max_depth_m: config.max_depth,
        points,
    };
    files.add(DepthOutput::Ply, &staged);
    Ok(Some(report))
}

/// `relief mesh`: the depth map as a mesh cut at depth discontinuities, textured with the
/// photo, as a GLB.
pub(super) fn relief(
    stages: &mut Stages,
    config: &DepthConfig,
    m: &Measured<'_>,
    files: &mut Files<'_>,
) -> Result<Option<ReliefReport>> {
    if !config.wants(DepthOutput::Glb) {
        return Ok(None);
    }
    let (staged, p) = files.paths(config, m.path, DepthOutput::Glb)?;
    let (w, h) = m.size();
    let stride = config.mesh_stride.resolve(w, h, AUTO_MESH_SAMPLES);
    let (vertices, triangles, texture_size) = stages.run(
        "relief mesh",
        || {
            let options = ReliefOptions {
                stride,
                edge_rtol: config.edge_tolerance,
                max_depth: config.max_depth,
                normals: true,
            };
            let mesh = relief_mesh(&m.depth.depth, &m.intrinsics, &options, &config.limits)
                .map_err(Error::stage("relief mesh", m.path))?;
            mesh.validate().map_err(img23d_meshing::Error::from)?;
            let texture = texture_of(&m.rgb, config.texture_size);
            let size = [texture.width(), texture.height()];
            let counts = (mesh.vertex_count(), mesh.triangle_count());
            let asset = Asset {
                name: output_stem(m.path)?,
                mesh,
                material: Material {
                    name: "photo".to_string(),
                    base_color_texture: Some(texture),
                    metallic: 0.0,
                    roughness: 1.0,
                    // An open sheet seen from the camera: show its back too.
                    double_sided: true,
                    ..Material::default()
                },
            };
            write_glb(&staged, &asset, &GlbOptions::default())
                .map_err(Error::stage("export", m.path))?;
            Ok((counts.0, counts.1, size))
        },
        |(v, t, _)| {
            format!(
                "{v} vertices, {t} triangles at stride {stride}: {}",
                p.display()
            )
        },
    )?;
    let report = ReliefReport {
        file: file_name(&p),
        stride,
        edge_tolerance: config.edge_tolerance,
        max_depth_m: config.max_depth,
        vertices,
        triangles,
        texture_size,
    };
    files.add(DepthOutput::Glb, &staged);
    Ok(Some(report))
}

/// The report of one photo.
pub(super) fn report(
    m: &Measured<'_>,
    model: &DepthModelReport,
    point_cloud: Option<PointCloudReport>,
    relief_mesh: Option<ReliefReport>,
    outputs: Vec<OutputFile>,
    timings: Timings,
) -> DepthReport {
    let (w, h) = m.size();
    let d = &m.depth;
    DepthReport {
        header: Header::new("img23d depth"),
        input: m.path.to_path_buf(),
        width: w,
        height: h,
        model: model.clone(),
        focal_length_px: d.focal_px,
        focal_source: d.focal_source,
        exif_focal_length_35mm: m.exif_f35,
        network_focal_length_px: d.network_focal_px,
        network_fov_deg: d.network_fov_deg,
        horizontal_fov_deg: m.intrinsics.horizontal_fov_deg(w),
        vertical_fov_deg: m.intrinsics.vertical_fov_deg(h),
        intrinsics: m.intrinsics,
        depth_m: m.stats,
        conventions: DepthConventions::default(),
        point_cloud,
        relief_mesh,
        outputs,
        timings,
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The photo as an opaque RGBA texture, scaled down (triangle filter) so its longer side
/// is at most `max_side`.
fn texture_of(rgb: &RgbImage, max_side: u32) -> image::RgbaImage {
    let (w, h) = rgb.dimensions();
    let long = w.max(h);
    if long <= max_side {
        return image::DynamicImage::ImageRgb8(rgb.clone()).into_rgba8();
    }
    let s = f64::from(max_side) / f64::from(long);
    let (tw, th) = (
        ((f64::from(w) * s).round() as u32).max(1),
        ((f64::from(h) * s).round() as u32).max(1),
    );
    let px: Vec<[f32; 3]> = rgb.pixels().map(|p| p.0.map(f32::from)).collect();
    let (sw, sh) = (w as usize, h as usize);
    let out = resample_window(
        &px,
        (sw, sh),
        Window::whole(sw, sh),
        (tw as usize, th as usize),
        Outside::Ignore,
    );
    let q = |v: f32| v.round().clamp(0.0, 255.0) as u8;
    image::RgbaImage::from_fn(tw, th, |x, y| {
        let p = out[y as usize * tw as usize + x as usize];
        image::Rgba([q(p[0]), q(p[1]), q(p[2]), 255])
    })
}
