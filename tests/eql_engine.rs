//! EQL checked by a real engine: every rule in `rules/` is compiled with the pass-through
//! mapping (native field names) and run over its fixture events by Elastic's `eql` package
//! (PyPI eql 1.0.1, through `$SIGIL_SHARED/validators/eql_eval.py` with Elasticsearch's
//! string semantics), and the alerting events are compared with the reference evaluator's.
//! A difference fails unless the compiled rule carries a fidelity note; every excused case
//! and every refused rule is printed with its reason.
//!
//! A second test pushes adversarial strings through every place a rule value reaches the
//! query (string literals, wildcard patterns, regexes, field names) and checks with the same
//! engine that each query parses and each value matches itself as one literal.
//!
//! Without `SIGIL_SHARED` the engine tests print why they skip; under `CI=true` a missing
//! `SIGIL_SHARED` or Python with `eql` is a failure. One Python process serves a whole test.

use serde_json::{Value as J, json};
use sigil_backend::{Fidelity, Mapping, Profile};
use sigil_driver::compile::{backend, compile_rule};
use sigil_driver::fixtures::{case_events, evaluate};
use sigil_ir::{
    Case, Expr, LogSource, Meta, Origin, Pattern, Predicate, Query, RegexFlags, Rule, Search, Seg,
    Target, Test, Value,
};
use sigil_syntax::fixture::parse_fixture;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The batch driver: reads jobs (query, events) as JSON on stdin, prints one JSON result
/// per job. It imports eql_eval.py as a module so the package loads once.
const DRIVER: &str = r#"
import json, re, sys
sys.path.insert(0, sys.argv[1])
import eql, eql.ast
import eql_eval as ev

# eql 1.0.1 matches `\u{...}` escapes greedily (`\\u\{.+\}`), so a literal holding two of
# them, or a `}` after one, fails to unescape. Elasticsearch reads each escape on its own
# (2-8 hex digits); this is the same callback with the escape bounded.
_orig = eql.ast.String.reverse_patterns
def _unescape(s):
    def cb(m):
        t = m.group()
        if t.startswith("\\u{"):
            return chr(int(t[3:-1], 16))
        return _orig[t]
    return re.sub(r"\\u\{[0-9a-fA-F]{2,8}\}|\\[^u]", cb, s)
eql.ast.String.unescape = staticmethod(_unescape)

ev.install_es_semantics()
for line in sys.stdin:
    job = json.loads(line)
    out = {"id": job["id"]}
    try:
        ast = ev.parse(job["query"], "es")
    except eql.EqlError as e:
        out["error"] = "parse: %s: %s" % (type(e).__name__, e)
        print(json.dumps(out), flush=True)
        continue
    events, index = [], {}
    for i, d in enumerate(job["events"]):
        doc = ev.expand_dotted(d)
        cat = ev.get_path(doc, "event.category")
        if isinstance(cat, list):
            cat = cat[0] if cat else None
        index[id(doc)] = i
        events.append(eql.Event(cat if isinstance(cat, str) else "generic",
                                ev.to_ms(ev.get_path(doc, "@timestamp")), doc))
    events.sort(key=lambda e: e.time)
    results = []
    engine = ev.ESEngine({"time_unit": 1000})
    for name, fn in ev.es_functions().items():
        engine.add_custom_function(name, fn)
    engine.add_output_hook(results.append)
    try:
        engine.add_query(ast)
        engine.stream_events(events)
        out["matches"] = [[index[id(x.data)] for x in r.events] for r in results]
    except Exception as e:
        out["error"] = "eval: %s: %s" % (type(e).__name__, e)
    print(json.dumps(out), flush=True)
"#;

