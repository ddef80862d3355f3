//! Recognising the official MNIST and Fashion-MNIST files, so that `--dataset` cannot name the
//! other one: both have the same format and sizes, and a model trained on digits under
//! Fashion-MNIST's class names would call a handwritten 7 "Sneaker".
//!
//! Other IDX files of the right shape (a subset, a relabelled or home-made set) are allowed,
//! under the name `--dataset` gives.

use crate::data::DatasetKind;
use crate::data::idx::Fingerprint;

/// The official files' fingerprints (size and CRC-32 after decompression, as `data.json`
/// records them), computed from MNIST's files (LeCun et al., as Burn downloads them) and from
/// Fashion-MNIST's (Zalando Research, as Debian's `dataset-fashion-mnist` ships them).
const KNOWN: &[(DatasetKind, &str, u64, u32)] = &[
    (
        DatasetKind::Mnist,
        "train-images-idx3-ubyte",
        47_040_016,
        0x8c3f_3f86,
    ),
    (
        DatasetKind::Mnist,
        "train-labels-idx1-ubyte",
        60_008,
        0xe0cb_4ad2,
    ),
    (
        DatasetKind::Mnist,
        "t10k-images-idx3-ubyte",
        7_840_016,
        0x9137_3bdf,
    ),
    (
        DatasetKind::Mnist,
        "t10k-labels-idx1-ubyte",
        10_008,
        0x4ab9_eff9,
    ),
    (
        DatasetKind::FashionMnist,
        "train-images-idx3-ubyte",
        47_040_016,
        0xb4f2_9f28,
    ),
    (
        DatasetKind::FashionMnist,
        "train-labels-idx1-ubyte",
        60_008,
        0x741a_4657,
    ),
    (
        DatasetKind::FashionMnist,
        "t10k-images-idx3-ubyte",
        7_840_016,
        0x678f_e0b1,
    ),
    (
        DatasetKind::FashionMnist,
        "t10k-labels-idx1-ubyte",
        10_008,
        0x8014_2c1f,
    ),
];

/// Who decides the dataset files are checked against, and so what the user can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DatasetChoice {
    /// `--dataset` (a new training run, `import`): the flag or the folder can change.
    Flag,
    /// The run's own dataset, recorded when it was trained (`--resume`, `eval`, `infer`): only
    /// the folder can.
    Run,
}

/// A file that is the official file of another dataset than the one `--dataset` (or the run)
/// names.
#[derive(Debug, thiserror::Error)]
#[error(
    "{given}: {file} is {actual}'s official file, not {claimed}'s; {}",
    remedy(*.choice, *.actual_flag, .claimed)
)]
pub(crate) struct DatasetMismatch {
    /// Where the files were read from, in words.
    given: String,
    /// The file's standard name.
    file: &'static str,
    /// The title of the dataset `--dataset` names.
    claimed: &'static str,
    /// The title of the dataset the file belongs to.
    actual: &'static str,
    /// The dataset the file belongs to, as the `--dataset` value that reads it.
    actual_flag: DatasetKind,
    /// Whether `--dataset` or the run chose `claimed`.
    choice: DatasetChoice,
}

/// What to do about a mismatch, in words: a run's dataset cannot change, a flag can.
fn remedy(choice: DatasetChoice, actual: DatasetKind, claimed: &str) -> String {
    match choice {
        DatasetChoice::Flag => {
            format!("pass --dataset {actual}, or a --data-dir holding {claimed}'s files")
        }
        DatasetChoice::Run => {
            format!("the run was trained on {claimed}: pass a --data-dir holding its files")
        }
    }
}

/// Which official dataset the file `name` with fingerprint `print` belongs to, if any.
pub(crate) fn official_dataset(name: &str, print: Fingerprint) -> Option<DatasetKind> {
    KNOWN
        .iter()
        .find(|&&(_, known, bytes, crc32)| known == name && print == Fingerprint { bytes, crc32 })
        .map(|&(dataset, ..)| dataset)
}

/// Refuses files that are the official files of another dataset than `claimed`, which `choice`
/// made. `given` describes where they were read from, for the message; `files` are (standard
/// name, fingerprint) pairs.
///
/// # Errors
///
/// [`DatasetMismatch`] for the first file whose fingerprint is another dataset's official one.
pub(crate) fn check(
    claimed: DatasetKind,
    choice: DatasetChoice,
    given: &str,
    files: &[(&'static str, Fingerprint)],
) -> Result<(), DatasetMismatch> {
    for &(file, print) in files {
        if let Some(actual) = official_dataset(file, print)
            && actual != claimed
        {
            return Err(DatasetMismatch {
                given: given.to_string(),
                file,
                claimed: claimed.title(),
                actual: actual.title(),
                actual_flag: actual,
                choice,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_official_file_is_recognised_and_another_dataset_refused() {
        let print = |crc32| Fingerprint {
            bytes: 10_008,
            crc32,
        };
        let mnist_labels = [("t10k-labels-idx1-ubyte", print(0x4ab9_eff9))];
        let flag = DatasetChoice::Flag;
        assert!(check(DatasetKind::Mnist, flag, "d", &mnist_labels).is_ok());
        let err = check(DatasetKind::FashionMnist, flag, "d", &mnist_labels)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "d: t10k-labels-idx1-ubyte is MNIST's official file, not Fashion-MNIST's; pass --dataset mnist, or a --data-dir holding Fashion-MNIST's files"
        );
        // A run's dataset is not a flag eval or infer take: only the folder can change.
        let err = check(
            DatasetKind::FashionMnist,
            DatasetChoice::Run,
            "d",
            &mnist_labels,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "d: t10k-labels-idx1-ubyte is MNIST's official file, not Fashion-MNIST's; the run was trained on Fashion-MNIST: pass a --data-dir holding its files"
        );
        // A file of the right shape that is neither passes under either name.
        let other = [("t10k-labels-idx1-ubyte", print(1))];
        assert!(check(DatasetKind::FashionMnist, flag, "d", &other).is_ok());
        assert!(check(DatasetKind::Mnist, flag, "d", &other).is_ok());
    }
}
