//! Short real trainings, for the tests of what happens around a model; the run trained once per
//! test binary; and what a run's model answers, against what another program computes.

use std::path::{Path, PathBuf};

use super::{Sandbox, mnist_dir, stderr, stdout};

/// A quick real run: 3,000 training and 1,000 test images.
pub const QUICK: [&str; 4] = ["--limit-train", "3000", "--limit-test", "1000"];

/// Runs the binary on real MNIST with `args` plus the quick limits.
pub fn quick_run(sandbox: &Sandbox, args: &[&str]) -> std::process::Output {
    let mut all = args.to_vec();
    all.extend(QUICK);
    sandbox.run_on(&mnist_dir(), &all)
}

/// A short real run: few images, so a whole run takes seconds.
const SMALL: [&str; 4] = ["--limit-train", "2000", "--limit-test", "500"];

/// Trains `run` on real MNIST with `args` plus [`SMALL`].
pub fn small_run(sandbox: &Sandbox, run: &str, args: &[&str]) -> std::process::Output {
    let mut all = args.to_vec();
    all.extend(SMALL);
    all.extend(["--run", run]);
    sandbox.run_on(&mnist_dir(), &all)
}

/// Trains one epoch on all of `data` (the defaults otherwise) into the sandbox's `run`; its
/// folder.
pub fn one_epoch_run(sandbox: &Sandbox, data: &Path) -> PathBuf {
    let output = sandbox.run_on(data, &["--epochs", "1", "--run", "run"]);
    assert!(output.status.success(), "{}", stderr(&output));
    sandbox.path("run")
}

/// A run trained once per test binary (one epoch on all of MNIST, `--epochs 1` and otherwise
/// the defaults: about 95% on the test set), copied whole into `sandbox` as folder `name` for
/// each test that asks: the tests share the training's time, not its files, so none sees what
/// another wrote. The trained original is deleted when the binary exits.
pub fn trained_run_copy(sandbox: &Sandbox, name: &str) -> PathBuf {
    static TRAINED: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    extern "C" fn remove_trained() {
        if let Some(dir) = TRAINED.get() {
            let _ = std::fs::remove_dir_all(dir.path());
        }
    }
    let trained = TRAINED.get_or_init(|| {
        let origin = Sandbox::new();
        let output = origin.run_on(&mnist_dir(), &["--epochs", "1", "--run", "run"]);
        assert!(output.status.success(), "{}", stderr(&output));
        // SAFETY: registers a function with no preconditions, run once at exit.
        unsafe { libc::atexit(remove_trained) };
        origin.dir
    });
    let run = sandbox.path(name);
    copy_folder(&trained.path().join("run"), &run);
    run
}

/// Copies folder `from` (files and subfolders) to `to`, which must not exist.
fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_folder(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// How close another implementation's probabilities (PyTorch's, onnxruntime's, a hand-computed
/// forward pass) must come to `infer`'s. The README quotes 4.6e-8 to 4.2e-7: 1e-6 holds those
/// figures to their order, with room for another CPU's rounding (AVX-512 or AVX2 kernels).
pub const AGREEMENT: f64 = 1e-6;

/// All ten probabilities `infer --json` gives for each of the first `count` test images of
/// `run`; fails unless there is exactly one answer of ten per image.
pub fn infer_probabilities(sandbox: &Sandbox, run: &str, count: usize) -> Vec<Vec<f64>> {
    infer_probabilities_with(sandbox, run, count, &[])
}

/// As [`infer_probabilities`], with `extra` flags for `infer` (`--backend ndarray`), also
/// failing unless each answer's class is its most probable one (or, "not a digit", a reason).
pub fn infer_probabilities_with(
    sandbox: &Sandbox,
    run: &str,
    count: usize,
    extra: &[&str],
) -> Vec<Vec<f64>> {
    let indices: Vec<String> = (0..count).map(|i| i.to_string()).collect();
    let indices = indices.join(",");
    let mut args = vec!["infer", "--run", run, "--json", "--index", &indices];
    args.extend_from_slice(extra);
    let infer = sandbox.run_on(&mnist_dir(), &args);
    assert!(infer.status.success(), "{run}: {}", stderr(&infer));
    let rows: Vec<Vec<f64>> = stdout(&infer)
        .lines()
        .map(|line| {
            let answer: serde_json::Value = serde_json::from_str(line).unwrap();
            let row: Vec<f64> = answer["probabilities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_f64().unwrap())
                .collect();
            assert_eq!(row.len(), 10, "{run}: {line}");
            let most = (0..10).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
            // A calibrated run answers some test images "not a digit", their probabilities kept.
            if answer["class"].is_null() {
                assert!(answer["reason"].is_string(), "{run}: {line}");
            } else {
                assert_eq!(answer["class"], most, "{run}: {line}");
            }
            row
        })
        .collect();
    assert_eq!(rows.len(), count, "{run}: one answer per image");
    rows
}

/// The largest difference between our probabilities and another program's rows (JSON arrays,
/// as `probabilities.json` or onnxruntime give them), after checking there is one row of as
/// many values for each.
pub fn largest_difference(ours: &[Vec<f64>], theirs: &[serde_json::Value]) -> f64 {
    assert_eq!(ours.len(), theirs.len(), "one answer per image");
    let mut worst = 0.0f64;
    for (row, their_row) in ours.iter().zip(theirs) {
        let their_row = their_row.as_array().unwrap();
        assert_eq!(row.len(), their_row.len());
        for (p, q) in row.iter().zip(their_row) {
            worst = worst.max((p - q.as_f64().unwrap()).abs());
        }
    }
    worst
}
