//! Step 4 of preparing a picture: how much ink each pixel holds, 0 (paper) to 255 (a stroke's
//! core), whatever the picture's colours, transparency and lighting.
//!
//! Transparent pixels are laid on a background that contrasts with the opaque ones (white
//! strokes on a transparent canvas stay visible). Dark ink on light paper and light ink on a
//! dark ground are told apart by which side of the paper's grey level (the median) reaches
//! farther, unless the picture's corners show lighter paper (a digit cut out to its ink, the
//! median then ink). The paper's own brightness is estimated everywhere (a smooth surface fitted
//! under the ink, `paper.rs`) and divided out, so shading and light falling off across a photo do
//! not count as ink; Otsu's threshold then separates ink from paper, and specks, and ink
//! touching the edges when the digit lies inside (the page's edge, a table), are dropped. A
//! picture whose ink reaches all four edges (cut tight to its ink, or a texture filling it) is
//! read again with paper around it, so that none of its ink is taken for the page's edge.

use std::collections::{HashMap, HashSet};

use image::imageops::{self, FilterType};
use image::{DynamicImage, GrayImage, Luma};
use imageproc::contrast::otsu_level;

use super::page;
use super::paper::PaperSurface;
use imageproc::region_labelling::{Connectivity, connected_components};

/// The darkest paper contrast is measured against (0-255): ink on paper darker than this is too
/// faint to tell from noise, and an all-black picture holds no ink.
const DARKEST_PAPER: f64 = 64.0;
/// Pieces of ink holding less than this share of it are specks, not strokes.
const SPECK_SHARE: f64 = 0.01;
/// The share of the ink that must lie away from the picture's edges for the ink touching them
/// to count as clutter.
const INTERIOR_SHARE: f64 = 0.25;
/// Longest side the ink is measured at: a 12-megapixel photo needs no more for a 28×28 digit.
pub(super) const WORK_SIDE: u32 = 320;
/// Longest side the paper's brightness is estimated at (`paper.rs`): it varies slowly.
const PAPER_SIDE: u32 = 64;
/// Below this contrast with the paper around it (a fraction of the paper's brightness) nothing
/// counts as ink: JPEG ringing, sensor noise, a faint shadow.
const MIN_CONTRAST: f32 = 0.15;

/// Ink strength per pixel, at most [`WORK_SIDE`] on a side.
pub(super) struct Ink {
    /// 0 paper to 255 a stroke's core.
    pub(super) strengths: GrayImage,
    /// Where the picture as measured (at most [`WORK_SIDE`] on a side) has its top-left
    /// corner in `strengths`, in ink pixels: right and down of it where paper was added around
    /// (`with_paper_around`, [`with_margin_of_paper`]), left and up of it where a page was cut
    /// out of it (`page.rs`).
    pub(super) origin: (i64, i64),
    /// The size of the picture as measured.
    pub(super) measured: (u32, u32),
}

/// The picture's ink; `None` when nothing in the picture stands out from the paper.
pub(super) fn ink(picture: &DynamicImage) -> Option<Ink> {
    // Scaled down first: a large picture's full-size copies would cost memory, not accuracy.
    let (width, height) = (picture.width(), picture.height());
    let mut grey = if width.max(height) > WORK_SIDE {
        flattened(&picture.resize(WORK_SIDE, WORK_SIDE, FilterType::Triangle))
    } else {
        flattened(picture)
    };
    let measured = grey.dimensions();
    let mut origin = (0, 0);
    if let Some((page, (left, top))) = page::on_the_page(&grey) {
        grey = page;
        origin = (-i64::from(left), -i64::from(top));
    }
    if light_ink_on_dark(&grey) {
        imageops::invert(&mut grey);
    }
    let (grey, (left, top)) = with_paper_around(grey);
    let origin = (origin.0 + i64::from(left), origin.1 + i64::from(top));
    let strengths = strengths(&grey)?;
    if !cropped_to_its_ink(&strengths) {
        return Some(Ink {
            strengths: without_clutter(strengths),
            origin,
            measured,
        });
    }
    let (grey, added) = with_margin_of_paper(grey);
    Some(Ink {
        strengths: without_clutter(self::strengths(&grey)?),
        origin: (origin.0 + i64::from(added), origin.1 + i64::from(added)),
        measured,
    })
}

