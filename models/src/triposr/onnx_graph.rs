//! A small reader and writer for the parts of the ONNX protobuf format
//! (`onnx/onnx.proto`) that decoder folding needs: `ModelProto` → `GraphProto` → nodes
//! (op type, inputs, outputs, attributes), initializers (`TensorProto`: name, dims,
//! data type, `raw_data` / `float_data` / external data) and the graph's inputs and
//! outputs (`ValueInfoProto`).
//!
//! The reader streams: node lists and value infos are read into memory, but large tensor
//! payloads are only located (file offset and length) and read on demand, so scanning
//! a 1.7 GB encoder costs a few seeks. Every length is checked against the bytes that
//! remain, so a truncated or corrupt file is an error, never a panic or a huge
//! allocation.
//!
//! The writer emits the few messages a plain MLP graph needs (see
//! [`super::decoder::mlp_to_onnx`]).

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Tensors at most this large are read into memory while parsing; larger ones are
/// located and read on demand.
const INLINE_LIMIT: u64 = 1 << 20;

/// ONNX `TensorProto.DataType` values this reader converts to `f32`.
pub mod dtype {
    /// `FLOAT`.
    pub const FLOAT: i32 = 1;
    /// `INT64`.
    pub const INT64: i32 = 7;
    /// `FLOAT16`.
    pub const FLOAT16: i32 = 10;
    /// `DOUBLE`.
    pub const DOUBLE: i32 = 11;
}

/// Why an ONNX file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OnnxError {
    /// Reading the file failed.
    #[error("{source}: {path}")]
    Io {
        /// The I/O error.
        source: std::io::Error,
        /// The file.
        path: PathBuf,
    },
    /// The bytes are not a well-formed protobuf message of the expected kind.
    #[error("malformed ONNX protobuf ({what}) at byte {offset}: {path}")]
    Malformed {
        /// What was wrong.
        what: String,
        /// Byte offset in the file.
        offset: u64,
        /// The file (`<memory>` for in-memory models).
        path: PathBuf,
    },
    /// A tensor's data cannot be converted to `f32`.
    #[error("tensor {name}: unsupported data ({what}): {path}")]
    UnsupportedTensor {
        /// Tensor name.
        name: String,
        /// What is unsupported.
        what: String,
        /// The model file.
        path: PathBuf,
    },
}

/// A tensor dimension in a value info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    /// A fixed size.
    Value(i64),
    /// A symbolic size (e.g. `"N"`).
    Param(String),
    /// Not stated.
    Unknown,
}

/// A graph input or output.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueInfo {
    /// Tensor name.
    pub name: String,
    /// Element type (`TensorProto.DataType`), 0 if not a tensor.
    pub elem_type: i32,
    /// Shape, empty if unknown.
    pub dims: Vec<Dim>,
}

/// Where a tensor's payload is.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    /// Little-endian bytes of the tensor's data type (`raw_data`, or packed
    /// `float_data` for `FLOAT`).
    Bytes(Vec<u8>),
    /// `int64_data` values.
    Int64s(Vec<i64>),
    /// Little-endian bytes in the model file at this offset.
    InFile {
        /// Byte offset in the model file.
        offset: u64,
        /// Byte length.
        len: u64,
    },
    /// External data file (`data_location: EXTERNAL`), relative to the model's folder.
    External {
        /// File name.
        location: String,
        /// Byte offset.
        offset: u64,
        /// Byte length, if stated.
        len: Option<u64>,
    },
    /// No payload.
    Empty,
}

/// An initializer or a constant.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Name.
    pub name: String,
    /// Shape.
    pub dims: Vec<i64>,
    /// Element type (`TensorProto.DataType`).
    pub data_type: i32,
    /// Payload.
    pub data: TensorData,
}

impl Tensor {
    /// Number of elements (product of dims; 1 for a scalar).
    pub fn len(&self) -> Option<usize> {
        self.dims.iter().try_fold(1usize, |acc, d| {
            usize::try_from(*d).ok().and_then(|d| acc.checked_mul(d))
        })
    }

    /// True when the tensor has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
}

/// A node attribute value (the kinds the decoder analysis reads; others are `Other`).
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// `f`.
    Float(f32),
    /// `i`.
    Int(i64),
    /// `s`.
    String(Vec<u8>),
    /// `t`.
    Tensor(Tensor),
    /// `ints`.
    Ints(Vec<i64>),
    /// Anything else.
    Other,
}

