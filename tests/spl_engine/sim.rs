//! A small executor for the SPL subset the SPL backend emits, used to run every library
//! rule's query over its fixture events and compare the alerts with the evaluator's.
//!
//! It models Splunk as its documentation describes it (search-command terms match any value
//! case-insensitively with `*` wildcards; eval comparisons with null are null and `where`
//! keeps only true; `stats` drops rows lacking a BY field; `streamstats` accumulates over
//! earlier rows of the same BY values). It is a model, not Splunk: agreement shows the
//! pipelines compute what the backend intends, under those documented semantics.

use std::collections::BTreeMap;

/// One result row: field → values (no entry or no values: null).
pub type Row = BTreeMap<String, Vec<String>>;

/// Builds a row from a JSON event the way JSON field extraction names fields: nested keys
/// joined with `.`, arrays as `key{}` (also kept under `key`, as a pass-through mapping
/// names them), EVTX `EventData`/`System` children also under their own names.
pub fn row(event: &serde_json::Value, time_ms: Option<i64>, id: &str) -> Row {
    let mut r = Row::new();
    flatten(event, String::new(), &mut r);
    let extra: Vec<(String, Vec<String>)> = r
        .iter()
        .filter_map(|(k, v)| {
            for p in ["Event.EventData.", "Event.System."] {
                if let Some(rest) = k.strip_prefix(p) {
                    return Some((rest.to_string(), v.clone()));
                }
            }
            None
        })
        .collect();
    for (k, v) in extra {
        r.entry(k).or_insert(v);
    }
    if let Some(t) = time_ms {
        r.insert("_time".into(), vec![num(t as f64 / 1000.0)]);
    }
    r.insert("__id".into(), vec![id.to_string()]);
    r.insert("_raw".into(), vec![event.to_string()]);
    r
}

fn flatten(v: &serde_json::Value, path: String, r: &mut Row) {
    use serde_json::Value as J;
    match v {
        J::Object(m) => {
            if let Some(t) = m.get("#text") {
                flatten(t, path.clone(), r);
            }
            for (k, x) in m {
                if k.starts_with('#') {
                    continue;
                }
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                flatten(x, p, r);
            }
        }
        J::Array(a) => {
            for x in a {
                flatten(x, format!("{path}{{}}"), r);
                flatten(x, path.clone(), r);
            }
        }
        J::Null => {}
        J::String(s) => r.entry(path).or_default().push(s.clone()),
        J::Bool(b) => r.entry(path).or_default().push(b.to_string()),
        J::Number(n) => r.entry(path).or_default().push(n.to_string()),
    }
}

fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 9e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

// ---- pipeline ------------------------------------------------------------------------

/// Runs a query over events (as rows); returns the result rows.
pub fn run(query: &str, events: &[Row]) -> Result<Vec<Row>, String> {
    let stages = split_stages(query.trim())?;
    let mut rows: Vec<Row> = Vec::new();
    for (i, st) in stages.iter().enumerate() {
        let st = st.trim();
        let (cmd, rest) = match st.split_once(char::is_whitespace) {
            Some((c, r)) => (c, r.trim()),
            None => (st, ""),
        };
        if i == 0 && !query.trim_start().starts_with('|') {
            rows = search(st.strip_prefix("search ").unwrap_or(st), events.to_vec())?;
            continue;
        }
        rows = match cmd {
            "search" => search(rest, if i == 0 { events.to_vec() } else { rows })?,
            "multisearch" => {
                let mut out = Vec::new();
                for sub in subsearches(rest)? {
                    out.extend(run(&sub, events)?);
                }
                out
            }
            "append" => {
                let mut out = rows;
                for sub in subsearches(rest)? {
                    out.extend(run(&sub, events)?);
                }
                out
            }
            "where" => {
                let e = parse_expr(rest)?;
                rows.into_iter()
                    .filter(|r| matches!(eval(&e, r), V::Bool(true)))
                    .collect()
            }
            "eval" => {
                let assigns: Vec<(String, Expr)> = split_top(rest, ',')
                    .iter()
                    .map(|a| {
                        let (l, r) = a.split_once('=').ok_or(format!("bad eval {a}"))?;
                        Ok((l.trim().to_string(), parse_expr(r)?))
                    })
                    .collect::<Result<_, String>>()?;
                rows.into_iter()
                    .map(|mut r| {
                        for (name, e) in &assigns {
                            let v = eval(e, &r).values();
                            if v.is_empty() {
                                r.remove(name);
                            } else {
                                r.insert(name.clone(), v);
                            }
                        }
                        r
                    })
                    .collect()
            }
            "sort" => {
                let mut rows = rows;
                rows.sort_by(|a, b| {
                    let t = |r: &Row| {
                        r.get("_time")
                            .and_then(|v| v.first())
                            .and_then(|t| t.parse::<f64>().ok())
                            .unwrap_or(f64::MIN)
                    };
                    t(a).total_cmp(&t(b))
                });
                rows
            }
            "table" => rows,
            "stats" => stats(rest, rows, false)?,
            "streamstats" => stats(rest, rows, true)?,
            other => return Err(format!("unknown command {other}")),
        };
    }
    Ok(rows)
}

