use std::process::ExitCode;

use mnist_trainer::cli::{self, run};

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
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            // One line: the error and its causes, joined by ": ".
            eprintln!("error: {error:#}");
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
