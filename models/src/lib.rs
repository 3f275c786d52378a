//! # img23d-models
//!
//! ONNX Runtime sessions (through the `ort` crate, CUDA or CPU), the model registry and
//! downloader, and one module per neural model. Each model checks its session's
//! input/output signature against its contract when it loads.
//!
//! | module | what it does |
//! |---|---|
//! | [`runtime`] | finds and loads the ONNX Runtime library once per process; [`Device`], [`RuntimeOptions`] |
//! | [`session`] | [`Contract`]s and contract-checked sessions ([`load_session`]) that know their execution provider |
//! | [`contracts`] | the contracts of the known models (TripoSR, Depth Pro, segmentation) |
//! | [`doctor`] | what this machine can run: the library, providers that start, GPUs, CUDA libraries, `--device auto`'s pick |
//! | [`registry`] | the known models: files, checksums, licences, export recipes |
//! | [`store`] | the models folder, its lock file, fetch / verify / locate |
//! | [`download`] | resumable, checksum-verified HTTPS downloads and hub metadata |
//! | [`onnx_graph`] | a streaming reader (and a small writer) for ONNX protobuf graphs |
//! | [`resample`] | the one image resampler: filtered resize (models' preprocessing, the pipeline's cut-outs and textures) and Depth Pro's PyTorch bilinear |
//! | [`diffusion`] | the diffusion engine: schedulers, seeded noise, CLIP tokenizer, denoising loop |
//! | [`triposr`] | TripoSR: preprocessing, triplane sampling, decoder MLP, the field |
//! | [`segmentation`] | background removal with rembg-style models (u2net, IS-Net, BiRefNet) |
//! | [`error`] | the crate's [`Error`], grouped by fault ([`ErrorKind`]) |
//!
//! Model wrappers build on three calls:
//!
//! ```no_run
//! use img23d_models::{load_session, runtime, Contract, DType, Dim, RuntimeOptions, TensorSpec};
//!
//! const ENCODER: Contract = Contract {
//!     name: "TripoSR encoder",
//!     version: 1,
//!     inputs: &[TensorSpec::new(&["image"], &[DType::F32], &[Dim::Fixed(1), Dim::Fixed(3), Dim::Fixed(512), Dim::Fixed(512)])],
//!     outputs: &[TensorSpec::new(&["triplane"], &[DType::F32], &[Dim::Fixed(1), Dim::Fixed(3), Dim::Fixed(40), Dim::Fixed(64), Dim::Fixed(64)])],
//!     extra_outputs: false,
//! };
//! let opts = RuntimeOptions::default(); // --device auto
//! let rt = runtime::init(&opts)?;       // finds libonnxruntime, once per process
//! println!("{}", rt.describe());
//! let session = load_session("triposr_encoder.onnx".as_ref(), &ENCODER, &opts)?;
//! println!("encoder runs on {}", session.execution_provider());
//! # Ok::<(), img23d_models::Error>(())
//! ```

pub mod contracts;
pub mod depth_pro;
pub mod diffusion;
pub mod doctor;
pub mod download;
pub mod error;
pub mod onnx_graph;
pub mod registry;
pub mod resample;
pub mod runtime;
pub mod segmentation;
pub mod session;
pub mod store;
pub mod triposr;

pub use error::{Error, ErrorKind, Result};
pub use registry::{ModelEntry, ModelId, Registry};
pub use runtime::{Device, OptLevel, Precision, Runtime, RuntimeOptions};
pub use session::{
    Contract, DType, Dim, ExecutionProvider, LoadedSession, OutputTensor, TensorSpec, TensorView,
    load_session, load_session_any,
};
pub use store::ModelStore;
