//! `img23d text`'s arguments ([`TextArgs`]) and their mapping onto
//! [`TextConfig`]: the prompts (from the arguments and `--prompts FILE`), the
//! text-to-image request, and the main job's [`RunConfig`] for the pictures.

use std::path::PathBuf;

use crate::Result;
use crate::neural::ModelChoice;
use crate::text_cmd::{TextConfig, TextRequest};

use super::asset::JobArgs;
use super::{AssetArgs, RuntimeArgs};

/// Arguments of `img23d text`.
#[derive(Debug, Clone, clap::Args)]
pub struct TextArgs {
    /// Prompts, one picture (and asset) each.
    #[arg(value_name = "PROMPT")]
    pub prompts: Vec<String>,

    /// A file of prompts, one a line (empty lines and lines starting with # skipped).
    #[arg(long = "prompts", value_name = "FILE")]
    pub prompts_file: Option<PathBuf>,

    /// Output folder (created if missing).
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,

    /// Text-to-image model: sd-turbo, sdxl-turbo (installed in the models folder), or
    /// the path of an Optimum-layout folder (SD 1.x/2.x, LCM, SDXL).
    #[arg(long, value_name = "MODEL", default_value = "sd-turbo")]
    pub model: String,

    /// Denoising steps. By default, the model's (1 for the turbo models, 50 for a folder).
    #[arg(long, value_name = "N")]
    pub steps: Option<usize>,

    /// Classifier-free guidance scale; above 1 the negative prompt runs as a second batch.
    /// By default, the model's (0 for the turbo models, 7.5 for a folder).
    #[arg(long, value_name = "G")]
    pub guidance: Option<f32>,

    /// Negative prompt (with guidance above 1). By default, none.
    #[arg(long, value_name = "TEXT")]
    pub negative: Option<String>,

    /// Seed of the noise (PyTorch's CPU generator, as diffusers seeds it). By default,
    /// one from the clock, always recorded.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Candidates per prompt (1 to 16); the most complete, most centered one goes on to 3D.
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub num_images: usize,

    /// Picture width, a multiple of 8 within the model's limits. By default, the model's.
    #[arg(long, value_name = "PX")]
    pub width: Option<u32>,

    /// Picture height, a multiple of 8 within the model's limits. By default, the model's.
    #[arg(long, value_name = "PX")]
    pub height: Option<u32>,

    /// Send the prompt as written, without the 3D template
    /// ("..., a single object, centered, full view, plain white background").
    #[arg(long)]
    pub raw_prompt: bool,

    /// Stop after the picture.
    #[arg(long)]
    pub image_only: bool,

    /// The asset's formats, grid, foreground, texture and material (as the main job's).
    #[command(flatten)]
    pub asset: AssetArgs,

    /// Height of the asset in meters.
    #[arg(long, value_name = "METERS", default_value_t = 1.0)]
    pub asset_height: f32,

    /// Reconstruction of the picture: auto, triposr, inflate (as the main job's --model).
    #[arg(long, value_enum, value_name = "MODEL", default_value_t = ModelChoice::Auto)]
    pub reconstruction: ModelChoice,

    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,

    /// Runtime and models folder (shared with every command that runs a model).
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

impl TextArgs {
    /// Maps the arguments onto a [`TextConfig`] and validates it (the model folder and
    /// the request are checked against the model when the command starts).
    pub fn to_config(&self) -> Result<TextConfig> {
        let job = JobArgs {
            // Filled in per picture; a placeholder so the configuration validates.
            images: vec![self.output.join("picture.png")],
            output_dir: self.output.clone(),
            height: self.asset_height,
            model: self.reconstruction,
            quiet: self.quiet,
        };
        let image = self.asset.to_run_config(job, &self.runtime)?;
        Ok(TextConfig {
            prompts: crate::text_cmd::collect_prompts(&self.prompts, self.prompts_file.as_deref())?,
            model: self.model.clone(),
            request: TextRequest {
                steps: self.steps,
                guidance: self.guidance,
                negative: self.negative.clone().unwrap_or_default(),
                seed: self.seed,
                num_images: self.num_images,
                width: self.width,
                height: self.height,
            },
            raw_prompt: self.raw_prompt,
            image_only: self.image_only,
            image,
        })
    }
}
