//! Unit tests: capabilities, emitted shapes, notes agreeing with capabilities, and escaping.

use super::*;
use proptest::prelude::*;
use sigil_backend::{Fidelity, Mapping, compile, map_rule};
use sigil_ir::Rule;

/// Lowers the rules of one YAML text.
fn rules(yaml: &str) -> Vec<Rule> {
    let (file, diags) = sigil_syntax::parse_file("t.yml", yaml);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}\n{yaml}");
    let lowered = sigil_lower::lower_files(&[file]);
    assert!(
        lowered.diagnostics.iter().all(|d| !d.is_error()),
        "{:?}",
        lowered.diagnostics
    );
    lowered.rules
}

/// Compiles the last rule of `yaml` with pass-through names: the query and its notes, or
/// the refusals' messages.
fn kql(yaml: &str) -> Result<(String, Vec<sigil_backend::Note>), String> {
    let rs = rules(yaml);
    let rule = rs.last().expect("a rule");
    let m = Mapping::passthrough("kql", "TimeGenerated");
    let mapped = map_rule(rule, &m).map_err(|e| format!("{e:?}"))?;
    compile(&KQL, &mapped, false)
        .map(|c| (c.query, c.notes))
        .map_err(|d| {
            d.iter()
                .map(|d| d.message.clone())
                .collect::<Vec<_>>()
                .join("\n")
        })
}

fn q(yaml: &str) -> String {
    kql(yaml).expect("compiles").0
}

fn match_rule(detection: &str) -> String {
    format!(
        "title: t\nname: t\nlogsource: {{product: aws, service: cloudtrail}}\ndetection:\n{detection}\n"
    )
}

#[test]
fn every_construct_is_declared_once() {
    let caps = capabilities();
    for c in Construct::ALL {
        assert_eq!(
            caps.iter().filter(|k| k.construct == *c).count(),
            1,
            "{c} declared {} times",
            caps.iter().filter(|k| k.construct == *c).count()
        );
    }
}

#[test]
fn string_predicates_use_the_right_operators() {
    let out = q(&match_rule(
        "    sel:\n        a: x\n        b|cased: Y\n        c|contains: mid\n        d|startswith|cased: Pre\n        e|endswith: end\n        f: 'a*b?c'\n        g: ['p', 'q']\n        h: Äpfel\n    condition: sel",
    ));
    for want in [
        "a =~ \"x\"",
        "b == \"Y\"",
        "c contains \"mid\"",
        "d startswith_cs \"Pre\"",
        "e endswith \"end\"",
        "f matches regex @\"(?i)^a(?s:.*)b(?s:.)c$\"",
        "g in~ (\"p\", \"q\")",
        "tolower(h) == \"äpfel\"",
    ] {
        assert!(out.contains(want), "{want} missing from\n{out}");
    }
    assert!(!out.contains(" has "), "{out}");
}

#[test]
fn nullable_tests_are_guarded_under_not_only() {
    let out = q(&match_rule(
        "    sel:\n        n|gt: 5\n    f:\n        m|lt: 3\n        ip|cidr: 10.1.2.3/8\n    condition: sel and not f",
    ));
    assert!(out.contains("toreal(n) > 5"), "{out}");
    assert!(!out.contains("coalesce(toreal(n)"), "{out}");
    assert!(out.contains("coalesce(toreal(m) < 3, false)"), "{out}");
    assert!(
        out.contains("coalesce(ipv4_is_in_range(ip, \"10.0.0.0/8\"), false)"),
        "{out}"
    );
}

#[test]
fn regexes_are_re2_with_flags_or_refused() {
    let out = q(&match_rule(
        "    sel:\n        a|re|i: '^x\\d+$'\n    condition: sel",
    ));
    assert!(
        out.contains("a matches regex @\"(?i)^x\\d+(?:\\n?\\z)\""),
        "{out}"
    );
    let err = kql(&match_rule(
        "    sel:\n        a|re: 'x(?=y)'\n    condition: sel",
    ))
    .expect_err("refused");
    assert!(err.contains("regular expressions"), "{err}");
}

