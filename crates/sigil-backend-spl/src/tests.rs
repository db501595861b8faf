//! Unit and property tests of the SPL backend over hand-built IR.

use super::*;
use proptest::prelude::*;
use sigil_backend::{Fidelity, Mapping, Profile, compile, map_rule};
use sigil_ir::*;
use std::collections::BTreeMap;

const MAPPING: &str = r#"
target: spl
profile: default
unmapped: passthrough
sources:
  - id: aws_cloudtrail
    logsource: {product: aws, service: cloudtrail}
    index: aws
    sourcetype: "aws:cloudtrail"
    time: _time
    fields: {}
  - id: azure_activity
    logsource: {product: azure, service: activitylogs}
    index: azure
    sourcetype: "mscs:azure:audit"
    time: _time
    where: {category: [Administrative, Policy]}
    fields: {}
  - id: sysmon_process
    logsource: {product: windows, category: process_creation}
    sourcetype: xmlwineventlog
    time: _time
    where: {EventCode: 1}
    fields: {}
"#;

fn mapping() -> Mapping {
    let mut m = Mapping {
        target: "spl".into(),
        profile: Profile::Default,
        sources: Vec::new(),
    };
    m.layer("test.yml", MAPPING).expect("test mapping");
    m
}

fn aws() -> LogSource {
    LogSource {
        product: Some("aws".into()),
        service: Some("cloudtrail".into()),
        ..Default::default()
    }
}

fn azure() -> LogSource {
    LogSource {
        product: Some("azure".into()),
        service: Some("activitylogs".into()),
        ..Default::default()
    }
}

fn p(f: &str, test: Test) -> Expr {
    Expr::Pred(Predicate {
        target: Target::Field(f.into()),
        test,
        span: None,
    })
}

fn s(v: &str) -> Value {
    Value::Str(v.into())
}

fn lit_pat(segs: Vec<Seg>) -> Pattern {
    Pattern(segs)
}

fn rule(query: Query) -> Rule {
    Rule {
        meta: Meta {
            name: Some("t".into()),
            title: "t".into(),
            ..Default::default()
        },
        origin: Origin::default(),
        query,
        outputs: Vec::new(),
    }
}

fn matching(expr: Expr) -> Rule {
    rule(Query::Match(Search {
        source: aws(),
        expr,
    }))
}

fn input(name: &str, ls: LogSource, expr: Expr, fields: &[(&str, Option<&str>)]) -> Input {
    Input {
        name: name.into(),
        query: Box::new(Query::Match(Search { source: ls, expr })),
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
            .collect::<BTreeMap<_, _>>(),
        origin: None,
    }
}

/// Compiles with the test mapping; the query and notes, or the refusal messages.
fn run(r: &Rule) -> Result<(String, Vec<sigil_backend::Note>), Vec<String>> {
    let m = map_rule(r, &mapping())
        .map_err(|d| d.iter().map(|d| d.message.clone()).collect::<Vec<_>>())?;
    let mut cx = Cx::default();
    let q = SPL.emit(&m, &mut cx);
    if cx.refused() {
        return Err(cx.refusals().iter().map(|r| r.message.clone()).collect());
    }
    Ok((q, cx.notes().to_vec()))
}

fn query(r: &Rule) -> String {
    let (q, _) = run(r).expect("compiles");
    lint::check(&q).unwrap_or_else(|e| panic!("{e}\n{q}"));
    q
}

fn threshold(window: WindowKind, condition: AggExpr) -> Threshold {
    Threshold {
        inputs: vec![
            input(
                "a",
                aws(),
                p("eventName", Test::Eq(s("ListBuckets"), Case::Insensitive)),
                &[
                    ("identity", Some("userIdentity.arn")),
                    ("api", Some("eventName")),
                ],
            ),
            input(
                "b",
                azure(),
                p("operationName", Test::Eq(s("X/READ"), Case::Insensitive)),
                &[("identity", Some("caller")), ("api", Some("operationName"))],
            ),
        ],
        group_by: vec!["identity".into()],
        window: Window {
            length_ms: 900_000,
            kind: window,
        },
        condition,
        score: vec![
            ScoreCase {
                when: Some(AggExpr::Cmp(
                    Agg {
                        func: AggFunc::Distinct,
                        field: Some("api".into()),
                        rank: None,
                    },
                    CmpOp::Gte,
                    5.0,
                )),
                value: 70,
            },
            ScoreCase {
                when: None,
                value: 30,
            },
        ],
    }
}

