//! The README is a user's manual whose every command and snippet runs as printed. This file
//! holds it to that: its fenced code blocks run, in order, in one temporary folder standing for
//! the reader's clone of the repository; its flag table names exactly the flags the binary
//! declares; it stays short and free of the engineering record, which `docs/guarantees.md`
//! keeps with the names of tests that exist.
//!
//! How a block runs depends on its fence, and a fence this file does not know fails the test:
//! - ```` ```sh ````: each line is a command, run by `sh` as printed, with the test's build of
//!   the binary first on `PATH` as `mnist-trainer`, and must succeed. `HOME` is an empty
//!   temporary folder (no Burn cache: the README's offline steps fill it), every download goes
//!   to a closed port (so the run is offline, as those steps promise), and the working folder
//!   holds what the README tells its reader to bring ([`BROUGHT`]). `cargo run --release [--]`
//!   stands for the binary. A line is run otherwise only as [`NOT_AS_PRINTED`] says, each
//!   entry with its reason; an entry that matches no README line fails the test before
//!   anything runs. An answer that is a JSON `{"error": ...}` fails its line too (`curl` exits
//!   0 on an HTTP 4xx), and so does a line running past [`LINE_LIMIT`].
//! - ```` ```python ````: compiled, and every name it uses must be defined or imported (Python's
//!   `symtable`). A block that imports PyTorch stops there, since PyTorch cannot be installed
//!   where the tests run (CI has onnx, onnxruntime and numpy); its `load_file("F")` is also
//!   checked against F's tensors: the names and shapes the block's `nn.Linear` layers expect
//!   must be exactly those in F. Any other Python block runs with `MNIST_TRAINER_PYTHON` (else
//!   `python3`) and must succeed.
//! - ```` ```text ````: output or a command for contributors; never run.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{mnist_dir, serve_address, wait_within};

/// The most words `wc -w README.md` may count (issue #32: a user's manual, not a record).
const MOST_WORDS: usize = 2500;

/// The longest one README line may run here (the slowest takes a few seconds).
const LINE_LIMIT: Duration = Duration::from_secs(120);

