//! Renderers: a human form with a source snippet, and a JSON form for machines.

use crate::{Diagnostic, Span};
use serde::Serialize;
use std::fmt::Write as _;

/// Renders one diagnostic for a terminal, quoting the source line(s) it points at.
///
/// `source` is the text of the diagnostic's file when available; without it the snippet
/// is left out and only the location line is printed.
pub fn render_human(d: &Diagnostic, source: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}[{}]: {}", d.severity, d.code, d.message);
    let loc = &d.location;
    let mut where_ = loc.file.to_string();
    if let Some(s) = loc.span {
        let _ = write!(where_, ":{}:{}", s.start.line, s.start.col);
    }
    if let Some(p) = &loc.path {
        let _ = write!(where_, " ({p})");
    }
    let gutter = loc
        .span
        .iter()
        .chain(d.labels.iter().map(|l| &l.span))
        .map(|s| s.start.line.to_string().len())
        .max()
        .unwrap_or(1);
    let pad = " ".repeat(gutter);
    let _ = writeln!(out, "{pad}--> {where_}");
    if let (Some(span), Some(text)) = (loc.span, source) {
        let _ = writeln!(out, "{pad} |");
        snippet(&mut out, text, span, "", gutter);
        for l in &d.labels {
            snippet(&mut out, text, l.span, &l.message, gutter);
        }
        let _ = writeln!(out, "{pad} |");
    }
    for h in &d.hints {
        let _ = writeln!(out, "{pad} = hint: {h}");
    }
    out
}

fn snippet(out: &mut String, text: &str, span: Span, label: &str, gutter: usize) {
    let line_no = span.start.line as usize;
    let Some(line) = text.lines().nth(line_no.saturating_sub(1)) else {
        return;
    };
    // Tabs would shift the caret; showing them as one space keeps columns aligned.
    let shown: String = line
        .chars()
        .map(|c| if c == '\t' { ' ' } else { c })
        .collect();
    let width = shown.chars().count();
    let start = (span.start.col as usize).saturating_sub(1).min(width);
    let end = if span.end.line == span.start.line {
        (span.end.col as usize)
            .saturating_sub(1)
            .clamp(start, width)
    } else {
        width
    };
    let carets = (end - start).max(1);
    let _ = writeln!(out, "{:>gutter$} | {}", line_no, shown.trim_end());
    let _ = write!(
        out,
        "{:gutter$} | {}{}",
        "",
        " ".repeat(start),
        "^".repeat(carets)
    );
    if label.is_empty() {
        out.push('\n');
    } else {
        let _ = writeln!(out, " {label}");
    }
}

/// The JSON shape of one diagnostic (`sigil check --format json`): a stable contract.
#[derive(Serialize, Debug)]
pub struct JsonDiagnostic<'a> {
    /// File the diagnostic is in.
    pub file: &'a str,
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// 1-based column in characters, 0 when unknown.
    pub column: u32,
    /// 1-based end line, 0 when unknown.
    pub end_line: u32,
    /// 1-based end column (exclusive), 0 when unknown.
    pub end_column: u32,
    /// Stable code such as `S203`.
    pub code: &'a str,
    /// Kebab-case name of the code.
    pub name: &'a str,
    /// `error` or `warning`.
    pub severity: &'a str,
    /// The message.
    pub message: &'a str,
    /// YAML path of the node, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<&'a str>,
    /// Suggested fixes.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub hints: &'a [String],
}

/// Renders one diagnostic as a single-line JSON object.
pub fn render_json(d: &Diagnostic) -> String {
    let span = d.location.span.unwrap_or_default();
    let j = JsonDiagnostic {
        file: &d.location.file,
        line: span.start.line,
        column: span.start.col,
        end_line: span.end.line,
        end_column: span.end.col,
        code: d.code.as_str(),
        name: d.code.slug(),
        severity: match d.severity {
            crate::Severity::Error => "error",
            crate::Severity::Warning => "warning",
        },
        message: &d.message,
        path: d.location.path.as_deref(),
        hints: &d.hints,
    };
    serde_json::to_string(&j).unwrap_or_else(|_| String::from("{}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Code, Pos};

    #[test]
    fn human_render_points_at_the_span() {
        let src = "title: x\ndetection:\n  condition: selectio\n";
        let d = Diagnostic::new(Code::UndefinedIdentifier, "`selectio` is not defined")
            .in_file("r.yml".into())
            .at(Some(Span::new(Pos::new(3, 14), Pos::new(3, 22))))
            .path("detection.condition")
            .hint("did you mean `selection`?");
        let r = render_human(&d, Some(src));
        assert!(r.contains("r.yml:3:14 (detection.condition)"), "{r}");
        assert!(
            r.contains("  condition: selectio\n  |              ^^^^^^^^"),
            "{r}"
        );
        assert!(r.contains("= hint: did you mean"), "{r}");
    }

    #[test]
    fn json_render_has_the_contract_fields() {
        let d = Diagnostic::new(Code::UnusedIdentifier, "unused").in_file("a.yml".into());
        let v: serde_json::Value = serde_json::from_str(&render_json(&d)).unwrap();
        for k in ["file", "line", "column", "code", "severity", "message"] {
            assert!(v.get(k).is_some(), "{k} missing");
        }
        assert_eq!(v["severity"], "warning");
    }
}
