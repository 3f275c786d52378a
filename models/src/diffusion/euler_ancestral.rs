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

use super::euler::{SigmaSchedule, x0_at_sigma};
use super::schedule::{PredictionType, SchedulerConfig};
use super::{DiffusionError, NoiseSchedule, Scheduler, noise::TorchGenerator};

/// Euler ancestral sampler for one step count.
#[derive(Debug, Clone)]
pub struct EulerAncestral {
    schedule: SigmaSchedule,
    prediction: PredictionType,
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
        Ok(Self {
            schedule: SigmaSchedule::new(cfg, steps),
            prediction: cfg.prediction_type,
            noise: Vec::new(),
        })
    }

    /// The sigmas, one per step and a final 0.
    pub fn sigmas(&self) -> &[f32] {
        self.schedule.sigmas()
    }
}

impl Scheduler for EulerAncestral {
    fn schedule(&self) -> &dyn NoiseSchedule {
        &self.schedule
    }

    fn step(
        &mut self,
        step: usize,
        model_output: &[f32],
        sample: &mut [f32],
        noise: &mut TorchGenerator,
    ) -> crate::Result<()> {
        let (sigma, sigma_to) = self.schedule.pair(step, model_output.len(), sample.len())?;
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
}
