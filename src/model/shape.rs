//! Four shapes no digit has, tested on the model's 28×28 input (MNIST's layout: the ink fitted
//! into the central 20×20 box, its aspect kept): ink more than twice as wide as tall (a dash, an
//! underline, an equals sign's bar), ink too thick for a pen's stroke (a filled blot, a shadow,
//! a coloured shape), a separate mark inside a loop of the other ink (a face's eyes, a house's
//! window: a digit's loops hold paper), and ink that is only blots far apart (a scene's small
//! shapes, a stain's spots, a colon: a digit is drawn in strokes, and the pieces of a broken one
//! lie close). They need no training and no threshold fitted: they are what the shape of a
//! digit rules out. Of MNIST's 70,000 images 2 are that wide, 3 that thick, 4 hold such a mark
//! and none is only blots far apart (`docs/measurements.md`, "Shaped like no digit", "Blots");
//! a calibrated run of a digit dataset answers "not a digit" for such a region whatever the
//! model reads in it, and `calibrate` counts them in the share of held-out digits it may refuse
//! (`rejection::REFUSED_DIGITS_PERCENT`).

use image::{GrayImage, ImageBuffer, Luma};
use imageproc::distance_transform::euclidean_squared_distance_transform;
use imageproc::region_labelling::{Connectivity, connected_components};

use crate::data::{DatasetKind, IMAGE_PIXELS, IMAGE_SIDE};

/// Why a 28×28 input is shaped like no digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unlike {
    /// Its ink (every pixel above 0) spans more than [`WIDEST`] times as many columns as rows.
    Wide,
    /// Some pixel of its ink (at least half strength) lies farther than [`THICKEST`] pixels
    /// from the paper (every pixel below half strength, and all around the field).
    Filled,
    /// A piece of its ink (at least half strength, 8-connected), of at least [`SMALLEST_MARK`]
    /// pixels, lies inside a loop of the rest: no path of 4-connected pixels that are not the
    /// rest's ink leads from it to the field's edge.
    Enclosed,
    /// Two or more pieces of its ink (at least half strength, 8-connected) of at least
    /// [`SMALLEST_MARK`] pixels, each a blot (its box's longer side at most [`BLOT_LENGTH`] times
    /// its thickness, the farthest any of its pixels lies from the paper, and at most
    /// [`BIGGEST_BLOT`] pixels; no paper walled in by it) and each at least [`BLOTS_APART`]
    /// pixels from every other.
    Blots,
}

impl Unlike {
    /// The shape in words, for `infer`'s reason.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Wide => "its ink is more than twice as wide as tall",
            Self::Filled => "its ink is a filled shape, far thicker than a pen's stroke",
            Self::Enclosed => "it has a separate mark inside a loop of its ink, which no digit has",
            Self::Blots => "its ink is blots far apart, not a pen's strokes",
        }
    }
}

/// The widest a digit's ink is, as a multiple of its height: MNIST's widest are 2 (a flat 2, a
/// 7's bar); 2 of its 70,000 images are wider, none of its test split.
pub(crate) const WIDEST: f32 = 2.0;

/// The farthest, in pixels of the 28×28 field, an ink pixel of a digit lies from the paper: a
/// stroke 13 pixels wide, two thirds of the 20-pixel box, leaves no room for the loops and gaps
/// of any digit. 3 of MNIST's 70,000 images have ink farther in, none of its test split; a
/// bound of 5.5 (27 of them) also refused bold digits of the bench's scans and canvases.
pub(crate) const THICKEST: f32 = 6.0;

/// The fewest pixels of a mark [`Unlike::Enclosed`] counts: a speck of 1 or 2 pixels inside a
/// 0's loop is noise the preparation kept (22 of MNIST's 70,000 images hold only such).
pub(crate) const SMALLEST_MARK: usize = 3;

/// The longest a blot is, as a multiple of its thickness (the farthest of its pixels from the
/// paper): a round spot of diameter d is d / (d/2) = 2, a square one the same, a rectangle twice
/// as long as wide 4, a stroke 2 pixels thick and 10 long 10. 5 took bold printed 5s cut in two
/// at 28-48 pixels (a stencil's bridge, a streak across the print: their stem and bowl 4.2-5.0
/// times as long as thick, apart; 16 of a hostile try-out's 16,700 pictures); with 4 (and the
/// other bounds) none of MNIST's 70,000 images is only blots, nor any digit region of
/// `bench/real_pictures.py` (seeds 1 and 3) or of that try-out.
pub(crate) const BLOT_LENGTH: f32 = 4.0;

