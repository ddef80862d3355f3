//! The training configuration: what `config/*.json` holds and what a run records.

use std::path::{Path, PathBuf};

use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::prelude::*;
use serde_json::Value;

use crate::choice::named_choice;
use crate::data::DatasetKind;
use crate::fs::bounded_read::read_at_most;
use crate::model::memory::training_bytes;
use crate::model::optimizer::{LrSchedule, OptimizerConfig, lr_scheduler};
use crate::model::{ActivationKind, LossKind, ModelConfig, ModelKind, Normalization};
use crate::rules::{Broken, Shown, first_broken};

named_choice!(
    /// Which epoch's model a run keeps as `model.bpk`.
    KeepEpoch, "keep", { Last => "last", Best => "best" }
);

/// The doc of each `TrainingConfig` field a training flag sets, declared once: the field's rustdoc here and
/// the flag's `--help` (`cli/training_flags.rs`) both read it.
macro_rules! training_doc {
    (loss) => {
        "What training minimises (and test_loss is): cross-entropy, or mse (between softmax probabilities and one-hot targets)."
    };
    (dataset) => {
        "Dataset: mnist, or fashion-mnist (the same format, ten kinds of clothing); the class names of the outputs."
    };
    (num_epochs) => {
        "Passes over the training images."
    };
    (batch_size) => {
        "Images per optimizer step (the last batch of an epoch may be smaller)."
    };
    (learning_rate) => {
        "The optimizer's step size (the schedule's start when it is cosine)."
    };
    (lr_schedule) => {
        "How the learning rate moves over the run: constant, or cosine (down to 0 at the last step)."
    };
    (seed) => {
        "Seeds the weights, each epoch's order, the hold-out and augment."
    };
    (num_workers) => {
        "Threads preparing batches ahead of training (0: on the training thread); batches arrive in the same order either way, so results do not depend on it."
    };
    (valid_size) => {
        "Training images held out (at random, by the seed) to validate on; 0 validates on the test split each epoch, as the tutorial does. Either way the test split scores the end."
    };
    (early_stop_patience) => {
        "Stop when the validation loss has not improved for this many epochs."
    };
    (keep) => {
        "Which epoch's model becomes model.bpk (and is tested): last, as the tutorial does, or best, the lowest validation loss (Keras's restore_best_weights), which needs held-out images (valid_size, --valid-size): chosen on the test split, its test score would mean nothing."
    };
    (flush_denormals) => {
        "Treat numbers below f32's normal range (1.2e-38) as zero while training, as PyTorch's torch.set_flush_denormal(True) does: faster on x86 CPUs (measured in docs/measurements.md), but results differ from the default in their last bits."
    };
    (augment) => {
        "Transform each training image at random, differently each epoch: rotation, scale, slant, shift, elastic distortion, pen width, blur and noise, as handwriting varies; deterministic per seed, epoch and image. The tutorial trains on the images as they are."
    };
    (outlier_exposure) => {
        "Outlier Exposure's weight (Hendrycks et al., ICLR 2019): with each batch, half as many made-up pictures that are not digits (two digits squeezed into one place, two touching digits fitted into one place as a picture of them is prepared, tangles of strokes; with font_outliers, letters and symbols too), trained towards even probabilities with this weight against the digits' loss, so that a calibrated run answers \"not a digit\" for pictures that hold none; the training loss shown includes that term. 0 (the tutorial) trains on the digits alone."
    };
    (font_digits) => {
        "Also train on this many digits drawn in the printed and handwriting fonts of a few Debian packages (fonts-dejavu-core, fonts-dejavu-extra, fonts-liberation, fonts-urw-base35, fonts-femkeklaver, fonts-havana, fonts-klee, fonts-seto, fonts-kiloji, fonts-lobster, fonts-leckerli-one, fonts-yusei-magic, fonts-ecolier-court, fonts-tomsontalks), each prepared as infer prepares a picture, so that digits in other styles than MNIST's 250 writers' read surely; deterministic per seed, never held out. 0 (the tutorial) trains on the dataset alone."
    };
    (font_outliers) => {
        "With outlier_exposure: also show it this many letters and symbols (Latin letters but those a digit is written like, such as O, I, S, Z, B, G) drawn in font_digits' fonts and prepared as infer prepares a picture, a quarter of the outliers, so that a calibrated run answers \"not a digit\" for letters and symbols, and refuses more of the pictures of no digit it never saw; deterministic per seed. 0 shows the made-up outliers alone."
    };
    (finetune) => {
        "Start from this trained run's model (its weights, not its optimizer or schedule) instead of random weights, to fine-tune it on other data (--data-dir: a folder of your own pictures); the model is the run's (MLP or CNN, trained here or imported from PyTorch), its dataset's classes must be this run's, and its Outlier Exposure (the weight and font_outliers' letters) is kept unless a config file, --outlier-exposure or --font-outliers says otherwise. calibrate then uses the run's held-out images, or without them the parent's. Recorded in config.json."
    };
    (finetune_mix) => {
        "With --finetune: also train on this many of the images the parent run trained on (not those it held out; read from where its data.json says, chosen by the seed) per picture of the new data, so that the model does not forget them: 1 mixes as many as there are new pictures. 0 trains on the new data alone."
    };
    (limit_train) => {
        "Train on the first N training images only (quick checks); all of them when absent."
    };
    (limit_test) => {
        "Validate and test on the first N test images only; all of them when absent."
    };
}
pub(crate) use training_doc;

