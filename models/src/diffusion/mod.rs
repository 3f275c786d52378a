//! The diffusion engine shared by the text-to-image models and Zero123++: schedulers,
//! PyTorch-compatible seeded noise, the CLIP tokenizer, and the denoising loop over
//! ONNX sessions in the Optimum layout.
//!
//! | module | what it does | mirrors |
//! |---|---|---|
//! | [`schedule`] | betas, ᾱ, timestep spacing, [`SchedulerConfig`] from `scheduler_config.json` | diffusers `schedulers/*` `__init__`, `set_timesteps` |
//! | [`euler`] | [`Euler`] (SD-Turbo) | `scheduling_euler_discrete.py` |
//! | [`euler_ancestral`] | [`EulerAncestral`] (SDXL-Turbo, Zero123++) | `scheduling_euler_ancestral_discrete.py` |
//! | [`ddim`] | [`Ddim`] (eta 0) | `scheduling_ddim.py` |
//! | [`lcm`] | [`Lcm`] | `scheduling_lcm.py` |
//! | [`tokenizer`] | [`ClipTokenizer`]: CLIP BPE from `vocab.json` + `merges.txt` | transformers `CLIPTokenizer` |
//! | [`noise`] | [`TorchGenerator`]: `torch.Generator("cpu")` and `torch.randn` | ATen's MT19937 and `normal_fill` |
//! | [`denoise`] | the step loop with classifier-free guidance and progress events | `StableDiffusionPipeline.__call__` |
//! | [`contracts`] | the Optimum layout's session contracts | optimum `model_configs.py` |
//! | [`text_to_image`] | [`TextToImage`]: an Optimum-layout SD / SDXL folder, prompt to picture | diffusers SD and SDXL pipelines |
//! | [`presets`], [`sd_turbo`], [`sdxl_turbo`] | [`Preset`]: a model's default steps, guidance, size and scheduler | the models' cards and configs |
//! | [`error`] | [`DiffusionError`] | |
//!
//! A scheduler is built for a step count from its configuration and driven step by step:
//!
//! ```
//! use img23d_models::diffusion::{PredictionType, SchedulerConfig, SchedulerKind, TimestepSpacing, TorchGenerator};
//!
//! let cfg = SchedulerConfig::stable_diffusion(
//!     SchedulerKind::Euler, PredictionType::Epsilon, TimestepSpacing::Trailing);
//! let mut sched = cfg.build(4)?;
//! assert_eq!(sched.timesteps(), [999.0, 749.0, 499.0, 249.0]);
//! let mut noise = TorchGenerator::new(42);
//! let mut latents = noise.randn(4 * 8 * 8);
//! latents.iter_mut().for_each(|x| *x *= sched.init_noise_sigma());
//! let mut unet_input = vec![0.0; latents.len()];
//! for i in 0..sched.timesteps().len() {
//!     sched.scale_model_input(i, &latents, &mut unet_input)?;
//!     let eps = vec![0.0f32; latents.len()]; // the UNet's prediction goes here
//!     sched.step(i, &eps, &mut latents, &mut noise)?;
//! }
//! # Ok::<(), img23d_models::Error>(())
//! ```

pub mod contracts;
pub mod ddim;
pub mod denoise;
pub mod error;
pub mod euler;
pub mod euler_ancestral;
pub mod lcm;
pub mod noise;
mod onnx;
pub mod presets;
pub mod schedule;
pub mod sd_turbo;
pub mod sdxl_turbo;
pub mod text_to_image;
pub mod tokenizer;

pub use ddim::{AlphaSchedule, Ddim};
pub use denoise::StepEvent;
pub use error::DiffusionError;
pub use euler::{Euler, SigmaSchedule};
pub use euler_ancestral::EulerAncestral;
pub use lcm::Lcm;
pub use noise::TorchGenerator;
pub use presets::Preset;
pub use schedule::{BetaSchedule, PredictionType, SchedulerConfig, SchedulerKind, TimestepSpacing};
pub use text_to_image::{Family, Generated, Request, TextToImage};
pub use tokenizer::ClipTokenizer;

/// The noise levels of a schedule for a fixed step count: the timesteps, the spread of
/// the initial noise, the UNet's input scaling and noising to a step's level. Two
/// implementations: [`euler::SigmaSchedule`] (the Euler family, in σ) and
/// [`ddim::AlphaSchedule`] (DDIM and LCM, in ᾱ).
pub trait NoiseSchedule: Send + Sync + std::fmt::Debug {
    /// The training timesteps the steps visit, first to last.
    fn timesteps(&self) -> &[f64];

    /// The spread of the initial noise.
    fn init_noise_sigma(&self) -> f32;

    /// The UNet's input at step `step` from the current latents, into `out` (same length).
    fn scale_model_input(&self, step: usize, sample: &[f32], out: &mut [f32]) -> crate::Result<()>;

    /// `original` noised to the level of step `step` with `noise`, into `out` (diffusers'
    /// `add_noise`; Zero123++ noises its reference latent this way).
    fn add_noise(
        &self,
        step: usize,
        original: &[f32],
        noise: &[f32],
        out: &mut [f32],
    ) -> crate::Result<()>;
}

/// One sampling algorithm with its schedule for a fixed step count.
///
/// The loop calls, for each step `i` in `0..timesteps().len()`: [`Self::scale_model_input`]
/// (the UNet's input), the UNet at `timesteps()[i]`, then [`Self::step`] (the latents in
/// place). Initial latents are standard normal noise times [`Self::init_noise_sigma`].
/// Implementations give their [`NoiseSchedule`] and their step; the rest follows.
pub trait Scheduler: Send + Sync + std::fmt::Debug {
    /// The schedule's noise levels.
    fn schedule(&self) -> &dyn NoiseSchedule;

    /// Advances `sample` by one step given the UNet's (guided) output; ancestral samplers
    /// draw their fresh noise from `noise`.
    fn step(
        &mut self,
        step: usize,
        model_output: &[f32],
        sample: &mut [f32],
        noise: &mut TorchGenerator,
    ) -> crate::Result<()>;

    /// The training timesteps the steps visit, first to last.
    fn timesteps(&self) -> &[f64] {
        self.schedule().timesteps()
    }

    /// The spread of the initial noise.
    fn init_noise_sigma(&self) -> f32 {
        self.schedule().init_noise_sigma()
    }

    /// The UNet's input at step `step` from the current latents, into `out` (same length).
    fn scale_model_input(&self, step: usize, sample: &[f32], out: &mut [f32]) -> crate::Result<()> {
        self.schedule().scale_model_input(step, sample, out)
    }

    /// `original` noised to the level of step `step` with `noise`, into `out`.
    fn add_noise(
        &self,
        step: usize,
        original: &[f32],
        noise: &[f32],
        out: &mut [f32],
    ) -> crate::Result<()> {
        self.schedule().add_noise(step, original, noise, out)
    }
}

/// Checks a step index and two buffer lengths.
pub(crate) fn check_step(steps: usize, step: usize, a: usize, b: usize) -> crate::Result<()> {
    if step >= steps {
        return Err(DiffusionError::Step(format!("step {step} of a {steps}-step schedule")).into());
    }
    if a != b {
        return Err(DiffusionError::Step(format!("buffers of {a} and {b} values")).into());
    }
    Ok(())
}
