//! Text to image with a Stable Diffusion folder in the Optimum ONNX layout (SD 1.x, 2.x,
//! SD-Turbo, LCM-distilled SD, SDXL, SDXL-Turbo): tokenizer(s) → text encoder(s) → the
//! denoising loop over the UNet → VAE decoder → an RGB picture.
//!
//! The folder, as `optimum-cli export onnx` writes it:
//!
//! ```text
//! model_index.json              (optional; SDXL: force_zeros_for_empty_prompt)
//! scheduler/scheduler_config.json
//! tokenizer/{vocab.json,merges.txt,special_tokens_map.json}
//! text_encoder/model.onnx
//! tokenizer_2/, text_encoder_2/model.onnx      (SDXL only: their presence means SDXL)
//! unet/model.onnx (+ model.onnx_data)
//! vae_decoder/model.onnx, vae_decoder/config.json (scaling_factor)
//! ```
//!
//! Every session is checked against [`super::contracts`] when it loads. What the steps
//! mirror (diffusers `pipelines/stable_diffusion/pipeline_stable_diffusion.py` and
//! `pipelines/stable_diffusion_xl/pipeline_stable_diffusion_xl.py`):
//!
//! * SD: the embedding is the text encoder's `last_hidden_state`; with guidance the
//!   negative prompt (empty by default) is encoded the same way;
//! * SDXL: the embedding is the penultimate hidden states of both encoders concatenated
//!   (`hidden_states[-2]`), the pooled embedding is `text_embeds` of the second; `time_ids`
//!   are `[H, W, 0, 0, H, W]`; with guidance and no negative prompt, the negative
//!   embeddings are zeros when `force_zeros_for_empty_prompt` (the default);
//! * LCM UNets take the guidance embedding `timestep_cond` (`get_guidance_scale_embedding`
//!   of `guidance − 1`, sinusoidal, log 10000 spread) and run without a second batch;
//! * latents `[1,4,H/8,W/8]` from the seeded generator times `init_noise_sigma`, divided by
//!   the VAE's `scaling_factor` before decoding; the picture is `(x/2 + 0.5)` clamped,
//!   times 255, rounded.

use std::path::{Path, PathBuf};

use image::RgbImage;

use super::contracts::{
    TEXT_ENCODER, TEXT_ENCODER_2, UNET, UNET_BATCH_TIMESTEP, UNET_LCM, UNET_SDXL,
    UNET_SDXL_BATCH_TIMESTEP, VAE_DECODER,
};
use super::denoise::{self, StepEvent};
use super::onnx::{self, Data, Feed};
use super::tokenizer::{ClipTokenizer, MAX_LENGTH};
use super::{DiffusionError, SchedulerConfig, TorchGenerator};
use crate::error::{Error, Result};
use crate::runtime::RuntimeOptions;
use crate::session::{Contract, DType, LoadedSession, load_session, load_session_any};

/// Latent channels of the Stable Diffusion VAE.
const LATENT_CHANNELS: usize = 4;
/// Pixels per latent cell.
pub const VAE_FACTOR: usize = 8;
/// The smallest and largest picture side accepted (multiples of 8).
pub const SIDE_LIMITS: (u32, u32) = (8, 4096);
/// diffusers' default VAE scaling factor for SD 1.x/2.x (`AutoencoderKL` config).
pub const SD_VAE_SCALE: f32 = 0.18215;
/// The SDXL VAE's scaling factor (its `vae/config.json`).
pub const SDXL_VAE_SCALE: f32 = 0.13025;

/// Which pipeline a folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// One CLIP text encoder (SD 1.x, 2.x, SD-Turbo, LCM).
    StableDiffusion,
    /// Two text encoders, pooled embedding and time ids (SDXL, SDXL-Turbo).
    Sdxl,
}

/// One generation request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The prompt.
    pub prompt: String,
    /// The negative prompt (used only with guidance). Empty: none.
    pub negative: String,
    /// Denoising steps.
    pub steps: usize,
    /// Classifier-free guidance scale ([`denoise::uses_guidance`] says when it applies).
    pub guidance: f32,
    /// The seed of the generator for the initial latents and ancestral noise.
    pub seed: u64,
    /// Picture width in pixels (multiple of 8).
    pub width: u32,
    /// Picture height in pixels (multiple of 8).
    pub height: u32,
}

