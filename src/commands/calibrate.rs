//! `mnist-trainer calibrate`: the temperature that makes a run's probabilities mean what they
//! say and the top probability below which a region is "not a digit", both fitted on the
//! training images the run held out, written as `calibration.json`.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::analysis::calibration::Calibration;
use crate::cli::args::CalibrateArgs;
use crate::model::predict::log_probabilities;
use crate::model::rejection::{self, REFUSED_DIGITS};
use crate::model::temperature::{fit, mean_nll, scaled};
use crate::process::output::outln;
use crate::run::calibration::CalibrationRecord;
use crate::run::data_record::load_held_out_of_run;
use crate::run::lock::RunLock;

/// Fits the run's temperature on its held-out training images (never the test split, which
/// scores it) and writes `calibration.json`; prints the temperature and the calibration error
/// on those images before and after.
///
/// # Errors
/// No run found, the run held out no training images (`valid_size` 0) or is imported, the
/// backend does not start, the model cannot be loaded, another process holds the run, the
/// training images cannot be read, or `calibration.json` cannot be written.
pub(crate) fn execute(args: CalibrateArgs) -> Result<ExitCode> {
    let run = args.run.chosen()?;
    let device = args.backend.backend.device()?;
    let (config, model) = run.load_model(&device)?;
    // An imported model cannot be trained again with --valid-size: the advice below is for runs
    // trained here.
    if run.is_imported()? {
        bail!(
            "{}: imported from PyTorch, it held out no training images to calibrate on (which images it trained on is unknown, and the test split only scores); calibrate a run trained here with --valid-size, e.g. --valid-size 5000",
            run.root().display()
        );
    }
    if config.valid_size == 0 {
        bail!(
            "{}: the run held out no training images to calibrate on (images it trained on look easier than they are, and the test split only scores); train with --valid-size, e.g. --valid-size 5000",
            run.root().display()
        );
    }
    let _lock = RunLock::acquire(run.root(), "calibrate")?;
    let held_out = load_held_out_of_run(&run, &config, args.backend.data_dir.clone())
        .context("cannot read the held-out training images to calibrate on")?;
    let log_probs = log_probabilities(&model, held_out.pixels(), &device);
    let labels = held_out.labels();
    let temperature = fit(&log_probs, labels);
    let scaled: Vec<_> = log_probs
        .iter()
        .map(|row| scaled(row, temperature).map(f32::exp))
        .collect();
    let threshold = rejection::threshold(&scaled, REFUSED_DIGITS);
    let record = CalibrationRecord {
        temperature,
        held_out_images: held_out.len(),
        nll_before: mean_nll(&log_probs, labels, 1.0),
        nll_after: mean_nll(&log_probs, labels, temperature),
        ece_before: Calibration::new(&log_probs, labels).expected_calibration_error,
        ece_after: Calibration::at_temperature(&log_probs, labels, temperature)
            .expected_calibration_error,
        not_a_digit_below: threshold.map(f64::from),
        held_out_refused: threshold.map(|t| rejection::refused_share(&scaled, t)),
    };
    run.save_calibration(&record)?;
    outln!(
        "temperature {temperature:.4}, fitted on {} held-out training images: calibration error {:.2}% -> {:.2}%, log-likelihood loss {:.4} -> {:.4}",
        record.held_out_images,
        100.0 * record.ece_before,
        100.0 * record.ece_after,
        record.nll_before,
        record.nll_after
    )?;
    if let (Some(threshold), Some(refused)) = (threshold, record.held_out_refused) {
        outln!(
            "not a digit: a top probability below {:.2}% (at that temperature), {:.2}% of the held-out images",
            100.0 * threshold,
            100.0 * refused
        )?;
    }
    outln!(
        "written: {}; infer, eval, serve and export now divide the logits by it and answer \"not a digit\" below the threshold",
        run.calibration_json().display()
    )?;
    Ok(ExitCode::SUCCESS)
}
