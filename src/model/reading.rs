//! What a model's probabilities say: the most probable classes, and what it reads in a picture
//! in the one schema `infer --json` and `serve`'s `/api/predict` both use (its digits, what is
//! not a digit, and why nothing was read).

use serde::Serialize;

use crate::data::{DatasetKind, NUM_CLASSES};
use crate::model::shape::{self, Unlike};

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

/// What the model reads in one picture, in the one schema `infer --json` and `serve`'s
/// `/api/predict` both use: the number its digits make, each digit with its box, and for a
/// picture of one digit (or one item of clothing) the prediction as a single image has it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Reading {
    /// The picture's one prediction, or `"class": null` for a number of several digits and for
    /// a picture holding no digit (with the probabilities of its one region, when it has one).
    #[serde(flatten)]
    pub whole: Whole,
    /// The digits' classes, left to right (`"2026"`); `null` when no region is a digit, and for
    /// a dataset whose classes are not digits.
    pub number: Option<String>,
    /// Each digit, left to right.
    pub digits: Vec<DigitReading>,
    /// The regions that are not digits, left to right, each with the model's best guess and
    /// why it is not one: left out of `number`.
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
    /// One region, not a digit: no class, but the ten probabilities the model gave it, as a
    /// single image's answer has them (what `infer --index` compares with other runtimes).
    NotDigit {
        /// Always `None`.
        class: Option<u8>,
        /// One per class, at the run's temperature; they sum to 1.
        probabilities: [f32; NUM_CLASSES],
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
    /// For a region that is not a digit, why: the test that refused it, with its numbers
    /// ("read as nothing (...)", "its ink is more than twice as wide as tall", ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Reading {
    /// The reading of a picture's regions, left to right (each one's probabilities and box),
    /// with `dataset`'s class names: a region whose top probability is below
    /// `not_a_digit_below` is not a digit and is left out of the number, and so is one read
    /// below `unsure_below` and unsteady (its `steady` flag), one the network is silent on, and
    /// (for a dataset of digits) one shaped like no digit.
    pub(crate) fn new(
        found: &[Region],
        dataset: DatasetKind,
        not_a_digit_below: Option<f32>,
        unsure_below: f32,
    ) -> Self {
        let names = dataset.class_names();
        let tests = Tests {
            threshold: not_a_digit_below,
            unsure_below,
            dataset,
        };
        let (accepted, refused, mostly_not_digits) = tests.sort(found);
        let region = |(region, refusal): &Judged| {
            let class = argmax(&region.probabilities);
            DigitReading {
                class,
                name: names[usize::from(class)],
                probability: region.probabilities[usize::from(class)],
                bounds: region.bounds,
                reason: refusal.map(|refusal| tests.describe(refusal, region)),
            }
        };
        let digits: Vec<DigitReading> = accepted.iter().map(region).collect();
        let not_digits: Vec<DigitReading> = refused.iter().map(region).collect();
        let number = (dataset.reads_numbers() && !digits.is_empty())
            .then(|| digits.iter().map(|digit| digit.name).collect());
        let whole = match (accepted.as_slice(), found) {
            ([(region, _)], _) => Whole::Digit(Prediction::new(region.probabilities, dataset)),
            ([], [region]) => Whole::NotDigit {
                class: None,
                probabilities: region.probabilities,
            },
            _ => Whole::Number { class: None },
        };
        let what = refused_as(dataset);
        let reason = digits.is_empty().then(|| match refused.as_slice() {
            // One region, or most of the picture not digits: the test that refused it, with
            // its numbers.
            [(region, Some(refusal))] => {
                format!("{what}: {}", tests.describe(*refusal, region))
            }
            _ if mostly_not_digits => format!("{what}: {MOSTLY_NOT_DIGITS}"),
            _ => tests.none_read(),
        });
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
    /// Whether the network is silent on it (`Model::forward_with_silence`): its probabilities
    /// are the output layer's bias alone, the same for anything it knows nothing of.
    pub silent: bool,
    /// How its input is shaped like no digit (`model::shape`), if it is; a dataset of other
    /// classes than digits does not refuse it for that.
    pub unlike: Option<Unlike>,
}

/// Why a region is not a digit: each test `infer` makes, in the order a reason names the first
/// that applies.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Refusal {
    /// Shaped like no digit (`model::shape`), in a dataset of digits.
    Shape(Unlike),
    /// The network silent on it ([`Region::silent`]).
    Silent,
    /// Its top probability below the run's threshold.
    BelowThreshold,
    /// Read below the steadiness test's bound and as another class when turned a little.
    Unsteady,
    /// Read as a digit, but in a picture most of which (box areas) is not digits: a drawing or
    /// a scene in which a few strokes read as digits is not a number.
    MostlyNotDigits,
}

