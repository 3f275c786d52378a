//! Euler discrete sampling (diffusers' `EulerDiscreteScheduler`, Karras et al. 2022
//! Algorithm 2 without churn): SD-Turbo's scheduler.
//!
//! Sigmas `√((1−ᾱ)/ᾱ)` are interpolated linearly at the (possibly fractional) timesteps
//! and end with 0; the UNet sees `x / √(σ²+1)`; a step moves along the derivative
//! `(x − x̂₀) / σ` to the next sigma. Arithmetic is float32 in diffusers' operation order
//! (`scheduling_euler_discrete.py`, `step`).

use super::schedule::{PredictionType, SchedulerConfig, TimestepSpacing};
use super::{DiffusionError, NoiseSchedule, Scheduler, check_step, noise::TorchGenerator};

/// The Euler family's schedule: timesteps (float32-rounded, as diffusers stores them),
/// the sigmas interpolated at them with a final 0, and `init_noise_sigma`.
#[derive(Debug, Clone)]
pub struct SigmaSchedule {
    timesteps: Vec<f64>,
    sigmas: Vec<f32>,
    init_sigma: f32,
}

impl SigmaSchedule {
    /// The schedule of `cfg` for `steps` steps.
    pub fn new(cfg: &SchedulerConfig, steps: usize) -> Self {
        let timesteps: Vec<f64> = cfg
            .timesteps(steps)
            .into_iter()
            .map(|t| f64::from(t as f32))
            .collect();
        let train: Vec<f32> = cfg
            .alphas_cumprod()
            .iter()
            .map(|&a| ((1.0 - a) / a).sqrt())
            .collect();
        let mut sigmas: Vec<f32> = timesteps
            .iter()
            .map(|&t| interp(&train, t) as f32)
            .collect();
        sigmas.push(0.0);
        Self {
            init_sigma: init_noise_sigma(&sigmas, cfg.timestep_spacing),
            timesteps,
            sigmas,
        }
    }

    /// The sigmas, one per step and a final 0.
    pub fn sigmas(&self) -> &[f32] {
        &self.sigmas
    }

    /// σ at `step` and at the step after, after checking the index and buffer lengths.
    pub(crate) fn pair(&self, step: usize, a: usize, b: usize) -> crate::Result<(f32, f32)> {
        check_step(self.timesteps.len(), step, a, b)?;
        Ok((self.sigmas[step], self.sigmas[step + 1]))
    }
}

impl NoiseSchedule for SigmaSchedule {
    fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    fn init_noise_sigma(&self) -> f32 {
        self.init_sigma
    }

    /// `x / √(σ²+1)`.
    fn scale_model_input(&self, step: usize, sample: &[f32], out: &mut [f32]) -> crate::Result<()> {
        let (sigma, _) = self.pair(step, sample.len(), out.len())?;
        let s = (sigma * sigma + 1.0).sqrt();
        for (o, &x) in out.iter_mut().zip(sample) {
            *o = x / s;
        }
        Ok(())
    }

    /// `x + noise · σ`.
    fn add_noise(
        &self,
        step: usize,
        original: &[f32],
        noise: &[f32],
        out: &mut [f32],
    ) -> crate::Result<()> {
        let (sigma, _) = self.pair(step, original.len(), out.len())?;
        if noise.len() != original.len() {
            return Err(DiffusionError::Step(format!(
                "noise has {} values, the sample {}",
                noise.len(),
                original.len()
            ))
            .into());
        }
        for ((o, &x), &n) in out.iter_mut().zip(original).zip(noise) {
            *o = x + n * sigma;
        }
        Ok(())
    }
}

/// Euler discrete sampler for one step count.
#[derive(Debug, Clone)]
pub struct Euler {
    schedule: SigmaSchedule,
    prediction: PredictionType,
}

impl Euler {
    /// The schedule of `cfg` for `steps` steps.
    pub fn new(cfg: &SchedulerConfig, steps: usize) -> crate::Result<Self> {
        Ok(Self {
            schedule: SigmaSchedule::new(cfg, steps),
            prediction: cfg.prediction_type,
        })
    }

    /// The sigmas, one per step and a final 0.
    pub fn sigmas(&self) -> &[f32] {
        self.schedule.sigmas()
    }
}

/// `numpy.interp(t, arange(len(ys)), ys)`: linear between neighbours, clamped at the ends.
fn interp(ys: &[f32], t: f64) -> f64 {
    let last = ys.len() - 1;
    if t <= 0.0 {
        return f64::from(ys[0]);
    }
    if t >= last as f64 {
        return f64::from(ys[last]);
    }
    let i = t.floor() as usize;
    let (y0, y1) = (f64::from(ys[i]), f64::from(ys[i + 1]));
    let frac = t - i as f64;
    // numpy: slope * (x - xp[j]) + fp[j]
    (y1 - y0) * frac + y0
}

/// diffusers' `init_noise_sigma`: the largest sigma for linspace/trailing spacing,
/// `√(σ_max²+1)` for leading.
fn init_noise_sigma(sigmas: &[f32], spacing: TimestepSpacing) -> f32 {
    let max = sigmas.iter().copied().fold(0.0f32, f32::max);
    match spacing {
        TimestepSpacing::Linspace | TimestepSpacing::Trailing => max,
        TimestepSpacing::Leading => (max * max + 1.0).sqrt(),
    }
}

/// The predicted clean sample at sigma `sigma`, from the model output `m` and sample `x`.
#[inline]
pub(crate) fn x0_at_sigma(prediction: PredictionType, sigma: f32, x: f32, m: f32) -> f32 {
    match prediction {
        PredictionType::Epsilon => x - sigma * m,
        PredictionType::VPrediction => {
            let s2 = sigma * sigma + 1.0;
            m * (-sigma / s2.sqrt()) + x / s2
        }
        PredictionType::Sample => m,
    }
}

impl Scheduler for Euler {
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
        let (sigma, next) = self.schedule.pair(step, model_output.len(), sample.len())?;
        let dt = next - sigma;
        let p = self.prediction;
        for (x, &m) in sample.iter_mut().zip(model_output) {
            let x0 = x0_at_sigma(p, sigma, *x, m);
            let derivative = (*x - x0) / sigma;
            *x += derivative * dt;
        }
        Ok(())
    }
}
