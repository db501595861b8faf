//! Compiled predicates and their evaluation over one event, with per-event caches so that
//! many rules reading the same field look it up (and case-fold it) once.

use crate::event::{self, Layout};
use crate::index::{FxBuild, Hits, LitIndex, LitKey};
use crate::pattern::{Wild, fold};
use crate::time;
use ipnet::IpNet;
use serde_json::Value;
use sigil_ir::{Case, CmpOp, Expr, RefMatch, RegexFlags, Target, Test, TimePart, Value as IrValue};
use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::net::IpAddr;

/// Why a rule cannot be evaluated.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CompileError {
    /// A `%name%` placeholder has no value.
    #[error("placeholder `%{0}%` has no value; supply one before evaluating")]
    Placeholder(String),
    /// A regex the evaluator's engines reject.
    #[error("regular expression `{0}` cannot be compiled: {1}")]
    Regex(String, String),
}

/// Interned field paths shared by every rule of an engine, so per-event caches are arrays.
#[derive(Debug, Default, Clone)]
pub struct Fields {
    ids: HashMap<String, usize, FxBuild>,
    names: Vec<String>,
    /// Per id: the path has no dot (a top-level key, looked up directly).
    plain: Vec<bool>,
    /// Literal tests of the matchers compiled with these fields, indexed by field.
    pub lits: LitIndex,
}

impl Fields {
    /// The id of a path, interning it on first use.
    pub fn id(&mut self, path: &str) -> usize {
        if let Some(&i) = self.ids.get(path) {
            return i;
        }
        self.names.push(path.to_string());
        self.plain.push(!path.contains('.'));
        self.ids.insert(path.to_string(), self.names.len() - 1);
        self.names.len() - 1
    }
    /// The id of a path already interned.
    pub fn get(&self, path: &str) -> Option<usize> {
        self.ids.get(path).copied()
    }
    /// How many paths are interned.
    pub fn len(&self) -> usize {
        self.names.len()
    }
    /// True when no path is interned.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
    /// The path of an id.
    pub fn name(&self, id: usize) -> &str {
        &self.names[id]
    }
}

enum Re {
    Fast(regex::Regex),
    Fancy(Box<fancy_regex::Regex>),
}

impl Re {
    fn is_match(&self, s: &str) -> bool {
        match self {
            Re::Fast(r) => r.is_match(s),
            // A pattern that exhausts the backtracking budget is treated as not matching.
            Re::Fancy(r) => r.is_match(s).unwrap_or(false),
        }
    }
}

enum T {
    Str(String, bool),
    Wild(Wild, bool),
    Int(i64),
    Num(f64),
    Bool(bool),
    Regex(Re),
    Cidr(IpNet),
    Cmp(CmpOp, f64),
    Exists(bool),
    Null,
    FieldRef(usize, RefMatch, bool),
    TimePart(TimePart, CmpOp, i64),
    Element(Box<Node>),
    /// A literal test registered in [`Fields::lits`]: read from the event's index hits once
    /// the index is built, else evaluated as the inner test.
    Indexed(u32, Box<T>),
}

enum Node {
    Pred(Option<usize>, T),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Const(bool),
}

/// A compiled expression over events of one layout.
pub struct Matcher {
    root: Node,
    layout: Layout,
}

/// Rewrites the pattern so that `$` means what it means in PCRE (the flavour Sigma names) and
/// in Python's `re`: without the `m` flag, the end of the text **or** the position before a
/// final `\n` (`abc$` matches `"abc\n"`). The `regex` crate's `$` is the end of the text only.
/// Each `$` outside a character class becomes `(?:\n?\z)`, which consumes that final newline;
/// as only whether a regex matches is asked, that differs from PCRE only for a pattern that must
/// match a newline after its `$`. Patterns with the `m` flag (given, or inline as `(?m)`) are
/// left alone: their `$` already means the end of any line in both flavours.
fn pcre_dollar(src: &str, multi_line: bool) -> std::borrow::Cow<'_, str> {
    if multi_line || !src.contains('$') || inline_multi_line(src) {
        return std::borrow::Cow::Borrowed(src);
    }
    let mut out = String::with_capacity(src.len() + 16);
    let mut chars = src.chars().peekable();
    let mut class_depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '[' => {
                out.push(c);
                if class_depth > 0 && chars.peek() == Some(&':') {
                    // A POSIX class `[:alpha:]` inside a bracket expression.
                    for n in chars.by_ref() {
                        out.push(n);
                        if n == ']' {
                            break;
                        }
                    }
                    continue;
                }
                class_depth += 1;
                // `]` (after an optional `^`) right after `[` is a literal.
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().unwrap_or('^'));
                }
                if chars.peek() == Some(&']') {
                    out.push(chars.next().unwrap_or(']'));
                }
            }
            ']' if class_depth > 0 => {
                class_depth -= 1;
                out.push(c);
            }
            '$' if class_depth == 0 => out.push_str("(?:\\n?\\z)"),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// True when an inline flag group (`(?m)`, `(?im:…)`, `(?-m)`) mentions `m`.
