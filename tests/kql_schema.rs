//! `targets/kql/schema.yml` (the Sentinel tables and columns the KQL mappings use) checked
//! three ways:
//!
//! 1. every table, time column, `where` column and mapped field of every KQL mapping file
//!    (`targets/kql/*.yml`, `targets/kql/layers/*.yml`) exists in schema.yml; a field written
//!    as a path (`Claims_d['…']`, `Status.errorCode`) must start at a `dynamic` column, and
//!    `parse_json(Column)…` at a `string` column holding JSON text;
//! 2. schema.yml against the documented Sentinel schema in
//!    `$SIGIL_SHARED/validators/sentinel_schema.json`: every difference must be listed, with
//!    its reason, in `targets/kql/schema-differences.yml`, and every listed difference must
//!    still be one;
//! 3. with `$SIGIL_NODE_PATH` (the node_modules folder .ci/run installs), one query per mapped
//!    source that reads every mapped field is analysed by Kusto.Language
//!    (`$SIGIL_SHARED/validators/kql_check.js`) against schema.yml: zero errors.
//!
//! Without `SIGIL_SHARED` (or `SIGIL_NODE_PATH` for part 3) those parts print why they skip;
//! under `CI=true` a missing variable or folder is a failure.
//!
//! schema.yml has the shape kql_check.js reads (`{database, tables: {T: {column: type}}}`), so
//! the JSON it takes is schema.yml converted as is (see `schema_json`).

use serde_json::Value as Json;
use serde_yaml::Value as Yaml;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const TYPES: &[&str] = &[
    "string", "int", "long", "real", "bool", "datetime", "timespan", "dynamic", "guid",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// A folder named by an environment variable; `None` (with the reason printed) when unset
/// outside CI. Under CI=true an unset variable or a missing folder panics.
fn env_dir(var: &str, what: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(v) => {
            let p = PathBuf::from(v);
            assert!(
                p.is_dir(),
                "{var} is set but {} is not a folder ({what})",
                p.display()
            );
            Some(p)
        }
        None => {
            assert!(!in_ci(), "CI=true but {var} is not set: {what} cannot run");
            eprintln!("skipping {what}: {var} is not set");
            None
        }
    }
}

fn read_yaml(path: &Path) -> Yaml {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn str_of(v: &Yaml) -> Option<&str> {
    v.as_str()
}

/// schema.yml as table -> column -> type.
fn schema() -> BTreeMap<String, BTreeMap<String, String>> {
    let doc = read_yaml(&root().join("targets/kql/schema.yml"));
    let tables = doc
        .get("tables")
        .and_then(Yaml::as_mapping)
        .expect("schema.yml has a `tables` mapping");
    let mut out = BTreeMap::new();
    for (t, cols) in tables {
        let t = str_of(t).expect("table names are strings").to_string();
        let mut m = BTreeMap::new();
        for (c, ty) in cols.as_mapping().expect("each table maps columns to types") {
            let c = str_of(c).expect("column names are strings").to_string();
            let ty = str_of(ty).expect("column types are strings").to_string();
            assert!(
                TYPES.contains(&ty.as_str()),
                "schema.yml: {t}.{c} has type `{ty}`, not one of {TYPES:?}"
            );
            m.insert(c, ty);
        }
        out.insert(t, m);
    }
    out
}

/// The JSON schema kql_check.js takes: schema.yml itself, converted.
fn schema_json() -> Json {
    serde_json::to_value(read_yaml(&root().join("targets/kql/schema.yml")))
        .expect("schema.yml converts to JSON")
}

/// Every KQL mapping file: the built-in profiles and the optional layers.
fn mapping_files() -> Vec<PathBuf> {
    let dir = root().join("targets/kql");
    let mut files = vec![dir.join("mapping.yml"), dir.join("generic.yml")];
    if let Ok(rd) = std::fs::read_dir(dir.join("layers")) {
        let mut layers: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "yml"))
            .collect();
        layers.sort();
        files.extend(layers);
    }
    files
}

/// One mapped source: where it lives and the target expressions it uses.
struct Source {
    file: String,
    id: String,
    table: String,
    time: String,
    /// `where` conditions: column -> accepted values.
    conditions: Vec<(String, Vec<Yaml>)>,
    /// Mapped fields (null entries left out): rule field -> target expression.
    fields: Vec<(String, String)>,
}

