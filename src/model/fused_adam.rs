//! Adam in one pass over each parameter, for the CPU backends.
//!
//! Burn's `Adam` updates a parameter in about ten tensor operations (decay, two moments, their
//! bias corrections, the step), each a full pass over the weights that allocates its result. On
//! a CPU that is a quarter of a training step for this small network. This optimizer computes
//! the same expressions, in the same order and in the same f32 arithmetic, element by element in
//! one loop, so its results are Burn's to the last bit (tested). Its state is Burn's
//! `AdamState`, so checkpoints are interchangeable with Burn's Adam. On a GPU, where reading a
//! tensor back to the host costs more than it saves, Burn's own Adam is used.
//!
//! First moments that decay below f32's normal range (see `is_tiny`) would send the CPU down
//! its slow path for subnormal numbers; the common case of those is computed exactly without
//! touching them (`StepRule::careful`), which keeps the same bits and most of the speed that
//! `--flush-denormals` buys by changing them.

use burn::optim::{AdamState, AdaptiveMomentumState, LearningRate, Optimizer};
use burn::prelude::*;

/// Adam (Kingma & Ba, 2015) with Burn's `Adam`'s settings and results, updating each
/// parameter in one loop on the host; see the module's doc.
#[derive(Debug, Clone)]
pub(super) struct FusedAdam {
    /// Decay rate of the first moment (the running mean of gradients), in [0, 1).
    pub beta_1: f32,
    /// Decay rate of the second moment (the running mean of squared gradients), in [0, 1).
    pub beta_2: f32,
    /// Added to the square root of the second moment so that the step never divides by 0
    /// (scaled by the bias correction, as Burn does).
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
        let step = StepRule::new(self, lr, time);
        let decay = self.weight_decay;
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has the instructions the function is compiled with.
                return unsafe { update_avx512(&step, decay, weights, grads, moment_1, moment_2) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: as above.
                return unsafe { update_avx2(&step, decay, weights, grads, moment_1, moment_2) };
            }
        }
        update_all(&step, decay, weights, grads, moment_1, moment_2)
    }
}

/// [`update_chunks`] with and without weight decay, each its own vectorized loops.
#[inline(always)]
fn update_all(
    step: &StepRule,
    decay: Option<f32>,
    weights: &mut [f32],
    grads: &[f32],
    moment_1: &mut [f32],
    moment_2: &mut [f32],
) {
    match decay {
        Some(penalty) => update_chunks(step, Some(penalty), weights, grads, moment_1, moment_2),
        None => update_chunks(step, None, weights, grads, moment_1, moment_2),
    }
}

/// [`update_all`] compiled for AVX-512: 16 lanes of square roots and divisions, where the
/// baseline x86-64 build has SSE2's 4. Burn's flex kernels choose their instructions when they
/// run; without this the one-pass loop lost to its ten passes on an AMD EPYC (Zen 5). The
/// same IEEE operations, so the same bits (no fused multiply-add: Rust never contracts).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn update_avx512(
    step: &StepRule,
    decay: Option<f32>,
    weights: &mut [f32],
    grads: &[f32],
    moment_1: &mut [f32],
    moment_2: &mut [f32],
) {
    update_all(step, decay, weights, grads, moment_1, moment_2)
}

/// [`update_all`] compiled for AVX2 (8 lanes), for CPUs without AVX-512.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn update_avx2(
    step: &StepRule,
    decay: Option<f32>,
    weights: &mut [f32],
    grads: &[f32],
    moment_1: &mut [f32],
    moment_2: &mut [f32],
) {
    update_all(step, decay, weights, grads, moment_1, moment_2)
}

/// Elements per chunk: a chunk with no tiny first moment runs the plain, vectorized loop.
const CHUNK: usize = 64;

