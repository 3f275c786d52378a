//! Latent-consistency sampling (diffusers' `LCMScheduler`, Luo et al. 2023), for
//! LCM-distilled folders.
//!
//! Timesteps come from the distillation's own grid (`k = T // original_inference_steps`,
//! `origin = [1..=original] · k − 1`, reversed, sampled at `floor(linspace(0, len, N))`);
//! the folder's `timestep_spacing` plays no part. Each step predicts x̂₀ at ᾱ_t, applies
//! the consistency boundary condition (`c_skip = σ_d²/((t·s)²+σ_d²)`, `c_out =
//! t·s/√((t·s)²+σ_d²)`, σ_d = 0.5, s = `timestep_scaling`) and, except at the last step,
//! re-noises to the next timestep with fresh generator noise. Float32 as in
//! `scheduling_lcm.py`, `step`.

use super::ddim::{AlphaSchedule, x0_eps_at_alpha};
use super::schedule::{PredictionType, SchedulerConfig};
use super::{DiffusionError, NoiseSchedule, Scheduler, noise::TorchGenerator};

/// σ_data of the consistency boundary condition.
const SIGMA_DATA: f32 = 0.5;

/// LCM sampler for one step count.
#[derive(Debug, Clone)]
pub struct Lcm {
    schedule: AlphaSchedule,
    prediction: PredictionType,
    clip: Option<f32>,
    timestep_scaling: f32,
    noise: Vec<f32>,
}

impl Lcm {
    /// The schedule of `cfg` for `steps` steps (at most `original_inference_steps`).
    pub fn new(cfg: &SchedulerConfig, steps: usize) -> crate::Result<Self> {
        let original = cfg.original_inference_steps;
        if steps > original {
            return Err(DiffusionError::Request {
                what: "LCM steps",
                expected: format!("at most original_inference_steps = {original}"),
                got: steps.to_string(),
            }
            .into());
        }
        let k = cfg.num_train_timesteps / original;
        let origin: Vec<usize> = (1..=original).rev().map(|i| i * k - 1).collect();
        let len = origin.len() as f64;
        let timesteps = (0..steps)
            .map(|i| {
                let idx = (i as f64 * (len / steps as f64)).floor() as usize;
                origin[idx] as f64
            })
            .collect();
        Ok(Self {
            schedule: AlphaSchedule::new(cfg, timesteps),
            prediction: cfg.prediction_type,
            clip: cfg.clip_sample.then_some(cfg.clip_sample_range as f32),
            timestep_scaling: cfg.timestep_scaling as f32,
            noise: Vec::new(),
        })
    }

    fn boundary(&self, t: f64) -> (f32, f32) {
        let scaled = t as f32 * self.timestep_scaling;
        let d2 = SIGMA_DATA * SIGMA_DATA;
        let c_skip = d2 / (scaled * scaled + d2);
        let c_out = scaled / (scaled * scaled + d2).sqrt();
        (c_skip, c_out)
    }
}

impl Scheduler for Lcm {
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
        let t = self
            .schedule
            .timestep(step, model_output.len(), sample.len())?;
        let steps = self.schedule.timesteps().len();
        let last = step + 1 == steps;
        let prev = if last {
            t
        } else {
            self.schedule.timesteps()[step + 1]
        };
        let a = self.schedule.alpha_at(t as i64);
        let a_prev = self.schedule.alpha_at(prev as i64);
        let (sa, sb) = (a.sqrt(), (1.0 - a).sqrt());
        let (c_skip, c_out) = self.boundary(t);
        for (x, &m) in sample.iter_mut().zip(model_output) {
            let (x0, _) = x0_eps_at_alpha(self.prediction, sa, sb, *x, m, self.clip);
            *x = c_out * x0 + c_skip * *x;
        }
        if !last {
            self.noise.resize(sample.len(), 0.0);
            noise.fill_randn(&mut self.noise);
            let (sa_prev, sb_prev) = (a_prev.sqrt(), (1.0 - a_prev).sqrt());
            for (x, &n) in sample.iter_mut().zip(&self.noise) {
                *x = sa_prev * *x + sb_prev * n;
            }
        }
        Ok(())
    }
}
