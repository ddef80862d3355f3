//! `mnist-trainer export`: a run's model for PyTorch (safetensors) and for any ONNX runtime.

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::backend::Backend;
use crate::cli::args::ExportArgs;
use crate::onnx::{OPSET, export_onnx};
use crate::process::output::outln;
use crate::pytorch::export::{architecture_path, check_destinations, export};

/// Loads the run's model (on the flex backend) and writes what the flags ask for: a PyTorch
/// `state_dict` in safetensors with its architecture JSON beside it, an ONNX file, or both;
/// prints each path. Every destination is checked before anything is written.
///
/// # Errors
/// No run found, the model cannot be loaded, or an [`crate::pytorch::export::ExportError`]
/// (two destinations naming one file among them).
pub(crate) fn execute(args: ExportArgs) -> Result<ExitCode> {
    let run = args.run.chosen()?;
    let (config, model) = run.load_model_at(args.epoch.epoch, &Backend::Flex.device()?)?;
    let calibrated = run.calibrated(args.epoch.epoch)?;
    let mut destinations = Vec::new();
    if let Some(weights) = &args.safetensors {
        destinations.extend([weights.clone(), architecture_path(weights)]);
    }
    if let Some(onnx) = &args.onnx {
        destinations.push(onnx.clone());
    }
    let paths: Vec<&std::path::Path> = destinations.iter().map(|path| path.as_path()).collect();
    check_destinations(&paths, args.overwrite)?;
    if let Some(weights) = &args.safetensors {
        let architecture = export(
            &model,
            &config.model,
            config.dataset,
            calibrated,
            weights,
            args.overwrite,
        )?;
        outln!(
            "written: {} ({} {}: {}), {}",
            weights.display(),
            architecture.module,
            config.model.describe(),
            architecture.keys.join(" "),
            architecture_path(weights).display()
        )?;
    }
    if let Some(onnx) = &args.onnx {
        // Checked above, it can still fail to be written (a read-only folder): say what was.
        let operators = export_onnx(&model, &config, calibrated, onnx, args.overwrite)
            .with_context(|| match &args.safetensors {
                Some(weights) => format!(
                    "{} and {} were written; the ONNX file was not",
                    weights.display(),
                    architecture_path(weights).display()
                ),
                None => "nothing was written".to_string(),
            })?;
        outln!(
            "written: {} (ONNX opset {OPSET}, {}: {})",
            onnx.display(),
            config.model.describe(),
            operators.join(" ")
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
