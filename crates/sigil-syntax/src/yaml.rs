//! YAML loading: serde_yaml decides what the documents mean; a saphyr event pass records
//! where every node sits, and the two are zipped into a [`Node`] tree with spans.
//!
//! serde_yaml stays the authority (the user chose it, and its 0.9 line rejects duplicate
//! keys and alias bombs); the event pass is only a position index. When the two disagree
//! about a node (they should not), the node simply carries the nearest known span.

use saphyr_parser::{Event, Parser};
use serde::Deserialize;
use sigil_diagnostics::{Code, Diagnostic, Pos, Span};
use std::sync::Arc;

/// A YAML value with the span of its text and, for map values, the span of its key.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The value.
    pub kind: NodeKind,
    /// Where the value's text is.
    pub span: Option<Span>,
}

/// The value of a [`Node`].
#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    /// `null`, `~` or an empty value.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// Any other number.
    Float(f64),
    /// A string (quoted or plain).
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order, with each key's span.
    Map(Vec<MapEntry>),
}

/// One key/value pair of a mapping.
#[derive(Clone, Debug, PartialEq)]
pub struct MapEntry {
    /// The key as text (non-string keys are printed).
    pub key: String,
    /// Where the key is.
    pub key_span: Option<Span>,
    /// The value.
    pub value: Node,
}

