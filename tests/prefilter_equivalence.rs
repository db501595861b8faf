//! `sigil hunt`'s raw-line prefilter and the engine's field index are exact: with them and
//! without them (`--full-parse` on an engine that compares strings for every search of
//! every event) the same lines give byte-identical alerts and the same counters. Checked on the fixtures of
//! rules/, on synthetic process events with rules that probe every case the prefilter has
//! to get right (negation, null, numbers, case folding, non-ASCII, escapes, thresholds), on
//! the same lines rewritten with escapes and odd characters, and, when `SIGIL_SHARED` is set,
//! on the SigmaHQ process_creation rules over the peer benchmark's events.

use serde_json::Value;
use sigil_driver::hunt::{HuntOptions, HuntStats, hunt};
use std::path::{Path, PathBuf};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sigil-prefilter-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn compiled(rules: &Path) -> Vec<sigil_ir::Rule> {
    static CACHE: std::sync::Mutex<Vec<(PathBuf, Vec<sigil_ir::Rule>)>> =
        std::sync::Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap();
    if let Some((_, r)) = cache.iter().find(|(p, _)| p == rules) {
        return r.clone();
    }
    let report = sigil_driver::check(&[rules.to_path_buf()]);
    assert_eq!(
        report.errors(),
        0,
        "rules in {} check clean",
        rules.display()
    );
    cache.push((rules.to_path_buf(), report.rules.clone()));
    report.rules
}

fn run(rules: &Path, events: &[PathBuf], opts: &HuntOptions) -> (String, HuntStats) {
    let rules = compiled(rules);
    // The full-parse path runs the reference engine (no field index either).
    let (mut engine, _) = if opts.full_parse {
        sigil_eval::Engine::unindexed(&rules)
    } else {
        sigil_eval::Engine::new(&rules)
    };
    let mut out = Vec::new();
    let stats = hunt(&mut engine, events, opts, &mut out, &mut |_| {}).expect("hunt runs");
    (String::from_utf8(out).unwrap(), stats)
}

/// Runs both paths under several option sets and asserts they agree; returns the alerts.
fn same_both_ways(rules: &Path, events: &[PathBuf], all_options: bool) -> usize {
    let variants = [
        HuntOptions {
            lateness_ms: 60_000,
            ..Default::default()
        },
        HuntOptions::default(),
        HuntOptions {
            lateness_ms: 5_000,
            since: Some(1_000_000_000_000),
            until: Some(1_793_520_600_000),
            ..Default::default()
        },
    ];
    let mut alerts = 0;
    for opts in variants.into_iter().take(if all_options { 3 } else { 1 }) {
        let fast = run(rules, events, &opts);
        let full = run(
            rules,
            events,
            &HuntOptions {
                full_parse: true,
                ..opts.clone()
            },
        );
        assert_eq!(
            fast.1,
            full.1,
            "counters differ for {} over {:?}",
            rules.display(),
            events
        );
        if fast.0 != full.0 {
            let a: Vec<&str> = fast.0.lines().collect();
            let b: Vec<&str> = full.0.lines().collect();
            let first = a.iter().zip(&b).position(|(x, y)| x != y);
            panic!(
                "alerts differ for {} over {:?}: {} with the prefilter, {} without; first difference at {:?}:\n{:?}\n{:?}",
                rules.display(),
                events,
                a.len(),
                b.len(),
                first,
                first.and_then(|i| a.get(i)),
                first.and_then(|i| b.get(i)),
            );
        }
        alerts += fast.1.alerts as usize;
    }
    alerts
}

