//! How good a model is and where it fails: per-class scores, the confusion matrix, and the
//! test images it got most wrong.

use serde::{Deserialize, Serialize};

use crate::analysis::calibration::{BINS, Calibration};
use crate::data::NUM_CLASSES;
use crate::model::LossKind;
use crate::model::predict::{Calibrated, TestScore};
use crate::model::reading::{argmax, top_probability};

/// One class's scores in `eval.json`, from the confusion matrix: precision, recall and F1 are
/// fractions (0 to 1), 0 where their denominator is 0 (as scikit-learn's
/// `classification_report` with `zero_division=0`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ClassScores {
    /// Serialized as `digit`, the name scripts read since the first version.
    #[serde(rename = "digit")]
    pub class: u8,
    /// The class's name: the digit itself, or the kind of clothing.
    pub name: String,
    /// Of the images predicted as this class, the fraction that are.
    pub precision: f64,
    /// Of the images of this class, the fraction predicted as it.
    pub recall: f64,
    /// The harmonic mean of precision and recall.
    pub f1: f64,
    /// Test images of this class.
    pub support: usize,
}

/// A test image the model got wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Mistake {
    /// Its index in the test split (from 0), as `infer --index` takes it.
    pub index: usize,
    /// Its true class, 0-9.
    pub label: u8,
    /// The class the model chose, 0-9.
    pub predicted: u8,
    /// What the model gave the true class, a fraction; the lower, the worse the mistake.
    pub probability_of_label: f32,
    /// What the model gave the class it chose, a fraction.
    pub probability_of_prediction: f32,
}

/// `eval.json`: every number `eval` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct EvalReport {
    /// Percent correct (0-100, not a fraction).
    pub accuracy: f64,
    /// Mean of `loss_function` over the images.
    pub loss: f64,
    /// The loss the run trained with, which `loss` is.
    pub loss_function: LossKind,
    /// How many test images were scored.
    pub images: usize,
    /// How many of them the model classified correctly.
    pub correct: usize,
    /// Each class's scores, by class.
    pub classes: Vec<ClassScores>,
    /// `confusion[true][predicted]`: image counts, rows the true class.
    pub confusion: [[usize; NUM_CLASSES]; NUM_CLASSES],
    /// The worst mistakes, lowest probability of the true class first.
    pub worst: Vec<Mistake>,
    /// Whether the model's probabilities mean what they say: the expected calibration error
    /// and its bins.
    pub calibration: Calibration,
    /// The run's temperature (`calibration.json`), when it was calibrated.
    pub temperature: Option<f64>,
    /// The calibration of the probabilities at that temperature and after the run's
    /// top-probability map, which `infer` and `serve` give (`calibration.png` draws these, else
    /// `calibration`'s).
    pub calibrated: Option<Calibration>,
    /// The run's top-probability map (`model::confidence`): slope and offset, when it has one.
    #[serde(default)]
    pub confidence_map: Option<[f64; 2]>,
    /// What the run's threshold for "not a digit" refuses of the test images, when it has one.
    #[serde(default)]
    pub not_a_digit: Option<Refusals>,
    /// Wall time of the model's forward pass over the images, in batches of 1,000, in seconds
    /// (what `bench/speed.py` compares with PyTorch's test pass); 0 until the caller times it.
    #[serde(default)]
    pub test_pass_seconds: f64,
}

/// The test images a calibrated run answers "not a digit" (`model::rejection`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Refusals {
    /// The threshold: a top probability (at the run's temperature) below it is refused.
    pub below: f32,
    /// A reading below this (a fraction) that changes when turned a little is refused too.
    pub unsure_below: f32,
    /// How many test images fall below it.
    pub refused: usize,
    /// Percent correct of the others (0-100).
    pub accuracy_of_the_rest: f64,
}

impl Refusals {
    /// What `threshold` refuses of the test images whose probabilities (at the run's
    /// temperature) are `probabilities`, with their `labels`, beside those not `steady`
    /// (`model::steadiness`, or the network silent on them: `Model::forward_with_silence`),
    /// which are refused too.
    fn new(
        probabilities: &[[f32; NUM_CLASSES]],
        labels: &[u8],
        steady: &[bool],
        threshold: f32,
        unsure_below: f32,
    ) -> Self {
        let (mut refused, mut kept, mut right) = (0usize, 0usize, 0usize);
        for ((row, &label), &steady) in probabilities.iter().zip(labels).zip(steady) {
            let class = argmax(row);
            if !steady || top_probability(row) < threshold {
                refused += 1;
            } else {
                kept += 1;
                right += usize::from(class == label);
            }
        }
        Self {
            below: threshold,
            unsure_below,
            refused,
            accuracy_of_the_rest: 100.0 * right as f64 / kept.max(1) as f64,
        }
    }
}

