//! Property tests of the value transformations: Sigma escaping round trips through
//! `parse_value`, `base64offset` fragments occur in the encoding of the value wherever it
//! sits in a blob, and `windash` yields five variants per flag dash.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use sigil_ir::{PlaceholderPart, Seg};
use sigil_lower::values::{
    DASHES, WINDASH_MAX_POSITIONS, base64_offsets, parse_duration, parse_value, windash,
};

/// Escapes a literal the way a rule author must: `\` before `*`, `?` and `\`
/// (and before `%` too when placeholders are expanded).
fn escape(s: &str, expand: bool) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if matches!(c, '*' | '?' | '\\') || (expand && c == '%') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn lit(s: &str) -> Vec<PlaceholderPart> {
    if s.is_empty() {
        vec![]
    } else {
        vec![PlaceholderPart::Seg(Seg::Lit(s.to_string()))]
    }
}

/// Strings rich in the characters that matter to the value syntax.
fn tricky() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\\\\*?%a-z_. -]{0,40}",
        prop::collection::vec(
            prop_oneof![Just('\\'), Just('*'), Just('?'), Just('%'), Just('a')],
            0..30
        )
        .prop_map(|v| v.into_iter().collect()),
    ]
}

/// Word characters, optionally with an inner dash (a dash after a word character is
/// no flag dash).
fn word() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_]{1,4}(-[a-z0-9_]{1,3})?"
}

/// A token of a command line: a flag (`-x`/`/x`, one windash position) or a plain word.
fn token() -> impl Strategy<Value = (bool, String)> {
    prop_oneof![
        (prop_oneof![Just('-'), Just('/')], word()).prop_map(|(d, w)| (true, format!("{d}{w}"))),
        word().prop_map(|w| (false, w)),
    ]
}

/// Separators that are neither word characters nor dashes.
fn sep() -> impl Strategy<Value = String> {
    "[ ,\"'=:]{1,2}"
}

proptest! {
    #[test]
    fn escaped_literal_parses_back_to_itself(s in tricky()) {
        prop_assert_eq!(parse_value(&escape(&s, false), false), lit(&s));
        prop_assert_eq!(parse_value(&escape(&s, true), true), lit(&s));
    }

    #[test]
    fn parse_value_never_panics(s in tricky(), expand in any::<bool>()) {
        let parts = parse_value(&s, expand);
        // Normalised: no empty literal, no two adjacent literals, no two adjacent `*`.
        for w in parts.windows(2) {
            let adjacent_lits = matches!(
                w,
                [PlaceholderPart::Seg(Seg::Lit(_)), PlaceholderPart::Seg(Seg::Lit(_))]
            );
            let adjacent_any = matches!(
                w,
                [PlaceholderPart::Seg(Seg::Any), PlaceholderPart::Seg(Seg::Any)]
            );
            prop_assert!(!adjacent_lits && !adjacent_any, "{:?}", parts);
        }
        let has_empty = parts
            .iter()
            .any(|p| matches!(p, PlaceholderPart::Seg(Seg::Lit(l)) if l.is_empty()));
        prop_assert!(!has_empty);
        if !expand {
            prop_assert!(!parts.iter().any(|p| matches!(p, PlaceholderPart::Name(_))));
        }
    }

    #[test]
    fn base64offset_fragments_occur_in_any_blob(
        value in prop::collection::vec(any::<u8>(), 1..40),
        prefix in prop::collection::vec(any::<u8>(), 0..9),
        suffix in prop::collection::vec(any::<u8>(), 0..6),
    ) {
        let frags = base64_offsets(&value);
        prop_assert!(!frags.is_empty() && frags.len() <= 3);
        prop_assert!(frags.iter().all(|f| !f.is_empty()));
        let mut blob = prefix.clone();
        blob.extend_from_slice(&value);
        blob.extend_from_slice(&suffix);
        let enc = STANDARD.encode(&blob);
        let shift = prefix.len() % 3;
        // A single byte at offset 1 shares every base64 character with its neighbours,
        // so no fragment can be stable there; every other placement has one.
        if value.len() == 1 && shift == 1 {
            return Ok(());
        }
        prop_assert!(
            frags.iter().any(|f| enc.contains(f.as_str())),
            "none of {:?} in {} (offset {})", frags, enc, shift
        );
        // From two bytes on there is one fragment per offset (unless two are equal and
        // deduplicated), and the fragment for this offset is the one that must occur.
        if value.len() >= 2 && frags.len() == 3 {
            let f = &frags[shift];
            prop_assert!(enc.contains(f.as_str()), "{} not in {}", f, enc);
        }
    }

    #[test]
    fn windash_yields_five_variants_per_flag(
        lead in prop::option::of(sep()),
        toks in prop::collection::vec((sep(), token()), 0..9),
    ) {
        let mut s = lead.unwrap_or_default();
        let mut positions = 0u32;
        for (i, (sp, (flag, t))) in toks.iter().enumerate() {
            if i > 0 {
                s.push_str(sp);
            }
            positions += u32::from(*flag);
            s.push_str(t);
        }
        let parts = lit(&s);
        match windash(&parts) {
            Some(v) => {
                prop_assert!(positions as usize <= WINDASH_MAX_POSITIONS);
                prop_assert_eq!(v.len(), 5usize.pow(positions), "{:?}", s);
                let mut texts: Vec<String> = v
                    .iter()
                    .map(|p| match p.as_slice() {
                        [] => String::new(),
                        [PlaceholderPart::Seg(Seg::Lit(l))] => l.clone(),
                        other => panic!("variant is not one literal: {other:?}"),
                    })
                    .collect();
                // Every variant differs from the value only at dash positions.
                for t in &texts {
                    prop_assert_eq!(t.chars().count(), s.chars().count());
                    for (a, b) in t.chars().zip(s.chars()) {
                        prop_assert!(a == b || (DASHES.contains(&a) && DASHES.contains(&b)));
                    }
                }
                texts.sort();
                texts.dedup();
                prop_assert_eq!(texts.len(), 5usize.pow(positions));
            }
            None => prop_assert!(positions as usize > WINDASH_MAX_POSITIONS),
        }
    }

    #[test]
    fn durations_never_panic(s in "[0-9]{0,25}(ms|s|m|h|d|w|y|)?", t in any::<String>()) {
        if let Ok(ms) = parse_duration(&s) {
            prop_assert!(ms > 0);
        }
        let _ = parse_duration(&t);
    }
}
