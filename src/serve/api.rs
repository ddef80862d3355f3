//! The HTTP routes: the page, `POST /api/predict`, `POST /api/collect` (with `--collect`),
//! `GET /api/model`, `GET /healthz`. Every answer is JSON but the page; every refusal a 4xx
//! with `{"error": "..."}` naming the problem.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use burn::prelude::*;
use serde::Serialize;

use crate::data::DatasetKind;
use crate::model::Model;
use crate::model::predict::{Calibrated, ReadDigit, read_digits};
use crate::model::reading::Reading;
use crate::serve::collect::{Class, Collection};
use crate::serve::input::{InputError, check_picture, digits_from_body};

/// Largest request body read: a phone photo fits.
pub(super) const MAX_BODY_BYTES: usize = 2 << 20;
/// Longest a request may take, reading its body included.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The drawing page (`assets/serve/index.html`), embedded at build time.
const PAGE: &str = include_str!("../../assets/serve/index.html");

/// What every request shares: one model, loaded once.
pub(super) struct Served {
    /// The run's model; the lock makes forward passes take turns.
    pub model: Mutex<Model>,
    /// The device the model lives on.
    pub device: Device,
    /// Its dataset, for the class names in answers.
    pub dataset: DatasetKind,
    /// The run's temperature and threshold (`calibration.json`), when it was calibrated.
    pub calibrated: Calibrated,
    /// `GET /api/model`'s answer, made once.
    pub description: serde_json::Value,
    /// Permits to decode a picture ([`DECODES_AT_ONCE`]): each decode may take up to 128 MiB,
    /// so concurrent requests wait their turn rather than add up.
    pub decoding: Arc<tokio::sync::Semaphore>,
    /// Where `POST /api/collect` saves drawings (`--collect`); without it, it saves nothing.
    pub collection: Option<Collection>,
}

/// How many pictures are decoded at once.
pub(super) const DECODES_AT_ONCE: usize = 2;

/// The routes over `served`, with the body limit ([`MAX_BODY_BYTES`]), the time limit
/// ([`REQUEST_TIMEOUT`]) and JSON answers for unknown paths and methods.
pub(super) fn router(served: Arc<Served>) -> Router {
    let collect_route = if served.collection.is_some() {
        post(collect)
    } else {
        any(collect_off)
    };
    Router::new()
        .route("/", get(page))
        .route("/api/predict", post(predict))
        .route("/api/collect", collect_route)
        .route("/api/model", get(model))
        .route("/healthz", get(health))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(time_limit))
        .layer(middleware::from_fn(log_request))
        .with_state(served)
}

/// The client's address, put into each request by the connection that carries it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Peer(pub std::net::SocketAddr);

/// Logs one line per request to standard error, as web servers do: the client, the method and
/// path, the status and the time taken (`127.0.0.1:50412 "POST /api/predict" 200 3.1 ms`).
async fn log_request(request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let peer = request
        .extensions()
        .get::<Peer>()
        .map_or_else(|| "-".to_string(), |peer| peer.0.to_string());
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    let response = next.run(request).await;
    let milliseconds = started.elapsed().as_secs_f64() * 1000.0;
    crate::process::output::errln!(
        "{peer} \"{method} {}\" {} {milliseconds:.1} ms",
        path.escape_debug(),
        response.status().as_u16()
    );
    response
}

/// A refusal: its status and the line that says why.
pub(super) struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl From<InputError> for ApiError {
    fn from(error: InputError) -> Self {
        let status = match error {
            InputError::ContentType(_) | InputError::NotPictureType(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            InputError::TooLarge { .. } | InputError::TooMuchMemory(_) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            InputError::Blank
            | InputError::NotDigits(_)
            | InputError::BadPixel { .. }
            | InputError::NotPixels(_) => StatusCode::UNPROCESSABLE_ENTITY,
            InputError::Empty | InputError::NotAnImage(_) | InputError::NotJson(_) => {
                StatusCode::BAD_REQUEST
            }
        };
        ApiError(status, error.to_string())
    }
}

/// The answer, in the schema `infer --json` uses too, with the pictures the model read.
#[derive(Serialize)]
struct Answer {
    /// The number, each digit with its box, and a one-digit picture's prediction, as
    /// `infer --json` prints them.
    #[serde(flatten)]
    reading: Reading,
    /// The 28×28 grey levels the model read for each digit, left to right, row by row (0
    /// paper, 255 ink).
    inputs: Vec<Vec<u8>>,
    /// A one-digit picture's 28×28 input (`inputs`' only one); absent for a number of several.
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<Vec<u8>>,
}

/// `GET /`: the page, with a content security policy that lets it load nothing else.
async fn page() -> Response {
    let mut response = axum::response::Html(PAGE).into_response();
    let headers = response.headers_mut();
    // Everything the page needs is inside it: nothing else may load.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; connect-src 'self'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `POST /api/predict`: the body (a picture or JSON grey levels) read as 784 pixels and
/// predicted on a blocking thread. Errors: 400, 413, 415 or 422 for a body that cannot be read
/// (see [`InputError`]), 500 when the model's lock is poisoned or the task fails.
async fn predict(
    State(served): State<Arc<Served>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Answer>, ApiError> {
    let body = body.map_err(body_refused)?;
    let content_type = content_type(&headers);
    // Held until the blocking work ends, even if the request times out first.
    let permit = decode_permit(&served).await?;
    // Decoding and the forward pass are CPU work: off the thread that answers connections.
    let answer = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        read(&served, content_type.as_deref(), &body)
    })
    .await
    .map_err(|_| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "prediction failed".to_string(),
        )
    })??;
    Ok(Json(answer))
}

