//! Turns YAML nodes into documents. Every problem becomes a diagnostic and parsing goes on,
//! so one run reports every error of a readable file.

use crate::ast::*;
use crate::expr::{self, CmpOp, ExprError};
use crate::yaml::{MapEntry, Node, NodeKind, load_documents};
use sigil_diagnostics::{Code, Diagnostic, Span};
use std::sync::Arc;

/// Parses a rule file's text into documents, reporting every problem found.
pub fn parse_file(name: &str, text: &str) -> (RuleFile, Vec<Diagnostic>) {
    let file: Arc<str> = Arc::from(name);
    let (docs, mut diags) = load_documents(&file, text);
    explain_tabs(text, &mut diags);
    let mut p = P {
        file: file.clone(),
        text,
        diags: Vec::new(),
    };
    let mut documents = Vec::new();
    let mut global: Option<Node> = None;
    let mut previous: Option<Node> = None;
    for d in docs {
        let mut root = d.root;
        // Sigma 1.x rule collections: `action: global|reset|repeat` documents.
        if let Some(action) = root
            .get("action")
            .and_then(|e| e.value.as_str().map(str::to_owned))
        {
            match action.as_str() {
                "global" => {
                    let mut g = global.take().unwrap_or(Node {
                        kind: NodeKind::Map(vec![]),
                        span: None,
                    });
                    strip_key(&mut root, "action");
                    merge(&mut g, root);
                    global = Some(g);
                    continue;
                }
                "reset" => {
                    global = None;
                    continue;
                }
                "repeat" => {
                    strip_key(&mut root, "action");
                    let Some(prev) = previous.clone() else {
                        p.err(
                            Code::InvalidValue,
                            "`action: repeat` has no previous document to repeat",
                            root.span,
                            "",
                        );
                        continue;
                    };
                    let mut base = prev;
                    merge(&mut base, root);
                    root = base;
                }
                other => {
                    let span = root.get("action").and_then(|e| e.value.span);
                    p.err(
                        Code::InvalidValue,
                        format!("unknown action `{other}`"),
                        span,
                        "action",
                    )
                    .hints
                    .push("Sigma 1.x collections know `global`, `reset` and `repeat`".into());
                    continue;
                }
            }
        } else if let Some(g) = &global {
            let mut base = g.clone();
            base.span = root.span;
            merge(&mut base, root);
            root = base;
        }
        previous = Some(root.clone());
        if let Some(doc) = p.document(d.index, &root) {
            documents.push(doc);
        }
    }
    diags.append(&mut p.diags);
    (
        RuleFile {
            name: file,
            documents,
        },
        diags,
    )
}

/// YAML forbids tabs in indentation, and the YAML library then reports a "character that
/// cannot start any token"; say what is actually wrong when the line starts with a tab.
fn explain_tabs(text: &str, diags: &mut [Diagnostic]) {
    for d in diags.iter_mut().filter(|d| d.code == Code::YamlSyntax) {
        let Some(span) = d.location.span else {
            continue;
        };
        let line = text
            .lines()
            .nth(span.start.line.saturating_sub(1) as usize)
            .unwrap_or("");
        let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
        if indent.contains('\t') {
            d.message = "invalid YAML: a tab is used for indentation".into();
            d.hints = vec![
                "YAML allows only spaces for indentation; replace the tabs with spaces".into(),
            ];
        }
    }
}

fn strip_key(n: &mut Node, key: &str) {
    if let NodeKind::Map(m) = &mut n.kind {
        m.retain(|e| e.key != key);
    }
}

/// Deep-merges `over` into `base` (mappings merge key by key; anything else replaces).
fn merge(base: &mut Node, over: Node) {
    match (&mut base.kind, over.kind) {
        (NodeKind::Map(b), NodeKind::Map(o)) => {
            for e in o {
                match b.iter_mut().find(|x| x.key == e.key) {
                    Some(x) => merge(&mut x.value, e.value),
                    None => b.push(e),
                }
            }
        }
        (_, k) => {
            base.kind = k;
            base.span = over.span;
        }
    }
}

