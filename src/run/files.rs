//! Which files a run folder holds, so that `--overwrite` deletes only what this program (or
//! Burn, on its behalf) wrote there, and refuses a folder that holds anything else.

use std::fs;
use std::path::{Path, PathBuf};

use crate::fs::atomic_file::is_scratch_name;
use crate::run::lock::LOCK_FILE;

/// Files this program writes at the top of a run folder.
pub(crate) const OWN_FILES: &[&str] = &[
    "config.json",
    "data.json",
    "model.bpk",
    "metrics.jsonl",
    "summary.json",
    "curves.png",
    "eval.json",
    "confusion.png",
    "misclassified.png",
    "calibration.png",
    "calibration.json",
    // Burn's application log.
    "experiment.log",
    LOCK_FILE,
];

/// The folder of Burn's checkpoints, each `<kind>-<epoch>.bpk`.
const CHECKPOINT_FOLDER: &str = "checkpoint";
/// The `<kind>`s of Burn's checkpoint files: the model, the optimizer's state, the learning-rate
/// scheduler's.
const CHECKPOINT_KINDS: &[&str] = &["model", "optim", "scheduler"];
/// Burn's metric logs: `<split>/epoch-<n>/<Metric>.log`.
const METRIC_LOG_FOLDERS: &[&str] = &["train", "valid"];

/// Why a run folder could not be checked or cleared.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RunFilesError {
    /// `path`, inside the folder, is not something this program (or Burn) writes.
    #[error(
        "{}: this program did not write it, so --overwrite will not delete the folder around it; pick another --run folder",
        path.display()
    )]
    Foreign { path: PathBuf },
    /// Listing or deleting `path` failed.
    #[error("{}: {cause}", path.display())]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
}

/// Whether `root` holds anything besides the lock file (a missing folder holds nothing).
fn is_occupied(root: &Path) -> bool {
    root.read_dir().is_ok_and(|mut entries| {
        entries.any(|entry| entry.is_ok_and(|entry| entry.file_name() != LOCK_FILE))
    })
}

/// What a folder a new run is to be written into holds already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Occupancy {
    /// Nothing, or no folder yet.
    Free,
    /// Only a run's own files: `--overwrite` may clear it.
    Run,
    /// This entry, and perhaps more, that this program did not write.
    Foreign(PathBuf),
}

/// What `root` holds already (see [`Occupancy`]); an unreadable or missing folder is free.
///
/// Errors: [`RunFilesError::Io`] when a folder inside it cannot be listed.
pub(crate) fn occupancy(root: &Path) -> Result<Occupancy, RunFilesError> {
    if !is_occupied(root) {
        return Ok(Occupancy::Free);
    }
    Ok(match first_foreign(root)? {
        Some(found) => Occupancy::Foreign(found),
        None => Occupancy::Run,
    })
}

/// What a folder of a run may hold: files whose names pass `file`, and folders whose names pass
/// one of `folders`' tests, holding what its rule allows. Anything else (a symbolic link among
/// them) is foreign.
struct Allowed {
    /// Whether a file of this name may be here.
    file: fn(&str) -> bool,
    /// The folders that may be here, each with what it may hold.
    folders: &'static [FolderRule],
}

