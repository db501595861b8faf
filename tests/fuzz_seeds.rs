//! Replays every fuzz seed (`fuzz/seeds/<target>/*`) through the same code paths as the
//! cargo-fuzz targets, so the seeds (and the crash reproducers kept among them) run on
//! stable in CI. Each input must be handled without a panic.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// What `fuzz/fuzz_targets/condition.rs` does with one input.
fn condition(data: &[u8]) {
    // libFuzzer's `&str` targets skip input that is not UTF-8.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = sigil_syntax::expr::parse_condition(text);
    let _ = sigil_syntax::expr::parse_agg_expr(text);
}

/// What `fuzz/fuzz_targets/rule_file.rs` does with one input.
fn rule_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (file, _diags) = sigil_syntax::parse_file("fuzz.yml", text);
    let lowered = sigil_lower::lower_files(&[file]);
    for rule in &lowered.rules {
        let _ = sigil_ir::print_rule(rule);
    }
    let _ = sigil_syntax::fixture::parse_fixture("fuzz.tests.yml", text);
}

fn seeds(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("seeds")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str, run: fn(&[u8])) {
    let files = seeds(target);
    assert!(!files.is_empty(), "no seeds for `{target}`");
    let mut failed = Vec::new();
    for path in &files {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if catch_unwind(AssertUnwindSafe(|| run(&data))).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} `{target}` seeds panicked:\n{}",
        failed.len(),
        files.len(),
        failed.join("\n")
    );
}

#[test]
fn condition_seeds_do_not_panic() {
    replay("condition", condition);
}

#[test]
fn rule_file_seeds_do_not_panic() {
    replay("rule_file", rule_file);
}

#[test]
fn every_seed_directory_is_replayed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("seeds");
    let mut dirs: Vec<String> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", root.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(
        dirs,
        ["condition", "rule_file"],
        "a seed directory has no replay"
    );
}
