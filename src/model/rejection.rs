//! "Not a digit": a region whose top probability, at the run's temperature, is below a
//! threshold is refused, the maximum-softmax-probability baseline (Hendrycks & Gimpel, "A
//! Baseline for Detecting Misclassified and Out-of-Distribution Examples in Neural Networks",
//! ICLR 2017). The threshold is chosen on the run's held-out training digits, so that a known
//! share of real digits is refused ([`REFUSED_DIGITS`]); a model trained with Outlier Exposure
//! (`data::outliers`) gives non-digits low top probabilities, so most of them fall below it.

use crate::data::{DatasetKind, NUM_CLASSES};
use crate::model::reading::top_probability;
use crate::model::shape;
use crate::model::steadiness::{SHRINK, TURN_DEGREES, UNSURE_BELOW};

/// The share of held-out digits `calibrate` refuses, in percent: under the budget of at most 1%
/// of MNIST's test digits answered "not a digit", with a margin. The 5,000 images the recipe
/// holds out give a share to about ±0.14 points (one binomial standard deviation at 1%): chosen
/// at 1% of them, 13 of the recipe's runs refused 0.69-1.15% of the test set, 4 of them over the
/// budget; at 0.8% its two seeds refused 0.76% and 0.84% (`docs/measurements.md`, session 31).
pub(crate) const REFUSED_DIGITS_PERCENT: f64 = 0.8;
/// [`REFUSED_DIGITS_PERCENT`] as a fraction.
pub(crate) const REFUSED_DIGITS: f64 = REFUSED_DIGITS_PERCENT / 100.0;

/// The threshold that, with the images already refused as unsteady (`steady[i]` false, see
/// `model::steadiness`), refuses at most `share` of `probabilities` (each image's rows, at the
/// run's temperature): the top probability of the steady image at the quantile left. `None`
/// for no steady images.
pub(crate) fn threshold(
    probabilities: &[[f32; NUM_CLASSES]],
    steady: &[bool],
    share: f64,
) -> Option<f32> {
    let mut tops: Vec<f32> = probabilities
        .iter()
        .zip(steady)
        .filter(|(_, steady)| **steady)
        .map(|(row, _)| top_probability(row))
        .collect();
    tops.sort_by(f32::total_cmp);
    let budget = (share * probabilities.len() as f64).floor() as usize;
    let below = budget.saturating_sub(probabilities.len() - tops.len());
    Some(tops[below.min(tops.len().checked_sub(1)?)])
}

/// The bound below which a reading is tested for steadiness (`model::steadiness`):
/// [`UNSURE_BELOW`], or lower when the images unsteady below it (`steady[i]` false, tested
/// below [`UNSURE_BELOW`]) are more than `share` of `probabilities` (each image's rows, at the
/// run's temperature): then the top probability of the first unsteady image beyond the share,
/// so that the test alone never refuses more than the budget (the threshold then adds none).
pub(crate) fn unsure_bound(
    probabilities: &[[f32; NUM_CLASSES]],
    steady: &[bool],
    share: f64,
) -> f32 {
    let mut unsteady: Vec<f32> = probabilities
        .iter()
        .zip(steady)
        .filter(|(_, steady)| !**steady)
        .map(|(row, _)| top_probability(row))
        .collect();
    unsteady.sort_by(f32::total_cmp);
    let budget = (share * probabilities.len() as f64).floor() as usize;
    unsteady
        .get(budget)
        .map_or(UNSURE_BELOW, |&top| top.min(UNSURE_BELOW))
}

/// `steady` (tested below [`UNSURE_BELOW`]) as it is when tested below `bound` only: an image
/// read at least `bound` is steady.
pub(crate) fn steady_below(
    probabilities: &[[f32; NUM_CLASSES]],
    steady: &[bool],
    bound: f32,
) -> Vec<bool> {
    probabilities
        .iter()
        .zip(steady)
        .map(|(row, &steady)| steady || top_probability(row) >= bound)
        .collect()
}

