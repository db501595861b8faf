//! Whole queries: match rules, thresholds, sequences and unordered correlations.
//!
//! Every input of a correlation becomes a `let` holding its *occurrence rows*: one row per
//! occurrence with `_time` (its time), `_first` (its first event's time), `_count` (its
//! events) and one string column per key or aliased field it must provide (`""` when the
//! input lacks the field). Thresholds summarize the union of their inputs' rows; sequences and
//! unordered correlations fold them per key with a one-step `scan` that keeps the reference
//! evaluator's state (docs/semantics.md §5–6) in declared columns.

use crate::pred;
use crate::text::{comment_text, field, ident, is_plain, lit};
use sigil_backend::text::{duration, identifier, number};
use sigil_backend::{Construct, Cx, MappedRule, agg};
use sigil_ir::{
    Agg, AggExpr, AggFunc, CmpOp, Input, LogSource, Output, Query, Search, Sequence, Threshold,
    Unordered, Value, WindowKind,
};
use std::collections::BTreeSet;

/// Internal column names (a key with one of these names would be shadowed; none of the
/// built-in rules has one).
const TIME: &str = "_time";
const FIRST: &str = "_first";
const COUNT: &str = "_count";
const INPUT: &str = "_input";

/// Builds one query: `let` statements first, then the final tabular expression.
pub struct Builder<'a> {
    rule: &'a MappedRule,
    lets: Vec<String>,
    names: BTreeSet<String>,
    comments: Vec<String>,
}

/// A key or aliased field an input must provide: the column to write and the field (or
/// inner alias) that holds it in this input, `None` when the input lacks it.
type KeyCol = (String, Option<String>);

impl<'a> Builder<'a> {
    /// A builder for `rule`.
    pub fn new(rule: &'a MappedRule) -> Self {
        Builder {
            rule,
            lets: Vec::new(),
            names: BTreeSet::new(),
            comments: Vec::new(),
        }
    }

    /// The whole query text.
    pub fn emit(mut self, cx: &mut Cx) -> String {
        let rule = self.rule;
        let body = match &rule.rule.query {
            Query::Match(s) => self.match_rule(s, cx),
            Query::Threshold(t) => self.threshold(t, None, cx),
            Query::Sequence(s) => self.sequence(s, None, cx),
            Query::Unordered(u) => self.unordered(u, None, cx),
        };
        let mut out = String::new();
        for c in &self.comments {
            out.push_str("// ");
            out.push_str(&comment_text(c));
            out.push('\n');
        }
        for l in &self.lets {
            out.push_str(l);
            out.push_str(";\n");
        }
        out.push_str(&body);
        out.push('\n');
        out
    }

    /// A fresh `let` name from an input name.
    fn let_name(&mut self, base: &str) -> String {
        let mut stem = identifier(base);
        if !is_plain(&stem) || stem.starts_with('_') {
            stem = format!("in{stem}");
        }
        let mut name = stem.clone();
        let mut n = 2;
        while self.names.contains(&name) || self.is_table(&name) {
            name = format!("{stem}_{n}");
            n += 1;
        }
        self.names.insert(name.clone());
        name
    }

    fn is_table(&self, name: &str) -> bool {
        self.rule
            .sources
            .iter()
            .any(|(ls, s)| table_name(ls, s.loc("table")) == name)
    }

    fn add_let(&mut self, base: &str, body: String) -> String {
        let name = self.let_name(base);
        self.lets.push(format!("let {name} = {body}"));
        name
    }

    /// The table and filters of one search (`Table | where … | where …`).
    fn search(&mut self, s: &Search, cx: &mut Cx) -> String {
        let src = self.rule.source(&s.source);
        let table = match src.loc("table") {
            Some(t) => ident(t),
            None => {
                let name = table_name(&s.source, None);
                let c = format!(
                    "no table is mapped for {}: `{name}` stands for its events",
                    source_text(&s.source)
                );
                if !self.comments.contains(&c) {
                    self.comments.push(c);
                }
                ident(&name)
            }
        };
        let mut out = table;
        for (f, values) in &src.conditions {
            if let Some(c) = source_condition(f, values) {
                out.push_str("\n| where ");
                out.push_str(&c);
            }
        }
        let e = pred::expr(&s.expr, cx);
        if e != "true" {
            out.push_str("\n| where ");
            out.push_str(&e);
        }
        out
    }

    fn time_of(&self, s: &Search) -> String {
        let t = &self.rule.source(&s.source).time;
        let f = field(t);
        if f.dynamic {
            format!("todatetime({})", f.expr)
        } else {
            f.expr
        }
    }

