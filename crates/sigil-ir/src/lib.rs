//! The typed intermediate representation every consumer of Sigil rules reads.
//!
//! The IR knows nothing of YAML or Sigma's modifier syntax: modifiers are expanded into
//! explicit predicates, every string predicate states its case sensitivity, wildcard
//! patterns are segment lists (never strings holding `*`), and lists are ordered
//! deterministically so identical rules print identically.

mod print;

pub use print::{
    agg_expr_text, agg_text, duration_text, output_text, predicate_text, print_rule, source_text,
};

use sigil_diagnostics::Span;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Where a rule or one of its nodes came from, so later stages can point at the source.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Origin {
    /// The file.
    pub file: Arc<str>,
    /// Index of the YAML document in the file.
    pub document: usize,
    /// Span of the node, when known.
    pub span: Option<Span>,
}

/// Severity level a rule assigns to its alerts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Informational.
    Informational,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Level {
    /// The level's Sigma name.
    pub fn name(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    /// Parses a Sigma level name.
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "informational" => Level::Informational,
            "low" => Level::Low,
            "medium" => Level::Medium,
            "high" => Level::High,
            "critical" => Level::Critical,
            _ => return None,
        })
    }
}

/// Descriptive data of a rule; no stage's semantics depend on it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Meta {
    /// The rule's id (normally a UUID).
    pub id: Option<String>,
    /// The rule's unique name, used for references.
    pub name: Option<String>,
    /// Human title.
    pub title: String,
    /// Free text description.
    pub description: Option<String>,
    /// Alert severity.
    pub level: Option<Level>,
    /// Maturity (`stable`, `test`, …).
    pub status: Option<String>,
    /// Tags, including ATT&CK ones such as `attack.t1580`.
    pub tags: Vec<String>,
    /// Reference links.
    pub references: Vec<String>,
    /// Known false positives.
    pub falsepositives: Vec<String>,
    /// Authors.
    pub author: Option<String>,
    /// Creation date.
    pub date: Option<String>,
    /// Last modification date.
    pub modified: Option<String>,
    /// Whether a correlation's referenced rules also produce alerts of their own.
    pub generate: bool,
    /// Fixture file named by the rule, relative to the rule file.
    pub fixtures: Option<String>,
    /// Filters (by id or name) that were applied to this rule.
    pub filters: Vec<String>,
}

impl Meta {
    /// The ATT&CK technique ids among the tags, upper-cased (`T1580`, `T1021.007`).
    pub fn attack_techniques(&self) -> Vec<String> {
        self.tags
            .iter()
            .filter_map(|t| t.strip_prefix("attack.t"))
            .filter(|t| t.chars().next().is_some_and(|c| c.is_ascii_digit()))
            .map(|t| format!("T{t}").to_uppercase())
            .collect()
    }
}

/// The log source a search reads, as Sigma names it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LogSource {
    /// e.g. `process_creation`.
    pub category: Option<String>,
    /// e.g. `aws`, `windows`.
    pub product: Option<String>,
    /// e.g. `cloudtrail`.
    pub service: Option<String>,
    /// Other keys (besides the informational `definition`), sorted.
    pub extra: BTreeMap<String, String>,
}

/// One compiled rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// Descriptive data.
    pub meta: Meta,
    /// Where the rule's document is.
    pub origin: Origin,
    /// What the rule detects.
    pub query: Query,
    /// What an alert carries.
    pub outputs: Vec<Output>,
}

/// What a rule detects.
#[derive(Clone, Debug, PartialEq)]
pub enum Query {
    /// Single events that satisfy an expression.
    Match(Search),
    /// Aggregates over a window, per group, satisfying a condition.
    Threshold(Threshold),
    /// Steps that occur in order within a span, per group.
    Sequence(Sequence),
    /// Several inputs that all occur within a span, in any order (Sigma `temporal`).
    Unordered(Unordered),
}

/// A filter over the events of one log source.
#[derive(Clone, Debug, PartialEq)]
pub struct Search {
    /// Which events are read.
    pub source: LogSource,
    /// Which of them match.
    pub expr: Expr,
}

/// An input of a correlation: a named rule (or an inline search) with its key fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Input {
    /// The rule's name or id as referenced (or `step<N>` for inline steps).
    pub name: String,
    /// The referenced rule's query.
    pub query: Box<Query>,
    /// Alias → field in this input's events; `None` when the correlation defines the alias
    /// but not for this input (the key is then absent from its events). Group keys that are
    /// not aliases at all use their own name as the field name.
    pub fields: BTreeMap<String, Option<String>>,
    /// Where the reference is.
    pub origin: Option<Span>,
}

