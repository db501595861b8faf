//! Benchmark of `sigil hunt` (issue 4, "Performance"): events per CPU-second and peak memory.
//!
//! ```text
//! cargo bench --bench hunt                      # all workloads
//! cargo bench --bench hunt -- simple threshold  # some of them
//! SIGIL_SHARED=../shared cargo bench --bench hunt -- corpus
//! ```
//!
//! - `simple`: one rule (`CommandLine|contains: whoami`, the peer benchmark's `rules-simple`)
//!   over 1,000,000 synthetic Sysmon process events; once with the raw-line prefilter and once
//!   with `--full-parse` on the unindexed reference engine (the alert counts must agree).
//! - `corpus`: every SigmaHQ `windows/process_creation` rule (from `$SIGIL_SHARED`; skipped
//!   without it) over the same 1,000,000 events.
//! - `threshold`: a 15-minute sliding `distinct(host) >= 8` per `user` over 1,000,000 and
//!   10,000,000 keyed events with 100,000 users; peak RSS of each run (the 10 M run's must stay
//!   within 10 % of the 1 M run's: windows evict).
//!
//! Events go to `$BENCH_DIR` (default: a folder under the system temp dir; kept between runs,
//! so generate once). With `$SIGIL_SHARED` set, the process events are the peer benchmark's
//! own (`peer-bench/gen_events.py`, seed 1337, run with python3, or run.sh's file in
//! `$PEER_BENCH_DIR` when it is there), so the figures compare with
//! benches/peers.sh and docs/benchmarks.md; otherwise they come from `sigil_driver::synth`
//! (same shape, deterministic, no Python needed). Keyed events always come from `synth`. Each
//! measurement runs in a child process of this binary, so CPU time (user + system, from
//! /proc) and peak RSS (VmHWM) are its own. `BENCH_EVENTS` scales the 1 M workloads.
//! Compare with the peers (rsigma, sigma-rust) on the same machine with benches/peers.sh.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SIMPLE_RULE: &str = "title: Whoami in the command line
id: 7f5e3a2c-3c1e-4d5e-9a6e-1d2f3b4c5d6e
status: test
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        CommandLine|contains: whoami
    condition: selection
level: low
";

const THRESHOLD_RULES: &str = "title: Role assumed
name: role_assumed
logsource: {product: aws, service: cloudtrail}
detection:
    selection:
        eventName: AssumeRole
    condition: selection
---
title: One user assuming roles from many hosts
name: many_hosts_per_user
correlation:
    type: threshold
    rules: [role_assumed]
    group-by: [user]
    timespan: 15m
    window: sliding
    condition: distinct(host) >= 8
";