/// Everything a training run depends on, as `config/default.json` and a run's `config.json`
/// hold it. The defaults are the PyTorch tutorial's: 784-128-10 with ReLU, cross-entropy, Adam
/// at 1e-3, batch 64, 5 epochs.
#[derive(Config, Debug)]
pub struct TrainingConfig {
    /// The network's layers and activation (`"model"` in the JSON).
    pub model: ModelConfig,
    /// The update rule and its settings (`"optimizer"` in the JSON).
    pub optimizer: OptimizerConfig,
    #[doc = training_doc!(loss)]
    #[config(default = "LossKind::CrossEntropy")]
    pub loss: LossKind,
    #[doc = training_doc!(dataset)]
    #[config(default = "DatasetKind::Mnist")]
    pub dataset: DatasetKind,
    #[doc = training_doc!(num_epochs)]
    #[config(default = 5)]
    pub num_epochs: usize,
    #[doc = training_doc!(batch_size)]
    #[config(default = 64)]
    pub batch_size: usize,
    #[doc = training_doc!(learning_rate)]
    #[config(default = 1.0e-3)]
    pub learning_rate: f64,
    #[doc = training_doc!(lr_schedule)]
    #[config(default = "LrSchedule::Constant")]
    pub lr_schedule: LrSchedule,
    #[doc = training_doc!(seed)]
    #[config(default = 42)]
    pub seed: u64,
    #[doc = training_doc!(num_workers)]
    #[config(default = 0)]
    pub num_workers: usize,
    #[doc = training_doc!(valid_size)]
    #[config(default = 0)]
    pub valid_size: usize,
    #[doc = training_doc!(early_stop_patience)]
    #[config(default = "None")]
    pub early_stop_patience: Option<usize>,
    #[doc = training_doc!(keep)]
    #[config(default = "KeepEpoch::Last")]
    pub keep: KeepEpoch,
    #[doc = training_doc!(flush_denormals)]
    #[config(default = false)]
    pub flush_denormals: bool,
    #[doc = training_doc!(augment)]
    #[config(default = false)]
    pub augment: bool,
    #[doc = training_doc!(outlier_exposure)]
    #[config(default = 0.0)]
    pub outlier_exposure: f64,
    #[doc = training_doc!(font_digits)]
    #[config(default = 0)]
    pub font_digits: usize,
    #[doc = training_doc!(font_outliers)]
    #[config(default = 0)]
    pub font_outliers: usize,
    #[doc = training_doc!(finetune)]
    #[config(default = "None")]
    pub finetune: Option<PathBuf>,
    #[doc = training_doc!(finetune_mix)]
    #[config(default = 0.0)]
    pub finetune_mix: f64,
    #[doc = training_doc!(limit_train)]
    #[config(default = "None")]
    pub limit_train: Option<usize>,
    #[doc = training_doc!(limit_test)]
    #[config(default = "None")]
    pub limit_test: Option<usize>,
}

