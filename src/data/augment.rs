//! `--augment`: each training image randomly transformed the ways handwriting varies, so that a
//! model reads people's digits, not only MNIST's writers'. The transformations are those of
//! Simard, Steinkraus & Platt, "Best practices for convolutional neural networks applied to
//! visual document analysis" (ICDAR 2003): an affine distortion (rotation, scale, shear,
//! translation) and an elastic one (a smoothed random displacement field), plus the pen's
//! width, blur and noise.
//!
//! Deterministic: the transformation of image `i` in epoch `e` depends only on the run's seed,
//! `e` and `i`, so batches are the same whatever the loader threads, and a resumed run sees
//! exactly what an uninterrupted one would have.

use image::{GrayImage, ImageBuffer, Luma};
use imageproc::filter::gaussian_blur_f32;
use imageproc::geometric_transformations::{Interpolation, Projection, warp, warp_with};
use imageproc::morphology::{Mask, grayscale_dilate, grayscale_erode};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};

/// Largest rotation either way, in degrees.
const MAX_ROTATION_DEGREES: f32 = 12.0;
/// Scale factors drawn from `1 ± MAX_SCALE_CHANGE`.
const MAX_SCALE_CHANGE: f32 = 0.12;
/// Largest horizontal shear (x moves by `shear * y`), the slant of handwriting.
const MAX_SHEAR: f32 = 0.25;
/// Largest shift either way, in pixels.
const MAX_SHIFT: f32 = 2.0;
/// Elastic distortion: the displacement field's smoothing (the Gaussian's sigma, in pixels),
/// Simard et al.'s value for 28×28 digits.
const ELASTIC_SIGMA: f32 = 4.0;
/// Elastic distortion: the strength, in pixels, that scales the smoothed field (drawn in
/// [-1, 1] before smoothing), Simard et al.'s value for 28×28 digits.
const ELASTIC_ALPHA: f32 = 34.0;
/// Share of images (a probability) given the elastic distortion.
const ELASTIC_SHARE: f64 = 0.5;
/// Share of images (a probability) drawn with a wider pen: a grey-level dilation by a
/// 1-pixel diamond.
const WIDER_SHARE: f64 = 0.15;
/// Share of images (a probability) drawn with a narrower pen: an erosion, kept only when more
/// than half the ink survives it.
const NARROWER_SHARE: f64 = 0.15;
/// Share of images (a probability) blurred, with a Gaussian of sigma 0.4 to 0.9 pixels.
const BLUR_SHARE: f64 = 0.2;
/// Share of images (a probability) given uniform noise in ±amplitude, the amplitude drawn
/// from 5 to 25 grey levels (of 255).
const NOISE_SHARE: f64 = 0.2;

/// The augmentation of one run: its seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Augmentation {
    /// The run's seed, from which each (epoch, image) draws its own random stream.
    seed: u64,
}

