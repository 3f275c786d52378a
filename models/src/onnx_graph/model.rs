//! [`OnnxModel`]: opening a model file or buffer, finding tensors, and reading their
//! payloads as `f32` (payloads that stayed on disk are read on demand).

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::reader::{Reader, parse_model};
use super::{AttrValue, OnnxError, OnnxModel, Source, Tensor, TensorData, dtype};

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
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
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