impl EvalReport {
    /// Builds the report from per-image log-probabilities and labels (paired in order, the
    /// index of each the test split's), keeping `worst_count` mistakes; `steady` says which
    /// images keep their reading when turned a little (`model::steadiness`; all, untested) and
    /// are not read as the network's silence (`Model::forward_with_silence`).
    pub(crate) fn new(
        log_probs: &[[f32; NUM_CLASSES]],
        labels: &[u8],
        steady: &[bool],
        worst_count: usize,
        class_names: [&str; NUM_CLASSES],
        loss_function: LossKind,
        calibrated: Calibrated,
    ) -> Self {
        let overall = TestScore::from_scores(log_probs, labels, loss_function);
        let mut confusion = [[0usize; NUM_CLASSES]; NUM_CLASSES];
        let mut mistakes = Vec::new();
        for (index, (row, &label)) in log_probs.iter().zip(labels).enumerate() {
            let predicted = argmax(row);
            confusion[label as usize][predicted as usize] += 1;
            if predicted != label {
                mistakes.push(Mistake {
                    index,
                    label,
                    predicted,
                    probability_of_label: row[label as usize].exp(),
                    probability_of_prediction: row[predicted as usize].exp(),
                });
            }
        }
        mistakes.sort_by(|a, b| {
            a.probability_of_label
                .total_cmp(&b.probability_of_label)
                .then(a.index.cmp(&b.index))
        });
        mistakes.truncate(worst_count);
        let correct = (0..NUM_CLASSES).map(|d| confusion[d][d]).sum();
        Self {
            accuracy: overall.accuracy,
            loss: overall.loss,
            loss_function,
            images: overall.images,
            correct,
            classes: class_scores(&confusion, class_names),
            confusion,
            worst: mistakes,
            calibration: Calibration::new(log_probs, labels),
            temperature: calibrated.temperature,
            confidence_map: calibrated.confidence.map(|map| [map.slope, map.offset]),
            calibrated: calibrated.temperature.map(|_| {
                Calibration::of_probabilities(&calibrated.probabilities(log_probs), labels)
            }),
            not_a_digit: calibrated.not_a_digit_below.map(|threshold| {
                let probabilities = calibrated.probabilities(log_probs);
                Refusals::new(
                    &probabilities,
                    labels,
                    steady,
                    threshold,
                    calibrated.unsure_below,
                )
            }),
            test_pass_seconds: 0.0,
        }
    }

    /// What the threshold for "not a digit" refuses, as a line of text after a line break;
    /// empty for a run without one.
    fn refusals_line(&self) -> String {
        self.not_a_digit.as_ref().map_or(String::new(), |refusals| {
            format!(
                "\nnot a digit below a top probability of {:.2}%, or below {:.0}% and read otherwise when turned a little, or read as nothing, or shaped like no digit (calibration.json): {} of the {} test images refused ({:.2}%), {:.2}% of the others right",
                100.0 * refusals.below,
                100.0 * refusals.unsure_below,
                refusals.refused,
                self.images,
                100.0 * refusals.refused as f64 / self.images.max(1) as f64,
                refusals.accuracy_of_the_rest
            )
        })
    }

    /// The report as text tables for a terminal.
    pub(crate) fn to_text(&self) -> String {
        let calibrated = match (&self.calibrated, self.temperature) {
            (Some(calibrated), Some(temperature)) => format!(
                ", {:.2}% at calibration.json's temperature {temperature:.4}{}",
                100.0 * calibrated.expected_calibration_error,
                self.confidence_map
                    .map_or(String::new(), |[slope, offset]| format!(
                        " and top-probability map (slope {slope:.3}, offset {offset:.3})"
                    ))
            ),
            _ => String::new(),
        };
        let refusals = self.refusals_line();
        let mut out = format!(
            "accuracy {:.2}% ({}/{}), {} loss {:.4}\ncalibration error {:.2}% (expected calibration error, {BINS} bins){calibrated}{refusals}\n\nclass  precision  recall      f1  support\n",
            self.accuracy,
            self.correct,
            self.images,
            self.loss_function,
            self.loss,
            100.0 * self.calibration.expected_calibration_error,
        );
        for class in &self.classes {
            let named = if class.name == class.class.to_string() {
                String::new()
            } else {
                format!("  {}", class.name)
            };
            out += &format!(
                "{:>5}  {:>9.4}  {:>6.4}  {:>6.4}  {:>7}{named}\n",
                class.class, class.precision, class.recall, class.f1, class.support
            );
        }
        out += "\nconfusion matrix (rows: true class, columns: predicted)\n      ";
        out += &(0..NUM_CLASSES)
            .map(|d| format!("{d:>5}"))
            .collect::<String>();
        for (class, row) in self.confusion.iter().enumerate() {
            out += &format!("\n{class:>5} ");
            out += &row
                .iter()
                .map(|count| format!("{count:>5}"))
                .collect::<String>();
        }
        out.push('\n');
        out
    }
}

