//! The real runtime path on the tiny models of `models/tests/data/`, generated with their
//! reference outputs by `tools/gen_test_models.py` (numpy, float64). Needs the ONNX Runtime
//! library: `python3 -m pip install onnxruntime==1.31.1` (or ORT_DYLIB_PATH).

use std::path::{Path, PathBuf};

use img23d_models::contracts::{
    DEPTH_PRO_CANONICAL, DEPTH_PRO_METRIC, SEGMENTATION, TRIPOSR_DECODER_FIELD,
    TRIPOSR_DECODER_MLP, TRIPOSR_ENCODER,
};
use img23d_models::runtime::{self, Device, RuntimeOptions};
use img23d_models::session::{ExecutionProvider, TensorView};
use img23d_models::{Contract, Error, ErrorKind, load_session, load_session_any};
use serde_json::Value;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn cpu() -> RuntimeOptions {
    RuntimeOptions::default().with_device(Device::Cpu)
}

fn reference() -> Value {
    serde_json::from_str(&std::fs::read_to_string(data("reference.json")).unwrap()).unwrap()
}

/// The generator's deterministic inputs: ((i*7919 + offset) % 10007) / 10007 * scale + shift.
fn det_input(spec: &Value) -> (Vec<usize>, Vec<f32>) {
    let shape: Vec<usize> = spec["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let (offset, scale, shift) = (
        spec["offset"].as_i64().unwrap(),
        spec["scale"].as_f64().unwrap(),
        spec["shift"].as_f64().unwrap(),
    );
    let n: usize = shape.iter().product();
    let data = (0..n as i64)
        .map(|i| ((((i * 7919 + offset) % 10007) as f64 / 10007.0) * scale + shift) as f32)
        .collect();
    (shape, data)
}

