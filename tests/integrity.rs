//! A run stays whole whatever meets it: a second process, SIGTERM or SIGHUP, Ctrl-C under the
//! dashboard, files of the wrong dataset. Each test runs the real binary, with real signals,
//! real concurrent processes and a real pseudo-terminal.

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::*;

/// A short training run: 10,000 images an epoch, so epochs take about a second.
const QUICK: &[&str] = &["--limit-train", "10000", "--limit-test", "2000"];

fn spawn_training(sandbox: &Sandbox, run: &str, epochs: &str) -> Child {
    let mut args = vec!["--epochs", epochs, "--run", run];
    args.extend(QUICK);
    sandbox.spawn_on(&mnist_dir(), &args)
}

fn epoch_numbers(path: &Path) -> Vec<u64> {
    read_jsonl(path)
        .iter()
        .map(|e| e["epoch"].as_u64().unwrap())
        .collect()
}

fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as libc::pid_t, signal) };
}

#[test]
fn two_trainings_started_together_in_one_folder_one_is_refused_and_the_run_stays_whole() {
    let sandbox = Sandbox::new();
    let first = spawn_training(&sandbox, "run", "3");
    let second = spawn_training(&sandbox, "run", "3");
    let outputs = [first, second].map(|child| child.wait_with_output().unwrap());
    let (won, lost): (Vec<_>, Vec<_>) = outputs.iter().partition(|o| o.status.success());
    assert_eq!(
        (won.len(), lost.len()),
        (1, 1),
        "exactly one trains: {}\n{}",
        stderr(&outputs[0]),
        stderr(&outputs[1])
    );
    let line = assert_one_line_error(lost[0]);
    // Refused while the other holds the folder, or (if it started late) because a run is there.
    assert!(
        line.contains("run: in use by process ") || line.contains("run: already holds a run"),
        "{line}"
    );
    assert_eq!(epoch_numbers(&sandbox.path("run/metrics.jsonl")), [1, 2, 3]);
    assert_eq!(
        read_json(&sandbox.path("run/summary.json"))["status"],
        "completed"
    );
}

#[test]
fn a_run_still_training_cannot_be_resumed_evaluated_or_overwritten_by_another_process() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let training = spawn_training(&sandbox, "run", "4");
    sandbox.wait_for_epochs("run", 1);
    let pid = training.id();
    let pytorch_file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pytorch/sequential.pt");
    let pytorch_file = pytorch_file.to_str().unwrap();
    for args in [
        &["--resume", "run"][..],
        &["--run", "run", "--overwrite", "--epochs", "1"][..],
        &["import", "--pytorch", pytorch_file, "--run", "run"][..],
    ] {
        let line = assert_one_line_error(&sandbox.run_on(&data, args));
        assert!(
            line.contains(&format!("run: in use by process {pid} (train, since ")),
            "{args:?}: {line}"
        );
    }
    // eval has no model to read yet; it says why, naming the process still training it.
    let line = assert_one_line_error(&sandbox.run(["eval", "--run", "run"]));
    assert!(
        line.contains(&format!(
            "run: no model: it is still being trained by process {pid} (train, since "
        )),
        "{line}"
    );
    let output = training.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        epoch_numbers(&sandbox.path("run/metrics.jsonl")),
        [1, 2, 3, 4]
    );
    assert!(
        !sandbox.path("run/run.lock").exists(),
        "the lock file goes with its process"
    );
}

