//! Euler ancestral sampling (diffusers' `EulerAncestralDiscreteScheduler`): SDXL-Turbo's
//! and Zero123++'s scheduler.
//!
//! Same sigmas as [`Euler`](super::euler::Euler). Each step splits the next sigma into a
//! deterministic part `σ_down` and fresh noise `σ_up` (`σ_up = √(σ_to²(σ_from²−σ_to²)/σ_from²)`,
//! `σ_down = √(σ_to²−σ_up²)`), and draws that noise from the generator at every step, the
//! last one included (where `σ_up` is 0), so the generator's stream stays in step with
//! diffusers'. Float32 in diffusers' operation order
//! (`scheduling_euler_ancestral_discrete.py`, `step`); the `sample` prediction type is not
//! implemented there and is refused here.

use super::euler::{
    add_noise_sigma, init_noise_sigma, scale_by_sigma, sigma_schedule, x0_at_sigma,
};
use super::schedule::{PredictionType, SchedulerConfig};
use super::{DiffusionError, Scheduler, check_step, noise::TorchGenerator};

/// Euler ancestral sampler for one step count.
#[derive(Debug, Clone)]
pub struct EulerAncestral {
    timesteps: Vec<f64>,
    sigmas: Vec<f32>,
    prediction: PredictionType,
    init_sigma: f32,
    noise: Vec<f32>,
}

impl EulerAncestral {
    /// The schedule of `cfg` for `steps` steps.
    pub fn new(cfg: &SchedulerConfig, steps: usize) -> crate::Result<Self> {
        if cfg.prediction_type == PredictionType::Sample {
            return Err(DiffusionError::Unsupported {
                what: "prediction type for EulerAncestralDiscreteScheduler",
                found: "sample".to_string(),
                supported: "epsilon, v_prediction",
            }
            .into());
        }
        let (timesteps, sigmas) = sigma_schedule(cfg, steps);
        Ok(Self {
            init_sigma: init_noise_sigma(&sigmas, cfg.timestep_spacing),
            timesteps,
            sigmas,
            prediction: cfg.prediction_type,
            noise: Vec::new(),
        })
    }

    /// The sigmas, one per step and a final 0.
    pub fn sigmas(&self) -> &[f32] {
        &self.sigmas
    }
}

impl Scheduler for EulerAncestral {
    fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    fn init_noise_sigma(&self) -> f32 {
        self.init_sigma
    }

    fn scale_model_input(&self, step: usize, sample: &[f32], out: &mut [f32]) -> crate::Result<()> {
        check_step(self.timesteps.len(), step, sample.len(), out.len())?;
        scale_by_sigma(self.sigmas[step], sample, out);
        Ok(())
    }

    fn step(
        &mut self,
        step: usize,
        model_output: &[f32],
        sample: &mut [f32],
        noise: &mut TorchGenerator,
    ) -> crate::Result<()> {
        check_step(self.timesteps.len(), step, model_output.len(), sample.len())?;
        let sigma = self.sigmas[step];
        let sigma_to = self.sigmas[step + 1];
        let to2 = sigma_to * sigma_to;
        let sigma_up = (to2 * (sigma * sigma - to2) / (sigma * sigma)).sqrt();
        let sigma_down = (to2 - sigma_up * sigma_up).sqrt();
        let dt = sigma_down - sigma;
        self.noise.resize(sample.len(), 0.0);
        noise.fill_randn(&mut self.noise);
        let p = self.prediction;
        for ((x, &m), &n) in sample.iter_mut().zip(model_output).zip(&self.noise) {
            let x0 = x0_at_sigma(p, sigma, *x, m);
            let derivative = (*x - x0) / sigma;
            *x = (*x + derivative * dt) + n * sigma_up;
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
        add_noise_sigma(
            self.timesteps.len(),
            &self.sigmas,
            step,
            original,
            noise,
            out,
        )
    }
}
