//! The one EXIF fact Depth Pro uses: the 35 mm-equivalent focal length (tag `0xA405`,
//! `FocalLengthIn35mmFilm`), looked up the way `apple/ml-depth-pro` does in
//! `src/depth_pro/utils.py` (`extract_exif` merges the Exif sub-IFD `0x8769` with IFD0;
//! `load_rgb` uses the value only when it is positive). The raw focal length in mm is not
//! used: without the sensor size it says nothing about the field of view.
//!
//! Input is the raw EXIF block as `image`'s decoders return it
//! (`ImageDecoder::exif_metadata`): a TIFF header (`II*\0` or `MM\0*`) followed by IFDs.
//! Every read is bounds-checked; a malformed block yields `None`, never a panic.

/// TIFF tag of the Exif sub-IFD pointer.
const EXIF_IFD_POINTER: u16 = 0x8769;
/// EXIF tag `FocalLengthIn35mmFilm` (SHORT), called `FocalLenIn35mmFilm` or
/// `FocalLengthIn35mmFormat` by some libraries — the three names Apple's loader tries.
const FOCAL_LENGTH_IN_35MM: u16 = 0xA405;

#[derive(Clone, Copy)]
struct Tiff<'a> {
    bytes: &'a [u8],
    little: bool,
}

impl Tiff<'_> {
    fn u16(&self, at: usize) -> Option<u16> {
        let b: [u8; 2] = self.bytes.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }

    fn u32(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    /// The entry for `tag` in the IFD at `ifd`: `(type, count, offset of the value field)`.
    fn find(&self, ifd: usize, tag: u16) -> Option<(u16, u32, usize)> {
        let n = usize::from(self.u16(ifd)?);
        (0..n).find_map(|k| {
            let e = ifd + 2 + 12 * k;
            (self.u16(e)? == tag).then_some(())?;
            Some((self.u16(e + 2)?, self.u32(e + 4)?, e + 8))
        })
    }

    /// A single SHORT or LONG value of `tag` in the IFD at `ifd`.
    fn integer(&self, ifd: usize, tag: u16) -> Option<u32> {
        let (ty, count, at) = self.find(ifd, tag)?;
        if count < 1 {
            return None;
        }
        match ty {
            3 => self.u16(at).map(u32::from),
            4 => self.u32(at),
            _ => None,
        }
    }
}

/// The 35 mm-equivalent focal length in millimeters recorded in a raw EXIF block, if any
/// and positive. Looks in the Exif sub-IFD first, then IFD0.
pub fn focal_length_35mm(exif: &[u8]) -> Option<f32> {
    let little = match exif.get(..4)? {
        [b'I', b'I', 42, 0] => true,
        [b'M', b'M', 0, 42] => false,
        _ => return None,
    };
    let tiff = Tiff {
        bytes: exif,
        little,
    };
    let ifd0 = tiff.u32(4)? as usize;
    let from_exif_ifd = tiff
        .integer(ifd0, EXIF_IFD_POINTER)
        .and_then(|sub| tiff.integer(sub as usize, FOCAL_LENGTH_IN_35MM));
    let value = from_exif_ifd.or_else(|| tiff.integer(ifd0, FOCAL_LENGTH_IN_35MM))?;
    (value > 0).then_some(value as f32)
}

/// Builds a minimal EXIF block (TIFF header, IFD0 with an Exif pointer and an
/// Orientation, Exif IFD with `FocalLengthIn35mmFilm`), for tests and test fixtures.
/// `little` picks the byte order.
pub fn exif_block_with_focal_35mm(focal_mm: u16, little: bool) -> Vec<u8> {
    let mut b = Vec::new();
    let u16b = |v: u16| {
        if little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    };
    let u32b = |v: u32| {
        if little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    };
    b.extend_from_slice(if little { b"II" } else { b"MM" });
    b.extend_from_slice(&u16b(42));
    b.extend_from_slice(&u32b(8));
    // IFD0 at 8: two entries (Orientation = 1, ExifIFD pointer), next IFD 0.
    b.extend_from_slice(&u16b(2));
    b.extend_from_slice(&u16b(0x0112));
    b.extend_from_slice(&u16b(3));
    b.extend_from_slice(&u32b(1));
    b.extend_from_slice(&u16b(1));
    b.extend_from_slice(&u16b(0));
    let exif_ifd = 8 + 2 + 2 * 12 + 4;
    b.extend_from_slice(&u16b(EXIF_IFD_POINTER));
    b.extend_from_slice(&u16b(4));
    b.extend_from_slice(&u32b(1));
    b.extend_from_slice(&u32b(exif_ifd as u32));
    b.extend_from_slice(&u32b(0));
    // Exif IFD: one entry.
    b.extend_from_slice(&u16b(1));
    b.extend_from_slice(&u16b(FOCAL_LENGTH_IN_35MM));
    b.extend_from_slice(&u16b(3));
    b.extend_from_slice(&u32b(1));
    b.extend_from_slice(&u16b(focal_mm));
    b.extend_from_slice(&u16b(0));
    b.extend_from_slice(&u32b(0));
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_byte_orders() {
        assert_eq!(
            focal_length_35mm(&exif_block_with_focal_35mm(26, true)),
            Some(26.0)
        );
        assert_eq!(
            focal_length_35mm(&exif_block_with_focal_35mm(50, false)),
            Some(50.0)
        );
    }

    #[test]
    fn zero_missing_and_garbage_give_none() {
        assert_eq!(
            focal_length_35mm(&exif_block_with_focal_35mm(0, true)),
            None
        );
        assert_eq!(focal_length_35mm(b"II*\0\x08\0\0\0\0\0"), None);
        assert_eq!(focal_length_35mm(b"nope"), None);
        assert_eq!(focal_length_35mm(&[]), None);
        // Every truncation of a valid block is handled without a panic.
        let full = exif_block_with_focal_35mm(35, true);
        for n in 0..full.len() {
            let _ = focal_length_35mm(&full[..n]);
        }
        // An IFD pointing at itself or far outside the block.
        let mut bad = full.clone();
        bad[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(focal_length_35mm(&bad), None);
    }
}
