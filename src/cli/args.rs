//! The command line's flags and subcommands, as clap reads them. The training flags that
//! override a config field are declared in `training_flags.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::backend::Backend;
use crate::cli::training_flags::TrainingFlags;
use crate::data::DatasetKind;
use crate::model::ActivationKind;

/// `--help`'s one-line description of the program.
const ABOUT: &str = "Train and use the PyTorch tutorial's MNIST network (784-128-10) with Burn";

/// `--help`'s longer description of the program (what training does, stops and writes).
const LONG_ABOUT: &str = "\
Train and use the PyTorch tutorial's MNIST network (784 -> 128 ReLU -> 10, cross-entropy, Adam,
batch 64, 5 epochs) with Burn.

Without a subcommand it trains. On a terminal Burn's dashboard shows the run; otherwise (or
with --plain, or where TERM is dumb or unset) one line per epoch is printed. Ctrl-C, SIGTERM or SIGHUP stop it after the current
step. Each run writes a folder under
artifacts/ with its config, checkpoints, per-epoch metrics, final model and summary; a stopped
or killed run continues with --resume.";

/// The whole command line: a subcommand, or the training flags alone (training is the
/// default).
#[derive(Debug, Parser)]
#[command(name = "mnist-trainer", version, about = ABOUT, long_about = LONG_ABOUT)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// The subcommand given; `None` trains with [`Cli::train`].
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The training flags given without a subcommand.
    #[command(flatten)]
    pub train: TrainArgs,
}

/// The subcommands; each variant's doc comment is its `--help` text.
#[derive(Debug, Subcommand)]
#[expect(
    clippy::large_enum_variant,
    reason = "parsed once per process: boxing the training flags would buy nothing"
)]
pub enum Command {
    /// Train a model (the default when no subcommand is given).
    Train(TrainArgs),
    /// Predict the class of image files (or test-set images) with a trained run's model.
    Infer(InferArgs),
    /// Evaluate a trained run on the test split: scores, calibration, confusion matrix, pictures.
    Eval(EvalArgs),
    /// Fit the temperature that makes a run's probabilities mean what they say, and the top
    /// probability below which a picture is "not a digit", on the training images it held out
    /// (--valid-size); infer, eval, serve and export then use both.
    Calibrate(CalibrateArgs),
    /// Redraw a run's training curves (curves.png) from its metrics file.
    Report(ReportArgs),
    /// Write a run's model as the PyTorch state_dict of the same network (safetensors) or as
    /// ONNX (onnxruntime, browsers, phones), or both.
    Export(ExportArgs),
    /// Make a run folder from a PyTorch state_dict (the tutorial's SimpleNN, an nn.Sequential of
    /// Linear layers, or examples/mnist's CNN Net), for infer, eval and export.
    Import(ImportArgs),
    /// Serve a run's model: a web page to draw on, and a JSON API (POST /api/predict).
    Serve(ServeArgs),
}

/// Options every command that touches data and tensors shares.
#[derive(Debug, Args)]
pub struct BackendArgs {
    /// Where tensors live: flex and ndarray run on the CPU (flex is the faster, see docs/measurements.md),
    /// wgpu on the GPU.
    #[arg(long, value_enum, default_value_t = Backend::default())]
    pub backend: Backend,

    /// Folder with the dataset's four IDX files (train-images-idx3-ubyte, ..., each raw or .gz),
    /// or a folder of pictures sorted by class (0/ to 9/, or train/ and test/ each so).
    /// Without it, MNIST comes from Burn's cached download (fetched on first use) and
    /// Fashion-MNIST from /usr/share/datasets/fashion-mnist.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// `train`'s flags (also the top level's).
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// `--backend` and `--data-dir`.
    #[command(flatten)]
    pub backend: BackendArgs,

    /// Training config (JSON, as config/default.json); the tutorial's settings when absent.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Folder for this run's outputs [default: a new folder in artifacts/ named by the UTC date and time].
    #[arg(long, value_name = "DIR", alias = "artifacts")]
    pub run: Option<PathBuf>,

    /// Continue an interrupted run from its last complete epoch, with its saved config
    /// (--epochs may raise the epoch count; nothing else may change).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["run", "config", "overwrite"])]
    pub resume: Option<PathBuf>,