/// A graph node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Operator (`MatMul`, `Gemm`, ...).
    pub op_type: String,
    /// Operator domain (empty for the default ONNX domain).
    pub domain: String,
    /// Node name.
    pub name: String,
    /// Input tensor names (empty string = omitted optional input).
    pub inputs: Vec<String>,
    /// Output tensor names.
    pub outputs: Vec<String>,
    /// Attributes by name.
    pub attributes: Vec<(String, AttrValue)>,
}

impl Node {
    /// An attribute by name.
    pub fn attr(&self, name: &str) -> Option<&AttrValue> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// An integer attribute, or `default`.
    pub fn attr_int(&self, name: &str, default: i64) -> i64 {
        match self.attr(name) {
            Some(AttrValue::Int(v)) => *v,
            _ => default,
        }
    }

    /// A float attribute, or `default`.
    pub fn attr_float(&self, name: &str, default: f32) -> f32 {
        match self.attr(name) {
            Some(AttrValue::Float(v)) => *v,
            _ => default,
        }
    }
}

/// The main graph of a model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graph {
    /// Nodes in file order (ONNX requires topological order).
    pub nodes: Vec<Node>,
    /// Initializers.
    pub initializers: Vec<Tensor>,
    /// Graph inputs (may include initializers in old IR versions).
    pub inputs: Vec<ValueInfo>,
    /// Graph outputs.
    pub outputs: Vec<ValueInfo>,
}

/// A parsed model: its main graph, the default-domain opset, and where its bytes live
/// (for tensor payloads read on demand).
#[derive(Debug, Clone)]
pub struct OnnxModel {
    /// `ir_version`.
    pub ir_version: i64,
    /// Opset version of the default domain (0 if not stated).
    pub opset: i64,
    /// The main graph.
    pub graph: Graph,
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    File(PathBuf),
    Memory(std::sync::Arc<[u8]>),
}

