//! Error suite: every file in `tests/errors/` is one realistic mistake, named
//! `<code>_<what>.yml`. Each is checked on its own; the snapshot holds every diagnostic
//! rendered for humans (with the source snippet) and as JSON, so a reviewer can judge the
//! message, the position and the hint. The code in the file name must be reported, and so
//! must every code listed on an optional `# expect: S108 S203 ...` header line.
//!
//! Rules that lower are also compiled with no placeholder values, as `sigil` would without
//! a placeholder file, so the suite covers S601 as well.

use sigil_diagnostics::{Code, Diagnostic, render_human, render_json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// Codes covered by a named test of this file rather than by a file in `tests/errors/`.
const COVERED_BY_TESTS: &[(&str, &str)] = &[("S001", "missing_path_gives_io_error")];

/// Longest a single check may take before the suite calls it a hang.
const TIME_LIMIT: Duration = Duration::from_secs(60);

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The path relative to the package root, so snapshots do not depend on the checkout.
fn relative(path: &Path) -> PathBuf {
    path.strip_prefix(manifest_dir())
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

/// The codes a case file must produce: its name's prefix and its `# expect:` line.
fn expected_codes(path: &Path) -> Vec<String> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let mut codes = vec![name.split('_').next().unwrap_or("").to_string()];
    let text = std::fs::read_to_string(path).unwrap_or_default();
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        if let Some(rest) = line.trim_start_matches('#').trim().strip_prefix("expect:") {
            codes.extend(rest.split_whitespace().map(str::to_string));
        }
    }
    codes
}

/// Checks paths the way `sigil check` does, then compiles every lowered rule with no
/// placeholder values. Runs on a worker thread so a hang fails the test instead of
/// stalling the suite.
fn check(paths: Vec<PathBuf>) -> (sigil_driver::CheckReport, Vec<Diagnostic>) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut report = sigil_driver::check(&paths);
        let mut diags = report.diagnostics.clone();
        compile_codes(&paths, &mut report, &mut diags);
        let none = sigil_lower::PlaceholderValues::new();
        for r in &report.rules {
            if let Err(mut e) = sigil_lower::resolve_placeholders(r, &none) {
                diags.append(&mut e);
            }
        }
        let _ = tx.send((report, diags));
    });
    rx.recv_timeout(TIME_LIMIT)
        .expect("checking took too long or panicked")
}

/// Cases named `S70x_…` are about compiling: `S701_…` files are mapping files layered over
/// the built-in KQL mapping; the others are rule files compiled for every target with
/// `--strict` (S702/S703 with the default mappings, S704/S705 with pass-through names so
/// mapping cannot fail first).
fn compile_codes(
    paths: &[PathBuf],
    report: &mut sigil_driver::CheckReport,
    diags: &mut Vec<Diagnostic>,
) {
    let Some(path) = paths.first() else { return };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.starts_with("S701") {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let file = path.display().to_string();
        report
            .sources
            .insert(file.clone().into(), text.clone().into());
        let mut m = sigil_backend::Mapping::builtin("kql", sigil_backend::Profile::Default)
            .expect("built-in mapping");
        // The mapping file is not a rule: drop what checking it as one reported.
        diags.clear();
        if let Err(e) = m.layer(&file, &text) {
            diags.push(e.to_diagnostic());
        }
        return;
    }
    if !name.starts_with("S70") {
        return;
    }
    let opts = sigil_driver::compile::CompileOptions {
        profile: if name.starts_with("S704") || name.starts_with("S705") {
            sigil_backend::Profile::Passthrough
        } else {
            sigil_backend::Profile::Default
        },
        strict: true,
        ..Default::default()
    };
    let rep = sigil_driver::compile::compile(paths, &opts);
    for o in &rep.outputs {
        if let Err(e) = &o.result {
            for d in e {
                if !diags.contains(d) {
                    diags.push(d.clone());
                }
            }
        }
    }
}

