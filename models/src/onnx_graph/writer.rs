//! Writing the few protobuf messages a plain MLP graph needs: tensors with `raw_data`,
//! float value infos and attribute-less nodes (used by
//! [`crate::triposr::decoder::mlp_to_onnx`] and by tests that build tiny models).

use super::{WIRE_LEN, WIRE_VARINT, dtype};

/// A protobuf message being written.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub(super) fn varint_raw(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    pub(super) fn key(&mut self, field: u32, wire: u8) {
        self.varint_raw(u64::from(field) << 3 | u64::from(wire));
    }

    pub(crate) fn varint(&mut self, field: u32, v: i64) {
        self.key(field, WIRE_VARINT);
        self.varint_raw(v as u64);
    }

    pub(crate) fn bytes(&mut self, field: u32, b: &[u8]) {
        self.key(field, WIRE_LEN);
        self.varint_raw(b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    pub(crate) fn string(&mut self, field: u32, s: &str) {
        self.bytes(field, s.as_bytes());
    }

    pub(crate) fn message(&mut self, field: u32, build: impl FnOnce(&mut Writer)) {
        let mut sub = Writer::default();
        build(&mut sub);
        self.bytes(field, &sub.buf);
    }
}

/// Writes a `TensorProto` (float, `raw_data`).
pub(crate) fn write_float_tensor(w: &mut Writer, name: &str, dims: &[i64], values: &[f32]) {
    for d in dims {
        w.varint(1, *d);
    }
    w.varint(2, i64::from(dtype::FLOAT));
    w.string(8, name);
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    w.bytes(9, &raw);
}

/// Writes a float tensor `ValueInfoProto` with fixed (`Some`) or symbolic (`None`) dims.
pub(crate) fn write_value_info(w: &mut Writer, name: &str, dims: &[Result<i64, &str>]) {
    w.string(1, name);
    w.message(2, |ty| {
        ty.message(1, |tt| {
            tt.varint(1, i64::from(dtype::FLOAT));
            tt.message(2, |shape| {
                for d in dims {
                    shape.message(1, |dim| match d {
                        Ok(v) => dim.varint(1, *v),
                        Err(p) => dim.string(2, p),
                    });
                }
            });
        });
    });
}

/// Writes a `NodeProto` without attributes.
pub(crate) fn write_node(w: &mut Writer, op: &str, name: &str, inputs: &[&str], outputs: &[&str]) {
    for i in inputs {
        w.string(1, i);
    }
    for o in outputs {
        w.string(2, o);
    }
    w.string(3, name);
    w.string(4, op);
}
