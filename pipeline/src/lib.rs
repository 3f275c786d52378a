//! # img23d
//!
//! Stage orchestration for the `img23d` command: load the picture, find the foreground,
//! reconstruct an implicit field, extract and clean the mesh, texture it and export it.
//!
//! | module | what it does |
//! |---|---|
//! | [`cli`] | the command line (clap): the main job and its subcommands |
//! | [`error`] | the pipeline's error type and exit codes |
//! | [`mesh_cmd`] | `img23d mesh`: isosurface a `.npy` volume |
//! | [`models_cmd`] | `img23d models`: list, fetch, verify neural models |
//! | [`depth_cmd`] | `img23d depth`: metric depth, point clouds and relief meshes |

pub mod cli;
pub mod depth_cmd;
pub mod error;
pub mod mesh_cmd;
pub mod models_cmd;

pub use error::{Error, Result};
