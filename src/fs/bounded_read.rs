//! Reading a whole file the user named, up to a limit: `infer /dev/zero` and
//! `--config /dev/zero` read until the memory ran out (7.4 and 12 GB). Used for pictures,
//! configs and the pictures `--save-input` compares with. A named pipe with nothing writing
//! to it is refused at once rather than waited on: `--config fifo` and a FIFO in place of a
//! run's `calibration.json` hung every command (a pipe being written, as `--config <(jq ...)`
//! gives, is read as a file).

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The bytes of `path`, refused past `limit` bytes without reading further.
///
/// # Errors
/// The file cannot be opened or read, or holds more than `limit` bytes: an `InvalidData`
/// error whose message is `too_large`.
pub(crate) fn read_at_most(path: &Path, limit: u64, too_large: &str) -> std::io::Result<Vec<u8>> {
    let (file, pipe) = open_without_waiting(path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if pipe && bytes.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "a named pipe with nothing written to it",
        ));
    }
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            too_large,
        ));
    }
    Ok(bytes)
}

/// `path` opened for reading, and whether it is a pipe. Opening a FIFO waits for a writer, so
/// it is opened without waiting (`O_NONBLOCK`), then read as usual: with no writer a read ends
/// at once with nothing.
///
/// # Errors
/// The file cannot be opened, or its mode cannot be changed back.
fn open_without_waiting(path: &Path) -> std::io::Result<(File, bool)> {
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let pipe = file.metadata()?.file_type().is_fifo();
    // SAFETY: fcntl on a descriptor this function owns, with flags it just read.
    let cleared = unsafe {
        let flags = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
        flags >= 0 && libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) == 0
    };
    if !cleared {
        return Err(std::io::Error::last_os_error());
    }
    Ok((file, pipe))
}
