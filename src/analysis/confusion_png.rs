//! `confusion.png`: the confusion matrix as a heatmap.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::analysis::plots::{FONT, PlotError, render};
use crate::data::NUM_CLASSES;

/// Side of one cell, in pixels.
const CELL: i32 = 60;
/// The margin left of the grid (for the class numbers and the axis name), in pixels.
const LEFT: i32 = 90;
/// The margin above the grid (for the title, the axis name and the class numbers), in pixels.
const TOP: i32 = 90;
/// The middle of the grid, across.
const MIDDLE: i32 = LEFT + CELL * NUM_CLASSES as i32 / 2;
/// Dark end of the scale of correct answers, RGB 0-255: blue, `#08306b`, the darkest of
/// ColorBrewer's Blues.
const RIGHT_DARK: (f64, f64, f64) = (8.0, 48.0, 107.0);
/// Dark end of the scale of mistakes, RGB 0-255: red, `#a50f15`, from ColorBrewer's Reds.
const WRONG_DARK: (f64, f64, f64) = (165.0, 15.0, 21.0);

/// The whole picture, drawn on in pixels from its top left corner.
type Canvas<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// Writes the heatmap of `confusion` (`[true class][predicted class]` counts) to `path`, each
/// cell's count written in it. Correct answers (the diagonal) are shaded blue by the share of
/// their row; mistakes red, on their own scale (the most frequent confusion is the darkest), so
/// that they stand out beside the thousands on the diagonal. Classes are numbered;
/// `class_names` that are not the digits themselves are listed under the grid.
///
/// # Errors
/// [`PlotError`] naming `path` when the picture cannot be drawn or written.
pub(crate) fn confusion_heatmap(
    confusion: &[[usize; NUM_CLASSES]; NUM_CLASSES],
    class_names: [&str; NUM_CLASSES],
    path: &Path,
) -> Result<(), PlotError> {
    let digits = class_names
        .iter()
        .enumerate()
        .all(|(n, name)| *name == n.to_string());
    let size = (LEFT + CELL * NUM_CLASSES as i32 + 30) as u32;
    let legend_height = if digits { 10 } else { 60 };
    render(path, (size, size + legend_height), |root| {
        draw_axes(root, if digits { "digit" } else { "class" })?;
        if !digits {
            draw_legend(root, class_names)?;
        }
        draw_cells(root, confusion)
    })
}

/// Writes `text` centred on `at` (pixels), `px` pixels high, in `colour`.
/// Errors: plotters' drawing error, as text.
fn centred_text(
    root: &Canvas,
    text: String,
    at: (i32, i32),
    px: f64,
    colour: RGBColor,
) -> Result<(), String> {
    let style = TextStyle::from((FONT, px).into_font())
        .color(&colour)
        .pos(Pos::new(HPos::Center, VPos::Center));
    root.draw(&Text::new(text, at, style))
        .map_err(|e| e.to_string())
}

/// The title, the class numbers along both sides and the axis names.
fn draw_axes(root: &Canvas, noun: &str) -> Result<(), String> {
    centred_text(root, "Confusion matrix".into(), (MIDDLE, 24), 26.0, BLACK)?;
    centred_text(root, format!("predicted {noun}"), (MIDDLE, 56), 18.0, BLACK)?;
    for class in 0..NUM_CLASSES as i32 {
        let along = class * CELL + CELL / 2;
        centred_text(
            root,
            class.to_string(),
            (LEFT + along, TOP - 14),
            17.0,
            BLACK,
        )?;
        centred_text(
            root,
            class.to_string(),
            (LEFT - 16, TOP + along),
            17.0,
            BLACK,
        )?;
    }
    let vertical =
        TextStyle::from((FONT, 18).into_font().transform(FontTransform::Rotate270)).color(&BLACK);
    root.draw(&Text::new(
        format!("true {noun}"),
        (24, TOP + CELL * 5 + 60),
        vertical,
    ))
    .map_err(|e| e.to_string())
}

