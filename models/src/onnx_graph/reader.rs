//! The protobuf wire-format parser behind [`OnnxModel`](super::OnnxModel): `ModelProto`,
//! `GraphProto`, `NodeProto`, `AttributeProto`, `TensorProto` and `ValueInfoProto`, each
//! length checked against the bytes that remain.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use super::{
    AttrValue, Dim, Graph, Node, OnnxError, Tensor, TensorData, ValueInfo, WIRE_I32, WIRE_I64,
    WIRE_LEN, WIRE_VARINT,
};

/// Tensors at most this large are read into memory while parsing; larger ones are
/// located and read on demand.
const INLINE_LIMIT: u64 = 1 << 20;

pub(super) struct Reader<R> {
    pub(super) inner: R,
    pub(super) pos: u64,
    pub(super) path: PathBuf,
}

impl<R: Read + Seek> Reader<R> {
    fn err(&self, what: impl Into<String>) -> OnnxError {
        OnnxError::Malformed {
            what: what.into(),
            offset: self.pos,
            path: self.path.clone(),
        }
    }

    fn byte(&mut self) -> Result<u8, OnnxError> {
        let mut b = [0u8; 1];
        self.inner
            .read_exact(&mut b)
            .map_err(|_| self.err("unexpected end of data"))?;
        self.pos += 1;
        Ok(b[0])
    }

    fn varint(&mut self) -> Result<u64, OnnxError> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return Err(self.err("varint overflows 64 bits"));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.err("varint longer than 10 bytes"))
    }

    fn key(&mut self) -> Result<(u32, u8), OnnxError> {
        let k = self.varint()?;
        let field = u32::try_from(k >> 3).map_err(|_| self.err("field number too large"))?;
        Ok((field, (k & 7) as u8))
    }

    /// Reads a length prefix and checks it against the end of the enclosing message.
    fn len(&mut self, end: u64) -> Result<u64, OnnxError> {
        let n = self.varint()?;
        if self.pos.checked_add(n).is_none_or(|e| e > end) {
            return Err(self.err(format!("length {n} runs past the enclosing message")));
        }
        Ok(n)
    }

    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, OnnxError> {
        let mut buf = vec![0u8; usize::try_from(n).map_err(|_| self.err("length too large"))?];
        self.inner
            .read_exact(&mut buf)
            .map_err(|_| self.err("unexpected end of data"))?;
        self.pos += n;
        Ok(buf)
    }

    fn skip_bytes(&mut self, n: u64) -> Result<(), OnnxError> {
        let to = self.pos + n;
        self.inner
            .seek(SeekFrom::Start(to))
            .map_err(|_| self.err("seek failed"))?;
        self.pos = to;
        Ok(())
    }

    fn skip(&mut self, wire: u8, end: u64) -> Result<(), OnnxError> {
        match wire {
            WIRE_VARINT => {
                self.varint()?;
            }
            WIRE_I64 => self.skip_bytes(8)?,
            WIRE_I32 => self.skip_bytes(4)?,
            WIRE_LEN => {
                let n = self.len(end)?;
                self.skip_bytes(n)?;
            }
            w => return Err(self.err(format!("unsupported wire type {w}"))),
        }
        if self.pos > end {
            return Err(self.err("field runs past the enclosing message"));
        }
        Ok(())
    }

    fn string(&mut self, end: u64) -> Result<String, OnnxError> {
        let n = self.len(end)?;
        let b = self.bytes(n)?;
        String::from_utf8(b).map_err(|_| self.err("string is not UTF-8"))
    }

    /// Reads a nested message's bytes and parses them with a fresh in-memory reader.
    fn message<T>(
        &mut self,
        end: u64,
        parse: impl FnOnce(&mut Reader<std::io::Cursor<&[u8]>>, u64) -> Result<T, OnnxError>,
    ) -> Result<T, OnnxError> {
        let n = self.len(end)?;
        let base = self.pos;
        let buf = self.bytes(n)?;
        let mut sub = Reader {
            inner: std::io::Cursor::new(&buf[..]),
            pos: 0,
            path: self.path.clone(),
        };
        parse(&mut sub, n).map_err(|e| match e {
            OnnxError::Malformed { what, offset, path } => OnnxError::Malformed {
                what,
                offset: offset + base,
                path,
            },
            other => other,
        })
    }
}

