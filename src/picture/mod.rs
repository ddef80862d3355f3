//! Preparing a picture a person made for the model: the pipeline `infer` and `serve` share.
//!
//! 1. **Decode** (`decode.rs`): any format the `image` crate reads, at most
//!    [`decode::MAX_SIDE`] on a side, turned upright by its EXIF orientation.
//! 2. **Already MNIST?** A 28×28 picture with a light digit on a black ground, centred by its
//!    mass, as MNIST stores its digits, is used as it is.
//! 3. **Pixelated?** (`pixelated.rs`) A low-resolution picture enlarged by repeating its pixels
//!    is enlarged again from its own grid, smoothly: its blocks' edges are not strokes.
//! 4. **Ink** (`ink.rs`): ink strength per pixel, whatever the colours, transparency and
//!    lighting: a page lying on a darker table is cut out first (`page.rs`), the paper's brightness is estimated (`paper.rs`) and divided out, Otsu's
//!    threshold separates ink from paper, clutter along the edges is dropped.
//! 5. **Digits** (`digits.rs`): the ink split into the digits of one line, left to right (a
//!    single digit is a number of one).
//! 6. **MNIST's layout** (`mnist_box.rs`): each digit cropped to its ink, thin strokes widened
//!    to MNIST's, scaled into a 20×20 box, centred by centre of mass in 28×28, strokes as
//!    strong as MNIST's (strongest pixel at 255, faint strokes raised to MNIST's median).

mod decode;
mod digits;
pub(crate) mod folder;
pub(crate) mod font_digits;
mod ink;
mod mnist_box;
mod page;
mod paper;
mod pixelated;

use std::path::{Path, PathBuf};

use image::DynamicImage;

use crate::fs::bounded_read::read_at_most;

use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};
pub(crate) use decode::{DecodeError, MAX_SIDE, decode};
pub(crate) use digits::SplitError;

/// One digit of a picture, prepared for the model.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PreparedDigit {
    /// MNIST's 784 pixels (28×28, row by row, 0 paper to 255 ink).
    pub(crate) pixels: [u8; IMAGE_PIXELS],
    /// Where the digit lies in the picture as decoded (upright): left, top, width, height, in
    /// the picture's pixels.
    pub(crate) bounds: [u32; 4],
    /// The digit cut in two, at several columns where its ink is thin, each half prepared
    /// alike, when it is wide enough to be two digits touching (none otherwise): the reader
    /// takes the pair it reads most surely when it reads both halves surely and the whole not
    /// (`model::predict::read_digits`).
    pub(crate) cuts: Vec<Cut>,
}

/// A digit cut in two, each half prepared as a digit is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cut {
    /// The left and right halves.
    pub(crate) halves: [PreparedDigit; 2],
    /// Cut at the thinnest column of the middle (the first choice); the reader takes another
    /// cut only when the whole hardly reads as a digit.
    pub(crate) first_choice: bool,
}

/// Why a picture gives no digits to read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Unread {
    /// The picture holds no ink.
    #[error("the image is blank (no ink to read a digit from)")]
    Blank,
    /// The ink is not a line of digits.
    #[error(transparent)]
    Split(#[from] SplitError),
}

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
    /// The picture holds no ink, or not a line of digits.
    #[error("{}: {cause}", path.display())]
    Unread {
        /// The picture file.
        path: PathBuf,
        /// What it holds instead.
        cause: Unread,
    },
}

/// Reads a picture file and prepares each digit in it, left to right (the whole picture as
/// one when `split` is false: a picture of clothing holds one item).
///
/// # Errors
/// [`PictureError`], naming the file: unreadable, not a picture, blank or not a line of digits.
pub(crate) fn load_digits(path: &Path, split: bool) -> Result<Vec<PreparedDigit>, PictureError> {
    prepare_file_bytes(path, &read_picture_file(path)?, split)
}

/// The bytes of a picture file, refused past the size a picture may decode to before it is
/// read whole.
///
/// # Errors
/// [`PictureError::Read`]: unreadable, or larger than [`decode::MAX_DECODE_BYTES`].
pub(crate) fn read_picture_file(path: &Path) -> Result<Vec<u8>, PictureError> {
    let too_large = format!(
        "larger than {} MiB; not a picture this program reads",
        decode::MAX_DECODE_BYTES >> 20
    );
    read_at_most(path, decode::MAX_DECODE_BYTES, &too_large).map_err(|source| PictureError::Read {
        path: path.to_path_buf(),
        cause: source,
    })
}

/// The picture file `path`'s `bytes` decoded and its digits prepared, as [`load_digits`] does.
///
/// # Errors
/// [`PictureError::Decode`] or [`PictureError::Unread`], naming the file.
pub(crate) fn prepare_file_bytes(
    path: &Path,
    bytes: &[u8],
    split: bool,
) -> Result<Vec<PreparedDigit>, PictureError> {
    let picture = decode(bytes).map_err(|source| PictureError::Decode {
        path: path.to_path_buf(),
        cause: source,
    })?;
    prepare_digits(&picture, split).map_err(|cause| PictureError::Unread {
        path: path.to_path_buf(),
        cause,
    })
}

