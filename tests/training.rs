//! Training: the real binary trains on real MNIST (and Fashion-MNIST) on every backend and its
//! model reloads; each of the tutorial's building blocks, chosen from the command line, and the
//! CNN train and leave a record that reloads; a seed gives the same epochs; a terminal gets the
//! dashboard and the results after it; `--augment` trains reproducibly; early stopping and
//! `--keep best` go by the held-out loss; and a loss that becomes NaN or infinite fails the run
//! and keeps no model.

use std::ffi::OsString;
use std::process::Output;

use crate::common::*;

// The real binary on every backend.

fn indices(range: std::ops::Range<usize>) -> String {
    range.map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

#[test]
fn one_epoch_on_ndarray_learns_and_the_record_reloads_on_every_backend() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let output = sandbox.run_on(
        &data,
        &["--backend", "ndarray", "--epochs", "1", "--run", "run"],
    );
    let out = stdout(&output);
    assert!(
        output.status.success(),
        "stdout: {out}\nstderr: {}",
        stderr(&output)
    );

    // Piped output: plain lines, one per epoch, no terminal escape codes.
    assert!(
        !out.contains('\x1b'),
        "escape codes in piped output: {out:?}"
    );
    // What the run is about to do (the model's table, the data, the device), then the epochs.
    assert!(out.starts_with("training run"), "{out}");
    assert!(out.contains("  hidden.0 "), "the model's table: {out}");
    // One line for the epoch (a slow machine adds progress lines within it), then the results.
    let epochs = epoch_lines(&out);
    assert_eq!(epochs.len(), 1, "{out}");
    assert!(epochs[0].starts_with("epoch 1/1  train loss "), "{out}");
    let after: Vec<&str> = out.lines().skip_while(|l| *l != epochs[0]).collect();
    assert!(
        after.len() <= 5,
        "expected a few lines, got {}: {out}",
        after.len()
    );
    assert!(out.contains("test accuracy "), "{out}");

    let run = sandbox.path("run");
    let summary = read_json(&run.join("summary.json"));
    assert_eq!(summary["status"], "completed");
    assert_eq!(summary["backend"], "ndarray");
    assert_eq!(summary["epochs_completed"], 1);
    assert_eq!(summary["train_images"], 60_000);
    assert_eq!(summary["test_images"], 10_000);
    let accuracy = summary["test_accuracy"].as_f64().unwrap();
    assert!(accuracy >= 93.0, "one epoch reached only {accuracy}%");

    let epochs = read_jsonl(&run.join("metrics.jsonl"));
    assert_eq!(epochs.len(), 1);
    assert_eq!(epochs[0]["epoch"], 1);
    // Validation runs on the test split, so its accuracy is the final model's test accuracy.
    let valid_accuracy = epochs[0]["valid_accuracy"].as_f64().unwrap();
    assert!(
        (valid_accuracy - accuracy).abs() < 0.01,
        "{valid_accuracy} vs {accuracy}"
    );
    // The training split's seconds are part of the epoch's, the validation's the rest.
    let (train, whole) = (
        epochs[0]["train_seconds"].as_f64(),
        epochs[0]["seconds"].as_f64(),
    );
    let (train, whole) = (train.unwrap(), whole.unwrap());
    assert!(0.0 < train && train < whole, "train {train} s of {whole} s");
    assert!(run.join("config.json").is_file());
    assert!(run.join("checkpoint").is_dir());

    // The reloaded record predicts every test image as the trained model did.
    let all = sandbox.run([
        "infer".as_ref(),
        "--backend".as_ref(),
        "ndarray".as_ref(),
        "--run".as_ref(),
        run.as_os_str(),
        "--data-dir".as_ref(),
        data.as_os_str(),
        "--json".as_ref(),
        "--index".as_ref(),
        indices(0..10_000).as_ref(),
    ]);
    assert!(all.status.success(), "{}", stderr(&all));
    let predictions: Vec<serde_json::Value> = stdout(&all)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(predictions.len(), 10_000);
    let correct = predictions
        .iter()
        .filter(|p| p["class"] == p["label"])
        .count();
    assert_eq!(100.0 * correct as f64 / 10_000.0, accuracy);

    // Any backend loads the ndarray-trained record and agrees with it (infer's default is flex).
    for backend in ["flex", "wgpu"] {
        let other = sandbox.run([
            "infer".as_ref(),
            "--backend".as_ref(),
            backend.as_ref(),
            "--run".as_ref(),
            run.as_os_str(),
            "--data-dir".as_ref(),
            data.as_os_str(),
            "--json".as_ref(),
            "--index".as_ref(),
            indices(0..50).as_ref(),
        ]);
        assert!(other.status.success(), "{backend}: {}", stderr(&other));
        assert_eq!(
            stdout(&other).lines().count(),
            50,
            "{backend}: one answer per image"
        );
        for (line, reference) in stdout(&other).lines().zip(&predictions) {
            let prediction: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(prediction["class"], reference["class"], "{backend}: {line}");
            let p = prediction["top3"][0]["probability"].as_f64().unwrap();
            let q = reference["top3"][0]["probability"].as_f64().unwrap();
            assert!((p - q).abs() < 1e-4, "{backend}: {p} vs {q}");
        }
    }
    // Without XDG_RUNTIME_DIR (a headless machine, a container), wgpu's windowing libraries
    // print no `error:` lines: only this program's errors say `error:`.
    let headless = std::process::Command::new(env!("CARGO_BIN_EXE_mnist-trainer"))
        .args(["infer", "--backend", "wgpu", "--index", "0", "--run"])
        .arg(&run)
        .arg("--data-dir")
        .arg(&data)
        .current_dir(sandbox.dir.path())
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    assert!(headless.status.success(), "{}", stderr(&headless));
    assert!(
        !stderr(&headless).contains("error"),
        "{}",
        stderr(&headless)
    );

    // Human-readable infer output names the digit and its label.
    let text = sandbox.run([
        "infer".as_ref(),
        "--run".as_ref(),
        run.as_os_str(),
        "--data-dir".as_ref(),
        data.as_os_str(),
        "--index".as_ref(),
        "0".as_ref(),
    ]);
    let text_out = stdout(&text);
    assert!(text_out.starts_with("#0: predicted "), "{text_out}");
    assert!(text_out.contains("(label 7)"), "{text_out}");
}

