//! `img23d depth` (under construction in this commit: the arguments and the work arrive
//! with their issue).

/// Arguments of `img23d depth`.
#[derive(Debug, clap::Args)]
pub struct DepthArgs {}
