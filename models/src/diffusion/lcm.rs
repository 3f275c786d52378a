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

use super::ddim::{add_noise_alpha, alpha_at, final_alpha, x0_eps_at_alpha};
use super::schedule::{PredictionType, SchedulerConfig};
use super::{DiffusionError, Scheduler, check_step, noise::TorchGenerator};

/// σ_data of the consistency boundary condition.
const SIGMA_DATA: f32 = 0.5;

/// LCM sampler for one step count.
#[derive(Debug, Clone)]
pub struct Lcm {
    timesteps: Vec<f64>,
    alphas_cumprod: Vec<f32>,
    final_alpha: f32,
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
        let alphas_cumprod = cfg.alphas_cumprod();
        Ok(Self {
            final_alpha: final_alpha(cfg, &alphas_cumprod),
            alphas_cumprod,
            timesteps,
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
        noise: &mut TorchGenerator,
    ) -> crate::Result<()> {
        check_step(self.timesteps.len(), step, model_output.len(), sample.len())?;
        let t = self.timesteps[step];
        let last = step + 1 == self.timesteps.len();
        let prev = if last { t } else { self.timesteps[step + 1] };
        let a = alpha_at(&self.alphas_cumprod, t as i64, self.final_alpha);
        let a_prev = alpha_at(&self.alphas_cumprod, prev as i64, self.final_alpha);
        let (sa, sb) = (a.sqrt(), (1.0 - a).sqrt());
        let (c_skip, c_out) = self.boundary(t);
        for (x, &m) in sample.iter_mut().zip(model_output) {
            let (mut x0, _) = x0_eps_at_alpha(self.prediction, sa, sb, *x, m);
            if let Some(r) = self.clip {
                x0 = x0.clamp(-r, r);
            }
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
