//! The error type of `img23d-models`, grouped by who is at fault: the ONNX Runtime
//! library, a model file, a model's signature, an execution provider, the registry or
//! manifest, a download, or the file system. [`Error::kind`] names the group.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How to install the ONNX Runtime library, quoted by every error that needs one.
pub const INSTALL_HINT: &str = "install it with `python3 -m pip install onnxruntime==1.31.1` \
(or `onnxruntime-gpu==1.31.1` for CUDA 13), or point --ort-lib or ORT_DYLIB_PATH at \
libonnxruntime.so";

/// Everything this crate can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- the ONNX Runtime library ----
    /// No usable ONNX Runtime library was found anywhere in the search order.
    #[error("ONNX Runtime library not found; {INSTALL_HINT} (looked at: {tried})")]
    RuntimeNotFound {
        /// Every place that was looked at, and why it was not used.
        tried: String,
    },

    /// A library was found (or named) but could not be loaded or is too old.
    #[error("cannot load the ONNX Runtime library: {reason}; {INSTALL_HINT}: {}", path.display())]
    RuntimeLoad {
        /// What went wrong.
        reason: String,
        /// The library file.
        path: PathBuf,
    },

    /// The library loaded, but the environment could not be created.
    #[error("cannot start ONNX Runtime: {reason}: {}", path.display())]
    RuntimeInit {
        /// What ONNX Runtime said.
        reason: String,
        /// The library file in use.
        path: PathBuf,
    },

    /// A second initialisation asked for a different library than the one already loaded
    /// (a process can load only one).
    #[error(
        "ONNX Runtime is already loaded from {} in this process; cannot switch to {}",
        loaded.display(),
        requested.display()
    )]
    RuntimeAlreadyLoaded {
        /// The library in use.
        loaded: PathBuf,
        /// The library asked for now.
        requested: PathBuf,
    },

    // ---- model files ----
    /// A model file is not where it should be.
    #[error("model file for {model} not found; {hint}: {}", path.display())]
    ModelMissing {
        /// The model's registry name (or the contract name).
        model: String,
        /// What to do about it.
        hint: String,
        /// Where it was expected.
        path: PathBuf,
    },

    /// ONNX Runtime could not parse a model file.
    #[error("model file is corrupt or not an ONNX model ({reason}): {}", path.display())]
    ModelCorrupt {
        /// What ONNX Runtime said.
        reason: String,
        /// The file.
        path: PathBuf,
    },

    /// A file's SHA-256 differs from the pinned or recorded one.
    #[error("checksum mismatch: expected sha256 {expected}, found {found}: {}", path.display())]
    ChecksumMismatch {
        /// The pinned or recorded SHA-256 (hex).
        expected: String,
        /// The file's SHA-256 (hex).
        found: String,
        /// The file.
        path: PathBuf,
    },

    /// A file's size differs from the pinned or recorded one.
    #[error("size mismatch: expected {expected} bytes, found {found}: {}", path.display())]
    SizeMismatch {
        /// The expected size in bytes.
        expected: u64,
        /// The file's size in bytes.
        found: u64,
        /// The file.
        path: PathBuf,
    },

    /// A session could not be created for a reason other than a corrupt file.
    #[error("cannot create an ONNX Runtime session ({reason}): {}", path.display())]
    SessionCreate {
        /// What ONNX Runtime said.
        reason: String,
        /// The model file.
        path: PathBuf,
    },

    // ---- signatures ----
    /// A model file's inputs/outputs do not match the contract its wrapper expects.
    #[error("{contract} v{version}: the model file does not match the contract: {problems}: {}", path.display())]
    SignatureMismatch {
        /// The contract's name.
        contract: String,
        /// The contract's version.
        version: u32,
        /// Each difference, "expected … found …", separated by "; ".
        problems: String,
        /// The model file.
        path: PathBuf,
    },

    // ---- execution providers ----
    /// An explicitly requested execution provider cannot start.
    #[error("{ep} cannot start: {reason}")]
    EpUnavailable {
        /// The execution provider, e.g. "CUDA device 0".
        ep: String,
        /// Why, and what to do about it.
        reason: String,
    },

    // ---- running ----
    /// Running a session failed.
    #[error("{model}: inference failed: {reason}")]
    Inference {
        /// The contract name.
        model: String,
        /// What went wrong.
        reason: String,
    },

    // ---- registry / manifest ----
    /// A model name that the registry does not know.
    #[error("unknown model '{name}'; known models: {known}")]
    UnknownModel {
        /// The name given.
        name: String,
        /// The names the registry knows, comma separated.
        known: String,
    },

    /// A model that has no downloadable files (only an export recipe).
    #[error("{model} has no public ONNX export to download; export it yourself: {recipe}")]
    ExportOnly {
        /// The model's name.
        model: String,
        /// The recipe (where it is documented).
        recipe: String,
    },

    /// A manifest or lock-file entry whose file name would leave the models folder.
    #[error("refusing file name '{name}': it would escape the models folder: {}", models_dir.display())]
    UnsafeFileName {
        /// The offending name.
        name: String,
        /// The models folder.
        models_dir: PathBuf,
    },

    /// A lock file or hub answer that cannot be parsed.
    #[error("invalid {what}: {reason}: {}", path.display())]
    BadManifest {
        /// What was being read ("lock file", "hub metadata").
        what: &'static str,
        /// What is wrong with it.
        reason: String,
        /// The file or URL.
        path: PathBuf,
    },

    /// A model is not installed and the network may not be used.
    #[error("{model} is not installed and --offline forbids downloading it; run `img23d models fetch {model}` while online, or give the file by path: {}", path.display())]
    Offline {
        /// The model's name.
        model: String,
        /// Where it would be installed.
        path: PathBuf,
    },

    // ---- downloads ----
    /// The server answered with an error status.
    #[error("download failed: server answered HTTP {status}: {url}")]
    HttpStatus {
        /// The HTTP status code.
        status: u16,
        /// The URL.
        url: String,
    },

    /// The connection failed or timed out.
    #[error("download failed: {reason}: {url}")]
    Network {
        /// What went wrong.
        reason: String,
        /// The URL.
        url: String,
    },

    /// The transfer ended before the expected number of bytes arrived.
    #[error(
        "download truncated: expected {expected} bytes, got {got} (run the fetch again to resume): {url}"
    )]
    Truncated {
        /// The expected size.
        expected: u64,
        /// The bytes received.
        got: u64,
        /// The URL.
        url: String,
    },

    /// The disk has no room for the file.
    #[error("no space left on the device for the download (free some space and fetch again to resume): {}", path.display())]
    NoSpace {
        /// The folder being written.
        path: PathBuf,
    },

    // ---- model outputs ----
    /// Depth Pro's outputs (or a focal length) could not be turned into metric depth.
    #[error("Depth Pro: {0}")]
    DepthPro(#[from] crate::depth_pro::PostprocessError),

    /// The diffusion engine: a model folder's configuration, its tokenizer files, or a
    /// generation request.
    #[error(transparent)]
    Diffusion(#[from] crate::diffusion::DiffusionError),

    // ---- file system ----
    /// Reading or writing a file failed.
    #[error("{source}: {}", path.display())]
    Io {
        /// The underlying error.
        source: std::io::Error,
        /// The file involved.
        path: PathBuf,
    },
}

/// The groups of [`Error`], by who is at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The ONNX Runtime library is missing, too old or broken.
    Runtime,
    /// A model file is missing, corrupt or fails its checksum.
    ModelFile,
    /// A model file's inputs/outputs do not match its contract.
    Signature,
    /// An execution provider (CUDA, TensorRT) cannot start.
    ExecutionProvider,
    /// Running a model failed.
    Inference,
    /// An unknown model, an unsafe manifest, or an offline refusal.
    Registry,
    /// A download failed.
    Download,
    /// The file system failed.
    Io,
}

