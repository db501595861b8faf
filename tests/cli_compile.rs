//! `sigil compile` and `sigil targets` as a user runs them: exit statuses, JSON lines,
//! files written under `-o`, `--strict`, `--mapping` layers and usage errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the sigil binary runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sigil-compile-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

const MATCH_RULE: &str = "rules/aws/cloudtrail_logging_tampering.yml";
const SLIDING: &str = "tests/errors/S705_sliding_window_strict.yml";

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn a_match_rule_compiles_for_every_target_as_json_lines() {
    let o = sigil(&["compile", MATCH_RULE, "-t", "all", "--format", "json"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let lines = json_lines(&o);
    let targets: Vec<&str> = lines
        .iter()
        .filter(|l| l["kind"] == "query")
        .map(|l| l["target"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(targets, ["kql", "spl", "eql"]);
    for l in &lines {
        assert!(l["query"].as_str().is_some_and(|q| !q.is_empty()), "{l}");
        assert_eq!(l["rule"]["name"], "aws_cloudtrail_logging_tampering");
        assert!(l["errors"].as_array().is_some_and(Vec::is_empty), "{l}");
    }
    assert!(stderr.contains("compiled 3 rule×target pairs"), "{stderr}");
}

#[test]
fn output_folder_gets_one_file_per_rule_and_target() {
    let dir = scratch("out");
    let o = sigil(&[
        "compile",
        MATCH_RULE,
        "-t",
        "kql,eql",
        "-o",
        dir.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.stdout.is_empty(), "nothing printed when writing files");
    for (t, ext) in [("kql", "kql"), ("eql", "eql")] {
        let p = dir
            .join(t)
            .join(format!("aws_cloudtrail_logging_tampering.{ext}"));
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(text.starts_with("//"), "a comment names the rule: {text}");
        assert!(text.contains("AWS CloudTrail Logging"), "{text}");
    }
    assert!(!dir.join("spl").exists(), "only the targets asked for");
    let leftovers: Vec<_> = walk(&dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn strict_turns_an_approximation_into_an_error() {
    let lax = sigil(&[
        "compile",
        SLIDING,
        "-t",
        "all",
        "--profile",
        "passthrough",
        "--format",
        "json",
    ]);
    let approximated: Vec<String> = json_lines(&lax)
        .iter()
        .filter(|l| l["notes"].as_array().is_some_and(|n| !n.is_empty()))
        .map(|l| l["target"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        !approximated.is_empty(),
        "some target approximates a sliding window: {}",
        String::from_utf8_lossy(&lax.stdout)
    );
    let t = approximated[0].as_str();
    let strict = sigil(&[
        "compile",
        SLIDING,
        "-t",
        t,
        "--profile",
        "passthrough",
        "--strict",
    ]);
    let err = String::from_utf8_lossy(&strict.stderr);
    assert_eq!(strict.status.code(), Some(1), "{err}");
    assert!(err.contains("error[S705]"), "{err}");
}

#[test]
fn a_user_mapping_layers_over_the_default() {
    let dir = scratch("mapping");
    let m = dir.join("kql.yml");
    std::fs::write(
        &m,
        "target: kql\nsources:\n  - id: my_trail\n    logsource: {product: aws, service: cloudtrail}\n    table: MyTrail_CL\n    time: TimeGenerated\n    unmapped: passthrough\n",
    )
    .expect("mapping file");
    let o = sigil(&[
        "compile",
        MATCH_RULE,
        "-t",
        "kql",
        "--mapping",
        m.to_str().expect("utf-8"),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("MyTrail_CL"),
        "the user's table is used:\n{out}"
    );
}

#[test]
fn bad_mappings_and_targets_are_usage_errors() {
    let dir = scratch("bad");
    let m = dir.join("bad.yml");
    std::fs::write(
        &m,
        "target: kql\nsources:\n  - id: x\n    tabel: T\n    time: t\n",
    )
    .expect("file");
    let o = sigil(&[
        "compile",
        MATCH_RULE,
        "-t",
        "kql",
        "--mapping",
        m.to_str().expect("utf-8"),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("error[S701]") && err.contains("bad.yml:4:5"),
        "{err}"
    );
    let o = sigil(&["compile", MATCH_RULE, "-t", "cobol"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown target `cobol`"));
    let o = sigil(&["compile", MATCH_RULE, "--profile", "fancy"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn unmapped_log_sources_fail_with_exit_1_and_a_located_error() {
    let o = sigil(&[
        "compile",
        "tests/errors/S702_unmapped_log_source.yml",
        "-t",
        "spl",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let lines = json_lines(&o);
    let errs = lines[0]["errors"].as_array().expect("errors");
    assert_eq!(errs[0]["code"], "S702");
    assert_eq!(errs[0]["file"], "tests/errors/S702_unmapped_log_source.yml");
    assert!(lines[0]["query"].is_null());
}

#[test]
fn targets_lists_every_construct_for_every_target() {
    let o = sigil(&["targets", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 3);
    for l in &lines {
        let caps = l["capabilities"].as_array().expect("capabilities");
        assert_eq!(
            caps.len(),
            sigil_backend::Construct::ALL.len(),
            "{}",
            l["target"]
        );
        for c in caps {
            assert!(["exact", "approx", "refused"].contains(&c["fidelity"].as_str().unwrap_or("")));
            assert!(c["note"].as_str().is_some_and(|n| !n.is_empty()), "{c}");
        }
    }
    let text = sigil(&["targets"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("| construct | kql | spl | eql |"));
}

#[test]
fn an_output_a_target_lacks_is_a_note_not_an_error() {
    // Azure Activity's region has no column in Splunk's REST input (mapped to null); it only
    // feeds `values(region)`, so the burst compiles and says what its output misses.
    let o = sigil(&[
        "compile",
        "rules/multi_cloud/cloud_infrastructure_discovery_burst.yml",
        "-t",
        "spl",
        "--format",
        "json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let lines = json_lines(&o);
    let notes = lines[0]["notes"].to_string();
    assert!(
        notes.contains("output `region` has no values from input `azure_discovery_read`"),
        "{notes}"
    );
}
