//! What a run is about to do, printed when it starts (before the dashboard takes the screen):
//! the model as a table of layers, the data (and the outliers shown beside it), the backend and
//! device, and for a resumed run where it resumes. A CNN's first epoch takes minutes on two
//! cores; nothing was said before.

use crate::data::outliers::OutlierExposure;
use crate::model::summary::{counted, grouped, layer_table};
use crate::train::{Existing, RunData, TrainRequest};

/// The lines printed at a run's start; `adapter` is the GPU's name on a GPU backend, and
/// `done_epochs` the epochs a resumed run already has.
pub(super) fn overview(
    request: &TrainRequest,
    data: &RunData,
    adapter: Option<&str>,
    done_epochs: usize,
) -> String {
    let config = &request.config;
    let batches = data.train.len().div_ceil(config.batch_size.max(1));
    let (start, device) = (start(request, done_epochs), device(request, adapter));
    let validation = validation(request, data);
    format!(
        "{start}; each {batches} {} of {}, {} lr {}, on {device}\n\
         model {} ({} parameters):\n{}\n\
         data {} from {}: {} training images{}, {validation}, {} test images{}",
        if batches == 1 { "batch" } else { "batches" },
        config.batch_size,
        config.optimizer.kind,
        config.learning_rate,
        config.model.describe(),
        config
            .model
            .parameter_count()
            .map_or_else(|| "too many".to_string(), grouped),
        layer_table(&config.model, config.batch_size),
        config.dataset.title(),
        data.description,
        grouped(data.train.len() as u64),
        mixed_in(request, data),
        grouped(data.test.len() as u64),
        outliers(request, data),
    )
}

/// `; outlier exposure W: N outliers with each batch of B (their kinds)`: what a run with
/// Outlier Exposure is shown besides its images (`data::outliers`), nothing for other runs.
fn outliers(request: &TrainRequest, data: &RunData) -> String {
    let config = &request.config;
    if config.outlier_exposure == 0.0 {
        return String::new();
    }
    let batch = config.batch_size.max(1);
    let kinds = match data.font_outliers.len() {
        0 => "pairs of digits and tangles".to_string(),
        letters => format!(
            "pairs of digits, tangles, and {} letters and symbols drawn in fonts",
            grouped(letters as u64)
        ),
    };
    format!(
        "; outlier exposure {}: {} with each batch of {batch} ({kinds})",
        config.outlier_exposure,
        counted(OutlierExposure::count_for(batch) as u64, "outlier"),
    )
}

/// ` (N of them the parent run's, M digits drawn in fonts)`: the images not of the dataset
/// itself, when there are any.
fn mixed_in(request: &TrainRequest, data: &RunData) -> String {
    let parents = match (&request.config.finetune, data.mixed_in) {
        (Some(parent), count) if count > 0 => Some(format!(
            "{} of them {}'s",
            grouped(count as u64),
            parent.display()
        )),
        _ => None,
    };
    let fonts = (data.font_digits > 0).then(|| {
        format!(
            "{} drawn in fonts",
            counted(data.font_digits as u64, "digit")
        )
    });
    let parts: Vec<String> = parents.into_iter().chain(fonts).collect();
    match parts.is_empty() {
        true => String::new(),
        false => format!(" ({})", parts.join(", ")),
    }
}

/// What the run does first: `training RUN for N epochs`, or where a resumed run resumes.
fn start(request: &TrainRequest, done_epochs: usize) -> String {
    let (run, epochs) = (request.run.root().display(), request.config.num_epochs);
    if request.existing != Existing::Resume {
        let plural = if epochs == 1 { "" } else { "s" };
        let from = match &request.config.finetune {
            Some(parent) => format!(", from the model of {}", parent.display()),
            None => String::new(),
        };
        return format!("training {run} for {epochs} epoch{plural}{from}");
    }
    let from = match done_epochs {
        0 => "no epoch had finished".to_string(),
        done => format!("from epoch {done}'s checkpoint"),
    };
    format!(
        "resuming {run} at epoch {} of {epochs}, {from}",
        done_epochs + 1
    )
}

/// The backend and what it runs on: the GPU's name, or the CPU and its threads.
fn device(request: &TrainRequest, adapter: Option<&str>) -> String {
    match adapter {
        Some(adapter) => format!("{}: {adapter}", request.backend),
        None => {
            let threads = std::thread::available_parallelism().map_or(1, usize::from);
            format!("{}: the CPU, {threads} threads", request.backend)
        }
    }
}

/// What each epoch is validated on: the test split (the tutorial's way) or the hold-out.
fn validation(request: &TrainRequest, data: &RunData) -> String {
    let images = grouped(data.valid.len() as u64);
    if request.config.valid_size == 0 {
        format!("validated on the {images} test images (the tutorial's way)")
    } else {
        format!("validated on {images} held-out training images")
    }
}