/// Each pixel's ink strength in `grey` (dark ink on light paper), 0 paper to 255 a stroke's
/// core; `None` when nothing stands out from the paper.
fn strengths(grey: &GrayImage) -> Option<GrayImage> {
    let contrast = contrast_with_paper(grey);
    let levels: Vec<u8> = contrast.pixels().map(|p| p.0[0]).collect();
    let strongest = percentile(&levels, 0.999);
    if f32::from(strongest) < MIN_CONTRAST * 255.0 {
        return None;
    }
    // Otsu on the picture's own contrasts; never below the noise floor.
    let threshold = otsu_level(&contrast).max((MIN_CONTRAST * 255.0) as u8);
    let strokes: Vec<u8> = levels.iter().copied().filter(|&c| c >= threshold).collect();
    let core = percentile(&strokes, 0.9).max(threshold);
    // Faint pixels well below the threshold are paper; the rest keep their share of the
    // strokes' core, as MNIST's anti-aliased edges do.
    let floor = threshold / 3;
    Some(GrayImage::from_fn(
        contrast.width(),
        contrast.height(),
        |x, y| {
            let level = contrast.get_pixel(x, y).0[0];
            let strength = if level < floor {
                0.0
            } else {
                (f32::from(level) / f32::from(core)).min(1.0)
            };
            Luma([(strength * 255.0).round() as u8])
        },
    ))
}

/// Whether the ink reaches all four edges of the picture (at least half a stroke's core strong
/// on each): a digit cut tight to its ink, or a texture filling the picture. Such a picture is
/// read with paper added around it ([`with_margin_of_paper`]): its ink on the edges is the
/// digit's, or the texture's, not the page's edge or a table beside it. Found on the bench's
/// noise (`bench/real_pictures.py`): with the edges' dots dropped as clutter, the dots inside
/// were read as digits.
fn cropped_to_its_ink(strengths: &GrayImage) -> bool {
    let (width, height) = strengths.dimensions();
    if width < 3 || height < 3 {
        return false;
    }
    let strong = |x: u32, y: u32| strengths.get_pixel(x, y).0[0] >= 128;
    (0..width).any(|x| strong(x, 0))
        && (0..width).any(|x| strong(x, height - 1))
        && (0..height).any(|y| strong(0, y))
        && (0..height).any(|y| strong(width - 1, y))
}

/// Paper added on each side of a picture cut tight to its ink, a share of its longer side.
const TIGHT_MARGIN: f32 = 0.25;

/// `grey` with paper at its brightest pixel's level added on every side ([`TIGHT_MARGIN`]), and
/// the margin added on each side.
fn with_margin_of_paper(grey: GrayImage) -> (GrayImage, u32) {
    let (width, height) = grey.dimensions();
    let margin = (width.max(height) as f32 * TIGHT_MARGIN).round() as u32;
    let brightest = grey.pixels().map(|p| p.0[0]).max().unwrap_or(255);
    (surrounded(&grey, (margin, margin), brightest), margin)
}

/// `grey` with paper of grey level `level` added around it: `left` columns on each side,
/// `top` rows above and below.
fn surrounded(grey: &GrayImage, (left, top): (u32, u32), level: u8) -> GrayImage {
    let (width, height) = grey.dimensions();
    let mut padded = GrayImage::from_pixel(width + 2 * left, height + 2 * top, Luma([level]));
    imageops::overlay(&mut padded, grey, i64::from(left), i64::from(top));
    padded
}

/// Narrowest side the paper's brightness can be estimated on: its quadratic surface
/// (`paper.rs`) fits any three columns exactly, a stroke among them included (a 3x300 picture
/// of a black stroke was "blank").
const MIN_PAPER_SIDE: u32 = 16;

/// `grey` (dark ink on light paper) with white paper added around it up to
/// [`MIN_PAPER_SIDE`] on each side, when it is narrower and not of one level (which holds no
/// ink either way), and the margin added on the left and at the top. The ink is cropped to
/// later, so the margin changes nothing else.
fn with_paper_around(grey: GrayImage) -> (GrayImage, (u32, u32)) {
    let (width, height) = grey.dimensions();
    let levels = grey.pixels().map(|p| p.0[0]);
    let spread = levels.clone().max().unwrap_or(0) - levels.min().unwrap_or(0);
    if width.min(height) >= MIN_PAPER_SIDE || f32::from(spread) < MIN_CONTRAST * 255.0 {
        return (grey, (0, 0));
    }
    let margin = |side: u32| MIN_PAPER_SIDE.saturating_sub(side).div_ceil(2);
    let (left, top) = (margin(width), margin(height));
    (surrounded(&grey, (left, top), 255), (left, top))
}

