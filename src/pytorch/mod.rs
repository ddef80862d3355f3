//! PyTorch interchange: a run's model written as the `state_dict` PyTorch would hold for the same
//! network, in safetensors (`export.rs`), and such a `state_dict` read back into a model
//! (`import.rs`, with `layout.rs` saying which network a file holds).

pub(crate) mod export;
pub(crate) mod import;
pub(crate) mod layout;
mod wrappers;

/// Burn's module path of Linear layer `index` of `count`: `hidden.<i>`, the last `output`.
fn burn_layer_path(index: usize, count: usize) -> String {
    if index + 1 == count {
        "output".to_string()
    } else {
        format!("hidden.{index}")
    }
}
