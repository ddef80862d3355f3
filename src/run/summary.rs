//! `summary.json`: what a run produced, for people and scripts.

use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::data::DatasetKind;
use crate::model::{ActivationKind, LossKind};

/// The Burn version this program is built against, as pinned in Cargo.toml.
const BURN_VERSION: &str = "0.22.1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    Completed,
    /// Ended by early stopping: the validation loss stopped improving.
    EarlyStopped,
    Interrupted,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub status: RunStatus,
    pub backend: Backend,
    pub epochs_completed: usize,
    /// Percent of the test images the saved model classifies correctly; `null` when the run
    /// has no model (stopped before its first epoch finished, or failed).
    pub test_accuracy: Option<f64>,
    /// Mean of `loss_function` over the test images; `null` like `test_accuracy`.
    pub test_loss: Option<f64>,
    /// The loss the run trained with (and `test_loss` is).
    pub loss_function: LossKind,
    pub test_images: usize,
    pub train_images: usize,
    /// Images validated on each epoch; the test split's when no hold-out was asked for.
    pub valid_images: usize,
    pub dataset: DatasetKind,
    /// Layer widths, e.g. "784-128-10".
    pub model: String,
    /// The GPU adapter wgpu ran on; absent on the CPU backends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<String>,
    pub seconds_per_epoch: Vec<f64>,
    pub total_seconds: f64,
    pub parameters: usize,
    pub data: String,
    pub versions: Versions,
}

/// `summary.json` of a model imported from a PyTorch file rather than trained here.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportSummary {
    pub status: Imported,
    pub source: SourceFile,
    /// `SimpleNN` or `nn.Sequential`: the module the file's names belong to.
    pub pytorch_module: String,
    /// Layer widths, e.g. "784-128-10".
    pub model: String,
    /// Given to `import` (a state_dict does not record it).
    pub activation: ActivationKind,
    pub parameters: u64,
    /// Whose class names the outputs carry.
    pub dataset: DatasetKind,
    /// How the state_dict was found inside the file (a checkpoint's key, wrapper prefixes
    /// removed); absent for a plain state_dict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unwrapped: Vec<String>,
    pub versions: Versions,
}

/// The one status an imported run has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Imported {
    Imported,
}

/// The file a model was imported from, as it was when read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceFile {
    /// Its file name, as `import` was given it.
    pub name: String,
    /// Its absolute path then.
    pub path: std::path::PathBuf,
    /// `torch-zip`, `torch-pickle` or `safetensors`.
    pub format: String,
    pub bytes: u64,
    /// As `sha256sum` prints it.
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Versions {
    pub mnist_trainer: String,
    pub burn: String,
}

impl Versions {
    pub fn current() -> Self {
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