/// Each class's precision, recall, F1 and support from `confusion[true][predicted]`.
fn class_scores(
    confusion: &[[usize; NUM_CLASSES]; NUM_CLASSES],
    class_names: [&str; NUM_CLASSES],
) -> Vec<ClassScores> {
    let ratio = |num: usize, den: usize| {
        if den == 0 {
            0.0
        } else {
            num as f64 / den as f64
        }
    };
    (0..NUM_CLASSES)
        .map(|class| {
            let hits = confusion[class][class];
            let support: usize = confusion[class].iter().sum();
            let predicted: usize = confusion.iter().map(|row| row[class]).sum();
            let precision = ratio(hits, predicted);
            let recall = ratio(hits, support);
            let f1 = if precision + recall == 0.0 {
                0.0
            } else {
                2.0 * precision * recall / (precision + recall)
            };
            ClassScores {
                class: class as u8,
                name: class_names[class].to_string(),
                precision,
                recall,
                f1,
                support,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGITS: [&str; NUM_CLASSES] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

    fn scores_for(digit: usize, confidence: f32) -> [f32; NUM_CLASSES] {
        let rest = (1.0 - confidence) / (NUM_CLASSES - 1) as f32;
        let mut row = [rest.ln(); NUM_CLASSES];
        row[digit] = confidence.ln();
        row
    }

    #[test]
    fn counts_precision_recall_and_the_worst_mistakes() {
        // Three 1s: two right, one called 7 (badly). Two 7s: both right.
        let log_probs = [
            scores_for(1, 0.9),
            scores_for(1, 0.8),
            scores_for(7, 0.99),
            scores_for(7, 0.9),
            scores_for(7, 0.6),
        ];
        let labels = [1, 1, 1, 7, 7];
        let report = EvalReport::new(
            &log_probs,
            &labels,
            &[true; 5],
            10,
            DIGITS,
            LossKind::CrossEntropy,
            Calibrated::default(),
        );
        assert_eq!(report.correct, 4);
        assert_eq!(report.accuracy, 80.0);
        assert_eq!(report.confusion[1][1], 2);
        assert_eq!(report.confusion[1][7], 1);
        assert_eq!(report.confusion[7][7], 2);
        assert_eq!(report.confusion.iter().flatten().sum::<usize>(), 5);

        let one = &report.classes[1];
        assert_eq!((one.precision, one.support), (1.0, 3));
        assert!((one.recall - 2.0 / 3.0).abs() < 1e-12);
        let seven = &report.classes[7];
        assert!((seven.precision - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(seven.recall, 1.0);
        assert!((seven.f1 - 0.8).abs() < 1e-12);
        assert_eq!(
            report.classes[3].f1, 0.0,
            "a digit never seen nor predicted scores 0"
        );

        assert_eq!(report.worst.len(), 1);
        assert_eq!(
            (
                report.worst[0].index,
                report.worst[0].label,
                report.worst[0].predicted
            ),
            (2, 1, 7)
        );
        assert!((report.worst[0].probability_of_prediction - 0.99).abs() < 1e-5);
    }

    #[test]
    fn text_has_a_row_per_digit_and_the_matrix() {
        let report = EvalReport::new(
            &[scores_for(3, 0.9)],
            &[3],
            &[true],
            5,
            DIGITS,
            LossKind::CrossEntropy,
            Calibrated::default(),
        );
        let text = report.to_text();
        assert!(
            text.starts_with("accuracy 100.00% (1/1), cross-entropy loss 0.1054"),
            "{text}"
        );
        assert_eq!(
            text.lines()
                .filter(|l| l.trim_start().starts_with(char::is_numeric))
                .count(),
            21
        );
    }
}