fn sources() -> Vec<Source> {
    let mut out = Vec::new();
    for f in mapping_files() {
        let doc = read_yaml(&f);
        let file = f.strip_prefix(root()).unwrap_or(&f).display().to_string();
        assert_eq!(
            doc.get("target").and_then(str_of),
            Some("kql"),
            "{file}: not a KQL mapping"
        );
        let Some(list) = doc.get("sources").and_then(Yaml::as_sequence) else {
            continue;
        };
        for s in list {
            let id = s.get("id").and_then(str_of).unwrap_or("?").to_string();
            let table = s
                .get("table")
                .and_then(str_of)
                .unwrap_or_else(|| panic!("{file}: source `{id}` has no table"))
                .to_string();
            let time = s
                .get("time")
                .and_then(str_of)
                .unwrap_or_else(|| panic!("{file}: source `{id}` has no time column"))
                .to_string();
            let mut conditions = Vec::new();
            if let Some(w) = s.get("where").and_then(Yaml::as_mapping) {
                for (k, v) in w {
                    let vals = match v {
                        Yaml::Sequence(vs) => vs.clone(),
                        v => vec![v.clone()],
                    };
                    conditions.push((str_of(k).expect("where keys").to_string(), vals));
                }
            }
            let mut fields = Vec::new();
            if let Some(m) = s.get("fields").and_then(Yaml::as_mapping) {
                for (k, v) in m {
                    if let Some(t) = str_of(v) {
                        fields.push((str_of(k).expect("field names").to_string(), t.to_string()));
                    }
                }
            }
            out.push(Source {
                file: file.clone(),
                id,
                table,
                time,
                conditions,
                fields,
            });
        }
    }
    out
}

/// The column a target expression starts at, and whether it goes on into the column (a path
/// into a dynamic value: `Claims_d['…']`, `Status.errorCode`).
fn column_of(expr: &str) -> (&str, bool) {
    // `parse_json(Column)…` reads JSON text in a string column.
    if let Some(inner) = expr.strip_prefix("parse_json(")
        && let Some(close) = inner.find(')')
    {
        return (&inner[..close], true);
    }
    match expr.find(['.', '[']) {
        Some(i) => (&expr[..i], true),
        None => (expr, false),
    }
}

