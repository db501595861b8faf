//! The KQL backend against Kusto's own tools (docs/targets/kql.md, "Verification").
//!
//! 1. Every rule of `rules/` compiled with the default mapping parses and type-checks with
//!    Kusto.Language (`$SIGIL_SHARED/validators/kql_check.js`) against
//!    `targets/kql/schema.yml`: zero Error diagnostics.
//! 2. Every rule with fixtures compiled with pass-through names (sequences and unordered
//!    correlations included) type-checks against a schema made from its fixture events.
//! 3. Injection: rules whose values are adversarial strings (quotes, backslashes, newlines,
//!    pipes, brackets, Unicode, control characters) compile to queries with zero errors, and
//!    every literal the backend writes decodes, in Kusto.Language, to exactly the value.
//! 4. Execution: every match rule with fixtures runs with pass-through names over its fixture
//!    events in duckdb-kql (`kql_exec.py`); the events it returns must be the events Sigil's
//!    evaluator alerts on, or the rule must carry a fidelity note (the excused rules are
//!    printed).
//! 5. Execution of thresholds over plain searches, per fixture case: the groups and event
//!    counts must be the evaluator's alerts', or the rule must carry a note (sliding windows
//!    are approximated by bins, so their cases are excused and printed).
//!
//! Needs `SIGIL_SHARED`, `SIGIL_NODE_PATH` (node_modules with @kusto/language-service-next)
//! and `SIGIL_PYTHON` (a Python with duckdb-kql); without them the test prints why and
//! returns, and under `CI=true` a missing tool is a failure.

use serde_json::{Value as Json, json};
use sigil_backend::text::{RegexDialect, regex_escape};
use sigil_backend::{Backend, Mapping, Profile, compile, map_rule};
use sigil_driver::compile::compile_rule;
use sigil_ir::{LogSource, Query, Rule};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The KQL backend as the driver knows it.
fn kql() -> &'static dyn Backend {
    sigil_driver::compile::backend("kql").expect("the kql target")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// The tools, or `None` (reason printed) outside CI; under CI a missing tool panics.
struct Tools {
    shared: PathBuf,
    node_path: PathBuf,
    python: PathBuf,
}

fn tools() -> Option<Tools> {
    let get = |var: &str| -> Option<PathBuf> {
        match std::env::var_os(var) {
            Some(v) => {
                let p = PathBuf::from(v);
                assert!(
                    p.exists(),
                    "{var} is set but {} does not exist",
                    p.display()
                );
                Some(p)
            }
            None => {
                assert!(
                    !in_ci(),
                    "CI=true but {var} is not set: the KQL engine checks cannot run"
                );
                eprintln!("skipping the KQL engine checks: {var} is not set");
                None
            }
        }
    };
    Some(Tools {
        shared: get("SIGIL_SHARED")?,
        node_path: get("SIGIL_NODE_PATH")?,
        python: get("SIGIL_PYTHON")?,
    })
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sigil-kql-engine-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).expect("scratch folder");
    d
}

/// Runs kql_check.js over `queries` (id, text) with `schema`; returns the failures.
fn kql_check(t: &Tools, schema: &Json, queries: &[(String, String)], tag: &str) -> Vec<String> {
    let dir = scratch(tag);
    let sp = dir.join("schema.json");
    std::fs::write(&sp, schema.to_string()).expect("schema file");
    let qp = dir.join("queries.jsonl");
    let body: String = queries
        .iter()
        .map(|(id, q)| json!({"id": id, "query": q}).to_string() + "\n")
        .collect();
    std::fs::write(&qp, body).expect("queries file");
    let out = Command::new("node")
        .arg(t.shared.join("validators/kql_check.js"))
        .arg("--schema")
        .arg(&sp)
        .arg("--batch")
        .arg(&qp)
        .env("NODE_PATH", &t.node_path)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut failures = Vec::new();
    let mut seen = 0;
    for line in stdout.lines() {
        let v: Json = serde_json::from_str(line).expect("kql_check prints JSON lines");
        seen += 1;
        if v["ok"] != json!(true) {
            let id = v["id"].as_str().unwrap_or("?").to_string();
            let q = queries
                .iter()
                .find(|(i, _)| *i == id)
                .map(|(_, q)| q.as_str())
                .unwrap_or("");
            failures.push(format!("{id}: {}\n{q}", v["diagnostics"]));
        }
    }
    assert_eq!(
        seen,
        queries.len(),
        "kql_check answered {seen} of {} queries; stderr: {}",
        queries.len(),
        String::from_utf8_lossy(&out.stderr)
    );
    failures
}

/// schema.yml as the JSON kql_check.js reads.
fn sentinel_schema() -> Json {
    let text = std::fs::read_to_string(root().join("targets/kql/schema.yml")).expect("schema.yml");
    let y: serde_yaml::Value = serde_yaml::from_str(&text).expect("schema.yml parses");
    serde_json::to_value(y).expect("schema.yml converts to JSON")
}

/// The rules of rules/ and of the conformance suite (tests/conformance/).
fn library_and_conformance() -> Vec<Rule> {
    std::env::set_current_dir(root()).expect("package root");
    let report = sigil_driver::check(&[PathBuf::from("rules"), PathBuf::from("tests/conformance")]);
    report.rules
}

fn library() -> Vec<Rule> {
    std::env::set_current_dir(root()).expect("package root");
    let report = sigil_driver::check(&[PathBuf::from("rules")]);
    assert_eq!(report.errors(), 0, "rules/ must check clean");
    report.rules
}