/// Trains 8 epochs uninterrupted into `full`, and again into `stopped`, sending `signo` once
/// epoch 1 is recorded; checks the stop and the saved model, then types the printed resume
/// command and compares the two runs.
fn stop_with_signal_and_resume(signo: libc::c_int, exit_code: i32) {
    let sandbox = Sandbox::new();
    let full = spawn_training(&sandbox, "full", "8")
        .wait_with_output()
        .unwrap();
    assert!(full.status.success(), "{}", stderr(&full));

    let child = spawn_training(&sandbox, "stopped", "8");
    sandbox.wait_for_checkpoint("stopped", 1);
    signal(&child, signo);
    let output = child.wait_with_output().unwrap();
    let (out, err) = (stdout(&output), stderr(&output));
    assert_eq!(output.status.code(), Some(exit_code), "{out}\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    let summary = read_json(&sandbox.path("stopped/summary.json"));
    assert_eq!(summary["status"], "interrupted");
    let done = read_jsonl(&sandbox.path("stopped/metrics.jsonl"));
    assert!((1..8).contains(&done.len()), "{} epochs", done.len());
    // The saved model is the last finished epoch's: it scores what that epoch's line says
    // (validation is on the same test images here).
    let last = done.last().unwrap();
    let tested = summary["test_accuracy"].as_f64().unwrap();
    let recorded = last["valid_accuracy"].as_f64().unwrap();
    assert!(
        (tested - recorded).abs() < 1e-6,
        "model.bpk scores {tested}%, epoch {} recorded {recorded}%",
        last["epoch"]
    );

    let (command, resumed) = run_printed_resume_command(&sandbox, &out);
    assert!(resumed.status.success(), "{command}: {}", stderr(&resumed));
    assert_eq!(
        epochs_without_seconds(&sandbox.path("stopped/metrics.jsonl")),
        epochs_without_seconds(&sandbox.path("full/metrics.jsonl")),
        "resumed on flex: the same epochs as the uninterrupted run"
    );
    let [a, b] = ["full", "stopped"].map(|run| read_json(&sandbox.path(run).join("summary.json")));
    assert_eq!(a["test_accuracy"], b["test_accuracy"]);
}

#[test]
fn sigterm_stops_like_ctrl_c_with_exit_143_and_the_printed_command_resumes_identically() {
    stop_with_signal_and_resume(libc::SIGTERM, 143);
}

#[test]
fn sighup_stops_like_ctrl_c_with_exit_129_and_the_printed_command_resumes_identically() {
    stop_with_signal_and_resume(libc::SIGHUP, 129);
}

#[test]
fn a_signal_while_the_run_is_prepared_leaves_nothing_half_made() {
    let sandbox = Sandbox::new();
    let child = spawn_training(&sandbox, "run", "3");
    // After start-up, while the data is being read.
    std::thread::sleep(Duration::from_millis(100));
    signal(&child, libc::SIGTERM);
    let output = child.wait_with_output().unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(143), "{err}");
    if sandbox.path("run").exists() {
        // Stopped after its folder was written: an interrupted run, which resumes.
        let resumed = sandbox.run(["--resume", "run"]);
        assert!(resumed.status.success(), "{err}\n{}", stderr(&resumed));
    } else {
        assert!(
            err.contains("SIGTERM: stopped before training started; nothing was written"),
            "{err}"
        );
    }
}

