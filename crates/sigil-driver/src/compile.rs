//! `sigil compile`: rules × targets → query text, fidelity notes and diagnostics.

use crate::{CheckReport, check};
use rayon::prelude::*;
use sigil_backend::{Backend, Compiled, Mapping, Note, Profile, map_rule_in};
use sigil_diagnostics::{Code, Diagnostic};
use sigil_ir::{Rule, alerting_rules};
use sigil_lower::{PlaceholderValues, has_placeholders, resolve_placeholders};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Every target Sigil compiles to, in the order reports list them.
pub fn backends() -> Vec<&'static dyn Backend> {
    vec![
        &sigil_backend_kql::KQL,
        &sigil_backend_spl::SPL,
        &sigil_backend_eql::EQL,
    ]
}

/// The backend with this short name.
pub fn backend(name: &str) -> Option<&'static dyn Backend> {
    backends().into_iter().find(|b| b.name() == name)
}

/// What to compile and how.
#[derive(Clone, Debug)]
pub struct CompileOptions {
    /// Target names (`kql`, `spl`, `eql`).
    pub targets: Vec<String>,
    /// The built-in mapping to start from.
    pub profile: Profile,
    /// User mapping files, layered in order over the built-in one (each names its target;
    /// a file for another target is ignored for this one).
    pub mapping_files: Vec<PathBuf>,
    /// Time field of the pass-through profile.
    pub passthrough_time: String,
    /// Approximations become errors.
    pub strict: bool,
    /// Also compile rules that only feed correlations (building blocks).
    pub include_inputs: bool,
    /// Values of `|expand` placeholders (name → values, OR-ed).
    pub placeholders: PlaceholderValues,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            targets: backends().iter().map(|b| b.name().to_string()).collect(),
            profile: Profile::Default,
            mapping_files: Vec::new(),
            passthrough_time: "@timestamp".into(),
            strict: false,
            include_inputs: false,
            placeholders: PlaceholderValues::new(),
        }
    }
}

/// The outcome of one rule for one target.
#[derive(Clone, Debug)]
pub struct TargetOutput {
    /// The rule (as lowered, before mapping).
    pub rule: Arc<Rule>,
    /// The target's short name.
    pub target: &'static str,
    /// The query and its notes, or why there is none.
    pub result: Result<Compiled, Vec<Diagnostic>>,
}

/// Everything `sigil compile` produced.
#[derive(Debug, Default)]
pub struct CompileReport {
    /// The check of the rule files (parse and lowering diagnostics, sources for snippets).
    pub check: CheckReport,
    /// Mapping files that could not be used (nothing is compiled then).
    pub mapping_errors: Vec<Diagnostic>,
    /// One entry per compiled rule and target, in file order then target order.
    pub outputs: Vec<TargetOutput>,
    /// Rules skipped because they only feed correlations (names).
    pub skipped_inputs: Vec<String>,
}

impl CompileReport {
    /// Number of (rule, target) pairs that failed.
    pub fn failed(&self) -> usize {
        self.outputs.iter().filter(|o| o.result.is_err()).count()
    }
}

fn mapping_io_error(path: &Path, e: &std::io::Error) -> Diagnostic {
    Diagnostic::new(
        Code::Io,
        format!("cannot read mapping file {}: {e}", path.display()),
    )
    .in_file(Arc::from(path.display().to_string()))
    .hint("check the path given to --mapping")
}

