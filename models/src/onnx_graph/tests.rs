//! Round trips through the writer and the reader; corrupt input.

use super::*;

fn tiny_model() -> Vec<u8> {
    let mut m = Writer::default();
    m.varint(1, 8);
    m.message(8, |o| {
        o.string(1, "");
        o.varint(2, 17);
    });
    m.message(7, |g| {
        g.message(1, |n| write_node(n, "MatMul", "mm", &["x", "w"], &["y"]));
        g.message(1, |n| {
            write_node(n, "Constant", "c", &[], &["k"]);
            n.message(5, |a| {
                a.string(1, "value");
                a.message(5, |t| write_float_tensor(t, "", &[2], &[1.5, -2.0]));
                a.varint(20, 4);
            });
        });
        g.string(2, "g");
        g.message(5, |t| {
            write_float_tensor(t, "w", &[3, 2], &[1., 2., 3., 4., 5., 6.])
        });
        g.message(11, |v| write_value_info(v, "x", &[Err("N"), Ok(3)]));
        g.message(12, |v| write_value_info(v, "y", &[Err("N"), Ok(2)]));
    });
    m.into_bytes()
}

#[test]
fn round_trip_structure_and_values() {
    let model = OnnxModel::parse(&tiny_model()).unwrap();
    assert_eq!(model.ir_version, 8);
    assert_eq!(model.opset, 17);
    let g = &model.graph;
    assert_eq!(g.nodes.len(), 2);
    assert_eq!(g.nodes[0].op_type, "MatMul");
    assert_eq!(g.nodes[0].inputs, ["x", "w"]);
    assert_eq!(g.inputs[0].dims, [Dim::Param("N".into()), Dim::Value(3)]);
    assert_eq!(g.outputs[0].name, "y");
    let w = model.initializer("w").unwrap();
    assert_eq!(w.dims, [3, 2]);
    assert_eq!(model.tensor_f32(w).unwrap(), [1., 2., 3., 4., 5., 6.]);
    let k = model.constant("k").unwrap();
    assert_eq!(model.tensor_f32(k).unwrap(), [1.5, -2.0]);
}

#[test]
fn large_payloads_are_read_from_the_file() {
    let values: Vec<f32> = (0..300_000).map(|i| i as f32).collect();
    let mut m = Writer::default();
    m.message(7, |g| {
        g.message(5, |t| write_float_tensor(t, "big", &[300_000], &values));
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.onnx");
    std::fs::write(&path, m.into_bytes()).unwrap();
    let model = OnnxModel::read(&path).unwrap();
    let t = model.initializer("big").unwrap();
    assert!(matches!(t.data, TensorData::InFile { .. }));
    assert_eq!(model.tensor_f32(t).unwrap(), values);
}

#[test]
fn truncated_and_garbage_input_are_errors() {
    let bytes = tiny_model();
    for cut in [1, 5, bytes.len() / 2, bytes.len() - 1] {
        assert!(OnnxModel::parse(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    assert!(OnnxModel::parse(&[0xff; 64]).is_err());
    assert!(OnnxModel::parse(b"").is_err());
    // A huge declared length must not allocate.
    let mut w = Writer::default();
    w.key(7, WIRE_LEN);
    w.varint_raw(u64::MAX / 2);
    assert!(OnnxModel::parse(&w.into_bytes()).is_err());
}

#[test]
fn half_floats() {
    // FLOAT16 payloads: 1, -2, the smallest subnormal, +infinity.
    let bits: [u16; 4] = [0x3c00, 0xc000, 0x0001, 0x7c00];
    let mut m = Writer::default();
    m.message(7, |g| {
        g.message(5, |t| {
            t.varint(1, bits.len() as i64);
            t.varint(2, i64::from(dtype::FLOAT16));
            t.string(8, "h");
            let raw: Vec<u8> = bits.iter().flat_map(|b| b.to_le_bytes()).collect();
            t.bytes(9, &raw);
        });
    });
    let model = OnnxModel::parse(&m.into_bytes()).unwrap();
    let v = model.tensor_f32(model.initializer("h").unwrap()).unwrap();
    assert_eq!(v[0], 1.0);
    assert_eq!(v[1], -2.0);
    assert_eq!(v[2], 2f32.powi(-24));
    assert!(v[3].is_infinite());
}
