//! The EQL backend: Elastic Security / Elasticsearch Event Query Language.
//!
//! Single-event rules print as `<category> where <condition>`; sequences as native
//! `sequence by … with maxspan=… [ … ] with runs=N … until [ … ]`; a sliding `count() >= N`
//! threshold as the equivalent `runs` sequence. EQL has no aggregation, no full-text search,
//! no date functions and no field-to-field comparison, so those constructs are refused with
//! alternatives. docs/targets/eql.md describes every translation, note and refusal.

mod print;

pub use print::{field, string};

use sigil_backend::{Backend, Capability, Construct, Cx, MappedRule};

/// The EQL target.
pub struct EQL;

impl Backend for EQL {
    fn name(&self) -> &'static str {
        "eql"
    }
    fn title(&self) -> &'static str {
        "EQL (Elastic Security, Elasticsearch EQL)"
    }
    fn capabilities(&self) -> Vec<Capability> {
        capabilities()
    }
    fn emit(&self, rule: &MappedRule, cx: &mut Cx) -> String {
        print::emit(rule, cx)
    }
}

/// The capability matrix of EQL, one entry per construct.
pub fn capabilities() -> Vec<Capability> {
    use Capability as C;
    use Construct::*;
    vec![
        C::approx(
            EqInsensitive,
            "`:` (or `in~` when the value holds `*` or `?`); Elasticsearch folds ASCII letters only, so a value with non-ASCII letters is noted",
        ),
        C::exact(EqCased, "`==`, lists as `in`"),
        C::approx(
            EqNumber,
            "`== 4624`: matched by the index's field type; the evaluator also accepts numeric text such as \" 4624 \" or \"4624.0\", and `true` in any case",
        ),
        C::approx(
            Contains,
            "`: \"*lit*\"` / `\"lit*\"` / `\"*lit\"`, or stringContains~/startsWith~/endsWith~ when the text holds `\\`, `*` or `?`; non-ASCII letters fold as ASCII only (noted)",
        ),
        C::approx(
            Wildcard,
            "`:` / `like` with `*` and `?`, or a whole-value Lucene regex when the text holds `\\`, `*` or `?`; non-ASCII letters fold as ASCII only (noted)",
        ),
        C::exact(
            WildcardLiteral,
            "literal `*`, `?` and `\\` move the test to string functions or an escaped Lucene regex",
        ),
        C::approx(
            Regex,
            "`regex` with the pattern rewritten for Lucene (wrapped in `.*` for search semantics, `$` as `\\n?`, `.` as `[^\\n]`); `\\d \\w \\s` become ASCII classes (noted); word boundaries, inner anchors, look-around and backreferences are refused",
        ),
        C::approx(
            RegexFlags,
            "`i` → `regex~` (Lucene folds ASCII letters only: noted for patterns with non-ASCII letters); `m` and `s` rewrite anchors and dots",
        ),
        C::exact(Cidr, "`cidrMatch(field, \"net\")`"),
        C::approx(
            NumCompare,
            "`<`, `<=`, `>`, `>=`: compared by the index's field type; numeric text in a keyword field is not compared as a number",
        ),
        C::approx(
            Exists,
            "`field != null` / `field == null`: a field whose value is JSON null or an empty array is absent to Elasticsearch, present to the evaluator",
        ),
        C::exact(Null, "`field == null`"),
        C::exact(
            NotMissing,
            "every test under `not` is guarded with `field != null`, so a missing field makes the test false (not null) whichever logic the engine uses",
        ),
        C::refused(FieldRef, "EQL cannot compare a field with another field"),
        C::refused(Keywords, "EQL has no full-text search"),
        C::refused(TimePart, "EQL has no date functions"),
        C::refused(
            Element,
            "EQL does not support arrays of objects (no per-element scoping)",
        ),
        C::exact(InList, "`in` / `in~` lists"),
        C::approx(
            TumblingWindow,
            "a count over a tumbling window runs as a sliding `runs` sequence of the same length (noted: bursts across window edges alert too, and at the N-th event)",
        ),
        C::approx(
            SlidingWindow,
            "a count over a sliding window is `sequence by keys with maxspan=L [search] with runs=N`: the first alert of a burst is the evaluator's; after it Elasticsearch keeps the group's newer partial runs, so further events of the burst alert again on overlapping events (noted)",
        ),
        C::exact(AggCount, "`count() >= N` (2 ≤ N ≤ 100) as `with runs=N`"),
        C::refused(AggDistinct, "EQL has no aggregation"),
        C::refused(AggNumeric, "EQL has no aggregation"),
        C::refused(AggPercentile, "EQL has no aggregation"),
        C::refused(
            AggCondition,
            "only a single `count() >= N` (or `> N-1`) condition has a `runs` encoding",
        ),
        C::approx(
            Sequence,
            "native `sequence`, keys shared by every step in `sequence by`, others per step; Elasticsearch keeps a key's other pending partials when a sequence completes, the evaluator discards them (noted)",
        ),
        C::exact(SequenceRuns, "`with runs=N` (1 ≤ N ≤ 100)"),
        C::exact(SequenceUntil, "`until [ … ]`"),
        C::refused(
            Unordered,
            "EQL sequences are ordered; any order would need one query per permutation",
        ),
        C::refused(
            Chained,
            "an EQL sequence step is a single-event query, not a correlation",
        ),
        C::approx(
            MultiSource,
            "each source's search with its selecting conditions, OR-ed (`any where (A) or (B)`); index patterns of every source in the leading `// index:` comment; a threshold whose inputs read a key from different fields is refused",
        ),
        C::approx(
            Score,
            "EQL has no computed fields: the score, constant for a `runs` encoding, is written as a `// score:` comment for the rule pack (noted)",
        ),
        C::approx(
            Outputs,
            "EQL returns the matching events: event fields are read from them; computed outputs of thresholds (values, distinct, first/last seen) are not computed (noted)",
        ),
    ]
}

#[cfg(test)]
mod tests;
