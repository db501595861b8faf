//! Property tests of the condition and aggregate grammars: printing a random condition
//! tree and reparsing it gives the same tree, arbitrary text never panics, and nesting is
//! accepted up to `MAX_DEPTH` and refused cleanly beyond it.

use proptest::prelude::*;
use sigil_syntax::expr::{
    AggExpr, Cond, MAX_DEPTH, OfTarget, Quantifier, parse_agg_expr, parse_condition,
};

/// Words the grammar gives a meaning; identifiers avoid them.
const KEYWORDS: &[&str] = &["and", "or", "not", "of", "all", "any", "them", "near"];

fn ident() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_.@$-]{0,8}"
        .prop_filter("keywords are not identifiers", |s| {
            !KEYWORDS.iter().any(|k| s.eq_ignore_ascii_case(k))
        })
        .prop_filter("a number before `of` is a quantifier", |s| {
            s.parse::<u32>().is_err()
        })
}

fn of_target() -> impl Strategy<Value = OfTarget> {
    prop_oneof![
        Just(OfTarget::Them),
        ident().prop_map(OfTarget::Pattern),
        (ident(), "[a-z0-9_]{0,3}").prop_map(|(a, b)| OfTarget::Pattern(format!("{a}*{b}"))),
    ]
}

fn quantifier() -> impl Strategy<Value = Quantifier> {
    prop_oneof![
        Just(Quantifier::Any),
        Just(Quantifier::All),
        (2u32..=u32::MAX).prop_map(Quantifier::AtLeast),
    ]
}

/// Random condition trees in the shape the parser builds: `and`/`or` have two or more
/// operands; offsets are left empty (they are compared after [`strip`]).
fn cond() -> impl Strategy<Value = Cond> {
    let leaf = prop_oneof![
        ident().prop_map(|name| Cond::Ident { name, at: 0..0 }),
        (quantifier(), of_target()).prop_map(|(quant, target)| Cond::Of {
            quant,
            target,
            at: 0..0
        }),
    ];
    leaf.prop_recursive(8, 64, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|c| Cond::Not(Box::new(c))),
            prop::collection::vec(inner.clone(), 2..5).prop_map(Cond::And),
            prop::collection::vec(inner, 2..5).prop_map(Cond::Or),
        ]
    })
}

/// Prints a condition; every compound operand is parenthesised, so the text reparses to
/// exactly this tree.
fn print(c: &Cond) -> String {
    fn operand(c: &Cond) -> String {
        match c {
            Cond::And(_) | Cond::Or(_) => format!("({})", print(c)),
            _ => print(c),
        }
    }
    match c {
        Cond::Ident { name, .. } => name.clone(),
        Cond::Of { quant, target, .. } => {
            let q = match quant {
                Quantifier::Any => "1".to_string(),
                Quantifier::All => "all".to_string(),
                Quantifier::AtLeast(n) => n.to_string(),
            };
            let t = match target {
                OfTarget::Them => "them",
                OfTarget::Pattern(p) => p,
            };
            format!("{q} of {t}")
        }
        Cond::Not(e) => format!("not {}", operand(e)),
        Cond::And(v) => v.iter().map(operand).collect::<Vec<_>>().join(" and "),
        Cond::Or(v) => v.iter().map(operand).collect::<Vec<_>>().join(" or "),
    }
}

/// The tree without offsets.
fn strip(c: Cond) -> Cond {
    match c {
        Cond::Ident { name, .. } => Cond::Ident { name, at: 0..0 },
        Cond::Of { quant, target, .. } => Cond::Of {
            quant,
            target,
            at: 0..0,
        },
        Cond::Not(e) => Cond::Not(Box::new(strip(*e))),
        Cond::And(v) => Cond::And(v.into_iter().map(strip).collect()),
        Cond::Or(v) => Cond::Or(v.into_iter().map(strip).collect()),
    }
}

