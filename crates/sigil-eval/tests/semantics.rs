//! The contract of docs/semantics.md, pinned case by case: rules are written as YAML,
//! parsed and lowered as `sigil check` does, and run through the reference evaluator.
//! Every expectation comes from the Sigma specification (or, for Sigil's extensions, from
//! docs/dsl.md and docs/semantics.md), not from running the evaluator.

use serde_json::{Value, json};
use sigil_eval::time::{format_ms, parse_ms};
use sigil_eval::{Alert, Engine, Event};
use sigil_ir::Rule;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Removes the common leading indentation of the non-empty lines.
fn dedent(s: &str) -> String {
    let indent = s
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    s.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            if l.len() >= indent {
                &l[indent..]
            } else {
                l.trim()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses and lowers a rule file; any error diagnostic fails the test.
fn lower(yaml: &str) -> Vec<Rule> {
    let text = dedent(yaml);
    let (file, diags) = sigil_syntax::parse_file("semantics.yml", &text);
    assert!(
        diags.iter().all(|d| !d.is_error()),
        "parse errors: {diags:#?}\n{text}"
    );
    let low = sigil_lower::lower_files(&[file]);
    assert!(
        low.diagnostics.iter().all(|d| !d.is_error()),
        "lowering errors: {:#?}\n{text}",
        low.diagnostics
    );
    low.rules
}

/// A one-rule file whose detection is `detection` (a `condition: selection` is added when
/// the detection has none).
fn rule_text(product: &str, detection: &str) -> String {
    let mut s = format!("title: t\nname: r\nlogsource: {{product: {product}}}\ndetection:\n");
    for l in dedent(detection).lines() {
        s.push_str("    ");
        s.push_str(l);
        s.push('\n');
    }
    if !detection.contains("condition:") {
        s.push_str("    condition: selection\n");
    }
    s
}

/// Runs events (in the order given) through every rule of a file; ids are `e1`, `e2`, ….
fn run(yaml: &str, events: Vec<Value>) -> Vec<Alert> {
    let rules = lower(yaml);
    let (mut engine, rejected) = Engine::new(&rules);
    assert!(rejected.is_empty(), "rejected: {rejected:?}");
    let mut out = Vec::new();
    for (i, v) in events.into_iter().enumerate() {
        let ev = Event::new(v, None, format!("e{}", i + 1));
        out.extend(engine.process(&ev));
    }
    out.extend(engine.flush());
    out
}

/// True when a match rule (product `test`, plain layout) matches the event.
fn hits(detection: &str, ev: Value) -> bool {
    !run(&rule_text("test", detection), vec![ev]).is_empty()
}

/// True when a Windows rule (EVTX-aware layout) matches the event.
fn hits_win(detection: &str, ev: Value) -> bool {
    !run(&rule_text("windows", detection), vec![ev]).is_empty()
}

/// The ids of each alert's contributing events.
fn ids(alerts: &[Alert]) -> Vec<Vec<String>> {
    alerts.iter().map(|a| a.events.clone()).collect()
}

/// 2024-05-01T10:00:00Z in milliseconds: aligned to every window length used below.
fn base() -> i64 {
    parse_ms(&json!("2024-05-01T10:00:00Z")).unwrap()
}

/// RFC 3339 text of BASE plus `s` seconds.
fn at(s: f64) -> String {
    format_ms(base() + (s * 1000.0) as i64)
}

/// An event at BASE + `s` seconds with the given fields.
fn ev(s: f64, fields: Value) -> Value {
    let mut v = fields;
    v["@timestamp"] = Value::String(at(s));
    v
}

const MIN: f64 = 60.0;

// ---------------------------------------------------------------------------------------
// Plain values: case, wildcards, escapes
// ---------------------------------------------------------------------------------------

#[test]
fn plain_string_is_a_case_insensitive_whole_value_match() {
    let d = r"
        selection:
            Image: 'C:\Windows\System32\whoami.exe'
    ";
    assert!(hits(
        d,
        json!({"Image": "C:\\Windows\\System32\\whoami.exe"})
    ));
    assert!(hits(
        d,
        json!({"Image": "c:\\windows\\system32\\WHOAMI.EXE"})
    ));
    assert!(!hits(
        d,
        json!({"Image": "C:\\Windows\\System32\\whoami.exe.bak"})
    ));
    assert!(!hits(
        d,
        json!({"Image": "D:\\C:\\Windows\\System32\\whoami.exe"})
    ));
}

#[test]
fn case_folding_is_unicode_lower_casing() {
    let d = "selection:\n    User: 'ÄRGER Ω'";
    assert!(hits(d, json!({"User": "ärger ω"})));
    assert!(hits(d, json!({"User": "Ärger Ω"})));
    let c = "selection:\n    User|contains: 'STRASSE'";
    assert!(hits(c, json!({"User": "hauptstrasse"})));
}

#[test]
fn cased_modifier_respects_case() {
    let d = r"
        selection:
            Image|cased: 'C:\Temp\Evil.exe'
    ";
    assert!(hits(d, json!({"Image": "C:\\Temp\\Evil.exe"})));
    assert!(!hits(d, json!({"Image": "c:\\temp\\evil.exe"})));
    let c = "selection:\n    CommandLine|contains|cased: 'SeDebugPrivilege'";
    assert!(hits(c, json!({"CommandLine": "x SeDebugPrivilege y"})));
    assert!(!hits(c, json!({"CommandLine": "x sedebugprivilege y"})));
}

#[test]
fn question_mark_is_exactly_one_character() {
    let d = "selection:\n    Image: 'prog?.exe'";
    assert!(hits(d, json!({"Image": "progA.exe"})));
    assert!(
        hits(d, json!({"Image": "progé.exe"})),
        "one character, not one byte"
    );
    assert!(!hits(d, json!({"Image": "prog.exe"})));
    assert!(!hits(d, json!({"Image": "progAB.exe"})));
}

#[test]
fn star_is_any_run_including_empty() {
    let d = "selection:\n    Image: 'antivirus_V*.exe'";
    assert!(hits(d, json!({"Image": "antivirus_V1.exe"})));
    assert!(hits(d, json!({"Image": "antivirus_V21.2.1.exe"})));
    assert!(hits(d, json!({"Image": "antivirus_V.exe"})));
    assert!(!hits(d, json!({"Image": "antivirus_V1.exe.txt"})));
}

#[test]
fn startswith_endswith_contains_are_wildcard_sugar() {
    assert!(hits(
        "selection:\n    User|startswith: 'adm'",
        json!({"User": "ADMIN"})
    ));
    assert!(!hits(
        "selection:\n    User|startswith: 'adm'",
        json!({"User": "xadm"})
    ));
    assert!(hits(
        "selection:\n    Image|endswith: '\\cmd.exe'",
        json!({"Image": "C:\\x\\CMD.exe"})
    ));
    assert!(!hits(
        "selection:\n    Image|endswith: 'cmd.exe'",
        json!({"Image": "cmd.exe.bak"})
    ));
    assert!(hits(
        "selection:\n    CommandLine|contains: ' -w hidden '",
        json!({"CommandLine": "ps -W Hidden -c"})
    ));
    // A wildcard inside a startswith value stays a wildcard.
    assert!(hits(
        "selection:\n    User|startswith: 'adm?_'",
        json!({"User": "admX_lab"})
    ));
    assert!(!hits(
        "selection:\n    User|startswith: 'adm?_'",
        json!({"User": "adm_lab"})
    ));
}

#[test]
fn escape_row1_single_and_double_backslash_are_one_backslash() {
    for v in [r"'C:\Windows\x'", r"'C:\\Windows\\x'"] {
        let d = format!("selection:\n    CommandLine: {v}");
        assert!(hits(&d, json!({"CommandLine": "C:\\Windows\\x"})), "{v}");
        assert!(
            !hits(&d, json!({"CommandLine": "C:\\\\Windows\\\\x"})),
            "{v}"
        );
    }
}

#[test]
fn escape_row2_escaped_star_and_question_mark_are_literal() {
    let star = r"selection:
    CommandLine: 'a\*b'";
    assert!(hits(star, json!({"CommandLine": "a*b"})));
    assert!(!hits(star, json!({"CommandLine": "axb"})));
    assert!(!hits(star, json!({"CommandLine": "ab"})));
    let q = r"selection:
    CommandLine: 'a\?b'";
    assert!(hits(q, json!({"CommandLine": "a?b"})));
    assert!(!hits(q, json!({"CommandLine": "axb"})));
}

#[test]
fn escape_row3_escaped_backslash_then_wildcard() {
    let d = r"selection:
    CommandLine: 'a\\*'";
    assert!(hits(d, json!({"CommandLine": "a\\"})));
    assert!(hits(d, json!({"CommandLine": "a\\anything"})));
    assert!(!hits(d, json!({"CommandLine": "a"})));
    assert!(!hits(d, json!({"CommandLine": "abc"})));
}

#[test]
fn escape_row4_backslash_then_literal_star() {
    let d = r"selection:
    CommandLine: 'a\\\*'";
    assert!(hits(d, json!({"CommandLine": "a\\*"})));
    assert!(!hits(d, json!({"CommandLine": "a\\x"})));
    assert!(!hits(d, json!({"CommandLine": "a\\"})));
}

#[test]
fn escape_row5_three_or_four_backslashes_are_two() {
    for v in [r"'a\\\b'", r"'a\\\\b'"] {
        let d = format!("selection:\n    CommandLine: {v}");
        assert!(hits(&d, json!({"CommandLine": "a\\\\b"})), "{v}");
        assert!(!hits(&d, json!({"CommandLine": "a\\b"})), "{v}");
    }
}

#[test]
fn escapes_survive_contains() {
    let d = r"selection:
    CommandLine|contains: 'a\*b'";
    assert!(hits(d, json!({"CommandLine": "xx a*b yy"})));
    assert!(!hits(d, json!({"CommandLine": "xx aXb yy"})));
}

#[test]
fn percent_is_literal_without_expand() {
    let d = "selection:\n    field: '%name%'";
    assert!(hits(d, json!({"field": "%NAME%"})));
    assert!(!hits(d, json!({"field": "admin"})));
}

#[test]
fn empty_string_value_matches_only_the_empty_string() {
    let d = "selection:\n    Company: ''";
    assert!(hits(d, json!({"Company": ""})));
    assert!(!hits(d, json!({"Company": " "})));
    assert!(!hits(d, json!({})), "absent is not empty");
    assert!(!hits(d, json!({"Company": null})), "null is not empty");
}

// ---------------------------------------------------------------------------------------
// null, exists
// ---------------------------------------------------------------------------------------

#[test]
fn null_matches_absent_or_null_only() {
    let d = "selection:\n    Description: null";
    assert!(hits(d, json!({})));
    assert!(hits(d, json!({"Description": null})));
    assert!(!hits(d, json!({"Description": ""})));
    assert!(!hits(d, json!({"Description": "x"})));
    assert!(!hits(d, json!({"Description": 0})));
}

#[test]
fn not_null_means_present_with_a_value() {
    let d = "
        selection:
            EventID: 4738
        filter:
            PasswordLastSet: null
        condition: selection and not filter
    ";
    assert!(hits(
        d,
        json!({"EventID": 4738, "PasswordLastSet": "2024-01-01"})
    ));
    assert!(hits(d, json!({"EventID": 4738, "PasswordLastSet": ""})));
    assert!(!hits(d, json!({"EventID": 4738, "PasswordLastSet": null})));
    assert!(!hits(d, json!({"EventID": 4738})));
}

#[test]
fn null_or_empty_split_per_spec_example_14() {
    let d = "
        selection_main:
            FieldA: 'something'
        selection_empty1:
            FieldB: ''
        selection_empty2:
            FieldB: null
        condition: selection_main and 1 of selection_empty*
    ";
    assert!(hits(d, json!({"FieldA": "something", "FieldB": ""})));
    assert!(hits(d, json!({"FieldA": "something", "FieldB": null})));
    assert!(hits(d, json!({"FieldA": "something"})));
    assert!(!hits(d, json!({"FieldA": "something", "FieldB": "x"})));
}

#[test]
fn exists_checks_presence_not_value() {
    let yes = "selection:\n    PasswordLastSet|exists: true";
    let no = "selection:\n    PasswordLastSet|exists: false";
    for present in [
        json!(null),
        json!(""),
        json!(0),
        json!("x"),
        json!([]),
        json!({}),
    ] {
        let e = json!({ "PasswordLastSet": present });
        assert!(hits(yes, e.clone()), "{e}");
        assert!(!hits(no, e.clone()), "{e}");
    }
    assert!(!hits(yes, json!({"Other": 1})));
    assert!(hits(no, json!({"Other": 1})));
}

#[test]
fn exists_on_a_nested_path() {
    let d = "selection:\n    a.b|exists: true";
    assert!(hits(d, json!({"a": {"b": null}})));
    assert!(!hits(d, json!({"a": {"c": 1}})));
    assert!(!hits(d, json!({"a": 5})));
}

// ---------------------------------------------------------------------------------------
// Numbers, booleans
// ---------------------------------------------------------------------------------------

#[test]
fn integer_value_matches_numbers_and_numeric_strings() {
    let d = "selection:\n    EventID: 4624";
    assert!(hits(d, json!({"EventID": 4624})));
    assert!(hits(d, json!({"EventID": "4624"})));
    assert!(hits(d, json!({"EventID": 4624.0})));
    assert!(!hits(d, json!({"EventID": 46240})));
    assert!(!hits(d, json!({"EventID": "4624a"})));
    assert!(!hits(d, json!({"EventID": "0x1210"})));
}

#[test]
fn quoted_digits_compare_as_text_with_json_numbers() {
    let d = "selection:\n    Code: '4624'";
    assert!(hits(d, json!({"Code": "4624"})));
    assert!(
        hits(d, json!({"Code": 4624})),
        "a number is compared by its JSON text"
    );
    assert!(!hits(d, json!({"Code": "04624"})));
}

#[test]
fn string_modifiers_see_numbers_as_their_json_text() {
    assert!(hits(
        "selection:\n    EventID|startswith: '46'",
        json!({"EventID": 4624})
    ));
    assert!(hits(
        "selection:\n    Ratio|contains: '.5'",
        json!({"Ratio": 0.5})
    ));
    assert!(hits("selection:\n    Flag: 'TRUE'", json!({"Flag": true})));
    assert!(hits(
        "selection:\n    EventID|re: '^46[0-9]{2}$'",
        json!({"EventID": 4624})
    ));
}

#[test]
fn negative_and_float_values_compare_numerically() {
    assert!(hits("selection:\n    Offset: -1", json!({"Offset": -1})));
    assert!(hits("selection:\n    Offset: -1", json!({"Offset": "-1"})));
    assert!(hits("selection:\n    Ratio: 0.5", json!({"Ratio": 0.5})));
    assert!(hits("selection:\n    Ratio: 0.5", json!({"Ratio": "0.50"})));
    assert!(!hits("selection:\n    Ratio: 0.5", json!({"Ratio": 0.25})));
}

#[test]
fn boolean_value_matches_booleans_and_their_text() {
    let d = "selection:\n    Elevated: true";
    assert!(hits(d, json!({"Elevated": true})));
    assert!(hits(d, json!({"Elevated": "true"})));
    assert!(hits(d, json!({"Elevated": "True"})));
    assert!(!hits(d, json!({"Elevated": false})));
    assert!(!hits(d, json!({"Elevated": 1})));
    assert!(!hits(d, json!({"Elevated": "yes"})));
}

#[test]
fn value_list_is_or_and_map_is_and() {
    let d = "
        selection:
            EventLog: Security
            EventID:
                - 517
                - 1102
    ";
    assert!(hits(d, json!({"EventLog": "security", "EventID": 1102})));
    assert!(hits(d, json!({"EventLog": "Security", "EventID": "517"})));
    assert!(!hits(d, json!({"EventLog": "System", "EventID": 1102})));
    assert!(!hits(d, json!({"EventLog": "Security", "EventID": 4624})));
}

// ---------------------------------------------------------------------------------------
// Comparisons
// ---------------------------------------------------------------------------------------

#[test]
fn comparisons_read_numbers_and_numeric_strings() {
    let gt = "selection:\n    DestinationPort|gt: 49151";
    assert!(hits(gt, json!({"DestinationPort": 49152})));
    assert!(hits(gt, json!({"DestinationPort": "60000"})));
    assert!(!hits(gt, json!({"DestinationPort": 49151})));
    let lt = "selection:\n    DestinationPort|lt: 1024";
    assert!(hits(lt, json!({"DestinationPort": 1023})));
    assert!(!hits(lt, json!({"DestinationPort": 1024})));
    let lte = "selection:\n    Score|lte: 2.5";
    assert!(hits(lte, json!({"Score": 2.5})));
    assert!(hits(lte, json!({"Score": "-3"})));
    assert!(!hits(lte, json!({"Score": 2.51})));
    let gte = "selection:\n    SourcePort|gte: '1024'";
    assert!(hits(gte, json!({"SourcePort": 1024})));
    assert!(!hits(gte, json!({"SourcePort": 1023})));
}

#[test]
fn comparisons_are_numeric_not_lexicographic_on_strings() {
    // As text "9" > "10"; as numbers 9 < 10.
    assert!(hits("selection:\n    n|lt: 10", json!({"n": "9"})));
    assert!(!hits("selection:\n    n|gt: 10", json!({"n": "9"})));
    assert!(
        hits("selection:\n    n|gte: 100", json!({"n": " 100 "})),
        "surrounding blanks are trimmed"
    );
}

#[test]
fn comparisons_never_match_non_numeric_values() {
    for v in [
        json!("abc"),
        json!(""),
        json!(true),
        json!(null),
        json!("NaN"),
        json!("inf"),
    ] {
        assert!(
            !hits("selection:\n    n|gte: 0", json!({ "n": v.clone() })),
            "{v}"
        );
        assert!(
            !hits("selection:\n    n|lt: 0", json!({ "n": v.clone() })),
            "{v}"
        );
    }
    assert!(!hits("selection:\n    n|gte: 0", json!({})));
}

// ---------------------------------------------------------------------------------------
// Regular expressions
// ---------------------------------------------------------------------------------------

#[test]
fn regex_is_a_case_sensitive_search_anywhere() {
    let d = r"selection:
    CommandLine|re: '\s-e(nc)?\s'";
    assert!(hits(d, json!({"CommandLine": "powershell -enc ZQB4AA=="})));
    assert!(hits(d, json!({"CommandLine": "powershell -e ZQB4AA=="})));
    assert!(!hits(d, json!({"CommandLine": "powershell -ENC ZQB4AA=="})));
    assert!(!hits(d, json!({"CommandLine": "powershell -encode x"})));
}

#[test]
fn regex_anchors_bind_the_whole_value() {
    let d = "selection:\n    User|re: '^adm$'";
    assert!(hits(d, json!({"User": "adm"})));
    assert!(!hits(d, json!({"User": "xadm"})));
}

#[test]
fn regex_does_not_interpret_sigma_wildcards() {
    let d = "selection:\n    v|re: 'ab*c'";
    assert!(hits(d, json!({"v": "xac"})), "`b*` is zero or more b");
    assert!(hits(d, json!({"v": "abbbc"})));
    assert!(!hits(d, json!({"v": "abXc"})));
}

#[test]
fn regex_i_flag_ignores_case() {
    let d = "selection:\n    CommandLine|re|i: 'invoke-(expression|webrequest)'";
    assert!(hits(d, json!({"CommandLine": "IEX (Invoke-WebRequest x)"})));
    assert!(!hits(d, json!({"CommandLine": "Invoke-Command"})));
}

#[test]
fn regex_m_flag_anchors_at_lines() {
    let m = "selection:\n    ScriptBlockText|re|m: '^iex '";
    let plain = "selection:\n    ScriptBlockText|re: '^iex '";
    let text = json!({"ScriptBlockText": "$a = 1\niex $b"});
    assert!(hits(m, text.clone()));
    assert!(!hits(plain, text));
}

#[test]
fn regex_s_flag_lets_dot_match_newline() {
    let s = "selection:\n    ScriptBlockText|re|s: 'begin.*end'";
    let plain = "selection:\n    ScriptBlockText|re: 'begin.*end'";
    let text = json!({"ScriptBlockText": "begin\nmiddle\nend"});
    assert!(hits(s, text.clone()));
    assert!(!hits(plain, text));
    let combined = "selection:\n    ScriptBlockText|re|s|i|m: '^begin.*end$'";
    assert!(hits(
        combined,
        json!({"ScriptBlockText": "x\nBEGIN\nEND\ny"})
    ));
}

#[test]
fn regex_with_lookaround_and_backreferences_uses_the_fallback_engine() {
    let look = "selection:\n    v|re: 'foo(?=bar)'";
    assert!(hits(look, json!({"v": "xfoobar"})));
    assert!(!hits(look, json!({"v": "xfoobaz"})));
    let back = r"selection:
    v|re: '(\w)\1'";
    assert!(hits(back, json!({"v": "abccd"})));
    assert!(!hits(back, json!({"v": "abcd"})));
}

#[test]
fn regex_exceeding_the_backtrack_limit_does_not_match() {
    // The backreference forces the backtracking engine; `(a+)+b` then explodes on a long
    // run of `a` before the third alternative is tried, so the budget runs out and the
    // predicate is false even though `a+c` would match (docs/semantics.md).
    let d = r"selection:
    v|re: '^(?:(x)\1|(a+)+b|a+c)$'";
    assert!(
        hits(d, json!({"v": "aac"})),
        "short input: the match is found"
    );
    let long = format!("{}c", "a".repeat(40));
    assert!(!hits(d, json!({ "v": long })));
}

#[test]
fn regex_all_requires_every_pattern() {
    let d = "
        selection:
            v|re|all:
                - 'ab'
                - 'cd'
    ";
    assert!(hits(d, json!({"v": "xxcdab"})));
    assert!(!hits(d, json!({"v": "xxab"})));
}

// ---------------------------------------------------------------------------------------
// CIDR
// ---------------------------------------------------------------------------------------

#[test]
fn cidr_v4_matches_addresses_in_the_network() {
    let d = "
        selection:
            DestinationIp|cidr:
                - '10.0.0.0/8'
                - '192.168.0.0/16'
                - '172.16.0.0/12'
    ";
    assert!(hits(d, json!({"DestinationIp": "10.1.2.3"})));
    assert!(hits(d, json!({"DestinationIp": "172.31.255.255"})));
    assert!(hits(d, json!({"DestinationIp": "192.168.0.1"})));
    assert!(!hits(d, json!({"DestinationIp": "172.32.0.1"})));
    assert!(!hits(d, json!({"DestinationIp": "11.0.0.1"})));
    assert!(!hits(d, json!({"DestinationIp": "8.8.8.8"})));
}

#[test]
fn cidr_host_bits_of_the_network_are_ignored() {
    let d = "selection:\n    ip|cidr: '10.1.2.3/8'";
    assert!(hits(d, json!({"ip": "10.200.0.1"})));
    let single = "selection:\n    ip|cidr: '10.1.2.3'";
    assert!(hits(single, json!({"ip": "10.1.2.3"})));
    assert!(!hits(single, json!({"ip": "10.1.2.4"})));
}

#[test]
fn cidr_v6_matches_addresses_in_the_network() {
    let d = "
        selection:
            DestinationIp|cidr:
                - 'fe80::/10'
                - 'fd00::/8'
                - '::1/128'
    ";
    assert!(hits(d, json!({"DestinationIp": "fe80::1"})));
    assert!(hits(d, json!({"DestinationIp": "FEBF::abcd"})));
    assert!(hits(d, json!({"DestinationIp": "fd12:3456::1"})));
    assert!(
        hits(d, json!({"DestinationIp": "0:0:0:0:0:0:0:1"})),
        "any spelling of ::1"
    );
    assert!(!hits(d, json!({"DestinationIp": "fec0::1"})));
    assert!(!hits(d, json!({"DestinationIp": "::2"})));
    assert!(!hits(d, json!({"DestinationIp": "10.0.0.1"})));
}

#[test]
fn cidr_reads_only_plain_address_strings() {
    let d = "selection:\n    ip|cidr: '10.0.0.0/8'";
    assert!(
        !hits(d, json!({"ip": "10.1.2.3:443"})),
        "address with a port"
    );
    assert!(!hits(d, json!({"ip": "host-10.1.2.3"})));
    assert!(
        !hits(d, json!({"ip": 167772161})),
        "an integer is not an address"
    );
    assert!(!hits(d, json!({})));
    let v6 = "selection:\n    ip|cidr: '::1/128'";
    assert!(!hits(v6, json!({"ip": "[::1]"})), "bracketed form");
}

#[test]
fn cidr_v4_network_does_not_match_v6_addresses() {
    let d = "selection:\n    ip|cidr: '10.0.0.0/8'";
    assert!(!hits(d, json!({"ip": "2001:db8::1"})));
}

#[test]
fn cidr_neq_excludes_the_network() {
    let d = "selection:\n    ip|cidr|neq: '10.0.0.0/8'";
    assert!(hits(d, json!({"ip": "8.8.8.8"})));
    assert!(!hits(d, json!({"ip": "10.0.0.1"})));
}

// ---------------------------------------------------------------------------------------
// fieldref, neq, all
// ---------------------------------------------------------------------------------------

#[test]
fn fieldref_compares_two_fields_of_the_same_event() {
    let d = "selection:\n    SourceUser|fieldref: TargetUser";
    assert!(hits(
        d,
        json!({"SourceUser": "alice", "TargetUser": "alice"})
    ));
    assert!(
        hits(d, json!({"SourceUser": "Alice", "TargetUser": "ALICE"})),
        "case-insensitive"
    );
    assert!(!hits(
        d,
        json!({"SourceUser": "alice", "TargetUser": "bob"})
    ));
    assert!(
        !hits(d, json!({"SourceUser": "alice"})),
        "other field absent"
    );
    assert!(!hits(d, json!({"TargetUser": "alice"})));
    assert!(
        hits(d, json!({"SourceUser": 5, "TargetUser": "5"})),
        "by text"
    );
}

#[test]
fn fieldref_cased_respects_case() {
    let d = "selection:\n    SourceUser|fieldref|cased: TargetUser";
    assert!(hits(
        d,
        json!({"SourceUser": "alice", "TargetUser": "alice"})
    ));
    assert!(!hits(
        d,
        json!({"SourceUser": "Alice", "TargetUser": "alice"})
    ));
}

#[test]
fn fieldref_contains_startswith_endswith() {
    let c = "selection:\n    CommandLine|fieldref|contains: User";
    assert!(hits(
        c,
        json!({"CommandLine": "net user BOB /add", "User": "bob"})
    ));
    assert!(!hits(
        c,
        json!({"CommandLine": "net user carol /add", "User": "bob"})
    ));
    let s = "selection:\n    Image|fieldref|startswith: CurrentDirectory";
    assert!(hits(
        s,
        json!({"Image": "C:\\Temp\\x.exe", "CurrentDirectory": "c:\\temp\\"})
    ));
    assert!(!hits(
        s,
        json!({"Image": "C:\\Windows\\x.exe", "CurrentDirectory": "C:\\Temp\\"})
    ));
    let e = "selection:\n    TargetFilename|fieldref|endswith: OriginalFileName";
    assert!(hits(
        e,
        json!({"TargetFilename": "C:\\d\\evil.exe", "OriginalFileName": "EVIL.EXE"})
    ));
    assert!(!hits(
        e,
        json!({"TargetFilename": "C:\\d\\evil.exe.txt", "OriginalFileName": "evil.exe"})
    ));
}

#[test]
fn fieldref_neq_holds_when_the_fields_differ() {
    let d = "selection:\n    SourceUser|fieldref|neq: TargetUser";
    assert!(hits(d, json!({"SourceUser": "alice", "TargetUser": "bob"})));
    assert!(!hits(
        d,
        json!({"SourceUser": "alice", "TargetUser": "Alice"})
    ));
}

#[test]
fn neq_negates_the_whole_value_list() {
    let d = "
        selection:
            User|neq:
                - 'SYSTEM'
                - 'LOCAL SERVICE'
    ";
    assert!(hits(d, json!({"User": "alice"})));
    assert!(!hits(d, json!({"User": "system"})));
    assert!(!hits(d, json!({"User": "Local Service"})));
}

#[test]
fn neq_on_numbers_is_numeric_difference() {
    let d = "selection:\n    LogonType|neq: 3";
    assert!(hits(d, json!({"LogonType": 2})));
    assert!(hits(d, json!({"LogonType": "10"})));
    assert!(!hits(d, json!({"LogonType": 3})));
    assert!(!hits(d, json!({"LogonType": "3"})));
}

#[test]
fn neq_on_an_absent_field_holds() {
    // neq is NOT(field matches any value); an absent field matches none of them.
    assert!(hits("selection:\n    User|neq: 'SYSTEM'", json!({})));
}

#[test]
fn all_modifier_requires_every_value() {
    let d = "
        selection:
            CommandLine|contains|all:
                - '-enc'
                - '-nop'
    ";
    assert!(hits(d, json!({"CommandLine": "ps -NoP -Enc x"})));
    assert!(!hits(d, json!({"CommandLine": "ps -enc x"})));
    assert!(!hits(d, json!({"CommandLine": "ps -nop x"})));
}

// ---------------------------------------------------------------------------------------
// Keywords
// ---------------------------------------------------------------------------------------

#[test]
fn keywords_search_every_string_value_case_insensitively() {
    let d = "
        keywords:
            - 'EVILSERVICE'
            - 'svchost.exe -n evil'
        condition: keywords
    ";
    assert!(hits(d, json!({"msg": "service EvilService installed"})));
    assert!(hits(
        d,
        json!({"a": {"b": ["x", "C:\\svchost.exe -n evil"]}})
    ));
    assert!(!hits(d, json!({"msg": "svchost.exe -k netsvcs"})));
}

#[test]
fn keywords_do_not_search_keys_numbers_or_booleans() {
    let d = "
        keywords:
            - 'mimikatz'
            - 4624
            - 'true'
        condition: keywords
    ";
    assert!(!hits(d, json!({"mimikatz": 1})), "keys are not values");
    assert!(
        !hits(d, json!({"EventID": 4624})),
        "numbers are not searched"
    );
    assert!(
        !hits(d, json!({"Elevated": true})),
        "booleans are not searched"
    );
    assert!(
        hits(d, json!({"msg": "logon 4624 ok"})),
        "a number keyword is text"
    );
}

#[test]
fn keyword_wildcards_stay_wildcards() {
    let d = "
        keywords:
            - 'sekurlsa::*pass'
        condition: keywords
    ";
    assert!(hits(
        d,
        json!({"cmd": "mimikatz sekurlsa::logonpasswords x"})
    ));
    assert!(!hits(d, json!({"cmd": "sekurlsa::tickets"})));
}

#[test]
fn keyword_all_map_requires_every_keyword_in_any_strings() {
    let d = "
        keywords_cmdlet:
            '|all':
                - 'OabVirtualDirectory'
                - ' -ExternalUrl '
        condition: keywords_cmdlet
    ";
    assert!(hits(
        d,
        json!({"cmd": "Set-OabVirtualDirectory -ExternalUrl http://x"})
    ));
    assert!(
        hits(
            d,
            json!({"a": "OabVirtualDirectory", "b": "x -externalurl y"})
        ),
        "different strings"
    );
    assert!(
        !hits(d, json!({"cmd": "Set-OabVirtualDirectory-ExternalUrl"})),
        "spaces are kept"
    );
}

#[test]
fn keyword_list_is_or() {
    let d = "
        mimikatz_keywords:
            - 'event::clear'
            - 'event::drop'
        condition: mimikatz_keywords
    ";
    assert!(hits(d, json!({"c": "EVENT::DROP"})));
    assert!(!hits(d, json!({"c": "event::list"})));
}

// ---------------------------------------------------------------------------------------
// Encodings and windash
// ---------------------------------------------------------------------------------------

fn b64(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

#[test]
fn base64_alone_is_the_exact_encoding() {
    let d = "selection:\n    EncodedArg|base64: 'cmd'";
    assert!(hits(d, json!({"EncodedArg": "Y21k"})));
    assert!(!hits(d, json!({"EncodedArg": "xY21k"})));
    assert!(!hits(d, json!({"EncodedArg": "cmd"})));
}

#[test]
fn base64_contains_finds_the_encoding_inside() {
    let d = "selection:\n    CommandLine|base64|contains: 'cmd'";
    assert!(hits(d, json!({"CommandLine": "echo Y21k | base64 -d"})));
    assert!(!hits(d, json!({"CommandLine": "echo cmd"})));
}

#[test]
fn base64offset_finds_the_value_at_every_byte_offset() {
    let d = "selection:\n    CommandLine|base64offset|contains: 'Invoke-'";
    for prefix in ["", "a", "ab", "abc"] {
        let blob = b64(format!("{prefix}Invoke-Expression").as_bytes());
        assert!(
            hits(d, json!({ "CommandLine": format!("-e {blob}") })),
            "offset {prefix:?}: {blob}"
        );
    }
    let miss = b64(b"Invoke Expression");
    assert!(!hits(d, json!({ "CommandLine": miss })));
}

#[test]
fn base64offset_known_fragments() {
    // Spec digest: cmd -> Y21k NtZ jbW; http -> aHR0c h0dH odHRw.
    let d = "selection:\n    c|base64offset|contains: 'http'";
    for frag in ["aHR0c", "h0dH", "odHRw"] {
        assert!(hits(d, json!({ "c": format!("..{frag}..") })), "{frag}");
    }
    assert!(!hits(d, json!({"c": "aHR0"})));
}

#[test]
fn wide_base64offset_finds_utf16le_text() {
    let d = "selection:\n    CommandLine|wide|base64offset|contains: 'cmd'";
    for prefix in ["", "/", "/c"] {
        let blob = b64(&utf16le(&format!("{prefix}cmd.exe /c whoami")));
        assert!(hits(d, json!({ "CommandLine": blob })), "prefix {prefix:?}");
    }
    // The same text in UTF-8 base64 is a near miss.
    assert!(!hits(
        d,
        json!({ "CommandLine": b64(b"cmd.exe /c whoami") })
    ));
}

#[test]
fn utf16_variants_give_their_byte_orders() {
    let le = "selection:\n    c|utf16le|base64|contains: 'cmd'";
    let be = "selection:\n    c|utf16be|base64|contains: 'cmd'";
    let bom = "selection:\n    c|utf16|base64|contains: 'cmd'";
    assert!(hits(le, json!({"c": "xYwBtAGQAx"})));
    assert!(!hits(le, json!({"c": "AGMAbQBk"})));
    assert!(hits(be, json!({"c": "AGMAbQBk"})));
    assert!(hits(bom, json!({"c": "//5jAG0AZAA="})));
    assert!(!hits(bom, json!({"c": "YwBtAGQA"})), "no byte-order mark");
}

#[test]
fn windash_takes_every_dash_form_at_flag_positions() {
    let d = "selection:\n    CommandLine|windash|contains: ' -enc '";
    for dash in ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"] {
        assert!(
            hits(
                d,
                json!({ "CommandLine": format!("powershell {dash}enc x") })
            ),
            "{dash}"
        );
    }
    assert!(!hits(d, json!({"CommandLine": "powershell +enc x"})));
    assert!(!hits(d, json!({"CommandLine": "powershell enc x"})));
}

#[test]
fn windash_keeps_inner_dashes() {
    let d = "selection:\n    CommandLine|windash|startswith: '-param-name'";
    assert!(hits(d, json!({"CommandLine": "/param-name x"})));
    assert!(hits(d, json!({"CommandLine": "\u{2014}param-name"})));
    assert!(
        !hits(d, json!({"CommandLine": "-param/name"})),
        "the inner dash is not a flag"
    );
}

#[test]
fn windash_expands_every_flag_position() {
    let d = "selection:\n    CommandLine|windash|contains: ' -a -b'";
    assert!(hits(d, json!({"CommandLine": "x /a \u{2013}b"})));
    assert!(hits(d, json!({"CommandLine": "x -a /b"})));
    assert!(!hits(d, json!({"CommandLine": "x -a b"})));
}

#[test]
fn windash_after_contains_still_sees_the_flag() {
    let d = "selection:\n    CommandLine|contains|windash: '-enc'";
    assert!(hits(d, json!({"CommandLine": "ps /enc x"})));
    assert!(hits(d, json!({"CommandLine": "ps -ENC x"})));
}

// ---------------------------------------------------------------------------------------
// Time parts
// ---------------------------------------------------------------------------------------

#[test]
fn time_parts_are_read_in_utc() {
    let h = "selection:\n    EventTime|hour: 3";
    assert!(hits(h, json!({"EventTime": "2024-01-01T03:15:00Z"})));
    assert!(
        hits(h, json!({"EventTime": "2024-01-01T05:15:00+02:00"})),
        "converted to UTC"
    );
    assert!(!hits(h, json!({"EventTime": "2024-01-01T04:00:00Z"})));
    assert!(
        hits(h, json!({"EventTime": "2024-01-01 03:00:00"})),
        "no zone means UTC"
    );
}

#[test]
fn time_parts_read_epoch_numbers() {
    // 1704078000 = 2024-01-01T03:00:00Z, in seconds and in milliseconds.
    let h = "selection:\n    EventTime|hour: 3";
    assert!(hits(h, json!({"EventTime": 1704078000})));
    assert!(hits(h, json!({"EventTime": 1704078000000_i64})));
    assert!(hits(h, json!({"EventTime": "1704078000"})));
}

#[test]
fn every_time_part() {
    let t = json!({"EventTime": "2024-12-31T23:59:00Z"});
    assert!(hits("selection:\n    EventTime|minute: 59", t.clone()));
    assert!(hits("selection:\n    EventTime|hour: 23", t.clone()));
    assert!(hits("selection:\n    EventTime|day: 31", t.clone()));
    assert!(hits("selection:\n    EventTime|month: 12", t.clone()));
    assert!(hits("selection:\n    EventTime|year: 2024", t.clone()));
    assert!(!hits("selection:\n    EventTime|day: 1", t.clone()));
    assert!(!hits("selection:\n    EventTime|year: 2025", t.clone()));
}

#[test]
fn week_is_the_iso_week() {
    let w = |n: i64, t: &str| {
        hits(
            &format!("selection:\n    EventTime|week: {n}"),
            json!({ "EventTime": t }),
        )
    };
    // 2024-12-31 is a Tuesday of ISO week 1 of 2025.
    assert!(w(1, "2024-12-31T12:00:00Z"));
    // 2027-01-01 is a Friday of ISO week 53 of 2026.
    assert!(w(53, "2027-01-01T00:00:00Z"));
    assert!(w(52, "2024-12-27T00:00:00Z"));
    assert!(!w(52, "2024-12-31T12:00:00Z"));
}

#[test]
fn time_part_with_a_comparison() {
    let d = "
        selection:
            EventTime|hour|gte: 22
            EventTime|minute|lt: 30
    ";
    assert!(hits(d, json!({"EventTime": "2024-01-01T22:29:59Z"})));
    assert!(hits(d, json!({"EventTime": "2024-01-01T23:00:00Z"})));
    assert!(!hits(d, json!({"EventTime": "2024-01-01T22:30:00Z"})));
    assert!(!hits(d, json!({"EventTime": "2024-01-01T21:10:00Z"})));
}

#[test]
fn time_parts_never_match_non_timestamps() {
    assert!(!hits(
        "selection:\n    EventTime|hour: 0",
        json!({"EventTime": "yesterday"})
    ));
    assert!(!hits("selection:\n    EventTime|hour: 0", json!({})));
}

// ---------------------------------------------------------------------------------------
// Conditions
// ---------------------------------------------------------------------------------------

#[test]
fn one_of_pattern_and_not() {
    let d = r"
        sel_img:
            Image|endswith: '\a.exe'
        sel_cli:
            CommandLine|contains: ' /c '
        filter_a_x:
            User: 'alice'
        other:
            User: 'bob'
        condition: 1 of sel* and 1 of f*_x and not other
    ";
    assert!(hits(d, json!({"Image": "C:\\a.exe", "User": "alice"})));
    assert!(hits(d, json!({"CommandLine": "cmd /c x", "User": "alice"})));
    assert!(!hits(d, json!({"Image": "C:\\a.exe", "User": "bob"})));
    assert!(!hits(d, json!({"Image": "C:\\b.exe", "User": "alice"})));
}

#[test]
fn them_skips_underscore_identifiers() {
    let d = r"
        selection_a:
            Image|endswith: '\a.exe'
        _helper:
            User: 'SYSTEM'
        condition: all of them
    ";
    assert!(hits(d, json!({"Image": "C:\\a.exe", "User": "alice"})));
}

// ---------------------------------------------------------------------------------------
// Field resolution
// ---------------------------------------------------------------------------------------

#[test]
fn dotted_path_reads_nested_objects() {
    let d = "selection:\n    userIdentity.arn|endswith: ':root'";
    assert!(hits(
        d,
        json!({"userIdentity": {"arn": "arn:aws:iam::1:root"}})
    ));
    assert!(!hits(d, json!({"userIdentity": {"type": "Root"}})));
}

#[test]
fn dotted_path_reads_a_key_that_holds_dots() {
    let d = "selection:\n    dns.question.name: 'sigmahq'";
    assert!(hits(d, json!({"dns.question.name": "sigmahq"})));
    assert!(hits(d, json!({"dns": {"question": {"name": "sigmahq"}}})));
    assert!(hits(d, json!({"dns": {"question.name": "sigmahq"}})));
    assert!(hits(d, json!({"dns.question": {"name": "SigmaHQ"}})));
    assert!(!hits(d, json!({"dns": {"name": "sigmahq"}})));
}

#[test]
fn literal_and_nested_readings_are_both_tried() {
    let d = "selection:\n    a.b: 1";
    assert!(hits(d, json!({"a.b": 2, "a": {"b": 1}})));
    assert!(hits(d, json!({"a.b": 1, "a": {"b": 2}})));
}

#[test]
fn arrays_match_when_any_element_matches() {
    let d = "selection:\n    tags: 'p'";
    assert!(hits(d, json!({"tags": ["q", "P"]})));
    assert!(!hits(d, json!({"tags": ["q", "r"]})));
    let nested = "selection:\n    r.n: 'y'";
    assert!(hits(nested, json!({"r": [{"n": "x"}, {"n": "y"}]})));
    let deep = "selection:\n    a.b.c: 3";
    assert!(hits(deep, json!({"a": [{"b": [{"c": 1}, {"c": 3}]}]})));
}

#[test]
fn negation_over_an_array_means_no_element_matches() {
    let d = "
        selection:
            k: x
        filter:
            tags: 'p'
        condition: selection and not filter
    ";
    assert!(!hits(d, json!({"k": "x", "tags": ["q", "p"]})));
    assert!(hits(d, json!({"k": "x", "tags": ["q", "r"]})));
}

#[test]
fn array_elements_are_tested_each_on_its_own() {
    // `all` needs every value, but each may hold in a different element.
    let d = "
        selection:
            tags|all:
                - 'p'
                - 'q'
    ";
    assert!(hits(d, json!({"tags": ["p", "q"]})));
    assert!(!hits(d, json!({"tags": ["p"]})));
}

#[test]
fn null_inside_an_array_counts_as_null() {
    let d = "selection:\n    v: null";
    assert!(hits(d, json!({"v": [null, "x"]})));
    assert!(!hits(d, json!({"v": ["x"]})));
}

#[test]
fn a_missing_intermediate_object_is_absent() {
    assert!(hits("selection:\n    a.b.c: null", json!({"a": {}})));
    assert!(hits(
        "selection:\n    a.b.c|exists: false",
        json!({"a": "text"})
    ));
}

// ---------------------------------------------------------------------------------------
// EVTX layout
// ---------------------------------------------------------------------------------------

fn evtx() -> Value {
    json!({"Event": {
        "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing", "Guid": "{54849625}"}},
            "EventID": {"#text": 4688, "#attributes": {"Qualifiers": ""}},
            "EventRecordID": 77,
            "Execution": {"#attributes": {"ProcessID": 4, "ThreadID": 8}},
            "Computer": "WS01",
            "TimeCreated": {"#attributes": {"SystemTime": "2024-05-01T10:00:00.123456Z"}}
        },
        "EventData": {
            "NewProcessName": "C:\\Windows\\System32\\whoami.exe",
            "CommandLine": "whoami /all",
            "SubjectUserName": "alice"
        }
    }})
}

