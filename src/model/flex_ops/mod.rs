//! The CNN's convolutions and max-pool on the flex backend as a Burn backend extension: forwards
//! and hand-written backwards ([`conv`]: im2col and matrix products for the input, weight and
//! bias gradients; [`pool`]: a 2x2 max-pool), in place of Burn's `Conv2d` and `MaxPool2d`, whose
//! flex versions ran the CNN at half PyTorch's speed (docs/measurements.md, issue #35).
//!
//! Only what `Net` uses takes this path: f32 tensors on flex; convolutions with stride 1, no
//! padding, dilation 1, one group and a bias; 2x2 pools with stride 2. Anything else (another
//! backend, padding, ...) and `MNIST_TRAINER_BURN_CONV=1` (to measure the difference) keep
//! Burn's modules. Their records are the modules' own, so checkpoints, import, export and ONNX
//! do not know this path exists.
//!
//! The pattern is Burn's `examples/custom-cubecl-kernel` and burn's own
//! `tests/backend_extension_runtime.rs` (0.22.1).

mod conv;
mod pool;

use conv::ConvShape;
use pool::PoolShape;

use std::sync::OnceLock;

use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension, tensor::FloatTensor};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::prelude::*;
use burn::tensor::{DType, TensorData};

/// A convolution Burn's way or this module's, as [`uses_burns_conv`] decides.
pub(crate) fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let Some(bias) = conv.bias.as_ref() else {
        return conv.forward(x);
    };
    if uses_burns_conv(conv, &x) {
        return conv.forward(x);
    }
    let y = <Dispatch as FlexOps>::flex_conv2d(
        x.into_dispatch(),
        conv.weight.val().into_dispatch(),
        bias.val().into_dispatch(),
    );
    Tensor::from_dispatch(y)
}

/// A 2x2 max-pool Burn's way or this module's, as [`uses_burns_pool`] decides.
pub(crate) fn max_pool2d(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    if uses_burns_pool(pool, &x) {
        return pool.forward(x);
    }
    Tensor::from_dispatch(<Dispatch as FlexOps>::flex_max_pool2x2(x.into_dispatch()))
}

/// Whether `MNIST_TRAINER_BURN_CONV=1` asks for Burn's convolution and pool, read once.
fn burns_asked() -> bool {
    static BURNS: OnceLock<bool> = OnceLock::new();
    *BURNS.get_or_init(|| std::env::var_os("MNIST_TRAINER_BURN_CONV").is_some_and(|v| v == "1"))
}

/// Whether `x` is off this module's path whatever the operation: not f32 on flex.
fn elsewhere(x: &Tensor<4>) -> bool {
    x.dtype() != DType::F32 || x.device().inner() != Device::flex()
}

/// Whether `pool` on `x` is left to Burn: not flex, not f32, not a 2x2 window with stride 2,
/// or `MNIST_TRAINER_BURN_CONV=1`.
fn uses_burns_pool(pool: &MaxPool2d, x: &Tensor<4>) -> bool {
    let plain = pool.kernel_size == [2, 2]
        && pool.stride == [2, 2]
        && pool.dilation == [1, 1]
        && !pool.ceil_mode
        && matches!(pool.padding, PaddingConfig2d::Valid);
    burns_asked() || !plain || elsewhere(x)
}

/// Whether `conv` on `x` is left to Burn: not flex, not f32, not `Net`'s kind of convolution, or
/// `MNIST_TRAINER_BURN_CONV=1`.
fn uses_burns_conv(conv: &Conv2d, x: &Tensor<4>) -> bool {
    let plain = conv.stride == [1, 1]
        && conv.dilation == [1, 1]
        && conv.groups == 1
        && matches!(conv.padding, PaddingConfig2d::Valid);
    burns_asked() || !plain || elsewhere(x)
}

/// `Net`'s convolution and max-pool, as [`conv`] and [`pool`] compute them.
#[backend_extension(Flex, Autodiff)]
pub(super) trait FlexOps: Backend {
    /// `x` `[batch, channels, height, width]` → `[batch, channels, height / 2, width / 2]`, the
    /// largest value of each 2x2 window (stride 2).
    fn flex_max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// `x` `[batch, channels, height, width]`, `weight` `[out_channels, channels, kh, kw]`,
    /// `bias` `[out_channels]` → `[batch, out_channels, height - kh + 1, width - kw + 1]`.
    fn flex_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

impl FlexOps for Flex {
    fn flex_max_pool2x2(x: FlexTensor) -> FlexTensor {
        pool_forward(contiguous(x)).0
    }

