//! Loading the input picture: PNG, JPEG, WebP, BMP and TIFF; 8- and 16-bit; gray, RGB and
//! RGBA; EXIF orientation applied.
//!
//! The format is taken from the file's contents, not its name. The header's dimensions
//! are checked against [`Limits`] **before** any pixel is decoded, so a small file that
//! claims 40000x40000 pixels fails at once without allocating. Every failure is an
//! [`Error`] naming the file.

use std::fs::File;
use std::io::{BufReader, Seek};
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Rgba32FImage};
use img23d_meshing::Limits;

use crate::{Error, Result};

/// What the picture is, as found in its file: recorded in the report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ImageInfo {
    /// The file read.
    pub path: PathBuf,
    /// Its size in bytes.
    pub file_bytes: u64,
    /// The format found in its contents (`PNG`, `JPEG`, ...).
    pub format: String,
    /// Width in pixels after EXIF orientation.
    pub width: u32,
    /// Height in pixels after EXIF orientation.
    pub height: u32,
    /// Channels as stored: `gray`, `gray+alpha`, `rgb` or `rgba`.
    pub channels: &'static str,
    /// Bits per channel as stored (8, 16 or 32).
    pub bits_per_channel: u16,
    /// Whether the file has an alpha channel (it may still be fully opaque).
    pub has_alpha: bool,
    /// The EXIF orientation applied (`none` when there was none).
    pub orientation: String,
}

/// A decoded picture: straight (not premultiplied) sRGB RGBA in `[0, 1]`, rows top-down,
/// EXIF orientation applied.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    /// What was read.
    pub info: ImageInfo,
    /// The pixels.
    pub rgba: Rgba32FImage,
}

impl LoadedImage {
    /// True when some pixel is not fully opaque: the alpha channel then defines the
    /// object, as in TripoSR's `remove_background` (which keys only fully opaque
    /// pictures).
    pub fn has_transparency(&self) -> bool {
        self.info.has_alpha && self.rgba.pixels().any(|p| p.0[3] < 1.0 - 0.5 / 255.0)
    }
}

