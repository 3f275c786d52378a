//! The neural stages of the main job and the choices around them:
//!
//! * **Background** (`--bg auto|alpha|model|key|none`). `auto` takes the picture's own
//!   alpha when it has real transparency; else the segmentation model
//!   (`birefnet-lite`, rembg style) when it is installed; else the weight-free keying of
//!   [`crate::foreground`]. A forced `model` that is not installed is an error; a forced
//!   `alpha` on a picture without transparency too.
//! * **Reconstruction** (`--model auto|triposr|inflate`). `auto` runs TripoSR when both
//!   of its files are installed, else the built-in silhouette inflation, and says so. A
//!   forced `triposr` that is not installed is an error that says how to install it.
//! * **TripoSR**: the picture with its mask goes through TripoSR's own preprocessing
//!   ([`img23d_models::triposr::preprocess`]), the encoder gives a triplane, the decoder a
//!   [`TriplaneField`] in TripoSR's frame, which is seen in glTF's frame through
//!   [`triposr_to_gltf`] (`models::triposr::frame`) so that extraction, cleanup,
//!   appearance and export run exactly as for every reconstruction.

use std::path::{Path, PathBuf};
use std::time::Instant;

use image::{GrayImage, RgbImage, RgbaImage};
use img23d_meshing::field::TransformedField;
use img23d_models::registry::ModelId;
use img23d_models::runtime::Precision;
use img23d_models::segmentation::{OutputActivation, SegmentationSpec, Segmenter};
use img23d_models::store::{ModelState, ModelStore};
use img23d_models::triposr::preprocess::{PreprocessOptions, Preprocessed, preprocess};
use img23d_models::triposr::triposr_to_gltf;
use img23d_models::triposr::{
    Decoder, DecoderLayout, DecoderOptions, Encoder, Normalization, TriplaneField, TriposrError,
};
use img23d_models::{Registry, RuntimeOptions};

use crate::foreground::Foreground;
use crate::image::LoadedImage;
use crate::report::TriposrReport;
use crate::{Error, Result};

/// `--model`: which reconstruction to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelChoice {
    /// TripoSR when it is installed, else the built-in inflation (saying so).
    #[default]
    Auto,
    /// TripoSR; an error when it is not installed.
    Triposr,
    /// The built-in weight-free silhouette inflation.
    Inflate,
}

/// `--bg`: how the object is told from the background.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackgroundChoice {
    /// The picture's alpha if it has real transparency, else the segmentation model if
    /// installed, else weight-free keying.
    #[default]
    Auto,
    /// The picture's alpha channel (an error when it has no transparency).
    Alpha,
    /// The segmentation model (an error when it is not installed).
    Model,
    /// Weight-free keying of a plain background.
    Key,
    /// None: the whole picture is the object.
    None,
}

/// How the object was actually found, after [`choose_background`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackgroundMethod {
    /// The picture's alpha channel.
    Alpha,
    /// The segmentation model.
    Model,
    /// Weight-free keying.
    Key,
    /// The whole picture.
    None,
}

/// The reconstruction a run uses, after [`choose_reconstruction`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase", tag = "name")]
pub enum ReconstructionChoice {
    /// TripoSR.
    Triposr,
    /// The built-in inflation, and why.
    Inflate {
        /// Why the neural reconstruction did not run.
        reason: String,
    },
}

/// Registry name of TripoSR's encoder.
pub const TRIPOSR_ENCODER: &str = "triposr-encoder";
/// Registry name of TripoSR's decoder.
pub const TRIPOSR_DECODER: &str = "triposr-decoder";

/// Registry name of the segmentation model.
pub fn segmentation_model() -> &'static str {
    ModelId::Segmentation.name()
}

/// The command that installs TripoSR.
pub const TRIPOSR_INSTALL: &str =
    "img23d models fetch triposr-encoder && img23d models fetch triposr-decoder";

/// Which neural models are installed (the models folder's lock file and sizes only;
/// never the network).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Installed {
    /// Both TripoSR files.
    pub triposr: bool,
    /// The segmentation model.
    pub segmentation: bool,
}

