//! TripoSR decoder graphs: which public layout a file has, the MLP inside it, and the
//! ONNX Runtime sessions that run it.
//!
//! Two layouts are published (see `shared/reference/triposr.md` §6):
//!
//! * **MLP only** — input `[P, 120]` features, output `[P, 4]` raw
//!   (`yapaymizeka/image-to-3d` `mlp.onnx`): channel 0 is the density before
//!   `exp(d - 1)`, channels 1..3 the color logits.
//! * **Graph** — inputs `triplane [1, 3, 40, 64, 64]` and `points [1, P, 3]` (scene
//!   coordinates in ±0.87), outputs `density [1, P, 1]` (after `exp`) and `color
//!   [1, P, 3]` (QtMeshEditor's `triposr_decoder.onnx`, `nerf.onnx` of the
//!   `triposr-onnx` repos). The planes are sampled inside with `GridSample`.
//!
//! The layout is read from the graph's signature ([`DecoderLayout::detect`]). In both,
//! [`extract_mlp`] recognises the decoder MLP (`MatMul`+`Add` or `Gemm` layers with
//! `x * Sigmoid(x)` between them) and reads its weights from the initializers, so the
//! planes can be sampled in Rust and the first layer folded into them. The rest of the
//! network runs in Rust ([`super::mlp`]) or through ONNX Runtime as a tail graph that
//! [`mlp_to_onnx`] writes (plain `Gemm`/`Sigmoid`/`Mul`, which every execution provider
//! runs, CUDA included).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use ort::session::Session;
use ort::value::TensorRef;

use super::mlp::{Linear, Mlp};
use super::onnx_graph::{
    Dim, OnnxModel, Writer, dtype, write_float_tensor, write_node, write_value_info,
};

/// Why a decoder could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecoderError {
    /// The graph's signature matches neither public layout.
    #[error(
        "the TripoSR decoder's signature is not a known layout: expected {expected}, found {found}"
    )]
    Layout {
        /// What was expected.
        expected: String,
        /// What the graph has.
        found: String,
    },
    /// ONNX Runtime failed.
    #[error("ONNX Runtime ({stage}): {source}")]
    Ort {
        /// What was running.
        stage: &'static str,
        /// The error.
        #[source]
        source: ort::Error,
    },
    /// A session returned an output of an unexpected size.
    #[error("{stage}: output {name} has {got} values, expected {expected}")]
    Output {
        /// What was running.
        stage: &'static str,
        /// Output name.
        name: String,
        /// Values expected.
        expected: usize,
        /// Values returned.
        got: usize,
    },
}

impl DecoderError {
    fn ort(stage: &'static str) -> impl FnOnce(ort::Error) -> Self {
        move |source| Self::Ort { stage, source }
    }
}

/// Where a session's model comes from.
#[derive(Debug, Clone, Copy)]
pub enum SessionSource<'a> {
    /// A model file.
    File(&'a Path),
    /// Model bytes (e.g. a generated tail graph).
    Memory(&'a [u8]),
}

/// Creates ONNX Runtime sessions with the caller's environment, device and options.
pub type SessionFactory<'f> = dyn Fn(SessionSource<'_>) -> Result<Session, ort::Error> + Sync + 'f;

/// The two public decoder layouts, with the tensor names of the file at hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecoderLayout {
    /// `[P, F] -> [P, 4]` raw.
    Mlp {
        /// Input name.
        input: String,
        /// Output name.
        output: String,
        /// Features per point (`3 * channels`).
        features: usize,
    },
    /// `(triplane [1,3,C,H,W], points [1,P,3]) -> (density [1,P,1], color [1,P,3])`.
    Graph {
        /// Triplane input name.
        triplane: String,
        /// Points input name.
        points: String,
        /// Density output name.
        density: String,
        /// Color output name.
        color: String,
        /// Channels per plane, if fixed in the signature.
        channels: Option<usize>,
    },
}

