//! What an uploaded file really is, read from its bytes (never from its name
//! or the client's content type), and what is done to it before it is kept:
//! images lose their metadata (EXIF, XMP, text chunks) and get a thumbnail.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};
use natter_protocol::FileType;

/// Thumbnails fit in this square.
pub const THUMB_EDGE: u32 = 320;
/// Images larger than this many pixels a side are kept without a thumbnail.
const MAX_EDGE: u32 = 12_000;
/// Memory an image may take while decoded.
const MAX_DECODED: u64 = 512 * 1024 * 1024;

/// A file's type as sniffed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kind {
    /// The type it is served with.
    pub mime: String,
    pub extension: String,
    pub file_type: FileType,
}

impl Kind {
    fn new(mime: &str, extension: &str, file_type: FileType) -> Self {
        Self { mime: mime.to_owned(), extension: extension.to_owned(), file_type }
    }

    /// Whether a browser may show it in place (raster images, PDF, audio,
    /// video); everything else is only ever a download.
    pub fn inline(mime: &str) -> bool {
        matches!(mime, "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "application/pdf")
            || mime.starts_with("audio/")
            || mime.starts_with("video/")
    }

    fn raster(&self) -> Option<ImageFormat> {
        match self.mime.as_str() {
            "image/png" => Some(ImageFormat::Png),
            "image/jpeg" => Some(ImageFormat::Jpeg),
            "image/gif" => Some(ImageFormat::Gif),
            "image/webp" => Some(ImageFormat::WebP),
            _ => None,
        }
    }
}

/// The type of `bytes`. Markup and scripts (HTML, SVG, XML, shell) and any
/// other text are plain text; bytes of no known type are
/// `application/octet-stream`.
pub fn sniff(bytes: &[u8]) -> Kind {
    if let Some(t) = infer::get(bytes) {
        let mime = t.mime_type();
        let file_type = match t.matcher_type() {
            infer::MatcherType::Audio => Some(FileType::Audio),
            infer::MatcherType::Video => Some(FileType::Video),
            infer::MatcherType::Image if Kind::inline(mime) => Some(FileType::Image),
            infer::MatcherType::Text => None,
            _ => Some(FileType::File),
        };
        if let Some(file_type) = file_type {
            return Kind::new(mime, t.extension(), file_type);
        }
    }
    if !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok() {
        Kind::new("text/plain", "txt", FileType::File)
    } else {
        Kind::new("application/octet-stream", "bin", FileType::File)
    }
}

/// Whether `mime` matches one of `patterns` (`image/*`, `application/pdf`, …).
pub fn allowed(mime: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| match p.strip_suffix("/*") {
        Some(major) => mime.split_once('/').is_some_and(|(m, _)| m.eq_ignore_ascii_case(major)),
        None => p == "*" || p.eq_ignore_ascii_case(mime),
    })
}

/// A file ready to keep: its bytes (cleaned), type and thumbnail.
#[derive(Debug)]
pub struct Prepared {
    pub bytes: Vec<u8>,
    pub kind: Kind,
    /// A JPEG (or PNG, for images with transparency) of at most
    /// [`THUMB_EDGE`] a side, for images.
    pub thumb: Option<(Vec<u8>, &'static str)>,
}

/// Why a file is not taken.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    #[error("the file is empty")]
    Empty,
    #[error("files of type {0} are not accepted here")]
    Type(String),
    #[error("the image is damaged and cannot be read")]
    Damaged,
}

/// Sniffs `bytes`, checks the type against `allowed_types`, and cleans and
/// previews images. CPU work: run it off the async workers.
pub fn prepare(bytes: Vec<u8>, allowed_types: &[String]) -> Result<Prepared, Refused> {
    if bytes.is_empty() {
        return Err(Refused::Empty);
    }
    let kind = sniff(&bytes);
    if !allowed(&kind.mime, allowed_types) {
        return Err(Refused::Type(kind.mime));
    }
    let Some(format) = kind.raster() else {
        return Ok(Prepared { bytes, kind, thumb: None });
    };
    let (bytes, image) = clean(bytes, format)?;
    let thumb = image.map(|image| thumbnail(&image));
    Ok(Prepared { bytes, kind, thumb })
}

fn reader(bytes: &[u8], format: ImageFormat) -> ImageReader<Cursor<&[u8]>> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_EDGE);
    limits.max_image_height = Some(MAX_EDGE);
    limits.max_alloc = Some(MAX_DECODED);
    reader.limits(limits);
    reader
}