impl Input {
    /// The event field this input reads for a group key or alias (`None`: absent).
    pub fn field<'a>(&'a self, alias: &'a str) -> Option<&'a str> {
        match self.fields.get(alias) {
            Some(f) => f.as_deref(),
            None => Some(alias),
        }
    }
}

/// A time window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    /// Length in milliseconds.
    pub length_ms: u64,
    /// How windows are placed in time.
    pub kind: WindowKind,
}

/// How windows are placed in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WindowKind {
    /// Back-to-back windows aligned to the Unix epoch.
    Tumbling,
    /// A window that ends at every event.
    Sliding,
}

/// Aggregates per group over a window.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// The event streams counted (several for multi-source rules).
    pub inputs: Vec<Input>,
    /// Group keys (aliases or field names).
    pub group_by: Vec<String>,
    /// The window.
    pub window: Window,
    /// When a group alerts.
    pub condition: AggExpr,
    /// Risk score cases; the first that holds wins.
    pub score: Vec<ScoreCase>,
}

/// Ordered steps.
#[derive(Clone, Debug, PartialEq)]
pub struct Sequence {
    /// Join keys (aliases or field names).
    pub by: Vec<String>,
    /// Longest time from first to last step, in milliseconds.
    pub maxspan_ms: Option<u64>,
    /// The steps in order.
    pub steps: Vec<Step>,
    /// An input that cancels a partial sequence.
    pub until: Option<Input>,
}

/// One step of a sequence.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The events of the step.
    pub input: Input,
    /// How many consecutive matches the step needs (1 for a plain step).
    pub runs: u32,
}

/// Inputs that must all occur within a span, in any order.
#[derive(Clone, Debug, PartialEq)]
pub struct Unordered {
    /// Join keys.
    pub by: Vec<String>,
    /// Span in milliseconds.
    pub within_ms: u64,
    /// The inputs.
    pub inputs: Vec<Input>,
}

/// A score chosen when its condition holds (`when` absent: always).
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreCase {
    /// Condition over the group's aggregates.
    pub when: Option<AggExpr>,
    /// Score value.
    pub value: i64,
}

/// What an alert carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// A field (or alias) value.
    Field(String),
    /// The distinct values of a field or alias in the group.
    Values(String),
    /// Time of the first contributing event.
    FirstSeen,
    /// Time of the last contributing event.
    LastSeen,
    /// Number of contributing events.
    Count,
    /// Distinct count of a field or alias.
    Distinct(String),
    /// The risk score.
    Score,
}

/// Aggregate functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AggFunc {
    /// Number of events.
    Count,
    /// Number of distinct values.
    Distinct,
    /// Sum.
    Sum,
    /// Minimum.
    Min,
    /// Maximum.
    Max,
    /// Mean.
    Avg,
    /// Percentile (rank in [`Agg::rank`]).
    Percentile,
}

/// One aggregate: function, field (absent only for count) and percentile rank.
#[derive(Clone, Debug, PartialEq)]
pub struct Agg {
    /// The function.
    pub func: AggFunc,
    /// Field or alias aggregated.
    pub field: Option<String>,
    /// Rank for percentiles.
    pub rank: Option<f64>,
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CmpOp {
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `==`
    Eq,
    /// `!=`
    Neq,
}

impl CmpOp {
    /// Whether `a op b` holds (IEEE comparison: nothing holds against NaN but `!=`).
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            CmpOp::Lt => a < b,
            CmpOp::Lte => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Gte => a >= b,
            CmpOp::Eq => a == b,
            CmpOp::Neq => a != b,
        }
    }

    /// The operator's symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
            CmpOp::Eq => "==",
            CmpOp::Neq => "!=",
        }
    }
}

/// Boolean expression over aggregate comparisons.
#[derive(Clone, Debug, PartialEq)]
pub enum AggExpr {
    /// `agg op value`.
    Cmp(Agg, CmpOp, f64),
    /// All hold.
    And(Vec<AggExpr>),
    /// One holds.
    Or(Vec<AggExpr>),
    /// Does not hold.
    Not(Box<AggExpr>),
}

/// Whether string comparison respects case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Case {
    /// `A` equals `a` (Sigma's default).
    Insensitive,
    /// `A` differs from `a` (`|cased`, and regexes without `i`).
    Sensitive,
}

/// A scalar value compared for equality.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A non-integer number.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

