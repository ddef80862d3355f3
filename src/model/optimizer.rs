//! The optimizer and learning-rate schedule a config asks for, built as Burn's.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, ModuleOptimizer, SgdConfig};
use burn::prelude::*;

use crate::backend::Backend;
use crate::choice::named_choice;
use crate::model::fused_adam::FusedAdam;
use crate::rules::{Broken, first_broken};

named_choice!(
    /// Which update rule.
    OptimizerKind, "optimizer", { Adam => "adam", Sgd => "sgd" }
);

named_choice!(
    /// How the learning rate moves over the run.
    LrSchedule, "learning-rate schedule", {
        Constant => "constant",
        // From the configured rate down to 0 along a half cosine, over all steps of the run.
        Cosine => "cosine",
    }
);

/// The doc of each `OptimizerConfig` field a training flag sets, declared once: the field's rustdoc here and
/// the flag's `--help` (`cli/training_flags.rs`) both read it.
macro_rules! optimizer_doc {
    (kind) => {
        "The update rule: adam (the tutorial's) or sgd."
    };
    (momentum) => {
        "SGD momentum, in [0, 1); 0 is plain gradient descent."
    };
    (weight_decay) => {
        "L2 penalty added to the gradients (PyTorch's weight_decay), either optimizer."
    };
}
pub(crate) use optimizer_doc;

/// Defaults are PyTorch's (the tutorial's `torch.optim.Adam`): Burn's Adam epsilon is 1e-5,
/// PyTorch's 1e-8, which measurably helps here; PyTorch's SGD momentum has no dampening.
#[derive(Config, Debug, PartialEq)]
pub struct OptimizerConfig {
    #[doc = optimizer_doc!(kind)]
    #[config(default = "OptimizerKind::Adam")]
    pub kind: OptimizerKind,
    #[doc = optimizer_doc!(momentum)]
    #[config(default = 0.0)]
    pub momentum: f64,
    #[doc = optimizer_doc!(weight_decay)]
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Adam only: decay rate of the first moment (running mean of the gradients), in [0, 1).
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Adam only: decay rate of the second moment (running mean of the squared gradients), in
    /// [0, 1).
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// Adam only: added to the second moment's square root so a step never divides by 0;
    /// positive.
    #[config(default = 1e-8)]
    pub epsilon: f64,
}

impl OptimizerConfig {
    /// The first field whose value breaks its rule; `None` when all hold.
    pub fn first_broken(&self) -> Option<Broken> {
        let outside_unit = |value: &f64| !(0.0..1.0).contains(value);
        let sgd = self.kind == OptimizerKind::Sgd;
        first_broken!(self, "optimizer.", {
            momentum: outside_unit => "must be in [0, 1)",
            momentum: |momentum: &f64| !sgd && *momentum != 0.0
                => "applies to sgd only; adam has beta_1",
            weight_decay: |decay: &f64| !(decay.is_finite() && *decay >= 0.0)
                => "must be 0 or more",
            beta_1: outside_unit => "must be in [0, 1)",
            beta_2: outside_unit => "must be in [0, 1)",
            epsilon: |epsilon: &f64| !(epsilon.is_finite() && *epsilon > 0.0)
                => "must be a positive number",
        })
    }

    /// The optimizer for training on `backend`. On the CPU backends Adam runs in one pass per
    /// parameter (`fused_adam.rs`), with Burn's results to the last bit;
    /// `MNIST_TRAINER_BURN_ADAM=1` keeps Burn's own, to measure the difference.
    pub fn init_on(&self, backend: Backend) -> ModuleOptimizer {
        let burn_adam = std::env::var_os("MNIST_TRAINER_BURN_ADAM").is_some_and(|v| v == "1");
        match (self.kind, backend) {
            (OptimizerKind::Adam, Backend::Flex | Backend::Ndarray) if !burn_adam => {
                ModuleOptimizer::from(FusedAdam {
                    beta_1: self.beta_1 as f32,
                    beta_2: self.beta_2 as f32,
                    epsilon: self.epsilon as f32,
                    weight_decay: (self.weight_decay > 0.0).then_some(self.weight_decay as f32),
                })
            }
            _ => self.init(),
        }
    }