/// A test of a folder's name, and what a folder so named may hold.
type FolderRule = (fn(&str) -> bool, &'static Allowed);

/// The top of a run folder: its own files, `checkpoint/`, `train/` and `valid/`.
const RUN_FOLDER: Allowed = Allowed {
    file: is_own_top_file,
    folders: &[
        (|name| name == CHECKPOINT_FOLDER, &CHECKPOINTS),
        (|name| METRIC_LOG_FOLDERS.contains(&name), &METRIC_SPLIT),
    ],
};
/// `checkpoint/`: Burn's checkpoint files only.
const CHECKPOINTS: Allowed = Allowed {
    file: is_checkpoint_file,
    folders: &[],
};
/// `train/` and `valid/`: `epoch-<n>/` folders only.
const METRIC_SPLIT: Allowed = Allowed {
    file: |_| false,
    folders: &[(is_epoch_folder, &METRIC_LOGS)],
};
/// `<split>/epoch-<n>/`: Burn's metric logs only.
const METRIC_LOGS: Allowed = Allowed {
    file: is_metric_log,
    folders: &[],
};

/// The first entry under `root` that is not a run's own file, if any.
///
/// Errors: [`RunFilesError::Io`] when a folder cannot be listed.
pub(crate) fn first_foreign(root: &Path) -> Result<Option<PathBuf>, RunFilesError> {
    first_foreign_in(root, &RUN_FOLDER)
}

/// The first entry under `dir`, in name order and depth first, that `allowed` does not allow.
fn first_foreign_in(dir: &Path, allowed: &Allowed) -> Result<Option<PathBuf>, RunFilesError> {
    for (path, name, kind) in entries(dir)? {
        let foreign = match kind {
            Kind::File if (allowed.file)(&name) => None,
            Kind::Folder => match allowed.folders.iter().find(|(test, _)| test(&name)) {
                Some((_, inner)) => first_foreign_in(&path, inner)?,
                None => Some(path),
            },
            _ => Some(path),
        };
        if foreign.is_some() {
            return Ok(foreign);
        }
    }
    Ok(None)
}

/// Deletes a run's own files from `root`, after checking it holds nothing else; `root` itself
/// and its lock file (held by the caller) stay. Refuses, deleting nothing, when anything
/// foreign is found.
///
/// # Errors
///
/// [`RunFilesError::Foreign`] naming the first foreign entry; [`RunFilesError::Io`] when an
/// entry cannot be listed or deleted (what was deleted before it stays deleted).
pub(crate) fn clear(root: &Path) -> Result<(), RunFilesError> {
    if let Some(path) = first_foreign(root)? {
        return Err(RunFilesError::Foreign { path });
    }
    for (path, name, kind) in entries(root)? {
        if name == LOCK_FILE {
            continue;
        }
        let removed = match kind {
            Kind::Folder => fs::remove_dir_all(&path),
            _ => fs::remove_file(&path),
        };
        removed.map_err(|source| RunFilesError::Io {
            path,
            cause: source,
        })?;
    }
    Ok(())
}

/// What a folder entry is, without following symbolic links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// A regular file.
    File,
    /// A folder.
    Folder,
    /// A symbolic link or anything else: never a run's own, never followed.
    Other,
}

/// Largest run record read (`config.json`, `data.json`, `summary.json`, `metrics.jsonl`): a
/// line of `metrics.jsonl` is about 300 bytes, so this holds 200,000 epochs, and a link to
/// `/dev/zero` in a run's place is refused rather than read until the memory runs out.
const MAX_RECORD_BYTES: u64 = 64 << 20;

/// The file's text, or `None` when there is no such file (a run that has not written it yet).
///
/// # Errors
/// Any other failure to read it (permissions, not UTF-8, a folder or a pipe in its place,
/// larger than [`MAX_RECORD_BYTES`]).
pub(crate) fn read_if_present(path: &Path) -> std::io::Result<Option<String>> {
    let too_large = format!(
        "larger than {} MiB; this program writes far smaller records",
        MAX_RECORD_BYTES >> 20
    );
    match crate::fs::bounded_read::read_at_most(path, MAX_RECORD_BYTES, &too_large) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "stream did not contain valid UTF-8",
            )
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// The entries of `dir` as (path, name, kind), sorted by path; none when `dir` is missing.
/// Errors: [`RunFilesError::Io`] when it cannot be listed.
fn entries(dir: &Path) -> Result<Vec<(PathBuf, String, Kind)>, RunFilesError> {
    let io = |source| RunFilesError::Io {
        path: dir.to_path_buf(),
        cause: source,
    };
    let read = match fs::read_dir(dir) {
        Ok(read) => read,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(io(error)),
    };
    let mut found = Vec::new();
    for entry in read {
        let entry = entry.map_err(io)?;
        let kind = entry.file_type().map_err(io)?;
        let kind = if kind.is_file() {
            Kind::File
        } else if kind.is_dir() {
            Kind::Folder
        } else {
            Kind::Other
        };
        // A name that is not valid UTF-8 is nothing this program writes.
        let name = entry.file_name().to_string_lossy().into_owned();
        found.push((entry.path(), name, kind));
    }
    found.sort();
    Ok(found)
}

