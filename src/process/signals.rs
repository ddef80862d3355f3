//! The signals that ask a process to stop, owned in one place for the whole process: `main`
//! installs them once, before anything else runs, and hands the [`StopSignals`] down to the
//! commands that need them.
//!
//! SIGINT is Ctrl-C (also under Burn's dashboard: see `process/terminal.rs`); SIGTERM is what
//! `kill`, `docker stop`, systemd, CI time-outs and batch schedulers send; SIGHUP arrives when
//! the terminal or ssh session goes away. All three behave alike:
//! - outside training and serving a signal ends the process as its default action would, with
//!   the exit code a shell reports for it (also as PID 1 of a container, which the kernel
//!   spares the default action);
//! - while serving, the first one stops the server (it stops accepting and finishes the
//!   requests under way); a second one ends the process at once;
//! - while a training run is being prepared (its folder locked, its data loaded), the first one
//!   is remembered: the run stops before it starts, or (once its folder is written) after its
//!   first step, so that no run folder is left half-made;
//! - during training the first one asks Burn to stop after the current step, so every finished
//!   epoch's checkpoint and metrics stay valid; a second one ends the process at once
//!   (exit 128 + the signal's number);
//! - once training has ended, while the run's files are being written, a signal is only
//!   remembered: nothing cuts those writes short, and the program exits with 128 + its number
//!   when they are done.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use burn::train::Interrupter;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::process::output::errln;
use crate::process::terminal::SavedTerminal;

/// One of the signals handled here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopSignal(i32);

impl StopSignal {
    /// The exit code of a process ended by this signal, as shells report it (130 for SIGINT,
    /// 143 for SIGTERM, 129 for SIGHUP).
    pub fn exit_code(self) -> u8 {
        // The three signals are 1, 2 and 15: the sum always fits.
        128 + self.0 as u8
    }
}

impl fmt::Display for StopSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            SIGINT => "Ctrl-C",
            SIGTERM => "SIGTERM",
            SIGHUP => "SIGHUP",
            _ => "a signal",
        })
    }
}

/// Where the process is, as far as a stop signal is concerned.
enum Phase {
    /// Not training: a signal acts as it would by default.
    Idle,
    /// A training run is being prepared: the first signal is remembered.
    Preparing,
    /// Training: the first signal stops this interrupter.
    Training(Interrupter),
    /// Serving: the first signal is handed to this, which stops the server.
    Serving(Box<dyn FnOnce(StopSignal) + Send>),
    /// Training or serving was asked to stop: a second signal ends the process at once.
    Stopping {
        /// Whether it is training that stops (a resumable run), not a server.
        training: bool,
    },
    /// Training has ended and the run's files are being written: signals are remembered.
    Finishing,
}

/// What the signal thread and the commands share, behind [`StopSignals`]'s mutex.
struct State {
    /// Where the process is, which decides what a signal does.
    phase: Phase,
    /// The signal that stopped training.
    stopped_by: Option<StopSignal>,
    /// The first signal that arrived while the run's files were written.
    while_finishing: Option<StopSignal>,
}

/// The process's stop signals; clones share one state.
#[derive(Clone)]
pub struct StopSignals {
    /// The phase and the remembered signals, shared by all clones and the signal thread.
    state: Arc<Mutex<State>>,
    /// The terminal as it was at start-up, put back before a second signal ends the process.
    terminal: Arc<Option<SavedTerminal>>,
}

impl fmt::Debug for StopSignals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StopSignals")
    }
}