    /// Burn's optimizer of this kind.
    pub fn init(&self) -> ModuleOptimizer {
        let decay =
            (self.weight_decay > 0.0).then(|| WeightDecayConfig::new(self.weight_decay as f32));
        match self.kind {
            OptimizerKind::Adam => AdamConfig::new()
                .with_beta_1(self.beta_1 as f32)
                .with_beta_2(self.beta_2 as f32)
                .with_epsilon(self.epsilon as f32)
                .with_weight_decay(decay)
                .init(),
            OptimizerKind::Sgd => SgdConfig::new()
                .with_momentum((self.momentum > 0.0).then(|| {
                    MomentumConfig::new()
                        .with_momentum(self.momentum)
                        .with_dampening(0.0)
                }))
                .with_weight_decay(decay)
                .init(),
        }
    }
}

/// The learning rate at each of a run's `steps` optimizer steps, starting at `learning_rate`.
///
/// Errors: the cosine schedule's, from Burn, when the learning rate is not in (0, 1].
pub(crate) fn lr_scheduler(
    learning_rate: f64,
    schedule: LrSchedule,
    steps: usize,
) -> Result<ModuleLrScheduler, String> {
    match schedule {
        LrSchedule::Constant => Ok(learning_rate.into()),
        LrSchedule::Cosine => {
            CosineAnnealingLrSchedulerConfig::new(learning_rate, steps.max(1)).init()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_name_the_field_at_fault() {
        assert_eq!(OptimizerConfig::new().first_broken(), None);
        let sgd = OptimizerConfig::new().with_kind(OptimizerKind::Sgd);
        assert_eq!(sgd.clone().with_momentum(0.9).first_broken(), None);
        assert_eq!(
            sgd.clone().with_momentum(-0.5).first_broken(),
            Some(Broken {
                field: "optimizer.momentum".into(),
                value: "-0.5".into(),
                rule: "must be in [0, 1)"
            })
        );
        assert_eq!(
            OptimizerConfig::new()
                .with_momentum(0.9)
                .first_broken()
                .map(|broken| broken.rule),
            Some("applies to sgd only; adam has beta_1")
        );
        assert_eq!(
            sgd.with_weight_decay(-1.0)
                .first_broken()
                .map(|broken| broken.field),
            Some("optimizer.weight_decay".to_string())
        );
    }

    /// The weights of a 3 → 1 linear layer (no bias) starting at `START` after one step of
    /// `optim` at learning rate `LR` per input of `inputs`: step t's loss is w · x_t, so its
    /// gradient is x_t whatever the weights, and the update is the optimizer's formula alone.
    fn stepped(mut optim: ModuleOptimizer, inputs: &[[f32; 3]]) -> Vec<f32> {
        use burn::module::Param;
        use burn::nn::Linear;
        use burn::optim::GradientsParams;

        let device = Device::flex().autodiff();
        let weight = Tensor::<2>::from_data(TensorData::new(START.to_vec(), [3, 1]), &device);
        let mut layer = Linear {
            weight: Param::from_tensor(weight),
            bias: None,
        };
        for x in inputs {
            let input = Tensor::<2>::from_data(TensorData::new(x.to_vec(), [1, 3]), &device);
            let loss = layer.forward(input).sum();
            let grads = GradientsParams::from_grads(loss.backward(), &layer);
            layer = optim.step(LR, layer, grads);
        }
        layer
            .weight
            .val()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap()
    }

    const START: [f32; 3] = [0.5, -1.0, 2.0];
    const LR: f64 = 0.1;
    /// Gradients that change size and sign from step to step, so the moments matter.
    const INPUTS: [[f32; 3]; 3] = [[1.0, -2.0, 0.25], [-0.5, 3.0, 0.25], [2.0, 0.1, -4.0]];
    const DECAY: f64 = 0.5;

    fn assert_close(got: &[f32], expected: &[f64], what: &str) {
        assert_eq!(got.len(), expected.len());
        for (g, e) in got.iter().zip(expected) {
            assert!(
                (f64::from(*g) - e).abs() < 1e-5,
                "{what}: {got:?} against the formula's {expected:?}"
            );
        }
    }

    /// Adam (PyTorch's, with its L2 weight decay) and SGD with momentum (no dampening) and
    /// weight decay, stepped three times on a known gradient: the formulas, computed by hand.
    #[test]
    fn each_optimizer_steps_by_its_formula() {
        let (beta_1, beta_2, epsilon) = (0.9, 0.999, 1e-8);
        let mut w = START.map(f64::from);
        let (mut m, mut v) = ([0.0f64; 3], [0.0f64; 3]);
        for (t, x) in INPUTS.iter().enumerate() {
            let t = t as i32 + 1;
            for i in 0..3 {
                let g = f64::from(x[i]) + DECAY * w[i];
                m[i] = beta_1 * m[i] + (1.0 - beta_1) * g;
                v[i] = beta_2 * v[i] + (1.0 - beta_2) * g * g;
                let m_hat = m[i] / (1.0 - beta_1.powi(t));
                let v_hat = v[i] / (1.0 - beta_2.powi(t));
                w[i] -= LR * m_hat / (v_hat.sqrt() + epsilon);
            }
        }
        let adam = OptimizerConfig::new().with_weight_decay(DECAY);
        // Burn's Adam (wgpu trains with it) and the fused one the CPU backends train with.
        assert_close(&stepped(adam.init(), &INPUTS), &w, "Burn's Adam");
        assert_close(
            &stepped(adam.init_on(Backend::Flex), &INPUTS),
            &w,
            "fused Adam",
        );

        let momentum = 0.9;
        let mut w = START.map(f64::from);
        let mut velocity = [0.0f64; 3];
        for x in INPUTS {
            for i in 0..3 {
                let g = f64::from(x[i]) + DECAY * w[i];
                velocity[i] = momentum * velocity[i] + g;
                w[i] -= LR * velocity[i];
            }
        }
        let sgd = OptimizerConfig::new()
            .with_kind(OptimizerKind::Sgd)
            .with_momentum(momentum)
            .with_weight_decay(DECAY);
        assert_close(&stepped(sgd.init_on(Backend::Flex), &INPUTS), &w, "SGD");

        // Plain SGD: w - lr x per step.
        let mut w = START.map(f64::from);
        for x in INPUTS {
            for i in 0..3 {
                w[i] -= LR * f64::from(x[i]);
            }
        }
        let plain = OptimizerConfig::new().with_kind(OptimizerKind::Sgd);
        assert_close(&stepped(plain.init(), &INPUTS), &w, "plain SGD");
    }

    /// The rate of each step of a 2-epoch run of 640 images in batches of 64: 20 steps.
    fn rates_of(schedule: LrSchedule) -> Vec<f64> {
        let mut scheduler = lr_scheduler(1e-3, schedule, 20).unwrap();
        (0..=20).map(|_| scheduler.step().base()).collect()
    }

    #[test]
    fn the_cosine_rate_falls_along_a_half_cosine_to_zero_over_the_whole_run() {
        let rates = rates_of(LrSchedule::Cosine);
        for (step, rate) in rates.iter().enumerate() {
            let expected = 1e-3 * 0.5 * (1.0 + (step as f64 / 20.0 * std::f64::consts::PI).cos());
            assert!(
                (rate - expected).abs() < 1e-12,
                "step {step}: {rate} vs {expected}"
            );
        }
        assert_eq!(rates[0], 1e-3);
        assert!(
            rates[10] < 0.51e-3 && rates[10] > 0.49e-3,
            "half way: {}",
            rates[10]
        );
        assert!(rates[20] < 1e-12, "ends at 0: {}", rates[20]);
        assert!(
            rates_of(LrSchedule::Constant)
                .iter()
                .all(|&rate| rate == 1e-3)
        );
    }

    #[test]
    fn weight_decay_shrinks_the_weights() {
        let _random = crate::random_generator_lock();
        use burn::optim::GradientsParams;

        let device = Device::flex().autodiff();
        let pixels: Vec<f32> = (0..16 * 784).map(|i| (i % 97) as f32 / 97.0).collect();
        let images = Tensor::<2>::from_data(TensorData::new(pixels, [16, 784]), &device);
        let labels: Vec<i64> = (0..16).map(|i| i % 10).collect();
        let targets = Tensor::<1, Int>::from_data(TensorData::new(labels, [16]), &device);
        let trained = |weight_decay: f64| {
            device.seed(5);
            let mut model = crate::model::ModelConfig::new().init(&device);
            let mut optim = OptimizerConfig::new()
                .with_weight_decay(weight_decay)
                .init();
            for _ in 0..30 {
                let loss = model
                    .forward_classification(images.clone(), targets.clone())
                    .loss;
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optim.step(1e-3, model, grads);
            }
            model.squared_weights()
        };
        let (plain, decayed) = (trained(0.0), trained(0.5));
        assert!(decayed < 0.99 * plain, "decayed {decayed} vs plain {plain}");
    }
}
