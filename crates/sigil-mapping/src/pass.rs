//! The mapping pass: IR in the rule's native field names → IR in the target's names.

use crate::{Mapping, SourceMap};
use sigil_diagnostics::{Code, Diagnostic, Span};
use sigil_ir::{
    AggExpr, Expr, Input, LogSource, Output, Predicate, Query, Rule, Search, Target, Test,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A rule whose fields carry the target's names, with the source entry of each log source.
#[derive(Clone, Debug)]
pub struct MappedRule {
    /// The rule, every field renamed; every input lists each key it provides explicitly.
    pub rule: Rule,
    /// The mapping entry of every log source the rule reads.
    pub sources: BTreeMap<LogSource, SourceMap>,
    /// For a match rule: output field (rule name) → target field.
    pub output_fields: BTreeMap<String, String>,
    /// The mapping's target.
    pub target: String,
    /// Output-only keys left without a field in some input because the target lacks it.
    pub dropped: Vec<Dropped>,
}

/// An output key that one input cannot provide in the target (its field maps to null): the
/// query is still exact in what it matches, but that input contributes no values to the
/// output, which backends report as a fidelity note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// The output key (alias or field name as the rule writes it).
    pub key: String,
    /// The input (rule name) that lacks it; empty for a match rule's own output.
    pub input: String,
    /// The input's native field the target does not have.
    pub field: String,
}

impl MappedRule {
    /// The mapping entry for a log source of this rule.
    ///
    /// Every search's log source has one once [`map_rule`] succeeded; asking for another
    /// log source is a caller bug, answered with the first entry rather than a panic.
    pub fn source(&self, ls: &LogSource) -> &SourceMap {
        self.sources
            .get(ls)
            .or_else(|| self.sources.values().next())
            .expect("a mapped rule has at least one source")
    }
}

struct Pass<'a> {
    mapping: &'a Mapping,
    rule: &'a Rule,
    sources: BTreeMap<LogSource, SourceMap>,
    errors: Vec<Diagnostic>,
    dropped: Vec<Dropped>,
    /// Rule name or id → the file it is defined in (for rules embedded as inputs).
    files: &'a BTreeMap<String, Arc<str>>,
    /// The file of each embedded input being mapped (`None`: unknown); empty at top level.
    within: Vec<Option<Arc<str>>>,
}

fn ls_text(ls: &LogSource) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("category", &ls.category),
        ("product", &ls.product),
        ("service", &ls.service),
    ] {
        if let Some(v) = v {
            parts.push(format!("{k}={v}"));
        }
    }
    if parts.is_empty() {
        "no log source".into()
    } else {
        parts.join(" ")
    }
}

