//! `serve --collect DIR`: drawings saved with the class the person says they are, into
//! `DIR/<class index>/` (the layout torchvision's `ImageFolder` reads), to fine-tune on later.
//!
//! A saved picture never replaces a file and never lands outside DIR: the class is a number
//! checked against the class count, the file's name is the server's own. It is written to a
//! scratch file beside its name, synced, then hard-linked to its name (a link fails rather than
//! replace a file, and the picture appears there whole or not at all). DIR itself must stay the
//! folder the server started with: moved away, or replaced by another folder or a symbolic
//! link, nothing more is saved.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};

use crate::data::NUM_CLASSES;
use crate::fs::atomic_file::is_scratch_name;

/// How many names one save tries: a name is taken only by a file another server saved in the
/// same second, so running out means something else is filling the folder.
const NAMES_TRIED: usize = 1000;

/// The folder drawings are saved into, checked when the server starts.
#[derive(Debug)]
pub(crate) struct Collection {
    /// DIR, as given.
    dir: PathBuf,
    /// The device and inode DIR named when the server started.
    identity: (u64, u64),
    /// The number in the next file's name: unique within this server, so its own saves never
    /// compete for a name.
    next: AtomicU64,
}

/// A class index given as `class=N` in a request's query: a number below [`NUM_CLASSES`],
/// written as such, so its folder name is the server's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Class(usize);

impl Class {
    /// The class's index.
    pub(crate) fn index(self) -> usize {
        self.0
    }

    /// The class in a query string (`class=3`, among other parameters or alone).
    ///
    /// # Errors
    /// A line saying what is wrong: no `class`, one given twice, or one that is not an index
    /// 0-9 written plainly (`10`, `x`, `../1`, `03`, `%33`).
    pub(crate) fn from_query(query: Option<&str>) -> Result<Self, String> {
        let last = NUM_CLASSES - 1;
        let mut given = query.unwrap_or_default().split('&').filter_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (name == "class").then_some(value)
        });
        let Some(value) = given.next() else {
            return Err(format!(
                "no class: say what the picture is with ?class=N, N from 0 to {last}"
            ));
        };
        if given.next().is_some() {
            return Err("class is given more than once; give it once".to_string());
        }
        value
            .parse::<usize>()
            .ok()
            // Only the plain spelling, so the folder's name is exactly the number's.
            .filter(|&index| index < NUM_CLASSES && index.to_string() == value)
            .map(Class)
            .ok_or_else(|| {
                format!(
                    "class={}: the class is its index, a number from 0 to {last}",
                    value.escape_debug()
                )
            })
    }
}

/// A picture saved: its path under DIR (`3/drawn-20260115-143012-1.png`), and how many
/// pictures its class folder holds now (`None` when the folder could not be listed after the
/// save, which still happened).
#[derive(Debug)]
pub(crate) struct Saved {
    /// `<class>/<file name>`, with `/` whatever the system.
    pub(crate) path: String,
    /// The files in the class folder, the one saved included.
    pub(crate) count: Option<usize>,
}

/// Why a picture was not saved; nothing of it is left in DIR.
#[derive(Debug, thiserror::Error)]
#[error("cannot save the picture in {folder}/: {cause}")]
pub(crate) struct SaveError {
    /// The class folder, under DIR (`3`).
    folder: usize,
    /// The operating system's error.
    cause: std::io::Error,
}

