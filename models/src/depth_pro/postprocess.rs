//! Depth Pro post-processing: from the network's two outputs to metric depth at the
//! picture's size, exactly as Apple's `DepthPro.infer` (`apple/ml-depth-pro`,
//! `src/depth_pro/depth_pro.py`):
//!
//! * `f_px = 0.5 · W / tan(0.5 · fov)`, with `W` the **original** picture width and `fov`
//!   the estimated horizontal field of view in degrees, in f32;
//! * `inverse_depth = canonical_inverse_depth · W / f_px`;
//! * bilinear resize (`align_corners=False`, no antialias) of the **inverse** depth from
//!   1536×1536 to `H × W`;
//! * `depth = 1 / clamp(inverse_depth, 1e-4, 1e4)` meters.
//!
//! A known focal length (EXIF 35 mm equivalent converted with the diagonal, `utils.py`
//! `fpx_from_f35`, or `--focal-px`) replaces the estimate: only the scale changes, the
//! network never sees it.
//!
//! Public exports disagree on what the outputs mean, so each registry entry records its
//! [`DepthSemantics`]. Both are brought to Apple's canonical form (canonical inverse depth
//! plus field of view) before the common path, so they give the same metric depth:
//!
//! * [`DepthSemantics::CanonicalInverseDepth`]: Apple's raw `forward` (the yuvraj108c
//!   TensorRT export, our own exports): `canonical_inverse_depth` (1/m for a camera whose
//!   focal length equals the image width) and `fov_deg`.
//! * [`DepthSemantics::MetricDepth`]: `onnx-community/DepthPro-ONNX`: `predicted_depth`,
//!   already metric at 1536×1536 (the graph applies the fov conversion and the
//!   `1 / clamp`), and `focallength_px`, in pixels of the 1536-wide input. Then
//!   `fov = 2·atan(768 / f_1536)` and `canonical = (1 / depth) · f_1536 / 1536`, which
//!   reproduces Apple's pipeline exactly (`depth ∝ 1 / (2·tan(fov/2)·canonical)` does not
//!   depend on the width).

use img23d_meshing::Limits;
use img23d_meshing::depth::DepthMap;

use super::preprocess::INPUT_SIZE;
use crate::resample::bilinear::resize_bilinear_map;

/// Lower clamp of the inverse depth (`depth_pro.py`, `infer`: `torch.clamp(min=1e-4)`):
/// depth is at most 10 km.
pub const INVERSE_DEPTH_MIN: f32 = 1e-4;
/// Upper clamp of the inverse depth (`torch.clamp(max=1e4)`): depth is at least 0.1 mm.
pub const INVERSE_DEPTH_MAX: f32 = 1e4;
/// Diagonal of 35 mm film in mm, `sqrt(36² + 24²)` (`utils.py`, `fpx_from_f35`).
pub const FULL_FRAME_DIAGONAL_MM: f32 = 43.266_617;

/// What a Depth Pro ONNX file's two outputs mean. Recorded per registry entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DepthSemantics {
    /// Apple's raw `forward`: canonical inverse depth (1/m for a focal length equal to the
    /// image width, 1536×1536) and the horizontal field of view in degrees.
    CanonicalInverseDepth,
    /// `onnx-community/DepthPro-ONNX`: metric depth in meters at 1536×1536 and the focal
    /// length in pixels of the 1536-wide network input.
    MetricDepth,
}

impl DepthSemantics {
    /// A short name, as written in reports (`canonical_inverse_depth`, `metric_depth`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CanonicalInverseDepth => "canonical_inverse_depth",
            Self::MetricDepth => "metric_depth",
        }
    }
}

impl std::fmt::Display for DepthSemantics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the focal length used for metric depth came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FocalSource {
    /// Estimated by the network's field-of-view head.
    Network,
    /// The picture's EXIF 35 mm-equivalent focal length.
    Exif,
    /// Given by the user (`--focal-px`).
    User,
}

/// A known focal length that overrides the network's estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KnownFocal {
    /// Focal length in pixels of the original picture.
    pub px: f32,
    /// Where it came from ([`FocalSource::Exif`] or [`FocalSource::User`]).
    pub source: FocalSource,
}