/// Every diagnostic in human form with its snippet, followed by its JSON line.
fn render(report: &sigil_driver::CheckReport, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        let src = report.sources.get(&d.location.file).map(|s| &**s);
        out.push_str(&render_human(d, src));
        out.push_str(&render_json(d));
        out.push_str("\n\n");
    }
    if out.is_empty() {
        out.push_str("no diagnostics\n");
    }
    out
}

#[test]
fn error_cases() {
    insta::glob!("errors/*.yml", |path| {
        let rel = relative(path);
        let (report, diags) = check(vec![rel.clone()]);
        let found: BTreeSet<&str> = diags.iter().map(|d| d.code.as_str()).collect();
        for want in expected_codes(path) {
            assert!(
                found.contains(want.as_str()),
                "{}: expected {want}, got {found:?}",
                rel.display()
            );
        }
        for d in &diags {
            assert!(!d.message.is_empty(), "{}: empty message", rel.display());
            // Only whole-file problems (I/O, the YAML alias limit) may lack a position.
            if !matches!(d.code, Code::Io | Code::YamlLimit) {
                let span = d.location.span.unwrap_or_else(|| {
                    panic!(
                        "{}: {} has no position: {}",
                        rel.display(),
                        d.code,
                        d.message
                    )
                });
                assert!(span.start.line >= 1 && span.start.col >= 1, "{d:?}");
            }
            let json: serde_json::Value =
                serde_json::from_str(&render_json(d)).expect("render_json gives JSON");
            assert_eq!(json["code"], d.code.as_str());
            assert_eq!(json["name"], d.code.slug());
        }
        insta::assert_snapshot!(render(&report, &diags));
    });
}

/// Every code is produced by at least one case file, or by a named test.
#[test]
fn every_code_has_a_case() {
    let dir = manifest_dir().join("tests/errors");
    let mut covered: BTreeSet<String> = COVERED_BY_TESTS
        .iter()
        .map(|(c, _)| c.to_string())
        .collect();
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).expect("tests/errors exists") {
        let path = entry.expect("readable entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yml") {
            continue;
        }
        files += 1;
        let text = std::fs::read_to_string(&path).expect("readable case");
        assert!(
            text.starts_with('#'),
            "{} must start with a comment saying what is wrong",
            path.display()
        );
        covered.extend(expected_codes(&path));
    }
    assert!(files >= 35, "only {files} error cases");
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !covered.contains(*c))
        .collect();
    assert!(
        missing.is_empty(),
        "codes without an error case: {missing:?}"
    );
    let known: BTreeSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    for c in &covered {
        assert!(known.contains(c.as_str()), "case names unknown code {c}");
    }
}

#[test]
fn missing_path_gives_io_error() {
    let missing = PathBuf::from("tests/errors/no-such-rule.yml");
    let (report, diags) = check(vec![missing]);
    assert!(report.io_error, "a missing path is an I/O error (exit 2)");
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].code, Code::Io);
    assert_eq!(&*diags[0].location.file, "tests/errors/no-such-rule.yml");
    assert!(diags[0].message.contains("no-such-rule.yml"), "{diags:?}");
}

#[test]
fn placeholders_are_resolved_only_at_compile_time() {
    let path = PathBuf::from("tests/errors/S601_unresolved_placeholder.yml");
    let report = sigil_driver::check(std::slice::from_ref(&path));
    assert_eq!(report.errors(), 0, "{:?}", report.diagnostics);
    let rule = &report.rules[0];
    assert!(sigil_lower::has_placeholders(rule));
    let errs = sigil_lower::resolve_placeholders(rule, &Default::default()).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].code, Code::UnresolvedPlaceholder);
    assert!(
        errs[0].message.contains("%admin_hosts%"),
        "{}",
        errs[0].message
    );
    let at = errs[0].location.span.expect("placeholder has a position");
    assert_eq!((at.start.line, at.start.col), (10, 29));
    // With a value the same rule compiles.
    let values: sigil_lower::PlaceholderValues =
        [("admin_hosts".to_string(), vec!["ADM-*".to_string()])].into();
    assert!(sigil_lower::resolve_placeholders(rule, &values).is_ok());
}

