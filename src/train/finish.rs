//! The end of a run: which epochs count, the run's status, the final model, its test score,
//! `summary.json` and the curves.

use std::time::Instant;

use burn::prelude::*;

use crate::analysis::inference::{TestScore, test_score};
use crate::model::Model;
use crate::run::metrics::{self, EpochMetrics};
use crate::run::{ArtifactError, RunDir, RunStatus, Summary, Versions};
use crate::train::launch::Outcome;
use crate::train::recorder::Halt;
use crate::train::{RunData, TrainError, TrainRequest};

/// Decides the run's status from the epochs on disk, saves the model (unless the run failed),
/// tests it, and writes `summary.json` and the curves. The model saved and tested is always the
/// one the last metrics line describes: an interrupted run's is its last checkpoint's (the model
/// in memory is part-way through the epoch that was cut short), and a run stopped before its
/// first epoch finished keeps none.
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
    let (mut status, failure) = judge(
        &outcome.halt,
        outcome.error,
        &epochs,
        request,
        outcome.interrupted,
    );
    let mut problems: Vec<String> = failure.into_iter().collect();
    let parameters = model.num_params();
    let test = keep_model(
        request,
        data,
        device,
        model,
        epochs.len(),
        &mut status,
        &mut problems,
    );
    let mut summary = summarize(request, data, &epochs, status, test, parameters, started);
    summary.adapter = crate::backend::adapter_name(device);
    if let Err(error) = run.write_summary(&summary) {
        problems.push(error.to_string());
    }
    // The curves are a convenience: failing to draw them must not lose a trained run.
    if problems.is_empty()
        && let Err(error) =
            crate::analysis::plots::training_curves(&epochs, request.config.loss, &run.curves_png())
    {
        eprintln!("warning: {error}");
    }
    match (outcome.halt, problems.is_empty()) {
        (Some(Halt::Diverged(reason)), _) => Err(TrainError::Diverged {
            reason: std::iter::once(reason)
                .chain(problems)
                .collect::<Vec<_>>()
                .join("; "),
            run: run.root().to_path_buf(),
        }),
        (_, false) => Err(failed(run, problems.join("; then "))),
        (_, true) => Ok(summary),
    }
}

/// The run's status, and what made it fail (a divergence fails it without a problem to add:
/// its own error says so).
fn judge(
    halt: &Option<Halt>,
    error: Option<String>,
    epochs: &[EpochMetrics],
    request: &TrainRequest,
    interrupted: bool,
) -> (RunStatus, Option<String>) {
    let failure = match halt {
        Some(Halt::Diverged(_)) => None,
        Some(Halt::Unrecorded(reason)) => Some(reason.clone()),
        None => error,
    };
    let status = if failure.is_some() || matches!(halt, Some(Halt::Diverged(_))) {
        RunStatus::Failed
    } else {
        ended(epochs, request, interrupted)
    };
    (status, failure)
}

/// Saves the model the last metrics line describes and scores it on the test split: the model
/// in memory, or an interrupted run's last checkpoint (none before the first epoch). A failed
/// run keeps no model; a model that cannot be kept fails the run, with the problem added.
fn keep_model(
    request: &TrainRequest,
    data: &RunData,
    device: &Device,
    model: Model,
    finished: usize,
    status: &mut RunStatus,
    problems: &mut Vec<String>,
) -> Option<TestScore> {
    let model = match *status {
        RunStatus::Interrupted => {
            last_checkpoint(request, finished, device).unwrap_or_else(|error| {
                *status = RunStatus::Failed;
                problems.push(error.to_string());
                None
            })
        }
        _ => Some(model),
    }?;
    let test = test_score(&model, &data.test, device, request.config.loss);
    // A failed run's model is not worth keeping; its earlier epochs' checkpoints are.
    if *status != RunStatus::Failed
        && let Err(error) = request.run.save_model(model)
    {
        *status = RunStatus::Failed;
        problems.push(error.to_string());
    }
    Some(test)
}

/// The model of the last finished epoch, reloaded from its checkpoint; `None` before the first.
fn last_checkpoint(
    request: &TrainRequest,
    epoch: usize,
    device: &Device,
) -> Result<Option<Model>, ArtifactError> {
    if epoch == 0 {
        return Ok(None);
    }
    let model = request
        .run
        .checkpoint_model(&request.config, epoch, device)?;
    Ok(Some(model.with_loss(request.config.loss)))
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
    test: Option<TestScore>,
    parameters: usize,
    started: Instant,
) -> Summary {
    let config = &request.config;
    Summary {
        status,
        backend: request.backend,
        epochs_completed: epochs.len(),
        test_accuracy: test.as_ref().map(|test| test.accuracy),
        test_loss: test.as_ref().map(|test| test.loss),
        loss_function: config.loss,
        test_images: data.test.len(),
        train_images: data.train.len(),
        valid_images: data.valid.len(),
        dataset: config.dataset,
        model: config.model.describe(),
        adapter: None,
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
