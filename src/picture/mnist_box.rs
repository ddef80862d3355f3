//! Step 5 of preparing a picture: ink strengths to MNIST's layout. MNIST's digits were
//! size-normalised into a 20×20 box, keeping their aspect ratio, and placed in a 28×28 field
//! with their centre of mass at its centre (LeCun et al., "The MNIST database"); their strokes
//! are about 2-3 pixels wide there, and most of their inked pixels near full strength.

use image::imageops::{self, FilterType};
use image::{GrayImage, Luma};
use imageproc::morphology::{Mask, grayscale_dilate};

use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};

/// The side of the box MNIST scaled each digit into, inside the 28×28 field.
const DIGIT_BOX: u32 = 20;
/// The side a digit's stroke width is judged at, before the last scaling to [`DIGIT_BOX`].
const JUDGE_BOX: u32 = 80;
/// A stroke at least this wide at [`JUDGE_BOX`] is MNIST's (about 2.2 pixels at 20); thinner
/// pen strokes are widened to it.
const STROKE_WIDTH: f32 = 9.0;
/// A pixel above this strength (of 255) is inked, for [`MNIST_MEDIAN_INK`].
const INKED: u8 = 25;
/// MNIST's strokes: the median strength of a test digit's inked pixels, the median over the
/// 10,000 test digits (t10k-images-idx3-ubyte; the 10th-90th percentiles are 191-253).
const MNIST_MEDIAN_INK: u32 = 229;
/// The share of the ink's mass cut from each side when cropping: a speck of dust far from the
/// digit does not stretch its box.
const TRIMMED_MASS: f64 = 0.002;

/// The digit in `ink` (strengths 0-255, any size) as MNIST's 784 pixels, row by row; `None`
/// when it holds no ink.
pub(super) fn into_field(ink: &GrayImage) -> Option<[u8; IMAGE_PIXELS]> {
    let (x, y, width, height) = ink_bounds(ink)?;
    let crop = imageops::crop_imm(ink, x, y, width, height).to_image();
    let judged = widened(&fitted(&crop, JUDGE_BOX));
    let digit = mnist_strength(fitted(&judged, DIGIT_BOX))?;
    placed_by_centre_of_mass(&digit)
}

/// `image` scaled so that its longest side is `side`, keeping the aspect ratio.
fn fitted(image: &GrayImage, side: u32) -> GrayImage {
    let (width, height) = image.dimensions();
    let scale = side as f32 / width.max(height) as f32;
    let length = |l: u32| ((l as f32 * scale).round() as u32).clamp(1, side);
    imageops::resize(image, length(width), length(height), FilterType::Triangle)
}

/// Strokes thinner than MNIST's widened to it. A stroke's width is its area over half its
/// outline (a long stroke of width w and length L has area wL and outline about 2L), counting
/// the pixels at least half inked.
fn widened(image: &GrayImage) -> GrayImage {
    let inked = |x: u32, y: u32| image.get_pixel(x, y).0[0] > 127;
    let (width, height) = image.dimensions();
    let (mut area, mut outline) = (0.0f32, 0usize);
    for (x, y, _) in image.enumerate_pixels().filter(|(x, y, _)| inked(*x, *y)) {
        area += 1.0;
        let edge = x == 0
            || y == 0
            || x + 1 == width
            || y + 1 == height
            || !inked(x - 1, y)
            || !inked(x + 1, y)
            || !inked(x, y - 1)
            || !inked(x, y + 1);
        outline += usize::from(edge);
    }
    let stroke = 2.0 * area / outline.max(1) as f32;
    let radius = ((STROKE_WIDTH - stroke) / 2.0).round();
    if outline == 0 || radius < 1.0 {
        return image.clone();
    }
    // Room to grow into, then cropped to the widened ink again.
    let margin = radius as u32;
    let mut padded = GrayImage::new(width + 2 * margin, height + 2 * margin);
    imageops::replace(&mut padded, image, i64::from(margin), i64::from(margin));
    let grown = grayscale_dilate(&padded, &Mask::disk(radius as u8));
    match ink_bounds(&grown) {
        Some((x, y, width, height)) => imageops::crop_imm(&grown, x, y, width, height).to_image(),
        None => grown,
    }
}

