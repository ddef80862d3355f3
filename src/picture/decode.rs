//! Step 1 of preparing a picture: bytes to pixels, the one decoder `infer` and `serve` share.
//! The size is checked from the header before any pixel is decoded, and the EXIF orientation
//! a phone records is applied, so that the picture is upright as its viewer shows it.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// Widest and tallest picture decoded: a phone photo fits; a header claiming more is refused
/// before any pixel is decoded.
pub(crate) const MAX_SIDE: u32 = 8192;
/// Most memory one decode may take (an 8192×8192 grey picture fits; RGBA of that does not; a
/// 12-megapixel phone photo takes 36 MiB).
pub(super) const MAX_DECODE_BYTES: u64 = 128 << 20;

/// Why bytes are not a picture this program reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    /// No format the `image` crate decodes (PNG, JPEG, GIF, BMP, WebP, TIFF, ...), or damaged.
    #[error("not an image this program can decode: {0}")]
    NotAnImage(String),
    /// Larger than [`MAX_SIDE`] on a side, as its header says.
    #[error("the picture is {width}x{height}; at most {MAX_SIDE}x{MAX_SIDE} is read")]
    TooLarge {
        /// Its width, in pixels.
        width: u32,
        /// Its height, in pixels.
        height: u32,
    },
    /// Its pixels would take more than [`MAX_DECODE_BYTES`] (16-bit channels, say), as its
    /// header says.
    #[error(
        "the picture needs {} MiB to decode (its colours at {width}x{height}); at most {} MiB is read",
        bytes >> 20,
        MAX_DECODE_BYTES >> 20
    )]
    TooMuchMemory {
        /// Its width, in pixels.
        width: u32,
        /// Its height, in pixels.
        height: u32,
        /// The bytes its decoded pixels would take.
        bytes: u64,
    },
}

/// Decodes a picture, upright.
///
/// # Errors
/// [`DecodeError::TooLarge`] and [`DecodeError::TooMuchMemory`] (more than 128 MiB of pixels)
/// from the header alone; [`DecodeError::NotAnImage`] for an unknown format, damaged data, or
/// a decoder that exceeds the `image` crate's limits.
pub(crate) fn decode(bytes: &[u8]) -> Result<DynamicImage, DecodeError> {
    let not_an_image = |error: image::ImageError| DecodeError::NotAnImage(error.to_string());
    let reader = || {
        ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|error| DecodeError::NotAnImage(error.to_string()))
    };
    if reader()?.format().is_none() {
        return Err(DecodeError::NotAnImage("unknown format".to_string()));
    }
    let (width, height) = reader()?.into_dimensions().map_err(not_an_image)?;
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(DecodeError::TooLarge { width, height });
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader = reader()?;
    if let Some(cut) = reader.format().and_then(|format| truncated(format, bytes)) {
        return Err(DecodeError::NotAnImage(cut.to_string()));
    }
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(not_an_image)?;
    // The decoders do not all hold to `max_alloc`: the size the header implies is checked here.
    let bytes = decoder.total_bytes();
    if bytes > MAX_DECODE_BYTES {
        return Err(DecodeError::TooMuchMemory {
            width,
            height,
            bytes,
        });
    }
    // A picture whose orientation cannot be read is shown as stored, as viewers do.
    let orientation = decoder.orientation().ok();
    let mut picture = DynamicImage::from_decoder(decoder).map_err(not_an_image)?;
    if let Some(orientation) = orientation {
        picture.apply_orientation(orientation);
    }
    Ok(picture)
}

/// Why `bytes` of `format` are cut short, when they end before the format's end marker: the
/// JPEG decoder fills the missing rows with grey, which reads as ink; PNG's and GIF's accept a
/// file without its last bytes.
fn truncated(format: ImageFormat, bytes: &[u8]) -> Option<&'static str> {
    /// PNG's last chunk, whole: no data, type `IEND`, its CRC (always the same).
    const PNG_END: [u8; 12] = [0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82];
    /// GIF's trailer byte.
    const GIF_END: u8 = 0x3B;
    match format {
        ImageFormat::Jpeg if !jpeg_is_whole(bytes) => {
            Some("a truncated JPEG: its data ends before its end-of-image marker")
        }
        ImageFormat::Png if !bytes.windows(PNG_END.len()).any(|chunk| chunk == PNG_END) => {
            Some("a truncated PNG: its data ends before its end chunk (IEND)")
        }
        ImageFormat::Gif if bytes.iter().rev().find(|&&byte| byte != 0) != Some(&GIF_END) => {
            Some("a truncated GIF: its data ends before its trailer")
        }
        _ => None,
    }
}

