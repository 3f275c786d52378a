//! Loading TripoSR's two ONNX graphs and turning a picture into a [`TriplaneField`].
//!
//! * [`Encoder`]: `image [1, 3, 512, 512]` in `[0, 1]` → `triplane [1, 3, 40, 64, 64]`.
//!   The public exports normalise with ImageNet mean/std inside the graph (the DINO
//!   tokenizer does it, `tsr/models/tokenizers/image.py`); [`Normalization::Auto`] looks
//!   for those constants next to the graph's input and applies them outside when the
//!   graph does not.
//! * [`Decoder`]: either public layout (see [`super::decoder`]). When the MLP is
//!   recognised, the planes are sampled in Rust and, by default, the first layer is
//!   folded into them; the remaining layers run in Rust on the CPU or as a tail graph in
//!   ONNX Runtime (the path for GPUs). A recognised MLP is checked against the original
//!   graph on sample points before it replaces it; any mismatch falls back to the graph
//!   as published.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::contracts::{TRIPOSR_DECODER_FIELD, TRIPOSR_DECODER_MLP, TRIPOSR_ENCODER};
use crate::session::{LoadedSession, TensorView};
use crate::{ExecutionProvider, RuntimeOptions, load_session, load_session_any};

use super::decoder::{DecoderLayout, OrtGraphDecoder, OrtMlp, extract_mlp, mlp_to_onnx};
use super::field::{MlpExec, TriplaneField};
use super::mlp::{Linear, Mlp};
use super::preprocess::{IMAGENET_MEAN, IMAGENET_STD, Preprocessed, normalize_imagenet};
use super::triplane::{RADIUS, Triplane, TriplaneError};
use crate::onnx_graph::{OnnxError, OnnxModel};

/// Features per point the decoder contracts fix (3 planes × 40 channels).
pub const FEATURES: usize = 120;

