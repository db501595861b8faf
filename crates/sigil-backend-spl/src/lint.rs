//! A structural checker for the SPL this backend writes (there is no offline SPL parser).
//!
//! It reads a query the way Splunk's pipeline splitter does: double-quoted strings (with
//! `\"` and `\\` escapes) and single-quoted field names are opaque, `|` outside them starts a
//! stage, `[…]` is a subsearch. It fails on anything that could let a rule value escape its
//! literal: an unterminated literal, unbalanced brackets, a backtick (macro expansion)
//! anywhere, a control character inside a literal, a backslash outside a literal, a
//! subsearch outside `multisearch`/`append`, or a stage whose command is not one this
//! backend emits. It returns the decoded literals so tests can check that each rule value
//! is still exactly one of them.

/// Commands the backend emits.
pub const COMMANDS: &[&str] = &[
    "search",
    "where",
    "eval",
    "stats",
    "streamstats",
    "sort",
    "table",
    "multisearch",
    "append",
];

/// What a well-formed query holds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Every double-quoted string, decoded, in order.
    pub strings: Vec<String>,
    /// Every single-quoted field name, in order.
    pub names: Vec<String>,
    /// The command of every stage after a pipe, in order.
    pub commands: Vec<String>,
}

/// Checks a query's structure; the error says what is wrong and where.
pub fn check(q: &str) -> Result<Checked, String> {
    let chars: Vec<char> = q.chars().collect();
    let mut out = Checked::default();
    let mut stack: Vec<char> = Vec::new();
    // The command of the current stage at each subsearch depth.
    let mut stage: Vec<String> = vec!["search".into()];
    let mut i = 0;
    let err = |i: usize, m: &str| Err(format!("at char {i}: {m}"));
    if q.trim_end().ends_with('\\') {
        return err(
            chars.len(),
            "query ends with a backslash (a .conf line continuation)",
        );
    }
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    let Some(&d) = chars.get(i) else {
                        return err(i, "unterminated string");
                    };
                    if d == '`' || d.is_control() || matches!(d, '\u{2028}' | '\u{2029}') {
                        return err(i, "backtick or control character inside a string");
                    }
                    if d == '\\' {
                        match chars.get(i + 1) {
                            Some('"') => s.push('"'),
                            Some('\\') => s.push('\\'),
                            Some(&e) if e == '`' || e.is_control() => {
                                return err(i, "escaped backtick or control character");
                            }
                            Some(&e) => {
                                s.push('\\');
                                s.push(e);
                            }
                            None => return err(i, "unterminated string"),
                        }
                        i += 2;
                        continue;
                    }
                    if d == '"' {
                        break;
                    }
                    s.push(d);
                    i += 1;
                }
                out.strings.push(s);
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    let Some(&d) = chars.get(i) else {
                        return err(i, "unterminated field name");
                    };
                    if d == '\'' {
                        break;
                    }
                    if d == '`' || d == '\\' || d == '"' || d.is_control() {
                        return err(i, "bad character in a field name");
                    }
                    s.push(d);
                    i += 1;
                }
                out.names.push(s);
            }
            '`' => return err(i, "backtick outside a literal (macro expansion)"),
            '\\' => return err(i, "backslash outside a literal"),
            '(' => stack.push('('),
            ')' => match stack.pop() {
                Some('(') => {}
                _ => return err(i, "unbalanced `)`"),
            },
            '[' => {
                let cmd = stage.last().map(String::as_str).unwrap_or("");
                if cmd != "multisearch" && cmd != "append" {
                    return err(i, "subsearch outside multisearch/append");
                }
                stack.push('[');
                let rest: String = chars[i + 1..].iter().collect();
                let rest = rest.trim_start();
                if rest.starts_with('|') {
                    stage.push(String::new());
                } else if rest.starts_with("search ") {
                    stage.push("search".into());
                } else {
                    return err(i, "a subsearch must start with `search` or `|`");
                }
            }
            ']' => match stack.pop() {
                Some('[') => {
                    stage.pop();
                }
                _ => return err(i, "unbalanced `]`"),
            },
            '|' => {
                if stack.last() == Some(&'(') {
                    return err(i, "pipe inside parentheses");
                }
                let word: String = chars[i + 1..]
                    .iter()
                    .skip_while(|c| c.is_whitespace())
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                    .collect();
                if !COMMANDS.contains(&word.as_str()) {
                    return err(i, &format!("unknown command `{word}`"));
                }
                out.commands.push(word.clone());
                if let Some(s) = stage.last_mut() {
                    *s = word;
                }
            }
            '\n' | ' ' => {}
            c if c.is_control() => return err(i, "control character outside a literal"),
            _ => {}
        }
        i += 1;
    }
    if !stack.is_empty() {
        return err(chars.len(), "unclosed bracket");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_well_formed_queries() {
        let c = check("index=\"a\" x=\"p|q\\\"r\" | where match('a.b', \"\\\\d\")\n| multisearch [search x=\"1\"] [| multisearch [search y]]").unwrap();
        assert_eq!(c.strings, vec!["a", "p|q\"r", "\\d", "1"]);
        assert_eq!(c.names, vec!["a.b"]);
    }

    #[test]
    fn rejects_breakouts() {
        for q in [
            "x=\"a",
            "x=\"a`b`\"",
            "x=`m`",
            "x=a | delete",
            "x=(a",
            "x=[search y]",
            "x=\"a\nb\"",
            "x=\"a\" \\",
            "| where f('a)",
        ] {
            assert!(check(q).is_err(), "{q}");
        }
    }
}
