//! The diffusion engine against diffusers and PyTorch: scheduler timesteps, sigmas and
//! ᾱ, `torch.randn` with a seeded CPU generator, and one full trajectory per scheduler
//! (fixed analytic "UNet", the generator's noise). The numbers are in
//! `tests/data/diffusion_reference.json`, written by `tools/diffusion_reference.py`
//! (diffusers 0.42.1, torch 2.15.0).

use std::path::{Path, PathBuf};

use img23d_models::diffusion::{
    Euler, EulerAncestral, SchedulerConfig, SchedulerKind, TorchGenerator, denoise,
};
use serde_json::Value;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn reference() -> Value {
    serde_json::from_str(&std::fs::read_to_string(data("diffusion_reference.json")).unwrap())
        .unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn config(case: &Value) -> SchedulerConfig {
    let text = serde_json::to_string(&case["config"]).unwrap();
    SchedulerConfig::from_json(&text, Path::new("diffusion_reference.json")).unwrap()
}

/// Each value within `rel` of the reference value.
fn assert_close(what: &str, got: &[f64], want: &[f64], rel: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let tol = rel * w.abs();
        assert!(
            (g - w).abs() <= tol,
            "{what}[{i}]: got {g}, diffusers {w} (tolerance {tol})"
        );
    }
}

/// Every value within `rel` of the reference tensor's largest magnitude.
fn assert_close_to_scale(what: &str, got: &[f64], want: &[f64], rel: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(0.0f64, |m, w| m.max(w.abs()));
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= rel * scale,
            "{what}[{i}]: got {g}, diffusers {w} (tolerance {rel} × {scale})"
        );
    }
}

/// The same float32 values (the JSON holds them as float64 decimals).
fn assert_same_f32(what: &str, got: &[f32], want: &[f64]) {
    let want: Vec<f32> = want.iter().map(|&w| w as f32).collect();
    assert_eq!(got, &want[..], "{what}");
}

fn to64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

#[test]
fn scheduler_timesteps_sigmas_and_alphas_match_diffusers() {
    let r = reference();
    let probe: Vec<usize> = r["probe"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let cases = r["schedulers"].as_object().unwrap();
    assert!(cases.len() >= 12);
    for (name, case) in cases {
        let cfg = config(case);
        let steps = case["steps"].as_u64().unwrap() as usize;
        let sched = cfg.build(steps).unwrap();
        assert_eq!(
            sched.timesteps(),
            &floats(&case["timesteps"])[..],
            "{name}: timesteps"
        );
        assert_close(
            &format!("{name}: init_noise_sigma"),
            &[f64::from(sched.init_noise_sigma())],
            &[case["init_noise_sigma"].as_f64().unwrap()],
            1e-6,
        );
        // betas and ᾱ bit for bit
        let ac = cfg.alphas_cumprod();
        let at_t: Vec<f32> = sched.timesteps().iter().map(|&t| ac[t as usize]).collect();
        assert_same_f32(
            &format!("{name}: alphas_cumprod"),
            &at_t,
            &floats(&case["alphas_cumprod_at_t"]),
        );
        if let Some(p) = case.get("alphas_cumprod_probe") {
            let got: Vec<f32> = probe.iter().map(|&i| ac[i]).collect();
            assert_same_f32(&format!("{name}: alphas_cumprod probe"), &got, &floats(p));
        }
        if let Some(s) = case.get("sigmas") {
            let sigmas = match cfg.kind {
                SchedulerKind::Euler => Euler::new(&cfg, steps).unwrap().sigmas().to_vec(),
                SchedulerKind::EulerAncestral => {
                    EulerAncestral::new(&cfg, steps).unwrap().sigmas().to_vec()
                }
                other => panic!("{name}: sigmas for {other:?}"),
            };
            // within one float32 ulp: torch's float32 `sqrt` (MKL's vector math) is not
            // always correctly rounded, Rust's is
            assert_close(&format!("{name}: sigmas"), &to64(&sigmas), &floats(s), 1e-6);
        }
    }
}

#[test]
fn seeded_noise_equals_torch_randn_bit_for_bit() {
    let r = reference();
    for (key, want) in r["randn"].as_object().unwrap() {
        let want = floats(want);
        if key == "3_then" {
            // three draws from one generator: 3, 3 (the float64 path with its cached
            // second normal), then 32 (the float32 block path)
            let mut g = TorchGenerator::new(3);
            let mut got = g.randn(3);
            got.extend(g.randn(3));
            got.extend(g.randn(32));
            assert_same_f32(key, &got, &want);
            continue;
        }
        let (seed, n) = key.split_once('_').unwrap();
        let mut g = TorchGenerator::new(seed.parse().unwrap());
        let got = g.randn(n.parse().unwrap());
        assert_same_f32(key, &got, &want);
    }
}

#[test]
fn whole_latent_tensors_equal_torch_randn() {
    use sha2::{Digest, Sha256};
    let r = reference();
    let cases = r["randn_sha256"].as_object().unwrap();
    assert_eq!(cases.len(), 3);
    for (key, want) in cases {
        let (seed, n) = key.split_once('_').unwrap();
        let v = TorchGenerator::new(seed.parse().unwrap()).randn(n.parse().unwrap());
        let mut h = Sha256::new();
        for x in &v {
            h.update(x.to_le_bytes());
        }
        let got: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got, want.as_str().unwrap(), "{key}");
    }
}

/// The script's `fake_unet`, in float32 in torch's operation order.
fn fake_unet(x: &[f32], t: f64) -> Vec<f32> {
    let a = (0.25 + t / 2000.0) as f32;
    let b = (0.01 * t / 1000.0) as f32;
    x.iter().map(|&v| ((v * v) * -0.002 + v * a) + b).collect()
}

#[test]
fn full_trajectories_match_diffusers() {
    let r = reference();
    let cases = r["trajectories"].as_object().unwrap();
    assert!(cases.len() >= 9);
    for (name, case) in cases {
        let cfg = config(case);
        let steps = case["steps"].as_u64().unwrap() as usize;
        let n: usize = case["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .product();
        let mut sched = cfg.build(steps).unwrap();
        let mut g = TorchGenerator::new(case["seed"].as_u64().unwrap());
        let mut x = denoise::initial_latents(&mut g, n, sched.init_noise_sigma());
        let mut unet = |inp: &[f32], t: f64| Ok(fake_unet(inp, t));
        denoise::denoise(sched.as_mut(), &mut g, &mut x, 0.0, &mut unet, &mut |_| {}).unwrap();
        // the 1-ulp sigma differences above are all that separates the two
        assert_close_to_scale(
            &format!("{name}: final latents"),
            &to64(&x),
            &floats(&case["final"]),
            1e-6,
        );
    }
}
