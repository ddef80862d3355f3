//! Writing a file so that a crash, a kill or a full disk never leaves half of it under the real
//! name.
//!
//! Built on burn-pack's `AtomicFile`, which Burn's own checkpoints use: a scratch file with a
//! unique name beside the destination (`<name>.<pid>-<n>.tmp`), synced to disk, renamed over the
//! destination, and the folder synced after the rename; on any failure the scratch file is
//! removed and the destination keeps its old contents.

use std::io::Write;
use std::path::Path;

use burn_pack::{AtomicFile, Error as PackError};

/// Writes `contents` to a scratch file beside `path`, then moves it over `path`.
///
/// Errors: the scratch file cannot be created, written or synced, or the rename fails; `path`
/// then keeps its old contents (or stays absent).
pub(crate) fn write(path: &Path, contents: impl AsRef<[u8]>) -> std::io::Result<()> {
    write_with(path, |file| {
        let mut file = std::fs::OpenOptions::new().write(true).open(file)?;
        file.write_all(contents.as_ref())?;
        // A deferred write error (a full disk, a quota) reaches only the handle that wrote.
        file.sync_all()
    })
}

/// Lets `produce` write the whole file at the scratch path it is given, then moves it over
/// `path`; for writers that open the file themselves (image encoders).
///
/// Errors: `produce`'s own, or the scratch file's creation or rename failing; `path` then keeps
/// its old contents (or stays absent).
pub(crate) fn write_with(
    path: &Path,
    produce: impl FnOnce(&Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let (scratch, handle) = AtomicFile::create(path).map_err(into_io)?;
    drop(handle);
    produce(scratch.path())?;
    scratch.commit().map_err(into_io)
}

/// Whether `name` is a scratch file this module (or Burn's checkpointer) leaves behind when
/// killed mid-write: `<file>.<pid>-<n>.tmp`. `Some(<file>)`, the name it was to replace, when
/// it is; `None` otherwise.
pub(crate) fn is_scratch_name(name: &str) -> Option<&str> {
    let stem = name.strip_suffix(".tmp")?;
    let (file, counters) = stem.rsplit_once('.')?;
    let (pid, n) = counters.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(pid) && digits(n)).then_some(file)
}

/// A burn-pack error as an I/O error, keeping its message.
fn into_io(error: PackError) -> std::io::Error {
    match error {
        PackError::IoError(message) => std::io::Error::other(message),
        other => std::io::Error::other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replaces_the_file_and_leaves_no_scratch_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        std::fs::write(&path, "old").unwrap();
        write(&path, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(names(dir.path()), vec!["summary.json"]);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_removes_the_scratch_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curves.png");
        std::fs::write(&path, "old").unwrap();
        let error = write_with(&path, |scratch| {
            std::fs::write(scratch, "half")?;
            Err(std::io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(error.to_string(), "disk full");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(names(dir.path()), vec!["curves.png"]);
    }

    #[test]
    fn two_writers_of_one_file_use_different_scratch_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        write_with(&path, |outer| {
            write_with(&path, |inner| {
                assert_ne!(inner, outer, "one scratch file per writer");
                std::fs::write(inner, "inner")
            })?;
            assert_eq!(std::fs::read_to_string(&path)?, "inner");
            assert!(
                outer.exists(),
                "the first writer's scratch file survives the second's"
            );
            std::fs::write(outer, "outer")
        })
        .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "outer");
    }

    #[test]
    fn scratch_names_are_recognised() {
        assert_eq!(is_scratch_name("model.bpk.123-0.tmp"), Some("model.bpk"));
        assert_eq!(
            is_scratch_name("summary.json.9-12.tmp"),
            Some("summary.json")
        );
        assert_eq!(is_scratch_name("notes.tmp"), None);
        assert_eq!(is_scratch_name("model.bpk.12a-0.tmp"), None);
    }
}
