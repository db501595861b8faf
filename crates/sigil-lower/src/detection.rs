//! Lowers a detection (named searches plus condition) to one expression: modifiers become
//! explicit predicates, identifiers and `x of` patterns are resolved.

use crate::Sink;
use crate::values::{self, Piece, Utf16};
use sigil_diagnostics::{Code, Span};
use sigil_ir::{
    Case, CmpOp, Expr, PlaceholderPart, Predicate, RefMatch, RegexFlags, Target, Test, TimePart,
    Value,
};
use sigil_syntax::ast::{DetectionAst, FieldMatch, ListItem, ScalarAst, SearchAst, ValueAst};
use sigil_syntax::expr::{Cond, OfTarget, Quantifier};
use std::collections::BTreeMap;

/// Most bytes of values that the modifiers of one document may add to the values as written
/// (windash variants, encodings of encodings). Past it the document is refused rather than
/// exhausting time and memory: windash alone makes up to 5^6 variants of one value. The
/// largest SigmaHQ rule adds about 2 KiB.
pub(crate) const MAX_GENERATED_BYTES: usize = 32 << 10;

/// Literal bytes of a value (plus one, so that no value weighs nothing); wildcards added
/// by contains/startswith/endswith weigh nothing.
fn piece_size(p: &Piece) -> usize {
    1 + match p {
        Piece::Bytes(b) => b.len(),
        Piece::Parts(x) => x
            .iter()
            .map(|p| match p {
                PlaceholderPart::Seg(sigil_ir::Seg::Lit(l)) | PlaceholderPart::Name(l) => l.len(),
                PlaceholderPart::Seg(_) => 0,
            })
            .sum(),
    }
}

/// Field modifiers of Sigma 2.x.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Modifier {
    Contains,
    StartsWith,
    EndsWith,
    All,
    Base64,
    Base64Offset,
    Utf16(Utf16),
    Windash,
    Re,
    ReFlag(char),
    Cidr,
    Cmp(CmpOp),
    Exists,
    Cased,
    Expand,
    FieldRef,
    Neq,
    Time(TimePart),
}

const KNOWN: &str = "contains, startswith, endswith, all, base64, base64offset, utf16le, utf16be, utf16, wide, windash, re, i, m, s, cidr, lt, lte, gt, gte, exists, cased, expand, fieldref, neq, minute, hour, day, week, month, year, element";

fn modifier(name: &str) -> Option<Modifier> {
    use Modifier::*;
    Some(match name {
        "contains" => Contains,
        "startswith" => StartsWith,
        "endswith" => EndsWith,
        "all" => All,
        "base64" => Base64,
        "base64offset" => Base64Offset,
        "utf16le" | "wide" => Utf16(values::Utf16::Le),
        "utf16be" => Utf16(values::Utf16::Be),
        "utf16" => Utf16(values::Utf16::Bom),
        "windash" => Windash,
        "re" => Re,
        "i" | "ignorecase" => ReFlag('i'),
        "m" | "multiline" => ReFlag('m'),
        "s" | "dotall" => ReFlag('s'),
        "cidr" => Cidr,
        "lt" => Cmp(CmpOp::Lt),
        "lte" => Cmp(CmpOp::Lte),
        "gt" => Cmp(CmpOp::Gt),
        "gte" => Cmp(CmpOp::Gte),
        "exists" => Exists,
        "cased" => Cased,
        "expand" => Expand,
        "fieldref" => FieldRef,
        "neq" => Neq,
        "minute" => Time(TimePart::Minute),
        "hour" => Time(TimePart::Hour),
        "day" => Time(TimePart::Day),
        "week" => Time(TimePart::Week),
        "month" => Time(TimePart::Month),
        "year" => Time(TimePart::Year),
        _ => return None,
    })
}

/// Lowers a detection to one expression. `path` is the YAML path of the detection.
pub(crate) fn lower_detection(sink: &mut Sink, d: &DetectionAst, path: &str) -> Option<Expr> {
    let mut searches: BTreeMap<&str, (usize, Option<Expr>)> = BTreeMap::new();
    for (i, s) in d.searches.iter().enumerate() {
        let p = format!("{path}.{}", s.name);
        let e = lower_search(sink, &s.search, &p);
        searches.insert(s.name.as_str(), (i, e));
    }
    let order: Vec<&str> = d.searches.iter().map(|s| s.name.as_str()).collect();
    let mut used = vec![false; order.len()];
    let mut alts = Vec::new();
    let mut ok = true;
    for c in &d.conditions {
        let mut r = Resolver {
            sink,
            searches: &searches,
            order: &order,
            used: &mut used,
            span: c.span,
            path: format!("{path}.condition"),
            text: &c.value.text,
        };
        match r.cond(&c.value.expr) {
            Some(e) => alts.push(e),
            None => ok = false,
        }
    }
    for (i, s) in d.searches.iter().enumerate() {
        if !used[i] && !d.conditions.is_empty() && !d.condition_failed {
            sink.diag(
                Code::UnusedIdentifier,
                format!(
                    "search `{}` is defined but the condition never uses it",
                    s.name
                ),
                s.name_span,
                &format!("{path}.{}", s.name),
            )
            .hints
            .push(
                "remove it, or use it in the condition (a leading `_` also keeps it out of `them`)"
                    .into(),
            );
        }
    }
    if !ok || d.conditions.is_empty() || searches.values().any(|(_, e)| e.is_none()) {
        return None;
    }
    Some(Expr::or(alts))
}