/// Everything that can go wrong running TripoSR.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TriposrError {
    /// Loading or running a session failed (missing or corrupt file, signature, device).
    #[error(transparent)]
    Model(#[from] crate::Error),
    /// A model file could not be parsed for its weights.
    #[error(transparent)]
    Onnx(#[from] OnnxError),
    /// The picture is not the encoder's input size.
    #[error("the TripoSR encoder takes {expected}x{expected} pictures, got {got}x{got}")]
    InputSize {
        /// The encoder's side.
        expected: usize,
        /// The picture's side.
        got: usize,
    },
    /// The triplane does not fit the decoder.
    #[error(transparent)]
    Triplane(#[from] TriplaneError),
    /// The encoder returned something other than a triplane.
    #[error(
        "the TripoSR encoder returned shape {shape:?} with {got} values, expected a triplane [1, 3, C, H, W]"
    )]
    EncoderOutput {
        /// The shape returned.
        shape: Vec<usize>,
        /// Values returned.
        got: usize,
    },
    /// The picture could not be prepared.
    #[error(transparent)]
    Preprocess(#[from] super::preprocess::PreprocessError),
    /// Evaluating the field failed during a self-check.
    #[error(transparent)]
    Field(#[from] img23d_meshing::FieldError),
}

/// Where the encoder's ImageNet normalisation happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Normalization {
    /// Look for the mean/std constants next to the graph's input. By default.
    #[default]
    Auto,
    /// The graph normalises (the public exports).
    Inside,
    /// The graph expects normalised input: img23d applies mean/std.
    Outside,
}

/// TripoSR's image encoder.
#[derive(Debug)]
pub struct Encoder {
    session: Mutex<LoadedSession>,
    normalize_outside: bool,
}

impl Encoder {
    /// Loads the encoder against [`TRIPOSR_ENCODER`] and decides where normalisation
    /// happens.
    pub fn load(
        path: &Path,
        normalization: Normalization,
        runtime: &RuntimeOptions,
    ) -> Result<Self, TriposrError> {
        let session = load_session(path, &TRIPOSR_ENCODER, runtime)?;
        let normalize_outside = match normalization {
            Normalization::Inside => false,
            Normalization::Outside => true,
            Normalization::Auto => {
                let model = OnnxModel::read(path)?;
                let input = session.input(0).map(|t| t.name.clone()).unwrap_or_default();
                let inside = normalizes_input(&model, &input);
                if !inside {
                    tracing::info!(
                        path = %path.display(),
                        "the TripoSR encoder has no ImageNet mean/std next to its input: \
                         normalising outside the graph"
                    );
                }
                !inside
            }
        };
        Ok(Self {
            session: Mutex::new(session),
            normalize_outside,
        })
    }

    /// Side of the square input (512).
    pub fn input_size(&self) -> usize {
        super::preprocess::COND_IMAGE_SIZE as usize
    }

    /// True when img23d applies ImageNet mean/std before the graph.
    pub fn normalizes_outside(&self) -> bool {
        self.normalize_outside
    }

    /// The execution provider the encoder runs on.
    pub fn execution_provider(&self) -> ExecutionProvider {
        self.session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .execution_provider()
    }

    /// Runs the encoder on a preprocessed picture.
    pub fn encode(&self, image: &Preprocessed) -> Result<Triplane, TriposrError> {
        let s = image.size as usize;
        if s != self.input_size() {
            return Err(TriposrError::InputSize {
                expected: self.input_size(),
                got: s,
            });
        }
        let mut data = image.tensor.clone();
        if self.normalize_outside {
            normalize_imagenet(&mut data);
        }
        let shape = [1, 3, s, s];
        let mut session = self
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let out = session.run(&[TensorView::new(&shape, &data)])?;
        let Some(t) = out.into_iter().next() else {
            return Err(TriposrError::EncoderOutput {
                shape: Vec::new(),
                got: 0,
            });
        };
        let chw = match t.shape[..] {
            [1, 3, c, h, w] => [c, h, w],
            _ => {
                return Err(TriposrError::EncoderOutput {
                    shape: t.shape.clone(),
                    got: t.data.len(),
                });
            }
        };
        Ok(Triplane::from_nchw(&t.data, chw[0], chw[1], chw[2])?)
    }
}

/// True when a `Sub`/`Add` with the ImageNet mean or a `Div`/`Mul` with its std sits
/// within a few elementwise or reshaping nodes of `input`.
fn normalizes_input(model: &OnnxModel, input: &str) -> bool {
    let g = &model.graph;
    let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, n) in g.nodes.iter().enumerate() {
        for x in &n.inputs {
            consumers.entry(x.as_str()).or_default().push(i);
        }
    }
    let near = |v: &[f32], want: [f32; 3]| {
        v.len() == 3 && v.iter().zip(want).all(|(a, b)| (a - b).abs() < 2e-3)
    };
    let constant_values = |name: &str| -> Option<Vec<f32>> {
        let t = model.constant(name)?;
        if t.len()? != 3 {
            return None;
        }
        model.tensor_f32(t).ok()
    };
    let neg_mean = IMAGENET_MEAN.map(|m| -m);
    let inv_std = IMAGENET_STD.map(|s| 1.0 / s);
    let mut queue = VecDeque::from([(input.to_string(), 0usize)]);
    let mut seen = 0;
    while let Some((name, depth)) = queue.pop_front() {
        seen += 1;
        if depth > 8 || seen > 256 {
            break;
        }
        for &i in consumers.get(name.as_str()).map_or(&[][..], Vec::as_slice) {
            let n = &g.nodes[i];
            let others: Vec<Vec<f32>> = n
                .inputs
                .iter()
                .filter(|x| **x != name)
                .filter_map(|x| constant_values(x))
                .collect();
            let hit = match n.op_type.as_str() {
                "Sub" => others.iter().any(|v| near(v, IMAGENET_MEAN)),
                "Add" => others.iter().any(|v| near(v, neg_mean)),
                "Div" => others.iter().any(|v| near(v, IMAGENET_STD)),
                "Mul" => others.iter().any(|v| near(v, inv_std)),
                _ => false,
            };
            if hit {
                return true;
            }
            let passes = matches!(
                n.op_type.as_str(),
                "Sub"
                    | "Add"
                    | "Div"
                    | "Mul"
                    | "Reshape"
                    | "Unsqueeze"
                    | "Squeeze"
                    | "Transpose"
                    | "Cast"
                    | "Identity"
                    | "Flatten"
                    | "Resize"
                    | "Slice"
                    | "Concat"
            );
            if passes {
                for o in &n.outputs {
                    queue.push_back((o.clone(), depth + 1));
                }
            }
        }
    }
    false
}

