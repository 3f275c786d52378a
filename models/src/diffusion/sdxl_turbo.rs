//! SDXL-Turbo (Sauer et al., "Adversarial Diffusion Distillation", 2023; weights at
//! <https://huggingface.co/stabilityai/sdxl-turbo>, Stability AI non-commercial community
//! licence): SDXL 1.0 distilled to 1-4 steps without guidance, 512×512, two text encoders
//! (CLIP ViT-L and OpenCLIP ViT-bigG), in the Optimum ONNX layout
//! (`optimum-cli export onnx --model stabilityai/sdxl-turbo --task text-to-image DIR`).
//!
//! Defaults from its model card and `scheduler/scheduler_config.json`: Euler ancestral,
//! scaled-linear betas 0.00085..0.012, epsilon, trailing spacing; 1 step, guidance 0; VAE
//! scaling factor 0.13025 unless its `vae_decoder/config.json` says otherwise.

use super::SchedulerKind;
use super::presets::{Preset, turbo_scheduler};
use super::text_to_image::Family;

/// SDXL-Turbo's preset.
pub fn preset() -> Preset {
    Preset {
        name: "sdxl-turbo",
        family: Some(Family::Sdxl),
        steps: 1,
        guidance: 0.0,
        size: 512,
        max_size: 1024,
        scheduler: Some(turbo_scheduler(SchedulerKind::EulerAncestral)),
    }
}