/// Builds each requested target's mapping: the profile's built-in one with the user files
/// over it.
pub fn mappings(
    opts: &CompileOptions,
) -> Result<Vec<(&'static dyn Backend, Mapping)>, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let mut files = Vec::new();
    for p in &opts.mapping_files {
        match std::fs::read_to_string(p) {
            Ok(t) => files.push((p.display().to_string(), t)),
            Err(e) => errors.push(mapping_io_error(p, &e)),
        }
    }
    let mut out = Vec::new();
    for name in &opts.targets {
        let Some(b) = backend(name) else {
            errors.push(
                Diagnostic::new(Code::InvalidMapping, format!("unknown target `{name}`"))
                    .hint("`sigil targets` lists the targets"),
            );
            continue;
        };
        let mut m = if opts.profile == Profile::Passthrough {
            Mapping::passthrough(b.name(), &opts.passthrough_time)
        } else {
            match Mapping::builtin(b.name(), opts.profile) {
                Ok(m) => m,
                Err(e) => {
                    errors.push(e.to_diagnostic());
                    continue;
                }
            }
        };
        for (fname, text) in &files {
            // A user file names its target; files for other targets do not apply here.
            if file_target(text).as_deref().is_some_and(|t| t != b.name()) {
                continue;
            }
            if let Err(e) = m.layer(fname, text) {
                errors.push(e.to_diagnostic());
            }
        }
        out.push((b, m));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The `target:` of a mapping file, read leniently (the full parse reports errors).
fn file_target(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("target:"))
        .map(|t| t.trim().trim_matches(['"', '\'']).to_string())
}

/// Compiles one lowered rule with one target's mapping (no placeholder values).
pub fn compile_rule(
    backend: &dyn Backend,
    mapping: &Mapping,
    rule: &Rule,
    strict: bool,
) -> Result<Compiled, Vec<Diagnostic>> {
    compile_rule_with(
        backend,
        mapping,
        rule,
        strict,
        &PlaceholderValues::new(),
        &BTreeMap::new(),
    )
}

/// Rule name and id → the file defining it, so errors inside embedded inputs point there.
pub fn rule_files(rules: &[Rule]) -> BTreeMap<String, Arc<str>> {
    let mut out = BTreeMap::new();
    for r in rules {
        for k in [&r.meta.name, &r.meta.id].into_iter().flatten() {
            out.insert(k.clone(), r.origin.file.clone());
        }
    }
    out
}

/// Compiles one lowered rule with one target's mapping and placeholder values; `files`
/// ([`rule_files`]) locates errors inside embedded inputs.
pub fn compile_rule_with(
    backend: &dyn Backend,
    mapping: &Mapping,
    rule: &Rule,
    strict: bool,
    placeholders: &PlaceholderValues,
    files: &BTreeMap<String, Arc<str>>,
) -> Result<Compiled, Vec<Diagnostic>> {
    let resolved;
    let rule = if has_placeholders(rule) {
        resolved = resolve_placeholders(rule, placeholders)?;
        &resolved
    } else {
        rule
    };
    let mapped = map_rule_in(rule, mapping, files)?;
    sigil_backend::compile(backend, &mapped, strict)
}

/// Checks the rule files under `paths` and compiles every rule that alerts (and, with
/// `include_inputs`, every other rule) for every requested target.
pub fn compile(paths: &[PathBuf], opts: &CompileOptions) -> CompileReport {
    let mut report = CompileReport {
        check: check(paths),
        ..Default::default()
    };
    let maps = match mappings(opts) {
        Ok(m) => m,
        Err(e) => {
            report.mapping_errors = e;
            return report;
        }
    };
    let alerting = alerting_rules(&report.check.rules);
    let files = rule_files(&report.check.rules);
    let mut work = Vec::new();
    for (r, alerts) in report.check.rules.iter().zip(alerting) {
        if !alerts && !opts.include_inputs {
            report.skipped_inputs.push(
                r.meta
                    .name
                    .clone()
                    .or_else(|| r.meta.id.clone())
                    .unwrap_or_else(|| r.meta.title.clone()),
            );
            continue;
        }
        let rule = Arc::new(r.clone());
        for (b, m) in &maps {
            work.push((rule.clone(), *b, m));
        }
    }
    report.outputs = work
        .into_par_iter()
        .map(|(rule, b, m)| TargetOutput {
            result: compile_rule_with(b, m, &rule, opts.strict, &opts.placeholders, &files),
            rule,
            target: b.name(),
        })
        .collect();
    report
}

/// Parses `NAME=VALUE` into the placeholder table (repeated names add values).
pub fn add_placeholder(table: &mut PlaceholderValues, arg: &str) -> Result<(), String> {
    let (name, value) = arg
        .split_once('=')
        .ok_or_else(|| format!("`{arg}` is not NAME=VALUE"))?;
    let name = name.trim().trim_matches('%');
    if name.is_empty() {
        return Err(format!("`{arg}` has no placeholder name"));
    }
    table
        .entry(name.to_string())
        .or_default()
        .push(value.to_string());
    Ok(())
}

/// The file stem a rule's query is written under (`name`, else id, else its title).
pub fn rule_stem(rule: &Rule) -> String {
    let raw = rule
        .meta
        .name
        .clone()
        .or_else(|| rule.meta.id.clone())
        .unwrap_or_else(|| rule.meta.title.clone());
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The text written to `<dir>/<target>/<rule>.<target>`: the notes as comments, then the query.
pub fn file_text(backend: &dyn Backend, rule: &Rule, c: &Compiled) -> String {
    let mut out = String::new();
    out.push_str(&backend.comment(&format!("{} ({})", rule.meta.title, rule.origin.file)));
    out.push('\n');
    for n in &c.notes {
        out.push_str(&backend.comment(&note_line(n)));
        out.push('\n');
    }
    out.push_str(&c.query);
    if !c.query.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// A note as one line: `approx [construct] message (line L)`.
pub fn note_line(n: &Note) -> String {
    let at = n
        .span
        .map(|s| format!(" (line {})", s.start.line))
        .unwrap_or_default();
    format!("approx [{}] {}{at}", n.construct.slug(), n.message)
}

/// Writes `text` to `path` atomically: a temporary file beside it, then a rename, so a
/// reader never sees half a query and a failure leaves the old file in place.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!(
        "{}.tmp{}",
        path.extension().and_then(|e| e.to_str()).unwrap_or(""),
        std::process::id()
    ));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
