//! Translation of rule regexes and wildcard patterns into Lucene's regular expression
//! dialect (Elasticsearch `regexp` queries: EQL `regex`/`regex~`, ES|QL `RLIKE`).
//!
//! Lucene regexes differ from the evaluator's (PCRE-like, `regex` crate) in ways that change
//! answers, so this is a translation, not an escape: a Lucene regex must match the **whole**
//! value (a rule's `|re` searches anywhere), `.` matches any character including a newline,
//! a backslash before any character makes it literal (so `\n` is the letter `n`, and `\d`
//! is not a digit class in every version), `# @ & < > ~ "` are operators, and there are no
//! anchors, word boundaries, inline flags, look-around or backreferences. Each construct is
//! rewritten to an equivalent Lucene form where one exists, or reported as unsupported.

use regex_syntax::ast::{
    self, AssertionKind, Ast, ClassPerlKind, ClassSet, ClassSetItem, Flag, FlagsItemKind,
    GroupKind, RepetitionKind, RepetitionRange,
};
use sigil_ir::{Pattern, RegexFlags, Seg};

/// A regex rewritten for Lucene.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lucene {
    /// The whole-value Lucene pattern (unanchored searches are wrapped in `.*`).
    pub pattern: String,
    /// Whether the match must ignore case (EQL `regex~`, a case-insensitive `regexp` query).
    pub insensitive: bool,
    /// Shorthand classes (`\d`, `\w`, `\s`) were written as ASCII ranges, while the
    /// evaluator's are Unicode-aware.
    pub ascii_classes: bool,
    /// The pattern is case-insensitive and holds non-ASCII letters (Lucene folds ASCII only).
    pub non_ascii_case: bool,
}

/// Why a regex has no Lucene equivalent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported(pub String);

#[derive(Clone, Copy, Default)]
struct Mode {
    insensitive: bool,
    multi_line: bool,
    dot_all: bool,
}

/// Characters Lucene's regex syntax gives a meaning (with every optional operator on),
/// plus `^ $ -` which mean something inside classes or in other dialects.
const RESERVED: &str = ".?+*|{}[]()\"\\#@&<>~^$-";

/// One literal character as Lucene reads it: reserved characters are escaped (a backslash
/// before any character is that character); everything else, control characters included,
/// stands for itself (so a newline is written as itself, never as `\n`, which is `n`).
fn push_lit(out: &mut String, c: char) {
    if RESERVED.contains(c) {
        out.push('\\');
    }
    out.push(c);
}

/// Literal text as a Lucene regex fragment.
pub fn literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_lit(&mut out, c);
    }
    out
}

/// A whole-value wildcard pattern as a Lucene regex (`*` any run, `?` one character; both
/// match newlines, as Lucene's `.` does).
pub fn pattern(p: &Pattern) -> String {
    let mut out = String::new();
    for seg in &p.0 {
        match seg {
            Seg::Lit(s) => out.push_str(&literal(s)),
            Seg::Any => out.push_str(".*"),
            Seg::One => out.push('.'),
        }
    }
    out
}

/// Rewrites a rule regex (search semantics, `flags` from the rule) as a whole-value
/// Lucene regex, or says why it cannot be.
pub fn translate(re: &str, flags: RegexFlags) -> Result<Lucene, Unsupported> {
    let ast = ast::parse::Parser::new().parse(re).map_err(|e| {
        Unsupported(format!(
            "the regex uses syntax Lucene lacks (look-around, backreferences or similar): {}",
            e.kind()
        ))
    })?;
    let mut mode = Mode {
        insensitive: flags.ignore_case,
        multi_line: flags.multi_line,
        dot_all: flags.dot_all,
    };
    let mut t = Translator {
        ascii_classes: false,
        non_ascii_letter: false,
    };
    // Leading inline flags (`(?i)abc`) apply to the whole pattern; they become the query's
    // case rule and dot mode. Flags anywhere else have no Lucene form.
    let body = strip_leading_flags(&ast, &mut mode)?;
    let pattern = t.top(&body, mode)?;
    Ok(Lucene {
        pattern,
        insensitive: mode.insensitive,
        ascii_classes: t.ascii_classes,
        non_ascii_case: mode.insensitive && t.non_ascii_letter,
    })
}

