//! # img23d-meshing
//!
//! Everything img23d does after a neural (or built-in) model has produced an implicit
//! field: sampling the [`Field`] on a grid, marching cubes, mesh cleanup, UV atlas,
//! texture baking, preview rendering and export to GLB / PLY / OBJ.
//!
//! This crate knows nothing of ONNX. Neural models implement [`Field`] in `img23d-models`.
//!
//! ## Conventions (written once, here and on the types)
//!
//! * Output frame: glTF's — right-handed, +Y up, the object faces +Z, meters.
//!   Transforms and the conversions of this crate's own frames live in
//!   [`convert_coordinates`]; a neural model's frame is converted beside the model
//!   (`img23d_models`), with those transforms.
//! * Triangles are counter-clockwise seen from outside (outward normals).
//! * Vertex colors are sRGB-encoded floats in `[0, 1]`, as in the input picture; the GLB
//!   writer converts them to linear for `COLOR_0` (glTF vertex colors are linear).
//! * UV origin is the top-left corner of the texture, as in glTF; texture rows are stored
//!   top-down.
//!
//! ```
//! use img23d_meshing::{Mesh, topology::analyze};
//! // A tetrahedron, counter-clockwise from outside.
//! let mesh = Mesh::from_triangles(
//!     vec![[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
//!     vec![[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]],
//! );
//! mesh.validate().unwrap();
//! let report = analyze(&mesh);
//! assert!(report.is_closed_manifold());
//! assert_eq!(report.euler_characteristic(), 2);
//! ```

pub mod atlas;
pub mod bake;
pub mod cleanup;
pub(crate) mod connectivity;
pub mod convert_coordinates;
pub mod depth;
pub mod error;
pub mod export;
pub mod extract;
pub mod field;
pub mod io;
pub mod limits;
pub mod material;
pub mod mesh;
pub mod npy;
pub mod render;
pub(crate) mod scan_convert;
pub mod simplify;
pub mod topology;

pub use error::{Error, FieldError, MeshError, Result};
pub use field::{Bounds, Field, Grid, Inside, Surface};
pub use limits::Limits;
pub use material::{Asset, Material};
pub use mesh::Mesh;