struct Resolver<'a, 's> {
    sink: &'a mut Sink,
    searches: &'a BTreeMap<&'s str, (usize, Option<Expr>)>,
    order: &'a [&'s str],
    used: &'a mut Vec<bool>,
    span: Option<Span>,
    path: String,
    text: &'a str,
}

/// Matches an identifier against an `x of` pattern with `*` wildcards.
fn glob(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let mut rest = name;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(p) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(p);
        } else {
            match rest.find(p) {
                Some(pos) => rest = &rest[pos + p.len()..],
                None => return false,
            }
        }
    }
    true
}

impl Resolver<'_, '_> {
    fn cond(&mut self, c: &Cond) -> Option<Expr> {
        match c {
            Cond::Ident { name, at } => match self.searches.get(name.as_str()) {
                Some((i, e)) => {
                    let again = std::mem::replace(&mut self.used[*i], true);
                    let e = e.as_ref()?;
                    if again {
                        self.copy(e)?;
                    }
                    Some(e.clone())
                }
                None => {
                    let near = closest(name, self.order);
                    let (a, b) = sigil_syntax::expr::char_range(self.text, at);
                    let sp = self.span.map(|s| s.sub(a, b));
                    let d = self.sink.diag(
                        Code::UndefinedIdentifier,
                        format!(
                            "the condition names `{name}`, which the detection does not define"
                        ),
                        sp,
                        &self.path,
                    );
                    match near {
                        Some(n) => d.hints.push(format!("did you mean `{n}`?")),
                        None => d
                            .hints
                            .push(format!("defined searches: {}", self.order.join(", "))),
                    }
                    None
                }
            },
            Cond::Of { quant, target, at } => {
                let names: Vec<usize> = self
                    .order
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| match target {
                        OfTarget::Them => !n.starts_with('_'),
                        OfTarget::Pattern(p) => {
                            glob(p, n) && (!n.starts_with('_') || p.starts_with('_'))
                        }
                    })
                    .map(|(i, _)| i)
                    .collect();
                if names.is_empty() {
                    let what = match target {
                        OfTarget::Them => "`them`".to_string(),
                        OfTarget::Pattern(p) => format!("`{p}`"),
                    };
                    let (a, b) = sigil_syntax::expr::char_range(self.text, at);
                    let sp = self.span.map(|s| s.sub(a, b));
                    self.sink
                        .diag(
                            Code::PatternMatchesNothing,
                            format!("{what} matches no search identifier"),
                            sp,
                            &self.path,
                        )
                        .hints
                        .push(format!("defined searches: {}", self.order.join(", ")));
                    return None;
                }
                let mut items = Vec::new();
                for i in names {
                    let again = std::mem::replace(&mut self.used[i], true);
                    let e = self
                        .searches
                        .get(self.order[i])
                        .and_then(|(_, e)| e.as_ref())?;
                    if again {
                        self.copy(e)?;
                    }
                    items.push(e.clone());
                }
                Some(match quant {
                    Quantifier::Any => Expr::or(items),
                    Quantifier::All => Expr::and(items),
                    Quantifier::AtLeast(n) => at_least(*n as usize, items, self)?,
                })
            }
            Cond::Not(x) => Some(Expr::negate(self.cond(x)?)),
            Cond::And(v) => {
                let items: Vec<Option<Expr>> = v.iter().map(|x| self.cond(x)).collect();
                Some(Expr::and(items.into_iter().collect::<Option<Vec<_>>>()?))
            }
            Cond::Or(v) => {
                let items: Vec<Option<Expr>> = v.iter().map(|x| self.cond(x)).collect();
                Some(Expr::or(items.into_iter().collect::<Option<Vec<_>>>()?))
            }
        }
    }
}

impl Resolver<'_, '_> {
    /// Accounts for one more copy of a search the condition already used: naming searches
    /// again and again (`s or s or …`, `6 of x*` makes 924 × 6 copies) multiplied them
    /// without bound.
    fn copy(&mut self, e: &Expr) -> Option<()> {
        let spent = self.sink.embedded.saturating_add(expr_nodes(e));
        if spent > MAX_COPIED_NODES {
            self.sink
                .diag(
                    Code::ConditionSyntax,
                    format!(
                        "the condition copies its searches into more than {MAX_COPIED_NODES} expression nodes"
                    ),
                    self.span,
                    &self.path,
                )
                .hints
                .push("name each search fewer times, or use `N of` over fewer searches".into());
            return None;
        }
        self.sink.embedded = spent;
        Some(())
    }
}

/// Most expression nodes a condition may copy beyond the first use of each search.
const MAX_COPIED_NODES: usize = 20_000;

