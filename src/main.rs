use std::process::ExitCode;

use mnist_trainer::cli;
use mnist_trainer::commands;
use mnist_trainer::process::output;
use mnist_trainer::process::signals::StopSignals;

/// Process-wide state is set up here, once, before any other thread exists: the panic hook,
/// the allocator's thresholds, SIGPIPE's action, `BURN_DEVICE` and the stop signals (SIGINT,
/// SIGTERM, SIGHUP).
fn main() -> ExitCode {
    mnist_trainer::process::panics::install_hook();
    mnist_trainer::process::allocator::keep_freed_memory();
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    if cli.ends_on_a_closed_pipe() {
        restore_default_sigpipe();
    }
    // Burn creates some tensors on its default device (optimizer state read from a
    // checkpoint, for one), which is wgpu whenever wgpu is compiled in: make it the chosen one.
    // SAFETY: no other thread exists yet.
    unsafe { std::env::set_var("BURN_DEVICE", cli.backend().to_string()) };
    if cli.runs_on_gpu() {
        name_the_runtime_dir();
    }
    let signals = match StopSignals::install() {
        Ok(signals) => signals,
        Err(error) => {
            output::report(format_args!(
                "error: cannot handle SIGINT, SIGTERM and SIGHUP: {error}\n"
            ));
            return ExitCode::FAILURE;
        }
    };
    match commands::execute(cli, &signals) {
        // Something the command had to say on standard error was lost: not a success.
        Ok(code) if code == ExitCode::SUCCESS && output::stderr_failed() => ExitCode::FAILURE,
        Ok(code) => code,
        Err(error) => {
            output::report(format_args!("error: {}\n", output::error_line(&error)));
            ExitCode::FAILURE
        }
    }
}

/// Without `XDG_RUNTIME_DIR` (a headless machine, a container, `sudo`), the windowing
/// libraries wgpu's Vulkan drivers load print `error: XDG_RUNTIME_DIR is invalid or not set in
/// the environment.` several times, though nothing fails. Named as systemd-logind names it,
/// `/run/user/<uid>`: where that folder exists it is the right one, and where it does not they
/// find no display there, quietly. Called before any other thread exists.
fn name_the_runtime_dir() {
    let usable = std::env::var_os("XDG_RUNTIME_DIR")
        .is_some_and(|dir| std::path::Path::new(&dir).is_absolute());
    if !usable {
        // SAFETY: getuid has no preconditions.
        let uid = unsafe { libc::getuid() };
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", format!("/run/user/{uid}")) };
    }
}

/// Rust ignores SIGPIPE, so printing into a closed pipe (`mnist-trainer infer ... | head`) is an
/// error; like other command-line tools, end quietly instead. Not for `serve` (a client that
/// hangs up before its answer is written must not end the server: a vectored socket write,
/// unlike `send`, cannot opt out of the signal) nor training (see
/// `Cli::ends_on_a_closed_pipe`).
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