/// The ink without clutter: specks (pieces holding less than [`SPECK_SHARE`] of the ink: dust,
/// JPEG ringing, paper texture), and what touches the picture's edge when the picture also has
/// ink away from its edges (at least [`INTERIOR_SHARE`] of it): there, what touches the edge is
/// the page's edge, a table or a shadow in the corner, not the digit (as scikit-image's
/// `clear_border`). A digit drawn against the edge of a canvas, with nothing else, is kept.
fn without_clutter(mut ink: GrayImage) -> GrayImage {
    let (width, height) = ink.dimensions();
    if width < 3 || height < 3 {
        // imageproc's labelling panics on some single-pixel pictures; nothing to clear there.
        return ink;
    }
    // Components of equal values: any ink is one value here.
    let inked = GrayImage::from_fn(width, height, |x, y| {
        Luma([if ink.get_pixel(x, y).0[0] > 0 { 255 } else { 0 }])
    });
    let labels = connected_components(&inked, Connectivity::Eight, Luma([0u8]));
    let mut masses: HashMap<u32, (f64, bool)> = HashMap::new();
    for ((x, y, label), pixel) in labels.enumerate_pixels().zip(ink.pixels()) {
        let on_edge = x == 0 || y == 0 || x + 1 == width || y + 1 == height;
        let entry = masses.entry(label.0[0]).or_default();
        entry.0 += f64::from(pixel.0[0]);
        entry.1 |= on_edge;
    }
    masses.remove(&0);
    let total: f64 = masses.values().map(|(mass, _)| mass).sum();
    let interior: f64 = masses
        .values()
        .filter(|(_, edge)| !edge)
        .map(|(mass, _)| mass)
        .sum();
    let clear_edges = interior >= INTERIOR_SHARE * total;
    let dropped: HashSet<u32> = masses
        .iter()
        .filter(|(_, (mass, edge))| *mass < SPECK_SHARE * total || (*edge && clear_edges))
        .map(|(label, _)| *label)
        .collect();
    for (label, pixel) in labels.pixels().zip(ink.pixels_mut()) {
        if dropped.contains(&label.0[0]) {
            pixel.0[0] = 0;
        }
    }
    ink
}

/// Grey levels of `picture` (luma, 0 black to 255 white), its transparent pixels laid on white
/// if the opaque ones are dark, on black if they are light.
fn flattened(picture: &DynamicImage) -> GrayImage {
    if !picture.color().has_alpha() {
        return picture.to_luma8();
    }
    let rgba = picture.to_rgba8();
    let luma =
        |[r, g, b, _]: [u8; 4]| 0.299 * f32::from(r) + 0.587 * f32::from(g) + 0.114 * f32::from(b);
    let (mut weight, mut sum) = (0.0f64, 0.0f64);
    for pixel in rgba.pixels() {
        let alpha = f64::from(pixel.0[3]) / 255.0;
        weight += alpha;
        sum += alpha * f64::from(luma(pixel.0));
    }
    let background = if weight > 0.0 && sum / weight > 127.5 {
        0.0
    } else {
        255.0
    };
    GrayImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let pixel = rgba.get_pixel(x, y).0;
        let alpha = f32::from(pixel[3]) / 255.0;
        Luma([(luma(pixel) * alpha + background * (1.0 - alpha)).round() as u8])
    })
}

/// Whether the ink is lighter than the paper: the paper is the most common grey (the median),
/// and the ink lies on the side of it that reaches farther, unless the picture's corners show a
/// ground lighter than that ([`lighter_corners`]).
fn light_ink_on_dark(grey: &GrayImage) -> bool {
    let levels: Vec<u8> = grey.pixels().map(|p| p.0[0]).collect();
    let paper = i32::from(percentile(&levels, 0.5));
    // A thin digit on a large canvas inks well under 1% of it: the tails are taken at 0.1%.
    let darkest = i32::from(percentile(&levels, 0.001));
    let lightest = i32::from(percentile(&levels, 0.999));
    lightest - paper > paper - darkest
        && !lighter_corners(grey, paper + (lightest - paper) / LIGHTER_CORNER)
}