/// Expression nodes of an expression.
fn expr_nodes(e: &Expr) -> usize {
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().map(expr_nodes).fold(1, usize::saturating_add),
        Expr::Not(e) => 1 + expr_nodes(e),
        Expr::Pred(_) | Expr::Const(_) => 1,
    }
}

/// `N of` as an OR of the AND of every N-subset; refused when that would be huge.
fn at_least(n: usize, items: Vec<Expr>, r: &mut Resolver) -> Option<Expr> {
    if n > items.len() {
        return Some(Expr::Const(false));
    }
    if items.len() > 12 {
        r.sink.diag(
            Code::ConditionSyntax,
            format!("`{n} of` over {} searches expands too far", items.len()),
            r.span,
            &r.path,
        );
        return None;
    }
    let mut alts = Vec::new();
    let k = items.len();
    for mask in 0u32..(1 << k) {
        if mask.count_ones() as usize == n {
            for i in (0..k).filter(|i| mask & (1 << i) != 0) {
                r.copy(&items[i])?;
            }
            alts.push(Expr::and(
                (0..k)
                    .filter(|i| mask & (1 << i) != 0)
                    .map(|i| items[i].clone())
                    .collect(),
            ));
        }
    }
    Some(Expr::or(alts))
}

/// The defined name closest to a misspelt one (edit distance at most 2).
fn closest<'a>(name: &str, names: &[&'a str]) -> Option<&'a str> {
    names
        .iter()
        .map(|n| (edit_distance(name, n), *n))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

fn lower_search(sink: &mut Sink, s: &SearchAst, path: &str) -> Option<Expr> {
    match s {
        SearchAst::Map(fields) => lower_map(sink, fields, path),
        SearchAst::List(items) => {
            let mut alts = Vec::new();
            let mut ok = true;
            for (i, it) in items.iter().enumerate() {
                let ip = format!("{path}[{i}]");
                let e = match it {
                    ListItem::Map(fields, _) => lower_map(sink, fields, &ip),
                    ListItem::Keyword(v) => keyword(sink, v, &ip, Case::Insensitive),
                };
                match e {
                    Some(e) => alts.push(e),
                    None => ok = false,
                }
            }
            if items.is_empty() {
                return None;
            }
            ok.then(|| Expr::or(alts))
        }
    }
}

fn keyword(sink: &mut Sink, v: &ValueAst, path: &str, case: Case) -> Option<Expr> {
    let text = match &v.value {
        ScalarAst::Str(s) => s.clone(),
        ScalarAst::Int(i) => i.to_string(),
        ScalarAst::Float(f) => float_text(*f),
        other => {
            sink.diag(
                Code::InvalidModifierValue,
                format!("a keyword must be a string or number, found {other:?}"),
                v.span,
                path,
            );
            return None;
        }
    };
    // A keyword is found anywhere in any string of the event.
    let mut parts = vec![PlaceholderPart::Seg(sigil_ir::Seg::Any)];
    parts.extend(values::parse_value(&text, false));
    parts.push(PlaceholderPart::Seg(sigil_ir::Seg::Any));
    let pattern = values::to_pattern(&values::normalise(parts))?;
    Some(Expr::Pred(Predicate {
        target: Target::Keywords,
        test: Test::Pattern(pattern, case),
        span: v.span,
    }))
}

fn lower_map(sink: &mut Sink, fields: &[FieldMatch], path: &str) -> Option<Expr> {
    let mut items = Vec::new();
    let mut ok = true;
    for f in fields {
        let p = format!("{path}.{}", key_text(f));
        match lower_field(sink, f, &p) {
            Some(e) => items.push(e),
            None => ok = false,
        }
    }
    if fields.is_empty() {
        return None;
    }
    ok.then(|| Expr::and(items))
}

fn key_text(f: &FieldMatch) -> String {
    let mut s = f.field.clone().unwrap_or_default();
    for m in &f.modifiers {
        s.push('|');
        s.push_str(&m.value);
    }
    s
}

