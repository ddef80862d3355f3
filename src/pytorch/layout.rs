//! Which network a PyTorch `state_dict` holds, from its tensor names and shapes alone: the
//! tutorial's `SimpleNN` (`fc1`, `fc2`) or an `nn.Sequential` of Linear layers (`0`, `2`, ...),
//! with the layer widths its weights imply, or PyTorch `examples/mnist`'s `Net` (`conv1`,
//! `conv2`, `fc1`, `fc2`, of its exact shapes). Anything else is refused, naming what is wrong.

use std::collections::BTreeMap;

use crate::data::{IMAGE_PIXELS, NUM_CLASSES};
use crate::model::{ActivationKind, ModelConfig, ModelKind, cnn};

/// What the importer knows of a tensor before reading its values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TensorInfo {
    /// Its state_dict key (`fc1.weight`), wrappers already removed.
    pub name: String,
    /// Its shape as the file declares it (`[out, in]` for a Linear weight).
    pub shape: Vec<usize>,
    /// Whether its dtype is floating point (Burn's `DType::is_float`).
    pub is_float: bool,
    /// The dtype as the file declares it, for messages.
    pub dtype: String,
}

/// The PyTorch module a state_dict loads into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PytorchModule {
    /// The tutorial's class: `fc1`, `fc2`.
    SimpleNN,
    /// `nn.Sequential` of Linear layers and activations: Linear layers at `0`, `2`, `4`, ...
    Sequential,
    /// PyTorch `examples/mnist`'s CNN: `conv1`, `conv2`, `fc1`, `fc2`.
    Net,
}

impl PytorchModule {
    /// The module's name in PyTorch: `SimpleNN` or `nn.Sequential`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            PytorchModule::SimpleNN => "SimpleNN",
            PytorchModule::Sequential => "nn.Sequential",
            PytorchModule::Net => "Net",
        }
    }
}

/// `Net`'s tensors, in its `state_dict`'s order, with their shapes (`main.py` of PyTorch's
/// `examples/mnist`).
const NET: [(&str, &[usize]); 8] = [
    ("conv1.weight", &[32, 1, 3, 3]),
    ("conv1.bias", &[32]),
    ("conv2.weight", &[64, 32, 3, 3]),
    ("conv2.bias", &[64]),
    ("fc1.weight", &[128, cnn::FEATURES]),
    ("fc1.bias", &[128]),
    ("fc2.weight", &[NUM_CLASSES, 128]),
    ("fc2.bias", &[NUM_CLASSES]),
];

/// `Net`'s convolutions with their paths in this program's model.
pub(crate) const NET_CONVOLUTIONS: [(&str, &str); 2] =
    [("conv1", "features.conv1"), ("conv2", "features.conv2")];

/// One Linear layer: its name in the state_dict (`fc1`, `0`) and its widths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LinearLayer {
    /// The key prefix of its tensors: `fc1` in `fc1.weight`.
    pub name: String,
    /// Its input width (the weight's second dimension).
    pub inputs: usize,
    /// Its output width (the weight's first dimension, the bias's length).
    pub outputs: usize,
}

/// The network a state_dict holds: its module and Linear layers, widths checked to chain from
/// 784 pixels to 10 classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Which PyTorch module the names are of.
    pub module: PytorchModule,
    /// Input side first.
    pub layers: Vec<LinearLayer>,
}

impl Layout {
    /// Widths of the hidden layers (each layer's outputs but the last's).
    pub(crate) fn hidden_sizes(&self) -> Vec<usize> {
        let all: Vec<usize> = self.layers.iter().map(|layer| layer.outputs).collect();
        all[..all.len() - 1].to_vec()
    }

    /// The model config of the network: its kind and hidden widths, with `activation` between
    /// an MLP's layers (a state_dict does not say which; `Net`'s is ReLU). `Net` gets the
    /// normalisation `examples/mnist` trains it with (MNIST's mean and std), which its
    /// state_dict does not hold either.
    pub(crate) fn model_config(&self, activation: ActivationKind) -> ModelConfig {
        let config = ModelConfig::new().with_hidden_sizes(self.hidden_sizes());
        match self.module {
            PytorchModule::Net => config.with_kind(ModelKind::Cnn).completed(),
            PytorchModule::SimpleNN | PytorchModule::Sequential => {
                config.with_activation(activation)
            }
        }
    }

