//! `mnist-trainer infer`: the predicted class of pictures or test images, as text or JSON lines.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use burn::prelude::*;

use crate::analysis::inference::{Guess, Prediction, probabilities, top_k};
use crate::cli::args::InferArgs;
use crate::data::record::load_test_split_of_run;
use crate::data::{DatasetKind, IMAGE_PIXELS, IMAGE_SIDE, NUM_CLASSES};
use crate::model::Model;
use crate::output::{StdoutError, errln, outln};
use crate::picture::load_picture;
use crate::run::RunDir;

/// Prints the prediction (top 3, percent) for each picture and each `--index`ed test image,
/// saving the model's 28×28 input with `--save-input`. Unreadable pictures are reported one by
/// one and make the exit code a failure; the others are still predicted.
///
/// # Errors
/// `--save-input` would replace a file or cannot be created, no run found, the backend does
/// not start, the model cannot be loaded, the test images cannot be read, an `--index` is
/// past the test split, or a test image cannot be saved.
pub(crate) fn run_infer(args: InferArgs) -> Result<ExitCode> {
    let run = args.run.chosen()?;
    // Refused before anything is predicted: a name already taken in the folder.
    let saver = args
        .save_input
        .as_deref()
        .map(|dir| InputSaver::new(dir, &args))
        .transpose()?;
    let device = args.backend.backend.device()?;
    let (config, model) = run.load_model(&device)?;
    let failures = predict_pictures(&args, saver.as_ref(), config.dataset, &model, &device)?;
    if !args.index.is_empty() {
        predict_test_images(&args, saver.as_ref(), &run, config.dataset, &model, &device)?;
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Prints the prediction for each picture; an unreadable one is reported and the rest still get
/// their answer. Returns how many could not be read.
///
/// # Errors
/// Standard output cannot be written.
fn predict_pictures(
    args: &InferArgs,
    saver: Option<&InputSaver>,
    classes: DatasetKind,
    model: &Model,
    device: &Device,
) -> Result<usize, StdoutError> {
    let mut failures = 0;
    let mut pixels = Vec::new();
    let mut readable = Vec::new();
    for path in &args.images {
        let saved = |picture: [u8; IMAGE_PIXELS]| match saver {
            Some(saver) => saver
                .save(&InputSaver::picture_name(path), &picture)
                .map(|()| picture),
            None => Ok(picture),
        };
        match load_picture(path)
            .map_err(anyhow::Error::from)
            .and_then(saved)
        {
            Ok(picture) => {
                pixels.extend_from_slice(&picture);
                readable.push(path);
            }
            Err(error) => {
                errln!("error: {}", crate::cli::error_line(&error));
                failures += 1;
            }
        }
    }
    for (path, probs) in readable
        .into_iter()
        .zip(probabilities(model, &pixels, device))
    {
        print_prediction(
            args.json,
            classes,
            &probs,
            // A file name need not be UTF-8; JSON strings are.
            serde_json::json!({ "file": path.to_string_lossy() }),
            &path.display().to_string(),
            "",
        )?;
    }
    Ok(failures)
}

/// Prints the prediction for each `--index`ed test image, with its label.
fn predict_test_images(
    args: &InferArgs,
    saver: Option<&InputSaver>,
    run: &RunDir,
    classes: DatasetKind,
    model: &Model,
    device: &Device,
) -> Result<()> {
    let test = load_test_split_of_run(run, classes, args.backend.data_dir.clone())
        .context("cannot read the test images to predict")?;
    let mut pixels = Vec::with_capacity(args.index.len() * IMAGE_PIXELS);
    for &index in &args.index {
        match test.image(index) {
            Some(image) => {
                if let Some(saver) = saver {
                    saver.save(&InputSaver::test_name(index), image)?;
                }
                pixels.extend_from_slice(image)
            }
            None => bail!(
                "--index {index}: the test split has {} images (0-{})",
                test.len(),
                test.len() - 1
            ),
        }
    }
    for (&index, probs) in args.index.iter().zip(probabilities(model, &pixels, device)) {
        let label = test.labels()[index];
        print_prediction(
            args.json,
            classes,
            &probs,
            serde_json::json!({ "index": index, "label": label }),
            &format!("#{index}"),
            &format!(" (label {})", classes.class_label(label)),
        )?;
    }
    Ok(())
}

/// Prints one prediction: `record` completed with the answer as a JSON line, or a text line
/// `<heading>: predicted <class><note>  top-3: ...`.
///
/// # Errors
/// Standard output cannot be written.
fn print_prediction(
    json: bool,
    classes: DatasetKind,
    probabilities: &[f32; NUM_CLASSES],
    record: serde_json::Value,
    heading: &str,
    note: &str,
) -> Result<(), StdoutError> {
    let top = top_k(probabilities, 3);
    let predicted = top[0].class;
    if json {
        /// The input's fields, then the answer's: serialized as they are, so that the
        /// probabilities print as f32s (as `serve` prints them), not widened to f64 digits.
        #[derive(serde::Serialize)]
        struct Line {
            #[serde(flatten)]
            input: serde_json::Value,
            #[serde(flatten)]
            prediction: Prediction,
        }
        let line = Line {
            input: record,
            prediction: Prediction::new(*probabilities, classes),
        };
        let line = serde_json::to_string(&line).expect("a prediction serializes");
        outln!("{line}")
    } else {
        outln!(
            "{heading}: predicted {}{note}  top-3: {}",
            classes.class_label(predicted),
            describe(&top, classes)
        )
    }
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
/// as `test-3.png`. Never replaces a file: a name taken is refused before anything is written.
struct InputSaver {
    /// The `--save-input` folder.
    dir: PathBuf,
}

impl InputSaver {
    /// Creates `dir` if needed, and refuses if any name this command would write is taken
    /// (by a file there, or by two inputs with the same name).
    fn new(dir: &Path, args: &InferArgs) -> Result<Self> {
        let names = args
            .images
            .iter()
            .map(|path| (Self::picture_name(path), path.display().to_string()))
            .chain(
                (args.index.iter())
                    .map(|&index| (Self::test_name(index), format!("--index {index}"))),
            );
        let mut seen = std::collections::HashMap::new();
        for (name, input) in names {
            let path = dir.join(&name);
            if let Some(first) = seen.insert(name, input.clone()) {
                bail!(
                    "--save-input: {first} and {input} would both be saved as {}; rename one",
                    path.display()
                );
            }
            if path.symlink_metadata().is_ok() {
                bail!(
                    "--save-input: {} already exists; pick another folder or move it",
                    path.display()
                );
            }
        }
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--save-input: cannot create {}", dir.display()))?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// The PNG name for picture `path`: its file stem with `.png` (`picture.png` when none).
    fn picture_name(path: &Path) -> String {
        let stem = path.file_stem().map(|stem| stem.to_string_lossy());
        format!("{}.png", stem.as_deref().unwrap_or("picture"))
    }

    /// The PNG name for test image `index`: `test-<index>.png`.
    fn test_name(index: usize) -> String {
        format!("test-{index}.png")
    }

    /// Writes `pixels` (784, row by row) as `name`, whole or not at all.
    fn save(&self, name: &str, pixels: &[u8]) -> Result<()> {
        let path = self.dir.join(name);
        let side = IMAGE_SIDE as u32;
        let image = image::GrayImage::from_raw(side, side, pixels.to_vec())
            .context("an input is 784 pixels")?;
        crate::run::atomic_file::write_with(&path, |scratch| {
            image
                .save_with_format(scratch, image::ImageFormat::Png)
                .map_err(std::io::Error::other)
        })
        .with_context(|| format!("--save-input: cannot write {}", path.display()))
    }
}