#[test]
fn evtx_event_data_fields_resolve_by_their_name() {
    assert!(hits_win(
        r"selection:
    NewProcessName|endswith: '\whoami.exe'",
        evtx()
    ));
    assert!(hits_win("selection:\n    SubjectUserName: ALICE", evtx()));
}

#[test]
fn evtx_system_fields_resolve_and_text_is_unwrapped() {
    assert!(hits_win("selection:\n    EventID: 4688", evtx()));
    assert!(hits_win("selection:\n    Computer: ws01", evtx()));
    assert!(!hits_win("selection:\n    EventID: 4624", evtx()));
}

#[test]
fn evtx_system_attributes_use_element_underscore_attribute() {
    assert!(hits_win(
        "selection:\n    Provider_Name: 'Microsoft-Windows-Security-Auditing'",
        evtx()
    ));
    assert!(hits_win("selection:\n    Execution_ProcessID: 4", evtx()));
    assert!(!hits_win("selection:\n    Provider_Name: 'Other'", evtx()));
}

#[test]
fn evtx_full_paths_still_work() {
    assert!(hits_win(
        "selection:\n    Event.System.Computer: WS01",
        evtx()
    ));
    assert!(hits_win(
        "selection:\n    Event.EventData.CommandLine|contains: '/all'",
        evtx()
    ));
}

