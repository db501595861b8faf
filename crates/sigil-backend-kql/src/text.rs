//! KQL literals, identifiers and field paths.
//!
//! Escaping is a security boundary: every rule value and field name reaches the query only
//! through [`lit`], [`verbatim_or_lit`] or [`ident`], and each stays one token whatever it holds.

use sigil_backend::text::{Quoting, Unicode};

/// Words that cannot be bare column names (operators and keywords of KQL that may stand
/// where a column does); other names that are not plain identifiers are bracket-quoted too.
const RESERVED: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "has",
    "contains",
    "between",
    "by",
    "on",
    "with",
    "as",
    "of",
    "to",
    "from",
    "where",
    "let",
    "set",
    "true",
    "false",
    "null",
    "typeof",
    "step",
    "declare",
    "kind",
    "hint",
    "matches",
    "regex",
    "startswith",
    "endswith",
    "like",
    "asc",
    "desc",
    "nulls",
    "first",
    "last",
    "dynamic",
    "datetime",
    "timespan",
    "bool",
    "int",
    "long",
    "real",
    "string",
    "guid",
    "decimal",
    "double",
    "print",
    "range",
    "union",
    "join",
    "search",
    "project",
    "extend",
    "summarize",
    "sort",
    "order",
    "take",
    "limit",
    "top",
    "count",
    "distinct",
    "evaluate",
    "parse",
    "partition",
    "scan",
    "invoke",
    "render",
    "alias",
    "database",
    "cluster",
    "table",
    "materialize",
    "toscalar",
    "totable",
    "view",
    "restrict",
    "access",
    "pattern",
    "query_parameters",
    "function",
    "iff",
    "case",
];

/// KQL's double-quoted string literal: `"` and `\` escaped, control characters (and the
/// line and paragraph separators, and the byte-order mark) as escapes, never raw, so the
/// literal stays on one line.
pub const STRING: Quoting = Quoting {
    open: "\"",
    close: "\"",
    escapes: &[
        ('"', "\\\""),
        ('\\', "\\\\"),
        ('\n', "\\n"),
        ('\r', "\\r"),
        ('\t', "\\t"),
    ],
    control: Unicode::U4,
    also: &['\u{2028}', '\u{2029}', '\u{feff}'],
};

/// A KQL string literal holding exactly `s` (see [`STRING`]).
pub fn lit(s: &str) -> String {
    // Every character has an escape in KQL's table, so quoting cannot fail.
    STRING.quote(s).unwrap_or_default()
}

/// Characters written as `\uXXXX` in a literal (all in the BMP).
fn needs_unicode_escape(c: char) -> bool {
    c.is_control() || STRING.also.contains(&c)
}

/// A verbatim literal `@"…"` (backslashes literal, `""` for a quote) when `s` has no
/// character that must be escaped, else [`lit`]. Used for regexes, which read better
/// without doubled backslashes.
pub fn verbatim_or_lit(s: &str) -> String {
    if s.chars().any(needs_unicode_escape) {
        return lit(s);
    }
    format!("@\"{}\"", s.replace('"', "\"\""))
}

/// True for names KQL accepts bare: `[A-Za-z_][A-Za-z0-9_]*`, not a keyword.
pub fn is_plain(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.contains(&name.to_ascii_lowercase().as_str())
}

/// A column (or computed column) name: bare when plain, else `["…"]`.
pub fn ident(name: &str) -> String {
    if is_plain(name) {
        name.to_string()
    } else {
        format!("[{}]", lit(name))
    }
}

/// One step below a dynamic value: `.key` when plain, else `["key"]`.
fn member(key: &str) -> String {
    if is_plain(key) {
        format!(".{key}")
    } else {
        format!("[{}]", lit(key))
    }
}

/// A target field as a KQL expression.
///
/// A name without dots is a column. A dotted name is a column (before the first dot) and a
/// path into its dynamic value. Keys that look like URLs or hold other punctuation keep the
/// rest of the name as one key, so `identity.claims.http://schemas.xmlsoap.org/…/upn` reads
/// the claim whose key holds the URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldExpr {
    /// The expression (`EventName`, `userIdentity.arn`, `identity.claims["http://…"]`).
    pub expr: String,
    /// True when the expression reads into a dynamic value (then its text is `tostring(…)`).
    pub dynamic: bool,
}

