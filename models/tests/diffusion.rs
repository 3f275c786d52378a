//! The diffusion engine against diffusers, PyTorch and transformers:
//!
//! * scheduler timesteps, sigmas and ᾱ, `torch.randn` with a seeded CPU generator, and one
//!   full trajectory per scheduler (fixed analytic "UNet", the generator's noise), from
//!   `tests/data/diffusion_reference.json` (`tools/diffusion_reference.py`, diffusers
//!   0.42.1, torch 2.15.0);
//! * the CLIP tokenizer against `transformers`' `CLIPTokenizer`, the known-answer UNets,
//!   and the tiny Optimum-layout folders of `tests/data/diffusion/` (contract checks, a
//!   whole generation equal to diffusers' `OnnxStableDiffusionPipeline`), from
//!   `tools/gen_diffusion_models.py`. These need the ONNX Runtime library
//!   (`python3 -m pip install onnxruntime==1.31.1`, or ORT_DYLIB_PATH).

use std::path::{Path, PathBuf};

use img23d_models::diffusion::{
    BetaSchedule, ClipTokenizer, Euler, EulerAncestral, Family, PredictionType, Request,
    SchedulerConfig, SchedulerKind, TextToImage, TimestepSpacing, TorchGenerator, denoise,
};
use img23d_models::runtime::{Device, RuntimeOptions};
use img23d_models::session::TensorView;
use img23d_models::{Contract, DType, Dim, ErrorKind, TensorSpec, load_session};
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

// ---- the tiny Optimum-layout folders (tools/gen_diffusion_models.py) ----

fn tiny(name: &str) -> PathBuf {
    data("diffusion").join(name)
}

fn tiny_reference() -> Value {
    serde_json::from_str(&std::fs::read_to_string(tiny("reference.json")).unwrap()).unwrap()
}

fn cpu() -> RuntimeOptions {
    RuntimeOptions::default().with_device(Device::Cpu)
}