/// A generated picture with what made it.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The picture.
    pub image: RgbImage,
    /// The seed used.
    pub seed: u64,
    /// The timesteps visited.
    pub timesteps: Vec<f64>,
    /// Whether the prompt was longer than the text encoder's 77 tokens and was cut.
    pub truncated: bool,
}

#[derive(Debug)]
struct TextEncoder {
    tokenizer: ClipTokenizer,
    session: LoadedSession,
    ids_i64: bool,
    /// The output holding the embedding (`last_hidden_state` or `hidden_states.N`).
    embedding: String,
}

/// Which extra inputs a UNet takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UnetLayout {
    /// `sample`, `timestep`, `encoder_hidden_states`.
    Plain,
    /// Plus SDXL's `text_embeds` and `time_ids`.
    Sdxl,
    /// Plus LCM's `timestep_cond`.
    Lcm,
}

#[derive(Debug)]
struct Unet {
    session: LoadedSession,
    layout: UnetLayout,
    timestep_i64: bool,
    timestep_batched: bool,
    cond_dim: usize,
}

/// A loaded text-to-image folder.
#[derive(Debug)]
pub struct TextToImage {
    folder: PathBuf,
    family: Family,
    encoder: TextEncoder,
    encoder_2: Option<TextEncoder>,
    unet: Unet,
    vae_decoder: LoadedSession,
    scheduler: SchedulerConfig,
    vae_scale: f32,
    force_zeros_for_empty_prompt: bool,
}

/// A folder's file, or [`Error::ModelMissing`] naming it.
fn need(folder: &Path, rel: &str, model: &str) -> Result<PathBuf> {
    let p = folder.join(rel);
    if p.exists() {
        Ok(p)
    } else {
        Err(Error::ModelMissing {
            model: model.to_string(),
            hint: format!(
                "the folder is not a complete Optimum ONNX export ({rel} is missing); \
                 export one with tools/export_text_to_image.py"
            ),
            path: p,
        })
    }
}

impl TextToImage {
    /// Loads the folder. `default_scheduler` is used when the folder has no
    /// `scheduler/scheduler_config.json`.
    pub fn load(
        folder: &Path,
        opts: &RuntimeOptions,
        default_scheduler: Option<&SchedulerConfig>,
    ) -> Result<Self> {
        let _span = tracing::info_span!("text_to_image_load", folder = %folder.display()).entered();
        let model = folder.display().to_string();
        let family = if folder.join("text_encoder_2").is_dir() {
            Family::Sdxl
        } else {
            Family::StableDiffusion
        };
        let scheduler = match folder.join("scheduler/scheduler_config.json") {
            p if p.is_file() => SchedulerConfig::from_file(&p)?,
            p => match default_scheduler {
                Some(s) => s.clone(),
                None => {
                    return Err(Error::ModelMissing {
                        model,
                        hint: "the folder has no scheduler config".to_string(),
                        path: p,
                    });
                }
            },
        };
        let sdxl = family == Family::Sdxl;
        let encoder = TextEncoder::load(folder, "tokenizer", "text_encoder", false, sdxl, opts)?;
        let encoder_2 = if sdxl {
            Some(TextEncoder::load(
                folder,
                "tokenizer_2",
                "text_encoder_2",
                true,
                true,
                opts,
            )?)
        } else {
            None
        };
        let unet = Unet::load(&need(folder, "unet/model.onnx", &model)?, family, opts)?;
        let vae_path = need(folder, "vae_decoder/model.onnx", &model)?;
        let vae_decoder = load_session(&vae_path, &VAE_DECODER, opts)?;
        let default_scale = if sdxl { SDXL_VAE_SCALE } else { SD_VAE_SCALE };
        let vae_scale = read_vae_scale(folder)?.unwrap_or(default_scale);
        let force_zeros_for_empty_prompt = read_force_zeros(folder)?.unwrap_or(sdxl);
        let this = Self {
            folder: folder.to_path_buf(),
            family,
            encoder,
            encoder_2,
            unet,
            vae_decoder,
            scheduler,
            vae_scale,
            force_zeros_for_empty_prompt,
        };
        this.check_cond_dim()?;
        Ok(this)
    }

