//! `img23d text "PROMPT"... -o DIR`: a prompt in, a picture from a text-to-image model
//! (SD-Turbo, SDXL-Turbo, or any SD-family folder in the Optimum ONNX layout), then the
//! main job's image path on that picture.
//!
//! For each prompt it writes `DIR/<slug>.png` (the prompt, the prompt sent to the model,
//! seed, model, steps and guidance in PNG `tEXt` chunks), then, unless `--image-only`,
//! everything `img23d IMAGE` writes for that picture, with a `text` section added to its
//! report. With `--num-images K` the K candidates use seeds `seed, seed+1, ...`; the one
//! whose foreground (pixels unlike the border color) is most complete and most centered
//! becomes `<slug>.png`, the others are kept as `<slug>.candidate<k>.png`. The models
//! are loaded once for all prompts.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use image::RgbImage;
use img23d_models::diffusion::{Preset, Request, StepEvent, TextToImage, sd_turbo, sdxl_turbo};
use img23d_models::store::resolve_models_dir;

use crate::cli::Format;
use crate::config::RunConfig;
use crate::neural::{BackgroundChoice, ModelChoice};
use crate::run::{
    Progress, Silent, StageEvent, prepare_models, prepare_output_dir, run_image_with,
};
use crate::{Error, Result};

/// The 3D prompt template (`{}` is the prompt): text-to-3D needs one isolated object for
/// the foreground stage.
pub const PROMPT_TEMPLATE: &str =
    "{}, a single object, centered, full view, plain white background";

/// The most prompts or candidates one run takes.
const MAX_PROMPTS: usize = 10_000;
const MAX_CANDIDATES: usize = 16;

/// Arguments of `img23d text`.
#[derive(Debug, Clone, Args)]
pub struct TextArgs {
    /// Prompts, one picture (and asset) each.
    #[arg(value_name = "PROMPT")]
    pub prompts: Vec<String>,

    /// A file of prompts, one a line (empty lines and lines starting with # skipped).
    #[arg(long = "prompts", value_name = "FILE")]
    pub prompts_file: Option<PathBuf>,

    /// Output folder (created if missing).
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,

    /// Text-to-image model: sd-turbo, sdxl-turbo (installed in the models folder), or
    /// the path of an Optimum-layout folder (SD 1.x/2.x, LCM, SDXL).
    #[arg(long, value_name = "MODEL", default_value = "sd-turbo")]
    pub model: String,

    /// Denoising steps. By default, the model's (1 for the turbo models, 50 for a folder).
    #[arg(long, value_name = "N")]
    pub steps: Option<usize>,

    /// Classifier-free guidance scale; above 1 the negative prompt runs as a second batch.
    /// By default, the model's (0 for the turbo models, 7.5 for a folder).
    #[arg(long, value_name = "G")]
    pub guidance: Option<f32>,

    /// Negative prompt (with guidance above 1).
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub negative: String,

    /// Seed of the noise (PyTorch's CPU generator, as diffusers seeds it). By default,
    /// one from the clock, always recorded.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Candidates per prompt (1 to 16); the most complete, most centered one goes on to 3D.
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub num_images: usize,

    /// Picture width, a multiple of 8 within the model's limits. By default, the model's.
    #[arg(long, value_name = "PX")]
    pub width: Option<u32>,

    /// Picture height, a multiple of 8 within the model's limits. By default, the model's.
    #[arg(long, value_name = "PX")]
    pub height: Option<u32>,

    /// Send the prompt as written, without the 3D template
    /// ("..., a single object, centered, full view, plain white background").
    #[arg(long)]
    pub raw_prompt: bool,

    /// Stop after the picture.
    #[arg(long)]
    pub image_only: bool,