/// A piece of a wildcard pattern.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Seg {
    /// Literal text.
    Lit(String),
    /// `*`: any run of characters, possibly empty.
    Any,
    /// `?`: exactly one character.
    One,
}

/// A wildcard pattern that must match the whole value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pattern(pub Vec<Seg>);

impl Pattern {
    /// The literal text when the pattern has the shape `*lit*` (a contains test).
    pub fn as_contains(&self) -> Option<&str> {
        match self.0.as_slice() {
            [Seg::Any, Seg::Lit(s), Seg::Any] => Some(s),
            _ => None,
        }
    }
    /// The literal text when the pattern has the shape `lit*`.
    pub fn as_prefix(&self) -> Option<&str> {
        match self.0.as_slice() {
            [Seg::Lit(s), Seg::Any] => Some(s),
            _ => None,
        }
    }
    /// The literal text when the pattern has the shape `*lit`.
    pub fn as_suffix(&self) -> Option<&str> {
        match self.0.as_slice() {
            [Seg::Any, Seg::Lit(s)] => Some(s),
            _ => None,
        }
    }
}

/// Regex flags (Sigma `re|i|m|s`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct RegexFlags {
    /// Case-insensitive.
    pub ignore_case: bool,
    /// `^` and `$` match at line breaks.
    pub multi_line: bool,
    /// `.` matches newlines.
    pub dot_all: bool,
}

/// Parts of a timestamp that time-part predicates compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimePart {
    /// 0–59.
    Minute,
    /// 0–23.
    Hour,
    /// 1–31.
    Day,
    /// ISO week 1–53.
    Week,
    /// 1–12.
    Month,
    /// Full year.
    Year,
}

impl TimePart {
    /// The part's name.
    pub fn name(self) -> &'static str {
        match self {
            TimePart::Minute => "minute",
            TimePart::Hour => "hour",
            TimePart::Day => "day",
            TimePart::Week => "week",
            TimePart::Month => "month",
            TimePart::Year => "year",
        }
    }
}

/// How a field reference compares two fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefMatch {
    /// Equal values.
    Equals,
    /// The field contains the other field's value.
    Contains,
    /// The field starts with the other field's value.
    StartsWith,
    /// The field ends with the other field's value.
    EndsWith,
}

/// Where a predicate looks.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A named field (dotted paths allowed).
    Field(String),
    /// Any string value in the event (Sigma keywords).
    Keywords,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Field(n) => f.write_str(n),
            Target::Keywords => f.write_str("<keywords>"),
        }
    }
}

/// One test on one field.
#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    /// Equal to a value (strings compare with the given case rule; numbers numerically).
    Eq(Value, Case),
    /// Matches a whole-value wildcard pattern.
    Pattern(Pattern, Case),
    /// Matches a regex (search semantics: anywhere in the value).
    Regex(String, RegexFlags),
    /// An IP address within a network.
    Cidr(ipnet::IpNet),
    /// Numeric comparison.
    Cmp(CmpOp, f64),
    /// The field is present (true) or absent (false).
    Exists(bool),
    /// The field is absent or null (Sigma `field: null`).
    Null,
    /// Compares with another field of the same event.
    FieldRef(String, RefMatch, Case),
    /// Compares a part of a timestamp.
    TimePart(TimePart, CmpOp, i64),
    /// Some element of the array at the field satisfies the expression, whose field paths
    /// are relative to that element (so a key and a value come from the same element).
    Element(Box<Expr>),
    /// A value holding `%name%` placeholders (`|expand`), resolved only at compile time;
    /// compiling one without a value for every name is an error, never an empty match.
    Placeholder(Vec<PlaceholderPart>, Case),
}

/// A piece of a placeholder template: pattern segments and placeholder names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PlaceholderPart {
    /// Literal text or a wildcard.
    Seg(Seg),
    /// A placeholder name (without the `%`).
    Name(String),
}

/// A predicate: a target and a test on it.
#[derive(Clone, Debug, PartialEq)]
pub struct Predicate {
    /// Where the test looks.
    pub target: Target,
    /// The test.
    pub test: Test,
    /// The source span of the value (or field) it came from.
    pub span: Option<Span>,
}

/// Boolean expression over predicates.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A predicate.
    Pred(Predicate),
    /// All hold (never empty after normalisation).
    And(Vec<Expr>),
    /// One holds (never empty after normalisation).
    Or(Vec<Expr>),
    /// Does not hold.
    Not(Box<Expr>),
    /// A constant: `true` comes from an `all of` over nothing, `false` from an empty list.
    Const(bool),
}

