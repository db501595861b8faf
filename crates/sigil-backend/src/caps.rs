//! The capability model: every IR construct a target may express, and how well it does.

use std::fmt;

/// How faithfully a target expresses a construct.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fidelity {
    /// Same meaning as the reference evaluator.
    Exact,
    /// Emitted with a fidelity note naming the difference (in some or all uses).
    Approx,
    /// Never emitted: compiling a rule that uses it is an error.
    Refused,
}

impl Fidelity {
    /// The word used in the capability matrix.
    pub fn name(self) -> &'static str {
        match self {
            Fidelity::Exact => "exact",
            Fidelity::Approx => "approx",
            Fidelity::Refused => "refused",
        }
    }
}

macro_rules! constructs {
    ($( $(#[$doc:meta])* $variant:ident = $slug:literal, $describe:literal; )*) => {
        /// A construct of the IR that targets express differently.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Construct {
            $( $(#[$doc])* $variant, )*
        }

        impl Construct {
            /// Every construct, in matrix order.
            pub const ALL: &'static [Construct] = &[$(Construct::$variant,)*];

            /// Kebab-case name (matrix rows, JSON).
            pub fn slug(self) -> &'static str {
                match self { $(Construct::$variant => $slug,)* }
            }

            /// A phrase for messages ("case-insensitive equality").
            pub fn describe(self) -> &'static str {
                match self { $(Construct::$variant => $describe,)* }
            }
        }
    };
}

constructs! {
    /// String equality ignoring case (Sigma's default).
    EqInsensitive = "eq-insensitive", "case-insensitive string equality";
    /// String equality respecting case (`|cased`).
    EqCased = "eq-cased", "case-sensitive string equality";
    /// Equality with a number or boolean.
    EqNumber = "eq-number", "numeric and boolean equality";
    /// `*lit*`, `lit*`, `*lit` patterns.
    Contains = "contains", "contains / startswith / endswith";
    /// Whole-value wildcard patterns with inner `*` or `?`.
    Wildcard = "wildcard", "wildcard patterns";
    /// Wildcard patterns whose literal text holds `*` or `?` characters.
    WildcardLiteral = "wildcard-literal", "literal `*` or `?` inside a wildcard pattern";
    /// Regular expressions (Sigma `|re`).
    Regex = "regex", "regular expressions";
    /// Regex flags i, m, s.
    RegexFlags = "regex-flags", "regular expression flags (i, m, s)";
    /// IP network membership.
    Cidr = "cidr", "CIDR network membership";
    /// Numeric comparisons.
    NumCompare = "num-compare", "numeric comparison (lt, lte, gt, gte)";
    /// Field presence tests.
    Exists = "exists", "field presence (exists)";
    /// `field: null` (absent or null).
    Null = "null", "null / absent field";
    /// Negation over fields that may be absent.
    NotMissing = "not-missing", "negation of a test on a field an event may lack";
    /// Comparing two fields of one event.
    FieldRef = "fieldref", "field-to-field comparison (fieldref)";
    /// A value searched in every string of the event.
    Keywords = "keywords", "keyword search over the whole event";
    /// Comparing a part of a timestamp.
    TimePart = "time-part", "time-part comparison (minute, hour, day, week, month, year)";
    /// Several tests scoped to one element of an array of objects.
    Element = "element", "array element scoping (|element)";
    /// Multi-value lists folded into one membership test.
    InList = "in-list", "value lists";
    /// Aggregation over tumbling windows.
    TumblingWindow = "tumbling-window", "tumbling windows";
    /// Aggregation over sliding windows.
    SlidingWindow = "sliding-window", "sliding windows";
    /// `count()`.
    AggCount = "agg-count", "count()";
    /// `distinct(f)`.
    AggDistinct = "agg-distinct", "distinct()";
    /// `sum`, `min`, `max`, `avg`.
    AggNumeric = "agg-numeric", "sum() / min() / max() / avg()";
    /// `percentile(f, r)`.
    AggPercentile = "agg-percentile", "percentile()";
    /// Boolean conditions over several aggregates.
    AggCondition = "agg-condition", "compound aggregate conditions";
    /// Ordered steps per key within a span.
    Sequence = "sequence", "ordered sequences";
    /// `runs: N` on a step.
    SequenceRuns = "sequence-runs", "repeated sequence steps (runs)";
    /// `until` cancelling partial sequences.
    SequenceUntil = "sequence-until", "sequence cancellation (until)";
    /// Inputs within a span in any order (Sigma temporal).
    Unordered = "unordered", "unordered co-occurrence (temporal)";
    /// A correlation used as the input of another.
    Chained = "chained", "correlations over correlations";
    /// Several log sources in one rule.
    MultiSource = "multi-source", "multi-source union with aliases";
    /// Risk score cases.
    Score = "score", "risk score cases";
    /// Alert output fields (values, first/last seen).
    Outputs = "outputs", "output fields";
}

impl fmt::Display for Construct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

/// How one target expresses one construct, with the reason when not exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capability {
    /// The construct.
    pub construct: Construct,
    /// Exact, approximate or refused.
    pub fidelity: Fidelity,
    /// How it is emitted, or why it differs or is refused.
    pub note: &'static str,
}

impl Capability {
    /// The target expresses the construct exactly, as `how`.
    pub fn exact(construct: Construct, how: &'static str) -> Self {
        Capability {
            construct,
            fidelity: Fidelity::Exact,
            note: how,
        }
    }
    /// The target approximates the construct (in some or all uses); `why` says how.
    pub fn approx(construct: Construct, why: &'static str) -> Self {
        Capability {
            construct,
            fidelity: Fidelity::Approx,
            note: why,
        }
    }
    /// The target cannot express the construct; `why` says so.
    pub fn refused(construct: Construct, why: &'static str) -> Self {
        Capability {
            construct,
            fidelity: Fidelity::Refused,
            note: why,
        }
    }
}

/// Renders the capability matrix of several targets as a Markdown table plus notes.
pub fn matrix(targets: &[(&str, Vec<Capability>)]) -> String {
    let mut out = String::from("| construct |");
    for (name, _) in targets {
        out.push_str(&format!(" {name} |"));
    }
    out.push_str("\n|---|");
    for _ in targets {
        out.push_str("---|");
    }
    out.push('\n');
    for c in Construct::ALL {
        out.push_str(&format!("| {} |", c.slug()));
        for (_, caps) in targets {
            let f = caps
                .iter()
                .find(|k| k.construct == *c)
                .map(|k| k.fidelity.name())
                .unwrap_or("undeclared");
            out.push_str(&format!(" {f} |"));
        }
        out.push('\n');
    }
    for (name, caps) in targets {
        out.push_str(&format!("\n{name}:\n"));
        for c in Construct::ALL {
            if let Some(k) = caps.iter().find(|k| k.construct == *c) {
                out.push_str(&format!(
                    "  {:<18} {:<8} {}\n",
                    c.slug(),
                    k.fidelity.name(),
                    k.note
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_unique() {
        let mut s: Vec<&str> = Construct::ALL.iter().map(|c| c.slug()).collect();
        s.sort_unstable();
        s.dedup();
        assert_eq!(s.len(), Construct::ALL.len());
    }

    #[test]
    fn matrix_marks_undeclared_constructs() {
        let m = matrix(&[("t", vec![Capability::exact(Construct::EqCased, "`==`")])]);
        assert!(m.contains("| eq-cased | exact |"), "{m}");
        assert!(m.contains("| regex | undeclared |"), "{m}");
    }
}
