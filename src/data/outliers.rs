//! Outlier Exposure (Hendrycks, Mazeika & Dietterich, "Deep Anomaly Detection with Outlier
//! Exposure", ICLR 2019): while the model learns the digits it is shown pictures that are not
//! digits and taught to spread its probability evenly over the ten classes for them, so that a
//! low top probability says "not a digit" for the kinds of pictures it never saw as well.
//!
//! The outliers are made here, in MNIST's 28×28 layout (ink 255 on 0, inside the central 20×20
//! box), a third of each of three kinds chosen to be unlike the non-digits
//! `bench/real_pictures.py` measures refusals on (letters and symbols in handwriting fonts,
//! free-hand scribbles, noise, scenes, line drawings, blank paper), so that the bench measures
//! what the model learnt, not what it was shown:
//! - two training digits squeezed side by side into one digit's place (a region holding two
//!   digits is not one digit: it is read as its halves, or refused);
//! - two training digits at their own size touching, the pair fitted into the box as `infer`
//!   prepares a piece of ink holding two touching digits (read unsurely, it is read as its
//!   halves);
//! - a tangle: a closed polygon of 5 to 8 random corners in straight strokes.
//!
//! With `font_outliers`, a quarter of each of four kinds: the fourth, letters and symbols drawn
//! in the training fonts (`picture::font_digits`), none of the bench's fonts, so that its
//! letters and symbols measure fonts never seen and its other kinds, kinds never seen. Shown
//! only the three made-up kinds, the model read most printed letters as the digit they
//! resemble (an A as a 4 at 99%); with the fourth it also refuses more of the kinds it never
//! saw (line drawings, noise), digits unchanged (`docs/measurements.md`, session 30).
//!
//! With `--augment` each outlier is then transformed as the digits are (`data::batcher`):
//! left clean beside augmented digits, a clean image was itself a sign of "not a digit".
//!
//! Kinds closer to digits were tried and dropped (`docs/measurements.md`): a digit mirrored or
//! turned, and two digits drawn over each other, made the CNN unsure of real digits (99% to 90%
//! on the test set over 5 epochs), and the MLP of a picture's 0. Scattered specks and filled
//! blots were left out too: they are what the bench's noise and scenes become once prepared.
//!
//! Deterministic: a batch's outliers depend only on the run's seed and the batch's own seed
//! (its epoch and images), so a resumed run sees exactly what an uninterrupted one would have.

use std::sync::Arc;

use image::GrayImage;
use image::imageops::{self, FilterType};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::data::idx::LabelledImages;
use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};

/// Drawn strokes stay inside MNIST's 20×20 box: from this coordinate...
const BOX_START: f32 = 4.0;
/// ...to this one, in pixels of the 28×28 field.
const BOX_END: f32 = 24.0;

/// The outliers of one run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OutlierExposure {
    /// The run's seed, mixed with each batch's.
    seed: u64,
    /// How much the outliers' loss counts against the digits' (`outlier_exposure`).
    pub weight: f32,
    /// Letters and symbols drawn in fonts (`font_outliers`), each 784 bytes: a fourth kind
    /// when there are any.
    glyphs: Arc<Vec<[u8; IMAGE_PIXELS]>>,
}

impl OutlierExposure {
    /// The outliers of a run with seed `seed`, their loss weighted by `weight`.
    pub(crate) fn new(seed: u64, weight: f32) -> Self {
        Self {
            seed,
            weight,
            glyphs: Arc::default(),
        }
    }

    /// The same outliers with `glyphs` (letters and symbols in MNIST's layout) as a fourth
    /// kind, a quarter of them; none leaves the three made-up kinds a third each, as before.
    pub(crate) fn with_glyphs(mut self, glyphs: Arc<Vec<[u8; IMAGE_PIXELS]>>) -> Self {
        self.glyphs = glyphs;
        self
    }

    /// How many outliers go with a batch of `digits` images: half as many, at least one.
    pub(crate) fn count_for(digits: usize) -> usize {
        digits.div_ceil(2).max(1)
    }

    /// The outliers of the batch whose seed is `batch_seed`, made from `digits` (the training
    /// split) where a kind needs digits: `count` images of 784 bytes, row by row.
    pub(crate) fn images(&self, digits: &LabelledImages, count: usize, batch_seed: u64) -> Vec<u8> {
        let mut rng = StdRng::seed_from_u64(self.seed.rotate_left(32) ^ batch_seed);
        // An even share of each kind: the fourth, letters, only when there are some.
        let kinds = if self.glyphs.is_empty() { 3 } else { 4 };
        (0..count)
            .flat_map(|_| {
                let made = match rng.random_range(0..kinds) {
                    0 => squeezed_pair(digits, &mut rng),
                    1 => touching_pair(digits, &mut rng),
                    3 => Some(self.glyphs[rng.random_range(0..self.glyphs.len())]),
                    _ => None,
                };
                made.unwrap_or_else(|| tangle(&mut rng))
            })
            .collect()
    }
}

