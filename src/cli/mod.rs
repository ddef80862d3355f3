//! The command line: which command runs, with which flags. `args.rs` declares the commands,
//! `training_flags.rs` the training flags, `resolve.rs` turns them into a config; `commands/`
//! runs them.

pub(crate) mod args;
mod resolve;
mod training_flags;

use std::process::ExitCode;

use anyhow::Result;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, FromArgMatches};

pub use args::{Cli, Command};

use crate::config::TrainingConfig;
use crate::process::output::errln;

/// Parses the command line. `--help` and `--version` print as clap prints them (into a closed
/// pipe, quietly); a usage error becomes one `error:` line (clap's take several) and exit code 2.
///
/// # Errors
/// The exit code to end with when there is nothing to run: clap's after help or the version
/// was printed (0 for `--help`, `--version`), 2 after a usage error.
pub fn parse() -> Result<Cli, ExitCode> {
    command()
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches))
        .map_err(|error| match error.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => match error.print() {
                Ok(()) => ExitCode::from(error.exit_code() as u8),
                // A reader that stopped reading (`--help | head`) wanted no more: end quietly,
                // as the commands do (`restore_default_sigpipe` in main.rs).
                Err(failed) if failed.kind() == std::io::ErrorKind::BrokenPipe => {
                    ExitCode::from(error.exit_code() as u8)
                }
                Err(failed) => {
                    errln!("error: cannot write to standard output: {failed}");
                    ExitCode::FAILURE
                }
            },
            _ => {
                errln!("error: {}", one_line(&error));
                ExitCode::from(2)
            }
        })
}

/// The command line as clap reads it: the derived one, with the tutorial's defaults in `--help`
/// and choices read whatever their case (`--model CNN`).
fn command() -> clap::Command {
    // "-1" is a value to refuse as such: clap's own advice for it, "use '-- -1'", does not work.
    let as_meant = |command: clap::Command| {
        command.mut_args(|arg| arg.ignore_case(true).allow_negative_numbers(true))
    };
    as_meant(with_defaults_in_help(Cli::command())).mut_subcommands(as_meant)
}

/// `--help` with each training flag's default, read from the tutorial's config: the flags
/// themselves default to "not given", so that a `--config` file's value stands.
fn with_defaults_in_help(command: clap::Command) -> clap::Command {
    let defaults = serde_json::to_value(TrainingConfig::tutorial()).expect("a config serializes");
    let add = |command: clap::Command| {
        training_flags::flag_fields()
            .into_iter()
            .fold(command, |command, (id, field)| {
                let value = field.split('.').fold(&defaults, |value, key| &value[key]);
                let shown = match value {
                    serde_json::Value::Null => "none".to_string(),
                    serde_json::Value::String(text) => text.clone(),
                    serde_json::Value::Array(items) => {
                        let items: Vec<String> = items.iter().map(ToString::to_string).collect();
                        items.join(",")
                    }
                    other => other.to_string(),
                };
                command.mut_arg(id, |arg| {
                    let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                    // A field's doc ends its sentence; clap's own help lines do not.
                    let help = help.trim_end_matches('.');
                    arg.help(format!("{help} [default: {shown}]"))
                })
            })
    };
    add(command).mut_subcommand("train", add)
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
    ) && !valid.is_empty()
    {
        // "--activation <NAME>" names the flag "--activation", the choice "activation".
        let flag = arg.split_whitespace().next().unwrap_or(arg);
        let what = flag.trim_start_matches('-');
        return format!(
            "{flag}: unknown {what} `{value}` (valid: {})",
            valid.join(", ")
        );
    }
    let rendered = error.render().to_string();
    // The message, up to the usage lines (which may run over several lines).
    rendered
        .lines()
        .map(str::trim)
        .take_while(|line| !line.starts_with("Usage:"))
        .filter(|line| !line.is_empty() && !line.starts_with("For more information"))
        .collect::<Vec<_>>()
        .join(" ")
        .trim_start_matches("error: ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::backend::Backend;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("mnist-trainer").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn choices_are_read_whatever_their_case() {
        let matches = command()
            .try_get_matches_from(["mnist-trainer", "--model", "CNN", "--activation", "Tanh"])
            .unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        assert_eq!(cli.train.flags.model, Some(crate::model::ModelKind::Cnn));
        let matches = command()
            .try_get_matches_from([
                "mnist-trainer",
                "infer",
                "--backend",
                "Flex",
                "--index",
                "0",
            ])
            .unwrap();
        assert!(Cli::from_arg_matches(&matches).is_ok());
    }

    #[test]
    fn help_shows_the_tutorials_defaults() {
        let help = with_defaults_in_help(Cli::command())
            .render_help()
            .to_string();
        for shown in [
            "[default: 5]",
            "[default: 64]",
            "[default: 0.001]",
            "[default: 128]",
        ] {
            assert!(help.contains(shown), "{shown} missing from {help}");
        }
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
        assert_eq!(cli.train.flags.epochs, Some(2));
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
                "--momentum: optimizer.momentum = -0.5 is invalid: must be in [0, 1)",
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
        let line = error(&["report", "--run", "run", "--data-dir", "d"]);
        assert_eq!(line, "unexpected argument '--data-dir' found");
        let line = error(&["--seed", "-1"]);
        assert!(!line.contains("<COMMAND>"), "no usage glued on: {line}");
        let line = error(&["--hidden", "12x"]);
        assert!(line.contains("`12x` is not a layer size"), "{line}");
        assert!(!line.contains('\n'));
    }

    #[test]
    fn infer_takes_images_or_indices_but_not_nothing() {
        let cli = parse(&["infer", "--run", "a/run", "--index", "3,4", "--index", "9"]);
        let Some(Command::Infer(args)) = cli.command else {
            panic!("not infer")
        };
        assert_eq!(args.index, vec![3, 4, 9]);
        let cli = parse(&["infer", "--run", "a/run", "one.png", "two.jpg"]);
        let Some(Command::Infer(args)) = cli.command else {
            panic!("not infer")
        };
        assert_eq!(args.images.len(), 2);
        assert!(Cli::try_parse_from(["mnist-trainer", "infer", "--run", "a/run"]).is_err());
    }

    #[test]
    fn the_old_artifacts_flag_still_names_the_run() {
        for command in [
            &["eval"][..],
            &["report"],
            &["export", "--onnx", "m.onnx"],
            &["serve"],
        ] {
            let args = [command, &["--artifacts", "a/run"]].concat();
            let cli = parse(&args);
            let command = command[0];
            let folder = match cli.command {
                Some(Command::Eval(args)) => args.run.folder,
                Some(Command::Report(args)) => args.run.folder,
                Some(Command::Export(args)) => args.run.folder,
                Some(Command::Serve(args)) => args.run.folder,
                _ => panic!("not {command}"),
            };
            assert_eq!(
                folder.as_deref(),
                Some(std::path::Path::new("a/run")),
                "{command}"
            );
        }
        let cli = parse(&["--artifacts", "a/run"]);
        assert_eq!(
            cli.train.run.as_deref(),
            Some(std::path::Path::new("a/run"))
        );
    }
}
