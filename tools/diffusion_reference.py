#!/usr/bin/env python3
"""Reference numbers for img23d's diffusion engine (models/src/diffusion), from diffusers
and PyTorch themselves.

Prints, as JSON, for each scheduler case: the timesteps, the sigmas (Euler family) or
alphas_cumprod at the timesteps (DDIM/LCM), init_noise_sigma; torch.randn goldens for a
few seeds and sizes (>= 16 values, a size that is not a multiple of 16, one under 16,
and a draw after an under-16 draw); and one full denoising trajectory per scheduler with
a fixed analytic "UNet" and the generator's noise. The Rust tests in
models/tests/diffusion_reference.rs paste these numbers.

    pip install torch diffusers   # CPU torch is enough
    python tools/diffusion_reference.py > /tmp/diffusion_reference.json

Run with diffusers 0.42.1 and torch 2.15.0 (CPU capability AVX512) for the numbers in
the tests.
"""
import hashlib
import json
import os

import torch
from diffusers import (
    DDIMScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    LCMScheduler,
)

PROBE = [0, 1, 10, 250, 500, 998, 999]
SD = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1)

CASES = {
    # SD-Turbo's scheduler_config.json
    "euler_sd_turbo": (EulerDiscreteScheduler, dict(SD, timestep_spacing="trailing", prediction_type="epsilon"), [1, 4]),
    # fractional timesteps and leading spacing
    "euler_linspace_v": (EulerDiscreteScheduler, dict(SD, timestep_spacing="linspace", prediction_type="v_prediction"), [7]),
    "euler_leading_sample": (EulerDiscreteScheduler, dict(SD, timestep_spacing="leading", prediction_type="sample"), [3]),
    # SDXL-Turbo
    "euler_a_sdxl_turbo": (EulerAncestralDiscreteScheduler, dict(SD, timestep_spacing="trailing"), [1, 4]),
    # Zero123++ v1.2: linear betas, v-prediction, trailing
    "euler_a_zero123pp": (EulerAncestralDiscreteScheduler, dict(beta_start=0.00085, beta_end=0.012, beta_schedule="linear", timestep_spacing="trailing", prediction_type="v_prediction"), [28, 75]),
    "ddim_leading": (DDIMScheduler, dict(SD, clip_sample=False, set_alpha_to_one=False, timestep_spacing="leading"), [10]),
    "ddim_trailing_v": (DDIMScheduler, dict(SD, clip_sample=False, set_alpha_to_one=False, timestep_spacing="trailing", prediction_type="v_prediction"), [6]),
    "ddim_linspace_sample_clip": (DDIMScheduler, dict(beta_schedule="linear", timestep_spacing="linspace", prediction_type="sample", clip_sample=True), [7]),
    "lcm": (LCMScheduler, dict(SD, original_inference_steps=50), [4, 7]),
}


def f(x):
    return [float(v) for v in torch.as_tensor(x).flatten().tolist()]


def fake_unet(sample, t):
    """A smooth, non-linear stand-in for the network, made of float32 products and sums
    only (no transcendental function whose last bit depends on the math library), so the
    Rust test (models/tests/diffusion.rs, `fake_unet`) computes it bit for bit."""
    a = 0.25 + float(t) / 2000.0
    b = 0.01 * float(t) / 1000.0
    return sample * sample * -0.002 + sample * a + b


def trajectory(cls, cfg, steps, seed, shape):
    s = cls(**cfg)
    s.set_timesteps(steps)
    g = torch.Generator("cpu").manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float32) * s.init_noise_sigma
    for t in s.timesteps:
        inp = s.scale_model_input(x, t)
        out = fake_unet(inp, t)
        x = s.step(out, t, x, generator=g).prev_sample
    return f(x)


def main():
    out = {"versions": {"torch": torch.__version__, "cpu": torch.backends.cpu.get_cpu_capability()}}
    import diffusers

    out["versions"]["diffusers"] = diffusers.__version__
    sched = {}
    for name, (cls, cfg, step_list) in CASES.items():
        for n in step_list:
            s = cls(**cfg)
            s.set_timesteps(n)
            entry = {
                "config": dict(cfg, _class_name=cls.__name__),
                "steps": n,
                "timesteps": f(s.timesteps),
                "init_noise_sigma": float(s.init_noise_sigma),
            }
            if hasattr(s, "sigmas"):
                entry["sigmas"] = f(s.sigmas)
            ts = s.timesteps.long()
            entry["alphas_cumprod_at_t"] = f(s.alphas_cumprod[ts])
            sched[f"{name}_{n}"] = entry
        s = cls(**cfg)
        sched[f"{name}_{step_list[0]}"]["alphas_cumprod_probe"] = f(s.alphas_cumprod[PROBE])
    out["schedulers"] = sched

    noise = {}
    for seed, n in [(0, 64), (42, 16), (42, 20), (7, 5), (123456789, 4 * 8 * 8)]:
        g = torch.Generator("cpu").manual_seed(seed)
        noise[f"{seed}_{n}"] = f(torch.randn(n, generator=g))
    g = torch.Generator("cpu").manual_seed(3)
    first = f(torch.randn(3, generator=g))
    second = f(torch.randn(3, generator=g))
    third = f(torch.randn(32, generator=g))
    noise["3_then"] = first + second + third
    out["randn"] = noise
    # whole latent tensors, bit for bit: SHA-256 of the float32 little-endian bytes
    digests = {}
    for seed, shape in [(0, (1, 4, 64, 64)), (1, (1, 4, 128, 128)), (2024, (2, 4, 60, 40))]:
        g = torch.Generator("cpu").manual_seed(seed)
        t = torch.randn(shape, generator=g, dtype=torch.float32).contiguous()
        n = t.numel()
        digests[f"{seed}_{n}"] = hashlib.sha256(t.numpy().astype("<f4").tobytes()).hexdigest()
    out["randn_sha256"] = digests

    traj = {}
    shape = (1, 4, 4, 4)
    for name, (cls, cfg, step_list) in CASES.items():
        for n in step_list[:1]:
            traj[f"{name}_{n}"] = {
                "config": dict(cfg, _class_name=cls.__name__),
                "steps": n,
                "seed": 2024,
                "shape": list(shape),
                "final": trajectory(cls, cfg, n, 2024, shape),
            }
    out["trajectories"] = traj
    out["probe"] = PROBE
    path = os.path.join(os.path.dirname(__file__), "..", "models", "tests", "data", "diffusion_reference.json")
    with open(path, "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