impl FieldExpr {
    /// The field's text as a string expression.
    pub fn text(&self) -> String {
        if self.dynamic {
            format!("tostring({})", self.expr)
        } else {
            self.expr.clone()
        }
    }
}

/// Splits a target field name into a column and dynamic keys (see [`FieldExpr`]).
///
/// Mapping files may also write keys in KQL's bracket form (`Claims_d['http://…/upn']`):
/// such a key is read as one key, then quoted again like any other.
///
/// A string column that holds JSON text (CloudTrail's `RequestParameters`) is written
/// `parse_json(Column).key…` in a mapping file: the column is parsed and the keys read from
/// the result, which is dynamic. Only a plain column name is accepted inside, so a field
/// name can never smuggle other functions into the query.
pub fn field(name: &str) -> FieldExpr {
    if let Some((column, rest)) = json_column(name) {
        let keys = if rest.is_empty() {
            Vec::new()
        } else {
            dotted(&format!("_{rest}")).1
        };
        let mut expr = format!("parse_json({})", ident(column));
        for k in &keys {
            expr.push_str(&member(k));
        }
        return FieldExpr {
            expr,
            dynamic: true,
        };
    }
    let (column, keys) = bracketed(name).unwrap_or_else(|| dotted(name));
    let mut expr = ident(&column);
    for k in &keys {
        expr.push_str(&member(k));
    }
    FieldExpr {
        expr,
        dynamic: !keys.is_empty(),
    }
}

/// `a.b.c` as a column and keys; a key with punctuation other than `-` keeps the rest of the
/// name (URL claims hold dots).
fn dotted(name: &str) -> (String, Vec<String>) {
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() == 1 || parts[0].is_empty() {
        return (name.to_string(), Vec::new());
    }
    let mut keys: Vec<String> = Vec::new();
    let rest = &parts[1..];
    for (i, p) in rest.iter().enumerate() {
        let simple = !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if simple {
            keys.push((*p).to_string());
        } else {
            keys.push(rest[i..].join("."));
            break;
        }
    }
    (parts[0].to_string(), keys)
}

/// `parse_json(Column)` or `parse_json(Column).rest` → (`Column`, `.rest` or empty).
fn json_column(name: &str) -> Option<(&str, &str)> {
    let inner = name.strip_prefix("parse_json(")?;
    let close = inner.find(')')?;
    let column = &inner[..close];
    let rest = &inner[close + 1..];
    let plain = !column.is_empty()
        && column
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    (plain && (rest.is_empty() || rest.starts_with('.'))).then_some((column, rest))
}

/// `Col['k1'].k2["k3"]`: a column followed by bracketed or dotted keys; `None` when the
/// name has no bracket or does not read this way.
fn bracketed(name: &str) -> Option<(String, Vec<String>)> {
    if !name.contains("['") && !name.contains("[\"") {
        return None;
    }
    let chars: Vec<char> = name.chars().collect();
    let mut i = 0;
    let plain_run = |i: &mut usize| {
        let start = *i;
        while *i < chars.len() && chars[*i] != '.' && chars[*i] != '[' {
            *i += 1;
        }
        chars[start..*i].iter().collect::<String>()
    };
    let quoted = |i: &mut usize| -> Option<String> {
        // at `[`, then a quote
        let q = *chars.get(*i + 1)?;
        if q != '\'' && q != '"' {
            return None;
        }
        let mut j = *i + 2;
        let mut out = String::new();
        while j < chars.len() {
            if chars[j] == q && chars.get(j + 1) == Some(&']') {
                *i = j + 2;
                return Some(out);
            }
            out.push(chars[j]);
            j += 1;
        }
        None
    };
    let column = if chars.first() == Some(&'[') {
        quoted(&mut i)?
    } else {
        plain_run(&mut i)
    };
    if column.is_empty() {
        return None;
    }
    let mut keys = Vec::new();
    while i < chars.len() {
        match chars[i] {
            '.' => {
                i += 1;
                let k = plain_run(&mut i);
                if k.is_empty() {
                    return None;
                }
                keys.push(k);
            }
            '[' => keys.push(quoted(&mut i)?),
            _ => return None,
        }
    }
    Some((column, keys))
}

