//! Parity of the TripoSR field and preprocessing with the numpy reference, and the
//! decoder layouts end to end through ONNX Runtime.
//!
//! Reference numbers: `python3 tools/triposr_reference.py` (float64 numpy of TripoSR's
//! decoder math: grid_sample align_corners=False with zero padding, plane order xy, xz,
//! yz, concatenation, SiLU MLP, exp(d - 1) and sigmoid). The same script writes the
//! fixtures in `models/tests/data/triposr_parity/` and checks them against onnxruntime.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use img23d_meshing::Field;
use ort::environment::Environment;
use ort::session::Session;

use super::decoder::{DecoderLayout, SessionSource, extract_mlp};
use super::field::{MlpExec, TriplaneField};
use super::model::{Decoder, DecoderOptions, MlpBackend};
use super::onnx_graph::OnnxModel;
use super::preprocess::{PreprocessOptions, preprocess};
use super::triplane::Triplane;

// BEGIN pasted from tools/triposr_reference.py
#[rustfmt::skip]
#[allow(clippy::excessive_precision, reason = "pasted from the reference script")]
mod reference {
    pub const POINTS: [[f32; 3]; 8] = [[0.0, 0.0, 0.0], [0.31, -0.52, 0.77], [-0.86, 0.85, -0.12], [0.87, 0.87, 0.87], [-0.87, -0.87, -0.87], [0.95, 0.1, -0.3], [0.05, -0.6, 1.2], [0.5, 0.25, -0.4]];
    pub const RAW: [f32; 32] = [4.199153651e+00, 3.588527652e-01, -9.338296266e-02, 2.697687087e-02, 4.288997818e+00, -6.110268223e-02, -1.341410424e-01, -5.538983477e-01, 3.898406631e+00, 3.501087504e-01, -8.208908513e-02, -2.035677523e-01, 4.008341475e+00, 8.648911080e-03, 5.363720317e-02, 2.364270024e-02, 3.883079164e+00, -1.627861571e-01, 2.531889328e-01, -9.907093977e-02, 3.928600930e+00, -2.193957065e-01, 2.083690203e-01, 6.907537852e-02, 4.146712921e+00, -4.567109420e-02, -1.596821809e-01, 1.039174906e-01, 4.443392110e+00, 2.416654728e-02, 4.553131416e-01, 9.719891949e-01];
    pub const DENSITY: [f32; 8] = [2.451177589e+01, 2.681597569e+01, 1.814521030e+01, 2.025378066e+01, 1.786921079e+01, 1.870144756e+01, 2.325948304e+01, 3.129292738e+01];
    pub const COLOR: [f32; 24] = [5.887626925e-01, 4.766712099e-01, 5.067438087e-01, 4.847290804e-01, 4.665149347e-01, 3.649604364e-01, 5.866439504e-01, 4.794892453e-01, 4.492830828e-01, 5.021622143e-01, 5.134060869e-01, 5.059103997e-01, 4.593930925e-01, 5.629612497e-01, 4.752525032e-01, 4.453700299e-01, 5.519045929e-01, 5.172619815e-01, 4.885842107e-01, 4.601640649e-01, 5.259560189e-01, 5.060413428e-01, 6.119017358e-01, 7.255158089e-01];
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

fn triplane() -> Triplane {
    let a = img23d_meshing::npy::read_npy(&data("triplane.npy")).unwrap();
    assert_eq!(a.shape, [3, 8, 6, 5]);
    Triplane::from_nchw(&a.data, 8, 6, 5).unwrap()
}

/// ONNX Runtime for tests: `ORT_DYLIB_PATH`, else the `onnxruntime` Python package.
pub(crate) fn test_env() -> &'static Environment {
    static ENV: OnceLock<Environment> = OnceLock::new();
    ENV.get_or_init(|| {
        let path = std::env::var_os("ORT_DYLIB_PATH")
            .map(PathBuf::from)
            .or_else(|| {
                let out = std::process::Command::new("python3")
                    .args([
                        "-c",
                        "import onnxruntime, os; print(os.path.dirname(onnxruntime.__file__))",
                    ])
                    .output()
                    .ok()?;
                let dir = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim()).join("capi");
                std::fs::read_dir(&dir)
                    .ok()?
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .find(|p| {
                        p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                            n.starts_with("libonnxruntime.so.") || n == "libonnxruntime.so"
                        })
                    })
            })
            .expect("ONNX Runtime not found: set ORT_DYLIB_PATH or pip install onnxruntime");
        ort::init_from(&path)
            .expect("load ONNX Runtime")
            .build()
            .expect("ONNX Runtime environment")
    })
}

