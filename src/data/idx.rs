//! Reading and validating MNIST's IDX files.
//!
//! Burn's own reader trusts its input (a truncated file panics, a bad label panics deep in a
//! backend, a gzip file under the raw name trains on nothing), so every file goes through here
//! first and a broken one becomes an [`IdxError`] naming the file.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::data::{IMAGE_PIXELS, IMAGE_SIDE, NUM_CLASSES};

/// The IDX magic number of an image file, `0x00000803`: unsigned bytes, three dimensions
/// (LeCun's MNIST page, "FILE FORMATS FOR THE MNIST DATABASE").
const IMAGES_MAGIC: u32 = 2051;
/// The IDX magic number of a label file, `0x00000801`: unsigned bytes, one dimension (same
/// source).
const LABELS_MAGIC: u32 = 2049;
/// Bytes before an image file's pixels: four big-endian u32 (magic, count, rows, columns).
const IMAGES_HEADER: usize = 16;
/// Bytes before a label file's labels: two big-endian u32 (magic, count).
const LABELS_HEADER: usize = 8;
/// The first two bytes of every gzip stream (RFC 1952, ID1 and ID2).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Far above the 47 MB of the real training images; stops a gzip bomb from eating the memory.
/// In bytes (1 GiB).
const MAX_DECOMPRESSED: u64 = 1 << 30;

/// Why an IDX file (or a pair of them) was refused; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    /// The file could not be opened or read.
    #[error("{}: cannot read: {cause}", path.display())]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// The file is named `.gz` but lacks gzip's header, or its gzip stream is broken.
    #[error("{}: not a valid gzip file: {cause}", path.display())]
    Gzip {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{}: decompresses to more than {} bytes; not an MNIST file", path.display(), MAX_DECOMPRESSED)]
    /// The file decompresses to more than `MAX_DECOMPRESSED` (1 GiB).
    TooLarge { path: PathBuf },
    /// The file holds `len` bytes, fewer than its IDX header's `needed`.
    #[error("{}: {len} bytes is too short for an IDX header ({needed} bytes)", path.display())]
    TooShort {
        path: PathBuf,
        len: usize,
        needed: usize,
    },
    /// The header's magic number is not that of an image (2051) or label (2049) file, as
    /// `kind` says; often a label file given for images, or the reverse.
    #[error("{}: magic number {found} is not {expected} ({kind}); is this the right file?", path.display())]
    BadMagic {
        path: PathBuf,
        found: u32,
        expected: u32,
        kind: &'static str,
    },
    /// The images are `rows`×`cols` pixels, not 28×28.
    #[error("{}: images are {rows}x{cols}, expected {IMAGE_SIDE}x{IMAGE_SIDE}", path.display())]
    BadDimensions { path: PathBuf, rows: u32, cols: u32 },
    /// The file's length in bytes is not its header plus `count` items: truncated or padded.
    #[error("{}: header promises {count} items ({expected} bytes) but the file holds {actual} bytes", path.display())]
    LengthMismatch {
        path: PathBuf,
        count: u32,
        expected: usize,
        actual: usize,
    },
    /// The header's count is 0.
    #[error("{}: holds no items", path.display())]
    Empty { path: PathBuf },
    /// Label `value` at `index` (from 0) is not a class, 0-9.
    #[error("{}: label {value} at index {index} is not a digit 0-9", path.display())]
    BadLabel {
        path: PathBuf,
        index: usize,
        value: u8,
    },
    /// The two files of a pair hold different numbers of items.
    #[error("{} holds {images} images but {} holds {labels} labels", images_path.display(), labels_path.display())]
    CountMismatch {
        images_path: PathBuf,
        images: usize,
        labels_path: PathBuf,
        labels: usize,
    },
}

