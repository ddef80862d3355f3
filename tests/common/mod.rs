//! Running the real binary from integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// How close another implementation's probabilities (PyTorch's, onnxruntime's, a hand-computed
/// forward pass) must come to `infer`'s. The README quotes 4.6e-8 to 4.2e-7: 1e-6 holds those
/// figures to their order, with room for another CPU's rounding (AVX-512 or AVX2 kernels).
pub const AGREEMENT: f64 = 1e-6;

/// The folder of MNIST's four IDX files: `MNIST_DATA_DIR` when set (relative to the crate root
/// when relative; `.ci/run` sets it to `../shared/data/mnist`), else Burn's own MNIST cache,
/// which the binary fills once (downloading) when it is empty.
pub fn mnist_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| match std::env::var_os("MNIST_DATA_DIR") {
        Some(dir) => {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
            assert!(
                dir.join("t10k-labels-idx1-ubyte.gz").is_file()
                    || dir.join("t10k-labels-idx1-ubyte").is_file(),
                "MNIST_DATA_DIR={} holds no MNIST test labels",
                dir.display()
            );
            dir
        }
        None => burn_cache_filled(),
    })
    .clone()
}

/// Burn's MNIST cache (`train/` and `test/` folders, which `--data-dir` reads), downloaded by a
/// one-image training run when it is not there yet.
fn burn_cache_filled() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME to find Burn's cache")
        .join("burn-dataset")
        .join("mnist");
    if !cache.join("test").join("t10k-labels-idx1-ubyte").is_file() {
        let sandbox = Sandbox::new();
        let output = sandbox.run([
            "--epochs",
            "1",
            "--limit-train",
            "64",
            "--limit-test",
            "64",
            "--run",
            "fill",
        ]);
        assert!(
            output.status.success(),
            "MNIST_DATA_DIR is not set and downloading MNIST into Burn's cache failed (set \
             MNIST_DATA_DIR to a folder of its four IDX files to test offline): {}",
            stderr(&output)
        );
    }
    cache
}

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

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The first epoch line of a training's standard output (after what the run says at its start:
/// the model's table, the data, the device); empty when there is none.
pub fn first_epoch_line(out: &str) -> &str {
    out.lines()
        .find(|line| line.starts_with("epoch "))
        .unwrap_or_default()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
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

/// Asserts a training that diverged failed as the README promises: one error line containing
/// `cause`, run `run` recorded as failed, and no model.bpk kept. Returns the line.
pub fn assert_diverged_without_model(
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

/// The `host:port` in `serve`'s first line (`... http://127.0.0.1:PORT/ ...`).
pub fn serve_address(line: &str) -> String {
    line.split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in serve's first line: {line:?}"))
        .to_string()
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A run's metrics lines without their seconds, which differ run to run.
pub fn epochs_without_seconds(metrics: &Path) -> Vec<serde_json::Value> {
    read_jsonl(metrics)
        .into_iter()
        .map(|mut epoch| {
            epoch.as_object_mut().unwrap().remove("seconds");
            epoch
        })
        .collect()
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

pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

/// Sends SIGINT (Ctrl-C) to a child process.
#[cfg(unix)]
pub fn ctrl_c(child: &std::process::Child) {
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
}

/// A file read whole, gunzipped when its content is gzip (MNIST's files come either way).
pub fn read_maybe_gzipped(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return raw;
    }
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(raw.as_slice())
        .read_to_end(&mut decoded)
        .unwrap();
    decoded
}

/// The IDX file `name` of folder `dir`, raw or `.gz`, decompressed.
pub fn read_idx(dir: &Path, name: &str) -> Vec<u8> {
    let raw = dir.join(name);
    let path = if raw.is_file() {
        raw
    } else {
        dir.join(format!("{name}.gz"))
    };
    read_maybe_gzipped(&path)
}

/// Test digit `index` from the real MNIST files in `data`, as a 28×28 grey image (white on
/// black).
pub fn mnist_test_digit(data: &Path, index: usize) -> image::GrayImage {
    let bytes = read_idx(data, "t10k-images-idx3-ubyte");
    let start = 16 + index * 784;
    image::GrayImage::from_raw(28, 28, bytes[start..start + 784].to_vec()).unwrap()
}

/// All ten probabilities `infer --json` gives for each of the first `count` test images of
/// `run`; fails unless there is exactly one answer of ten per image.
pub fn infer_probabilities(sandbox: &Sandbox, run: &str, count: usize) -> Vec<Vec<f64>> {
    infer_probabilities_with(sandbox, run, count, &[])
}

/// As [`infer_probabilities`], with `extra` flags for `infer` (`--backend ndarray`), also
/// failing unless each answer's class is its most probable one.
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
            assert_eq!(answer["class"], most, "{run}: {line}");
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
pub fn copy_folder(from: &Path, to: &Path) {
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

/// Every file under `dir` (recursively), relative to it.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                files.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files);
    files.sort();
    files
}
