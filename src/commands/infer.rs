//! `mnist-trainer infer`: the predicted class of pictures or test images, as text or JSON lines.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use burn::prelude::Device;

use crate::cli::args::InferArgs;
use crate::data::{DatasetKind, IMAGE_PIXELS, IMAGE_SIDE, NUM_CLASSES};
use crate::model::Model;
use crate::model::predict::{Calibrated, ReadDigit, read_digits};
use crate::model::reading::{Guess, Reading, Whole, top_k};
use crate::picture::{PreparedDigit, load_digits};
use crate::process::output::{StdoutError, errln, outln};
use crate::run::RunDir;
use crate::run::data_record::load_test_split_of_run;

/// Prints what the model reads in each picture (a folder: each picture in it): a digit with
/// its top 3 (percent), or a number and each of its digits; and the prediction for each
/// `--index`ed test image; saving the model's 28×28 inputs with `--save-input`. Unreadable
/// pictures are reported one by one and make the exit code a failure; the others are still
/// read.
///
/// # Errors
/// `--save-input` would replace a file with another picture or cannot be written (checked for
/// every input before any is written), a folder holds no picture, no run found, the backend
/// does not start, the model cannot be loaded, the test images cannot be read, an `--index` is
/// past the test split, or standard output cannot be written.
pub(crate) fn execute(args: InferArgs) -> Result<ExitCode> {
    let run = args.run.chosen()?;
    let pictures = picture_files(&args.images)?;
    // Refused before anything is predicted: two inputs saved under one name.
    let saver = args
        .save_input
        .as_deref()
        .map(|dir| InputSaver::new(dir, &pictures, &args.index))
        .transpose()?;
    let device = args.backend.backend.device()?;
    let (config, model) = run.load_model_at(args.epoch.epoch, &device)?;
    let calibrated = run.calibrated(args.epoch.epoch)?;
    let classes = config.dataset;
    let (readable, failures) = read_pictures(&pictures, classes.reads_numbers());
    let (paths, digits): (Vec<PathBuf>, Vec<_>) = readable.into_iter().unzip();
    let read: Vec<_> = paths
        .into_iter()
        .zip(read_digits(&model, digits, &device, calibrated))
        .collect();
    let tests = if args.index.is_empty() {
        Vec::new()
    } else {
        test_images(&args, &run, classes)?
    };
    if let Some(saver) = &saver {
        let pictures = read.iter().flat_map(|(path, digits)| {
            digits.iter().enumerate().map(move |(at, read)| {
                let name = InputSaver::picture_name(path, (digits.len() > 1).then_some(at + 1));
                (name, read.digit.pixels)
            })
        });
        let tests = tests
            .iter()
            .map(|test| (InputSaver::test_name(test.index), test.pixels));
        saver.save_all(&pictures.chain(tests).collect::<Vec<_>>())?;
    }
    let answers = Answers {
        json: args.json,
        classes,
        model: &model,
        device: &device,
        calibrated,
    };
    answers.print_pictures(&read)?;
    answers.print_test_images(&tests)?;
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// How predictions are printed, and what makes them.
struct Answers<'a> {
    /// JSON lines rather than text.
    json: bool,
    /// The run's dataset, for class names.
    classes: DatasetKind,
    /// The model that predicts.
    model: &'a Model,
    /// Where it runs.
    device: &'a Device,
    /// The run's temperature and threshold (`calibration.json`), when it was calibrated.
    calibrated: Calibrated,
}