#[test]
fn wgpu_trains_on_a_few_thousand_images_and_its_loss_falls() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let output = sandbox.run_on(
        &data,
        &[
            "--backend",
            "wgpu",
            "--epochs",
            "2",
            "--limit-train",
            "3000",
            "--limit-test",
            "1000",
            "--run",
            "run",
        ],
    );
    assert!(
        output.status.success(),
        "stdout: {}\nstderr: {}",
        stdout(&output),
        stderr(&output)
    );
    let run = sandbox.path("run");
    let summary = read_json(&run.join("summary.json"));
    assert_eq!(summary["backend"], "wgpu");
    assert_eq!(summary["train_images"], 3000);
    assert_eq!(summary["test_images"], 1000);
    let epochs = read_jsonl(&run.join("metrics.jsonl"));
    assert_eq!(epochs.len(), 2);
    let loss = |i: usize| epochs[i]["train_loss"].as_f64().unwrap();
    assert!(
        loss(1) < loss(0),
        "train loss did not fall: {} then {}",
        loss(0),
        loss(1)
    );
    // 3,000 images are enough for a clearly-better-than-chance model.
    let accuracy = summary["test_accuracy"].as_f64().unwrap();
    assert!(accuracy > 80.0, "wgpu model reached only {accuracy}%");
}

#[test]
fn a_machine_without_a_gpu_driver_gets_one_line_in_words() {
    let sandbox = Sandbox::new();
    let data = sandbox.path("data");
    valid_folder(&data);
    // No Vulkan driver and no OpenGL one: what a machine without GPU drivers offers wgpu.
    let output = run_with_env(
        &sandbox,
        &[
            "--backend",
            "wgpu",
            "--epochs",
            "1",
            "--run",
            "run",
            "--data-dir",
            "data",
        ],
        &[
            ("VK_ICD_FILENAMES", "/nonexistent/icd.json"),
            ("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent/egl.json"),
        ],
    );
    let line = assert_one_line_error(&output);
    assert!(
        line.contains("the wgpu backend cannot start: no usable GPU adapter was found"),
        "{line}"
    );
    assert!(!line.contains("unwrap"), "{line}");
    assert!(!sandbox.path("run").exists());
}