#[test]
fn library_rules_type_check_with_the_default_mapping() {
    let Some(t) = tools() else { return };
    let rules = library();
    let m = Mapping::builtin("kql", Profile::Default).expect("built-in mapping");
    let mut queries = Vec::new();
    for r in &rules {
        let label = r.meta.name.clone().unwrap_or_else(|| r.meta.title.clone());
        match compile_rule(kql(), &m, r, false) {
            Ok(c) => queries.push((label, c.query)),
            Err(d) => eprintln!(
                "not compiled (mapping or refusal): {label}: {}",
                d.first().map(|d| d.message.as_str()).unwrap_or("")
            ),
        }
    }
    assert!(
        queries.len() >= 10,
        "only {} library rules compiled",
        queries.len()
    );
    let failures = kql_check(&t, &sentinel_schema(), &queries, "default");
    assert!(
        failures.is_empty(),
        "Kusto.Language errors:\n{}",
        failures.join("\n\n")
    );
}

/// The table a pass-through compile reads for a log source (the backend's stand-in name).
fn passthrough_table(ls: &LogSource) -> String {
    let parts: Vec<&str> = [&ls.product, &ls.service, &ls.category]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    sigil_backend::text::identifier(&parts.join("_"))
}

/// A Kusto type for a column from the JSON values it holds.
fn kusto_type(values: &[&Json]) -> &'static str {
    let mut kinds = BTreeSet::new();
    for v in values {
        kinds.insert(match v {
            Json::Null => continue,
            Json::Bool(_) => "bool",
            Json::Number(n) if n.is_i64() || n.is_u64() => "long",
            Json::Number(_) => "real",
            Json::String(_) => "string",
            Json::Array(_) | Json::Object(_) => "dynamic",
        });
    }
    let v: Vec<&str> = kinds.into_iter().collect();
    match v.as_slice() {
        [] => "string",
        [one] => one,
        ["long", "real"] => "real",
        many if many.contains(&"dynamic") => "dynamic",
        _ => "string",
    }
}

/// Events of every fixture case of `rule`: (case name, events).
fn fixture_events(rule: &Rule) -> Vec<(String, Vec<sigil_eval::Event>)> {
    let Some(rel) = &rule.meta.fixtures else {
        return Vec::new();
    };
    let path = sigil_driver::relative_to(&rule.origin.file, rel);
    let fname = path.display().to_string();
    let text = std::fs::read_to_string(&path).expect("fixture file");
    let (fx, _) = sigil_syntax::fixture::parse_fixture(&fname, &text);
    let Some(fx) = fx else { return Vec::new() };
    fx.cases
        .iter()
        .map(|c| {
            (
                c.name.value.clone(),
                sigil_driver::fixtures::case_events(&fname, c).expect("fixture events"),
            )
        })
        .collect()
}

