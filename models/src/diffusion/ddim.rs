//! DDIM sampling with eta 0 (diffusers' `DDIMScheduler`, Song et al. 2021): the
//! deterministic sampler many Stable Diffusion folders name.
//!
//! A step predicts x̂₀ and ε̂ from the model output at ᾱ_t, optionally clips x̂₀, and
//! moves to `√ᾱ_prev x̂₀ + √(1−ᾱ_prev) ε̂`, where `prev = t − T // N` (diffusers uses the
//! integer ratio here even for trailing spacing) and ᾱ beyond the schedule is 1 or ᾱ₀
//! (`set_alpha_to_one`). Timesteps are integers (linspace rounded half to even). Float32
//! in diffusers' operation order (`scheduling_ddim.py`, `step`). The UNet input is not
//! scaled and the initial noise has sigma 1.

use super::schedule::{PredictionType, SchedulerConfig, TimestepSpacing};
use super::{Scheduler, check_step, noise::TorchGenerator};

/// DDIM (eta 0) sampler for one step count.
#[derive(Debug, Clone)]
pub struct Ddim {
    timesteps: Vec<f64>,
    alphas_cumprod: Vec<f32>,
    final_alpha: f32,
    ratio: usize,
    prediction: PredictionType,
    clip: Option<f32>,
}

impl Ddim {
    /// The schedule of `cfg` for `steps` steps.
    pub fn new(cfg: &SchedulerConfig, steps: usize) -> crate::Result<Self> {
        let mut timesteps = cfg.timesteps(steps);
        if cfg.timestep_spacing == TimestepSpacing::Linspace {
            for t in &mut timesteps {
                *t = t.round_ties_even();
            }
        }
        let alphas_cumprod = cfg.alphas_cumprod();
        Ok(Self {
            final_alpha: final_alpha(cfg, &alphas_cumprod),
            alphas_cumprod,
            timesteps,
            ratio: cfg.num_train_timesteps / steps,
            prediction: cfg.prediction_type,
            clip: cfg.clip_sample.then_some(cfg.clip_sample_range as f32),
        })
    }
}

/// ᾱ past the end of the schedule: 1 with `set_alpha_to_one`, else ᾱ₀.
pub(crate) fn final_alpha(cfg: &SchedulerConfig, alphas_cumprod: &[f32]) -> f32 {
    if cfg.set_alpha_to_one {
        1.0
    } else {
        alphas_cumprod[0]
    }
}

/// ᾱ at integer timestep `t`, or `fallback` for negative ones.
pub(crate) fn alpha_at(alphas_cumprod: &[f32], t: i64, fallback: f32) -> f32 {
    usize::try_from(t)
        .ok()
        .and_then(|i| alphas_cumprod.get(i).copied())
        .unwrap_or(fallback)
}

/// (x̂₀, ε̂) from the model output `m` and the sample `x` at ᾱ = `a` (β = 1 − ᾱ), as
/// DDIM computes them (`sa` = √ᾱ, `sb` = √β).
#[inline]
pub(crate) fn x0_eps_at_alpha(p: PredictionType, sa: f32, sb: f32, x: f32, m: f32) -> (f32, f32) {
    match p {
        PredictionType::Epsilon => ((x - sb * m) / sa, m),
        PredictionType::Sample => (m, (x - sa * m) / sb),
        PredictionType::VPrediction => (sa * x - sb * m, sa * m + sb * x),
    }
}

impl Scheduler for Ddim {
    fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    fn init_noise_sigma(&self) -> f32 {
        1.0
    }

    fn scale_model_input(&self, step: usize, sample: &[f32], out: &mut [f32]) -> crate::Result<()> {
        check_step(self.timesteps.len(), step, sample.len(), out.len())?;
        out.copy_from_slice(sample);
        Ok(())
    }

    fn step(
        &mut self,
        step: usize,
        model_output: &[f32],
        sample: &mut [f32],
        _noise: &mut TorchGenerator,
    ) -> crate::Result<()> {
        check_step(self.timesteps.len(), step, model_output.len(), sample.len())?;
        let t = self.timesteps[step] as i64;
        let prev = t - self.ratio as i64;
        let a = alpha_at(&self.alphas_cumprod, t, self.final_alpha);
        let a_prev = alpha_at(&self.alphas_cumprod, prev, self.final_alpha);
        let (sa, sb) = (a.sqrt(), (1.0 - a).sqrt());
        let (sa_prev, dir) = (a_prev.sqrt(), (1.0 - a_prev).sqrt());
        for (x, &m) in sample.iter_mut().zip(model_output) {
            let (mut x0, eps) = x0_eps_at_alpha(self.prediction, sa, sb, *x, m);
            if let Some(r) = self.clip {
                x0 = x0.clamp(-r, r);
            }
            *x = sa_prev * x0 + dir * eps;
        }
        Ok(())
    }

    fn add_noise(
        &self,
        step: usize,
        original: &[f32],
        noise: &[f32],
        out: &mut [f32],
    ) -> crate::Result<()> {
        add_noise_alpha(
            &self.timesteps,
            &self.alphas_cumprod,
            step,
            original,
            noise,
            out,
        )
    }
}

/// `√ᾱ_t x + √(1−ᾱ_t) noise` into `out` (DDPM-style `add_noise`).
pub(crate) fn add_noise_alpha(
    timesteps: &[f64],
    alphas_cumprod: &[f32],
    step: usize,
    original: &[f32],
    noise: &[f32],
    out: &mut [f32],
) -> crate::Result<()> {
    check_step(timesteps.len(), step, original.len(), out.len())?;
    check_step(timesteps.len(), step, noise.len(), out.len())?;
    let a = alpha_at(alphas_cumprod, timesteps[step] as i64, 1.0);
    let (sa, sb) = (a.sqrt(), (1.0 - a).sqrt());
    for ((o, &x), &n) in out.iter_mut().zip(original).zip(noise) {
        *o = sa * x + sb * n;
    }
    Ok(())
}
