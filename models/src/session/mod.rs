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
//! * element type must be one of [`TensorSpec::dtypes`]; a [`Dim::Fixed`] dimension must
//!   equal the file's, or the file's must be dynamic; the rank must match, or differ only
//!   by singleton dimensions (a `[1, H, W]` depth map for `[1, 1, H, W]`, a `[1]` field of
//!   view for `[1, 1, 1, 1]`): [`LoadedSession::run`] then feeds inputs in the file's rank
//!   and returns outputs in the contract's.
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
//!
//! The module is split by concern: [`contract`] (what a wrapper expects of a file, and the
//! matching), [`providers`] (execution providers and their registration), [`placement`]
//! (parsing ONNX Runtime's log of where it placed each node), [`builder`] (creating a
//! session on the requested device and checking it), and [`loaded`] (the checked session
//! and its float32 `run`).

pub mod builder;
pub mod contract;
pub mod loaded;
pub mod placement;
pub mod providers;

pub use builder::{load_session, load_session_any};
pub use contract::{ANY_NAME, Binding, Contract, DType, Dim, TensorInfo, TensorSpec};
pub use loaded::{LoadedSession, OutputTensor, TensorView};
pub use placement::Placement;
pub use providers::ExecutionProvider;