fn count_ge(n: f64) -> AggExpr {
    AggExpr::Cmp(
        Agg {
            func: AggFunc::Count,
            field: None,
            rank: None,
        },
        CmpOp::Gte,
        n,
    )
}

#[test]
fn every_construct_is_declared_once() {
    let caps = SPL.capabilities();
    for c in Construct::ALL {
        assert_eq!(
            caps.iter().filter(|k| k.construct == *c).count(),
            1,
            "{c} declared {} times",
            caps.iter().filter(|k| k.construct == *c).count()
        );
    }
    assert_eq!(caps.len(), Construct::ALL.len());
    assert!(caps.iter().all(|c| !c.note.is_empty()));
}

#[test]
fn case_insensitive_tests_stay_in_the_search_command() {
    let q = query(&matching(Expr::And(vec![
        p("eventSource", Test::Eq(s("a.com"), Case::Insensitive)),
        Expr::Or(vec![
            p("eventName", Test::Eq(s("StopLogging"), Case::Insensitive)),
            p("eventName", Test::Eq(s("DeleteTrail"), Case::Insensitive)),
        ]),
        Expr::negate(p(
            "arn",
            Test::Pattern(
                lit_pat(vec![Seg::Any, Seg::Lit(":role/ci".into())]),
                Case::Insensitive,
            ),
        )),
    ])));
    assert_eq!(
        q,
        "index=\"aws\" sourcetype=\"aws:cloudtrail\" eventSource=\"a.com\" eventName IN (\"StopLogging\", \"DeleteTrail\") NOT arn=\"*:role/ci\""
    );
}

#[test]
fn other_tests_move_to_where_as_total_booleans() {
    let q = query(&matching(Expr::And(vec![
        p("a", Test::Eq(s("X"), Case::Sensitive)),
        p("b", Test::Exists(true)),
        Expr::negate(p("c", Test::Regex("^x\\d".into(), RegexFlags::default()))),
        p(
            "d",
            Test::Pattern(
                lit_pat(vec![Seg::Lit("a*b".into()), Seg::Any]),
                Case::Insensitive,
            ),
        ),
        p("e", Test::Cidr("10.1.2.3/8".parse().unwrap())),
    ])));
    assert_eq!(
        q,
        "index=\"aws\" sourcetype=\"aws:cloudtrail\"\n| where (isnotnull(mvfilter(match('a', \"\\\\AX\\\\z\"))) AND isnotnull('b') AND NOT (isnotnull(mvfilter(match('c', \"^x\\\\d\")))) AND isnotnull(mvfilter(match('d', \"(?i)\\\\Aa\\\\*b(?s:.*)\\\\z\"))) AND isnotnull(mvfilter(cidrmatch(\"10.0.0.0/8\", trim('e')))))"
    );
}

#[test]
fn mixed_or_goes_wholly_to_where() {
    let q = query(&matching(Expr::Or(vec![
        p("a", Test::Eq(s("x"), Case::Insensitive)),
        p("b", Test::Eq(s("y"), Case::Sensitive)),
    ])));
    assert!(q.contains("| where (isnotnull(mvfilter(match('a', \"(?i)\\\\Ax\\\\z\"))) OR isnotnull(mvfilter(match('b', \"\\\\Ay\\\\z\"))))"), "{q}");
}

#[test]
fn source_conditions_are_anded() {
    let r = rule(Query::Match(Search {
        source: azure(),
        expr: p("operationName", Test::Eq(s("x"), Case::Insensitive)),
    }));
    assert_eq!(
        query(&r),
        "index=\"azure\" sourcetype=\"mscs:azure:audit\" category IN (\"Administrative\", \"Policy\") operationName=\"x\""
    );
}

#[test]
fn integer_source_conditions_select_in_the_search() {
    let r = rule(Query::Match(Search {
        source: LogSource {
            product: Some("windows".into()),
            category: Some("process_creation".into()),
            ..Default::default()
        },
        expr: p("Image", Test::Eq(s("C:\\x.exe"), Case::Insensitive)),
    }));
    assert_eq!(
        query(&r),
        "sourcetype=\"xmlwineventlog\" EventCode=1 Image=\"C:\\\\x.exe\""
    );
}