/// flex is bit-reproducible; ndarray is not when the machine is busy (see DEVELOPERS.md), so it
/// is held to "the same to a few parts in a million", and its accuracies to one image.
#[test]
fn the_same_seed_gives_the_same_epochs_exactly_on_flex_and_closely_on_ndarray() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let train = |backend: &str, name: &str| {
        let output = sandbox.run([
            "--backend".as_ref(),
            backend.as_ref(),
            "--epochs".as_ref(),
            "2".as_ref(),
            "--limit-train".as_ref(),
            "4000".as_ref(),
            "--limit-test".as_ref(),
            "1000".as_ref(),
            "--seed".as_ref(),
            "7".as_ref(),
            "--data-dir".as_ref(),
            data.as_os_str(),
            "--run".as_ref(),
            name.as_ref(),
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
        epochs_without_seconds(&sandbox.path(name).join("metrics.jsonl"))
    };
    assert_eq!(train("flex", "flex-a"), train("flex", "flex-b"));
    let (a, b) = (train("ndarray", "ndarray-a"), train("ndarray", "ndarray-b"));
    assert_eq!(a.len(), b.len());
    for (a, b) in a.iter().zip(&b) {
        for (key, value) in a.as_object().unwrap() {
            let (x, y) = (value.as_f64().unwrap(), b[key].as_f64().unwrap());
            // Last-bit differences move the losses by parts in a million, but can flip an image
            // whose two best classes are that close: an accuracy may move by one image (0.1
            // point of the 1,000 test images, 0.025 of the 4,000 training images).
            let tolerance = if key.ends_with("accuracy") {
                0.1 + 1e-9
            } else {
                1e-5 * x.abs().max(1.0)
            };
            assert!((x - y).abs() <= tolerance, "{key}: {a} vs {b}");
        }
    }
}

/// On a terminal the dashboard runs, and the results are printed after it has left the
/// alternate screen (printed before, they would vanish with it). `script` (util-linux) gives
/// the binary a pseudo-terminal.
#[cfg(target_os = "linux")]
#[test]
fn on_a_terminal_the_dashboard_runs_and_the_results_follow_it() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let command = format!(
        "{} --epochs 2 --limit-train 2000 --limit-test 500 --run run --data-dir {}",
        env!("CARGO_BIN_EXE_mnist-trainer"),
        data.display()
    );
    let output = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(sandbox.dir.path())
        .env("XDG_RUNTIME_DIR", sandbox.path(""))
        .output()
        .expect("script (util-linux) runs");
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{screen}");
    let (enter, leave) = ("\x1b[?1049h", "\x1b[?1049l");
    let left_at = screen
        .rfind(leave)
        .expect("the dashboard left the alternate screen");
    assert!(
        screen.find(enter).is_some_and(|entered| entered < left_at),
        "{screen:?}"
    );
    assert!(screen[left_at..].contains("test accuracy "), "{screen:?}");
    assert_eq!(
        read_json(&sandbox.path("run/summary.json"))["status"],
        "completed"
    );
}

// The tutorial's building blocks, chosen from the command line.

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

#[test]
fn augmented_training_is_reproducible_resumes_identically_and_changes_what_is_trained_on() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let base = [
        "--limit-train",
        "3000",
        "--limit-test",
        "1000",
        "--seed",
        "5",
    ];
    let train = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend(extra);
        let output = sandbox.run_on(&data, &args);
        assert!(output.status.success(), "{extra:?}: {}", stderr(&output));
    };
    train(&["--augment", "--epochs", "2", "--run", "augmented"]);
    train(&[
        "--augment",
        "--epochs",
        "2",
        "--num-workers",
        "2",
        "--run",
        "workers",
    ]);
    train(&["--augment", "--epochs", "1", "--run", "resumed"]);
    let output = sandbox.run_on(&data, &["--resume", "resumed", "--epochs", "2"]);
    assert!(output.status.success(), "{}", stderr(&output));
    train(&["--epochs", "2", "--run", "plain"]);

    let epochs = |run: &str| epochs_without_seconds(&sandbox.path(&format!("{run}/metrics.jsonl")));
    let score = |run: &str| {
        let summary = read_json(&sandbox.path(&format!("{run}/summary.json")));
        (
            summary["test_accuracy"].clone(),
            summary["test_loss"].clone(),
        )
    };
    assert_eq!(epochs("augmented").len(), 2);
    for other in ["workers", "resumed"] {
        assert_eq!(epochs(other), epochs("augmented"), "{other}");
        assert_eq!(score(other), score("augmented"), "{other}: another model");
    }
    assert_ne!(
        epochs("plain")[0]["train_loss"],
        epochs("augmented")[0]["train_loss"],
        "--augment trains on other images"
    );
    let config = read_json(&sandbox.path("augmented/config.json"));
    assert_eq!(config["augment"], true);
    assert_eq!(
        read_json(&sandbox.path("plain/config.json"))["augment"],
        false
    );
}

// The CNN.

/// A short CNN run on the first 640 training and 200 test images.
fn cnn_args<'a>(run: &'a str, epochs: &'a str) -> Vec<&'a str> {
    vec![
        "--model",
        "cnn",
        "--epochs",
        epochs,
        "--limit-train",
        "640",
        "--limit-test",
        "200",
        "--run",
        run,
    ]
}