impl Augmentation {
    /// The augmentation of a run with seed `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Self { seed }
    }

    /// Image `index` of the training split (784 pixels, row by row) as epoch `epoch` sees it.
    /// Panics when `pixels` holds fewer than 784 bytes.
    pub(crate) fn apply(&self, pixels: &[u8], epoch: usize, index: usize) -> [u8; IMAGE_PIXELS] {
        let mut rng = StdRng::seed_from_u64(self.stream(epoch, index));
        let side = IMAGE_SIDE as u32;
        let image = GrayImage::from_fn(side, side, |x, y| Luma([pixels[(y * side + x) as usize]]));
        let mut image = affine(&image, &mut rng);
        if rng.random_bool(ELASTIC_SHARE) {
            image = elastic(&image, &mut rng);
        }
        image = pen_width(image, &mut rng);
        if rng.random_bool(BLUR_SHARE) {
            image = gaussian_blur_f32(&image, rng.random_range(0.4..0.9));
        }
        if rng.random_bool(NOISE_SHARE) {
            let amplitude: f32 = rng.random_range(5.0..25.0);
            for pixel in image.pixels_mut() {
                let noisy = f32::from(pixel.0[0]) + amplitude * rng.random_range(-1.0f32..1.0);
                pixel.0[0] = noisy.clamp(0.0, 255.0) as u8;
            }
        }
        let mut out = [0u8; IMAGE_PIXELS];
        out.copy_from_slice(image.as_raw());
        out
    }

    /// One random stream per (seed, epoch, image), unrelated to its neighbours'.
    fn stream(&self, epoch: usize, index: usize) -> u64 {
        // SplitMix64's finaliser over the three numbers mixed together.
        let mut z = self.seed
            ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (index as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Rotation, scale, shear and shift about the field's centre.
fn affine(image: &GrayImage, rng: &mut StdRng) -> GrayImage {
    let centre = IMAGE_SIDE as f32 / 2.0;
    let angle = rng
        .random_range(-MAX_ROTATION_DEGREES..MAX_ROTATION_DEGREES)
        .to_radians();
    let scale = rng.random_range(1.0 - MAX_SCALE_CHANGE..1.0 + MAX_SCALE_CHANGE);
    let shear = rng.random_range(-MAX_SHEAR..MAX_SHEAR);
    let (dx, dy) = (
        rng.random_range(-MAX_SHIFT..MAX_SHIFT),
        rng.random_range(-MAX_SHIFT..MAX_SHIFT),
    );
    let shear = Projection::from_matrix([1.0, shear, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])
        .expect("a shear is invertible");
    let projection = Projection::translate(centre + dx, centre + dy)
        * Projection::rotate(angle)
        * Projection::scale(scale, scale)
        * shear
        * Projection::translate(-centre, -centre);
    warp(image, &projection, Interpolation::Bilinear, Luma([0]))
}

/// Each pixel moved by a smoothed random field (Simard et al.'s elastic distortion).
fn elastic(image: &GrayImage, rng: &mut StdRng) -> GrayImage {
    let side = IMAGE_SIDE as u32;
    let mut field = || {
        let noise: ImageBuffer<Luma<f32>, Vec<f32>> =
            ImageBuffer::from_fn(side, side, |_, _| Luma([rng.random_range(-1.0f32..1.0)]));
        gaussian_blur_f32(&noise, ELASTIC_SIGMA)
    };
    let (dx, dy) = (field(), field());
    let at = |field: &ImageBuffer<Luma<f32>, Vec<f32>>, x: f32, y: f32| {
        let (x, y) = (
            x.clamp(0.0, (side - 1) as f32),
            y.clamp(0.0, (side - 1) as f32),
        );
        field.get_pixel(x as u32, y as u32).0[0] * ELASTIC_ALPHA
    };
    warp_with(
        image,
        |x, y| (x + at(&dx, x, y), y + at(&dy, x, y)),
        Interpolation::Bilinear,
        Luma([0]),
    )
}

/// A wider or narrower pen for some images; a narrower one only where the digit survives it.
fn pen_width(image: GrayImage, rng: &mut StdRng) -> GrayImage {
    let choice: f64 = rng.random();
    let pen = Mask::diamond(1);
    if choice < WIDER_SHARE {
        return grayscale_dilate(&image, &pen);
    }
    if choice < WIDER_SHARE + NARROWER_SHARE {
        let thinner = grayscale_erode(&image, &pen);
        let mass = |image: &GrayImage| image.pixels().map(|p| u64::from(p.0[0])).sum::<u64>();
        if mass(&thinner) * 2 > mass(&image) {
            return thinner;
        }
    }
    image
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 7-like shape: a bar across the top and a stroke down.
    fn seven() -> Vec<u8> {
        (0..IMAGE_PIXELS)
            .map(|i| {
                let (x, y) = (i % IMAGE_SIDE, i / IMAGE_SIDE);
                let top = (6..9).contains(&y) && (7..21).contains(&x);
                let down = (9..23).contains(&y) && (17..20).contains(&x);
                if top || down { 255 } else { 0 }
            })
            .collect()
    }

    #[test]
    fn the_same_seed_epoch_and_image_give_the_same_picture() {
        let augmentation = Augmentation::new(42);
        let image = seven();
        let first = augmentation.apply(&image, 3, 17);
        assert_eq!(first, augmentation.apply(&image, 3, 17));
        assert_ne!(first, augmentation.apply(&image, 4, 17), "another epoch");
        assert_ne!(first, augmentation.apply(&image, 3, 18), "another image");
        assert_ne!(
            first,
            Augmentation::new(43).apply(&image, 3, 17),
            "another seed"
        );
    }

    #[test]
    fn a_transformed_digit_stays_a_digit_in_the_field() {
        let image = seven();
        let augmentation = Augmentation::new(1);
        let mass = |pixels: &[u8]| pixels.iter().map(|&p| f64::from(p)).sum::<f64>();
        let centre = |pixels: &[u8]| {
            let weighted = |axis: fn(usize) -> usize| {
                (0..IMAGE_PIXELS)
                    .map(|i| f64::from(pixels[i]) * axis(i) as f64)
                    .sum::<f64>()
                    / mass(pixels)
            };
            (weighted(|i| i % IMAGE_SIDE), weighted(|i| i / IMAGE_SIDE))
        };
        let (x, y) = centre(&image);
        for index in 0..200 {
            let out = augmentation.apply(&image, 1, index);
            let ratio = mass(&out) / mass(&image);
            assert!(
                (0.4..2.5).contains(&ratio),
                "image {index}: mass ratio {ratio}"
            );
            assert_ne!(out.as_slice(), image.as_slice(), "image {index} unchanged");
            let (ox, oy) = centre(&out);
            let moved = ((ox - x).powi(2) + (oy - y).powi(2)).sqrt();
            assert!(moved < 6.0, "image {index}: centre moved {moved:.1} pixels");
        }
    }
}