/// Splits at top-level pipes (outside quotes, names and brackets).
fn split_stages(q: &str) -> Result<Vec<String>, String> {
    let q = q.strip_prefix('|').unwrap_or(q);
    Ok(split_top(q, '|'))
}

/// Splits `s` at `sep` outside quotes, names, parentheses and brackets.
fn split_top(s: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut depth, mut dq, mut sq, mut esc) = (0i32, false, false, false);
    for c in s.chars() {
        if dq {
            cur.push(c);
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '"' {
                dq = false;
            }
            continue;
        }
        if sq {
            cur.push(c);
            if c == '\'' {
                sq = false;
            }
            continue;
        }
        match c {
            '"' => dq = true,
            '\'' => sq = true,
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            c if c == sep && depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out
}

/// The bodies of `[search …]` / `[| …]` subsearches.
fn subsearches(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for part in split_top(s, ' ') {
        let p = part.trim();
        if p.is_empty() {
            continue;
        }
        let body = p
            .strip_prefix('[')
            .and_then(|x| x.strip_suffix(']'))
            .ok_or(format!("bad subsearch {p}"))?;
        out.push(body.trim().to_string());
    }
    Ok(out)
}

// ---- search command --------------------------------------------------------------------

#[derive(Debug)]
enum Term {
    Eq(String, String),
    In(String, Vec<String>),
    All,
    Not(Box<Term>),
    And(Vec<Term>),
    Or(Vec<Term>),
}

fn search(text: &str, rows: Vec<Row>) -> Result<Vec<Row>, String> {
    let toks = search_tokens(text)?;
    let mut pos = 0;
    let t = parse_or(&toks, &mut pos)?;
    if pos != toks.len() {
        return Err(format!("trailing search tokens in {text}"));
    }
    Ok(rows.into_iter().filter(|r| term_holds(&t, r)).collect())
}

fn search_tokens(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' || c == ')' || c == ',' {
            out.push(c.to_string());
            i += 1;
        } else if c == '"' {
            let (s, n) = read_string(&chars[i..])?;
            out.push(format!("\"{s}"));
            i += n;
        } else {
            let mut w = String::new();
            while i < chars.len()
                && !chars[i].is_whitespace()
                && !matches!(chars[i], '(' | ')' | ',')
            {
                if chars[i] == '"' {
                    let (s, n) = read_string(&chars[i..])?;
                    w.push('"');
                    w.push_str(&s);
                    i += n;
                    continue;
                }
                w.push(chars[i]);
                i += 1;
            }
            out.push(w);
        }
    }
    Ok(out)
}

/// Reads a double-quoted string at the start of `c`; returns it decoded and its length.
fn read_string(c: &[char]) -> Result<(String, usize), String> {
    let mut s = String::new();
    let mut i = 1;
    while i < c.len() {
        match c[i] {
            '\\' if i + 1 < c.len() && matches!(c[i + 1], '"' | '\\') => {
                s.push(c[i + 1]);
                i += 2;
            }
            '"' => return Ok((s, i + 1)),
            x => {
                s.push(x);
                i += 1;
            }
        }
    }
    Err("unterminated string".into())
}

fn parse_or(t: &[String], pos: &mut usize) -> Result<Term, String> {
    let mut items = vec![parse_and(t, pos)?];
    while t.get(*pos).map(String::as_str) == Some("OR") {
        *pos += 1;
        items.push(parse_and(t, pos)?);
    }
    Ok(if items.len() == 1 {
        items.remove(0)
    } else {
        Term::Or(items)
    })
}

