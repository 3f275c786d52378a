//! A session that passed its contract check, and its float32 [`LoadedSession::run`].

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::value::TensorRef;

use super::contract::{Binding, Contract, DType, Dim, TensorInfo};
use super::placement::Placement;
use super::providers::ExecutionProvider;
use crate::error::{Error, Result};
#[cfg(doc)]
use crate::runtime::{Device, RuntimeOptions};

/// An input for [`LoadedSession::run`]: a shape and row-major float32 data.
#[derive(Debug, Clone, Copy)]
pub struct TensorView<'a> {
    /// The shape.
    pub shape: &'a [usize],
    /// The data, `shape.iter().product()` values in row-major order.
    pub data: &'a [f32],
}

impl<'a> TensorView<'a> {
    /// A view from its parts.
    pub fn new(shape: &'a [usize], data: &'a [f32]) -> Self {
        Self { shape, data }
    }
}

/// An output of [`LoadedSession::run`].
#[derive(Debug, Clone, PartialEq)]
pub struct OutputTensor {
    /// The shape.
    pub shape: Vec<usize>,
    /// The data in row-major order.
    pub data: Vec<f32>,
}

/// A session that passed its contract check.
#[derive(Debug)]
pub struct LoadedSession {
    pub(super) session: Session,
    pub(super) contract: Contract,
    pub(super) path: PathBuf,
    pub(super) ep: ExecutionProvider,
    pub(super) fallback: Option<String>,
    pub(super) binding: Binding,
    pub(super) placement: Option<Placement>,
}

impl LoadedSession {
    /// The model file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The contract it was checked against.
    pub fn contract(&self) -> &Contract {
        &self.contract
    }

    /// The execution provider the session was created with. (ONNX Runtime may still run
    /// single nodes a GPU provider does not support on the CPU: see [`Self::placement`].)
    pub fn execution_provider(&self) -> ExecutionProvider {
        self.ep
    }

    /// With [`Device::Auto`], why CUDA was not used, if it was tried.
    pub fn cpu_fallback_reason(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// Node placement, when [`RuntimeOptions::record_placement`] was set.
    pub fn placement(&self) -> Option<&Placement> {
        self.placement.as_ref()
    }

    /// The file's tensor bound to contract input `i`.
    pub fn input(&self, i: usize) -> Option<&TensorInfo> {
        self.binding.inputs.get(i)
    }

    /// The file's tensor bound to contract output `i`.
    pub fn output(&self, i: usize) -> Option<&TensorInfo> {
        self.binding.outputs.get(i)
    }

    /// The underlying `ort` session, for wrappers that need more than [`Self::run`]
    /// (IoBinding, non-float inputs).
    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    /// Runs the session on float32 inputs (one per contract input, in contract order) and
    /// returns the contract's outputs, in order, as float32.
    ///
    /// Input shapes are checked against the contract and the file first.
    pub fn run(&mut self, inputs: &[TensorView<'_>]) -> Result<Vec<OutputTensor>> {
        let fail = |reason: String| Error::Inference {
            model: self.contract.name.to_string(),
            reason,
        };
        if inputs.len() != self.binding.inputs.len() {
            return Err(fail(format!(
                "expected {} inputs, got {}",
                self.binding.inputs.len(),
                inputs.len()
            )));
        }
        let mut feeds: Vec<(Cow<'_, str>, ort::session::SessionInputValue<'_>)> =
            Vec::with_capacity(inputs.len());
        for (i, (view, info)) in inputs.iter().zip(&self.binding.inputs).enumerate() {
            if info.dtype != DType::F32 {
                return Err(fail(format!(
                    "input {} is {}, but run() feeds float32; use session_mut()",
                    info, info.dtype
                )));
            }
            let n: usize = view.shape.iter().product();
            let shape_ok = view.shape.len() == info.shape.len()
                && view
                    .shape
                    .iter()
                    .zip(&info.shape)
                    .all(|(&s, &d)| d < 0 || s as i64 == d)
                && view
                    .shape
                    .iter()
                    .zip(self.contract.inputs[i].dims)
                    .all(|(&s, d)| match d {
                        Dim::Fixed(f) => s as i64 == *f,
                        Dim::Free => true,
                    });
            if !shape_ok || n != view.data.len() {
                return Err(fail(format!(
                    "input {}: got shape {:?} with {} values, expected {}",
                    info,
                    view.shape,
                    view.data.len(),
                    self.contract.inputs[i].describe()
                )));
            }
            let t = TensorRef::from_array_view((view.shape.to_vec(), view.data))
                .map_err(|e| fail(e.to_string()))?;
            feeds.push((Cow::Owned(info.name.clone()), t.into()));
        }
        let names: Vec<String> = self
            .binding
            .outputs
            .iter()
            .map(|t| t.name.clone())
            .collect();
        let contract_name = self.contract.name;
        let outputs = self.session.run(feeds).map_err(|e| Error::Inference {
            model: contract_name.to_string(),
            reason: e.to_string(),
        })?;
        let mut result = Vec::with_capacity(names.len());
        for name in &names {
            let v = outputs.get(name).ok_or_else(|| Error::Inference {
                model: contract_name.to_string(),
                reason: format!("output '{name}' missing from the results"),
            })?;
            let (shape, data) = v
                .try_extract_tensor::<f32>()
                .map_err(|e| Error::Inference {
                    model: contract_name.to_string(),
                    reason: format!("output '{name}': {e}"),
                })?;
            result.push(OutputTensor {
                shape: shape.iter().map(|&d| d.max(0) as usize).collect(),
                data: data.to_vec(),
            });
        }
        Ok(result)
    }
}
