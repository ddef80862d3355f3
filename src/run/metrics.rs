//! The per-epoch metrics file of a run: one JSON object per line, added as epochs end, so a
//! crash keeps every finished epoch.

use crate::run::files::read_if_present;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One line of `metrics.jsonl`: an epoch's mean losses and accuracies on the training and
/// validation images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct EpochMetrics {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Mean loss over the epoch's training images, each batch's taken as the weights were then
    /// (Burn's `LossMetric`; the config's loss, cross-entropy or MSE).
    pub train_loss: f64,
    /// Percent, as Burn's `AccuracyMetric` reports it.
    pub train_accuracy: f64,
    /// Mean loss over the validation images (held out, or the test split) at the epoch's end.
    pub valid_loss: f64,
    /// Percent of validation images classified correctly, as Burn's `AccuracyMetric` reports it.
    pub valid_accuracy: f64,
    /// Wall time of the epoch, training and validation together, in seconds.
    pub seconds: f64,
    /// Wall time of the epoch's training split alone, in seconds (0 in files written before it
    /// was recorded).
    #[serde(default)]
    pub train_seconds: f64,
}

/// Why `metrics.jsonl` could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// Reading or writing the file failed.
    #[error("{}: {cause}", path.display())]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// Line `line` (from 1) is not an epoch's JSON record.
    #[error("{}:{line}: not an epoch record: {cause}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        cause: serde_json::Error,
    },
    /// Line `line` records epoch `found`, not the `expected` next one.
    #[error("{}:{line}: records epoch {found} where epoch {expected} belongs; the file was edited or damaged", path.display())]
    OutOfOrder {
        path: PathBuf,
        line: usize,
        found: usize,
        expected: usize,
    },
}

/// The epoch with the lowest validation loss (the earliest of equals; NaN never), as Keras's
/// `restore_best_weights` and Burn's `MetricCheckpointingStrategy` choose; `None` without one.
pub(crate) fn best_epoch(epochs: &[EpochMetrics]) -> Option<usize> {
    epochs
        .iter()
        .filter(|epoch| !epoch.valid_loss.is_nan())
        .min_by(|a, b| a.valid_loss.total_cmp(&b.valid_loss))
        .map(|epoch| epoch.epoch)
}

/// Whether the last `patience` epochs all failed to beat the lowest validation loss before
/// them: when early stopping ends a run (Burn's `MetricEarlyStoppingStrategy` with
/// `NoImprovementSince`, checked at each epoch's end, stops at the first epoch this holds).
pub(crate) fn stalled(epochs: &[EpochMetrics], patience: usize) -> bool {
    if epochs.len() <= patience {
        return false;
    }
    let (before, last) = epochs.split_at(epochs.len() - patience);
    let best_before = before
        .iter()
        .map(|e| e.valid_loss)
        .fold(f64::INFINITY, f64::min);
    last.iter().all(|e| e.valid_loss >= best_before)
}

/// Adds an epoch to the file. The file is rewritten under a temporary name and renamed over the
/// old one, so a crash leaves either the old file or the new one, never half a line.
///
/// Errors: [`MetricsError::Io`] when the file cannot be read or rewritten.
pub(crate) fn append(path: &Path, epoch: &EpochMetrics) -> Result<(), MetricsError> {
    let io_error = |source| MetricsError::Io {
        path: path.to_path_buf(),
        cause: source,
    };
    let mut text = read_if_present(path).map_err(io_error)?.unwrap_or_default();
    text += &serde_json::to_string(epoch).expect("metrics serialize");
    text.push('\n');
    crate::fs::atomic_file::write(path, text).map_err(io_error)
}

/// Every epoch in the file; a missing file is an error.
///
/// Errors: [`MetricsError::Io`] when the file is missing or unreadable; [`MetricsError::Parse`]
/// or [`MetricsError::OutOfOrder`] for a damaged line (see [`parse`]).
pub(crate) fn read_all(path: &Path) -> Result<Vec<EpochMetrics>, MetricsError> {
    let io_error = |source| MetricsError::Io {
        path: path.to_path_buf(),
        cause: source,
    };
    let missing = || std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
    let text = read_if_present(path)
        .and_then(|text| text.ok_or_else(missing))
        .map_err(io_error)?;
    Ok(parse(path, &text)?
        .into_iter()
        .map(|(_, epoch)| epoch)
        .collect())
}

/// The lines of the file with their epochs; a missing file has none.
fn complete_lines(path: &Path) -> Result<Vec<(String, EpochMetrics)>, MetricsError> {
    let text = read_if_present(path).map_err(|source| MetricsError::Io {
        path: path.to_path_buf(),
        cause: source,
    })?;
    text.map_or(Ok(Vec::new()), |text| parse(path, &text))
}

