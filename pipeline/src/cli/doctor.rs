//! `img23d doctor`'s arguments ([`DoctorArgs`]) and their mapping onto [`DoctorConfig`].

use crate::Result;
use crate::doctor_cmd::DoctorConfig;

use super::RuntimeArgs;

/// Arguments of `img23d doctor`.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Print the findings as one JSON document (for scripts) instead of the screen.
    #[arg(long)]
    pub json: bool,

    /// Runtime and models folder (the library to look at: --ort-lib).
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

impl DoctorArgs {
    /// Maps the arguments onto a [`DoctorConfig`].
    pub fn to_config(&self) -> Result<DoctorConfig> {
        Ok(DoctorConfig {
            json: self.json,
            models_dir: self.runtime.models_dir.clone(),
            runtime: self.runtime.to_options()?,
        })
    }
}