/// Each digit of an upright `picture`, left to right, prepared for the model (the whole picture
/// as one when `split` is false). A picture of one digit is prepared whole, as it always was.
///
/// # Errors
/// [`Unread::Blank`] when it holds no ink; [`Unread::Split`] when its ink is not a line of
/// digits.
pub(crate) fn prepare_digits(
    picture: &DynamicImage,
    split: bool,
) -> Result<Vec<PreparedDigit>, Unread> {
    let (width, height) = (picture.width(), picture.height());
    if let Some(pixels) = already_mnist(picture) {
        let bounds = [0, 0, width, height];
        return Ok(vec![PreparedDigit {
            pixels,
            bounds,
            cuts: Vec::new(),
        }]);
    }
    let smooth = pixelated::smoothed(picture);
    let ink = ink::ink(smooth.as_ref().unwrap_or(picture)).ok_or(Unread::Blank)?;
    let (found, line_height) = if split {
        digits::split_digits(&ink.strengths)?
    } else {
        (digits::whole(&ink.strengths).into_iter().collect(), 0)
    };
    let in_picture = InPicture::new(&ink, width, height);
    // Each digit in MNIST's layout with its box, and its cuts when it may be two.
    let prepare = |digit: &digits::DigitInk, strengths: &image::GrayImage| {
        let cuts = if split {
            digit.cuts(line_height)
        } else {
            Vec::new()
        };
        Some(PreparedDigit {
            pixels: mnist_box::into_field(strengths)?,
            bounds: in_picture.bounds(digit.bounds),
            cuts: cuts
                .iter()
                .filter_map(|cut| prepared_cut(cut, &in_picture))
                .collect(),
        })
    };
    let prepared: Vec<PreparedDigit> = match found.as_slice() {
        // One digit: prepared from the whole ink, as a single digit always was.
        [digit] => prepare(digit, &ink.strengths).into_iter().collect(),
        _ => found
            .iter()
            .filter_map(|digit| prepare(digit, &digit.strengths))
            .collect(),
    };
    if prepared.is_empty() {
        return Err(Unread::Blank);
    }
    Ok(prepared)
}

/// `cut`'s halves, each prepared as a digit is (its box in the picture's pixels); `None` when a
/// half leaves nothing in MNIST's field.
fn prepared_cut(cut: &digits::CutInk, in_picture: &InPicture) -> Option<Cut> {
    let half = |part: &digits::DigitInk| {
        Some(PreparedDigit {
            pixels: mnist_box::into_field(&part.strengths)?,
            bounds: in_picture.bounds(part.bounds),
            cuts: Vec::new(),
        })
    };
    let [left, right] = &cut.halves;
    Some(Cut {
        halves: [half(left)?, half(right)?],
        first_choice: cut.first_choice,
    })
}

/// From the ink's pixels to the picture's: the ink is the picture scaled (to at most
/// `ink::WORK_SIDE`, or enlarged from its pixel grid), with paper added around a narrow one or
/// a page cut out of it (`ink::Ink::origin`).
struct InPicture {
    /// Picture pixels per measured pixel, across and down.
    scale: (f32, f32),
    /// Where the measured picture's top-left corner lies in the ink's pixels.
    origin: (i64, i64),
    /// The picture's size.
    size: (u32, u32),
}

impl InPicture {
    fn new(ink: &ink::Ink, width: u32, height: u32) -> Self {
        let (measured_width, measured_height) = ink.measured;
        Self {
            scale: (
                width as f32 / measured_width.max(1) as f32,
                height as f32 / measured_height.max(1) as f32,
            ),
            origin: ink.origin,
            size: (width, height),
        }
    }

    /// A box in ink pixels as a box in picture pixels, within the picture.
    fn bounds(&self, [x, y, width, height]: [u32; 4]) -> [u32; 4] {
        let to = |at: u32, origin: i64, scale: f32, size: u32| {
            ((i64::from(at) - origin).max(0) as f32 * scale)
                .round()
                .min(size as f32) as u32
        };
        let x0 = to(x, self.origin.0, self.scale.0, self.size.0);
        let y0 = to(y, self.origin.1, self.scale.1, self.size.1);
        let x1 = to(x + width, self.origin.0, self.scale.0, self.size.0);
        let y1 = to(y + height, self.origin.1, self.scale.1, self.size.1);
        [x0, y0, (x1 - x0).max(1), (y1 - y0).max(1)]
    }
}

