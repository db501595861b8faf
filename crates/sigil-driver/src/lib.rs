//! What the CLI and the tests share: finding rule files, reading them, and running the
//! check and explain stages over a set.

pub mod compile;
pub mod fixtures;
pub mod hunt;
pub mod synth;

use rayon::prelude::*;
use sigil_diagnostics::{Code, Diagnostic, Span, sort_diagnostics};
use sigil_ir::Rule;
use sigil_lower::{DocCounts, lower_files};
use sigil_syntax::ast::RuleFile;
use sigil_syntax::fixture::{EventsAst, parse_fixture};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Suffix of fixture files, which sit beside rules but are not rules.
pub const FIXTURE_SUFFIXES: [&str; 2] = [".tests.yml", ".tests.yaml"];

/// True for files the rule discovery reads.
fn is_rule_file(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    (name.ends_with(".yml") || name.ends_with(".yaml"))
        && !FIXTURE_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Finds rule files under the given paths (folders recursively), sorted for determinism.
/// A path that does not exist, or a folder that cannot be read, is an I/O diagnostic.
pub fn discover(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<Diagnostic>) {
    let mut files = Vec::new();
    let mut errs = Vec::new();
    for p in paths {
        let name: Arc<str> = Arc::from(p.display().to_string());
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => walk(p, &mut files, &mut errs),
            Ok(_) => files.push(p.clone()),
            Err(e) => errs.push(
                Diagnostic::new(Code::Io, format!("cannot read `{}`: {e}", p.display()))
                    .in_file(name),
            ),
        }
    }
    files.sort();
    files.dedup();
    (files, errs)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, errs: &mut Vec<Diagnostic>) {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            errs.push(
                Diagnostic::new(
                    Code::Io,
                    format!("cannot read folder `{}`: {e}", dir.display()),
                )
                .in_file(Arc::from(dir.display().to_string())),
            );
            return;
        }
    };
    for entry in rd.flatten() {
        let p = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => {
                // Hidden folders (.git) and build output are never rule folders.
                let hidden = p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.') || n == "target");
                if !hidden {
                    walk(&p, files, errs);
                }
            }
            Ok(t) if (t.is_file() || t.is_symlink()) && is_rule_file(&p) => files.push(p),
            _ => {}
        }
    }
}

/// A source file as read from disk.
#[derive(Clone, Debug)]
pub struct Source {
    /// Path as displayed.
    pub name: Arc<str>,
    /// Its text.
    pub text: Arc<str>,
}

/// The outcome of checking a set of rule files.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Files read.
    pub files: usize,
    /// Documents by kind and how many lowered.
    pub counts: DocCounts,
    /// The rules that lowered.
    pub rules: Vec<Rule>,
    /// Every diagnostic, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
    /// Texts of the files, for rendering snippets.
    pub sources: HashMap<Arc<str>, Arc<str>>,
    /// True when a file or path could not be read (exit status 2).
    pub io_error: bool,
    /// Files whose documents all lowered without error.
    pub clean_files: usize,
}

impl CheckReport {
    /// Number of error diagnostics.
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }
    /// Number of warning diagnostics.
    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }
}

/// Reads and parses files in parallel; I/O failures become diagnostics.
pub fn read_and_parse(files: &[PathBuf]) -> (Vec<RuleFile>, Vec<Source>, Vec<Diagnostic>, bool) {
    let results: Vec<_> = files
        .par_iter()
        .map(|p| {
            let name = p.display().to_string();
            match std::fs::read(p) {
                Ok(bytes) => {
                    let text = match String::from_utf8(bytes) {
                        Ok(t) => t,
                        Err(e) => {
                            let d = Diagnostic::new(
                                Code::YamlSyntax,
                                format!(
                                    "file is not UTF-8 (invalid byte at offset {})",
                                    e.utf8_error().valid_up_to()
                                ),
                            )
                            .in_file(Arc::from(name.as_str()))
                            .hint("save the file as UTF-8");
                            return (None, None, vec![d], false);
                        }
                    };
                    let text = text
                        .strip_prefix('\u{feff}')
                        .map(str::to_owned)
                        .unwrap_or(text);
                    let (file, diags) = sigil_syntax::parse_file(&name, &text);
                    let src = Source {
                        name: file.name.clone(),
                        text: Arc::from(text),
                    };
                    (Some(file), Some(src), diags, false)
                }
                Err(e) => (
                    None,
                    None,
                    vec![
                        Diagnostic::new(Code::Io, format!("cannot read `{name}`: {e}"))
                            .in_file(Arc::from(name.as_str())),
                    ],
                    true,
                ),
            }
        })
        .collect();
    let mut parsed = Vec::new();
    let mut sources = Vec::new();
    let mut diags = Vec::new();
    let mut io = false;
    for (f, s, d, e) in results {
        parsed.extend(f);
        sources.extend(s);
        diags.extend(d);
        io |= e;
    }
    (parsed, sources, diags, io)
}