    fn check_cond_dim(&self) -> Result<()> {
        // last_hidden_state: output 0 of TEXT_ENCODER, output 1 of TEXT_ENCODER_2
        let enc_dim = |e: &TextEncoder| -> Option<i64> {
            let last_hidden = e.session.contract().outputs.len() - 1;
            e.session.output(last_hidden)?.shape.get(2).copied()
        };
        let dims: Vec<i64> = [Some(&self.encoder), self.encoder_2.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(enc_dim)
            .collect();
        let total = if dims.iter().all(|&d| d > 0) {
            dims.iter().sum::<i64>()
        } else {
            -1
        };
        let unet = self.unet.cond_dim as i64;
        if total > 0 && unet > 0 && total != unet {
            return Err(Error::SignatureMismatch {
                contract: self.unet.session.contract().name.to_string(),
                version: self.unet.session.contract().version,
                problems: format!(
                    "encoder_hidden_states has width {unet}, the text encoder(s) give {total}"
                ),
                path: self.unet.session.path().to_path_buf(),
            });
        }
        Ok(())
    }

    /// SD or SDXL.
    pub fn family(&self) -> Family {
        self.family
    }

    /// The scheduler settings in use.
    pub fn scheduler(&self) -> &SchedulerConfig {
        &self.scheduler
    }

    /// Replaces the scheduler settings (a caller that knows better than the folder).
    pub fn set_scheduler(&mut self, cfg: SchedulerConfig) {
        self.scheduler = cfg;
    }

    /// The VAE scaling factor in use.
    pub fn vae_scale(&self) -> f32 {
        self.vae_scale
    }

    /// The folder.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// The execution provider of the UNet (where the heavy work runs).
    pub fn execution_provider(&self) -> crate::session::ExecutionProvider {
        self.unet.session.execution_provider()
    }

    /// Generates one picture; `progress` hears one event per denoising step.
    pub fn generate(
        &mut self,
        req: &Request,
        progress: &mut dyn FnMut(StepEvent),
    ) -> Result<Generated> {
        let _span =
            tracing::info_span!("text_to_image", steps = req.steps, seed = req.seed).entered();
        let (h, w) = latent_size(req)?;
        let mut scheduler = self.scheduler.build(req.steps)?;
        let lcm = self.unet.layout == UnetLayout::Lcm;
        let guided = denoise::uses_guidance(req.guidance) && !lcm;
        let (cond, truncated) = self.encode(&req.prompt)?;
        let zeros = self.family == Family::Sdxl
            && req.negative.is_empty()
            && self.force_zeros_for_empty_prompt;
        let uncond = match (guided, zeros) {
            (false, _) => None,
            (true, true) => Some(Embedding {
                hidden: vec![0.0; cond.hidden.len()],
                pooled: vec![0.0; cond.pooled.len()],
            }),
            (true, false) => Some(self.encode(&req.negative)?.0),
        };
        let n = LATENT_CHANNELS * h * w;
        let mut noise = TorchGenerator::new(req.seed);
        let mut latents = denoise::initial_latents(&mut noise, n, scheduler.init_noise_sigma());
        let batch = if guided { 2 } else { 1 };
        let hidden = stack(uncond.as_ref().map(|u| &u.hidden[..]), &cond.hidden);
        let pooled = stack(uncond.as_ref().map(|u| &u.pooled[..]), &cond.pooled);
        let time_ids: Vec<f32> = [req.height, req.width, 0, 0, req.height, req.width]
            .iter()
            .map(|&v| v as f32)
            .cycle()
            .take(6 * batch)
            .collect();
        let timestep_cond = if lcm {
            guidance_embedding(req.guidance - 1.0, self.unet.timestep_cond_dim())
        } else {
            Vec::new()
        };
        let width = cond.hidden.len() / MAX_LENGTH;
        let pooled_width = cond.pooled.len();
        let unet = &mut self.unet;
        let sample_shape = [batch, LATENT_CHANNELS, h, w];
        let hidden_shape = [batch, MAX_LENGTH, width];
        let pooled_shape = [batch, pooled_width];
        let time_shape = [batch, 6];
        let cond_shape = [batch, timestep_cond.len()];
        let mut run_unet = |x: &[f32], t: f64| -> Result<Vec<f32>> {
            let t_f = [t as f32; 2];
            let t_i = [t as i64; 2];
            let t_shape: &[usize] = if unet.timestep_batched {
                &[batch][..]
            } else {
                &[]
            };
            let t_len = if unet.timestep_batched { batch } else { 1 };
            let t_data = if unet.timestep_i64 {
                Data::I64(&t_i[..t_len])
            } else {
                Data::F32(&t_f[..t_len])
            };
            let mut feeds = vec![
                Feed {
                    shape: &sample_shape,
                    data: Data::F32(x),
                },
                Feed {
                    shape: t_shape,
                    data: t_data,
                },
                Feed {
                    shape: &hidden_shape,
                    data: Data::F32(&hidden),
                },
            ];
            match unet.layout {
                UnetLayout::Sdxl => {
                    feeds.push(Feed {
                        shape: &pooled_shape,
                        data: Data::F32(&pooled),
                    });
                    feeds.push(Feed {
                        shape: &time_shape,
                        data: Data::F32(&time_ids),
                    });
                }
                UnetLayout::Lcm => {
                    feeds.push(Feed {
                        shape: &cond_shape,
                        data: Data::F32(&timestep_cond),
                    });
                }
                UnetLayout::Plain => {}
            }
            let mut out = onnx::run(&mut unet.session, &feeds, &["out_sample"])?;
            Ok(out.swap_remove(0).1)
        };
        let guidance = if guided { req.guidance } else { 0.0 };
        denoise::denoise(
            scheduler.as_mut(),
            &mut noise,
            &mut latents,
            guidance,
            &mut run_unet,
            progress,
        )?;
        let image = self.decode(&latents, h, w)?;
        Ok(Generated {
            image,
            seed: req.seed,
            timesteps: scheduler.timesteps().to_vec(),
            truncated,
        })
    }

    /// The embeddings of one prompt: `hidden` `[77, D]`, `pooled` `[P]` (SDXL only).
    fn encode(&mut self, text: &str) -> Result<(Embedding, bool)> {
        let (h1, _, trunc) = self.encoder.run(text, false)?;
        let Some(e2) = self.encoder_2.as_mut() else {
            return Ok((
                Embedding {
                    hidden: h1,
                    pooled: Vec::new(),
                },
                trunc,
            ));
        };
        let (h2, pooled, _) = e2.run(text, true)?;
        let (d1, d2) = (h1.len() / MAX_LENGTH, h2.len() / MAX_LENGTH);
        let mut hidden = Vec::with_capacity(h1.len() + h2.len());
        for r in 0..MAX_LENGTH {
            hidden.extend_from_slice(&h1[r * d1..(r + 1) * d1]);
            hidden.extend_from_slice(&h2[r * d2..(r + 1) * d2]);
        }
        Ok((Embedding { hidden, pooled }, trunc))
    }

    fn decode(&mut self, latents: &[f32], h: usize, w: usize) -> Result<RgbImage> {
        let _span = tracing::info_span!("vae_decode").entered();
        let scaled: Vec<f32> = latents.iter().map(|&x| x / self.vae_scale).collect();
        let shape = [1, LATENT_CHANNELS, h, w];
        let mut out = onnx::run(
            &mut self.vae_decoder,
            &[Feed {
                shape: &shape,
                data: Data::F32(&scaled),
            }],
            &["sample"],
        )?;
        let (oshape, pixels) = out.swap_remove(0);
        let (ph, pw) = (h * VAE_FACTOR, w * VAE_FACTOR);
        if oshape != [1, 3, ph, pw] {
            return Err(Error::Inference {
                model: VAE_DECODER.name.to_string(),
                reason: format!("expected a [1,3,{ph},{pw}] picture, got {oshape:?}"),
            });
        }
        Ok(to_rgb(&pixels, pw, ph))
    }
}

#[derive(Debug)]
struct Embedding {
    hidden: Vec<f32>,
    pooled: Vec<f32>,
}

/// `[uncond; cond]` when there is an unconditional part, else `cond`.
fn stack(uncond: Option<&[f32]>, cond: &[f32]) -> Vec<f32> {
    let mut v = Vec::with_capacity(cond.len() * 2);
    if let Some(u) = uncond {
        v.extend_from_slice(u);
    }
    v.extend_from_slice(cond);
    v
}

/// The latent height and width of a request, after checking its size and steps.
pub fn latent_size(req: &Request) -> Result<(usize, usize)> {
    let (lo, hi) = SIDE_LIMITS;
    for (what, v) in [("width", req.width), ("height", req.height)] {
        if !v.is_multiple_of(8) || !(lo..=hi).contains(&v) {
            return Err(DiffusionError::Request {
                what,
                expected: format!("a multiple of 8 within {lo}..={hi}"),
                got: v.to_string(),
            }
            .into());
        }
    }
    if !req.guidance.is_finite() || req.guidance < 0.0 {
        return Err(DiffusionError::Request {
            what: "guidance",
            expected: "a finite value >= 0".to_string(),
            got: req.guidance.to_string(),
        }
        .into());
    }
    Ok((
        req.height as usize / VAE_FACTOR,
        req.width as usize / VAE_FACTOR,
    ))
}

/// `[3, H, W]` values in `[-1, 1]` to an RGB picture: `round(clamp(x/2 + 0.5) · 255)`.
fn to_rgb(chw: &[f32], w: usize, h: usize) -> RgbImage {
    let plane = w * h;
    let mut img = RgbImage::new(w as u32, h as u32);
    for (i, px) in img.pixels_mut().enumerate() {
        for c in 0..3 {
            let v = (chw[c * plane + i] / 2.0 + 0.5).clamp(0.0, 1.0);
            px.0[c] = (v * 255.0).round() as u8;
        }
    }
    img
}

/// diffusers' `get_guidance_scale_embedding(w, dim)` for one `w`: `w · 1000` times
/// `exp(−k · ln(10000) / (dim/2 − 1))`, sines then cosines (zero-padded to an odd `dim`).
pub fn guidance_embedding(w: f32, dim: usize) -> Vec<f32> {
    let half = dim / 2;
    let w = w * 1000.0;
    let scale = (10000.0f32).ln() / (half.max(2) - 1) as f32;
    let freqs: Vec<f32> = (0..half).map(|k| (k as f32 * -scale).exp() * w).collect();
    let mut v: Vec<f32> = freqs.iter().map(|f| f.sin()).collect();
    v.extend(freqs.iter().map(|f| f.cos()));
    v.resize(dim, 0.0);
    v
}

impl TextEncoder {
    fn load(
        folder: &Path,
        tokenizer_dir: &str,
        encoder_dir: &str,
        with_projection: bool,
        penultimate: bool,
        opts: &RuntimeOptions,
    ) -> Result<Self> {
        let model = folder.display().to_string();
        let tokenizer = ClipTokenizer::from_folder(&need(folder, tokenizer_dir, &model)?)?;
        let path = need(folder, &format!("{encoder_dir}/model.onnx"), &model)?;
        let contract = if with_projection {
            &TEXT_ENCODER_2
        } else {
            &TEXT_ENCODER
        };
        let mut session = load_session(&path, contract, opts)?;
        let ids_i64 = session.input(0).is_some_and(|i| i.dtype == DType::I64);
        let embedding = if penultimate {
            penultimate_output(&mut session)?
        } else {
            "last_hidden_state".to_string()
        };
        Ok(Self {
            tokenizer,
            session,
            ids_i64,
            embedding,
        })
    }

