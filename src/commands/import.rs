//! `mnist-trainer import`: a PyTorch state_dict made into a run folder that `infer`, `eval`,
//! `export` and `serve` use like a trained one.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::backend::Backend;
use crate::cli::args::ImportArgs;
use crate::config::TrainingConfig;
use crate::data::identity::DatasetChoice;
use crate::data::idx::LabelledImages;
use crate::data::{DataSource, Split, SplitPrints};
use crate::model::Model;
use crate::model::predict::test_score;
use crate::process::output::outln;
use crate::pytorch::import::{FileFormat, Imported, import};
use crate::run::data_record::{DataRecord, RecordError, load_checked};
use crate::run::files::{self as run_files, Occupancy};
use crate::run::lock::RunLock;
use crate::run::{ImportSummary, Imported as Status, RunDir, SourceFile, Versions};

/// Why the `--run` folder cannot receive the import.
#[derive(Debug, thiserror::Error)]
enum FolderError {
    /// It holds a run and `--overwrite` was not given.
    #[error("{}: already holds a run; pass --overwrite to replace it, or pick another --run folder", path.display())]
    Exists {
        /// The folder.
        path: PathBuf,
    },
    /// It holds something that is not a run's file.
    #[error("{}: not empty and not a run of this program ({} is not one of its files); pick an empty or new --run folder", path.display(), found.display())]
    Foreign {
        /// The folder.
        path: PathBuf,
        /// An entry in it that is not a run's file.
        found: PathBuf,
    },
}

/// Reads the PyTorch file into a model, scores it on `--data-dir`'s test images when given,
/// and writes a run folder (`config.json`, `data.json` with `--data-dir`, `model.bpk`,
/// `summary.json` last); prints what was read and the test accuracy (percent).
///
/// # Errors
/// The folder is locked by another process, holds a run without `--overwrite` or something
/// else; the flex backend does not start; the file cannot be imported
/// ([`crate::pytorch::import::ImportError`]) or hashed; `--data-dir`'s test images cannot be
/// read or are another dataset's official files; or a run file cannot be written.
pub(crate) fn execute(args: ImportArgs) -> Result<ExitCode> {
    let run = RunDir::new(&args.run);
    // Everything that can be refused is checked before the folder is touched.
    // A folder another process is writing is refused as such, before the file is read.
    crate::run::lock::refuse_if_held(run.root())?;
    check_folder(&run, args.overwrite)?;
    let device = Backend::Flex.device()?;
    let imported = import(&args.pytorch, args.activation, &device)?;
    let source = source_file(&args.pytorch, imported.format)?;
    let test = given_test_split(&args, &run)?;
    let config = TrainingConfig {
        model: imported.config.clone(),
        dataset: args.dataset,
        ..TrainingConfig::tutorial()
    };
    let summary = summary(&imported, &config, source);
    let score = test
        .as_ref()
        .map(|(images, _, _)| test_score(&imported.model, images, &device, config.loss));
    let record = test.map(|(_, prints, source)| DataRecord::new(args.dataset, &source, prints));

    // Checked again now that no other process can write the folder.
    let _lock = RunLock::acquire(run.root(), "import")?;
    if check_folder(&run, args.overwrite)? {
        run_files::clear(run.root())?;
    }
    write_run(&run, &config, record.as_ref(), imported.model, &summary)?;
    outln!(
        "imported {} ({}, {} {}) into {}",
        args.pytorch.display(),
        summary.source.format,
        summary.pytorch_module,
        summary.model,
        run.root().display()
    )?;
    if !summary.unwrapped.is_empty() {
        outln!("read {}", summary.unwrapped.join("; "))?;
    }
    if let Some(score) = score {
        outln!(
            "test accuracy {:.2}% on {} images",
            score.accuracy,
            score.images
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The test split `--data-dir` names, read as training reads one (`load_checked`: refused
/// when it is the other official dataset than `--dataset`), with its fingerprints and source;
/// `None` without `--data-dir`.
fn given_test_split(
    args: &ImportArgs,
    run: &RunDir,
) -> Result<Option<(LabelledImages, SplitPrints, DataSource)>> {
    let Some(dir) = &args.data_dir else {
        return Ok(None);
    };
    // As training resolves it: a folder whose path data.json cannot hold is refused here.
    let source = DataSource::resolve(args.dataset, Some(dir.clone()))?;
    let dataset = (args.dataset, DatasetChoice::Flag);
    match load_checked(run, dataset, &source, None, Split::Test) {
        Ok((images, prints)) => Ok(Some((images, prints, source))),
        Err(RecordError::Dataset(mismatch)) => Err(mismatch.into()),
        Err(unreadable) => Err(anyhow::Error::new(unreadable)
            .context("cannot read the test images given with --data-dir")),
    }
}

/// The run folder's files, the summary last: a folder with a summary is a whole import.
fn write_run(
    run: &RunDir,
    config: &TrainingConfig,
    record: Option<&DataRecord>,
    model: Model,
    summary: &ImportSummary,
) -> Result<()> {
    run.create()?;
    run.save_model_config(config)?;
    if let Some(record) = record {
        run.save_data_record(record)?;
    }
    run.save_model(model)?;
    run.write_summary(summary)?;
    Ok(())
}

/// Whether the folder holds a run to clear first; refuses one that holds anything else, or a
/// run without `--overwrite`.
fn check_folder(run: &RunDir, overwrite: bool) -> Result<bool> {
    let path = run.root().to_path_buf();
    match run_files::occupancy(run.root())? {
        Occupancy::Free => Ok(false),
        Occupancy::Foreign(found) => Err(FolderError::Foreign { path, found }.into()),
        Occupancy::Run if overwrite => Ok(true),
        Occupancy::Run => Err(FolderError::Exists { path }.into()),
    }
}

/// `summary.json` of an import: the source file, the module and model it held, the dataset.
fn summary(imported: &Imported, config: &TrainingConfig, source: SourceFile) -> ImportSummary {
    ImportSummary {
        status: Status::Imported,
        source,
        pytorch_module: imported.layout.module.name().to_string(),
        model: config.model.describe(),
        activation: config.model.activation,
        parameters: config.model.parameter_count().unwrap_or(u64::MAX),
        dataset: config.dataset,
        unwrapped: imported.unwrapped.clone(),
        versions: Versions::current(),
    }
}

/// The source file's name, place, size and SHA-256, read again from the start.
fn source_file(path: &Path, format: FileFormat) -> Result<SourceFile> {
    let context = || format!("{}: cannot read", path.display());
    let mut file = std::fs::File::open(path).with_context(context)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let read = file.read(&mut buffer).with_context(context)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        bytes += read as u64;
    }
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Ok(SourceFile {
        name: path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default(),
        path: std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
        format,
        bytes,
        sha256,
    })
}
