//! The network and what trains it (`optimizer.rs`), and whether it fits in memory (`memory.rs`).
//!
//! The network: Linear(784 → h₁) → act → … → Linear(hₙ → 10) logits. The tutorial's is one
//! hidden layer of 128 with ReLU; no hidden layer at all is softmax regression.

mod fused_adam;
pub(crate) mod memory;
pub(crate) mod optimizer;

use burn::nn::activation::{Activation, ActivationConfig};
use burn::nn::loss::{CrossEntropyLossConfig, MseLoss, Reduction};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::train::ClassificationOutput;

use crate::choice::named_choice;
use crate::data::{IMAGE_PIXELS, NUM_CLASSES};

named_choice!(
    /// The non-linearity between hidden layers.
    ActivationKind, "activation", { Relu => "relu", Sigmoid => "sigmoid", Tanh => "tanh" }
);

named_choice!(
    /// What training minimises.
    LossKind, "loss", {
        CrossEntropy => "cross-entropy",
        // Between the softmax probabilities and one-hot targets: the tutorial's regression loss
        // applied to classification, to compare with cross-entropy.
        Mse => "mse",
    }
);

/// The network's shape: `Linear(784 → h₁) → activation → … → Linear(hₙ → 10)`. The tutorial's
/// is `hidden_sizes = [128]` with ReLU (PyTorch's `SimpleNN`); it is saved in `config.json`.
#[derive(Config, Debug, PartialEq)]
pub struct ModelConfig {
    /// Units of each hidden layer, input side first; empty for softmax regression.
    #[config(default = "vec![128]")]
    pub hidden_sizes: Vec<usize>,
    /// Applied after every hidden layer (not after the output layer).
    #[config(default = "ActivationKind::Relu")]
    pub activation: ActivationKind,
}

impl ModelConfig {
    /// A new network on `device`, its weights drawn by Burn's `Linear` initialiser from the
    /// device's seeded generator (`device.seed(..)` first for a reproducible model).
    pub fn init(&self, device: &Device) -> Model {
        let widths: Vec<usize> = std::iter::once(IMAGE_PIXELS)
            .chain(self.hidden_sizes.iter().copied())
            .collect();
        let hidden = widths
            .windows(2)
            .map(|pair| LinearConfig::new(pair[0], pair[1]).init(device))
            .collect();
        let activation = match self.activation {
            ActivationKind::Relu => ActivationConfig::Relu,
            ActivationKind::Sigmoid => ActivationConfig::Sigmoid,
            ActivationKind::Tanh => ActivationConfig::Tanh,
        };
        Model {
            hidden,
            activation: activation.init(device),
            output: LinearConfig::new(*widths.last().expect("input width"), NUM_CLASSES)
                .init(device),
            loss: LossKind::CrossEntropy,
        }
    }

    /// Input, hidden and output widths, in order.
    pub fn widths(&self) -> Vec<usize> {
        std::iter::once(IMAGE_PIXELS)
            .chain(self.hidden_sizes.iter().copied())
            .chain(std::iter::once(NUM_CLASSES))
            .collect()
    }

    /// Weights and biases of all layers; `None` when the count does not even fit in 64 bits.
    pub fn parameter_count(&self) -> Option<u64> {
        self.widths().windows(2).try_fold(0u64, |total, pair| {
            let (inputs, outputs) = (pair[0] as u64, pair[1] as u64);
            inputs
                .checked_add(1)?
                .checked_mul(outputs)?
                .checked_add(total)
        })
    }

    /// "784-128-10": the layer widths, as people write them.
    pub fn describe(&self) -> String {
        self.widths()
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join("-")
    }
}

/// Parses `--hidden`: "128", "256,128", or "" for no hidden layer.
///
/// Errors: a comma-separated part that is not a whole number, with a message naming it.
pub(crate) fn parse_hidden_sizes(text: &str) -> Result<Vec<usize>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|part| {
            part.trim().parse::<usize>().map_err(|_| {
                format!("`{part}` is not a layer size (use e.g. 128, or 256,128, or \"\" for none)")
            })
        })
        .collect()
}

/// The multilayer perceptron a [`ModelConfig`] describes, with the loss it trains with. Input
/// `[batch, 784]` pixels scaled to [0, 1] (as torchvision's `ToTensor`), output `[batch, 10]`
/// logits (softmax gives the class probabilities).
#[derive(Module, Debug)]
pub struct Model {
    /// The hidden layers, input side first (`hidden.0`, ... in the record).
    hidden: Vec<Linear>,
    /// Applied after each hidden layer.
    activation: Activation,
    /// The last layer, to the 10 logits (`output` in the record).
    output: Linear,
    /// Training-time choice, not a weight: records do not carry it.
    #[module(skip)]
    loss: LossKind,
}

impl Model {
    /// The same network, trained (and scored) with `loss`; a loaded record does not carry it.
    pub fn with_loss(mut self, loss: LossKind) -> Self {
        self.loss = loss;
        self
    }

    /// `[batch, 784]` pixels in [0, 1] → `[batch, 10]` logits.
    pub fn forward(&self, images: Tensor<2>) -> Tensor<2> {
        let x = self
            .hidden
            .iter()
            .fold(images, |x, layer| self.activation.forward(layer.forward(x)));
        self.output.forward(x)
    }

    /// The output layer's weights, to compare two trainings.
    #[cfg(test)]
    pub fn output_weights(&self) -> Tensor<2> {
        self.output.weight.val()
    }

