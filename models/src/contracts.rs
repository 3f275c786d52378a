//! The contracts of the known models: what each model wrapper expects of its ONNX file.
//!
//! One place for all of them, so the registry, the wrappers, the tiny test models
//! (`tools/gen_test_models.py`) and the GPU check agree. Names list the canonical name
//! first, then the names seen in public exports. Facts come from
//! `shared/reference/triposr.md` (§1.3–1.4, §6) and `shared/reference/depthpro.md`
//! (§1.3, §2.1); names marked *unverified* there are accepted but have not been checked
//! against the real files (no weights can be downloaded on the development machines).
//!
//! Bump a contract's `version` whenever its expected signature changes.

use crate::session::{ANY_NAME, Contract, DType, Dim, TensorSpec};

use Dim::{Fixed, Free};

const F32_OR_F16: &[DType] = &[DType::F32, DType::F16];

/// TripoSR image encoder: `[1,3,512,512]` RGB in `[0,1]` (ImageNet normalisation is
/// inside the graph) → triplane `[1,3,40,64,64]` (planes xy, xz, yz × 40 channels × 64²).
///
/// Single input and output, matched by position: public exports name them differently
/// (`image`/`scene_codes` in QtMeshEditor's, others unverified).
pub const TRIPOSR_ENCODER: Contract = Contract {
    name: "TripoSR encoder",
    version: 1,
    inputs: &[TensorSpec::new(
        ANY_NAME,
        F32_OR_F16,
        &[Fixed(1), Fixed(3), Fixed(512), Fixed(512)],
    )],
    outputs: &[TensorSpec::new(
        ANY_NAME,
        F32_OR_F16,
        &[Fixed(1), Fixed(3), Fixed(40), Fixed(64), Fixed(64)],
    )],
    extra_outputs: false,
};

/// TripoSR decoder, MLP-only layout: the 120 plane features per point (sampled in Rust)
/// → 4 raw values: density `exp(raw0 - 1)`, color `sigmoid(raw1..3)`. The network is
/// Linear 120→64 + SiLU, 8 × (Linear 64→64 + SiLU), Linear 64→4.
pub const TRIPOSR_DECODER_MLP: Contract = Contract {
    name: "TripoSR decoder (MLP)",
    version: 1,
    inputs: &[TensorSpec::new(ANY_NAME, F32_OR_F16, &[Free, Fixed(120)])],
    outputs: &[TensorSpec::new(ANY_NAME, F32_OR_F16, &[Free, Fixed(4)])],
    extra_outputs: false,
};

/// TripoSR decoder, field layout: triplane + points (world coordinates in
/// `[-0.87, 0.87]`) → density (already `exp(raw - 1)`) and color (already sigmoid). The
/// graph does the bilinear plane sampling itself (GridSample, opset ≥ 16).
pub const TRIPOSR_DECODER_FIELD: Contract = Contract {
    name: "TripoSR decoder (field)",
    version: 1,
    inputs: &[
        TensorSpec::new(
            &["triplane", "scene_codes"],
            F32_OR_F16,
            &[Fixed(1), Fixed(3), Fixed(40), Fixed(64), Fixed(64)],
        ),
        TensorSpec::new(
            &["points", "xyz", "positions"],
            F32_OR_F16,
            &[Fixed(1), Free, Fixed(3)],
        ),
    ],
    outputs: &[
        TensorSpec::new(
            &["density", "sigma"],
            F32_OR_F16,
            &[Fixed(1), Free, Fixed(1)],
        ),
        TensorSpec::new(
            &["color", "colors", "rgb"],
            F32_OR_F16,
            &[Fixed(1), Free, Fixed(3)],
        ),
    ],
    extra_outputs: true,
};

/// Depth Pro, canonical layout (Apple's `DepthPro.forward` exported as is): image
/// `[1,3,1536,1536]` in `[-1,1]` → canonical inverse depth `[1,1,1536,1536]` and the
/// horizontal field of view in degrees `[1,1,1,1]`. Metric depth is computed outside:
/// `f = 0.5 W / tan(fov/2)`, `depth = 1 / clamp(cid · W / f, 1e-4, 1e4)`.
pub const DEPTH_PRO_CANONICAL: Contract = Contract {
    name: "Depth Pro (canonical inverse depth + fov)",
    version: 1,
    inputs: &[TensorSpec::new(
        &["pixel_values", "image", "input"],
        F32_OR_F16,
        &[Fixed(1), Fixed(3), Fixed(1536), Fixed(1536)],
    )],
    outputs: &[
        TensorSpec::new(
            &["canonical_inverse_depth", "inverse_depth"],
            F32_OR_F16,
            &[Fixed(1), Fixed(1), Fixed(1536), Fixed(1536)],
        ),
        TensorSpec::new(
            &["fov_deg", "fov"],
            F32_OR_F16,
            &[Fixed(1), Fixed(1), Fixed(1), Fixed(1)],
        ),
    ],
    extra_outputs: false,
};

/// Depth Pro, metric layout (the `onnx-community/DepthPro-ONNX` export): image
/// `[B,3,1536,1536]` in `[-1,1]` → `predicted_depth` `[B,1536,1536]` (metric depth, per
/// depthpro.md §2.1 — to be verified on a known case) and `focallength_px` `[B]` in
/// 1536-pixel units.
pub const DEPTH_PRO_METRIC: Contract = Contract {
    name: "Depth Pro (metric depth + focal length)",
    version: 1,
    inputs: &[TensorSpec::new(
        &["pixel_values"],
        F32_OR_F16,
        &[Free, Fixed(3), Fixed(1536), Fixed(1536)],
    )],
    outputs: &[
        TensorSpec::new(
            &["predicted_depth"],
            F32_OR_F16,
            &[Free, Fixed(1536), Fixed(1536)],
        ),
        TensorSpec::new(&["focallength_px"], F32_OR_F16, &[Free]),
    ],
    extra_outputs: true,
};

/// Background segmentation, rembg style (u2net, isnet, BiRefNet): a normalised image
/// `[1,3,S,S]` → a mask `[1,1,S,S]` as the first output (further side outputs are
/// ignored). Names are arbitrary in these exports, so tensors match by position; the
/// input size `S` and the normalisation belong to each registry entry.
pub const SEGMENTATION: Contract = Contract {
    name: "background segmentation",
    version: 1,
    inputs: &[TensorSpec::new(
        ANY_NAME,
        F32_OR_F16,
        &[Fixed(1), Fixed(3), Free, Free],
    )],
    outputs: &[TensorSpec::new(
        ANY_NAME,
        F32_OR_F16,
        &[Free, Fixed(1), Free, Free],
    )],
    extra_outputs: true,
};
