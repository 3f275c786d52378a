//! TripoSR (VAST-AI-Research/TripoSR, MIT code and weights): one picture to a triplane
//! NeRF, run on ONNX Runtime, with the field evaluated in Rust.
//!
//! * [`preprocess`]: the exact upstream framing (crop, pad to the foreground ratio,
//!   composite on gray, antialiased resize to 512).
//! * [`triplane`]: plane sampling with `grid_sample(align_corners=False)` semantics and
//!   first-layer folding.
//! * [`mlp`]: the decoder MLP (120→64, 8 × 64→64 SiLU, 64→4) in SIMD Rust.
//!
//! Facts and their upstream sources: `shared/reference/triposr.md`.

pub mod decoder;
pub mod field;
pub mod frame;
pub mod mlp;
pub mod model;
pub mod preprocess;
// A test fixture, not API: compiled for this crate's tests and, through the `test-support`
// feature, for benches, examples and the root package's tests.
#[cfg(any(test, feature = "test-support"))]
pub mod synthetic;
pub mod triplane;

pub use decoder::DecoderLayout;
pub use field::{DENSITY_THRESHOLD, MlpExec, TriplaneField};
pub use frame::triposr_to_gltf;
pub use model::{Decoder, DecoderOptions, Encoder, MlpBackend, Normalization, TriposrError};
pub use preprocess::{PreprocessOptions, Preprocessed, preprocess};
pub use triplane::Triplane;

#[cfg(test)]
mod tests;
