//! The command line: flags, subcommands and what each prints.

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use crate::artifacts::{RunDir, RunStatus, Summary};
use crate::backend::Backend;
use crate::config::TrainingConfig;
use crate::data::{DatasetKind, Split};
use crate::data_record::source_for_run;
use crate::digit_image::load_digit;
use crate::eval::EvalReport;
use crate::idx::LabelledImages;
use crate::inference::{Guess, log_probabilities, probabilities, top_k};
use crate::model::parse_hidden_sizes;
use crate::optimizer::LrSchedule;
use crate::training::{Existing, TrainRequest, train};
use crate::{memory, metrics, plots};

const ABOUT: &str = "Train and use the PyTorch tutorial's MNIST network (784-128-10) with Burn";

const LONG_ABOUT: &str = "\
Train and use the PyTorch tutorial's MNIST network (784 -> 128 ReLU -> 10, cross-entropy, Adam,
batch 64, 5 epochs) with Burn.

Without a subcommand it trains. On a terminal Burn's dashboard shows the run (q, then s, stops
it); otherwise one line per epoch is printed (Ctrl-C stops it). Each run writes a folder under
artifacts/ with its config, checkpoints, per-epoch metrics, final model and summary; a stopped
or killed run continues with --resume.";

#[derive(Debug, Parser)]
#[command(name = "mnist-trainer", version, about = ABOUT, long_about = LONG_ABOUT)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub train: TrainArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a model (the default when no subcommand is given).
    Train(TrainArgs),
    /// Predict digits in image files (or test-set images) with a trained run's model.
    Infer(InferArgs),
    /// Evaluate a trained run on the test split: scores, confusion matrix, pictures.
    Eval(EvalArgs),
    /// Redraw a run's training curves (curves.png) from its metrics file.
    Report(ReportArgs),
}

/// Options every command that touches data and tensors shares.
#[derive(Debug, Args)]
pub struct BackendArgs {
    /// Where tensors live: flex and ndarray run on the CPU (flex is the faster, see the README),
    /// wgpu on the GPU.
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    pub backend: Backend,

    /// Folder with the dataset's four IDX files (train-images-idx3-ubyte, ..., each raw or .gz).
    /// Without it, MNIST comes from Burn's cached download (fetched on first use) and
    /// Fashion-MNIST from /usr/share/datasets/fashion-mnist.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub backend: BackendArgs,

    /// Training config (JSON, as config/default.json); the tutorial's settings when absent.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Folder for this run's outputs [default: artifacts/<UTC date-time>].
    #[arg(long, value_name = "DIR")]
    pub artifacts: Option<PathBuf>,

    /// Continue an interrupted run from its last complete epoch, with its saved config
    /// (--epochs may raise the epoch count; nothing else may change).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["artifacts", "config", "overwrite"])]
    pub resume: Option<PathBuf>,

    /// Replace the --artifacts folder if it already holds a run.
    #[arg(long)]
    pub overwrite: bool,

    /// Dataset: mnist or fashion-mnist (same format, ten kinds of clothing).
    #[arg(long, value_name = "NAME")]
    pub dataset: Option<String>,

    /// Passes over the training set.
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,

    /// Images per optimizer step.
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,

    /// Hidden layer widths, input side first: 128, 256,128, or "" for none (softmax regression).
    #[arg(long, value_name = "SIZES")]
    pub hidden: Option<String>,

    /// Hidden-layer activation: relu, sigmoid or tanh.
    #[arg(long, value_name = "NAME")]
    pub activation: Option<String>,

    /// Loss: cross-entropy, or mse (between softmax probabilities and one-hot targets).
    #[arg(long, value_name = "NAME")]
    pub loss: Option<String>,

    /// Optimizer: adam or sgd.
    #[arg(long, value_name = "NAME")]
    pub optimizer: Option<String>,

    /// Learning rate.
    #[arg(long, value_name = "RATE", allow_negative_numbers = true)]
    pub lr: Option<f64>,

    /// SGD momentum, in [0, 1).
    #[arg(long, value_name = "M", allow_negative_numbers = true)]
    pub momentum: Option<f64>,

    /// L2 weight decay (either optimizer).
    #[arg(long, value_name = "L2", allow_negative_numbers = true)]
    pub weight_decay: Option<f64>,

    /// Learning-rate schedule: constant, or cosine (down to 0 over the run).
    #[arg(long, value_name = "NAME")]
    pub lr_schedule: Option<String>,

    /// Hold out N training images (at random) to validate on; the test split then scores only
    /// the end. 0 (default) validates on the test split, as the tutorial does.
    #[arg(long, value_name = "N")]
    pub valid_size: Option<usize>,