#[test]
fn the_cnn_records_what_it_is_and_resumes_with_workers_to_the_epochs_of_an_uninterrupted_run() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let full = sandbox.run_on(&data, &cnn_args("full", "3"));
    assert!(full.status.success(), "{}", stderr(&full));
    let part = sandbox.run_on(&data, &cnn_args("part", "1"));
    assert!(part.status.success(), "{}", stderr(&part));
    // Batches prepared on two other threads: the same masks all the same.
    let resumed = sandbox.run(["--resume", "part", "--epochs", "3", "--num-workers", "2"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));

    let config = read_json(&sandbox.path("full/config.json"));
    assert_eq!(config["model"]["kind"], "cnn");
    assert_eq!(
        config["model"]["input_normalization"],
        serde_json::json!({"mean": 0.1307, "std": 0.3081}),
        "the normalisation is recorded with the run"
    );
    let [full, part] =
        ["full", "part"].map(|run| read_json(&sandbox.path(run).join("summary.json")));
    assert_eq!(full["model"], "cnn 32C3-64C3-P2-128-10");
    assert_eq!(
        full["parameters"], 1_199_882,
        "Net's count, as PyTorch gives it"
    );
    // Dropout draws new masks every step: only masks seeded per batch give these equalities.
    let epochs = epochs_without_seconds(&sandbox.path("full/metrics.jsonl"));
    assert_eq!(epochs.len(), 3);
    assert_eq!(
        epochs,
        epochs_without_seconds(&sandbox.path("part/metrics.jsonl"))
    );
    assert_eq!(full["test_accuracy"], part["test_accuracy"]);
    assert!(
        full["test_accuracy"].as_f64().unwrap() > 80.0,
        "it learns: {}",
        full["test_accuracy"]
    );
}

#[test]
fn the_cnn_trains_through_the_flex_kernels_as_through_burns_modules_but_for_rounding() {
    // The same run with the project's convolution and pool (model/flex_ops) and with Burn's
    // modules: the same mathematics, so the epochs agree closely, but not to the bit (each sum
    // is grouped differently), which shows the two runs took different paths.
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let data_arg = data.to_str().expect("a UTF-8 path");
    let args = |run| [cnn_args(run, "2"), vec!["--data-dir", data_arg]].concat();
    let ours = run_with_env(&sandbox, &args("ours"), &[]);
    assert!(ours.status.success(), "{}", stderr(&ours));
    let burns = run_with_env(
        &sandbox,
        &args("burns"),
        &[("MNIST_TRAINER_BURN_CONV", "1")],
    );
    assert!(burns.status.success(), "{}", stderr(&burns));
    let [ours, burns] = ["ours", "burns"]
        .map(|run| epochs_without_seconds(&sandbox.path(run).join("metrics.jsonl")));
    assert_ne!(ours, burns, "MNIST_TRAINER_BURN_CONV=1 changed nothing");
    for (a, b) in ours.iter().zip(&burns) {
        for field in ["train_loss", "valid_loss"] {
            let (a, b) = (a[field].as_f64().unwrap(), b[field].as_f64().unwrap());
            assert!((a - b).abs() < 0.01 * b, "{field}: {a} vs Burn's {b}");
        }
        for field in ["train_accuracy", "valid_accuracy"] {
            let (a, b) = (a[field].as_f64().unwrap(), b[field].as_f64().unwrap());
            assert!((a - b).abs() <= 2.0, "{field}: {a}% vs Burn's {b}%");
        }
    }
}

#[test]
fn every_command_reads_a_cnn_run_with_its_normalisation() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let train = sandbox.run_on(&data, &cnn_args("run", "1"));
    assert!(train.status.success(), "{}", stderr(&train));
    let summary = read_json(&sandbox.path("run/summary.json"));

    // eval scores the same 200 images as training's test did, so the same accuracy: the
    // model it rebuilds from the run normalises its inputs as training did.
    let eval = sandbox.run(["eval", "--run", "run", "--json"]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    let scored: serde_json::Value = serde_json::from_str(stdout(&eval).trim()).unwrap();
    let [evaluated, tested] =
        [&scored["accuracy"], &summary["test_accuracy"]].map(|a| a.as_f64().unwrap());
    assert!(
        (evaluated - tested).abs() < 1e-9,
        "eval {evaluated}%, training's test {tested}%"
    );

    let infer = sandbox.run(["infer", "--run", "run", "--json", "--index", "0,1,2"]);
    assert!(infer.status.success(), "{}", stderr(&infer));
    let answers: Vec<serde_json::Value> = stdout(&infer)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(answers.len(), 3, "one answer per index");
    for answer in &answers {
        let total: f64 = answer["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_f64().unwrap())
            .sum();
        assert!((total - 1.0).abs() < 1e-4, "{answer}");
    }
    let report = sandbox.run(["report", "--run", "run"]);
    assert!(report.status.success(), "{}", stderr(&report));
    assert!(sandbox.path("run/curves.png").is_file());
}

#[test]
fn the_mlps_own_settings_are_refused_for_the_cnn_naming_the_flag() {
    let sandbox = Sandbox::new();
    let cases: [(&[&str], &str); 3] = [
        (
            &["--hidden", "64"],
            "--hidden: model.hidden_sizes = [64] is invalid: the cnn's Linear part is Net's, [128]",
        ),
        (
            &["--activation", "tanh"],
            "--activation: model.activation = tanh is invalid: the cnn is Net, with relu",
        ),
        (
            &["--config", "normalisation.json"],
            "model.input_normalization = {\"mean\": 0.5, \"std\": 0} is invalid: its std must be a positive number",
        ),
    ];
    std::fs::write(
        sandbox.path("normalisation.json"),
        r#"{"model": {"input_normalization": {"mean": 0.5, "std": 0.0}}}"#,
    )
    .unwrap();
    for (extra, expected) in cases {
        let mut args = cnn_args("run", "1");
        args.extend(extra);
        let line = assert_one_line_error(&sandbox.run_on(&mnist_dir(), &args));
        assert!(line.contains(expected), "{extra:?}: {line}");
        assert!(!sandbox.path("run").exists(), "a refused run left a folder");
    }
}

// Early stopping and the best epoch, by the held-out loss.

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

/// The epochs `checkpoint/` holds a file of, in order.
fn checkpoint_epochs(run: &std::path::Path) -> Vec<usize> {
    let mut epochs: Vec<usize> = std::fs::read_dir(run.join("checkpoint"))
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".bpk")?.rsplit_once('-')?.1.parse().ok()
        })
        .collect();
    epochs.sort_unstable();
    epochs.dedup();
    epochs
}