    /// Each layer's name in the state_dict (`fc1`) with its module path in this program's
    /// model (`hidden.0`), input side first.
    pub(crate) fn module_paths(&self) -> Vec<(String, String)> {
        let convolutions = match self.module {
            PytorchModule::Net => &NET_CONVOLUTIONS[..],
            PytorchModule::SimpleNN | PytorchModule::Sequential => &[],
        };
        let count = self.layers.len();
        let linears = self
            .layers
            .iter()
            .enumerate()
            .map(|(index, layer)| (layer.name.clone(), super::burn_layer_path(index, count)));
        convolutions
            .iter()
            .map(|&(pytorch, burn)| (pytorch.to_string(), burn.to_string()))
            .chain(linears)
            .collect()
    }
}

/// What import accepts, appended to the errors about names.
const EXPECTED: &str = "import reads the tutorial's SimpleNN (fc1, fc2), an nn.Sequential of Linear layers (0, 2, ...) or examples/mnist's Net (conv1, conv2, fc1, fc2)";

/// Why a state_dict's names and shapes are not a network import can read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum LayoutError {
    /// The file holds no tensors.
    #[error("holds no tensors; {EXPECTED}")]
    Empty,
    /// A batch-normalisation layer's tensors (its running statistics give it away).
    #[error(
        "{layer} is a batch-normalisation layer ({layer}.running_mean, {layer}.running_var, {layer}.num_batches_tracked), which none of these networks has; {EXPECTED}"
    )]
    BatchNorm {
        /// The layer's name in the state_dict.
        layer: String,
    },
    /// A tensor is not floating point.
    #[error("{name} is {dtype}; a network's weights are floating point")]
    NotFloat {
        /// The tensor's key.
        name: String,
        /// Its dtype as the file declares it.
        dtype: String,
    },
    /// A `.weight` of 3 to 5 dimensions outside `Net`: a convolution's.
    #[error("{name} has shape {shape:?}: a convolution's weight, not a Linear layer's; {EXPECTED}")]
    Convolution {
        /// The weight's key.
        name: String,
        /// Its shape.
        shape: Vec<usize>,
    },
    /// Keys that are not a weight or bias of the module's Linear layers.
    #[error("unexpected tensor{} {}; {EXPECTED}{}", plural(names.len()), names.join(", "), under_hint(names))]
    Unexpected {
        /// Every such key, in the file's order.
        names: Vec<String>,
    },
    /// A tensor of `Net` with another shape than `Net`'s.
    #[error("{name} has shape {shape:?}; examples/mnist's Net has {expected:?} there")]
    NetShape {
        /// The tensor's key.
        name: String,
        /// Its shape.
        shape: Vec<usize>,
        /// `Net`'s.
        expected: &'static [usize],
    },
    /// A layer's weight or bias is absent.
    #[error("{name} is missing (each layer has a weight and a bias)")]
    Missing {
        /// The absent key.
        name: String,
    },
    /// A weight that is not `[outputs, inputs]` with both non-zero.
    #[error("{name} has shape {shape:?}; a Linear weight is [outputs, inputs]")]
    WeightShape {
        /// The weight's key.
        name: String,
        /// Its shape.
        shape: Vec<usize>,
    },
    /// A bias that is not `[outputs]` of its weight.
    #[error(
        "{name} has shape {shape:?}; its layer has {outputs} outputs, so [{outputs}] was expected"
    )]
    BiasShape {
        /// The bias's key.
        name: String,
        /// Its shape.
        shape: Vec<usize>,
        /// Its layer's outputs (the weight's first dimension).
        outputs: usize,
    },
    /// The first layer does not take 784 pixels.
    #[error("{first}.weight takes {inputs} inputs; a 28x28 image has {IMAGE_PIXELS}")]
    Input {
        /// The first layer's name.
        first: String,
        /// Its input width.
        inputs: usize,
    },
    /// The last layer does not give one value per class (10).
    #[error("{last}.weight gives {outputs} outputs; the dataset has {NUM_CLASSES} classes")]
    Output {
        /// The last layer's name.
        last: String,
        /// Its output width.
        outputs: usize,
    },
    /// A layer's inputs differ from the previous layer's outputs.
    #[error("{layer}.weight takes {inputs} inputs but {previous} gives {outputs}")]
    Chain {
        /// The previous layer's name.
        previous: String,
        /// Its output width.
        outputs: usize,
        /// The layer that does not fit.
        layer: String,
        /// Its input width.
        inputs: usize,
    },
}