impl Pass<'_> {
    /// A diagnostic in the file of the node being mapped: an embedded input's spans belong
    /// to the file that defines it; when that file is unknown, the rule's own start is used
    /// rather than a position in the wrong file.
    fn diag(&self, code: Code, msg: String, span: Option<Span>) -> Diagnostic {
        let (file, span) = match self.within.last() {
            None => (
                self.rule.origin.file.clone(),
                span.or(self.rule.origin.span),
            ),
            Some(Some(f)) => (f.clone(), span),
            Some(None) => (self.rule.origin.file.clone(), self.rule.origin.span),
        };
        Diagnostic::new(code, msg).in_file(file).at(span)
    }

    /// The source entry of a log source, or an S702 error (reported once per log source).
    fn source(&mut self, ls: &LogSource, span: Option<Span>) -> Option<SourceMap> {
        if let Some(s) = self.sources.get(ls) {
            return Some(s.clone());
        }
        match self.mapping.source(ls) {
            Some(s) => {
                self.sources.insert(ls.clone(), s.clone());
                Some(s.clone())
            }
            None => {
                let d = self
                    .diag(
                        Code::NoSourceMapping,
                        format!(
                            "rule `{}`: the {} mapping of target `{}` has no source for log source {}",
                            self.rule.meta.title,
                            self.mapping.profile.name(),
                            self.mapping.target,
                            ls_text(ls)
                        ),
                        span,
                    )
                    .hint(format!(
                        "add a source with `logsource: {{{}}}` to a mapping file and pass it with --mapping",
                        ls_text(ls).split(' ').map(|kv| kv.replacen('=', ": ", 1)).collect::<Vec<_>>().join(", ")
                    ));
                if !self.errors.iter().any(|e| e.message == d.message) {
                    self.errors.push(d);
                }
                None
            }
        }
    }

    fn field(&mut self, src: &SourceMap, ls: &LogSource, name: &str, span: Option<Span>) -> String {
        let (what, hint) = match src.field(name) {
            Ok(Some(f)) => return f.to_string(),
            Ok(None) => (
                format!("does not exist in target `{}` (source `{}` in {} maps it to null)", self.mapping.target, src.id, src.file),
                "rewrite the rule without the field, or map it to a field the target has in a --mapping file".to_string(),
            ),
            Err(crate::Unlisted) => (
                format!("has no mapping in target `{}` (source `{}` in {})", self.mapping.target, src.id, src.file),
                format!(
                    "add `{name}: <target field>` under source `{}`'s fields in a --mapping file, or set `unmapped: passthrough` there",
                    src.id
                ),
            ),
        };
        let msg = format!(
            "rule `{}`: field `{name}` of log source {} {what}",
            self.rule.meta.title,
            ls_text(ls)
        );
        let d = self.diag(Code::UnmappedField, msg, span).hint(hint);
        self.errors.push(d);
        name.to_string()
    }

    fn expr(&mut self, e: &Expr, src: &SourceMap, ls: &LogSource) -> Expr {
        match e {
            Expr::Pred(p) => Expr::Pred(self.pred(p, src, ls)),
            Expr::And(v) => Expr::And(v.iter().map(|e| self.expr(e, src, ls)).collect()),
            Expr::Or(v) => Expr::Or(v.iter().map(|e| self.expr(e, src, ls)).collect()),
            Expr::Not(e) => Expr::Not(Box::new(self.expr(e, src, ls))),
            Expr::Const(b) => Expr::Const(*b),
        }
    }

    fn pred(&mut self, p: &Predicate, src: &SourceMap, ls: &LogSource) -> Predicate {
        let target = match &p.target {
            Target::Field(f) => Target::Field(self.field(src, ls, f, p.span)),
            Target::Keywords => Target::Keywords,
        };
        // Paths inside an element are relative to the element's objects: they are the
        // log's own keys, which a mapping of top-level fields does not rename.
        let test = match &p.test {
            Test::FieldRef(other, m, c) => {
                Test::FieldRef(self.field(src, ls, other, p.span), *m, *c)
            }
            t => t.clone(),
        };
        Predicate {
            target,
            test,
            span: p.span,
        }
    }

    fn search(&mut self, s: &Search, span: Option<Span>) -> Search {
        match self.source(&s.source, span) {
            Some(src) => Search {
                source: s.source.clone(),
                expr: self.expr(&s.expr, &src, &s.source),
            },
            None => s.clone(),
        }
    }

    /// Maps an input: its query, and every key it provides (explicit after the pass). A key
    /// in `output_only` whose field the target lacks becomes absent for this input (recorded
    /// in `dropped`); any other unmappable key is an error.
    fn input(
        &mut self,
        i: &Input,
        keys: &BTreeSet<String>,
        output_only: &BTreeSet<String>,
    ) -> Input {
        // The input's own query comes from the rule it names, maybe in another file.
        self.within.push(self.files.get(&i.name).cloned());
        let query = self.query(&i.query);
        self.within.pop();
        let mut fields = i.fields.clone();
        if let Query::Match(s) = &*i.query
            && let Some(src) = self.sources.get(&s.source).cloned()
        {
            for k in keys {
                fields.entry(k.clone()).or_insert_with(|| Some(k.clone()));
            }
            for (k, v) in fields.iter_mut() {
                let Some(f) = v else { continue };
                // An alias this query never reads (a nested threshold's output alias, say)
                // needs no field in the target.
                if !keys.contains(k) {
                    *v = None;
                    continue;
                }
                if output_only.contains(k) && src.field(f) == Ok(None) {
                    self.dropped.push(Dropped {
                        key: k.clone(),
                        input: i.name.clone(),
                        field: f.clone(),
                    });
                    *v = None;
                    continue;
                }
                *f = self.field(&src, &s.source, f, i.origin);
            }
        }
        Input {
            name: i.name.clone(),
            query: Box::new(query),
            fields,
            origin: i.origin,
        }
    }

    fn query(&mut self, q: &Query) -> Query {
        match q {
            Query::Match(s) => Query::Match(self.search(s, None)),
            Query::Threshold(t) => {
                let mut keys: BTreeSet<String> = t.group_by.iter().cloned().collect();
                agg_fields(&t.condition, &mut keys);
                for c in &t.score {
                    if let Some(w) = &c.when {
                        agg_fields(w, &mut keys);
                    }
                }
                let only = self.output_only(&keys);
                keys.extend(only.iter().cloned());
                let mut t = t.clone();
                t.inputs = t
                    .inputs
                    .iter()
                    .map(|i| self.input(i, &keys, &only))
                    .collect();
                Query::Threshold(t)
            }
            Query::Sequence(s) => {
                let mut keys: BTreeSet<String> = s.by.iter().cloned().collect();
                let only = self.output_only(&keys);
                keys.extend(only.iter().cloned());
                let mut s = s.clone();
                for st in &mut s.steps {
                    st.input = self.input(&st.input, &keys, &only);
                }
                s.until = s.until.as_ref().map(|u| self.input(u, &keys, &only));
                Query::Sequence(s)
            }
            Query::Unordered(u) => {
                let mut keys: BTreeSet<String> = u.by.iter().cloned().collect();
                let only = self.output_only(&keys);
                keys.extend(only.iter().cloned());
                let mut u = u.clone();
                u.inputs = u
                    .inputs
                    .iter()
                    .map(|i| self.input(i, &keys, &only))
                    .collect();
                Query::Unordered(u)
            }
        }
    }
}

