//! Positions, source files and the single `Diagnostic` type every Sigil stage reports with.
//!
//! Libraries collect diagnostics and return them; only the CLI renders them. Every
//! diagnostic carries a stable [`Code`], documented in `docs/errors.md` (a test keeps the
//! two in step), so machines can key on the code and humans can look it up.

mod code;
mod render;

pub use code::{Code, Severity};
pub use render::{JsonDiagnostic, render_human, render_json};

use serde::Serialize;
use std::sync::Arc;

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
pub struct Pos {
    /// Line number, starting at 1.
    pub line: u32,
    /// Column number in characters, starting at 1.
    pub col: u32,
}

impl Pos {
    /// Builds a position from 1-based line and column.
    pub fn new(line: u32, col: u32) -> Self {
        Pos { line, col }
    }
}

/// A range of source text from `start` (inclusive) to `end` (exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
pub struct Span {
    /// First character of the range.
    pub start: Pos,
    /// Position just after the last character of the range.
    pub end: Pos,
}

impl Span {
    /// Builds a span from two positions.
    pub fn new(start: Pos, end: Pos) -> Self {
        Span { start, end }
    }

    /// A zero-width span at one position.
    pub fn point(p: Pos) -> Self {
        Span { start: p, end: p }
    }

    /// The sub-span `from..to` (character offsets) of a span that lies on one line.
    ///
    /// Used to point inside a scalar (a condition, a regex); spans over several lines
    /// are returned unchanged because a character offset cannot be placed on them
    /// without the text.
    pub fn sub(self, from: usize, to: usize) -> Span {
        if self.start.line != self.end.line {
            return Span::point(self.start);
        }
        let col = |o: usize| {
            self.start
                .col
                .saturating_add(o.min(u32::MAX as usize) as u32)
        };
        Span {
            start: Pos::new(
                self.start.line,
                col(from).min(self.end.col.max(self.start.col)),
            ),
            end: Pos::new(
                self.start.line,
                col(to).min(self.end.col.max(self.start.col)),
            ),
        }
    }
}

/// A source file: its display name and text, shared cheaply between stages.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The path as the user gave it (what diagnostics print).
    pub name: Arc<str>,
    /// The file's full text.
    pub text: Arc<str>,
}

impl SourceFile {
    /// Wraps a name and its text.
    pub fn new(name: impl Into<Arc<str>>, text: impl Into<Arc<str>>) -> Self {
        SourceFile {
            name: name.into(),
            text: text.into(),
        }
    }
}

/// Where a diagnostic points: a file, an optional span, and the YAML path of the node.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Location {
    /// File name as given by the user.
    pub file: Arc<str>,
    /// Span inside the file, when known.
    pub span: Option<Span>,
    /// Dotted YAML path of the node (`detection.selection.Image|endswith[1]`), when known.
    pub path: Option<String>,
}

/// A secondary span with its own short message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// Where the label points.
    pub span: Span,
    /// What the label says about that place.
    pub message: String,
}

/// One finding of any stage: code, severity, message, location, labels and hints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable code; its documentation lives in `docs/errors.md`.
    pub code: Code,
    /// Error or warning; derived from the code unless overridden.
    pub severity: Severity,
    /// One-line statement of the problem.
    pub message: String,
    /// Primary location.
    pub location: Location,
    /// Further places that explain the problem.
    pub labels: Vec<Label>,
    /// Suggestions for fixing it.
    pub hints: Vec<String>,
}

impl Diagnostic {
    /// A diagnostic with the code's default severity and no location yet.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            location: Location::default(),
            labels: Vec::new(),
            hints: Vec::new(),
        }
    }

    /// Sets the file.
    pub fn in_file(mut self, file: Arc<str>) -> Self {
        self.location.file = file;
        self
    }

    /// Sets the span.
    pub fn at(mut self, span: Option<Span>) -> Self {
        self.location.span = span;
        self
    }

    /// Sets the YAML path.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        let p = path.into();
        self.location.path = if p.is_empty() { None } else { Some(p) };
        self
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// Adds a secondary label.
    pub fn label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// True when this diagnostic makes the rule unusable.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Sort key that orders diagnostics by file, then position, then code.
    pub fn sort_key(&self) -> (Arc<str>, Pos, Code) {
        (
            self.location.file.clone(),
            self.location.span.map(|s| s.start).unwrap_or_default(),
            self.code,
        )
    }
}

/// Orders diagnostics deterministically (file, position, code, message).
pub fn sort_diagnostics(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        a.sort_key()
            .cmp(&b.sort_key())
            .then_with(|| a.message.cmp(&b.message))
    });
}