/// A corner counts as lighter than the median from a quarter (1 / this) of the way from the
/// median to the lightest grey: more than a dark ground's noise.
const LIGHTER_CORNER: i32 = 4;

/// Whether at least three of the picture's four corner pixels are lighter than `level`. The
/// ground shows in a picture's corners (a digit is rounder than its box); when they are lighter
/// than the median, the median is not the ground but ink covering half the picture or more, as
/// in a digit cut out to its ink, and that ink is dark. 27 of 200 of scikit-learn's digits, cut
/// out so and enlarged smoothly, were taken for light ink on a dark ground: their paper was read
/// as ink.
fn lighter_corners(grey: &GrayImage, level: i32) -> bool {
    let (right, bottom) = (
        grey.width().saturating_sub(1),
        grey.height().saturating_sub(1),
    );
    [(0, 0), (right, 0), (0, bottom), (right, bottom)]
        .iter()
        .filter(|&&(x, y)| i32::from(grey.get_pixel(x, y).0[0]) > level)
        .count()
        >= 3
}

/// How much darker than the paper under it each pixel is, as a fraction of the paper's
/// brightness (0 paper, 255 black on white).
fn contrast_with_paper(grey: &GrayImage) -> GrayImage {
    let (width, height) = grey.dimensions();
    let scale = PAPER_SIDE as f32 / width.max(height) as f32;
    let side = |length: u32| ((length as f32 * scale).round() as u32).max(1);
    let small = imageops::resize(grey, side(width), side(height), FilterType::Triangle);
    let paper = PaperSurface::fit(&small);
    // No paper is brighter than the picture's brightest pixel: where the quadratic overshoots
    // it (bent down by a large dark shape, it rises at the far edges), white paper counted as
    // faint ink (a bar touching the top edge gave two phantom 1s at the sides). A cap above
    // it (15%) left them: pixels of a third of Otsu's threshold still count as faint ink.
    let brightest = f64::from(grey.pixels().map(|p| p.0[0]).max().unwrap_or(255));
    let (to_small_x, to_small_y) = (
        f64::from(small.width()) / f64::from(width),
        f64::from(small.height()) / f64::from(height),
    );
    GrayImage::from_fn(width, height, |x, y| {
        let level = f64::from(grey.get_pixel(x, y).0[0]);
        let under = paper
            .at(
                (f64::from(x) + 0.5) * to_small_x - 0.5,
                (f64::from(y) + 0.5) * to_small_y - 0.5,
            )
            .min(brightest);
        // Against paper darker than a quarter of white, differences count as against that
        // quarter: a deep shadow's noise is not ink, and an all-black picture holds none.
        let under = under.max(level);
        Luma([((under - level) / under.max(DARKEST_PAPER) * 255.0).round() as u8])
    })
}