pub(crate) fn test_factory(src: SessionSource<'_>) -> Result<Session, ort::Error> {
    let mut b = Session::builder(test_env())?.with_intra_threads(1)?;
    match src {
        SessionSource::File(p) => b.commit_from_file(p),
        SessionSource::Memory(m) => b.commit_from_memory(m),
    }
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
    let mlp = Arc::new(extract_mlp(&model, 24).unwrap().mlp);
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
    let ex = extract_mlp(&model, 24).unwrap();
    assert_eq!(ex.input, "features");
    assert_eq!(ex.output, "raw");
    // Raw outputs of the plain path equal the reference's raw MLP outputs.
    let t = triplane();
    let unit: Vec<[f32; 3]> = POINTS
        .iter()
        .map(|p| super::triplane::to_unit(*p, 0.87))
        .collect();
    let mut feats = vec![0.0; 8 * 24];
    t.sample_concat(&unit, &mut feats);
    let mut raw = vec![0.0; 32];
    let mut scratch = vec![0.0; 2 * 8 * ex.mlp.max_width()];
    ex.mlp.forward(&feats, 8, &mut scratch, &mut raw);
    for (g, w) in raw.iter().zip(RAW) {
        assert!((g - w).abs() <= 1e-5 * w.abs().max(1.0), "{g} vs {w}");
    }
    // The graph layout's MLP (Gemm with transB) reads the same weights.
    let graph = OnnxModel::read(&data("decoder_graph.onnx")).unwrap();
    let gx = extract_mlp(&graph, 24).unwrap();
    for (a, b) in gx.mlp.layers().iter().zip(ex.mlp.layers()) {
        assert_eq!(a.weight, b.weight);
        assert_eq!(a.bias, b.bias);
    }
}

#[test]
fn both_layouts_all_paths_through_onnx_runtime() {
    for file in ["decoder_mlp.onnx", "decoder_graph.onnx"] {
        for fold in [true, false] {
            for backend in [MlpBackend::Rust, MlpBackend::Ort] {
                let opts = DecoderOptions { fold, backend };
                let dec = Decoder::load(&data(file), &opts, &test_factory).unwrap();
                let field = dec.field(triplane()).unwrap();
                check(
                    &field,
                    &format!("{file} fold={fold} {backend:?}: {}", dec.describe()),
                );
            }
        }
    }
}

#[test]
fn graph_layout_as_published() {
    let dec = Decoder::load(
        &data("decoder_graph.onnx"),
        &DecoderOptions::default(),
        &test_factory,
    )
    .unwrap();
    assert!(matches!(
        dec.layout(),
        DecoderLayout::Graph {
            channels: Some(8),
            ..
        }
    ));
    let model = OnnxModel::read(&data("decoder_graph.onnx")).unwrap();
    let layout = DecoderLayout::detect(&model).unwrap();
    let session = test_factory(SessionSource::File(&data("decoder_graph.onnx"))).unwrap();
    let g = Arc::new(super::decoder::OrtGraphDecoder::new(session, &layout, true).unwrap());
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
        inputs: 6,
        outputs: 3,
        weight: vec![0.0; 18],
        bias: vec![0.0; 3],
    };
    let bytes = super::decoder::mlp_to_onnx(&[l], false);
    let model = OnnxModel::parse(&bytes).unwrap();
    let err = DecoderLayout::detect(&model).unwrap_err();
    assert!(err.to_string().contains("h [N, 6]"), "{err}");
}
