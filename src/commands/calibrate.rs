//! `mnist-trainer calibrate`: the temperature that makes a run's probabilities mean what they
//! say and the top probability below which a region is "not a digit", both fitted on the
//! training images the run held out (an imported run: labelled pictures it never trained on),
//! written as `calibration.json`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};

use crate::analysis::calibration::Calibration;
use crate::cli::args::CalibrateArgs;
use crate::config::TrainingConfig;
use crate::data::idx::LabelledImages;
use crate::data::{DataSource, DatasetKind, NUM_CLASSES, Split};
use crate::model::confidence::ConfidenceMap;
use crate::model::predict::{
    accuracy, at_temperature, log_probabilities_and_silence, probabilities_at,
};
use crate::model::rejection::{self, REFUSED_DIGITS, REFUSED_DIGITS_PERCENT};
use crate::model::shape::refused_for_shape;
use crate::model::steadiness::{UNSURE_BELOW, steadiness};
use crate::model::temperature::{fit, mean_nll};
use crate::picture::folder;
use crate::process::output::{StdoutError, outln};
use crate::run::RunDir;
use crate::run::calibration::CalibrationRecord;
use crate::run::data_record::load_held_out_of_run;
use crate::run::lock::RunLock;

/// The fewest held-out images calibrate fits on: the threshold for "not a digit" refuses
/// [`REFUSED_DIGITS_PERCENT`] of them, which needs about a hundred images to mean anything
/// (with one image, its own top probability became the threshold, and eval refused two thirds
/// of the test set).
const FEWEST_HELD_OUT: usize = 100;

/// Fits the run's temperature on its held-out training images (never the test split, which
/// scores it) and writes `calibration.json`; prints the temperature and the calibration error
/// on those images before and after. A fine-tuned run that held out none is calibrated on its
/// parent's held-out images, which neither trained on (`--finetune-mix` leaves them out); an
/// imported run on the training split of `--data-dir`'s folder of pictures ([`own_pictures`]).
///
/// # Errors
/// No run found, neither the run nor its parent held out [`FEWEST_HELD_OUT`] training images,
/// an imported run is given no folder of [`FEWEST_HELD_OUT`] pictures, the backend does not start, the model cannot be loaded, another process
/// holds the run, the training images cannot be read, or `calibration.json` cannot be written.
pub(crate) fn execute(args: CalibrateArgs) -> Result<ExitCode> {
    let run = args.run.chosen()?;
    let device = args.backend.backend.device()?;
    let (config, model) = run.load_model(&device)?;
    // What to calibrate on is checked before the run is locked, read after.
    let data_dir = args.backend.data_dir;
    let from = if run.is_imported()? {
        HeldOut::Pictures(own_pictures(&run, &config, data_dir.clone())?)
    } else {
        let (source, source_config) = held_out_source(&run, &config)?;
        HeldOut::Run(source, Box::new(source_config))
    };
    let _lock = RunLock::acquire(run.root(), "calibrate")?;
    let held_out = match &from {
        HeldOut::Pictures(dir) => read_own_pictures(dir, config.dataset)?,
        HeldOut::Run(source, source_config) => {
            // The parent's images are read from where it recorded them; --data-dir names this
            // run's.
            let data_dir = data_dir.filter(|_| source.root() == run.root());
            load_held_out_of_run(source, source_config, data_dir)
                .context("cannot read the held-out training images to calibrate on")?
        }
    };
    let (log_probs, silence) = log_probabilities_and_silence(&model, held_out.pixels(), &device);
    if let HeldOut::Pictures(dir) = &from {
        read_as_labelled(dir, &log_probs, held_out.labels())?;
    }
    let unlike = refused_for_shape(held_out.pixels(), config.dataset);
    let temperature = fit(&log_probs, held_out.labels());
    let read = |pixels: &[u8]| probabilities_at(&model, pixels, &device, Some(temperature));
    let record = fitted(
        &log_probs,
        held_out.labels(),
        temperature,
        &silence,
        &unlike,
        |rows| steadiness(held_out.pixels(), rows, UNSURE_BELOW, read),
    );
    run.save_calibration(&record)?;
    print_record(&record, &from.describe(), &run.calibration_json())?;
    Ok(ExitCode::SUCCESS)
}

