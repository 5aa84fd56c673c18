//! The error codes of the native API and their table in `docs/server.md` are the same list.

use licet_api::error::ErrorCode;

/// The codes in the "Errors" section's table: every backticked word in its code column.
fn documented() -> Vec<String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/server.md"))
        .expect("docs/server.md");
    let section = doc
        .split("\n## Errors\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("an Errors section");
    let mut codes = Vec::new();
    for row in section.lines().filter(|l| l.starts_with("| ")) {
        let Some(cell) = row.split('|').nth(2) else {
            continue;
        };
        codes.extend(cell.split('`').skip(1).step_by(2).map(str::to_owned));
    }
    codes
}

#[test]
fn every_error_code_is_documented_and_every_documented_code_is_one() {
    let documented = documented();
    assert!(documented.len() > 40, "the table was read: {documented:?}");
    for c in ErrorCode::ALL {
        assert!(
            documented.iter().any(|d| d == c.as_str()),
            "{c} is not in docs/server.md's Errors table"
        );
    }
    for d in &documented {
        assert!(
            ErrorCode::from_code(d).is_some(),
            "docs/server.md's Errors table names {d}, which is no ErrorCode"
        );
    }
}

#[test]
fn each_code_is_documented_with_its_usual_status() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/server.md"))
        .expect("docs/server.md");
    for c in ErrorCode::ALL {
        let needle = format!("`{}`", c.as_str());
        let statuses: Vec<u16> = doc
            .split("\n## Errors\n")
            .nth(1)
            .into_iter()
            .flat_map(str::lines)
            .filter(|l| l.starts_with("| ") && l.contains(&needle))
            .filter_map(|l| l.split('|').nth(1)?.trim().parse().ok())
            .collect();
        assert!(
            statuses.contains(&c.status()),
            "{c}: documented with {statuses:?}, usually {}",
            c.status()
        );
    }
}