#[test]
fn evtx_user_data_fields_resolve() {
    let e = json!({"Event": {"System": {"EventID": 1102},
        "UserData": {"LogFileCleared": {"SubjectUserName": "bob"}}}});
    assert!(hits_win("selection:\n    SubjectUserName: bob", e));
}

#[test]
fn evtx_layout_applies_to_windows_rules_only() {
    assert!(!hits("selection:\n    EventID: 4688", evtx()));
    assert!(!hits("selection:\n    Provider_Name|exists: true", evtx()));
}

#[test]
fn flat_windows_events_still_match_windows_rules() {
    assert!(hits_win(
        "selection:\n    EventID: 4688",
        json!({"EventID": 4688})
    ));
}

#[test]
fn evtx_absent_field_is_absent() {
    assert!(hits_win("selection:\n    ParentImage: null", evtx()));
    assert!(hits_win(
        "selection:\n    ParentImage|exists: false",
        evtx()
    ));
}

#[test]
fn evtx_time_and_id_are_read_from_system() {
    let e = Event::new(evtx(), None, "f:1".into());
    assert_eq!(e.id, "77");
    assert_eq!(e.time, Some(base() + 123));
}

// ---------------------------------------------------------------------------------------
// Event time and ids
// ---------------------------------------------------------------------------------------

