//! The syntax tree of rule files: documents as written, with spans, before any meaning is
//! given to modifiers or names.

use crate::expr::{AggExpr, Condition};
use sigil_diagnostics::Span;
use std::sync::Arc;

/// A value with the span it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it is.
    pub span: Option<Span>,
}

impl<T> Spanned<T> {
    /// Pairs a value with a span.
    pub fn new(value: T, span: Option<Span>) -> Self {
        Spanned { value, span }
    }
}

/// A parsed rule file.
#[derive(Clone, Debug)]
pub struct RuleFile {
    /// The file's name as given.
    pub name: Arc<str>,
    /// Its documents, in order (action documents already applied).
    pub documents: Vec<Document>,
}

/// One document: metadata plus a body.
#[derive(Clone, Debug)]
pub struct Document {
    /// 0-based index in the file.
    pub index: usize,
    /// Span of the document's root.
    pub span: Option<Span>,
    /// Descriptive keys.
    pub meta: MetaAst,
    /// Rule, correlation or filter.
    pub body: Body,
}

/// The kinds of document.
#[derive(Clone, Debug)]
pub enum Body {
    /// A detection rule (`logsource` + `detection`).
    Rule(RuleAst),
    /// A correlation (`correlation:`), including Sigil's threshold and sequence types.
    Correlation(Box<CorrelationAst>),
    /// A meta filter (`filter:`).
    Filter(FilterAst),
}

/// Descriptive keys common to all documents.
#[derive(Clone, Debug, Default)]
pub struct MetaAst {
    /// `title`.
    pub title: Option<Spanned<String>>,
    /// `id`.
    pub id: Option<Spanned<String>>,
    /// `name`.
    pub name: Option<Spanned<String>>,
    /// `status`.
    pub status: Option<Spanned<String>>,
    /// `level`.
    pub level: Option<Spanned<String>>,
    /// `description`.
    pub description: Option<String>,
    /// `author`.
    pub author: Option<String>,
    /// `date`.
    pub date: Option<String>,
    /// `modified`.
    pub modified: Option<String>,
    /// `tags`.
    pub tags: Vec<String>,
    /// `references`.
    pub references: Vec<String>,
    /// `falsepositives`.
    pub falsepositives: Vec<String>,
    /// `fields` of a plain rule: names of interesting fields.
    pub fields: Vec<Spanned<String>>,
    /// `generate` (top level, as the 2.x schema places it; also read inside `correlation`).
    pub generate: Option<bool>,
    /// `fixtures`: path of the rule's fixture file (Sigil extension).
    pub fixtures: Option<Spanned<String>>,
}

/// `logsource`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogSourceAst {
    /// `category`.
    pub category: Option<String>,
    /// `product`.
    pub product: Option<String>,
    /// `service`.
    pub service: Option<String>,
    /// Other string keys except `definition`.
    pub extra: Vec<(String, String)>,
    /// Where the mapping is.
    pub span: Option<Span>,
}

/// A rule body.
#[derive(Clone, Debug)]
pub struct RuleAst {
    /// `logsource`.
    pub logsource: LogSourceAst,
    /// `detection`.
    pub detection: DetectionAst,
}

/// `detection`: named searches plus the condition(s).
#[derive(Clone, Debug, Default)]
pub struct DetectionAst {
    /// Search identifiers in source order.
    pub searches: Vec<SearchDef>,
    /// The condition; a list of conditions is OR-ed.
    pub conditions: Vec<Spanned<Condition>>,
    /// True when a condition failed to parse (its identifiers are then unknown, so
    /// "unused search" warnings would be noise).
    pub condition_failed: bool,
    /// Sigma 1.x `timeframe` for aggregations.
    pub timeframe: Option<Spanned<String>>,
    /// Where `detection` is.
    pub span: Option<Span>,
}

/// One search identifier and its definition.
#[derive(Clone, Debug)]
pub struct SearchDef {
    /// The identifier.
    pub name: String,
    /// Where the identifier is.
    pub name_span: Option<Span>,
    /// The definition.
    pub search: SearchAst,
}

/// A search definition.
#[derive(Clone, Debug)]
pub enum SearchAst {
    /// A map: all field matches hold.
    Map(Vec<FieldMatch>),
    /// A list: one item holds.
    List(Vec<ListItem>),
}

/// An item of a search list.
#[derive(Clone, Debug)]
pub enum ListItem {
    /// A map of field matches.
    Map(Vec<FieldMatch>, Option<Span>),
    /// A keyword.
    Keyword(ValueAst),
}

/// `Field|mod1|mod2: value(s)`.
#[derive(Clone, Debug)]
pub struct FieldMatch {
    /// The field; `None` for keyword maps such as `'|all': [...]`.
    pub field: Option<String>,
    /// Where the key is.
    pub key_span: Option<Span>,
    /// The modifiers, in order.
    pub modifiers: Vec<Spanned<String>>,
    /// The values (one for a scalar).
    pub values: Vec<ValueAst>,
    /// True when the values were written as a list.
    pub is_list: bool,
    /// Where the values are.
    pub value_span: Option<Span>,
    /// `Field|element: {…}`: field matches that must all hold for one element of the array.
    pub element: Option<Vec<FieldMatch>>,
}

