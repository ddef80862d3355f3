//! Step 5 for a picture of a number: its ink split into digits, read left to right, each then
//! laid out as a single digit is (`mnist_box.rs`).
//!
//! A digit is a connected piece of ink (8-connected), or several: pieces that lie over one
//! another across the line (a 4 or a 5 drawn in two strokes, a 7's crossbar) are one digit. A
//! piece much wider than it is tall is several digits run together: it is cut where the ink is
//! thinnest near where the cuts would fall if its digits were alike in width. One line of
//! digits is read; digits joined so that no thin place separates them are not.

use image::{GrayImage, Luma};
use imageproc::region_labelling::{Connectivity, connected_components};

/// More pieces of ink than this is not a line of digits (a textured photo, noise, specks):
/// refused before anything is measured per piece, so that such a picture takes no longer than
/// a digit; so are more digits than this once run-together pieces are cut.
pub(crate) const MAX_PIECES: usize = 40;
/// Two pieces are one digit when the narrower lies over the other across at least this share
/// of its width.
const OVERLAP_SHARE: f32 = 0.5;
/// A piece of ink less tall than this share of the line's tallest is a fragment of a digit (a
/// 5's flag, a 2's tail drawn apart), not a digit: it joins the digit nearest it.
const FRAGMENT_HEIGHT: f32 = 0.5;
/// A digit is rarely wider than tall (MNIST's are 0.1 to 1.2 times as wide as tall); a piece
/// wider than this many times its height holds several. 1.25 split one single digit in a
/// hundred of `bench/real_pictures.py`'s (a slanted 0, a 7 with a crossbar, a 5 with a long
/// flag) for half a point more numbers read; 1.6 splits none of them.
const WIDEST_DIGIT: f32 = 1.6;
/// The width of a digit among several run together, as a share of their height, for counting
/// them: MNIST's median digit is about 0.7 times as wide as tall.
const DIGIT_WIDTH: f32 = 0.75;
/// Digits run together meet at a thin place: a cut between them falls only on a column holding
/// at most this share of the piece's median column's ink. A scribble's hatching, a dash or a
/// ruled line has no such place and stays one piece (read, and mostly refused, as one): with
/// it the recipe refused 21-24 points more scribbles (`bench/real_pictures.py`, three
/// comparisons), numbers unchanged; 0.5 and 0.6 refused fewer.
const THIN_PLACE: f64 = 0.4;

/// A box in ink pixels: left, top, width, height.
pub(super) type Bounds = [u32; 4];

/// A digit at least this share of the line's height wide may be two digits touching (a 1
/// against its neighbour): its two halves are offered as well, for the model to choose.
const PAIR_WIDTH: f32 = 0.55;

/// One digit's ink: the strengths of its pixels alone, in a picture of the ink's size, and
/// where it lies.
pub(super) struct DigitInk {
    /// The digit's ink, everything else paper.
    pub(super) strengths: GrayImage,
    /// Its box in the ink's pixels.
    pub(super) bounds: Bounds,
    /// Made of several pieces of ink joined as one digit (a 4 or a 5 drawn in two strokes):
    /// never offered as two halves, which would undo the join.
    pub(super) joined: bool,
}

/// Where two touching digits may meet, in percent of the piece's width. A cut is offered at
/// the thinnest column of each window (and along a thinner slanted line, [`thinnest_line`]):
/// first the middle's, where two digits alike meet, then of narrower windows from near the left
/// edge to near the right, where a narrow 1 meets a wider digit or the thinnest column of the
/// middle is not where two digits meet (the middle alone missed most touching pairs of
/// `bench/real_pictures.py`'s photographed numbers).
const CUT_WINDOWS: [(u32, u32); 6] = [(30, 70), (12, 28), (28, 42), (42, 58), (58, 72), (72, 88)];
/// Each of two touching digits is nearly as tall as the pair: a cut leaving a half less tall
/// than this share of the piece (a 9's tail, a 4's foot, the end of a word's letter) is not
/// offered. Without it the edge cuts split 5% of words in two "digits".
const HALF_HEIGHT: f32 = 0.8;

