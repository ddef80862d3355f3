//! The one place a backend name becomes a Burn `Device`.

use burn::prelude::*;
use burn::tensor::DeviceKind;

/// The Burn backend a command computes on (`--backend`; recorded as `backend` in
/// `summary.json`); [`Backend::device`] makes its device.
#[derive(
    Debug,
    Default,
    Clone,
    Copy,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Burn's ndarray backend: pure Rust, on the CPU.
    Ndarray,
    /// Burn's flex backend: pure Rust, on the CPU (ndarray's successor; the default, measured
    /// faster for this network by bench/speed.py).
    #[default]
    Flex,
    /// wgpu: the GPU through Vulkan, Metal or DirectX (or a CPU Vulkan driver such as lavapipe).
    Wgpu,
}

/// A backend whose device failed its first operation (see [`Backend::device`]).
#[derive(Debug, thiserror::Error)]
#[error("the {backend} backend cannot start: {reason}{hint}")]
pub struct BackendError {
    /// The backend that failed.
    backend: Backend,
    /// The panic's first line, in words where it says nothing to a user (see `in_words`).
    reason: String,
    /// What to try, beginning with a space (a GPU driver for wgpu); empty for the others.
    hint: &'static str,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Ndarray => "ndarray",
            Backend::Flex => "flex",
            Backend::Wgpu => "wgpu",
        })
    }
}

/// The name of the GPU adapter `device` runs on (`NVIDIA H200`, `llvmpipe (LLVM ...)` for
/// Mesa's CPU driver); `None` on the CPU backends.
pub(crate) fn adapter_name(device: &Device) -> Option<String> {
    device.identity().map(|identity| identity.name)
}

/// What a backend's start-up panic means: cubecl's wgpu runtime dies on an `unwrap()` of a
/// channel (`RecvError`) when no adapter answers, which says nothing to a user.
fn in_words(backend: Backend, panic: String) -> String {
    let internal = panic.starts_with("called `Result::unwrap()`")
        || panic.starts_with("called `Option::unwrap()`");
    match backend {
        Backend::Wgpu if internal => "no usable GPU adapter was found".to_string(),
        _ => panic,
    }
}

impl Backend {
    /// The device for this backend, checked to run one operation: wgpu finds out only at its
    /// first kernel whether the machine has a usable adapter, and says so with a panic.
    ///
    /// # Errors
    /// [`BackendError`] when the probe (summing a 2-element tensor) panics, e.g. wgpu with no
    /// usable adapter.
    pub fn device(self) -> Result<Device, BackendError> {
        let device = match self {
            // ndarray is deprecated upstream in favour of flex, but stays selectable: it is the
            // backend this port started on and a second CPU reference.
            #[allow(deprecated)]
            Backend::Ndarray => Device::ndarray(),
            Backend::Flex => Device::flex(),
            Backend::Wgpu => Device::wgpu(DeviceKind::DefaultDevice),
        };
        let probe = device.clone();
        crate::process::panics::catch_quietly(move || {
            let sum: f32 = Tensor::<1>::from_floats([1.0, 2.0], &probe).sum().into_scalar::<f32>();
            sum
        })
        .map_err(|reason| BackendError {
            backend: self,
            reason: in_words(self, reason),
            hint: match self {
                Backend::Wgpu => " (is a GPU driver installed? On Linux without a GPU, Mesa's lavapipe: apt-get install mesa-vulkan-drivers)",
                _ => "",
            },
        })?;
        Ok(device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wgpu_start_up_panic_reads_as_words() {
        let panic = "called `Result::unwrap()` on an `Err` value: RecvError".to_string();
        assert_eq!(
            in_words(Backend::Wgpu, panic),
            "no usable GPU adapter was found"
        );
        assert_eq!(
            in_words(Backend::Wgpu, "out of memory".into()),
            "out of memory"
        );
    }
}
