//! The tutorial's network: Linear(784 → hidden) → ReLU → Linear(hidden → 10) logits.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::prelude::*;
use burn::train::ClassificationOutput;

use crate::idx::{IMAGE_PIXELS, NUM_CLASSES};

#[derive(Config, Debug, PartialEq)]
pub struct ModelConfig {
    #[config(default = 128)]
    pub hidden_size: usize,
}

impl ModelConfig {
    pub fn init(&self, device: &Device) -> Model {
        Model {
            hidden: LinearConfig::new(IMAGE_PIXELS, self.hidden_size).init(device),
            activation: Relu::new(),
            output: LinearConfig::new(self.hidden_size, NUM_CLASSES).init(device),
        }
    }
}

#[derive(Module, Debug)]
pub struct Model {
    hidden: Linear,
    activation: Relu,
    output: Linear,
}

impl Model {
    /// `[batch, 784]` pixels in [0, 1] → `[batch, 10]` logits.
    pub fn forward(&self, images: Tensor<2>) -> Tensor<2> {
        let x = self.hidden.forward(images);
        let x = self.activation.forward(x);
        self.output.forward(x)
    }

    pub fn forward_classification(
        &self,
        images: Tensor<2>,
        targets: Tensor<1, Int>,
    ) -> ClassificationOutput {
        let logits = self.forward(images);
        let loss = CrossEntropyLossConfig::new()
            .init(&logits.device())
            .forward(logits.clone(), targets.clone());
        ClassificationOutput::new(loss, logits, targets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_a_batch_of_images_to_ten_logits() {
        let device = Device::flex();
        let model = ModelConfig::new().init(&device);
        let logits = model.forward(Tensor::zeros([3, IMAGE_PIXELS], &device));
        assert_eq!(logits.dims(), [3, NUM_CLASSES]);
    }

    #[test]
    fn has_the_tutorials_parameter_count() {
        // 784*128 + 128 + 128*10 + 10, as PyTorch reports for the tutorial's network.
        let model = ModelConfig::new().init(&Device::flex());
        assert_eq!(model.num_params(), 101_770);
    }
}
