//! Printing a mapped rule as EQL text.

use sigil_backend::expr::{self, ExprSyntax};
use sigil_backend::regex_lucene;
use sigil_backend::text::{Quoting, Unicode, duration, number};
use sigil_backend::{Construct, Cx, MappedRule};
use sigil_ir::{
    Agg, AggExpr, AggFunc, Case, CmpOp, Expr, Input, Output, Pattern, Predicate, Query, Search,
    Seg, Sequence, Target, Test, Threshold, Value, WindowKind,
};
use std::collections::BTreeSet;
use std::fmt::Write;

/// Marks a field whose test sits under a `not` (never part of a real name: field names with
/// control characters are refused).
const GUARD: char = '\u{0}';

/// Words EQL reserves; a field segment spelled like one is backtick-quoted.
const KEYWORDS: &[&str] = &[
    "and", "any", "by", "false", "in", "join", "like", "maxspan", "not", "null", "of", "or",
    "regex", "runs", "sample", "sequence", "true", "until", "where", "with",
];

/// Largest `runs` Elasticsearch accepts.
const MAX_RUNS: u32 = 100;

/// EQL's string literal: `"` and `\` escaped, newline, carriage return and tab as `\n` `\r`
/// `\t`, every other control character as `\u{XX}` (2–8 hex digits, as Elasticsearch
/// documents). Single-quoted strings do not exist in Elasticsearch EQL.
pub const STRING: Quoting = Quoting {
    open: "\"",
    close: "\"",
    escapes: &[
        ('"', "\\\""),
        ('\\', "\\\\"),
        ('\n', "\\n"),
        ('\r', "\\r"),
        ('\t', "\\t"),
    ],
    control: Unicode::UBraces,
    also: &[],
};

/// An EQL string literal holding exactly `s` (see [`STRING`]).
pub fn string(s: &str) -> String {
    // Every character has an escape in EQL's table, so quoting cannot fail.
    STRING.quote(s).unwrap_or_default()
}

fn bare(segment: &str) -> bool {
    let mut chars = segment.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&segment.to_ascii_lowercase().as_str())
}

fn quote_ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

/// An EQL field reference: dotted segments, each backtick-quoted when it is not a plain
/// identifier (a backtick inside doubled, as Elasticsearch documents). A name with an empty
/// segment is quoted whole. Names holding control characters cannot be written.
pub fn field(name: &str) -> Result<String, String> {
    if name.is_empty() {
        return Err("an empty field name cannot be written in EQL".into());
    }
    if name.chars().any(char::is_control) {
        return Err(format!(
            "the field name {name:?} holds a control character, which an EQL field name cannot"
        ));
    }
    let parts: Vec<&str> = name.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Ok(quote_ident(name));
    }
    Ok(parts
        .iter()
        .map(|p| {
            if bare(p) {
                p.to_string()
            } else {
                quote_ident(p)
            }
        })
        .collect::<Vec<_>>()
        .join("."))
}

/// True when case-insensitive matching of `s` depends on folding non-ASCII letters, which
/// Elasticsearch's case-insensitive queries do not do.
fn non_ascii_case(s: &str) -> bool {
    s.chars()
        .any(|c| !c.is_ascii() && c.to_lowercase().ne(c.to_uppercase()))
}

fn category_text(cat: &str) -> String {
    if bare(cat) {
        cat.to_string()
    } else {
        string(cat)
    }
}

struct Syntax;

/// Splits the guard mark off a field name.
fn unguard(f: &str) -> (bool, &str) {
    match f.strip_prefix(GUARD) {
        Some(rest) => (true, rest),
        None => (false, f),
    }
}

/// Wraps `body` in the guard `field != null and …` when the test sits under a `not`.
fn guarded(guard: bool, of: &str, body: String) -> String {
    if guard {
        format!("({of} != null and {body})")
    } else {
        body
    }
}

fn refuse_field(cx: &mut Cx, p: &Predicate, why: String) -> String {
    cx.refuse(
        Construct::EqInsensitive,
        p.span,
        why,
        &["rename the field in a --mapping file to a name without control characters"],
    );
    "false".into()
}

fn literal_value(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(string(s)),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) if f.is_finite() => Some(number(*f)),
        Value::Float(_) => None,
        Value::Bool(b) => Some(b.to_string()),
    }
}

