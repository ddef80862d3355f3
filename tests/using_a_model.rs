//! A trained model in use: `infer` reads drawings like the digits they came from, `eval` reports
//! and draws its pictures (its `--worst` mistakes among them), `report` redraws the curves, and
//! `infer` refuses a missing run, a damaged record or a bad index in one line.

use std::path::{Path, PathBuf};

use crate::common::*;

fn predictions(output: &std::process::Output) -> Vec<serde_json::Value> {
    stdout(output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn drawings_are_read_like_the_digits_they_came_from_and_eval_reports() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let run = one_epoch_run(&sandbox, &data);

    // Twenty real test digits, redrawn large and black on white.
    let count = 20;
    let mut files: Vec<PathBuf> = Vec::new();
    for index in 0..count {
        let path = sandbox.path(&format!("digit-{index}.png"));
        as_drawing(&mnist_test_digit(&data, index), &path);
        files.push(path);
    }
    let mut args: Vec<std::ffi::OsString> = ["infer", "--json", "--run"].map(Into::into).to_vec();
    args.push(run.clone().into());
    args.extend(files.iter().map(|f| f.clone().into_os_string()));
    let drawn = sandbox.run(&args);
    assert!(drawn.status.success(), "{}", stderr(&drawn));
    let drawn = predictions(&drawn);

    let indices = (0..count)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let original = sandbox.run([
        "infer".as_ref(),
        "--json".as_ref(),
        "--run".as_ref(),
        run.as_os_str(),
        "--data-dir".as_ref(),
        data.as_os_str(),
        "--index".as_ref(),
        indices.as_ref(),
    ]);
    assert!(original.status.success(), "{}", stderr(&original));
    let original = predictions(&original);
    assert_eq!(drawn.len(), count);
    // A redrawn digit is resampled twice, so a borderline call may flip; a confident one may not.
    let mut agree = 0;
    for (d, o) in drawn.iter().zip(&original) {
        if d["class"] == o["class"] {
            agree += 1;
        } else {
            let confidence = o["top3"][0]["probability"].as_f64().unwrap();
            assert!(
                confidence < 0.9,
                "a confident call changed when redrawn: {d} vs {o}"
            );
        }
    }
    assert!(
        agree >= count - 1,
        "only {agree} of {count} drawings read as their originals"
    );
    assert_eq!(drawn[0]["file"], files[0].to_str().unwrap());

    // eval agrees with the trainer and leaves its files.
    let eval = sandbox.run([
        "eval".as_ref(),
        "--run".as_ref(),
        run.as_os_str(),
        "--data-dir".as_ref(),
        data.as_os_str(),
    ]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    let summary = read_json(&run.join("summary.json"));
    let report = read_json(&run.join("eval.json"));
    assert_eq!(report["accuracy"], summary["test_accuracy"]);
    assert_eq!(report["loss"], summary["test_loss"]);
    let confusion: Vec<Vec<u64>> = serde_json::from_value(report["confusion"].clone()).unwrap();
    assert_eq!(confusion.iter().flatten().sum::<u64>(), 10_000);
    assert_eq!(report["classes"].as_array().unwrap().len(), 10);
    assert_eq!(report["worst"].as_array().unwrap().len(), 36);
    // Calibration: 15 bins holding every image, and an error that is a fraction of the gaps.
    let calibration = &report["calibration"];
    let bins = calibration["bins"].as_array().unwrap();
    assert_eq!(bins.len(), 15);
    let images: u64 = bins.iter().map(|bin| bin["images"].as_u64().unwrap()).sum();
    assert_eq!(images, 10_000);
    let ece = calibration["expected_calibration_error"].as_f64().unwrap();
    let weighted_gaps: f64 = bins
        .iter()
        .map(|bin| {
            let share = bin["images"].as_f64().unwrap() / 10_000.0;
            share * (bin["accuracy"].as_f64().unwrap() - bin["confidence"].as_f64().unwrap()).abs()
        })
        .sum();
    assert!(
        (ece - weighted_gaps).abs() < 1e-9 && ece < 0.05,
        "{ece} vs {weighted_gaps}"
    );
    let text = stdout(&eval);
    assert!(
        text.starts_with(&format!(
            "accuracy {:.2}%",
            summary["test_accuracy"].as_f64().unwrap()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "\ncalibration error {:.2}% (expected calibration error, 15 bins)\n",
            100.0 * ece
        )),
        "{text}"
    );

    for (name, size) in [
        ("confusion.png", (720, 730)),
        ("misclassified.png", (932, 1002)),
        ("curves.png", (1200, 500)),
        ("calibration.png", (700, 600)),
    ] {
        let picture = image::open(run.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((picture.width(), picture.height()), size, "{name}");
    }

    // report redraws the curves from the metrics file.
    std::fs::remove_file(run.join("curves.png")).unwrap();
    let report = sandbox.run(["report".as_ref(), "--run".as_ref(), run.as_os_str()]);
    assert!(report.status.success(), "{}", stderr(&report));
    assert!(image::open(run.join("curves.png")).is_ok());
}

/// The cells of `misclassified.png` that hold an image (MNIST's black background),
/// row by row (6 columns, as `analysis::plots` lays them out).
fn drawn_cells(picture: &image::RgbImage) -> Vec<bool> {
    let (columns, cell_w, cell_h, side, top) = (6u32, 152u32, 156u32, 112u32, 56u32);
    let rows = (picture.height() - top - 10) / cell_h;
    (0..rows * columns)
        .map(|n| {
            let x0 = 10 + (n % columns) * cell_w + (cell_w - side) / 2;
            let y0 = top + (n / columns) * cell_h;
            let dark = (0..side)
                .flat_map(|y| (0..side).map(move |x| (x0 + x, y0 + y)))
                .filter(|&(x, y)| picture.get_pixel(x, y).0.iter().all(|&c| c < 64))
                .count();
            dark > (side * side / 2) as usize
        })
        .collect()
}

#[test]
fn eval_worst_n_records_and_draws_n_mistakes() {
    let sandbox = Sandbox::new();
    let trained = small_run(&sandbox, "run", &["--epochs", "1"]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    for worst in [7usize, 12, 1] {
        let output = sandbox.run_on(
            &mnist_dir(),
            &["eval", "--run", "run", "--worst", &worst.to_string()],
        );
        assert!(output.status.success(), "{}", stderr(&output));
        let report = read_json(&sandbox.path("run/eval.json"));
        let mistakes = report["images"].as_u64().unwrap() - report["correct"].as_u64().unwrap();
        assert!(mistakes > 12, "too few mistakes to draw {worst}: {report}");
        assert_eq!(
            report["worst"].as_array().unwrap().len(),
            worst,
            "--worst {worst}"
        );
        let picture = image::open(sandbox.path("run/misclassified.png"))
            .unwrap()
            .to_rgb8();
        let rows = worst.div_ceil(6) as u32;
        assert_eq!(
            picture.dimensions(),
            (932, 56 + 156 * rows + 10),
            "--worst {worst}: room for {rows} rows"
        );
        let cells = drawn_cells(&picture);
        let expected: Vec<bool> = (0..cells.len()).map(|n| n < worst).collect();
        assert_eq!(cells, expected, "--worst {worst}: the cells drawn");
    }
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
fn calibrating_on_held_out_images_lowers_the_calibration_error_and_every_command_uses_it() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    // A network that learns 3,000 images by heart is overconfident on others.
    let args = [
        "--limit-train",
        "4000",
        "--limit-test",
        "2000",
        "--valid-size",
        "1000",
        "--epochs",
        "20",
        "--hidden",
        "256",
        "--run",
        "run",
    ];
    let trained = sandbox.run_on(&data, &args);
    assert!(trained.status.success(), "{}", stderr(&trained));
    let infer = |sandbox: &Sandbox| {
        let output = sandbox.run_on(
            &data,
            &["infer", "--run", "run", "--json", "--index", "0,1,2,3"],
        );
        assert!(output.status.success(), "{}", stderr(&output));
        let lines: Vec<serde_json::Value> = stdout(&output)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        lines
    };
    let before = infer(&sandbox);

    let calibrated = sandbox.run_on(&data, &["calibrate", "--run", "run"]);
    assert!(calibrated.status.success(), "{}", stderr(&calibrated));
    assert!(
        stdout(&calibrated).contains("fitted on 1000 held-out training images"),
        "{}",
        stdout(&calibrated)
    );
    let record = read_json(&sandbox.path("run/calibration.json"));
    let temperature = record["temperature"].as_f64().unwrap();
    assert!(
        temperature > 1.0,
        "an overconfident model is softened: {record}"
    );
    assert!(
        record["ece_after"].as_f64() < record["ece_before"].as_f64(),
        "{record}"
    );

    // On the test split, which it never saw: a lower error at the temperature.
    let eval = sandbox.run_on(&data, &["eval", "--run", "run"]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    let report = read_json(&sandbox.path("run/eval.json"));
    let raw = report["calibration"]["expected_calibration_error"]
        .as_f64()
        .unwrap();
    let scaled = report["calibrated"]["expected_calibration_error"]
        .as_f64()
        .unwrap();
    assert!(scaled < raw, "{scaled} at T = {temperature} against {raw}");
    assert!(
        stdout(&eval).contains(&format!(
            "at calibration.json's temperature {temperature:.4}"
        )),
        "{}",
        stdout(&eval)
    );
    // infer answers the same classes, less sure of them.
    let after = infer(&sandbox);
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(old["class"], new["class"]);
        assert!(
            new["probability"].as_f64() < old["probability"].as_f64(),
            "{old} then {new}"
        );
    }

    // A kept epoch's model is another model: read as it is, and said so.
    let epoch = sandbox.run_on(
        &data,
        &[
            "infer", "--run", "run", "--json", "--index", "0,1,2,3", "--epoch", "20",
        ],
    );
    assert!(epoch.status.success(), "{}", stderr(&epoch));
    let first = stdout(&epoch)
        .lines()
        .next()
        .map(serde_json::from_str::<serde_json::Value>);
    assert_eq!(
        first.unwrap().unwrap()["probabilities"],
        before[0]["probabilities"]
    );
    assert!(
        stderr(&epoch).contains("epoch 20's model is used uncalibrated, without \"not a digit\": calibration.json is fitted for model.bpk alone (leave out --epoch to use it)"),
        "{}",
        stderr(&epoch)
    );

    // Training it further replaces the model, and with it the temperature fitted for the old one.
    let resumed = sandbox.run_on(&data, &["--resume", "run", "--epochs", "21"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(!sandbox.path("run/calibration.json").exists());
    assert!(
        stderr(&resumed).contains("calibration.json was removed: its temperature was fitted for the model this run replaced"),
        "{}",
        stderr(&resumed)
    );
}

#[test]
fn a_run_that_held_out_nothing_is_not_calibrated_on_what_it_trained_on() {
    let sandbox = Sandbox::new();
    let run = trained_run_copy(&sandbox, "run");
    let before = fingerprint(&run);
    let output = sandbox.run_on(&mnist_dir(), &["calibrate", "--run", "run"]);
    let line = assert_one_line_error(&output);
    assert!(
        line.contains("held out no training images") && line.contains("--valid-size"),
        "{line}"
    );
    assert!(changes(&before, &fingerprint(&run)).is_empty());
}

#[test]
fn a_run_that_held_out_too_few_images_for_a_threshold_is_not_calibrated() {
    let sandbox = Sandbox::new();
    let trained = small_run(&sandbox, "few", &["--valid-size", "50", "--epochs", "1"]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    let before = fingerprint(&sandbox.path("few"));
    let output = sandbox.run_on(&mnist_dir(), &["calibrate", "--run", "few"]);
    let line = assert_one_line_error(&output);
    assert!(
        line.contains("held out 50 training images; calibrating needs at least 100")
            && line.contains("--valid-size 5000"),
        "{line}"
    );
    assert!(changes(&before, &fingerprint(&sandbox.path("few"))).is_empty());
    assert!(!sandbox.path("few/calibration.json").exists());
}

/// Makes a named pipe (FIFO) at `path`.
fn make_fifo(path: &Path) {
    let name = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a NUL-terminated path that lives across the call.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0, "mkfifo");
}

#[test]
fn a_named_pipe_nobody_writes_is_refused_at_once_and_a_written_one_is_read() {
    let sandbox = Sandbox::new();
    let data = sandbox.path("data");
    valid_folder(&data);
    let within = |args: &[&str], what: &str| {
        let mut child = sandbox.spawn_on(&data, args);
        wait_within(&mut child, std::time::Duration::from_secs(30), what);
        child.wait_with_output().unwrap()
    };
    // A FIFO as the config, and in place of a run's calibration.json: opening one waits for a
    // writer, which hung every command.
    make_fifo(&sandbox.path("pipe.json"));
    let output = within(&["--config", "pipe.json", "--run", "new"], "--config FIFO");
    let line = assert_one_line_error(&output);
    assert!(
        line.contains("pipe.json: cannot read: a named pipe with nothing written to it"),
        "{line}"
    );
    assert!(!sandbox.path("new").exists());
    let run = trained_run_copy(&sandbox, "run");
    make_fifo(&run.join("calibration.json"));
    let output = within(&["infer", "--run", "run", "--index", "0"], "infer");
    let line = assert_one_line_error(&output);
    assert!(line.contains("calibration.json"), "{line}");
    assert!(
        line.contains("a named pipe with nothing written to it"),
        "{line}"
    );
    // A pipe being written, as `--config <(...)` gives, is read as a file would be.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mnist-trainer"))
        .args(["--config", "/dev/stdin", "--run", "piped", "--data-dir"])
        .arg(&data)
        .current_dir(sandbox.path(""))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(br#"{"batch_size": 0}"#).unwrap();
    }
    wait_within(
        &mut child,
        std::time::Duration::from_secs(30),
        "--config /dev/stdin",
    );
    let line = assert_one_line_error(&child.wait_with_output().unwrap());
    assert!(line.contains("batch_size = 0 is invalid"), "{line}");
}

#[test]
fn a_picture_after_index_is_read_as_a_picture_not_taken_for_an_index() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    trained_run_copy(&sandbox, "run");
    mnist_test_digit(&data, 0)
        .save(sandbox.path("seven.png"))
        .unwrap();
    let output = sandbox.run_on(
        &data,
        &[
            "infer",
            "--run",
            "run",
            "--index",
            "1",
            "seven.png",
            "--index",
            "2,3",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = stdout(&output);
    let inputs: Vec<&str> = printed
        .lines()
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(inputs, ["seven.png", "#1", "#2", "#3"], "{printed}");
}
