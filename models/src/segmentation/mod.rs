//! Background removal with rembg-style segmentation models on ONNX Runtime: a picture
//! in, a foreground mask (one byte per pixel, 255 = object) out.
//!
//! The families differ in input size and normalisation; each [`SegmentationSpec`] states
//! its own, as rembg's session classes do (danielgatis/rembg, `rembg/sessions/*.py`):
//!
//! | spec | input | mean | std | output |
//! |---|---|---|---|---|
//! | [`U2NET`] (`u2net.onnx`, also `u2netp`, `silueta`) | 320² | ImageNet | ImageNet | first output, channel 0 |
//! | [`ISNET_GENERAL_USE`] (`isnet-general-use.onnx`) | 1024² | ImageNet | 1, 1, 1 | first output, channel 0 |
//! | [`BIREFNET_GENERAL`] (`BiRefNet-general-epoch_244.onnx` and the other BiRefNet exports) | 1024² | ImageNet | ImageNet | sigmoid of the first output |
//!
//! The steps mirror `BaseSession.normalize` and the sessions' `predict`:
//! resize to the input size with Lanczos-3 (PIL `LANCZOS`), round to 8 bits, divide by
//! the resized image's largest value (`im_ary / max(np.max(im_ary), 1e-6)`), subtract
//! the mean and divide by the std per channel; take channel 0 of the first output (after
//! a sigmoid for BiRefNet), stretch it to `[0, 1]` by its min and max, truncate to 8 bits,
//! and resize back to the picture's size with Lanczos-3.

use std::path::Path;
use std::sync::Mutex;

use image::{GrayImage, RgbImage};

use crate::contracts::SEGMENTATION;
use crate::onnx_graph::OnnxModel;
use crate::registry::ImageNorm;
use crate::resample::{Filter, ResampleError, resize_rows};
use crate::session::{LoadedSession, TensorView};
use crate::{RuntimeOptions, load_session};

/// How a segmentation model's raw output becomes a probability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputActivation {
    /// The output is used as it is (U²-Net, IS-Net end in a sigmoid inside the graph).
    Identity,
    /// A sigmoid is applied (BiRefNet exports return logits).
    Sigmoid,
    /// A sigmoid unless the graph's mask output is produced by a `Sigmoid` node.
    Auto,
}

/// How pixel values are brought to `[0, 1]` before mean/std.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputScale {
    /// Divide by the resized picture's largest value, as rembg's `BaseSession.normalize`
    /// and U²-Net's own loader do.
    Max,
    /// Divide by 255 (torchvision `ToTensor`, the registry's `ImageNorm`).
    Unit,
}

/// One family's input size, normalisation and output handling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentationSpec {
    /// Family name, as rembg calls the session.
    pub name: &'static str,
    /// Side of the square input.
    pub size: u32,
    /// Per-channel mean subtracted after scaling to `[0, 1]`.
    pub mean: [f32; 3],
    /// Per-channel std divided by.
    pub std: [f32; 3],
    /// How pixel values are scaled to `[0, 1]`.
    pub scale: InputScale,
    /// What to apply to the output.
    pub activation: OutputActivation,
}

impl SegmentationSpec {
    /// The spec of a registry entry's preprocessing: its size and mean/std, pixels
    /// divided by 255, sigmoid applied unless the graph ends in one.
    pub fn from_registry(name: &'static str, norm: &ImageNorm) -> Self {
        Self {
            name,
            size: norm.size,
            mean: norm.mean,
            std: norm.std,
            scale: InputScale::Unit,
            activation: OutputActivation::Auto,
        }
    }
}

const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// U²-Net (`rembg/sessions/u2net.py`): 320², ImageNet mean/std.
pub const U2NET: SegmentationSpec = SegmentationSpec {
    name: "u2net",
    size: 320,
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    scale: InputScale::Max,
    activation: OutputActivation::Identity,
};

/// IS-Net general use (`rembg/sessions/dis_general_use.py`): 1024², ImageNet mean, std 1.
pub const ISNET_GENERAL_USE: SegmentationSpec = SegmentationSpec {
    name: "isnet-general-use",
    size: 1024,
    mean: IMAGENET_MEAN,
    std: [1.0, 1.0, 1.0],
    scale: InputScale::Max,
    activation: OutputActivation::Identity,
};