/// Checks every rule file under `paths`: parse, lower, and validate fixture references.
pub fn check(paths: &[PathBuf]) -> CheckReport {
    let (files, mut diags) = discover(paths);
    let mut report = CheckReport {
        io_error: !diags.is_empty(),
        files: files.len(),
        ..Default::default()
    };
    let (parsed, sources, parse_diags, io) = read_and_parse(&files);
    report.io_error |= io;
    diags.extend(parse_diags);
    let lowered = lower_files(&parsed);
    diags.extend(lowered.diagnostics);
    for f in &parsed {
        for d in &f.documents {
            if let Some(fx) = &d.meta.fixtures {
                diags.extend(check_fixture(&f.name, &fx.value, fx.span));
            }
        }
    }
    sort_diagnostics(&mut diags);
    let bad: std::collections::HashSet<&str> = diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| &*d.location.file)
        .collect();
    report.clean_files = sources.iter().filter(|s| !bad.contains(&*s.name)).count();
    report.counts = lowered.counts;
    report.rules = lowered.rules;
    report.sources = sources.into_iter().map(|s| (s.name, s.text)).collect();
    // Fixture files are not rule files; keep their text too so their snippets can be shown.
    for d in diags.iter().filter(|d| d.code == Code::InvalidFixture) {
        let f = &d.location.file;
        if !report.sources.contains_key(f)
            && let Ok(t) = std::fs::read_to_string(&**f)
        {
            report.sources.insert(f.clone(), Arc::from(t));
        }
    }
    report.diagnostics = diags;
    report
}

/// Resolves a path written in a rule file relative to that file's folder.
pub fn relative_to(rule_file: &str, rel: &str) -> PathBuf {
    Path::new(rule_file)
        .parent()
        .unwrap_or(Path::new("."))
        .join(rel)
}

/// Validates a rule's fixture file: it exists, parses, and its NDJSON event files parse.
pub fn check_fixture(rule_file: &Arc<str>, rel: &str, span: Option<Span>) -> Vec<Diagnostic> {
    let path = relative_to(rule_file, rel);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            return vec![
                Diagnostic::new(
                    Code::InvalidFixture,
                    format!("fixture file `{}` cannot be read: {e}", path.display()),
                )
                .in_file(rule_file.clone())
                .at(span)
                .path("fixtures")
                .hint("the path is relative to the rule file's folder"),
            ];
        }
    };
    let fname = path.display().to_string();
    let (fx, mut diags) = parse_fixture(&fname, &text);
    let Some(fx) = fx else { return diags };
    for c in &fx.cases {
        if let EventsAst::File(f) = &c.events {
            let p = relative_to(&fname, &f.value);
            let at = |m: String| {
                Diagnostic::new(Code::InvalidFixture, m)
                    .in_file(Arc::from(fname.as_str()))
                    .at(f.span)
                    .path(format!("case `{}`.events", c.name.value))
            };
            match std::fs::read_to_string(&p) {
                Err(e) => diags.push(at(format!(
                    "events file `{}` cannot be read: {e}",
                    p.display()
                ))),
                Ok(t) => {
                    for (n, line) in t.lines().enumerate() {
                        if line.trim().is_empty() {
                            continue;
                        }
                        if let Err(e) =
                            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(line)
                        {
                            diags.push(at(format!(
                                "{}:{}: not a JSON object: {e}",
                                p.display(),
                                n + 1
                            )));
                            break;
                        }
                    }
                }
            }
        }
    }
    diags
}