/// A scalar value as written.
#[derive(Clone, Debug, PartialEq)]
pub enum ScalarAst {
    /// `null` or empty.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
}

/// A scalar with its span; non-scalars inside value lists are reported, not kept.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueAst {
    /// The scalar.
    pub value: ScalarAst,
    /// Where it is.
    pub span: Option<Span>,
}

/// Correlation types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorrelationType {
    /// Sigma `event_count`.
    EventCount,
    /// Sigma `value_count`.
    ValueCount,
    /// Sigma `temporal`.
    Temporal,
    /// Sigma `temporal_ordered`.
    TemporalOrdered,
    /// Sigma `value_sum`.
    ValueSum,
    /// Sigma `value_avg`.
    ValueAvg,
    /// Sigma `value_percentile`.
    ValuePercentile,
    /// Sigil: aggregates with a boolean condition, score and outputs.
    Threshold,
    /// Sigil: ordered steps with runs and until.
    Sequence,
}

impl CorrelationType {
    /// Parses a type name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "event_count" => Self::EventCount,
            "value_count" => Self::ValueCount,
            "temporal" => Self::Temporal,
            "temporal_ordered" => Self::TemporalOrdered,
            "value_sum" => Self::ValueSum,
            "value_avg" => Self::ValueAvg,
            "value_percentile" => Self::ValuePercentile,
            "threshold" => Self::Threshold,
            "sequence" => Self::Sequence,
            _ => return None,
        })
    }
    /// All type names, for hints.
    pub const NAMES: &'static str = "event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile, threshold, sequence";
}

/// The condition of a correlation.
#[derive(Clone, Debug)]
pub enum CorrConditionAst {
    /// Sigma's map form: `{field: x, gte: 10}` (several operators are AND-ed).
    Sigma {
        /// `field` (value types); a list is AND-ed distinct counts.
        field: Vec<Spanned<String>>,
        /// Operators and thresholds.
        ops: Vec<(crate::expr::CmpOp, f64)>,
        /// `percentile` rank for value_percentile.
        percentile: Option<f64>,
        /// Where the map is.
        span: Option<Span>,
    },
    /// Sigil's aggregate expression string.
    Expr(Spanned<AggExpr>),
}

/// An alias: one name, the field that carries it in each referenced rule.
#[derive(Clone, Debug)]
pub struct AliasAst {
    /// The alias.
    pub name: Spanned<String>,
    /// Rule reference → field.
    pub fields: Vec<(Spanned<String>, String)>,
}

/// One step of a sequence (or its `until`).
#[derive(Clone, Debug)]
pub struct StepAst {
    /// Named rule.
    pub rule: Option<Spanned<String>>,
    /// Inline search (`logsource` + `detection`).
    pub inline: Option<Box<RuleAst>>,
    /// Name of an inline step (for aliases); defaults to `step<N>`.
    pub name: Option<String>,
    /// `runs`.
    pub runs: Option<Spanned<i64>>,
    /// Where the step is.
    pub span: Option<Span>,
}

/// A score case.
#[derive(Clone, Debug)]
pub struct ScoreAst {
    /// `when`; absent means always.
    pub when: Option<Spanned<AggExpr>>,
    /// `value`.
    pub value: i64,
    /// Where the case is.
    pub span: Option<Span>,
}

/// `correlation:`.
#[derive(Clone, Debug)]
pub struct CorrelationAst {
    /// `type`.
    pub kind: Spanned<CorrelationType>,
    /// `rules`.
    pub rules: Vec<Spanned<String>>,
    /// `group-by`.
    pub group_by: Vec<Spanned<String>>,
    /// `timespan` (also the maxspan of sequences).
    pub timespan: Option<Spanned<String>>,
    /// `window`: `tumbling` or `sliding` (thresholds).
    pub window: Option<Spanned<String>>,
    /// `aliases`.
    pub aliases: Vec<AliasAst>,
    /// `condition`.
    pub condition: Option<CorrConditionAst>,
    /// `score` cases.
    pub score: Vec<ScoreAst>,
    /// `fields`: output items.
    pub outputs: Vec<Spanned<String>>,
    /// `steps` (sequence).
    pub steps: Vec<StepAst>,
    /// `until` (sequence).
    pub until: Option<StepAst>,
    /// `generate` written inside `correlation` (pySigma's place for it).
    pub generate: Option<bool>,
    /// Where `correlation` is.
    pub span: Option<Span>,
}

/// Which rules a filter applies to.
#[derive(Clone, Debug)]
pub enum FilterRules {
    /// `any`: every rule whose log source matches.
    Any,
    /// The listed ids or names.
    Listed(Vec<Spanned<String>>),
}

/// `filter:` plus the document's `logsource`.
#[derive(Clone, Debug)]
pub struct FilterAst {
    /// `logsource` of the document.
    pub logsource: LogSourceAst,
    /// `rules`.
    pub rules: FilterRules,
    /// Selections and condition.
    pub detection: DetectionAst,
}
