//! Using Sigil as a library: check a folder of rules, print diagnostics the way the CLI does,
//! and print the IR of every rule that lowered.
//!
//! Run with `cargo run --example check_and_explain -- rules/`.

use std::path::PathBuf;

fn main() {
    let paths: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let paths = if paths.is_empty() {
        vec![PathBuf::from("rules")]
    } else {
        paths
    };
    let report = sigil_driver::check(&paths);
    for d in &report.diagnostics {
        let src = report.sources.get(&d.location.file).map(|s| &**s);
        print!("{}", sigil_diagnostics::render_human(d, src));
    }
    for r in &report.rules {
        println!("{}", sigil_ir::print_rule(r));
    }
    println!(
        "{} rules lowered, {} errors, {} warnings",
        report.rules.len(),
        report.errors(),
        report.warnings()
    );
}