/// Who runs the decoder MLP once it has been read out of the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MlpBackend {
    /// ONNX Runtime when the decoder's session runs on a GPU (CUDA, TensorRT), the Rust
    /// MLP when it runs on the CPU: there the Rust MLP with the folded first layer
    /// extracts a 256³ surface in about 0.75 of the CPU time ONNX Runtime's MLP takes
    /// (`triposr_decoder_bench`, AMD EPYC with AVX2; see BENCHMARKS.md). By default.
    #[default]
    Auto,
    /// Rust SIMD.
    Rust,
    /// ONNX Runtime.
    Ort,
}

/// Decoder options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderOptions {
    /// Fold the first MLP layer into the planes (exact). By default, true: with the Rust
    /// MLP on the CPU it evaluates 13 to 15 % more points per second than plain sampling
    /// (BENCHMARKS.md, "Plain vs folded, alternated").
    pub fold: bool,
    /// Who runs the MLP. By default, [`MlpBackend::Auto`].
    pub backend: MlpBackend,
}

impl Default for DecoderOptions {
    fn default() -> Self {
        Self {
            fold: true,
            backend: MlpBackend::Auto,
        }
    }
}

#[derive(Debug, Clone)]
enum Plan {
    FoldedRust(Arc<Mlp>),
    FoldedOrt { first: Linear, tail: Arc<OrtMlp> },
    PlainRust(Arc<Mlp>),
    PlainOrt(Arc<OrtMlp>),
    Graph,
}

/// TripoSR's decoder, ready to make fields.
#[derive(Debug)]
pub struct Decoder {
    layout: DecoderLayout,
    plan: Plan,
    /// The published graph, for the graph layout (fallback and checks).
    graph: Option<Arc<OrtGraphDecoder>>,
    note: String,
}

/// Deterministic pseudo-random numbers in `[-1, 1)` for self-checks and the synthetic
/// decoder's weights.
pub(crate) fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

