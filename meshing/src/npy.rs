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
    /// The header is longer than [`MAX_HEADER_LEN`].
    #[error("the .npy header is {got} bytes long; at most {MAX_HEADER_LEN} are accepted")]
    HeaderTooLong {
        /// Its length.
        got: usize,
    },
    /// The array has more values than [`NpyLimits::max_values`].
    #[error("the shape {shape:?} has {count} values; at most {max} are accepted")]
    TooLarge {
        /// Shape from the header.
        shape: Vec<usize>,
        /// Its number of values.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Every value is NaN or infinite: nothing to work with.
    #[error("every one of the {count} values is NaN or infinite")]
    NoFiniteValue {
        /// How many values there are.
        count: usize,
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

/// The longest header accepted (NumPy's own reader refuses more than 10,000 bytes by
/// default, `numpy/lib/format.py` `_MAX_HEADER_SIZE`; real headers are about 128).
pub const MAX_HEADER_LEN: usize = 65_536;

/// Caps on what [`read_npy_with`] accepts, checked from the header before any data is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NpyLimits {
    /// Most values (product of the shape). By default, 1024³ (the largest grid
    /// [`crate::Limits`] allows), 4 GiB of float32.
    pub max_values: usize,
}

impl Default for NpyLimits {
    fn default() -> Self {
        let r = crate::Limits::default().max_grid_resolution;
        Self {
            max_values: r * r * r,
        }
    }
}

/// What the header says: the shape, the element size and where the data starts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Header {
    shape: Vec<usize>,
    /// 4 (float32) or 8 (float64).
    elem: usize,
    /// Values in the array.
    count: usize,
    /// Byte offset of the data.
    data_start: usize,
}

impl Header {
    fn data_len(&self) -> std::result::Result<usize, NpyError> {
        self.count
            .checked_mul(self.elem)
            .ok_or_else(|| NpyError::Header(format!("shape {:?} overflows", self.shape)))
    }
}

/// Reads a float32 or float64 C-order `.npy` file, within [`NpyLimits::default`].
pub fn read_npy(path: &Path) -> Result<NpyArray> {
    read_npy_with(path, &NpyLimits::default())
}

/// Reads a `.npy` file: the header is parsed and checked (dtype, order, shape against
/// `limits`, data length against the file's size) before the data is read, and the data
/// goes into a buffer allocated fallibly. Arrays of only NaN and infinities are refused.
pub fn read_npy_with(path: &Path, limits: &NpyLimits) -> Result<NpyArray> {
    use std::io::Read;
    let bad = |e: NpyError| {
        Error::io(
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            path,
        )
    };
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(e, path))?;
    let file_len = file.metadata().map_err(|e| Error::io(e, path))?.len();
    let file_len = usize::try_from(file_len).unwrap_or(usize::MAX);
    // The fixed part (magic, version, header length), then the header itself.
    let mut prefix = vec![0u8; 12.min(file_len)];
    file.read_exact(&mut prefix)
        .map_err(|e| Error::io(e, path))?;
    let header_len = header_len(&prefix).map_err(bad)?;
    let fixed = if prefix.get(6) == Some(&1) { 10 } else { 12 };
    let total = fixed + header_len;
    if total > file_len {
        return Err(bad(NpyError::Header("file ends inside the header".into())));
    }
    let mut head = prefix;
    if total > head.len() {
        let n = head.len();
        head.resize(total, 0);
        file.read_exact(&mut head[n..])
            .map_err(|e| Error::io(e, path))?;
    }
    let header = parse_header(&head).map_err(bad)?;
    check_limits(&header, limits).map_err(bad)?;
    let expected = header.data_len().map_err(bad)?;
    let got = file_len - header.data_start;
    check_data_len(&header, expected, got).map_err(bad)?;
    let mut data_bytes = crate::limits::try_vec_with_capacity::<u8>(expected, "a .npy array")?;
    // Bytes of the header already read past data_start (a 1.0 header read with 12 bytes).
    data_bytes.extend_from_slice(&head[header.data_start.min(head.len())..]);
    let rest = expected - data_bytes.len();
    (&mut file)
        .take(rest as u64)
        .read_to_end(&mut data_bytes)
        .map_err(|e| Error::io(e, path))?;
    if data_bytes.len() != expected {
        return Err(bad(NpyError::Truncated {
            shape: header.shape,
            expected,
            got: data_bytes.len(),
        }));
    }
    decode(header, &data_bytes).map_err(bad)
}

/// Parses `.npy` bytes (see [`read_npy`]), within [`NpyLimits::default`].
pub fn parse_npy(bytes: &[u8]) -> std::result::Result<NpyArray, NpyError> {
    let header = parse_header(bytes)?;
    check_limits(&header, &NpyLimits::default())?;
    let expected = header.data_len()?;
    let data_bytes = &bytes[header.data_start..];
    check_data_len(&header, expected, data_bytes.len())?;
    decode(header, data_bytes)
}