struct Tools {
    python: PathBuf,
    validators: PathBuf,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Python with `eql` and the validators folder, or `None` (with the reason printed)
/// outside CI when they are missing.
fn tools() -> Option<Tools> {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let shared = match std::env::var_os("SIGIL_SHARED") {
        Some(s) => PathBuf::from(s),
        None => {
            assert!(
                !ci,
                "CI=true but SIGIL_SHARED is not set: the EQL engine test cannot run"
            );
            eprintln!("skipping the EQL engine test: SIGIL_SHARED is not set");
            return None;
        }
    };
    let validators = shared.join("validators");
    assert!(
        validators.join("eql_eval.py").is_file(),
        "SIGIL_SHARED is set but {} has no eql_eval.py",
        validators.display()
    );
    let python = std::env::var_os("SIGIL_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".validators/py/bin/python"));
    let ok = Command::new(&python)
        .args(["-c", "import eql"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            !ci,
            "CI=true but {} cannot import eql (set SIGIL_PYTHON; .ci/validators.sh installs it)",
            python.display()
        );
        eprintln!(
            "skipping the EQL engine test: {} cannot import eql (set SIGIL_PYTHON)",
            python.display()
        );
        return None;
    }
    Some(Tools { python, validators })
}

/// One engine run: a query over events; the result is the matches (event indices per
/// match) or an error.
struct Job {
    query: String,
    events: Vec<J>,
}

fn run_jobs(t: &Tools, jobs: &[Job]) -> Vec<Result<Vec<Vec<usize>>, String>> {
    let dir = std::env::temp_dir().join(format!("sigil-eql-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let script = dir.join("driver.py");
    std::fs::write(&script, DRIVER).expect("driver script");
    let mut child = Command::new(&t.python)
        .arg(&script)
        .arg(&t.validators)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python starts");
    let mut input = String::new();
    for (i, j) in jobs.iter().enumerate() {
        input.push_str(&json!({"id": i, "query": j.query, "events": j.events}).to_string());
        input.push('\n');
    }
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        stdin.write_all(input.as_bytes()).expect("write jobs");
    });
    let out = child.wait_with_output().expect("python runs");
    writer.join().expect("writer");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "the eql driver failed");
    let mut results: Vec<Result<Vec<Vec<usize>>, String>> =
        vec![Err("no result".into()); jobs.len()];
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: J = serde_json::from_str(line).expect("driver prints JSON");
        let id = v["id"].as_u64().expect("id") as usize;
        results[id] = match v.get("error") {
            Some(e) => Err(e.as_str().unwrap_or("?").to_string()),
            None => Ok(serde_json::from_value(v["matches"].clone()).expect("matches")),
        };
    }
    results
}

fn eql() -> &'static dyn sigil_backend::Backend {
    backend("eql").expect("the eql backend is registered")
}

fn label(r: &Rule) -> String {
    r.meta.name.clone().unwrap_or_else(|| r.meta.title.clone())
}

/// Every note the backend emits over the rule library is for a construct it declares
/// approximate (an exact construct never produces a note), with every mapping profile.
#[test]
fn notes_agree_with_the_capability_matrix() {
    let report = sigil_driver::check(&[root().join("rules")]);
    let caps = eql().capabilities();
    for profile in [Profile::Default, Profile::Passthrough, Profile::Generic] {
        let Ok(mapping) = Mapping::builtin("eql", profile) else {
            continue;
        };
        for r in &report.rules {
            if let Ok(c) = compile_rule(eql(), &mapping, r, false) {
                for n in &c.notes {
                    let declared = caps.iter().find(|k| k.construct == n.construct);
                    assert_eq!(
                        declared.map(|k| k.fidelity),
                        Some(Fidelity::Approx),
                        "rule {}: note for {} which is not declared approx",
                        label(r),
                        n.construct
                    );
                }
            }
        }
    }
}

/// One fixture case prepared for the engine.
struct CaseRun {
    rule: String,
    case: String,
    expected: Vec<Vec<usize>>,
    notes: Vec<String>,
    job: usize,
}

