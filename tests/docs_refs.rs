//! Keeps citations honest: every `§N`/`§N.M` and every checklist `case NN`
//! (also `cases 19–22, 24`) cited in `src/`, `tests/` or `fuzz/` must exist
//! in `docs/spec.md`, as a `## N.` or `### N.M` heading or as a numbered
//! item of §18. A failure names each `file:line` and what it cites.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

const SPEC: &str = "docs/spec.md";
const SCANNED: [&str; 3] = ["src", "tests", "fuzz/src"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What `docs/spec.md` defines: section numbers (`"5"`, `"5.6"`) and the
/// conformance cases of §18.
struct Spec {
    sections: BTreeSet<String>,
    cases: BTreeSet<u32>,
}

fn read_spec(text: &str) -> Spec {
    let mut sections = BTreeSet::new();
    let mut cases = BTreeSet::new();
    let mut in_checklist = false;
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## ").or(line.strip_prefix("### ")) {
            let number: String = heading
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let number = number.trim_end_matches('.').to_string();
            in_checklist = line.starts_with("## ") && number == "18";
            if !number.is_empty() {
                sections.insert(number);
            }
        } else if in_checklist {
            let digits: String = line.chars().take_while(char::is_ascii_digit).collect();
            if !digits.is_empty() && line[digits.len()..].starts_with(". ") {
                cases.insert(digits.parse().expect("case number fits u32"));
            }
        }
    }
    Spec { sections, cases }
}

/// Every `§N[.M]` in `line`.
fn section_refs(line: &str) -> Vec<String> {
    line.match_indices('§')
        .map(|(at, sign)| {
            let rest = &line[at + sign.len()..];
            let number: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            // A sentence may end right after the number: "see §5.6."
            number.trim_end_matches('.').to_string()
        })
        .filter(|n| !n.is_empty())
        .collect()
}

/// Every case number cited in `line`: `case 17`, `Case 44`, `cases 19–22,
/// 24 and 58` (a range counts each of its ends).
fn case_refs(line: &str) -> Vec<u32> {
    let lower = line.to_ascii_lowercase();
    let mut found = Vec::new();
    for (at, word) in lower.match_indices("case") {
        let before = lower[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let mut rest = &lower[at + word.len()..];
        rest = rest.strip_prefix('s').unwrap_or(rest);
        if !rest.starts_with(' ') {
            continue;
        }
        // A list of numbers joined by ranges, commas and "and".
        loop {
            rest = rest.trim_start();
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if digits.is_empty() {
                break;
            }
            found.push(digits.parse().expect("case number fits u32"));
            rest = &rest[digits.len()..];
            let next = ["–", "-", ",", " and "]
                .iter()
                .find_map(|sep| rest.strip_prefix(sep));
            match next {
                Some(r) if r.trim_start().starts_with(|c: char| c.is_ascii_digit()) => rest = r,
                _ => break,
            }
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("readable directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `file:line: cites X` for every citation `spec` lacks in the given files.
fn dangling(spec: &Spec, files: &[PathBuf]) -> Vec<String> {
    let mut problems = Vec::new();
    for file in files {
        let text = fs::read_to_string(file).expect("readable source file");
        let shown = file.strip_prefix(root()).unwrap_or(file).display();
        for (i, line) in text.lines().enumerate() {
            for section in section_refs(line) {
                if !spec.sections.contains(&section) {
                    problems.push(format!("{shown}:{}: cites §{section}", i + 1));
                }
            }
            for case in case_refs(line) {
                if !spec.cases.contains(&case) {
                    problems.push(format!("{shown}:{}: cites case {case}", i + 1));
                }
            }
        }
    }
    problems
}

#[test]
fn every_cited_section_and_case_exists_in_the_spec() {
    let text = fs::read_to_string(root().join(SPEC)).expect("docs/spec.md exists");
    let spec = read_spec(&text);
    // The spec itself must have been read: its sections and all 59 cases.
    assert!(spec.sections.contains("18") && spec.sections.contains("5.6"));
    assert_eq!(spec.cases.len(), 59, "checklist cases: {:?}", spec.cases);
    let mut files = Vec::new();
    for dir in SCANNED {
        rust_files(&root().join(dir), &mut files);
    }
    // This file's own examples are not citations.
    files.retain(|f| !f.ends_with("tests/docs_refs.rs"));
    files.sort();
    assert!(files.len() > 20, "scanned only {} files", files.len());
    let problems = dangling(&spec, &files);
    assert!(
        problems.is_empty(),
        "citations with no target in {SPEC}:\n{}",
        problems.join("\n")
    );
}

#[test]
fn citations_are_recognised() {
    assert_eq!(section_refs("see §5.6 and §10."), ["5.6", "10"]);
    assert_eq!(section_refs("(§16 #11)"), ["16"]);
    assert_eq!(case_refs("// Case 44 (golden)"), [44]);
    assert_eq!(
        case_refs("checklist cases 19–22, 24 and 58)"),
        [19, 22, 24, 58]
    );
    assert_eq!(case_refs("(cases 43, 45–48)"), [43, 45, 48]);
    assert_eq!(
        case_refs("fn case_17_utf8() / a showcase 9 / cases"),
        Vec::<u32>::new()
    );
    let spec = read_spec("## 5. Writes\n### 5.6 Check\n## 18. List\n1. one\n12. twelve\n## 19. After\n3. not a case\n");
    assert_eq!(
        spec.sections.iter().collect::<Vec<_>>(),
        ["18", "19", "5", "5.6"]
    );
    assert_eq!(spec.cases.iter().collect::<Vec<_>>(), [&1, &12]);
    let planted = std::env::temp_dir().join(format!("docs-refs-{}.rs", std::process::id()));
    fs::write(&planted, "// ok §5.6, case 12\n// bad §5.99 and case 13\n")
        .expect("write temp file");
    let problems = dangling(&spec, std::slice::from_ref(&planted));
    let _ = fs::remove_file(&planted);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].ends_with(":2: cites §5.99"), "{problems:?}");
    assert!(problems[1].ends_with(":2: cites case 13"), "{problems:?}");
}
