//! [`TriplaneField`]: TripoSR's triplane NeRF as an [`img23d_meshing::Field`].
//!
//! Points are in TripoSR's scene frame (Z up, the input camera on the +X side; see
//! [`super::triposr_to_gltf`]), inside `[-0.87, 0.87]^3`. The
//! scalar is `density = exp(d - 1)` and the surface sits at density 25 with the inside
//! above it (`extract_mesh(threshold=25.0)` in `tsr/system.py`); color is
//! `sigmoid(features)`.
//!
//! Four evaluation paths, all batched:
//!
//! | path | sampling | MLP |
//! |---|---|---|
//! | folded, Rust | Rust, 3 × 64 folded channels | Rust SIMD, layers 2.. |
//! | folded, ORT | Rust, folded | ONNX Runtime tail graph (layers 2..) |
//! | plain, Rust / ORT | Rust, 120 features | Rust SIMD, or the MLP graph in ORT |
//! | graph | inside the decoder graph (`GridSample`) | inside the graph |
//!
//! Rust paths split a batch into blocks of [`super::mlp::BLOCK`] points spread over the
//! rayon pool, each worker with its own scratch; ORT paths sample in parallel into one
//! buffer per chunk and hand ONNX Runtime chunks of [`ORT_CHUNK`] points.

use std::sync::Arc;

use img23d_meshing::{Bounds, Field, FieldError, Inside, Surface};
use rayon::prelude::*;

use super::decoder::{OrtGraphDecoder, OrtMlp};
use super::mlp::{BLOCK, Mlp, activate};
use super::triplane::{RADIUS, Triplane, to_unit};

/// TripoSR's iso level on `density = exp(d - 1)` (`threshold=25.0` in `tsr/system.py`).
pub const DENSITY_THRESHOLD: f32 = 25.0;

/// Points per ONNX Runtime call.
pub const ORT_CHUNK: usize = 1 << 17;

/// Raw decoder outputs per point (density logit + 3 color logits).
const RAW: usize = 4;

/// Who runs the MLP.
#[derive(Debug, Clone)]
pub enum MlpExec {
    /// Rust SIMD ([`Mlp`]; for folded fields the full network, whose first layer is
    /// skipped).
    Rust(Arc<Mlp>),
    /// An ONNX Runtime session (for folded fields the tail graph).
    Ort(Arc<OrtMlp>),
}

#[derive(Debug)]
enum Eval {
    /// Sampled features go through `exec`; `bias` is set for folded planes.
    Sampled {
        planes: Triplane,
        bias: Option<Vec<f32>>,
        exec: MlpExec,
    },
    /// The decoder graph samples the planes.
    Graph {
        nchw: Vec<f32>,
        chw: [usize; 3],
        decoder: Arc<OrtGraphDecoder>,
    },
}

/// TripoSR's field for one triplane. See the module docs.
#[derive(Debug)]
pub struct TriplaneField {
    name: String,
    radius: f32,
    eval: Eval,
}

impl TriplaneField {
    /// Plain path: the planes are sampled to `3 * C` features and `exec` runs the whole
    /// MLP on them.
    pub fn plain(triplane: Triplane, exec: MlpExec) -> Self {
        Self {
            name: "triposr".into(),
            radius: RADIUS,
            eval: Eval::Sampled {
                planes: triplane,
                bias: None,
                exec,
            },
        }
    }

    /// Folded path: `first` (the MLP's first layer weights and bias) is applied to the
    /// planes once; `exec` runs the rest — for [`MlpExec::Rust`] the full network (its
    /// first layer is skipped), for [`MlpExec::Ort`] the tail graph.
    pub fn folded(
        triplane: &Triplane,
        first: &super::mlp::Linear,
        exec: MlpExec,
    ) -> Result<Self, super::triplane::TriplaneError> {
        let planes = triplane.fold(&first.weight, first.outputs)?;
        Ok(Self {
            name: "triposr".into(),
            radius: RADIUS,
            eval: Eval::Sampled {
                planes,
                bias: Some(first.bias.clone()),
                exec,
            },
        })
    }

    /// Graph path: the decoder graph samples the triplane itself.
    pub fn graph(triplane: &Triplane, decoder: Arc<OrtGraphDecoder>) -> Self {
        Self {
            name: "triposr".into(),
            radius: RADIUS,
            eval: Eval::Graph {
                nchw: triplane.to_nchw(),
                chw: [triplane.channels(), triplane.height(), triplane.width()],
                decoder,
            },
        }
    }