impl Collection {
    /// DIR, ready to save into: created when missing (not its parents), refused when it is not
    /// a folder or cannot be written in (a file is created there and removed to find out).
    ///
    /// # Errors
    /// One line naming DIR: its parent folder does not exist, it is a file or something else
    /// that is not a folder, it cannot be created, read or written in.
    pub(crate) fn open(dir: &Path) -> Result<Self> {
        let shown = dir.display();
        match std::fs::metadata(dir) {
            Ok(found) if found.is_dir() => {}
            Ok(found) if found.is_file() => bail!("--collect {shown}: is a file, not a folder"),
            Ok(_) => bail!("--collect {shown}: is not a folder"),
            Err(error) if error.kind() == ErrorKind::NotFound => create(dir)?,
            Err(error) => {
                return Err(error).with_context(|| format!("--collect {shown}: cannot read it"));
            }
        }
        // Found out now, not at the first drawing someone saves.
        let probe = dir.join(format!("collect-check.{}-0.tmp", std::process::id()));
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
            .with_context(|| format!("--collect {shown}: cannot write in it"))?;
        std::fs::remove_file(&probe).with_context(|| {
            format!(
                "--collect {shown}: cannot remove {} after writing it",
                probe.display()
            )
        })?;
        let found =
            std::fs::metadata(dir).with_context(|| format!("--collect {shown}: cannot read it"))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            identity: (found.dev(), found.ino()),
            next: AtomicU64::new(1),
        })
    }

    /// The folder, as given.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether DIR still names the folder the server started with: one moved there since (or a
    /// symbolic link to another) would take pictures where the operator did not say.
    fn still_dir(&self) -> std::io::Result<()> {
        let now = std::fs::metadata(&self.dir)?;
        if (now.dev(), now.ino()) != self.identity {
            return Err(std::io::Error::other(format!(
                "{} is no longer the folder serve started with (moved or replaced): restart serve",
                self.dir.display()
            )));
        }
        Ok(())
    }

    /// Saves `picture`'s bytes as they are into `DIR/<class>/` (created at its first picture)
    /// under a new name, `drawn-<UTC date>-<time>-<n>.png`; never over a file.
    ///
    /// # Errors
    /// [`SaveError`]: the class folder cannot be created or is not a folder (a file or a
    /// symbolic link in its place), the picture cannot be written or synced (a full disk), or
    /// no free name was found. What was written is removed.
    pub(crate) fn save(&self, class: Class, picture: &[u8]) -> Result<Saved, SaveError> {
        let folder_name = class.index();
        let failed = |cause| SaveError {
            folder: folder_name,
            cause,
        };
        self.still_dir().map_err(failed)?;
        let folder = class_folder(&self.dir, folder_name).map_err(failed)?;
        let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string();
        let name = |number: u64| format!("drawn-{stamp}-{number}.png");
        let next = || self.next.fetch_add(1, Ordering::Relaxed);
        let (scratch, number) = write_scratch(&folder, picture, &name, next).map_err(failed)?;
        let placed = place(&folder, &scratch, picture, &name, number, next);
        // The scratch file's job is done whichever way it went; one left behind is only a
        // stray `.tmp` that the count and a folder of pictures skip.
        let _ = std::fs::remove_file(&scratch);
        let file_name = placed.map_err(failed)?;
        // The picture is whole and named already; syncing the folder makes the name survive a
        // power cut, and a folder that cannot be synced does not make the save untrue.
        if let Ok(opened) = File::open(&folder) {
            let _ = opened.sync_all();
        }
        Ok(Saved {
            path: format!("{folder_name}/{file_name}"),
            count: pictures_in(&folder),
        })
    }
}

/// `DIR/<class>/`, created at its first picture.
///
/// # Errors
/// It cannot be created, or is not a folder (a symbolic link there would put the picture
/// outside DIR).
fn class_folder(dir: &Path, class: usize) -> std::io::Result<PathBuf> {
    let folder = dir.join(class.to_string());
    match std::fs::create_dir(&folder) {
        Err(error) if error.kind() != ErrorKind::AlreadyExists => return Err(error),
        _ => {}
    }
    if !std::fs::symlink_metadata(&folder)?.file_type().is_dir() {
        return Err(std::io::Error::other(
            "it is not a folder (a file or a symbolic link is in its place)",
        ));
    }
    Ok(folder)
}

/// The error of [`NAMES_TRIED`] names all taken.
fn all_taken() -> std::io::Error {
    std::io::Error::other(format!("{NAMES_TRIED} names tried, all taken"))
}

