//! Keeps `docs/errors.md` in step with the code table: every code is documented exactly
//! once, in `Code::ALL` order, with its slug and severity, and every `yaml` example really
//! produces the code it documents.

use sigil_diagnostics::{Code, Severity};
use std::path::{Path, PathBuf};

/// One `## Sxxx \`slug\`` section of the page.
#[derive(Debug)]
struct Section {
    code: String,
    slug: String,
    line: usize,
    severity: Option<String>,
    examples: Vec<String>,
    has_fix: bool,
}

fn read_docs() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/errors.md");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Splits the page into code sections; other `##` headings end a section.
fn sections(doc: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    let mut in_section = false;
    let mut fence: Option<(String, String)> = None;
    for (n, line) in doc.lines().enumerate() {
        if let Some((lang, body)) = &mut fence {
            if line.trim_start().starts_with("```") {
                if lang == "yaml"
                    && in_section
                    && let Some(s) = out.last_mut()
                {
                    s.examples.push(std::mem::take(body));
                }
                fence = None;
            } else {
                body.push_str(line);
                body.push('\n');
            }
            continue;
        }
        if let Some(lang) = line.trim_start().strip_prefix("```") {
            fence = Some((lang.trim().to_string(), String::new()));
            continue;
        }
        if let Some(h) = line.strip_prefix("## ") {
            let mut words = h.split_whitespace();
            let code = words.next().unwrap_or("");
            in_section = code.len() == 4 && code.starts_with('S');
            if in_section {
                let slug = words.next().unwrap_or("").trim_matches('`').to_string();
                out.push(Section {
                    code: code.to_string(),
                    slug,
                    line: n + 1,
                    severity: None,
                    examples: Vec::new(),
                    has_fix: false,
                });
            }
            continue;
        }
        if !in_section {
            continue;
        }
        let Some(s) = out.last_mut() else { continue };
        if let Some(sev) = line.strip_prefix("**Severity:**") {
            assert!(
                s.severity.is_none(),
                "docs/errors.md:{}: {} states its severity twice",
                n + 1,
                s.code
            );
            s.severity = Some(sev.trim().to_string());
        }
        if line.starts_with("**Fix:**") {
            s.has_fix = true;
        }
    }
    out
}

#[test]
fn every_code_is_documented_once_with_its_slug_and_severity() {
    let doc = read_docs();
    let secs = sections(&doc);
    let mut problems = Vec::new();
    for c in Code::ALL {
        let found: Vec<&Section> = secs.iter().filter(|s| s.code == c.as_str()).collect();
        match found.as_slice() {
            [] => problems.push(format!("{c} is not documented")),
            [s] => {
                if s.slug != c.slug() {
                    problems.push(format!(
                        "docs/errors.md:{}: {c} is documented as `{}`, but its name is `{}`",
                        s.line,
                        s.slug,
                        c.slug()
                    ));
                }
                let want = match c.severity() {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                };
                match s.severity.as_deref() {
                    Some(sev) if sev == want => {}
                    Some(sev) => problems.push(format!(
                        "docs/errors.md:{}: {c} is documented as {sev}, but it is {want}",
                        s.line
                    )),
                    None => problems.push(format!(
                        "docs/errors.md:{}: {c} has no **Severity:** line",
                        s.line
                    )),
                }
                if !s.has_fix {
                    problems.push(format!(
                        "docs/errors.md:{}: {c} says nothing about how to fix it (**Fix:**)",
                        s.line
                    ));
                }
            }
            many => problems.push(format!(
                "{c} is documented {} times (lines {:?})",
                many.len(),
                many.iter().map(|s| s.line).collect::<Vec<_>>()
            )),
        }
    }
    for s in &secs {
        if !Code::ALL.iter().any(|c| c.as_str() == s.code) {
            problems.push(format!(
                "docs/errors.md:{}: {} is not a code",
                s.line, s.code
            ));
        }
    }
    // Sections follow Code::ALL order, so the page reads like the table.
    let order: Vec<&str> = secs.iter().map(|s| s.code.as_str()).collect();
    let want: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    if problems.is_empty() && order != want {
        problems.push(format!("sections are not in Code::ALL order: {order:?}"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_code_has_an_example() {
    let secs = sections(&read_docs());
    for s in &secs {
        // S001 cannot be shown as a rule file: it is about a path that cannot be read.
        if s.code != "S001" {
            assert!(!s.examples.is_empty(), "{} has no ```yaml example", s.code);
        }
    }
}

/// Each `yaml` example, checked on its own, produces the code of its section.
#[test]
fn examples_produce_their_code() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("error_docs");
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let mut problems = Vec::new();
    for s in sections(&read_docs()) {
        for (i, ex) in s.examples.iter().enumerate() {
            let p = dir.join(format!("{}_{i}.yml", s.code));
            std::fs::write(&p, ex).expect("scratch file");
            if s.code == "S701" {
                // A mapping file, not a rule: layered over the built-in KQL mapping.
                let mut m = sigil_backend::Mapping::builtin("kql", sigil_backend::Profile::Default)
                    .expect("built-in mapping");
                match m.layer("example.yml", ex) {
                    Err(e) if e.to_diagnostic().code.as_str() == "S701" => {}
                    other => problems.push(format!(
                        "the example of S701 (docs/errors.md:{}) gives {other:?}",
                        s.line
                    )),
                }
                continue;
            }
            let report = sigil_driver::check(std::slice::from_ref(&p));
            let mut codes: Vec<Code> = report.diagnostics.iter().map(|d| d.code).collect();
            // S601 is raised when compiling without placeholder values.
            for r in &report.rules {
                if let Err(e) = sigil_lower::resolve_placeholders(r, &Default::default()) {
                    codes.extend(e.iter().map(|d| d.code));
                }
            }
            // Compile-time codes: S702/S703 come from the default mappings, S704/S705 from
            // the backends (pass-through names, so mapping cannot fail first; strict).
            if s.code.starts_with("S70") {
                let opts = sigil_driver::compile::CompileOptions {
                    profile: if matches!(s.code.as_str(), "S704" | "S705") {
                        sigil_backend::Profile::Passthrough
                    } else {
                        sigil_backend::Profile::Default
                    },
                    strict: true,
                    ..Default::default()
                };
                let rep = sigil_driver::compile::compile(std::slice::from_ref(&p), &opts);
                for o in &rep.outputs {
                    if let Err(e) = &o.result {
                        codes.extend(e.iter().map(|d| d.code));
                    }
                }
            }
            if !codes.iter().any(|c| c.as_str() == s.code) {
                problems.push(format!(
                    "the example of {} (section at docs/errors.md:{}) gives {codes:?}",
                    s.code, s.line
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn exit_statuses_are_documented() {
    let doc = read_docs();
    let table = doc
        .split("## Exit status of `sigil check`")
        .nth(1)
        .expect("an exit status section");
    for status in ["| 0 |", "| 1 |", "| 2 |"] {
        assert!(
            table.contains(status),
            "exit status {status} not documented"
        );
    }
}
