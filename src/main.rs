use std::process::ExitCode;

use mnist_trainer::cli::{self, run};
use mnist_trainer::signals::StopSignals;

/// Process-wide state is set up here, once, before any other thread exists: SIGPIPE's action,
/// the stop signals (SIGINT, SIGTERM, SIGHUP) and `BURN_DEVICE`.
fn main() -> ExitCode {
    restore_default_sigpipe();
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    // Burn creates some tensors on its default device (optimizer state read from a
    // checkpoint, for one), which is wgpu whenever wgpu is compiled in: make it the chosen one.
    // SAFETY: no other thread exists yet.
    unsafe { std::env::set_var("BURN_DEVICE", cli.backend().to_string()) };
    let signals = match StopSignals::install() {
        Ok(signals) => signals,
        Err(error) => {
            eprintln!("error: cannot handle SIGINT, SIGTERM and SIGHUP: {error}");
            return ExitCode::FAILURE;
        }
    };
    match run(cli, &signals) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", cli::error_line(&error));
            ExitCode::FAILURE
        }
    }
}

/// Rust ignores SIGPIPE, so printing into a closed pipe (`mnist-trainer ... | head`) would panic;
/// like other command-line tools, end quietly instead.
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
