//! `summary.json`: what a run produced, for people and scripts.

use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::data::DatasetKind;
use crate::model::{ActivationKind, LossKind};

/// The Burn version this program is built against, as pinned in Cargo.toml.
const BURN_VERSION: &str = "0.22.1";

/// How a training run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// Every epoch asked for ran.
    Completed,
    /// Ended by early stopping: the validation loss stopped improving.
    EarlyStopped,
    /// Stopped by a signal or the dashboard; `--resume` continues it.
    Interrupted,
    /// Diverged or crashed: no model kept; its finished epochs can be resumed.
    Failed,
}

/// `summary.json` of a trained run: how it ended, its test score, what it ran on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Summary {
    /// How the run ended.
    pub status: RunStatus,
    /// The backend it trained on (`--backend`).
    pub backend: Backend,
    /// Epochs whose metrics line and checkpoint are both on disk.
    pub epochs_completed: usize,
    /// The epoch whose model `model.bpk` is (and the test scores describe): the last finished
    /// one, or with `keep = best` the one with the lowest validation loss; absent without a
    /// model (and in runs made before it was recorded, where it is the last).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_epoch: Option<usize>,
    /// Percent (0-100, not a fraction) of the test images the saved model classifies
    /// correctly; `null` when the run has no model (stopped before its first epoch finished,
    /// or failed).
    pub test_accuracy: Option<f64>,
    /// Mean of `loss_function` over the test images; `null` like `test_accuracy`.
    pub test_loss: Option<f64>,
    /// The loss the run trained with (and `test_loss` is).
    pub loss_function: LossKind,
    /// Test images scored (after `limit_test`).
    pub test_images: usize,
    /// Images trained on (after `limit_train` and the hold-out).
    pub train_images: usize,
    /// Images validated on each epoch; the test split's when no hold-out was asked for.
    pub valid_images: usize,
    /// The dataset trained on.
    pub dataset: DatasetKind,
    /// Layer widths, e.g. "784-128-10".
    pub model: String,
    /// The GPU adapter wgpu ran on; absent on the CPU backends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<String>,
    /// Wall-clock seconds of each finished epoch, training and validation.
    pub seconds_per_epoch: Vec<f64>,
    /// Wall-clock seconds of the whole command, loading and testing included.
    pub total_seconds: f64,
    /// Weights and biases of the model.
    pub parameters: usize,
    /// Where the images came from, in words.
    pub data: String,
    /// The versions of this program and Burn that wrote it.
    pub versions: Versions,
}

/// `summary.json` of a model imported from a PyTorch file rather than trained here.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ImportSummary {
    /// Always `"imported"`, which tells this summary from a trained run's.
    pub status: Imported,
    /// The PyTorch file it was read from.
    pub source: SourceFile,
    /// `SimpleNN` or `nn.Sequential`: the module the file's names belong to.
    pub pytorch_module: String,
    /// Layer widths, e.g. "784-128-10".
    pub model: String,
    /// Given to `import` (a state_dict does not record it).
    pub activation: ActivationKind,
    /// Weights and biases of the model.
    pub parameters: u64,
    /// Whose class names the outputs carry.
    pub dataset: DatasetKind,
    /// How the state_dict was found inside the file (a checkpoint's key, wrapper prefixes
    /// removed); absent for a plain state_dict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unwrapped: Vec<String>,
    /// The versions of this program and Burn that wrote it.
    pub versions: Versions,
}

/// What a `summary.json` says its run is: how training ended, or imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum RecordedStatus {
    /// A run trained here, and how it ended.
    Trained(RunStatus),
    /// A model imported from PyTorch.
    Imported(Imported),
}

/// The one field of a summary that every kind has.
#[derive(Deserialize)]
pub(crate) struct StatusField {
    /// The summary's `status`.
    pub(crate) status: RecordedStatus,
}

/// The one status an imported run has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Imported {
    /// `"imported"` in JSON.
    Imported,
}

/// The file a model was imported from, as it was when read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SourceFile {
    /// Its file name, as `import` was given it.
    pub name: String,
    /// Its absolute path then.
    pub path: std::path::PathBuf,
    /// `torch-zip`, `torch-pickle` or `safetensors` in JSON.
    pub format: crate::pytorch::import::FileFormat,
    /// Its size, in bytes.
    pub bytes: u64,
    /// As `sha256sum` prints it.
    pub sha256: String,
}

/// The versions that wrote a summary, to tell later which code a run came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Versions {
    /// This program's version, from Cargo.toml.
    pub mnist_trainer: String,
    /// The Burn version it was built against ([`BURN_VERSION`]).
    pub burn: String,
}

impl Versions {
    /// The versions of this build.
    pub(crate) fn current() -> Self {
        Self {
            mnist_trainer: env!("CARGO_PKG_VERSION").to_string(),
            burn: BURN_VERSION.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burn_version_matches_the_pin_in_cargo_toml() {
        let manifest = include_str!("../../Cargo.toml");
        let pin = format!("burn = {{ version = \"={BURN_VERSION}\"");
        assert!(manifest.contains(&pin), "Cargo.toml does not pin {pin}");
    }
}
