//! The PyTorch tutorial's MNIST network (784 → 128 ReLU → 10, cross-entropy, Adam), trained and
//! used with Burn. `main.rs` only parses the command line; everything else lives here, one
//! concern per module.

mod choice;

pub mod artifacts;
mod atomic_file;
pub mod backend;
pub mod cli;
pub mod config;
pub mod data;
pub mod data_record;
pub mod digit_image;
pub mod eval;
pub mod idx;
pub mod inference;
pub mod interrupt;
pub mod loader;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod optimizer;
mod panics;
pub mod plots;
pub mod renderer;
pub mod run_files;
pub mod training;