#[test]
fn every_mapped_kql_column_is_in_the_schema() {
    let schema = schema();
    let mut problems = Vec::new();
    let mut used_tables = BTreeSet::new();
    for s in sources() {
        let at = format!("{} source `{}`", s.file, s.id);
        let Some(cols) = schema.get(&s.table) else {
            problems.push(format!("{at}: table `{}` is not in schema.yml", s.table));
            continue;
        };
        used_tables.insert(s.table.clone());
        match cols.get(&s.time).map(String::as_str) {
            Some("datetime") => {}
            Some(t) => problems.push(format!(
                "{at}: time column `{}` is `{t}`, not datetime",
                s.time
            )),
            None => problems.push(format!(
                "{at}: time column `{}` is not a column of {}",
                s.time, s.table
            )),
        }
        for (c, _) in &s.conditions {
            if !cols.contains_key(c) {
                problems.push(format!(
                    "{at}: `where` column `{c}` is not a column of {}",
                    s.table
                ));
            }
        }
        for (field, expr) in &s.fields {
            let (col, path) = column_of(expr);
            match cols.get(col).map(String::as_str) {
                None => problems.push(format!(
                    "{at}: `{field}` maps to `{expr}`, but {} has no column `{col}`",
                    s.table
                )),
                Some("string") if expr.starts_with("parse_json(") => {}
                Some(ty) if path && ty != "dynamic" => problems.push(format!(
                    "{at}: `{field}` maps to the path `{expr}`, but {}.{col} is `{ty}`, not dynamic",
                    s.table
                )),
                Some(_) => {}
            }
        }
    }
    for t in schema.keys() {
        if !used_tables.contains(t) {
            problems.push(format!("schema.yml: table `{t}` is used by no KQL mapping"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// One difference between schema.yml and the validator's schema.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Difference {
    table: String,
    column: Option<String>,
    kind: String,
    validator_type: Option<String>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "table: {}", self.table)?;
        if let Some(c) = &self.column {
            write!(f, ", column: {c}")?;
        }
        write!(f, ", difference: {}", self.kind)?;
        if let Some(t) = &self.validator_type {
            write!(f, ", validator_type: {t}")?;
        }
        Ok(())
    }
}

fn listed_differences() -> Vec<Difference> {
    let doc = read_yaml(&root().join("targets/kql/schema-differences.yml"));
    let list = doc
        .get("differences")
        .and_then(Yaml::as_sequence)
        .expect("schema-differences.yml has a `differences` list");
    let mut out = Vec::new();
    for d in list {
        let keys: Vec<&str> = d
            .as_mapping()
            .expect("each difference is a mapping")
            .keys()
            .filter_map(str_of)
            .collect();
        for k in &keys {
            assert!(
                [
                    "table",
                    "column",
                    "difference",
                    "validator_type",
                    "reason",
                    "source"
                ]
                .contains(k),
                "schema-differences.yml: unknown key `{k}`"
            );
        }
        let get = |k: &str| d.get(k).and_then(str_of).map(str::to_string);
        let diff = Difference {
            table: get("table").expect("every difference names its table"),
            column: get("column"),
            kind: get("difference").expect("every difference says its kind"),
            validator_type: get("validator_type"),
        };
        assert!(
            ["table-missing", "column-missing", "type"].contains(&diff.kind.as_str()),
            "schema-differences.yml: {diff}: unknown difference kind"
        );
        for k in ["reason", "source"] {
            assert!(
                get(k).is_some_and(|s| !s.trim().is_empty()),
                "schema-differences.yml: {diff} has no {k}"
            );
        }
        out.push(diff);
    }
    out
}

#[test]
fn schema_matches_the_documented_sentinel_schema_or_says_why_not() {
    let Some(shared) = env_dir("SIGIL_SHARED", "the Sentinel schema check") else {
        return;
    };
    let path = shared.join("validators/sentinel_schema.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let doc: Json = serde_json::from_str(&text).expect("sentinel_schema.json is JSON");
    let documented = doc["tables"]
        .as_object()
        .expect("sentinel_schema.json has a tables object");

    let mut actual = BTreeSet::new();
    for (table, cols) in schema() {
        let Some(theirs) = documented.get(&table).and_then(Json::as_object) else {
            actual.insert(Difference {
                table,
                column: None,
                kind: "table-missing".into(),
                validator_type: None,
            });
            continue;
        };
        for (col, ty) in cols {
            match theirs.get(&col).and_then(Json::as_str) {
                None => actual.insert(Difference {
                    table: table.clone(),
                    column: Some(col),
                    kind: "column-missing".into(),
                    validator_type: None,
                }),
                Some(t) if t != ty => actual.insert(Difference {
                    table: table.clone(),
                    column: Some(col),
                    kind: "type".into(),
                    validator_type: Some(t.to_string()),
                }),
                Some(_) => false,
            };
        }
    }
    let listed: BTreeSet<Difference> = listed_differences().into_iter().collect();
    let unlisted: Vec<String> = actual.difference(&listed).map(|d| d.to_string()).collect();
    let stale: Vec<String> = listed.difference(&actual).map(|d| d.to_string()).collect();
    assert!(
        unlisted.is_empty() && stale.is_empty(),
        "schema.yml vs {}:\n  not justified in targets/kql/schema-differences.yml:\n    {}\n  listed there but no longer a difference:\n    {}",
        path.display(),
        unlisted.join("\n    "),
        stale.join("\n    ")
    );
}

/// A KQL literal for a `where` value.
fn kql_literal(v: &Yaml) -> String {
    match v {
        Yaml::Bool(b) => b.to_string(),
        Yaml::Number(n) => n.to_string(),
        Yaml::String(s) => serde_json::to_string(s).expect("string literal"),
        other => panic!("unexpected `where` value {other:?}"),
    }
}

/// One query per source that filters on its time and `where` columns and reads every mapped
/// field, so Kusto.Language resolves each column and path.
fn probe_query(s: &Source) -> String {
    let mut q = format!("{} | where {} > ago(1h)", s.table, s.time);
    for (c, vals) in &s.conditions {
        let lits: Vec<String> = vals.iter().map(kql_literal).collect();
        q.push_str(&format!(" | where {c} in ({})", lits.join(", ")));
    }
    if !s.fields.is_empty() {
        let reads: Vec<String> = s
            .fields
            .iter()
            .enumerate()
            .map(|(i, (_, expr))| format!("f{i} = {expr}"))
            .collect();
        q.push_str(&format!(" | project {}", reads.join(", ")));
    }
    q
}

#[test]
fn kusto_language_resolves_every_mapped_field() {
    let Some(shared) = env_dir("SIGIL_SHARED", "the Kusto.Language mapping check") else {
        return;
    };
    let Some(node_path) = env_dir("SIGIL_NODE_PATH", "the Kusto.Language mapping check") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("sigil-kql-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp folder");
    let schema_path = dir.join("schema.json");
    std::fs::write(
        &schema_path,
        serde_json::to_string(&schema_json()).expect("schema JSON"),
    )
    .expect("write schema.json");
    let sources = sources();
    let mut batch = String::new();
    for (i, s) in sources.iter().enumerate() {
        let item = serde_json::json!({"id": i, "query": probe_query(s)});
        batch.push_str(&item.to_string());
        batch.push('\n');
    }
    let batch_path = dir.join("queries.jsonl");
    std::fs::write(&batch_path, batch).expect("write queries.jsonl");
    let out = Command::new("node")
        .arg(shared.join("validators/kql_check.js"))
        .arg("--schema")
        .arg(&schema_path)
        .arg("--batch")
        .arg(&batch_path)
        .env("NODE_PATH", &node_path)
        .output()
        .expect("node runs");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut seen = 0;
    let mut failures = Vec::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let r: Json = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("kql_check.js printed `{line}`: {e}"));
        seen += 1;
        if r["ok"] != Json::Bool(true) {
            let i = r["id"].as_u64().expect("id") as usize;
            let s = &sources[i];
            failures.push(format!(
                "{} source `{}`: {}\n    {}",
                s.file,
                s.id,
                probe_query(s),
                r["diagnostics"]
            ));
        }
    }
    assert_eq!(
        seen,
        sources.len(),
        "kql_check.js answered {seen} of {} queries (exit {:?}); stderr:\n{}",
        sources.len(),
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