/// Why a config was refused; each names the file (or, for a value, the flag) it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read: {cause}", path.display())]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// The file is not JSON.
    #[error("{}: not valid JSON: {cause}", path.display())]
    Syntax {
        path: PathBuf,
        cause: serde_json::Error,
    },
    /// A field no config has, by its dotted path (`optimizer.betas`), with the fields
    /// allowed at that level.
    #[error("{}: unknown field `{field}`{} (expected one of: {expected})", path.display(), did_you_mean(suggestion.as_deref()))]
    UnknownField {
        path: PathBuf,
        field: String,
        expected: String,
        /// The field probably meant, in backquotes (with the flag that sets it, when the
        /// unknown field is named like the flag).
        suggestion: Option<String>,
    },
    /// The JSON is not an object.
    #[error("{}: a config is a JSON object of fields (as config/default.json)", path.display())]
    NotObject { path: PathBuf },
    /// A known field, by its dotted path (`optimizer.lr`), holds a value of the wrong type or
    /// an unknown choice, as serde says.
    #[error("{}: `{field}`: {cause}", path.display())]
    Shape {
        path: PathBuf,
        field: String,
        cause: serde_json::Error,
    },
    /// A value breaks its field's rule (`rules.rs`); `origin` is the file or flag that set it.
    #[error("{origin}: {} = {} is invalid: {}", broken.field, broken.value, broken.rule)]
    Invalid { origin: String, broken: Broken },
}

impl ConfigError {
    /// The error with its origin replaced by what `origin` names for the invalid field.
    pub fn with_origin_of(self, origin: impl Fn(&str) -> String) -> Self {
        match self {
            ConfigError::Invalid { broken, .. } => ConfigError::Invalid {
                origin: origin(&broken.field),
                broken,
            },
            other => other,
        }
    }
}

impl TrainingConfig {
    /// The PyTorch tutorial's settings, `config/default.json`.
    pub fn tutorial() -> Self {
        Self::new(ModelConfig::new(), OptimizerConfig::new())
    }

    /// The learning-rate schedule of this run over `train_images` images: one step per batch,
    /// over all its epochs.
    ///
    /// Errors: the cosine schedule's, from Burn, when the learning rate is not in (0, 1].
    pub(crate) fn lr_scheduler(&self, train_images: usize) -> Result<ModuleLrScheduler, String> {
        let steps = self
            .num_epochs
            .saturating_mul(train_images.div_ceil(self.batch_size));
        lr_scheduler(self.learning_rate, self.lr_schedule, steps)
    }

    /// Bytes training this config takes at least (see [`training_bytes`]); `None` when the
    /// count overflows 64 bits.
    pub(crate) fn training_bytes(&self) -> Option<u64> {
        training_bytes(&self.model, &self.optimizer, self.batch_size)
    }

