//! The forwarding half of the epoch recorder: every event Burn sends a renderer goes on to the
//! dashboard when there is one, through `EpochRecorder::forward` (the recorder's own work
//! happens in `recorder.rs`).

use burn::train::LearnerSummary;
use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::MetricDefinition;
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};

use crate::train::recorder::EpochRecorder;

impl MetricsRendererTraining for EpochRecorder {
    fn update_train(&mut self, state: MetricState) {
        self.on_metric(&state, false);
        self.forward(|dashboard| dashboard.update_train(state));
    }

    fn update_valid(&mut self, state: MetricState) {
        self.on_metric(&state, true);
        self.forward(|dashboard| dashboard.update_valid(state));
    }

    fn on_train_end(
        &mut self,
        summary: Option<LearnerSummary>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        self.forward(|dashboard| dashboard.on_train_end(summary))
            .unwrap_or(Ok(()))
    }
}

impl TrainingProgressLogger for EpochRecorder {
    fn start(
        &mut self,
        total_epochs: usize,
        starting_epoch: usize,
        total_items: Option<usize>,
        label: Option<&str>,
    ) {
        self.on_start(total_epochs, starting_epoch);
        self.forward(|dashboard| dashboard.start(total_epochs, starting_epoch, total_items, label));
    }

    fn update_epoch(&mut self, epoch: usize) {
        self.on_epoch_end(epoch);
        self.forward(|dashboard| dashboard.update_epoch(epoch));
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        self.on_split_start(split, total_items);
        self.forward(|dashboard| dashboard.start_split(split, total_items));
    }

    fn update_split(&mut self, items_processed: usize) {
        self.on_progress(items_processed);
        self.forward(|dashboard| dashboard.update_split(items_processed));
    }

    fn end_split(&mut self) {
        self.forward(|dashboard| dashboard.end_split());
    }

    fn end(&mut self) {
        self.forward(|dashboard| dashboard.end());
    }

    fn log_event_training(&mut self, event: String) {
        self.forward(|dashboard| dashboard.log_event_training(event));
    }
}

impl MetricsRenderer for EpochRecorder {
    fn manual_close(&mut self) {
        self.forward(|dashboard| dashboard.manual_close());
    }

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.on_register(&definition);
        self.forward(|dashboard| dashboard.register_metric(definition));
    }
}

// Evaluation through Burn's evaluator is not used; these only keep the dashboard whole.
impl MetricsRendererEvaluation for EpochRecorder {
    fn update_test(&mut self, name: EvaluationName, state: MetricState) {
        self.forward(|dashboard| dashboard.update_test(name, state));
    }
}

impl EvaluationProgressLogger for EpochRecorder {
    fn start_global_progress(&mut self, total_tests: usize) {
        self.forward(|dashboard| dashboard.start_global_progress(total_tests));
    }

    fn start_test(&mut self, name: &str, total_items: usize) {
        self.forward(|dashboard| dashboard.start_test(name, total_items));
    }

    fn update_test_progress(&mut self, items_processed: usize) {
        self.forward(|dashboard| dashboard.update_test_progress(items_processed));
    }

    fn end_test(&mut self) {
        self.forward(|dashboard| dashboard.end_test());
    }

    fn end_global_progress(&mut self) {
        self.forward(|dashboard| dashboard.end_global_progress());
    }

    fn log_event_evaluation(&mut self, event: String) {
        self.forward(|dashboard| dashboard.log_event_evaluation(event));
    }
}