impl OnnxModel {
    /// Reads a model file's structure (payloads above 1 MiB stay on disk).
    pub fn read(path: &Path) -> Result<Self, OnnxError> {
        let io = |source| OnnxError::Io {
            source,
            path: path.to_path_buf(),
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let mut r = Reader {
            inner: BufReader::new(file),
            pos: 0,
            path: path.to_path_buf(),
        };
        let (ir_version, opset, graph) = parse_model(&mut r, len)?;
        Ok(Self {
            ir_version,
            opset,
            graph,
            source: Source::File(path.to_path_buf()),
        })
    }

    /// Parses a model held in memory.
    pub fn parse(bytes: &[u8]) -> Result<Self, OnnxError> {
        let data: std::sync::Arc<[u8]> = bytes.into();
        let mut r = Reader {
            inner: std::io::Cursor::new(&*data),
            pos: 0,
            path: PathBuf::from("<memory>"),
        };
        let (ir_version, opset, graph) = parse_model(&mut r, data.len() as u64)?;
        Ok(Self {
            ir_version,
            opset,
            graph,
            source: Source::Memory(data),
        })
    }

    /// The file the model was read from, if any.
    pub fn path(&self) -> Option<&Path> {
        match &self.source {
            Source::File(p) => Some(p),
            Source::Memory(_) => None,
        }
    }

    fn display_path(&self) -> PathBuf {
        self.path()
            .map_or_else(|| PathBuf::from("<memory>"), Path::to_path_buf)
    }

    /// An initializer by name.
    pub fn initializer(&self, name: &str) -> Option<&Tensor> {
        self.graph.initializers.iter().find(|t| t.name == name)
    }

    /// A constant tensor by name: an initializer, or the value of a `Constant` node.
    pub fn constant(&self, name: &str) -> Option<&Tensor> {
        self.initializer(name).or_else(|| {
            self.graph.nodes.iter().find_map(|n| {
                if n.op_type == "Constant" && n.outputs.first().is_some_and(|o| o == name) {
                    match n.attr("value") {
                        Some(AttrValue::Tensor(t)) => Some(t),
                        _ => None,
                    }
                } else {
                    None
                }
            })
        })
    }

    /// A tensor's values as `f32` (from `FLOAT`, `FLOAT16`, `DOUBLE` or `INT64` data).
    pub fn tensor_f32(&self, t: &Tensor) -> Result<Vec<f32>, OnnxError> {
        let unsupported = |what: String| OnnxError::UnsupportedTensor {
            name: t.name.clone(),
            what,
            path: self.display_path(),
        };
        let n = t
            .len()
            .ok_or_else(|| unsupported(format!("invalid dims {:?}", t.dims)))?;
        let width = match t.data_type {
            dtype::FLOAT => 4,
            dtype::FLOAT16 => 2,
            dtype::DOUBLE | dtype::INT64 => 8,
            other => return Err(unsupported(format!("data type {other}"))),
        };
        let bytes = match &t.data {
            TensorData::Int64s(v) if t.data_type == dtype::INT64 => {
                if v.len() != n {
                    return Err(unsupported(format!("{} values for {n} elements", v.len())));
                }
                return Ok(v.iter().map(|x| *x as f32).collect());
            }
            TensorData::Bytes(b) => b.clone(),
            TensorData::InFile { offset, len } => self.read_range(*offset, *len, None)?,
            TensorData::External {
                location,
                offset,
                len,
            } => {
                let want = (n as u64) * width as u64;
                self.read_range(*offset, len.unwrap_or(want), Some(location))?
            }
            TensorData::Empty if n == 0 => Vec::new(),
            other => return Err(unsupported(format!("payload {other:?}"))),
        };
        if bytes.len() != n * width {
            return Err(unsupported(format!(
                "{} bytes for {n} elements of {width} bytes",
                bytes.len()
            )));
        }
        Ok(match t.data_type {
            dtype::FLOAT => bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            dtype::FLOAT16 => bytes
                .chunks_exact(2)
                .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            dtype::DOUBLE => bytes
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32)
                .collect(),
            _ => bytes
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32)
                .collect(),
        })
    }

    fn read_range(
        &self,
        offset: u64,
        len: u64,
        external: Option<&str>,
    ) -> Result<Vec<u8>, OnnxError> {
        let path = self.display_path();
        let malformed = |what: String| OnnxError::Malformed {
            what,
            offset,
            path: path.clone(),
        };
        match (&self.source, external) {
            (Source::Memory(data), None) => {
                let end = offset
                    .checked_add(len)
                    .filter(|e| *e <= data.len() as u64)
                    .ok_or_else(|| malformed(format!("{len} bytes past the end")))?;
                Ok(data[offset as usize..end as usize].to_vec())
            }
            (Source::Memory(_), Some(loc)) => Err(OnnxError::UnsupportedTensor {
                name: loc.to_string(),
                what: "external data of an in-memory model".into(),
                path,
            }),
            (Source::File(p), ext) => {
                let file_path = match ext {
                    Some(loc) => {
                        let rel = Path::new(loc);
                        if rel.is_absolute()
                            || rel
                                .components()
                                .any(|c| matches!(c, std::path::Component::ParentDir))
                        {
                            return Err(malformed(format!(
                                "external data location {loc:?} leaves the model folder"
                            )));
                        }
                        p.parent().unwrap_or(Path::new(".")).join(rel)
                    }
                    None => p.clone(),
                };
                let io = |source| OnnxError::Io {
                    source,
                    path: file_path.clone(),
                };
                let mut f = File::open(&file_path).map_err(io)?;
                let size = f.metadata().map_err(io)?.len();
                if offset.checked_add(len).is_none_or(|e| e > size) {
                    return Err(malformed(format!(
                        "{len} bytes at {offset} but {} has {size}",
                        file_path.display()
                    )));
                }
                f.seek(SeekFrom::Start(offset)).map_err(io)?;
                let mut buf = vec![0u8; len as usize];
                f.read_exact(&mut buf).map_err(io)?;
                Ok(buf)
            }
        }
    }
}

fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: value = m * 2^-24.
            let v = m as f32 * f32::from_bits(0x3380_0000);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

// ---------------------------------------------------------------------------------------
// Reading

const WIRE_VARINT: u8 = 0;
const WIRE_I64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_I32: u8 = 5;

struct Reader<R> {
    inner: R,
    pos: u64,
    path: PathBuf,
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

fn parse_model<R: Read + Seek>(
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

// ---------------------------------------------------------------------------------------
// Writing

/// A protobuf message being written.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    fn varint_raw(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u8) {
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

#[cfg(test)]
mod tests {
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
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert!(f16_to_f32(0x7c00).is_infinite());
    }
}
