//! Literal quoting, wildcard and regex translation, and number printing shared by targets.
//!
//! Escaping is a security boundary: a rule value must stay one literal in every target. Each
//! target describes its string literal as a [`Quoting`] table; the property tests of each
//! backend feed arbitrary strings through it.

use sigil_ir::{Pattern, Seg, Value};
use std::fmt::Write;

/// How control characters without a named escape are written inside a literal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unicode {
    /// `\uXXXX` (UTF-16 code units; astral characters as surrogate pairs).
    U4,
    /// `\u{XX…}` (two to eight hex digits).
    UBraces,
    /// The literal cannot hold such characters: quoting fails.
    Unsupported,
}

/// A target's string literal: delimiters, named escapes and the control-character fallback.
#[derive(Clone, Copy, Debug)]
pub struct Quoting {
    /// Opening delimiter.
    pub open: &'static str,
    /// Closing delimiter.
    pub close: &'static str,
    /// Characters written as a fixed escape (`"` → `\"`).
    pub escapes: &'static [(char, &'static str)],
    /// Fallback for other control characters (Unicode `Cc`: U+0000–U+001F, U+007F–U+009F)
    /// and for the characters in `also`.
    pub control: Unicode,
    /// Further characters that must not appear raw (KQL: the line and paragraph separators).
    pub also: &'static [char],
}

impl Quoting {
    /// Quotes `s`, or returns the first character the literal cannot hold.
    pub fn quote(&self, s: &str) -> Result<String, char> {
        let mut out = String::with_capacity(s.len() + 2);
        out.push_str(self.open);
        for c in s.chars() {
            if let Some((_, e)) = self.escapes.iter().find(|(k, _)| *k == c) {
                out.push_str(e);
            } else if c.is_control() || self.also.contains(&c) {
                match self.control {
                    Unicode::U4 => {
                        let _ = write!(out, "\\u{:04x}", c as u32);
                    }
                    Unicode::UBraces => {
                        // At least two hex digits: Elasticsearch's EQL reads 2 to 8.
                        let _ = write!(out, "\\u{{{:02x}}}", c as u32);
                    }
                    Unicode::Unsupported => return Err(c),
                }
            } else {
                out.push(c);
            }
        }
        out.push_str(self.close);
        Ok(out)
    }
}

/// Regex dialects whose metacharacters differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegexDialect {
    /// RE2 (KQL, YARA-L) and PCRE (SPL): backslash escapes every ASCII punctuation mark.
    Perl,
    /// Lucene (Elasticsearch EQL): anchored, more reserved characters, no `\d` classes.
    Lucene,
}

/// Escapes literal text for a regex of `dialect`.
pub fn regex_escape(s: &str, dialect: RegexDialect) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let special = match dialect {
            RegexDialect::Perl => "\\.+*?()|[]{}^$#&-~",
            RegexDialect::Lucene => "\\.+*?()|[]{}^$\"#@&<>~/",
        };
        match c {
            // Lucene has no escape sequences: a control character stands for itself (the
            // string literal around the regex escapes it), and `\n` would mean the letter n.
            '\n' | '\r' | '\t' if dialect == RegexDialect::Lucene => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if special.contains(c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A whole-value wildcard pattern as a regex body (without anchors or flags).
pub fn pattern_regex(p: &Pattern, dialect: RegexDialect) -> String {
    let mut out = String::new();
    for seg in &p.0 {
        match seg {
            Seg::Lit(s) => out.push_str(&regex_escape(s, dialect)),
            Seg::Any => out.push_str(if dialect == RegexDialect::Perl {
                "(?s:.*)"
            } else {
                ".*"
            }),
            Seg::One => out.push_str(if dialect == RegexDialect::Perl {
                "(?s:.)"
            } else {
                "."
            }),
        }
    }
    out
}

/// True when a literal segment contains a character that is a glob wildcard in targets.
pub fn has_glob_chars(p: &Pattern) -> bool {
    p.0.iter()
        .any(|s| matches!(s, Seg::Lit(l) if l.contains(['*', '?'])))
}

/// Regex features that some dialects lack.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RegexFeatures {
    /// The pattern does not parse as a Rust/RE2-style regex (lookaround, backreferences,
    /// possessive quantifiers, atomic groups…).
    pub beyond_re2: bool,
    /// Start or end anchors, or word boundaries.
    pub anchors: bool,
    /// Shorthand classes (`\d`, `\w`, `\s`) or Unicode classes.
    pub classes: bool,
    /// Inline flag groups (`(?i)`).
    pub inline_flags: bool,
}

/// Inspects a regex for the features targets differ on.
pub fn regex_features(re: &str) -> RegexFeatures {
    let mut f = RegexFeatures::default();
    let ast = match regex_syntax::ast::parse::Parser::new().parse(re) {
        Ok(a) => a,
        Err(_) => {
            f.beyond_re2 = true;
            return f;
        }
    };
    let mut stack = vec![&ast];
    while let Some(node) = stack.pop() {
        use regex_syntax::ast::Ast;
        match node {
            Ast::Assertion(_) => f.anchors = true,
            Ast::ClassPerl(_) | Ast::ClassUnicode(_) => f.classes = true,
            Ast::Flags(_) => f.inline_flags = true,
            Ast::Group(g) => {
                if matches!(g.kind, regex_syntax::ast::GroupKind::NonCapturing(ref fl) if !fl.items.is_empty())
                {
                    f.inline_flags = true;
                }
                stack.push(&g.ast);
            }
            Ast::Repetition(r) => stack.push(&r.ast),
            Ast::Alternation(a) => stack.extend(a.asts.iter()),
            Ast::Concat(c) => stack.extend(c.asts.iter()),
            Ast::ClassBracketed(b) if set_has_class(&b.kind) => f.classes = true,
            _ => {}
        }
    }
    f
}

/// True when a bracketed class holds a shorthand (`[\d_]`) or Unicode class.
fn set_has_class(set: &regex_syntax::ast::ClassSet) -> bool {
    use regex_syntax::ast::{ClassSet, ClassSetItem};
    fn item(i: &ClassSetItem) -> bool {
        match i {
            ClassSetItem::Perl(_) | ClassSetItem::Unicode(_) => true,
            ClassSetItem::Bracketed(b) => set_has_class(&b.kind),
            ClassSetItem::Union(u) => u.items.iter().any(item),
            _ => false,
        }
    }
    match set {
        ClassSet::Item(i) => item(i),
        ClassSet::BinaryOp(op) => set_has_class(&op.lhs) || set_has_class(&op.rhs),
    }
}

/// A number as targets print it: integers without a fraction, others in shortest form.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// A non-string value's text (`Value::Str` is quoted by the caller).
pub fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Str(_) => None,
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(number(*f)),
        Value::Bool(b) => Some(b.to_string()),
    }
}