    /// Output formats of the asset, comma separated (glb, ply, obj).
    #[arg(
        short,
        long,
        value_name = "FORMATS",
        value_delimiter = ',',
        default_value = "glb"
    )]
    pub format: Vec<Format>,

    /// Marching-cubes grid points per axis (8 to 1024).
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub resolution: usize,

    /// Side of the baked texture in texels (16 to 8192); 0: vertex colors only.
    #[arg(long, value_name = "TEXELS", default_value_t = 1024)]
    pub texture_size: u32,

    /// Height of the asset in meters.
    #[arg(long, value_name = "METERS", default_value_t = 1.0)]
    pub asset_height: f32,

    /// Reconstruction of the picture: auto, triposr, inflate (as the main job's --model).
    #[arg(long, value_enum, value_name = "MODEL", default_value_t = ModelChoice::Auto)]
    pub reconstruction: ModelChoice,

    /// Background removal of the picture (as the main job's --bg).
    #[arg(long = "bg", value_enum, value_name = "HOW", default_value_t = BackgroundChoice::Auto)]
    pub bg: BackgroundChoice,

    /// Models folder. By default, $IMG23D_MODELS, else the user's cache folder.
    #[arg(long, value_name = "DIR")]
    pub models_dir: Option<PathBuf>,

    /// Where the models run: auto, cpu, cuda[:N], tensorrt[:N].
    #[arg(long, value_name = "DEVICE", default_value = "auto")]
    pub device: String,

    /// The ONNX Runtime library or a folder holding it.
    #[arg(long, value_name = "PATH")]
    pub ort_lib: Option<PathBuf>,

    /// Worker threads for the heavy 3D stages; 0: one per core.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,

    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

/// One prompt's settings after validation.
#[derive(Debug, Clone, PartialEq)]
struct Job {
    prompt: String,
    sent: String,
    slug: String,
}

/// Runs `img23d text`.
pub fn run(args: &TextArgs) -> Result<()> {
    let prompts = collect_prompts(args)?;
    let (preset, folder) = resolve_model(args)?;
    let request = base_request(args, &preset)?;
    check_range("--num-images", args.num_images, 1, MAX_CANDIDATES)?;
    let config = image_config(args, &folder)?;
    let jobs = jobs(&prompts, args.raw_prompt);
    // the 3D stages' worker pool, as the main job sizes it (already built: kept)
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads)
        .build_global();
    let mut model = preset.load(&folder, &config.runtime_options())?;
    prepare_output_dir(&args.output)?;
    let neural = if args.image_only {
        None
    } else {
        Some(prepare_models(&config)?)
    };
    let seed = args.seed.unwrap_or_else(clock_seed);
    for job in &jobs {
        let picture = generate(&mut model, args, &request, job, seed, &folder)?;
        if let Some(neural) = &neural {
            let mut printer = Silent;
            let mut lines = Lines;
            let progress: &mut dyn Progress = if args.quiet { &mut printer } else { &mut lines };
            let mut cfg = config.clone();
            cfg.images = vec![picture.clone()];
            let outcome = run_image_with(&cfg, &picture, progress, neural)?;
            if let Some(report) = outcome.files.last() {
                add_text_section(report, job, &request, seed, &model_name(args))?;
            }
        }
    }
    Ok(())
}

/// Prints stage lines as the main job does.
struct Lines;

impl Progress for Lines {
    fn stage(&mut self, e: &StageEvent<'_>) {
        let _ = writeln!(
            std::io::stdout().lock(),
            "{}: {:<14} {:>7.1} ms  {}",
            e.input.display(),
            e.name,
            e.seconds * 1e3,
            e.detail
        );
    }
}

fn model_name(args: &TextArgs) -> String {
    args.model.clone()
}

fn check_range(name: &'static str, v: usize, lo: usize, hi: usize) -> Result<()> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            name,
            expected: format!("{lo} to {hi}"),
            got: v.to_string(),
        })
    }
}

/// The prompts from the arguments and `--prompts FILE`, in that order.
fn collect_prompts(args: &TextArgs) -> Result<Vec<String>> {
    let mut prompts: Vec<String> = args.prompts.clone();
    if let Some(file) = &args.prompts_file {
        let text = std::fs::read_to_string(file).map_err(|source| Error::ReadInput {
            source,
            path: file.clone(),
        })?;
        prompts.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string),
        );
    }
    prompts.retain(|p| !p.trim().is_empty());
    if prompts.is_empty() {
        return Err(Error::InvalidArgument {
            name: "PROMPT",
            expected: "at least one prompt (or --prompts FILE)".into(),
            got: "none".into(),
        });
    }
    check_range("PROMPT", prompts.len(), 1, MAX_PROMPTS)?;
    Ok(prompts)
}

