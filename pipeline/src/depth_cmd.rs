//! `img23d depth PHOTO... -o DIR`: metric depth from one photo with Apple's Depth Pro on
//! ONNX Runtime, and what people use depth for.
//!
//! For each photo (EXIF orientation applied, alpha dropped as Apple's `load_rgb` does):
//!
//! ```text
//! load ─ EXIF focal ─ Depth Pro (1536² in, canonical inverse depth + fov out)
//!      ─ metric depth at the photo's size ─ files
//! ```
//!
//! | file | what it holds |
//! |---|---|
//! | `DIR/<stem>.depth.npy` | float32 planar depth in meters, shape `(H, W)` (`np.load`) |
//! | `DIR/<stem>.depth.png` | 16-bit gray, depth in **millimeters** (Open3D's `depth_scale = 1000`), 0 = no depth, 65535 = 65.535 m or more |
//! | `DIR/<stem>.depth-preview.png` | turbo colormap on inverse depth (near red, far blue) with a legend in meters |
//! | `DIR/<stem>.json` | focal length (and where it came from), fields of view, intrinsics, min/median/max depth, settings |
//! | `DIR/<stem>.ply` | point cloud, binary little endian, `float x y z`, `uchar red green blue` |
//! | `DIR/<stem>.glb` | relief mesh textured with the photo, cut at depth discontinuities |
//!
//! Geometry is in meters in glTF's frame: x right, y up, z toward the viewer, the camera at
//! the origin looking down -Z (OpenCV's camera frame with y and z flipped), pixel centres at
//! `u + 0.5`, principal point at the image centre (see `img23d_meshing::depth`).
//!
//! The focal length comes from `--focal-px`, else the photo's EXIF 35 mm-equivalent focal
//! length (converted with the diagonal, as Apple's `utils.py`), else the network's field of
//! view estimate. A failing photo leaves none of its files in `DIR` and does not stop the
//! others.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use image::RgbImage;
use img23d_meshing::depth::{
    DepthStats, Intrinsics, PointCloudOptions, PreviewOptions, ReliefOptions, auto_stride,
    colorize_preview, point_cloud, relief_mesh, write_depth_png_millimeters, write_rgb_png,
};
use img23d_meshing::export::{GlbOptions, write_glb, write_point_cloud_ply};
use img23d_meshing::{Asset, Limits, Material};
use img23d_models::depth_pro::{
    self, DepthPro, DepthSemantics, FocalSource, KnownFocal, MetricDepth, focal_length_35mm,
    focal_px_from_35mm,
};
use img23d_models::registry::ModelId;
use img23d_models::resample::{Outside, Window, resample_window};
use img23d_models::runtime::{Device, Precision, RuntimeOptions};
use img23d_models::session::Contract;
use img23d_models::store::{ModelState, ModelStore};

use crate::config::output_stem;
use crate::models_cmd::{ModelDirArgs, RuntimeArgs};
use crate::{Error, Result};

/// Longest side, in samples, of the automatic point cloud grid: Depth Pro predicts depth
/// at 1536×1536, so denser clouds only add interpolated points.
pub const AUTO_CLOUD_SAMPLES: usize = 1536;
/// Longest side, in vertices, of the automatic relief mesh grid (about 1.5 million
/// triangles for a 4:3 photo).
pub const AUTO_MESH_SAMPLES: usize = 1024;

/// One kind of output file of `img23d depth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DepthOutput {
    /// `<stem>.depth.npy`: float32 depth in meters, H x W.
    Npy,
    /// `<stem>.depth.png`: 16-bit depth in millimeters (0 = no depth).
    Png,
    /// `<stem>.depth-preview.png`: colorized inverse depth with a legend.
    Preview,
    /// `<stem>.json`: focal length, fields of view, intrinsics, depth statistics.
    Json,
    /// `<stem>.ply`: colored point cloud.
    Ply,
    /// `<stem>.glb`: relief mesh textured with the photo.
    Glb,
}

impl DepthOutput {
    /// The file name suffix after the stem.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Npy => ".depth.npy",
            Self::Png => ".depth.png",
            Self::Preview => ".depth-preview.png",
            Self::Json => ".json",
            Self::Ply => ".ply",
            Self::Glb => ".glb",
        }
    }
}