/// BiRefNet general (`rembg/sessions/birefnet_general.py`): 1024², ImageNet mean/std,
/// sigmoid on the output.
pub const BIREFNET_GENERAL: SegmentationSpec = SegmentationSpec {
    name: "birefnet-general",
    size: 1024,
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    scale: InputScale::Max,
    activation: OutputActivation::Sigmoid,
};

/// Why segmentation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SegmentationError {
    /// Loading or running the session failed.
    #[error(transparent)]
    Model(#[from] crate::Error),
    /// The model's input size is not the one its spec states.
    #[error("segmentation model {name}: the spec says {expected}x{expected} input, the file takes {found}: {}", path.display())]
    InputSize {
        /// Family name.
        name: &'static str,
        /// The spec's size.
        expected: u32,
        /// The file's input shape.
        found: String,
        /// The model file.
        path: std::path::PathBuf,
    },
    /// The mask output has an unusable shape.
    #[error(
        "segmentation model {name}: the mask output has shape {shape:?}, expected [1, 1, H, W]"
    )]
    Output {
        /// Family name.
        name: &'static str,
        /// The shape returned.
        shape: Vec<usize>,
    },
    /// The mask output cannot make a mask (issue 12: it used to become an all-black mask,
    /// which later stages read as "no object" or worse).
    #[error("segmentation model {name}: no mask can be built: {reason}")]
    Mask {
        /// Family name.
        name: &'static str,
        /// What is wrong with the output.
        reason: String,
    },
    /// Resizing failed.
    #[error(transparent)]
    Resample(#[from] ResampleError),
}

/// A loaded segmentation model.
#[derive(Debug)]
pub struct Segmenter {
    session: Mutex<LoadedSession>,
    spec: SegmentationSpec,
    activation: OutputActivation,
}

impl Segmenter {
    /// Loads a model against [`SEGMENTATION`] and checks its input size against `spec`.
    pub fn load(
        path: &Path,
        spec: SegmentationSpec,
        runtime: &RuntimeOptions,
    ) -> Result<Self, SegmentationError> {
        let session = load_session(path, &SEGMENTATION, runtime)?;
        if let Some(input) = session.input(0) {
            let s = i64::from(spec.size);
            let fixed_ok =
                input.shape.len() == 4 && input.shape[2..].iter().all(|&d| d < 0 || d == s);
            if !fixed_ok {
                return Err(SegmentationError::InputSize {
                    name: spec.name,
                    expected: spec.size,
                    found: input.to_string(),
                    path: path.to_path_buf(),
                });
            }
        }
        let activation = match spec.activation {
            OutputActivation::Auto => {
                let ends_in_sigmoid = session.output(0).is_some_and(|o| {
                    OnnxModel::read(path).is_ok_and(|m| ends_in_sigmoid(&m, &o.name))
                });
                if ends_in_sigmoid {
                    OutputActivation::Identity
                } else {
                    OutputActivation::Sigmoid
                }
            }
            a => a,
        };
        Ok(Self {
            session: Mutex::new(session),
            spec,
            activation,
        })
    }

    /// The execution provider the session runs on.
    pub fn execution_provider(&self) -> crate::ExecutionProvider {
        self.session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .execution_provider()
    }

    /// The family this model belongs to.
    pub fn spec(&self) -> &SegmentationSpec {
        &self.spec
    }

    /// What is applied to the mask output (with [`OutputActivation::Auto`] resolved).
    pub fn activation(&self) -> OutputActivation {
        self.activation
    }

    /// The foreground mask of `picture`, at its size.
    pub fn mask(&self, picture: &RgbImage) -> Result<GrayImage, SegmentationError> {
        let spec = self.spec;
        let s = spec.size as usize;
        let input = model_input(picture, &spec)?;
        let shape = [1, 3, s, s];
        let out = self
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .run(&[TensorView::new(&shape, &input)])?;
        let Some(t) = out.into_iter().next() else {
            return Err(SegmentationError::Output {
                name: spec.name,
                shape: Vec::new(),
            });
        };
        let (h, w) = match t.shape[..] {
            [1, _, h, w] | [1, h, w]
                if h > 0 && w > 0 && h.checked_mul(w).is_some_and(|n| t.data.len() >= n) =>
            {
                (h, w)
            }
            _ => {
                return Err(SegmentationError::Output {
                    name: spec.name,
                    shape: t.shape.clone(),
                });
            }
        };
        let raw = &t.data[..h * w];
        check_mask_output(raw).map_err(|reason| SegmentationError::Mask {
            name: spec.name,
            reason,
        })?;
        let mask = postprocess(raw, w, h, self.activation);
        resize_mask(&mask, w, h, picture.width(), picture.height())?.ok_or_else(|| {
            SegmentationError::Mask {
                name: spec.name,
                reason: format!(
                    "resizing the {w}x{h} mask to {}x{} gave the wrong number of pixels",
                    picture.width(),
                    picture.height()
                ),
            }
        })
    }
}

