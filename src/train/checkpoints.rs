//! Which checkpoints a run keeps. Burn's default strategy (the last two epochs and the lowest
//! validation loss) keeps its memory in the process: after a resume it forgets the epochs
//! before it and never deletes their files (a resumed 30-epoch run kept `model-14.bpk` and
//! `model-15.bpk` of the run it continued). This one reads the run's own files instead, so it
//! holds after any resume: every epoch is saved; the two latest (the one before the last is
//! the resume point if the last cannot be written: a full disk) and the epoch with the lowest
//! validation loss in `metrics.jsonl` are kept; every other checkpoint on disk is deleted.

use burn::train::checkpoint::{CheckpointingAction, CheckpointingStrategy};
use burn::train::metric::store::EventStoreClient;

use crate::run::RunDir;
use crate::run::metrics;

/// The run's checkpointing strategy (see the module's documentation).
pub(super) struct KeepLatestAndBest {
    /// The run whose metrics and checkpoints are read.
    run: RunDir,
}

impl KeepLatestAndBest {
    /// The strategy for `run`.
    pub(super) fn new(run: RunDir) -> Self {
        Self { run }
    }
}

impl CheckpointingStrategy for KeepLatestAndBest {
    fn checkpointing(&mut self, epoch: usize, _: &EventStoreClient) -> Vec<CheckpointingAction> {
        // Burn records the epoch's metrics line before it checkpoints (the recorder runs on
        // the epoch-end event, which Burn flushes first): the line of `epoch` is there.
        let recorded = metrics::read_all(&self.run.metrics()).unwrap_or_default();
        let best = metrics::best_epoch(&recorded[..recorded.len().min(epoch)]);
        let keep = |kept: usize| kept == epoch || kept + 1 == epoch || Some(kept) == best;
        std::iter::once(CheckpointingAction::Save)
            .chain(
                self.run
                    .checkpoint_epochs()
                    .into_iter()
                    .filter(|&kept| !keep(kept))
                    .map(CheckpointingAction::Delete),
            )
            .collect()
    }
}
