//! Where the digits come from (a local folder or Burn's MNIST download) and how they become
//! batches of tensors.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::prelude::*;

use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::choice::named_choice;
use crate::idx::{Fingerprint, IMAGE_PIXELS, IdxError, LabelledImages, NUM_CLASSES};

named_choice!(
    /// Which set of 28×28 images and ten classes.
    DatasetKind, "dataset", { Mnist => "mnist", FashionMnist => "fashion-mnist" }
);

/// Where Debian's `dataset-fashion-mnist` package puts the files.
const DEBIAN_FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

impl DatasetKind {
    pub fn title(self) -> &'static str {
        match self {
            DatasetKind::Mnist => "MNIST",
            DatasetKind::FashionMnist => "Fashion-MNIST",
        }
    }

    pub fn class_names(self) -> [&'static str; NUM_CLASSES] {
        match self {
            DatasetKind::Mnist => ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            DatasetKind::FashionMnist => [
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ],
        }
    }

    /// Where its files come from when no `--data-dir` is given.
    pub fn default_source(self) -> Result<DataSource, DataError> {
        match self {
            DatasetKind::Mnist => Ok(DataSource::BurnCache),
            DatasetKind::FashionMnist if Path::new(DEBIAN_FASHION_MNIST).is_dir() => {
                Ok(DataSource::Folder(PathBuf::from(DEBIAN_FASHION_MNIST)))
            }
            DatasetKind::FashionMnist => Err(DataError::NoFashionMnist),
        }
    }

    /// A class by index, as people read it: "7" for MNIST, "Sneaker (7)" for Fashion-MNIST.
    pub fn class_label(self, class: u8) -> String {
        let name = self.class_names()[class as usize];
        match self {
            DatasetKind::Mnist => name.to_string(),
            DatasetKind::FashionMnist => format!("{name} ({class})"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

impl Split {
    fn file_names(self) -> (&'static str, &'static str) {
        match self {
            Split::Train => ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
            Split::Test => ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
        }
    }

    fn cache_folder(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Idx(#[from] IdxError),
    #[error("{}: no such folder", dir.display())]
    NoFolder { dir: PathBuf },
    #[error("{}: holds neither {name} nor {name}.gz", dir.display())]
    MissingFile { dir: PathBuf, name: &'static str },
    #[error(
        "could not download MNIST into {} ({reason}); without internet, pass --data-dir with the four IDX files",
        cache.display()
    )]
    Download { cache: PathBuf, reason: String },
    #[error("no cache folder on this system to download MNIST into; pass --data-dir")]
    NoCacheDir,
    #[error(
        "Fashion-MNIST has no download here; pass --data-dir with its four IDX files (Debian: apt-get install dataset-fashion-mnist puts them in {DEBIAN_FASHION_MNIST})"
    )]
    NoFashionMnist,
}

/// Where MNIST's four IDX files are read from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataSource {
    /// A folder holding the standard file names, each raw or gzipped.
    Folder(PathBuf),
    /// Burn's `MnistDataset` cache, downloaded on first use.
    BurnCache,
}

impl DataSource {
    /// `--data-dir` when given, else the dataset's usual place.
    pub fn resolve(dataset: DatasetKind, dir: Option<PathBuf>) -> Result<Self, DataError> {
        match dir {
            Some(dir) => Ok(DataSource::Folder(dir)),
            None => dataset.default_source(),
        }
    }

    /// Reads and validates one split.
    pub fn load(&self, split: Split) -> Result<LabelledImages, DataError> {
        Ok(self.load_fingerprinted(split)?.0)
    }

    /// Reads and validates one split, with the fingerprint of each of its files by standard
    /// name.
    pub fn load_fingerprinted(
        &self,
        split: Split,
    ) -> Result<(LabelledImages, [(&'static str, Fingerprint); 2]), DataError> {
        let (images_name, labels_name) = split.file_names();
        let (images, labels) = match self {
            DataSource::Folder(dir) => (locate(dir, images_name)?, locate(dir, labels_name)?),
            DataSource::BurnCache => burn_cache_files(split)?,
        };
        let (data, [images_print, labels_print]) =
            LabelledImages::read_fingerprinted(&images, &labels)?;
        Ok((
            data,
            [(images_name, images_print), (labels_name, labels_print)],
        ))
    }

    /// The same source with an absolute folder, so that it still names the same files when
    /// used from another working directory.
    pub fn absolute(&self) -> Self {
        match self {
            DataSource::Folder(dir) => {
                DataSource::Folder(std::path::absolute(dir).unwrap_or_else(|_| dir.clone()))
            }
            DataSource::BurnCache => DataSource::BurnCache,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            DataSource::Folder(dir) => dir.display().to_string(),
            DataSource::BurnCache => "Burn's MNIST cache".to_string(),
        }
    }
}

fn locate(dir: &Path, name: &'static str) -> Result<PathBuf, DataError> {
    if !dir.is_dir() {
        return Err(DataError::NoFolder {
            dir: dir.to_path_buf(),
        });
    }
    [dir.join(name), dir.join(format!("{name}.gz"))]
        .into_iter()
        .find(|path| path.is_file())
        .ok_or_else(|| DataError::MissingFile {
            dir: dir.to_path_buf(),
            name,
        })
}

/// The split's files in Burn's cache, downloading them through `MnistDataset` when absent.
fn burn_cache_files(split: Split) -> Result<(PathBuf, PathBuf), DataError> {
    // Mirrors burn-dataset's MnistDataset, which keeps raw files under this folder.
    let cache = dirs::cache_dir()
        .ok_or(DataError::NoCacheDir)?
        .join("burn-dataset")
        .join("mnist")
        .join(split.cache_folder());
    let (images, labels) = split.file_names();
    let files = (cache.join(images), cache.join(labels));
    if files.0.is_file() && files.1.is_file() {
        return Ok(files);
    }
    download_with_burn(split).map_err(|reason| DataError::Download {
        cache: cache.clone(),
        reason,
    })?;
    Ok(files)
}

/// Lets Burn's `MnistDataset` fetch the split; it panics when the download fails.
fn download_with_burn(split: Split) -> Result<(), String> {
    use burn_dataset::vision::MnistDataset;
    crate::panics::catch_quietly(|| match split {
        Split::Train => drop(MnistDataset::train()),
        Split::Test => drop(MnistDataset::test()),
    })
}

/// Splits `images` into (kept, held out): `held_out` images drawn at random with `seed`, both
/// parts in their original order.
pub fn hold_out(
    images: &LabelledImages,
    held_out: usize,
    seed: u64,
) -> (LabelledImages, LabelledImages) {
    let mut order: Vec<usize> = (0..images.len()).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    let mut chosen = vec![false; images.len()];
    for &index in order.iter().take(held_out) {
        chosen[index] = true;
    }
    let pick = |want: bool| {
        let mut part = LabelledImages {
            pixels: Vec::new(),
            labels: Vec::new(),
        };
        for index in (0..images.len()).filter(|&i| chosen[i] == want) {
            part.pixels
                .extend_from_slice(images.image(index).expect("index in range"));
            part.labels.push(images.labels[index]);
        }
        part
    };
    (pick(false), pick(true))
}

/// A batch: images flattened to `[batch, 784]` in [0, 1], targets `[batch]`.
#[derive(Debug, Clone)]
pub struct DigitBatch {
    pub images: Tensor<2>,
    pub targets: Tensor<1, Int>,
}

/// Builds a batch from image indices, straight from the split's bytes: one buffer for the
/// pixels, one for the labels, no per-image copies.
#[derive(Debug, Clone)]
pub struct DigitBatcher {
    images: Arc<LabelledImages>,
}

impl DigitBatcher {
    pub fn new(images: Arc<LabelledImages>) -> Self {
        Self { images }
    }
}

impl Batcher<usize, DigitBatch> for DigitBatcher {
    fn batch(&self, indices: Vec<usize>, device: &Device) -> DigitBatch {
        let mut pixels = Vec::with_capacity(indices.len() * IMAGE_PIXELS);
        let mut labels = Vec::with_capacity(indices.len());
        for &index in &indices {
            // Indices come from the loader, which only hands out 0..len.
            pixels.extend_from_slice(self.images.image(index).expect("index within the split"));
            labels.push(i64::from(self.images.labels[index]));
        }
        DigitBatch {
            images: images_tensor(&pixels, device),
            targets: Tensor::from_data(TensorData::new(labels, [indices.len()]), device),
        }
    }
}

/// Builds one `[n, 784]` tensor from `n` images of bytes, scaled to [0, 1] as torchvision's
/// `ToTensor` does, in a single allocation.
pub fn images_tensor(pixels: &[u8], device: &Device) -> Tensor<2> {
    let count = pixels.len() / IMAGE_PIXELS;
    let scaled: Vec<f32> = pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
    Tensor::from_data(TensorData::new(scaled, [count, IMAGE_PIXELS]), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idx::testing::{gzip, images_bytes, labels_bytes};

    fn cpu() -> Device {
        Device::flex()
    }

    #[test]
    fn batcher_builds_one_scaled_tensor_per_batch() {
        let mut pixels = vec![0u8; 3 * IMAGE_PIXELS];
        pixels[2 * IMAGE_PIXELS] = 255;
        pixels[2 * IMAGE_PIXELS + 1] = 51;
        let images = Arc::new(LabelledImages {
            pixels,
            labels: vec![1, 2, 3],
        });
        let batch = DigitBatcher::new(images).batch(vec![2, 0], &cpu());
        assert_eq!(batch.images.dims(), [2, IMAGE_PIXELS]);
        assert_eq!(batch.targets.dims(), [2]);
        let values: Vec<f32> = batch.images.into_data().try_into_vec_as::<f32>().unwrap();
        assert_eq!(values[0], 1.0);
        assert!((values[1] - 0.2).abs() < 1e-6);
        assert!(values[IMAGE_PIXELS..].iter().all(|&v| v == 0.0));
        let targets: Vec<i64> = batch.targets.into_data().try_into_vec_as::<i64>().unwrap();
        assert_eq!(targets, vec![3, 1]);
    }

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
        assert_eq!(test.labels, vec![1, 2]);
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
    fn hold_out_is_a_seeded_partition() {
        let images = LabelledImages {
            pixels: (0..100 * IMAGE_PIXELS)
                .map(|i| (i / IMAGE_PIXELS) as u8)
                .collect(),
            labels: (0..100).map(|i| (i % 10) as u8).collect(),
        };
        let (kept, held) = hold_out(&images, 30, 7);
        assert_eq!((kept.len(), held.len()), (70, 30));
        let mut ids: Vec<u8> = kept
            .pixels
            .chunks(IMAGE_PIXELS)
            .chain(held.pixels.chunks(IMAGE_PIXELS))
            .map(|p| p[0])
            .collect();
        ids.sort();
        assert_eq!(
            ids,
            (0..100).collect::<Vec<u8>>(),
            "every image in exactly one part"
        );
        let again = hold_out(&images, 30, 7).1;
        assert_eq!(again.pixels, held.pixels, "same seed, same split");
        assert_ne!(hold_out(&images, 30, 8).1.pixels, held.pixels);
    }

    #[test]
    fn fashion_mnist_has_named_classes() {
        assert_eq!(DatasetKind::FashionMnist.class_label(9), "Ankle boot (9)");
        assert_eq!(DatasetKind::Mnist.class_label(4), "4");
        assert_eq!(
            "fashion-mnist".parse::<DatasetKind>(),
            Ok(DatasetKind::FashionMnist)
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
