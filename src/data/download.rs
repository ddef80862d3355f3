//! MNIST through Burn's `MnistDataset`, which downloads into its cache on first use.

use std::path::PathBuf;

use crate::data::split::Split;

/// Why Burn's cache could not provide MNIST.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// Burn's MNIST download into `cache` failed; `reason` says why, in words.
    #[error(
        "could not download MNIST into {} ({reason}); without internet, pass --data-dir with the four IDX files",
        cache.display()
    )]
    Failed { cache: PathBuf, reason: String },
    /// The system has no cache folder (`dirs::cache_dir`) for Burn's download.
    #[error("no cache folder on this system to download MNIST into; pass --data-dir")]
    NoCacheDir,
}

/// The split's files in Burn's cache, downloading them through `MnistDataset` when absent.
///
/// Errors: [`DownloadError::NoCacheDir`] when the system has no cache folder;
/// [`DownloadError::Failed`] when the download fails.
pub(super) fn burn_cache_files(split: Split) -> Result<(PathBuf, PathBuf), DownloadError> {
    // Mirrors burn-dataset's MnistDataset, which keeps raw files under this folder.
    let cache = dirs::cache_dir()
        .ok_or(DownloadError::NoCacheDir)?
        .join("burn-dataset")
        .join("mnist")
        .join(split.cache_folder());
    let (images, labels) = split.file_names();
    let files = (cache.join(images), cache.join(labels));
    if files.0.is_file() && files.1.is_file() {
        return Ok(files);
    }
    download_with_burn(split).map_err(|reason| DownloadError::Failed {
        cache: cache.clone(),
        reason,
    })?;
    Ok(files)
}

/// Lets Burn's `MnistDataset` fetch the split; it panics when the download fails.
fn download_with_burn(split: Split) -> Result<(), String> {
    use burn_dataset::vision::MnistDataset;
    crate::process::panics::catch_quietly(|| match split {
        Split::Train => drop(MnistDataset::train()),
        Split::Test => drop(MnistDataset::test()),
    })
    .map_err(|panic| download_failure(&panic))
}

/// What Burn's downloader panicked with, in words: it unwraps reqwest's errors, whose debug
/// dump (`reqwest::Error { kind: Request, url: ..., source: hyper_util::... }`) says nothing a
/// user can act on beyond "no connection".
fn download_failure(panic: &str) -> String {
    let detail = panic.trim_start_matches("called `Result::unwrap()` on an `Err` value: ");
    if detail.starts_with("reqwest::Error") {
        return "the download server could not be reached".to_string();
    }
    detail
        .split(" {")
        .next()
        .unwrap_or(detail)
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_failure_reads_as_words_not_a_debug_dump() {
        let panic = "called `Result::unwrap()` on an `Err` value: reqwest::Error { kind: Request, url: \"https://x\", source: hyper_util::client::legacy::Error(Connect, ConnectError(\"dns error\")) }";
        assert_eq!(
            download_failure(panic),
            "the download server could not be reached"
        );
        assert_eq!(download_failure("disk full"), "disk full");
    }
}