/// The pictures an imported run is calibrated on: `--data-dir`, a folder of labelled pictures
/// (one folder per class) that it never trained on, its training split (its test split is left
/// for `eval`). Which images a PyTorch model trained on is unknown, so MNIST's training split
/// cannot be held out for it, and the test split only scores.
///
/// # Errors
/// No `--data-dir`, or one that is not a folder of pictures of the run's classes.
fn own_pictures(
    run: &RunDir,
    config: &TrainingConfig,
    data_dir: Option<PathBuf>,
) -> Result<PathBuf> {
    let advice = |given: String| {
        anyhow!(
            "{}: imported from PyTorch, it held out no training images to calibrate on (which images it trained on is unknown, and the test split only scores); {given}pass --data-dir a folder of labelled pictures it never trained on (one folder per class, {}; at least {FEWEST_HELD_OUT} in its training split), or calibrate a run trained here with --valid-size, e.g. --valid-size 5000",
            run.root().display(),
            config.dataset.class_names().join(", ")
        )
    };
    let Some(dir) = data_dir else {
        return Err(advice(String::new()));
    };
    match DataSource::of_folder(dir.clone(), config.dataset) {
        DataSource::Pictures(dir) => Ok(dir),
        _ if !dir.is_dir() => bail!(
            "{}: {} (--data-dir: the labelled pictures to calibrate {} on)",
            dir.display(),
            if dir.exists() {
                "not a folder"
            } else {
                "no such folder"
            },
            run.root().display()
        ),
        _ => Err(advice(format!(
            "{} holds no class folders: ",
            dir.display()
        ))),
    }
}

/// Where the images `calibrate` fits on come from.
enum HeldOut {
    /// A folder of labelled pictures, for an imported run ([`own_pictures`]).
    Pictures(PathBuf),
    /// The training images this run (or, for a fine-tuned run, its parent) held out.
    Run(RunDir, Box<TrainingConfig>),
}

impl HeldOut {
    /// The images, in words, for the line that says what was fitted on.
    fn describe(&self) -> String {
        match self {
            HeldOut::Pictures(dir) => format!("pictures of {} (its training split)", dir.display()),
            HeldOut::Run(..) => "held-out training images".to_string(),
        }
    }
}

/// The training split of the folder of pictures `dir`, when it holds at least
/// [`FEWEST_HELD_OUT`] and some of every class: a calibration fitted on some classes alone
/// holds for them alone (one class gave a threshold refusing nothing).
///
/// # Errors
/// The folder cannot be read ([`folder::load`]), holds too few pictures or none of a class.
fn read_own_pictures(dir: &Path, dataset: DatasetKind) -> Result<LabelledImages> {
    let (images, _) = folder::load(dir, Split::Train, dataset)
        .context("cannot read the pictures to calibrate on")?;
    if images.len() < FEWEST_HELD_OUT {
        let (kept, of) = folder::TEST_SHARE;
        bail!(
            "{}: {} pictures in its training split; calibrating needs at least {FEWEST_HELD_OUT} (its threshold for \"not a digit\" refuses {REFUSED_DIGITS_PERCENT}% of them; without train/ and test/ folders, {kept} in {of} pictures, by name, are kept for testing)",
            dir.display(),
            images.len()
        );
    }
    let names = dataset.class_names();
    if let Some(missing) = (0..NUM_CLASSES).find(|&class| !images.labels().contains(&(class as u8)))
    {
        bail!(
            "{}: no picture of class {} in its training split; a calibration fitted on some classes would hold for them alone",
            dir.display(),
            names[missing]
        );
    }
    Ok(images)
}

