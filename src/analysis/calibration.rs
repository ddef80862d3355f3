//! Whether the probabilities mean what they say: the expected calibration error and the
//! reliability diagram of Guo, Pleiss, Sun and Weinberger, "On Calibration of Modern Neural
//! Networks" (ICML 2017, section 2). The images are put in [`BINS`] equal-width bins by the
//! probability of the class predicted (the model's confidence); in a calibrated model each
//! bin's accuracy equals its mean confidence. The error is the gap averaged over the bins,
//! each weighted by its share of the images.

use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::analysis::plots::{FONT, PlotError, render};
use crate::data::NUM_CLASSES;
use crate::model::reading::argmax;
use crate::model::temperature::scaled;

/// Bins of confidence, as Guo et al. use (M = 15).
pub(crate) const BINS: usize = 15;

/// One bin of confidence, `(lower, upper]` (the first also holds `lower`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Bin {
    /// The bin's lowest confidence, a fraction.
    pub lower: f64,
    /// Its highest, a fraction.
    pub upper: f64,
    /// Images whose confidence falls in it.
    pub images: usize,
    /// Their mean confidence, a fraction (0 when the bin is empty).
    pub confidence: f64,
    /// The fraction of them predicted right (0 when the bin is empty).
    pub accuracy: f64,
}

/// The calibration of a model's probabilities on labelled images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Calibration {
    /// Expected calibration error, a fraction (0: calibrated): the mean over the bins of
    /// |accuracy - confidence|, each weighted by its share of the images.
    pub expected_calibration_error: f64,
    /// The [`BINS`] bins, lowest confidence first.
    pub bins: Vec<Bin>,
}

impl Calibration {
    /// The calibration of per-image log-probabilities (natural log) against their labels.
    pub(crate) fn new(log_probs: &[[f32; NUM_CLASSES]], labels: &[u8]) -> Self {
        // (images, summed confidence, correct) per bin.
        let mut sums = [(0usize, 0f64, 0usize); BINS];
        for (row, &label) in log_probs.iter().zip(labels) {
            let predicted = argmax(row);
            let confidence = f64::from(row[usize::from(predicted)].exp()).clamp(0.0, 1.0);
            // (lower, upper]: a confidence of exactly k/15 belongs to the bin below.
            let bin = ((confidence * BINS as f64).ceil() as usize).clamp(1, BINS) - 1;
            let sum = &mut sums[bin];
            sum.0 += 1;
            sum.1 += confidence;
            sum.2 += usize::from(predicted == label);
        }
        let total: usize = sums.iter().map(|sum| sum.0).sum();
        let bins: Vec<Bin> = sums
            .iter()
            .enumerate()
            .map(|(at, &(images, confidence, correct))| {
                let mean = |sum: f64| {
                    if images == 0 {
                        0.0
                    } else {
                        sum / images as f64
                    }
                };
                Bin {
                    lower: at as f64 / BINS as f64,
                    upper: (at + 1) as f64 / BINS as f64,
                    images,
                    confidence: mean(confidence),
                    accuracy: mean(correct as f64),
                }
            })
            .collect();
        let expected_calibration_error = if total == 0 {
            0.0
        } else {
            bins.iter()
                .map(|bin| bin.images as f64 / total as f64 * (bin.accuracy - bin.confidence).abs())
                .sum()
        };
        Self {
            expected_calibration_error,
            bins,
        }
    }

    /// The calibration of per-image probabilities (fractions summing to 1) against their
    /// labels.
    pub(crate) fn of_probabilities(probabilities: &[[f32; NUM_CLASSES]], labels: &[u8]) -> Self {
        let log_probs: Vec<[f32; NUM_CLASSES]> =
            probabilities.iter().map(|row| row.map(f32::ln)).collect();
        Self::new(&log_probs, labels)
    }

    /// The calibration of the same log-probabilities with the logits divided by `temperature`
    /// (temperature scaling, `model::temperature`).
    pub(crate) fn at_temperature(
        log_probs: &[[f32; NUM_CLASSES]],
        labels: &[u8],
        temperature: f64,
    ) -> Self {
        let scaled: Vec<_> = log_probs
            .iter()
            .map(|row| scaled(row, temperature))
            .collect();
        Self::new(&scaled, labels)
    }
}

/// The bars' colour: matplotlib's first default colour, blue `#1f77b4`.
const BAR_COLOUR: RGBColor = RGBColor(31, 119, 180);
/// The gaps' colour: matplotlib's red `#d62728`, light.
const GAP_COLOUR: RGBColor = RGBColor(214, 39, 40);

