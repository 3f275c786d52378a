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
use std::path::{Path, PathBuf};

use image::RgbImage;
use img23d_models::diffusion::{Preset, Request, StepEvent, TextToImage, sd_turbo, sdxl_turbo};
use img23d_models::store::resolve_models_dir;
use serde::Serialize;

use crate::output::prepare_output_dir;
use crate::run::{RunConfig, prepare_models, run_image_with};
use crate::stage::{printer, say};
use crate::{Error, Result};

/// The 3D prompt template (`{}` is the prompt): text-to-3D needs one isolated object for
/// the foreground stage.
pub const PROMPT_TEMPLATE: &str =
    "{}, a single object, centered, full view, plain white background";

/// The most prompts or candidates one run takes.
const MAX_PROMPTS: usize = 10_000;
const MAX_CANDIDATES: usize = 16;

/// What `img23d text` does (from [`crate::cli::TextArgs`]).
#[derive(Debug, Clone)]
pub struct TextConfig {
    /// The prompts, in order (at least one).
    pub prompts: Vec<String>,
    /// `sd-turbo`, `sdxl-turbo` (in the models folder) or an Optimum-layout folder.
    pub model: String,
    /// What to ask the model for; unset values are the model's defaults.
    pub request: TextRequest,
    /// Send the prompts as written, without [`PROMPT_TEMPLATE`].
    pub raw_prompt: bool,
    /// Stop after the pictures.
    pub image_only: bool,
    /// The main job's configuration for the pictures (its output folder is this command's,
    /// its runtime options run the text-to-image model too).
    pub image: RunConfig,
}

/// The text-to-image settings as given; `None` takes the model's default.
#[derive(Debug, Clone, PartialEq)]
pub struct TextRequest {
    /// Denoising steps.
    pub steps: Option<usize>,
    /// Classifier-free guidance scale.
    pub guidance: Option<f32>,
    /// Negative prompt.
    pub negative: String,
    /// Seed; by default one from the clock, always recorded.
    pub seed: Option<u64>,
    /// Candidates per prompt.
    pub num_images: usize,
    /// Picture width.
    pub width: Option<u32>,
    /// Picture height.
    pub height: Option<u32>,
}

/// One prompt's settings after validation.
#[derive(Debug, Clone, PartialEq)]
struct Job {
    prompt: String,
    sent: String,
    slug: String,
}