impl Expr {
    /// Builds an AND, flattening nested ANDs and collapsing single children.
    pub fn and(items: Vec<Expr>) -> Expr {
        let mut out = Vec::new();
        for e in items {
            match e {
                Expr::And(inner) => out.extend(inner),
                Expr::Const(true) => {}
                other => out.push(other),
            }
        }
        if out.contains(&Expr::Const(false)) {
            return Expr::Const(false);
        }
        match out.len() {
            0 => Expr::Const(true),
            1 => out.pop().unwrap_or(Expr::Const(true)),
            _ => Expr::And(out),
        }
    }

    /// Builds an OR, flattening nested ORs and collapsing single children.
    pub fn or(items: Vec<Expr>) -> Expr {
        let mut out = Vec::new();
        for e in items {
            match e {
                Expr::Or(inner) => out.extend(inner),
                Expr::Const(false) => {}
                other => out.push(other),
            }
        }
        if out.contains(&Expr::Const(true)) {
            return Expr::Const(true);
        }
        match out.len() {
            0 => Expr::Const(false),
            1 => out.pop().unwrap_or(Expr::Const(false)),
            _ => Expr::Or(out),
        }
    }

    /// Builds a NOT, removing double negation.
    pub fn negate(e: Expr) -> Expr {
        match e {
            Expr::Not(inner) => *inner,
            Expr::Const(b) => Expr::Const(!b),
            other => Expr::Not(Box::new(other)),
        }
    }

    /// Visits every predicate.
    pub fn for_each_pred<'a>(&'a self, f: &mut impl FnMut(&'a Predicate)) {
        match self {
            Expr::Pred(p) => f(p),
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| e.for_each_pred(f)),
            Expr::Not(e) => e.for_each_pred(f),
            Expr::Const(_) => {}
        }
    }
}

impl Query {
    /// Visits every search in the query, including those of referenced rules.
    pub fn for_each_search<'a>(&'a self, f: &mut impl FnMut(&'a Search)) {
        match self {
            Query::Match(s) => f(s),
            Query::Threshold(t) => t.inputs.iter().for_each(|i| i.query.for_each_search(f)),
            Query::Sequence(s) => {
                s.steps
                    .iter()
                    .for_each(|st| st.input.query.for_each_search(f));
                if let Some(u) = &s.until {
                    u.query.for_each_search(f);
                }
            }
            Query::Unordered(u) => u.inputs.iter().for_each(|i| i.query.for_each_search(f)),
        }
    }

    /// Short name of the query kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Query::Match(_) => "match",
            Query::Threshold(_) => "threshold",
            Query::Sequence(_) => "sequence",
            Query::Unordered(_) => "unordered",
        }
    }
}

impl Query {
    /// The inputs this query names directly (steps and `until` of a sequence included).
    pub fn inputs(&self) -> Vec<&Input> {
        match self {
            Query::Match(_) => Vec::new(),
            Query::Threshold(t) => t.inputs.iter().collect(),
            Query::Unordered(u) => u.inputs.iter().collect(),
            Query::Sequence(s) => s
                .steps
                .iter()
                .map(|st| &st.input)
                .chain(s.until.as_ref())
                .collect(),
        }
    }
}

/// Which rules of a set alert on their own: a rule that feeds a correlation of the set (at
/// any depth) alerts only when a correlation naming it directly has `generate: true`.
pub fn alerting_rules(rules: &[Rule]) -> Vec<bool> {
    fn names_below(q: &Query, out: &mut std::collections::BTreeSet<String>) {
        for i in q.inputs() {
            out.insert(i.name.clone());
            names_below(&i.query, out);
        }
    }
    let mut feeding = std::collections::BTreeSet::new();
    let mut generating = std::collections::BTreeSet::new();
    for r in rules {
        let mut names = std::collections::BTreeSet::new();
        names_below(&r.query, &mut names);
        // A Sigma 1.x aggregation's input is the rule itself: it does not feed itself.
        for own in [&r.meta.name, &r.meta.id].into_iter().flatten() {
            names.remove(own);
        }
        if r.meta.generate {
            generating.extend(r.query.inputs().into_iter().map(|i| i.name.clone()));
        }
        feeding.extend(names);
    }
    rules
        .iter()
        .map(|r| {
            let keys = [&r.meta.name, &r.meta.id];
            let feeds = keys
                .iter()
                .flat_map(|k| k.iter())
                .any(|k| feeding.contains(k));
            let generates = keys
                .iter()
                .flat_map(|k| k.iter())
                .any(|k| generating.contains(k));
            !feeds || generates
        })
        .collect()
}
