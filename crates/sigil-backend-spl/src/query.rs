//! Whole pipelines: match rules, thresholds, sequences and unordered correlations.
//!
//! Every correlation reads its inputs as *branches*: one filtered event stream per input,
//! tagged with `sigil_input` and carrying its key and aggregated fields under the
//! correlation's names (`| eval identity=...`), so multi-source rules need no join on field
//! names. Streaming branches are unioned with `multisearch`; a branch that aggregates (a
//! threshold used as a sequence step) is added with `append`.

use crate::{lit, pred};
use sigil_backend::agg;
use sigil_backend::text::{duration, number};
use sigil_backend::{Construct, Cx, MappedRule};
use sigil_diagnostics::Span;
use sigil_ir::{
    Agg, AggExpr, AggFunc, CmpOp, Expr, Input, Output, Query, Search, Sequence, Threshold,
    Unordered, WindowKind,
};

/// Separator between pipeline stages.
const PIPE: &str = "\n| ";

/// Prints a mapped rule as one SPL search.
pub fn emit(rule: &MappedRule, cx: &mut Cx) -> String {
    let span = rule.rule.origin.span;
    match &rule.rule.query {
        Query::Match(s) => match_query(rule, s, cx),
        Query::Threshold(t) => {
            let body = threshold_body(rule, t, None, span, cx);
            let table = threshold_table(rule, t);
            format!("{body}{PIPE}table {table}")
        }
        Query::Sequence(s) => sequence(rule, s, span, cx),
        Query::Unordered(u) => unordered(rule, u, span, cx),
    }
}

/// The search part (source selection and search-command terms) and the `where` filter of
/// one search.
fn filter(rule: &MappedRule, search: &Search, cx: &mut Cx) -> String {
    let src = rule.source(&search.source);
    let mut head: Vec<String> = Vec::new();
    for key in ["index", "sourcetype", "source"] {
        let vals: Vec<String> = src
            .loc_list(key)
            .iter()
            .filter_map(|v| quoted_location(key, v, cx))
            .collect();
        match vals.len() {
            0 => {}
            1 => head.push(format!("{key}={}", vals[0])),
            _ => head.push(format!(
                "({})",
                vals.iter()
                    .map(|v| format!("{key}={v}"))
                    .collect::<Vec<_>>()
                    .join(" OR ")
            )),
        }
    }
    // The source's selecting conditions say where the data is, like the index: an integer
    // code (Sysmon `EventCode=1`) is selected as Splunk's search writes it, so it narrows the
    // indexed search. Other conditions are ANDed into the rule's expression and placed in
    // the search or the where part by the same rules as the rule's own tests.
    let mut parts: Vec<Expr> = Vec::new();
    for (field, values) in &src.conditions {
        if let Some(term) = selection_term(field, values) {
            head.push(term);
            continue;
        }
        parts.push(Expr::or(
            values
                .iter()
                .map(|v| {
                    Expr::Pred(sigil_ir::Predicate {
                        target: sigil_ir::Target::Field(field.clone()),
                        test: sigil_ir::Test::Eq(v.clone(), sigil_ir::Case::Insensitive),
                        span: None,
                    })
                })
                .collect(),
        ));
    }
    parts.push(search.expr.clone());
    let (searchable, rest) = pred::split(&Expr::and(parts));
    for e in &searchable {
        head.push(pred::search_expr(e, cx));
    }
    let mut text = if head.is_empty() {
        "*".to_string()
    } else {
        head.join(" ")
    };
    if !rest.is_empty() {
        let ctx = pred::Ctx {
            time_field: &src.time,
        };
        let w = pred::where_expr(&Expr::and(rest), ctx, cx);
        text.push_str(&format!("{PIPE}where {w}"));
    }
    text
}

