//! Using a trained model: predictions, per-class evaluation, and pictures.

pub(crate) mod calibration;
pub(crate) mod class_report;
pub(crate) mod confusion_png;
pub(crate) mod plots;
