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
//! The layout is the contract the session's signature matches ([`DecoderLayout`]). In both,
//! [`extract_mlp`] recognises the decoder MLP (`MatMul`+`Add` or `Gemm` layers with
//! `x * Sigmoid(x)` between them) and reads its weights from the initializers, so the
//! planes can be sampled in Rust and the first layer folded into them. The rest of the
//! network runs in Rust ([`super::mlp`]) or through ONNX Runtime as a tail graph that
//! [`mlp_to_onnx`] writes (plain `Gemm`/`Sigmoid`/`Mul`, which every execution provider
//! runs, CUDA included).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::session::{Contract, DType, Dim, LoadedSession, TensorSpec, TensorView};
use crate::{RuntimeOptions, load_session};

use super::mlp::{Linear, Mlp};
use crate::onnx_graph::{OnnxModel, Writer, write_float_tensor, write_node, write_value_info};

/// The two public decoder layouts. [`crate::contracts::TRIPOSR_DECODER_FIELD`] and
/// [`crate::contracts::TRIPOSR_DECODER_MLP`] state their signatures; the layout is the
/// contract the file's session matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecoderLayout {
    /// `features [P, 120] -> raw [P, 4]`.
    Mlp,
    /// `(triplane [1, 3, 40, 64, 64], points [1, P, 3]) -> (density [1, P, 1],
    /// color [1, P, 3])`.
    Graph,
}

/// The contract of the MLP graphs img23d writes ([`mlp_to_onnx`]): `h [N, K] -> raw [N, 4]`.
pub const GENERATED_MLP: Contract = Contract {
    name: "TripoSR decoder MLP (generated)",
    version: 1,
    inputs: &[TensorSpec::new(
        &["h"],
        &[DType::F32],
        &[Dim::Free, Dim::Free],
    )],
    outputs: &[TensorSpec::new(
        &["raw"],
        &[DType::F32],
        &[Dim::Free, Dim::Fixed(4)],
    )],
    extra_outputs: false,
};

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
#[derive(Debug)]
pub struct OrtMlp {
    session: Mutex<LoadedSession>,
    inputs: usize,
    outputs: usize,
}

impl OrtMlp {
    /// Wraps a loaded session whose first input is `[N, inputs]` and first output
    /// `[N, outputs]`.
    pub fn new(session: LoadedSession, inputs: usize, outputs: usize) -> Self {
        Self {
            session: Mutex::new(session),
            inputs,
            outputs,
        }
    }

    /// Loads an MLP graph written by [`mlp_to_onnx`] (through a temporary file, as
    /// sessions load from files).
    pub fn from_bytes(
        bytes: &[u8],
        inputs: usize,
        runtime: &RuntimeOptions,
    ) -> Result<Self, crate::Error> {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "img23d-triposr-mlp-{}-{n}.onnx",
            std::process::id()
        ));
        img23d_meshing::io::write_bytes_atomic(&path, bytes).map_err(|e| crate::Error::Io {
            source: std::io::Error::other(e.to_string()),
            path: path.clone(),
        })?;
        let loaded = load_session(&path, &GENERATED_MLP, runtime);
        // The session holds the graph; the file is no longer needed.
        let _ = std::fs::remove_file(&path);
        Ok(Self::new(loaded?, inputs, 4))
    }

    /// Input features per row.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// The execution provider the session runs on.
    pub fn execution_provider(&self) -> crate::ExecutionProvider {
        self.session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .execution_provider()
    }

    /// Runs `rows` rows of `x` into `out`.
    pub fn run(&self, x: &[f32], rows: usize, out: &mut [f32]) -> Result<(), crate::Error> {
        let shape = [rows, self.inputs];
        let mut session = self
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let result = session.run(&[TensorView::new(&shape, &x[..rows * self.inputs])])?;
        let expected = rows * self.outputs;
        let y = result.first().map(|t| t.data.as_slice()).unwrap_or(&[]);
        if y.len() != expected {
            return Err(crate::Error::Inference {
                model: session.contract().name.to_string(),
                reason: format!("returned {} values, expected {expected}", y.len()),
            });
        }
        out[..expected].copy_from_slice(y);
        Ok(())
    }
}

/// A decoder graph that samples the triplane itself (the graph layout).
#[derive(Debug)]
pub struct OrtGraphDecoder {
    session: Mutex<LoadedSession>,
}

impl OrtGraphDecoder {
    /// Wraps a session checked against [`crate::contracts::TRIPOSR_DECODER_FIELD`].
    pub fn new(session: LoadedSession) -> Self {
        Self {
            session: Mutex::new(session),
        }
    }

    /// The execution provider the session runs on.
    pub fn execution_provider(&self) -> crate::ExecutionProvider {
        self.session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .execution_provider()
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
    ) -> Result<(), crate::Error> {
        let n = points.len();
        let flat: &[f32] = points.as_flattened();
        let plane_shape = [1, 3, chw[0], chw[1], chw[2]];
        let point_shape = [1, n, 3];
        let mut session = self
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let out = session.run(&[
            TensorView::new(&plane_shape, planes),
            TensorView::new(&point_shape, flat),
        ])?;
        let (d, c) = match out.as_slice() {
            [d, c, ..] if d.data.len() == n && c.data.len() == 3 * n => (&d.data, &c.data),
            _ => {
                return Err(crate::Error::Inference {
                    model: session.contract().name.to_string(),
                    reason: format!("outputs do not hold 1 + 3 values for each of {n} points"),
                });
            }
        };
        density[..n].copy_from_slice(d);
        for (o, v) in color.iter_mut().zip(c.chunks_exact(3)) {
            *o = [v[0], v[1], v[2]];
        }
        Ok(())
    }
}