/// The image without its metadata, and decoded (upright) when it is not
/// too large to decode. A JPEG turned by its EXIF orientation is turned for
/// real and encoded again, since the orientation goes with the EXIF;
/// otherwise the metadata is cut out and the picture's bytes stay as sent.
fn clean(bytes: Vec<u8>, format: ImageFormat) -> Result<(Vec<u8>, Option<DynamicImage>), Refused> {
    let decoded = match reader(&bytes, format).into_decoder() {
        Ok(mut decoder) => {
            let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
            match DynamicImage::from_decoder(decoder) {
                Ok(mut image) => {
                    image.apply_orientation(orientation);
                    Some((image, orientation))
                }
                Err(image::ImageError::Limits(_)) => None,
                Err(_) => return Err(Refused::Damaged),
            }
        }
        Err(image::ImageError::Limits(_)) => None,
        Err(_) => return Err(Refused::Damaged),
    };
    if let Some((image, orientation)) = &decoded {
        if *orientation != image::metadata::Orientation::NoTransforms {
            let mut out = Vec::new();
            let rgb = DynamicImage::ImageRgb8(image.to_rgb8());
            let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90);
            rgb.write_with_encoder(encoder).map_err(|_| Refused::Damaged)?;
            return Ok((out, decoded.map(|(image, _)| image)));
        }
    }
    let stripped = strip(bytes, format)?;
    Ok((stripped, decoded.map(|(image, _)| image)))
}

/// Cuts metadata out of an image's container, keeping the colour profile.
fn strip(bytes: Vec<u8>, format: ImageFormat) -> Result<Vec<u8>, Refused> {
    use img_parts::ImageEXIF;
    let input = bytes::Bytes::from(bytes);
    let out = match format {
        ImageFormat::Jpeg => {
            let mut jpeg = img_parts::jpeg::Jpeg::from_bytes(input).map_err(|_| Refused::Damaged)?;
            // APP1 (EXIF, XMP), APP12/APP13 (Ducky, IPTC), COM (comments).
            for marker in [0xE1, 0xEC, 0xED, 0xFE] {
                jpeg.remove_segments_by_marker(marker);
            }
            jpeg.encoder().bytes()
        }
        ImageFormat::Png => {
            let mut png = img_parts::png::Png::from_bytes(input).map_err(|_| Refused::Damaged)?;
            for kind in [*b"eXIf", *b"tEXt", *b"zTXt", *b"iTXt", *b"tIME"] {
                png.remove_chunks_by_type(kind);
            }
            png.encoder().bytes()
        }
        ImageFormat::WebP => {
            let mut webp = img_parts::webp::WebP::from_bytes(input).map_err(|_| Refused::Damaged)?;
            webp.set_exif(None);
            webp.chunks_mut().retain(|c| c.id() != *b"XMP ");
            webp.encoder().bytes()
        }
        // GIF carries no EXIF; its comment blocks are left.
        _ => input,
    };
    Ok(out.to_vec())
}

