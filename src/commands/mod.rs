//! What each command does and prints; `cli` decides which one runs.

pub mod eval;
pub mod export;
pub mod import;
pub mod infer;
pub mod report;
pub mod serve;
pub mod train;
