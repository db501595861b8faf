//! Predicates in SPL's two filter languages, and the split of an expression between them.
//!
//! The search command matches field values case-insensitively, any value of a multivalue
//! field, with `*` as its only (unescapable) wildcard, and `NOT f="x"` keeps events that
//! lack `f`: that is the evaluator's meaning for case-insensitive equality and `*` patterns,
//! so those predicates stay in the search. Everything else is written for `| where`, where
//! each test is total (true or false, never null), so `NOT` keeps its two-valued meaning,
//! and tests of a field's values go through `mvfilter()`, so a multivalue field holds the
//! test when any of its values does (as the evaluator's arrays do).

use crate::lit;
use sigil_backend::expr::{ExprSyntax, print};
use sigil_backend::text::{number, regex_features};
use sigil_backend::{Construct, Cx};
use sigil_diagnostics::Span;
use sigil_ir::{
    Case, CmpOp, Expr, Pattern, Predicate, RefMatch, Seg, Target, Test, TimePart, Value,
};

/// The names of the time field of the search being printed (the mapping's time field and
/// Splunk's `_time`), which time-part tests read as `_time`.
pub struct Ctx<'a> {
    /// The mapping's time field for the source.
    pub time_field: &'a str,
}

/// The search-command form of a predicate, when the search command means exactly what
/// the evaluator means.
pub fn search_form(p: &Predicate) -> Option<String> {
    let Target::Field(f) = &p.target else {
        return None;
    };
    if !lit::plain_search_name(f) {
        return None;
    }
    match &p.test {
        Test::Eq(Value::Str(s), Case::Insensitive) if !s.is_empty() && !s.contains('*') => {
            Some(format!("{f}={}", lit::string(s)?))
        }
        Test::Eq(Value::Bool(b), _) => Some(format!("{f}=\"{b}\"")),
        Test::Pattern(pat, Case::Insensitive) => Some(format!("{f}={}", search_pattern(pat)?)),
        _ => None,
    }
}

/// A pattern of literals and `*` whose literals hold no `*`, as one quoted search value.
fn search_pattern(p: &Pattern) -> Option<String> {
    let mut text = String::new();
    for seg in &p.0 {
        match seg {
            Seg::Lit(s) if !s.contains('*') && !s.is_empty() => text.push_str(s),
            Seg::Any => text.push('*'),
            _ => return None,
        }
    }
    lit::string(&text)
}

/// True when every predicate of `e` has a search form (and `e` holds no constant).
pub fn searchable(e: &Expr) -> bool {
    match e {
        Expr::Pred(p) => search_form(p).is_some(),
        Expr::And(v) | Expr::Or(v) => v.iter().all(searchable),
        Expr::Not(inner) => searchable(inner),
        Expr::Const(_) => false,
    }
}

/// The search command's boolean syntax (only used on [`searchable`] expressions).
pub struct SearchSyntax;

impl ExprSyntax for SearchSyntax {
    fn and(&self) -> &str {
        "AND"
    }
    fn or(&self) -> &str {
        "OR"
    }
    fn not(&self, operand: &str) -> String {
        format!("NOT {operand}")
    }
    fn constant(&self, value: bool) -> String {
        // Unreachable for searchable expressions; a tautology/contradiction is still valid.
        if value { "*".into() } else { "NOT *".into() }
    }
    fn predicate(&self, p: &Predicate, _: &mut Cx) -> String {
        search_form(p).unwrap_or_else(|| "NOT *".into())
    }
    fn in_list(&self, field: &str, values: &[&Value], case: Case, _: &mut Cx) -> Option<String> {
        if case != Case::Insensitive || !lit::plain_search_name(field) {
            return None;
        }
        let mut items = Vec::new();
        for v in values {
            match v {
                Value::Str(s) if !s.is_empty() && !s.contains('*') => {
                    let q = lit::string(s)?;
                    // Two source fields mapped to one target field repeat their values.
                    if !items.contains(&q) {
                        items.push(q);
                    }
                }
                _ => return None,
            }
        }
        Some(format!("{field} IN ({})", items.join(", ")))
    }
}

