//! Properties of the rule library as a whole:
//! - every field a rule reads appears in at least one event of its fixtures, so a misspelt
//!   field cannot hide behind fixtures that never exercise it;
//! - the fixtures pin every threshold, `runs` count and window: moving any of them by one
//!   (one unit of the written duration) must make at least one case fail.

use sigil_driver::fixtures::{case_events, compare, evaluate};
use sigil_eval::Event;
use sigil_ir::{AggExpr, Input, Query, Rule, Target};
use sigil_syntax::fixture::{CaseAst, parse_fixture};
use std::path::Path;
use std::sync::OnceLock;

struct Fixture {
    rule: Rule,
    cases: Vec<(CaseAst, Vec<Event>)>,
}

fn library() -> &'static Vec<Fixture> {
    static L: OnceLock<Vec<Fixture>> = OnceLock::new();
    L.get_or_init(|| {
        let report = sigil_driver::check(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")]);
        let mut out = Vec::new();
        for r in &report.rules {
            let Some(rel) = &r.meta.fixtures else {
                continue;
            };
            let path = sigil_driver::relative_to(&r.origin.file, rel);
            let name = path.display().to_string();
            let text = std::fs::read_to_string(&path).expect("fixture file readable");
            let fx = parse_fixture(&name, &text).0.expect("fixture file parses");
            let cases = fx
                .cases
                .into_iter()
                .map(|c| {
                    let evs = case_events(&name, &c).expect("fixture events load");
                    (c, evs)
                })
                .collect();
            out.push(Fixture {
                rule: r.clone(),
                cases,
            });
        }
        out
    })
}

fn label(r: &Rule) -> String {
    r.meta.name.clone().unwrap_or_else(|| r.meta.title.clone())
}