/// A source condition of integer codes as a search term (`EventCode=1`,
/// `EventCode IN (1, 4688)`), when the field can be named bare.
fn selection_term(field: &str, values: &[sigil_ir::Value]) -> Option<String> {
    if !lit::plain_search_name(field) || values.is_empty() {
        return None;
    }
    let ints: Option<Vec<String>> = values
        .iter()
        .map(|v| match v {
            sigil_ir::Value::Int(i) => Some(i.to_string()),
            _ => None,
        })
        .collect();
    let ints = ints?;
    Some(if ints.len() == 1 {
        format!("{field}={}", ints[0])
    } else {
        format!("{field} IN ({})", ints.join(", "))
    })
}

fn quoted_location(key: &str, v: &str, cx: &mut Cx) -> Option<String> {
    let q = lit::string(v);
    if q.is_none() {
        cx.refuse(
            Construct::MultiSource,
            None,
            format!(
                "the mapping's {key} `{}` holds a backtick or control character",
                v.escape_debug()
            ),
            &["fix the value in the mapping file"],
        );
    }
    q
}

fn match_query(rule: &MappedRule, s: &Search, cx: &mut Cx) -> String {
    let mut text = filter(rule, s, cx);
    if rule.output_fields.is_empty() {
        return text;
    }
    let mut evals = Vec::new();
    let mut cols = vec!["_time".to_string()];
    for (name, target) in &rule.output_fields {
        // `table` takes field names as they are; a renamed or odd name gets its own column.
        let col = if name == target && lit::plain_search_name(target) {
            target.clone()
        } else {
            lit::column(name)
        };
        if &col != target {
            match lit::field_ref(target) {
                Some(fr) => evals.push(format!("{col}={fr}")),
                None => {
                    cx.refuse(
                        Construct::Outputs,
                        rule.rule.origin.span,
                        format!("the output field `{target}` holds a quote, backslash, backtick or control character"),
                        &["rename the field in a --mapping file"],
                    );
                    continue;
                }
            }
        }
        if !cols.contains(&col) {
            cols.push(col);
        }
    }
    if !evals.is_empty() {
        text.push_str(&format!("{PIPE}eval {}", evals.join(", ")));
    }
    text.push_str(&format!("{PIPE}table {}", cols.join(" ")));
    text
}

/// One input's event stream.
struct Branch {
    text: String,
    /// Only streaming commands (usable inside `multisearch`).
    streaming: bool,
}

/// A correlation field an input must provide: its column and whether it is a key (keys
/// read the first value, as the evaluator's group keys do).
struct Need {
    name: String,
    key: bool,
}

/// `eval` assignments giving an input's events the correlation's columns.
fn column_evals(input: &Input, needs: &[Need], cx: &mut Cx) -> Vec<String> {
    let mut out = Vec::new();
    for n in needs {
        let col = lit::column(&n.name);
        let value = match input.field(&n.name) {
            None => "null()".to_string(),
            Some(f) => {
                let Some(fr) = lit::field_ref(f) else {
                    cx.refuse(
                        Construct::MultiSource,
                        input.origin,
                        format!("the field `{f}` of input `{}` holds a quote, backslash, backtick or control character", input.name),
                        &["rename the field in a --mapping file"],
                    );
                    continue;
                };
                if n.key {
                    format!("mvindex({fr}, 0)")
                } else if col == f {
                    continue;
                } else {
                    fr
                }
            }
        };
        out.push(format!("{col}={value}"));
    }
    out
}