/// Loads `path`, checking its size against `limits` before decoding.
pub fn load_image(path: &Path, limits: &Limits) -> Result<LoadedImage> {
    let _span = tracing::debug_span!("load_image", path = %path.display()).entered();
    let metadata = std::fs::metadata(path).map_err(|e| Error::ReadInput {
        source: e,
        path: path.to_path_buf(),
    })?;
    if metadata.is_dir() {
        return Err(unsupported("a folder, not a file", path));
    }
    if metadata.len() == 0 {
        return Err(unsupported("empty file, 0 bytes", path));
    }
    let file = File::open(path).map_err(|e| Error::ReadInput {
        source: e,
        path: path.to_path_buf(),
    })?;
    let mut reader = BufReader::new(file);
    let head = read_head(&mut reader, path)?;
    let format = image::guess_format(&head).map_err(|_| {
        unsupported(
            "unrecognised contents; expected PNG, JPEG, WebP, BMP or TIFF",
            path,
        )
    })?;
    let format_name = format_name(format);
    if !matches!(
        format,
        ImageFormat::Png
            | ImageFormat::Jpeg
            | ImageFormat::WebP
            | ImageFormat::Bmp
            | ImageFormat::Tiff
    ) {
        return Err(unsupported(
            &format!("{format_name} is not supported; expected PNG, JPEG, WebP, BMP or TIFF"),
            path,
        ));
    }
    // PNG keeps its size at a fixed place (IHDR): check it before the decoder reads on.
    if format == ImageFormat::Png && head.len() >= 24 && &head[12..16] == b"IHDR" {
        let width = u32::from_be_bytes([head[16], head[17], head[18], head[19]]);
        let height = u32::from_be_bytes([head[20], head[21], head[22], head[23]]);
        check_size(width, height, format_name, limits, path)?;
    }
    let mut image_reader = ImageReader::with_format(reader, format);
    let mut image_limits = image::Limits::default();
    // The decoder's own allocation cap: the largest picture `limits` accepts, at 16-bit
    // RGBA. Our side and pixel caps are checked below, from the header.
    image_limits.max_alloc = Some(limits.max_image_pixels.saturating_mul(8));
    image_reader.limits(image_limits);
    let decode_error = |e: ImageError| match e {
        ImageError::IoError(ref io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::DecodeImage {
                format: format_name.to_string(),
                reason: "the file is truncated".to_string(),
                path: path.to_path_buf(),
            }
        }
        ImageError::Unsupported(u) => unsupported(&u.to_string(), path),
        other => Error::DecodeImage {
            format: format_name.to_string(),
            reason: decoder_message(&other),
            path: path.to_path_buf(),
        },
    };
    let mut decoder = image_reader.into_decoder().map_err(decode_error)?;
    let (width, height) = decoder.dimensions();
    check_size(width, height, format_name, limits, path)?;
    let color = decoder.color_type();
    let orientation = decoder.orientation().unwrap_or_else(|e| {
        tracing::warn!(
            "ignoring unreadable EXIF orientation ({e}): {}",
            path.display()
        );
        image::metadata::Orientation::NoTransforms
    });
    let mut image = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    image.apply_orientation(orientation);
    let (channels, has_alpha) = match color.channel_count() {
        1 => ("gray", false),
        2 => ("gray+alpha", true),
        3 => ("rgb", false),
        _ => ("rgba", true),
    };
    let info = ImageInfo {
        path: path.to_path_buf(),
        file_bytes: metadata.len(),
        format: format_name.to_string(),
        width: image.width(),
        height: image.height(),
        channels,
        bits_per_channel: color.bits_per_pixel() / u16::from(color.channel_count()),
        has_alpha,
        orientation: orientation_name(orientation).to_string(),
    };
    let rgba = image.into_rgba32f();
    Ok(LoadedImage { info, rgba })
}

/// Checks a header's size against `limits`.
fn check_size(width: u32, height: u32, format: &str, limits: &Limits, path: &Path) -> Result<()> {
    if limits.check_image(width, height).is_ok() {
        return Ok(());
    }
    if width == 0 || height == 0 {
        return Err(Error::DecodeImage {
            format: format.to_string(),
            reason: format!("the header gives an empty size, {width}x{height} pixels"),
            path: path.to_path_buf(),
        });
    }
    Err(Error::ImageTooLarge {
        width,
        height,
        max_side: limits.max_image_side,
        max_pixels: limits.max_image_pixels,
        path: path.to_path_buf(),
    })
}

/// Reads the first bytes (enough to recognise any format) and rewinds.
fn read_head(reader: &mut BufReader<File>, path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(32);
    reader
        .by_ref()
        .take(32)
        .read_to_end(&mut head)
        .and_then(|_| reader.rewind())
        .map_err(|e| Error::ReadInput {
            source: e,
            path: path.to_path_buf(),
        })?;
    Ok(head)
}

fn unsupported(reason: &str, path: &Path) -> Error {
    Error::UnsupportedImage {
        reason: reason.to_string(),
        path: path.to_path_buf(),
    }
}

/// The decoder's message without image-rs's "Format error decoding Png:" prefix (our
/// message names the format already), on one line.
fn decoder_message(e: &ImageError) -> String {
    let text = match e {
        ImageError::Decoding(d) => {
            use std::error::Error as _;
            d.source()
                .map(|s| s.to_string())
                .unwrap_or_else(|| d.to_string())
        }
        other => other.to_string(),
    };
    let text = text.lines().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        "corrupt data".to_string()
    } else {
        text
    }
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "PNG",
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::WebP => "WebP",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Tiff => "TIFF",
        ImageFormat::Gif => "GIF",
        ImageFormat::Avif => "AVIF",
        ImageFormat::Ico => "ICO",
        ImageFormat::OpenExr => "OpenEXR",
        ImageFormat::Hdr => "HDR",
        ImageFormat::Qoi => "QOI",
        ImageFormat::Pnm => "PNM",
        ImageFormat::Tga => "TGA",
        ImageFormat::Dds => "DDS",
        ImageFormat::Farbfeld => "Farbfeld",
        _ => "this format",
    }
}

