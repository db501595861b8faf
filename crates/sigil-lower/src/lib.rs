//! Lowering: syntax trees of a set of rule files → IR rules, with validation.
//!
//! A set is lowered together because correlations, sequences and filters refer to rules by
//! name or id across files. The order is fixed: plain rules first, then filters are applied
//! to them, then correlations embed the (filtered) rules they name.

mod correlation;
mod detection;
pub mod values;

use rayon::prelude::*;
use sigil_diagnostics::{Code, Diagnostic, Span};
use sigil_ir::{
    Case, Expr, LogSource, Meta, Origin, Pattern, PlaceholderPart, Predicate, Query, Rule, Search,
    Seg, Test,
};
use sigil_syntax::ast::{Body, Document, FilterRules, LogSourceAst, MetaAst, RuleFile};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Collects diagnostics for one document.
pub(crate) struct Sink {
    file: Arc<str>,
    diags: Vec<Diagnostic>,
    /// Bytes of values the document's modifiers added so far (see
    /// `detection::MAX_GENERATED_BYTES`).
    generated: usize,
    /// Expression nodes the document copied so far: rules a correlation embeds (see
    /// `correlation::MAX_EMBEDDED_NODES`), searches a condition names again (see
    /// `detection::MAX_COPIED_NODES`).
    embedded: usize,
}

impl Sink {
    pub(crate) fn diag(
        &mut self,
        code: Code,
        msg: impl Into<String>,
        span: Option<Span>,
        path: &str,
    ) -> &mut Diagnostic {
        self.diags.push(
            Diagnostic::new(code, msg)
                .in_file(self.file.clone())
                .at(span)
                .path(path),
        );
        let n = self.diags.len() - 1;
        &mut self.diags[n]
    }
}

/// The result of lowering a set of files.
#[derive(Debug, Default)]
pub struct Lowered {
    /// Every rule and correlation that lowered without error, in file and document order.
    pub rules: Vec<Rule>,
    /// Every problem found.
    pub diagnostics: Vec<Diagnostic>,
    /// Documents seen, per kind: (rules, correlations, filters).
    pub counts: DocCounts,
}

/// How many documents of each kind a set held, and how many lowered.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DocCounts {
    /// Rule documents.
    pub rules: usize,
    /// Correlation documents.
    pub correlations: usize,
    /// Filter documents.
    pub filters: usize,
    /// Documents that lowered without error (filters count when valid).
    pub lowered: usize,
}

/// One document's place in the set.
pub(crate) struct DocRef<'a> {
    pub file: &'a RuleFile,
    pub doc: &'a Document,
}

impl DocRef<'_> {
    pub(crate) fn origin(&self) -> Origin {
        Origin {
            file: self.file.name.clone(),
            document: self.doc.index,
            span: self.doc.span,
        }
    }
    pub(crate) fn label(&self) -> String {
        self.doc
            .meta
            .name
            .as_ref()
            .or(self.doc.meta.id.as_ref())
            .map(|s| s.value.clone())
            .or_else(|| self.doc.meta.title.as_ref().map(|t| t.value.clone()))
            .unwrap_or_else(|| format!("{}#{}", self.file.name, self.doc.index + 1))
    }
}