/// Whether `name` is one of [`OWN_FILES`], or the scratch file of one.
fn is_own_top_file(name: &str) -> bool {
    let name = is_scratch_name(name).unwrap_or(name);
    // `.partial`: the scratch name of earlier versions of this program.
    let name = name.strip_suffix(".partial").unwrap_or(name);
    OWN_FILES.contains(&name)
}

/// Whether `text` is a non-empty run of ASCII digits.
fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `name` is a checkpoint, `<kind>-<epoch>.bpk`, or its scratch file.
fn is_checkpoint_file(name: &str) -> bool {
    let name = is_scratch_name(name).unwrap_or(name);
    let Some(stem) = name.strip_suffix(".bpk") else {
        return false;
    };
    stem.rsplit_once('-')
        .is_some_and(|(kind, epoch)| CHECKPOINT_KINDS.contains(&kind) && is_number(epoch))
}

/// Whether `name` is `epoch-<n>`.
fn is_epoch_folder(name: &str) -> bool {
    name.strip_prefix("epoch-").is_some_and(is_number)
}

/// Whether `name` is `<Metric>.log`, the metric's name in ASCII letters, digits, `_` and `-`.
fn is_metric_log(name: &str) -> bool {
    name.strip_suffix(".log").is_some_and(|stem| {
        !stem.is_empty()
            && stem
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_folder(root: &Path) {
        fs::create_dir_all(root.join("checkpoint")).unwrap();
        fs::create_dir_all(root.join("train/epoch-1")).unwrap();
        fs::create_dir_all(root.join("valid/epoch-1")).unwrap();
        for file in [
            "config.json",
            "metrics.jsonl",
            "model.bpk",
            "summary.json.123-4.tmp",
            "checkpoint/model-1.bpk",
            "checkpoint/optim-1.bpk",
            "checkpoint/scheduler-1.bpk.77-0.tmp",
            "train/epoch-1/Loss.log",
            "valid/epoch-1/Accuracy.log",
            "experiment.log",
        ] {
            fs::write(root.join(file), "x").unwrap();
        }
    }

    #[test]
    fn a_run_folder_is_cleared_but_the_folder_stays() {
        let dir = tempfile::tempdir().unwrap();
        run_folder(dir.path());
        assert_eq!(first_foreign(dir.path()).unwrap(), None);
        clear(dir.path()).unwrap();
        assert!(dir.path().is_dir());
        assert!(!is_occupied(dir.path()));
    }

    #[test]
    fn anything_foreign_anywhere_is_named_and_nothing_is_deleted() {
        for foreign in [
            "notes.txt",
            "checkpoint/model-final.bpk",
            "train/epoch-1/photo.jpg",
            "valid/epoch-x/Loss.log",
            "src/main.rs",
        ] {
            let dir = tempfile::tempdir().unwrap();
            run_folder(dir.path());
            let path = dir.path().join(foreign);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, "mine").unwrap();
            let err = clear(dir.path()).unwrap_err();
            let named = match foreign.split_once('/') {
                Some(("src", _)) => dir.path().join("src"),
                Some(("valid", _)) => dir.path().join("valid/epoch-x"),
                _ => path.clone(),
            };
            assert!(
                matches!(&err, RunFilesError::Foreign { path } if *path == named),
                "{foreign}: {err}"
            );
            assert_eq!(fs::read_to_string(&path).unwrap(), "mine");
            assert!(dir.path().join("config.json").exists(), "{foreign}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_is_foreign_and_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        // Behind the link, a file a run's epoch folder could hold: followed, it would count as
        // the run's own and be deleted.
        let elsewhere = tempfile::tempdir().unwrap();
        fs::write(elsewhere.path().join("Loss.log"), "someone's").unwrap();
        run_folder(dir.path());
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("train/epoch-2")).unwrap();
        assert_eq!(
            first_foreign(dir.path()).unwrap(),
            Some(dir.path().join("train/epoch-2")),
            "the link itself is foreign"
        );
        assert!(clear(dir.path()).is_err());
        assert!(elsewhere.path().join("Loss.log").exists());
        assert!(dir.path().join("config.json").exists(), "nothing deleted");
    }

    #[test]
    fn an_empty_or_missing_folder_holds_nothing_foreign() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(first_foreign(dir.path()).unwrap(), None);
        assert_eq!(first_foreign(&dir.path().join("none")).unwrap(), None);
        assert!(!is_occupied(&dir.path().join("none")));
    }
}
