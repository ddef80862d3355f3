//! What a run trained on, `data.json`: where its files were and a fingerprint of each, so that
//! `--resume`, `eval` and `infer --index` read the same files without being told again, and
//! refuse other files given in their place.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::TrainingConfig;
use crate::data::identity::{self, DatasetChoice, DatasetMismatch};
use crate::data::idx::{Fingerprint, LabelledImages};
use crate::data::{DataError, DataSource, DatasetKind, Split, SplitPrints, hold_out};
use crate::picture::folder::{self, FolderError};
use crate::run::{ArtifactError, RunDir};

/// The contents of a run's `data.json`: which dataset, where its files were read from, and
/// each file's fingerprint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataRecord {
    /// The dataset the run trained on (`--dataset`).
    pub dataset: DatasetKind,
    /// An absolute folder, or Burn's download cache.
    pub source: DataSource,
    /// By standard file name (`train-images-idx3-ubyte`, ...).
    pub files: BTreeMap<String, Fingerprint>,
    /// The font files `font_digits` drew its digits in, by path under `/usr/share/fonts`;
    /// none when it drew none (and in runs from before it).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fonts: BTreeMap<String, Fingerprint>,
}

/// The fonts found differ from those a resumed run drew its digits in (`font_digits`): it
/// would train on other digits than its first epochs did.
#[derive(Debug, thiserror::Error)]
#[error(
    "{}: its digits were drawn in other fonts than these ({what}): font_digits would draw others now; reinstall the fonts it recorded in data.json, or train a new run",
    run.display()
)]
pub struct FontsChanged {
    /// The run's folder.
    run: PathBuf,
    /// The first difference, in words.
    what: String,
}

/// A data file whose fingerprint differs from the one the run's `data.json` records.
#[derive(Debug, thiserror::Error)]
#[error(
    "{given}: {file} is not the file {} was trained on ({found} here, {recorded} recorded in data.json); pass the run's own data, or train a new run",
    run.display()
)]
pub struct DataMismatch {
    /// Where the files were read from, in words ([`DataSource::describe`]).
    given: String,
    /// The run's folder.
    run: PathBuf,
    /// The file's standard name.
    file: String,
    /// The fingerprint of the file given.
    found: Fingerprint,
    /// The fingerprint `data.json` records.
    recorded: Fingerprint,
}

