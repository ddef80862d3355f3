//! Which run a command reads when `--run` is left out: the newest under `artifacts/`,
//! where training puts runs by default.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::process::output::errln;
use crate::run::{ArtifactError, RunDir};

/// The folder new runs go into by default, relative to the working directory.
pub(crate) const ARTIFACTS: &str = "artifacts";

/// The run `given`, or else the newest run under [`ARTIFACTS`] (the one whose `config.json`
/// was written last), which is then named on standard error so the user knows.
///
/// # Errors
/// [`ArtifactError::NoRun`] when `given` is not a folder; [`ArtifactError::NoRuns`] when it
/// was left out and `artifacts/` holds no run.
pub(crate) fn chosen_run(given: Option<&Path>) -> Result<RunDir, ArtifactError> {
    if let Some(folder) = given {
        return RunDir::existing(folder);
    }
    let folder = newest_run(Path::new(ARTIFACTS)).ok_or_else(|| ArtifactError::NoRuns {
        path: PathBuf::from(ARTIFACTS),
    })?;
    errln!(
        "using the newest run, {} (--run DIR picks another)",
        folder.display()
    );
    RunDir::existing(folder)
}

/// A new, empty folder for a run under [`ARTIFACTS`], named after the UTC time
/// (`20261129-182730`); see [`claim_folder`] for two runs in the same second.
///
/// # Errors
/// `artifacts/` or the folder cannot be created (an I/O error other than "already exists").
pub(crate) fn new_run_folder() -> std::io::Result<PathBuf> {
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string();
    claim_folder(Path::new(ARTIFACTS), &stamp)
}

/// Creates `parent/name`, or `name-2`, `name-3`, ... when that name is taken: `create_dir`
/// claims a name atomically, so processes started together never share a folder.
fn claim_folder(parent: &Path, name: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(parent)?;
    let mut attempt = 1;
    loop {
        let folder = match attempt {
            1 => parent.join(name),
            n => parent.join(format!("{name}-{n}")),
        };
        match std::fs::create_dir(&folder) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => attempt += 1,
            made => return made.map(|()| folder),
        }
    }
}

/// The subfolder of `artifacts` holding the most recently written `config.json`.
fn newest_run(artifacts: &Path) -> Option<PathBuf> {
    let written = |folder: &Path| -> Option<SystemTime> {
        folder.join("config.json").metadata().ok()?.modified().ok()
    };
    std::fs::read_dir(artifacts)
        .ok()?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter_map(|folder| Some((written(&folder)?, folder)))
        .max()
        .map(|(_, folder)| folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_name_gets_the_next_free_number() {
        let dir = tempfile::tempdir().unwrap();
        let parent = dir.path().join("artifacts");
        let claimed: Vec<_> = (0..3)
            .map(|_| claim_folder(&parent, "t").unwrap())
            .collect();
        assert_eq!(
            claimed,
            ["t", "t-2", "t-3"].map(|name| parent.join(name)).to_vec()
        );
        assert!(claimed.iter().all(|folder| folder.is_dir()));
    }

    #[test]
    fn the_newest_run_is_the_one_whose_config_was_written_last() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(newest_run(dir.path()), None);
        for (name, age) in [("b-older", 60), ("a-newer", 0), ("c-oldest", 120)] {
            let run = dir.path().join(name);
            std::fs::create_dir(&run).unwrap();
            let config = std::fs::File::create(run.join("config.json")).unwrap();
            let when = SystemTime::now() - std::time::Duration::from_secs(age);
            config.set_modified(when).unwrap();
        }
        // A folder without a config is not a run.
        std::fs::create_dir(dir.path().join("z-empty")).unwrap();
        assert_eq!(newest_run(dir.path()), Some(dir.path().join("a-newer")));
    }
}