/// How the budget `share` is spent on `probabilities`' images (each one's rows, at the run's
/// temperature): first on those refused whatever their top probability (`refused[i]`,
/// [`refused_anyway`]), then on the steadiness test (`steady[i]`, tested below
/// [`UNSURE_BELOW`]), whose bound is lowered to fit what is left ([`unsure_bound`]). Returns
/// that bound and which images are still kept (steady below it, and not refused anyway): the
/// [`threshold`] chosen on these refuses the rest of the share.
pub(crate) fn budget_before_threshold(
    probabilities: &[[f32; NUM_CLASSES]],
    steady: &[bool],
    refused: &[bool],
    share: f64,
) -> (f32, Vec<bool>) {
    let refused_share = refused.iter().filter(|&&refused| refused).count() as f64
        / probabilities.len().max(1) as f64;
    // Images refused anyway are not counted again as unsteady.
    let tested: Vec<bool> = (steady.iter().zip(refused))
        .map(|(&steady, &refused)| steady || refused)
        .collect();
    let bound = unsure_bound(probabilities, &tested, (share - refused_share).max(0.0));
    let kept = (steady_below(probabilities, steady, bound)
        .iter()
        .zip(refused))
    .map(|(&steady, &refused)| steady && !refused)
    .collect();
    (bound, kept)
}

/// For each image, whether it is refused whatever its probabilities: the network silent on it
/// (`silent`, `Model::forward_with_silence`) or shaped like no digit (`unlike`,
/// `model::shape::refused_for_shape`).
pub(crate) fn refused_anyway(silent: &[bool], unlike: &[bool]) -> Vec<bool> {
    (silent.iter().zip(unlike))
        .map(|(&silent, &unlike)| silent || unlike)
        .collect()
}

/// The share of `probabilities`' images (a fraction) refused: unsteady, or with a top
/// probability below `threshold`.
pub(crate) fn refused_share(
    probabilities: &[[f32; NUM_CLASSES]],
    steady: &[bool],
    threshold: f32,
) -> f64 {
    let refused = probabilities
        .iter()
        .zip(steady)
        .filter(|(row, steady)| !**steady || top_probability(row) < threshold)
        .count();
    refused as f64 / probabilities.len().max(1) as f64
}

/// What `infer` answers "not a digit", in words a runtime can follow on the run's
/// probabilities (its exports' softmax): below `threshold`; below `unsure_below` and read as
/// another class by a copy turned or shrunk a little (`model::steadiness`, as it makes them);
/// equal to `silent` (the network silent on it, `Model::forward_with_silence`); for a
/// `dataset` the shape rules apply to, shaped like no digit (`model::shape::in_words`); and
/// the picture-level rule of `model::reading`. The ONNX metadata and the safetensors JSON both
/// carry it.
pub(crate) fn rules(
    threshold: f32,
    unsure_below: f32,
    silent: &[f32; NUM_CLASSES],
    dataset: DatasetKind,
) -> String {
    let shapes = if shape::applies_to(dataset) {
        format!(", and {}", shape::in_words())
    } else {
        String::new()
    };
    format!(
        "a region of a picture (each one found is read as a 28x28 input; a picture of one digit is one region) whose top probability is below {threshold} is not a digit, and so is one read below {unsure_below} that any of three copies of its input reads as another class: turned {TURN_DEGREES} degrees either way, or shrunk to {SHRINK}, about the point (14, 14) (pixels at whole coordinates, bilinear interpolation, 0 outside the field), and one whose probabilities equal {} within 1e-6 (the output layer's bias alone: no unit of the last hidden layer responding){shapes}; a picture whose regions that are not digits cover more of it (their boxes' areas) than those that are reads no number",
        serde_json::to_string(silent).expect("numbers serialize")
    )
}

/// Whether `threshold` is one [`threshold`] could have chosen: a probability, 0 to 1.
pub(crate) fn plausible(threshold: f64) -> bool {
    (0.0..=1.0).contains(&threshold)
}

