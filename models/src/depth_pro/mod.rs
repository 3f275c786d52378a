//! Apple's Depth Pro (Bochkovskii et al., "Depth Pro: Sharp Monocular Metric Depth in Less
//! Than a Second", 2024; code and weights at <https://github.com/apple/ml-depth-pro>, ONNX
//! export at <https://huggingface.co/onnx-community/DepthPro-ONNX>): metric depth and the
//! camera's focal length from one picture, through ONNX Runtime.
//!
//! | module | what it mirrors |
//! |---|---|
//! | [`preprocess`] | `DepthPro.infer`'s resize and the `Normalize` transform |
//! | [`postprocess`] | `DepthPro.infer`'s focal length, inverse-depth resize and clamp; both public export semantics |
//! | [`exif`] | `utils.py`'s EXIF 35 mm focal length lookup |
//!
//! [`DepthPro`] loads a model file, checks it against the two layouts in
//! [`crate::contracts`] ([`DEPTH_PRO_METRIC`](crate::contracts::DEPTH_PRO_METRIC) and
//! [`DEPTH_PRO_CANONICAL`](crate::contracts::DEPTH_PRO_CANONICAL)), and takes the file's
//! [`DepthSemantics`] from the layout it matches (see [`semantics_of`]): the registry's
//! `depth-pro` entry lists the layouts its files may have, and each layout fixes what its
//! outputs mean. A caller that knows better (an export whose names mislead) passes the
//! semantics explicitly.
//!
//! ```no_run
//! use img23d_models::depth_pro::{DepthPro, KnownFocal, FocalSource};
//! use img23d_models::RuntimeOptions;
//!
//! let mut model = DepthPro::load("depth_pro.onnx".as_ref(), &RuntimeOptions::default(), None)?;
//! let photo = image::open("photo.jpg").unwrap().to_rgb8();
//! let m = model.predict(&photo, None, &img23d_meshing::Limits::default())?;
//! println!("focal {:.1} px, median depth {:?}", m.focal_px, m.depth.stats());
//! # Ok::<(), img23d_models::Error>(())
//! ```

pub mod exif;
pub mod postprocess;
pub mod preprocess;

use std::path::Path;

use image::RgbImage;
use img23d_meshing::Limits;

pub use exif::focal_length_35mm;
pub use postprocess::{
    DepthSemantics, FocalSource, KnownFocal, MetricDepth, PostprocessError, focal_px_from_35mm,
    focal_px_from_fov, fov_deg_from_focal_px, metric_depth,
};
pub use preprocess::{INPUT_SIZE, preprocess, preprocess_into};

use crate::contracts::{DEPTH_PRO_CANONICAL, DEPTH_PRO_METRIC};
use crate::error::Result;
use crate::runtime::RuntimeOptions;
use crate::session::{Contract, ExecutionProvider, LoadedSession, TensorView, load_session_any};

/// The layouts a Depth Pro file may have, in the order they are tried.
pub const CONTRACTS: [&Contract; 2] = [&DEPTH_PRO_METRIC, &DEPTH_PRO_CANONICAL];

/// What the outputs of a file matching `contract` mean: the metric layout (the
/// `onnx-community/DepthPro-ONNX` export) carries metric depth and the focal length in
/// 1536-pixel units; the canonical layout (Apple's `forward`) carries canonical inverse
/// depth and the field of view. `None` for a contract that is not a Depth Pro layout.
pub fn semantics_of(contract: &Contract) -> Option<DepthSemantics> {
    if contract.name == DEPTH_PRO_METRIC.name {
        Some(DepthSemantics::MetricDepth)
    } else if contract.name == DEPTH_PRO_CANONICAL.name {
        Some(DepthSemantics::CanonicalInverseDepth)
    } else {
        None
    }
}