#[test]
fn a_second_signal_ends_training_at_once() {
    let sandbox = Sandbox::new();
    let child = spawn_training(&sandbox, "run", "30");
    sandbox.wait_for_epochs("run", 1);
    // Back to back, while Burn is still finishing its current step. Two different signals:
    // the kernel merges a second pending signal of the same kind into the first.
    signal(&child, libc::SIGTERM);
    signal(&child, libc::SIGHUP);
    let output = child.wait_with_output().unwrap();
    let err = stderr(&output);
    // 128 + whichever was handled second.
    assert!(
        matches!(output.status.code(), Some(143 | 129)),
        "{:?}: {err}",
        output.status
    );
    assert!(
        err.contains(": a second stop signal, ending at once"),
        "{err}"
    );
    assert!(
        !sandbox.path("run/summary.json").exists(),
        "ended at once, before the run's files"
    );
    // What it finished is still whole: the run resumes from its last recorded epoch.
    let done = read_jsonl(&sandbox.path("run/metrics.jsonl")).len();
    let resumed = sandbox.run(["--resume", "run", "--epochs", &(done + 1).to_string()]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
}

/// A pseudo-terminal: the child's controlling terminal, as a terminal window would be.
struct Pty {
    master: std::fs::File,
    slave: OwnedFd,
}

fn open_pty() -> Pty {
    let (mut master, mut slave) = (0, 0);
    let size = libc::winsize {
        ws_row: 40,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: valid pointers; on success both descriptors are ours.
    let opened = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(opened, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: openpty returned these descriptors to us.
    unsafe {
        Pty {
            master: std::fs::File::from_raw_fd(master),
            slave: OwnedFd::from_raw_fd(slave),
        }
    }
}

/// Training on a pseudo-terminal: the child, the terminal, and a thread reading all it draws.
struct OnTerminal {
    child: Child,
    pty: Pty,
    screen: std::thread::JoinHandle<Vec<u8>>,
}

impl OnTerminal {
    /// Starts training with `args` (and the quick limits) in the sandbox, on a new
    /// pseudo-terminal as its controlling terminal, with `TERM` set to `term`.
    fn train(sandbox: &Sandbox, args: &[&str], term: &str) -> Self {
        let pty = open_pty();
        let stdio = || Stdio::from(pty.slave.try_clone().unwrap());
        let mut command = Command::new(env!("CARGO_BIN_EXE_mnist-trainer"));
        command
            .args(args)
            .arg("--data-dir")
            .arg(mnist_dir())
            .args(QUICK)
            .current_dir(sandbox.dir.path())
            .env("XDG_RUNTIME_DIR", sandbox.path("xdg-runtime"))
            .env("TERM", term)
            .stdin(stdio())
            .stdout(stdio())
            .stderr(stdio());
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(|| {
                // A new session whose controlling terminal is the pty, as a shell gives its jobs.
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("the binary starts");
        drop(command);
        // The dashboard must be read or it blocks writing; keep what it drew.
        let mut master = pty.master.try_clone().unwrap();
        let screen = std::thread::spawn(move || {
            let mut seen = Vec::new();
            let _ = master.read_to_end(&mut seen); // ends with EIO once the child is gone
            seen
        });
        Self { child, pty, screen }
    }

    /// Types `keys` into the terminal.
    fn type_keys(&self, keys: &[u8]) {
        std::io::Write::write_all(&mut &self.pty.master, keys).unwrap();
    }

    /// Waits (up to 2 minutes) for training to end; its exit code and all it drew.
    fn wait(mut self, what: &str) -> (Option<i32>, String) {
        let what = format!("training (stopped by {what})");
        let status = wait_within(&mut self.child, Duration::from_secs(120), &what);
        drop(self.pty);
        let drawn = String::from_utf8_lossy(&self.screen.join().unwrap()).into_owned();
        (status.code(), drawn)
    }
}

#[test]
fn ctrl_c_in_the_dashboard_stops_the_run_like_it_does_without_one() {
    let sandbox = Sandbox::new();
    let training = OnTerminal::train(
        &sandbox,
        &["--epochs", "8", "--run", "run"],
        "xterm-256color",
    );
    // Epoch 1's checkpoint surely whole: a stop between its metrics line and its checkpoint
    // rightly keeps no epoch, and the run then says "start it again", not "continue".
    sandbox.wait_for_checkpoint("run", 1);
    // The key Ctrl-C, typed into the terminal: byte 0x03.
    training.type_keys(b"\x03");
    let (code, drawn) = training.wait("Ctrl-C in the dashboard");
    assert_eq!(code, Some(130), "{drawn}");
    let summary = read_json(&sandbox.path("run/summary.json"));
    assert_eq!(summary["status"], "interrupted");
    let done = read_jsonl(&sandbox.path("run/metrics.jsonl")).len();
    assert!(done < 8, "all {done} epochs ran");
    assert!(drawn.contains("continue with: "), "{drawn}");
    // Resumed under the dashboard: the lines left afterwards are this command's epochs only.
    let resumed = OnTerminal::train(&sandbox, &["--resume", "run"], "xterm-256color");
    let (code, drawn) = resumed.wait("the resumed run");
    assert_eq!(code, Some(0), "{drawn}");
    assert!(
        drawn.contains(&format!("epoch {}/8  train", done + 1)),
        "{drawn}"
    );
    assert!(!drawn.contains("epoch 1/8  train"), "{drawn}");
}

#[test]
fn the_dashboards_kill_key_stops_the_run_like_ctrl_c_and_it_resumes() {
    let sandbox = Sandbox::new();
    // Epochs of a tenth of a second here: 40 leave time to open the popup and press its key.
    let training = OnTerminal::train(
        &sandbox,
        &["--epochs", "40", "--run", "run"],
        "xterm-256color",
    );
    sandbox.wait_for_checkpoint("run", 1);
    // `q` opens Burn's popup; its `k` is "stop the training immediately".
    training.type_keys(b"q");
    std::thread::sleep(Duration::from_millis(200));
    training.type_keys(b"k");
    let (code, drawn) = training.wait("[k] in the dashboard's popup");
    assert_eq!(code, Some(130), "{drawn}");
    let run = sandbox.path("run");
    assert_eq!(
        read_json(&run.join("summary.json"))["status"],
        "interrupted"
    );
    let done = read_jsonl(&run.join("metrics.jsonl")).len();
    assert!((1..40).contains(&done), "{done} epochs kept: {drawn}");
    assert!(
        run.join("model.bpk").is_file(),
        "the last finished epoch's model"
    );
    // The epochs are left on the terminal as plain lines, and the command that continues.
    assert!(drawn.contains(&format!("epoch {done}/40")), "{drawn}");
    let (command, resumed) = run_printed_resume_command(&sandbox, &drawn);
    assert!(resumed.status.success(), "{command}: {}", stderr(&resumed));
    assert_eq!(read_json(&run.join("summary.json"))["status"], "completed");
}

#[test]
fn a_terminal_that_cannot_draw_gets_plain_lines() {
    let sandbox = Sandbox::new();
    let training = OnTerminal::train(&sandbox, &["--epochs", "1", "--run", "run"], "dumb");
    let (code, drawn) = training.wait("one epoch");
    assert_eq!(code, Some(0), "{drawn}");
    assert!(drawn.contains("epoch 1/1  "), "{drawn}");
    assert!(
        !drawn.contains('\x1b'),
        "escape codes on a dumb terminal: {drawn:?}"
    );
}

#[test]
fn files_of_the_other_dataset_are_refused_naming_both() {
    let sandbox = Sandbox::new();
    let fashion = Path::new("/usr/share/datasets/fashion-mnist");
    let mnist = mnist_dir();
    let cases = [
        (
            "fashion-mnist",
            mnist.as_path(),
            "is MNIST's official file, not Fashion-MNIST's; pass --dataset mnist",
        ),
        (
            "mnist",
            fashion,
            "is Fashion-MNIST's official file, not MNIST's; pass --dataset fashion-mnist",
        ),
    ];
    for (dataset, data, expected) in cases {
        let output = sandbox.run_on(
            data,
            &["--dataset", dataset, "--epochs", "1", "--run", "run"],
        );
        let line = assert_one_line_error(&output);
        assert!(line.contains(expected), "{line}");
        assert!(line.contains("-idx"), "names the file: {line}");
        assert!(!sandbox.path("run").exists(), "a refused run left a folder");
    }
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
fn a_run_of_one_dataset_given_the_others_files_is_told_to_change_the_folder() {
    let sandbox = Sandbox::new();
    let fashion = Path::new("/usr/share/datasets/fashion-mnist");
    let args = [
        "--dataset",
        "fashion-mnist",
        "--epochs",
        "1",
        "--run",
        "run",
    ];
    let limits = ["--limit-train", "200", "--limit-test", "100"];
    let trained = sandbox.run_on(fashion, &[&args[..], &limits[..]].concat());
    assert!(trained.status.success(), "{}", stderr(&trained));
    let mnist = mnist_dir();
    // eval and infer take no --dataset: the run's own dataset decides, only the folder can change.
    for command in [
        &["eval", "--run", "run"][..],
        &["infer", "--run", "run", "--index", "0"],
    ] {
        let line = assert_one_line_error(&sandbox.run_on(&mnist, command));
        assert!(
            line.contains("not Fashion-MNIST's; the run was trained on Fashion-MNIST: pass a --data-dir holding its files"),
            "{line}"
        );
    }
}
