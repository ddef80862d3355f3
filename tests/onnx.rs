//! `export --onnx`, checked by an independent runtime: `tests/support/onnx_run.py` loads the
//! file with `onnx.checker` and onnxruntime and gives its probabilities for 200 test images,
//! which must equal `infer`'s within `AGREEMENT` (1e-6), for MLPs of one and two hidden layers
//! (relu, tanh) and the CNN. The Python it runs is `MNIST_TRAINER_PYTHON` (`.ci/run` makes a virtual
//! environment with onnx, onnxruntime and numpy), else `python3`; without those packages the
//! tests fail, saying so.

use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::Command;

use crate::common::*;

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

/// Trains `args` briefly into `run`, exports it to `<run>.onnx`, and compares onnxruntime's
/// probabilities with `infer`'s; returns the largest difference.
fn exported_run_agrees(sandbox: &Sandbox, run: &str, args: &[&str], model: &str) -> f64 {
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
    exported_run_agrees(&sandbox, "tutorial", &[], "784-128-10");
    exported_run_agrees(
        &sandbox,
        "deep",
        &["--hidden", "64,32", "--activation", "tanh"],
        "784-64-32-10",
    );
}

#[test]
fn the_cnn_exports_to_onnx_with_its_normalisation_inside() {
    let sandbox = Sandbox::new();
    exported_run_agrees(
        &sandbox,
        "cnn",
        &["--model", "cnn"],
        "cnn 32C3-64C3-P2-128-10",
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
