//! A PyTorch `state_dict` read into this program's model, in steps: say which of the three file
//! formats it is, read its tensors with burn-store (`PytorchStore` for `torch.save`'s zip and
//! legacy pickle formats, `SafetensorsStore` for safetensors), infer the network from names and
//! shapes (`layout.rs`), check every value and make it f32, then apply it with burn-store's
//! `PyTorchToBurnAdapter`, which transposes Linear weights to Burn's `[in, out]`.
//!
//! Everything that can be wrong with a file is found before the tensors are applied: burn-store
//! aborts the process (it does not unwind) when applying panics.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn_store::burn_pack::Tensor as PackTensor;
use burn_store::{
    ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore, bridge,
};

use crate::fs::bounded_read::read_at_most;
use crate::model::memory::{MemoryError, available_bytes, ensure_fits, loading_bytes};
use crate::model::{ActivationKind, Model, ModelConfig, Normalization};
use crate::pytorch::layout::{Layout, LayoutError, PytorchModule, TensorInfo, infer_layout};
use crate::pytorch::wrappers::unwrap_state_dict;

/// How a file holding a state_dict was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum FileFormat {
    /// `torch.save`, PyTorch 1.6 and later: a zip archive.
    TorchZip,
    /// `torch.save(..., _use_new_zipfile_serialization=False)`: a bare pickle.
    TorchPickle,
    /// A safetensors file (Hugging Face's format; also what `export` writes).
    Safetensors,
}

impl fmt::Display for FileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileFormat::TorchZip => "torch.save zip",
            FileFormat::TorchPickle => "torch.save pickle",
            FileFormat::Safetensors => "safetensors",
        })
    }
}

impl FileFormat {
    /// The format a file's first bytes announce, if any: a zip's local header, a pickle's
    /// protocol opcode, or safetensors' header length followed by its JSON header.
    fn sniff(head: &[u8], file_len: u64) -> Option<Self> {
        if head.starts_with(b"PK\x03\x04") {
            return Some(FileFormat::TorchZip);
        }
        if head.first() == Some(&0x80) {
            return Some(FileFormat::TorchPickle);
        }
        let header_len = u64::from_le_bytes(head.get(..8)?.try_into().ok()?);
        let fits = header_len.checked_add(8).is_some_and(|end| end <= file_len);
        (fits && head.get(8) == Some(&b'{')).then_some(FileFormat::Safetensors)
    }
}

/// Why [`import`] could not make a model of a file; each names the file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ImportError {
    /// The file cannot be opened or its first bytes read.
    #[error("{}: cannot read: {cause}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        cause: std::io::Error,
    },
    /// The first bytes are none of the three formats (see [`FileFormat`]).
    #[error(
        "{}: not a PyTorch file (neither torch.save's zip or pickle format nor safetensors)",
        path.display()
    )]
    NotPytorch {
        /// The file.
        path: PathBuf,
    },
    /// A legacy pickle of a whole `nn.Module` (it names `torch.nn.modules.` classes).
    #[error(
        "{}: a whole module saved with torch.save(model) in the legacy (non-zip) format, which only PyTorch can rebuild; in Python re-save its weights with torch.save(model.state_dict(), \"model.pt\") and import that",
        path.display()
    )]
    LegacyWholeModule {
        /// The file.
        path: PathBuf,
    },
    /// A TorchScript archive (`torch.jit.save`, `torch.jit.script(model).save`): a program for
    /// PyTorch's interpreter with its parameters, not a state_dict.
    #[error(
        "{}: a TorchScript archive (torch.jit.save), which only PyTorch can run; in Python save its weights with torch.save(torch.jit.load(\"{}\").state_dict(), \"weights.pt\") and import weights.pt",
        path.display(),
        path.file_name().unwrap_or_default().to_string_lossy()
    )]
    TorchScript {
        /// The file.
        path: PathBuf,
    },
    /// burn-store could not read the file's tensors (or one tensor's data), or panicked
    /// trying.
    #[error("{}: not a readable {format} file: {reason}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The format its first bytes announced.
        format: FileFormat,
        /// burn-store's message (or the panic's first line), on one line.
        reason: String,
    },
    /// The names and shapes are not a network import reads.
    #[error("{}: {problem}", path.display())]
    Layout {
        /// The file.
        path: PathBuf,
        /// What is wrong with them.
        problem: LayoutError,
    },
    /// `--activation` other than ReLU for `Net`, whose activation is fixed.
    #[error("{}: holds examples/mnist's Net, which uses relu; --activation {activation} is for networks of Linear layers only", path.display())]
    NetActivation {
        /// The file.
        path: PathBuf,
        /// The activation asked for.
        activation: ActivationKind,
    },
    /// A weight or bias holds NaN or infinity.
    #[error("{}: {tensor} holds {what} (first at index {index:?}); a network with it cannot predict", path.display())]
    NotFinite {
        /// The file.
        path: PathBuf,
        /// The tensor's state_dict key.
        tensor: String,
        /// `NaN` or `infinity`.
        what: &'static str,
        /// The first such value's index, one entry per dimension (as PyTorch indexes it).
        index: Vec<usize>,
    },
    /// The model would not fit in the memory available (or its size overflows 64 bits).
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// burn-store's apply reported errors, missing or unused tensors.
    #[error("{}: cannot load into the model: {reason}", path.display())]
    Apply {
        /// The file.
        path: PathBuf,
        /// burn-store's apply result, on one line.
        reason: String,
    },
}

