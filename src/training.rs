//! Training with Burn's `SupervisedTraining`, from validated data to a run folder.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
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
use crate::data_record::{DataMismatch, DataRecord, RecordError, source_for_run};
use crate::idx::LabelledImages;
use crate::inference::evaluate;
use crate::interrupt::stop_on_ctrl_c;
use crate::loader::EpochLoader;
use crate::metrics::{self, EpochMetrics};
use crate::model::Model;
use crate::optimizer::lr_scheduler;
use crate::renderer::{EpochRenderer, Halt, HaltSlot};
use crate::run_files::{self, RunFilesError};

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
    DataRecord(#[from] RecordError),
    #[error(transparent)]
    DataMismatch(#[from] DataMismatch),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error(transparent)]
    RunFiles(#[from] RunFilesError),
    #[error("{}: already holds a run; --resume it, pass --overwrite to replace it, or pick another --artifacts folder", path.display())]
    RunExists { path: PathBuf },
    #[error("{}: not empty and not a run of this program ({} is not one of its files); pick an empty or new --artifacts folder", path.display(), found.display())]
    NotARun { path: PathBuf, found: PathBuf },
    #[error("{}: all {epochs} epochs are done; pass --epochs with more to train longer", run.display())]
    AlreadyComplete { run: PathBuf, epochs: usize },
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
    #[error("training diverged: {reason}; stopped before saving a model (the checkpoints of earlier epochs are in {}); try a lower --lr", run.display())]
    Diverged { reason: String, run: PathBuf },
    #[error(
        "valid_size = {requested} leaves nothing to train on: the training split has {available} images"
    )]
    ValidSize { requested: usize, available: usize },
    #[error("{0}")]
    Schedule(String),
    #[error("training failed: {reason} (run folder: {})", run.display())]
    Failed { reason: String, run: PathBuf },
}

/// What to do with a run folder that already holds files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Refuse to touch it.
    Refuse,
    /// Delete the run in it (and only a run) and start afresh.
    Overwrite,
    /// Continue it from its last complete epoch.
    Resume,
}

/// What to train, on which backend, from which data, into which folder.
#[derive(Debug, Clone)]
pub struct TrainRequest {
    pub config: TrainingConfig,
    pub backend: Backend,
    /// `--data-dir`; without it a new run reads the dataset's usual place and a resumed run the
    /// place it recorded.
    pub data_dir: Option<PathBuf>,
    pub run: RunDir,
    pub existing: Existing,
}

/// The images of a run, validated, and the record of where they came from.
struct RunData {
    record: DataRecord,
    description: String,
    train: Arc<LabelledImages>,
    valid: Arc<LabelledImages>,
    test: Arc<LabelledImages>,
}

/// How Burn's training loop ended.
struct Outcome {
    /// `None` when Burn panicked.
    model: Option<Model>,
    /// Stopped by Ctrl-C or the dashboard (as far as Burn still knows, see `finish`).
    interrupted: bool,
    /// The error Burn stopped on (a checkpoint that could not be written, a failed loader).
    error: Option<String>,
    /// Why the epoch recorder stopped it.
    halt: Option<Halt>,
}

/// Trains, saves the final model, evaluates it on the test split and writes `summary.json`.
pub fn train(request: TrainRequest) -> Result<Summary, TrainError> {
    let started = Instant::now();
    // Everything that can be refused is checked before the run folder is touched.
    let done_epochs = check_run_folder(&request)?;
    let data = load_data(&request)?;
    let config = &request.config;
    let steps = config
        .num_epochs
        .saturating_mul(data.train.len().div_ceil(config.batch_size));
    let scheduler = lr_scheduler(config.lr_schedule, config.learning_rate, steps)
        .map_err(TrainError::Schedule)?;
    let device = request.backend.device()?;

    prepare_run_folder(&request, &data, done_epochs)?;
    let outcome = run_training(&request, &data, &device, scheduler, done_epochs);
    // From here on the run's files are written; Ctrl-C must not cut that short.
    crate::interrupt::finishing();
    finish(&request, &data, outcome, &device, started)
}

/// The epochs a resumed run already has (0 for a new run), or why the folder cannot be used.
fn check_run_folder(request: &TrainRequest) -> Result<usize, TrainError> {
    let root = request.run.root();
    if request.existing == Existing::Resume {
        let done = request.run.last_complete_epoch()?;
        if done >= request.config.num_epochs {
            return Err(TrainError::AlreadyComplete {
                run: root.to_path_buf(),
                epochs: done,
            });
        }
        if done > 0 {
            request.run.check_checkpoint(done)?;
        }
        return Ok(done);
    }
    if !run_files::is_occupied(root) {
        return Ok(0);
    }
    if let Some(found) = run_files::first_foreign(root)? {
        return Err(TrainError::NotARun {
            path: root.to_path_buf(),
            found,
        });
    }
    match request.existing {
        Existing::Refuse => Err(TrainError::RunExists {
            path: root.to_path_buf(),
        }),
        _ => Ok(0),
    }
}

