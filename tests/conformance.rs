//! Conformance suite: every file in `tests/conformance/` is one case taken from the Sigma
//! 2.x specification (or one modifier / construct it defines). Each file is checked on its
//! own and its snapshot shows the canonical IR of every rule plus every diagnostic, so a
//! reviewer can compare both with the spec.
//!
//! A case must lower without error diagnostics, unless its file name starts with
//! `invalid_`: those are the spec's own invalid examples and must produce an error.

use sigil_diagnostics::Diagnostic;
use std::fmt::Write as _;
use std::path::Path;

/// The leading `#` comment of a case file: what it covers and what the IR must show.
fn header(text: &str) -> String {
    text.lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim())
        .collect::<Vec<_>>()
        .join("\n")
}

fn diagnostic_line(d: &Diagnostic) -> String {
    let at = match d.location.span {
        Some(s) => format!("{}:{}", s.start.line, s.start.col),
        None => "-".to_string(),
    };
    let path = d
        .location
        .path
        .as_deref()
        .map(|p| format!(" ({p})"))
        .unwrap_or_default();
    format!("{}[{}] {at}{path}: {}", d.severity, d.code, d.message)
}

/// The snapshot text of one case: document counts, diagnostics, then every rule's IR.
fn render(path: &Path) -> (String, usize) {
    let report = sigil_driver::check(&[path.to_path_buf()]);
    let c = report.counts;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "documents: {} rules, {} correlations, {} filters; {} lowered",
        c.rules, c.correlations, c.filters, c.lowered
    );
    if report.diagnostics.is_empty() {
        out.push_str("diagnostics: none\n");
    } else {
        out.push_str("diagnostics:\n");
        for d in &report.diagnostics {
            let _ = writeln!(out, "  {}", diagnostic_line(d));
        }
    }
    for r in &report.rules {
        out.push('\n');
        out.push_str(&sigil_ir::print_rule(r));
    }
    (out, report.errors())
}

#[test]
fn conformance() {
    // Every file is snapshotted even when an earlier one breaks the error policy; the
    // policy failures are reported together at the end.
    let mut failures = Vec::new();
    insta::glob!("conformance/*.yml", |path| {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        // Fixture files (`<case>.tests.yml`, the expected matches) are not cases themselves;
        // tests/conformance_matches.rs runs them.
        if sigil_driver::FIXTURE_SUFFIXES
            .iter()
            .any(|s| name.ends_with(s))
        {
            return;
        }
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let head = header(&text);
        if head.is_empty() {
            failures.push(format!(
                "{name}: a conformance case starts with a comment saying what it covers"
            ));
        }
        let (snapshot, errors) = render(path);
        insta::with_settings!({ description => head, omit_expression => true }, {
            insta::assert_snapshot!(snapshot);
        });
        if name.starts_with("invalid_") && errors == 0 {
            failures.push(format!(
                "{name}: an invalid case must produce an error diagnostic\n{snapshot}"
            ));
        } else if !name.starts_with("invalid_") && errors > 0 {
            failures.push(format!(
                "{name}: a conformance case must lower without errors\n{snapshot}"
            ));
        }
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