fn parse_and(t: &[String], pos: &mut usize) -> Result<Term, String> {
    let mut items = vec![parse_not(t, pos)?];
    loop {
        match t.get(*pos).map(String::as_str) {
            Some("AND") => {
                *pos += 1;
                items.push(parse_not(t, pos)?);
            }
            None | Some(")") | Some("OR") => break,
            _ => items.push(parse_not(t, pos)?),
        }
    }
    Ok(if items.len() == 1 {
        items.remove(0)
    } else {
        Term::And(items)
    })
}

fn parse_not(t: &[String], pos: &mut usize) -> Result<Term, String> {
    if t.get(*pos).map(String::as_str) == Some("NOT") {
        *pos += 1;
        return Ok(Term::Not(Box::new(parse_not(t, pos)?)));
    }
    let tok = t.get(*pos).ok_or("unexpected end of search")?.clone();
    *pos += 1;
    if tok == "(" {
        let inner = parse_or(t, pos)?;
        if t.get(*pos).map(String::as_str) != Some(")") {
            return Err("missing )".into());
        }
        *pos += 1;
        return Ok(inner);
    }
    if tok == "*" {
        return Ok(Term::All);
    }
    if t.get(*pos).map(String::as_str) == Some("IN") {
        *pos += 1;
        if t.get(*pos).map(String::as_str) != Some("(") {
            return Err("IN without (".into());
        }
        *pos += 1;
        let mut vals = Vec::new();
        while let Some(x) = t.get(*pos) {
            *pos += 1;
            match x.as_str() {
                ")" => break,
                "," => {}
                v => vals.push(v.strip_prefix('"').unwrap_or(v).to_string()),
            }
        }
        return Ok(Term::In(tok, vals));
    }
    let (f, v) = tok
        .split_once('=')
        .ok_or(format!("bad search term {tok}"))?;
    Ok(Term::Eq(
        f.to_string(),
        v.strip_prefix('"').unwrap_or(v).to_string(),
    ))
}

/// Whether `re` matches `s` (regexes compiled once per run; an invalid one never matches).
fn re_match(re: &str, s: &str) -> Option<bool> {
    thread_local! {
        static CACHE: std::cell::RefCell<BTreeMap<String, Option<fancy_regex::Regex>>> =
            const { std::cell::RefCell::new(BTreeMap::new()) };
    }
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let rx = c
            .entry(re.to_string())
            .or_insert_with(|| fancy_regex::Regex::new(re).ok());
        rx.as_ref().map(|r| r.is_match(s).unwrap_or(false))
    })
}

fn wildcard(pat: &str, value: &str) -> bool {
    let re: String = pat
        .split('*')
        .map(fancy_regex::escape)
        .collect::<Vec<_>>()
        .join("(?s:.*)");
    re_match(&format!("(?i)\\A{re}\\z"), value).unwrap_or(false)
}

fn term_holds(t: &Term, r: &Row) -> bool {
    let any = |f: &str, p: &str| r.get(f).is_some_and(|vs| vs.iter().any(|v| wildcard(p, v)));
    match t {
        Term::All => true,
        Term::Eq(f, p) => any(f, p),
        Term::In(f, ps) => ps.iter().any(|p| any(f, p)),
        Term::Not(x) => !term_holds(x, r),
        Term::And(v) => v.iter().all(|x| term_holds(x, r)),
        Term::Or(v) => v.iter().any(|x| term_holds(x, r)),
    }
}

// ---- eval expressions --------------------------------------------------------------------

/// An eval value.
#[derive(Clone, Debug, PartialEq)]
pub enum V {
    /// No value.
    Null,
    /// Text.
    S(String),
    /// A number.
    N(f64),
    /// A boolean (only inside expressions).
    Bool(bool),
    /// Several values.
    M(Vec<String>),
}

impl V {
    fn values(&self) -> Vec<String> {
        match self {
            V::Null => Vec::new(),
            V::S(s) => vec![s.clone()],
            V::N(n) => vec![num(*n)],
            V::Bool(b) => vec![b.to_string()],
            V::M(v) => v.clone(),
        }
    }
    fn text(&self) -> Option<String> {
        self.values().into_iter().next()
    }
    fn number(&self) -> Option<f64> {
        match self {
            V::N(n) => Some(*n),
            _ => self.text().and_then(|t| t.parse::<f64>().ok()),
        }
    }
}

