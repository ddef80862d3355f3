//! Temperature scaling (Guo, Pleiss, Sun and Weinberger, "On Calibration of Modern Neural
//! Networks", ICML 2017, section 4.2): the logits divided by one number T > 0, fitted on
//! held-out images to minimise their negative log-likelihood, make the probabilities mean what
//! they say. T > 1 softens an overconfident model, T < 1 sharpens an underconfident one; the
//! most probable class never changes, so accuracy does not either.

use crate::data::NUM_CLASSES;

/// The temperatures searched, as natural logarithms: T from 0.05 to 20.
const LOG_RANGE: (f64, f64) = (-3.0, 3.0);

/// Whether `temperature` is one [`fit`] could have found: a number in `exp(LOG_RANGE)`, 0.0498
/// to 20.09 (a file holding 1e-308 or 1e39 would make every probability 0, 1 or a tenth).
pub(crate) fn plausible(temperature: f64) -> bool {
    let (low, high) = (LOG_RANGE.0.exp(), LOG_RANGE.1.exp());
    (low * 0.999..=high * 1.001).contains(&temperature)
}
/// Golden-section steps: the bracket shrinks by 0.618 each, to 1e-9 of its width after 44.
const STEPS: usize = 60;

/// `row` (log-probabilities or logits of one image) divided by `temperature`, as
/// log-probabilities: `log_softmax(row / T)`. A constant added to every logit cancels, so
/// log-probabilities work as well as the logits they came from.
pub(crate) fn scaled(row: &[f32; NUM_CLASSES], temperature: f64) -> [f32; NUM_CLASSES] {
    let divided = row.map(|value| f64::from(value) / temperature);
    let largest = divided.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let log_sum = largest
        + divided
            .iter()
            .map(|v| (v - largest).exp())
            .sum::<f64>()
            .ln();
    divided.map(|v| (v - log_sum) as f32)
}

/// Mean negative log-likelihood (natural log) of `labels` under `log_probs` scaled by
/// `temperature`.
pub(crate) fn mean_nll(log_probs: &[[f32; NUM_CLASSES]], labels: &[u8], temperature: f64) -> f64 {
    let total: f64 = log_probs
        .iter()
        .zip(labels)
        .map(|(row, &label)| -f64::from(scaled(row, temperature)[usize::from(label)]))
        .sum();
    total / log_probs.len().max(1) as f64
}

/// The temperature that minimises the mean negative log-likelihood of `labels` (the held-out
/// images' classes) under `log_probs` (the model's, for those images): a golden-section search
/// over log T in [`LOG_RANGE`] (the likelihood is unimodal in T for a fixed model).
pub(crate) fn fit(log_probs: &[[f32; NUM_CLASSES]], labels: &[u8]) -> f64 {
    let nll = |log_t: f64| mean_nll(log_probs, labels, log_t.exp());
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let (mut low, mut high) = LOG_RANGE;
    let mut left = high - ratio * (high - low);
    let mut right = low + ratio * (high - low);
    let (mut at_left, mut at_right) = (nll(left), nll(right));
    for _ in 0..STEPS {
        if at_left <= at_right {
            high = right;
            (right, at_right) = (left, at_left);
            left = high - ratio * (high - low);
            at_left = nll(left);
        } else {
            low = left;
            (left, at_left) = (right, at_right);
            right = low + ratio * (high - low);
            at_right = nll(right);
        }
    }
    ((low + high) / 2.0).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Log-probabilities of a model whose logit for `class` is `margin` above the others'.
    fn row(class: usize, margin: f32) -> [f32; NUM_CLASSES] {
        let logits: [f32; NUM_CLASSES] =
            std::array::from_fn(|c| if c == class { margin } else { 0.0 });
        scaled(&logits, 1.0)
    }

    #[test]
    fn an_overconfident_model_is_softened_and_its_likelihood_rises() {
        // Sure of itself (a margin of 8: 99.7%) and right 8 times in 10.
        let rows: Vec<_> = (0..100).map(|i| row(i % 10, 8.0)).collect();
        let labels: Vec<u8> = (0..100)
            .map(|i| {
                if i % 5 == 0 {
                    ((i + 1) % 10) as u8
                } else {
                    (i % 10) as u8
                }
            })
            .collect();
        let temperature = fit(&rows, &labels);
        assert!(temperature > 1.5, "{temperature}");
        let best = mean_nll(&rows, &labels, temperature);
        assert!(best < mean_nll(&rows, &labels, 1.0));
        // A minimum: a little either way is worse.
        assert!(best <= mean_nll(&rows, &labels, temperature * 1.01));
        assert!(best <= mean_nll(&rows, &labels, temperature / 1.01));
        // The scaled probability of the predicted class is then about how often it is right.
        let confidence = f64::from(scaled(&rows[1], temperature)[1].exp());
        assert!((confidence - 0.8).abs() < 0.01, "{confidence}");
    }

    #[test]
    fn only_temperatures_the_fit_can_find_are_plausible() {
        for temperature in [0.05, 0.1122, 1.0, 1.71, 20.0] {
            assert!(plausible(temperature), "{temperature}");
        }
        for temperature in [0.0, -1.0, 1e-308, 0.01, 25.0, 3e38, f64::INFINITY, f64::NAN] {
            assert!(!plausible(temperature), "{temperature}");
        }
        // A model sure of every answer and always right: the fit stops at the range's edge.
        let rows: Vec<_> = (0..10).map(|i| row(i, 30.0)).collect();
        let labels: Vec<u8> = (0..10).collect();
        assert!(plausible(fit(&rows, &labels)));
    }

    #[test]
    fn scaling_keeps_the_predicted_class_and_sums_to_one() {
        let logits = [0.3, -1.0, 2.5, 0.0, 1.0, -2.0, 0.5, 0.1, -0.3, 2.4];
        for temperature in [0.1, 1.0, 3.0] {
            let probabilities = scaled(&logits, temperature).map(f32::exp);
            let sum: f32 = probabilities.iter().sum();
            assert!((sum - 1.0).abs() < 1e-5, "{sum}");
            assert_eq!(crate::model::reading::argmax(&probabilities), 2);
        }
    }
}