#[test]
fn tumbling_windows_align_to_the_epoch() {
    let base = "title: s\nname: s\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n    sel:\n        eventName: X\n    condition: sel\n---\ntitle: t\nname: t\ncorrelation:\n    type: threshold\n    rules: [s]\n    group-by: [user]\n    window: tumbling\n";
    let out = q(&format!(
        "{base}    timespan: 15m\n    condition: count() >= 3 and sum(bytes) > 10\n"
    ));
    assert!(out.contains("bin(_time, 15m)"), "{out}");
    assert!(
        out.contains("(_numbers_bytes > 0 and sum_bytes > 10)"),
        "{out}"
    );
    let out = q(&format!(
        "{base}    timespan: 7m\n    condition: count() >= 3\n"
    ));
    assert!(
        out.contains("bin_at(_time, 7m, datetime(1970-01-01))"),
        "{out}"
    );
}

#[test]
fn sliding_windows_are_exact_for_counts_and_noted_otherwise() {
    let base = "title: s\nname: s\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n    sel:\n        eventName: X\n    condition: sel\n---\ntitle: t\nname: t\ncorrelation:\n    type: event_count\n    rules: [s]\n    group-by: [user]\n    timespan: 1h\n";
    let (out, notes) = kql(&format!("{base}    condition: {{gte: 5}}\n")).expect("compiles");
    assert!(notes.is_empty(), "{notes:?}");
    assert!(out.contains("scan declare (_r1:datetime"), "{out}");
    assert!(out.contains("_time - s._r4 <= 1h"), "{out}");
    assert!(!out.contains("_r5:"), "{out}");
    let (_, notes) = kql(&format!("{base}    condition: {{gte: 500}}\n")).expect("compiles");
    assert!(
        notes
            .iter()
            .any(|n| n.construct == Construct::SlidingWindow)
    );
}

#[test]
fn sequences_fold_per_key_with_scan() {
    let out = q(
        "title: a\nname: a\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n    sel:\n        eventName: A\n    condition: sel\n---\ntitle: b\nname: b\nlogsource: {product: azure, service: activitylogs}\ndetection:\n    sel:\n        operationName: B\n    condition: sel\n---\ntitle: s\nname: s\ncorrelation:\n    type: temporal_ordered\n    rules: [a, b]\n    group-by: [user]\n    timespan: 10m\n",
    );
    assert!(
        out.contains("partition hint.strategy=native by user"),
        "{out}"
    );
    assert!(out.contains("_time - s._f0 <= 10m"), "{out}");
    assert!(out.contains("union a, b"), "{out}");
}

/// Every rule of rules/ and of the conformance suite (pass-through names): a construct
/// declared exact never produces a note.
#[test]
fn exact_constructs_never_produce_notes() {
    let caps = capabilities();
    let exact: Vec<Construct> = caps
        .iter()
        .filter(|c| c.fidelity == Fidelity::Exact)
        .map(|c| c.construct)
        .collect();
    let mut texts: Vec<String> = Vec::new();
    let base = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut stack = vec![
        std::path::Path::new(base).join("rules"),
        std::path::Path::new(base).join("tests/conformance"),
    ];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yml")
                && !p.to_string_lossy().ends_with(".tests.yml")
            {
                texts.push(std::fs::read_to_string(&p).expect("rule file"));
            }
        }
    }
    assert!(texts.len() > 10);
    let all: String = texts.join("\n---\n");
    let (file, _) = sigil_syntax::parse_file("all.yml", &all);
    let lowered = sigil_lower::lower_files(&[file]);
    let m = Mapping::passthrough("kql", "TimeGenerated");
    let mut seen = 0;
    for r in &lowered.rules {
        let Ok(mapped) = map_rule(r, &m) else {
            continue;
        };
        let mut cx = Cx::default();
        KQL.emit(&mapped, &mut cx);
        for n in cx.notes() {
            assert!(
                !exact.contains(&n.construct),
                "{} declared exact but noted: {}",
                n.construct,
                n.message
            );
        }
        seen += 1;
    }
    assert!(seen > 100, "only {seen} rules compiled");
}