    /// Replace the --run folder if it already holds a run.
    #[arg(long)]
    pub overwrite: bool,

    /// One line per epoch instead of Burn's dashboard, even on a terminal (the default where
    /// TERM is `dumb` or unset: Emacs's shell, serial consoles).
    #[arg(long)]
    pub plain: bool,

    /// The flags that override a config field (`--epochs`, `--lr`, ...).
    #[command(flatten)]
    pub(crate) flags: TrainingFlags,
}

/// `--epoch`: which of a run's models a command reads; one flag for every command that reads
/// one.
#[derive(Debug, Args)]
pub struct EpochArg {
    /// Read the model of epoch N from the run's checkpoints instead of model.bpk (a run keeps
    /// its last two epochs and the one with the lowest validation loss); uncalibrated, since
    /// calibrate fits model.bpk.
    #[arg(long, value_name = "N")]
    pub epoch: Option<usize>,
}

/// The run a command reads, `--run`: one flag, one meaning, for every such command.
#[derive(Debug, Args)]
pub struct RunFolderArg {
    /// The run's folder [default: the newest run under artifacts/].
    #[arg(long = "run", value_name = "DIR", alias = "artifacts")]
    pub folder: Option<PathBuf>,
}

impl RunFolderArg {
    /// The folder given, or the newest run (named on standard error).
    ///
    /// # Errors
    /// The folder given is not a folder, or none was given and `artifacts/` holds no run.
    pub fn chosen(&self) -> Result<crate::run::RunDir, crate::run::ArtifactError> {
        crate::run::chosen_run(self.folder.as_deref())
    }
}

/// `infer`'s flags and pictures.
#[derive(Debug, Args)]
pub struct InferArgs {
    /// `--backend` and `--data-dir` (where `--index`'s test images are read).
    #[command(flatten)]
    pub backend: BackendArgs,

    /// `--run`: the run whose model predicts.
    #[command(flatten)]
    pub run: RunFolderArg,

    /// `--epoch`: a kept checkpoint's model instead of `model.bpk`.
    #[command(flatten)]
    pub epoch: EpochArg,

    /// Pictures (PNG, JPEG, ...), or folders of them: photos, scans, canvas exports; any size,
    /// colours, lighting or EXIF orientation. Each is prepared the way MNIST's digits were
    /// (README: "How a picture is prepared").
    #[arg(value_name = "IMAGE", required_unless_present = "index")]
    pub images: Vec<PathBuf>,

    /// Test-set images to predict, by index (0-9999); repeat or separate with commas
    /// (`--index 0,1 --index 7`; a picture after it is a picture, not an index).
    #[arg(long, value_name = "N", num_args = 1, value_delimiter = ',', action = clap::ArgAction::Append)]
    pub index: Vec<usize>,

    /// One JSON object per image instead of text.
    #[arg(long)]
    pub json: bool,

    /// Also write the 28x28 image the model received for each input into DIR, as a PNG named
    /// after it (seven.jpg: seven.png, --index 3: test-3.png); never replaces a file with
    /// another picture.
    #[arg(long, value_name = "DIR")]
    pub save_input: Option<PathBuf>,
}

/// `eval`'s flags.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// `--backend` and `--data-dir` (where the test images are read).
    #[command(flatten)]
    pub backend: BackendArgs,

    /// `--run`: the run to evaluate.
    #[command(flatten)]
    pub run: RunFolderArg,

    /// `--epoch`: a kept checkpoint's model instead of `model.bpk`.
    #[command(flatten)]
    pub epoch: EpochArg,

    /// How many of the worst mistakes misclassified.png shows.
    #[arg(long, value_name = "N", default_value_t = 36)]
    pub worst: usize,

    /// Print eval.json instead of the tables.
    #[arg(long)]
    pub json: bool,
}

/// `calibrate`'s flags.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// `--backend` and `--data-dir` (where the held-out training images are read).
    #[command(flatten)]
    pub backend: BackendArgs,

    /// `--run`: the run to calibrate.
    #[command(flatten)]
    pub run: RunFolderArg,
}

/// `report`'s flags.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// `--run`: the run whose curves are drawn.
    #[command(flatten)]
    pub run: RunFolderArg,
}
/// `export`'s flags: at least one of the formats.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("format").required(true).multiple(true).args(["safetensors", "onnx"])))]
pub struct ExportArgs {
    /// `--run`: the run whose model is exported.
    #[command(flatten)]
    pub run: RunFolderArg,