/// A digit cut in two: where a reader may find two touching digits.
pub(super) struct CutInk {
    /// The left and right halves.
    pub(super) halves: [DigitInk; 2],
    /// Cut upright at the thinnest column of the middle, the first choice.
    pub(super) first_choice: bool,
}

impl DigitInk {
    /// The digit cut in two at the thinnest column of each of [`CUT_WINDOWS`], and along the
    /// thinnest slanted line there when it crosses at most [`THINNER_SLANTED`] of that
    /// column's ink, when it is wide enough to be two digits touching ([`PAIR_WIDTH`] of
    /// `line_height`): one per distinct line whose halves both hold ink and are
    /// [`HALF_HEIGHT`] of the piece, the middle's upright one first; none otherwise.
    pub(super) fn cuts(&self, line_height: u32) -> Vec<CutInk> {
        let [x0, y0, width, height] = self.bounds;
        if self.joined || (width as f32) < PAIR_WIDTH * line_height as f32 || width < 6 {
            return Vec::new();
        }
        let at = |percent: u32| x0 + width * percent / 100;
        let mut tried: Vec<Vec<u32>> = Vec::with_capacity(CUT_WINDOWS.len());
        let mut cuts = Vec::with_capacity(CUT_WINDOWS.len());
        let lines = CUT_WINDOWS
            .iter()
            .enumerate()
            .flat_map(|(window, &(low, high))| {
                let line = |slants| {
                    thinnest_line(&self.strengths, [y0, height], [at(low), at(high)], slants)
                };
                let (upright, upright_ink) = line(&[0]);
                let (slanted, slanted_ink) = line(&SLANTS);
                let thinner = slanted_ink as f64 <= THINNER_SLANTED * upright_ink as f64;
                std::iter::once((window, true, upright))
                    .chain(thinner.then_some((window, false, slanted)))
            });
        for (window, upright, path) in lines {
            if tried.contains(&path) {
                continue;
            }
            let halves = {
                let left_of =
                    |x: u32, y: u32| (y0..y0 + height).contains(&y) && x < path[(y - y0) as usize];
                (
                    part_of(&self.strengths, left_of),
                    part_of(&self.strengths, |x, y| !left_of(x, y)),
                )
            };
            tried.push(path);
            let (Some(left), Some(right)) = halves else {
                continue;
            };
            let tall = |half: &DigitInk| half.bounds[3] as f32 >= HALF_HEIGHT * height as f32;
            if tall(&left) && tall(&right) {
                cuts.push(CutInk {
                    halves: [left, right],
                    first_choice: window == 0 && upright,
                });
            }
        }
        cuts
    }
}

/// The slants a cut may lean, in tenths of a column per row ([`SLANT_UNIT`]): up to half a
/// column either way, about 27 degrees; a handwriting font's italics lean about a fifth.
const SLANTS: [i32; 10] = [-1, 1, -2, 2, -3, 3, -4, 4, -5, 5];
/// Tenths: the unit of [`SLANTS`].
const SLANT_UNIT: i32 = 10;
/// A slanted cut is offered beside the upright one only where it crosses at most this share of
/// the upright one's ink, a place clearly thinner. Offered wherever it was thinner at all, it
/// read 38 more of 5,900 hostile numbers in handwriting fonts and hands (none fewer), but 16
/// fewer of 2,680 numbers with letters and symbols among their digits (letters cut into sure
/// "digits"); at half, 28 more and none fewer (`docs/measurements.md`, session 32).
const THINNER_SLANTED: f64 = 0.5;