/// Writes a generated rule into the test's scratch folder.
fn scratch(name: &str, text: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("errors");
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let p = dir.join(name);
    std::fs::write(&p, text).expect("scratch file");
    p
}

fn rule_with_condition(cond: &str) -> String {
    format!(
        "title: Deep\nlogsource:\n  product: windows\ndetection:\n  selection:\n    EventID: 1\n  condition: '{cond}'\n"
    )
}

/// Every error is `code`; warnings (such as the now unused `selection`) may accompany it.
fn only_error(diags: &[Diagnostic], code: Code) {
    let errors: Vec<&Diagnostic> = diags.iter().filter(|d| d.is_error()).collect();
    assert!(!errors.is_empty(), "no error reported");
    for d in errors {
        assert_eq!(d.code, code, "{}", d.message);
        assert!(d.location.span.is_some(), "{d:?}");
    }
}

#[test]
fn ten_thousand_nested_parentheses_are_refused_cleanly() {
    let n = 10_000;
    let cond = format!("{}selection{}", "(".repeat(n), ")".repeat(n));
    let (_, diags) = check(vec![scratch("parens.yml", &rule_with_condition(&cond))]);
    only_error(&diags, Code::TooDeep);
}

#[test]
fn ten_thousand_nots_are_refused_cleanly() {
    let cond = format!("{}selection", "not ".repeat(10_000));
    let (_, diags) = check(vec![scratch("nots.yml", &rule_with_condition(&cond))]);
    only_error(&diags, Code::TooDeep);
}

#[test]
fn ten_thousand_nested_aggregate_parentheses_are_refused_cleanly() {
    let n = 10_000;
    let text = format!(
        "title: Base\nname: base\nlogsource:\n  product: aws\ndetection:\n  selection:\n    eventName: x\n  condition: selection\n---\ntitle: Deep\ncorrelation:\n  type: threshold\n  rules: [base]\n  timespan: 5m\n  condition: '{}count() > 1{}'\n",
        "(".repeat(n),
        ")".repeat(n)
    );
    let (_, diags) = check(vec![scratch("agg.yml", &text)]);
    only_error(&diags, Code::TooDeep);
}

#[test]
fn alias_bomb_is_refused_cleanly() {
    // Twelve levels of ten aliases each would expand to 10^12 strings.
    let mut text = String::from(
        "title: Bomb\nlogsource:\n  product: windows\ndetection:\n  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for i in 1..12 {
        let refs = vec![format!("*l{}", i - 1); 10].join(", ");
        text.push_str(&format!("  l{i}: &l{i} [{refs}]\n"));
    }
    text.push_str("  selection:\n    CommandLine: *l11\n  condition: selection\n");
    let (report, diags) = check(vec![scratch("bomb.yml", &text)]);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].code, Code::YamlLimit);
    assert!(report.rules.is_empty());
}

/// The exit statuses documented in docs/errors.md.
#[test]
fn exit_statuses() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_sigil"))
            .arg("check")
            .args(args)
            .current_dir(manifest_dir())
            .output()
            .expect("sigil runs")
            .status
            .code()
    };
    assert_eq!(run(&["tests/errors/S204_unused_identifier.yml"]), Some(0));
    assert_eq!(
        run(&["tests/errors/S203_undefined_identifier.yml"]),
        Some(1)
    );
    assert_eq!(run(&["tests/errors/no-such-rule.yml"]), Some(2));
    assert_eq!(
        run(&[
            "tests/errors/S203_undefined_identifier.yml",
            "tests/errors/no-such-rule.yml"
        ]),
        Some(2)
    );
    assert_eq!(run(&["--no-such-flag"]), Some(2));
}