    fn match_rule(&mut self, s: &Search, cx: &mut Cx) -> String {
        let mut out = self.search(s, cx);
        if !self.rule.rule.outputs.is_empty() {
            let mut cols = vec![self.time_of(s)];
            for o in &self.rule.rule.outputs {
                match o {
                    Output::Field(name) => {
                        let target = self
                            .rule
                            .output_fields
                            .get(name)
                            .map(String::as_str)
                            .unwrap_or(name);
                        let fx = field(target);
                        if !fx.dynamic && target == name {
                            cols.push(fx.expr);
                        } else {
                            cols.push(format!("{} = {}", ident(name), fx.expr));
                        }
                    }
                    other => cx.approx(
                        Construct::Outputs,
                        None,
                        format!(
                            "a match rule has no group: output `{}` is left out",
                            sigil_ir::output_text(other)
                        ),
                    ),
                }
            }
            out.push_str("\n| project ");
            out.push_str(&dedup(cols).join(", "));
        }
        out
    }

    /// The occurrence rows of `input` with the key columns `keys` (see the module doc);
    /// returns the `let` name.
    fn rows(&mut self, input: &Input, keys: &[KeyCol], tag: Option<usize>, cx: &mut Cx) -> String {
        let tag_col = tag.map(|t| format!(", {INPUT} = {t}")).unwrap_or_default();
        let body = match &*input.query {
            Query::Match(s) => {
                let mut body = self.search(s, cx);
                let time = self.time_of(s);
                let mut cols = vec![
                    format!("{TIME} = {time}"),
                    format!("{FIRST} = {time}"),
                    format!("{COUNT} = 1"),
                ];
                for (col, f) in keys {
                    let v = match f {
                        Some(f) => format!("tostring({})", field(f).expr),
                        None => "\"\"".to_string(),
                    };
                    cols.push(format!("{} = {v}", ident(col)));
                }
                body.push_str(&format!("\n| project {}{tag_col}", cols.join(", ")));
                body
            }
            Query::Threshold(t) => {
                cx.approx(
                    Construct::Chained,
                    input.origin,
                    "the inner threshold is evaluated over the whole query period: its \
                     occurrences are its windows that meet the condition, each at its last \
                     event",
                );
                let inner = self.threshold(t, Some(keys), cx);
                format!("{inner}{}", tag_col_extend(tag))
            }
            Query::Sequence(s) => {
                let inner = self.sequence(s, Some(keys), cx);
                format!("{inner}{}", tag_col_extend(tag))
            }
            Query::Unordered(u) => {
                let inner = self.unordered(u, Some(keys), cx);
                format!("{inner}{}", tag_col_extend(tag))
            }
        };
        self.add_let(&input.name, body)
    }

    /// The union of the rows of `inputs`, each asked for the aliases in `names`.
    fn union(
        &mut self,
        inputs: &[(&Input, Option<usize>)],
        names: &[String],
        cx: &mut Cx,
    ) -> String {
        let mut lets = Vec::new();
        for (input, tag) in inputs {
            let keys: Vec<KeyCol> = names
                .iter()
                .map(|n| (n.clone(), input.field(n).map(str::to_string)))
                .collect();
            lets.push(self.rows(input, &keys, *tag, cx));
        }
        if lets.len() > 1 {
            format!("union {}", lets.join(", "))
        } else {
            lets.pop().unwrap_or_default()
        }
    }