impl Installed {
    /// Reads the store.
    pub fn check(store: &ModelStore, precision: Precision) -> Self {
        let ok = |name: &str| {
            matches!(
                store.state(name, precision),
                Ok(ModelState::Installed | ModelState::Unrecorded)
            )
        };
        Self {
            triposr: ok(TRIPOSR_ENCODER) && ok(TRIPOSR_DECODER),
            segmentation: ok(segmentation_model()),
        }
    }
}

/// Picks the reconstruction (see the module docs).
pub fn choose_reconstruction(
    choice: ModelChoice,
    installed: Installed,
    models_dir: &Path,
) -> Result<ReconstructionChoice> {
    match (choice, installed.triposr) {
        (ModelChoice::Triposr | ModelChoice::Auto, true) => Ok(ReconstructionChoice::Triposr),
        (ModelChoice::Triposr, false) => Err(Error::InvalidArgument {
            name: "--model",
            expected: format!(
                "an installed model: TripoSR is not installed in {}; install it with `{TRIPOSR_INSTALL}` \
                 (or choose --model inflate)",
                models_dir.display()
            ),
            got: "triposr".into(),
        }),
        (ModelChoice::Auto, false) => Ok(ReconstructionChoice::Inflate {
            reason: format!(
                "TripoSR is not installed (in {}); `{TRIPOSR_INSTALL}` installs it",
                models_dir.display()
            ),
        }),
        (ModelChoice::Inflate, _) => Ok(ReconstructionChoice::Inflate {
            reason: "--model inflate".into(),
        }),
    }
}

/// Picks the background method for one picture (see the module docs).
pub fn choose_background(
    choice: BackgroundChoice,
    has_transparency: bool,
    segmentation_installed: bool,
    input: &Path,
) -> Result<BackgroundMethod> {
    match choice {
        BackgroundChoice::Auto if has_transparency => Ok(BackgroundMethod::Alpha),
        BackgroundChoice::Auto if segmentation_installed => Ok(BackgroundMethod::Model),
        BackgroundChoice::Auto | BackgroundChoice::Key => Ok(BackgroundMethod::Key),
        BackgroundChoice::Alpha if has_transparency => Ok(BackgroundMethod::Alpha),
        BackgroundChoice::Alpha => Err(Error::NoForeground {
            reason: "--bg alpha, but the picture has no transparent pixel".into(),
            path: input.to_path_buf(),
        }),
        BackgroundChoice::Model if segmentation_installed => Ok(BackgroundMethod::Model),
        BackgroundChoice::Model => Err(Error::InvalidArgument {
            name: "--bg",
            expected: format!(
                "an installed segmentation model: install it with `img23d models fetch {}` \
                 (or choose --bg key)",
                segmentation_model()
            ),
            got: "model".into(),
        }),
        BackgroundChoice::None => Ok(BackgroundMethod::None),
    }
}

/// The neural side of a run, prepared once and shared by its pictures: which
/// reconstruction runs (and why), and the loaded models.
#[derive(Debug)]
pub struct NeuralModels {
    /// The reconstruction every picture of the run uses.
    pub reconstruction: ReconstructionChoice,
    /// TripoSR, when it runs.
    pub triposr: Option<TripoSr>,
    /// The segmentation model, when it is installed and `--bg` may use it.
    pub segmenter: Option<Segmenter>,
    /// The segmentation model's file and load time, when it is loaded.
    pub segmenter_file: Option<ModelUsed>,
    /// What the models folder holds.
    pub installed: Installed,
    /// The models folder.
    pub models_dir: PathBuf,
}