/// Escapes every character of a string value that `pick` selects as `\uXXXX`, or (mode 1)
/// writes `/` as `\/`.
fn escaped_json(v: &Value, pick: &dyn Fn(usize, char) -> bool, out: &mut String) {
    match v {
        Value::String(s) => {
            out.push('"');
            for (i, c) in s.chars().enumerate() {
                if c == '/' && pick(i, c) {
                    out.push_str("\\/");
                } else if pick(i, c) && (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    let mut b = [0u8; 4];
                    out.push_str(&serde_json::to_string(c.encode_utf8(&mut b)).unwrap()[1..]);
                    out.pop();
                }
            }
            out.push('"');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                escaped_json(x, pick, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&serde_json::to_string(k).unwrap());
                out.push_str(": ");
                escaped_json(x, pick, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

type Rewrite = Box<dyn Fn(&Value) -> String>;

/// The lines of `src` rewritten several ways, plus lines that are not JSON objects.
fn variants(src: &Path, dir: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(src).unwrap();
    let name = src.file_stem().unwrap().to_string_lossy().to_string();
    let mut outs = Vec::new();
    let rewrites: [(&str, Rewrite); 5] = [
        (
            "u-escaped",
            Box::new(|v| {
                let mut s = String::new();
                escaped_json(v, &|i, c| i % 3 == 0 && c.is_ascii_alphabetic(), &mut s);
                s
            }),
        ),
        (
            "slash-escaped",
            Box::new(|v| {
                let mut s = String::new();
                escaped_json(v, &|_, c| c == '/', &mut s);
                s
            }),
        ),
        (
            "kelvin",
            Box::new(|v| {
                // The Kelvin sign folds to `k`, dotless ı upper-cases to `I`.
                v.to_string()
                    .replace('k', "\u{212A}")
                    .replace('i', "\u{131}")
            }),
        ),
        (
            "upper",
            Box::new(|v| {
                let mut s = String::new();
                escaped_json(v, &|_, _| false, &mut s);
                s.to_uppercase().replace("\\U", "\\u").replace("\\N", "\\n")
            }),
        ),
        (
            "numbers",
            Box::new(|v| {
                // Numbers in other spellings (their text as the matcher reads it differs).
                let mut t = v.to_string();
                for (a, b) in [(":1,", ":1.0e0,"), (":4688", ":4.688e3"), (":0,", ":-0,")] {
                    t = t.replace(a, b);
                }
                t
            }),
        ),
    ];
    for (tag, f) in &rewrites {
        let mut out = String::new();
        for line in text.lines() {
            match serde_json::from_str::<Value>(line) {
                Ok(v) => out.push_str(&f(&v)),
                Err(_) => out.push_str(line),
            }
            out.push('\n');
        }
        out.push_str("not json\n[1, 2]\n{\"a\": \"unterminated}\n{\"time\": 1e400}\n\n");
        let p = dir.join(format!("{name}.{tag}.ndjson"));
        std::fs::write(&p, out).unwrap();
        outs.push(p);
    }
    outs
}

fn fixture_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            fixture_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "ndjson") {
            out.push(p);
        }
    }
}

#[test]
fn rules_fixtures_agree_with_and_without_prefilter() {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut files = Vec::new();
    fixture_files(&rules, &mut files);
    files.sort();
    assert!(!files.is_empty());
    let dir = temp_dir("fixtures");
    let mut alerts = 0;
    // Per fixtures folder, its files as one stream, as they are and rewritten.
    let mut folders: Vec<PathBuf> = files
        .iter()
        .filter_map(|f| f.parent())
        .map(Path::to_path_buf)
        .collect();
    folders.dedup();
    for (i, folder) in folders.iter().enumerate() {
        let mut text = String::new();
        for f in files.iter().filter(|f| f.parent() == Some(folder)) {
            text.push_str(&std::fs::read_to_string(f).unwrap());
        }
        let joined = dir.join(format!("folder{i}.ndjson"));
        std::fs::write(&joined, text).unwrap();
        alerts += same_both_ways(&rules, std::slice::from_ref(&joined), true);
        for v in variants(&joined, &dir) {
            same_both_ways(&rules, &[v], false);
        }
    }
    // The whole set as one stream, so windows and sequences span files.
    alerts += same_both_ways(&rules, &files, true);
    assert!(alerts > 0, "the fixtures raise alerts");
}

const PROBES: &str = r#"
title: whoami
id: 00000000-0000-0000-0000-000000000001
logsource: {product: windows, category: process_creation}
detection:
    selection:
        CommandLine|contains: whoami
    condition: selection
---
title: cased image and not system
id: 00000000-0000-0000-0000-000000000002
logsource: {product: windows, category: process_creation}
detection:
    selection:
        Image|endswith|cased: '\Cmd.exe'
    filter:
        User|contains: SYSTEM
    condition: selection and not filter
---
title: anything but cmd
id: 00000000-0000-0000-0000-000000000003
logsource: {product: windows, category: process_creation}
detection:
    filter:
        Image|endswith: '\cmd.exe'
    condition: not filter
---
title: absent or null field
id: 00000000-0000-0000-0000-000000000004
logsource: {product: windows, category: process_creation}
detection:
    selection:
        ParentUser: null
        OriginalFileName: 'whoami.exe'
    condition: selection
---
title: number and numeric text
id: 00000000-0000-0000-0000-000000000005
logsource: {product: windows, category: process_creation}
detection:
    selection:
        EventID: 1
        CommandLine|contains: '1.0'
    condition: selection
---
title: non-ascii and keywords
id: 00000000-0000-0000-0000-000000000006
logsource: {product: windows, category: process_creation}
detection:
    product:
        Product|contains: 'windows® operating'
    keywords:
        - 'P@ssw0rd'
        - 'KERNEL'
    condition: product and keywords
---
title: cyrillic or kelvin
id: 00000000-0000-0000-0000-000000000007
logsource: {product: windows, category: process_creation}
detection:
    selection:
        CommandLine|contains:
            - 'ѕ'
            - 'kill'
    condition: selection
---
title: whoami bursts per user
id: 00000000-0000-0000-0000-000000000008
logsource: {product: windows, category: process_creation}
detection:
    selection:
        Image|endswith: '\whoami.exe'
    condition: selection | count() by User > 1
    timeframe: 10m
---
title: escapes in literals
id: 00000000-0000-0000-0000-000000000009
logsource: {product: windows, category: process_creation}
detection:
    selection:
        CommandLine|contains: '"\Vendor\'
    condition: selection
---
title: exists
id: 00000000-0000-0000-0000-000000000010
logsource: {product: windows, category: process_creation}
detection:
    selection:
        ParentUser|exists: false
        CommandLine|startswith: 'wmic'
    condition: selection
"#;

#[test]
fn probe_rules_agree_on_synthetic_events() {
    let dir = temp_dir("probes");
    let rules = dir.join("probes.yml");
    std::fs::write(&rules, PROBES).unwrap();
    let ev = dir.join("process.ndjson");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&ev).unwrap());
    sigil_driver::synth::process_events(2_000, 7, &mut f).unwrap();
    drop(f);
    let alerts = same_both_ways(&rules, std::slice::from_ref(&ev), true);
    assert!(alerts > 0);
    for v in variants(&ev, &dir) {
        same_both_ways(&rules, &[v], false);
    }
}