/// Parses every line, which must be epochs 1, 2, 3, ... in order. A damaged line is an error
/// naming it, never a reason to forget the epochs after it. Only an unterminated last line that
/// does not parse is passed over: what a writer killed mid-line leaves.
fn parse(path: &Path, text: &str) -> Result<Vec<(String, EpochMetrics)>, MetricsError> {
    let mut epochs = Vec::new();
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let epoch: EpochMetrics = match serde_json::from_str(line) {
            Ok(epoch) => epoch,
            Err(_) if !line.ends_with('\n') => break,
            Err(source) => {
                return Err(MetricsError::Parse {
                    path: path.to_path_buf(),
                    line: index + 1,
                    cause: source,
                });
            }
        };
        if epoch.epoch != epochs.len() + 1 {
            return Err(MetricsError::OutOfOrder {
                path: path.to_path_buf(),
                line: index + 1,
                found: epoch.epoch,
                expected: epochs.len() + 1,
            });
        }
        let mut kept = line.to_string();
        if !kept.ends_with('\n') {
            kept.push('\n');
        }
        epochs.push((kept, epoch));
    }
    Ok(epochs)
}

/// The epochs recorded so far (none when the file does not exist yet).
///
/// Errors: as [`read_all`], except for a missing file.
pub(crate) fn read_complete(path: &Path) -> Result<Vec<EpochMetrics>, MetricsError> {
    Ok(complete_lines(path)?
        .into_iter()
        .map(|(_, epoch)| epoch)
        .collect())
}

/// Rewrites the file with its first `count` lines only (through a temporary file) and returns
/// their epochs. The lines are kept as written: parsing and printing a float again may not give
/// back the same digits.
///
/// Errors: as [`read_complete`], or [`MetricsError::Io`] when the rewrite fails; a damaged file
/// is left as it is.
pub(crate) fn keep_first(path: &Path, count: usize) -> Result<Vec<EpochMetrics>, MetricsError> {
    let (lines, epochs): (String, Vec<EpochMetrics>) =
        complete_lines(path)?.into_iter().take(count).unzip();
    crate::fs::atomic_file::write(path, lines).map_err(|source| MetricsError::Io {
        path: path.to_path_buf(),
        cause: source,
    })?;
    Ok(epochs)
}

impl std::fmt::Display for EpochMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "train loss {:.4} acc {:.2}%  valid loss {:.4} acc {:.2}%  {:.1} s",
            self.train_loss,
            self.train_accuracy,
            self.valid_loss,
            self.valid_accuracy,
            self.seconds
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_and_reads_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        let epochs: Vec<EpochMetrics> = (1..=3)
            .map(|epoch| EpochMetrics {
                epoch,
                train_loss: 1.0 / epoch as f64,
                train_accuracy: 90.0 + epoch as f64,
                valid_loss: 0.5,
                valid_accuracy: 95.25,
                seconds: 1.5,
                train_seconds: 1.25,
            })
            .collect();
        for epoch in &epochs {
            append(&path, epoch).unwrap();
        }
        assert_eq!(read_all(&path).unwrap(), epochs);
    }

    fn epoch(epoch: usize) -> EpochMetrics {
        EpochMetrics {
            epoch,
            train_loss: 0.5,
            train_accuracy: 90.0,
            valid_loss: 0.4,
            valid_accuracy: 91.0,
            seconds: 1.0,
            train_seconds: 0.75,
        }
    }

    fn write_three_epochs(path: &Path) {
        for e in 1..=3 {
            append(path, &epoch(e)).unwrap();
        }
    }

    #[test]
    fn a_half_written_last_line_is_dropped_and_the_file_can_be_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        write_three_epochs(&path);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"epoch\":4,\"train_lo");
        std::fs::write(&path, text).unwrap();
        assert_eq!(read_complete(&path).unwrap().len(), 3);
        let before = std::fs::read_to_string(&path).unwrap();
        keep_first(&path, 2).unwrap();
        assert_eq!(read_all(&path).unwrap(), vec![epoch(1), epoch(2)]);
        let after = std::fs::read_to_string(&path).unwrap();
        assert!(
            before.starts_with(&after),
            "kept lines are byte for byte the same"
        );
        assert!(
            read_complete(&dir.path().join("none.jsonl"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_damaged_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        std::fs::write(&path, "{\"epoch\":1}\n").unwrap();
        let err = read_all(&path).unwrap_err().to_string();
        assert!(
            err.contains("metrics.jsonl:1: not an epoch record"),
            "{err}"
        );
    }

    #[test]
    fn a_damaged_line_before_others_is_an_error_not_the_end_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        write_three_epochs(&path);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let damaged = format!("{}\n{{\"epoch\":2,\"tr\n{}\n", lines[0], lines[2]);
        std::fs::write(&path, &damaged).unwrap();
        for err in [
            read_complete(&path).unwrap_err(),
            keep_first(&path, 1).unwrap_err(),
            read_all(&path).unwrap_err(),
        ] {
            assert!(err.to_string().contains("metrics.jsonl:2:"), "{err}");
        }
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            damaged,
            "nothing rewritten"
        );

        let swapped = format!("{}\n{}\n", lines[1], lines[0]);
        std::fs::write(&path, swapped).unwrap();
        let err = read_complete(&path).unwrap_err().to_string();
        assert!(
            err.contains("metrics.jsonl:1: records epoch 2 where epoch 1 belongs"),
            "{err}"
        );
    }
}