pub(super) fn parse_model<R: Read + Seek>(
    r: &mut Reader<R>,
    end: u64,
) -> Result<(i64, i64, Graph), OnnxError> {
    let mut ir_version = 0;
    let mut opset = 0;
    let mut graph = None;
    while r.pos < end {
        let (field, wire) = r.key()?;
        match (field, wire) {
            (1, WIRE_VARINT) => ir_version = r.varint()? as i64,
            (7, WIRE_LEN) => {
                let n = r.len(end)?;
                let g_end = r.pos + n;
                graph = Some(parse_graph(r, g_end)?);
            }
            (8, WIRE_LEN) => {
                let (domain, version) = r.message(end, |m, e| {
                    let mut domain = String::new();
                    let mut version = 0i64;
                    while m.pos < e {
                        match m.key()? {
                            (1, WIRE_LEN) => domain = m.string(e)?,
                            (2, WIRE_VARINT) => version = m.varint()? as i64,
                            (_, w) => m.skip(w, e)?,
                        }
                    }
                    Ok((domain, version))
                })?;
                if domain.is_empty() || domain == "ai.onnx" {
                    opset = version;
                }
            }
            (_, w) => r.skip(w, end)?,
        }
    }
    match graph {
        Some(g) => Ok((ir_version, opset, g)),
        None => Err(r.err("no graph: not an ONNX model")),
    }
}

#[allow(
    clippy::redundant_closure,
    reason = "the closures make the parsers generic over the sub-buffer's lifetime"
)]
fn parse_graph<R: Read + Seek>(r: &mut Reader<R>, end: u64) -> Result<Graph, OnnxError> {
    let mut g = Graph::default();
    while r.pos < end {
        let (field, wire) = r.key()?;
        match (field, wire) {
            (1, WIRE_LEN) => g.nodes.push(r.message(end, |m, e| parse_node(m, e))?),
            (5, WIRE_LEN) => {
                let n = r.len(end)?;
                let t_end = r.pos + n;
                g.initializers.push(parse_tensor(r, t_end, INLINE_LIMIT)?);
            }
            (11, WIRE_LEN) => g
                .inputs
                .push(r.message(end, |m, e| parse_value_info(m, e))?),
            (12, WIRE_LEN) => g
                .outputs
                .push(r.message(end, |m, e| parse_value_info(m, e))?),
            (_, w) => r.skip(w, end)?,
        }
    }
    if r.pos != end {
        return Err(r.err("graph overruns its length"));
    }
    Ok(g)
}

