//! Bench command for TripoSR's field on the CPU or a GPU: points per second of every
//! evaluation path, and coarse-to-fine extraction time, with a decoder of TripoSR's real
//! sizes (triplane 3 × 40 × 64 × 64, MLP 120→64, 8 × 64→64 SiLU, 64→4, fixed weights:
//! `img23d_models::triposr::synthetic`).
//!
//! ```text
//! cargo run --release -p img23d-models --example triposr_decoder_bench
//! cargo run --release -p img23d-models --features cuda --example triposr_decoder_bench -- --device cuda
//! ```
//!
//! Options: `--device cpu|cuda` (default cpu), `--points N` (default 262144),
//! `--repeat N` (default 5), `--extract 256,512` (extraction resolutions, default 256;
//! the decoder is `triposr::synthetic`, whose surface is a bumpy sphere),
//! `--extract-repeat N` (rounds of extraction, default 1), `--ort-lib PATH`. The paths
//! take turns (each round times every path once), so a change of load on a shared
//! machine hits them alike. ONNX Runtime is found as `img23d_models::runtime` finds it
//! (`ORT_DYLIB_PATH`, the `onnxruntime-gpu` / `onnxruntime` Python packages, ...); a
//! requested CUDA device that cannot start is an error. Besides wall-clock points per
//! second it prints points per CPU-second of this process, which stays meaningful on a
//! machine shared with other work.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use img23d_meshing::Field;
use img23d_meshing::extract::{ExtractOptions, extract as extract_mesh};
use img23d_models::triposr::decoder::{OrtMlp, mlp_to_onnx};
use img23d_models::triposr::mlp::Mlp;
use img23d_models::triposr::synthetic;
use img23d_models::triposr::{MlpExec, Triplane, TriplaneField};
use img23d_models::{Device, RuntimeOptions};

/// User + system CPU seconds of this process (Linux `/proc/self/stat`).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Single-thread CPU time of the pieces: sampling (plain / folded) and the MLP.
fn breakdown(mlp: &Mlp, planes: &Triplane, pts: &[[f32; 3]]) {
    let n = pts.len().min(1 << 15);
    let unit: Vec<[f32; 3]> = pts[..n].iter().map(|p| p.map(|c| c / 0.87)).collect();
    let folded = planes.fold(&mlp.layers()[0].weight, 64).expect("fold");
    let mut feats = vec![0.0f32; n * 120];
    let mut h1 = vec![0.0f32; n * 64];
    let mut out = vec![0.0f32; n * 4];
    let mut scratch = vec![0.0f32; 2 * 128 * 120];
    let time = |f: &mut dyn FnMut()| {
        f();
        let t = Instant::now();
        for _ in 0..3 {
            f();
        }
        t.elapsed().as_secs_f64() / 3.0
    };
    let s_plain = time(&mut || planes.sample_concat(&unit, &mut feats));
    let s_fold = time(&mut || folded.sample_sum(&unit, &mlp.layers()[0].bias, &mut h1));
    let m_full = time(&mut || {
        for (x, o) in feats.chunks(128 * 120).zip(out.chunks_mut(128 * 4)) {
            mlp.forward(x, x.len() / 120, &mut scratch, o);
        }
    });
    let m_tail = time(&mut || {
        for (x, o) in h1.chunks(128 * 64).zip(out.chunks_mut(128 * 4)) {
            mlp.forward_tail(x, x.len() / 64, &mut scratch, o);
        }
    });
    let k = |t: f64| n as f64 / t / 1e3;
    println!(
        "one thread, {n} points (k points/s): sampling 120 features {:.0}, sampling 3 x 64 folded {:.0}, \
              full MLP {:.0}, MLP after the folded layer {:.0}",
        k(s_plain),
        k(s_fold),
        k(m_full),
        k(m_tail)
    );
}