/// How a README line runs when not as printed.
#[derive(Debug)]
enum Way {
    /// This command runs instead.
    Instead(&'static str),
    /// Not run.
    Skipped,
    /// Started in the background with `--port 0` appended; while it serves, later lines reach
    /// it at the address it printed wherever they say `127.0.0.1:8080`. It gets SIGTERM after
    /// the last block and must stop with exit code 143.
    Serving,
    /// Started, then stopped with SIGINT (the reader's Ctrl-C) once the run named by its
    /// `--run` has recorded epoch 1 (its metrics line and its three checkpoint files); it must
    /// exit with 130 and print how to continue.
    CtrlCAfterFirstEpoch,
}

/// Every README line that runs otherwise than printed (its command, without the comment), how
/// and why. Keep this short: each entry is a promise the test does not check.
const NOT_AS_PRINTED: &[(&str, Way, &str)] = &[
    (
        "cargo install --path .",
        Way::Skipped,
        "installing would build the binary again; the test's build is already first on PATH",
    ),
    (
        "mnist-trainer --config config/reader.json --run artifacts/reader",
        Way::Instead(
            "mnist-trainer --config config/reader.json --run artifacts/reader --epochs 1 --limit-train 356 --valid-size 100 --limit-test 256 --font-digits 300 --font-outliers 300",
        ),
        "about 5 minutes as printed; the same recipe for one epoch on 256 images (100 held \
         out), 300 digits and 300 letters drawn in fonts makes the same kind of run folder, which the later \
         commands use",
    ),
    (
        "mnist-trainer --data-dir my-digits --finetune artifacts/reader --finetune-mix 1 --run artifacts/mine",
        Way::Instead(
            r#"mnist-trainer infer --run artifacts/reader --json --index $(seq -s, 0 59) --save-input staged | sed 's/^{"index":\([0-9]*\),"label":\([0-9]\).*/\1 \2/' | while read i l; do mkdir -p my-digits/$l && mv staged/test-$i.png my-digits/$l/; done && mnist-trainer --data-dir my-digits --finetune artifacts/reader --finetune-mix 1 --run artifacts/mine --epochs 1"#,
        ),
        "the reader has no folder of its own pictures: 60 test digits the README's earlier run \
         saved, sorted into class folders by their labels, stand in for them; one epoch",
    ),
    (
        "mnist-trainer serve --run artifacts/mine",
        Way::Skipped,
        "it serves until stopped; the serve line further down, on the reader, is the one run",
    ),
    (
        "mnist-trainer serve --run artifacts/reader",
        Way::Serving,
        "it serves until stopped, and port 8080 may be taken on the test machine",
    ),
    (
        "mnist-trainer --epochs 4 --run artifacts/long",
        Way::CtrlCAfterFirstEpoch,
        "its comment tells the reader to press Ctrl-C during epoch 2",
    ),
];

/// What the README tells its reader to have in the folder they run commands in, put there
/// before the first block: MNIST's four files as a mirror serves them (gzipped; from
/// `MNIST_DATA_DIR`, see `common::mnist_dir`), and `simple_nn.pt`, the file the PyTorch
/// tutorial's script saves, as PyTorch 2.15 wrote it (`bench/make_fixtures.py`).
const BROUGHT: &[&str] = &[
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "simple_nn.pt",
];

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn readme() -> String {
    std::fs::read_to_string(repository().join("README.md")).expect("README.md")
}

/// A fenced code block: its fence's info string, its first line's number and its lines.
struct Block {
    info: String,
    line: usize,
    lines: Vec<String>,
}

/// The README's fenced code blocks, in order; fails on a fence left open.
fn blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (number, line) in text.lines().enumerate() {
        match (line.strip_prefix("```"), open.take()) {
            (Some(info), None) => {
                open = Some(Block {
                    info: info.trim().to_string(),
                    line: number + 2,
                    lines: Vec::new(),
                })
            }
            (Some(_), Some(block)) => blocks.push(block),
            (None, Some(mut block)) => {
                block.lines.push(line.to_string());
                open = Some(block);
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "README.md: a code block is never closed");
    blocks
}

/// A shell line without its trailing comment (a `#` after a blank, outside quotes), trimmed.
fn command_of(line: &str) -> &str {
    let (mut single, mut double, mut previous) = (false, false, ' ');
    for (at, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && previous.is_whitespace() => return line[..at].trim(),
            _ => {}
        }
        previous = c;
    }
    line.trim()
}

/// The Python that checks a snippet: compiled, every name it uses defined or imported, and a
/// safetensors file it loads holding what its `nn.Linear` layers expect. Prints a JSON object:
/// `torch` (whether it imports PyTorch) and `problems`.
const PYTHON_CHECK: &str = r#"
import ast, builtins, json, struct, symtable, sys

path = sys.argv[1]
source = open(path).read()
tree = ast.parse(source, path)
table = symtable.symtable(source, path, "exec")
problems = []
bound = {s.get_name() for s in table.get_symbols() if s.is_local()}

def check(scope):
    for symbol in scope.get_symbols():
        name = symbol.get_name()
        if not symbol.is_referenced() or symbol.is_local() or symbol.is_free():
            continue
        if name not in bound and not hasattr(builtins, name):
            problems.append(f"{name} is used but never defined or imported")
    for child in scope.get_children():
        check(child)

check(table)

def root(name):
    return (name or "").split(".")[0]

torch = any(
    (isinstance(node, ast.Import) and any(root(a.name) == "torch" for a in node.names))
    or (isinstance(node, ast.ImportFrom) and (root(node.module) == "torch" or node.module == "safetensors.torch"))
    for node in ast.walk(tree)
)

expected = {}
for node in ast.walk(tree):
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
        call, target = node.value, node.targets[0]
        layer = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
        if layer == "Linear" and isinstance(target, ast.Attribute):
            inputs, outputs = (arg.value for arg in call.args[:2])
            expected[f"{target.attr}.weight"] = [outputs, inputs]
            expected[f"{target.attr}.bias"] = [outputs]

for node in ast.walk(tree):
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "load_file":
        file = node.args[0].value
        try:
            with open(file, "rb") as f:
                header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
        except OSError as error:
            problems.append(f"load_file: {error}")
            continue
        header.pop("__metadata__", None)
        found = {name: tensor["shape"] for name, tensor in header.items()}
        if found != expected:
            problems.append(f"{file} holds {found}, the snippet's layers expect {expected}")

print(json.dumps({"torch": torch, "problems": problems}))
"#;

/// The reader's session: a working folder, an empty home, the binary on `PATH`, and the
/// server a line started, if any.
struct Session {
    work: tempfile::TempDir,
    home: tempfile::TempDir,
    bin: tempfile::TempDir,
    python: String,
    server: Option<(Child, String)>,
    timings: Vec<(String, Duration)>,
}

impl Session {
    fn new() -> Self {
        let session = Session {
            work: tempfile::tempdir().unwrap(),
            home: tempfile::tempdir().unwrap(),
            bin: tempfile::tempdir().unwrap(),
            python: std::env::var("MNIST_TRAINER_PYTHON").unwrap_or_else(|_| "python3".into()),
            server: None,
            timings: Vec::new(),
        };
        std::os::unix::fs::symlink(
            env!("CARGO_BIN_EXE_mnist-trainer"),
            session.bin.path().join("mnist-trainer"),
        )
        .unwrap();
        std::fs::create_dir(session.home.path().join("runtime")).unwrap();
        session.bring();
        session
    }

