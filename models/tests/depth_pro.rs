//! The Depth Pro wrapper on tiny models with the real contracts (`models/tests/data/`,
//! made by `tools/gen_test_models.py`, section "Depth Pro scene pair"): both export
//! layouts compute the same canonical scene from the picture (brighter = nearer), so
//! both must give the same metric depth. Needs the ONNX Runtime library
//! (`python3 -m pip install onnxruntime==1.31.1`, or ORT_DYLIB_PATH).

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use img23d_meshing::Limits;
use img23d_models::depth_pro::{
    DepthPro, DepthSemantics, FocalSource, INPUT_SIZE, KnownFocal, focal_px_from_fov,
};
use img23d_models::runtime::{Device, RuntimeOptions};
use img23d_models::{Error, ErrorKind};
use serde_json::Value;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn cpu() -> RuntimeOptions {
    RuntimeOptions::default().with_device(Device::Cpu)
}

fn load(name: &str) -> DepthPro {
    DepthPro::load(&data(name), &cpu(), None).unwrap()
}

/// A dark wall with a bright box in the middle third, `w` × `h` pixels.
fn box_scene(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |u, v| {
        let inside = (w / 3..2 * w / 3).contains(&u) && (h / 3..2 * h / 3).contains(&v);
        if inside {
            Rgb([255, 255, 255])
        } else {
            Rgb([0, 0, 0])
        }
    })
}

#[test]
fn layouts_give_their_semantics() {
    let c = load("depth_pro_scene_canonical.onnx");
    assert_eq!(c.semantics(), DepthSemantics::CanonicalInverseDepth);
    let squeezed = load("depth_pro_scene_canonical_squeezed.onnx");
    assert_eq!(squeezed.semantics(), DepthSemantics::CanonicalInverseDepth);
    let m = load("depth_pro_scene_metric.onnx");
    assert_eq!(m.semantics(), DepthSemantics::MetricDepth);
    // The other generator's pair (different weights) has the same layouts.
    assert_eq!(
        load("depth_pro_metric.onnx").semantics(),
        DepthSemantics::MetricDepth
    );
}

/// The raw outputs match the generator's numpy reference (`reference.json`,
/// `depth_pro_scene_*`), fed the generator's deterministic input through the session.
#[test]
fn raw_outputs_match_the_generator() {
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(data("reference.json")).unwrap()).unwrap();
    for (name, contract) in [
        (
            "depth_pro_scene_canonical",
            &img23d_models::contracts::DEPTH_PRO_CANONICAL,
        ),
        (
            "depth_pro_scene_metric",
            &img23d_models::contracts::DEPTH_PRO_METRIC,
        ),
        (
            "depth_pro_scene_canonical_squeezed",
            &img23d_models::contracts::DEPTH_PRO_CANONICAL,
        ),
    ] {
        let e = &r[name];
        let n = 3 * INPUT_SIZE * INPUT_SIZE;
        let x: Vec<f32> = (0..n as i64)
            .map(|i| ((((i * 7919 + 11) % 10007) as f64 / 10007.0) * 2.0 - 1.0) as f32)
            .collect();
        let mut s =
            img23d_models::load_session(&data(&format!("{name}.onnx")), contract, &cpu()).unwrap();
        let shape = [1, 3, INPUT_SIZE, INPUT_SIZE];
        let outs = s
            .run(&[img23d_models::TensorView::new(&shape, &x)])
            .unwrap();
        for (k, o) in outs.iter().enumerate() {
            let ex = &e["outputs"][k];
            for (i, v) in ex["indices"]
                .as_array()
                .unwrap()
                .iter()
                .zip(ex["values"].as_array().unwrap())
            {
                let (i, v) = (i.as_u64().unwrap() as usize, v.as_f64().unwrap());
                let got = f64::from(o.data[i]);
                assert!(
                    (got - v).abs() <= 1e-5 * v.abs().max(1.0),
                    "{name} output {k}[{i}]: {got} vs {v}"
                );
            }
        }
    }
}

#[test]
fn black_picture_has_the_analytic_depth() {
    // cid = 0.25, fov = 45 degrees: depth = 1 / (2 tan(22.5 deg) 0.25) = 4.828427 m, at any
    // size and aspect ratio.
    for name in [
        "depth_pro_scene_canonical.onnx",
        "depth_pro_scene_metric.onnx",
        // Issue 12: the canonical layout with its singleton dimensions squeezed.
        "depth_pro_scene_canonical_squeezed.onnx",
    ] {
        let mut model = load(name);
        for (w, h) in [(64, 48), (30, 90), (8, 8)] {
            let img = RgbImage::new(w, h);
            let m = model.predict(&img, None, &Limits::default()).unwrap();
            assert_eq!(
                (m.depth.width(), m.depth.height()),
                (w as usize, h as usize)
            );
            assert!((m.network_fov_deg - 45.0).abs() < 1e-3, "{name}");
            assert!((m.focal_px - focal_px_from_fov(w as usize, 45.0)).abs() < 1e-2);
            assert_eq!(m.focal_source, FocalSource::Network);
            for &d in m.depth.data() {
                assert!((d - 4.828_427).abs() < 1e-4, "{name} {w}x{h}: {d}");
            }
        }
    }
}

#[test]
fn both_layouts_give_the_same_metric_depth() {
    let mut c = load("depth_pro_scene_canonical.onnx");
    let mut m = load("depth_pro_scene_metric.onnx");
    for (w, h) in [(120, 90), (45, 160), (300, 20)] {
        let img = box_scene(w, h);
        for known in [
            None,
            Some(KnownFocal {
                px: 100.0,
                source: FocalSource::User,
            }),
        ] {
            let a = c.predict(&img, known, &Limits::default()).unwrap();
            let b = m.predict(&img, known, &Limits::default()).unwrap();
            assert!((a.focal_px - b.focal_px).abs() < 1e-3 * a.focal_px);
            let mut worst = 0.0f32;
            for (x, y) in a.depth.data().iter().zip(b.depth.data()) {
                worst = worst.max((x - y).abs() / x);
            }
            assert!(
                worst < 1e-5,
                "{w}x{h} {known:?}: relative difference {worst}"
            );
            // Near box, far wall.
            let centre = a.depth.at(w as usize / 2, h as usize / 2);
            let corner = a.depth.at(0, 0);
            assert!(centre < corner * 0.5, "{centre} vs {corner}");
        }
    }
}

#[test]
fn wrong_files_are_refused_with_the_layouts_listed() {
    let e = DepthPro::load(&data("triposr_encoder.onnx"), &cpu(), None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Signature, "{e}");
    let text = e.to_string();
    assert!(text.contains("Depth Pro (metric depth"), "{text}");
    assert!(text.contains("Depth Pro (canonical"), "{text}");
    let e = DepthPro::load(&data("nonexistent.onnx"), &cpu(), None).unwrap_err();
    assert!(matches!(e, Error::ModelMissing { .. }), "{e}");
}
