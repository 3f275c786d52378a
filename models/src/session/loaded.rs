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
            let spec = &self.contract.inputs[i];
            let feed_shape = feed_shape(view.shape, spec.dims, &info.shape);
            let Some(feed_shape) = feed_shape.filter(|_| n == view.data.len()) else {
                return Err(fail(format!(
                    "input {}: got shape {:?} with {} values, expected {}",
                    info,
                    view.shape,
                    view.data.len(),
                    spec.describe()
                )));
            };
            let t = TensorRef::from_array_view((feed_shape, view.data))
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
        for (name, spec) in names.iter().zip(self.contract.outputs) {
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
                shape: contract_shape(shape, spec.dims),
                data: data.to_vec(),
            });
        }
        Ok(result)
    }
}

/// The shape to feed for an input given in the contract's shape `view`: `view` itself when
/// the file declares the same rank, else `view` fitted to the file's rank (singleton
/// dimensions added or dropped). `None` when `view` breaks the contract or the file.
fn feed_shape(view: &[usize], contract: &[Dim], file: &[i64]) -> Option<Vec<usize>> {
    let fixed_ok = view.len() == contract.len()
        && view.iter().zip(contract).all(|(&s, d)| match d {
            Dim::Fixed(f) => s as i64 == *f,
            Dim::Free => true,
        });
    if !fixed_ok {
        return None;
    }
    if view.len() == file.len() {
        let ok = view.iter().zip(file).all(|(&s, &d)| d < 0 || s as i64 == d);
        return ok.then(|| view.to_vec());
    }
    let sizes: Vec<i64> = view.iter().map(|&s| s as i64).collect();
    let fitted = super::contract::fit_shape_dims(&sizes, file)?;
    fitted.iter().map(|&d| usize::try_from(d).ok()).collect()
}

/// An output's shape in the contract's rank (a file that squeezes or adds singleton
/// dimensions gives the shape its contract describes); the shape as it came otherwise.
fn contract_shape(shape: &[i64], contract: &[Dim]) -> Vec<usize> {
    let as_is = || shape.iter().map(|&d| d.max(0) as usize).collect();
    if shape.len() == contract.len() {
        return as_is();
    }
    match super::contract::fit_shape_dims(shape, &super::contract::spec_target(contract)) {
        Some(fitted) => fitted.iter().map(|&d| d.max(0) as usize).collect(),
        None => as_is(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: inputs in the contract's shape are fed in the file's rank, outputs come
    /// back in the contract's rank.
    #[test]
    fn shapes_fit_between_contract_and_file() {
        use Dim::{Fixed, Free};
        let c = [Fixed(1), Fixed(3), Free, Free];
        assert_eq!(
            feed_shape(&[1, 3, 8, 8], &c, &[1, 3, -1, -1]),
            Some(vec![1, 3, 8, 8])
        );
        assert_eq!(
            feed_shape(&[1, 3, 8, 8], &c, &[3, -1, -1]),
            Some(vec![3, 8, 8])
        );
        assert_eq!(feed_shape(&[2, 3, 8, 8], &c, &[3, -1, -1]), None);
        assert_eq!(feed_shape(&[1, 3, 8, 8], &c, &[1, 3, 4, 4]), None);
        let out = [Fixed(1), Fixed(1), Free, Free];
        assert_eq!(contract_shape(&[1, 6, 5], &out), [1, 1, 6, 5]);
        assert_eq!(contract_shape(&[1], &[Fixed(1); 4]), [1, 1, 1, 1]);
        assert_eq!(contract_shape(&[2, 6, 5], &out), [2, 6, 5]);
    }
}
