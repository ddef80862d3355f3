//! Your own data: a folder of pictures sorted by class trains, evaluates and is fingerprinted;
//! broken folders are refused in one line before anything is written; `--finetune` starts from
//! a run's weights (trained here, a CNN, or imported from PyTorch) and refuses what does not fit.

use std::path::Path;

use crate::common::*;

/// MNIST's `split` images `from..to` written as PNG pictures into `dir/<label>/<index>.png`.
fn picture_folder(data: &Path, dir: &Path, test: bool, range: std::ops::Range<usize>) {
    let (images, labels) = if test {
        ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    } else {
        ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
    };
    let (images, labels) = (read_idx(data, images), read_idx(data, labels));
    for index in range {
        let label = labels[8 + index];
        let start = 16 + index * 784;
        let picture =
            image::GrayImage::from_raw(28, 28, images[start..start + 784].to_vec()).unwrap();
        let class = dir.join(label.to_string());
        std::fs::create_dir_all(&class).unwrap();
        picture.save(class.join(format!("{index:05}.png"))).unwrap();
    }
}

#[test]
fn a_folder_of_pictures_trains_evaluates_and_refuses_changed_pictures() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let pictures = sandbox.path("pictures");
    picture_folder(&data, &pictures.join("train"), false, 0..2000);
    picture_folder(&data, &pictures.join("test"), true, 0..500);
    let trained = sandbox.run(["--data-dir", "pictures", "--run", "run", "--epochs", "2"]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    assert!(
        stdout(&trained).contains("2,000 training images, validated on the 500 test images"),
        "{}",
        stdout(&trained)
    );
    let summary = read_json(&sandbox.path("run/summary.json"));
    assert!(
        summary["test_accuracy"].as_f64().unwrap() > 80.0,
        "{summary}"
    );
    let record = read_json(&sandbox.path("run/data.json"));
    let recorded = record["source"]["pictures"].as_str().unwrap();
    assert_eq!(Path::new(recorded), std::path::absolute(&pictures).unwrap());
    for split in ["train-pictures", "test-pictures"] {
        assert!(record["files"][split]["crc32"].is_string(), "{record}");
    }
    // eval and infer --index find the pictures through data.json.
    let eval = sandbox.run(["eval", "--run", "run"]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    assert!(stdout(&eval).contains("/500)"), "{}", stdout(&eval));
    let infer = sandbox.run(["infer", "--run", "run", "--index", "0"]);
    assert!(stdout(&infer).starts_with("#0: "), "{}", stderr(&infer));
    // A picture added to the test split is another test split: refused, as a changed IDX file.
    let extra = pictures.join("test/3/extra.png");
    std::fs::copy(pictures.join("test/7/00000.png"), &extra).unwrap();
    let line = assert_one_line_error(&sandbox.run(["eval", "--run", "run"]));
    assert!(
        line.contains("test-pictures is not the file run was trained on"),
        "{line}"
    );
    std::fs::remove_file(extra).unwrap();
    // IDX files in place of the run's pictures share no file name with them: refused all the
    // same, by kind.
    let data_dir = data.to_str().unwrap();
    let line =
        assert_one_line_error(&sandbox.run(["eval", "--run", "run", "--data-dir", data_dir]));
    assert!(
        line.contains("not the kind of data run was trained on (a folder of pictures"),
        "{line}"
    );
    let line = assert_one_line_error(&sandbox.run([
        "--resume",
        "run",
        "--epochs",
        "3",
        "--data-dir",
        data_dir,
    ]));
    assert!(line.contains("not the kind of data"), "{line}");
    assert_eq!(read_json(&sandbox.path("run/data.json")), record);

    // Class folders alone: one picture in five, by its name, is the test split.
    let flat = sandbox.path("flat");
    picture_folder(&data, &flat, false, 0..1000);
    // Hidden files and the scratch file a killed `serve --collect` leaves are not pictures.
    std::fs::write(flat.join(".DS_Store"), "finder").unwrap();
    std::fs::write(flat.join("3/drawn-20261206-1.png.4242-1.tmp"), "half").unwrap();
    let trained = sandbox.run(["--data-dir", "flat", "--run", "flat-run", "--epochs", "1"]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    let tested = read_json(&sandbox.path("flat-run/summary.json"))["test_images"]
        .as_u64()
        .unwrap();
    assert!((150..=250).contains(&tested), "{tested} of 1,000 tested");
}

#[test]
fn broken_picture_folders_are_refused_in_one_line_and_nothing_is_written() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let good = |name: &str| {
        let dir = sandbox.path(name);
        picture_folder(&data, &dir, false, 0..30);
        dir
    };
    let not_a_picture = good("not-a-picture");
    std::fs::write(not_a_picture.join("3/notes.png"), "not a picture").unwrap();
    let empty_class = good("empty-class");
    std::fs::create_dir(empty_class.join("8/inner")).unwrap();
    std::fs::remove_dir_all(empty_class.join("8")).unwrap();
    std::fs::create_dir(empty_class.join("8")).unwrap();
    let link = good("link-out");
    std::os::unix::fs::symlink("/etc/hostname", link.join("1/outside.png")).unwrap();
    let stray_file = good("stray-file");
    std::fs::write(stray_file.join("labels.csv"), "0,1\n").unwrap();
    let named = good("named-class");
    std::fs::create_dir(named.join("cat")).unwrap();
    let no_test = sandbox.path("no-test");
    picture_folder(&data, &no_test.join("train"), false, 0..30);
    // train/ and test/ as links to folders elsewhere: not followed.
    let elsewhere = sandbox.path("elsewhere");
    picture_folder(&data, &elsewhere, false, 0..30);
    let linked = sandbox.path("linked-train");
    std::fs::create_dir(&linked).unwrap();
    std::os::unix::fs::symlink(&elsewhere, linked.join("train")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, linked.join("test")).unwrap();
    // 100,000 tiny files: the first one is named, at once.
    let tiny = good("tiny-files");
    for i in 0..100_000 {
        std::fs::write(tiny.join(format!("5/tiny-{i:06}.png")), [0u8]).unwrap();
    }
    let cases = [
        ("not-a-picture", "not-a-picture/3/notes.png: "),
        ("empty-class", "empty-class/8: an empty class"),
        ("link-out", "link-out/1/outside.png: a symbolic link"),
        ("stray-file", "stray-file/labels.csv: not a class folder"),
        ("named-class", "named-class/cat: not a class folder"),
        ("no-test", "no-test/test: missing"),
        ("linked-train", "linked-train/train: a symbolic link"),
        ("tiny-files", "tiny-files/5/tiny-000000.png: "),
    ];
    for (folder, needle) in cases {
        let started = std::time::Instant::now();
        let output = sandbox.run(["--data-dir", folder, "--run", "run"]);
        let line = assert_one_line_error(&output);
        assert!(line.contains(needle), "{line:?} lacks {needle:?}");
        assert!(!sandbox.path("run").exists(), "{folder}: a run was written");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{folder}: refused only after {:?}",
            started.elapsed()
        );
    }
}

