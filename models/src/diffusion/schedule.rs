//! The noise schedule every scheduler shares, and [`SchedulerConfig`], the settings of a
//! model folder's `scheduler/scheduler_config.json`.
//!
//! Mirrors diffusers (`src/diffusers/schedulers/scheduling_euler_discrete.py`,
//! `scheduling_euler_ancestral_discrete.py`, `scheduling_ddim.py`, `scheduling_lcm.py`):
//!
//! * betas in float32 bit for bit as `torch.linspace` makes them (`linear`: from `beta_start` to
//!   `beta_end`; `scaled_linear`: from `sqrt(beta_start)` to `sqrt(beta_end)`, squared;
//!   `squaredcos_cap_v2`: the cosine schedule, max beta 0.999, in float64 then float32),
//!   alphas `1 - beta` in float32, `alphas_cumprod` their running product accumulated in
//!   float64 (torch's CPU `cumprod` accumulates float in double) and stored as float32;
//! * timestep spacing with numpy's exact arithmetic and rounding (half to even):
//!   `linspace` = `linspace(0, T-1, N)` reversed, `leading` = `arange(N) * (T // N)`
//!   reversed plus `steps_offset`, `trailing` = `round(arange(T, 0, -T/N)) - 1`. The
//!   float ratio matters: an integer ratio (candle's trailing) gives 29 steps for N = 28.
//!
//! Defaults of a missing key are diffusers' defaults for the scheduler class named in
//! `_class_name`.

use std::path::Path;

use serde::Deserialize;

use super::DiffusionError;
use super::Scheduler;
use super::ddim::Ddim;
use super::euler::Euler;
use super::euler_ancestral::EulerAncestral;
use super::lcm::Lcm;

/// How betas grow over the training timesteps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BetaSchedule {
    /// Evenly spaced from `beta_start` to `beta_end`.
    Linear,
    /// Evenly spaced square roots, squared (Stable Diffusion's).
    ScaledLinear,
    /// The cosine schedule of Nichol & Dhariwal ("glide cosine").
    #[serde(rename = "squaredcos_cap_v2")]
    SquaredcosCapV2,
}

/// What the UNet predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PredictionType {
    /// The added noise ε.
    Epsilon,
    /// The velocity `v = √ᾱ ε − √(1−ᾱ) x₀` (SD 2.x 768, Zero123++).
    VPrediction,
    /// The clean sample x₀.
    Sample,
}

/// Which training timesteps an N-step schedule visits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestepSpacing {
    /// `linspace(0, T-1, N)`, reversed.
    Linspace,
    /// `arange(N) * (T // N) + steps_offset`, reversed.
    Leading,
    /// `round(arange(T, 0, -T/N)) - 1` (starts at T-1: the turbo models, Zero123++).
    Trailing,
}

/// The sampling algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedulerKind {
    /// `EulerDiscreteScheduler` (SD-Turbo).
    Euler,
    /// `EulerAncestralDiscreteScheduler` (SDXL-Turbo, Zero123++).
    EulerAncestral,
    /// `DDIMScheduler` (eta 0).
    Ddim,
    /// `LCMScheduler` (latent-consistency distilled models).
    Lcm,
}

impl SchedulerKind {
    /// The diffusers class name.
    pub fn class_name(self) -> &'static str {
        match self {
            Self::Euler => "EulerDiscreteScheduler",
            Self::EulerAncestral => "EulerAncestralDiscreteScheduler",
            Self::Ddim => "DDIMScheduler",
            Self::Lcm => "LCMScheduler",
        }
    }

    /// The kind a diffusers class name stands for.
    pub fn from_class_name(name: &str) -> Result<Self, DiffusionError> {
        match name {
            "EulerDiscreteScheduler" => Ok(Self::Euler),
            "EulerAncestralDiscreteScheduler" => Ok(Self::EulerAncestral),
            "DDIMScheduler" => Ok(Self::Ddim),
            "LCMScheduler" => Ok(Self::Lcm),
            other => Err(DiffusionError::Unsupported {
                what: "scheduler class",
                found: other.to_string(),
                supported: SUPPORTED_CLASSES,
            }),
        }
    }
}

