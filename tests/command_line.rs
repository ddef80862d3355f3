//! The command line: a wrong flag, option or config is refused in one line that names it (and
//! the valid values, or the field meant), once, before anything is written or allocated.

use std::path::Path;

use crate::common::*;

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
fn invalid_choices_are_one_line_errors_listing_the_valid_values() {
    let sandbox = Sandbox::new();
    let cases: [(&[&str], &str); 6] = [
        (
            &["--activation", "swish"],
            "--activation: unknown activation `swish` (valid: relu, sigmoid, tanh)",
        ),
        (
            &["--loss", "hinge"],
            "--loss: unknown loss `hinge` (valid: cross-entropy, mse)",
        ),
        (
            &["--optimizer", "rmsprop"],
            "--optimizer: unknown optimizer `rmsprop` (valid: adam, sgd)",
        ),
        (
            &["--dataset", "cifar"],
            "--dataset: unknown dataset `cifar` (valid: mnist, fashion-mnist)",
        ),
        (
            &["--optimizer", "sgd", "--momentum", "-0.5"],
            "optimizer.momentum = -0.5 is invalid: must be in [0, 1)",
        ),
        (
            &["--hidden", "0"],
            "model.hidden_sizes = [0] is invalid: a layer needs at least 1 unit",
        ),
    ];
    for (args, needle) in cases {
        let line = assert_one_line_error(&sandbox.run(args));
        assert!(line.contains(needle), "{line:?} lacks {needle:?}");
    }
    let data = mnist_dir();
    let output = sandbox.run_on(&data, &["--valid-size", "70000"]);
    let line = assert_one_line_error(&output);
    assert!(
        line.contains("valid_size = 70000 leaves nothing to train on"),
        "{line}"
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
    // A negative number is named as the bad value it is; clap's own tip for it ("to pass '-1'
    // as a value, use '-- -1'") does not work when typed.
    let infer = ["infer", "--run", "run", "--epoch", "-1", "x.png"];
    for (args, flag, value) in [
        (&infer[..], "--epoch <N>", "-1"),
        (&["--seed", "-5"], "--seed <N>", "-5"),
    ] {
        let line = assert_one_line_error(&sandbox.run(args.iter().copied()));
        assert_eq!(
            line,
            format!("error: invalid value '{value}' for '{flag}': invalid digit found in string")
        );
    }
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
