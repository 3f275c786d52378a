//! `img23d depth PHOTO... -o DIR`: metric depth from one photo with Apple's Depth Pro on
//! ONNX Runtime, and what people use depth for.
//!
//! For each photo (EXIF orientation applied, alpha dropped as Apple's `load_rgb` does):
//!
//! ```text
//! load ─ EXIF focal ─ network: Depth Pro (1536² in, canonical inverse depth + fov out)
//!      ─ metric depth at the photo's size ─ statistics ─ files ─ report
//! ```
//!
//! | stage | file |
//! |---|---|
//! | the model: which file, which precision, loaded once | `depth_cmd/model.rs` |
//! | `load`, `network`, `metric depth`, `statistics` | `depth_cmd/photo.rs` |
//! | `write npy`, `write png`, `preview`, `point cloud`, `relief mesh`, report | `depth_cmd/files.rs` |
//! | the validated settings | `depth_cmd/config.rs` |
//!
//! | file | what it holds |
//! |---|---|
//! | `DIR/<stem>.depth.npy` | float32 planar depth in meters, shape `(H, W)` (`np.load`) |
//! | `DIR/<stem>.depth.png` | 16-bit gray, depth in **millimeters** (Open3D's `depth_scale = 1000`), 0 = no depth, 65535 = 65.535 m or more |
//! | `DIR/<stem>.depth-preview.png` | turbo colormap on inverse depth (near red, far blue) with a legend in meters |
//! | `DIR/<stem>.report.json` | focal length (and where it came from), fields of view, intrinsics, min/median/max depth, settings ([`crate::report::DepthReport`]) |
//! | `DIR/<stem>.ply` | point cloud, binary little endian, `float x y z`, `uchar red green blue` |
//! | `DIR/<stem>.glb` | relief mesh textured with the photo, cut at depth discontinuities |
//!
//! Geometry is in meters in glTF's frame: x right, y up, z toward the viewer, the camera at
//! the origin looking down -Z (OpenCV's camera frame with y and z flipped), pixel centres at
//! `u + 0.5`, principal point at the image centre (see `img23d_meshing::depth`).
//!
//! The focal length comes from `--focal-px`, else the photo's EXIF 35 mm-equivalent focal
//! length (converted with the diagonal, as Apple's `utils.py`), else the network's field of
//! view estimate. A photo's files appear together or not at all
//! ([`crate::output::staged`]: written into a staging folder in `DIR`, renamed into place
//! when the photo succeeded, the report last); a failing photo leaves `DIR` as it was and
//! does not stop the others.

mod config;
mod files;
mod model;
mod photo;

use std::path::{Path, PathBuf};
use std::time::Instant;

use img23d_meshing::depth::Intrinsics;
use img23d_models::store::{ModelStore, resolve_models_dir};

pub use config::{DepthConfig, DepthOutput, Stride};
pub use files::{AUTO_CLOUD_SAMPLES, AUTO_MESH_SAMPLES};

use crate::output::{prepare_output_dir, staged};
use crate::stage::{Progress, Stages, printer, say};
use crate::{Error, Result};

/// Runs `img23d depth`: loads the model once, then each photo. A failing photo is
/// reported and the others go on; with several photos the result says how many failed.
pub fn run(config: &DepthConfig) -> Result<()> {
    let opts = model::runtime_options(config);
    let dir = resolve_models_dir(config.models_dir.as_deref())?;
    let store = ModelStore::new(dir).with_offline(config.offline);
    prepare_output_dir(&config.output_dir)?;
    let mut loaded = model::load(config, &store, &opts)?;
    let mut progress = printer(config.quiet);
    if !config.quiet {
        say(&loaded.line);
    }
    let mut failures: Vec<Error> = Vec::new();
    for photo in &config.photos {
        let started = Instant::now();
        match run_photo(config, &mut loaded, photo, progress.as_mut()) {
            Ok(files) if !config.quiet => {
                let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
                say(&format!(
                    "{}: done in {:.2} s: {}",
                    photo.display(),
                    started.elapsed().as_secs_f64(),
                    names.join(", ")
                ));
            }
            Ok(_) => {}
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

/// One photo's stages, in order, into a staging folder; moved into place when they all
/// succeeded.
fn run_photo(
    config: &DepthConfig,
    loaded: &mut model::Loaded,
    photo: &Path,
    progress: &mut dyn Progress,
) -> Result<Vec<PathBuf>> {
    let _span = tracing::info_span!("depth", photo = %photo.display()).entered();
    let ((), files) = staged(&config.output_dir, |staging| {
        let mut stages = Stages::new(photo, progress);
        let s = &mut stages;
        let (rgb, exif_f35) = photo::load(s, config, photo)?;
        let depth =
            photo::metric_depth(s, config, &mut loaded.model, &loaded.report, &rgb, exif_f35)?;
        let stats = photo::statistics(s, &depth, photo)?;
        let (w, h) = (rgb.width() as usize, rgb.height() as usize);
        let intrinsics = Intrinsics::centered(w, h, depth.focal_px)?;
        let m = files::Measured {
            path: photo,
            rgb,
            exif_f35,
            depth,
            stats,
            intrinsics,
        };
        let mut out = files::Files::new(staging);
        files::depth_maps(s, config, &m, &mut out)?;
        let cloud = files::cloud(s, config, &m, &mut out)?;
        let relief = files::relief(s, config, &m, &mut out)?;
        let outputs = std::mem::take(&mut out.outputs);
        if config.wants(DepthOutput::Report) {
            let report = files::report(&m, &loaded.report, cloud, relief, outputs, stages.finish());
            let path = config.output_path(photo, DepthOutput::Report)?;
            out.staging.report(&path, &report)?;
        }
        Ok(())
    })?;
    Ok(files)
}