impl Error {
    /// Shorthand for [`Error::Io`].
    pub fn io(source: std::io::Error, path: impl Into<PathBuf>) -> Self {
        Self::Io {
            source,
            path: path.into(),
        }
    }

    /// Which group this error belongs to.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::RuntimeNotFound { .. }
            | Self::RuntimeLoad { .. }
            | Self::RuntimeInit { .. }
            | Self::RuntimeAlreadyLoaded { .. } => ErrorKind::Runtime,
            Self::ModelMissing { .. }
            | Self::ModelCorrupt { .. }
            | Self::ChecksumMismatch { .. }
            | Self::SizeMismatch { .. }
            | Self::SessionCreate { .. } => ErrorKind::ModelFile,
            Self::SignatureMismatch { .. } => ErrorKind::Signature,
            Self::EpUnavailable { .. } => ErrorKind::ExecutionProvider,
            Self::Inference { .. } => ErrorKind::Inference,
            Self::UnknownModel { .. }
            | Self::ExportOnly { .. }
            | Self::UnsafeFileName { .. }
            | Self::BadManifest { .. }
            | Self::Offline { .. } => ErrorKind::Registry,
            Self::HttpStatus { .. }
            | Self::Network { .. }
            | Self::Truncated { .. }
            | Self::NoSpace { .. } => ErrorKind::Download,
            Self::Io { .. } => ErrorKind::Io,
            Self::DepthPro(_) => ErrorKind::Inference,
            Self::Diffusion(e) => match e {
                crate::diffusion::DiffusionError::Config { .. }
                | crate::diffusion::DiffusionError::Tokenizer { .. } => ErrorKind::ModelFile,
                crate::diffusion::DiffusionError::Unsupported { .. } => ErrorKind::Signature,
                _ => ErrorKind::Inference,
            },
        }
    }
}