/// Eval/where boolean syntax; every predicate prints as a total boolean.
pub struct WhereSyntax<'a> {
    /// The search's context.
    pub ctx: Ctx<'a>,
}

impl ExprSyntax for WhereSyntax<'_> {
    fn and(&self) -> &str {
        "AND"
    }
    fn or(&self) -> &str {
        "OR"
    }
    fn not(&self, operand: &str) -> String {
        format!("NOT {operand}")
    }
    fn constant(&self, value: bool) -> String {
        if value {
            "true()".into()
        } else {
            "false()".into()
        }
    }
    fn predicate(&self, p: &Predicate, cx: &mut Cx) -> String {
        where_form(p, &self.ctx, cx)
    }
    fn parenthesise_negated_predicate(&self) -> bool {
        true
    }
}

/// Prints `e` for `| where`.
pub fn where_expr(e: &Expr, ctx: Ctx<'_>, cx: &mut Cx) -> String {
    print(&WhereSyntax { ctx }, e, cx)
}

/// Prints a searchable `e` for the search command.
pub fn search_expr(e: &Expr, cx: &mut Cx) -> String {
    print(&SearchSyntax, e, cx)
}

/// `isnotnull(mvfilter(<test of the value>))`: some value of the field passes the test.
fn any_value(test: String) -> String {
    format!("isnotnull(mvfilter({test}))")
}

/// An eval string holding a regex (after making it safe for the query text).
fn re_string(re: &str) -> String {
    // Regexes reaching here hold no control character or backtick, so quoting succeeds.
    lit::string(re).unwrap_or_else(|| "\"(?!)\"".into())
}

fn refuse_name(cx: &mut Cx, c: Construct, span: Option<Span>, f: &str) -> String {
    cx.refuse(
        c,
        span,
        format!("the field name `{f}` holds a quote, backslash, backtick or control character, which no SPL field reference can carry"),
        &["rename the field in a --mapping file to a name without such characters"],
    );
    "false()".into()
}

fn construct_of(test: &Test) -> Construct {
    match test {
        Test::Eq(Value::Str(_), Case::Insensitive) => Construct::EqInsensitive,
        Test::Eq(Value::Str(_), Case::Sensitive) => Construct::EqCased,
        Test::Eq(..) => Construct::EqNumber,
        Test::Pattern(p, _) if sigil_backend::text::has_glob_chars(p) => Construct::WildcardLiteral,
        Test::Pattern(p, _)
            if p.as_contains().is_some() || p.as_prefix().is_some() || p.as_suffix().is_some() =>
        {
            Construct::Contains
        }
        Test::Pattern(..) => Construct::Wildcard,
        Test::Regex(..) => Construct::Regex,
        Test::Cidr(_) => Construct::Cidr,
        Test::Cmp(..) => Construct::NumCompare,
        Test::Exists(_) => Construct::Exists,
        Test::Null => Construct::Null,
        Test::FieldRef(..) => Construct::FieldRef,
        Test::TimePart(..) => Construct::TimePart,
        Test::Element(_) => Construct::Element,
        Test::Placeholder(..) => Construct::EqInsensitive,
    }
}

/// Flag prefix `(?ims)` for a regex.
fn flags(i: bool, m: bool, s: bool) -> String {
    let mut f = String::new();
    if i {
        f.push('i');
    }
    if m {
        f.push('m');
    }
    if s {
        f.push('s');
    }
    if f.is_empty() { f } else { format!("(?{f})") }
}

