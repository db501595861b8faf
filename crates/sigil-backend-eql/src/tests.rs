//! Unit and property tests of the EQL printer: capabilities, translations, escaping.

use super::*;
use proptest::prelude::*;
use sigil_backend::{Fidelity, Mapping, map_rule};
use sigil_ir::{
    Agg, AggExpr, AggFunc, Case, CmpOp, Expr, Input, LogSource, Meta, Origin, Pattern, Predicate,
    Query, RegexFlags, Rule, ScoreCase, Search, Seg, Sequence, Step, Target, Test, Threshold,
    Value, Window, WindowKind,
};
use std::collections::BTreeMap;

fn pred(f: &str, test: Test) -> Expr {
    Expr::Pred(Predicate {
        target: Target::Field(f.into()),
        test,
        span: None,
    })
}

fn rule(query: Query) -> Rule {
    Rule {
        meta: Meta {
            name: Some("r".into()),
            title: "r".into(),
            ..Meta::default()
        },
        origin: Origin::default(),
        query,
        outputs: Vec::new(),
    }
}

fn search(e: Expr) -> Search {
    Search {
        source: LogSource::default(),
        expr: e,
    }
}

/// Compiles with the pass-through mapping: (query, note constructs, refusal constructs).
fn compile(q: Query) -> (String, Vec<Construct>, Vec<Construct>) {
    let m = Mapping::passthrough("eql", "@timestamp");
    let mapped = map_rule(&rule(q), &m).expect("maps");
    let mut cx = Cx::default();
    let text = EQL.emit(&mapped, &mut cx);
    (
        text,
        cx.notes().iter().map(|n| n.construct).collect(),
        cx.refusals().iter().map(|r| r.construct).collect(),
    )
}

fn match_of(e: Expr) -> String {
    let (q, _, refusals) = compile(Query::Match(search(e)));
    assert!(refusals.is_empty(), "{refusals:?}");
    q
}

fn input(name: &str, e: Expr, fields: &[(&str, Option<&str>)]) -> Input {
    Input {
        name: name.into(),
        query: Box::new(Query::Match(search(e))),
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
            .collect::<BTreeMap<_, _>>(),
        origin: None,
    }
}

fn count_gte(n: f64) -> AggExpr {
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
    let caps = capabilities();
    for c in Construct::ALL {
        assert_eq!(
            caps.iter().filter(|k| k.construct == *c).count(),
            1,
            "{c} must be declared exactly once"
        );
    }
    assert_eq!(caps.len(), Construct::ALL.len());
}

#[test]
fn predicates_print_with_their_case_rule() {
    let s = |v: &str| Value::Str(v.into());
    assert_eq!(
        match_of(pred("a.b", Test::Eq(s("X"), Case::Insensitive))),
        "any where ?a.b : \"X\""
    );
    assert_eq!(
        match_of(pred("a", Test::Eq(s("X*"), Case::Insensitive))),
        "any where ?a in~ (\"X*\")"
    );
    assert_eq!(
        match_of(pred("a", Test::Eq(s("X"), Case::Sensitive))),
        "any where ?a == \"X\""
    );
    let contains = Pattern(vec![Seg::Any, Seg::Lit("x y".into()), Seg::Any]);
    assert_eq!(
        match_of(pred("a", Test::Pattern(contains, Case::Insensitive))),
        "any where ?a : \"*x y*\""
    );
    let suffix = Pattern(vec![Seg::Any, Seg::Lit("\\cmd.exe".into())]);
    assert_eq!(
        match_of(pred("a", Test::Pattern(suffix, Case::Sensitive))),
        "any where endsWith(?a, \"\\\\cmd.exe\")"
    );
    let inner = Pattern(vec![Seg::Lit("a*".into()), Seg::Any, Seg::Lit("b".into())]);
    assert_eq!(
        match_of(pred("a", Test::Pattern(inner, Case::Insensitive))),
        "any where ?a regex~ \"a\\\\*.*b\""
    );
    assert_eq!(
        match_of(pred(
            "a",
            Test::Regex(
                "^x\\d$".into(),
                RegexFlags {
                    ignore_case: true,
                    ..Default::default()
                }
            )
        )),
        "any where ?a regex~ \"x[0-9]\\n?\""
    );
    assert_eq!(
        match_of(pred("ip", Test::Cidr("10.1.2.3/8".parse().expect("net")))),
        "any where cidrMatch(?ip, \"10.0.0.0/8\")"
    );
    assert_eq!(
        match_of(pred("odd-name.2x.ok", Test::Null)),
        "any where ?`odd-name`.`2x`.ok == null"
    );
}