/// `picture` written and synced into a new scratch file in `folder`, named after the picture's
/// name `name(number)` (`<name>.<pid>-<number>.tmp`, a scratch name), with that number; a name
/// taken moves on to `next()`'s.
///
/// # Errors
/// The file cannot be written (what was written is removed), or every name was taken.
fn write_scratch(
    folder: &Path,
    picture: &[u8],
    name: &impl Fn(u64) -> String,
    next: impl Fn() -> u64,
) -> std::io::Result<(PathBuf, u64)> {
    let mut number = next();
    for _ in 0..NAMES_TRIED {
        let scratch = folder.join(format!(
            "{}.{}-{number}.tmp",
            name(number),
            std::process::id()
        ));
        match write_new(&scratch, picture) {
            Ok(()) => return Ok((scratch, number)),
            // Taken only by a server of the same process id (another container's) sharing DIR.
            Err(error) if error.kind() == ErrorKind::AlreadyExists => number = next(),
            Err(error) => return Err(error),
        }
    }
    Err(all_taken())
}

/// The picture given its name in `folder`: `scratch` hard-linked to `name(number)` (a link
/// never replaces a file), the next number while the name is taken; on a file system without
/// hard links, `picture` written under the name directly, still never over a file. Returns
/// the file's name.
///
/// # Errors
/// The link or the write failed, or every name was taken.
fn place(
    folder: &Path,
    scratch: &Path,
    picture: &[u8],
    name: &impl Fn(u64) -> String,
    mut number: u64,
    next: impl Fn() -> u64,
) -> std::io::Result<String> {
    let mut linking = true;
    for _ in 0..NAMES_TRIED {
        let path = folder.join(name(number));
        let attempt = if linking {
            std::fs::hard_link(scratch, &path)
        } else {
            write_new(&path, picture)
        };
        match attempt {
            Ok(()) => return Ok(name(number)),
            Err(error) if error.kind() == ErrorKind::AlreadyExists => number = next(),
            // FAT and some network file systems have no hard links: the picture is then
            // written under its name directly, removed if the write fails (only a kill in the
            // middle could leave part of it).
            Err(_) if linking => linking = false,
            Err(error) => return Err(error),
        }
    }
    Err(all_taken())
}

/// Creates DIR itself (not its parents: a mistyped path should not grow folders).
///
/// # Errors
/// Its parent does not exist, or it cannot be created.
fn create(dir: &Path) -> Result<()> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == ErrorKind::NotFound => {
            let parent = dir
                .parent()
                .filter(|parent| !parent.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            bail!(
                "--collect {}: cannot create it: its parent folder {} does not exist",
                dir.display(),
                parent.display()
            )
        }
        Err(error) => {
            Err(error).with_context(|| format!("--collect {}: cannot create it", dir.display()))
        }
    }
}

/// Writes `bytes` into a new file at `path` (never an existing one) and syncs it; on failure
/// removes what was written.
///
/// # Errors
/// `AlreadyExists` when `path` is taken; the file cannot be created, written or synced.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    // A deferred write error (a full disk, a quota) reaches only the handle that wrote.
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if written.is_err() {
        drop(file);
        let _ = std::fs::remove_file(path);
    }
    written
}