struct P<'t> {
    file: Arc<str>,
    text: &'t str,
    diags: Vec<Diagnostic>,
}

const LEVELS: &[&str] = &["informational", "low", "medium", "high", "critical"];
const STATUSES: &[&str] = &[
    "stable",
    "test",
    "experimental",
    "deprecated",
    "unsupported",
];

impl<'t> P<'t> {
    fn err(
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

    fn wrong_type(&mut self, e: &MapEntry, path: &str, want: &str) {
        let found = e.value.type_name();
        self.err(
            Code::WrongType,
            format!("`{}` must be {want}, found {found}", e.key),
            e.value.span.or(e.key_span),
            path,
        )
        .hints
        .push(format!(
            "write `{}` as {want}; docs/dsl.md shows each key's form",
            e.key
        ));
    }

    fn string(&mut self, e: &MapEntry, path: &str) -> Option<Spanned<String>> {
        match &e.value.kind {
            NodeKind::Str(s) => Some(Spanned::new(s.clone(), e.value.span)),
            NodeKind::Int(_) | NodeKind::Float(_) | NodeKind::Bool(_) => Some(Spanned::new(
                e.value.scalar_text().unwrap_or_default(),
                e.value.span,
            )),
            _ => {
                self.wrong_type(e, path, "a string");
                None
            }
        }
    }

    /// A list of strings; a single string is accepted as a one-item list.
    fn strings(&mut self, e: &MapEntry, path: &str) -> Vec<Spanned<String>> {
        match &e.value.kind {
            NodeKind::Seq(items) => {
                let mut out = Vec::new();
                for (i, it) in items.iter().enumerate() {
                    match it.scalar_text() {
                        Some(s) => out.push(Spanned::new(s, it.span)),
                        None => {
                            let found = it.type_name();
                            self.err(
                                Code::WrongType,
                                format!("items of `{}` must be strings, found {found}", e.key),
                                it.span,
                                &format!("{path}[{i}]"),
                            );
                        }
                    }
                }
                out
            }
            NodeKind::Null => Vec::new(),
            _ => match e.value.scalar_text() {
                Some(s) => vec![Spanned::new(s, e.value.span)],
                None => {
                    self.wrong_type(e, path, "a list of strings");
                    Vec::new()
                }
            },
        }
    }

    fn meta(&mut self, root: &Node, is_filter: bool) -> MetaAst {
        let mut m = MetaAst::default();
        let Some(entries) = root.as_map() else {
            return m;
        };
        for e in entries {
            let k = e.key.as_str();
            match k {
                "title" => m.title = self.string(e, k),
                "id" => m.id = self.string(e, k),
                "name" => m.name = self.string(e, k),
                "status" => {
                    m.status = self.string(e, k);
                    if let Some(s) = &m.status
                        && !STATUSES.contains(&s.value.as_str())
                    {
                        let span = s.span;
                        self.err(
                            Code::InvalidValue,
                            format!("unknown status `{}`", s.value),
                            span,
                            k,
                        )
                        .hints
                        .push(format!("use one of: {}", STATUSES.join(", ")));
                    }
                }
                "level" => {
                    m.level = self.string(e, k);
                    if let Some(s) = &m.level
                        && !LEVELS.contains(&s.value.as_str())
                    {
                        let span = s.span;
                        self.err(
                            Code::InvalidValue,
                            format!("unknown level `{}`", s.value),
                            span,
                            k,
                        )
                        .hints
                        .push(format!("use one of: {}", LEVELS.join(", ")));
                    }
                }
                "description" => m.description = self.string(e, k).map(|s| s.value),
                "author" => m.author = self.string(e, k).map(|s| s.value),
                "date" => m.date = self.string(e, k).map(|s| s.value),
                "modified" => m.modified = self.string(e, k).map(|s| s.value),
                "tags" => m.tags = self.strings(e, k).into_iter().map(|s| s.value).collect(),
                "references" => {
                    m.references = self.strings(e, k).into_iter().map(|s| s.value).collect()
                }
                "falsepositives" => {
                    m.falsepositives = self.strings(e, k).into_iter().map(|s| s.value).collect()
                }
                "fields" if !is_filter => m.fields = self.strings(e, k),
                "generate" => m.generate = self.boolean(e, k),
                "fixtures" => m.fixtures = self.string(e, k),
                _ => {}
            }
        }
        m
    }

    fn boolean(&mut self, e: &MapEntry, path: &str) -> Option<bool> {
        match e.value.kind {
            NodeKind::Bool(b) => Some(b),
            _ => {
                self.wrong_type(e, path, "true or false");
                None
            }
        }
    }

    fn document(&mut self, index: usize, root: &Node) -> Option<Document> {
        if root.as_map().is_none() {
            let found = root.type_name();
            self.err(
                Code::NotAMapping,
                format!("document {} is {found}, not a mapping", index + 1),
                root.span,
                "",
            )
            .hints
            .push("a rule document is a mapping with `title`, `logsource` and `detection`".into());
            return None;
        }
        let has = |k: &str| root.get(k).is_some();
        let body = if has("correlation") {
            let meta = self.meta(root, false);
            let c = self.correlation(root.get("correlation")?)?;
            (meta, Body::Correlation(Box::new(c)))
        } else if has("filter") {
            let meta = self.meta(root, true);
            let f = self.filter(root)?;
            (meta, Body::Filter(f))
        } else if has("detection") || has("logsource") {
            let meta = self.meta(root, false);
            let r = self.rule_body(root, "")?;
            (meta, Body::Rule(r))
        } else {
            self.err(
                Code::UnknownDocument,
                format!(
                    "document {} is neither a rule, a correlation nor a filter",
                    index + 1
                ),
                root.span,
                "",
            )
            .hints
            .push("rules have `detection`, correlations `correlation`, filters `filter`".into());
            return None;
        };
        let (meta, body) = body;
        if meta.title.is_none() {
            self.err(
                Code::MissingKey,
                "missing `title`",
                root.span.map(|s| Span::point(s.start)),
                "title",
            )
            .hints
            .push("every Sigma document needs a title".into());
        }
        Some(Document {
            index,
            span: root.span,
            meta,
            body,
        })
    }

    fn logsource(&mut self, root: &Node, prefix: &str, required: bool) -> LogSourceAst {
        let path = join(prefix, "logsource");
        let Some(e) = root.get("logsource") else {
            if required {
                self.err(
                    Code::MissingKey,
                    "missing `logsource`",
                    root.span.map(|s| Span::point(s.start)),
                    &path,
                )
                .hints
                .push(
                    "name the log source, e.g. `logsource: {product: aws, service: cloudtrail}`"
                        .into(),
                );
            }
            return LogSourceAst::default();
        };
        let mut ls = LogSourceAst {
            span: e.value.span.or(e.key_span),
            ..Default::default()
        };
        let Some(entries) = e.value.as_map() else {
            self.wrong_type(e, &path, "a mapping");
            return ls;
        };
        for x in entries {
            let p = join(&path, &x.key);
            let Some(v) = self.string(x, &p) else {
                continue;
            };
            match x.key.as_str() {
                "category" => ls.category = Some(v.value),
                "product" => ls.product = Some(v.value),
                "service" => ls.service = Some(v.value),
                "definition" => {}
                other => ls.extra.push((other.to_string(), v.value)),
            }
        }
        ls.extra.sort();
        ls
    }

    fn rule_body(&mut self, root: &Node, prefix: &str) -> Option<RuleAst> {
        let logsource = self.logsource(root, prefix, true);
        let path = join(prefix, "detection");
        let Some(det) = root.get("detection") else {
            self.err(
                Code::MissingKey,
                "missing `detection`",
                root.span.map(|s| Span::point(s.start)),
                &path,
            )
            .hints
            .push("add a `detection` with at least one search and a `condition`".into());
            return Some(RuleAst {
                logsource,
                detection: DetectionAst::default(),
            });
        };
        let Some(entries) = det.value.as_map() else {
            self.wrong_type(
                det,
                &path,
                "a mapping of search identifiers and `condition`",
            );
            return None;
        };
        let detection = self.detection(
            entries,
            det.value.span.or(det.key_span),
            &path,
            &["condition", "timeframe"],
        );
        Some(RuleAst {
            logsource,
            detection,
        })
    }

    fn detection(
        &mut self,
        entries: &[MapEntry],
        span: Option<Span>,
        path: &str,
        reserved: &[&str],
    ) -> DetectionAst {
        let mut d = DetectionAst {
            span,
            ..Default::default()
        };
        let mut saw_condition = false;
        for e in entries {
            let p = join(path, &e.key);
            match e.key.as_str() {
                "condition" if reserved.contains(&"condition") => {
                    saw_condition = true;
                    let items: Vec<&Node> = match &e.value.kind {
                        NodeKind::Seq(v) => v.iter().collect(),
                        _ => vec![&e.value],
                    };
                    for (i, n) in items.iter().enumerate() {
                        let Some(text) = n.as_str() else {
                            let found = n.type_name();
                            self.err(
                                Code::WrongType,
                                format!("`condition` must be a string, found {found}"),
                                n.span,
                                &p,
                            );
                            continue;
                        };
                        let ip = if items.len() > 1 {
                            format!("{p}[{i}]")
                        } else {
                            p.clone()
                        };
                        match expr::parse_condition(text) {
                            Ok(c) => d
                                .conditions
                                .push(Spanned::new(c, self.content_span(n.span))),
                            Err(x) => {
                                d.condition_failed = true;
                                self.expr_error(x, text, n.span, &ip, Code::ConditionSyntax)
                            }
                        }
                    }
                }
                "timeframe" if reserved.contains(&"timeframe") => d.timeframe = self.string(e, &p),
                _ => {
                    if let Some(s) = self.search(e, &p) {
                        d.searches.push(SearchDef {
                            name: e.key.clone(),
                            name_span: e.key_span,
                            search: s,
                        });
                    }
                }
            }
        }
        if !saw_condition && reserved.contains(&"condition") {
            self.err(
                Code::MissingCondition,
                "the detection has no `condition`",
                span.map(|s| Span::point(s.start)),
                path,
            )
            .hints
            .push("add e.g. `condition: selection`".into());
        }
        d
    }

    /// Reports an expression error at its place inside the YAML scalar.
    fn expr_error(&mut self, x: ExprError, text: &str, span: Option<Span>, path: &str, code: Code) {
        let code = if x.too_deep { Code::TooDeep } else { code };
        let at = self.inner_span(span, text, x.at.clone());
        let hint = match code {
            Code::TooDeep => "split the expression into named searches or rules",
            Code::ConditionSyntax => {
                "conditions combine search identifiers with `and`, `or`, `not`, parentheses, `1 of x*` and `all of them`"
            }
            _ => {
                "aggregate expressions compare count(), distinct(f), sum(f), min(f), max(f), avg(f) or percentile(f, p) with a number, joined by and/or/not"
            }
        };
        self.err(code, x.message, at, path).hints.push(hint.into());
    }

    /// The span of bytes `r` of `text`, which is the value of the scalar at `span`.
    fn inner_span(
        &self,
        span: Option<Span>,
        text: &str,
        r: std::ops::Range<usize>,
    ) -> Option<Span> {
        let (a, b) = expr::char_range(text, &r);
        self.content_span(span).map(|s| s.sub(a, b))
    }

    /// The span of a scalar's content: past the opening quote of a quoted scalar.
    pub(crate) fn content_span(&self, span: Option<Span>) -> Option<Span> {
        let span = span?;
        let line = self
            .text
            .lines()
            .nth(span.start.line.saturating_sub(1) as usize)
            .unwrap_or("");
        let first = line.chars().nth(span.start.col.saturating_sub(1) as usize);
        if matches!(first, Some('\'') | Some('"')) && span.start.line == span.end.line {
            let s = sigil_diagnostics::Pos::new(span.start.line, span.start.col + 1);
            let e = sigil_diagnostics::Pos::new(
                span.end.line,
                span.end.col.saturating_sub(1).max(s.col),
            );
            Some(Span::new(s, e))
        } else {
            Some(span)
        }
    }

    fn search(&mut self, e: &MapEntry, path: &str) -> Option<SearchAst> {
        match &e.value.kind {
            NodeKind::Map(m) => Some(SearchAst::Map(self.field_matches(m, e.value.span, path))),
            NodeKind::Seq(items) => {
                let mut out = Vec::new();
                for (i, it) in items.iter().enumerate() {
                    let ip = format!("{path}[{i}]");
                    match &it.kind {
                        NodeKind::Map(m) => {
                            out.push(ListItem::Map(self.field_matches(m, it.span, &ip), it.span))
                        }
                        NodeKind::Seq(_) => {
                            self.err(
                                Code::WrongType,
                                "a search list cannot hold a list",
                                it.span,
                                &ip,
                            )
                            .hints
                            .push("use a list of maps, or a map whose field holds a list".into());
                        }
                        _ => {
                            if let Some(v) = self.scalar(it, &ip) {
                                out.push(ListItem::Keyword(v));
                            }
                        }
                    }
                }
                if out.is_empty() && items.is_empty() {
                    self.err(
                        Code::EmptySearch,
                        format!("search `{}` is an empty list", e.key),
                        e.value.span.or(e.key_span),
                        path,
                    )
                    .hints
                    .push("an empty search can never match; give it values or remove it".into());
                }
                Some(SearchAst::List(out))
            }
            NodeKind::Str(_) | NodeKind::Int(_) | NodeKind::Float(_) => {
                // A bare scalar under an identifier is one keyword.
                let v = self.scalar(&e.value, path)?;
                Some(SearchAst::List(vec![ListItem::Keyword(v)]))
            }
            _ => {
                let found = e.value.type_name();
                self.err(
                    Code::WrongType,
                    format!(
                        "search `{}` must be a mapping or a list, found {found}",
                        e.key
                    ),
                    e.value.span.or(e.key_span),
                    path,
                );
                None
            }
        }
    }

    fn scalar(&mut self, n: &Node, path: &str) -> Option<ValueAst> {
        let value = match &n.kind {
            NodeKind::Null => ScalarAst::Null,
            NodeKind::Bool(b) => ScalarAst::Bool(*b),
            NodeKind::Int(i) => ScalarAst::Int(*i),
            NodeKind::Float(f) => ScalarAst::Float(*f),
            NodeKind::Str(s) => ScalarAst::Str(s.clone()),
            _ => {
                let found = n.type_name();
                self.err(
                    Code::WrongType,
                    format!("expected a value, found {found}"),
                    n.span,
                    path,
                );
                return None;
            }
        };
        Some(ValueAst {
            value,
            span: n.span,
        })
    }

    fn field_matches(&mut self, m: &[MapEntry], span: Option<Span>, path: &str) -> Vec<FieldMatch> {
        let mut out = Vec::new();
        if m.is_empty() {
            self.err(
                Code::EmptySearch,
                "an empty mapping can never match",
                span,
                path,
            )
            .hints
            .push("give the search at least one field, or remove it".into());
        }
        for e in m {
            let p = join(path, &e.key);
            let mut parts = e.key.split('|');
            let field = parts.next().unwrap_or("");
            let mut col = field.chars().count() + 1;
            let modifiers: Vec<Spanned<String>> = parts
                .map(|m| {
                    let sp = e.key_span.map(|s| s.sub(col, col + m.chars().count()));
                    col += m.chars().count() + 1;
                    Spanned::new(m.to_string(), sp)
                })
                .collect();
            let mut element = None;
            let (values, is_list) = match &e.value.kind {
                NodeKind::Map(inner) if modifiers.iter().any(|m| m.value == "element") => {
                    element = Some(self.field_matches(inner, e.value.span, &p));
                    (Vec::new(), false)
                }
                NodeKind::Seq(items) => {
                    let mut vals = Vec::new();
                    for (i, it) in items.iter().enumerate() {
                        if let Some(v) = self.scalar(it, &format!("{p}[{i}]")) {
                            vals.push(v);
                        }
                    }
                    (vals, true)
                }
                NodeKind::Map(_) => {
                    self.err(
                        Code::WrongType,
                        format!("field `{field}` holds a mapping; values must be scalars or lists"),
                        e.value.span,
                        &p,
                    )
                    .hints
                    .push(format!(
                        "modifiers go in the key after `|`, e.g. `{field}|endswith: value`; to match several fields of one array element, write `{field}|element:` above them"
                    ));
                    continue;
                }
                _ => (self.scalar(&e.value, &p).into_iter().collect(), false),
            };
            out.push(FieldMatch {
                field: if field.is_empty() {
                    None
                } else {
                    Some(field.to_string())
                },
                key_span: e.key_span,
                modifiers,
                values,
                is_list,
                value_span: e.value.span,
                element,
            });
        }
        out
    }

    fn filter(&mut self, root: &Node) -> Option<FilterAst> {
        let logsource = self.logsource(root, "", true);
        let f = root.get("filter")?;
        let Some(entries) = f.value.as_map() else {
            self.wrong_type(
                f,
                "filter",
                "a mapping with `rules`, selections and `condition`",
            );
            return None;
        };
        let mut rules = None;
        let mut rest = Vec::new();
        for e in entries {
            if e.key == "rules" {
                rules = Some(match e.value.as_str() {
                    Some("any") => FilterRules::Any,
                    _ => {
                        let listed = self.strings(e, "filter.rules");
                        if listed.is_empty() {
                            FilterRules::Any
                        } else {
                            FilterRules::Listed(listed)
                        }
                    }
                });
            } else {
                rest.push(e.clone());
            }
        }
        let rules = rules.unwrap_or_else(|| {
            self.err(
                Code::InvalidFilter,
                "filter has no `rules`",
                f.value.span.or(f.key_span),
                "filter",
            )
            .hints
            .push("list the ids or names of the rules it applies to, or write `rules: any`".into());
            FilterRules::Any
        });
        let detection = self.detection(&rest, f.value.span, "filter", &["condition"]);
        Some(FilterAst {
            logsource,
            rules,
            detection,
        })
    }

    fn correlation(&mut self, e: &MapEntry) -> Option<CorrelationAst> {
        let Some(entries) = e.value.as_map() else {
            self.wrong_type(e, "correlation", "a mapping");
            return None;
        };
        let span = e.value.span.or(e.key_span);
        // Errors in values (not unknown keys) leave holes that lowering would report again
        // as missing keys; such a correlation is not lowered.
        let value_errors = |diags: &[Diagnostic]| {
            diags
                .iter()
                .filter(|d| d.is_error() && d.code != Code::UnknownKey)
                .count()
        };
        let errors_before = value_errors(&self.diags);
        let mut kind = None;
        let mut c = CorrelationAst {
            kind: Spanned::new(CorrelationType::EventCount, span),
            rules: vec![],
            group_by: vec![],
            timespan: None,
            window: None,
            aliases: vec![],
            condition: None,
            score: vec![],
            outputs: vec![],
            steps: vec![],
            until: None,
            generate: None,
            span,
        };
        let mut condition_entry = None;
        for x in entries {
            let p = format!("correlation.{}", x.key);
            match x.key.as_str() {
                "type" => {
                    if let Some(t) = self.string(x, &p) {
                        match CorrelationType::parse(&t.value) {
                            Some(k) => kind = Some(Spanned::new(k, t.span)),
                            None => {
                                self.err(
                                    Code::InvalidCorrelation,
                                    format!("unknown correlation type `{}`", t.value),
                                    t.span,
                                    &p,
                                )
                                .hints
                                .push(format!("known types: {}", CorrelationType::NAMES));
                                return None;
                            }
                        }
                    }
                }
                "rules" => c.rules = self.strings(x, &p),
                "group-by" => c.group_by = self.strings(x, &p),
                "timespan" | "timeframe" | "maxspan" => c.timespan = self.string(x, &p),
                "window" => c.window = self.string(x, &p),
                // The 2.x schema puts `generate` at top level; pySigma reads it here. Both work.
                "generate" => c.generate = self.boolean(x, &p),
                "aliases" => c.aliases = self.aliases(x, &p),
                "condition" => condition_entry = Some(x),
                "score" => c.score = self.score(x, &p),
                "fields" => c.outputs = self.strings(x, &p),
                "steps" => match &x.value.kind {
                    NodeKind::Seq(items) => {
                        for (i, it) in items.iter().enumerate() {
                            if let Some(s) = self.step(it, &format!("{p}[{i}]")) {
                                c.steps.push(s);
                            }
                        }
                    }
                    _ => self.wrong_type(x, &p, "a list of steps"),
                },
                "until" => c.until = self.step(&x.value, &p),
                other => {
                    self.err(Code::UnknownKey, format!("unknown correlation key `{other}`"), x.key_span, &p)
                        .hints
                        .push("correlation keys: type, rules, group-by, timespan, window, aliases, condition, score, fields, steps, until, generate".into());
                }
            }
        }
        let Some(kind) = kind else {
            self.err(
                Code::MissingKey,
                "correlation has no `type`",
                e.key_span.or(span).map(|s| Span::point(s.start)),
                "correlation.type",
            )
            .hints
            .push(format!("known types: {}", CorrelationType::NAMES));
            return None;
        };
        c.kind = kind;
        if let Some(x) = condition_entry {
            c.condition = self.corr_condition(x);
        }
        if value_errors(&self.diags) > errors_before {
            return None;
        }
        Some(c)
    }

    fn aliases(&mut self, e: &MapEntry, path: &str) -> Vec<AliasAst> {
        let Some(entries) = e.value.as_map() else {
            self.wrong_type(e, path, "a mapping of alias → {rule: field}");
            return vec![];
        };
        let mut out = Vec::new();
        for a in entries {
            let p = join(path, &a.key);
            let Some(m) = a.value.as_map() else {
                self.wrong_type(a, &p, "a mapping of rule name → field");
                continue;
            };
            let mut fields = Vec::new();
            for r in m {
                if let Some(f) = self.string(r, &join(&p, &r.key)) {
                    fields.push((Spanned::new(r.key.clone(), r.key_span), f.value));
                }
            }
            out.push(AliasAst {
                name: Spanned::new(a.key.clone(), a.key_span),
                fields,
            });
        }
        out
    }

    fn agg(&mut self, n: &Node, path: &str) -> Option<Spanned<expr::AggExpr>> {
        let Some(text) = n.as_str() else {
            let found = n.type_name();
            self.err(
                Code::WrongType,
                format!("expected an aggregate expression string, found {found}"),
                n.span,
                path,
            );
            return None;
        };
        match expr::parse_agg_expr(text) {
            Ok(a) => Some(Spanned::new(a, n.span)),
            Err(x) => {
                self.expr_error(x, text, n.span, path, Code::AggregateSyntax);
                None
            }
        }
    }

    fn corr_condition(&mut self, e: &MapEntry) -> Option<CorrConditionAst> {
        let p = "correlation.condition";
        match &e.value.kind {
            NodeKind::Str(_) => self.agg(&e.value, p).map(CorrConditionAst::Expr),
            NodeKind::Map(m) => {
                let mut field = Vec::new();
                let mut ops = Vec::new();
                let mut percentile = None;
                for x in m {
                    let xp = join(p, &x.key);
                    let op = match x.key.as_str() {
                        "gt" => CmpOp::Gt,
                        "gte" => CmpOp::Gte,
                        "lt" => CmpOp::Lt,
                        "lte" => CmpOp::Lte,
                        "eq" => CmpOp::Eq,
                        "neq" => CmpOp::Neq,
                        "field" => {
                            field = self.strings(x, &xp);
                            continue;
                        }
                        "percentile" => {
                            percentile = self.number(x, &xp);
                            continue;
                        }
                        other => {
                            self.err(Code::InvalidCorrelation, format!("unknown condition key `{other}`"), x.key_span, &xp)
                                .hints
                                .push("use gt, gte, lt, lte, eq or neq with a number, and `field` for value_* types".into());
                            continue;
                        }
                    };
                    if let Some(v) = self.number(x, &xp) {
                        ops.push((op, v));
                    }
                }
                Some(CorrConditionAst::Sigma {
                    field,
                    ops,
                    percentile,
                    span: e.value.span,
                })
            }
            _ => {
                self.wrong_type(
                    e,
                    p,
                    "a mapping such as `{gte: 10}` or an aggregate expression string",
                );
                None
            }
        }
    }

    fn number(&mut self, e: &MapEntry, path: &str) -> Option<f64> {
        match &e.value.kind {
            NodeKind::Int(i) => Some(*i as f64),
            NodeKind::Float(f) if f.is_finite() => Some(*f),
            NodeKind::Str(s) => match s.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => Some(v),
                _ => {
                    self.wrong_type(e, path, "a number");
                    None
                }
            },
            _ => {
                self.wrong_type(e, path, "a number");
                None
            }
        }
    }