    fn flex_conv2d(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        let (x, weight, bias) = (contiguous(x), contiguous(weight), contiguous(bias));
        let shape = shape_of(&x, &weight);
        let y = conv::forward(&shape, floats(&x), floats(&weight), floats(&bias));
        let [out_h, out_w] = shape.out_side();
        tensor(y, [shape.batch, shape.out_channels, out_h, out_w])
    }
}

impl<C: CheckpointStrategy> FlexOps for Autodiff<Flex, C> {
    fn flex_max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match PoolBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (y, argmax, shape) = pool_forward(contiguous(x.primitive().clone()));
                prep.finish((argmax, shape), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::flex_max_pool2x2(x.into_primitive())),
        }
    }

    fn flex_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        match ConvBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let x = contiguous(x.primitive().clone());
                let weight = contiguous(weight.primitive().clone());
                let y = Flex::flex_conv2d(x.clone(), weight.clone(), bias.into_primitive());
                prep.finish((x, weight), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::flex_conv2d(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
            )),
        }
    }
}

/// The backward step of [`FlexOps::flex_conv2d`]; its state is the input and weight.
#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 3> for ConvBackward {
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (x, weight) = ops.state;
        let shape = shape_of(&x, &weight);
        let dy = contiguous(dy);
        let gradients = conv::backward(
            &shape,
            floats(&x),
            floats(&weight),
            floats(&dy),
            node_x.is_some(),
        );
        if let (Some(node), Some(dx)) = (node_x, gradients.x) {
            let dims = [shape.batch, shape.channels, shape.height, shape.width];
            grads.register::<Flex>(node.id, tensor(dx, dims));
        }
        if let Some(node) = node_weight {
            let dims = weight.layout().shape().clone();
            grads.register::<Flex>(node.id, tensor(gradients.weight, dims));
        }
        if let Some(node) = node_bias {
            grads.register::<Flex>(node.id, tensor(gradients.bias, [shape.out_channels]));
        }
    }
}

/// [`pool::forward`] on a 4-D tensor: the pooled tensor, which input each value is, and the
/// input's sizes (for the backward step).
fn pool_forward(x: FlexTensor) -> (FlexTensor, Vec<u8>, [usize; 4]) {
    let dims = dims4(&x);
    let shape = pool_shape(dims);
    let (y, argmax) = pool::forward(&shape, floats(&x));
    let [out_h, out_w] = shape.out_side();
    (tensor(y, [dims[0], dims[1], out_h, out_w]), argmax, dims)
}

/// The maps of a `[batch, channels, height, width]` tensor, as [`pool`] pools them.
fn pool_shape([batch, channels, height, width]: [usize; 4]) -> PoolShape {
    PoolShape {
        planes: batch * channels,
        height,
        width,
    }
}

/// The backward step of [`FlexOps::flex_max_pool2x2`]; its state is which input each pooled
/// value is, and the input's sizes.
#[derive(Debug)]
struct PoolBackward;

impl Backward<Flex, 1> for PoolBackward {
    type State = (Vec<u8>, [usize; 4]);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let dy = contiguous(grads.consume::<Flex>(&ops.node));
        let (argmax, dims) = ops.state;
        if let Some(node) = node_x {
            let dx = pool::backward(&pool_shape(dims), &argmax, floats(&dy));
            grads.register::<Flex>(node.id, tensor(dx, dims));
        }
    }
}

/// The sizes of `x` `[batch, channels, height, width]` convolved by `weight`
/// `[out_channels, channels, kh, kw]`.
fn shape_of(x: &FlexTensor, weight: &FlexTensor) -> ConvShape {
    let [batch, channels, height, width] = dims4(x);
    let [out_channels, weight_channels, kh, kw] = dims4(weight);
    assert_eq!(channels, weight_channels, "input and weight channels");
    ConvShape {
        batch,
        channels,
        out_channels,
        height,
        width,
        kernel: [kh, kw],
    }
}

fn dims4(tensor: &FlexTensor) -> [usize; 4] {
    let dims = tensor.layout().shape();
    <[usize; 4]>::try_from(&dims[..]).expect("a 4-D tensor")
}

/// `tensor`, or a contiguous copy of it where it is a strided view.
fn contiguous(tensor: FlexTensor) -> FlexTensor {
    match tensor.as_slice::<f32>() {
        Some(_) => tensor,
        None => tensor.to_contiguous(),
    }
}

/// The f32 values of a tensor passed through [`contiguous`].
fn floats(tensor: &FlexTensor) -> &[f32] {
    tensor
        .as_slice::<f32>()
        .expect("an f32 tensor made contiguous")
}

fn tensor(values: Vec<f32>, dims: impl Into<burn::tensor::Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, dims.into()))
}

#[cfg(test)]
mod tests {
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::Distribution;

    use super::*;

