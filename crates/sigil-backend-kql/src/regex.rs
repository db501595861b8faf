//! Sigma regexes (PCRE flavour, as Sigil's evaluator reads them) as RE2 regexes for
//! `matches regex`.

use regex_syntax::ast::{
    self, AssertionKind, Ast, ClassPerlKind, ClassSet, ClassSetItem, Flag, GroupKind,
};
use sigil_ir::RegexFlags;

/// A regex ready for `matches regex`, with the differences that remain.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Translated {
    /// The RE2 pattern, flags first.
    pub pattern: String,
    /// Differences from the evaluator's meaning, one message each.
    pub notes: Vec<String>,
}

/// Translates `re` with `flags`, or says why RE2 cannot express it.
pub fn translate(re: &str, flags: RegexFlags) -> Result<Translated, String> {
    let ast = ast::parse::Parser::new().parse(re).map_err(|_| {
        "the regex uses syntax RE2 lacks (look-around, backreferences, possessive quantifiers, \
         atomic groups or recursion)"
            .to_string()
    })?;
    let mut scan = Scan::default();
    scan.walk(&ast)?;
    let mut notes = Vec::new();
    let mut body = re.to_string();
    // PCRE's `$` (without `m`) also matches before a final newline; RE2's only at the end.
    // A `$` that ends the pattern (or one of its top-level alternatives) becomes `\n?\z`,
    // which matches the same texts; any other `$` keeps RE2's meaning, with a note.
    if scan.end_line > 0 {
        if flags.multi_line || scan.inline_flags {
            if !flags.multi_line {
                notes.push(
                    "`$` under inline flags keeps RE2's meaning: it does not match before a \
                     final newline as it does in PCRE and Sigil"
                        .to_string(),
                );
            }
        } else {
            let mut spans = trailing_end_lines(&ast);
            if spans.len() < scan.end_line {
                notes.push(
                    "a `$` inside the pattern does not match before a final newline in RE2, as \
                     it does in PCRE and Sigil"
                        .to_string(),
                );
            }
            spans.sort_by_key(|s| std::cmp::Reverse(s.0));
            for (start, end) in spans {
                body.replace_range(start..end, "(?:\\n?\\z)");
            }
        }
    }
    if scan.ascii_classes {
        notes.push(
            "`\\d`, `\\w`, `\\s` and `\\b` are ASCII-only in RE2 (as in PCRE) but match Unicode \
             digits, letters and spaces in Sigil's evaluator"
                .to_string(),
        );
    }
    let mut prefix = String::new();
    if flags.ignore_case {
        prefix.push('i');
    }
    if flags.multi_line {
        prefix.push('m');
    }
    if flags.dot_all {
        prefix.push('s');
    }
    let pattern = if prefix.is_empty() {
        body
    } else {
        format!("(?{prefix}){body}")
    };
    Ok(Translated { pattern, notes })
}

/// What the walk found.
#[derive(Default)]
struct Scan {
    end_line: usize,
    inline_flags: bool,
    ascii_classes: bool,
}

impl Scan {
    fn walk(&mut self, node: &Ast) -> Result<(), String> {
        match node {
            Ast::Assertion(a) => match a.kind {
                AssertionKind::EndLine => self.end_line += 1,
                AssertionKind::WordBoundary | AssertionKind::NotWordBoundary => {
                    self.ascii_classes = true
                }
                AssertionKind::StartLine | AssertionKind::StartText | AssertionKind::EndText => {}
                _ => {
                    return Err(
                        "the regex uses word-boundary forms RE2 lacks (`\\b{start}`, `\\<`)".into(),
                    );
                }
            },
            Ast::ClassPerl(p) => {
                if matches!(
                    p.kind,
                    ClassPerlKind::Digit | ClassPerlKind::Word | ClassPerlKind::Space
                ) {
                    self.ascii_classes = true;
                }
            }
            Ast::Flags(f) => self.flags(&f.flags)?,
            Ast::Group(g) => {
                if let GroupKind::NonCapturing(f) = &g.kind {
                    self.flags(f)?;
                }
                self.walk(&g.ast)?;
            }
            Ast::Repetition(r) => self.walk(&r.ast)?,
            Ast::Alternation(a) => a.asts.iter().try_for_each(|x| self.walk(x))?,
            Ast::Concat(c) => c.asts.iter().try_for_each(|x| self.walk(x))?,
            Ast::ClassBracketed(b) => self.set(&b.kind)?,
            _ => {}
        }
        Ok(())
    }

