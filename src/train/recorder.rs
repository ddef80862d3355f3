//! The epoch recorder: Burn's renderer for this program. At each epoch's end it appends the
//! epoch's numbers to the run's metrics file and, off a terminal, prints one plain line (Burn
//! would print a debug line per batch); it stops training when the loss diverges. On a terminal
//! it also hands every event on to Burn's dashboard (`dashboard.rs`).
//!
//! Two ways Burn 0.22.1 would end a run badly are turned into a stop here, as Ctrl-C stops it
//! (the finished epochs' checkpoints kept, the run resumable): the dashboard's `[k]` key ("stop
//! the training immediately"), which makes every later call into the dashboard panic, and a
//! plain line that cannot be printed (a full disk behind `> log`), whose `println!` panic on
//! Burn's thread left training waiting for ever.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::train::Interrupter;
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::renderer::{MetricState, MetricsRenderer};

use crate::process::output::{StdoutError, outln};
use crate::process::signals::StopSignals;
use crate::run::metrics::{self, EpochMetrics};
use crate::train::progress::SplitProgress;

/// The epoch-end values of the two metrics this trainer registers, by split.
#[derive(Debug, Default)]
struct EpochTotals {
    /// The training split's values by metric name.
    train: HashMap<String, f64>,
    /// The validation split's values by metric name.
    valid: HashMap<String, f64>,
}

/// Why this renderer stopped training, shared with the code that launched it.
#[derive(Debug)]
pub(super) enum Halt {
    /// The loss stopped being a number.
    Diverged(Divergence),
    /// An epoch's line could not be added to the metrics file (a full disk, say): without it
    /// the run could not be resumed after that epoch.
    Unrecorded(Unrecorded),
    /// An epoch's plain line could not be printed: training stopped at the next epoch's start,
    /// as a stop signal stops it.
    Unprinted(StdoutError),
    /// The dashboard ended training (its `[k]` key) or failed: stopped as Ctrl-C stops it.
    DashboardStopped,
}

/// A loss that stopped being a number (NaN or infinite): it will not come back.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the {split} loss became {loss} in epoch {epoch}")]
pub(crate) struct Divergence {
    /// "training" or "validation".
    pub split: &'static str,
    /// The loss Burn reported (NaN, inf or -inf).
    pub loss: f64,
    /// The epoch it happened in, counted from 1.
    pub epoch: usize,
}

/// Why an epoch's line is not in the metrics file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Unrecorded {
    /// Burn gave no epoch-end value of a metric.
    #[error("Burn reported no {metric} for the {split} split of epoch {epoch}")]
    Missing {
        /// The metric's display name.
        metric: String,
        /// "training" or "validation".
        split: &'static str,
        /// The epoch, counted from 1.
        epoch: usize,
    },
    /// Appending the line to `metrics.jsonl` failed.
    #[error("cannot record epoch {epoch}: {cause}")]
    Write {
        /// The epoch, counted from 1.
        epoch: usize,
        /// Why the append failed.
        cause: metrics::MetricsError,
    },
}

/// Where the recorder leaves why it stopped training, for `launch` to read once Burn returns.
pub(super) type HaltSlot = Arc<Mutex<Option<Halt>>>;

/// The display names of the two metrics the recorder reads, taken from the metric objects
/// registered with Burn.
#[derive(Debug, Clone)]
pub(super) struct TrackedMetrics {
    /// The loss metric's name.
    pub loss: String,
    /// The accuracy metric's name.
    pub accuracy: String,
}

/// Burn's renderer for a training run: records each finished epoch in `metrics.jsonl`, prints
/// it without the dashboard, stops a diverged run, and forwards events to the dashboard.
pub(super) struct EpochRecorder {
    /// The loss's and accuracy's metric names.
    names: TrackedMetrics,
    /// Burn's TUI when standard output is a terminal; `None` prints plain lines instead.
    dashboard: Option<Box<dyn MetricsRenderer>>,
    /// Stops training when the loss diverges or an epoch cannot be recorded.
    interrupter: Interrupter,
    /// Where the reason for such a stop is left.
    halt: HaltSlot,
    /// The epoch under way, counted from 1 (0 before the first).
    current_epoch: usize,
    /// Each registered metric's display name by id.
    metric_names: HashMap<MetricId, String>,
    /// The epoch-end values received so far in this epoch.
    totals: EpochTotals,
    /// The run's `metrics.jsonl`.
    metrics_path: PathBuf,
    /// The run's epoch count (`num_epochs`), as Burn announces it.
    total_epochs: usize,
    /// When the epoch's training split started, for its seconds.
    epoch_started: Option<Instant>,
    /// Seconds from the epoch's start to its validation split's.
    train_seconds: Option<f64>,
    /// The process's stop signals: told when only the last files remain to write.
    signals: StopSignals,
    /// Whether Ctrl-C raises SIGINT under the dashboard yet (see `crate::process::terminal`).
    ctrl_c_is_a_signal: bool,
    /// An epoch's line could not be printed: training stops when the next epoch starts, so
    /// that the epoch the line describes still gets its checkpoint.
    stop_at_next_epoch: bool,
    /// The split under way, for plain progress lines within it.
    progress: Option<SplitProgress>,
}

