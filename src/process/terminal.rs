//! The controlling terminal under Burn's dashboard.
//!
//! Burn's TUI puts the terminal in raw mode, where the terminal no longer turns Ctrl-C into
//! SIGINT: it becomes a key the dashboard ignores (only `q` then `s` stopped a run). Rather than
//! read keys beside Burn's own event loop, this turns the terminal's signal keys back on for
//! Ctrl-C alone (Ctrl-\ and Ctrl-Z stay keys), so a press reaches [`crate::process::signals`] exactly as
//! it does without the dashboard. The dashboard restores the terminal it found when it closes;
//! a second Ctrl-C ends the process at once, so [`SavedTerminal::restore`] puts it back first.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::os::fd::AsRawFd;

/// Whether standard output is a terminal that can draw Burn's full-screen dashboard: not where
/// `TERM` is `dumb` (Emacs's shell, serial consoles) or unset, which cannot move the cursor.
pub(crate) fn can_draw_dashboard() -> bool {
    let capable = std::env::var_os("TERM").is_some_and(|term| !term.is_empty() && term != "dumb");
    capable && std::io::stdout().is_terminal()
}

/// The terminal's settings as they were before the dashboard changed them.
pub(crate) struct SavedTerminal {
    /// `/dev/tty`, opened for reading and writing.
    tty: File,
    /// The termios settings read at start-up, put back by [`SavedTerminal::restore`].
    settings: libc::termios,
}

impl SavedTerminal {
    /// The controlling terminal's settings, when standard output is a terminal (the dashboard
    /// runs only then); `None` otherwise.
    pub(crate) fn save() -> Option<Self> {
        if !std::io::stdout().is_terminal() {
            return None;
        }
        let tty = File::options()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .ok()?;
        let settings = settings(&tty)?;
        Some(Self { tty, settings })
    }

    /// When the terminal is in raw mode (the dashboard has started), lets Ctrl-C raise SIGINT
    /// again. Returns whether Ctrl-C now is a signal; false while the dashboard has not yet
    /// switched to raw mode.
    pub(crate) fn keep_ctrl_c_a_signal(&self) -> bool {
        let Some(mut current) = settings(&self.tty) else {
            return true; // no terminal any more: nothing to fix
        };
        if current.c_lflag & libc::ISIG != 0 {
            // Still cooked (the dashboard has not switched yet) or already fixed.
            return current.c_lflag & libc::ICANON == 0;
        }
        current.c_lflag |= libc::ISIG;
        current.c_cc[libc::VQUIT] = libc::_POSIX_VDISABLE;
        current.c_cc[libc::VSUSP] = libc::_POSIX_VDISABLE;
        // SAFETY: `current` is a termios read from this descriptor, which stays open.
        unsafe { libc::tcsetattr(self.tty.as_raw_fd(), libc::TCSANOW, &current) == 0 }
    }

    /// Puts the terminal back as it was at start-up and leaves the dashboard's screen: mouse
    /// reporting off, the normal screen back, the cursor shown.
    pub(crate) fn restore(&self) {
        // SAFETY: `settings` was read from this descriptor, which stays open.
        unsafe { libc::tcsetattr(self.tty.as_raw_fd(), libc::TCSANOW, &self.settings) };
        let _ = (&self.tty).write_all(
            b"\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1015l\x1b[?1049l\x1b[?25h",
        );
    }
}

/// The terminal's current termios settings (`tcgetattr`); `None` when they cannot be read.
fn settings(tty: &File) -> Option<libc::termios> {
    // SAFETY: termios is plain data; tcgetattr fills it or fails.
    let mut settings: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: a valid descriptor and a valid pointer.
    (unsafe { libc::tcgetattr(tty.as_raw_fd(), &mut settings) } == 0).then_some(settings)
}
