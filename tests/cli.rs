//! The `sigil` binary: exit statuses, output formats and the summary line.

use std::path::Path;
use std::process::{Command, Output};

fn sigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the sigil binary runs")
}

fn temp_rule(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sigil-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("{name}.yml"));
    std::fs::write(&p, text).unwrap();
    p
}

const BAD: &str = "title: t\nlogsource: {product: aws}\ndetection:\n  selection:\n    eventName|contans: x\n  condition: selection and filter\n";

#[test]
fn bundled_rules_check_clean_with_exit_0() {
    let o = sigil(&["check", "rules"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("0 errors, 0 warnings"), "{out}");
}

#[test]
fn rule_errors_exit_1_and_report_every_error() {
    let p = temp_rule("bad", BAD);
    let o = sigil(&["check", p.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("error[S301]") && out.contains("error[S203]"),
        "both errors are reported:\n{out}"
    );
    assert!(out.contains("did you mean `contains`?"), "{out}");
    assert!(out.contains(":5:15"), "the modifier is located:\n{out}");
}

#[test]
fn missing_path_exits_2() {
    let o = sigil(&["check", "no/such/path"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stdout).contains("S001"));
}

#[test]
fn usage_error_exits_2() {
    assert_eq!(sigil(&["check"]).status.code(), Some(2));
    assert_eq!(sigil(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn json_format_is_one_object_per_diagnostic() {
    let p = temp_rule("json", BAD);
    let o = sigil(&["check", "--format", "json", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).expect("each line is JSON");
        for k in ["file", "line", "column", "code", "severity", "message"] {
            assert!(v.get(k).is_some(), "{k} missing in {l}");
        }
    }
    assert!(String::from_utf8_lossy(&o.stderr).contains("checked 1 files"));
}

#[test]
fn explain_prints_the_ir_deterministically() {
    let a = sigil(&["explain", "rules"]);
    let b = sigil(&["explain", "rules"]);
    assert_eq!(a.status.code(), Some(0));
    assert_eq!(
        a.stdout, b.stdout,
        "explain output must be byte-identical across runs"
    );
    let out = String::from_utf8_lossy(&a.stdout);
    assert!(
        out.contains("rule aws_cloudtrail_logging_tampering"),
        "{out}"
    );
    let one = sigil(&[
        "explain",
        "rules",
        "--rule",
        "cloud_infrastructure_discovery_burst",
    ]);
    assert!(
        String::from_utf8_lossy(&one.stdout)
            .starts_with("rule cloud_infrastructure_discovery_burst")
    );
    assert_eq!(
        sigil(&["explain", "rules", "--rule", "nope"]).status.code(),
        Some(1)
    );
}

#[test]
fn check_writes_nothing_into_the_checked_folder() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let before = std::fs::read_dir(&dir).unwrap().count();
    sigil(&["check", "rules"]);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), before);
}

#[test]
fn every_diagnostic_of_the_error_suite_carries_a_hint() {
    let o = sigil(&["check", "--format", "json", "tests/errors"]);
    let out = String::from_utf8_lossy(&o.stdout);
    let mut missing = Vec::new();
    for l in out.lines() {
        let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
        if v.get("hints")
            .and_then(|h| h.as_array())
            .is_none_or(|h| h.is_empty())
        {
            missing.push(format!("{} {} {}", v["file"], v["code"], v["message"]));
        }
    }
    assert!(out.lines().count() > 30, "the error suite looks empty");
    assert!(
        missing.is_empty(),
        "diagnostics without a hint:\n{}",
        missing.join("\n")
    );
}

/// `sigil hunt` draws a progress line only when stderr is a terminal: with stderr captured
/// (as here, and in pipelines and CI) stderr holds the loaded/summary lines and nothing else,
/// even for stdin input slow enough that a terminal would have shown the counter.
#[test]
fn hunt_shows_no_progress_when_stderr_is_not_a_terminal() {
    use std::io::Write;
    use std::process::Stdio;
    let rule = temp_rule(
        "progress",
        "title: t\nlogsource: {product: windows, category: process_creation}\ndetection:\n  selection:\n    CommandLine|contains: whoami\n  condition: selection\n",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(["hunt", rule.to_str().unwrap(), "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the sigil binary runs");
    let mut stdin = child.stdin.take().unwrap();
    for i in 0..3 {
        writeln!(
            stdin,
            r#"{{"UtcTime": "2026-11-01 08:00:0{i}.000", "CommandLine": "whoami /all"}}"#
        )
        .unwrap();
        stdin.flush().unwrap();
        // Longer than the progress line's tick.
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 3);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        err, "loaded=1 rejected=0\nevents=3 alerts=3 bad_lines=0 filtered=0 late=0\n",
        "no progress text"
    );
}
