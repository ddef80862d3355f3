//! A run folder, `artifacts/<run>/`: what it holds, and writing it safely.

pub mod atomic_file;
pub mod config;
pub mod files;
mod folder;
pub mod metrics;
mod summary;

pub use folder::{ArtifactError, RunDir};
pub use summary::{ImportSummary, Imported, RunStatus, SourceFile, Summary, Versions};
