//! Precedence-aware printing of boolean expressions, shared by every text target.
//!
//! Mixed trees are always parenthesised (targets disagree on precedence: Splunk's search
//! binds OR tighter than AND), so the printer never relies on a target's precedence. Equality
//! tests of one field with one case rule that sit in the same OR are folded into one list
//! test when the target offers one.

use crate::Cx;
use sigil_ir::{Case, Expr, Predicate, Target, Test, Value};

/// The tokens and predicate printer a target supplies to [`print`].
pub trait ExprSyntax {
    /// The conjunction between operands (`and`, `AND`).
    fn and(&self) -> &str;
    /// The disjunction between operands (`or`, `OR`).
    fn or(&self) -> &str;
    /// Negates an operand that [`print`] has already parenthesised when needed.
    fn not(&self, operand: &str) -> String;
    /// A constant (a target without literals can print a tautology).
    fn constant(&self, value: bool) -> String;
    /// One predicate; refusals and approximations go to `cx`.
    fn predicate(&self, p: &Predicate, cx: &mut Cx) -> String;
    /// One membership test for `values` of `field` compared with `case`, when the target has
    /// one for these values; `None` prints the tests one by one.
    fn in_list(&self, field: &str, values: &[&Value], case: Case, cx: &mut Cx) -> Option<String> {
        let _ = (field, values, case, cx);
        None
    }
    /// Whether `not` needs parentheses around a single predicate too (SPL's `NOT a=b` does
    /// not, KQL's `not()` always has them).
    fn parenthesise_negated_predicate(&self) -> bool {
        false
    }
}

/// True for expressions printed as one operand without parentheses.
fn is_atom(e: &Expr) -> bool {
    matches!(e, Expr::Pred(_) | Expr::Const(_))
}

/// Prints `e` fully parenthesised, folding equality lists.
pub fn print(s: &dyn ExprSyntax, e: &Expr, cx: &mut Cx) -> String {
    match e {
        Expr::Const(b) => s.constant(*b),
        Expr::Pred(p) => s.predicate(p, cx),
        Expr::Not(inner) => {
            let body = print(s, inner, cx);
            if is_atom(inner) && !s.parenthesise_negated_predicate() {
                s.not(&body)
            } else if is_atom(inner) || matches!(**inner, Expr::Not(_)) {
                s.not(&format!("({body})"))
            } else {
                // And/Or children come back already parenthesised by `join`.
                s.not(&body)
            }
        }
        Expr::And(items) => join(s, items, s.and(), cx, false),
        Expr::Or(items) => join(s, items, s.or(), cx, true),
    }
}

/// Key of an equality that may join a list: (field, case, is-string).
fn eq_key(e: &Expr) -> Option<(&str, Case, &Value)> {
    if let Expr::Pred(Predicate {
        target: Target::Field(f),
        test: Test::Eq(v, c),
        ..
    }) = e
    {
        return Some((f.as_str(), *c, v));
    }
    None
}

fn join(s: &dyn ExprSyntax, items: &[Expr], op: &str, cx: &mut Cx, fold: bool) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut used = vec![false; items.len()];
    for (i, e) in items.iter().enumerate() {
        if used[i] {
            continue;
        }
        if fold && let Some((field, case, v0)) = eq_key(e) {
            let same_kind = |v: &Value| matches!(v, Value::Str(_)) == matches!(v0, Value::Str(_));
            let group: Vec<usize> = (i..items.len())
                .filter(|&j| {
                    !used[j]
                        && eq_key(&items[j])
                            .is_some_and(|(f, c, v)| f == field && c == case && same_kind(v))
                })
                .collect();
            if group.len() > 1 {
                let values: Vec<&Value> = group
                    .iter()
                    .filter_map(|&j| eq_key(&items[j]).map(|(_, _, v)| v))
                    .collect();
                if let Some(text) = s.in_list(field, &values, case, cx) {
                    for j in group {
                        used[j] = true;
                    }
                    parts.push(text);
                    continue;
                }
            }
        }
        used[i] = true;
        let text = print(s, e, cx);
        parts.push(text);
    }
    if parts.len() == 1 {
        return parts.pop().unwrap_or_default();
    }
    format!("({})", parts.join(&format!(" {op} ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigil_ir::{Case, Predicate, Target, Test, Value};

    struct Toy;
    impl ExprSyntax for Toy {
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
            value.to_string()
        }
        fn predicate(&self, p: &Predicate, _: &mut Cx) -> String {
            match (&p.target, &p.test) {
                (Target::Field(f), Test::Eq(Value::Str(v), _)) => format!("{f}={v}"),
                _ => "?".into(),
            }
        }
        fn in_list(&self, f: &str, v: &[&Value], _: Case, _: &mut Cx) -> Option<String> {
            let v: Vec<String> = v
                .iter()
                .map(|v| match v {
                    Value::Str(s) => s.clone(),
                    _ => "?".into(),
                })
                .collect();
            Some(format!("{f} IN ({})", v.join(",")))
        }
    }

    fn eq(f: &str, v: &str) -> Expr {
        Expr::Pred(Predicate {
            target: Target::Field(f.into()),
            test: Test::Eq(Value::Str(v.into()), Case::Insensitive),
            span: None,
        })
    }

    #[test]
    fn mixed_trees_are_parenthesised_and_lists_fold() {
        let e = Expr::And(vec![
            Expr::Or(vec![eq("a", "1"), eq("b", "2"), eq("a", "3")]),
            Expr::negate(Expr::Or(vec![eq("c", "4"), eq("d", "5")])),
            Expr::negate(eq("e", "6")),
        ]);
        let mut cx = Cx::default();
        assert_eq!(
            print(&Toy, &e, &mut cx),
            "((a IN (1,3) OR b=2) AND NOT (c=4 OR d=5) AND NOT e=6)"
        );
    }

    #[test]
    fn and_lists_do_not_fold() {
        let e = Expr::And(vec![eq("a", "1"), eq("a", "2")]);
        assert_eq!(print(&Toy, &e, &mut Cx::default()), "(a=1 AND a=2)");
    }
}
