//! Target mappings: where each log source's data lives in a target, and what its fields are
//! called there.
//!
//! Mappings are data (`targets/<target>/mapping.yml` and `generic.yml`, compiled into the
//! binary so it needs no install folder), layered with user files (`--mapping FILE`). The
//! [`map_rule`] pass renames every field a rule reads and makes every input's key fields
//! explicit, so backends print names without knowing the rule's native data model.

mod pass;

pub use pass::{Dropped, MappedRule, map_rule, map_rule_in};

use serde::Deserialize;
use sigil_diagnostics::{Code, Diagnostic, Pos, Span};
use sigil_ir::{LogSource, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Which built-in mapping a compilation starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Profile {
    /// The target's real data model for the log sources of the rule library (`mapping.yml`).
    Default,
    /// The target's common data model for the SigmaHQ corpus; unknown fields pass through (`generic.yml`).
    Generic,
    /// Native field names everywhere and no data selection: for running queries over fixtures.
    Passthrough,
}

impl Profile {
    /// The profile's name as written in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Default => "default",
            Profile::Generic => "generic",
            Profile::Passthrough => "passthrough",
        }
    }

    /// Parses a profile name.
    pub fn parse(s: &str) -> Option<Profile> {
        Some(match s {
            "default" => Profile::Default,
            "generic" => Profile::Generic,
            "passthrough" => Profile::Passthrough,
            _ => return None,
        })
    }
}

/// What happens to a rule field that a source does not list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Unmapped {
    /// Compiling a rule that reads it fails (S703).
    #[default]
    Error,
    /// The field keeps the rule's name.
    Passthrough,
}

/// The log-source keys a mapped source applies to; absent keys match anything.
#[derive(Clone, Debug, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcePattern {
    /// Sigma `category`.
    pub category: Option<String>,
    /// Sigma `product`.
    pub product: Option<String>,
    /// Sigma `service`.
    pub service: Option<String>,
}

impl SourcePattern {
    /// How many keys the pattern gives, when every given key equals the rule's; else `None`.
    pub fn specificity(&self, ls: &LogSource) -> Option<usize> {
        let mut n = 0;
        for (want, have) in [
            (&self.category, &ls.category),
            (&self.product, &ls.product),
            (&self.service, &ls.service),
        ] {
            if let Some(w) = want {
                if have.as_deref() != Some(w.as_str()) {
                    return None;
                }
                n += 1;
            }
        }
        Some(n)
    }
}

impl fmt::Display for SourcePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (k, v) in [
            ("category", &self.category),
            ("product", &self.product),
            ("service", &self.service),
        ] {
            if let Some(v) = v {
                parts.push(format!("{k}={v}"));
            }
        }
        if parts.is_empty() {
            f.write_str("any log source")
        } else {
            f.write_str(&parts.join(" "))
        }
    }
}

/// A value in a mapping file: one string or a list of them.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(v) => vec![v],
            OneOrMany::Many(v) => v,
        }
    }
}

