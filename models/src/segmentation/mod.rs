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

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use image::{GrayImage, RgbImage};
use ort::session::Session;
use ort::value::TensorRef;

use crate::resample::{Filter, ResampleError, resize_rows};
use crate::triposr::decoder::{SessionFactory, SessionSource};
use crate::triposr::onnx_graph::{Dim, OnnxError, OnnxModel, dtype};

/// How a segmentation model's raw output becomes a probability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputActivation {
    /// The output is used as it is (U²-Net, IS-Net end in a sigmoid inside the graph).
    Identity,
    /// A sigmoid is applied (BiRefNet exports return logits).
    Sigmoid,
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
    /// What to apply to the output.
    pub activation: OutputActivation,
}

const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// U²-Net (`rembg/sessions/u2net.py`): 320², ImageNet mean/std.
pub const U2NET: SegmentationSpec = SegmentationSpec {
    name: "u2net",
    size: 320,
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    activation: OutputActivation::Identity,
};

/// IS-Net general use (`rembg/sessions/dis_general_use.py`): 1024², ImageNet mean, std 1.
pub const ISNET_GENERAL_USE: SegmentationSpec = SegmentationSpec {
    name: "isnet-general-use",
    size: 1024,
    mean: IMAGENET_MEAN,
    std: [1.0, 1.0, 1.0],
    activation: OutputActivation::Identity,
};

/// BiRefNet general (`rembg/sessions/birefnet_general.py`): 1024², ImageNet mean/std,
/// sigmoid on the output.
pub const BIREFNET_GENERAL: SegmentationSpec = SegmentationSpec {
    name: "birefnet-general",
    size: 1024,
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    activation: OutputActivation::Sigmoid,
};

/// Why segmentation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SegmentationError {
    /// The model file could not be parsed.
    #[error(transparent)]
    Onnx(#[from] OnnxError),
    /// The graph's signature does not match the family's contract.
    #[error("segmentation model {name}: expected {expected}, found {found}: {path}")]
    Contract {
        /// Family name.
        name: &'static str,
        /// The contract.
        expected: String,
        /// What the file has.
        found: String,
        /// The model file.
        path: PathBuf,
    },
    /// ONNX Runtime failed.
    #[error("ONNX Runtime (segmentation {name}): {source}")]
    Ort {
        /// Family name.
        name: &'static str,
        /// The error.
        #[source]
        source: ort::Error,
    },
    /// Resizing failed.
    #[error(transparent)]
    Resample(#[from] ResampleError),
}

/// A loaded segmentation model.
pub struct Segmenter {
    session: Mutex<Session>,
    spec: SegmentationSpec,
    input: String,
    output: String,
    path: PathBuf,
}

impl std::fmt::Debug for Segmenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segmenter")
            .field("spec", &self.spec)
            .field("input", &self.input)
            .field("output", &self.output)
            .field("path", &self.path)
            .finish()
    }
}

fn fits(d: &Dim, n: i64) -> bool {
    match d {
        Dim::Value(v) => *v == n,
        _ => true,
    }
}

impl Segmenter {
    /// Checks the graph's signature against `spec` (one float image input
    /// `[1, 3, S, S]`, a float output whose first channel is the mask) and opens a
    /// session.
    pub fn load(
        path: &Path,
        spec: SegmentationSpec,
        factory: &SessionFactory<'_>,
    ) -> Result<Self, SegmentationError> {
        let model = OnnxModel::read(path)?;
        let g = &model.graph;
        let inputs: Vec<_> = g
            .inputs
            .iter()
            .filter(|v| model.initializer(&v.name).is_none())
            .collect();
        let s = i64::from(spec.size);
        let found = format!(
            "inputs {:?} -> first output {:?}",
            inputs
                .iter()
                .map(|v| (&v.name, &v.dims))
                .collect::<Vec<_>>(),
            g.outputs.first().map(|v| (&v.name, &v.dims))
        );
        let contract = || SegmentationError::Contract {
            name: spec.name,
            expected: format!(
                "one float input [1, 3, {s}, {s}] and a float output [1, 1, {s}, {s}] (or [1, {s}, {s}])"
            ),
            found: found.clone(),
            path: path.to_path_buf(),
        };
        let [x] = inputs.as_slice() else {
            return Err(contract());
        };
        let Some(y) = g.outputs.first() else {
            return Err(contract());
        };
        let in_ok = x.elem_type == dtype::FLOAT
            && x.dims.len() == 4
            && fits(&x.dims[0], 1)
            && fits(&x.dims[1], 3)
            && fits(&x.dims[2], s)
            && fits(&x.dims[3], s);
        let out_ok = y.elem_type == dtype::FLOAT && (y.dims.len() == 4 || y.dims.len() == 3);
        if !(in_ok && out_ok) {
            return Err(contract());
        }
        let session = factory(SessionSource::File(path)).map_err(|source| {
            SegmentationError::Ort {
                name: spec.name,
                source,
            }
        })?;
        Ok(Self {
            session: Mutex::new(session),
            spec,
            input: x.name.clone(),
            output: y.name.clone(),
            path: path.to_path_buf(),
        })
    }

