//! Where a dataset's four IDX files are read from: a folder, or Burn's download cache.

use std::path::{Path, PathBuf};

use crate::data::download::{DownloadError, burn_cache_files};
use crate::data::idx::{Fingerprint, IdxError, LabelledImages};
use crate::data::split::Split;
use crate::data::{DEBIAN_FASHION_MNIST, DatasetKind};

/// Why a split's images could not be had.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file was found but could not be read, or is not valid IDX.
    #[error(transparent)]
    Idx(#[from] IdxError),
    /// The `--data-dir` folder does not exist.
    #[error("{}: no such folder", dir.display())]
    NoFolder { dir: PathBuf },
    /// The `--data-dir` path is a file or something else that is not a folder.
    #[error("{}: not a folder; --data-dir names a folder of IDX files or of pictures sorted by class", dir.display())]
    NotAFolder { dir: PathBuf },
    /// The `--data-dir` path is not UTF-8: the run's `data.json` (JSON) cannot record it.
    #[error("{}: the folder's path is not UTF-8, which the run's data.json cannot record; rename it, or pass a link to it whose path is UTF-8", dir.display())]
    NotUtf8 { dir: PathBuf },
    /// The folder lacks one of the split's files `name`, raw or gzipped.
    #[error("{}: holds neither {name} nor {name}.gz (nor Burn's cache layout, train/ and test/ folders)", dir.display())]
    MissingFile { dir: PathBuf, name: &'static str },
    /// Burn's MNIST download failed, or there is no cache folder to download into.
    #[error(transparent)]
    Download(#[from] DownloadError),
    /// Fashion-MNIST was asked for without `--data-dir` and Debian's folder is absent.
    #[error(
        "Fashion-MNIST has no download here; pass --data-dir with its four IDX files (Debian: apt-get install dataset-fashion-mnist puts them in {DEBIAN_FASHION_MNIST})"
    )]
    NoFashionMnist,
    /// A folder of pictures asked for its IDX files: it is read picture by picture instead.
    #[error("{}: a folder of pictures, not IDX files", dir.display())]
    NotIdx { dir: PathBuf },
}

/// The fingerprints of a split's two files (images, labels), by standard file name.
pub(crate) type SplitPrints = Vec<(&'static str, Fingerprint)>;

/// Where MNIST's four IDX files are read from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataSource {
    /// A folder holding the standard file names, each raw or gzipped.
    Folder(PathBuf),
    /// A folder of pictures sorted by class (`picture::folder`), read by the picture pipeline
    /// one layer up: its images are never loaded here.
    Pictures(PathBuf),
    /// Burn's `MnistDataset` cache, downloaded on first use.
    BurnCache,
}

impl DataSource {
    /// `--data-dir` when given, else the dataset's usual place.
    ///
    /// # Errors
    ///
    /// [`DataError::NotUtf8`] for a `dir` whose path is not UTF-8; without `dir`, as
    /// [`DatasetKind::default_source`] fails.
    pub fn resolve(dataset: DatasetKind, dir: Option<PathBuf>) -> Result<Self, DataError> {
        match dir {
            Some(dir) if dir.to_str().is_none() => Err(DataError::NotUtf8 { dir }),
            Some(dir) => Ok(DataSource::of_folder(dir, dataset)),
            None => dataset.default_source(),
        }
    }

    /// The source a `--data-dir` folder is: a folder of pictures when it holds no IDX files of
    /// the training split and a folder of one of `dataset`'s classes (`0/` or `train/0/`, or by
    /// the class's name); otherwise IDX files (and a missing file is named as such when read).
    pub fn of_folder(dir: PathBuf, dataset: DatasetKind) -> Self {
        let idx = locate(&dir, Split::Train, Split::Train.file_names().0).is_ok();
        let holds_a_class = |dir: &Path| {
            let mut entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
            entries.any(|entry| {
                let name = entry.file_name();
                let class = name.to_str().and_then(|name| dataset.class_named(name));
                class.is_some() && entry.path().is_dir()
            })
        };
        if !idx && (holds_a_class(&dir) || holds_a_class(&dir.join("train"))) {
            DataSource::Pictures(dir)
        } else {
            DataSource::Folder(dir)
        }
    }

