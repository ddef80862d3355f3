//! `mnist-trainer infer`: the predicted class of pictures or test images, as text or JSON lines.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use burn::prelude::*;

use crate::analysis::inference::{Guess, Prediction, probabilities, top_k};
use crate::analysis::picture::load_picture;
use crate::cli::args::InferArgs;
use crate::data::record::load_test_split_of_run;
use crate::data::{DatasetKind, IMAGE_PIXELS, NUM_CLASSES};
use crate::model::Model;
use crate::run::RunDir;

pub fn run_infer(args: InferArgs) -> Result<ExitCode> {
    let run = args.run.chosen()?;
    let device = args.backend.backend.device()?;
    let (config, model) = run.load_model(&device)?;
    let failures = predict_pictures(&args, config.dataset, &model, &device);
    if !args.index.is_empty() {
        predict_test_images(&args, &run, config.dataset, &model, &device)?;
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Prints the prediction for each picture; an unreadable one is reported and the rest still get
/// their answer. Returns how many could not be read.
fn predict_pictures(
    args: &InferArgs,
    classes: DatasetKind,
    model: &Model,
    device: &Device,
) -> usize {
    let mut failures = 0;
    let mut pixels = Vec::new();
    let mut readable = Vec::new();
    for path in &args.images {
        match load_picture(path) {
            Ok(picture) => {
                pixels.extend_from_slice(&picture);
                readable.push(path);
            }
            Err(error) => {
                eprintln!("error: {error}");
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
            serde_json::json!({ "file": path }),
            &path.display().to_string(),
            "",
        );
    }
    failures
}

/// Prints the prediction for each `--index`ed test image, with its label.
fn predict_test_images(
    args: &InferArgs,
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
            Some(image) => pixels.extend_from_slice(image),
            None => bail!(
                "--index {index}: the test split has {} images (0-{})",
                test.len(),
                test.len() - 1
            ),
        }
    }
    for (&index, probs) in args.index.iter().zip(probabilities(model, &pixels, device)) {
        let label = test.labels[index];
        print_prediction(
            args.json,
            classes,
            &probs,
            serde_json::json!({ "index": index, "label": label }),
            &format!("#{index}"),
            &format!(" (label {})", classes.class_label(label)),
        );
    }
    Ok(())
}

/// Prints one prediction: `record` completed with the answer as a JSON line, or a text line
/// `<heading>: predicted <class><note>  top-3: ...`.
fn print_prediction(
    json: bool,
    classes: DatasetKind,
    probabilities: &[f32; NUM_CLASSES],
    mut record: serde_json::Value,
    heading: &str,
    note: &str,
) {
    let top = top_k(probabilities, 3);
    let predicted = top[0].class;
    if json {
        let prediction = serde_json::to_value(Prediction::new(*probabilities, classes))
            .expect("a prediction serializes");
        if let (Some(record), serde_json::Value::Object(answer)) =
            (record.as_object_mut(), prediction)
        {
            record.extend(answer);
        }
        println!("{record}");
    } else {
        println!(
            "{heading}: predicted {}{note}  top-3: {}",
            classes.class_label(predicted),
            describe(&top, classes)
        );
    }
}

fn describe(top: &[Guess], classes: DatasetKind) -> String {
    top.iter()
        .map(|g| {
            format!(
                "{} {:.2}%",
                classes.class_label(g.class),
                100.0 * g.probability
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}
