//! The layout of a run folder, `artifacts/<run>/`, and reading and writing its files.

use std::path::{Path, PathBuf};

use burn::optim::OptimizerRecord;
use burn::optim::lr_scheduler::LrSchedulerRecord;
use burn::prelude::*;
use burn::store::ModuleRecord;

use crate::config::{ConfigError, TrainingConfig};
use crate::model::Model;
use crate::model::memory::MemoryError;
use crate::run::data_record::DataRecord;
use crate::run::files::read_if_present;
use crate::run::metrics::MetricsError;
use crate::run::{RecordedStatus, StatusField};

/// A run folder, `artifacts/<run>/`: the paths of its files, and reading and writing them.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The folder itself.
    root: PathBuf,
}

/// Why a run folder's file could not be read, written or used.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The folder given does not exist (or is not a folder).
    #[error("{}: no such run folder (train first, or pass the folder a run printed)", path.display())]
    NoRun { path: PathBuf },
    /// The folder given exists but holds no run (no `config.json`).
    #[error("{}: not a run folder (it has no config.json); pass the folder a run printed", path.display())]
    NotARun { path: PathBuf },
    /// `--run` was left out and `artifacts/` holds no run (no subfolder with a
    /// `config.json`).
    #[error("{}: holds no run yet; train one first, or pass --run with a run's folder", path.display())]
    NoRuns { path: PathBuf },
    /// Reading or writing `path` failed.
    #[error("{}: {cause}", path.display())]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// The run's `config.json` is missing, unreadable or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The run's model would not fit in memory.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// The run has no `model.bpk`; `why` says why (from its summary and lock) and what to run.
    #[error("{}: no model: {why}", path.display())]
    NoModel { path: PathBuf, why: String },
    /// `--epoch` names an epoch whose checkpoint the run does not keep; `why` lists those it
    /// keeps, or says an imported run has none.
    #[error("{}: no model of epoch {epoch} is kept ({why})", path.display())]
    NoEpoch {
        path: PathBuf,
        epoch: usize,
        why: String,
    },
    /// A model file (`model.bpk` or a checkpoint's) is not a readable Burn record.
    #[error("{}: not a readable model record: {reason}", path.display())]
    Record { path: PathBuf, reason: String },
    /// One of the checkpoint files a resume needs is not readable.
    #[error("{}: not a readable checkpoint ({reason}); resuming needs it whole", path.display())]
    Checkpoint { path: PathBuf, reason: String },
    /// `model.bpk` could not be written.
    #[error("{}: cannot save the model: {reason}", path.display())]
    SaveModel { path: PathBuf, reason: String },
    /// A JSON file of the run (`data.json`) does not parse.
    #[error("{}: damaged: {cause}", path.display())]
    Damaged {
        path: PathBuf,
        cause: serde_json::Error,
    },
    /// `calibration.json`'s temperature is not one `calibrate` could have fitted.
    #[error("{}: temperature {} is not between 0.05 and 20, as calibrate fits them; run calibrate again", path.display(), shown(*value))]
    Temperature { path: PathBuf, value: f64 },
    /// `calibration.json`'s threshold for "not a digit" is not a probability.
    #[error("{}: not_a_digit_below {} is not a probability (0 to 1), as calibrate chooses them; run calibrate again", path.display(), shown(*value))]
    Threshold { path: PathBuf, value: f64 },
    /// `calibration.json`'s bound for the steadiness test is not one `calibrate` could choose.
    #[error("{}: unsure_below {} is not a probability (0 to 1), as calibrate chooses it; run calibrate again", path.display(), shown(*value))]
    UnsureBound { path: PathBuf, value: f64 },
    /// `calibration.json` holds one of the top-probability map's two numbers without the other.
    #[error("{}: confidence_slope and confidence_offset go together, and it holds only one of them; run calibrate again", path.display())]
    HalfConfidenceMap { path: PathBuf },
    /// `calibration.json`'s top-probability map is not one `calibrate` could fit.
    #[error("{}: confidence_slope {} and confidence_offset {} are not a map calibrate fits (slope 0.05 to 20, offset at most 20 and high enough to keep the classes' order); run calibrate again", path.display(), shown(*slope), shown(*offset))]
    ConfidenceMap {
        path: PathBuf,
        slope: f64,
        offset: f64,
    },
    /// A model record's tensors do not fit the network `config.json` describes.
    #[error("{}: does not fit the model in {}: {reason}", record.display(), config.display())]
    Mismatch {
        record: PathBuf,
        config: PathBuf,
        reason: String,
    },
}