    /// A threshold; with `regroup`, its occurrence rows grouped by those keys instead of its
    /// own (a threshold inside a correlation, docs/semantics.md §7).
    fn threshold(&mut self, t: &Threshold, regroup: Option<&[KeyCol]>, cx: &mut Cx) -> String {
        if t.window.kind == WindowKind::Sliding
            && t.inputs.iter().all(|i| matches!(*i.query, Query::Match(_)))
            && let Some(k) = count_capacity(t)
        {
            return self.sliding_count(t, k, regroup, cx);
        }
        let mut aggs = agg::used(t);
        if regroup.is_none() {
            for o in &self.rule.rule.outputs {
                if let Output::Distinct(f) = o {
                    let a = Agg {
                        func: AggFunc::Distinct,
                        field: Some(f.clone()),
                        rank: None,
                    };
                    if !aggs.iter().any(|b| agg::column(b) == agg::column(&a)) {
                        aggs.push(a);
                    }
                }
            }
        }
        let group = group_keys(t, regroup);
        let mut names: Vec<String> = group.clone();
        for a in &aggs {
            if let Some(f) = &a.field {
                names.push(f.clone());
            }
        }
        if regroup.is_none() {
            for o in &self.rule.rule.outputs {
                if let Output::Field(f) | Output::Values(f) | Output::Distinct(f) = o {
                    names.push(f.clone());
                }
            }
        }
        let names = dedup(names);
        let inputs: Vec<(&Input, Option<usize>)> = t.inputs.iter().map(|i| (i, None)).collect();
        let all_match = t.inputs.iter().all(|i| matches!(*i.query, Query::Match(_)));
        let mut out = self.union(&inputs, &names, cx);
        let mut filters = vec![format!("isnotnull({TIME})")];
        filters.extend(group.iter().map(|k| format!("isnotempty({})", ident(k))));
        out.push_str(&format!("\n| where {}", filters.join(" and ")));
        // Aggregates.
        let mut sums = vec![if all_match {
            "event_count = count()".to_string()
        } else {
            format!("event_count = sum({COUNT})")
        }];
        sums.push(format!("first_seen = min({FIRST})"));
        sums.push(format!("last_seen = max({TIME})"));
        let mut after: Vec<String> = Vec::new();
        for a in &aggs {
            let col = agg::column(a);
            let Some(f) = a.field.as_deref() else {
                continue;
            };
            let v = ident(f);
            let num = format!("toreal({v})");
            match a.func {
                AggFunc::Count => {}
                AggFunc::Distinct => {
                    sums.push(format!("{col} = count_distinctif({v}, isnotempty({v}))"))
                }
                AggFunc::Sum | AggFunc::Min | AggFunc::Max | AggFunc::Avg => {
                    let fname = match a.func {
                        AggFunc::Sum => "sum",
                        AggFunc::Min => "min",
                        AggFunc::Max => "max",
                        _ => "avg",
                    };
                    sums.push(format!("{col} = {fname}if({num}, isnotnull({num}))"));
                    sums.push(format!("{} = countif(isnotnull({num}))", numbers_col(f)));
                }
                AggFunc::Percentile => {
                    let list = format!("_values_{}", identifier(f));
                    sums.push(format!("{list} = make_list_if({num}, isnotnull({num}))"));
                    sums.push(format!("{} = countif(isnotnull({num}))", numbers_col(f)));
                    let rank = number(a.rank.unwrap_or(50.0));
                    after.push(format!(
                        "{col} = toreal(array_sort_asc({list})[max_of(toint(ceiling({rank} / \
                         100.0 * array_length({list}))), 1) - 1])"
                    ));
                }
            }
        }
        let outputs = if regroup.is_none() {
            self.rule.rule.outputs.clone()
        } else {
            Vec::new()
        };
        for o in &outputs {
            if let Output::Values(f) = o {
                let v = ident(f);
                sums.push(format!(
                    "{} = make_set_if({v}, isnotempty({v}))",
                    values_col(f)
                ));
            } else if let Output::Field(f) = o
                && !group.contains(f)
            {
                cx.approx(
                    Construct::Outputs,
                    None,
                    format!(
                        "`{f}` is not a group key: the query reports one of its values \
                         (take_any), where Sigil reports none"
                    ),
                );
                let v = ident(f);
                sums.push(format!("{v} = take_any({v})"));
            }
        }
        let length = t.window.length_ms;
        if t.window.kind == WindowKind::Sliding {
            cx.approx(
                Construct::SlidingWindow,
                None,
                format!(
                    "the sliding {} window is approximated by tumbling {} bins aligned to the \
                     Unix epoch: a burst that crosses a bin edge can be missed, and a bin is \
                     judged as a whole rather than at its first qualifying event",
                    duration(length),
                    duration(length)
                ),
            );
        }
        // Several aggregates of one field share its count of numbers: declare it once.
        let mut declared = BTreeSet::new();
        sums.retain(|a| declared.insert(a.split(" = ").next().unwrap_or(a).to_string()));
        let bin = bin(length);
        let mut by: Vec<String> = group.iter().map(|k| ident(k)).collect();
        by.push(format!("window_start = {bin}"));
        out.push_str(&format!(
            "\n| summarize {}\n    by {}",
            sums.join(", "),
            by.join(", ")
        ));
        if !after.is_empty() {
            out.push_str(&format!("\n| extend {}", after.join(", ")));
        }
        out.push_str(&format!("\n| where {}", condition(&t.condition)));
        match regroup {
            Some(keys) => {
                let mut cols = vec![
                    format!("{TIME} = last_seen"),
                    format!("{FIRST} = first_seen"),
                    format!("{COUNT} = event_count"),
                ];
                for (col, f) in keys {
                    let v = match f {
                        Some(f) => ident(f),
                        None => "\"\"".into(),
                    };
                    cols.push(format!("{} = {v}", ident(col)));
                }
                out.push_str(&format!("\n| project {}", cols.join(", ")));
                out
            }
            None => {
                if !t.score.is_empty() {
                    out.push_str(&format!("\n| extend score = {}", score(&t.score)));
                }
                let mut cols: Vec<String> = group.iter().map(|k| ident(k)).collect();
                cols.extend(
                    ["window_start", "first_seen", "last_seen", "event_count"].map(String::from),
                );
                for a in &aggs {
                    if a.func != AggFunc::Count {
                        cols.push(agg::column(a));
                    }
                }
                for o in &outputs {
                    match o {
                        Output::Values(f) => {
                            cols.push(format!("{0} = array_sort_asc({0})", values_col(f)))
                        }
                        Output::Field(f) => cols.push(ident(f)),
                        Output::Score => cols.push("score".into()),
                        Output::Distinct(_)
                        | Output::Count
                        | Output::FirstSeen
                        | Output::LastSeen => {}
                    }
                }
                if !t.score.is_empty() && !cols.iter().any(|c| c == "score") {
                    cols.push("score".into());
                }
                out.push_str(&format!("\n| project {}", dedup(cols).join(", ")));
                out
            }
        }
    }