/// Refuses outputs that cannot be a mask: non-finite values (a broken export, or fp16
/// overflow) or one value everywhere (nothing to stretch between).
fn check_mask_output(raw: &[f32]) -> Result<(), String> {
    let bad = raw.iter().filter(|v| !v.is_finite()).count();
    if bad > 0 {
        return Err(format!(
            "{bad} of its {} values are NaN or infinite",
            raw.len()
        ));
    }
    let (mi, ma) = raw
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    if ma <= mi {
        return Err(format!("every one of its {} values is {mi}", raw.len()));
    }
    Ok(())
}

/// True when `output` is a `Sigmoid`'s result, possibly through resizing or reshaping.
fn ends_in_sigmoid(model: &OnnxModel, output: &str) -> bool {
    let mut name = output.to_string();
    for _ in 0..16 {
        let Some(n) = model.graph.nodes.iter().find(|n| n.outputs.contains(&name)) else {
            return false;
        };
        match n.op_type.as_str() {
            "Sigmoid" => return true,
            "Resize" | "Upsample" | "Reshape" | "Squeeze" | "Unsqueeze" | "Slice" | "Identity"
            | "Cast" | "Transpose" => match n.inputs.first() {
                Some(i) => name = i.clone(),
                None => return false,
            },
            _ => return false,
        }
    }
    false
}

/// The normalised `[3, S, S]` input of `BaseSession.normalize`.
pub fn model_input(picture: &RgbImage, spec: &SegmentationSpec) -> Result<Vec<f32>, ResampleError> {
    let s = spec.size as usize;
    let (w, h) = (picture.width() as usize, picture.height() as usize);
    let resized = resize_rows(w, h, 3, s, s, Filter::Lanczos3, |y, row| {
        let src = &picture.as_raw()[y * w * 3..(y + 1) * w * 3];
        for (d, v) in row.iter_mut().zip(src) {
            *d = f32::from(*v);
        }
    })?;
    // PIL returns 8 bits: round and clamp.
    let q: Vec<f32> = resized
        .iter()
        .map(|v| v.round().clamp(0.0, 255.0))
        .collect();
    let max = match spec.scale {
        InputScale::Max => q.iter().copied().fold(0.0f32, f32::max).max(1e-6),
        InputScale::Unit => 255.0,
    };
    let plane = s * s;
    let mut out = vec![0.0f32; 3 * plane];
    for (i, px) in q.chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[c * plane + i] = (px[c] / max - spec.mean[c]) / spec.std[c];
        }
    }
    Ok(out)
}

