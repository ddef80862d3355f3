//! Burn reports some failures (a download without internet, a GPU that cannot start) only by
//! panicking. This turns such a panic into its first message line, without printing it.

use std::panic::{self, AssertUnwindSafe};

pub fn catch_quietly<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let outcome = panic::catch_unwind(AssertUnwindSafe(work));
    panic::set_hook(previous_hook);
    outcome.map_err(|payload| first_line(payload.as_ref()))
}

/// Runs `work`, turning a panic into its first message line. The panic is still printed by the
/// process's panic hook: unlike [`catch_quietly`], this is safe on several threads at once
/// (the hook is global; swapping it from two threads could lose it).
pub fn catch<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    panic::catch_unwind(AssertUnwindSafe(work)).map_err(|payload| first_line(payload.as_ref()))
}

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

    #[test]
    fn returns_the_value_or_the_first_line_of_the_panic() {
        assert_eq!(catch_quietly(|| 7), Ok(7));
        let err = catch_quietly(|| -> u8 { panic!("no adapter\nmore detail") }).unwrap_err();
        assert_eq!(err, "no adapter");
    }
}
