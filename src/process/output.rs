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

/// An error and its causes as one line, joined by ": ". A cause whose text is already in the
/// line is left out: many errors quote their source in their own message (`{path}: {source}`)
/// and also return it as `source()`, which would print it twice.
pub fn error_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_line_says_each_cause_once() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let text = io.to_string();
        #[derive(Debug, thiserror::Error)]
        #[error("x.json: cannot read: {source}")]
        struct Quoting {
            source: std::io::Error,
        }
        let error = anyhow::Error::new(Quoting { source: io }).context("loading the config");
        assert_eq!(
            error_line(&error),
            format!("loading the config: x.json: cannot read: {text}")
        );
    }
}
