//! A trained model in use: drawings from a paint program, evaluation reports and pictures.

use std::path::{Path, PathBuf};

use crate::common::*;
use image::imageops::{self, FilterType};
use image::{GrayImage, Luma};

/// The digit as a person would draw it: 280×280, black ink on white paper.
fn as_drawing(digit: &GrayImage, path: &Path) {
    let mut big = imageops::resize(digit, 280, 280, FilterType::Triangle);
    imageops::invert(&mut big);
    big.save(path).unwrap();
}

fn predictions(output: &std::process::Output) -> Vec<serde_json::Value> {
    stdout(output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn train(sandbox: &Sandbox, data: &Path) -> PathBuf {
    let output = sandbox.run_on(data, &["--epochs", "1", "--run", "run"]);
    assert!(output.status.success(), "{}", stderr(&output));
    sandbox.path("run")
}

#[test]
fn drawings_are_read_like_the_digits_they_came_from_and_eval_reports() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let run = train(&sandbox, &data);

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
    let text = stdout(&eval);
    assert!(
        text.starts_with(&format!(
            "accuracy {:.2}%",
            summary["test_accuracy"].as_f64().unwrap()
        )),
        "{text}"
    );

    for (name, size) in [
        ("confusion.png", (720, 730)),
        ("misclassified.png", (932, 1002)),
        ("curves.png", (1200, 500)),
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

#[test]
fn a_bad_file_among_good_ones_is_named_and_the_rest_are_answered() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let run = train(&sandbox, &data);
    as_drawing(&mnist_test_digit(&data, 0), &sandbox.path("seven.png"));
    std::fs::write(sandbox.path("notes.png"), "this is text, not a picture").unwrap();
    std::fs::write(sandbox.path("empty.jpg"), b"").unwrap();
    image::RgbImage::from_pixel(50, 50, image::Rgb([255, 255, 255]))
        .save(sandbox.path("blank.png"))
        .unwrap();
    GrayImage::from_pixel(1, 1, Luma([0]))
        .save(sandbox.path("dot.png"))
        .unwrap();

    let output = sandbox.run([
        "infer".as_ref(),
        "--run".as_ref(),
        run.as_os_str(),
        "notes.png".as_ref(),
        "seven.png".as_ref(),
        "empty.jpg".as_ref(),
        "blank.png".as_ref(),
        "dot.png".as_ref(),
        "missing.png".as_ref(),
    ]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 5, "{err}");
    assert!(
        lines[0].starts_with("error: notes.png: not an image"),
        "{err}"
    );
    assert!(
        lines[1].starts_with("error: empty.jpg: not an image"),
        "{err}"
    );
    assert!(
        lines[2].starts_with("error: blank.png: the image is blank"),
        "{err}"
    );
    // One black pixel: nothing to read, said so rather than a crash scaling it.
    assert!(
        lines[3].starts_with("error: dot.png: the image is blank"),
        "{err}"
    );
    assert!(
        lines[4].starts_with("error: missing.png: cannot read"),
        "{err}"
    );
    let out = stdout(&output);
    assert!(out.starts_with("seven.png: predicted "), "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
}

#[test]
fn eval_and_report_refuse_missing_or_broken_runs() {
    let sandbox = Sandbox::new();
    let line = assert_one_line_error(&sandbox.run(["eval", "--run", "nowhere"]));
    assert!(line.contains("nowhere: no such run folder"), "{line}");
    let line = assert_one_line_error(&sandbox.run(["report", "--run", "nowhere"]));
    assert!(line.contains("nowhere: no such run folder"), "{line}");

    std::fs::create_dir_all(sandbox.path("half")).unwrap();
    std::fs::write(
        sandbox.path("half/metrics.jsonl"),
        "{\"epoch\": 1, \"train_loss\"\n",
    )
    .unwrap();
    // Without its config.json the folder is no run at all.
    for command in ["report", "eval"] {
        let line = assert_one_line_error(&sandbox.run([command, "--run", "half"]));
        assert!(
            line.contains("half: not a run folder (it has no config.json)"),
            "{command}: {line}"
        );
    }
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.json");
    std::fs::copy(config, sandbox.path("half/config.json")).unwrap();
    let line = assert_one_line_error(&sandbox.run(["report", "--run", "half"]));
    assert!(
        line.contains("metrics.jsonl:1: not an epoch record"),
        "{line}"
    );
}