fn note_number(cx: &mut Cx, p: Option<sigil_diagnostics::Span>) {
    cx.approx(
        Construct::EqNumber,
        p,
        "a number or boolean is compared by the index's field type: numeric text such as \" 4624 \" or \"4624.0\", or \"TRUE\", in a keyword field does not match, as it does in the evaluator",
    );
}

fn note_case(cx: &mut Cx, c: Construct, span: Option<sigil_diagnostics::Span>) {
    cx.approx(
        c,
        span,
        "the value holds non-ASCII letters: Elasticsearch's case-insensitive matching folds ASCII letters only",
    );
}

/// The glob text of a pattern for `:`/`like`, when its literals hold none of `* ? \`
/// (Elasticsearch reads a backslash in a wildcard pattern as an escape).
fn plain_glob(p: &Pattern) -> Option<String> {
    let mut out = String::new();
    for seg in &p.0 {
        match seg {
            Seg::Lit(s) if s.contains(['*', '?', '\\']) => return None,
            Seg::Lit(s) => out.push_str(s),
            Seg::Any => out.push('*'),
            Seg::One => out.push('?'),
        }
    }
    Some(out)
}

fn pattern_construct(p: &Pattern) -> Construct {
    if p.as_contains().is_some() || p.as_prefix().is_some() || p.as_suffix().is_some() {
        Construct::Contains
    } else {
        Construct::Wildcard
    }
}

impl ExprSyntax for Syntax {
    fn and(&self) -> &str {
        "and"
    }
    fn or(&self) -> &str {
        "or"
    }
    fn not(&self, operand: &str) -> String {
        format!("not {operand}")
    }
    fn constant(&self, value: bool) -> String {
        value.to_string()
    }
    fn parenthesise_negated_predicate(&self) -> bool {
        true
    }

