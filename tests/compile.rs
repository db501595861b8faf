//! Snapshots of every rule in `rules/` compiled for every target with the default mappings,
//! and of each target's capability matrix. Rule files are found by walking `rules/`, so a
//! new rule file adds its snapshots; each snapshot holds, per rule of the file, the query
//! and its fidelity notes, or the errors that refused it.
//!
//! `SIGIL_SNAPSHOT_TARGETS=kql,eql` limits the run to some targets (for people working on
//! one backend while others change theirs).

use sigil_backend::{Mapping, Profile};
use sigil_diagnostics::render_json;
use sigil_driver::compile::{backends, compile_rule_with, note_line, rule_files};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn wanted(target: &str) -> bool {
    match std::env::var("SIGIL_SNAPSHOT_TARGETS") {
        Ok(list) if !list.trim().is_empty() => list.split(',').any(|t| t.trim() == target),
        _ => true,
    }
}

/// The snapshot name of a rule file: its path under rules/ with separators as `_`.
fn stem(file: &str) -> String {
    let rel = file.strip_prefix("rules/").unwrap_or(file);
    rel.trim_end_matches(".yml")
        .trim_end_matches(".yaml")
        .replace(['/', '\\', '.'], "_")
}

#[test]
fn every_rule_for_every_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::set_current_dir(root).expect("package root");
    let report = sigil_driver::check(&[PathBuf::from("rules")]);
    assert_eq!(report.errors(), 0, "rules/ must check clean");
    let mut by_file: BTreeMap<String, Vec<&sigil_ir::Rule>> = BTreeMap::new();
    for r in &report.rules {
        by_file
            .entry(r.origin.file.to_string())
            .or_default()
            .push(r);
    }
    assert!(by_file.len() >= 15, "only {} rule files", by_file.len());
    let files = rule_files(&report.rules);
    for b in backends() {
        if !wanted(b.name()) {
            continue;
        }
        let mapping = Mapping::builtin(b.name(), Profile::Default).expect("built-in mapping");
        for (file, rules) in &by_file {
            let mut text = String::new();
            for r in rules {
                let label = r.meta.name.as_deref().unwrap_or(&r.meta.title);
                text.push_str(&format!("== {label}\n"));
                match compile_rule_with(b, &mapping, r, false, &Default::default(), &files) {
                    Ok(c) => {
                        text.push_str(&c.query);
                        if !c.query.ends_with('\n') {
                            text.push('\n');
                        }
                        for n in &c.notes {
                            text.push_str(&format!("-- {}\n", note_line(n)));
                        }
                    }
                    Err(errs) => {
                        for d in errs {
                            text.push_str(&format!("!! {}\n", render_json(&d)));
                        }
                    }
                }
                text.push('\n');
            }
            insta::assert_snapshot!(format!("{}__{}", b.name(), stem(file)), text);
        }
    }
}

#[test]
fn capability_matrix_of_each_target() {
    for b in backends() {
        if !wanted(b.name()) {
            continue;
        }
        let caps = b.capabilities();
        insta::assert_snapshot!(
            format!("capabilities__{}", b.name()),
            sigil_backend::matrix(&[(b.name(), caps)])
        );
    }
}

#[test]
fn docs_targets_readme_shows_the_current_matrix() {
    let all: Vec<_> = backends()
        .into_iter()
        .map(|b| (b.name(), b.capabilities()))
        .collect();
    let full = sigil_backend::matrix(&all);
    let table = full.split("\n\n").next().unwrap_or_default().trim();
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/targets/README.md"),
    )
    .expect("docs/targets/README.md");
    let start = doc
        .find("<!-- matrix:start -->")
        .expect("matrix start marker");
    let end = doc.find("<!-- matrix:end -->").expect("matrix end marker");
    let shown = doc[start + "<!-- matrix:start -->".len()..end].trim();
    assert_eq!(
        shown, table,
        "docs/targets/README.md: replace the matrix with `sigil targets`' table"
    );
}