    /// Puts [`BROUGHT`] into the working folder.
    fn bring(&self) {
        let data = mnist_dir();
        for name in &BROUGHT[..4] {
            let raw = name.trim_end_matches(".gz");
            let found = [data.clone(), data.join("train"), data.join("test")]
                .into_iter()
                .flat_map(|dir| [dir.join(name), dir.join(raw)])
                .find(|path| path.is_file())
                .unwrap_or_else(|| panic!("{}: no {name}", data.display()));
            let target = self.work.path().join(name);
            if found.extension().is_some_and(|ext| ext == "gz") {
                std::os::unix::fs::symlink(&found, &target).unwrap();
            } else {
                let mut gz = flate2::write::GzEncoder::new(
                    std::fs::File::create(&target).unwrap(),
                    flate2::Compression::fast(),
                );
                std::io::copy(&mut std::fs::File::open(&found).unwrap(), &mut gz).unwrap();
                gz.finish().unwrap();
            }
        }
        std::fs::copy(
            repository().join("tests/fixtures/pytorch/simple_nn.pt"),
            self.work.path().join(BROUGHT[4]),
        )
        .unwrap();
        // The working folder is the reader's clone: its configs are the repository's.
        std::os::unix::fs::symlink(repository().join("config"), self.work.path().join("config"))
            .unwrap();
    }

    /// A command for `sh -c script` in the working folder, with the reader's environment.
    fn command(&self, program: &str) -> Command {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![self.bin.path().to_path_buf()];
        paths.extend(std::env::split_paths(&path));
        let mut command = Command::new(program);
        command
            .current_dir(self.work.path())
            .env("PATH", std::env::join_paths(paths).unwrap())
            .env("HOME", self.home.path())
            .env("XDG_RUNTIME_DIR", self.home.path().join("runtime"))
            .env_remove("XDG_CACHE_HOME")
            .env_remove("RUST_BACKTRACE")
            .env_remove("MNIST_DATA_DIR");
        // Offline, as the README's offline steps promise: a download would fail at once.
        for proxy in [
            "http_proxy",
            "https_proxy",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
        ] {
            command.env(proxy, "http://127.0.0.1:9");
        }
        command
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost");
        command
    }

    fn sh(&self, script: &str) -> Command {
        let mut command = self.command("sh");
        command.args(["-c", script]);
        command
    }

    fn timed<T>(&mut self, what: &str, run: impl FnOnce(&mut Self) -> T) -> T {
        let started = Instant::now();
        let result = run(self);
        self.timings.push((what.to_string(), started.elapsed()));
        result
    }

