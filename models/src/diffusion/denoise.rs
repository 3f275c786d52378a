//! The denoising loop shared by every diffusion model: scheduler steps around a UNet
//! call, with classifier-free guidance, one progress event per step.
//!
//! The caller supplies the network as a closure (the text-to-image UNet with its text
//! embeddings here; Zero123++'s two-pass UNet with its reference latent later), so the
//! loop, its buffers and the guidance arithmetic exist once. With guidance, the closure
//! receives a batch of two copies of the scaled latents (unconditional first, as
//! diffusers orders them) and returns both predictions; the guided prediction is
//! `uncond + g · (cond − uncond)` (diffusers' `StableDiffusionPipeline.__call__`).
//! Latent-sized buffers are allocated once per call, not per step.

use super::{DiffusionError, Scheduler, TorchGenerator};

/// One finished denoising step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepEvent {
    /// Steps done so far (1-based).
    pub step: usize,
    /// Steps in all.
    pub steps: usize,
    /// The training timestep of the step.
    pub timestep: f64,
}

/// Whether a guidance scale runs classifier-free guidance (two UNet batches): as in
/// diffusers, only above 1 (at 1 the guided prediction equals the conditional one; the
/// turbo models run at 0).
pub fn uses_guidance(scale: f32) -> bool {
    scale > 1.0
}

/// The initial latents: `n` standard normals from `noise` times `sigma`.
pub fn initial_latents(noise: &mut TorchGenerator, n: usize, sigma: f32) -> Vec<f32> {
    let mut v = noise.randn(n);
    for x in &mut v {
        *x *= sigma;
    }
    v
}

/// The UNet as the loop calls it: the model input (one or two batches of the latents'
/// size) and the timestep in, the prediction (same size) out.
pub type UnetFn<'a> = dyn FnMut(&[f32], f64) -> crate::Result<Vec<f32>> + 'a;

/// Runs every step of `scheduler` on `latents` in place.
pub fn denoise(
    scheduler: &mut dyn Scheduler,
    noise: &mut TorchGenerator,
    latents: &mut [f32],
    guidance: f32,
    unet: &mut UnetFn<'_>,
    progress: &mut dyn FnMut(StepEvent),
) -> crate::Result<()> {
    let n = latents.len();
    let guided = uses_guidance(guidance);
    let batch = if guided { 2 } else { 1 };
    let mut model_in = vec![0.0f32; n * batch];
    let mut combined = if guided { vec![0.0f32; n] } else { Vec::new() };
    let steps = scheduler.timesteps().len();
    for i in 0..steps {
        let t = scheduler.timesteps()[i];
        scheduler.scale_model_input(i, latents, &mut model_in[..n])?;
        if guided {
            let (a, b) = model_in.split_at_mut(n);
            b.copy_from_slice(a);
        }
        let out = unet(&model_in, t)?;
        if out.len() != n * batch {
            return Err(DiffusionError::Step(format!(
                "the UNet returned {} values for a batch of {batch} × {n}",
                out.len()
            ))
            .into());
        }
        let prediction: &[f32] = if guided {
            let (uncond, cond) = out.split_at(n);
            for ((c, &u), &t) in combined.iter_mut().zip(uncond).zip(cond) {
                *c = u + guidance * (t - u);
            }
            &combined
        } else {
            &out
        };
        scheduler.step(i, prediction, latents, noise)?;
        progress(StepEvent {
            step: i + 1,
            steps,
            timestep: t,
        });
    }
    Ok(())
}