impl EpochRecorder {
    /// A recorder appending to `metrics_path` that reads the metrics `names`, forwards to
    /// `dashboard` when there is one, and stops training through `interrupter` (its reason in
    /// `halt`).
    pub(super) fn new(
        names: TrackedMetrics,
        dashboard: Option<Box<dyn MetricsRenderer>>,
        metrics_path: PathBuf,
        interrupter: Interrupter,
        halt: HaltSlot,
        signals: StopSignals,
    ) -> Self {
        Self {
            names,
            dashboard,
            interrupter,
            halt,
            current_epoch: 0,
            metric_names: HashMap::new(),
            totals: EpochTotals::default(),
            metrics_path,
            total_epochs: 0,
            epoch_started: None,
            train_seconds: None,
            signals,
            ctrl_c_is_a_signal: false,
            stop_at_next_epoch: false,
            progress: None,
        }
    }

    /// The dashboard, if there is one. Its thread switches the terminal to raw mode some time
    /// after it starts; every event checks (one system call) until Ctrl-C is a signal again.
    fn dashboard(&mut self) -> Option<&mut Box<dyn MetricsRenderer>> {
        if self.dashboard.is_some() && !self.ctrl_c_is_a_signal {
            self.ctrl_c_is_a_signal = self.signals.keep_ctrl_c_a_signal();
        }
        self.dashboard.as_mut()
    }

    /// Hands an event to the dashboard, if there is one; `None` without one. Burn's dashboard
    /// panics on every call once its `[k]` key was pressed (and its own thread has already
    /// panicked and put the terminal back): that is a stop the user asked for, so training
    /// stops as Ctrl-C stops it, and the rest of the run prints plain lines.
    pub(super) fn forward<T>(
        &mut self,
        event: impl FnOnce(&mut dyn MetricsRenderer) -> T,
    ) -> Option<T> {
        let dashboard = self.dashboard()?;
        match crate::process::panics::catch(|| event(dashboard.as_mut())) {
            Ok(value) => Some(value),
            Err(panic) => {
                log::warn!("the dashboard stopped training: {panic}");
                if let Some(dashboard) = self.dashboard.take() {
                    // Dropping it would send it one more event, and so panic again: its thread
                    // is gone, nothing it holds needs releasing before the process ends.
                    std::mem::forget(dashboard);
                }
                self.stop(Halt::DashboardStopped);
                None
            }
        }
    }

    /// Remembers a metric's display name by its id.
    pub(super) fn on_register(&mut self, definition: &MetricDefinition) {
        self.metric_names
            .insert(definition.metric_id.clone(), definition.name.to_string());
    }

    /// Training starts: the run's epoch count, and the epoch Burn starts at (after a resumed
    /// run's finished ones).
    pub(super) fn on_start(&mut self, total_epochs: usize, starting_epoch: usize) {
        self.total_epochs = total_epochs;
        // Burn counts from 1; a resumed run starts after the epochs it already has.
        self.current_epoch = starting_epoch.saturating_sub(1);
    }

    /// A split of `total` images starts: the training split starts a new epoch and its clock, the
    /// validation split stops the training's part of it.
    pub(super) fn on_split_start(&mut self, split: &str, total: usize) {
        self.progress = Some(SplitProgress::start(split, total, Instant::now()));
        if split == "train" {
            if self.stop_at_next_epoch {
                // The last finished epoch is checkpointed by now; Burn stops at this epoch's
                // first step.
                self.interrupter
                    .stop(Some("standard output cannot be written"));
                return;
            }
            self.epoch_started = Some(Instant::now());
            self.train_seconds = None;
            self.current_epoch += 1;
        } else if let Some(started) = self.epoch_started {
            self.train_seconds = Some(started.elapsed().as_secs_f64());
        }
    }

    /// Without the dashboard, prints a progress line when one is due (see `progress.rs`).
    pub(super) fn on_progress(&mut self, done: usize) {
        if self.dashboard.is_some() {
            return;
        }
        let Some(line) = self
            .progress
            .as_mut()
            .and_then(|progress| progress.line(done, Instant::now()))
        else {
            return;
        };
        let (epoch, total) = (self.current_epoch, self.total_epochs);
        self.print_plain(format_args!("epoch {epoch}/{total}  {line}"));
    }

