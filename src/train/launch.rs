//! Burn's `SupervisedTraining`, configured (loaders, metrics, checkpoints, early stopping,
//! dashboard, Ctrl-C) and launched.

use std::sync::Arc;

use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::prelude::*;
use burn::train::metric::{AccuracyMetric, LossMetric, Metric};
use burn::train::renderer::default_renderer;
use burn::train::{Interrupter, Learner, LearningResult, SupervisedTraining, TrainingError};

use crate::data::augment::Augmentation;
use crate::data::idx::LabelledImages;
use crate::data::loader::EpochLoader;
use crate::data::outliers::OutlierExposure;
use crate::model::Model;
use crate::process::output::StdoutError;
use crate::run::ArtifactError;
use crate::train::checkpoints::KeepLatestAndBest;
use crate::train::denormals::FlushDenormals;
use crate::train::early_stop::StopWhenStalled;
use crate::train::recorder::{
    Divergence, EpochRecorder, Halt, HaltSlot, TrackedMetrics, Unrecorded,
};
use crate::train::{RunData, TrainRequest};

/// How Burn's training loop ended; `finish` turns it into the run's status.
#[expect(
    clippy::large_enum_variant,
    reason = "one per run, moved once: boxing the model would buy nothing"
)]
pub(super) enum Outcome {
    /// Burn returned its model without an error: every epoch ran, or a stop signal, the
    /// dashboard or early stopping ended it between steps (the epochs on disk tell which).
    Returned {
        /// The model as training left it (part-way through an epoch when stopped).
        model: Model,
        /// Whether Burn still knew it was stopped: its dashboard forgets (see `finish`).
        interrupted: bool,
        /// An epoch's plain line could not be printed: training was stopped for it (unless it
        /// had no epoch left to run), and the command fails once the run's files are written.
        unprinted: Option<StdoutError>,
    },
    /// The loss stopped being a number: the model in memory is worthless.
    Diverged(Divergence),
    /// Training could not go on.
    Crashed(Crash),
}

impl Outcome {
    /// The failed write to standard output that stopped training, if one did.
    pub(super) fn unprinted(&self) -> Option<&StdoutError> {
        match self {
            Outcome::Returned { unprinted, .. } => unprinted.as_ref(),
            _ => None,
        }
    }
}

/// What made training fail, with its cause chain.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Crash {
    /// Burn panicked (a metric log it cannot write to a full disk, say): the panic's message.
    #[error("Burn stopped with a panic: {0}")]
    Panic(String),
    /// The error Burn stopped on (a checkpoint that could not be written, a failed loader).
    #[error(transparent)]
    Burn(Arc<TrainingError>),
    /// An epoch finished but its metrics line could not be written.
    #[error(transparent)]
    Unrecorded(Unrecorded),
    /// The model could not be kept (its checkpoint reloaded, or `model.bpk` written).
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
}

/// Configures Burn's `SupervisedTraining` (loaders, metrics, checkpoints, early stopping,
/// dashboard, Ctrl-C) and runs it, from `parent`'s weights when a fine-tuned run gives them.
pub(super) fn fit(
    request: &TrainRequest,
    data: &RunData,
    device: &Device,
    scheduler: ModuleLrScheduler,
    done_epochs: usize,
    parent: Option<Model>,
) -> Outcome {
    let (config, run) = (&request.config, &request.run);
    device.seed(config.seed);
    let (loader_train, loader_valid) = loaders(request, data, device, done_epochs);
    let (accuracy, loss) = (AccuracyMetric::new(), LossMetric::new());
    let names = TrackedMetrics {
        loss: loss.name().to_string(),
        accuracy: accuracy.name().to_string(),
    };
    let label = format!("{} {}", config.dataset.title(), config.model.describe());
    let mut training = SupervisedTraining::new(run.root(), loader_train, loader_valid)
        .metrics((accuracy, loss))
        .with_default_checkpointers()
        .with_checkpointing_strategy(KeepLatestAndBest::new(run.clone()))
        .num_epochs(config.num_epochs)
        .label(&label);
    if done_epochs > 0 {
        // Burn reloads the model, optimizer and scheduler saved after that epoch.
        training = training.checkpoint(done_epochs);
    }
    if let Some(patience) = config.early_stop_patience {
        training = training.early_stopping(StopWhenStalled::new(run.clone(), patience));
    }
    let halt = HaltSlot::default();
    let recorder = recorder(request, names, training.interrupter(), &halt);
    let training = training.renderer(Box::new(recorder));

    // A fine-tuned run starts from its parent's weights, the seed's only from random ones.
    let model = parent
        .unwrap_or_else(|| config.model.init(&device.clone().autodiff()))
        .with_loss(config.loss);
    let learner = Learner::new(model, config.optimizer.init_on(request.backend), scheduler);
    // Burn panics on some failures of its own (a metric log it cannot write to a full disk).
    // Burn trains on this thread (one device): the setting holds for every step and is undone
    // before the test score.
    let flush = config.flush_denormals.then(FlushDenormals::on_this_thread);
    let launched = crate::process::panics::catch(move || training.launch(learner));
    drop(flush);
    let halt = halt.lock().unwrap_or_else(|e| e.into_inner()).take();
    outcome(launched, halt)
}

