//! Contracts: what a model wrapper expects of an ONNX file, and the matching of a file's
//! declared inputs and outputs against it (rules in the [parent module](super)).

use std::fmt;

use ort::value::{TensorElementType, ValueType};

#[cfg(doc)]
use super::LoadedSession;

/// Element type of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DType {
    /// 32-bit float.
    F32,
    /// 16-bit float.
    F16,
    /// bfloat16.
    BF16,
    /// 64-bit float.
    F64,
    /// 64-bit signed integer.
    I64,
    /// 32-bit signed integer.
    I32,
    /// 8-bit signed integer.
    I8,
    /// 8-bit unsigned integer.
    U8,
    /// Boolean.
    Bool,
    /// String.
    String,
    /// Anything else (complex, 4-bit, float8, or not a tensor).
    Other,
}

impl DType {
    pub(super) fn from_ort(t: TensorElementType) -> Self {
        match t {
            TensorElementType::Float32 => Self::F32,
            TensorElementType::Float16 => Self::F16,
            TensorElementType::Bfloat16 => Self::BF16,
            TensorElementType::Float64 => Self::F64,
            TensorElementType::Int64 => Self::I64,
            TensorElementType::Int32 => Self::I32,
            TensorElementType::Int8 => Self::I8,
            TensorElementType::Uint8 => Self::U8,
            TensorElementType::Bool => Self::Bool,
            TensorElementType::String => Self::String,
            _ => Self::Other,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::F32 => "float32",
            Self::F16 => "float16",
            Self::BF16 => "bfloat16",
            Self::F64 => "float64",
            Self::I64 => "int64",
            Self::I32 => "int32",
            Self::I8 => "int8",
            Self::U8 => "uint8",
            Self::Bool => "bool",
            Self::String => "string",
            Self::Other => "other",
        })
    }
}

/// One dimension of a contract's tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    /// The contract fixes this size.
    Fixed(i64),
    /// Any size (batch, point count, a size the export leaves free).
    Free,
}

/// Accepts any tensor name: the spec matches by position.
pub const ANY_NAME: &[&str] = &[];

/// What a contract expects of one input or output.
#[derive(Debug, Clone, Copy)]
pub struct TensorSpec {
    /// Accepted names, the canonical one first; empty ([`ANY_NAME`]) = match by position.
    pub names: &'static [&'static str],
    /// Accepted element types.
    pub dtypes: &'static [DType],
    /// The dimensions (the rank is their count).
    pub dims: &'static [Dim],
}

impl TensorSpec {
    /// A spec from its parts (usable in `const` contracts).
    pub const fn new(
        names: &'static [&'static str],
        dtypes: &'static [DType],
        dims: &'static [Dim],
    ) -> Self {
        Self {
            names,
            dtypes,
            dims,
        }
    }

    fn label(&self, position: usize) -> String {
        match self.names.first() {
            Some(n) => format!("'{n}'"),
            None => format!("#{position}"),
        }
    }

    pub(super) fn describe(&self) -> String {
        let dtypes: Vec<String> = self.dtypes.iter().map(ToString::to_string).collect();
        let dims: Vec<String> = self
            .dims
            .iter()
            .map(|d| match d {
                Dim::Fixed(n) => n.to_string(),
                Dim::Free => "?".to_string(),
            })
            .collect();
        format!("{} [{}]", dtypes.join("|"), dims.join(","))
    }
}

/// What a model wrapper expects of its ONNX file.
#[derive(Debug, Clone, Copy)]
pub struct Contract {
    /// Human-readable name, e.g. "TripoSR encoder".
    pub name: &'static str,
    /// Bumped whenever the expected signature changes.
    pub version: u32,
    /// The inputs, in the order [`LoadedSession::run`] takes them.
    pub inputs: &'static [TensorSpec],
    /// The outputs, in the order [`LoadedSession::run`] returns them.
    pub outputs: &'static [TensorSpec],
    /// Whether the file may have outputs beyond the contract's (they are not fetched).
    pub extra_outputs: bool,
}