/// Runs `img23d text`.
pub fn run(config: &TextConfig) -> Result<()> {
    let (preset, folder) = resolve_model(&config.model, config.image.models_dir.as_deref())?;
    let request = base_request(&config.request, &preset)?;
    check_range("--num-images", config.request.num_images, 1, MAX_CANDIDATES)?;
    let jobs = jobs(&config.prompts, config.raw_prompt);
    let mut model = preset.load(&folder, &config.image.runtime)?;
    prepare_output_dir(&config.image.output_dir)?;
    let neural = if config.image_only {
        None
    } else {
        Some(prepare_models(&config.image)?)
    };
    let seed = config.request.seed.unwrap_or_else(clock_seed);
    for job in &jobs {
        let picture = generate(&mut model, config, &request, job, seed, &folder)?;
        if let Some(neural) = &neural {
            let mut progress = printer(config.image.quiet);
            let mut cfg = config.image.clone();
            cfg.images = vec![picture.clone()];
            let outcome = run_image_with(&cfg, &picture, progress.as_mut(), neural)?;
            if let Some(report) = outcome.files.last() {
                let ep = model.execution_provider().to_string();
                add_text_section(report, job, &request, seed, (&config.model, &ep))?;
            }
        }
    }
    Ok(())
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

/// The prompts given and those of `file` (one a line; empty lines and lines starting
/// with `#` skipped), in that order; at least one.
pub fn collect_prompts(given: &[String], file: Option<&Path>) -> Result<Vec<String>> {
    let mut prompts: Vec<String> = given.to_vec();
    if let Some(file) = file {
        let text = std::fs::read_to_string(file).map_err(|source| Error::ReadInput {
            source,
            path: file.to_path_buf(),
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
fn resolve_model(model: &str, models_dir: Option<&Path>) -> Result<(Preset, PathBuf)> {
    let named = match model {
        "sd-turbo" => Some(sd_turbo::preset()),
        "sdxl-turbo" => Some(sdxl_turbo::preset()),
        _ => None,
    };
    match named {
        Some(preset) => {
            let dir = resolve_models_dir(models_dir)?.join(preset.name);
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
            let dir = PathBuf::from(model);
            if !dir.is_dir() {
                return Err(Error::InvalidArgument {
                    name: "--model",
                    expected: "sd-turbo, sdxl-turbo or an Optimum-layout model folder".into(),
                    got: model.to_string(),
                });
            }
            Ok((Preset::folder(), dir))
        }
    }
}

/// The request every prompt shares (prompt and seed filled in per picture), checked.
fn base_request(args: &TextRequest, preset: &Preset) -> Result<Request> {
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
    config: &TextConfig,
    base: &Request,
    job: &Job,
    seed: u64,
    folder: &Path,
) -> Result<PathBuf> {
    let mut best: Option<(f64, usize, RgbImage, u64)> = None;
    let mut others = Vec::new();
    let quiet = config.image.quiet;
    let output = &config.image.output_dir;
    for k in 0..config.request.num_images {
        let req = Request {
            prompt: job.sent.clone(),
            seed: seed.wrapping_add(k as u64),
            ..base.clone()
        };
        let mut on_step = |e: StepEvent| {
            if !quiet {
                say(&format!(
                    "{}: step {}/{} (t = {})",
                    job.slug, e.step, e.steps, e.timestep
                ));
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
            ("model", config.model.clone()),
            ("model_folder", folder.display().to_string()),
            ("steps", base.steps.to_string()),
            ("guidance", base.guidance.to_string()),
            ("software", format!("img23d {}", env!("CARGO_PKG_VERSION"))),
        ]
    };
    for (k, img, s) in &others {
        let path = output.join(format!("{}.candidate{k}.png", job.slug));
        write_png(&path, img, &meta(*s))?;
    }
    let path = output.join(format!("{}.png", job.slug));
    write_png(&path, &image, &meta(chosen_seed))?;
    if !quiet {
        say(&format!(
            "{}: picture {} (seed {chosen_seed}, UNet on {})",
            job.slug,
            path.display(),
            model.execution_provider()
        ));
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

/// The `text` section of a picture's report: what made the picture.
#[derive(Debug, Serialize)]
struct TextSection<'a> {
    prompt: &'a str,
    model_prompt: &'a str,
    template: Option<&'static str>,
    negative: &'a str,
    model: &'a str,
    /// Where the text-to-image model's UNet ran (`CPU`, `CUDA device 0`, ...).
    execution_provider: &'a str,
    seed: u64,
    steps: usize,
    guidance: f32,
    width: u32,
    height: u32,
}

/// Adds the `text` section to the report the image path wrote.
fn add_text_section(
    report: &Path,
    job: &Job,
    req: &Request,
    seed: u64,
    (model, execution_provider): (&str, &str),
) -> Result<()> {
    let invalid = |e: serde_json::Error| {
        Error::io(
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            report,
        )
    };
    let text = std::fs::read_to_string(report).map_err(|e| Error::io(e, report))?;
    let mut v: serde_json::Value = serde_json::from_str(&text).map_err(invalid)?;
    let section = TextSection {
        prompt: &job.prompt,
        model_prompt: &job.sent,
        template: (job.sent != job.prompt).then_some(PROMPT_TEMPLATE),
        negative: &req.negative,
        model,
        execution_provider,
        seed,
        steps: req.steps,
        guidance: req.guidance,
        width: req.width,
        height: req.height,
    };
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "text".to_string(),
            serde_json::to_value(section).map_err(invalid)?,
        );
    }
    let out = serde_json::to_vec_pretty(&v).map_err(invalid)?;
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
