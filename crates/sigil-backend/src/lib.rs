//! The backend framework every target is built on.
//!
//! A backend declares what it can express ([`Capability`] per [`Construct`]) and prints a
//! [`MappedRule`] to query text. Everything targets share lives here once: the compile
//! context that records fidelity notes and refusals ([`Cx`]), the precedence-aware boolean
//! printer with list folding ([`expr`]), string quoting tables and wildcard/regex helpers
//! ([`text`]), and aggregate naming ([`agg`]). A backend crate supplies tokens and the
//! overrides its target needs; nothing is approximated without a note.

pub mod agg;
mod caps;
pub mod expr;
pub mod regex_lucene;
pub mod text;

pub use caps::{Capability, Construct, Fidelity, matrix};
pub use sigil_mapping::{
    MappedRule, Mapping, MappingError, Profile, SourceMap, map_rule, map_rule_in,
};

use sigil_diagnostics::{Code, Diagnostic, Severity, Span};
use sigil_ir::Rule;

/// One target language: its capabilities and its printer.
pub trait Backend: Sync {
    /// Short name used on the command line and in file names (`kql`).
    fn name(&self) -> &'static str;
    /// Human name (`KQL (Microsoft Sentinel, Defender XDR)`).
    fn title(&self) -> &'static str;
    /// What the target can express, construct by construct (the `sigil targets` matrix).
    fn capabilities(&self) -> Vec<Capability>;
    /// Prints a mapped rule; approximations and refusals are recorded in `cx`.
    ///
    /// The returned text is used only when `cx` holds no refusal.
    fn emit(&self, rule: &MappedRule, cx: &mut Cx) -> String;
    /// One line of text as a comment of the target (query files carry the notes this way).
    fn comment(&self, text: &str) -> String {
        format!("// {}", text.replace(['\n', '\r'], " "))
    }
    /// File extension of a query file (`kql`).
    fn extension(&self) -> &'static str {
        self.name()
    }
}

/// A difference between the emitted query and the rule's meaning.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Note {
    /// The construct approximated.
    pub construct: Construct,
    /// What differs, in the reader's terms.
    pub message: String,
    /// Where the construct is in the rule file, when known.
    pub span: Option<Span>,
}

/// A construct the target cannot express at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The construct refused.
    pub construct: Construct,
    /// Why the target cannot express it.
    pub message: String,
    /// What the author can do instead.
    pub alternatives: Vec<String>,
    /// Where the construct is in the rule file, when known.
    pub span: Option<Span>,
}

/// The compile context a backend writes its notes and refusals into.
#[derive(Debug, Default)]
pub struct Cx {
    notes: Vec<Note>,
    refusals: Vec<Refusal>,
}

impl Cx {
    /// Records an approximation (once per construct and message).
    pub fn approx(&mut self, construct: Construct, span: Option<Span>, message: impl Into<String>) {
        let note = Note {
            construct,
            message: message.into(),
            span,
        };
        if !self
            .notes
            .iter()
            .any(|n| n.construct == note.construct && n.message == note.message)
        {
            self.notes.push(note);
        }
    }

    /// Records a refusal; the query text is then discarded.
    pub fn refuse(
        &mut self,
        construct: Construct,
        span: Option<Span>,
        message: impl Into<String>,
        alternatives: &[&str],
    ) {
        let r = Refusal {
            construct,
            message: message.into(),
            alternatives: alternatives.iter().map(|s| s.to_string()).collect(),
            span,
        };
        if !self.refusals.contains(&r) {
            self.refusals.push(r);
        }
    }

    /// True once something was refused (backends may stop early).
    pub fn refused(&self) -> bool {
        !self.refusals.is_empty()
    }

    /// The notes recorded so far.
    pub fn notes(&self) -> &[Note] {
        &self.notes
    }

    /// The refusals recorded so far.
    pub fn refusals(&self) -> &[Refusal] {
        &self.refusals
    }
}

/// A rule compiled for one target.
#[derive(Clone, Debug, PartialEq)]
pub struct Compiled {
    /// The target's short name.
    pub target: &'static str,
    /// The query text.
    pub query: String,
    /// Every approximation in it.
    pub notes: Vec<Note>,
}

fn rule_label(rule: &Rule) -> String {
    match (&rule.meta.name, &rule.meta.id) {
        (Some(n), _) => n.clone(),
        (None, Some(id)) => id.clone(),
        (None, None) => rule.meta.title.clone(),
    }
}

/// Compiles a mapped rule: the query and its notes, or diagnostics for every refusal
/// (and, when `strict`, for every approximation).
pub fn compile(
    backend: &dyn Backend,
    rule: &MappedRule,
    strict: bool,
) -> Result<Compiled, Vec<Diagnostic>> {
    let mut cx = Cx::default();
    // Output keys the mapping left without a field in some input: what the query matches is
    // unchanged, but those outputs miss that input's values.
    for d in &rule.dropped {
        let from = if d.input.is_empty() {
            String::new()
        } else {
            format!(" from input `{}`", d.input)
        };
        cx.approx(
            Construct::Outputs,
            rule.rule.origin.span,
            format!(
                "output `{}` has no values{from}: its field `{}` does not exist in target `{}`",
                d.key,
                d.field,
                backend.name()
            ),
        );
    }
    let query = backend.emit(rule, &mut cx);
    let label = rule_label(&rule.rule);
    let file = rule.rule.origin.file.clone();
    let mut diags: Vec<Diagnostic> = cx
        .refusals
        .iter()
        .map(|r| {
            let mut d = Diagnostic::new(
                Code::RefusedConstruct,
                format!(
                    "rule `{label}`: target `{}` cannot express {}: {}",
                    backend.name(),
                    r.construct.describe(),
                    r.message
                ),
            )
            .in_file(file.clone())
            .at(r.span.or(rule.rule.origin.span));
            for a in &r.alternatives {
                d = d.hint(a.clone());
            }
            if r.alternatives.is_empty() {
                d = d.hint(format!(
                    "compile this rule for another target; `sigil targets` shows which express {}",
                    r.construct.describe()
                ));
            }
            d
        })
        .collect();
    if strict {
        diags.extend(cx.notes.iter().map(|n| {
            let mut d = Diagnostic::new(
                Code::ApproximatedConstruct,
                format!(
                    "rule `{label}`: target `{}` only approximates {}: {}",
                    backend.name(),
                    n.construct.describe(),
                    n.message
                ),
            )
            .in_file(file.clone())
            .at(n.span.or(rule.rule.origin.span))
            .hint("drop --strict to accept the approximation, or rewrite the rule so the target expresses it exactly");
            d.severity = Severity::Error;
            d
        }));
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    Ok(Compiled {
        target: backend.name(),
        query,
        notes: cx.notes,
    })
}
