//! The network and what trains it (`optimizer.rs`), and whether it fits in memory (`memory.rs`).
//!
//! The MLP: Linear(784 → h₁) → act → … → Linear(hₙ → 10) logits. The tutorial's is one hidden
//! layer of 128 with ReLU; no hidden layer at all is softmax regression. The CNN is PyTorch's
//! `examples/mnist` `Net`: its convolutions (`cnn.rs`) feed the same kind of Linear layers
//! (`fc1` 9216 → 128, `fc2` 128 → 10), with dropout after `fc1`.

pub(crate) mod cnn;
pub(crate) mod confidence;
mod flex_ops;
mod fused_adam;
pub(crate) mod memory;
pub(crate) mod optimizer;
pub(crate) mod predict;
pub(crate) mod reading;
pub(crate) mod rejection;
pub(crate) mod shape;
pub(crate) mod steadiness;
pub(crate) mod summary;
pub(crate) mod temperature;
#[cfg(test)]
mod test_rows;

use burn::nn::activation::{Activation, ActivationConfig};
use burn::nn::loss::{CrossEntropyLossConfig, MseLoss, Reduction};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::train::ClassificationOutput;

use crate::choice::named_choice;
use crate::data::{IMAGE_PIXELS, NUM_CLASSES};
use crate::model::cnn::ConvFeatures;
use crate::rules::Shown;

named_choice!(
    /// Which network: the tutorial's multilayer perceptron, or PyTorch `examples/mnist`'s `Net`.
    ModelKind, "model", { Mlp => "mlp", Cnn => "cnn" }
);

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

/// Pixels standardised before the first layer: `(x - mean) / std`, on pixels in [0, 1], as
/// torchvision's `Normalize((mean,), (std,))` after `ToTensor`.
#[derive(Config, Debug, PartialEq)]
pub struct Normalization {
    /// Subtracted from every pixel (a fraction of full ink).
    pub mean: f64,
    /// What the difference is divided by; positive.
    pub std: f64,
}

impl Normalization {
    /// MNIST's training-set pixel mean and standard deviation, as PyTorch's `examples/mnist`
    /// normalises its inputs.
    pub fn mnist() -> Self {
        Self::new(0.1307, 0.3081)
    }
}

/// Dropout after `Net`'s `fc1` (its `dropout2`).
pub(crate) const CNN_HIDDEN_DROPOUT: f64 = 0.5;

/// The doc of each `ModelConfig` field a training flag sets, declared once: the field's rustdoc here and
/// the flag's `--help` (`cli/training_flags.rs`) both read it.
macro_rules! model_doc {
    (kind) => {
        "Network: mlp (the tutorial's) or cnn (PyTorch examples/mnist's Net: two convolutions, inputs normalised with MNIST's mean and std)."
    };
    (hidden_sizes) => {
        "Hidden layer widths, input side first: 256,128 on the command line, [256, 128] in JSON; none (\"\" or []) for softmax regression. The CNN's is Net's 128."
    };
    (activation) => {
        "Hidden-layer activation (relu, sigmoid or tanh), after every hidden Linear layer, not after the output layer; the CNN's is relu."
    };
}
pub(crate) use model_doc;

/// The network's shape, saved in `config.json`. The MLP is `Linear(784 → h₁) → activation → …
/// → Linear(hₙ → 10)`; the tutorial's is `hidden_sizes = [128]` with ReLU (PyTorch's
/// `SimpleNN`). The CNN is PyTorch `examples/mnist`'s `Net`, whose Linear part is
/// `hidden_sizes = [128]` with ReLU.
#[derive(Config, Debug, PartialEq)]
pub struct ModelConfig {
    #[doc = model_doc!(kind)]
    #[config(default = "ModelKind::Mlp")]
    pub kind: ModelKind,
    #[doc = model_doc!(hidden_sizes)]
    #[config(default = "vec![128]")]
    pub hidden_sizes: Vec<usize>,
    #[doc = model_doc!(activation)]
    #[config(default = "ActivationKind::Relu")]
    pub activation: ActivationKind,
    /// Standardises the pixels first, inside the model (so `infer`, `eval`, `serve` and
    /// `export` apply it too). Absent: the kind's own, recorded when a run starts: none for
    /// the MLP (the tutorial's `ToTensor` only), [`Normalization::mnist`] for the CNN.
    #[config(default = "None")]
    pub input_normalization: Option<Normalization>,
}

impl ModelConfig {
    /// The config with the kind's own normalisation when none is given (see
    /// `input_normalization`), as a run records it.
    pub fn completed(mut self) -> Self {
        if self.kind == ModelKind::Cnn && self.input_normalization.is_none() {
            self.input_normalization = Some(Normalization::mnist());
        }
        self
    }

