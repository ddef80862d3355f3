//! `flush_denormals`: the CPU treats numbers below f32's normal range (|x| < 1.2e-38) as zero
//! while training, as PyTorch's `torch.set_flush_denormal(True)` does.
//!
//! Adam's second moment is a running mean of squared gradients; for weights whose gradients are
//! tiny it falls into that range, and x86 CPUs take a slow path (tens of cycles) for every
//! operation on such a number. Flushing them to zero makes those steps as fast as the others
//! but changes results in their last bits, so it is the user's choice, off by default.

/// The SSE control bits: flush results to zero (FTZ, bit 15) and read inputs as zero (DAZ,
/// bit 6).
#[cfg(target_arch = "x86_64")]
const FLUSH_BITS: u32 = (1 << 15) | (1 << 6);

/// Flushing denormals on this thread while it lives; the thread's previous setting comes back
/// when it is dropped. x86-64 only: `TrainingConfig::validate` refuses the
/// setting elsewhere.
pub(super) struct FlushDenormals {
    /// The thread's MXCSR register before, put back on drop.
    #[cfg(target_arch = "x86_64")]
    previous: u32,
}

impl FlushDenormals {
    /// Sets FTZ and DAZ on the calling thread (x86-64; nothing elsewhere) until the guard is
    /// dropped.
    pub(super) fn on_this_thread() -> Self {
        #[cfg(target_arch = "x86_64")]
        #[allow(deprecated)] // the intrinsics are deprecated in favour of inline assembly
        // SAFETY: MXCSR is the calling thread's own; only the two flush bits change.
        unsafe {
            use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
            let previous = _mm_getcsr();
            _mm_setcsr(previous | FLUSH_BITS);
            Self { previous }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Self {}
    }
}

impl Drop for FlushDenormals {
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        #[allow(deprecated)]
        // SAFETY: restores this thread's own MXCSR as it was.
        unsafe {
            std::arch::x86_64::_mm_setcsr(self.previous)
        };
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn denormals_are_zero_while_the_guard_lives_and_kept_after() {
        let tiny = std::hint::black_box(1.0e-38f32);
        let halve = |x: f32| std::hint::black_box(x) / std::hint::black_box(4.0f32);
        assert!(halve(tiny) > 0.0, "a denormal result by default");
        {
            let _flush = FlushDenormals::on_this_thread();
            assert_eq!(halve(tiny), 0.0);
        }
        assert!(halve(tiny) > 0.0, "the thread's setting is back");
    }
}