    /// A sliding window whose condition and score read `count()` alone, exactly: per key, a
    /// fold keeps the times of the last `k - 1` occurrences since the key last alerted, so the
    /// window's count (up to `k`, enough for every constant the condition compares with) is
    /// known at each occurrence; the first occurrence that satisfies the condition alerts and
    /// empties the window (docs/semantics.md §4.3).
    fn sliding_count(
        &mut self,
        t: &Threshold,
        k: usize,
        regroup: Option<&[KeyCol]>,
        cx: &mut Cx,
    ) -> String {
        let group = group_keys(t, regroup);
        let inputs: Vec<(&Input, Option<usize>)> = t.inputs.iter().map(|i| (i, None)).collect();
        let mut out = self.union(&inputs, &group, cx);
        out.push_str(&self.key_filter(&group));
        let span = duration(t.window.length_ms);
        let ring = k - 1;
        let within = |i: usize| format!("(isnotnull(s._r{i}) and {TIME} - s._r{i} <= {span})");
        let mut count = String::from("(1");
        for i in 1..=ring {
            count.push_str(&format!(" + iff({}, 1, 0)", within(i)));
        }
        count.push(')');
        let fire = count_condition(&t.condition, &within);
        let mut first = TIME.to_string();
        for i in 1..=ring {
            first = format!("iff({}, s._r{i}, {first})", within(i));
        }
        let mut decl: Vec<String> = (1..=ring).map(|i| format!("_r{i}:datetime")).collect();
        decl.push("_fire:bool = false".into());
        decl.push("first_seen:datetime".into());
        decl.push("event_count:long = 0".into());
        let mut assign = vec![format!("_r1 = iff({fire}, datetime(null), {TIME})")];
        for i in 2..=ring {
            assign.push(format!(
                "_r{i} = iff({fire}, datetime(null), s._r{})",
                i - 1
            ));
        }
        assign.push(format!("_fire = {fire}"));
        assign.push(format!("first_seen = iff({fire}, {first}, datetime(null))"));
        assign.push(format!("event_count = iff({fire}, {count}, 0)"));
        let scan = format!(
            "sort by {TIME} asc\n    | scan declare ({}) with (\n        step s: true => {};\n    )",
            decl.join(", "),
            assign.join(",\n            ")
        );
        out.push_str(&self.partitioned(&group, &scan));
        out.push_str("\n| where _fire");
        let mut extra = Vec::new();
        if regroup.is_none() && !t.score.is_empty() {
            out.push_str(&format!("\n| extend score = {}", score(&t.score)));
            extra.push("score".to_string());
        }
        self.fold_output(out, &group, regroup, &extra, cx)
    }

