//! Every SigmaHQ rule (read from `$SIGIL_SHARED/corpus/sigmahq`) compiled to every target
//! with the generic mappings: per target, how many compile exactly, approximately, or not at
//! all and why. Nothing may panic, and every failure must be a categorised diagnostic.
//!
//! Without `SIGIL_SHARED` the test skips with a printed reason; under `CI=true` a missing
//! corpus is a failure.

use rayon::prelude::*;
use sigil_backend::{Cx, Mapping, Profile, map_rule};
use sigil_diagnostics::Code;
use sigil_driver::compile::backends;
use sigil_lower::{has_placeholders, resolve_placeholders};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn corpus() -> Option<PathBuf> {
    let Some(shared) = std::env::var_os("SIGIL_SHARED").map(PathBuf::from) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but SIGIL_SHARED is not set: the corpus compile test cannot run"
        );
        eprintln!("skipping the corpus compile test: SIGIL_SHARED is not set");
        return None;
    };
    let dir = shared.join("corpus/sigmahq/rules");
    assert!(dir.is_dir(), "{} is not a folder", dir.display());
    Some(dir)
}

/// What happened to one rule for one target.
enum Outcome {
    Exact,
    Approx(Vec<String>),
    Failed(Vec<String>),
}

#[test]
fn sigmahq_compiles_to_every_target_without_panics() {
    let Some(dir) = corpus() else { return };
    let report = sigil_driver::check(&[dir]);
    assert!(
        report.rules.len() > 3000,
        "only {} rules",
        report.rules.len()
    );
    let mut problems = Vec::new();
    for b in backends() {
        let mapping = Mapping::builtin(b.name(), Profile::Generic).expect("generic mapping");
        let outcomes: Vec<Result<Outcome, String>> = report
            .rules
            .par_iter()
            .map(|rule| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let resolved;
                    let rule = if has_placeholders(rule) {
                        match resolve_placeholders(rule, &Default::default()) {
                            Ok(r) => {
                                resolved = r;
                                &resolved
                            }
                            Err(_) => {
                                return Outcome::Failed(vec![format!(
                                    "{} unresolved-placeholder",
                                    Code::UnresolvedPlaceholder
                                )]);
                            }
                        }
                    } else {
                        rule
                    };
                    let mapped = match map_rule(rule, &mapping) {
                        Ok(m) => m,
                        Err(diags) => {
                            let mut reasons: Vec<String> = diags
                                .iter()
                                .map(|d| format!("{} {}", d.code, d.code.slug()))
                                .collect();
                            reasons.dedup();
                            return Outcome::Failed(reasons);
                        }
                    };
                    let mut cx = Cx::default();
                    let _query = b.emit(&mapped, &mut cx);
                    if cx.refused() {
                        let mut reasons: Vec<String> = cx
                            .refusals()
                            .iter()
                            .map(|r| format!("{} refused {}", Code::RefusedConstruct, r.construct))
                            .collect();
                        reasons.sort();
                        reasons.dedup();
                        Outcome::Failed(reasons)
                    } else if cx.notes().is_empty() {
                        Outcome::Exact
                    } else {
                        let mut n: Vec<String> =
                            cx.notes().iter().map(|n| n.construct.to_string()).collect();
                        n.sort();
                        n.dedup();
                        Outcome::Approx(n)
                    }
                }))
                .map_err(|_| format!("{}: {}", rule.origin.file, rule.meta.title))
            })
            .collect();
        let (mut exact, mut approx, mut failed) = (0, 0, 0);
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        let mut approximations: BTreeMap<String, usize> = BTreeMap::new();
        for o in outcomes {
            match o {
                Ok(Outcome::Exact) => exact += 1,
                Ok(Outcome::Approx(n)) => {
                    approx += 1;
                    for c in n {
                        *approximations.entry(c).or_default() += 1;
                    }
                }
                Ok(Outcome::Failed(r)) => {
                    failed += 1;
                    for c in r {
                        *reasons.entry(c).or_default() += 1;
                    }
                }
                Err(panic) => problems.push(format!("{} panicked on {panic}", b.name())),
            }
        }
        eprintln!(
            "{}: {} rules: {exact} exact, {approx} approximated, {failed} not compiled",
            b.name(),
            report.rules.len()
        );
        for (c, n) in &approximations {
            eprintln!("  approximated {c}: {n}");
        }
        for (r, n) in &reasons {
            eprintln!("  not compiled {r}: {n}");
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