/// A model read from a PyTorch file, with what it was read as.
pub(crate) struct Imported {
    /// The network with the file's weights and biases.
    pub model: Model,
    /// Its configuration: the hidden widths the file implies, the activation asked for.
    pub config: ModelConfig,
    /// The network as the file names it.
    pub layout: Layout,
    /// The format the file was read as.
    pub format: FileFormat,
    /// How the state_dict was found inside the file (a checkpoint's key, wrapper prefixes
    /// removed), one phrase per step; empty for a plain state_dict.
    pub unwrapped: Vec<String>,
}

/// Reads the state_dict in `path` into a model on `device`, with `activation` between an MLP's
/// layers (a state_dict does not say which; `Net`'s is ReLU). Linear weights are transposed
/// from PyTorch's `[out, in]` to Burn's `[in, out]` (convolutions keep PyTorch's layout) and
/// every value converted to f32.
///
/// # Errors
/// [`ImportError`]: the file cannot be read, is no PyTorch file, holds no network import
/// reads, holds NaN or infinity, needs more memory than is available, or does not apply.
/// burn-store aborts the process when applying panics, so all of this is checked first.
pub(crate) fn import(
    path: &Path,
    activation: ActivationKind,
    device: &Device,
) -> Result<Imported, ImportError> {
    let format = sniff_file(path)?;
    if format == FileFormat::TorchZip && holds_torchscript_code(path) {
        return Err(ImportError::TorchScript {
            path: path.to_path_buf(),
        });
    }
    let (mut tensors, mut unwrapped) = unwrap_state_dict(read_tensors(path, format)?);
    // Each tensor carries its own name too: the one the rest of the import reads.
    for (name, tensor) in &mut tensors {
        tensor.name.clone_from(name);
    }
    let infos: Vec<TensorInfo> = tensors.values().map(tensor_info).collect();
    let layout = infer_layout(&infos).map_err(|problem| ImportError::Layout {
        path: path.to_path_buf(),
        problem,
    })?;
    let config = model_config(path, &layout, activation, &infos, &mut unwrapped)?;
    let origin = path.display().to_string();
    ensure_fits(
        &origin,
        &config,
        loading_bytes(&config),
        "import",
        available_bytes(),
    )?;
    let burn_tensors = to_burn_tensors(path, format, &layout, tensors)?;
    let mut model = config.init(device);
    let result = model.apply(
        burn_tensors,
        None,
        Some(Box::new(PyTorchToBurnAdapter)),
        false,
    );
    if !result.is_success() || !result.unused.is_empty() {
        return Err(ImportError::Apply {
            path: path.to_path_buf(),
            reason: one_line(&result.to_string()),
        });
    }
    Ok(Imported {
        model,
        config,
        layout,
        format,
        unwrapped,
    })
}