/// The share of `image`'s outermost pixels (its one-pixel frame, each corner counted twice)
/// at which `holds` is true: ink along the edge of a picture cut to its ink (`paper.rs`), a
/// table along the edge of a photographed page (`page.rs`).
fn share_of_edge(image: &image::GrayImage, holds: impl Fn(u32, u32) -> bool) -> f64 {
    let (right, bottom) = (image.width() - 1, image.height() - 1);
    let edge: Vec<(u32, u32)> = (0..=right)
        .flat_map(|x| [(x, 0), (x, bottom)])
        .chain((0..=bottom).flat_map(|y| [(0, y), (right, y)]))
        .collect();
    let held = edge.iter().filter(|&&(x, y)| holds(x, y)).count();
    held as f64 / edge.len() as f64
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
        let prepared = prepare_digits(&DynamicImage::ImageLuma8(digit.clone()), true).unwrap();
        assert_eq!(prepared[0].pixels.as_slice(), digit.as_raw().as_slice());
        assert_eq!(prepared[0].bounds, [0, 0, 28, 28]);
        // Off-centre, the same picture is laid out again.
        let moved = GrayImage::from_fn(28, 28, |x, y| {
            *digit.get_pixel(x.saturating_sub(4).max(1), y)
        });
        assert_ne!(
            prepare_digits(&DynamicImage::ImageLuma8(moved.clone()), true).unwrap()[0]
                .pixels
                .as_slice(),
            moved.as_raw().as_slice()
        );
    }

    /// How far `(x, y)` lies from the segment `[x0, y0, x1, y1]`.
    fn distance_to(x: f32, y: f32, [x0, y0, x1, y1]: [f32; 4]) -> f32 {
        let (dx, dy) = (x1 - x0, y1 - y0);
        let along = ((x - x0) * dx + (y - y0) * dy) / (dx * dx + dy * dy).max(f32::EPSILON);
        let t = along.clamp(0.0, 1.0);
        (x - x0 - t * dx).hypot(y - y0 - t * dy)
    }

    /// A digit as a low-resolution scan holds it, cut out to its ink and enlarged: `strokes`
    /// (segments on an 8×8 grid of cells) drawn `pen` cells wide, each cell as dark as the pen
    /// covers it (the strokes' edges faint, as scikit-learn's digits are); the cells without ink
    /// cut away all round, so no paper is left around the digit; dark ink on light paper,
    /// enlarged smoothly (bicubic) to `height` pixels tall.
    fn cut_out_digit(strokes: &[[f32; 4]], pen: f32, height: u32) -> DynamicImage {
        let cells = GrayImage::from_fn(8, 8, |x, y| {
            let (x, y) = (x as f32 + 0.5, y as f32 + 0.5);
            let nearest = strokes
                .iter()
                .map(|&stroke| distance_to(x, y, stroke))
                .fold(f32::INFINITY, f32::min);
            Luma([(255.0 * (pen / 2.0 + 0.5 - nearest).clamp(0.0, 1.0)).round() as u8])
        });
        let inked = |x: u32, y: u32| cells.get_pixel(x, y).0[0] > 0;
        let columns: Vec<u32> = (0..8).filter(|&x| (0..8).any(|y| inked(x, y))).collect();
        let rows: Vec<u32> = (0..8).filter(|&y| (0..8).any(|x| inked(x, y))).collect();
        let (left, top) = (columns[0], rows[0]);
        let (paper, ink) = (235.0, 40.0);
        let cut = GrayImage::from_fn(columns.len() as u32, rows.len() as u32, |x, y| {
            let strength = f32::from(cells.get_pixel(left + x, top + y).0[0]) / 255.0;
            Luma([(paper - (paper - ink) * strength).round() as u8])
        });
        let width = (cut.width() * height).div_ceil(cut.height());
        DynamicImage::ImageLuma8(image::imageops::resize(
            &cut,
            width,
            height,
            image::imageops::FilterType::CatmullRom,
        ))
    }

    #[test]
    fn a_digit_cut_out_to_its_ink_is_one_digit() {
        // A bold 4 (three strokes) and a 1 with its flag: with no paper around them, they fell
        // apart into two or three digits.
        let four = [
            [2.0, 0.5, 1.0, 4.5],
            [1.0, 4.5, 7.0, 4.5],
            [5.5, 1.0, 5.5, 7.5],
        ];
        let one = [[4.5, 0.5, 4.5, 7.5], [4.5, 0.5, 2.5, 2.5]];
        for (name, strokes, pen) in [("4", &four[..], 2.0), ("1", &one[..], 1.2)] {
            for height in [36, 48, 60] {
                let picture = cut_out_digit(strokes, pen, height);
                let found = prepare_digits(&picture, true).unwrap();
                let boxes: Vec<[u32; 4]> = found.iter().map(|digit| digit.bounds).collect();
                assert_eq!(
                    boxes.len(),
                    1,
                    "the {name}, {height} pixels tall: {boxes:?}"
                );
                // The whole digit, top to bottom, not a piece of it.
                assert_eq!(boxes[0][3], height, "the {name}: {boxes:?}");
            }
        }
    }

    #[test]
    fn files_that_are_not_pictures_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.png");
        std::fs::write(&text, "just text").unwrap();
        let err = load_digits(&text, true).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}: not an image", text.display())),
            "{err}"
        );
        let missing = dir.path().join("missing.png");
        let err = load_digits(&missing, true).unwrap_err().to_string();
        assert!(err.contains("cannot read"), "{err}");
        let blank = dir.path().join("blank.png");
        GrayImage::from_pixel(40, 40, Luma([255]))
            .save(&blank)
            .unwrap();
        let err = load_digits(&blank, true).unwrap_err().to_string();
        assert!(
            err.ends_with("the image is blank (no ink to read a digit from)"),
            "{err}"
        );
    }
}