#[derive(Debug, Clone)]
enum Expr {
    Lit(V),
    Field(String),
    Call(String, Vec<Expr>),
    Bin(String, Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
}

fn expr_tokens(s: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' {
            let (s, n) = read_string(&chars[i..])?;
            out.push(format!("\"{s}"));
            i += n;
        } else if c == '\'' {
            let end = chars[i + 1..]
                .iter()
                .position(|&d| d == '\'')
                .ok_or("unterminated name")?;
            out.push(format!(
                "'{}",
                chars[i + 1..i + 1 + end].iter().collect::<String>()
            ));
            i += end + 2;
        } else if c.is_ascii_digit() {
            let mut w = String::new();
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                w.push(chars[i]);
                i += 1;
            }
            out.push(w);
        } else if c.is_ascii_alphabetic() || c == '_' {
            let mut w = String::new();
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                w.push(chars[i]);
                i += 1;
            }
            out.push(w);
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            if ["==", "!=", "<=", ">="].contains(&two.as_str()) {
                out.push(two);
                i += 2;
            } else {
                out.push(c.to_string());
                i += 1;
            }
        }
    }
    Ok(out)
}

fn parse_expr(s: &str) -> Result<Expr, String> {
    let t = expr_tokens(s)?;
    let mut p = 0;
    let e = e_or(&t, &mut p)?;
    if p != t.len() {
        return Err(format!("trailing tokens in expression {s}: {:?}", &t[p..]));
    }
    Ok(e)
}

fn peek<'a>(t: &'a [String], p: &usize) -> Option<&'a str> {
    t.get(*p).map(String::as_str)
}

fn e_or(t: &[String], p: &mut usize) -> Result<Expr, String> {
    let mut l = e_and(t, p)?;
    while peek(t, p) == Some("OR") {
        *p += 1;
        l = Expr::Bin("OR".into(), Box::new(l), Box::new(e_and(t, p)?));
    }
    Ok(l)
}

fn e_and(t: &[String], p: &mut usize) -> Result<Expr, String> {
    let mut l = e_not(t, p)?;
    while peek(t, p) == Some("AND") {
        *p += 1;
        l = Expr::Bin("AND".into(), Box::new(l), Box::new(e_not(t, p)?));
    }
    Ok(l)
}

fn e_not(t: &[String], p: &mut usize) -> Result<Expr, String> {
    if peek(t, p) == Some("NOT") {
        *p += 1;
        return Ok(Expr::Not(Box::new(e_not(t, p)?)));
    }
    e_cmp(t, p)
}

fn e_cmp(t: &[String], p: &mut usize) -> Result<Expr, String> {
    let l = e_add(t, p)?;
    if let Some(op) = peek(t, p).filter(|o| ["==", "!=", "<", "<=", ">", ">=", "="].contains(o)) {
        let op = op.to_string();
        *p += 1;
        return Ok(Expr::Bin(op, Box::new(l), Box::new(e_add(t, p)?)));
    }
    Ok(l)
}

fn e_add(t: &[String], p: &mut usize) -> Result<Expr, String> {
    let mut l = e_mul(t, p)?;
    while let Some(op) = peek(t, p).filter(|o| ["+", "-", "."].contains(o)) {
        let op = op.to_string();
        *p += 1;
        l = Expr::Bin(op, Box::new(l), Box::new(e_mul(t, p)?));
    }
    Ok(l)
}

fn e_mul(t: &[String], p: &mut usize) -> Result<Expr, String> {
    let mut l = e_unary(t, p)?;
    while let Some(op) = peek(t, p).filter(|o| ["*", "/", "%"].contains(o)) {
        let op = op.to_string();
        *p += 1;
        l = Expr::Bin(op, Box::new(l), Box::new(e_unary(t, p)?));
    }
    Ok(l)
}

