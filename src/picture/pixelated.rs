//! Step 3 of preparing a picture: a low-resolution picture enlarged by repeating its pixels (a
//! zoom without smoothing, as a scanner's or an image viewer's "nearest neighbour") is enlarged
//! again from its own grid, smoothly. Its blocks' edges are steps no pen draws, and a model
//! trained on MNIST's smooth strokes misreads them: on `bench/real_pictures.py`'s low-resolution
//! scans, the CNN trained with `--augment` read 93% of those enlarged smoothly but 82% of those
//! enlarged by repeating pixels (500 scans, 2026-11-29).
//!
//! A picture is taken for such an enlargement when, along each axis, every change between
//! neighbouring columns (rows) falls on the edge of a grid of square cells, and the picture
//! changes at most of those edges along the axis where it changes more often. A photograph, an
//! anti-aliased drawing or a JPEG changes almost everywhere, and a sharp-edged drawing at a few
//! places only: neither is touched.

use image::imageops::FilterType;
use image::{DynamicImage, RgbaImage};

use super::ink::WORK_SIDE;

/// Fewest cells along a side: a digit does not fit in fewer.
const MIN_CELLS: u32 = 4;
/// Fewest pixels a cell spans: 2 is a doubling, the smallest enlargement.
const MIN_CELL_SIDE: u32 = 2;
/// A change between neighbouring pixels larger than this, in levels of 255 on any channel,
/// is a change; smaller ones are a lossless file's rounding.
const TOLERANCE: u8 = 2;
/// Share of the grid's inner edges at which the picture must change: fewer, and the grid is a
/// coincidence of a few sharp edges, not the picture's pixels.
const MIN_EDGES_USED: f64 = 0.5;
/// Longest side looked at: a picture that large is not a zoomed low-resolution one worth the
/// memory of looking.
const MAX_SIDE: u32 = 2048;

/// `picture` enlarged smoothly (bicubic) from its own grid when it is an enlargement by
/// repeated pixels, in RGBA, at its size or, if larger, at most [`WORK_SIDE`] on a side (where
/// the ink is measured); `None` when it is not one.
pub(super) fn smoothed(picture: &DynamicImage) -> Option<DynamicImage> {
    let (width, height) = (picture.width(), picture.height());
    if width.max(height) > MAX_SIDE {
        return None;
    }
    let rgba = picture.to_rgba8();
    let across = changes(&rgba, width, height, |a, b| (a, b));
    let down = changes(&rgba, height, width, |a, b| (b, a));
    // The axis with more changes shows the grid; the other's cells are as wide (square pixels).
    let (columns, rows) = if across.len() >= down.len() {
        let columns = cells(&across, width)?;
        (columns, square_cells(&down, height, columns, width)?)
    } else {
        let rows = cells(&down, height)?;
        (square_cells(&across, width, rows, height)?, rows)
    };
    // Each cell's centre holds its value.
    let centre = |cell: u32, cells: u32, length: u32| {
        ((f64::from(cell) + 0.5) * f64::from(length) / f64::from(cells)) as u32
    };
    let grid = RgbaImage::from_fn(columns, rows, |x, y| {
        *rgba.get_pixel(centre(x, columns, width), centre(y, rows, height))
    });
    // At its size, or at the size the ink is measured at when that is smaller (as ink() would
    // scale it down).
    let grid = DynamicImage::ImageRgba8(grid);
    Some(if width.max(height) > WORK_SIDE {
        grid.resize(WORK_SIDE, WORK_SIDE, FilterType::CatmullRom)
    } else {
        grid.resize_exact(width, height, FilterType::CatmullRom)
    })
}

/// The positions `i` along an axis of `length` (1..length) where the line of pixels at `i`
/// differs from the one at `i - 1`; `at(i, j)` turns (along, across) into (x, y).
fn changes(
    rgba: &RgbaImage,
    length: u32,
    across: u32,
    at: impl Fn(u32, u32) -> (u32, u32),
) -> Vec<u32> {
    (1..length)
        .filter(|&i| {
            (0..across).any(|j| {
                let (x0, y0) = at(i - 1, j);
                let (x1, y1) = at(i, j);
                let (a, b) = (rgba.get_pixel(x0, y0).0, rgba.get_pixel(x1, y1).0);
                a.iter().zip(b).any(|(&a, b)| a.abs_diff(b) > TOLERANCE)
            })
        })
        .collect()
}

/// The fewest equal cells along an axis of `length` pixels on whose edges every change lies,
/// using at least [`MIN_EDGES_USED`] of them.
fn cells(changes: &[u32], length: u32) -> Option<u32> {
    // A grid of at most length / MIN_CELL_SIDE cells has fewer edges than that.
    if changes.is_empty() || changes.len() as u32 >= length / MIN_CELL_SIDE {
        return None;
    }
    (MIN_CELLS..=length / MIN_CELL_SIDE).find(|&cells| {
        edges_used(changes, length, cells)
            .is_some_and(|used| used as f64 >= MIN_EDGES_USED * f64::from(cells - 1))
    })
}