    fn flags(&mut self, f: &ast::Flags) -> Result<(), String> {
        for item in &f.items {
            if let ast::FlagsItemKind::Flag(flag) = item.kind {
                self.inline_flags = true;
                if matches!(flag, Flag::IgnoreWhitespace | Flag::CRLF) {
                    return Err("the regex uses an inline flag RE2 lacks (`x` or `R`)".into());
                }
            }
        }
        Ok(())
    }

    fn set(&mut self, set: &ClassSet) -> Result<(), String> {
        match set {
            ClassSet::BinaryOp(_) => {
                Err("the regex uses class set operations (`&&`, `--`, `~~`) RE2 lacks".into())
            }
            ClassSet::Item(i) => self.item(i),
        }
    }

    fn item(&mut self, i: &ClassSetItem) -> Result<(), String> {
        match i {
            ClassSetItem::Perl(p) => {
                if matches!(
                    p.kind,
                    ClassPerlKind::Digit | ClassPerlKind::Word | ClassPerlKind::Space
                ) {
                    self.ascii_classes = true;
                }
                Ok(())
            }
            ClassSetItem::Bracketed(b) => self.set(&b.kind),
            ClassSetItem::Union(u) => u.items.iter().try_for_each(|x| self.item(x)),
            _ => Ok(()),
        }
    }
}

/// Byte ranges of the `$` assertions that end the pattern or one of its top-level
/// alternatives.
fn trailing_end_lines(ast: &Ast) -> Vec<(usize, usize)> {
    fn last(node: &Ast) -> Option<(usize, usize)> {
        match node {
            Ast::Assertion(a) if a.kind == AssertionKind::EndLine => {
                Some((a.span.start.offset, a.span.end.offset))
            }
            Ast::Concat(c) => c.asts.last().and_then(last_direct),
            _ => None,
        }
    }
    fn last_direct(node: &Ast) -> Option<(usize, usize)> {
        match node {
            Ast::Assertion(a) if a.kind == AssertionKind::EndLine => {
                Some((a.span.start.offset, a.span.end.offset))
            }
            _ => None,
        }
    }
    match ast {
        Ast::Alternation(a) => a.asts.iter().filter_map(last).collect(),
        other => last(other).into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(i: bool) -> RegexFlags {
        RegexFlags {
            ignore_case: i,
            ..Default::default()
        }
    }

    #[test]
    fn trailing_dollar_matches_before_a_final_newline() {
        let t = translate("^a(b|c)$", flags(true)).expect("re2");
        assert_eq!(t.pattern, "(?i)^a(b|c)(?:\\n?\\z)");
        assert!(t.notes.is_empty());
        let t = translate("a$|b$", flags(false)).expect("re2");
        assert_eq!(t.pattern, "a(?:\\n?\\z)|b(?:\\n?\\z)");
        let t = translate("a$\\n", flags(false)).expect("re2");
        assert_eq!(t.pattern, "a$\\n");
        assert_eq!(t.notes.len(), 1);
    }

    #[test]
    fn beyond_re2_is_refused_and_classes_noted() {
        assert!(translate("a(?=b)", flags(false)).is_err());
        assert!(translate("(a)\\1", flags(false)).is_err());
        assert!(translate("[a-z&&[^x]]", flags(false)).is_err());
        assert!(translate("(?x)a b", flags(false)).is_err());
        let t = translate("\\d+\\b", flags(false)).expect("re2");
        assert_eq!(t.notes.len(), 1);
        let t = translate(
            "x",
            RegexFlags {
                ignore_case: true,
                multi_line: true,
                dot_all: true,
            },
        )
        .expect("re2");
        assert_eq!(t.pattern, "(?ims)x");
    }
}
