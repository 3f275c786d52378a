//! Running the folder's sessions with the element types their files declare (token ids
//! as int32 or int64, the timestep as float32 or int64, scalar or `[B]`), fetching
//! outputs by name. [`LoadedSession::run`](crate::session::LoadedSession::run) feeds only
//! float32, so the engine builds its own feeds on the checked session.

use std::borrow::Cow;

use ort::session::SessionInputValue;
use ort::value::TensorRef;

use crate::error::{Error, Result};
use crate::session::{DType, LoadedSession};

/// One input's data; the shape is given beside it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Data<'a> {
    /// float32 values.
    F32(&'a [f32]),
    /// int64 values.
    I64(&'a [i64]),
    /// int32 values.
    I32(&'a [i32]),
}

/// An input by contract position: its shape and data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Feed<'a> {
    pub shape: &'a [usize],
    pub data: Data<'a>,
}

fn fail(s: &LoadedSession, reason: String) -> Error {
    Error::Inference {
        model: s.contract().name.to_string(),
        reason,
    }
}

/// Runs `s` on `feeds` (one per contract input, in contract order) and returns the named
/// outputs as float32 `(shape, values)`, in the order of `outputs`.
pub(crate) fn run(
    s: &mut LoadedSession,
    feeds: &[Feed<'_>],
    outputs: &[&str],
) -> Result<Vec<(Vec<usize>, Vec<f32>)>> {
    let mut values: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = Vec::with_capacity(feeds.len());
    for (i, f) in feeds.iter().enumerate() {
        let info = s
            .input(i)
            .ok_or_else(|| fail(s, format!("no input #{i} in the contract")))?
            .clone();
        let n: usize = f.shape.iter().product();
        let len = match f.data {
            Data::F32(d) => d.len(),
            Data::I64(d) => d.len(),
            Data::I32(d) => d.len(),
        };
        let want = match f.data {
            Data::F32(_) => DType::F32,
            Data::I64(_) => DType::I64,
            Data::I32(_) => DType::I32,
        };
        if n != len || f.shape.len() != info.shape.len() || info.dtype != want {
            return Err(fail(
                s,
                format!(
                    "input {info}: fed {want} shape {:?} with {len} values",
                    f.shape
                ),
            ));
        }
        let shape = f.shape.to_vec();
        let v: SessionInputValue<'_> = match f.data {
            Data::F32(d) => TensorRef::from_array_view((shape, d))
                .map_err(|e| fail(s, e.to_string()))?
                .into(),
            Data::I64(d) => TensorRef::from_array_view((shape, d))
                .map_err(|e| fail(s, e.to_string()))?
                .into(),
            Data::I32(d) => TensorRef::from_array_view((shape, d))
                .map_err(|e| fail(s, e.to_string()))?
                .into(),
        };
        values.push((Cow::Owned(info.name.clone()), v));
    }
    let name = s.contract().name.to_string();
    let err = |reason: String| Error::Inference {
        model: name.clone(),
        reason,
    };
    let out = s
        .session_mut()
        .run(values)
        .map_err(|e| err(e.to_string()))?;
    let mut result = Vec::with_capacity(outputs.len());
    for o in outputs {
        let v = out
            .get(*o)
            .ok_or_else(|| err(format!("output '{o}' missing from the results")))?;
        let (shape, data) = v
            .try_extract_tensor::<f32>()
            .map_err(|e| err(format!("output '{o}': {e}")))?;
        result.push((
            shape.iter().map(|&d| d.max(0) as usize).collect(),
            data.to_vec(),
        ));
    }
    Ok(result)
}

/// The names of a session's outputs as its file declares them.
pub(crate) fn output_names(s: &mut LoadedSession) -> Vec<String> {
    s.session_mut()
        .outputs()
        .iter()
        .map(|o| o.name().to_string())
        .collect()
}
