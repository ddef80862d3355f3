//! The convolutional part of PyTorch's `examples/mnist` `Net`: two 3x3 convolutions with ReLU,
//! a 2x2 max-pool and dropout 0.25, giving the 9,216 features its `fc1` reads.
//!
//! Source: `pytorch/examples`, `mnist/main.py`, class `Net` (`conv1 = nn.Conv2d(1, 32, 3, 1)`,
//! `conv2 = nn.Conv2d(32, 64, 3, 1)`, `max_pool2d(x, 2)`, `dropout1 = nn.Dropout(0.25)`,
//! `torch.flatten(x, 1)`). Burn's `Conv2d` keeps PyTorch's weight layout,
//! `[out_channels, in_channels, 3, 3]`, and its default initialiser draws from PyTorch's range
//! (uniform in ±1/√fan_in, weights and biases).

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::flex_ops;
use crate::data::IMAGE_SIDE;

/// Output channels of `conv1` and `conv2`.
pub(crate) const CHANNELS: [usize; 2] = [32, 64];
/// Both convolutions' kernel side, stride 1, no padding: each takes 2 pixels off a side.
pub(crate) const KERNEL: usize = 3;
/// The max-pool's window and stride.
pub(crate) const POOL: usize = 2;
/// Dropout after the pool, as `Net`'s `dropout1`.
pub(crate) const DROPOUT: f64 = 0.25;

/// Side of `conv1`'s and `conv2`'s feature maps: 28 → 26 → 24.
pub(crate) const CONV_SIDES: [usize; 2] =
    [IMAGE_SIDE - (KERNEL - 1), IMAGE_SIDE - 2 * (KERNEL - 1)];

/// Side of the feature maps that reach the pool's output: 24 → 12.
const POOLED_SIDE: usize = CONV_SIDES[1] / POOL;

/// Features given to the first Linear layer: 64 channels of 12x12, `Net`'s 9,216.
pub(crate) const FEATURES: usize = CHANNELS[1] * POOLED_SIDE * POOLED_SIDE;

/// Weights and biases of `conv1` and of `conv2`: 320 and 18,496.
pub(crate) const CONV_PARAMETERS: [usize; 2] = [
    CHANNELS[0] * (KERNEL * KERNEL + 1),
    CHANNELS[1] * (CHANNELS[0] * KERNEL * KERNEL + 1),
];

/// Weights and biases of both convolutions.
pub(crate) const PARAMETERS: u64 = (CONV_PARAMETERS[0] + CONV_PARAMETERS[1]) as u64;

/// Values each image holds on the way to [`FEATURES`] (the input, both convolutions' maps, the
/// pooled maps), for the memory estimate.
pub(crate) const ACTIVATIONS: u64 = {
    let conv1 = CHANNELS[0] * CONV_SIDES[0] * CONV_SIDES[0];
    let conv2 = CHANNELS[1] * CONV_SIDES[1] * CONV_SIDES[1];
    (IMAGE_SIDE * IMAGE_SIDE + conv1 + conv2 + FEATURES) as u64
};

/// `conv1`, `conv2`, the pool and `dropout1` of PyTorch's `Net`; `features.conv1` and
/// `features.conv2` in the record.
#[derive(Module, Debug)]
pub(crate) struct ConvFeatures {
    /// 1 → 32 channels, 3x3, stride 1: `[32, 1, 3, 3]` weights.
    conv1: Conv2d,
    /// 32 → 64 channels, 3x3, stride 1: `[64, 32, 3, 3]` weights.
    conv2: Conv2d,
    /// 2x2 windows, stride 2.
    pool: MaxPool2d,
    /// Zeroes a quarter of the pooled values while training (scaling the rest by 4/3).
    dropout: Dropout,
}

impl ConvFeatures {
    /// New convolutions on `device`, drawn from its seeded generator.
    pub(crate) fn init(device: &Device) -> Self {
        let conv =
            |channels: [usize; 2]| Conv2dConfig::new(channels, [KERNEL, KERNEL]).init(device);
        Self {
            conv1: conv([1, CHANNELS[0]]),
            conv2: conv(CHANNELS),
            pool: MaxPool2dConfig::new([POOL, POOL])
                .with_strides([POOL, POOL])
                .init(),
            dropout: DropoutConfig::new(DROPOUT).init(),
        }
    }

    /// `[batch, 784]` (normalised) pixels → `[batch, 9216]` features, flattened as PyTorch's
    /// `torch.flatten(x, 1)` does an NCHW tensor: channel, then row, then column.
    pub(crate) fn forward(&self, images: Tensor<2>) -> Tensor<2> {
        let [batch, _] = images.dims();
        let x = images.reshape([batch, 1, IMAGE_SIDE, IMAGE_SIDE]);
        let x = relu(flex_ops::conv2d(&self.conv1, x));
        let x = relu(flex_ops::conv2d(&self.conv2, x));
        let x = self.dropout.forward(flex_ops::max_pool2d(&self.pool, x));
        x.flatten(1, 3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_nets_9216_features_and_parameter_count() {
        let _random = crate::random_generator_lock();
        let device = Device::flex();
        let features = ConvFeatures::init(&device);
        let out = features.forward(Tensor::zeros([2, IMAGE_SIDE * IMAGE_SIDE], &device));
        assert_eq!(out.dims(), [2, 9216]);
        assert_eq!(FEATURES, 9216);
        // As PyTorch counts conv1 and conv2 of Net: 32*9+32 and 64*32*9+64.
        assert_eq!(features.num_params() as u64, PARAMETERS);
        assert_eq!(PARAMETERS, 320 + 18_496);
    }
}