impl Decoder {
    /// Loads the decoder (either layout, picked by the contract its signature matches),
    /// reads its MLP when it can and picks the evaluation path (see the module docs).
    pub fn load(
        path: &Path,
        options: &DecoderOptions,
        runtime: &RuntimeOptions,
    ) -> Result<Self, TriposrError> {
        let (session, which) = load_session_any(
            path,
            &[&TRIPOSR_DECODER_FIELD, &TRIPOSR_DECODER_MLP],
            runtime,
        )?;
        let layout = if which == 0 {
            DecoderLayout::Graph
        } else {
            DecoderLayout::Mlp
        };
        let model = OnnxModel::read(path)?;
        let extracted = extract_mlp(&model, FEATURES);
        let use_ort = match options.backend {
            MlpBackend::Auto => session.execution_provider() != ExecutionProvider::Cpu,
            MlpBackend::Ort => true,
            MlpBackend::Rust => false,
        };
        let (graph, original) = match layout {
            DecoderLayout::Graph => (Some(Arc::new(OrtGraphDecoder::new(session))), None),
            DecoderLayout::Mlp => (None, Some(Arc::new(OrtMlp::new(session, FEATURES, 4)))),
        };
        let published = |why: String| -> Result<Self, TriposrError> {
            let plan = match &original {
                Some(o) => Plan::PlainOrt(o.clone()),
                None => Plan::Graph,
            };
            Ok(Self {
                layout,
                plan,
                graph: graph.clone(),
                note: format!("the decoder graph as published ({why})"),
            })
        };
        let mlp = match extracted {
            Ok(ex) => Arc::new(ex.mlp),
            Err(why) => {
                tracing::info!(
                    path = %path.display(),
                    "TripoSR decoder MLP not recognised ({why}): running the graph as published"
                );
                return published(format!("MLP not recognised: {why}"));
            }
        };
        // The MLP-only layout: check the weights read from the file against its graph.
        if let Some(o) = &original
            && let Some(why) = compare_mlp(&mlp, o)?
        {
            tracing::warn!(path = %path.display(), "{why}; running the decoder graph as published");
            return published(why);
        }
        let plan = match (options.fold, use_ort) {
            (true, false) => Plan::FoldedRust(mlp.clone()),
            (true, true) if mlp.layers().len() > 1 => Plan::FoldedOrt {
                first: mlp.layers()[0].clone(),
                tail: Arc::new(OrtMlp::from_bytes(
                    &mlp_to_onnx(&mlp.layers()[1..], true),
                    mlp.layers()[0].outputs,
                    runtime,
                )?),
            },
            // A single layer folds entirely into the planes.
            (true, true) => Plan::FoldedRust(mlp.clone()),
            (false, false) => Plan::PlainRust(mlp.clone()),
            (false, true) => Plan::PlainOrt(match &original {
                Some(o) => o.clone(),
                None => Arc::new(OrtMlp::from_bytes(
                    &mlp_to_onnx(mlp.layers(), false),
                    mlp.inputs(),
                    runtime,
                )?),
            }),
        };
        Ok(Self {
            layout,
            plan,
            graph,
            note: String::new(),
        })
    }

    /// The layout the file has.
    pub fn layout(&self) -> DecoderLayout {
        self.layout
    }

    /// The field of one triplane.
    pub fn field(&self, triplane: Triplane) -> Result<TriplaneField, TriposrError> {
        if triplane.feature_count() != FEATURES {
            return Err(TriplaneError::Weights {
                expected: FEATURES * 64,
                got: triplane.feature_count() * 64,
                inputs: triplane.feature_count(),
                outputs: 64,
            }
            .into());
        }
        let field = match &self.plan {
            Plan::FoldedRust(mlp) => {
                TriplaneField::folded(&triplane, &mlp.layers()[0], MlpExec::Rust(mlp.clone()))?
            }
            Plan::FoldedOrt { first, tail } => {
                TriplaneField::folded(&triplane, first, MlpExec::Ort(tail.clone()))?
            }
            Plan::PlainRust(mlp) => {
                TriplaneField::plain(triplane.clone(), MlpExec::Rust(mlp.clone()))
            }
            Plan::PlainOrt(s) => TriplaneField::plain(triplane.clone(), MlpExec::Ort(s.clone())),
            Plan::Graph => {
                return self.graph_field(&triplane);
            }
        };
        // The graph layout: check the Rust sampling + MLP against the published graph.
        if let Some(g) = &self.graph
            && let Some(why) = compare_with_graph(&field, g, &triplane)?
        {
            tracing::warn!("{why}; running the decoder graph as published");
            return self.graph_field(&triplane);
        }
        Ok(field)
    }

    fn graph_field(&self, triplane: &Triplane) -> Result<TriplaneField, TriposrError> {
        match &self.graph {
            Some(g) => Ok(TriplaneField::graph(triplane, g.clone())),
            None => Err(crate::Error::Inference {
                model: TRIPOSR_DECODER_FIELD.name.to_string(),
                reason: "no decoder graph loaded".into(),
            }
            .into()),
        }
    }