/// Whether a JPEG's bytes hold its end-of-image marker (`FF D9`) after its first scan. The
/// segments before the scan are skipped by their lengths (an EXIF thumbnail holds a marker of
/// its own); inside entropy-coded data a `FF` byte is always followed by `00` or a restart
/// marker, so `FF D9` there is the real end (ITU T.81, B.1.1.2 and B.1.1.5).
fn jpeg_is_whole(bytes: &[u8]) -> bool {
    /// Start of scan: entropy-coded data follows its header.
    const SOS: u8 = 0xDA;
    /// End of image.
    const EOI: u8 = 0xD9;
    let mut at = 2; // after SOI
    loop {
        let Some(&[0xFF, marker, high, low]) = bytes.get(at..at + 4) else {
            return false;
        };
        if marker == 0xFF {
            // Fill bytes before a marker.
            at += 1;
            continue;
        }
        let length = usize::from(u16::from_be_bytes([high, low]));
        if marker == SOS {
            let scan = bytes.get(at + 2 + length..).unwrap_or_default();
            return scan.windows(2).any(|pair| pair == [0xFF, EOI]);
        }
        at += 2 + length;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Luma};

    fn encoded(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), format)
            .unwrap();
        bytes
    }

    #[test]
    fn a_header_claiming_a_huge_picture_is_refused_before_decoding() {
        let mut body = encoded(&DynamicImage::new_luma8(1, 1), ImageFormat::Png);
        // IHDR's width and height sit at bytes 16..24 of a PNG, its CRC at 29..33.
        body[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        body[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc32fast::hash(&body[12..29]);
        body[29..33].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(
            decode(&body),
            Err(DecodeError::TooLarge {
                width: 100_000,
                height: 100_000
            })
        );
    }

    /// A JPEG's APP1 EXIF segment holding only an Orientation tag, big-endian TIFF.
    fn exif_orientation_segment(orientation: u16) -> Vec<u8> {
        let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
        tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
        tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
        tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
        tiff.extend_from_slice(&1u32.to_be_bytes()); // one value
        tiff.extend_from_slice(&orientation.to_be_bytes());
        tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // padding, no next IFD
        let mut payload = b"Exif\0\0".to_vec();
        payload.extend_from_slice(&tiff);
        let mut segment = vec![0xFF, 0xE1];
        segment.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        segment.extend_from_slice(&payload);
        segment
    }

    #[test]
    fn a_phone_photos_exif_orientation_is_applied() {
        // Stored 40 wide and 20 tall, ink in its left half; orientation 6 means a viewer turns
        // it 90° clockwise: 20 wide, 40 tall, the ink in the top half.
        let stored = GrayImage::from_fn(40, 20, |x, _| Luma([if x < 20 { 0 } else { 255 }]));
        let jpeg = encoded(&DynamicImage::ImageLuma8(stored), ImageFormat::Jpeg);
        let mut with_exif = jpeg[..2].to_vec(); // SOI
        with_exif.extend(exif_orientation_segment(6));
        with_exif.extend_from_slice(&jpeg[2..]);
        let upright = decode(&with_exif).unwrap().to_luma8();
        assert_eq!(upright.dimensions(), (20, 40));
        assert!(upright.get_pixel(10, 5).0[0] < 60, "ink at the top");
        assert!(upright.get_pixel(10, 35).0[0] > 200, "paper at the bottom");
        assert_eq!(decode(&jpeg).unwrap().to_luma8().dimensions(), (40, 20));
    }

    #[test]
    fn a_picture_needing_too_much_memory_is_refused_before_decoding() {
        // A 16-bit RGBA PNG whose header says 6000x6000: 275 MB of pixels, within MAX_SIDE.
        let one = image::ImageBuffer::<image::Rgba<u16>, _>::new(1, 1);
        let mut png = encoded(&DynamicImage::ImageRgba16(one), ImageFormat::Png);
        png[16..20].copy_from_slice(&6000u32.to_be_bytes());
        png[20..24].copy_from_slice(&6000u32.to_be_bytes());
        let crc = crc32fast::hash(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(
            decode(&png),
            Err(DecodeError::TooMuchMemory { bytes, .. }) if bytes == 6000 * 6000 * 8
        ));
    }

    #[test]
    fn a_truncated_picture_is_refused_in_every_format() {
        // A "0": a ring of ink, so the picture has real content in every row.
        let zero = GrayImage::from_fn(64, 64, |x, y| {
            let (dx, dy) = (x as f32 - 32.0, y as f32 - 32.0);
            let r = (dx * dx + dy * dy).sqrt();
            Luma([if (18.0..26.0).contains(&r) { 0 } else { 255 }])
        });
        let picture = DynamicImage::ImageLuma8(zero);
        for format in [
            ImageFormat::Jpeg,
            ImageFormat::Png,
            ImageFormat::Bmp,
            ImageFormat::Gif,
            ImageFormat::Tiff,
            ImageFormat::WebP,
        ] {
            let whole = encoded(&DynamicImage::ImageRgb8(picture.to_rgb8()), format);
            assert!(decode(&whole).is_ok(), "{format:?} whole");
            for cut in [whole.len() * 6 / 10, whole.len() - 1] {
                assert!(
                    matches!(decode(&whole[..cut]), Err(DecodeError::NotAnImage(_))),
                    "{format:?} cut to {cut} of {} bytes was read",
                    whole.len()
                );
            }
        }
        // An EXIF thumbnail's end marker before the scan does not make a cut JPEG whole.
        let jpeg = encoded(&picture, ImageFormat::Jpeg);
        let mut with_marker = jpeg[..2].to_vec();
        with_marker.extend_from_slice(&[0xFF, 0xE1, 0x00, 0x06, 0xFF, 0xD9, 0x00, 0x00]);
        with_marker.extend_from_slice(&jpeg[2..jpeg.len() * 6 / 10]);
        assert!(!jpeg_is_whole(&with_marker));
        assert!(jpeg_is_whole(&jpeg));
    }

    #[test]
    fn bytes_that_are_not_a_picture_are_named() {
        assert!(matches!(decode(b"hello"), Err(DecodeError::NotAnImage(_))));
        let png = encoded(&DynamicImage::new_luma8(8, 8), ImageFormat::Png);
        assert!(matches!(
            decode(&png[..png.len() / 2]),
            Err(DecodeError::NotAnImage(_))
        ));
    }
}