impl NeuralModels {
    /// Decides the reconstruction and loads the models the run needs. Errors when a
    /// forced model (`--model triposr`, `--bg model`) is not installed, or when an
    /// installed model cannot be loaded.
    pub fn prepare(
        choice: ModelChoice,
        background: BackgroundChoice,
        models_dir: Option<&Path>,
        runtime: &RuntimeOptions,
    ) -> Result<Self> {
        let dir = img23d_models::store::resolve_models_dir(models_dir)?;
        let store = ModelStore::new(dir.clone()).with_offline(true);
        let installed = Installed::check(&store, runtime.precision);
        let reconstruction = choose_reconstruction(choice, installed, &dir)?;
        if background == BackgroundChoice::Model && !installed.segmentation {
            // The same error a picture would get, before any work starts.
            choose_background(background, false, false, Path::new(""))?;
        }
        let triposr = match reconstruction {
            ReconstructionChoice::Triposr => Some(TripoSr::load(
                &store,
                runtime,
                &DecoderOptions::default(),
                Normalization::Auto,
            )?),
            ReconstructionChoice::Inflate { .. } => None,
        };
        let wants_segmenter =
            matches!(background, BackgroundChoice::Auto | BackgroundChoice::Model);
        let (segmenter, segmenter_file) = if wants_segmenter && installed.segmentation {
            let (s, file) = load_segmenter_timed(&store, runtime)?;
            (Some(s), Some(file))
        } else {
            (None, None)
        };
        Ok(Self {
            reconstruction,
            triposr,
            segmenter,
            segmenter_file,
            installed,
            models_dir: dir,
        })
    }

    /// What the command says about the reconstruction, once per run.
    pub fn notice(&self) -> String {
        match (&self.reconstruction, &self.triposr) {
            (ReconstructionChoice::Triposr, Some(t)) => {
                format!("reconstruction: TripoSR ({})", t.describe())
            }
            (ReconstructionChoice::Inflate { reason }, _) if !self.installed.triposr => format!(
                "reconstruction: used the built-in weight-free silhouette inflation, because no \
                 neural model is installed ({reason})"
            ),
            (ReconstructionChoice::Inflate { reason }, _) => format!(
                "reconstruction: used the built-in weight-free silhouette inflation ({reason})"
            ),
            (ReconstructionChoice::Triposr, None) => {
                "reconstruction: TripoSR (not loaded)".to_string()
            }
        }
    }

    /// The report's TripoSR section for one picture: the files and where they ran, the
    /// decoder layout and evaluation path, the preprocessing as applied, and the timings.
    pub fn triposr_report(&self, out: &TriposrOutput) -> TriposrReport {
        let models = self.triposr.as_ref();
        let f = out.input.framing;
        TriposrReport {
            models: models.map(TripoSr::describe).unwrap_or_default(),
            field_path: out.field.inner().path(),
            crop_px: f.crop,
            canvas_px: f.canvas,
            input_size: out.input.size,
            files: models.map(|m| m.files.to_vec()).unwrap_or_default(),
            decoder_layout: models.map_or("", |m| match m.decoder.layout() {
                DecoderLayout::Mlp => "mlp",
                DecoderLayout::Graph => "graph",
            }),
            preprocessing: out.preprocessing.clone(),
            timings: out.timings,
        }
    }

    /// The report's segmentation section, when `background` is the segmentation model.
    pub fn segmentation_report(&self, background: BackgroundMethod) -> Option<SegmentationReport> {
        if background != BackgroundMethod::Model {
            return None;
        }
        let (seg, file) = (self.segmenter.as_ref()?, self.segmenter_file.as_ref()?);
        let spec = seg.spec();
        Some(SegmentationReport {
            model: file.clone(),
            input_size: spec.size,
            mean: spec.mean,
            std: spec.std,
            output: match seg.activation() {
                OutputActivation::Sigmoid => "sigmoid applied to the output",
                _ => "output used as it is (the graph ends in a sigmoid)",
            },
            resize: "picture stretched to the square (bilinear), mask resized back to the picture (bilinear)",
        })
    }
}

