//! Fixture files (`<rule>.tests.yml`): named cases, each with events and the alerts they
//! must produce (or `expect: none`). The format is documented in docs/dsl.md.

use crate::ast::Spanned;
use crate::yaml::{Node, NodeKind, load_documents};
use sigil_diagnostics::{Code, Diagnostic, Span};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where a case's events come from.
#[derive(Clone, Debug, PartialEq)]
pub enum EventsAst {
    /// An NDJSON file, relative to the fixture file.
    File(Spanned<String>),
    /// Events written inline as YAML mappings (kept as YAML nodes).
    Inline(Vec<Node>),
}

/// One alert a case expects.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectedAlert {
    /// The rule (name or id); defaults to the rule that names the fixture file.
    pub rule: Option<String>,
    /// Group key values (thresholds, sequences); empty for single-event rules.
    pub group: BTreeMap<String, String>,
    /// How many contributing events (thresholds) or how many alerts (match rules).
    pub count: Option<u64>,
    /// Ids of the events that must contribute.
    pub events: Vec<String>,
    /// The risk score the alert must carry.
    pub score: Option<i64>,
    /// Where the expectation is.
    pub span: Option<Span>,
}

/// One fixture case.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseAst {
    /// Unique name.
    pub name: Spanned<String>,
    /// Why the case exists.
    pub description: Option<String>,
    /// Its events.
    pub events: EventsAst,
    /// Expected alerts; empty means the case must stay silent.
    pub expect: Vec<ExpectedAlert>,
}

/// A parsed fixture file.
#[derive(Clone, Debug, PartialEq)]
pub struct FixtureFile {
    /// The cases in order.
    pub cases: Vec<CaseAst>,
}

/// Parses a fixture file, reporting every problem (code S501).
pub fn parse_fixture(name: &str, text: &str) -> (Option<FixtureFile>, Vec<Diagnostic>) {
    let file: Arc<str> = Arc::from(name);
    let (docs, mut diags) = load_documents(&file, text);
    let mut err = |msg: String, span: Option<Span>, path: &str| {
        diags.push(
            Diagnostic::new(Code::InvalidFixture, msg)
                .in_file(file.clone())
                .at(span)
                .path(path)
                .hint("docs/dsl.md section 8 describes the fixture format"),
        );
    };
    let Some(root) = docs.first().map(|d| &d.root) else {
        err("fixture file holds no document".into(), None, "");
        return (None, diags);
    };
    let Some(cases) = root.get("cases") else {
        err(
            "fixture file has no `cases` list".into(),
            root.span,
            "cases",
        );
        return (None, diags);
    };
    let NodeKind::Seq(items) = &cases.value.kind else {
        err("`cases` must be a list".into(), cases.value.span, "cases");
        return (None, diags);
    };
    let mut out = Vec::new();
    let mut seen: BTreeMap<String, ()> = BTreeMap::new();
    for (i, c) in items.iter().enumerate() {
        let p = format!("cases[{i}]");
        let Some(name) = c.get("name").and_then(|e| {
            e.value
                .as_str()
                .map(|s| Spanned::new(s.to_string(), e.value.span))
        }) else {
            err("case has no `name` string".into(), c.span, &p);
            continue;
        };
        if seen.insert(name.value.clone(), ()).is_some() {
            err(
                format!("case name `{}` is used twice", name.value),
                name.span,
                &format!("{p}.name"),
            );
        }
        let events = match c.get("events") {
            Some(e) => match &e.value.kind {
                NodeKind::Str(s) => EventsAst::File(Spanned::new(s.clone(), e.value.span)),
                NodeKind::Seq(v) if v.iter().all(|x| x.as_map().is_some()) => {
                    EventsAst::Inline(v.clone())
                }
                _ => {
                    err(
                        "`events` must be an NDJSON file path or a list of event mappings".into(),
                        e.value.span,
                        &format!("{p}.events"),
                    );
                    continue;
                }
            },
            None => {
                err("case has no `events`".into(), c.span, &p);
                continue;
            }
        };
        let expect = match c.get("expect") {
            Some(e) => match &e.value.kind {
                NodeKind::Str(s) if s == "none" => Vec::new(),
                NodeKind::Seq(v) => {
                    let mut alerts = Vec::new();
                    for (j, a) in v.iter().enumerate() {
                        match alert(a) {
                            Ok(x) => alerts.push(x),
                            Err(m) => err(m, a.span, &format!("{p}.expect[{j}]")),
                        }
                    }
                    if v.is_empty() {
                        err(
                            "`expect: []` is ambiguous; write `expect: none` for a silent case"
                                .into(),
                            e.value.span,
                            &format!("{p}.expect"),
                        );
                    }
                    alerts
                }
                _ => {
                    err(
                        "`expect` must be `none` or a list of alerts".into(),
                        e.value.span,
                        &format!("{p}.expect"),
                    );
                    continue;
                }
            },
            None => {
                err(
                    "case has no `expect` (a list of alerts, or `none`)".into(),
                    c.span,
                    &p,
                );
                continue;
            }
        };
        let description = c
            .get("description")
            .and_then(|e| e.value.as_str().map(str::to_owned));
        out.push(CaseAst {
            name,
            description,
            events,
            expect,
        });
    }
    (Some(FixtureFile { cases: out }), diags)
}

fn alert(a: &Node) -> Result<ExpectedAlert, String> {
    let Some(m) = a.as_map() else {
        return Err("an expected alert must be a mapping".into());
    };
    let mut x = ExpectedAlert {
        rule: None,
        group: BTreeMap::new(),
        count: None,
        score: None,
        events: vec![],
        span: a.span,
    };
    for e in m {
        match e.key.as_str() {
            "rule" => x.rule = e.value.scalar_text(),
            "score" => match e.value.kind {
                NodeKind::Int(n) => x.score = Some(n),
                _ => return Err("`score` must be an integer".into()),
            },
            "count" => match e.value.kind {
                NodeKind::Int(n) if n >= 1 => x.count = Some(n as u64),
                _ => return Err("`count` must be a positive integer".into()),
            },
            "group" => {
                let Some(g) = e.value.as_map() else {
                    return Err("`group` must map keys to values".into());
                };
                for k in g {
                    let v = k
                        .value
                        .scalar_text()
                        .ok_or_else(|| format!("group key `{}` needs a scalar value", k.key))?;
                    x.group.insert(k.key.clone(), v);
                }
            }
            "events" => match &e.value.kind {
                NodeKind::Seq(v) => {
                    for id in v {
                        x.events
                            .push(id.scalar_text().ok_or("event ids must be scalars")?);
                    }
                }
                _ => return Err("`events` of an alert must be a list of event ids".into()),
            },
            other => {
                return Err(format!(
                    "unknown alert key `{other}` (known: rule, group, count, score, events)"
                ));
            }
        }
    }
    Ok(x)
}
