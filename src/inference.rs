//! Using a trained model: class probabilities for images, and accuracy over a labelled set.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use serde::Serialize;

use crate::data::images_tensor;
use crate::idx::{IMAGE_PIXELS, LabelledImages, NUM_CLASSES};
use crate::model::Model;

/// Images per forward pass when scoring many: large enough to keep the backend busy, small
/// enough that a 10,000-image test split does not sit in memory as activations at once.
const CHUNK: usize = 1000;

/// One digit's probability.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Guess {
    pub digit: u8,
    pub probability: f32,
}

/// The `k` most probable digits, most probable first; ties keep the lower digit first.
pub fn top_k(probabilities: &[f32; NUM_CLASSES], k: usize) -> Vec<Guess> {
    let mut guesses: Vec<Guess> = probabilities
        .iter()
        .enumerate()
        .map(|(digit, &probability)| Guess {
            digit: digit as u8,
            probability,
        })
        .collect();
    guesses.sort_by(|a, b| b.probability.total_cmp(&a.probability).then(a.digit.cmp(&b.digit)));
    guesses.truncate(k);
    guesses
}

/// Softmax probabilities for each image in `pixels` (784 bytes per image).
pub fn probabilities(model: &Model, pixels: &[u8], device: &Device) -> Vec<[f32; NUM_CLASSES]> {
    pixels
        .chunks(CHUNK * IMAGE_PIXELS)
        .flat_map(|chunk| {
            let logits = model.forward(images_tensor(chunk, device));
            let values: Vec<f32> = softmax(logits, 1)
                .into_data()
                .try_into_vec_as::<f32>()
                .expect("softmax output converts to f32");
            values
                .chunks_exact(NUM_CLASSES)
                .map(|row| row.try_into().expect("rows of NUM_CLASSES"))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Evaluation {
    /// Percent correct.
    pub accuracy: f64,
    /// Mean cross-entropy.
    pub loss: f64,
    pub images: usize,
}

/// Accuracy and mean cross-entropy of `model` over `data`.
pub fn evaluate(model: &Model, data: &LabelledImages, device: &Device) -> Evaluation {
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let mut correct = 0usize;
    let mut loss_sum = 0.0f64;
    for (pixels, labels) in data
        .pixels
        .chunks(CHUNK * IMAGE_PIXELS)
        .zip(data.labels.chunks(CHUNK))
    {
        let logits = model.forward(images_tensor(pixels, device));
        let targets_data: Vec<i64> = labels.iter().map(|&l| i64::from(l)).collect();
        let targets = Tensor::<1, Int>::from_data(TensorData::new(targets_data, [labels.len()]), device);
        let predicted: Vec<i64> = logits
            .clone()
            .argmax(1)
            .into_data()
                .try_into_vec_as::<i64>()
            .expect("argmax converts to i64");
        correct += predicted
            .iter()
            .zip(labels)
            .filter(|&(&p, &l)| p == i64::from(l))
            .count();
        let batch_loss: f32 = loss_fn.forward(logits, targets).into_scalar::<f32>();
        loss_sum += f64::from(batch_loss) * labels.len() as f64;
    }
    let images = data.len();
    Evaluation {
        accuracy: 100.0 * correct as f64 / images.max(1) as f64,
        loss: loss_sum / images.max(1) as f64,
        images,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_orders_by_probability() {
        let mut p = [0.0f32; NUM_CLASSES];
        p[3] = 0.5;
        p[7] = 0.3;
        p[1] = 0.2;
        let top = top_k(&p, 3);
        assert_eq!(top.iter().map(|g| g.digit).collect::<Vec<_>>(), vec![3, 7, 1]);
        assert_eq!(top[0].probability, 0.5);
        assert_eq!(top_k(&[0.1; NUM_CLASSES], 2).iter().map(|g| g.digit).collect::<Vec<_>>(), vec![0, 1]);
    }

    #[test]
    fn probabilities_sum_to_one_and_evaluation_counts_every_image() {
        let device = Device::flex();
        let model = crate::model::ModelConfig::new().init(&device);
        let data = LabelledImages {
            pixels: (0..3 * IMAGE_PIXELS).map(|i| (i % 251) as u8).collect(),
            labels: vec![1, 2, 3],
        };
        let probs = probabilities(&model, &data.pixels, &device);
        assert_eq!(probs.len(), 3);
        for row in &probs {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
        let evaluation = evaluate(&model, &data, &device);
        assert_eq!(evaluation.images, 3);
        assert!((0.0..=100.0).contains(&evaluation.accuracy));
        assert!(evaluation.loss.is_finite() && evaluation.loss > 0.0);
    }
}