#[test]
fn fixtures_agree_with_the_eql_engine() {
    let Some(t) = tools() else { return };
    let report = sigil_driver::check(&[root().join("rules")]);
    assert_eq!(report.errors(), 0, "rules/ must check clean");
    let mapping = Mapping::passthrough("eql", "@timestamp");
    let mut jobs = Vec::new();
    let mut runs = Vec::new();
    let mut refused: Vec<(String, String)> = Vec::new();
    for r in &report.rules {
        let Some(rel) = &r.meta.fixtures else {
            continue;
        };
        let path = sigil_driver::relative_to(&r.origin.file, rel);
        let fname = path.display().to_string();
        let text = std::fs::read_to_string(&path).expect("fixture file");
        let (fx, _) = parse_fixture(&fname, &text);
        let fx = fx.expect("fixture file parses");
        let compiled = match compile_rule(eql(), &mapping, r, false) {
            Ok(c) => c,
            Err(diags) => {
                let why: Vec<String> = diags.iter().map(|d| d.message.clone()).collect();
                refused.push((label(r), why.join("; ")));
                continue;
            }
        };
        let single = matches!(r.query, Query::Match(_));
        let mut windows = false;
        r.query.for_each_search(&mut |s| {
            windows |= s.source.product.as_deref() == Some("windows");
        });
        for case in &fx.cases {
            let events = case_events(&fname, case).expect("case events load");
            let alerts = evaluate(r, &events).expect("the evaluator runs the rule");
            let mut index: BTreeMap<&str, usize> = BTreeMap::new();
            for (i, e) in events.iter().enumerate() {
                index.entry(e.id.as_str()).or_insert(i);
            }
            let mut expected: Vec<Vec<usize>> = alerts
                .iter()
                .map(|a| {
                    let mut v: Vec<usize> = a
                        .events
                        .iter()
                        .filter_map(|id| index.get(id.as_str()).copied())
                        .collect();
                    if single {
                        v.truncate(1);
                    }
                    v.sort_unstable();
                    v
                })
                .collect();
            expected.sort();
            let docs: Vec<J> = events
                .iter()
                .map(|e| {
                    let mut v = (*e.value).clone();
                    if windows {
                        flatten_evtx(&mut v);
                    }
                    if let J::Object(m) = &mut v {
                        // The engine orders and spans by @timestamp: give it the evaluator's
                        // own time of the event (epoch ms), whatever field that came from.
                        match e.time {
                            Some(ms) => m.insert("@timestamp".into(), json!(ms)),
                            None => m.remove("@timestamp"),
                        };
                    }
                    v
                })
                .collect();
            runs.push(CaseRun {
                rule: label(r),
                case: case.name.value.clone(),
                expected,
                notes: compiled
                    .notes
                    .iter()
                    .map(sigil_driver::compile::note_line)
                    .collect(),
                job: jobs.len(),
            });
            jobs.push(Job {
                query: compiled.query.clone(),
                events: docs,
            });
        }
    }
    let results = run_jobs(&t, &jobs);
    let (mut agree, mut excused, mut failed) = (0, Vec::new(), Vec::new());
    for run in &runs {
        let got = match &results[run.job] {
            Ok(m) => {
                let mut m: Vec<Vec<usize>> = m
                    .iter()
                    .map(|v| {
                        let mut v = v.clone();
                        v.sort_unstable();
                        v
                    })
                    .collect();
                m.sort();
                m
            }
            Err(e) => {
                failed.push(format!(
                    "{} / {}: engine error {e}\n    query: {}",
                    run.rule, run.case, jobs[run.job].query
                ));
                continue;
            }
        };
        if got == run.expected {
            agree += 1;
        } else if !run.notes.is_empty() {
            excused.push(format!(
                "{} / {}: evaluator {:?}, eql {:?}; notes: {}",
                run.rule,
                run.case,
                run.expected,
                got,
                run.notes.join(" | ")
            ));
        } else {
            failed.push(format!(
                "{} / {}: evaluator {:?}, eql {:?}\n    query: {}",
                run.rule, run.case, run.expected, got, jobs[run.job].query
            ));
        }
    }
    eprintln!(
        "eql engine: {} fixture cases checked, {agree} agree, {} excused by notes, {} differ; {} rules with fixtures refused",
        runs.len(),
        excused.len(),
        failed.len(),
        refused.len()
    );
    for e in &excused {
        eprintln!("  excused: {e}");
    }
    for (r, why) in &refused {
        eprintln!("  refused: {r}: {why}");
    }
    for f in &failed {
        eprintln!("  DIFFERS: {f}");
    }
    assert!(
        failed.is_empty(),
        "{} fixture cases differ from the evaluator",
        failed.len()
    );
    assert!(runs.len() >= 50, "only {} fixture cases ran", runs.len());
}

