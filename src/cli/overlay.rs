//! The training config a command line asks for: a config file (or the tutorial's, or a resumed
//! run's), with the flags laid over it, validated, and checked against the memory there is.

use anyhow::{Result, bail};

use crate::cli::args::TrainArgs;
use crate::model::memory;
use crate::model::optimizer::LrSchedule;
use crate::run::RunDir;
use crate::run::config::TrainingConfig;

/// Lays each flag that was given over its config field and returns the flags given, in order,
/// each with the config field it set (`model.hidden_sizes`).
/// The one list of which flag sets which field: a flag's name is its `TrainArgs` field's, as
/// clap derives it (`batch_size` is `--batch-size`); `as f` wraps the value (`Some`, `Into::into`).
macro_rules! overlay {
    ($args:expr, $config:expr, { $($flag:ident => $($field:ident).+ $(as $wrap:path)?),+ $(,)? }) => {{
        let mut given: Vec<(String, String)> = Vec::new();
        $(
            if let Some(value) = $args.$flag.clone() {
                $config.$($field).+ = overlay!(@wrap value $(, $wrap)?);
                given.push((
                    format!("--{}", stringify!($flag).replace('_', "-")),
                    stringify!($($field).+).replace(' ', ""),
                ));
            }
        )+
        given
    }};
    (@wrap $value:ident) => { $value };
    (@wrap $value:ident, $wrap:path) => { $wrap($value) };
}

/// Every training flag (its `TrainArgs` field) and the config field it sets: the one list that
/// lays flags over the config ([`overlay!`]) and puts the defaults into `--help`
/// ([`flag_fields`]). Hands the list to `$callback` after `$args`.
macro_rules! training_flags {
    ($callback:ident ! ($($args:tt)*)) => {
        $callback!($($args)* {
            dataset => dataset,
            epochs => num_epochs,
            batch_size => batch_size,
            hidden => model.hidden_sizes as Into::into,
            activation => model.activation,
            loss => loss,
            optimizer => optimizer.kind,
            lr => learning_rate,
            momentum => optimizer.momentum,
            weight_decay => optimizer.weight_decay,
            lr_schedule => lr_schedule,
            valid_size => valid_size,
            early_stop_patience => early_stop_patience as Some,
            seed => seed,
            num_workers => num_workers,
            flush_denormals => flush_denormals,
            limit_train => limit_train as Some,
            limit_test => limit_test as Some,
        })
    };
}

/// The list as `(clap argument id, config field path)` pairs.
macro_rules! field_pairs {
    ({ $($flag:ident => $($field:ident).+ $(as $wrap:path)?),+ $(,)? }) => {
        &[$((stringify!($flag), stringify!($($field).+))),+]
    };
}

/// Each training flag's clap id (`batch_size`) with the config field it sets
/// (`batch_size`, `model.hidden_sizes`).
pub fn flag_fields() -> Vec<(&'static str, String)> {
    let pairs: &[(&str, &str)] = training_flags!(field_pairs!());
    pairs
        .iter()
        .map(|&(flag, field)| (flag, field.replace(' ', "")))
        .collect()
}

impl TrainArgs {
    /// The config this command line asks for, validated.
    pub fn resolve_config(&self) -> Result<TrainingConfig> {
        let mut config = match (&self.resume, &self.config) {
            (Some(run), _) => RunDir::existing(run)?.load_config()?,
            (None, Some(path)) => TrainingConfig::load_file(path)?,
            (None, None) => TrainingConfig::tutorial(),
        };
        let saved = self.resume.as_ref().map(|_| config.clone());
        let given = training_flags!(overlay!(self, config,));
        let flags = |field: Option<&str>| -> Vec<String> {
            given
                .iter()
                .filter(|(_, set)| field.is_none_or(|field| field == set))
                .map(|(flag, _)| flag.clone())
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
        let needed = memory::training_bytes(&config);
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
    let comparable = |config: &TrainingConfig| {
        let mut value = serde_json::to_value(config).expect("a config serializes");
        let fields = value.as_object_mut().expect("a config is an object");
        fields.remove("num_epochs");
        fields.remove("num_workers");
        value
    };
    let (before, after) = (comparable(saved), comparable(wanted));
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
            "--resume: {key} was {value} in this run and would become {}; that {what} (only --epochs and --num-workers may differ)",
            after[key.as_str()]
        );
    }
    Ok(())
}
