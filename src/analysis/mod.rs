//! Using a trained model: predictions, per-class evaluation, and pictures.

pub mod class_report;
pub mod confusion_png;
pub mod inference;
pub mod plots;
