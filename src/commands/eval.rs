//! `mnist-trainer eval`: per-class scores, the confusion matrix and the worst mistakes of a run
//! on its test images, printed and written into the run folder.

use std::process::ExitCode;

use anyhow::{Context, Result};
use burn::prelude::Device;

use crate::analysis::calibration::reliability_diagram;
use crate::analysis::class_report::EvalReport;
use crate::analysis::plots;
use crate::cli::args::EvalArgs;
use crate::data::NUM_CLASSES;
use crate::data::idx::LabelledImages;
use crate::model::Model;
use crate::model::predict::{Calibrated, log_probabilities, log_probabilities_and_silence};
use crate::model::rejection::refused_anyway;
use crate::model::shape::refused_for_shape;
use crate::model::steadiness::steadiness;
use crate::process::output::{StdoutError, errln, outln, print};
use crate::run::RunDir;
use crate::run::data_record::load_test_split_of_run;
use crate::run::lock::RunLock;

/// Scores the run's model on the test images it was tested on (the test split, cut by
/// `limit_test`) and writes `eval.json`, `confusion.png`, `misclassified.png` and
/// `calibration.png` (the reliability diagram); prints the
/// report as text, or the JSON with `--json`. With `--epoch`, scores that kept checkpoint's
/// model and only prints.
///
/// # Errors
/// No run found, the backend does not start, the model cannot be loaded, another process
/// holds the run, the test images cannot be read, or a file cannot be written.
pub(crate) fn execute(args: EvalArgs) -> Result<ExitCode> {
    let run = args.run.chosen()?;
    let device = args.backend.backend.device()?;
    let epoch = args.epoch.epoch;
    let (config, model) = run.load_model_at(epoch, &device)?;
    let calibrated = run.calibrated(epoch)?;
    // A run (it has a model): no other process may write it while its report is written. A
    // read-only run is still scored; only its files are not written.
    let lock = match RunLock::acquire(run.root(), "eval") {
        Ok(lock) => Some(lock),
        Err(error) if error.is_read_only() => None,
        Err(error) => return Err(error.into()),
    };
    // The images the run was tested on: the test split, cut as its config says.
    let test = load_test_split_of_run(&run, config.dataset, args.backend.data_dir.clone())
        .context("cannot read the test images to evaluate on")?
        .limited(config.limit_test);
    let ((log_probs, silence), test_pass_seconds) =
        timed(|| log_probabilities_and_silence(&model, test.pixels(), &device));
    let unlike = refused_for_shape(test.pixels(), config.dataset);
    let refused = refused_anyway(&silence, &unlike);
    let steady = steady_images(&model, &test, &log_probs, &refused, &device, calibrated);
    let mut report = EvalReport::new(
        &log_probs,
        test.labels(),
        &steady,
        args.worst,
        config.dataset.class_names(),
        config.loss,
        calibrated,
    );
    report.test_pass_seconds = test_pass_seconds;
    let json = serde_json::to_string_pretty(&report).expect("the report serializes");
    // The run's eval files describe model.bpk: a checkpoint's report is only printed, and a
    // read-only run's cannot be written.
    let written = if let Some(epoch) = epoch {
        format!("epoch {epoch}'s model; nothing written (the run's eval files describe model.bpk)")
    } else if lock.is_none() {
        print_report(args.json, &json, &report, None)?;
        errln!(
            "error: {}: read-only: eval.json, confusion.png, misclassified.png and calibration.png were not written",
            run.root().display()
        );
        return Ok(ExitCode::FAILURE);
    } else {
        write_report(&run, &json, &report, &test, config.dataset.class_names())?;
        format!(
            "written: {}, {}, {}, {}",
            run.eval_json().display(),
            run.confusion_png().display(),
            run.misclassified_png().display(),
            run.calibration_png().display()
        )
    };
    print_report(args.json, &json, &report, Some(&written))?;
    Ok(ExitCode::SUCCESS)
}

/// `step`'s result and its wall time in seconds.
fn timed<T>(step: impl FnOnce() -> T) -> (T, f64) {
    let started = std::time::Instant::now();
    let result = step();
    (result, started.elapsed().as_secs_f64())
}

/// Which of `test`'s images (whose log-probabilities the model gave as `log_probs`) pass the
/// tests `infer` makes besides the threshold before answering "not a digit": the reading kept
/// when turned a little or shrunk (`model::steadiness`), and not refused whatever its
/// probabilities (`refused`: the network silent on it, or shaped like no digit,
/// `model::rejection::refused_anyway`); all, for a run without a threshold.
fn steady_images(
    model: &Model,
    test: &LabelledImages,
    log_probs: &[[f32; NUM_CLASSES]],
    refused: &[bool],
    device: &Device,
    calibrated: Calibrated,
) -> Vec<bool> {
    if calibrated.not_a_digit_below.is_none() {
        return vec![true; test.len()];
    }
    let rows = calibrated.probabilities(log_probs);
    let steady = steadiness(test.pixels(), &rows, calibrated.unsure_below, |pixels| {
        calibrated.probabilities(&log_probabilities(model, pixels, device))
    });
    (steady.iter().zip(refused))
        .map(|(&steady, &refused)| steady && !refused)
        .collect()
}

/// Writes `eval.json` (`json`), `confusion.png`, `misclassified.png` and `calibration.png` into
/// the run.
///
/// # Errors
/// A file cannot be written or drawn.
fn write_report(
    run: &RunDir,
    json: &str,
    report: &EvalReport,
    test: &LabelledImages,
    names: [&str; NUM_CLASSES],
) -> Result<()> {
    run.write_atomically(&run.eval_json(), json)?;
    crate::analysis::confusion_png::confusion_heatmap(
        &report.confusion,
        names,
        &run.confusion_png(),
    )?;
    plots::misclassified_grid(
        &report.worst,
        report.images - report.correct,
        test,
        names,
        &run.misclassified_png(),
    )?;
    let drawn = report.calibrated.as_ref().unwrap_or(&report.calibration);
    let temperature = report.calibrated.as_ref().and(report.temperature);
    reliability_diagram(drawn, temperature, &run.calibration_png())?;
    Ok(())
}

/// Prints the report: its JSON, or its text followed by `note` (what was written).
///
/// # Errors
/// Standard output cannot be written.
fn print_report(
    json: bool,
    text: &str,
    report: &EvalReport,
    note: Option<&str>,
) -> Result<(), StdoutError> {
    if json {
        return outln!("{text}");
    }
    print(format_args!("{}", report.to_text()))?;
    match note {
        Some(note) => outln!("\n{note}"),
        None => Ok(()),
    }
}
