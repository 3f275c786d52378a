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
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ort::session::Session;
use ort::value::TensorRef;

use super::decoder::{
    DecoderError, DecoderLayout, OrtGraphDecoder, OrtMlp, SessionFactory, SessionSource,
    extract_mlp, mlp_to_onnx,
};
use super::field::{MlpExec, TriplaneField};
use super::mlp::{Linear, Mlp};
use super::onnx_graph::{Dim, OnnxError, OnnxModel, dtype};
use super::preprocess::{IMAGENET_MEAN, IMAGENET_STD, Preprocessed, normalize_imagenet};
use super::triplane::{RADIUS, Triplane, TriplaneError};

/// Everything that can go wrong running TripoSR.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TriposrError {
    /// A model file could not be parsed.
    #[error(transparent)]
    Onnx(#[from] OnnxError),
    /// A graph's signature does not match its contract.
    #[error("TripoSR {model}: expected {expected}, found {found}: {path}")]
    Contract {
        /// `encoder` or `decoder`.
        model: &'static str,
        /// The contract.
        expected: String,
        /// What the file has.
        found: String,
        /// The model file.
        path: PathBuf,
    },
    /// The decoder failed.
    #[error(transparent)]
    Decoder(#[from] DecoderError),
    /// ONNX Runtime failed.
    #[error("ONNX Runtime ({stage}): {source}")]
    Ort {
        /// What was running.
        stage: &'static str,
        /// The error.
        #[source]
        source: ort::Error,
    },
    /// The triplane does not fit the decoder.
    #[error(transparent)]
    Triplane(#[from] TriplaneError),
    /// The encoder returned something other than a triplane.
    #[error(
        "the encoder returned {got} values, expected {expected} for [1, 3, {channels}, {height}, {width}]"
    )]
    EncoderOutput {
        /// Values expected.
        expected: usize,
        /// Values returned.
        got: usize,
        /// Channels per plane.
        channels: usize,
        /// Plane height.
        height: usize,
        /// Plane width.
        width: usize,
    },
}

fn ort_err(stage: &'static str) -> impl FnOnce(ort::Error) -> TriposrError {
    move |source| TriposrError::Ort { stage, source }
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
pub struct Encoder {
    session: Mutex<Session>,
    input: String,
    output: String,
    size: usize,
    normalize_outside: bool,
    path: PathBuf,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("input", &self.input)
            .field("output", &self.output)
            .field("size", &self.size)
            .field("normalize_outside", &self.normalize_outside)
            .field("path", &self.path)
            .finish()
    }
}

fn dims_text(d: &[Dim]) -> String {
    let v: Vec<String> = d
        .iter()
        .map(|d| match d {
            Dim::Value(n) => n.to_string(),
            Dim::Param(p) => p.clone(),
            Dim::Unknown => "?".into(),
        })
        .collect();
    format!("[{}]", v.join(", "))
}

fn dim_is(d: &Dim, n: i64) -> bool {
    match d {
        Dim::Value(v) => *v == n,
        _ => true, // symbolic sizes are checked on the output at run time
    }
}