/// A neural model file a run used, for the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelUsed {
    /// Registry name (`img23d models list`).
    pub name: &'static str,
    /// The file loaded.
    pub path: PathBuf,
    /// Where its session runs (`CPU`, `CUDA`, ...).
    pub execution_provider: String,
    /// Loading it (session creation and checks), milliseconds: once per run, shared by
    /// the run's pictures.
    pub load_ms: f64,
    /// Threads inside one operator its ONNX Runtime session was built with (`--threads`;
    /// 0: ONNX Runtime's own choice, one per physical core); `null` when the file's
    /// weights run in Rust instead.
    pub intra_op_threads: Option<usize>,
}

/// TripoSR's preprocessing as applied to one picture (`run.py` + `tsr/utils.py`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TriposrPreprocessing {
    /// `mask`: cropped to the mask, padded to the foreground ratio and composited on
    /// gray; `whole_picture` (`--bg none` / `--no-remove-bg`): the picture squashed to the
    /// square, no crop.
    pub framing: &'static str,
    /// Fraction of the square the object fills (`--foreground-ratio`), for `mask`.
    pub foreground_ratio: Option<f32>,
    /// Crop box in the picture, `[x0, y0, x1, y1)`.
    pub crop_px: [u32; 4],
    /// Side of the padded square canvas, in picture pixels.
    pub canvas_px: u32,
    /// Offset of the crop inside the canvas, `[x, y]`.
    pub offset_px: [u32; 2],
    /// Gray the object is composited on (`mask` framing).
    pub background_gray: f32,
    /// How the canvas is brought to the encoder's size.
    pub resize: &'static str,
    /// Side of the encoder's input.
    pub input_size: u32,
    /// Where ImageNet mean/std are applied: `inside the encoder graph` (the public
    /// exports) or `by img23d, before the encoder`.
    pub imagenet_normalization: &'static str,
}

/// TripoSR's time on one picture, milliseconds (loading is in [`ModelUsed::load_ms`];
/// field evaluations are in the report's `extraction` section).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct TriposrTimings {
    /// Crop, pad, composite and resize.
    pub preprocess_ms: f64,
    /// The encoder session: picture to triplane.
    pub encoder_ms: f64,
    /// Making the field from the triplane (first-layer folding, or uploading it).
    pub field_ms: f64,
}

/// The segmentation model as a picture used it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SegmentationReport {
    /// The file, where it ran, its load time.
    pub model: ModelUsed,
    /// Side of the model's square input.
    pub input_size: u32,
    /// Per-channel mean subtracted after scaling to `[0, 1]`.
    pub mean: [f32; 3],
    /// Per-channel std divided by.
    pub std: [f32; 3],
    /// What is applied to the model's output.
    pub output: &'static str,
    /// How the picture reaches the model and the mask comes back.
    pub resize: &'static str,
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn triposr_error(e: TriposrError, path: &Path) -> Error {
    match e {
        TriposrError::Model(m) => Error::Models(m),
        other => Error::Neural {
            stage: "TripoSR",
            reason: other.to_string(),
            path: path.to_path_buf(),
        },
    }
}

/// The neural models a run loaded, shared by its pictures.
#[derive(Debug)]
pub struct TripoSr {
    encoder: Encoder,
    decoder: Decoder,
    encoder_path: PathBuf,
    files: [ModelUsed; 2],
}

/// What TripoSR made of one picture.
pub struct TriposrOutput {
    /// The field, seen in glTF's frame.
    pub field: TransformedField<TriplaneField>,
    /// The encoder's input.
    pub input: Preprocessed,
    /// The preprocessing as applied, for the report.
    pub preprocessing: TriposrPreprocessing,
    /// Time spent on this picture.
    pub timings: TriposrTimings,
}

