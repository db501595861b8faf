//! Lowers rule bodies (including Sigma 1.x aggregations) and correlation documents
//! (Sigma's seven types plus Sigil's threshold and sequence) to IR queries.

use crate::{DocRef, Sink, detection, logsource};
use sigil_diagnostics::Code;
use sigil_ir::{
    Agg, AggExpr, AggFunc, CmpOp, Input, Output, Query, ScoreCase, Search, Sequence, Step,
    Threshold, Unordered, Window, WindowKind,
};
use sigil_syntax::ast::{
    Body, CorrConditionAst, CorrelationAst, CorrelationType, MetaAst, RuleAst, Spanned, StepAst,
};
use sigil_syntax::expr::{self, Aggregation};
use std::collections::{BTreeMap, HashMap};

/// Longest chain of correlations referring to correlations.
const MAX_CHAIN: usize = 32;

/// Most runs a sequence step may ask for.
const MAX_RUNS: i64 = 100_000;

/// Most expression nodes a correlation may embed: each reference embeds a copy of the
/// rule it names, so a chain naming each level twice would otherwise grow as 2^depth.
const MAX_EMBEDDED_NODES: usize = 20_000;

/// Expression nodes of a query (searches count one each).
fn query_nodes(q: &Query) -> usize {
    fn nodes(e: &sigil_ir::Expr) -> usize {
        match e {
            sigil_ir::Expr::And(v) | sigil_ir::Expr::Or(v) => {
                1 + v.iter().map(nodes).sum::<usize>()
            }
            sigil_ir::Expr::Not(e) => 1 + nodes(e),
            sigil_ir::Expr::Pred(_) | sigil_ir::Expr::Const(_) => 1,
        }
    }
    let mut n = 0usize;
    q.for_each_search(&mut |s| n = n.saturating_add(1 + nodes(&s.expr)));
    n
}

pub(crate) fn cmp(op: expr::CmpOp) -> CmpOp {
    match op {
        expr::CmpOp::Lt => CmpOp::Lt,
        expr::CmpOp::Lte => CmpOp::Lte,
        expr::CmpOp::Gt => CmpOp::Gt,
        expr::CmpOp::Gte => CmpOp::Gte,
        expr::CmpOp::Eq => CmpOp::Eq,
        expr::CmpOp::Neq => CmpOp::Neq,
    }
}

/// Whether `lhs op rhs` holds.
fn cmp_holds(op: CmpOp, lhs: f64, rhs: f64) -> bool {
    match op {
        CmpOp::Lt => lhs < rhs,
        CmpOp::Lte => lhs <= rhs,
        CmpOp::Gt => lhs > rhs,
        CmpOp::Gte => lhs >= rhs,
        CmpOp::Eq => lhs == rhs,
        CmpOp::Neq => lhs != rhs,
    }
}

fn func(f: expr::AggFunc) -> AggFunc {
    match f {
        expr::AggFunc::Count => AggFunc::Count,
        expr::AggFunc::Distinct => AggFunc::Distinct,
        expr::AggFunc::Sum => AggFunc::Sum,
        expr::AggFunc::Min => AggFunc::Min,
        expr::AggFunc::Max => AggFunc::Max,
        expr::AggFunc::Avg => AggFunc::Avg,
        expr::AggFunc::Percentile => AggFunc::Percentile,
    }
}

fn agg_call(c: &expr::AggCall) -> Agg {
    Agg {
        func: func(c.func),
        field: c.field.clone(),
        rank: c.rank,
    }
}

pub(crate) fn agg_expr(e: &expr::AggExpr) -> AggExpr {
    match e {
        expr::AggExpr::Cmp {
            call, op, value, ..
        } => AggExpr::Cmp(agg_call(call), cmp(*op), *value),
        expr::AggExpr::Not(x) => AggExpr::Not(Box::new(agg_expr(x))),
        expr::AggExpr::And(v) => AggExpr::And(v.iter().map(agg_expr).collect()),
        expr::AggExpr::Or(v) => AggExpr::Or(v.iter().map(agg_expr).collect()),
    }
}