/// The `| where` form of a predicate.
pub fn where_form(p: &Predicate, ctx: &Ctx<'_>, cx: &mut Cx) -> String {
    let span = p.span;
    let construct = construct_of(&p.test);
    let f = match &p.target {
        Target::Keywords => return keyword_form(p, cx),
        Target::Field(f) => f,
    };
    if let Test::TimePart(part, op, n) = &p.test {
        return time_part(f, *part, *op, *n, ctx, span, cx);
    }
    let Some(fr) = lit::field_ref(f) else {
        return refuse_name(cx, construct, span, f);
    };
    match &p.test {
        Test::Eq(Value::Str(s), case) => {
            let i = if *case == Case::Insensitive {
                "(?i)"
            } else {
                ""
            };
            let re = format!("{i}\\A{}\\z", lit::regex_text(s));
            any_value(format!("match({fr}, {})", re_string(&re)))
        }
        Test::Eq(Value::Int(n), _) => {
            if n.unsigned_abs() > (1u64 << 53) {
                cx.approx(
                    construct,
                    span,
                    format!("SPL compares numbers as doubles, so {n} also equals its neighbours within double precision"),
                );
            }
            any_value(format!("tonumber(trim({fr}))=={n}"))
        }
        Test::Eq(Value::Float(x), _) => {
            if !x.is_finite() {
                cx.refuse(
                    construct,
                    span,
                    "a non-finite number cannot be compared in SPL",
                    &[],
                );
                return "false()".into();
            }
            any_value(format!("tonumber(trim({fr}))=={}", number(*x)))
        }
        Test::Eq(Value::Bool(b), _) => any_value(format!("lower({fr})==\"{b}\"")),
        Test::Pattern(pat, case) => {
            let i = if *case == Case::Insensitive {
                "(?i)"
            } else {
                ""
            };
            let re = format!("{i}\\A{}\\z", lit::pattern_regex(pat));
            any_value(format!("match({fr}, {})", re_string(&re)))
        }
        Test::Regex(re, fl) => {
            let Some(safe) = lit::safe_regex(re) else {
                cx.refuse(
                    Construct::Regex,
                    span,
                    "the regex quotes a backtick or control character with \\Q…\\E, which the query text cannot carry",
                    &["write the character as \\x{..} instead of quoting it"],
                );
                return "false()".into();
            };
            if regex_features(re).classes {
                cx.approx(
                    Construct::Regex,
                    span,
                    "Splunk's PCRE reads \\d, \\w, \\s and \\b as ASCII classes; the evaluator's are Unicode-aware",
                );
            }
            let full = format!("{}{safe}", flags(fl.ignore_case, fl.multi_line, fl.dot_all));
            any_value(format!("match({fr}, {})", re_string(&full)))
        }
        Test::Cidr(net) => {
            let net = net.trunc();
            if matches!(net, ipnet::IpNet::V6(_)) {
                cx.approx(
                    Construct::Cidr,
                    span,
                    "IPv6 networks use cidrmatch(), whose IPv6 support depends on the Splunk version",
                );
            }
            any_value(format!("cidrmatch(\"{net}\", trim({fr}))"))
        }
        Test::Cmp(op, v) => {
            if !v.is_finite() {
                cx.refuse(
                    construct,
                    span,
                    "a non-finite number cannot be compared in SPL",
                    &[],
                );
                return "false()".into();
            }
            any_value(format!(
                "tonumber(trim({fr})){}{}",
                op_text(*op),
                number(*v)
            ))
        }
        Test::Exists(b) => {
            cx.approx(
                Construct::Exists,
                span,
                "Splunk's JSON extraction does not keep a field whose value is JSON null (or an empty array) as present, so exists reads such a field as absent (the evaluator as present)",
            );
            if *b {
                format!("isnotnull({fr})")
            } else {
                format!("isnull({fr})")
            }
        }
        Test::Null => {
            cx.approx(
                Construct::Null,
                span,
                "`null` is emitted as isnull(field): it holds for an absent field, but Splunk's JSON extraction does not keep an explicit JSON null as a null value",
            );
            format!("isnull({fr})")
        }
        Test::FieldRef(other, m, case) => field_ref_form(&fr, other, *m, *case, span, cx),
        Test::TimePart(..) => unreachable_false(),
        Test::Element(_) => {
            cx.refuse(
                Construct::Element,
                span,
                "Splunk extracts an array of objects as one multivalue field per key, so tests cannot be scoped to one element",
                &["test the element's fields separately (keys and values may then come from different elements)"],
            );
            "false()".into()
        }
        Test::Placeholder(..) => {
            cx.refuse(
                Construct::EqInsensitive,
                span,
                "the value still holds an unresolved placeholder",
                &["give every placeholder a value"],
            );
            "false()".into()
        }
    }
}