    /// Loads a JSON config, refusing syntax errors, unknown fields and invalid values, each as
    /// one message naming the file. Fields the file leaves out keep the tutorial's values
    /// (`{"num_epochs": 1}` is a whole config).
    ///
    /// # Errors
    ///
    /// Each [`ConfigError`] variant: the file unreadable, not JSON, not an object, with an
    /// unknown field, a value of the wrong type, or a value that breaks its rule.
    pub fn load_file(path: &Path) -> Result<Self, ConfigError> {
        let too_large = format!(
            "larger than {} KiB; a config is a small JSON file",
            MAX_CONFIG_BYTES >> 10
        );
        let text = read_at_most(path, MAX_CONFIG_BYTES, &too_large)
            .and_then(|bytes| {
                String::from_utf8(bytes).map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "stream did not contain valid UTF-8",
                    )
                })
            })
            .map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                cause: source,
            })?;
        let value: Value = serde_json::from_str(&text).map_err(|source| ConfigError::Syntax {
            path: path.to_path_buf(),
            cause: source,
        })?;
        if !value.is_object() {
            return Err(ConfigError::NotObject {
                path: path.to_path_buf(),
            });
        }
        let known = serde_json::to_value(Self::tutorial()).expect("a config serializes");
        if let Some((field, expected)) = first_unknown_field(&value, &known, "") {
            let suggestion = closest_field(&field, &expected);
            return Err(ConfigError::UnknownField {
                path: path.to_path_buf(),
                field,
                expected,
                suggestion,
            });
        }
        let config: Self = serde_path_to_error::deserialize(laid_over(value, known)).map_err(
            |error: serde_path_to_error::Error<serde_json::Error>| ConfigError::Shape {
                path: path.to_path_buf(),
                field: error.path().to_string(),
                cause: error.into_inner(),
            },
        )?;
        config.validate(&path.display().to_string())?;
        Ok(config)
    }

    /// Checks the values no type can express (`rules.rs`); `origin` names where they came
    /// from.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] for the first field (this struct's, then the optimizer's) whose
    /// value breaks its rule.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        match self
            .first_broken()
            .or_else(|| self.optimizer.first_broken())
        {
            Some(broken) => Err(ConfigError::Invalid {
                origin: origin.to_string(),
                broken,
            }),
            None => Ok(()),
        }
    }

    /// The first field outside the optimizer's whose value breaks its rule.
    fn first_broken(&self) -> Option<Broken> {
        let keep_one = "keep at least 1 image, or leave it out";
        let cosine = self.lr_schedule == LrSchedule::Cosine;
        let cnn = self.model.kind == ModelKind::Cnn;
        let mse = self.loss == LossKind::Mse;
        let held_out = self.valid_size > 0;
        let fine_tuned = self.finetune.is_some();
        let digits = self.dataset == DatasetKind::Mnist;
        let no_outliers = self.outlier_exposure == 0.0;
        first_broken!(self, "", {
            flush_denormals: |on: &bool| *on && !cfg!(target_arch = "x86_64")
                => "only x86-64 CPUs have the setting",
            num_epochs: |epochs: &usize| *epochs == 0 => "train for at least 1 epoch",
            batch_size: |size: &usize| *size == 0 => "a batch holds at least 1 image",
            learning_rate: |rate: &f64| !(rate.is_finite() && *rate > 0.0)
                => "must be a positive number",
            model.hidden_sizes: |sizes: &Vec<usize>| sizes.contains(&0)
                => "a layer needs at least 1 unit",
            model.hidden_sizes: |sizes: &Vec<usize>| cnn && *sizes != [128]
                => "the cnn's Linear part is Net's, [128] (--hidden is for --model mlp)",
            model.activation: |activation: &ActivationKind| cnn && *activation != ActivationKind::Relu
                => "the cnn is Net, with relu (--activation is for --model mlp)",
            model.input_normalization: |n: &Option<Normalization>| n.as_ref().is_some_and(|n| {
                    !n.mean.is_finite()
                }) => "its mean must be a finite number",
            model.input_normalization: |n: &Option<Normalization>| n.as_ref().is_some_and(|n| {
                    !(n.std.is_finite() && n.std > 0.0)
                }) => "its std must be a positive number",
            outlier_exposure: |weight: &f64| !(weight.is_finite() && (0.0..=10.0).contains(weight))
                => "a weight from 0 (none) to 10",
            outlier_exposure: |weight: &f64| *weight > 0.0 && mse
                => "Outlier Exposure's term is a cross-entropy, in nats: beside mse's loss (hundredths) it outweighs the digits (--loss cross_entropy)",
            font_digits: |count: &usize| *count > MAX_FONT_DIGITS
                => "at most 1,000,000 digits drawn in fonts",
            font_digits: |count: &usize| *count > 0 && !digits
                => "digits drawn in fonts are MNIST's classes: Fashion-MNIST has none (leave font_digits at 0)",
            font_outliers: |count: &usize| *count > MAX_FONT_DIGITS
                => "at most 1,000,000 letters and symbols drawn in fonts",
            font_outliers: |count: &usize| *count > 0 && !digits
                => "letters drawn in fonts are outliers of digits, not of Fashion-MNIST's clothes (leave font_outliers at 0)",
            font_outliers: |count: &usize| *count > 0 && no_outliers
                => "letters drawn in fonts are outliers: give outlier_exposure a weight (--outlier-exposure 0.35)",
            finetune: |run: &Option<PathBuf>| run.as_ref().is_some_and(|run| run.as_os_str().is_empty())
                => "an empty path names no run (leave the field out to train from scratch)",
            finetune: |run: &Option<PathBuf>| run.as_ref().is_some_and(|run| run.to_str().is_none())
                => "the run's path is not UTF-8, which config.json cannot record",
            finetune_mix: |mix: &f64| !(mix.is_finite() && (0.0..=100.0).contains(mix))
                => "parent images per new picture, from 0 (none) to 100",
            finetune_mix: |mix: &f64| *mix > 0.0 && !fine_tuned
                => "mixes in the images of the run --finetune starts from: give --finetune RUN",
            limit_train: |limit: &Option<usize>| *limit == Some(0) => keep_one,
            limit_test: |limit: &Option<usize>| *limit == Some(0) => keep_one,
            early_stop_patience: |patience: &Option<usize>| *patience == Some(0)
                => "wait at least 1 epoch, or leave it out",
            keep: |keep: &KeepEpoch| *keep == KeepEpoch::Best && !held_out
                => "the best epoch is chosen by validation loss, which needs held-out images: with valid_size = 0 it would be chosen on the test split (pass --valid-size N: N training images held out)",
            learning_rate: |rate: &f64| cosine && *rate > 1.0
                => "the cosine schedule starts at most at 1",
        })
    }

    /// The config as pretty-printed JSON, as a run's `config.json` holds it.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a config serializes")
    }
}

