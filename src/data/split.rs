//! The two official splits of a dataset and their file names.

/// One of a dataset's two official splits, each a pair of IDX files (images, labels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The training split (60,000 images in the official files), from which the validation
    /// images are held out.
    Train,
    /// The test split (10,000 images in the official files), scored at the end of a run and by
    /// `eval`.
    Test,
}

impl Split {
    /// The standard names of the split's (images, labels) files, without `.gz`.
    pub(super) fn file_names(self) -> (&'static str, &'static str) {
        match self {
            Split::Train => ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
            Split::Test => ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
        }
    }

    /// The subfolder Burn's `MnistDataset` cache keeps the split's files in, and the split's
    /// name in words and in a folder of pictures.
    pub(crate) fn cache_folder(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}
