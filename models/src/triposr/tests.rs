//! Parity of the TripoSR field and preprocessing with the numpy reference, and the
//! decoder layouts end to end through ONNX Runtime.
//!
//! Reference numbers: `python3 tools/triposr_reference.py` (float64 numpy of TripoSR's
//! decoder math: grid_sample align_corners=False with zero padding, plane order xy, xz,
//! yz, concatenation, SiLU MLP, exp(d - 1) and sigmoid). The same script writes the
//! fixtures in `models/tests/data/triposr_parity/` and checks them against onnxruntime.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use img23d_meshing::Field;

use super::decoder::{DecoderLayout, OrtGraphDecoder, extract_mlp};
use super::field::{MlpExec, TriplaneField};
use super::model::{Decoder, DecoderOptions, MlpBackend};
use super::preprocess::{PreprocessOptions, preprocess};
use super::triplane::Triplane;
use crate::contracts::TRIPOSR_DECODER_FIELD;
use crate::onnx_graph::OnnxModel;
use crate::{Device, RuntimeOptions, load_session};

// BEGIN pasted from tools/triposr_reference.py
#[rustfmt::skip]
#[allow(clippy::excessive_precision, reason = "pasted from the reference script")]
mod reference {
    pub const POINTS: [[f32; 3]; 8] = [[0.0, 0.0, 0.0], [0.31, -0.52, 0.77], [-0.86, 0.85, -0.12], [0.87, 0.87, 0.87], [-0.87, -0.87, -0.87], [0.95, 0.1, -0.3], [0.05, -0.6, 1.2], [0.5, 0.25, -0.4]];
    pub const RAW: [f32; 32] = [4.327680187e+00, 1.799815394e-01, -9.765869397e-02, -1.270743762e-01, 4.068186232e+00, 1.696406098e-01, -9.038538384e-03, -1.711353842e-01, 4.140467031e+00, 1.915917180e-01, -2.572913171e-01, -2.505132418e-01, 4.343573698e+00, 1.041967975e-01, -5.979827251e-02, -3.350369104e-02, 4.257465935e+00, 4.067736894e-01, -5.285550701e-02, 6.013148173e-02, 4.244708955e+00, 1.708390251e-01, -1.376250845e-01, -7.156422329e-02, 4.367821373e+00, 3.322113123e-01, -1.505057653e-01, -3.784571551e-02, 4.253153052e+00, -3.644431632e-02, -5.023975083e-02, 1.232764189e-01];
    pub const DENSITY: [f32; 8] = [2.787360510e+01, 2.150286608e+01, 2.311465960e+01, 2.832015377e+01, 2.598360949e+01, 2.565424245e+01, 2.901524475e+01, 2.587178653e+01];
    pub const COLOR: [f32; 24] = [5.448743144e-01, 4.756047120e-01, 4.682740867e-01, 5.423087379e-01, 4.977403808e-01, 4.573202677e-01, 5.477519480e-01, 4.360296786e-01, 4.376971768e-01, 5.260256570e-01, 4.850548850e-01, 4.916248606e-01, 6.003140184e-01, 4.867891987e-01, 5.150283424e-01, 5.426061814e-01, 4.656479327e-01, 4.821165759e-01, 5.822973257e-01, 4.624444243e-01, 4.905397003e-01, 4.908899292e-01, 4.874427034e-01, 5.307801339e-01];
    pub const PICTURE: [[u8; 4]; 77] = [[40, 40, 40, 0], [40, 40, 40, 0], [40, 40, 40, 0], [40, 40, 40, 0], [40, 40, 40, 0], [40, 40, 40, 0], [40, 40, 40, 0], [40, 40, 40, 0], [40, 40, 40, 0], [40, 40, 40, 0], [40, 40, 40, 0], [40, 40, 40, 0], [40, 40, 40, 0], [74, 91, 26, 255], [111, 91, 39, 255], [148, 91, 52, 255], [185, 91, 65, 255], [222, 91, 78, 255], [3, 91, 91, 255], [40, 91, 104, 255], [77, 91, 117, 100], [40, 40, 40, 0], [40, 40, 40, 0], [40, 40, 40, 0], [74, 182, 52, 255], [111, 182, 78, 255], [148, 182, 104, 255], [185, 182, 130, 255], [222, 182, 156, 255], [3, 182, 182, 255], [40, 182, 208, 255], [77, 182, 234, 100], [40, 40, 40, 0], [40, 40, 40, 0], [40, 40, 40, 0], [74, 17, 78, 255], [111, 17, 117, 255], [148, 17, 156, 255], [185, 17, 195, 255], [222, 17, 234, 255], [3, 17, 17, 255], [40, 17, 56, 255], [77, 17, 95, 100], [40, 40, 40, 0], [40, 40, 40, 0], [40, 40, 40, 0], [74, 108, 104, 255], [111, 108, 156, 255], [148, 108, 208, 255], [185, 108, 4, 255], [222, 108, 56, 255], [3, 108, 108, 255], [40, 108, 160, 255], [77, 108, 212, 100], [40, 40, 40, 0], [40, 40, 40, 0], [40, 40, 40, 0], [74, 199, 130, 255], [111, 199, 195, 255], [148, 199, 4, 255], [185, 199, 69, 255], [222, 199, 134, 255], [3, 199, 199, 255], [40, 199, 8, 255], [77, 199, 73, 100], [40, 40, 40, 0], [40, 40, 40, 0], [40, 40, 40, 0], [40, 40, 40, 0], [40, 40, 40, 0], [40, 40, 40, 0], [40, 40, 40, 0], [40, 40, 40, 0], [40, 40, 40, 0], [40, 40, 40, 0], [40, 40, 40, 0], [40, 40, 40, 0]];
    pub const PREPROCESSED: [f32; 108] = [4.487450980e-01, 4.556862745e-01, 3.838039216e-01, 5.009803922e-01, 4.556862745e-01, 4.021568627e-01, 5.583600713e-01, 4.556862745e-01, 4.223172906e-01, 5.355793226e-01, 4.556862745e-01, 4.431729055e-01, 3.739215686e-01, 4.556862745e-01, 4.633333333e-01, 4.673333333e-01, 4.853333333e-01, 4.899215686e-01, 3.337254902e-01, 5.352941176e-01, 1.758823529e-01, 5.078431373e-01, 5.352941176e-01, 2.676470588e-01, 6.991087344e-01, 5.352941176e-01, 3.684491979e-01, 6.231729055e-01, 5.352941176e-01, 4.727272727e-01, 8.431372549e-02, 5.352941176e-01, 5.735294118e-01, 3.956862745e-01, 5.092156863e-01, 5.321568627e-01, 3.337254902e-01, 2.755793226e-01, 3.304456328e-01, 5.078431373e-01, 2.755793226e-01, 5.028520499e-01, 6.991087344e-01, 2.755793226e-01, 6.258629071e-01, 6.231729055e-01, 2.755793226e-01, 6.226543510e-01, 8.431372549e-02, 2.755793226e-01, 3.474153298e-01, 3.956862745e-01, 4.313012478e-01, 4.744028520e-01, 3.785383244e-01, 4.114081996e-01, 4.662745098e-01, 5.051693405e-01, 4.114081996e-01, 6.386809269e-01, 6.442715929e-01, 4.114081996e-01, 3.634419057e-01, 5.890455356e-01, 4.114081996e-01, 3.602333495e-01, 1.971479501e-01, 4.114081996e-01, 4.832442068e-01, 4.236007130e-01, 4.720499109e-01, 5.151515152e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01, 4.980392157e-01];
}
// END pasted
use reference::*;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/triposr_parity")
        .join(name)
}