/// A region with why it is not a digit (`None`: it is one).
type Judged<'a> = (&'a Region, Option<Refusal>);

/// The tests of a run that decide which regions are not digits.
struct Tests {
    /// The run's threshold for "not a digit"; a run without one refuses nothing.
    threshold: Option<f32>,
    /// The steadiness test's bound (`model::steadiness`).
    unsure_below: f32,
    /// The run's classes: their names, and whether the shape rules apply (`shape::applies_to`).
    dataset: DatasetKind,
}

/// What the picture-level test says (`Refusal::MostlyNotDigits`).
const MOSTLY_NOT_DIGITS: &str = "most of the picture is not digits";

impl Tests {
    /// Why `region` is not a digit, by the first test that refuses it; `None` for a digit.
    fn refusal(&self, region: &Region) -> Option<Refusal> {
        let threshold = self.threshold?;
        if let Some(unlike) = region.unlike.filter(|_| shape::applies_to(self.dataset)) {
            Some(Refusal::Shape(unlike))
        } else if region.silent {
            Some(Refusal::Silent)
        } else if top_probability(&region.probabilities) < threshold {
            Some(Refusal::BelowThreshold)
        } else if !region.steady {
            Some(Refusal::Unsteady)
        } else {
            None
        }
    }

    /// `found`'s regions that are digits and those that are not, each left to right with its
    /// refusal, and whether all were refused because those that are not digits cover more of
    /// the picture (box areas) than those that are.
    fn sort<'a>(&self, found: &'a [Region]) -> (Vec<Judged<'a>>, Vec<Judged<'a>>, bool) {
        let judged: Vec<Judged> = found
            .iter()
            .map(|region| (region, self.refusal(region)))
            .collect();
        let (accepted, refused): (Vec<_>, Vec<_>) =
            judged.iter().partition(|(_, refusal)| refusal.is_none());
        let area = |regions: &[Judged]| -> u64 {
            let box_area = |[_, _, width, height]: [u32; 4]| u64::from(width) * u64::from(height);
            regions
                .iter()
                .map(|(region, _)| box_area(region.bounds))
                .sum()
        };
        if !accepted.is_empty() && area(&refused) > area(&accepted) {
            let all = judged
                .into_iter()
                .map(|(region, refusal)| (region, refusal.or(Some(Refusal::MostlyNotDigits))))
                .collect();
            return (Vec::new(), all, true);
        }
        (accepted, refused, false)
    }

    /// `refusal` of `region` in words, with the model's best guess and the bound it missed
    /// ("read 30.00% as 4, below the run's threshold of 46.01%").
    fn describe(&self, refusal: Refusal, region: &Region) -> String {
        let class = argmax(&region.probabilities);
        let top = top_probability(&region.probabilities);
        let guess = format!(
            "read {:.2}% as {}",
            100.0 * top,
            self.dataset.class_names()[usize::from(class)]
        );
        match refusal {
            Refusal::Shape(unlike) => unlike.describe().to_string(),
            Refusal::Silent => format!("read {READ_AS_NOTHING}"),
            Refusal::BelowThreshold => format!(
                "{guess}, below the run's threshold of {:.2}%",
                100.0 * self.threshold.unwrap_or(0.0)
            ),
            Refusal::Unsteady => format!(
                "{guess}, below {:.0}%, and as another class when turned a little",
                100.0 * self.unsure_below
            ),
            Refusal::MostlyNotDigits => MOSTLY_NOT_DIGITS.to_string(),
        }
    }

    /// Why a picture of several regions none of which is a digit was not read, naming every
    /// test (each region in `not_digits` says which refused it); or, without a threshold, that
    /// it held nothing to read.
    fn none_read(&self) -> String {
        let what = refused_as(self.dataset);
        match self.threshold {
            Some(threshold) => format!(
                "{what}: read below the run's threshold of {:.2}%, or below {:.0}% and otherwise when turned a little, or {READ_AS_NOTHING}{}",
                100.0 * threshold,
                100.0 * self.unsure_below,
                if shape::applies_to(self.dataset) {
                    ", or shaped like no digit"
                } else {
                    ""
                }
            ),
            None => format!("{what}: nothing in the picture to read"),
        }
    }
}

