//! The data: which dataset (MNIST or Fashion-MNIST), where its files come from, and how they
//! become batches of tensors.

pub(crate) mod augment;
mod batcher;
mod download;
mod hold_out;
pub(crate) mod identity;
pub(crate) mod idx;
pub(crate) mod loader;
pub(crate) mod outliers;
mod source;
mod split;

pub(crate) use batcher::{ImageBatch, ImageBatcher, images_tensor};
pub(crate) use hold_out::hold_out;
pub(crate) use source::{DataError, DataSource, SplitPrints};
pub(crate) use split::Split;

use std::path::{Path, PathBuf};

use crate::choice::named_choice;

/// Side of an image, in pixels.
pub(crate) const IMAGE_SIDE: usize = 28;
/// Pixels in one image.
pub(crate) const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;
/// Number of classes (digits for MNIST, kinds of clothing for Fashion-MNIST).
pub(crate) const NUM_CLASSES: usize = 10;

named_choice!(
    /// Which set of 28×28 images and ten classes.
    DatasetKind, "dataset", { Mnist => "mnist", FashionMnist => "fashion-mnist" }
);

/// Where Debian's `dataset-fashion-mnist` package puts the files.
pub(crate) const DEBIAN_FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

impl DatasetKind {
    /// Whether its classes are digits, so that a picture may hold a number of them side by
    /// side (read left to right); a picture of clothing holds one item.
    pub fn reads_numbers(self) -> bool {
        self == DatasetKind::Mnist
    }

    /// The dataset's name as people write it ("MNIST", "Fashion-MNIST"), for titles and messages.
    pub fn title(self) -> &'static str {
        match self {
            DatasetKind::Mnist => "MNIST",
            DatasetKind::FashionMnist => "Fashion-MNIST",
        }
    }

    /// The ten class names, indexed by label: the digits for MNIST, the clothing names of
    /// Zalando's Fashion-MNIST README for Fashion-MNIST.
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

    /// Where its files come from when no `--data-dir` is given: Burn's download cache for
    /// MNIST, Debian's folder ([`DEBIAN_FASHION_MNIST`]) for Fashion-MNIST.
    ///
    /// # Errors
    ///
    /// [`DataError::NoFashionMnist`] for Fashion-MNIST when Debian's folder is absent.
    pub fn default_source(self) -> Result<DataSource, DataError> {
        match self {
            DatasetKind::Mnist => Ok(DataSource::BurnCache),
            DatasetKind::FashionMnist if Path::new(DEBIAN_FASHION_MNIST).is_dir() => {
                Ok(DataSource::Folder(PathBuf::from(DEBIAN_FASHION_MNIST)))
            }
            DatasetKind::FashionMnist => Err(DataError::NoFashionMnist),
        }
    }

    /// The class a folder named `name` holds in a folder of pictures: its index written out
    /// (`7`) or its name (`Sneaker`).
    pub fn class_named(self, name: &str) -> Option<u8> {
        let names = self.class_names();
        (0..NUM_CLASSES as u8)
            .find(|&class| name == class.to_string() || name == names[usize::from(class)])
    }

    /// A class by index, as people read it: "7" for MNIST, "Sneaker (7)" for Fashion-MNIST.
    /// Panics when `class` is 10 or more.
    pub fn class_label(self, class: u8) -> String {
        let name = self.class_names()[class as usize];
        match self {
            DatasetKind::Mnist => name.to_string(),
            DatasetKind::FashionMnist => format!("{name} ({class})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fashion_mnist_has_named_classes() {
        assert_eq!(DatasetKind::FashionMnist.class_label(9), "Ankle boot (9)");
        assert_eq!(DatasetKind::Mnist.class_label(4), "4");
        assert_eq!(
            "fashion-mnist".parse::<DatasetKind>(),
            Ok(DatasetKind::FashionMnist)
        );
    }
}
