//! Data files: MNIST's four IDX files, raw or gzipped (whatever their names say), in a folder of
//! their own or Burn's cache, downloaded when missing. Broken or missing files, the other
//! dataset's, or files other than those a run was trained on are refused in one line naming the
//! file, and a refused run leaves no folder behind.

use std::io::Write;
use std::path::Path;

use crate::common::*;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
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
fn raw_idx_files_under_gz_names_train_as_a_browser_leaves_them() {
    // A browser that unpacks the download keeps the `.gz` names.
    let sandbox = Sandbox::new();
    let data = sandbox.path("data");
    std::fs::create_dir(&data).unwrap();
    let contents = [
        idx_images(20),
        idx_labels(20),
        idx_images(10),
        idx_labels(10),
    ];
    for (name, bytes) in MNIST_FILES.iter().zip(contents) {
        std::fs::write(data.join(format!("{name}.gz")), bytes).unwrap();
    }
    let output = sandbox.run_on(&data, &["--epochs", "1", "--run", "run"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        read_json(&sandbox.path("run/summary.json"))["test_images"],
        10
    );
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
fn broken_data_folders_are_refused_with_the_file_named() {
    type Breakage = (&'static str, fn(&Path), &'static [&'static str]);
    let cases: [Breakage; 9] = [
        (
            "missing",
            |dir| std::fs::remove_file(dir.join(MNIST_FILES[1])).unwrap(),
            &["holds neither train-labels-idx1-ubyte nor train-labels-idx1-ubyte.gz"],
        ),
        (
            "truncated",
            |dir| {
                let path = dir.join(MNIST_FILES[0]);
                let bytes = std::fs::read(&path).unwrap();
                std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
            },
            &["train-images-idx3-ubyte: header promises 20 items"],
        ),
        (
            "empty",
            |dir| std::fs::write(dir.join(MNIST_FILES[2]), b"").unwrap(),
            &["t10k-images-idx3-ubyte: 0 bytes is too short"],
        ),
        (
            "wrong magic",
            |dir| std::fs::write(dir.join(MNIST_FILES[0]), idx_labels(20)).unwrap(),
            &["train-images-idx3-ubyte: magic number 2049 is not 2051"],
        ),
        (
            "wrong dimensions",
            |dir| {
                let mut bytes = idx_images(10);
                bytes[8..12].copy_from_slice(&32u32.to_be_bytes());
                std::fs::write(dir.join(MNIST_FILES[2]), bytes).unwrap();
            },
            &["t10k-images-idx3-ubyte: images are 32x28, expected 28x28"],
        ),
        (
            "label out of range",
            |dir| {
                let mut bytes = idx_labels(10);
                bytes[8 + 4] = 200;
                std::fs::write(dir.join(MNIST_FILES[3]), bytes).unwrap();
            },
            &["t10k-labels-idx1-ubyte: label 200 at index 4"],
        ),
        (
            "count mismatch",
            |dir| std::fs::write(dir.join(MNIST_FILES[1]), idx_labels(19)).unwrap(),
            &["holds 20 images but", "holds 19 labels"],
        ),
        (
            "gz that is an error page",
            |dir| {
                std::fs::remove_file(dir.join(MNIST_FILES[3])).unwrap();
                let page = "<!DOCTYPE html><html><body>503 Service Unavailable</body></html>";
                std::fs::write(dir.join(format!("{}.gz", MNIST_FILES[3])), page).unwrap();
            },
            &[
                "t10k-labels-idx1-ubyte.gz: not a valid gzip file: missing gzip header, and not raw IDX data either",
            ],
        ),
        (
            "corrupt gzip",
            |dir| {
                let mut bytes = gzip(&idx_images(10));
                bytes.truncate(bytes.len() / 2);
                std::fs::remove_file(dir.join(MNIST_FILES[2])).unwrap();
                std::fs::write(dir.join(format!("{}.gz", MNIST_FILES[2])), bytes).unwrap();
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
