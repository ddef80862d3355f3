//! Writing a file so that a crash never leaves half of it under the real name.

use std::path::{Path, PathBuf};

/// The temporary name a file is written under before it is renamed into place.
pub fn temporary_name(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

/// Writes `contents` to a temporary file beside `path`, then renames it over `path`.
pub fn write(path: &Path, contents: impl AsRef<[u8]>) -> std::io::Result<()> {
    let temporary = temporary_name(path);
    std::fs::write(&temporary, contents)?;
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        std::fs::write(&path, "old").unwrap();
        write(&path, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(
            temporary_name(&path),
            dir.path().join("summary.json.partial")
        );
        assert!(!temporary_name(&path).exists());
    }
}