/// Lifts the members of an EVTX event's `Event.EventData` and `Event.System` to the top
/// level (first one wins), as the evaluator's Windows layout reads them (docs/semantics.md
/// 1.4) and as an ingest pipeline flattens them in Elasticsearch; `{"#text": v}` leaves
/// become `v`. The pass-through query names the fields as the rule does (`CommandLine`).
fn flatten_evtx(v: &mut J) {
    let mut lifted = Vec::new();
    if let Some(event) = v.get("Event") {
        for section in ["EventData", "System"] {
            if let Some(J::Object(m)) = event.get(section) {
                for (k, val) in m {
                    let val = match val.get("#text") {
                        Some(t) => t.clone(),
                        None => val.clone(),
                    };
                    lifted.push((k.clone(), val));
                }
            }
        }
    }
    if let J::Object(top) = v {
        for (k, val) in lifted {
            top.entry(k).or_insert(val);
        }
    }
}

/// Strings built to break out of literals.
fn adversarial() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        "\"",
        "\\",
        "\\\"",
        "a\"b",
        "a\\b",
        "C:\\Windows\\*",
        "\"; any where true //",
        "*",
        "?",
        "a*b?c",
        "\\*",
        "\\?",
        "%",
        "_",
        "|",
        "||",
        "[",
        "]",
        "(",
        ")",
        "{",
        "}",
        "`",
        "``",
        "'",
        "'''",
        "\"\"\"",
        "\n",
        "\r\n",
        "\t",
        "a\nb",
        "\u{0}",
        "\u{1}x\u{1f}",
        "\u{7f}",
        "\u{85}",
        "\u{2028}",
        "é",
        "ÉCOLE",
        "😀",
        "\u{200f}",
        "a.b",
        ".*",
        "^$",
        "# @ & < > ~",
        "\\u{41}",
        "\\u{41}}",
        "}\\n{",
        "/",
        "//",
        "/* x */",
        "a b",
        " ",
        "true",
        "null",
        "not",
        "or",
        "where",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // A deterministic pseudo-random batch over a hostile alphabet.
    let pool: Vec<char> = "\"\\*?`'|[](){}\n\r\t\u{0}\u{1b}~#@&<>.^$/%_ aZé😀\u{85}"
        .chars()
        .collect();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..200 {
        let mut s = String::new();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 12) as usize;
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s.push(pool[(x % pool.len() as u64) as usize]);
        }
        v.push(s);
    }
    v
}

fn match_rule(field: &str, test: Test) -> Rule {
    Rule {
        meta: Meta {
            name: Some("injection".into()),
            title: "injection".into(),
            ..Meta::default()
        },
        origin: Origin::default(),
        query: Query::Match(Search {
            source: LogSource::default(),
            expr: Expr::Pred(Predicate {
                target: Target::Field(field.into()),
                test,
                span: None,
            }),
        }),
        outputs: Vec::new(),
    }
}

