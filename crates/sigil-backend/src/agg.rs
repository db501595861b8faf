//! Aggregates of thresholds: the set a query must compute, their column names, and
//! conditions printed over those columns.

use crate::text::number;
use sigil_ir::{Agg, AggExpr, AggFunc, Threshold};

/// A column name for an aggregate, stable and safe as an identifier in every target
/// (`event_count`, `distinct_api`, `p95_bytes`).
pub fn column(a: &Agg) -> String {
    let f = a
        .field
        .as_deref()
        .map(crate::text::identifier)
        .unwrap_or_default();
    match a.func {
        AggFunc::Count => "event_count".into(),
        AggFunc::Distinct => format!("distinct_{f}"),
        AggFunc::Sum => format!("sum_{f}"),
        AggFunc::Min => format!("min_{f}"),
        AggFunc::Max => format!("max_{f}"),
        AggFunc::Avg => format!("avg_{f}"),
        AggFunc::Percentile => {
            format!("p{}_{f}", number(a.rank.unwrap_or(50.0)).replace('.', "_"))
        }
    }
}

/// Every aggregate a threshold's condition and score read, once each, in a stable order;
/// `count()` is always included (alerts report it).
pub fn used(t: &Threshold) -> Vec<Agg> {
    let mut out: Vec<Agg> = vec![Agg {
        func: AggFunc::Count,
        field: None,
        rank: None,
    }];
    let mut push = |a: &Agg| {
        if !out.iter().any(|b| column(b) == column(a)) {
            out.push(a.clone());
        }
    };
    walk(&t.condition, &mut push);
    for c in &t.score {
        if let Some(w) = &c.when {
            walk(w, &mut push);
        }
    }
    out
}

fn walk(e: &AggExpr, f: &mut impl FnMut(&Agg)) {
    match e {
        AggExpr::Cmp(a, _, _) => f(a),
        AggExpr::And(v) | AggExpr::Or(v) => v.iter().for_each(|e| walk(e, f)),
        AggExpr::Not(e) => walk(e, f),
    }
}

/// Tokens for printing an aggregate condition over computed columns.
pub struct CondSyntax<'a> {
    /// Conjunction.
    pub and: &'a str,
    /// Disjunction.
    pub or: &'a str,
    /// Negation prefix, applied to a parenthesised operand.
    pub not: &'a str,
    /// Equality operator (`==` or `=`).
    pub eq: &'a str,
    /// Inequality operator.
    pub neq: &'a str,
}

/// Prints a condition over the aggregate columns, fully parenthesised.
pub fn condition(e: &AggExpr, s: &CondSyntax, col: &dyn Fn(&Agg) -> String) -> String {
    match e {
        AggExpr::Cmp(a, op, v) => {
            let op = match op {
                sigil_ir::CmpOp::Eq => s.eq,
                sigil_ir::CmpOp::Neq => s.neq,
                o => o.symbol(),
            };
            format!("{} {op} {}", col(a), number(*v))
        }
        AggExpr::And(v) => join(v, s.and, s, col),
        AggExpr::Or(v) => join(v, s.or, s, col),
        AggExpr::Not(inner) => format!("{}({})", s.not, condition(inner, s, col)),
    }
}

fn join(v: &[AggExpr], op: &str, s: &CondSyntax, col: &dyn Fn(&Agg) -> String) -> String {
    let parts: Vec<String> = v.iter().map(|e| condition(e, s, col)).collect();
    format!("({})", parts.join(&format!(" {op} ")))
}