    /// The family this model belongs to.
    pub fn spec(&self) -> &SegmentationSpec {
        &self.spec
    }

    /// The foreground mask of `picture`, at its size.
    pub fn mask(&self, picture: &RgbImage) -> Result<GrayImage, SegmentationError> {
        let spec = self.spec;
        let s = spec.size as usize;
        let input = model_input(picture, &spec)?;
        let ort_err = |source| SegmentationError::Ort {
            name: spec.name,
            source,
        };
        let tensor = TensorRef::from_array_view(([1, 3, s, s], &input[..])).map_err(ort_err)?;
        let mut session = self
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let outputs = session
            .run(ort::inputs![self.input.as_str() => tensor])
            .map_err(ort_err)?;
        let (shape, values) = outputs[self.output.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(ort_err)?;
        let dims: Vec<i64> = shape.iter().copied().collect();
        let (h, w) = match dims[..] {
            [1, _, h, w] | [1, h, w] => (h as usize, w as usize),
            _ => {
                return Err(SegmentationError::Contract {
                    name: spec.name,
                    expected: "an output [1, C, H, W]".into(),
                    found: format!("{dims:?}"),
                    path: self.path.clone(),
                });
            }
        };
        if h == 0 || w == 0 || values.len() < h * w {
            return Err(SegmentationError::Contract {
                name: spec.name,
                expected: "a non-empty mask".into(),
                found: format!("{dims:?}"),
                path: self.path.clone(),
            });
        }
        let mask = postprocess(&values[..h * w], w, h, spec.activation);
        Ok(resize_mask(&mask, w, h, picture.width(), picture.height())?)
    }
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
    let q: Vec<f32> = resized.iter().map(|v| v.round().clamp(0.0, 255.0)).collect();
    let max = q.iter().copied().fold(0.0f32, f32::max).max(1e-6);
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
        OutputActivation::Sigmoid => raw.iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect(),
    };
    let (mi, ma) = pred
        .iter()
        .filter(|v| v.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
    let range = ma - mi;
    debug_assert_eq!(pred.len(), width * height);
    pred.iter()
        .map(|v| {
            if !(range > 0.0) || !v.is_finite() {
                0
            } else {
                (((v - mi) / range) * 255.0).clamp(0.0, 255.0) as u8
            }
        })
        .collect()
}

/// Resizes an 8-bit mask with Lanczos-3, rounding and clamping like PIL.
fn resize_mask(
    mask: &[u8],
    width: usize,
    height: usize,
    out_w: u32,
    out_h: u32,
) -> Result<GrayImage, ResampleError> {
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
    let bytes: Vec<u8> = v.iter().map(|x| x.round().clamp(0.0, 255.0) as u8).collect();
    Ok(GrayImage::from_raw(out_w, out_h, bytes).unwrap_or_else(|| GrayImage::new(out_w, out_h)))
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
        assert_eq!(postprocess(&[0.5; 4], 2, 2, OutputActivation::Identity), [0; 4]);
    }

    #[test]
    fn mask_resize_keeps_flat_regions() {
        let m = resize_mask(&[255; 16], 4, 4, 9, 7).unwrap();
        assert!(m.pixels().all(|p| p.0[0] == 255));
    }
}
