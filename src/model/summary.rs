//! The network as a table of layers, as Keras's `model.summary()` and torchinfo print it: each
//! layer's name in the record, what it does, the shape it gives for a batch and its weights
//! and biases. Made from the config alone, so it is printed before anything is allocated.

use crate::data::NUM_CLASSES;
use crate::model::{CNN_HIDDEN_DROPOUT, ModelConfig, ModelKind, cnn};

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LayerRow {
    /// The layer's name in the model's record (`hidden.0`, `features.conv1`).
    pub name: String,
    /// What it is and what follows it (`Linear + relu`).
    pub what: String,
    /// The shape it gives for one image (`[128]`, `[32, 26, 26]`).
    pub shape: Vec<usize>,
    /// Its weights and biases.
    pub parameters: u64,
}

/// The rows of `config`'s network, input side first.
pub(crate) fn layer_rows(config: &ModelConfig) -> Vec<LayerRow> {
    let cnn = config.kind == ModelKind::Cnn;
    let mut rows = if cnn { convolution_rows() } else { Vec::new() };
    let widths = config.linear_widths();
    let hidden = widths.len() - 2;
    for (index, pair) in widths.windows(2).enumerate() {
        let parameters = ((pair[0] + 1) * pair[1]) as u64;
        rows.push(if index < hidden {
            let dropout = if cnn {
                format!(" + Dropout {CNN_HIDDEN_DROPOUT}")
            } else {
                String::new()
            };
            LayerRow {
                name: format!("hidden.{index}"),
                what: format!("Linear + {}{dropout}", config.activation),
                shape: vec![pair[1]],
                parameters,
            }
        } else {
            LayerRow {
                name: "output".to_string(),
                what: "Linear".to_string(),
                shape: vec![NUM_CLASSES],
                parameters,
            }
        });
    }
    rows
}

/// The CNN's convolutions and pool (`cnn.rs`'s constants), before its Linear layers.
fn convolution_rows() -> Vec<LayerRow> {
    let (k, p) = (cnn::KERNEL, cnn::POOL);
    let convolution = |index: usize| LayerRow {
        name: format!("features.conv{}", index + 1),
        what: format!("Conv2d {k}x{k} + relu"),
        shape: vec![
            cnn::CHANNELS[index],
            cnn::CONV_SIDES[index],
            cnn::CONV_SIDES[index],
        ],
        parameters: cnn::CONV_PARAMETERS[index] as u64,
    };
    vec![
        convolution(0),
        convolution(1),
        LayerRow {
            name: "features.pool".to_string(),
            what: format!("MaxPool2d {p}x{p} + Dropout {}, flattened", cnn::DROPOUT),
            shape: vec![cnn::FEATURES],
            parameters: 0,
        },
    ]
}

/// The table for batches of `batch` images: a heading, a line per layer, the total.
pub(crate) fn layer_table(config: &ModelConfig, batch: usize) -> String {
    let rows = layer_rows(config);
    let shape = |row: &LayerRow| {
        let dims: Vec<String> = std::iter::once(batch)
            .chain(row.shape.iter().copied())
            .map(|d| d.to_string())
            .collect();
        format!("[{}]", dims.join(", "))
    };
    let what_width = rows.iter().map(|r| r.what.len()).max().unwrap_or(0).max(4);
    let mut table = format!(
        "  {:<16} {:<what_width$}  {:<18} {:>10}\n",
        "layer", "type", "output shape", "parameters"
    );
    for row in &rows {
        table.push_str(&format!(
            "  {:<16} {:<what_width$}  {:<18} {:>10}\n",
            row.name,
            row.what,
            shape(row),
            grouped(row.parameters)
        ));
    }
    let total: u64 = rows.iter().map(|row| row.parameters).sum();
    table.push_str(&format!(
        "  {:<16} {:<what_width$}  {:<18} {:>10}",
        "total",
        "",
        "",
        grouped(total)
    ));
    table
}

/// `count` `noun`s in words, the count [`grouped`]: `1 digit`, `12,000 digits`.
pub(crate) fn counted(count: u64, noun: &str) -> String {
    match count {
        1 => format!("1 {noun}"),
        _ => format!("{} {noun}s", grouped(count)),
    }
}

/// `n` with its thousands separated by commas: 101,770.
pub(crate) fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_counts_what_the_config_counts() {
        for kind in [ModelKind::Mlp, ModelKind::Cnn] {
            let config = ModelConfig::new().with_kind(kind);
            let total: u64 = layer_rows(&config).iter().map(|r| r.parameters).sum();
            assert_eq!(Some(total), config.parameter_count(), "{kind:?}");
        }
        let tutorial = layer_table(&ModelConfig::new(), 64);
        assert!(
            tutorial.contains("hidden.0         Linear + relu  [64, 128]"),
            "{tutorial}"
        );
        assert!(tutorial.contains("101,770"), "{tutorial}");
        let cnn = layer_table(&ModelConfig::new().with_kind(ModelKind::Cnn), 64);
        assert!(cnn.contains("[64, 32, 26, 26]"), "{cnn}");
        assert!(cnn.contains("[64, 9216]"), "{cnn}");
        assert!(cnn.contains("1,199,882"), "{cnn}");
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_199_882), "1,199,882");
    }
}
