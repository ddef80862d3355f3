//! PyTorch and ONNX interchange, each checked by another program than this one.
//!
//! PyTorch, without PyTorch: `export`'s file is read back with the `safetensors` crate and the
//! network computed from it by hand; `import` reads files PyTorch made (tests/fixtures/pytorch,
//! by bench/make_fixtures.py), which predict what PyTorch predicted, and refuses broken files of
//! each kind in one line, writing nothing.
//!
//! ONNX: `export --onnx`'s file is loaded by `tests/support/onnx_run.py` with `onnx.checker` and
//! onnxruntime, whose probabilities for 200 test images must equal `infer`'s within `AGREEMENT`
//! (1e-6), for MLPs of one and two hidden layers (relu, tanh) and the CNN. The Python it runs is
//! `MNIST_TRAINER_PYTHON` (`.ci/run` makes a virtual environment with onnx, onnxruntime and
//! numpy), else `python3`; without those packages the tests fail, saying so.
//!
//! Neither export replaces a file without `--overwrite`.

use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::Command;

use crate::common::*;

// PyTorch: export to safetensors, import of what PyTorch saves.

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
        "--run",
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
    let mut train = vec!["--epochs", "1", "--limit-train", "3000", "--run", "run"];
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

    // All ten probabilities of each of the 20 images (one answer per image, checked).
    let count = 20;
    let answers = infer_probabilities(&sandbox, "run", count);
    let images = test_images(count);
    assert_eq!(images.len(), count);
    let mut worst = 0.0f64;
    for (answer, image) in answers.iter().zip(&images) {
        let ours = probabilities(&layers, image, activation);
        for (p, q) in answer.iter().zip(&ours) {
            worst = worst.max((p - q).abs());
        }
    }
    eprintln!("largest difference of a probability: {worst:e}");
    assert!(
        worst < AGREEMENT,
        "largest difference of a probability: {worst}"
    );

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

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pytorch");

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(FIXTURES).join(name)
}

/// Imports the fixture `file` into the run `from-<file>`, scored on MNIST's test images;
/// returns the run's folder name and what import printed.
fn import_fixture(sandbox: &Sandbox, file: &str) -> (String, String) {
    let run = format!("from-{file}");
    let source = fixture(file);
    let output = sandbox.run_on(
        &mnist_dir(),
        &[
            "import",
            "--pytorch",
            source.to_str().unwrap(),
            "--run",
            &run,
        ],
    );
    assert!(output.status.success(), "{file}: {}", stderr(&output));
    (run, stdout(&output))
}

fn sha256_hex(path: &Path) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(std::fs::read(path).unwrap());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn pytorchs_own_files_import_and_predict_what_pytorch_predicted() {
    let expected = read_json(&fixture("probabilities.json"));
    let sandbox = Sandbox::new();
    let cases = [
        (
            "simple_nn.pt",
            "simple_nn",
            "torch-zip",
            "SimpleNN",
            "784-128-10",
        ),
        (
            "sequential.pt",
            "sequential",
            "torch-zip",
            "nn.Sequential",
            "784-16-16-10",
        ),
        (
            "sequential_legacy.pt",
            "sequential",
            "torch-pickle",
            "nn.Sequential",
            "784-16-16-10",
        ),
        (
            "sequential.safetensors",
            "sequential",
            "safetensors",
            "nn.Sequential",
            "784-16-16-10",
        ),
        // What PyTorch's examples/mnist --save-model writes; normalised as that example does.
        (
            "mnist_cnn.pt",
            "net",
            "torch-zip",
            "Net",
            "cnn 32C3-64C3-P2-128-10",
        ),
    ];
    for (file, model, format, module, widths) in cases {
        let (run, printed) = import_fixture(&sandbox, file);
        assert!(printed.contains(&format!("{module} {widths}")), "{printed}");
        assert!(
            printed.contains("test accuracy "),
            "scored on --data-dir: {printed}"
        );

        let summary = read_json(&sandbox.path(&run).join("summary.json"));
        assert_eq!(summary["status"], "imported");
        assert_eq!(summary["source"]["name"], file);
        assert_eq!(summary["source"]["format"], format);
        assert_eq!(summary["source"]["sha256"], sha256_hex(&fixture(file)));
        assert_eq!(summary["model"], widths);

        let ours = infer_probabilities(&sandbox, &run, 100);
        let worst = largest_difference(&ours, expected[model].as_array().unwrap());
        eprintln!("{file}: largest difference from PyTorch's probabilities: {worst:e}");
        assert!(worst < AGREEMENT, "{file}: largest difference {worst}");
    }
    // eval reads the test images where import was told they are (data.json), as printed.
    let eval = sandbox.run(["eval", "--run", "from-simple_nn.pt"]);
    assert!(eval.status.success(), "{}", stderr(&eval));
}