const SUPPORTED_CLASSES: &str =
    "EulerDiscreteScheduler, EulerAncestralDiscreteScheduler, DDIMScheduler, LCMScheduler";

/// A scheduler's settings: what `scheduler_config.json` holds, with diffusers' defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulerConfig {
    /// The algorithm.
    pub kind: SchedulerKind,
    /// Training timesteps T. By default, 1000.
    pub num_train_timesteps: usize,
    /// First beta. By default, 0.0001 (LCM: 0.00085; Stable Diffusion folders say 0.00085).
    pub beta_start: f64,
    /// Last beta. By default, 0.02 (LCM: 0.012; Stable Diffusion folders say 0.012).
    pub beta_end: f64,
    /// The beta schedule. By default, linear (LCM: scaled linear).
    pub beta_schedule: BetaSchedule,
    /// What the UNet predicts. By default, epsilon.
    pub prediction_type: PredictionType,
    /// The spacing. By default, linspace for Euler and Euler ancestral, leading for DDIM and
    /// LCM.
    pub timestep_spacing: TimestepSpacing,
    /// Added to `leading` timesteps. By default, 0 (Stable Diffusion folders say 1).
    pub steps_offset: usize,
    /// DDIM and LCM: clip the predicted x₀ to `±clip_sample_range`. By default, true for
    /// DDIM, false for LCM.
    pub clip_sample: bool,
    /// The clipping range. By default, 1.
    pub clip_sample_range: f64,
    /// DDIM and LCM: ᾱ beyond the last step is 1 (else ᾱ₀). By default, true.
    pub set_alpha_to_one: bool,
    /// LCM: the distillation's step count. By default, 50.
    pub original_inference_steps: usize,
    /// LCM: the boundary condition's timestep scaling. By default, 10.
    pub timestep_scaling: f64,
}

/// `scheduler_config.json` as written (every key optional).
#[derive(Debug, Deserialize)]
struct RawConfig {
    #[serde(rename = "_class_name")]
    class_name: String,
    num_train_timesteps: Option<usize>,
    beta_start: Option<f64>,
    beta_end: Option<f64>,
    beta_schedule: Option<BetaSchedule>,
    trained_betas: Option<serde_json::Value>,
    prediction_type: Option<PredictionType>,
    timestep_spacing: Option<TimestepSpacing>,
    steps_offset: Option<usize>,
    clip_sample: Option<bool>,
    clip_sample_range: Option<f64>,
    set_alpha_to_one: Option<bool>,
    original_inference_steps: Option<usize>,
    timestep_scaling: Option<f64>,
    use_karras_sigmas: Option<bool>,
    use_exponential_sigmas: Option<bool>,
    use_beta_sigmas: Option<bool>,
    interpolation_type: Option<String>,
    timestep_type: Option<String>,
    final_sigmas_type: Option<String>,
    rescale_betas_zero_snr: Option<bool>,
    thresholding: Option<bool>,
}

impl SchedulerConfig {
    /// diffusers' defaults for `kind` (what a config with only `_class_name` means).
    pub fn defaults(kind: SchedulerKind) -> Self {
        let (spacing, clip) = match kind {
            SchedulerKind::Euler | SchedulerKind::EulerAncestral => {
                (TimestepSpacing::Linspace, false)
            }
            SchedulerKind::Ddim => (TimestepSpacing::Leading, true),
            SchedulerKind::Lcm => (TimestepSpacing::Leading, false),
        };
        // LCMScheduler alone defaults to Stable Diffusion's betas
        let (beta_start, beta_end, beta_schedule) = match kind {
            SchedulerKind::Lcm => (0.00085, 0.012, BetaSchedule::ScaledLinear),
            _ => (0.0001, 0.02, BetaSchedule::Linear),
        };
        Self {
            kind,
            num_train_timesteps: 1000,
            beta_start,
            beta_end,
            beta_schedule,
            prediction_type: PredictionType::Epsilon,
            timestep_spacing: spacing,
            steps_offset: 0,
            clip_sample: clip,
            clip_sample_range: 1.0,
            set_alpha_to_one: true,
            original_inference_steps: 50,
            timestep_scaling: 10.0,
        }
    }

