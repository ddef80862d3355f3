//! Broken inputs: each is one line on stderr naming the file or value, a non-zero exit, no
//! panic, and no run folder left behind.

use std::io::Write;
use std::path::Path;

use crate::common::*;

const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

fn images(count: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    for word in [2051u32, count, 28, 28] {
        bytes.extend_from_slice(&word.to_be_bytes());
    }
    bytes.extend((0..count as usize * 784).map(|i| (i % 256) as u8));
    bytes
}

fn labels(count: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    for word in [2049u32, count] {
        bytes.extend_from_slice(&word.to_be_bytes());
    }
    bytes.extend((0..count).map(|i| (i % 10) as u8));
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A small but valid MNIST folder: 20 training and 10 test images.
fn valid_folder(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let contents = [images(20), labels(20), images(10), labels(10)];
    for (name, bytes) in FILES.iter().zip(contents) {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// Trains on `data` and expects a one-line error containing every needle.
fn assert_training_refused(sandbox: &Sandbox, data: &Path, needles: &[&str]) {
    let output = sandbox.run_on(data, &["--epochs", "1", "--run", "run"]);
    let line = assert_one_line_error(&output);
    for needle in needles {
        assert!(line.contains(needle), "{line:?} lacks {needle:?}");
    }
    assert!(
        !sandbox.path("run").exists(),
        "a refused run left a folder behind"
    );
}

#[test]
fn a_small_valid_folder_trains() {
    let sandbox = Sandbox::new();
    let data = sandbox.path("data");
    valid_folder(&data);
    let output = sandbox.run_on(&data, &["--epochs", "1", "--run", "run"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        read_json(&sandbox.path("run/summary.json"))["train_images"],
        20
    );
}

#[test]
fn broken_data_folders_are_refused_with_the_file_named() {
    type Breakage = (&'static str, fn(&Path), &'static [&'static str]);
    let cases: [Breakage; 9] = [
        (
            "missing",
            |dir| std::fs::remove_file(dir.join(FILES[1])).unwrap(),
            &["holds neither train-labels-idx1-ubyte nor train-labels-idx1-ubyte.gz"],
        ),
        (
            "truncated",
            |dir| {
                let path = dir.join(FILES[0]);
                let bytes = std::fs::read(&path).unwrap();
                std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
            },
            &["train-images-idx3-ubyte: header promises 20 items"],
        ),
        (
            "empty",
            |dir| std::fs::write(dir.join(FILES[2]), b"").unwrap(),
            &["t10k-images-idx3-ubyte: 0 bytes is too short"],
        ),
        (
            "wrong magic",
            |dir| std::fs::write(dir.join(FILES[0]), labels(20)).unwrap(),
            &["train-images-idx3-ubyte: magic number 2049 is not 2051"],
        ),
        (
            "wrong dimensions",
            |dir| {
                let mut bytes = images(10);
                bytes[8..12].copy_from_slice(&32u32.to_be_bytes());
                std::fs::write(dir.join(FILES[2]), bytes).unwrap();
            },
            &["t10k-images-idx3-ubyte: images are 32x28, expected 28x28"],
        ),
        (
            "label out of range",
            |dir| {
                let mut bytes = labels(10);
                bytes[8 + 4] = 200;
                std::fs::write(dir.join(FILES[3]), bytes).unwrap();
            },
            &["t10k-labels-idx1-ubyte: label 200 at index 4"],
        ),
        (
            "count mismatch",
            |dir| std::fs::write(dir.join(FILES[1]), labels(19)).unwrap(),
            &["holds 20 images but", "holds 19 labels"],
        ),
        (
            "gz that is an error page",
            |dir| {
                std::fs::remove_file(dir.join(FILES[3])).unwrap();
                let page = "<!DOCTYPE html><html><body>503 Service Unavailable</body></html>";
                std::fs::write(dir.join(format!("{}.gz", FILES[3])), page).unwrap();
            },
            &[
                "t10k-labels-idx1-ubyte.gz: not a valid gzip file: missing gzip header, and not raw IDX data either",
            ],
        ),
        (
            "corrupt gzip",
            |dir| {
                let mut bytes = gzip(&images(10));
                bytes.truncate(bytes.len() / 2);
                std::fs::remove_file(dir.join(FILES[2])).unwrap();
                std::fs::write(dir.join(format!("{}.gz", FILES[2])), bytes).unwrap();
            },
            &["t10k-images-idx3-ubyte.gz: not a valid gzip file"],
        ),
    ];
    for (name, breakage, needles) in cases {
        let sandbox = Sandbox::new();
        let data = sandbox.path("data");
        valid_folder(&data);
        breakage(&data);
        eprintln!("case: {name}");
        assert_training_refused(&sandbox, &data, needles);
    }
}

#[test]
fn a_missing_data_folder_is_named() {
    let sandbox = Sandbox::new();
    assert_training_refused(
        &sandbox,
        Path::new("no-such-folder"),
        &["no-such-folder: no such folder"],
    );
}

#[test]
fn bad_configs_and_flags_are_one_line_errors() {
    let sandbox = Sandbox::new();
    let data = sandbox.path("data");
    valid_folder(&data);
    std::fs::write(sandbox.path("broken.json"), "{ \"batch_size\": ").unwrap();
    std::fs::write(sandbox.path("unknown.json"), "{ \"epochs\": 3 }").unwrap();
    std::fs::write(sandbox.path("flag-named.json"), "{ \"lr\": 0.01 }").unwrap();
    let cases: [(&[&str], &str); 7] = [
        (&["--config", "broken.json"], "broken.json: not valid JSON"),
        // An endless file is refused after its first MiB, not read into memory.
        (
            &["--config", "/dev/zero"],
            "/dev/zero: cannot read: larger than 1024 KiB",
        ),
        (
            &["--config", "unknown.json"],
            "unknown.json: unknown field `epochs`; did you mean `num_epochs`?",
        ),
        // Named like a flag: the field the flag sets.
        (
            &["--config", "flag-named.json"],
            "flag-named.json: unknown field `lr`; did you mean `learning_rate` (what --lr sets)?",
        ),
        (&["--config", "missing.json"], "missing.json: cannot read"),
        (
            &["--batch-size", "0"],
            "--batch-size: batch_size = 0 is invalid",
        ),
        (&["--lr", "-1"], "--lr: learning_rate = -1 is invalid"),
    ];
    for (args, needle) in cases {
        let mut all: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        all.extend([
            "--data-dir".as_ref(),
            data.as_os_str(),
            "--run".as_ref(),
            "run".as_ref(),
        ]);
        let line = assert_one_line_error(&sandbox.run(all));
        assert!(line.contains(needle), "{line:?} lacks {needle:?}");
        assert!(!sandbox.path("run").exists());
    }
}

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
fn infer_refuses_missing_runs_corrupt_records_and_bad_indices() {
    let sandbox = Sandbox::new();
    let data = sandbox.path("data");
    valid_folder(&data);
    let infer = |run: &str, index: &str| {
        sandbox.run([
            "infer".as_ref(),
            "--run".as_ref(),
            run.as_ref(),
            "--data-dir".as_ref(),
            data.as_os_str(),
            "--index".as_ref(),
            index.as_ref(),
        ])
    };

    let line = assert_one_line_error(&infer("nowhere", "0"));
    assert!(line.contains("nowhere: no such run folder"), "{line}");

    let trained = sandbox.run_on(&data, &["--epochs", "1", "--run", "run"]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    assert!(infer("run", "9").status.success());
    // An endless file is refused after the largest picture read, not read into memory.
    let line = assert_one_line_error(&sandbox.run(["infer", "--run", "run", "/dev/zero"]));
    assert!(
        line.contains("/dev/zero: cannot read: larger than 128 MiB"),
        "{line}"
    );
    let line = assert_one_line_error(&infer("run", "10"));
    assert!(
        line.contains("--index 10: the test split has 10 images"),
        "{line}"
    );

    // A config whose model does not match the record.
    let config_path = sandbox.path("run/config.json");
    let original = std::fs::read_to_string(&config_path).unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&original).unwrap();
    config["model"]["hidden_sizes"] = serde_json::json!([64]);
    std::fs::write(&config_path, config.to_string()).unwrap();
    let line = assert_one_line_error(&infer("run", "0"));
    assert!(
        line.contains("model.bpk: does not fit the model in"),
        "{line}"
    );
    std::fs::write(&config_path, original).unwrap();

    // A truncated record.
    let model = sandbox.path("run/model.bpk");
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(&model, &bytes[..bytes.len() / 3]).unwrap();
    let line = assert_one_line_error(&infer("run", "0"));
    assert!(
        line.contains("model.bpk: not a readable model record"),
        "{line}"
    );
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

#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_a_command_quietly_and_stops_training_resumably() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    let sandbox = Sandbox::new();
    let data = sandbox.path("data");
    valid_folder(&data);
    let spawn = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_mnist-trainer"))
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .current_dir(sandbox.dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Like `| grep -m1 epoch`: read up to the first epoch's line, then close the pipe.
    let mut child = spawn(&["--epochs", "1000", "--run", "run"]);
    let first = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .find_map(|line| line.ok().filter(|line| line.starts_with("epoch ")))
        .unwrap_or_default();
    assert!(first.starts_with("epoch 1/1000"), "{first}");
    let output = child.wait_with_output().unwrap();
    // Training stops as a stop does, and says so where it still can.
    let line = assert_one_line_error(&output);
    assert!(
        line.starts_with("error: cannot write to standard output: Broken pipe")
            && line.contains("continue with: "),
        "{line}"
    );
    assert_eq!(
        read_json(&sandbox.path("run/summary.json"))["status"],
        "interrupted"
    );
    assert!(!sandbox.path("run/run.lock").exists(), "the run is let go");

    // Any other command ends quietly, as `cat` does (`| head -1`).
    let indices: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    let mut child = spawn(&["infer", "--run", "run", "--index", &indices.join(",")]);
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("#0: predicted "), "{first}");
    let output = child.wait_with_output().unwrap();
    let err = stderr(&output);
    assert!(!err.contains("panicked") && !err.contains("PANIC"), "{err}");
    assert!(
        output.status.signal() == Some(libc::SIGPIPE) || output.status.success(),
        "{:?} {err}",
        output.status
    );
}

#[test]
fn a_message_names_only_what_is_at_fault_and_each_cause_once() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let line = assert_one_line_error(&sandbox.run_on(
        &data,
        &["--epochs", "0", "--limit-train", "5", "--run", "run"],
    ));
    assert_eq!(
        line,
        "error: --epochs: num_epochs = 0 is invalid: train for at least 1 epoch"
    );
    let line = assert_one_line_error(&sandbox.run(["--config", "missing.json"]));
    assert_eq!(
        line.matches("No such file or directory").count(),
        1,
        "{line}"
    );
    assert!(line.contains("missing.json: cannot read"), "{line}");
}

/// The binary run in `sandbox` with `args` and extra environment variables.
fn run_with_env(sandbox: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mnist-trainer"))
        .args(args)
        .current_dir(sandbox.dir.path())
        .env("XDG_RUNTIME_DIR", sandbox.path(""))
        .envs(env.iter().copied())
        .output()
        .expect("the binary starts")
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

#[test]
fn a_failed_download_says_so_in_words_and_how_to_work_offline() {
    let sandbox = Sandbox::new();
    // An empty cache, and every connection sent to a port nothing listens on.
    let cache = sandbox.path("cache");
    let output = run_with_env(
        &sandbox,
        &["--epochs", "1", "--run", "run"],
        &[
            ("XDG_CACHE_HOME", cache.to_str().unwrap()),
            ("HTTPS_PROXY", "http://127.0.0.1:9"),
            ("HTTP_PROXY", "http://127.0.0.1:9"),
        ],
    );
    let line = assert_one_line_error(&output);
    assert!(line.contains("could not download MNIST into "), "{line}");
    assert!(line.contains("pass --data-dir"), "{line}");
    assert!(!line.contains("reqwest::Error"), "{line}");
    assert!(!line.contains('{'), "a debug dump: {line}");
}

#[test]
fn burns_own_cache_layout_is_a_data_folder() {
    let sandbox = Sandbox::new();
    // Burn's MnistDataset keeps train/ and test/ folders of raw files.
    let cache = sandbox.path("burn-cache");
    let mnist = mnist_dir();
    for (split, names) in [
        (
            "train",
            ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"],
        ),
        ("test", ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]),
    ] {
        std::fs::create_dir_all(cache.join(split)).unwrap();
        for name in names {
            std::fs::write(cache.join(split).join(name), read_idx(&mnist, name)).unwrap();
        }
    }
    let output = sandbox.run_on(
        &cache,
        &[
            "--epochs",
            "1",
            "--limit-train",
            "640",
            "--limit-test",
            "100",
            "--run",
            "run",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        read_json(&sandbox.path("run/summary.json"))["train_images"],
        640
    );
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
fn a_data_folder_whose_path_is_not_utf8_is_named_and_nothing_is_made() {
    use std::os::unix::ffi::OsStrExt;
    let sandbox = Sandbox::new();
    let data = sandbox
        .path(".")
        .join(std::ffi::OsStr::from_bytes(b"donn\xe9es"));
    valid_folder(&data);
    let output = sandbox.run_on(&data, &["--epochs", "1"]);
    let line = assert_one_line_error(&output);
    assert!(line.contains("is not UTF-8"), "{line}");
    assert!(line.contains("donn"), "names the folder: {line}");
    let made = std::fs::read_dir(sandbox.path("artifacts")).map_or(0, Iterator::count);
    assert_eq!(made, 0, "a refused run left a folder behind");
    // import records --data-dir in data.json too: refused alike, before anything is written.
    let pytorch = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pytorch/simple_nn.pt");
    let output = sandbox.run([
        "import".as_ref(),
        "--pytorch".as_ref(),
        pytorch.as_os_str(),
        "--run".as_ref(),
        "imported".as_ref(),
        "--data-dir".as_ref(),
        data.as_os_str(),
    ]);
    let line = assert_one_line_error(&output);
    assert!(line.contains("is not UTF-8"), "{line}");
    assert!(!sandbox.path("imported/config.json").exists());
}

#[test]
fn raw_idx_files_under_gz_names_train_as_a_browser_leaves_them() {
    // A browser that unpacks the download keeps the `.gz` names.
    let sandbox = Sandbox::new();
    let data = sandbox.path("data");
    std::fs::create_dir(&data).unwrap();
    let contents = [images(20), labels(20), images(10), labels(10)];
    for (name, bytes) in FILES.iter().zip(contents) {
        std::fs::write(data.join(format!("{name}.gz")), bytes).unwrap();
    }
    let output = sandbox.run_on(&data, &["--epochs", "1", "--run", "run"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        read_json(&sandbox.path("run/summary.json"))["test_images"],
        10
    );
}