fn iso(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // civil-from-days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// Table -> column -> Kusto type.
type Schema = BTreeMap<String, BTreeMap<String, &'static str>>;
/// Table -> events.
type Rows = BTreeMap<String, Vec<Json>>;

/// One table per log source, holding the fixture events of `rules` with the evaluator's
/// time as `TimeGenerated` and a unique `_sigil_id`; returns the schema and the rows.
fn tables(rules: &[&Rule]) -> (Schema, Rows) {
    let mut rows: Rows = BTreeMap::new();
    for r in rules {
        for (case, events) in fixture_events(r) {
            add_rows(&mut rows, r, &events, &format!("{case}#"));
        }
    }
    (schema_of(&rows), rows)
}

/// Adds `events` as rows of every passthrough table `rule` reads (EVTX flattened for
/// Windows rules, dotted keys expanded, the evaluator's time as `TimeGenerated`, ids
/// `<prefix><index>#<event id>`).
fn add_rows(rows: &mut Rows, rule: &Rule, events: &[sigil_eval::Event], prefix: &str) {
    let mut sources = BTreeSet::new();
    let mut windows = false;
    rule.query.for_each_search(&mut |s| {
        sources.insert(passthrough_table(&s.source));
        windows |= s.source.product.as_deref() == Some("windows");
    });
    for (i, e) in events.iter().enumerate() {
        let mut v = (*e.value).clone();
        if windows {
            flatten_evtx(&mut v);
        }
        expand_dotted(&mut v);
        let Json::Object(o) = &mut v else { continue };
        if let Some(t) = e.time {
            o.insert("TimeGenerated".into(), json!(iso(t)));
        }
        o.insert("_sigil_id".into(), json!(format!("{prefix}{i}#{}", e.id)));
        for t in &sources {
            rows.entry(t.clone()).or_default().push(v.clone());
        }
    }
}

/// An EVTX-layout event (docs/semantics.md §1.4) as a flat record, as Sentinel's Windows
/// tables hold it: `Event.EventData` and `Event.System` members (their `#text`) at the top
/// level, where the event does not already have the key.
fn flatten_evtx(v: &mut Json) {
    let Some(ev) = v.get("Event").cloned() else {
        return;
    };
    let Json::Object(top) = v else { return };
    for part in ["EventData", "System"] {
        if let Some(Json::Object(m)) = ev.get(part) {
            for (k, x) in m {
                if let Some(Json::Object(attrs)) = x.get("#attributes") {
                    for (a, av) in attrs {
                        top.entry(format!("{k}_{a}")).or_insert(av.clone());
                    }
                }
                let x = match x {
                    Json::Object(o) if o.contains_key("#text") => o["#text"].clone(),
                    other => other.clone(),
                };
                top.entry(k.clone()).or_insert(x);
            }
        }
    }
    if let Some(Json::Object(ud)) = ev.get("UserData") {
        for child in ud.values() {
            if let Json::Object(m) = child {
                for (k, x) in m {
                    top.entry(k.clone()).or_insert(x.clone());
                }
            }
        }
    }
}

/// An event as a KQL table holds it (EVTX flattened for Windows sources, dotted keys nested).
fn layout(v: &Json, windows: bool) -> Json {
    let mut v = v.clone();
    if windows {
        flatten_evtx(&mut v);
    }
    expand_dotted(&mut v);
    v
}

/// Puts `val` at `parts` below `o` unless something is already there.
fn insert_path(o: &mut serde_json::Map<String, Json>, parts: &[&str], val: Json) {
    match parts {
        [] => {}
        [last] => {
            o.entry(last.to_string()).or_insert(val);
        }
        [first, rest @ ..] => {
            if let Json::Object(m) = o.entry(first.to_string()).or_insert_with(|| json!({})) {
                insert_path(m, rest, val);
            }
        }
    }
}

/// Literal dotted keys (`{"dns.question.name": …}`) as nested objects, merged with those the
/// event has: how a KQL table with dynamic columns holds such an event (Sigil reads both
/// forms, docs/semantics.md §1.1; a KQL path reads nested objects).
fn expand_dotted(v: &mut Json) {
    let Json::Object(o) = v else { return };
    for x in o.values_mut() {
        expand_dotted(x);
    }
    let dotted: Vec<String> = o.keys().filter(|k| k.contains('.')).cloned().collect();
    for k in dotted {
        let Some(val) = o.get(&k).cloned() else {
            continue;
        };
        let parts: Vec<&str> = k.split('.').collect();
        insert_path(o, &parts, val);
    }
}

/// Column types of every table from the values its events hold.
fn schema_of(rows: &Rows) -> Schema {
    let mut schema = BTreeMap::new();
    for (t, evs) in rows {
        let mut cols: BTreeMap<String, Vec<&Json>> = BTreeMap::new();
        for e in evs {
            if let Json::Object(o) = e {
                for (k, v) in o {
                    cols.entry(k.clone()).or_default().push(v);
                }
            }
        }
        // DuckDB column names ignore case: of `ProcessId` and `ProcessID` only the first is
        // loaded (kql_exec drops undeclared keys).
        let mut lower = BTreeSet::new();
        let mut spec: BTreeMap<String, &'static str> = cols
            .iter()
            .filter(|(k, _)| lower.insert(k.to_lowercase()))
            .map(|(k, v)| (k.clone(), kusto_type(v)))
            .collect();
        spec.insert("TimeGenerated".into(), "datetime");
        spec.insert("_sigil_id".into(), "string");
        schema.insert(t.clone(), spec);
    }
    schema
}

fn passthrough() -> Mapping {
    Mapping::passthrough("kql", "TimeGenerated")
}

#[test]
fn fixture_rules_type_check_with_passthrough_names() {
    let Some(t) = tools() else { return };
    let rules = library_and_conformance();
    let with_fixtures: Vec<&Rule> = rules.iter().filter(|r| r.meta.fixtures.is_some()).collect();
    let all: Vec<&Rule> = rules.iter().collect();
    let (schema, _) = tables(&all);
    let m = passthrough();
    let mut queries = Vec::new();
    for r in &with_fixtures {
        let label = r.meta.name.clone().unwrap_or_else(|| r.meta.title.clone());
        match compile_rule(kql(), &m, r, false) {
            Ok(c) => queries.push((label, c.query)),
            Err(d) => eprintln!(
                "refused: {label}: {}",
                d.first().map(|d| d.message.as_str()).unwrap_or("")
            ),
        }
    }
    // Columns a rule reads that its fixture events lack exist in a real table: string, or
    // dynamic when read as a path.
    let mut schema = schema;
    for r in &with_fixtures {
        let mut fields: Vec<(String, String)> = Vec::new();
        if let Ok(mapped) = map_rule(r, &m) {
            // The mapped rule lists every key of every input explicitly.
            collect_fields(&mapped.rule.query, &mut fields);
        }
        for (table, f) in fields {
            let cols = schema.entry(table).or_default();
            let (col, ty) = match f.split_once('.') {
                Some((c, _)) => (c.to_string(), "dynamic"),
                None => (f.clone(), "string"),
            };
            cols.entry(col).or_insert(ty);
        }
    }
    let schema = json!({"database": "db", "tables": schema});
    let failures = kql_check(&t, &schema, &queries, "passthrough");
    assert!(
        failures.is_empty(),
        "Kusto.Language errors:\n{}",
        failures.join("\n\n")
    );
}

/// Every (pass-through table, field) a query reads: predicate fields and input aliases.
fn collect_fields(q: &Query, out: &mut Vec<(String, String)>) {
    q.for_each_search(&mut |s| {
        let t = passthrough_table(&s.source);
        s.expr.for_each_pred(&mut |p| {
            if let sigil_ir::Target::Field(f) = &p.target {
                out.push((t.clone(), f.clone()));
            }
        });
    });
    for input in q.inputs() {
        if let Query::Match(s) = &*input.query {
            let t = passthrough_table(&s.source);
            for f in input.fields.values().flatten() {
                out.push((t.clone(), f.clone()));
            }
        }
        collect_fields(&input.query, out);
    }
}

/// Strings that try to break out of a literal.
fn adversarial() -> Vec<String> {
    let mut v: Vec<String> = [
        "\"",
        "\\",
        "\\\"",
        "\"; drop",
        "a\" or true or \"",
        "x\n| take 1",
        "\r\n",
        "|",
        "[\"x\"]",
        "']",
        "@\"",
        "\"\"",
        "\\\\\"",
        "{}",
        "$(x)",
        "`",
        "'",
        "\u{0}",
        "\u{1}",
        "\u{1f}",
        "\u{7f}",
        "\u{85}",
        "\u{2028}",
        "\u{2029}",
        "\u{feff}",
        "é",
        "ß",
        "Σ",
        "😀",
        "\u{10ffff}",
        "a*b?c",
        "*",
        "?",
        "%",
        "_",
        "/",
        "// comment",
        "/* c */",
        "\t",
        "\\u0041",
        "\\x41",
        "\\n",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push((0u8..32).map(|b| b as char).collect());
    v.push("\"\\".repeat(20));
    v
}

/// A rule document whose `eventName` tests hold `value` in every form a value reaches KQL.
fn adversarial_rule(value: &str, i: usize) -> String {
    let esc: String = value
        .chars()
        .flat_map(|c| match c {
            '*' | '?' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    let doc = json!({
        "title": format!("adversarial {i}"),
        "name": format!("adversarial_{i}"),
        "logsource": {"product": "aws", "service": "cloudtrail"},
        "detection": {
            "a": {"eventName|cased": esc.clone()},
            "b": {"eventName|contains": esc.clone()},
            "c": {"eventName": format!("{esc}*{esc}")},
            "d": {"eventName|re": regex_escape(value, RegexDialect::Perl)},
            "e": {"eventName": [esc.clone(), format!("{esc}x")]},
            "condition": "a or b or c or d or not e",
        },
    });
    serde_yaml::to_string(&doc).expect("yaml")
}

/// A node script printing, for each line of a JSONL file of `{query, want}`, whether one
/// of the string literals of the query decodes (Kusto.Language's own literal value) to
/// exactly `want`, and how many parse errors the query has.
const LITERAL_CHECK: &str = r#"
const fs = require('fs');
require('@kusto/language-service-next/bridge.js');
require('@kusto/language-service-next/Kusto.Language.Bridge.js');
const K = global.Kusto.Language;
for (const line of fs.readFileSync(process.argv[2], 'utf8').split('\n')) {
  if (!line.trim()) continue;
  const item = JSON.parse(line);
  const code = K.KustoCode.Parse(item.query);
  const found = [];
  (function walk(n) {
    if (!n) return;
    for (let i = 0; i < n.ChildCount; i++) walk(n.GetChild(i));
    if (typeof n.LiteralValue === 'string' && n.ChildCount === 1) found.push(n.LiteralValue);
  })(code.Syntax);
  const errors = code.GetDiagnostics().Count;
  console.log(JSON.stringify({ ok: errors === 0 && found.includes(item.want), found, errors }));
}
"#;

#[test]
fn adversarial_values_stay_one_literal() {
    let Some(t) = tools() else { return };
    let values = adversarial();
    // Whole rules through the pipeline, default mapping: zero errors.
    let m = Mapping::builtin("kql", Profile::Default).expect("built-in mapping");
    let mut queries = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let text = adversarial_rule(v, i);
        let (file, diags) = sigil_syntax::parse_file("adversarial.yml", &text);
        assert!(
            diags.iter().all(|d| !d.is_error()),
            "{v:?}: {diags:?}\n{text}"
        );
        let lowered = sigil_lower::lower_files(&[file]);
        let rule = lowered.rules.last().expect("lowered");
        let mapped = map_rule(rule, &m).expect("maps");
        let c = compile(kql(), &mapped, false).expect("compiles");
        queries.push((format!("value {i} {v:?}"), c.query));
    }
    let failures = kql_check(&t, &sentinel_schema(), &queries, "adversarial");
    assert!(
        failures.is_empty(),
        "Kusto.Language errors:\n{}",
        failures.join("\n\n")
    );
    // The value reaches the query as one literal holding exactly it (the cased equality).
    let dir = scratch("literals");
    let script = dir.join("literal_check.js");
    std::fs::write(&script, LITERAL_CHECK).expect("script");
    let data = dir.join("literals.jsonl");
    let mut body = String::new();
    for ((_, q), v) in queries.iter().zip(&values) {
        body.push_str(&json!({"query": q, "want": v}).to_string());
        body.push('\n');
    }
    std::fs::write(&data, body).expect("data");
    let out = Command::new("node")
        .arg(&script)
        .arg(&data)
        .env("NODE_PATH", &t.node_path)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let answers: Vec<Json> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(
        answers.len(),
        values.len(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(
            a["ok"],
            json!(true),
            "value {:?} is not one literal of its query: {}\n{}",
            values[i],
            a,
            queries[i].1
        );
    }
}

/// A driver that runs many queries in one Python process with `kql_exec.py`'s own table
/// loading (`load_table`) and duckdb-kql: one job per line on stdin, one answer per line.
const EXEC_DRIVER: &str = r#"
import sys, json, importlib.util
spec = importlib.util.spec_from_file_location("kql_exec", sys.argv[1])
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
import duckdb_kql
from duckdb_kql import KqlSyntaxError, KqlUnsupportedError
for line in sys.stdin:
    job = json.loads(line)
    try:
        con = duckdb_kql.connect()
        for name, t in job["tables"].items():
            m.load_table(con, name, t["path"], t["columns"])
        rel = duckdb_kql.kql(con, job["query"])
        cols = rel.columns
        rows = [{c: m.jsonable(v) for c, v in zip(cols, r)} for r in rel.fetchall()]
        out = {"ok": True, "rows": rows}
        con.close()
    except KqlUnsupportedError as e:
        out = {"ok": False, "code": 3, "error": "KqlUnsupportedError: " + str(e)}
    except KqlSyntaxError as e:
        out = {"ok": False, "code": 2, "error": "KqlSyntaxError: " + str(e)}
    except Exception as e:
        out = {"ok": False, "code": 1, "error": type(e).__name__ + ": " + str(e)}
    print(json.dumps(out, default=str), flush=True)
"#;

/// duckdb-kql behind [`EXEC_DRIVER`].
struct Exec {
    child: std::process::Child,
    out: std::io::BufReader<std::process::ChildStdout>,
    dir: PathBuf,
    jobs: usize,
}

impl Exec {
    fn start(t: &Tools) -> Exec {
        let dir = scratch("exec");
        let script = dir.join("driver.py");
        std::fs::write(&script, EXEC_DRIVER).expect("driver");
        let mut child = Command::new(&t.python)
            .arg(&script)
            .arg(t.shared.join("validators/kql_exec.py"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python runs");
        let out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        Exec {
            child,
            out,
            dir,
            jobs: 0,
        }
    }

    /// The rows of `query` over `rows` (columns typed by `schema`), or the error as
    /// `exit Some(code): message` (code 3: a construct duckdb-kql does not implement).
    fn run(&mut self, query: &str, schema: &Schema, rows: &Rows) -> Result<Vec<Json>, String> {
        use std::io::{BufRead, Write};
        self.jobs += 1;
        let mut tables = serde_json::Map::new();
        for (name, evs) in rows {
            let p = self.dir.join(format!("{}-{name}.ndjson", self.jobs));
            let body: String = evs.iter().map(|e| e.to_string() + "\n").collect();
            std::fs::write(&p, body).expect("events");
            tables.insert(
                name.clone(),
                json!({"path": p.display().to_string(), "columns": schema.get(name)}),
            );
        }
        let job = json!({"query": query, "tables": tables});
        let stdin = self.child.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{job}").expect("job written");
        stdin.flush().expect("flush");
        let mut line = String::new();
        self.out.read_line(&mut line).expect("answer");
        let v: Json =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("driver answer {line:?}: {e}"));
        if v["ok"] == json!(true) {
            Ok(v["rows"].as_array().cloned().unwrap_or_default())
        } else {
            Err(format!(
                "exit Some({}): {}",
                v["code"],
                v["error"].as_str().unwrap_or("")
            ))
        }
    }
}

impl Drop for Exec {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// Runs `query`; the `_sigil_id`s it returns, or why not.
fn kql_exec(
    ex: &mut Exec,
    query: &str,
    schema: &Schema,
    rows: &Rows,
) -> Result<BTreeSet<String>, String> {
    Ok(ex
        .run(query, schema, rows)?
        .iter()
        .filter_map(|v| v["_sigil_id"].as_str().map(str::to_string))
        .collect())
}

#[test]
fn match_rules_find_the_evaluators_events_in_duckdb_kql() {
    let Some(t) = tools() else { return };
    let mut ex = Exec::start(&t);
    let rules = library_and_conformance();
    let m = passthrough();
    let mut checked = 0;
    let mut excused = Vec::new();
    let mut unsupported = Vec::new();
    let mut failures = Vec::new();
    for r in rules.iter().filter(|r| r.meta.fixtures.is_some()) {
        let Query::Match(_) = &r.query else { continue };
        let label = r.meta.name.clone().unwrap_or_else(|| r.meta.title.clone());
        let mut bare = r.clone();
        bare.outputs.clear();
        let mapped = map_rule(&bare, &m).expect("maps");
        let compiled = match compile(kql(), &mapped, false) {
            Ok(c) => c,
            Err(d) => {
                // A refusal is an honest answer (docs/targets/kql.md lists them).
                unsupported.push(format!(
                    "{label}: refused: {}",
                    d.first().map(|d| d.message.as_str()).unwrap_or("")
                ));
                continue;
            }
        };
        let (schema, rows) = tables(&[&bare]);
        let query = format!("{}| project _sigil_id\n", compiled.query);
        let got = match kql_exec(&mut ex, &query, &schema, &rows) {
            Ok(g) => g,
            Err(e) if e.starts_with("exit Some(3)") => {
                // duckdb-kql does not implement a construct (ipv4_is_in_range, `* contains`):
                // the query is type-checked only.
                unsupported.push(format!("{label}: {}", e.lines().last().unwrap_or("")));
                continue;
            }
            Err(e) => {
                failures.push(format!("{label}: duckdb-kql: {e}\n{query}"));
                continue;
            }
        };
        let mut want = BTreeSet::new();
        for (case, events) in fixture_events(&bare) {
            let alerts = sigil_driver::fixtures::evaluate(&bare, &events).expect("evaluates");
            for (i, e) in events.iter().enumerate() {
                if alerts.iter().any(|a| a.events.contains(&e.id)) {
                    want.insert(format!("{case}#{i}#{}", e.id));
                }
            }
        }
        checked += 1;
        if got != want {
            let extra: Vec<&String> = got.difference(&want).collect();
            let missing: Vec<&String> = want.difference(&got).collect();
            let msg = format!(
                "{label}: KQL also returns {extra:?}; KQL misses {missing:?}\n{}",
                compiled.query
            );
            if compiled.notes.is_empty() {
                failures.push(msg);
            } else {
                let notes: Vec<String> = compiled.notes.iter().map(|n| n.message.clone()).collect();
                excused.push(format!("{msg}\n  excused by: {notes:?}"));
            }
        }
    }
    eprintln!(
        "{checked} match rules ran in duckdb-kql, {} excused, {} refused or not executable there",
        excused.len(),
        unsupported.len()
    );
    for u in &unsupported {
        eprintln!("not run: {u}");
    }
    for e in &excused {
        eprintln!("excused: {e}");
    }
    assert!(checked >= 5, "only {checked} match rules ran");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn backend_name_is_kql() {
    assert_eq!(kql().name(), "kql");
    assert!(Path::new(&root().join("docs/targets/kql.md")).exists());
}

/// Thresholds over plain searches, per fixture case: the groups and counts of the KQL rows
/// must be the evaluator's alerts' (tumbling windows), or the rule must carry a note
/// (sliding windows are approximated). duckdb-kql lacks `count_distinctif`, so the test runs
/// `dcountif` in its place (exact at these sizes).
#[test]
fn thresholds_find_the_evaluators_groups_in_duckdb_kql() {
    let Some(t) = tools() else { return };
    let mut ex = Exec::start(&t);
    let rules = library_and_conformance();
    // Columns of every fixture, so an input whose table this case leaves empty still has
    // the columns it reads (as a real table would).
    let (all_columns, _) = tables(&rules.iter().collect::<Vec<_>>());
    let m = passthrough();
    let mut checked = 0;
    let mut excused = Vec::new();
    let mut unsupported: Vec<String> = Vec::new();
    let mut failures = Vec::new();
    for r in rules.iter().filter(|r| r.meta.fixtures.is_some()) {
        let Query::Threshold(th) = &r.query else {
            continue;
        };
        if !th
            .inputs
            .iter()
            .all(|i| matches!(*i.query, Query::Match(_)))
        {
            continue;
        }
        let label = r.meta.name.clone().unwrap_or_else(|| r.meta.title.clone());
        // Outputs (make_set_if, array_sort_asc) are not in duckdb-kql; the groups are.
        let mut bare = r.clone();
        bare.outputs.clear();
        let mapped = map_rule(&bare, &m).expect("maps");
        let compiled = match compile(kql(), &mapped, false) {
            Ok(c) => c,
            Err(d) => {
                failures.push(format!("{label}: refused: {d:?}"));
                continue;
            }
        };
        if compiled.query.contains("scan declare (") {
            // An exact sliding count: a scan fold, which duckdb-kql cannot run (the fold test
            // evaluates it instead).
            continue;
        }
        let query = compiled.query.replace("count_distinctif(", "dcountif(");
        for (case, events) in fixture_events(r) {
            let (mut schema, rows) = case_tables(r, &events);
            for (t, cols) in schema.iter_mut() {
                if let Some(all) = all_columns.get(t) {
                    for (c, ty) in all {
                        if !cols.keys().any(|k| k.eq_ignore_ascii_case(c)) {
                            cols.insert(c.clone(), ty);
                        }
                    }
                }
            }
            let got = match ex.run(&query, &schema, &rows) {
                Ok(g) => g,
                Err(e) if e.starts_with("exit Some(3)") => {
                    unsupported.push(format!("{label}: {}", e.lines().last().unwrap_or("")));
                    continue;
                }
                Err(e) => {
                    failures.push(format!("{label} / {case}: duckdb-kql: {e}\n{query}"));
                    continue;
                }
            };
            let mut got: Vec<String> = got
                .iter()
                .map(|row| {
                    let keys: BTreeMap<String, String> = th
                        .group_by
                        .iter()
                        .map(|k| (k.clone(), row[k].as_str().unwrap_or("").to_string()))
                        .collect();
                    format!("{keys:?} count {}", row["event_count"])
                })
                .collect();
            got.sort();
            let alerts = sigil_driver::fixtures::evaluate(r, &events).expect("evaluates");
            let mut want: Vec<String> = alerts
                .iter()
                .map(|a| {
                    let keys: BTreeMap<String, String> = a.group.clone();
                    format!("{keys:?} count {}", a.count)
                })
                .collect();
            want.sort();
            checked += 1;
            if got != want {
                let msg = format!("{label} / {case}: KQL {got:?}, Sigil {want:?}");
                if compiled.notes.is_empty() {
                    failures.push(format!("{msg}\n{query}"));
                } else {
                    let notes: Vec<String> = compiled
                        .notes
                        .iter()
                        .map(|n| n.construct.to_string())
                        .collect();
                    excused.push(format!("{msg} (notes: {notes:?})"));
                }
            }
        }
    }
    unsupported.dedup();
    eprintln!(
        "{checked} threshold cases ran in duckdb-kql, {} excused; not executable there: {unsupported:?}",
        excused.len()
    );
    for e in &excused {
        eprintln!("excused: {e}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(checked >= 5, "only {checked} threshold cases ran");
}

/// The tables of one fixture case.
fn case_tables(rule: &Rule, events: &[sigil_eval::Event]) -> (Schema, Rows) {
    let mut rows: Rows = BTreeMap::new();
    add_rows(&mut rows, rule, events, "");
    (schema_of(&rows), rows)
}

/// A value of the scan fold's expressions: times and durations in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
enum V {
    Null,
    B(bool),
    I(i64),
}

/// A tiny evaluator for the expressions the backend writes in its scan folds (`iff`,
/// `and`/`or`, comparisons, `+`/`-`, `min_of`, `isnotnull`, `datetime(null)`, durations,
/// `s.` state references), with Kusto's null rules. It runs the generated fold over fixture
/// rows, so the fold's *text* is checked against the evaluator; `scan` itself (a one-step
/// cumulative fold, Microsoft Learn's scan examples) is not executable offline.
struct Fold<'a> {
    toks: Vec<String>,
    pos: usize,
    row: &'a BTreeMap<String, V>,
    state: &'a BTreeMap<String, V>,
}

fn tokenize(s: &str) -> Vec<String> {
    let c: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch.is_ascii_alphanumeric() || ch == '_' || ch == '.' {
            let st = i;
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '_' || c[i] == '.') {
                i += 1;
            }
            out.push(c[st..i].iter().collect());
        } else if i + 1 < c.len()
            && ["==", "!=", "<=", ">="].contains(&format!("{ch}{}", c[i + 1]).as_str())
        {
            out.push(format!("{ch}{}", c[i + 1]));
            i += 2;
        } else {
            out.push(ch.to_string());
            i += 1;
        }
    }
    out
}

fn duration_ms(t: &str) -> Option<i64> {
    let digits: String = t.chars().take_while(|c| c.is_ascii_digit()).collect();
    let unit = &t[digits.len()..];
    let n: i64 = digits.parse().ok()?;
    Some(match unit {
        "" => return None,
        "ms" => n,
        "s" => n * 1000,
        "m" => n * 60_000,
        "h" => n * 3_600_000,
        "d" => n * 86_400_000,
        _ => return None,
    })
}

impl Fold<'_> {
    fn peek(&self) -> &str {
        self.toks.get(self.pos).map(String::as_str).unwrap_or("")
    }
    fn eat(&mut self, t: &str) {
        assert_eq!(
            self.peek(),
            t,
            "fold parser: expected {t} at {:?}",
            &self.toks[self.pos..]
        );
        self.pos += 1;
    }
    fn expr(&mut self) -> V {
        let mut l = self.and();
        while self.peek() == "or" {
            self.pos += 1;
            let r = self.and();
            l = match (l, r) {
                (V::B(true), _) | (_, V::B(true)) => V::B(true),
                (V::B(false), V::B(false)) => V::B(false),
                _ => V::Null,
            };
        }
        l
    }
    fn and(&mut self) -> V {
        let mut l = self.cmp();
        while self.peek() == "and" {
            self.pos += 1;
            let r = self.cmp();
            l = match (l, r) {
                (V::B(false), _) | (_, V::B(false)) => V::B(false),
                (V::B(true), V::B(true)) => V::B(true),
                _ => V::Null,
            };
        }
        l
    }
    fn cmp(&mut self) -> V {
        let l = self.add();
        let op = self.peek().to_string();
        if !["==", "!=", "<=", ">=", "<", ">"].contains(&op.as_str()) {
            return l;
        }
        self.pos += 1;
        let r = self.add();
        match (l, r) {
            (V::I(a), V::I(b)) => V::B(match op.as_str() {
                "==" => a == b,
                "!=" => a != b,
                "<=" => a <= b,
                ">=" => a >= b,
                "<" => a < b,
                _ => a > b,
            }),
            (V::B(a), V::B(b)) if op == "==" => V::B(a == b),
            _ => V::Null,
        }
    }
    fn add(&mut self) -> V {
        let mut l = self.primary();
        while self.peek() == "+" || self.peek() == "-" {
            let plus = self.peek() == "+";
            self.pos += 1;
            let r = self.primary();
            l = match (l, r) {
                (V::I(a), V::I(b)) => V::I(if plus { a + b } else { a - b }),
                _ => V::Null,
            };
        }
        l
    }
    fn args(&mut self) -> Vec<V> {
        self.eat("(");
        let mut v = vec![self.expr()];
        while self.peek() == "," {
            self.pos += 1;
            v.push(self.expr());
        }
        self.eat(")");
        v
    }
    fn primary(&mut self) -> V {
        let t = self.peek().to_string();
        self.pos += 1;
        match t.as_str() {
            "(" => {
                let v = self.expr();
                self.eat(")");
                v
            }
            "iff" => {
                let a = self.args();
                if a[0] == V::B(true) { a[1] } else { a[2] }
            }
            "min_of" => self
                .args()
                .into_iter()
                .filter_map(|v| if let V::I(i) = v { Some(i) } else { None })
                .min()
                .map(V::I)
                .unwrap_or(V::Null),
            "isnotnull" => V::B(self.args()[0] != V::Null),
            "datetime" => {
                self.eat("(");
                self.eat("null");
                self.eat(")");
                V::Null
            }
            "true" => V::B(true),
            "false" => V::B(false),
            _ => {
                if let Some(ms) = duration_ms(&t) {
                    V::I(ms)
                } else if let Ok(i) = t.parse::<i64>() {
                    V::I(i)
                } else if let Some(name) = t.strip_prefix("s.") {
                    *self
                        .state
                        .get(name)
                        .unwrap_or_else(|| panic!("unknown state {name}"))
                } else {
                    *self
                        .row
                        .get(&t)
                        .unwrap_or_else(|| panic!("unknown column {t}"))
                }
            }
        }
    }
}

/// The declared columns (with defaults) and the assignments of a generated scan fold.
/// Declared columns with defaults, and assignments (column, expression text).
type FoldText = (Vec<(String, V)>, Vec<(String, String)>);

fn fold_of(query: &str) -> FoldText {
    // The last fold is the rule's own (inner correlations' folds come first, in `let`s).
    let d0 = query.rfind("scan declare (").expect("a scan fold") + "scan declare (".len();
    let d1 = query[d0..].find(") with (").expect("with") + d0;
    let mut decl = Vec::new();
    for part in query[d0..d1].split(", ") {
        let (name, rest) = part.split_once(':').expect("name:type");
        let default = match rest.split_once(" = ") {
            Some((_, "false")) => V::B(false),
            Some((_, n)) => V::I(n.parse().expect("number")),
            None => V::Null,
        };
        decl.push((name.to_string(), default));
    }
    let a0 = query[d1..].find("step s: true => ").expect("step") + d1 + "step s: true => ".len();
    let a1 = query[a0..].find(";\n").expect("end of step") + a0;
    // Split at top-level commas.
    let text = &query[a0..a1];
    let mut assigns = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, ch) in text.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                assigns.push(text[start..i].to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    assigns.push(text[start..].to_string());
    let assigns = assigns
        .into_iter()
        .map(|a| {
            let (n, e) = a.split_once(" = ").expect("assignment");
            (n.trim().to_string(), e.trim().to_string())
        })
        .collect();
    (decl, assigns)
}

/// The text of a field of a JSON event ("" when absent): the first value found reading the
/// dotted path as keys in any grouping (docs/semantics.md §1.1), as the backend's path
/// (a URL claim kept whole) reads it.
fn text_of(v: &Json, path: &str) -> String {
    fn find<'a>(v: &'a Json, parts: &[&str]) -> Option<&'a Json> {
        if parts.is_empty() {
            return Some(v);
        }
        for n in (1..=parts.len()).rev() {
            if let Some(x) = v.get(parts[..n].join("."))
                && let Some(found) = find(x, &parts[n..])
            {
                return Some(found);
            }
        }
        None
    }
    let parts: Vec<&str> = path.split('.').collect();
    match find(v, &parts) {
        Some(Json::String(s)) => s.clone(),
        Some(Json::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Sequences and unordered correlations of rules/ and tests/conformance/ over their
/// fixtures: the generated scan fold, run by [`Fold`] over the rows the inputs produce (the
/// evaluator decides which events match each input), alerts exactly when and with the counts
/// the evaluator does, unless the rule carries a note.
#[test]
fn sequence_folds_alert_as_the_evaluator_does() {
    std::env::set_current_dir(root()).expect("package root");
    let report = sigil_driver::check(&[PathBuf::from("rules"), PathBuf::from("tests/conformance")]);
    let m = passthrough();
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut excused = Vec::new();
    for r in report.rules.iter().filter(|r| r.meta.fixtures.is_some()) {
        let (keys, inputs): (Vec<String>, Vec<(&sigil_ir::Input, usize)>) = match &r.query {
            Query::Sequence(s) => {
                let mut v: Vec<_> = s
                    .steps
                    .iter()
                    .enumerate()
                    .map(|(i, st)| (&st.input, i))
                    .collect();
                if let Some(u) = &s.until {
                    v.push((u, s.steps.len()));
                }
                (s.by.clone(), v)
            }
            Query::Threshold(t) => (
                t.group_by.clone(),
                t.inputs.iter().map(|i| (i, 0)).collect(),
            ),
            Query::Unordered(u) => (
                u.by.clone(),
                u.inputs.iter().enumerate().map(|(i, x)| (x, i)).collect(),
            ),
            _ => continue,
        };
        let label = r.meta.name.clone().unwrap_or_else(|| r.meta.title.clone());
        let Ok(mapped) = map_rule(r, &m) else {
            continue;
        };
        let compiled = match compile(kql(), &mapped, false) {
            Ok(c) => c,
            Err(d) => {
                eprintln!("{label}: not compiled: {:?}", d.first().map(|d| &d.message));
                continue;
            }
        };
        if !compiled.query.contains("scan declare (") {
            // A threshold summarized by bins (tumbling, or an approximated sliding window).
            continue;
        }
        let (decl, assigns) = fold_of(&compiled.query);
        for (case, events) in fixture_events(r) {
            // Occurrence rows: (key tuple, time, first, count, input).
            let mut rows: Vec<(Vec<String>, i64, i64, i64, usize)> = Vec::new();
            let mut skip = false;
            for (input, tag) in &inputs {
                let mut q = (*input.query).clone();
                if let Query::Threshold(t) = &mut q {
                    // Regrouped by the outer keys (docs/semantics.md §7).
                    t.group_by = keys
                        .iter()
                        .filter_map(|k| input.field(k).map(str::to_string))
                        .collect();
                }
                let mut windows = false;
                input.query.for_each_search(&mut |s| {
                    windows |= s.source.product.as_deref() == Some("windows");
                });
                let sub = Rule {
                    query: q.clone(),
                    outputs: Vec::new(),
                    ..r.clone()
                };
                let alerts = match sigil_driver::fixtures::evaluate(&sub, &events) {
                    Ok(a) => a,
                    Err(_) => {
                        skip = true;
                        break;
                    }
                };
                for a in alerts {
                    let (key, time, first) = match &q {
                        Query::Match(_) => {
                            let Some(e) = events.iter().find(|e| a.events.first() == Some(&e.id))
                            else {
                                continue;
                            };
                            let Some(t) = e.time else { continue };
                            let key = keys
                                .iter()
                                .map(|k| {
                                    input
                                        .field(k)
                                        .map(|f| text_of(&layout(&e.value, windows), f))
                                        .unwrap_or_default()
                                })
                                .collect();
                            (key, t, t)
                        }
                        _ => {
                            let ms = |s: &Option<String>| {
                                s.as_deref().and_then(|s| {
                                    events
                                        .iter()
                                        .filter_map(|e| e.time)
                                        .find(|t| iso(*t).starts_with(&s[..19.min(s.len())]))
                                })
                            };
                            let (Some(t), Some(f)) = (ms(&a.last_seen), ms(&a.first_seen)) else {
                                continue;
                            };
                            let key = keys
                                .iter()
                                .map(|k| {
                                    input
                                        .field(k)
                                        .and_then(|f| a.group.get(f).cloned())
                                        .unwrap_or_default()
                                })
                                .collect();
                            (key, t, f)
                        }
                    };
                    rows.push((key, time, first, a.count as i64, *tag));
                }
            }
            if skip {
                continue;
            }
            rows.retain(|(k, ..)| k.iter().all(|x| !x.is_empty()));
            rows.sort_by_key(|(k, t, _, _, i)| (k.clone(), *t, *i));
            let mut got = Vec::new();
            let mut state: BTreeMap<String, V> = BTreeMap::new();
            let mut current: Option<Vec<String>> = None;
            for (k, t, f, c, i) in &rows {
                if current.as_ref() != Some(k) {
                    state = decl.iter().cloned().collect();
                    current = Some(k.clone());
                }
                let row: BTreeMap<String, V> = [
                    ("_time".to_string(), V::I(*t)),
                    ("_first".to_string(), V::I(*f)),
                    ("_count".to_string(), V::I(*c)),
                    ("_input".to_string(), V::I(*i as i64)),
                ]
                .into_iter()
                .collect();
                let mut next = state.clone();
                for (name, e) in &assigns {
                    let mut p = Fold {
                        toks: tokenize(e),
                        pos: 0,
                        row: &row,
                        state: &state,
                    };
                    let v = p.expr();
                    assert_eq!(p.pos, p.toks.len(), "{label}: unparsed fold text in {e}");
                    next.insert(name.clone(), v);
                }
                state = next;
                if state.get("_fire") == Some(&V::B(true)) {
                    let n = match state.get("event_count") {
                        Some(V::I(n)) => *n,
                        _ => -1,
                    };
                    got.push(format!("{k:?} count {n} at {}", iso(*t)));
                }
            }
            got.sort();
            let alerts = sigil_driver::fixtures::evaluate(r, &events).expect("evaluates");
            let mut want: Vec<String> = alerts
                .iter()
                .map(|a| {
                    let k: Vec<String> = keys
                        .iter()
                        .map(|x| a.group.get(x).cloned().unwrap_or_default())
                        .collect();
                    let at = a.last_seen.clone().or(a.time.clone()).unwrap_or_default();
                    format!("{k:?} count {} at {}", a.count, at)
                })
                .collect();
            want.sort();
            checked += 1;
            let norm = |v: &Vec<String>| {
                v.iter()
                    .map(|s| s.replace(".000Z", "Z"))
                    .collect::<Vec<_>>()
            };
            if norm(&got) != norm(&want) {
                let msg = format!("{label} / {case}: fold {got:?}, Sigil {want:?}");
                if compiled.notes.iter().any(|n| {
                    matches!(
                        n.construct,
                        sigil_backend::Construct::Sequence
                            | sigil_backend::Construct::Unordered
                            | sigil_backend::Construct::Chained
                    )
                }) {
                    excused.push(msg);
                } else {
                    failures.push(msg);
                }
            }
        }
    }
    eprintln!(
        "{checked} sequence, unordered and sliding-count cases folded, {} excused",
        excused.len()
    );
    for e in &excused {
        eprintln!("excused: {e}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 5, "only {checked} cases folded");
}
