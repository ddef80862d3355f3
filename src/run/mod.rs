//! A run folder, `artifacts/<run>/`: what it holds, and writing it safely.

pub(crate) mod calibration;
pub(crate) mod data_record;
pub(crate) mod files;
mod folder;
mod load_model;
pub(crate) mod lock;
pub(crate) mod metrics;
mod newest;
mod resume_command;
mod summary;

pub(crate) use folder::{ArtifactError, RunDir};
pub(crate) use newest::{ARTIFACTS, chosen_run, new_run_folder};
pub(crate) use resume_command::resume_command;
use summary::StatusField;
pub(crate) use summary::{
    ImportSummary, Imported, RecordedStatus, RunStatus, SourceFile, Summary, Versions,
};