/// What a model file's outputs mean, as given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SemanticsArg {
    /// From the layout the file's signature matches (`canonical_inverse_depth` + `fov_deg`,
    /// or `predicted_depth` + `focallength_px`).
    Auto,
    /// Canonical inverse depth and field of view in degrees (Apple's `forward`).
    Canonical,
    /// Metric depth and focal length in 1536-pixel units (onnx-community's export).
    Metric,
}

/// A sampling stride: `auto` or a number of pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stride {
    /// Chosen from the photo's size.
    Auto,
    /// Every N-th pixel.
    Fixed(usize),
}

impl FromStr for Stride {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Self::Auto);
        }
        match s.parse::<usize>() {
            Ok(n) if (1..=4096).contains(&n) => Ok(Self::Fixed(n)),
            _ => Err(format!("expected auto or a stride from 1 to 4096, got {s}")),
        }
    }
}

/// Arguments of `img23d depth`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Outputs (meters, glTF frame: x right, y up, z toward the viewer; \
camera at the origin looking down -Z):\n  \
<stem>.depth.npy          float32 depth (H, W) in meters\n  \
<stem>.depth.png          16-bit depth in millimeters, 0 = no depth\n  \
<stem>.depth-preview.png  turbo colormap of inverse depth, legend in meters\n  \
<stem>.json               focal length, fov, intrinsics, min/median/max depth\n  \
<stem>.ply                point cloud: float x y z, uchar red green blue\n  \
<stem>.glb                relief mesh textured with the photo"
)]
pub struct DepthArgs {
    /// Photos: PNG, JPEG, WebP, BMP or TIFF; EXIF orientation is applied.
    #[arg(value_name = "PHOTO", required = true)]
    pub photos: Vec<PathBuf>,

    /// Output folder (created if missing).
    #[arg(short, long, value_name = "DIR", required = true)]
    pub output: PathBuf,

    /// Files to write, comma separated: npy, png, preview, json, ply, glb.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "npy,png,preview,json,ply,glb"
    )]
    pub outputs: Vec<DepthOutput>,

    /// A Depth Pro ONNX file to use instead of the installed `depth-pro` model.
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,

    /// What the model file's two outputs mean.
    #[arg(long, value_enum, default_value = "auto")]
    pub semantics: SemanticsArg,

    /// Focal length in pixels of the photo; overrides EXIF and the network's estimate.
    #[arg(long, value_name = "PX")]
    pub focal_px: Option<f32>,

    /// Ignore the photo's EXIF focal length (use the network's estimate).
    #[arg(long)]
    pub no_exif_focal: bool,

    /// Point cloud: keep every N-th pixel along both axes; auto keeps at most 1536 samples
    /// along the longer side.
    #[arg(long, value_name = "N|auto", default_value = "auto")]
    pub stride: Stride,

    /// Relief mesh: grid spacing in pixels; auto keeps at most 1024 vertices along the
    /// longer side.
    #[arg(long, value_name = "N|auto", default_value = "auto")]
    pub mesh_stride: Stride,

    /// Drop pixels farther than this (sky, far background) from the point cloud and the
    /// relief mesh, in meters.
    #[arg(long, value_name = "METERS", default_value_t = 250.0)]
    pub max_depth: f32,

    /// Relief mesh: a pixel is a depth discontinuity when the depth range of its 3x3
    /// window exceeds this fraction of its depth; the mesh is cut there.
    #[arg(long, value_name = "RATIO", default_value_t = 0.04)]
    pub edge_tolerance: f32,

    /// Relief mesh: longest side of the embedded photo texture, in pixels (larger photos
    /// are scaled down).
    #[arg(long, value_name = "PX", default_value_t = 4096)]
    pub texture_size: u32,

    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,

    /// Models folder and network use.
    #[command(flatten)]
    pub dir: ModelDirArgs,

    /// ONNX Runtime settings.
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