/// Two training digits side by side, each squeezed to half its width (the darker of each two
/// columns), filling the field as one digit would.
fn squeezed_pair(digits: &LabelledImages, rng: &mut StdRng) -> Option<[u8; IMAGE_PIXELS]> {
    let mut pick = || digits.image(rng.random_range(0..digits.len().max(1)));
    let (left, right) = (pick()?, pick()?);
    let half = IMAGE_SIDE / 2;
    Some(std::array::from_fn(|at| {
        let (y, x) = (at / IMAGE_SIDE, at % IMAGE_SIDE);
        let (digit, column) = if x < half {
            (left, 2 * x)
        } else {
            (right, 2 * (x - half))
        };
        digit[y * IMAGE_SIDE + column].max(digit[y * IMAGE_SIDE + column + 1])
    }))
}

/// Two training digits at their own size side by side and touching (0 to 3 columns of
/// overlap, the darker pixel kept), the pair scaled into MNIST's 20×20 box by its longer side
/// and centred by its centre of mass in the field, as `infer` prepares a piece of ink holding
/// two touching digits: such a piece is not one digit, and read unsurely it is read as its
/// halves (`model::predict`).
fn touching_pair(digits: &LabelledImages, rng: &mut StdRng) -> Option<[u8; IMAGE_PIXELS]> {
    let mut pick = || digits.image(rng.random_range(0..digits.len().max(1)));
    let (left, right) = (inked_part(pick()?)?, inked_part(pick()?)?);
    let overlap = rng
        .random_range(0..=3u32)
        .min(left.width().min(right.width()) - 1);
    let (width, height) = (
        left.width() + right.width() - overlap,
        left.height().max(right.height()),
    );
    let mut pair = GrayImage::new(width, height);
    for (image, x0) in [(&left, 0), (&right, left.width() - overlap)] {
        let y0 = (height - image.height()) / 2;
        for (x, y, ink) in image.enumerate_pixels() {
            let at = pair.get_pixel_mut(x0 + x, y0 + y);
            at.0[0] = at.0[0].max(ink.0[0]);
        }
    }
    let scale = (BOX_END - BOX_START) / width.max(height) as f32;
    let side = |length: u32| ((length as f32 * scale).round() as u32).max(1);
    let fitted = imageops::resize(&pair, side(width), side(height), FilterType::Triangle);
    Some(centred_by_mass(&fitted))
}

/// The inked rows and columns of a 28×28 image, as an image; `None` when it holds no ink.
fn inked_part(image: &[u8]) -> Option<GrayImage> {
    let field = GrayImage::from_raw(IMAGE_SIDE as u32, IMAGE_SIDE as u32, image.to_vec())?;
    let inked: Vec<(u32, u32)> = (field.enumerate_pixels())
        .filter(|(_, _, ink)| ink.0[0] > 0)
        .map(|(x, y, _)| (x, y))
        .collect();
    let (x0, x1) = (
        inked.iter().map(|p| p.0).min()?,
        inked.iter().map(|p| p.0).max()?,
    );
    let (y0, y1) = (
        inked.iter().map(|p| p.1).min()?,
        inked.iter().map(|p| p.1).max()?,
    );
    Some(imageops::crop_imm(&field, x0, y0, x1 - x0 + 1, y1 - y0 + 1).to_image())
}

/// `image` (at most 20×20) placed in the 28×28 field with its centre of mass at the centre,
/// as MNIST's digits are, shifted back inside where that would push it over the edge.
fn centred_by_mass(image: &GrayImage) -> [u8; IMAGE_PIXELS] {
    let (mut mass, mut sum_x, mut sum_y) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y, ink) in image.enumerate_pixels() {
        let ink = f32::from(ink.0[0]);
        (mass, sum_x, sum_y) = (mass + ink, sum_x + ink * x as f32, sum_y + ink * y as f32);
    }
    let centre = |sum: f32, length: u32| match mass > 0.0 {
        true => sum / mass,
        false => length as f32 / 2.0,
    };
    let place = |sum: f32, length: u32| {
        let at = (IMAGE_SIDE as f32 / 2.0 - centre(sum, length)).round() as i64;
        at.clamp(
            0,
            (IMAGE_SIDE as u32 - length.min(IMAGE_SIDE as u32)) as i64,
        ) as usize
    };
    let (left, top) = (place(sum_x, image.width()), place(sum_y, image.height()));
    let mut field = [0u8; IMAGE_PIXELS];
    for (x, y, ink) in image.enumerate_pixels() {
        let (x, y) = (left + x as usize, top + y as usize);
        if x < IMAGE_SIDE && y < IMAGE_SIDE {
            field[y * IMAGE_SIDE + x] = ink.0[0];
        }
    }
    field
}