#[test]
fn pytorch_files_as_people_save_them_import_and_predict_what_pytorch_predicted() {
    let expected = read_json(&fixture("probabilities.json"));
    let theirs = expected["sequential"].as_array().unwrap();
    let sandbox = Sandbox::new();
    let cases = [
        (
            "data_parallel.pt",
            "read names without `module.` (nn.DataParallel / DistributedDataParallel)",
        ),
        (
            "compiled.pt",
            "read names without `_orig_mod.` (torch.compile)",
        ),
        (
            "training_checkpoint.pt",
            "read the state_dict under `model_state_dict` of a checkpoint (",
        ),
    ];
    for (file, said) in cases {
        let (run, printed) = import_fixture(&sandbox, file);
        assert!(printed.contains(said), "{file}: {printed}");
        assert!(printed.contains("nn.Sequential 784-16-16-10"), "{printed}");
        let summary = read_json(&sandbox.path(&run).join("summary.json"));
        assert!(
            !summary["unwrapped"].as_array().unwrap().is_empty(),
            "{summary}"
        );
        let worst = largest_difference(&infer_probabilities(&sandbox, &run, 100), theirs);
        assert!(worst < AGREEMENT, "{file}: largest difference {worst}");
    }
}

#[test]
fn an_exported_run_imports_back_with_identical_predictions() {
    let sandbox = Sandbox::new();
    let train = sandbox.run_on(
        &mnist_dir(),
        &[
            "--epochs",
            "1",
            "--limit-train",
            "2000",
            "--hidden",
            "24,12",
            "--activation",
            "sigmoid",
            "--run",
            "run",
        ],
    );
    assert!(train.status.success(), "{}", stderr(&train));
    let exported = export(&sandbox, &[]);
    assert!(!exported.status.success(), "out/ does not exist yet");
    std::fs::create_dir_all(sandbox.path("out")).unwrap();
    let exported = export(&sandbox, &[]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    imports_back_identically(&sandbox, &["--activation", "sigmoid"], 50);
}

/// Trains one epoch into `run` with `args`, then exports it to `out/model.safetensors`.
fn train_and_export(sandbox: &Sandbox, args: &[&str]) {
    let mut train = vec!["--epochs", "1", "--run", "run"];
    train.extend(args);
    let trained = sandbox.run_on(&mnist_dir(), &train);
    assert!(trained.status.success(), "{}", stderr(&trained));
    std::fs::create_dir_all(sandbox.path("out")).unwrap();
    let exported = export(sandbox, &[]);
    assert!(exported.status.success(), "{}", stderr(&exported));
}

/// Imports `out/model.safetensors` (with `extra` flags) into `back` and checks it predicts
/// exactly what `run` does for the first `count` test images.
fn imports_back_identically(sandbox: &Sandbox, extra: &[&str], count: usize) {
    let mut args = vec![
        "import",
        "--pytorch",
        "out/model.safetensors",
        "--run",
        "back",
    ];
    args.extend(extra);
    let imported = sandbox.run(args);
    assert!(imported.status.success(), "{}", stderr(&imported));
    assert_eq!(
        infer_probabilities(sandbox, "run", count),
        infer_probabilities(sandbox, "back", count)
    );
}

#[test]
fn the_cnn_exports_as_examples_mnists_net_and_imports_back_identically() {
    let sandbox = Sandbox::new();
    train_and_export(&sandbox, &["--model", "cnn", "--limit-train", "320"]);
    let bytes = std::fs::read(sandbox.path("out/model.safetensors")).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut shapes: Vec<(String, Vec<usize>)> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| (name, view.shape().to_vec()))
        .collect();
    shapes.sort();
    let net: [(&str, &[usize]); 8] = [
        ("conv1.bias", &[32]),
        ("conv1.weight", &[32, 1, 3, 3]),
        ("conv2.bias", &[64]),
        ("conv2.weight", &[64, 32, 3, 3]),
        ("fc1.bias", &[128]),
        ("fc1.weight", &[128, 9216]),
        ("fc2.bias", &[10]),
        ("fc2.weight", &[10, 128]),
    ];
    let net: Vec<(String, Vec<usize>)> = net
        .iter()
        .map(|(name, shape)| (name.to_string(), shape.to_vec()))
        .collect();
    assert_eq!(
        shapes, net,
        "Net's state_dict: its keys and PyTorch's layouts"
    );
    let architecture = read_json(&sandbox.path("out/model.json"));
    assert_eq!(architecture["module"], "Net");
    assert_eq!(
        architecture["input_normalization"],
        serde_json::json!({"mean": 0.1307, "std": 0.3081})
    );
    // Import reads it as PyTorch's Net (whose own file predicts what PyTorch does, above), so
    // identical predictions mean the export wrote PyTorch's layouts.
    imports_back_identically(&sandbox, &[], 20);
    let tanh = sandbox.run([
        "import",
        "--pytorch",
        "out/model.safetensors",
        "--run",
        "tanh",
        "--activation",
        "tanh",
    ]);
    let line = assert_one_line_error(&tanh);
    assert!(
        line.ends_with("holds examples/mnist's Net, which uses relu; --activation tanh is for networks of Linear layers only"),
        "{line}"
    );
}