/// The preset and folder of `--model`: a registry name in the models folder, or a path.
fn resolve_model(args: &TextArgs) -> Result<(Preset, PathBuf)> {
    let named = match args.model.as_str() {
        "sd-turbo" => Some(sd_turbo::preset()),
        "sdxl-turbo" => Some(sdxl_turbo::preset()),
        _ => None,
    };
    match named {
        Some(preset) => {
            let dir = resolve_models_dir(args.models_dir.as_deref())?.join(preset.name);
            if !dir.join("unet/model.onnx").is_file() {
                return Err(img23d_models::Error::ModelMissing {
                    model: preset.name.to_string(),
                    hint: format!(
                        "install it with `img23d models fetch {0}` where it can be fetched, \
                         or export it with `python tools/export_text_to_image.py {0} {1}`",
                        preset.name,
                        dir.display()
                    ),
                    path: dir,
                }
                .into());
            }
            Ok((preset, dir))
        }
        None => {
            let dir = PathBuf::from(&args.model);
            if !dir.is_dir() {
                return Err(Error::InvalidArgument {
                    name: "--model",
                    expected: "sd-turbo, sdxl-turbo or an Optimum-layout model folder".into(),
                    got: args.model.clone(),
                });
            }
            Ok((Preset::folder(), dir))
        }
    }
}

/// The request every prompt shares (prompt and seed filled in per picture), checked.
fn base_request(args: &TextArgs, preset: &Preset) -> Result<Request> {
    let width = args.width.unwrap_or(preset.size);
    let height = args.height.unwrap_or(preset.size);
    for (name, v) in [("--width", width), ("--height", height)] {
        if v % 8 != 0 || v < 64 || v > preset.max_size {
            return Err(Error::InvalidArgument {
                name,
                expected: format!("a multiple of 8 from 64 to {}", preset.max_size),
                got: v.to_string(),
            });
        }
    }
    let steps = args.steps.unwrap_or(preset.steps);
    check_range("--steps", steps, 1, 1000)?;
    let guidance = args.guidance.unwrap_or(preset.guidance);
    if !guidance.is_finite() || !(0.0..=50.0).contains(&guidance) {
        return Err(Error::InvalidArgument {
            name: "--guidance",
            expected: "0 to 50".into(),
            got: guidance.to_string(),
        });
    }
    Ok(Request {
        prompt: String::new(),
        negative: args.negative.clone(),
        steps,
        guidance,
        seed: 0,
        width,
        height,
    })
}

/// The main job's configuration for the generated pictures.
fn image_config(args: &TextArgs, folder: &Path) -> Result<RunConfig> {
    let device = args
        .device
        .parse()
        .map_err(
            |e: img23d_models::runtime::ParseOptionError| Error::InvalidArgument {
                name: "--device",
                expected: e.expected.to_string(),
                got: e.got,
            },
        )?;
    let mut formats = args.format.clone();
    formats.sort();
    formats.dedup();
    let config = RunConfig {
        images: vec![folder.join("picture.png")],
        output_dir: args.output.clone(),
        formats,
        resolution: args.resolution,
        height: args.asset_height,
        remove_background: args.bg != BackgroundChoice::None,
        threads: args.threads,
        quiet: args.quiet,
        model: args.reconstruction,
        background: args.bg,
        models_dir: args.models_dir.clone(),
        device,
        ort_lib: args.ort_lib.clone(),
        texture_size: args.texture_size,
        ..RunConfig::default()
    };
    config.validate()?;
    Ok(config)
}

/// One job per prompt: the prompt sent (templated unless raw) and a distinct file slug.
fn jobs(prompts: &[String], raw: bool) -> Vec<Job> {
    let mut used = BTreeSet::new();
    prompts
        .iter()
        .map(|p| {
            let base = slug(p);
            let mut s = base.clone();
            let mut k = 2;
            while !used.insert(s.clone()) {
                s = format!("{base}-{k}");
                k += 1;
            }
            Job {
                prompt: p.clone(),
                sent: if raw {
                    p.clone()
                } else {
                    PROMPT_TEMPLATE.replace("{}", p)
                },
                slug: s,
            }
        })
        .collect()
}

