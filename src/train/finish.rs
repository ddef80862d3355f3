//! The end of a run: which epochs count, the run's status, the final model, its test score,
//! `summary.json` and the curves.

use std::time::Instant;

use burn::prelude::*;

use crate::config::KeepEpoch;
use crate::model::Model;
use crate::model::predict::{TestScore, test_score};
use crate::process::output::errln;
use crate::run::metrics::{self, EpochMetrics};
use crate::run::{ArtifactError, RunDir, RunStatus, Summary, Versions};
use crate::train::launch::{Crash, Outcome};
use crate::train::{RunData, TrainError, TrainRequest};

/// Decides the run's status from the outcome and the epochs on disk, saves and tests the model
/// the last metrics line describes, and writes `summary.json` and the curves. An interrupted
/// run's model is its last checkpoint's (the model in memory is part-way through the epoch that
/// was cut short); a run stopped before its first epoch finished, or a failed one, keeps none.
/// A curves PNG that cannot be drawn is only a warning.
///
/// # Errors
/// [`TrainError::Diverged`] and [`TrainError::Failed`] for an outcome that is one, or when the
/// model, its checkpoint or `summary.json` cannot be kept (a `failed` summary is still written
/// when it can be); [`TrainError::Metrics`] when the finished epochs cannot be read from, or
/// `metrics.jsonl` cut to, the files on disk.
pub(super) fn finish(
    request: &TrainRequest,
    data: &RunData,
    outcome: Outcome,
    device: &Device,
    started: Instant,
) -> Result<Summary, TrainError> {
    let run = &request.run;
    let epochs = finished_epochs(run)?;
    let unprinted = outcome.unprinted().cloned();
    let kept = ended_and_kept(request, data, outcome, device, &epochs);
    let (status, kept_epoch) = match &kept {
        Ok((status, kept)) => (*status, *kept),
        Err(_) => (RunStatus::Failed, None),
    };
    let mut summary = summarize(request, data, &epochs, status, kept_epoch, started);
    summary.adapter = crate::backend::adapter_name(device);
    let written = run.write_summary(&summary);
    if let Err(error) = kept {
        if let Err(also) = written {
            // The run's own failure is the error; this one is worth a line of its own.
            errln!("warning: {also}");
        }
        return Err(error);
    }
    written.map_err(|error| failed(run, error.into()))?;
    // The curves are a convenience: failing to draw them must not lose a trained run.
    let curves = &run.curves_png();
    if let Err(error) =
        crate::analysis::plots::training_curves(&epochs, request.config.loss, curves)
    {
        errln!("warning: {error}");
    }
    match unprinted {
        Some(error) => Err(TrainError::unprinted(error, &summary, run)),
        None => Ok(summary),
    }
}

/// The run's status and its kept epoch's model, saved and scored, for an outcome that is not a
/// failure (see [`keep_model`]); the error an outcome that is one gives.
fn ended_and_kept(
    request: &TrainRequest,
    data: &RunData,
    outcome: Outcome,
    device: &Device,
    epochs: &[EpochMetrics],
) -> Result<(RunStatus, Option<(usize, TestScore)>), TrainError> {
    let run = &request.run;
    match outcome {
        Outcome::Returned {
            model, interrupted, ..
        } => {
            let status = ended(epochs, request, interrupted);
            keep_model(request, data, device, model, status, epochs)
                .map(|kept| (status, kept))
                .map_err(|cause| failed(run, cause.into()))
        }
        Outcome::Diverged(divergence) => Err(TrainError::Diverged {
            divergence,
            run: run.root().to_path_buf(),
        }),
        Outcome::Crashed(cause) => Err(failed(run, cause)),
    }
}

/// Saves the model of the epoch the run keeps and scores it on the test split; returns that
/// epoch with its score (none before the first epoch). The last finished epoch's is the model
/// in memory, except in an interrupted run (part-way through the epoch cut short); the best
/// epoch's (`keep = best`) and an interrupted run's are reloaded from their checkpoints.
fn keep_model(
    request: &TrainRequest,
    data: &RunData,
    device: &Device,
    model: Model,
    status: RunStatus,
    epochs: &[EpochMetrics],
) -> Result<Option<(usize, TestScore)>, ArtifactError> {
    let finished = epochs.len();
    let kept = match request.config.keep {
        KeepEpoch::Last => finished,
        KeepEpoch::Best => metrics::best_epoch(epochs).unwrap_or(finished),
    };
    let model = if status == RunStatus::Interrupted || kept != finished {
        checkpoint(request, kept, device)?
    } else {
        Some(model)
    };
    let Some(model) = model else {
        return Ok(None);
    };
    let test = test_score(&model, &data.test, device, request.config.loss);
    let was_calibrated = request.run.calibration_json().exists();
    request.run.save_model(model)?;
    if was_calibrated {
        errln!(
            "note: {} was removed: its temperature was fitted for the model this run replaced; calibrate the run again",
            request.run.calibration_json().display()
        );
    }
    Ok(Some((kept, test)))
}

/// The model of finished epoch `epoch`, reloaded from its checkpoint; `None` for epoch 0.
fn checkpoint(
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

/// `summary.json` of a trained run: its status, test score (accuracy in percent), image counts,
/// seconds per epoch and in total, and the versions that made it.
fn summarize(
    request: &TrainRequest,
    data: &RunData,
    epochs: &[EpochMetrics],
    status: RunStatus,
    kept: Option<(usize, TestScore)>,
    started: Instant,
) -> Summary {
    let config = &request.config;
    let test = kept.map(|(_, test)| test);
    Summary {
        status,
        backend: request.backend,
        epochs_completed: epochs.len(),
        model_epoch: kept.map(|(epoch, _)| epoch),
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
        // The count of the config's model: a failed run keeps none to count.
        parameters: config
            .model
            .parameter_count()
            .and_then(|count| usize::try_from(count).ok())
            .unwrap_or(usize::MAX),
        data: data.description.clone(),
        versions: Versions::current(),
    }
}

/// [`TrainError::Failed`] for `cause`, naming the run folder.
fn failed(run: &RunDir, cause: Crash) -> TrainError {
    TrainError::Failed {
        cause,
        run: run.root().to_path_buf(),
    }
}

/// Whether the last `patience` epochs all failed to beat the best validation loss before them,
/// which is when early stopping ends a run.
fn stopped_early(epochs: &[EpochMetrics], patience: Option<usize>) -> bool {
    patience.is_some_and(|patience| metrics::stalled(epochs, patience))
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
                train_seconds: 0.75,
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