impl DataRecord {
    /// The record of `dataset` read from `source` (made absolute, see
    /// [`DataSource::absolute`]), with the fingerprints of its `files` by standard name.
    pub fn new(
        dataset: DatasetKind,
        source: &DataSource,
        files: impl IntoIterator<Item = (&'static str, Fingerprint)>,
    ) -> Self {
        Self {
            dataset,
            source: source.absolute(),
            files: files
                .into_iter()
                .map(|(name, print)| (name.to_string(), print))
                .collect(),
            fonts: BTreeMap::new(),
        }
    }

    /// The record with the fonts `font_digits` drew in, `(path, fingerprint)` each.
    pub fn with_fonts(mut self, fonts: &[(String, Fingerprint)]) -> Self {
        self.fonts = fonts.iter().cloned().collect();
        self
    }

    /// Refuses fonts other than those recorded (one missing, one new, or one changed).
    ///
    /// # Errors
    /// [`FontsChanged`] naming the first difference.
    pub fn check_fonts(
        &self,
        run: &RunDir,
        found: &[(String, Fingerprint)],
    ) -> Result<(), FontsChanged> {
        let found: BTreeMap<String, Fingerprint> = found.iter().cloned().collect();
        let missing = self.fonts.keys().find(|name| !found.contains_key(*name));
        let added = found.keys().find(|name| !self.fonts.contains_key(*name));
        let changed =
            (self.fonts.iter()).find(|(name, print)| found.get(*name).is_some_and(|p| p != *print));
        let what = match (missing, added, changed) {
            (Some(name), _, _) => format!("{name} is gone"),
            (_, Some(name), _) => format!("{name} is new"),
            (_, _, Some((name, _))) => format!("{name} is another file"),
            _ => return Ok(()),
        };
        Err(FontsChanged {
            run: run.root().to_path_buf(),
            what,
        })
    }

    /// Refuses files whose fingerprint differs from the recorded one; files the record does
    /// not list pass.
    ///
    /// # Errors
    ///
    /// [`DataMismatch`] for the first file of `found` whose fingerprint differs.
    pub fn check(
        &self,
        run: &RunDir,
        given: &DataSource,
        found: &[(&'static str, Fingerprint)],
    ) -> Result<(), DataMismatch> {
        for &(name, print) in found {
            if let Some(&recorded) = self.files.get(name)
                && recorded != print
            {
                return Err(DataMismatch {
                    given: given.describe(),
                    run: run.root().to_path_buf(),
                    file: name.to_string(),
                    found: print,
                    recorded,
                });
            }
        }
        Ok(())
    }
}

/// Where a command on an existing run reads its data: `--data-dir` when given, else where the
/// run recorded (runs from before `data.json` have no record: the dataset's usual place), with
/// the record to check the files against.
///
/// # Errors
///
/// A `data.json` that cannot be read or parsed ([`RecordError::Artifact`]); without a record or
/// `--data-dir`, no usual place for the dataset ([`RecordError::Data`]).
pub(crate) fn source_for_run(
    run: &RunDir,
    dataset: DatasetKind,
    data_dir: Option<PathBuf>,
) -> Result<(DataSource, Option<DataRecord>), RecordError> {
    let record = run.load_data_record()?;
    let source = match (data_dir, &record) {
        (Some(dir), _) => DataSource::of_folder(dir, dataset),
        (None, Some(record)) => record.source.clone(),
        (None, None) => DataSource::resolve(dataset, None)?,
    };
    Ok((source, record))
}

/// The test split a run was tested on: from `--data-dir`, else from where the run recorded,
/// refused when its files are not the ones the run recorded.
///
/// # Errors
///
/// As [`source_for_run`] and [`load_checked`].
pub(crate) fn load_test_split_of_run(
    run: &RunDir,
    dataset: DatasetKind,
    data_dir: Option<PathBuf>,
) -> Result<LabelledImages, RecordError> {
    let (source, record) = source_for_run(run, dataset, data_dir)?;
    let choice = DatasetChoice::Run;
    Ok(load_checked(
        run,
        (dataset, choice),
        &source,
        record.as_ref(),
        Split::Test,
    )?
    .0)
}

/// The training images a run held out to validate on (`valid_size` of them, drawn by its seed
/// from the training split cut by `limit_train`, as training drew them): from `--data-dir`,
/// else from where the run recorded, refused when its files are not the ones it recorded.
///
/// # Errors
///
/// As [`source_for_run`] and [`load_checked`].
pub(crate) fn load_held_out_of_run(
    run: &RunDir,
    config: &TrainingConfig,
    data_dir: Option<PathBuf>,
) -> Result<LabelledImages, RecordError> {
    let (source, record) = source_for_run(run, config.dataset, data_dir)?;
    let choice = DatasetChoice::Run;
    let (train, _) = load_checked(
        run,
        (config.dataset, choice),
        &source,
        record.as_ref(),
        Split::Train,
    )?;
    let train = train.limited(config.limit_train);
    Ok(hold_out(&train, config.valid_size, config.seed).1)
}

/// Reads `split` from `source` with its files' fingerprints, refused when a file is another
/// dataset's official file than `dataset`'s (with who chose it, for the message), or not the
/// one `record` (the run's, if it has one) lists.
///
/// # Errors
///
/// The split cannot be read or is not valid IDX ([`RecordError::Data`]); a file is another
/// dataset's official file ([`RecordError::Dataset`]) or differs from the record
/// ([`RecordError::Mismatch`]).
pub(crate) fn load_checked(
    run: &RunDir,
    (dataset, choice): (DatasetKind, DatasetChoice),
    source: &DataSource,
    record: Option<&DataRecord>,
    split: Split,
) -> Result<(LabelledImages, SplitPrints), RecordError> {
    if let Some(record) = record
        && record.source.is_pictures() != source.is_pictures()
    {
        let kind = |source: &DataSource| match source.is_pictures() {
            true => "a folder of pictures",
            false => "IDX files",
        };
        return Err(RecordError::OtherKind {
            given: format!("{} ({})", source.describe(), kind(source)),
            run: run.root().to_path_buf(),
            recorded: format!("{} in {}", kind(&record.source), record.source.describe()),
        });
    }
    let (images, prints) = match source {
        DataSource::Pictures(dir) => folder::load(dir, split, dataset)?,
        _ => source.load_fingerprinted(split)?,
    };
    identity::check(dataset, choice, &source.describe(), &prints)?;
    if let Some(record) = record {
        record.check(run, source, &prints)?;
    }
    Ok((images, prints))
}

/// Why a run's data could not be had or was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RecordError {
    /// The run's `data.json` could not be read or parsed.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// The split's files could not be found, read or validated.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Data of the other kind than the run recorded: a folder of pictures for a run trained on
    /// IDX files, or the reverse (their files share no name, so no fingerprint would differ).
    #[error(
        "{given}: not the kind of data {} was trained on ({recorded}, as its data.json says); pass the run's own data, or leave out --data-dir",
        run.display()
    )]
    OtherKind {
        /// Where the data given is, in words.
        given: String,
        /// The run's folder.
        run: PathBuf,
        /// Where the run's data was, in words, and its kind.
        recorded: String,
    },
    /// A folder of pictures is not a dataset: a picture or folder in it is refused.
    #[error(transparent)]
    Pictures(#[from] FolderError),
    /// A file differs from the one `data.json` records.
    #[error(transparent)]
    Mismatch(#[from] DataMismatch),
    /// A file is the official file of another dataset than the one named.
    #[error(transparent)]
    Dataset(#[from] DatasetMismatch),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(crc32: u32) -> Fingerprint {
        Fingerprint { bytes: 10, crc32 }
    }

    #[test]
    fn other_files_are_refused_naming_the_file_and_both_fingerprints() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path().join("run"));
        let record = DataRecord::new(
            DatasetKind::Mnist,
            &DataSource::Folder("data".into()),
            [
                ("t10k-images-idx3-ubyte", print(1)),
                ("t10k-labels-idx1-ubyte", print(2)),
            ],
        );
        let DataSource::Folder(folder) = &record.source else {
            panic!("a folder")
        };
        assert!(folder.is_absolute(), "{}", folder.display());
        let other = DataSource::Folder("other".into());
        assert!(
            record
                .check(&run, &other, &[("t10k-images-idx3-ubyte", print(1))])
                .is_ok()
        );
        let err = record
            .check(&run, &other, &[("t10k-labels-idx1-ubyte", print(3))])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("other: t10k-labels-idx1-ubyte is not the file "),
            "{err}"
        );
        assert!(
            err.contains("crc32 00000003 here, 10 bytes, crc32 00000002 recorded"),
            "{err}"
        );
    }

    #[test]
    fn a_record_round_trips_through_json() {
        let record = DataRecord::new(
            DatasetKind::FashionMnist,
            &DataSource::BurnCache,
            [("train-labels-idx1-ubyte", print(0xdead_beef))],
        );
        let json = serde_json::to_string(&record).unwrap();
        assert!(json.contains("\"burn-cache\""), "{json}");
        assert_eq!(serde_json::from_str::<DataRecord>(&json).unwrap(), record);
    }
}
