//! Process-wide state, set up once by `main` before any other thread exists: standard output
//! and error written without panicking, the panic hook, the stop signals, the terminal under
//! Burn's dashboard, and the allocator's thresholds.

pub mod allocator;
pub mod output;
pub mod panics;
pub mod signals;
pub(crate) mod terminal;
