//! Ctrl-C during training: the first press asks Burn to stop after the current step, so the
//! finished epochs' checkpoints and metrics stay valid; a second press ends the process at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use burn::train::Interrupter;

static REQUESTED: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
extern "C" fn on_sigint(_signal: libc::c_int) {
    // Only async-signal-safe work here: an atomic swap and _exit.
    if REQUESTED.swap(true, Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(130) };
    }
}

/// Routes Ctrl-C to `interrupter` for the rest of the process.
pub fn stop_on_ctrl_c(interrupter: Interrupter) {
    #[cfg(unix)]
    // SAFETY: the handler only touches an atomic and calls _exit, both async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t);
    }
    std::thread::spawn(move || {
        while !REQUESTED.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
        interrupter.stop(Some("Ctrl-C"));
    });
}

/// Whether Ctrl-C was pressed.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
