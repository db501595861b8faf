//! Single-event predicates as KQL boolean expressions.

use crate::regex;
use crate::text::{FieldExpr, field, fold, lit, needs_tolower, verbatim_or_lit};
use sigil_backend::expr::{ExprSyntax, print};
use sigil_backend::text::{RegexDialect, number, pattern_regex, regex_escape};
use sigil_backend::{Construct, Cx};
use sigil_ir::{
    Case, CmpOp, Expr, Pattern, Predicate, RefMatch, Seg, Target, Test, TimePart, Value,
};
use std::collections::HashSet;

/// Note for tests that the empty string passes: KQL cannot tell it from an absent field.
pub const EMPTY_IS_ABSENT: &str = "KQL reads a field an event lacks as an empty string: a test \
     the empty string passes also matches events without the field";

/// Note for tests KQL applies to the JSON text of an array.
const ARRAY_TEXT: &str = "a dynamic field that holds an array is matched as its JSON text, \
     where Sigil matches each element";

/// Note for non-ASCII case-insensitive text.
const NON_ASCII_CASE: &str = "KQL's case-insensitive operators fold ASCII only: text with \
     non-ASCII letters is compared through tolower(), whose lower-casing (.NET invariant \
     culture) can differ from Sigil's for a few characters";

/// Prints the expression of one search; predicates under an odd number of `not` whose KQL
/// form can be null are wrapped in `coalesce(…, false)` so `not` keeps two-valued logic.
pub fn expr(e: &Expr, cx: &mut Cx) -> String {
    let mut negated = HashSet::new();
    mark(e, false, &mut negated);
    let p = Preds { negated };
    print(&p, e, cx)
}

fn mark(e: &Expr, neg: bool, out: &mut HashSet<usize>) {
    match e {
        Expr::Pred(p) => {
            if neg {
                out.insert(p as *const Predicate as usize);
            }
        }
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|x| mark(x, neg, out)),
        Expr::Not(x) => mark(x, !neg, out),
        Expr::Const(_) => {}
    }
}

struct Preds {
    negated: HashSet<usize>,
}

/// Shapes of string tests KQL has operators for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Contains,
    StartsWith,
    EndsWith,
}

impl Op {
    fn token(self, case: Case) -> &'static str {
        match (self, case) {
            (Op::Eq, Case::Sensitive) => "==",
            (Op::Eq, Case::Insensitive) => "=~",
            (Op::Contains, Case::Sensitive) => "contains_cs",
            (Op::Contains, Case::Insensitive) => "contains",
            (Op::StartsWith, Case::Sensitive) => "startswith_cs",
            (Op::StartsWith, Case::Insensitive) => "startswith",
            (Op::EndsWith, Case::Sensitive) => "endswith_cs",
            (Op::EndsWith, Case::Insensitive) => "endswith",
        }
    }
    fn construct(self, case: Case) -> Construct {
        match (self, case) {
            (Op::Eq, Case::Sensitive) => Construct::EqCased,
            (Op::Eq, Case::Insensitive) => Construct::EqInsensitive,
            _ => Construct::Contains,
        }
    }
}

fn cmp(op: CmpOp) -> &'static str {
    op.symbol()
}

/// A string test of a field's text.
fn string_test(fx: &FieldExpr, op: Op, s: &str, case: Case, p: &Predicate, cx: &mut Cx) -> String {
    if s.is_empty() {
        cx.approx(Construct::NotMissing, p.span, EMPTY_IS_ABSENT);
    }
    let scalar = if case == Case::Insensitive && needs_tolower(s) {
        cx.approx(op.construct(case), p.span, NON_ASCII_CASE);
        format!(
            "tolower({}) {} {}",
            fx.text(),
            op.token(Case::Sensitive),
            lit(&fold(s))
        )
    } else {
        format!("{} {} {}", fx.text(), op.token(case), lit(s))
    };
    if !fx.dynamic {
        return scalar;
    }
    let x = regex_escape(&json_escape(s), RegexDialect::Perl);
    let inner = match op {
        Op::Eq => x,
        Op::Contains => format!("{JSON_CHARS}{x}{JSON_CHARS}"),
        Op::StartsWith => format!("{x}{JSON_CHARS}"),
        Op::EndsWith => format!("{JSON_CHARS}{x}"),
    };
    format!("({scalar} or {})", array_test(fx, &inner, case))
}

/// Any run of characters inside a JSON string, escapes kept whole.
const JSON_CHARS: &str = r#"(?:[^"\\]|\\.)*"#;