    /// `--epoch`: a kept checkpoint's model instead of `model.bpk`.
    #[command(flatten)]
    pub epoch: EpochArg,

    /// The safetensors file to write, with PyTorch's names (fc1.weight, ...) and layouts
    /// ([out, in]); a JSON file of the architecture goes beside it (model.safetensors: model.json).
    #[arg(long, value_name = "FILE")]
    pub safetensors: Option<PathBuf>,

    /// The ONNX file to write (opset 13): input pixels float32 [N, 1, 28, 28] in [0, 1],
    /// output logits [N, 10], class names in its metadata.
    #[arg(long, value_name = "FILE")]
    pub onnx: Option<PathBuf>,

    /// Replace those files if they exist.
    #[arg(long)]
    pub overwrite: bool,
}

/// `import`'s flags.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The state_dict: torch.save's .pt/.pth (either of its formats) or a .safetensors file.
    /// Layer widths are read from its shapes.
    #[arg(long, value_name = "FILE")]
    pub pytorch: PathBuf,

    /// Folder for the imported run: config.json, model.bpk, summary.json (marked imported, with
    /// the file's name and SHA-256).
    #[arg(long, value_name = "DIR", alias = "artifacts")]
    pub run: PathBuf,

    /// The activation between the layers: a state_dict does not record it.
    #[arg(long, value_name = "NAME", default_value_t = ActivationKind::Relu)]
    pub activation: ActivationKind,

    /// What the model classifies (class names; which test images eval reads).
    #[arg(long, value_name = "NAME", default_value_t = DatasetKind::Mnist)]
    pub dataset: DatasetKind,

    /// Folder with the dataset's test images (t10k-*, raw or .gz): the import is scored on
    /// them, and eval and infer --index read them from there.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Replace the --run folder if it already holds a run.
    #[arg(long)]
    pub overwrite: bool,
}

/// `serve`'s flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// `--run`: the run whose model is served.
    #[command(flatten)]
    pub run: RunFolderArg,

    /// `--epoch`: a kept checkpoint's model instead of `model.bpk`.
    #[command(flatten)]
    pub epoch: EpochArg,

    /// Where the model runs.
    #[arg(long, value_enum, default_value_t = Backend::default())]
    pub backend: Backend,

    /// Address to listen on; 0.0.0.0 lets other machines in.
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1")]
    pub host: String,

    /// Port to listen on; 0 picks a free one (printed).
    #[arg(long, value_name = "PORT", default_value_t = 8080)]
    pub port: u16,

    /// Let the page save drawings with the class you pick, into DIR/0/ to DIR/9/ by class
    /// index (the layout torchvision's ImageFolder reads), to fine-tune on later; DIR is
    /// created if missing. Never replaces a file.
    #[arg(long, value_name = "DIR")]
    pub collect: Option<PathBuf>,
}

impl Cli {
    /// Whether a closed pipe on standard output may end the command at once, as it ends `cat`:
    /// not for `serve` (a client that hangs up must not end the server) nor for training (a
    /// run stops as a stop does, its files whole, saying how to continue it).
    pub fn ends_on_a_closed_pipe(&self) -> bool {
        matches!(
            self.command,
            Some(
                Command::Infer(_)
                    | Command::Eval(_)
                    | Command::Calibrate(_)
                    | Command::Report(_)
                    | Command::Export(_)
                    | Command::Import(_)
            )
        )
    }

    /// Whether the chosen command runs on the GPU backend (wgpu).
    pub fn runs_on_gpu(&self) -> bool {
        self.backend() == Backend::Wgpu
    }

    /// The backend the chosen command runs on (`report` draws without one: the default).
    pub fn backend(&self) -> Backend {
        match &self.command {
            None => self.train.backend.backend,
            Some(Command::Train(args)) => args.backend.backend,
            Some(Command::Infer(args)) => args.backend.backend,
            Some(Command::Eval(args)) => args.backend.backend,
            Some(Command::Calibrate(args)) => args.backend.backend,
            Some(Command::Serve(args)) => args.backend,
            Some(Command::Report(_) | Command::Export(_) | Command::Import(_)) => Backend::Flex,
        }
    }
}