/// The stream of one input, tagged `sigil_input=<tag>`, with `sigil_first` holding the
/// time of its first event (a nested threshold's first contributing event).
fn branch(
    rule: &MappedRule,
    input: &Input,
    tag: &str,
    needs: &[Need],
    outer_keys: Option<&[String]>,
    cx: &mut Cx,
) -> Branch {
    match &*input.query {
        Query::Match(s) => {
            let mut text = filter(rule, s, cx);
            let mut evals = vec![format!("sigil_input=\"{tag}\""), "sigil_first=_time".into()];
            evals.extend(column_evals(input, needs, cx));
            text.push_str(&format!("{PIPE}eval {}", evals.join(", ")));
            Branch {
                text,
                streaming: true,
            }
        }
        Query::Threshold(t) if outer_keys.is_some() => {
            let outer_keys = outer_keys.unwrap_or_default();
            // The outer correlation's keys regroup the inner threshold (semantics 7).
            let mut inner_keys = Vec::new();
            for k in outer_keys {
                match input.field(k) {
                    Some(f) => inner_keys.push(f.to_string()),
                    None => cx.refuse(
                        Construct::Chained,
                        input.origin,
                        format!("the input `{}` does not provide the key `{k}`", input.name),
                        &["add the key to the input's aliases"],
                    ),
                }
            }
            let mut text = threshold_body(rule, t, Some(&inner_keys), input.origin, cx);
            let mut evals = vec![
                format!("sigil_input=\"{tag}\""),
                "_time=last_seen".into(),
                "sigil_first=first_seen".into(),
            ];
            for (outer, inner) in outer_keys.iter().zip(&inner_keys) {
                let (o, i) = (lit::column(outer), lit::column(inner));
                if o != i {
                    evals.push(format!("{o}={i}"));
                }
            }
            text.push_str(&format!("{PIPE}eval {}", evals.join(", ")));
            cx.approx(
                Construct::Chained,
                input.origin,
                "a correlation used as an input is computed in an append subsearch, which Splunk limits (by default 50,000 rows and a run-time cap)",
            );
            Branch {
                text,
                streaming: false,
            }
        }
        other => {
            cx.refuse(
                Construct::Chained,
                input.origin,
                format!(
                    "SPL can use a threshold only as an input of a sequence or unordered correlation, so a {} cannot be an input here",
                    other.kind(),
                ),
                &["use the inner rule's searches as inputs directly"],
            );
            Branch {
                text: "*".into(),
                streaming: true,
            }
        }
    }
}

/// A branch as a subsearch.
fn bracket(text: &str) -> String {
    if text.starts_with('|') {
        format!("[{text}]")
    } else {
        format!("[search {text}]")
    }
}

/// Unions branches: one as is, streaming ones with `multisearch`, others with `append`.
fn combine(mut branches: Vec<Branch>) -> String {
    if branches.len() == 1 {
        return branches.remove(0).text;
    }
    if branches.iter().all(|b| b.streaming) {
        let subs: Vec<String> = branches.iter().map(|b| bracket(&b.text)).collect();
        return format!("| multisearch\n    {}", subs.join("\n    "));
    }
    let first = branches.iter().position(|b| b.streaming).unwrap_or(0);
    let main = branches.remove(first);
    let mut text = main.text;
    for b in branches {
        text.push_str(&format!("{PIPE}append {}", bracket(&b.text)));
    }
    text
}

/// `| where isnotnull(k1) AND …`: events lacking a key join no group.
fn keys_present(keys: &[String]) -> String {
    if keys.is_empty() {
        return String::new();
    }
    let tests: Vec<String> = keys
        .iter()
        .map(|k| format!("isnotnull({})", lit::column(k)))
        .collect();
    format!("{PIPE}where {}", tests.join(" AND "))
}

fn by(keys: &[String]) -> String {
    if keys.is_empty() {
        String::new()
    } else {
        format!(
            " BY {}",
            keys.iter()
                .map(|k| lit::column(k))
                .collect::<Vec<_>>()
                .join(" ")
        )
    }
}

/// A window length for `time_window=` (whole seconds; shorter units are rounded up).
fn span_text(ms: u64, construct: Construct, span: Option<Span>, cx: &mut Cx) -> String {
    if ms.is_multiple_of(1000) && ms > 0 {
        duration(ms)
    } else {
        cx.approx(
            construct,
            span,
            format!("Splunk time windows count whole seconds: {ms}ms is rounded up"),
        );
        format!("{}s", ms.div_ceil(1000).max(1))
    }
}

fn num_col(a: &Agg) -> String {
    format!(
        "sigil_num_{}",
        sigil_backend::text::identifier(a.field.as_deref().unwrap_or_default())
    )
}