/// A closed polygon of 5 to 8 corners anywhere in the box, in straight strokes 2 to 3.6
/// pixels wide.
fn tangle(rng: &mut StdRng) -> [u8; IMAGE_PIXELS] {
    let corners: Vec<(f32, f32)> = (0..rng.random_range(5..=8))
        .map(|_| (box_coordinate(rng), box_coordinate(rng)))
        .collect();
    let radius = rng.random_range(1.0..1.8f32);
    let mut canvas = Canvas::new();
    for (i, &from) in corners.iter().enumerate() {
        canvas.stroke(from, corners[(i + 1) % corners.len()], radius);
    }
    canvas.into_pixels()
}

/// A coordinate inside MNIST's 20×20 box.
fn box_coordinate(rng: &mut StdRng) -> f32 {
    rng.random_range(BOX_START..BOX_END)
}

/// Ink strengths (0 to 1) of the 28×28 field, drawn on with anti-aliased strokes: a pixel is
/// as inked as the share of it within the pen, approximated by its centre's distance.
struct Canvas([f32; IMAGE_PIXELS]);

impl Canvas {
    fn new() -> Self {
        Self([0.0; IMAGE_PIXELS])
    }

    /// Each pixel's centre, `(x, y)` in pixels of the field.
    fn centres() -> impl Iterator<Item = (usize, (f32, f32))> {
        (0..IMAGE_PIXELS).map(|at| {
            let (y, x) = (at / IMAGE_SIDE, at % IMAGE_SIDE);
            (at, (x as f32 + 0.5, y as f32 + 0.5))
        })
    }

    /// A straight stroke of a round pen of `radius` pixels from `from` to `to` (a dot when
    /// they are the same point).
    fn stroke(&mut self, from: (f32, f32), to: (f32, f32), radius: f32) {
        for (at, point) in Self::centres() {
            let ink = (radius + 0.5 - distance_to_segment(point, from, to)).clamp(0.0, 1.0);
            self.0[at] = self.0[at].max(ink);
        }
    }

    /// The strengths as MNIST's bytes (full ink 255).
    fn into_pixels(self) -> [u8; IMAGE_PIXELS] {
        self.0.map(|ink| (ink * 255.0).round() as u8)
    }
}

