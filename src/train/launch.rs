//! Burn's `SupervisedTraining`, configured (loaders, metrics, checkpoints, early stopping,
//! dashboard, Ctrl-C) and launched.

use std::io::IsTerminal;
use std::sync::Arc;

use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::prelude::*;
use burn::train::metric::store::{Aggregate, Direction, Split as MetricSplit};
use burn::train::metric::{AccuracyMetric, LossMetric, Metric};
use burn::train::renderer::default_renderer;
use burn::train::{
    Learner, LearningResult, MetricEarlyStoppingStrategy, StoppingCondition, SupervisedTraining,
};

use crate::data::idx::LabelledImages;
use crate::data::loader::EpochLoader;
use crate::model::Model;
use crate::train::interrupt::stop_on_ctrl_c;
use crate::train::recorder::{EpochRecorder, Halt, HaltSlot, TrackedMetrics};
use crate::train::{RunData, TrainRequest};

/// How Burn's training loop ended.
pub(super) struct Outcome {
    /// `None` when Burn panicked.
    pub model: Option<Model>,
    /// Stopped by Ctrl-C or the dashboard (as far as Burn still knows, see `finish`).
    pub interrupted: bool,
    /// The error Burn stopped on (a checkpoint that could not be written, a failed loader).
    pub error: Option<String>,
    /// Why the epoch recorder stopped it.
    pub halt: Option<Halt>,
}

/// Configures Burn's `SupervisedTraining` (loaders, metrics, checkpoints, early stopping,
/// dashboard, Ctrl-C) and runs it.
pub(super) fn run_training(
    request: &TrainRequest,
    data: &RunData,
    device: &Device,
    scheduler: ModuleLrScheduler,
    done_epochs: usize,
) -> Outcome {
    let (config, run) = (&request.config, &request.run);
    device.seed(config.seed);
    let loader = |images: &Arc<LabelledImages>, shuffle_seed| {
        EpochLoader::new(
            Arc::clone(images),
            config.batch_size,
            shuffle_seed,
            device.clone(),
        )
        .with_workers(config.num_workers)
    };
    let loader_train =
        Arc::new(loader(&data.train, Some(config.seed)).starting_at_epoch(done_epochs + 1));
    let loader_valid = Arc::new(loader(&data.valid, None));

    let (accuracy, loss) = (AccuracyMetric::new(), LossMetric::new());
    let names = TrackedMetrics {
        loss: loss.name().to_string(),
        accuracy: accuracy.name().to_string(),
    };
    let label = format!("{} {}", config.dataset.title(), config.model.describe());
    let mut training = SupervisedTraining::new(run.root(), loader_train, loader_valid)
        .metrics((accuracy, loss))
        .with_default_checkpointers()
        .num_epochs(config.num_epochs)
        .label(&label);
    if done_epochs > 0 {
        // Burn reloads the model, optimizer and scheduler saved after that epoch.
        training = training.checkpoint(done_epochs);
    }
    if let Some(patience) = config.early_stop_patience {
        training = training.early_stopping(MetricEarlyStoppingStrategy::new(
            &LossMetric::new(),
            Aggregate::Mean,
            Direction::Lowest,
            MetricSplit::Valid,
            StoppingCondition::NoImprovementSince { n_epochs: patience },
        ));
    }
    let dashboard = std::io::stdout()
        .is_terminal()
        .then(|| default_renderer(training.interrupter(), None));
    let halt = HaltSlot::default();
    stop_on_ctrl_c(training.interrupter());
    let renderer = EpochRecorder::new(
        names,
        dashboard,
        run.metrics(),
        training.interrupter(),
        Arc::clone(&halt),
    );
    let training = training.renderer(Box::new(renderer));

    let model = config
        .model
        .init(&device.clone().autodiff())
        .with_loss(config.loss);
    let learner = Learner::new(model, config.optimizer.init(), scheduler);
    // Burn panics on some failures of its own (a metric log it cannot write to a full disk).
    let launched = crate::panics::catch(move || training.launch(learner));
    let halt = halt.lock().unwrap_or_else(|e| e.into_inner()).take();
    let LearningResult {
        model,
        renderer,
        interrupted,
        error,
    } = match launched {
        Ok(result) => result,
        Err(panic) => {
            return Outcome {
                model: None,
                interrupted: false,
                error: Some(format!("Burn stopped with a panic: {panic}")),
                halt,
            };
        }
    };
    // The dashboard leaves the terminal's alternate screen only when dropped; anything printed
    // before that would vanish with it.
    drop(renderer);
    Outcome {
        model: Some(model),
        interrupted: interrupted.is_some(),
        error: error.map(|error| error.to_string()),
        halt,
    }
}