fn lower_field(sink: &mut Sink, f: &FieldMatch, path: &str) -> Option<Expr> {
    let is_element = f.modifiers.iter().any(|m| m.value == "element");
    if let Some(inner) = &f.element {
        let (Some(field), true) = (&f.field, f.modifiers.len() == 1) else {
            sink.diag(
                Code::IncompatibleModifiers,
                "`element` takes a field name and no other modifier",
                f.key_span,
                path,
            )
            .hints
            .push(
                "write `Array|element:` with a mapping of the element's field matches below it"
                    .into(),
            );
            return None;
        };
        let e = lower_map(sink, inner, path)?;
        return Some(pred(
            Target::Field(field.clone()),
            Test::Element(Box::new(e)),
            f.key_span,
        ));
    }
    if is_element {
        sink.diag(
            Code::InvalidModifierValue,
            "`element` takes a mapping of field matches",
            f.value_span.or(f.key_span),
            path,
        )
        .hints
        .push("e.g. `AdditionalDetails|element: {key: UserAgent, value|contains: python}`".into());
        return None;
    }
    let mut mods = Vec::new();
    let mut bad = false;
    for m in &f.modifiers {
        match modifier(&m.value) {
            Some(x) => mods.push((x, m.span)),
            None => {
                let near =
                    closest(&m.value, &KNOWN.split(", ").collect::<Vec<_>>()).map(str::to_owned);
                let d = sink.diag(
                    Code::UnknownModifier,
                    format!("unknown modifier `{}`", m.value),
                    m.span.or(f.key_span),
                    path,
                );
                match near {
                    Some(n) => d.hints.push(format!("did you mean `{n}`?")),
                    None => d.hints.push(format!("known modifiers: {KNOWN}")),
                }
                bad = true;
            }
        }
    }
    if bad {
        return None;
    }
    let has = |m: Modifier| mods.iter().any(|(x, _)| *x == m);
    let target = match &f.field {
        Some(name) => Target::Field(name.clone()),
        None => Target::Keywords,
    };
    let incompatible = |sink: &mut Sink, msg: String, hint: &str| {
        sink.diag(Code::IncompatibleModifiers, msg, f.key_span, path)
            .hints
            .push(hint.into());
    };
    if f.values.is_empty() {
        sink.diag(
            Code::EmptySearch,
            "an empty value list can never match",
            f.value_span.or(f.key_span),
            path,
        )
        .hints
        .push("give at least one value".into());
        return None;
    }
    let all = has(Modifier::All);
    let neq = has(Modifier::Neq);
    if all && f.values.len() < 2 {
        sink.diag(
            Code::InvalidModifierValue,
            "`all` needs a list of at least two values",
            f.value_span,
            path,
        )
        .hints
        .push("drop `|all`, or list the values that must all match".into());
        return None;
    }
    let null_in_list = f.values.iter().find(|v| v.value == ScalarAst::Null);
    if let (true, Some(null)) = (f.values.len() > 1, null_in_list) {
        sink.diag(
            Code::InvalidModifierValue,
            "`null` cannot be one of several values",
            null.span.or(f.value_span),
            path,
        )
        .hints
        .push(
            "put `field: null` in a search of its own and combine the searches with `1 of`".into(),
        );
        return None;
    }
    // Modifiers that define the whole test and take no others (besides all/neq where meaningful).
    let core: Vec<Modifier> = mods
        .iter()
        .map(|(m, _)| *m)
        .filter(|m| !matches!(m, Modifier::All | Modifier::Neq))
        .collect();
    let combine = |items: Vec<Expr>| -> Expr {
        let e = if all {
            Expr::and(items)
        } else {
            Expr::or(items)
        };
        if neq { Expr::negate(e) } else { e }
    };
    if target == Target::Keywords
        && core.iter().any(|m| {
            !matches!(
                m,
                Modifier::Contains
                    | Modifier::StartsWith
                    | Modifier::EndsWith
                    | Modifier::Cased
                    | Modifier::Windash
                    | Modifier::Base64
                    | Modifier::Base64Offset
                    | Modifier::Utf16(_)
            )
        })
    {
        incompatible(
            sink,
            "keyword searches take only string modifiers".into(),
            "field-level modifiers such as re, cidr or exists need a field name",
        );
        return None;
    }

    if core.contains(&Modifier::Exists) {
        if core.len() > 1 || all || neq {
            incompatible(
                sink,
                "`exists` cannot be combined with other modifiers".into(),
                "write `Field|exists: true` or `false` alone",
            );
            return None;
        }
        return match (&f.values[..], &target) {
            (
                [
                    ValueAst {
                        value: ScalarAst::Bool(b),
                        ..
                    },
                ],
                Target::Field(_),
            ) => Some(pred(target, Test::Exists(*b), f.values[0].span)),
            _ => {
                sink.diag(
                    Code::InvalidModifierValue,
                    "`exists` takes `true` or `false`",
                    f.value_span,
                    path,
                )
                .hints
                .push(
                    "write `Field|exists: true` (present) or `Field|exists: false` (absent)".into(),
                );
                None
            }
        };
    }

    if core.contains(&Modifier::Cidr) {
        if core.len() > 1 {
            incompatible(
                sink,
                "`cidr` cannot be combined with other value modifiers".into(),
                "only `all`/`neq` may accompany `cidr`",
            );
            return None;
        }
        let mut items = Vec::new();
        for v in &f.values {
            let text = scalar_string(v)?;
            let net = text
                .parse::<ipnet::IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
            match net {
                Ok(n) => items.push(pred(target.clone(), Test::Cidr(n.trunc()), v.span)),
                Err(_) => {
                    sink.diag(
                        Code::InvalidCidr,
                        format!("`{text}` is not an IPv4 or IPv6 network"),
                        v.span,
                        path,
                    )
                    .hints
                    .push("write networks as address/prefix, e.g. 10.0.0.0/8 or fd00::/8".into());
                    return None;
                }
            }
        }
        return Some(combine(items));
    }

    let time = core.iter().find_map(|m| {
        if let Modifier::Time(t) = m {
            Some(*t)
        } else {
            None
        }
    });
    let cmp = core.iter().find_map(|m| {
        if let Modifier::Cmp(o) = m {
            Some(*o)
        } else {
            None
        }
    });
    if time.is_some() || cmp.is_some() {
        let allowed = core
            .iter()
            .all(|m| matches!(m, Modifier::Time(_) | Modifier::Cmp(_)));
        let n_time = core
            .iter()
            .filter(|m| matches!(m, Modifier::Time(_)))
            .count();
        let n_cmp = core
            .iter()
            .filter(|m| matches!(m, Modifier::Cmp(_)))
            .count();
        if !allowed || n_time > 1 || n_cmp > 1 {
            incompatible(
                sink,
                "numeric comparisons combine only with one time-part modifier".into(),
                "e.g. `Field|gt: 5` or `EventTime|hour|gte: 22`",
            );
            return None;
        }
        let mut items = Vec::new();
        for v in &f.values {
            let Some(n) = scalar_number(v) else {
                sink.diag(
                    Code::InvalidModifierValue,
                    format!("`{}` needs a number", key_text(f)),
                    v.span,
                    path,
                )
                .hints
                .push("comparisons take numbers (or numeric strings); use a string modifier to match text".into());
                return None;
            };
            let test = match time {
                Some(t) => {
                    if n.fract() != 0.0 {
                        sink.diag(
                            Code::InvalidModifierValue,
                            "time parts are whole numbers",
                            v.span,
                            path,
                        );
                        return None;
                    }
                    Test::TimePart(t, cmp.unwrap_or(CmpOp::Eq), n as i64)
                }
                None => Test::Cmp(cmp.unwrap_or(CmpOp::Eq), n),
            };
            items.push(pred(target.clone(), test, v.span));
        }
        return Some(combine(items));
    }

    let cased = core.contains(&Modifier::Cased);
    let case = if cased {
        Case::Sensitive
    } else {
        Case::Insensitive
    };

    if core.contains(&Modifier::Re) {
        let mut flags = RegexFlags::default();
        let mut seen_re = false;
        for (m, _) in &mods {
            match m {
                Modifier::Re => seen_re = true,
                Modifier::ReFlag(c) if seen_re => match c {
                    'i' => flags.ignore_case = true,
                    'm' => flags.multi_line = true,
                    _ => flags.dot_all = true,
                },
                Modifier::ReFlag(_) | Modifier::All | Modifier::Neq => {}
                other => {
                    incompatible(
                        sink,
                        format!("`re` cannot be combined with `{}`", modifier_name(*other)),
                        "regexes take only the flags i, m and s (after `re`), `all` and `neq`",
                    );
                    return None;
                }
            }
        }
        if mods
            .iter()
            .position(|(m, _)| matches!(m, Modifier::ReFlag(_)))
            < mods.iter().position(|(m, _)| *m == Modifier::Re)
            && mods.iter().any(|(m, _)| matches!(m, Modifier::ReFlag(_)))
        {
            incompatible(
                sink,
                "regex flags must follow `re`".into(),
                "write `Field|re|i`",
            );
            return None;
        }
        let mut items = Vec::new();
        for v in &f.values {
            let text = scalar_string(v)?;
            let mut prefix = String::new();
            if flags.ignore_case || flags.multi_line || flags.dot_all {
                prefix.push_str("(?");
                if flags.ignore_case {
                    prefix.push('i');
                }
                if flags.multi_line {
                    prefix.push('m');
                }
                if flags.dot_all {
                    prefix.push('s');
                }
                prefix.push(')');
            }
            if let Err(e) = check_regex(&format!("{prefix}{text}")) {
                sink.diag(
                    Code::InvalidRegex,
                    format!("invalid regular expression: {}", first_line(&e)),
                    v.span,
                    path,
                )
                .hints
                .push(
                    "Sigma regexes use PCRE syntax; escape literal metacharacters with `\\`".into(),
                );
                return None;
            }
            items.push(pred(target.clone(), Test::Regex(text, flags), v.span));
        }
        return Some(combine(items));
    }
    if core.iter().any(|m| matches!(m, Modifier::ReFlag(_))) {
        incompatible(
            sink,
            "the flags i, m and s belong to `re`".into(),
            "write `Field|re|i: ...`",
        );
        return None;
    }

    if core.contains(&Modifier::FieldRef) {
        let mut how = RefMatch::Equals;
        for m in &core {
            how = match m {
                Modifier::FieldRef | Modifier::Cased => how,
                Modifier::Contains => RefMatch::Contains,
                Modifier::StartsWith => RefMatch::StartsWith,
                Modifier::EndsWith => RefMatch::EndsWith,
                other => {
                    incompatible(
                        sink,
                        format!(
                            "`fieldref` cannot be combined with `{}`",
                            modifier_name(*other)
                        ),
                        "fieldref takes contains, startswith, endswith, cased, all and neq",
                    );
                    return None;
                }
            };
        }
        let mut items = Vec::new();
        for v in &f.values {
            let other = scalar_string(v)?;
            if other.contains('*') || other.is_empty() {
                sink.diag(
                    Code::InvalidModifierValue,
                    "`fieldref` takes a plain field name",
                    v.span,
                    path,
                );
                return None;
            }
            items.push(pred(
                target.clone(),
                Test::FieldRef(other, how, case),
                v.span,
            ));
        }
        return Some(combine(items));
    }

    // String pipeline: every remaining modifier transforms the values in written order.
    let wrappers = core
        .iter()
        .filter(|m| {
            matches!(
                m,
                Modifier::Contains | Modifier::StartsWith | Modifier::EndsWith
            )
        })
        .count();
    if wrappers > 1 {
        incompatible(
            sink,
            "use only one of contains, startswith and endswith".into(),
            "write the pattern with `*` wildcards instead, e.g. `abc*xyz`",
        );
        return None;
    }
    let expand = core.contains(&Modifier::Expand);
    let encodes = core.iter().any(|m| {
        matches!(
            m,
            Modifier::Base64 | Modifier::Base64Offset | Modifier::Utf16(_)
        )
    });
    if expand && (encodes || core.contains(&Modifier::Windash)) {
        incompatible(
            sink,
            "`expand` cannot be combined with encodings or windash".into(),
            "placeholders are resolved at compile time, after encodings would have run",
        );
        return None;
    }
    if core.is_empty() || core.iter().all(|m| matches!(m, Modifier::Cased)) {
        // Plain values: numbers, booleans and null keep their type.
        let mut items = Vec::new();
        for v in &f.values {
            let test = match &v.value {
                ScalarAst::Null => Test::Null,
                ScalarAst::Bool(b) => Test::Eq(Value::Bool(*b), case),
                ScalarAst::Int(i) => Test::Eq(Value::Int(*i), case),
                ScalarAst::Float(x) => Test::Eq(Value::Float(*x), case),
                ScalarAst::Str(s) => string_test(values::parse_value(s, false), case),
            };
            if target == Target::Keywords {
                items.push(keyword(sink, v, path, case)?);
            } else {
                items.push(pred(target.clone(), test, v.span));
            }
        }
        return Some(combine(items));
    }
    let mut items = Vec::new();
    for v in &f.values {
        let Some(text) = scalar_text(v) else {
            sink.diag(
                Code::InvalidModifierValue,
                format!("`{}` needs a string value", key_text(f)),
                v.span,
                path,
            );
            return None;
        };
        let mut pieces = vec![Piece::Parts(values::parse_value(&text, expand))];
        let written = piece_size(&pieces[0]);
        for (m, mspan) in &mods {
            let mspan = mspan.or(f.key_span);
            let mut next = Vec::with_capacity(pieces.len());
            let mut size = 0usize;
            for p in pieces {
                let before = next.len();
                // windash makes 5^positions variants of a value: weigh them before making them.
                let bound = match (m, &p) {
                    (Modifier::Windash, Piece::Parts(x)) => {
                        let n = values::windash_positions(x).min(values::WINDASH_MAX_POSITIONS);
                        piece_size(&p).saturating_mul(values::DASHES.len().pow(n as u32))
                    }
                    _ => 0,
                };
                let added = size.saturating_add(bound).saturating_sub(written);
                if sink.generated.saturating_add(added) > MAX_GENERATED_BYTES {
                    too_large(sink, v.span, path);
                    return None;
                }
                match (m, p) {
                    (Modifier::Contains, Piece::Parts(mut x)) => {
                        x.insert(0, PlaceholderPart::Seg(sigil_ir::Seg::Any));
                        x.push(PlaceholderPart::Seg(sigil_ir::Seg::Any));
                        next.push(Piece::Parts(values::normalise(x)));
                    }
                    (Modifier::StartsWith, Piece::Parts(mut x)) => {
                        x.push(PlaceholderPart::Seg(sigil_ir::Seg::Any));
                        next.push(Piece::Parts(values::normalise(x)));
                    }
                    (Modifier::EndsWith, Piece::Parts(mut x)) => {
                        x.insert(0, PlaceholderPart::Seg(sigil_ir::Seg::Any));
                        next.push(Piece::Parts(values::normalise(x)));
                    }
                    (Modifier::Windash, Piece::Parts(x)) => match values::windash(&x) {
                        Some(vs) => next.extend(vs.into_iter().map(Piece::Parts)),
                        None => {
                            sink.diag(
                                Code::InvalidModifierValue,
                                format!(
                                    "`windash` would expand more than {} dashes",
                                    values::WINDASH_MAX_POSITIONS
                                ),
                                v.span,
                                path,
                            );
                            return None;
                        }
                    },
                    (Modifier::Utf16(form), Piece::Parts(x)) => match values::literal_text(&x) {
                        Some(t) => next.push(Piece::Bytes(values::utf16(&t, *form))),
                        None => {
                            sink.diag(Code::IncompatibleModifiers, "encodings need a plain value: apply contains/startswith/endswith after the encoding and use `\\*` for a literal `*`", mspan, path);
                            return None;
                        }
                    },
                    (Modifier::Base64 | Modifier::Base64Offset, p) => {
                        let bytes = match p {
                            Piece::Bytes(b) => b,
                            Piece::Parts(x) => match values::literal_text(&x) {
                                Some(t) => t.into_bytes(),
                                None => {
                                    sink.diag(Code::IncompatibleModifiers, "base64 needs a plain value: apply contains/startswith/endswith after it", mspan, path);
                                    return None;
                                }
                            },
                        };
                        if *m == Modifier::Base64Offset && bytes.len() < 2 {
                            sink.diag(Code::InvalidModifierValue, "`base64offset` needs a value of at least two bytes: one byte leaves no base64 character that is the same at every offset", v.span, path)
                                .hints
                                .push("search for a longer value, or use `base64` for an exact encoding".into());
                            return None;
                        }
                        let lits = if *m == Modifier::Base64 {
                            vec![values::base64(&bytes)]
                        } else {
                            values::base64_offsets(&bytes)
                        };
                        next.extend(lits.into_iter().map(|l| {
                            Piece::Parts(vec![PlaceholderPart::Seg(sigil_ir::Seg::Lit(l))])
                        }));
                    }
                    (Modifier::Cased | Modifier::Expand | Modifier::All | Modifier::Neq, p) => {
                        next.push(p)
                    }
                    (Modifier::Utf16(_), Piece::Bytes(_)) => {
                        incompatible(
                            sink,
                            "two utf16 encodings in one chain".into(),
                            "use one of utf16le, utf16be, utf16 and wide",
                        );
                        return None;
                    }
                    (other, Piece::Bytes(_)) => {
                        incompatible(
                            sink,
                            format!("`{}` cannot follow a utf16 encoding", modifier_name(*other)),
                            "a utf16 modifier must be followed by base64 or base64offset",
                        );
                        return None;
                    }
                    (other, Piece::Parts(_)) => {
                        incompatible(
                            sink,
                            format!(
                                "`{}` cannot be combined with string modifiers",
                                modifier_name(*other)
                            ),
                            "see docs/dsl.md for the modifier table",
                        );
                        return None;
                    }
                }
                size += next[before..].iter().map(piece_size).sum::<usize>();
                if sink.generated.saturating_add(size.saturating_sub(written)) > MAX_GENERATED_BYTES
                {
                    too_large(sink, v.span, path);
                    return None;
                }
            }
            pieces = next;
        }
        let total = pieces.iter().map(piece_size).sum::<usize>();
        sink.generated += total.saturating_sub(written);
        let mut alts = Vec::new();
        for p in pieces {
            match p {
                Piece::Parts(x) => {
                    let test = string_test(x, case);
                    alts.push(pred(target.clone(), test, v.span));
                }
                Piece::Bytes(_) => {
                    incompatible(
                        sink,
                        "a utf16 encoding must be followed by base64 or base64offset".into(),
                        "e.g. `CommandLine|wide|base64offset|contains`",
                    );
                    return None;
                }
            }
        }
        items.push(Expr::or(alts));
    }
    Some(combine(items))
}

