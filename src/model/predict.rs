//! Using a trained model: class probabilities for images (at a run's temperature), a picture's
//! digits read (a wide one as its halves, an unsure one tested for steadiness), and accuracy
//! over a labelled set.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use serde::Serialize;

use crate::data::idx::LabelledImages;
use crate::data::images_tensor;
use crate::data::{IMAGE_PIXELS, NUM_CLASSES};
use crate::model::confidence::ConfidenceMap;
use crate::model::reading::{Region, argmax, top_probability};
use crate::model::shape::{Unlike, unlike_a_digit};
use crate::model::steadiness::{UNSURE_BELOW, steadiness};
use crate::model::{LossKind, Model};
use crate::picture::{Cut, PreparedDigit};

/// Images per forward pass when scoring many: large enough to keep the backend busy, small
/// enough that a 10,000-image test split does not sit in memory as activations at once.
const CHUNK: usize = 1000;

/// How a run reads its model's logits, from its `calibration.json` (`calibrate`); the default,
/// for a run not calibrated, reads them as they are and refuses nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Calibrated {
    /// The logits are divided by it before the softmax (`model::temperature`).
    pub temperature: Option<f64>,
    /// A region whose top probability (as [`Calibrated::probabilities`] gives it: after the
    /// temperature and the map) is below this is "not a digit" (`model::rejection`): a
    /// fraction, 0 to 1.
    pub not_a_digit_below: Option<f32>,
    /// A region read below this (top probability, a fraction) is tested for steadiness
    /// (`model::steadiness`) when there is a threshold: [`UNSURE_BELOW`], or lower where
    /// `calibrate` chose so.
    pub unsure_below: f32,
    /// The top probability is mapped after the temperature (`model::confidence`).
    pub confidence: Option<ConfidenceMap>,
}

impl Calibrated {
    /// Probabilities from the model's log-probabilities `log_probs`, as the run reads them: the
    /// logits divided by its temperature, then its top probabilities mapped
    /// (`model::confidence`), when it has them.
    pub(crate) fn probabilities(
        &self,
        log_probs: &[[f32; NUM_CLASSES]],
    ) -> Vec<[f32; NUM_CLASSES]> {
        let scaled = at_temperature(log_probs, self.temperature);
        scaled.iter().map(|row| self.mapped(row)).collect()
    }

    /// `row` (probabilities at the run's temperature) with its top probability mapped
    /// (`model::confidence`), when the run has a map; as it is otherwise.
    pub(crate) fn mapped(&self, row: &[f32; NUM_CLASSES]) -> [f32; NUM_CLASSES] {
        self.confidence.map_or(*row, |map| map.apply(row))
    }
}

impl Default for Calibrated {
    fn default() -> Self {
        Self {
            temperature: None,
            not_a_digit_below: None,
            unsure_below: UNSURE_BELOW,
            confidence: None,
        }
    }
}

/// A prepared digit as the model read it.
#[derive(Debug, Clone)]
pub(crate) struct ReadDigit {
    /// What the model received, and where it lies in the picture.
    pub digit: PreparedDigit,
    /// Its probabilities, as the run reads them (`Calibrated::probabilities`).
    pub probabilities: [f32; NUM_CLASSES],
    /// See [`Region::steady`].
    pub steady: bool,
    /// See [`Region::silent`].
    pub silent: bool,
    /// See [`Region::unlike`].
    pub unlike: Option<Unlike>,
}

impl ReadDigit {
    /// The region `Reading` (`model::reading`) judges.
    pub(crate) fn region(&self) -> Region {
        Region {
            probabilities: self.probabilities,
            bounds: self.digit.bounds,
            steady: self.steady,
            silent: self.silent,
            unlike: self.unlike,
        }
    }
}

/// Log-probabilities (log-softmax of the logits, natural log) for each image in `pixels` (784
/// bytes each, 0-255), one row of 10 per image; the model runs on `CHUNK` images at a time.
pub(crate) fn log_probabilities(
    model: &Model,
    pixels: &[u8],
    device: &Device,
) -> Vec<[f32; NUM_CLASSES]> {
    pixels
        .chunks(CHUNK * IMAGE_PIXELS)
        .flat_map(|chunk| log_softmax_rows(model.forward(images_tensor(chunk, device))))
        .collect()
}