impl TripoSr {
    /// Loads both graphs from the store.
    pub fn load(
        store: &ModelStore,
        runtime: &RuntimeOptions,
        decoder: &DecoderOptions,
        normalization: Normalization,
    ) -> Result<Self> {
        let precision = runtime.precision_for(TRIPOSR_ENCODER);
        let encoder_path = store.locate(TRIPOSR_ENCODER, precision, None)?;
        let decoder_path = store.locate(
            TRIPOSR_DECODER,
            runtime.precision_for(TRIPOSR_DECODER),
            None,
        )?;
        let t = Instant::now();
        let encoder = Encoder::load(&encoder_path, normalization, runtime)
            .map_err(|e| triposr_error(e, &encoder_path))?;
        let encoder_ms = ms(t);
        let t = Instant::now();
        let decoder = Decoder::load(&decoder_path, decoder, runtime)
            .map_err(|e| triposr_error(e, &decoder_path))?;
        let decoder_ms = ms(t);
        tracing::info!(
            "TripoSR: encoder on {}, decoder: {}",
            encoder.execution_provider(),
            decoder.describe()
        );
        let files = [
            ModelUsed {
                name: TRIPOSR_ENCODER,
                path: encoder_path.clone(),
                execution_provider: encoder.execution_provider().to_string(),
                load_ms: encoder_ms,
                intra_op_threads: Some(runtime.intra_threads),
            },
            ModelUsed {
                name: TRIPOSR_DECODER,
                path: decoder_path,
                // The MLP-only layout may run in Rust (`Decoder::runs_on`).
                intra_op_threads: (!decoder.runs_on().starts_with("Rust"))
                    .then_some(runtime.intra_threads),
                execution_provider: decoder.runs_on(),
                load_ms: decoder_ms,
            },
        ];
        Ok(Self {
            encoder,
            decoder,
            encoder_path,
            files,
        })
    }

    /// The encoder and decoder files, where they run and how long they took to load.
    pub fn files(&self) -> &[ModelUsed; 2] {
        &self.files
    }

    /// How the decoder evaluates, for the report.
    pub fn describe(&self) -> String {
        format!(
            "encoder on {}; decoder: {}",
            self.encoder.execution_provider(),
            self.decoder.describe()
        )
    }

    /// Reconstructs a picture whose alpha is the object's mask (TripoSR's
    /// preprocessing, encoder, decoder), or the whole picture squashed to the square
    /// when `whole_picture` (upstream's `--no-remove-bg`).
    pub fn reconstruct(
        &self,
        picture: &RgbaImage,
        foreground_ratio: f32,
        whole_picture: bool,
        input: &Path,
    ) -> Result<TriposrOutput> {
        let t = Instant::now();
        let prepared = if whole_picture {
            whole_picture_input(picture).map_err(|e| triposr_error(e, input))?
        } else {
            preprocess(
                picture,
                &PreprocessOptions {
                    foreground_ratio,
                    ..PreprocessOptions::default()
                },
            )
            .map_err(|e| triposr_error(e.into(), input))?
        };
        let preprocess_ms = ms(t);
        let t = Instant::now();
        let triplane = self
            .encoder
            .encode(&prepared)
            .map_err(|e| triposr_error(e, &self.encoder_path))?;
        let encoder_ms = ms(t);
        let t = Instant::now();
        let field = self
            .decoder
            .field(triplane)
            .map_err(|e| triposr_error(e, input))?;
        let field = in_gltf_frame(field, input)?;
        let field_ms = ms(t);
        let f = prepared.framing;
        let preprocessing = TriposrPreprocessing {
            framing: if whole_picture {
                "whole_picture"
            } else {
                "mask"
            },
            foreground_ratio: (!whole_picture).then_some(foreground_ratio),
            crop_px: f.crop,
            canvas_px: f.canvas,
            offset_px: f.offset,
            background_gray: 0.5,
            resize: "bilinear with antialiasing (torch interpolate antialias=True), to [0, 1] RGB",
            input_size: prepared.size,
            imagenet_normalization: if self.encoder.normalizes_outside() {
                "by img23d, before the encoder"
            } else {
                "inside the encoder graph"
            },
        };
        Ok(TriposrOutput {
            field,
            input: prepared,
            preprocessing,
            timings: TriposrTimings {
                preprocess_ms,
                encoder_ms,
                field_ms,
            },
        })
    }
}

