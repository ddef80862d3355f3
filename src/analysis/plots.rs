//! The pictures a run leaves: training curves and the worst mistakes (the confusion heatmap is
//! `confusion_png.rs`), and the drawing they share.
//!
//! Drawn with plotters into a pixel buffer and saved as PNG with `image`; the font is embedded
//! so the text renders the same on every machine, with or without system fonts.

use std::path::{Path, PathBuf};
use std::sync::Once;

use image::{ImageFormat, RgbImage};
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::analysis::class_report::Mistake;
use crate::data::idx::LabelledImages;
use crate::data::{IMAGE_SIDE, NUM_CLASSES};
use crate::model::LossKind;
use crate::run::metrics::EpochMetrics;

/// The family name the embedded DejaVu Sans is registered under; every text names it.
pub(super) const FONT: &str = "sans-serif";
/// DejaVu Sans (`assets/fonts/`, its licence beside it), embedded in the binary.
static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// A picture that could not be drawn or saved.
#[derive(Debug, thiserror::Error)]
#[error("{}: cannot draw: {reason}", path.display())]
pub(crate) struct PlotError {
    /// The PNG that was to be written.
    pub path: PathBuf,
    /// What plotters or the PNG writer said.
    pub reason: String,
}

/// Registers the embedded font with plotters, once per process; panics only if the embedded
/// file is not a font.
fn register_font() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES)
            .unwrap_or_else(|_| panic!("the embedded font is a valid TrueType file"));
    });
}

/// Draws on a white `width`×`height` canvas and saves it as a PNG at `path`, through a
/// temporary name so a crash never leaves half a picture. Sizes are in pixels.
///
/// Errors: [`PlotError`] naming `path` with `draw`'s error, or the PNG's when it cannot be
/// written.
pub(super) fn render(
    path: &Path,
    (width, height): (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend, plotters::coord::Shift>) -> Result<(), String>,
) -> Result<(), PlotError> {
    register_font();
    let fail = |reason: String| PlotError {
        path: path.to_path_buf(),
        reason,
    };
    let mut buffer = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (width, height)).into_drawing_area();
        draw(&root).map_err(fail)?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    let picture = RgbImage::from_raw(width, height, buffer).expect("buffer sized for the picture");
    crate::fs::atomic_file::write_with(path, |scratch| {
        picture
            .save_with_format(scratch, ImageFormat::Png)
            .map_err(std::io::Error::other)
    })
    .map_err(|e| fail(e.to_string()))
}

/// The training curve's colour: matplotlib's first default colour, blue `#1f77b4`.
const TRAIN_COLOUR: RGBColor = RGBColor(31, 119, 180);
/// The validation curve's colour: matplotlib's second default colour, orange `#ff7f0e`.
const VALID_COLOUR: RGBColor = RGBColor(255, 127, 14);

/// `curves.png`: loss and accuracy per epoch, train and validation, side by side; `loss` names
/// the run's loss (`cross-entropy`, `mse`) in the loss panel's title. 1200×500 pixels; accuracy
/// in percent.
///
/// Errors: [`PlotError`] naming `path` when it cannot be drawn or written.
pub(crate) fn training_curves(
    epochs: &[EpochMetrics],
    loss: LossKind,
    path: &Path,
) -> Result<(), PlotError> {
    // Loss falls and accuracy rises: each legend goes where its curves are not.
    let loss = Panel {
        title: format!("Loss ({loss})"),
        y_label: "loss",
        train: |e| e.train_loss,
        valid: |e| e.valid_loss,
        legend: SeriesLabelPosition::UpperRight,
    };
    let accuracy = Panel {
        title: "Accuracy".to_string(),
        y_label: "accuracy (%)",
        train: |e| e.train_accuracy,
        valid: |e| e.valid_accuracy,
        legend: SeriesLabelPosition::LowerRight,
    };
    render(path, (1200, 500), |root| {
        let (left, right) = root.split_horizontally(600);
        draw_panel(&left, epochs, loss)?;
        draw_panel(&right, epochs, accuracy)
    })
}