fn describe(vs: &[super::onnx_graph::ValueInfo]) -> String {
    vs.iter()
        .map(|v| {
            let dims: Vec<String> = v
                .dims
                .iter()
                .map(|d| match d {
                    Dim::Value(n) => n.to_string(),
                    Dim::Param(p) => p.clone(),
                    Dim::Unknown => "?".into(),
                })
                .collect();
            format!("{} [{}]", v.name, dims.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn fixed(d: &Dim) -> Option<usize> {
    match d {
        Dim::Value(n) if *n > 0 => usize::try_from(*n).ok(),
        _ => None,
    }
}

impl DecoderLayout {
    /// Reads the layout from the graph's inputs and outputs (initializers listed as
    /// inputs, as old IR versions do, are ignored).
    pub fn detect(model: &OnnxModel) -> Result<Self, DecoderError> {
        let g = &model.graph;
        let inputs: Vec<_> = g
            .inputs
            .iter()
            .filter(|v| model.initializer(&v.name).is_none())
            .cloned()
            .collect();
        let err = || DecoderError::Layout {
            expected: "inputs (features [P, 3C]) -> [P, 4], or (triplane [1, 3, C, H, W], \
                       points [1, P, 3]) -> (density [1, P, 1], color [1, P, 3])"
                .into(),
            found: format!(
                "inputs {} -> outputs {}",
                describe(&inputs),
                describe(&g.outputs)
            ),
        };
        let all_float = inputs
            .iter()
            .chain(&g.outputs)
            .all(|v| v.elem_type == dtype::FLOAT);
        if !all_float {
            return Err(err());
        }
        match (inputs.as_slice(), g.outputs.as_slice()) {
            ([x], [y]) if x.dims.len() == 2 && y.dims.len() == 2 => {
                let features = fixed(&x.dims[1]).ok_or_else(err)?;
                if fixed(&y.dims[1]) != Some(4) || features % 3 != 0 {
                    return Err(err());
                }
                Ok(Self::Mlp {
                    input: x.name.clone(),
                    output: y.name.clone(),
                    features,
                })
            }
            ([a, b], [c, d]) => {
                let is_planes = |v: &super::onnx_graph::ValueInfo| {
                    (v.dims.len() == 5 && fixed(&v.dims[1]) == Some(3))
                        || (v.dims.len() == 4 && fixed(&v.dims[0]) == Some(3))
                };
                let is_points = |v: &super::onnx_graph::ValueInfo| {
                    v.dims.len() == 3 && fixed(&v.dims[2]) == Some(3)
                };
                let (planes, points) = if is_planes(a) && is_points(b) {
                    (a, b)
                } else if is_planes(b) && is_points(a) {
                    (b, a)
                } else {
                    return Err(err());
                };
                let last = |v: &super::onnx_graph::ValueInfo| v.dims.last().and_then(fixed);
                let (density, color) = match (last(c), last(d)) {
                    (Some(1), Some(3)) => (c, d),
                    (Some(3), Some(1)) => (d, c),
                    _ => {
                        // Fall back to names.
                        let named = |v: &super::onnx_graph::ValueInfo, s: &str| {
                            v.name.to_ascii_lowercase().contains(s)
                        };
                        if named(c, "dens") && (named(d, "col") || named(d, "rgb")) {
                            (c, d)
                        } else if named(d, "dens") && (named(c, "col") || named(c, "rgb")) {
                            (d, c)
                        } else {
                            return Err(err());
                        }
                    }
                };
                let channels = planes.dims.get(planes.dims.len() - 3).and_then(fixed);
                Ok(Self::Graph {
                    triplane: planes.name.clone(),
                    points: points.name.clone(),
                    density: density.name.clone(),
                    color: color.name.clone(),
                    channels,
                })
            }
            _ => Err(err()),
        }
    }
}

/// The decoder MLP found inside a graph.
#[derive(Debug, Clone)]
pub struct ExtractedMlp {
    /// The network (SiLU between layers, raw output).
    pub mlp: Mlp,
    /// The tensor its first layer reads.
    pub input: String,
    /// The tensor its last layer writes.
    pub output: String,
}

/// Finds the decoder MLP in `model`: a chain of linear layers (`MatMul` + `Add`, or
/// `Gemm`) with SiLU (`x * Sigmoid(x)`) between them, starting at the first linear
/// layer that reads `features` inputs and ending at a 4-output layer. Returns why not
/// when the graph does not have that shape (its decoder then runs as it is).
pub fn extract_mlp(model: &OnnxModel, features: usize) -> Result<ExtractedMlp, String> {
    let g = &model.graph;
    let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, n) in g.nodes.iter().enumerate() {
        for inp in &n.inputs {
            consumers.entry(inp.as_str()).or_default().push(i);
        }
    }
    let consumers_of = |name: &str| consumers.get(name).map_or(&[][..], Vec::as_slice);
    let read = |name: &str| -> Result<(Vec<i64>, Vec<f32>), String> {
        let t = model
            .constant(name)
            .ok_or_else(|| format!("{name} is not a constant"))?;
        let v = model.tensor_f32(t).map_err(|e| e.to_string())?;
        Ok((t.dims.clone(), v))
    };
    // A linear layer reading `x` through node `i`: (layer, output tensor).
    let linear_at = |i: usize, x: &str| -> Result<(Linear, String), String> {
        let n = &g.nodes[i];
        match n.op_type.as_str() {
            "MatMul" if n.inputs.len() == 2 && n.inputs[0] == x => {
                let (dims, w) = read(&n.inputs[1])?;
                let [k, m] = dims[..] else {
                    return Err(format!("MatMul weight {} is not 2-D", n.inputs[1]));
                };
                let (k, m) = (k as usize, m as usize);
                let out = n.outputs.first().cloned().unwrap_or_default();
                // Optional bias: the sole consumer is an Add with a constant.
                let mut bias = vec![0.0; m];
                let mut out_name = out.clone();
                if let [j] = consumers_of(&out) {
                    let a = &g.nodes[*j];
                    if a.op_type == "Add" && a.inputs.len() == 2 {
                        let other = if a.inputs[0] == out {
                            &a.inputs[1]
                        } else {
                            &a.inputs[0]
                        };
                        if let Ok((bd, b)) = read(other)
                            && b.len() == m
                            && bd.iter().rev().skip(1).all(|d| *d == 1)
                        {
                            bias = b;
                            out_name = a.outputs.first().cloned().unwrap_or_default();
                        }
                    }
                }
                Ok((
                    Linear {
                        inputs: k,
                        outputs: m,
                        weight: w,
                        bias,
                    },
                    out_name,
                ))
            }
            "Gemm" if n.inputs.len() >= 2 && n.inputs[0] == x => {
                if n.attr_int("transA", 0) != 0 {
                    return Err("Gemm with transA".into());
                }
                let (dims, w) = read(&n.inputs[1])?;
                let [d0, d1] = dims[..] else {
                    return Err(format!("Gemm weight {} is not 2-D", n.inputs[1]));
                };
                let (d0, d1) = (d0 as usize, d1 as usize);
                let alpha = n.attr_float("alpha", 1.0);
                let beta = n.attr_float("beta", 1.0);
                let (k, m, weight) = if n.attr_int("transB", 0) != 0 {
                    // W is [m][k]: transpose to [k][m].
                    let mut t = vec![0.0; d0 * d1];
                    for r in 0..d0 {
                        for c in 0..d1 {
                            t[c * d0 + r] = w[r * d1 + c] * alpha;
                        }
                    }
                    (d1, d0, t)
                } else {
                    (d0, d1, w.iter().map(|v| v * alpha).collect())
                };
                let bias = match n.inputs.get(2).filter(|s| !s.is_empty()) {
                    Some(c) => {
                        let (_, b) = read(c)?;
                        if b.len() == m {
                            b.iter().map(|v| v * beta).collect()
                        } else if b.len() == 1 {
                            vec![b[0] * beta; m]
                        } else {
                            return Err(format!("Gemm bias {c} has {} values", b.len()));
                        }
                    }
                    None => vec![0.0; m],
                };
                Ok((
                    Linear {
                        inputs: k,
                        outputs: m,
                        weight,
                        bias,
                    },
                    n.outputs.first().cloned().unwrap_or_default(),
                ))
            }
            op => Err(format!("{op} is not a linear layer")),
        }
    };
    // The start: the first linear node whose weight reads `features` inputs.
    let start = g
        .nodes
        .iter()
        .enumerate()
        .find_map(|(i, n)| {
            if !(n.op_type == "MatMul" || n.op_type == "Gemm") || n.inputs.len() < 2 {
                return None;
            }
            let (l, _) = linear_at(i, &n.inputs[0]).ok()?;
            (l.inputs == features).then(|| (i, n.inputs[0].clone()))
        })
        .ok_or_else(|| format!("no linear layer reads {features} features"))?;
    let (mut node, input) = start;
    let mut x = input.clone();
    let mut layers = Vec::new();
    loop {
        let (layer, out) = linear_at(node, &x)?;
        layers.push(layer);
        if layers.len() > 64 {
            return Err("more than 64 layers".into());
        }
        // SiLU: exactly a Sigmoid of `out` and a Mul of `out` with it.
        let cons = consumers_of(&out);
        let sig = cons
            .iter()
            .find(|&&j| g.nodes[j].op_type == "Sigmoid" && g.nodes[j].inputs.first() == Some(&out));
        let silu = sig.and_then(|&s| {
            let s_out = g.nodes[s].outputs.first()?;
            cons.iter().find(|&&j| {
                let m = &g.nodes[j];
                m.op_type == "Mul"
                    && m.inputs.len() == 2
                    && ((m.inputs[0] == out && &m.inputs[1] == s_out)
                        || (m.inputs[1] == out && &m.inputs[0] == s_out))
            })
        });
        match silu {
            Some(&m) if cons.len() == 2 => {
                let act = g.nodes[m].outputs.first().cloned().unwrap_or_default();
                let next = consumers_of(&act);
                let [n] = next else {
                    return Err(format!("SiLU output {act} feeds {} nodes", next.len()));
                };
                node = *n;
                x = act;
            }
            _ => {
                let mlp = Mlp::new(layers).map_err(|e| e.to_string())?;
                if mlp.outputs() != 4 {
                    return Err(format!(
                        "the last layer has {} outputs, not 4",
                        mlp.outputs()
                    ));
                }
                return Ok(ExtractedMlp {
                    mlp,
                    input,
                    output: out,
                });
            }
        }
    }
}

/// Writes an ONNX model (opset 17) computing `layers` with SiLU between them: input
/// `h [N, in]`, output `raw [N, out]`. With `activate_input`, SiLU is applied to the
/// input first (the tail after a folded first layer).
pub fn mlp_to_onnx(layers: &[Linear], activate_input: bool) -> Vec<u8> {
    let mut m = Writer::default();
    m.varint(1, 8); // ir_version
    m.string(2, "img23d");
    m.message(8, |o| {
        o.string(1, "");
        o.varint(2, 17);
    });
    let inputs = layers.first().map_or(0, |l| l.inputs);
    let outputs = layers.last().map_or(0, |l| l.outputs);
    m.message(7, |g| {
        let mut x = "h".to_string();
        if activate_input {
            g.message(1, |n| {
                write_node(n, "Sigmoid", "act_in_sig", &["h"], &["h_sig"])
            });
            g.message(1, |n| {
                write_node(n, "Mul", "act_in", &["h", "h_sig"], &["h_act"])
            });
            x = "h_act".into();
        }
        for (i, _) in layers.iter().enumerate() {
            let last = i + 1 == layers.len();
            let y = if last {
                "raw".to_string()
            } else {
                format!("l{i}")
            };
            let (w, b) = (format!("w{i}"), format!("b{i}"));
            g.message(1, |n| {
                write_node(n, "Gemm", &format!("gemm{i}"), &[&x, &w, &b], &[&y])
            });
            if last {
                break;
            }
            let (s, a) = (format!("l{i}_sig"), format!("a{i}"));
            g.message(1, |n| {
                write_node(n, "Sigmoid", &format!("sig{i}"), &[&y], &[&s])
            });
            g.message(1, |n| {
                write_node(n, "Mul", &format!("silu{i}"), &[&y, &s], &[&a])
            });
            x = a;
        }
        g.string(2, "img23d_triposr_mlp");
        for (i, l) in layers.iter().enumerate() {
            g.message(5, |t| {
                write_float_tensor(
                    t,
                    &format!("w{i}"),
                    &[l.inputs as i64, l.outputs as i64],
                    &l.weight,
                )
            });
            g.message(5, |t| {
                write_float_tensor(t, &format!("b{i}"), &[l.outputs as i64], &l.bias)
            });
        }
        g.message(11, |v| {
            write_value_info(v, "h", &[Err("N"), Ok(inputs as i64)])
        });
        g.message(12, |v| {
            write_value_info(v, "raw", &[Err("N"), Ok(outputs as i64)])
        });
    });
    m.into_bytes()
}

/// An MLP graph (`[N, in] -> [N, out]`) in an ONNX Runtime session.
pub struct OrtMlp {
    session: Mutex<Session>,
    input: String,
    output: String,
    inputs: usize,
    outputs: usize,
}

impl std::fmt::Debug for OrtMlp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrtMlp")
            .field("input", &self.input)
            .field("output", &self.output)
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .finish()
    }
}

impl OrtMlp {
    /// Wraps a session whose input `input` is `[N, inputs]` and output `output` is
    /// `[N, outputs]`.
    pub fn new(session: Session, input: &str, output: &str, inputs: usize, outputs: usize) -> Self {
        Self {
            session: Mutex::new(session),
            input: input.into(),
            output: output.into(),
            inputs,
            outputs,
        }
    }

    /// Input features per row.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// Runs `rows` rows of `x` into `out`.
    pub fn run(&self, x: &[f32], rows: usize, out: &mut [f32]) -> Result<(), DecoderError> {
        const STAGE: &str = "TripoSR decoder MLP";
        let tensor = TensorRef::from_array_view(([rows, self.inputs], &x[..rows * self.inputs]))
            .map_err(DecoderError::ort(STAGE))?;
        let mut session = self
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let result = session
            .run(ort::inputs![self.input.as_str() => tensor])
            .map_err(DecoderError::ort(STAGE))?;
        let (_, y) = result[self.output.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(DecoderError::ort(STAGE))?;
        let expected = rows * self.outputs;
        if y.len() != expected {
            return Err(DecoderError::Output {
                stage: STAGE,
                name: self.output.clone(),
                expected,
                got: y.len(),
            });
        }
        out[..expected].copy_from_slice(y);
        Ok(())
    }
}

/// A decoder graph that samples the triplane itself (the "graph" layout).
pub struct OrtGraphDecoder {
    session: Mutex<Session>,
    names: [String; 4],
    /// Whether the triplane input has the leading batch axis (`[1, 3, C, H, W]`).
    batched: bool,
}

impl std::fmt::Debug for OrtGraphDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrtGraphDecoder")
            .field("names", &self.names)
            .field("batched", &self.batched)
            .finish()
    }
}