/// Strengths scaled as MNIST's: the strongest pixel at 255, then, when the median inked pixel
/// is fainter than MNIST's [`MNIST_MEDIAN_INK`], all raised by the same factor until it is not
/// (capped at 255). A low-resolution scan's strokes are mostly partly inked pixels: without this
/// they reach the model fainter and thinner than any MNIST digit (median 120-150 on
/// `bench/real_pictures.py`'s scans). `None` when nothing is left.
fn mnist_strength(mut image: GrayImage) -> Option<GrayImage> {
    let strongest = image.pixels().map(|p| p.0[0]).max().filter(|&s| s > 0)?;
    let scale = |image: &mut GrayImage, numerator: u32, denominator: u32| {
        for pixel in image.pixels_mut() {
            pixel.0[0] = (u32::from(pixel.0[0]) * numerator / denominator).min(255) as u8;
        }
    };
    scale(&mut image, 255, u32::from(strongest));
    // The strongest pixel is now inked: there is a median.
    let median = u32::from(median_inked(&image)?);
    if median < MNIST_MEDIAN_INK {
        scale(&mut image, MNIST_MEDIAN_INK, median);
    }
    Some(image)
}

/// The median strength of the pixels stronger than [`INKED`]; `None` when there are none.
fn median_inked(image: &GrayImage) -> Option<u8> {
    let mut inked: Vec<u8> = image
        .pixels()
        .map(|p| p.0[0])
        .filter(|&s| s > INKED)
        .collect();
    inked.sort_unstable();
    inked.get(inked.len() / 2).copied()
}

/// `digit` in a 28×28 field with its centre of mass at the field's centre; ink pushed past the
/// edge is dropped.
fn placed_by_centre_of_mass(digit: &GrayImage) -> Option<[u8; IMAGE_PIXELS]> {
    let (cx, cy) = centre_of_mass(digit)?;
    let centre = IMAGE_SIDE as f32 / 2.0;
    let (dx, dy) = ((centre - cx).round() as i64, (centre - cy).round() as i64);
    let mut field = [0u8; IMAGE_PIXELS];
    for (sx, sy, pixel) in digit.enumerate_pixels() {
        let (fx, fy) = (i64::from(sx) + dx, i64::from(sy) + dy);
        if (0..IMAGE_SIDE as i64).contains(&fx) && (0..IMAGE_SIDE as i64).contains(&fy) {
            field[fy as usize * IMAGE_SIDE + fx as usize] = pixel.0[0];
        }
    }
    Some(field)
}

/// `(x, y, width, height)` of the ink, less [`TRIMMED_MASS`] of its mass on each side.
fn ink_bounds(ink: &GrayImage) -> Option<(u32, u32, u32, u32)> {
    let (width, height) = ink.dimensions();
    let mut columns = vec![0f64; width as usize];
    let mut rows = vec![0f64; height as usize];
    for (x, y, pixel) in ink.enumerate_pixels() {
        columns[x as usize] += f64::from(pixel.0[0]);
        rows[y as usize] += f64::from(pixel.0[0]);
    }
    let (x0, x1) = trimmed_span(&columns)?;
    let (y0, y1) = trimmed_span(&rows)?;
    Some((x0, y0, x1 - x0 + 1, y1 - y0 + 1))
}

/// First and last index of `mass` once [`TRIMMED_MASS`] of the total is cut from each end.
fn trimmed_span(mass: &[f64]) -> Option<(u32, u32)> {
    let total: f64 = mass.iter().sum();
    if total <= 0.0 {
        return None;
    }
    let cut = total * TRIMMED_MASS;
    let first_past = |indices: &mut dyn Iterator<Item = usize>| {
        let mut seen = 0.0;
        for i in indices {
            seen += mass[i];
            if seen > cut {
                return Some(i);
            }
        }
        None
    };
    let first = first_past(&mut (0..mass.len()))?;
    let last = first_past(&mut (0..mass.len()).rev())?;
    Some((first as u32, last.max(first) as u32))
}

