//! The public SigmaHQ corpus (read from `$SIGIL_SHARED/corpus/sigmahq`, never copied into
//! the repository) must lower almost entirely, and nothing in it may panic.
//!
//! Without `SIGIL_SHARED` the test skips with a printed reason; under `CI=true` a missing
//! corpus is a failure, never a silent skip.

use std::path::PathBuf;

fn corpus() -> Option<PathBuf> {
    let shared = match std::env::var_os("SIGIL_SHARED") {
        Some(s) => PathBuf::from(s),
        None => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but SIGIL_SHARED is not set: the corpus test cannot run"
            );
            eprintln!("skipping the SigmaHQ corpus test: SIGIL_SHARED is not set");
            return None;
        }
    };
    let dir = shared.join("corpus").join("sigmahq");
    assert!(
        dir.is_dir(),
        "SIGIL_SHARED is set but {} is not a folder",
        dir.display()
    );
    Some(dir)
}

#[test]
fn sigmahq_rules_lower_to_ir() {
    let Some(dir) = corpus() else { return };
    let mut paths = vec![dir.join("rules")];
    for e in std::fs::read_dir(&dir)
        .expect("corpus folder is readable")
        .flatten()
    {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with("rules-") && e.path().is_dir() {
            paths.push(e.path());
        }
    }
    paths.sort();
    let report = sigil_driver::check(&paths);
    let failed: Vec<&sigil_diagnostics::Diagnostic> =
        report.diagnostics.iter().filter(|d| d.is_error()).collect();
    let mut failed_files: Vec<&str> = failed.iter().map(|d| &*d.location.file).collect();
    failed_files.dedup();
    for d in &failed {
        eprintln!("{}: {} {}", d.location.file, d.code, d.message);
    }
    let docs = report.counts.rules + report.counts.correlations + report.counts.filters;
    let file_rate = report.clean_files as f64 / report.files as f64;
    let doc_rate = report.counts.lowered as f64 / docs as f64;
    eprintln!(
        "corpus: {}/{} files clean ({:.2}%), {}/{} documents lowered ({:.2}%)",
        report.clean_files,
        report.files,
        file_rate * 100.0,
        report.counts.lowered,
        docs,
        doc_rate * 100.0
    );
    assert!(
        report.files > 3000,
        "the corpus looks truncated: {} files",
        report.files
    );
    assert!(
        file_rate >= 0.995 && doc_rate >= 0.995,
        "below the 99.5% bar; failing files: {failed_files:?}"
    );
}

#[test]
fn whole_corpus_including_deprecated_and_unsupported_never_panics() {
    let Some(dir) = corpus() else { return };
    // check() itself must not panic; every file yields a report entry.
    let report = std::panic::catch_unwind(|| sigil_driver::check(&[dir]))
        .expect("check panicked on the corpus");
    assert!(
        report.files > 4000,
        "expected the whole corpus, got {} files",
        report.files
    );
    assert!(!report.io_error, "I/O errors reading the corpus");
}
