//! The command that continues a run, as printed for the user to type.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::backend::Backend;

/// The command that resumes `run_dir` on `backend`, as it can be typed in this shell: this
/// program as it was started (`cargo run --release --` when cargo ran it, a bare name found on
/// the PATH, or the path it was started by), the folder, and `--backend` unless it is the
/// default (a resume may change backend, so the printed command must say the one the run used).
pub(crate) fn resume_command(run_dir: &Path, backend: Backend) -> String {
    let program = std::env::args_os()
        .next()
        .unwrap_or_else(|| OsString::from("mnist-trainer"));
    let started_by = std::env::var_os("CARGO").map(|_| CargoRun {
        package: std::env::var_os("CARGO_PKG_NAME").unwrap_or_default(),
        manifest_dir: std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default(),
    });
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut words = match started_by.and_then(|cargo| cargo.words(Path::new(&program), &cwd)) {
        Some(cargo_run) => cargo_run,
        None => vec![program],
    };
    words.extend([OsString::from("--resume"), folder_word(run_dir)]);
    if backend != Backend::default() {
        words.extend([
            OsString::from("--backend"),
            OsString::from(backend.to_string()),
        ]);
    }
    words
        .iter()
        .map(|word| shell_word(word))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The folder as a word the command line reads as a value: `./-run` for a relative `-run`,
/// which `--resume -run` would read as a flag.
fn folder_word(run_dir: &Path) -> OsString {
    if run_dir.as_os_str().as_bytes().starts_with(b"-") {
        Path::new(".").join(run_dir).into_os_string()
    } else {
        run_dir.as_os_str().to_owned()
    }
}

/// What cargo tells a program it runs (`cargo run`): it sets `CARGO`, `CARGO_PKG_NAME` and
/// `CARGO_MANIFEST_DIR` in its environment. A test run by cargo passes them on to what it
/// starts, so they alone do not say that a person typed `cargo run`.
struct CargoRun {
    /// `CARGO_PKG_NAME`: the package whose binary cargo ran.
    package: OsString,
    /// `CARGO_MANIFEST_DIR`: the package's folder.
    manifest_dir: OsString,
}

impl CargoRun {
    /// `cargo run [--release | --profile P] --` when `program` is this package's binary, as
    /// cargo builds it (`<target>/<profile>/<package>`), and `cwd` is inside the package's
    /// folder, where that command finds the package again; `None` otherwise.
    fn words(&self, program: &Path, cwd: &Path) -> Option<Vec<OsString>> {
        let in_package = !self.manifest_dir.is_empty() && cwd.starts_with(&self.manifest_dir);
        if !in_package || program.file_name()? != self.package {
            return None;
        }
        let mut words: Vec<OsString> = vec!["cargo".into(), "run".into()];
        match program.parent()?.file_name()?.to_str()? {
            "release" => words.push("--release".into()),
            "debug" => {}
            profile => words.extend(["--profile".into(), profile.into()]),
        }
        words.push("--".into());
        Some(words)
    }
}

/// `word` as a shell reads it back: [`shell_quote`] for UTF-8, and for other bytes (a folder
/// named in Latin-1, say) ANSI-C quoting, `$'L\xe4ufe'`, which bash, zsh, ksh and POSIX.1-2024
/// shells read back as the same bytes.
fn shell_word(word: &OsStr) -> String {
    if let Some(text) = word.to_str() {
        return shell_quote(text);
    }
    let mut quoted = String::from("$'");
    for &byte in word.as_bytes() {
        match byte {
            b'\\' | b'\'' => {
                quoted.push('\\');
                quoted.push(char::from(byte));
            }
            b' '..=b'~' => quoted.push(char::from(byte)),
            _ => quoted.push_str(&format!("\\x{byte:02x}")),
        }
    }
    quoted.push('\'');
    quoted
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
    fn a_folder_that_looks_like_a_flag_is_given_as_a_path() {
        assert!(resume_command(Path::new("-dash"), Backend::Flex).ends_with(" --resume ./-dash"));
        assert!(resume_command(Path::new("a/-b"), Backend::Flex).ends_with(" --resume a/-b"));
    }

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

    #[test]
    fn a_program_cargo_ran_in_its_package_is_resumed_with_cargo_run() {
        let cargo = CargoRun {
            package: "mnist-trainer".into(),
            manifest_dir: "/home/me/mnist-trainer".into(),
        };
        let words = |program: &str, cwd: &str| {
            cargo
                .words(Path::new(program), Path::new(cwd))
                .map(|words| words.join(OsStr::new(" ")))
        };
        let release = "/home/me/.cache/target/release/mnist-trainer";
        assert_eq!(
            words(release, "/home/me/mnist-trainer"),
            Some("cargo run --release --".into())
        );
        assert_eq!(
            words("target/debug/mnist-trainer", "/home/me/mnist-trainer/docs"),
            Some("cargo run --".into())
        );
        assert_eq!(
            words("target/bench/mnist-trainer", "/home/me/mnist-trainer"),
            Some("cargo run --profile bench --".into())
        );
        // A test's sandbox, outside the package, and another program: the path as started.
        assert_eq!(words(release, "/tmp/sandbox"), None);
        assert_eq!(words("/usr/bin/other", "/home/me/mnist-trainer"), None);
    }

    #[test]
    fn bytes_that_are_not_utf8_are_quoted_so_a_shell_gives_them_back() {
        let latin1 = OsStr::from_bytes(b"L\xe4ufe/it's a\\run");
        let quoted = shell_word(latin1);
        assert_eq!(quoted, r"$'L\xe4ufe/it\'s a\\run'");
        let echoed = std::process::Command::new("bash")
            .args(["-c", &format!("printf %s {quoted}")])
            .output()
            .unwrap();
        assert_eq!(echoed.stdout, latin1.as_bytes());
        assert_eq!(shell_word(OsStr::new("my runs/a")), "'my runs/a'");
    }
}