/// The network's two outputs, as the file gives them.
#[derive(Debug, Clone, PartialEq)]
pub struct RawPrediction {
    /// The 1536×1536 map, row-major: canonical inverse depth or metric depth.
    pub map: Vec<f32>,
    /// The field of view in degrees or the focal length in 1536-pixel units.
    pub scalar: f32,
    /// What they mean.
    pub semantics: DepthSemantics,
}

/// A loaded Depth Pro model: preprocessing, the session and post-processing.
#[derive(Debug)]
pub struct DepthPro {
    session: LoadedSession,
    semantics: DepthSemantics,
    input: Vec<f32>,
}

impl DepthPro {
    /// Loads `path` on `opts.device`, checking it against [`CONTRACTS`]. `semantics`
    /// overrides what the matched layout implies (for exports whose tensor names mislead).
    pub fn load(
        path: &Path,
        opts: &RuntimeOptions,
        semantics: Option<DepthSemantics>,
    ) -> Result<Self> {
        Self::load_with_contracts(path, &CONTRACTS, opts, semantics)
    }

    /// [`Self::load`] with the layouts to try given (e.g. a registry entry's list).
    pub fn load_with_contracts(
        path: &Path,
        contracts: &[&Contract],
        opts: &RuntimeOptions,
        semantics: Option<DepthSemantics>,
    ) -> Result<Self> {
        let (session, k) = load_session_any(path, contracts, opts)?;
        let semantics = semantics
            .or_else(|| semantics_of(contracts[k]))
            .unwrap_or(DepthSemantics::CanonicalInverseDepth);
        Ok(Self {
            session,
            semantics,
            input: Vec::new(),
        })
    }

    /// What this file's outputs mean.
    pub fn semantics(&self) -> DepthSemantics {
        self.semantics
    }

    /// The execution provider the session runs on.
    pub fn execution_provider(&self) -> ExecutionProvider {
        self.session.execution_provider()
    }

    /// The underlying session (contract, placement, CPU fallback reason).
    pub fn session(&self) -> &LoadedSession {
        &self.session
    }

    /// Runs the network on `image` (stretched to 1536×1536 and normalised, see
    /// [`preprocess`]) and returns its raw outputs.
    pub fn infer(&mut self, image: &RgbImage) -> Result<RawPrediction> {
        let _span =
            tracing::info_span!("depth_pro", w = image.width(), h = image.height()).entered();
        let n = 3 * INPUT_SIZE * INPUT_SIZE;
        if self.input.len() != n {
            self.input = vec![0.0; n];
        }
        preprocess_into(image, &mut self.input)?;
        let shape = [1, 3, INPUT_SIZE, INPUT_SIZE];
        let mut outputs = self.session.run(&[TensorView::new(&shape, &self.input)])?;
        let side2 = INPUT_SIZE * INPUT_SIZE;
        let (map, scalar) = match outputs.as_mut_slice() {
            [map, scalar, ..] => (std::mem::take(&mut map.data), scalar.data.first().copied()),
            _ => (Vec::new(), None),
        };
        if map.len() != side2 {
            return Err(PostprocessError::Shape {
                expected: side2,
                got: map.len(),
                side: INPUT_SIZE,
            }
            .into());
        }
        let scalar = scalar.ok_or(PostprocessError::BadEstimate {
            what: "second output (empty)",
            value: f32::NAN,
        })?;
        Ok(RawPrediction {
            map,
            scalar,
            semantics: self.semantics,
        })
    }

    /// Metric depth of `image` at its own size: [`Self::infer`] then
    /// [`postprocess::metric_depth`]. `known` (EXIF or user focal length, pixels of
    /// `image`) overrides the network's estimate.
    pub fn predict(
        &mut self,
        image: &RgbImage,
        known: Option<KnownFocal>,
        limits: &Limits,
    ) -> Result<MetricDepth> {
        let raw = self.infer(image)?;
        Ok(metric_depth(
            &raw.map,
            raw.scalar,
            raw.semantics,
            (image.width() as usize, image.height() as usize),
            known,
            limits,
        )?)
    }
}
