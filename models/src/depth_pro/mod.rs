//! Apple's Depth Pro (Bochkovskii et al., "Depth Pro: Sharp Monocular Metric Depth in Less
//! Than a Second", 2024; code and weights at <https://github.com/apple/ml-depth-pro>):
//! metric depth and the camera's focal length from one picture, through ONNX Runtime.
//!
//! | module | what it mirrors |
//! |---|---|
//! | [`preprocess`] | `DepthPro.infer`'s resize and the `Normalize` transform |
//! | [`postprocess`] | `DepthPro.infer`'s focal length, inverse-depth resize and clamp; both public export semantics |
//! | [`exif`] | `utils.py`'s EXIF 35 mm focal length lookup |

pub mod exif;
pub mod postprocess;
pub mod preprocess;

pub use exif::focal_length_35mm;
pub use postprocess::{
    DepthSemantics, FocalSource, KnownFocal, MetricDepth, PostprocessError, focal_px_from_35mm,
    focal_px_from_fov, fov_deg_from_focal_px, metric_depth,
};
pub use preprocess::{INPUT_SIZE, preprocess, preprocess_into};