    /// A sequence, folded per key by a one-step `scan` (docs/semantics.md §5).
    fn sequence(&mut self, s: &Sequence, regroup: Option<&[KeyCol]>, cx: &mut Cx) -> String {
        let mut stages: Vec<usize> = Vec::new();
        for (i, st) in s.steps.iter().enumerate() {
            for _ in 0..st.runs.max(1) {
                stages.push(i);
            }
        }
        let n = stages.len();
        if n == 0 {
            cx.refuse(
                Construct::Sequence,
                None,
                "the sequence has no steps",
                &["give the sequence at least one step"],
            );
            return String::new();
        }
        let until = s.until.as_ref().map(|_| s.steps.len());
        let mut inputs: Vec<(&Input, Option<usize>)> = s
            .steps
            .iter()
            .enumerate()
            .map(|(i, st)| (&st.input, Some(i)))
            .collect();
        if let (Some(u), Some(tag)) = (&s.until, until) {
            inputs.push((u, Some(tag)));
        }
        self.shared_sources(&inputs, Construct::Sequence, cx);
        let names = dedup(s.by.clone());
        let mut out = self.union(&inputs, &names, cx);
        out.push_str(&self.key_filter(&names));
        let span = s.maxspan_ms.map(duration);
        let one_input = inputs.len() == 1;
        let adv = |j: usize| -> String {
            // Stage j (0-based) is reached by this row (every row is of the one input when
            // there is only one).
            let m = if one_input {
                "true".to_string()
            } else {
                format!("{INPUT} == {}", stages[j])
            };
            if j == 0 {
                m
            } else {
                let within = span
                    .as_ref()
                    .map(|d| format!(" and {TIME} - s._f{} <= {d}", j - 1))
                    .unwrap_or_default();
                if one_input {
                    format!("(s._n{} > 0{within})", j - 1)
                } else {
                    format!("({m} and s._n{} > 0{within})", j - 1)
                }
            }
        };
        let fire = adv(n - 1);
        let reset = match until {
            Some(u) => format!("({fire} or {INPUT} == {u})"),
            None => fire.clone(),
        };
        let mut decl = Vec::new();
        let mut assign = Vec::new();
        for j in 0..n.saturating_sub(1) {
            decl.push(format!("_n{j}:long = 0"));
            decl.push(format!("_f{j}:datetime"));
            let (count_from, first_from) = if j == 0 {
                (COUNT.to_string(), FIRST.to_string())
            } else {
                (format!("s._n{} + {COUNT}", j - 1), format!("s._f{}", j - 1))
            };
            let next = adv(j + 1);
            assign.push(format!(
                "_n{j} = iff({reset}, 0, iff({}, {count_from}, iff({next}, 0, s._n{j})))",
                adv(j)
            ));
            assign.push(format!(
                "_f{j} = iff({reset}, datetime(null), iff({}, {first_from}, iff({next}, \
                 datetime(null), s._f{j})))",
                adv(j)
            ));
        }
        let (count_done, first_done) = if n == 1 {
            (COUNT.to_string(), FIRST.to_string())
        } else {
            (format!("s._n{} + {COUNT}", n - 2), format!("s._f{}", n - 2))
        };
        decl.push("_fire:bool = false".into());
        decl.push("first_seen:datetime".into());
        decl.push("event_count:long = 0".into());
        assign.push(format!("_fire = {fire}"));
        assign.push(format!(
            "first_seen = iff({fire}, {first_done}, datetime(null))"
        ));
        assign.push(format!("event_count = iff({fire}, {count_done}, 0)"));
        // Rows of one time are taken in step order, the until input last (§5).
        let scan = format!(
            "sort by {TIME} asc, {INPUT} asc\n    | scan declare ({}) with (\n        step s: true => {};\n    )",
            decl.join(", "),
            assign.join(",\n            ")
        );
        out.push_str(&self.partitioned(&names, &scan));
        out.push_str("\n| where _fire");
        self.fold_output(out, &names, regroup, &[], cx)
    }

    /// Inputs of one correlation that read the same log source: one event can then be a row
    /// of two inputs, which the fold sees as two occurrences.
    fn shared_sources(&self, inputs: &[(&Input, Option<usize>)], c: Construct, cx: &mut Cx) {
        let mut seen: Vec<(Vec<LogSource>, &str)> = Vec::new();
        for (i, _) in inputs {
            let mut ls = Vec::new();
            i.query.for_each_search(&mut |s| ls.push(s.source.clone()));
            ls.sort();
            if let Some((_, other)) = seen.iter().find(|(l, name)| *l == ls && *name != i.name) {
                cx.approx(
                    c,
                    i.origin,
                    format!(
                        "`{}` and `{other}` read the same events: an event matching both is two \
                         rows, and may fill two stages where Sigil lets one event fill one",
                        i.name
                    ),
                );
            }
            seen.push((ls, &i.name));
        }
    }

    /// `| where` dropping rows without a time or a key.
    fn key_filter(&self, names: &[String]) -> String {
        let mut f = vec![format!("isnotnull({TIME})")];
        f.extend(names.iter().map(|k| format!("isnotempty({})", ident(k))));
        format!("\n| where {}", f.join(" and "))
    }