    /// Stop when the validation loss has not improved for N epochs.
    #[arg(long, value_name = "N")]
    pub early_stop_patience: Option<usize>,

    /// Seed for weight initialisation, shuffling and the hold-out.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Threads preparing batches ahead of training (0: on the training thread).
    #[arg(long, value_name = "N")]
    pub num_workers: Option<usize>,

    /// Train on the first N training images only (quick checks).
    #[arg(long, value_name = "N")]
    pub limit_train: Option<usize>,

    /// Validate and test on the first N test images only.
    #[arg(long, value_name = "N")]
    pub limit_test: Option<usize>,
}

#[derive(Debug, Args)]
pub struct InferArgs {
    #[command(flatten)]
    pub backend: BackendArgs,

    /// A trained run's folder (holds config.json and model.bpk).
    #[arg(long, value_name = "DIR")]
    pub artifacts: PathBuf,

    /// Pictures of digits (PNG, JPEG, ...): any size or colours, dark ink on light paper or
    /// light on dark; each is cropped, scaled and centred the way MNIST's digits were.
    #[arg(value_name = "IMAGE", required_unless_present = "index")]
    pub images: Vec<PathBuf>,

    /// Test-set images to predict, by index (0-9999); repeat or separate with commas.
    #[arg(long, value_name = "N", num_args = 1.., value_delimiter = ',')]
    pub index: Vec<usize>,

    /// One JSON object per image instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub backend: BackendArgs,

    /// A trained run's folder; eval.json, confusion.png and misclassified.png are written there.
    #[arg(long, value_name = "DIR")]
    pub artifacts: PathBuf,

    /// How many of the worst mistakes misclassified.png shows.
    #[arg(long, value_name = "N", default_value_t = 36)]
    pub worst: usize,

    /// Print eval.json instead of the tables.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A run's folder (holds metrics.jsonl); curves.png is written there.
    #[arg(long, value_name = "DIR")]
    pub artifacts: PathBuf,
}

impl Cli {
    /// The backend the chosen command runs on (`report` draws without one: the default).
    pub fn backend(&self) -> Backend {
        match &self.command {
            None => self.train.backend.backend,
            Some(Command::Train(args)) => args.backend.backend,
            Some(Command::Infer(args)) => args.backend.backend,
            Some(Command::Eval(args)) => args.backend.backend,
            Some(Command::Report(_)) => Backend::Flex,
        }
    }
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Some(Command::Train(args)) => run_train(args),
        None => run_train(cli.train),
        Some(Command::Infer(args)) => run_infer(args),
        Some(Command::Eval(args)) => run_eval(args),
        Some(Command::Report(args)) => run_report(args),
    }
}

/// Overwrites `slot` with the flag's value when the flag was given.
fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

/// Parses a named choice given on the command line, naming the flag when it is unknown.
fn choice<T: FromStr<Err = String>>(flag: &str, text: &Option<String>) -> Result<Option<T>> {
    text.as_deref()
        .map(|t| t.parse::<T>().map_err(|e| anyhow::anyhow!("{flag}: {e}")))
        .transpose()
}

