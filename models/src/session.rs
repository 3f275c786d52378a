//! Sessions with contract checks.
//!
//! A [`Contract`] states what a model wrapper expects of an ONNX file: the inputs and
//! outputs (accepted names, element types, ranks and the dimensions the contract fixes).
//! [`load_session`] creates an ONNX Runtime session on the requested [`Device`], then
//! checks the file's signature against the contract; on mismatch the error lists, for each
//! tensor, what was expected and what the file has. The [`LoadedSession`] knows its
//! execution provider and the actual tensor names, so wrappers never hard-code a name that
//! only one export uses.
//!
//! Matching rules:
//! * inputs: the file must have exactly the contract's inputs (ONNX Runtime needs every
//!   input fed); outputs: every contract output must be present, extra ones only where
//!   [`Contract::extra_outputs`] allows;
//! * a [`TensorSpec`] with names matches the first file tensor carrying one of them; one
//!   with no names ([`ANY_NAME`]) matches by position (for exports whose names are
//!   arbitrary, like rembg's `input.1`);
//! * element type must be one of [`TensorSpec::dtypes`]; rank must match; a
//!   [`Dim::Fixed`] dimension must equal the file's, or the file's must be dynamic.
//!
//! ```no_run
//! use img23d_models::runtime::RuntimeOptions;
//! use img23d_models::session::{load_session, Contract, DType, Dim, TensorSpec, TensorView};
//!
//! const MLP: Contract = Contract {
//!     name: "example MLP",
//!     version: 1,
//!     inputs: &[TensorSpec::new(&["features"], &[DType::F32], &[Dim::Free, Dim::Fixed(120)])],
//!     outputs: &[TensorSpec::new(&["out"], &[DType::F32], &[Dim::Free, Dim::Fixed(4)])],
//!     extra_outputs: false,
//! };
//! let mut s = load_session("mlp.onnx".as_ref(), &MLP, &RuntimeOptions::default())?;
//! println!("running on {}", s.execution_provider());
//! let x = vec![0.0f32; 2 * 120];
//! let out = s.run(&[TensorView::new(&[2, 120], &x)])?;
//! assert_eq!(out[0].shape, [2, 4]);
//! # Ok::<(), img23d_models::Error>(())
//! ```

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ort::session::Session;
use ort::session::builder::SessionBuilder;
use ort::value::{TensorElementType, TensorRef, ValueType};

use crate::error::{Error, Result};
use crate::runtime::{self, Device, RuntimeOptions};

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
    fn from_ort(t: TensorElementType) -> Self {
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

    fn describe(&self) -> String {
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
        if t.shape.len() != spec.dims.len() {
            wrong.push("rank");
        } else {
            for (d, s) in t.shape.iter().zip(spec.dims) {
                if let Dim::Fixed(n) = s
                    && *d >= 0
                    && d != n
                {
                    wrong.push("dimensions");
                    break;
                }
            }
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

impl Contract {
    /// Checks a file's declared inputs and outputs against this contract. On success, the
    /// file tensors bound to each spec; on failure, every difference.
    pub fn check(
        &self,
        inputs: &[TensorInfo],
        outputs: &[TensorInfo],
    ) -> std::result::Result<Binding, Vec<String>> {
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

/// The execution provider a session runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionProvider {
    /// ONNX Runtime's CPU provider.
    Cpu,
    /// CUDA on a device.
    Cuda {
        /// The CUDA device index.
        device: u32,
    },
    /// TensorRT (with CUDA for the rest) on a device.
    TensorRt {
        /// The CUDA device index.
        device: u32,
    },
}

impl ExecutionProvider {
    /// ONNX Runtime's name for it, as used in node placements.
    pub fn ort_name(self) -> &'static str {
        match self {
            Self::Cpu => "CPUExecutionProvider",
            Self::Cuda { .. } => "CUDAExecutionProvider",
            Self::TensorRt { .. } => "TensorrtExecutionProvider",
        }
    }
}

impl fmt::Display for ExecutionProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => f.write_str("CPU"),
            Self::Cuda { device } => write!(f, "CUDA:{device}"),
            Self::TensorRt { device } => write!(f, "TensorRT:{device}"),
        }
    }
}

/// Where ONNX Runtime placed the nodes of a session (from its verbose session log).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    /// Per execution provider (ONNX Runtime's name): the number of nodes and, when ONNX
    /// Runtime lists them, each node as "OpType (name)".
    pub providers: Vec<(String, usize, Vec<String>)>,
}