#[test]
fn event_time_from_the_first_known_field_that_parses() {
    let t = |v: Value| Event::new(v, None, "x".into()).time;
    assert_eq!(
        t(json!({"eventTime": "2024-05-01T10:00:00Z"})),
        Some(base())
    );
    assert_eq!(
        t(json!({"@timestamp": "2024-05-01T12:00:00+02:00"})),
        Some(base())
    );
    assert_eq!(
        t(json!({"TimeGenerated": "2024-05-01T10:00:00.5Z"})),
        Some(base() + 500)
    );
    assert_eq!(
        t(json!({"time": base() / 1000})),
        Some(base()),
        "epoch seconds"
    );
    assert_eq!(
        t(json!({"timestamp": base()})),
        Some(base()),
        "epoch milliseconds"
    );
    assert_eq!(
        t(json!({"UtcTime": "2024-05-01 10:00:00.000"})),
        Some(base()),
        "Sysmon form"
    );
    assert_eq!(
        t(json!({"time": "garbage", "timestamp": base()})),
        Some(base()),
        "first that parses"
    );
    assert_eq!(
        t(json!({"eventTime": "2024-05-01T10:00:00Z", "time": 0})),
        Some(base()),
        "list order"
    );
    assert_eq!(t(json!({"other": "2024-05-01T10:00:00Z"})), None);
}