/// TripoSR's field seen in glTF's frame (`img23d_models::triposr::triposr_to_gltf`).
pub fn in_gltf_frame(
    field: TriplaneField,
    input: &Path,
) -> Result<TransformedField<TriplaneField>> {
    TransformedField::new(field, triposr_to_gltf()).ok_or_else(|| Error::Neural {
        stage: "TripoSR",
        reason: "the TripoSR-to-glTF rotation is not invertible".into(),
        path: input.to_path_buf(),
    })
}

/// `--no-remove-bg` as upstream does it: the RGB picture resized straight to the
/// square (squashed when it is not square), no crop, no padding.
fn whole_picture_input(picture: &RgbaImage) -> std::result::Result<Preprocessed, TriposrError> {
    use img23d_models::resample::{Filter, resize_rows};
    use img23d_models::triposr::preprocess::{COND_IMAGE_SIZE, Framing};
    let (w, h) = (picture.width() as usize, picture.height() as usize);
    let s = COND_IMAGE_SIZE as usize;
    let hwc = resize_rows(w, h, 3, s, s, Filter::Triangle, |y, row| {
        for (x, px) in row.chunks_exact_mut(3).enumerate() {
            let p = picture.get_pixel(x as u32, y as u32).0;
            for c in 0..3 {
                px[c] = f32::from(p[c]) / 255.0;
            }
        }
    })
    .map_err(|e| {
        TriposrError::from(img23d_models::triposr::preprocess::PreprocessError::from(e))
    })?;
    let plane = s * s;
    let mut tensor = vec![0.0f32; 3 * plane];
    for (i, px) in hwc.chunks_exact(3).enumerate() {
        for c in 0..3 {
            tensor[c * plane + i] = px[c];
        }
    }
    Ok(Preprocessed {
        tensor,
        size: COND_IMAGE_SIZE,
        framing: Framing {
            crop: [0, 0, picture.width(), picture.height()],
            canvas: picture.width().max(picture.height()),
            offset: [0, 0],
        },
    })
}

/// Loads the registry's segmentation model with the preprocessing its entry states.
pub fn load_segmenter(store: &ModelStore, runtime: &RuntimeOptions) -> Result<Segmenter> {
    load_segmenter_timed(store, runtime).map(|(s, _)| s)
}

/// [`load_segmenter`], with the file, its execution provider and load time.
pub fn load_segmenter_timed(
    store: &ModelStore,
    runtime: &RuntimeOptions,
) -> Result<(Segmenter, ModelUsed)> {
    let t = Instant::now();
    let name = segmentation_model();
    let path = store.locate(name, runtime.precision_for(name), None)?;
    let registry = Registry::builtin();
    let entry = registry.get(name)?;
    let norm = entry.preprocess.ok_or_else(|| Error::Neural {
        stage: "segmentation",
        reason: format!("the registry entry {name} states no preprocessing"),
        path: path.clone(),
    })?;
    let spec = SegmentationSpec::from_registry(name, &norm);
    let segmenter = Segmenter::load(&path, spec, runtime).map_err(|e| match e {
        img23d_models::segmentation::SegmentationError::Model(m) => Error::Models(m),
        other => Error::Neural {
            stage: "segmentation",
            reason: other.to_string(),
            path: path.clone(),
        },
    })?;
    let file = ModelUsed {
        name,
        path,
        execution_provider: segmenter.execution_provider().to_string(),
        load_ms: ms(t),
        intra_op_threads: Some(runtime.intra_threads),
    };
    Ok((segmenter, file))
}

/// Runs the segmentation model on a picture and returns it with the mask as its alpha
/// channel (the picture's own alpha is replaced), ready for the alpha path of
/// [`crate::foreground::find_foreground`].
pub fn segment(segmenter: &Segmenter, image: &LoadedImage) -> Result<LoadedImage> {
    let rgb = RgbImage::from_fn(image.rgba.width(), image.rgba.height(), |x, y| {
        let p = image.rgba.get_pixel(x, y).0;
        image::Rgb([0, 1, 2].map(|c| to_u8(p[c])))
    });
    let mask = segmenter.mask(&rgb).map_err(|e| Error::Neural {
        stage: "segmentation",
        reason: e.to_string(),
        path: image.info.path.clone(),
    })?;
    let mut out = image.clone();
    for (p, m) in out.rgba.pixels_mut().zip(mask.pixels()) {
        p.0[3] = f32::from(m.0[0]) / 255.0;
    }
    out.info.has_alpha = true;
    Ok(out)
}