/// Runs `step` over every element, chunk by chunk. `decay` is matched outside the loops so the
/// compiler makes a vectorized loop of each case.
#[inline(always)]
fn update_chunks(
    step: &StepRule,
    decay: Option<f32>,
    weights: &mut [f32],
    grads: &[f32],
    moment_1: &mut [f32],
    moment_2: &mut [f32],
) {
    let chunks = weights
        .chunks_mut(CHUNK)
        .zip(grads.chunks(CHUNK))
        .zip(moment_1.chunks_mut(CHUNK).zip(moment_2.chunks_mut(CHUNK)));
    for ((weights, grads), (moment_1, moment_2)) in chunks {
        let n = weights
            .len()
            .min(grads.len())
            .min(moment_1.len())
            .min(moment_2.len());
        let grad = |weights: &[f32], i: usize| match decay {
            Some(penalty) => weights[i] * penalty + grads[i],
            None => grads[i],
        };
        // Two loops, not a branch in one: the plain one must stay vectorized.
        // A fold, not `any`: without the early exit the scan is vectorized too.
        if moment_1.iter().fold(false, |tiny, &m| tiny | is_tiny(m)) {
            for i in 0..n {
                let grad = grad(weights, i);
                step.careful(&mut weights[i], grad, &mut moment_1[i], &mut moment_2[i]);
            }
        } else {
            for i in 0..n {
                let grad = grad(weights, i);
                step.plain(&mut weights[i], grad, &mut moment_1[i], &mut moment_2[i]);
            }
        }
    }
}

/// A first moment below 2^-125 (subnormal, or in the lowest normal binade) that is not zero.
///
/// Why it matters: a weight whose gradient stays exactly zero (a pixel that is blank in every
/// recent batch) has its first moment multiplied by beta_1 = 0.9 each step, so within a few
/// hundred steps it falls below f32's normal range. Every arithmetic instruction that touches
/// such a subnormal number takes the CPU's microcode slow path (x86: ~100 cycles), and in the
/// tutorial's network enough of them do to make this loop 4x slower (measured: 41% of a
/// training run's time against 9% with `--flush-denormals`).
#[inline(always)]
fn is_tiny(m: f32) -> bool {
    let bits = m.to_bits() & 0x7fff_ffff;
    bits != 0 && bits < 0x0100_0000
}

/// One step's constants, as Burn computes them in f32.
struct StepRule {
    /// The first moment's decay rate.
    beta_1: f32,
    /// The second moment's decay rate.
    beta_2: f32,
    /// `1 - beta_1`, the new gradient's weight in the first moment.
    factor_1: f32,
    /// `1 - beta_2`, the new squared gradient's weight in the second moment.
    factor_2: f32,
    /// Both bias corrections in one: `sqrt(1 - beta_2^t) / (1 - beta_1^t)` at step `t`, the
    /// reordering of Kingma & Ba's section 2 that Burn uses.
    combined_factor: f32,
    /// The configured epsilon times `sqrt(1 - beta_2^t)`, to go with `combined_factor`.
    epsilon: f32,
    /// This step's learning rate.
    lr: f32,
    /// beta_1 widened to f64, for `decayed`; `None` when beta_1 is not a normal number below 1.
    beta_1_wide: Option<f64>,
    /// Weights at least this large are left exactly as they are by a step whose first moment
    /// is below 2^-125 (see `careful`); NaN (never) when that bound cannot be established.
    unmoved_above: f32,
}

impl StepRule {
    /// The constants of step `time` (1 for the first) at learning rate `lr`.
    fn new(adam: &FusedAdam, lr: LearningRate, time: usize) -> Self {
        let (beta_1, beta_2) = (adam.beta_1, adam.beta_2);
        let time = time as i32;
        let bias_correction2_sqrt = (1.0 - beta_2.powi(time)).sqrt();
        let combined_factor = bias_correction2_sqrt / (1.0 - beta_1.powi(time));
        let epsilon = adam.epsilon * bias_correction2_sqrt;
        let lr = lr as f32;
        Self {
            beta_1,
            beta_2,
            factor_1: 1.0 - beta_1,
            factor_2: 1.0 - beta_2,
            combined_factor,
            epsilon,
            lr,
            beta_1_wide: (beta_1.is_normal() && beta_1 > 0.0 && beta_1 < 1.0)
                .then_some(f64::from(beta_1)),
            unmoved_above: unmoved_above(combined_factor, epsilon, lr),
        }
    }

