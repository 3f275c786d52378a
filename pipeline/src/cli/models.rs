//! `img23d models`'s arguments ([`ModelsArgs`]) and their mapping onto
//! [`ModelsConfig`].

use crate::Result;
use crate::models_cmd::{ModelsAction, ModelsConfig};

use super::{OfflineArg, RuntimeArgs};

/// Arguments of `img23d models`.
#[derive(Debug, clap::Args)]
pub struct ModelsArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: ModelsActionArg,

    /// Network use.
    #[command(flatten)]
    pub offline: OfflineArg,

    /// Runtime and models folder.
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

/// The `img23d models` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ModelsActionArg {
    /// Show every known model: precision, state, size, licence.
    List,
    /// Download a model's files (resumes; checks size and SHA-256 before installing).
    Fetch {
        /// The model's name (see `img23d models list`).
        name: String,
    },
    /// Re-check installed files against their recorded SHA-256.
    Verify {
        /// Only this model (default: every installed one).
        name: Option<String>,
        /// Also load each model with ONNX Runtime and check its inputs/outputs against
        /// the contract its wrapper expects.
        #[arg(long)]
        signatures: bool,
    },
    /// Print where a model's main file lives (or would be installed).
    Path {
        /// The model's name.
        name: String,
    },
}

impl ModelsArgs {
    /// Maps the arguments onto a [`ModelsConfig`].
    pub fn to_config(&self) -> Result<ModelsConfig> {
        Ok(ModelsConfig {
            action: match &self.action {
                ModelsActionArg::List => ModelsAction::List,
                ModelsActionArg::Fetch { name } => ModelsAction::Fetch { name: name.clone() },
                ModelsActionArg::Verify { name, signatures } => ModelsAction::Verify {
                    name: name.clone(),
                    signatures: *signatures,
                },
                ModelsActionArg::Path { name } => ModelsAction::Path { name: name.clone() },
            },
            models_dir: self.runtime.models_dir.clone(),
            offline: self.offline.offline,
            runtime: self.runtime.to_options()?,
        })
    }
}