/// The first epoch's training loss of the run in `run`.
fn first_train_loss(sandbox: &Sandbox, run: &str) -> f64 {
    let epochs = read_jsonl(&sandbox.path(&format!("{run}/metrics.jsonl")));
    epochs[0]["train_loss"].as_f64().unwrap()
}

#[test]
fn a_finetuned_run_starts_from_its_parents_weights_and_refuses_what_does_not_fit() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    picture_folder(&data, &sandbox.path("mine/train"), false, 0..300);
    picture_folder(&data, &sandbox.path("mine/test"), true, 0..100);
    trained_run_copy(&sandbox, "parent");
    let one_epoch = ["--data-dir", "mine", "--epochs", "1", "--run"];
    let fresh = sandbox.run([&one_epoch[..], &["fresh"]].concat());
    assert!(fresh.status.success(), "{}", stderr(&fresh));
    let tuned = sandbox.run([&one_epoch[..], &["tuned", "--finetune", "parent"]].concat());
    assert!(tuned.status.success(), "{}", stderr(&tuned));
    assert!(
        stdout(&tuned).contains("from the model of "),
        "{}",
        stdout(&tuned)
    );
    let (fresh_loss, tuned_loss) = (
        first_train_loss(&sandbox, "fresh"),
        first_train_loss(&sandbox, "tuned"),
    );
    assert!(
        tuned_loss < fresh_loss / 4.0,
        "first-epoch loss: fine-tuned {tuned_loss}, fresh {fresh_loss}"
    );
    let config = read_json(&sandbox.path("tuned/config.json"));
    let recorded = config["finetune"].as_str().unwrap();
    assert_eq!(
        Path::new(recorded),
        std::path::absolute(sandbox.path("parent")).unwrap()
    );
    // Mixed with the parent's MNIST images: 1 per picture, recorded, and said.
    let mixed = sandbox.run(
        [
            &one_epoch[..],
            &["mixed", "--finetune", "parent", "--finetune-mix", "1"],
        ]
        .concat(),
    );
    assert!(mixed.status.success(), "{}", stderr(&mixed));
    assert!(
        stdout(&mixed).contains("600 training images (300 of them "),
        "{}",
        stdout(&mixed)
    );
    assert_eq!(
        read_json(&sandbox.path("mixed/config.json"))["finetune_mix"],
        1.0
    );
    // What does not fit is refused before anything is written.
    let refused = [
        (
            &["--finetune", "parent", "--hidden", "64"][..],
            "its model is 784-128-10",
        ),
        (
            &["--finetune", "parent", "--dataset", "fashion-mnist"],
            "it reads MNIST's classes, not Fashion-MNIST's",
        ),
        (&["--finetune", "nowhere"], "--finetune nowhere: not a run"),
        (&["--finetune-mix", "1"], "give --finetune RUN"),
    ];
    // Into its own folder: refused before --overwrite empties it (its model would be gone).
    let line = assert_one_line_error(
        &sandbox.run(
            [
                &one_epoch[..],
                &["parent", "--finetune", "parent", "--overwrite"],
            ]
            .concat(),
        ),
    );
    assert!(line.contains("is the run this trains"), "{line}");
    assert!(sandbox.path("parent/model.bpk").is_file());
    for (args, needle) in refused {
        let line =
            assert_one_line_error(&sandbox.run([&one_epoch[..], &["refused"], args].concat()));
        assert!(line.contains(needle), "{line:?} lacks {needle:?}");
        assert!(!sandbox.path("refused").exists());
    }
}

