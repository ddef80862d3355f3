//! One process at a time writes a run folder: every command that writes one (train, resume,
//! `--overwrite`, import, eval, report) holds an exclusive advisory lock on `run.lock` inside
//! it for as long as it runs (std's `File::try_lock`: `flock` on Unix).
//!
//! The operating system drops the lock when its process ends, however it ends, so a run left by
//! `kill -9` is never blocked (its stale `run.lock` is simply locked again). The file holds who
//! has the lock, for the message the next process prints. A holder deletes it before letting
//! go, and folders it had to create for the lock if they are still empty, so a refused command
//! leaves nothing behind. That deletion is safe because an acquirer checks, once it holds the
//! lock, that the file it locked is still the one at the path (else it locked a deleted file
//! and tries again): the usual protocol for lock files that are removed.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside a run folder.
pub(crate) const LOCK_FILE: &str = "run.lock";

/// Held for as long as it lives; dropping it (or the process ending) releases the folder.
#[derive(Debug)]
pub(crate) struct RunLock {
    /// The open, locked lock file; closing it releases the lock.
    file: File,
    /// The lock file's path, deleted on release.
    path: PathBuf,
    /// Folders made to hold the lock file, deepest first.
    created: Vec<PathBuf>,
}

/// How often to retry when the lock file was replaced between opening and locking it.
const ATTEMPTS: usize = 20;

/// Why a run folder could not be locked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LockError {
    /// Another process holds the folder; `holder` is its note (process id, command, since when).
    #[error("{}: in use by {holder}; wait for it to end (or stop it) and try again", path.display())]
    InUse { path: PathBuf, holder: String },
    /// `path` exists and is not a folder (nor a link to one).
    #[error("{}: exists and is not a folder; pick another --run folder", path.display())]
    NotAFolder { path: PathBuf },
    /// The run folder could not be created.
    #[error("{}: cannot create the run folder: {cause}", path.display())]
    Folder {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// The lock file could not be opened or locked (or kept being replaced).
    #[error("{}: cannot lock the run folder: {cause}", path.display())]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
}

impl LockError {
    /// Whether the lock could not be taken because the folder cannot be written at all (a
    /// read-only mount or folder): nothing can be written there by any process either.
    pub(crate) fn is_read_only(&self) -> bool {
        match self {
            LockError::Io { cause, .. } => matches!(
                cause.kind(),
                std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied
            ),
            _ => false,
        }
    }
}

impl RunLock {
    /// Locks the run folder `root` (created if missing) for `command` (a word such as `train`),
    /// or says which process holds it.
    ///
    /// # Errors
    /// [`LockError::InUse`] naming the holder (process id, command, since when) when another
    /// process holds the folder; [`LockError::NotAFolder`] when `root` exists but is not a
    /// folder; [`LockError::Folder`] when it cannot be created; [`LockError::Io`] when the lock
    /// file cannot be opened or locked.
    pub(crate) fn acquire(root: &Path, command: &str) -> Result<Self, LockError> {
        let path = root.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            cause: source,
        };
        if std::fs::symlink_metadata(root).is_ok() && !root.is_dir() {
            return Err(LockError::NotAFolder {
                path: root.to_path_buf(),
            });
        }
        let created = missing_folders(root);
        std::fs::create_dir_all(root).map_err(|source| LockError::Folder {
            path: root.to_path_buf(),
            cause: source,
        })?;
        for _ in 0..ATTEMPTS {
            // Not truncated on open: the holder's note must survive until we hold the lock.
            let mut file = File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    return Err(LockError::InUse {
                        holder: holder(&mut file),
                        path: root.to_path_buf(),
                    });
                }
                Err(TryLockError::Error(source)) => return Err(io(source)),
            }
            if !still_at(&file, &path) {
                continue; // its holder deleted it as we opened it: lock the new one
            }
            let note = format!(
                "process {} ({command}, since {})\n",
                std::process::id(),
                chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC")
            );
            // A note that cannot be written only makes the next refusal less specific.
            let _ = file
                .set_len(0)
                .and_then(|()| file.write_all(note.as_bytes()));
            return Ok(Self {
                file,
                path,
                created,
            });
        }
        Err(io(std::io::Error::other(
            "the lock file kept being replaced by other processes",
        )))
    }
}

impl Drop for RunLock {
    /// Deletes the lock file while still holding it, then the folders made for it if nothing
    /// else was put in them; closing the file then lets go of the lock.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        for folder in &self.created {
            if std::fs::remove_dir(folder).is_err() {
                break; // not empty: a run lives there
            }
        }
        let _ = self.file.unlock();
    }
}

/// `root` and those of its ancestors that do not exist yet, deepest first.
fn missing_folders(root: &Path) -> Vec<PathBuf> {
    root.ancestors()
        .take_while(|folder| !folder.as_os_str().is_empty() && !folder.exists())
        .map(Path::to_path_buf)
        .collect()
}

/// Whether the file at `path` is still `file` (not deleted or replaced since it was opened).
fn still_at(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let (Ok(ours), Ok(now)) = (file.metadata(), std::fs::metadata(path)) else {
            return false;
        };
        ours.dev() == now.dev() && ours.ino() == now.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

/// Refuses a run folder another process holds, without locking it: for commands that check a
/// folder before they are ready to lock it (import reads its file first).
///
/// # Errors
/// [`LockError::InUse`] naming the holder.
pub(crate) fn refuse_if_held(root: &Path) -> Result<(), LockError> {
    match holder_of(root) {
        Some(holder) => Err(LockError::InUse {
            path: root.to_path_buf(),
            holder,
        }),
        None => Ok(()),
    }
}

/// Who holds `root`'s lock at this moment, if anyone.
pub(crate) fn holder_of(root: &Path) -> Option<String> {
    let mut file = File::open(root.join(LOCK_FILE)).ok()?;
    match file.try_lock() {
        Err(TryLockError::WouldBlock) => Some(holder(&mut file)),
        // Free (the lock just taken goes with the file), or no lock to be had.
        _ => None,
    }
}

/// How often, and how long apart, to read a holder's note again when it is still empty: the
/// holder writes it just after it takes the lock, and a process refused in between would
/// otherwise name "another process" (seen once in the test of two trainings started together).
const NOTE_READS: (usize, std::time::Duration) = (10, std::time::Duration::from_millis(10));

/// Who holds the lock, from the note the holder wrote.
fn holder(file: &mut File) -> String {
    for read in 0..NOTE_READS.0 {
        let mut note = String::new();
        let done = file
            .rewind()
            .and_then(|()| file.take(200).read_to_string(&mut note));
        match done.ok().map(|_| note.trim()) {
            Some(text) if !text.is_empty() => return text.to_string(),
            Some(_) if read + 1 < NOTE_READS.0 => std::thread::sleep(NOTE_READS.1),
            _ => break,
        }
    }
    "another process".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_granted_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("run");
        let first = RunLock::acquire(&root, "train").unwrap();
        let err = RunLock::acquire(&root, "eval").unwrap_err().to_string();
        let pid = std::process::id();
        assert!(
            err.contains(&format!("run: in use by process {pid} (train, since ")),
            "{err}"
        );
        drop(first);
        assert!(!root.exists(), "the folder made for the lock goes with it");
        let again = RunLock::acquire(&root, "eval").expect("free once the first lock is dropped");
        std::fs::write(root.join("config.json"), "{}").unwrap();
        drop(again);
        assert!(!root.join(LOCK_FILE).exists());
        assert!(
            root.join("config.json").exists(),
            "a folder with a run stays"
        );
    }
}
