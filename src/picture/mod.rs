//! Preparing a picture a person made for the model: the pipeline `infer` and `serve` share.
//!
//! 1. **Decode** (`decode.rs`): any format the `image` crate reads, at most
//!    [`decode::MAX_SIDE`] on a side, turned upright by its EXIF orientation.
//! 2. **Already MNIST?** A 28×28 picture with a light digit on a black ground, centred by its
//!    mass, as MNIST stores its digits, is used as it is.
//! 3. **Pixelated?** (`pixelated.rs`) A low-resolution picture enlarged by repeating its pixels
//!    is enlarged again from its own grid, smoothly: its blocks' edges are not strokes.
//! 4. **Ink** (`ink.rs`): ink strength per pixel, whatever the colours, transparency and
//!    lighting: the paper's brightness is estimated (`paper.rs`) and divided out, Otsu's
//!    threshold separates ink from paper, clutter along the edges is dropped.
//! 5. **MNIST's layout** (`mnist_box.rs`): cropped to the ink, thin strokes widened to MNIST's,
//!    scaled into a 20×20 box, centred by centre of mass in 28×28, strokes as strong as MNIST's
//!    (strongest pixel at 255, faint strokes raised to MNIST's median).

mod decode;
mod ink;
mod mnist_box;
mod paper;
mod pixelated;

use std::path::{Path, PathBuf};

use image::DynamicImage;

use crate::fs::bounded_read::read_at_most;

use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};
pub(crate) use decode::{DecodeError, MAX_SIDE, decode};

/// A picture file that gives no digit to read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PictureError {
    /// The file cannot be read.
    #[error("{}: cannot read: {cause}", path.display())]
    Read {
        /// The picture file.
        path: PathBuf,
        /// The operating system's error.
        cause: std::io::Error,
    },
    /// The bytes are not a picture this program decodes, or too large a one.
    #[error("{}: {cause}", path.display())]
    Decode {
        /// The picture file.
        path: PathBuf,
        /// Why it was not decoded.
        cause: DecodeError,
    },
    /// The picture holds no ink.
    #[error("{}: the image is blank (no ink to read a digit from)", path.display())]
    Blank {
        /// The picture file.
        path: PathBuf,
    },
}

/// Reads a picture file and prepares it: MNIST's 784 pixels, row by row, 0 (paper) to 255.
///
/// # Errors
/// [`PictureError`], naming the file: unreadable, not a picture, or blank.
pub(crate) fn load_picture(path: &Path) -> Result<[u8; IMAGE_PIXELS], PictureError> {
    // A picture file larger than its decode may take is refused before it is read whole.
    let too_large = format!(
        "larger than {} MiB; not a picture this program reads",
        decode::MAX_DECODE_BYTES >> 20
    );
    let bytes = read_at_most(path, decode::MAX_DECODE_BYTES, &too_large).map_err(|source| {
        PictureError::Read {
            path: path.to_path_buf(),
            cause: source,
        }
    })?;
    let picture = decode(&bytes).map_err(|source| PictureError::Decode {
        path: path.to_path_buf(),
        cause: source,
    })?;
    prepare(&picture).ok_or_else(|| PictureError::Blank {
        path: path.to_path_buf(),
    })
}

/// MNIST's 784 pixels (28×28, row by row, 0 paper to 255 ink) for an upright `picture`;
/// `None` when it holds no ink.
pub(crate) fn prepare(picture: &DynamicImage) -> Option<[u8; IMAGE_PIXELS]> {
    if let Some(pixels) = already_mnist(picture) {
        return Some(pixels);
    }
    let smooth = pixelated::smoothed(picture);
    mnist_box::into_field(&ink::ink(smooth.as_ref().unwrap_or(picture))?)
}

/// The picture's own pixels when it already is an MNIST digit: 28×28, a black border, some ink
/// at full strength, its centre of mass within 2 pixels of the centre.
fn already_mnist(picture: &DynamicImage) -> Option<[u8; IMAGE_PIXELS]> {
    if picture.width() as usize != IMAGE_SIDE
        || picture.height() as usize != IMAGE_SIDE
        || picture.color().has_alpha()
    {
        return None;
    }
    let grey = picture.to_luma8();
    let pixels: [u8; IMAGE_PIXELS] = grey.as_raw().as_slice().try_into().ok()?;
    let last = IMAGE_SIDE - 1;
    let border = (0..IMAGE_PIXELS)
        .filter(|i| {
            [i % IMAGE_SIDE, i / IMAGE_SIDE]
                .iter()
                .any(|&c| c == 0 || c == last)
        })
        .map(|i| pixels[i]);
    if border.max()? > 30 || pixels.iter().max()? < &200 {
        return None;
    }
    let (x, y) = mnist_box::centre_of_mass(&grey)?;
    let off = |at: f32| (at - IMAGE_SIDE as f32 / 2.0).abs();
    (off(x) <= 2.0 && off(y) <= 2.0).then_some(pixels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Luma};

    #[test]
    fn an_mnist_digit_is_used_as_it_is() {
        // A ring, grey at its edges as MNIST's anti-aliased strokes are.
        let digit = GrayImage::from_fn(28, 28, |x, y| {
            let r = ((x as f32 - 13.5).powi(2) + (y as f32 - 13.5).powi(2)).sqrt();
            Luma([(255.0 * (1.5 - (r - 7.0).abs()).clamp(0.0, 1.0)) as u8])
        });
        let prepared = prepare(&DynamicImage::ImageLuma8(digit.clone())).unwrap();
        assert_eq!(prepared.as_slice(), digit.as_raw().as_slice());
        // Off-centre, the same picture is laid out again.
        let moved = GrayImage::from_fn(28, 28, |x, y| {
            *digit.get_pixel(x.saturating_sub(4).max(1), y)
        });
        assert_ne!(
            prepare(&DynamicImage::ImageLuma8(moved.clone()))
                .unwrap()
                .as_slice(),
            moved.as_raw().as_slice()
        );
    }

    #[test]
    fn files_that_are_not_pictures_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.png");
        std::fs::write(&text, "just text").unwrap();
        let err = load_picture(&text).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}: not an image", text.display())),
            "{err}"
        );
        let missing = dir.path().join("missing.png");
        let err = load_picture(&missing).unwrap_err().to_string();
        assert!(err.contains("cannot read"), "{err}");
        let blank = dir.path().join("blank.png");
        GrayImage::from_pixel(40, 40, Luma([255]))
            .save(&blank)
            .unwrap();
        let err = load_picture(&blank).unwrap_err().to_string();
        assert!(
            err.ends_with("the image is blank (no ink to read a digit from)"),
            "{err}"
        );
    }
}