fn e_unary(t: &[String], p: &mut usize) -> Result<Expr, String> {
    if peek(t, p) == Some("-") {
        *p += 1;
        return Ok(Expr::Neg(Box::new(e_unary(t, p)?)));
    }
    let tok = t.get(*p).ok_or("unexpected end of expression")?.clone();
    *p += 1;
    if tok == "(" {
        let e = e_or(t, p)?;
        if peek(t, p) != Some(")") {
            return Err("missing )".into());
        }
        *p += 1;
        return Ok(e);
    }
    if let Some(s) = tok.strip_prefix('"') {
        return Ok(Expr::Lit(V::S(s.to_string())));
    }
    if let Some(s) = tok.strip_prefix('\'') {
        return Ok(Expr::Field(s.to_string()));
    }
    if let Ok(n) = tok.parse::<f64>() {
        return Ok(Expr::Lit(V::N(n)));
    }
    if peek(t, p) == Some("(") {
        *p += 1;
        let mut args = Vec::new();
        if peek(t, p) == Some(")") {
            *p += 1;
        } else {
            loop {
                args.push(e_or(t, p)?);
                match peek(t, p) {
                    Some(",") => *p += 1,
                    Some(")") => {
                        *p += 1;
                        break;
                    }
                    other => return Err(format!("bad call {tok}: {other:?}")),
                }
            }
        }
        return Ok(Expr::Call(tok, args));
    }
    Ok(Expr::Field(tok))
}

fn field(r: &Row, f: &str) -> V {
    match r.get(f) {
        None => V::Null,
        Some(v) if v.is_empty() => V::Null,
        Some(v) if v.len() == 1 => V::S(v[0].clone()),
        Some(v) => V::M(v.clone()),
    }
}

fn first_field(e: &Expr) -> Option<String> {
    match e {
        Expr::Field(f) => Some(f.clone()),
        Expr::Call(_, a) => a.iter().find_map(first_field),
        Expr::Bin(_, a, b) => first_field(a).or_else(|| first_field(b)),
        Expr::Not(a) | Expr::Neg(a) => first_field(a),
        Expr::Lit(_) => None,
    }
}

fn truth(v: &V) -> Option<bool> {
    match v {
        V::Bool(b) => Some(*b),
        V::Null => None,
        _ => Some(true),
    }
}

fn eval(e: &Expr, r: &Row) -> V {
    match e {
        Expr::Lit(v) => v.clone(),
        Expr::Field(f) => field(r, f),
        Expr::Not(a) => match truth(&eval(a, r)) {
            Some(b) => V::Bool(!b),
            None => V::Null,
        },
        Expr::Neg(a) => eval(a, r).number().map_or(V::Null, |n| V::N(-n)),
        Expr::Bin(op, a, b) => {
            if op == "AND" || op == "OR" {
                let (x, y) = (truth(&eval(a, r)), truth(&eval(b, r)));
                return match (op.as_str(), x, y) {
                    ("AND", Some(false), _) | ("AND", _, Some(false)) => V::Bool(false),
                    ("AND", Some(true), Some(true)) => V::Bool(true),
                    ("OR", Some(true), _) | ("OR", _, Some(true)) => V::Bool(true),
                    ("OR", Some(false), Some(false)) => V::Bool(false),
                    _ => V::Null,
                };
            }
            let (x, y) = (eval(a, r), eval(b, r));
            if x == V::Null || y == V::Null {
                return V::Null;
            }
            match op.as_str() {
                "." => V::S(format!(
                    "{}{}",
                    x.text().unwrap_or_default(),
                    y.text().unwrap_or_default()
                )),
                "+" | "-" | "*" | "/" | "%" => match (x.number(), y.number()) {
                    (Some(m), Some(n)) => V::N(match op.as_str() {
                        "+" => m + n,
                        "-" => m - n,
                        "*" => m * n,
                        "/" => m / n,
                        _ => m % n,
                    }),
                    _ => V::Null,
                },
                cmp => {
                    // Numbers (or numeric text) on both sides compare numerically, else as text.
                    let ord = match (x.number(), y.number()) {
                        (Some(m), Some(n)) => m.partial_cmp(&n),
                        _ => x.text().partial_cmp(&y.text()),
                    };
                    let Some(o) = ord else { return V::Null };
                    V::Bool(match cmp {
                        "==" | "=" => o.is_eq(),
                        "!=" => o.is_ne(),
                        "<" => o.is_lt(),
                        "<=" => o.is_le(),
                        ">" => o.is_gt(),
                        _ => o.is_ge(),
                    })
                }
            }
        }
        Expr::Call(name, args) => call(name, args, r),
    }
}