/// CPU seconds (user + system) of this process so far.
fn cpu_seconds() -> f64 {
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

/// Peak resident set size of this process, in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Child: `--child RULES EVENTS [full]` runs one hunt and prints one line of figures.
fn child(args: &[String]) {
    let rules = PathBuf::from(&args[0]);
    let events = PathBuf::from(&args[1]);
    let full = args.get(2).is_some_and(|a| a == "full");
    let cpu0 = cpu_seconds();
    let wall = Instant::now();
    let report = sigil_driver::check(std::slice::from_ref(&rules));
    assert_eq!(report.errors(), 0, "benchmark rules check clean");
    let (mut engine, _) = if full {
        sigil_eval::Engine::unindexed(&report.rules)
    } else {
        sigil_eval::Engine::new(&report.rules)
    };
    let setup = cpu_seconds() - cpu0;
    let opts = sigil_driver::hunt::HuntOptions {
        lateness_ms: 60_000,
        full_parse: full,
        ..Default::default()
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::sink());
    let stats = sigil_driver::hunt::hunt(&mut engine, &[events], &opts, &mut out, &mut |_| {})
        .expect("hunt runs");
    out.flush().ok();
    println!(
        "events={} alerts={} cpu_s={:.3} setup_cpu_s={:.3} wall_s={:.3} peak_rss_kib={}",
        stats.events,
        stats.alerts,
        cpu_seconds() - cpu0,
        setup,
        wall.elapsed().as_secs_f64(),
        peak_rss_kib()
    );
}

struct Run {
    events: u64,
    alerts: u64,
    cpu: f64,
    setup: f64,
    wall: f64,
    rss: u64,
}

fn measure(rules: &Path, events: &Path, full: bool) -> Run {
    let exe = std::env::current_exe().expect("own path");
    let mut cmd = Command::new(exe);
    cmd.arg("--child").arg(rules).arg(events);
    if full {
        cmd.arg("full");
    }
    let out = cmd.output().expect("child runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let get = |k: &str| {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(k)?.strip_prefix('='))
            .unwrap_or_else(|| {
                panic!(
                    "child printed no {k}: {text} {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
            .to_string()
    };
    Run {
        events: get("events").parse().unwrap(),
        alerts: get("alerts").parse().unwrap(),
        cpu: get("cpu_s").parse().unwrap(),
        setup: get("setup_cpu_s").parse().unwrap(),
        wall: get("wall_s").parse().unwrap(),
        rss: get("peak_rss_kib").parse().unwrap(),
    }
}

fn row(name: &str, r: &Run) {
    println!(
        "| {name} | {} | {} | {:.2} | {:.2} | {:.0} | {:.0} | {:.1} |",
        r.events,
        r.alerts,
        r.cpu,
        r.setup,
        r.events as f64 / r.cpu,
        r.events as f64 / r.wall,
        r.rss as f64 / 1024.0
    );
}

fn ensure(path: &Path, what: &str, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) {
    if path.exists() {
        return;
    }
    eprintln!("generating {what} -> {}", path.display());
    let tmp = path.with_extension("tmp");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp).expect("bench dir writable"));
    write(&mut f).expect("events written");
    f.flush().expect("events written");
    std::fs::rename(&tmp, path).expect("events renamed");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1..]);
        return;
    }
    let wanted: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let on = |w: &str| wanted.is_empty() || wanted.contains(&w);
    let n: usize = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::var_os("BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("sigil-bench"));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let rules_simple = dir.join("rules-simple.yml");
    std::fs::write(&rules_simple, SIMPLE_RULE).unwrap();
    let rules_threshold = dir.join("rules-threshold.yml");
    std::fs::write(&rules_threshold, THRESHOLD_RULES).unwrap();
    let shared = std::env::var_os("SIGIL_SHARED").map(PathBuf::from);
    // run.sh's events file, when it exists, is used as it is (the same bytes).
    let peer_events = std::env::var_os("PEER_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/peer-bench"))
        .join(format!("events-{n}-s1337.ndjson"));
    let process = match &shared {
        Some(_) if peer_events.exists() => peer_events,
        Some(_) => dir.join(format!("gen-events-{n}-s1337.ndjson")),
        None => dir.join(format!("process-{n}.ndjson")),
    };

    println!(
        "| workload | events | alerts | CPU s | of which setup | events / CPU-s | events / s (wall) | peak RSS MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    if on("simple") || on("corpus") {
        match &shared {
            Some(shared) => ensure(&process, "gen_events.py events", |w| {
                let script = shared.join("peer-bench/gen_events.py");
                let out = Command::new("python3")
                    .arg(&script)
                    .args(["-n", &n.to_string(), "--seed", "1337"])
                    .output()?;
                if !out.status.success() {
                    return Err(std::io::Error::other(format!(
                        "{} failed: {}",
                        script.display(),
                        String::from_utf8_lossy(&out.stderr)
                    )));
                }
                w.write_all(&out.stdout)
            }),
            None => ensure(&process, "process events", |w| {
                sigil_driver::synth::process_events(n, 1337, w)
            }),
        }
    }
    if on("simple") {
        let fast = measure(&rules_simple, &process, false);
        row("simple (prefilter)", &fast);
        let full = measure(&rules_simple, &process, true);
        row("simple (--full-parse, unindexed)", &full);
        assert_eq!(fast.alerts, full.alerts, "both paths raise the same alerts");
    }
    if on("corpus") {
        match &shared {
            Some(shared) => {
                let rules = shared.join("corpus/sigmahq/rules/windows/process_creation");
                row(
                    "corpus (SigmaHQ process_creation)",
                    &measure(&rules, &process, false),
                );
            }
            None => eprintln!("corpus: SIGIL_SHARED is not set; skipped"),
        }
    }
    if on("threshold") {
        let mut rss = Vec::new();
        for (count, label) in [(n, "1x"), (n * 10, "10x")] {
            let events = dir.join(format!("keyed-{count}.ndjson"));
            ensure(&events, "keyed events", |w| {
                sigil_driver::synth::keyed_events(count, 100_000, 10, 42, w)
            });
            let r = measure(&rules_threshold, &events, false);
            row(&format!("threshold sliding distinct ({label})"), &r);
            rss.push(r.rss);
        }
        println!(
            "\npeak RSS 10x / 1x: {:.3} (goal: within 10 %)",
            rss[1] as f64 / rss[0] as f64
        );
    }
}
