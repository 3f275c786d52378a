//! SD-Turbo (Sauer et al., "Adversarial Diffusion Distillation", 2023; weights at
//! <https://huggingface.co/stabilityai/sd-turbo>, Stability AI community licence): SD 2.1
//! distilled to 1-4 steps without guidance, 512×512, in the Optimum ONNX layout
//! (`optimum-cli export onnx --model stabilityai/sd-turbo --task text-to-image DIR`, or
//! `tools/export_text_to_image.py`).
//!
//! Defaults from its model card and `scheduler/scheduler_config.json`: Euler discrete,
//! scaled-linear betas 0.00085..0.012, epsilon, trailing spacing; 1 step, guidance 0.

use super::SchedulerKind;
use super::presets::{Preset, turbo_scheduler};
use super::text_to_image::Family;

/// SD-Turbo's preset.
pub fn preset() -> Preset {
    Preset {
        name: "sd-turbo",
        family: Some(Family::StableDiffusion),
        steps: 1,
        guidance: 0.0,
        size: 512,
        max_size: 1024,
        scheduler: Some(turbo_scheduler(SchedulerKind::Euler)),
    }
}