    /// The output and the gradients of Σ y·g with respect to x, the weight and the bias, each
    /// flattened, named, after `forward` on `x`.
    fn step(
        conv: &Conv2d,
        x: &Tensor<4>,
        g: &Tensor<4>,
        forward: impl Fn(&Conv2d, Tensor<4>) -> Tensor<4>,
    ) -> Vec<(&'static str, Tensor<1>)> {
        let x = x.clone().require_grad();
        let y = forward(conv, x.clone());
        let grads = (y.clone() * g.clone()).sum().backward();
        let bias = conv.bias.as_ref().expect("a bias").val();
        vec![
            ("output", y.inner().flatten(0, 3)),
            ("input gradient", x.grad(&grads).expect("dx").flatten(0, 3)),
            (
                "weight gradient",
                conv.weight.val().grad(&grads).expect("dW").flatten(0, 3),
            ),
            ("bias gradient", bias.grad(&grads).expect("db")),
        ]
    }

    #[test]
    fn output_and_all_three_gradients_are_burns_conv2d() {
        let _random = crate::random_generator_lock();
        let device = Device::flex().autodiff();
        // Net's conv2 with a small batch, and an odd shape: a kernel wider than high, channels
        // and a batch that are no multiple of the kernels' groups.
        for ([channels, out], kernel, [batch, height, width]) in [
            ([32, 64], [3, 3], [3, 26, 26]),
            ([3, 5], [2, 4], [11, 9, 7]),
        ] {
            let conv = Conv2dConfig::new([channels, out], kernel).init(&device);
            let dims = [batch, channels, height, width];
            let x = Tensor::<4>::random(dims, Distribution::Normal(0.0, 1.0), &device);
            let [_, _, out_h, out_w] = conv.forward(x.clone()).dims();
            let g = Tensor::<4>::random(
                [batch, out, out_h, out_w],
                Distribution::Normal(0.0, 1.0),
                &device,
            );
            assert!(
                !uses_burns_conv(&conv, &x),
                "flex, f32, Net's kind: this module's path"
            );
            let ours = step(&conv, &x, &g, conv2d);
            let burns = step(&conv, &x, &g, Conv2d::forward);
            for ((name, got), (_, want)) in ours.into_iter().zip(burns) {
                let scale = want.clone().abs().max().into_scalar::<f32>();
                let gap = (got - want).abs().max().into_scalar::<f32>() / scale;
                assert!(gap < 1e-5, "{name} of {dims:?}: relative gap {gap}");
            }
        }
    }

    #[test]
    fn the_pool_and_its_gradient_are_burns_to_the_bit() {
        let _random = crate::random_generator_lock();
        let device = Device::flex().autodiff();
        let pool = nets_pool();
        // ReLU's output, as Net pools it: windows of tied zeros are common. Odd sides leave a
        // row and a column out.
        let x = Tensor::<4>::random([3, 4, 9, 7], Distribution::Normal(0.0, 1.0), &device);
        let x = burn::tensor::activation::relu(x);
        let g = Tensor::<4>::random([3, 4, 4, 3], Distribution::Normal(0.0, 1.0), &device);
        assert!(!uses_burns_pool(&pool, &x));
        let run = |forward: &dyn Fn(Tensor<4>) -> Tensor<4>| {
            let x = x.clone().detach().require_grad();
            let y = forward(x.clone());
            let grads = (y.clone() * g.clone()).sum().backward();
            (y.into_data(), x.grad(&grads).expect("dx").into_data())
        };
        let ours = run(&|x| max_pool2d(&pool, x));
        let burns = run(&|x| pool.forward(x));
        assert_eq!(ours, burns);
    }

    /// Net's pool: 2x2 windows, stride 2.
    fn nets_pool() -> MaxPool2d {
        burn::nn::pool::MaxPool2dConfig::new([2, 2])
            .with_strides([2, 2])
            .init()
    }

    #[test]
    fn other_backends_and_convolutions_keep_burns() {
        let _random = crate::random_generator_lock();
        let flex = Device::flex();
        let x = Tensor::<4>::zeros([1, 1, 8, 8], &flex);
        let plain = Conv2dConfig::new([1, 2], [3, 3]).init(&flex);
        assert!(!uses_burns_conv(&plain, &x));
        #[allow(deprecated)]
        let ndarray = Device::ndarray();
        assert!(uses_burns_conv(&plain, &x.clone().to_device(&ndarray)));
        let padded = Conv2dConfig::new([1, 2], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init(&flex);
        let strided = Conv2dConfig::new([1, 2], [3, 3])
            .with_stride([2, 2])
            .init(&flex);
        assert!(uses_burns_conv(&padded, &x) && uses_burns_conv(&strided, &x));
        // Without a bias Burn's Conv2d runs too, and gives its shape.
        let unbiased = Conv2dConfig::new([1, 2], [3, 3])
            .with_bias(false)
            .init(&flex);
        assert_eq!(conv2d(&unbiased, x).dims(), [1, 2, 6, 6]);
    }
}