/// A transparent picture flattened on gray 0.5 (for `--bg key`: keying looks at colors
/// only).
pub fn flatten_on_gray(mut image: LoadedImage) -> LoadedImage {
    for p in image.rgba.pixels_mut() {
        let a = p.0[3];
        for c in 0..3 {
            p.0[c] = p.0[c] * a + 0.5 * (1.0 - a);
        }
        p.0[3] = 1.0;
    }
    image.info.has_alpha = false;
    image
}

fn to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// The picture at full resolution, 8 bits, with the object's mask as alpha: the
/// picture's alpha for [`crate::foreground::ForegroundMethod::Alpha`] (and for
/// segmented pictures, whose alpha is the model's mask), else the foreground's coverage
/// upsampled from the analysis raster.
pub fn masked_picture(image: &LoadedImage, fg: &Foreground) -> RgbaImage {
    use crate::foreground::ForegroundMethod;
    let (w, h) = image.rgba.dimensions();
    let mask: Option<GrayImage> = match fg.method {
        ForegroundMethod::Alpha | ForegroundMethod::WholePicture => None,
        _ => Some(coverage_mask(fg, w, h)),
    };
    RgbaImage::from_fn(w, h, |x, y| {
        let p = image.rgba.get_pixel(x, y).0;
        let a = match (&mask, fg.method) {
            (Some(m), _) => m.get_pixel(x, y).0[0],
            (None, ForegroundMethod::WholePicture) => 255,
            (None, _) => to_u8(p[3]),
        };
        image::Rgba([to_u8(p[0]), to_u8(p[1]), to_u8(p[2]), a])
    })
}

