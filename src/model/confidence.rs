//! Top-label calibration, the step after the temperature: the top probability p becomes
//! `sigmoid(slope * ln(p / r) + offset)`, r what the other classes add up to (1 - p, but
//! without its rounding to 0 near p = 1), the other classes scaled so that all still sum
//! to 1. Platt's scaling ("Probabilistic Outputs for Support Vector Machines", 1999) of the
//! predicted class's confidence, as Gupta and Ramdas calibrate the top label ("Top-label
//! calibration and multiclass-to-binary reductions", ICLR 2022), fitted on the held-out images
//! by the log-likelihood of "the top class is right".
//!
//! Why a second step: a model trained with Outlier Exposure (`data::outliers`) is
//! underconfident on its unsure readings (read at 13%, right 31% of the time; at 50%, right
//! 64%) and a little overconfident on its sure ones, a shape no single temperature fits (the
//! recipe's calibration error stayed at 1.1-1.2%; `docs/measurements.md`). The map is
//! increasing, so it never changes which class is read, nor which of two readings is surer.

use crate::data::NUM_CLASSES;

/// What is left besides the top probability is taken as at least this before its logarithm (a
/// sure reading's others are all exactly 0 in f32). The ONNX graph floors it the same (`onnx`).
pub(crate) const TINY: f64 = 1e-30;
/// The slopes a fit may find: below, every reading would be about as sure as any other; above,
/// a map so steep it is a threshold.
const SLOPES: (f64, f64) = (0.05, 20.0);
/// The highest offset a fit may find, in log-odds (the lowest is [`ConfidenceMap::plausible`]'s
/// order-keeping bound).
const MAX_OFFSET: f64 = 20.0;
/// Newton steps for the fit (it converges in under ten on real data).
const STEPS: usize = 50;

/// The map of a run's top probabilities (`calibration.json`'s `confidence_slope` and
/// `confidence_offset`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ConfidenceMap {
    /// Multiplies the top probability's log-odds (natural log): below 1 brings the readings'
    /// confidences together, above 1 spreads them.
    pub slope: f64,
    /// Added to the log-odds after: above 0 raises every confidence.
    pub offset: f64,
}

impl ConfidenceMap {
    /// The map that changes nothing.
    pub(crate) const IDENTITY: Self = Self {
        slope: 1.0,
        offset: 0.0,
    };

    /// Whether `slope` and `offset` are a map [`ConfidenceMap::fit`] could have found: a slope
    /// in [`SLOPES`], and an offset at most [`MAX_OFFSET`] and at least `max(0, (slope - 1) ln
    /// 9)`, which keeps the classes' order for every reading. Why: the top probability p is at
    /// least 1/10 and the second p2 at most min(p, 1 - p); the top stays first when
    /// m / (1 - m) >= p2 / (1 - p), m the mapped top. For p >= 1/2 that asks m >= 1/2, i.e.
    /// offset >= 0; for p < 1/2 it asks logit(m) >= logit(p), i.e. offset >= (1 - slope)
    /// logit(p) for logit(p) down to -ln 9.
    pub(crate) fn plausible(slope: f64, offset: f64) -> bool {
        let lowest = ((slope - 1.0) * 9f64.ln()).max(0.0);
        (SLOPES.0..=SLOPES.1).contains(&slope) && (lowest..=MAX_OFFSET).contains(&offset)
    }

    /// The mapped confidence of a reading whose top probability's log-odds are `log_odds`.
    fn mapped(&self, log_odds: f64) -> f64 {
        1.0 / (1.0 + (-(self.slope * log_odds + self.offset)).exp())
    }

    /// `p`'s confidence after the map, `p` a top probability (0 to 1) whose others sum to
    /// `1 - p`.
    pub(crate) fn confidence(&self, p: f64) -> f64 {
        self.mapped(p.ln() - (1.0 - p).max(TINY).ln())
    }

    /// The top probability of `row`, what its other classes add up to (every class equal to
    /// the top counts as the top; at least [`TINY`]), in f64, and the log-odds of the two.
    fn top_and_rest(row: &[f32; NUM_CLASSES]) -> (f32, f64, f64) {
        let top = row.iter().copied().fold(0.0f32, f32::max);
        let rest = row
            .iter()
            .filter(|&&p| p != top)
            .map(|&p| f64::from(p))
            .sum::<f64>()
            .max(TINY);
        (top, rest, f64::from(top).ln() - rest.ln())
    }

    /// `row` (probabilities summing to 1) with its top probability p mapped to
    /// `sigmoid(slope * (ln p - ln rest) + offset)`, rest what the others add up to (at least
    /// [`TINY`]), the others scaled by what is left, then all divided by their sum (ties at the
    /// top are each mapped): what the ONNX graph's softmax gives.
    pub(crate) fn apply(&self, row: &[f32; NUM_CLASSES]) -> [f32; NUM_CLASSES] {
        let (top, rest, log_odds) = Self::top_and_rest(row);
        let mapped = self.mapped(log_odds);
        let scale = (1.0 - mapped) / rest;
        let moved = row.map(|p| {
            if p == top {
                mapped
            } else {
                f64::from(p) * scale
            }
        });
        let sum: f64 = moved.iter().sum();
        moved.map(|p| (p / sum) as f32)
    }