fn inline_multi_line(src: &str) -> bool {
    let b = src.as_bytes();
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == b'(' && b[i + 1] == b'?' {
            let flags = b[i + 2..]
                .iter()
                .take_while(|&&x| x.is_ascii_alphabetic() || x == b'-');
            if flags.clone().any(|&x| x == b'm') {
                return true;
            }
        }
        i += 1;
    }
    false
}

fn regex(src: &str, f: RegexFlags) -> Result<Re, CompileError> {
    let original = src;
    let src = &*pcre_dollar(src, f.multi_line);
    let fast = regex::RegexBuilder::new(src)
        .case_insensitive(f.ignore_case)
        .multi_line(f.multi_line)
        .dot_matches_new_line(f.dot_all)
        .size_limit(1 << 24)
        .build();
    if let Ok(r) = fast {
        return Ok(Re::Fast(r));
    }
    let mut prefix = String::new();
    for (on, c) in [(f.ignore_case, 'i'), (f.multi_line, 'm'), (f.dot_all, 's')] {
        if on {
            prefix.push(c);
        }
    }
    let full = if prefix.is_empty() {
        src.to_string()
    } else {
        format!("(?{prefix}){src}")
    };
    fancy_regex::RegexBuilder::new(&full)
        .backtrack_limit(1_000_000)
        .build()
        .map(|r| Re::Fancy(Box::new(r)))
        .map_err(|e| CompileError::Regex(original.to_string(), e.to_string()))
}

impl Matcher {
    /// Compiles an expression; field paths are interned in `fields`.
    pub fn new(e: &Expr, layout: Layout, fields: &mut Fields) -> Result<Matcher, CompileError> {
        Ok(Matcher {
            root: compile(e, fields, Some(layout))?,
            layout,
        })
    }

    /// Evaluates the expression over an event.
    pub fn matches(&self, ev: &EventCtx) -> bool {
        eval(&self.root, ev, self.layout)
    }
}

