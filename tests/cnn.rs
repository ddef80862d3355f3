//! `--model cnn` (PyTorch `examples/mnist`'s `Net`) end to end on a few hundred images: it
//! trains and records what it is, resumes to the very epochs of an uninterrupted run (dropout
//! included, batches prepared on other threads), every command reads it, and settings that are the MLP's alone are refused.

use crate::common::*;

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