    /// Runs one line of a shell block, as printed or as [`NOT_AS_PRINTED`] says.
    fn run_line(&mut self, where_: &str, line: &str) {
        let printed = command_of(line);
        if printed.is_empty() {
            return;
        }
        let mut command = printed.to_string();
        let mut way = None;
        if let Some((_, how, _)) = NOT_AS_PRINTED.iter().find(|(key, ..)| *key == printed) {
            way = Some(how);
        } else if let Some(rest) = printed.strip_prefix("cargo run --release") {
            let rest = rest.trim_start();
            let rest = rest.strip_prefix("--").unwrap_or(rest);
            command = format!("mnist-trainer{rest}");
        } else {
            assert!(
                !printed.starts_with("cargo "),
                "{where_}: `{printed}` would run cargo in the test; list it in NOT_AS_PRINTED"
            );
        }
        if let Some((_, address)) = &self.server {
            command = command.replace("127.0.0.1:8080", address);
        }
        match way {
            Some(Way::Skipped) => {}
            Some(Way::Instead(instead)) => {
                let instead = instead.to_string();
                self.timed(printed, |s| s.succeed(where_, printed, &instead));
            }
            Some(Way::Serving) => self.timed(printed, |s| s.serve(where_, &command)),
            Some(Way::CtrlCAfterFirstEpoch) => {
                self.timed(printed, |s| s.interrupt(where_, &command))
            }
            None => {
                self.timed(printed, |s| s.succeed(where_, printed, &command));
            }
        }
    }

