//! `mnist-trainer report`: redraws a run's training curves from its metrics file.

use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::analysis::plots;
use crate::cli::args::ReportArgs;
use crate::process::output::outln;
use crate::run::lock::RunLock;
use crate::run::metrics;

/// Redraws `curves.png` from the run's `metrics.jsonl` and prints its path.
///
/// # Errors
/// No run found, `metrics.jsonl` or `config.json` cannot be read, another process holds the
/// run, or the PNG cannot be written.
pub(crate) fn execute(args: ReportArgs) -> Result<ExitCode> {
    let run = args.run.chosen()?;
    if run.is_imported()? {
        bail!(
            "{}: imported from PyTorch, not trained here: it has no training curves to draw (eval scores its model)",
            run.root().display()
        );
    }
    let epochs = metrics::read_all(&run.metrics())?;
    // A run (it has metrics): no other process may write it while the curves are drawn.
    let _lock = RunLock::acquire(run.root(), "report")?;
    plots::training_curves(&epochs, run.load_config()?.loss, &run.curves_png())?;
    outln!("written: {}", run.curves_png().display())?;
    Ok(ExitCode::SUCCESS)
}