fn apply_flags(f: &ast::Flags, mode: &mut Mode) -> Result<(), Unsupported> {
    let mut negate = false;
    for item in &f.items {
        match &item.kind {
            FlagsItemKind::Negation => negate = true,
            FlagsItemKind::Flag(flag) => {
                let on = !negate;
                match flag {
                    Flag::CaseInsensitive => mode.insensitive = on,
                    Flag::MultiLine => mode.multi_line = on,
                    Flag::DotMatchesNewLine => mode.dot_all = on,
                    // Greed does not change whether a whole value matches.
                    Flag::SwapGreed => {}
                    other => {
                        return Err(Unsupported(format!(
                            "the inline flag {other:?} has no Lucene equivalent"
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

fn strip_leading_flags(a: &Ast, mode: &mut Mode) -> Result<Ast, Unsupported> {
    match a {
        Ast::Flags(f) => {
            apply_flags(&f.flags, mode)?;
            Ok(Ast::empty(f.span))
        }
        Ast::Concat(c) => {
            let mut rest = Vec::new();
            let mut leading = true;
            for item in &c.asts {
                match item {
                    Ast::Flags(f) if leading => apply_flags(&f.flags, mode)?,
                    other => {
                        leading = false;
                        rest.push(other.clone());
                    }
                }
            }
            Ok(Ast::concat(ast::Concat {
                span: c.span,
                asts: rest,
            }))
        }
        other => Ok(other.clone()),
    }
}

struct Translator {
    ascii_classes: bool,
    non_ascii_letter: bool,
}

fn is_start(a: &Ast) -> Option<AssertionKind> {
    match a {
        Ast::Assertion(x)
            if matches!(x.kind, AssertionKind::StartLine | AssertionKind::StartText) =>
        {
            Some(x.kind.clone())
        }
        _ => None,
    }
}

fn is_end(a: &Ast) -> Option<AssertionKind> {
    match a {
        Ast::Assertion(x) if matches!(x.kind, AssertionKind::EndLine | AssertionKind::EndText) => {
            Some(x.kind.clone())
        }
        _ => None,
    }
}

const SPACE_CLASS: &str = " \t\n\r\u{b}\u{c}";

impl Translator {
    /// The top level: anchors at the ends of each top-level branch decide the `.*` padding.
    fn top(&mut self, a: &Ast, mode: Mode) -> Result<String, Unsupported> {
        match a {
            Ast::Alternation(alt) => {
                let parts: Result<Vec<String>, Unsupported> =
                    alt.asts.iter().map(|b| self.top(b, mode)).collect();
                Ok(format!("({})", parts?.join("|")))
            }
            Ast::Group(g)
                if matches!(
                    g.kind,
                    GroupKind::CaptureIndex(_) | GroupKind::CaptureName { .. }
                ) || matches!(&g.kind, GroupKind::NonCapturing(f) if f.items.is_empty()) =>
            {
                if matches!(*g.ast, Ast::Alternation(_)) || has_assertion(&g.ast) {
                    self.top(&g.ast, mode)
                } else {
                    self.branch(std::slice::from_ref(a), mode)
                }
            }
            Ast::Concat(c) => self.branch(&c.asts, mode),
            other => self.branch(std::slice::from_ref(other), mode),
        }
    }

    fn branch(&mut self, items: &[Ast], mode: Mode) -> Result<String, Unsupported> {
        let mut items = items;
        let mut start = None;
        while let Some((first, rest)) = items.split_first() {
            match is_start(first) {
                Some(k) => {
                    start = Some(k);
                    items = rest;
                }
                None => break,
            }
        }
        let mut end = None;
        while let Some((last, rest)) = items.split_last() {
            match is_end(last) {
                Some(k) => {
                    end = Some(k);
                    items = rest;
                }
                None => break,
            }
        }
        let mut out = String::new();
        out.push_str(match start {
            None => ".*",
            Some(AssertionKind::StartLine) if mode.multi_line => "(.*\n)?",
            Some(_) => "",
        });
        for item in items {
            out.push_str(&self.node(item, mode)?);
        }
        out.push_str(match end {
            None => ".*",
            Some(AssertionKind::EndLine) if mode.multi_line => "(\n.*)?",
            // PCRE's `$` also matches before one final newline.
            Some(AssertionKind::EndLine) => "\n?",
            Some(_) => "",
        });
        Ok(out)
    }

    fn node(&mut self, a: &Ast, mode: Mode) -> Result<String, Unsupported> {
        Ok(match a {
            Ast::Empty(_) => "()".into(),
            Ast::Flags(_) => {
                return Err(Unsupported(
                    "inline flags inside the pattern have no Lucene equivalent".into(),
                ));
            }
            Ast::Literal(l) => {
                if l.c.is_alphabetic() && !l.c.is_ascii() {
                    self.non_ascii_letter = true;
                }
                let mut s = String::new();
                push_lit(&mut s, l.c);
                s
            }
            Ast::Dot(_) => {
                if mode.dot_all {
                    ".".into()
                } else {
                    "[^\n]".into()
                }
            }
            Ast::Assertion(x) => {
                let kind = &x.kind;
                return Err(Unsupported(format!(
                    "the assertion {kind:?} (an anchor inside the pattern or a word boundary) has no Lucene equivalent"
                )));
            }
            Ast::ClassUnicode(_) => {
                return Err(Unsupported(
                    "Unicode classes (\\p{…}) have no Lucene equivalent".into(),
                ));
            }
            Ast::ClassPerl(p) => {
                self.ascii_classes = true;
                format!(
                    "[{}{}]",
                    if p.negated { "^" } else { "" },
                    perl_ranges(&p.kind)
                )
            }
            Ast::ClassBracketed(b) => {
                let mut s = String::from("[");
                if b.negated {
                    s.push('^');
                }
                self.class_set(&b.kind, &mut s)?;
                s.push(']');
                s
            }
            Ast::Repetition(r) => {
                let inner = self.node(&r.ast, mode)?;
                let inner = if is_atom(&r.ast) {
                    inner
                } else {
                    format!("({inner})")
                };
                let op = match &r.op.kind {
                    RepetitionKind::ZeroOrOne => "?".to_string(),
                    RepetitionKind::ZeroOrMore => "*".to_string(),
                    RepetitionKind::OneOrMore => "+".to_string(),
                    RepetitionKind::Range(RepetitionRange::Exactly(n)) => format!("{{{n}}}"),
                    RepetitionKind::Range(RepetitionRange::AtLeast(n)) => format!("{{{n},}}"),
                    RepetitionKind::Range(RepetitionRange::Bounded(n, m)) => {
                        format!("{{{n},{m}}}")
                    }
                };
                // Laziness does not change whether a whole value matches.
                format!("{inner}{op}")
            }
            Ast::Group(g) => {
                if let GroupKind::NonCapturing(f) = &g.kind
                    && !f.items.is_empty()
                {
                    return Err(Unsupported(
                        "scoped inline flags ((?i:…)) have no Lucene equivalent".into(),
                    ));
                }
                let inner = self.node(&g.ast, mode)?;
                if matches!(*g.ast, Ast::Alternation(_)) {
                    // An alternation prints its own parentheses.
                    inner
                } else {
                    format!("({inner})")
                }
            }
            Ast::Alternation(alt) => {
                let parts: Result<Vec<String>, Unsupported> =
                    alt.asts.iter().map(|b| self.node(b, mode)).collect();
                format!("({})", parts?.join("|"))
            }
            Ast::Concat(c) => {
                let mut s = String::new();
                for item in &c.asts {
                    s.push_str(&self.node(item, mode)?);
                }
                s
            }
        })
    }

    fn class_set(&mut self, set: &ClassSet, out: &mut String) -> Result<(), Unsupported> {
        match set {
            ClassSet::Item(i) => self.class_item(i, out),
            ClassSet::BinaryOp(_) => Err(Unsupported(
                "class set operations (&&, --, ~~) have no Lucene equivalent".into(),
            )),
        }
    }

    fn class_item(&mut self, i: &ClassSetItem, out: &mut String) -> Result<(), Unsupported> {
        match i {
            ClassSetItem::Empty(_) => {}
            ClassSetItem::Literal(l) => {
                if l.c.is_alphabetic() && !l.c.is_ascii() {
                    self.non_ascii_letter = true;
                }
                push_lit(out, l.c);
            }
            ClassSetItem::Range(r) => {
                if !r.start.c.is_ascii() || !r.end.c.is_ascii() {
                    self.non_ascii_letter = true;
                }
                push_lit(out, r.start.c);
                out.push('-');
                push_lit(out, r.end.c);
            }
            ClassSetItem::Perl(p) if !p.negated => {
                self.ascii_classes = true;
                out.push_str(&perl_ranges(&p.kind));
            }
            ClassSetItem::Perl(_) => {
                return Err(Unsupported(
                    "a negated shorthand class inside brackets ([\\D…]) has no Lucene equivalent"
                        .into(),
                ));
            }
            ClassSetItem::Ascii(_) | ClassSetItem::Unicode(_) => {
                return Err(Unsupported(
                    "named character classes ([[:alpha:]], \\p{…}) have no Lucene equivalent"
                        .into(),
                ));
            }
            ClassSetItem::Bracketed(_) => {
                return Err(Unsupported(
                    "nested character classes have no Lucene equivalent".into(),
                ));
            }
            ClassSetItem::Union(u) => {
                for item in &u.items {
                    self.class_item(item, out)?;
                }
            }
        }
        Ok(())
    }
}

fn perl_ranges(k: &ClassPerlKind) -> String {
    match k {
        ClassPerlKind::Digit => "0-9".into(),
        ClassPerlKind::Word => "a-zA-Z0-9_".into(),
        ClassPerlKind::Space => SPACE_CLASS.into(),
    }
}

fn is_atom(a: &Ast) -> bool {
    matches!(
        a,
        Ast::Literal(_) | Ast::Dot(_) | Ast::ClassPerl(_) | Ast::ClassBracketed(_) | Ast::Group(_)
    )
}

fn has_assertion(a: &Ast) -> bool {
    match a {
        Ast::Assertion(_) => true,
        Ast::Concat(c) => c.asts.iter().any(has_assertion),
        Ast::Alternation(x) => x.asts.iter().any(has_assertion),
        Ast::Group(g) => has_assertion(&g.ast),
        Ast::Repetition(r) => has_assertion(&r.ast),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(re: &str) -> String {
        translate(re, RegexFlags::default())
            .expect("translates")
            .pattern
    }

    #[test]
    fn search_becomes_whole_value_match() {
        assert_eq!(tr("abc"), ".*abc.*");
        assert_eq!(tr("^abc$"), "abc\n?");
        assert_eq!(tr(r"^a\z"), "a");
        assert_eq!(tr("^a|b$"), "(a.*|.*b\n?)");
        assert_eq!(tr("^(a|b)$"), "(a|b)\n?");
    }

    #[test]
    fn lucene_operators_and_dots() {
        assert_eq!(tr(r"a\.b"), r".*a\.b.*");
        assert_eq!(tr("a.b"), ".*a[^\n]b.*");
        assert_eq!(tr("<a@b&c~#>\""), ".*\\<a\\@b\\&c\\~\\#\\>\\\".*");
        assert_eq!(tr(r"\d{2,3}x+?"), ".*[0-9]{2,3}x+.*");
        assert_eq!(tr(r"[\w.-]"), ".*[a-zA-Z0-9_\\.\\-].*");
        assert_eq!(tr(r"a\nb"), ".*a\nb.*");
        let dot_all = RegexFlags {
            dot_all: true,
            ..Default::default()
        };
        assert_eq!(translate("a.b", dot_all).expect("ok").pattern, ".*a.b.*");
    }

    #[test]
    fn flags_and_refusals() {
        let l = translate("(?i)abc", RegexFlags::default()).expect("ok");
        assert!(l.insensitive);
        assert_eq!(l.pattern, ".*abc.*");
        assert!(translate("a(?=b)", RegexFlags::default()).is_err());
        assert!(translate(r"\bword\b", RegexFlags::default()).is_err());
        assert!(translate("a(?i)b", RegexFlags::default()).is_err());
        assert!(translate(r"\p{L}", RegexFlags::default()).is_err());
        let m = RegexFlags {
            multi_line: true,
            ..Default::default()
        };
        assert_eq!(translate("^a$", m).expect("ok").pattern, "(.*\n)?a(\n.*)?");
    }

    #[test]
    fn wildcard_patterns() {
        let p = Pattern(vec![Seg::Lit("a*b".into()), Seg::Any, Seg::One]);
        assert_eq!(pattern(&p), "a\\*b.*.");
    }
}