    /// Stable Diffusion's schedule (0.00085..0.012 scaled linear) for `kind`, with the
    /// given prediction type and spacing: what the turbo models' folders say.
    pub fn stable_diffusion(
        kind: SchedulerKind,
        prediction_type: PredictionType,
        timestep_spacing: TimestepSpacing,
    ) -> Self {
        Self {
            beta_start: 0.00085,
            beta_end: 0.012,
            beta_schedule: BetaSchedule::ScaledLinear,
            prediction_type,
            timestep_spacing,
            steps_offset: 1,
            clip_sample: false,
            set_alpha_to_one: false,
            ..Self::defaults(kind)
        }
    }

    /// Reads `scheduler_config.json`. Settings the engine does not implement (trained
    /// betas, Karras/exponential/beta sigmas, zero-SNR rescaling, thresholding, continuous
    /// timesteps) are errors rather than silently different pictures.
    pub fn from_file(path: &Path) -> crate::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| crate::Error::io(e, path))?;
        Self::from_json(&text, path)
    }

    /// Parses the text of a `scheduler_config.json` (`path` only names it in errors).
    pub fn from_json(text: &str, path: &Path) -> crate::Result<Self> {
        let bad = |reason: String| DiffusionError::Config {
            what: "scheduler config",
            reason,
            path: path.to_path_buf(),
        };
        let raw: RawConfig = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let kind = SchedulerKind::from_class_name(&raw.class_name)?;
        reject_unsupported(&raw)?;
        let d = Self::defaults(kind);
        let cfg = Self {
            kind,
            num_train_timesteps: raw.num_train_timesteps.unwrap_or(d.num_train_timesteps),
            beta_start: raw.beta_start.unwrap_or(d.beta_start),
            beta_end: raw.beta_end.unwrap_or(d.beta_end),
            beta_schedule: raw.beta_schedule.unwrap_or(d.beta_schedule),
            prediction_type: raw.prediction_type.unwrap_or(d.prediction_type),
            timestep_spacing: raw.timestep_spacing.unwrap_or(d.timestep_spacing),
            steps_offset: raw.steps_offset.unwrap_or(d.steps_offset),
            clip_sample: raw.clip_sample.unwrap_or(d.clip_sample),
            clip_sample_range: raw.clip_sample_range.unwrap_or(d.clip_sample_range),
            set_alpha_to_one: raw.set_alpha_to_one.unwrap_or(d.set_alpha_to_one),
            original_inference_steps: raw
                .original_inference_steps
                .unwrap_or(d.original_inference_steps),
            timestep_scaling: raw.timestep_scaling.unwrap_or(d.timestep_scaling),
        };
        cfg.validate().map_err(bad)?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), String> {
        if !(2..=100_000).contains(&self.num_train_timesteps) {
            return Err(format!(
                "num_train_timesteps must be within 2..=100000, got {}",
                self.num_train_timesteps
            ));
        }
        let betas_ok = self.beta_start.is_finite()
            && self.beta_end.is_finite()
            && self.beta_start > 0.0
            && self.beta_end < 1.0
            && self.beta_start <= self.beta_end;
        if self.beta_schedule != BetaSchedule::SquaredcosCapV2 && !betas_ok {
            return Err(format!(
                "betas must satisfy 0 < beta_start <= beta_end < 1, got {}..{}",
                self.beta_start, self.beta_end
            ));
        }
        if self.kind == SchedulerKind::Lcm
            && !(1..=self.num_train_timesteps).contains(&self.original_inference_steps)
        {
            return Err(format!(
                "original_inference_steps must be within 1..={}, got {}",
                self.num_train_timesteps, self.original_inference_steps
            ));
        }
        Ok(())
    }

    /// The schedule for `steps` denoising steps.
    pub fn build(&self, steps: usize) -> crate::Result<Box<dyn Scheduler>> {
        let max = self.max_steps();
        if steps == 0 || steps > max {
            return Err(DiffusionError::Request {
                what: "steps",
                expected: format!("1..={max}"),
                got: steps.to_string(),
            }
            .into());
        }
        Ok(match self.kind {
            SchedulerKind::Euler => Box::new(Euler::new(self, steps)?),
            SchedulerKind::EulerAncestral => Box::new(EulerAncestral::new(self, steps)?),
            SchedulerKind::Ddim => Box::new(Ddim::new(self, steps)?),
            SchedulerKind::Lcm => Box::new(Lcm::new(self, steps)?),
        })
    }

    /// The most steps the schedule allows (LCM: its original step count).
    pub fn max_steps(&self) -> usize {
        match self.kind {
            SchedulerKind::Lcm => self.original_inference_steps,
            _ => self.num_train_timesteps,
        }
    }

    /// `alphas_cumprod` (ᾱ) over the training timesteps, float32 as diffusers holds them.
    pub fn alphas_cumprod(&self) -> Vec<f32> {
        let betas = self.betas();
        let mut acc = 1.0f64;
        betas
            .iter()
            .map(|&b| {
                acc *= f64::from(1.0f32 - b);
                acc as f32
            })
            .collect()
    }

    /// The betas, float32.
    pub fn betas(&self) -> Vec<f32> {
        let t = self.num_train_timesteps;
        match self.beta_schedule {
            BetaSchedule::Linear => linspace_f32(self.beta_start, self.beta_end, t),
            BetaSchedule::ScaledLinear => {
                linspace_f32(self.beta_start.sqrt(), self.beta_end.sqrt(), t)
                    .into_iter()
                    .map(|b| b * b)
                    .collect()
            }
            BetaSchedule::SquaredcosCapV2 => {
                let alpha_bar = |x: f64| {
                    ((x + 0.008) / 1.008 * std::f64::consts::PI / 2.0)
                        .cos()
                        .powi(2)
                };
                (0..t)
                    .map(|i| {
                        let t1 = i as f64 / t as f64;
                        let t2 = (i + 1) as f64 / t as f64;
                        (1.0 - alpha_bar(t2) / alpha_bar(t1)).min(0.999) as f32
                    })
                    .collect()
            }
        }
    }

    /// The training timesteps an N-step schedule visits, first to last (float: linspace
    /// spacing falls between integers).
    pub fn timesteps(&self, steps: usize) -> Vec<f64> {
        let t = self.num_train_timesteps;
        let n = steps;
        match self.timestep_spacing {
            TimestepSpacing::Linspace => {
                let mut v = np_linspace(0.0, (t - 1) as f64, n);
                v.reverse();
                v
            }
            TimestepSpacing::Leading => {
                let ratio = t / n;
                (0..n)
                    .rev()
                    .map(|i| (i * ratio + self.steps_offset) as f64)
                    .collect()
            }
            TimestepSpacing::Trailing => {
                let ratio = t as f64 / n as f64;
                np_arange_desc(t as f64, 0.0, ratio)
                    .into_iter()
                    .map(|x| x.round_ties_even() - 1.0)
                    .collect()
            }
        }
    }
}

