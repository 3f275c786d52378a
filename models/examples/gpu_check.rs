//! GPU check: runs the tiny models of `models/tests/data/` (the real contracts' names,
//! ranks and fixed sizes) on the CPU and on `--device` (CUDA by default), compares the
//! GPU outputs with the CPU ones and the CPU ones with the numpy references, prints the
//! execution provider every node was placed on, and times loading and running.
//!
//! ```text
//! cargo build --release -p img23d-models --features cuda --example gpu_check
//! target/release/examples/gpu_check --ort-lib .ort-gpu/lib/libonnxruntime.so.1.31.1 \
//!     --data models/tests/data --device cuda:0
//! ```
//! `scripts/gpu-check.sh` runs it on a GPU machine. Exit status 0 when every check passed.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use img23d_models::contracts;
use img23d_models::runtime::{self, Device, RuntimeOptions};
use img23d_models::session::{
    Contract, ExecutionProvider, LoadedSession, OutputTensor, TensorView,
};
use img23d_models::{ErrorKind, load_session};
use serde_json::Value;

struct Args {
    ort_lib: Option<PathBuf>,
    data: PathBuf,
    device: Device,
    iters: usize,
    points: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        ort_lib: None,
        data: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data"),
        device: Device::Cuda(0),
        iters: 20,
        points: 262_144,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().with_context(|| format!("{k} needs a value"));
        match k.as_str() {
            "--ort-lib" => a.ort_lib = Some(PathBuf::from(v()?)),
            "--data" => a.data = PathBuf::from(v()?),
            "--device" => a.device = v()?.parse()?,
            "--iters" => a.iters = v()?.parse()?,
            "--points" => a.points = v()?.parse()?,
            "-h" | "--help" => {
                println!(
                    "gpu_check [--ort-lib PATH] [--data DIR] [--device cuda:0] [--iters 20] [--points 262144]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(a)
}

/// The generator's deterministic inputs (tools/gen_test_models.py).
fn det_input(spec: &Value) -> anyhow::Result<(Vec<usize>, Vec<f32>)> {
    let shape: Vec<usize> = spec["shape"]
        .as_array()
        .context("shape")?
        .iter()
        .map(|v| v.as_u64().unwrap_or(0) as usize)
        .collect();
    let offset = spec["offset"].as_i64().context("offset")?;
    let scale = spec["scale"].as_f64().context("scale")?;
    let shift = spec["shift"].as_f64().context("shift")?;
    let n: usize = shape.iter().product();
    let data = (0..n as i64)
        .map(|i| ((((i * 7919 + offset) % 10007) as f64 / 10007.0) * scale + shift) as f32)
        .collect();
    Ok((shape, data))
}

struct Report {
    rows: Vec<(String, bool, String)>,
}

impl Report {
    fn add(&mut self, name: impl Into<String>, ok: bool, detail: impl Into<String>) {
        let (name, detail) = (name.into(), detail.into());
        println!("  [{}] {name}: {detail}", if ok { "PASS" } else { "FAIL" });
        self.rows.push((name, ok, detail));
    }
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn run_timed(
    s: &mut LoadedSession,
    inputs: &[(Vec<usize>, Vec<f32>)],
    iters: usize,
) -> anyhow::Result<(Vec<OutputTensor>, f64, f64)> {
    let views: Vec<TensorView<'_>> = inputs.iter().map(|(s, d)| TensorView::new(s, d)).collect();
    let t = Instant::now();
    let out = s.run(&views)?;
    let first = ms(t);
    let t = Instant::now();
    for _ in 0..iters {
        s.run(&views)?;
    }
    let mean = ms(t) / iters.max(1) as f64;
    Ok((out, first, mean))
}

/// Max |a-b| / max(1,|b|) over all values.
fn max_rel(a: &[OutputTensor], b: &[OutputTensor]) -> f64 {
    let mut worst = 0.0f64;
    for (x, y) in a.iter().zip(b) {
        if x.shape != y.shape {
            return f64::INFINITY;
        }
        for (&p, &q) in x.data.iter().zip(&y.data) {
            let e = ((p - q).abs() as f64) / (q.abs() as f64).max(1.0);
            worst = worst.max(if e.is_nan() { f64::INFINITY } else { e });
        }
    }
    worst
}

fn print_placement(s: &LoadedSession) {
    match s.placement() {
        Some(p) if !p.providers.is_empty() => {
            for (ep, n, nodes) in &p.providers {
                println!("      {ep}: {n} node(s)");
                for node in nodes {
                    println!("        {node}");
                }
            }
        }
        _ => println!("      (ONNX Runtime reported no node placement)"),
    }
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let started = Instant::now();
    let mut report = Report { rows: Vec::new() };
    let base = RuntimeOptions {
        ort_lib: args.ort_lib.clone(),
        record_placement: true,
        ..RuntimeOptions::default()
    };
    let cpu = base.clone().with_device(Device::Cpu);
    let gpu = base.clone().with_device(args.device);

    println!("== ONNX Runtime");
    let t = Instant::now();
    let rt = runtime::init(&cpu)?;
    println!("  {} (loaded in {:.0} ms)", rt.describe(), ms(t));
    println!("  {}", rt.build_info());
    println!(
        "  CUDA provider in library: {}; TensorRT: {}",
        rt.has_cuda(),
        rt.has_tensorrt()
    );
    report.add(
        "CUDA execution provider available",
        rt.has_cuda(),
        if rt.has_cuda() {
            "yes"
        } else {
            "no (CPU-only library, or built without --features cuda)"
        },
    );

    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(args.data.join("reference.json"))
            .with_context(|| format!("reading {}", args.data.join("reference.json").display()))?,
    )?;
    let models: [(&str, &Contract); 6] = [
        ("triposr_encoder", &contracts::TRIPOSR_ENCODER),
        ("triposr_decoder_mlp", &contracts::TRIPOSR_DECODER_MLP),
        ("triposr_decoder_field", &contracts::TRIPOSR_DECODER_FIELD),
        ("depth_pro_canonical", &contracts::DEPTH_PRO_CANONICAL),
        ("depth_pro_metric", &contracts::DEPTH_PRO_METRIC),
        ("segmentation", &contracts::SEGMENTATION),
    ];
    println!("\n== tiny models: CPU vs {}", args.device);
    for (name, contract) in models {
        println!("\n-- {name} ({} v{})", contract.name, contract.version);
        let path = args.data.join(format!("{name}.onnx"));
        let r = &reference[name];
        let inputs: Vec<(Vec<usize>, Vec<f32>)> = r["inputs"]
            .as_array()
            .context("inputs")?
            .iter()
            .map(det_input)
            .collect::<anyhow::Result<_>>()?;
        let t = Instant::now();
        let mut c = load_session(&path, contract, &cpu)?;
        let cpu_load = ms(t);
        let (cpu_out, cpu_first, cpu_mean) = run_timed(&mut c, &inputs, args.iters)?;
        // CPU vs the numpy reference (sampled values, 1e-5).
        let mut worst = 0.0f64;
        for (o, e) in cpu_out
            .iter()
            .zip(r["outputs"].as_array().context("outputs")?)
        {
            for (i, v) in e["indices"]
                .as_array()
                .context("indices")?
                .iter()
                .zip(e["values"].as_array().context("values")?)
            {
                let (i, v) = (
                    i.as_u64().unwrap_or(0) as usize,
                    v.as_f64().unwrap_or(f64::NAN),
                );
                let got = o.data.get(i).copied().unwrap_or(f32::NAN) as f64;
                worst = worst.max((got - v).abs() / v.abs().max(1.0));
            }
        }
        report.add(
            format!("{name} CPU vs numpy reference"),
            worst <= 1e-5,
            format!("max rel err {worst:.2e}"),
        );
        println!(
            "    CPU: load {cpu_load:.1} ms, first run {cpu_first:.2} ms, mean {cpu_mean:.3} ms"
        );

        let t = Instant::now();
        let mut g = match load_session(&path, contract, &gpu) {
            Ok(g) => g,
            Err(e) => {
                report.add(format!("{name} on {}", args.device), false, e.to_string());
                continue;
            }
        };
        let gpu_load = ms(t);
        println!("    {} session, node placement:", g.execution_provider());
        print_placement(&g);
        let on_gpu = g
            .placement()
            .map(|p| p.nodes_on(g.execution_provider().ort_name()))
            .unwrap_or(0);
        let on_cpu = g
            .placement()
            .map(|p| p.nodes_on("CPUExecutionProvider"))
            .unwrap_or(0);
        let (gpu_out, gpu_first, gpu_mean) = run_timed(&mut g, &inputs, args.iters)?;
        println!(
            "    {}: load {gpu_load:.1} ms, first run {gpu_first:.2} ms, mean {gpu_mean:.3} ms",
            g.execution_provider()
        );
        let err = max_rel(&gpu_out, &cpu_out);
        report.add(
            format!("{name} {} vs CPU", g.execution_provider()),
            err <= 1e-2 && g.execution_provider() != ExecutionProvider::Cpu,
            format!("max rel diff {err:.2e} (tolerance 1e-2, TF32 allowed); {on_gpu} node(s) on {}, {on_cpu} on CPU", g.execution_provider().ort_name()),
        );
    }

    println!(
        "\n== throughput: TripoSR MLP decoder, {} points",
        args.points
    );
    let feats: Vec<f32> = (0..args.points * 120)
        .map(|i| ((i * 7919 % 10007) as f32 / 10007.0) * 2.0 - 1.0)
        .collect();
    let inputs = vec![(vec![args.points, 120], feats)];
    let mlp = args.data.join("triposr_decoder_mlp.onnx");
    let mut c = load_session(&mlp, &contracts::TRIPOSR_DECODER_MLP, &cpu)?;
    let (co, _, cm) = run_timed(&mut c, &inputs, 3)?;
    println!(
        "    CPU: {cm:.1} ms per batch ({:.1} M points/s)",
        args.points as f64 / cm / 1e3
    );
    match load_session(&mlp, &contracts::TRIPOSR_DECODER_MLP, &gpu) {
        Ok(mut g) => {
            let (go, _, gm) = run_timed(&mut g, &inputs, 10)?;
            println!(
                "    {}: {gm:.2} ms per batch incl. host<->device copies ({:.1} M points/s)",
                g.execution_provider(),
                args.points as f64 / gm / 1e3
            );
            let err = max_rel(&go, &co);
            report.add(
                "MLP throughput batch GPU vs CPU",
                err <= 1e-2,
                format!("max rel diff {err:.2e}; CPU {cm:.1} ms, GPU {gm:.2} ms"),
            );
        }
        Err(e) => report.add("MLP throughput batch on GPU", false, e.to_string()),
    }

    println!("\n== error handling");
    let bad = base.clone().with_device(Device::Cuda(97));
    match load_session(
        &args.data.join("segmentation.onnx"),
        &contracts::SEGMENTATION,
        &bad,
    ) {
        Err(e) if e.kind() == ErrorKind::ExecutionProvider => report.add(
            "cuda:97 (no such GPU) is an error, not a CPU run",
            true,
            e.to_string(),
        ),
        Err(e) => report.add(
            "cuda:97 (no such GPU) is an error, not a CPU run",
            false,
            format!("wrong error kind: {e}"),
        ),
        Ok(s) => report.add(
            "cuda:97 (no such GPU) is an error, not a CPU run",
            false,
            format!("loaded on {}", s.execution_provider()),
        ),
    }
    let auto = base.clone().with_device(Device::Auto);
    match load_session(
        &args.data.join("segmentation.onnx"),
        &contracts::SEGMENTATION,
        &auto,
    ) {
        Ok(s) => report.add(
            "--device auto picks CUDA",
            matches!(s.execution_provider(), ExecutionProvider::Cuda { .. }),
            format!(
                "{}{}",
                s.execution_provider(),
                s.cpu_fallback_reason()
                    .map(|r| format!(" (fallback: {r})"))
                    .unwrap_or_default()
            ),
        ),
        Err(e) => report.add("--device auto picks CUDA", false, e.to_string()),
    }

    let failed = report.rows.iter().filter(|r| !r.1).count();
    println!("\n== summary ({:.1} s)", started.elapsed().as_secs_f64());
    for (name, ok, _) in &report.rows {
        println!("  {} {name}", if *ok { "PASS" } else { "FAIL" });
    }
    println!("{} passed, {} failed", report.rows.len() - failed, failed);
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}
