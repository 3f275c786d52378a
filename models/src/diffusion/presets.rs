//! What a text-to-image model brings beyond its folder: default steps, guidance and size,
//! the size limits, the scheduler to use when the folder has no `scheduler_config.json`,
//! and the family the folder must hold. [`super::sd_turbo`] and [`super::sdxl_turbo`] are
//! the two presets; a folder given by path uses [`Preset::folder`], which takes everything
//! from the folder and diffusers' pipeline defaults.

use std::path::Path;

use super::text_to_image::{Family, TextToImage};
use super::{PredictionType, SchedulerConfig, SchedulerKind, TimestepSpacing};
use crate::error::{Error, Result};
use crate::runtime::RuntimeOptions;

/// A text-to-image model's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    /// The name on the command line (`sd-turbo`), or `folder`.
    pub name: &'static str,
    /// The family its folder must hold (`None`: either).
    pub family: Option<Family>,
    /// Default denoising steps.
    pub steps: usize,
    /// Default guidance scale.
    pub guidance: f32,
    /// Default picture side.
    pub size: u32,
    /// The largest picture side the model is run at.
    pub max_size: u32,
    /// The scheduler when the folder has none.
    pub scheduler: Option<SchedulerConfig>,
}

impl Preset {
    /// Any SD-family folder: steps, guidance and size are diffusers' pipeline defaults
    /// (50 steps, guidance 7.5, 512); the folder must have its scheduler config.
    pub fn folder() -> Self {
        Self {
            name: "folder",
            family: None,
            steps: 50,
            guidance: 7.5,
            size: 512,
            max_size: 2048,
            scheduler: None,
        }
    }

    /// Loads `folder` with this preset's scheduler fallback and checks its family.
    pub fn load(&self, folder: &Path, opts: &RuntimeOptions) -> Result<TextToImage> {
        let model = TextToImage::load(folder, opts, self.scheduler.as_ref())?;
        match self.family {
            Some(f) if f != model.family() => Err(Error::SignatureMismatch {
                contract: format!("{} folder", self.name),
                version: 1,
                problems: format!("expected a {f:?} folder, found a {:?} one", model.family()),
                path: folder.to_path_buf(),
            }),
            _ => Ok(model),
        }
    }
}

/// Stable Diffusion's betas with the turbo models' settings: epsilon, trailing.
pub(crate) fn turbo_scheduler(kind: SchedulerKind) -> SchedulerConfig {
    SchedulerConfig::stable_diffusion(kind, PredictionType::Epsilon, TimestepSpacing::Trailing)
}