/// One chart of `curves.png`: a value per epoch for each split.
struct Panel {
    /// The chart's caption.
    title: String,
    /// The y axis's name, with its unit.
    y_label: &'static str,
    /// The training split's value of an epoch.
    train: fn(&EpochMetrics) -> f64,
    /// The validation split's value of an epoch.
    valid: fn(&EpochMetrics) -> f64,
    /// Where the legend goes: a corner the curves leave free.
    legend: SeriesLabelPosition,
}

/// A part of a picture, drawn on in pixels from its top left corner.
type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// Draws `panel` on `area`: one line with dots per split, epochs along x, and a legend.
/// Errors: plotters' drawing error, as text.
fn draw_panel(area: &Area, epochs: &[EpochMetrics], panel: Panel) -> Result<(), String> {
    let (low, high) = value_range(epochs, &panel);
    let last = epochs.len().max(1) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FONT, 26))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0.5..last + 0.5, low..high)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(panel.y_label)
        .x_labels(epochs.len().clamp(2, 12))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 17))
        .draw()
        .map_err(|e| e.to_string())?;
    for (name, colour, pick) in [
        ("train", TRAIN_COLOUR, panel.train),
        ("valid", VALID_COLOUR, panel.valid),
    ] {
        let points: Vec<(f64, f64)> = epochs.iter().map(|e| (e.epoch as f64, pick(e))).collect();
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(3)))
            .map_err(|e| e.to_string())?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(3))
            });
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 4, colour.filled())),
            )
            .map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .label_font((FONT, 16))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(panel.legend)
        .draw()
        .map_err(|e| e.to_string())
}

/// The panel's y axis: its finite values with a tenth of their span to spare, (0, 1) padded
/// when there are none.
fn value_range(epochs: &[EpochMetrics], panel: &Panel) -> (f64, f64) {
    let values = epochs
        .iter()
        .flat_map(|e| [(panel.train)(e), (panel.valid)(e)])
        .filter(|v| v.is_finite());
    let (low, high) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (low, high) = if low > high { (0.0, 1.0) } else { (low, high) };
    let pad = ((high - low) * 0.1).max(1e-3);
    (low - pad, high + pad)
}

/// `misclassified.png`: the worst mistakes (those given the lowest probability of their true
/// class, in that order) as a grid of the test images, each captioned with its index, the
/// probability the model gave its answer, and true → predicted class. `misclassified` is how
/// many test images the model got wrong in all. `images` is the test split the mistakes index;
/// a mistake whose index it lacks is left out.
///
/// Errors: [`PlotError`] naming `path` when it cannot be drawn or written.
pub(crate) fn misclassified_grid(
    mistakes: &[Mistake],
    misclassified: usize,
    images: &LabelledImages,
    class_names: [&str; NUM_CLASSES],
    path: &Path,
) -> Result<(), PlotError> {
    let rows = mistakes.len().div_ceil(GRID_COLUMNS).max(1);
    let size = (
        (GRID_CELL_W * GRID_COLUMNS as i32 + 20) as u32,
        (GRID_TOP + GRID_CELL_H * rows as i32 + 10) as u32,
    );
    render(path, size, |root| {
        let title = match (mistakes.len(), misclassified) {
            (_, 0) => "No misclassified test images".to_string(),
            (0, all) => format!("{all} test images misclassified; none drawn (--worst 0)"),
            (shown, all) => format!(
                "{shown} of {all} mistakes, least likely true class first (true → predicted)"
            ),
        };
        root.draw(&Text::new(title, (size.0 as i32 / 2, 26), centred(22.0)))
            .map_err(|e| e.to_string())?;
        for (n, mistake) in mistakes.iter().enumerate() {
            let x0 = 10 + (n % GRID_COLUMNS) as i32 * GRID_CELL_W + (GRID_CELL_W - GRID_IMAGE) / 2;
            let y0 = GRID_TOP + (n / GRID_COLUMNS) as i32 * GRID_CELL_H;
            if let Some(pixels) = images.image(mistake.index) {
                draw_mistake(root, (x0, y0), pixels, mistake, class_names)?;
            }
        }
        Ok(())
    })
}

/// Columns of the mistakes grid.
const GRID_COLUMNS: usize = 6;
/// Screen pixels per image pixel in the grid.
const GRID_SCALE: i32 = 4;
/// Side of an enlarged image, in pixels.
const GRID_IMAGE: i32 = IMAGE_SIDE as i32 * GRID_SCALE;
/// Width of a grid cell (the image and the room around it), in pixels.
const GRID_CELL_W: i32 = GRID_IMAGE + 40;
/// Height of a grid cell (the image and its two caption lines), in pixels.
const GRID_CELL_H: i32 = GRID_IMAGE + 44;
/// Room above the grid for the title, in pixels.
const GRID_TOP: i32 = 56;