#[test]
fn negated_tests_are_guarded_and_lists_fold() {
    let s = |v: &str| Value::Str(v.into());
    let e = Expr::And(vec![
        Expr::Or(vec![
            pred("a", Test::Eq(s("x"), Case::Insensitive)),
            pred("a", Test::Eq(s("y"), Case::Insensitive)),
        ]),
        Expr::negate(Expr::Or(vec![
            pred("b", Test::Eq(s("p"), Case::Sensitive)),
            pred("c", Test::Exists(true)),
        ])),
    ]);
    assert_eq!(
        match_of(e),
        "any where (?a in~ (\"x\", \"y\") and not ((?b != null and ?b == \"p\") or ?c != null))"
    );
}

#[test]
fn refusals_name_the_construct() {
    for (e, c) in [
        (
            Expr::Pred(Predicate {
                target: Target::Keywords,
                test: Test::Eq(Value::Str("x".into()), Case::Insensitive),
                span: None,
            }),
            Construct::Keywords,
        ),
        (
            pred(
                "a",
                Test::FieldRef("b".into(), sigil_ir::RefMatch::Equals, Case::Insensitive),
            ),
            Construct::FieldRef,
        ),
        (
            pred(
                "a",
                Test::TimePart(sigil_ir::TimePart::Hour, CmpOp::Gte, 22),
            ),
            Construct::TimePart,
        ),
        (
            pred("a", Test::Regex("a(?=b)".into(), RegexFlags::default())),
            Construct::Regex,
        ),
    ] {
        let (_, _, refusals) = compile(Query::Match(search(e)));
        assert_eq!(refusals, vec![c]);
    }
}

#[test]
fn count_thresholds_become_runs_sequences() {
    let t = Threshold {
        inputs: vec![input(
            "i",
            pred("e", Test::Eq(Value::Str("x".into()), Case::Sensitive)),
            &[("user", Some("user.name"))],
        )],
        group_by: vec!["user".into()],
        window: Window {
            length_ms: 600_000,
            kind: WindowKind::Sliding,
        },
        condition: count_gte(20.0),
        score: vec![
            ScoreCase {
                when: Some(count_gte(50.0)),
                value: 90,
            },
            ScoreCase {
                when: None,
                value: 30,
            },
        ],
    };
    let (q, notes, refusals) = compile(Query::Threshold(t.clone()));
    assert!(refusals.is_empty());
    assert_eq!(
        q,
        "// score: 30\nsequence by user.name with maxspan=10m\n  [any where (?e == \"x\" and not (?user.name == null))] with runs=20"
    );
    assert_eq!(notes, vec![Construct::SlidingWindow, Construct::Score]);
    let mut too_many = t.clone();
    too_many.condition = count_gte(101.0);
    assert_eq!(
        compile(Query::Threshold(too_many)).2,
        vec![Construct::AggCount]
    );
    let mut distinct = t;
    distinct.condition = AggExpr::Or(vec![
        count_gte(5.0),
        AggExpr::Cmp(
            Agg {
                func: AggFunc::Distinct,
                field: Some("user".into()),
                rank: None,
            },
            CmpOp::Gte,
            3.0,
        ),
    ]);
    assert_eq!(
        compile(Query::Threshold(distinct)).2,
        vec![Construct::AggDistinct]
    );
}