/// Activation, min-max stretch and truncation to 8 bits, as the rembg sessions do.
pub fn postprocess(raw: &[f32], width: usize, height: usize, act: OutputActivation) -> Vec<u8> {
    let pred: Vec<f32> = match act {
        OutputActivation::Identity => raw.to_vec(),
        OutputActivation::Sigmoid | OutputActivation::Auto => {
            raw.iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect()
        }
    };
    let (mi, ma) = pred
        .iter()
        .filter(|v| v.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    let range = ma - mi;
    debug_assert_eq!(pred.len(), width * height);
    pred.iter()
        .map(|v| {
            if range.is_nan() || range <= 0.0 || !v.is_finite() {
                0
            } else {
                (((v - mi) / range) * 255.0).clamp(0.0, 255.0) as u8
            }
        })
        .collect()
}

/// Resizes an 8-bit mask with Lanczos-3, rounding and clamping like PIL (`None` if the
/// resampler's output does not have the pixels of the requested size).
fn resize_mask(
    mask: &[u8],
    width: usize,
    height: usize,
    out_w: u32,
    out_h: u32,
) -> Result<Option<GrayImage>, ResampleError> {
    let v = resize_rows(
        width,
        height,
        1,
        out_w as usize,
        out_h as usize,
        Filter::Lanczos3,
        |y, row| {
            for (d, s) in row.iter_mut().zip(&mask[y * width..(y + 1) * width]) {
                *d = f32::from(*s);
            }
        },
    )?;
    let bytes: Vec<u8> = v
        .iter()
        .map(|x| x.round().clamp(0.0, 255.0) as u8)
        .collect();
    Ok(GrayImage::from_raw(out_w, out_h, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_is_normalised_by_the_max_then_mean_std() {
        // A flat picture of value 100: after dividing by the max (100) every value is 1.
        let pic = RgbImage::from_pixel(50, 30, image::Rgb([100, 100, 100]));
        let x = model_input(&pic, &U2NET).unwrap();
        assert_eq!(x.len(), 3 * 320 * 320);
        for c in 0..3 {
            let want = (1.0 - U2NET.mean[c]) / U2NET.std[c];
            assert!((x[c * 320 * 320 + 7] - want).abs() < 1e-5);
        }
    }

    #[test]
    fn postprocess_stretches_and_truncates() {
        let m = postprocess(&[0.2, 0.6, 1.0, 0.4], 2, 2, OutputActivation::Identity);
        // (0.4 / 0.8) * 255 = 127.5 -> 127; (0.2 / 0.8) * 255 = 63.75 -> 63.
        assert_eq!(m, [0, 127, 255, 63]);
        let s = postprocess(&[-10.0, 10.0], 2, 1, OutputActivation::Sigmoid);
        assert_eq!(s, [0, 255]);
        // A constant prediction has no foreground rather than NaNs.
        assert_eq!(
            postprocess(&[0.5; 4], 2, 2, OutputActivation::Identity),
            [0; 4]
        );
    }

    /// Issue 12: an output that cannot make a mask is an error, not an all-black mask.
    #[test]
    fn unusable_mask_outputs_are_errors() {
        assert!(check_mask_output(&[0.1, 0.9, 0.4]).is_ok());
        let nan = check_mask_output(&[0.1, f32::NAN, 0.4]).unwrap_err();
        assert!(
            nan.contains("1 of its 3 values are NaN or infinite"),
            "{nan}"
        );
        let flat = check_mask_output(&[0.5; 6]).unwrap_err();
        assert!(flat.contains("every one of its 6 values is 0.5"), "{flat}");
    }

    #[test]
    fn tiny_model_end_to_end() {
        // tools/gen_test_models.py: 1024² input, sigmoid then nearest upsampling.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/segmentation.onnx");
        let opts = RuntimeOptions::default().with_device(crate::Device::Cpu);
        let spec = SegmentationSpec::from_registry(
            "birefnet-lite",
            &ImageNorm {
                size: 1024,
                mean: IMAGENET_MEAN,
                std: IMAGENET_STD,
            },
        );
        let seg = Segmenter::load(&path, spec, &opts).unwrap();
        assert_eq!(
            seg.activation(),
            OutputActivation::Identity,
            "the graph ends in a sigmoid"
        );
        // Left half dark, right half bright: the mask must separate them.
        let pic = RgbImage::from_fn(64, 48, |x, _| {
            if x < 32 {
                image::Rgb([10, 10, 10])
            } else {
                image::Rgb([240, 230, 220])
            }
        });
        let m = seg.mask(&pic).unwrap();
        assert_eq!(m.dimensions(), (64, 48));
        let (l, r) = (m.get_pixel(5, 24).0[0], m.get_pixel(58, 24).0[0]);
        assert!(l.abs_diff(r) > 100, "{l} vs {r}");
        // A spec whose size differs from the file's is refused.
        let wrong = SegmentationSpec { size: 320, ..spec };
        assert!(matches!(
            Segmenter::load(&path, wrong, &opts),
            Err(SegmentationError::InputSize { .. })
        ));
    }

    #[test]
    fn mask_resize_keeps_flat_regions() {
        let m = resize_mask(&[255; 16], 4, 4, 9, 7).unwrap().unwrap();
        assert!(m.pixels().all(|p| p.0[0] == 255));
    }
}