    /// Prints a plain line; one that cannot be printed stops training when the next epoch
    /// starts (the one under way still gets its checkpoint).
    fn print_plain(&mut self, line: std::fmt::Arguments<'_>) {
        if let Err(error) = outln!("{line}") {
            // Recorded now, in case no epoch follows (the last one, early stopping).
            if self.record(Halt::Unprinted(error)) {
                self.stop_at_next_epoch = true;
            }
        }
    }

    /// Keeps the epoch-end (`Final`) value of a numeric metric; batch values are the
    /// dashboard's business.
    pub(super) fn on_metric(&mut self, state: &MetricState, valid: bool) {
        let MetricState::Numeric(entry, Some(numeric)) = state else {
            return;
        };
        let Some(name) = self.metric_names.get(&entry.metric_id).cloned() else {
            return;
        };
        if name == self.names.loss && !numeric.current().is_finite() {
            self.diverged(numeric.current(), valid);
        }
        let NumericEntry::Final(value) = numeric else {
            return;
        };
        let split = if valid {
            &mut self.totals.valid
        } else {
            &mut self.totals.train
        };
        split.insert(name, *value);
    }

    /// A loss of NaN or infinity will not come back: stop before it reaches a checkpoint.
    fn diverged(&self, loss: f64, valid: bool) {
        let split = if valid { "validation" } else { "training" };
        self.stop(Halt::Diverged(Divergence {
            split,
            loss,
            epoch: self.current_epoch,
        }));
    }

    /// Stops training for `halt`, unless it was already stopped for something else.
    fn stop(&self, halt: Halt) {
        if self.record(halt) {
            self.interrupter.stop(Some("stopped by the epoch recorder"));
        }
    }

    /// Leaves `halt` as the reason training ends, unless another is there already; true when
    /// it was left.
    fn record(&self, halt: Halt) -> bool {
        let mut slot = self.halt.lock().unwrap_or_else(|e| e.into_inner());
        let first = slot.is_none();
        if first {
            *slot = Some(halt);
        }
        first
    }

    /// The epoch's line, from the metrics' epoch-end values; a value Burn did not report is an
    /// error, not a number made up.
    fn epoch_values(
        &mut self,
        totals: &EpochTotals,
        epoch: usize,
    ) -> Result<EpochMetrics, Unrecorded> {
        let value = |values: &HashMap<String, f64>, split: &'static str, name: &str| {
            values
                .get(name)
                .copied()
                .ok_or_else(|| Unrecorded::Missing {
                    metric: name.to_string(),
                    split,
                    epoch,
                })
        };
        let names = &self.names;
        Ok(EpochMetrics {
            epoch,
            train_loss: value(&totals.train, "training", &names.loss)?,
            train_accuracy: value(&totals.train, "training", &names.accuracy)?,
            valid_loss: value(&totals.valid, "validation", &names.loss)?,
            valid_accuracy: value(&totals.valid, "validation", &names.accuracy)?,
            seconds: self
                .epoch_started
                .take()
                .map_or(0.0, |start| start.elapsed().as_secs_f64()),
            train_seconds: self.train_seconds.take().unwrap_or(0.0),
        })
    }

    /// An epoch ended: appends its line to `metrics.jsonl` (none when training was stopped in
    /// it) and prints it without the dashboard; a missing value or a failed write stops training.
    pub(super) fn on_epoch_end(&mut self, epoch: usize) {
        let totals = std::mem::take(&mut self.totals);
        if self.interrupter.should_stop() {
            // Stopped during the epoch (in training or validation): Burn will not checkpoint
            // it, so it is not a finished epoch and gets no line.
            self.epoch_started = None;
            return;
        }
        let epoch_metrics = match self.epoch_values(&totals, epoch) {
            Ok(values) => values,
            Err(missing) => return self.stop(Halt::Unrecorded(missing)),
        };
        if let Err(source) = metrics::append(&self.metrics_path, &epoch_metrics) {
            log::error!("cannot record epoch {epoch}: {source}");
            self.stop(Halt::Unrecorded(Unrecorded::Write {
                epoch,
                cause: source,
            }));
            return;
        }
        if epoch >= self.total_epochs {
            // Only the last checkpoint and the run's files remain to be written: a signal from
            // now on waits for them rather than cutting them short.
            self.signals.finishing();
        }
        if self.dashboard.is_none() {
            let total = self.total_epochs;
            self.print_plain(format_args!("epoch {epoch}/{total}  {epoch_metrics}"));
        }
    }
}