#[test]
fn time_field_option_replaces_the_list() {
    let v = json!({"@timestamp": "2024-05-01T10:00:00Z", "seen": "2024-05-01T11:00:00Z"});
    assert_eq!(
        Event::new(v.clone(), Some("seen"), "x".into()).time,
        Some(base() + 3_600_000)
    );
    assert_eq!(Event::new(v, Some("missing"), "x".into()).time, None);
}

#[test]
fn event_id_from_the_source_or_the_fallback() {
    let id = |v: Value| Event::new(v, None, "file.ndjson:7".into()).id;
    assert_eq!(id(json!({"eventID": "6603a47b"})), "6603a47b");
    assert_eq!(id(json!({"EventRecordID": 12})), "12");
    assert_eq!(id(json!({"insertId": "abc", "id": "zzz"})), "abc");
    assert_eq!(id(json!({"msg": "x"})), "file.ndjson:7");
}

#[test]
fn match_alert_carries_the_event_and_its_time() {
    let a = run(
        &rule_text("test", "selection:\n    k: v"),
        vec![ev(0.0, json!({"k": "v"}))],
    );
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].count, 1);
    assert_eq!(a[0].events, vec!["e1"]);
    assert_eq!(a[0].time.as_deref(), Some("2024-05-01T10:00:00.000Z"));
    assert_eq!(a[0].matched.len(), 1);
    let untimed = run(
        &rule_text("test", "selection:\n    k: v"),
        vec![json!({"k": "v"})],
    );
    assert_eq!(untimed[0].time, None);
}

// ---------------------------------------------------------------------------------------
// Thresholds
// ---------------------------------------------------------------------------------------

const BASE_RULE: &str = "
    title: base
    name: base
    logsource: {product: test}
    detection:
        selection:
            action: fail
        condition: selection
";

fn with_base(correlation: &str) -> String {
    format!("{}\n---\n{}", dedent(BASE_RULE), dedent(correlation))
}

fn fail(s: f64, user: &str) -> Value {
    ev(s, json!({"action": "fail", "user": user}))
}

fn tumbling(cond: &str) -> String {
    with_base(&format!(
        "
        title: burst
        name: burst
        correlation:
            type: threshold
            rules: [base]
            group-by: [user]
            timespan: 10m
            window: tumbling
            condition: {cond}
        "
    ))
}

fn sliding(cond: &str) -> String {
    with_base(&format!(
        "
        title: burst
        name: burst
        correlation:
            type: threshold
            rules: [base]
            group-by: [user]
            timespan: 10m
            condition: {cond}
        "
    ))
}

#[test]
fn tumbling_windows_are_aligned_to_the_epoch() {
    // 10:09:59 and 10:10:00 are one second apart but in different 10-minute windows.
    let a = run(
        &tumbling("count() >= 2"),
        vec![fail(9.0 * MIN + 59.0, "u"), fail(10.0 * MIN, "u")],
    );
    assert!(a.is_empty(), "{a:?}");
    // 10:10:00 and 10:19:59.999 share the window [10:10, 10:20).
    let a = run(
        &tumbling("count() >= 2"),
        vec![fail(10.0 * MIN, "u"), fail(20.0 * MIN - 0.001, "u")],
    );
    assert_eq!(ids(&a), vec![vec!["e1", "e2"]]);
    assert_eq!(a[0].first_seen.as_deref(), Some("2024-05-01T10:10:00.000Z"));
    assert_eq!(a[0].last_seen.as_deref(), Some("2024-05-01T10:19:59.999Z"));
}

#[test]
fn tumbling_window_end_is_exclusive() {
    let a = run(
        &tumbling("count() >= 2"),
        vec![fail(0.0, "u"), fail(10.0 * MIN, "u")],
    );
    assert!(a.is_empty());
}

#[test]
fn tumbling_alerts_once_per_window_with_every_event_of_it() {
    let evs = (0..5).map(|i| fail(i as f64 * MIN, "u")).collect();
    let a = run(&tumbling("count() >= 2"), evs);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].count, 5);
}

#[test]
fn tumbling_alert_is_raised_when_the_window_closes() {
    let rules = lower(&tumbling("count() >= 2"));
    let (mut eng, _) = Engine::new(&rules);
    let mut feed = |v: Value, id: &str| eng.process(&Event::new(v, None, id.into()));
    assert!(feed(fail(0.0, "u"), "a").is_empty());
    assert!(feed(fail(1.0, "u"), "b").is_empty(), "window still open");
    // Any later event (of any group, matching or not) moves time past the window end.
    let closed = feed(ev(10.0 * MIN, json!({"action": "other"})), "c");
    assert_eq!(ids(&closed), vec![vec!["a", "b"]]);
    assert!(eng.flush().is_empty());
}

#[test]
fn tumbling_windows_are_per_group() {
    let a = run(
        &tumbling("count() >= 2"),
        vec![
            fail(0.0, "u"),
            fail(1.0, "v"),
            fail(2.0, "u"),
            fail(3.0, "w"),
        ],
    );
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].group.get("user").map(String::as_str), Some("u"));
}

#[test]
fn tumbling_late_event_for_a_closed_window_is_dropped() {
    let rules = lower(&tumbling("count() >= 1"));
    let (mut eng, _) = Engine::new(&rules);
    let mut out = Vec::new();
    out.extend(eng.process(&Event::new(fail(11.0 * MIN, "u"), None, "now".into())));
    // Late: belongs to [10:00, 10:10), which time has already passed for this group.
    out.extend(eng.process(&Event::new(fail(1.0 * MIN, "u"), None, "late".into())));
    out.extend(eng.flush());
    assert_eq!(ids(&out), vec![vec!["now"]]);
}

#[test]
fn tumbling_late_event_after_its_window_was_closed_is_dropped() {
    // The group's first window closed and was evicted before the late event came.
    let rules = lower(&tumbling("count() >= 1"));
    let (mut eng, _) = Engine::new(&rules);
    let mut out = Vec::new();
    out.extend(eng.process(&Event::new(fail(1.0 * MIN, "u"), None, "a".into())));
    out.extend(eng.process(&Event::new(
        ev(25.0 * MIN, json!({"x": 1})),
        None,
        "tick".into(),
    )));
    out.extend(eng.process(&Event::new(fail(2.0 * MIN, "u"), None, "late".into())));
    out.extend(eng.flush());
    assert_eq!(
        ids(&out),
        vec![vec!["a"]],
        "one alert for [10:00, 10:10), never a second"
    );
}

#[test]
fn sliding_window_includes_both_ends() {
    // Events at 0, 5m and exactly 10m: the span is 10m, within [t - 10m, t].
    let a = run(
        &sliding("count() >= 3"),
        vec![fail(0.0, "u"), fail(5.0 * MIN, "u"), fail(10.0 * MIN, "u")],
    );
    assert_eq!(ids(&a), vec![vec!["e1", "e2", "e3"]]);
    let a = run(
        &sliding("count() >= 3"),
        vec![
            fail(0.0, "u"),
            fail(5.0 * MIN, "u"),
            fail(10.0 * MIN + 0.001, "u"),
        ],
    );
    assert!(a.is_empty());
}

#[test]
fn sliding_window_alerts_at_the_first_event_that_satisfies_it() {
    let rules = lower(&sliding("count() >= 3"));
    let (mut eng, _) = Engine::new(&rules);
    let mut feed = |s: f64, id: &str| eng.process(&Event::new(fail(s, "u"), None, id.into()));
    assert!(feed(0.0, "a").is_empty());
    assert!(feed(10.0, "b").is_empty());
    let a = feed(20.0, "c");
    assert_eq!(ids(&a), vec![vec!["a", "b", "c"]]);
    assert_eq!(a[0].time.as_deref(), Some("2024-05-01T10:00:20.000Z"));
}

#[test]
fn sliding_window_never_counts_an_event_twice() {
    // After an alert the group's window is emptied: the 4th and 5th events do not alert
    // with the first three; the 6th completes a new set of three.
    let evs = (0..7).map(|i| fail(i as f64 * 10.0, "u")).collect();
    let a = run(&sliding("count() >= 3"), evs);
    assert_eq!(
        ids(&a),
        vec![vec!["e1", "e2", "e3"], vec!["e4", "e5", "e6"]]
    );
}

#[test]
fn sliding_window_drops_events_older_than_the_span() {
    let a = run(
        &sliding("count() >= 3"),
        vec![
            fail(0.0, "u"),
            fail(1.0 * MIN, "u"),
            fail(12.0 * MIN, "u"),
            fail(13.0 * MIN, "u"),
            fail(14.0 * MIN, "u"),
        ],
    );
    assert_eq!(ids(&a), vec![vec!["e3", "e4", "e5"]]);
}

#[test]
fn group_key_missing_means_the_event_does_not_count() {
    let a = run(
        &sliding("count() >= 2"),
        vec![
            ev(0.0, json!({"action": "fail"})),
            ev(1.0, json!({"action": "fail", "user": null})),
            fail(2.0, "u"),
        ],
    );
    assert!(a.is_empty(), "{a:?}");
}

#[test]
fn multi_valued_group_key_uses_the_first_value() {
    let a = run(
        &sliding("count() >= 2"),
        vec![
            ev(0.0, json!({"action": "fail", "user": ["u", "v"]})),
            fail(1.0, "u"),
        ],
    );
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].group["user"], "u");
}

#[test]
fn group_keys_are_compared_as_exact_text() {
    let a = run(
        &sliding("count() >= 2"),
        vec![fail(0.0, "Alice"), fail(1.0, "alice")],
    );
    assert!(a.is_empty(), "group values keep their case");
    let a = run(
        &sliding("count() >= 2"),
        vec![
            ev(0.0, json!({"action": "fail", "user": 7})),
            ev(1.0, json!({"action": "fail", "user": "7"})),
        ],
    );
    assert_eq!(a.len(), 1, "a number and its text are one group");
}

#[test]
fn distinct_counts_different_values() {
    let e = |s: f64, api: &str| ev(s, json!({"action": "fail", "user": "u", "api": api}));
    let a = run(
        &sliding("distinct(api) >= 3"),
        vec![e(0.0, "a"), e(1.0, "a"), e(2.0, "b"), e(3.0, "B")],
    );
    assert_eq!(
        a.len(),
        1,
        "distinct values are case-sensitive text: a, b, B"
    );
    assert_eq!(a[0].count, 4);
    let a = run(
        &sliding("distinct(api) >= 3"),
        vec![e(0.0, "a"), e(1.0, "a"), e(2.0, "b")],
    );
    assert!(a.is_empty());
}

