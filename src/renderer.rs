//! What training shows and records at each epoch's end.
//!
//! On a terminal Burn's TUI dashboard draws the run; elsewhere (a pipe, a CI log) Burn would
//! print one debug line per batch, so this renderer prints one plain line per epoch instead.
//! Either way it appends the epoch's numbers to the run's metrics file.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};
use burn::train::{Interrupter, LearnerSummary};

use crate::metrics::{self, EpochMetrics};

/// The epoch-end values of the two metrics this trainer registers, by split.
#[derive(Debug, Default)]
struct EpochTotals {
    train: HashMap<String, f64>,
    valid: HashMap<String, f64>,
}

/// Why this renderer stopped training, shared with the code that launched it.
#[derive(Debug, Clone, PartialEq)]
pub enum Halt {
    /// The loss stopped being a number.
    Diverged(String),
    /// An epoch's line could not be added to the metrics file (a full disk, say): without it
    /// the run could not be resumed after that epoch.
    Unrecorded(String),
}

pub type HaltSlot = Arc<Mutex<Option<Halt>>>;

pub struct EpochRenderer {
    /// Burn's TUI when standard output is a terminal; `None` prints plain lines instead.
    dashboard: Option<Box<dyn MetricsRenderer>>,
    /// Stops training when the loss diverges or an epoch cannot be recorded.
    interrupter: Interrupter,
    halt: HaltSlot,
    current_epoch: usize,
    metric_names: HashMap<MetricId, String>,
    totals: EpochTotals,
    metrics_path: PathBuf,
    total_epochs: usize,
    epoch_started: Option<Instant>,
}

impl EpochRenderer {
    pub fn new(
        dashboard: Option<Box<dyn MetricsRenderer>>,
        metrics_path: PathBuf,
        interrupter: Interrupter,
        halt: HaltSlot,
    ) -> Self {
        Self {
            dashboard,
            interrupter,
            halt,
            current_epoch: 0,
            metric_names: HashMap::new(),
            totals: EpochTotals::default(),
            metrics_path,
            total_epochs: 0,
            epoch_started: None,
        }
    }

    /// Keeps the epoch-end (`Final`) value of a numeric metric; batch values are the
    /// dashboard's business.
    fn record(&mut self, state: &MetricState, valid: bool) {
        let MetricState::Numeric(entry, Some(numeric)) = state else {
            return;
        };
        let Some(name) = self.metric_names.get(&entry.metric_id).cloned() else {
            return;
        };
        if name == "Loss" && !numeric.current().is_finite() {
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
        self.stop(Halt::Diverged(format!(
            "the {split} loss became {loss} in epoch {}",
            self.current_epoch
        )));
    }

    /// Stops training for `halt`, unless it was already stopped for something else.
    fn stop(&self, halt: Halt) {
        let mut slot = self.halt.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(halt);
            self.interrupter.stop(Some("stopped by the epoch recorder"));
        }
    }

    fn finish_epoch(&mut self, epoch: usize) {
        let totals = std::mem::take(&mut self.totals);
        if self.interrupter.should_stop() {
            // Stopped during the epoch (in training or validation): Burn will not checkpoint
            // it, so it is not a finished epoch and gets no line.
            self.epoch_started = None;
            return;
        }
        let value =
            |split: &HashMap<String, f64>, name: &str| split.get(name).copied().unwrap_or(f64::NAN);
        let epoch_metrics = EpochMetrics {
            epoch,
            train_loss: value(&totals.train, "Loss"),
            train_accuracy: value(&totals.train, "Accuracy"),
            valid_loss: value(&totals.valid, "Loss"),
            valid_accuracy: value(&totals.valid, "Accuracy"),
            seconds: self
                .epoch_started
                .take()
                .map_or(f64::NAN, |start| start.elapsed().as_secs_f64()),
        };
        if let Err(error) = metrics::append(&self.metrics_path, &epoch_metrics) {
            log::error!("cannot record epoch {epoch}: {error}");
            self.stop(Halt::Unrecorded(format!(
                "cannot record epoch {epoch}: {error}"
            )));
            return;
        }
        if epoch >= self.total_epochs {
            // Only the last checkpoint and the run's files remain to be written: a Ctrl-C from
            // now on waits for them rather than cutting them short.
            crate::interrupt::finishing();
        }
        if self.dashboard.is_none() {
            println!("epoch {epoch}/{}  {epoch_metrics}", self.total_epochs);
        }
    }
}

