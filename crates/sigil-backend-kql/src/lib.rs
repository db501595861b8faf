//! The KQL backend (Microsoft Sentinel, Defender XDR, Azure Data Explorer).
//!
//! Single-event searches become `where` clauses (`pred`); correlations become `let`
//! statements of occurrence rows that are summarized (thresholds) or folded per key with a
//! one-step `scan` that keeps the reference evaluator's state (sequences, unordered). How every
//! construct is translated, and where the result differs from the evaluator, is documented in
//! docs/targets/kql.md.

mod pred;
mod query;
mod regex;
pub mod text;

use sigil_backend::{Backend, Capability, Construct, Cx, MappedRule};

/// The KQL target.
pub struct KQL;

impl Backend for KQL {
    fn name(&self) -> &'static str {
        "kql"
    }
    fn title(&self) -> &'static str {
        "KQL (Microsoft Sentinel, Defender XDR)"
    }
    fn capabilities(&self) -> Vec<Capability> {
        capabilities()
    }
    fn emit(&self, rule: &MappedRule, cx: &mut Cx) -> String {
        query::Builder::new(rule).emit(cx)
    }
}

/// What KQL expresses, construct by construct.
fn capabilities() -> Vec<Capability> {
    use Capability as C;
    use Construct::*;
    vec![
        C::approx(
            EqInsensitive,
            "`=~` (KQL folds ASCII only); text with non-ASCII letters is compared through \
             tolower(), with a note",
        ),
        C::exact(
            EqCased,
            "`==`; on a dynamic field, also any string element of an array (a regex over its \
             JSON text)",
        ),
        C::approx(
            EqNumber,
            "`toreal(f) == n` (numeric strings compare numerically); integers beyond 2^53 are \
             compared as reals, with a note",
        ),
        C::approx(
            Contains,
            "`contains`, `startswith`, `endswith` (`_cs` when cased); non-ASCII text through \
             tolower(), with a note",
        ),
        C::approx(
            Wildcard,
            "`matches regex` over the whole value, literals escaped, `*` as `(?s:.*)`; a \
             dynamic field holding an array is matched as its JSON text (noted)",
        ),
        C::exact(WildcardLiteral, "escaped inside the regex"),
        C::approx(
            Regex,
            "`matches regex` (RE2): a trailing `$` is rewritten to keep PCRE's final-newline \
             rule; `\\d \\w \\s \\b` are ASCII-only (noted); look-around and backreferences \
             are refused",
        ),
        C::exact(RegexFlags, "inline `(?ims)`"),
        C::approx(
            Cidr,
            "`ipv4_is_in_range` / `ipv6_is_in_range`; KQL's address parsing may accept \
             spellings Sigil rejects",
        ),
        C::exact(
            NumCompare,
            "`toreal(f) op n`, wrapped in `coalesce(…, false)` under `not`",
        ),
        C::approx(
            Exists,
            "`isnotempty` / `isempty`: KQL cannot tell an absent field from an empty or null one",
        ),
        C::approx(Null, "`isempty`: an empty string also counts as null"),
        C::approx(
            NotMissing,
            "an absent field reads as empty, which no non-empty test matches, and tests that \
             can be null are wrapped in `coalesce(…, false)` under `not`; tests the empty \
             string passes also match events without the field (noted)",
        ),
        C::approx(
            FieldRef,
            "`tolower(a) == tolower(b)` and `_cs` operators between columns; an empty value \
             counts as absent",
        ),
        C::approx(
            Keywords,
            "`* contains` over every column of the row (not only string values); keywords \
             with inner wildcards are refused",
        ),
        C::approx(
            TimePart,
            "`datetime_part()` over `todatetime(f)` (UTC; `week_of_year` is ISO 8601); epoch \
             numbers are not read",
        ),
        C::refused(
            Element,
            "no scalar test scopes several tests to one array element",
        ),
        C::approx(
            InList,
            "`in` / `in~`; non-ASCII values through `tolower(f) in (…)`, with a note",
        ),
        C::exact(
            TumblingWindow,
            "`summarize … by bin()` (or `bin_at()` from 1970-01-01 when the length does not \
             divide a day)",
        ),
        C::approx(
            SlidingWindow,
            "exact for conditions on count() alone (up to 24 events: a per-key scan fold keeps \
             the last occurrence times); otherwise tumbling bins of the window's length, where \
             a burst across a bin edge can be missed (noted)",
        ),
        C::exact(
            AggCount,
            "`count()` (or the sum of nested occurrences' counts)",
        ),
        C::approx(
            AggDistinct,
            "`count_distinctif(f, isnotempty(f))` (exact, unlike `dcount`): the empty string \
             is not counted, and an array counts as its JSON text",
        ),
        C::exact(
            AggNumeric,
            "`sumif/minif/maxif/avgif` over `toreal(f)`; a group without numbers fails every \
             comparison",
        ),
        C::exact(
            AggPercentile,
            "nearest rank over `array_sort_asc(make_list_if(…))` (not the estimating \
             `percentile()`)",
        ),
        C::exact(
            AggCondition,
            "`and`, `or`, `not()` over the aggregate columns",
        ),
        C::approx(
            Sequence,
            "a per-key `scan` fold with Sigil's pending-partial state; inputs reading the \
             same events are noted (one event becomes two rows)",
        ),
        C::exact(SequenceRuns, "one scan stage per run"),
        C::exact(
            SequenceUntil,
            "the until input's rows clear the key's state in the fold",
        ),
        C::approx(
            Unordered,
            "a per-key `scan` fold of each input's latest time; first_seen and event_count \
             see only those latest occurrences",
        ),
        C::approx(
            Chained,
            "an inner threshold's rows are its qualifying windows over the query period, \
             regrouped by the outer keys",
        ),
        C::exact(
            MultiSource,
            "`let` per input projecting the shared aliases, then `union`",
        ),
        C::exact(Score, "`case()`; no matching case gives a null score"),
        C::approx(
            Outputs,
            "thresholds project keys, counts, `make_set` values, first/last seen and the \
             score; fields outside the group key and sequence outputs other than keys and \
             counts are noted",
        ),
    ]
}

#[cfg(test)]
mod tests;
