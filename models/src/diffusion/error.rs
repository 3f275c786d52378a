//! The diffusion engine's errors: a model folder's configuration files, the tokenizer's
//! files, and requests the engine cannot honour.

use std::path::PathBuf;

/// What can go wrong in the diffusion engine before or around the networks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiffusionError {
    /// A configuration file (`scheduler_config.json`, `config.json`) cannot be parsed, or
    /// holds a value outside its range.
    #[error("invalid {what}: {reason}: {}", path.display())]
    Config {
        /// Which file ("scheduler config", "VAE config").
        what: &'static str,
        /// What is wrong with it.
        reason: String,
        /// The file (or the folder it belongs to).
        path: PathBuf,
    },

    /// A setting the engine does not implement (a scheduler class, Karras sigmas, ...).
    #[error("unsupported {what}: {found} (supported: {supported})")]
    Unsupported {
        /// The setting.
        what: &'static str,
        /// The value found.
        found: String,
        /// What the engine accepts.
        supported: &'static str,
    },

    /// The tokenizer's `vocab.json` / `merges.txt` cannot be read as a CLIP BPE vocabulary.
    #[error("invalid CLIP tokenizer file: {reason}: {}", path.display())]
    Tokenizer {
        /// What is wrong.
        reason: String,
        /// The file.
        path: PathBuf,
    },

    /// A generation request outside the model's limits (size, steps, guidance).
    #[error("invalid generation request: {what}: expected {expected}, got {got}")]
    Request {
        /// The setting.
        what: &'static str,
        /// The accepted range.
        expected: String,
        /// The value given.
        got: String,
    },

    /// A scheduler was stepped outside its schedule or with mismatched buffers.
    #[error("scheduler misuse: {0}")]
    Step(String),
}
