//! A small reader and writer for the parts of the ONNX protobuf format
//! (`onnx/onnx.proto`) that img23d needs: `ModelProto` → `GraphProto` → nodes
//! (op type, inputs, outputs, attributes), initializers (`TensorProto`: name, dims,
//! data type, `raw_data` / `float_data` / external data) and the graph's inputs and
//! outputs (`ValueInfoProto`). TripoSR's decoder folding and the segmentation wrapper
//! read graphs with it; TripoSR's MLP exporter writes with it.
//!
//! * this file: the parsed types;
//! * [`OnnxModel`]'s methods (`model.rs`): opening a file or a buffer, and tensor payloads
//!   as `f32`;
//! * `reader.rs`: the protobuf wire-format parser. It streams: node lists and value infos
//!   are read into memory, but large tensor payloads are only located (file offset and
//!   length) and read on demand, so scanning a 1.7 GB encoder costs a few seeks. Every
//!   length is checked against the bytes that remain, so a truncated or corrupt file is an
//!   error, never a panic or a huge allocation;
//! * `writer.rs`: the few messages a plain MLP graph needs (see
//!   [`crate::triposr::decoder::mlp_to_onnx`]).

use std::path::PathBuf;

mod model;
mod reader;
mod writer;

#[cfg(test)]
mod tests;

pub(crate) use writer::{Writer, write_float_tensor, write_node, write_value_info};

/// Protobuf wire types.
const WIRE_VARINT: u8 = 0;
const WIRE_I64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_I32: u8 = 5;

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
pub(super) enum Source {
    File(PathBuf),
    Memory(std::sync::Arc<[u8]>),
}
