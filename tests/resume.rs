//! Never lose training: a killed run resumes to the same result, Ctrl-C stops cleanly, runs are
//! not overwritten by accident, and a diverging loss is not reported as a finished run.

use crate::common::*;

/// Trains 5 epochs uninterrupted, and again killed (SIGKILL) during epoch 3 then resumed;
/// returns both runs' epochs (without timings) and summaries.
fn kill_and_resume(backend: &str) -> [(Vec<serde_json::Value>, serde_json::Value); 2] {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let args = ["--backend", backend, "--epochs", "5", "--seed", "3"];

    let mut full: Vec<&str> = args.to_vec();
    full.extend(["--run", "full"]);
    let output = sandbox.run(
        full.iter()
            .map(|a| a.as_ref())
            .chain(["--data-dir".as_ref(), data.as_os_str()]),
    );
    assert!(output.status.success(), "{}", stderr(&output));

    let mut killed: Vec<&str> = args.to_vec();
    killed.extend(["--run", "killed"]);
    let mut child = sandbox.spawn_on(&data, &killed);
    sandbox.wait_for_epochs("killed", 2);
    // Burn writes the epoch's checkpoint just after its metrics line, its three files from three
    // threads, each under a scratch name renamed when whole: kill once all three are there, so
    // epoch 2 is kept whatever its threads' order (waiting fails after 5 minutes).
    for kind in ["model", "optim", "scheduler"] {
        sandbox.wait_for_path(&format!("killed/checkpoint/{kind}-2.bpk"));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(
        read_jsonl(&sandbox.path("killed/metrics.jsonl")).len(),
        2,
        "killed during epoch 3"
    );
    assert!(!sandbox.path("killed/summary.json").exists());

    // No --data-dir: the run recorded where its data was.
    let resumed = sandbox.run(["--resume", "killed"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(
        first_epoch_line(&stdout(&resumed)).starts_with("epoch 3/5"),
        "{}",
        stdout(&resumed)
    );
    let summary = read_json(&sandbox.path("killed/summary.json"));
    assert_eq!(summary["status"], "completed");
    ["full", "killed"].map(|run| {
        (
            epochs_without_seconds(&sandbox.path(run).join("metrics.jsonl")),
            read_json(&sandbox.path(run).join("summary.json")),
        )
    })
}

#[test]
fn a_run_killed_in_epoch_3_resumes_to_the_identical_result_on_flex() {
    let [(full, full_summary), (resumed, resumed_summary)] = kill_and_resume("flex");
    assert_eq!(resumed, full);
    assert_eq!(
        resumed_summary["test_accuracy"],
        full_summary["test_accuracy"]
    );
    assert_eq!(resumed_summary["test_loss"], full_summary["test_loss"]);
}

/// On ndarray even two uninterrupted runs can differ in their last bits when the machine is
/// busy (see the README), so a resumed run is held to "close", not "identical".
#[test]
fn a_run_killed_in_epoch_3_resumes_to_a_close_result_on_ndarray() {
    let [(full, full_summary), (resumed, resumed_summary)] = kill_and_resume("ndarray");
    assert_eq!(resumed.len(), full.len());
    for (a, b) in full.iter().zip(&resumed) {
        let loss = |e: &serde_json::Value| e["train_loss"].as_f64().unwrap();
        assert!((loss(a) - loss(b)).abs() / loss(a) < 0.01, "{a} vs {b}");
    }
    let accuracy = |s: &serde_json::Value| s["test_accuracy"].as_f64().unwrap();
    assert!((accuracy(&full_summary) - accuracy(&resumed_summary)).abs() < 0.3);
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_cleanly_and_the_printed_command_resumes_it_offline() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let child = sandbox.spawn_on(
        &data,
        &["--epochs", "6", "--limit-train", "20000", "--run", "run"],
    );
    sandbox.wait_for_checkpoint("run", 1);
    ctrl_c(&child);
    let output = child.wait_with_output().unwrap();
    let (out, err) = (stdout(&output), stderr(&output));
    assert_eq!(output.status.code(), Some(130), "{out}\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    let summary = read_json(&sandbox.path("run/summary.json"));
    assert_eq!(summary["status"], "interrupted");
    let done = read_jsonl(&sandbox.path("run/metrics.jsonl")).len();
    assert!((1..6).contains(&done), "{done} epochs");
    assert_eq!(summary["epochs_completed"], done);

    // Exactly what it printed, typed into a shell: no --data-dir, no network.
    let (command, resumed) = run_printed_resume_command(&sandbox, &out);
    assert!(resumed.status.success(), "{command}: {}", stderr(&resumed));
    let resumed_out = stdout(&resumed);
    assert!(
        first_epoch_line(&resumed_out).starts_with(&format!("epoch {}/6", done + 1)),
        "continues after epoch {done}: {resumed_out}"
    );
    let epochs = read_jsonl(&sandbox.path("run/metrics.jsonl"));
    let numbers: Vec<u64> = epochs
        .iter()
        .map(|e| e["epoch"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (1..=6).collect::<Vec<u64>>());
    // It went on from the saved model: a model started afresh would be back at epoch 1's loss.
    let loss = |epoch: &serde_json::Value| epoch["train_loss"].as_f64().unwrap();
    assert!(
        loss(&epochs[done]) < 0.75 * loss(&epochs[0]),
        "epoch {} lost {} against epoch 1's {}",
        done + 1,
        loss(&epochs[done]),
        loss(&epochs[0])
    );
    assert_eq!(
        read_json(&sandbox.path("run/summary.json"))["status"],
        "completed"
    );
}

#[test]
fn resuming_refuses_a_new_shape_and_a_finished_run_but_trains_longer() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let run = |args: &[&str]| {
        let mut all: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        all.extend([
            "--limit-train".as_ref(),
            "3000".as_ref(),
            "--data-dir".as_ref(),
            data.as_os_str(),
        ]);
        sandbox.run(all)
    };
    assert!(run(&["--epochs", "1", "--run", "run"]).status.success());

    let line = assert_one_line_error(&run(&[
        "--resume", "run", "--epochs", "2", "--hidden", "64",
    ]));
    assert!(line.contains("changes the model's shape"), "{line}");
    let line = assert_one_line_error(&run(&["--resume", "run"]));
    assert!(
        line.contains("1 epochs are done; pass --epochs with more than 1"),
        "{line}"
    );
    let line = assert_one_line_error(&run(&["--resume", "nowhere"]));
    assert!(line.contains("nowhere: no such run folder"), "{line}");

    let longer = run(&["--resume", "run", "--epochs", "2"]);
    assert!(longer.status.success(), "{}", stderr(&longer));
    assert_eq!(read_jsonl(&sandbox.path("run/metrics.jsonl")).len(), 2);
    assert_eq!(read_json(&sandbox.path("run/config.json"))["num_epochs"], 2);

    // Without --resume the run is not touched; with --overwrite it is replaced.
    let line = assert_one_line_error(&run(&["--epochs", "1", "--run", "run"]));
    assert!(
        line.contains("already holds a run; --resume it, pass --overwrite"),
        "{line}"
    );
    assert_eq!(read_jsonl(&sandbox.path("run/metrics.jsonl")).len(), 2);
    assert!(
        run(&["--epochs", "1", "--run", "run", "--overwrite"])
            .status
            .success()
    );
    assert_eq!(read_jsonl(&sandbox.path("run/metrics.jsonl")).len(), 1);
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
