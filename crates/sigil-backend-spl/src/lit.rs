//! SPL literals and names: the one place rule text enters the query.
//!
//! Two kinds of quoted text exist in SPL. A double-quoted string (search-command values, eval
//! strings) takes `\"` and `\\` as escapes. A single-quoted name (`'a.b'`) is an eval field
//! reference. Neither may hold a raw newline or control character (a saved search is one
//! line of `savedsearches.conf`), and neither may hold a backtick, because Splunk expands
//! `` `macro` `` references before it parses the search, so a backtick pair inside a literal
//! could splice a macro into the query. Values holding such characters never reach a literal
//! as-is: they are matched with a regex whose escapes (`\x{60}`, `\n`) spell them.

use sigil_backend::text::{Quoting, RegexDialect, Unicode, regex_escape};
use sigil_ir::{Pattern, Seg};
use std::fmt::Write;

/// SPL's double-quoted string literal: `\` and `"` escaped; characters no literal may carry
/// are refused: control characters, backticks (macro expansion), and the Unicode line and
/// paragraph separators (which some editors and parsers treat as line breaks).
pub const STRING: Quoting = Quoting {
    open: "\"",
    close: "\"",
    escapes: &[('"', "\\\""), ('\\', "\\\\")],
    control: Unicode::Unsupported,
    also: &['`', '\u{2028}', '\u{2029}'],
};

/// True for characters that must never appear raw in the query text (see [`STRING`]).
pub fn unsafe_char(c: char) -> bool {
    c.is_control() || STRING.also.contains(&c)
}

/// A double-quoted SPL string holding exactly `s`, or `None` when `s` holds a character
/// no literal may carry ([`unsafe_char`]).
pub fn string(s: &str) -> Option<String> {
    STRING.quote(s).ok()
}

/// A field name usable bare in the search command (`userIdentity.arn`, `tags{}`).
pub fn plain_search_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '{' | '}'))
        && !matches!(name, "AND" | "OR" | "NOT" | "IN" | "TERM" | "CASE")
}

/// A column name usable bare in eval, stats and table (`identity`, `event_count`). Dots are
/// excluded: in an eval expression `a.b` is the concatenation of `a` and `b`.
pub fn plain_column(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !matches!(
            name,
            "AND" | "OR" | "NOT" | "IN" | "XOR" | "LIKE" | "AS" | "BY"
        )
}

/// A column for a rule-given name: itself when plain, else a sanitised identifier.
pub fn column(name: &str) -> String {
    if plain_column(name) {
        name.to_string()
    } else {
        sigil_backend::text::identifier(name)
    }
}

/// An eval field reference `'name'`, or `None` when the name holds a character a
/// single-quoted name cannot carry (quotes, backslashes, backticks, control characters).
pub fn field_ref(name: &str) -> Option<String> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| unsafe_char(c) || matches!(c, '\'' | '"' | '\\'))
    {
        return None;
    }
    Some(format!("'{name}'"))
}

/// Escapes literal text for PCRE so that the result holds no raw control character or
/// backtick (they are written `\x{..}`).
pub fn regex_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if unsafe_char(c) && !matches!(c, '\n' | '\r' | '\t') {
            let _ = write!(out, "\\x{{{:x}}}", c as u32);
        } else {
            out.push_str(&regex_escape(&c.to_string(), RegexDialect::Perl));
        }
    }
    out
}

/// A whole-value wildcard pattern as a PCRE body (no anchors, no flags).
pub fn pattern_regex(p: &Pattern) -> String {
    let mut out = String::new();
    for seg in &p.0 {
        match seg {
            Seg::Lit(s) => out.push_str(&regex_text(s)),
            Seg::Any => out.push_str("(?s:.*)"),
            Seg::One => out.push_str("(?s:.)"),
        }
    }
    out
}

/// Rewrites a rule's regex so it holds no raw control character or backtick: each is spelt
/// `\x{..}` (an escaped one loses its now-needless backslash). `None` when the regex quotes
/// text with `\Q…\E`, inside which an escape would be literal.
pub fn safe_regex(re: &str) -> Option<String> {
    if !re.chars().any(unsafe_char) {
        return Some(re.to_string());
    }
    if re.contains("\\Q") {
        return None;
    }
    let mut out = String::with_capacity(re.len() + 8);
    let mut escaped = false;
    for c in re.chars() {
        if unsafe_char(c) {
            if escaped {
                out.pop();
            }
            let _ = write!(out, "\\x{{{:x}}}", c as u32);
            escaped = false;
            continue;
        }
        escaped = c == '\\' && !escaped;
        out.push(c);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_quotes_and_backslashes_and_refuse_controls() {
        assert_eq!(string(r#"a"b\c"#).as_deref(), Some(r#""a\"b\\c""#));
        assert_eq!(string("a\nb"), None);
        assert_eq!(string("a`b`"), None);
        assert_eq!(
            string("ünï | [x] = *").as_deref(),
            Some("\"ünï | [x] = *\"")
        );
    }

    #[test]
    fn names() {
        assert!(plain_search_name("userIdentity.arn"));
        assert!(plain_search_name("tags{}"));
        assert!(!plain_search_name("identity.claims.http://x/y"));
        assert!(!plain_search_name("NOT"));
        assert_eq!(field_ref("a.b://c").as_deref(), Some("'a.b://c'"));
        assert_eq!(field_ref("a'b"), None);
        assert_eq!(column("a-b"), "a_b");
        assert_eq!(column("user.arn"), "user_arn");
    }

    #[test]
    fn regexes_never_carry_raw_controls() {
        assert_eq!(regex_text("a`b\u{1}.\n"), "a\\x{60}b\\x{1}\\.\\n");
        assert_eq!(safe_regex("a\\\nb`").as_deref(), Some("a\\x{a}b\\x{60}"));
        assert_eq!(safe_regex("a\\\\\nb").as_deref(), Some("a\\\\\\x{a}b"));
        assert_eq!(safe_regex("\\Q`\\E"), None);
        assert_eq!(safe_regex("plain\\d").as_deref(), Some("plain\\d"));
    }
}
