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
    let bytes = read_all(reader, limits, path)?;
    check_complete(format, &bytes, limits).map_err(|reason| Error::DecodeImage {
        format: format_name.to_string(),
        reason,
        path: path.to_path_buf(),
    })?;
    let mut image_reader = ImageReader::with_format(std::io::Cursor::new(bytes), format);
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
    let rgba = to_rgba32f(&image, path)?;
    Ok(LoadedImage { info, rgba })
}

/// The whole file (the reader is at its start). Files larger than the largest picture
/// `limits` accepts could be (16-bit RGBA, uncompressed, plus 64 MiB of metadata) are
/// refused unread.
fn read_all(mut reader: BufReader<File>, limits: &Limits, path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let cap = limits
        .max_image_pixels
        .saturating_mul(8)
        .saturating_add(64 << 20);
    let len = reader.get_ref().metadata().map(|m| m.len()).unwrap_or(0);
    if len > cap {
        return Err(unsupported(
            &format!(
                "a file of {len} bytes, more than any picture within the limits can take \
                 ({cap} bytes)"
            ),
            path,
        ));
    }
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    let mut bytes = img23d_meshing::limits::try_vec_with_capacity::<u8>(len, "the picture file")?;
    reader
        .read_to_end(&mut bytes)
        .map_err(|e| Error::ReadInput {
            source: e,
            path: path.to_path_buf(),
        })?;
    Ok(bytes)
}

/// Refuses files that end before the format says they do, where a decoder would fill in
/// the missing part and succeed: PNG without its closing `IEND` chunk, JPEG that zune-jpeg
/// in strict mode refuses (cut short, or a marker inside a scan), WebP shorter than its
/// RIFF size, BMP shorter than its header's file size or pixel offset. TIFF's decoder
/// fails on missing strips by itself.
fn check_complete(
    format: ImageFormat,
    bytes: &[u8],
    limits: &Limits,
) -> std::result::Result<(), String> {
    const TRUNCATED: &str = "the file is truncated";
    let le32 = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    match format {
        ImageFormat::Png => {
            // The 12-byte IEND chunk: length 0, type, CRC.
            const IEND: [u8; 12] = [0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82];
            let tail = &bytes[bytes.len().saturating_sub(4096)..];
            if !tail.windows(12).any(|w| w == IEND) {
                return Err(format!("{TRUNCATED} (no IEND chunk at its end)"));
            }
        }
        ImageFormat::Jpeg => {
            let options = zune_core::options::DecoderOptions::default()
                .set_strict_mode(true)
                .set_max_width(usize::MAX)
                .set_max_height(usize::MAX);
            let mut d = zune_jpeg::JpegDecoder::new_with_options(
                zune_core::bytestream::ZCursor::new(bytes),
                options,
            );
            // A header beyond `limits` (or empty) is refused from the header after this
            // check, with the limits' own message: never decode it here (a 65535²
            // header would have zune-jpeg allocate 12.9 GB; issue 12's fuzzing).
            let outside = |(w, h): (usize, usize)| {
                u32::try_from(w)
                    .ok()
                    .zip(u32::try_from(h).ok())
                    .is_none_or(|(w, h)| limits.check_image(w, h).is_err())
            };
            if d.decode_headers().is_ok() && d.dimensions().is_some_and(outside) {
                return Ok(());
            }
            match d.decode() {
                Ok(_) => {}
                // A header quirk of some writers (padding between markers) that strict
                // mode stops at: the file is judged by its markers alone, below.
                Err(zune_jpeg::errors::DecodeErrors::FormatStatic(m))
                    if m.contains("Extra bytes between headers") => {}
                Err(e) => {
                    let e = e.to_string();
                    let e: Vec<&str> = e.split_whitespace().collect();
                    return Err(format!("a broken or cut short scan ({})", e.join(" ")));
                }
            }
            let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
            let end = bytes.windows(2).rposition(|w| w == [0xFF, 0xD9]);
            if !matches!((last_scan, end), (Some(s), Some(e)) if e > s) {
                return Err(format!(
                    "{TRUNCATED} (no end-of-image marker after its last scan)"
                ));
            }
        }
        ImageFormat::WebP if le32(4).is_none_or(|riff| riff.saturating_add(8) > bytes.len()) => {
            return Err(format!("{TRUNCATED} (shorter than its RIFF size)"));
        }
        ImageFormat::Bmp
            if le32(2).unwrap_or(0) > bytes.len() || le32(10).unwrap_or(0) >= bytes.len() =>
        {
            return Err(format!("{TRUNCATED} (shorter than its header says)"));
        }
        _ => {}
    }
    Ok(())
}

