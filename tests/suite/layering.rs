//! The house's floors (see `src/lib.rs`): every `crate::…` path in `src/` must lead to the
//! same top-level module or to one on a lower floor. A module that reaches up — a service
//! that asks the database, a store that asks the HTTP layer — fails here, naming the file,
//! the line and both floors; so does a new top-level module nobody placed in [`FLOORS`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Top-level modules of `src/`, top floor first. A module may use its own floor's module only
/// if it is itself (two rooms on one floor do not know each other), and any floor below.
const FLOORS: [&[&str]; 9] = [
    &["main"],
    &["cli"],
    // The HTTP API, and the settings the command line reads.
    &["http", "config"],
    // Domain rooms that keep state, and what is made for the map and the demo.
    &["tiles", "feeds", "shelters", "field", "incidents", "demo"],
    // Cases: the room the others build on (who acts, the clock).
    &["cases"],
    // Pure spatial answers: locate, place, route, nearest, around, hazmat, allocation.
    &["services"],
    // The layer store: R-trees, CRS, distances; live PostGIS layers.
    &["spatial"],
    // Layer sources, the application database, stored photos.
    &["sources", "db", "photos"],
    &["catalog"],
];

fn floor_of(module: &str) -> Option<usize> {
    FLOORS.iter().position(|floor| floor.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`src/http/cases.rs` → `http`).
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("under src/");
    let first = relative
        .components()
        .next()
        .expect("a path")
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The code of a file without its comments and without its tests (the `#[cfg(test)]` module
/// at the end may use whatever a test needs), as (line number, text).
fn code_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let code = match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        };
        if !code.trim().is_empty() {
            out.push((n + 1, code.to_string()));
        }
    }
    out
}

/// Every module a line names as `crate::module`, including `crate::{a, b::c}`.
fn crate_paths(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `gridlink_crate::…` or the like, not a path from the crate root
        }
        if let Some(group) = rest.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or("");
            for item in inner.split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

#[test]
fn paths_that_look_like_crate_paths_are_read_as_such() {
    assert_eq!(crate_paths("use crate::db::{Db, on_db};"), ["db"]);
    assert_eq!(
        crate_paths("let x = crate::services::place::place(crate::spatial::x);"),
        ["services", "spatial"]
    );
    assert_eq!(
        crate_paths("use crate::{cases, tiles::cases::LAYER};"),
        ["cases", "tiles"]
    );
    assert!(crate_paths("my_crate::http::x").is_empty());
    assert_eq!(
        code_lines("use crate::a; // crate::b\n//! crate::c\n#[cfg(test)]\nuse crate::d;"),
        [(1, "use crate::a; ".to_string())]
    );
}

#[test]
fn every_module_imports_only_from_the_floors_below_it() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut unplaced = BTreeMap::new();
    let mut upward = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        if module == "lib" {
            continue; // declares the modules, imports none
        }
        let Some(floor) = floor_of(&module) else {
            unplaced.insert(module, file.display().to_string());
            continue;
        };
        let text = std::fs::read_to_string(file).expect("readable");
        for (line, code) in code_lines(&text) {
            for target in crate_paths(&code) {
                if target == module {
                    continue;
                }
                match floor_of(&target) {
                    Some(to) if to > floor => {}
                    Some(to) => upward.push(format!(
                        "{}:{line}: {module} (floor {floor}) uses crate::{target} (floor {to}): {}",
                        file.strip_prefix(&src).unwrap_or(file).display(),
                        code.trim()
                    )),
                    None => {
                        unplaced.insert(target, file.display().to_string());
                    }
                }
            }
        }
    }
    assert!(
        unplaced.is_empty(),
        "modules on no floor (place them in FLOORS): {unplaced:?}"
    );
    assert!(
        upward.is_empty(),
        "imports that run up or across a floor:\n{}",
        upward.join("\n")
    );
}
