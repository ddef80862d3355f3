//! The per-epoch metrics file of a run: one JSON object per line, added as epochs end, so a
//! crash keeps every finished epoch.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub train_loss: f64,
    /// Percent, as Burn's `AccuracyMetric` reports it.
    pub train_accuracy: f64,
    pub valid_loss: f64,
    pub valid_accuracy: f64,
    /// Wall time of the epoch, training and validation together.
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: not an epoch record: {source}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        source: serde_json::Error,
    },
}

/// Adds an epoch to the file. The file is rewritten under a temporary name and renamed over the
/// old one, so a crash leaves either the old file or the new one, never half a line.
pub fn append(path: &Path, epoch: &EpochMetrics) -> Result<(), MetricsError> {
    let io_error = |source| MetricsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => return Err(io_error(error)),
    };
    text += &serde_json::to_string(epoch).expect("metrics serialize");
    text.push('\n');
    crate::atomic_file::write(path, text).map_err(io_error)
}

pub fn read_all(path: &Path) -> Result<Vec<EpochMetrics>, MetricsError> {
    let text = std::fs::read_to_string(path).map_err(|source| MetricsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            serde_json::from_str(line).map_err(|source| MetricsError::Parse {
                path: path.to_path_buf(),
                line: index + 1,
                source,
            })
        })
        .collect()
}

/// The whole, parseable lines at the start of the file, each with its epoch: a crash while
/// appending can leave half a line at the end, which must not make the file unreadable.
fn complete_lines(path: &Path) -> Result<Vec<(String, EpochMetrics)>, MetricsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(MetricsError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    Ok(text
        .split_inclusive('\n')
        .take_while(|line| line.ends_with('\n'))
        .map_while(|line| {
            serde_json::from_str(line)
                .ok()
                .map(|epoch| (line.to_string(), epoch))
        })
        .collect())
}

/// The epochs recorded before the first line that is not a whole record.
pub fn read_complete(path: &Path) -> Result<Vec<EpochMetrics>, MetricsError> {
    Ok(complete_lines(path)?
        .into_iter()
        .map(|(_, epoch)| epoch)
        .collect())
}

/// Rewrites the file with its first `count` lines only (through a temporary file). The lines
/// are kept as written: parsing and printing a float again may not give back the same digits.
pub fn keep_first(path: &Path, count: usize) -> Result<(), MetricsError> {
    let kept: String = complete_lines(path)?
        .into_iter()
        .take(count)
        .map(|(line, _)| line)
        .collect();
    crate::atomic_file::write(path, kept).map_err(|source| MetricsError::Io {
        path: path.to_path_buf(),
        source,
    })
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
            })
            .collect();
        for epoch in &epochs {
            append(&path, epoch).unwrap();
        }
        assert_eq!(read_all(&path).unwrap(), epochs);
    }

    #[test]
    fn a_half_written_last_line_is_dropped_and_the_file_can_be_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        let epoch = |epoch| EpochMetrics {
            epoch,
            train_loss: 0.5,
            train_accuracy: 90.0,
            valid_loss: 0.4,
            valid_accuracy: 91.0,
            seconds: 1.0,
        };
        for e in 1..=3 {
            append(&path, &epoch(e)).unwrap();
        }
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
}