/// Compiles an expression. With `index` (the layout it is evaluated with), literal tests on
/// fields are registered in the field index.
fn compile(e: &Expr, fields: &mut Fields, index: Option<Layout>) -> Result<Node, CompileError> {
    Ok(match e {
        Expr::And(v) => Node::And(
            v.iter()
                .map(|x| compile(x, fields, index))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Or(v) => Node::Or(
            v.iter()
                .map(|x| compile(x, fields, index))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Not(x) => Node::Not(Box::new(compile(x, fields, index)?)),
        Expr::Const(b) => Node::Const(*b),
        Expr::Pred(p) => {
            let target = match &p.target {
                Target::Field(f) => Some(fields.id(f)),
                Target::Keywords => None,
            };
            let ci = |c: &Case| *c == Case::Insensitive;
            let t = match &p.test {
                Test::Eq(IrValue::Str(s), c) => {
                    T::Str(if ci(c) { fold(s) } else { s.clone() }, ci(c))
                }
                Test::Eq(IrValue::Int(i), _) => T::Int(*i),
                Test::Eq(IrValue::Float(f), _) => T::Num(*f),
                Test::Eq(IrValue::Bool(b), _) => T::Bool(*b),
                Test::Pattern(pat, c) => T::Wild(Wild::new(&pat.0, ci(c)), ci(c)),
                Test::Regex(r, f) => T::Regex(regex(r, *f)?),
                Test::Cidr(n) => T::Cidr(*n),
                Test::Cmp(op, v) => T::Cmp(*op, *v),
                Test::Exists(b) => T::Exists(*b),
                Test::Null => T::Null,
                Test::FieldRef(other, how, c) => T::FieldRef(fields.id(other), *how, ci(c)),
                Test::TimePart(part, op, v) => T::TimePart(*part, *op, *v),
                Test::Element(inner) => T::Element(Box::new(compile(inner, fields, None)?)),
                Test::Placeholder(parts, _) => {
                    let name = parts
                        .iter()
                        .find_map(|p| match p {
                            sigil_ir::PlaceholderPart::Name(n) => Some(n.clone()),
                            _ => None,
                        })
                        .unwrap_or_default();
                    return Err(CompileError::Placeholder(name));
                }
            };
            let t = match (target, index) {
                (Some(id), Some(layout)) => match LitKey::of(p, id, layout) {
                    Some(key) => T::Indexed(fields.lits.register(key), Box::new(t)),
                    None => t,
                },
                _ => t,
            };
            Node::Pred(target, t)
        }
    })
}

/// One event being evaluated, with lazily filled caches per interned field and layout
/// (a field resolves differently under the Windows layout, so each layout has its own slot).
/// Cached values are borrowed, never cloned, by every predicate that reads them.
pub struct EventCtx<'a> {
    /// The parsed event.
    pub value: &'a Value,
    names: &'a Fields,
    /// Per layout (allocated when first used), per field.
    values: [PerField<Few<&'a Value>>; 2],
    lowered: [PerField<Few<Option<Cow<'a, str>>>>; 2],
    keywords: OnceCell<Vec<&'a str>>,
    keywords_folded: OnceCell<Vec<Cow<'a, str>>>,
    hits: OnceCell<Option<Hits>>,
    /// The event's top-level values by field id (for paths without a dot), and whether it
    /// has an `Event` member (where the Windows layout also looks).
    top: OnceCell<(Box<[Option<&'a Value>]>, bool)>,
    scratch: RefCell<Vec<&'a Value>>,
}

/// One lazily filled slot per interned field, allocated on first use.
type PerField<T> = OnceCell<Box<[OnceCell<T>]>>;

/// None, one or several items; one item needs no allocation.
enum Few<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> Few<T> {
    fn from_vec(mut v: Vec<T>) -> Few<T> {
        match v.len() {
            1 => Few::One(v.pop().expect("one item")),
            _ => Few::Many(v),
        }
    }
    fn as_slice(&self) -> &[T] {
        match self {
            Few::One(x) => std::slice::from_ref(x),
            Few::Many(v) => v,
        }
    }
}

fn layout_slot(layout: Layout) -> usize {
    usize::from(layout == Layout::Windows)
}

fn slots<T>(n: usize) -> Box<[OnceCell<T>]> {
    (0..n).map(|_| OnceCell::new()).collect()
}

impl<'a> EventCtx<'a> {
    /// Wraps an event for evaluation against matchers compiled with `names`.
    pub fn new(value: &'a Value, names: &'a Fields) -> Self {
        EventCtx {
            value,
            names,
            values: Default::default(),
            lowered: Default::default(),
            keywords: OnceCell::new(),
            keywords_folded: OnceCell::new(),
            hits: OnceCell::new(),
            top: OnceCell::new(),
            scratch: RefCell::new(Vec::new()),
        }
    }

    fn field(&self, id: usize, layout: Layout) -> &[&'a Value] {
        self.values[layout_slot(layout)].get_or_init(|| slots(self.names.len()))[id]
            .get_or_init(|| {
                let mut out = self.scratch.take();
                out.clear();
                self.resolve(id, layout, &mut out);
                match out.len() {
                    0 => {
                        *self.scratch.borrow_mut() = out;
                        Few::Many(Vec::new())
                    }
                    1 => {
                        let one = Few::One(out[0]);
                        out.clear();
                        *self.scratch.borrow_mut() = out;
                        one
                    }
                    _ => Few::Many(out),
                }
            })
            .as_slice()
    }

    /// [`event::resolve`], with a top-level key read from a table of the event's members
    /// built once per event (one pass over the members instead of a map search per field).
    fn resolve(&self, id: usize, layout: Layout, out: &mut Vec<&'a Value>) {
        let Value::Object(map) = self.value else {
            return event::resolve(self.value, self.names.name(id), layout, out);
        };
        if !self.names.plain[id] {
            return event::resolve(self.value, self.names.name(id), layout, out);
        }
        let (top, has_event) = self.top.get_or_init(|| {
            let mut top = vec![None; self.names.len()].into_boxed_slice();
            for (k, v) in map {
                if let Some(&i) = self.names.ids.get(k.as_str()) {
                    top[i] = Some(v);
                }
            }
            (top, map.contains_key("Event"))
        });
        match top[id] {
            // What `lookup` finds for a path without a dot; never empty, so no fallback.
            Some(x) => event::push_leaf(x, out),
            None if layout == Layout::Windows && *has_event => {
                event::resolve(self.value, self.names.name(id), layout, out)
            }
            None => {}
        }
    }

    /// The literal tests of [`Fields::lits`] that hold for this event (`None` until the
    /// index is built).
    pub fn lit_hits(&self) -> Option<&Hits> {
        self.hits
            .get_or_init(|| {
                let lits = &self.names.lits;
                lits.is_built().then(|| {
                    lits.hits(|field, layout, each| {
                        for v in self.field(field, layout) {
                            if let Some(t) = text(v) {
                                each(&t);
                            }
                        }
                    })
                })
            })
            .as_ref()
    }

    fn lowered(&self, id: usize, layout: Layout) -> &[Option<Cow<'a, str>>] {
        self.lowered[layout_slot(layout)].get_or_init(|| slots(self.names.len()))[id]
            .get_or_init(|| {
                let vals = self.field(id, layout);
                Few::from_vec(vals.iter().map(|v| folded(v)).collect())
            })
            .as_slice()
    }
}

/// The case-folded text of a scalar, borrowed when folding leaves it unchanged.
fn folded(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(fold_str(s)),
        other => text(other).map(|t| Cow::Owned(fold(&t))),
    }
}

/// [`fold`], borrowing text that has no upper-case letter to fold.
fn fold_str(s: &str) -> Cow<'_, str> {
    if s.is_ascii() && !s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(fold(s))
    }
}

/// The text of a scalar as Sigma compares strings (numbers and booleans by their JSON text).
pub fn text(v: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match v {
        Value::String(s) => Some(std::borrow::Cow::Borrowed(s)),
        Value::Number(n) => Some(std::borrow::Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(std::borrow::Cow::Borrowed(if *b {
            "true"
        } else {
            "false"
        })),
        _ => None,
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|x| x.is_finite()),
        _ => None,
    }
}

/// Integer equality, exact for integers and integer strings (an `f64` would confuse
/// integers beyond 2^53, such as 64-bit ids); other numbers compare as floats.
fn int_eq(v: &Value, x: i64) -> bool {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => i == x,
            None => n.as_u64().is_none() && n.as_f64() == Some(x as f64),
        },
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(i) => i == x,
            Err(_) => number(v) == Some(x as f64),
        },
        _ => false,
    }
}

