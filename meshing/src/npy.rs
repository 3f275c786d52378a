//! NumPy `.npy` files (format versions 1.0–3.0): reading float32/float64 C-order arrays
//! (volumes for `img23d mesh`) and writing float32 arrays (depth maps). Follows the format
//! description in NumPy's `numpy/lib/format.py`: magic `\x93NUMPY`, version bytes, a
//! little-endian header length (u16 for 1.0, u32 for 2.0/3.0), then a Python-dict header
//! with `descr`, `fortran_order` and `shape`, padded so the data starts 64-byte aligned.

use std::path::Path;

use crate::{Error, Result};

/// A float32 array read from a `.npy` file, in C order.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// Shape, outermost axis first (C order: the last axis is fastest).
    pub shape: Vec<usize>,
    /// The values, converted to `f32` when the file holds `f64`.
    pub data: Vec<f32>,
}

/// Why a `.npy` file was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum NpyError {
    /// The file does not start with `\x93NUMPY`.
    #[error("not a .npy file (expected the magic bytes \\x93NUMPY)")]
    BadMagic,
    /// Unknown format version.
    #[error("unsupported .npy format version {major}.{minor} (expected 1.0, 2.0 or 3.0)")]
    Version {
        /// Major version byte.
        major: u8,
        /// Minor version byte.
        minor: u8,
    },
    /// The header could not be parsed.
    #[error("malformed .npy header: {0}")]
    Header(String),
    /// Fortran-ordered data.
    #[error("the array is in Fortran order; expected C order (save with np.ascontiguousarray)")]
    FortranOrder,
    /// Unsupported element type.
    #[error("unsupported dtype {0}; expected float32 ('<f4') or float64 ('<f8')")]
    Dtype(String),
    /// Data shorter than the shape says.
    #[error("truncated data: the shape {shape:?} needs {expected} bytes, the file has {got}")]
    Truncated {
        /// Shape from the header.
        shape: Vec<usize>,
        /// Bytes needed.
        expected: usize,
        /// Bytes present.
        got: usize,
    },
    /// More data than the shape says.
    #[error("the shape {shape:?} needs {expected} bytes of data, but the file has {got}")]
    TrailingData {
        /// Shape from the header.
        shape: Vec<usize>,
        /// Bytes needed.
        expected: usize,
        /// Bytes present.
        got: usize,
    },
}

/// Reads a float32 or float64 C-order `.npy` file.
pub fn read_npy(path: &Path) -> Result<NpyArray> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(e, path))?;
    parse_npy(&bytes).map_err(|e| {
        Error::io(
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            path,
        )
    })
}

/// Parses `.npy` bytes (see [`read_npy`]).
pub fn parse_npy(bytes: &[u8]) -> std::result::Result<NpyArray, NpyError> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(NpyError::BadMagic);
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (header_len, start) = match major {
        1 => (
            usize::from(u16::from_le_bytes([bytes[8], bytes[9]])),
            10usize,
        ),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(NpyError::Header(
                    "file ends inside the header length".into(),
                ));
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        _ => return Err(NpyError::Version { major, minor }),
    };
    let end = start
        .checked_add(header_len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| NpyError::Header("file ends inside the header".into()))?;
    let header = std::str::from_utf8(&bytes[start..end])
        .map_err(|_| NpyError::Header("header is not text".into()))?;
    let descr =
        dict_value(header, "descr").ok_or_else(|| NpyError::Header("no 'descr' key".into()))?;
    let descr = descr
        .trim()
        .trim_matches(|c| c == '\'' || c == '"')
        .to_string();
    let fortran = dict_value(header, "fortran_order")
        .ok_or_else(|| NpyError::Header("no 'fortran_order' key".into()))?;
    if fortran.trim() == "True" {
        return Err(NpyError::FortranOrder);
    }
    let shape_text =
        dict_value(header, "shape").ok_or_else(|| NpyError::Header("no 'shape' key".into()))?;
    let shape = parse_shape(shape_text)?;
    let elem = match descr.as_str() {
        "<f4" | "=f4" | "f4" => 4,
        "<f8" | "=f8" | "f8" => 8,
        other => return Err(NpyError::Dtype(other.to_string())),
    };
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| NpyError::Header(format!("shape {shape:?} overflows")))?;
    let expected = count
        .checked_mul(elem)
        .ok_or_else(|| NpyError::Header(format!("shape {shape:?} overflows")))?;
    let data_bytes = &bytes[end..];
    if data_bytes.len() < expected {
        return Err(NpyError::Truncated {
            shape,
            expected,
            got: data_bytes.len(),
        });
    }
    if data_bytes.len() > expected {
        return Err(NpyError::TrailingData {
            shape,
            expected,
            got: data_bytes.len(),
        });
    }
    let data = if elem == 4 {
        data_bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    } else {
        data_bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect()
    };
    Ok(NpyArray { shape, data })
}