    /// Runs `body` (starting with `sort`) per key.
    fn partitioned(&self, names: &[String], body: &str) -> String {
        match names {
            [] => format!("\n| {body}"),
            [one] => format!(
                "\n| partition hint.strategy=native by {} (\n    {body}\n)",
                ident(one)
            ),
            many => {
                let keys: Vec<String> = many.iter().map(|k| ident(k)).collect();
                format!(
                    "\n| extend _key = dynamic_to_json(pack_array({}))\n| partition hint.strategy=native by _key (\n    {body}\n)",
                    keys.join(", ")
                )
            }
        }
    }

    /// The rows a fold produced, as the final result or as occurrence rows.
    fn fold_output(
        &mut self,
        mut out: String,
        names: &[String],
        regroup: Option<&[KeyCol]>,
        extra: &[String],
        cx: &mut Cx,
    ) -> String {
        match regroup {
            None => {
                let mut cols: Vec<String> = names.iter().map(|k| ident(k)).collect();
                cols.extend([
                    "first_seen".to_string(),
                    format!("last_seen = {TIME}"),
                    "event_count".to_string(),
                ]);
                cols.extend(extra.iter().cloned());
                for o in &self.rule.rule.outputs {
                    match o {
                        Output::Field(f) if names.contains(f) => {}
                        Output::Score if extra.iter().any(|c| c == "score") => {}
                        Output::Count | Output::FirstSeen | Output::LastSeen => {}
                        other => cx.approx(
                            Construct::Outputs,
                            None,
                            format!(
                                "output `{}` is not computed by the per-key fold (sequences, \
                                 unordered correlations, sliding counts)",
                                sigil_ir::output_text(other)
                            ),
                        ),
                    }
                }
                out.push_str(&format!("\n| project {}", cols.join(", ")));
                out
            }
            Some(keys) => {
                let mut cols = vec![
                    format!("{FIRST} = first_seen"),
                    format!("{COUNT} = event_count"),
                    TIME.to_string(),
                ];
                for (col, f) in keys {
                    match f {
                        Some(f) if names.contains(f) => {
                            cols.push(format!("{} = {}", ident(col), ident(f)))
                        }
                        _ => {
                            cx.refuse(
                                Construct::Chained,
                                None,
                                format!(
                                    "the outer correlation groups by `{col}`, which the inner \
                                     sequence does not key on"
                                ),
                                &["group the outer correlation by the inner one's keys"],
                            );
                        }
                    }
                }
                out.push_str(&format!("\n| project {}", cols.join(", ")));
                out
            }
        }
    }

    /// An unordered correlation: per key, the latest time of each input; the key alerts when
    /// every input's latest occurrence lies within the span (docs/semantics.md §6).
    fn unordered(&mut self, u: &Unordered, regroup: Option<&[KeyCol]>, cx: &mut Cx) -> String {
        let inputs: Vec<(&Input, Option<usize>)> = u
            .inputs
            .iter()
            .enumerate()
            .map(|(i, inp)| (inp, Some(i)))
            .collect();
        cx.approx(
            Construct::Unordered,
            None,
            "first_seen and event_count count only the latest occurrence of each input (Sigil \
             reports every occurrence still within the span)",
        );
        if inputs.is_empty() {
            cx.refuse(
                Construct::Unordered,
                None,
                "the correlation has no inputs",
                &["name at least one rule"],
            );
            return String::new();
        }
        let names = dedup(u.by.clone());
        let mut out = self.union(&inputs, &names, cx);
        out.push_str(&self.key_filter(&names));
        let span = duration(u.within_ms);
        let n = u.inputs.len();
        let have = |i: usize| {
            format!("({INPUT} == {i} or (isnotnull(s._t{i}) and {TIME} - s._t{i} <= {span}))")
        };
        let fire = format!("({})", (0..n).map(have).collect::<Vec<_>>().join(" and "));
        let mut decl = Vec::new();
        let mut assign = Vec::new();
        let mut firsts = Vec::new();
        let mut counts = Vec::new();
        for i in 0..n {
            decl.push(format!("_t{i}:datetime"));
            decl.push(format!("_c{i}:long = 0"));
            assign.push(format!(
                "_t{i} = iff({fire}, datetime(null), iff({INPUT} == {i}, {TIME}, s._t{i}))"
            ));
            assign.push(format!(
                "_c{i} = iff({fire}, 0, iff({INPUT} == {i}, {COUNT}, s._c{i}))"
            ));
            firsts.push(format!("iff({INPUT} == {i}, {FIRST}, s._t{i})"));
            counts.push(format!("iff({INPUT} == {i}, {COUNT}, s._c{i})"));
        }
        decl.push("_fire:bool = false".into());
        decl.push("first_seen:datetime".into());
        decl.push("event_count:long = 0".into());
        assign.push(format!("_fire = {fire}"));
        let first = if n == 1 {
            firsts.join("")
        } else {
            format!("min_of({})", firsts.join(", "))
        };
        assign.push(format!("first_seen = iff({fire}, {first}, datetime(null))"));
        assign.push(format!(
            "event_count = iff({fire}, {}, 0)",
            counts.join(" + ")
        ));
        let scan = format!(
            "sort by {TIME} asc, {INPUT} asc\n    | scan declare ({}) with (\n        step s: true => {};\n    )",
            decl.join(", "),
            assign.join(",\n            ")
        );
        out.push_str(&self.partitioned(&names, &scan));
        out.push_str("\n| where _fire");
        self.fold_output(out, &names, regroup, &[], cx)
    }
}

