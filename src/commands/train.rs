//! `mnist-trainer [train]`: trains, then prints the test score, where the files are and, when
//! stopped, the command that continues the run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::args::TrainArgs;
use crate::process::output::{StdoutError, errln, outln};
use crate::process::signals::{StopSignal, StopSignals};
use crate::run::{RunDir, RunStatus, Summary};
use crate::train::{Existing, TrainError, TrainRequest, train};

/// Trains a run as `args` ask (new, `--overwrite` or `--resume`), then prints its epochs (after
/// the dashboard), the summary and, when interrupted, the resume command. The exit code is
/// success for a completed or early-stopped run, 128 + the signal's number for a stopped one
/// (130 for a stop from the dashboard), failure for a failed one.
///
/// # Errors
/// The flags and config do not make a valid config, or training fails (a [`TrainError`] other
/// than `StoppedBeforeTraining`, which is an exit code).
pub(crate) fn execute(args: TrainArgs, signals: &StopSignals) -> Result<ExitCode> {
    let config = args.resolve_config()?;
    let (run_dir, made_here) = run_folder(&args)?;
    let existing = match (args.resume.is_some(), args.overwrite) {
        (true, _) => Existing::Resume,
        (false, true) => Existing::Overwrite,
        (false, false) => Existing::Refuse,
    };
    let dashboard = !args.plain && crate::process::terminal::can_draw_dashboard();
    let total_epochs = config.num_epochs;
    // A resumed run's earlier epochs were printed by the command that trained them.
    let done_before = match existing {
        Existing::Resume => RunDir::new(&run_dir).last_complete_epoch().unwrap_or(0),
        _ => 0,
    };
    let trained = train(TrainRequest {
        config,
        backend: args.backend.backend,
        data_dir: args.backend.data_dir.clone(),
        run: RunDir::new(&run_dir),
        existing,
        signals: signals.clone(),
        dashboard,
    });
    if made_here && trained.is_err() {
        // The folder this command made for the run, if nothing was written into it.
        let _ = std::fs::remove_dir(&run_dir);
    }
    let summary = match trained {
        Err(TrainError::StoppedBeforeTraining { signal }) => {
            errln!("{signal}: stopped before training started; nothing was written");
            return Ok(ExitCode::from(signal.exit_code()));
        }
        other => other?,
    };
    if dashboard {
        // The dashboard's screen is gone: leave the epochs on the terminal, as plain lines.
        print_epochs(&RunDir::new(&run_dir), done_before, total_epochs)?;
    }
    print_summary(&summary, &run_dir)?;
    if let Some(signal) = signals.received_while_finishing() {
        errln!("{signal}: the run had already finished training; its files were completed first");
        return Ok(ExitCode::from(signal.exit_code()));
    }
    Ok(exit_code(summary.status, signals))
}

/// The run's folder (`--resume`'s, `--run`, or a new one under `artifacts/`) and whether
/// this command made it.
///
/// # Errors
/// A new folder cannot be made under `artifacts/`.
fn run_folder(args: &TrainArgs) -> Result<(PathBuf, bool)> {
    match args.resume.clone().or_else(|| args.run.clone()) {
        Some(folder) => Ok((folder, false)),
        None => {
            let made = crate::run::new_run_folder().with_context(|| {
                format!("{}: cannot make a run folder in it", crate::run::ARTIFACTS)
            })?;
            Ok((made, true))
        }
    }
}

/// The exit code of a run that ended as `status`: success for a completed or early-stopped
/// run, failure for a failed one; a stopped one is not what was asked for, though its folder
/// is valid: 128 + the signal's number, as a shell reports a process that signal ended (a stop
/// from the dashboard, `q` then `s` or `k`, counts as Ctrl-C).
fn exit_code(status: RunStatus, signals: &StopSignals) -> ExitCode {
    match status {
        RunStatus::Completed | RunStatus::EarlyStopped => ExitCode::SUCCESS,
        RunStatus::Interrupted => {
            ExitCode::from(signals.stopped_by().map_or(130, StopSignal::exit_code))
        }
        RunStatus::Failed => ExitCode::FAILURE,
    }
}

/// The run's epochs after the first `done_before`, one line each, as training prints them
/// without the dashboard.
///
/// # Errors
/// Standard output cannot be written.
fn print_epochs(run: &RunDir, done_before: usize, total: usize) -> Result<(), StdoutError> {
    match crate::run::metrics::read_all(&run.metrics()) {
        Ok(epochs) => {
            for epoch in epochs.iter().skip(done_before) {
                outln!("epoch {}/{total}  {epoch}", epoch.epoch)?;
            }
        }
        Err(error) => errln!("warning: {error}"),
    }
    Ok(())
}

/// Prints the test score (percent) with the mean seconds per epoch, the run folder and its main
/// files, and for an interrupted run the command that continues it.
///
/// # Errors
/// Standard output cannot be written.
fn print_summary(summary: &Summary, run_dir: &Path) -> Result<(), StdoutError> {
    let seconds = &summary.seconds_per_epoch;
    let mean = seconds.iter().sum::<f64>() / seconds.len().max(1) as f64;
    let ended = match summary.status {
        RunStatus::Completed => "",
        RunStatus::EarlyStopped => " (stopped early: validation loss no longer improving)",
        RunStatus::Interrupted => " (interrupted)",
        RunStatus::Failed => " (failed)",
    };
    let epochs = match summary.epochs_completed {
        1 => "1 epoch".to_string(),
        n => format!("{n} epochs"),
    };
    // The model is the last finished epoch's unless the run kept its best.
    let kept = match summary.model_epoch {
        Some(epoch) if epoch != summary.epochs_completed => {
            format!("; model.bpk is epoch {epoch}'s, the lowest validation loss")
        }
        _ => String::new(),
    };
    let files = match (summary.test_accuracy, summary.test_loss) {
        (Some(accuracy), Some(loss)) => {
            outln!(
                "test accuracy {accuracy:.2}% ({} loss {loss:.4}) on {} image{} after {epochs}{ended}{kept}, {mean:.1} s/epoch on {}",
                summary.loss_function,
                summary.test_images,
                if summary.test_images == 1 { "" } else { "s" },
                summary.backend
            )?;
            "model.bpk, config.json, data.json, metrics.jsonl, summary.json, curves.png"
        }
        _ => {
            outln!("no model: no epoch finished{ended}")?;
            "config.json, data.json, summary.json"
        }
    };
    outln!("run folder: {} ({files})", run_dir.display())?;
    if summary.status == RunStatus::Interrupted {
        let resume = crate::run::resume_command(run_dir, summary.backend);
        match summary.epochs_completed {
            0 => outln!("interrupted in epoch 1; start it again with: {resume}")?,
            done => outln!("interrupted after epoch {done}; continue with: {resume}")?,
        }
    }
    Ok(())
}