/// The straight line of least ink down `rows` (the first and how many) of `strengths` that
/// crosses the middle row within `columns` (the first and last) leaning by one of `slants`
/// (tenths of a column per row, 0 upright): the column each row is cut at (the row's pixels
/// left of it go left), and the ink it crosses. The first of equals: the first slant's, the
/// leftmost.
///
/// Two touching digits written slanted (a handwriting font's italics) lie over one another
/// across the line, so that no upright column parts them: an "03" of `bench/real_pictures.py`'s
/// photographed numbers, read as nothing as a whole, gave no upright cut whose halves were both
/// read surely; the slanted line between them gives a sure 0 and 3. A free path of least ink (a
/// seam, each row's column one from the last) was tried first: it also found paths around a
/// 9's loop, whose halves read as a sure 5 and 3.
fn thinnest_line(
    strengths: &GrayImage,
    [top, rows]: [u32; 2],
    [low, high]: [u32; 2],
    slants: &[i32],
) -> (Vec<u32>, u64) {
    let middle = rows as i32 / 2;
    let width = strengths.width();
    // The column of row `r` (from `top`) of the line through `column` at the middle row.
    let at = |column: u32, slant: i32, r: u32| {
        let x = column as i32 + (slant * (r as i32 - middle)).div_euclid(SLANT_UNIT);
        x.clamp(0, width as i32) as u32
    };
    let ink = |column: u32, slant: i32| -> u64 {
        (0..rows)
            .map(|r| (at(column, slant, r), top + r))
            .filter(|&(x, _)| x < width)
            .map(|(x, y)| u64::from(strengths.get_pixel(x, y).0[0]))
            .sum()
    };
    let (crossed, column, slant) = slants
        .iter()
        .flat_map(|&slant| (low..=high).map(move |column| (column, slant)))
        .map(|(column, slant)| (ink(column, slant), column, slant))
        .min_by_key(|&(crossed, _, _)| crossed)
        .expect("a window holds a column, and a cut has a slant");
    let path = (0..rows).map(|r| at(column, slant, r)).collect();
    (path, crossed)
}

/// Why the ink is not read as a line of digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SplitError {
    /// More than [`MAX_PIECES`] separate pieces of ink, or digits.
    #[error(
        "{pieces} pieces of ink, more than the {MAX_PIECES} digits of a line this reads; not read"
    )]
    TooManyPieces {
        /// How many were counted.
        pieces: usize,
    },
    /// Digit-sized pieces stacked one above the other: more than one line.
    #[error("digits on more than one line; one line of digits is read")]
    SeveralLines,
}

/// The digits in `ink` (strengths, 0 paper to 255), left to right, and the line's height (the
/// median digit's); no digits when it holds none.
///
/// # Errors
/// [`SplitError::TooManyPieces`] when the ink is in more than [`MAX_PIECES`] pieces.
pub(super) fn split_digits(ink: &GrayImage) -> Result<(Vec<DigitInk>, u32), SplitError> {
    let (width, height) = ink.dimensions();
    if width < 3 || height < 3 {
        // imageproc's labelling panics on some single-pixel pictures: one piece at most.
        return Ok((whole(ink).into_iter().collect(), height));
    }
    let inked = GrayImage::from_fn(width, height, |x, y| {
        Luma([if ink.get_pixel(x, y).0[0] > 0 { 255 } else { 0 }])
    });
    let labels = connected_components(&inked, Connectivity::Eight, Luma([0u8]));
    let pieces = piece_bounds(&labels);
    if pieces.len() > MAX_PIECES {
        return Err(SplitError::TooManyPieces {
            pieces: pieces.len(),
        });
    }
    if stacked(&pieces) {
        return Err(SplitError::SeveralLines);
    }
    let mut digits: Vec<DigitInk> = Vec::new();
    let groups = with_fragments_joined(grouped(&pieces));
    let line_height = median_height(&groups);
    for group in groups {
        let strengths = GrayImage::from_fn(width, height, |x, y| {
            let label = labels.get_pixel(x, y).0[0];
            if label != 0 && group.labels.contains(&label) {
                *ink.get_pixel(x, y)
            } else {
                Luma([0])
            }
        });
        let mut parts = cut_run_together(strengths, group.bounds, line_height);
        if let [digit] = parts.as_mut_slice() {
            digit.joined = group.labels.len() > 1;
        }
        digits.extend(parts);
    }
    if digits.len() > MAX_PIECES {
        return Err(SplitError::TooManyPieces {
            pieces: digits.len(),
        });
    }
    digits.sort_by_key(|digit| digit.bounds[0]);
    Ok((digits, line_height))
}