/// The known field (of the comma-separated `expected`, at `field`'s level) that `field`'s
/// name is part of, or is part of it (`epochs`: `num_epochs`; `hidden`: `hidden_sizes`).
fn closest_field(field: &str, expected: &str) -> Option<String> {
    let (prefix, name) = field.rsplit_once('.').map_or(("", field), |(p, n)| (p, n));
    let name = name.replace('-', "_");
    expected
        .split(", ")
        .find(|known| name.len() >= 3 && (known.contains(&name) || name.contains(known)))
        .map(|known| {
            if prefix.is_empty() {
                format!("`{known}`")
            } else {
                format!("`{prefix}.{known}`")
            }
        })
}

/// `; did you mean `num_epochs`?` for a suggestion; nothing without one.
fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map_or_else(String::new, |field| format!("; did you mean {field}?"))
}

/// Largest config file read: `config/default.json` is 600 bytes; `--config /dev/zero` must
/// not fill the memory.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The most digits `font_digits` draws: a million is 784 MB of images, beyond any use here.
const MAX_FONT_DIGITS: usize = 1_000_000;

/// `value`'s fields laid over `defaults`, objects field by field.
fn laid_over(value: Value, defaults: Value) -> Value {
    match (value, defaults) {
        (Value::Object(given), Value::Object(mut merged)) => {
            for (key, child) in given {
                let default = merged.remove(&key).unwrap_or(Value::Null);
                merged.insert(key, laid_over(child, default));
            }
            Value::Object(merged)
        }
        (value, _) => value,
    }
}

/// The first key of `value` that the reference config does not have, by its dotted path, with
/// the keys the reference has at that level (comma-separated). Objects whose reference is `null`
/// (an optional block left out by default) are not checked.
fn first_unknown_field(value: &Value, known: &Value, prefix: &str) -> Option<(String, String)> {
    let (Value::Object(given), Value::Object(known)) = (value, known) else {
        return None;
    };
    for (key, child) in given {
        let path = format!("{prefix}{key}");
        match known.get(key) {
            None => {
                let expected = known.keys().cloned().collect::<Vec<_>>().join(", ");
                return Some((path, expected));
            }
            Some(reference) => {
                if let Some(found) = first_unknown_field(child, reference, &format!("{path}.")) {
                    return Some(found);
                }
            }
        }
    }
    None
}