impl OrtGraphDecoder {
    /// Wraps a graph-layout session; `batched` when its triplane input is rank 5.
    pub fn new(
        session: Session,
        layout: &DecoderLayout,
        batched: bool,
    ) -> Result<Self, DecoderError> {
        let DecoderLayout::Graph {
            triplane,
            points,
            density,
            color,
            ..
        } = layout
        else {
            return Err(DecoderError::Layout {
                expected: "the graph layout".into(),
                found: "the MLP-only layout".into(),
            });
        };
        Ok(Self {
            session: Mutex::new(session),
            names: [
                triplane.clone(),
                points.clone(),
                density.clone(),
                color.clone(),
            ],
            batched,
        })
    }

    /// Evaluates density (after `exp`) and color at scene-space points, for the
    /// triplane `planes` (`[3, C, H, W]` data, `chw = [C, H, W]`).
    pub fn run(
        &self,
        planes: &[f32],
        chw: [usize; 3],
        points: &[[f32; 3]],
        density: &mut [f32],
        color: &mut [[f32; 3]],
    ) -> Result<(), DecoderError> {
        const STAGE: &str = "TripoSR decoder graph";
        let n = points.len();
        let flat: &[f32] = points.as_flattened();
        let mut shape = vec![3, chw[0], chw[1], chw[2]];
        if self.batched {
            shape.insert(0, 1);
        }
        let planes =
            TensorRef::from_array_view((shape, planes)).map_err(DecoderError::ort(STAGE))?;
        let pts =
            TensorRef::from_array_view(([1, n, 3], flat)).map_err(DecoderError::ort(STAGE))?;
        let mut session = self
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let result = session
            .run(ort::inputs![
                self.names[0].as_str() => planes,
                self.names[1].as_str() => pts,
            ])
            .map_err(DecoderError::ort(STAGE))?;
        let (_, d) = result[self.names[2].as_str()]
            .try_extract_tensor::<f32>()
            .map_err(DecoderError::ort(STAGE))?;
        let (_, c) = result[self.names[3].as_str()]
            .try_extract_tensor::<f32>()
            .map_err(DecoderError::ort(STAGE))?;
        if d.len() != n || c.len() != 3 * n {
            return Err(DecoderError::Output {
                stage: STAGE,
                name: format!("{} / {}", self.names[2], self.names[3]),
                expected: 4 * n,
                got: d.len() + c.len(),
            });
        }
        density[..n].copy_from_slice(d);
        for (o, v) in color.iter_mut().zip(c.chunks_exact(3)) {
            *o = [v[0], v[1], v[2]];
        }
        Ok(())
    }
}