    /// The embedding `[77·D]`, the pooled projection (with projection; else empty), and
    /// whether the text was cut.
    fn run(&mut self, text: &str, pooled: bool) -> Result<(Vec<f32>, Vec<f32>, bool)> {
        let ids = self.tokenizer.encode(text);
        let truncated = self.tokenizer.is_truncated(text);
        let ids32: Vec<i32> = ids.iter().map(|&i| i as i32).collect();
        let shape = [1, MAX_LENGTH];
        let data = if self.ids_i64 {
            Data::I64(&ids)
        } else {
            Data::I32(&ids32)
        };
        let mut names = vec![self.embedding.as_str()];
        if pooled {
            names.push("text_embeds");
        }
        let mut out = onnx::run(
            &mut self.session,
            &[Feed {
                shape: &shape,
                data,
            }],
            &names,
        )?;
        let pooled = if pooled {
            out.pop().map(|o| o.1).unwrap_or_default()
        } else {
            Vec::new()
        };
        let (hshape, hidden) = out.swap_remove(0);
        if hshape.len() != 3 || hshape[1] != MAX_LENGTH {
            return Err(Error::Inference {
                model: self.session.contract().name.to_string(),
                reason: format!(
                    "'{}' has shape {hshape:?}, expected [1,77,D]",
                    self.embedding
                ),
            });
        }
        Ok((hidden, pooled, truncated))
    }
}

/// The name of the penultimate hidden state (`hidden_states.{L-1}` of `0..=L`), which
/// SDXL uses as its text embedding.
fn penultimate_output(s: &mut LoadedSession) -> Result<String> {
    let last = onnx::output_names(s)
        .iter()
        .filter_map(|n| n.strip_prefix("hidden_states.")?.parse::<usize>().ok())
        .max();
    match last {
        Some(l) if l >= 1 => Ok(format!("hidden_states.{}", l - 1)),
        _ => Err(Error::SignatureMismatch {
            contract: s.contract().name.to_string(),
            version: s.contract().version,
            problems: "SDXL needs the hidden states: outputs 'hidden_states.0' .. \
                       'hidden_states.L' are missing (export with output_hidden_states, \
                       as optimum does for SDXL)"
                .to_string(),
            path: s.path().to_path_buf(),
        }),
    }
}

impl Unet {
    fn load(path: &Path, family: Family, opts: &RuntimeOptions) -> Result<Self> {
        let layouts: &[(&Contract, UnetLayout)] = match family {
            Family::Sdxl => &[
                (&UNET_SDXL, UnetLayout::Sdxl),
                (&UNET_SDXL_BATCH_TIMESTEP, UnetLayout::Sdxl),
            ],
            Family::StableDiffusion => &[
                (&UNET, UnetLayout::Plain),
                (&UNET_BATCH_TIMESTEP, UnetLayout::Plain),
                (&UNET_LCM, UnetLayout::Lcm),
            ],
        };
        let contracts: Vec<&Contract> = layouts.iter().map(|l| l.0).collect();
        let (session, k) = load_session_any(path, &contracts, opts)?;
        let layout = layouts[k].1;
        let t = session.input(1).cloned();
        let timestep_i64 = t.as_ref().is_some_and(|t| t.dtype == DType::I64);
        let timestep_batched = t.as_ref().is_some_and(|t| t.shape.len() == 1);
        let cond_dim = session
            .input(2)
            .and_then(|i| i.shape.get(2).copied())
            .filter(|&d| d > 0)
            .map_or(0, |d| d as usize);
        Ok(Self {
            session,
            layout,
            timestep_i64,
            timestep_batched,
            cond_dim,
        })
    }