impl MetricsRendererTraining for EpochRenderer {
    fn update_train(&mut self, state: MetricState) {
        self.record(&state, false);
        if let Some(dashboard) = &mut self.dashboard {
            dashboard.update_train(state);
        }
    }

    fn update_valid(&mut self, state: MetricState) {
        self.record(&state, true);
        if let Some(dashboard) = &mut self.dashboard {
            dashboard.update_valid(state);
        }
    }

    fn on_train_end(
        &mut self,
        summary: Option<LearnerSummary>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        match &mut self.dashboard {
            Some(dashboard) => dashboard.on_train_end(summary),
            None => Ok(()),
        }
    }
}

impl TrainingProgressLogger for EpochRenderer {
    fn start(
        &mut self,
        total_epochs: usize,
        starting_epoch: usize,
        total_items: Option<usize>,
        label: Option<&str>,
    ) {
        self.total_epochs = total_epochs;
        // Burn counts from 1; a resumed run starts after the epochs it already has.
        self.current_epoch = starting_epoch.saturating_sub(1);
        if let Some(dashboard) = &mut self.dashboard {
            dashboard.start(total_epochs, starting_epoch, total_items, label);
        }
    }

    fn update_epoch(&mut self, epoch: usize) {
        self.finish_epoch(epoch);
        if let Some(dashboard) = &mut self.dashboard {
            dashboard.update_epoch(epoch);
        }
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        if split == "train" {
            self.epoch_started = Some(Instant::now());
            self.current_epoch += 1;
        }
        if let Some(dashboard) = &mut self.dashboard {
            dashboard.start_split(split, total_items);
        }
    }

    fn update_split(&mut self, items_processed: usize) {
        if let Some(dashboard) = &mut self.dashboard {
            dashboard.update_split(items_processed);
        }
    }

    fn end_split(&mut self) {
        if let Some(dashboard) = &mut self.dashboard {
            dashboard.end_split();
        }
    }

    fn end(&mut self) {
        if let Some(dashboard) = &mut self.dashboard {
            dashboard.end();
        }
    }

    fn log_event_training(&mut self, event: String) {
        if let Some(dashboard) = &mut self.dashboard {
            dashboard.log_event_training(event);
        }
    }
}

impl MetricsRenderer for EpochRenderer {
    fn manual_close(&mut self) {
        if let Some(dashboard) = &mut self.dashboard {
            dashboard.manual_close();
        }
    }

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.metric_names
            .insert(definition.metric_id.clone(), definition.name.to_string());
        if let Some(dashboard) = &mut self.dashboard {
            dashboard.register_metric(definition);
        }
    }
}

// Evaluation through Burn's evaluator is not used; these only keep the dashboard whole.
impl MetricsRendererEvaluation for EpochRenderer {
    fn update_test(&mut self, name: EvaluationName, state: MetricState) {
        if let Some(dashboard) = &mut self.dashboard {
            dashboard.update_test(name, state);
        }
    }
}

impl EvaluationProgressLogger for EpochRenderer {
    fn start_global_progress(&mut self, total_tests: usize) {
        if let Some(dashboard) = &mut self.dashboard {
            dashboard.start_global_progress(total_tests);
        }
    }

    fn start_test(&mut self, name: &str, total_items: usize) {
        if let Some(dashboard) = &mut self.dashboard {
            dashboard.start_test(name, total_items);
        }
    }

    fn update_test_progress(&mut self, items_processed: usize) {
        if let Some(dashboard) = &mut self.dashboard {
            dashboard.update_test_progress(items_processed);
        }
    }

    fn end_test(&mut self) {
        if let Some(dashboard) = &mut self.dashboard {
            dashboard.end_test();
        }
    }

    fn end_global_progress(&mut self) {
        if let Some(dashboard) = &mut self.dashboard {
            dashboard.end_global_progress();
        }
    }

    fn log_event_evaluation(&mut self, event: String) {
        if let Some(dashboard) = &mut self.dashboard {
            dashboard.log_event_evaluation(event);
        }
    }
}