    /// Reads and validates one split.
    ///
    /// # Errors
    ///
    /// As [`DataSource::load_fingerprinted`].
    pub fn load(&self, split: Split) -> Result<LabelledImages, DataError> {
        Ok(self.load_fingerprinted(split)?.0)
    }

    /// Reads and validates one split, with the fingerprint of each of its files by standard
    /// name.
    ///
    /// # Errors
    ///
    /// A folder that does not exist or lacks one of the files; Burn's download failing (or no
    /// cache folder for it); a file that cannot be read or is not valid IDX ([`DataError::Idx`]).
    pub fn load_fingerprinted(
        &self,
        split: Split,
    ) -> Result<(LabelledImages, SplitPrints), DataError> {
        let (images_name, labels_name) = split.file_names();
        let (images, labels) = match self {
            DataSource::Folder(dir) => (
                locate(dir, split, images_name)?,
                locate(dir, split, labels_name)?,
            ),
            DataSource::BurnCache => burn_cache_files(split)?,
            DataSource::Pictures(dir) => {
                return Err(DataError::NotIdx { dir: dir.clone() });
            }
        };
        let (data, [images_print, labels_print]) =
            LabelledImages::read_fingerprinted(&images, &labels)?;
        Ok((
            data,
            vec![(images_name, images_print), (labels_name, labels_print)],
        ))
    }

    /// The same source with an absolute folder, so that it still names the same files when
    /// used from another working directory.
    pub fn absolute(&self) -> Self {
        match self {
            DataSource::Folder(dir) => {
                DataSource::Folder(std::path::absolute(dir).unwrap_or_else(|_| dir.clone()))
            }
            DataSource::Pictures(dir) => {
                DataSource::Pictures(std::path::absolute(dir).unwrap_or_else(|_| dir.clone()))
            }
            DataSource::BurnCache => DataSource::BurnCache,
        }
    }

    /// Whether it is a folder of pictures (not IDX files).
    pub fn is_pictures(&self) -> bool {
        matches!(self, DataSource::Pictures(_))
    }

    /// The source in words for messages: the folder's path, or "Burn's MNIST cache".
    pub fn describe(&self) -> String {
        match self {
            DataSource::Folder(dir) | DataSource::Pictures(dir) => dir.display().to_string(),
            DataSource::BurnCache => "Burn's MNIST cache".to_string(),
        }
    }
}

/// The file `name` of `split` in `dir`, raw or gzipped: in the folder itself, or in the
/// split's subfolder as Burn's cache keeps them (`~/.cache/burn-dataset/mnist/train/...`), so
/// that Burn's cache can be given as `--data-dir`.
fn locate(dir: &Path, split: Split, name: &'static str) -> Result<PathBuf, DataError> {
    if dir.exists() && !dir.is_dir() {
        return Err(DataError::NotAFolder {
            dir: dir.to_path_buf(),
        });
    }
    if !dir.is_dir() {
        return Err(DataError::NoFolder {
            dir: dir.to_path_buf(),
        });
    }
    let sub = dir.join(split.cache_folder());
    [dir, sub.as_path()]
        .into_iter()
        .flat_map(|folder| [folder.join(name), folder.join(format!("{name}.gz"))])
        .find(|path| path.is_file())
        .ok_or_else(|| DataError::MissingFile {
            dir: dir.to_path_buf(),
            name,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::testing::{gzip, images_bytes, labels_bytes};

    #[test]
    fn a_folder_may_mix_raw_and_gzipped_files() {
        let dir = tempfile::tempdir().unwrap();
        let write =
            |name: &str, bytes: Vec<u8>| std::fs::write(dir.path().join(name), bytes).unwrap();
        write(
            "t10k-images-idx3-ubyte.gz",
            gzip(&images_bytes(2, 28, 28, |_| 9)),
        );
        write("t10k-labels-idx1-ubyte", labels_bytes(&[1, 2]));
        let source = DataSource::Folder(dir.path().to_path_buf());
        let test = source.load(Split::Test).unwrap();
        assert_eq!(test.labels(), vec![1, 2]);
        let err = source.load(Split::Train).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::MissingFile {
                    name: "train-images-idx3-ubyte",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_missing_folder_is_named() {
        let err = DataSource::Folder("does/not/exist".into())
            .load(Split::Test)
            .unwrap_err();
        assert_eq!(err.to_string(), "does/not/exist: no such folder");
    }
}