fn call(name: &str, args: &[Expr], r: &Row) -> V {
    let arg = |i: usize| args.get(i).map_or(V::Null, |a| eval(a, r));
    match name {
        "isnotnull" => V::Bool(arg(0) != V::Null),
        "isnull" => V::Bool(arg(0) == V::Null),
        "null" => V::Null,
        "true" => V::Bool(true),
        "false" => V::Bool(false),
        "mvfilter" => {
            let Some(f) = args.first().and_then(first_field) else {
                return V::Null;
            };
            let kept: Vec<String> = field(r, &f)
                .values()
                .into_iter()
                .filter(|v| {
                    let mut one = r.clone();
                    one.insert(f.clone(), vec![v.clone()]);
                    matches!(eval(&args[0], &one), V::Bool(true))
                })
                .collect();
            match kept.len() {
                0 => V::Null,
                1 => V::S(kept[0].clone()),
                _ => V::M(kept),
            }
        }
        "mvindex" => arg(0).text().map_or(V::Null, V::S),
        "match" => match (arg(0).text(), arg(1).text()) {
            (Some(s), Some(re)) => re_match(&re, &s).map_or(V::Null, V::Bool),
            _ => V::Null,
        },
        "like" => match (arg(0).text(), arg(1).text()) {
            (Some(s), Some(p)) => {
                let re: String = p
                    .chars()
                    .map(|c| match c {
                        '%' => "(?s:.*)".to_string(),
                        '_' => "(?s:.)".to_string(),
                        c => fancy_regex::escape(&c.to_string()).into_owned(),
                    })
                    .collect();
                V::Bool(
                    fancy_regex::Regex::new(&format!("\\A{re}\\z"))
                        .is_ok_and(|r| r.is_match(&s).unwrap_or(false)),
                )
            }
            _ => V::Null,
        },
        "tonumber" => arg(0)
            .text()
            .and_then(|t| t.parse::<f64>().ok())
            .map_or(V::Null, V::N),
        "trim" => arg(0)
            .text()
            .map_or(V::Null, |t| V::S(t.trim().to_string())),
        "lower" => arg(0).text().map_or(V::Null, |t| V::S(t.to_lowercase())),
        "floor" => arg(0).number().map_or(V::Null, |n| V::N(n.floor())),
        "cidrmatch" => match (arg(0).text(), arg(1).text()) {
            (Some(net), Some(ip)) => V::Bool(cidr(&net, &ip)),
            _ => V::Null,
        },
        "if" => match truth(&arg(0)) {
            Some(true) => arg(1),
            _ => arg(2),
        },
        "case" => {
            for pair in args.chunks(2) {
                if pair.len() == 2 && truth(&eval(&pair[0], r)) == Some(true) {
                    return eval(&pair[1], r);
                }
            }
            V::Null
        }
        _ => V::Null,
    }
}

fn cidr(net: &str, ip: &str) -> bool {
    use std::net::IpAddr;
    let Some((base, len)) = net.split_once('/') else {
        return false;
    };
    let (Ok(base), Ok(len), Ok(ip)) = (
        base.parse::<IpAddr>(),
        len.parse::<u32>(),
        ip.parse::<IpAddr>(),
    ) else {
        return false;
    };
    match (base, ip) {
        (IpAddr::V4(b), IpAddr::V4(i)) => {
            let m = if len == 0 {
                0
            } else {
                u32::MAX << (32 - len.min(32))
            };
            u32::from(b) & m == u32::from(i) & m
        }
        (IpAddr::V6(b), IpAddr::V6(i)) => {
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len.min(128))
            };
            u128::from(b) & m == u128::from(i) & m
        }
        _ => false,
    }
}

// ---- stats / streamstats -----------------------------------------------------------------

struct AggSpec {
    func: String,
    field: Option<String>,
    name: String,
}

/// A parsed stats/streamstats argument list.
struct StatsSpec {
    aggs: Vec<AggSpec>,
    by: Vec<String>,
    current: bool,
    window: Option<f64>,
}

fn parse_aggs(s: &str) -> Result<StatsSpec, String> {
    let (body, by) = match s.split_once(" BY ") {
        Some((a, b)) => (a, b.split_whitespace().map(str::to_string).collect()),
        None => (s, Vec::new()),
    };
    let mut current = true;
    let mut window = None;
    let toks: Vec<&str> = body.split_whitespace().collect();
    let mut aggs = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i];
        if let Some(v) = t.strip_prefix("current=") {
            current = v != "f" && v != "false";
            i += 1;
            continue;
        }
        if let Some(v) = t.strip_prefix("time_window=") {
            window = Some(duration_secs(v)?);
            i += 1;
            continue;
        }
        let (func, field) = match t.split_once('(') {
            Some((f, rest)) => (f.to_string(), Some(rest.trim_end_matches(')').to_string())),
            None => (t.to_string(), None),
        };
        let name = if toks.get(i + 1) == Some(&"AS") {
            i += 2;
            toks.get(i).ok_or("AS without name")?.to_string()
        } else {
            t.to_string()
        };
        aggs.push(AggSpec { func, field, name });
        i += 1;
    }
    Ok(StatsSpec {
        aggs,
        by,
        current,
        window,
    })
}