    fn score(&mut self, e: &MapEntry, path: &str) -> Vec<ScoreAst> {
        let NodeKind::Seq(items) = &e.value.kind else {
            self.wrong_type(e, path, "a list of `{when, value}` cases");
            return vec![];
        };
        let mut out = Vec::new();
        for (i, it) in items.iter().enumerate() {
            let ip = format!("{path}[{i}]");
            let Some(m) = it.as_map() else {
                let found = it.type_name();
                self.err(
                    Code::WrongType,
                    format!("a score case must be a mapping, found {found}"),
                    it.span,
                    &ip,
                );
                continue;
            };
            let mut when = None;
            let mut value = None;
            for x in m {
                let xp = join(&ip, &x.key);
                match x.key.as_str() {
                    "when" => when = self.agg(&x.value, &xp),
                    "value" => match x.value.kind {
                        NodeKind::Int(v) => value = Some(v),
                        _ => self.wrong_type(x, &xp, "an integer"),
                    },
                    other => {
                        self.err(
                            Code::UnknownKey,
                            format!("unknown score key `{other}`"),
                            x.key_span,
                            &xp,
                        )
                        .hints
                        .push("a score case has `when` (optional) and `value`".into());
                    }
                }
            }
            match value {
                Some(value) => out.push(ScoreAst {
                    when,
                    value,
                    span: it.span,
                }),
                None => {
                    self.err(
                        Code::MissingKey,
                        "score case has no integer `value`",
                        it.span,
                        &ip,
                    );
                }
            }
        }
        out
    }

