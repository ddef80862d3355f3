//! `mnist-trainer serve`: a run's model behind a web page and a JSON API.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::args::ServeArgs;
use crate::serve::{ServeRequest, serve};

pub(crate) fn run_serve(args: ServeArgs) -> Result<ExitCode> {
    serve(ServeRequest {
        run: args.run.chosen()?,
        backend: args.backend,
        host: args.host,
        port: args.port,
    })?;
    Ok(ExitCode::SUCCESS)
}