/// The model config of the network `layout` describes, with `activation` between an MLP's
/// layers and the normalisation `export` recorded beside the file, if any (said in
/// `unwrapped`).
///
/// # Errors
/// [`ImportError::NetActivation`]: an activation other than ReLU for `Net`.
fn model_config(
    path: &Path,
    layout: &Layout,
    activation: ActivationKind,
    tensors: &[TensorInfo],
    unwrapped: &mut Vec<String>,
) -> Result<ModelConfig, ImportError> {
    if layout.module == PytorchModule::Net && activation != ActivationKind::Relu {
        return Err(ImportError::NetActivation {
            path: path.to_path_buf(),
            activation,
        });
    }
    let mut config = layout.model_config(activation);
    if let Some(Exported {
        json,
        input_normalization,
        temperature,
    }) = exported_record(path, tensors)
    {
        let said = match &input_normalization {
            Some(n) => format!("(x - {}) / {}", n.mean, n.std),
            None => "none".to_string(),
        };
        unwrapped.push(format!(
            "the input normalisation, {said}, from {} (export wrote it beside the weights)",
            json.display()
        ));
        // The weights may have been changed in PyTorch since: a calibration is only ever
        // fitted here, for the weights it reads.
        if temperature.is_some() {
            unwrapped.push(
                "not its calibration, fitted for the exporting run's weights: the imported run answers uncalibrated, without \"not a digit\", until calibrate --data-dir fits it on labelled pictures".to_string(),
            );
        }
        config.input_normalization = input_normalization;
    }
    Ok(config)
}

/// What `export` recorded in the architecture JSON beside a safetensors file that `import`
/// uses or names.
#[derive(serde::Deserialize)]
struct Exported {
    /// The JSON's path (not in the file).
    #[serde(skip)]
    json: PathBuf,
    input_normalization: Option<Normalization>,
    /// A calibrated run's temperature: present when the exporting run was calibrated.
    temperature: Option<f64>,
}

/// The largest architecture JSON read: `export` writes about 3 KB; one made a link to
/// `/dev/zero` must not fill the memory.
const MAX_EXPORTED_JSON_BYTES: u64 = 1 << 20;

/// What `export` recorded in the architecture JSON beside a safetensors file
/// (`model.safetensors` → `model.json`), when the JSON names exactly the file's tensors and a
/// valid normalisation; a state_dict does not hold it. `None` for anything else (no such file,
/// another JSON, one over [`MAX_EXPORTED_JSON_BYTES`]).
fn exported_record(path: &Path, tensors: &[TensorInfo]) -> Option<Exported> {
    #[derive(serde::Deserialize)]
    struct Recorded {
        keys: Vec<String>,
        #[serde(flatten)]
        exported: Exported,
    }
    let json = crate::pytorch::export::architecture_path(path);
    if json == path {
        return None;
    }
    let bytes = read_at_most(&json, MAX_EXPORTED_JSON_BYTES, "too large").ok()?;
    let recorded: Recorded = serde_json::from_slice(&bytes).ok()?;
    let mut keys = recorded.keys;
    let mut names: Vec<String> = tensors.iter().map(|t| t.name.clone()).collect();
    keys.sort();
    names.sort();
    let valid = (recorded.exported.input_normalization.as_ref())
        .is_none_or(|n| n.mean.is_finite() && n.std.is_finite() && n.std > 0.0);
    (valid && keys == names).then_some(Exported {
        json,
        ..recorded.exported
    })
}

/// The format of the file at `path`, from its first 16 bytes and its length.
fn sniff_file(path: &Path) -> Result<FileFormat, ImportError> {
    let read_error = |source| ImportError::Read {
        path: path.to_path_buf(),
        cause: source,
    };
    let mut file = std::fs::File::open(path).map_err(read_error)?;
    let file_len = file.metadata().map_err(read_error)?.len();
    let mut head = Vec::with_capacity(16);
    file.by_ref()
        .take(16)
        .read_to_end(&mut head)
        .map_err(read_error)?;
    FileFormat::sniff(&head, file_len).ok_or_else(|| ImportError::NotPytorch {
        path: path.to_path_buf(),
    })
}

/// Every tensor of the file by name, its bytes not read yet. The readers parse untrusted
/// bytes; a panic in one is an unreadable file like any other.
fn read_tensors(
    path: &Path,
    format: FileFormat,
) -> Result<BTreeMap<String, PackTensor>, ImportError> {
    let read = || -> Result<BTreeMap<String, PackTensor>, String> {
        match format {
            FileFormat::Safetensors => SafetensorsStore::from_file(path)
                .get_all_tensors()
                .cloned()
                .map_err(|error| error.to_string()),
            // burn-store renumbers nn.Sequential's `0, 2, 4` to `0, 1, 2` by default; the
            // file's own names are what layout reads and what messages must name.
            FileFormat::TorchZip | FileFormat::TorchPickle => PytorchStore::from_file(path)
                .map_indices_contiguous(false)
                .get_all_tensors()
                .cloned()
                .map_err(|error| error.to_string()),
        }
    };
    crate::process::panics::catch_quietly(read)
        .and_then(|outcome| outcome)
        .map_err(|reason| {
            if format == FileFormat::TorchPickle && pickles_a_module(path) {
                return ImportError::LegacyWholeModule {
                    path: path.to_path_buf(),
                };
            }
            ImportError::Unreadable {
                path: path.to_path_buf(),
                format,
                reason: one_line(&reason),
            }
        })
}