/// The cells along an axis of `length` pixels when they are as wide as those of the other axis
/// (`other_cells` over `other_length` pixels: pixels are square) and every change lies on
/// their edges. A thin 1 changes at too few columns to show its grid (or shows a coarser one
/// by chance), but its rows show it.
fn square_cells(changes: &[u32], length: u32, other_cells: u32, other_length: u32) -> Option<u32> {
    let cells = (f64::from(length) * f64::from(other_cells) / f64::from(other_length)).round();
    let cells = (cells as u32).max(1);
    edges_used(changes, length, cells).map(|_| cells)
}

/// How many of the inner edges of `cells` equal cells along `length` pixels the changes fall
/// on (within a pixel, as enlargements round); `None` when one falls inside a cell.
fn edges_used(changes: &[u32], length: u32, cells: u32) -> Option<usize> {
    let cell = f64::from(length) / f64::from(cells);
    let mut used = vec![false; cells as usize];
    for &change in changes {
        let edge = (f64::from(change) / cell).round();
        if !(1.0..f64::from(cells)).contains(&edge) || (f64::from(change) - edge * cell).abs() > 1.0
        {
            return None;
        }
        used[edge as usize] = true;
    }
    Some(used.iter().filter(|&&u| u).count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::imageops;
    use image::{GrayImage, Luma};

    /// A 7 on an 8×8 grid: a bar across the top, a stroke down, grey where it is partly inked.
    fn low_resolution_seven() -> GrayImage {
        GrayImage::from_fn(8, 8, |x, y| {
            let level = match (x, y) {
                (1..=6, 1) => 30,
                (5, 2) | (4, 3..=4) | (3, 5..=6) => 60,
                (4, 2) | (3, 4) => 160,
                _ => 240,
            };
            Luma([level])
        })
    }

    #[test]
    fn a_picture_enlarged_by_repeating_pixels_is_enlarged_smoothly_from_its_grid() {
        let seven = low_resolution_seven();
        for side in [16, 37, 55, 64] {
            let zoomed = imageops::resize(&seven, side, side, FilterType::Nearest);
            let smooth = smoothed(&DynamicImage::ImageLuma8(zoomed))
                .unwrap_or_else(|| panic!("{side}: not taken for an enlargement"));
            let expected = imageops::resize(&seven, side, side, FilterType::CatmullRom);
            assert_eq!(smooth.to_luma8(), expected, "{side}");
        }
        // Larger than the ink is measured at: enlarged to that side only.
        let zoomed = imageops::resize(&seven, 640, 640, FilterType::Nearest);
        let smooth = smoothed(&DynamicImage::ImageLuma8(zoomed)).expect("an enlargement");
        let expected = imageops::resize(&seven, WORK_SIDE, WORK_SIDE, FilterType::CatmullRom);
        assert_eq!(smooth.to_luma8(), expected);
    }

    #[test]
    fn a_thin_one_is_found_enlarged_by_its_rows() {
        // A stroke two columns wide changes at two column edges only.
        let one = GrayImage::from_fn(10, 10, |x, y| {
            Luma([if (4..6).contains(&x) && (1..9).contains(&y) {
                20 + 10 * y as u8
            } else {
                240
            }])
        });
        let zoomed = imageops::resize(&one, 50, 50, FilterType::Nearest);
        let smooth = smoothed(&DynamicImage::ImageLuma8(zoomed)).expect("taken for an enlargement");
        let expected = imageops::resize(&one, 50, 50, FilterType::CatmullRom);
        assert_eq!(smooth.to_luma8(), expected);
    }

    #[test]
    fn smooth_sharp_edged_and_native_pictures_are_left_alone() {
        let seven = low_resolution_seven();
        let smooth = imageops::resize(&seven, 48, 48, FilterType::Triangle);
        assert!(smoothed(&DynamicImage::ImageLuma8(smooth)).is_none());
        assert!(smoothed(&DynamicImage::ImageLuma8(seven)).is_none());
        // A sharp bar lies on many grids' edges, but uses few of them.
        let bar = GrayImage::from_fn(100, 100, |x, y| {
            Luma([if (20..80).contains(&x) && (45..55).contains(&y) {
                0
            } else {
                255
            }])
        });
        assert!(smoothed(&DynamicImage::ImageLuma8(bar)).is_none());
        let blank = GrayImage::from_pixel(40, 40, Luma([255]));
        assert!(smoothed(&DynamicImage::ImageLuma8(blank)).is_none());
    }
}
