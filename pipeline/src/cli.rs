//! The `img23d` command line: the main job (`img23d IMAGE... -o DIR`) and its
//! subcommands. Raw clap arguments live here; each command converts them into a
//! validated configuration before doing any work.

use clap::{Parser, Subcommand};

/// img23d: turn a picture into a textured 3D asset (GLB, PLY, OBJ).
#[derive(Debug, Parser)]
#[command(
    name = "img23d",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// A subcommand; without one, img23d reconstructs the given pictures.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Isosurface a volume stored as .npy into a mesh.
    Mesh(crate::mesh_cmd::MeshArgs),
    /// List, fetch, verify and locate the neural models.
    Models(crate::models_cmd::ModelsArgs),
    /// Metric depth, point clouds and relief meshes from photos (Depth Pro).
    Depth(crate::depth_cmd::DepthArgs),
}