/// [`log_probabilities`], and for each image whether the network is silent on it
/// ([`Model::forward_with_silence`]): a reading that is "not a digit" whatever its probabilities.
pub(crate) fn log_probabilities_and_silence(
    model: &Model,
    pixels: &[u8],
    device: &Device,
) -> (Vec<[f32; NUM_CLASSES]>, Vec<bool>) {
    let mut rows = Vec::with_capacity(pixels.len() / IMAGE_PIXELS);
    let mut silence = Vec::with_capacity(pixels.len() / IMAGE_PIXELS);
    for chunk in pixels.chunks(CHUNK * IMAGE_PIXELS) {
        let (logits, silent) = model.forward_with_silence(images_tensor(chunk, device));
        rows.extend(log_softmax_rows(logits));
        silence.extend(silent);
    }
    (rows, silence)
}

/// The log-softmax of `logits` `[n, 10]`, one row per image.
fn log_softmax_rows(logits: Tensor<2>) -> Vec<[f32; NUM_CLASSES]> {
    let values: Vec<f32> = log_softmax(logits, 1)
        .into_data()
        .try_into_vec_as::<f32>()
        .expect("log-softmax output converts to f32");
    values
        .chunks_exact(NUM_CLASSES)
        .map(|row| row.try_into().expect("rows of NUM_CLASSES"))
        .collect()
}

/// The probabilities of an image the network is silent on, as the run reads them: the output
/// layer's bias alone through the softmax, the temperature and the map
/// ([`Model::forward_with_silence`]).
pub(crate) fn silent_reading(model: &Model, calibrated: Calibrated) -> [f32; NUM_CLASSES] {
    let log_probs = crate::model::temperature::scaled(&model.output_bias(), 1.0);
    calibrated.probabilities(&[log_probs])[0]
}

/// Softmax probabilities (fractions summing to 1) for each image in `pixels` (784 bytes each),
/// one row of 10 per image.
pub(crate) fn probabilities(
    model: &Model,
    pixels: &[u8],
    device: &Device,
) -> Vec<[f32; NUM_CLASSES]> {
    log_probabilities(model, pixels, device)
        .into_iter()
        .map(|row| row.map(f32::exp))
        .collect()
}

/// [`probabilities`], the logits divided by `temperature` first when there is one (a calibrated
/// run, `model::temperature`).
pub(crate) fn probabilities_at(
    model: &Model,
    pixels: &[u8],
    device: &Device,
    temperature: Option<f64>,
) -> Vec<[f32; NUM_CLASSES]> {
    at_temperature(&log_probabilities(model, pixels, device), temperature)
}

/// Probabilities from the model's log-probabilities `log_probs`, its logits divided by
/// `temperature` first when there is one (a calibrated run, `model::temperature`).
pub(crate) fn at_temperature(
    log_probs: &[[f32; NUM_CLASSES]],
    temperature: Option<f64>,
) -> Vec<[f32; NUM_CLASSES]> {
    log_probs
        .iter()
        .map(|row| match temperature {
            Some(temperature) => crate::model::temperature::scaled(row, temperature).map(f32::exp),
            None => row.map(f32::exp),
        })
        .collect()
}

/// A digit that may be two touching digits is read as the halves of its first-choice cut (the
/// middle's thinnest column) when the model gives the whole less than this probability...
const UNSURE_WHOLE: f32 = 0.7;
/// ...or as those of another cut when less than this: the model hardly reads the whole as a
/// digit (two touching digits are mostly read as none, every class alike, since Outlier
/// Exposure trains on such pairs). Offered at 0.7 too, the other cuts split an unsure 9 of the
/// real scans into a sliver and a stem read as two 1s.
const HARDLY_A_DIGIT: f32 = 0.35;
/// ...and each half at least this: a clear digit stays whole, two clear digits are two. Chosen
/// with `bench/real_pictures.py --seed 1` and the recipe: 0.9 and 0.95 split 6 of 1,200 single
/// digits; these split none and read 2 points more clean and photographed numbers.
const SURE_HALF: f32 = 0.98;