impl Pass<'_> {
    /// The rule's output keys that the query itself does not read (`required`).
    fn output_only(&self, required: &BTreeSet<String>) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        output_fields(&self.rule.outputs, &mut out);
        out.retain(|k| !required.contains(k));
        out
    }
}

fn agg_fields(e: &AggExpr, out: &mut BTreeSet<String>) {
    match e {
        AggExpr::Cmp(a, _, _) => out.extend(a.field.iter().cloned()),
        AggExpr::And(v) | AggExpr::Or(v) => v.iter().for_each(|e| agg_fields(e, out)),
        AggExpr::Not(e) => agg_fields(e, out),
    }
}

fn output_fields(outputs: &[Output], out: &mut BTreeSet<String>) {
    for o in outputs {
        match o {
            Output::Field(f) | Output::Values(f) | Output::Distinct(f) => {
                out.insert(f.clone());
            }
            _ => {}
        }
    }
}

/// Renames a rule's fields to a target's, or explains every field and log source it cannot map.
pub fn map_rule(rule: &Rule, mapping: &Mapping) -> Result<MappedRule, Vec<Diagnostic>> {
    map_rule_in(rule, mapping, &BTreeMap::new())
}

/// [`map_rule`], knowing the file of each rule of the set (by name and id), so problems in
/// an embedded input are reported in the file that defines it.
pub fn map_rule_in(
    rule: &Rule,
    mapping: &Mapping,
    files: &BTreeMap<String, Arc<str>>,
) -> Result<MappedRule, Vec<Diagnostic>> {
    let mut pass = Pass {
        mapping,
        rule,
        sources: BTreeMap::new(),
        errors: Vec::new(),
        dropped: Vec::new(),
        files,
        within: Vec::new(),
    };
    let query = pass.query(&rule.query);
    let mut output_fields = BTreeMap::new();
    if let Query::Match(s) = &rule.query
        && let Some(src) = pass.sources.get(&s.source).cloned()
    {
        let mut names = BTreeSet::new();
        crate::pass::output_fields(&rule.outputs, &mut names);
        for n in names {
            if src.field(&n) == Ok(None) {
                pass.dropped.push(Dropped {
                    key: n.clone(),
                    input: String::new(),
                    field: n,
                });
                continue;
            }
            let f = pass.field(&src, &s.source, &n, rule.origin.span);
            output_fields.insert(n, f);
        }
    }
    if !pass.errors.is_empty() {
        return Err(pass.errors);
    }
    let mut mapped = rule.clone();
    mapped.query = query;
    // A match rule's outputs are its event's fields: one the target lacks is left out
    // (and noted), so no backend projects a column that does not exist.
    if matches!(rule.query, Query::Match(_)) {
        mapped.outputs.retain(|o| match o {
            Output::Field(f) | Output::Values(f) | Output::Distinct(f) => !pass
                .dropped
                .iter()
                .any(|d| d.input.is_empty() && &d.key == f),
            _ => true,
        });
    }
    Ok(MappedRule {
        rule: mapped,
        sources: pass.sources,
        output_fields,
        target: mapping.target.clone(),
        dropped: pass.dropped,
    })
}