/// Reads a whole file, transparently gunzipping it when it starts with the gzip magic bytes.
///
/// The content decides, not the name: a `.gz` saved under the raw name, and raw IDX data
/// under the `.gz` name (a browser that unpacked the download), are both common.
///
/// # Errors
///
/// [`IdxError::Io`] when the file cannot be read; [`IdxError::Gzip`] when it is named `.gz`
/// and holds neither gzip's magic bytes nor an IDX magic number, or its gzip stream is broken; [`IdxError::TooLarge`] past 1 GiB
/// decompressed.
pub(crate) fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>, IdxError> {
    let io_err = |source| IdxError::Io {
        path: path.to_path_buf(),
        cause: source,
    };
    let mut raw = Vec::new();
    File::open(path)
        .and_then(|mut file| file.read_to_end(&mut raw))
        .map_err(io_err)?;
    let named_gz = path.extension().is_some_and(|ext| ext == "gz");
    if !raw.starts_with(&GZIP_MAGIC) {
        if named_gz && !starts_like_idx(&raw) {
            return Err(IdxError::Gzip {
                path: path.to_path_buf(),
                cause: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "missing gzip header, and not raw IDX data either",
                ),
            });
        }
        return Ok(raw);
    }
    let mut decoded = Vec::new();
    MultiGzDecoder::new(raw.as_slice())
        .take(MAX_DECOMPRESSED + 1)
        .read_to_end(&mut decoded)
        .map_err(|source| IdxError::Gzip {
            path: path.to_path_buf(),
            cause: source,
        })?;
    if decoded.len() as u64 > MAX_DECOMPRESSED {
        return Err(IdxError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(decoded)
}

/// Whether `bytes` start with the magic number of an IDX image (2051) or label (2049) file.
fn starts_like_idx(bytes: &[u8]) -> bool {
    bytes
        .first_chunk::<4>()
        .is_some_and(|word| [IMAGES_MAGIC, LABELS_MAGIC].contains(&u32::from_be_bytes(*word)))
}

/// The big-endian u32 at byte offset `at`, as IDX stores its header; panics past the end.
fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Checks that `bytes` hold a `header`-byte IDX header with `magic`, and returns its item count
/// (the second u32). Errors: [`IdxError::TooShort`], [`IdxError::BadMagic`].
fn check_header(
    path: &Path,
    bytes: &[u8],
    header: usize,
    magic: u32,
    kind: &'static str,
) -> Result<u32, IdxError> {
    if bytes.len() < header {
        return Err(IdxError::TooShort {
            path: path.to_path_buf(),
            len: bytes.len(),
            needed: header,
        });
    }
    let found = be_u32(bytes, 0);
    if found != magic {
        return Err(IdxError::BadMagic {
            path: path.to_path_buf(),
            found,
            expected: magic,
            kind,
        });
    }
    Ok(be_u32(bytes, 4))
}

/// Checks that `bytes` are exactly the header plus `count` items of `item_size` bytes, and that
/// `count` is not 0. Errors: [`IdxError::LengthMismatch`], [`IdxError::Empty`].
fn check_length(
    path: &Path,
    bytes: &[u8],
    header: usize,
    count: u32,
    item_size: usize,
) -> Result<(), IdxError> {
    let expected = (count as usize)
        .checked_mul(item_size)
        .and_then(|payload| payload.checked_add(header))
        .unwrap_or(usize::MAX);
    if bytes.len() != expected {
        return Err(IdxError::LengthMismatch {
            path: path.to_path_buf(),
            count,
            expected,
            actual: bytes.len(),
        });
    }
    if count == 0 {
        return Err(IdxError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Parses an IDX3 image file (already decompressed) into its pixels, row-major, 784 per image.
///
/// # Errors
///
/// A short header or wrong magic number, images other than 28×28, a length that does not match
/// the header's count, or no images at all.
pub(crate) fn parse_images(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>, IdxError> {
    let count = check_header(path, &bytes, IMAGES_HEADER, IMAGES_MAGIC, "IDX images")?;
    let (rows, cols) = (be_u32(&bytes, 8), be_u32(&bytes, 12));
    if rows as usize != IMAGE_SIDE || cols as usize != IMAGE_SIDE {
        return Err(IdxError::BadDimensions {
            path: path.to_path_buf(),
            rows,
            cols,
        });
    }
    check_length(path, &bytes, IMAGES_HEADER, count, IMAGE_PIXELS)?;
    let mut pixels = bytes;
    pixels.drain(..IMAGES_HEADER);
    Ok(pixels)
}

/// Parses an IDX1 label file (already decompressed), checking every label is a digit.
///
/// # Errors
///
/// A short header or wrong magic number, a length that does not match the header's count, no
/// labels at all, or a label of 10 or more ([`IdxError::BadLabel`]).
pub(crate) fn parse_labels(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>, IdxError> {
    let count = check_header(path, &bytes, LABELS_HEADER, LABELS_MAGIC, "IDX labels")?;
    check_length(path, &bytes, LABELS_HEADER, count, 1)?;
    let mut labels = bytes;
    labels.drain(..LABELS_HEADER);
    if let Some((index, &value)) = labels
        .iter()
        .enumerate()
        .find(|&(_, &label)| label as usize >= NUM_CLASSES)
    {
        return Err(IdxError::BadLabel {
            path: path.to_path_buf(),
            index,
            value,
        });
    }
    Ok(labels)
}

/// A validated pair of image and label files, kept as bytes: 60,000 images take 47 MB as u8
/// and four times that as f32.
/// Always as many labels as images (the type keeps it so).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledImages {
    /// `len() * IMAGE_PIXELS` bytes, image after image, row-major, 0 (paper) to 255 (ink).
    pixels: Vec<u8>,
    /// One class per image, 0-9.
    labels: Vec<u8>,
}

/// What identifies a file's contents cheaply: its decompressed size and CRC-32. Taken after
/// decompression, so a gzipped and a raw copy of the same file are the same file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fingerprint {
    /// The decompressed size, in bytes.
    pub bytes: u64,
    /// The CRC-32 (IEEE, as zlib and gzip compute it) of the decompressed bytes; written to
    /// JSON as 8 hex digits.
    #[serde(with = "hex_u32")]
    pub crc32: u32,
}

impl Fingerprint {
    /// The fingerprint of `bytes`, already decompressed.
    pub fn of(bytes: &[u8]) -> Self {
        Self {
            bytes: bytes.len() as u64,
            crc32: crc32fast::hash(bytes),
        }
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes, crc32 {:08x}", self.bytes, self.crc32)
    }
}

/// A CRC as the 8 hex digits people compare, not a decimal number.
mod hex_u32 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    /// Writes the CRC as 8 lower-case hex digits.
    ///
    /// Errors: the serializer's own.
    pub(super) fn serialize<S: Serializer>(value: &u32, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{value:08x}"))
    }

    /// Reads a CRC written in hex.
    ///
    /// Errors: a serde error when the value is not a string of hex digits that fits in 32 bits.
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
        let text = String::deserialize(deserializer)?;
        u32::from_str_radix(&text, 16)
            .map_err(|_| D::Error::custom(format!("`{text}` is not a hex CRC-32")))
    }
}

impl LabelledImages {
    /// Reads and validates an image file and its label file, each raw or gzipped.
    ///
    /// # Errors
    ///
    /// As [`LabelledImages::read_fingerprinted`].
    pub fn read(images_path: &Path, labels_path: &Path) -> Result<Self, IdxError> {
        Ok(Self::read_fingerprinted(images_path, labels_path)?.0)
    }

    /// Reads the pair and fingerprints both files (images first).
    ///
    /// # Errors
    ///
    /// Either file unreadable or not valid IDX (see [`read_maybe_gzip`], [`parse_images`],
    /// [`parse_labels`]), or the two holding different counts ([`IdxError::CountMismatch`]).
    pub fn read_fingerprinted(
        images_path: &Path,
        labels_path: &Path,
    ) -> Result<(Self, [Fingerprint; 2]), IdxError> {
        let images_bytes = read_maybe_gzip(images_path)?;
        let labels_bytes = read_maybe_gzip(labels_path)?;
        let fingerprints = [
            Fingerprint::of(&images_bytes),
            Fingerprint::of(&labels_bytes),
        ];
        let pixels = parse_images(images_path, images_bytes)?;
        let labels = parse_labels(labels_path, labels_bytes)?;
        let images = pixels.len() / IMAGE_PIXELS;
        if images != labels.len() {
            return Err(IdxError::CountMismatch {
                images_path: images_path.to_path_buf(),
                images,
                labels_path: labels_path.to_path_buf(),
                labels: labels.len(),
            });
        }
        Ok((Self { pixels, labels }, fingerprints))
    }

    /// Images and labels already in memory; `None` unless there are exactly
    /// `labels.len() * IMAGE_PIXELS` pixels.
    pub fn from_parts(pixels: Vec<u8>, labels: Vec<u8>) -> Option<Self> {
        (labels.len().checked_mul(IMAGE_PIXELS) == Some(pixels.len()))
            .then_some(Self { pixels, labels })
    }

    /// Images and labels that need not agree: only for tests of what a broken split does.
    #[cfg(test)]
    pub(crate) fn from_parts_unchecked(pixels: Vec<u8>, labels: Vec<u8>) -> Self {
        Self { pixels, labels }
    }

    /// The images chosen by `indices`, in that order.
    ///
    /// # Panics
    /// When an index is `len()` or more: callers draw indices from `0..len()`.
    pub fn select(&self, indices: impl IntoIterator<Item = usize>) -> Self {
        let mut chosen = Self {
            pixels: Vec::new(),
            labels: Vec::new(),
        };
        for index in indices {
            chosen
                .pixels
                .extend_from_slice(self.image(index).expect("an index below len()"));
            chosen.labels.push(self.labels[index]);
        }
        chosen
    }

    /// These images, then `other`'s.
    pub fn followed_by(&self, other: &LabelledImages) -> Self {
        Self {
            pixels: [self.pixels(), other.pixels()].concat(),
            labels: [self.labels(), other.labels()].concat(),
        }
    }

    /// All pixels, `[len(), 784]` row-major: image after image.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// All labels, one per image.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// How many images (and labels).
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The 784 pixels of image `index`, row-major; `None` when `index` is `len()` or more.
    pub fn image(&self, index: usize) -> Option<&[u8]> {
        let start = index.checked_mul(IMAGE_PIXELS)?;
        self.pixels.get(start..start + IMAGE_PIXELS)
    }

    /// The first `count` items (all of them when `count` is larger).
    pub fn truncated(mut self, count: usize) -> Self {
        let count = count.min(self.len());
        self.labels.truncate(count);
        self.pixels.truncate(count * IMAGE_PIXELS);
        self
    }

    /// The first `limit` items when there is a limit (`limit_train`, `limit_test`), else all.
    pub fn limited(self, limit: Option<usize>) -> Self {
        match limit {
            Some(count) => self.truncated(count),
            None => self,
        }
    }
}

/// Test helpers that write IDX files, shared by the unit tests of several modules.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub(crate) fn images_bytes(
        count: u32,
        rows: u32,
        cols: u32,
        pixel: impl Fn(usize) -> u8,
    ) -> Vec<u8> {
        let mut bytes = Vec::new();
        for word in [IMAGES_MAGIC, count, rows, cols] {
            bytes.extend_from_slice(&word.to_be_bytes());
        }
        bytes.extend((0..count as usize * rows as usize * cols as usize).map(pixel));
        bytes
    }

    pub(crate) fn labels_bytes(labels: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
        bytes.extend_from_slice(&(labels.len() as u32).to_be_bytes());
        bytes.extend_from_slice(labels);
        bytes
    }

    pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).expect("in-memory write");
        encoder.finish().expect("in-memory gzip")
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write test file");
        path
    }

    #[test]
    fn reads_a_valid_raw_pair() {
        let dir = tempfile::tempdir().unwrap();
        let images = write(
            dir.path(),
            "i",
            &images_bytes(3, 28, 28, |i| (i % 256) as u8),
        );
        let labels = write(dir.path(), "l", &labels_bytes(&[7, 0, 9]));
        let data = LabelledImages::read(&images, &labels).unwrap();
        assert_eq!(data.len(), 3);
        assert_eq!(data.labels, vec![7, 0, 9]);
        assert_eq!(data.pixels.len(), 3 * IMAGE_PIXELS);
        assert_eq!(data.image(1).unwrap()[0], (IMAGE_PIXELS % 256) as u8);
        assert!(data.image(3).is_none());
    }

    #[test]
    fn a_fingerprint_is_of_the_contents_not_the_compression() {
        let dir = tempfile::tempdir().unwrap();
        let raw = images_bytes(2, 28, 28, |i| (i % 7) as u8);
        let labels = write(dir.path(), "l", &labels_bytes(&[1, 2]));
        let plain = write(dir.path(), "i", &raw);
        let zipped = write(dir.path(), "i.gz", &gzip(&raw));
        let (_, [a, _]) = LabelledImages::read_fingerprinted(&plain, &labels).unwrap();
        let (_, [b, _]) = LabelledImages::read_fingerprinted(&zipped, &labels).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.bytes, raw.len() as u64);
        let other = write(dir.path(), "o", &images_bytes(2, 28, 28, |i| (i % 5) as u8));
        let (_, [c, _]) = LabelledImages::read_fingerprinted(&other, &labels).unwrap();
        assert_ne!(a, c);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Fingerprint>(&json).unwrap(), a);
        assert!(json.contains(&format!("\"{:08x}\"", a.crc32)), "{json}");
    }

    #[test]
    fn gzip_is_detected_by_content_whatever_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let raw = images_bytes(2, 28, 28, |i| (i % 7) as u8);
        let gz_named = write(dir.path(), "images.gz", &gzip(&raw));
        let gz_unnamed = write(dir.path(), "images-raw-name", &gzip(&raw));
        assert_eq!(read_maybe_gzip(&gz_named).unwrap(), raw);
        assert_eq!(read_maybe_gzip(&gz_unnamed).unwrap(), raw);
    }

    #[test]
    fn raw_idx_under_a_gz_name_is_read_and_anything_else_refused() {
        let dir = tempfile::tempdir().unwrap();
        let labels = labels_bytes(&[1, 2]);
        let unpacked = write(dir.path(), "labels.gz", &labels);
        assert_eq!(read_maybe_gzip(&unpacked).unwrap(), labels);
        let page = write(
            dir.path(),
            "images.gz",
            b"<!DOCTYPE html><html>Not Found</html>",
        );
        let err = read_maybe_gzip(&page).unwrap_err();
        assert!(matches!(err, IdxError::Gzip { .. }), "{err}");
        assert!(err.to_string().contains("images.gz"));
        assert!(err.to_string().contains("not raw IDX data"), "{err}");
    }

    #[test]
    fn corrupt_gzip_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = gzip(&labels_bytes(&[1, 2, 3, 4, 5]));
        let cut = bytes.len() / 2;
        bytes.truncate(cut);
        let path = write(dir.path(), "labels.gz", &bytes);
        assert!(matches!(read_maybe_gzip(&path), Err(IdxError::Gzip { .. })));
    }

    #[test]
    fn truncated_images_are_refused() {
        let path = Path::new("train-images-idx3-ubyte");
        let mut bytes = images_bytes(2, 28, 28, |_| 0);
        bytes.truncate(bytes.len() - 1);
        let err = parse_images(path, bytes).unwrap_err();
        assert!(
            matches!(err, IdxError::LengthMismatch { count: 2, .. }),
            "{err}"
        );
        assert!(err.to_string().starts_with("train-images-idx3-ubyte: "));
    }

    #[test]
    fn extra_bytes_are_refused() {
        let mut bytes = labels_bytes(&[1, 2]);
        bytes.push(3);
        let err = parse_labels(Path::new("l"), bytes).unwrap_err();
        assert!(matches!(err, IdxError::LengthMismatch { .. }), "{err}");
    }

    #[test]
    fn short_and_empty_files_are_refused() {
        assert!(matches!(
            parse_images(Path::new("i"), Vec::new()),
            Err(IdxError::TooShort { len: 0, .. })
        ));
        assert!(matches!(
            parse_labels(Path::new("l"), vec![0, 0, 8]),
            Err(IdxError::TooShort { len: 3, .. })
        ));
        assert!(matches!(
            parse_labels(Path::new("l"), labels_bytes(&[])),
            Err(IdxError::Empty { .. })
        ));
    }

    #[test]
    fn wrong_magic_is_refused_both_ways() {
        let err = parse_images(Path::new("i"), labels_bytes(&[1; 8])).unwrap_err();
        assert!(
            matches!(
                err,
                IdxError::BadMagic {
                    found: 2049,
                    expected: 2051,
                    ..
                }
            ),
            "{err}"
        );
        let err = parse_labels(Path::new("l"), images_bytes(1, 28, 28, |_| 0)).unwrap_err();
        assert!(
            matches!(
                err,
                IdxError::BadMagic {
                    found: 2051,
                    expected: 2049,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn wrong_dimensions_are_refused() {
        let err = parse_images(Path::new("i"), images_bytes(1, 32, 32, |_| 0)).unwrap_err();
        assert!(
            matches!(
                err,
                IdxError::BadDimensions {
                    rows: 32,
                    cols: 32,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_huge_declared_count_is_a_length_mismatch() {
        let mut bytes = images_bytes(1, 28, 28, |_| 0);
        bytes[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            parse_images(Path::new("i"), bytes),
            Err(IdxError::LengthMismatch { .. })
        ));
    }

    #[test]
    fn a_declared_size_past_usize_does_not_wrap_around() {
        // count × item size + header overflows usize: the expected length saturates instead of
        // wrapping to a small number a short file could match.
        let item_size = usize::MAX / 4 + 1;
        let err = check_length(Path::new("i"), &[0; 16], 16, 4, item_size).unwrap_err();
        assert!(
            matches!(
                err,
                IdxError::LengthMismatch {
                    expected: usize::MAX,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn labels_outside_0_to_9_are_refused() {
        let err = parse_labels(Path::new("l"), labels_bytes(&[1, 9, 200])).unwrap_err();
        assert!(
            matches!(
                err,
                IdxError::BadLabel {
                    index: 2,
                    value: 200,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn image_and_label_counts_must_match() {
        let dir = tempfile::tempdir().unwrap();
        let images = write(dir.path(), "i", &images_bytes(3, 28, 28, |_| 0));
        let labels = write(dir.path(), "l", &labels_bytes(&[1, 2]));
        let err = LabelledImages::read(&images, &labels).unwrap_err();
        assert!(
            matches!(
                err,
                IdxError::CountMismatch {
                    images: 3,
                    labels: 2,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_missing_file_names_its_path() {
        let err = read_maybe_gzip(Path::new("no/such/file")).unwrap_err();
        assert!(
            err.to_string().starts_with("no/such/file: cannot read"),
            "{err}"
        );
    }

    /// A bounded fuzz run: thousands of damaged files (truncated, bytes flipped, header words
    /// replaced, gzipped or not) must each give a clean result or a clean error, never a panic,
    /// and whatever is accepted must be a consistent MNIST split.
    #[test]
    fn damaged_files_never_panic_and_accepted_ones_are_consistent() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(2051);
        let dir = tempfile::tempdir().unwrap();
        let (images_path, labels_path) = (dir.path().join("images"), dir.path().join("labels"));
        let valid_images = images_bytes(5, 28, 28, |i| (i % 256) as u8);
        let valid_labels = labels_bytes(&[0, 3, 9, 1, 4]);
        let interesting = [
            0u32,
            1,
            4,
            5,
            6,
            28,
            255,
            2049,
            2051,
            u32::MAX / 784,
            u32::MAX,
        ];
        let mut accepted = 0;
        for case in 0..3000 {
            let (mut images, mut labels) = (valid_images.clone(), valid_labels.clone());
            let target = if rng.random_bool(0.5) {
                &mut images
            } else {
                &mut labels
            };
            match rng.random_range(0..4) {
                0 => {
                    let keep = rng.random_range(0..=target.len());
                    target.truncate(keep);
                }
                1 => {
                    for _ in 0..rng.random_range(1..8) {
                        let at = rng.random_range(0..target.len());
                        target[at] = rng.random();
                    }
                }
                2 => {
                    let word = rng.random_range(0..4).min(target.len() / 4);
                    let value = interesting[rng.random_range(0..interesting.len())];
                    if target.len() >= word * 4 + 4 {
                        target[word * 4..word * 4 + 4].copy_from_slice(&value.to_be_bytes());
                    }
                }
                _ => {
                    let extra = rng.random_range(1..100);
                    target.extend((0..extra).map(|_| rng.random::<u8>()));
                }
            }
            for (path, bytes) in [(&images_path, &images), (&labels_path, &labels)] {
                let stored = if case % 3 == 0 {
                    gzip(bytes)
                } else {
                    bytes.clone()
                };
                std::fs::write(path, stored).unwrap();
            }
            if let Ok(data) = LabelledImages::read(&images_path, &labels_path) {
                accepted += 1;
                assert_eq!(data.pixels.len(), data.len() * IMAGE_PIXELS, "case {case}");
                assert!(
                    !data.is_empty() && data.labels.iter().all(|&l| (l as usize) < NUM_CLASSES)
                );
            }
        }
        // Flipped pixel bytes leave a valid file: some cases must be accepted, most refused.
        assert!(
            accepted > 0 && accepted < 3000,
            "{accepted} of 3000 accepted"
        );
    }

    #[test]
    fn truncated_keeps_the_first_items() {
        let data = LabelledImages::from_parts(
            (0..3 * IMAGE_PIXELS)
                .map(|i| (i / IMAGE_PIXELS) as u8)
                .collect(),
            vec![4, 5, 6],
        )
        .unwrap();
        let first_two = data.clone().truncated(2);
        assert_eq!(first_two.labels, vec![4, 5]);
        assert_eq!(first_two.pixels.len(), 2 * IMAGE_PIXELS);
        assert_eq!(data.truncated(10).len(), 3);
    }
}