#[test]
fn sigmahq_process_creation_agrees_on_peer_bench_events() {
    let Some(shared) = std::env::var_os("SIGIL_SHARED").map(PathBuf::from) else {
        eprintln!("skipping: SIGIL_SHARED is not set");
        return;
    };
    let rules = shared.join("corpus/sigmahq/rules/windows/process_creation");
    let dir = temp_dir("sigmahq");
    let ev = dir.join("peer.ndjson");
    let ok = std::process::Command::new("python3")
        .arg(shared.join("peer-bench/gen_events.py"))
        .args(["-n", "1000", "--seed", "1337", "--evil-rate", "0.05"])
        .stdout(std::fs::File::create(&ev).unwrap())
        .status()
        .is_ok_and(|s| s.success());
    let mut files = vec![];
    if ok {
        files.push(ev.clone());
    } else {
        eprintln!("python3 could not run gen_events.py; synthetic events only");
    }
    let syn = dir.join("synth.ndjson");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&syn).unwrap());
    sigil_driver::synth::process_events(1_000, 11, &mut f).unwrap();
    drop(f);
    files.push(syn);
    for f in &files {
        let alerts = same_both_ways(&rules, std::slice::from_ref(f), false);
        assert!(alerts > 0);
    }
    if ok {
        for v in variants(&ev, &dir).into_iter().take(2) {
            same_both_ways(&rules, &[v], false);
        }
    }
}