impl StopSignals {
    /// Takes over SIGINT, SIGTERM and SIGHUP for the life of the process. Call once, first
    /// thing in `main`.
    ///
    /// # Errors
    /// When the handlers cannot be registered (the operating system refuses).
    pub fn install() -> std::io::Result<Self> {
        let stop = Self::unregistered();
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        let handler = stop.clone();
        std::thread::Builder::new()
            .name("stop-signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    handler.on_signal(StopSignal(signal));
                }
            })?;
        Ok(stop)
    }

    /// A state that no signal reaches, for tests that call library code directly.
    pub fn unregistered() -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                phase: Phase::Idle,
                stopped_by: None,
                while_finishing: None,
            })),
            terminal: Arc::new(SavedTerminal::save()),
        }
    }

    /// The shared state, locked; a poisoned lock is used as it is.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A training run is being prepared: from now on the first signal is remembered (see
    /// [`Self::stopped_by`]) rather than ending the process.
    pub fn preparing(&self) {
        self.lock().phase = Phase::Preparing;
    }

    /// From now on the first signal stops `interrupter` (Burn stops after the current step);
    /// one remembered while preparing stops it at once.
    pub fn during_training(&self, interrupter: Interrupter) {
        let mut state = self.lock();
        match state.stopped_by {
            Some(signal) => {
                interrupter.stop(Some(&signal.to_string()));
                state.phase = Phase::Stopping { training: true };
            }
            None => state.phase = Phase::Training(interrupter),
        }
    }

    /// Serving: from now on the first signal is handed to `stop`, which stops the server; a
    /// second one ends the process at once.
    pub fn during_serving(&self, stop: impl FnOnce(StopSignal) + Send + 'static) {
        self.lock().phase = Phase::Serving(Box::new(stop));
    }

    /// Training has ended: from now on a signal is only remembered.
    pub fn finishing(&self) {
        self.lock().phase = Phase::Finishing;
    }

    /// The signal that stopped training, if one did.
    pub fn stopped_by(&self) -> Option<StopSignal> {
        self.lock().stopped_by
    }

    /// The first signal that arrived while the run's files were being written.
    pub fn received_while_finishing(&self) -> Option<StopSignal> {
        self.lock().while_finishing
    }

    /// Under Burn's dashboard (raw mode), makes Ctrl-C a signal again; true once it is. Cheap
    /// enough to call on every dashboard event until it succeeds.
    pub fn keep_ctrl_c_a_signal(&self) -> bool {
        self.terminal
            .as_ref()
            .as_ref()
            .is_none_or(SavedTerminal::keep_ctrl_c_a_signal)
    }

    /// What a signal does in the current phase (see the module's list), run on the signal
    /// thread: ends the process when idle or already stopping, otherwise remembers it (and
    /// stops the interrupter while training).
    fn on_signal(&self, signal: StopSignal) {
        let mut state = self.lock();
        let stopping = Phase::Stopping { training: true };
        match std::mem::replace(&mut state.phase, stopping) {
            Phase::Idle => {
                drop(state);
                self.restore_terminal();
                // Reinstalls the default action and raises the signal again: the process ends
                // exactly as it would have without these handlers.
                let _ = signal_hook::low_level::emulate_default_handler(signal.0);
                // Still running: the process is PID 1 of its PID namespace (a container started
                // without an init), which the kernel spares default actions. std's exit would
                // run exit handlers under threads still running (a SIGSEGV, measured).
                // SAFETY: ends the process at once, as the signal would have; every file is
                // written atomically.
                unsafe { libc::_exit(i32::from(signal.exit_code())) };
            }
            Phase::Preparing => {
                state.stopped_by = Some(signal);
                // Nothing is written yet: a second signal has no run to point to.
                state.phase = Phase::Stopping { training: false };
            }
            Phase::Training(interrupter) => {
                state.stopped_by = Some(signal);
                interrupter.stop(Some(&format!("{signal}")));
            }
            Phase::Serving(stop) => {
                state.phase = Phase::Stopping { training: false };
                state.stopped_by = Some(signal);
                drop(state);
                stop(signal);
            }
            Phase::Stopping { training } => {
                drop(state);
                self.restore_terminal();
                let next = if training {
                    "; --resume continues after the last finished epoch"
                } else {
                    ""
                };
                errln!("\n{signal}: a second stop signal, ending at once{next}");
                // SAFETY: ends the process without running destructors or flushing Burn's
                // threads, which is what "at once" means; every file is written atomically.
                unsafe { libc::_exit(i32::from(signal.exit_code())) };
            }
            Phase::Finishing => {
                state.phase = Phase::Finishing;
                state.while_finishing.get_or_insert(signal);
            }
        }
    }

    /// Puts the terminal back as it was at start-up, when there is one.
    fn restore_terminal(&self) {
        if let Some(terminal) = self.terminal.as_ref() {
            terminal.restore();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_what_shells_report_for_each_signal() {
        assert_eq!(StopSignal(SIGINT).exit_code(), 130);
        assert_eq!(StopSignal(SIGTERM).exit_code(), 143);
        assert_eq!(StopSignal(SIGHUP).exit_code(), 129);
    }

    #[test]
    fn a_signal_while_preparing_is_remembered_and_stops_training_at_its_start() {
        let stop = StopSignals::unregistered();
        stop.preparing();
        stop.on_signal(StopSignal(SIGHUP));
        assert_eq!(stop.stopped_by(), Some(StopSignal(SIGHUP)));
        let interrupter = Interrupter::new();
        stop.during_training(interrupter.clone());
        assert!(interrupter.should_stop());
    }

    #[test]
    fn the_first_signal_stops_training_and_one_while_finishing_is_only_remembered() {
        let stop = StopSignals::unregistered();
        let interrupter = Interrupter::new();
        stop.during_training(interrupter.clone());
        stop.on_signal(StopSignal(SIGTERM));
        assert!(interrupter.should_stop());
        assert_eq!(stop.stopped_by(), Some(StopSignal(SIGTERM)));

        stop.finishing();
        stop.on_signal(StopSignal(SIGHUP));
        stop.on_signal(StopSignal(SIGINT));
        assert_eq!(stop.received_while_finishing(), Some(StopSignal(SIGHUP)));
        assert_eq!(stop.stopped_by(), Some(StopSignal(SIGTERM)));
    }
}
