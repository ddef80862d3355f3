use std::process::ExitCode;

use mnist_trainer::cli::{self, run};
use mnist_trainer::output;
use mnist_trainer::signals::StopSignals;

/// Process-wide state is set up here, once, before any other thread exists: the panic hook,
/// SIGPIPE's action, `BURN_DEVICE` and the stop signals (SIGINT, SIGTERM, SIGHUP).
fn main() -> ExitCode {
    mnist_trainer::panics::install_hook();
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    if !cli.serves() {
        restore_default_sigpipe();
    }
    // Burn creates some tensors on its default device (optimizer state read from a
    // checkpoint, for one), which is wgpu whenever wgpu is compiled in: make it the chosen one.
    // SAFETY: no other thread exists yet.
    unsafe { std::env::set_var("BURN_DEVICE", cli.backend().to_string()) };
    let signals = match StopSignals::install() {
        Ok(signals) => signals,
        Err(error) => {
            output::report(format_args!(
                "error: cannot handle SIGINT, SIGTERM and SIGHUP: {error}\n"
            ));
            return ExitCode::FAILURE;
        }
    };
    match run(cli, &signals) {
        // Something the command had to say on standard error was lost: not a success.
        Ok(code) if code == ExitCode::SUCCESS && output::stderr_failed() => ExitCode::FAILURE,
        Ok(code) => code,
        Err(error) => {
            output::report(format_args!("error: {}\n", cli::error_line(&error)));
            ExitCode::FAILURE
        }
    }
}

/// Rust ignores SIGPIPE, so printing into a closed pipe (`mnist-trainer ... | head`) would panic;
/// like other command-line tools, end quietly instead. Not for `serve`: a client that hangs up
/// before its answer is written must not end the server (a vectored socket write, unlike
/// `send`, cannot opt out of the signal).
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