/// Distance from `point` to the segment from `a` to `b`, in pixels.
fn distance_to_segment(point: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    let (abx, aby) = (b.0 - a.0, b.1 - a.1);
    let (apx, apy) = (point.0 - a.0, point.1 - a.1);
    let length_squared = abx * abx + aby * aby;
    let t = if length_squared == 0.0 {
        0.0
    } else {
        ((apx * abx + apy * aby) / length_squared).clamp(0.0, 1.0)
    };
    let (dx, dy) = (apx - t * abx, apy - t * aby);
    (dx * dx + dy * dy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits() -> LabelledImages {
        // Ten "digits": class c has a vertical bar at column 4 + 2c, so every change shows.
        let mut pixels = vec![0u8; 10 * IMAGE_PIXELS];
        for class in 0..10 {
            for y in 4..24 {
                pixels[class * IMAGE_PIXELS + y * IMAGE_SIDE + 4 + 2 * class] = 255;
            }
        }
        LabelledImages::from_parts(pixels, (0..10).collect()).unwrap()
    }

    #[test]
    fn a_batchs_outliers_depend_on_the_seeds_alone_and_hold_ink() {
        let outliers = OutlierExposure::new(7, 0.5);
        let made = outliers.images(&digits(), 40, 99);
        assert_eq!(made.len(), 40 * IMAGE_PIXELS);
        assert_eq!(made, outliers.images(&digits(), 40, 99));
        assert_ne!(made, outliers.images(&digits(), 40, 100));
        assert_ne!(made, OutlierExposure::new(8, 0.5).images(&digits(), 40, 99));
        for image in made.chunks_exact(IMAGE_PIXELS) {
            assert!(image.iter().filter(|&&p| p > 127).count() >= 8);
        }
        assert_eq!(OutlierExposure::count_for(64), 32);
        assert_eq!(OutlierExposure::count_for(1), 1);
    }

    #[test]
    fn letters_drawn_in_fonts_are_a_quarter_of_the_outliers_and_none_leaves_the_made_up_kinds_as_before()
     {
        let seed = 7;
        let made_up = OutlierExposure::new(seed, 0.35);
        // Three "letters", each a full 4-pixel-wide bar no made-up kind draws.
        let glyphs: Vec<[u8; IMAGE_PIXELS]> = (0..3)
            .map(|n| std::array::from_fn(|at| u8::from(at % IMAGE_SIDE / 4 == n + 1) * 255))
            .collect();
        let with_glyphs = made_up.clone().with_glyphs(Arc::new(glyphs.clone()));
        let made = with_glyphs.images(&digits(), 400, 99);
        let shown = made
            .chunks_exact(IMAGE_PIXELS)
            .filter(|image| glyphs.iter().any(|glyph| glyph.as_slice() == *image))
            .count();
        assert!((70..130).contains(&shown), "{shown} of 400 letters");
        assert_eq!(made, with_glyphs.images(&digits(), 400, 99));
        let without = made_up
            .clone()
            .with_glyphs(Arc::default())
            .images(&digits(), 400, 99);
        assert_eq!(without, made_up.images(&digits(), 400, 99));
        assert!(
            !without
                .chunks_exact(IMAGE_PIXELS)
                .any(|image| glyphs.iter().any(|glyph| glyph.as_slice() == image))
        );
    }

    #[test]
    fn a_squeezed_pair_holds_both_digits_at_half_their_width() {
        let digits = digits();
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..20 {
            let pair = squeezed_pair(&digits, &mut rng).unwrap();
            // Class c's bar at column 4 + 2c lands at column 2 + c in the left half, 16 + c in
            // the right one.
            let columns: Vec<usize> = (0..IMAGE_SIDE)
                .filter(|&x| pair[14 * IMAGE_SIDE + x] == 255)
                .collect();
            assert_eq!(columns.len(), 2, "{columns:?}");
            assert!((2..12).contains(&columns[0]) && (16..26).contains(&columns[1]));
        }
    }

    #[test]
    fn a_touching_pair_is_both_digits_at_their_own_size_fitted_and_centred_as_prepared() {
        // Each "digit" a block 8 wide and 16 tall: a pair is 13 to 16 wide (0 to 3 columns of
        // overlap), scaled by its height to 20 tall and 16 to 20 wide.
        let mut pixels = vec![0u8; 2 * IMAGE_PIXELS];
        for image in pixels.chunks_exact_mut(IMAGE_PIXELS) {
            for y in 6..22 {
                image[y * IMAGE_SIDE + 10..y * IMAGE_SIDE + 18].fill(255);
            }
        }
        let digits = LabelledImages::from_parts(pixels, vec![0, 1]).unwrap();
        let mut rng = StdRng::seed_from_u64(5);
        for _ in 0..20 {
            let pair = touching_pair(&digits, &mut rng).unwrap();
            let inked = |x: usize, y: usize| pair[y * IMAGE_SIDE + x] > 127;
            let rows = (0..IMAGE_SIDE).filter(|&y| (0..IMAGE_SIDE).any(|x| inked(x, y)));
            let columns = (0..IMAGE_SIDE).filter(|&x| (0..IMAGE_SIDE).any(|y| inked(x, y)));
            assert_eq!(rows.count(), 20);
            assert!((16..=20).contains(&columns.count()));
            let mass: f32 = pair.iter().map(|&p| f32::from(p)).sum();
            let centre_x: f32 = (pair.iter().enumerate())
                .map(|(at, &p)| f32::from(p) * (at % IMAGE_SIDE) as f32)
                .sum::<f32>()
                / mass;
            assert!((centre_x - 14.0).abs() <= 1.0, "{centre_x}");
        }
    }

    #[test]
    fn a_stroke_inks_its_line_and_nothing_far_from_it() {
        let mut canvas = Canvas::new();
        canvas.stroke((4.0, 14.5), (24.0, 14.5), 1.0);
        let pixels = canvas.into_pixels();
        assert_eq!(pixels[14 * IMAGE_SIDE + 10], 255);
        assert_eq!(pixels[10 * IMAGE_SIDE + 10], 0);
        assert!(pixels[..IMAGE_SIDE].iter().all(|&p| p == 0));
    }
}