    fn timestep_cond_dim(&self) -> usize {
        self.session
            .input(3)
            .and_then(|i| i.shape.get(1).copied())
            .filter(|&d| d > 0)
            .map_or(256, |d| d as usize)
    }
}

/// `vae_decoder/config.json`'s `scaling_factor`, if the file says.
fn read_vae_scale(folder: &Path) -> Result<Option<f32>> {
    let v = read_json(&folder.join("vae_decoder/config.json"), "VAE config")?;
    match v.as_ref().and_then(|v| v.get("scaling_factor")) {
        None => Ok(None),
        Some(s) => match s.as_f64() {
            Some(f) if f.is_finite() && f > 0.0 => Ok(Some(f as f32)),
            _ => Err(DiffusionError::Config {
                what: "VAE config",
                reason: format!("scaling_factor must be a positive number, got {s}"),
                path: folder.join("vae_decoder/config.json"),
            }
            .into()),
        },
    }
}

/// `model_index.json`'s `force_zeros_for_empty_prompt`, if the file says.
fn read_force_zeros(folder: &Path) -> Result<Option<bool>> {
    let v = read_json(&folder.join("model_index.json"), "model index")?;
    Ok(v.and_then(|v| v.get("force_zeros_for_empty_prompt")?.as_bool()))
}

fn read_json(path: &Path, what: &'static str) -> Result<Option<serde_json::Value>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(None);
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        DiffusionError::Config {
            what,
            reason: e.to_string(),
            path: path.to_path_buf(),
        }
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_checked() {
        let mut r = Request {
            prompt: String::new(),
            negative: String::new(),
            steps: 1,
            guidance: 0.0,
            seed: 0,
            width: 512,
            height: 512,
        };
        assert_eq!(latent_size(&r).unwrap(), (64, 64));
        r.width = 500;
        assert!(latent_size(&r).is_err());
        r.width = 4104;
        assert!(latent_size(&r).is_err());
        r.width = 64;
        r.guidance = f32::NAN;
        assert!(latent_size(&r).is_err());
    }

    #[test]
    fn pixels_map_from_minus_one_to_one() {
        let chw = [-1.0, 1.0, 0.0, 2.0, -3.0, 0.5];
        let img = to_rgb(&chw, 2, 1);
        assert_eq!(img.get_pixel(0, 0).0, [0, 128, 0]);
        assert_eq!(img.get_pixel(1, 0).0, [255, 255, 191]);
    }

    #[test]
    fn guidance_embedding_is_sines_then_cosines() {
        let e = guidance_embedding(0.0, 4);
        assert_eq!(e, [0.0, 0.0, 1.0, 1.0]);
        assert_eq!(guidance_embedding(1.0, 5).len(), 5);
    }
}