impl Placement {
    /// Parses ONNX Runtime's "Node placements" log lines.
    pub fn parse<S: AsRef<str>>(lines: &[S]) -> Self {
        let mut providers: Vec<(String, usize, Vec<String>)> = Vec::new();
        for line in lines {
            for l in line.as_ref().lines() {
                if let Some(pos) = l.find("placed on [") {
                    let rest = &l[pos + "placed on [".len()..];
                    let Some(end) = rest.find(']') else { continue };
                    let ep = rest[..end].to_string();
                    let count = rest
                        .rsplit(':')
                        .next()
                        .and_then(|n| n.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    providers.push((ep, count, Vec::new()));
                } else if l.starts_with("  ")
                    && !l.trim().is_empty()
                    && let Some(last) = providers.last_mut()
                {
                    last.2.push(l.trim().to_string());
                }
            }
        }
        Self { providers }
    }

    /// The number of nodes placed on `ep` (ONNX Runtime's name, e.g. "CPUExecutionProvider").
    pub fn nodes_on(&self, ep: &str) -> usize {
        self.providers
            .iter()
            .filter(|p| p.0 == ep)
            .map(|p| p.1)
            .sum()
    }
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.providers.is_empty() {
            return f.write_str("(no placement reported)");
        }
        for (i, (ep, n, nodes)) in self.providers.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{ep}: {n} node(s)")?;
            if !nodes.is_empty() {
                write!(f, " [{}]", nodes.join(", "))?;
            }
        }
        Ok(())
    }
}

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
    session: Session,
    contract: Contract,
    path: PathBuf,
    ep: ExecutionProvider,
    fallback: Option<String>,
    binding: Binding,
    placement: Option<Placement>,
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

