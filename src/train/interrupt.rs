//! Ctrl-C during training: the first press asks Burn to stop after the current step, so the
//! finished epochs' checkpoints and metrics stay valid; a second press ends the process at once.
//!
//! Once training has ended the run's files (model, summary, curves) are still being written:
//! from then on a press is only remembered, so that no press can cut those writes short, and the
//! program exits with 130 when they are done.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use burn::train::Interrupter;

/// A press during training.
static REQUESTED: AtomicBool = AtomicBool::new(false);
/// Training has ended: presses are remembered, not acted on.
static FINISHING: AtomicBool = AtomicBool::new(false);
/// A press while finishing.
static PRESSED_WHILE_FINISHING: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
extern "C" fn on_sigint(_signal: libc::c_int) {
    // Only async-signal-safe work here: atomics and _exit.
    if FINISHING.load(Ordering::SeqCst) {
        PRESSED_WHILE_FINISHING.store(true, Ordering::SeqCst);
        return;
    }
    if REQUESTED.swap(true, Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(130) };
    }
}

/// Routes Ctrl-C to `interrupter` until [`finishing`] is called.
pub fn stop_on_ctrl_c(interrupter: Interrupter) {
    #[cfg(unix)]
    // SAFETY: the handler only touches atomics and calls _exit, both async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t);
    }
    std::thread::spawn(move || {
        while !REQUESTED.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
        if !FINISHING.load(Ordering::SeqCst) {
            interrupter.stop(Some("Ctrl-C"));
        }
    });
}

/// Training has ended: from now on Ctrl-C no longer stops anything, it is only remembered.
pub fn finishing() {
    FINISHING.store(true, Ordering::SeqCst);
}

/// Whether Ctrl-C was pressed after training, while the run's files were being written.
pub fn pressed_while_finishing() -> bool {
    PRESSED_WHILE_FINISHING.load(Ordering::SeqCst)
}
