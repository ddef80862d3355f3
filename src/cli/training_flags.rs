//! The training flags, each declared once: its help, its clap attributes, its value and the
//! config field it sets. The declaration makes the clap arguments (`TrainingFlags`, flattened
//! into `TrainArgs`), lays the flags given over a config (`TrainingFlags::lay_over`) and names
//! the field behind each flag for `--help`'s defaults (`flag_fields`).
//!
//! Adding a training option: a field of `TrainingConfig` (or `ModelConfig`, `OptimizerConfig`)
//! with its default and rule, then one entry here.

use crate::config::TrainingConfig;
use crate::config::{ConfigError, KeepEpoch};
use crate::data::DatasetKind;
use crate::model::optimizer::{LrSchedule, OptimizerKind};
use crate::model::{ActivationKind, LossKind, ModelKind};

/// A flag given on the command line and the config field it set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GivenFlag {
    /// As typed: `--batch-size`.
    pub(crate) flag: String,
    /// As the config's JSON names it: `model.hidden_sizes`.
    pub(crate) field: String,
}

/// `flag: Type => config.field` (`as f` wraps the value: `Some`, `Into::into`), with the flag's
/// doc comment as its help and its `#[arg(...)]` attributes; every flag is `--long` and
/// optional (absent: the config's value stands).
macro_rules! training_flags {
    ($(
        $(#[doc = $doc:literal])*
        #[arg($($arg:tt)*)]
        $flag:ident: $ty:ty => $($field:ident).+ $(as $wrap:path)?
    ),+ $(,)?) => {
        /// The flags that override a training config field; `None` where not given.
        #[derive(Debug, Default, clap::Args)]
        pub(crate) struct TrainingFlags {
            $(
                $(#[doc = $doc])*
                #[arg(long, $($arg)*)]
                pub(crate) $flag: Option<$ty>,
            )+
        }

        impl TrainingFlags {
            /// Sets the config field of each flag given; returns the flags given, in
            /// declaration order.
            pub(crate) fn lay_over(&self, config: &mut TrainingConfig) -> Vec<GivenFlag> {
                let mut given = Vec::new();
                $(
                    if let Some(value) = self.$flag.clone() {
                        config.$($field).+ = training_flags!(@wrap value $(, $wrap)?);
                        given.push(GivenFlag {
                            flag: flag_name(stringify!($flag)),
                            field: stringify!($($field).+).replace(' ', ""),
                        });
                    }
                )+
                given
            }
        }

        /// Each flag's clap id (`batch_size`) with the config field it sets (`batch_size`,
        /// `model.hidden_sizes`).
        pub(crate) fn flag_fields() -> Vec<(&'static str, String)> {
            vec![$((stringify!($flag), stringify!($($field).+).replace(' ', ""))),+]
        }
    };
    (@wrap $value:ident) => { $value };
    (@wrap $value:ident, $wrap:path) => { $wrap($value) };
}

/// A config's unknown field named like a flag (`lr`, `epochs`) gets the field that flag sets
/// as its suggestion, when the config found none of its own.
pub(crate) fn name_the_field(error: ConfigError) -> ConfigError {
    match error {
        ConfigError::UnknownField {
            path,
            field,
            expected,
            suggestion: None,
        } => {
            let id = field.replace('-', "_");
            let suggestion = flag_fields()
                .into_iter()
                .find(|(flag, _)| *flag == id)
                .map(|(flag, set)| format!("`{set}` (what {} sets)", flag_name(flag)));
            ConfigError::UnknownField {
                path,
                field,
                expected,
                suggestion,
            }
        }
        other => other,
    }
}

/// `--batch-size` for the clap id `batch_size`, as clap derives it.
fn flag_name(id: &str) -> String {
    format!("--{}", id.replace('_', "-"))
}

training_flags! {
    /// Dataset (fashion-mnist: the same format, ten kinds of clothing).
    #[arg(value_name = "NAME")]
    dataset: DatasetKind => dataset,

    /// Passes over the training set.
    #[arg(value_name = "N")]
    epochs: usize => num_epochs,

    /// Images per optimizer step.
    #[arg(value_name = "N")]
    batch_size: usize => batch_size,

    /// Network: mlp (the tutorial's) or cnn (PyTorch examples/mnist's Net: two convolutions,
    /// inputs normalised with MNIST's mean and std).
    #[arg(value_name = "NAME")]
    model: ModelKind => model.kind,

    /// Hidden layer widths, input side first: 128, 256,128, or "" for none (softmax regression).
    #[arg(value_name = "SIZES", value_parser = parse_hidden_sizes)]
    hidden: HiddenSizes => model.hidden_sizes as Into::into,

    /// Hidden-layer activation.
    #[arg(value_name = "NAME")]
    activation: ActivationKind => model.activation,

    /// Loss (mse: between softmax probabilities and one-hot targets).
    #[arg(value_name = "NAME")]
    loss: LossKind => loss,

    /// Optimizer.
    #[arg(value_name = "NAME")]
    optimizer: OptimizerKind => optimizer.kind,

    /// Learning rate.
    #[arg(value_name = "RATE", allow_negative_numbers = true)]
    lr: f64 => learning_rate,

    /// SGD momentum, in [0, 1).
    #[arg(value_name = "M", allow_negative_numbers = true)]
    momentum: f64 => optimizer.momentum,

    /// L2 weight decay (either optimizer).
    #[arg(value_name = "L2", allow_negative_numbers = true)]
    weight_decay: f64 => optimizer.weight_decay,

    /// Learning-rate schedule (cosine: down to 0 over the run).
    #[arg(value_name = "NAME")]
    lr_schedule: LrSchedule => lr_schedule,

    /// Hold out N training images (at random) to validate on; the test split then scores only
    /// the end. 0 validates on the test split, as the tutorial does.
    #[arg(value_name = "N")]
    valid_size: usize => valid_size,

    /// Stop when the validation loss has not improved for N epochs.
    #[arg(value_name = "N")]
    early_stop_patience: usize => early_stop_patience as Some,

    /// Which epoch's model to keep as model.bpk: last, or best (the lowest validation loss;
    /// needs --valid-size, so that the test split does not choose it).
    #[arg(value_name = "EPOCH")]
    keep: KeepEpoch => keep,

    /// Seed for weight initialisation, shuffling and the hold-out.
    #[arg(value_name = "N")]
    seed: u64 => seed,

    /// Threads preparing batches ahead of training (0: on the training thread).
    #[arg(value_name = "N")]
    num_workers: usize => num_workers,

    /// Treat numbers below f32's normal range (1.2e-38) as zero while training, as PyTorch's
    /// torch.set_flush_denormal(True) does: faster on x86 CPUs (see the README's Performance),
    /// but results differ from the default in their last bits.
    #[arg(num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    flush_denormals: bool => flush_denormals,

    /// Transform each training image at random, differently each epoch: rotation, scale, slant,
    /// shift, elastic distortion, pen width, blur and noise, as handwriting varies (README:
    /// "Reading people's pictures"); deterministic per seed, epoch and image.
    #[arg(num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    augment: bool => augment,

    /// Train on the first N training images only (quick checks).
    #[arg(value_name = "N")]
    limit_train: usize => limit_train as Some,

    /// Validate and test on the first N test images only.
    #[arg(value_name = "N")]
    limit_test: usize => limit_test as Some,
}

/// `--hidden`: layer widths, as clap parses them.
#[derive(Debug, Clone, PartialEq)]
pub struct HiddenSizes(pub Vec<usize>);

impl From<HiddenSizes> for Vec<usize> {
    fn from(sizes: HiddenSizes) -> Self {
        sizes.0
    }
}

/// `--hidden`'s value parser: comma-separated layer widths (`128`, `256,128`, `""` for none).
///
/// # Errors
/// The message of [`crate::model::parse_hidden_sizes`] for text that is not such a list.
pub(crate) fn parse_hidden_sizes(text: &str) -> Result<HiddenSizes, String> {
    crate::model::parse_hidden_sizes(text).map(HiddenSizes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The training flags alone, as a command line.
    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        flags: TrainingFlags,
    }

    #[test]
    fn each_flag_sets_the_field_it_declares_and_only_that() {
        let cli = Flags::try_parse_from([
            "mnist-trainer",
            "--epochs",
            "3",
            "--hidden",
            "64,32",
            "--early-stop-patience",
            "2",
        ])
        .unwrap();
        let mut config = TrainingConfig::tutorial();
        let given = cli.flags.lay_over(&mut config);
        let names: Vec<_> = given
            .iter()
            .map(|g| (g.flag.as_str(), g.field.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("--epochs", "num_epochs"),
                ("--hidden", "model.hidden_sizes"),
                ("--early-stop-patience", "early_stop_patience")
            ]
        );
        let mut expected = TrainingConfig::tutorial();
        expected.num_epochs = 3;
        expected.model.hidden_sizes = vec![64, 32];
        expected.early_stop_patience = Some(2);
        assert_eq!(config.to_json(), expected.to_json());
    }

    #[test]
    fn every_declared_field_exists_in_the_config() {
        let config = serde_json::to_value(TrainingConfig::tutorial()).unwrap();
        for (flag, field) in flag_fields() {
            let found = field
                .split('.')
                .try_fold(&config, |value, key| value.as_object()?.get(key));
            assert!(found.is_some(), "--{flag}: no config field {field}");
        }
    }
}
