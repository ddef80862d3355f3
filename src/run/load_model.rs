//! Loading a run's model: `model.bpk` or a kept checkpoint's, after checking that it fits in
//! memory; a run without a model says why (from its summary and lock) and what to run.

use std::path::Path;

use burn::prelude::*;
use burn::store::ModuleRecord;

use crate::config::TrainingConfig;
use crate::fs::bounded_read::read_at_most;
use crate::model::Model;
use crate::model::memory::{available_bytes, ensure_fits, loading_bytes};
use crate::run::{ArtifactError, RecordedStatus, RunDir, RunStatus, resume_command};

impl RunDir {
    /// # Errors
    /// [`ArtifactError::NoModel`] says why a run has no `model.bpk` (failed, stopped before its
    /// first epoch, killed or still training) and what to run. Also `config.json` missing or
    /// invalid ([`ArtifactError::Config`]), the model too large for memory
    /// ([`ArtifactError::Memory`]), `model.bpk` unreadable ([`ArtifactError::Record`]) or not of
    /// the config's shape ([`ArtifactError::Mismatch`]).
    pub fn load_model(&self, device: &Device) -> Result<(TrainingConfig, Model), ArtifactError> {
        let config = self.load_config()?;
        if !self.model().exists() {
            return Err(ArtifactError::NoModel {
                path: self.root().to_path_buf(),
                why: self.why_no_model(),
            });
        }
        let model = self.model_from(&self.model(), &config, device)?;
        Ok((config, model))
    }

    /// The run's config and the model of `epoch` (one of its kept checkpoints), or `model.bpk`
    /// without one.
    ///
    /// Errors: as [`RunDir::load_model`]'s; [`ArtifactError::NoEpoch`] when no checkpoint of
    /// `epoch` is kept.
    pub fn load_model_at(
        &self,
        epoch: Option<usize>,
        device: &Device,
    ) -> Result<(TrainingConfig, Model), ArtifactError> {
        let Some(epoch) = epoch else {
            return self.load_model(device);
        };
        let config = self.load_config()?;
        if !self.checkpoint_file("model", epoch).is_file() {
            // Only a run trained here keeps epochs' checkpoints to list.
            let why = if self.is_imported()? {
                "imported from PyTorch, it has model.bpk alone: leave out --epoch".to_string()
            } else {
                let kept: Vec<String> = self
                    .checkpoint_epochs()
                    .into_iter()
                    .filter(|&kept| self.checkpoint_file("model", kept).is_file())
                    .map(|kept| kept.to_string())
                    .collect();
                let kept = if kept.is_empty() {
                    "none".to_string()
                } else {
                    kept.join(", ")
                };
                format!(
                    "kept: {kept}; a run keeps its last two epochs and the one with the lowest validation loss"
                )
            };
            return Err(ArtifactError::NoEpoch {
                path: self.root().to_path_buf(),
                epoch,
                why,
            });
        }
        let model = self.checkpoint_model(&config, epoch, device)?;
        Ok((config, model))
    }

    /// The model Burn checkpointed after `epoch`, on `device`.
    ///
    /// Errors: as [`RunDir::load_model`]'s, for the checkpoint's model file (a missing one is
    /// [`ArtifactError::Record`]).
    pub fn checkpoint_model(
        &self,
        config: &TrainingConfig,
        epoch: usize,
        device: &Device,
    ) -> Result<Model, ArtifactError> {
        self.model_from(&self.checkpoint_file("model", epoch), config, device)
    }

    /// The model record at `path`, loaded into `config`'s model.
    fn model_from(
        &self,
        path: &Path,
        config: &TrainingConfig,
        device: &Device,
    ) -> Result<Model, ArtifactError> {
        let origin = self.config().display().to_string();
        let needed = loading_bytes(&config.model);
        ensure_fits(&origin, &config.model, needed, "load", available_bytes())?;
        let unreadable = |reason: String| ArtifactError::Record {
            path: path.to_path_buf(),
            reason,
        };
        // Read whole now: Burn's reader fetches a tensor's bytes from the file when it is first
        // used, so a model.bpk removed or replaced meanwhile (a fine-tuned run's parent, a
        // served run trained again) panicked inside Burn.
        let too_large = "larger than the model its config describes";
        let limit = needed.unwrap_or(u64::MAX).saturating_add(16 << 20);
        let bytes = read_at_most(path, limit, too_large).map_err(|e| unreadable(e.to_string()))?;
        let record = ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
            .map_err(|error| unreadable(error.to_string()))?;
        config
            .model
            .init(device)
            .try_load_record(record)
            .map_err(|error| ArtifactError::Mismatch {
                record: path.to_path_buf(),
                config: self.config(),
                reason: error.to_string(),
            })
    }

    /// Why a run folder has no `model.bpk`, from its summary, with what to run next.
    fn why_no_model(&self) -> String {
        if let Some(holder) = crate::run::lock::holder_of(self.root()) {
            return format!("it is still being trained by {holder}; wait for it to finish");
        }
        // The backend the run trained on, when its summary says (a killed run has none).
        let backend = self
            .summary_json()
            .ok()
            .flatten()
            .and_then(|summary| serde_json::from_value(summary["backend"].clone()).ok())
            .unwrap_or_default();
        let resume = format!(
            "continue it with `{}`",
            resume_command(self.root(), backend)
        );
        match self.recorded_status().ok().flatten() {
            Some(RecordedStatus::Trained(RunStatus::Failed)) => format!(
                "the run failed and kept no model (its summary.json and the training output say why); {resume} from its last checkpoint or train a new run"
            ),
            Some(RecordedStatus::Trained(RunStatus::Interrupted)) => {
                format!("the run was stopped before its first epoch finished; {resume}")
            }
            _ => format!("training was killed before it finished; {resume}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;

    use crate::config::TrainingConfig;
    use crate::run::RunDir;

    #[test]
    fn a_loaded_model_needs_its_file_no_more() {
        let _random = crate::random_generator_lock();
        let folder = tempfile::tempdir().unwrap();
        let run = RunDir::new(folder.path().join("run"));
        run.create().unwrap();
        let config = TrainingConfig::tutorial();
        run.save_model_config(&config).unwrap();
        let device = crate::backend::Backend::Flex.device().unwrap();
        run.save_model(config.model.init(&device)).unwrap();
        // On the training device, as a fine-tuned run loads its parent's model.
        let (_, model) = run.load_model(&device.clone().autodiff()).unwrap();
        std::fs::remove_file(run.model()).unwrap();
        let logits = model.forward(Tensor::zeros([1, 784], &device.autodiff()));
        assert_eq!(logits.dims(), [1, 10]);
    }
}
