//! The PyTorch tutorial's MNIST network (784 → 128 ReLU → 10, cross-entropy, Adam), trained and
//! used with Burn. `main.rs` only parses the command line; each folder below is one part of the
//! program (see the README's Architecture section).

#![warn(unreachable_pub, missing_docs)]

mod analysis;
mod backend;
mod choice;
pub mod cli;
mod commands;
mod data;
mod model;
mod onnx;
pub mod panics;
mod picture;
mod pytorch;
mod run;
mod serve;
pub mod signals;
mod terminal;
mod train;
