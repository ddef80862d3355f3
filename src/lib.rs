//! The PyTorch tutorial's MNIST network (784 → 128 ReLU → 10, cross-entropy, Adam), trained and
//! used with Burn. `main.rs` only parses the command line; each folder below is one part of the
//! program (DEVELOPERS.md, "Parts of the program and their layers").

#![warn(unreachable_pub, missing_docs)]

mod analysis;
mod backend;
mod choice;
pub mod cli;
pub mod commands;
mod config;
mod data;
mod fs;
mod model;
mod onnx;
mod picture;
pub mod process;
mod pytorch;
mod rules;
mod run;
mod serve;
mod train;

/// Held by every unit test that seeds a device or draws random numbers from one (a model's
/// initial weights, dropout): Burn's CPU backends keep one random generator per process, not
/// per device, so a test initialising a model on another thread between a seed and the draws
/// that follow it would change them. Tests that need a seeded sequence (`device.seed(n)` then
/// `init`) would then see different weights; with the lock they never interleave.
#[cfg(test)]
pub(crate) fn random_generator_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A failed test holding it poisons nothing the others rely on.
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