/// The picture as straight RGBA in `[0, 1]`, like `DynamicImage::into_rgba32f` (each
/// sample divided by its type's maximum), into a buffer allocated fallibly: a 100 MP
/// picture needs 1.6 GB here, and running out of memory must be an error, not an abort.
fn to_rgba32f(image: &DynamicImage, path: &Path) -> Result<Rgba32FImage> {
    fn extend<P>(img: &image::ImageBuffer<P, Vec<P::Subpixel>>, max: f32, out: &mut Vec<f32>)
    where
        P: image::Pixel,
        P::Subpixel: Into<f32>,
    {
        for p in img.pixels() {
            out.extend(p.to_rgba().0.map(|v| (v.into() / max).clamp(0.0, 1.0)));
        }
    }
    let (w, h) = (image.width(), image.height());
    let n = (w as usize)
        .checked_mul(h as usize)
        .and_then(|p| p.checked_mul(4))
        .ok_or_else(|| unsupported("a picture too large to address", path))?;
    let mut out =
        img23d_meshing::limits::try_vec_with_capacity::<f32>(n, "the picture in float RGBA")?;
    match image {
        DynamicImage::ImageLuma8(b) => extend(b, 255.0, &mut out),
        DynamicImage::ImageLumaA8(b) => extend(b, 255.0, &mut out),
        DynamicImage::ImageRgb8(b) => extend(b, 255.0, &mut out),
        DynamicImage::ImageRgba8(b) => extend(b, 255.0, &mut out),
        DynamicImage::ImageLuma16(b) => extend(b, 65535.0, &mut out),
        DynamicImage::ImageLumaA16(b) => extend(b, 65535.0, &mut out),
        DynamicImage::ImageRgb16(b) => extend(b, 65535.0, &mut out),
        DynamicImage::ImageRgba16(b) => extend(b, 65535.0, &mut out),
        DynamicImage::ImageRgb32F(b) => out.extend(b.pixels().flat_map(|p| {
            let [r, g, bl] = p.0;
            [r, g, bl, 1.0]
        })),
        DynamicImage::ImageRgba32F(b) => out.extend_from_slice(b.as_raw()),
        other => return Ok(other.to_rgba32f()),
    }
    Rgba32FImage::from_raw(w, h, out)
        .ok_or_else(|| unsupported("a picture whose pixel count does not match its size", path))
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

    /// The pictures of tests/data/images (tools/make_image_fixtures.py), one per format
    /// and codec variant, with the format name the loader reports.
    const FIXTURES: [(&str, &str); 7] = [
        ("plain.png", "PNG"),
        ("baseline.jpg", "JPEG"),
        ("progressive.jpg", "JPEG"),
        ("lossy.webp", "WebP"),
        ("lossless.webp", "WebP"),
        ("plain.bmp", "BMP"),
        ("plain.tiff", "TIFF"),
    ];

    fn fixture(name: &str) -> Vec<u8> {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/images")
            .join(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn assert_refused(bytes: &[u8], name: &str, format: &str, what: &str) {
        let d = dir();
        let p = d.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        match load_image(&p, &Limits::default()) {
            Ok(img) => panic!(
                "{name} ({what}) was accepted as a {}x{} picture",
                img.info.width, img.info.height
            ),
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.ends_with(&p.display().to_string()), "{what}: {msg}");
                assert!(msg.contains(format), "{what}: {msg}");
                assert!(!msg.contains('\n'), "{what}: {msg}");
            }
        }
    }

    /// Issue 12: a file cut short is an error in every format, never a picture whose
    /// missing part the decoder filled in.
    #[test]
    fn files_cut_short_are_refused_in_every_format() {
        for (name, format) in FIXTURES {
            let bytes = fixture(name);
            let d = dir();
            let whole = d.path().join(name);
            std::fs::write(&whole, &bytes).unwrap();
            let img = load_image(&whole, &Limits::default()).unwrap();
            assert_eq!((img.info.width, img.info.height), (64, 48), "{name}");
            assert_eq!(img.info.format, format);
            let n = bytes.len();
            for cut in [n / 2, n * 3 / 4, n * 9 / 10, n - 4, n - 1] {
                assert_refused(
                    &bytes[..cut],
                    name,
                    format,
                    &format!("cut to {cut} of {n} bytes"),
                );
            }
        }
    }

    /// The offset of the last JPEG start-of-scan marker's entropy-coded data.
    fn last_scan_data(jpeg: &[u8]) -> usize {
        let sos = jpeg.windows(2).rposition(|w| w == [0xFF, 0xDA]).unwrap();
        let len = usize::from(u16::from_be_bytes([jpeg[sos + 2], jpeg[sos + 3]]));
        sos + 2 + len
    }

    /// Issue 12: a scan broken in the middle (a marker that has no business inside
    /// entropy-coded data) is refused, not decoded into gray.
    #[test]
    fn corrupt_jpeg_scans_are_refused() {
        for name in ["baseline.jpg", "progressive.jpg"] {
            let bytes = fixture(name);
            let start = last_scan_data(&bytes);
            let mid = start + (bytes.len() - 2 - start) / 2;
            let mut stray = bytes.clone();
            stray[mid..mid + 2].copy_from_slice(&[0xFF, 0xC4]);
            assert_refused(&stray, name, "JPEG", "a stray marker mid-scan");
        }
    }

    /// Issue 12: PNG's checksums catch damaged image data.
    #[test]
    fn corrupt_png_data_is_refused() {
        let bytes = fixture("plain.png");
        let idat = bytes.windows(4).position(|w| w == b"IDAT").unwrap();
        let mut bad = bytes.clone();
        bad[idat + 10] ^= 0x5A;
        assert_refused(&bad, "plain.png", "PNG", "a damaged IDAT byte");
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
    fn huge_jpeg_header_fails_before_decoding() {
        // The baseline fixture with its frame header (SOF0) claiming 65535x65535: once
        // decoded in full by the completeness check, 12.9 GB (issue 12's fuzzing).
        let mut jpeg = fixture("baseline.jpg");
        let sof = jpeg
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("a baseline frame header");
        jpeg[sof + 5..sof + 9].copy_from_slice(&[0xFF; 4]);
        let d = dir();
        let p = d.path().join("huge.jpg");
        std::fs::write(&p, &jpeg).unwrap();
        let err = load_image(&p, &Limits::default()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::ImageTooLarge {
                    width: 65535,
                    height: 65535,
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