/// The stats function computing an aggregate.
fn agg_fn(a: &Agg, span: Option<Span>, cx: &mut Cx) -> String {
    let field = lit::column(a.field.as_deref().unwrap_or_default());
    let f = match a.func {
        AggFunc::Count => "count".to_string(),
        AggFunc::Distinct => format!("dc({field})"),
        AggFunc::Sum => format!("sum({})", num_col(a)),
        AggFunc::Min => format!("min({})", num_col(a)),
        AggFunc::Max => format!("max({})", num_col(a)),
        AggFunc::Avg => format!("avg({})", num_col(a)),
        AggFunc::Percentile => {
            let r = a.rank.unwrap_or(50.0);
            cx.approx(
                Construct::AggPercentile,
                span,
                "Splunk's exactperc/perc percentile definition may differ from the evaluator's nearest rank when the rank falls between two values",
            );
            if r >= 100.0 {
                format!("max({})", num_col(a))
            } else if r <= 0.0 {
                format!("min({})", num_col(a))
            } else if r.fract() == 0.0 {
                format!("exactperc{}({})", r as i64, num_col(a))
            } else {
                format!("perc{}({})", number(r), num_col(a))
            }
        }
    };
    format!("{f} AS {}", agg::column(a))
}

/// An aggregate condition where every comparison is total (a numeric aggregate over no
/// number has no value, and any comparison with it is false, also under `NOT`).
fn condition(e: &AggExpr, span: Option<Span>, cx: &mut Cx) -> String {
    match e {
        AggExpr::Cmp(a, op, v) => {
            if !v.is_finite() {
                cx.refuse(
                    Construct::AggCondition,
                    span,
                    "a non-finite number cannot be compared in SPL",
                    &[],
                );
                return "false()".into();
            }
            let c = agg::column(a);
            let op = match op {
                CmpOp::Eq => "==",
                CmpOp::Neq => "!=",
                o => o.symbol(),
            };
            if matches!(a.func, AggFunc::Count | AggFunc::Distinct) {
                format!("{c}{op}{}", number(*v))
            } else {
                format!("(isnotnull({c}) AND {c}{op}{})", number(*v))
            }
        }
        AggExpr::And(v) | AggExpr::Or(v) => {
            let sep = if matches!(e, AggExpr::And(_)) {
                " AND "
            } else {
                " OR "
            };
            let parts: Vec<String> = v.iter().map(|x| condition(x, span, cx)).collect();
            format!("({})", parts.join(sep))
        }
        AggExpr::Not(inner) => format!("NOT ({})", condition(inner, span, cx)),
    }
}

/// Output fields that read a field of the events (values, distinct, plain fields).
fn output_field(o: &Output) -> Option<&str> {
    match o {
        Output::Field(f) | Output::Values(f) | Output::Distinct(f) => Some(f),
        _ => None,
    }
}