impl Answers<'_> {
    /// What the model read in each readable picture, named by its path: its digit, or its
    /// number and each digit.
    ///
    /// # Errors
    /// Standard output cannot be written.
    fn print_pictures(&self, pictures: &[(PathBuf, Vec<ReadDigit>)]) -> Result<(), StdoutError> {
        for (path, digits) in pictures {
            // A file name need not be UTF-8; JSON strings are.
            let record = serde_json::json!({ "file": path.to_string_lossy() });
            self.print_read(digits, record, &path.display().to_string(), "")?;
        }
        Ok(())
    }

    /// What the model read in each `--index`ed test image, with its label: the same reading as
    /// a picture's, a one-digit number or "not a digit" by the run's threshold, as `eval`
    /// counts it.
    ///
    /// # Errors
    /// Standard output cannot be written.
    fn print_test_images(&self, tests: &[TestImage]) -> Result<(), StdoutError> {
        let inputs = tests.iter().map(|test| vec![test.as_digit()]).collect();
        let read = read_digits(self.model, inputs, self.device, self.calibrated);
        for (test, digits) in tests.iter().zip(read) {
            let record = serde_json::json!({ "index": test.index, "label": test.label });
            let note = format!(" (label {})", self.classes.class_label(test.label));
            self.print_read(&digits, record, &format!("#{}", test.index), &note)?;
        }
        Ok(())
    }

    /// Prints one input's reading: `record` (what the input was) completed with it as a JSON
    /// line, or a text line starting with `heading`; `note` follows the answer in text.
    ///
    /// # Errors
    /// Standard output cannot be written.
    fn print_read(
        &self,
        digits: &[ReadDigit],
        record: serde_json::Value,
        heading: &str,
        note: &str,
    ) -> Result<(), StdoutError> {
        let found: Vec<_> = digits.iter().map(ReadDigit::region).collect();
        let reading = Reading::new(
            &found,
            self.classes,
            self.calibrated.not_a_digit_below,
            self.calibrated.unsure_below,
        );
        match &reading.whole {
            Whole::Digit(prediction) if !self.json => {
                let note = format!("{note}{}", not_digits_note(&reading));
                let probabilities = &prediction.probabilities;
                print_prediction(self.classes, probabilities, heading, &note)
            }
            _ => print_reading(self.json, &reading, record, heading, note),
        }
    }
}

