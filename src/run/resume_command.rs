//! The command that continues a run, as printed for the user to type.

use std::path::Path;

use crate::backend::Backend;

/// The command that resumes `run_dir` on `backend`, as it can be typed in this shell: this
/// program as it was started (a bare name found on the PATH, or the path `cargo run` used), the
/// folder, and `--backend` unless it is the default (a resume may change backend, so the
/// printed command must say the one the run used).
pub(crate) fn resume_command(run_dir: &Path, backend: Backend) -> String {
    let program = std::env::args_os()
        .next()
        .map(|arg| arg.to_string_lossy().into_owned())
        .unwrap_or_else(|| "mnist-trainer".to_string());
    let mut words = vec![
        program,
        "--resume".to_string(),
        run_dir.display().to_string(),
    ];
    if backend != Backend::default() {
        words.extend(["--backend".to_string(), backend.to_string()]);
    }
    words
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backend_is_named_unless_it_is_the_default() {
        let run = Path::new("artifacts/run");
        assert!(resume_command(run, Backend::Flex).ends_with(" --resume artifacts/run"));
        assert!(
            resume_command(run, Backend::Ndarray)
                .ends_with(" --resume artifacts/run --backend ndarray")
        );
    }

    #[test]
    fn words_are_quoted_only_when_a_shell_would_split_or_expand_them() {
        assert_eq!(shell_quote("artifacts/run-1"), "artifacts/run-1");
        assert_eq!(shell_quote("my runs/a"), "'my runs/a'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
        assert_eq!(shell_quote(""), "''");
    }
}