fn unreachable_false() -> String {
    "false()".into()
}

fn op_text(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "==",
        CmpOp::Neq => "!=",
        o => o.symbol(),
    }
}

fn field_ref_form(
    fr: &str,
    other: &str,
    m: RefMatch,
    case: Case,
    span: Option<Span>,
    cx: &mut Cx,
) -> String {
    let Some(or) = lit::field_ref(other) else {
        return refuse_name(cx, Construct::FieldRef, span, other);
    };
    let (a, b) = if case == Case::Insensitive {
        (format!("lower({fr})"), format!("lower({or})"))
    } else {
        (fr.to_string(), or.clone())
    };
    cx.approx(
        Construct::FieldRef,
        span,
        "field references compare with eval, which reads a multivalue field as a whole rather than value by value",
    );
    let test = match m {
        RefMatch::Equals => format!("{a}=={b}"),
        RefMatch::Contains | RefMatch::StartsWith | RefMatch::EndsWith => {
            cx.approx(
                Construct::FieldRef,
                span,
                "fieldref contains/startswith/endswith use like(), where a % or _ in the other field's value is a wildcard",
            );
            let (pre, post) = match m {
                RefMatch::Contains => ("\"%\".", ".\"%\""),
                RefMatch::StartsWith => ("", ".\"%\""),
                _ => ("\"%\".", ""),
            };
            format!("like({a}, {pre}{b}{post})")
        }
    };
    format!("(isnotnull({fr}) AND isnotnull({or}) AND {test})")
}

fn time_part(
    f: &str,
    part: TimePart,
    op: CmpOp,
    n: i64,
    ctx: &Ctx<'_>,
    span: Option<Span>,
    cx: &mut Cx,
) -> String {
    if f != ctx.time_field && f != "_time" {
        cx.refuse(
            Construct::TimePart,
            span,
            format!("time parts are computed from the event time `_time`; `{f}` is not the source's time field, and SPL has no parser for arbitrary timestamp text"),
            &["compare a part of the event's own time (the mapping's time field)"],
        );
        return "false()".into();
    }
    let expr = match part {
        TimePart::Minute => "floor(_time/60)%60".to_string(),
        TimePart::Hour => "floor(_time/3600)%24".to_string(),
        other => {
            cx.approx(
                Construct::TimePart,
                span,
                "day, week, month and year come from strftime(), which uses the searching user's time zone (the evaluator uses UTC): run the search as a user whose time zone is UTC",
            );
            let fmt = match other {
                TimePart::Day => "%d",
                TimePart::Week => "%V",
                TimePart::Month => "%m",
                _ => "%Y",
            };
            format!("tonumber(strftime(_time, \"{fmt}\"))")
        }
    };
    // Guarded so the test is false, never null, for an event without a time (under NOT too).
    format!("(isnotnull(_time) AND {expr}{}{n})", op_text(op))
}

