//! Bench command: Depth Pro post-processing and meshing at 12 MP (4000×3000), everything
//! `img23d depth` does apart from decoding the picture and running the network.
//!
//! ```text
//! cargo bench -p img23d-models --bench depth_post            # 12 MP, 5 runs per stage
//! cargo bench -p img23d-models --bench depth_post -- 2000 1500 3
//! ```
//!
//! Prints the median wall time of each stage and the total of the compute stages (target:
//! under 1 s on the 2-core development machine) and of the file writes, with the process's
//! CPU time per run beside it (from `/proc/self/stat`; on a shared, loaded machine the
//! wall time is inflated, while CPU time ÷ cores bounds the wall time an idle machine
//! would take for the parallel stages). The network output
//! is synthetic: a canonical inverse depth of a receding floor, a wall and a box in front of
//! it (so the edge test and the cutting have discontinuities to find).

use std::time::{Duration, Instant};

use img23d_meshing::Limits;
use img23d_meshing::depth::{
    Intrinsics, PointCloudOptions, PreviewOptions, ReliefOptions, auto_stride, colorize_preview,
    depth_png_millimeters, point_cloud, relief_mesh,
};
use img23d_models::depth_pro::{DepthSemantics, INPUT_SIZE, metric_depth};

/// User + system CPU time of this process so far, from `/proc/self/stat` (Linux), in
/// clock ticks of 10 ms; `None` elsewhere.
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses): utime is the 14th field.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Median wall time over `runs` runs, and the mean CPU time per run.
#[derive(Clone, Copy, Default)]
struct Timing {
    wall: Duration,
    cpu: Option<Duration>,
}

impl std::iter::Sum for Timing {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Timing::default(), |a, b| Timing {
            wall: a.wall + b.wall,
            cpu: a.cpu.zip(b.cpu).map(|(x, y)| x + y).or(a.cpu.or(b.cpu)),
        })
    }
}

fn median_time(runs: usize, mut f: impl FnMut()) -> Timing {
    let c0 = cpu_ticks();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    let cpu = c0
        .zip(cpu_ticks())
        .map(|(a, b)| Duration::from_millis((b - a) * 10 / runs as u64));
    times.sort();
    Timing {
        wall: times[times.len() / 2],
        cpu,
    }
}

