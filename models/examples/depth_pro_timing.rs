//! Depth Pro timing: loads Depth Pro-layout ONNX files on a device and times the whole
//! per-photo path of `img23d depth` apart from decoding and file writes — preprocessing
//! (stretch to 1536², normalise), the network, and post-processing to metric depth at
//! the photo's size — on a synthetic photo (4032×3024 by default).
//!
//! Made for the GPU check with a Depth Pro-sized network of random fixed weights
//! (`tools/gen_depth_pro_sized.py`, generated on the GPU machine), but it runs any file
//! with a Depth Pro layout (the real export too).
//!
//! ```text
//! cargo build --release -p img23d-models --features cuda --example depth_pro_timing
//! python3 tools/gen_depth_pro_sized.py /tmp/dp16.onnx --fp16
//! target/release/examples/depth_pro_timing --ort-lib .ort-gpu/lib/libonnxruntime.so.1.31.1 \
//!     --device cuda:0 --iters 5 /tmp/dp16.onnx
//! ```
//!
//! Prints, per file: load time, the execution provider and where ONNX Runtime placed the
//! nodes (a node on the CPU in a CUDA run is a slowdown to know about), the first run
//! (warm-up: cuDNN algorithm search, memory arena growth), and the median and minimum of
//! the following runs. Exit status 0 when every file loaded and ran.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use image::RgbImage;
use img23d_meshing::Limits;
use img23d_models::depth_pro::{DepthPro, metric_depth, preprocess};
use img23d_models::runtime::{self, Device, RuntimeOptions};

struct Args {
    ort_lib: Option<PathBuf>,
    device: Device,
    iters: usize,
    size: (u32, u32),
    models: Vec<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        ort_lib: None,
        device: Device::Cuda(0),
        iters: 5,
        size: (4032, 3024),
        models: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().ok_or_else(|| format!("{k} needs a value"));
        match k.as_str() {
            "--ort-lib" => a.ort_lib = Some(PathBuf::from(v()?)),
            "--device" => a.device = v()?.parse().map_err(|e| format!("--device: {e}"))?,
            "--iters" => a.iters = v()?.parse().map_err(|e| format!("--iters: {e}"))?,
            "--size" => {
                let s = v()?;
                let (w, h) = s
                    .split_once('x')
                    .ok_or_else(|| format!("--size: expected WxH, got {s}"))?;
                a.size = (
                    w.parse().map_err(|e| format!("--size: {e}"))?,
                    h.parse().map_err(|e| format!("--size: {e}"))?,
                );
            }
            "-h" | "--help" => {
                println!(
                    "depth_pro_timing [--ort-lib PATH] [--device cuda:0] [--iters 5] \
                     [--size 4032x3024] MODEL.onnx..."
                );
                std::process::exit(0);
            }
            other if other.starts_with("--") => return Err(format!("unknown argument {other}")),
            path => a.models.push(PathBuf::from(path)),
        }
    }
    if a.models.is_empty() {
        return Err("no model file given".into());
    }
    Ok(a)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let mut opts = RuntimeOptions::default()
        .with_device(args.device)
        .with_record_placement(true);
    opts.ort_lib = args.ort_lib.clone();
    match runtime::init(&opts) {
        Ok(rt) => println!("{}", rt.describe()),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
    let (w, h) = args.size;
    // A synthetic photo: smooth gradients with a bright square (content does not change
    // the cost of a fixed-size network).
    let photo = RgbImage::from_fn(w, h, |u, v| {
        let inside = (w / 3..2 * w / 3).contains(&u) && (h / 3..2 * h / 3).contains(&v);
        if inside {
            image::Rgb([240, 230, 220])
        } else {
            image::Rgb([(u * 255 / w) as u8, (v * 255 / h) as u8, 60])
        }
    });
    let limits = Limits::default();
    let mut failed = 0;
    for path in &args.models {
        println!("\n-- {}", path.display());
        let t = Instant::now();
        let mut model = match DepthPro::load(path, &opts, None) {
            Ok(m) => m,
            Err(e) => {
                println!("   FAIL: {e}");
                failed += 1;
                continue;
            }
        };
        println!(
            "   loaded in {:.0} ms on {} ({}, {})",
            ms(t.elapsed()),
            model.execution_provider(),
            model.session().contract().name,
            model.semantics()
        );
        if let Some(reason) = model.session().cpu_fallback_reason() {
            println!("   CUDA not used: {reason}");
        }
        if let Some(p) = model.session().placement() {
            for (ep, n, _) in &p.providers {
                println!("   {n:>5} nodes on {ep}");
            }
        }
        let mut pre = Vec::new();
        let mut net = Vec::new();
        let mut post = Vec::new();
        let mut first = None;
        let mut error = None;
        for i in 0..=args.iters {
            let t0 = Instant::now();
            let _ = preprocess(&photo);
            let t1 = Instant::now();
            let raw = match model.infer(&photo) {
                Ok(r) => r,
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            };
            let t2 = Instant::now();
            let m = metric_depth(
                &raw.map,
                raw.scalar,
                raw.semantics,
                (w as usize, h as usize),
                None,
                &limits,
            );
            let t3 = Instant::now();
            if let Err(e) = m {
                // Random weights may give a meaningless fov; the timing still counts.
                if i == 0 {
                    println!("   (post-processing refused the random outputs: {e})");
                }
            }
            // infer() includes its own preprocessing: the network is the difference.
            let network = (t2 - t1).saturating_sub(t1 - t0);
            if i == 0 {
                first = Some(t2 - t1);
            } else {
                pre.push(t1 - t0);
                net.push(network);
                post.push(t3 - t2);
            }
        }
        if let Some(e) = error {
            println!("   FAIL: {e}");
            failed += 1;
            continue;
        }
        let stats = |v: &mut Vec<Duration>| {
            v.sort();
            (
                v.get(v.len() / 2).copied().unwrap_or_default(),
                v.first().copied().unwrap_or_default(),
            )
        };
        let (pre_med, _) = stats(&mut pre);
        let (net_med, net_min) = stats(&mut net);
        let (post_med, _) = stats(&mut post);
        println!(
            "   first run (warm-up, with preprocessing): {:.1} ms",
            ms(first.unwrap_or_default())
        );
        println!(
            "   {} runs on a {w}x{h} photo: network median {:.1} ms (min {:.1}); \
             preprocessing {:.1} ms; post-processing to metric depth {:.1} ms",
            args.iters,
            ms(net_med),
            ms(net_min),
            ms(pre_med),
            ms(post_med)
        );
    }
    if failed > 0 {
        println!("\nDEPTH PRO TIMING: {failed} file(s) failed");
        std::process::exit(1);
    }
    println!("\nDEPTH PRO TIMING: OK");
}
