//! The per-epoch metrics file of a run: one JSON object per line, appended as epochs end, so a
//! crash keeps every finished epoch and scripts can follow it with `tail -f`.

use std::io::Write;
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

pub fn append(path: &Path, epoch: &EpochMetrics) -> Result<(), MetricsError> {
    let line = serde_json::to_string(epoch).expect("metrics serialize");
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| writeln!(file, "{line}"))
        .map_err(|source| MetricsError::Io {
            path: path.to_path_buf(),
            source,
        })
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

impl std::fmt::Display for EpochMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "train loss {:.4} acc {:.2}%  valid loss {:.4} acc {:.2}%  {:.1} s",
            self.train_loss, self.train_accuracy, self.valid_loss, self.valid_accuracy, self.seconds
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
    fn a_damaged_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        std::fs::write(&path, "{\"epoch\":1}\n").unwrap();
        let err = read_all(&path).unwrap_err().to_string();
        assert!(err.contains("metrics.jsonl:1: not an epoch record"), "{err}");
    }
}