/// Each picture's digits with their probabilities (as the run reads them,
/// [`Calibrated::probabilities`]), left to right; a digit offered cut in two
/// (`PreparedDigit::cuts`) is replaced by a cut's halves when the model reads the whole
/// unsurely ([`UNSURE_WHOLE`]) and both halves surely ([`SURE_HALF`]), on its probabilities at
/// the temperature (the bounds were chosen on those; the top-probability map would move them).
/// One forward pass for every digit and half of every picture; a run with a threshold for "not
/// a digit" also reads the unsure digits turned and shrunk (`model::steadiness`), in one more.
pub(crate) fn read_digits(
    model: &Model,
    pictures: Vec<Vec<PreparedDigit>>,
    device: &Device,
    calibrated: Calibrated,
) -> Vec<Vec<ReadDigit>> {
    let read = |pixels: &[u8]| probabilities_at(model, pixels, device, calibrated.temperature);
    let read_with_silence = |pixels: &[u8]| {
        let (log_probs, silence) = log_probabilities_and_silence(model, pixels, device);
        at_temperature(&log_probs, calibrated.temperature)
            .into_iter()
            .zip(silence)
    };
    let pixels: Vec<u8> = pictures
        .iter()
        .flatten()
        .flat_map(|digit| {
            let halves = digit.cuts.iter().flat_map(|cut| &cut.halves);
            std::iter::once(digit).chain(halves).flat_map(|d| d.pixels)
        })
        .collect();
    let mut rows = read_with_silence(&pixels);
    let mut chosen: Vec<Vec<ReadDigit>> = pictures
        .into_iter()
        .map(|digits| choose_halves(digits, &mut rows))
        .collect();
    for read in chosen.iter_mut().flatten() {
        read.probabilities = calibrated.mapped(&read.probabilities);
    }
    if calibrated.not_a_digit_below.is_some() {
        let all: Vec<&ReadDigit> = chosen.iter().flatten().collect();
        let pixels: Vec<u8> = all.iter().flat_map(|read| read.digit.pixels).collect();
        let rows: Vec<_> = all.iter().map(|read| read.probabilities).collect();
        let mut steady = steadiness(&pixels, &rows, calibrated.unsure_below, read).into_iter();
        for read in chosen.iter_mut().flatten() {
            read.steady = steady.next().expect("a flag per digit");
        }
    }
    chosen
}

/// An image's probabilities (at the run's temperature) and whether the network was silent on
/// it ([`Model::forward_with_silence`]).
type RowRead = ([f32; NUM_CLASSES], bool);

/// One picture's digits with their rows from `rows` (each digit's, then its cuts' halves'),
/// each digit kept whole or replaced by the halves of one of its cuts (see [`read_digits`]): of
/// the cuts the whole's probability allows whose halves are both sure, the one whose less sure
/// half is surest.
fn choose_halves(
    digits: Vec<PreparedDigit>,
    rows: &mut impl Iterator<Item = RowRead>,
) -> Vec<ReadDigit> {
    let read_digit = |digit: PreparedDigit, (probabilities, silent)| ReadDigit {
        unlike: unlike_a_digit(&digit.pixels),
        digit,
        probabilities,
        steady: true,
        silent,
    };
    let mut read = Vec::with_capacity(digits.len());
    for mut digit in digits {
        let whole_read = rows.next().expect("a row per image");
        let whole = top_probability(&whole_read.0);
        let cuts: Vec<(Cut, [RowRead; 2])> = std::mem::take(&mut digit.cuts)
            .into_iter()
            .map(|cut| {
                (
                    cut,
                    [rows.next().expect("a row"), rows.next().expect("a row")],
                )
            })
            .collect();
        let less_sure =
            |rows: &[RowRead; 2]| top_probability(&rows[0].0).min(top_probability(&rows[1].0));
        let allowed = |cut: &Cut| {
            whole
                < if cut.first_choice {
                    UNSURE_WHOLE
                } else {
                    HARDLY_A_DIGIT
                }
        };
        let best = cuts
            .into_iter()
            .filter(|(cut, rows)| allowed(cut) && less_sure(rows) >= SURE_HALF)
            // The first of the surest: the first choice when it reads as surely as another.
            .min_by(|a, b| less_sure(&b.1).total_cmp(&less_sure(&a.1)));
        match best {
            Some((
                Cut {
                    halves: [left, right],
                    ..
                },
                [left_row, right_row],
            )) => {
                read.extend([read_digit(left, left_row), read_digit(right, right_row)]);
            }
            None => read.push(read_digit(digit, whole_read)),
        }
    }
    read
}

