//! Adam in one pass over each parameter, for the CPU backends.
//!
//! Burn's `Adam` updates a parameter in about ten tensor operations (decay, two moments, their
//! bias corrections, the step), each a full pass over the weights that allocates its result. On
//! a CPU that is a quarter of a training step for this small network. This optimizer computes
//! the same expressions, in the same order and in the same f32 arithmetic, element by element in
//! one loop, so its results are Burn's to the last bit (tested). Its state is Burn's
//! `AdamState`, so checkpoints are interchangeable with Burn's Adam. On a GPU, where reading a
//! tensor back to the host costs more than it saves, Burn's own Adam is used.

use burn::optim::{AdamState, AdaptiveMomentumState, LearningRate, Optimizer};
use burn::prelude::*;

#[derive(Debug, Clone)]
pub struct FusedAdam {
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
    /// L2 penalty added to the gradient, as Burn's `WeightDecay` does.
    pub weight_decay: Option<f32>,
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let device = tensor.device();
        // Each tensor's own bytes, updated in place: flex hands them over without a copy when
        // nothing else holds them, and takes them back as they are. Copying them out to `Vec`s
        // and back made seven copies of every parameter per step.
        let mut weights = tensor.into_data();
        let grads = grad.into_data();
        let (time, mut moment_1, mut moment_2) = match state {
            Some(state) => (
                state.momentum.time + 1,
                state.momentum.moment_1.into_data(),
                state.momentum.moment_2.into_data(),
            ),
            // Zero moments give exactly Burn's first step: 0 * beta + x is x.
            None => (
                1,
                TensorData::zeros::<f32, _>(weights.shape().clone()),
                TensorData::zeros::<f32, _>(weights.shape().clone()),
            ),
        };
        self.update(
            lr,
            time,
            floats_mut(&mut weights),
            floats(&grads),
            floats_mut(&mut moment_1),
            floats_mut(&mut moment_2),
        );
        let tensor_of = |data: TensorData| Tensor::<D>::from_data(data, &device);
        let momentum = AdaptiveMomentumState::new(time, tensor_of(moment_1), tensor_of(moment_2));
        (tensor_of(weights), Some(AdamState::new(momentum)))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.momentum = state.momentum.to_device(device);
        state
    }
}

impl FusedAdam {
    /// Burn's `Adam::step` and `AdaptiveMomentum::transform`, one element at a time, each
    /// operation in Burn's order and precision.
    fn update(
        &self,
        lr: LearningRate,
        time: usize,
        weights: &mut [f32],
        grads: &[f32],
        moment_1: &mut [f32],
        moment_2: &mut [f32],
    ) {
        let (beta_1, beta_2) = (self.beta_1, self.beta_2);
        let (factor_1, factor_2) = (1.0 - beta_1, 1.0 - beta_2);
        let time = time as i32;
        let bias_correction2_sqrt = (1.0 - beta_2.powi(time)).sqrt();
        let combined_factor = bias_correction2_sqrt / (1.0 - beta_1.powi(time));
        let epsilon = self.epsilon * bias_correction2_sqrt;
        let lr = lr as f32;
        // Slices of one length and a branch outside the loop let the compiler vectorize it.
        let n = weights.len();
        let (weights, grads) = (&mut weights[..n], &grads[..n]);
        let (moment_1, moment_2) = (&mut moment_1[..n], &mut moment_2[..n]);
        let step = |weight: &mut f32, grad: f32, m: &mut f32, v: &mut f32| {
            *m = *m * beta_1 + grad * factor_1;
            *v = *v * beta_2 + grad * grad * factor_2;
            let step = *m * combined_factor / (v.sqrt() + epsilon);
            *weight -= step * lr;
        };
        match self.weight_decay {
            Some(penalty) => {
                for i in 0..n {
                    let grad = weights[i] * penalty + grads[i];
                    step(&mut weights[i], grad, &mut moment_1[i], &mut moment_2[i]);
                }
            }
            None => {
                for i in 0..n {
                    step(
                        &mut weights[i],
                        grads[i],
                        &mut moment_1[i],
                        &mut moment_2[i],
                    );
                }
            }
        }
    }
}

/// A float tensor's values, in order.
fn floats(data: &TensorData) -> &[f32] {
    data.as_slice::<f32>()
        .expect("parameters and their gradients are f32")
}

fn floats_mut(data: &mut TensorData) -> &mut [f32] {
    data.as_mut_slice::<f32>()
        .expect("parameters and Adam's moments are f32")
}

#[cfg(test)]
mod tests {
    use burn::optim::decay::WeightDecayConfig;
    use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};

    use crate::model::{Model, ModelConfig};

    use super::*;

    /// The losses of `steps` Adam steps on fixed batches, from the same initial weights.
    fn losses(optim: &mut ModuleOptimizer, steps: usize) -> (Vec<f32>, Vec<f32>) {
        let device = Device::flex().autodiff();
        device.seed(11);
        let mut model: Model = ModelConfig::new().init(&device);
        let batch = |b: usize| {
            let pixels: Vec<f32> = (0..32 * 784)
                .map(|i| ((i * 2_654_435_761 + b * 97) % 256) as f32 / 255.0)
                .collect();
            let labels: Vec<i64> = (0..32).map(|i| ((i * 7 + b) % 10) as i64).collect();
            (
                Tensor::<2>::from_data(TensorData::new(pixels, [32, 784]), &device),
                Tensor::<1, Int>::from_data(TensorData::new(labels, [32]), &device),
            )
        };
        let batches: Vec<_> = (0..10).map(batch).collect();
        let mut losses = Vec::new();
        for step in 0..steps {
            let (images, targets) = batches[step % batches.len()].clone();
            let loss = model.forward_classification(images, targets).loss;
            losses.push(loss.clone().into_scalar::<f32>());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(1e-3, model, grads);
        }
        let weights = model
            .output_weights()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        (losses, weights)
    }

    #[test]
    fn matches_burns_adam_to_the_bit_over_1000_steps() {
        for weight_decay in [None, Some(1e-2)] {
            let burn = AdamConfig::new()
                .with_epsilon(1e-8)
                .with_weight_decay(weight_decay.map(WeightDecayConfig::new))
                .init();
            let fused = ModuleOptimizer::from(FusedAdam {
                beta_1: 0.9,
                beta_2: 0.999,
                epsilon: 1e-8,
                weight_decay,
            });
            let (mut burn, mut fused) = (burn, fused);
            let (burn_losses, burn_weights) = losses(&mut burn, 1000);
            let (fused_losses, fused_weights) = losses(&mut fused, 1000);
            // Same operations in the same order: not close, equal.
            assert_eq!(burn_losses, fused_losses, "{weight_decay:?}");
            assert_eq!(burn_weights, fused_weights, "{weight_decay:?}");
        }
    }
}
