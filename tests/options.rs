//! Each of the tutorial's building blocks, chosen from the command line, trains on real data
//! and leaves a record that reloads.

use std::ffi::OsString;

use crate::common::*;

/// Trains on 6,000 images (2 epochs unless `options` say otherwise) and returns the run's
/// summary and epoch metrics.
fn train(
    sandbox: &Sandbox,
    name: &str,
    options: &[&str],
) -> (serde_json::Value, Vec<serde_json::Value>) {
    let data = mnist_dir();
    let mut args: Vec<OsString> = options.iter().map(Into::into).collect();
    if !options.contains(&"--epochs") {
        args.extend(["--epochs", "2"].map(OsString::from));
    }
    args.extend(
        [
            "--limit-train",
            "6000",
            "--limit-test",
            "1000",
            "--run",
            name,
        ]
        .map(OsString::from),
    );
    if !options.contains(&"--dataset") {
        args.push("--data-dir".into());
        args.push(data.into());
    }
    let output = sandbox.run(&args);
    assert!(output.status.success(), "{options:?}: {}", stderr(&output));
    let run = sandbox.path(name);
    (
        read_json(&run.join("summary.json")),
        read_jsonl(&run.join("metrics.jsonl")),
    )
}

/// The run's record, reloaded by `eval` and `infer`, is the model training scored: `eval`
/// gets the summary's test accuracy and loss on the same 1,000 test images, and two backends
/// loading it give the same probabilities.
fn assert_reloads(sandbox: &Sandbox, name: &str, summary: &serde_json::Value) {
    let eval = sandbox.run_on(&mnist_dir(), &["eval", "--run", name, "--json"]);
    assert!(eval.status.success(), "{name}: {}", stderr(&eval));
    let report: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    assert_eq!(report["images"], 1000, "{name}");
    assert_eq!(report["accuracy"], summary["test_accuracy"], "{name}");
    let (loss, test_loss) = (report["loss"].as_f64(), summary["test_loss"].as_f64());
    assert!(
        (loss.unwrap() - test_loss.unwrap()).abs() < 1e-6,
        "{name}: eval's loss {loss:?} against the summary's {test_loss:?}"
    );
    let (flex, ndarray) = (
        infer_probabilities_with(sandbox, name, 20, &["--backend", "flex"]),
        infer_probabilities_with(sandbox, name, 20, &["--backend", "ndarray"]),
    );
    for (a, b) in flex.iter().flatten().zip(ndarray.iter().flatten()) {
        assert!((a - b).abs() < 1e-5, "{name}: flex {a} against ndarray {b}");
    }
}