/// When every name sits under one prefix (`model.fc1.weight`), the file is probably a training
/// checkpoint holding the state_dict as one of its entries.
fn under_hint(names: &[String]) -> String {
    // `model.0.weight` is a layer's tensor under `model.`; `fc3.weight` is a layer of its own
    // (LeNet's third Linear), not a wrapper around one.
    let wrapped = |name: &String| name.split('.').count() >= 3;
    if !names.iter().all(wrapped) {
        return String::new();
    }
    let first = |name: &String| name.split_once('.').map(|(head, _)| head.to_string());
    let heads: Vec<Option<String>> = names.iter().map(first).collect();
    match heads.first() {
        Some(Some(head)) if heads.len() > 1 && heads.iter().all(|h| h.as_ref() == Some(head)) => {
            format!(
                " (all under `{head}.`: a checkpoint? torch.save its model's state_dict() alone)"
            )
        }
        _ => String::new(),
    }
}

/// The plural ending for `count` things: `s` unless one.
fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// The network `tensors` describe, or the first thing that keeps them from being one.
///
/// # Errors
/// A [`LayoutError`]: no tensors, a non-float or convolution tensor, names of neither module,
/// a missing or misshapen weight or bias, or widths that do not chain from 784 to 10.
pub(crate) fn infer_layout(tensors: &[TensorInfo]) -> Result<Layout, LayoutError> {
    if tensors.is_empty() {
        return Err(LayoutError::Empty);
    }
    // Named before its integer `num_batches_tracked` would be refused as a weight.
    let statistics = [".running_mean", ".running_var", ".num_batches_tracked"];
    let batch_norm = tensors.iter().find_map(|tensor| {
        statistics
            .iter()
            .find_map(|suffix| tensor.name.strip_suffix(suffix))
    });
    if let Some(layer) = batch_norm {
        return Err(LayoutError::BatchNorm {
            layer: layer.to_string(),
        });
    }
    for tensor in tensors {
        if !tensor.is_float {
            return Err(LayoutError::NotFloat {
                name: tensor.name.clone(),
                dtype: tensor.dtype.clone(),
            });
        }
    }
    let by_name: BTreeMap<&str, &TensorInfo> =
        tensors.iter().map(|t| (t.name.as_str(), t)).collect();
    let is_net = |name: &str| name.starts_with("conv1.") || name.starts_with("conv2.");
    if tensors.iter().any(|tensor| is_net(&tensor.name)) {
        return net_layout(tensors, &by_name);
    }
    for tensor in tensors {
        if tensor.name.ends_with(".weight") && matches!(tensor.shape.len(), 3..=5) {
            return Err(LayoutError::Convolution {
                name: tensor.name.clone(),
                shape: tensor.shape.clone(),
            });
        }
    }
    let (module, names) = layer_names(tensors)?;
    let layers = names
        .iter()
        .map(|name| linear_layer(name, &by_name))
        .collect::<Result<Vec<_>, _>>()?;
    check_widths(&layers)?;
    Ok(Layout { module, layers })
}

