//! `sigil compile` and `sigil targets`: printing what the driver compiled.

use serde_json::json;
use sigil_backend::Profile;
use sigil_diagnostics::{Diagnostic, render_human, render_json};
use sigil_driver::compile::{
    CompileOptions, CompileReport, add_placeholder, backend, backends, compile, file_text,
    note_line, rule_stem, write_atomic,
};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// How `compile` prints its results.
#[derive(Clone, Copy, clap::ValueEnum, PartialEq, Eq)]
pub enum OutFormat {
    /// Queries with their notes as comments; errors with source snippets on stderr.
    Text,
    /// One JSON object per line: `kind` is `query` (rule, target, query, notes, errors) or `diagnostic`.
    Json,
}

/// The options of `sigil compile` as given on the command line.
pub struct Args {
    /// Rule files or folders.
    pub paths: Vec<PathBuf>,
    /// Target names, `all`, or comma lists of them.
    pub targets: Vec<String>,
    /// User mapping files.
    pub mappings: Vec<PathBuf>,
    /// Built-in mapping profile name.
    pub profile: String,
    /// Output folder.
    pub output: Option<PathBuf>,
    /// Output format.
    pub format: OutFormat,
    /// Approximations are errors.
    pub strict: bool,
    /// Also compile rules that only feed correlations.
    pub include_inputs: bool,
    /// `NAME=VALUE` placeholder values.
    pub placeholders: Vec<String>,
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

fn expand_targets(given: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for t in given.iter().flat_map(|t| t.split(',')) {
        let t = t.trim();
        if t == "all" {
            for b in backends() {
                if !out.iter().any(|o| o == b.name()) {
                    out.push(b.name().to_string());
                }
            }
        } else if backend(t).is_some() {
            if !out.iter().any(|o| o == t) {
                out.push(t.to_string());
            }
        } else {
            let known: Vec<&str> = backends().iter().map(|b| b.name()).collect();
            return Err(format!(
                "unknown target `{t}` (known: {}, all)",
                known.join(", ")
            ));
        }
    }
    Ok(out)
}

fn print_diag(out: &mut impl Write, report: &CompileReport, d: &Diagnostic, format: OutFormat) {
    match format {
        OutFormat::Json => {
            let mut v: serde_json::Value =
                serde_json::from_str(&render_json(d)).unwrap_or(serde_json::Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert("kind".into(), json!("diagnostic"));
            }
            let _ = writeln!(out, "{v}");
        }
        OutFormat::Text => {
            let src = report.check.sources.get(&d.location.file).map(|s| &**s);
            eprint!("{}", render_human(d, src));
        }
    }
}

/// Runs `sigil compile`.
pub fn run(args: Args) -> ExitCode {
    let targets = match expand_targets(&args.targets) {
        Ok(t) => t,
        Err(e) => return usage_error(&e),
    };
    let Some(profile) = Profile::parse(&args.profile) else {
        return usage_error(&format!(
            "unknown profile `{}` (expected default, generic or passthrough)",
            args.profile
        ));
    };
    let mut table = sigil_lower::PlaceholderValues::new();
    for p in &args.placeholders {
        if let Err(e) = add_placeholder(&mut table, p) {
            return usage_error(&format!("--placeholder {e}"));
        }
    }
    let opts = CompileOptions {
        placeholders: table,
        targets,
        profile,
        mapping_files: args.mappings,
        strict: args.strict,
        include_inputs: args.include_inputs,
        ..Default::default()
    };
    let report = compile(&args.paths, &opts);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for d in &report.mapping_errors {
        print_diag(&mut out, &report, d, args.format);
    }
    if !report.mapping_errors.is_empty() {
        let _ = out.flush();
        return ExitCode::from(2);
    }
    for d in &report.check.diagnostics {
        print_diag(&mut out, &report, d, args.format);
    }
    let (mut exact, mut approx, mut failed, mut write_errors) = (0, 0, 0, 0);
    for o in &report.outputs {
        let b = backend(o.target).expect("outputs come from known backends");
        match &o.result {
            Ok(c) => {
                if c.notes.is_empty() {
                    exact += 1;
                } else {
                    approx += 1;
                }
                if let Some(dir) = &args.output {
                    let path = dir.join(o.target).join(format!(
                        "{}.{}",
                        rule_stem(&o.rule),
                        b.extension()
                    ));
                    if let Err(e) = write_atomic(&path, &file_text(b, &o.rule, c)) {
                        eprintln!("error: cannot write {}: {e}", path.display());
                        write_errors += 1;
                    }
                }
            }
            Err(errs) => {
                failed += 1;
                for d in errs {
                    if args.format == OutFormat::Text {
                        print_diag(&mut out, &report, d, args.format);
                    }
                }
            }
        }
        match args.format {
            OutFormat::Json => {
                let (query, notes, errors) = match &o.result {
                    Ok(c) => (
                        Some(c.query.clone()),
                        c.notes
                            .iter()
                            .map(|n| {
                                json!({
                                    "construct": n.construct.slug(),
                                    "message": n.message,
                                    "line": n.span.map(|s| s.start.line),
                                })
                            })
                            .collect(),
                        Vec::new(),
                    ),
                    Err(errs) => (
                        None,
                        Vec::new(),
                        errs.iter()
                            .map(|d| {
                                serde_json::from_str(&render_json(d))
                                    .unwrap_or(serde_json::Value::Null)
                            })
                            .collect(),
                    ),
                };
                let line = json!({
                    "kind": "query",
                    "rule": {
                        "id": o.rule.meta.id,
                        "name": o.rule.meta.name,
                        "title": o.rule.meta.title,
                        "file": &*o.rule.origin.file,
                    },
                    "target": o.target,
                    "query": query,
                    "notes": notes,
                    "errors": errors,
                });
                let _ = writeln!(out, "{line}");
            }
            OutFormat::Text if args.output.is_none() => {
                if let Ok(c) = &o.result {
                    let _ = writeln!(
                        out,
                        "{}",
                        b.comment(&format!(
                            "== {} [{}] {}",
                            rule_stem(&o.rule),
                            o.target,
                            o.rule.origin.file
                        ))
                    );
                    let _ = writeln!(out, "{}", c.query.trim_end());
                    for n in &c.notes {
                        let _ = writeln!(out, "{}", b.comment(&note_line(n)));
                    }
                    let _ = writeln!(out);
                }
            }
            OutFormat::Text => {}
        }
    }
    let _ = out.flush();
    let check_errors = report.check.errors();
    eprintln!(
        "compiled {} rule×target pairs: {exact} exact, {approx} approximated, {failed} refused or unmapped; {} rule errors{}{}",
        report.outputs.len(),
        check_errors,
        if report.skipped_inputs.is_empty() {
            String::new()
        } else {
            format!(
                "; {} rules only feed correlations (--include-inputs compiles them)",
                report.skipped_inputs.len()
            )
        },
        args.output
            .as_deref()
            .map(|d| format!("; written under {}", d.display()))
            .unwrap_or_default()
    );
    if report.check.io_error || write_errors > 0 {
        ExitCode::from(2)
    } else if check_errors > 0 || failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs `sigil targets`: each target's capability matrix.
pub fn targets(format: OutFormat) -> ExitCode {
    let all: Vec<_> = backends()
        .into_iter()
        .map(|b| (b.name(), b.capabilities()))
        .collect();
    match format {
        OutFormat::Text => {
            for b in backends() {
                println!("{:<4} {}", b.name(), b.title());
            }
            println!();
            print!("{}", sigil_backend::matrix(&all));
        }
        OutFormat::Json => {
            for b in backends() {
                let caps: Vec<_> = b
                    .capabilities()
                    .iter()
                    .map(|c| {
                        json!({
                            "construct": c.construct.slug(),
                            "fidelity": c.fidelity.name(),
                            "note": c.note,
                        })
                    })
                    .collect();
                println!(
                    "{}",
                    json!({"target": b.name(), "title": b.title(), "capabilities": caps})
                );
            }
        }
    }
    ExitCode::SUCCESS
}
