//! The library's dependency rule, checked on its source: the binaries sit on
//! `control`, `capture` and `catalog`, which sit on the shared modules below
//! them (`dsp`, `protocol`, `config`, `notes`, the session log's format, the
//! file formats and plumbing); nothing below reaches up, `control` and
//! `capture` share only the protocol and never name each other, and `dsp`
//! does no I/O. Test code is left out: a test may build what it needs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Modules that serve the daemons and the tool, never the other way round.
const UPPER: &[&str] = &["control", "capture", "catalog", "cli", "fuzz"];

/// What signal code must not touch: files, sockets, processes, the runtime.
const IO: &[&str] = &[
    "std::fs",
    "std::net",
    "std::process",
    "std::io",
    "tokio",
    "hyper",
    "File::",
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text of `src` without comments and without `#[cfg(test)]` items.
fn code(src: &str) -> String {
    let mut text: String = src
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    while let Some(at) = text.find("#[cfg(test)]") {
        let rest = &text[at..];
        // The item ends at its `;`, or at the brace closing its first `{`.
        let end = match (rest.find('{'), rest.find(';')) {
            (Some(open), semi) if semi.is_none_or(|s| open < s) => {
                let mut depth = 0usize;
                let mut end = rest.len();
                for (i, c) in rest.char_indices().skip(open) {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = i + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            (_, Some(semi)) => semi + 1,
            _ => rest.len(),
        };
        text.replace_range(at..at + end, "");
    }
    text
}

/// `src/<module>/...` or `src/<module>.rs`: the top-level module a file is in.
fn module_of(root: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(root).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The top-level modules `text` names through `crate::`.
fn named(text: &str) -> BTreeSet<String> {
    text.match_indices("crate::")
        .map(|(i, _)| {
            text[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn dependencies_point_down_control_and_capture_stay_apart_and_dsp_does_no_io() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    files.retain(|f| !f.starts_with(root.join("bin")));
    assert!(files.len() > 50, "the library's sources under {root:?}");
    let mut wrong = Vec::new();
    for file in &files {
        let module = module_of(&root, file);
        let text = code(&std::fs::read_to_string(file).unwrap());
        for other in named(&text) {
            let up = UPPER.contains(&other.as_str());
            let why = if module == other || module == "lib" {
                None
            } else if !UPPER.contains(&module.as_str()) && up {
                Some("reaches up to")
            } else if matches!(
                (module.as_str(), other.as_str()),
                ("control", "capture") | ("capture", "control")
            ) {
                Some("names the other daemon,")
            } else if module == "dsp" {
                Some("is signal code and names")
            } else {
                None
            };
            if let Some(why) = why {
                wrong.push(format!("{}: {module} {why} {other}", file.display()));
            }
        }
        if module == "dsp" {
            for io in IO.iter().filter(|io| text.contains(*io)) {
                wrong.push(format!("{}: dsp does I/O ({io})", file.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_checker_sees_a_violation_and_skips_test_code() {
    let text = code(
        "use crate::dsp::Level; // crate::control in a comment\n\
         fn f() { crate::capture::go(); }\n\
         #[cfg(test)]\nmod tests { use crate::control::Cycle; fn g() { if x { y } } }\n\
         #[cfg(test)]\nuse crate::catalog::X;\n\
         fn h() {}\n",
    );
    let names: Vec<String> = named(&text).into_iter().collect();
    assert_eq!(names, ["capture", "dsp"]);
    assert!(text.contains("fn h()"), "{text}");
}