/// A scalar in a `where` condition.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl From<Scalar> for Value {
    fn from(s: Scalar) -> Value {
        match s {
            Scalar::Bool(b) => Value::Bool(b),
            Scalar::Int(i) => Value::Int(i),
            Scalar::Float(f) => Value::Float(f),
            Scalar::Str(s) => Value::Str(s),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSource {
    id: String,
    #[serde(default)]
    logsource: SourcePattern,
    table: Option<String>,
    index: Option<OneOrMany<String>>,
    sourcetype: Option<String>,
    source: Option<String>,
    category: Option<String>,
    time: Option<String>,
    #[serde(default, rename = "where")]
    conditions: BTreeMap<String, OneOrMany<Scalar>>,
    unmapped: Option<Unmapped>,
    #[serde(default)]
    fields: BTreeMap<String, Option<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    target: String,
    profile: Option<String>,
    unmapped: Option<Unmapped>,
    #[serde(default)]
    sources: Vec<FileSource>,
}

/// Where one log source's data lives in a target and what its fields are called there.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceMap {
    /// Identifier used in messages (`aws_cloudtrail`).
    pub id: String,
    /// The rule log sources this entry applies to.
    pub logsource: SourcePattern,
    /// Target-specific location keys (`table`, `index`, `sourcetype`, `source`, `category`).
    pub location: BTreeMap<String, Vec<String>>,
    /// The target field holding the event time.
    pub time: String,
    /// Equality conditions (target field → accepted values) that select this source's data.
    pub conditions: BTreeMap<String, Vec<Value>>,
    /// Policy for fields not listed.
    pub unmapped: Unmapped,
    /// Rule field → target field (`None`: the target has no such field).
    pub fields: BTreeMap<String, Option<String>>,
    /// The file that defined (or last changed) this entry.
    pub file: Arc<str>,
}

impl SourceMap {
    /// The single value of a location key (`table`, `sourcetype`, …).
    pub fn loc(&self, key: &str) -> Option<&str> {
        self.location
            .get(key)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// Every value of a location key (Elastic `index` patterns).
    pub fn loc_list(&self, key: &str) -> &[String] {
        self.location.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The target name of a rule field: `Ok(None)` when the target lacks it, `Err` when unlisted
    /// and the policy is `error`.
    pub fn field<'a>(&'a self, name: &'a str) -> Result<Option<&'a str>, Unlisted> {
        match self.fields.get(name) {
            Some(f) => Ok(f.as_deref()),
            None => match self.unmapped {
                Unmapped::Passthrough => Ok(Some(name)),
                Unmapped::Error => Err(Unlisted),
            },
        }
    }
}

/// A field a source does not list, under the `error` policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unlisted;

/// A target's mapping: its sources in priority order.
#[derive(Clone, Debug, PartialEq)]
pub struct Mapping {
    /// Target name (`kql`, `spl`, `eql`).
    pub target: String,
    /// The profile the mapping started from.
    pub profile: Profile,
    /// Sources; on equal specificity the earlier wins.
    pub sources: Vec<SourceMap>,
}

/// A mapping file that cannot be used.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{file}:{line}:{col}: {message}")]
pub struct MappingError {
    /// The file.
    pub file: Arc<str>,
    /// 1-based line (0 when unknown).
    pub line: u32,
    /// 1-based column (0 when unknown).
    pub col: u32,
    /// What is wrong.
    pub message: String,
}

impl MappingError {
    fn new(file: &Arc<str>, message: impl Into<String>) -> Self {
        MappingError {
            file: file.clone(),
            line: 0,
            col: 0,
            message: message.into(),
        }
    }

    /// The error as a diagnostic (S701).
    pub fn to_diagnostic(&self) -> Diagnostic {
        let span = (self.line > 0).then(|| Span::point(Pos::new(self.line, self.col.max(1))));
        Diagnostic::new(Code::InvalidMapping, self.message.clone())
            .in_file(self.file.clone())
            .at(span)
            .hint("see targets/README.md for the mapping file format")
    }
}

/// The location keys each target understands.
fn location_keys(target: &str) -> &'static [&'static str] {
    match target {
        "kql" => &["table"],
        "spl" => &["index", "sourcetype", "source"],
        "eql" => &["index", "category"],
        _ => &["table", "index", "sourcetype", "source", "category"],
    }
}

/// The built-in mapping files of each target: (target, profile, file name, text).
const BUILTIN: &[(&str, Profile, &str, &str)] = &[
    (
        "kql",
        Profile::Default,
        "targets/kql/mapping.yml",
        include_str!("../../../targets/kql/mapping.yml"),
    ),
    (
        "kql",
        Profile::Generic,
        "targets/kql/generic.yml",
        include_str!("../../../targets/kql/generic.yml"),
    ),
    (
        "spl",
        Profile::Default,
        "targets/spl/mapping.yml",
        include_str!("../../../targets/spl/mapping.yml"),
    ),
    (
        "spl",
        Profile::Generic,
        "targets/spl/generic.yml",
        include_str!("../../../targets/spl/generic.yml"),
    ),
    (
        "eql",
        Profile::Default,
        "targets/eql/mapping.yml",
        include_str!("../../../targets/eql/mapping.yml"),
    ),
    (
        "eql",
        Profile::Generic,
        "targets/eql/generic.yml",
        include_str!("../../../targets/eql/generic.yml"),
    ),
];

impl Mapping {
    /// The built-in mapping of a target in a profile.
    pub fn builtin(target: &str, profile: Profile) -> Result<Mapping, MappingError> {
        if profile == Profile::Passthrough {
            return Ok(Mapping::passthrough(target, "@timestamp"));
        }
        let Some((_, _, name, text)) = BUILTIN
            .iter()
            .find(|(t, p, _, _)| *t == target && *p == profile)
        else {
            return Err(MappingError::new(
                &Arc::from("<built-in>"),
                format!(
                    "target `{target}` has no built-in {} mapping",
                    profile.name()
                ),
            ));
        };
        let mut m = Mapping {
            target: target.to_string(),
            profile,
            sources: Vec::new(),
        };
        m.layer(name, text)?;
        Ok(m)
    }

    /// A mapping that keeps every field's name and selects no data, reading time from `time`.
    pub fn passthrough(target: &str, time: &str) -> Mapping {
        Mapping {
            target: target.to_string(),
            profile: Profile::Passthrough,
            sources: vec![SourceMap {
                id: "passthrough".into(),
                logsource: SourcePattern::default(),
                location: BTreeMap::new(),
                time: time.to_string(),
                conditions: BTreeMap::new(),
                unmapped: Unmapped::Passthrough,
                fields: BTreeMap::new(),
                file: Arc::from("<passthrough>"),
            }],
        }
    }

    /// The text of a built-in mapping file, for documentation and tests.
    pub fn builtin_text(target: &str, profile: Profile) -> Option<(&'static str, &'static str)> {
        BUILTIN
            .iter()
            .find(|(t, p, _, _)| *t == target && *p == profile)
            .map(|(_, _, n, t)| (*n, *t))
    }

    /// Layers a mapping file over this one: a source with a known id changes that entry (its
    /// fields are merged, other keys replace), a new id is tried before every existing source.
    pub fn layer(&mut self, file_name: &str, text: &str) -> Result<(), MappingError> {
        let file: Arc<str> = Arc::from(file_name);
        let parsed: File = serde_yaml::from_str(text).map_err(|e| {
            let (line, col) = e
                .location()
                .map(|l| (l.line() as u32, l.column() as u32))
                .unwrap_or((0, 0));
            MappingError {
                file: file.clone(),
                line,
                col,
                message: format!("invalid mapping file: {e}"),
            }
        })?;
        if parsed.target != self.target {
            return Err(MappingError::new(
                &file,
                format!(
                    "this file maps target `{}`, but it was given for target `{}`",
                    parsed.target, self.target
                ),
            ));
        }
        if let Some(p) = &parsed.profile
            && Profile::parse(p).is_none()
        {
            return Err(MappingError::new(
                &file,
                format!("unknown profile `{p}` (expected default or generic)"),
            ));
        }
        let allowed = location_keys(&self.target);
        let mut fresh = Vec::new();
        for s in parsed.sources {
            let mut location = BTreeMap::new();
            for (k, v) in [
                ("table", s.table.map(|t| vec![t])),
                ("index", s.index.map(OneOrMany::into_vec)),
                ("sourcetype", s.sourcetype.map(|t| vec![t])),
                ("source", s.source.map(|t| vec![t])),
                ("category", s.category.map(|t| vec![t])),
            ] {
                if let Some(v) = v {
                    if !allowed.contains(&k) {
                        return Err(MappingError::new(
                            &file,
                            format!(
                                "source `{}`: `{k}` is not a location key of target `{}` (it takes {})",
                                s.id,
                                self.target,
                                allowed.join(", ")
                            ),
                        ));
                    }
                    location.insert(k.to_string(), v);
                }
            }
            let conditions: BTreeMap<String, Vec<Value>> = s
                .conditions
                .into_iter()
                .map(|(k, v)| (k, v.into_vec().into_iter().map(Value::from).collect()))
                .collect();
            if let Some(existing) = self.sources.iter_mut().find(|e| e.id == s.id) {
                for (k, v) in location {
                    existing.location.insert(k, v);
                }
                if s.logsource != SourcePattern::default() {
                    existing.logsource = s.logsource;
                }
                if let Some(t) = s.time {
                    existing.time = t;
                }
                if !conditions.is_empty() {
                    existing.conditions = conditions;
                }
                if let Some(u) = s.unmapped.or(parsed.unmapped) {
                    existing.unmapped = u;
                }
                existing.fields.extend(s.fields);
                existing.file = file.clone();
                continue;
            }
            let Some(time) = s.time else {
                return Err(MappingError::new(
                    &file,
                    format!("source `{}` has no `time` field", s.id),
                ));
            };
            fresh.push(SourceMap {
                id: s.id,
                logsource: s.logsource,
                location,
                time,
                conditions,
                unmapped: s.unmapped.or(parsed.unmapped).unwrap_or_default(),
                fields: s.fields,
                file: file.clone(),
            });
        }
        fresh.append(&mut self.sources);
        self.sources = fresh;
        Ok(())
    }

    /// The source entry for a rule's log source: the most specific match, earliest on ties.
    pub fn source(&self, ls: &LogSource) -> Option<&SourceMap> {
        let mut best: Option<(usize, &SourceMap)> = None;
        for s in &self.sources {
            if let Some(n) = s.logsource.specificity(ls)
                && best.is_none_or(|(b, _)| n > b)
            {
                best = Some((n, s));
            }
        }
        best.map(|(_, s)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(product: &str, service: Option<&str>, category: Option<&str>) -> LogSource {
        LogSource {
            product: Some(product.into()),
            service: service.map(Into::into),
            category: category.map(Into::into),
            ..Default::default()
        }
    }

    const BASE: &str = "
target: kql
unmapped: error
sources:
  - id: win_any
    logsource: {product: windows}
    table: SecurityEvent
    time: TimeGenerated
    fields: {Image: NewProcessName}
  - id: win_proc
    logsource: {product: windows, category: process_creation}
    table: DeviceProcessEvents
    time: Timestamp
    fields: {Image: FolderPath, Hashes: null}
";

    fn base() -> Mapping {
        let mut m = Mapping {
            target: "kql".into(),
            profile: Profile::Default,
            sources: vec![],
        };
        m.layer("base.yml", BASE).expect("base mapping");
        m
    }

    #[test]
    fn most_specific_source_wins() {
        let m = base();
        let s = m
            .source(&ls("windows", None, Some("process_creation")))
            .expect("a source");
        assert_eq!(s.id, "win_proc");
        assert_eq!(s.loc("table"), Some("DeviceProcessEvents"));
        assert_eq!(
            m.source(&ls("windows", Some("security"), None))
                .map(|s| &*s.id),
            Some("win_any")
        );
        assert!(m.source(&ls("linux", None, None)).is_none());
    }

    #[test]
    fn fields_follow_the_policy() {
        let m = base();
        let s = m
            .source(&ls("windows", None, Some("process_creation")))
            .expect("a source");
        assert_eq!(s.field("Image"), Ok(Some("FolderPath")));
        assert_eq!(s.field("Hashes"), Ok(None));
        assert_eq!(s.field("CommandLine"), Err(Unlisted));
    }

    #[test]
    fn a_user_layer_merges_fields_and_adds_sources_first() {
        let mut m = base();
        m.layer(
            "user.yml",
            "
target: kql
sources:
  - id: win_proc
    fields: {CommandLine: ProcessCommandLine}
  - id: custom
    logsource: {product: windows}
    table: MyWindowsTable
    time: TimeGenerated
    unmapped: passthrough
",
        )
        .expect("user layer");
        let s = m
            .source(&ls("windows", None, Some("process_creation")))
            .expect("a source");
        assert_eq!(s.field("CommandLine"), Ok(Some("ProcessCommandLine")));
        assert_eq!(s.field("Image"), Ok(Some("FolderPath")));
        assert_eq!(&*s.file, "user.yml");
        let any = m
            .source(&ls("windows", Some("system"), None))
            .expect("a source");
        assert_eq!(any.id, "custom");
    }

    #[test]
    fn bad_files_are_located_errors() {
        let mut m = base();
        let e = m
            .layer(
                "bad.yml",
                "target: kql\nsources:\n  - id: x\n    tabel: T\n",
            )
            .expect_err("unknown key");
        assert_eq!((&*e.file, e.line), ("bad.yml", 4));
        assert!(e.message.contains("tabel"), "{e}");
        let e = m
            .layer("spl.yml", "target: spl\nsources: []\n")
            .expect_err("wrong target");
        assert!(e.message.contains("target `spl`"), "{e}");
        let e = m
            .layer(
                "loc.yml",
                "target: kql\nsources:\n  - {id: y, sourcetype: a, time: t}\n",
            )
            .expect_err("wrong location key");
        assert!(e.message.contains("`sourcetype`"), "{e}");
        let e = m
            .layer(
                "notime.yml",
                "target: kql\nsources:\n  - {id: z, table: T}\n",
            )
            .expect_err("no time");
        assert!(e.message.contains("no `time`"), "{e}");
        assert_eq!(e.to_diagnostic().code, Code::InvalidMapping);
    }

    #[test]
    fn passthrough_keeps_names() {
        let m = Mapping::builtin("eql", Profile::Passthrough).expect("passthrough");
        let s = m.source(&ls("aws", Some("cloudtrail"), None)).expect("any");
        assert_eq!(s.field("userIdentity.arn"), Ok(Some("userIdentity.arn")));
        assert!(s.location.is_empty() && s.conditions.is_empty());
    }
}
