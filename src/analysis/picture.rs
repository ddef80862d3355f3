//! Turning a picture a person made into an MNIST-style 28×28 digit.
//!
//! MNIST digits are white ink on black, size-normalised into a 20×20 box and centred by their
//! centre of mass in a 28×28 field. A digit drawn in a paint program is usually dark ink on
//! white, any size, anywhere on the canvas; this does to it what was done to MNIST.

use std::path::{Path, PathBuf};

use image::imageops::{self, FilterType};
use image::{DynamicImage, GrayImage, Luma};

use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};

/// The side of the box MNIST scaled each digit into, inside the 28×28 field.
const DIGIT_BOX: u32 = 20;
/// Pixels at or below this (after inversion, 0-255) count as background when cropping, so
/// faint scanner noise or JPEG ringing does not widen the box.
const INK_THRESHOLD: u8 = 40;

#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not an image this program can decode: {reason}", path.display())]
    Decode { path: PathBuf, reason: String },
    #[error("{}: the image is blank (no ink to read a digit from)", path.display())]
    Blank { path: PathBuf },
}

/// Reads an image file (PNG, JPEG, ...) and converts it to MNIST's 784 pixels.
pub fn load_picture(path: &Path) -> Result<[u8; IMAGE_PIXELS], PictureError> {
    let bytes = std::fs::read(path).map_err(|source| PictureError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let decoded = image::load_from_memory(&bytes).map_err(|error| PictureError::Decode {
        path: path.to_path_buf(),
        reason: error.to_string(),
    })?;
    to_mnist(&decoded).ok_or_else(|| PictureError::Blank {
        path: path.to_path_buf(),
    })
}

/// MNIST-style pixels for `picture`, or `None` when it holds no ink.
pub fn to_mnist(picture: &DynamicImage) -> Option<[u8; IMAGE_PIXELS]> {
    let ink = ink_on_black(picture);
    let (x, y, width, height) = ink_bounds(&ink)?;
    let crop = imageops::crop_imm(&ink, x, y, width, height).to_image();

    // Longest side to 20 pixels, keeping the aspect ratio, as MNIST's preprocessing did.
    let scale = DIGIT_BOX as f32 / width.max(height) as f32;
    let new_width = ((width as f32 * scale).round() as u32).clamp(1, DIGIT_BOX);
    let new_height = ((height as f32 * scale).round() as u32).clamp(1, DIGIT_BOX);
    let scaled = imageops::resize(&crop, new_width, new_height, FilterType::Triangle);

    // Put the centre of mass at the field's centre; ink pushed past the edge is dropped.
    let (cx, cy) = centre_of_mass(&scaled)?;
    let centre = IMAGE_SIDE as f32 / 2.0;
    let (dx, dy) = ((centre - cx).round() as i64, (centre - cy).round() as i64);
    let mut field = [0u8; IMAGE_PIXELS];
    for (sx, sy, pixel) in scaled.enumerate_pixels() {
        let (fx, fy) = (i64::from(sx) + dx, i64::from(sy) + dy);
        if (0..IMAGE_SIDE as i64).contains(&fx) && (0..IMAGE_SIDE as i64).contains(&fy) {
            field[fy as usize * IMAGE_SIDE + fx as usize] = pixel.0[0];
        }
    }
    Some(field)
}

/// Grey levels with the ink bright and the background black, whatever the picture's colours.
fn ink_on_black(picture: &DynamicImage) -> GrayImage {
    // Transparent pixels are paper: composite onto white before judging the background.
    let rgba = picture.to_rgba8();
    let mut grey = GrayImage::new(rgba.width(), rgba.height());
    for (x, y, pixel) in rgba.enumerate_pixels() {
        let [r, g, b, a] = pixel.0.map(f32::from);
        let luma = 0.299 * r + 0.587 * g + 0.114 * b;
        let alpha = a / 255.0;
        let on_white = luma * alpha + 255.0 * (1.0 - alpha);
        grey.put_pixel(x, y, Luma([on_white.round() as u8]));
    }
    if border_mean(&grey) > 127.0 {
        imageops::invert(&mut grey);
    }
    grey
}

/// The mean grey level of the outermost pixels: the background's brightness.
fn border_mean(image: &GrayImage) -> f32 {
    let (width, height) = image.dimensions();
    let border = image
        .enumerate_pixels()
        .filter(|(x, y, _)| *x == 0 || *y == 0 || *x + 1 == width || *y + 1 == height);
    let (sum, count) = border.fold((0.0f64, 0usize), |(sum, count), (_, _, p)| {
        (sum + f64::from(p.0[0]), count + 1)
    });
    (sum / count.max(1) as f64) as f32
}

/// `(x, y, width, height)` of the pixels brighter than the ink threshold.
fn ink_bounds(image: &GrayImage) -> Option<(u32, u32, u32, u32)> {
    let mut bounds: Option<(u32, u32, u32, u32)> = None;
    for (x, y, pixel) in image.enumerate_pixels() {
        if pixel.0[0] > INK_THRESHOLD {
            bounds = Some(match bounds {
                None => (x, y, x, y),
                Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
            });
        }
    }
    bounds.map(|(x0, y0, x1, y1)| (x0, y0, x1 - x0 + 1, y1 - y0 + 1))
}

/// The ink-weighted centre of `image`, in pixel coordinates (pixel centres at +0.5).
fn centre_of_mass(image: &GrayImage) -> Option<(f32, f32)> {
    let (mut mass, mut sx, mut sy) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y, pixel) in image.enumerate_pixels() {
        let weight = f64::from(pixel.0[0]);
        mass += weight;
        sx += weight * (f64::from(x) + 0.5);
        sy += weight * (f64::from(y) + 0.5);
    }
    (mass > 0.0).then(|| ((sx / mass) as f32, (sy / mass) as f32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::RgbaImage;

    /// A white canvas with a black filled rectangle: dark ink on paper.
    fn drawing(width: u32, height: u32, ink: (u32, u32, u32, u32)) -> DynamicImage {
        let (x0, y0, x1, y1) = ink;
        let mut canvas = RgbaImage::from_pixel(width, height, image::Rgba([255, 255, 255, 255]));
        for y in y0..y1 {
            for x in x0..x1 {
                canvas.put_pixel(x, y, image::Rgba([0, 0, 0, 255]));
            }
        }
        DynamicImage::ImageRgba8(canvas)
    }

    fn bounds_of(field: &[u8; IMAGE_PIXELS]) -> (usize, usize, usize, usize) {
        let ink: Vec<(usize, usize)> = (0..IMAGE_PIXELS)
            .filter(|&i| field[i] > INK_THRESHOLD)
            .map(|i| (i % IMAGE_SIDE, i / IMAGE_SIDE))
            .collect();
        let xs = ink.iter().map(|p| p.0);
        let ys = ink.iter().map(|p| p.1);
        (
            xs.clone().min().unwrap(),
            ys.clone().min().unwrap(),
            xs.max().unwrap(),
            ys.max().unwrap(),
        )
    }

    #[test]
    fn dark_ink_on_white_becomes_a_centred_20_pixel_digit() {
        // A tall bar in the top-left corner of a large canvas.
        let field = to_mnist(&drawing(300, 200, (10, 10, 40, 130))).unwrap();
        let (x0, y0, x1, y1) = bounds_of(&field);
        assert_eq!(y1 - y0 + 1, 20, "longest side scaled to 20");
        assert!(
            (x1 - x0 + 1) >= 4 && (x1 - x0 + 1) <= 6,
            "aspect kept: {x0}..{x1}"
        );
        // Centred: the bar's middle sits at the field's middle.
        assert!(((x0 + x1) as f32 / 2.0 - 13.5).abs() <= 1.0, "{x0}..{x1}");
        assert!(((y0 + y1) as f32 / 2.0 - 13.5).abs() <= 1.0, "{y0}..{y1}");
        // White ink on black, as MNIST.
        assert_eq!(field[0], 0);
        assert!(field[14 * IMAGE_SIDE + 14] > 200);
    }

    #[test]
    fn white_on_black_is_not_inverted() {
        let mut canvas = GrayImage::new(28, 28);
        for y in 4..24 {
            for x in 12..16 {
                canvas.put_pixel(x, y, Luma([255]));
            }
        }
        let field = to_mnist(&DynamicImage::ImageLuma8(canvas)).unwrap();
        assert_eq!(field[0], 0);
        assert!(field[14 * IMAGE_SIDE + 14] > 200);
    }

    #[test]
    fn transparent_background_counts_as_paper() {
        // Black ink on fully transparent black pixels, as many paint programs export.
        let mut canvas = RgbaImage::from_pixel(50, 50, image::Rgba([0, 0, 0, 0]));
        for y in 10..40 {
            for x in 20..28 {
                canvas.put_pixel(x, y, image::Rgba([0, 0, 0, 255]));
            }
        }
        let field = to_mnist(&DynamicImage::ImageRgba8(canvas)).unwrap();
        assert_eq!(field[0], 0);
        assert!(field[14 * IMAGE_SIDE + 14] > 200);
    }

    #[test]
    fn a_blank_page_has_no_digit() {
        assert!(to_mnist(&drawing(64, 64, (0, 0, 0, 0))).is_none());
    }

    #[test]
    fn files_that_are_not_images_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.png");
        std::fs::write(&text, "just text").unwrap();
        let err = load_picture(&text).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}: not an image", text.display())),
            "{err}"
        );
        let missing = dir.path().join("missing.png");
        assert!(
            load_picture(&missing)
                .unwrap_err()
                .to_string()
                .contains("cannot read")
        );
    }
}
