//! `mnist-trainer export`: a run's model for PyTorch.

use std::process::ExitCode;

use anyhow::Result;

use crate::backend::Backend;
use crate::cli::args::ExportArgs;
use crate::pytorch::export::{architecture_path, export};

/// Loads the run's model (on the flex backend) and writes it as a PyTorch `state_dict` in
/// safetensors, with its architecture JSON beside it; prints both paths.
///
/// # Errors
/// No run found, the model cannot be loaded, or an [`crate::pytorch::export::ExportError`].
pub(crate) fn run_export(args: ExportArgs) -> Result<ExitCode> {
    let run = args.run.chosen()?;
    let (config, model) = run.load_model(&Backend::Flex.device()?)?;
    let architecture = export(&model, &config.model, &args.safetensors, args.overwrite)?;
    println!(
        "written: {} ({} {}: {}), {}",
        args.safetensors.display(),
        architecture.module,
        config.model.describe(),
        architecture.keys.join(" "),
        architecture_path(&args.safetensors).display()
    );
    Ok(ExitCode::SUCCESS)
}