/// Decodes the KQL string literals in `text` (regular `"…"` with escapes, verbatim `@"…"`).
fn literals(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let verbatim = chars[i] == '@' && chars.get(i + 1) == Some(&'"');
        if chars[i] == '"' || verbatim {
            i += if verbatim { 2 } else { 1 };
            let mut s = String::new();
            loop {
                let c = chars[i];
                assert!(
                    c != '\n' && c != '\r',
                    "raw line break in a literal: {text}"
                );
                if verbatim {
                    if c == '"' {
                        if chars.get(i + 1) == Some(&'"') {
                            s.push('"');
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    s.push(c);
                    i += 1;
                } else {
                    match c {
                        '"' => break,
                        '\\' => {
                            let e = chars[i + 1];
                            i += 2;
                            match e {
                                'n' => s.push('\n'),
                                'r' => s.push('\r'),
                                't' => s.push('\t'),
                                'u' => {
                                    let h: String = chars[i..i + 4].iter().collect();
                                    let v = u32::from_str_radix(&h, 16).expect("hex");
                                    s.push(char::from_u32(v).expect("bmp scalar"));
                                    i += 4;
                                }
                                other => s.push(other),
                            }
                            continue;
                        }
                        c => {
                            s.push(c);
                            i += 1;
                        }
                    }
                }
            }
            out.push(s);
        }
        i += 1;
    }
    out
}

/// `text` with its string literals removed (checked by [`literals`] to be well formed).
fn outside_literals(text: &str) -> String {
    let _ = literals(text);
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let verbatim = chars[i] == '@' && chars.get(i + 1) == Some(&'"');
        if chars[i] == '"' || verbatim {
            i += if verbatim { 2 } else { 1 };
            while i < chars.len() {
                if verbatim && chars[i] == '"' && chars.get(i + 1) == Some(&'"') {
                    i += 2;
                    continue;
                }
                if !verbatim && chars[i] == '\\' {
                    i += 2;
                    continue;
                }
                if chars[i] == '"' {
                    break;
                }
                i += 1;
            }
            i += 1;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn values_stay_one_literal(s in "(\\PC|[\"\\\\|\\[\\]\n\r\t\u{0}-\u{1f}\u{2028}*?'`])*") {
        let e = text::lit(&s);
        let got = literals(&e);
        prop_assert_eq!(got, vec![s.clone()]);
        let v = text::verbatim_or_lit(&s);
        let got = literals(&v);
        prop_assert_eq!(got, vec![s.clone()]);
    }

    #[test]
    fn field_names_stay_one_token(s in "(\\PC|[\"\\\\|\\[\\]\n\r*'.])*") {
        let f = text::ident(&s);
        if text::is_plain(&s) {
            prop_assert_eq!(&f, &s);
        } else {
            prop_assert!(f.starts_with("[\"") && f.ends_with("\"]"));
            prop_assert_eq!(literals(&f[1..f.len() - 1]), vec![s.clone()]);
        }
    }

    #[test]
    fn field_paths_are_identifiers_and_literals_only(s in "(\\PC|[\"\\\\|\\[\\]\n\r*'.()])*") {
        let f = text::field(&s);
        for e in [f.expr.clone(), f.text()] {
            // Outside its string literals a field expression holds only identifier
            // characters, dots, brackets and the parentheses of tostring()/parse_json().
            let rest = outside_literals(&e);
            prop_assert!(
                rest.chars().all(|c| c.is_ascii_alphanumeric() || "_.[]()".contains(c)),
                "{:?} -> {}", s, e
            );
            prop_assert!(!e.contains('\n') && !e.contains('\r'));
        }
    }

    #[test]
    fn rule_values_reach_queries_as_literals(s in "(\\PC|[\"\\\\|\\[\\]\n\r\t\u{1}*?'])+") {
        // Every place a value reaches: equality, contains, wildcard regex, regex, list.
        let esc = |v: &str| v.replace('\\', "\\\\").replace('*', "\\*").replace('?', "\\?");
        let yaml_str = |v: &str| format!("\"{}\"", v.chars().map(|c| match c {
            '"' => "\\\"".to_string(),
            '\\' => "\\\\".to_string(),
            '\n' => "\\n".to_string(),
            '\r' => "\\r".to_string(),
            '\t' => "\\t".to_string(),
            c if (c as u32) < 0x20 => format!("\\x{:02x}", c as u32),
            c => c.to_string(),
        }).collect::<String>());
        let v = yaml_str(&esc(&s));
        let out = q(&match_rule(&format!(
            "    sel:\n        a|cased: {v}\n        b|contains|cased: {v}\n        c|cased: {}\n        d|re: {}\n    condition: sel",
            yaml_str(&format!("{}*x", esc(&s))),
            yaml_str(&::regex_syntax::escape(&s)),
        )));
        let lits = literals(&out);
        prop_assert!(lits.contains(&s), "{:?} not in {}", s, out);
        prop_assert!(!out.lines().any(|l| l.starts_with('|') && l.contains("\n")));
    }
}
