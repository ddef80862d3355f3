//! MNIST's files: where they are and reading them, pictures made from its test digits, and a
//! small valid data folder made up of IDX files.

use std::path::{Path, PathBuf};

use image::imageops::{self, FilterType};
use image::{GrayImage, Luma};

use super::{Sandbox, stderr};

/// The folder of MNIST's four IDX files: `MNIST_DATA_DIR` when set (relative to the crate root
/// when relative; `.ci/run` sets it to `../shared/data/mnist`), else Burn's own MNIST cache,
/// which the binary fills once (downloading) when it is empty.
pub fn mnist_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| match std::env::var_os("MNIST_DATA_DIR") {
        Some(dir) => {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
            assert!(
                dir.join("t10k-labels-idx1-ubyte.gz").is_file()
                    || dir.join("t10k-labels-idx1-ubyte").is_file(),
                "MNIST_DATA_DIR={} holds no MNIST test labels",
                dir.display()
            );
            dir
        }
        None => burn_cache_filled(),
    })
    .clone()
}

/// Burn's MNIST cache (`train/` and `test/` folders, which `--data-dir` reads), downloaded by a
/// one-image training run when it is not there yet.
fn burn_cache_filled() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME to find Burn's cache")
        .join("burn-dataset")
        .join("mnist");
    if !cache.join("test").join("t10k-labels-idx1-ubyte").is_file() {
        let sandbox = Sandbox::new();
        let output = sandbox.run([
            "--epochs",
            "1",
            "--limit-train",
            "64",
            "--limit-test",
            "64",
            "--run",
            "fill",
        ]);
        assert!(
            output.status.success(),
            "MNIST_DATA_DIR is not set and downloading MNIST into Burn's cache failed (set \
             MNIST_DATA_DIR to a folder of its four IDX files to test offline): {}",
            stderr(&output)
        );
    }
    cache
}

/// A file read whole, gunzipped when its content is gzip (MNIST's files come either way).
fn read_maybe_gzipped(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return raw;
    }
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(raw.as_slice())
        .read_to_end(&mut decoded)
        .unwrap();
    decoded
}

/// The IDX file `name` of folder `dir`, raw or `.gz`, decompressed.
pub fn read_idx(dir: &Path, name: &str) -> Vec<u8> {
    let raw = dir.join(name);
    let path = if raw.is_file() {
        raw
    } else {
        dir.join(format!("{name}.gz"))
    };
    read_maybe_gzipped(&path)
}

/// Test digit `index` from the real MNIST files in `data`, as a 28×28 grey image (white on
/// black).
pub fn mnist_test_digit(data: &Path, index: usize) -> image::GrayImage {
    let bytes = read_idx(data, "t10k-images-idx3-ubyte");
    let start = 16 + index * 784;
    image::GrayImage::from_raw(28, 28, bytes[start..start + 784].to_vec()).unwrap()
}

/// The digit as a person would draw it: 280×280, black ink on white paper.
pub fn as_drawing(digit: &GrayImage, path: &Path) {
    let mut big = imageops::resize(digit, 280, 280, FilterType::Triangle);
    imageops::invert(&mut big);
    big.save(path).unwrap();
}

/// The names of MNIST's four files, raw: training images and labels, then test images and
/// labels.
pub const MNIST_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// An IDX file of `count` 28×28 images (their pixels counting up, 0 to 255 and round again).
pub fn idx_images(count: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    for word in [2051u32, count, 28, 28] {
        bytes.extend_from_slice(&word.to_be_bytes());
    }
    bytes.extend((0..count as usize * 784).map(|i| (i % 256) as u8));
    bytes
}

/// An IDX file of `count` labels, 0 to 9 and round again.
pub fn idx_labels(count: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    for word in [2049u32, count] {
        bytes.extend_from_slice(&word.to_be_bytes());
    }
    bytes.extend((0..count).map(|i| (i % 10) as u8));
    bytes
}

/// A small but valid MNIST folder: 20 training and 10 test images.
pub fn valid_folder(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let contents = [
        idx_images(20),
        idx_labels(20),
        idx_images(10),
        idx_labels(10),
    ];
    for (name, bytes) in MNIST_FILES.iter().zip(contents) {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// A number written with the given MNIST test digits side by side, `gap` of their pixels apart
/// (0: touching boxes), three times MNIST's size, dark ink on white paper with a margin; the
/// `broken`th digit drawn in two strokes (a row of its pixels through the middle erased).
pub fn number_picture(
    data: &Path,
    digits: &[usize],
    gap: u32,
    broken: Option<usize>,
) -> (GrayImage, Vec<[u32; 4]>) {
    let margin = 12;
    let width = 2 * margin + digits.len() as u32 * (28 + gap);
    let mut ink = GrayImage::new(width, 28 + 2 * margin);
    let mut cells = Vec::new();
    for (at, &index) in digits.iter().enumerate() {
        let mut digit = mnist_test_digit(data, index);
        if broken == Some(at) {
            for x in 0..28 {
                digit.put_pixel(x, 14, Luma([0]));
            }
        }
        let left = margin + at as u32 * (28 + gap);
        imageops::overlay(&mut ink, &digit, i64::from(left), i64::from(margin));
        cells.push([3 * left, 3 * margin, 3 * 28, 3 * 28]);
    }
    let mut page = imageops::resize(&ink, 3 * width, 3 * ink.height(), FilterType::Triangle);
    imageops::invert(&mut page);
    (page, cells)
}
