//! Reading the files a run leaves, and telling what changed in a folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

/// A run's metrics lines without their seconds (the epoch's and its training split's), which
/// differ run to run.
pub fn epochs_without_seconds(metrics: &Path) -> Vec<serde_json::Value> {
    read_jsonl(metrics)
        .into_iter()
        .map(|mut epoch| {
            let fields = epoch.as_object_mut().unwrap();
            fields.remove("seconds");
            fields.remove("train_seconds");
            epoch
        })
        .collect()
}

/// Every file under `dir` (recursively), relative to it.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                files.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files);
    files.sort();
    files
}

/// What a file is: its size, content hash and modification time.
#[derive(Debug, PartialEq)]
pub struct Print {
    size: u64,
    sha256: Vec<u8>,
    modified: SystemTime,
}

/// Every file under `dir` with its [`Print`].
pub fn fingerprint(dir: &Path) -> BTreeMap<PathBuf, Print> {
    use sha2::Digest;
    let mut prints = BTreeMap::new();
    for relative in files_under(dir) {
        let path = dir.join(&relative);
        let meta = std::fs::metadata(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        prints.insert(
            relative,
            Print {
                size: meta.len(),
                sha256: sha2::Sha256::digest(&bytes).to_vec(),
                modified: meta.modified().unwrap(),
            },
        );
    }
    prints
}

/// The differences between two fingerprints, one line each.
pub fn changes(before: &BTreeMap<PathBuf, Print>, after: &BTreeMap<PathBuf, Print>) -> Vec<String> {
    let mut changes = Vec::new();
    for (path, print) in before {
        match after.get(path) {
            None => changes.push(format!("{} deleted", path.display())),
            Some(now) if now != print => {
                changes.push(format!("{} changed: {print:?} -> {now:?}", path.display()))
            }
            Some(_) => {}
        }
    }
    for path in after.keys().filter(|path| !before.contains_key(*path)) {
        changes.push(format!("{} created", path.display()));
    }
    changes
}