/// Why post-processing refused the network's outputs or a focal length.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PostprocessError {
    /// The depth output has the wrong number of values.
    #[error("the depth output has {got} values, expected {expected} ({side}x{side})")]
    Shape {
        /// Values expected.
        expected: usize,
        /// Values found.
        got: usize,
        /// Side of the square map.
        side: usize,
    },
    /// The depth output holds NaN or infinite values (an fp16 overflow, typically).
    #[error("the network's {output} output holds {count} non-finite values (try --precision fp32)")]
    NonFinite {
        /// Output name.
        output: &'static str,
        /// How many.
        count: usize,
    },
    /// The estimated field of view or focal length is not usable.
    #[error(
        "the network estimated {what} = {value}, which is not usable; give the focal length with --focal-px"
    )]
    BadEstimate {
        /// `field of view (degrees)` or `focal length (pixels)`.
        what: &'static str,
        /// The value.
        value: f32,
    },
    /// A given focal length is not finite and positive.
    #[error(
        "focal length must be a finite, positive number of pixels, got {value} (from {from:?})"
    )]
    BadFocal {
        /// The value.
        value: f32,
        /// Where it came from.
        from: FocalSource,
    },
    /// The picture cannot be an input (no pixels), or the input buffer is too small.
    #[error("cannot prepare the network input: {reason}")]
    Input {
        /// What is wrong.
        reason: String,
    },
    /// The picture's size is refused by the limits.
    #[error(transparent)]
    Size(#[from] img23d_meshing::Error),
}

/// Metric depth for one picture and the focal lengths behind it.
#[derive(Debug, Clone)]
pub struct MetricDepth {
    /// Planar depth in meters at the picture's size.
    pub depth: DepthMap,
    /// The focal length the depth was scaled with, pixels of the picture.
    pub focal_px: f32,
    /// Where [`Self::focal_px`] came from.
    pub focal_source: FocalSource,
    /// The network's own focal length estimate, pixels of the picture.
    pub network_focal_px: f32,
    /// The network's horizontal field of view estimate, degrees.
    pub network_fov_deg: f32,
}

/// Focal length in pixels for an image `width` pixels wide with horizontal field of view
/// `fov_deg` (`depth_pro.py`, `infer`: `0.5 * W / tan(0.5 * deg2rad(fov))`).
pub fn focal_px_from_fov(width: usize, fov_deg: f32) -> f32 {
    0.5 * width as f32 / (0.5 * fov_deg.to_radians()).tan()
}

/// Horizontal field of view in degrees of an image `width` pixels wide at focal length
/// `focal_px` (the inverse of [`focal_px_from_fov`]).
pub fn fov_deg_from_focal_px(width: usize, focal_px: f32) -> f32 {
    (2.0 * (0.5 * width as f32 / focal_px).atan()).to_degrees()
}

/// Focal length in pixels from a 35 mm-equivalent focal length in mm, matching the 43.27 mm
/// diagonal of full-frame film to the picture's diagonal (`utils.py`, `fpx_from_f35`).
pub fn focal_px_from_35mm(focal_35mm: f32, width: usize, height: usize) -> f32 {
    let diag = ((width as f64).powi(2) + (height as f64).powi(2)).sqrt() as f32;
    focal_35mm * diag / FULL_FRAME_DIAGONAL_MM
}