/// Percent (0-100) of the rows of `log_probs` whose most probable class is their label
/// (paired in order); 0 for none.
pub(crate) fn accuracy(log_probs: &[[f32; NUM_CLASSES]], labels: &[u8]) -> f64 {
    let correct = (log_probs.iter().zip(labels))
        .filter(|&(row, &label)| argmax(row) == label)
        .count();
    100.0 * correct as f64 / labels.len().max(1) as f64
}

/// How well a model does on a labelled set (the test split): accuracy and mean loss.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct TestScore {
    /// Percent correct (0-100, not a fraction).
    pub accuracy: f64,
    /// Mean of `loss_function` over the images.
    pub loss: f64,
    /// The loss the model was trained with, which `loss` is.
    pub loss_function: LossKind,
    /// How many images were scored.
    pub images: usize,
}

impl TestScore {
    /// Accuracy and mean loss from per-image log-probabilities and true labels (paired in
    /// order); no images give 0 for both.
    pub(crate) fn from_scores(
        log_probs: &[[f32; NUM_CLASSES]],
        labels: &[u8],
        loss_function: LossKind,
    ) -> Self {
        let images = labels.len();
        let loss_sum: f64 = log_probs
            .iter()
            .zip(labels)
            .map(|(row, &label)| image_loss(row, label, loss_function))
            .sum();
        Self {
            accuracy: accuracy(log_probs, labels),
            loss: loss_sum / images.max(1) as f64,
            loss_function,
            images,
        }
    }
}

/// One image's loss, as `Model::forward_classification` computes it for a batch: cross-entropy,
/// or the mean squared difference between the probabilities and the one-hot target.
fn image_loss(log_probs: &[f32; NUM_CLASSES], label: u8, loss_function: LossKind) -> f64 {
    match loss_function {
        LossKind::CrossEntropy => -f64::from(log_probs[label as usize]),
        LossKind::Mse => {
            let squares: f64 = log_probs
                .iter()
                .enumerate()
                .map(|(class, &lp)| {
                    let target = if class == label as usize { 1.0 } else { 0.0 };
                    (f64::from(lp).exp() - target).powi(2)
                })
                .sum();
            squares / NUM_CLASSES as f64
        }
    }
}

