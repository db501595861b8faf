//! The two expression grammars, written with nom: Sigma conditions
//! (`sel and not 1 of filter_* | count(x) by y > 5`) and Sigil's aggregate expressions
//! (`count() >= 10 or distinct(api) >= 5`).
//!
//! Offsets in the trees are byte ranges into the parsed string, so callers can place
//! diagnostics inside the YAML scalar that held the expression.

use nom::{
    IResult, Parser,
    branch::alt,
    bytes::complete::{tag, take_while, take_while1},
    character::complete::{char, multispace0},
    combinator::recognize,
    number::complete::recognize_float,
    sequence::pair,
};
use std::ops::Range;

/// Deepest nesting of parentheses and `not` accepted; deeper input is refused before
/// parsing so that hostile input cannot exhaust the stack.
pub const MAX_DEPTH: usize = 64;

/// A parse failure inside an expression, with the byte range it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExprError {
    /// What went wrong.
    pub message: String,
    /// Byte range in the expression text.
    pub at: Range<usize>,
    /// True when the failure is the nesting limit, not a syntax error.
    pub too_deep: bool,
}

/// How many identifiers `x of` requires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Quantifier {
    /// `1 of` / `any of`: at least one.
    Any,
    /// `all of`.
    All,
    /// `N of` with N > 1 (a Sigil extension of the `1 of` form): at least N.
    AtLeast(u32),
}

/// The identifiers an `x of` applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OfTarget {
    /// `them`: every search identifier.
    Them,
    /// A name, possibly with `*` wildcards: `selection_*`.
    Pattern(String),
}

/// A Sigma condition expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cond {
    /// A search identifier.
    Ident {
        /// Its name.
        name: String,
        /// Where it is.
        at: Range<usize>,
    },
    /// `1 of x*`, `all of them`.
    Of {
        /// How many must hold.
        quant: Quantifier,
        /// Which identifiers.
        target: OfTarget,
        /// Where the whole `x of y` is.
        at: Range<usize>,
    },
    /// `not x`.
    Not(Box<Cond>),
    /// `a and b and …`.
    And(Vec<Cond>),
    /// `a or b or …`.
    Or(Vec<Cond>),
}

/// Comparison operators of aggregate expressions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CmpOp {
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `==`
    Eq,
    /// `!=`
    Neq,
}

impl CmpOp {
    /// The operator as written in Sigil expressions.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
            CmpOp::Eq => "==",
            CmpOp::Neq => "!=",
        }
    }
}

/// Aggregate functions of thresholds, score cases and Sigma 1.x aggregations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AggFunc {
    /// Number of events.
    Count,
    /// Number of distinct values of a field.
    Distinct,
    /// Sum of a numeric field.
    Sum,
    /// Minimum of a numeric field.
    Min,
    /// Maximum of a numeric field.
    Max,
    /// Mean of a numeric field.
    Avg,
    /// A percentile of a numeric field.
    Percentile,
}

impl AggFunc {
    /// The function's name as written.
    pub fn name(self) -> &'static str {
        match self {
            AggFunc::Count => "count",
            AggFunc::Distinct => "distinct",
            AggFunc::Sum => "sum",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
            AggFunc::Avg => "avg",
            AggFunc::Percentile => "percentile",
        }
    }
}

/// A call such as `distinct(eventName)` or `percentile(bytes, 95)`.
#[derive(Clone, Debug, PartialEq)]
pub struct AggCall {
    /// The function.
    pub func: AggFunc,
    /// Its field argument (required for all but `count`).
    pub field: Option<String>,
    /// The percentile rank for `percentile`.
    pub rank: Option<f64>,
    /// Where the call is.
    pub at: Range<usize>,
}

/// A boolean expression over aggregate comparisons.
#[derive(Clone, Debug, PartialEq)]
pub enum AggExpr {
    /// `call op number`.
    Cmp {
        /// Left side.
        call: AggCall,
        /// Operator.
        op: CmpOp,
        /// Right side.
        value: f64,
        /// Where the comparison is.
        at: Range<usize>,
    },
    /// `not e`.
    Not(Box<AggExpr>),
    /// `a and b …`.
    And(Vec<AggExpr>),
    /// `a or b …`.
    Or(Vec<AggExpr>),
}