fn thumbnail(image: &DynamicImage) -> (Vec<u8>, &'static str) {
    // Never larger than the picture itself.
    let small = if image.width() <= THUMB_EDGE && image.height() <= THUMB_EDGE {
        image.clone()
    } else {
        image.thumbnail(THUMB_EDGE, THUMB_EDGE)
    };
    let mut out = Vec::new();
    if small.color().has_alpha() {
        let _ = DynamicImage::ImageRgba8(small.to_rgba8()).write_to(&mut Cursor::new(&mut out), ImageFormat::Png);
        (out, "image/png")
    } else {
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80);
        let _ = DynamicImage::ImageRgb8(small.to_rgb8()).write_with_encoder(encoder);
        (out, "image/jpeg")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(width, height, image::Rgb([200, 40, 40])));
        let mut out = Vec::new();
        image.write_to(&mut Cursor::new(&mut out), ImageFormat::Png).expect("png");
        out
    }

    /// A PNG with an `eXIf` and a `tEXt` chunk spliced in after `IHDR`.
    fn png_with_metadata() -> Vec<u8> {
        let plain = png(640, 480);
        let chunk = |kind: &[u8; 4], data: &[u8]| {
            let mut c = Vec::new();
            c.extend_from_slice(&u32::try_from(data.len()).expect("len").to_be_bytes());
            c.extend_from_slice(kind);
            c.extend_from_slice(data);
            let mut crc = crc32(kind);
            crc = crc32_more(crc, data);
            c.extend_from_slice(&(!crc).to_be_bytes());
            c
        };
        // 8 bytes of signature, then IHDR: 4 length + 4 type + 13 data + 4 crc.
        let split = 8 + 25;
        let mut out = plain[..split].to_vec();
        out.extend(chunk(b"eXIf", b"MM\0*\0\0\0\x08\0\0GPS 50.45N 30.52E"));
        out.extend(chunk(b"tEXt", b"Author\0Someone at home"));
        out.extend_from_slice(&plain[split..]);
        out
    }

    fn crc32(data: &[u8]) -> u32 {
        crc32_more(0xFFFF_FFFF, data)
    }

    fn crc32_more(mut crc: u32, data: &[u8]) -> u32 {
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        crc
    }

    fn any() -> Vec<String> {
        vec!["*".into()]
    }

    #[test]
    fn types_come_from_the_bytes_not_the_name() {
        assert_eq!(sniff(&png(2, 2)).mime, "image/png");
        assert_eq!(sniff(&png(2, 2)).file_type, FileType::Image);
        assert_eq!(sniff(b"%PDF-1.7\n1 0 obj\n").mime, "application/pdf");
        let page = b"<!doctype html><html><script>alert(1)</script></html>";
        assert_eq!(sniff(page), Kind::new("text/plain", "txt", FileType::File), "markup is only text");
        let svg = b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>";
        assert_eq!(sniff(svg).mime, "text/plain");
        assert_eq!(sniff(&[0, 1, 2, 3, 0xff]).mime, "application/octet-stream");
    }

    #[test]
    fn only_raster_images_pdf_audio_and_video_are_shown_in_place() {
        for mime in ["image/png", "image/jpeg", "application/pdf", "audio/mpeg", "video/mp4"] {
            assert!(Kind::inline(mime), "{mime}");
        }
        for mime in ["text/plain", "image/svg+xml", "text/html", "application/octet-stream", "application/zip"] {
            assert!(!Kind::inline(mime), "{mime}");
        }
    }

    #[test]
    fn allowed_types_match_whole_majors_or_exact_types() {
        let list = vec!["image/*".to_owned(), "application/pdf".to_owned()];
        assert!(allowed("image/png", &list));
        assert!(allowed("application/pdf", &list));
        assert!(!allowed("application/zip", &list));
        assert!(!allowed("imagex/png", &list));
        let refused = prepare(b"PK\x03\x04 not really".to_vec(), &list).expect_err("refused");
        assert!(matches!(refused, Refused::Type(_)), "{refused:?}");
    }

    #[test]
    fn an_image_loses_its_metadata_and_gets_a_thumbnail() {
        let sent = png_with_metadata();
        assert!(sent.windows(4).any(|w| w == b"eXIf"), "the fixture carries EXIF");
        let kept = prepare(sent, &any()).expect("prepared");
        assert!(!kept.bytes.windows(4).any(|w| w == b"eXIf" || w == b"tEXt"), "metadata is gone");
        assert!(!kept.bytes.windows(3).any(|w| w == b"GPS"));
        let picture = image::load_from_memory(&kept.bytes).expect("still a picture");
        assert_eq!((picture.width(), picture.height()), (640, 480));
        let (thumb, mime) = kept.thumb.expect("a thumbnail");
        assert_eq!(mime, "image/jpeg");
        let thumb = image::load_from_memory(&thumb).expect("thumbnail decodes");
        assert_eq!((thumb.width(), thumb.height()), (THUMB_EDGE, 240));
    }

    #[test]
    fn a_small_image_is_its_own_thumbnail_size() {
        let (thumb, _) = prepare(png(2, 3), &any()).expect("prepared").thumb.expect("thumbnail");
        let thumb = image::load_from_memory(&thumb).expect("decodes");
        assert_eq!((thumb.width(), thumb.height()), (2, 3), "not blown up");
    }

    #[test]
    fn a_damaged_image_is_refused() {
        let mut bytes = png(64, 64);
        bytes.truncate(60);
        assert_eq!(prepare(bytes, &any()).expect_err("refused"), Refused::Damaged);
        assert_eq!(prepare(Vec::new(), &any()).expect_err("refused"), Refused::Empty);
    }
}