    fn predicate(&self, p: &Predicate, cx: &mut Cx) -> String {
        let name = match &p.target {
            Target::Keywords => {
                cx.refuse(
                    Construct::Keywords,
                    p.span,
                    "EQL has no full-text search over every field of an event",
                    &[
                        "name the field the text is expected in (`message|contains: …`)",
                        "use a KQL (Kibana) or Lucene query rule in Elastic Security for full-text search",
                    ],
                );
                return "false".into();
            }
            Target::Field(f) => f,
        };
        let (guard, name) = unguard(name);
        let f = match field(name) {
            Ok(f) => f,
            Err(why) => return refuse_field(cx, p, why),
        };
        let of = format!("?{f}");
        let body = match &p.test {
            Test::Eq(Value::Str(s), Case::Insensitive) => {
                if non_ascii_case(s) {
                    note_case(cx, Construct::EqInsensitive, p.span);
                }
                if s.contains(['*', '?']) {
                    // `:` would read these as wildcards; `in~` compares the text as it is.
                    format!("{of} in~ ({})", string(s))
                } else {
                    format!("{of} : {}", string(s))
                }
            }
            Test::Eq(Value::Str(s), Case::Sensitive) => format!("{of} == {}", string(s)),
            Test::Eq(v, _) => {
                note_number(cx, p.span);
                match literal_value(v) {
                    Some(t) => format!("{of} == {t}"),
                    None => {
                        cx.refuse(
                            Construct::EqNumber,
                            p.span,
                            "a non-finite number has no EQL literal",
                            &[],
                        );
                        "false".into()
                    }
                }
            }
            Test::Pattern(pat, case) => self.pattern(&of, pat, *case, p, cx),
            Test::Regex(re, flags) => match regex_lucene::translate(re, *flags) {
                Ok(l) => {
                    if l.ascii_classes {
                        cx.approx(
                            Construct::Regex,
                            p.span,
                            "\\d, \\w and \\s are written as ASCII classes; the evaluator's also match non-ASCII digits, letters and spaces",
                        );
                    }
                    if l.non_ascii_case {
                        note_case(cx, Construct::RegexFlags, p.span);
                    }
                    let op = if l.insensitive { "regex~" } else { "regex" };
                    format!("{of} {op} {}", string(&l.pattern))
                }
                Err(e) => {
                    cx.refuse(
                        Construct::Regex,
                        p.span,
                        format!("Lucene regular expressions cannot express it: {}", e.0),
                        &[
                            "rewrite the regex without look-around, backreferences, word boundaries or inner anchors",
                            "use contains/startswith/endswith modifiers where they say the same",
                        ],
                    );
                    "false".into()
                }
            },
            Test::Cidr(net) => format!("cidrMatch({of}, {})", string(&net.trunc().to_string())),
            Test::Cmp(op, v) => {
                cx.approx(
                    Construct::NumCompare,
                    p.span,
                    "compared by the index's field type: numeric text in a keyword field is not compared as a number, as it is in the evaluator",
                );
                if !v.is_finite() {
                    cx.refuse(
                        Construct::NumCompare,
                        p.span,
                        "a non-finite number has no EQL literal",
                        &[],
                    );
                    return "false".into();
                }
                format!("{of} {} {}", op.symbol(), number(*v))
            }
            Test::Exists(present) => {
                cx.approx(
                    Construct::Exists,
                    p.span,
                    "a field holding JSON null or an empty array is absent to Elasticsearch but present to the evaluator",
                );
                return format!("{of} {} null", if *present { "!=" } else { "==" });
            }
            Test::Null => return format!("{of} == null"),
            Test::FieldRef(..) => {
                cx.refuse(
                    Construct::FieldRef,
                    p.span,
                    "EQL cannot compare a field with another field of the same event",
                    &[
                        "compare each field with literal values instead",
                        "compile the rule for KQL or SPL, which compare fields",
                    ],
                );
                return "false".into();
            }
            Test::TimePart(..) => {
                cx.refuse(
                    Construct::TimePart,
                    p.span,
                    "EQL has no date functions to take the minute, hour, day, week, month or year of a timestamp",
                    &[
                        "use an ES|QL rule (DATE_EXTRACT) or index the part as its own field",
                        "compile the rule for KQL or SPL",
                    ],
                );
                return "false".into();
            }
            Test::Element(_) => {
                cx.refuse(
                    Construct::Element,
                    p.span,
                    "EQL does not support arrays of objects, so tests cannot be scoped to one element",
                    &[
                        "flatten the array into fields at ingest",
                        "compile the rule for KQL (mv-apply)",
                    ],
                );
                return "false".into();
            }
            Test::Placeholder(..) => {
                cx.refuse(
                    Construct::Wildcard,
                    p.span,
                    "the value holds an unresolved placeholder",
                    &["give the placeholder a value when compiling"],
                );
                return "false".into();
            }
        };
        guarded(guard, &of, body)
    }

    fn in_list(&self, name: &str, values: &[&Value], case: Case, cx: &mut Cx) -> Option<String> {
        let (guard, name) = unguard(name);
        let f = field(name).ok()?;
        let of = format!("?{f}");
        let mut items = Vec::new();
        let mut strings = true;
        for v in values {
            match v {
                Value::Str(s) => {
                    if case == Case::Insensitive && non_ascii_case(s) {
                        note_case(cx, Construct::EqInsensitive, None);
                    }
                    items.push(string(s));
                }
                Value::Int(_) | Value::Float(_) => {
                    strings = false;
                    items.push(literal_value(v)?);
                }
                Value::Bool(_) => return None,
            }
        }
        if !strings {
            note_number(cx, None);
        }
        let op = if strings && case == Case::Insensitive {
            "in~"
        } else {
            "in"
        };
        Some(guarded(
            guard,
            &of,
            format!("{of} {op} ({})", items.join(", ")),
        ))
    }
}

impl Syntax {
    fn pattern(&self, of: &str, pat: &Pattern, case: Case, p: &Predicate, cx: &mut Cx) -> String {
        let construct = pattern_construct(pat);
        let lits: String = pat
            .0
            .iter()
            .filter_map(|s| match s {
                Seg::Lit(l) => Some(l.as_str()),
                _ => None,
            })
            .collect();
        if case == Case::Insensitive && non_ascii_case(&lits) {
            note_case(cx, construct, p.span);
        }
        let tilde = if case == Case::Insensitive { "~" } else { "" };
        if let Some(glob) = plain_glob(pat) {
            return if case == Case::Insensitive {
                format!("{of} : {}", string(&glob))
            } else {
                format!("{of} like {}", string(&glob))
            };
        }
        // Literal `*`, `?` or `\`: functions take text as it is; other shapes become an
        // escaped whole-value Lucene regex.
        if let Some(s) = pat.as_contains() {
            return format!("stringContains{tilde}({of}, {})", string(s));
        }
        if let Some(s) = pat.as_prefix() {
            return format!("startsWith{tilde}({of}, {})", string(s));
        }
        if let Some(s) = pat.as_suffix() {
            return format!("endsWith{tilde}({of}, {})", string(s));
        }
        format!("{of} regex{tilde} {}", string(&regex_lucene::pattern(pat)))
    }
}

