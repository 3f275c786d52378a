//! Error types of the meshing crate, grouped by who is at fault: a bad mesh, a bad
//! parameter, a resource limit, a failing field (e.g. a neural decoder), or I/O.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `img23d-meshing`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A mesh broke one of [`crate::Mesh`]'s invariants.
    #[error("invalid mesh: {0}")]
    InvalidMesh(#[from] MeshError),

    /// A parameter was outside the range the operation accepts.
    #[error("invalid parameter {name}: expected {expected}, got {got}")]
    InvalidParameter {
        /// Parameter name, as the user would write it (e.g. `resolution`).
        name: &'static str,
        /// What the operation accepts.
        expected: String,
        /// What it was given.
        got: String,
    },

    /// A size derived from user input exceeded a [`crate::Limits`] cap, or the
    /// allocation for it failed.
    #[error("resource limit: {what} needs {requested}, the limit is {limit}")]
    Limit {
        /// What was being sized (e.g. `grid of 2048^3 points`).
        what: String,
        /// The requested amount, with unit.
        requested: String,
        /// The cap, with unit.
        limit: String,
    },

    /// The implicit field failed to evaluate (e.g. the ONNX decoder returned an error).
    #[error(transparent)]
    Field(#[from] FieldError),

    /// The field has no surface inside its bounds at the requested iso level.
    #[error("no surface: the field never crosses the iso level {level} inside its bounds")]
    NoSurface {
        /// The iso level searched for.
        level: f32,
    },

    /// A value that must be a finite number is NaN (or infinite where that is refused):
    /// a volume value, or a field value returned by a [`crate::Field`].
    #[error("{what} at index {index} is not a number")]
    NotFinite {
        /// What holds the value (e.g. `volume value`, `field value`).
        what: String,
        /// Its index (linear, x fastest, for volumes).
        index: usize,
    },

    /// Reading or writing a file failed.
    #[error("{source}: {path}")]
    Io {
        /// The underlying I/O error.
        source: std::io::Error,
        /// The file involved.
        path: PathBuf,
    },

    /// Encoding an image (e.g. a PNG texture) failed.
    #[error("image encoding failed: {0}")]
    Image(#[from] image::ImageError),

    /// Serialising JSON (e.g. the glTF document) failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

impl Error {
    /// Shorthand for [`Error::InvalidParameter`].
    pub fn invalid_parameter(
        name: &'static str,
        expected: impl Into<String>,
        got: impl ToString,
    ) -> Self {
        Self::InvalidParameter {
            name,
            expected: expected.into(),
            got: got.to_string(),
        }
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(source: std::io::Error, path: impl Into<PathBuf>) -> Self {
        Self::Io {
            source,
            path: path.into(),
        }
    }
}

/// A [`crate::Mesh`] invariant that does not hold.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MeshError {
    /// The mesh has no triangles (or no vertices).
    #[error("the mesh is empty ({vertices} vertices, {triangles} triangles)")]
    Empty {
        /// Vertex count.
        vertices: usize,
        /// Triangle count.
        triangles: usize,
    },
    /// An attribute array does not have one entry per vertex.
    #[error("attribute {attribute} has {got} entries, expected 0 or {expected} (one per vertex)")]
    AttributeLength {
        /// Attribute name (`normals`, `colors`, `uvs`).
        attribute: &'static str,
        /// Number of vertices.
        expected: usize,
        /// Entries present.
        got: usize,
    },
    /// A triangle refers to a vertex that does not exist.
    #[error("triangle {triangle} refers to vertex {index}, but there are {vertices} vertices")]
    IndexOutOfBounds {
        /// Triangle index.
        triangle: usize,
        /// Offending vertex index.
        index: u32,
        /// Vertex count.
        vertices: usize,
    },
    /// A value is NaN or infinite.
    #[error("{attribute} of vertex {vertex} is not finite: {value:?}")]
    NotFinite {
        /// Attribute name.
        attribute: &'static str,
        /// Vertex index.
        vertex: usize,
        /// The value found.
        value: Vec<f32>,
    },
    /// A normal is not of unit length.
    #[error("normal of vertex {vertex} has length {length}, expected 1")]
    NonUnitNormal {
        /// Vertex index.
        vertex: usize,
        /// Its length.
        length: f32,
    },
    /// A color channel lies outside `[0, 1]`.
    #[error("color of vertex {vertex} is outside [0, 1]: {value:?}")]
    ColorOutOfRange {
        /// Vertex index.
        vertex: usize,
        /// The color found.
        value: [f32; 3],
    },
    /// More vertices than a `u32` index can address.
    #[error("the mesh has {vertices} vertices, more than u32 indices can address")]
    TooManyVertices {
        /// Vertex count.
        vertices: usize,
    },
}

/// A failure inside a [`crate::Field`] implementation (for example an ONNX Runtime error in
/// a neural decoder). The source error is kept for the message chain.
#[derive(Debug, thiserror::Error)]
#[error("field evaluation failed ({field}): {source}")]
pub struct FieldError {
    /// Which field failed (e.g. `triposr decoder`).
    pub field: String,
    /// What went wrong.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl FieldError {
    /// Wraps any error as a field failure.
    pub fn new(
        field: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Self {
            field: field.into(),
            source: source.into(),
        }
    }
}