fn duration(sink: &mut Sink, s: &Spanned<String>, path: &str) -> Option<u64> {
    match crate::values::parse_duration(&s.value) {
        Ok(ms) => Some(ms),
        Err(m) => {
            sink.diag(
                Code::BadDuration,
                format!("bad duration: {m}"),
                s.span,
                path,
            )
            .hints
            .push("write a whole number and a unit: 30s, 15m, 1h, 2d or 1w".into());
            None
        }
    }
}

/// Lowers a rule body: a match, or a threshold when the condition has a Sigma 1.x aggregation.
pub(crate) fn lower_rule_body(
    sink: &mut Sink,
    r: &RuleAst,
    meta: &MetaAst,
    path: &str,
) -> Option<Query> {
    let dpath = if path.is_empty() {
        "detection".to_string()
    } else {
        format!("{path}.detection")
    };
    let expr = detection::lower_detection(sink, &r.detection, &dpath);
    let aggs: Vec<_> = r
        .detection
        .conditions
        .iter()
        .filter_map(|c| c.value.aggregation.as_ref().map(|a| (a, c.span)))
        .collect();
    let search = Search {
        source: logsource(&r.logsource),
        expr: expr?,
    };
    let Some(((agg, _), cspan)) = aggs.first() else {
        if let Some(tf) = &r.detection.timeframe {
            sink.diag(
                Code::UnusedIdentifier,
                "`timeframe` has no effect without an aggregation in the condition",
                tf.span,
                &format!("{dpath}.timeframe"),
            );
        }
        return Some(Query::Match(search));
    };
    if r.detection.conditions.len() > 1 {
        sink.diag(
            Code::ConditionSyntax,
            "an aggregation cannot be one of several conditions",
            *cspan,
            &format!("{dpath}.condition"),
        )
        .hints
        .push("write one condition, or a correlation document".into());
        return None;
    }
    let Some(tf) = &r.detection.timeframe else {
        sink.diag(
            Code::AggregateWithoutWindow,
            "the condition aggregates but the detection has no `timeframe`",
            *cspan,
            &format!("{dpath}.condition"),
        )
        .hints
        .push("add `timeframe: 15m` (or similar) to the detection".into());
        return None;
    };
    let window_ms = duration(sink, tf, &format!("{dpath}.timeframe"))?;
    match agg {
        Aggregation::Stat {
            call,
            group_by,
            op,
            value,
        } => {
            let name = meta
                .name
                .as_ref()
                .or(meta.id.as_ref())
                .map(|s| s.value.clone())
                .unwrap_or_else(|| "self".into());
            Some(Query::Threshold(Threshold {
                inputs: vec![Input {
                    name,
                    query: Box::new(Query::Match(search)),
                    fields: BTreeMap::new(),
                    origin: *cspan,
                }],
                group_by: group_by.iter().cloned().collect(),
                window: Window {
                    length_ms: window_ms,
                    kind: WindowKind::Sliding,
                },
                condition: AggExpr::Cmp(agg_call(call), cmp(*op), *value),
                score: vec![],
            }))
        }
        Aggregation::Near { .. } => {
            sink.diag(
                Code::InvalidCorrelation,
                "Sigma 1.x `near` is not supported",
                *cspan,
                &format!("{dpath}.condition"),
            )
            .hints
            .push("write a `temporal` correlation over named rules instead".into());
            None
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Todo,
    Busy,
    Done,
}

/// Resolves correlation documents, embedding the queries of the rules they name.
pub(crate) struct Resolver<'a, 'b> {
    docs: &'a [DocRef<'b>],
    by_key: &'a HashMap<&'b str, usize>,
    queries: Vec<Option<Query>>,
    state: Vec<State>,
    depth: usize,
    /// Documents found to be part of a reference cycle.
    in_cycle: Vec<bool>,
}

impl<'a, 'b> Resolver<'a, 'b> {
    pub(crate) fn new(
        docs: &'a [DocRef<'b>],
        by_key: &'a HashMap<&'b str, usize>,
        queries: Vec<Option<Query>>,
    ) -> Self {
        let state = docs
            .iter()
            .map(|d| {
                if matches!(d.doc.body, Body::Correlation(_)) {
                    State::Todo
                } else {
                    State::Done
                }
            })
            .collect();
        Resolver {
            docs,
            by_key,
            queries,
            in_cycle: vec![false; docs.len()],
            state,
            depth: 0,
        }
    }

    pub(crate) fn into_queries(self) -> Vec<Option<Query>> {
        self.queries
    }

    pub(crate) fn resolve(&mut self, i: usize, sinks: &mut [Sink]) {
        if self.state[i] != State::Todo {
            return;
        }
        let Body::Correlation(c) = &self.docs[i].doc.body else {
            return;
        };
        self.state[i] = State::Busy;
        self.depth += 1;
        let q = self.correlation(i, c, sinks);
        self.depth -= 1;
        self.queries[i] = q;
        self.state[i] = State::Done;
    }

    /// The query of a referenced rule, resolving it first when it is a correlation.
    fn reference(
        &mut self,
        from: usize,
        r: &Spanned<String>,
        path: &str,
        sinks: &mut [Sink],
    ) -> Option<Query> {
        let Some(&j) = self.by_key.get(r.value.as_str()) else {
            let known: Vec<String> = self
                .docs
                .iter()
                .filter(|d| !matches!(d.doc.body, Body::Filter(_)))
                .filter_map(|d| d.doc.meta.name.as_ref().map(|n| n.value.clone()))
                .take(8)
                .collect();
            let d = sinks[from].diag(
                Code::UnknownRule,
                format!("`{}` names no rule in the checked set", r.value),
                r.span,
                path,
            );
            d.hints.push(
                "reference a rule by its `name` or `id`, and check it together with this file"
                    .into(),
            );
            if !known.is_empty() {
                d.hints
                    .push(format!("names in the set: {}", known.join(", ")));
            }
            return None;
        };
        if matches!(self.docs[j].doc.body, Body::Filter(_)) {
            sinks[from].diag(
                Code::UnknownRule,
                format!("`{}` is a filter, not a rule", r.value),
                r.span,
                path,
            );
            return None;
        }
        match self.state[j] {
            State::Busy => {
                self.in_cycle[j] = true;
                self.in_cycle[from] = true;
                sinks[from]
                    .diag(
                        Code::ReferenceCycle,
                        format!("`{}` refers back to this correlation", r.value),
                        r.span,
                        path,
                    )
                    .hints
                    .push("correlations may build on each other, but not in a cycle".into());
                return None;
            }
            State::Todo if self.depth >= MAX_CHAIN => {
                sinks[from].diag(
                    Code::ReferenceCycle,
                    format!("correlations nest deeper than {MAX_CHAIN} levels"),
                    r.span,
                    path,
                );
                return None;
            }
            State::Todo => self.resolve(j, sinks),
            State::Done => {}
        }
        if let Some(q) = &self.queries[j] {
            let spent = sinks[from].embedded.saturating_add(query_nodes(q));
            if spent > MAX_EMBEDDED_NODES {
                sinks[from]
                    .diag(
                        Code::InvalidCorrelation,
                        format!(
                            "the rules this correlation names add up to more than {MAX_EMBEDDED_NODES} expression nodes"
                        ),
                        r.span,
                        path,
                    )
                    .hints
                    .push("each reference embeds a copy of the rule; name fewer or smaller rules, or chain fewer correlations that name a rule several times".into());
                return None;
            }
            sinks[from].embedded = spent;
        }
        match &self.queries[j] {
            Some(q) => Some(q.clone()),
            None if self.in_cycle[from] && self.in_cycle[j] => {
                sinks[from]
                    .diag(
                        Code::ReferenceCycle,
                        format!(
                            "`{}` is part of a reference cycle with this correlation",
                            r.value
                        ),
                        r.span,
                        path,
                    )
                    .hints
                    .push("correlations may build on each other, but not in a cycle".into());
                None
            }
            None => {
                sinks[from]
                    .diag(
                        Code::UnknownRule,
                        format!(
                            "`{}` has errors of its own, so this correlation cannot use it",
                            r.value
                        ),
                        r.span,
                        path,
                    )
                    .hints
                    .push(format!(
                        "fix the errors reported for {}",
                        self.docs[j].file.name
                    ));
                None
            }
        }
    }

    fn correlation(&mut self, i: usize, c: &CorrelationAst, sinks: &mut [Sink]) -> Option<Query> {
        let kind = c.kind.value;
        // Alias → {rule reference → field}.
        let mut aliases: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for a in &c.aliases {
            let m: BTreeMap<String, String> = a
                .fields
                .iter()
                .map(|(r, f)| (r.value.clone(), f.clone()))
                .collect();
            aliases.insert(a.name.value.clone(), m);
        }
        let fields_for = |name: &str| -> BTreeMap<String, Option<String>> {
            aliases
                .iter()
                .map(|(alias, m)| (alias.clone(), m.get(name).cloned()))
                .collect()
        };
        let timespan = match &c.timespan {
            Some(t) => Some(duration(&mut sinks[i], t, "correlation.timespan")?),
            None => None,
        };
        let group_by: Vec<String> = c.group_by.iter().map(|g| g.value.clone()).collect();

        // Inputs: `rules`, or the steps of a sequence.
        let mut inputs = Vec::new();
        let mut runs = Vec::new();
        let mut ok = true;
        if kind == CorrelationType::Sequence && !c.steps.is_empty() {
            if !c.rules.is_empty() {
                sinks[i]
                    .diag(
                        Code::InvalidCorrelation,
                        "a sequence has `steps` and `rules`",
                        c.span,
                        "correlation.rules",
                    )
                    .hints
                    .push("list the steps under `steps` only".into());
                ok = false;
            }
            for (n, s) in c.steps.iter().enumerate() {
                match self.step(i, s, n, &format!("correlation.steps[{n}]"), sinks) {
                    Some((name, q)) => {
                        let r = s.runs.as_ref().map_or(Some(1), |r| {
                            self.runs(i, r, &format!("correlation.steps[{n}].runs"), sinks)
                        });
                        let Some(r) = r else {
                            ok = false;
                            continue;
                        };
                        runs.push(r);
                        inputs.push(Input {
                            fields: fields_for(&name),
                            name,
                            query: Box::new(q),
                            origin: s.span,
                        });
                    }
                    None => ok = false,
                }
            }
        } else {
            for (n, r) in c.rules.iter().enumerate() {
                match self.reference(i, r, &format!("correlation.rules[{n}]"), sinks) {
                    Some(q) => {
                        runs.push(1);
                        inputs.push(Input {
                            name: r.value.clone(),
                            fields: fields_for(&r.value),
                            query: Box::new(q),
                            origin: r.span,
                        });
                    }
                    None => ok = false,
                }
            }
        }
        if c.rules.is_empty() && c.steps.is_empty() {
            let what = if kind == CorrelationType::Sequence {
                "`steps`"
            } else {
                "`rules`"
            };
            sinks[i]
                .diag(
                    Code::InvalidCorrelation,
                    format!("the correlation has no {what}"),
                    c.span,
                    "correlation",
                )
                .hints
                .push("name the rules it correlates".into());
            return None;
        }
        let until = match &c.until {
            Some(u) if kind == CorrelationType::Sequence => {
                match self.step(i, u, c.steps.len(), "correlation.until", sinks) {
                    Some((name, q)) => Some(Input {
                        fields: fields_for(&name),
                        name,
                        query: Box::new(q),
                        origin: u.span,
                    }),
                    None => return None,
                }
            }
            Some(u) => {
                sinks[i].diag(
                    Code::InvalidCorrelation,
                    "`until` belongs to sequences",
                    u.span,
                    "correlation.until",
                );
                return None;
            }
            None => None,
        };
        // Every alias must name inputs of this correlation.
        for a in &c.aliases {
            for (r, _) in &a.fields {
                let known = inputs
                    .iter()
                    .chain(until.iter())
                    .any(|inp| inp.name == r.value);
                if !known && ok {
                    sinks[i]
                        .diag(
                            Code::UnknownAlias,
                            format!(
                                "alias `{}` maps rule `{}`, which this correlation does not use",
                                a.name.value, r.value
                            ),
                            r.span,
                            &format!("correlation.aliases.{}", a.name.value),
                        )
                        .hints
                        .push(
                            "alias keys must be the rule names listed in `rules`, `steps` or `until`".into(),
                        );
                    ok = false;
                }
            }
        }
        if !ok {
            return None;
        }
        let sink = &mut sinks[i];
        let need_window = |sink: &mut Sink| -> Option<u64> {
            if timespan.is_none() {
                sink.diag(
                    Code::AggregateWithoutWindow,
                    "this correlation needs a `timespan`",
                    c.span,
                    "correlation",
                )
                .hints
                .push("add e.g. `timespan: 15m`".into());
            }
            timespan
        };
        let window_kind = match c.window.as_ref().map(|w| w.value.as_str()) {
            None | Some("sliding") => WindowKind::Sliding,
            Some("tumbling") => WindowKind::Tumbling,
            Some(other) => {
                sink.diag(
                    Code::InvalidValue,
                    format!("unknown window `{other}`"),
                    c.window.as_ref().and_then(|w| w.span),
                    "correlation.window",
                )
                .hints
                .push("use `tumbling` or `sliding`".into());
                return None;
            }
        };
        if c.window.is_some() && kind != CorrelationType::Threshold {
            sink.diag(
                Code::InvalidCorrelation,
                "`window` applies to `type: threshold` only",
                c.window.as_ref().and_then(|w| w.span),
                "correlation.window",
            );
            return None;
        }
        if !c.score.is_empty() && kind != CorrelationType::Threshold {
            sink.diag(
                Code::InvalidCorrelation,
                "`score` applies to `type: threshold` only",
                c.span,
                "correlation.score",
            );
            return None;
        }
        if kind != CorrelationType::Sequence && c.steps.iter().any(|s| s.runs.is_some()) {
            sink.diag(
                Code::InvalidCorrelation,
                "`steps` apply to `type: sequence` only",
                c.span,
                "correlation.steps",
            );
            return None;
        }
        match kind {
            CorrelationType::Temporal | CorrelationType::TemporalOrdered => {
                // Sigma 2.1 lets the condition count the distinct rules that matched; the IR
                // expresses "every listed rule", so a condition is accepted when it holds for
                // exactly that count (e.g. pySigma's default `gte: <number of rules>`).
                let every_rule = |cond: &CorrConditionAst| match cond {
                    CorrConditionAst::Sigma {
                        field,
                        ops,
                        percentile: None,
                        ..
                    } if field.is_empty() && !ops.is_empty() => (0..=inputs.len()).all(|k| {
                        let holds = ops.iter().all(|(op, v)| cmp_holds(cmp(*op), k as f64, *v));
                        holds == (k == inputs.len())
                    }),
                    _ => false,
                };
                if let Some(cond) = c.condition.as_ref().filter(|x| !every_rule(x)) {
                    let span = match cond {
                        CorrConditionAst::Sigma { span, .. } => *span,
                        CorrConditionAst::Expr(e) => e.span,
                    };
                    sink.diag(
                        Code::InvalidCorrelation,
                        format!(
                            "a temporal condition must require every listed rule ({} of {})",
                            inputs.len(),
                            inputs.len()
                        ),
                        span,
                        "correlation.condition",
                    )
                    .hints
                    .push(format!(
                        "drop the condition (or write `gte: {}`), or list only the rules that must occur",
                        inputs.len()
                    ));
                    return None;
                }
                let within_ms = need_window(sink)?;
                if kind == CorrelationType::Temporal {
                    Some(Query::Unordered(Unordered {
                        by: group_by,
                        within_ms,
                        inputs,
                    }))
                } else {
                    Some(Query::Sequence(Sequence {
                        by: group_by,
                        maxspan_ms: Some(within_ms),
                        steps: inputs
                            .into_iter()
                            .map(|input| Step { input, runs: 1 })
                            .collect(),
                        until: None,
                    }))
                }
            }
            CorrelationType::Sequence => Some(Query::Sequence(Sequence {
                by: group_by,
                maxspan_ms: timespan,
                steps: inputs
                    .into_iter()
                    .zip(runs)
                    .map(|(input, runs)| Step { input, runs })
                    .collect(),
                until,
            })),
            _ => {
                let length_ms = need_window(sink)?;
                let condition = self.aggregate_condition(kind, c, sink)?;
                let mut score = Vec::new();
                for s in &c.score {
                    score.push(ScoreCase {
                        when: s.when.as_ref().map(|w| agg_expr(&w.value)),
                        value: s.value,
                    });
                }
                if let Some(pos) = c.score.iter().position(|s| s.when.is_none())
                    && pos + 1 != c.score.len()
                {
                    sink.diag(Code::InvalidCorrelation, "a score case without `when` must be the last: later cases could never apply", c.score[pos].span, &format!("correlation.score[{pos}]"))
                        .hints
                        .push("move the default case (the one without `when`) to the end of the list".into());
                    return None;
                }
                Some(Query::Threshold(Threshold {
                    inputs,
                    group_by,
                    window: Window {
                        length_ms,
                        kind: window_kind,
                    },
                    condition,
                    score,
                }))
            }
        }
    }

    fn runs(&self, i: usize, r: &Spanned<i64>, path: &str, sinks: &mut [Sink]) -> Option<u32> {
        if (1..=MAX_RUNS).contains(&r.value) {
            Some(r.value as u32)
        } else {
            sinks[i].diag(
                Code::InvalidValue,
                format!("`runs: {}` is outside 1..={MAX_RUNS}", r.value),
                r.span,
                path,
            );
            None
        }
    }

    fn step(
        &mut self,
        i: usize,
        s: &StepAst,
        n: usize,
        path: &str,
        sinks: &mut [Sink],
    ) -> Option<(String, Query)> {
        if let Some(r) = &s.rule {
            let q = self.reference(i, r, &format!("{path}.rule"), sinks)?;
            return Some((r.value.clone(), q));
        }
        let inline = s.inline.as_ref()?;
        let name = s.name.clone().unwrap_or_else(|| format!("step{}", n + 1));
        let q = lower_rule_body(&mut sinks[i], inline, &MetaAst::default(), path)?;
        Some((name, q))
    }

    fn aggregate_condition(
        &self,
        kind: CorrelationType,
        c: &CorrelationAst,
        sink: &mut Sink,
    ) -> Option<AggExpr> {
        let Some(cond) = &c.condition else {
            sink.diag(
                Code::InvalidCorrelation,
                "this correlation needs a `condition`",
                c.span,
                "correlation.condition",
            )
            .hints
            .push(
                match kind {
                    CorrelationType::Threshold => {
                        "e.g. `condition: count() >= 10 or distinct(eventName) >= 5`"
                    }
                    CorrelationType::EventCount => "e.g. `condition: {gte: 10}`",
                    _ => "e.g. `condition: {field: User, gte: 10}`",
                }
                .into(),
            );
            return None;
        };
        match cond {
            CorrConditionAst::Expr(e) => {
                if kind != CorrelationType::Threshold {
                    sink.diag(Code::InvalidCorrelation, "aggregate expressions belong to `type: threshold`; Sigma types take a `{gte: N}` map", e.span, "correlation.condition");
                    return None;
                }
                Some(agg_expr(&e.value))
            }
            CorrConditionAst::Sigma {
                field,
                ops,
                percentile,
                span,
            } => {
                if ops.is_empty() {
                    sink.diag(
                        Code::InvalidCorrelation,
                        "the condition has no comparison (gt, gte, lt, lte, eq, neq)",
                        *span,
                        "correlation.condition",
                    );
                    return None;
                }
                let f = match kind {
                    CorrelationType::EventCount => AggFunc::Count,
                    CorrelationType::ValueCount => AggFunc::Distinct,
                    CorrelationType::ValueSum => AggFunc::Sum,
                    CorrelationType::ValueAvg => AggFunc::Avg,
                    CorrelationType::ValuePercentile => AggFunc::Percentile,
                    _ if field.is_empty() => AggFunc::Count,
                    _ => AggFunc::Distinct,
                };
                if f == AggFunc::Count && !field.is_empty() && kind == CorrelationType::EventCount {
                    sink.diag(
                        Code::InvalidCorrelation,
                        "event_count counts events and takes no `field`",
                        *span,
                        "correlation.condition.field",
                    )
                    .hints
                    .push("use value_count to count distinct values".into());
                    return None;
                }
                if f != AggFunc::Count && field.is_empty() {
                    sink.diag(
                        Code::InvalidCorrelation,
                        "this correlation type needs `field` in its condition",
                        *span,
                        "correlation.condition",
                    )
                    .hints
                    .push("e.g. `condition: {field: User, gte: 10}`".into());
                    return None;
                }
                if percentile.is_some() && f != AggFunc::Percentile {
                    sink.diag(
                        Code::InvalidCorrelation,
                        "`percentile` belongs to value_percentile",
                        *span,
                        "correlation.condition.percentile",
                    );
                    return None;
                }
                if f != AggFunc::Distinct && field.len() > 1 {
                    sink.diag(
                        Code::InvalidCorrelation,
                        "only value_count takes several fields",
                        *span,
                        "correlation.condition.field",
                    );
                    return None;
                }
                // The spec leaves the rank open; the median is Sigil's documented default.
                let rank = (f == AggFunc::Percentile).then(|| percentile.unwrap_or(50.0));
                let mut items = Vec::new();
                let fields: Vec<Option<String>> = if field.is_empty() {
                    vec![None]
                } else {
                    field.iter().map(|x| Some(x.value.clone())).collect()
                };
                for fld in &fields {
                    for (op, v) in ops {
                        items.push(AggExpr::Cmp(
                            Agg {
                                func: f,
                                field: fld.clone(),
                                rank,
                            },
                            cmp(*op),
                            *v,
                        ));
                    }
                }
                Some(if items.len() == 1 {
                    items.remove(0)
                } else {
                    AggExpr::And(items)
                })
            }
        }
    }
}