#[test]
fn distinct_counts_every_value_of_an_array() {
    let a = run(
        &sliding("distinct(api) >= 3"),
        vec![ev(
            0.0,
            json!({"action": "fail", "user": "u", "api": ["a", "b", "c"]}),
        )],
    );
    assert_eq!(a.len(), 1);
}

#[test]
fn distinct_ignores_events_without_the_field() {
    let a = run(
        &sliding("distinct(api) >= 2"),
        vec![
            ev(0.0, json!({"action": "fail", "user": "u", "api": "a"})),
            fail(1.0, "u"),
            fail(2.0, "u"),
        ],
    );
    assert!(a.is_empty());
}

fn bytes(s: f64, n: Value) -> Value {
    ev(s, json!({"action": "fail", "user": "u", "bytes": n}))
}

#[test]
fn sum_adds_numbers_and_numeric_strings() {
    let a = run(
        &sliding("sum(bytes) > 100"),
        vec![bytes(0.0, json!(60)), bytes(1.0, json!("41"))],
    );
    assert_eq!(a.len(), 1);
    let a = run(
        &sliding("sum(bytes) > 100"),
        vec![bytes(0.0, json!(60)), bytes(1.0, json!("forty"))],
    );
    assert!(a.is_empty(), "non-numeric values are skipped");
}

#[test]
fn min_max_avg() {
    let evs = || {
        vec![
            bytes(0.0, json!(10)),
            bytes(1.0, json!(20)),
            bytes(2.0, json!(60)),
        ]
    };
    assert_eq!(
        run(&tumbling("min(bytes) == 10 and max(bytes) == 60"), evs()).len(),
        1
    );
    assert_eq!(run(&tumbling("avg(bytes) == 30"), evs()).len(), 1);
    assert_eq!(run(&tumbling("avg(bytes) > 30"), evs()).len(), 0);
}

#[test]
fn avg_ignores_events_without_a_number() {
    let a = run(
        &tumbling("avg(bytes) == 20"),
        vec![
            bytes(0.0, json!(10)),
            bytes(1.0, json!(30)),
            fail(2.0, "u"),
            bytes(3.0, json!("n/a")),
        ],
    );
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].count, 4, "count still counts every event");
}

#[test]
fn numeric_aggregate_over_no_number_makes_its_comparison_false() {
    let evs = || vec![fail(0.0, "u"), fail(1.0, "u")];
    assert!(run(&tumbling("avg(bytes) < 1"), evs()).is_empty());
    assert!(run(&tumbling("sum(bytes) == 0"), evs()).is_empty());
    // ... and `not` of that false comparison is true.
    assert_eq!(run(&tumbling("not sum(bytes) > 5"), evs()).len(), 1);
}

#[test]
fn percentile_is_the_nearest_rank() {
    // Values 1..=10: p50 is the 5th value, p95 the 10th, p10 the 1st, p11 the 2nd.
    let evs = || {
        (1..=10)
            .map(|i| bytes(i as f64, json!(i)))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(&tumbling("percentile(bytes, 50) == 5"), evs()).len(), 1);
    assert_eq!(
        run(&tumbling("percentile(bytes, 95) == 10"), evs()).len(),
        1
    );
    assert_eq!(run(&tumbling("percentile(bytes, 10) == 1"), evs()).len(), 1);
    assert_eq!(run(&tumbling("percentile(bytes, 11) == 2"), evs()).len(), 1);
    assert_eq!(run(&tumbling("percentile(bytes, 0) == 1"), evs()).len(), 1);
    assert_eq!(
        run(&tumbling("percentile(bytes, 100) == 10"), evs()).len(),
        1
    );
}

#[test]
fn compound_conditions() {
    let e = |s: f64, api: &str| ev(s, json!({"action": "fail", "user": "u", "api": api}));
    let cond = "count() >= 4 or distinct(api) >= 3";
    assert_eq!(
        run(&tumbling(cond), vec![e(0.0, "a"), e(1.0, "b"), e(2.0, "c")]).len(),
        1
    );
    assert_eq!(
        run(
            &tumbling(cond),
            vec![e(0.0, "a"), e(1.0, "a"), e(2.0, "a"), e(3.0, "a")]
        )
        .len(),
        1
    );
    assert!(run(&tumbling(cond), vec![e(0.0, "a"), e(1.0, "a"), e(2.0, "b")]).is_empty());
    let and = "count() >= 2 and not distinct(api) > 1";
    assert_eq!(run(&tumbling(and), vec![e(0.0, "a"), e(1.0, "a")]).len(), 1);
    assert!(run(&tumbling(and), vec![e(0.0, "a"), e(1.0, "b")]).is_empty());
}

fn scored(n: usize) -> Vec<Alert> {
    let yaml = with_base(
        "
        title: burst
        name: burst
        correlation:
            type: threshold
            rules: [base]
            group-by: [user]
            timespan: 10m
            window: tumbling
            condition: count() >= 2
            score:
                - {when: 'count() >= 5', value: 90}
                - {when: 'count() >= 3', value: 60}
                - {value: 30}
            fields: [user, count(), score()]
        ",
    );
    run(&yaml, (0..n).map(|i| fail(i as f64, "u")).collect())
}

#[test]
fn score_is_the_first_case_that_holds() {
    assert_eq!(scored(2)[0].score, Some(30));
    assert_eq!(scored(3)[0].score, Some(60));
    assert_eq!(scored(4)[0].score, Some(60));
    assert_eq!(scored(6)[0].score, Some(90));
    assert_eq!(scored(6)[0].outputs["score"], json!(90));
    assert_eq!(scored(6)[0].outputs["count"], json!(6));
    assert_eq!(scored(6)[0].outputs["user"], json!("u"));
}

#[test]
fn score_without_a_matching_case_is_absent() {
    let yaml = with_base(
        "
        title: burst
        name: burst
        correlation:
            type: threshold
            rules: [base]
            group-by: [user]
            timespan: 10m
            condition: count() >= 2
            score:
                - {when: 'count() >= 5', value: 90}
        ",
    );
    let a = run(&yaml, vec![fail(0.0, "u"), fail(1.0, "u")]);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].score, None);
}

#[test]
fn alert_lists_at_most_100_ids_but_counts_all() {
    let a = run(
        &tumbling("count() >= 1"),
        (0..150).map(|i| fail(i as f64, "u")).collect(),
    );
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].count, 150);
    assert_eq!(a[0].events.len(), 100);
    assert_eq!(a[0].events[0], "e1");
}

#[test]
fn values_and_distinct_outputs() {
    let yaml = with_base(
        "
        title: burst
        name: burst
        correlation:
            type: threshold
            rules: [base]
            group-by: [user]
            timespan: 10m
            window: tumbling
            condition: count() >= 2
            fields: [values(api), distinct(api), first_seen(), last_seen()]
        ",
    );
    let e = |s: f64, api: &str| ev(s, json!({"action": "fail", "user": "u", "api": api}));
    let a = run(&yaml, vec![e(0.0, "b"), e(1.0, "a"), e(2.0, "b")]);
    assert_eq!(a[0].outputs["values(api)"], json!(["a", "b"]));
    assert_eq!(a[0].outputs["distinct(api)"], json!(2));
    assert_eq!(
        a[0].outputs["first_seen"],
        json!("2024-05-01T10:00:00.000Z")
    );
    assert_eq!(a[0].outputs["last_seen"], json!("2024-05-01T10:00:02.000Z"));
}

#[test]
fn sigma1_count_field_counts_distinct_values() {
    let yaml = "
        title: Port scan
        name: port_scan
        logsource: {category: firewall}
        detection:
            selection:
                action: deny
            timeframe: 24h
            condition: selection | count(dst_port) by src_ip > 2
    ";
    let e = |s: f64, port: i64| {
        ev(
            s,
            json!({"action": "deny", "src_ip": "1.2.3.4", "dst_port": port}),
        )
    };
    assert!(run(yaml, vec![e(0.0, 22), e(1.0, 22), e(2.0, 80), e(3.0, 80)]).is_empty());
    assert_eq!(run(yaml, vec![e(0.0, 22), e(1.0, 23), e(2.0, 80)]).len(), 1);
}

// ---------------------------------------------------------------------------------------
// Sigma correlations
// ---------------------------------------------------------------------------------------

#[test]
fn event_count_is_a_sliding_window() {
    let yaml = with_base(
        "
        title: c
        name: c
        correlation:
            type: event_count
            rules: [base]
            group-by: [user]
            timespan: 10m
            condition: {gte: 3}
        ",
    );
    // 10:08, 10:12, 10:17 straddle a 10-minute edge but fit one sliding span.
    let a = run(
        &yaml,
        vec![
            fail(8.0 * MIN, "u"),
            fail(12.0 * MIN, "u"),
            fail(17.0 * MIN, "u"),
        ],
    );
    assert_eq!(a.len(), 1);
}

#[test]
fn event_count_range_condition() {
    let yaml = with_base(
        "
        title: c
        name: c
        correlation:
            type: event_count
            rules: [base]
            group-by: [user]
            timespan: 10m
            condition: {gt: 1, lte: 2}
        ",
    );
    assert_eq!(run(&yaml, vec![fail(0.0, "u"), fail(1.0, "u")]).len(), 1);
    assert!(run(&yaml, vec![fail(0.0, "u")]).is_empty());
}

#[test]
fn value_count_counts_distinct_values() {
    let yaml = with_base(
        "
        title: c
        name: c
        correlation:
            type: value_count
            rules: [base]
            group-by: [ip]
            timespan: 1h
            condition: {field: user, gte: 3}
        ",
    );
    let e = |s: f64, u: &str| ev(s, json!({"action": "fail", "ip": "1.1.1.1", "user": u}));
    assert!(
        run(
            &yaml,
            vec![e(0.0, "a"), e(1.0, "a"), e(2.0, "b"), e(3.0, "b")]
        )
        .is_empty()
    );
    assert_eq!(
        run(&yaml, vec![e(0.0, "a"), e(1.0, "b"), e(2.0, "c")]).len(),
        1
    );
}

#[test]
fn value_sum_and_value_avg() {
    let sum = with_base(
        "
        title: c
        name: c
        correlation:
            type: value_sum
            rules: [base]
            group-by: [user]
            timespan: 1h
            condition: {field: bytes, gt: 100}
        ",
    );
    assert_eq!(
        run(&sum, vec![bytes(0.0, json!(50)), bytes(1.0, json!(51))]).len(),
        1
    );
    assert!(run(&sum, vec![bytes(0.0, json!(50)), bytes(1.0, json!(50))]).is_empty());
    let avg = with_base(
        "
        title: c
        name: c
        correlation:
            type: value_avg
            rules: [base]
            group-by: [user]
            timespan: 1h
            condition: {field: bytes, gt: 500}
        ",
    );
    // Sliding: alerts as soon as the average of the window so far exceeds 500 (550 after
    // e2); the window is then emptied, so e3 alone (2000) is a new window that holds.
    let a = run(
        &avg,
        vec![
            bytes(0.0, json!(100)),
            bytes(1.0, json!(1000)),
            bytes(2.0, json!(2000)),
        ],
    );
    assert_eq!(ids(&a), vec![vec!["e1", "e2"], vec!["e3"]]);
}

#[test]
fn value_percentile_defaults_to_the_median() {
    let yaml = with_base(
        "
        title: c
        name: c
        correlation:
            type: value_percentile
            rules: [base]
            group-by: [user]
            timespan: 1h
            condition: {field: bytes, gte: 20}
        ",
    );
    // Sliding: after 10, 20 the median (nearest rank) is 10; after 10, 20, 30 it is 20.
    let a = run(
        &yaml,
        vec![
            bytes(0.0, json!(10)),
            bytes(1.0, json!(20)),
            bytes(2.0, json!(30)),
        ],
    );
    assert_eq!(ids(&a), vec![vec!["e1", "e2", "e3"]]);
}

