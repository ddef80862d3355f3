//! What `POST /api/predict` accepts, turned into the digits the model reads (784 pixels each):
//! a picture (PNG, JPEG, ...: its digits prepared as `infer` prepares a file's), or MNIST's own
//! 784 grey levels as JSON (one digit); and what `POST /api/collect` accepts: a picture with
//! ink on it.

use image::DynamicImage;

use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};
use crate::picture::{DecodeError, MAX_SIDE, PreparedDigit, Unread, decode, prepare_digits};

/// Why a request body is not something to predict from; each becomes a 4xx answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum InputError {
    /// No body (400).
    #[error("the body is empty: send a PNG or JPEG picture, or a JSON array of 784 grey levels")]
    Empty,
    /// A Content-Type that is neither a picture nor JSON, or none (`missing`) (415).
    #[error("Content-Type {0}: send image/png, image/jpeg or application/json")]
    ContentType(String),
    /// A Content-Type that is not a picture's, or none (`missing`), where only a picture is
    /// taken (415).
    #[error("Content-Type {0}: only a picture is saved: send image/png or image/jpeg")]
    NotPictureType(String),
    /// The image decoder's message for a body that is no picture (400).
    #[error("not a picture (PNG, JPEG, ...): {0}")]
    NotAnImage(String),
    /// A side over [`MAX_SIDE`] pixels (413).
    #[error("the picture is {width}x{height}; at most {MAX_SIDE}x{MAX_SIDE} is read")]
    TooLarge {
        /// The picture's width, in pixels.
        width: u32,
        /// The picture's height, in pixels.
        height: u32,
    },
    /// The picture's pixels would take too much memory to decode (413).
    #[error("{0}")]
    TooMuchMemory(String),
    /// No ink: a blank picture, or 784 zeros (422).
    #[error("the picture is blank: no ink to read")]
    Blank,
    /// Ink that is not a line of digits: why, in words (422).
    #[error("{0}")]
    NotDigits(String),
    /// JSON that does not parse: serde_json's message (400).
    #[error("not JSON: {0}")]
    NotJson(String),
    /// JSON that is not 784 values (or `{"pixels": [...]}` of them): what it is instead (422).
    #[error(
        "expected a JSON array of {IMAGE_PIXELS} grey levels (or {{\"pixels\": [...]}}), got {0}"
    )]
    NotPixels(String),
    /// A value that is not an integer 0-255 (422).
    #[error("pixels[{index}] = {value}: each grey level is an integer 0 (paper) to 255 (ink)")]
    BadPixel {
        /// Its position, row by row (0-783).
        index: usize,
        /// The value as JSON.
        value: String,
    },
}

/// The body's digits, by its declared type: `image/*` or `application/octet-stream` is a
/// picture (split into digits when `split`), `application/json` grey levels (one digit);
/// parameters (`; charset=...`) are ignored.
///
/// # Errors
/// [`InputError::Empty`] for no body, [`InputError::ContentType`] for another or no type, and
/// those of [`digits_from_picture`] and [`pixels_from_json`].
pub(crate) fn digits_from_body(
    content_type: Option<&str>,
    body: &[u8],
    split: bool,
) -> Result<Vec<PreparedDigit>, InputError> {
    if body.is_empty() {
        return Err(InputError::Empty);
    }
    let media = media_type(content_type);
    let side = IMAGE_SIDE as u32;
    match media.as_str() {
        "application/json" => pixels_from_json(body).map(|pixels| {
            vec![PreparedDigit {
                pixels,
                bounds: [0, 0, side, side],
                cuts: Vec::new(),
            }]
        }),
        "application/octet-stream" => digits_from_picture(body, split),
        image if image.starts_with("image/") => digits_from_picture(body, split),
        "" => Err(InputError::ContentType("missing".to_string())),
        other => Err(InputError::ContentType(other.to_string())),
    }
}

/// A picture to save as it was sent: `image/*` or `application/octet-stream` that decodes and
/// holds ink (a blank drawing teaches nothing). Its decoded pixels are only checked, not kept.
///
/// # Errors
/// [`InputError::Empty`] for no body, [`InputError::NotPictureType`] for another or no type,
/// those of [`decoded`] for a body that does not decode, [`InputError::Blank`] for no ink.
pub(crate) fn check_picture(content_type: Option<&str>, body: &[u8]) -> Result<(), InputError> {
    if body.is_empty() {
        return Err(InputError::Empty);
    }
    match media_type(content_type).as_str() {
        "application/octet-stream" => {}
        image if image.starts_with("image/") => {}
        "" => return Err(InputError::NotPictureType("missing".to_string())),
        other => return Err(InputError::NotPictureType(other.to_string())),
    }
    // Not split: any ink counts, whether or not it reads as a line of digits.
    prepare_digits(&decoded(body)?, false)
        .map(drop)
        .map_err(|unread| match unread {
            Unread::Blank => InputError::Blank,
            Unread::Split(error) => InputError::NotDigits(error.to_string()),
        })
}