/// The reference script's triplane: `((i * 7919 + 5) % 10007) / 10007 * 2 - 1`.
fn triplane() -> Triplane {
    let n = 3 * 40 * 64 * 64;
    let v: Vec<f32> = (0..n as i64)
        .map(|i| (((i * 7919 + 5) % 10007) as f64 / 10007.0 * 2.0 - 1.0) as f32)
        .collect();
    Triplane::from_nchw(&v, 40, 64, 64).unwrap()
}

fn cpu() -> RuntimeOptions {
    RuntimeOptions::default().with_device(Device::Cpu)
}

fn check(field: &TriplaneField, what: &str) {
    let mut d = [0.0f32; 8];
    let mut c = [[0.0f32; 3]; 8];
    field.eval_scalar(&POINTS, &mut d).unwrap();
    field.eval_color(&POINTS, &mut c).unwrap();
    for i in 0..8 {
        let tol = 1e-5 * DENSITY[i].abs().max(1.0);
        assert!(
            (d[i] - DENSITY[i]).abs() <= tol,
            "{what}: density {i}: {} vs {}",
            d[i],
            DENSITY[i]
        );
        for k in 0..3 {
            let want = COLOR[3 * i + k];
            assert!(
                (c[i][k] - want).abs() <= 1e-5,
                "{what}: color {i}.{k}: {} vs {want}",
                c[i][k]
            );
        }
    }
}