    /// A short description of the evaluation path, for logs and reports.
    pub fn path(&self) -> &'static str {
        match &self.eval {
            Eval::Sampled {
                bias: Some(_),
                exec: MlpExec::Rust(_),
                ..
            } => "folded first layer, Rust MLP",
            Eval::Sampled {
                bias: Some(_),
                exec: MlpExec::Ort(_),
                ..
            } => "folded first layer, ONNX Runtime MLP",
            Eval::Sampled {
                bias: None,
                exec: MlpExec::Rust(_),
                ..
            } => "Rust sampling, Rust MLP",
            Eval::Sampled {
                bias: None,
                exec: MlpExec::Ort(_),
                ..
            } => "Rust sampling, ONNX Runtime MLP",
            Eval::Graph { .. } => "decoder graph (GridSample in ONNX Runtime)",
        }
    }

    fn error(&self, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> FieldError {
        FieldError::new(format!("{} decoder", self.name), e)
    }

    fn check_len(&self, points: usize, out: usize) -> Result<(), FieldError> {
        if points != out {
            return Err(self.error(format!(
                "output buffer holds {out} values for {points} points"
            )));
        }
        Ok(())
    }

    /// Raw decoder outputs `[points][4]` (sampled paths only).
    fn eval_raw(
        &self,
        planes: &Triplane,
        bias: Option<&[f32]>,
        exec: &MlpExec,
        points: &[[f32; 3]],
        raw: &mut [f32],
    ) -> Result<(), FieldError> {
        let radius = self.radius;
        let width = match bias {
            Some(b) => b.len(),
            None => planes.feature_count(),
        };
        let sample = |pts: &[[f32; 3]], unit: &mut Vec<[f32; 3]>, feats: &mut [f32]| {
            unit.clear();
            unit.extend(pts.iter().map(|p| to_unit(*p, radius)));
            match bias {
                Some(b) => planes.sample_sum(unit, b, feats),
                None => planes.sample_concat(unit, feats),
            }
        };
        match exec {
            MlpExec::Rust(mlp) => {
                let scratch_len = 2 * BLOCK * mlp.max_width();
                points
                    .par_chunks(BLOCK)
                    .zip(raw.par_chunks_mut(BLOCK * RAW))
                    .for_each_init(
                        || {
                            (
                                Vec::with_capacity(BLOCK),
                                vec![0.0f32; BLOCK * width],
                                vec![0.0f32; scratch_len],
                            )
                        },
                        |(unit, feats, scratch), (pts, out)| {
                            let n = pts.len();
                            sample(pts, unit, &mut feats[..n * width]);
                            if bias.is_some() {
                                mlp.forward_tail(&feats[..n * width], n, scratch, out);
                            } else {
                                mlp.forward(&feats[..n * width], n, scratch, out);
                            }
                        },
                    );
                Ok(())
            }
            MlpExec::Ort(session) => {
                if session.inputs() != width {
                    return Err(self.error(format!(
                        "the MLP session takes {} features, the planes give {width}",
                        session.inputs()
                    )));
                }
                let chunk = ORT_CHUNK.min(points.len().max(1));
                let mut feats = vec![0.0f32; chunk * width];
                for (pts, out) in points.chunks(chunk).zip(raw.chunks_mut(chunk * RAW)) {
                    let n = pts.len();
                    pts.par_chunks(BLOCK)
                        .zip(feats[..n * width].par_chunks_mut(BLOCK * width))
                        .for_each_init(
                            || Vec::with_capacity(BLOCK),
                            |unit, (p, f)| sample(p, unit, f),
                        );
                    session
                        .run(&feats[..n * width], n, out)
                        .map_err(|e| self.error(e))?;
                }
                Ok(())
            }
        }
    }

    /// Density and color at every point (either output optional).
    fn eval(
        &self,
        points: &[[f32; 3]],
        mut density: Option<&mut [f32]>,
        mut color: Option<&mut [[f32; 3]]>,
    ) -> Result<(), FieldError> {
        if points.is_empty() {
            return Ok(());
        }
        match &self.eval {
            Eval::Sampled { planes, bias, exec } => {
                let mut raw = vec![0.0f32; points.len() * RAW];
                self.eval_raw(planes, bias.as_deref(), exec, points, &mut raw)?;
                if let Some(d) = density.as_deref_mut() {
                    d.par_iter_mut()
                        .zip(raw.par_chunks_exact(RAW))
                        .for_each(|(o, r)| *o = activate(r).0);
                }
                if let Some(c) = color.as_deref_mut() {
                    c.par_iter_mut()
                        .zip(raw.par_chunks_exact(RAW))
                        .for_each(|(o, r)| *o = activate(r).1);
                }
                Ok(())
            }
            Eval::Graph { nchw, chw, decoder } => {
                let chunk = ORT_CHUNK;
                let mut d_buf = vec![0.0f32; chunk.min(points.len())];
                let mut c_buf = vec![[0.0f32; 3]; chunk.min(points.len())];
                for (i, pts) in points.chunks(chunk).enumerate() {
                    let n = pts.len();
                    decoder
                        .run(nchw, *chw, pts, &mut d_buf[..n], &mut c_buf[..n])
                        .map_err(|e| self.error(e))?;
                    if let Some(d) = density.as_deref_mut() {
                        d[i * chunk..i * chunk + n].copy_from_slice(&d_buf[..n]);
                    }
                    if let Some(c) = color.as_deref_mut() {
                        c[i * chunk..i * chunk + n].copy_from_slice(&c_buf[..n]);
                    }
                }
                Ok(())
            }
        }
    }
}

impl Field for TriplaneField {
    fn name(&self) -> &str {
        &self.name
    }

    fn bounds(&self) -> Bounds {
        Bounds::cube(self.radius)
    }

    fn surface(&self) -> Surface {
        Surface {
            level: DENSITY_THRESHOLD,
            inside: Inside::Above,
        }
    }

    fn eval_scalar(&self, points: &[[f32; 3]], out: &mut [f32]) -> Result<(), FieldError> {
        self.check_len(points.len(), out.len())?;
        self.eval(points, Some(out), None)
    }

    fn eval_color(&self, points: &[[f32; 3]], out: &mut [[f32; 3]]) -> Result<(), FieldError> {
        self.check_len(points.len(), out.len())?;
        self.eval(points, None, Some(out))
    }

    fn preferred_batch(&self) -> usize {
        match &self.eval {
            Eval::Sampled {
                exec: MlpExec::Rust(_),
                ..
            } => 1 << 16,
            _ => ORT_CHUNK,
        }
    }
}