/// Marks every field test under a `not` so the printer guards it with `field != null`.
fn guard_negations(e: &Expr, under_not: bool) -> Expr {
    match e {
        Expr::Pred(p) => {
            let needs = under_not && !matches!(p.test, Test::Exists(_) | Test::Null);
            match (&p.target, needs) {
                (Target::Field(f), true) => Expr::Pred(Predicate {
                    target: Target::Field(format!("{GUARD}{f}")),
                    test: p.test.clone(),
                    span: p.span,
                }),
                _ => e.clone(),
            }
        }
        Expr::And(v) => Expr::And(v.iter().map(|e| guard_negations(e, under_not)).collect()),
        Expr::Or(v) => Expr::Or(v.iter().map(|e| guard_negations(e, under_not)).collect()),
        Expr::Not(inner) => Expr::Not(Box::new(guard_negations(inner, true))),
        Expr::Const(b) => Expr::Const(*b),
    }
}

struct Emitter<'a> {
    rule: &'a MappedRule,
    indexes: BTreeSet<String>,
    times: BTreeSet<String>,
    header: Vec<String>,
}

/// A search as (category, condition) with the source's selecting conditions AND-ed in.
struct Printed {
    category: Option<String>,
    condition: String,
}

impl Emitter<'_> {
    fn search(&mut self, s: &Search, extra: &[Expr], cx: &mut Cx) -> Printed {
        let src = self.rule.source(&s.source);
        for i in src.loc_list("index") {
            self.indexes.insert(i.clone());
        }
        self.times.insert(src.time.clone());
        let mut parts = Vec::new();
        for (f, values) in &src.conditions {
            let alts: Vec<Expr> = values
                .iter()
                .map(|v| {
                    Expr::Pred(Predicate {
                        target: Target::Field(f.clone()),
                        test: Test::Eq(v.clone(), Case::Sensitive),
                        span: None,
                    })
                })
                .collect();
            parts.push(Expr::or(alts));
        }
        parts.push(guard_negations(&s.expr, false));
        parts.extend(extra.iter().cloned());
        let e = Expr::and(parts);
        Printed {
            category: src.loc("category").map(str::to_string),
            condition: expr::print(&Syntax, &e, cx),
        }
    }

    fn event_query(p: &Printed) -> String {
        format!(
            "{} where {}",
            p.category
                .as_deref()
                .map(category_text)
                .unwrap_or("any".into()),
            p.condition
        )
    }

    /// The searches of several inputs as one event query (`any where (A) or (B)`).
    fn union(&mut self, inputs: &[(&Search, Vec<Expr>)], cx: &mut Cx) -> String {
        let printed: Vec<Printed> = inputs
            .iter()
            .map(|(s, extra)| self.search(s, extra, cx))
            .collect();
        if printed.len() == 1 {
            return Self::event_query(&printed[0]);
        }
        let cats: BTreeSet<Option<&String>> = printed.iter().map(|p| p.category.as_ref()).collect();
        let category = if cats.len() == 1 {
            printed[0].category.clone()
        } else {
            None
        };
        let conds: Vec<String> = printed
            .iter()
            .map(|p| {
                if p.condition.starts_with('(') {
                    p.condition.clone()
                } else {
                    format!("({})", p.condition)
                }
            })
            .collect();
        Self::event_query(&Printed {
            category,
            condition: conds.join(" or "),
        })
    }

    fn refuse_chained(&self, input: &Input, cx: &mut Cx) {
        cx.refuse(
            Construct::Chained,
            input.origin,
            format!(
                "`{}` is a correlation; an EQL sequence step or threshold input must be a single-event search",
                input.name
            ),
            &[
                "compile the inner correlation as a rule of its own and chain the alerts in Elastic Security",
                "compile the rule for KQL or SPL",
            ],
        );
    }

    fn match_search<'i>(&self, input: &'i Input, cx: &mut Cx) -> Option<&'i Search> {
        match &*input.query {
            Query::Match(s) => Some(s),
            _ => {
                self.refuse_chained(input, cx);
                None
            }
        }
    }

    fn threshold(&mut self, t: &Threshold, cx: &mut Cx) -> String {
        let span = self.rule.rule.origin.span;
        let Some(n) = count_runs(&t.condition, span, cx) else {
            return String::new();
        };
        if n > u64::from(MAX_RUNS) {
            cx.refuse(
                Construct::AggCount,
                span,
                format!("count() >= {n} needs runs={n}; Elasticsearch allows at most {MAX_RUNS}"),
                &[
                    "use an ES|QL rule (STATS COUNT(*) BY …) or an Elastic threshold rule",
                    "compile the rule for KQL or SPL",
                ],
            );
            return String::new();
        }
        if t.window.kind == WindowKind::Tumbling && n > 1 {
            cx.approx(
                Construct::TumblingWindow,
                span,
                format!(
                    "the {} tumbling window runs as a sliding one: {n} events within any {} alert, also across the epoch-aligned window edges, and at the {n}th event rather than when the window closes",
                    duration(t.window.length_ms),
                    duration(t.window.length_ms)
                ),
            );
        }
        // Key fields per input; inputs lacking a key never join a group.
        let mut inputs = Vec::new();
        for i in &t.inputs {
            let Some(s) = self.match_search(i, cx) else {
                return String::new();
            };
            let fields: Option<Vec<String>> = t
                .group_by
                .iter()
                .map(|k| i.field(k).map(str::to_string))
                .collect();
            if let Some(fields) = fields {
                inputs.push((s, fields));
            }
        }
        if inputs.is_empty() {
            cx.refuse(
                Construct::MultiSource,
                span,
                "no input provides every group key, so no event can count",
                &["give every input a field for each group key in `aliases`"],
            );
            return String::new();
        }
        let keys = inputs[0].1.clone();
        if inputs.iter().any(|(_, f)| *f != keys) {
            cx.refuse(
                Construct::MultiSource,
                span,
                "the inputs read a group key from different fields, and an EQL `runs` step joins on one field list",
                &[
                    "map the inputs' key fields to one common field (ECS) in the mapping",
                    "use an ES|QL rule (EVAL key = COALESCE(…) | STATS … BY key)",
                    "compile the rule for KQL or SPL",
                ],
            );
            return String::new();
        }
        if n > 1 {
            cx.approx(
                Construct::SlidingWindow,
                span,
                format!(
                    "the first alert of a burst is the evaluator's ({n} events within {}); after it Elasticsearch keeps the group's newer partial runs, so each further event within {} of the previous {} alerts again, where the evaluator empties the window and waits for {n} new events",
                    duration(t.window.length_ms),
                    duration(t.window.length_ms),
                    n - 1
                ),
            );
        }
        if inputs.len() > 1 {
            cx.approx(
                Construct::MultiSource,
                span,
                "the inputs' searches are OR-ed into one step: an event matching several inputs counts once, where the evaluator counts it once per input",
            );
        }
        self.score(t, n, cx);
        let key_fields: Vec<String> = keys
            .iter()
            .map(|k| field(k).unwrap_or_else(|e| refuse_key(cx, span, e)))
            .collect();
        if n <= 1 {
            // Every occurrence with all its keys alerts on its own.
            let with_keys: Vec<(&Search, Vec<Expr>)> = inputs
                .iter()
                .map(|(s, f)| (*s, f.iter().map(|k| exists(k)).collect()))
                .collect();
            return self.union(&with_keys, cx);
        }
        let with_keys: Vec<(&Search, Vec<Expr>)> = inputs
            .iter()
            .map(|(s, f)| (*s, f.iter().map(|k| exists(k)).collect()))
            .collect();
        let step = self.union(&with_keys, cx);
        let mut out = String::from("sequence");
        if !key_fields.is_empty() {
            let _ = write!(out, " by {}", key_fields.join(", "));
        }
        let _ = write!(out, " with maxspan={}", duration(t.window.length_ms));
        let _ = write!(out, "\n  [{step}] with runs={n}");
        out
    }

    /// A constant score for the `runs` encoding (every alert counts exactly `n` events).
    fn score(&mut self, t: &Threshold, n: u64, cx: &mut Cx) {
        let span = self.rule.rule.origin.span;
        for case in &t.score {
            let holds = match &case.when {
                None => Some(true),
                Some(w) => eval_count(w, n as f64),
            };
            match holds {
                Some(true) => {
                    self.header.push(format!("score: {}", case.value));
                    cx.approx(
                        Construct::Score,
                        span,
                        format!(
                            "EQL has no computed fields: every alert counts exactly {n} events, so the score is {}; it is written as a `// score:` comment for the rule pack",
                            case.value
                        ),
                    );
                    return;
                }
                Some(false) => {}
                None => {
                    cx.refuse(
                        Construct::Score,
                        span,
                        "a score case reads an aggregate other than count(), which EQL cannot compute",
                        &[
                            "use an ES|QL rule (EVAL score = CASE(…))",
                            "compile the rule for KQL or SPL",
                        ],
                    );
                    return;
                }
            }
        }
    }

    fn sequence(&mut self, s: &Sequence, cx: &mut Cx) -> String {
        let span = self.rule.rule.origin.span;
        let mut steps = Vec::new();
        for st in &s.steps {
            let Some(search) = self.match_search(&st.input, cx) else {
                return String::new();
            };
            if st.runs == 0 || st.runs > MAX_RUNS {
                cx.refuse(
                    Construct::SequenceRuns,
                    st.input.origin.or(span),
                    format!(
                        "runs={} is outside the 1–{MAX_RUNS} Elasticsearch allows",
                        st.runs
                    ),
                    &[
                        "split the step, or use an ES|QL rule",
                        "compile for KQL or SPL",
                    ],
                );
                return String::new();
            }
            steps.push((search, &st.input, st.runs));
        }
        let until = match &s.until {
            Some(u) => match self.match_search(u, cx) {
                Some(search) => Some((search, u)),
                None => return String::new(),
            },
            None => None,
        };
        // Key fields of every step (and until): shared ones go to `sequence by`.
        let mut shared = Vec::new();
        let mut per_step = Vec::new();
        for k in &s.by {
            let mut fields = Vec::new();
            for input in steps.iter().map(|s| s.1).chain(until.map(|u| u.1)) {
                match input.field(k) {
                    Some(f) => fields.push(f.to_string()),
                    None => {
                        cx.refuse(
                            Construct::Sequence,
                            input.origin.or(span),
                            format!(
                                "input `{}` has no field for the key `{k}`, so the sequence can never complete",
                                input.name
                            ),
                            &["give every step a field for each key in `aliases`"],
                        );
                        return String::new();
                    }
                }
            }
            if fields.iter().all(|f| *f == fields[0]) {
                shared.push(fields[0].clone());
            } else {
                per_step.push(fields);
            }
        }
        let stages: u32 = steps.iter().map(|s| s.2).sum();
        let quote = |cx: &mut Cx, f: &str| field(f).unwrap_or_else(|e| refuse_key(cx, span, e));
        if stages < 2 {
            // A one-stage sequence completes at each matching event that has every key.
            let keys: Vec<Expr> = steps[0]
                .1
                .fields
                .keys()
                .filter(|k| s.by.contains(k))
                .filter_map(|k| steps[0].1.field(k).map(exists))
                .chain(
                    s.by.iter()
                        .filter(|k| !steps[0].1.fields.contains_key(*k))
                        .map(|k| exists(k)),
                )
                .collect();
            return self.union(&[(steps[0].0, keys)], cx);
        }
        cx.approx(
            Construct::Sequence,
            span,
            "when a sequence completes, Elasticsearch keeps the key's other pending partial sequences (its documented state machine) where the evaluator discards them, so later events can complete an older partial and alert again",
        );
        let mut out = String::from("sequence");
        if !shared.is_empty() {
            let keys: Vec<String> = shared.iter().map(|f| quote(cx, f)).collect();
            let _ = write!(out, " by {}", keys.join(", "));
        }
        if let Some(ms) = s.maxspan_ms {
            let _ = write!(out, " with maxspan={}", duration(ms));
        }
        let by_of = |cx: &mut Cx, idx: usize| -> String {
            if per_step.is_empty() {
                return String::new();
            }
            let keys: Vec<String> = per_step.iter().map(|f| quote(cx, &f[idx])).collect();
            format!(" by {}", keys.join(", "))
        };
        let keys_of = |input: &Input| -> Vec<Expr> {
            s.by.iter()
                .filter_map(|k| input.field(k))
                .map(exists)
                .collect()
        };
        for (idx, (search, input, runs)) in steps.iter().enumerate() {
            let q = self.union(&[(search, keys_of(input))], cx);
            let by = by_of(cx, idx);
            let _ = write!(out, "\n  [{q}]{by}");
            if *runs > 1 {
                let _ = write!(out, " with runs={runs}");
            }
        }
        if let Some((search, input)) = until {
            let q = self.union(&[(search, keys_of(input))], cx);
            let by = by_of(cx, steps.len());
            let _ = write!(out, "\nuntil [{q}]{by}");
        }
        out
    }
}