#[test]
fn every_option_trains_its_loss_falls_and_its_record_reloads() {
    let sandbox = Sandbox::new();
    type Case<'a> = (&'a str, &'a [&'a str], serde_json::Value);
    use serde_json::json;
    // Each case's options, and the fields of config.json they set (a JSON pointer each).
    let cases: [Case; 10] = [
        ("default", &[], json!({})),
        (
            "sigmoid",
            &["--activation", "sigmoid"],
            json!({"/model/activation": "sigmoid"}),
        ),
        (
            "tanh",
            &["--activation", "tanh"],
            json!({"/model/activation": "tanh"}),
        ),
        (
            "two-hidden",
            &["--hidden", "256,128"],
            json!({"/model/hidden_sizes": [256, 128]}),
        ),
        (
            "regression",
            &["--hidden", ""],
            json!({"/model/hidden_sizes": []}),
        ),
        ("mse", &["--loss", "mse"], json!({"/loss": "mse"})),
        (
            "sgd",
            &[
                "--optimizer",
                "sgd",
                "--lr",
                "0.05",
                "--momentum",
                "0.9",
                "--weight-decay",
                "1e-4",
            ],
            json!({
                "/optimizer/kind": "sgd",
                "/learning_rate": 0.05,
                "/optimizer/momentum": 0.9,
                "/optimizer/weight_decay": 1e-4,
            }),
        ),
        (
            "adam-decay",
            &["--weight-decay", "1e-4"],
            json!({"/optimizer/weight_decay": 1e-4}),
        ),
        (
            "cosine",
            &["--lr-schedule", "cosine"],
            json!({"/lr_schedule": "cosine"}),
        ),
        (
            "held-out",
            &["--valid-size", "1000", "--early-stop-patience", "3"],
            json!({"/valid_size": 1000, "/early_stop_patience": 3}),
        ),
    ];
    let mut first_losses = Vec::new();
    let mut default_config = serde_json::Value::Null;
    for (name, options, sets) in &cases {
        let (summary, epochs) = train(&sandbox, name, options);
        assert_eq!(summary["status"], "completed", "{name}");
        assert_eq!(epochs.len(), 2, "{name}");
        let loss = |i: usize| epochs[i]["train_loss"].as_f64().unwrap();
        assert!(
            loss(1) < loss(0),
            "{name}: train loss {} then {}",
            loss(0),
            loss(1)
        );
        first_losses.push(loss(0));
        assert!(
            summary["test_accuracy"].as_f64().unwrap() > 50.0,
            "{name}: {summary}"
        );

        // config.json is the default run's with exactly the fields the options set.
        let config = read_json(&sandbox.path(name).join("config.json"));
        if *name == "default" {
            assert_eq!(config["num_epochs"], 2);
            assert_eq!(config["limit_train"], 6000);
            assert_eq!(config["limit_test"], 1000);
            default_config = config.clone();
        }
        let mut expected = default_config.clone();
        for (pointer, value) in sets.as_object().unwrap() {
            let field = expected
                .pointer_mut(pointer)
                .unwrap_or_else(|| panic!("{name}: no {pointer} in config.json"));
            assert_ne!(field, value, "{name}: {pointer} is already the default");
            *field = value.clone();
        }
        assert_eq!(config, expected, "{name}: config.json");

        assert_reloads(&sandbox, name, &summary);
    }
    // Each option changed the training itself: no two runs had the same first epoch.
    for (i, a) in first_losses.iter().enumerate() {
        for (j, b) in first_losses.iter().enumerate().skip(i + 1) {
            assert_ne!(a, b, "{} and {} trained alike", cases[i].0, cases[j].0);
        }
    }

    let two = read_json(&sandbox.path("two-hidden/summary.json"));
    assert_eq!(two["model"], "784-256-128-10");
    assert_eq!(
        read_json(&sandbox.path("regression/summary.json"))["model"],
        "784-10"
    );
    // A hold-out validates on training images; the test split scores the end.
    let held = read_json(&sandbox.path("held-out/summary.json"));
    assert_eq!(
        (held["train_images"].as_u64(), held["valid_images"].as_u64()),
        (Some(5000), Some(1000))
    );
    assert_eq!(held["test_images"], 1000);

    // A record loaded under another shape's config is a clear error.
    let config_path = sandbox.path("two-hidden/config.json");
    let mut config = read_json(&config_path);
    config["model"]["hidden_sizes"] = serde_json::json!([128]);
    std::fs::write(&config_path, config.to_string()).unwrap();
    let output = sandbox.run([
        "infer".as_ref(),
        "--run".as_ref(),
        sandbox.path("two-hidden").as_os_str(),
        "--data-dir".as_ref(),
        mnist_dir().as_os_str(),
        "--index".as_ref(),
        "0".as_ref(),
    ]);
    let line = assert_one_line_error(&output);
    assert!(
        line.contains("model.bpk: does not fit the model in"),
        "{line}"
    );
}

#[test]
fn early_stopping_ends_a_run_whose_validation_loss_stalls() {
    let sandbox = Sandbox::new();
    // A learning rate this large makes the validation loss bounce; patience 1 then stops it.
    let (summary, epochs) = train(
        &sandbox,
        "stalls",
        &[
            "--lr",
            "0.05",
            "--valid-size",
            "1000",
            "--early-stop-patience",
            "1",
            "--epochs",
            "30",
        ],
    );
    assert!(epochs.len() < 30, "ran all {} epochs", epochs.len());
    assert_eq!(summary["status"], "early-stopped");
    let last = epochs.last().unwrap()["valid_loss"].as_f64().unwrap();
    let best = epochs
        .iter()
        .map(|e| e["valid_loss"].as_f64().unwrap())
        .fold(f64::MAX, f64::min);
    assert!(last > best, "stopped while still improving");
}