/// The longest side of a blot's box, in pixels: a digit's ink spans the 20-pixel box, and a
/// bold 6 or 9 whose loop filled in is shaped like a blot (2 of MNIST's images, each with a
/// stray speck apart from it, were taken without this bound) but not sized like one.
pub(crate) const BIGGEST_BLOT: f32 = 16.0;

/// The nearest two blots lie, in pixels (Euclidean, between pixel centres): the pieces of a
/// digit broken by a faint or dashed pen are closer. 4 would take low-resolution scans whose
/// thick strokes broke (a 6's loop filled and apart from its stem by 4 pixels).
pub(crate) const BLOTS_APART: f32 = 5.0;

/// Ink: a pixel of at least half strength.
const HALF: u8 = 128;

/// How `pixels` (784 bytes, 0 paper to 255 ink, row by row) is shaped like no digit, or `None`
/// when it may be one (also when it holds no ink).
pub(crate) fn unlike_a_digit(pixels: &[u8; IMAGE_PIXELS]) -> Option<Unlike> {
    if too_wide(pixels) {
        return Some(Unlike::Wide);
    }
    let ink = Ink::of(pixels);
    if too_thick(&ink) {
        Some(Unlike::Filled)
    } else if mark_inside_a_loop(&ink) {
        Some(Unlike::Enclosed)
    } else if blots_apart(&ink) {
        Some(Unlike::Blots)
    } else {
        None
    }
}

/// Whether a run of `dataset` refuses what is shaped like no digit: a dataset of digits, not
/// one of other classes (clothes may be wide, and filled).
pub(crate) fn applies_to(dataset: DatasetKind) -> bool {
    dataset.reads_numbers()
}

/// The four rules in words a runtime can follow on a region's 28×28 input (the ONNX metadata,
/// the safetensors JSON: `model::rejection::rules`).
pub(crate) fn in_words() -> String {
    format!(
        "a region whose input's ink (its pixels above 0) spans more than {WIDEST} times as many columns as rows, or has a pixel of at least 128/255 farther than {THICKEST} pixels (Euclidean) from every pixel below 128/255 and from the outside of the field, or holds a piece of ink (pixels of at least 128/255, 8-connected) of at least {SMALLEST_MARK} pixels from which no path of 4-connected pixels that are not the rest's ink reaches the field's edge, or whose pieces of ink of at least {SMALLEST_MARK} pixels are two or more, each with its box's longer side at most {BLOT_LENGTH} times the farthest (Euclidean) of its pixels from every pixel below 128/255 and from the outside of the field and at most {BIGGEST_BLOT} pixels, walling in no pixel (from every pixel not its own a 4-connected path of pixels not its own reaches the field's edge), and each at least {BLOTS_APART} pixels (Euclidean, between pixel centres) from every other"
    )
}

/// For each image of `pixels` (784 bytes each), whether a run of `dataset` refuses it for its
/// shape: all `false` where the rules do not apply ([`applies_to`]).
pub(crate) fn refused_for_shape(pixels: &[u8], dataset: DatasetKind) -> Vec<bool> {
    let images = pixels.chunks_exact(IMAGE_PIXELS);
    if !applies_to(dataset) {
        return vec![false; images.len()];
    }
    images
        .map(|image| {
            let image: &[u8; IMAGE_PIXELS] = image.try_into().expect("784 pixels");
            unlike_a_digit(image).is_some()
        })
        .collect()
}

/// Whether the box of every pixel above 0 is more than [`WIDEST`] times as wide as tall.
fn too_wide(pixels: &[u8; IMAGE_PIXELS]) -> bool {
    let mut rows = (usize::MAX, 0);
    let mut columns = (usize::MAX, 0);
    for (index, _) in pixels.iter().enumerate().filter(|(_, value)| **value > 0) {
        let (row, column) = (index / IMAGE_SIDE, index % IMAGE_SIDE);
        rows = (rows.0.min(row), rows.1.max(row));
        columns = (columns.0.min(column), columns.1.max(column));
    }
    if rows.0 == usize::MAX {
        return false;
    }
    let height = (rows.1 - rows.0 + 1) as f32;
    let width = (columns.1 - columns.0 + 1) as f32;
    width > WIDEST * height
}

/// The ink of a 28×28 input (at least half strength) in the 30×30 field of [`ringed`], its
/// pieces and distances measured once for the rules that look past its box.
struct Ink {
    /// Each pixel's piece of ink (8-connected), 0 the paper.
    pieces: ImageBuffer<Luma<u32>, Vec<u32>>,
    /// The pixels of each piece, by label (label 0, the paper, none).
    pixels: Vec<Vec<(u32, u32)>>,
    /// Each pixel's squared distance (Euclidean) from the nearest paper.
    from_paper: ImageBuffer<Luma<f64>, Vec<f64>>,
}

