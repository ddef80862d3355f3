//! Whether a model fits in this machine's memory, checked before anything is allocated: an
//! allocation that cannot succeed aborts the process (or panics inside Burn) with no word of
//! which setting asked for it.

use crate::model::ModelConfig;
use crate::model::optimizer::{OptimizerConfig, OptimizerKind};

/// Bytes of one f32, the type of every weight, gradient, moment and activation.
const FLOAT_BYTES: u64 = 4;

/// A model refused before anything is allocated; `origin` names the setting that asked for it
/// (a flag or a config file), `model` its widths ("784-128-10").
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// Its parameter count or byte count overflows 64 bits.
    #[error("{origin}: the model {model} is too large to count its memory in 64 bits")]
    Uncountable { origin: String, model: String },
    /// It needs `needed` bytes to `purpose` ("train", "load", "import"), more than the
    /// `available` bytes.
    #[error(
        "{origin}: the model {model} needs {} to {purpose} ({parameters} parameters), but this machine has {} of memory available",
        gib(*needed),
        gib(*available)
    )]
    TooLarge {
        origin: String,
        model: String,
        purpose: &'static str,
        parameters: u64,
        needed: u64,
        available: u64,
    },
}

/// Bytes training `model` with `optimizer` in batches of `batch_size` images takes at least: weights, gradients and the optimizer's state (Adam's
/// two moments, SGD's momentum) as f32, and one batch's activations with their gradients
/// (3 floats per value an image holds on its way through: an estimate). `None` when the count overflows 64 bits.
pub(crate) fn training_bytes(
    model: &ModelConfig,
    optimizer: &OptimizerConfig,
    batch_size: usize,
) -> Option<u64> {
    let moments = match optimizer.kind {
        OptimizerKind::Adam => 2,
        OptimizerKind::Sgd if optimizer.momentum > 0.0 => 1,
        OptimizerKind::Sgd => 0,
    };
    let parameters = model.parameter_count()?;
    let activations = model
        .activation_count()?
        .checked_mul(batch_size as u64)?
        .checked_mul(3 * FLOAT_BYTES)?;
    parameters
        .checked_mul((2 + moments) * FLOAT_BYTES)?
        .checked_add(activations)
}

/// Bytes loading a trained model takes at least: the record read from disk and the weights.
/// `None` when the count overflows 64 bits.
pub(crate) fn loading_bytes(model: &ModelConfig) -> Option<u64> {
    model.parameter_count()?.checked_mul(2 * FLOAT_BYTES)
}

/// Refuses a model that needs more than `available` bytes (no limit when `None`, a system
/// that does not say). `needed` is in bytes, from [`training_bytes`] or [`loading_bytes`];
/// `purpose` says what for, in the message ("train").
///
/// # Errors
///
/// [`MemoryError::Uncountable`] when `needed` or the parameter count is unknown (overflowed);
/// [`MemoryError::TooLarge`] when `needed` exceeds `available`.
pub(crate) fn ensure_fits(
    origin: &str,
    model: &ModelConfig,
    needed: Option<u64>,
    purpose: &'static str,
    available: Option<u64>,
) -> Result<(), MemoryError> {
    let describe = || model.describe();
    let (Some(needed), Some(parameters)) = (needed, model.parameter_count()) else {
        return Err(MemoryError::Uncountable {
            origin: origin.to_string(),
            model: describe(),
        });
    };
    match available {
        Some(available) if needed > available => Err(MemoryError::TooLarge {
            origin: origin.to_string(),
            model: describe(),
            purpose,
            parameters,
            needed,
            available,
        }),
        _ => Ok(()),
    }
}

/// Memory the system can give this process now: Linux's `MemAvailable`, or else all the
/// physical memory. In bytes; `None` when the system says neither.
pub(crate) fn available_bytes() -> Option<u64> {
    if let Ok(text) = std::fs::read_to_string("/proc/meminfo") {
        let kib = text.lines().find_map(|line| {
            let rest = line.strip_prefix("MemAvailable:")?;
            rest.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()
        });
        if let Some(kib) = kib {
            return Some(kib.saturating_mul(1024));
        }
    }
    physical_bytes()
}

/// All the physical memory, in bytes (pages × page size, from `sysconf`).
#[cfg(unix)]
fn physical_bytes() -> Option<u64> {
    // SAFETY: sysconf only reads system constants.
    let (pages, page_size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    (pages > 0 && page_size > 0).then(|| (pages as u64).saturating_mul(page_size as u64))
}

/// No portable way to ask outside Unix: unknown.
#[cfg(not(unix))]
fn physical_bytes() -> Option<u64> {
    None
}

/// Bytes in GiB (2^30 bytes), one decimal: "16.0 GiB".
fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tutorials_network_needs_little_and_a_huge_one_is_refused_with_its_size() {
        let (tutorial, adam) = (ModelConfig::new(), OptimizerConfig::new());
        let needed = training_bytes(&tutorial, &adam, 64).unwrap();
        // 101,770 parameters x 4 copies x 4 bytes, plus 64 x 922 units x 12 bytes.
        assert_eq!(needed, 101_770 * 16 + 64 * 922 * 12);
        assert!(ensure_fits("x", &tutorial, Some(needed), "train", Some(1 << 30)).is_ok());

        let huge = ModelConfig::new().with_hidden_sizes(vec![4_000_000_000]);
        let err = ensure_fits(
            "--hidden",
            &huge,
            training_bytes(&huge, &adam, 64),
            "train",
            Some(16 << 30),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "--hidden: the model 784-4000000000-10 needs 50246.7 GiB to train (3180000000010 \
             parameters), but this machine has 16.0 GiB of memory available"
        );

        let uncountable = ModelConfig::new().with_hidden_sizes(vec![usize::MAX, 2]);
        let err = ensure_fits("c.json", &uncountable, None, "train", None).unwrap_err();
        assert!(
            err.to_string().contains("too large to count its memory"),
            "{err}"
        );
    }

    #[test]
    fn this_machine_reports_its_memory() {
        let available = available_bytes().expect("Linux and other Unix systems say");
        // /proc/meminfo's MemAvailable, read here on its own (it moves a little between reads).
        let meminfo = std::fs::read_to_string("/proc/meminfo").expect("a Linux machine");
        let line = meminfo
            .lines()
            .find(|line| line.starts_with("MemAvailable:"))
            .expect("MemAvailable in /proc/meminfo");
        let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        let expected = kib * 1024;
        let off = available.abs_diff(expected);
        assert!(
            off < expected / 20 + (64 << 20),
            "{available} against MemAvailable {expected}"
        );
    }
}