#[test]
fn cnns_and_imported_pytorch_models_fine_tune_too() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    picture_folder(&data, &sandbox.path("mine"), false, 0..200);
    let cnn = sandbox.run_on(
        &data,
        &[
            "--model",
            "cnn",
            "--limit-train",
            "500",
            "--epochs",
            "1",
            "--run",
            "cnn",
        ],
    );
    assert!(cnn.status.success(), "{}", stderr(&cnn));
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/pytorch/simple_nn.pt"
    );
    let imported = sandbox.run(["import", "--pytorch", fixture, "--run", "imported"]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    for parent in ["cnn", "imported"] {
        let run = format!("from-{parent}");
        let tuned = sandbox.run([
            "--data-dir",
            "mine",
            "--epochs",
            "1",
            "--finetune",
            parent,
            "--run",
            &run,
        ]);
        assert!(tuned.status.success(), "{parent}: {}", stderr(&tuned));
        let parent_model =
            read_json(&sandbox.path(&format!("{parent}/config.json")))["model"].clone();
        let model = read_json(&sandbox.path(&format!("{run}/config.json")))["model"].clone();
        assert_eq!(model, parent_model, "{parent}");
    }
    // Which images an imported model trained on is unknown: none to mix in.
    let line = assert_one_line_error(&sandbox.run([
        "--data-dir",
        "mine",
        "--finetune",
        "imported",
        "--finetune-mix",
        "1",
        "--run",
        "mixed",
    ]));
    assert!(line.contains("imported from PyTorch"), "{line}");
    assert!(!sandbox.path("mixed").exists());
}

