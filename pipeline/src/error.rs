//! The pipeline's error type. Library code returns [`Error`]; only the binary uses anyhow.

use std::path::PathBuf;

/// Result alias for the pipeline.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the `img23d` command can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A meshing stage failed.
    #[error(transparent)]
    Meshing(#[from] img23d_meshing::Error),

    /// A neural-model stage failed (ONNX Runtime, model files, downloads).
    #[error(transparent)]
    Models(#[from] img23d_models::Error),

    /// Reading or writing a file failed.
    #[error("{source}: {path}")]
    Io {
        /// The underlying error.
        source: std::io::Error,
        /// The file involved.
        path: PathBuf,
    },

    /// A command-line value is invalid.
    #[error("invalid {name}: expected {expected}, got {got}")]
    InvalidArgument {
        /// The option, as written on the command line.
        name: &'static str,
        /// What it accepts.
        expected: String,
        /// What it was given.
        got: String,
    },
}

impl Error {
    /// Shorthand for [`Error::Io`].
    pub fn io(source: std::io::Error, path: impl Into<PathBuf>) -> Self {
        Self::Io {
            source,
            path: path.into(),
        }
    }

    /// The process exit code for this error: 2 for bad arguments, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::InvalidArgument { .. } => 2,
            _ => 1,
        }
    }
}