/// Trains on 3,000 images with the quick limits and `args`, at a step large enough that the
/// validation loss goes up and down: its lowest is not at the end.
fn unsteady_run(sandbox: &Sandbox, args: &[&str]) -> std::process::Output {
    let mut all = vec![
        "--limit-train",
        "3000",
        "--limit-test",
        "500",
        "--lr",
        "0.05",
    ];
    all.extend(args);
    sandbox.run_on(&mnist_dir(), &all)
}

/// The epochs whose checkpoints a run keeps after epoch `last`: the last two, and `best`.
fn kept_epochs(best: usize, last: usize) -> Vec<usize> {
    let mut kept = vec![best, last - 1, last];
    kept.sort_unstable();
    kept.dedup();
    kept
}

/// The epoch of `metrics.jsonl`'s lines with the lowest validation loss.
fn lowest_valid_loss(epochs: &[serde_json::Value]) -> usize {
    let loss = |epoch: &serde_json::Value| epoch["valid_loss"].as_f64().unwrap();
    let best = epochs
        .iter()
        .min_by(|a, b| loss(a).total_cmp(&loss(b)))
        .unwrap();
    best["epoch"].as_u64().unwrap() as usize
}

/// The probabilities `infer --json` gives for test images 0-9 with `extra` flags.
fn probabilities(sandbox: &Sandbox, extra: &[&str]) -> Vec<serde_json::Value> {
    let data = mnist_dir();
    let mut args = vec![
        "infer",
        "--run",
        "run",
        "--index",
        "0,1,2,3,4,5,6,7,8,9",
        "--json",
    ];
    args.extend(extra);
    let output = sandbox.run_on(&data, &args);
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output)
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["probabilities"].clone()
        })
        .collect()
}