#[test]
fn a_finetuned_run_keeps_its_parents_outlier_exposure_and_calibrates_on_its_held_out_images() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    picture_folder(&data, &sandbox.path("mine/train"), false, 0..300);
    picture_folder(&data, &sandbox.path("mine/test"), true, 0..100);
    let parent = sandbox.run_on(
        &data,
        &[
            "--epochs",
            "1",
            "--limit-train",
            "6000",
            "--valid-size",
            "500",
            "--outlier-exposure",
            "0.5",
            "--font-outliers",
            "100",
            "--run",
            "parent",
        ],
    );
    assert!(parent.status.success(), "{}", stderr(&parent));
    let tuned = sandbox.run([
        "--data-dir",
        "mine",
        "--epochs",
        "1",
        "--finetune",
        "parent",
        "--finetune-mix",
        "1",
        "--run",
        "tuned",
    ]);
    assert!(tuned.status.success(), "{}", stderr(&tuned));
    let config = read_json(&sandbox.path("tuned/config.json"));
    assert_eq!(config["outlier_exposure"], 0.5, "{config}");
    assert_eq!(config["font_outliers"], 100, "{config}");
    assert_eq!(config["valid_size"], 0, "{config}");
    // Held out nothing itself: calibrated on the 500 images its parent held out, which
    // neither trained on.
    let calibrated = sandbox.run(["calibrate", "--run", "tuned"]);
    assert!(calibrated.status.success(), "{}", stderr(&calibrated));
    assert!(
        stdout(&calibrated).contains("fitted on 500 held-out training images"),
        "{}",
        stdout(&calibrated)
    );
    assert!(sandbox.path("tuned/calibration.json").is_file());
    // The parent gone: what needs it says so, and how to go on.
    std::fs::rename(sandbox.path("parent"), sandbox.path("parent-moved")).unwrap();
    let line = assert_one_line_error(&sandbox.run(["calibrate", "--run", "tuned"]));
    assert!(
        line.contains("the run it was fine-tuned from, whose held-out images"),
        "{line}"
    );
    let line = assert_one_line_error(&sandbox.run(["--resume", "tuned", "--epochs", "2"]));
    assert!(line.contains("is no longer there"), "{line}");
    assert!(!line.contains("train first"), "{line}");
    std::fs::rename(sandbox.path("parent-moved"), sandbox.path("parent")).unwrap();
    // An explicit --outlier-exposure stands.
    let plain = sandbox.run([
        "--data-dir",
        "mine",
        "--epochs",
        "1",
        "--finetune",
        "parent",
        "--outlier-exposure",
        "0",
        "--run",
        "plain",
    ]);
    assert!(plain.status.success(), "{}", stderr(&plain));
    let config = read_json(&sandbox.path("plain/config.json"));
    assert_eq!(config["outlier_exposure"], 0.0, "{config}");
    assert_eq!(
        config["font_outliers"], 0,
        "no letters without outliers: {config}"
    );
}