fn ids(case: &Value) -> Vec<i64> {
    case["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect()
}

#[test]
fn tokenizer_equals_transformers_on_the_tiny_vocabulary() {
    let tok = ClipTokenizer::from_folder(&tiny("tiny_sd/tokenizer")).unwrap();
    let cases = tiny_reference()["tokenizer"].as_array().unwrap().clone();
    assert!(cases.len() >= 15);
    for case in &cases {
        let prompt = case["prompt"].as_str().unwrap();
        assert_eq!(tok.encode(prompt).to_vec(), ids(case), "{prompt:?}");
    }
}

/// Parity on the real 49408-token CLIP vocabulary, which is not committed: write it with
/// `python tools/clip_tokenizer_reference.py --write-vocab DIR`, then run this test with
/// `IMG23D_CLIP_VOCAB_DIR=DIR cargo test -p img23d-models --test diffusion -- --ignored`.
#[test]
#[ignore = "needs the real CLIP vocabulary in IMG23D_CLIP_VOCAB_DIR"]
fn tokenizer_equals_transformers_on_the_real_clip_vocabulary() {
    let dir = std::env::var("IMG23D_CLIP_VOCAB_DIR").expect("IMG23D_CLIP_VOCAB_DIR");
    let tok = ClipTokenizer::from_folder(Path::new(&dir)).unwrap();
    let r: Value = serde_json::from_str(
        &std::fs::read_to_string(data("clip_tokenizer_reference.json")).unwrap(),
    )
    .unwrap();
    for case in r["cases"].as_array().unwrap() {
        let prompt = case["prompt"].as_str().unwrap();
        assert_eq!(tok.encode(prompt).to_vec(), ids(case), "{prompt:?}");
    }
}

fn request(r: &Value) -> Request {
    Request {
        prompt: r["prompt"].as_str().unwrap().to_string(),
        negative: r["negative"].as_str().unwrap().to_string(),
        steps: r["steps"].as_u64().unwrap() as usize,
        guidance: r["guidance"].as_f64().unwrap() as f32,
        seed: r["seed"].as_u64().unwrap(),
        width: r["width"].as_u64().unwrap() as u32,
        height: r["height"].as_u64().unwrap() as u32,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The whole SD path (tokenizer, text encoder, Euler loop with and without guidance, VAE
/// decode, pixel mapping) against diffusers' `OnnxStableDiffusionPipeline` on the same
/// files, with the same seeded latents: the same picture, byte for byte.
#[test]
fn tiny_sd_pictures_equal_diffusers_onnx_pipeline() {
    let mut model = TextToImage::load(&tiny("tiny_sd"), &cpu(), None).unwrap();
    assert_eq!(model.family(), Family::StableDiffusion);
    assert_eq!(model.vae_scale(), 0.18215);
    assert_eq!(model.scheduler().kind, SchedulerKind::Euler);
    for r in tiny_reference()["tiny_sd"].as_array().unwrap() {
        let req = request(r);
        let mut events = Vec::new();
        let out = model.generate(&req, &mut |e| events.push(e)).unwrap();
        assert_eq!(events.len(), req.steps, "one progress event per step");
        assert_eq!(events.last().unwrap().step, req.steps);
        assert_eq!(
            (out.image.width(), out.image.height()),
            (req.width, req.height)
        );
        assert_eq!(
            sha256_hex(out.image.as_raw()),
            r["rgb_sha256"].as_str().unwrap(),
            "{req:?}: first values {:?}",
            &out.image.as_raw()[..24]
        );
    }
}

#[test]
fn tiny_sdxl_generates_deterministically_with_both_encoders() {
    let mut model = TextToImage::load(&tiny("tiny_sdxl"), &cpu(), None).unwrap();
    assert_eq!(model.family(), Family::Sdxl);
    assert_eq!(model.vae_scale(), 0.13025);
    assert_eq!(model.scheduler().kind, SchedulerKind::EulerAncestral);
    let mut req = Request {
        prompt: "a small green cactus in a pot".to_string(),
        negative: String::new(),
        steps: 2,
        guidance: 0.0,
        seed: 3,
        width: 40,
        height: 32,
    };
    let a = model.generate(&req, &mut |_| {}).unwrap();
    let b = model.generate(&req, &mut |_| {}).unwrap();
    assert_eq!(a.image, b.image, "same seed, same picture");
    assert_eq!(a.timesteps, [999.0, 499.0]);
    req.seed = 4;
    let c = model.generate(&req, &mut |_| {}).unwrap();
    assert_ne!(a.image, c.image, "another seed, another picture");
    // guidance with the empty negative prompt (zeros, force_zeros_for_empty_prompt) and
    // with a negative prompt both run the batch of two
    req.guidance = 5.0;
    let d = model.generate(&req, &mut |_| {}).unwrap();
    req.negative = "blurry".to_string();
    let e = model.generate(&req, &mut |_| {}).unwrap();
    assert_ne!(d.image, e.image);
    assert_ne!(c.image, d.image);
}

#[test]
fn requests_outside_the_limits_are_errors() {
    let mut model = TextToImage::load(&tiny("tiny_sd"), &cpu(), None).unwrap();
    let ok = Request {
        prompt: "x".to_string(),
        negative: String::new(),
        steps: 1,
        guidance: 0.0,
        seed: 0,
        width: 64,
        height: 64,
    };
    for bad in [
        Request {
            width: 60,
            ..ok.clone()
        },
        Request {
            height: 4,
            ..ok.clone()
        },
        Request {
            height: 4104,
            ..ok.clone()
        },
        Request {
            steps: 0,
            ..ok.clone()
        },
        Request {
            steps: 5000,
            ..ok.clone()
        },
        Request {
            guidance: -1.0,
            ..ok.clone()
        },
    ] {
        let e = model.generate(&bad, &mut |_| {}).unwrap_err();
        assert!(e.to_string().contains("expected"), "{e}");
    }
    assert!(model.generate(&ok, &mut |_| {}).is_ok());
}

/// A copy of tiny_sd with one file replaced or removed.
fn broken_copy(replace: &str, with: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&tiny("tiny_sd"), dir.path());
    let target = dir.path().join(replace);
    match with {
        Some(src) => {
            std::fs::copy(tiny(src), &target).unwrap();
        }
        None => std::fs::remove_file(&target).unwrap(),
    }
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

#[test]
fn contract_mismatches_and_missing_files_are_clear_errors() {
    let d = broken_copy("unet/model.onnx", Some("bad_unet_output_name.onnx"));
    let e = TextToImage::load(d.path(), &cpu(), None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Signature, "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("out_sample") && msg.contains("noise_pred"),
        "{msg}"
    );

    let d = broken_copy(
        "text_encoder/model.onnx",
        Some("bad_text_encoder_float_ids.onnx"),
    );
    let e = TextToImage::load(d.path(), &cpu(), None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Signature, "{e}");
    assert!(e.to_string().contains("input_ids"), "{e}");

    let d = broken_copy("vae_decoder/model.onnx", None);
    let e = TextToImage::load(d.path(), &cpu(), None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ModelFile, "{e}");
    assert!(e.to_string().contains("vae_decoder"), "{e}");

    let d = broken_copy("scheduler/scheduler_config.json", None);
    assert!(TextToImage::load(d.path(), &cpu(), None).is_err());
    let fallback = SchedulerConfig::defaults(SchedulerKind::Ddim);
    let m = TextToImage::load(d.path(), &cpu(), Some(&fallback)).unwrap();
    assert_eq!(m.scheduler().kind, SchedulerKind::Ddim);

    let d = broken_copy("tokenizer/merges.txt", None);
    let e = TextToImage::load(d.path(), &cpu(), None).unwrap_err();
    assert!(e.to_string().contains("merges.txt"), "{e}");
}

// ---- known-answer UNets ----

/// The known-answer UNets' contract: the latents and a float timestep.
const KAT_UNET: Contract = Contract {
    name: "known-answer UNet",
    version: 1,
    inputs: &[
        TensorSpec::new(
            &["sample"],
            &[DType::F32],
            &[Dim::Fixed(1), Dim::Fixed(4), Dim::Free, Dim::Free],
        ),
        TensorSpec::new(&["timestep"], &[DType::F32], &[]),
    ],
    outputs: &[TensorSpec::new(
        &["out_sample"],
        &[DType::F32],
        &[Dim::Fixed(1), Dim::Fixed(4), Dim::Free, Dim::Free],
    )],
    extra_outputs: false,
};

/// How a sampler run may be broken on purpose.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    None,
    /// The UNet sees the raw latents instead of `scale_model_input`'s.
    NoInputScaling,
}

/// Runs `cfg` for `steps` with the known-answer UNet in `file`; the final latents.
fn run_kat(
    file: &str,
    cfg: &SchedulerConfig,
    steps: usize,
    shape: &[usize],
    fault: Fault,
) -> Vec<f32> {
    let mut unet = load_session(&tiny(file), &KAT_UNET, &cpu()).unwrap();
    let mut sched = cfg.build(steps).unwrap();
    let n: usize = shape.iter().product();
    let mut g = TorchGenerator::new(11);
    let mut x = denoise::initial_latents(&mut g, n, sched.init_noise_sigma());
    let mut input = vec![0.0f32; n];
    for i in 0..steps {
        let t = sched.timesteps()[i];
        match fault {
            Fault::None => sched.scale_model_input(i, &x, &mut input).unwrap(),
            Fault::NoInputScaling => input.copy_from_slice(&x),
        }
        let t32 = [t as f32];
        let out = unet
            .run(&[TensorView::new(shape, &input), TensorView::new(&[], &t32)])
            .unwrap();
        sched.step(i, &out[0].data, &mut x, &mut g).unwrap();
    }
    x
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

#[test]
fn every_scheduler_lands_on_the_known_answer() {
    let kat = &tiny_reference()["kat"];
    let target: Vec<f32> = floats(&kat["target"]).iter().map(|&v| v as f32).collect();
    let shape: Vec<usize> = kat["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let cases = kat["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 20);
    for case in cases {
        let file = case["file"].as_str().unwrap();
        let cfg = config(case);
        let steps = case["steps"].as_u64().unwrap() as usize;
        assert_eq!(
            cfg.build(steps).unwrap().timesteps(),
            &floats(&case["timesteps"])[..],
            "{file}"
        );
        let x = run_kat(file, &cfg, steps, &shape, Fault::None);
        let err = max_abs_diff(&x, &target);
        assert!(err < 1e-4, "{file}: ends {err} away from the known answer");
    }
}

#[test]
fn a_wrong_sigma_spacing_scaling_or_prediction_misses_the_known_answer() {
    let kat = &tiny_reference()["kat"];
    let target: Vec<f32> = floats(&kat["target"]).iter().map(|&v| v as f32).collect();
    let shape = [1, 4, 3, 2];
    let case = |file: &str| {
        kat["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["file"] == file)
            .unwrap()
            .clone()
    };
    let misses = |file: &str, cfg: &SchedulerConfig, steps: usize, fault: Fault| {
        let x = run_kat(file, cfg, steps, &shape, fault);
        let err = max_abs_diff(&x, &target);
        assert!(
            err > 1e-2,
            "{file} with {cfg:?} / {fault:?} still lands ({err})"
        );
    };
    let c = case("kat_euler_eps_trailing_4.onnx");
    let good = config(&c);
    // the known answer is reachable with the right settings...
    assert!(
        max_abs_diff(
            &run_kat(
                "kat_euler_eps_trailing_4.onnx",
                &good,
                4,
                &shape,
                Fault::None
            ),
            &target
        ) < 1e-4
    );
    // ...and not with the wrong sigmas (linear instead of scaled-linear betas)
    let wrong_betas = SchedulerConfig {
        beta_schedule: BetaSchedule::Linear,
        ..good.clone()
    };
    misses(
        "kat_euler_eps_trailing_4.onnx",
        &wrong_betas,
        4,
        Fault::None,
    );
    // the wrong spacing (leading: 751, 501, 251, 1)
    let leading = SchedulerConfig {
        timestep_spacing: TimestepSpacing::Leading,
        ..good.clone()
    };
    misses("kat_euler_eps_trailing_4.onnx", &leading, 4, Fault::None);
    // no input scaling
    misses(
        "kat_euler_eps_trailing_4.onnx",
        &good,
        4,
        Fault::NoInputScaling,
    );
    // the wrong prediction type
    let v = SchedulerConfig {
        prediction_type: PredictionType::VPrediction,
        ..good.clone()
    };
    misses("kat_euler_eps_trailing_4.onnx", &v, 4, Fault::None);
    // 28-step ancestral v-prediction (Zero123++'s schedule) with a trailing ratio rounded
    // to an integer, as candle does, visits other timesteps
    let c = case("kat_euler_a_v_trailing_28.onnx");
    let za = config(&c);
    let leading = SchedulerConfig {
        timestep_spacing: TimestepSpacing::Leading,
        ..za.clone()
    };
    misses("kat_euler_a_v_trailing_28.onnx", &leading, 28, Fault::None);
    // DDIM with ᾱ of the wrong schedule (trailing: the last step starts at t = 249)
    let c = case("kat_ddim_v_trailing_4.onnx");
    let dd = config(&c);
    let wrong = SchedulerConfig {
        beta_schedule: BetaSchedule::Linear,
        ..dd.clone()
    };
    misses("kat_ddim_v_trailing_4.onnx", &wrong, 4, Fault::None);
    // LCM with the wrong prediction type
    let c = case("kat_lcm_v_4.onnx");
    let lcm = config(&c);
    let eps = SchedulerConfig {
        prediction_type: PredictionType::Epsilon,
        ..lcm.clone()
    };
    misses("kat_lcm_v_4.onnx", &eps, 4, Fault::None);
}

#[test]
fn presets_check_the_folder_family_and_supply_defaults() {
    use img23d_models::diffusion::{Preset, sd_turbo, sdxl_turbo};
    let sd = sd_turbo::preset();
    assert_eq!((sd.steps, sd.guidance, sd.size), (1, 0.0, 512));
    assert!(sd.load(&tiny("tiny_sd"), &cpu()).is_ok());
    let e = sd.load(&tiny("tiny_sdxl"), &cpu()).unwrap_err();
    assert!(e.to_string().contains("Sdxl"), "{e}");
    let xl = sdxl_turbo::preset();
    assert!(xl.load(&tiny("tiny_sdxl"), &cpu()).is_ok());
    assert!(xl.load(&tiny("tiny_sd"), &cpu()).is_err());
    // without a scheduler config, the preset's scheduler is used
    let d = broken_copy("scheduler/scheduler_config.json", None);
    let m = sd.load(d.path(), &cpu()).unwrap();
    assert_eq!(m.scheduler().kind, SchedulerKind::Euler);
    assert_eq!(m.scheduler().timestep_spacing, TimestepSpacing::Trailing);
    assert!(Preset::folder().load(d.path(), &cpu()).is_err());
}