/// Reads and checks both splits (against the run's record when resuming) and cuts them into
/// training, validation and test images.
fn load_data(request: &TrainRequest) -> Result<RunData, TrainError> {
    let config = &request.config;
    let (source, recorded) = match request.existing {
        Existing::Resume => source_for_run(&request.run, config.dataset, request.data_dir.clone())?,
        _ => (
            DataSource::resolve(config.dataset, request.data_dir.clone())?,
            None,
        ),
    };
    let (train_all, train_prints) = source.load_fingerprinted(Split::Train)?;
    let (test_all, test_prints) = source.load_fingerprinted(Split::Test)?;
    let prints: Vec<_> = train_prints.into_iter().chain(test_prints).collect();
    if let Some(recorded) = &recorded {
        recorded.check(&request.run, &source, &prints)?;
    }
    let train_all = limited(train_all, config.limit_train);
    let test = Arc::new(limited(test_all, config.limit_test));
    // Validation: a seeded hold-out of the training images, or (the tutorial's way) the test
    // split itself.
    let (train, valid) = if config.valid_size == 0 {
        (Arc::new(train_all), Arc::clone(&test))
    } else if config.valid_size >= train_all.len() {
        return Err(TrainError::ValidSize {
            requested: config.valid_size,
            available: train_all.len(),
        });
    } else {
        let (train, valid) = hold_out(&train_all, config.valid_size, config.seed);
        (Arc::new(train), Arc::new(valid))
    };
    Ok(RunData {
        record: DataRecord::new(config.dataset, &source, prints),
        description: source.describe(),
        train,
        valid,
        test,
    })
}

/// Clears a run being overwritten, then writes the config and data record; a resumed run forgets
/// the epoch that was cut short.
fn prepare_run_folder(
    request: &TrainRequest,
    data: &RunData,
    done_epochs: usize,
) -> Result<(), TrainError> {
    let run = &request.run;
    if request.existing == Existing::Overwrite {
        run_files::clear(run.root())?;
    }
    run.create()?;
    run.save_config(&request.config)?;
    run.save_data_record(&data.record)?;
    metrics::keep_first(&run.metrics(), done_epochs)?;
    Ok(())
}

/// Configures Burn's `SupervisedTraining` (loaders, metrics, checkpoints, early stopping,
/// dashboard, Ctrl-C) and runs it.
fn run_training(
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
    let halt = HaltSlot::default();
    stop_on_ctrl_c(training.interrupter());
    let renderer = EpochRenderer::new(
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

/// Decides the run's status from the epochs on disk, saves the model (unless the run failed),
/// tests it, and writes `summary.json` and the curves.
fn finish(
    request: &TrainRequest,
    data: &RunData,
    outcome: Outcome,
    device: &Device,
    started: Instant,
) -> Result<Summary, TrainError> {
    let (config, run) = (&request.config, &request.run);
    // An epoch is finished once its checkpoint is on disk as well as its metrics line: a stop
    // or a failed checkpoint can fall between the two.
    let finished = run.last_complete_epoch()?;
    metrics::keep_first(&run.metrics(), finished)?;
    let epochs = metrics::read_all(&run.metrics())?;
    let Some(model) = outcome.model else {
        // Nothing trustworthy to save or test; the finished epochs can be resumed.
        return Err(TrainError::Failed {
            reason: outcome.error.unwrap_or_default(),
            run: run.root().to_path_buf(),
        });
    };

    let failure = match &outcome.halt {
        Some(Halt::Diverged(_)) => None,
        Some(Halt::Unrecorded(reason)) => Some(reason.clone()),
        None => outcome.error.clone(),
    };
    let diverged = matches!(outcome.halt, Some(Halt::Diverged(_)));
    // Burn's TUI resets the interrupter when training ends, so after a stop from the
    // dashboard `interrupted` is false: the epochs actually finished tell the truth.
    let mut status = if failure.is_some() || diverged {
        RunStatus::Failed
    } else if epochs.len() >= config.num_epochs {
        RunStatus::Completed
    } else if !outcome.interrupted && stopped_early(&epochs, config.early_stop_patience) {
        RunStatus::EarlyStopped
    } else {
        RunStatus::Interrupted
    };
    let parameters = model.num_params();
    let test = evaluate(&model, &data.test, device, config.loss);
    // A failed run's model is not worth keeping; its earlier epochs' checkpoints are.
    let mut problems: Vec<String> = failure.into_iter().collect();
    if status != RunStatus::Failed
        && let Err(error) = run.save_model(model)
    {
        status = RunStatus::Failed;
        problems.push(error.to_string());
    }
    let summary = Summary {
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
    };
    if let Err(error) = run.write_summary(&summary) {
        problems.push(error.to_string());
    }
    // The curves are a convenience: failing to draw them must not lose a trained run.
    if problems.is_empty()
        && let Err(error) = crate::plots::training_curves(&epochs, &run.curves_png())
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
        return Err(TrainError::Failed {
            reason: problems.join("; then "),
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