#[test]
fn tumbling_threshold_is_epoch_aligned_stats() {
    let r = rule(Query::Threshold(threshold(
        WindowKind::Tumbling,
        count_ge(10.0),
    )));
    let (q, notes) = run(&r).unwrap();
    lint::check(&q).unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    assert!(
        q.starts_with("| multisearch\n    [search index=\"aws\""),
        "{q}"
    );
    assert!(q.contains("eval sigil_input=\"1\", sigil_first=_time, identity=mvindex('userIdentity.arn', 0), api='eventName'"), "{q}");
    assert!(q.contains("| where isnotnull(identity)\n| eval sigil_window=floor(_time/900)*900\n| stats count AS event_count dc(api) AS distinct_api min(_time) AS first_seen max(_time) AS last_seen BY sigil_window identity\n| where event_count>=10\n| eval score=case(distinct_api>=5, 70, true(), 30)"), "{q}");
}

#[test]
fn sliding_threshold_is_streamstats_with_a_note() {
    let avg = AggExpr::Not(Box::new(AggExpr::Cmp(
        Agg {
            func: AggFunc::Avg,
            field: Some("bytes".into()),
            rank: None,
        },
        CmpOp::Lt,
        2.5,
    )));
    let r = rule(Query::Threshold(threshold(WindowKind::Sliding, avg)));
    let (q, notes) = run(&r).unwrap();
    lint::check(&q).unwrap();
    assert!(
        q.contains("| sort 0 _time\n| streamstats time_window=15m count AS event_count"),
        "{q}"
    );
    assert!(
        q.contains("sigil_num_bytes=tonumber(trim(mvindex(bytes, 0)))"),
        "{q}"
    );
    assert!(
        q.contains("| where NOT ((isnotnull(avg_bytes) AND avg_bytes<2.5))"),
        "{q}"
    );
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].construct, Construct::SlidingWindow);
}

#[test]
fn sequences_chain_stages() {
    let login = input(
        "login",
        aws(),
        p("eventName", Test::Eq(s("ConsoleLogin"), Case::Insensitive)),
        &[("identity", Some("userIdentity.arn"))],
    );
    let call = input(
        "call",
        aws(),
        p("eventName", Test::Eq(s("ListBuckets"), Case::Insensitive)),
        &[("identity", Some("userIdentity.arn"))],
    );
    let stop = input(
        "stop",
        aws(),
        p("eventName", Test::Eq(s("Logout"), Case::Insensitive)),
        &[("identity", Some("userIdentity.arn"))],
    );
    let r = rule(Query::Sequence(Sequence {
        by: vec!["identity".into()],
        maxspan_ms: Some(600_000),
        steps: vec![
            Step {
                input: login,
                runs: 1,
            },
            Step {
                input: call,
                runs: 2,
            },
        ],
        until: Some(stop),
    }));
    let (q, notes) = run(&r).unwrap();
    lint::check(&q).unwrap_or_else(|e| panic!("{e}\n{q}"));
    assert!(
        notes.iter().all(|n| n.construct == Construct::Sequence),
        "{notes:?}"
    );
    assert!(q.contains("| eval sigil_c1=if(sigil_input==\"s1\", sigil_first, null())\n| streamstats current=f time_window=10m max(sigil_c1) AS sigil_p1 BY identity\n| eval sigil_c2=if(sigil_input==\"s2\" AND isnotnull(sigil_p1) AND _time-sigil_p1<=600 AND (isnull(sigil_u) OR sigil_u<sigil_p1), sigil_p1, null())"), "{q}");
    assert!(q.contains("sigil_c3=if(sigil_input==\"s2\""), "{q}");
    assert!(q.contains("| where isnotnull(sigil_c3)"), "{q}");
}