#[test]
fn a_run_another_process_is_writing_is_not_fine_tuned_from() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    picture_folder(&data, &sandbox.path("mine"), false, 0..100);
    // A parent with a model, resumed for many more epochs by another process.
    let parent = sandbox.run_on(
        &data,
        &["--epochs", "1", "--limit-train", "2000", "--run", "parent"],
    );
    assert!(parent.status.success(), "{}", stderr(&parent));
    let mut resumed = sandbox.spawn_on(&data, &["--resume", "parent", "--epochs", "500"]);
    sandbox.wait_for_epochs("parent", 2);
    let output = sandbox.run([
        "--data-dir",
        "mine",
        "--finetune",
        "parent",
        "--run",
        "tuned",
    ]);
    let _ = resumed.kill();
    let _ = resumed.wait();
    let line = assert_one_line_error(&output);
    assert!(line.contains("is writing that run"), "{line}");
    assert!(!sandbox.path("tuned").exists());
}

#[test]
fn an_imported_pytorch_model_is_calibrated_on_labelled_pictures_it_never_trained_on() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/pytorch/simple_nn.pt"
    );
    let imported = sandbox.run(["import", "--pytorch", fixture, "--run", "imported"]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    let calibrate = |extra: &[&str]| {
        let mut args = vec!["calibrate", "--run", "imported"];
        args.extend(extra);
        sandbox.run(args)
    };
    // Which MNIST images a PyTorch model trained on is unknown: the advice names what works.
    let line = assert_one_line_error(&calibrate(&[]));
    assert!(
        line.contains("pass --data-dir a folder of labelled pictures it never trained on"),
        "{line}"
    );
    let line = assert_one_line_error(&calibrate(&["--data-dir", data.to_str().unwrap()]));
    assert!(
        line.contains(
            "mnist holds no class folders: pass --data-dir a folder of labelled pictures"
        ),
        "{line}"
    );
    // Pictures of one class alone, and pictures filed under the wrong classes.
    picture_folder(&data, &sandbox.path("all"), true, 0..1500);
    std::fs::create_dir(sandbox.path("threes")).unwrap();
    std::fs::rename(sandbox.path("all/3"), sandbox.path("threes/3")).unwrap();
    let line = assert_one_line_error(&calibrate(&["--data-dir", "threes"]));
    assert!(line.contains("threes: no picture of class 0"), "{line}");
    std::fs::rename(sandbox.path("threes/3"), sandbox.path("all/3")).unwrap();
    let shifted = sandbox.path("shifted");
    std::fs::create_dir(&shifted).unwrap();
    for class in 0..10 {
        let to = shifted.join(((class + 1) % 10).to_string());
        std::fs::rename(sandbox.path(&format!("all/{class}")), to).unwrap();
    }
    let line = assert_one_line_error(&calibrate(&["--data-dir", "shifted"]));
    assert!(
        line.contains("of its pictures as their folders say: labelled wrong"),
        "{line}"
    );
    // Too few pictures for a threshold refusing 1% of them.
    picture_folder(&data, &sandbox.path("few"), true, 0..60);
    let line = assert_one_line_error(&calibrate(&["--data-dir", "few"]));
    assert!(line.contains("calibrating needs at least 100"), "{line}");
    assert!(!sandbox.path("imported/calibration.json").exists());

    // MNIST's test digits as pictures: the tutorial's model never trained on them.
    picture_folder(&data, &sandbox.path("unseen"), true, 0..400);
    let calibrated = calibrate(&["--data-dir", "unseen"]);
    assert!(calibrated.status.success(), "{}", stderr(&calibrated));
    let said = stdout(&calibrated);
    assert!(
        said.contains("pictures of unseen (its training split): calibration error"),
        "{said}"
    );
    let record = read_json(&sandbox.path("imported/calibration.json"));
    assert!(
        record["ece_after"].as_f64() < record["ece_before"].as_f64(),
        "{record}"
    );
    assert!(record["not_a_digit_below"].is_number(), "{record}");
    let eval = sandbox.run_on(&data, &["eval", "--run", "imported"]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    assert!(
        stdout(&eval).contains("at calibration.json's temperature"),
        "{}",
        stdout(&eval)
    );
}