#[test]
fn adversarial_values_stay_one_literal() {
    let Some(t) = tools() else { return };
    let mapping = Mapping::passthrough("eql", "@timestamp");
    let mut jobs = Vec::new();
    let mut what = Vec::new();
    let mut skipped_names = 0;
    for s in adversarial() {
        let lit = |s: &str| Seg::Lit(s.to_string());
        // (rule, event that must match, event that must not, description)
        let mut cases: Vec<(Rule, J, Option<J>, &str)> = vec![
            (
                match_rule("f", Test::Eq(Value::Str(s.clone()), Case::Sensitive)),
                json!({"f": s}),
                Some(json!({"f": format!("{s}Z")})),
                "cased equality",
            ),
            (
                match_rule("f", Test::Eq(Value::Str(s.clone()), Case::Insensitive)),
                json!({"f": s}),
                Some(json!({"f": format!("Z{s}")})),
                "equality",
            ),
            (
                match_rule(
                    "f",
                    Test::Pattern(
                        Pattern(vec![Seg::Any, lit(&s), Seg::Any]),
                        Case::Insensitive,
                    ),
                ),
                json!({"f": format!("<{s}>")}),
                None,
                "contains",
            ),
            (
                match_rule(
                    "f",
                    Test::Pattern(Pattern(vec![lit(&s), Seg::Any]), Case::Sensitive),
                ),
                json!({"f": format!("{s}>")}),
                Some(json!({"f": format!("<{s}")})).filter(|_| !s.is_empty()),
                "startswith",
            ),
            (
                match_rule(
                    "f",
                    Test::Pattern(Pattern(vec![lit(&s), Seg::One, lit(&s)]), Case::Insensitive),
                ),
                json!({"f": format!("{s}-{s}")}),
                Some(json!({"f": format!("{s}{s}")})),
                "wildcard",
            ),
            (
                match_rule(
                    "f",
                    Test::Regex(
                        format!(
                            "^{}$",
                            sigil_backend::text::regex_escape(
                                &s,
                                sigil_backend::text::RegexDialect::Perl
                            )
                        ),
                        RegexFlags::default(),
                    ),
                ),
                json!({"f": s}),
                Some(json!({"f": format!("{s}Z")})),
                "regex",
            ),
        ];
        // Field names: eql 1.0.1 cannot read doubled backticks (Elasticsearch's escape) or
        // names with empty segments (which the event would split differently).
        let writable = !s.is_empty() && !s.chars().any(char::is_control);
        if writable && !s.contains('`') && !s.split('.').any(str::is_empty) {
            cases.push((
                match_rule(&s, Test::Eq(Value::Str("x".into()), Case::Sensitive)),
                json!({ s.clone(): "x" }),
                Some(json!({ s.clone(): "y" })),
                "field name",
            ));
        } else {
            skipped_names += 1;
        }
        for (rule, yes, no, kind) in cases {
            let c = match compile_rule(eql(), &mapping, &rule, false) {
                Ok(c) => c,
                Err(d) => panic!("{kind} {s:?} refused: {}", d[0].message),
            };
            let mut events = vec![yes];
            events.extend(no);
            what.push((kind, s.clone(), c.query.clone(), events.len()));
            jobs.push(Job {
                query: c.query,
                events,
            });
        }
    }
    let results = run_jobs(&t, &jobs);
    let mut bad = Vec::new();
    for ((kind, s, q, n), r) in what.iter().zip(&results) {
        match r {
            Ok(m) => {
                let hit: Vec<usize> = m.iter().flatten().copied().collect();
                if hit != vec![0] {
                    bad.push(format!(
                        "{kind} {s:?}: matched {hit:?} of {n} events\n    {q}"
                    ));
                }
            }
            Err(e) => bad.push(format!("{kind} {s:?}: {e}\n    {q}")),
        }
    }
    eprintln!(
        "eql injection: {} queries parsed and ran, {} wrong; {skipped_names} names left out of the field-name position",
        jobs.len(),
        bad.len()
    );
    for b in &bad {
        eprintln!("  {b}");
    }
    assert!(bad.is_empty(), "{} adversarial values broke out", bad.len());
}