fn parse_node<R: Read + Seek>(r: &mut Reader<R>, end: u64) -> Result<Node, OnnxError> {
    let mut n = Node {
        op_type: String::new(),
        domain: String::new(),
        name: String::new(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        attributes: Vec::new(),
    };
    while r.pos < end {
        match r.key()? {
            (1, WIRE_LEN) => n.inputs.push(r.string(end)?),
            (2, WIRE_LEN) => n.outputs.push(r.string(end)?),
            (3, WIRE_LEN) => n.name = r.string(end)?,
            (4, WIRE_LEN) => n.op_type = r.string(end)?,
            (5, WIRE_LEN) => {
                let len = r.len(end)?;
                let a_end = r.pos + len;
                n.attributes.push(parse_attribute(r, a_end)?);
            }
            (7, WIRE_LEN) => n.domain = r.string(end)?,
            (_, w) => r.skip(w, end)?,
        }
    }
    Ok(n)
}

fn parse_attribute<R: Read + Seek>(
    r: &mut Reader<R>,
    end: u64,
) -> Result<(String, AttrValue), OnnxError> {
    let mut name = String::new();
    let mut value = AttrValue::Other;
    let mut ints = Vec::new();
    while r.pos < end {
        match r.key()? {
            (1, WIRE_LEN) => name = r.string(end)?,
            (2, WIRE_I32) => {
                let b = r.bytes(4)?;
                value = AttrValue::Float(f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            }
            (3, WIRE_VARINT) => value = AttrValue::Int(r.varint()? as i64),
            (4, WIRE_LEN) => {
                let n = r.len(end)?;
                value = AttrValue::String(r.bytes(n)?);
            }
            (5, WIRE_LEN) => {
                let n = r.len(end)?;
                let t_end = r.pos + n;
                value = AttrValue::Tensor(parse_tensor(r, t_end, u64::MAX)?);
            }
            (8, WIRE_VARINT) => ints.push(r.varint()? as i64),
            (8, WIRE_LEN) => {
                let n = r.len(end)?;
                let e = r.pos + n;
                while r.pos < e {
                    ints.push(r.varint()? as i64);
                }
            }
            (_, w) => r.skip(w, end)?,
        }
    }
    if !ints.is_empty() {
        value = AttrValue::Ints(ints);
    }
    Ok((name, value))
}

fn parse_tensor<R: Read + Seek>(
    r: &mut Reader<R>,
    end: u64,
    inline_limit: u64,
) -> Result<Tensor, OnnxError> {
    let mut t = Tensor {
        name: String::new(),
        dims: Vec::new(),
        data_type: 0,
        data: TensorData::Empty,
    };
    let mut external: Vec<(String, String)> = Vec::new();
    let mut location_external = false;
    let mut int64s = Vec::new();
    while r.pos < end {
        match r.key()? {
            (1, WIRE_VARINT) => t.dims.push(r.varint()? as i64),
            (1, WIRE_LEN) => {
                let n = r.len(end)?;
                let e = r.pos + n;
                while r.pos < e {
                    t.dims.push(r.varint()? as i64);
                }
            }
            (2, WIRE_VARINT) => t.data_type = r.varint()? as i32,
            (8, WIRE_LEN) => t.name = r.string(end)?,
            // raw_data, or packed float_data (same little-endian layout for FLOAT).
            (9, WIRE_LEN) | (4, WIRE_LEN) => {
                let n = r.len(end)?;
                if n <= inline_limit {
                    t.data = TensorData::Bytes(r.bytes(n)?);
                } else {
                    t.data = TensorData::InFile {
                        offset: r.pos,
                        len: n,
                    };
                    r.skip_bytes(n)?;
                }
            }
            (4, WIRE_I32) => {
                let b = r.bytes(4)?;
                match &mut t.data {
                    TensorData::Bytes(v) => v.extend_from_slice(&b),
                    other => *other = TensorData::Bytes(b),
                }
            }
            (7, WIRE_VARINT) => int64s.push(r.varint()? as i64),
            (7, WIRE_LEN) => {
                let n = r.len(end)?;
                let e = r.pos + n;
                while r.pos < e {
                    int64s.push(r.varint()? as i64);
                }
            }
            (13, WIRE_LEN) => {
                let kv = r.message(end, |m, e| {
                    let (mut k, mut v) = (String::new(), String::new());
                    while m.pos < e {
                        match m.key()? {
                            (1, WIRE_LEN) => k = m.string(e)?,
                            (2, WIRE_LEN) => v = m.string(e)?,
                            (_, w) => m.skip(w, e)?,
                        }
                    }
                    Ok((k, v))
                })?;
                external.push(kv);
            }
            (14, WIRE_VARINT) => location_external = r.varint()? == 1,
            (_, w) => r.skip(w, end)?,
        }
    }
    if !int64s.is_empty() {
        t.data = TensorData::Int64s(int64s);
    }
    if location_external {
        let get = |k: &str| external.iter().find(|(key, _)| key == k).map(|(_, v)| v);
        let location = get("location")
            .cloned()
            .ok_or_else(|| r.err(format!("external tensor {} has no location", t.name)))?;
        let num = |k: &str| -> Result<Option<u64>, OnnxError> {
            get(k)
                .map(|v| {
                    v.parse::<u64>()
                        .map_err(|_| r.err(format!("external {k} {v:?} is not a number")))
                })
                .transpose()
        };
        t.data = TensorData::External {
            location,
            offset: num("offset")?.unwrap_or(0),
            len: num("length")?,
        };
    }
    Ok(t)
}

fn parse_value_info<R: Read + Seek>(r: &mut Reader<R>, end: u64) -> Result<ValueInfo, OnnxError> {
    let mut v = ValueInfo {
        name: String::new(),
        elem_type: 0,
        dims: Vec::new(),
    };
    while r.pos < end {
        match r.key()? {
            (1, WIRE_LEN) => v.name = r.string(end)?,
            (2, WIRE_LEN) => {
                // TypeProto { tensor_type (1): { elem_type (1), shape (2) } }
                let n = r.len(end)?;
                let type_end = r.pos + n;
                while r.pos < type_end {
                    match r.key()? {
                        (1, WIRE_LEN) => {
                            let n = r.len(type_end)?;
                            let tt_end = r.pos + n;
                            while r.pos < tt_end {
                                match r.key()? {
                                    (1, WIRE_VARINT) => v.elem_type = r.varint()? as i32,
                                    (2, WIRE_LEN) => {
                                        let n = r.len(tt_end)?;
                                        let s_end = r.pos + n;
                                        while r.pos < s_end {
                                            match r.key()? {
                                                (1, WIRE_LEN) => {
                                                    let n = r.len(s_end)?;
                                                    let d_end = r.pos + n;
                                                    let mut dim = Dim::Unknown;
                                                    while r.pos < d_end {
                                                        match r.key()? {
                                                            (1, WIRE_VARINT) => {
                                                                dim = Dim::Value(r.varint()? as i64)
                                                            }
                                                            (2, WIRE_LEN) => {
                                                                dim = Dim::Param(r.string(d_end)?)
                                                            }
                                                            (_, w) => r.skip(w, d_end)?,
                                                        }
                                                    }
                                                    v.dims.push(dim);
                                                }
                                                (_, w) => r.skip(w, s_end)?,
                                            }
                                        }
                                    }
                                    (_, w) => r.skip(w, tt_end)?,
                                }
                            }
                        }
                        (_, w) => r.skip(w, type_end)?,
                    }
                }
            }
            (_, w) => r.skip(w, end)?,
        }
    }
    Ok(v)
}
