//! A run's model as an ONNX file, for onnxruntime, browsers, phones and C++ services.
//!
//! The contract (README, "PyTorch and ONNX"): one input `pixels`, float32 `[N, 1, 28, 28]` with
//! ink 1.0 and paper 0.0 as torchvision's `ToTensor` gives MNIST's images (`N` symbolic), and
//! one output `logits`, float32 `[N, 10]` (softmax gives the probabilities). A normalisation
//! the model applies is inside the graph. Opset 13 (ONNX 1.8, 2020), IR version 7. The class
//! names, the dataset and the network are in the model's metadata. The protobuf messages are
//! prost's (`proto.rs`), the weights burn-store's snapshot of the model in PyTorch's layouts,
//! named as PyTorch's `state_dict` names them (`fc1.weight`), as `torch.onnx.export` does.

mod proto;

use std::path::Path;

use burn_store::{BurnToPyTorchAdapter, ModuleSnapshot, bridge};
use prost::Message;

use crate::config::TrainingConfig;
use crate::data::{IMAGE_SIDE, NUM_CLASSES};
use crate::fs::atomic_file;
use crate::model::confidence::{self, ConfidenceMap};
use crate::model::predict::Calibrated;
use crate::model::rejection;
use crate::model::{ActivationKind, Model, ModelKind};
use crate::pytorch::export::{ExportError, check_destinations, pytorch_names};
use proto::*;

/// The ONNX operator set the graph uses: every operator here is in it unchanged since.
pub(crate) const OPSET: i64 = 13;
/// The IR version of opset 13 (ONNX 1.8).
const IR_VERSION: i64 = 7;
/// The graph's input and output names.
pub(crate) const INPUT: &str = "pixels";
/// See [`INPUT`].
pub(crate) const OUTPUT: &str = "logits";

/// Writes the model of a run (`config` its training config) to `destination` as ONNX, whole or
/// not at all, not replacing a file unless `overwrite`; a calibrated run's logits are divided
/// by its temperature inside the graph (and the metadata says so), so that the softmax of
/// what a runtime gets is what `infer` answers, and its threshold for "not a digit" is in the
/// metadata (`not_a_digit_below`). Returns the operators in graph order.
///
/// # Errors
/// [`ExportError::Exists`], [`ExportError::NoFolder`], or [`ExportError::Write`] when the file
/// cannot be written.
pub(crate) fn export_onnx(
    model: &Model,
    config: &TrainingConfig,
    calibrated: Calibrated,
    destination: &Path,
    overwrite: bool,
) -> Result<Vec<String>, ExportError> {
    check_destinations(&[destination], overwrite)?;
    let file = model_proto(model, config, calibrated);
    let operators = file
        .graph
        .iter()
        .flat_map(|graph| graph.node.iter().map(|node| node.op_type.clone()))
        .collect();
    atomic_file::write(destination, file.encode_to_vec()).map_err(|error| ExportError::Write {
        path: destination.to_path_buf(),
        reason: error.to_string(),
    })?;
    Ok(operators)
}

/// The whole file: the graph, the opset, who wrote it and the metadata.
fn model_proto(model: &Model, config: &TrainingConfig, calibrated: Calibrated) -> ModelProto {
    let description = format!(
        "{} classifier ({}): {INPUT} float32 [N, 1, 28, 28], ink 1.0 on paper 0.0 (torchvision ToTensor); {OUTPUT} float32 [N, 10], softmax gives the class probabilities",
        config.dataset.title(),
        config.model.describe()
    );
    ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        producer_name: env!("CARGO_PKG_NAME").to_string(),
        producer_version: env!("CARGO_PKG_VERSION").to_string(),
        doc_string: description.clone(),
        graph: Some(graph(model, config, calibrated)),
        metadata_props: metadata(
            config,
            calibrated,
            crate::model::predict::silent_reading(model, calibrated),
            description,
        ),
    }
}