/// Text made of the grammars' own tokens, so random input reaches deep into the parsers.
fn tokens() -> impl Strategy<Value = String> {
    let tok = prop_oneof![
        Just("and"),
        Just("or"),
        Just("not"),
        Just("of"),
        Just("1"),
        Just("all"),
        Just("them"),
        Just("near"),
        Just("by"),
        Just("("),
        Just(")"),
        Just("|"),
        Just(","),
        Just("sel*"),
        Just("x"),
        Just("count()"),
        Just("count("),
        Just("distinct"),
        Just("percentile"),
        Just(">"),
        Just(">="),
        Just("=="),
        Just("!="),
        Just("<"),
        Just("10"),
        Just("-1.5e3"),
        Just("é"),
        Just("\u{a0}"),
        Just("\t"),
    ];
    prop::collection::vec((tok, prop::bool::ANY), 0..40).prop_map(|v| {
        v.into_iter()
            .map(|(t, space)| {
                if space {
                    format!("{t} ")
                } else {
                    t.to_string()
                }
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn printed_condition_reparses_to_the_same_tree(c in cond()) {
        let text = print(&c);
        let parsed = parse_condition(&text)
            .unwrap_or_else(|e| panic!("`{text}` does not parse: {e:?}"));
        prop_assert!(parsed.aggregation.is_none());
        prop_assert_eq!(strip(parsed.expr), c, "text: {}", text);
    }

    #[test]
    fn offsets_stay_inside_the_text(c in cond()) {
        let text = print(&c);
        fn check(c: &Cond, text: &str) {
            match c {
                Cond::Ident { name, at } => assert_eq!(&text[at.clone()], name),
                Cond::Of { at, .. } => assert!(text.get(at.clone()).is_some()),
                Cond::Not(e) => check(e, text),
                Cond::And(v) | Cond::Or(v) => v.iter().for_each(|e| check(e, text)),
            }
        }
        check(&parse_condition(&text).unwrap().expr, &text);
    }

    #[test]
    fn arbitrary_text_never_panics(s in any::<String>()) {
        let _ = parse_condition(&s);
        let _ = parse_agg_expr(&s);
    }

    #[test]
    fn token_soup_never_panics(s in tokens()) {
        for r in [parse_condition(&s).err(), parse_agg_expr(&s).err()].into_iter().flatten() {
            // Error ranges index the input.
            prop_assert!(r.at.start <= r.at.end && r.at.end <= s.len(), "{:?} in {:?}", r, s);
            prop_assert!(s.is_char_boundary(r.at.start) && s.is_char_boundary(r.at.end));
        }
    }

    #[test]
    fn nesting_depth_is_limited_not_fatal(depth in 0usize..300, kind in 0u8..4) {
        let text = match kind {
            0 => format!("{}a{}", "(".repeat(depth), ")".repeat(depth)),
            1 => format!("{}a", "not ".repeat(depth)),
            2 => format!("{}a{}", "not (".repeat(depth), ")".repeat(depth)),
            _ => format!("{}a", "(".repeat(depth)),
        };
        match parse_condition(&text) {
            Ok(c) => {
                prop_assert!(depth <= MAX_DEPTH && kind != 3 || depth == 0);
                let mut e = &c.expr;
                let mut nots = 0;
                while let Cond::Not(inner) = e {
                    nots += 1;
                    e = inner;
                }
                prop_assert_eq!(nots, if kind == 1 || kind == 2 { depth } else { 0 });
                let is_a = matches!(e, Cond::Ident { name, .. } if name == "a");
                prop_assert!(is_a);
            }
            Err(e) => {
                prop_assert!(depth > MAX_DEPTH || kind == 3, "{:?}", e);
                prop_assert_eq!(e.too_deep, depth > MAX_DEPTH);
            }
        }
        // The depth check counts every parenthesis, the call's own `(` of `count()` too.
        let agg = format!("{}count() > 1{}", "(".repeat(depth), ")".repeat(depth));
        match parse_agg_expr(&agg) {
            Ok(e) => {
                prop_assert!(depth < MAX_DEPTH);
                let is_cmp = matches!(e, AggExpr::Cmp { .. });
                prop_assert!(is_cmp);
            }
            Err(e) => prop_assert!(e.too_deep && depth >= MAX_DEPTH, "{:?}", e),
        }
    }
}