/// The Sigma 1.x part after `|` in a condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Aggregation {
    /// `count(x) by y > 5` and friends.
    Stat {
        /// The aggregate (Sigma 1.x `count(field)` counts distinct values, so it becomes `distinct`).
        call: AggCall,
        /// The `by` field.
        group_by: Option<String>,
        /// Comparison operator.
        op: CmpOp,
        /// Threshold.
        value: f64,
    },
    /// `near a and b` (events of every named search within the timeframe, in any order).
    Near {
        /// The searches that must all occur.
        expr: Cond,
    },
}

/// A whole Sigma condition: the expression and an optional 1.x aggregation.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// The condition's source text (offsets in the tree index into it).
    pub text: String,
    /// The boolean part.
    pub expr: Cond,
    /// The aggregation after `|`, if any.
    pub aggregation: Option<(Aggregation, Range<usize>)>,
}

type In<'a> = &'a str;

struct Ctx<'s> {
    src: &'s str,
}

impl<'s> Ctx<'s> {
    fn off(&self, rest: &str) -> usize {
        self.src.len() - rest.len()
    }
    fn err(&self, rest: &str, msg: impl Into<String>) -> ExprError {
        let o = self.off(rest);
        // Underline the whole offending token (a word, or one punctuation character).
        let word: usize = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '*' | '@' | '$'))
            .map(char::len_utf8)
            .sum();
        let end = o + if word > 0 {
            word
        } else {
            rest.chars().next().map_or(0, char::len_utf8)
        };
        ExprError {
            message: msg.into(),
            at: o..end,
            too_deep: false,
        }
    }
}

fn ws(i: In) -> In {
    multispace0::<_, nom::error::Error<&str>>(i)
        .map(|(r, _)| r)
        .unwrap_or(i)
}

fn word(i: In) -> IResult<In, In> {
    take_while1(|c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '*' | '@' | '$'))(i)
}

fn is_kw(w: &str, kw: &str) -> bool {
    w.eq_ignore_ascii_case(kw)
}

/// Checks nesting before parsing so deep input is refused without recursion.
fn check_depth(src: &str) -> Result<(), ExprError> {
    let mut depth = 0usize;
    let mut nots = 0usize;
    for (o, c) in src.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > MAX_DEPTH {
            return Err(ExprError {
                message: format!("expression nests deeper than {MAX_DEPTH} levels"),
                at: o..o + 1,
                too_deep: true,
            });
        }
    }
    for (o, w) in src
        .split_whitespace()
        .map(|w| (w.as_ptr() as usize - src.as_ptr() as usize, w))
    {
        if is_kw(w.trim_start_matches('('), "not") {
            nots += 1;
            if nots > MAX_DEPTH {
                return Err(ExprError {
                    message: format!("more than {MAX_DEPTH} `not` in a row"),
                    at: o..o + w.len(),
                    too_deep: true,
                });
            }
        } else {
            nots = 0;
        }
    }
    Ok(())
}

/// Parses a Sigma condition, including a Sigma 1.x `| aggregation` tail.
pub fn parse_condition(src: &str) -> Result<Condition, ExprError> {
    check_depth(src)?;
    let cx = Ctx { src };
    // A `|` inside a condition can only start the aggregation: identifiers cannot hold it.
    let (head, tail) = match src.find('|') {
        Some(p) => (&src[..p], Some(p)),
        None => (src, None),
    };
    let hcx = Ctx { src: head };
    let (rest, expr) = cond_or(&hcx, head)?;
    let rest = ws(rest);
    if !rest.is_empty() {
        return Err(hcx.err(
            rest,
            unexpected(rest, "`and`, `or` or the end of the condition"),
        ));
    }
    let aggregation = match tail {
        None => None,
        Some(p) => {
            let after = &src[p + 1..];
            let agg = aggregation(&cx, after)?;
            Some((agg, p..src.len()))
        }
    };
    Ok(Condition {
        text: src.to_string(),
        expr,
        aggregation,
    })
}