/// A duration in the largest whole unit of `d`, `h`, `m`, `s`, `ms` (`15m`).
pub fn duration(ms: u64) -> String {
    for (unit, n) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms >= n && ms.is_multiple_of(n) {
            return format!("{}{unit}", ms / n);
        }
    }
    format!("{ms}ms")
}

/// Characters allowed in a bare identifier made from a rule name (`[A-Za-z0-9_]`).
pub fn identifier(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DQ: Quoting = Quoting {
        open: "\"",
        close: "\"",
        escapes: &[('"', "\\\""), ('\\', "\\\\"), ('\n', "\\n")],
        control: Unicode::U4,
        also: &['\u{2028}'],
    };

    #[test]
    fn quoting_escapes_and_rejects() {
        assert_eq!(
            DQ.quote("a\"b\\c\nd\u{1}").as_deref(),
            Ok("\"a\\\"b\\\\c\\nd\\u0001\"")
        );
        let strict = Quoting {
            control: Unicode::Unsupported,
            ..DQ
        };
        assert_eq!(strict.quote("x\u{2}"), Err('\u{2}'));
    }

    #[test]
    fn wildcard_patterns_become_regexes() {
        let p = Pattern(vec![
            Seg::Lit("a.b".into()),
            Seg::Any,
            Seg::One,
            Seg::Lit("(x)".into()),
        ]);
        assert_eq!(
            pattern_regex(&p, RegexDialect::Perl),
            "a\\.b(?s:.*)(?s:.)\\(x\\)"
        );
        assert_eq!(pattern_regex(&p, RegexDialect::Lucene), "a\\.b.*.\\(x\\)");
        assert_eq!(regex_escape("a\nb", RegexDialect::Lucene), "a\nb");
        assert_eq!(regex_escape("a\nb", RegexDialect::Perl), "a\\nb");
        let braces = Quoting {
            control: Unicode::UBraces,
            ..DQ
        };
        assert_eq!(braces.quote("\u{1}").as_deref(), Ok("\"\\u{01}\""));
    }

    #[test]
    fn regex_features_are_found() {
        assert!(regex_features("a(?=b)").beyond_re2);
        assert!(regex_features("^a$").anchors);
        assert!(regex_features(r"\d+").classes);
        assert!(regex_features(r"[\w.]+").classes);
        assert!(!regex_features(r"[a-z.]+").classes);
        assert!(regex_features("(?i)a").inline_flags);
        assert_eq!(regex_features("ab|c"), RegexFeatures::default());
    }

    #[test]
    fn durations_and_numbers() {
        assert_eq!(duration(900_000), "15m");
        assert_eq!(duration(90_000), "90s");
        assert_eq!(duration(1500), "1500ms");
        assert_eq!(number(10.0), "10");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(identifier("9 a-b"), "_9_a_b");
    }

    proptest! {
        #[test]
        fn escaped_literals_match_themselves_in_perl_regexes(s in "\\PC*") {
            let re = format!("^{}$", regex_escape(&s, RegexDialect::Perl));
            let r = regex_syntax::Parser::new().parse(&re);
            prop_assert!(r.is_ok(), "{re}");
        }

        #[test]
        fn quoted_text_has_no_bare_delimiter(s in ".*") {
            let q = DQ.quote(&s).expect("quotable");
            let body = &q[1..q.len() - 1];
            let mut chars = body.chars();
            while let Some(c) = chars.next() {
                prop_assert!(c != '"' && c != '\n');
                if c == '\\' {
                    prop_assert!(chars.next().is_some());
                }
            }
        }
    }
}