/// Accuracy and mean loss of `model` over `data`.
pub(crate) fn test_score(
    model: &Model,
    data: &LabelledImages,
    device: &Device,
    loss_function: LossKind,
) -> TestScore {
    TestScore::from_scores(
        &log_probabilities(model, data.pixels(), device),
        data.labels(),
        loss_function,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_rows::row;

    /// A digit 20 wide at `x`, cut in two at each of `cuts` (columns from its left edge; the
    /// first the first choice).
    fn digit(x: u32, cuts: &[u32]) -> PreparedDigit {
        let part = |x: u32, width: u32| PreparedDigit {
            pixels: [0; IMAGE_PIXELS],
            bounds: [x, 0, width, 20],
            cuts: Vec::new(),
        };
        PreparedDigit {
            pixels: [0; IMAGE_PIXELS],
            bounds: [x, 0, 20, 20],
            cuts: cuts
                .iter()
                .enumerate()
                .map(|(at, &cut)| Cut {
                    halves: [part(x, cut), part(x + cut, 20 - cut)],
                    first_choice: at == 0,
                })
                .collect(),
        }
    }

    /// A row the network was not silent on, as `choose_halves` takes it.
    fn loud(row: [f32; NUM_CLASSES]) -> ([f32; NUM_CLASSES], bool) {
        (row, false)
    }

    #[test]
    fn a_region_the_network_is_silent_on_is_read_so_and_refused_by_a_calibrated_run() {
        use crate::data::DatasetKind;
        use crate::model::reading::Reading;
        let _random = crate::random_generator_lock();
        let device = Device::flex();
        let mut model = crate::model::ModelConfig::new().init(&device);
        // Any threshold at all: the silent region is refused whatever its top probability.
        let calibrated = Calibrated {
            not_a_digit_below: Some(0.0),
            ..Calibrated::default()
        };
        let read = |model: &Model| {
            read_digits(model, vec![vec![digit(0, &[])]], &device, calibrated)[0][0].clone()
        };
        let region = |read: &ReadDigit| {
            Reading::new(
                &[read.region()],
                DatasetKind::Mnist,
                Some(0.0),
                UNSURE_BELOW,
            )
        };
        // Freshly initialised, some hidden units respond: a digit, however unsure.
        let loud = read(&model);
        assert!(!loud.silent);
        assert!(region(&loud).number.is_some());
        // Every hidden unit off: read as the output layer's bias alone, and refused.
        let hidden = &mut model.hidden[0];
        hidden.weight = hidden.weight.clone().map(|w| w.zeros_like());
        hidden.bias = hidden.bias.clone().map(|b| b.map(|b| b.ones_like().neg()));
        let silent = read(&model);
        assert!(silent.silent);
        assert_eq!(region(&silent).number, None);
        let expected = silent_reading(&model, calibrated);
        for (got, want) in silent.probabilities.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{got} {want}");
        }
    }

    #[test]
    fn touching_digits_are_two_only_when_the_whole_is_unsure_and_both_halves_are_sure() {
        // An unsure whole (a 1 against a 0, read 60% as a 0) whose halves read 99% a 1 and a 0.
        let mut rows = vec![row(0, 0.6), row(1, 0.99), row(0, 0.99)]
            .into_iter()
            .map(loud);
        let read = choose_halves(vec![digit(0, &[10])], &mut rows);
        let classes: Vec<u8> = read
            .iter()
            .map(|read| argmax(&read.probabilities))
            .collect();
        assert_eq!(classes, [1, 0]);
        assert_eq!(read[1].digit.bounds, [10, 0, 10, 20]);
        // A sure whole stays whole, whatever its halves read.
        let mut rows = vec![row(8, 0.97), row(0, 0.99), row(0, 0.99)]
            .into_iter()
            .map(loud);
        assert_eq!(choose_halves(vec![digit(0, &[10])], &mut rows).len(), 1);
        // So does an unsure whole with an unsure half.
        let mut rows = vec![row(0, 0.6), row(1, 0.99), row(7, 0.8)]
            .into_iter()
            .map(loud);
        assert_eq!(choose_halves(vec![digit(0, &[10])], &mut rows).len(), 1);
        // A digit without halves takes one row; the next digit's rows follow in order.
        let mut rows = vec![row(4, 0.5), row(0, 0.6), row(1, 0.99), row(0, 0.99)]
            .into_iter()
            .map(loud);
        let read = choose_halves(vec![digit(0, &[]), digit(30, &[10])], &mut rows);
        let classes: Vec<u8> = read
            .iter()
            .map(|read| argmax(&read.probabilities))
            .collect();
        assert_eq!(classes, [4, 1, 0]);
    }

    #[test]
    fn another_cut_is_taken_only_when_the_whole_hardly_reads_as_a_digit_and_the_surest_wins() {
        // A 1 against a 6, cut in the middle (read 0.9 and 0.99) and near the left edge (both
        // 0.999): with the whole at 60% only the middle may be taken, and its halves are not sure.
        let pair = || digit(0, &[10, 4]);
        let rows = |whole| {
            vec![
                whole,
                row(1, 0.9),
                row(6, 0.99),
                row(1, 0.999),
                row(6, 0.999),
            ]
        };
        let read = choose_halves(vec![pair()], &mut rows(row(0, 0.6)).into_iter().map(loud));
        assert_eq!(read.len(), 1);
        // Hardly read as a digit (every class alike): the edge cut, its halves where it cut.
        let read = choose_halves(vec![pair()], &mut rows(row(4, 0.13)).into_iter().map(loud));
        let bounds: Vec<[u32; 4]> = read.iter().map(|read| read.digit.bounds).collect();
        assert_eq!(bounds, [[0, 0, 4, 20], [4, 0, 16, 20]]);
        // Of cuts read alike, the first choice.
        let alike = vec![
            row(4, 0.13),
            row(1, 0.99),
            row(6, 0.99),
            row(1, 0.99),
            row(6, 0.99),
        ];
        let read = choose_halves(vec![pair()], &mut alike.into_iter().map(loud));
        assert_eq!(read[0].digit.bounds, [0, 0, 10, 20]);
    }

    #[test]
    fn evaluation_counts_hits_and_averages_the_loss() {
        let ln = |p: f32| p.ln();
        let mut confident = [ln(0.01); NUM_CLASSES];
        confident[4] = ln(0.91);
        let mut wrong = [ln(0.05); NUM_CLASSES];
        wrong[2] = ln(0.55);
        let evaluation =
            TestScore::from_scores(&[confident, wrong], &[4, 3], LossKind::CrossEntropy);
        assert_eq!(evaluation.accuracy, 50.0);
        let expected = (-(0.91f64.ln()) - 0.05f64.ln()) / 2.0;
        assert!(
            (evaluation.loss - expected).abs() < 1e-6,
            "{}",
            evaluation.loss
        );
        assert_eq!(argmax(&[0.0; NUM_CLASSES]), 0);
    }

    #[test]
    fn probabilities_sum_to_one_and_evaluation_counts_every_image() {
        let _random = crate::random_generator_lock();
        let device = Device::flex();
        let model = crate::model::ModelConfig::new().init(&device);
        let data = LabelledImages::from_parts(
            (0..3 * IMAGE_PIXELS).map(|i| (i % 251) as u8).collect(),
            vec![1, 2, 3],
        )
        .unwrap();
        let probs = probabilities(&model, data.pixels(), &device);
        assert_eq!(probs.len(), 3);
        for row in &probs {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
        let evaluation = test_score(&model, &data, &device, LossKind::CrossEntropy);
        assert_eq!(evaluation.images, 3);
        assert!((0.0..=100.0).contains(&evaluation.accuracy));
        assert!(evaluation.loss.is_finite() && evaluation.loss > 0.0);
    }

    #[test]
    fn the_mse_loss_matches_the_models_own_for_a_batch() {
        let _random = crate::random_generator_lock();
        let device = Device::flex();
        let model = crate::model::ModelConfig::new()
            .init(&device)
            .with_loss(LossKind::Mse);
        let data = LabelledImages::from_parts(
            (0..4 * IMAGE_PIXELS).map(|i| (i % 253) as u8).collect(),
            vec![0, 3, 9, 3],
        )
        .unwrap();
        let targets = Tensor::<1, Int>::from_data(
            TensorData::new(data.labels().iter().map(|&l| i64::from(l)).collect(), [4]),
            &device,
        );
        let batch_loss: f32 = model
            .forward_classification(images_tensor(data.pixels(), &device), targets)
            .loss
            .into_scalar::<f32>();
        let evaluation = test_score(&model, &data, &device, LossKind::Mse);
        assert!(
            (evaluation.loss - f64::from(batch_loss)).abs() < 1e-6,
            "{} vs {batch_loss}",
            evaluation.loss
        );
        assert_eq!(evaluation.loss_function, LossKind::Mse);
    }
}