impl Shown for KeepEpoch {
    fn shown(&self) -> String {
        self.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn font_digits_help_names_every_package_it_draws_in() {
        let folders = crate::picture::font_digits::FONT_FOLDERS;
        for package in folders.iter().flat_map(|(_, packages)| packages.split(' ')) {
            assert!(
                training_doc!(font_digits).contains(package),
                "{package} not in --font-digits' help"
            );
        }
    }

    #[test]
    fn a_partial_config_takes_the_tutorials_values_for_what_it_leaves_out() {
        let (_dir, path) = write(r#"{"num_epochs": 1, "model": {"activation": "tanh"}}"#);
        let config = TrainingConfig::load_file(&path).unwrap();
        let mut expected = TrainingConfig::tutorial();
        expected.num_epochs = 1;
        expected.model.activation = crate::model::ActivationKind::Tanh;
        assert_eq!(config.to_json(), expected.to_json());
    }

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn config_default_json_is_the_tutorial() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.json");
        let loaded = TrainingConfig::load_file(&path).unwrap();
        assert_eq!(loaded.to_json(), TrainingConfig::tutorial().to_json());
        assert_eq!(loaded.model.hidden_sizes, vec![128]);
        assert_eq!(loaded.optimizer.epsilon, 1e-8, "PyTorch's Adam epsilon");
        assert_eq!(loaded.batch_size, 64);
        assert_eq!(loaded.num_epochs, 5);
        assert_eq!(loaded.learning_rate, 1e-3);
    }

    #[test]
    fn config_reader_json_is_the_recipe_for_reading_pictures() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/reader.json");
        let loaded = TrainingConfig::load_file(&path).unwrap();
        assert_eq!(loaded.model.kind, ModelKind::Cnn);
        assert!(loaded.augment);
        assert_eq!(loaded.lr_schedule, LrSchedule::Cosine);
        assert_eq!(loaded.num_epochs, 10);
        // Held-out images, so that `calibrate` has some that it never trained on.
        assert_eq!(loaded.valid_size, 5000);
        assert!(loaded.outlier_exposure > 0.0);
        assert_eq!(loaded.font_digits, 12_000);
        assert_eq!(loaded.font_outliers, 12_000);
    }

    #[test]
    fn round_trips_through_json() {
        let mut config = TrainingConfig::tutorial();
        config.limit_train = Some(1000);
        config.model.hidden_sizes = vec![64, 32];
        config.optimizer.kind = crate::model::optimizer::OptimizerKind::Sgd;
        config.optimizer.momentum = 0.9;
        config.early_stop_patience = Some(2);
        let (_dir, path) = write(&config.to_json());
        assert_eq!(
            TrainingConfig::load_file(&path).unwrap().to_json(),
            config.to_json()
        );
    }

