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
    let mut rows: BTreeMap<String, Vec<Json>> = BTreeMap::new();
    for r in rules {
        let mut sources = BTreeSet::new();
        let mut windows = false;
        r.query.for_each_search(&mut |s| {
            sources.insert(passthrough_table(&s.source));
            windows |= s.source.product.as_deref() == Some("windows");
        });
        for (case, events) in fixture_events(r) {
            for (i, e) in events.iter().enumerate() {
                let mut v = (*e.value).clone();
                if windows {
                    flatten_evtx(&mut v);
                }
                let Json::Object(o) = &mut v else { continue };
                if let Some(t) = e.time {
                    o.insert("TimeGenerated".into(), json!(iso(t)));
                }
                o.insert("_sigil_id".into(), json!(format!("{case}#{i}#{}", e.id)));
                for t in &sources {
                    rows.entry(t.clone()).or_default().push(v.clone());
                }
            }
        }
    }
    (schema_of(&rows), rows)
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
                let x = match x {
                    Json::Object(o) if o.contains_key("#text") => o["#text"].clone(),
                    other => other.clone(),
                };
                top.entry(k.clone()).or_insert(x);
            }
        }
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
    let rules = library();
    let with_fixtures: Vec<&Rule> = rules.iter().filter(|r| r.meta.fixtures.is_some()).collect();
    let all: Vec<&Rule> = rules.iter().collect();
    let (schema, _) = tables(&all);
    let m = passthrough();
    let mut queries = Vec::new();
    for r in &with_fixtures {
        let label = r.meta.name.clone().unwrap_or_else(|| r.meta.title.clone());
        match compile_rule(kql(), &m, r, false) {
            Ok(c) => queries.push((label, c.query)),
            Err(d) => panic!("{label} does not compile with pass-through names: {d:?}"),
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

/// Runs `query` in duckdb-kql over `tables`; the `_sigil_id`s it returns, or why not.
fn kql_exec(
    t: &Tools,
    query: &str,
    schema: &Schema,
    rows: &Rows,
    tag: &str,
) -> Result<BTreeSet<String>, String> {
    let dir = scratch(tag);
    let sp = dir.join("schema.json");
    std::fs::write(&sp, json!({"tables": schema}).to_string()).expect("schema");
    let qp = dir.join("query.kql");
    std::fs::write(&qp, query).expect("query");
    let mut cmd = Command::new(&t.python);
    cmd.arg(t.shared.join("validators/kql_exec.py"))
        .arg(format!("@{}", qp.display()))
        .arg("--schema")
        .arg(&sp);
    for (name, evs) in rows {
        let p = dir.join(format!("{name}.ndjson"));
        let body: String = evs.iter().map(|e| e.to_string() + "\n").collect();
        std::fs::write(&p, body).expect("events");
        cmd.arg("--table").arg(format!("{name}={}", p.display()));
    }
    let out = cmd.output().expect("python runs");
    if !out.status.success() {
        return Err(format!(
            "exit {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Json>(l).ok())
        .filter_map(|v| v["_sigil_id"].as_str().map(str::to_string))
        .collect())
}

#[test]
fn match_rules_find_the_evaluators_events_in_duckdb_kql() {
    let Some(t) = tools() else { return };
    let rules = library();
    let m = passthrough();
    let mut checked = 0;
    let mut excused = Vec::new();
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
                failures.push(format!("{label}: refused: {d:?}"));
                continue;
            }
        };
        let (schema, rows) = tables(&[&bare]);
        let query = format!("{}| project _sigil_id\n", compiled.query);
        let got = match kql_exec(&t, &query, &schema, &rows, &label) {
            Ok(g) => g,
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
        "{checked} match rules ran in duckdb-kql, {} excused",
        excused.len()
    );
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

/// Runs `query` and returns its rows.
fn kql_rows(
    t: &Tools,
    query: &str,
    schema: &Schema,
    rows: &Rows,
    tag: &str,
) -> Result<Vec<Json>, String> {
    let dir = scratch(tag);
    let sp = dir.join("schema.json");
    std::fs::write(&sp, json!({"tables": schema}).to_string()).expect("schema");
    let qp = dir.join("query.kql");
    std::fs::write(&qp, query).expect("query");
    let mut cmd = Command::new(&t.python);
    cmd.arg(t.shared.join("validators/kql_exec.py"))
        .arg(format!("@{}", qp.display()))
        .arg("--schema")
        .arg(&sp);
    for (name, evs) in rows {
        let p = dir.join(format!("{name}.ndjson"));
        let body: String = evs.iter().map(|e| e.to_string() + "\n").collect();
        std::fs::write(&p, body).expect("events");
        cmd.arg("--table").arg(format!("{name}={}", p.display()));
    }
    let out = cmd.output().expect("python runs");
    if !out.status.success() {
        return Err(format!(
            "exit {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Json>(l).ok())
        .collect())
}

/// Thresholds over plain searches, per fixture case: the groups and counts of the KQL rows
/// must be the evaluator's alerts' (tumbling windows), or the rule must carry a note
/// (sliding windows are approximated). duckdb-kql lacks `count_distinctif`, so the test runs
/// `dcountif` in its place (exact at these sizes).
#[test]
fn thresholds_find_the_evaluators_groups_in_duckdb_kql() {
    let Some(t) = tools() else { return };
    let rules = library();
    // Columns of every fixture, so an input whose table this case leaves empty still has
    // the columns it reads (as a real table would).
    let (all_columns, _) = tables(&rules.iter().collect::<Vec<_>>());
    let m = passthrough();
    let mut checked = 0;
    let mut excused = Vec::new();
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
            let got = match kql_rows(&t, &query, &schema, &rows, &format!("{label}-{case}")) {
                Ok(g) => g,
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
    eprintln!(
        "{checked} threshold cases ran in duckdb-kql, {} excused",
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
    let mut sources = BTreeSet::new();
    let mut windows = false;
    rule.query.for_each_search(&mut |s| {
        sources.insert(passthrough_table(&s.source));
        windows |= s.source.product.as_deref() == Some("windows");
    });
    let mut rows: Rows = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        let mut v = (*e.value).clone();
        if windows {
            flatten_evtx(&mut v);
        }
        let Json::Object(o) = &mut v else { continue };
        if let Some(t) = e.time {
            o.insert("TimeGenerated".into(), json!(iso(t)));
        }
        o.insert("_sigil_id".into(), json!(format!("{i}#{}", e.id)));
        for t in &sources {
            rows.entry(t.clone()).or_default().push(v.clone());
        }
    }
    (schema_of(&rows), rows)
}
