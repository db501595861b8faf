//! The alerts every rule in rules/ raises on its fixture events, snapshotted per rule file
//! (adding a rule with fixtures adds its snapshot), and every fixture case must pass.

use std::path::Path;
use std::sync::OnceLock;

fn report() -> &'static sigil_driver::fixtures::TestReport {
    static R: OnceLock<sigil_driver::fixtures::TestReport> = OnceLock::new();
    R.get_or_init(|| {
        sigil_driver::fixtures::run_tests(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")])
    })
}

#[test]
fn every_fixture_case_passes() {
    let r = report();
    assert!(!r.cases.is_empty(), "no fixture cases found");
    let failed: Vec<String> = r
        .cases
        .iter()
        .filter(|c| !c.passed)
        .map(|c| {
            format!(
                "{} › {}: {:?} {}",
                c.rule,
                c.case,
                c.error,
                c.diff.join("; ")
            )
        })
        .collect();
    assert!(
        failed.is_empty(),
        "failing fixture cases:\n{}",
        failed.join("\n")
    );
}

#[test]
fn alert_snapshots() {
    insta::glob!("../rules", "**/*.tests.yml", |path| {
        let fixture = path.canonicalize().unwrap();
        let mut out = String::new();
        for c in report().cases.iter().filter(|c| {
            Path::new(&c.fixture).canonicalize().ok().as_deref() == Some(fixture.as_path())
        }) {
            out.push_str(&format!("## {} › {}\n", c.rule, c.case));
            if c.actual.is_empty() {
                out.push_str("(no alerts)\n");
            }
            for a in &c.actual {
                // The matched events are in the fixture files already; ids identify them.
                let mut a = a.clone();
                a.matched.clear();
                out.push_str(&serde_json::to_string_pretty(&a).unwrap());
                out.push('\n');
            }
        }
        assert!(!out.is_empty(), "{} has no cases", path.display());
        insta::assert_snapshot!(out);
    });
}
