//! Using a trained model: class probabilities for images, and accuracy over a labelled set.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use serde::Serialize;

use crate::data::idx::LabelledImages;
use crate::data::images_tensor;
use crate::data::{DatasetKind, IMAGE_PIXELS, NUM_CLASSES};
use crate::model::steadiness::steadiness;
use crate::model::{LossKind, Model};
use crate::picture::PreparedDigit;

/// Images per forward pass when scoring many: large enough to keep the backend busy, small
/// enough that a 10,000-image test split does not sit in memory as activations at once.
const CHUNK: usize = 1000;

/// One class's probability.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct Guess {
    /// 0-9.
    pub class: u8,
    /// Its probability, a fraction (0 to 1).
    pub probability: f32,
}

/// What the model answers for one image, in the one schema `infer --json` and `serve`'s
/// `/api/predict` both use (README, "Using a model").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Prediction {
    /// The most probable class, 0-9.
    pub class: u8,
    /// Its name: the digit itself, or the kind of clothing.
    pub name: &'static str,
    /// Its probability, a fraction.
    pub probability: f32,
    /// The three most probable classes, most probable first.
    pub top3: Vec<NamedGuess>,
    /// All ten probabilities (fractions summing to 1), by class.
    pub probabilities: [f32; NUM_CLASSES],
}

/// A class, its name and its probability (a fraction).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct NamedGuess {
    /// The class, 0-9.
    pub class: u8,
    /// Its name: the digit itself, or the kind of clothing.
    pub name: &'static str,
    /// Its probability, a fraction (0 to 1).
    pub probability: f32,
}

impl Prediction {
    /// The answer for one image's `probabilities`, with `dataset`'s class names.
    pub(crate) fn new(probabilities: [f32; NUM_CLASSES], dataset: DatasetKind) -> Self {
        let names = dataset.class_names();
        let top3: Vec<NamedGuess> = top_k(&probabilities, 3)
            .into_iter()
            .map(|guess| NamedGuess {
                class: guess.class,
                name: names[usize::from(guess.class)],
                probability: guess.probability,
            })
            .collect();
        Self {
            class: top3[0].class,
            name: top3[0].name,
            probability: top3[0].probability,
            top3,
            probabilities,
        }
    }
}

/// How a run reads its model's logits, from its `calibration.json` (`calibrate`); the default,
/// for a run not calibrated, reads them as they are and refuses nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Calibrated {
    /// The logits are divided by it before the softmax (`model::temperature`).
    pub temperature: Option<f64>,
    /// A region whose top probability (at the temperature) is below this is "not a digit"
    /// (`model::rejection`): a fraction, 0 to 1.
    pub not_a_digit_below: Option<f32>,
}

/// What the model reads in one picture, in the one schema `infer --json` and `serve`'s
/// `/api/predict` both use: the number its digits make, each digit with its box, and for a
/// picture of one digit (or one item of clothing) the prediction as a single image has it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Reading {
    /// The picture's one prediction, or `"class": null` for a number of several digits and for
    /// a picture holding no digit.
    #[serde(flatten)]
    pub whole: Whole,
    /// The digits' classes, left to right (`"2026"`); `null` when no region is a digit, and for
    /// a dataset whose classes are not digits.
    pub number: Option<String>,
    /// Each digit, left to right.
    pub digits: Vec<DigitReading>,
    /// The regions that are not digits (their top probability below the run's threshold), left
    /// to right, each with the model's best guess: left out of `number`.
    pub not_digits: Vec<DigitReading>,
    /// Why nothing was read, when `digits` is empty: "not a digit: ...".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A picture's one prediction, when it holds one digit.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub(crate) enum Whole {
    /// One digit: its prediction.
    Digit(Prediction),
    /// Several digits: no one class (`"class": null`).
    Number {
        /// Always `None`.
        class: Option<u8>,
    },
}

/// One digit of a picture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct DigitReading {
    /// The most probable class, 0-9.
    pub class: u8,
    /// Its name.
    pub name: &'static str,
    /// Its probability, a fraction.
    pub probability: f32,
    /// Where the digit lies in the picture: left, top, width, height, in pixels.
    #[serde(rename = "box")]
    pub bounds: [u32; 4],
}