/// What a runtime shows of the model: the class names (a JSON list, output order), the
/// dataset, the network, the normalisation, the temperature inside the graph and the threshold
/// for "not a digit".
fn metadata(
    config: &TrainingConfig,
    calibrated: Calibrated,
    silent: [f32; NUM_CLASSES],
    description: String,
) -> Vec<StringStringEntryProto> {
    let classes = serde_json::to_string(&config.dataset.class_names()).expect("names serialize");
    let normalization = match &config.model.input_normalization {
        Some(n) => format!("(pixels - {}) / {}, inside the graph", n.mean, n.std),
        None => "none".to_string(),
    };
    [
        ("classes", classes),
        ("dataset", config.dataset.name().to_string()),
        ("model", config.model.describe()),
        ("normalization", normalization),
        (
            "temperature",
            calibrated.temperature.map_or("none".to_string(), |t| {
                format!("{t}: the logits are divided by it inside the graph (calibrate)")
            }),
        ),
        (
            "confidence",
            calibrated.confidence.map_or("none".to_string(), |map| {
                format!(
                    "{} {}: slope and offset of the top probability's map inside the graph: the softmax's largest value p becomes sigmoid(slope * ln(p / r) + offset), r the sum of the others (not 1 - p, which rounds to 0 near p = 1; at least 1e-30), the others scaled to sum to 1 (calibrate)",
                    map.slope, map.offset
                )
            }),
        ),
        (
            "not_a_digit_below",
            calibrated.not_a_digit_below.map_or("none".to_string(), |t| {
                format!(
                    "{t}: on the softmax of the output, {} (calibrate)",
                    rejection::rules(
                        t,
                        calibrated.unsure_below,
                        &silent,
                        config.dataset,
                    )
                )
            }),
        ),
        ("description", description),
    ]
    .into_iter()
    .map(|(key, value)| StringStringEntryProto {
        key: key.to_string(),
        value,
    })
    .collect()
}

/// The graph: normalisation, the CNN's convolutions, flatten, the Linear layers; for a
/// calibrated run, the division by its temperature and its top-probability map.
fn graph(model: &Model, config: &TrainingConfig, calibrated: Calibrated) -> GraphProto {
    let mut graph = Graph::new(weights(model, &config.model));
    if let Some(n) = &config.model.input_normalization {
        let mean = graph.constant("input_mean", &[1], vec![n.mean as f32]);
        graph.then("Sub", &[mean], vec![]);
        let std = graph.constant("input_std", &[1], vec![n.std as f32]);
        graph.then("Div", &[std], vec![]);
    }
    if config.model.kind == ModelKind::Cnn {
        for conv in ["conv1", "conv2"] {
            let [weight, bias] = graph.layer(conv);
            let attributes = vec![ints("kernel_shape", &[3, 3]), ints("strides", &[1, 1])];
            graph.then("Conv", &[weight, bias], attributes);
            graph.then("Relu", &[], vec![]);
        }
        let pool = vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])];
        graph.then("MaxPool", &[], pool);
    }
    graph.then("Flatten", &[], vec![int("axis", 1)]);
    let linears: Vec<String> = pytorch_names(&config.model)
        .into_iter()
        .map(|(_, pytorch)| pytorch)
        .filter(|name| !name.starts_with("conv"))
        .collect();
    let activation = match config.model.activation {
        ActivationKind::Relu => "Relu",
        ActivationKind::Sigmoid => "Sigmoid",
        ActivationKind::Tanh => "Tanh",
    };
    for (index, linear) in linears.iter().enumerate() {
        let [weight, bias] = graph.layer(linear);
        // PyTorch's [out, in] weight: y = x Wᵀ + b, as torch.onnx.export writes nn.Linear.
        graph.then("Gemm", &[weight, bias], vec![int("transB", 1)]);
        if index + 1 < linears.len() {
            graph.then(activation, &[], vec![]);
        }
    }
    if let Some(temperature) = calibrated.temperature {
        let divisor = graph.constant("temperature", &[1], vec![temperature as f32]);
        graph.then("Div", &[divisor], vec![]);
    }
    if let Some(map) = calibrated.confidence {
        confidence_map(&mut graph, map);
    }
    graph.finish()
}

/// The top-probability map (`model::confidence`) on the graph's last value, the logits: their
/// softmax p, its largest value top and what the others add up to, rest (at least
/// [`confidence::TINY`]), top mapped to `sigmoid(slope * (ln top - ln rest) + offset)`, the
/// others scaled by `(1 - mapped) / rest`, and their logarithm (at least ln 1e-30), so that a
/// runtime's softmax of the output is what `infer` answers, as it is without a map.
fn confidence_map(graph: &mut Graph, map: ConfidenceMap) {
    let logits = graph.last.clone();
    let p = graph.node("Softmax", &[&logits], vec![int("axis", 1)]);
    let top = graph.node(
        "ReduceMax",
        &[&p],
        vec![ints("axes", &[1]), int("keepdims", 1)],
    );
    let is_top = graph.node("Equal", &[&p, &top], vec![]);
    let zero = graph.constant("zero", &[1], vec![0.0]);
    let others = graph.node("Where", &[&is_top, &zero, &p], vec![]);
    let axis = graph.constant_i64("class_axis", &[1], vec![1]);
    let rest = graph.node("ReduceSum", &[&others, &axis], vec![int("keepdims", 1)]);
    let tiny = graph.constant("tiny", &[1], vec![confidence::TINY as f32]);
    let rest = graph.node("Max", &[&rest, &tiny], vec![]);
    let log_top = graph.node("Log", &[&top], vec![]);
    let log_rest = graph.node("Log", &[&rest], vec![]);
    let log_odds = graph.node("Sub", &[&log_top, &log_rest], vec![]);
    let slope = graph.constant("confidence_slope", &[1], vec![map.slope as f32]);
    let offset = graph.constant("confidence_offset", &[1], vec![map.offset as f32]);
    let sloped = graph.node("Mul", &[&log_odds, &slope], vec![]);
    let shifted = graph.node("Add", &[&sloped, &offset], vec![]);
    let mapped = graph.node("Sigmoid", &[&shifted], vec![]);
    let one = graph.constant("one", &[1], vec![1.0]);
    let left = graph.node("Sub", &[&one, &mapped], vec![]);
    let scale = graph.node("Div", &[&left, &rest], vec![]);
    let scaled = graph.node("Mul", &[&p, &scale], vec![]);
    let moved = graph.node("Where", &[&is_top, &mapped, &scaled], vec![]);
    let floor = graph.constant("smallest_probability", &[1], vec![1e-30]);
    let floored = graph.node("Max", &[&moved, &floor], vec![]);
    graph.node("Log", &[&floored], vec![]);
}