/// A safetensors file of f32 tensors with these names and shapes, each value `fill`.
fn safetensors_file(tensors: &[(&str, &[usize])], fill: f32) -> Vec<u8> {
    let buffers: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, shape)| {
            let count: usize = shape.iter().product();
            let bytes = std::iter::repeat_n(fill.to_le_bytes(), count)
                .flatten()
                .collect();
            (name.to_string(), shape.to_vec(), bytes)
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = buffers
        .iter()
        .map(|(name, shape, bytes)| {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                    .unwrap();
            (name.clone(), view)
        })
        .collect();
    safetensors::serialize(views, None).unwrap()
}

#[test]
fn broken_files_of_each_kind_are_refused_in_one_line_writing_nothing() {
    let sandbox = Sandbox::new();
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(sandbox.path(name), bytes).unwrap();
        name.to_string()
    };
    let simple_nn: &[(&str, &[usize])] = &[
        ("fc1.weight", &[128, 784]),
        ("fc1.bias", &[128]),
        ("fc2.weight", &[10, 128]),
        ("fc2.bias", &[10]),
    ];
    let whole = std::fs::read(fixture("simple_nn.pt")).unwrap();
    let mut nan = safetensors_file(simple_nn, 0.5);
    // NaN over the file's last value, in whichever tensor is stored last.
    let last = nan.len() - 4;
    nan[last..].copy_from_slice(&f32::NAN.to_le_bytes());
    let cases: Vec<(String, &str)> = vec![
        (
            write("notes.txt", b"fc1.weight = [[0.1, 0.2]]\n"),
            "not a PyTorch file",
        ),
        (write("empty.pt", b""), "not a PyTorch file"),
        (
            write("truncated.pt", &whole[..whole.len() / 2]),
            "not a readable torch.save zip file",
        ),
        // torch.save(model): burn-store reads a whole module's tensors too; this one has 2 outputs.
        (
            fixture("whole_module.pt").to_string_lossy().into_owned(),
            "0.weight gives 2 outputs",
        ),
        // {"epoch": 3, "model": state_dict}: read under `model`, where a Linear(784, 2) lies.
        (
            fixture("checkpoint.pt").to_string_lossy().into_owned(),
            "unexpected tensors bias, weight",
        ),
        (
            fixture("whole_module_legacy.pt")
                .to_string_lossy()
                .into_owned(),
            "in Python re-save its weights with torch.save(model.state_dict(), \"model.pt\")",
        ),
        (
            fixture("no_tensors.pt").to_string_lossy().into_owned(),
            "holds no tensors",
        ),
        (
            write("scripted.pt", &torchscript_layout_archive()),
            "a TorchScript archive (torch.jit.save), which only PyTorch can run; in Python save its weights with torch.save(torch.jit.load(\"scripted.pt\").state_dict(), \"weights.pt\")",
        ),
        (
            fixture("cnn.pt").to_string_lossy().into_owned(),
            "conv1.weight has shape [2, 1, 3, 3]; examples/mnist's Net has [32, 1, 3, 3] there",
        ),
        (
            write(
                "missing.safetensors",
                &safetensors_file(&simple_nn[..3], 0.1),
            ),
            "fc2.bias is missing",
        ),
        (
            write(
                "extra.safetensors",
                &safetensors_file(&[simple_nn, &[("fc3.weight", &[10, 10])]].concat(), 0.1),
            ),
            "unexpected tensor fc3.weight",
        ),
        (
            write(
                "wide.safetensors",
                &safetensors_file(&[("0.weight", &[10, 3072]), ("0.bias", &[10])], 0.1),
            ),
            "0.weight takes 3072 inputs; a 28x28 image has 784",
        ),
        (
            write(
                "chain.safetensors",
                &safetensors_file(
                    &[
                        ("fc1.weight", &[128, 784]),
                        ("fc1.bias", &[128]),
                        ("fc2.weight", &[10, 64]),
                        ("fc2.bias", &[10]),
                    ],
                    0.1,
                ),
            ),
            "fc2.weight takes 64 inputs but fc1 gives 128",
        ),
        (write("nan.safetensors", &nan), "holds NaN"),
    ];
    for (file, expected) in &cases {
        let output = sandbox.run(["import", "--pytorch", file, "--run", "run"]);
        let line = assert_one_line_error(&output);
        assert!(
            line.contains(file.as_str()),
            "{file}: names the file: {line}"
        );
        assert_eq!(
            line.matches(expected).count(),
            1,
            "{file}: said once: {line}"
        );
        assert!(!sandbox.path("run").exists(), "{file}: wrote a run folder");
    }
}