/// Lowers every document of the given files.
pub fn lower_files(files: &[RuleFile]) -> Lowered {
    let docs: Vec<DocRef> = files
        .iter()
        .flat_map(|f| f.documents.iter().map(move |d| DocRef { file: f, doc: d }))
        .collect();
    let mut out = Lowered::default();
    let mut sinks: Vec<Sink> = docs
        .iter()
        .map(|d| Sink {
            file: d.file.name.clone(),
            diags: Vec::new(),
            generated: 0,
            embedded: 0,
        })
        .collect();

    // Names and ids → document index; a repeated key is reported and the first one kept.
    let mut by_key: HashMap<&str, usize> = HashMap::new();
    for (i, d) in docs.iter().enumerate() {
        for key in [&d.doc.meta.id, &d.doc.meta.name].into_iter().flatten() {
            if let Some(&first) = by_key.get(key.value.as_str()) {
                if first != i {
                    let other = &docs[first];
                    let at = [&other.doc.meta.id, &other.doc.meta.name]
                        .into_iter()
                        .flatten()
                        .find(|k| k.value == key.value)
                        .and_then(|k| k.span)
                        .map(|s| format!(":{}:{}", s.start.line, s.start.col))
                        .unwrap_or_default();
                    let d = sinks[i].diag(
                        Code::DuplicateRule,
                        format!(
                            "`{}` is also the id or name of a document in {}",
                            key.value, other.file.name
                        ),
                        key.span,
                        "",
                    );
                    d.hints
                        .push(format!("first defined at {}{at}", other.file.name));
                    d.hints.push(
                        "ids and names must be unique across the checked set; references would be ambiguous".into(),
                    );
                }
            } else {
                by_key.insert(key.value.as_str(), i);
            }
        }
    }

    // Plain rules are independent of each other: lower them in parallel.
    let mut queries: Vec<Option<Query>> = docs
        .par_iter()
        .zip(sinks.par_iter_mut())
        .map(|(d, sink)| match &d.doc.body {
            Body::Rule(r) => correlation::lower_rule_body(sink, r, &d.doc.meta, ""),
            _ => None,
        })
        .collect();
    for d in &docs {
        match &d.doc.body {
            Body::Rule(_) => out.counts.rules += 1,
            Body::Correlation(_) => out.counts.correlations += 1,
            Body::Filter(_) => out.counts.filters += 1,
        }
    }

    // Filters narrow the rules they name (or every rule of their log source).
    let mut applied: Vec<Vec<String>> = vec![Vec::new(); docs.len()];
    for (fi, d) in docs.iter().enumerate() {
        let Body::Filter(f) = &d.doc.body else {
            continue;
        };
        let sink = &mut sinks[fi];
        let Some(expr) = detection::lower_detection(sink, &f.detection, "filter") else {
            continue;
        };
        let fsource = logsource(&f.logsource);
        let label = d.label();
        let targets: Vec<usize> = match &f.rules {
            FilterRules::Any => (0..docs.len())
                .filter(|&i| matches!(docs[i].doc.body, Body::Rule(_)))
                .collect(),
            FilterRules::Listed(names) => {
                let mut t = Vec::new();
                for n in names {
                    match by_key.get(n.value.as_str()) {
                        Some(&i) if matches!(docs[i].doc.body, Body::Rule(_)) => t.push(i),
                        Some(_) => {
                            sink.diag(Code::InvalidFilter, format!("filter names `{}`, which is not a detection rule", n.value), n.span, "filter.rules")
                                .hints
                                .push("filters apply to detection rules, not to correlations or other filters".into());
                        }
                        None => {
                            sink.diag(Code::UnknownFilterTarget, format!("filter names `{}`, which is not in the checked set", n.value), n.span, "filter.rules")
                                .hints
                                .push("check the id, or check the filter together with the rules it applies to".into());
                        }
                    }
                }
                t
            }
        };
        for i in targets {
            // A Sigma 1.x aggregation rule is a threshold over its own search: the filter
            // narrows the events that search admits, before they are counted.
            let search = match &mut queries[i] {
                Some(Query::Match(s)) => s,
                Some(Query::Threshold(t)) if t.inputs.len() == 1 => {
                    match t.inputs[0].query.as_mut() {
                        Query::Match(s) => s,
                        _ => continue,
                    }
                }
                _ => continue,
            };
            if !source_contains(&fsource, &search.source) {
                if matches!(f.rules, FilterRules::Listed(_)) {
                    sink.diag(
                        Code::FilterNotApplicable,
                        format!(
                            "filter's log source does not cover rule `{}`; it is not applied",
                            docs[i].label()
                        ),
                        f.logsource.span,
                        "logsource",
                    )
                    .hints
                    .push("every log source key the filter sets must equal the rule's; make the filter's log source more general".into());
                }
                continue;
            }
            search.expr = Expr::and(vec![search.expr.clone(), expr.clone()]);
            applied[i].push(label.clone());
        }
    }

    // Correlations, resolved on demand so references may point forwards or across files.
    let mut resolver = correlation::Resolver::new(&docs, &by_key, queries);
    for (i, d) in docs.iter().enumerate() {
        if matches!(d.doc.body, Body::Correlation(_)) {
            resolver.resolve(i, &mut sinks);
        }
    }
    let queries = resolver.into_queries();

    for (i, d) in docs.iter().enumerate() {
        let has_error = sinks[i].diags.iter().any(Diagnostic::is_error);
        match (&d.doc.body, &queries[i]) {
            (Body::Filter(_), _) if !has_error => out.counts.lowered += 1,
            (Body::Rule(_) | Body::Correlation(_), Some(q)) if !has_error => {
                let outputs = match &d.doc.body {
                    Body::Correlation(c) => correlation::outputs(&mut sinks[i], c),
                    _ => Some(
                        d.doc
                            .meta
                            .fields
                            .iter()
                            .map(|f| sigil_ir::Output::Field(f.value.clone()))
                            .collect(),
                    ),
                };
                if sinks[i].diags.iter().any(Diagnostic::is_error) {
                    continue;
                }
                let Some(outputs) = outputs else { continue };
                let mut meta = meta(&d.doc.meta);
                meta.filters = applied[i].clone();
                if let (Body::Correlation(c), None) = (&d.doc.body, d.doc.meta.generate) {
                    meta.generate = c.generate.unwrap_or(false);
                }
                out.rules.push(Rule {
                    meta,
                    origin: d.origin(),
                    query: q.clone(),
                    outputs,
                });
                out.counts.lowered += 1;
            }
            _ => {}
        }
    }
    for s in sinks {
        out.diagnostics.extend(s.diags);
    }
    out
}