    /// Burn's formula, as written.
    #[inline(always)]
    fn plain(&self, weight: &mut f32, grad: f32, m: &mut f32, v: &mut f32) {
        *m = *m * self.beta_1 + grad * self.factor_1;
        *v = self.second_moment(*v, grad);
        self.move_weight(weight, *m, *v);
    }

    /// The new second moment: `v * beta_2 + grad² * (1 - beta_2)`.
    #[inline(always)]
    fn second_moment(&self, v: f32, grad: f32) -> f32 {
        v * self.beta_2 + grad * grad * self.factor_2
    }

    /// The step, from the new moments.
    #[inline(always)]
    fn move_weight(&self, weight: &mut f32, m: f32, v: f32) {
        let step = m * self.combined_factor / (v.sqrt() + self.epsilon);
        *weight -= step * self.lr;
    }

    /// The same results as `plain`, bit for bit, without arithmetic on a tiny first moment
    /// when the gradient is zero (the common case, see `is_tiny`): `m * beta_1` is computed
    /// exactly without f32 arithmetic (`decayed`), and the weight is known not to move, so its
    /// step is taken with a zero moment (`w - 0` is `w`). Anything else is `plain`'s formula. Branch-free: both
    /// answers are computed and one chosen, so the compiler vectorizes a loop of it (an
    /// element-by-element branch made the fused step slower than Burn's on an AMD EPYC).
    #[inline(always)]
    fn careful(&self, weight: &mut f32, grad: f32, m: &mut f32, v: &mut f32) {
        let quiet = (grad == 0.0) & self.beta_1_wide.is_some() & is_tiny(*m);
        // The plain formula never sees a tiny moment it would not keep.
        let plain_m = if quiet { 0.0 } else { *m } * self.beta_1 + grad * self.factor_1;
        let decayed = decayed(*m, self.beta_1_wide.unwrap_or(0.0));
        // m * beta_1 + grad * factor_1 with a zero gradient: x + 0 is x, and a zero sum takes
        // its sign from IEEE's rule for adding zeros, which the hardware applies. Both sides
        // are computed, so the sum is made of zeros only (a subnormal operand would take the
        // slow path on every lane that keeps `decayed`).
        let zero = decayed == 0.0;
        let zero_sum = if zero { decayed } else { 0.0 } + grad * self.factor_1;
        let decayed = if zero { zero_sum } else { decayed };
        *m = if quiet { decayed } else { plain_m };
        *v = self.second_moment(*v, grad);
        // |m| < 2^-125 bounds the step (see `unmoved_above`) below half a unit in the last
        // place of this weight: rounding gives the weight back unchanged (unless v is NaN,
        // which makes the step NaN). A NaN weight or bound fails the comparison: those
        // weights take the step.
        let unmoved = quiet & (weight.abs() >= self.unmoved_above) & !v.is_nan();
        self.move_weight(weight, if unmoved { 0.0 } else { *m }, *v);
    }
}

/// `m * beta_1`, rounded to nearest-even as the hardware would, for |m| < 2^-125 and a normal
/// beta_1 < 1, without f32 arithmetic on a subnormal: below 2^-125 the bits of an f32 under its
/// sign count units of 2^-149 (its spacing there), so the product is that count times beta_1
/// in the same units. In f64 that product is exact (24 bits by 24) and of normal size, and
/// adding and taking away 2^52 rounds it to a whole number of units, ties to even, as the f32
/// product would round (both products are below 2^-125, where the f32 spacing is the unit).
/// Branch-free, so that the compiler vectorizes a loop of it.
#[inline(always)]
fn decayed(m: f32, beta_1: f64) -> f32 {
    const WHOLE: f64 = 4_503_599_627_370_496.0; // 2^52: its spacing is 1
    let bits = m.to_bits();
    let units = f64::from(bits & 0x00ff_ffff) * beta_1;
    let rounded = (units + WHOLE) - WHOLE;
    f32::from_bits(bits & 0x8000_0000 | rounded as u32)
}