fn refuse_key(cx: &mut Cx, span: Option<sigil_diagnostics::Span>, why: String) -> String {
    cx.refuse(
        Construct::Sequence,
        span,
        why,
        &["rename the key field in a --mapping file"],
    );
    "_".into()
}

/// `not (?f == null)`: an event lacking a join key never joins (the evaluator drops such
/// occurrences; the eql package would join them under a null key).
fn exists(f: &str) -> Expr {
    Expr::negate(Expr::Pred(Predicate {
        target: Target::Field(f.to_string()),
        test: Test::Null,
        span: None,
    }))
}

/// Evaluates a score condition for an alert of exactly `n` events; `None` when it reads
/// another aggregate.
fn eval_count(e: &AggExpr, n: f64) -> Option<bool> {
    Some(match e {
        AggExpr::Cmp(
            Agg {
                func: AggFunc::Count,
                ..
            },
            op,
            v,
        ) => match op {
            CmpOp::Lt => n < *v,
            CmpOp::Lte => n <= *v,
            CmpOp::Gt => n > *v,
            CmpOp::Gte => n >= *v,
            CmpOp::Eq => n == *v,
            CmpOp::Neq => n != *v,
        },
        AggExpr::Cmp(..) => return None,
        AggExpr::And(v) => {
            let mut all = true;
            for e in v {
                all &= eval_count(e, n)?;
            }
            all
        }
        AggExpr::Or(v) => {
            let mut any = false;
            for e in v {
                any |= eval_count(e, n)?;
            }
            any
        }
        AggExpr::Not(e) => !eval_count(e, n)?,
    })
}

