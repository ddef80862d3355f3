//! The integration tests, in one test binary (one link step): each module runs the real binary
//! on real data and broken inputs for one subject, with the helpers of `common`.
//!
//! - `command_line`: wrong flags, options and configs, each refused in one line;
//! - `data_files`: MNIST's IDX files, in each form they come, and broken or foreign ones;
//! - `training`: training on every backend, the tutorial's building blocks and the CNN, the
//!   dashboard, early stopping and the best epoch, a loss that becomes NaN or infinite;
//! - `resume_and_signals`: resuming, Ctrl-C and the stop signals, kills, a closed pipe, a full
//!   disk, and a run in use by another process;
//! - `run_folder`: what a run folder holds and what it protects;
//! - `using_a_model`: `infer`, `eval` and `report` on a trained run;
//! - `pictures`: people's pictures, decoded and prepared as the model expects them;
//! - `own_data`: folders of your own pictures as datasets, and fine-tuning a run on them;
//! - `serve`: the HTTP server and its page in a real browser;
//! - `pytorch_and_onnx`: export to and import from PyTorch, export to ONNX;
//! - `code_rules`: rules of `src/` read from its text: its layering (DEVELOPERS.md), errors
//!   that print their cause once;
//! - `readme`: every command and snippet of the README runs as printed; its flag table is the
//!   declared flags.
//!
//! They need MNIST (`MNIST_DATA_DIR`, see `common`). One subject alone:
//! `cargo test --release --test tests training::`. The fast tier, the unit tests, which need no
//! MNIST, runs alone with `cargo test --release --lib`.

mod common;

mod code_rules;
mod command_line;
mod data_files;
mod own_data;
mod pictures;
mod pytorch_and_onnx;
mod readme;
mod resume_and_signals;
mod run_folder;
mod serve;
mod training;
mod using_a_model;