/// The media type of a Content-Type header, lower case, without its parameters
/// (`; charset=...`); empty when there is none.
fn media_type(content_type: Option<&str>) -> String {
    content_type
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// The picture in `body`, decoded upright (`crate::picture::decode`).
///
/// # Errors
/// [`InputError::NotAnImage`], [`InputError::TooLarge`] or [`InputError::TooMuchMemory`].
fn decoded(body: &[u8]) -> Result<DynamicImage, InputError> {
    decode(body).map_err(|error| match error {
        DecodeError::NotAnImage(reason) => InputError::NotAnImage(reason),
        DecodeError::TooLarge { width, height } => InputError::TooLarge { width, height },
        error @ DecodeError::TooMuchMemory { .. } => InputError::TooMuchMemory(error.to_string()),
    })
}

/// A picture's digits, prepared as `infer` prepares a file's (`crate::picture`): 784 grey levels
/// each, row by row, 0 paper to 255 ink, with their boxes.
///
/// # Errors
/// [`InputError::NotAnImage`], [`InputError::TooLarge`] or [`InputError::TooMuchMemory`] when
/// it cannot be decoded; [`InputError::Blank`] when it holds no ink,
/// [`InputError::NotDigits`] when its ink is not a line of digits.
pub(crate) fn digits_from_picture(
    body: &[u8],
    split: bool,
) -> Result<Vec<PreparedDigit>, InputError> {
    prepare_digits(&decoded(body)?, split).map_err(|unread| match unread {
        Unread::Blank => InputError::Blank,
        Unread::Split(error) => InputError::NotDigits(error.to_string()),
    })
}

/// `[784 integers 0-255]` or `{"pixels": [...]}`, row by row, as MNIST stores them: already a
/// model input, so used as it is (no cropping or centring).
///
/// # Errors
/// [`InputError::NotJson`], [`InputError::NotPixels`] (not 784 values), [`InputError::BadPixel`]
/// (a value not an integer 0-255), or [`InputError::Blank`] (all zeros).
pub(crate) fn pixels_from_json(body: &[u8]) -> Result<[u8; IMAGE_PIXELS], InputError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|error| InputError::NotJson(error.to_string()))?;
    let values = match &value {
        serde_json::Value::Array(values) => values,
        serde_json::Value::Object(object) => match object.get("pixels") {
            Some(serde_json::Value::Array(values)) => values,
            _ => {
                return Err(InputError::NotPixels(
                    "an object without a \"pixels\" array".to_string(),
                ));
            }
        },
        other => return Err(InputError::NotPixels(kind_of(other).to_string())),
    };
    if values.len() != IMAGE_PIXELS {
        return Err(InputError::NotPixels(format!("{} values", values.len())));
    }
    let mut pixels = [0u8; IMAGE_PIXELS];
    for (index, (slot, value)) in pixels.iter_mut().zip(values).enumerate() {
        *slot = value
            .as_u64()
            .and_then(|level| u8::try_from(level).ok())
            .ok_or_else(|| InputError::BadPixel {
                index,
                value: value.to_string(),
            })?;
    }
    // As a blank picture is: no ink, nothing to read.
    if pixels.iter().all(|&level| level == 0) {
        return Err(InputError::Blank);
    }
    Ok(pixels)
}

/// What kind of JSON value `value` is, in words (`a string`), for [`InputError::NotPixels`].
fn kind_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::ImageFormat;
    use std::io::Cursor;

    fn png(width: u32, height: u32, draw: impl Fn(u32, u32) -> u8) -> Vec<u8> {
        let image = image::GrayImage::from_fn(width, height, |x, y| image::Luma([draw(x, y)]));
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap();
        bytes
    }

    #[test]
    fn a_drawn_stroke_becomes_a_centred_digit() {
        // A dark vertical bar on white paper, off-centre.
        let body = png(200, 200, |x, y| {
            if (20..40).contains(&x) && (30..170).contains(&y) {
                0
            } else {
                255
            }
        });
        let pixels = digits_from_body(Some("image/png"), &body, true).unwrap()[0].pixels;
        let ink: Vec<usize> = (0..IMAGE_PIXELS).filter(|&i| pixels[i] > 128).collect();
        assert!(!ink.is_empty());
        let mean_column = ink.iter().map(|i| i % 28).sum::<usize>() as f64 / ink.len() as f64;
        assert!((mean_column - 14.0).abs() < 1.5, "centred: {mean_column}");
    }

    #[test]
    fn bodies_that_are_not_pixels_are_named() {
        assert_eq!(
            digits_from_body(Some("image/png"), b"", true),
            Err(InputError::Empty)
        );
        assert_eq!(
            digits_from_body(Some("text/plain"), b"7", true),
            Err(InputError::ContentType("text/plain".to_string()))
        );
        assert_eq!(
            digits_from_body(None, b"7", true),
            Err(InputError::ContentType("missing".to_string()))
        );
        assert!(matches!(
            digits_from_body(Some("image/png"), b"hello", true),
            Err(InputError::NotAnImage(_))
        ));
        let white = png(50, 50, |_, _| 255);
        assert_eq!(
            digits_from_body(Some("image/png"), &white, true),
            Err(InputError::Blank)
        );
        let json = |text: &str| {
            digits_from_body(
                Some("application/json; charset=utf-8"),
                text.as_bytes(),
                true,
            )
        };
        assert!(matches!(json("[1, 2"), Err(InputError::NotJson(_))));
        assert_eq!(
            json("\"seven\""),
            Err(InputError::NotPixels("a string".to_string()))
        );
        let short = format!("[{}]", vec!["0"; 783].join(","));
        assert_eq!(
            json(&short),
            Err(InputError::NotPixels("783 values".to_string()))
        );
        let mut levels = vec!["0".to_string(); 784];
        levels[5] = "256".to_string();
        assert_eq!(
            json(&format!("{{\"pixels\": [{}]}}", levels.join(","))),
            Err(InputError::BadPixel {
                index: 5,
                value: "256".to_string()
            })
        );
        levels[5] = "0".to_string();
        assert_eq!(
            json(&format!("[{}]", levels.join(","))),
            Err(InputError::Blank)
        );
        levels[5] = "200".to_string();
        assert_eq!(
            json(&format!("[{}]", levels.join(","))).unwrap()[0].pixels[5],
            200
        );
    }
}