/// The foreground's coverage (analysis resolution) bilinearly upsampled to `w x h`.
fn coverage_mask(fg: &Foreground, w: u32, h: u32) -> GrayImage {
    let r = &fg.premultiplied;
    let (rw, rh) = (r.width, r.height);
    let sample = |x: usize, y: usize| r.data[y.min(rh - 1) * rw + x.min(rw - 1)][3];
    GrayImage::from_fn(w, h, |x, y| {
        // Pixel centre in analysis pixels.
        let fx = ((f64::from(x) + 0.5) / fg.scale - 0.5).max(0.0);
        let fy = ((f64::from(y) + 0.5) / fg.scale - 0.5).max(0.0);
        let (x0, y0) = (fx.floor() as usize, fy.floor() as usize);
        let (tx, ty) = ((fx - fx.floor()) as f32, (fy - fy.floor()) as f32);
        let top = sample(x0, y0) * (1.0 - tx) + sample(x0 + 1, y0) * tx;
        let bottom = sample(x0, y0 + 1) * (1.0 - tx) + sample(x0 + 1, y0 + 1) * tx;
        image::Luma([to_u8(top * (1.0 - ty) + bottom * ty)])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(triposr: bool, segmentation: bool) -> Installed {
        Installed {
            triposr,
            segmentation,
        }
    }

    #[test]
    fn reconstruction_choice() {
        let d = Path::new("/models");
        assert_eq!(
            choose_reconstruction(ModelChoice::Auto, all(true, false), d).unwrap(),
            ReconstructionChoice::Triposr
        );
        let auto = choose_reconstruction(ModelChoice::Auto, all(false, false), d).unwrap();
        assert!(
            matches!(&auto, ReconstructionChoice::Inflate { reason } if reason.contains("models fetch triposr-encoder")),
            "{auto:?}"
        );
        let err = choose_reconstruction(ModelChoice::Triposr, all(false, true), d).unwrap_err();
        assert!(err.to_string().contains(TRIPOSR_INSTALL), "{err}");
        assert_eq!(err.exit_code(), 2);
        assert!(matches!(
            choose_reconstruction(ModelChoice::Inflate, all(true, true), d).unwrap(),
            ReconstructionChoice::Inflate { .. }
        ));
    }

    /// The frame conversion, checked on a TripoSR-sized decoder whose object has
    /// distinguishable sides in TripoSR's frame: nose toward +X (the input camera's
    /// side: the azimuth-0 render camera of `get_spherical_cameras` and SF3D's
    /// conditioning camera sit on +X, see `tools/triposr_reference.py`), ear and red
    /// toward +Y (the picture's right), knob toward +Z (up). In glTF's frame the nose
    /// must face +Z (toward a viewer of the asset's front), the ear +X (that viewer's
    /// right), the knob +Y.
    #[test]
    fn triposr_frame_to_gltf_keeps_the_input_view_in_front() {
        use std::sync::Arc;

        use img23d_meshing::Field;
        use img23d_meshing::extract::{ExtractOptions, extract};
        use img23d_models::triposr::{MlpExec, synthetic};

        let mlp = Arc::new(synthetic::mlp());
        let t = synthetic::asymmetric_triplane();
        let field =
            TriplaneField::folded(&t, &mlp.layers()[0], MlpExec::Rust(mlp.clone())).unwrap();
        let field = in_gltf_frame(field, Path::new("test")).unwrap();
        // Densities 0.6 from the centre along each glTF axis, both ways.
        let probe = |p: [f32; 3]| {
            let mut d = [0.0];
            field.eval_scalar(&[p], &mut d).unwrap();
            d[0]
        };
        for (axis, name) in [
            (2, "nose toward +Z"),
            (0, "ear toward +X"),
            (1, "knob toward +Y"),
        ] {
            let mut plus = [0.0; 3];
            plus[axis] = 0.6;
            let minus = plus.map(|v: f32| -v);
            let (a, b) = (probe(plus), probe(minus));
            assert!(a > 25.0 && b < 25.0, "{name}: {a} at +0.6, {b} at -0.6");
        }
        // Red on the viewer's right (+X).
        let mut c = [[0.0f32; 3]; 2];
        field
            .eval_color(&[[0.45, 0.0, 0.0], [-0.45, 0.0, 0.0]], &mut c)
            .unwrap();
        assert!(c[0][0] > 0.8 && c[1][0] < 0.2, "{c:?}");
        // And the extracted surface reaches farther toward +Z (the nose) than -Z.
        let opts = ExtractOptions {
            resolution: 96,
            ..ExtractOptions::default()
        };
        let mesh = extract(&field, &opts).unwrap().mesh;
        mesh.validate().unwrap();
        let (lo, hi) = mesh.bounding_box().unwrap();
        assert!(hi[2] > -lo[2] + 0.1, "z from {} to {}", lo[2], hi[2]);
    }

    #[test]
    fn background_choice_order() {
        let p = Path::new("a.png");
        use BackgroundChoice as C;
        use BackgroundMethod as M;
        // auto: alpha, then model, then keying.
        assert_eq!(choose_background(C::Auto, true, true, p).unwrap(), M::Alpha);
        assert_eq!(
            choose_background(C::Auto, false, true, p).unwrap(),
            M::Model
        );
        assert_eq!(choose_background(C::Auto, false, false, p).unwrap(), M::Key);
        // Forced choices.
        assert_eq!(choose_background(C::Key, true, true, p).unwrap(), M::Key);
        assert_eq!(choose_background(C::None, true, true, p).unwrap(), M::None);
        assert_eq!(
            choose_background(C::Model, true, true, p).unwrap(),
            M::Model
        );
        let err = choose_background(C::Model, false, false, p).unwrap_err();
        assert!(
            err.to_string().contains("models fetch birefnet-lite"),
            "{err}"
        );
        assert!(choose_background(C::Alpha, false, true, p).is_err());
    }
}