#[test]
fn import_keeps_to_folders_it_may_write_and_an_imported_run_cannot_be_resumed() {
    let sandbox = Sandbox::new();
    let source = fixture("sequential.safetensors");
    let import = |extra: &[&str]| {
        let mut args = vec![
            "import",
            "--pytorch",
            source.to_str().unwrap(),
            "--run",
            "run",
        ];
        args.extend(extra);
        sandbox.run(args)
    };
    std::fs::create_dir_all(sandbox.path("run")).unwrap();
    std::fs::write(sandbox.path("run/notes.md"), "mine").unwrap();
    let line = assert_one_line_error(&import(&["--overwrite"]));
    assert!(line.contains("not a run of this program"), "{line}");
    assert_eq!(
        std::fs::read_to_string(sandbox.path("run/notes.md")).unwrap(),
        "mine"
    );
    std::fs::remove_file(sandbox.path("run/notes.md")).unwrap();

    assert!(import(&[]).status.success());
    let line = assert_one_line_error(&import(&[]));
    assert!(
        line.contains("already holds a run; pass --overwrite"),
        "{line}"
    );
    let replaced = import(&["--overwrite"]);
    assert!(replaced.status.success(), "{}", stderr(&replaced));

    let resumed = sandbox.run_on(&mnist_dir(), &["--resume", "run"]);
    let line = assert_one_line_error(&resumed);
    assert!(
        line.contains("imported from PyTorch, not trained here"),
        "{line}"
    );
    // It has no epochs' checkpoints to read instead of model.bpk.
    let epoch = sandbox.run_on(
        &mnist_dir(),
        &["infer", "--run", "run", "--index", "0", "--epoch", "1"],
    );
    let line = assert_one_line_error(&epoch);
    assert!(
        line.ends_with("run: no model of epoch 1 is kept (imported from PyTorch, it has model.bpk alone: leave out --epoch)"),
        "{line}"
    );
    // Nor calibrated on MNIST: it held out nothing, and cannot be trained again to do so.
    let calibrated = sandbox.run_on(&mnist_dir(), &["calibrate", "--run", "run"]);
    let line = assert_one_line_error(&calibrated);
    assert!(
        line.contains("imported from PyTorch, it held out no training images")
            && line.contains("calibrate a run trained here"),
        "{line}"
    );
    assert!(!sandbox.path("run/calibration.json").exists());
    assert!(sandbox.path("run/model.bpk").is_file());
    assert!(!sandbox.path("run/metrics.jsonl").exists());
}

#[test]
fn a_model_with_its_own_normalisation_exports_and_imports_back_with_it() {
    let sandbox = Sandbox::new();
    std::fs::write(
        sandbox.path("normalised.json"),
        r#"{"model": {"input_normalization": {"mean": 0.5, "std": 0.5}}}"#,
    )
    .unwrap();
    train_and_export(
        &sandbox,
        &["--config", "normalised.json", "--limit-train", "640"],
    );
    imports_back_identically(&sandbox, &[], 20);
    let config = read_json(&sandbox.path("back/config.json"));
    assert_eq!(
        config["model"]["input_normalization"],
        serde_json::json!({"mean": 0.5, "std": 0.5})
    );
}