/// One input or output as the model file declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// Its name in the file.
    pub name: String,
    /// Its element type.
    pub dtype: DType,
    /// Its shape; -1 for a dynamic dimension.
    pub shape: Vec<i64>,
}

impl fmt::Display for TensorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dims: Vec<String> = self
            .shape
            .iter()
            .map(|&d| {
                if d < 0 {
                    "?".to_string()
                } else {
                    d.to_string()
                }
            })
            .collect();
        write!(f, "'{}' {} [{}]", self.name, self.dtype, dims.join(","))
    }
}

/// The file tensors a contract's specs were matched to, in contract order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// One per contract input.
    pub inputs: Vec<TensorInfo>,
    /// One per contract output.
    pub outputs: Vec<TensorInfo>,
}

fn list(ts: &[TensorInfo]) -> String {
    if ts.is_empty() {
        return "none".to_string();
    }
    ts.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn match_side(
    side: &str,
    specs: &[TensorSpec],
    file: &[TensorInfo],
    allow_extra: bool,
    problems: &mut Vec<String>,
) -> Vec<TensorInfo> {
    let mut used = vec![false; file.len()];
    let mut bound = Vec::with_capacity(specs.len());
    if file.len() < specs.len() || (!allow_extra && file.len() != specs.len()) {
        problems.push(format!(
            "expected {} {side}s, found {} ({})",
            specs.len(),
            file.len(),
            list(file)
        ));
    }
    for (i, spec) in specs.iter().enumerate() {
        let found = if spec.names.is_empty() {
            (i < file.len() && !used[i]).then_some(i)
        } else {
            file.iter()
                .enumerate()
                .find(|(j, t)| !used[*j] && spec.names.contains(&t.name.as_str()))
                .map(|(j, _)| j)
        };
        let Some(j) = found else {
            let aliases = if spec.names.len() > 1 {
                format!(" (or {})", spec.names[1..].join(", "))
            } else {
                String::new()
            };
            problems.push(format!(
                "{side} {}{aliases} {}: missing (the file has {})",
                spec.label(i),
                spec.describe(),
                list(file)
            ));
            continue;
        };
        used[j] = true;
        let t = &file[j];
        let mut wrong = Vec::new();
        if !spec.dtypes.contains(&t.dtype) {
            wrong.push("element type");
        }
        if t.shape.len() == spec.dims.len() {
            if !same_rank_dims_match(&t.shape, spec.dims) {
                wrong.push("dimensions");
            }
        } else if fit_shape_dims(&t.shape, &spec_target(spec.dims)).is_none() {
            // Another rank is fine where it only adds or drops singleton dimensions.
            wrong.push("rank");
        }
        if !wrong.is_empty() {
            problems.push(format!(
                "{side} {}: expected {}, found {} (wrong {})",
                spec.label(i),
                spec.describe(),
                t,
                wrong.join(", ")
            ));
        }
        bound.push(t.clone());
    }
    bound
}

/// Equal ranks: every fixed size of the contract is the file's (or the file's is free).
fn same_rank_dims_match(file: &[i64], spec: &[Dim]) -> bool {
    file.iter().zip(spec).all(|(d, s)| match s {
        Dim::Fixed(n) => *d < 0 || d == n,
        Dim::Free => true,
    })
}

/// A contract's dimensions as sizes, `-1` for free ones.
pub(super) fn spec_target(spec: &[Dim]) -> Vec<i64> {
    spec.iter()
        .map(|d| match d {
            Dim::Fixed(n) => *n,
            Dim::Free => -1,
        })
        .collect()
}

/// Fits the sizes of one tensor (`from`, `-1` where unknown) to the dimensions `to` of
/// another rank that differs only by singleton dimensions: a `[1, H, W]` depth map for a
/// `[1, 1, H, W]` contract, a `[1]` field of view for `[1, 1, 1, 1]`. Known 1s are dropped
/// from `from`; `to`'s 1s are 1, its leading free dimensions become 1 where `from` has too
/// few others, and the rest take `from`'s remaining sizes in order (a fixed size must
/// agree, a free one takes anything). `None` when they are not the same tensor.
pub(crate) fn fit_shape_dims(from: &[i64], to: &[i64]) -> Option<Vec<i64>> {
    let mut core: Vec<i64> = from.iter().copied().filter(|&d| d != 1).collect();
    let slots = to.iter().filter(|&&d| d != 1).count();
    // A leading free dimension of `from` (a batch) stands for a 1 where `to` has no room.
    let lead = core.iter().take_while(|&&d| d < 0).count();
    let drop = core.len().saturating_sub(slots).min(lead);
    core.drain(..drop);
    let mut spare = slots.checked_sub(core.len())?;
    let mut it = core.iter();
    let mut out = Vec::with_capacity(to.len());
    for &d in to {
        if d == 1 {
            out.push(1);
        } else if d < 0 && spare > 0 {
            out.push(1);
            spare -= 1;
        } else {
            let v = *it.next()?;
            if d >= 0 && v >= 0 && v != d {
                return None;
            }
            out.push(if v >= 0 { v } else { d });
        }
    }
    (it.next().is_none() && spare == 0).then_some(out)
}

impl Contract {
    /// Checks a file's declared inputs and outputs against this contract. On success, the
    /// file tensors bound to each spec; on failure, every difference.
    pub fn check(
        &self,
        inputs: &[TensorInfo],
        outputs: &[TensorInfo],
    ) -> Result<Binding, Vec<String>> {
        let mut problems = Vec::new();
        let bi = match_side("input", self.inputs, inputs, false, &mut problems);
        let bo = match_side(
            "output",
            self.outputs,
            outputs,
            self.extra_outputs,
            &mut problems,
        );
        if problems.is_empty() {
            Ok(Binding {
                inputs: bi,
                outputs: bo,
            })
        } else {
            Err(problems)
        }
    }
}

/// The inputs or outputs a session declares, as [`TensorInfo`]s.
pub(super) fn infos(outlets: &[ort::value::Outlet]) -> Vec<TensorInfo> {
    outlets
        .iter()
        .map(|o| match o.dtype() {
            ValueType::Tensor { ty, shape, .. } => TensorInfo {
                name: o.name().to_string(),
                dtype: DType::from_ort(*ty),
                shape: shape.iter().copied().collect(),
            },
            _ => TensorInfo {
                name: o.name().to_string(),
                dtype: DType::Other,
                shape: Vec::new(),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: equivalent layouts with singleton dimensions squeezed or added are
    /// accepted; a genuinely different layout is still refused.
    #[test]
    fn singleton_dimensions_may_be_squeezed_or_added() {
        let fit = |from: &[i64], to: &[i64]| fit_shape_dims(from, to);
        assert_eq!(
            fit(&[1, 1536, 1536], &[1, 1, 1536, 1536]),
            Some(vec![1, 1, 1536, 1536])
        );
        assert_eq!(fit(&[1], &[1, 1, 1, 1]), Some(vec![1, 1, 1, 1]));
        assert_eq!(
            fit(&[-1, 1536, 1536], &[1, 1, -1, -1]),
            Some(vec![1, 1, 1536, 1536])
        );
        assert_eq!(fit(&[1, 1, 64, 64], &[-1, 64, 64]), Some(vec![1, 64, 64]));
        assert_eq!(fit(&[3, 8, 8], &[1, 3, 8, 8]), Some(vec![1, 3, 8, 8]));
        // Different sizes or an extra real dimension are another tensor.
        assert_eq!(fit(&[1, 1536, 1024], &[1, 1, 1536, 1536]), None);
        assert_eq!(fit(&[2, 1536, 1536], &[1, 1, 1536, 1536]), None);
        assert_eq!(fit(&[4, 4], &[1, 1, 1, 1]), None);
        const OUT: [TensorSpec; 1] = [TensorSpec::new(
            &["depth"],
            &[DType::F32],
            &[Dim::Fixed(1), Dim::Fixed(1), Dim::Fixed(8), Dim::Fixed(8)],
        )];
        let c = Contract {
            name: "squeeze",
            version: 1,
            inputs: &[],
            outputs: &OUT,
            extra_outputs: false,
        };
        let out = |shape: &[i64]| TensorInfo {
            name: "depth".into(),
            dtype: DType::F32,
            shape: shape.to_vec(),
        };
        assert!(c.check(&[], &[out(&[1, 8, 8])]).is_ok());
        assert!(c.check(&[], &[out(&[8, 8])]).is_ok());
        let e = c.check(&[], &[out(&[1, 8, 4])]).unwrap_err();
        assert!(e[0].contains("wrong rank"), "{e:?}");
    }

    const C: Contract = Contract {
        name: "test",
        version: 2,
        inputs: &[
            TensorSpec::new(
                &["image", "pixel_values"],
                &[DType::F32],
                &[Dim::Fixed(1), Dim::Fixed(3), Dim::Fixed(8), Dim::Fixed(8)],
            ),
            TensorSpec::new(
                &["points"],
                &[DType::F32, DType::F16],
                &[Dim::Free, Dim::Fixed(3)],
            ),
        ],
        outputs: &[TensorSpec::new(
            ANY_NAME,
            &[DType::F32],
            &[Dim::Free, Dim::Fixed(4)],
        )],
        extra_outputs: true,
    };

    fn t(name: &str, dtype: DType, shape: &[i64]) -> TensorInfo {
        TensorInfo {
            name: name.into(),
            dtype,
            shape: shape.to_vec(),
        }
    }

    #[test]
    fn accepts_aliases_dynamic_dims_and_extra_outputs() {
        let b = C
            .check(
                &[
                    t("points", DType::F16, &[-1, 3]),
                    t("pixel_values", DType::F32, &[-1, 3, 8, 8]),
                ],
                &[t("out", DType::F32, &[-1, 4]), t("aux", DType::F32, &[2])],
            )
            .unwrap();
        assert_eq!(b.inputs[0].name, "pixel_values");
        assert_eq!(b.inputs[1].name, "points");
        assert_eq!(b.outputs[0].name, "out");
    }

    #[test]
    fn reports_every_difference() {
        let p = C
            .check(
                &[
                    t("image", DType::F16, &[1, 3, 16, 8]),
                    t("xyz", DType::F32, &[5, 3]),
                ],
                &[t("out", DType::F32, &[7])],
            )
            .unwrap_err();
        let all = p.join("\n");
        assert!(all.contains("input 'image': expected float32 [1,3,8,8], found 'image' float16 [1,3,16,8] (wrong element type, dimensions)"), "{all}");
        assert!(all.contains("input 'points'"), "{all}");
        assert!(
            all.contains("missing (the file has 'image' float16 [1,3,16,8], 'xyz' float32 [5,3])"),
            "{all}"
        );
        assert!(
            all.contains("output #0: expected float32 [?,4], found 'out' float32 [7] (wrong rank)"),
            "{all}"
        );
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn counts_inputs_and_outputs() {
        const STRICT: Contract = Contract {
            name: "strict",
            version: 1,
            inputs: &[TensorSpec::new(ANY_NAME, &[DType::F32], &[Dim::Free])],
            outputs: &[TensorSpec::new(ANY_NAME, &[DType::F32], &[Dim::Free])],
            extra_outputs: false,
        };
        let p = STRICT
            .check(
                &[t("a", DType::F32, &[2]), t("b", DType::F32, &[2])],
                &[t("y", DType::F32, &[2]), t("z", DType::F32, &[2])],
            )
            .unwrap_err();
        assert!(p[0].starts_with("expected 1 inputs, found 2"), "{p:?}");
        assert!(p[1].starts_with("expected 1 outputs, found 2"), "{p:?}");
    }
}