    #[test]
    fn choices_are_read_whatever_their_case() {
        let (_dir, path) = write(r#"{"model": {"kind": "CNN"}, "optimizer": {"kind": "Adam"}}"#);
        let config = TrainingConfig::load_file(&path).unwrap();
        assert_eq!(config.model.kind, ModelKind::Cnn);
        let (_dir, path) = write(r#"{"loss": "squared"}"#);
        let err = TrainingConfig::load_file(&path).unwrap_err().to_string();
        assert!(err.contains("unknown loss `squared` (valid: "), "{err}");
    }

    #[test]
    fn unknown_fields_are_named_with_their_path() {
        let mut value = serde_json::to_value(TrainingConfig::tutorial()).unwrap();
        value["optimizer"]["betas"] = serde_json::json!([0.9, 0.99]);
        let (_dir, path) = write(&value.to_string());
        let err = TrainingConfig::load_file(&path).unwrap_err().to_string();
        assert!(err.contains("unknown field `optimizer.betas`"), "{err}");
        assert!(err.contains("beta_1"), "{err}");

        let (_dir, path) = write(r#"{"epochs": 3}"#);
        let err = TrainingConfig::load_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("unknown field `epochs`; did you mean `num_epochs`? (expected"),
            "{err}"
        );
        let (_dir, path) = write(r#"{"model": {"hidden": [64]}}"#);
        let err = TrainingConfig::load_file(&path).unwrap_err().to_string();
        assert!(err.contains("did you mean `model.hidden_sizes`?"), "{err}");
    }

    #[test]
    fn invalid_values_are_refused() {
        let cases = [
            ("batch_size", serde_json::json!(0), "batch_size = 0"),
            (
                "learning_rate",
                serde_json::json!(-0.1),
                "learning_rate = -0.1",
            ),
            ("learning_rate", serde_json::json!(0.0), "learning_rate = 0"),
            ("num_epochs", serde_json::json!(0), "num_epochs = 0"),
            (
                "finetune",
                serde_json::json!(""),
                "an empty path names no run",
            ),
        ];
        for (field, bad, needle) in cases {
            let mut value = serde_json::to_value(TrainingConfig::tutorial()).unwrap();
            value[field] = bad;
            let (_dir, path) = write(&value.to_string());
            let err = TrainingConfig::load_file(&path).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
            assert!(err.starts_with(&path.display().to_string()), "{err}");
        }
        let mut config = TrainingConfig::tutorial();
        config.model.hidden_sizes = vec![256, 0];
        let err = config.validate("--hidden").unwrap_err().to_string();
        assert_eq!(
            err,
            "--hidden: model.hidden_sizes = [256, 0] is invalid: a layer needs at least 1 unit"
        );
        let mut config = TrainingConfig::tutorial();
        config.optimizer.momentum = 0.9;
        let err = config.validate("--momentum").unwrap_err().to_string();
        assert!(err.contains("applies to sgd only"), "{err}");
        let mut config = TrainingConfig::tutorial();
        config.outlier_exposure = 0.5;
        config.validate("--outlier-exposure").unwrap();
        config.loss = LossKind::Mse;
        let err = config.validate("--loss").unwrap_err().to_string();
        assert!(
            err.starts_with("--loss: outlier_exposure = 0.5 is invalid: Outlier Exposure's term"),
            "{err}"
        );
        let mut config = TrainingConfig::tutorial();
        config.font_digits = 12_000;
        config.validate("--font-digits").unwrap();
        config.dataset = DatasetKind::FashionMnist;
        let err = config.validate("--dataset").unwrap_err().to_string();
        assert!(err.contains("Fashion-MNIST has none"), "{err}");
        config.dataset = DatasetKind::Mnist;
        config.font_digits = 1_000_001;
        let err = config.validate("--font-digits").unwrap_err().to_string();
        assert!(err.contains("at most 1,000,000"), "{err}");
        let mut config = TrainingConfig::tutorial();
        config.font_outliers = 12_000;
        let err = config.validate("--font-outliers").unwrap_err().to_string();
        assert_eq!(
            err,
            "--font-outliers: font_outliers = 12000 is invalid: letters drawn in fonts are outliers: give outlier_exposure a weight (--outlier-exposure 0.35)"
        );
        config.outlier_exposure = 0.35;
        config.validate("--font-outliers").unwrap();
        config.dataset = DatasetKind::FashionMnist;
        let err = config.validate("--dataset").unwrap_err().to_string();
        assert!(err.contains("not of Fashion-MNIST's clothes"), "{err}");
    }

    #[test]
    fn unknown_choices_list_the_valid_ones() {
        let mut value = serde_json::to_value(TrainingConfig::tutorial()).unwrap();
        value["model"]["activation"] = serde_json::json!("swish");
        let (_dir, path) = write(&value.to_string());
        let err = TrainingConfig::load_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("unknown activation `swish` (valid: relu, sigmoid, tanh)"),
            "{err}"
        );
    }

    #[test]
    fn syntax_and_type_errors_name_the_file_and_the_field() {
        let (_dir, path) = write("{ \"batch_size\": 64,");
        let err = TrainingConfig::load_file(&path).unwrap_err().to_string();
        assert!(err.contains("not valid JSON"), "{err}");
        let mut value = serde_json::to_value(TrainingConfig::tutorial()).unwrap();
        value["batch_size"] = serde_json::json!("sixty-four");
        let (_dir, path) = write(&value.to_string());
        let err = TrainingConfig::load_file(&path).unwrap_err().to_string();
        assert!(err.starts_with(&path.display().to_string()), "{err}");
        assert!(err.contains("invalid type"), "{err}");
        assert!(err.contains("`batch_size`: "), "{err}");
        // A nested field by its dotted path.
        let (_dir, path) = write(r#"{"optimizer": {"beta_1": "fast"}}"#);
        let err = TrainingConfig::load_file(&path).unwrap_err().to_string();
        assert!(err.contains("`optimizer.beta_1`: invalid type"), "{err}");
    }
}