/// Lower-cases `s` as Sigil's evaluator does: each character becomes the first character of
/// its Unicode lower case (never changing the number of characters).
pub fn fold(s: &str) -> String {
    s.chars()
        .map(|c| c.to_lowercase().next().unwrap_or(c))
        .collect()
}

/// True when a case-insensitive comparison with `s` cannot rely on KQL's ASCII-only
/// insensitive operators: `s` holds a non-ASCII character that has another case.
pub fn needs_tolower(s: &str) -> bool {
    s.chars().any(|c| {
        !c.is_ascii() && (c.to_lowercase().next() != Some(c) || c.to_uppercase().next() != Some(c))
    })
}

/// Text for a `//` comment line: control characters and line separators become spaces.
pub fn comment_text(s: &str) -> String {
    s.chars()
        .map(|c| if needs_unicode_escape(c) { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_quotes_backslashes_and_controls() {
        assert_eq!(
            lit("a\"b\\c\nd\u{1}\u{2028}"),
            "\"a\\\"b\\\\c\\nd\\u0001\\u2028\""
        );
        assert_eq!(verbatim_or_lit("\\d\"x"), "@\"\\d\"\"x\"");
        assert_eq!(verbatim_or_lit("a\nb"), "\"a\\nb\"");
    }

    #[test]
    fn identifiers_are_quoted_when_not_plain() {
        assert_eq!(ident("EventName"), "EventName");
        assert_eq!(ident("@timestamp"), "[\"@timestamp\"]");
        assert_eq!(ident("where"), "[\"where\"]");
        assert_eq!(ident("a'b\"]"), "[\"a'b\\\"]\"]");
    }

    #[test]
    fn json_text_columns_are_parsed() {
        let f = field("parse_json(AdditionalEventData).MFAUsed");
        assert_eq!(f.expr, "parse_json(AdditionalEventData).MFAUsed");
        assert_eq!(
            f.text(),
            "tostring(parse_json(AdditionalEventData).MFAUsed)"
        );
        assert_eq!(
            field("parse_json(RiskEventTypes_V2)").expr,
            "parse_json(RiskEventTypes_V2)"
        );
        assert!(field("parse_json(RiskEventTypes_V2)").dynamic);
        assert_eq!(
            field("parse_json(RequestParameters).a.in").expr,
            "parse_json(RequestParameters).a[\"in\"]"
        );
        // Anything but a plain column inside is an ordinary (odd) name, never an expression.
        assert_ne!(
            field("parse_json(x) | take 1").expr,
            "parse_json(x) | take 1"
        );
        assert!(
            !field("parse_json(a b).c")
                .expr
                .starts_with("parse_json(a b)")
        );
    }

    #[test]
    fn dotted_fields_are_dynamic_paths() {
        assert_eq!(field("EventName").expr, "EventName");
        let f = field("userIdentity.sessionContext.sessionIssuer.arn");
        assert_eq!(f.expr, "userIdentity.sessionContext.sessionIssuer.arn");
        assert_eq!(
            f.text(),
            "tostring(userIdentity.sessionContext.sessionIssuer.arn)"
        );
        assert_eq!(
            field("identity.claims.http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn").expr,
            "identity.claims[\"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn\"]"
        );
        assert_eq!(field("a.in.b").expr, "a[\"in\"].b");
        assert_eq!(field(".x").expr, "[\".x\"]");
        assert_eq!(
            field("Claims_d['http://a.b/c'].x").expr,
            "Claims_d[\"http://a.b/c\"].x"
        );
        assert_eq!(field("a['unclosed").expr, "[\"a['unclosed\"]");
    }

    #[test]
    fn folding_and_ascii_detection() {
        assert_eq!(fold("ÄBİ"), "äbi");
        assert!(needs_tolower("straße Ä"));
        assert!(!needs_tolower("abc-123 €"));
    }
}
