//! What each command does and prints; `cli` decides which one runs.

pub(crate) mod eval;
pub(crate) mod export;
pub(crate) mod import;
pub(crate) mod infer;
pub(crate) mod report;
pub(crate) mod serve;
pub(crate) mod train;