fn reject_unsupported(raw: &RawConfig) -> Result<(), DiffusionError> {
    let flag = |what: &'static str, on: Option<bool>| match on {
        Some(true) => Err(DiffusionError::Unsupported {
            what,
            found: "true".to_string(),
            supported: "false",
        }),
        _ => Ok(()),
    };
    flag("use_karras_sigmas", raw.use_karras_sigmas)?;
    flag("use_exponential_sigmas", raw.use_exponential_sigmas)?;
    flag("use_beta_sigmas", raw.use_beta_sigmas)?;
    flag("rescale_betas_zero_snr", raw.rescale_betas_zero_snr)?;
    flag("thresholding", raw.thresholding)?;
    if raw.trained_betas.as_ref().is_some_and(|v| !v.is_null()) {
        return Err(DiffusionError::Unsupported {
            what: "trained_betas",
            found: "a list".to_string(),
            supported: "null (betas from beta_schedule)",
        });
    }
    let text = |what: &'static str, v: &Option<String>, ok: &'static str| match v {
        Some(s) if s != ok => Err(DiffusionError::Unsupported {
            what,
            found: s.clone(),
            supported: ok,
        }),
        _ => Ok(()),
    };
    text("interpolation_type", &raw.interpolation_type, "linear")?;
    text("timestep_type", &raw.timestep_type, "discrete")?;
    text("final_sigmas_type", &raw.final_sigmas_type, "zero")?;
    Ok(())
}

