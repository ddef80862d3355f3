//! `mnist-trainer [train]`: trains, then prints the test score, where the files are and, when
//! stopped, the command that continues the run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::args::TrainArgs;
use crate::run::{RunDir, RunStatus, Summary};
use crate::train::{Existing, TrainRequest, train};

pub fn run_train(args: TrainArgs) -> Result<ExitCode> {
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
    if crate::train::interrupt::pressed_while_finishing() {
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
fn resume_command(run_dir: &Path) -> String {
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

fn print_summary(summary: &Summary, run_dir: &Path) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_a_shell_would_split_or_expand_them() {
        assert_eq!(shell_quote("artifacts/run-1"), "artifacts/run-1");
        assert_eq!(shell_quote("my runs/a"), "'my runs/a'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
        assert_eq!(shell_quote(""), "''");
    }
}