/// All of `ink` as one digit, when it has any.
pub(super) fn whole(ink: &GrayImage) -> Option<DigitInk> {
    let bounds = bounds_of(ink)?;
    Some(DigitInk {
        strengths: ink.clone(),
        bounds,
        joined: false,
    })
}

/// A piece of ink: its label and box.
struct Piece {
    label: u32,
    bounds: Bounds,
}

/// The box of each labelled piece.
fn piece_bounds(labels: &image::ImageBuffer<Luma<u32>, Vec<u32>>) -> Vec<Piece> {
    let mut boxes: std::collections::BTreeMap<u32, [u32; 4]> = std::collections::BTreeMap::new();
    for (x, y, label) in labels.enumerate_pixels() {
        let label = label.0[0];
        if label == 0 {
            continue;
        }
        // Kept as [x0, y0, x1, y1] while growing.
        let edges = boxes.entry(label).or_insert([x, y, x, y]);
        edges[0] = edges[0].min(x);
        edges[1] = edges[1].min(y);
        edges[2] = edges[2].max(x);
        edges[3] = edges[3].max(y);
    }
    boxes
        .into_iter()
        .map(|(label, [x0, y0, x1, y1])| Piece {
            label,
            bounds: [x0, y0, x1 - x0 + 1, y1 - y0 + 1],
        })
        .collect()
}

/// A piece at least this share of the tallest piece's height, and no wider than tall, is
/// shaped like a digit, for telling lines apart: the two strokes of a broken digit are each
/// about half of it, and an 8's two loops drawn apart are wider than tall.
const DIGIT_SIZED: f32 = 0.8;

/// Two digit-sized pieces one above the other are on two lines only when at least this share
/// of the shorter's height of paper lies between them; closer, they are parts of one digit: a
/// seven-segment display's upper and lower bars (a meter's, a clock's) are 2-29% of a bar's
/// height apart in the DSEG fonts, lines of print about 70% of a digit's height.
const LINE_GAP: f32 = 0.35;

/// Whether two digit-sized pieces lie one above the other (over one another across the line,
/// apart down it by [`LINE_GAP`]): digits on two lines, which would otherwise be read as one
/// line's digits, each pair joined.
fn stacked(pieces: &[Piece]) -> bool {
    let tallest = pieces
        .iter()
        .map(|piece| piece.bounds[3])
        .max()
        .unwrap_or(0);
    let sized: Vec<Bounds> = pieces
        .iter()
        .map(|piece| piece.bounds)
        .filter(|bounds| bounds[3] as f32 >= DIGIT_SIZED * tallest as f32 && bounds[2] <= bounds[3])
        .collect();
    sized.iter().enumerate().any(|(at, a)| {
        sized[at + 1..].iter().any(|b| {
            let (upper, lower) = if a[1] <= b[1] { (a, b) } else { (b, a) };
            let gap = lower[1] as f32 - (upper[1] + upper[3]) as f32;
            gap >= LINE_GAP * a[3].min(b[3]) as f32 && overlap_across(*a, *b)
        })
    })
}

/// Pieces that make one digit: their labels and their joint box.
struct Group {
    labels: Vec<u32>,
    bounds: Bounds,
}

