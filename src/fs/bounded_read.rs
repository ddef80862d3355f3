//! Reading a whole file the user named, up to a limit: `infer /dev/zero` and
//! `--config /dev/zero` read until the memory ran out (7.4 and 12 GB). Used for pictures,
//! configs and the pictures `--save-input` compares with.

use std::io::Read;
use std::path::Path;

/// The bytes of `path`, refused past `limit` bytes without reading further.
///
/// # Errors
/// The file cannot be opened or read, or holds more than `limit` bytes: an `InvalidData`
/// error whose message is `too_large`.
pub(crate) fn read_at_most(path: &Path, limit: u64, too_large: &str) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            too_large,
        ));
    }
    Ok(bytes)
}