    /// The map that best predicts, from each image's top probability in `probabilities` (at
    /// the run's temperature), whether its top class is its label (`labels`): logistic
    /// regression on the log-odds by Newton's method. [`ConfidenceMap::IDENTITY`] when the fit
    /// is not [`ConfidenceMap::plausible`] (too few images, every one right, or a map that
    /// could put another class first).
    pub(crate) fn fit(probabilities: &[[f32; NUM_CLASSES]], labels: &[u8]) -> Self {
        let points: Vec<(f64, f64)> = probabilities
            .iter()
            .zip(labels)
            .map(|(row, &label)| {
                let (_, _, log_odds) = Self::top_and_rest(row);
                let class = crate::model::reading::argmax(row);
                (log_odds, f64::from(u8::from(class == label)))
            })
            .collect();
        let (mut slope, mut offset) = (1.0, 0.0);
        for _ in 0..STEPS {
            // Gradient and Hessian of the summed log-loss in (slope, offset).
            let (mut g, mut h) = ([0.0f64; 2], [[0.0f64; 2]; 2]);
            for &(x, y) in &points {
                let s = 1.0 / (1.0 + (-(slope * x + offset)).exp());
                let w = s * (1.0 - s);
                g[0] += (s - y) * x;
                g[1] += s - y;
                h[0][0] += w * x * x;
                h[0][1] += w * x;
                h[1][1] += w;
            }
            let det = h[0][0] * h[1][1] - h[0][1] * h[0][1];
            if !det.is_finite() || det <= 1e-12 {
                break;
            }
            slope -= (h[1][1] * g[0] - h[0][1] * g[1]) / det;
            offset -= (h[0][0] * g[1] - h[0][1] * g[0]) / det;
        }
        if Self::plausible(slope, offset) {
            Self { slope, offset }
        } else {
            Self::IDENTITY
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_rows::row;

    #[test]
    fn an_underconfident_model_is_mapped_up_and_its_readings_keep_their_order() {
        // Readings at 40% right 70% of the time, at 90% right 97% of the time: 2,000 images.
        let mut probabilities = Vec::new();
        let mut labels = Vec::new();
        for (p, right_of_100) in [(0.4f32, 70), (0.9, 97)] {
            for image in 0..1000 {
                probabilities.push(row(3, p));
                labels.push(if image % 100 < right_of_100 { 3 } else { 5 });
            }
        }
        let map = ConfidenceMap::fit(&probabilities, &labels);
        assert!(map != ConfidenceMap::IDENTITY);
        let low = map.apply(&row(3, 0.4));
        let high = map.apply(&row(3, 0.9));
        assert!((low[3] - 0.70).abs() < 0.01, "{}", low[3]);
        assert!((high[3] - 0.97).abs() < 0.01, "{}", high[3]);
        for mapped in [low, high] {
            assert!((mapped.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            assert_eq!(crate::model::reading::argmax(&mapped), 3);
            // The others keep their proportions.
            assert!((mapped[0] - mapped[9]).abs() < 1e-9);
        }
        // A sure reading of exactly 1.0 stays a probability; one a little below 1 is mapped by
        // its own log-odds (what the others add up to), not by a clipped top.
        let sure = map.apply(&row(3, 1.0));
        assert!(sure.iter().all(|p| p.is_finite()) && sure[3] > 0.99);
        let near = map.apply(&row(3, 0.999_999_94));
        let expected = map.confidence(f64::from(0.999_999_94f32));
        assert!(
            (f64::from(near[3]) - expected).abs() < 1e-7,
            "{} {expected}",
            near[3]
        );
    }

    #[test]
    fn the_identity_changes_nothing_and_a_fit_without_mistakes_leaves_it() {
        let reading = row(7, 0.6);
        let same = ConfidenceMap::IDENTITY.apply(&reading);
        for (a, b) in reading.iter().zip(same) {
            assert!((a - b).abs() < 1e-6);
        }
        // Every image right: the best map would send every confidence to 1 (no plausible one).
        let probabilities = vec![row(2, 0.8); 50];
        assert_eq!(
            ConfidenceMap::fit(&probabilities, &[2; 50]),
            ConfidenceMap::IDENTITY
        );
        assert!(ConfidenceMap::plausible(0.5, 0.8) && !ConfidenceMap::plausible(-1.0, 0.0));
        assert!(!ConfidenceMap::plausible(1.0, f64::NAN));
        // Maps that could put another class first are not plausible: a negative offset, or a
        // slope above 1 without the offset that keeps a reading at 1/10 above the rest.
        assert!(!ConfidenceMap::plausible(0.5, -0.1) && !ConfidenceMap::plausible(2.0, 2.0));
        assert!(ConfidenceMap::plausible(2.0, 2.2));
    }

    #[test]
    fn a_plausible_map_never_puts_another_class_first() {
        // Readings from nearly even to sure, with a close second, through maps at the edges.
        let maps = [
            (0.05, 0.0),
            (0.05, 20.0),
            (1.0, 0.0),
            (10.0, 9.0 * 9f64.ln()),
            (0.55, 0.85),
        ];
        for (slope, offset) in maps {
            assert!(ConfidenceMap::plausible(slope, offset), "{slope} {offset}");
            let map = ConfidenceMap { slope, offset };
            for top in [0.1001f32, 0.2, 0.34, 0.5, 0.51, 0.9, 0.999, 1.0] {
                let second = top.min(1.0 - top) * 0.999;
                let mut reading = [0.0f32; NUM_CLASSES];
                reading[6] = top;
                reading[2] = second;
                let others = (1.0 - top - second).max(0.0) / 8.0;
                for class in [0, 1, 3, 4, 5, 7, 8, 9] {
                    reading[class] = others.min(second);
                }
                let mapped = map.apply(&reading);
                assert_eq!(
                    crate::model::reading::argmax(&mapped),
                    6,
                    "{slope} {offset} {top}"
                );
                assert!((mapped.iter().sum::<f32>() - 1.0).abs() < 1e-5);
                assert!(mapped.iter().all(|p| p.is_finite() && *p >= 0.0));
            }
        }
    }
}