impl Reading {
    /// The reading of a picture's regions, left to right (each one's probabilities and box),
    /// with `dataset`'s class names: a region whose top probability is below
    /// `not_a_digit_below` is not a digit and is left out of the number.
    pub(crate) fn new(
        found: &[Region],
        dataset: DatasetKind,
        not_a_digit_below: Option<f32>,
    ) -> Self {
        let names = dataset.class_names();
        let (accepted, refused, mostly_not_digits) = sort_regions(found, not_a_digit_below);
        let region = |region: &&Region| {
            let class = argmax(&region.probabilities);
            DigitReading {
                class,
                name: names[usize::from(class)],
                probability: region.probabilities[usize::from(class)],
                bounds: region.bounds,
            }
        };
        let digits: Vec<DigitReading> = accepted.iter().map(region).collect();
        let not_digits: Vec<DigitReading> = refused.iter().map(region).collect();
        let number = (dataset.reads_numbers() && !digits.is_empty())
            .then(|| digits.iter().map(|digit| digit.name).collect());
        let whole = match accepted.as_slice() {
            [region] => Whole::Digit(Prediction::new(region.probabilities, dataset)),
            _ => Whole::Number { class: None },
        };
        let reason = digits
            .is_empty()
            .then(|| not_a_digit_reason(not_a_digit_below, mostly_not_digits, dataset));
        Self {
            whole,
            number,
            digits,
            not_digits,
            reason,
        }
    }
}

/// A found region as [`Reading`] judges it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Region {
    /// Its probabilities, at the run's temperature.
    pub probabilities: [f32; NUM_CLASSES],
    /// Left, top, width, height in the picture's pixels.
    pub bounds: [u32; 4],
    /// Whether its reading holds when its input is turned a little or shrunk
    /// (`model::steadiness`); `true` when not tested (a run without a threshold).
    pub steady: bool,
}

/// A prepared digit as the model read it.
#[derive(Debug, Clone)]
pub(crate) struct ReadDigit {
    /// What the model received, and where it lies in the picture.
    pub digit: PreparedDigit,
    /// Its probabilities, at the run's temperature.
    pub probabilities: [f32; NUM_CLASSES],
    /// See [`Region::steady`].
    pub steady: bool,
}

impl ReadDigit {
    /// The region [`Reading`] judges.
    pub(crate) fn region(&self) -> Region {
        Region {
            probabilities: self.probabilities,
            bounds: self.digit.bounds,
            steady: self.steady,
        }
    }
}

/// `found`'s regions that are digits and those that are not (their top probability below
/// `not_a_digit_below`, or their reading unsteady), each left to right, and whether all were
/// refused because those that are not digits cover more of the picture (box areas) than those
/// that are.
fn sort_regions(
    found: &[Region],
    not_a_digit_below: Option<f32>,
) -> (Vec<&Region>, Vec<&Region>, bool) {
    let is_digit = |region: &&Region| {
        let top = top_probability(&region.probabilities);
        not_a_digit_below.is_none_or(|threshold| top >= threshold && region.steady)
    };
    let (accepted, refused): (Vec<_>, Vec<_>) = found.iter().partition(is_digit);
    // A drawing or a scene in which a few strokes read as digits is not a number.
    let area = |regions: &[&Region]| -> u64 {
        let box_area = |[_, _, width, height]: [u32; 4]| u64::from(width) * u64::from(height);
        regions.iter().map(|region| box_area(region.bounds)).sum()
    };
    if !accepted.is_empty() && area(&refused) > area(&accepted) {
        return (Vec::new(), found.iter().collect(), true);
    }
    (accepted, refused, false)
}

