//! Training with Burn's `SupervisedTraining`, from validated data to a run folder.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use burn::data::dataloader::DataLoaderBuilder;
use burn::prelude::*;
use burn::train::metric::{AccuracyMetric, LossMetric};
use burn::train::renderer::default_renderer;
use burn::train::{
    ClassificationOutput, InferenceStep, Learner, LearningResult, SupervisedTraining, TrainOutput,
    TrainStep,
};

use crate::artifacts::{ArtifactError, RunDir, RunStatus, Summary, Versions};
use crate::backend::{Backend, BackendError};
use crate::config::TrainingConfig;
use crate::data::{DataError, DataSource, DigitBatch, DigitBatcher, Split};
use crate::idx::LabelledImages;
use crate::inference::evaluate;
use crate::metrics;
use crate::model::Model;
use crate::renderer::EpochRenderer;

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
    #[error("{}: already exists and is not empty; pick another --artifacts folder", path.display())]
    RunExists { path: std::path::PathBuf },
    #[error("training failed: {reason} (run folder: {})", run.display())]
    Failed {
        reason: String,
        run: std::path::PathBuf,
    },
}

/// What to train, on which backend, from which data, into which folder.
#[derive(Debug, Clone)]
pub struct TrainRequest {
    pub config: TrainingConfig,
    pub backend: Backend,
    pub data: DataSource,
    pub run: RunDir,
}

/// Trains, saves the final model, evaluates it on the test split and writes `summary.json`.
pub fn train(request: TrainRequest) -> Result<Summary, TrainError> {
    let started = Instant::now();
    let TrainRequest {
        config,
        backend,
        data,
        run,
    } = request;

    // Everything that can be refused is checked before the run folder is touched.
    if run.root().read_dir().is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(TrainError::RunExists {
            path: run.root().to_path_buf(),
        });
    }
    let train_images = limited(data.load(Split::Train)?, config.limit_train);
    let test_images = limited(data.load(Split::Test)?, config.limit_test);
    let device = backend.device()?;

    run.create()?;
    run.save_config(&config)?;

    device.seed(config.seed);
    let loader = |shuffle: bool| {
        let builder = DataLoaderBuilder::new(DigitBatcher)
            .batch_size(config.batch_size)
            .num_workers(config.num_workers)
            .set_device(device.clone());
        if shuffle { builder.shuffle(config.seed) } else { builder }
    };
    // The tutorial validates on the test split, unshuffled; so does this trainer by default.
    let loader_train = loader(true).build(Arc::clone(&train_images));
    let loader_valid = loader(false).build(Arc::clone(&test_images));

    let training = SupervisedTraining::new(run.root(), loader_train, loader_valid)
        .metrics((AccuracyMetric::new(), LossMetric::new()))
        .with_default_checkpointers()
        .num_epochs(config.num_epochs);
    let dashboard = std::io::stdout()
        .is_terminal()
        .then(|| default_renderer(training.interrupter(), None));
    let training = training.renderer(Box::new(EpochRenderer::new(dashboard, run.metrics())));

    let model = config.model.init(&device.clone().autodiff());
    let LearningResult {
        model,
        renderer,
        interrupted,
        error,
    } = training.launch(Learner::new(model, config.optimizer.init(), config.learning_rate));
    // The dashboard leaves the terminal's alternate screen only when dropped; anything printed
    // before that would vanish with it.
    drop(renderer);

    let parameters = model.num_params();
    let test = evaluate(&model, &test_images, &device);
    run.save_model(model)?;

    let epochs = metrics::read_all(&run.metrics()).unwrap_or_default();
    // Burn's TUI resets the interrupter when training ends, so after a stop from the
    // dashboard `interrupted` is empty: the epochs actually finished tell the truth.
    let status = if error.is_some() {
        RunStatus::Failed
    } else if interrupted.is_some() || epochs.len() < config.num_epochs {
        RunStatus::Interrupted
    } else {
        RunStatus::Completed
    };
    let summary = Summary {
        status,
        backend,
        epochs_completed: epochs.len(),
        test_accuracy: test.accuracy,
        test_loss: test.loss,
        test_images: test.images,
        train_images: train_images.len(),
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
    if let Some(error) = error {
        return Err(TrainError::Failed {
            reason: error.to_string(),
            run: run.root().to_path_buf(),
        });
    }
    Ok(summary)
}

/// The split, cut to the config's limit, shared by its data loader and the final evaluation.
fn limited(images: LabelledImages, limit: Option<usize>) -> Arc<LabelledImages> {
    Arc::new(match limit {
        Some(count) => images.truncated(count),
        None => images,
    })
}