#[test]
fn a_threshold_step_is_appended_and_regrouped() {
    let login = input(
        "login",
        aws(),
        p("eventName", Test::Eq(s("ConsoleLogin"), Case::Insensitive)),
        &[("who", Some("userIdentity.arn"))],
    );
    let mut burst = threshold(WindowKind::Tumbling, count_ge(10.0));
    burst.group_by = vec!["api".into()];
    let step2 = Input {
        name: "burst".into(),
        query: Box::new(Query::Threshold(burst)),
        fields: [("who".to_string(), Some("identity".to_string()))]
            .into_iter()
            .collect(),
        origin: None,
    };
    let r = rule(Query::Sequence(Sequence {
        by: vec!["who".into()],
        maxspan_ms: Some(1_800_000),
        steps: vec![
            Step {
                input: login,
                runs: 1,
            },
            Step {
                input: step2,
                runs: 1,
            },
        ],
        until: None,
    }));
    let (q, notes) = run(&r).unwrap();
    lint::check(&q).unwrap_or_else(|e| panic!("{e}\n{q}"));
    assert!(q.contains("| append [| multisearch"), "{q}");
    assert!(q.contains("BY sigil_window identity"), "{q}");
    assert!(
        q.contains(
            "eval sigil_input=\"s2\", _time=last_seen, sigil_first=first_seen, who=identity]"
        ),
        "{q}"
    );
    assert!(notes.iter().any(|n| n.construct == Construct::Chained));
}

#[test]
fn nesting_other_than_a_threshold_step_is_refused() {
    let burst = Input {
        name: "burst".into(),
        query: Box::new(Query::Threshold(threshold(
            WindowKind::Tumbling,
            count_ge(10.0),
        ))),
        fields: BTreeMap::new(),
        origin: None,
    };
    // A threshold step of a sequence without keys is regrouped by no key: it compiles.
    let login = input(
        "login",
        aws(),
        p("eventName", Test::Eq(s("ConsoleLogin"), Case::Insensitive)),
        &[],
    );
    let seq = Sequence {
        by: Vec::new(),
        maxspan_ms: None,
        steps: vec![
            Step {
                input: login,
                runs: 1,
            },
            Step {
                input: burst.clone(),
                runs: 1,
            },
        ],
        until: None,
    };
    let q = query(&rule(Query::Sequence(seq.clone())));
    assert!(q.contains("| append ["), "{q}");
    // A threshold over a threshold, and a sequence as a step, are refused.
    let mut outer = threshold(WindowKind::Sliding, count_ge(2.0));
    outer.inputs = vec![burst];
    assert!(run(&rule(Query::Threshold(outer))).is_err());
    let nested = Input {
        name: "seq".into(),
        query: Box::new(Query::Sequence(seq.clone())),
        fields: BTreeMap::new(),
        origin: None,
    };
    let mut outer_seq = seq;
    outer_seq.steps[1].input = nested;
    assert!(run(&rule(Query::Sequence(outer_seq))).is_err());
}

#[test]
fn unordered_counts_inputs_per_key() {
    let a = input(
        "a",
        aws(),
        p("eventName", Test::Eq(s("A"), Case::Insensitive)),
        &[],
    );
    let b = input(
        "b",
        aws(),
        p("eventName", Test::Eq(s("B"), Case::Insensitive)),
        &[],
    );
    let r = rule(Query::Unordered(Unordered {
        by: vec!["userIdentity.arn".into()],
        within_ms: 300_000,
        inputs: vec![a, b],
    }));
    let q = query(&r);
    assert!(q.contains("streamstats time_window=5m dc(sigil_input) AS sigil_inputs min(sigil_first) AS first_seen count AS event_count BY userIdentity_arn\n| where sigil_inputs==2"), "{q}");
}

#[test]
fn element_and_foreign_time_parts_are_refused() {
    let e = matching(p(
        "arr",
        Test::Element(Box::new(p("k", Test::Eq(s("v"), Case::Insensitive)))),
    ));
    assert!(run(&e).is_err());
    let t = matching(p("other", Test::TimePart(TimePart::Day, CmpOp::Eq, 1)));
    assert!(run(&t).is_err());
}