/// The `runs` count of a `count() >= N` condition, or a refusal naming what is not encodable.
fn count_runs(c: &AggExpr, span: Option<sigil_diagnostics::Span>, cx: &mut Cx) -> Option<u64> {
    let alternatives: &[&str] = &[
        "use an ES|QL rule (STATS … BY … | WHERE …) or an Elastic threshold rule",
        "compile the rule for KQL or SPL",
    ];
    match c {
        AggExpr::Cmp(
            Agg {
                func: AggFunc::Count,
                ..
            },
            op @ (CmpOp::Gte | CmpOp::Gt),
            v,
        ) if v.is_finite() => {
            let n = if *op == CmpOp::Gte {
                v.ceil()
            } else {
                v.floor() + 1.0
            };
            Some(n.max(1.0) as u64)
        }
        AggExpr::Cmp(Agg { func, .. }, _, _) => {
            let (construct, what) = match func {
                AggFunc::Distinct => (Construct::AggDistinct, "distinct()"),
                AggFunc::Percentile => (Construct::AggPercentile, "percentile()"),
                AggFunc::Count => (
                    Construct::AggCondition,
                    "count() compared other than with >= or >",
                ),
                _ => (Construct::AggNumeric, "sum(), min(), max() and avg()"),
            };
            cx.refuse(
                construct,
                span,
                format!("EQL has no aggregation: {what} cannot be computed"),
                alternatives,
            );
            None
        }
        _ => {
            // Name the first aggregate EQL lacks, else the compound condition itself.
            let mut funcs = Vec::new();
            collect_funcs(c, &mut funcs);
            let (construct, what) = if funcs.contains(&AggFunc::Distinct) {
                (Construct::AggDistinct, "distinct() cannot be computed")
            } else if funcs.contains(&AggFunc::Percentile) {
                (Construct::AggPercentile, "percentile() cannot be computed")
            } else if funcs.iter().any(|f| *f != AggFunc::Count) {
                (
                    Construct::AggNumeric,
                    "sum(), min(), max() and avg() cannot be computed",
                )
            } else {
                (
                    Construct::AggCondition,
                    "only a single count() >= N condition has a `runs` encoding",
                )
            };
            cx.refuse(
                construct,
                span,
                format!("EQL has no aggregation: {what}"),
                alternatives,
            );
            None
        }
    }
}