/// The header's length from the fixed part (at least 10 bytes, 12 for 2.0/3.0).
fn header_len(bytes: &[u8]) -> std::result::Result<usize, NpyError> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(NpyError::BadMagic);
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let len = match major {
        1 => usize::from(u16::from_le_bytes([bytes[8], bytes[9]])),
        2 | 3 => {
            let Some(b) = bytes.get(8..12) else {
                return Err(NpyError::Header(
                    "file ends inside the header length".into(),
                ));
            };
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
        }
        _ => return Err(NpyError::Version { major, minor }),
    };
    if len > MAX_HEADER_LEN {
        return Err(NpyError::HeaderTooLong { got: len });
    }
    Ok(len)
}

/// Parses the magic, version and header dict at the start of `bytes`.
fn parse_header(bytes: &[u8]) -> std::result::Result<Header, NpyError> {
    let header_len = header_len(bytes)?;
    let start: usize = if bytes[6] == 1 { 10 } else { 12 };
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
    Ok(Header {
        shape,
        elem,
        count,
        data_start: end,
    })
}

fn check_limits(h: &Header, limits: &NpyLimits) -> std::result::Result<(), NpyError> {
    if h.count > limits.max_values {
        return Err(NpyError::TooLarge {
            shape: h.shape.clone(),
            count: h.count,
            max: limits.max_values,
        });
    }
    Ok(())
}

fn check_data_len(h: &Header, expected: usize, got: usize) -> std::result::Result<(), NpyError> {
    if got < expected {
        return Err(NpyError::Truncated {
            shape: h.shape.clone(),
            expected,
            got,
        });
    }
    if got > expected {
        return Err(NpyError::TrailingData {
            shape: h.shape.clone(),
            expected,
            got,
        });
    }
    Ok(())
}

/// Converts the data bytes (exactly the header's length) to f32 and refuses arrays with
/// no finite value.
fn decode(h: Header, data_bytes: &[u8]) -> std::result::Result<NpyArray, NpyError> {
    let data: Vec<f32> = if h.elem == 4 {
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
    if !data.is_empty() && !data.iter().any(|v| v.is_finite()) {
        return Err(NpyError::NoFiniteValue { count: data.len() });
    }
    Ok(NpyArray {
        shape: h.shape,
        data,
    })
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

    /// A header as NumPy writes it (format 1.0, padded to 64 bytes), then `data`.
    fn npy_with(shape: &str, data: &[u8]) -> Vec<u8> {
        let mut h = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        b.extend_from_slice(data);
        b
    }

    /// Issue 12: the header is checked against the limits and the file's size before any
    /// data is read or allocated.
    #[test]
    fn checks_the_header_before_reading_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let huge = dir.path().join("huge.npy");
        std::fs::write(&huge, npy_with("(2000, 2000, 2000)", &[0; 64])).unwrap();
        let e = read_npy(&huge).unwrap_err().to_string();
        assert!(
            e.contains("8000000000 values") && e.contains("huge.npy"),
            "{e}"
        );
        // Within the limits, but the file holds far less than the shape needs.
        let short = dir.path().join("short.npy");
        std::fs::write(&short, npy_with("(512, 512, 512)", &[0; 64])).unwrap();
        let e = read_npy(&short).unwrap_err().to_string();
        assert!(
            e.contains("truncated data") && e.contains("536870912 bytes"),
            "{e}"
        );
        let small = NpyLimits { max_values: 10 };
        let ok = dir.path().join("ok.npy");
        std::fs::write(&ok, npy_with("(2, 3)", &[0; 24])).unwrap();
        assert_eq!(read_npy_with(&ok, &small).unwrap().shape, [2, 3]);
        let e = read_npy_with(&ok, &NpyLimits { max_values: 5 })
            .unwrap_err()
            .to_string();
        assert!(e.contains("at most 5"), "{e}");
        let long = npy_with("(1,)", &[0; 4]);
        let mut hl = long.clone();
        hl[8..10].copy_from_slice(&u16::MAX.to_le_bytes());
        assert!(matches!(parse_npy(&hl), Err(NpyError::Header(_))));
    }

    /// Issue 12: a volume of only NaN and infinities is refused, not meshed into nothing.
    #[test]
    fn refuses_arrays_without_a_finite_value() {
        let vals: Vec<u8> = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::NAN]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(
            parse_npy(&npy_with("(2, 2)", &vals)),
            Err(NpyError::NoFiniteValue { count: 4 })
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nan.npy");
        std::fs::write(&p, npy_with("(2, 2)", &vals)).unwrap();
        let e = read_npy(&p).unwrap_err().to_string();
        assert!(
            e.contains("NaN or infinite") && e.contains("nan.npy"),
            "{e}"
        );
        // One finite value is enough.
        let mut some = vals.clone();
        some[..4].copy_from_slice(&1.0f32.to_le_bytes());
        assert!(parse_npy(&npy_with("(2, 2)", &some)).is_ok());
    }
}
