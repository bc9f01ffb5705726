//! Is it a photo? Checked by content: magic bytes, then a full decode (with limits), then the
//! variants are made in memory, so a refused upload leaves nothing behind.

use super::{MAX_BYTES, MAX_DIMENSION, PhotoError, PhotoInfo, THUMB_PX};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};
use std::io::Cursor;

/// An accepted photo, ready to store: the original and the two re-encoded variants.
#[derive(Debug, Clone)]
pub struct Checked {
    pub info: PhotoInfo,
    pub original: bytes::Bytes,
    /// A JPEG without the original's metadata (no EXIF GPS, no camera serial): what anonymous
    /// clients get — a JPEG's own compressed image with its metadata segments dropped, any other
    /// format re-encoded.
    pub public: Vec<u8>,
    /// A JPEG at most [`THUMB_PX`] on its longer side, without metadata.
    pub thumb: Vec<u8>,
}

/// JPEG quality of the re-encoded copies: visually lossless for phone photos.
const QUALITY: u8 = 85;

/// The format by the first bytes, whatever the file is called.
fn sniff(data: &[u8]) -> Option<ImageFormat> {
    if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if data.len() >= 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        Some(ImageFormat::WebP)
    } else {
        None
    }
}

/// Checks one upload and prepares what will be stored. CPU-heavy (a full decode, a thumbnail
/// and, for PNG and WebP, a re-encode): call it off the async executor.
pub fn check(data: bytes::Bytes) -> Result<Checked, PhotoError> {
    if data.len() > MAX_BYTES {
        return Err(PhotoError::TooLarge);
    }
    let format = sniff(&data).ok_or(PhotoError::NotAnImage)?;
    let mut reader = ImageReader::with_format(Cursor::new(&data[..]), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let orientation = decoder
        .orientation()
        .ok()
        .filter(|o| *o != Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    let (exif_lon, exif_lat) = exif_position(&data).unzip();
    let (width, height) = match orientation {
        Some(o) if turns(o) => (image.height(), image.width()),
        _ => (image.width(), image.height()),
    };
    let info = PhotoInfo {
        hash: hex::encode(Sha256::digest(&data)),
        content_type: match format {
            ImageFormat::Png => "image/png",
            ImageFormat::WebP => "image/webp",
            _ => "image/jpeg",
        }
        .to_string(),
        bytes: data.len() as i64,
        width: i64::from(width),
        height: i64::from(height),
        exif_lon,
        exif_lat,
    };
    // The copies carry no EXIF, so the camera's rotation is applied to their pixels — to the
    // thumbnail's after shrinking (cheap); a JPEG's public copy keeps the compressed image as
    // it is and says its rotation in a minimal EXIF of its own (see `stripped_jpeg`).
    let mut small = image.thumbnail(THUMB_PX, THUMB_PX);
    if let Some(o) = orientation {
        small.apply_orientation(o);
    }
    let thumb = jpeg(&small)?;
    let stripped = (format == ImageFormat::Jpeg)
        .then(|| stripped_jpeg(&data, orientation.map_or(1, Orientation::to_exif)))
        .flatten();
    let public = match stripped {
        Some(public) => public,
        None => {
            let mut image = image;
            if let Some(o) = orientation {
                image.apply_orientation(o);
            }
            jpeg(&image)?
        }
    };
    Ok(Checked {
        info,
        original: data,
        public,
        thumb,
    })
}

/// Whether an orientation swaps width and height.
fn turns(o: Orientation) -> bool {
    matches!(
        o,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// A JPEG's public copy without re-encoding it: the same compressed image with every
/// metadata segment left out — APP1 (EXIF with the GPS position and the camera's serial, XMP),
/// APP13 (IPTC), MPF and the other APPn, comments — keeping only what draws the picture (the
/// JFIF header, an ICC colour profile, Adobe's colour-transform flag) and, when the camera's
/// rotation is not upright (`orientation` ≠ 1), a minimal EXIF holding the Orientation tag alone
/// (browsers turn the picture by it). Lossless, and it spares the re-encoding of megapixels that
/// made a 5 MB upload slow. `None` when the segments do not parse as expected: then the copy is
/// re-encoded from the decoded pixels.
fn stripped_jpeg(data: &[u8], orientation: u8) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len());
    out.extend_from_slice(&[0xFF, 0xD8]);
    let mut i = 2;
    let mut rotation_written = orientation == 1;
    let mut write_rotation = |out: &mut Vec<u8>| {
        if !rotation_written {
            // APP1 "Exif\0\0", a big-endian TIFF header, one IFD with one entry: Orientation
            // (0x0112), SHORT, 1 value; no next IFD.
            out.extend_from_slice(&[0xFF, 0xE1, 0x00, 0x22]);
            out.extend_from_slice(b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0");
            out.extend_from_slice(&[orientation, 0, 0, 0, 0, 0, 0]);
            rotation_written = true;
        }
    };
    loop {
        // A marker: 0xFF (fill bytes allowed), then its code.
        if *data.get(i)? != 0xFF {
            return None;
        }
        while *data.get(i)? == 0xFF {
            i += 1;
        }
        let code = *data.get(i)?;
        i += 1;
        match code {
            0xD9 => {
                write_rotation(&mut out);
                out.extend_from_slice(&[0xFF, 0xD9]);
                return Some(out);
            }
            0xD0..=0xD7 | 0x01 => {
                out.extend_from_slice(&[0xFF, code]);
                continue;
            }
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([*data.get(i)?, *data.get(i + 1)?]));
        if len < 2 {
            return None;
        }
        let body = data.get(i + 2..i + len)?;
        let keep = match code {
            0xE0 => body.starts_with(b"JFIF\0"),
            0xE2 => body.starts_with(b"ICC_PROFILE\0"),
            0xEE => body.starts_with(b"Adobe"),
            0xE1 | 0xE3..=0xED | 0xEF | 0xFE => false,
            _ => true,
        };
        if code != 0xE0 {
            write_rotation(&mut out);
        }
        if keep {
            out.extend_from_slice(&[0xFF, code]);
            out.extend_from_slice(&data[i..i + len]);
        }
        i += len;
        if code == 0xDA {
            // The entropy-coded scan runs to the next marker that is not a stuffed 0xFF00 or a
            // restart marker.
            let start = i;
            while i + 1 < data.len()
                && !(data[i] == 0xFF && data[i + 1] != 0 && !(0xD0..=0xD7).contains(&data[i + 1]))
            {
                i += 1;
            }
            if i + 1 >= data.len() {
                return None;
            }
            out.extend_from_slice(&data[start..i]);
        }
    }
}

fn decode_error(e: image::ImageError) -> PhotoError {
    match e {
        image::ImageError::Limits(_) => PhotoError::TooManyPixels,
        other => PhotoError::Undecodable(other.to_string()),
    }
}

/// A metadata-free JPEG of the image (transparency is dropped: photos have none to speak of).
fn jpeg(image: &DynamicImage) -> Result<Vec<u8>, PhotoError> {
    let mut out = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, QUALITY);
    image
        .to_rgb8()
        .write_with_encoder(encoder)
        .map_err(|e| PhotoError::Storage(format!("re-encoding failed: {e}")))?;
    Ok(out)
}

/// The GPS position in the photo's EXIF, if it has a plausible one.
pub fn exif_position(data: &[u8]) -> Option<(f64, f64)> {
    use exif::{In, Tag, Value};
    let exif = exif::Reader::new()
        .read_from_container(&mut Cursor::new(data))
        .ok()?;
    let degrees = |tag: Tag| -> Option<f64> {
        match &exif.get_field(tag, In::PRIMARY)?.value {
            Value::Rational(v) if v.len() == 3 && v.iter().all(|r| r.denom != 0) => {
                Some(v[0].to_f64() + v[1].to_f64() / 60.0 + v[2].to_f64() / 3600.0)
            }
            _ => None,
        }
    };
    let negative = |tag: Tag, negative: u8| -> bool {
        matches!(
            exif.get_field(tag, In::PRIMARY).map(|f| &f.value),
            Some(Value::Ascii(v)) if v.first().and_then(|s| s.first()) == Some(&negative)
        )
    };
    let mut lat = degrees(Tag::GPSLatitude)?;
    let mut lon = degrees(Tag::GPSLongitude)?;
    if negative(Tag::GPSLatitudeRef, b'S') {
        lat = -lat;
    }
    if negative(Tag::GPSLongitudeRef, b'W') {
        lon = -lon;
    }
    // (0, 0) is what cameras without a fix often write.
    let plausible = lon.is_finite()
        && lat.is_finite()
        && (-180.0..=180.0).contains(&lon)
        && (-90.0..=90.0).contains(&lat)
        && (lon, lat) != (0.0, 0.0);
    plausible.then_some((lon, lat))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x * 7) as u8, (y * 5) as u8, 90])
        });
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn a_png_is_taken_and_made_into_jpeg_copies() {
        let data = png(800, 600);
        let checked = check(bytes::Bytes::from(data.clone())).unwrap();
        assert_eq!(checked.info.content_type, "image/png");
        assert_eq!((checked.info.width, checked.info.height), (800, 600));
        assert_eq!(checked.info.bytes, data.len() as i64);
        assert_eq!(checked.info.hash.len(), 64);
        assert!(checked.public.starts_with(&[0xFF, 0xD8, 0xFF]));
        let thumb = image::load_from_memory(&checked.thumb).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (320, 240));
        assert_eq!(checked.info.exif_lon, None);
    }

    #[test]
    fn html_named_like_a_photo_is_not_a_photo() {
        let html = b"<!doctype html><script>alert(1)</script>".to_vec();
        assert!(matches!(
            check(bytes::Bytes::from(html)),
            Err(PhotoError::NotAnImage)
        ));
        // Right magic, broken body.
        let mut fake = b"\x89PNG\r\n\x1a\n".to_vec();
        fake.extend_from_slice(&[0; 64]);
        assert!(matches!(
            check(bytes::Bytes::from(fake)),
            Err(PhotoError::Undecodable(_))
        ));
    }

    #[test]
    fn oversized_uploads_are_refused_before_decoding() {
        let mut big = png(4, 4);
        big.resize(MAX_BYTES + 1, 0);
        assert!(matches!(
            check(bytes::Bytes::from(big)),
            Err(PhotoError::TooLarge)
        ));
    }
}