fn collect_funcs(e: &AggExpr, out: &mut Vec<AggFunc>) {
    match e {
        AggExpr::Cmp(a, _, _) => out.push(a.func),
        AggExpr::And(v) | AggExpr::Or(v) => v.iter().for_each(|e| collect_funcs(e, out)),
        AggExpr::Not(e) => collect_funcs(e, out),
    }
}

fn comment(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("// {clean}")
}

/// Prints a mapped rule.
pub(crate) fn emit(rule: &MappedRule, cx: &mut Cx) -> String {
    let mut e = Emitter {
        rule,
        indexes: BTreeSet::new(),
        times: BTreeSet::new(),
        header: Vec::new(),
    };
    let span = rule.rule.origin.span;
    let stateful = !matches!(rule.rule.query, Query::Match(_));
    let body = match &rule.rule.query {
        Query::Match(s) => e.union(&[(s, Vec::new())], cx),
        Query::Threshold(t) => e.threshold(t, cx),
        Query::Sequence(s) => e.sequence(s, cx),
        Query::Unordered(u) => {
            cx.refuse(
                Construct::Unordered,
                span,
                format!(
                    "EQL sequences are ordered; {} inputs in any order would need one query per permutation",
                    u.inputs.len()
                ),
                &[
                    "rewrite the rule as a sequence when the order is known",
                    "write one sequence rule per order of the inputs",
                    "compile the rule for KQL or SPL",
                ],
            );
            String::new()
        }
    };
    outputs(rule, cx);
    let mut head = Vec::new();
    if !e.indexes.is_empty() {
        let list: Vec<&str> = e.indexes.iter().map(String::as_str).collect();
        head.push(comment(&format!("index: {}", list.join(", "))));
    }
    if stateful {
        if e.times.len() > 1 {
            cx.refuse(
                Construct::MultiSource,
                span,
                "the sources have different time fields, and an EQL search orders events by one",
                &["map the sources to one time field (@timestamp)"],
            );
        } else if let Some(t) = e.times.iter().next()
            && t != "@timestamp"
        {
            head.push(comment(&format!("timestamp_field: {t}")));
        }
    }
    head.extend(e.header.iter().map(|h| comment(h)));
    head.push(body);
    head.join("\n")
}

fn outputs(rule: &MappedRule, cx: &mut Cx) {
    let computed: Vec<String> = rule
        .rule
        .outputs
        .iter()
        .filter_map(|o| match o {
            Output::Field(_) => None,
            Output::Values(f) => Some(format!("values({f})")),
            Output::Distinct(f) => Some(format!("distinct({f})")),
            Output::FirstSeen => Some("first_seen()".into()),
            Output::LastSeen => Some("last_seen()".into()),
            Output::Count => Some("count()".into()),
            Output::Score => None,
        })
        .collect();
    let group_outputs = !matches!(rule.rule.query, Query::Match(_))
        && rule
            .rule
            .outputs
            .iter()
            .any(|o| matches!(o, Output::Field(_)));
    if !computed.is_empty() || group_outputs {
        cx.approx(
            Construct::Outputs,
            rule.rule.origin.span,
            format!(
                "EQL returns the matching events, not computed values: {} are left to the reader of the alert",
                if computed.is_empty() {
                    "the group keys".to_string()
                } else {
                    computed.join(", ")
                }
            ),
        );
    }
}