    /// A new network on `device`, its weights drawn by Burn's `Linear` and `Conv2d`
    /// initialisers from the device's seeded generator (`device.seed(..)` first for a
    /// reproducible model).
    pub fn init(&self, device: &Device) -> Model {
        let cnn = self.kind == ModelKind::Cnn;
        let widths = self.linear_widths();
        let mut hidden: Vec<Linear> = widths
            .windows(2)
            .map(|pair| LinearConfig::new(pair[0], pair[1]).init(device))
            .collect();
        let output = hidden
            .pop()
            .expect("the widths run from the input to the 10 outputs");
        let activation = match self.activation {
            ActivationKind::Relu => ActivationConfig::Relu,
            ActivationKind::Sigmoid => ActivationConfig::Sigmoid,
            ActivationKind::Tanh => ActivationConfig::Tanh,
        };
        Model {
            features: cnn.then(|| ConvFeatures::init(device)),
            hidden,
            activation: activation.init(device),
            hidden_dropout: cnn.then(|| DropoutConfig::new(CNN_HIDDEN_DROPOUT).init()),
            output,
            normalization: self
                .input_normalization
                .as_ref()
                .map(|n| (n.mean as f32, n.std as f32)),
            loss: LossKind::CrossEntropy,
        }
    }

    /// Widths of the Linear layers, input first: `[784, 128, 10]` for the tutorial's MLP,
    /// `[9216, 128, 10]` for the CNN (its convolutions give 9,216 features).
    pub fn linear_widths(&self) -> Vec<usize> {
        let input = match self.kind {
            ModelKind::Mlp => IMAGE_PIXELS,
            ModelKind::Cnn => cnn::FEATURES,
        };
        std::iter::once(input)
            .chain(self.hidden_sizes.iter().copied())
            .chain(std::iter::once(NUM_CLASSES))
            .collect()
    }

    /// Values one image holds on its way through the network (inputs, feature maps, every
    /// layer's outputs), for the memory estimate; `None` on overflow.
    pub fn activation_count(&self) -> Option<u64> {
        let convolutions = match self.kind {
            ModelKind::Mlp => 0,
            ModelKind::Cnn => cnn::ACTIVATIONS,
        };
        self.linear_widths()
            .iter()
            .try_fold(convolutions, |sum, &w| sum.checked_add(w as u64))
    }

    /// Weights and biases of all layers; `None` when the count does not even fit in 64 bits.
    pub fn parameter_count(&self) -> Option<u64> {
        let convolutions = match self.kind {
            ModelKind::Mlp => 0,
            ModelKind::Cnn => cnn::PARAMETERS,
        };
        self.linear_widths()
            .windows(2)
            .try_fold(convolutions, |total, pair| {
                let (inputs, outputs) = (pair[0] as u64, pair[1] as u64);
                inputs
                    .checked_add(1)?
                    .checked_mul(outputs)?
                    .checked_add(total)
            })
    }

