//! A folder of pictures sorted by class as a dataset, the layout torchvision's `ImageFolder`
//! and Keras's `image_dataset_from_directory` read: one folder per class, named by its index
//! (`0/` ... `9/`: the digits for MNIST) or its name in the dataset (`Sneaker/`), each picture prepared as `infer` prepares a picture
//! (`picture::prepare_digits`), so that a photo in the training set reaches the model as `infer`
//! would give it; as one digit, whole, since its folder says it holds one (an MNIST digit drawn
//! in two pieces would otherwise be split).
//!
//! The splits: `train/` and `test/` folders, each sorted by class; or the class folders alone,
//! of which a fixed share of the pictures is the test split, chosen by each picture's name
//! ([`TEST_SHARE`]): adding pictures never moves another from one split to the other, so a
//! growing folder keeps its test pictures unseen.
//!
//! Checked before anything is trained on, each refused in one line naming the path: a class
//! folder not named 0 to 9, a file where a class folder belongs, a folder or a symbolic link
//! where a picture belongs (nothing outside the folder is read), an empty class, a picture
//! that cannot be read, is not a picture or does not hold one digit.

use std::path::{Path, PathBuf};

use crate::data::idx::{Fingerprint, LabelledImages};
use crate::data::{DatasetKind, IMAGE_PIXELS, Split, SplitPrints};
use crate::fs::atomic_file::is_scratch_name;
use crate::picture::{PictureError, Unread, prepare_file_bytes, read_picture_file};

/// The share of the pictures that is the test split when there is no `test/` folder: one in
/// five (the share of a classic 80/20 split), chosen by the CRC-32 of the picture's path within
/// the folder (`3/mine.png`).
pub(crate) const TEST_SHARE: (u32, u32) = (1, 5);

/// Most pictures one split may hold: more than MNIST's 60,000 tenfold, a bound on the memory
/// (784 bytes each) and time a mistaken folder can take.
const MAX_PICTURES: usize = 600_000;

/// Why a folder of pictures is not a dataset.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FolderError {
    /// A folder cannot be listed.
    #[error("{}: cannot read: {cause}", path.display())]
    Io {
        /// The folder.
        path: PathBuf,
        /// The operating system's error.
        cause: std::io::Error,
    },
    /// Something in the folder that is not what its place holds.
    #[error("{}: {what}", path.display())]
    Layout {
        /// What is out of place.
        path: PathBuf,
        /// What it is, and what belongs there.
        what: &'static str,
    },
    /// A picture that cannot be read, decoded or holds no digit.
    #[error(transparent)]
    Picture(#[from] PictureError),
    /// Two folders of one class (`7/` and, for MNIST, no other; `7/` and `Sneaker/` for
    /// Fashion-MNIST).
    #[error("{}: the same class as {}; keep one folder per class", path.display(), twin.display())]
    Twins {
        /// The second folder.
        path: PathBuf,
        /// The first.
        twin: PathBuf,
    },
    /// No picture falls in a split.
    #[error("{}: no picture in the {split} split; {advice}", dir.display())]
    EmptySplit {
        /// The dataset's folder.
        dir: PathBuf,
        /// The split's name.
        split: &'static str,
        /// What to do.
        advice: &'static str,
    },
    /// More pictures than [`MAX_PICTURES`].
    #[error("{}: more than {MAX_PICTURES} pictures in one split", dir.display())]
    TooMany {
        /// The dataset's folder.
        dir: PathBuf,
    },
}

/// The pictures of `split` in `dir`, prepared, labelled by their class folders (named by
/// `dataset`'s class index or name, see `DatasetKind::class_named`), with the
/// fingerprint of the split's files (`train-pictures` or `test-pictures`: their paths within
/// the folder and their bytes, in order).
///
/// # Errors
/// [`FolderError`], naming the path at fault.
pub(crate) fn load(
    dir: &Path,
    split: Split,
    dataset: DatasetKind,
) -> Result<(LabelledImages, SplitPrints), FolderError> {
    let (root, shared) = match split_folder(dir, split)? {
        Some(root) => (root, false),
        None => (dir.to_path_buf(), true),
    };
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    let mut stream = crc32fast::Hasher::new();
    let mut total = 0u64;
    for (class, folder) in class_folders(&root, dataset)? {
        for path in pictures_in(&folder)? {
            let name = path.strip_prefix(dir).unwrap_or(&path).to_string_lossy();
            if shared && in_test_split(&name) != (split == Split::Test) {
                continue;
            }
            if labels.len() == MAX_PICTURES {
                return Err(FolderError::TooMany {
                    dir: dir.to_path_buf(),
                });
            }
            let bytes = read_picture_file(&path)?;
            pixels.extend_from_slice(&prepared(&path, &bytes)?);
            labels.push(class);
            stream.update(name.as_bytes());
            stream.update(&(bytes.len() as u64).to_le_bytes());
            stream.update(&bytes);
            total += bytes.len() as u64;
        }
    }
    if labels.is_empty() {
        return Err(FolderError::EmptySplit {
            dir: dir.to_path_buf(),
            split: split.cache_folder(),
            advice: "add pictures (one in five of a folder without test/ is tested on)",
        });
    }
    let print = Fingerprint {
        bytes: total,
        crc32: stream.finalize(),
    };
    let name = match split {
        Split::Train => "train-pictures",
        Split::Test => "test-pictures",
    };
    let images = LabelledImages::from_parts(pixels, labels).expect("784 pixels per label");
    Ok((images, vec![(name, print)]))
}

