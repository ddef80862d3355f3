//! What the program promises about your files (README, "Guarantees"): it deletes only what it
//! wrote, a run remembers its data, a stop never leaves an epoch half-recorded, a full disk
//! keeps the previous epoch, and every refusal is one line.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

const QUICK: [&str; 4] = ["--limit-train", "3000", "--limit-test", "1000"];

/// Runs the binary on real MNIST with `args` plus the quick limits.
fn quick_run(sandbox: &Sandbox, args: &[&str]) -> std::process::Output {
    let mut all = args.to_vec();
    all.extend(QUICK);
    sandbox.run_on(&mnist_dir(), &all)
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

/// A copy of MNIST's four files, decompressed, in the sandbox's folder `name`.
fn mnist_copy(sandbox: &Sandbox, name: &str) -> std::path::PathBuf {
    let copy = sandbox.path(name);
    std::fs::create_dir_all(&copy).unwrap();
    for file in [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ] {
        std::fs::write(copy.join(file), read_idx(&mnist_dir(), file)).unwrap();
    }
    copy
}

/// Changes test label 0 of the MNIST copy in `folder`: the same size, other contents.
fn alter_a_test_label(folder: &Path) {
    let labels = folder.join("t10k-labels-idx1-ubyte");
    let mut bytes = std::fs::read(&labels).unwrap();
    bytes[8] = (bytes[8] + 1) % 10;
    std::fs::write(&labels, bytes).unwrap();
}

/// A run trained from a copy of MNIST inside the sandbox reads that copy when `eval`, `infer`
/// and `--resume` are not given `--data-dir` (not Burn's cache, not the network): altering the
/// copy, or moving it away, makes them refuse, naming the copy.
#[test]
fn a_run_uses_its_recorded_data_and_refuses_other_files() {
    let sandbox = Sandbox::new();
    let copy = mnist_copy(&sandbox, "data");
    let mut args = vec!["--epochs", "1", "--run", "run"];
    args.extend(QUICK);
    let output = sandbox.run_on(&copy, &args);
    assert!(output.status.success(), "{}", stderr(&output));
    let record = read_json(&sandbox.path("run/data.json"));
    let recorded = std::path::PathBuf::from(record["source"]["folder"].as_str().unwrap());
    assert_eq!(
        recorded.canonicalize().unwrap(),
        copy.canonicalize().unwrap()
    );
    assert_eq!(record["files"].as_object().unwrap().len(), 4);

    // Without --data-dir: the recorded folder, the copy.
    let eval = sandbox.run(["eval", "--run", "run", "--json"]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    let infer = sandbox.run(["infer", "--run", "run", "--index", "0"]);
    assert!(infer.status.success(), "{}", stderr(&infer));
    let without_data_dir: [&[&str]; 3] = [
        &["--resume", "run", "--epochs", "2"],
        &["eval", "--run", "run"],
        &["infer", "--run", "run", "--index", "0"],
    ];

    // The copy altered in place: each refuses, naming it.
    let labels = copy.join("t10k-labels-idx1-ubyte");
    let original = std::fs::read(&labels).unwrap();
    alter_a_test_label(&copy);
    let mismatch = format!(
        "{}: t10k-labels-idx1-ubyte is not the file run was trained on",
        recorded.display()
    );
    for args in without_data_dir {
        let line = assert_one_line_error(&sandbox.run(args));
        assert!(line.contains(&mismatch), "{args:?}: {line}");
    }
    // So does another folder given with --data-dir.
    std::fs::write(&labels, &original).unwrap();
    let altered = mnist_copy(&sandbox, "altered");
    alter_a_test_label(&altered);
    let altered_arg = altered.to_str().unwrap();
    for args in without_data_dir {
        let mut args = args.to_vec();
        args.extend(["--data-dir", altered_arg]);
        let line = assert_one_line_error(&sandbox.run(&args));
        assert!(
            line.contains("t10k-labels-idx1-ubyte is not the file run was trained on"),
            "{args:?}: {line}"
        );
    }
    assert_eq!(read_jsonl(&sandbox.path("run/metrics.jsonl")).len(), 1);

    // The copy moved away: refused, naming where it was.
    let moved = sandbox.path("moved");
    std::fs::rename(&copy, &moved).unwrap();
    for args in without_data_dir {
        let line = assert_one_line_error(&sandbox.run(args));
        assert!(
            line.contains(&recorded.display().to_string()),
            "{args:?}: {line}"
        );
    }
    // The same files elsewhere are the same data.
    let eval = sandbox.run([
        "eval",
        "--run",
        "run",
        "--data-dir",
        moved.to_str().unwrap(),
    ]);
    assert!(eval.status.success(), "{}", stderr(&eval));
}

#[test]
fn a_model_too_large_for_memory_is_refused_before_anything_is_allocated() {
    let sandbox = Sandbox::new();
    let line = assert_one_line_error(&quick_run(
        &sandbox,
        &["--hidden", "4000000000", "--run", "run"],
    ));
    assert!(line.starts_with("error: --hidden"), "{line}");
    assert!(
        line.contains(": the model 784-4000000000-10 needs "),
        "{line}"
    );
    assert!(
        line.contains("GiB to train") && line.contains("available"),
        "{line}"
    );

    let mut config = read_json(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.json"));
    config["model"]["hidden_sizes"] = serde_json::json!([4_000_000_000u64, 1000]);
    std::fs::write(sandbox.path("huge.json"), config.to_string()).unwrap();
    let line = assert_one_line_error(&quick_run(
        &sandbox,
        &["--config", "huge.json", "--run", "run"],
    ));
    assert!(line.starts_with("error: huge.json"), "{line}");
    assert!(
        line.contains(": the model 784-4000000000-1000-10 needs "),
        "{line}"
    );
    // So large that even its size overflows a 64-bit count: still one line.
    config["model"]["hidden_sizes"] = serde_json::json!([u64::MAX, u64::MAX]);
    std::fs::write(sandbox.path("huge.json"), config.to_string()).unwrap();
    let line = assert_one_line_error(&quick_run(
        &sandbox,
        &["--config", "huge.json", "--run", "run"],
    ));
    assert!(
        line.contains("is too large to count its memory in 64 bits"),
        "{line}"
    );
    assert!(!sandbox.path("run").exists());
}

#[cfg(unix)]
#[test]
fn a_stop_during_validation_leaves_no_half_recorded_epoch() {
    let sandbox = Sandbox::new();
    // One training batch, then a long validation (59,936 held-out images, a wide network).
    let child = sandbox.spawn_on(
        &mnist_dir(),
        &[
            "--epochs",
            "1",
            "--valid-size",
            "59936",
            "--hidden",
            "1024,1024",
            "--limit-test",
            "1000",
            "--run",
            "run",
        ],
    );
    // Burn's metric logger opens the validation log at the first validated batch.
    sandbox.wait_for_path("run/valid/epoch-1");
    ctrl_c(&child);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert!(
        read_jsonl(&sandbox.path("run/metrics.jsonl")).is_empty(),
        "epoch 1 never finished validating"
    );
    let summary = read_json(&sandbox.path("run/summary.json"));
    assert_eq!(summary["status"], "interrupted");
    assert_eq!(summary["epochs_completed"], 0);
    assert!(stdout(&output).contains("interrupted in epoch 1; start it again with: "));
    // No epoch finished: no model, and no score of a half-trained one.
    assert!(!sandbox.path("run/model.bpk").exists());
    assert!(summary["test_accuracy"].is_null(), "{summary}");
}

#[test]
fn a_cosine_run_is_not_resumed_longer_than_it_was_planned() {
    let sandbox = Sandbox::new();
    let output = quick_run(
        &sandbox,
        &["--lr-schedule", "cosine", "--epochs", "1", "--run", "run"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let line = assert_one_line_error(&quick_run(&sandbox, &["--resume", "run", "--epochs", "2"]));
    assert!(
        line.contains("--epochs 2 would change a cosine-scheduled run"),
        "{line}"
    );
    assert_eq!(read_jsonl(&sandbox.path("run/metrics.jsonl")).len(), 1);
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

#[cfg(unix)]
#[test]
fn ctrl_c_after_the_last_epoch_still_writes_every_file() {
    use std::io::BufRead;
    let sandbox = Sandbox::new();
    let mut child = sandbox.spawn_on(
        &mnist_dir(),
        &[
            "--epochs",
            "1",
            "--limit-train",
            "3000",
            "--hidden",
            "1024",
            "--run",
            "run",
        ],
    );
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines
        .find_map(|line| line.ok().filter(|line| line.starts_with("epoch ")))
        .unwrap_or_default();
    assert!(first.starts_with("epoch 1/1"), "{first}");
    // Training is over; the model, test score and summary are being written. Press twice.
    ctrl_c(&child);
    std::thread::sleep(std::time::Duration::from_millis(20));
    ctrl_c(&child);
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let output = child.wait_with_output().unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(130), "{rest:?} {err}");
    assert!(
        err.contains("the run had already finished training"),
        "{err}"
    );
    assert_eq!(
        read_json(&sandbox.path("run/summary.json"))["status"],
        "completed"
    );
    assert!(sandbox.path("run/model.bpk").is_file());
    assert!(sandbox.path("run/curves.png").is_file());
    assert!(
        rest.iter().any(|line| line.starts_with("test accuracy")),
        "{rest:?}"
    );
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

/// A small tmpfs mounted in the sandbox for the length of a test (needs root, as CI runs).
#[cfg(target_os = "linux")]
struct SmallDisk {
    path: std::path::PathBuf,
}

#[cfg(target_os = "linux")]
impl SmallDisk {
    /// The disk, or `None` when the test is to be skipped: mounting needs root, as CI runs.
    /// Without root the test fails rather than passing unseen, unless MNIST_TRAINER_NO_ROOT=1
    /// says to skip it knowingly.
    fn mount_or_skip(path: std::path::PathBuf) -> Option<Self> {
        let disk = Self::mount(path);
        if disk.is_none() {
            assert!(
                std::env::var_os("MNIST_TRAINER_NO_ROOT").is_some_and(|value| value == "1"),
                "mounting a small tmpfs needs root (CI runs as root); set MNIST_TRAINER_NO_ROOT=1 to skip this test"
            );
            eprintln!("skipped (MNIST_TRAINER_NO_ROOT=1): mounting a small tmpfs needs root");
        }
        disk
    }

    fn mount(path: std::path::PathBuf) -> Option<Self> {
        std::fs::create_dir_all(&path).unwrap();
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return None;
        }
        let disk = Self { path };
        disk.mount_with("size=64m");
        Some(disk)
    }

    fn mount_with(&self, options: &str) {
        assert!(self.try_mount_with(options), "mount -o {options}");
    }

    fn try_mount_with(&self, options: &str) -> bool {
        std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(&self.path)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success()
    }

    fn resize(&self, bytes: u64) {
        self.mount_with(&format!("remount,size={bytes}"));
    }

    /// Leaves `spare` bytes free while a run writes: a remount smaller than what is in use by
    /// the time it happens fails, so it is measured and tried again.
    fn shrink_to_spare(&self, spare: u64) {
        for _ in 0..50 {
            if self.try_mount_with(&format!("remount,size={}", self.used_bytes() + spare)) {
                return;
            }
        }
        panic!("could not shrink the disk while the run wrote to it");
    }

    fn used_bytes(&self) -> u64 {
        let c_path = std::ffi::CString::new(self.path.to_str().unwrap()).unwrap();
        // SAFETY: statvfs fills the struct it is given.
        let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) }, 0);
        (stat.f_blocks - stat.f_bfree) * stat.f_frsize
    }
}

#[cfg(target_os = "linux")]
impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

/// Every file of the run is whole: JSON parses, metrics are epochs 1..n, no scratch file is
/// left, every checkpoint on disk is a complete one.
fn assert_run_files_whole(run: &Path) {
    for entry in files_under(run).iter().map(|relative| run.join(relative)) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !name.ends_with(".tmp"),
            "scratch file left: {}",
            entry.display()
        );
        if name.ends_with(".json") {
            read_json(&entry);
        }
    }
    let epochs = read_jsonl(&run.join("metrics.jsonl"));
    for (index, epoch) in epochs.iter().enumerate() {
        assert_eq!(epoch["epoch"], index + 1);
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_keeps_the_previous_epochs_files_and_the_run_resumes() {
    let sandbox = Sandbox::new();
    let Some(disk) = SmallDisk::mount_or_skip(sandbox.path("disk")) else {
        return;
    };
    let child = sandbox.spawn_on(
        &mnist_dir(),
        &[
            "--epochs",
            "3",
            "--limit-train",
            "30000",
            "--run",
            "disk/run",
        ],
    );
    // Epoch 1 is checkpointed and recorded (Burn's renderer may add the metrics line after the
    // checkpoint is on disk): leave room for epoch 2's logs, not for its 400 kB checkpoint.
    // Burn writes the three checkpoint files from separate threads, each renamed into place
    // whole: wait for all three (CI once shrank the disk while optim-1.bpk was being written).
    for kind in ["model", "optim", "scheduler"] {
        sandbox.wait_for_path(&format!("disk/run/checkpoint/{kind}-1.bpk"));
    }
    sandbox.wait_for_epochs("disk/run", 1);
    disk.shrink_to_spare(256 * 1024);
    let output = child.wait_with_output().unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: training failed: ") && last.contains("No space left on device"),
        "{err}"
    );
    let run = sandbox.path("disk/run");
    assert_run_files_whole(&run);
    assert_eq!(
        read_jsonl(&run.join("metrics.jsonl")).len(),
        1,
        "epoch 1 only: {err}"
    );
    assert_eq!(read_json(&run.join("summary.json"))["status"], "failed");

    // With room again, the run continues from epoch 1's checkpoint.
    disk.resize(64 << 20);
    let resumed = sandbox.run(["--resume", "disk/run"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(
        first_epoch_line(&stdout(&resumed)).starts_with("epoch 2/3"),
        "{}",
        stdout(&resumed)
    );
    assert_eq!(read_json(&run.join("summary.json"))["status"], "completed");

    // A full disk while eval writes its files: one line, nothing half-written, nothing lost.
    let summary_before = std::fs::read(run.join("summary.json")).unwrap();
    disk.resize(disk.used_bytes());
    let line = assert_one_line_error(&sandbox.run(["eval", "--run", "disk/run"]));
    assert!(line.contains("No space left on device"), "{line}");
    assert_run_files_whole(&run);
    assert!(!run.join("eval.json").exists());
    assert_eq!(
        std::fs::read(run.join("summary.json")).unwrap(),
        summary_before
    );
}

#[test]
fn a_damaged_checkpoint_is_named_instead_of_crashing_the_resume() {
    let sandbox = Sandbox::new();
    let output = quick_run(&sandbox, &["--epochs", "1", "--run", "run"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let checkpoint = sandbox.path("run/checkpoint/optim-1.bpk");
    let bytes = std::fs::read(&checkpoint).unwrap();
    std::fs::write(&checkpoint, &bytes[..bytes.len() / 2]).unwrap();
    let line = assert_one_line_error(&quick_run(&sandbox, &["--resume", "run", "--epochs", "2"]));
    assert!(
        line.contains("optim-1.bpk: not a readable checkpoint"),
        "{line}"
    );
    assert_eq!(read_jsonl(&sandbox.path("run/metrics.jsonl")).len(), 1);
}

#[cfg(target_os = "linux")]
#[test]
fn standard_output_filling_up_mid_run_stops_training_resumably() {
    use std::io::Write;
    let sandbox = Sandbox::new();
    // A disk that fills up under a log.
    let Some(disk) = SmallDisk::mount_or_skip(sandbox.path("disk")) else {
        return;
    };
    let log_path = sandbox.path("disk/log");
    let mut log = std::fs::File::create(&log_path).unwrap();
    // `nohup mnist-trainer ... > disk/log`: all of MNIST, so an epoch takes a while.
    let mut child = Command::new(env!("CARGO_BIN_EXE_mnist-trainer"))
        .args([
            "--plain",
            "--epochs",
            "3",
            "--limit-test",
            "1000",
            "--run",
            "run",
        ])
        .arg("--data-dir")
        .arg(mnist_dir())
        .current_dir(sandbox.dir.path())
        .env("XDG_RUNTIME_DIR", sandbox.path("xdg-runtime"))
        .stdout(log.try_clone().unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !std::fs::read_to_string(&log_path)
        .unwrap()
        .contains("epoch 1/3  train loss")
    {
        assert!(started.elapsed() < Duration::from_secs(300), "no epoch 1");
        std::thread::sleep(Duration::from_millis(5));
    }
    // The disk fills: this handle shares the child's file offset, so padding the log's last
    // page and leaving nothing spare makes the child's next line need a page there is not.
    let length = log.metadata().unwrap().len();
    log.write_all(&vec![b' '; ((4096 - length % 4096) % 4096) as usize])
        .unwrap();
    disk.shrink_to_spare(0);
    let left = Duration::from_secs(300).saturating_sub(started.elapsed());
    wait_within(&mut child, left, "training on a full disk");
    let output = child.wait_with_output().unwrap();
    let line = assert_one_line_error(&output);
    assert_eq!(output.status.code(), Some(1), "{line}");
    assert!(
        line.starts_with("error: cannot write to standard output: No space left on device")
            && line.contains("training stopped after epoch ")
            && line.contains("; continue with: "),
        "{line}"
    );
    let run = sandbox.path("run");
    assert_run_files_whole(&run);
    assert_eq!(
        read_json(&run.join("summary.json"))["status"],
        "interrupted"
    );
    assert!(
        run.join("model.bpk").is_file(),
        "the last finished epoch's model"
    );
    assert!(!run.join("run.lock").exists(), "the run is let go");
    // The command in the line continues the run (its output elsewhere), and it completes.
    let (command, resumed) = run_printed_resume_command(&sandbox, &stderr(&output));
    assert!(resumed.status.success(), "{command}: {}", stderr(&resumed));
    assert_eq!(read_json(&run.join("summary.json"))["status"], "completed");
    assert_eq!(read_jsonl(&run.join("metrics.jsonl")).len(), 3);
}

/// `/dev/full`, opened for writing: every write to it fails with ENOSPC, as a full disk
/// behind `> log` does.
fn full_disk_stream() -> std::process::Stdio {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full")
        .into()
}

/// Runs the binary in the sandbox with `args`, standard output (or, with `stderr_full`,
/// standard error) on a full disk; the other stream captured. Gives up after five minutes: a
/// hang is the failure this guards against.
fn run_with_a_full_stream(sandbox: &Sandbox, args: &[&str], stderr_full: bool) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mnist-trainer"));
    command
        .args(args)
        .current_dir(sandbox.dir.path())
        .env("XDG_RUNTIME_DIR", sandbox.path("xdg-runtime"))
        .stdin(Stdio::null());
    if stderr_full {
        command.stdout(Stdio::piped()).stderr(full_disk_stream());
    } else {
        command.stdout(full_disk_stream()).stderr(Stdio::piped());
    }
    let mut child = command.spawn().expect("the binary starts");
    let what = format!("{args:?} with a full standard stream");
    wait_within(&mut child, Duration::from_secs(300), &what);
    child.wait_with_output().unwrap()
}

#[test]
fn standard_output_on_a_full_disk_fails_every_command_in_one_line() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let data = data.to_str().unwrap();
    let mut args = vec!["--plain", "--epochs", "1", "--run", "run"];
    args.extend(QUICK);
    args.extend(["--data-dir", data]);
    // Training says what it is about to do before it writes anything: nothing is written.
    let output = run_with_a_full_stream(&sandbox, &args, false);
    let line = assert_one_line_error(&output);
    assert_eq!(output.status.code(), Some(1), "{line}");
    assert_eq!(
        line,
        "error: cannot write to standard output: No space left on device (os error 28)"
    );
    let run = sandbox.path("run");
    assert!(!run.join("config.json").exists(), "nothing written");
    let trained = sandbox.run(&args);
    assert!(trained.status.success(), "{}", stderr(&trained));

    // Every other command that prints: one line, exit 1, no panic.
    for command in [
        &[
            "infer",
            "--run",
            "run",
            "--index",
            "0",
            "--json",
            "--data-dir",
            data,
        ][..],
        &["eval", "--run", "run", "--data-dir", data],
        &["report", "--run", "run"],
        &["--help"],
    ] {
        let output = run_with_a_full_stream(&sandbox, command, false);
        let line = assert_one_line_error(&output);
        assert_eq!(output.status.code(), Some(1), "{command:?}: {line}");
        assert!(
            line.starts_with("error: cannot write to standard output: No space left on device"),
            "{command:?}: {line}"
        );
    }

    // A warning that cannot be written to standard error is not a success either: `infer`
    // without --run says which run it picked.
    std::fs::create_dir(sandbox.path("artifacts")).unwrap();
    std::fs::rename(&run, sandbox.path("artifacts/run")).unwrap();
    let output = run_with_a_full_stream(
        &sandbox,
        &["infer", "--index", "0", "--data-dir", data],
        true,
    );
    assert!(
        stdout(&output).starts_with("#0: predicted 7"),
        "{}",
        stdout(&output)
    );
    assert_eq!(output.status.code(), Some(1));
}

#[cfg(target_os = "linux")]
#[test]
fn eval_on_a_read_only_run_prints_its_scores_and_names_what_it_could_not_write() {
    let sandbox = Sandbox::new();
    // A read-only run needs a read-only mount: root ignores file permissions.
    let Some(disk) = SmallDisk::mount_or_skip(sandbox.path("disk")) else {
        return;
    };
    let trained = quick_run(&sandbox, &["--epochs", "1", "--run", "disk/run"]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    disk.mount_with("remount,ro");
    let data = mnist_dir();
    let output = sandbox.run_on(&data, &["eval", "--run", "disk/run"]);
    let line = assert_one_line_error(&output);
    assert!(
        line.ends_with(
            "disk/run: read-only: eval.json, confusion.png and misclassified.png were not written"
        ),
        "{line}"
    );
    assert!(stdout(&output).contains("accuracy"), "{}", stdout(&output));
    assert!(!sandbox.path("disk/run/eval.json").exists());
    disk.mount_with("remount,rw");
}
