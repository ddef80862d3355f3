//! Early stopping that holds across a resume. Burn's `MetricEarlyStoppingStrategy` keeps the
//! best epoch in memory: a resumed run started counting its patience afresh, so a run stopped
//! and resumed trained longer than the same run uninterrupted (seen: 8 epochs against 6). This
//! one reads the run's `metrics.jsonl`, where every finished epoch is, with the same rule.

use burn::train::EarlyStoppingStrategy;
use burn::train::metric::store::EventStoreClient;

use crate::run::RunDir;
use crate::run::metrics;

/// Stops training once the validation loss has not improved for `patience` epochs.
#[derive(Clone)]
pub(super) struct StopWhenStalled {
    /// The run whose metrics are read.
    run: RunDir,
    /// Epochs without a lower validation loss that end the run.
    patience: usize,
}

impl StopWhenStalled {
    /// The strategy for `run` with `patience` epochs.
    pub(super) fn new(run: RunDir, patience: usize) -> Self {
        Self { run, patience }
    }
}

impl EarlyStoppingStrategy for StopWhenStalled {
    fn should_stop(&mut self, epoch: usize, _: &EventStoreClient) -> bool {
        // Burn flushes the epoch-end event (the recorder's metrics line) before asking.
        let recorded = metrics::read_all(&self.run.metrics()).unwrap_or_default();
        metrics::stalled(&recorded[..recorded.len().min(epoch)], self.patience)
    }
}
