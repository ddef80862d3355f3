//! Burn reports some failures (a download without internet, a GPU that cannot start) only by
//! panicking. This turns such a panic into its first message line, printed or not.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many [`catch_quietly`] calls are running. While any is, no panic is printed: Burn's
/// device threads panic on their own thread and the caller only sees the failure arrive.
static QUIET_CALLS: AtomicUsize = AtomicUsize::new(0);

/// The first line of each panic of any thread, in order, the first [`KEPT_PANICS`] of the
/// process: [`catch`] reports the first since it began, the cause. Burn's threads panic in a
/// chain (a logger thread that cannot write to a full disk, then the thread waiting on it with
/// "The logger thread should stop."), and the caught one is the last.
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// How many panics [`PANICS`] keeps: a process that panics more has long failed.
const KEPT_PANICS: usize = 64;

/// Installs the process's panic hook: Rust's own, silent while a `catch_quietly` runs; it
/// also keeps each panic's first line for `catch`. Called once, by `main`, before any
/// other thread exists; the hook never changes after.
pub fn install_hook() {
    let default_hook = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if let Ok(mut panics) = PANICS.lock()
            && panics.len() < KEPT_PANICS
        {
            panics.push(first_line(info.payload()));
        }
        if QUIET_CALLS.load(Ordering::SeqCst) == 0 {
            default_hook(info);
        }
    }));
}

/// Runs `work`, turning a panic into its first message line, which is not printed (the caller
/// reports it in its own words). Used only where nothing else runs (start-up probes, the
/// dataset download): a panic of any thread meanwhile is silenced too.
///
/// Errors: the panic's first message line, when `work` panics.
pub(crate) fn catch_quietly<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    QUIET_CALLS.fetch_add(1, Ordering::SeqCst);
    let outcome = panic::catch_unwind(AssertUnwindSafe(work));
    QUIET_CALLS.fetch_sub(1, Ordering::SeqCst);
    outcome.map_err(|payload| first_line(payload.as_ref()))
}

/// Runs `work`, turning a panic into its first message line: that of the first panic of any
/// thread since `work` began (the cause, when one thread's panic brings down another; kept by
/// the hook [`install_hook`] installs), else the caught one's. The panic is still printed by the process's panic hook (Burn's own
/// threads' panics print as well).
///
/// Errors: the first panic's first message line, when `work` panics.
pub(crate) fn catch<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    let since = PANICS.lock().map_or(usize::MAX, |panics| panics.len());
    panic::catch_unwind(AssertUnwindSafe(work)).map_err(|payload| {
        let first = PANICS
            .lock()
            .ok()
            .and_then(|panics| panics.get(since).cloned());
        first.unwrap_or_else(|| first_line(payload.as_ref()))
    })
}

/// The first line of a panic's message (a `String` or `&str` payload), trimmed; "unknown
/// failure" for any other payload.
fn first_line(payload: &(dyn std::any::Any + Send)) -> String {
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("unknown failure");
    message
        .lines()
        .next()
        .unwrap_or("unknown failure")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests that panic, one at a time: a panic of one between another's start and its
    /// own would be the first it sees.
    static PANICKING: Mutex<()> = Mutex::new(());

    #[test]
    fn a_panic_that_brings_down_another_thread_is_the_one_reported() {
        let _alone = PANICKING
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        install_hook();
        let reported = catch(|| {
            let root = std::thread::spawn(|| panic!("Can log an item.: No space left on device"));
            let _ = root.join();
            panic!("The logger thread should stop.: Any {{ .. }}")
        });
        assert_eq!(
            reported.unwrap_err(),
            "Can log an item.: No space left on device"
        );
    }

    #[test]
    fn returns_the_value_or_the_first_line_of_the_panic() {
        let _alone = PANICKING
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        assert_eq!(catch_quietly(|| 7), Ok(7));
        let err = catch_quietly(|| -> u8 { panic!("no adapter\nmore detail") }).unwrap_err();
        assert_eq!(err, "no adapter");
    }
}
