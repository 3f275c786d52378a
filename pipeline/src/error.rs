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

    /// An input file could not be opened or read.
    #[error("cannot read input: {source}: {path}")]
    ReadInput {
        /// The underlying error.
        source: std::io::Error,
        /// The input file.
        path: PathBuf,
    },

    /// An input file is not a picture img23d can read (empty, unknown or unsupported
    /// format).
    #[error("not a supported image ({reason}): {path}")]
    UnsupportedImage {
        /// What was found instead.
        reason: String,
        /// The input file.
        path: PathBuf,
    },

    /// A picture's data is corrupt or truncated.
    #[error("cannot decode {format} image ({reason}): {path}")]
    DecodeImage {
        /// The format its header claims (`PNG`, `JPEG`, ...).
        format: String,
        /// What the decoder reported.
        reason: String,
        /// The input file.
        path: PathBuf,
    },

    /// A picture is larger than [`img23d_meshing::Limits`] allows; found from its header,
    /// before decoding anything.
    #[error(
        "image too large: {width}x{height} pixels, the limit is {max_side} pixels per side \
         and {max_pixels} pixels in all: {path}"
    )]
    ImageTooLarge {
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
        /// Largest side allowed.
        max_side: u32,
        /// Largest pixel count allowed.
        max_pixels: u64,
        /// The input file.
        path: PathBuf,
    },

    /// No object could be told apart from the background.
    #[error("no foreground found ({reason}): {path}")]
    NoForeground {
        /// Why, and what to do about it.
        reason: String,
        /// The input file.
        path: PathBuf,
    },

    /// Two inputs would write the same output files.
    #[error("two inputs would both write {stem}.* in the output folder: {first} and {second}")]
    OutputCollision {
        /// The shared file stem.
        stem: String,
        /// The first input.
        first: PathBuf,
        /// The second input.
        second: PathBuf,
    },

    /// The output folder cannot be created or written.
    #[error("cannot write to the output folder ({source}): {path}")]
    OutputFolder {
        /// The underlying error.
        source: std::io::Error,
        /// The folder.
        path: PathBuf,
    },

    /// A volume (`img23d mesh`) has the wrong shape.
    #[error("bad volume: expected {expected}, got {got}: {path}")]
    BadVolume {
        /// What the command accepts.
        expected: String,
        /// What the file holds.
        got: String,
        /// The file.
        path: PathBuf,
    },

    /// A neural stage (segmentation, TripoSR) failed on one input.
    #[error("{stage} failed: {reason}: {path}")]
    Neural {
        /// The stage (`segmentation`, `TripoSR`).
        stage: &'static str,
        /// What went wrong.
        reason: String,
        /// The input or model file involved.
        path: PathBuf,
    },

    /// A stage failed on one input; `source` says how.
    #[error("{stage} failed: {source}: {path}")]
    Stage {
        /// The stage (`extraction`, `export`, ...).
        stage: &'static str,
        /// What went wrong.
        source: img23d_meshing::Error,
        /// The input being processed.
        path: PathBuf,
    },

    /// The output folder's disk is full; the input's files were not kept.
    #[error(
        "no space left on the device of the output folder (this input's files were not \
         written, earlier files are unchanged): {path}"
    )]
    NoSpace {
        /// The output folder.
        path: PathBuf,
    },

    /// Some of several inputs failed (each was reported as it failed).
    #[error("{failed} of {total} inputs failed (see the errors above)")]
    InputsFailed {
        /// How many failed.
        failed: usize,
        /// How many were given.
        total: usize,
        /// The exit code of the first failure.
        exit_code: i32,
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

    /// Wraps a meshing error as the failure of `stage` on `path` ([`Error::Stage`]), for
    /// `map_err`.
    pub fn stage(
        stage: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(img23d_meshing::Error) -> Self + use<> {
        let path = path.to_path_buf();
        move |source| Self::Stage {
            stage,
            source,
            path,
        }
    }

    /// This error, or [`Error::NoSpace`] naming `dir` when a full disk caused it (an
    /// `ENOSPC` anywhere in its chain of sources).
    pub fn no_space_in(self, dir: &std::path::Path) -> Self {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&self);
        while let Some(e) = cause {
            let full = e
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::StorageFull);
            if full {
                return Self::NoSpace {
                    path: dir.to_path_buf(),
                };
            }
            cause = e.source();
        }
        self
    }

    /// The process exit code for this error: 2 for bad arguments, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::InvalidArgument { .. } | Self::OutputCollision { .. } => 2,
            Self::InputsFailed { exit_code, .. } => *exit_code,
            _ => 1,
        }
    }
}
