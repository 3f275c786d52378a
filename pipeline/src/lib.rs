//! # img23d
//!
//! Stage orchestration for the `img23d` command: load the picture, find the foreground,
//! reconstruct an implicit field, extract and clean the mesh, texture it and export it.
//!
//! | module | what it does |
//! |---|---|
//! | [`cli`] | the command line (clap): the main job and its subcommands |
//! | [`config`] | the main job's raw arguments → validated [`config::RunConfig`] |
//! | [`image`] | loading pictures (any common format, EXIF orientation, size limits) |
//! | [`foreground`] | finding the object (alpha or weight-free keying), crop and pad |
//! | [`raster`] | distance transforms, morphology, components, resampling |
//! | [`inflate`] | the weight-free reconstruction: the silhouette inflated into a field |
//! | [`neural`] | background removal with a segmentation model, the TripoSR reconstruction, and the choice between them and the weight-free stages |
//! | [`run`] | the main job: stage orchestration, timings, outputs |
//! | [`report`] | `DIR/<stem>.report.json` |
//! | [`error`] | the pipeline's error type and exit codes |
//! | [`mesh_cmd`] | `img23d mesh`: isosurface a `.npy` volume |
//! | [`models_cmd`] | `img23d models`: list, fetch, verify neural models |
//! | [`depth_cmd`] | `img23d depth`: metric depth, point clouds and relief meshes |
//! | [`text_cmd`] | `img23d text`: prompt → picture (SD-Turbo, SDXL-Turbo, Optimum folders) → the main job |

pub mod appearance;
pub mod cli;
pub mod config;
pub mod depth_cmd;
pub mod error;
pub mod foreground;
pub mod image;
pub mod inflate;
pub mod mesh_cmd;
pub mod models_cmd;
pub mod neural;
pub mod raster;
pub mod report;
pub mod run;
pub mod text_cmd;

pub use error::{Error, Result};
