//! The training config a command line asks for: a config file (or the tutorial's, or a resumed
//! run's), with the flags laid over it, validated, and checked against the memory there is.

use anyhow::{Context, Result, bail};

use crate::cli::args::TrainArgs;
use crate::config::TrainingConfig;
use crate::model::memory;
use crate::model::optimizer::LrSchedule;
use crate::run::RunDir;

impl TrainArgs {
    /// The config this command line asks for, validated.
    ///
    /// # Errors
    /// The `--resume` run or `--config` file cannot be read; a value is invalid (named by the
    /// flag or file that set it); a resume changes more than `--epochs` and `--num-workers`
    /// (or `--epochs` of a cosine-scheduled run); or the model would not fit in memory.
    pub fn resolve_config(&self) -> Result<TrainingConfig> {
        let mut config = match (&self.resume, &self.config) {
            (Some(run), _) => RunDir::existing(run)?.load_config()?,
            (None, Some(path)) => {
                TrainingConfig::load_file(path).map_err(super::training_flags::name_the_field)?
            }
            (None, None) => TrainingConfig::tutorial(),
        };
        let saved = self.resume.as_ref().map(|_| config.clone());
        let given = self.flags.lay_over(&mut config);
        if saved.is_none() {
            let asked = |prefix: &str| given.iter().any(|g| g.field.starts_with(prefix));
            // A config file's Outlier Exposure stands (its weight and its letters); otherwise
            // the parent's, so that the run stays unsure of what is not a digit.
            let keep = |field: &str| self.config.is_some() || asked(field);
            let keep_outliers = [keep("outlier_exposure"), keep("font_outliers")];
            adopt_parent(&mut config, asked("model"), asked("dataset"), keep_outliers)?;
        }
        config.model = config.model.completed();
        let flags = |field: Option<&str>| -> Vec<String> {
            given
                .iter()
                .filter(|given| field.is_none_or(|field| field == given.field))
                .map(|given| given.flag.clone())
                .collect()
        };
        // An invalid value is named by the flag that set it (or the file it came from).
        config.validate("").map_err(|error| {
            error.with_origin_of(|field| match flags(Some(field)) {
                setters if setters.is_empty() => self.origin(&setters),
                setters => setters.join(" "),
            })
        })?;
        let origin = self.origin(&flags(None));
        if let Some(saved) = saved {
            refuse_changes_on_resume(&saved, &config)?;
        }
        // Before anything is allocated: an impossible size would abort inside the allocator.
        let needed = config.training_bytes();
        memory::ensure_fits(
            &origin,
            &config.model,
            needed,
            "train",
            memory::available_bytes(),
        )?;
        Ok(config)
    }

    /// Where the config's values came from, for error messages: the file, with the flags given.
    fn origin(&self, given: &[String]) -> String {
        let file = match (&self.resume, &self.config) {
            (Some(run), _) => Some(RunDir::new(run).config()),
            (None, path) => path.clone(),
        };
        match (file, given.is_empty()) {
            (Some(path), true) => path.display().to_string(),
            (Some(path), false) => format!("{} with {}", path.display(), given.join(" ")),
            (None, true) => "the default config".to_string(),
            (None, false) => given.join(" "),
        }
    }
}

/// A fine-tuned run (`finetune`) takes its parent's model and dataset (its classes), its
/// Outlier Exposure's weight and letters (`font_outliers`) unless `keep_outliers` says to keep
/// the config's own, and the parent's folder as an absolute path; a
/// model or dataset flag that asks for another is refused, since the parent's weights would not
/// fit.
///
/// # Errors
/// The parent is not a run or its config cannot be read; a flag asks for another model or
/// dataset than the parent's.
fn adopt_parent(
    config: &mut TrainingConfig,
    model_asked: bool,
    dataset_asked: bool,
    [keep_weight, keep_letters]: [bool; 2],
) -> Result<()> {
    let Some(parent) = config.finetune.clone() else {
        return Ok(());
    };
    let run = RunDir::existing(&parent)
        .with_context(|| format!("--finetune {}: not a run to start from", parent.display()))?;
    let theirs = run.load_config()?;
    if config.finetune_mix > 0.0 && run.is_imported()? {
        bail!(
            "--finetune-mix: {} was imported from PyTorch, so which images it trained on is unknown; fine-tune it on your pictures alone (leave out --finetune-mix)",
            parent.display()
        );
    }
    let mut mine = config.model.clone().completed();
    if !model_asked {
        mine = theirs.model.clone();
    }
    if mine != theirs.model.clone().completed() {
        bail!(
            "--finetune {}: its model is {}, the flags ask for {}; a fine-tuned run keeps its parent's model (leave out --model, --hidden and --activation)",
            parent.display(),
            theirs.model.describe(),
            mine.describe()
        );
    }
    if dataset_asked && config.dataset != theirs.dataset {
        bail!(
            "--finetune {}: it reads {}'s classes, not {}'s; its outputs would name the wrong classes (leave out --dataset)",
            parent.display(),
            theirs.dataset.title(),
            config.dataset.title()
        );
    }
    if !keep_weight {
        config.outlier_exposure = theirs.outlier_exposure;
    }
    // Letters are outliers: none for a run without Outlier Exposure (`--outlier-exposure 0`).
    if !keep_letters && config.outlier_exposure > 0.0 {
        config.font_outliers = theirs.font_outliers;
    }
    config.model = theirs.model;
    config.dataset = theirs.dataset;
    config.finetune = Some(std::path::absolute(&parent).unwrap_or(parent));
    Ok(())
}

/// A resumed run must be the run it continues: only its length and loader threads may change,
/// and not its length either when the learning rate was planned over it.
fn refuse_changes_on_resume(saved: &TrainingConfig, wanted: &TrainingConfig) -> Result<()> {
    if saved.lr_schedule == LrSchedule::Cosine && wanted.num_epochs != saved.num_epochs {
        bail!(
            "--resume: --epochs {} would change a cosine-scheduled run: its learning rate falls to 0 over the {} epochs it started with, and a longer run would have had a different rate from its first step; resume without --epochs, or train a new run with --epochs {}",
            wanted.num_epochs,
            saved.num_epochs,
            wanted.num_epochs
        );
    }
    // The fields that may change take the saved values; any difference left is refused.
    let mut same_run = wanted.clone();
    same_run.num_epochs = saved.num_epochs;
    same_run.num_workers = saved.num_workers;
    let value =
        |config: &TrainingConfig| serde_json::to_value(config).expect("a config serializes");
    let (before, after) = (value(saved), value(&same_run));
    let changed = before
        .as_object()
        .into_iter()
        .flatten()
        .find(|(key, value)| after.get(key.as_str()) != Some(*value));
    if let Some((key, value)) = changed {
        let what = if key == "model" {
            "changes the model's shape"
        } else {
            "changes the run"
        };
        bail!(
            "--resume: {key} was {value} in this run and would become {}; that {what} (only --epochs, --num-workers and --backend may differ)",
            after[key.as_str()]
        );
    }
    Ok(())
}
