//! `export`: a run's model as a PyTorch state_dict in safetensors, checked without PyTorch: the
//! file is read back with the `safetensors` crate and the network computed from it by hand.

mod common;

use std::path::Path;

use common::*;

/// The first `count` MNIST test images, pixels / 255, as PyTorch's tutorial feeds them.
fn test_images(count: usize) -> Vec<Vec<f64>> {
    let bytes = read_idx(&mnist_dir(), "t10k-images-idx3-ubyte");
    bytes[16..16 + count * 784]
        .chunks(784)
        .map(|image| image.iter().map(|&p| f64::from(p) / 255.0).collect())
        .collect()
}

/// A layer of the exported file: PyTorch's `[out, in]` weight and its bias.
struct Layer {
    weight: Vec<f32>,
    shape: [usize; 2],
    bias: Vec<f32>,
}

fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn read_layers(path: &Path, names: &[&str]) -> Vec<Layer> {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut keys: Vec<String> = file.names().into_iter().map(str::to_string).collect();
    keys.sort();
    let mut expected: Vec<String> = names
        .iter()
        .flat_map(|n| [format!("{n}.weight"), format!("{n}.bias")])
        .collect();
    expected.sort();
    assert_eq!(keys, expected, "exactly the state_dict's keys");
    names
        .iter()
        .map(|name| {
            let weight = file.tensor(&format!("{name}.weight")).unwrap();
            let bias = file.tensor(&format!("{name}.bias")).unwrap();
            assert_eq!(weight.dtype(), safetensors::Dtype::F32);
            let shape = [weight.shape()[0], weight.shape()[1]];
            assert_eq!(
                bias.shape(),
                &[shape[0]],
                "{name}: bias of the output width"
            );
            Layer {
                weight: floats(weight.data()),
                shape,
                bias: floats(bias.data()),
            }
        })
        .collect()
}

/// PyTorch's forward pass: x W^T + b per layer, the activation between, softmax at the end.
fn probabilities(layers: &[Layer], image: &[f64], activation: fn(f64) -> f64) -> Vec<f64> {
    let mut x = image.to_vec();
    for (index, layer) in layers.iter().enumerate() {
        let [outputs, inputs] = layer.shape;
        assert_eq!(inputs, x.len());
        x = (0..outputs)
            .map(|o| {
                let row = &layer.weight[o * inputs..(o + 1) * inputs];
                let sum: f64 = row.iter().zip(&x).map(|(w, v)| f64::from(*w) * v).sum();
                let z = sum + f64::from(layer.bias[o]);
                if index + 1 < layers.len() {
                    activation(z)
                } else {
                    z
                }
            })
            .collect();
    }
    let max = x.iter().cloned().fold(f64::MIN, f64::max);
    let exps: Vec<f64> = x.iter().map(|v| (v - max).exp()).collect();
    let total: f64 = exps.iter().sum();
    exps.iter().map(|e| e / total).collect()
}

/// Runs `export` of the sandbox's `run` into `out/model.safetensors`, with `extra` flags.
fn export(sandbox: &Sandbox, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "export",
        "--artifacts",
        "run",
        "--safetensors",
        "out/model.safetensors",
    ];
    args.extend(extra);
    sandbox.run(args)
}

/// Trains a quick run, exports it, and checks the file's forward pass against `infer`.
fn export_agrees_with_infer(args: &[&str], names: &[&str], activation: fn(f64) -> f64) {
    let sandbox = Sandbox::new();
    let mut train = vec![
        "--epochs",
        "1",
        "--limit-train",
        "3000",
        "--artifacts",
        "run",
    ];
    train.extend(args);
    let output = sandbox.run_on(&mnist_dir(), &train);
    assert!(output.status.success(), "{}", stderr(&output));
    let exported = export(&sandbox, &[]);
    // The folder is the user's to make: a missing one is named.
    let line = assert_one_line_error(&exported);
    assert!(line.contains("out/model.safetensors"), "{line}");
    std::fs::create_dir_all(sandbox.path("out")).unwrap();
    let exported = export(&sandbox, &[]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    assert!(
        stdout(&exported).starts_with("written: out/model.safetensors"),
        "{}",
        stdout(&exported)
    );

    let layers = read_layers(&sandbox.path("out/model.safetensors"), names);
    let architecture = read_json(&sandbox.path("out/model.json"));
    assert_eq!(
        architecture["keys"].as_array().unwrap().len(),
        2 * names.len()
    );

    let count = 20;
    let indices: Vec<String> = (0..count).map(|i| i.to_string()).collect();
    let infer = sandbox.run_on(
        &mnist_dir(),
        &[
            "infer",
            "--artifacts",
            "run",
            "--json",
            "--index",
            &indices.join(","),
        ],
    );
    assert!(infer.status.success(), "{}", stderr(&infer));
    let mut worst = 0.0f64;
    for (line, image) in stdout(&infer).lines().zip(test_images(count)) {
        let answer: serde_json::Value = serde_json::from_str(line).unwrap();
        let ours = probabilities(&layers, &image, activation);
        for guess in answer["top3"].as_array().unwrap() {
            let class = guess["digit"].as_u64().unwrap() as usize;
            let difference = (guess["probability"].as_f64().unwrap() - ours[class]).abs();
            worst = worst.max(difference);
        }
    }
    eprintln!("largest difference of a probability: {worst:e}");
    assert!(worst < 1e-5, "largest difference of a probability: {worst}");

    // Not replaced without --overwrite; replaced with it.
    let before = std::fs::read(sandbox.path("out/model.safetensors")).unwrap();
    let again = export(&sandbox, &[]);
    let line = assert_one_line_error(&again);
    assert!(line.contains("already exists; pass --overwrite"), "{line}");
    assert_eq!(
        std::fs::read(sandbox.path("out/model.safetensors")).unwrap(),
        before
    );
    let replaced = export(&sandbox, &["--overwrite"]);
    assert!(replaced.status.success(), "{}", stderr(&replaced));
}

#[test]
fn the_tutorials_network_exports_as_simple_nn_and_computes_the_same_probabilities() {
    export_agrees_with_infer(&[], &["fc1", "fc2"], |z| z.max(0.0));
}

#[test]
fn a_deeper_network_exports_as_a_sequential_with_its_activation() {
    export_agrees_with_infer(
        &["--hidden", "32,16", "--activation", "tanh"],
        &["0", "2", "4"],
        f64::tanh,
    );
}