fn unexpected(rest: &str, wanted: &str) -> String {
    let tok: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace())
        .take(20)
        .collect();
    if tok.is_empty() {
        format!("unexpected end of expression; expected {wanted}")
    } else {
        format!("unexpected `{tok}`; expected {wanted}")
    }
}

fn cond_or<'a>(cx: &Ctx, i: In<'a>) -> Result<(In<'a>, Cond), ExprError> {
    let (mut i, first) = cond_and(cx, i)?;
    let mut items = vec![first];
    loop {
        let j = ws(i);
        match word(j) {
            Ok((r, w)) if is_kw(w, "or") => {
                let (r2, e) = cond_and(cx, r)?;
                items.push(e);
                i = r2;
            }
            _ => break,
        }
    }
    Ok((
        i,
        if items.len() == 1 {
            items.pop().unwrap_or(Cond::Or(vec![]))
        } else {
            Cond::Or(items)
        },
    ))
}

fn cond_and<'a>(cx: &Ctx, i: In<'a>) -> Result<(In<'a>, Cond), ExprError> {
    let (mut i, first) = cond_not(cx, i)?;
    let mut items = vec![first];
    loop {
        let j = ws(i);
        match word(j) {
            Ok((r, w)) if is_kw(w, "and") => {
                let (r2, e) = cond_not(cx, r)?;
                items.push(e);
                i = r2;
            }
            _ => break,
        }
    }
    Ok((
        i,
        if items.len() == 1 {
            items.pop().unwrap_or(Cond::And(vec![]))
        } else {
            Cond::And(items)
        },
    ))
}

fn cond_not<'a>(cx: &Ctx, i: In<'a>) -> Result<(In<'a>, Cond), ExprError> {
    let i = ws(i);
    if let Ok((r, w)) = word(i)
        && is_kw(w, "not")
    {
        let (r, e) = cond_not(cx, r)?;
        return Ok((r, Cond::Not(Box::new(e))));
    }
    cond_primary(cx, i)
}

fn cond_primary<'a>(cx: &Ctx, i: In<'a>) -> Result<(In<'a>, Cond), ExprError> {
    let i = ws(i);
    if let Ok((r, _)) = char::<_, nom::error::Error<&str>>('(').parse(i) {
        let (r, e) = cond_or(cx, r)?;
        let r = ws(r);
        return match char::<_, nom::error::Error<&str>>(')').parse(r) {
            Ok((r, _)) => Ok((r, e)),
            Err(_) => Err(cx.err(r, unexpected(r, "`)`"))),
        };
    }
    let start = cx.off(i);
    let Ok((r, w)) = word(i) else {
        return Err(cx.err(
            i,
            unexpected(i, "a search identifier, `not`, `(` or `1 of`/`all of`"),
        ));
    };
    for kw in ["and", "or", "of"] {
        if is_kw(w, kw) {
            return Err(cx.err(i, format!("`{w}` needs a search identifier before it")));
        }
    }
    let quant = if is_kw(w, "all") {
        Some(Quantifier::All)
    } else if is_kw(w, "any") || w == "1" {
        Some(Quantifier::Any)
    } else if let Ok(n) = w.parse::<u32>() {
        if n == 0 {
            None
        } else {
            Some(Quantifier::AtLeast(n))
        }
    } else {
        None
    };
    if let Some(quant) = quant {
        let r1 = ws(r);
        if let Ok((r2, of)) = word(r1)
            && is_kw(of, "of")
        {
            let r3 = ws(r2);
            let Ok((r4, t)) = word(r3) else {
                return Err(cx.err(
                    r3,
                    unexpected(r3, "`them` or a search identifier pattern after `of`"),
                ));
            };
            let target = if is_kw(t, "them") {
                OfTarget::Them
            } else {
                OfTarget::Pattern(t.to_string())
            };
            return Ok((
                r4,
                Cond::Of {
                    quant,
                    target,
                    at: start..cx.off(r4),
                },
            ));
        }
        // Without `of`, `all` or a number is a search identifier of that name.
    }
    if w.contains('*') {
        return Err(cx.err(
            i,
            format!("`{w}` is a pattern; patterns are only allowed after `1 of` or `all of`"),
        ));
    }
    Ok((
        r,
        Cond::Ident {
            name: w.to_string(),
            at: start..cx.off(r),
        },
    ))
}