impl Ink {
    /// The ink of `pixels` (784 bytes, 0 paper to 255 ink), measured.
    fn of(pixels: &[u8; IMAGE_PIXELS]) -> Self {
        let ink = ringed(pixels, 0, |ink| if ink { 255 } else { 0 });
        let pieces = connected_components(&ink, Connectivity::Eight, Luma([0u8]));
        let mut by_label: Vec<Vec<(u32, u32)>> = vec![Vec::new()];
        for (x, y, label) in pieces.enumerate_pixels() {
            let label = label.0[0] as usize;
            if label > 0 {
                if label >= by_label.len() {
                    by_label.resize(label + 1, Vec::new());
                }
                by_label[label].push((x, y));
            }
        }
        let paper = ringed(pixels, 255, |ink| if ink { 0 } else { 255 });
        Self {
            pieces,
            pixels: by_label,
            from_paper: euclidean_squared_distance_transform(&paper),
        }
    }

    /// The labels of the pieces of at least [`SMALLEST_MARK`] pixels.
    fn marks(&self) -> impl Iterator<Item = usize> + '_ {
        (1..self.pixels.len()).filter(|&label| self.pixels[label].len() >= SMALLEST_MARK)
    }

    /// The field's 4-connected regions of pixels not in the pieces `wall` names (by label;
    /// those pixels 0), and the label of the region outside, which the ring around the field
    /// joins into one.
    fn regions_without(
        &self,
        wall: impl Fn(usize) -> bool,
    ) -> (ImageBuffer<Luma<u32>, Vec<u32>>, u32) {
        let open = GrayImage::from_fn(self.pieces.width(), self.pieces.height(), |x, y| {
            Luma([if wall(self.pieces.get_pixel(x, y).0[0] as usize) {
                0
            } else {
                255
            }])
        });
        let regions = connected_components(&open, Connectivity::Four, Luma([0u8]));
        let outside = regions.get_pixel(0, 0).0[0];
        (regions, outside)
    }
}

/// Whether some pixel of at least half strength has no pixel below half strength (nor the
/// field's outside) within [`THICKEST`] pixels, in Euclidean distance.
fn too_thick(ink: &Ink) -> bool {
    let farthest = f64::from(THICKEST * THICKEST);
    ink.from_paper
        .pixels()
        .any(|distance| distance.0[0] > farthest)
}

/// Whether a piece of ink of at least [`SMALLEST_MARK`] pixels lies inside a loop of the rest
/// of the ink (see [`Unlike::Enclosed`]).
fn mark_inside_a_loop(ink: &Ink) -> bool {
    // Label 0 is the paper; a mark needs another piece around it.
    ink.pixels.len() > 2
        && ink.marks().any(|mark| {
            // The rest's ink is the wall.
            let (regions, outside) = ink.regions_without(|label| label != 0 && label != mark);
            (ink.pixels[mark].iter()).all(|&(x, y)| regions.get_pixel(x, y).0[0] != outside)
        })
}

/// Whether the ink is only blots far apart (see [`Unlike::Blots`]).
fn blots_apart(ink: &Ink) -> bool {
    let marks: Vec<usize> = ink.marks().collect();
    // One blot alone may be a bold digit's core in a box stretched by faint stains or smudges
    // around it (a hostile try-out: 25 of 6,700 such pictures): not judged.
    marks.len() >= 2
        && marks.iter().all(|&mark| is_blot(ink, mark))
        && (marks.iter().enumerate()).all(|(at, &a)| {
            (marks[at + 1..].iter()).all(|&b| far_apart(&ink.pixels[a], &ink.pixels[b]))
        })
}

/// Whether piece `label` of `ink` is a blot (see [`Unlike::Blots`]).
fn is_blot(ink: &Ink, label: usize) -> bool {
    let piece = &ink.pixels[label];
    let span = |at: fn(&(u32, u32)) -> u32| {
        let (low, high) =
            (piece.iter().map(at)).fold((u32::MAX, 0), |(low, high), v| (low.min(v), high.max(v)));
        (high - low + 1) as f32
    };
    let longer = span(|p| p.0).max(span(|p| p.1));
    let thickness = (piece.iter())
        .map(|&(x, y)| ink.from_paper.get_pixel(x, y).0[0])
        .fold(0.0f64, f64::max)
        .sqrt() as f32;
    longer <= BLOT_LENGTH * thickness && longer <= BIGGEST_BLOT && !encloses_paper(ink, label)
}