    /// Where the decoder's network runs: `Rust (CPU)` when the MLP was read out of the
    /// graph and runs in Rust, else the ONNX Runtime execution provider of the session
    /// that runs it.
    pub fn runs_on(&self) -> String {
        match &self.plan {
            Plan::FoldedRust(_) | Plan::PlainRust(_) => "Rust (CPU)".to_string(),
            Plan::FoldedOrt { tail, .. } => tail.execution_provider().to_string(),
            Plan::PlainOrt(s) => s.execution_provider().to_string(),
            Plan::Graph => self.graph.as_ref().map_or_else(
                || "ONNX Runtime".to_string(),
                |g| g.execution_provider().to_string(),
            ),
        }
    }

    /// How fields are evaluated, for logs and reports.
    pub fn describe(&self) -> String {
        let path = match &self.plan {
            Plan::FoldedRust(_) => {
                "planes sampled in Rust with the first layer folded in, MLP in Rust".to_string()
            }
            Plan::FoldedOrt { tail, .. } => format!(
                "planes sampled in Rust with the first layer folded in, MLP in ONNX Runtime ({})",
                tail.execution_provider()
            ),
            Plan::PlainRust(_) => "planes sampled in Rust, MLP in Rust".to_string(),
            Plan::PlainOrt(s) => format!(
                "planes sampled in Rust, MLP in ONNX Runtime ({})",
                s.execution_provider()
            ),
            Plan::Graph => "the decoder graph in ONNX Runtime".to_string(),
        };
        if self.note.is_empty() {
            path
        } else {
            format!("{path}; {}", self.note)
        }
    }
}

/// Compares the Rust MLP with the published MLP graph on fixed random features.
fn compare_mlp(mlp: &Mlp, original: &OrtMlp) -> Result<Option<String>, TriposrError> {
    let rows = 64;
    let x: Vec<f32> = noise(rows * mlp.inputs(), 7)
        .iter()
        .map(|v| v * 2.0)
        .collect();
    let mut want = vec![0.0; rows * 4];
    original.run(&x, rows, &mut want)?;
    let mut got = vec![0.0; rows * 4];
    let mut scratch = vec![0.0; 2 * rows * mlp.max_width()];
    mlp.forward(&x, rows, &mut scratch, &mut got);
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
        .fold(0.0f32, f32::max);
    Ok((worst.is_nan() || worst >= 1e-3)
        .then(|| format!("the MLP read from the graph differs from it by {worst:e}")))
}

/// Compares a sampled field with the published graph on fixed random points.
fn compare_with_graph(
    field: &TriplaneField,
    graph: &OrtGraphDecoder,
    triplane: &Triplane,
) -> Result<Option<String>, TriposrError> {
    use img23d_meshing::Field;
    let n = 256;
    let pts: Vec<[f32; 3]> = noise(3 * n, 11)
        .chunks_exact(3)
        .map(|c| [c[0] * RADIUS, c[1] * RADIUS, c[2] * RADIUS])
        .collect();
    let mut d_want = vec![0.0; n];
    let mut c_want = vec![[0.0; 3]; n];
    graph.run(
        &triplane.to_nchw(),
        [triplane.channels(), triplane.height(), triplane.width()],
        &pts,
        &mut d_want,
        &mut c_want,
    )?;
    let mut d_got = vec![0.0; n];
    let mut c_got = vec![[0.0; 3]; n];
    field.eval_scalar(&pts, &mut d_got)?;
    field.eval_color(&pts, &mut c_got)?;
    // Densities compared in log space (the raw logit), colors directly.
    let mut worst = 0.0f32;
    for i in 0..n {
        let (a, b) = (d_got[i].max(1e-30).ln(), d_want[i].max(1e-30).ln());
        worst = worst.max((a - b).abs());
        for c in 0..3 {
            worst = worst.max((c_got[i][c] - c_want[i][c]).abs());
        }
    }
    Ok((worst.is_nan() || worst >= 1e-3).then(|| {
        format!("the decoder MLP read from the graph differs from the graph by {worst:e}")
    }))
}
