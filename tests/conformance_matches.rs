//! Expected matches of the conformance suite: every case file in `tests/conformance/` whose
//! meaning can be shown with events names a fixture file (`<case>.tests.yml`, or
//! `<case>.<rule>.tests.yml` for further documents of a multi-document case) whose events and
//! expected alerts were written by hand from the Sigma specification (and, for Sigil's
//! extensions, docs/dsl.md and docs/semantics.md). Each case file is run on its own, as the
//! IR snapshots check it, so names and filters of one case never reach another.

use sigil_driver::fixtures::{CaseResult, TestReport, run_tests};
use std::path::{Path, PathBuf};

fn case_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/conformance exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            n.ends_with(".yml")
                && !sigil_driver::FIXTURE_SUFFIXES
                    .iter()
                    .any(|s| n.ends_with(s))
        })
        .collect();
    files.sort();
    files
}

/// Every case of every conformance file, each file checked and run on its own.
fn reports() -> Vec<(String, TestReport)> {
    case_files()
        .into_iter()
        .map(|f| {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            (name, run_tests(&[f]))
        })
        .collect()
}

fn describe(file: &str, c: &CaseResult) -> String {
    format!(
        "{file} › {} › {}: {}{}",
        c.rule,
        c.case,
        c.error.as_deref().unwrap_or(""),
        c.diff.join("; ")
    )
}

#[test]
fn conformance_expected_matches() {
    let mut failed = Vec::new();
    let mut cases = 0;
    let mut files_with_fixtures = 0;
    for (file, r) in reports() {
        if r.fixture_files > 0 {
            files_with_fixtures += 1;
        }
        for c in &r.cases {
            cases += 1;
            if !c.passed {
                failed.push(describe(&file, c));
            }
        }
    }
    assert!(
        files_with_fixtures >= 100,
        "only {files_with_fixtures} case files have fixtures"
    );
    assert!(cases > 0);
    assert!(
        failed.is_empty(),
        "{} of {cases} conformance cases fail:\n{}",
        failed.len(),
        failed.join("\n")
    );
}