    /// Runs `command` and fails unless it succeeds within [`LINE_LIMIT`]. An answer that is a
    /// JSON error counts as a failure too: `curl` exits 0 on an HTTP 4xx.
    fn succeed(&self, where_: &str, printed: &str, command: &str) {
        use std::os::unix::process::CommandExt;
        let (out, err) = (self.home.path().join("out"), self.home.path().join("err"));
        let mut child = self
            .sh(command)
            .process_group(0)
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > LINE_LIMIT {
                // SAFETY: signals the process group this test started for the line.
                unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
                let _ = child.wait();
                panic!(
                    "{where_}: `{printed}` ran past {LINE_LIMIT:?}: too slow for this test; \
                     shorten it in NOT_AS_PRINTED, saying why"
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let stdout = std::fs::read_to_string(&out).unwrap_or_default();
        assert!(
            status.success() && !stdout.starts_with("{\"error\""),
            "{where_}: `{printed}` (run as `{command}`) failed, {status}\nstdout:\n{stdout}\n\
             stderr:\n{}",
            std::fs::read_to_string(&err).unwrap_or_default()
        );
    }

    fn serve(&mut self, where_: &str, command: &str) {
        self.stop_server();
        let mut child = self
            .sh(&format!("exec {command} --port 0"))
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(self.home.path().join("serve.log")).unwrap())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        if first.is_empty() {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(self.home.path().join("serve.log")).unwrap();
            panic!("{where_}: `{command}` did not start serving:\n{log}");
        }
        self.server = Some((child, serve_address(&first)));
    }

    fn stop_server(&mut self) {
        if let Some((mut child, _)) = self.server.take() {
            // SAFETY: sending a signal to our own child process.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            let status = wait_within(&mut child, Duration::from_secs(60), "serve after SIGTERM");
            assert_eq!(status.code(), Some(143), "serve after SIGTERM: {status}");
        }
    }

    fn interrupt(&mut self, where_: &str, command: &str) {
        let run = command
            .split_whitespace()
            .skip_while(|word| *word != "--run")
            .nth(1)
            .unwrap_or_else(|| panic!("{where_}: `{command}` names no --run folder"));
        let log = self.home.path().join("interrupted.log");
        let mut child = self
            .sh(&format!("exec {command}"))
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let folder = self.work.path().join(run);
        let recorded = || {
            std::fs::read_to_string(folder.join("metrics.jsonl")).is_ok_and(|t| !t.is_empty())
                && ["model", "optim", "scheduler"]
                    .iter()
                    .all(|kind| folder.join(format!("checkpoint/{kind}-1.bpk")).is_file())
        };
        let started = Instant::now();
        while !recorded() {
            assert!(
                child.try_wait().unwrap().is_none(),
                "{where_}: `{command}` ended before its first epoch"
            );
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "no first epoch"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        crate::common::ctrl_c(&child);
        let status = wait_within(&mut child, Duration::from_secs(120), command);
        let printed = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            status.code(),
            Some(130),
            "{where_}: `{command}`:\n{printed}"
        );
        assert!(printed.contains("continue with:"), "{printed}");
    }

    /// Checks a Python block and, unless it needs PyTorch, runs it.
    fn python(&mut self, where_: &str, source: &str) {
        let scratch = self.home.path().join("snippet.py");
        std::fs::write(&scratch, source).unwrap();
        let checker = self.home.path().join("check_snippet.py");
        std::fs::write(&checker, PYTHON_CHECK).unwrap();
        let output = self
            .command(&self.python)
            .arg(&checker)
            .arg(&scratch)
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", self.python));
        assert!(
            output.status.success(),
            "{where_}: the Python block does not compile:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let verdict: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            verdict["problems"],
            serde_json::json!([]),
            "{where_}: the Python block"
        );
        if verdict["torch"] == true {
            return;
        }
        let what = format!("python block at {where_}");
        let output = self.timed(&what, |s| {
            s.command(&s.python).arg(&scratch).output().unwrap()
        });
        assert!(
            output.status.success(),
            "{where_}: the Python block failed with {} (MNIST_TRAINER_PYTHON needs onnx, \
             onnxruntime and numpy):\nstdout:\n{}\nstderr:\n{}",
            self.python,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some((mut child, _)) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn every_command_and_snippet_in_the_readme_runs_as_printed() {
    let started = Instant::now();
    let blocks = blocks(&readme());
    // A stale entry fails before anything runs: its line would otherwise run as printed,
    // which may take as long as the entry was there to avoid.
    let commands: BTreeSet<&str> = blocks
        .iter()
        .filter(|block| block.info == "sh")
        .flat_map(|block| block.lines.iter().map(|line| command_of(line)))
        .collect();
    let stale: Vec<_> = NOT_AS_PRINTED
        .iter()
        .map(|(key, ..)| *key)
        .filter(|key| !commands.contains(key))
        .collect();
    assert!(
        stale.is_empty(),
        "NOT_AS_PRINTED names lines the README no longer has: {stale:?}"
    );
    let mut session = Session::new();
    for block in &blocks {
        let where_ = format!("README.md line {}", block.line);
        match block.info.as_str() {
            "sh" => {
                for (offset, line) in block.lines.iter().enumerate() {
                    let where_ = format!("README.md line {}", block.line + offset);
                    session.run_line(&where_, line);
                }
            }
            "python" => session.python(&where_, &block.lines.join("\n")),
            "text" => {}
            other => panic!(
                "{where_}: a ```{other} block: mark it ```sh, ```python or ```text (output and \
                 commands not to run), or teach tests/readme.rs to run it"
            ),
        }
    }
    session.stop_server();
    for (what, took) in &session.timings {
        eprintln!("{:>7.2} s  {what}", took.as_secs_f64());
    }
    eprintln!("{:>7.2} s  in all", started.elapsed().as_secs_f64());
}

/// The commands the binary declares, read from the "Commands:" list of its `--help` (`help`
/// left out).
fn declared_commands() -> Vec<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_mnist-trainer"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    help.lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|command| *command != "help")
        .map(str::to_string)
        .collect()
}

/// The flags each command declares, read from its `--help` (options start their line, indented
/// at most 6 spaces; `--help` and `--version` left out).
fn declared_flags(command: &str) -> BTreeSet<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_mnist-trainer"))
        .args([command, "--help"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{command} --help");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter(|line| line.len() - line.trim_start().len() <= 6)
        .filter_map(|line| {
            let line = line.trim_start();
            // `-h, --help`: the long name after the short one.
            let bytes = line.as_bytes();
            let line = if bytes.len() > 4 && bytes[0] == b'-' && bytes[1] != b'-' {
                line[2..].trim_start_matches([',', ' '])
            } else {
                line
            };
            line.strip_prefix("--").map(|rest| {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect();
                format!("--{name}")
            })
        })
        .filter(|flag| flag != "--help" && flag != "--version")
        .collect()
}

/// The backticked words of a table cell or line.
fn backticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

#[test]
fn the_readme_flag_table_names_exactly_the_flags_each_command_declares() {
    let text = readme();
    let mut table: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let rows = text
        .lines()
        .skip_while(|line| !line.starts_with("| command | flags"))
        .skip(2)
        .take_while(|line| line.starts_with('|'));
    for row in rows {
        let cells: Vec<&str> = row.split('|').collect();
        let command = backticked(cells[1])[0].to_string();
        let flags = backticked(cells[2])
            .into_iter()
            .filter(|word| word.starts_with("--"))
            .map(str::to_string);
        table.entry(command).or_default().extend(flags);
    }
    let declared = declared_commands();
    let commands: Vec<&str> = declared.iter().map(String::as_str).collect();
    assert_eq!(
        table.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        commands.iter().copied().collect(),
        "the README's flag table has one row or more per command"
    );
    for &command in &commands {
        let declared = declared_flags(command);
        let listed = &table[command];
        let missing: Vec<_> = declared.difference(listed).collect();
        let extra: Vec<_> = listed.difference(&declared).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "`{command}`: the README's flag table lacks {missing:?} and names {extra:?}, \
             which `mnist-trainer {command} --help` does not declare"
        );
    }
    // Where --help sends its reader (README: "Some section") must be in the README.
    for &command in &commands {
        let help = Command::new(env!("CARGO_BIN_EXE_mnist-trainer"))
            .args([command, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8(help.stdout).unwrap();
        for (at, marker) in help.match_indices("README: \"") {
            let rest = &help[at + marker.len()..];
            let section = &rest[..rest.find('"').unwrap()];
            assert!(
                text.lines()
                    .any(|line| line.starts_with('#') && line.ends_with(section))
                    || text.contains(&format!("**{section}**")),
                "`{command} --help` points to the README's \"{section}\", which it lacks"
            );
        }
    }
}

/// The name of every `#[test]` function under `tests/` and `src/`.
fn test_functions() -> BTreeSet<String> {
    fn walk(dir: &Path, names: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, names);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let mut attributes = Vec::new();
                for line in text.lines().map(str::trim) {
                    if line.starts_with("#[") {
                        attributes.push(line);
                        continue;
                    }
                    if let Some(rest) = line.strip_prefix("fn ")
                        && attributes.contains(&"#[test]")
                    {
                        let name: String = rest
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .collect();
                        names.insert(name);
                    }
                    attributes.clear();
                }
            }
        }
    }
    let mut names = BTreeSet::new();
    // Integration tests and the unit tests beside the code they hold to a promise.
    walk(&repository().join("tests"), &mut names);
    walk(&repository().join("src"), &mut names);
    names
}

#[test]
fn the_readme_stays_a_short_users_manual() {
    let text = readme();
    let words = text.split_whitespace().count();
    assert!(
        words <= MOST_WORDS,
        "README.md has {words} words (wc -w), more than {MOST_WORDS}: measurements, test names \
         and the architecture belong in docs/ and DEVELOPERS.md"
    );
    // The CI's data folder appears once: in the contributors' test command, the one .ci/run
    // runs.
    let ci_data = "../shared/data/mnist";
    assert_eq!(text.matches(ci_data).count(), 1, "README.md: {ci_data}");
    let test_command = text
        .lines()
        .find(|line| line.contains(ci_data))
        .unwrap()
        .trim();
    let ci = std::fs::read_to_string(repository().join(".ci/run")).unwrap();
    let ci_command = ci
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap()
        .trim();
    assert_eq!(
        test_command, ci_command,
        "README's test command and .ci/run's"
    );
    let contributing = &text[text
        .find("## Contributing")
        .expect("a Contributing section")..];
    assert!(contributing.contains(test_command));
    assert!(contributing.contains("cargo test --release --lib"));
    for document in ["README.md", "docs/guarantees.md", "docs/measurements.md"] {
        let text = std::fs::read_to_string(repository().join(document)).unwrap();
        for path in ["/work/", "/root/", "src/"] {
            assert!(
                !text.contains(path),
                "{document} names {path}: this machine's folders, or source files that move"
            );
        }
    }
    let tests = test_functions();
    let named: Vec<_> = backticked(&text)
        .into_iter()
        .filter(|word| tests.contains(*word))
        .collect();
    assert!(
        named.is_empty(),
        "README.md names tests {named:?}: docs/guarantees.md keeps them"
    );
}

#[test]
fn docs_guarantees_names_only_tests_that_exist() {
    let text = std::fs::read_to_string(repository().join("docs/guarantees.md")).unwrap();
    let tests = test_functions();
    let named: Vec<&str> = backticked(&text)
        .into_iter()
        .filter(|word| {
            word.matches('_').count() >= 3
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .collect();
    assert!(
        named.len() >= 20,
        "docs/guarantees.md names {} tests",
        named.len()
    );
    let missing: Vec<_> = named
        .iter()
        .filter(|name| !tests.contains(**name))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/guarantees.md names tests that do not exist: {missing:?}"
    );
}
