//! A run's model as the PyTorch `state_dict` of the same network, in a safetensors file, with a
//! JSON file beside it saying which network that is.
//!
//! An MLP of one hidden layer is the tutorial's `SimpleNN` (`fc1`, `fc2`); any other depth is
//! an `nn.Sequential` of Linear layers with the activation between them (`0`, `2`, `4`, ...);
//! the CNN is `examples/mnist`'s `Net` (`conv1`, `conv2`, `fc1`, `fc2`). Burn keeps a Linear
//! weight as `[in, out]`, PyTorch as `[out, in]`: burn-store's `BurnToPyTorchAdapter`
//! transposes it. Convolution weights have the same layout in both.

use std::path::{Path, PathBuf};

use burn_store::{BurnToPyTorchAdapter, ModuleSnapshot, SafetensorsStore};
use serde::Serialize;

use crate::data::{DatasetKind, NUM_CLASSES};
use crate::fs::atomic_file;
use crate::model::predict::{Calibrated, silent_reading};
use crate::model::rejection;
use crate::model::{ActivationKind, Model, ModelConfig, ModelKind, Normalization};
use crate::pytorch::burn_layer_path;
use crate::pytorch::layout::NET_CONVOLUTIONS;

/// Why [`export`] (or the ONNX export) wrote nothing, or not everything.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExportError {
    /// The destination's folder does not exist (checked first: burn-store would name its
    /// scratch file instead).
    #[error("{}: its folder {} does not exist; create it first", path.display(), folder.display())]
    NoFolder {
        /// The weights file asked for.
        path: PathBuf,
        /// Its parent folder (`.` for a bare file name).
        folder: PathBuf,
    },
    /// Two destinations name one file (however spelled).
    #[error("{}: named twice in one export (also as {}); give each file its own name", path.display(), other.display())]
    SameFile {
        /// The later destination.
        path: PathBuf,
        /// The earlier one naming the same file.
        other: PathBuf,
    },
    /// A destination that is there but no regular file: a folder, a device, a pipe, a socket.
    /// Never replaced, even with `--overwrite` (renaming onto `/dev/null` would replace the
    /// device).
    #[error("{}: is {what}, not a file; name a file to write", path.display())]
    NotAFile {
        /// The destination.
        path: PathBuf,
        /// "a folder" or "a device, pipe or socket".
        what: &'static str,
    },
    /// A file to write is already there and `--overwrite` was not given.
    #[error("{}: already exists; pass --overwrite to replace it", path.display())]
    Exists {
        /// The file that exists.
        path: PathBuf,
    },
    /// Writing a file (or setting the weights' permissions) failed.
    #[error("{}: cannot write: {reason}", path.display())]
    Write {
        /// The file being written.
        path: PathBuf,
        /// burn-store's or the operating system's message.
        reason: String,
    },
}