/// What a reading the network is silent on is called (`Region::silent`).
const READ_AS_NOTHING: &str = "as nothing (no unit of the network's last hidden layer responding)";

/// What a picture that is none of `dataset`'s classes is answered.
fn refused_as(dataset: DatasetKind) -> &'static str {
    if dataset.reads_numbers() {
        "not a digit"
    } else {
        "none of the classes"
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::steadiness::UNSURE_BELOW;
    use crate::model::test_rows::row;

    /// A steady region of `probabilities` at `bounds`, the network not silent on it.
    fn region(probabilities: [f32; NUM_CLASSES], bounds: [u32; 4]) -> Region {
        Region {
            probabilities,
            bounds,
            steady: true,
            silent: false,
            unlike: None,
        }
    }

    #[test]
    fn regions_below_the_threshold_are_not_digits_and_left_out_of_the_number() {
        let found = [
            region(row(4, 0.99), [0, 0, 10, 20]),
            region(row(1, 0.40), [12, 0, 10, 20]),
            region(row(2, 0.95), [24, 0, 10, 20]),
        ];
        let reading = Reading::new(&found, DatasetKind::Mnist, Some(0.9), UNSURE_BELOW);
        assert_eq!(reading.number.as_deref(), Some("42"));
        assert_eq!(reading.not_digits.len(), 1);
        assert_eq!(reading.not_digits[0].bounds, [12, 0, 10, 20]);
        assert_eq!(reading.reason, None);
        // An unsteady region (its reading changes when turned a little) is not a digit either.
        let mut wobbly = [found[0], found[2]];
        wobbly[1].steady = false;
        let reading = Reading::new(&wobbly, DatasetKind::Mnist, Some(0.9), UNSURE_BELOW);
        assert_eq!(reading.number.as_deref(), Some("4"));
        assert_eq!(reading.not_digits[0].bounds, [24, 0, 10, 20]);
        // Nor is one the network is silent on, however high its top probability.
        let mut silent = [found[0], found[2]];
        silent[0].silent = true;
        let reading = Reading::new(&silent, DatasetKind::Mnist, Some(0.9), UNSURE_BELOW);
        assert_eq!(reading.number.as_deref(), Some("2"));
        assert_eq!(reading.not_digits[0].bounds, [0, 0, 10, 20]);
        // Each region left out says which test refused it.
        assert_eq!(
            reading.not_digits[0].reason.as_deref(),
            Some("read as nothing (no unit of the network's last hidden layer responding)")
        );
        assert_eq!(reading.digits[0].reason, None);
        // A picture of one region says which test refused it.
        let reading = Reading::new(&silent[..1], DatasetKind::Mnist, Some(0.9), UNSURE_BELOW);
        assert_eq!(
            reading.reason.as_deref(),
            Some(
                "not a digit: read as nothing (no unit of the network's last hidden layer responding)"
            )
        );
        let reading = Reading::new(&found[1..2], DatasetKind::Mnist, Some(0.9), UNSURE_BELOW);
        assert_eq!(
            reading.reason.as_deref(),
            Some("not a digit: read 40.00% as 1, below the run's threshold of 90.00%")
        );
        let mut unsure = region(row(2, 0.45), [0, 0, 10, 20]);
        unsure.steady = false;
        let reading = Reading::new(&[unsure], DatasetKind::Mnist, Some(0.3), UNSURE_BELOW);
        assert_eq!(
            reading.reason.as_deref(),
            Some(
                "not a digit: read 45.00% as 2, below 50%, and as another class when turned a little"
            )
        );
        // Several regions, none a digit: every test named.
        let mut none = [found[1], silent[0]];
        none[0].bounds = [30, 0, 10, 20];
        let reading = Reading::new(&none, DatasetKind::Mnist, Some(0.9), UNSURE_BELOW);
        assert_eq!(
            reading.reason.as_deref(),
            Some(
                "not a digit: read below the run's threshold of 90.00%, or below 50% and otherwise when turned a little, or as nothing (no unit of the network's last hidden layer responding), or shaped like no digit"
            )
        );
        // Nor one shaped like no digit (a dash), however surely read, in a dataset of digits.
        let mut dash = [found[0], found[2]];
        dash[1].unlike = Some(Unlike::Wide);
        let reading = Reading::new(&dash, DatasetKind::Mnist, Some(0.9), UNSURE_BELOW);
        assert_eq!(reading.number.as_deref(), Some("4"));
        let reading = Reading::new(&dash[1..], DatasetKind::Mnist, Some(0.9), UNSURE_BELOW);
        assert_eq!(
            reading.reason.as_deref(),
            Some("not a digit: its ink is more than twice as wide as tall")
        );
        // Clothes may be wide: Fashion-MNIST's classes are not refused for their shape.
        let reading = Reading::new(
            &dash[1..],
            DatasetKind::FashionMnist,
            Some(0.9),
            UNSURE_BELOW,
        );
        assert_eq!(reading.reason, None);
        // Without a threshold (a run not calibrated) every region is a digit, silent or not.
        let reading = Reading::new(&silent, DatasetKind::Mnist, None, UNSURE_BELOW);
        assert_eq!(reading.number.as_deref(), Some("42"));
        let reading = Reading::new(&found, DatasetKind::Mnist, None, UNSURE_BELOW);
        assert_eq!(reading.number.as_deref(), Some("412"));
        assert!(reading.not_digits.is_empty());
        // One digit kept of two regions: the picture's one prediction is that digit's.
        let reading = Reading::new(&found[..2], DatasetKind::Mnist, Some(0.9), UNSURE_BELOW);
        assert!(matches!(
            reading.whole,
            Whole::Digit(Prediction { class: 4, .. })
        ));
        // What is not a digit covering more of the picture than what is: nothing is read.
        let drawing = [
            region(row(0, 0.99), [0, 0, 10, 20]),
            region(row(8, 0.30), [12, 0, 30, 30]),
        ];
        let reading = Reading::new(&drawing, DatasetKind::Mnist, Some(0.9), UNSURE_BELOW);
        assert_eq!(reading.number, None);
        assert_eq!(reading.not_digits.len(), 2);
        assert_eq!(
            reading.reason.as_deref(),
            Some("not a digit: most of the picture is not digits")
        );
        let reasons: Vec<_> = (reading.not_digits.iter())
            .map(|region| region.reason.as_deref())
            .collect();
        assert_eq!(
            reasons,
            [
                Some("most of the picture is not digits"),
                Some("read 30.00% as 8, below the run's threshold of 90.00%")
            ]
        );
        // Nothing above it: no number, no class, and why, in the JSON too.
        let reading = Reading::new(&found[1..2], DatasetKind::Mnist, Some(0.9), UNSURE_BELOW);
        let json = serde_json::to_value(&reading).unwrap();
        assert_eq!(json["number"], serde_json::Value::Null);
        assert_eq!(json["class"], serde_json::Value::Null);
        assert_eq!(json["digits"], serde_json::json!([]));
        assert_eq!(json["not_digits"][0]["class"], 1);
        // One region refused keeps the ten probabilities the model gave it; several do not.
        assert_eq!(json["probabilities"], serde_json::json!(row(1, 0.40)));
        assert!(
            serde_json::to_value(Reading::new(
                &drawing,
                DatasetKind::Mnist,
                Some(0.9),
                UNSURE_BELOW
            ))
            .unwrap()
            .get("probabilities")
            .is_none()
        );
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
}