/// Whether piece `label` of `ink` walls in some paper: a loop, which a pen draws, not a blot.
fn encloses_paper(ink: &Ink, label: usize) -> bool {
    let (regions, outside) = ink.regions_without(|other| other == label);
    regions
        .pixels()
        .any(|region| region.0[0] != 0 && region.0[0] != outside)
}

/// Whether the nearest pixels of `a` and `b` are at least [`BLOTS_APART`] apart.
fn far_apart(a: &[(u32, u32)], b: &[(u32, u32)]) -> bool {
    let nearest = (a.iter())
        .flat_map(|p| {
            b.iter()
                .map(move |q| p.0.abs_diff(q.0).pow(2) + p.1.abs_diff(q.1).pow(2))
        })
        .min()
        .unwrap_or(u32::MAX);
    nearest as f32 >= BLOTS_APART * BLOTS_APART
}

/// `pixels` as a picture 30×30, each pixel `level(ink)` (ink: at least half strength), in a
/// ring of `outside` one pixel wide: the field's outside, one paper.
fn ringed(pixels: &[u8; IMAGE_PIXELS], outside: u8, level: impl Fn(bool) -> u8) -> GrayImage {
    let side = IMAGE_SIDE as u32;
    GrayImage::from_fn(side + 2, side + 2, |x, y| {
        let inside = (1..=side).contains(&x) && (1..=side).contains(&y);
        Luma([if inside {
            level(pixels[((y - 1) * side + (x - 1)) as usize] >= HALF)
        } else {
            outside
        }])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A field with `ink` at the pixels where `inked(row, column)` holds.
    fn field(inked: impl Fn(usize, usize) -> bool) -> [u8; IMAGE_PIXELS] {
        std::array::from_fn(|index| {
            if inked(index / IMAGE_SIDE, index % IMAGE_SIDE) {
                255
            } else {
                0
            }
        })
    }

    #[test]
    fn a_dash_is_too_wide_and_a_filled_disc_too_thick() {
        // A dash as `infer` prepares one: 20 wide, 4 tall, in the middle.
        let dash = field(|row, column| (12..16).contains(&row) && (4..24).contains(&column));
        assert_eq!(unlike_a_digit(&dash), Some(Unlike::Wide));
        // A blot: a disc of radius 9 about the centre.
        let disc = field(|row, column| {
            let (dy, dx) = (row as f32 - 13.5, column as f32 - 13.5);
            dy * dy + dx * dx <= 81.0
        });
        assert_eq!(unlike_a_digit(&disc), Some(Unlike::Filled));
        // Its ring, a 0 drawn with a stroke 4 pixels wide, is a digit's shape.
        let ring = field(|row, column| {
            let (dy, dx) = (row as f32 - 13.5, column as f32 - 13.5);
            (25.0..=81.0).contains(&(dy * dy + dx * dx))
        });
        assert_eq!(unlike_a_digit(&ring), None);
        // The ring with two eyes of 2×2 inside, clear of it: a face.
        let face = field(|row, column| {
            let (dy, dx) = (row as f32 - 13.5, column as f32 - 13.5);
            (25.0..=81.0).contains(&(dy * dy + dx * dx))
                || ((11..13).contains(&row)
                    && ((11..13).contains(&column) || (15..17).contains(&column)))
        });
        assert_eq!(unlike_a_digit(&face), Some(Unlike::Enclosed));
        // A speck of 2 pixels in the 0's loop is noise, not a mark; nor is a mark outside it.
        let speck = field(|row, column| {
            let (dy, dx) = (row as f32 - 13.5, column as f32 - 13.5);
            (25.0..=81.0).contains(&(dy * dy + dx * dx))
                || (row == 13 && (13..15).contains(&column))
        });
        assert_eq!(unlike_a_digit(&speck), None);
        let beside = field(|row, column| {
            let (dy, dx) = (row as f32 - 13.5, column as f32 - 10.5);
            (25.0..=64.0).contains(&(dy * dy + dx * dx))
                || ((12..15).contains(&row) && (24..27).contains(&column))
        });
        assert_eq!(unlike_a_digit(&beside), None);
    }

    #[test]
    fn spots_far_apart_are_blots_and_a_broken_digit_is_not() {
        let disc = |(row, column): (f32, f32), radius: f32| {
            move |r: usize, c: usize| {
                let (dy, dx) = (r as f32 - row, c as f32 - column);
                dy * dy + dx * dx <= radius * radius
            }
        };
        // Rows 5 to 11 and 16 to 20: their nearest pixels 5 apart.
        let (upper, lower) = (disc((8.0, 13.5), 4.0), disc((18.0, 13.5), 2.5));
        // Two spots, and a speck the rule ignores.
        let spots = field(|r, c| upper(r, c) || lower(r, c) || (r == 24 && c == 4));
        assert_eq!(unlike_a_digit(&spots), Some(Unlike::Blots));
        // 4 pixels apart, as a faint or dashed pen breaks a stroke: not blots.
        let close = disc((17.0, 13.5), 2.5);
        assert_eq!(
            unlike_a_digit(&field(|r, c| upper(r, c) || close(r, c))),
            None
        );
        // A 6 whose short stem broke from its thick loop: the loop walls in paper, a pen's
        // stroke around it; the same with the loop filled in is two blots.
        let stem = |r: usize, c: usize| (5..9).contains(&r) && (12..14).contains(&c);
        let loop_ = |r: usize, c: usize| {
            let (dy, dx) = (r as f32 - 18.5, c as f32 - 13.5);
            (2.25..=30.25).contains(&(dy * dy + dx * dx))
        };
        let filled = disc((18.5, 13.5), 5.5);
        assert_eq!(
            unlike_a_digit(&field(|r, c| stem(r, c) || loop_(r, c))),
            None
        );
        assert_eq!(
            unlike_a_digit(&field(|r, c| stem(r, c) || filled(r, c))),
            Some(Unlike::Blots)
        );
        // A 4 drawn in two strokes, apart: strokes far longer than thick.
        let corner = |r: usize, c: usize| {
            (4..16).contains(&r) && (8..10).contains(&c)
                || (14..16).contains(&r) && (8..14).contains(&c)
        };
        let upright = |r: usize, c: usize| (4..24).contains(&r) && (19..21).contains(&c);
        assert_eq!(
            unlike_a_digit(&field(|r, c| corner(r, c) || upright(r, c))),
            None
        );
        // A bold 6 whose loop filled in, 18 pixels tall, with a stray speck of 3×3 apart from
        // it: shaped like a blot, sized like a digit. 14 tall, it is a blot.
        let bold = |height: f32| {
            move |r: usize, c: usize| {
                let (dy, dx) = ((r as f32 - 13.5) / (height / 2.0), (c as f32 - 11.0) / 4.5);
                dy * dy + dx * dx <= 1.0
            }
        };
        let speck = |r: usize, c: usize| (4..7).contains(&r) && (21..24).contains(&c);
        assert_eq!(
            unlike_a_digit(&field(|r, c| bold(18.0)(r, c) || speck(r, c))),
            None
        );
        assert_eq!(
            unlike_a_digit(&field(|r, c| bold(14.0)(r, c) || speck(r, c))),
            Some(Unlike::Blots)
        );
        // One blot alone is not judged: a bold digit's core, in a box stretched by a faint
        // stain beside it, is one.
        assert_eq!(unlike_a_digit(&field(upper)), None);
        assert_eq!(unlike_a_digit(&field(bold(14.0))), None);
    }

    #[test]
    fn the_bounds_are_where_a_digit_stops() {
        // Exactly twice as wide as tall: a digit may be (MNIST's flattest 2s).
        let flat = field(|row, column| {
            (10..20).contains(&row)
                && (4..24).contains(&column)
                && (row == 10 || row == 19 || column == 4)
        });
        assert!(!too_wide(&flat));
        let flatter = field(|row, column| {
            (10..19).contains(&row)
                && (4..24).contains(&column)
                && (row == 10 || row == 18 || column == 4)
        });
        assert!(too_wide(&flatter));
        // A bar 13 pixels wide: its middle is 7 pixels from the paper on each side (more than
        // 6); 12 wide, 6 from it.
        let bar = |width: usize| {
            field(move |row, column| (4..24).contains(&row) && (8..8 + width).contains(&column))
        };
        assert!(too_thick(&Ink::of(&bar(13))));
        assert!(!too_thick(&Ink::of(&bar(12))));
        // The field's edge is paper: a full field's centre is 14 pixels in.
        assert!(too_thick(&Ink::of(&[255; IMAGE_PIXELS])));
        // A bar 2 pixels wide (each pixel next to the paper: thickness 1) and 4 long is a
        // blot; 5 long, a stroke. Two of them, 5 pixels apart.
        let bars = |length: usize| {
            field(move |row, column| {
                (4..4 + length).contains(&row)
                    && ((8..10).contains(&column) || (15..17).contains(&column))
            })
        };
        assert!(blots_apart(&Ink::of(&bars(4))));
        assert!(!blots_apart(&Ink::of(&bars(5))));
        assert_eq!(unlike_a_digit(&[0; IMAGE_PIXELS]), None);
    }
}