/// `img23d depth` settings after validation.
#[derive(Debug, Clone)]
pub struct DepthConfig {
    /// The photos, with distinct file stems.
    pub photos: Vec<PathBuf>,
    /// The output folder.
    pub output_dir: PathBuf,
    /// The files to write. By default, all of them.
    pub outputs: BTreeSet<DepthOutput>,
    /// A model file given by path. By default, none: the installed `depth-pro` model.
    pub model: Option<PathBuf>,
    /// Forced semantics. By default, none: from the matched layout.
    pub semantics: Option<DepthSemantics>,
    /// Focal length override in pixels. By default, none.
    pub focal_px: Option<f32>,
    /// Use the EXIF 35 mm focal length. By default, true.
    pub exif_focal: bool,
    /// Point cloud stride. By default, auto.
    pub cloud_stride: Stride,
    /// Relief mesh stride. By default, auto.
    pub mesh_stride: Stride,
    /// Far cut-off in meters. By default, 250.
    pub max_depth: f32,
    /// Relative discontinuity tolerance. By default, 0.04.
    pub edge_tolerance: f32,
    /// Longest texture side. By default, 4096.
    pub texture_size: u32,
    /// Print nothing but errors. By default, false.
    pub quiet: bool,
    /// Size caps. By default, [`Limits::default`].
    pub limits: Limits,
}

impl DepthConfig {
    /// Validates the raw arguments.
    pub fn from_args(args: &DepthArgs) -> Result<Self> {
        let invalid = |name: &'static str, expected: &str, got: String| Error::InvalidArgument {
            name,
            expected: expected.to_string(),
            got,
        };
        let limits = Limits::default();
        if let Some(f) = args.focal_px
            && !(f.is_finite() && f > 0.0)
        {
            return Err(invalid(
                "--focal-px",
                "a positive focal length in pixels",
                f.to_string(),
            ));
        }
        if args.max_depth.is_nan() || args.max_depth <= 0.0 {
            return Err(invalid(
                "--max-depth",
                "a positive distance in meters (inf keeps everything)",
                args.max_depth.to_string(),
            ));
        }
        if !(args.edge_tolerance.is_finite() && args.edge_tolerance > 0.0) {
            return Err(invalid(
                "--edge-tolerance",
                "a positive ratio, e.g. 0.04",
                args.edge_tolerance.to_string(),
            ));
        }
        if args.texture_size < 16 || args.texture_size > limits.max_texture_size {
            return Err(invalid(
                "--texture-size",
                &format!("16 to {} pixels", limits.max_texture_size),
                args.texture_size.to_string(),
            ));
        }
        if args.outputs.is_empty() {
            return Err(invalid(
                "--outputs",
                "at least one of npy, png, preview, json, ply, glb",
                "nothing".into(),
            ));
        }
        let mut stems = std::collections::BTreeMap::new();
        for p in &args.photos {
            let stem = output_stem(p)?;
            if let Some(first) = stems.insert(stem.clone(), p) {
                return Err(Error::OutputCollision {
                    stem,
                    first: first.clone(),
                    second: p.clone(),
                });
            }
        }
        Ok(Self {
            photos: args.photos.clone(),
            output_dir: args.output.clone(),
            outputs: args.outputs.iter().copied().collect(),
            model: args.model.clone(),
            semantics: match args.semantics {
                SemanticsArg::Auto => None,
                SemanticsArg::Canonical => Some(DepthSemantics::CanonicalInverseDepth),
                SemanticsArg::Metric => Some(DepthSemantics::MetricDepth),
            },
            focal_px: args.focal_px,
            exif_focal: !args.no_exif_focal,
            cloud_stride: args.stride,
            mesh_stride: args.mesh_stride,
            max_depth: args.max_depth,
            edge_tolerance: args.edge_tolerance,
            texture_size: args.texture_size,
            quiet: args.quiet,
            limits,
        })
    }

    /// `DIR/<stem><suffix>` for `photo`.
    pub fn output_path(&self, photo: &Path, output: DepthOutput) -> Result<PathBuf> {
        Ok(self
            .output_dir
            .join(format!("{}{}", output_stem(photo)?, output.suffix())))
    }
}