/// Runs `model` with its reference inputs and compares every output to the reference
/// (sampled values to 1e-5, relative above 1; shapes exactly; means to 1e-4).
fn check_against_reference(model: &str, contract: &Contract, opts: &RuntimeOptions) {
    let r = &reference()[model];
    let mut s = load_session(&data(&format!("{model}.onnx")), contract, opts).unwrap();
    let inputs: Vec<(Vec<usize>, Vec<f32>)> = r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(det_input)
        .collect();
    let views: Vec<TensorView<'_>> = inputs.iter().map(|(s, d)| TensorView::new(s, d)).collect();
    let outs = s.run(&views).unwrap();
    let expected = r["outputs"].as_array().unwrap();
    assert_eq!(outs.len(), expected.len());
    for (k, (o, e)) in outs.iter().zip(expected).enumerate() {
        let shape: Vec<usize> = e["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(o.shape, shape, "{model} output {k} shape");
        for (i, v) in e["indices"]
            .as_array()
            .unwrap()
            .iter()
            .zip(e["values"].as_array().unwrap())
        {
            let (i, v) = (i.as_u64().unwrap() as usize, v.as_f64().unwrap());
            let got = o.data[i] as f64;
            assert!(
                (got - v).abs() <= 1e-5 * v.abs().max(1.0),
                "{model} output {k}[{i}]: got {got}, reference {v}"
            );
        }
        let mean = o.data.iter().map(|&x| x as f64).sum::<f64>() / o.data.len() as f64;
        let m = e["mean"].as_f64().unwrap();
        assert!(
            (mean - m).abs() <= 1e-4 * m.abs().max(1.0),
            "{model} output {k} mean: got {mean}, reference {m}"
        );
    }
}

#[test]
fn runtime_is_found_and_initialised_once() {
    let a = runtime::init(&cpu()).unwrap();
    let b = runtime::init(&RuntimeOptions::default()).unwrap();
    assert!(std::ptr::eq(a, b));
    assert!(a.describe().contains("ONNX Runtime"), "{}", a.describe());
    // Naming the same library again is fine; naming another one is an error.
    runtime::init(&cpu().with_ort_lib(a.library())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("libonnxruntime.so.1.31.1");
    std::fs::write(&other, b"not a library").unwrap();
    let e = runtime::init(&cpu().with_ort_lib(&other)).unwrap_err();
    assert!(matches!(e, Error::RuntimeAlreadyLoaded { .. }), "{e}");
    let e = runtime::init(&cpu().with_ort_lib("/nonexistent/libonnxruntime.so")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Runtime);
    assert!(
        e.to_string().contains("pip install onnxruntime==1.31.1"),
        "{e}"
    );
}

#[test]
fn triposr_encoder_matches_reference() {
    check_against_reference("triposr_encoder", &TRIPOSR_ENCODER, &cpu());
}

#[test]
fn triposr_decoder_mlp_matches_reference() {
    check_against_reference("triposr_decoder_mlp", &TRIPOSR_DECODER_MLP, &cpu());
}

#[test]
fn triposr_decoder_field_matches_reference() {
    check_against_reference("triposr_decoder_field", &TRIPOSR_DECODER_FIELD, &cpu());
}

#[test]
fn depth_pro_canonical_matches_reference() {
    check_against_reference("depth_pro_canonical", &DEPTH_PRO_CANONICAL, &cpu());
}

#[test]
fn depth_pro_metric_matches_reference() {
    check_against_reference("depth_pro_metric", &DEPTH_PRO_METRIC, &cpu());
}

#[test]
fn segmentation_matches_reference_on_auto_device() {
    // --device auto on a machine without CUDA: runs on the CPU and says why.
    let opts = RuntimeOptions::default().with_device(Device::Auto);
    check_against_reference("segmentation", &SEGMENTATION, &opts);
    let s = load_session(&data("segmentation.onnx"), &SEGMENTATION, &opts).unwrap();
    if s.execution_provider() == ExecutionProvider::Cpu {
        assert!(s.cpu_fallback_reason().is_some());
    }
    assert_eq!(s.output(0).unwrap().name, "output_image");
}

#[test]
fn decoder_layouts_are_told_apart() {
    let both = [&TRIPOSR_DECODER_MLP, &TRIPOSR_DECODER_FIELD];
    let (_, k) = load_session_any(&data("triposr_decoder_mlp.onnx"), &both, &cpu()).unwrap();
    assert_eq!(k, 0);
    let (s, k) = load_session_any(&data("triposr_decoder_field.onnx"), &both, &cpu()).unwrap();
    assert_eq!(k, 1);
    assert_eq!(s.input(0).unwrap().name, "triplane");
    assert_eq!(s.input(1).unwrap().name, "points");
    let e = load_session_any(&data("triposr_encoder.onnx"), &both, &cpu()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("[layout TripoSR decoder (MLP) v1]")
            && msg.contains("[layout TripoSR decoder (field) v1]"),
        "{msg}"
    );
}

#[test]
fn wrong_signature_is_refused_with_expected_and_found() {
    let path = data("wrong_encoder.onnx");
    let e = load_session(&path, &TRIPOSR_ENCODER, &cpu()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Signature);
    let msg = e.to_string();
    assert!(
        msg.starts_with("TripoSR encoder v1: the model file does not match the contract"),
        "{msg}"
    );
    assert!(msg.contains("input #0: expected float32|float16 [1,3,512,512], found 'image' float32 [1,3,256,256] (wrong dimensions)"), "{msg}");
    assert!(msg.contains("output #0: expected float32|float16 [1,3,40,64,64], found 'planes' float32 [1,3,32,64,64] (wrong dimensions)"), "{msg}");
    assert!(
        msg.ends_with(&path.display().to_string()),
        "path last: {msg}"
    );

    // Field layout wants named tensors: the MLP file has none of them.
    let e = load_session(
        &data("triposr_decoder_mlp.onnx"),
        &TRIPOSR_DECODER_FIELD,
        &cpu(),
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("expected 2 inputs, found 1 ('features' float32 [?,120])"),
        "{msg}"
    );
    assert!(
        msg.contains("input 'triplane' (or scene_codes) float32|float16 [1,3,40,64,64]: missing"),
        "{msg}"
    );
}

#[test]
fn float16_inputs_are_reported_by_run() {
    // The MLP contract accepts fp16 exports; run() feeds float32 only and says so.
    let mut s = load_session(
        &data("wrong_decoder_fp16.onnx"),
        &TRIPOSR_DECODER_MLP,
        &cpu(),
    )
    .unwrap();
    let x = vec![0.0f32; 2 * 120];
    let e = s.run(&[TensorView::new(&[2, 120], &x)]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Inference);
    assert!(e.to_string().contains("float16"), "{e}");
}

#[test]
fn bad_input_shapes_are_errors_not_panics() {
    let mut s = load_session(
        &data("triposr_decoder_mlp.onnx"),
        &TRIPOSR_DECODER_MLP,
        &cpu(),
    )
    .unwrap();
    let x = vec![0.0f32; 2 * 100];
    let e = s.run(&[TensorView::new(&[2, 100], &x)]).unwrap_err();
    assert!(
        e.to_string().contains("expected float32|float16 [?,120]"),
        "{e}"
    );
    let e = s.run(&[TensorView::new(&[3, 120], &x)]).unwrap_err();
    assert!(e.to_string().contains("with 200 values"), "{e}");
    let e = s.run(&[]).unwrap_err();
    assert!(e.to_string().contains("expected 1 inputs, got 0"), "{e}");
}

#[test]
fn missing_and_corrupt_files_are_refused() {
    let e = load_session(&data("nope.onnx"), &TRIPOSR_ENCODER, &cpu()).unwrap_err();
    assert!(matches!(e, Error::ModelMissing { .. }), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(data("triposr_decoder_mlp.onnx")).unwrap();
    for (name, content) in [
        ("truncated.onnx", bytes[..bytes.len() / 2].to_vec()),
        (
            "garbage.onnx",
            b"this is not an onnx model at all".repeat(10),
        ),
        ("empty.onnx", Vec::new()),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        let e = load_session(&p, &TRIPOSR_DECODER_MLP, &cpu()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ModelFile, "{name}: {e}");
        assert!(e.to_string().ends_with(&p.display().to_string()), "{e}");
    }
}

#[test]
fn explicit_gpu_that_cannot_start_is_an_error() {
    // This machine (and CI) has the CPU-only library: an explicit GPU must fail, never
    // fall back to the CPU.
    let rt = runtime::init(&cpu()).unwrap();
    if rt.has_cuda() {
        return; // a real GPU library: covered by scripts/gpu-check.sh
    }
    for device in [Device::Cuda(0), Device::TensorRt(0)] {
        let e = load_session(
            &data("segmentation.onnx"),
            &SEGMENTATION,
            &cpu().with_device(device),
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ExecutionProvider, "{e}");
        assert!(e.to_string().contains("onnxruntime-gpu==1.31.1"), "{e}");
    }
}

#[test]
fn node_placement_is_recorded() {
    let s = load_session(
        &data("triposr_decoder_field.onnx"),
        &TRIPOSR_DECODER_FIELD,
        &cpu().with_record_placement(true),
    )
    .unwrap();
    let p = s.placement().expect("placement recorded");
    assert!(p.nodes_on("CPUExecutionProvider") > 0, "{p}");
}