    /// The network as people write it: "784-128-10" (the MLP's widths), "cnn
    /// 32C3-64C3-P2-128-10" (convolutions of 32 and 64 3x3 filters, a 2x2 pool, then the
    /// Linear layers).
    pub fn describe(&self) -> String {
        let widths = self.linear_widths();
        let (prefix, shown) = match self.kind {
            ModelKind::Mlp => ("", &widths[..]),
            ModelKind::Cnn => ("cnn 32C3-64C3-P2-", &widths[1..]),
        };
        let widths: Vec<String> = shown.iter().map(|w| w.to_string()).collect();
        format!("{prefix}{}", widths.join("-"))
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

/// The network a [`ModelConfig`] describes, with the loss it trains with. Input `[batch, 784]`
/// pixels scaled to [0, 1] (as torchvision's `ToTensor`), output `[batch, 10]` logits (softmax
/// gives the class probabilities). The MLP's record holds `hidden.N` and `output` only, as
/// before the CNN existed, so older runs load.
#[derive(Module, Debug)]
pub struct Model {
    /// The CNN's convolutions (`features.conv1`, `features.conv2`); `None` for the MLP.
    features: Option<ConvFeatures>,
    /// The hidden Linear layers, input side first (`hidden.0`, ... in the record).
    hidden: Vec<Linear>,
    /// Applied after each hidden layer.
    activation: Activation,
    /// The CNN's dropout after each hidden layer (`Net`'s `dropout2`); `None` for the MLP.
    hidden_dropout: Option<Dropout>,
    /// The last layer, to the 10 logits (`output` in the record).
    output: Linear,
    /// `(mean, std)` the pixels are standardised with first, from the config (not a weight).
    #[module(skip)]
    normalization: Option<(f32, f32)>,
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
        self.output.forward(self.last_hidden(images))
    }

    /// [`Model::forward`]'s logits, and for each image whether the network is silent on it:
    /// every input of the output layer 0 (for ReLU networks, every unit of the last hidden
    /// layer off), so that its logits are the output layer's bias alone, whatever the image.
    /// A model trained with Outlier Exposure learns to answer so for what it knows nothing of
    /// (`model::rejection`).
    pub fn forward_with_silence(&self, images: Tensor<2>) -> (Tensor<2>, Vec<bool>) {
        let hidden = self.last_hidden(images);
        let loudest: Vec<f32> = hidden
            .clone()
            .abs()
            .max_dim(1)
            .into_data()
            .try_into_vec_as::<f32>()
            .expect("activations convert to f32");
        let silent = loudest.iter().map(|&value| value == 0.0).collect();
        (self.output.forward(hidden), silent)
    }

    /// The output layer's bias, `[10]`: the logits of an image the network is silent on
    /// ([`Model::forward_with_silence`]).
    pub(crate) fn output_bias(&self) -> [f32; NUM_CLASSES] {
        let values: Vec<f32> = match &self.output.bias {
            Some(bias) => bias
                .val()
                .into_data()
                .try_into_vec_as::<f32>()
                .expect("f32 bias"),
            None => vec![0.0; NUM_CLASSES],
        };
        values.try_into().expect("10 outputs")
    }

    /// The input of the output layer, `[batch, width]`: the last hidden layer's activations
    /// (the CNN's or MLP's features themselves when there is no hidden layer).
    fn last_hidden(&self, images: Tensor<2>) -> Tensor<2> {
        let images = match self.normalization {
            Some((mean, std)) => images.sub_scalar(mean).div_scalar(std),
            None => images,
        };
        let features = match &self.features {
            Some(features) => features.forward(images),
            None => images,
        };
        self.hidden.iter().fold(features, |x, layer| {
            let x = self.activation.forward(layer.forward(x));
            match &self.hidden_dropout {
                Some(dropout) => dropout.forward(x),
                None => x,
            }
        })
    }

    /// Whether training draws random numbers (dropout masks): the step then seeds the device
    /// per batch, so a resumed run draws what the uninterrupted one did.
    pub fn uses_dropout(&self) -> bool {
        self.hidden_dropout.is_some() || self.features.is_some()
    }

    /// The first Linear layer's weights in Burn's `[in, out]` layout, as values.
    #[cfg(test)]
    pub fn first_layer_weights(&self) -> TensorData {
        self.hidden[0].weight.val().into_data()
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
        let loss = self.digit_loss(logits.clone(), targets.clone());
        ClassificationOutput::new(loss, logits, targets)
    }

    /// The mean loss of `logits` `[batch, 10]` against `targets` `[batch]`: cross-entropy
    /// (PyTorch's `nn.CrossEntropyLoss`), or the mean squared error between the softmax
    /// probabilities and one-hot targets.
    fn digit_loss(&self, logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
        match self.loss {
            LossKind::CrossEntropy => CrossEntropyLossConfig::new()
                .init(&logits.device())
                .forward(logits, targets),
            LossKind::Mse => {
                let one_hot = targets.one_hot(NUM_CLASSES).float();
                MseLoss::new().forward(softmax(logits, 1), one_hot, Reduction::Mean)
            }
        }
    }

    /// [`Model::forward_classification`] with Outlier Exposure (Hendrycks, Mazeika & Dietterich,
    /// ICLR 2019, eq. 1 with their classification loss): the digits' loss plus `weight` times
    /// the outliers' divergence from the uniform distribution, the mean over `outliers`
    /// `[n, 784]` of `logsumexp(z) - mean(z) - ln 10` of their logits `z` (their cross-entropy
    /// to it, less its floor). One forward pass for both
    /// (digits first); the output holds the digits' logits alone, so accuracy counts digits.
    pub fn forward_with_outliers(
        &self,
        images: Tensor<2>,
        targets: Tensor<1, Int>,
        outliers: Tensor<2>,
        weight: f32,
    ) -> ClassificationOutput {
        let digits = images.dims()[0];
        let all = self.forward(Tensor::cat(vec![images, outliers], 0));
        let total = all.dims()[0];
        let logits = all.clone().slice(0..digits);
        let outlier_logits = all.slice(digits..total);
        // Less ln 10, the cross-entropy of the uniform distribution with itself: the KL
        // divergence from it, 0 when the outliers' probabilities are even (same gradient).
        let uniform_divergence = log_sum_exp(outlier_logits.clone())
            .sub(outlier_logits.mean_dim(1))
            .mean()
            .sub_scalar((NUM_CLASSES as f32).ln());
        let loss = self
            .digit_loss(logits.clone(), targets.clone())
            .add(uniform_divergence.mul_scalar(weight));
        ClassificationOutput::new(loss, logits, targets)
    }
}

/// `log(sum(exp(x)))` of each row of `logits` `[n, 10]`, as `[n, 1]`, computed stably (the
/// row's largest value taken out first).
fn log_sum_exp(logits: Tensor<2>) -> Tensor<2> {
    let largest = logits.clone().max_dim(1).detach();
    logits
        .sub(largest.clone())
        .exp()
        .sum_dim(1)
        .log()
        .add(largest)
}

impl Shown for ActivationKind {
    fn shown(&self) -> String {
        self.to_string()
    }
}

impl Shown for Normalization {
    fn shown(&self) -> String {
        format!("{{\"mean\": {}, \"std\": {}}}", self.mean, self.std)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_a_batch_of_images_to_ten_logits_for_any_depth() {
        let _random = crate::random_generator_lock();
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
    fn a_network_whose_last_hidden_layer_is_off_is_silent_and_gives_its_output_bias() {
        let _random = crate::random_generator_lock();
        let device = Device::flex();
        let mut model = ModelConfig::new().init(&device);
        let images = Tensor::<2>::random(
            [4, IMAGE_PIXELS],
            burn::tensor::Distribution::Uniform(0.0, 1.0),
            &device,
        );
        // Freshly initialised, some hidden units respond to any of these.
        let (_, silent) = model.forward_with_silence(images.clone());
        assert_eq!(silent, [false; 4]);
        // Every hidden unit's input below 0: the ReLU turns them all off, whatever the image.
        let hidden = &mut model.hidden[0];
        hidden.weight = hidden.weight.clone().map(|w| w.zeros_like());
        hidden.bias = hidden.bias.clone().map(|b| b.map(|b| b.ones_like().neg()));
        let (logits, silent) = model.forward_with_silence(images);
        assert_eq!(silent, [true; 4]);
        let logits: Vec<f32> = logits.into_data().try_into_vec_as::<f32>().unwrap();
        for row in logits.chunks_exact(NUM_CLASSES) {
            assert_eq!(row, model.output_bias().as_slice());
        }
    }

    #[test]
    fn has_the_tutorials_parameter_count() {
        let _random = crate::random_generator_lock();
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
        let _random = crate::random_generator_lock();
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
    fn outlier_exposure_adds_the_outliers_divergence_from_even_probabilities() {
        let _random = crate::random_generator_lock();
        let device = Device::flex();
        let tensor = |count: usize, step: usize| {
            let pixels: Vec<f32> = (0..count * IMAGE_PIXELS)
                .map(|i| ((i * step) % 89) as f32 / 88.0)
                .collect();
            Tensor::<2>::from_data(TensorData::new(pixels, [count, IMAGE_PIXELS]), &device)
        };
        let (images, outliers) = (tensor(2, 1), tensor(3, 7));
        let targets = Tensor::<1, Int>::from_data(TensorData::new(vec![3i64, 7], [2]), &device);
        let model = ModelConfig::new().init(&device);
        let digits_alone = model.forward_classification(images.clone(), targets.clone());
        let weight = 0.5;
        let with_outliers = model.forward_with_outliers(images, targets, outliers.clone(), weight);
        // By hand: the mean over outliers of log-sum-exp(z) - mean(z) - ln 10.
        let logits: Vec<f32> = model.forward(outliers).into_data().try_to_vec().unwrap();
        let divergence: f64 = logits
            .chunks(NUM_CLASSES)
            .map(|row| {
                let max = row.iter().cloned().fold(f32::MIN, f32::max) as f64;
                let sum: f64 = row.iter().map(|&z| (z as f64 - max).exp()).sum();
                let mean = row.iter().map(|&z| z as f64).sum::<f64>() / NUM_CLASSES as f64;
                sum.ln() + max - mean - (NUM_CLASSES as f64).ln()
            })
            .sum::<f64>()
            / 3.0;
        assert!(divergence > 0.0);
        let expected =
            f64::from(digits_alone.loss.into_scalar::<f32>()) + f64::from(weight) * divergence;
        let value = f64::from(with_outliers.loss.into_scalar::<f32>());
        assert!(
            (value - expected).abs() < 1e-5,
            "{value} against {expected}"
        );
        // Accuracy counts the digits alone.
        assert_eq!(with_outliers.output.dims(), [2, NUM_CLASSES]);
        let difference: f32 = (digits_alone.output - with_outliers.output)
            .abs()
            .max()
            .into_scalar();
        assert!(difference < 1e-5, "{difference}");
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
