//! The end of a run: which epochs count, the run's status, the final model, its test score,
//! `summary.json` and the curves.

use std::time::Instant;

use burn::prelude::*;

use crate::analysis::inference::{TestScore, test_score};
use crate::run::metrics::{self, EpochMetrics};
use crate::run::{RunDir, RunStatus, Summary, Versions};
use crate::train::launch::Outcome;
use crate::train::recorder::Halt;
use crate::train::{RunData, TrainError, TrainRequest};

/// Decides the run's status from the epochs on disk, saves the model (unless the run failed),
/// tests it, and writes `summary.json` and the curves.
pub(super) fn finish(
    request: &TrainRequest,
    data: &RunData,
    outcome: Outcome,
    device: &Device,
    started: Instant,
) -> Result<Summary, TrainError> {
    let run = &request.run;
    let epochs = finished_epochs(run)?;
    let Some(model) = outcome.model else {
        // Burn panicked: nothing trustworthy to save or test; the finished epochs can resume.
        return Err(failed(run, outcome.error.unwrap_or_default()));
    };
    let failure = match &outcome.halt {
        Some(Halt::Diverged(_)) => None,
        Some(Halt::Unrecorded(reason)) => Some(reason.clone()),
        None => outcome.error.clone(),
    };
    let diverged = matches!(outcome.halt, Some(Halt::Diverged(_)));
    let mut status = if failure.is_some() || diverged {
        RunStatus::Failed
    } else {
        ended(&epochs, request, outcome.interrupted)
    };
    let parameters = model.num_params();
    let test = test_score(&model, &data.test, device, request.config.loss);
    // A failed run's model is not worth keeping; its earlier epochs' checkpoints are.
    let mut problems: Vec<String> = failure.into_iter().collect();
    if status != RunStatus::Failed
        && let Err(error) = run.save_model(model)
    {
        status = RunStatus::Failed;
        problems.push(error.to_string());
    }
    let summary = summarize(request, data, &epochs, status, test, parameters, started);
    if let Err(error) = run.write_summary(&summary) {
        problems.push(error.to_string());
    }
    // The curves are a convenience: failing to draw them must not lose a trained run.
    if problems.is_empty()
        && let Err(error) = crate::analysis::plots::training_curves(&epochs, &run.curves_png())
    {
        eprintln!("warning: {error}");
    }
    if let Some(Halt::Diverged(reason)) = outcome.halt {
        return Err(TrainError::Diverged {
            reason: std::iter::once(reason)
                .chain(problems)
                .collect::<Vec<_>>()
                .join("; "),
            run: run.root().to_path_buf(),
        });
    }
    if !problems.is_empty() {
        return Err(failed(run, problems.join("; then ")));
    }
    Ok(summary)
}

/// The epochs whose checkpoint is on disk as well as their metrics line (a stop or a failed
/// checkpoint can fall between the two); the metrics file is cut to them.
fn finished_epochs(run: &RunDir) -> Result<Vec<EpochMetrics>, TrainError> {
    let finished = run.last_complete_epoch()?;
    Ok(metrics::keep_first(&run.metrics(), finished)?)
}

/// How a run that did not fail ended. Burn's TUI resets the interrupter when training ends, so
/// after a stop from the dashboard `interrupted` is false: the epochs finished tell the truth.
fn ended(epochs: &[EpochMetrics], request: &TrainRequest, interrupted: bool) -> RunStatus {
    let config = &request.config;
    if epochs.len() >= config.num_epochs {
        RunStatus::Completed
    } else if !interrupted && stopped_early(epochs, config.early_stop_patience) {
        RunStatus::EarlyStopped
    } else {
        RunStatus::Interrupted
    }
}

fn summarize(
    request: &TrainRequest,
    data: &RunData,
    epochs: &[EpochMetrics],
    status: RunStatus,
    test: TestScore,
    parameters: usize,
    started: Instant,
) -> Summary {
    let config = &request.config;
    Summary {
        status,
        backend: request.backend,
        epochs_completed: epochs.len(),
        test_accuracy: test.accuracy,
        test_loss: test.loss,
        loss_function: test.loss_function,
        test_images: test.images,
        train_images: data.train.len(),
        valid_images: data.valid.len(),
        dataset: config.dataset,
        model: config.model.describe(),
        seconds_per_epoch: epochs.iter().map(|epoch| epoch.seconds).collect(),
        total_seconds: started.elapsed().as_secs_f64(),
        parameters,
        data: data.description.clone(),
        versions: Versions::current(),
    }
}

fn failed(run: &RunDir, reason: String) -> TrainError {
    TrainError::Failed {
        reason,
        run: run.root().to_path_buf(),
    }
}

/// Whether the last `patience` epochs all failed to beat the best validation loss before them,
/// which is when early stopping ends a run.
fn stopped_early(epochs: &[EpochMetrics], patience: Option<usize>) -> bool {
    let Some(patience) = patience else {
        return false;
    };
    if epochs.len() <= patience {
        return false;
    }
    let (before, last) = epochs.split_at(epochs.len() - patience);
    let best_before = before
        .iter()
        .map(|e| e.valid_loss)
        .fold(f64::INFINITY, f64::min);
    last.iter().all(|e| e.valid_loss >= best_before)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epochs(losses: &[f64]) -> Vec<EpochMetrics> {
        losses
            .iter()
            .enumerate()
            .map(|(i, &valid_loss)| EpochMetrics {
                epoch: i + 1,
                train_loss: 1.0,
                train_accuracy: 50.0,
                valid_loss,
                valid_accuracy: 50.0,
                seconds: 1.0,
            })
            .collect()
    }

    #[test]
    fn early_stopping_is_recognised_from_the_losses() {
        assert!(stopped_early(&epochs(&[0.5, 0.4, 0.45, 0.41]), Some(2)));
        assert!(!stopped_early(&epochs(&[0.5, 0.4, 0.45, 0.39]), Some(2)));
        assert!(
            !stopped_early(&epochs(&[0.5, 0.6]), Some(2)),
            "too few epochs to tell"
        );
        assert!(!stopped_early(&epochs(&[0.5, 0.6, 0.7]), None));
    }
}
