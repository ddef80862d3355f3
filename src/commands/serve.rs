//! `mnist-trainer serve`: a run's model behind a web page and a JSON API.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::args::ServeArgs;
use crate::serve::{ServeRequest, serve};

/// Serves the chosen run until the process is stopped.
///
/// # Errors
/// No run found, or [`crate::serve::serve`] fails (the backend, the model, the address).
pub(crate) fn run_serve(args: ServeArgs) -> Result<ExitCode> {
    serve(ServeRequest {
        run: args.run.chosen()?,
        backend: args.backend,
        host: args.host,
        port: args.port,
    })?;
    Ok(ExitCode::SUCCESS)
}