/// A threshold's rows: one per alert, with the key columns, every aggregate, `first_seen`,
/// `last_seen`, the output values and `score`. `keys` replaces the group-by (regrouping by
/// an outer correlation).
fn threshold_body(
    rule: &MappedRule,
    t: &Threshold,
    keys: Option<&[String]>,
    span: Option<Span>,
    cx: &mut Cx,
) -> String {
    // Only the rule's own threshold (not one regrouped as an input) carries its outputs.
    let top = keys.is_none();
    let keys: Vec<String> = keys.map(<[String]>::to_vec).unwrap_or(t.group_by.clone());
    let aggs = agg::used(t);
    let mut needs: Vec<Need> = keys
        .iter()
        .map(|k| Need {
            name: k.clone(),
            key: true,
        })
        .collect();
    let mut add = |name: &str| {
        if !needs.iter().any(|n| n.name == name) {
            needs.push(Need {
                name: name.to_string(),
                key: false,
            });
        }
    };
    for a in &aggs {
        if let Some(f) = &a.field {
            add(f);
        }
    }
    if top {
        for o in &rule.rule.outputs {
            if let Some(f) = output_field(o) {
                add(f);
            }
        }
    }
    let branches: Vec<Branch> = t
        .inputs
        .iter()
        .enumerate()
        .map(|(i, input)| branch(rule, input, &(i + 1).to_string(), &needs, None, cx))
        .collect();
    let mut text = combine(branches);
    text.push_str(&keys_present(&keys));
    let nums: Vec<String> = aggs
        .iter()
        .filter(|a| !matches!(a.func, AggFunc::Count | AggFunc::Distinct))
        .map(|a| {
            format!(
                "{}=tonumber(trim(mvindex({}, 0)))",
                num_col(a),
                lit::column(a.field.as_deref().unwrap_or_default())
            )
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !nums.is_empty() {
        text.push_str(&format!("{PIPE}eval {}", nums.join(", ")));
    }
    let mut fns: Vec<String> = aggs.iter().map(|a| agg_fn(a, span, cx)).collect();
    fns.push("min(_time) AS first_seen".into());
    fns.push("max(_time) AS last_seen".into());
    if top {
        for o in &rule.rule.outputs {
            match o {
                Output::Values(f) => {
                    let s = format!(
                        "values({}) AS values_{}",
                        lit::column(f),
                        sigil_backend::text::identifier(f)
                    );
                    if !fns.contains(&s) {
                        fns.push(s);
                    }
                }
                Output::Distinct(f) => {
                    let a = Agg {
                        func: AggFunc::Distinct,
                        field: Some(f.clone()),
                        rank: None,
                    };
                    let s = agg_fn(&a, span, cx);
                    if !fns.contains(&s) {
                        fns.push(s);
                    }
                }
                Output::Field(f) if !keys.contains(f) => {
                    let c = lit::column(f);
                    let s = format!("values({c}) AS {c}");
                    if !fns.contains(&s) {
                        fns.push(s);
                    }
                }
                _ => {}
            }
        }
    }
    let fns = fns.join(" ");
    match t.window.kind {
        WindowKind::Tumbling => {
            let ms = t.window.length_ms.max(1);
            let bucket = if ms.is_multiple_of(1000) {
                let s = ms / 1000;
                format!("floor(_time/{s})*{s}")
            } else {
                format!("floor(_time*1000/{ms})*{ms}/1000")
            };
            let mut group = vec!["sigil_window".to_string()];
            group.extend(keys.iter().map(|k| lit::column(k)));
            text.push_str(&format!(
                "{PIPE}eval sigil_window={bucket}{PIPE}stats {fns} BY {}",
                group.join(" ")
            ));
        }
        WindowKind::Sliding => {
            let w = span_text(t.window.length_ms, Construct::SlidingWindow, span, cx);
            cx.approx(
                Construct::SlidingWindow,
                span,
                "streamstats tests the condition at every event over the events of the last window length; the evaluator empties a group's window after it alerts, so SPL alerts again on later events of the same burst; an event exactly one window length old may fall outside Splunk's window, and a window holds at most max_stream_window events (limits.conf, 10,000 by default)",
            );
            text.push_str(&format!(
                "{PIPE}sort 0 _time{PIPE}streamstats time_window={w} {fns}{}",
                by(&keys)
            ));
        }
    }
    text.push_str(&format!(
        "{PIPE}where {}",
        condition(&t.condition, span, cx)
    ));
    if !t.score.is_empty() {
        let mut arms = Vec::new();
        for c in &t.score {
            let when = match &c.when {
                Some(w) => condition(w, span, cx),
                None => "true()".into(),
            };
            arms.push(format!("{when}, {}", c.value));
        }
        text.push_str(&format!("{PIPE}eval score=case({})", arms.join(", ")));
    }
    text
}

/// The columns a threshold alert shows.
fn threshold_table(rule: &MappedRule, t: &Threshold) -> String {
    let mut cols: Vec<String> = Vec::new();
    let mut push = |c: String| {
        if !cols.contains(&c) {
            cols.push(c);
        }
    };
    if rule.rule.outputs.is_empty() {
        t.group_by.iter().for_each(|k| push(lit::column(k)));
        agg::used(t).iter().for_each(|a| push(agg::column(a)));
        push("first_seen".into());
        push("last_seen".into());
        if !t.score.is_empty() {
            push("score".into());
        }
    }
    for o in &rule.rule.outputs {
        match o {
            Output::Field(f) => push(lit::column(f)),
            Output::Values(f) => push(format!("values_{}", sigil_backend::text::identifier(f))),
            Output::Distinct(f) => push(agg::column(&Agg {
                func: AggFunc::Distinct,
                field: Some(f.clone()),
                rank: None,
            })),
            Output::FirstSeen => push("first_seen".into()),
            Output::LastSeen => push("last_seen".into()),
            Output::Count => push("event_count".into()),
            Output::Score => push("score".into()),
        }
    }
    cols.join(" ")
}

fn key_needs(keys: &[String]) -> Vec<Need> {
    keys.iter()
        .map(|k| Need {
            name: k.clone(),
            key: true,
        })
        .collect()
}

fn sequence(rule: &MappedRule, s: &Sequence, span: Option<Span>, cx: &mut Cx) -> String {
    let keys = &s.by;
    let needs = key_needs(keys);
    let mut branches = Vec::new();
    for (i, st) in s.steps.iter().enumerate() {
        branches.push(branch(
            rule,
            &st.input,
            &format!("s{}", i + 1),
            &needs,
            Some(keys),
            cx,
        ));
    }
    if let Some(u) = &s.until {
        branches.push(branch(rule, u, "u", &needs, Some(keys), cx));
    }
    cx.approx(
        Construct::Sequence,
        span,
        "the steps are chained with streamstats (latest start wins, as in the evaluator), but a completed sequence does not consume its events, so a later completing event alerts again with the same earlier ones; events at the same timestamp are ordered by input rather than arrival, and an event matching two consecutive steps may fill both",
    );
    if s.maxspan_ms.is_none() && s.steps.len() + usize::from(s.until.is_some()) > 1 {
        cx.approx(
            Construct::Sequence,
            span,
            "without a maximum span, streamstats looks back over at most max_stream_window events (limits.conf, 10,000 by default), so steps further apart than that are not joined",
        );
    }
    let window = s
        .maxspan_ms
        .map(|ms| {
            format!(
                " time_window={}",
                span_text(ms, Construct::Sequence, span, cx)
            )
        })
        .unwrap_or_default();
    let maxspan_s = s.maxspan_ms.map(|ms| ms as f64 / 1000.0);
    let by = by(keys);
    let mut text = combine(branches);
    text.push_str(&keys_present(keys));
    text.push_str(&format!("{PIPE}sort 0 _time"));
    if s.until.is_some() {
        text.push_str(&format!(
            "{PIPE}eval sigil_tu=if(sigil_input==\"u\", _time, null()){PIPE}streamstats{window} max(sigil_tu) AS sigil_u{by}"
        ));
    }
    let stages: Vec<usize> = s
        .steps
        .iter()
        .enumerate()
        .flat_map(|(i, st)| std::iter::repeat_n(i + 1, st.runs.max(1) as usize))
        .collect();
    for (k, step) in stages.iter().enumerate() {
        let k = k + 1;
        if k == 1 {
            text.push_str(&format!(
                "{PIPE}eval sigil_c1=if(sigil_input==\"s{step}\", sigil_first, null())"
            ));
            continue;
        }
        let prev = k - 1;
        let mut conds = vec![
            format!("sigil_input==\"s{step}\""),
            format!("isnotnull(sigil_p{prev})"),
        ];
        if let Some(m) = maxspan_s {
            conds.push(format!("_time-sigil_p{prev}<={}", number(m)));
        }
        if s.until.is_some() {
            conds.push(format!("(isnull(sigil_u) OR sigil_u<sigil_p{prev})"));
        }
        text.push_str(&format!(
            "{PIPE}streamstats current=f{window} max(sigil_c{prev}) AS sigil_p{prev}{by}{PIPE}eval sigil_c{k}=if({}, sigil_p{prev}, null())",
            conds.join(" AND ")
        ));
    }
    let n = stages.len().max(1);
    text.push_str(&format!(
        "{PIPE}where isnotnull(sigil_c{n}){PIPE}eval first_seen=sigil_c{n}, last_seen=_time"
    ));
    let all_match = s
        .steps
        .iter()
        .all(|st| matches!(*st.input.query, Query::Match(_)));
    let mut cols: Vec<String> = Vec::new();
    let mut evals = Vec::new();
    let outputs: Vec<Output> = if rule.rule.outputs.is_empty() {
        let mut o: Vec<Output> = keys.iter().cloned().map(Output::Field).collect();
        o.extend([Output::FirstSeen, Output::LastSeen]);
        o
    } else {
        rule.rule.outputs.clone()
    };
    for o in &outputs {
        let col = match o {
            Output::Field(f) if keys.contains(f) => lit::column(f),
            Output::FirstSeen => "first_seen".into(),
            Output::LastSeen => "last_seen".into(),
            Output::Count if all_match => {
                evals.push(format!("event_count={n}"));
                "event_count".into()
            }
            other => {
                cx.approx(
                    Construct::Outputs,
                    span,
                    format!(
                        "the sequence's alert row has the keys and first/last times only: output {} is left out",
                        sigil_ir::output_text(other)
                    ),
                );
                continue;
            }
        };
        if !cols.contains(&col) {
            cols.push(col);
        }
    }
    if !evals.is_empty() {
        text.push_str(&format!("{PIPE}eval {}", evals.join(", ")));
    }
    text.push_str(&format!("{PIPE}table {}", cols.join(" ")));
    text
}

fn unordered(rule: &MappedRule, u: &Unordered, span: Option<Span>, cx: &mut Cx) -> String {
    let keys = &u.by;
    let needs = key_needs(keys);
    let branches: Vec<Branch> = u
        .inputs
        .iter()
        .enumerate()
        .map(|(i, input)| branch(rule, input, &format!("i{}", i + 1), &needs, Some(keys), cx))
        .collect();
    cx.approx(
        Construct::Unordered,
        span,
        "streamstats counts the inputs seen per key over the last span at every event; the evaluator forgets a key's occurrences after it alerts, so SPL alerts again on later events of the same burst; an event exactly one span old may fall outside Splunk's window, and a window holds at most max_stream_window events (limits.conf, 10,000 by default)",
    );
    let w = span_text(u.within_ms, Construct::Unordered, span, cx);
    let mut text = combine(branches);
    text.push_str(&keys_present(keys));
    text.push_str(&format!(
        "{PIPE}sort 0 _time{PIPE}streamstats time_window={w} dc(sigil_input) AS sigil_inputs min(sigil_first) AS first_seen count AS event_count{}{PIPE}where sigil_inputs=={}{PIPE}eval last_seen=_time",
        by(keys),
        u.inputs.len()
    ));
    let mut cols: Vec<String> = keys.iter().map(|k| lit::column(k)).collect();
    for o in &rule.rule.outputs {
        let col = match o {
            Output::Field(f) if keys.contains(f) => lit::column(f),
            Output::FirstSeen => "first_seen".into(),
            Output::LastSeen => "last_seen".into(),
            Output::Count => "event_count".into(),
            other => {
                cx.approx(
                    Construct::Outputs,
                    span,
                    format!(
                        "the unordered alert row has the keys, count and first/last times only: output {} is left out",
                        sigil_ir::output_text(other)
                    ),
                );
                continue;
            }
        };
        if !cols.contains(&col) {
            cols.push(col);
        }
    }
    for c in ["event_count", "first_seen", "last_seen"] {
        if rule.rule.outputs.is_empty() && !cols.iter().any(|x| x == c) {
            cols.push(c.into());
        }
    }
    text.push_str(&format!("{PIPE}table {}", cols.join(" ")));
    text
}