impl TrainArgs {
    /// The config file (or the tutorial's, or a resumed run's) with the flags laid over it,
    /// validated.
    fn resolve_config(&self) -> Result<TrainingConfig> {
        let mut config = match (&self.resume, &self.config) {
            (Some(run), _) => RunDir::existing(run)?.load_config()?,
            (None, Some(path)) => TrainingConfig::load_file(path)?,
            (None, None) => TrainingConfig::tutorial(),
        };
        let saved = self.resume.as_ref().map(|_| config.clone());
        let hidden = self
            .hidden
            .as_deref()
            .map(|text| parse_hidden_sizes(text).map_err(|e| anyhow::anyhow!("--hidden: {e}")))
            .transpose()?;
        let flags = [
            ("--dataset", self.dataset.is_some()),
            ("--epochs", self.epochs.is_some()),
            ("--batch-size", self.batch_size.is_some()),
            ("--hidden", self.hidden.is_some()),
            ("--activation", self.activation.is_some()),
            ("--loss", self.loss.is_some()),
            ("--optimizer", self.optimizer.is_some()),
            ("--lr", self.lr.is_some()),
            ("--momentum", self.momentum.is_some()),
            ("--weight-decay", self.weight_decay.is_some()),
            ("--lr-schedule", self.lr_schedule.is_some()),
            ("--valid-size", self.valid_size.is_some()),
            ("--early-stop-patience", self.early_stop_patience.is_some()),
            ("--seed", self.seed.is_some()),
            ("--num-workers", self.num_workers.is_some()),
            ("--limit-train", self.limit_train.is_some()),
            ("--limit-test", self.limit_test.is_some()),
        ];
        set(&mut config.dataset, choice("--dataset", &self.dataset)?);
        set(&mut config.num_epochs, self.epochs);
        set(&mut config.batch_size, self.batch_size);
        set(&mut config.model.hidden_sizes, hidden);
        set(
            &mut config.model.activation,
            choice("--activation", &self.activation)?,
        );
        set(&mut config.loss, choice("--loss", &self.loss)?);
        set(
            &mut config.optimizer.kind,
            choice("--optimizer", &self.optimizer)?,
        );
        set(&mut config.learning_rate, self.lr);
        set(&mut config.optimizer.momentum, self.momentum);
        set(&mut config.optimizer.weight_decay, self.weight_decay);
        set(
            &mut config.lr_schedule,
            choice("--lr-schedule", &self.lr_schedule)?,
        );
        set(&mut config.valid_size, self.valid_size);
        set(
            &mut config.early_stop_patience,
            self.early_stop_patience.map(Some),
        );
        set(&mut config.seed, self.seed);
        set(&mut config.num_workers, self.num_workers);
        set(&mut config.limit_train, self.limit_train.map(Some));
        set(&mut config.limit_test, self.limit_test.map(Some));
        let overridden: Vec<&str> = flags
            .iter()
            .filter(|(_, given)| *given)
            .map(|(flag, _)| *flag)
            .collect();
        let file = match (&self.resume, &self.config) {
            (Some(run), _) => Some(RunDir::new(run).config()),
            (None, path) => path.clone(),
        };
        let origin = match (file, overridden.is_empty()) {
            (Some(path), true) => path.display().to_string(),
            (Some(path), false) => format!("{} with {}", path.display(), overridden.join(" ")),
            (None, _) => overridden.join(" "),
        };
        config.validate(&origin)?;
        if let Some(saved) = saved {
            refuse_changes_on_resume(&saved, &config)?;
        }
        // Before anything is allocated: an impossible size would abort inside the allocator.
        let needed = memory::training_bytes(&config);
        memory::ensure_fits(
            &origin,
            &config.model,
            needed,
            "train",
            memory::available_bytes(),
        )?;
        Ok(config)
    }
}

/// A resumed run must be the run it continues: only its length and loader threads may change,
/// and not its length either when the learning rate was planned over it.
fn refuse_changes_on_resume(saved: &TrainingConfig, wanted: &TrainingConfig) -> Result<()> {
    if saved.lr_schedule == LrSchedule::Cosine && wanted.num_epochs != saved.num_epochs {
        bail!(
            "--resume: --epochs {} would change a cosine-scheduled run: its learning rate falls to 0 over the {} epochs it started with, and a longer run would have had a different rate from its first step; resume without --epochs, or train a new run with --epochs {}",
            wanted.num_epochs,
            saved.num_epochs,
            wanted.num_epochs
        );
    }
    let comparable = |config: &TrainingConfig| {
        let mut value = serde_json::to_value(config).expect("a config serializes");
        let fields = value.as_object_mut().expect("a config is an object");
        fields.remove("num_epochs");
        fields.remove("num_workers");
        value
    };
    let (before, after) = (comparable(saved), comparable(wanted));
    let changed = before
        .as_object()
        .into_iter()
        .flatten()
        .find(|(key, value)| after.get(key.as_str()) != Some(*value));
    if let Some((key, value)) = changed {
        let what = if key == "model" {
            "changes the model's shape"
        } else {
            "changes the run"
        };
        bail!(
            "--resume: {key} was {value} in this run and would become {}; that {what} (only --epochs and --num-workers may differ)",
            after[key.as_str()]
        );
    }
    Ok(())
}

fn run_train(args: TrainArgs) -> Result<ExitCode> {
    let config = args.resolve_config()?;
    let run_dir = args
        .resume
        .clone()
        .or_else(|| args.artifacts.clone())
        .unwrap_or_else(|| {
            PathBuf::from("artifacts").join(chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string())
        });
    let existing = match (args.resume.is_some(), args.overwrite) {
        (true, _) => Existing::Resume,
        (false, true) => Existing::Overwrite,
        (false, false) => Existing::Refuse,
    };
    let summary = train(TrainRequest {
        config,
        backend: args.backend.backend,
        data_dir: args.backend.data_dir.clone(),
        run: RunDir::new(&run_dir),
        existing,
    })?;
    print_summary(&summary, &run_dir);
    if crate::interrupt::pressed_while_finishing() {
        eprintln!("Ctrl-C: the run had already finished training; its files were completed first");
        return Ok(ExitCode::from(130));
    }
    Ok(match summary.status {
        RunStatus::Completed | RunStatus::EarlyStopped => ExitCode::SUCCESS,
        // Stopped by the user: the run folder is valid, but the run is not what was asked for.
        RunStatus::Interrupted => ExitCode::from(130),
        RunStatus::Failed => ExitCode::FAILURE,
    })
}