/// True when every key the filter's log source sets is equal in the rule's.
fn source_contains(filter: &LogSource, rule: &LogSource) -> bool {
    let opt = |f: &Option<String>, r: &Option<String>| f.is_none() || f == r;
    opt(&filter.product, &rule.product)
        && opt(&filter.category, &rule.category)
        && opt(&filter.service, &rule.service)
        && filter
            .extra
            .iter()
            .all(|(k, v)| rule.extra.get(k) == Some(v))
}

pub(crate) fn logsource(l: &LogSourceAst) -> LogSource {
    LogSource {
        category: l.category.clone(),
        product: l.product.clone(),
        service: l.service.clone(),
        extra: l.extra.iter().cloned().collect(),
    }
}

fn meta(m: &MetaAst) -> Meta {
    Meta {
        id: m.id.as_ref().map(|s| s.value.clone()),
        name: m.name.as_ref().map(|s| s.value.clone()),
        title: m
            .title
            .as_ref()
            .map(|s| s.value.clone())
            .unwrap_or_default(),
        description: m.description.clone(),
        level: m
            .level
            .as_ref()
            .and_then(|l| sigil_ir::Level::parse(&l.value)),
        status: m.status.as_ref().map(|s| s.value.clone()),
        tags: m.tags.clone(),
        references: m.references.clone(),
        falsepositives: m.falsepositives.clone(),
        author: m.author.clone(),
        date: m.date.clone(),
        modified: m.modified.clone(),
        generate: m.generate.unwrap_or(false),
        fixtures: m.fixtures.as_ref().map(|s| s.value.clone()),
        filters: Vec::new(),
    }
}

/// Placeholder values supplied at compile time: name → values (OR-ed).
pub type PlaceholderValues = BTreeMap<String, Vec<String>>;