/// Largest regex (in [`regex_weight`] units) with a lookbehind that [`check_regex`]
/// compiles to check that the lookbehind has a fixed length.
const MAX_REGEX_WEIGHT: usize = 2_000;

/// Roughly what compiling a regex costs: counted repetitions are unrolled by the engines,
/// so `(\w{100}){100}` weighs 100 × 100 classes.
fn regex_weight(e: &fancy_regex::Expr) -> usize {
    use fancy_regex::Expr as E;
    match e {
        E::Literal { val, .. } => val.len().max(1),
        // Classes compile to many UTF-8 states; Unicode ones (`\w`, `\p{L}`, negations) to
        // hundreds: `\w{125}` takes 50 ms to compile.
        E::Any { .. } => 8,
        E::Delegate { inner, .. } => {
            let unicode = inner.starts_with("[^")
                || [r"\w", r"\W", r"\d", r"\D", r"\p", r"\P", r"\S"]
                    .iter()
                    .any(|c| inner.contains(c));
            if unicode {
                1_000
            } else {
                inner.len().saturating_mul(8)
            }
        }
        E::Concat(v) | E::Alt(v) => v.iter().map(regex_weight).fold(1, usize::saturating_add),
        E::Group(c) | E::LookAround(c, _) | E::AtomicGroup(c) => regex_weight(c),
        E::Repeat { child, lo, hi, .. } => {
            let copies = if *hi == usize::MAX {
                lo.saturating_add(1)
            } else {
                *hi
            };
            regex_weight(child).saturating_mul(copies.max(1))
        }
        E::Conditional {
            condition,
            true_branch,
            false_branch,
        } => regex_weight(condition)
            .saturating_add(regex_weight(true_branch))
            .saturating_add(regex_weight(false_branch)),
        _ => 1,
    }
}

