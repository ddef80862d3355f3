//! Two shapes no digit has, tested on the model's 28×28 input (MNIST's layout: the ink fitted
//! into the central 20×20 box, its aspect kept): ink more than twice as wide as tall (a dash, an
//! underline, an equals sign's bar), and ink too thick for a pen's stroke (a filled blot, a
//! shadow, a coloured shape). Both need no training and no threshold fitted: they are what the
//! layout of a digit rules out. Of MNIST's 70,000 images 2 are that wide and 3 that thick
//! (`docs/measurements.md`, "Shaped like no digit"); a calibrated run of a digit dataset answers
//! "not a digit" for such a region whatever the model reads in it, and `calibrate` counts them
//! in the 1% of held-out digits it may refuse.

use crate::data::{DatasetKind, IMAGE_PIXELS, IMAGE_SIDE};

/// Why a 28×28 input is shaped like no digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unlike {
    /// Its ink (every pixel above 0) is more than [`WIDEST`] times as wide as tall.
    Wide,
    /// Some pixel of its ink (at least half strength) lies farther than [`THICKEST`] pixels
    /// from the paper (every pixel below half strength, and all around the field).
    Filled,
}

impl Unlike {
    /// The shape in words, for `infer`'s reason.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Wide => "its ink more than twice as wide as tall",
            Self::Filled => "its ink a filled shape, far thicker than a pen's stroke",
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

/// How `pixels` (784 bytes, 0 paper to 255 ink, row by row) is shaped like no digit, or `None`
/// when it may be one (also when it holds no ink).
pub(crate) fn unlike_a_digit(pixels: &[u8; IMAGE_PIXELS]) -> Option<Unlike> {
    if too_wide(pixels) {
        Some(Unlike::Wide)
    } else if too_thick(pixels) {
        Some(Unlike::Filled)
    } else {
        None
    }
}

/// For each image of `pixels` (784 bytes each), whether a run of `dataset` refuses it for its
/// shape: all `false` for a dataset of other classes than digits (clothes may be wide).
pub(crate) fn refused_for_shape(pixels: &[u8], dataset: DatasetKind) -> Vec<bool> {
    let images = pixels.chunks_exact(IMAGE_PIXELS);
    if !dataset.reads_numbers() {
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

/// Whether some pixel of at least half strength has no pixel below half strength (nor the
/// field's edge) within [`THICKEST`] pixels, in Euclidean distance.
fn too_thick(pixels: &[u8; IMAGE_PIXELS]) -> bool {
    const HALF: u8 = 128;
    let reach = THICKEST.floor() as isize;
    let limit = THICKEST * THICKEST;
    // The offsets within reach, nearest first, so that paper close by ends the search early.
    let mut offsets: Vec<(isize, isize)> = (-reach..=reach)
        .flat_map(|dy| (-reach..=reach).map(move |dx| (dy, dx)))
        .filter(|&(dy, dx)| ((dy * dy + dx * dx) as f32) <= limit)
        .collect();
    offsets.sort_by_key(|&(dy, dx)| dy * dy + dx * dx);
    let side = IMAGE_SIDE as isize;
    let paper = |row: isize, column: isize| {
        !(0..side).contains(&row)
            || !(0..side).contains(&column)
            || pixels[(row * side + column) as usize] < HALF
    };
    (0..side).any(|row| {
        (0..side).any(|column| {
            !paper(row, column) && !offsets.iter().any(|&(dy, dx)| paper(row + dy, column + dx))
        })
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
        assert!(too_thick(&bar(13)));
        assert!(!too_thick(&bar(12)));
        // The field's edge is paper: a full field's centre is 14 pixels in.
        assert!(too_thick(&[255; IMAGE_PIXELS]));
        assert_eq!(unlike_a_digit(&[0; IMAGE_PIXELS]), None);
    }
}