/// The `runs` encoding of a sliding `count() >= N` threshold gives each key's first alert on
/// the same events as the evaluator: random bursts of two keys, with non-matching events and
/// events lacking the key mixed in, over several seeds, window lengths and counts. Later
/// alerts differ as the compiled rule's note says (Elasticsearch keeps the newer partial runs
/// after an alert; the evaluator empties the window); the counts are printed.
#[test]
fn sliding_count_thresholds_match_runs_sequences() {
    let Some(t) = tools() else { return };
    let mapping = Mapping::passthrough("eql", "@timestamp");
    let mut jobs = Vec::new();
    let mut expected = Vec::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    for scenario in 0..40u64 {
        let n = 2 + scenario % 5;
        let window_ms = 60_000 * (1 + scenario % 4);
        let rule = Rule {
            meta: Meta {
                name: Some("burst".into()),
                title: "burst".into(),
                ..Meta::default()
            },
            origin: Origin::default(),
            query: Query::Threshold(sigil_ir::Threshold {
                inputs: vec![sigil_ir::Input {
                    name: "step".into(),
                    query: Box::new(Query::Match(Search {
                        source: LogSource::default(),
                        expr: Expr::Pred(Predicate {
                            target: Target::Field("kind".into()),
                            test: Test::Eq(Value::Str("hit".into()), Case::Sensitive),
                            span: None,
                        }),
                    })),
                    fields: BTreeMap::new(),
                    origin: None,
                }],
                group_by: vec!["user".into()],
                window: sigil_ir::Window {
                    length_ms: window_ms,
                    kind: sigil_ir::WindowKind::Sliding,
                },
                condition: sigil_ir::AggExpr::Cmp(
                    sigil_ir::Agg {
                        func: sigil_ir::AggFunc::Count,
                        field: None,
                        rank: None,
                    },
                    sigil_ir::CmpOp::Gte,
                    n as f64,
                ),
                score: Vec::new(),
            }),
            outputs: Vec::new(),
        };
        let compiled = compile_rule(eql(), &mapping, &rule, false).expect("count compiles");
        assert!(
            compiled
                .notes
                .iter()
                .all(|n| n.construct == sigil_backend::Construct::SlidingWindow),
            "{:?}",
            compiled.notes
        );
        // Events: distinct, increasing times (ties are ordered alike by both, but the eql
        // engine's tie order is not pinned by the contract).
        let mut docs = Vec::new();
        let mut time = 1_700_000_000_000i64;
        for i in 0..(20 + next(40)) {
            time += 1000 * (1 + next(90)) as i64;
            let mut d = serde_json::Map::new();
            d.insert("eventID".into(), json!(format!("e{i}")));
            d.insert("@timestamp".into(), json!(time));
            d.insert(
                "kind".into(),
                json!(if next(5) == 0 { "miss" } else { "hit" }),
            );
            if next(9) != 0 {
                d.insert("user".into(), json!(["alice", "bob"][next(2) as usize]));
            }
            docs.push(J::Object(d));
        }
        let events: Vec<sigil_eval::Event> = docs
            .iter()
            .enumerate()
            .map(|(i, d)| sigil_eval::Event::new(d.clone(), None, format!("#{i}")))
            .collect();
        let alerts = evaluate(&rule, &events).expect("evaluates");
        let mut want: Vec<Vec<usize>> = alerts
            .iter()
            .map(|a| {
                let mut v: Vec<usize> = a
                    .events
                    .iter()
                    .filter_map(|id| id.strip_prefix('e').and_then(|n| n.parse().ok()))
                    .collect();
                v.sort_unstable();
                v
            })
            .collect();
        want.sort();
        expected.push((scenario, want, compiled.query.clone()));
        jobs.push(Job {
            query: compiled.query,
            events: docs,
        });
    }
    let results = run_jobs(&t, &jobs);
    let (mut same_all, mut eval_alerts, mut eql_alerts) = (0, 0, 0);
    for ((scenario, want, q), got) in expected.iter().zip(results) {
        let got: Vec<Vec<usize>> = got
            .unwrap_or_else(|e| panic!("scenario {scenario}: {e}\n{q}"))
            .into_iter()
            .map(|mut v| {
                v.sort_unstable();
                v
            })
            .collect();
        // The first alert of each key: the one whose events come first among that key's.
        let first = |alerts: &[Vec<usize>]| -> Vec<Vec<usize>> {
            let mut seen_last = Vec::new();
            let mut out = Vec::new();
            let mut sorted = alerts.to_vec();
            sorted.sort_by_key(|v| v.last().copied());
            for a in sorted {
                let key = jobs_key(&jobs[*scenario as usize].events, a[0]);
                if !seen_last.contains(&key) {
                    seen_last.push(key);
                    out.push(a);
                }
            }
            out.sort();
            out
        };
        assert_eq!(first(&got), first(want), "scenario {scenario}:\n{q}");
        let mut g = got.clone();
        g.sort();
        if &g == want {
            same_all += 1;
        }
        eval_alerts += want.len();
        eql_alerts += got.len();
    }
    eprintln!(
        "eql runs encoding: 40 sliding count thresholds, every key's first alert agrees; all alerts agree in {same_all}; evaluator {eval_alerts} alerts, eql {eql_alerts} (the SlidingWindow note)"
    );
}

/// The group key (`user`) of an event of a generated scenario.
fn jobs_key(events: &[J], i: usize) -> String {
    events[i]["user"].as_str().unwrap_or("").to_string()
}
