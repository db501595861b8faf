//! Every rule in rules/ lowers without a diagnostic, and its canonical IR is snapshotted.
//! Adding a rule file adds its snapshot: the files are found by globbing.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")
}

/// The whole library is lowered once: correlations may name rules in other files.
fn library() -> &'static sigil_driver::CheckReport {
    static REPORT: OnceLock<sigil_driver::CheckReport> = OnceLock::new();
    REPORT.get_or_init(|| sigil_driver::check(&[rules_dir()]))
}

#[test]
fn library_has_no_diagnostics() {
    let r = library();
    let shown: Vec<String> = r
        .diagnostics
        .iter()
        .map(sigil_diagnostics::render_json)
        .collect();
    assert!(
        shown.is_empty(),
        "diagnostics in rules/:\n{}",
        shown.join("\n")
    );
    assert!(r.rules.len() >= 2, "the library lost its rules");
}

/// Names of the rules a query builds on, at any depth.
fn inputs(q: &sigil_ir::Query, out: &mut Vec<String>) {
    use sigil_ir::Query;
    let add = |i: &sigil_ir::Input, out: &mut Vec<String>| {
        out.push(i.name.clone());
        inputs(&i.query, out);
    };
    match q {
        Query::Match(_) => {}
        Query::Threshold(t) => t.inputs.iter().for_each(|i| add(i, out)),
        Query::Unordered(u) => u.inputs.iter().for_each(|i| add(i, out)),
        Query::Sequence(s) => {
            s.steps.iter().for_each(|st| add(&st.input, out));
            if let Some(u) = &s.until {
                add(u, out);
            }
        }
    }
}

#[test]
fn every_rule_has_fixtures_or_feeds_one_that_has() {
    let lib = library();
    let mut tested_through = Vec::new();
    for r in lib.rules.iter().filter(|r| r.meta.fixtures.is_some()) {
        inputs(&r.query, &mut tested_through);
    }
    for r in &lib.rules {
        let named = [&r.meta.name, &r.meta.id]
            .into_iter()
            .flatten()
            .any(|n| tested_through.contains(n));
        assert!(
            r.meta.fixtures.is_some() || named,
            "rule {:?} in {} names no fixtures and feeds no rule that does",
            r.meta.name,
            r.origin.file
        );
    }
}

#[test]
fn ir_snapshots() {
    insta::glob!("../rules", "**/*.yml", |path| {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if sigil_driver::FIXTURE_SUFFIXES
            .iter()
            .any(|s| name.ends_with(s))
        {
            return;
        }
        let file = path.display().to_string();
        let rules: Vec<String> = library()
            .rules
            .iter()
            .filter(|r| Path::new(&*r.origin.file).canonicalize().ok() == path.canonicalize().ok())
            .map(sigil_ir::print_rule)
            .collect();
        assert!(!rules.is_empty(), "{file} lowered to no rule");
        insta::assert_snapshot!(rules.join("\n"));
    });
}