/// The pictures in a class folder: its files, less scratch files and hidden ones.
fn pictures_in(folder: &Path) -> Option<usize> {
    let entries = std::fs::read_dir(folder).ok()?;
    let count = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            !name.starts_with('.') && is_scratch_name(&name).is_none()
        })
        .count();
    Some(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plain_class_index_is_a_class() {
        assert_eq!(Class::from_query(Some("class=3")), Ok(Class(3)));
        assert_eq!(Class::from_query(Some("x=1&class=0")), Ok(Class(0)));
        assert_eq!(Class::from_query(Some("class=9")), Ok(Class(9)));
        for bad in [
            "class=10",
            "class=x",
            "class=../1",
            "class=03",
            "class=%33",
            "class=",
            "class",
            "class=-1",
            "class=+3",
            "class=3.0",
        ] {
            let error = Class::from_query(Some(bad)).unwrap_err();
            assert!(error.contains("from 0 to 9"), "{bad}: {error}");
        }
        let twice = Class::from_query(Some("class=3&class=4")).unwrap_err();
        assert!(twice.contains("more than once"), "{twice}");
        for none in [None, Some(""), Some("klass=3")] {
            let error = Class::from_query(none).unwrap_err();
            assert!(error.starts_with("no class"), "{none:?}: {error}");
        }
    }

    #[test]
    fn saves_are_new_files_with_the_bytes_given_and_never_replace_one() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("collected");
        let collection = Collection::open(&dir).unwrap();
        let first = collection.save(Class(3), b"first").unwrap();
        let second = collection.save(Class(3), b"second").unwrap();
        assert_ne!(first.path, second.path);
        assert!(first.path.starts_with("3/drawn-") && first.path.ends_with(".png"));
        assert_eq!((first.count, second.count), (Some(1), Some(2)));
        assert_eq!(std::fs::read(dir.join(&first.path)).unwrap(), b"first");
        assert_eq!(std::fs::read(dir.join(&second.path)).unwrap(), b"second");
        // The next names taken by files already there (as another server's would be): each is
        // left as it is, and the picture goes under a free one.
        let number = collection.next.load(Ordering::Relaxed);
        let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string();
        for taken in number..number + 3 {
            std::fs::write(dir.join(format!("3/drawn-{stamp}-{taken}.png")), b"theirs").unwrap();
        }
        let third = collection.save(Class(3), b"third").unwrap();
        assert_eq!(std::fs::read(dir.join(&third.path)).unwrap(), b"third");
        let files: Vec<_> = std::fs::read_dir(dir.join("3")).unwrap().collect();
        assert_eq!(files.len(), 6, "no scratch file left: {files:?}");
        for taken in number..number + 3 {
            let path = dir.join(format!("3/drawn-{stamp}-{taken}.png"));
            // (Unless the second turned between the stamp above and the save's.)
            if third.path != format!("3/drawn-{stamp}-{taken}.png") {
                assert_eq!(std::fs::read(path).unwrap(), b"theirs");
            }
        }
        assert_eq!(third.count, Some(6));
    }

    #[test]
    fn a_folder_that_cannot_hold_the_collection_is_named_in_one_line() {
        let root = tempfile::tempdir().unwrap();
        let missing = root.path().join("no/such");
        let error = format!("{:#}", Collection::open(&missing).unwrap_err());
        assert!(error.contains("its parent folder"), "{error}");
        assert!(error.contains(&missing.display().to_string()), "{error}");
        let file = root.path().join("a-file");
        std::fs::write(&file, b"").unwrap();
        let error = format!("{:#}", Collection::open(&file).unwrap_err());
        assert!(
            error.ends_with("a-file: is a file, not a folder"),
            "{error}"
        );
        // A file where a class folder goes: not written through, not replaced.
        let dir = root.path().join("collected");
        let collection = Collection::open(&dir).unwrap();
        std::fs::write(dir.join("4"), b"mine").unwrap();
        let error = collection
            .save(Class(4), b"picture")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("cannot save the picture in 4/"),
            "{error}"
        );
        assert_eq!(std::fs::read(dir.join("4")).unwrap(), b"mine");
        // Nor a symbolic link to a folder elsewhere followed.
        let elsewhere = root.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir.join("5")).unwrap();
        let error = collection
            .save(Class(5), b"picture")
            .unwrap_err()
            .to_string();
        assert!(error.contains("symbolic link"), "{error}");
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
        // Nothing left by the check of DIR.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
    }

    #[test]
    fn a_collect_folder_replaced_while_serving_takes_no_picture() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("collected");
        let collection = Collection::open(&dir).unwrap();
        collection.save(Class(1), b"first").unwrap();
        // DIR moved away and a symbolic link to another folder put in its place.
        let elsewhere = root.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::rename(&dir, root.path().join("moved")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &dir).unwrap();
        let error = collection
            .save(Class(1), b"second")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("no longer the folder serve started with"),
            "{error}"
        );
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
        // Nor into a new folder of the same name.
        std::fs::remove_file(&dir).unwrap();
        std::fs::create_dir(&dir).unwrap();
        assert!(collection.save(Class(1), b"third").is_err());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    }
}