fn cmp_op(i: In) -> IResult<In, CmpOp> {
    alt((
        tag(">=").map(|_| CmpOp::Gte),
        tag("<=").map(|_| CmpOp::Lte),
        tag("==").map(|_| CmpOp::Eq),
        tag("!=").map(|_| CmpOp::Neq),
        tag(">").map(|_| CmpOp::Gt),
        tag("<").map(|_| CmpOp::Lt),
        tag("=").map(|_| CmpOp::Eq),
    ))
    .parse(i)
}

fn number<'a>(cx: &Ctx, i: In<'a>) -> Result<(In<'a>, f64), ExprError> {
    let i = ws(i);
    let r: IResult<In, In> = recognize_float(i);
    match r {
        Ok((rest, t)) if !t.is_empty() => match t.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok((rest, v)),
            _ => Err(cx.err(i, format!("`{t}` is not a usable number"))),
        },
        _ => Err(cx.err(i, unexpected(i, "a number"))),
    }
}

fn field_name(i: In) -> IResult<In, In> {
    recognize(pair(
        take_while1(|c: char| c.is_alphanumeric() || matches!(c, '_' | '@' | '$')),
        take_while(|c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '@' | '$' | ':')),
    ))
    .parse(i)
}

fn agg_func(name: &str) -> Option<AggFunc> {
    Some(match name.to_ascii_lowercase().as_str() {
        "count" => AggFunc::Count,
        "distinct" | "dcount" | "distinct_count" => AggFunc::Distinct,
        "sum" => AggFunc::Sum,
        "min" => AggFunc::Min,
        "max" => AggFunc::Max,
        "avg" | "mean" => AggFunc::Avg,
        "percentile" => AggFunc::Percentile,
        _ => return None,
    })
}

/// Parses `name(args)`; shared by aggregate expressions and Sigma 1.x aggregations.
fn agg_call<'a>(cx: &Ctx, i: In<'a>, sigma1: bool) -> Result<(In<'a>, AggCall), ExprError> {
    let i = ws(i);
    let start = cx.off(i);
    let Ok((r, name)) = field_name(i) else {
        return Err(cx.err(
            i,
            unexpected(
                i,
                "an aggregate such as count(), distinct(field), sum(field)",
            ),
        ));
    };
    let Some(mut func) = agg_func(name) else {
        return Err(ExprError {
            message: format!(
                "unknown aggregate `{name}`; known: count, distinct, sum, min, max, avg, percentile"
            ),
            at: start..start + name.len(),
            too_deep: false,
        });
    };
    let r = ws(r);
    let Ok((r, _)) = char::<_, nom::error::Error<&str>>('(').parse(r) else {
        return Err(cx.err(r, unexpected(r, "`(` after the aggregate name")));
    };
    let r = ws(r);
    let (r, field) = match field_name(r) {
        Ok((r, f)) => (r, Some(f.to_string())),
        Err(_) => (r, None),
    };
    let r = ws(r);
    let (r, rank) = match char::<_, nom::error::Error<&str>>(',').parse(r) {
        Ok((r, _)) => {
            let (r, v) = number(cx, r)?;
            (r, Some(v))
        }
        Err(_) => (r, None),
    };
    let r = ws(r);
    let Ok((r, _)) = char::<_, nom::error::Error<&str>>(')').parse(r) else {
        return Err(cx.err(r, unexpected(r, "`)` closing the aggregate")));
    };
    let at = start..cx.off(r);
    if sigma1 && func == AggFunc::Count && field.is_some() {
        // Sigma 1.x: count(field) counts the distinct values of the field.
        func = AggFunc::Distinct;
    }
    let bad = |m: String| {
        Err(ExprError {
            message: m,
            at: at.clone(),
            too_deep: false,
        })
    };
    match func {
        AggFunc::Count if field.is_some() => {
            return bad(
                "`count()` takes no field; use `distinct(field)` to count distinct values".into(),
            );
        }
        AggFunc::Count => {}
        _ if field.is_none() => return bad(format!("`{}` needs a field argument", func.name())),
        _ => {}
    }
    match (func, rank) {
        (AggFunc::Percentile, None) => {
            return bad("`percentile(field, rank)` needs a rank between 0 and 100".into());
        }
        (AggFunc::Percentile, Some(p)) if !(0.0..=100.0).contains(&p) => {
            return bad(format!("percentile rank {p} is outside 0..100"));
        }
        (AggFunc::Percentile, _) | (_, None) => {}
        (_, Some(_)) => return bad(format!("`{}` takes one argument", func.name())),
    }
    Ok((
        r,
        AggCall {
            func,
            field,
            rank,
            at,
        },
    ))
}

