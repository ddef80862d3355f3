//! Rules of the code, read from `src/`'s text:
//! - its layering: each part of `src/` (a folder or a top-level file) uses only the parts
//!   listed before it in DEVELOPERS.md's "Parts of the program and their layers", so no two
//!   parts import each other and no arrow points up (every `crate::` path, `use crate::{a,
//!   b::c}` groups included);
//! - errors print their cause once: an error either shows a cause in its message (a field
//!   named `cause`) or returns it as `source()` for the error line to print, never both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The heading of DEVELOPERS.md's section that lists the parts, lowest first.
const SECTION: &str = "## Parts of the program and their layers";

fn crate_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The parts in DEVELOPERS.md's list, lowest first: each numbered item's first `name/` or
/// `name.rs`, as a module name.
fn layers() -> Vec<String> {
    let text = std::fs::read_to_string(crate_root().join("DEVELOPERS.md")).unwrap();
    let section = text
        .split_once(SECTION)
        .unwrap_or_else(|| panic!("DEVELOPERS.md has no section {SECTION:?}"))
        .1;
    let section = section.split("\n## ").next().unwrap();
    section
        .lines()
        .filter_map(|line| {
            let (number, rest) = line.split_once(". `")?;
            number.trim().parse::<usize>().ok()?;
            let name = rest.split('`').next()?;
            let module = name
                .strip_suffix('/')
                .or_else(|| name.strip_suffix(".rs"))?;
            Some(module.to_string())
        })
        .collect()
}

/// The parts of `src/`: its folders and its files other than `lib.rs` and `main.rs`.
fn parts() -> Vec<String> {
    let mut parts: Vec<String> = std::fs::read_dir(crate_root().join("src"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.to_string();
            if path.is_dir() {
                Some(name)
            } else {
                let module = name.strip_suffix(".rs")?;
                (module != "lib" && module != "main").then(|| module.to_string())
            }
        })
        .collect();
    parts.sort();
    parts
}

/// Every `.rs` file of a part.
fn files_of(part: &str) -> Vec<PathBuf> {
    let src = crate_root().join("src");
    let file = src.join(format!("{part}.rs"));
    if file.is_file() {
        return vec![file];
    }
    let mut files = Vec::new();
    let mut folders = vec![src.join(part)];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                files.push(path);
            }
        }
    }
    files
}

/// The first segment of every path that starts with `crate::` in `text`: `crate::data::Split`
/// gives `data`, `crate::{data::Split, model}` gives `data` and `model`.
fn crate_paths(text: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        // `$crate::` in a macro is the same crate.
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item = String::new();
            let mut at_start = true;
            for character in group.chars() {
                match character {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                if depth == 1 && character == ',' {
                    at_start = true;
                } else if depth == 1 && at_start {
                    if character.is_alphanumeric() || character == '_' {
                        item.push(character);
                    } else if !item.is_empty() {
                        heads.push(std::mem::take(&mut item));
                        at_start = false;
                    }
                }
            }
            if !item.is_empty() {
                heads.push(item);
            }
        } else {
            let head: String = rest
                .chars()
                .take_while(|character| character.is_alphanumeric() || *character == '_')
                .collect();
            heads.push(head);
        }
    }
    heads
}