/// A chart of confidence (x) against accuracy (y), both 0 to 1.
type Chart<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// `calibration.png`: the reliability diagram, each bin's accuracy against its confidence (a
/// calibrated model's bars reach the diagonal), with the gap to the diagonal shaded and the
/// expected calibration error in the title (with the `temperature` the probabilities were
/// divided at, when they were). 700×600 pixels.
///
/// Errors: [`PlotError`] naming `path` when it cannot be drawn or written.
pub(crate) fn reliability_diagram(
    calibration: &Calibration,
    temperature: Option<f64>,
    path: &std::path::Path,
) -> Result<(), PlotError> {
    render(path, (700, 600), |root| {
        let at = temperature.map_or(String::new(), |t| format!(", temperature {t:.3}"));
        let title = format!(
            "Reliability: expected calibration error {:.2}% ({BINS} bins{at})",
            100.0 * calibration.expected_calibration_error
        );
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 20))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("confidence (probability of the class predicted)")
            .y_desc("accuracy")
            .label_style((FONT, 14))
            .draw()
            .map_err(|e| e.to_string())?;
        draw_bins(&mut chart, &calibration.bins)?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(|e| e.to_string())
    })
}

/// Each non-empty bin's accuracy as a bar, its gap to its mean confidence shaded, and the
/// diagonal a calibrated model's bars reach; each labelled for the legend.
fn draw_bins(chart: &mut Chart<'_, '_>, bins: &[Bin]) -> Result<(), String> {
    let filled = bins.iter().filter(|bin| bin.images > 0);
    let swatch = |colour: ShapeStyle| {
        move |(x, y): (i32, i32)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour)
    };
    chart
        .draw_series(filled.clone().map(|bin| {
            let bar = [(bin.lower, 0.0), (bin.upper, bin.accuracy)];
            Rectangle::new(bar, BAR_COLOUR.mix(0.8).filled())
        }))
        .map_err(|e| e.to_string())?
        .label("accuracy of the bin's images")
        .legend(swatch(BAR_COLOUR.filled()));
    chart
        .draw_series(filled.map(|bin| {
            let (low, high) = if bin.accuracy < bin.confidence {
                (bin.accuracy, bin.confidence)
            } else {
                (bin.confidence, bin.accuracy)
            };
            Rectangle::new(
                [(bin.lower, low), (bin.upper, high)],
                GAP_COLOUR.mix(0.35).filled(),
            )
        }))
        .map_err(|e| e.to_string())?
        .label("gap to the bin's mean confidence")
        .legend(swatch(GAP_COLOUR.mix(0.35).filled()));
    chart
        .draw_series(LineSeries::new(
            [(0.0, 0.0), (1.0, 1.0)],
            BLACK.stroke_width(1),
        ))
        .map_err(|e| e.to_string())?
        .label("calibrated")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 12, y)], BLACK));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row of log-probabilities giving `class` probability `p` and the rest the remainder
    /// in equal shares.
    fn row(class: usize, p: f32) -> [f32; NUM_CLASSES] {
        let rest = (1.0 - p) / (NUM_CLASSES - 1) as f32;
        std::array::from_fn(|c| if c == class { p.ln() } else { rest.ln() })
    }

    #[test]
    fn a_model_right_as_often_as_it_says_has_no_calibration_error() {
        // 90% confident, right 9 times in 10.
        let rows: Vec<_> = (0..100).map(|_| row(3, 0.9)).collect();
        let labels: Vec<u8> = (0..100).map(|i| if i % 10 == 0 { 4 } else { 3 }).collect();
        let calibration = Calibration::new(&rows, &labels);
        assert!(
            calibration.expected_calibration_error < 1e-6,
            "{calibration:?}"
        );
        assert_eq!(calibration.bins.len(), BINS);
        assert_eq!(
            calibration.bins.iter().map(|bin| bin.images).sum::<usize>(),
            100
        );
    }

    #[test]
    fn an_overconfident_model_has_the_gap_weighted_by_its_images() {
        // Half the images 99% confident and right half the time; half 60% and always right.
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for i in 0..50 {
            rows.push(row(1, 0.99));
            labels.push(if i % 2 == 0 { 1 } else { 2 });
            rows.push(row(5, 0.62));
            labels.push(5);
        }
        let calibration = Calibration::new(&rows, &labels);
        let expected = 0.5 * (0.99f64 - 0.5).abs() + 0.5 * (1.0f64 - 0.62).abs();
        assert!(
            (calibration.expected_calibration_error - expected).abs() < 1e-6,
            "{} vs {expected}",
            calibration.expected_calibration_error
        );
        // 0.62 lies in (9/15, 10/15]; 0.99 in the last bin.
        assert_eq!(calibration.bins[9].images, 50);
        assert_eq!(calibration.bins[14].images, 50);
        assert!((calibration.bins[14].accuracy - 0.5).abs() < 1e-9);
    }

    #[test]
    fn the_reliability_diagram_is_drawn() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calibration.png");
        let rows: Vec<_> = (0..30)
            .map(|i| row(i % 10, 0.5 + 0.015 * i as f32))
            .collect();
        let labels: Vec<u8> = (0..30).map(|i| (i % 10) as u8).collect();
        reliability_diagram(&Calibration::new(&rows, &labels), Some(1.2), &path).unwrap();
        let picture = image::open(&path).unwrap();
        assert_eq!((picture.width(), picture.height()), (700, 600));
    }
}
