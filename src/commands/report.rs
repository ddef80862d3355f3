//! `mnist-trainer report`: redraws a run's training curves from its metrics file.

use std::process::ExitCode;

use anyhow::Result;

use crate::analysis::plots;
use crate::cli::args::ReportArgs;
use crate::run::{RunDir, metrics};

pub fn run_report(args: ReportArgs) -> Result<ExitCode> {
    let run = RunDir::existing(&args.artifacts)?;
    let epochs = metrics::read_all(&run.metrics())?;
    plots::training_curves(&epochs, &run.curves_png())?;
    println!("written: {}", run.curves_png().display());
    Ok(ExitCode::SUCCESS)
}
