//! `serve`: one run's model behind a web page to draw on and a JSON API (`api.rs`), the page
//! embedded in the binary (`assets/serve/index.html`), request bodies read by `input.rs`,
//! drawings saved with their class by `collect.rs` (`--collect DIR`).
//!
//! One tokio runtime on the current thread answers connections, within the limits
//! `connections.rs` sets; decoding and the forward pass run on tokio's blocking threads, the
//! forward passes one at a time on the one model. A stop signal stops the server cleanly.

mod api;
mod collect;
mod connections;
pub(crate) mod input;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};

use crate::backend::Backend;
use crate::data::IMAGE_PIXELS;
use crate::model::predict::Calibrated;
use crate::process::output::outln;
use crate::process::signals::{StopSignal, StopSignals};
use crate::run::RunDir;
use api::Served;
use collect::Collection;
use connections::{Limits, serve_connections};

/// Where and what to serve.
pub(crate) struct ServeRequest {
    /// The run whose model is served.
    pub run: RunDir,
    /// The backend the model runs on.
    pub backend: Backend,
    /// The address to listen on (`127.0.0.1`, `0.0.0.0`).
    pub host: String,
    /// The TCP port; 0 lets the system pick a free one (printed).
    pub port: u16,
    /// A kept checkpoint's epoch to serve instead of `model.bpk`.
    pub epoch: Option<usize>,
    /// `--collect`: the folder `POST /api/collect` saves drawings into, by class; none saves
    /// nothing.
    pub collect: Option<PathBuf>,
    /// The process's stop signals: the first one stops the server.
    pub signals: StopSignals,
}

/// Loads the model, then answers requests until a stop signal arrives, which it returns once
/// the requests under way are answered. Prints the address it listens on (one line, flushed)
/// once it does.
///
/// # Errors
/// The `--collect` folder cannot be used (see [`Collection::open`]), the backend does not
/// start, the model cannot be loaded, the runtime cannot start, the address cannot be listened
/// on, or standard output cannot be written.
pub(crate) fn serve(request: ServeRequest) -> Result<Option<StopSignal>> {
    // Checked first: a mistyped folder is told at once, before the model loads.
    let collection = request
        .collect
        .as_deref()
        .map(Collection::open)
        .transpose()?;
    let device = request.backend.device()?;
    let (config, model) = request.run.load_model_at(request.epoch, &device)?;
    let calibrated = request.run.calibrated(request.epoch)?;
    // A GPU backend compiles its kernels on the first forward pass (tens of seconds on a
    // software Vulkan): done here, not inside the first request's time limit.
    crate::model::predict::probabilities(&model, &[0; IMAGE_PIXELS], &device);
    let description = describe(
        &request.run,
        &config,
        request.backend,
        request.epoch,
        calibrated,
        collection.is_some(),
    );
    let served = Arc::new(Served {
        model: Mutex::new(model.with_loss(config.loss)),
        device,
        dataset: config.dataset,
        calibrated,
        description,
        decoding: Arc::new(tokio::sync::Semaphore::new(api::DECODES_AT_ONCE)),
        collection,
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the server's runtime")?;
    runtime.block_on(async move {
        let address = format!("{}:{}", request.host, request.port);
        let listener = tokio::net::TcpListener::bind(&address)
            .await
            .with_context(|| format!("{address}: cannot listen (pass another --host or --port)"))?;
        let bound: SocketAddr = listener.local_addr().context("the listening address")?;
        let (stop, stopped) = tokio::sync::oneshot::channel();
        request.signals.during_serving(move |signal| {
            let _ = stop.send(signal);
        });
        // Scripts and tests read the address from this line as soon as it is there (outln
        // flushes it).
        let collection = served.collection.as_ref();
        outln!("{}", listening(&request, &config, bound, collection))?;
        let limits = Limits::for_this_process();
        Ok(serve_connections(listener, api::router(served), limits, stopped).await)
    })
}

/// The line saying what is served where: `serving RUN (model, dataset[, epoch N]) on
/// http://ADDRESS/[, saving drawings into DIR/<class>/] (Ctrl-C stops)`. One line only: a
/// script that reads it and closes the pipe must not make a second line's write fail and stop
/// the server.
fn listening(
    request: &ServeRequest,
    config: &crate::config::TrainingConfig,
    bound: SocketAddr,
    collection: Option<&Collection>,
) -> String {
    let epoch = request
        .epoch
        .map_or_else(String::new, |epoch| format!(", epoch {epoch}"));
    let collecting = collection.map_or_else(String::new, |collection| {
        format!(
            ", saving drawings into {}/<class>/",
            collection.dir().display()
        )
    });
    format!(
        "serving {} ({}, {}{epoch}) on http://{bound}/{collecting} (Ctrl-C stops)",
        request.run.root().display(),
        config.model.describe(),
        config.dataset.title()
    )
}

/// `GET /api/model`: what is served, for the page and for scripts.
fn describe(
    run: &RunDir,
    config: &crate::config::TrainingConfig,
    backend: Backend,
    epoch: Option<usize>,
    calibrated: Calibrated,
    collecting: bool,
) -> serde_json::Value {
    // The run's own summary says how it was made and how well it scored, when it has one.
    let summary = run.summary_json().ok().flatten().unwrap_or_default();
    serde_json::json!({
        "run": run.root().file_name().map(|name| name.to_string_lossy()),
        "model": config.model.describe(),
        "activation": config.model.activation,
        "parameters": config.model.parameter_count(),
        "dataset": config.dataset,
        "dataset_title": config.dataset.title(),
        "class_names": config.dataset.class_names(),
        "status": summary["status"],
        // The summary's score is model.bpk's, not a checkpoint's.
        "test_accuracy": if epoch.is_none() { summary["test_accuracy"].clone() } else { serde_json::Value::Null },
        "epoch": epoch.or_else(|| summary["model_epoch"].as_u64().and_then(|e| usize::try_from(e).ok())),
        "backend": backend,
        // What infer answers with: calibration.json's, as it was when the server started.
        "temperature": calibrated.temperature,
        "not_a_digit_below": calibrated.not_a_digit_below,
        "unsure_below": calibrated.unsure_below,
        "confidence_map": calibrated.confidence.map(|map| [map.slope, map.offset]),
        // Whether POST /api/collect saves drawings (--collect), for the page's class buttons.
        "collect": collecting,
        "config": serde_json::to_value(config).unwrap_or_default(),
    })
}
