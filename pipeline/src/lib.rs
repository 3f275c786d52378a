//! # img23d
//!
//! Stage orchestration for the `img23d` command: load the picture, find the foreground,
//! reconstruct an implicit field, extract and clean the mesh, texture it and export it.
//!
//! Each command has the same shape: a validated configuration (the command line in
//! [`cli`] maps onto it), a short function that lists its stages, the stages in files
//! named after them, and a typed report ([`report`]).
//!
//! | module | what it does |
//! |---|---|
//! | [`cli`] | the command line (clap): the main job, its subcommands, the shared runtime options; the only module that knows clap |
//! | [`run`] | the main job, `img23d IMAGE... -o DIR`: [`run::RunConfig`] and the stages, one file per stage group |
//! | [`depth_cmd`] | `img23d depth`: metric depth, point clouds and relief meshes |
//! | [`mesh_cmd`] | `img23d mesh`: isosurface a `.npy` volume |
//! | [`models_cmd`] | `img23d models`: list, fetch, verify, locate neural models |
//! | [`stage`] | the one stage timer and the progress lines |
//! | [`report`] | every command's `<stem>.report.json`, typed |
//! | [`output`] | the output folder, file stems, staging an input's files and moving them into place together |
//! | [`image`] | loading pictures (any common format, EXIF orientation, size limits) |
//! | [`foreground`] | finding the object (alpha or weight-free keying), crop and pad |
//! | [`mask_ops`] | 2-D masks: distance transforms, morphology, components, hole filling (and the `Raster` face of the resampler) |
//! | [`inflate`] | the weight-free reconstruction: the silhouette inflated into a field |
//! | [`neural`] | background removal with a segmentation model, the TripoSR reconstruction, and the choice between them and the weight-free stages |
//! | [`appearance`] | the texture, the input camera, the fidelity check, the preview sheet |
//! | [`error`] | the pipeline's error type and exit codes |
//! | [`text_cmd`] | `img23d text`: prompt → picture (SD-Turbo, SDXL-Turbo, Optimum folders) → the main job |

pub mod appearance;
pub mod cli;
pub mod depth_cmd;
pub mod doctor_cmd;
pub mod error;
mod fault;
pub mod foreground;
pub mod image;
pub mod inflate;
pub mod mask_ops;
pub mod mesh_cmd;
pub mod models_cmd;
pub mod neural;
pub mod output;
pub mod report;
pub mod run;
pub mod stage;
pub mod text_cmd;

pub use error::{Error, Result};
