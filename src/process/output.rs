//! Standard output and standard error, written without panicking. `println!` and `eprintln!`
//! panic when a write fails (`> /dev/full`, a full disk behind `nohup ... > log`); on one of
//! Burn's threads that panic left training waiting for ever. Every line this program prints
//! goes through `outln!` (its failure is an error the caller returns) or `errln!` (its
//! failure is remembered, for `main`'s exit code: there is nowhere left to say it).

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Standard output could not be written; holds what the operating system said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot write to standard output: {reason}")]
pub struct StdoutError {
    /// The write's error, as text (an `io::Error` cannot be cloned into every place that
    /// reports it).
    reason: String,
}

impl StdoutError {
    /// The error of a failed write to standard output.
    fn new(error: &io::Error) -> Self {
        Self {
            reason: error.to_string(),
        }
    }
}

/// Set once a write to standard error has failed.
static STDERR_FAILED: AtomicBool = AtomicBool::new(false);

/// Writes `text` to standard output and flushes it, so that a failure shows here and not at
/// some later write (or never, at exit).
///
/// # Errors
/// The write or the flush failed ([`StdoutError`]).
pub fn print(text: fmt::Arguments<'_>) -> Result<(), StdoutError> {
    let mut stdout = io::stdout().lock();
    stdout
        .write_fmt(text)
        .and_then(|()| stdout.flush())
        .map_err(|error| StdoutError::new(&error))
}

/// Writes `text` to standard error. A failure is remembered ([`stderr_failed`]) rather than
/// returned: the line was a warning or an error report with nowhere else to go.
pub fn report(text: fmt::Arguments<'_>) {
    let mut stderr = io::stderr().lock();
    if stderr
        .write_fmt(text)
        .and_then(|()| stderr.flush())
        .is_err()
    {
        STDERR_FAILED.store(true, Ordering::SeqCst);
    }
}

/// Whether a write to standard error has failed in this process: `main` then exits with a
/// failure even if the command succeeded, since something it had to say was lost.
pub fn stderr_failed() -> bool {
    STDERR_FAILED.load(Ordering::SeqCst)
}

/// `println!` that returns `Result<(), StdoutError>` instead of panicking.
macro_rules! outln {
    () => {
        $crate::process::output::print(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::process::output::print(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!` that never panics (see [`report`]).
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::process::output::report(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {errln, outln};

/// An error and its causes as one line, joined by ": " (anyhow's contexts, then each
/// `source()`), each printed as it is: this program's errors never show a cause they also
/// return as `source()` (a cause they show is a field named `cause`; the integration test
/// `every_error_shows_its_cause_or_returns_it_never_both` holds it), so nothing repeats and
/// nothing is dropped.
pub fn error_line(error: &anyhow::Error) -> String {
    error
        .chain()
        .map(|cause| {
            cause
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|text| !text.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_line_says_each_cause_once_and_keeps_a_short_one() {
        #[derive(Debug, thiserror::Error)]
        #[error("x.json: cannot read: {cause}")]
        struct Showing {
            cause: std::io::Error,
        }
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let text = io.to_string();
        let error = anyhow::Error::new(Showing { cause: io }).context("loading the config");
        assert_eq!(
            error_line(&error),
            format!("loading the config: x.json: cannot read: {text}")
        );
        // A cause whose words the message happens to contain is still said.
        let error = anyhow::anyhow!("read").context("cannot read x.json");
        assert_eq!(error_line(&error), "cannot read x.json: read");
    }
}