fn line(name: &str, t: Timing) {
    let cpu = t.cpu.map_or(String::new(), |c| {
        format!("   cpu {:>8.1} ms", c.as_secs_f64() * 1e3)
    });
    println!("  {name:<34} {:>8.1} ms{cpu}", t.wall.as_secs_f64() * 1e3);
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (w, h, runs) = match args.as_slice() {
        [w, h, r, ..] => (*w, *h, *r),
        [w, h] => (*w, *h, 5),
        _ => (4000, 3000, 5),
    };
    let limits = Limits::default();
    let side = INPUT_SIZE;
    // Canonical inverse depth: floor in the lower half, a wall above, a box in the middle.
    let cid: Vec<f32> = (0..side * side)
        .map(|i| {
            let (x, y) = (
                (i % side) as f32 / side as f32,
                (i / side) as f32 / side as f32,
            );
            let background = if y > 0.5 {
                0.15 + 0.8 * (y - 0.5)
            } else {
                0.15
            };
            let in_box = (0.35..0.65).contains(&x) && (0.3..0.8).contains(&y);
            if in_box { 0.5 } else { background }
        })
        .collect();
    let picture = image::RgbImage::from_fn(w as u32, h as u32, |u, v| {
        image::Rgb([(u % 256) as u8, (v % 256) as u8, ((u + v) % 256) as u8])
    });

    let mut report: Vec<(&str, Timing)> = Vec::new();
    let mut m = None;
    report.push((
        "metric depth (1536^2 -> WxH)",
        median_time(runs, || {
            m = Some(
                metric_depth(
                    &cid,
                    60.0,
                    DepthSemantics::CanonicalInverseDepth,
                    (w, h),
                    None,
                    &limits,
                )
                .unwrap(),
            );
        }),
    ));
    let m = m.unwrap();
    let k = Intrinsics::centered(w, h, m.focal_px).unwrap();
    report.push((
        "stats (min/median/max)",
        median_time(runs, || {
            m.depth.stats().unwrap();
        }),
    ));
    let cloud_stride = auto_stride(w, h, 1536);
    let mut points = 0;
    report.push((
        "point cloud (auto stride)",
        median_time(runs, || {
            let opts = PointCloudOptions {
                stride: cloud_stride,
                max_depth: 250.0,
            };
            points = point_cloud(&m.depth, &k, Some(&picture), &opts)
                .unwrap()
                .positions
                .len();
        }),
    ));
    let mesh_stride = auto_stride(w, h, 1024);
    let mut mesh = None;
    report.push((
        "relief mesh (auto stride)",
        median_time(runs, || {
            let opts = ReliefOptions {
                stride: mesh_stride,
                max_depth: 250.0,
                ..ReliefOptions::default()
            };
            mesh = Some(relief_mesh(&m.depth, &k, &opts, &limits).unwrap());
        }),
    ));
    let mesh = mesh.unwrap();
    report.push((
        "preview colorize",
        median_time(runs, || {
            colorize_preview(&m.depth, &PreviewOptions::default()).unwrap();
        }),
    ));
    report.push((
        "depth to 16-bit mm",
        median_time(runs, || {
            depth_png_millimeters(&m.depth).unwrap();
        }),
    ));
    let compute: Timing = report.iter().map(|(_, t)| *t).sum();

    // Full-resolution variants, for reference (not part of the default command).
    let full_cloud = median_time(runs.min(3), || {
        point_cloud(&m.depth, &k, Some(&picture), &PointCloudOptions::default()).unwrap();
    });
    let full_mesh = median_time(runs.min(3), || {
        relief_mesh(&m.depth, &k, &ReliefOptions::default(), &limits).unwrap();
    });

    // File writes.
    let dir = tempfile::tempdir().unwrap();
    let mut writes: Vec<(&str, Timing)> = Vec::new();
    writes.push((
        "write .npy",
        median_time(runs, || {
            img23d_meshing::npy::write_npy_f32(&dir.path().join("d.npy"), &[h, w], m.depth.data())
                .unwrap();
        }),
    ));
    writes.push((
        "write 16-bit png",
        median_time(runs, || {
            img23d_meshing::depth::write_depth_png_millimeters(&dir.path().join("d.png"), &m.depth)
                .unwrap();
        }),
    ));
    let preview = colorize_preview(&m.depth, &PreviewOptions::default()).unwrap();
    writes.push((
        "write preview png",
        median_time(runs, || {
            img23d_meshing::depth::write_rgb_png(&dir.path().join("p.png"), &preview).unwrap();
        }),
    ));
    let cloud = point_cloud(
        &m.depth,
        &k,
        Some(&picture),
        &PointCloudOptions {
            stride: cloud_stride,
            max_depth: 250.0,
        },
    )
    .unwrap();
    writes.push((
        "write point cloud ply",
        median_time(runs, || {
            img23d_meshing::export::write_point_cloud_ply(
                &dir.path().join("c.ply"),
                &cloud.positions,
                &cloud.colors,
            )
            .unwrap();
        }),
    ));
    let asset = img23d_meshing::Asset {
        name: "bench".to_string(),
        mesh: mesh.clone(),
        material: img23d_meshing::Material {
            base_color_texture: Some(image::DynamicImage::ImageRgb8(picture.clone()).into_rgba8()),
            double_sided: true,
            ..img23d_meshing::Material::default()
        },
    };
    writes.push((
        "write relief glb (12 MP texture)",
        median_time(runs.min(3), || {
            img23d_meshing::export::write_glb(
                &dir.path().join("r.glb"),
                &asset,
                &img23d_meshing::export::GlbOptions::default(),
            )
            .unwrap();
        }),
    ));
    let io: Timing = writes.iter().map(|(_, t)| *t).sum();

    println!(
        "depth post-processing bench: {w}x{h} ({:.1} MP), median of {runs} runs, {} threads",
        (w * h) as f64 / 1e6,
        rayon::current_num_threads()
    );
    for (name, t) in &report {
        line(name, *t);
    }
    line("= compute total", compute);
    for (name, t) in &writes {
        line(name, *t);
    }
    line("= writes total", io);
    println!(
        "  point cloud: stride {cloud_stride}, {points} points; relief: stride {mesh_stride}, {} vertices, {} triangles",
        mesh.vertex_count(),
        mesh.triangle_count()
    );
    line("full-res point cloud (stride 1)", full_cloud);
    line("full-res relief mesh (stride 1)", full_mesh);
}