/// A file-name slug: lower-case ASCII letters and digits, other runs as one `-`, at most
/// 48 characters; `prompt` when nothing is left.
pub fn slug(prompt: &str) -> String {
    let mut s = String::new();
    for c in prompt.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            s.push(c);
        } else if !s.is_empty() && !s.ends_with('-') {
            s.push('-');
        }
        if s.len() >= 48 {
            break;
        }
    }
    let s = s.trim_matches('-').to_string();
    if s.is_empty() {
        "prompt".to_string()
    } else {
        s
    }
}

/// A seed from the clock and the process id.
fn clock_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// Generates the candidates of one prompt and writes them; the chosen picture's path.
fn generate(
    model: &mut TextToImage,
    args: &TextArgs,
    base: &Request,
    job: &Job,
    seed: u64,
    folder: &Path,
) -> Result<PathBuf> {
    let mut best: Option<(f64, usize, RgbImage, u64)> = None;
    let mut others = Vec::new();
    for k in 0..args.num_images {
        let req = Request {
            prompt: job.sent.clone(),
            seed: seed.wrapping_add(k as u64),
            ..base.clone()
        };
        let mut on_step = |e: StepEvent| {
            if !args.quiet {
                println!(
                    "{}: step {}/{} (t = {})",
                    job.slug, e.step, e.steps, e.timestep
                );
            }
        };
        let out = model.generate(&req, &mut on_step)?;
        let score = foreground_score(&out.image);
        let better = best.as_ref().is_none_or(|b| score > b.0);
        if better {
            if let Some(prev) = best.take() {
                others.push((prev.1, prev.2, prev.3));
            }
            best = Some((score, k, out.image, req.seed));
        } else {
            others.push((k, out.image, req.seed));
        }
    }
    let Some((_, _, image, chosen_seed)) = best else {
        return Err(Error::InvalidArgument {
            name: "--num-images",
            expected: "at least 1".into(),
            got: "0".into(),
        });
    };
    let meta = |s: u64| -> Vec<(&'static str, String)> {
        vec![
            ("prompt", job.prompt.clone()),
            ("model_prompt", job.sent.clone()),
            ("negative", base.negative.clone()),
            ("seed", s.to_string()),
            ("model", args.model.clone()),
            ("model_folder", folder.display().to_string()),
            ("steps", base.steps.to_string()),
            ("guidance", base.guidance.to_string()),
            ("software", format!("img23d {}", env!("CARGO_PKG_VERSION"))),
        ]
    };
    for (k, img, s) in &others {
        let path = args.output.join(format!("{}.candidate{k}.png", job.slug));
        write_png(&path, img, &meta(*s))?;
    }
    let path = args.output.join(format!("{}.png", job.slug));
    write_png(&path, &image, &meta(chosen_seed))?;
    if !args.quiet {
        println!(
            "{}: picture {} (seed {chosen_seed})",
            job.slug,
            path.display()
        );
    }
    Ok(path)
}

