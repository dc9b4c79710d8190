//! The floors of the code: a module may use the ones below it, never one
//! above. `app` wires the box together and nothing uses it; `web` serves
//! the box and only `app` uses it; the subsystems sit below, and the
//! plumbing every floor shares (the supervisor, GPIO) at the bottom. This
//! test reads the sources (without their `mod tests`) and fails on any
//! `crate::<module>` use that goes up.

use std::collections::BTreeSet;
use std::path::Path;

/// Top to bottom.
const FLOORS: [&str; 19] = [
    "app",
    "web",
    "status",
    "vision",
    "store",
    "config",
    "loudspeaker",
    "codec",
    "sfu",
    "speaker",
    "events",
    "meeting",
    "director",
    "update",
    "system",
    "audio",
    "capture",
    "hw",
    "supervisor",
];

fn floor(module: &str) -> Option<usize> {
    FLOORS.iter().position(|m| *m == module)
}

/// The crate's modules a source file names (`crate::x`, `crate::{x, y}`).
fn uses(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        let names: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => group.split('}').next().unwrap_or("").split(',').collect(),
            None => vec![rest],
        };
        for name in names {
            let module: String = name.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            found.insert(module);
        }
    }
    found
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_uses_one_above_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    let mut upward = Vec::new();
    let mut unplaced = BTreeSet::new();
    for file in files {
        let relative = file.strip_prefix(root).unwrap().to_string_lossy().to_string();
        let Some(first) = relative.strip_prefix("src/").and_then(|r| r.split('/').next()) else { continue };
        let module = first.trim_end_matches(".rs");
        // The binaries and the end-to-end tests stand on top of everything.
        if ["main", "lib", "layering", "bin", "e2e"].contains(&module) {
            continue;
        }
        let Some(mine) = floor(module) else {
            unplaced.insert(module.to_string());
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        // A file's own tests (at its end, by habit) may use any fixture.
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
        for used in uses(code) {
            match floor(&used) {
                Some(theirs) if theirs < mine => {
                    upward.push(format!("{relative}: {module} uses {used}, a floor above it"))
                }
                Some(_) => {}
                None => {
                    unplaced.insert(used);
                }
            }
        }
    }
    assert!(unplaced.is_empty(), "modules with no floor in FLOORS: {unplaced:?}");
    assert!(upward.is_empty(), "{}", upward.join("\n"));
}

#[test]
fn uses_are_read_from_paths_and_groups() {
    let text = "use crate::sfu::Sfu;\nuse crate::{audio::x, capture};\nlet t = crate::system::unix_now();";
    let expected: BTreeSet<String> = ["sfu", "audio", "capture", "system"].map(String::from).into();
    assert_eq!(uses(text), expected);
}