fn orientation_name(o: image::metadata::Orientation) -> &'static str {
    use image::metadata::Orientation::*;
    match o {
        NoTransforms => "none",
        Rotate90 => "rotate 90 clockwise",
        Rotate180 => "rotate 180",
        Rotate270 => "rotate 270 clockwise",
        FlipHorizontal => "flip horizontal",
        FlipVertical => "flip vertical",
        Rotate90FlipH => "rotate 90 clockwise, flip horizontal",
        Rotate270FlipH => "rotate 270 clockwise, flip horizontal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Luma, Rgb, Rgba};

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn loads_every_format_and_depth() {
        let d = dir();
        let rgb8 = ImageBuffer::from_fn(7, 5, |x, y| Rgb([(x * 30) as u8, (y * 40) as u8, 9]));
        let cases: Vec<(&str, DynamicImage)> = vec![
            ("a.png", DynamicImage::ImageRgb8(rgb8.clone())),
            ("b.jpg", DynamicImage::ImageRgb8(rgb8.clone())),
            ("c.bmp", DynamicImage::ImageRgb8(rgb8.clone())),
            ("d.tiff", DynamicImage::ImageRgb8(rgb8.clone())),
            (
                "e.webp",
                DynamicImage::ImageRgba8(DynamicImage::ImageRgb8(rgb8.clone()).to_rgba8()),
            ),
            (
                "f16.png",
                DynamicImage::ImageRgba16(ImageBuffer::from_fn(7, 5, |x, _| {
                    Rgba([65535, 0, 0, if x < 3 { 0 } else { 65535 }])
                })),
            ),
            (
                "gray.png",
                DynamicImage::ImageLuma8(ImageBuffer::from_fn(7, 5, |x, _| Luma([x as u8 * 20]))),
            ),
            (
                "gray16.tiff",
                DynamicImage::ImageLuma16(ImageBuffer::from_fn(7, 5, |_, _| Luma([30000u16]))),
            ),
        ];
        for (name, img) in cases {
            let p = d.path().join(name);
            img.save(&p).unwrap();
            let loaded = load_image(&p, &Limits::default()).unwrap();
            assert_eq!((loaded.info.width, loaded.info.height), (7, 5), "{name}");
            assert_eq!(loaded.rgba.dimensions(), (7, 5), "{name}");
            if name == "f16.png" {
                assert_eq!(loaded.info.bits_per_channel, 16);
                assert!(loaded.has_transparency());
                assert_eq!(loaded.rgba.get_pixel(5, 2).0, [1.0, 0.0, 0.0, 1.0]);
            } else {
                assert!(!loaded.has_transparency(), "{name}");
            }
            if name == "gray16.tiff" {
                let v = loaded.rgba.get_pixel(0, 0).0[0];
                assert!((v - 30000.0 / 65535.0).abs() < 1e-4, "{v}");
            }
        }
    }

    #[test]
    fn format_comes_from_contents_not_name() {
        let d = dir();
        let p = d.path().join("really_a_png.jpg");
        DynamicImage::ImageRgb8(ImageBuffer::from_pixel(3, 3, Rgb([1, 2, 3])))
            .save_with_format(&p, ImageFormat::Png)
            .unwrap();
        let loaded = load_image(&p, &Limits::default()).unwrap();
        assert_eq!(loaded.info.format, "PNG");
    }

    #[test]
    fn bad_files_give_errors_naming_the_file() {
        let d = dir();
        let empty = d.path().join("empty.png");
        std::fs::write(&empty, b"").unwrap();
        let text = d.path().join("notes.png");
        std::fs::write(&text, b"this is not a picture at all\n").unwrap();
        let gif = d.path().join("anim.gif");
        std::fs::write(&gif, b"GIF89a\x01\x00\x01\x00\x00\x00\x00;").unwrap();
        let missing = d.path().join("missing.png");
        for (p, needle) in [
            (&empty, "empty file"),
            (&text, "unrecognised"),
            (&gif, "GIF is not supported"),
            (&missing, "cannot read input"),
        ] {
            let err = load_image(p, &Limits::default()).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(needle), "{msg}");
            assert!(msg.ends_with(&p.display().to_string()), "{msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
    }

    #[test]
    fn truncated_png_is_a_decode_error() {
        let d = dir();
        let p = d.path().join("t.png");
        DynamicImage::ImageRgb8(ImageBuffer::from_fn(64, 64, |x, y| {
            Rgb([x as u8 * 3, y as u8 * 2, (x ^ y) as u8])
        }))
        .save(&p)
        .unwrap();
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        let err = load_image(&p, &Limits::default()).unwrap_err();
        assert!(matches!(err, Error::DecodeImage { .. }), "{err}");
        assert!(err.to_string().contains("PNG"), "{err}");
    }

    /// A PNG whose header claims 40000x40000 pixels, with no pixel data at all.
    pub(crate) fn huge_png_header() -> Vec<u8> {
        fn crc32(bytes: &[u8]) -> u32 {
            let mut c = 0xffff_ffffu32;
            for &b in bytes {
                c ^= u32::from(b);
                for _ in 0..8 {
                    c = if c & 1 != 0 {
                        0xedb8_8320 ^ (c >> 1)
                    } else {
                        c >> 1
                    };
                }
            }
            !c
        }
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend_from_slice(&40000u32.to_be_bytes());
        ihdr.extend_from_slice(&40000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(&ihdr);
        png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
        png
    }

    #[test]
    fn huge_header_fails_before_decoding() {
        let d = dir();
        let p = d.path().join("huge.png");
        std::fs::write(&p, huge_png_header()).unwrap();
        let err = load_image(&p, &Limits::default()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::ImageTooLarge {
                    width: 40000,
                    height: 40000,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn exif_orientation_is_applied() {
        // A 4x2 JPEG with an EXIF APP1 segment saying "rotate 90 clockwise" (orientation 6).
        let d = dir();
        let plain = d.path().join("plain.jpg");
        DynamicImage::ImageRgb8(ImageBuffer::from_fn(4, 2, |x, _| {
            Rgb(if x < 2 { [255, 0, 0] } else { [0, 0, 255] })
        }))
        .save(&plain)
        .unwrap();
        let jpeg = std::fs::read(&plain).unwrap();
        let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
        exif.extend_from_slice(&1u16.to_be_bytes()); // one IFD entry
        exif.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
        exif.extend_from_slice(&3u16.to_be_bytes()); // SHORT
        exif.extend_from_slice(&1u32.to_be_bytes()); // count
        exif.extend_from_slice(&[0, 6, 0, 0]); // value 6
        exif.extend_from_slice(&0u32.to_be_bytes()); // next IFD
        let mut out = jpeg[..2].to_vec(); // SOI
        out.extend_from_slice(&[0xff, 0xe1]);
        out.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(&exif);
        out.extend_from_slice(&jpeg[2..]);
        let p = d.path().join("rotated.jpg");
        std::fs::write(&p, out).unwrap();
        let loaded = load_image(&p, &Limits::default()).unwrap();
        assert_eq!(loaded.rgba.dimensions(), (2, 4));
        assert_eq!(loaded.info.orientation, "rotate 90 clockwise");
        // Rotating 90 clockwise puts the left (red) half on top.
        let top = loaded.rgba.get_pixel(0, 0).0;
        assert!(top[0] > 0.7 && top[2] < 0.3, "{top:?}");
    }
}