#[test]
fn rust_field_matches_reference_plain_and_folded() {
    let model = OnnxModel::read(&data("decoder_mlp.onnx")).unwrap();
    let mlp = Arc::new(extract_mlp(&model, 120).unwrap().mlp);
    assert_eq!(mlp.layers().len(), 3);
    let t = triplane();
    let plain = TriplaneField::plain(t.clone(), MlpExec::Rust(mlp.clone()));
    check(&plain, "plain");
    let folded = TriplaneField::folded(&t, &mlp.layers()[0], MlpExec::Rust(mlp.clone())).unwrap();
    check(&folded, "folded");
    // Folded equals plain (beyond the reference's tolerance: same f32 arithmetic but
    // for the summation order of the first layer).
    let mut a = [0.0f32; 8];
    let mut b = [0.0f32; 8];
    plain.eval_scalar(&POINTS, &mut a).unwrap();
    folded.eval_scalar(&POINTS, &mut b).unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() <= 2e-6 * x.abs().max(1.0), "{x} vs {y}");
    }
    assert_eq!(plain.surface().level, 25.0);
    assert_eq!(plain.bounds(), img23d_meshing::Bounds::cube(0.87));
}

#[test]
fn mlp_graph_is_read_exactly() {
    let model = OnnxModel::read(&data("decoder_mlp.onnx")).unwrap();
    let ex = extract_mlp(&model, 120).unwrap();
    assert_eq!(ex.input, "features");
    assert_eq!(ex.output, "raw");
    // Raw outputs of the plain path equal the reference's raw MLP outputs.
    let t = triplane();
    let unit: Vec<[f32; 3]> = POINTS
        .iter()
        .map(|p| super::triplane::to_unit(*p, 0.87))
        .collect();
    let mut feats = vec![0.0; 8 * 120];
    t.sample_concat(&unit, &mut feats);
    let mut raw = vec![0.0; 32];
    let mut scratch = vec![0.0; 2 * 8 * ex.mlp.max_width()];
    ex.mlp.forward(&feats, 8, &mut scratch, &mut raw);
    for (g, w) in raw.iter().zip(RAW) {
        assert!((g - w).abs() <= 1e-5 * w.abs().max(1.0), "{g} vs {w}");
    }
    // The graph layout's MLP (Gemm with transB) reads the same weights.
    let graph = OnnxModel::read(&data("decoder_graph.onnx")).unwrap();
    let gx = extract_mlp(&graph, 120).unwrap();
    for (a, b) in gx.mlp.layers().iter().zip(ex.mlp.layers()) {
        assert_eq!(a.weight, b.weight);
        assert_eq!(a.bias, b.bias);
    }
}

#[test]
fn both_layouts_all_paths_through_onnx_runtime() {
    for (file, layout) in [
        ("decoder_mlp.onnx", DecoderLayout::Mlp),
        ("decoder_graph.onnx", DecoderLayout::Graph),
    ] {
        for fold in [true, false] {
            for backend in [MlpBackend::Rust, MlpBackend::Ort] {
                let opts = DecoderOptions { fold, backend };
                let dec = Decoder::load(&data(file), &opts, &cpu()).unwrap();
                assert_eq!(dec.layout(), layout);
                let what = format!("{file} fold={fold} {backend:?}: {}", dec.describe());
                assert!(!dec.describe().contains("as published"), "{what}");
                check(&dec.field(triplane()).unwrap(), &what);
            }
        }
    }
}

#[test]
fn auto_backend_runs_the_mlp_in_rust_on_the_cpu() {
    // On the CPU the Rust MLP is the faster path (BENCHMARKS.md, TripoSR field); ONNX
    // Runtime runs it only on a GPU or when asked for.
    for file in ["decoder_mlp.onnx", "decoder_graph.onnx"] {
        let dec = Decoder::load(&data(file), &DecoderOptions::default(), &cpu()).unwrap();
        assert!(dec.describe().contains("MLP in Rust"), "{}", dec.describe());
        assert_eq!(dec.runs_on(), "Rust (CPU)");
        let field = dec.field(triplane()).unwrap();
        assert_eq!(field.path(), "folded first layer, Rust MLP");
        check(&field, "auto");
    }
}