/// `torch.linspace(start, end, n, dtype=torch.float32)`: start and end rounded to float32,
/// the step `(end - start) / (n - 1)` in float32, the first half counted up from `start`
/// and the second half down from `end` (ATen's CPU `linspace` kernel), each value one fused
/// multiply-add, as PyTorch's x86-64 release builds compute it (checked bit for bit by
/// `tests/diffusion.rs` against `tools/diffusion_reference.py`).
fn linspace_f32(start: f64, end: f64, n: usize) -> Vec<f32> {
    let (s, e) = (start as f32, end as f32);
    if n == 1 {
        return vec![s];
    }
    let step = (e - s) / (n - 1) as f32;
    let half = n / 2;
    (0..n)
        .map(|i| {
            if i < half {
                step.mul_add(i as f32, s)
            } else {
                (-step).mul_add((n - i - 1) as f32, e)
            }
        })
        .collect()
}

/// `numpy.linspace(start, stop, n)` in float64: `start + i * step`, the last value
/// exactly `stop`.
fn np_linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![start];
    }
    let step = (stop - start) / (n - 1) as f64;
    let mut v: Vec<f64> = (0..n).map(|i| start + i as f64 * step).collect();
    if let Some(last) = v.last_mut() {
        *last = stop;
    }
    v
}

/// `numpy.arange(start, stop, -step)` in float64 for `start > stop`: `ceil((start -
/// stop) / step)` values `start - i * step`.
fn np_arange_desc(start: f64, stop: f64, step: f64) -> Vec<f64> {
    let count = ((start - stop) / step).ceil() as usize;
    (0..count).map(|i| start + i as f64 * -step).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_spacing_uses_the_float_ratio() {
        let cfg = SchedulerConfig::stable_diffusion(
            SchedulerKind::EulerAncestral,
            PredictionType::VPrediction,
            TimestepSpacing::Trailing,
        );
        assert_eq!(cfg.timesteps(1), [999.0]);
        assert_eq!(cfg.timesteps(4), [999.0, 749.0, 499.0, 249.0]);
        let t28 = cfg.timesteps(28);
        assert_eq!(t28.len(), 28);
        assert_eq!(t28[0], 999.0);
        assert_eq!(*t28.last().unwrap(), 35.0);
    }

    #[test]
    fn leading_spacing_adds_the_offset() {
        let cfg = SchedulerConfig::stable_diffusion(
            SchedulerKind::Ddim,
            PredictionType::Epsilon,
            TimestepSpacing::Leading,
        );
        assert_eq!(cfg.timesteps(4), [751.0, 501.0, 251.0, 1.0]);
    }

    #[test]
    fn config_rejects_what_it_cannot_honour() {
        let p = Path::new("scheduler_config.json");
        let karras = r#"{"_class_name":"EulerDiscreteScheduler","use_karras_sigmas":true}"#;
        assert!(SchedulerConfig::from_json(karras, p).is_err());
        let pndm = r#"{"_class_name":"PNDMScheduler"}"#;
        let e = SchedulerConfig::from_json(pndm, p).unwrap_err().to_string();
        assert!(
            e.contains("PNDMScheduler") && e.contains("EulerDiscreteScheduler"),
            "{e}"
        );
        let bad = r#"{"_class_name":"DDIMScheduler","beta_start":0.5,"beta_end":0.1}"#;
        assert!(SchedulerConfig::from_json(bad, p).is_err());
        let ok = r#"{"_class_name":"EulerDiscreteScheduler","use_karras_sigmas":false,
            "beta_schedule":"scaled_linear","prediction_type":"v_prediction",
            "timestep_spacing":"trailing","steps_offset":1,"trained_betas":null}"#;
        let c = SchedulerConfig::from_json(ok, p).unwrap();
        assert_eq!(c.prediction_type, PredictionType::VPrediction);
        assert_eq!(c.timestep_spacing, TimestepSpacing::Trailing);
        assert_eq!(c.beta_start, 0.0001);
    }

    #[test]
    fn build_checks_the_step_count() {
        let cfg = SchedulerConfig::defaults(SchedulerKind::Euler);
        assert!(cfg.build(0).is_err());
        assert!(cfg.build(1001).is_err());
        assert_eq!(cfg.build(3).unwrap().timesteps().len(), 3);
    }
}
