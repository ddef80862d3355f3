//! Which run a command reads when `--artifacts` is left out: the newest under `artifacts/`,
//! where training puts runs by default.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

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
    eprintln!(
        "using the newest run, {} (--artifacts DIR picks another)",
        folder.display()
    );
    RunDir::existing(folder)
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
