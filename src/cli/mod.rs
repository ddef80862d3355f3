//! The command line: which command runs, with which flags. `args.rs` declares the flags,
//! `overlay.rs` turns the training flags into a config; `commands/` does the work.

pub(crate) mod args;
mod overlay;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use clap::error::{ContextKind, ContextValue, ErrorKind};

pub use args::Cli;
use args::Command;

use crate::commands;

/// Parses the command line. `--help` and `--version` print as clap prints them; a usage error
/// becomes one `error:` line (clap's take several) and exit code 2.
pub fn parse() -> Result<Cli, ExitCode> {
    Cli::try_parse().map_err(|error| match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = error.print();
            ExitCode::from(error.exit_code() as u8)
        }
        _ => {
            eprintln!("error: {}", one_line(&error));
            ExitCode::from(2)
        }
    })
}

/// A clap error as one line: an unknown choice as `--flag: unknown flag `value` (valid: ...)`,
/// anything else as clap's message without its usage and help lines.
fn one_line(error: &clap::Error) -> String {
    let context = |kind| error.get(kind);
    if let (
        Some(ContextValue::String(arg)),
        Some(ContextValue::String(value)),
        Some(ContextValue::Strings(valid)),
    ) = (
        context(ContextKind::InvalidArg),
        context(ContextKind::InvalidValue),
        context(ContextKind::ValidValue),
    ) {
        // "--activation <NAME>" names the flag "--activation", the choice "activation".
        let flag = arg.split_whitespace().next().unwrap_or(arg);
        let what = flag.trim_start_matches('-');
        return format!(
            "{flag}: unknown {what} `{value}` (valid: {})",
            valid.join(", ")
        );
    }
    let rendered = error.render().to_string();
    rendered
        .lines()
        .map(str::trim)
        .filter(|line| {
            !line.is_empty()
                && !line.starts_with("Usage:")
                && !line.starts_with("For more information")
        })
        .collect::<Vec<_>>()
        .join(" ")
        .trim_start_matches("error: ")
        .to_string()
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Some(Command::Train(args)) => commands::train::run_train(args),
        None => commands::train::run_train(cli.train),
        Some(Command::Infer(args)) => commands::infer::run_infer(args),
        Some(Command::Eval(args)) => commands::eval::run_eval(args),
        Some(Command::Report(args)) => commands::report::run_report(args),
        Some(Command::Export(args)) => commands::export::run_export(args),
        Some(Command::Import(args)) => commands::import::run_import(args),
        Some(Command::Serve(args)) => commands::serve::run_serve(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Backend;

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
        assert_eq!(
            config.optimizer.kind,
            crate::model::optimizer::OptimizerKind::Sgd
        );
        assert_eq!(config.optimizer.momentum, 0.9);
        assert!(config.model.hidden_sizes.is_empty());

        for (args, expected) in [
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
    fn usage_errors_are_one_line_and_unknown_choices_list_the_valid_ones() {
        let error = |args: &[&str]| {
            let all = std::iter::once("mnist-trainer").chain(args.iter().copied());
            one_line(&Cli::try_parse_from(all).unwrap_err())
        };
        assert_eq!(
            error(&["--activation", "swish"]),
            "--activation: unknown activation `swish` (valid: relu, sigmoid, tanh)"
        );
        assert_eq!(
            error(&["--lr-schedule", "step"]),
            "--lr-schedule: unknown lr-schedule `step` (valid: constant, cosine)"
        );
        let line = error(&["report", "--artifacts", "run", "--data-dir", "d"]);
        assert_eq!(line, "unexpected argument '--data-dir' found");
        let line = error(&["--hidden", "12x"]);
        assert!(line.contains("`12x` is not a layer size"), "{line}");
        assert!(!line.contains('\n'));
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