/// `Net`'s layout, when `tensors` are exactly its eight of its shapes.
fn net_layout(
    tensors: &[TensorInfo],
    by_name: &BTreeMap<&str, &TensorInfo>,
) -> Result<Layout, LayoutError> {
    let unexpected: Vec<String> = tensors
        .iter()
        .filter(|tensor| !NET.iter().any(|(name, _)| *name == tensor.name))
        .map(|tensor| tensor.name.clone())
        .collect();
    if !unexpected.is_empty() {
        return Err(LayoutError::Unexpected { names: unexpected });
    }
    for (name, expected) in NET {
        let tensor = by_name.get(name).ok_or_else(|| LayoutError::Missing {
            name: name.to_string(),
        })?;
        if tensor.shape != expected {
            return Err(LayoutError::NetShape {
                name: name.to_string(),
                shape: tensor.shape.clone(),
                expected,
            });
        }
    }
    let linear = |name: &str, inputs, outputs| LinearLayer {
        name: name.to_string(),
        inputs,
        outputs,
    };
    Ok(Layout {
        module: PytorchModule::Net,
        layers: vec![
            linear("fc1", cnn::FEATURES, 128),
            linear("fc2", 128, NUM_CLASSES),
        ],
    })
}

/// Which module the names are of, and its Linear layers in order; refuses names of neither.
fn layer_names(tensors: &[TensorInfo]) -> Result<(PytorchModule, Vec<String>), LayoutError> {
    let split = |name: &str| -> Option<(String, String)> {
        let (layer, kind) = name.rsplit_once('.')?;
        Some((layer.to_string(), kind.to_string()))
    };
    let parts: Vec<Option<(String, String)>> = tensors.iter().map(|t| split(&t.name)).collect();
    let is_simple_nn = |layer: &str| layer == "fc1" || layer == "fc2";
    let is_index = |layer: &str| !layer.is_empty() && layer.bytes().all(|b| b.is_ascii_digit());
    let simple_nn = parts.iter().flatten().any(|(layer, _)| is_simple_nn(layer));
    let (module, belongs): (PytorchModule, &dyn Fn(&str) -> bool) = if simple_nn {
        (PytorchModule::SimpleNN, &is_simple_nn)
    } else {
        (PytorchModule::Sequential, &is_index)
    };
    let unexpected: Vec<String> = tensors
        .iter()
        .zip(&parts)
        .filter(|(_, part)| {
            !part
                .as_ref()
                .is_some_and(|(layer, kind)| belongs(layer) && (kind == "weight" || kind == "bias"))
        })
        .map(|(tensor, _)| tensor.name.clone())
        .collect();
    if !unexpected.is_empty() {
        return Err(LayoutError::Unexpected { names: unexpected });
    }
    let layers = if simple_nn {
        vec!["fc1".to_string(), "fc2".to_string()]
    } else {
        let mut indices: Vec<String> = parts.into_iter().flatten().map(|(l, _)| l).collect();
        // By number: 10 after 8.
        indices.sort_by(|a, b| (a.len(), a).cmp(&(b.len(), b)));
        indices.dedup();
        indices
    };
    Ok((module, layers))
}

/// The widths of the layer `name`, from its weight's and bias's shapes.
fn linear_layer(
    name: &str,
    by_name: &BTreeMap<&str, &TensorInfo>,
) -> Result<LinearLayer, LayoutError> {
    let get = |kind: &str| {
        let full = format!("{name}.{kind}");
        by_name
            .get(full.as_str())
            .copied()
            .ok_or(LayoutError::Missing { name: full })
    };
    let weight = get("weight")?;
    let bias = get("bias")?;
    let &[outputs, inputs] = weight.shape.as_slice() else {
        return Err(LayoutError::WeightShape {
            name: weight.name.clone(),
            shape: weight.shape.clone(),
        });
    };
    if outputs == 0 || inputs == 0 {
        return Err(LayoutError::WeightShape {
            name: weight.name.clone(),
            shape: weight.shape.clone(),
        });
    }
    if bias.shape != [outputs] {
        return Err(LayoutError::BiasShape {
            name: bias.name.clone(),
            shape: bias.shape.clone(),
            outputs,
        });
    }
    Ok(LinearLayer {
        name: name.to_string(),
        inputs,
        outputs,
    })
}