/// The smallest |weight| that a step with |m| < 2^-125 cannot move, in f32's round-to-nearest:
/// the step is m * combined_factor / (sqrt(v) + epsilon) * lr with sqrt(v) >= 0, so at most
/// 2^-125 * combined_factor / epsilon * lr (doubled for the roundings on the way, plus the
/// smallest subnormal), and a weight w of at least 2^26 times that has half an ulp (at least
/// |w| * 2^-25) above it. NaN, which no weight reaches, when epsilon is not positive.
fn unmoved_above(combined_factor: f32, epsilon: f32, lr: f32) -> f32 {
    let unit = 2f64.powi(-149);
    let bound = 2.0 * (2f64.powi(-125) * f64::from(combined_factor).abs() + unit)
        / f64::from(epsilon)
        * f64::from(lr).abs()
        + unit;
    let threshold = bound * 2f64.powi(26);
    if epsilon > 0.0 && threshold.is_finite() && threshold < f64::from(f32::MAX) {
        threshold as f32
    } else {
        f32::NAN
    }
}

/// A float tensor's values, in order.
fn floats(data: &TensorData) -> &[f32] {
    data.as_slice::<f32>()
        .expect("parameters and their gradients are f32")
}

/// A float tensor's values, in order, to update in place.
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

    /// An update of every element, as `FusedAdam::update` runs it.
    type Update = fn(&StepRule, Option<f32>, &mut [f32], &[f32], &mut [f32], &mut [f32]);

    /// The builds of the update loop this CPU runs, by name: the baseline's always.
    fn paths() -> Vec<(&'static str, Update)> {
        let mut paths: Vec<(&'static str, Update)> = vec![("baseline", update_all)];
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY (both): called only where the CPU has the instructions.
            if std::arch::is_x86_feature_detected!("avx2") {
                paths.push(("avx2", |s, d, w, g, m, v| unsafe {
                    update_avx2(s, d, w, g, m, v)
                }));
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                paths.push(("avx512", |s, d, w, g, m, v| unsafe {
                    update_avx512(s, d, w, g, m, v)
                }));
            }
        }
        paths
    }

    /// Values of every kind a moment, gradient or weight can hold: zeros of both signs,
    /// subnormals, the lowest normal binades, ordinary and large values, infinities, NaN.
    fn awkward_value(random: &mut impl FnMut() -> u32) -> f32 {
        let sign = random() & 0x8000_0000;
        let magnitude = match random() % 8 {
            0 => 0,
            1 => random() % 0x0080_0000,               // subnormal
            2 => 0x0080_0000 + random() % 0x0080_0000, // lowest normal binade
            3 => random() % 0x0100_0000,               // either
            4 => 0x0100_0000 + random() % 0x0800_0000, // just above
            5 => 0x3000_0000 + random() % 0x0f00_0000, // ordinary
            6 => 0x7f80_0000 | (random() % 2),         // infinity or NaN
            _ => random() % 0x7f80_0000,               // any finite
        };
        f32::from_bits(sign | magnitude)
    }

    /// The tiny-moment paths (`StepRule::careful`, and `decay_only` for chunks of blank pixels'
    /// weights) against Burn's formula as written, on millions of awkward values and several
    /// step counts, betas and decays: the same bits.
    #[test]
    fn careful_steps_give_the_plain_formulas_bits_for_every_kind_of_value() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut random = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u32
        };
        let mut tiny_moments = 0;
        let mut bulk_chunks = 0;
        for (beta_1, weight_decay) in [(0.9, None), (0.9, Some(1e-2)), (0.5, None), (0.999, None)] {
            let adam = FusedAdam {
                beta_1,
                beta_2: 0.999,
                epsilon: 1e-8,
                weight_decay,
            };
            for time in [1, 2, 7, 100, 5000] {
                let n = 100_000;
                let mut values = |zero_grads: bool| {
                    let mut draw = || awkward_value(&mut random);
                    let weights: Vec<f32> = (0..n).map(|_| draw()).collect();
                    let grads: Vec<f32> = (0..n)
                        .map(|i| {
                            if zero_grads && i % 3 != 0 {
                                0.0 * draw().signum()
                            } else {
                                draw()
                            }
                        })
                        .collect();
                    let moment_1: Vec<f32> = (0..n).map(|_| draw()).collect();
                    let moment_2: Vec<f32> = (0..n).map(|_| draw().abs()).collect();
                    (weights, grads, moment_1, moment_2)
                };
                let (mut weights, mut grads, mut moment_1, mut moment_2) = values(true);
                // Every fourth chunk of 64 as a blank pixel's weights: zero gradients, tiny or
                // zero first moments, ordinary weights (the moments-only path).
                for chunk in (0..n / CHUNK).step_by(4) {
                    for i in chunk * CHUNK..(chunk + 1) * CHUNK {
                        grads[i] = 0.0 * (random() as f32 - 2e9).signum();
                        let tiny = random() % 0x0100_0000 * (random() % 4).min(1);
                        moment_1[i] = f32::from_bits(random() & 0x8000_0000 | tiny);
                        weights[i] = f32::from_bits(random() & 0x8000_0000 | 0x3c00_0000)
                            * (1.0 + (random() % 1000) as f32 / 1000.0);
                        moment_2[i] = f32::from_bits(0x3000_0000 + random() % 0x0f00_0000);
                        bulk_chunks += usize::from(i % CHUNK == 0);
                    }
                }
                tiny_moments += moment_1.iter().filter(|m| is_tiny(**m)).count();
                let (mut expected_w, mut expected_m, mut expected_v) =
                    (weights.clone(), moment_1.clone(), moment_2.clone());
                let rule = StepRule::new(&adam, 1e-3, time);
                for i in 0..n {
                    let grad = match weight_decay {
                        Some(penalty) => expected_w[i] * penalty + grads[i],
                        None => grads[i],
                    };
                    rule.plain(
                        &mut expected_w[i],
                        grad,
                        &mut expected_m[i],
                        &mut expected_v[i],
                    );
                }
                // Bit for bit, except which NaN: the compiler may order the operands of a
                // product differently in two loops, and a NaN's payload follows the operand.
                let bits = |values: &[f32]| {
                    let bits = |v: &f32| {
                        if v.is_nan() {
                            f32::NAN.to_bits()
                        } else {
                            v.to_bits()
                        }
                    };
                    values.iter().map(bits).collect::<Vec<_>>()
                };
                // Every build of the loop this CPU can run: the baseline's and the wider ones.
                let rule = StepRule::new(&adam, 1e-3, time);
                for (path, update) in paths() {
                    let (mut w, mut m, mut v) =
                        (weights.clone(), moment_1.clone(), moment_2.clone());
                    update(&rule, weight_decay, &mut w, &grads, &mut m, &mut v);
                    let case =
                        format!("{path}: beta_1 {beta_1}, decay {weight_decay:?}, step {time}");
                    assert!(bits(&w) == bits(&expected_w), "weights: {case}");
                    assert!(bits(&m) == bits(&expected_m), "first moments: {case}");
                    assert!(bits(&v) == bits(&expected_v), "second moments: {case}");
                }
            }
        }
        assert!(
            tiny_moments > 100_000 && bulk_chunks > 1_000,
            "the tiny-moment paths ran ({tiny_moments} moments, {bulk_chunks} blank chunks)"
        );
    }

    /// `decayed` is the hardware's product, on every subnormal significand's neighbourhood.
    #[test]
    fn decayed_moments_are_the_hardwares_products() {
        for beta in [0.9f32, 0.5, 0.999, 0.123_456_7, f32::from_bits(0x0080_0000)] {
            let wide = f64::from(beta);
            for bits in (1..0x0100_0000u32)
                .step_by(97)
                .chain([1, 2, 3, 0x00ff_ffff])
            {
                for sign in [0, 0x8000_0000] {
                    let m = f32::from_bits(sign | bits);
                    let product = std::hint::black_box(m) * std::hint::black_box(beta);
                    assert_eq!(
                        decayed(m, wide).to_bits(),
                        product.to_bits(),
                        "{m:e} * {beta}"
                    );
                }
            }
        }
    }

    #[test]
    fn matches_burns_adam_to_the_bit_over_1000_steps() {
        let _random = crate::random_generator_lock();
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