/// One rule per construct family, to check the notes against the declared capabilities.
fn construct_rules() -> Vec<Rule> {
    let re = |r: &str| {
        Test::Regex(
            r.into(),
            RegexFlags {
                ignore_case: true,
                multi_line: true,
                dot_all: true,
            },
        )
    };
    let preds = vec![
        p("a", Test::Eq(s("x"), Case::Insensitive)),
        p("a", Test::Eq(s("x"), Case::Sensitive)),
        p("a", Test::Eq(Value::Int(4624), Case::Insensitive)),
        p("a", Test::Eq(Value::Int(1 << 60), Case::Insensitive)),
        p("a", Test::Eq(Value::Float(0.5), Case::Insensitive)),
        p("a", Test::Eq(Value::Bool(true), Case::Insensitive)),
        p(
            "a",
            Test::Pattern(
                lit_pat(vec![Seg::Any, Seg::Lit("x".into()), Seg::Any]),
                Case::Insensitive,
            ),
        ),
        p(
            "a",
            Test::Pattern(
                lit_pat(vec![Seg::Lit("x".into()), Seg::One, Seg::Any]),
                Case::Sensitive,
            ),
        ),
        p("a", re("x")),
        p("a", re("\\d")),
        p("a", Test::Cidr("10.0.0.0/8".parse().unwrap())),
        p("a", Test::Cidr("fe80::/10".parse().unwrap())),
        p("a", Test::Cmp(CmpOp::Lt, 3.0)),
        p("a", Test::Exists(false)),
        p("a", Test::Null),
        p(
            "a",
            Test::FieldRef("b".into(), RefMatch::Equals, Case::Insensitive),
        ),
        p(
            "a",
            Test::FieldRef("b".into(), RefMatch::Contains, Case::Sensitive),
        ),
        p("_time", Test::TimePart(TimePart::Minute, CmpOp::Gte, 3)),
        p("_time", Test::TimePart(TimePart::Week, CmpOp::Eq, 3)),
        Expr::Pred(Predicate {
            target: Target::Keywords,
            test: Test::Pattern(
                lit_pat(vec![Seg::Any, Seg::Lit("k".into()), Seg::Any]),
                Case::Insensitive,
            ),
            span: None,
        }),
    ];
    let mut rules: Vec<Rule> = preds
        .into_iter()
        .map(|e| matching(Expr::negate(e)))
        .collect();
    for kind in [WindowKind::Tumbling, WindowKind::Sliding] {
        let mut t = threshold(kind, count_ge(1.0));
        t.condition = AggExpr::Or(vec![
            count_ge(1.0),
            AggExpr::Cmp(
                Agg {
                    func: AggFunc::Percentile,
                    field: Some("api".into()),
                    rank: Some(95.0),
                },
                CmpOp::Gt,
                1.0,
            ),
            AggExpr::Cmp(
                Agg {
                    func: AggFunc::Sum,
                    field: Some("api".into()),
                    rank: None,
                },
                CmpOp::Gt,
                1.0,
            ),
        ]);
        let mut r = rule(Query::Threshold(t));
        r.outputs = vec![
            Output::Field("identity".into()),
            Output::Values("api".into()),
            Output::Count,
            Output::Score,
            Output::FirstSeen,
        ];
        rules.push(r);
    }
    rules
}

#[test]
fn exact_constructs_never_produce_notes() {
    let caps = SPL.capabilities();
    for r in construct_rules() {
        let m = map_rule(&r, &mapping()).unwrap();
        let mut cx = Cx::default();
        let q = SPL.emit(&m, &mut cx);
        assert!(!cx.refused(), "{:?}", cx.refusals());
        lint::check(&q).unwrap_or_else(|e| panic!("{e}\n{q}"));
        for n in cx.notes() {
            let cap = caps.iter().find(|c| c.construct == n.construct).unwrap();
            assert_eq!(
                cap.fidelity,
                Fidelity::Approx,
                "note {n:?} on a construct declared {:?}",
                cap.fidelity
            );
        }
        // compile() agrees: strict turns every note into an error, nothing else.
        let strict = compile(&SPL, &m, true);
        assert_eq!(strict.is_err(), !cx.notes().is_empty());
    }
}

// ---- escaping ----------------------------------------------------------------------------

/// The regex a where test carries, decoded from its literal, must match exactly `v`.
fn where_regex_matches(q: &str, v: &str, insensitive: bool) {
    where_regex(q, v, insensitive, true)
}

/// As [`where_regex_matches`]; `whole` also checks that nothing longer matches.
fn where_regex(q: &str, v: &str, insensitive: bool, whole: bool) {
    let c = lint::check(q).unwrap_or_else(|e| panic!("{e}\n{q}"));
    let re = c
        .strings
        .iter()
        .find(|s| s.contains("\\A"))
        .unwrap_or_else(|| panic!("no regex literal in {q}"));
    let r = regex::Regex::new(re).unwrap_or_else(|e| panic!("{e}: {re}"));
    assert!(r.is_match(v), "{re} does not match {v:?}");
    assert!(
        !whole || !r.is_match(&format!("{v}x")),
        "{re} matches more than {v:?}"
    );
    assert_eq!(re.starts_with("(?i)"), insensitive);
}

