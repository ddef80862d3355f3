//! The run folder: what it holds (the config, the metrics a report redraws its curves from, the
//! summary naming its loss) and what it protects. A run is replaced only with `--overwrite`, and
//! never a folder holding a file the program did not write; a folder that is no run is named as
//! such; runs started at once each get their own; a damaged file is named and left as it is.

use std::path::Path;

use crate::common::*;

#[test]
fn an_existing_run_folder_is_not_overwritten() {
    let sandbox = Sandbox::new();
    let data = sandbox.path("data");
    valid_folder(&data);
    std::fs::create_dir_all(sandbox.path("run")).unwrap();
    std::fs::write(sandbox.path("run/model.bpk"), b"precious").unwrap();
    let output = sandbox.run_on(&data, &["--run", "run"]);
    let line = assert_one_line_error(&output);
    assert!(line.contains("run: already holds a run"), "{line}");
    assert_eq!(
        std::fs::read(sandbox.path("run/model.bpk")).unwrap(),
        b"precious"
    );
}

#[test]
fn overwrite_refuses_a_folder_with_a_foreign_file_and_deletes_nothing() {
    let sandbox = Sandbox::new();
    // Someone's project folder that happens to hold a config.json.
    let project = sandbox.path("project");
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::write(project.join("notes.txt"), "mine").unwrap();
    std::fs::write(project.join("config.json"), "{\"mine\": true}").unwrap();
    std::fs::write(project.join("src/main.rs"), "fn main() {}").unwrap();
    for extra in [&["--overwrite"][..], &[]] {
        let mut args = vec!["--epochs", "1", "--run", "project"];
        args.extend(extra);
        let line = assert_one_line_error(&quick_run(&sandbox, &args));
        assert!(
            line.contains("project: not empty and not a run of this program"),
            "{line}"
        );
        assert!(line.contains("notes.txt"), "names what it found: {line}");
    }
    assert_eq!(
        std::fs::read_to_string(project.join("notes.txt")).unwrap(),
        "mine"
    );
    assert_eq!(
        std::fs::read_to_string(project.join("config.json")).unwrap(),
        "{\"mine\": true}"
    );
    assert!(project.join("src/main.rs").exists());

    // A real run with one foreign file added is not a run any more.
    let output = quick_run(&sandbox, &["--epochs", "1", "--run", "run"]);
    assert!(output.status.success(), "{}", stderr(&output));
    std::fs::write(sandbox.path("run/checkpoint/my-notes.md"), "keep").unwrap();
    let line = assert_one_line_error(&quick_run(
        &sandbox,
        &["--epochs", "1", "--run", "run", "--overwrite"],
    ));
    assert!(line.contains("my-notes.md"), "{line}");
    assert!(sandbox.path("run/checkpoint/my-notes.md").exists());
    assert!(sandbox.path("run/model.bpk").exists());

    // Without it, --overwrite replaces the run.
    std::fs::remove_file(sandbox.path("run/checkpoint/my-notes.md")).unwrap();
    let output = quick_run(&sandbox, &["--epochs", "2", "--run", "run", "--overwrite"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(read_jsonl(&sandbox.path("run/metrics.jsonl")).len(), 2);
}

#[test]
fn an_unwritable_artifacts_folder_is_named() {
    let sandbox = Sandbox::new();
    let data = sandbox.path("data");
    valid_folder(&data);
    std::fs::write(sandbox.path("a-file"), b"not a folder").unwrap();
    let output = sandbox.run_on(&data, &["--run", "a-file/run"]);
    let line = assert_one_line_error(&output);
    assert!(line.starts_with("error: a-file/run: "), "{line}");
    assert_eq!(
        std::fs::read(sandbox.path("a-file")).unwrap(),
        b"not a folder"
    );
}

#[test]
fn runs_started_together_without_a_folder_each_get_one_of_their_own() {
    // Default folders are named to the second: three processes started at once share that
    // second (all but certainly), and each must still get a folder and finish.
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let args = [
        "--epochs",
        "1",
        "--limit-train",
        "200",
        "--limit-test",
        "100",
    ];
    let children: Vec<_> = (0..3).map(|_| sandbox.spawn_on(&data, &args)).collect();
    for child in children {
        let output = child.wait_with_output().expect("the run ends");
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let runs: Vec<_> = std::fs::read_dir(sandbox.path("artifacts"))
        .expect("artifacts/ was made")
        .map(|entry| entry.expect("an entry").path())
        .collect();
    assert_eq!(runs.len(), 3, "{runs:?}");
    for run in &runs {
        assert_eq!(
            read_json(&run.join("summary.json"))["status"],
            "completed",
            "{}",
            run.display()
        );
    }
}

#[test]
fn a_folder_that_is_not_a_run_is_named_as_such() {
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.path("holder/artifacts")).unwrap();
    let commands: [&[&str]; 5] = [
        &["eval"],
        &["infer", "--index", "0"],
        &["report"],
        &["export", "--onnx", "model.onnx"],
        &["serve", "--port", "0"],
    ];
    for command in commands {
        let output = sandbox.run([command, &["--run", "holder"]].concat());
        let line = assert_one_line_error(&output);
        assert!(
            line.contains("holder: not a run folder (it has no config.json)"),
            "{command:?}: {line}"
        );
    }
    assert!(!sandbox.path("model.onnx").exists());
}

#[test]
fn eval_and_report_refuse_missing_or_broken_runs() {
    let sandbox = Sandbox::new();
    let line = assert_one_line_error(&sandbox.run(["eval", "--run", "nowhere"]));
    assert!(line.contains("nowhere: no such run folder"), "{line}");
    let line = assert_one_line_error(&sandbox.run(["report", "--run", "nowhere"]));
    assert!(line.contains("nowhere: no such run folder"), "{line}");

    std::fs::create_dir_all(sandbox.path("half")).unwrap();
    std::fs::write(
        sandbox.path("half/metrics.jsonl"),
        "{\"epoch\": 1, \"train_loss\"\n",
    )
    .unwrap();
    // Without its config.json the folder is no run at all.
    for command in ["report", "eval"] {
        let line = assert_one_line_error(&sandbox.run([command, "--run", "half"]));
        assert!(
            line.contains("half: not a run folder (it has no config.json)"),
            "{command}: {line}"
        );
    }
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.json");
    std::fs::copy(config, sandbox.path("half/config.json")).unwrap();
    let line = assert_one_line_error(&sandbox.run(["report", "--run", "half"]));
    assert!(
        line.contains("metrics.jsonl:1: not an epoch record"),
        "{line}"
    );
}

#[test]
fn a_damaged_metrics_line_is_named_and_the_file_is_left_as_it_is() {
    let sandbox = Sandbox::new();
    let output = quick_run(&sandbox, &["--epochs", "2", "--run", "run"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let metrics = sandbox.path("run/metrics.jsonl");
    let damaged =
        std::fs::read_to_string(&metrics)
            .unwrap()
            .replacen("\"train_loss\"", "\"train_lo$$\"", 1);
    std::fs::write(&metrics, &damaged).unwrap();
    let data = mnist_dir();
    let resume = sandbox.run_on(&data, &["--resume", "run", "--epochs", "3"]);
    let report = sandbox.run(["report", "--run", "run"]);
    for output in [resume, report] {
        let line = assert_one_line_error(&output);
        assert!(
            line.contains("metrics.jsonl:1: not an epoch record"),
            "{line}"
        );
    }
    assert_eq!(std::fs::read_to_string(&metrics).unwrap(), damaged);
}

#[test]
fn the_summary_and_eval_name_the_loss_they_report() {
    let sandbox = Sandbox::new();
    let output = quick_run(
        &sandbox,
        &["--loss", "mse", "--epochs", "1", "--run", "run"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = read_json(&sandbox.path("run/summary.json"));
    assert_eq!(summary["loss_function"], "mse");
    // Validation ran on the same test images with the same model: the same loss, up to Burn
    // averaging batch means (the last, shorter batch weighs as much as the others). The
    // cross-entropy of this model is about ten times larger.
    let valid_loss = read_jsonl(&sandbox.path("run/metrics.jsonl"))[0]["valid_loss"]
        .as_f64()
        .unwrap();
    let test_loss = summary["test_loss"].as_f64().unwrap();
    assert!(
        (test_loss - valid_loss).abs() < 0.01 * valid_loss,
        "test {test_loss} vs valid {valid_loss}"
    );
    assert!(
        stdout(&output).contains("(mse loss "),
        "{}",
        stdout(&output)
    );

    let eval = sandbox.run(["eval", "--run", "run", "--json"]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    let report: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    assert_eq!(report["loss_function"], "mse");
    assert!((report["loss"].as_f64().unwrap() - test_loss).abs() < 1e-9);
}
