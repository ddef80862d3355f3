//! PyTorch interchange: a run's model written as the `state_dict` PyTorch would hold for the same
//! network, in safetensors.

pub mod export;
