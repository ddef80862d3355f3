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

/// `flag: Type => config.field` (`as f` wraps the value: `Some`, `Into::into`) with its
/// `#[arg(...)]` attributes; its help (and rustdoc) is the field's doc (`field_doc!`). Every flag is
/// `--long` and optional (absent: the config's value stands).
macro_rules! training_flags {
    ($(
        #[arg($($arg:tt)*)]
        $flag:ident: $ty:ty => $($field:ident).+ $(as $wrap:path)?
    ),+ $(,)?) => {
        /// The flags that override a training config field; `None` where not given.
        #[derive(Debug, Default, clap::Args)]
        pub(crate) struct TrainingFlags {
            $(
                #[doc = field_doc!($($field).+)]
                #[arg(long, help = field_doc!($($field).+), $($arg)*)]
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

/// The doc of the config field at a path (`num_epochs`, `model.kind`, `optimizer.momentum`),
/// from the macro beside its struct: a flag's help is its field's doc, written once.
macro_rules! field_doc {
    (model . $field:ident) => {
        crate::model::model_doc!($field)
    };
    (optimizer . $field:ident) => {
        crate::model::optimizer::optimizer_doc!($field)
    };
    ($field:ident) => {
        crate::config::training_doc!($field)
    };
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
    #[arg(value_name = "NAME")]
    dataset: DatasetKind => dataset,

    #[arg(value_name = "N")]
    epochs: usize => num_epochs,

    #[arg(value_name = "N")]
    batch_size: usize => batch_size,

    #[arg(value_name = "NAME")]
    model: ModelKind => model.kind,

    #[arg(value_name = "SIZES", value_parser = parse_hidden_sizes)]
    hidden: HiddenSizes => model.hidden_sizes as Into::into,

    #[arg(value_name = "NAME")]
    activation: ActivationKind => model.activation,

    #[arg(value_name = "NAME")]
    loss: LossKind => loss,

    #[arg(value_name = "NAME")]
    optimizer: OptimizerKind => optimizer.kind,

    #[arg(value_name = "RATE", allow_negative_numbers = true)]
    lr: f64 => learning_rate,

    #[arg(value_name = "M", allow_negative_numbers = true)]
    momentum: f64 => optimizer.momentum,

    #[arg(value_name = "L2", allow_negative_numbers = true)]
    weight_decay: f64 => optimizer.weight_decay,

    #[arg(value_name = "NAME")]
    lr_schedule: LrSchedule => lr_schedule,

    #[arg(value_name = "N")]
    valid_size: usize => valid_size,

    #[arg(value_name = "N")]
    early_stop_patience: usize => early_stop_patience as Some,

    #[arg(value_name = "EPOCH")]
    keep: KeepEpoch => keep,

    #[arg(value_name = "N")]
    seed: u64 => seed,

    #[arg(value_name = "N")]
    num_workers: usize => num_workers,

    #[arg(num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    flush_denormals: bool => flush_denormals,

    #[arg(num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    augment: bool => augment,

    #[arg(value_name = "WEIGHT", allow_negative_numbers = true)]
    outlier_exposure: f64 => outlier_exposure,

    #[arg(value_name = "N")]
    font_digits: usize => font_digits,

    #[arg(value_name = "N")]
    font_outliers: usize => font_outliers,

    #[arg(value_name = "RUN")]
    finetune: std::path::PathBuf => finetune as Some,

    #[arg(value_name = "RATIO")]
    finetune_mix: f64 => finetune_mix,

    #[arg(value_name = "N")]
    limit_train: usize => limit_train as Some,

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