/// A test that some string element of the array in a dynamic field matches `inner` (a regex
/// over the element's JSON text, without its quotes). KQL sees a dynamic array as its JSON
/// text, where Sigil tests every element (docs/semantics.md §1.2); in compact JSON an
/// unescaped `"` right after `[` or `,` starts a top-level element.
fn array_test(fx: &FieldExpr, inner: &str, case: Case) -> String {
    let flags = if case == Case::Insensitive {
        "(?i)"
    } else {
        ""
    };
    let re = format!(r#"{flags}^\[(?:.*,)?"{inner}"(?:,.*)?\]$"#);
    format!("{} matches regex {}", fx.text(), verbatim_or_lit(&re))
}

/// `s` as the body of a JSON string (what the JSON text of a dynamic value holds).
fn json_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// The literal text of a pattern without wildcards.
fn plain(p: &Pattern) -> Option<String> {
    let mut out = String::new();
    for s in &p.0 {
        match s {
            Seg::Lit(l) => out.push_str(l),
            _ => return None,
        }
    }
    Some(out)
}

fn pattern_test(fx: &FieldExpr, pat: &Pattern, case: Case, p: &Predicate, cx: &mut Cx) -> String {
    if let Some(s) = plain(pat) {
        return string_test(fx, Op::Eq, &s, case, p, cx);
    }
    if let Some(s) = pat.as_contains() {
        return string_test(fx, Op::Contains, s, case, p, cx);
    }
    if let Some(s) = pat.as_prefix() {
        return string_test(fx, Op::StartsWith, s, case, p, cx);
    }
    if let Some(s) = pat.as_suffix() {
        return string_test(fx, Op::EndsWith, s, case, p, cx);
    }
    if pat.0.iter().all(|s| matches!(s, Seg::Any)) {
        cx.approx(Construct::NotMissing, p.span, EMPTY_IS_ABSENT);
    }
    if fx.dynamic {
        cx.approx(Construct::Wildcard, p.span, ARRAY_TEXT);
    }
    let flags = if case == Case::Insensitive {
        "(?i)"
    } else {
        ""
    };
    let re = format!("{flags}^{}$", pattern_regex(pat, RegexDialect::Perl));
    format!("{} matches regex {}", fx.text(), verbatim_or_lit(&re))
}

fn time_part(part: TimePart, value: &str) -> String {
    match part {
        TimePart::Minute => format!("datetime_part(\"minute\", todatetime({value}))"),
        TimePart::Hour => format!("datetime_part(\"hour\", todatetime({value}))"),
        TimePart::Day => format!("datetime_part(\"day\", todatetime({value}))"),
        TimePart::Week => format!("datetime_part(\"week_of_year\", todatetime({value}))"),
        TimePart::Month => format!("datetime_part(\"month\", todatetime({value}))"),
        TimePart::Year => format!("datetime_part(\"year\", todatetime({value}))"),
    }
}

/// Largest integer a `real` holds exactly.
const EXACT_REAL: i64 = 1 << 53;

impl Preds {
    /// Wraps a test that can be null when it sits under `not`.
    fn nullable(&self, p: &Predicate, text: String) -> String {
        if self.negated.contains(&(p as *const Predicate as usize)) {
            format!("coalesce({text}, false)")
        } else {
            text
        }
    }

    fn field_test(&self, name: &str, p: &Predicate, cx: &mut Cx) -> String {
        let fx = field(name);
        match &p.test {
            Test::Eq(Value::Str(s), case) => string_test(&fx, Op::Eq, s, *case, p, cx),
            Test::Eq(Value::Int(i), _) => {
                if i.unsigned_abs() > EXACT_REAL as u64 {
                    cx.approx(
                        Construct::EqNumber,
                        p.span,
                        "integers beyond 2^53 are compared as reals, so neighbouring integers \
                         compare equal",
                    );
                }
                self.nullable(p, format!("toreal({}) == {i}", fx.expr))
            }
            Test::Eq(Value::Float(f), _) => {
                self.nullable(p, format!("toreal({}) == {}", fx.expr, real(*f)))
            }
            Test::Eq(Value::Bool(b), _) => {
                format!("tostring({}) =~ {}", fx.expr, lit(&b.to_string()))
            }
            Test::Pattern(pat, case) => pattern_test(&fx, pat, *case, p, cx),
            Test::Regex(re, flags) => match regex::translate(re, *flags) {
                Ok(t) => {
                    if fx.dynamic {
                        cx.approx(Construct::Regex, p.span, ARRAY_TEXT);
                    }
                    for n in &t.notes {
                        cx.approx(Construct::Regex, p.span, n.clone());
                    }
                    format!(
                        "{} matches regex {}",
                        fx.text(),
                        verbatim_or_lit(&t.pattern)
                    )
                }
                Err(why) => {
                    cx.refuse(
                        Construct::Regex,
                        p.span,
                        why,
                        &[
                            "rewrite the regex without look-around, backreferences or atomic groups",
                            "use wildcards (contains, startswith, endswith) where they suffice",
                            "compile this rule for spl, whose regexes are PCRE",
                        ],
                    );
                    "false".into()
                }
            },
            Test::Cidr(net) => {
                cx.approx(
                    Construct::Cidr,
                    p.span,
                    "addresses are parsed by KQL's ipv4/ipv6 functions, which may accept \
                     spellings Sigil rejects (surrounding text, ports)",
                );
                let net = net.trunc();
                let t = match net {
                    ipnet::IpNet::V4(n) => {
                        format!("ipv4_is_in_range({}, {})", fx.text(), lit(&n.to_string()))
                    }
                    ipnet::IpNet::V6(n) => format!(
                        "({} contains \":\" and ipv6_is_in_range({}, {}))",
                        fx.text(),
                        fx.text(),
                        lit(&n.to_string())
                    ),
                };
                self.nullable(p, t)
            }
            Test::Cmp(op, v) => {
                self.nullable(p, format!("toreal({}) {} {}", fx.expr, cmp(*op), real(*v)))
            }
            Test::Exists(true) => {
                cx.approx(
                    Construct::Exists,
                    p.span,
                    "KQL cannot tell an absent field from an empty or null one: `exists` \
                     misses events whose value is empty or null",
                );
                format!("isnotempty({})", fx.expr)
            }
            Test::Exists(false) => {
                cx.approx(
                    Construct::Exists,
                    p.span,
                    "KQL cannot tell an absent field from an empty or null one: `exists: \
                     false` also matches events whose value is empty",
                );
                format!("isempty({})", fx.expr)
            }
            Test::Null => {
                cx.approx(
                    Construct::Null,
                    p.span,
                    "KQL reads an absent field as empty: `null` also matches an empty string",
                );
                format!("isempty({})", fx.expr)
            }
            Test::FieldRef(other, m, case) => {
                cx.approx(
                    Construct::FieldRef,
                    p.span,
                    "a field holding the empty string counts as absent (the reference does not \
                     hold), since KQL cannot tell the two apart",
                );
                let a = format!("tostring({})", fx.expr);
                let b = format!("tostring({})", field(other).expr);
                let (la, lb) = match case {
                    Case::Sensitive => (a.clone(), b.clone()),
                    Case::Insensitive => (format!("tolower({a})"), format!("tolower({b})")),
                };
                let op = match m {
                    RefMatch::Equals => "==",
                    RefMatch::Contains => "contains_cs",
                    RefMatch::StartsWith => "startswith_cs",
                    RefMatch::EndsWith => "endswith_cs",
                };
                format!("(isnotempty({a}) and isnotempty({b}) and {la} {op} {lb})")
            }
            Test::TimePart(part, op, v) => {
                cx.approx(
                    Construct::TimePart,
                    p.span,
                    "the value is read with todatetime(): timestamps written as Unix epoch \
                     numbers are not read",
                );
                self.nullable(
                    p,
                    format!("{} {} {v}", time_part(*part, &fx.expr), cmp(*op)),
                )
            }
            Test::Element(_) => {
                cx.refuse(
                    Construct::Element,
                    p.span,
                    "KQL has no scalar test that scopes several field tests to one array \
                     element (mv-apply would have to rewrite the whole query)",
                    &[
                        "test the element's fields separately, accepting that a key and a value \
                         may come from different elements",
                        "compile this rule for eql or spl",
                    ],
                );
                "false".into()
            }
            Test::Placeholder(..) => {
                cx.refuse(
                    Construct::EqInsensitive,
                    p.span,
                    "the value still holds an unresolved placeholder",
                    &["give every placeholder a value when compiling"],
                );
                "false".into()
            }
        }
    }
}

/// A number as a KQL real literal.
fn real(v: f64) -> String {
    if v.is_finite() {
        number(v)
    } else if v.is_nan() {
        "real(nan)".into()
    } else if v > 0.0 {
        "real(+inf)".into()
    } else {
        "real(-inf)".into()
    }
}

impl ExprSyntax for Preds {
    fn and(&self) -> &str {
        "and"
    }
    fn or(&self) -> &str {
        "or"
    }
    fn not(&self, operand: &str) -> String {
        if parenthesised(operand) {
            format!("not{operand}")
        } else {
            format!("not({operand})")
        }
    }
    fn constant(&self, value: bool) -> String {
        value.to_string()
    }
    fn parenthesise_negated_predicate(&self) -> bool {
        true
    }
    fn predicate(&self, p: &Predicate, cx: &mut Cx) -> String {
        match &p.target {
            Target::Field(f) => self.field_test(f, p, cx),
            Target::Keywords => keyword(p, cx),
        }
    }
    fn in_list(&self, f: &str, values: &[&Value], case: Case, cx: &mut Cx) -> Option<String> {
        let strings: Vec<&str> = values
            .iter()
            .map(|v| match v {
                Value::Str(s) => Some(s.as_str()),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        if strings.iter().any(|s| s.is_empty()) {
            cx.approx(Construct::NotMissing, None, EMPTY_IS_ABSENT);
        }
        let mut strings = strings;
        let mut seen = HashSet::new();
        strings.retain(|s| seen.insert(*s));
        let fx = field(f);
        let (lhs, op, items): (String, &str, Vec<String>) = match case {
            Case::Sensitive => (fx.text(), "in", strings.iter().map(|s| lit(s)).collect()),
            Case::Insensitive if strings.iter().any(|s| needs_tolower(s)) => {
                cx.approx(Construct::InList, None, NON_ASCII_CASE);
                (
                    format!("tolower({})", fx.text()),
                    "in",
                    strings.iter().map(|s| lit(&fold(s))).collect(),
                )
            }
            Case::Insensitive => (fx.text(), "in~", strings.iter().map(|s| lit(s)).collect()),
        };
        let scalar = format!("{lhs} {op} ({})", items.join(", "));
        if !fx.dynamic {
            return Some(scalar);
        }
        let alts: Vec<String> = strings
            .iter()
            .map(|s| regex_escape(&json_escape(s), RegexDialect::Perl))
            .collect();
        let inner = format!("(?:{})", alts.join("|"));
        Some(format!("({scalar} or {})", array_test(&fx, &inner, case)))
    }
}

/// A keyword: `* contains` over every column.
fn keyword(p: &Predicate, cx: &mut Cx) -> String {
    let (lit_text, case) = match &p.test {
        Test::Pattern(pat, case) => match pat.as_contains() {
            Some(s) => (s.to_string(), *case),
            None => {
                cx.refuse(
                    Construct::Keywords,
                    p.span,
                    "KQL searches every column only for a plain substring; this keyword has \
                     inner wildcards",
                    &[
                        "name the field the keyword is in",
                        "compile this rule for spl",
                    ],
                );
                return "false".into();
            }
        },
        _ => {
            cx.refuse(
                Construct::Keywords,
                p.span,
                "only substring keywords can search every column",
                &["name the field the keyword is in"],
            );
            return "false".into();
        }
    };
    cx.approx(
        Construct::Keywords,
        p.span,
        "`* contains` searches every column of the row as KQL reads it, not only the event's \
         string values as Sigil does (how KQL reads number and dynamic columns here was not \
         verified)",
    );
    let op = match case {
        Case::Insensitive => "contains",
        Case::Sensitive => "contains_cs",
    };
    format!("* {op} {}", lit(&lit_text))
}

/// True when `s` is one parenthesised group (string literals skipped).
fn parenthesised(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    if chars.first() != Some(&'(') || chars.last() != Some(&')') {
        return false;
    }
    let mut depth = 0usize;
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '@' if chars.get(i + 1) == Some(&'"') => {
                i += 2;
                while i < chars.len() {
                    if chars[i] == '"' {
                        if chars.get(i + 1) == Some(&'"') {
                            i += 1;
                        } else {
                            break;
                        }
                    }
                    i += 1;
                }
            }
            '"' => {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            '(' => depth += 1,
            ')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 && i + 1 < chars.len() {
                    return false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    depth == 0
}

#[cfg(test)]
mod tests {
    use super::parenthesised;

    #[test]
    fn parenthesised_groups_are_recognised() {
        assert!(parenthesised("(a or b)"));
        assert!(parenthesised("(a == \")(\")"));
        assert!(parenthesised("(a matches regex @\"x\"\")\")"));
        assert!(!parenthesised("(a) or (b)"));
        assert!(!parenthesised("a in~ (\"x\")"));
    }
}