/// The value below which a `fraction` of `levels` lie (0 for none).
fn percentile(levels: &[u8], fraction: f64) -> u8 {
    let mut counts = [0usize; 256];
    for &level in levels {
        counts[usize::from(level)] += 1;
    }
    let wanted = (levels.len() as f64 * fraction).ceil() as usize;
    let mut seen = 0;
    for (level, count) in counts.iter().enumerate() {
        seen += count;
        if seen >= wanted.max(1) {
            return level as u8;
        }
    }
    255
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgba, RgbaImage};

    /// A bar of `ink` on `paper`, both grey levels, with the light falling off to the right by
    /// `falloff` (0: evenly lit, 0.6: the right edge at 40% of the left's light).
    fn page(paper: f32, ink: f32, falloff: f32) -> DynamicImage {
        DynamicImage::ImageLuma8(GrayImage::from_fn(200, 200, |x, y| {
            let light = 1.0 - falloff * x as f32 / 199.0;
            let on_bar = (90..110).contains(&x) && (40..160).contains(&y);
            Luma([((if on_bar { ink } else { paper }) * light).round() as u8])
        }))
    }

    /// The ink strength at the measured picture's pixel (x, y), wherever it lies in `found`.
    fn in_picture(found: &Ink, x: i64, y: i64) -> u8 {
        let (left, top) = found.origin;
        found
            .strengths
            .get_pixel((x + left) as u32, (y + top) as u32)
            .0[0]
    }

    fn ink_at(ink: &GrayImage, x: u32, y: u32) -> u8 {
        ink.get_pixel(x * ink.width() / 200, y * ink.height() / 200)
            .0[0]
    }

    #[test]
    fn grey_paper_and_falling_light_are_not_ink() {
        for (paper, ink_level, falloff) in
            [(250.0, 20.0, 0.0), (160.0, 40.0, 0.0), (230.0, 60.0, 0.6)]
        {
            let found = ink(&page(paper, ink_level, falloff)).unwrap().strengths;
            assert!(ink_at(&found, 100, 100) > 200, "the bar, {paper} {falloff}");
            for (x, y) in [(10, 10), (190, 190), (190, 10), (60, 100), (150, 100)] {
                assert_eq!(
                    ink_at(&found, x, y),
                    0,
                    "paper at {x},{y}: {paper} {falloff}"
                );
            }
        }
    }

    #[test]
    fn a_large_dark_shape_against_the_top_edge_leaves_the_paper_beside_it_paper() {
        // A bar 80 of 300 pixels wide from the top edge down, on white: the paper's quadratic
        // bends down under it and rose above white at the sides, where two faint "1"s appeared.
        let picture = GrayImage::from_fn(300, 300, |x, y| {
            Luma([if (110..190).contains(&x) && y < 251 {
                0
            } else {
                255
            }])
        });
        let found = ink(&DynamicImage::ImageLuma8(picture)).unwrap().strengths;
        assert!(ink_at(&found, 100, 80) > 200, "the bar");
        for x in 0..found.width() {
            for y in 0..found.height() {
                let column = x * 300 / found.width();
                if !(100..200).contains(&column) {
                    assert_eq!(found.get_pixel(x, y).0[0], 0, "paper at {x},{y}");
                }
            }
        }
    }

    #[test]
    fn the_pages_edge_is_not_ink_when_a_digit_is_inside() {
        // A bar inside, and a dark band along the bottom edge (the table under the page).
        let photo = GrayImage::from_fn(200, 200, |x, y| {
            let bar = (90..110).contains(&x) && (40..160).contains(&y);
            Luma([if bar || y >= 190 { 30 } else { 220 }])
        });
        let found = ink(&DynamicImage::ImageLuma8(photo)).unwrap().strengths;
        assert!(ink_at(&found, 100, 100) > 200);
        assert_eq!(ink_at(&found, 50, 195), 0, "the edge band");
        // Alone against the edge, a stroke is the digit.
        let drawing = GrayImage::from_fn(200, 200, |x, _| Luma([if x < 20 { 30 } else { 220 }]));
        let found = ink(&DynamicImage::ImageLuma8(drawing)).unwrap().strengths;
        assert!(ink_at(&found, 10, 100) > 200);
    }

    #[test]
    fn specks_around_the_digit_are_not_ink() {
        let page = GrayImage::from_fn(200, 200, |x, y| {
            let bar = (90..110).contains(&x) && (40..160).contains(&y);
            let speck = (x, y) == (20, 20) || (x, y) == (180, 30);
            Luma([if bar || speck { 30 } else { 220 }])
        });
        let found = ink(&DynamicImage::ImageLuma8(page)).unwrap().strengths;
        assert!(ink_at(&found, 100, 100) > 200);
        assert_eq!(ink_at(&found, 20, 20), 0);
        assert_eq!(ink_at(&found, 180, 30), 0);
    }

    #[test]
    fn a_thin_light_stroke_on_a_large_dark_canvas_is_ink() {
        // 0.5% of the pixels inked: fewer than the 1% tail a coarser test would look at.
        let canvas = GrayImage::from_fn(200, 200, |x, y| {
            Luma([
                if x == 100 && (50..150).contains(&y) || x == 101 && (50..150).contains(&y) {
                    255
                } else {
                    0
                },
            ])
        });
        let found = ink(&DynamicImage::ImageLuma8(canvas)).unwrap().strengths;
        assert!(ink_at(&found, 100, 100) > 200);
    }

    #[test]
    fn a_digit_covering_most_of_its_picture_is_dark_ink_when_the_corners_are_paper() {
        // A bold 0 cut out to its ink: the ring covers three quarters of the picture, so the
        // median grey is ink; the corners and the hole are paper.
        let zero = GrayImage::from_fn(40, 40, |x, y| {
            let radius = (x as f32 - 19.5).hypot(y as f32 - 19.5);
            Luma([if (6.0..20.5).contains(&radius) {
                40
            } else {
                235
            }])
        });
        let found = ink(&DynamicImage::ImageLuma8(zero)).unwrap();
        // Cut tight to its ink, the ring is read with paper around it: the picture starts there.
        assert!(
            found.origin.0 > 0 && found.origin.1 > 0,
            "paper added around a tight crop"
        );
        let at = |x, y| in_picture(&found, x, y);
        assert!(at(19, 6) > 200, "the ring");
        for (x, y) in [(0, 0), (39, 0), (0, 39), (39, 39), (19, 19)] {
            assert_eq!(at(x, y), 0, "paper at {x},{y}");
        }
    }

    #[test]
    fn ink_reaching_every_edge_is_kept_not_taken_for_the_pages_edge() {
        // A texture filling the picture (dots every 40 pixels, cut by the edges): the dots on
        // the edges are part of it, not a table beside the page. Taken for clutter, they left
        // the inner dots to be read as digits.
        let texture = GrayImage::from_fn(160, 160, |x, y| {
            let near = |at: u32| (at + 10) % 40 < 20;
            Luma([if near(x) && near(y) { 30 } else { 220 }])
        });
        let found = ink(&DynamicImage::ImageLuma8(texture)).unwrap();
        let at = |x, y| in_picture(&found, x, y);
        assert!(at(0, 0) > 200, "the dot in the corner");
        assert!(at(80, 0) > 200, "a dot on the top edge");
        assert!(at(80, 80) > 200, "a dot inside");
        // A bar inside a page with the table along one edge only is not such a picture
        // (`the_pages_edge_is_not_ink_when_a_digit_is_inside`).
    }

    #[test]
    fn light_ink_on_a_dark_ground_is_ink() {
        let found = ink(&page(10.0, 240.0, 0.0)).unwrap().strengths;
        assert!(ink_at(&found, 100, 100) > 200);
        assert_eq!(ink_at(&found, 10, 10), 0);
    }

    #[test]
    fn white_strokes_on_a_transparent_canvas_are_ink() {
        for stroke in [[255, 255, 255, 255], [0, 0, 0, 255]] {
            let canvas = RgbaImage::from_fn(100, 100, |x, y| {
                if (40..60).contains(&x) && (20..80).contains(&y) {
                    Rgba(stroke)
                } else {
                    Rgba([0, 0, 0, 0])
                }
            });
            let found = ink(&DynamicImage::ImageRgba8(canvas)).unwrap().strengths;
            assert!(found.get_pixel(50, 50).0[0] > 200, "{stroke:?}");
            assert_eq!(found.get_pixel(5, 5).0[0], 0, "{stroke:?}");
        }
    }

    #[test]
    fn an_all_black_or_tiny_picture_is_blank_or_read_without_a_panic() {
        for side in [1, 2, 3, 50] {
            for level in [0, 6, 255] {
                let picture =
                    DynamicImage::ImageLuma8(GrayImage::from_pixel(side, side, Luma([level])));
                assert!(ink(&picture).is_none(), "{side}x{side} of {level}");
            }
        }
    }

    #[test]
    fn a_stroke_in_a_picture_a_few_pixels_across_is_ink() {
        for (width, height) in [(3, 300), (300, 3), (5, 40)] {
            let stroke = GrayImage::from_fn(width, height, |x, y| {
                let middle = if width < height {
                    x == width / 2
                } else {
                    y == height / 2
                };
                Luma([if middle { 0 } else { 255 }])
            });
            let found = ink(&DynamicImage::ImageLuma8(stroke));
            let inked = found.map_or(0, |ink| {
                ink.strengths.pixels().filter(|p| p.0[0] > 128).count()
            });
            assert!(inked >= 30, "{width}x{height}: {inked} inked pixels");
        }
    }

    #[test]
    fn a_page_without_ink_is_blank() {
        assert!(ink(&page(200.0, 200.0, 0.0)).is_none());
        assert!(ink(&page(230.0, 230.0, 0.3)).is_none(), "shading alone");
        let transparent = RgbaImage::from_pixel(30, 30, Rgba([0, 0, 0, 0]));
        assert!(ink(&DynamicImage::ImageRgba8(transparent)).is_none());
    }
}