/// `value` as a line of text can hold it: as written for everyday sizes, in exponent form
/// beyond (1e308 in full is 309 digits).
fn shown(value: f64) -> String {
    if value == 0.0 || (1e-4..1e6).contains(&value.abs()) {
        value.to_string()
    } else {
        format!("{value:e}")
    }
}

impl RunDir {
    /// The run folder `root`, whether or not it exists yet.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// A run folder that must already exist, for commands that read a finished run.
    ///
    /// Errors: [`ArtifactError::NoRun`] when `root` is not a folder, [`ArtifactError::NotARun`]
    /// when it has no `config.json`.
    pub fn existing(root: impl Into<PathBuf>) -> Result<Self, ArtifactError> {
        let run = Self::new(root);
        if !run.root.is_dir() {
            return Err(ArtifactError::NoRun { path: run.root });
        }
        if !run.config().exists() {
            return Err(ArtifactError::NotARun { path: run.root });
        }
        Ok(run)
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// `config.json`: the [`TrainingConfig`] of the run.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.json")
    }
    /// `model.bpk`: the record of the model its last finished epoch left, in Burn's burnpack
    /// format.
    pub fn model(&self) -> PathBuf {
        self.root.join("model.bpk")
    }
    /// `data.json`: the [`DataRecord`] of the files the run read.
    pub fn data_record(&self) -> PathBuf {
        self.root.join("data.json")
    }
    /// `metrics.jsonl`: one line of metrics per finished epoch.
    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.jsonl")
    }
    /// `summary.json`: how the run ended and its test score (or an import's summary).
    pub fn summary(&self) -> PathBuf {
        self.root.join("summary.json")
    }
    /// `curves.png`: the loss and accuracy curves, epoch by epoch.
    pub fn curves_png(&self) -> PathBuf {
        self.root.join("curves.png")
    }
    /// `eval.json`: `eval`'s per-class scores, confusion matrix and worst mistakes.
    pub fn eval_json(&self) -> PathBuf {
        self.root.join("eval.json")
    }
    /// `confusion.png`: `eval`'s confusion matrix as a picture.
    pub fn confusion_png(&self) -> PathBuf {
        self.root.join("confusion.png")
    }
    /// `calibration.png`: `eval`'s reliability diagram.
    pub fn calibration_png(&self) -> PathBuf {
        self.root.join("calibration.png")
    }

    /// `misclassified.png`: `eval`'s grid of misclassified test images.
    pub fn misclassified_png(&self) -> PathBuf {
        self.root.join("misclassified.png")
    }

    /// Burn's checkpoint file of `kind` (model, optim, scheduler) for `epoch`.
    pub(super) fn checkpoint_file(&self, kind: &str, epoch: usize) -> PathBuf {
        self.root
            .join("checkpoint")
            .join(format!("{kind}-{epoch}.bpk"))
    }

    /// The epochs of which `checkpoint/` holds any file, in order (none without the folder).
    pub fn checkpoint_epochs(&self) -> Vec<usize> {
        let Ok(entries) = std::fs::read_dir(self.root.join("checkpoint")) else {
            return Vec::new();
        };
        let mut epochs: Vec<usize> = entries
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().into_string().ok()?;
                let (_, epoch) = name.strip_suffix(".bpk")?.rsplit_once('-')?;
                epoch.parse().ok()
            })
            .collect();
        epochs.sort_unstable();
        epochs.dedup();
        epochs
    }

    /// Whether Burn's checkpointer left all three files of `epoch` (model, optimizer, scheduler).
    pub fn has_checkpoint(&self, epoch: usize) -> bool {
        ["model", "optim", "scheduler"]
            .iter()
            .all(|kind| self.checkpoint_file(kind, epoch).is_file())
    }

    /// Reads the three checkpoint files of `epoch` the way Burn will when resuming, which
    /// panics on a damaged one: here it is an error naming the file.
    ///
    /// Errors: [`ArtifactError::Checkpoint`] for the first of the three that cannot be read.
    pub fn check_checkpoint(&self, epoch: usize) -> Result<(), ArtifactError> {
        let unreadable = |path: PathBuf| {
            move |error: burn::store::RecordError| ArtifactError::Checkpoint {
                path,
                reason: error.to_string(),
            }
        };
        let model = self.checkpoint_file("model", epoch);
        ModuleRecord::load(&model).map_err(unreadable(model))?;
        let optim = self.checkpoint_file("optim", epoch);
        OptimizerRecord::load(&optim).map_err(unreadable(optim))?;
        let scheduler = self.checkpoint_file("scheduler", epoch);
        LrSchedulerRecord::load(&scheduler).map_err(unreadable(scheduler))?;
        Ok(())
    }

    /// The last epoch a resumed run can start after: its metrics line and its checkpoint are
    /// both on disk (a kill can land between writing one and the other); 0 when none is.
    ///
    /// Errors: `metrics.jsonl` unreadable or damaged (see [`crate::run::metrics::read_complete`]).
    pub fn last_complete_epoch(&self) -> Result<usize, MetricsError> {
        let mut epoch = crate::run::metrics::read_complete(&self.metrics())?.len();
        while epoch > 0 && !self.has_checkpoint(epoch) {
            epoch -= 1;
        }
        Ok(epoch)
    }

    /// Creates the folder and its missing parents.
    ///
    /// Errors: [`ArtifactError::Io`] when it cannot be created.
    pub fn create(&self) -> Result<(), ArtifactError> {
        std::fs::create_dir_all(&self.root).map_err(|source| self.io(&self.root, source))
    }

    /// Writes `contents` under a temporary name and renames it, so a crash never leaves a
    /// half-written file under the real name.
    ///
    /// Errors: [`ArtifactError::Io`] when writing or renaming fails; `path` keeps its old
    /// contents.
    pub fn write_atomically(&self, path: &Path, contents: &str) -> Result<(), ArtifactError> {
        crate::fs::atomic_file::write(path, contents).map_err(|source| self.io(path, source))
    }

    /// Writes `config` as the run's `config.json`, every field.
    ///
    /// Errors: [`ArtifactError::Io`] when it cannot be written.
    pub fn save_config(&self, config: &TrainingConfig) -> Result<(), ArtifactError> {
        self.write_atomically(&self.config(), &config.to_json())
    }

    /// `config.json` of a model that was not trained here (imported): only the model and the
    /// dataset whose classes it gives. Training fields would be invented; reading the file back
    /// gives them the tutorial's values, as for any partial config.
    ///
    /// Errors: [`ArtifactError::Io`] when it cannot be written.
    pub fn save_model_config(&self, config: &TrainingConfig) -> Result<(), ArtifactError> {
        let json = serde_json::json!({ "model": config.model, "dataset": config.dataset });
        let text = serde_json::to_string_pretty(&json).expect("a model config serializes");
        self.write_atomically(&self.config(), &text)
    }

    /// Reads and validates the run's `config.json`.
    ///
    /// Errors: [`ArtifactError::Config`] when it is missing, unreadable or invalid.
    pub fn load_config(&self) -> Result<TrainingConfig, ArtifactError> {
        Ok(TrainingConfig::load_file(&self.config())?)
    }

    /// Writes `model`'s record as the run's `model.bpk`, and removes `calibration.json`: its
    /// temperature was fitted for the model this one replaces.
    ///
    /// Errors: [`ArtifactError::SaveModel`] when Burn cannot write it, [`ArtifactError::Io`]
    /// when the old calibration cannot be removed.
    pub fn save_model(&self, model: Model) -> Result<(), ArtifactError> {
        // A temperature fitted for the model this one replaces (a resumed run) means nothing.
        let calibration = self.calibration_json();
        if calibration.exists() {
            std::fs::remove_file(&calibration).map_err(|source| self.io(&calibration, source))?;
        }
        let path = self.model();
        // Burnpack writes through a scratch file and renames it: already atomic.
        model
            .into_record()
            .save(&path)
            .map_err(|error| ArtifactError::SaveModel {
                path: path.clone(),
                reason: error.to_string(),
            })
    }

    /// Writes `record` as the run's `data.json`.
    ///
    /// Errors: [`ArtifactError::Io`] when it cannot be written.
    pub fn save_data_record(&self, record: &DataRecord) -> Result<(), ArtifactError> {
        // A path that is not UTF-8 cannot be written as JSON: an error, never a panic.
        let json = serde_json::to_string_pretty(record).map_err(|error| {
            self.io(
                &self.data_record(),
                std::io::Error::new(std::io::ErrorKind::InvalidData, error),
            )
        })?;
        self.write_atomically(&self.data_record(), &json)
    }

    /// The run's data record; `None` for runs made before runs recorded their data.
    ///
    /// Errors: [`ArtifactError::Io`] when `data.json` exists but cannot be read;
    /// [`ArtifactError::Damaged`] when it does not parse.
    pub fn load_data_record(&self) -> Result<Option<DataRecord>, ArtifactError> {
        let path = self.data_record();
        let Some(text) = read_if_present(&path).map_err(|source| self.io(&path, source))? else {
            return Ok(None);
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| ArtifactError::Damaged {
                path,
                cause: source,
            })
    }

    /// The run's config and its trained model, on `device` (any backend, whichever trained it).
    ///
    /// A run's summary, or an imported model's, written as `summary.json`.
    ///
    /// Errors: [`ArtifactError::Io`] when it cannot be written.
    pub fn write_summary(&self, summary: &impl serde::Serialize) -> Result<(), ArtifactError> {
        let json = serde_json::to_string_pretty(summary).expect("summary serializes");
        self.write_atomically(&self.summary(), &json)
    }

    /// Whether the folder's model was imported (its summary says so) rather than trained here.
    ///
    /// Errors: as [`RunDir::recorded_status`].
    pub fn is_imported(&self) -> Result<bool, ArtifactError> {
        Ok(matches!(
            self.recorded_status()?,
            Some(RecordedStatus::Imported(_))
        ))
    }

    /// The status `summary.json` records; `None` when there is none or it is damaged.
    ///
    /// Errors: [`ArtifactError::Io`] when it exists but cannot be read.
    pub fn recorded_status(&self) -> Result<Option<RecordedStatus>, ArtifactError> {
        let path = self.summary();
        let text = read_if_present(&path).map_err(|source| self.io(&path, source))?;
        let status = |text: String| serde_json::from_str::<StatusField>(&text).ok();
        Ok(text.and_then(status).map(|field| field.status))
    }

    /// `summary.json` as JSON, whichever kind (trained or imported); `None` when there is none
    /// or it is damaged (a resumed run rewrites it, so neither is a reason to refuse).
    ///
    /// Errors: [`ArtifactError::Io`] when it exists but cannot be read.
    pub fn summary_json(&self) -> Result<Option<serde_json::Value>, ArtifactError> {
        let path = self.summary();
        let text = read_if_present(&path).map_err(|source| self.io(&path, source))?;
        Ok(text.and_then(|text| serde_json::from_str(&text).ok()))
    }

    /// An [`ArtifactError::Io`] naming `path`.
    fn io(&self, path: &Path, source: std::io::Error) -> ArtifactError {
        ArtifactError::Io {
            path: path.to_path_buf(),
            cause: source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reloads_into_an_identical_model_and_refuses_another_shape() {
        let _random = crate::random_generator_lock();
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path().join("run"));
        run.create().unwrap();
        let device = Device::flex();
        let config = TrainingConfig::tutorial();
        run.save_config(&config).unwrap();
        let model = config.model.init(&device);
        let input = Tensor::<2>::ones([1, crate::data::IMAGE_PIXELS], &device);
        let before: Vec<f32> = model
            .forward(input.clone())
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        run.save_model(model).unwrap();

        let (_, reloaded) = run.load_model(&device).unwrap();
        let after: Vec<f32> = reloaded
            .forward(input)
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        assert_eq!(before, after);

        let mut other = config.clone();
        other.model.hidden_sizes = vec![64];
        run.save_config(&other).unwrap();
        let err = run.load_model(&device).unwrap_err();
        assert!(matches!(err, ArtifactError::Mismatch { .. }), "{err}");
    }

    #[test]
    fn a_corrupt_record_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        run.save_config(&TrainingConfig::tutorial()).unwrap();
        std::fs::write(run.model(), b"not a burnpack").unwrap();
        let err = run.load_model(&Device::flex()).unwrap_err().to_string();
        assert!(
            err.contains("model.bpk: not a readable model record"),
            "{err}"
        );
    }
}