/// The embedded font at `px` pixels, centred on the point it is drawn at.
fn centred(px: f64) -> TextStyle<'static> {
    TextStyle::from((FONT, px).into_font()).pos(plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Center,
        plotters::style::text_anchor::VPos::Center,
    ))
}

/// One mistake at `(x0, y0)`: the image, enlarged, then its index and the probability of the
/// answer, and true → predicted.
fn draw_mistake(
    root: &Area,
    (x0, y0): (i32, i32),
    pixels: &[u8],
    mistake: &Mistake,
    class_names: [&str; NUM_CLASSES],
) -> Result<(), String> {
    for (i, &value) in pixels.iter().enumerate() {
        let (px, py) = ((i % IMAGE_SIDE) as i32, (i / IMAGE_SIDE) as i32);
        let (x, y) = (x0 + px * GRID_SCALE, y0 + py * GRID_SCALE);
        root.draw(&Rectangle::new(
            [(x, y), (x + GRID_SCALE, y + GRID_SCALE)],
            RGBColor(value, value, value).filled(),
        ))
        .map_err(|e| e.to_string())?;
    }
    let name = |class: u8| class_names[usize::from(class)];
    let captions = [
        format!(
            "#{} ({:.0}%)",
            mistake.index,
            100.0 * mistake.probability_of_prediction
        ),
        format!("{} → {}", name(mistake.label), name(mistake.predicted)),
    ];
    for (line, caption) in captions.into_iter().enumerate() {
        let at = (x0 + GRID_IMAGE / 2, y0 + GRID_IMAGE + 12 + 16 * line as i32);
        root.draw(&Text::new(caption, at, centred(14.0)))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(path: &Path) -> RgbImage {
        image::open(path).unwrap().to_rgb8()
    }

    #[test]
    fn curves_are_a_readable_png() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curves.png");
        let epochs: Vec<EpochMetrics> = (1..=3)
            .map(|epoch| EpochMetrics {
                epoch,
                train_loss: 0.5 / epoch as f64,
                train_accuracy: 90.0 + epoch as f64,
                valid_loss: 0.4 / epoch as f64,
                valid_accuracy: 91.0 + epoch as f64,
                seconds: 1.0,
                train_seconds: 0.75,
            })
            .collect();
        training_curves(&epochs, LossKind::CrossEntropy, &path).unwrap();
        let picture = decoded(&path);
        assert_eq!(picture.dimensions(), (1200, 500));
        let has = |colour: RGBColor| {
            picture
                .pixels()
                .any(|p| p.0 == [colour.0, colour.1, colour.2])
        };
        assert!(has(TRAIN_COLOUR) && has(VALID_COLOUR), "both series drawn");
        let files = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(files, 1, "no scratch file left beside curves.png");
    }

    #[test]
    fn the_grid_has_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let digits = crate::data::DatasetKind::Mnist.class_names();

        let images =
            LabelledImages::from_parts(vec![200; 2 * crate::data::IMAGE_PIXELS], vec![4, 9])
                .unwrap();
        let mistakes: Vec<Mistake> = (0..7)
            .map(|n| Mistake {
                index: n % 2,
                label: 4,
                predicted: 9,
                probability_of_label: 0.01,
                probability_of_prediction: 0.95,
            })
            .collect();
        let grid = dir.path().join("misclassified.png");
        misclassified_grid(&mistakes, 7, &images, digits, &grid).unwrap();
        let picture = decoded(&grid);
        assert_eq!(picture.dimensions(), (6 * 152 + 20, 56 + 2 * 156 + 10));
        assert!(
            picture.pixels().any(|p| p.0 == [200, 200, 200]),
            "digit pixels drawn"
        );
    }

    #[test]
    fn an_unwritable_path_is_an_error_naming_it() {
        let err =
            training_curves(&[], LossKind::Mse, Path::new("no/such/dir/curves.png")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("no/such/dir/curves.png: cannot draw"),
            "{err}"
        );
    }
}