/// Whether `bound` is one `calibrate` could have recorded: a probability, 0 to 1 ([`UNSURE_BELOW`]
/// or less at the temperature, moved by the run's top-probability map).
pub(crate) fn plausible_bound(bound: f64) -> bool {
    (0.0..=1.0).contains(&bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(tops: &[f32]) -> Vec<[f32; NUM_CLASSES]> {
        tops.iter()
            .map(|&p| crate::model::test_rows::row(3, p))
            .collect()
    }

    #[test]
    fn the_threshold_refuses_at_most_the_share_asked_for() {
        // 200 digits: 1% is 2 of them, the two least sure.
        let mut tops: Vec<f32> = (0..200).map(|i| 0.5 + 0.0025 * i as f32).collect();
        tops.reverse();
        let probabilities = rows(&tops);
        let steady = vec![true; 200];
        let chosen = threshold(&probabilities, &steady, 0.01).unwrap();
        assert!((chosen - 0.505).abs() < 1e-6, "{chosen}");
        assert_eq!(refused_share(&probabilities, &steady, chosen), 0.01);
        assert_eq!(threshold(&probabilities, &steady, 0.0).unwrap(), 0.5);
        assert_eq!(refused_share(&probabilities, &steady, 0.5), 0.0);
        assert_eq!(threshold(&[], &[], 0.01), None);
        // One image already refused as unsteady leaves room for one more below the threshold.
        let mut one_unsteady = steady.clone();
        one_unsteady[0] = false;
        let chosen = threshold(&probabilities, &one_unsteady, 0.01).unwrap();
        assert_eq!(refused_share(&probabilities, &one_unsteady, chosen), 0.01);
        // Ties never refuse more than the share: 100 images at 0.99 refuse none.
        let same = rows(&[0.99; 100]);
        let steady = [true; 100];
        let chosen = threshold(&same, &steady, 0.01).unwrap();
        assert_eq!(refused_share(&same, &steady, chosen), 0.0);
        assert!(plausible(0.93) && !plausible(1.5) && !plausible(-0.1) && !plausible(f64::NAN));
    }

    #[test]
    fn the_steadiness_test_alone_never_refuses_more_than_the_share() {
        // 200 digits, 1% is 2: three unsteady ones (read 0.2, 0.3 and 0.4) would refuse 1.5%.
        let mut tops = vec![0.99f32; 200];
        tops[..3].copy_from_slice(&[0.4, 0.2, 0.3]);
        let probabilities = rows(&tops);
        let mut steady = vec![true; 200];
        steady[..3].fill(false);
        let bound = unsure_bound(&probabilities, &steady, 0.01);
        assert_eq!(bound, 0.4);
        let lowered = steady_below(&probabilities, &steady, bound);
        assert_eq!(&lowered[..3], [true, false, false]);
        let chosen = threshold(&probabilities, &lowered, 0.01).unwrap();
        assert_eq!(refused_share(&probabilities, &lowered, chosen), 0.01);
        // Within the share, the bound stays where it is.
        assert_eq!(unsure_bound(&probabilities, &steady, 0.02), UNSURE_BELOW);
        assert!(plausible_bound(0.7) && !plausible_bound(1.2) && !plausible_bound(f64::NAN));
    }

    #[test]
    fn silent_images_take_their_share_of_the_budget_first() {
        // 400 digits, 1% is 4: one read as nothing (at 0.95: silence, not its top, refuses
        // it), three unsteady (0.2, 0.3, 0.4) and the rest sure.
        let mut tops = vec![0.99f32; 400];
        tops[..4].copy_from_slice(&[0.95, 0.2, 0.3, 0.4]);
        let probabilities = rows(&tops);
        let mut steady = vec![true; 400];
        steady[1..4].fill(false);
        let mut silent = vec![false; 400];
        silent[0] = true;
        let (bound, kept) = budget_before_threshold(&probabilities, &steady, &silent, 0.01);
        // The three unsteady fit in what is left: the bound stays, none of the four is kept.
        assert_eq!(bound, UNSURE_BELOW);
        assert_eq!(&kept[..5], [false, false, false, false, true]);
        let chosen = threshold(&probabilities, &kept, 0.01).unwrap();
        assert_eq!(refused_share(&probabilities, &kept, chosen), 0.01);
        // Two silent: only two unsteady fit, the bound drops to keep the surest of them.
        silent[4] = true;
        let (bound, kept) = budget_before_threshold(&probabilities, &steady, &silent, 0.01);
        assert_eq!(bound, 0.4);
        assert_eq!(&kept[..5], [false, false, false, true, false]);
        let chosen = threshold(&probabilities, &kept, 0.01).unwrap();
        assert_eq!(refused_share(&probabilities, &kept, chosen), 0.01);
    }
}
