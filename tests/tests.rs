//! The integration tests, in one test binary (one link step instead of thirteen): each module
//! runs the real binary on real data and broken inputs for one subject, with the helpers of
//! `common`. The unit tests, which need no MNIST, run alone with `cargo test --release --lib`.

mod common;

mod cnn;
mod errors;
mod guarantees;
mod integrity;
mod onnx;
mod options;
mod pictures;
mod promises;
mod pytorch;
mod readme;
mod resume;
mod serve;
mod train;
mod use_model;