impl Encoder {
    /// Checks the encoder's signature, decides where normalisation happens and opens
    /// a session.
    pub fn load(
        path: &Path,
        normalization: Normalization,
        factory: &SessionFactory<'_>,
    ) -> Result<Self, TriposrError> {
        let model = OnnxModel::read(path)?;
        let g = &model.graph;
        let inputs: Vec<_> = g
            .inputs
            .iter()
            .filter(|v| model.initializer(&v.name).is_none())
            .collect();
        let contract = |found: String| TriposrError::Contract {
            model: "encoder",
            expected: "one float input image [1, 3, 512, 512] and one float output triplane \
                       [1, 3, C, H, W]"
                .into(),
            found,
            path: path.to_path_buf(),
        };
        let found = || {
            format!(
                "inputs {} -> outputs {}",
                inputs
                    .iter()
                    .map(|v| format!("{} {}", v.name, dims_text(&v.dims)))
                    .collect::<Vec<_>>()
                    .join(", "),
                g.outputs
                    .iter()
                    .map(|v| format!("{} {}", v.name, dims_text(&v.dims)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let ([x], [y]) = (inputs.as_slice(), g.outputs.as_slice()) else {
            return Err(contract(found()));
        };
        let ok_in = x.elem_type == dtype::FLOAT
            && x.dims.len() == 4
            && dim_is(&x.dims[0], 1)
            && dim_is(&x.dims[1], 3);
        let ok_out = y.elem_type == dtype::FLOAT
            && (y.dims.len() == 5 && dim_is(&y.dims[0], 1) && dim_is(&y.dims[1], 3)
                || y.dims.len() == 4 && dim_is(&y.dims[0], 3));
        if !(ok_in && ok_out) {
            return Err(contract(found()));
        }
        let size = match (&x.dims[2], &x.dims[3]) {
            (Dim::Value(h), Dim::Value(w)) if h == w && *h > 0 => *h as usize,
            (Dim::Value(_), Dim::Value(_)) => return Err(contract(found())),
            _ => super::preprocess::COND_IMAGE_SIZE as usize,
        };
        let normalize_outside = match normalization {
            Normalization::Inside => false,
            Normalization::Outside => true,
            Normalization::Auto => {
                let inside = normalizes_input(&model, &x.name);
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
        let session =
            factory(SessionSource::File(path)).map_err(ort_err("loading the TripoSR encoder"))?;
        Ok(Self {
            session: Mutex::new(session),
            input: x.name.clone(),
            output: y.name.clone(),
            size,
            normalize_outside,
            path: path.to_path_buf(),
        })
    }

    /// Side of the square input.
    pub fn input_size(&self) -> usize {
        self.size
    }

    /// True when img23d applies ImageNet mean/std before the graph.
    pub fn normalizes_outside(&self) -> bool {
        self.normalize_outside
    }

    /// Runs the encoder on a preprocessed picture.
    pub fn encode(&self, image: &Preprocessed) -> Result<Triplane, TriposrError> {
        const STAGE: &str = "TripoSR encoder";
        let s = image.size as usize;
        if s != self.size {
            return Err(TriposrError::Contract {
                model: "encoder",
                expected: format!("a {0}x{0} input", self.size),
                found: format!("a {s}x{s} picture"),
                path: self.path.clone(),
            });
        }
        let mut data = image.tensor.clone();
        if self.normalize_outside {
            normalize_imagenet(&mut data);
        }
        let tensor =
            TensorRef::from_array_view(([1, 3, s, s], &data[..])).map_err(ort_err(STAGE))?;
        let mut session = self
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let out = session
            .run(ort::inputs![self.input.as_str() => tensor])
            .map_err(ort_err(STAGE))?;
        let (shape, values) = out[self.output.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(ort_err(STAGE))?;
        let dims: Vec<usize> = shape.iter().map(|d| (*d).max(0) as usize).collect();
        let chw = match dims[..] {
            [1, 3, c, h, w] | [3, c, h, w] => [c, h, w],
            _ => {
                return Err(TriposrError::Contract {
                    model: "encoder",
                    expected: "a triplane output [1, 3, C, H, W]".into(),
                    found: format!("{dims:?}"),
                    path: self.path.clone(),
                });
            }
        };
        let expected = 3 * chw[0] * chw[1] * chw[2];
        if values.len() != expected {
            return Err(TriposrError::EncoderOutput {
                expected,
                got: values.len(),
                channels: chw[0],
                height: chw[1],
                width: chw[2],
            });
        }
        Ok(Triplane::from_nchw(values, chw[0], chw[1], chw[2])?)
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
    /// ONNX Runtime: on a GPU it is the point, and on the CPU it measured faster than
    /// the Rust MLP (`triposr_decoder_bench`: about 1.3x on an AMD EPYC with AVX2).
    /// By default.
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
    /// Fold the first MLP layer into the planes (exact). By default, true.
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
    features: usize,
    plan: Plan,
    /// The published graph, for the graph layout (fallback and checks).
    graph: Option<Arc<OrtGraphDecoder>>,
    /// The extracted MLP in Rust, for checks against the graph.
    reference: Option<Arc<Mlp>>,
    note: String,
}

/// Deterministic pseudo-random numbers in `[-1, 1)` for self-checks.
fn noise(n: usize, seed: u64) -> Vec<f32> {
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
    /// Reads the decoder file, picks the evaluation path (see the module docs) and opens
    /// the sessions it needs.
    pub fn load(
        path: &Path,
        options: &DecoderOptions,
        factory: &SessionFactory<'_>,
    ) -> Result<Self, TriposrError> {
        let model = OnnxModel::read(path)?;
        let layout = DecoderLayout::detect(&model)?;
        let features = match &layout {
            DecoderLayout::Mlp { features, .. } => Some(*features),
            DecoderLayout::Graph { channels, .. } => channels.map(|c| 3 * c),
        };
        let extracted = match features {
            Some(f) => extract_mlp(&model, f),
            None => Err("the triplane channel count is not fixed in the signature".into()),
        };
        let use_ort = match options.backend {
            MlpBackend::Auto => true,
            MlpBackend::Rust => false,
            MlpBackend::Ort => true,
        };
        let open = |bytes: &[u8], inputs: usize| -> Result<Arc<OrtMlp>, TriposrError> {
            let s = factory(SessionSource::Memory(bytes))
                .map_err(ort_err("loading the TripoSR decoder MLP"))?;
            Ok(Arc::new(OrtMlp::new(s, "h", "raw", inputs, 4)))
        };
        let load_original =
            || factory(SessionSource::File(path)).map_err(ort_err("loading the TripoSR decoder"));
        let graph = match &layout {
            DecoderLayout::Graph { triplane, .. } => {
                let batched = model
                    .graph
                    .inputs
                    .iter()
                    .any(|v| &v.name == triplane && v.dims.len() == 5);
                Some(Arc::new(OrtGraphDecoder::new(
                    load_original()?,
                    &layout,
                    batched,
                )?))
            }
            DecoderLayout::Mlp { .. } => None,
        };
        let (plan, reference, note) = match extracted {
            Ok(ex) => {
                let mlp = Arc::new(ex.mlp);
                // For the MLP-only layout, check the Rust reading of the weights
                // against the published graph now.
                if let DecoderLayout::Mlp {
                    input,
                    output,
                    features,
                } = &layout
                {
                    let original =
                        Arc::new(OrtMlp::new(load_original()?, input, output, *features, 4));
                    if let Some(why) = compare_mlp(&mlp, &original)? {
                        tracing::warn!(path = %path.display(), "{why}; running the decoder graph as published");
                        let note = format!("decoder graph as published ({why})");
                        return Ok(Self {
                            layout: layout.clone(),
                            features: *features,
                            plan: Plan::PlainOrt(original),
                            graph,
                            reference: None,
                            note,
                        });
                    }
                }
                let plan = match (options.fold, use_ort) {
                    (true, false) => Plan::FoldedRust(mlp.clone()),
                    (true, true) => {
                        let tail_layers = &mlp.layers()[1..];
                        let tail = if tail_layers.is_empty() {
                            None
                        } else {
                            Some(open(
                                &mlp_to_onnx(tail_layers, true),
                                mlp.layers()[0].outputs,
                            )?)
                        };
                        match tail {
                            Some(tail) => Plan::FoldedOrt {
                                first: mlp.layers()[0].clone(),
                                tail,
                            },
                            None => Plan::FoldedRust(mlp.clone()),
                        }
                    }
                    (false, false) => Plan::PlainRust(mlp.clone()),
                    (false, true) => {
                        Plan::PlainOrt(open(&mlp_to_onnx(mlp.layers(), false), mlp.inputs())?)
                    }
                };
                (plan, Some(mlp), String::new())
            }
            Err(why) => {
                tracing::info!(path = %path.display(), "TripoSR decoder MLP not recognised ({why}): running the graph as published");
                match &layout {
                    DecoderLayout::Mlp {
                        input,
                        output,
                        features,
                    } => (
                        Plan::PlainOrt(Arc::new(OrtMlp::new(
                            load_original()?,
                            input,
                            output,
                            *features,
                            4,
                        ))),
                        None,
                        format!("decoder graph as published ({why})"),
                    ),
                    DecoderLayout::Graph { .. } => (
                        Plan::Graph,
                        None,
                        format!("decoder graph as published ({why})"),
                    ),
                }
            }
        };
        let features = features.unwrap_or(0);
        Ok(Self {
            layout,
            features,
            plan,
            graph,
            reference,
            note,
        })
    }

    /// The layout the file has.
    pub fn layout(&self) -> &DecoderLayout {
        &self.layout
    }

    /// The field of one triplane.
    pub fn field(&self, triplane: Triplane) -> Result<TriplaneField, TriposrError> {
        if self.features != 0 && triplane.feature_count() != self.features {
            return Err(TriposrError::Contract {
                model: "decoder",
                expected: format!("a triplane with {} channels per plane", self.features / 3),
                found: format!("{} channels", triplane.channels()),
                path: PathBuf::new(),
            });
        }
        let graph_field = |why: Option<String>| -> Result<TriplaneField, TriposrError> {
            if let Some(why) = why {
                tracing::warn!("{why}; running the decoder graph as published");
            }
            match &self.graph {
                Some(g) => Ok(TriplaneField::graph(&triplane, g.clone())),
                None => Err(TriposrError::Contract {
                    model: "decoder",
                    expected: "a graph-layout decoder".into(),
                    found: "none loaded".into(),
                    path: PathBuf::new(),
                }),
            }
        };
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
            Plan::Graph => return graph_field(None),
        };
        // For the graph layout, check the Rust path against the published graph.
        if let (Some(g), Some(_)) = (&self.graph, &self.reference)
            && let Some(why) = compare_with_graph(&field, g, &triplane)?
        {
            return graph_field(Some(why));
        }
        Ok(field)
    }

    /// How fields are evaluated, for logs and reports.
    pub fn describe(&self) -> String {
        let path = match &self.plan {
            Plan::FoldedRust(_) => "Rust sampling, first layer folded into the planes, Rust MLP",
            Plan::FoldedOrt { .. } => {
                "Rust sampling, first layer folded into the planes, ONNX Runtime MLP"
            }
            Plan::PlainRust(_) => "Rust sampling, Rust MLP",
            Plan::PlainOrt(_) => "Rust sampling, ONNX Runtime MLP",
            Plan::Graph => "decoder graph in ONNX Runtime",
        };
        if self.note.is_empty() {
            path.to_string()
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
    let fe = |e: img23d_meshing::FieldError| {
        TriposrError::Decoder(DecoderError::Layout {
            expected: "a working decoder".into(),
            found: e.to_string(),
        })
    };
    field.eval_scalar(&pts, &mut d_got).map_err(fe)?;
    field.eval_color(&pts, &mut c_got).map_err(fe)?;
    // Compare densities in log space (the raw logit), colors directly.
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