    fn step(&mut self, n: &Node, path: &str) -> Option<StepAst> {
        let mut s = StepAst {
            rule: None,
            inline: None,
            name: None,
            runs: None,
            span: n.span,
        };
        if let Some(r) = n.as_str() {
            s.rule = Some(Spanned::new(r.to_string(), n.span));
            return Some(s);
        }
        let Some(m) = n.as_map() else {
            let found = n.type_name();
            self.err(
                Code::WrongType,
                format!("a step must be a rule name or a mapping, found {found}"),
                n.span,
                path,
            );
            return None;
        };
        for x in m {
            let xp = join(path, &x.key);
            match x.key.as_str() {
                "rule" => s.rule = self.string(x, &xp),
                "name" => s.name = self.string(x, &xp).map(|v| v.value),
                "runs" => match x.value.kind {
                    NodeKind::Int(v) => s.runs = Some(Spanned::new(v, x.value.span)),
                    _ => self.wrong_type(x, &xp, "an integer"),
                },
                "logsource" | "detection" => {}
                other => {
                    self.err(
                        Code::UnknownKey,
                        format!("unknown step key `{other}`"),
                        x.key_span,
                        &xp,
                    )
                    .hints
                    .push(
                        "a step has `rule` (or `logsource` + `detection`), `name` and `runs`"
                            .into(),
                    );
                }
            }
        }
        if n.get("detection").is_some() || n.get("logsource").is_some() {
            if s.rule.is_some() {
                self.err(
                    Code::InvalidCorrelation,
                    "a step names a `rule` and also defines a `detection`",
                    n.span,
                    path,
                )
                .hints
                .push("use one or the other".into());
            }
            s.inline = self.rule_body(n, path).map(Box::new);
        } else if s.rule.is_none() {
            self.err(
                Code::MissingKey,
                "a step needs `rule` or `logsource` + `detection`",
                n.span,
                path,
            );
            return None;
        }
        Some(s)
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}