fn adversarial() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "\"", "\\", "\\\"", "|", "[", "]", "`", "``", "`m`", "\n", "\r", "\t", "\u{0}", "\u{7f}",
        "*", "?", "%", "_", "=", "'", "(", ")", "$x$", "ü", "İ", "𝔘", " ", "a", "Z", "0", "\\*",
        "search", "| delete",
    ]);
    prop::collection::vec(
        prop_oneof![pieces.prop_map(String::from), "\\PC{0,3}"],
        0..8,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn insensitive_equality_stays_one_literal(v in adversarial()) {
        let q = query(&matching(p("f", Test::Eq(s(&v), Case::Insensitive))));
        let c = lint::check(&q).unwrap();
        if q.contains("| where") {
            where_regex_matches(&q, &v, true);
        } else {
            prop_assert_eq!(c.strings.last().map(String::as_str), Some(v.as_str()));
        }
    }

    #[test]
    fn cased_equality_and_patterns_stay_one_literal(v in adversarial(), w in adversarial()) {
        let q = query(&matching(p("f", Test::Eq(s(&v), Case::Sensitive))));
        where_regex_matches(&q, &v, false);
        let pat = lit_pat(vec![Seg::Lit(v.clone()), Seg::One, Seg::Lit(w.clone())]);
        let q = query(&matching(p("f", Test::Pattern(pat, Case::Insensitive))));
        where_regex_matches(&q, &format!("{v}.{w}"), true);
    }

    #[test]
    fn contains_patterns_stay_one_literal(v in adversarial()) {
        prop_assume!(!v.is_empty());
        let pat = lit_pat(vec![Seg::Any, Seg::Lit(v.clone()), Seg::Any]);
        let q = query(&matching(p("f", Test::Pattern(pat, Case::Insensitive))));
        let c = lint::check(&q).unwrap();
        if !q.contains("| where") {
            prop_assert_eq!(c.strings.last().cloned(), Some(format!("*{v}*")));
        } else {
            where_regex(&q, &format!("a{v}b"), true, false);
        }
    }

    #[test]
    fn rule_regexes_and_keywords_never_break_out(v in adversarial()) {
        let rx = matching(p("f", Test::Regex(v.clone(), RegexFlags::default())));
        if let Ok((q, _)) = run(&rx) {
            let c = lint::check(&q).unwrap_or_else(|e| panic!("{e}\n{q}"));
            prop_assert!(c.strings.iter().any(|s| !s.is_empty() || v.is_empty()));
        }
        let kw = matching(Expr::Pred(Predicate { target: Target::Keywords, test: Test::Eq(s(&v), Case::Insensitive), span: None }));
        let (q, _) = run(&kw).unwrap();
        let c = lint::check(&q).unwrap_or_else(|e| panic!("{e}\n{q}"));
        let re = c.strings.last().unwrap();
        let r = regex::Regex::new(re).unwrap();
        prop_assert!(r.is_match(&format!("x{v}y")), "{} vs {:?}", re, v);
    }

    #[test]
    fn field_names_stay_one_name_or_are_refused(name in adversarial(), v in adversarial()) {
        prop_assume!(!name.is_empty());
        let r = matching(Expr::And(vec![
            p(&name, Test::Eq(s(&v), Case::Sensitive)),
            p(&name, Test::Eq(s("x"), Case::Insensitive)),
        ]));
        match run(&r) {
            Ok((q, _)) => {
                let c = lint::check(&q).unwrap_or_else(|e| panic!("{e}\n{q}"));
                prop_assert!(c.names.contains(&name) || lit::plain_search_name(&name), "{} in {}", name, q);
            }
            Err(msgs) => prop_assert!(msgs.iter().any(|m| m.contains("field name"))),
        }
    }

    #[test]
    fn values_in_correlations_stay_literal(v in adversarial(), key in adversarial()) {
        prop_assume!(!key.is_empty());
        let mut t = threshold(WindowKind::Sliding, count_ge(2.0));
        t.inputs[0] = input("a", aws(), p("eventName", Test::Eq(s(&v), Case::Sensitive)), &[("identity", Some(key.as_str())), ("api", Some("eventName"))]);
        let r = rule(Query::Threshold(t));
        if let Ok((q, _)) = run(&r) {
            lint::check(&q).unwrap_or_else(|e| panic!("{e}\n{q}"));
        }
    }
}
