//! The SPL backend (Splunk Enterprise and Enterprise Security).
//!
//! A rule's search becomes the search command where the search command means exactly what
//! the evaluator means (case-insensitive equality and `*` patterns: [`pred::search_form`]),
//! followed by `| where` for every other test, each written as a total boolean so `NOT`
//! keeps the evaluator's two-valued meaning over absent fields. Correlations read their
//! inputs as tagged branches (`multisearch`), aggregate with `stats` over epoch-aligned
//! buckets (tumbling) or `streamstats time_window` (sliding), and chain sequence stages
//! with `streamstats`. docs/targets/spl.md describes every construct, note and refusal.

pub mod lint;
pub mod lit;
pub mod pred;
mod query;

use sigil_backend::{Backend, Capability, Construct, Cx, MappedRule};

/// The SPL target.
pub struct SPL;

impl Backend for SPL {
    fn name(&self) -> &'static str {
        "spl"
    }

    fn title(&self) -> &'static str {
        "SPL (Splunk Enterprise, Enterprise Security)"
    }

    fn capabilities(&self) -> Vec<Capability> {
        use Capability as C;
        use Construct::*;
        vec![
            C::exact(
                EqInsensitive,
                "search-command `field=\"value\"` (case-insensitive; non-ASCII folding is Splunk's); values holding `*`, backticks or control characters use where match((?i)\\A…\\z)",
            ),
            C::exact(EqCased, "where match(field, \"\\A…\\z\") over each value"),
            C::approx(
                EqNumber,
                "where tonumber(trim(field))==N over each value; SPL numbers are doubles, so integers beyond 2^53 compare approximately (noted)",
            ),
            C::exact(
                Contains,
                "search-command `*` wildcards; a literal `*` moves the test to where match()",
            ),
            C::exact(
                Wildcard,
                "`*` in the search command; `?` (which the search command lacks) via where match()",
            ),
            C::exact(
                WildcardLiteral,
                "where match() with the `*`/`?` escaped (the search command cannot escape `*`)",
            ),
            C::approx(
                Regex,
                "where match() (PCRE, unanchored); \\d \\w \\s \\b are ASCII in PCRE, Unicode in the evaluator (noted when used)",
            ),
            C::exact(RegexFlags, "inline (?i)(?m)(?s)"),
            C::approx(
                Cidr,
                "where cidrmatch() over each value; IPv6 support depends on the Splunk version (noted for IPv6 networks)",
            ),
            C::exact(
                NumCompare,
                "where tonumber(trim(field)) <op> N over each value",
            ),
            C::approx(
                Exists,
                "where isnotnull(field) / isnull(field); a field holding JSON null or [] is not extracted by Splunk, so it reads as absent (noted)",
            ),
            C::approx(
                Null,
                "where isnull(field): Splunk does not keep an explicit JSON null as a null value",
            ),
            C::exact(
                NotMissing,
                "search `NOT f=\"x\"` keeps events lacking f; where tests are total booleans, so NOT keeps the evaluator's meaning",
            ),
            C::approx(
                FieldRef,
                "where with lower(a)==lower(b) / like(): multivalue fields are compared whole, and like() reads % and _ in the other value as wildcards",
            ),
            C::approx(
                Keywords,
                "where match(_raw, …): the raw text also holds keys, numbers and JSON escapes",
            ),
            C::approx(
                TimePart,
                "minute/hour from _time arithmetic (UTC); day/week/month/year via strftime in the user's time zone; parts of fields other than the event time are refused",
            ),
            C::refused(
                Element,
                "Splunk extracts arrays of objects as one multivalue field per key: tests cannot be scoped to one element",
            ),
            C::exact(
                InList,
                "search-command `field IN (\"a\", \"b\")` (case-insensitive)",
            ),
            C::exact(
                TumblingWindow,
                "eval sigil_window=floor(_time/L)*L + stats BY sigil_window, keys (epoch-aligned whatever the time zone)",
            ),
            C::approx(
                SlidingWindow,
                "sort 0 _time | streamstats time_window=L BY keys: evaluated at every event, no window reset after an alert",
            ),
            C::exact(AggCount, "count"),
            C::exact(AggDistinct, "dc() (exact)"),
            C::exact(AggNumeric, "sum/min/max/avg over tonumber(first value)"),
            C::approx(
                AggPercentile,
                "exactperc<P>() (perc<P> for fractional ranks): Splunk's percentile definition may differ from nearest rank",
            ),
            C::exact(
                AggCondition,
                "where over the aggregate columns, each comparison guarded by isnotnull()",
            ),
            C::approx(
                Sequence,
                "stages chained with streamstats max() of the latest start: completed sequences do not consume their events",
            ),
            C::exact(
                SequenceRuns,
                "one streamstats stage per run (current=f: distinct events)",
            ),
            C::exact(
                SequenceUntil,
                "streamstats max() of the last until time clears older partials",
            ),
            C::approx(
                Unordered,
                "streamstats time_window dc(sigil_input): evaluated at every event, no reset after an alert",
            ),
            C::approx(
                Chained,
                "a threshold used as a sequence or unordered input runs in an append subsearch (Splunk's subsearch limits); other nestings are refused",
            ),
            C::exact(
                MultiSource,
                "multisearch of one tagged branch per input, each with its own selection and eval aliases",
            ),
            C::exact(Score, "eval score=case(…)"),
            C::approx(
                Outputs,
                "match rules: table; thresholds: stats values()/min/max(_time); sequence and unordered rows carry keys, counts and times only (other outputs noted)",
            ),
        ]
    }

    fn emit(&self, rule: &MappedRule, cx: &mut Cx) -> String {
        query::emit(rule, cx)
    }

    fn comment(&self, text: &str) -> String {
        // SPL's inline comment is delimited by three backticks, so the text may hold none.
        let t: String = text
            .chars()
            .map(|c| if c == '`' || c.is_control() { ' ' } else { c })
            .collect();
        format!("``` {t} ```")
    }
}

#[cfg(test)]
mod tests;