/// Whether a torch zip archive holds TorchScript code: `torch.jit.save` writes the module's
/// compiled Python under `<archive>/code/__torch__/`, which torch.save never does. Zip stores
/// entry names as they are, so the name is in the file's bytes.
fn holds_torchscript_code(path: &Path) -> bool {
    const CODE: &[u8] = b"/code/__torch__";
    std::fs::read(path).is_ok_and(|bytes| bytes.windows(CODE.len()).any(|window| window == CODE))
}

/// Whether a pickle names one of `torch.nn`'s module classes, as `torch.save(model)` of a whole
/// module does (a state_dict pickles only tensors and an OrderedDict).
fn pickles_a_module(path: &Path) -> bool {
    const MODULE_CLASS: &[u8] = b"torch.nn.modules.";
    std::fs::read(path).is_ok_and(|bytes| {
        bytes
            .windows(MODULE_CLASS.len())
            .any(|window| window == MODULE_CLASS)
    })
}

/// A tensor's name, shape and dtype, for [`infer_layout`], without reading its data.
fn tensor_info(tensor: &PackTensor) -> TensorInfo {
    TensorInfo {
        name: tensor.name.clone(),
        shape: tensor.shape.iter().copied().collect(),
        is_float: tensor.dtype.is_float(),
        dtype: format!("{:?}", tensor.dtype),
    }
}

/// The layout's tensors as f32 under Burn's names (`fc1.weight` → `hidden.0.weight`), each
/// read and checked for NaN and infinity.
fn to_burn_tensors(
    path: &Path,
    format: FileFormat,
    layout: &Layout,
    mut tensors: BTreeMap<String, PackTensor>,
) -> Result<Vec<PackTensor>, ImportError> {
    let paths = layout.module_paths();
    let mut converted = Vec::with_capacity(2 * paths.len());
    for (pytorch, burn) in paths {
        for kind in ["weight", "bias"] {
            let name = format!("{pytorch}.{kind}");
            let tensor = tensors
                .remove(&name)
                .expect("the layout names only tensors of the file");
            let data = bridge::into_data(tensor)
                .map_err(|error| ImportError::Unreadable {
                    path: path.to_path_buf(),
                    format,
                    reason: format!("{name}: {}", one_line(&error.to_string())),
                })?
                .convert::<f32>();
            check_finite(path, &name, &data)?;
            let burn_name = format!("{burn}.{kind}");
            converted.push(bridge::from_data(data, burn_name, None));
        }
    }
    Ok(converted)
}

/// Errors with [`ImportError::NotFinite`] at the first NaN or infinity in `data` (f32).
fn check_finite(path: &Path, name: &str, data: &TensorData) -> Result<(), ImportError> {
    let values = data.as_slice::<f32>().expect("converted to f32");
    let Some(flat) = values.iter().position(|value| !value.is_finite()) else {
        return Ok(());
    };
    let shape = data.shape();
    // The flat position as an index per dimension, as PyTorch would print it.
    let mut index = vec![0; shape.len()];
    let mut rest = flat;
    for (slot, &size) in index.iter_mut().zip(shape.iter()).rev() {
        *slot = rest % size;
        rest /= size;
    }
    Err(ImportError::NotFinite {
        path: path.to_path_buf(),
        tensor: name.to_string(),
        what: if values[flat].is_nan() {
            "NaN"
        } else {
            "infinity"
        },
        index,
    })
}

/// `text` with every run of whitespace (newlines included) made one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_apart_by_their_first_bytes() {
        assert_eq!(
            FileFormat::sniff(b"PK\x03\x04rest", 100),
            Some(FileFormat::TorchZip)
        );
        assert_eq!(
            FileFormat::sniff(b"\x80\x02\x8a\x0a", 100),
            Some(FileFormat::TorchPickle)
        );
        let mut safetensors = 40u64.to_le_bytes().to_vec();
        safetensors.extend(b"{\"a\":");
        assert_eq!(
            FileFormat::sniff(&safetensors, 48),
            Some(FileFormat::Safetensors)
        );
        // A header longer than the file is not safetensors.
        assert_eq!(FileFormat::sniff(&safetensors, 47), None);
        assert_eq!(FileFormat::sniff(b"hello, world", 12), None);
        assert_eq!(FileFormat::sniff(b"", 0), None);
    }
}