fn aggregation<'a>(cx: &Ctx, i: In<'a>) -> Result<Aggregation, ExprError> {
    let i = ws(i);
    if let Ok((r, w)) = word(i)
        && is_kw(w, "near")
    {
        let (r, expr) = cond_or(cx, r)?;
        let r = ws(r);
        if !r.is_empty() {
            return Err(cx.err(r, unexpected(r, "the end of the `near` clause")));
        }
        return Ok(Aggregation::Near { expr });
    }
    let (r, call) = agg_call(cx, i, true)?;
    let r = ws(r);
    let (r, group_by) = match word(r) {
        Ok((r2, w)) if is_kw(w, "by") => {
            let r2 = ws(r2);
            match field_name(r2) {
                Ok((r3, f)) => (r3, Some(f.to_string())),
                Err(_) => return Err(cx.err(r2, unexpected(r2, "a field name after `by`"))),
            }
        }
        _ => (r, None),
    };
    let r = ws(r);
    let Ok((r, op)) = cmp_op(r) else {
        return Err(cx.err(r, unexpected(r, "a comparison such as `> 5`")));
    };
    let (r, value) = number(cx, r)?;
    let r = ws(r);
    if !r.is_empty() {
        return Err(cx.err(r, unexpected(r, "the end of the aggregation")));
    }
    Ok(Aggregation::Stat {
        call,
        group_by,
        op,
        value,
    })
}

/// Parses an aggregate expression: comparisons of aggregates joined by and/or/not.
pub fn parse_agg_expr(src: &str) -> Result<AggExpr, ExprError> {
    check_depth(src)?;
    let cx = Ctx { src };
    let (r, e) = agg_or(&cx, src)?;
    let r = ws(r);
    if !r.is_empty() {
        return Err(cx.err(r, unexpected(r, "`and`, `or` or the end of the expression")));
    }
    Ok(e)
}

fn agg_or<'a>(cx: &Ctx, i: In<'a>) -> Result<(In<'a>, AggExpr), ExprError> {
    let (mut i, first) = agg_and(cx, i)?;
    let mut items = vec![first];
    while let Ok((r, w)) = word(ws(i)) {
        if !is_kw(w, "or") {
            break;
        }
        let (r2, e) = agg_and(cx, r)?;
        items.push(e);
        i = r2;
    }
    Ok((
        i,
        if items.len() == 1 {
            items.pop().unwrap_or(AggExpr::Or(vec![]))
        } else {
            AggExpr::Or(items)
        },
    ))
}

fn agg_and<'a>(cx: &Ctx, i: In<'a>) -> Result<(In<'a>, AggExpr), ExprError> {
    let (mut i, first) = agg_not(cx, i)?;
    let mut items = vec![first];
    while let Ok((r, w)) = word(ws(i)) {
        if !is_kw(w, "and") {
            break;
        }
        let (r2, e) = agg_not(cx, r)?;
        items.push(e);
        i = r2;
    }
    Ok((
        i,
        if items.len() == 1 {
            items.pop().unwrap_or(AggExpr::And(vec![]))
        } else {
            AggExpr::And(items)
        },
    ))
}