#[test]
fn every_field_a_rule_reads_appears_in_its_fixture_events() {
    let mut missing = Vec::new();
    for f in library() {
        let events: Vec<&Event> = f.cases.iter().flat_map(|(_, e)| e.iter()).collect();
        let mut fields = Vec::new();
        f.rule.query.for_each_search(&mut |s| {
            let layout = if s.source.product.as_deref() == Some("windows") {
                sigil_eval::event::Layout::Windows
            } else {
                sigil_eval::event::Layout::Plain
            };
            s.expr.for_each_pred(&mut |p| {
                if let Target::Field(name) = &p.target {
                    fields.push((name.clone(), layout));
                }
            });
        });
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        fields.dedup_by(|a, b| a.0 == b.0);
        for (field, layout) in fields {
            let seen = events.iter().any(|e| {
                let mut out = Vec::new();
                sigil_eval::event::resolve(&e.value, &field, layout, &mut out);
                !out.is_empty()
            });
            if !seen {
                missing.push(format!("{}: `{field}`", label(&f.rule)));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "fields read by rules but absent from every fixture event:\n{}",
        missing.join("\n")
    );
}

/// A mutation: where it is and the rule with one number moved.
struct Mutant {
    what: String,
    rule: Rule,
}

fn unit_of(ms: u64) -> u64 {
    for size in [86_400_000, 3_600_000, 60_000, 1_000] {
        if ms >= size && ms.is_multiple_of(size) {
            return size;
        }
    }
    1
}

/// A change to one numeric knob of a query.
type Edit<'a> = Box<dyn Fn(&mut Query) + 'a>;

/// Applies a query edit at some depth of a rule.
type Apply<'a> = dyn Fn(&mut Rule, &dyn Fn(&mut Query)) + 'a;

/// Lists each numeric knob of a query, one edit per knob and direction.
fn knobs(q: &Query, path: &str, out: &mut Vec<(String, Edit<'_>)>) {
    match q {
        Query::Match(_) => {}
        Query::Threshold(t) => {
            let n = cmp_count(&t.condition);
            for i in 0..n {
                for d in [-1.0, 1.0] {
                    out.push((
                        format!("{path} condition comparison #{} {d:+}", i + 1),
                        Box::new(move |q: &mut Query| {
                            if let Query::Threshold(t) = q {
                                nth_cmp(&mut t.condition, i, d);
                            }
                        }),
                    ));
                }
            }
            let unit = unit_of(t.window.length_ms);
            for d in [-1i64, 1] {
                if t.window.length_ms as i64 + d * unit as i64 > 0 {
                    out.push((
                        format!("{path} window {d:+} unit"),
                        Box::new(move |q: &mut Query| {
                            if let Query::Threshold(t) = q {
                                t.window.length_ms =
                                    (t.window.length_ms as i64 + d * unit as i64) as u64;
                            }
                        }),
                    ));
                }
            }
        }
        Query::Sequence(s) => {
            for (i, st) in s.steps.iter().enumerate() {
                if st.runs > 1 {
                    for d in [-1i64, 1] {
                        out.push((
                            format!("{path} step {} runs {d:+}", i + 1),
                            Box::new(move |q: &mut Query| {
                                if let Query::Sequence(s) = q {
                                    s.steps[i].runs = (s.steps[i].runs as i64 + d) as u32;
                                }
                            }),
                        ));
                    }
                }
            }
            if let Some(ms) = s.maxspan_ms {
                let unit = unit_of(ms);
                for d in [-1i64, 1] {
                    out.push((
                        format!("{path} maxspan {d:+} unit"),
                        Box::new(move |q: &mut Query| {
                            if let Query::Sequence(s) = q {
                                s.maxspan_ms = s
                                    .maxspan_ms
                                    .map(|m| (m as i64 + d * unit as i64).max(1) as u64);
                            }
                        }),
                    ));
                }
            }
        }
        Query::Unordered(u) => {
            let unit = unit_of(u.within_ms);
            for d in [-1i64, 1] {
                out.push((
                    format!("{path} within {d:+} unit"),
                    Box::new(move |q: &mut Query| {
                        if let Query::Unordered(u) = q {
                            u.within_ms = (u.within_ms as i64 + d * unit as i64).max(1) as u64;
                        }
                    }),
                ));
            }
        }
    }
}

fn cmp_count(e: &AggExpr) -> usize {
    match e {
        AggExpr::Cmp(..) => 1,
        AggExpr::And(v) | AggExpr::Or(v) => v.iter().map(cmp_count).sum(),
        AggExpr::Not(x) => cmp_count(x),
    }
}

fn nth_cmp(e: &mut AggExpr, n: usize, d: f64) -> usize {
    match e {
        AggExpr::Cmp(_, _, v) => {
            if n == 0 {
                *v += d;
            }
            1
        }
        AggExpr::And(items) | AggExpr::Or(items) => {
            let mut seen = 0;
            for it in items {
                if seen <= n {
                    seen += nth_cmp(it, n - seen, d);
                } else {
                    break;
                }
            }
            seen
        }
        AggExpr::Not(x) => nth_cmp(x, n, d),
    }
}

/// The query's own knobs and those of the queries it builds on (correlation inputs).
fn mutants(rule: &Rule) -> Vec<Mutant> {
    let mut out = Vec::new();
    fn walk(q: &Query, path: String, apply: &Apply, base: &Rule, out: &mut Vec<Mutant>) {
        let mut ks = Vec::new();
        knobs(q, &path, &mut ks);
        for (what, f) in ks {
            let mut r = base.clone();
            apply(&mut r, &*f);
            out.push(Mutant { what, rule: r });
        }
        let inputs: Vec<(usize, &Input, &str)> = match q {
            Query::Threshold(t) => t
                .inputs
                .iter()
                .enumerate()
                .map(|(i, x)| (i, x, "input"))
                .collect(),
            Query::Unordered(u) => u
                .inputs
                .iter()
                .enumerate()
                .map(|(i, x)| (i, x, "input"))
                .collect(),
            Query::Sequence(s) => s
                .steps
                .iter()
                .enumerate()
                .map(|(i, x)| (i, &x.input, "step"))
                .collect(),
            Query::Match(_) => Vec::new(),
        };
        for (i, input, kind) in inputs {
            let sub = move |r: &mut Rule, f: &dyn Fn(&mut Query)| {
                apply(r, &|q: &mut Query| match q {
                    Query::Threshold(t) if kind == "input" => f(&mut t.inputs[i].query),
                    Query::Unordered(u) if kind == "input" => f(&mut u.inputs[i].query),
                    Query::Sequence(s) => f(&mut s.steps[i].input.query),
                    _ => {}
                })
            };
            walk(
                &input.query,
                format!("{path} › {}", input.name),
                &sub,
                base,
                out,
            );
        }
    }
    let root = |r: &mut Rule, f: &dyn Fn(&mut Query)| f(&mut r.query);
    walk(&rule.query, label(rule), &root, rule, &mut out);
    out
}

#[test]
fn moving_any_threshold_runs_or_window_by_one_fails_a_case() {
    let mut survivors = Vec::new();
    let mut total = 0;
    for f in library() {
        for m in mutants(&f.rule) {
            total += 1;
            let caught = f
                .cases
                .iter()
                .any(|(case, events)| match evaluate(&m.rule, events) {
                    Ok(actual) => !compare(&case.expect, &actual).is_empty(),
                    Err(_) => true,
                });
            if !caught {
                survivors.push(m.what);
            }
        }
    }
    eprintln!("{total} mutants, {} survived", survivors.len());
    assert!(
        survivors.is_empty(),
        "no fixture case notices these changes (add cases that sit on the edge):\n{}",
        survivors.join("\n")
    );
}
