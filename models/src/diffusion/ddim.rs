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
use super::{NoiseSchedule, Scheduler, check_step, noise::TorchGenerator};

/// The schedule of DDIM and LCM: integer timesteps and ᾱ over the training timesteps (ᾱ
/// beyond the schedule is 1 with `set_alpha_to_one`, else ᾱ₀). The UNet input is not
/// scaled and the initial noise has sigma 1.
#[derive(Debug, Clone)]
pub struct AlphaSchedule {
    timesteps: Vec<f64>,
    alphas_cumprod: Vec<f32>,
    final_alpha: f32,
}

impl AlphaSchedule {
    /// The schedule with the given timesteps.
    pub(crate) fn new(cfg: &SchedulerConfig, timesteps: Vec<f64>) -> Self {
        let alphas_cumprod = cfg.alphas_cumprod();
        Self {
            final_alpha: if cfg.set_alpha_to_one {
                1.0
            } else {
                alphas_cumprod[0]
            },
            alphas_cumprod,
            timesteps,
        }
    }

    /// ᾱ at integer timestep `t`; the final ᾱ for negative ones.
    pub(crate) fn alpha_at(&self, t: i64) -> f32 {
        usize::try_from(t)
            .ok()
            .and_then(|i| self.alphas_cumprod.get(i).copied())
            .unwrap_or(self.final_alpha)
    }

    /// The timestep of `step`, after checking the index and two buffer lengths.
    pub(crate) fn timestep(&self, step: usize, a: usize, b: usize) -> crate::Result<f64> {
        check_step(self.timesteps.len(), step, a, b)?;
        Ok(self.timesteps[step])
    }
}

impl NoiseSchedule for AlphaSchedule {
    fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    fn init_noise_sigma(&self) -> f32 {
        1.0
    }

    fn scale_model_input(&self, step: usize, sample: &[f32], out: &mut [f32]) -> crate::Result<()> {
        self.timestep(step, sample.len(), out.len())?;
        out.copy_from_slice(sample);
        Ok(())
    }

    /// `√ᾱ_t x + √(1−ᾱ_t) noise` (DDPM-style).
    fn add_noise(
        &self,
        step: usize,
        original: &[f32],
        noise: &[f32],
        out: &mut [f32],
    ) -> crate::Result<()> {
        let t = self.timestep(step, original.len(), out.len())?;
        check_step(self.timesteps.len(), step, noise.len(), out.len())?;
        let a = self.alpha_at(t as i64);
        let (sa, sb) = (a.sqrt(), (1.0 - a).sqrt());
        for ((o, &x), &n) in out.iter_mut().zip(original).zip(noise) {
            *o = sa * x + sb * n;
        }
        Ok(())
    }
}

/// DDIM (eta 0) sampler for one step count.
#[derive(Debug, Clone)]
pub struct Ddim {
    schedule: AlphaSchedule,
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
        Ok(Self {
            schedule: AlphaSchedule::new(cfg, timesteps),
            ratio: cfg.num_train_timesteps / steps,
            prediction: cfg.prediction_type,
            clip: cfg.clip_sample.then_some(cfg.clip_sample_range as f32),
        })
    }
}

/// (x̂₀, ε̂) from the model output `m` and the sample `x` at ᾱ (`sa` = √ᾱ, `sb` = √(1−ᾱ)),
/// as DDIM computes them, x̂₀ clipped to `±clip` when set.
#[inline]
pub(crate) fn x0_eps_at_alpha(
    p: PredictionType,
    sa: f32,
    sb: f32,
    x: f32,
    m: f32,
    clip: Option<f32>,
) -> (f32, f32) {
    let (x0, eps) = match p {
        PredictionType::Epsilon => ((x - sb * m) / sa, m),
        PredictionType::Sample => (m, (x - sa * m) / sb),
        PredictionType::VPrediction => (sa * x - sb * m, sa * m + sb * x),
    };
    (clip.map_or(x0, |r| x0.clamp(-r, r)), eps)
}

impl Scheduler for Ddim {
    fn schedule(&self) -> &dyn NoiseSchedule {
        &self.schedule
    }

    fn step(
        &mut self,
        step: usize,
        model_output: &[f32],
        sample: &mut [f32],
        _noise: &mut TorchGenerator,
    ) -> crate::Result<()> {
        let t = self
            .schedule
            .timestep(step, model_output.len(), sample.len())? as i64;
        let a = self.schedule.alpha_at(t);
        let a_prev = self.schedule.alpha_at(t - self.ratio as i64);
        let (sa, sb) = (a.sqrt(), (1.0 - a).sqrt());
        let (sa_prev, dir) = (a_prev.sqrt(), (1.0 - a_prev).sqrt());
        for (x, &m) in sample.iter_mut().zip(model_output) {
            let (x0, eps) = x0_eps_at_alpha(self.prediction, sa, sb, *x, m, self.clip);
            *x = sa_prev * x0 + dir * eps;
        }
        Ok(())
    }
}