/// Most occurrence times a sliding-count fold keeps per key.
const MAX_RING: usize = 100;

/// The least window counts `m` such that `count >= m` tests decide `count op v`.
fn at_least(op: CmpOp, v: f64) -> Vec<i64> {
    let up = v.ceil() as i64;
    let next = v.floor() as i64 + 1;
    match op {
        CmpOp::Gte | CmpOp::Lt => vec![up],
        CmpOp::Gt | CmpOp::Lte => vec![next],
        CmpOp::Eq | CmpOp::Neq => vec![up, next],
    }
}

/// For a condition and score on `count()` alone: how many occurrence times the fold must
/// keep (so `count >= m` is known for every `m` the comparisons need) plus one, when the
/// times kept are at most [`MAX_RING`].
fn count_capacity(t: &Threshold) -> Option<usize> {
    fn walk(e: &AggExpr, ring: &mut usize) -> bool {
        match e {
            AggExpr::Cmp(a, op, v) => {
                if a.func != AggFunc::Count || !v.is_finite() || v.abs() > 1e6 {
                    return false;
                }
                for m in at_least(*op, *v) {
                    *ring = (*ring).max((m - 1).max(0) as usize);
                }
                true
            }
            AggExpr::And(v) | AggExpr::Or(v) => v.iter().all(|x| walk(x, ring)),
            AggExpr::Not(x) => walk(x, ring),
        }
    }
    let mut ring = 1;
    if !walk(&t.condition, &mut ring) {
        return None;
    }
    for c in &t.score {
        if let Some(w) = &c.when
            && !walk(w, &mut ring)
        {
            return None;
        }
    }
    (ring <= MAX_RING).then_some(ring + 1)
}

/// A condition on `count()` over the fold's state: the window holds at least `m` occurrences
/// (this one included) when the `m-1`-th previous time kept is within the window.
fn count_condition(e: &AggExpr, within: &dyn Fn(usize) -> String) -> String {
    let ge = |m: i64| -> String {
        if m <= 1 {
            "true".to_string()
        } else {
            within((m - 1) as usize)
        }
    };
    match e {
        AggExpr::Cmp(_, op, v) => {
            let m = at_least(*op, *v);
            match op {
                CmpOp::Gte | CmpOp::Gt => ge(m[0]),
                CmpOp::Lt | CmpOp::Lte => format!("not({})", ge(m[0])),
                CmpOp::Eq if v.fract() == 0.0 => format!("({} and not({}))", ge(m[0]), ge(m[1])),
                CmpOp::Eq => "false".to_string(),
                CmpOp::Neq if v.fract() == 0.0 => {
                    format!("not({} and not({}))", ge(m[0]), ge(m[1]))
                }
                CmpOp::Neq => "true".to_string(),
            }
        }
        AggExpr::And(v) => {
            let parts: Vec<String> = v.iter().map(|x| count_condition(x, within)).collect();
            format!("({})", parts.join(" and "))
        }
        AggExpr::Or(v) => {
            let parts: Vec<String> = v.iter().map(|x| count_condition(x, within)).collect();
            format!("({})", parts.join(" or "))
        }
        AggExpr::Not(x) => format!("not({})", count_condition(x, within)),
    }
}

fn tag_col_extend(tag: Option<usize>) -> String {
    tag.map(|t| format!("\n| extend {INPUT} = {t}"))
        .unwrap_or_default()
}

/// The table that stands for a log source: the mapped one, else `product_service_category`.
fn table_name(ls: &LogSource, mapped: Option<&str>) -> String {
    if let Some(t) = mapped {
        return t.to_string();
    }
    let parts: Vec<&str> = [&ls.product, &ls.service, &ls.category]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    if parts.is_empty() {
        "events".into()
    } else {
        identifier(&parts.join("_"))
    }
}