/// Metric depth at `width × height` from the network's outputs: `map` (1536×1536,
/// row-major) and `scalar` (fov in degrees or focal length in 1536-pixel units, per
/// `semantics`). `known` overrides the estimated focal length.
pub fn metric_depth(
    map: &[f32],
    scalar: f32,
    semantics: DepthSemantics,
    (width, height): (usize, usize),
    known: Option<KnownFocal>,
    limits: &Limits,
) -> Result<MetricDepth, PostprocessError> {
    let side = INPUT_SIZE;
    if map.len() != side * side {
        return Err(PostprocessError::Shape {
            expected: side * side,
            got: map.len(),
            side,
        });
    }
    let bad = map.iter().filter(|v| !v.is_finite()).count();
    if bad > 0 {
        return Err(PostprocessError::NonFinite {
            output: match semantics {
                DepthSemantics::CanonicalInverseDepth => "canonical inverse depth",
                DepthSemantics::MetricDepth => "predicted depth",
            },
            count: bad,
        });
    }
    if let Some(k) = known
        && !(k.px.is_finite() && k.px > 0.0)
    {
        return Err(PostprocessError::BadFocal {
            value: k.px,
            from: k.source,
        });
    }
    // Check the output size before allocating it.
    limits.check_image(
        u32::try_from(width).unwrap_or(u32::MAX),
        u32::try_from(height).unwrap_or(u32::MAX),
    )?;

    // Bring both semantics to (canonical inverse depth, fov in degrees).
    let (canonical, fov_deg): (std::borrow::Cow<'_, [f32]>, f32) = match semantics {
        DepthSemantics::CanonicalInverseDepth => (map.into(), scalar),
        DepthSemantics::MetricDepth => {
            if !(scalar.is_finite() && scalar > 0.0) {
                return Err(PostprocessError::BadEstimate {
                    what: "focal length (pixels)",
                    value: scalar,
                });
            }
            let k = scalar / side as f32;
            let cid: Vec<f32> = map.iter().map(|&d| k / d).collect();
            (cid.into(), fov_deg_from_focal_px(side, scalar))
        }
    };
    let network_focal_px = focal_px_from_fov(width, fov_deg);
    if !(fov_deg.is_finite() && fov_deg > 0.0 && fov_deg < 180.0) && known.is_none() {
        return Err(PostprocessError::BadEstimate {
            what: "field of view (degrees)",
            value: fov_deg,
        });
    }
    let (focal_px, focal_source) = match known {
        Some(k) => (k.px, k.source),
        None => (network_focal_px, FocalSource::Network),
    };

    // inverse_depth = canonical · W / f_px, resized to H × W (the scale is applied after
    // the resize: both are linear, so only rounding differs), clamped and inverted.
    let factor = width as f32 / focal_px;
    let mut depth = img23d_meshing::limits::try_vec_with_capacity(width * height, "depth map")?;
    depth.resize(width * height, 0.0f32);
    resize_bilinear_map(&canonical, (side, side), &mut depth, (width, height), |c| {
        1.0 / (c * factor).clamp(INVERSE_DEPTH_MIN, INVERSE_DEPTH_MAX)
    });
    Ok(MetricDepth {
        depth: DepthMap::new(width, height, depth, limits)?,
        focal_px,
        focal_source,
        network_focal_px,
        network_fov_deg: fov_deg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIDE: usize = INPUT_SIZE;

    /// A canonical scene: a wall whose canonical inverse depth rises left to right, as a
    /// Depth Pro "canonical_inverse_depth" output would read.
    fn canonical_scene() -> Vec<f32> {
        (0..SIDE * SIDE)
            .map(|i| 0.2 + 0.6 * (i % SIDE) as f32 / SIDE as f32)
            .collect()
    }

    #[test]
    fn matches_apples_formula_on_a_constant_map() {
        // cid = 0.5, fov = 60 deg, picture 640x480:
        // f = 0.5*640/tan(30 deg) = 554.256; inv = 0.5 * 640 / f = 0.57735; depth = 1.7320508.
        let map = vec![0.5f32; SIDE * SIDE];
        let m = metric_depth(
            &map,
            60.0,
            DepthSemantics::CanonicalInverseDepth,
            (640, 480),
            None,
            &Limits::default(),
        )
        .unwrap();
        assert!((m.focal_px - 554.256_3).abs() < 1e-3, "{}", m.focal_px);
        assert_eq!(m.focal_source, FocalSource::Network);
        assert_eq!((m.depth.width(), m.depth.height()), (640, 480));
        for &d in m.depth.data() {
            assert!((d - 1.732_050_8).abs() < 1e-5, "{d}");
        }
    }

    /// Reference values from `tools/depth_pro_reference.py`, section 3 (numpy + ONNX
    /// Runtime's `Resize` following Apple's `infer()`).
    #[test]
    fn metric_depth_matches_reference() {
        let side = SIDE as f32;
        let map: Vec<f32> = (0..SIDE * SIDE)
            .map(|i| {
                let (x, y) = ((i % SIDE) as f32, (i / SIDE) as f32);
                0.2 + 0.6 * x / side + 0.1 * y / side
            })
            .collect();
        let m = metric_depth(
            &map,
            55.0,
            DepthSemantics::CanonicalInverseDepth,
            (7, 5),
            None,
            &Limits::default(),
        )
        .unwrap();
        assert!((m.focal_px - 6.723_437_3).abs() < 1e-5);
        #[rustfmt::skip]
        let expected = [
            3.801_978, 2.838_803_5, 2.265, 1.884_157_4, 1.612_951_9, 1.409_997, 1.252_408_6,
            3.523_066, 2.680_363_7, 2.162_986, 1.813_026_5, 1.560_539_7, 1.369_780_3, 1.220_577_7,
            3.282_279_3, 2.538_673_9, 2.069_765_6, 1.747_071, 1.511_426_3, 1.331_794_3, 1.190_324_9,
            3.072_300_7, 2.411_212_4, 1.984_248_5, 1.685_745_7, 1.465_310_2, 1.295_858_3, 1.161_535_3,
            2.887_572_3, 2.295_938, 1.905_517_5, 1.628_579_9, 1.421_924_7, 1.261_810_4, 1.134_105_6,
        ];
        for (got, e) in m.depth.data().iter().zip(expected) {
            assert!((got - e).abs() < 2e-6 * e, "{got} vs {e}");
        }
    }

    #[test]
    fn both_semantics_give_the_same_metric_depth() {
        let cid = canonical_scene();
        let fov = 55.0f32;
        // What the metric export computes inside its graph, at 1536 wide.
        let f1536 = focal_px_from_fov(SIDE, fov);
        let metric: Vec<f32> = cid
            .iter()
            .map(|&c| 1.0 / (c * SIDE as f32 / f1536).clamp(INVERSE_DEPTH_MIN, INVERSE_DEPTH_MAX))
            .collect();
        for size in [(1000, 750), (300, 900), (8, 8)] {
            for known in [
                None,
                Some(KnownFocal {
                    px: 777.0,
                    source: FocalSource::User,
                }),
            ] {
                let a = metric_depth(
                    &cid,
                    fov,
                    DepthSemantics::CanonicalInverseDepth,
                    size,
                    known,
                    &Limits::default(),
                )
                .unwrap();
                let b = metric_depth(
                    &metric,
                    f1536,
                    DepthSemantics::MetricDepth,
                    size,
                    known,
                    &Limits::default(),
                )
                .unwrap();
                assert!((a.focal_px - b.focal_px).abs() < 1e-3 * a.focal_px);
                assert!((a.network_fov_deg - b.network_fov_deg).abs() < 1e-4);
                for (x, y) in a.depth.data().iter().zip(b.depth.data()) {
                    assert!((x - y).abs() < 1e-5 * x, "{size:?} {known:?}: {x} vs {y}");
                }
            }
        }
    }

    #[test]
    fn known_focal_rescales_depth() {
        let map = vec![0.5f32; SIDE * SIDE];
        let est = metric_depth(
            &map,
            60.0,
            DepthSemantics::CanonicalInverseDepth,
            (640, 480),
            None,
            &Limits::default(),
        )
        .unwrap();
        let f = 2.0 * est.focal_px;
        let m = metric_depth(
            &map,
            60.0,
            DepthSemantics::CanonicalInverseDepth,
            (640, 480),
            Some(KnownFocal {
                px: f,
                source: FocalSource::Exif,
            }),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(m.focal_source, FocalSource::Exif);
        assert_eq!(m.network_focal_px, est.focal_px);
        let ratio = m.depth.data()[0] / est.depth.data()[0];
        assert!(
            (ratio - 2.0).abs() < 1e-5,
            "depth_known = depth_est * f_known / f_est"
        );
    }

    #[test]
    fn clamps_like_apple() {
        // Zero inverse depth (sky) -> 1e4 m; huge -> 1e-4 m.
        let mut map = vec![0.0f32; SIDE * SIDE];
        map[SIDE * SIDE - 1] = 1e9;
        let m = metric_depth(
            &map,
            90.0,
            DepthSemantics::CanonicalInverseDepth,
            (SIDE, SIDE),
            None,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(m.depth.data()[0], 1e4);
        assert_eq!(*m.depth.data().last().unwrap(), 1e-4);
    }

    #[test]
    fn refuses_bad_outputs_and_focals() {
        let ok = vec![0.5f32; SIDE * SIDE];
        let run = |map: &[f32], scalar: f32, sem, known| {
            metric_depth(map, scalar, sem, (10, 10), known, &Limits::default())
        };
        use DepthSemantics::*;
        assert!(matches!(
            run(&ok[1..], 60.0, CanonicalInverseDepth, None),
            Err(PostprocessError::Shape { .. })
        ));
        let mut nan = ok.clone();
        nan[5] = f32::NAN;
        assert!(matches!(
            run(&nan, 60.0, CanonicalInverseDepth, None),
            Err(PostprocessError::NonFinite { count: 1, .. })
        ));
        for fov in [0.0, 180.0, -3.0, f32::NAN] {
            assert!(matches!(
                run(&ok, fov, CanonicalInverseDepth, None),
                Err(PostprocessError::BadEstimate { .. })
            ));
        }
        assert!(matches!(
            run(&ok, -1.0, MetricDepth, None),
            Err(PostprocessError::BadEstimate { .. })
        ));
        let bad = KnownFocal {
            px: 0.0,
            source: FocalSource::User,
        };
        assert!(matches!(
            run(&ok, 60.0, CanonicalInverseDepth, Some(bad)),
            Err(PostprocessError::BadFocal { .. })
        ));
        assert!(matches!(
            metric_depth(
                &ok,
                60.0,
                CanonicalInverseDepth,
                (40000, 40000),
                None,
                &Limits::default()
            ),
            Err(PostprocessError::Size(_))
        ));
    }

    #[test]
    fn focal_conversions() {
        // 26 mm equivalent on a 4032x3024 phone picture: 26 * 5040 / 43.2666 = 3028.6 px.
        let f = focal_px_from_35mm(26.0, 4032, 3024);
        assert!((f - 3028.66).abs() < 0.05, "{f}");
        let fov = fov_deg_from_focal_px(640, focal_px_from_fov(640, 47.0));
        assert!((fov - 47.0).abs() < 1e-4);
    }
}