/// The model's weights and biases in PyTorch's layouts, by PyTorch's names: `[name, values,
/// shape]`.
fn weights(model: &Model, config: &crate::model::ModelConfig) -> Vec<(String, Vec<f32>, Vec<i64>)> {
    let names = pytorch_names(config);
    model
        .collect(None, Some(Box::new(BurnToPyTorchAdapter)), false)
        .into_iter()
        .filter_map(|tensor| {
            let (layer, kind) = tensor.name.rsplit_once('.')?;
            let (_, pytorch) = names.iter().find(|(burn, _)| burn == layer)?;
            let name = format!("{pytorch}.{kind}");
            let data = bridge::into_data(tensor).ok()?.convert::<f32>();
            let shape = data.shape().iter().map(|&d| d as i64).collect();
            Some((name, data.try_to_vec::<f32>().ok()?, shape))
        })
        .collect()
}

/// A graph under construction: each operator reads the previous one's output.
struct Graph {
    /// The model's weights, taken out as layers use them.
    weights: Vec<(String, Vec<f32>, Vec<i64>)>,
    /// Operators so far, in order.
    nodes: Vec<NodeProto>,
    /// Constant tensors so far.
    initializers: Vec<TensorProto>,
    /// The name of the value the next operator reads.
    last: String,
}

impl Graph {
    /// An empty graph reading [`INPUT`].
    fn new(weights: Vec<(String, Vec<f32>, Vec<i64>)>) -> Self {
        Self {
            weights,
            nodes: Vec::new(),
            initializers: Vec::new(),
            last: INPUT.to_string(),
        }
    }

    /// Adds a constant tensor of floats; returns its name.
    fn constant(&mut self, name: &str, dims: &[i64], values: Vec<f32>) -> String {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializer(name, dims, FLOAT, raw)
    }

    /// Adds a constant tensor of 64-bit integers (an operator's axes); returns its name.
    fn constant_i64(&mut self, name: &str, dims: &[i64], values: Vec<i64>) -> String {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializer(name, dims, INT64, raw)
    }

    /// Adds a constant tensor of `data_type` whose little-endian bytes are `raw_data`; returns
    /// its name.
    fn initializer(
        &mut self,
        name: &str,
        dims: &[i64],
        data_type: i32,
        raw_data: Vec<u8>,
    ) -> String {
        self.initializers.push(TensorProto {
            dims: dims.to_vec(),
            data_type,
            name: name.to_string(),
            raw_data,
        });
        name.to_string()
    }

    /// Adds the weight and bias of the layer PyTorch calls `name` as constants; returns their
    /// names (`fc1.weight`, `fc1.bias`).
    fn layer(&mut self, name: &str) -> [String; 2] {
        ["weight", "bias"].map(|kind| {
            let key = format!("{name}.{kind}");
            let position = self
                .weights
                .iter()
                .position(|(weight, _, _)| *weight == key)
                .expect("the model has every layer its config names");
            let (_, values, dims) = self.weights.swap_remove(position);
            self.constant(&key, &dims, values)
        })
    }