    /// The sum of the squares of every weight (biases left out), to see decay at work.
    #[cfg(test)]
    pub fn squared_weights(&self) -> f32 {
        self.hidden
            .iter()
            .chain(std::iter::once(&self.output))
            .map(|layer| layer.weight.val().powi_scalar(2).sum().into_scalar::<f32>())
            .sum()
    }

    /// What Burn's training and validation steps need: the logits `[batch, 10]` of `images`
    /// `[batch, 784]`, and the mean loss over the batch against `targets` `[batch]` (class
    /// indices 0-9): cross-entropy of the logits (PyTorch's `nn.CrossEntropyLoss`), or the mean
    /// squared error between the softmax probabilities and one-hot targets.
    pub fn forward_classification(
        &self,
        images: Tensor<2>,
        targets: Tensor<1, Int>,
    ) -> ClassificationOutput {
        let logits = self.forward(images);
        let device = logits.device();
        let loss = match self.loss {
            LossKind::CrossEntropy => CrossEntropyLossConfig::new()
                .init(&device)
                .forward(logits.clone(), targets.clone()),
            LossKind::Mse => {
                let one_hot = targets.clone().one_hot(NUM_CLASSES).float();
                MseLoss::new().forward(softmax(logits.clone(), 1), one_hot, Reduction::Mean)
            }
        };
        ClassificationOutput::new(loss, logits, targets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_a_batch_of_images_to_ten_logits_for_any_depth() {
        let device = Device::flex();
        for hidden in [vec![], vec![128], vec![64, 32]] {
            let config = ModelConfig::new().with_hidden_sizes(hidden.clone());
            let logits = config
                .init(&device)
                .forward(Tensor::zeros([3, IMAGE_PIXELS], &device));
            assert_eq!(logits.dims(), [3, NUM_CLASSES], "{hidden:?}");
        }
    }

    #[test]
    fn has_the_tutorials_parameter_count() {
        // 784*128 + 128 + 128*10 + 10, as PyTorch reports for the tutorial's network.
        let model = ModelConfig::new().init(&Device::flex());
        assert_eq!(model.num_params(), 101_770);
        assert_eq!(ModelConfig::new().parameter_count(), Some(101_770));
        let huge = ModelConfig::new().with_hidden_sizes(vec![usize::MAX, usize::MAX]);
        assert_eq!(huge.parameter_count(), None, "overflow is caught");
        let regression = ModelConfig::new()
            .with_hidden_sizes(vec![])
            .init(&Device::flex());
        assert_eq!(regression.num_params(), 7_850);
        assert_eq!(
            ModelConfig::new()
                .with_hidden_sizes(vec![256, 128])
                .describe(),
            "784-256-128-10"
        );
    }

    #[test]
    fn both_losses_equal_their_formulas_computed_by_hand() {
        let device = Device::flex();
        let pixels: Vec<f32> = (0..2 * IMAGE_PIXELS)
            .map(|i| (i % 97) as f32 / 96.0)
            .collect();
        let images = Tensor::<2>::from_data(TensorData::new(pixels, [2, IMAGE_PIXELS]), &device);
        let labels = [3usize, 7];
        let targets = Tensor::<1, Int>::from_data(
            TensorData::new(labels.map(|l| l as i64).to_vec(), [2]),
            &device,
        );
        for loss in [LossKind::CrossEntropy, LossKind::Mse] {
            let model = ModelConfig::new().init(&device).with_loss(loss);
            let logits: Vec<f32> = model
                .forward(images.clone())
                .into_data()
                .try_to_vec()
                .unwrap();
            // By hand, from the logits: PyTorch's CrossEntropyLoss (mean of -log softmax at
            // the target) and the mean over rows and classes of (softmax - one-hot)².
            let mut expected = 0.0f64;
            for (row, &label) in logits.chunks(NUM_CLASSES).zip(&labels) {
                let max = row.iter().cloned().fold(f32::MIN, f32::max) as f64;
                let sum: f64 = row.iter().map(|&z| (z as f64 - max).exp()).sum();
                expected += match loss {
                    LossKind::CrossEntropy => (sum.ln() + max - row[label] as f64) / 2.0,
                    LossKind::Mse => row
                        .iter()
                        .enumerate()
                        .map(|(class, &z)| {
                            let p = (z as f64 - max).exp() / sum;
                            let target = if class == label { 1.0 } else { 0.0 };
                            (p - target).powi(2) / (2 * NUM_CLASSES) as f64
                        })
                        .sum::<f64>(),
                };
            }
            let value: f32 = model
                .forward_classification(images.clone(), targets.clone())
                .loss
                .into_scalar::<f32>();
            assert!(
                (f64::from(value) - expected).abs() < 1e-5 * expected.max(1.0),
                "{loss}: {value} against {expected}"
            );
        }
    }

    #[test]
    fn hidden_sizes_and_names_parse_with_helpful_errors() {
        assert_eq!(parse_hidden_sizes("256,128"), Ok(vec![256, 128]));
        assert_eq!(parse_hidden_sizes(""), Ok(vec![]));
        assert!(
            parse_hidden_sizes("12x")
                .unwrap_err()
                .contains("`12x` is not a layer size")
        );
        assert_eq!("tanh".parse::<ActivationKind>(), Ok(ActivationKind::Tanh));
        assert_eq!(
            "swish".parse::<ActivationKind>().unwrap_err(),
            "unknown activation `swish` (valid: relu, sigmoid, tanh)"
        );
        assert_eq!(
            "cross-entropy".parse::<LossKind>(),
            Ok(LossKind::CrossEntropy)
        );
        assert_eq!(serde_json::to_string(&LossKind::Mse).unwrap(), "\"mse\"");
    }
}