/// The command that resumes `run_dir`, as it can be typed in this shell: this program as it
/// was started (a bare name found on the PATH, or the path `cargo run` used) and the folder.
fn resume_command(run_dir: &std::path::Path) -> String {
    let program = std::env::args_os()
        .next()
        .map(|arg| arg.to_string_lossy().into_owned())
        .unwrap_or_else(|| "mnist-trainer".to_string());
    [
        program,
        "--resume".to_string(),
        run_dir.display().to_string(),
    ]
    .iter()
    .map(|word| shell_quote(word))
    .collect::<Vec<_>>()
    .join(" ")
}

/// `word` as a POSIX shell reads it back: bare when it is plain, else in single quotes.
fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn print_summary(summary: &Summary, run_dir: &std::path::Path) {
    let seconds = &summary.seconds_per_epoch;
    let mean = seconds.iter().sum::<f64>() / seconds.len().max(1) as f64;
    let ended = match summary.status {
        RunStatus::Completed => "",
        RunStatus::EarlyStopped => " (stopped early: validation loss no longer improving)",
        RunStatus::Interrupted => " (interrupted)",
        RunStatus::Failed => " (failed)",
    };
    println!(
        "test accuracy {:.2}% ({} loss {:.4}) on {} images after {} epochs{ended}, {:.1} s/epoch on {}",
        summary.test_accuracy,
        summary.loss_function,
        summary.test_loss,
        summary.test_images,
        summary.epochs_completed,
        mean,
        summary.backend
    );
    println!(
        "artifacts: {} (model.bpk, config.json, metrics.jsonl, summary.json, curves.png)",
        run_dir.display()
    );
    if summary.status == RunStatus::Interrupted {
        println!(
            "interrupted after epoch {}; continue with: {}",
            summary.epochs_completed,
            resume_command(run_dir)
        );
    }
}