/// The picture files `inputs` name: a file as it is, a folder as the pictures in it (by their
/// extension, in name order; not its subfolders).
///
/// # Errors
/// A folder cannot be listed or holds no picture.
fn picture_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if !input.is_dir() {
            files.push(input.clone());
            continue;
        }
        let entries = std::fs::read_dir(input)
            .with_context(|| format!("{}: cannot list the folder", input.display()))?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.is_file() && image::ImageFormat::from_path(path).is_ok())
            .collect();
        if found.is_empty() {
            bail!(
                "{}: a folder without pictures (PNG, JPEG, GIF, BMP, WebP, TIFF, ...)",
                input.display()
            );
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

/// Each picture's digits prepared for the model (the whole picture as one unless `split`), with
/// how many pictures could not be read (each reported in a line of its own).
fn read_pictures(paths: &[PathBuf], split: bool) -> (Vec<(PathBuf, Vec<PreparedDigit>)>, usize) {
    let mut readable = Vec::new();
    let mut failures = 0;
    for path in paths {
        match load_digits(path, split) {
            Ok(digits) => readable.push((path.clone(), digits)),
            Err(error) => {
                errln!(
                    "error: {}",
                    crate::process::output::error_line(&error.into())
                );
                failures += 1;
            }
        }
    }
    (readable, failures)
}

/// One `--index`ed test image.
struct TestImage {
    /// Its index in the test split.
    index: usize,
    /// Its label.
    label: u8,
    /// Its pixels, as MNIST stores them.
    pixels: [u8; IMAGE_PIXELS],
}

impl TestImage {
    /// The image as a prepared digit: already MNIST's, it is read as it is, the whole field
    /// its bounds.
    fn as_digit(&self) -> PreparedDigit {
        let side = IMAGE_SIDE as u32;
        PreparedDigit {
            pixels: self.pixels,
            bounds: [0, 0, side, side],
            cuts: Vec::new(),
        }
    }
}

/// The `--index`ed test images of the run's test split.
///
/// # Errors
/// The test split cannot be read, or an index is past its end.
fn test_images(args: &InferArgs, run: &RunDir, classes: DatasetKind) -> Result<Vec<TestImage>> {
    let test = load_test_split_of_run(run, classes, args.backend.data_dir.clone())
        .context("cannot read the test images to predict")?;
    args.index
        .iter()
        .map(|&index| {
            let Some(image) = test.image(index) else {
                bail!(
                    "--index {index}: the test split has {} images (0-{})",
                    test.len(),
                    test.len() - 1
                );
            };
            Ok(TestImage {
                index,
                label: test.labels()[index],
                pixels: image.try_into().context("a test image is 784 pixels")?,
            })
        })
        .collect()
}

/// Prints one digit's prediction as a text line `<heading>: predicted <class><note>  top-3:
/// ...`.
///
/// # Errors
/// Standard output cannot be written.
fn print_prediction(
    classes: DatasetKind,
    probabilities: &[f32; NUM_CLASSES],
    heading: &str,
    note: &str,
) -> Result<(), StdoutError> {
    let top = top_k(probabilities, 3);
    outln!(
        "{heading}: predicted {}{note}  top-3: {}",
        classes.class_label(top[0].class),
        describe(&top, classes)
    )
}

/// Prints what the model read in a picture: `record` completed with the reading as a JSON line,
/// or a text line `<heading>: read <number><note>  digits: <class> <percent>%, ...` (or
/// `<heading>: <reason><note>`).
///
/// # Errors
/// Standard output cannot be written.
fn print_reading(
    json: bool,
    reading: &Reading,
    record: serde_json::Value,
    heading: &str,
    note: &str,
) -> Result<(), StdoutError> {
    if json {
        return print_json_line(record, reading);
    }
    if let Some(reason) = &reading.reason {
        return outln!("{heading}: {reason}{note}");
    }
    let digits: Vec<String> = reading
        .digits
        .iter()
        .map(|digit| format!("{} {:.2}%", digit.name, 100.0 * digit.probability))
        .collect();
    outln!(
        "{heading}: read {}{note}  digits: {}{}",
        reading.number.as_deref().unwrap_or("?"),
        digits.join(", "),
        not_digits_note(reading)
    )
}

/// The regions of `reading` that are not digits, as `  not digits: <best guess> <percent>%
/// at <x>,<y> <width>x<height> (<why>), ...`; empty when there are none.
fn not_digits_note(reading: &Reading) -> String {
    if reading.not_digits.is_empty() {
        return String::new();
    }
    let regions: Vec<String> = reading
        .not_digits
        .iter()
        .map(|region| {
            let [x, y, width, height] = region.bounds;
            let why = region
                .reason
                .as_ref()
                .map_or(String::new(), |reason| format!(" ({reason})"));
            format!(
                "{} {:.2}% at {x},{y} {width}x{height}{why}",
                region.name,
                100.0 * region.probability
            )
        })
        .collect();
    format!("  not digits: {}", regions.join(", "))
}

/// Prints one JSON line: `record`'s fields (the input), then `answer`'s, each serialized as it
/// is, so that probabilities print as f32s (as `serve` prints them), not widened to f64 digits.
///
/// # Errors
/// Standard output cannot be written.
fn print_json_line(
    record: serde_json::Value,
    answer: &impl serde::Serialize,
) -> Result<(), StdoutError> {
    #[derive(serde::Serialize)]
    struct Line<'a, T: serde::Serialize> {
        #[serde(flatten)]
        input: serde_json::Value,
        #[serde(flatten)]
        answer: &'a T,
    }
    let line = serde_json::to_string(&Line {
        input: record,
        answer,
    })
    .expect("an answer serializes");
    outln!("{line}")
}