/// The split's own folder (`train/`, `test/`) when `dir` has a `train/` folder; `None` when the
/// class folders are in `dir` itself.
///
/// # Errors
/// [`FolderError::Layout`] for a `train/` without a `test/`.
fn split_folder(dir: &Path, split: Split) -> Result<Option<PathBuf>, FolderError> {
    // Links are not followed: what is read stays inside the folder.
    let kind = |path: &Path| std::fs::symlink_metadata(path).map(|found| found.file_type());
    let train = dir.join("train");
    match kind(&train) {
        Ok(found) if found.is_symlink() => return Err(not_followed(train)),
        Ok(found) if found.is_dir() => {}
        _ => return Ok(None),
    }
    let folder = dir.join(split.cache_folder());
    if kind(&folder).is_ok_and(|found| found.is_symlink()) {
        return Err(not_followed(folder));
    }
    if !folder.is_dir() {
        return Err(FolderError::Layout {
            path: folder,
            what: "missing: a folder with train/ needs test/ beside it, each sorted by class",
        });
    }
    Ok(Some(folder))
}

/// The class folders of `root` with their labels, in class order.
///
/// # Errors
/// A folder that cannot be listed; an entry that is not a folder named by a class; two
/// folders of one class.
fn class_folders(root: &Path, dataset: DatasetKind) -> Result<Vec<(u8, PathBuf)>, FolderError> {
    let mut classes: Vec<(u8, PathBuf)> = Vec::new();
    for (path, kind) in entries(root)? {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let class = dataset.class_named(&name);
        if let Some(twin) = class.and_then(|c| classes.iter().find(|(seen, _)| *seen == c)) {
            return Err(FolderError::Twins {
                path,
                twin: twin.1.clone(),
            });
        }
        match class {
            Some(class) if kind.is_dir() => classes.push((class, path)),
            Some(_) if kind.is_symlink() => return Err(not_followed(path)),
            _ => {
                return Err(FolderError::Layout {
                    path,
                    what: "not a class folder: a folder of pictures (or its train/ and test/) holds one folder per class, named 0 to 9 (the class index) or by the class's name",
                });
            }
        }
    }
    classes.sort();
    Ok(classes)
}

/// The pictures in a class folder, by name.
///
/// # Errors
/// A folder that cannot be listed, holds no picture, or holds something other than files.
fn pictures_in(folder: &Path) -> Result<Vec<PathBuf>, FolderError> {
    let mut pictures = Vec::new();
    for (path, kind) in entries(folder)? {
        if kind.is_symlink() {
            return Err(not_followed(path));
        }
        if !kind.is_file() {
            return Err(FolderError::Layout {
                path,
                what: "not a picture: a class folder holds picture files only",
            });
        }
        pictures.push(path);
    }
    if pictures.is_empty() {
        return Err(FolderError::Layout {
            path: folder.to_path_buf(),
            what: "an empty class: no pictures in it (remove the folder, or add pictures)",
        });
    }
    Ok(pictures)
}

/// The entries of `dir` and their types (not following links), by name; hidden ones (`.git`,
/// `.DS_Store`) left out, and the scratch files this program leaves when killed mid-write
/// (`serve --collect`'s `drawn-....png.<pid>-<n>.tmp`), which are not pictures.
///
/// # Errors
/// [`FolderError::Io`] when it cannot be listed.
fn entries(dir: &Path) -> Result<Vec<(PathBuf, std::fs::FileType)>, FolderError> {
    let io = |cause| FolderError::Io {
        path: dir.to_path_buf(),
        cause,
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let scratch = name.to_str().and_then(is_scratch_name).is_some();
        if scratch || name.as_encoded_bytes().starts_with(b".") {
            continue;
        }
        found.push((entry.path(), entry.file_type().map_err(io)?));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// Whether the picture named `name` (its path within the dataset's folder) is in the test
/// split of a folder without `test/`.
fn in_test_split(name: &str) -> bool {
    let (share, of) = TEST_SHARE;
    crc32fast::hash(name.as_bytes()) % of < share
}

/// A symbolic link refused: reading one could leave the folder.
fn not_followed(path: PathBuf) -> FolderError {
    FolderError::Layout {
        path,
        what: "a symbolic link: only what is inside the folder is read (copy the file in)",
    }
}

/// A picture's `bytes` prepared as `infer` prepares a picture, whole: 784 pixels.
///
/// # Errors
/// Not a picture, or blank.
fn prepared(path: &Path, bytes: &[u8]) -> Result<[u8; IMAGE_PIXELS], PictureError> {
    let found = prepare_file_bytes(path, bytes, false)?;
    // The whole picture is one region, or none when its ink is too faint to place.
    found
        .first()
        .map(|digit| digit.pixels)
        .ok_or(PictureError::Unread {
            path: path.to_path_buf(),
            cause: Unread::Blank,
        })
}