fn duration_secs(v: &str) -> Result<f64, String> {
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let n: f64 = v[..split]
        .parse()
        .map_err(|_| format!("bad duration {v}"))?;
    Ok(n * match &v[split..] {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        other => return Err(format!("bad unit {other}")),
    })
}

fn aggregate(spec: &AggSpec, rows: &[&Row]) -> Vec<String> {
    let vals = |f: &str| -> Vec<String> {
        rows.iter()
            .flat_map(|r| r.get(f).cloned().unwrap_or_default())
            .collect()
    };
    let nums = |f: &str| -> Vec<f64> {
        vals(f)
            .iter()
            .filter_map(|v| v.parse::<f64>().ok())
            .collect()
    };
    let f = spec.field.as_deref().unwrap_or_default();
    match spec.func.as_str() {
        "count" => vec![rows.len().to_string()],
        "dc" => {
            let mut v = vals(f);
            v.sort();
            v.dedup();
            vec![v.len().to_string()]
        }
        "values" => {
            let mut v = vals(f);
            v.sort();
            v.dedup();
            v
        }
        "min" | "max" | "sum" | "avg" => {
            let n = nums(f);
            if n.is_empty() {
                return Vec::new();
            }
            let x = match spec.func.as_str() {
                "min" => n.iter().cloned().fold(f64::INFINITY, f64::min),
                "max" => n.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                "sum" => n.iter().sum(),
                _ => n.iter().sum::<f64>() / n.len() as f64,
            };
            vec![num(x)]
        }
        p if p.starts_with("exactperc") || p.starts_with("perc") => {
            let rank: f64 = p
                .trim_start_matches("exactperc")
                .trim_start_matches("perc")
                .parse()
                .unwrap_or(50.0);
            let mut n = nums(f);
            if n.is_empty() {
                return Vec::new();
            }
            n.sort_by(f64::total_cmp);
            let k = ((rank / 100.0) * n.len() as f64).ceil().max(1.0) as usize;
            vec![num(n[k.min(n.len()) - 1])]
        }
        _ => Vec::new(),
    }
}

fn stats(spec: &str, rows: Vec<Row>, streaming: bool) -> Result<Vec<Row>, String> {
    let StatsSpec {
        aggs,
        by,
        current,
        window,
    } = parse_aggs(spec)?;
    let key = |r: &Row| -> Option<Vec<String>> {
        by.iter()
            .map(|b| r.get(b).and_then(|v| v.first().cloned()))
            .collect()
    };
    let time = |r: &Row| {
        r.get("_time")
            .and_then(|v| v.first())
            .and_then(|t| t.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    if !streaming {
        let mut groups: BTreeMap<Vec<String>, Vec<&Row>> = BTreeMap::new();
        for r in &rows {
            if let Some(k) = key(r) {
                groups.entry(k).or_default().push(r);
            }
        }
        return Ok(groups
            .into_iter()
            .map(|(k, rs)| {
                let mut out = Row::new();
                for (b, v) in by.iter().zip(k) {
                    out.insert(b.clone(), vec![v]);
                }
                for a in &aggs {
                    let v = aggregate(a, &rs);
                    if !v.is_empty() {
                        out.insert(a.name.clone(), v);
                    }
                }
                out
            })
            .collect());
    }
    let mut out = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let mut r2 = r.clone();
        if let Some(k) = key(r) {
            let t = time(r);
            let end = if current { i + 1 } else { i };
            let win: Vec<&Row> = rows[..end]
                .iter()
                .filter(|x| key(x).as_ref() == Some(&k))
                .filter(|x| window.is_none_or(|w| time(x) >= t - w))
                .collect();
            for a in &aggs {
                let v = aggregate(a, &win);
                if v.is_empty() {
                    r2.remove(&a.name);
                } else {
                    r2.insert(a.name.clone(), v);
                }
            }
        }
        out.push(r2);
    }
    Ok(out)
}