/// The first layer reads an image, each next one what the one before gives, the last gives one
/// value per class.
fn check_widths(layers: &[LinearLayer]) -> Result<(), LayoutError> {
    let (first, last) = (&layers[0], &layers[layers.len() - 1]);
    if first.inputs != IMAGE_PIXELS {
        return Err(LayoutError::Input {
            first: first.name.clone(),
            inputs: first.inputs,
        });
    }
    for pair in layers.windows(2) {
        if pair[1].inputs != pair[0].outputs {
            return Err(LayoutError::Chain {
                previous: pair[0].name.clone(),
                outputs: pair[0].outputs,
                layer: pair[1].name.clone(),
                inputs: pair[1].inputs,
            });
        }
    }
    if last.outputs != NUM_CLASSES {
        return Err(LayoutError::Output {
            last: last.name.clone(),
            outputs: last.outputs,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(name: &str, shape: &[usize]) -> TensorInfo {
        TensorInfo {
            name: name.to_string(),
            shape: shape.to_vec(),
            is_float: true,
            dtype: "F32".to_string(),
        }
    }

    fn linear(name: &str, inputs: usize, outputs: usize) -> [TensorInfo; 2] {
        [
            float(&format!("{name}.weight"), &[outputs, inputs]),
            float(&format!("{name}.bias"), &[outputs]),
        ]
    }

    fn tensors(layers: &[(&str, usize, usize)]) -> Vec<TensorInfo> {
        layers
            .iter()
            .flat_map(|&(name, inputs, outputs)| linear(name, inputs, outputs))
            .collect()
    }

    #[test]
    fn the_tutorials_state_dict_is_simple_nn_784_128_10() {
        // In the file's own order: fc2 may come first.
        let layout = infer_layout(&tensors(&[("fc2", 128, 10), ("fc1", 784, 128)])).unwrap();
        assert_eq!(layout.module, PytorchModule::SimpleNN);
        assert_eq!(layout.hidden_sizes(), vec![128]);
        assert_eq!(layout.layers[0].name, "fc1");
    }

    fn net() -> Vec<TensorInfo> {
        NET.iter().map(|(name, shape)| float(name, shape)).collect()
    }

    #[test]
    fn examples_mnist_net_is_the_cnn_with_its_paths() {
        let layout = infer_layout(&net()).unwrap();
        assert_eq!(layout.module, PytorchModule::Net);
        let config = layout.model_config(ActivationKind::Tanh);
        assert_eq!(
            config,
            ModelConfig::new().with_kind(ModelKind::Cnn).completed()
        );
        assert_eq!(
            config.parameter_count(),
            Some(1_199_882),
            "as PyTorch counts Net"
        );
        let paths: Vec<(String, String)> = layout.module_paths();
        let expected = [
            ("conv1", "features.conv1"),
            ("conv2", "features.conv2"),
            ("fc1", "hidden.0"),
            ("fc2", "output"),
        ];
        assert_eq!(paths, expected.map(|(a, b)| (a.to_string(), b.to_string())));
    }

    #[test]
    fn a_net_of_other_shapes_or_tensors_is_refused_naming_the_tensor() {
        let err = |tensors: Vec<TensorInfo>| infer_layout(&tensors).unwrap_err().to_string();
        let mut wide = net();
        wide[2] = float("conv2.weight", &[16, 32, 3, 3]);
        assert_eq!(
            err(wide),
            "conv2.weight has shape [16, 32, 3, 3]; examples/mnist's Net has [64, 32, 3, 3] there"
        );
        let mut missing = net();
        missing.remove(3);
        assert_eq!(
            err(missing),
            "conv2.bias is missing (each layer has a weight and a bias)"
        );
        let mut extra = net();
        extra.push(float("bn.weight", &[64]));
        assert!(err(extra).starts_with("unexpected tensor bn.weight;"));
    }

    #[test]
    fn sequential_layers_are_ordered_by_number_not_by_text() {
        let layers = [
            ("0", 784, 8),
            ("2", 8, 8),
            ("4", 8, 8),
            ("6", 8, 8),
            ("8", 8, 8),
            ("10", 8, 10),
        ];
        let layout = infer_layout(&tensors(&layers)).unwrap();
        assert_eq!(layout.module, PytorchModule::Sequential);
        assert_eq!(layout.hidden_sizes(), vec![8; 5]);
        assert_eq!(layout.layers.last().unwrap().name, "10");
        let single = infer_layout(&tensors(&[("0", 784, 10)])).unwrap();
        assert!(single.hidden_sizes().is_empty());
    }

    #[test]
    fn each_kind_of_wrong_state_dict_is_named() {
        let err = |tensors: Vec<TensorInfo>| infer_layout(&tensors).unwrap_err().to_string();
        assert!(err(vec![]).starts_with("holds no tensors"));

        let mut cnn = vec![
            float("features.0.weight", &[32, 1, 3, 3]),
            float("features.0.bias", &[32]),
        ];
        cnn.extend(linear("fc1", 5408, 10));
        assert!(err(cnn).starts_with("features.0.weight has shape [32, 1, 3, 3]: a convolution"));

        let mut extra = tensors(&[("fc1", 784, 128), ("fc2", 128, 10)]);
        extra.push(float("fc3.weight", &[10, 10]));
        assert!(err(extra).starts_with("unexpected tensor fc3.weight;"));

        let mut norm = tensors(&[("0", 784, 16), ("2", 16, 10)]);
        norm.push(float("1.running_mean", &[16]));
        assert!(err(norm).starts_with("1 is a batch-normalisation layer"));

        let mut missing = tensors(&[("fc1", 784, 128)]);
        missing.push(float("fc2.weight", &[10, 128]));
        assert_eq!(
            err(missing),
            "fc2.bias is missing (each layer has a weight and a bias)"
        );

        let mut no_fc2 = tensors(&[("fc1", 784, 128)]);
        assert_eq!(
            err(no_fc2.clone()),
            "fc2.weight is missing (each layer has a weight and a bias)"
        );
        no_fc2[1] = float("fc1.bias", &[127]);
        assert!(err(no_fc2).starts_with("fc1.bias has shape [127]; its layer has 128 outputs"));

        assert_eq!(
            err(tensors(&[("fc1", 784, 128), ("fc2", 64, 10)])),
            "fc2.weight takes 64 inputs but fc1 gives 128"
        );
        assert_eq!(
            err(tensors(&[("fc1", 3072, 128), ("fc2", 128, 10)])),
            "fc1.weight takes 3072 inputs; a 28x28 image has 784"
        );
        assert_eq!(
            err(tensors(&[("0", 784, 128), ("2", 128, 100)])),
            "2.weight gives 100 outputs; the dataset has 10 classes"
        );
        let mut ints = tensors(&[("0", 784, 10)]);
        ints[0].is_float = false;
        ints[0].dtype = "I64".to_string();
        assert_eq!(
            err(ints),
            "0.weight is I64; a network's weights are floating point"
        );
        assert!(err(vec![float("weight", &[10, 784])]).starts_with("unexpected tensor weight;"));
        let mut batch_norm = tensors(&[("fc1", 784, 128), ("fc2", 128, 10)]);
        let mut tracked = float("bn1.num_batches_tracked", &[]);
        tracked.is_float = false;
        tracked.dtype = "I64".to_string();
        batch_norm.extend([
            float("bn1.weight", &[128]),
            float("bn1.bias", &[128]),
            tracked,
        ]);
        assert!(
            err(batch_norm).starts_with("bn1 is a batch-normalisation layer"),
            "the layer is named, not its integer counter"
        );
        let checkpoint = vec![
            float("model.0.weight", &[10, 784]),
            float("model.0.bias", &[10]),
        ];
        assert!(err(checkpoint).ends_with(
            "(all under `model.`: a checkpoint? torch.save its model's state_dict() alone)"
        ));
        // LeNet: examples/mnist's Net has no fc3; it is another network, not a checkpoint.
        let mut lenet: Vec<TensorInfo> =
            NET.iter().map(|(name, shape)| float(name, shape)).collect();
        lenet.extend(linear("fc3", 84, 10));
        let line = err(lenet);
        assert!(
            line.starts_with("unexpected tensors fc3.weight, fc3.bias;"),
            "{line}"
        );
        assert!(!line.contains("checkpoint"), "{line}");
    }
}
