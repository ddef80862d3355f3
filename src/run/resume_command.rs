//! The command that continues a run, as printed for the user to type.

use std::path::Path;

/// The command that resumes `run_dir`, as it can be typed in this shell: this program as it
/// was started (a bare name found on the PATH, or the path `cargo run` used) and the folder.
pub(crate) fn resume_command(run_dir: &Path) -> String {
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