/// Checks that a regex reads, in time about linear in its length: compiling one can take
/// from milliseconds (`\w{125}`: 50 ms) to seconds, so a file of them took minutes. The
/// parse tree is checked, then each character class or escape handed to the regex engine
/// is parsed (not compiled), and repetition bounds are checked. Only a small regex with a
/// lookbehind is compiled, which checks the lookbehind's length is fixed. A regex too large
/// for an engine's compiled-size limit is the engine's to refuse.
fn check_regex(pattern: &str) -> Result<(), String> {
    use fancy_regex::{Expr as E, LookAround as L};
    fn walk<'e>(
        e: &'e E,
        seen: &mut std::collections::HashSet<&'e str>,
        behind: &mut bool,
    ) -> Result<(), String> {
        match e {
            E::Delegate { inner, .. } => {
                if seen.insert(inner) {
                    regex_syntax::Parser::new()
                        .parse(inner)
                        .map_err(|e| e.to_string())?;
                }
                Ok(())
            }
            E::Repeat { lo, hi, .. } if lo > hi => {
                Err(format!("repetition {{{lo},{hi}}} has its bounds reversed"))
            }
            E::LookAround(child, how) => {
                *behind |= matches!(how, L::LookBehind | L::LookBehindNeg);
                walk(child, seen, behind)
            }
            E::Repeat { child, .. } | E::Group(child) | E::AtomicGroup(child) => {
                walk(child, seen, behind)
            }
            E::Concat(v) | E::Alt(v) => v.iter().try_for_each(|c| walk(c, seen, behind)),
            E::Conditional {
                condition,
                true_branch,
                false_branch,
            } => [condition, true_branch, false_branch]
                .into_iter()
                .try_for_each(|c| walk(c, seen, behind)),
            _ => Ok(()),
        }
    }
    let tree = E::parse_tree(pattern).map_err(|e| e.to_string())?;
    let mut behind = false;
    walk(
        &tree.expr,
        &mut std::collections::HashSet::new(),
        &mut behind,
    )?;
    if behind && regex_weight(&tree.expr) <= MAX_REGEX_WEIGHT {
        fancy_regex::RegexBuilder::new(pattern)
            .backtrack_limit(100_000)
            .build()
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn too_large(sink: &mut Sink, span: Option<Span>, path: &str) {
    sink.diag(
        Code::InvalidModifierValue,
        format!(
            "the modifiers of this document add more than {} KiB of values",
            MAX_GENERATED_BYTES >> 10
        ),
        span,
        path,
    )
    .hints
    .push(
        "windash and chained encodings multiply the values; use fewer of them or shorter values"
            .into(),
    );
}

fn string_test(parts: Vec<PlaceholderPart>, case: Case) -> Test {
    if parts.iter().any(|p| matches!(p, PlaceholderPart::Name(_))) {
        return Test::Placeholder(parts, case);
    }
    if parts.is_empty() {
        return Test::Eq(Value::Str(String::new()), case);
    }
    match values::literal_text(&parts) {
        Some(l) => Test::Eq(Value::Str(l), case),
        None => Test::Pattern(
            values::to_pattern(&parts).unwrap_or(sigil_ir::Pattern(vec![])),
            case,
        ),
    }
}

fn pred(target: Target, test: Test, span: Option<Span>) -> Expr {
    Expr::Pred(Predicate { target, test, span })
}

fn scalar_text(v: &ValueAst) -> Option<String> {
    match &v.value {
        ScalarAst::Str(s) => Some(s.clone()),
        ScalarAst::Int(i) => Some(i.to_string()),
        ScalarAst::Float(f) => Some(float_text(*f)),
        _ => None,
    }
}

/// A YAML float as text: a whole number keeps its `.0` (`1.0` stays `1.0`, not `1`), so a
/// string modifier such as `contains` searches what was written.
fn float_text(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.1}")
    } else {
        f.to_string()
    }
}

fn scalar_string(v: &ValueAst) -> Option<String> {
    scalar_text(v)
}

fn scalar_number(v: &ValueAst) -> Option<f64> {
    match &v.value {
        ScalarAst::Int(i) => Some(*i as f64),
        ScalarAst::Float(f) => Some(*f),
        ScalarAst::Str(s) => s.trim().parse::<f64>().ok().filter(|x| x.is_finite()),
        _ => None,
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).to_string()
}

fn modifier_name(m: Modifier) -> &'static str {
    use Modifier::*;
    match m {
        Contains => "contains",
        StartsWith => "startswith",
        EndsWith => "endswith",
        All => "all",
        Base64 => "base64",
        Base64Offset => "base64offset",
        Utf16(_) => "utf16",
        Windash => "windash",
        Re => "re",
        ReFlag(_) => "a regex flag",
        Cidr => "cidr",
        Cmp(_) => "a comparison",
        Exists => "exists",
        Cased => "cased",
        Expand => "expand",
        FieldRef => "fieldref",
        Neq => "neq",
        Time(_) => "a time part",
    }
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn glob_patterns() {
        assert!(glob("sel*", "selection"));
        assert!(glob("*_1", "sel_1"));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXc"));
        assert!(glob("them", "them"));
    }
}