fn main() -> Result<()> {
    let mut device = "cpu".to_string();
    let mut n = 1usize << 18;
    let mut repeat = 5usize;
    let mut extract: Vec<usize> = vec![256];
    let mut extract_repeat = 1usize;
    let mut ort_lib: Option<std::path::PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--device" => device = args.next().context("--device needs a value")?,
            "--points" => n = args.next().context("--points needs a value")?.parse()?,
            "--repeat" => repeat = args.next().context("--repeat needs a value")?.parse()?,
            "--extract-repeat" => {
                extract_repeat = args
                    .next()
                    .context("--extract-repeat needs a value")?
                    .parse()?
            }
            "--ort-lib" => ort_lib = Some(args.next().context("--ort-lib needs a path")?.into()),
            "--extract" => {
                extract = args
                    .next()
                    .context("--extract needs resolutions, e.g. 256,512")?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            other => bail!("unknown argument {other}"),
        }
    }
    let cuda = match device.as_str() {
        "cpu" => false,
        "cuda" => true,
        d => bail!("unknown device {d} (cpu or cuda)"),
    };
    let mlp = Arc::new(synthetic::mlp());
    let planes = synthetic::triplane();
    // Points in grid order (z fastest), as an extraction asks for them: a cube of
    // side ceil(cbrt(n)) over the scene box, truncated to n.
    let side = (n as f64).cbrt().ceil() as usize;
    let step = 1.74 / (side.max(2) - 1) as f32;
    let pts: Vec<[f32; 3]> = (0..n)
        .map(|i| {
            let (x, y, z) = (i / (side * side), (i / side) % side, i % side);
            [
                -0.87 + step * x as f32,
                -0.87 + step * y as f32,
                -0.87 + step * z as f32,
            ]
        })
        .collect();

    let mut fields: Vec<(String, TriplaneField)> = Vec::new();
    if !cuda {
        fields.push((
            "plain, Rust MLP".into(),
            TriplaneField::plain(planes.clone(), MlpExec::Rust(mlp.clone())),
        ));
        fields.push((
            "folded, Rust MLP".into(),
            TriplaneField::folded(&planes, &mlp.layers()[0], MlpExec::Rust(mlp.clone()))?,
        ));
    }
    let mut opts = RuntimeOptions::default()
        .with_device(if cuda { Device::Cuda(0) } else { Device::Cpu })
        .with_intra_threads(if cuda {
            0
        } else {
            rayon::current_num_threads()
        });
    if let Some(lib) = ort_lib {
        opts = opts.with_ort_lib(lib);
    }
    let full = OrtMlp::from_bytes(&mlp_to_onnx(mlp.layers(), false), 120, &opts);
    let tail = OrtMlp::from_bytes(&mlp_to_onnx(&mlp.layers()[1..], true), 64, &opts);
    match (full, tail) {
        (Ok(full), Ok(tail)) => {
            let ep = full.execution_provider().to_string();
            fields.push((
                format!("plain, ONNX Runtime MLP ({ep})"),
                TriplaneField::plain(planes.clone(), MlpExec::Ort(Arc::new(full))),
            ));
            fields.push((
                format!("folded, ONNX Runtime MLP ({ep})"),
                TriplaneField::folded(&planes, &mlp.layers()[0], MlpExec::Ort(Arc::new(tail)))?,
            ));
        }
        (Err(e), _) | (_, Err(e)) if cuda => return Err(e.into()),
        (Err(e), _) | (_, Err(e)) => eprintln!("ONNX Runtime paths skipped: {e}"),
    }

    breakdown(&mlp, &planes, &pts);
    println!(
        "TripoSR field evaluation, {n} points, best of {repeat}, {} rayon threads",
        rayon::current_num_threads()
    );
    let mut out = vec![0.0f32; n];
    for (_, field) in &fields {
        field.eval_scalar(&pts, &mut out)?; // warm up
    }
    // The paths take turns, so a change of load on a shared machine hits them alike.
    let mut best = vec![(f64::INFINITY, f64::INFINITY); fields.len()];
    for _ in 0..repeat {
        for ((_, field), (best_wall, best_cpu)) in fields.iter().zip(&mut best) {
            let c0 = cpu_seconds();
            let t0 = Instant::now();
            field.eval_scalar(&pts, &mut out)?;
            *best_wall = best_wall.min(t0.elapsed().as_secs_f64());
            if let (Some(a), Some(b)) = (c0, cpu_seconds()) {
                *best_cpu = best_cpu.min(b - a);
            }
        }
    }
    for ((name, _), &(best_wall, best_cpu)) in fields.iter().zip(&best) {
        let per_cpu = if best_cpu.is_finite() && best_cpu > 0.0 {
            format!("{:>8.0} k points per CPU-second", n as f64 / best_cpu / 1e3)
        } else {
            String::new()
        };
        println!(
            "{name:<36} {:>8.0} k points/s   {per_cpu}",
            n as f64 / best_wall / 1e3
        );
    }
    for &res in &extract {
        println!("extraction at {res}^3 (coarse-to-fine), synthetic TripoSR-sized object:");
        let opts = ExtractOptions {
            resolution: res,
            ..ExtractOptions::default()
        };
        for round in 0..extract_repeat {
            if extract_repeat > 1 {
                println!("  round {} of {extract_repeat}:", round + 1);
            }
            for (name, field) in &fields {
                let c0 = cpu_seconds();
                let t0 = Instant::now();
                let ex = extract_mesh(field, &opts)?;
                let wall = t0.elapsed().as_secs_f64();
                let cpu = match (c0, cpu_seconds()) {
                    (Some(a), Some(b)) => format!("{:.2} CPU-s", b - a),
                    _ => String::new(),
                };
                let s = &ex.stats;
                println!(
                    "  {name:<36} {wall:>6.2} s wall, {cpu}; {} evaluations ({:.1}% of the grid), \
                     eval {:.2} s, {} triangles",
                    s.evaluations,
                    100.0 * s.evaluation_fraction,
                    s.eval_seconds,
                    s.triangles
                );
            }
        }
    }
    Ok(())
}
