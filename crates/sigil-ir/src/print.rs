//! The canonical IR printer: one stable text form per rule, used by `sigil explain` and by
//! snapshot tests. Every predicate shows its case rule (`/i` insensitive, `/c` cased) and
//! patterns show literal segments quoted and wildcards bare, so nothing is implicit.

use crate::*;
use std::fmt::Write as _;

/// Prints a rule in the canonical form.
pub fn print_rule(rule: &Rule) -> String {
    let mut p = Printer { out: String::new() };
    p.rule(rule);
    p.out
}

struct Printer {
    out: String,
}

/// Quotes a string with escapes for `"`, `\` and control characters.
pub(crate) fn quote(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(o, "\\u{{{:x}}}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Prints a number without a trailing `.0` when it is integral.
pub(crate) fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn case_tag(c: Case) -> &'static str {
    match c {
        Case::Insensitive => "/i",
        Case::Sensitive => "/c",
    }
}

fn pattern_text(p: &Pattern) -> String {
    p.0.iter()
        .map(|s| match s {
            Seg::Lit(l) => quote(l),
            Seg::Any => "*".into(),
            Seg::One => "?".into(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Str(s) => quote(s),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => num(*f),
        Value::Bool(b) => b.to_string(),
    }
}

/// Renders an aggregate expression in Sigil's surface syntax.
pub fn agg_expr_text(e: &AggExpr) -> String {
    // Mixed and/or are always parenthesised: readers should not need precedence rules.
    fn go(e: &AggExpr, nested: bool) -> String {
        let join = |items: &[AggExpr], op: &str| {
            let s = items
                .iter()
                .map(|i| go(i, true))
                .collect::<Vec<_>>()
                .join(op);
            if nested { format!("({s})") } else { s }
        };
        match e {
            AggExpr::Cmp(a, op, v) => format!("{} {} {}", agg_text(a), op.symbol(), num(*v)),
            AggExpr::Not(inner) => format!("not ({})", go(inner, false)),
            AggExpr::And(items) => join(items, " and "),
            AggExpr::Or(items) => join(items, " or "),
        }
    }
    go(e, false)
}

/// Renders one aggregate call.
pub fn agg_text(a: &Agg) -> String {
    let name = match a.func {
        AggFunc::Count => "count",
        AggFunc::Distinct => "distinct",
        AggFunc::Sum => "sum",
        AggFunc::Min => "min",
        AggFunc::Max => "max",
        AggFunc::Avg => "avg",
        AggFunc::Percentile => "percentile",
    };
    match (&a.field, a.rank) {
        (Some(f), Some(r)) => format!("{name}({f}, {})", num(r)),
        (Some(f), None) => format!("{name}({f})"),
        _ => format!("{name}()"),
    }
}

/// Renders a log source as `key=value` pairs.
pub fn source_text(s: &LogSource) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("product", &s.product),
        ("category", &s.category),
        ("service", &s.service),
    ] {
        if let Some(v) = v {
            parts.push(format!("{k}={v}"));
        }
    }
    for (k, v) in &s.extra {
        parts.push(format!("{k}={v}"));
    }
    if parts.is_empty() {
        "any".into()
    } else {
        parts.join(" ")
    }
}

/// Renders one predicate on one line.
pub fn predicate_text(p: &Predicate) -> String {
    let t = &p.target;
    match &p.test {
        Test::Eq(Value::Str(s), c) => format!("{t} eq{} {}", case_tag(*c), quote(s)),
        Test::Eq(v, _) => format!("{t} == {}", value_text(v)),
        Test::Pattern(pat, c) => format!("{t} like{} {}", case_tag(*c), pattern_text(pat)),
        Test::Regex(r, f) => {
            let mut flags = String::new();
            if f.ignore_case {
                flags.push('i');
            }
            if f.multi_line {
                flags.push('m');
            }
            if f.dot_all {
                flags.push('s');
            }
            let flags = if flags.is_empty() {
                String::new()
            } else {
                format!("/{flags}")
            };
            format!("{t} re{flags} {}", quote(r))
        }
        Test::Cidr(n) => format!("{t} cidr {n}"),
        Test::Cmp(op, v) => format!("{t} {} {}", op.symbol(), num(*v)),
        Test::Exists(true) => format!("{t} exists"),
        Test::Exists(false) => format!("{t} absent"),
        Test::Null => format!("{t} is-null"),
        Test::FieldRef(other, m, c) => {
            let op = match m {
                RefMatch::Equals => "eq",
                RefMatch::Contains => "contains",
                RefMatch::StartsWith => "startswith",
                RefMatch::EndsWith => "endswith",
            };
            format!("{t} {op}{} field({other})", case_tag(*c))
        }
        Test::TimePart(part, op, v) => format!("{t} {}() {} {v}", part.name(), op.symbol()),
        Test::Element(inner) => format!("{t} any-element({})", expr_inline(inner)),
        Test::Placeholder(parts, c) => {
            let body = parts
                .iter()
                .map(|p| match p {
                    PlaceholderPart::Seg(Seg::Lit(l)) => quote(l),
                    PlaceholderPart::Seg(Seg::Any) => "*".into(),
                    PlaceholderPart::Seg(Seg::One) => "?".into(),
                    PlaceholderPart::Name(n) => format!("%{n}%"),
                })
                .collect::<Vec<_>>()
                .join(" ");
            format!("{t} expand{} {body}", case_tag(*c))
        }
    }
}

impl Printer {
    fn line(&mut self, depth: usize, s: &str) {
        for _ in 0..depth {
            self.out.push_str("  ");
        }
        self.out.push_str(s);
        self.out.push('\n');
    }

    fn list(&mut self, depth: usize, key: &str, items: &[String]) {
        if !items.is_empty() {
            let body = items
                .iter()
                .map(|s| quote(s))
                .collect::<Vec<_>>()
                .join(", ");
            self.line(depth, &format!("{key}: [{body}]"));
        }
    }

    fn rule(&mut self, r: &Rule) {
        let m = &r.meta;
        let head = m
            .name
            .clone()
            .or_else(|| m.id.clone())
            .unwrap_or_else(|| "<unnamed>".into());
        self.line(0, &format!("rule {head}"));
        if let Some(id) = &m.id {
            self.line(1, &format!("id: {id}"));
        }
        self.line(1, &format!("title: {}", quote(&m.title)));
        if let Some(l) = m.level {
            self.line(1, &format!("level: {}", l.name()));
        }
        if let Some(s) = &m.status {
            self.line(1, &format!("status: {s}"));
        }
        self.list(1, "tags", &m.tags);
        if m.generate {
            self.line(1, "generate: true");
        }
        if let Some(f) = &m.fixtures {
            self.line(1, &format!("fixtures: {}", quote(f)));
        }
        self.list(1, "filters", &m.filters);
        self.query(1, &r.query);
        if !r.outputs.is_empty() {
            let outs: Vec<String> = r.outputs.iter().map(output_text).collect();
            self.line(1, &format!("outputs: [{}]", outs.join(", ")));
        }
    }

    fn query(&mut self, d: usize, q: &Query) {
        match q {
            Query::Match(s) => {
                self.line(d, &format!("match {}", source_text(&s.source)));
                self.expr(d + 1, &s.expr);
            }
            Query::Threshold(t) => {
                let kind = match t.window.kind {
                    WindowKind::Tumbling => "tumbling",
                    WindowKind::Sliding => "sliding",
                };
                self.line(
                    d,
                    &format!(
                        "threshold window={} {kind} group-by=[{}]",
                        duration_text(t.window.length_ms),
                        t.group_by.join(", ")
                    ),
                );
                self.line(
                    d + 1,
                    &format!("condition: {}", agg_expr_text(&t.condition)),
                );
                for c in &t.score {
                    match &c.when {
                        Some(w) => self.line(
                            d + 1,
                            &format!("score {} when {}", c.value, agg_expr_text(w)),
                        ),
                        None => self.line(d + 1, &format!("score {} otherwise", c.value)),
                    }
                }
                for i in &t.inputs {
                    self.input(d + 1, "input", i);
                }
            }
            Query::Sequence(s) => {
                let span = s
                    .maxspan_ms
                    .map(duration_text)
                    .unwrap_or_else(|| "unbounded".into());
                self.line(
                    d,
                    &format!("sequence maxspan={span} by=[{}]", s.by.join(", ")),
                );
                for (n, st) in s.steps.iter().enumerate() {
                    let runs = if st.runs > 1 {
                        format!(" runs={}", st.runs)
                    } else {
                        String::new()
                    };
                    self.input(d + 1, &format!("step {}{runs}", n + 1), &st.input);
                }
                if let Some(u) = &s.until {
                    self.input(d + 1, "until", u);
                }
            }
            Query::Unordered(u) => {
                self.line(
                    d,
                    &format!(
                        "unordered within={} by=[{}]",
                        duration_text(u.within_ms),
                        u.by.join(", ")
                    ),
                );
                for i in &u.inputs {
                    self.input(d + 1, "input", i);
                }
            }
        }
    }

    fn input(&mut self, d: usize, label: &str, i: &Input) {
        let fields = if i.fields.is_empty() {
            String::new()
        } else {
            let f: Vec<String> = i
                .fields
                .iter()
                .map(|(a, f)| format!("{a}={}", f.as_deref().unwrap_or("<absent>")))
                .collect();
            format!(" fields({})", f.join(", "))
        };
        self.line(d, &format!("{label} {}{fields}", i.name));
        self.query(d + 1, &i.query);
    }

    fn expr(&mut self, d: usize, e: &Expr) {
        match e {
            Expr::Pred(p) => self.line(d, &predicate_text(p)),
            Expr::And(v) => {
                self.line(d, "and");
                v.iter().for_each(|x| self.expr(d + 1, x));
            }
            Expr::Or(v) => {
                self.line(d, "or");
                v.iter().for_each(|x| self.expr(d + 1, x));
            }
            Expr::Not(x) => {
                self.line(d, "not");
                self.expr(d + 1, x);
            }
            Expr::Const(b) => self.line(d, if *b { "always" } else { "never" }),
        }
    }
}

/// Renders an expression on one line, parenthesising every and/or.
pub fn expr_inline(e: &Expr) -> String {
    match e {
        Expr::Pred(p) => predicate_text(p),
        Expr::And(v) => format!(
            "({})",
            v.iter().map(expr_inline).collect::<Vec<_>>().join(" and ")
        ),
        Expr::Or(v) => format!(
            "({})",
            v.iter().map(expr_inline).collect::<Vec<_>>().join(" or ")
        ),
        Expr::Not(x) => format!("not {}", expr_inline(x)),
        Expr::Const(b) => (if *b { "always" } else { "never" }).to_string(),
    }
}

/// Renders an output item.
pub fn output_text(o: &Output) -> String {
    match o {
        Output::Field(f) => f.clone(),
        Output::Values(f) => format!("values({f})"),
        Output::FirstSeen => "first_seen()".into(),
        Output::LastSeen => "last_seen()".into(),
        Output::Count => "count()".into(),
        Output::Distinct(f) => format!("distinct({f})"),
        Output::Score => "score()".into(),
    }
}

/// Renders milliseconds in the largest unit that divides them (`15m`, `90s`, `1500ms`).
pub fn duration_text(ms: u64) -> String {
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms >= size && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}