/// The text of `key`'s value in a Python dict literal (up to the next top-level comma).
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let pos = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = &header[pos + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?;
    let mut depth = 0i32;
    for (i, ch) in rest.char_indices() {
        match ch {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' | '}' if depth == 0 => return Some(&rest[..i]),
            _ => {}
        }
    }
    None
}

fn parse_shape(text: &str) -> std::result::Result<Vec<usize>, NpyError> {
    let inner = text
        .trim()
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| NpyError::Header(format!("shape {text} is not a tuple")))?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| NpyError::Header(format!("bad shape entry {s}")))
        })
        .collect()
}

/// Writes a float32 C-order `.npy` (format 1.0) atomically.
pub fn write_npy_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    let count: usize = shape.iter().product();
    if count != data.len() {
        return Err(Error::invalid_parameter(
            "npy data",
            format!("{count} values for shape {shape:?}"),
            data.len(),
        ));
    }
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Pad with spaces so that 10 + header (incl. newline) is a multiple of 64.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let header_len = u16::try_from(header.len())
        .map_err(|_| Error::invalid_parameter("npy shape", "fewer dimensions", shape.len()))?;
    crate::io::write_atomic(path, |w| {
        w.write_all(b"\x93NUMPY\x01\x00")?;
        w.write_all(&header_len.to_le_bytes())?;
        w.write_all(header.as_bytes())?;
        for chunk in data.chunks(65536) {
            let mut buf = Vec::with_capacity(chunk.len() * 4);
            for v in chunk {
                buf.extend_from_slice(&v.to_le_bytes());
            }
            w.write_all(&buf)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes of `np.save(f, np.arange(6, dtype='<f4').reshape(2, 3))` (numpy 2.x).
    fn numpy_bytes() -> Vec<u8> {
        let mut b = b"\x93NUMPY\x01\x00v\x00".to_vec();
        let mut h = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }".to_string();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        assert_eq!(h.len(), 0x76);
        b.extend_from_slice(h.as_bytes());
        for v in 0..6 {
            b.extend_from_slice(&(v as f32).to_le_bytes());
        }
        b
    }

    #[test]
    fn parses_numpy_output() {
        let a = parse_npy(&numpy_bytes()).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.data, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        write_npy_f32(&p, &[2, 2, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!((bytes.len() - 32) % 64, 0, "data starts 64-byte aligned");
        let a = read_npy(&p).unwrap();
        assert_eq!(a.shape, vec![2, 2, 2]);
        assert_eq!(a.data[7], 8.0);
    }

    fn replace_same_len(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
        out[at..at + to.len()].copy_from_slice(to);
        out
    }

    #[test]
    fn rejects_bad_files() {
        let good = numpy_bytes();
        assert_eq!(parse_npy(b"hello world"), Err(NpyError::BadMagic));
        let fortran = replace_same_len(&good, b"False", b"True ");
        assert_eq!(parse_npy(&fortran), Err(NpyError::FortranOrder));
        let int = replace_same_len(&good, b"<f4", b"<i4");
        assert!(matches!(parse_npy(&int), Err(NpyError::Dtype(_))));
        assert!(matches!(
            parse_npy(&good[..good.len() - 3]),
            Err(NpyError::Truncated { .. })
        ));
        let mut long = good.clone();
        long.extend_from_slice(&[0; 4]);
        assert!(matches!(
            parse_npy(&long),
            Err(NpyError::TrailingData { .. })
        ));
    }
}