/// Why a picture none of whose regions is a digit was not read: most of it is not digits
/// (`mostly_not_digits`), or all of it fell below the threshold (the same words for every such
/// picture of a run; `not_digits` holds the guesses).
fn not_a_digit_reason(
    threshold: Option<f32>,
    mostly_not_digits: bool,
    dataset: DatasetKind,
) -> String {
    let what = if dataset.reads_numbers() {
        "not a digit"
    } else {
        "none of the classes"
    };
    match threshold {
        Some(_) if mostly_not_digits => {
            format!("{what}: most of the picture is not digits")
        }
        Some(threshold) => format!(
            "{what}: read below the run's threshold of {:.2}%, or below {:.0}% and otherwise when turned a little",
            100.0 * threshold,
            100.0 * crate::model::steadiness::UNSURE_BELOW
        ),
        None => format!("{what}: nothing in the picture to read"),
    }
}

/// The `k` most probable classes, most probable first; ties keep the lower class first.
pub(crate) fn top_k(probabilities: &[f32; NUM_CLASSES], k: usize) -> Vec<Guess> {
    let mut guesses: Vec<Guess> = probabilities
        .iter()
        .enumerate()
        .map(|(class, &probability)| Guess {
            class: class as u8,
            probability,
        })
        .collect();
    guesses.sort_by(|a, b| {
        b.probability
            .total_cmp(&a.probability)
            .then(a.class.cmp(&b.class))
    });
    guesses.truncate(k);
    guesses
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
        .flat_map(|chunk| {
            let logits = model.forward(images_tensor(chunk, device));
            let values: Vec<f32> = log_softmax(logits, 1)
                .into_data()
                .try_into_vec_as::<f32>()
                .expect("log-softmax output converts to f32");
            values
                .chunks_exact(NUM_CLASSES)
                .map(|row| row.try_into().expect("rows of NUM_CLASSES"))
                .collect::<Vec<_>>()
        })
        .collect()
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

/// A digit that may be two touching digits is read as its halves when the model gives the
/// whole less than this probability...
const UNSURE_WHOLE: f32 = 0.7;
/// ...and each half at least this: a clear digit stays whole, two clear digits are two. Chosen
/// with `bench/real_pictures.py --seed 1` and the recipe: 0.9 and 0.95 split 6 of 1,200 single
/// digits; these split none and read 2 points more clean and photographed numbers.
const SURE_HALF: f32 = 0.98;

/// Each picture's digits with their probabilities (at the run's temperature, when it has one),
/// left to right; a digit offered with halves (`PreparedDigit::halves`) is replaced by them
/// when the model reads the whole unsurely ([`UNSURE_WHOLE`]) and both halves surely
/// ([`SURE_HALF`]). One forward pass for every digit and half of every picture; a run with a
/// threshold for "not a digit" also reads the unsure digits turned and shrunk
/// (`model::steadiness`), in one more.
pub(crate) fn read_digits(
    model: &Model,
    pictures: Vec<Vec<PreparedDigit>>,
    device: &Device,
    calibrated: Calibrated,
) -> Vec<Vec<ReadDigit>> {
    let read = |pixels: &[u8]| probabilities_at(model, pixels, device, calibrated.temperature);
    let pixels: Vec<u8> = pictures
        .iter()
        .flatten()
        .flat_map(|digit| {
            let halves = digit.halves.iter().flat_map(|halves| halves.iter());
            std::iter::once(digit).chain(halves).flat_map(|d| d.pixels)
        })
        .collect();
    let mut rows = read(&pixels).into_iter();
    let mut chosen: Vec<Vec<ReadDigit>> = pictures
        .into_iter()
        .map(|digits| choose_halves(digits, &mut rows))
        .collect();
    if calibrated.not_a_digit_below.is_some() {
        let all: Vec<&ReadDigit> = chosen.iter().flatten().collect();
        let pixels: Vec<u8> = all.iter().flat_map(|read| read.digit.pixels).collect();
        let rows: Vec<_> = all.iter().map(|read| read.probabilities).collect();
        let mut steady = steadiness(&pixels, &rows, read).into_iter();
        for read in chosen.iter_mut().flatten() {
            read.steady = steady.next().expect("a flag per digit");
        }
    }
    chosen
}

/// One picture's digits with their rows from `rows` (each digit's, then its halves'), each
/// digit kept whole or replaced by its halves (see [`read_digits`]).
fn choose_halves(
    digits: Vec<PreparedDigit>,
    rows: &mut impl Iterator<Item = [f32; NUM_CLASSES]>,
) -> Vec<ReadDigit> {
    let read_digit = |digit, probabilities| ReadDigit {
        digit,
        probabilities,
        steady: true,
    };
    let mut read = Vec::with_capacity(digits.len());
    for mut digit in digits {
        let whole = rows.next().expect("a row per image");
        let Some(halves) = digit.halves.take() else {
            read.push(read_digit(digit, whole));
            continue;
        };
        let [left, right] = *halves;
        let (left_row, right_row) = (rows.next().expect("a row"), rows.next().expect("a row"));
        let sure = |row: &[f32; NUM_CLASSES]| top_probability(row) >= SURE_HALF;
        if top_probability(&whole) < UNSURE_WHOLE && sure(&left_row) && sure(&right_row) {
            read.extend([read_digit(left, left_row), read_digit(right, right_row)]);
        } else {
            read.push(read_digit(digit, whole));
        }
    }
    read
}

/// The probability of a row's most probable class (its [`argmax`]'s).
pub(crate) fn top_probability(row: &[f32; NUM_CLASSES]) -> f32 {
    row[usize::from(argmax(row))]
}

/// The most probable class of a row of probabilities or log-probabilities (either ranks the
/// same); the lowest class on a tie.
pub(crate) fn argmax(row: &[f32; NUM_CLASSES]) -> u8 {
    let mut best = 0;
    for (class, &value) in row.iter().enumerate() {
        if value > row[best] {
            best = class;
        }
    }
    best as u8
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
        let correct = log_probs
            .iter()
            .zip(labels)
            .filter(|(row, label)| argmax(row) == **label)
            .count();
        let loss_sum: f64 = log_probs
            .iter()
            .zip(labels)
            .map(|(row, &label)| image_loss(row, label, loss_function))
            .sum();
        Self {
            accuracy: 100.0 * correct as f64 / images.max(1) as f64,
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

    /// A digit with probability `p` for `class` and the rest shared, its halves when given.
    fn digit(x: u32, halves: bool) -> PreparedDigit {
        let half = |x: u32| PreparedDigit {
            pixels: [0; IMAGE_PIXELS],
            bounds: [x, 0, 10, 20],
            halves: None,
        };
        PreparedDigit {
            pixels: [0; IMAGE_PIXELS],
            bounds: [x, 0, 20, 20],
            halves: halves.then(|| Box::new([half(x), half(x + 10)])),
        }
    }

    fn row(class: usize, p: f32) -> [f32; NUM_CLASSES] {
        std::array::from_fn(|c| if c == class { p } else { (1.0 - p) / 9.0 })
    }

    /// A steady region of `probabilities` at `bounds`.
    fn region(probabilities: [f32; NUM_CLASSES], bounds: [u32; 4]) -> Region {
        Region {
            probabilities,
            bounds,
            steady: true,
        }
    }

    #[test]
    fn touching_digits_are_two_only_when_the_whole_is_unsure_and_both_halves_are_sure() {
        // An unsure whole (a 1 against a 0, read 60% as a 0) whose halves read 99% a 1 and a 0.
        let mut rows = vec![row(0, 0.6), row(1, 0.99), row(0, 0.99)].into_iter();
        let read = choose_halves(vec![digit(0, true)], &mut rows);
        let classes: Vec<u8> = read
            .iter()
            .map(|read| argmax(&read.probabilities))
            .collect();
        assert_eq!(classes, [1, 0]);
        assert_eq!(read[1].digit.bounds, [10, 0, 10, 20]);
        // A sure whole stays whole, whatever its halves read.
        let mut rows = vec![row(8, 0.97), row(0, 0.99), row(0, 0.99)].into_iter();
        assert_eq!(choose_halves(vec![digit(0, true)], &mut rows).len(), 1);
        // So does an unsure whole with an unsure half.
        let mut rows = vec![row(0, 0.6), row(1, 0.99), row(7, 0.8)].into_iter();
        assert_eq!(choose_halves(vec![digit(0, true)], &mut rows).len(), 1);
        // A digit without halves takes one row; the next digit's rows follow in order.
        let mut rows = vec![row(4, 0.5), row(0, 0.6), row(1, 0.99), row(0, 0.99)].into_iter();
        let read = choose_halves(vec![digit(0, false), digit(30, true)], &mut rows);
        let classes: Vec<u8> = read
            .iter()
            .map(|read| argmax(&read.probabilities))
            .collect();
        assert_eq!(classes, [4, 1, 0]);
    }

    #[test]
    fn regions_below_the_threshold_are_not_digits_and_left_out_of_the_number() {
        let found = [
            region(row(4, 0.99), [0, 0, 10, 20]),
            region(row(1, 0.40), [12, 0, 10, 20]),
            region(row(2, 0.95), [24, 0, 10, 20]),
        ];
        let reading = Reading::new(&found, DatasetKind::Mnist, Some(0.9));
        assert_eq!(reading.number.as_deref(), Some("42"));
        assert_eq!(reading.not_digits.len(), 1);
        assert_eq!(reading.not_digits[0].bounds, [12, 0, 10, 20]);
        assert_eq!(reading.reason, None);
        // An unsteady region (its reading changes when turned a little) is not a digit either.
        let mut wobbly = [found[0], found[2]];
        wobbly[1].steady = false;
        let reading = Reading::new(&wobbly, DatasetKind::Mnist, Some(0.9));
        assert_eq!(reading.number.as_deref(), Some("4"));
        assert_eq!(reading.not_digits[0].bounds, [24, 0, 10, 20]);
        // Without a threshold (a run not calibrated) every region is a digit.
        let reading = Reading::new(&found, DatasetKind::Mnist, None);
        assert_eq!(reading.number.as_deref(), Some("412"));
        assert!(reading.not_digits.is_empty());
        // One digit kept of two regions: the picture's one prediction is that digit's.
        let reading = Reading::new(&found[..2], DatasetKind::Mnist, Some(0.9));
        assert!(matches!(
            reading.whole,
            Whole::Digit(Prediction { class: 4, .. })
        ));
        // What is not a digit covering more of the picture than what is: nothing is read.
        let drawing = [
            region(row(0, 0.99), [0, 0, 10, 20]),
            region(row(8, 0.30), [12, 0, 30, 30]),
        ];
        let reading = Reading::new(&drawing, DatasetKind::Mnist, Some(0.9));
        assert_eq!(reading.number, None);
        assert_eq!(reading.not_digits.len(), 2);
        assert_eq!(
            reading.reason.as_deref(),
            Some("not a digit: most of the picture is not digits")
        );
        // Nothing above it: no number, no class, and why, in the JSON too.
        let reading = Reading::new(&found[1..2], DatasetKind::Mnist, Some(0.9));
        let json = serde_json::to_value(&reading).unwrap();
        assert_eq!(json["number"], serde_json::Value::Null);
        assert_eq!(json["class"], serde_json::Value::Null);
        assert_eq!(json["digits"], serde_json::json!([]));
        assert_eq!(json["not_digits"][0]["class"], 1);
        assert!(
            json["reason"]
                .as_str()
                .unwrap()
                .starts_with("not a digit: "),
            "{json}"
        );
    }

    #[test]
    fn top_k_orders_by_probability() {
        let mut p = [0.0f32; NUM_CLASSES];
        p[3] = 0.5;
        p[7] = 0.3;
        p[1] = 0.2;
        let top = top_k(&p, 3);
        assert_eq!(
            top.iter().map(|g| g.class).collect::<Vec<_>>(),
            vec![3, 7, 1]
        );
        assert_eq!(top[0].probability, 0.5);
        assert_eq!(
            top_k(&[0.1; NUM_CLASSES], 2)
                .iter()
                .map(|g| g.class)
                .collect::<Vec<_>>(),
            vec![0, 1]
        );
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