impl Node {
    /// Short name of the node's type, for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) | NodeKind::Float(_) => "a number",
            NodeKind::Str(_) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    /// The entries when this node is a mapping.
    pub fn as_map(&self) -> Option<&[MapEntry]> {
        match &self.kind {
            NodeKind::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The string when this node is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Looks up a key in a mapping node.
    pub fn get(&self, key: &str) -> Option<&MapEntry> {
        self.as_map()?.iter().find(|e| e.key == key)
    }

    /// The scalar as text, for values where Sigma treats numbers and strings alike.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.kind {
            NodeKind::Str(s) => Some(s.clone()),
            NodeKind::Int(i) => Some(i.to_string()),
            NodeKind::Float(f) => Some(f.to_string()),
            NodeKind::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

/// One YAML document of a file.
#[derive(Clone, Debug)]
pub struct YamlDocument {
    /// 0-based index of the document in its file.
    pub index: usize,
    /// The document's root node.
    pub root: Node,
}

/// Positions as the saphyr event stream reports them, before zipping.
#[derive(Debug)]
enum PosTree {
    Leaf(Span),
    Seq(Span, Vec<PosTree>),
    Map(Span, Vec<(String, Span, PosTree)>),
}

impl PosTree {
    fn span(&self) -> Span {
        match self {
            PosTree::Leaf(s) | PosTree::Seq(s, _) | PosTree::Map(s, _) => *s,
        }
    }
}

fn pos(m: saphyr_parser::Marker) -> Pos {
    Pos::new(m.line() as u32, m.col() as u32 + 1)
}

fn span(s: saphyr_parser::Span) -> Span {
    Span::new(pos(s.start), pos(s.end))
}

/// Builds position trees for every document; `None` when the event parser gives up
/// (serde_yaml then reports the error with its own location).
fn position_trees(text: &str) -> Option<Vec<PosTree>> {
    enum Frame {
        Seq(Span, Vec<PosTree>),
        Map(Span, Vec<(String, Span, PosTree)>, Option<(String, Span)>),
    }
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut parser = Parser::new_from_str(text);
    // A finished node is handed to its parent frame (or becomes a document root).
    fn push(stack: &mut [Frame], docs: &mut Vec<PosTree>, node: PosTree, key_text: Option<String>) {
        match stack.last_mut() {
            None => docs.push(node),
            Some(Frame::Seq(_, items)) => items.push(node),
            Some(Frame::Map(_, entries, pending)) => match pending.take() {
                Some((k, ks)) => entries.push((k, ks, node)),
                None => {
                    let ks = node.span();
                    *pending = Some((key_text.unwrap_or_default(), ks));
                }
            },
        }
    }
    while let Some(ev) = parser.next_event() {
        let (ev, sp) = ev.ok()?;
        let sp = span(sp);
        match ev {
            Event::Scalar(v, ..) => {
                push(
                    &mut stack,
                    &mut docs,
                    PosTree::Leaf(sp),
                    Some(v.into_owned()),
                );
            }
            Event::Alias(_) => push(&mut stack, &mut docs, PosTree::Leaf(sp), None),
            Event::SequenceStart(..) => stack.push(Frame::Seq(sp, Vec::new())),
            Event::MappingStart(..) => stack.push(Frame::Map(sp, Vec::new(), None)),
            Event::SequenceEnd => {
                if let Some(Frame::Seq(s, items)) = stack.pop() {
                    push(&mut stack, &mut docs, PosTree::Seq(s, items), None);
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map(s, entries, _)) = stack.pop() {
                    push(&mut stack, &mut docs, PosTree::Map(s, entries), None);
                }
            }
            Event::StreamEnd => break,
            _ => {}
        }
    }
    Some(docs)
}

/// Deepest nesting of collections serde_yaml accepts (its recursion limit).
const MAX_YAML_DEPTH: usize = 128;

/// The first document nesting deeper than [`MAX_YAML_DEPTH`]: its index and where.
///
/// serde_yaml refuses such a document anyway, but only after scanning all of it, and its
/// scanner (libyaml's) takes time quadratic in the flow nesting: `{a: ` repeated 65,536
/// times took a minute. The saphyr event stream finds the depth in linear time.
fn too_deep(text: &str) -> Option<(usize, Pos)> {
    let mut parser = Parser::new_from_str(text);
    let (mut depth, mut done) = (0usize, 0usize);
    while let Some(ev) = parser.next_event() {
        match ev {
            Ok((Event::SequenceStart(..) | Event::MappingStart(..), sp)) => {
                depth += 1;
                if depth > MAX_YAML_DEPTH {
                    return Some((done, pos(sp.start)));
                }
            }
            Ok((Event::SequenceEnd | Event::MappingEnd, _)) => depth = depth.saturating_sub(1),
            Ok((Event::DocumentEnd, _)) => {
                done += 1;
                depth = 0;
            }
            Ok((Event::StreamEnd, _)) => break,
            Ok(_) => {}
            // saphyr's own flow limit (255 levels) is past serde_yaml's.
            Err(e) if e.info().contains("recursion limit") => {
                return Some((done, pos(*e.marker())));
            }
            Err(_) => break,
        }
    }
    None
}

/// Parses every document of a file. Returns the documents that parsed and a diagnostic
/// for the first YAML error (a syntax error ends the stream; later documents are lost).
pub fn load_documents(file: &Arc<str>, text: &str) -> (Vec<YamlDocument>, Vec<Diagnostic>) {
    let trees = position_trees(text);
    let mut docs = Vec::new();
    let mut diags = Vec::new();
    let deep = too_deep(text);
    let readable = deep.map_or(usize::MAX, |(d, _)| d);
    for (index, de) in serde_yaml::Deserializer::from_str(text)
        .enumerate()
        .take(readable)
    {
        let tree = trees.as_ref().and_then(|t| t.get(index));
        match serde_yaml::Value::deserialize(de) {
            Ok(v) => {
                // An empty document (`---` followed by nothing) is not a rule; skip it.
                if v.is_null() && tree.is_none_or(|t| matches!(t, PosTree::Leaf(_))) {
                    continue;
                }
                docs.push(YamlDocument {
                    index,
                    root: zip(v, tree),
                });
            }
            Err(e) => {
                diags.push(yaml_error(file, text, &e, tree));
                // serde_yaml repeats a stream error for every later document: stop here.
                return (docs, diags);
            }
        }
    }
    if let Some((_, at)) = deep {
        diags.push(
            Diagnostic::new(
                Code::YamlLimit,
                format!("YAML too deep to read safely: it nests more than {MAX_YAML_DEPTH} levels"),
            )
            .in_file(file.clone())
            .at(Some(Span::point(at)))
            .hint("rules nest a few levels; flatten the structure (later documents of the file are not read)"),
        );
    }
    (docs, diags)
}

fn yaml_error(
    file: &Arc<str>,
    text: &str,
    e: &serde_yaml::Error,
    tree: Option<&PosTree>,
) -> Diagnostic {
    let msg = e.to_string();
    let loc = e
        .location()
        .map(|l| Pos::new(l.line() as u32, l.column() as u32));
    if let Some(rest) = msg.split("duplicate entry with key ").nth(1) {
        let key = rest
            .split(" at line")
            .next()
            .unwrap_or(rest)
            .trim_matches('"')
            .to_string();
        // serde_yaml points at the mapping; the position tree knows the repeated key itself.
        let dup = tree.and_then(|t| find_duplicate(t, &key));
        return Diagnostic::new(
            Code::DuplicateKey,
            format!("key `{key}` appears twice in one mapping"),
        )
        .in_file(file.clone())
        .at(dup.map(|(_, second)| second).or(loc.map(Span::point)))
        .hint("YAML keeps only one value per key; merge the two entries or rename one")
        .hint("to OR several values of one field, give the field a list of values");
    }
    if msg.contains("recursion limit") || msg.contains("repetition limit") {
        // serde_yaml gives no location here; the first alias is where expansion starts.
        let at = loc.map(Span::point).or_else(|| first_alias(text));
        return Diagnostic::new(Code::YamlLimit, format!("YAML too large to expand safely: {msg}"))
            .in_file(file.clone())
            .at(at)
            .hint("aliases that expand to very large or very deep values are refused; write the values out");
    }
    let short = msg.split(" at line ").next().unwrap_or(&msg).to_string();
    Diagnostic::new(Code::YamlSyntax, format!("invalid YAML: {short}"))
        .in_file(file.clone())
        .at(loc.map(Span::point))
        .hint("check indentation and quoting near this position; values containing `: ` or starting with `*`, `&`, `!`, `%` or `@` need quotes")
}

/// Span of the first alias (`*name`) in the text, if the event parser reaches one.
fn first_alias(text: &str) -> Option<Span> {
    let mut parser = Parser::new_from_str(text);
    while let Some(Ok((ev, sp))) = parser.next_event() {
        if let Event::Alias(_) = ev {
            return Some(span(sp));
        }
    }
    None
}

fn find_duplicate(t: &PosTree, key: &str) -> Option<(Span, Span)> {
    match t {
        PosTree::Leaf(_) => None,
        PosTree::Seq(_, items) => items.iter().find_map(|i| find_duplicate(i, key)),
        PosTree::Map(_, entries) => {
            let mut first = None;
            for (k, ks, _) in entries {
                if k == key {
                    match first {
                        None => first = Some(*ks),
                        Some(f) => return Some((f, *ks)),
                    }
                }
            }
            entries.iter().find_map(|(_, _, v)| find_duplicate(v, key))
        }
    }
}

fn key_text(k: &serde_yaml::Value) -> String {
    match k {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Number(n) => n.to_string(),
        serde_yaml::Value::Bool(b) => b.to_string(),
        serde_yaml::Value::Null => "null".into(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

fn zip(v: serde_yaml::Value, t: Option<&PosTree>) -> Node {
    use serde_yaml::Value as V;
    let span = t.map(PosTree::span);
    let kind = match v {
        V::Null => NodeKind::Null,
        V::Bool(b) => NodeKind::Bool(b),
        V::Number(n) => match n.as_i64() {
            Some(i) => NodeKind::Int(i),
            None => NodeKind::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        V::String(s) => NodeKind::Str(s),
        V::Sequence(items) => {
            let kids = match t {
                Some(PosTree::Seq(_, k)) => Some(k),
                _ => None,
            };
            NodeKind::Seq(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, x)| zip(x, kids.and_then(|k| k.get(i)).or(t)))
                    .collect(),
            )
        }
        V::Mapping(m) => {
            let kids = match t {
                Some(PosTree::Map(_, k)) => Some(k),
                _ => None,
            };
            NodeKind::Map(
                m.into_iter()
                    .map(|(k, x)| {
                        let key = key_text(&k);
                        let found = kids.and_then(|ks| ks.iter().find(|(kt, _, _)| *kt == key));
                        MapEntry {
                            key_span: found.map(|f| f.1).or(span),
                            value: zip(x, found.map(|f| &f.2).or(t)),
                            key,
                        }
                    })
                    .collect(),
            )
        }
        // A tag such as `!foo bar` carries no meaning in Sigma: keep the value.
        V::Tagged(tv) => return zip(tv.value, t),
    };
    Node { kind, span }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(s: &str) -> (Vec<YamlDocument>, Vec<Diagnostic>) {
        load_documents(&Arc::from("t.yml"), s)
    }

    #[test]
    fn nodes_carry_positions() {
        let (d, e) = load("title: x\ndetection:\n  sel:\n    A: [1, 'b']\n");
        assert!(e.is_empty());
        let det = d[0].root.get("detection").unwrap();
        let a = det.value.get("sel").unwrap().value.get("A").unwrap();
        assert_eq!(a.key_span.unwrap().start, Pos::new(4, 5));
        let NodeKind::Seq(items) = &a.value.kind else {
            panic!()
        };
        assert_eq!(items[1].span.unwrap().start, Pos::new(4, 12));
    }

    #[test]
    fn duplicate_key_points_at_second_occurrence() {
        let (_, e) = load("title: a\nlevel: low\ntitle: b\n");
        assert_eq!(e[0].code, Code::DuplicateKey);
        assert_eq!(e[0].location.span.unwrap().start, Pos::new(3, 1));
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut s = String::from("a: &a [x,x,x,x,x,x,x,x,x]\n");
        let names = ["b", "c", "d", "e", "f", "g", "h", "i"];
        let mut prev = "a";
        for n in names {
            s.push_str(&format!(
                "{n}: &{n} [{}]\n",
                vec![format!("*{prev}"); 9].join(",")
            ));
            prev = n;
        }
        let (_, e) = load(&s);
        assert_eq!(e[0].code, Code::YamlLimit);
    }

    #[test]
    fn deep_nesting_is_refused_before_serde_yaml_scans_it() {
        // libyaml's scanner is quadratic in flow nesting: this took a minute before.
        let t = std::time::Instant::now();
        let (d, e) = load(&format!("a: 1\n---\n{}", "{a: ".repeat(65_536)));
        assert_eq!(d.len(), 1);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].code, Code::YamlLimit);
        assert_eq!(e[0].location.span.unwrap().start.line, 3);
        let (d, e) = load(&format!("{}1{}", "[".repeat(129), "]".repeat(129)));
        assert!(d.is_empty());
        assert_eq!(e[0].code, Code::YamlLimit);
        let (_, e) = load(&"- ".repeat(2000));
        assert_eq!(e[0].code, Code::YamlLimit);
        assert!(t.elapsed().as_secs() < 10, "took {:?}", t.elapsed());
        // 128 levels is still serde_yaml's to read.
        let (d, e) = load(&format!("{}1{}", "[".repeat(128), "]".repeat(128)));
        assert!(e.is_empty() && d.len() == 1, "{e:?}");
    }

    #[test]
    fn syntax_error_stops_without_looping() {
        let (d, e) = load("a: 1\n---\nb: [\n---\nc: 2\n");
        assert_eq!(d.len(), 1);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].code, Code::YamlSyntax);
    }
}
