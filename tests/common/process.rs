//! Running the real binary in a scratch folder, waiting for it, signalling it, and reading what
//! it printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch folder the binary runs in, so nothing lands in the repository.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Runs the binary with `args`, stdout and stderr captured (so not a terminal).
    pub fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let runtime_dir = self.path("xdg-runtime");
        std::fs::create_dir_all(&runtime_dir).expect("runtime dir");
        Command::new(env!("CARGO_BIN_EXE_mnist-trainer"))
            .args(args)
            .current_dir(self.dir.path())
            .env("XDG_RUNTIME_DIR", runtime_dir)
            .env_remove("RUST_BACKTRACE")
            .output()
            .expect("the binary starts")
    }
}

impl Sandbox {
    /// Starts the binary in the background with `args` followed by `--data-dir data`, stdout
    /// and stderr piped.
    pub fn spawn_on(&self, data: &Path, args: &[&str]) -> std::process::Child {
        let runtime_dir = self.path("xdg-runtime");
        std::fs::create_dir_all(&runtime_dir).expect("runtime dir");
        Command::new(env!("CARGO_BIN_EXE_mnist-trainer"))
            .args(args)
            .arg("--data-dir")
            .arg(data)
            .current_dir(self.dir.path())
            .env("XDG_RUNTIME_DIR", runtime_dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the binary starts")
    }

    /// Waits (up to 5 minutes) until `relative` exists in the sandbox.
    pub fn wait_for_path(&self, relative: &str) {
        let path = self.path(relative);
        let start = std::time::Instant::now();
        while !path.exists() {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(300),
                "{relative} never appeared"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Waits (up to 5 minutes) until the run's metrics file holds `epochs` lines.
    pub fn wait_for_epochs(&self, run: &str, epochs: usize) {
        let metrics = self.path(run).join("metrics.jsonl");
        let start = std::time::Instant::now();
        while std::fs::read_to_string(&metrics).map_or(0, |text| text.lines().count()) < epochs {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(300),
                "epoch {epochs} never finished"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Waits until epoch `epoch`'s checkpoint is surely whole on disk, so a stop keeps that
    /// epoch. Burn writes an epoch's checkpoint after its metrics line, and a stop between the
    /// two rightly keeps only the epoch before; the next epoch's line comes after the checkpoint.
    pub fn wait_for_checkpoint(&self, run: &str, epoch: usize) {
        self.wait_for_epochs(run, epoch + 1);
    }

    /// Runs the binary with `args` followed by `--data-dir data`.
    pub fn run_on(&self, data: &Path, args: &[&str]) -> Output {
        let mut all: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        all.extend(["--data-dir".as_ref(), data.as_os_str()]);
        self.run(all)
    }
}

/// The binary run in `sandbox` with `args` and extra environment variables.
pub fn run_with_env(sandbox: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mnist-trainer"))
        .args(args)
        .current_dir(sandbox.dir.path())
        .env("XDG_RUNTIME_DIR", sandbox.path(""))
        .envs(env.iter().copied())
        .output()
        .expect("the binary starts")
}

/// Waits for `child` to end, at most `limit`: past it (a hang, what such tests guard against)
/// the child is killed and the test fails, saying `what` did not end.
pub fn wait_within(
    child: &mut std::process::Child,
    limit: std::time::Duration,
    what: &str,
) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not end within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Sends SIGINT (Ctrl-C) to a child process.
#[cfg(unix)]
pub fn ctrl_c(child: &std::process::Child) {
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The epoch lines of a training's standard output (after what the run says at its start: the
/// model's table, the data, the device), one per finished epoch; the progress lines a long
/// epoch prints within itself (`epoch 1/5  training 40% ...`) are not among them.
pub fn epoch_lines(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|line| line.starts_with("epoch ") && !line.contains("  training "))
        .collect()
}

/// The first epoch line of a training's standard output (see [`epoch_lines`]); empty when
/// there is none.
pub fn first_epoch_line(out: &str) -> &str {
    epoch_lines(out).first().copied().unwrap_or_default()
}

/// Asserts the run failed the way a user error should: non-zero exit, exactly one line on
/// stderr starting with `error:`, no panic and no backtrace. Returns that line.
pub fn assert_one_line_error(output: &Output) -> String {
    let err = stderr(output);
    assert!(!output.status.success(), "expected failure; stderr: {err}");
    assert_ne!(
        output.status.code(),
        Some(101),
        "exit code 101 is a panic: {err}"
    );
    assert!(!err.contains("panicked"), "panicked: {err}");
    assert!(!err.contains("backtrace"), "backtrace: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    lines[0].to_string()
}

/// Types the resume command a stopped run printed (`continue with: ...` in `printed`) into a
/// shell in the sandbox, exactly as printed; returns the command and what it did.
pub fn run_printed_resume_command(sandbox: &Sandbox, printed: &str) -> (String, Output) {
    let command = printed
        .lines()
        .find_map(|line| {
            line.split_once("continue with: ")
                .map(|(_, c)| c.to_string())
        })
        .unwrap_or_else(|| panic!("no resume hint in {printed}"));
    let output = Command::new("sh")
        .args(["-c", &command])
        .current_dir(sandbox.dir.path())
        .env("XDG_RUNTIME_DIR", sandbox.path("xdg-runtime"))
        .output()
        .unwrap();
    (command, output)
}

/// The `host:port` in `serve`'s first line (`... http://127.0.0.1:PORT/ ...`).
pub fn serve_address(line: &str) -> String {
    line.split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in serve's first line: {line:?}"))
        .to_string()
}