/// The pieces joined into digits: two pieces are one digit when the narrower lies over the
/// other across at least [`OVERLAP_SHARE`] of its width (joined transitively).
fn grouped(pieces: &[Piece]) -> Vec<Group> {
    // Union-find over at most MAX_PIECES pieces.
    let mut parent: Vec<usize> = (0..pieces.len()).collect();
    fn root(parent: &mut [usize], mut at: usize) -> usize {
        while parent[at] != at {
            parent[at] = parent[parent[at]];
            at = parent[at];
        }
        at
    }
    for a in 0..pieces.len() {
        for b in a + 1..pieces.len() {
            if overlap_across(pieces[a].bounds, pieces[b].bounds) {
                let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
                parent[ra] = rb;
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Group> = std::collections::BTreeMap::new();
    for (at, piece) in pieces.iter().enumerate() {
        let key = root(&mut parent, at);
        let group = groups.entry(key).or_insert(Group {
            labels: Vec::new(),
            bounds: piece.bounds,
        });
        group.labels.push(piece.label);
        group.bounds = union(group.bounds, piece.bounds);
    }
    groups.into_values().collect()
}

/// `groups` with each fragment (less tall than [`FRAGMENT_HEIGHT`] of the tallest) joined to
/// the nearest digit across the line (the smallest horizontal gap between their boxes).
fn with_fragments_joined(groups: Vec<Group>) -> Vec<Group> {
    let tallest = groups
        .iter()
        .map(|group| group.bounds[3])
        .max()
        .unwrap_or(0);
    let is_fragment = |group: &Group| (group.bounds[3] as f32) < FRAGMENT_HEIGHT * tallest as f32;
    let (fragments, mut digits): (Vec<Group>, Vec<Group>) =
        groups.into_iter().partition(|group| is_fragment(group));
    if digits.is_empty() {
        return fragments;
    }
    for fragment in fragments {
        let gap = |digit: &Group| {
            let [a, b] = [fragment.bounds, digit.bounds];
            let (left, right) = if a[0] <= b[0] { (a, b) } else { (b, a) };
            right[0].saturating_sub(left[0] + left[2])
        };
        if let Some(nearest) = digits.iter_mut().min_by_key(|digit| gap(digit)) {
            nearest.labels.extend(&fragment.labels);
            nearest.bounds = union(nearest.bounds, fragment.bounds);
        }
    }
    digits
}

/// Whether the narrower of two boxes lies over the other across [`OVERLAP_SHARE`] of its width.
fn overlap_across(a: Bounds, b: Bounds) -> bool {
    let start = a[0].max(b[0]);
    let end = (a[0] + a[2]).min(b[0] + b[2]);
    let overlap = end.saturating_sub(start) as f32;
    overlap >= OVERLAP_SHARE * a[2].min(b[2]) as f32
}

/// The smallest box holding both.
fn union(a: Bounds, b: Bounds) -> Bounds {
    let (x0, y0) = (a[0].min(b[0]), a[1].min(b[1]));
    let x1 = (a[0] + a[2]).max(b[0] + b[2]);
    let y1 = (a[1] + a[3]).max(b[1] + b[3]);
    [x0, y0, x1 - x0, y1 - y0]
}

/// The median height of the digits' boxes: the line's height (a sloppy 5 may be wider than
/// tall, a line of digits is not).
fn median_height(groups: &[Group]) -> u32 {
    let mut heights: Vec<u32> = groups.iter().map(|group| group.bounds[3]).collect();
    heights.sort_unstable();
    heights.get(heights.len() / 2).copied().unwrap_or(0)
}

/// One digit's ink, or several when it is wider than [`WIDEST_DIGIT`] times its height or the
/// line's, whichever is taller: as many as digits of [`DIGIT_WIDTH`] would fill it, each cut at
/// the thinnest column within a third of a digit of where it would fall, when that column is a
/// thin place ([`THIN_PLACE`]).
fn cut_run_together(strengths: GrayImage, bounds: Bounds, line_height: u32) -> Vec<DigitInk> {
    let [x0, _, width, own_height] = bounds;
    let height = own_height.max(line_height);
    if (width as f32) <= WIDEST_DIGIT * height as f32 {
        return vec![DigitInk {
            strengths,
            bounds,
            joined: false,
        }];
    }
    let count = ((width as f32 / (DIGIT_WIDTH * height as f32)).round() as u32).max(2);
    let columns: Vec<u64> = (x0..x0 + width)
        .map(|x| column_ink(&strengths, x))
        .collect();
    let step = width as f32 / count as f32;
    let mut sorted = columns.clone();
    sorted.sort_unstable();
    let median = sorted[sorted.len() / 2];
    let mut cuts = vec![x0];
    for k in 1..count {
        let expected = k as f32 * step;
        let low = ((expected - step / 3.0).max(1.0)) as usize;
        let high = ((expected + step / 3.0) as usize).min(width as usize - 1);
        let thinnest = (low..=high).min_by_key(|&at| columns[at]).unwrap_or(low);
        let cut = x0 + thinnest as u32;
        if columns[thinnest] as f64 > THIN_PLACE * median as f64 {
            continue;
        }
        if cut > *cuts.last().unwrap_or(&x0) {
            cuts.push(cut);
        }
    }
    cuts.push(x0 + width);
    cuts.windows(2)
        .filter_map(|span| columns_of(&strengths, span[0], span[1]))
        .collect()
}

/// The ink in column `x`, summed down it.
fn column_ink(strengths: &GrayImage, x: u32) -> u64 {
    (0..strengths.height())
        .map(|y| u64::from(strengths.get_pixel(x, y).0[0]))
        .sum()
}

/// The ink of columns `from` to `to` (not included) alone, as a digit; `None` when they hold
/// none.
fn columns_of(strengths: &GrayImage, from: u32, to: u32) -> Option<DigitInk> {
    part_of(strengths, |x, _| (from..to).contains(&x))
}

/// The ink of the pixels `(x, y)` that `keep` keeps, alone, as a digit; `None` when they hold
/// none.
fn part_of(strengths: &GrayImage, keep: impl Fn(u32, u32) -> bool) -> Option<DigitInk> {
    let part = GrayImage::from_fn(strengths.width(), strengths.height(), |x, y| {
        if keep(x, y) {
            *strengths.get_pixel(x, y)
        } else {
            Luma([0])
        }
    });
    let bounds = bounds_of(&part)?;
    Some(DigitInk {
        strengths: part,
        bounds,
        joined: false,
    })
}

/// The box of the inked pixels; `None` when there are none.
fn bounds_of(ink: &GrayImage) -> Option<Bounds> {
    let mut edges: Option<[u32; 4]> = None;
    for (x, y, pixel) in ink.enumerate_pixels() {
        if pixel.0[0] == 0 {
            continue;
        }
        let e = edges.get_or_insert([x, y, x, y]);
        e[0] = e[0].min(x);
        e[1] = e[1].min(y);
        e[2] = e[2].max(x);
        e[3] = e[3].max(y);
    }
    edges.map(|[x0, y0, x1, y1]| [x0, y0, x1 - x0 + 1, y1 - y0 + 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A picture of `width` x `height` with the given rectangles inked at full strength.
    fn inked(width: u32, height: u32, rectangles: &[Bounds]) -> GrayImage {
        GrayImage::from_fn(width, height, |x, y| {
            let inside = rectangles
                .iter()
                .any(|&[rx, ry, rw, rh]| (rx..rx + rw).contains(&x) && (ry..ry + rh).contains(&y));
            Luma([if inside { 255 } else { 0 }])
        })
    }

    #[test]
    fn separate_digits_are_read_left_to_right() {
        // Three upright strokes, listed out of order.
        let ink = inked(100, 40, &[[70, 5, 6, 30], [10, 5, 6, 30], [40, 5, 6, 30]]);
        let digits = split_digits(&ink).unwrap().0;
        let lefts: Vec<u32> = digits.iter().map(|digit| digit.bounds[0]).collect();
        assert_eq!(lefts, [10, 40, 70]);
        assert_eq!(digits[1].bounds, [40, 5, 6, 30]);
        // Each digit holds its own ink only.
        assert_eq!(digits[0].strengths.get_pixel(42, 10).0[0], 0);
    }

    #[test]
    fn a_digit_drawn_in_two_strokes_is_one_digit() {
        // A 4: an L, and its upright drawn apart from it, broken where it would cross the bar.
        let four = inked(
            60,
            40,
            &[
                [10, 5, 4, 20],
                [10, 22, 25, 4],
                [28, 2, 4, 18],
                [28, 28, 4, 10],
            ],
        );
        let (digits, line_height) = split_digits(&four).unwrap();
        assert_eq!(digits.len(), 1);
        // Joined on purpose, so never offered as two halves (which undid the join of a
        // drawing's pieces); one piece as wide, two strokes as tall as it, is.
        assert!(digits[0].joined && digits[0].cuts(line_height).is_empty());
        let one_piece = inked(60, 40, &[[10, 5, 4, 30], [10, 20, 25, 4], [31, 5, 4, 30]]);
        let (digits, line_height) = split_digits(&one_piece).unwrap();
        assert!(!digits[0].joined && !digits[0].cuts(line_height).is_empty());
        // A 5's flag above its body.
        let five = inked(40, 40, &[[12, 2, 16, 4], [10, 10, 18, 24]]);
        assert_eq!(split_digits(&five).unwrap().0.len(), 1);
        // Side by side, not over one another: two digits (a 1 and a 7's upright, say).
        let apart = inked(60, 40, &[[10, 5, 4, 30], [26, 5, 4, 30]]);
        assert_eq!(split_digits(&apart).unwrap().0.len(), 2);
    }

    /// The columns a digit is offered cut at, and which is the first choice.
    fn cut_columns(ink: &GrayImage) -> Vec<(u32, bool)> {
        let (digits, line_height) = split_digits(ink).unwrap();
        assert_eq!(digits.len(), 1);
        digits[0]
            .cuts(line_height)
            .iter()
            .map(|cut| (cut.halves[1].bounds[0], cut.first_choice))
            .collect()
    }

    #[test]
    fn a_narrow_digit_touching_a_wide_one_is_offered_the_cut_between_them() {
        // A 1 (x 10-13) touching a 0 (a ring, x 16-39, walls 3 wide) by a 2-pixel bar.
        let one_and_zero = inked(
            60,
            40,
            &[
                [10, 5, 4, 30],
                [14, 18, 2, 2],
                [16, 5, 3, 30],
                [37, 5, 3, 30],
                [16, 5, 24, 3],
                [16, 32, 24, 3],
            ],
        );
        let cuts = cut_columns(&one_and_zero);
        // The middle's thinnest column (inside the ring) first, then the bar's, near the edge.
        assert_eq!(cuts[0], (19, true));
        assert!(cuts.contains(&(14, false)), "{cuts:?}");
        // A 9 (its loop on top of its stem): every cut leaves the loop alone, half as tall,
        // on one side: none offered.
        let nine = inked(
            60,
            40,
            &[
                [10, 5, 3, 16],
                [10, 5, 20, 3],
                [10, 18, 20, 3],
                [27, 5, 4, 31],
            ],
        );
        assert_eq!(cut_columns(&nine), []);
    }

    #[test]
    fn two_slanted_digits_touching_are_cut_along_the_slanted_gap_between_them() {
        // Two strokes slanted like /, 12 pixels apart, joined at the foot by a bar: every
        // column of the middle crosses one or both, only a slanted path parts them.
        let stroke = |x: u32, y: u32, shift: u32| {
            let left = shift + 10 + 34u32.saturating_sub(y) / 2;
            (5..35).contains(&y) && (left..left + 5).contains(&x)
        };
        let ink = GrayImage::from_fn(60, 40, |x, y| {
            let bar = (33..35).contains(&y) && (14..23).contains(&x);
            Luma([if stroke(x, y, 0) || stroke(x, y, 12) || bar {
                255
            } else {
                0
            }])
        });
        let (digits, line_height) = split_digits(&ink).unwrap();
        assert_eq!(digits.len(), 1, "one piece");
        let parts_them = |cut: &CutInk| {
            let [left, right] = &cut.halves;
            ink.enumerate_pixels().all(|(x, y, _)| {
                [(0, (left, right)), (12, (right, left))]
                    .iter()
                    .all(|&(shift, (own, other))| {
                        !stroke(x, y, shift)
                            || (own.strengths.get_pixel(x, y).0[0] == 255
                                && other.strengths.get_pixel(x, y).0[0] == 0)
                    })
            })
        };
        let cuts = digits[0].cuts(line_height);
        assert!(
            cuts.iter().any(parts_them),
            "{} cuts, none parts them",
            cuts.len()
        );
        // Not the upright one: no column parts them.
        let first = cuts
            .iter()
            .find(|cut| cut.first_choice)
            .expect("the middle's cut");
        assert!(!parts_them(first));
    }

    #[test]
    fn digits_run_together_are_cut_where_the_ink_is_thinnest() {
        // Two 20x24 blocks joined by a thin bar at x 30-34: 1.8 times as wide as tall.
        let ink = inked(80, 40, &[[10, 5, 20, 24], [34, 5, 20, 24], [30, 16, 4, 2]]);
        let digits = split_digits(&ink).unwrap().0;
        assert_eq!(digits.len(), 2);
        assert!(
            digits[0].bounds[0] == 10 && digits[0].bounds[2] <= 24,
            "{:?}",
            digits[0].bounds
        );
        assert!(digits[1].bounds[0] >= 30 && digits[1].bounds[0] + digits[1].bounds[2] == 54);
    }

    #[test]
    fn a_ruled_line_or_a_bar_has_no_thin_place_and_stays_one_piece() {
        // A bar 100 wide, 5 tall: twenty times as wide as tall, the same ink in every column.
        let bar = inked(120, 20, &[[10, 8, 100, 5]]);
        let (digits, _) = split_digits(&bar).unwrap();
        assert_eq!(digits.len(), 1);
        assert_eq!(digits[0].bounds, [10, 8, 100, 5]);
        // A 1-pixel line as long as a page was cut into hundreds of "digits" and refused.
        let line = inked(300, 3, &[[20, 1, 260, 1]]);
        assert_eq!(split_digits(&line).unwrap().0.len(), 1);
    }

    #[test]
    fn two_lines_of_digits_are_refused_and_a_slope_or_a_display_s_segments_are_one_line() {
        // 12 over 34, digits 30 tall, the second line from row `top`.
        let lines = |top: u32| {
            inked(
                80,
                90,
                &[
                    [10, 5, 6, 30],
                    [40, 5, 6, 30],
                    [10, top, 6, 30],
                    [40, top, 6, 30],
                ],
            )
        };
        assert_eq!(
            split_digits(&lines(50)).err(),
            Some(SplitError::SeveralLines)
        );
        // The same lines closer, 11 pixels apart.
        assert_eq!(
            split_digits(&lines(46)).err(),
            Some(SplitError::SeveralLines)
        );
        // A seven-segment display's 1: two bars, 3 pixels of 30 apart, are one digit.
        let segments = inked(40, 70, &[[10, 5, 6, 30], [10, 38, 6, 30]]);
        assert_eq!(split_digits(&segments).unwrap().0.len(), 1);
        // An 8 whose loops were drawn apart is one digit.
        let eight = inked(60, 80, &[[10, 5, 30, 24], [8, 32, 34, 28]]);
        assert_eq!(split_digits(&eight).unwrap().0.len(), 1);
        // A number written down a slope: each digit lower than the last, none above another.
        let slope = inked(
            100,
            120,
            &[[10, 5, 6, 30], [40, 40, 6, 30], [70, 80, 6, 30]],
        );
        assert_eq!(split_digits(&slope).unwrap().0.len(), 3);
    }

    #[test]
    fn thousands_of_specks_are_refused_at_once() {
        let specks: Vec<Bounds> = (0..30)
            .flat_map(|row| (0..30).map(move |column| [column * 4, row * 4, 1, 1]))
            .collect();
        let ink = inked(120, 120, &specks);
        assert_eq!(
            split_digits(&ink).err(),
            Some(SplitError::TooManyPieces { pieces: 900 })
        );
        assert!(split_digits(&inked(10, 10, &[])).unwrap().0.is_empty());
        // Sixty digits run together, joined by thin bars, are cut into more than a line holds:
        // refused too.
        let run: Vec<Bounds> = (0..60)
            .flat_map(|k| [[10 + 24 * k, 5, 20, 30], [30 + 24 * k, 20, 4, 2]])
            .collect();
        let line = inked(1500, 40, &run);
        assert!(matches!(
            split_digits(&line),
            Err(SplitError::TooManyPieces { pieces }) if pieces > MAX_PIECES
        ));
    }
}
