//! `sigil test`: runs every rule's fixture cases through the reference evaluator and
//! compares the alerts with the ones the case expects.

use crate::{CheckReport, check, relative_to};
use sigil_eval::{Alert, Engine, Event};
use sigil_ir::Rule;
use sigil_syntax::fixture::{CaseAst, EventsAst, ExpectedAlert, parse_fixture};
use sigil_syntax::yaml::{Node, NodeKind};
use std::path::PathBuf;

/// The outcome of one fixture case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The rule's name (or id, or title).
    pub rule: String,
    /// The fixture file.
    pub fixture: String,
    /// The case's name.
    pub case: String,
    /// True when the alerts are exactly the expected ones.
    pub passed: bool,
    /// What the case expects (empty: silence).
    pub expected: Vec<ExpectedAlert>,
    /// What the evaluator produced.
    pub actual: Vec<Alert>,
    /// Readable differences, one per line, empty when passed.
    pub diff: Vec<String>,
    /// Problems running the case (unreadable events, a rule that cannot be evaluated).
    pub error: Option<String>,
}

/// The outcome of `sigil test`.
#[derive(Debug, Default)]
pub struct TestReport {
    /// The check of the rule files (diagnostics, rules).
    pub check: CheckReport,
    /// Rules that name fixtures.
    pub rules_with_fixtures: usize,
    /// Fixture files run.
    pub fixture_files: usize,
    /// Every case, in rule and case order.
    pub cases: Vec<CaseResult>,
}

impl TestReport {
    /// Cases that failed.
    pub fn failed(&self) -> usize {
        self.cases.iter().filter(|c| !c.passed).count()
    }
}

/// Converts a YAML node (an inline fixture event) to JSON.
pub fn node_to_json(n: &Node) -> serde_json::Value {
    use serde_json::Value as J;
    match &n.kind {
        NodeKind::Null => J::Null,
        NodeKind::Bool(b) => J::Bool(*b),
        NodeKind::Int(i) => J::from(*i),
        NodeKind::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        NodeKind::Str(s) => J::String(s.clone()),
        NodeKind::Seq(v) => J::Array(v.iter().map(node_to_json).collect()),
        NodeKind::Map(m) => J::Object(
            m.iter()
                .map(|e| (e.key.clone(), node_to_json(&e.value)))
                .collect(),
        ),
    }
}