const TEMPORAL_RULES: &str = r"
title: A
name: rule_a
logsource: {product: test}
detection:
    selection:
        kind: a
    condition: selection
---
title: B
name: rule_b
logsource: {product: test}
detection:
    selection:
        kind: b
    condition: selection
";

fn temporal(kind: &str) -> String {
    format!(
        "{TEMPORAL_RULES}---\ntitle: t\nname: t\ncorrelation:\n    type: {kind}\n    rules: [rule_a, rule_b]\n    group-by: [host]\n    timespan: 2m\n"
    )
}

fn k(s: f64, kind: &str, host: &str) -> Value {
    ev(s, json!({"kind": kind, "host": host}))
}

#[test]
fn temporal_needs_every_rule_in_any_order() {
    let y = temporal("temporal");
    assert_eq!(run(&y, vec![k(0.0, "b", "h"), k(30.0, "a", "h")]).len(), 1);
    assert_eq!(run(&y, vec![k(0.0, "a", "h"), k(30.0, "b", "h")]).len(), 1);
    assert!(run(&y, vec![k(0.0, "a", "h"), k(30.0, "a", "h")]).is_empty());
    assert!(run(&y, vec![k(0.0, "a", "h"), k(30.0, "b", "other")]).is_empty());
}

#[test]
fn temporal_span_is_inclusive() {
    let y = temporal("temporal");
    assert_eq!(run(&y, vec![k(0.0, "a", "h"), k(120.0, "b", "h")]).len(), 1);
    assert!(run(&y, vec![k(0.0, "a", "h"), k(120.001, "b", "h")]).is_empty());
}

#[test]
fn temporal_alert_carries_every_occurrence_in_the_span_then_resets() {
    let y = temporal("temporal");
    let a = run(
        &y,
        vec![
            k(0.0, "a", "h"),
            k(10.0, "a", "h"),
            k(20.0, "b", "h"),
            k(30.0, "b", "h"),
        ],
    );
    assert_eq!(ids(&a), vec![vec!["e1", "e2", "e3"]]);
}

#[test]
fn temporal_ordered_needs_the_order() {
    let y = temporal("temporal_ordered");
    assert_eq!(run(&y, vec![k(0.0, "a", "h"), k(30.0, "b", "h")]).len(), 1);
    assert!(run(&y, vec![k(0.0, "b", "h"), k(30.0, "a", "h")]).is_empty());
    assert!(run(&y, vec![k(0.0, "a", "h"), k(121.0, "b", "h")]).is_empty());
}

#[test]
fn rules_feeding_a_correlation_are_silent_unless_generate() {
    let y = temporal("temporal");
    let a = run(&y, vec![k(0.0, "a", "h"), k(30.0, "b", "h")]);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].rule.name.as_deref(), Some("t"));
    let g = format!("{}generate: true\n", temporal("temporal"));
    let a = run(&g, vec![k(0.0, "a", "h"), k(30.0, "b", "h")]);
    let names: Vec<_> = a.iter().map(|x| x.rule.name.clone().unwrap()).collect();
    assert_eq!(names, vec!["rule_a", "rule_b", "t"]);
}

#[test]
fn a_rule_feeding_no_correlation_alerts_on_its_own() {
    let y = format!(
        "{TEMPORAL_RULES}---\ntitle: C\nname: rule_c\nlogsource: {{product: test}}\ndetection:\n    selection:\n        kind: c\n    condition: selection\n"
    );
    assert_eq!(run(&y, vec![k(0.0, "c", "h")]).len(), 1);
}

#[test]
fn aliases_join_sources_with_different_field_names() {
    let y = "
        title: Internal server error
        name: internal_error
        logsource: {category: webserver}
        detection:
            selection:
                http.response.status_code: 500
            condition: selection
        ---
        title: New network connection
        name: new_network_connection
        logsource: {category: network}
        detection:
            selection:
                event.category: network
            condition: selection
        ---
        title: joined
        name: joined
        correlation:
            type: temporal
            rules: [internal_error, new_network_connection]
            group-by: [internal_ip, remote_ip]
            timespan: 10s
            aliases:
                internal_ip:
                    internal_error: destination.ip
                    new_network_connection: source.ip
                remote_ip:
                    internal_error: source.ip
                    new_network_connection: destination.ip
    ";
    let err = ev(
        0.0,
        json!({"http": {"response": {"status_code": 500}}, "source": {"ip": "9.9.9.9"}, "destination": {"ip": "10.0.0.5"}}),
    );
    let conn = ev(
        5.0,
        json!({"event": {"category": "network"}, "source": {"ip": "10.0.0.5"}, "destination": {"ip": "9.9.9.9"}}),
    );
    let a = run(y, vec![err.clone(), conn]);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].group["internal_ip"], "10.0.0.5");
    assert_eq!(a[0].group["remote_ip"], "9.9.9.9");
    // Same addresses in the same roles (not swapped) do not join.
    let same = ev(
        5.0,
        json!({"event": {"category": "network"}, "source": {"ip": "9.9.9.9"}, "destination": {"ip": "10.0.0.5"}}),
    );
    assert!(run(y, vec![err, same]).is_empty());
}

// ---------------------------------------------------------------------------------------
// Multi-source thresholds
// ---------------------------------------------------------------------------------------

const MULTI: &str = r"
title: Okta sign-in
name: okta_signin
logsource: {product: okta, service: okta}
detection:
    selection:
        eventType: user.session.start
    condition: selection
---
title: Entra sign-in
name: entra_signin
logsource: {product: azure, service: signinlogs}
detection:
    selection:
        ResultType: 0
    condition: selection
---
title: Sign-ins from many places
name: many_places
correlation:
    type: threshold
    rules: [okta_signin, entra_signin]
    aliases:
        user: {okta_signin: actor.alternateId, entra_signin: UserPrincipalName}
        ip: {okta_signin: client.ipAddress, entra_signin: IPAddress}
        app: {okta_signin: target.displayName}
    group-by: [user]
    timespan: 1h
    window: tumbling
    condition: distinct(ip) >= 3
    fields: [user, values(ip), values(app), count()]
";

fn okta(s: f64, user: &str, ip: &str) -> Value {
    ev(
        s,
        json!({"eventType": "user.session.start", "actor": {"alternateId": user}, "client": {"ipAddress": ip}, "target": {"displayName": "Slack"}}),
    )
}

fn entra(s: f64, user: &str, ip: &str) -> Value {
    ev(
        s,
        json!({"ResultType": 0, "UserPrincipalName": user, "IPAddress": ip}),
    )
}

#[test]
fn multi_source_counts_both_sources_per_alias() {
    let a = run(
        MULTI,
        vec![
            okta(0.0, "bob@x", "1.1.1.1"),
            entra(1.0, "bob@x", "2.2.2.2"),
            okta(2.0, "bob@x", "3.3.3.3"),
        ],
    );
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].group["user"], "bob@x");
    assert_eq!(
        a[0].outputs["values(ip)"],
        json!(["1.1.1.1", "2.2.2.2", "3.3.3.3"])
    );
    assert_eq!(
        a[0].outputs["values(app)"],
        json!(["Slack"]),
        "entra has no app"
    );
    assert_eq!(a[0].count, 3);
}

#[test]
fn multi_source_reads_each_source_with_its_own_fields() {
    // An Okta-shaped event's fields mean nothing to the Entra input, and the reverse.
    let mixed = ev(
        1.0,
        json!({"ResultType": 0, "actor": {"alternateId": "bob@x"}, "IPAddress": "2.2.2.2"}),
    );
    let a = run(
        MULTI,
        vec![
            okta(0.0, "bob@x", "1.1.1.1"),
            mixed,
            okta(2.0, "bob@x", "3.3.3.3"),
        ],
    );
    assert!(a.is_empty(), "{a:?}");
}

// ---------------------------------------------------------------------------------------
// Sequences
// ---------------------------------------------------------------------------------------

const SEQ_RULES: &str = r"
title: Login failed
name: failed
logsource: {product: test}
detection:
    selection:
        kind: fail
    condition: selection
---
title: Login ok
name: ok
logsource: {product: test}
detection:
    selection:
        kind: ok
    condition: selection
---
title: Logout
name: logout
logsource: {product: test}
detection:
    selection:
        kind: logout
    condition: selection
";

fn seq(body: &str) -> String {
    format!(
        "{SEQ_RULES}---\ntitle: s\nname: s\ncorrelation:\n    type: sequence\n    group-by: [user]\n{}",
        {
            let mut s = String::new();
            for l in dedent(body).lines() {
                s.push_str("    ");
                s.push_str(l);
                s.push('\n');
            }
            s
        }
    )
}

fn u(s: f64, kind: &str) -> Value {
    ev(s, json!({"kind": kind, "user": "u"}))
}

