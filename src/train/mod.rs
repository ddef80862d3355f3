//! Training with Burn's `SupervisedTraining`, from validated data to a run folder, in steps:
//! check the folder, load the data, prepare the folder, launch Burn (`launch.rs`), finish the
//! run (`finish.rs`).

mod checkpoints;
mod dashboard;
mod denormals;
mod early_stop;
mod finetune;
mod finish;
mod fonts;
mod launch;
mod overview;
mod progress;
mod recorder;
mod step;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::backend::{Backend, BackendError};
use crate::config::TrainingConfig;
use crate::data::identity::DatasetChoice;
use crate::data::idx::LabelledImages;
use crate::data::{DataError, DataSource, IMAGE_PIXELS, Split, hold_out};
use crate::picture::font_digits::FontError;
use crate::process::output::{StdoutError, errln, outln};
use crate::process::signals::{StopSignal, StopSignals};
use crate::run::data_record::{
    DataMismatch, DataRecord, FontsChanged, RecordError, load_checked, source_for_run,
};
use crate::run::files::{self as run_files, Occupancy, RunFilesError};
use crate::run::lock::{LockError, RunLock};
use crate::run::metrics;
use crate::run::{ArtifactError, RunDir, RunStatus, Summary};

/// Why a training run did not start, or did not end with its files written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TrainError {
    /// The dataset's place could not be found (no `--data-dir`, no usual place).
    #[error(transparent)]
    Data(#[from] DataError),
    /// A split could not be read or was refused: unreadable or invalid files, another
    /// dataset's files, a resumed run's `data.json` unreadable or not matching them.
    #[error(transparent)]
    DataRecord(#[from] RecordError),
    /// A file differs from the one the run's `data.json` records.
    #[error(transparent)]
    DataMismatch(#[from] DataMismatch),
    /// `font_digits`' fonts are not installed or cannot be read.
    #[error(transparent)]
    Fonts(#[from] FontError),
    /// A resumed run's fonts differ from those `data.json` records.
    #[error(transparent)]
    FontsChanged(#[from] FontsChanged),
    /// The backend's device did not start.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// A run file could not be read or written (config, checkpoint, summary, ...).
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// The folder's contents could not be listed or cleared.
    #[error(transparent)]
    RunFiles(#[from] RunFilesError),
    /// Another process holds the run, or its lock could not be taken.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The folder holds a run, and neither `--resume` nor `--overwrite` was given.
    #[error("{}: already holds a run; --resume it, pass --overwrite to replace it, or pick another --run folder", path.display())]
    RunExists {
        /// The run folder.
        path: PathBuf,
    },
    /// The folder holds files this program did not write.
    #[error("{}: not empty and not a run of this program ({} is not one of its files); pick an empty or new --run folder", path.display(), found.display())]
    NotARun {
        /// The folder.
        path: PathBuf,
        /// An entry in it that is not a run's file.
        found: PathBuf,
    },
    /// `--resume` of a run made by `import`.
    #[error("{}: imported from PyTorch, not trained here: there is no training to resume; train a new run with --run", path.display())]
    Imported {
        /// The run folder.
        path: PathBuf,
    },
    /// `--resume` of a run that has all the epochs asked for.
    #[error("{}: {epochs} epochs are done{}; pass --epochs with more than {epochs} to train longer", run.display(), fewer_asked(*epochs, *asked))]
    AlreadyComplete {
        /// The run folder.
        run: PathBuf,
        /// The epochs it has finished.
        epochs: usize,
        /// The epochs asked for (`--epochs`, or the run's own).
        asked: usize,
    },
    /// `--resume` of a run that early stopping ended: training on would not change that.
    #[error("{}: stopped early after epoch {epochs} (no lower validation loss for {patience} epochs); there is nothing to resume", run.display())]
    StoppedEarly {
        /// The run folder.
        run: PathBuf,
        /// The epochs it has finished.
        epochs: usize,
        /// Its `early_stop_patience`.
        patience: usize,
    },
    /// `metrics.jsonl` could not be read or cut to the finished epochs.
    #[error(transparent)]
    Metrics(#[from] crate::run::metrics::MetricsError),
    /// The loss became NaN or infinite; no model was saved.
    #[error("training diverged: {divergence}; stopped before saving a model (the checkpoints of earlier epochs are in {}); try a lower --lr", run.display())]
    Diverged {
        /// Which loss, its value and the epoch.
        divergence: recorder::Divergence,
        /// The run folder.
        run: PathBuf,
    },
    /// The hold-out takes every training image (after `limit_train`).
    #[error(
        "valid_size = {requested} leaves nothing to train on: the training split has {available} images"
    )]
    ValidSize {
        /// The `valid_size` asked for.
        requested: usize,
        /// The training images there are.
        available: usize,
    },
    /// Burn refused the learning-rate schedule (see `TrainingConfig::lr_scheduler`): its message.
    #[error("{0}")]
    Schedule(String),
    /// `--finetune` names the run being trained: its model would be read while the run's
    /// folder is written (with `--overwrite`, after it was emptied).
    #[error("--finetune {}: is the run this trains (--run); fine-tune into a new run folder", path.display())]
    FinetuneItself {
        /// The run.
        path: PathBuf,
    },
    /// The run a fine-tuned run mixes images from (`finetune_mix`) is gone.
    #[error("--finetune {}: the run this one was fine-tuned from is no longer there (no run folder), and its training images are mixed in each epoch (--finetune-mix); put it back to go on", path.display())]
    ParentGone {
        /// The parent run, as config.json records it.
        path: PathBuf,
    },
    /// The `--finetune` run is being written by another process.
    #[error("--finetune {}: {holder} is writing that run; fine-tune from it once it has finished", path.display())]
    ParentBusy {
        /// The parent run.
        path: PathBuf,
        /// Who holds its lock, as the lock file says.
        holder: String,
    },
    /// A stop signal arrived while the run was prepared; nothing was written.
    #[error("{signal}: stopped before training started; nothing was written")]
    StoppedBeforeTraining {
        /// The signal.
        signal: StopSignal,
    },
    /// An epoch's line could not be printed (a full disk behind `> log`): training stopped as
    /// a stop signal stops it and the run's files were written; `next` says how to go on.
    #[error("{error}; {next}")]
    Unprinted {
        /// The failed write.
        error: StdoutError,
        /// Where the run stands and the command that continues it.
        next: String,
    },
    /// Standard output could not be written before training started; nothing was written.
    #[error(transparent)]
    Output(#[from] StdoutError),
    /// Training or keeping its result failed; `summary.json` says `failed`.
    #[error("training failed (run folder: {})", run.display())]
    Failed {
        /// What failed.
        #[source]
        cause: launch::Crash,
        /// The run folder.
        run: PathBuf,
    },
}

impl TrainError {
    /// [`TrainError::Unprinted`] for a run whose files are written as `summary` says.
    fn unprinted(error: StdoutError, summary: &Summary, run: &RunDir) -> Self {
        let resume = crate::run::resume_command(run.root(), summary.backend);
        let next = match (summary.status, summary.epochs_completed) {
            (RunStatus::Interrupted, 0) => {
                format!("training stopped in epoch 1; start it again with: {resume}")
            }
            (RunStatus::Interrupted, done) => {
                format!("training stopped after epoch {done}; continue with: {resume}")
            }
            _ => format!("the run ended; its files are in {}", run.root().display()),
        };
        Self::Unprinted { error, next }
    }
}

/// `, more than the 10 asked for` when fewer epochs were asked for than are done.
fn fewer_asked(done: usize, asked: usize) -> String {
    if asked < done {
        format!(", more than the {asked} asked for")
    } else {
        String::new()
    }
}

/// What to do with a run folder that already holds files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Existing {
    /// Refuse to touch it.
    Refuse,
    /// Delete the run in it (and only a run) and start afresh.
    Overwrite,
    /// Continue it from its last complete epoch.
    Resume,
}

/// What to train, on which backend, from which data, into which folder.
#[derive(Debug, Clone)]
pub(crate) struct TrainRequest {
    /// The validated config (for `--resume`, the run's own with `--epochs` and
    /// `--num-workers` laid over).
    pub config: TrainingConfig,
    /// The backend training runs on.
    pub backend: Backend,
    /// `--data-dir`; without it a new run reads the dataset's usual place and a resumed run the
    /// place it recorded.
    pub data_dir: Option<PathBuf>,
    /// The run folder.
    pub run: RunDir,
    /// What to do when the folder already holds a run.
    pub existing: Existing,
    /// The process's stop signals: the first one stops training after the current step.
    pub signals: StopSignals,
    /// Burn's dashboard (on a terminal) rather than one printed line per epoch.
    pub dashboard: bool,
}

/// The images of a run, validated, and the record of where they came from.
struct RunData {
    /// `data.json`: the dataset, the source and each file's fingerprint.
    record: DataRecord,
    /// Where the images were read from, in words (for `summary.json`).
    description: String,
    /// The images trained on (cut by `limit_train`, a fine-tuned run's parent's mixed in,
    /// hold-out removed).
    train: Arc<LabelledImages>,
    /// How many of the images before the hold-out are the parent's (`finetune_mix`).
    mixed_in: usize,
    /// How many of the training images, after the others, are digits drawn in fonts
    /// (`font_digits`).
    font_digits: usize,
    /// Letters and symbols drawn in fonts, outliers for Outlier Exposure (`font_outliers`),
    /// 784 bytes each.
    font_outliers: Arc<Vec<[u8; IMAGE_PIXELS]>>,
    /// The images validated on each epoch: the hold-out, or the test images when
    /// `valid_size` is 0.
    valid: Arc<LabelledImages>,
    /// The test images (cut by `limit_test`).
    test: Arc<LabelledImages>,
}

/// Trains, saves the final model, evaluates it on the test split and writes `summary.json`.
/// An interrupted or early-stopped run is a summary too, not an error.
///
/// # Errors
/// Before anything is written: the folder is refused or locked, the data cannot be read or
/// differs from a resumed run's, the backend or the schedule fails, or a stop signal arrived
/// ([`TrainError::StoppedBeforeTraining`]). After: the loss diverged, training or saving failed
/// ([`TrainError::Failed`], `summary.json` then says so).
pub(crate) fn train(request: TrainRequest) -> Result<Summary, TrainError> {
    let started = Instant::now();
    // A signal from here on is remembered: the run stops before it starts, or after its first
    // step once its folder is written.
    request.signals.preparing();
    finetune::refuse_finetuning_itself(&request)?;
    // Held until the run's files are all written: no second process writes this run.
    let _lock = lock_run_folder(&request)?;
    // Everything that can be refused is checked before the run folder is touched.
    let done_epochs = check_run_folder(&request)?;
    let data = load_data(&request)?;
    let config = &request.config;
    let scheduler = config
        .lr_scheduler(data.train.len())
        .map_err(TrainError::Schedule)?;
    let device = request.backend.device()?;
    if done_epochs > 0 {
        // Burn loads the checkpoint into the model with a panic when its tensors are of other
        // shapes (a file copied in from another run): here it is an error naming the file.
        request.run.checkpoint_model(config, done_epochs, &device)?;
    }
    let parent = finetune::parent_model(&request, &device, done_epochs)?;
    let adapter = crate::backend::adapter_name(&device);
    if let Some(signal) = request.signals.stopped_by() {
        return Err(TrainError::StoppedBeforeTraining { signal });
    }
    // Printed before the dashboard takes the screen, and before anything is written.
    outln!(
        "{}",
        overview::overview(&request, &data, adapter.as_deref(), done_epochs)
    )?;
    if let Some(adapter) = &adapter {
        errln!(
            "{} on {adapter}: the first epoch compiles and tunes GPU kernels (up to a minute the first time; cached for later runs)",
            request.backend
        );
    }
    prepare_run_folder(&request, &data, done_epochs)?;
    let outcome = launch::fit(&request, &data, &device, scheduler, done_epochs, parent);
    // From here on the run's files are written; a signal must not cut that short.
    request.signals.finishing();
    finish::finish(&request, &data, outcome, &device, started)
}

/// Locks the run folder for this process. A folder that is not a run's (or, for `--resume`, a
/// missing one) is refused first, so that no lock file lands in it.
fn lock_run_folder(request: &TrainRequest) -> Result<RunLock, TrainError> {
    let root = request.run.root();
    if request.existing == Existing::Resume {
        RunDir::existing(root)?;
    } else if let Occupancy::Foreign(found) = run_files::occupancy(root)? {
        return Err(TrainError::NotARun {
            path: root.to_path_buf(),
            found,
        });
    }
    Ok(RunLock::acquire(root, "train")?)
}

/// The epochs a resumed run already has (0 for a new run), or why the folder cannot be used.
fn check_run_folder(request: &TrainRequest) -> Result<usize, TrainError> {
    let root = request.run.root();
    if request.existing == Existing::Resume {
        if request.run.is_imported()? {
            return Err(TrainError::Imported {
                path: root.to_path_buf(),
            });
        }
        let done = request.run.last_complete_epoch()?;
        if done >= request.config.num_epochs {
            return Err(TrainError::AlreadyComplete {
                run: root.to_path_buf(),
                epochs: done,
                asked: request.config.num_epochs,
            });
        }
        if let Some(patience) = request.config.early_stop_patience {
            let finished = metrics::read_complete(&request.run.metrics())?;
            if metrics::stalled(&finished[..done.min(finished.len())], patience) {
                return Err(TrainError::StoppedEarly {
                    run: root.to_path_buf(),
                    epochs: done,
                    patience,
                });
            }
        }
        if done > 0 {
            request.run.check_checkpoint(done)?;
        }
        return Ok(done);
    }
    match (run_files::occupancy(root)?, request.existing) {
        (Occupancy::Free, _) => Ok(0),
        (Occupancy::Foreign(found), _) => Err(TrainError::NotARun {
            path: root.to_path_buf(),
            found,
        }),
        (Occupancy::Run, Existing::Refuse) => Err(TrainError::RunExists {
            path: root.to_path_buf(),
        }),
        (Occupancy::Run, _) => Ok(0),
    }
}

/// Reads and checks both splits (against the run's record when resuming) and cuts them into
/// training, validation and test images.
fn load_data(request: &TrainRequest) -> Result<RunData, TrainError> {
    let config = &request.config;
    let (source, recorded, choice) = match request.existing {
        Existing::Resume => {
            let (source, recorded) =
                source_for_run(&request.run, config.dataset, request.data_dir.clone())?;
            (source, recorded, DatasetChoice::Run)
        }
        _ => (
            DataSource::resolve(config.dataset, request.data_dir.clone())?,
            None,
            DatasetChoice::Flag,
        ),
    };
    let recorded = recorded.as_ref();
    let dataset = (config.dataset, choice);
    let load = |split| load_checked(&request.run, dataset, &source, recorded, split);
    let (train_all, train_prints) = load(Split::Train)?;
    let (test_all, test_prints) = load(Split::Test)?;
    let prints: Vec<_> = train_prints.into_iter().chain(test_prints).collect();
    let own = train_all.limited(config.limit_train);
    let own_count = own.len();
    let train_all = finetune::with_parent_images(config, own)?;
    let mixed_in = train_all.len() - own_count;
    let test = Arc::new(test_all.limited(config.limit_test));
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
    // After the hold-out: the held-out images stay the dataset's own, as `calibrate` and
    // `eval` read them.
    let drawn = fonts::drawn_in_fonts(request, recorded)?;
    let font_digits = drawn.digits.as_ref().map_or(0, LabelledImages::len);
    let train = match &drawn.digits {
        Some(digits) => Arc::new(train.followed_by(digits)),
        None => train,
    };
    Ok(RunData {
        record: DataRecord::new(config.dataset, &source, prints).with_fonts(&drawn.prints),
        description: source.describe(),
        train,
        mixed_in,
        font_digits,
        font_outliers: Arc::new(drawn.outliers),
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