/// The JSON written beside the weights: what PyTorch module they load into.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Architecture {
    /// `SimpleNN` (the tutorial's class), `nn.Sequential` or `Net` (the CNN).
    pub module: &'static str,
    /// Linear layer widths, input first: `[784, 128, 10]` (the CNN's: `[9216, 128, 10]`).
    pub widths: Vec<usize>,
    /// The activation between Linear layers (recorded even with no hidden layer).
    pub activation: ActivationKind,
    /// `(x - mean) / std` the model applies to pixels in [0, 1] before its first layer: in
    /// PyTorch, torchvision's `Normalize((mean,), (std,))` after `ToTensor`.
    pub input_normalization: Option<Normalization>,
    /// The `state_dict` keys in the file, in layer order.
    pub keys: Vec<String>,
    /// The module in PyTorch, to paste.
    pub pytorch: String,
    /// A calibrated run's temperature (`calibrate`): `softmax(model(x) / temperature)` gives
    /// the probabilities `infer` gives. Absent for a run not calibrated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// A calibrated run's threshold (`calibrate`): a picture whose top probability (at the
    /// temperature, after the map below when there is one) is below it is not a digit. Absent
    /// for a run not calibrated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_a_digit_below: Option<f32>,
    /// A calibrated run's steadiness bound (`calibrate`), on the same probabilities: a picture
    /// read below it whose class changes when its 28×28 input is turned or shrunk a little is
    /// not a digit either (`infer`'s second test, [`crate::model::steadiness`]). Absent for a
    /// run not calibrated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsure_below: Option<f32>,
    /// A calibrated run's reading of a picture it knows nothing of: the probabilities (as the
    /// run reads them) of the output layer's bias alone, which a picture gets when no unit of
    /// the last hidden layer responds (all 0 after the ReLU); such a picture is not a digit,
    /// whatever its top probability. Absent for a run not calibrated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silent_probabilities: Option<[f32; NUM_CLASSES]>,
    /// A calibrated run's probabilities and "not a digit" in words, as `infer` computes them
    /// from the module's output (the ONNX metadata says the same). Absent for a run not
    /// calibrated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reading: Option<String>,
    /// A calibrated run's top-probability map (`calibrate`), after the temperature: the
    /// largest probability p becomes `sigmoid(confidence_slope * ln(p / r) +
    /// confidence_offset)`, r the sum of the others (not 1 - p, which rounds to 0 near p = 1;
    /// at least 1e-30), the others scaled to sum to 1. Absent for a run without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence_slope: Option<f64>,
    /// See `confidence_slope`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence_offset: Option<f64>,
}

impl Architecture {
    /// The PyTorch module that holds a model of `config`: its class, layer widths, `state_dict`
    /// keys and a one-line definition.
    pub(crate) fn of(config: &ModelConfig) -> Self {
        let widths = config.linear_widths();
        let names = pytorch_names(config);
        let keys = names
            .iter()
            .flat_map(|(_, name)| [format!("{name}.weight"), format!("{name}.bias")])
            .collect();
        let (module_name, function) = match config.activation {
            ActivationKind::Relu => ("nn.ReLU()", "torch.relu"),
            ActivationKind::Sigmoid => ("nn.Sigmoid()", "torch.sigmoid"),
            ActivationKind::Tanh => ("nn.Tanh()", "torch.tanh"),
        };
        let linears: Vec<String> = widths
            .windows(2)
            .map(|pair| format!("nn.Linear({}, {})", pair[0], pair[1]))
            .collect();
        let (module, pytorch) = if config.kind == ModelKind::Cnn {
            (
                "Net",
                "class Net(nn.Module) of PyTorch examples/mnist: conv1 = nn.Conv2d(1, 32, 3, 1), conv2 = nn.Conv2d(32, 64, 3, 1), dropout1 = nn.Dropout(0.25), dropout2 = nn.Dropout(0.5), fc1 = nn.Linear(9216, 128), fc2 = nn.Linear(128, 10); forward(x) = fc2(dropout2(relu(fc1(flatten(dropout1(max_pool2d(relu(conv2(relu(conv1(x)))), 2)), 1)))))".to_string(),
            )
        } else if config.hidden_sizes.len() == 1 {
            (
                "SimpleNN",
                format!(
                    "class SimpleNN(nn.Module) with fc1 = {}, fc2 = {}; forward(x) = fc2({function}(fc1(x.flatten(1))))",
                    linears[0], linears[1]
                ),
            )
        } else {
            let layers = linears.join(&format!(", {module_name}, "));
            ("nn.Sequential", format!("nn.Sequential({layers})"))
        };
        Self {
            module,
            widths,
            activation: config.activation,
            input_normalization: config.input_normalization.clone(),
            keys,
            pytorch,
            temperature: None,
            not_a_digit_below: None,
            unsure_below: None,
            silent_probabilities: None,
            reading: None,
            confidence_slope: None,
            confidence_offset: None,
        }
    }
}