/// `0 T-shirt/top · 1 Trouser · ...` in two lines under the grid.
fn draw_legend(root: &Canvas, class_names: [&str; NUM_CLASSES]) -> Result<(), String> {
    let bottom = TOP + CELL * NUM_CLASSES as i32;
    let per_line = NUM_CLASSES / 2;
    for (line, names) in class_names.chunks(per_line).enumerate() {
        let listed: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(n, name)| format!("{} {name}", line * per_line + n))
            .collect();
        let at = (MIDDLE, bottom + 22 + 22 * line as i32);
        centred_text(root, listed.join(" · "), at, 15.0, BLACK)?;
    }
    Ok(())
}

/// Each cell: shaded (square root of the share: of its row on the diagonal, of the most frequent
/// confusion elsewhere), outlined, its count written in white on dark shades and black on light.
/// Errors: plotters' drawing error, as text.
fn draw_cells(
    root: &Canvas,
    confusion: &[[usize; NUM_CLASSES]; NUM_CLASSES],
) -> Result<(), String> {
    let worst_confusion = confusion
        .iter()
        .enumerate()
        .flat_map(|(truth, row)| row.iter().enumerate().filter(move |&(p, _)| p != truth))
        .map(|(_, &count)| count)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    for (truth, row) in confusion.iter().enumerate() {
        let total = row.iter().sum::<usize>().max(1) as f64;
        for (predicted, &count) in row.iter().enumerate() {
            // Square roots: a few confusions among thousands still show.
            let (shade, dark) = if truth == predicted {
                ((count as f64 / total).sqrt(), RIGHT_DARK)
            } else {
                ((count as f64 / worst_confusion).sqrt(), WRONG_DARK)
            };
            let (x, y) = (LEFT + predicted as i32 * CELL, TOP + truth as i32 * CELL);
            let corners = [(x, y), (x + CELL, y + CELL)];
            root.draw(&Rectangle::new(corners, shaded(shade, dark).filled()))
                .map_err(|e| e.to_string())?;
            root.draw(&Rectangle::new(corners, RGBColor(200, 200, 200)))
                .map_err(|e| e.to_string())?;
            let ink = if shade > 0.6 { WHITE } else { BLACK };
            centred_text(
                root,
                count.to_string(),
                (x + CELL / 2, y + CELL / 2),
                15.0,
                ink,
            )?;
        }
    }
    Ok(())
}

/// White mixed towards `dark` by `shade` (0 white, 1 `dark`).
fn shaded(shade: f64, dark: (f64, f64, f64)) -> RGBColor {
    let mix = |to: f64| (255.0 + (to - 255.0) * shade).round() as u8;
    RGBColor(mix(dark.0), mix(dark.1), mix(dark.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mistakes_are_red_on_their_own_scale_and_the_picture_has_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let mut confusion = [[0usize; NUM_CLASSES]; NUM_CLASSES];
        for (d, row) in confusion.iter_mut().enumerate() {
            row[d] = 1000;
        }
        confusion[4][9] = 7;
        let path = dir.path().join("confusion.png");
        let digits = crate::data::DatasetKind::Mnist.class_names();
        confusion_heatmap(&confusion, digits, &path).unwrap();
        let picture = image::open(&path).unwrap().to_rgb8();
        assert_eq!(picture.dimensions(), (720, 730));
        // The only mistake is the darkest red, however few it is beside the diagonal.
        let cell = picture.get_pixel((LEFT + 9 * CELL + 3) as u32, (TOP + 4 * CELL + 3) as u32);
        let red = shaded(1.0, WRONG_DARK);
        assert_eq!(cell.0, [red.0, red.1, red.2]);

        let fashion = crate::data::DatasetKind::FashionMnist.class_names();
        confusion_heatmap(&confusion, fashion, &path).unwrap();
        let picture = image::open(&path).unwrap().to_rgb8();
        assert_eq!(picture.dimensions(), (720, 780), "room for the class names");
    }
}
