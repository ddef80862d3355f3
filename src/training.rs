//! Training with Burn's `SupervisedTraining`, from validated data to a run folder.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use burn::prelude::*;
use burn::train::metric::store::{Aggregate, Direction, Split as MetricSplit};
use burn::train::metric::{AccuracyMetric, LossMetric};
use burn::train::renderer::default_renderer;
use burn::train::{
    ClassificationOutput, InferenceStep, Learner, LearningResult, MetricEarlyStoppingStrategy,
    StoppingCondition, SupervisedTraining, TrainOutput, TrainStep,
};

use crate::artifacts::{ArtifactError, RunDir, RunStatus, Summary, Versions};
use crate::backend::{Backend, BackendError};
use crate::config::TrainingConfig;
use crate::data::{DataError, DataSource, DigitBatch, Split, hold_out};
use crate::idx::LabelledImages;
use crate::inference::evaluate;
use crate::interrupt::stop_on_ctrl_c;
use crate::loader::EpochLoader;
use crate::metrics::{self, EpochMetrics};
use crate::model::Model;
use crate::optimizer::lr_scheduler;
use crate::renderer::{Divergence, EpochRenderer};

impl TrainStep for Model {
    type Input = DigitBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: DigitBatch) -> TrainOutput<ClassificationOutput> {
        let item = self.forward_classification(batch.images, batch.targets);
        TrainOutput::new(self, item.loss.backward(), item)
    }
}

impl InferenceStep for Model {
    type Input = DigitBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: DigitBatch) -> ClassificationOutput {
        self.forward_classification(batch.images, batch.targets)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error("{}: already holds a run; --resume it, pass --overwrite to replace it, or pick another --artifacts folder", path.display())]
    RunExists { path: std::path::PathBuf },
    #[error("{}: all {epochs} epochs are done; pass --epochs with more to train longer", run.display())]
    AlreadyComplete {
        run: std::path::PathBuf,
        epochs: usize,
    },
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
    #[error("{}: cannot clear the folder for --overwrite: {source}", path.display())]
    Overwrite {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("training diverged: {reason}; stopped before saving a model (the checkpoints of earlier epochs are in {}); try a lower --lr", run.display())]
    Diverged {
        reason: String,
        run: std::path::PathBuf,
    },
    #[error(
        "valid_size = {requested} leaves nothing to train on: the training split has {available} images"
    )]
    ValidSize { requested: usize, available: usize },
    #[error("{0}")]
    Schedule(String),
    #[error("training failed: {reason} (run folder: {})", run.display())]
    Failed {
        reason: String,
        run: std::path::PathBuf,
    },
}

/// What to do with a run folder that already holds files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Refuse to touch it.
    Refuse,
    /// Delete it and start afresh.
    Overwrite,
    /// Continue it from its last complete epoch.
    Resume,
}

/// What to train, on which backend, from which data, into which folder.
#[derive(Debug, Clone)]
pub struct TrainRequest {
    pub config: TrainingConfig,
    pub backend: Backend,
    pub data: DataSource,
    pub run: RunDir,
    pub existing: Existing,
}