fn infos(outlets: &[ort::value::Outlet]) -> Vec<TensorInfo> {
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

/// Creates a session for `path` on `opts.device` and checks it against `contract`.
///
/// Initialises the runtime if needed ([`runtime::init`]). Errors: the file is missing
/// ([`Error::ModelMissing`]) or not a valid model ([`Error::ModelCorrupt`]); its signature
/// differs from the contract ([`Error::SignatureMismatch`]); an explicitly requested GPU
/// cannot start ([`Error::EpUnavailable`]).
pub fn load_session(
    path: &Path,
    contract: &Contract,
    opts: &RuntimeOptions,
) -> Result<LoadedSession> {
    let (s, _) = load_session_any(path, &[contract], opts)?;
    Ok(s)
}

/// Like [`load_session`], for models with several accepted layouts: returns the session
/// and the index of the first contract it matches. Fails with every contract's problems.
pub fn load_session_any(
    path: &Path,
    contracts: &[&Contract],
    opts: &RuntimeOptions,
) -> Result<(LoadedSession, usize)> {
    let Some(first) = contracts.first() else {
        return Err(Error::SignatureMismatch {
            contract: "(none)".to_string(),
            version: 0,
            problems: "no contract given".to_string(),
            path: path.to_path_buf(),
        });
    };
    let _span =
        tracing::info_span!("load_session", model = first.name, path = %path.display()).entered();
    if !path.is_file() {
        return Err(Error::ModelMissing {
            model: first.name.to_string(),
            hint: "check the path, or install it with `img23d models fetch`".to_string(),
            path: path.to_path_buf(),
        });
    }
    let rt = runtime::init(opts)?;
    let created = create(rt, path, opts)?;
    let inputs = infos(created.session.inputs());
    let outputs = infos(created.session.outputs());
    let mut all_problems = Vec::new();
    for (k, c) in contracts.iter().enumerate() {
        match c.check(&inputs, &outputs) {
            Ok(binding) => {
                let placement = created
                    .log
                    .map(|l| Placement::parse(&l.lock().unwrap_or_else(|p| p.into_inner())));
                tracing::info!(
                    "{} loaded on {}{}",
                    c.name,
                    created.ep,
                    created
                        .fallback
                        .as_deref()
                        .map(|r| format!(" (CUDA not used: {r})"))
                        .unwrap_or_default()
                );
                return Ok((
                    LoadedSession {
                        session: created.session,
                        contract: **c,
                        path: path.to_path_buf(),
                        ep: created.ep,
                        fallback: created.fallback,
                        binding,
                        placement,
                    },
                    k,
                ));
            }
            Err(p) => {
                if contracts.len() > 1 {
                    all_problems.push(format!(
                        "[layout {} v{}] {}",
                        c.name,
                        c.version,
                        p.join("; ")
                    ));
                } else {
                    all_problems.extend(p);
                }
            }
        }
    }
    Err(Error::SignatureMismatch {
        contract: first.name.to_string(),
        version: first.version,
        problems: all_problems.join("; "),
        path: path.to_path_buf(),
    })
}

/// Where the placement log lines of a session are collected.
type LogSink = Arc<Mutex<Vec<String>>>;

struct Created {
    session: Session,
    ep: ExecutionProvider,
    fallback: Option<String>,
    log: Option<LogSink>,
}

fn builder(
    rt: &runtime::Runtime,
    opts: &RuntimeOptions,
) -> std::result::Result<(SessionBuilder, Option<LogSink>), String> {
    let s = |e: ort::Error<SessionBuilder>| e.to_string();
    let mut b = Session::builder(rt.environment())
        .map_err(|e| e.to_string())?
        .with_optimization_level(opts.opt_level.to_ort())
        .map_err(s)?;
    if opts.intra_threads > 0 {
        b = b.with_intra_threads(opts.intra_threads).map_err(s)?;
    }
    if opts.inter_threads > 0 {
        b = b
            .with_parallel_execution(true)
            .map_err(s)?
            .with_inter_threads(opts.inter_threads)
            .map_err(s)?;
    }
    let mut log = None;
    if opts.record_placement {
        let lines: LogSink = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let logger: ort::logging::LoggerFunction = Arc::new(
            move |_level: ort::logging::LogLevel,
                  _cat: &str,
                  _id: &str,
                  location: &str,
                  message: &str| {
                if location.contains("VerifyEachNodeIsAssignedToAnEp") {
                    sink.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(message.to_string());
                }
            },
        );
        b = b
            .with_logger(logger)
            .map_err(s)?
            .with_log_level(ort::logging::LogLevel::Verbose)
            .map_err(s)?
            .with_log_verbosity(1)
            .map_err(s)?;
        log = Some(lines);
    }
    Ok((b, log))
}

fn commit(mut b: SessionBuilder, path: &Path) -> Result<Session> {
    b.commit_from_file(path).map_err(|e| {
        use ort::error::ErrorCode as C;
        let reason = e.message().trim_end().to_string();
        match e.code() {
            C::InvalidProtobuf | C::InvalidGraph | C::NoModel | C::NoSuchFile => {
                Error::ModelCorrupt {
                    reason,
                    path: path.to_path_buf(),
                }
            }
            _ if reason.contains("Protobuf parsing failed") || reason.contains("Load model") => {
                Error::ModelCorrupt {
                    reason,
                    path: path.to_path_buf(),
                }
            }
            _ => Error::SessionCreate {
                reason,
                path: path.to_path_buf(),
            },
        }
    })
}

fn create(rt: &runtime::Runtime, path: &Path, opts: &RuntimeOptions) -> Result<Created> {
    let session_err = |reason: String| Error::SessionCreate {
        reason,
        path: path.to_path_buf(),
    };
    match opts.device {
        Device::Cpu => {
            let (b, log) = builder(rt, opts).map_err(session_err)?;
            Ok(Created {
                session: commit(b, path)?,
                ep: ExecutionProvider::Cpu,
                fallback: None,
                log,
            })
        }
        Device::Cuda(n) | Device::TensorRt(n) => {
            let ep = if matches!(opts.device, Device::Cuda(_)) {
                ExecutionProvider::Cuda { device: n }
            } else {
                ExecutionProvider::TensorRt { device: n }
            };
            let (b, log) = builder(rt, opts).map_err(session_err)?;
            let b = register_gpu(rt, b, ep).map_err(|reason| Error::EpUnavailable {
                ep: format!("{ep} (--device {})", opts.device),
                reason,
            })?;
            let session = commit(b, path).map_err(|e| match e {
                Error::SessionCreate { reason, .. } => Error::EpUnavailable {
                    ep: format!("{ep} (--device {})", opts.device),
                    reason: format!("session creation failed: {reason}"),
                },
                other => other,
            })?;
            Ok(Created {
                session,
                ep,
                fallback: None,
                log,
            })
        }
        Device::Auto => {
            let cuda = ExecutionProvider::Cuda { device: 0 };
            let (b, log) = builder(rt, opts).map_err(session_err)?;
            let reason = match register_gpu(rt, b, cuda) {
                Ok(b) => match commit(b, path) {
                    Ok(session) => {
                        return Ok(Created {
                            session,
                            ep: cuda,
                            fallback: None,
                            log,
                        });
                    }
                    Err(e @ Error::ModelCorrupt { .. }) => return Err(e),
                    Err(e) => e.to_string(),
                },
                Err(r) => r,
            };
            tracing::debug!("CUDA not used: {reason}");
            runtime::note_auto_fallback(&reason);
            let (b, log) = builder(rt, opts).map_err(session_err)?;
            Ok(Created {
                session: commit(b, path)?,
                ep: ExecutionProvider::Cpu,
                fallback: Some(reason),
                log,
            })
        }
    }
}

/// The GPU execution provider an explicit `device` asks for (`None` for the CPU and auto).
pub(crate) fn gpu_provider_of(device: Device) -> Option<ExecutionProvider> {
    match device {
        Device::Cuda(n) => Some(ExecutionProvider::Cuda { device: n }),
        Device::TensorRt(n) => Some(ExecutionProvider::TensorRt { device: n }),
        Device::Cpu | Device::Auto => None,
    }
}

/// Registers the GPU provider(s) for `ep` on the builder, failing (never falling back)
/// when they cannot start. The reason says what to install.
#[cfg_attr(
    not(any(feature = "cuda", feature = "tensorrt")),
    allow(
        unused_variables,
        unused_mut,
        reason = "GPU providers are compiled out"
    )
)]
pub(crate) fn register_gpu(
    rt: &runtime::Runtime,
    mut b: SessionBuilder,
    ep: ExecutionProvider,
) -> std::result::Result<SessionBuilder, String> {
    let gpu_hint = format!(
        "the CUDA provider needs `pip install onnxruntime-gpu=={}` (CUDA 13, cuDNN 9) and an \
         NVIDIA driver for CUDA 13; the library in use is {}",
        runtime::TESTED_ORT_VERSION,
        rt.library().display()
    );
    match ep {
        ExecutionProvider::Cpu => Ok(b),
        ExecutionProvider::Cuda { device } => {
            #[cfg(feature = "cuda")]
            {
                if !rt.has_cuda() {
                    return Err(format!(
                        "this ONNX Runtime library has no CUDA execution provider; {gpu_hint}"
                    ));
                }
                let d = ort::ep::CUDA::default()
                    .with_device_id(device as i32)
                    .build()
                    .error_on_failure();
                d.register(&mut b)
                    .map_err(|e| format!("{}; {gpu_hint}", e.to_string().trim_end()))?;
                Ok(b)
            }
            #[cfg(not(feature = "cuda"))]
            {
                Err(format!(
                    "this img23d was built without the `cuda` feature (cargo build --release \
                     --features cuda); {gpu_hint}"
                ))
            }
        }
        ExecutionProvider::TensorRt { device } => {
            #[cfg(feature = "tensorrt")]
            {
                if !rt.has_tensorrt() {
                    return Err(format!(
                        "this ONNX Runtime library has no TensorRT execution provider \
                         (it needs onnxruntime-gpu and TensorRT 10); {gpu_hint}"
                    ));
                }
                let d = ort::ep::TensorRT::default()
                    .with_device_id(device as i32)
                    .build()
                    .error_on_failure();
                d.register(&mut b)
                    .map_err(|e| format!("{}; {gpu_hint}", e.to_string().trim_end()))?;
                #[cfg(feature = "cuda")]
                {
                    let c = ort::ep::CUDA::default()
                        .with_device_id(device as i32)
                        .build()
                        .error_on_failure();
                    c.register(&mut b)
                        .map_err(|e| format!("{}; {gpu_hint}", e.to_string().trim_end()))?;
                }
                Ok(b)
            }
            #[cfg(not(feature = "tensorrt"))]
            {
                let _ = device;
                Err(format!(
                    "this img23d was built without the `tensorrt` feature; {gpu_hint}"
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn parses_placement_logs() {
        let p = Placement::parse(&[
            "Node placements",
            " Node(s) placed on [CUDAExecutionProvider]. Number of nodes: 2",
            "  Conv (conv0)",
            "  Relu (relu0)",
            " Node(s) placed on [CPUExecutionProvider]. Number of nodes: 1",
            "  Shape (shape0)",
        ]);
        assert_eq!(p.nodes_on("CUDAExecutionProvider"), 2);
        assert_eq!(p.nodes_on("CPUExecutionProvider"), 1);
        assert_eq!(p.providers[0].2, ["Conv (conv0)", "Relu (relu0)"]);
        let q =
            Placement::parse(&[" All nodes placed on [CPUExecutionProvider]. Number of nodes: 3"]);
        assert_eq!(q.nodes_on("CPUExecutionProvider"), 3);
        assert_eq!(q.to_string(), "CPUExecutionProvider: 3 node(s)");
    }
}