/// Lowers a correlation's `fields` into outputs.
pub(crate) fn outputs(sink: &mut Sink, c: &CorrelationAst) -> Option<Vec<Output>> {
    let mut out = Vec::new();
    let mut ok = true;
    for (n, f) in c.outputs.iter().enumerate() {
        let t = f.value.trim();
        let path = format!("correlation.fields[{n}]");
        let o = match t.split_once('(') {
            None => Some(Output::Field(t.to_string())),
            Some((name, rest)) => {
                let arg = rest.strip_suffix(')').map(str::trim);
                match (name.trim(), arg) {
                    ("values", Some(a)) if !a.is_empty() => Some(Output::Values(a.to_string())),
                    ("distinct", Some(a)) if !a.is_empty() => Some(Output::Distinct(a.to_string())),
                    ("first_seen", Some("")) => Some(Output::FirstSeen),
                    ("last_seen", Some("")) => Some(Output::LastSeen),
                    ("count", Some("")) => Some(Output::Count),
                    ("score", Some("")) => Some(Output::Score),
                    _ => None,
                }
            }
        };
        match o {
            Some(o) => out.push(o),
            None => {
                sink.diag(Code::AggregateSyntax, format!("`{t}` is not an output"), f.span, &path)
                    .hints
                    .push("outputs are field or alias names, values(x), distinct(x), count(), first_seen(), last_seen() and score()".into());
                ok = false;
            }
        }
    }
    let score_at = c
        .outputs
        .iter()
        .enumerate()
        .find(|(_, f)| f.value.trim() == "score()");
    if let (Some((n, f)), true) = (score_at, c.score.is_empty()) {
        sink.diag(
            Code::UnknownAlias,
            "`score()` is an output but the correlation defines no `score` cases",
            f.span.or(c.span),
            &format!("correlation.fields[{n}]"),
        )
        .hints
        .push("add `score:` cases, or drop `score()` from the fields".into());
        ok = false;
    }
    ok.then_some(out)
}
