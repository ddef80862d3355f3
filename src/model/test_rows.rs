//! Probability rows for the reader's unit tests (`predict`, `reading`, `steadiness`,
//! `rejection`, `confidence`).

use crate::data::NUM_CLASSES;

/// Probabilities reading `class` at `p` (0-1), the rest, `1 - p`, spread evenly over the other
/// nine classes.
pub(crate) fn row(class: usize, p: f32) -> [f32; NUM_CLASSES] {
    std::array::from_fn(|c| if c == class { p } else { (1.0 - p) / 9.0 })
}