    /// Appends `op_type` reading the values named `inputs`, its output the last value; returns
    /// the output's name.
    fn node(&mut self, op_type: &str, inputs: &[&str], attribute: Vec<AttributeProto>) -> String {
        let output = format!("{}_{}", op_type.to_lowercase(), self.nodes.len());
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|input| input.to_string()).collect(),
            output: vec![output.clone()],
            name: output.clone(),
            op_type: op_type.to_string(),
            attribute,
        });
        self.last = output.clone();
        output
    }

    /// Appends `op_type` reading the last value and `constants`.
    fn then(&mut self, op_type: &str, constants: &[String], attribute: Vec<AttributeProto>) {
        let output = format!("{}_{}", op_type.to_lowercase(), self.nodes.len());
        let mut input = vec![std::mem::replace(&mut self.last, output.clone())];
        input.extend(constants.iter().cloned());
        self.nodes.push(NodeProto {
            input,
            output: vec![output.clone()],
            name: output,
            op_type: op_type.to_string(),
            attribute,
        });
    }

    /// The graph, its last value renamed [`OUTPUT`].
    fn finish(mut self) -> GraphProto {
        if let Some(last) = self.nodes.last_mut() {
            last.output = vec![OUTPUT.to_string()];
        }
        let side = IMAGE_SIDE as i64;
        GraphProto {
            node: self.nodes,
            name: "mnist_trainer".to_string(),
            initializer: self.initializers,
            input: vec![value_info(
                INPUT,
                &[None, Some(1), Some(side), Some(side)],
                "pixels in [0, 1], ink 1.0",
            )],
            output: vec![value_info(
                OUTPUT,
                &[None, Some(NUM_CLASSES as i64)],
                "one logit per class (a calibrated run's: the logarithms of its probabilities)",
            )],
        }
    }
}

/// A float32 value of `shape` (`None`: the symbolic batch size `N`).
fn value_info(name: &str, shape: &[Option<i64>], doc: &str) -> ValueInfoProto {
    let dim = shape
        .iter()
        .map(|size| Dimension {
            value: Some(match size {
                Some(size) => DimensionValue::Fixed(*size),
                None => DimensionValue::Symbolic("N".to_string()),
            }),
        })
        .collect();
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: FLOAT,
                shape: Some(TensorShapeProto { dim }),
            }),
        }),
        doc_string: doc.to_string(),
    }
}

/// An `INT` attribute.
fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        i: value,
        ints: Vec::new(),
        r#type: ATTRIBUTE_INT,
    }
}

/// An `INTS` attribute.
fn ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        i: 0,
        ints: values.to_vec(),
        r#type: ATTRIBUTE_INTS,
    }
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;

    use super::*;
    use crate::model::ModelConfig;

    fn operators(config: &TrainingConfig) -> Vec<String> {
        let model = config.model.init(&Device::flex());
        let graph = graph(&model, config, Calibrated::default());
        let initializers: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
        for node in &graph.node {
            for input in &node.input[1..] {
                assert!(
                    initializers.contains(&input.as_str()),
                    "{input} is a constant"
                );
            }
        }
        assert_eq!(graph.node.last().unwrap().output, [OUTPUT]);
        graph.node.iter().map(|node| node.op_type.clone()).collect()
    }

    #[test]
    fn each_model_is_the_graph_torch_onnx_export_writes_for_it() {
        let _random = crate::random_generator_lock();
        let tutorial = TrainingConfig::tutorial();
        assert_eq!(operators(&tutorial), ["Flatten", "Gemm", "Relu", "Gemm"]);
        let deep = TrainingConfig {
            model: ModelConfig::new()
                .with_hidden_sizes(vec![8, 8])
                .with_activation(ActivationKind::Tanh),
            ..TrainingConfig::tutorial()
        };
        assert_eq!(
            operators(&deep),
            ["Flatten", "Gemm", "Tanh", "Gemm", "Tanh", "Gemm"]
        );
        let cnn = TrainingConfig {
            model: ModelConfig::new().with_kind(ModelKind::Cnn).completed(),
            ..TrainingConfig::tutorial()
        };
        assert_eq!(
            operators(&cnn),
            [
                "Sub", "Div", "Conv", "Relu", "Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Relu",
                "Gemm"
            ]
        );
    }

    #[test]
    fn weights_are_in_pytorchs_layout_under_pytorchs_names() {
        let _random = crate::random_generator_lock();
        let config = TrainingConfig::tutorial();
        let model = config.model.init(&Device::flex());
        let graph = graph(&model, &config, Calibrated::default());
        let shapes: Vec<(&str, &[i64])> = graph
            .initializer
            .iter()
            .map(|t| (t.name.as_str(), t.dims.as_slice()))
            .collect();
        assert_eq!(
            shapes,
            [
                ("fc1.weight", &[128i64, 784][..]),
                ("fc1.bias", &[128][..]),
                ("fc2.weight", &[10, 128][..]),
                ("fc2.bias", &[10][..]),
            ]
        );
        // [out, in]: fc1.weight's first row is output unit 0's weights, Burn's column 0.
        let burn: Vec<f32> = model.first_layer_weights().try_to_vec().unwrap();
        let row: Vec<f32> = graph.initializer[0].raw_data[..784 * 4]
            .chunks(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let column: Vec<f32> = (0..784).map(|i| burn[i * 128]).collect();
        assert_eq!(row, column);
    }
}