/// The least percentage of a folder's pictures the model must read as their folders say for
/// `calibrate` to fit on them: a temperature fitted on mislabelled pictures (letters filed as
/// digits gave 20) makes the model unsure of everything.
const FEWEST_READ_RIGHT: f64 = 50.0;

/// Refuses pictures the model mostly reads otherwise than their labels say.
///
/// # Errors
/// Fewer than [`FEWEST_READ_RIGHT`] of them read as labelled.
fn read_as_labelled(dir: &Path, log_probs: &[[f32; NUM_CLASSES]], labels: &[u8]) -> Result<()> {
    let read_right = accuracy(log_probs, labels);
    if read_right < FEWEST_READ_RIGHT {
        bail!(
            "{}: the model reads {read_right:.0}% of its pictures as their folders say: labelled wrong, or not pictures of what it reads; calibrating on them would make it unsure of everything",
            dir.display()
        );
    }
    Ok(())
}

/// The run whose held-out images calibrate `run` (whose config is `config`), with its config:
/// `run` itself, or for a fine-tuned run that held out none, its parent.
///
/// # Errors
/// Neither holds out [`FEWEST_HELD_OUT`] images; the parent's config cannot be read.
fn held_out_source(run: &RunDir, config: &TrainingConfig) -> Result<(RunDir, TrainingConfig)> {
    let parent = match &config.finetune {
        Some(parent) if config.valid_size == 0 => {
            let Ok(parent) = RunDir::existing(parent) else {
                bail!(
                    "{}: it held out no images, and the run it was fine-tuned from, whose held-out images would calibrate it, is no longer there ({}); put it back, or fine-tune with --valid-size N (at least {FEWEST_HELD_OUT} of your pictures held out)",
                    run.root().display(),
                    parent.display()
                );
            };
            let parent_config = parent.load_config()?;
            (parent_config.valid_size >= FEWEST_HELD_OUT).then_some((parent, parent_config))
        }
        _ => None,
    };
    if let Some(parent) = parent {
        return Ok(parent);
    }
    if let (Some(parent), 0) = (&config.finetune, config.valid_size) {
        bail!(
            "{}: neither it nor the run it was fine-tuned from ({}) held out {FEWEST_HELD_OUT} training images to calibrate on; train that run with --valid-size (e.g. 5000) and fine-tune it again, or fine-tune with --valid-size N (N of your pictures held out, at least {FEWEST_HELD_OUT})",
            run.root().display(),
            parent.display()
        );
    }
    if config.valid_size == 0 {
        bail!(
            "{}: the run held out no training images to calibrate on (images it trained on look easier than they are, and the test split only scores); train with --valid-size, e.g. --valid-size 5000",
            run.root().display()
        );
    }
    if config.valid_size < FEWEST_HELD_OUT {
        bail!(
            "{}: the run held out {} training images; calibrating needs at least {FEWEST_HELD_OUT} (its threshold for \"not a digit\" refuses {REFUSED_DIGITS_PERCENT}% of them); train with --valid-size, e.g. --valid-size 5000",
            run.root().display(),
            config.valid_size
        );
    }
    Ok((run.clone(), config.clone()))
}

