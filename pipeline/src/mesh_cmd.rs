//! `img23d mesh` (under construction in this commit: the arguments and the work arrive
//! with their issue).

/// Arguments of `img23d mesh`.
#[derive(Debug, clap::Args)]
pub struct MeshArgs {}