/// A body that could not be read (over [`MAX_BODY_BYTES`], cut off) as the refusal naming why.
fn body_refused(rejection: BytesRejection) -> ApiError {
    let status = rejection.status();
    let reason = if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!("the body is over {} MiB", MAX_BODY_BYTES >> 20)
    } else {
        rejection.body_text()
    };
    ApiError(status, reason)
}

/// A request's Content-Type, `unreadable` when it is not text.
fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .map(|value| value.to_str().unwrap_or("unreadable").to_string())
}

/// A permit to decode a picture (see [`Served::decoding`]), waited for.
///
/// Errors: 503 when the server is stopping.
async fn decode_permit(served: &Served) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    Arc::clone(&served.decoding)
        .acquire_owned()
        .await
        .map_err(|_| {
            ApiError(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is stopping".into(),
            )
        })
}

/// What the served model reads in a request's body: its digits found and prepared, each
/// predicted (at the run's temperature), with the 28×28 inputs. Blocking work: decoding and the
/// forward pass.
///
/// Errors: the body's [`InputError`] as a 4xx, or 500 when the model's lock is poisoned.
fn read(served: &Served, content_type: Option<&str>, body: &[u8]) -> Result<Answer, ApiError> {
    let digits = digits_from_body(content_type, body, served.dataset.reads_numbers())?;
    let model = served.model.lock().map_err(|_| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the model is unusable after an earlier failure".to_string(),
        )
    })?;
    let read = read_digits(&model, vec![digits], &served.device, served.calibrated)
        .pop()
        .unwrap_or_default();
    let found: Vec<_> = read.iter().map(ReadDigit::region).collect();
    let inputs: Vec<Vec<u8>> = read.iter().map(|read| read.digit.pixels.to_vec()).collect();
    Ok(Answer {
        reading: Reading::new(
            &found,
            served.dataset,
            served.calibrated.not_a_digit_below,
            served.calibrated.unsure_below,
        ),
        input: (inputs.len() == 1).then(|| inputs[0].clone()),
        inputs,
    })
}

/// `POST /api/collect?class=N` (with `--collect DIR`): the body, a picture as the page draws it
/// (PNG) or any the server decodes, saved byte for byte into `DIR/<N>/` under a new name;
/// answers 201 with `{"saved": "<N>/<name>", "class": N, "count": <pictures in DIR/<N>/>}`.
/// Errors: 400 for a class that is not an index 0-9, then 400, 413, 415
/// or 422 for a body that is not a picture with ink (see [`InputError`]), checked before
/// anything is written; 500 when it cannot be written (nothing of it is left).
async fn collect(
    State(served): State<Arc<Served>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let class = Class::from_query(query.as_deref())
        .map_err(|reason| ApiError(StatusCode::BAD_REQUEST, reason))?;
    let body = body.map_err(body_refused)?;
    let content_type = content_type(&headers);
    let permit = decode_permit(&served).await?;
    let saved = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        check_picture(content_type.as_deref(), &body)?;
        let Some(collection) = &served.collection else {
            return Err(collecting_is_off());
        };
        collection
            .save(class, &body)
            .map_err(|error| ApiError(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()))
    })
    .await
    .map_err(|_| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "saving failed".to_string(),
        )
    })??;
    let answer = serde_json::json!({
        "saved": saved.path,
        "class": class.index(),
        "count": saved.count,
    });
    Ok((StatusCode::CREATED, Json(answer)))
}

/// `/api/collect` on a server started without `--collect`: 404, saying how to turn it on.
async fn collect_off() -> ApiError {
    collecting_is_off()
}

/// The refusal of a save on a server that does not collect.
fn collecting_is_off() -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        "saving drawings is off: start serve with --collect DIR to save them into DIR/<class>/"
            .to_string(),
    )
}

/// `GET /api/model`: what is served (see `serve::describe`).
async fn model(State(served): State<Arc<Served>>) -> Json<serde_json::Value> {
    Json(served.description.clone())
}

/// `GET /healthz`: `{"status": "ok"}` while the server answers.
async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// 404 for any other path, listing the routes.
async fn not_found() -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        "no such page: the server has /, /api/predict, /api/collect, /api/model and /healthz"
            .to_string(),
    )
}

/// 405 for a known path with another method.
async fn method_not_allowed() -> ApiError {
    ApiError(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed: POST /api/predict and /api/collect, GET everything else".to_string(),
    )
}

/// Answers 408 to a request (its body included) that takes longer than `REQUEST_TIMEOUT`.
async fn time_limit(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request took longer than {} s",
                REQUEST_TIMEOUT.as_secs()
            ),
        )
        .into_response(),
    }
}