fn keyword_form(p: &Predicate, cx: &mut Cx) -> String {
    let span = p.span;
    let (body, case) = match &p.test {
        Test::Pattern(pat, case) => {
            // Leading and trailing `*` mean "anywhere": an unanchored regex says the same.
            let mut segs: &[Seg] = &pat.0;
            while let [Seg::Any, rest @ ..] = segs {
                segs = rest;
            }
            while let [rest @ .., Seg::Any] = segs {
                segs = rest;
            }
            (lit::pattern_regex(&Pattern(segs.to_vec())), *case)
        }
        Test::Eq(Value::Str(s), case) => (lit::regex_text(s), *case),
        Test::Regex(re, fl) => match lit::safe_regex(re) {
            Some(s) => (
                format!("{}{s}", flags(false, fl.multi_line, fl.dot_all)),
                if fl.ignore_case {
                    Case::Insensitive
                } else {
                    Case::Sensitive
                },
            ),
            None => {
                cx.refuse(
                    Construct::Keywords,
                    span,
                    "the keyword regex quotes a backtick or control character with \\Q…\\E",
                    &[],
                );
                return "false()".into();
            }
        },
        _ => {
            cx.refuse(
                Construct::Keywords,
                span,
                "only text, wildcard and regex keywords can be searched in the raw event",
                &["name the field the value is in"],
            );
            return "false()".into();
        }
    };
    cx.approx(
        Construct::Keywords,
        span,
        "keywords are matched in the raw event text (_raw): keys, numbers and booleans are searched too, a keyword is not bound to the start or end of one string value, and characters JSON escapes in _raw (quotes, backslashes) are not found as written",
    );
    let i = if case == Case::Insensitive {
        "(?i)"
    } else {
        ""
    };
    format!("match(_raw, {})", re_string(&format!("{i}{body}")))
}

/// Splits a search expression into the part the search command expresses exactly and the
/// rest (printed for `| where`), such that `search AND where` means `e`.
pub fn split(e: &Expr) -> (Vec<Expr>, Vec<Expr>) {
    let items: Vec<Expr> = match e {
        Expr::And(v) => v.clone(),
        other => vec![other.clone()],
    };
    items.into_iter().partition(searchable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pred(f: &str, test: Test) -> Predicate {
        Predicate {
            target: Target::Field(f.into()),
            test,
            span: None,
        }
    }

    #[test]
    fn search_forms() {
        let p = pred("a", Test::Eq(Value::Str("X\"y".into()), Case::Insensitive));
        assert_eq!(search_form(&p).as_deref(), Some(r#"a="X\"y""#));
        let p = pred("a", Test::Eq(Value::Str("x*y".into()), Case::Insensitive));
        assert_eq!(search_form(&p), None);
        let p = pred(
            "a",
            Test::Pattern(
                Pattern(vec![Seg::Any, Seg::Lit("x".into()), Seg::Any]),
                Case::Insensitive,
            ),
        );
        assert_eq!(search_form(&p).as_deref(), Some(r#"a="*x*""#));
        let p = pred(
            "a",
            Test::Pattern(
                Pattern(vec![Seg::Lit("x".into()), Seg::One]),
                Case::Insensitive,
            ),
        );
        assert_eq!(search_form(&p), None);
    }

    #[test]
    fn where_forms() {
        let ctx = Ctx {
            time_field: "_time",
        };
        let mut cx = Cx::default();
        let p = pred("a.b", Test::Eq(Value::Str("x.y".into()), Case::Sensitive));
        assert_eq!(
            where_form(&p, &ctx, &mut cx),
            r#"isnotnull(mvfilter(match('a.b', "\\Ax\\.y\\z")))"#
        );
        let p = pred("n", Test::Cmp(CmpOp::Gte, 10.0));
        assert_eq!(
            where_form(&p, &ctx, &mut cx),
            "isnotnull(mvfilter(tonumber(trim('n'))>=10))"
        );
        let p = pred("_time", Test::TimePart(TimePart::Hour, CmpOp::Eq, 3));
        assert_eq!(
            where_form(&p, &ctx, &mut cx),
            "(isnotnull(_time) AND floor(_time/3600)%24==3)"
        );
        assert!(cx.notes().is_empty() && !cx.refused());
    }
}