#[test]
fn sequences_share_or_split_their_keys() {
    let step = |n: &str, f: &str, runs: u32| Step {
        input: input(
            n,
            pred("e", Test::Eq(Value::Str(n.into()), Case::Sensitive)),
            &[("who", Some(f))],
        ),
        runs,
    };
    let s = Sequence {
        by: vec!["who".into()],
        maxspan_ms: Some(1_800_000),
        steps: vec![step("a", "user.name", 1), step("b", "user.id", 3)],
        until: Some(input(
            "c",
            pred("e", Test::Null),
            &[("who", Some("user.id"))],
        )),
    };
    let (q, notes, refusals) = compile(Query::Sequence(s));
    assert!(refusals.is_empty(), "{refusals:?}");
    assert_eq!(notes, vec![Construct::Sequence]);
    assert_eq!(
        q,
        "sequence with maxspan=30m\n  [any where (?e == \"a\" and not (?user.name == null))] by user.name\n  [any where (?e == \"b\" and not (?user.id == null))] by user.id with runs=3\nuntil [any where (?e == null and not (?user.id == null))] by user.id"
    );
}

/// Decodes an EQL string literal the way Elasticsearch documents it.
fn decode(lit: &str) -> Option<String> {
    let body = lit.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\n' | '\r' => return None,
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                'u' => {
                    if chars.next()? != '{' {
                        return None;
                    }
                    let hex: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    if !(2..=8).contains(&hex.len()) {
                        return None;
                    }
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                _ => return None,
            },
            c => out.push(c),
        }
    }
    Some(out)
}

/// Splits a printed field reference back into its name.
fn unfield(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '`' {
            loop {
                match chars.next()? {
                    '`' if chars.peek() == Some(&'`') => {
                        chars.next();
                        out.push('`');
                    }
                    '`' => break,
                    c => out.push(c),
                }
            }
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            out.push(c);
        } else {
            return None;
        }
    }
    Some(out)
}

proptest! {
    #[test]
    fn strings_round_trip(s in any::<String>()) {
        let lit = string(&s);
        prop_assert_eq!(decode(&lit), Some(s));
    }

    #[test]
    fn tricky_strings_round_trip(s in "[\"\\\\*?|()\\[\\]{}`'\n\r\t\u{0}\u{1f}\u{7f}\u{85}a-z é😀]{0,24}") {
        prop_assert_eq!(decode(&string(&s)), Some(s));
    }

    #[test]
    fn field_names_round_trip(s in "[a-z.`\\- @:/\"é0-9]{1,20}") {
        match field(&s) {
            Ok(f) => prop_assert_eq!(unfield(&f), Some(s)),
            Err(_) => prop_assert!(false, "plain characters are always writable"),
        }
    }

    #[test]
    fn regexes_of_literals_never_fail(s in any::<String>()) {
        // Any literal text, escaped for a Perl regex, translates to Lucene.
        let re = sigil_backend::text::regex_escape(&s, sigil_backend::text::RegexDialect::Perl);
        prop_assert!(sigil_backend::regex_lucene::translate(&re, RegexFlags::default()).is_ok());
    }

    #[test]
    fn emit_never_panics(v in any::<String>(), f in any::<String>()) {
        let e = Expr::Or(vec![
            pred(&f, Test::Eq(Value::Str(v.clone()), Case::Insensitive)),
            pred(&f, Test::Pattern(Pattern(vec![Seg::Any, Seg::Lit(v.clone()), Seg::One]), Case::Sensitive)),
            pred(&f, Test::Regex(v, RegexFlags::default())),
        ]);
        let m = Mapping::passthrough("eql", "@timestamp");
        if let Ok(mapped) = map_rule(&rule(Query::Match(search(e))), &m) {
            let mut cx = Cx::default();
            let _ = EQL.emit(&mapped, &mut cx);
        }
    }
}

#[test]
fn declared_fidelity_matches_kinds() {
    let caps = capabilities();
    let fid = |c: Construct| caps.iter().find(|k| k.construct == c).map(|k| k.fidelity);
    assert_eq!(fid(Construct::EqCased), Some(Fidelity::Exact));
    assert_eq!(fid(Construct::Keywords), Some(Fidelity::Refused));
}
