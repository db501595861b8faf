//! Times each stage of `sigil check` over a folder (discover, read+parse, lower), so a slow
//! stage shows up by name. Run with `cargo run --release --example phase_times -- DIR`.

use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let paths: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let t = Instant::now();
    let (files, _) = sigil_driver::discover(&paths);
    let t_discover = t.elapsed();
    let t = Instant::now();
    let (parsed, _, diags, _) = sigil_driver::read_and_parse(&files);
    let t_parse = t.elapsed();
    let t = Instant::now();
    let lowered = sigil_lower::lower_files(&parsed);
    let t_lower = t.elapsed();
    println!(
        "{} files, {} parse diagnostics, {} rules: discover {:?}, read+parse {:?}, lower {:?}",
        files.len(),
        diags.len(),
        lowered.rules.len(),
        t_discover,
        t_parse,
        t_lower
    );
}