#[test]
fn fashion_mnist_trains_past_80_percent_in_one_epoch_with_its_class_names() {
    let sandbox = Sandbox::new();
    let output = sandbox.run([
        "--dataset",
        "fashion-mnist",
        "--epochs",
        "1",
        "--run",
        "fashion",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = read_json(&sandbox.path("fashion/summary.json"));
    assert_eq!(summary["dataset"], "fashion-mnist");
    let accuracy = summary["test_accuracy"].as_f64().unwrap();
    assert!(
        accuracy >= 80.0,
        "Fashion-MNIST after one epoch: {accuracy}%"
    );

    let infer = sandbox.run(["infer", "--run", "fashion", "--index", "0"]);
    assert!(infer.status.success(), "{}", stderr(&infer));
    // Test image 0 of Fashion-MNIST is an ankle boot.
    assert!(
        stdout(&infer).contains("(label Ankle boot (9))"),
        "{}",
        stdout(&infer)
    );
    let eval = sandbox.run(["eval", "--run", "fashion"]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    assert!(stdout(&eval).contains("Trouser"), "{}", stdout(&eval));
}

#[test]
fn invalid_choices_are_one_line_errors_listing_the_valid_values() {
    let sandbox = Sandbox::new();
    let cases: [(&[&str], &str); 6] = [
        (
            &["--activation", "swish"],
            "--activation: unknown activation `swish` (valid: relu, sigmoid, tanh)",
        ),
        (
            &["--loss", "hinge"],
            "--loss: unknown loss `hinge` (valid: cross-entropy, mse)",
        ),
        (
            &["--optimizer", "rmsprop"],
            "--optimizer: unknown optimizer `rmsprop` (valid: adam, sgd)",
        ),
        (
            &["--dataset", "cifar"],
            "--dataset: unknown dataset `cifar` (valid: mnist, fashion-mnist)",
        ),
        (
            &["--optimizer", "sgd", "--momentum", "-0.5"],
            "optimizer.momentum = -0.5 is invalid: must be in [0, 1)",
        ),
        (
            &["--hidden", "0"],
            "model.hidden_sizes = [0] is invalid: a layer needs at least 1 unit",
        ),
    ];
    for (args, needle) in cases {
        let line = assert_one_line_error(&sandbox.run(args));
        assert!(line.contains(needle), "{line:?} lacks {needle:?}");
    }
    let data = mnist_dir();
    let output = sandbox.run_on(&data, &["--valid-size", "70000"]);
    let line = assert_one_line_error(&output);
    assert!(
        line.contains("valid_size = 70000 leaves nothing to train on"),
        "{line}"
    );
}

#[test]
fn flushing_denormals_is_recorded_and_trains_as_well_as_the_default() {
    let sandbox = Sandbox::new();
    let (default, _) = train(&sandbox, "default", &[]);
    let (flushed, epochs) = train(&sandbox, "flushed", &["--flush-denormals"]);
    assert_eq!(flushed["status"], "completed");
    assert_eq!(epochs.len(), 2);
    let config = read_json(&sandbox.path("flushed/config.json"));
    assert_eq!(config["flush_denormals"], true);
    assert_eq!(
        read_json(&sandbox.path("default/config.json"))["flush_denormals"],
        false
    );
    // Only numbers below 1.2e-38 differ: the same seed lands within noise of the default.
    let accuracy = |summary: &serde_json::Value| summary["test_accuracy"].as_f64().unwrap();
    assert!(
        (accuracy(&default) - accuracy(&flushed)).abs() < 1.0,
        "default {default}, flushed {flushed}"
    );
}