#[test]
fn import_names_an_infinite_weight_with_its_index_and_integer_weights_with_their_dtype() {
    let sandbox = Sandbox::new();
    // PyTorch's own files (bench/make_fixtures.py): nn.Sequential 784-4-10, one bad tensor each.
    for (file, expected) in [
        (
            "infinity.pt",
            "2.weight holds infinity (first at index [3, 1]); a network with it cannot predict",
        ),
        (
            "integer_weights.pt",
            "2.weight is I8; a network's weights are floating point",
        ),
    ] {
        let path = fixture(file);
        let output = sandbox.run([
            "import".as_ref(),
            "--pytorch".as_ref(),
            path.as_os_str(),
            "--run".as_ref(),
            "run".as_ref(),
        ]);
        let line = assert_one_line_error(&output);
        assert!(
            line.ends_with(&format!("{}: {expected}", path.display())),
            "{file}: {line}"
        );
        assert!(!sandbox.path("run").exists(), "{file}: wrote a run folder");
    }
}

/// A zip archive with the entries `torch.jit.save` writes for a scripted SimpleNN (its compiled
/// code under `code/__torch__/`, its pickles, its version), stored uncompressed as PyTorch
/// stores them. Made here because PyTorch is not installed where the tests run; import must
/// recognise it by those entries.
fn torchscript_layout_archive() -> Vec<u8> {
    let entries: [(&str, &[u8]); 4] = [
        ("scripted/version", b"3\n"),
        (
            "scripted/code/__torch__/SimpleNN.py",
            b"class SimpleNN(Module):\n  __parameters__ = []\n  fc1 : __torch__.torch.nn.modules.linear.Linear\n",
        ),
        ("scripted/data.pkl", b"\x80\x02c__torch__\nSimpleNN\nq\x00)\x81q\x01."),
        ("scripted/constants.pkl", b"\x80\x02).")
    ];
    let mut archive = Vec::new();
    let mut directory = Vec::new();
    for (name, data) in entries {
        let offset = archive.len() as u32;
        let crc = crc32fast::hash(data);
        let sizes = [crc, data.len() as u32, data.len() as u32];
        // Local file header: signature, version 2.0, no flags, stored, no time, CRC and sizes.
        archive.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00");
        sizes
            .iter()
            .for_each(|v| archive.extend_from_slice(&v.to_le_bytes()));
        archive.extend_from_slice(&(name.len() as u16).to_le_bytes());
        archive.extend_from_slice(&0u16.to_le_bytes());
        archive.extend_from_slice(name.as_bytes());
        archive.extend_from_slice(data);
        // Its central directory entry.
        directory.extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00");
        sizes
            .iter()
            .for_each(|v| directory.extend_from_slice(&v.to_le_bytes()));
        directory.extend_from_slice(&(name.len() as u16).to_le_bytes());
        directory.extend_from_slice(&[0; 12]); // extra, comment, disk, attributes
        directory.extend_from_slice(&offset.to_le_bytes());
        directory.extend_from_slice(name.as_bytes());
    }
    let start = archive.len() as u32;
    archive.extend_from_slice(&directory);
    archive.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00");
    archive.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    archive.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    archive.extend_from_slice(&(directory.len() as u32).to_le_bytes());
    archive.extend_from_slice(&start.to_le_bytes());
    archive.extend_from_slice(&0u16.to_le_bytes());
    archive
}

// ONNX, run by onnxruntime.

const IMAGES: usize = 200;