/// Loads a case's events, each with its time and id, sorted by time (stable).
pub fn case_events(fixture: &str, case: &CaseAst) -> Result<Vec<Event>, String> {
    let mut evs = Vec::new();
    match &case.events {
        EventsAst::File(f) => {
            let p = relative_to(fixture, &f.value);
            let text = std::fs::read_to_string(&p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            for (n, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let v: serde_json::Value = serde_json::from_str(line)
                    .map_err(|e| format!("{}:{}: {e}", p.display(), n + 1))?;
                evs.push(Event::new(v, None, format!("{}:{}", f.value, n + 1)));
            }
        }
        EventsAst::Inline(nodes) => {
            for (n, node) in nodes.iter().enumerate() {
                evs.push(Event::new(
                    node_to_json(node),
                    None,
                    format!("{}#{}", case.name.value, n + 1),
                ));
            }
        }
    }
    evs.sort_by_key(|e| e.time);
    Ok(evs)
}

/// Runs one rule over events and returns its alerts.
pub fn evaluate(rule: &Rule, events: &[Event]) -> Result<Vec<Alert>, String> {
    let (mut engine, rejected) = Engine::new(std::slice::from_ref(rule));
    if let Some(r) = rejected.first() {
        return Err(r.error.to_string());
    }
    let mut out = Vec::new();
    for e in events {
        out.extend(engine.process(e));
    }
    out.extend(engine.flush());
    Ok(out)
}

fn matches(exp: &ExpectedAlert, a: &Alert) -> bool {
    exp.rule.as_ref().is_none_or(|r| a.rule.is(r))
        && exp.group.iter().all(|(k, v)| a.group.get(k) == Some(v))
        && exp.count.is_none_or(|c| c == a.count)
        && exp.score.is_none_or(|s| Some(s) == a.score)
        && exp.events.iter().all(|id| a.events.contains(id))
}

fn describe_expected(e: &ExpectedAlert) -> String {
    let mut parts = Vec::new();
    if let Some(r) = &e.rule {
        parts.push(format!("rule {r}"));
    }
    if !e.group.is_empty() {
        parts.push(format!("group {:?}", e.group));
    }
    if let Some(c) = e.count {
        parts.push(format!("count {c}"));
    }
    if let Some(s) = e.score {
        parts.push(format!("score {s}"));
    }
    if !e.events.is_empty() {
        parts.push(format!("events {:?}", e.events));
    }
    if parts.is_empty() {
        "any alert".into()
    } else {
        parts.join(", ")
    }
}

/// A one-line description of an alert for diffs.
pub fn describe_alert(a: &Alert) -> String {
    let mut parts = vec![format!(
        "rule {}",
        a.rule
            .name
            .as_deref()
            .or(a.rule.id.as_deref())
            .unwrap_or(&a.rule.title)
    )];
    if !a.group.is_empty() {
        parts.push(format!("group {:?}", a.group));
    }
    parts.push(format!("count {}", a.count));
    if let Some(s) = a.score {
        parts.push(format!("score {s}"));
    }
    let shown: Vec<&String> = a.events.iter().take(5).collect();
    parts.push(format!(
        "events {shown:?}{}",
        if a.events.len() > 5 { " …" } else { "" }
    ));
    parts.join(", ")
}

/// Compares expected and actual alerts; returns the differences (empty: equal).
pub fn compare(expected: &[ExpectedAlert], actual: &[Alert]) -> Vec<String> {
    let mut used = vec![false; actual.len()];
    let mut diff = Vec::new();
    for e in expected {
        match (0..actual.len()).find(|&i| !used[i] && matches(e, &actual[i])) {
            Some(i) => used[i] = true,
            None => diff.push(format!("- expected: {}", describe_expected(e))),
        }
    }
    for (i, a) in actual.iter().enumerate() {
        if !used[i] {
            diff.push(format!("+ unexpected: {}", describe_alert(a)));
        }
    }
    diff
}

fn label(r: &Rule) -> String {
    r.meta
        .name
        .clone()
        .or_else(|| r.meta.id.clone())
        .unwrap_or_else(|| r.meta.title.clone())
}

/// Runs the fixtures of every rule under `paths`.
pub fn run_tests(paths: &[PathBuf]) -> TestReport {
    let check = check(paths);
    let mut report = TestReport::default();
    for r in &check.rules {
        let Some(rel) = &r.meta.fixtures else {
            continue;
        };
        report.rules_with_fixtures += 1;
        let path = relative_to(&r.origin.file, rel);
        let fname = path.display().to_string();
        // A fixture file that cannot be read or parsed fails as a case of its own, so a
        // typo never turns a file's cases into silence.
        let broken = |report: &mut TestReport, error: String| {
            report.cases.push(CaseResult {
                rule: label(r),
                fixture: fname.clone(),
                case: "(fixture file)".into(),
                passed: false,
                expected: Vec::new(),
                actual: Vec::new(),
                diff: Vec::new(),
                error: Some(error),
            })
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                broken(&mut report, format!("cannot read {fname}: {e}"));
                continue;
            }
        };
        let (fx, diags) = parse_fixture(&fname, &text);
        let errors: Vec<String> = diags
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.message.clone())
            .collect();
        if !errors.is_empty() {
            broken(&mut report, errors.join("; "));
        }
        let Some(fx) = fx else {
            continue;
        };
        report.fixture_files += 1;
        for case in &fx.cases {
            let mut res = CaseResult {
                rule: label(r),
                fixture: fname.clone(),
                case: case.name.value.clone(),
                passed: false,
                expected: case.expect.clone(),
                actual: Vec::new(),
                diff: Vec::new(),
                error: None,
            };
            match case_events(&fname, case).and_then(|evs| evaluate(r, &evs)) {
                Ok(actual) => {
                    res.diff = compare(&case.expect, &actual);
                    res.passed = res.diff.is_empty();
                    res.actual = actual;
                }
                Err(e) => res.error = Some(e),
            }
            report.cases.push(res);
        }
    }
    report.check = check;
    report
}