/// The ink-weighted centre of `image`, in pixel coordinates (pixel centres at +0.5).
pub(super) fn centre_of_mass(image: &GrayImage) -> Option<(f32, f32)> {
    let (mut mass, mut sx, mut sy) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y, Luma([weight])) in image.enumerate_pixels() {
        let weight = f64::from(*weight);
        mass += weight;
        sx += weight * (f64::from(x) + 0.5);
        sy += weight * (f64::from(y) + 0.5);
    }
    (mass > 0.0).then(|| ((sx / mass) as f32, (sy / mass) as f32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds_of(field: &[u8; IMAGE_PIXELS]) -> (usize, usize, usize, usize) {
        let ink: Vec<(usize, usize)> = (0..IMAGE_PIXELS)
            .filter(|&i| field[i] > 40)
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
    fn a_bar_fills_the_20_pixel_box_keeping_its_aspect() {
        let ink = GrayImage::from_fn(300, 200, |x, y| {
            Luma([if (10..40).contains(&x) && (10..130).contains(&y) {
                255
            } else {
                0
            }])
        });
        let field = into_field(&ink).unwrap();
        let (x0, y0, x1, y1) = bounds_of(&field);
        assert!(
            (19..=21).contains(&(y1 - y0 + 1)),
            "longest side 20: {y0}..{y1}"
        );
        assert!((4..=7).contains(&(x1 - x0 + 1)), "aspect kept: {x0}..{x1}");
        assert_eq!(field.iter().max(), Some(&255), "full strength");
    }

    #[test]
    fn the_centre_of_mass_not_the_box_is_centred() {
        // An L: a heavy foot pulls the centre of mass down and right of the box's centre.
        let ink = GrayImage::from_fn(100, 100, |x, y| {
            let stem = (10..25).contains(&x) && (10..90).contains(&y);
            let foot = (10..90).contains(&x) && (70..90).contains(&y);
            Luma([if stem || foot { 255 } else { 0 }])
        });
        let field = into_field(&ink).unwrap();
        let mass: f64 = field.iter().map(|&v| f64::from(v)).sum();
        let centre = |axis: fn(usize) -> usize| {
            (0..IMAGE_PIXELS)
                .map(|i| f64::from(field[i]) * (axis(i) as f64 + 0.5))
                .sum::<f64>()
                / mass
        };
        let (cx, cy) = (centre(|i| i % IMAGE_SIDE), centre(|i| i / IMAGE_SIDE));
        assert!(
            (cx - 14.0).abs() <= 0.75 && (cy - 14.0).abs() <= 0.75,
            "{cx} {cy}"
        );
        let (x0, y0, x1, y1) = bounds_of(&field);
        let box_centre = ((x0 + x1 + 1) as f64 / 2.0, (y0 + y1 + 1) as f64 / 2.0);
        // The mass lies left of the box's middle (the stem) and below it (the foot).
        assert!(
            box_centre.0 > 15.0 && box_centre.1 < 13.0,
            "box right and up: {box_centre:?}"
        );
    }

    #[test]
    fn a_thin_pen_stroke_is_widened_to_mnists() {
        let ink = GrayImage::from_fn(400, 400, |x, y| {
            Luma([if (199..201).contains(&x) && (20..380).contains(&y) {
                255
            } else {
                0
            }])
        });
        let field = into_field(&ink).unwrap();
        let row: Vec<u8> = field[14 * IMAGE_SIDE..15 * IMAGE_SIDE].to_vec();
        let wide = row.iter().filter(|&&v| v > 100).count();
        assert!((2..=4).contains(&wide), "{row:?}");
    }

    #[test]
    fn faint_strokes_are_raised_to_mnists_strength_and_strong_ones_kept() {
        let median = |image: &GrayImage| median_inked(image).unwrap();
        // A scan's stroke: one full-strength pixel, the rest partly inked.
        let faint = GrayImage::from_fn(20, 20, |x, y| {
            Luma([match (x, y) {
                (10, 10) => 200,
                (8..=12, 2..=18) => 90,
                _ => 0,
            }])
        });
        let raised = mnist_strength(faint).unwrap();
        assert_eq!(raised.get_pixel(10, 10).0[0], 255);
        assert_eq!(raised.get_pixel(0, 0).0[0], 0, "paper stays paper");
        assert!(
            u32::from(median(&raised)) >= MNIST_MEDIAN_INK - 1,
            "{}",
            median(&raised)
        );
        // MNIST's own strokes are already that strong: only the strongest is set to 255.
        let strong = GrayImage::from_fn(20, 20, |x, _| {
            Luma([if (8..12).contains(&x) { 250 } else { 0 }])
        });
        assert_eq!(mnist_strength(strong).unwrap().get_pixel(9, 9).0[0], 255);
        let blank = GrayImage::new(20, 20);
        assert!(mnist_strength(blank).is_none());
    }

    #[test]
    fn a_speck_far_away_does_not_stretch_the_box() {
        let ink = GrayImage::from_fn(300, 300, |x, y| {
            let bar = (100..130).contains(&x) && (50..250).contains(&y);
            let speck = x == 290 && y == 5;
            Luma([if bar || speck { 255 } else { 0 }])
        });
        let (_, _, x1, y1) = bounds_of(&into_field(&ink).unwrap());
        assert!(x1 < 20 && y1 > 20, "the bar alone fills the box: {x1} {y1}");
    }
}