#[test]
fn sequence_needs_its_steps_in_order() {
    let y = seq("
        timespan: 10m
        steps:
            - rule: failed
            - rule: ok
    ");
    assert_eq!(
        ids(&run(&y, vec![u(0.0, "fail"), u(1.0, "ok")])),
        vec![vec!["e1", "e2"]]
    );
    assert!(run(&y, vec![u(0.0, "ok"), u(1.0, "fail")]).is_empty());
}

#[test]
fn sequence_steps_may_share_a_timestamp() {
    let y = seq("
        timespan: 10m
        steps:
            - rule: failed
            - rule: ok
    ");
    assert_eq!(run(&y, vec![u(0.0, "fail"), u(0.0, "ok")]).len(), 1);
}

#[test]
fn sequence_maxspan_is_measured_from_the_first_event_and_inclusive() {
    let y = seq("
        timespan: 10m
        steps:
            - rule: failed
            - rule: ok
            - rule: logout
    ");
    assert_eq!(
        run(
            &y,
            vec![u(0.0, "fail"), u(5.0 * MIN, "ok"), u(10.0 * MIN, "logout")]
        )
        .len(),
        1
    );
    assert!(
        run(
            &y,
            vec![
                u(0.0, "fail"),
                u(9.0 * MIN, "ok"),
                u(10.0 * MIN + 1.0, "logout")
            ]
        )
        .is_empty()
    );
}

#[test]
fn sequence_new_first_event_replaces_the_pending_partial() {
    let y = seq("
        timespan: 10m
        steps:
            - rule: failed
            - rule: ok
    ");
    let a = run(
        &y,
        vec![u(0.0, "fail"), u(1.0, "fail"), u(2.0, "ok"), u(3.0, "ok")],
    );
    assert_eq!(ids(&a), vec![vec!["e2", "e3"]]);
    assert_eq!(a[0].first_seen.as_deref(), Some("2024-05-01T10:00:01.000Z"));
}

#[test]
fn sequence_replacement_restarts_the_maxspan() {
    let y = seq("
        timespan: 10m
        steps:
            - rule: failed
            - rule: ok
    ");
    // The first failure is too old for the success, the second is not.
    let a = run(
        &y,
        vec![u(0.0, "fail"), u(8.0 * MIN, "fail"), u(12.0 * MIN, "ok")],
    );
    assert_eq!(ids(&a), vec![vec!["e2", "e3"]]);
}

#[test]
fn sequence_one_event_advances_one_partial_one_stage() {
    let y = seq("
        timespan: 10m
        steps:
            - rule: failed
            - rule: ok
            - rule: logout
    ");
    // fail1, ok1 make a stage-2 partial; fail2 starts a new stage-1 partial; logout
    // completes the first one only.
    let a = run(
        &y,
        vec![
            u(0.0, "fail"),
            u(1.0, "ok"),
            u(2.0, "fail"),
            u(3.0, "logout"),
        ],
    );
    assert_eq!(ids(&a), vec![vec!["e1", "e2", "e4"]]);
}

#[test]
fn sequence_overlapping_pairs_give_one_alert_each() {
    let y = seq("
        timespan: 10m
        steps:
            - rule: failed
            - rule: ok
    ");
    let a = run(
        &y,
        vec![u(0.0, "fail"), u(1.0, "ok"), u(2.0, "fail"), u(3.0, "ok")],
    );
    assert_eq!(ids(&a), vec![vec!["e1", "e2"], vec!["e3", "e4"]]);
}

#[test]
fn sequence_keys_are_separate() {
    let y = seq("
        timespan: 10m
        steps:
            - rule: failed
            - rule: ok
    ");
    let a = run(
        &y,
        vec![
            ev(0.0, json!({"kind": "fail", "user": "a"})),
            ev(1.0, json!({"kind": "ok", "user": "b"})),
        ],
    );
    assert!(a.is_empty());
    let a = run(
        &y,
        vec![
            ev(0.0, json!({"kind": "fail"})),
            ev(1.0, json!({"kind": "ok"})),
        ],
    );
    assert!(a.is_empty(), "a missing key joins nothing");
}

#[test]
fn sequence_runs_repeat_a_step() {
    let y = seq("
        timespan: 10m
        steps:
            - rule: failed
              runs: 3
            - rule: ok
    ");
    assert!(run(&y, vec![u(0.0, "fail"), u(1.0, "fail"), u(2.0, "ok")]).is_empty());
    let a = run(
        &y,
        vec![u(0.0, "fail"), u(1.0, "fail"), u(2.0, "fail"), u(3.0, "ok")],
    );
    assert_eq!(ids(&a), vec![vec!["e1", "e2", "e3", "e4"]]);
    assert_eq!(a[0].count, 4);
}

#[test]
fn sequence_runs_use_the_latest_events_of_a_longer_run() {
    let y = seq("
        timespan: 10m
        steps:
            - rule: failed
              runs: 2
            - rule: ok
    ");
    let a = run(
        &y,
        vec![u(0.0, "fail"), u(1.0, "fail"), u(2.0, "fail"), u(3.0, "ok")],
    );
    assert_eq!(ids(&a), vec![vec!["e2", "e3", "e4"]]);
}

#[test]
fn one_step_sequence_with_runs_consumes_its_events() {
    let y = seq("
        timespan: 10m
        steps:
            - rule: failed
              runs: 3
    ");
    let a = run(&y, (0..7).map(|i| u(i as f64, "fail")).collect());
    // A completed sequence clears the key's partials, so no event counts twice: seven
    // matches give two runs of three, and the seventh waits for two more.
    assert_eq!(
        ids(&a),
        vec![vec!["e1", "e2", "e3"], vec!["e4", "e5", "e6"]]
    );
}

#[test]
fn sequence_until_cancels_the_partials_of_its_key() {
    let y = seq("
        timespan: 10m
        steps:
            - rule: failed
            - rule: ok
        until:
            rule: logout
    ");
    assert!(run(&y, vec![u(0.0, "fail"), u(1.0, "logout"), u(2.0, "ok")]).is_empty());
    assert_eq!(
        run(&y, vec![u(0.0, "logout"), u(1.0, "fail"), u(2.0, "ok")]).len(),
        1
    );
    let other = ev(1.0, json!({"kind": "logout", "user": "someone else"}));
    assert_eq!(run(&y, vec![u(0.0, "fail"), other, u(2.0, "ok")]).len(), 1);
}

#[test]
fn sequence_threshold_step_contributes_at_its_last_seen_time() {
    let y = format!(
        "{SEQ_RULES}---
title: burst
name: burst
correlation:
    type: threshold
    rules: [ok]
    group-by: [user]
    timespan: 5m
    condition: count() >= 2
---
title: s
name: s
correlation:
    type: sequence
    group-by: [user]
    timespan: 30m
    steps:
        - rule: failed
          runs: 2
        - rule: burst
"
    );
    let a = run(
        &y,
        vec![u(0.0, "fail"), u(1.0, "fail"), u(2.0, "ok"), u(3.0, "ok")],
    );
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].count, 4);
    assert_eq!(a[0].events, vec!["e1", "e2", "e3", "e4"]);
    assert_eq!(a[0].last_seen.as_deref(), Some("2024-05-01T10:00:03.000Z"));
    // A burst before the failures does not complete the sequence.
    assert!(
        run(
            &y,
            vec![u(0.0, "ok"), u(1.0, "ok"), u(2.0, "fail"), u(3.0, "fail")]
        )
        .is_empty()
    );
}

#[test]
fn inline_step_sequence() {
    let y = "
        title: bulk
        name: bulk
        correlation:
            type: sequence
            group-by: [caller]
            timespan: 10m
            steps:
                - name: list_read
                  runs: 2
                  logsource: {product: azure}
                  detection:
                      selection:
                          operationName|endswith: '/READ'
                      condition: selection
    ";
    let e = |s: f64, op: &str| ev(s, json!({"caller": "c", "operationName": op}));
    assert_eq!(run(y, vec![e(0.0, "X/READ"), e(1.0, "Y/read")]).len(), 1);
    assert!(run(y, vec![e(0.0, "X/READ"), e(1.0, "Y/WRITE")]).is_empty());
}

// ---------------------------------------------------------------------------------------
// Case folding and integers (fixed in the evaluator; see /tmp/eval-bugs.md)
// ---------------------------------------------------------------------------------------

#[test]
fn case_folding_is_per_character_and_context_free() {
    // `str::to_lowercase` turns a word-final Σ into ς, so a folded literal differed from
    // the same letters inside a longer value.
    assert!(hits(
        "selection:\n    Name|startswith: 'ΟΔΟΣ'",
        json!({"Name": "ΟΔΟΣΑ"})
    ));
    assert!(hits(
        "selection:\n    Name|contains: 'Σ'",
        json!({"Name": "ΑΣ"})
    ));
    assert!(hits(
        "selection:\n    Name: 'οδοσ'",
        json!({"Name": "ΟΔΟΣ"})
    ));
    // İ lower-cases to two characters; `?` must still see one.
    assert!(hits("selection:\n    Name: 'a?b'", json!({"Name": "aİb"})));
    assert!(hits("selection:\n    Name: 'aib'", json!({"Name": "aİb"})));
}

#[test]
fn integer_equality_is_exact_beyond_float_precision() {
    // 2^53 + 1 and 2^53 are one f64; as integers they differ.
    let d = "selection:\n    Id: 9007199254740993";
    assert!(hits(d, json!({"Id": 9007199254740993_i64})));
    assert!(hits(d, json!({"Id": "9007199254740993"})));
    assert!(!hits(d, json!({"Id": 9007199254740992_i64})));
    assert!(!hits(d, json!({"Id": "9007199254740992"})));
}

// ---------------------------------------------------------------------------------------
// More joins
// ---------------------------------------------------------------------------------------

#[test]
fn alias_not_listed_for_an_input_means_its_events_never_count() {
    let y = MULTI
        .replace("group-by: [user]", "group-by: [app]")
        .replace("condition: distinct(ip) >= 3", "condition: count() >= 2");
    // The Entra input has no `app`: its events join no group.
    assert!(
        run(
            &y,
            vec![
                okta(0.0, "bob@x", "1.1.1.1"),
                entra(1.0, "bob@x", "2.2.2.2")
            ]
        )
        .is_empty()
    );
    assert_eq!(
        run(
            &y,
            vec![okta(0.0, "bob@x", "1.1.1.1"), okta(1.0, "eve@x", "2.2.2.2")]
        )
        .len(),
        1
    );
}

#[test]
fn evtx_fields_serve_as_group_keys() {
    let y = "
        title: failed
        name: failed
        logsource: {product: windows, service: security}
        detection:
            selection:
                EventID: 4625
            condition: selection
        ---
        title: c
        name: c
        correlation:
            type: event_count
            rules: [failed]
            group-by: [TargetUserName]
            timespan: 10m
            condition: {gte: 2}
    ";
    let e = |s: f64, user: &str| {
        json!({"Event": {"System": {"EventID": 4625, "TimeCreated": {"#attributes": {"SystemTime": at(s)}}},
            "EventData": {"TargetUserName": user}}})
    };
    let a = run(y, vec![e(0.0, "bob"), e(1.0, "alice"), e(2.0, "bob")]);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].group["TargetUserName"], "bob");
}

#[test]
fn one_event_may_fill_every_input_of_a_temporal_correlation() {
    // Both rules match the one event, so both occurred within the span (docs/semantics.md);
    // the alert lists the event once per input.
    let y = "
        title: A
        name: rule_a
        logsource: {product: test}
        detection:
            selection:
                kind|startswith: a
            condition: selection
        ---
        title: B
        name: rule_b
        logsource: {product: test}
        detection:
            selection:
                kind|endswith: b
            condition: selection
        ---
        title: t
        name: t
        correlation:
            type: temporal
            rules: [rule_a, rule_b]
            group-by: [host]
            timespan: 2m
    ";
    let a = run(y, vec![k(0.0, "ab", "h")]);
    assert_eq!(ids(&a), vec![vec!["e1", "e1"]]);
}

#[test]
fn one_event_does_not_fill_two_sequence_steps() {
    // A sequence orders distinct events (EQL: each stage's event comes strictly after the
    // previous stage's); an event matching both rules is step 1 or step 2, not both.
    let y = "
        title: A
        name: rule_a
        logsource: {product: test}
        detection:
            selection:
                kind|startswith: a
            condition: selection
        ---
        title: B
        name: rule_b
        logsource: {product: test}
        detection:
            selection:
                kind|endswith: b
            condition: selection
        ---
        title: t
        name: t
        correlation:
            type: temporal_ordered
            rules: [rule_a, rule_b]
            group-by: [host]
            timespan: 2m
    ";
    assert!(run(y, vec![k(0.0, "ab", "h")]).is_empty());
    assert_eq!(
        ids(&run(y, vec![k(0.0, "ab", "h"), k(1.0, "xb", "h")])),
        vec![vec!["e1", "e2"]]
    );
}

#[test]
fn threshold_over_a_threshold_counts_the_underlying_events() {
    let y = with_base(
        "
        title: inner
        name: inner
        correlation:
            type: threshold
            rules: [base]
            group-by: [user]
            timespan: 10m
            window: tumbling
            condition: count() >= 2
        ---
        title: outer
        name: outer
        correlation:
            type: threshold
            rules: [inner]
            group-by: [user]
            timespan: 1h
            window: tumbling
            condition: count() >= 4
        ",
    );
    // One inner alert of 2 events in [10:00, 10:10) and one of 2 in [10:10, 10:20): the
    // outer count is 4 (events), not 2 (inner alerts).
    let a = run(
        &y,
        vec![
            fail(0.0, "u"),
            fail(1.0, "u"),
            fail(11.0 * MIN, "u"),
            fail(12.0 * MIN, "u"),
        ],
    );
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].rule.name.as_deref(), Some("outer"));
    assert_eq!(a[0].count, 4);
}

#[test]
fn element_scopes_key_and_value_to_one_array_element() {
    let y = "title: t\nlogsource: {product: azure}\ndetection:\n    selection:\n        details|element:\n            key: ua\n            value|contains: python\n    condition: selection\n";
    let (file, d) = sigil_syntax::parse_file("t.yml", y);
    assert!(d.is_empty(), "{d:?}");
    let lowered = sigil_lower::lower_files(&[file]);
    assert!(lowered.diagnostics.is_empty(), "{:?}", lowered.diagnostics);
    let (mut engine, _) = sigil_eval::Engine::new(&lowered.rules);
    let mut hits = Vec::new();
    for (id, v) in [
        (
            "same",
            serde_json::json!({"details": [{"key": "ua", "value": "Python/3"}, {"key": "n", "value": "x"}]}),
        ),
        (
            "split",
            serde_json::json!({"details": [{"key": "ua", "value": "curl"}, {"key": "n", "value": "python"}]}),
        ),
        ("scalar", serde_json::json!({"details": "ua python"})),
    ] {
        if !engine
            .process(&sigil_eval::Event::new(v, None, id.into()))
            .is_empty()
        {
            hits.push(id);
        }
    }
    assert_eq!(hits, vec!["same"]);
}