/// Replaces every placeholder of a rule with its values. A placeholder without values is
/// an error naming it (code S601); it never silently becomes an empty match.
pub fn resolve_placeholders(
    rule: &Rule,
    values: &PlaceholderValues,
) -> Result<Rule, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut r = rule.clone();
    let file = rule.origin.file.clone();
    let mut fix = |e: &mut Expr| fix_expr(e, values, &file, &mut diags);
    match &mut r.query {
        Query::Match(s) => fix(&mut s.expr),
        _ => visit_searches_mut(&mut r.query, &mut |s: &mut Search| fix(&mut s.expr)),
    }
    if diags.is_empty() { Ok(r) } else { Err(diags) }
}

fn visit_searches_mut(q: &mut Query, f: &mut dyn FnMut(&mut Search)) {
    match q {
        Query::Match(s) => f(s),
        Query::Threshold(t) => t
            .inputs
            .iter_mut()
            .for_each(|i| visit_searches_mut(&mut i.query, f)),
        Query::Sequence(s) => {
            s.steps
                .iter_mut()
                .for_each(|st| visit_searches_mut(&mut st.input.query, f));
            if let Some(u) = &mut s.until {
                visit_searches_mut(&mut u.query, f);
            }
        }
        Query::Unordered(u) => u
            .inputs
            .iter_mut()
            .for_each(|i| visit_searches_mut(&mut i.query, f)),
    }
}

fn fix_expr(
    e: &mut Expr,
    values: &PlaceholderValues,
    file: &Arc<str>,
    diags: &mut Vec<Diagnostic>,
) {
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter_mut().for_each(|x| fix_expr(x, values, file, diags)),
        Expr::Not(x) => fix_expr(x, values, file, diags),
        Expr::Const(_) => {}
        Expr::Pred(p) => {
            let Test::Placeholder(parts, case) = &p.test else {
                return;
            };
            let mut variants: Vec<Vec<Seg>> = vec![Vec::new()];
            for part in parts {
                match part {
                    PlaceholderPart::Seg(s) => variants.iter_mut().for_each(|v| v.push(s.clone())),
                    PlaceholderPart::Name(n) => match values.get(n) {
                        Some(vals) if !vals.is_empty() => {
                            let mut next = Vec::new();
                            for v in &variants {
                                for val in vals {
                                    let mut w = v.clone();
                                    w.extend(
                                        values::parse_value(val, false).into_iter().filter_map(
                                            |x| match x {
                                                PlaceholderPart::Seg(s) => Some(s),
                                                PlaceholderPart::Name(_) => None,
                                            },
                                        ),
                                    );
                                    next.push(w);
                                }
                            }
                            variants = next;
                        }
                        _ => {
                            diags.push(
                                Diagnostic::new(Code::UnresolvedPlaceholder, format!("placeholder `%{n}%` has no value"))
                                    .in_file(file.clone())
                                    .at(p.span)
                                    .hint(format!("supply values for `{n}` (placeholder file or --placeholder {n}=VALUE)")),
                            );
                            return;
                        }
                    },
                }
            }
            let case: Case = *case;
            let alts = variants
                .into_iter()
                .map(|segs| {
                    let parts: Vec<PlaceholderPart> =
                        segs.into_iter().map(PlaceholderPart::Seg).collect();
                    let parts = values::normalise(parts);
                    let test = match values::literal_text(&parts) {
                        Some(l) => Test::Eq(sigil_ir::Value::Str(l), case),
                        None => Test::Pattern(
                            values::to_pattern(&parts).unwrap_or(Pattern(vec![])),
                            case,
                        ),
                    };
                    Expr::Pred(Predicate {
                        target: p.target.clone(),
                        test,
                        span: p.span,
                    })
                })
                .collect();
            *e = Expr::or(alts);
        }
    }
}

/// True when a rule still holds unresolved placeholders.
pub fn has_placeholders(rule: &Rule) -> bool {
    let mut found = false;
    rule.query.for_each_search(&mut |s| {
        s.expr
            .for_each_pred(&mut |p| found |= matches!(p.test, Test::Placeholder(..)))
    });
    found
}