/// How complete and centered the foreground is, in `[0, 1]`: pixels that differ from
/// the border's mean color by more than 24 levels are foreground; the score is the share
/// of the border that is not foreground times one minus the centroid's distance from the
/// center (in half-sides), zero without foreground.
pub fn foreground_score(img: &RgbImage) -> f64 {
    let (w, h) = img.dimensions();
    if w < 3 || h < 3 {
        return 0.0;
    }
    let border: Vec<[u8; 3]> = img
        .enumerate_pixels()
        .filter(|(x, y, _)| *x == 0 || *y == 0 || *x == w - 1 || *y == h - 1)
        .map(|(_, _, p)| p.0)
        .collect();
    let mut bg = [0.0f64; 3];
    for p in &border {
        for c in 0..3 {
            bg[c] += f64::from(p[c]) / border.len() as f64;
        }
    }
    let is_fg = |p: &[u8; 3]| {
        (0..3)
            .map(|c| (f64::from(p[c]) - bg[c]).abs())
            .fold(0.0, f64::max)
            > 24.0
    };
    let clear = border.iter().filter(|p| !is_fg(p)).count() as f64 / border.len() as f64;
    let (mut n, mut sx, mut sy) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y, p) in img.enumerate_pixels() {
        if is_fg(&p.0) {
            n += 1.0;
            sx += f64::from(x);
            sy += f64::from(y);
        }
    }
    if n == 0.0 {
        return 0.0;
    }
    let (cx, cy) = (
        sx / n / f64::from(w - 1) * 2.0 - 1.0,
        sy / n / f64::from(h - 1) * 2.0 - 1.0,
    );
    let off = (cx * cx + cy * cy).sqrt().min(1.0);
    clear * (1.0 - off)
}

/// Writes an RGB PNG with `tEXt` chunks, atomically.
fn write_png(path: &Path, img: &RgbImage, text: &[(&str, String)]) -> Result<()> {
    img23d_meshing::io::write_atomic(path, |w| {
        let mut enc = png::Encoder::new(w, img.width(), img.height());
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        for (k, v) in text {
            enc.add_text_chunk((*k).to_string(), latin1(v))
                .map_err(std::io::Error::other)?;
        }
        let mut writer = enc.write_header().map_err(std::io::Error::other)?;
        writer
            .write_image_data(img.as_raw())
            .map_err(std::io::Error::other)?;
        writer.finish().map_err(std::io::Error::other)
    })?;
    Ok(())
}

/// `tEXt` holds Latin-1: other characters become `?` (the report keeps the exact prompt).
fn latin1(s: &str) -> String {
    s.chars()
        .map(|c| {
            if (c as u32) < 256 && c != '\0' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// Adds the `text` section to the report the image path wrote.
fn add_text_section(report: &Path, job: &Job, req: &Request, seed: u64, model: &str) -> Result<()> {
    let io = |source: std::io::Error| Error::Io {
        source,
        path: report.to_path_buf(),
    };
    let text = std::fs::read_to_string(report).map_err(io)?;
    let mut v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "text".to_string(),
            serde_json::json!({
                "prompt": job.prompt,
                "model_prompt": job.sent,
                "template": if job.sent == job.prompt { None } else { Some(PROMPT_TEMPLATE) },
                "negative": req.negative,
                "model": model,
                "seed": seed,
                "steps": req.steps,
                "guidance": req.guidance,
                "width": req.width,
                "height": req.height,
            }),
        );
    }
    let out = serde_json::to_vec_pretty(&v)
        .map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
    img23d_meshing::io::write_atomic(report, |w| w.write_all(&out))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_short_ascii_and_distinct() {
        assert_eq!(slug("A red wooden chair!"), "a-red-wooden-chair");
        assert_eq!(slug("東京"), "prompt");
        assert!(slug(&"x".repeat(100)).len() <= 48);
        let j = jobs(&["a cat".into(), "A cat".into(), "a cat".into()], false);
        let s: Vec<&str> = j.iter().map(|j| j.slug.as_str()).collect();
        assert_eq!(s, ["a-cat", "a-cat-2", "a-cat-3"]);
        assert!(j[0].sent.starts_with("a cat, a single object"));
        assert_eq!(jobs(&["a cat".into()], true)[0].sent, "a cat");
    }

    #[test]
    fn a_centered_object_scores_above_an_offset_one() {
        let mut centered = RgbImage::from_pixel(32, 32, image::Rgb([255, 255, 255]));
        let mut offset = centered.clone();
        for y in 10..22 {
            for x in 10..22 {
                centered.put_pixel(x, y, image::Rgb([200, 30, 30]));
                offset.put_pixel(x + 9, y - 9, image::Rgb([200, 30, 30]));
            }
        }
        let blank = RgbImage::from_pixel(32, 32, image::Rgb([255, 255, 255]));
        assert!(foreground_score(&centered) > foreground_score(&offset));
        assert_eq!(foreground_score(&blank), 0.0);
    }
}
