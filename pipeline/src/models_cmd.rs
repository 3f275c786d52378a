//! `img23d models` (under construction in this commit: the arguments and the work arrive
//! with their issue).

/// Arguments of `img23d models`.
#[derive(Debug, clap::Args)]
pub struct ModelsArgs {}