/// Each upward or unplaced use in `src/`, as `file: uses part (listed above it)`.
fn upward_uses(layers: &[String]) -> Vec<String> {
    let rank: BTreeMap<&str, usize> = layers
        .iter()
        .enumerate()
        .map(|(rank, part)| (part.as_str(), rank))
        .collect();
    let mut found = Vec::new();
    for part in parts() {
        let Some(&own) = rank.get(part.as_str()) else {
            continue;
        };
        for file in files_of(&part) {
            let text = std::fs::read_to_string(&file).unwrap();
            for used in crate_paths(&text) {
                // Items of lib.rs itself (the test lock) and `crate::self` are not parts.
                let Some(&other) = rank.get(used.as_str()) else {
                    continue;
                };
                if other > own {
                    let file = file.strip_prefix(crate_root()).unwrap().display();
                    found.push(format!("{file}: uses {used}, listed above {part}"));
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

#[test]
fn every_part_of_src_is_placed_in_the_layering_once() {
    let layers = layers();
    let mut listed = layers.clone();
    listed.sort();
    let mut unique = listed.clone();
    unique.dedup();
    assert_eq!(listed, unique, "a part listed twice in DEVELOPERS.md");
    assert_eq!(
        listed,
        parts(),
        "DEVELOPERS.md's layering and the parts of src/ differ"
    );
}

#[test]
fn every_part_uses_only_the_parts_listed_below_it() {
    let found = upward_uses(&layers());
    assert!(
        found.is_empty(),
        "uses that point up DEVELOPERS.md's layering (move the code, or the part):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_layering_check_sees_grouped_and_macro_paths() {
    let text = "use crate::{data::Split, model::{Model, ModelConfig}};\n\
                let x = crate::run::RunDir::new(p);\n\
                $crate::process::output::print(x)";
    assert_eq!(crate_paths(text), ["data", "model", "run", "process"]);
    // An upward use is found: the lowest part made to use the highest.
    let mut reversed = layers();
    reversed.reverse();
    assert!(!upward_uses(&reversed).is_empty());
}

/// Each error message (a thiserror `#[error(...)]`) that shows a cause it also returns as
/// `source()`: `{source}` (thiserror makes a field named `source` the source), `{0}` of a
/// `#[from]` / `#[source]` field, or `{name}` of a named field marked so. As
/// `file:line: message`.
fn causes_said_twice(file: &Path, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (at, line) in lines.iter().enumerate() {
        let Some(start) = line.find("#[error(") else {
            continue;
        };
        // The attribute may run over several lines, up to its `)]`.
        let mut attribute = line[start..].to_string();
        let mut end = at;
        while !attribute.trim_end().ends_with(")]") && end + 1 < lines.len() {
            end += 1;
            attribute.push_str(lines[end]);
        }
        if attribute.contains("transparent") {
            continue;
        }
        // The variant or struct the attribute belongs to: the lines up to the next message.
        let item_lines: Vec<&str> = lines[end + 1..]
            .iter()
            .take_while(|line| !line.contains("#[error("))
            .take(12)
            .copied()
            .collect();
        let item: String = item_lines.concat();
        let tuple_source = item.contains("#[from]") || item.contains("#[source]");
        let named_source = marked_source_fields(&item_lines)
            .iter()
            .any(|name| attribute.contains(&format!("{{{name}}}")));
        if attribute.contains("{source}")
            || (attribute.contains("{0}") && tuple_source)
            || named_source
        {
            found.push(format!(
                "{}:{}: {}",
                file.display(),
                at + 1,
                attribute.trim()
            ));
        }
    }
    found
}

/// The names of the fields of `item` marked `#[source]` or `#[from]` (on their own line or
/// before the name).
fn marked_source_fields(item: &[&str]) -> Vec<String> {
    let mut names = Vec::new();
    let mut marked = false;
    for line in item.iter().map(|line| line.trim()) {
        let rest = ["#[source]", "#[from]"]
            .iter()
            .find_map(|mark| line.strip_prefix(mark))
            .map(str::trim);
        let field = match rest {
            Some("") => {
                marked = true;
                continue;
            }
            Some(rest) => rest,
            None if marked && !line.starts_with("///") && !line.starts_with("#[") => line,
            None => continue,
        };
        marked = false;
        if let Some((name, _)) = field.split_once(':') {
            let name = name.trim().trim_start_matches("pub ").trim();
            if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                names.push(name.to_string());
            }
        }
    }
    names
}

#[test]
fn every_error_shows_its_cause_or_returns_it_never_both() {
    let mut found = Vec::new();
    for part in parts() {
        for file in files_of(&part) {
            let text = std::fs::read_to_string(&file).unwrap();
            let relative = file.strip_prefix(crate_root()).unwrap().to_path_buf();
            found.extend(causes_said_twice(&relative, &text));
        }
    }
    assert!(
        found.is_empty(),
        "errors that show a cause and also return it as source() (name the field `cause`, or \
         drop it from the message):\n{}",
        found.join("\n")
    );
    // The check sees both forms.
    let said_twice = "    #[error(\"{}: cannot read: {source}\", path.display())]\n    Read { path: PathBuf, source: io::Error },\n    #[error(\"{0}\")]\n    Burn(#[source] Arc<TrainingError>),\n    #[error(\"failed: {cause}\")]\n    Failed {\n        /// What failed.\n        #[source]\n        cause: Crash,\n    },\n";
    assert_eq!(causes_said_twice(Path::new("x.rs"), said_twice).len(), 3);
}