/// Runs `img23d depth`: loads the model once, then each photo. A failing photo is
/// reported and the others go on; with several photos the result says how many failed.
pub fn run(args: &DepthArgs) -> Result<()> {
    let config = DepthConfig::from_args(args)?;
    let mut opts = args.runtime.to_options()?;
    if args.runtime.precision_is_auto()
        && prefers_fp16(opts.device, || {
            img23d_models::runtime::init(&opts).is_ok_and(|r| r.has_cuda())
        })
    {
        opts.model_precision
            .insert(ModelId::DepthPro.name().to_string(), Precision::Fp16);
    }
    let store = args.dir.store()?;
    prepare_output_dir(&config.output_dir)?;
    let (path, contracts, precision) = locate_model(&config, &store, &opts)?;
    let start = Instant::now();
    let mut model = DepthPro::load_with_contracts(&path, &contracts, &opts, config.semantics)?;
    let model_info = ModelInfo {
        file: path.clone(),
        layout: format!(
            "{} v{}",
            model.session().contract().name,
            model.session().contract().version
        ),
        semantics: model.semantics(),
        execution_provider: model.execution_provider().to_string(),
        precision: precision.map(|p| p.to_string()),
    };
    if !config.quiet {
        // The full reason CUDA was not used (with --device auto) is logged at info level.
        let fallback = if model.session().cpu_fallback_reason().is_some() {
            " (CUDA not available; IMG23D_LOG=info says why)"
        } else {
            ""
        };
        say(&format!(
            "Depth Pro: {} ({}, {}) on {}{fallback}, loaded in {:.1} s",
            path.display(),
            model_info.layout,
            model_info.semantics,
            model_info.execution_provider,
            start.elapsed().as_secs_f64()
        ));
    }
    let mut failures: Vec<Error> = Vec::new();
    for photo in &config.photos {
        let started = Instant::now();
        match run_photo(&config, &mut model, &model_info, photo) {
            Ok(files) => {
                if !config.quiet {
                    let names: Vec<String> =
                        files.iter().map(|p| p.display().to_string()).collect();
                    say(&format!(
                        "{}: done in {:.2} s: {}",
                        photo.display(),
                        started.elapsed().as_secs_f64(),
                        names.join(", ")
                    ));
                }
            }
            Err(e) if config.photos.len() == 1 => return Err(e),
            Err(e) => {
                eprintln!("error: {e}");
                failures.push(e);
            }
        }
    }
    match failures.len() {
        0 => Ok(()),
        n => Err(Error::InputsFailed {
            failed: n,
            total: config.photos.len(),
            exit_code: failures[0].exit_code(),
        }),
    }
}