/// The Python that has onnx and onnxruntime, or a failure saying how to get one.
fn python() -> String {
    let python = std::env::var("MNIST_TRAINER_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let found = Command::new(&python)
        .args(["-c", "import onnx, onnxruntime, numpy"])
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(
        found,
        "{python} cannot import onnx, onnxruntime and numpy: `python3 -m venv V && V/bin/pip install onnx onnxruntime numpy`, then MNIST_TRAINER_PYTHON=V/bin/python"
    );
    python
}

/// What onnxruntime made of `model`, on the first [`IMAGES`] test images.
fn run_onnx(sandbox: &Sandbox, model: &str) -> serde_json::Value {
    let pixels = read_idx(&mnist_dir(), "t10k-images-idx3-ubyte");
    std::fs::write(sandbox.path("images.bin"), &pixels[16..16 + IMAGES * 784]).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/onnx_run.py");
    let output = Command::new(python())
        .arg(script)
        .arg(sandbox.path(model))
        .arg(sandbox.path("images.bin"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_str(stdout(&output).trim()).unwrap()
}

/// Trains `args` briefly into `run` (then calibrates it when `calibrated`), exports it to
/// `<run>.onnx`, and compares onnxruntime's probabilities with `infer`'s; returns the largest
/// difference.
fn exported_run_agrees(
    sandbox: &Sandbox,
    run: &str,
    args: &[&str],
    model: &str,
    calibrated: bool,
) -> f64 {
    let mut train = vec![
        "--epochs",
        "1",
        "--limit-train",
        "640",
        "--limit-test",
        "100",
    ];
    train.extend(["--run", run]);
    train.extend(args);
    let trained = sandbox.run_on(&mnist_dir(), &train);
    assert!(trained.status.success(), "{}", stderr(&trained));
    if calibrated {
        let calibration = sandbox.run_on(&mnist_dir(), &["calibrate", "--run", run]);
        assert!(calibration.status.success(), "{}", stderr(&calibration));
    }
    let file = format!("{run}.onnx");
    let exported = sandbox.run(["export", "--run", run, "--onnx", &file]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    assert!(
        stdout(&exported).starts_with(&format!("written: {file} (ONNX opset 13, {model}: ")),
        "{}",
        stdout(&exported)
    );

    let onnx = run_onnx(sandbox, &file);
    assert_eq!(onnx["opset"], serde_json::json!([13]));
    assert_eq!(
        onnx["input"],
        serde_json::json!([["pixels", ["N", 1, 28, 28]]])
    );
    assert_eq!(onnx["output"], serde_json::json!([["logits", ["N", 10]]]));
    let metadata = &onnx["metadata"];
    assert_eq!(metadata["dataset"], "mnist");
    assert_eq!(metadata["model"], model);
    assert_eq!(
        metadata["classes"],
        r#"["0","1","2","3","4","5","6","7","8","9"]"#
    );
    assert!(
        onnx["batch_vs_single"].as_f64().unwrap() < 1e-5,
        "a batch of {IMAGES} and one image at a time: {}",
        onnx["batch_vs_single"]
    );
    let ours = infer_probabilities(sandbox, run, IMAGES);
    let worst = largest_difference(&ours, onnx["probabilities"].as_array().unwrap());
    eprintln!(
        "{model}: largest difference from onnxruntime {}: {worst:e}",
        onnx["onnxruntime"]
    );
    assert!(worst < AGREEMENT, "{model}: largest difference {worst}");
    worst
}

#[test]
fn mlps_export_to_onnx_and_onnxruntime_gives_infers_probabilities() {
    let sandbox = Sandbox::new();
    exported_run_agrees(&sandbox, "tutorial", &[], "784-128-10", false);
    exported_run_agrees(
        &sandbox,
        "deep",
        &["--hidden", "64,32", "--activation", "tanh"],
        "784-64-32-10",
        false,
    );
}

#[test]
fn a_calibrated_run_exports_its_temperature_and_threshold_and_onnxruntime_gives_infers_probabilities()
 {
    let sandbox = Sandbox::new();
    exported_run_agrees(
        &sandbox,
        "calibrated",
        &["--valid-size", "200"],
        "784-128-10",
        true,
    );
    let calibration = read_json(&sandbox.path("calibrated/calibration.json"));
    let temperature = calibration["temperature"].as_f64().unwrap();
    // The threshold as f32, as infer compares probabilities with it.
    let threshold = calibration["not_a_digit_below"].as_f64().unwrap() as f32;
    // One epoch on 440 images is far from calibrated (underconfident): onnxruntime agreed with
    // infer's probabilities only because the graph divides by this temperature.
    assert!((temperature - 1.0).abs() > 0.05, "{temperature}");
    let onnx = run_onnx(&sandbox, "calibrated.onnx");
    let said = onnx["metadata"]["temperature"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(said.starts_with(&format!("{temperature}: ")), "{said}");
    let refusals = onnx["metadata"]["not_a_digit_below"].as_str().unwrap();
    assert!(
        refusals.starts_with(&format!("{threshold}: ")),
        "{refusals}"
    );
    // The top-probability map is inside the graph too (the agreement above includes it).
    let slope = calibration["confidence_slope"].as_f64().unwrap();
    let offset = calibration["confidence_offset"].as_f64().unwrap();
    assert!(
        (slope, offset) != (1.0, 0.0),
        "a map that moves nothing tests nothing"
    );
    let said = onnx["metadata"]["confidence"].as_str().unwrap();
    assert!(said.starts_with(&format!("{slope} {offset}: ")), "{said}");
    // PyTorch's export carries it too, in the module's description.
    let exported = sandbox.run([
        "export",
        "--run",
        "calibrated",
        "--safetensors",
        "calibrated.safetensors",
    ]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    let architecture = read_json(&sandbox.path("calibrated.json"));
    assert_eq!(architecture["temperature"].as_f64(), Some(temperature));
    assert_eq!(
        architecture["not_a_digit_below"]
            .as_f64()
            .map(|value| value as f32),
        Some(threshold)
    );
    // And the steadiness test's bound, on the same probabilities as the threshold.
    assert_eq!(
        architecture["unsure_below"]
            .as_f64()
            .map(|value| value as f32),
        calibration["unsure_below"]
            .as_f64()
            .map(|value| value as f32)
    );
    assert!(architecture["unsure_below"].is_number(), "{architecture}");
    let silent: Vec<f64> = (architecture["silent_probabilities"].as_array())
        .map(|values| values.iter().filter_map(|value| value.as_f64()).collect())
        .unwrap_or_default();
    assert_eq!(silent.len(), 10, "{architecture}");
    assert!(
        (silent.iter().sum::<f64>() - 1.0).abs() < 1e-5,
        "{silent:?}"
    );
    // The ONNX metadata names the same reading, refused whatever its top probability.
    let listed = refusals
        .split_once("whose probabilities equal ")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| format!("{list}]"))
        .unwrap_or_default();
    let listed: Vec<f64> = serde_json::from_str(&listed).unwrap_or_default();
    assert_eq!(listed.len(), 10, "{refusals}");
    assert!(
        listed
            .iter()
            .zip(&silent)
            .all(|(a, b)| (a - b).abs() < 1e-7),
        "{listed:?} {silent:?}"
    );
    // The JSON says in words how infer reads the module's output: the temperature, the map,
    // and the same refusals as the ONNX metadata, word for word.
    let reading = architecture["reading"].as_str().unwrap_or_default();
    let rules = refusals
        .split_once("output, ")
        .and_then(|(_, rest)| rest.strip_suffix(" (calibrate)"))
        .unwrap_or_default();
    assert!(!rules.is_empty(), "{refusals}");
    assert!(
        reading.starts_with(&format!(
            "probabilities: softmax(logits / {temperature}), then"
        )),
        "{reading}"
    );
    assert!(reading.ends_with(rules), "{reading}");
    assert_eq!(architecture["confidence_slope"].as_f64(), Some(slope));
    assert_eq!(architecture["confidence_offset"].as_f64(), Some(offset));

    // Imported back, the weights may have been changed in PyTorch: the calibration is not
    // carried over, and the import says so rather than answering uncalibrated unsaid.
    let imported = sandbox.run([
        "import",
        "--pytorch",
        "calibrated.safetensors",
        "--run",
        "back",
    ]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    assert!(
        stdout(&imported).contains("; not its calibration, fitted for the exporting run's weights: the imported run answers uncalibrated, without \"not a digit\""),
        "{}",
        stdout(&imported)
    );
    assert!(!sandbox.path("back/calibration.json").exists());
}

#[test]
fn the_cnn_exports_to_onnx_with_its_normalisation_inside() {
    let sandbox = Sandbox::new();
    exported_run_agrees(
        &sandbox,
        "cnn",
        &["--model", "cnn"],
        "cnn 32C3-64C3-P2-128-10",
        false,
    );
    let onnx = run_onnx(&sandbox, "cnn.onnx");
    assert_eq!(
        onnx["metadata"]["normalization"],
        "(pixels - 0.1307) / 0.3081, inside the graph"
    );
}

#[test]
fn an_onnx_file_is_never_replaced_without_overwrite_and_both_formats_go_together() {
    let sandbox = Sandbox::new();
    let trained = sandbox.run_on(
        &mnist_dir(),
        &["--epochs", "1", "--limit-train", "320", "--run", "run"],
    );
    assert!(trained.status.success(), "{}", stderr(&trained));
    std::fs::write(sandbox.path("mine.onnx"), "the user's own file").unwrap();
    let export = |extra: &[&str]| {
        let mut args = vec!["export", "--run", "run"];
        args.extend(extra);
        sandbox.run(args)
    };
    let line = assert_one_line_error(&export(&["--onnx", "mine.onnx"]));
    assert!(
        line.ends_with("mine.onnx: already exists; pass --overwrite to replace it"),
        "{line}"
    );
    assert_eq!(
        std::fs::read_to_string(sandbox.path("mine.onnx")).unwrap(),
        "the user's own file"
    );
    // Both formats, every destination checked first: the safetensors file is not written
    // either when the ONNX one is refused.
    let line = assert_one_line_error(&export(&[
        "--safetensors",
        "w.safetensors",
        "--onnx",
        "mine.onnx",
    ]));
    assert!(line.contains("mine.onnx: already exists"), "{line}");
    assert!(!sandbox.path("w.safetensors").exists());
    let line = assert_one_line_error(&export(&["--onnx", "missing/model.onnx"]));
    assert!(line.contains("its folder missing does not exist"), "{line}");
    // One file under two spellings, or the architecture JSON the safetensors export writes.
    for onnx in ["./w.safetensors", "w.json"] {
        let line = assert_one_line_error(&export(&[
            "--safetensors",
            "w.safetensors",
            "--onnx",
            onnx,
            "--overwrite",
        ]));
        assert!(
            line.ends_with(&format!(
                "{onnx}: named twice in one export (also as {}); give each file its own name",
                onnx.trim_start_matches("./")
            )),
            "{line}"
        );
        assert!(
            !sandbox.path("w.safetensors").exists(),
            "{onnx}: nothing written"
        );
    }
    // What is no file is never replaced, --overwrite or not: a folder, a device.
    std::fs::create_dir(sandbox.path("folder")).unwrap();
    let line = assert_one_line_error(&export(&["--onnx", "folder", "--overwrite"]));
    assert!(
        line.ends_with("folder: is a folder, not a file; name a file to write"),
        "{line}"
    );
    let line = assert_one_line_error(&export(&["--onnx", "/dev/null", "--overwrite"]));
    assert!(
        line.ends_with("/dev/null: is a device, pipe or socket, not a file; name a file to write"),
        "{line}"
    );
    assert!(
        std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device(),
        "/dev/null is still the device"
    );
    assert!(!export(&[]).status.success(), "a format is required");

    let both = export(&[
        "--safetensors",
        "w.safetensors",
        "--onnx",
        "mine.onnx",
        "--overwrite",
    ]);
    assert!(both.status.success(), "{}", stderr(&both));
    assert!(sandbox.path("w.safetensors").is_file() && sandbox.path("w.json").is_file());
    let onnx = run_onnx(&sandbox, "mine.onnx");
    assert_eq!(onnx["metadata"]["model"], "784-128-10");
}

#[test]
fn export_never_replaces_a_model_json_without_overwrite_and_then_writes_nothing() {
    let sandbox = Sandbox::new();
    let trained = small_run(&sandbox, "run", &["--epochs", "1"]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    std::fs::create_dir(sandbox.path("out")).unwrap();
    // The user's own model.json, where the architecture of out/model.safetensors would go.
    std::fs::write(sandbox.path("out/model.json"), "{\"mine\": true}").unwrap();
    let export = |extra: &[&str]| {
        let mut args = vec![
            "export",
            "--run",
            "run",
            "--safetensors",
            "out/model.safetensors",
        ];
        args.extend(extra);
        sandbox.run(args)
    };
    for extra in [&[][..], &["--onnx", "out/model.onnx"]] {
        let before = fingerprint(sandbox.dir.path());
        let line = assert_one_line_error(&export(extra));
        assert!(
            line.ends_with("out/model.json: already exists; pass --overwrite to replace it"),
            "{extra:?}: {line}"
        );
        assert_eq!(
            changes(&before, &fingerprint(sandbox.dir.path())),
            Vec::<String>::new(),
            "{extra:?}"
        );
    }
    let replaced = export(&["--overwrite"]);
    assert!(replaced.status.success(), "{}", stderr(&replaced));
    let architecture = read_json(&sandbox.path("out/model.json"));
    assert!(architecture.get("mine").is_none(), "{architecture}");
    assert!(sandbox.path("out/model.safetensors").is_file());
}