fn run_infer(args: InferArgs) -> Result<ExitCode> {
    let run = RunDir::existing(&args.artifacts)?;
    let device = args.backend.backend.device()?;
    let (config, model) = run.load_model(&device)?;
    let classes = config.dataset;
    let mut failures = 0;

    // Pictures first; an unreadable one is reported and the rest still get their answer.
    let mut pixels = Vec::new();
    let mut readable = Vec::new();
    for path in &args.images {
        match load_digit(path) {
            Ok(digit) => {
                pixels.extend_from_slice(&digit);
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
        .zip(probabilities(&model, &pixels, &device))
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

    if !args.index.is_empty() {
        let test = run_test_images(&run, classes, args.backend.data_dir.clone())
            .context("cannot read the test images to predict")?;
        let mut pixels = Vec::with_capacity(args.index.len() * crate::idx::IMAGE_PIXELS);
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
        for (&index, probs) in args
            .index
            .iter()
            .zip(probabilities(&model, &pixels, &device))
        {
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
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Prints one prediction: `record` completed with the answer as a JSON line, or a text line
/// `<heading>: predicted <class><note>  top-3: ...`.
fn print_prediction(
    json: bool,
    classes: DatasetKind,
    probabilities: &[f32; crate::idx::NUM_CLASSES],
    mut record: serde_json::Value,
    heading: &str,
    note: &str,
) {
    let top = top_k(probabilities, 3);
    let predicted = top[0].digit;
    if json {
        record["predicted"] = predicted.into();
        record["class"] = classes.class_names()[predicted as usize].into();
        record["top3"] = serde_json::to_value(&top).expect("guesses serialize");
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
                classes.class_label(g.digit),
                100.0 * g.probability
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn run_eval(args: EvalArgs) -> Result<ExitCode> {
    let run = RunDir::existing(&args.artifacts)?;
    let device = args.backend.backend.device()?;
    let (config, model) = run.load_model(&device)?;
    // The images the run was tested on: the test split, cut as its config says.
    let mut test = run_test_images(&run, config.dataset, args.backend.data_dir.clone())
        .context("cannot read the test images to evaluate on")?;
    if let Some(limit) = config.limit_test {
        test = test.truncated(limit);
    }
    let log_probs = log_probabilities(&model, &test.pixels, &device);
    let report = EvalReport::new(
        &log_probs,
        &test.labels,
        args.worst,
        config.dataset.class_names(),
        config.loss,
    );
    let json = serde_json::to_string_pretty(&report).expect("the report serializes");
    run.write_atomically(&run.eval_json(), &json)?;
    plots::confusion_heatmap(&report.confusion, &run.confusion_png())?;
    plots::misclassified_grid(&report.worst, &test, &run.misclassified_png())?;
    if args.json {
        println!("{json}");
    } else {
        print!("{}", report.to_text());
        println!(
            "\nwritten: {}, {}, {}",
            run.eval_json().display(),
            run.confusion_png().display(),
            run.misclassified_png().display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The test split a run was tested on: from `--data-dir`, else from where the run recorded,
/// refused when its files are not the ones the run recorded.
fn run_test_images(
    run: &RunDir,
    dataset: DatasetKind,
    data_dir: Option<PathBuf>,
) -> Result<LabelledImages> {
    let (source, record) = source_for_run(run, dataset, data_dir)?;
    let (test, prints) = source.load_fingerprinted(Split::Test)?;
    if let Some(record) = record {
        record.check(run, &source, &prints)?;
    }
    Ok(test)
}

fn run_report(args: ReportArgs) -> Result<ExitCode> {
    let run = RunDir::existing(&args.artifacts)?;
    let epochs = metrics::read_all(&run.metrics())?;
    plots::training_curves(&epochs, &run.curves_png())?;
    println!("written: {}", run.curves_png().display());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("mnist-trainer").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn training_is_the_default_command() {
        assert_eq!(
            parse(&[]).train.backend.backend,
            Backend::Flex,
            "the measured-fastest CPU backend"
        );
        let cli = parse(&["--epochs", "2", "--backend", "wgpu"]);
        assert!(cli.command.is_none());
        assert_eq!(cli.train.epochs, Some(2));
        assert_eq!(cli.train.backend.backend, Backend::Wgpu);
    }

    #[test]
    fn flags_override_the_config_and_are_validated() {
        let cli = parse(&[
            "train",
            "--batch-size",
            "32",
            "--hidden",
            "64,32",
            "--lr",
            "0.01",
        ]);
        let Some(Command::Train(args)) = cli.command else {
            panic!("not train")
        };
        let config = args.resolve_config().unwrap();
        assert_eq!(
            (
                config.batch_size,
                config.model.hidden_sizes.clone(),
                config.learning_rate
            ),
            (32, vec![64, 32], 0.01)
        );

        let cli = parse(&[
            "--optimizer",
            "sgd",
            "--momentum",
            "0.9",
            "--activation",
            "tanh",
            "--hidden",
            "",
        ]);
        let config = cli.train.resolve_config().unwrap();
        assert_eq!(config.optimizer.kind, crate::optimizer::OptimizerKind::Sgd);
        assert_eq!(config.optimizer.momentum, 0.9);
        assert!(config.model.hidden_sizes.is_empty());

        for (args, expected) in [
            (
                &["--activation", "swish"][..],
                "--activation: unknown activation `swish` (valid: relu, sigmoid, tanh)",
            ),
            (
                &["--optimizer", "sgd", "--momentum", "-0.5"][..],
                "--optimizer --momentum: optimizer.momentum = -0.5 is invalid: must be in [0, 1)",
            ),
            (
                &["--hidden", "128,0"][..],
                "--hidden: model.hidden_sizes = [128, 0] is invalid: a layer needs at least 1 unit",
            ),
        ] {
            let err = parse(args).train.resolve_config().unwrap_err().to_string();
            assert_eq!(err, expected);
        }

        let cli = parse(&["--batch-size", "0"]);
        let err = cli.train.resolve_config().unwrap_err().to_string();
        assert_eq!(
            err,
            "--batch-size: batch_size = 0 is invalid: a batch holds at least 1 image"
        );
    }

    #[test]
    fn infer_takes_images_or_indices_but_not_nothing() {
        let cli = parse(&[
            "infer",
            "--artifacts",
            "a/run",
            "--index",
            "3,4",
            "--index",
            "9",
        ]);
        let Some(Command::Infer(args)) = cli.command else {
            panic!("not infer")
        };
        assert_eq!(args.index, vec![3, 4, 9]);
        let cli = parse(&["infer", "--artifacts", "a/run", "one.png", "two.jpg"]);
        let Some(Command::Infer(args)) = cli.command else {
            panic!("not infer")
        };
        assert_eq!(args.images.len(), 2);
        assert!(Cli::try_parse_from(["mnist-trainer", "infer", "--artifacts", "a/run"]).is_err());
    }
}
