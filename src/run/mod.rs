//! A run folder, `artifacts/<run>/`: what it holds, and writing it safely.

pub mod atomic_file;
pub mod config;
pub mod files;
mod folder;
pub mod lock;
pub mod metrics;
mod newest;
mod resume_command;
pub(crate) mod rules;
mod summary;

pub use folder::{ArtifactError, RunDir};
pub use newest::{ARTIFACTS, chosen_run};
pub use resume_command::resume_command;
use summary::StatusField;
pub use summary::{
    ImportSummary, Imported, RecordedStatus, RunStatus, SourceFile, Summary, Versions,
};