#[test]
fn graph_layout_as_published() {
    let session =
        load_session(&data("decoder_graph.onnx"), &TRIPOSR_DECODER_FIELD, &cpu()).unwrap();
    let g = Arc::new(OrtGraphDecoder::new(session));
    check(&TriplaneField::graph(&triplane(), g), "graph as published");
}

#[test]
fn preprocessing_matches_reference() {
    let img = image::RgbaImage::from_fn(11, 7, |x, y| image::Rgba(PICTURE[(y * 11 + x) as usize]));
    let p = preprocess(
        &img,
        &PreprocessOptions {
            foreground_ratio: 0.85,
            size: 6,
        },
    )
    .unwrap();
    for c in 0..3 {
        for i in 0..36 {
            let got = p.tensor[c * 36 + i];
            let want = PREPROCESSED[i * 3 + c];
            assert!(
                (got - want).abs() < 1e-6,
                "channel {c} pixel {i}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn unknown_layouts_are_refused() {
    // An MLP graph with 3 outputs is neither layout.
    let l = super::mlp::Linear {
        inputs: 120,
        outputs: 3,
        weight: vec![0.0; 360],
        bias: vec![0.0; 3],
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("three.onnx");
    std::fs::write(&path, super::decoder::mlp_to_onnx(&[l], false)).unwrap();
    let err = Decoder::load(&path, &DecoderOptions::default(), &cpu()).unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
}

#[test]
fn mismatching_graph_falls_back_to_itself() {
    // decoder_graph_bias2.onnx computes exp(d - 2): its MLP reads like TripoSR's but the
    // self-check against the graph fails, so the field runs the graph as published.
    let dec = Decoder::load(
        &data("decoder_graph_bias2.onnx"),
        &DecoderOptions::default(),
        &cpu(),
    )
    .unwrap();
    let field = dec.field(triplane()).unwrap();
    assert!(field.path().contains("decoder graph"), "{}", field.path());
    let mut d = [0.0f32; 8];
    field.eval_scalar(&POINTS, &mut d).unwrap();
    for i in 0..8 {
        let want = DENSITY[i] / std::f32::consts::E;
        assert!(
            (d[i] - want).abs() <= 1e-5 * want,
            "{i}: {} vs {want}",
            d[i]
        );
    }
}

fn runtime_data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[test]
fn runtime_tiny_decoders_fold_and_agree() {
    // The generator's real-size MLP (Gemm layers) and its single-layer field graph.
    let t = triplane();
    let pts: Vec<[f32; 3]> = (0..64)
        .map(|i| {
            let f = i as f32 / 63.0 * 1.7 - 0.85;
            [f, -0.6 * f, 0.3 - 0.5 * f]
        })
        .collect();
    for file in ["triposr_decoder_mlp.onnx", "triposr_decoder_field.onnx"] {
        let mut results = Vec::new();
        for (fold, backend) in [
            (true, MlpBackend::Rust),
            (true, MlpBackend::Ort),
            (false, MlpBackend::Ort),
        ] {
            let dec = Decoder::load(
                &runtime_data(file),
                &DecoderOptions { fold, backend },
                &cpu(),
            )
            .unwrap();
            assert!(
                !dec.describe().contains("as published"),
                "{file}: {}",
                dec.describe()
            );
            let field = dec.field(t.clone()).unwrap();
            let mut d = vec![0.0f32; pts.len()];
            let mut c = vec![[0.0f32; 3]; pts.len()];
            field.eval_scalar(&pts, &mut d).unwrap();
            field.eval_color(&pts, &mut c).unwrap();
            results.push((d, c));
        }
        for (d, c) in &results[1..] {
            for i in 0..pts.len() {
                assert!(
                    (d[i] - results[0].0[i]).abs() <= 1e-4 * d[i].abs().max(1.0),
                    "{file} {i}"
                );
                for (a, b) in c[i].iter().zip(&results[0].1[i]) {
                    assert!((a - b).abs() <= 1e-5, "{file} {i}");
                }
            }
        }
    }
}

/// Writes a tiny encoder-shaped graph: image -> [optional Sub mean, Div std] ->
/// AveragePool 8 -> Conv 3->120 -> Reshape [1,3,40,64,64].
fn write_encoder(path: &Path, normalised_inside: bool) {
    use crate::onnx_graph::{Writer, write_float_tensor, write_node, write_value_info};
    let mut m = Writer::default();
    m.varint(1, 8);
    m.message(8, |o| {
        o.string(1, "");
        o.varint(2, 17);
    });
    m.message(7, |g| {
        let mut x = "image";
        if normalised_inside {
            g.message(1, |n| {
                write_node(n, "Sub", "sub", &["image", "mean"], &["centred"])
            });
            g.message(1, |n| {
                write_node(n, "Div", "div", &["centred", "std"], &["normed"])
            });
            x = "normed";
        }
        g.message(1, |n| {
            write_node(n, "AveragePool", "pool", &[x], &["pooled"]);
            n.message(5, |a| {
                a.string(1, "kernel_shape");
                a.varint(8, 8);
                a.varint(8, 8);
                a.varint(20, 7);
            });
            n.message(5, |a| {
                a.string(1, "strides");
                a.varint(8, 8);
                a.varint(8, 8);
                a.varint(20, 7);
            });
        });
        g.message(1, |n| {
            write_node(n, "Conv", "conv", &["pooled", "w", "b"], &["feat"])
        });
        g.message(1, |n| {
            write_node(n, "Reshape", "reshape", &["feat", "shape"], &["triplane"])
        });
        g.string(2, "tiny_encoder");
        g.message(5, |t| {
            write_float_tensor(t, "mean", &[1, 3, 1, 1], &[0.485, 0.456, 0.406])
        });
        g.message(5, |t| {
            write_float_tensor(t, "std", &[1, 3, 1, 1], &[0.229, 0.224, 0.225])
        });
        let w: Vec<f32> = (0..360).map(|i| ((i % 7) as f32 - 3.0) * 0.1).collect();
        g.message(5, |t| write_float_tensor(t, "w", &[120, 3, 1, 1], &w));
        g.message(5, |t| write_float_tensor(t, "b", &[120], &[0.0; 120]));
        g.message(5, |t| {
            t.varint(1, 5);
            t.varint(2, 7);
            t.string(8, "shape");
            let raw: Vec<u8> = [1i64, 3, 40, 64, 64]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            t.bytes(9, &raw);
        });
        g.message(11, |v| {
            write_value_info(v, "image", &[Ok(1), Ok(3), Ok(512), Ok(512)])
        });
        g.message(12, |v| {
            write_value_info(v, "triplane", &[Ok(1), Ok(3), Ok(40), Ok(64), Ok(64)])
        });
    });
    std::fs::write(path, m.into_bytes()).unwrap();
}

#[test]
fn encoder_normalisation_is_detected() {
    use super::model::{Encoder, Normalization};
    let dir = tempfile::tempdir().unwrap();
    let inside = dir.path().join("inside.onnx");
    let outside = dir.path().join("outside.onnx");
    write_encoder(&inside, true);
    write_encoder(&outside, false);
    let a = Encoder::load(&inside, Normalization::Auto, &cpu()).unwrap();
    let b = Encoder::load(&outside, Normalization::Auto, &cpu()).unwrap();
    assert!(!a.normalizes_outside());
    assert!(b.normalizes_outside());
    // Both give the same triplane: the normalisation happens once, inside or outside.
    let img = image::RgbaImage::from_fn(40, 30, |x, y| {
        image::Rgba([(x * 6) as u8, (y * 8) as u8, 90, 255])
    });
    let p = preprocess(&img, &PreprocessOptions::default()).unwrap();
    let ta = a.encode(&p).unwrap();
    let tb = b.encode(&p).unwrap();
    let (va, vb) = (ta.to_nchw(), tb.to_nchw());
    assert_eq!(va.len(), 3 * 40 * 64 * 64);
    for (x, y) in va.iter().zip(&vb) {
        assert!((x - y).abs() < 1e-4, "{x} vs {y}");
    }
    // Forcing it is honoured.
    assert!(
        !Encoder::load(&outside, Normalization::Inside, &cpu())
            .unwrap()
            .normalizes_outside()
    );
}

#[test]
fn runtime_tiny_encoder_gives_a_triplane() {
    use super::model::{Encoder, Normalization};
    let enc = Encoder::load(
        &runtime_data("triposr_encoder.onnx"),
        Normalization::Inside,
        &cpu(),
    )
    .unwrap();
    let img = image::RgbaImage::from_fn(50, 40, |x, y| {
        image::Rgba([(x * 5) as u8, (y * 6) as u8, 120, 255])
    });
    let t = enc
        .encode(&preprocess(&img, &PreprocessOptions::default()).unwrap())
        .unwrap();
    assert_eq!((t.channels(), t.height(), t.width()), (40, 64, 64));
}
