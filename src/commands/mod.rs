//! What each command does and prints, and which one runs: `cli` reads the command line,
//! [`execute`] dispatches it here.

pub(crate) mod calibrate;
pub(crate) mod eval;
pub(crate) mod export;
pub(crate) mod import;
pub(crate) mod infer;
pub(crate) mod report;
pub(crate) mod serve;
pub(crate) mod train;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::process::signals::StopSignals;

/// Runs the command `cli` names; `signals` are the process's stop signals, which training
/// turns into a clean stop. Returns the exit code the command chose.
///
/// # Errors
/// Whatever stopped the command (see each command's `execute`), for `main` to print as one
/// line.
pub fn execute(cli: Cli, signals: &StopSignals) -> Result<ExitCode> {
    match cli.command {
        Some(Command::Train(args)) => train::execute(args, signals),
        None => train::execute(cli.train, signals),
        Some(Command::Infer(args)) => infer::execute(args),
        Some(Command::Eval(args)) => eval::execute(args),
        Some(Command::Calibrate(args)) => calibrate::execute(args),
        Some(Command::Report(args)) => report::execute(args),
        Some(Command::Export(args)) => export::execute(args),
        Some(Command::Import(args)) => import::execute(args),
        Some(Command::Serve(args)) => serve::execute(args, signals),
    }
}