/// The training loader, serving from the epoch after the ones done, and the validation loader.
fn loaders(
    request: &TrainRequest,
    data: &RunData,
    device: &Device,
    done_epochs: usize,
) -> (Arc<EpochLoader>, Arc<EpochLoader>) {
    let config = &request.config;
    let loader = |images: &Arc<LabelledImages>, shuffle_seed| {
        EpochLoader::new(
            Arc::clone(images),
            config.batch_size,
            shuffle_seed,
            device.clone(),
        )
        .with_workers(config.num_workers)
    };
    let augmentation = config.augment.then(|| Augmentation::new(config.seed));
    let outlier_exposure = (config.outlier_exposure > 0.0).then(|| {
        OutlierExposure::new(config.seed, config.outlier_exposure as f32)
            .with_glyphs(Arc::clone(&data.font_outliers))
    });
    let train = loader(&data.train, Some(config.seed))
        .with_augmentation(augmentation)
        .with_outliers(outlier_exposure)
        .starting_at_epoch(done_epochs + 1);
    (Arc::new(train), Arc::new(loader(&data.valid, None)))
}

/// The epoch recorder, with Burn's dashboard behind it on a terminal, and the stop signals
/// routed to the training's interrupter.
fn recorder(
    request: &TrainRequest,
    names: TrackedMetrics,
    interrupter: Interrupter,
    halt: &HaltSlot,
) -> EpochRecorder {
    let dashboard = request
        .dashboard
        .then(|| default_renderer(interrupter.clone(), None));
    request.signals.during_training(interrupter.clone());
    EpochRecorder::new(
        names,
        dashboard,
        request.run.metrics(),
        interrupter,
        Arc::clone(halt),
        request.signals.clone(),
    )
}

/// What `launch` returned (or the panic it ended with) and why the recorder stopped it, as
/// one outcome. The recorder's reason comes first: Burn reports its stop as an interruption.
/// A stop from the dashboard's `[k]` or for an unprintable line is a stop like Ctrl-C's.
fn outcome(launched: Result<LearningResult<Model>, String>, halt: Option<Halt>) -> Outcome {
    let (result, stopped, unprinted) = match (launched, halt) {
        (_, Some(Halt::Diverged(divergence))) => return Outcome::Diverged(divergence),
        (_, Some(Halt::Unrecorded(cause))) => return Outcome::Crashed(Crash::Unrecorded(cause)),
        (Err(panic), _) => return Outcome::Crashed(Crash::Panic(panic)),
        (Ok(result), Some(Halt::Unprinted(error))) => (result, true, Some(error)),
        (Ok(result), Some(Halt::DashboardStopped)) => (result, true, None),
        (Ok(result), None) => (result, false, None),
    };
    // The dashboard leaves the terminal's alternate screen only when dropped; anything printed
    // before that would vanish with it.
    drop(result.renderer);
    match result.error {
        Some(error) => Outcome::Crashed(Crash::Burn(error)),
        None => Outcome::Returned {
            model: result.model,
            interrupted: stopped || result.interrupted.is_some(),
            unprinted,
        },
    }
}
