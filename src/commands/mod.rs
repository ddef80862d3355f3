//! What each command does and prints, and which one runs: `cli` reads the command line,
//! [`execute`] dispatches it here.

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
/// Whatever stopped the command (see each `*::run_*`), for `main` to print as one
/// line.
pub fn execute(cli: Cli, signals: &StopSignals) -> Result<ExitCode> {
    match cli.command {
        Some(Command::Train(args)) => train::run_train(args, signals),
        None => train::run_train(cli.train, signals),
        Some(Command::Infer(args)) => infer::run_infer(args),
        Some(Command::Eval(args)) => eval::run_eval(args),
        Some(Command::Report(args)) => report::run_report(args),
        Some(Command::Export(args)) => export::run_export(args),
        Some(Command::Import(args)) => import::run_import(args),
        Some(Command::Serve(args)) => serve::run_serve(args, signals),
    }
}