fn eval(n: &Node, ev: &EventCtx, layout: Layout) -> bool {
    match n {
        Node::And(v) => v.iter().all(|x| eval(x, ev, layout)),
        Node::Or(v) => v.iter().any(|x| eval(x, ev, layout)),
        Node::Not(x) => !eval(x, ev, layout),
        Node::Const(b) => *b,
        Node::Pred(None, t) => keyword(t, ev),
        Node::Pred(Some(id), t) => pred(*id, t, ev, layout),
    }
}

fn keyword(t: &T, ev: &EventCtx) -> bool {
    let strs = ev.keywords.get_or_init(|| {
        let mut all = Vec::new();
        event::strings(ev.value, &mut all);
        all
    });
    let folded = || {
        ev.keywords_folded
            .get_or_init(|| strs.iter().map(|s| fold_str(s)).collect())
    };
    match t {
        T::Wild(w, true) => folded().iter().any(|s| w.matches(s)),
        T::Wild(w, false) => strs.iter().any(|s| w.matches(s)),
        T::Str(l, true) => folded().iter().any(|s| s == l),
        T::Str(l, false) => strs.iter().any(|s| s == l),
        _ => false,
    }
}

fn pred(id: usize, t: &T, ev: &EventCtx, layout: Layout) -> bool {
    let vals = ev.field(id, layout);
    match t {
        T::Indexed(test, inner) => match ev.lit_hits() {
            Some(h) => h.get(*test),
            None => pred(id, inner, ev, layout),
        },
        // Each element is evaluated as an event of its own, so all of the inner predicates
        // read the same element.
        T::Element(inner) => vals
            .iter()
            .any(|v| v.is_object() && eval(inner, &EventCtx::new(v, ev.names), Layout::Plain)),
        T::Exists(b) => vals.is_empty() != *b,
        T::Null => vals.is_empty() || vals.iter().any(|v| v.is_null()),
        T::Str(l, ci) => {
            if *ci {
                ev.lowered(id, layout).iter().flatten().any(|s| s == l)
            } else {
                vals.iter().filter_map(|v| text(v)).any(|s| s == l.as_str())
            }
        }
        T::Wild(w, ci) => {
            if *ci {
                ev.lowered(id, layout)
                    .iter()
                    .flatten()
                    .any(|s| w.matches(s))
            } else {
                vals.iter().filter_map(|v| text(v)).any(|s| w.matches(&s))
            }
        }
        T::Int(x) => vals.iter().any(|v| int_eq(v, *x)),
        T::Num(x) => vals.iter().filter_map(|v| number(v)).any(|n| n == *x),
        T::Bool(b) => vals.iter().any(|v| match v {
            Value::Bool(x) => x == b,
            Value::String(s) => s.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
            _ => false,
        }),
        T::Regex(r) => vals.iter().filter_map(|v| text(v)).any(|s| r.is_match(&s)),
        T::Cidr(net) => vals.iter().filter_map(|v| v.as_str()).any(|s| {
            // Addresses may carry a port or brackets in some logs; only plain forms match.
            s.trim().parse::<IpAddr>().is_ok_and(|a| net.contains(&a))
        }),
        T::Cmp(op, x) => vals
            .iter()
            .filter_map(|v| number(v))
            .any(|n| op.holds(n, *x)),
        T::FieldRef(other, how, ci) => {
            let others = ev.field(*other, layout);
            let fold = |s: &str| if *ci { fold(s) } else { s.to_string() };
            vals.iter().filter_map(|v| text(v)).any(|a| {
                let a = fold(&a);
                others.iter().filter_map(|v| text(v)).any(|b| {
                    let b = fold(&b);
                    match how {
                        RefMatch::Equals => a == b,
                        RefMatch::Contains => a.contains(&b),
                        RefMatch::StartsWith => a.starts_with(&b),
                        RefMatch::EndsWith => a.ends_with(&b),
                    }
                })
            })
        }
        T::TimePart(part, op, x) => vals
            .iter()
            .filter_map(|v| time::parse_ms(v))
            .any(|ms| op.holds(time::part(ms, *part) as f64, *x as f64)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(src: &str, f: RegexFlags) -> Re {
        regex(src, f).unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    /// Found by the pySigma oracle check (docs/oracle-check.md): Sigma's regex flavour is PCRE,
    /// where `$` also matches before a final newline, as in Python's `re`.
    #[test]
    fn dollar_matches_before_a_final_newline_as_in_pcre() {
        let plain = RegexFlags::default();
        let r = re("abc$", plain);
        assert!(r.is_match("xabc"));
        assert!(r.is_match("xabc\n"));
        assert!(!r.is_match("xabc\n\n"));
        assert!(!r.is_match("xabc\r\n"));
        assert!(!r.is_match("abc\nx"));
        assert!(re("^abc$", plain).is_match("abc\n"));
        // The csc rules' shape: a path's last component up to the end.
        let csc = re(r"\\[^\\]{1,3}$", plain);
        assert!(csc.is_match("C:\\x\\abc\n"));
        assert!(!csc.is_match("C:\\x\\abcd\n"));
        // `$` escaped or in a class is a literal dollar.
        assert!(re(r"a\$", plain).is_match("a$b"));
        assert!(re("a[$]", plain).is_match("a$b"));
        assert!(re("a[]$]", plain).is_match("a$b"));
        assert!(re("a[^]$]", plain).is_match("ab"));
        assert!(re("[[:alpha:]$]x", plain).is_match("$x"));
        assert!(!re(r"a\$", plain).is_match("a\n"));
        // The fancy-regex path (look-around) gets the same `$`.
        let fancy = re("(?<=x)abc$", plain);
        assert!(fancy.is_match("xabc\n"));
        assert!(!fancy.is_match("yabc\n"));
    }

    #[test]
    fn multi_line_dollar_is_left_to_the_engines() {
        let m = RegexFlags {
            multi_line: true,
            ..RegexFlags::default()
        };
        assert!(re("abc$", m).is_match("abc\nx"));
        assert!(re("(?m)abc$", RegexFlags::default()).is_match("abc\nx"));
        assert_eq!(pcre_dollar("(?im:a)$", false), "(?im:a)$");
        assert_eq!(pcre_dollar("a$|b", false), "a(?:\\n?\\z)|b");
        // An escaped parenthesis opens no flag group.
        assert_eq!(pcre_dollar(r"\(?m\)$", false), r"\(?m\)(?:\n?\z)");
    }
}