/// The record of `temperature` (fitted to `log_probs`, the model's for the held-out images
/// whose classes are `labels`) and of the top-probability map fitted after it: the images the
/// network is silent on (`silence`), those shaped like no digit (`unlike`,
/// `model::shape`), and those `steadiness` finds unsteady below
/// [`UNSURE_BELOW`] at the temperature (given their probabilities at it), that bound lowered
/// when they are more than the budget (`rejection::budget_before_threshold`), the threshold
/// for "not a digit" beside them, and how all do on them. The map is increasing:
/// the bound and the threshold are recorded as the calibrated probabilities say them, and
/// refuse the same images at the temperature alone (so the map changes no decision, only what
/// the probabilities say).
fn fitted(
    log_probs: &[[f32; NUM_CLASSES]],
    labels: &[u8],
    temperature: f64,
    silence: &[bool],
    unlike: &[bool],
    steadiness: impl FnOnce(&[[f32; NUM_CLASSES]]) -> Vec<bool>,
) -> CalibrationRecord {
    let at_t = at_temperature(log_probs, Some(temperature));
    let map = ConfidenceMap::fit(&at_t, labels);
    let refused = rejection::refused_anyway(silence, unlike);
    let (unsure_at_t, steady) =
        rejection::budget_before_threshold(&at_t, &steadiness(&at_t), &refused, REFUSED_DIGITS);
    let share = |flags: &[bool]| {
        flags.iter().filter(|&&flag| flag).count() as f64 / labels.len().max(1) as f64
    };
    let scaled: Vec<[f32; NUM_CLASSES]> = at_t.iter().map(|row| map.apply(row)).collect();
    let unsure_below = map.confidence(f64::from(unsure_at_t));
    let threshold = rejection::threshold(&scaled, &steady, REFUSED_DIGITS);
    CalibrationRecord {
        temperature,
        held_out_images: labels.len(),
        nll_before: mean_nll(log_probs, labels, 1.0),
        nll_after: mean_nll(log_probs, labels, temperature),
        ece_before: Calibration::new(log_probs, labels).expected_calibration_error,
        ece_after: Calibration::of_probabilities(&scaled, labels).expected_calibration_error,
        not_a_digit_below: threshold.map(f64::from),
        held_out_refused: threshold.map(|t| rejection::refused_share(&scaled, &steady, t)),
        held_out_silent: Some(share(silence)),
        held_out_unlike: Some(share(unlike)),
        unsure_below: Some(unsure_below),
        confidence_slope: Some(map.slope),
        confidence_offset: Some(map.offset),
        ece_at_temperature: Some(
            Calibration::at_temperature(log_probs, labels, temperature).expected_calibration_error,
        ),
    }
}

/// Prints what `calibrate` fitted, on what (`fitted_on`, the images in words) and where it was
/// written (`path`).
///
/// # Errors
/// Standard output cannot be written.
fn print_record(
    record: &CalibrationRecord,
    fitted_on: &str,
    path: &Path,
) -> Result<(), StdoutError> {
    let map = record.confidence().unwrap_or(ConfidenceMap::IDENTITY);
    outln!(
        "temperature {:.4}, fitted on {} {fitted_on}: calibration error {:.2}% -> {:.2}%, log-likelihood loss {:.4} -> {:.4}",
        record.temperature,
        record.held_out_images,
        100.0 * record.ece_before,
        100.0 * record.ece_at_temperature.unwrap_or(record.ece_after),
        record.nll_before,
        record.nll_after
    )?;
    outln!(
        "then the top probability's log-odds times {:.3} plus {:.3}: calibration error {:.2}%",
        map.slope,
        map.offset,
        100.0 * record.ece_after
    )?;
    if let (Some(threshold), Some(refused)) = (record.not_a_digit_below, record.held_out_refused) {
        outln!(
            "not a digit: a top probability below {:.2}% (so calibrated), or below {:.0}% and read otherwise when turned a little, or read as nothing (the network silent on it: {:.2}%), or shaped like no digit ({:.2}%): {:.2}% of them",
            100.0 * threshold,
            100.0 * record.unsure_below.unwrap_or(f64::from(UNSURE_BELOW)),
            100.0 * record.held_out_silent.unwrap_or(0.0),
            100.0 * record.held_out_unlike.unwrap_or(0.0),
            100.0 * refused
        )?;
    }
    outln!(
        "written: {}; infer, eval, serve (a running one once restarted) and export now divide the logits by it, map the top probability and answer \"not a digit\" below the threshold",
        path.display()
    )
}