/// Trains, saves the final model, evaluates it on the test split and writes `summary.json`.
pub fn train(request: TrainRequest) -> Result<Summary, TrainError> {
    let started = Instant::now();
    let TrainRequest {
        config,
        backend,
        data,
        run,
        existing,
    } = request;

    // Everything that can be refused is checked before the run folder is touched.
    let occupied = run
        .root()
        .read_dir()
        .is_ok_and(|mut entries| entries.next().is_some());
    if occupied && existing == Existing::Refuse {
        return Err(TrainError::RunExists {
            path: run.root().to_path_buf(),
        });
    }
    let done_epochs = match existing {
        Existing::Resume => run.last_complete_epoch()?,
        _ => 0,
    };
    if done_epochs >= config.num_epochs {
        return Err(TrainError::AlreadyComplete {
            run: run.root().to_path_buf(),
            epochs: done_epochs,
        });
    }
    let train_all = limited(data.load(Split::Train)?, config.limit_train);
    let test_images = Arc::new(limited(data.load(Split::Test)?, config.limit_test));
    // Validation: a seeded hold-out of the training images, or (the tutorial's way) the test
    // split itself.
    let (train_images, valid_images) = if config.valid_size == 0 {
        (Arc::new(train_all), Arc::clone(&test_images))
    } else if config.valid_size >= train_all.len() {
        return Err(TrainError::ValidSize {
            requested: config.valid_size,
            available: train_all.len(),
        });
    } else {
        let (train, valid) = hold_out(&train_all, config.valid_size, config.seed);
        (Arc::new(train), Arc::new(valid))
    };
    let steps = config.num_epochs * train_images.len().div_ceil(config.batch_size);
    let scheduler = lr_scheduler(config.lr_schedule, config.learning_rate, steps)
        .map_err(TrainError::Schedule)?;
    let device = backend.device()?;

    if occupied && existing == Existing::Overwrite {
        std::fs::remove_dir_all(run.root()).map_err(|source| TrainError::Overwrite {
            path: run.root().to_path_buf(),
            source,
        })?;
    }
    run.create()?;
    run.save_config(&config)?;
    // A resumed run forgets the epoch that was cut short, then appends from there.
    metrics::keep_first(&run.metrics(), done_epochs)?;

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
        Arc::new(loader(&train_images, Some(config.seed)).starting_at_epoch(done_epochs + 1));
    let loader_valid = Arc::new(loader(&valid_images, None));

    let label = format!("{} {}", config.dataset.title(), config.model.describe());
    let mut training = SupervisedTraining::new(run.root(), loader_train, loader_valid)
        .metrics((AccuracyMetric::new(), LossMetric::new()))
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
    let divergence = Divergence::default();
    stop_on_ctrl_c(training.interrupter());
    let renderer = EpochRenderer::new(
        dashboard,
        run.metrics(),
        training.interrupter(),
        Arc::clone(&divergence),
    );
    let training = training.renderer(Box::new(renderer));

    let model = config
        .model
        .init(&device.clone().autodiff())
        .with_loss(config.loss);
    let LearningResult {
        model,
        renderer,
        interrupted,
        error,
    } = training.launch(Learner::new(model, config.optimizer.init(), scheduler));
    // The dashboard leaves the terminal's alternate screen only when dropped; anything printed
    // before that would vanish with it.
    drop(renderer);

    let diverged = divergence.lock().unwrap_or_else(|e| e.into_inner()).take();
    let parameters = model.num_params();
    let test = evaluate(&model, &test_images, &device);
    // A diverged model is not worth keeping; the earlier epochs' checkpoints are.
    if diverged.is_none() {
        run.save_model(model)?;
    }

    let epochs = metrics::read_all(&run.metrics()).unwrap_or_default();
    // Burn's TUI resets the interrupter when training ends, so after a stop from the
    // dashboard `interrupted` is empty: the epochs actually finished tell the truth.
    let status = if error.is_some() || diverged.is_some() {
        RunStatus::Failed
    } else if epochs.len() >= config.num_epochs {
        RunStatus::Completed
    } else if interrupted.is_none() && stopped_early(&epochs, config.early_stop_patience) {
        RunStatus::EarlyStopped
    } else {
        RunStatus::Interrupted
    };
    let summary = Summary {
        status,
        backend,
        epochs_completed: epochs.len(),
        test_accuracy: test.accuracy,
        test_loss: test.loss,
        test_images: test.images,
        train_images: train_images.len(),
        valid_images: valid_images.len(),
        dataset: config.dataset,
        model: config.model.describe(),
        seconds_per_epoch: epochs.iter().map(|epoch| epoch.seconds).collect(),
        total_seconds: started.elapsed().as_secs_f64(),
        parameters,
        data: data.describe(),
        versions: Versions::current(),
    };
    run.write_summary(&summary)?;
    // The curves are a convenience: failing to draw them must not lose a trained run.
    if let Err(error) = crate::plots::training_curves(&epochs, &run.curves_png()) {
        eprintln!("warning: {error}");
    }
    if let Some(reason) = diverged {
        return Err(TrainError::Diverged {
            reason,
            run: run.root().to_path_buf(),
        });
    }
    if let Some(error) = error {
        return Err(TrainError::Failed {
            reason: error.to_string(),
            run: run.root().to_path_buf(),
        });
    }
    Ok(summary)
}

/// The split, cut to the config's limit.
fn limited(images: LabelledImages, limit: Option<usize>) -> LabelledImages {
    match limit {
        Some(count) => images.truncated(count),
        None => images,
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

    /// What `--resume` relies on: a model and optimizer reloaded from their files continue
    /// training exactly as the ones kept in memory.
    #[test]
    fn training_continues_bit_exactly_from_saved_model_and_optimizer_files() {
        use burn::optim::GradientsParams;
        use burn::store::ModuleRecord;

        use crate::model::ModelConfig;
        use crate::optimizer::OptimizerConfig;

        let dir = tempfile::tempdir().unwrap();
        for backend in [Backend::Flex, Backend::Ndarray] {
            let device = backend.device().unwrap().autodiff();
            device.seed(1);
            let batches: Vec<(Tensor<2>, Tensor<1, Int>)> = (0..12u64)
                .map(|b| {
                    let pixels: Vec<f32> = (0..32 * 784u64)
                        .map(|i| ((i * 2_654_435_761 + b * 97) % 256) as f32 / 255.0)
                        .collect();
                    let labels: Vec<i64> = (0..32u64).map(|i| ((i * 7 + b) % 10) as i64).collect();
                    (
                        Tensor::from_data(TensorData::new(pixels, [32, 784]), &device),
                        Tensor::from_data(TensorData::new(labels, [32]), &device),
                    )
                })
                .collect();
            let train = |model: &mut Model,
                         optim: &mut burn::optim::ModuleOptimizer,
                         steps: std::ops::Range<usize>| {
                steps
                    .map(|step| {
                        let (images, targets) = batches[step].clone();
                        let loss = model.forward_classification(images, targets).loss;
                        let value = loss.clone().into_scalar::<f32>();
                        let grads = GradientsParams::from_grads(loss.backward(), &*model);
                        *model = optim.step(1e-3, model.clone(), grads);
                        value
                    })
                    .collect::<Vec<f32>>()
            };
            let mut model = ModelConfig::new().init(&device);
            let mut optim = OptimizerConfig::new().init();
            train(&mut model, &mut optim, 0..6);
            let (model_file, optim_file) =
                (dir.path().join("model.bpk"), dir.path().join("optim.bpk"));
            model.clone().into_record().save(&model_file).unwrap();
            optim.save(&optim_file).unwrap();
            let kept = train(&mut model, &mut optim, 6..12);

            let mut reloaded = ModelConfig::new()
                .init(&device)
                .load_record(ModuleRecord::load(&model_file).unwrap());
            let mut reloaded_optim = OptimizerConfig::new().init().load(&optim_file).unwrap();
            assert_eq!(
                train(&mut reloaded, &mut reloaded_optim, 6..12),
                kept,
                "{backend}"
            );
        }
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
