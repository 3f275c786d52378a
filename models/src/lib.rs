//! # img23d-models
//!
//! ONNX Runtime sessions (through the `ort` crate, CUDA or CPU), the model registry and
//! downloader, and one module per neural model. Each model checks its session's
//! input/output signature against its contract when it loads.

pub mod resample;
pub mod triposr;