/// The guesses as `<class> <percent>%`, joined by commas; after the first, those that would
/// show as 0.00% are left out.
fn describe(top: &[Guess], classes: DatasetKind) -> String {
    top.iter()
        .enumerate()
        .filter(|(rank, g)| *rank == 0 || g.probability >= 0.00005)
        .map(|(_, g)| {
            format!(
                "{} {:.2}%",
                classes.class_label(g.class),
                100.0 * g.probability
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `--save-input DIR`: the 28×28 image the model received for each input, as a PNG (a light
/// digit on black, as MNIST's), named after the input: `seven.jpg` as `seven.png`, `--index 3`
/// as `test-3.png`. Never replaces a file with another picture: a file already holding the same
/// picture is left as it is (running a command twice is no loss), any other is refused before
/// anything is written.
struct InputSaver {
    /// The `--save-input` folder.
    dir: PathBuf,
}

impl InputSaver {
    /// Refuses two inputs that would be saved under one name.
    fn new(dir: &Path, pictures: &[PathBuf], indices: &[usize]) -> Result<Self> {
        let names = pictures
            .iter()
            .map(|path| (Self::picture_name(path, None), path.display().to_string()))
            .chain(
                (indices.iter()).map(|&index| (Self::test_name(index), format!("--index {index}"))),
            );
        let mut seen = std::collections::HashMap::new();
        for (name, input) in names {
            if let Some(first) = seen.insert(name.clone(), input.clone()) {
                bail!(
                    "--save-input: {first} and {input} would both be saved as {}; rename one",
                    dir.join(&name).display()
                );
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// The PNG name for picture `path`: its file stem with `.png` (`picture.png` when none);
    /// the `digit`th digit of a number of several adds `-<digit>` (`house-1.png`).
    fn picture_name(path: &Path, digit: Option<usize>) -> String {
        let stem = path.file_stem().map(|stem| stem.to_string_lossy());
        let stem = stem.as_deref().unwrap_or("picture");
        match digit {
            Some(digit) => format!("{stem}-{digit}.png"),
            None => format!("{stem}.png"),
        }
    }

    /// The PNG name for test image `index`: `test-<index>.png`.
    fn test_name(index: usize) -> String {
        format!("test-{index}.png")
    }

    /// Writes each `(name, pixels)` (784, row by row), each whole or not at all, after checking
    /// them all: a name taken by another file is refused with nothing written, one holding the
    /// same picture is skipped.
    fn save_all(&self, inputs: &[(String, [u8; IMAGE_PIXELS])]) -> Result<()> {
        let mut to_write = Vec::new();
        let mut names = std::collections::HashSet::new();
        for (name, pixels) in inputs {
            // A number's digits (`a-1.png`) may meet a picture named like one.
            if !names.insert(name) {
                bail!(
                    "--save-input: two inputs would both be saved as {}; rename one picture",
                    self.dir.join(name).display()
                );
            }
            let path = self.dir.join(name);
            if path.symlink_metadata().is_err() {
                to_write.push((path, pixels));
            } else if !holds_picture(&path, pixels) {
                bail!(
                    "--save-input: {} already exists and holds another picture; pick another folder or move it",
                    path.display()
                );
            }
        }
        if to_write.is_empty() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("--save-input: cannot create {}", self.dir.display()))?;
        for (path, pixels) in to_write {
            let side = IMAGE_SIDE as u32;
            let image = image::GrayImage::from_raw(side, side, pixels.to_vec())
                .context("an input is 784 pixels")?;
            crate::fs::atomic_file::write_with(&path, |scratch| {
                image
                    .save_with_format(scratch, image::ImageFormat::Png)
                    .map_err(std::io::Error::other)
            })
            .with_context(|| format!("--save-input: cannot write {}", path.display()))?;
        }
        Ok(())
    }
}

/// Whether the file at `path` is a 28×28 picture of exactly `pixels` (grey, row by row).
fn holds_picture(path: &Path, pixels: &[u8; IMAGE_PIXELS]) -> bool {
    let side = IMAGE_SIDE as u32;
    // Such a PNG is under a kilobyte: a larger file is another picture, not read whole (and a
    // FIFO or a folder is none).
    let bytes = std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file())
        .then(|| {
            crate::fs::bounded_read::read_at_most(path, 1 << 20, "larger than a 28x28 picture")
        });
    bytes
        .and_then(Result::ok)
        .and_then(|bytes| crate::picture::decode(&bytes).ok())
        .map(|picture| picture.to_luma8())
        .is_some_and(|grey| grey.dimensions() == (side, side) && grey.as_raw() == pixels)
}
