//! Benchmark: `sigil check` over the whole SigmaHQ corpus (`$SIGIL_SHARED/corpus/sigmahq`),
//! the stage split (read+parse, lower), and files per second. Run with
//! `SIGIL_SHARED=../shared cargo bench --bench check_corpus`.
//!
//! Wall times on a shared machine are noisy, so each figure is the minimum and median of
//! several runs, and the CPU time of the process is printed beside them.

use std::path::PathBuf;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn stats(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[0], v[v.len() / 2])
}

fn cpu_seconds() -> f64 {
    // utime + stime of this process, from /proc (Linux); 0 elsewhere.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let Some(shared) = std::env::var_os("SIGIL_SHARED") else {
        eprintln!("SIGIL_SHARED is not set; nothing to benchmark");
        return;
    };
    let corpus = PathBuf::from(shared).join("corpus/sigmahq");
    let runs = 9;
    let mut whole = Vec::new();
    let mut parse = Vec::new();
    let mut lower = Vec::new();
    let mut files = 0;
    let mut rules = 0;
    let cpu0 = cpu_seconds();
    for _ in 0..runs {
        let t = Instant::now();
        let report = sigil_driver::check(std::slice::from_ref(&corpus));
        whole.push(t.elapsed());
        files = report.files;
        rules = report.rules.len();

        let (paths, _) = sigil_driver::discover(std::slice::from_ref(&corpus));
        let t = Instant::now();
        let (parsed, _, _, _) = sigil_driver::read_and_parse(&paths);
        parse.push(t.elapsed());
        let t = Instant::now();
        let l = sigil_lower::lower_files(&parsed);
        lower.push(t.elapsed());
        assert_eq!(l.rules.len(), rules);
    }
    let cpu = (cpu_seconds() - cpu0) / runs as f64;
    let (wmin, wmed) = stats(whole);
    let (pmin, pmed) = stats(parse);
    let (lmin, lmed) = stats(lower);
    println!(
        "corpus: {files} files, {rules} rules lowered, {} threads",
        rayon::current_num_threads()
    );
    println!(
        "check (whole):   min {:>7.1} ms  median {:>7.1} ms  ({:.0} files/s at the median)",
        ms(wmin),
        ms(wmed),
        files as f64 / wmed.as_secs_f64()
    );
    println!(
        "  read+parse:    min {:>7.1} ms  median {:>7.1} ms",
        ms(pmin),
        ms(pmed)
    );
    println!(
        "  lower:         min {:>7.1} ms  median {:>7.1} ms",
        ms(lmin),
        ms(lmed)
    );
    println!(
        "CPU time per iteration (check + the split stages): {:.0} ms",
        cpu * 1000.0
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