/// Each of the model's layers (Burn's module path) with its PyTorch name.
pub(crate) fn pytorch_names(config: &ModelConfig) -> Vec<(String, String)> {
    let convolutions = match config.kind {
        ModelKind::Cnn => &NET_CONVOLUTIONS[..],
        ModelKind::Mlp => &[],
    };
    let count = config.hidden_sizes.len() + 1;
    let convolutions = convolutions
        .iter()
        .map(|&(pytorch, burn)| (burn.to_string(), pytorch.to_string()));
    let linears = (0..count).map(|index| {
        let pytorch = if count == 2 {
            format!("fc{}", index + 1)
        } else {
            // nn.Sequential counts the activations too: Linear layers sit at 0, 2, 4, ...
            (2 * index).to_string()
        };
        (burn_layer_path(index, count), pytorch)
    });
    convolutions.chain(linears).collect()
}

/// Where the architecture JSON goes: beside the weights, `model.safetensors` → `model.json`.
pub(crate) fn architecture_path(weights: &Path) -> PathBuf {
    weights.with_extension("json")
}

/// Refuses, before anything is written, a destination of `paths` that names the same file as
/// another, that is there but no regular file (a folder, a device: never replaced), that
/// exists (unless `overwrite`), or whose folder does not (a writer would otherwise name its
/// scratch file in the error).
///
/// # Errors
/// [`ExportError::SameFile`], [`ExportError::NotAFile`], [`ExportError::Exists`] or
/// [`ExportError::NoFolder`] for the first such path.
pub(crate) fn check_destinations(paths: &[&Path], overwrite: bool) -> Result<(), ExportError> {
    let mut seen: Vec<(PathBuf, &Path)> = Vec::new();
    for path in paths {
        let key = resolved(path);
        if let Some((_, other)) = seen.iter().find(|(seen, _)| *seen == key) {
            return Err(ExportError::SameFile {
                path: path.to_path_buf(),
                other: other.to_path_buf(),
            });
        }
        seen.push((key, path));
        if let Ok(found) = std::fs::symlink_metadata(path) {
            let kind = found.file_type();
            if !(kind.is_file() || kind.is_symlink()) {
                return Err(ExportError::NotAFile {
                    path: path.to_path_buf(),
                    what: if kind.is_dir() {
                        "a folder"
                    } else {
                        "a device, pipe or socket"
                    },
                });
            }
            if !overwrite {
                return Err(ExportError::Exists {
                    path: path.to_path_buf(),
                });
            }
        }
        let folder = path
            .parent()
            .filter(|folder| !folder.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !folder.is_dir() {
            return Err(ExportError::NoFolder {
                path: path.to_path_buf(),
                folder: folder.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// `path` with its folder resolved (`./a`, `$PWD/a` and `a` are one file); as given when the
/// folder cannot be resolved (it is then refused as missing).
fn resolved(path: &Path) -> PathBuf {
    let folder = path
        .parent()
        .filter(|folder| !folder.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match (std::fs::canonicalize(folder), path.file_name()) {
        (Ok(folder), Some(name)) => folder.join(name),
        _ => path.to_path_buf(),
    }
}

/// How `infer` reads a calibrated run's module output `logits` (`threshold` its "not a
/// digit" threshold, `silent` its silent reading, `dataset` its classes), in words: the
/// temperature, the top-probability map, then [`rejection::rules`].
fn reading(
    calibrated: Calibrated,
    threshold: f32,
    silent: &[f32; NUM_CLASSES],
    dataset: DatasetKind,
) -> String {
    let map = calibrated.confidence.map_or(String::new(), |map| {
        format!(
            ", then the largest probability p becomes sigmoid({} * ln(p / r) + {}), r the sum of the others (at least 1e-30), the others scaled to sum to 1",
            map.slope, map.offset
        )
    });
    format!(
        "probabilities: softmax(logits / {}){map}; {}",
        calibrated.temperature.unwrap_or(1.0),
        rejection::rules(threshold, calibrated.unsure_below, silent, dataset)
    )
}

/// Writes `model` (of `config`, trained on `dataset`) to `destination` with PyTorch's names and
/// layouts, and the architecture beside it. Neither file is replaced unless `overwrite`; each is written whole
/// or not at all. Returns the architecture written.
///
/// # Errors
/// [`ExportError::Exists`] when either file exists and not `overwrite`,
/// [`ExportError::NoFolder`] when the destination's folder is missing, and
/// [`ExportError::Write`] when writing either file (or copying `model.json`'s permissions onto
/// the weights) fails; the weights may then be written without the JSON.
pub(crate) fn export(
    model: &Model,
    config: &ModelConfig,
    dataset: DatasetKind,
    calibrated: Calibrated,
    destination: &Path,
    overwrite: bool,
) -> Result<Architecture, ExportError> {
    let json_path = architecture_path(destination);
    check_destinations(&[destination, &json_path], overwrite)?;
    let silent = (calibrated.not_a_digit_below).map(|_| silent_reading(model, calibrated));
    let architecture = Architecture {
        temperature: calibrated.temperature,
        not_a_digit_below: calibrated.not_a_digit_below,
        unsure_below: calibrated
            .not_a_digit_below
            .map(|_| calibrated.unsure_below),
        silent_probabilities: silent,
        reading: (calibrated.not_a_digit_below)
            .zip(silent)
            .map(|(threshold, silent)| reading(calibrated, threshold, &silent, dataset)),
        confidence_slope: calibrated.confidence.map(|map| map.slope),
        confidence_offset: calibrated.confidence.map(|map| map.offset),
        ..Architecture::of(config)
    };
    let mut store = SafetensorsStore::from_file(destination)
        .with_to_adapter(BurnToPyTorchAdapter)
        .metadata("architecture", architecture.pytorch.clone())
        .overwrite(overwrite);
    for (burn, pytorch) in pytorch_names(config) {
        store = store.with_key_remapping(
            format!(r"^{}\.", burn.replace('.', r"\.")),
            format!("{pytorch}."),
        );
    }
    let write_error = |path: &Path, reason: String| ExportError::Write {
        path: path.to_path_buf(),
        reason,
    };
    model
        .save_into(&mut store)
        .map_err(|error| write_error(destination, error.to_string()))?;
    let json = serde_json::to_string_pretty(&architecture).expect("an architecture serializes");
    atomic_file::write(&json_path, json)
        .map_err(|error| write_error(&json_path, error.to_string()))?;
    // burn-store's scratch file is private (0600); give the weights the permissions every
    // other file this program writes gets, model.json's.
    std::fs::metadata(&json_path)
        .and_then(|written| std::fs::set_permissions(destination, written.permissions()))
        .map_err(|error| write_error(destination, error.to_string()))?;
    Ok(architecture)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tutorials_network_is_simple_nn_and_others_are_sequential() {
        let tutorial = Architecture::of(&ModelConfig::new());
        assert_eq!(tutorial.module, "SimpleNN");
        assert_eq!(
            tutorial.keys,
            ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
        );
        let deep = Architecture::of(
            &ModelConfig::new()
                .with_hidden_sizes(vec![256, 64])
                .with_activation(ActivationKind::Tanh),
        );
        assert_eq!(deep.module, "nn.Sequential");
        assert_eq!(deep.keys[4], "4.weight");
        assert_eq!(
            deep.pytorch,
            "nn.Sequential(nn.Linear(784, 256), nn.Tanh(), nn.Linear(256, 64), nn.Tanh(), nn.Linear(64, 10))"
        );
        let none = Architecture::of(&ModelConfig::new().with_hidden_sizes(vec![]));
        assert_eq!(none.keys, ["0.weight", "0.bias"]);
    }
}
