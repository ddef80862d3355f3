//! glibc's allocator told to keep freed memory for the next training step.
//!
//! A training step allocates and frees the same few tensors of several megabytes each batch
//! (the CNN's feature maps are 9.4 MB at batch 64). With glibc's defaults each is handed back to
//! the kernel when freed (unmapped, or trimmed off the heap's top) and the next step's copy
//! page-faults every 4 KiB page in again, zeroed, with a TLB shootdown to the other threads'
//! cores: measured 40% of a CNN epoch on flex, kernel time (docs/measurements.md). Raising both
//! thresholds keeps those pages in the process; the peak memory is the same to a few percent.

/// Allocations up to this size come from the heap rather than their own mapping: 32 MiB, the
/// largest glibc accepts on 64-bit machines (`DEFAULT_MMAP_THRESHOLD_MAX`, mallopt(3)).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 32 << 20;

/// Free memory at the heap's top is given back once it exceeds this: 1 GiB, more than a
/// training step of this project's models frees at once.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: libc::c_int = 1 << 30;

/// Sets both thresholds, unless the user set glibc's malloc tunables (`GLIBC_TUNABLES`), whose
/// choice stands. Call before any other thread exists. A no-op on other C libraries.
pub fn keep_freed_memory() {
    let user_tuned = std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc."));
    if user_tuned {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's parameters; no other thread allocates yet.
    // Both values are in range, and a refused value (0 returned) leaves glibc's default, which
    // is only slower.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}