/// Writes a line on stdout (a closed stdout is not an error worth failing for).
fn say(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// Creates the output folder if needed and checks that a file can be written in it.
fn prepare_output_dir(dir: &Path) -> Result<()> {
    let folder_error = |source: std::io::Error| Error::OutputFolder {
        source,
        path: dir.to_path_buf(),
    };
    std::fs::create_dir_all(dir).map_err(folder_error)?;
    let probe = dir.join(format!(".img23d-write-test.{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(folder_error)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// `--precision auto` for Depth Pro (as Apple runs it): fp16 when the session runs on a
/// GPU — an explicit CUDA or TensorRT device, or `auto` when `cuda_available` (the build
/// and the library have the CUDA provider) — else fp32. The fp32 files serve when the
/// fp16 ones are not installed (see [`locate_model`]).
fn prefers_fp16(device: Device, cuda_available: impl FnOnce() -> bool) -> bool {
    match device {
        Device::Cuda(_) | Device::TensorRt(_) => true,
        Device::Auto => cuda_available(),
        _ => false,
    }
}

/// The model file to load, the layouts to check it against, and its precision (registry
/// models only). A file given by path always wins; otherwise the installed `depth-pro` in
/// the requested precision, else in the other one (said on stderr).
fn locate_model(
    config: &DepthConfig,
    store: &ModelStore,
    opts: &RuntimeOptions,
) -> Result<(PathBuf, Vec<&'static Contract>, Option<Precision>)> {
    let name = ModelId::DepthPro.name();
    let entry = store.registry().entry(ModelId::DepthPro)?;
    if let Some(p) = &config.model {
        let path = store.locate(name, Precision::Fp32, Some(p))?;
        return Ok((path, depth_pro::CONTRACTS.to_vec(), None));
    }
    let wanted = opts.precision_for(name);
    let contracts = entry.contracts.to_vec();
    match store.locate(name, wanted, None) {
        Ok(path) => Ok((path, contracts, Some(wanted))),
        Err(e) => {
            let other = match wanted {
                Precision::Fp32 => Precision::Fp16,
                Precision::Fp16 => Precision::Fp32,
            };
            if matches!(
                store.state(name, other)?,
                ModelState::Installed | ModelState::Unrecorded
            ) {
                let path = store.locate(name, other, None)?;
                eprintln!(
                    "note: {name} {wanted} is not installed; using the installed {other} files \
                     (`img23d models fetch {name} --precision {wanted}` installs {wanted})"
                );
                Ok((path, contracts, Some(other)))
            } else {
                Err(e.into())
            }
        }
    }
}

/// What the report says about the model.
#[derive(Debug, Clone, serde::Serialize)]
struct ModelInfo {
    file: PathBuf,
    layout: String,
    semantics: DepthSemantics,
    execution_provider: String,
    precision: Option<String>,
}

/// Runs one photo; on failure removes the files it wrote.
fn run_photo(
    config: &DepthConfig,
    model: &mut DepthPro,
    model_info: &ModelInfo,
    photo: &Path,
) -> Result<Vec<PathBuf>> {
    let _span = tracing::info_span!("depth", photo = %photo.display()).entered();
    let mut written = Vec::new();
    let result = run_photo_inner(config, model, model_info, photo, &mut written);
    if result.is_err() {
        for p in &written {
            let _ = std::fs::remove_file(p);
        }
    }
    result.map(|()| written)
}

/// Prints and records one stage's wall time.
struct Stages<'a> {
    name: String,
    quiet: bool,
    times: Vec<(&'static str, f64)>,
    _photo: &'a Path,
}

impl Stages<'_> {
    fn run<T>(
        &mut self,
        stage: &'static str,
        work: impl FnOnce() -> Result<T>,
        detail: impl FnOnce(&T) -> String,
    ) -> Result<T> {
        let _span = tracing::info_span!("stage", stage).entered();
        let t = Instant::now();
        let value = work()?;
        let s = t.elapsed().as_secs_f64();
        self.times.push((stage, s));
        if !self.quiet {
            say(&format!(
                "{}: {stage:<14} {:>8.1} ms  {}",
                self.name,
                s * 1e3,
                detail(&value)
            ));
        }
        Ok(value)
    }
}

fn run_photo_inner(
    config: &DepthConfig,
    model: &mut DepthPro,
    model_info: &ModelInfo,
    photo: &Path,
    written: &mut Vec<PathBuf>,
) -> Result<()> {
    let mut stages = Stages {
        name: photo
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        quiet: config.quiet,
        times: Vec::new(),
        _photo: photo,
    };
    let limits = &config.limits;
    let (rgb, exif_f35) = stages.run(
        "load",
        || {
            let loaded = crate::image::load_image(photo, limits)?;
            let exif = if config.exif_focal {
                read_exif(photo).as_deref().and_then(focal_length_35mm)
            } else {
                None
            };
            Ok((to_rgb8(&loaded.rgba), exif))
        },
        |(img, f35): &(RgbImage, Option<f32>)| {
            format!(
                "{}x{}{}",
                img.width(),
                img.height(),
                f35.map(|f| format!(", EXIF focal {f} mm (35 mm equivalent)"))
                    .unwrap_or_default()
            )
        },
    )?;
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let known = match (config.focal_px, exif_f35) {
        (Some(px), _) => Some(KnownFocal {
            px,
            source: FocalSource::User,
        }),
        (None, Some(f35)) => Some(KnownFocal {
            px: focal_px_from_35mm(f35, w, h),
            source: FocalSource::Exif,
        }),
        (None, None) => None,
    };
    let raw = stages.run(
        "network",
        || Ok(model.infer(&rgb)?),
        |_| model_info.execution_provider.clone(),
    )?;
    let m: MetricDepth = stages.run(
        "metric depth",
        || {
            Ok(
                depth_pro::metric_depth(&raw.map, raw.scalar, raw.semantics, (w, h), known, limits)
                    .map_err(img23d_models::Error::from)?,
            )
        },
        |m| {
            format!(
                "focal {:.1} px ({}), network fov {:.1} deg",
                m.focal_px,
                source_name(m.focal_source),
                m.network_fov_deg
            )
        },
    )?;
    drop(raw);
    let stats = stages
        .run(
            "statistics",
            || Ok(m.depth.stats()?),
            |s| match s {
                Some(s) => format!(
                    "depth {:.3} / {:.3} / {:.3} m (min / median / max)",
                    s.min, s.median, s.max
                ),
                None => "no valid depth".to_string(),
            },
        )?
        .ok_or_else(|| Error::Stage {
            stage: "metric depth",
            source: img23d_meshing::Error::invalid_parameter(
                "depth map",
                "at least one pixel with a finite, positive depth",
                "none",
            ),
            path: photo.to_path_buf(),
        })?;
    let intrinsics = Intrinsics::centered(w, h, m.focal_px)?;
    let wants = |o: DepthOutput| config.outputs.contains(&o);
    let path_of = |o: DepthOutput| config.output_path(photo, o);
    let stage_err = |stage: &'static str| {
        move |e: img23d_meshing::Error| Error::Stage {
            stage,
            source: e,
            path: photo.to_path_buf(),
        }
    };

    if wants(DepthOutput::Npy) {
        let p = path_of(DepthOutput::Npy)?;
        stages.run(
            "write npy",
            || {
                img23d_meshing::npy::write_npy_f32(&p, &[h, w], m.depth.data())?;
                written.push(p.clone());
                Ok(())
            },
            |_| p.display().to_string(),
        )?;
    }
    if wants(DepthOutput::Png) {
        let p = path_of(DepthOutput::Png)?;
        stages.run(
            "write png",
            || {
                write_depth_png_millimeters(&p, &m.depth)?;
                written.push(p.clone());
                Ok(())
            },
            |_| format!("{} (16-bit, millimeters)", p.display()),
        )?;
    }
    if wants(DepthOutput::Preview) {
        let p = path_of(DepthOutput::Preview)?;
        stages.run(
            "preview",
            || {
                let img = colorize_preview(&m.depth, &PreviewOptions::default())
                    .map_err(stage_err("preview"))?;
                write_rgb_png(&p, &img)?;
                written.push(p.clone());
                Ok(())
            },
            |_| p.display().to_string(),
        )?;
    }
    let mut cloud_report = None;
    if wants(DepthOutput::Ply) {
        let p = path_of(DepthOutput::Ply)?;
        let stride = match config.cloud_stride {
            Stride::Auto => auto_stride(w, h, AUTO_CLOUD_SAMPLES),
            Stride::Fixed(n) => n,
        };
        let points = stages.run(
            "point cloud",
            || {
                let cloud = point_cloud(
                    &m.depth,
                    &intrinsics,
                    Some(&rgb),
                    &PointCloudOptions {
                        stride,
                        max_depth: config.max_depth,
                    },
                )
                .map_err(stage_err("point cloud"))?;
                write_point_cloud_ply(&p, &cloud.positions, &cloud.colors)?;
                written.push(p.clone());
                Ok(cloud.positions.len())
            },
            |n| format!("{n} points at stride {stride}: {}", p.display()),
        )?;
        cloud_report = Some(serde_json::json!({
            "file": file_name(&p),
            "stride": stride,
            "max_depth_m": finite_or_null(config.max_depth),
            "points": points,
        }));
    }
    let mut mesh_report = None;
    if wants(DepthOutput::Glb) {
        let p = path_of(DepthOutput::Glb)?;
        let stride = match config.mesh_stride {
            Stride::Auto => auto_stride(w, h, AUTO_MESH_SAMPLES),
            Stride::Fixed(n) => n,
        };
        let (vertices, triangles, tex) = stages.run(
            "relief mesh",
            || {
                let mesh = relief_mesh(
                    &m.depth,
                    &intrinsics,
                    &ReliefOptions {
                        stride,
                        edge_rtol: config.edge_tolerance,
                        max_depth: config.max_depth,
                        normals: true,
                    },
                    limits,
                )
                .map_err(stage_err("relief mesh"))?;
                mesh.validate().map_err(img23d_meshing::Error::from)?;
                let texture = texture_of(&rgb, config.texture_size);
                let tex = (texture.width(), texture.height());
                let (v, t) = (mesh.vertex_count(), mesh.triangle_count());
                let asset = Asset {
                    name: output_stem(photo)?,
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
                write_glb(&p, &asset, &GlbOptions::default()).map_err(stage_err("export"))?;
                written.push(p.clone());
                Ok((v, t, tex))
            },
            |(v, t, _)| {
                format!(
                    "{v} vertices, {t} triangles at stride {stride}: {}",
                    p.display()
                )
            },
        )?;
        mesh_report = Some(serde_json::json!({
            "file": file_name(&p),
            "stride": stride,
            "edge_tolerance": num(config.edge_tolerance),
            "max_depth_m": finite_or_null(config.max_depth),
            "vertices": vertices,
            "triangles": triangles,
            "texture_size": [tex.0, tex.1],
        }));
    }
    if wants(DepthOutput::Json) {
        let p = path_of(DepthOutput::Json)?;
        let mut files: Vec<String> = written.iter().map(|f| file_name(f)).collect();
        files.push(file_name(&p));
        let report = serde_json::json!({
            "input": photo,
            "width": w,
            "height": h,
            "model": model_info,
            "focal_length_px": num(m.focal_px),
            "focal_source": m.focal_source,
            "exif_focal_length_35mm": exif_f35.map(num),
            "network_focal_length_px": num(m.network_focal_px),
            "network_fov_deg": num(m.network_fov_deg),
            "horizontal_fov_deg": num(intrinsics.horizontal_fov_deg(w)),
            "vertical_fov_deg": num(intrinsics.vertical_fov_deg(h)),
            "intrinsics": {
                "fx": num(intrinsics.fx),
                "fy": num(intrinsics.fy),
                "cx": num(intrinsics.cx),
                "cy": num(intrinsics.cy),
            },
            "depth_m": stats_json(&stats),
            "conventions": {
                "depth": "planar depth along the optical axis, meters",
                "pixels": "pixel (u, v) has its centre at (u + 0.5, v + 0.5); principal point at the image centre",
                "frame": "glTF: x right, y up, z toward the viewer; the camera at the origin looking down -Z",
                "depth_png": "16-bit depth in millimeters (depth_scale 1000); 0 = no depth; 65535 = 65.535 m or more",
            },
            "point_cloud": cloud_report,
            "relief_mesh": mesh_report,
            "files": files,
            "timings_s": stages.times.iter().map(|(k, v)| ((*k).to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
            "img23d_version": env!("CARGO_PKG_VERSION"),
        });
        let bytes = serde_json::to_vec_pretty(&report).map_err(img23d_meshing::Error::from)?;
        img23d_meshing::io::write_bytes_atomic(&p, &bytes)?;
        written.push(p);
    }
    Ok(())
}

fn source_name(s: FocalSource) -> &'static str {
    match s {
        FocalSource::Network => "network estimate",
        FocalSource::Exif => "EXIF",
        FocalSource::User => "--focal-px",
    }
}

fn stats_json(s: &DepthStats) -> serde_json::Value {
    serde_json::json!({
        "min": num(s.min),
        "median": num(s.median),
        "max": num(s.max),
        "valid_pixels": s.valid_pixels,
    })
}

/// An f32 as the JSON number with its shortest decimal form (`0.04`, not the f64 widening
/// `0.03999999910593033`); `null` when not finite.
fn num(v: f32) -> serde_json::Value {
    format!("{v}")
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(serde_json::Value::Null, serde_json::Value::Number)
}

fn finite_or_null(v: f32) -> serde_json::Value {
    num(v)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The raw EXIF block of a photo, if its format carries one (a cheap header read; any
/// failure means "no EXIF").
fn read_exif(path: &Path) -> Option<Vec<u8>> {
    use image::ImageDecoder;
    let reader = image::ImageReader::open(path)
        .ok()?
        .with_guessed_format()
        .ok()?;
    let mut decoder = reader.into_decoder().ok()?;
    decoder.exif_metadata().ok().flatten()
}

/// 8-bit RGB of a loaded picture; alpha is dropped, as Apple's `load_rgb` does.
fn to_rgb8(rgba: &image::Rgba32FImage) -> RgbImage {
    let q = |c: f32| (c.clamp(0.0, 1.0) * 255.0).round() as u8;
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let p = rgba.get_pixel(x, y).0;
        image::Rgb([q(p[0]), q(p[1]), q(p[2])])
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<DepthConfig> {
        let mut full = vec!["img23d", "depth"];
        full.extend_from_slice(args);
        let cli = crate::cli::Cli::try_parse_from(full).unwrap();
        match cli.command {
            Some(crate::cli::Command::Depth(a)) => DepthConfig::from_args(&a),
            _ => panic!("not the depth command"),
        }
    }

    #[test]
    fn defaults_write_everything() {
        let c = parse(&["a.jpg", "-o", "out"]).unwrap();
        assert_eq!(c.outputs.len(), 6);
        assert_eq!(
            (c.cloud_stride, c.mesh_stride),
            (Stride::Auto, Stride::Auto)
        );
        assert_eq!((c.max_depth, c.edge_tolerance), (250.0, 0.04));
        assert!(c.exif_focal && c.semantics.is_none());
        assert_eq!(
            c.output_path(Path::new("x/a.jpg"), DepthOutput::Preview)
                .unwrap(),
            Path::new("out/a.depth-preview.png")
        );
    }

    #[test]
    fn fp16_on_a_gpu_fp32_on_the_cpu_by_default() {
        assert!(prefers_fp16(Device::Cuda(0), || false));
        assert!(prefers_fp16(Device::TensorRt(1), || false));
        assert!(prefers_fp16(Device::Auto, || true));
        assert!(!prefers_fp16(Device::Auto, || false));
        assert!(!prefers_fp16(Device::Cpu, || true));
        // `--precision` is auto unless given; auto is fp32 for every other model.
        let runtime = |args: &[&str]| {
            let mut full = vec!["img23d", "depth", "a.jpg", "-o", "o"];
            full.extend_from_slice(args);
            match crate::cli::Cli::try_parse_from(full).unwrap().command {
                Some(crate::cli::Command::Depth(a)) => a.runtime,
                _ => panic!("not the depth command"),
            }
        };
        let auto = runtime(&[]);
        assert!(auto.precision_is_auto());
        assert_eq!(auto.to_options().unwrap().precision, Precision::Fp32);
        let forced = runtime(&["--precision", "fp32"]);
        assert!(!forced.precision_is_auto());
        let half = runtime(&["--precision", "fp16"]);
        assert_eq!(half.to_options().unwrap().precision, Precision::Fp16);
        assert!(runtime(&["--precision", "fp8"]).to_options().is_err());
    }

    #[test]
    fn bad_values_are_refused() {
        for args in [
            &["a.jpg", "-o", "o", "--focal-px", "0"][..],
            &["a.jpg", "-o", "o", "--max-depth=-1"],
            &["a.jpg", "-o", "o", "--edge-tolerance", "0"],
            &["a.jpg", "-o", "o", "--texture-size", "8"],
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}: {e}");
        }
        let e = parse(&["a.jpg", "b/a.png", "-o", "o"]).unwrap_err();
        assert!(matches!(e, Error::OutputCollision { .. }), "{e}");
        assert_eq!("auto".parse::<Stride>(), Ok(Stride::Auto));
        assert_eq!("3".parse::<Stride>(), Ok(Stride::Fixed(3)));
        assert!("0".parse::<Stride>().is_err());
    }
}
