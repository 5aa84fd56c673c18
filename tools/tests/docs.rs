//! The user-facing documents speak of the product: no issue numbers, no work-session words, in
//! the README, BENCHMARKS.md, docs/ and the test vectors' READMEs.

use std::path::{Path, PathBuf};

fn documents(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.join("README.md"), root.join("BENCHMARKS.md")];
    let mut dirs = vec![root.join("docs"), root.join("test-vectors")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("readable directory").flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "md") {
                out.push(p);
            }
        }
    }
    out
}

/// What a line says that only the project's tracker or its work sessions would: `issue 12`,
/// `#12` (but not `PKCS#8`), `this session`, `next session`.
fn tracker_words(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let lower = line.to_lowercase();
    let bytes = lower.as_bytes();
    for (i, _) in lower.match_indices('#') {
        let digit = bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        let pkcs = lower[..i].ends_with("pkcs");
        if digit && !pkcs {
            found.push(lower[i..].chars().take(8).collect());
        }
    }
    for word in ["issue ", "issues "] {
        for (i, _) in lower.match_indices(word) {
            let rest = lower[i + word.len()..].trim_start_matches('#');
            if rest.starts_with(|c: char| c.is_ascii_digit()) {
                found.push(lower[i..].chars().take(12).collect());
            }
        }
    }
    for phrase in [
        "this session",
        "next session",
        "later session",
        "work session",
        "session 1",
        "in progress",
    ] {
        if lower.contains(phrase) {
            found.push(phrase.into());
        }
    }
    found
}

#[test]
fn the_checker_catches_what_it_should() {
    assert!(!tracker_words("fixed in issue #13").is_empty());
    assert!(!tracker_words("(≤ 17 B/entry, #7)").is_empty());
    assert!(!tracker_words("measured this session").is_empty());
    assert!(tracker_words("keys as PKCS#8 / SPKI, PKCS#1 v1.5").is_empty());
    assert!(tracker_words("a dashboard session lasts 8 hours").is_empty());
}

#[test]
fn user_facing_documents_name_no_issue_or_session() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut hits = Vec::new();
    for doc in documents(&root) {
        let text = std::fs::read_to_string(&doc).expect("utf-8 document");
        for (n, line) in text.lines().enumerate() {
            for w in tracker_words(line) {
                hits.push(format!("{}:{}: {w}", doc.display(), n + 1));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "tracker words in documents:\n{}",
        hits.join("\n")
    );
}