#[test]
fn the_best_epoch_is_kept_by_held_out_loss_and_any_kept_epoch_can_be_used() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let run = |args: &[&str]| unsteady_run(&sandbox, args);
    // Chosen on the test split, the test score would mean nothing: refused.
    let line = assert_one_line_error(&run(&["--keep", "best", "--run", "run"]));
    assert!(
        line.contains("--keep: keep = best is invalid") && line.contains("--valid-size"),
        "{line}"
    );

    let trained = run(&[
        "--epochs",
        "6",
        "--valid-size",
        "500",
        "--keep",
        "best",
        "--run",
        "run",
    ]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    let root = sandbox.path("run");
    let epochs = read_jsonl(&root.join("metrics.jsonl"));
    let best = lowest_valid_loss(&epochs);
    let summary = read_json(&root.join("summary.json"));
    assert_eq!(summary["model_epoch"], best, "{summary}");
    if best != 6 {
        let said = format!("model.bpk is epoch {best}'s, the lowest validation loss");
        assert!(stdout(&trained).contains(&said), "{}", stdout(&trained));
    }
    // checkpoint/ holds the last two epochs and the best one, nothing else.
    let promised = kept_epochs(best, 6);
    assert_eq!(checkpoint_epochs(&root), promised);

    // model.bpk is the best epoch's model: every command can read it, and any kept epoch.
    let kept = probabilities(&sandbox, &[]);
    assert_eq!(
        probabilities(&sandbox, &["--epoch", &best.to_string()]),
        kept
    );
    if best != 6 {
        assert_ne!(probabilities(&sandbox, &["--epoch", "6"]), kept);
    }
    let gone = (1..=6)
        .find(|epoch| !promised.contains(epoch))
        .unwrap()
        .to_string();
    let line = assert_one_line_error(&sandbox.run_on(
        &data,
        &["infer", "--run", "run", "--index", "0", "--epoch", &gone],
    ));
    assert!(
        line.contains(&format!("no model of epoch {gone} is kept (kept: ")),
        "{line}"
    );
    let eval = sandbox.run_on(&data, &["eval", "--run", "run", "--epoch", "5"]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    assert!(
        stdout(&eval).contains("epoch 5's model; nothing written"),
        "{}",
        stdout(&eval)
    );
    assert!(!root.join("eval.json").exists());
    let export = sandbox.run([
        "export",
        "--run",
        "run",
        "--epoch",
        "5",
        "--safetensors",
        "five.safetensors",
    ]);
    assert!(export.status.success(), "{}", stderr(&export));

    // Checkpoints left by the run a resume continues (epochs it had not finished, as a kill can
    // leave them) are deleted once the resumed run checkpoints.
    for kind in ["model", "optim", "scheduler"] {
        std::fs::copy(
            root.join(format!("checkpoint/{kind}-6.bpk")),
            root.join(format!("checkpoint/{kind}-9.bpk")),
        )
        .unwrap();
    }
    let resumed = sandbox.run_on(&data, &["--resume", "run", "--epochs", "8"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let epochs = read_jsonl(&root.join("metrics.jsonl"));
    assert_eq!(epochs.len(), 8);
    let best = lowest_valid_loss(&epochs);
    let promised = kept_epochs(best, 8);
    assert_eq!(checkpoint_epochs(&root), promised);
    assert_eq!(read_json(&root.join("summary.json"))["model_epoch"], best);
}

#[test]
fn early_stopping_counts_the_epochs_before_a_resume() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let run = |args: &[&str]| {
        let mut all = vec!["--valid-size", "500", "--early-stop-patience", "3"];
        all.extend(args);
        let output = unsteady_run(&sandbox, &all);
        assert!(output.status.success(), "{}", stderr(&output));
    };
    run(&["--epochs", "12", "--run", "whole"]);
    let whole = epochs_without_seconds(&sandbox.path("whole/metrics.jsonl"));
    assert!(
        whole.len() < 12,
        "the loss stalls within 12 epochs: {whole:?}"
    );
    assert_eq!(
        read_json(&sandbox.path("whole/summary.json"))["status"],
        "early-stopped"
    );
    // The same run in two parts stops after the same epoch, with the same numbers.
    run(&["--epochs", "4", "--run", "parts"]);
    let resumed = sandbox.run_on(&data, &["--resume", "parts", "--epochs", "12"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_eq!(
        epochs_without_seconds(&sandbox.path("parts/metrics.jsonl")),
        whole
    );
    // A run early stopping ended has nothing left to resume.
    let line =
        assert_one_line_error(&sandbox.run_on(&data, &["--resume", "whole", "--epochs", "20"]));
    assert!(
        line.contains(&format!("whole: stopped early after epoch {}", whole.len())),
        "{line}"
    );
}

// A loss that diverges: NaN, or infinite.

/// Asserts a training that diverged failed as the README promises: one error line containing
/// `cause`, run `run` recorded as failed, and no model.bpk kept. Returns the line.
fn assert_diverged_without_model(
    sandbox: &Sandbox,
    output: &Output,
    run: &str,
    cause: &str,
) -> String {
    let line = assert_one_line_error(output);
    assert!(line.contains(cause), "{line}");
    let summary = read_json(&sandbox.path(run).join("summary.json"));
    assert_eq!(summary["status"], "failed");
    assert!(!sandbox.path(run).join("model.bpk").exists());
    line
}

#[test]
fn a_loss_that_becomes_nan_fails_the_run_and_keeps_no_model() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let output = sandbox.run_on(
        &data,
        &["--lr", "1e30", "--limit-train", "3000", "--run", "run"],
    );
    assert_diverged_without_model(
        &sandbox,
        &output,
        "run",
        "training diverged: the training loss became NaN",
    );
    // Using the run says what happened to it and what to do, not that a record is unreadable.
    for args in [
        &["eval", "--run", "run"][..],
        &["infer", "--run", "run", "--index", "0"][..],
    ] {
        let line = assert_one_line_error(&sandbox.run(args));
        assert!(
            line.contains("run: no model: the run failed and kept no model"),
            "{args:?}: {line}"
        );
        assert!(line.contains("--resume run"), "{args:?}: {line}");
    }
}

#[test]
fn a_loss_that_becomes_infinite_fails_the_run_and_keeps_no_model() {
    let sandbox = Sandbox::new();
    // Inputs divided by a std of 2e-38 reach 5e37: the logits stay finite but their differences
    // overflow f32, so log-softmax gives -inf and the loss +inf (not NaN, which needs inf - inf;
    // a NaN loss is the test above, `a_loss_that_becomes_nan_fails_the_run_and_keeps_no_model`).
    std::fs::write(
        sandbox.path("overflow.json"),
        r#"{"model": {"input_normalization": {"mean": 0.0, "std": 2e-38}}}"#,
    )
    .unwrap();
    let output = small_run(
        &sandbox,
        "run",
        &["--config", "overflow.json", "--epochs", "2"],
    );
    assert_diverged_without_model(
        &sandbox,
        &output,
        "run",
        "training diverged: the training loss became inf in epoch 1",
    );
    assert!(read_jsonl(&sandbox.path("run/metrics.jsonl")).is_empty());
}

#[test]
fn letters_drawn_in_fonts_join_the_outliers_resume_identically_and_need_outlier_exposure() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let small = ["--limit-train", "800", "--limit-test", "200", "--seed", "5"];
    let train = |extra: &[&str]| {
        let output = sandbox.run_on(&data, &[&small[..], extra].concat());
        assert!(output.status.success(), "{extra:?}: {}", stderr(&output));
        stderr(&output) + &stdout(&output)
    };
    let taught = ["--outlier-exposure", "0.35", "--model", "cnn"];
    let letters = [&taught[..], &["--font-outliers", "300"]].concat();
    let said = train(&[&letters[..], &["--epochs", "2", "--run", "letters"]].concat());
    assert!(
        said.contains("font_outliers: drawing 300 letters and symbols in "),
        "{said}"
    );
    assert!(
        said.contains(
            "200 test images; outlier exposure 0.35: 32 outliers with each batch of 64 (pairs of \
             digits, tangles, and 300 letters and symbols drawn in fonts)"
        ),
        "the data line names what is shown beside the images: {said}"
    );
    train(&[&letters[..], &["--epochs", "1", "--run", "resumed"]].concat());
    let output = sandbox.run_on(&data, &["--resume", "resumed", "--epochs", "2"]);
    assert!(output.status.success(), "{}", stderr(&output));
    train(&[&taught[..], &["--epochs", "2", "--run", "made-up"]].concat());

    let epochs = |run: &str| epochs_without_seconds(&sandbox.path(&format!("{run}/metrics.jsonl")));
    assert_eq!(epochs("resumed"), epochs("letters"));
    assert_ne!(
        epochs("made-up")[0]["train_loss"],
        epochs("letters")[0]["train_loss"],
        "letters change what is trained"
    );
    assert_eq!(
        read_json(&sandbox.path("letters/config.json"))["font_outliers"],
        300
    );
    let record = read_json(&sandbox.path("letters/data.json"));
    assert!(
        record["fonts"]
            .as_object()
            .is_some_and(|fonts| fonts.contains_key("truetype/dejavu/DejaVuSans.ttf")),
        "the fonts drawn in are recorded: {record}"
    );

    // Letters are outliers: without Outlier Exposure they would be shown to nothing.
    let output = sandbox.run_on(
        &data,
        &[&small[..], &["--font-outliers", "300", "--run", "none"]].concat(),
    );
    let line = assert_one_line_error(&output);
    assert!(
        line.contains("give outlier_exposure a weight (--outlier-exposure 0.35)"),
        "{line}"
    );
    assert!(!sandbox.path("none").exists());
}

#[test]
fn outlier_exposure_is_reproducible_resumes_identically_and_is_off_by_default() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let train = |extra: &[&str]| {
        let mut args = vec!["--limit-train", "800", "--limit-test", "200", "--seed", "5"];
        args.extend(extra);
        let output = sandbox.run_on(&data, &args);
        assert!(output.status.success(), "{extra:?}: {}", stderr(&output));
    };
    let taught = ["--outlier-exposure", "0.5", "--model", "cnn"];
    train(&[&taught[..], &["--epochs", "2", "--run", "taught"]].concat());
    train(
        &[
            &taught[..],
            &["--epochs", "2", "--num-workers", "2", "--run", "workers"],
        ]
        .concat(),
    );
    train(&[&taught[..], &["--epochs", "1", "--run", "resumed"]].concat());
    let output = sandbox.run_on(&data, &["--resume", "resumed", "--epochs", "2"]);
    assert!(output.status.success(), "{}", stderr(&output));
    train(&["--model", "cnn", "--epochs", "2", "--run", "plain"]);
    train(&[
        "--model",
        "cnn",
        "--epochs",
        "2",
        "--outlier-exposure",
        "0",
        "--run",
        "zero",
    ]);

    let epochs = |run: &str| epochs_without_seconds(&sandbox.path(&format!("{run}/metrics.jsonl")));
    let score = |run: &str| {
        let summary = read_json(&sandbox.path(&format!("{run}/summary.json")));
        (
            summary["test_accuracy"].clone(),
            summary["test_loss"].clone(),
        )
    };
    for other in ["workers", "resumed"] {
        assert_eq!(epochs(other), epochs("taught"), "{other}");
        assert_eq!(score(other), score("taught"), "{other}: another model");
    }
    assert_eq!(
        epochs("zero"),
        epochs("plain"),
        "a weight of 0 is the default"
    );
    assert_ne!(
        epochs("plain")[0]["train_loss"],
        epochs("taught")[0]["train_loss"],
        "outliers change what is trained"
    );
    assert_eq!(
        read_json(&sandbox.path("taught/config.json"))["outlier_exposure"],
        0.5
    );
    assert_eq!(
        read_json(&sandbox.path("plain/config.json"))["outlier_exposure"],
        0.0
    );
}

#[test]
fn digits_drawn_in_fonts_join_the_training_images_resume_identically_in_the_recorded_fonts_and_other_fonts_are_refused()
 {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let train = |extra: &[&str]| {
        let mut args = vec!["--limit-train", "600", "--limit-test", "200"];
        args.extend(["--valid-size", "100"]);
        args.extend(extra);
        let output = sandbox.run_on(&data, &args);
        assert!(output.status.success(), "{extra:?}: {}", stderr(&output));
        stdout(&output)
    };
    let fonts = ["--font-digits", "300"];
    let out = train(&[&fonts[..], &["--epochs", "2", "--run", "whole"]].concat());
    assert!(
        out.contains("800 training images (300 digits drawn in fonts), validated on 100 held-out"),
        "{out}"
    );
    let record = read_json(&sandbox.path("whole/data.json"));
    let named = record["fonts"]
        .as_object()
        .expect("data.json names the fonts");
    let dejavu = "truetype/dejavu/DejaVuSans.ttf";
    assert!(named.len() >= 10 && named.contains_key(dejavu), "{named:?}");
    assert!(
        !named.contains_key("opentype/urw-base35/D050000L.otf"),
        "Dingbats draws no digit"
    );

    train(&[&fonts[..], &["--epochs", "1", "--run", "resumed"]].concat());
    let output = sandbox.run_on(&data, &["--resume", "resumed", "--epochs", "2"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let epochs = |run: &str| epochs_without_seconds(&sandbox.path(&format!("{run}/metrics.jsonl")));
    assert_eq!(epochs("resumed"), epochs("whole"));

    // A run whose fonts were other files (a package upgraded since) is not resumed with
    // these: its digits would be others.
    train(&[&fonts[..], &["--epochs", "1", "--run", "moved"]].concat());
    let path = sandbox.path("moved/data.json");
    let mut record = read_json(&path);
    record["fonts"]["truetype/dejavu/DejaVuSans.ttf"]["crc32"] = serde_json::json!("00000000");
    std::fs::write(&path, record.to_string()).unwrap();
    let before = fingerprint(&sandbox.path("moved"));
    let output = sandbox.run_on(&data, &["--resume", "moved", "--epochs", "2"]);
    let line = assert_one_line_error(&output);
    assert!(
        line.contains("truetype/dejavu/DejaVuSans.ttf is another file"),
        "{line}"
    );
    assert!(changes(&before, &fingerprint(&sandbox.path("moved"))).is_empty());

    // A run resumes in the fonts it recorded, whatever was installed since (a later version
    // drawing in more packages), and is refused when one of them is gone.
    train(&[&fonts[..], &["--epochs", "1", "--run", "older"]].concat());
    let path = sandbox.path("older/data.json");
    let mut record = read_json(&path);
    let recorded = record["fonts"].as_object().unwrap().clone();
    let dejavu_only: serde_json::Map<_, _> = (recorded.into_iter())
        .filter(|(name, _)| name.starts_with("truetype/dejavu/"))
        .collect();
    let count = dejavu_only.len();
    record["fonts"] = dejavu_only.into();
    std::fs::write(&path, record.to_string()).unwrap();
    let output = sandbox.run_on(&data, &["--resume", "older", "--epochs", "2"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let said = stderr(&output);
    assert!(
        said.contains(&format!("drawing 300 digits in {count} fonts")),
        "{said}"
    );
    let mut record = read_json(&path);
    let fonts = record["fonts"].as_object_mut().unwrap();
    let print = fonts.remove(dejavu).unwrap();
    fonts.insert("truetype/dejavu/Uninstalled.ttf".to_string(), print);
    std::fs::write(&path, record.to_string()).unwrap();
    let before = fingerprint(&sandbox.path("older"));
    let output = sandbox.run_on(&data, &["--resume", "older", "--epochs", "3"]);
    let line = assert_one_line_error(&output);
    assert!(
        line.contains("truetype/dejavu/Uninstalled.ttf is gone"),
        "{line}"
    );
    assert!(changes(&before, &fingerprint(&sandbox.path("older"))).is_empty());

    let plain = train(&["--epochs", "1", "--run", "plain"]);
    assert!(
        plain.contains(": 500 training images, validated"),
        "{plain}"
    );
    assert!(
        read_json(&sandbox.path("plain/data.json"))
            .get("fonts")
            .is_none()
    );
}