fn source_text(ls: &LogSource) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("product", &ls.product),
        ("service", &ls.service),
        ("category", &ls.category),
    ] {
        if let Some(v) = v {
            parts.push(format!("{k}={v}"));
        }
    }
    if parts.is_empty() {
        "the rule's log source".into()
    } else {
        parts.join(" ")
    }
}

/// A mapping condition (`field` must hold one of `values`), compared exactly.
fn source_condition(f: &str, values: &[Value]) -> Option<String> {
    let fx = field(f);
    let strs: Option<Vec<String>> = values
        .iter()
        .map(|v| match v {
            Value::Str(s) => Some(lit(s)),
            _ => None,
        })
        .collect();
    match strs {
        Some(s) if s.len() == 1 => Some(format!("{} == {}", fx.text(), s[0])),
        Some(s) if !s.is_empty() => Some(format!("{} in ({})", fx.text(), s.join(", "))),
        Some(_) => None,
        None => {
            let nums: Vec<String> = values
                .iter()
                .map(|v| match v {
                    Value::Str(s) => lit(s),
                    Value::Int(i) => i.to_string(),
                    Value::Float(x) => number(*x),
                    Value::Bool(b) => lit(&b.to_string()),
                })
                .collect();
            Some(format!(
                "tostring({}) in ({})",
                fx.expr,
                nums.iter()
                    .map(|n| if n.starts_with('"') {
                        n.clone()
                    } else {
                        lit(n)
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    }
}

/// `bin()` when the length divides a day (the epoch is then a bin edge), else `bin_at()`
/// anchored at the epoch, so windows are `[k·L, (k+1)·L)` from 1970-01-01 either way.
fn bin(length_ms: u64) -> String {
    let d = duration(length_ms.max(1));
    if 86_400_000 % length_ms.max(1) == 0 {
        format!("bin({TIME}, {d})")
    } else {
        format!("bin_at({TIME}, {d}, datetime(1970-01-01))")
    }
}

fn numbers_col(f: &str) -> String {
    format!("_numbers_{}", identifier(f))
}

fn values_col(f: &str) -> String {
    ident(&format!("values_{}", identifier(f)))
}

/// The column an aggregate is computed in.
fn agg_col(a: &Agg) -> String {
    ident(&agg::column(a))
}

/// An aggregate condition, two-valued: a numeric aggregate over no number fails every
/// comparison, as in Sigil (docs/semantics.md §4.4).
fn condition_expr(e: &AggExpr) -> String {
    match e {
        AggExpr::Cmp(a, op, v) => {
            let cmp = format!("{} {} {}", agg_col(a), op_text(*op), number(*v));
            match (&a.func, &a.field) {
                (AggFunc::Count | AggFunc::Distinct, _) | (_, None) => cmp,
                (_, Some(f)) => format!("({} > 0 and {cmp})", numbers_col(f)),
            }
        }
        AggExpr::And(v) => join(v, "and"),
        AggExpr::Or(v) => join(v, "or"),
        AggExpr::Not(inner) => format!("not({})", condition_expr(inner)),
    }
}

fn condition(e: &AggExpr) -> String {
    condition_expr(e)
}

fn op_text(op: CmpOp) -> &'static str {
    op.symbol()
}

fn join(v: &[AggExpr], op: &str) -> String {
    let parts: Vec<String> = v.iter().map(condition_expr).collect();
    format!("({})", parts.join(&format!(" {op} ")))
}

/// `case(when1, v1, …, else)`; no case without `when` gives a null score.
fn score(cases: &[sigil_ir::ScoreCase]) -> String {
    let mut args = Vec::new();
    let mut default = "long(null)".to_string();
    for c in cases {
        match &c.when {
            Some(w) => {
                args.push(condition_expr(w));
                args.push(c.value.to_string());
            }
            None => {
                default = c.value.to_string();
                break;
            }
        }
    }
    if args.is_empty() {
        return default;
    }
    args.push(default);
    format!("case({})", args.join(", "))
}

fn dedup(v: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    v.into_iter().filter(|x| seen.insert(x.clone())).collect()
}

/// A threshold's group columns: its own group-by, or (a threshold used as a step of an outer
/// correlation) the outer keys it is regrouped by, sorted and once each.
fn group_keys(t: &Threshold, regroup: Option<&[KeyCol]>) -> Vec<String> {
    match regroup {
        Some(keys) => {
            let mut g: Vec<String> = keys.iter().filter_map(|(_, f)| f.clone()).collect();
            g.sort();
            g.dedup();
            g
        }
        None => t.group_by.clone(),
    }
}