fn agg_not<'a>(cx: &Ctx, i: In<'a>) -> Result<(In<'a>, AggExpr), ExprError> {
    let i = ws(i);
    if let Ok((r, w)) = word(i)
        && is_kw(w, "not")
    {
        let (r, e) = agg_not(cx, r)?;
        return Ok((r, AggExpr::Not(Box::new(e))));
    }
    if let Ok((r, _)) = char::<_, nom::error::Error<&str>>('(').parse(i) {
        let (r, e) = agg_or(cx, r)?;
        let r = ws(r);
        return match char::<_, nom::error::Error<&str>>(')').parse(r) {
            Ok((r, _)) => Ok((r, e)),
            Err(_) => Err(cx.err(r, unexpected(r, "`)`"))),
        };
    }
    let start = cx.off(i);
    let (r, call) = agg_call(cx, i, false)?;
    let r = ws(r);
    let Ok((r, op)) = cmp_op(r) else {
        return Err(cx.err(r, unexpected(r, "a comparison such as `>= 10`")));
    };
    let (r, value) = number(cx, r)?;
    Ok((
        r,
        AggExpr::Cmp {
            call,
            op,
            value,
            at: start..cx.off(r),
        },
    ))
}

/// Converts a byte range of `text` to character offsets, for placing it in a span.
pub fn char_range(text: &str, r: &Range<usize>) -> (usize, usize) {
    let to_chars = |o: usize| {
        text.get(..o.min(text.len()))
            .map_or(0, |s| s.chars().count())
    };
    let a = to_chars(r.start);
    (a, to_chars(r.end).max(a + 1))
}

/// Parses one aggregate call with nothing around it (`values(api)` is not one; see outputs).
pub fn parse_agg_call(src: &str) -> Result<AggCall, ExprError> {
    let cx = Ctx { src };
    let (r, c) = agg_call(&cx, src, false)?;
    let r = ws(r);
    if !r.is_empty() {
        return Err(cx.err(r, unexpected(r, "the end of the aggregate")));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident(n: &str) -> impl Fn(&Cond) -> bool + '_ {
        move |c| matches!(c, Cond::Ident { name, .. } if name == n)
    }

    #[test]
    fn precedence_is_not_and_or() {
        let c = parse_condition("a or not b and c").unwrap().expr;
        let Cond::Or(items) = c else { panic!("{c:?}") };
        assert!(ident("a")(&items[0]));
        let Cond::And(rhs) = &items[1] else { panic!() };
        assert!(matches!(&rhs[0], Cond::Not(_)));
        assert!(ident("c")(&rhs[1]));
    }

    #[test]
    fn of_forms() {
        let c = parse_condition("1 of sel_* and not all of them")
            .unwrap()
            .expr;
        let Cond::And(items) = c else { panic!() };
        assert!(
            matches!(&items[0], Cond::Of { quant: Quantifier::Any, target: OfTarget::Pattern(p), .. } if p == "sel_*")
        );
    }

    #[test]
    fn sigma1_aggregation() {
        let c = parse_condition("selection | count(TargetUserName) by IpAddress > 10").unwrap();
        let Some((
            Aggregation::Stat {
                call,
                group_by,
                op,
                value,
            },
            _,
        )) = c.aggregation
        else {
            panic!()
        };
        assert_eq!(call.func, AggFunc::Distinct);
        assert_eq!(group_by.as_deref(), Some("IpAddress"));
        assert_eq!((op, value), (CmpOp::Gt, 10.0));
    }

    #[test]
    fn errors_point_at_the_token() {
        let e = parse_condition("sel and and x").unwrap_err();
        assert_eq!(e.at.start, 8);
        let e = parse_condition("(sel or x").unwrap_err();
        assert!(e.message.contains("`)`"), "{}", e.message);
    }

    #[test]
    fn deep_nesting_is_refused_cleanly() {
        let s = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse_condition(&s).unwrap_err().too_deep);
        let s = format!("{}a", "not ".repeat(10_000));
        assert!(parse_condition(&s).unwrap_err().too_deep);
        let s = format!("{}count() > 1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse_agg_expr(&s).unwrap_err().too_deep);
    }

    #[test]
    fn agg_expr() {
        let e = parse_agg_expr("count() >= 10 or distinct(eventName) >= 5").unwrap();
        assert!(matches!(e, AggExpr::Or(ref v) if v.len() == 2));
        assert!(parse_agg_expr("percentile(bytes, 95) > 1000").is_ok());
        assert!(parse_agg_expr("count(x) > 1").is_err());
        assert!(parse_agg_expr("sum() > 1").is_err());
    }
}
