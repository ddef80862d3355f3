//! `mnist-trainer serve`: a run's model behind a web page and a JSON API.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::args::ServeArgs;
use crate::process::signals::StopSignals;
use crate::serve::{ServeRequest, serve};

/// Serves the chosen run until a stop signal arrives; exits with 128 + its number (130 for
/// Ctrl-C, 143 for SIGTERM), as a shell reports a process that signal ended.
///
/// # Errors
/// No run found, or [`crate::serve::serve`] fails (the `--collect` folder, the backend, the
/// model, the address).
pub(crate) fn execute(args: ServeArgs, signals: &StopSignals) -> Result<ExitCode> {
    let stopped_by = serve(ServeRequest {
        run: args.run.chosen()?,
        backend: args.backend,
        host: args.host,
        port: args.port,
        epoch: args.epoch.epoch,
        collect: args.collect,
        signals: signals.clone(),
    })?;
    Ok(stopped_by.map_or(ExitCode::SUCCESS, |signal| {
        ExitCode::from(signal.exit_code())
    }))
}
