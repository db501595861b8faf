//! Whole-value wildcard matching (`*` any run, `?` one character) with the common shapes
//! (exact, prefix, suffix, contains) taken by fast paths.

use memchr::memmem::Finder;
use sigil_ir::Seg;

/// Folds text for case-insensitive comparison: each character is lower-cased on its own and
/// keeps one character (the first of its lower-case form). Unlike `str::to_lowercase`, this
/// is context-free (a final `Σ` folds like any other `Σ`) and keeps the character count
/// (`İ` folds to `i`, not to two characters), so a literal folds the same inside a pattern
/// as inside a value, and `?` still matches exactly one character.
pub fn fold(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    s.chars()
        .map(|c| c.to_lowercase().next().unwrap_or(c))
        .collect()
}

/// A compiled wildcard pattern. For case-insensitive patterns the literals are lower-cased
/// here and the caller passes a lower-cased value.
#[derive(Clone, Debug)]
pub struct Wild {
    shape: Shape,
}

#[derive(Clone, Debug)]
enum Shape {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(Box<Finder<'static>>),
    General(Vec<Seg>),
}

impl Wild {
    /// Compiles segments; `lower` lower-cases the literal parts.
    pub fn new(segs: &[Seg], lower: bool) -> Wild {
        let segs: Vec<Seg> = segs
            .iter()
            .map(|s| match s {
                Seg::Lit(l) if lower => Seg::Lit(fold(l)),
                other => other.clone(),
            })
            .collect();
        let shape = match segs.as_slice() {
            [] => Shape::Exact(String::new()),
            [Seg::Lit(l)] => Shape::Exact(l.clone()),
            [Seg::Lit(l), Seg::Any] => Shape::Prefix(l.clone()),
            [Seg::Any, Seg::Lit(l)] => Shape::Suffix(l.clone()),
            [Seg::Any, Seg::Lit(l), Seg::Any] => {
                Shape::Contains(Box::new(Finder::new(l.as_bytes()).into_owned()))
            }
            _ => Shape::General(segs),
        };
        Wild { shape }
    }

    /// The longest literal the pattern requires, for prefilters.
    pub fn longest_literal(segs: &[Seg]) -> Option<&str> {
        segs.iter()
            .filter_map(|s| {
                if let Seg::Lit(l) = s {
                    Some(l.as_str())
                } else {
                    None
                }
            })
            .max_by_key(|l| l.len())
    }

    /// True when the (already case-folded, if needed) value matches the whole pattern.
    pub fn matches(&self, v: &str) -> bool {
        match &self.shape {
            Shape::Exact(l) => v == l,
            Shape::Prefix(l) => v.starts_with(l.as_str()),
            Shape::Suffix(l) => v.ends_with(l.as_str()),
            Shape::Contains(f) => f.find(v.as_bytes()).is_some(),
            Shape::General(segs) => general(segs, v),
        }
    }
}

/// Iterative matcher with single-star backtracking: on a mismatch, the last `*` absorbs one
/// more character. Linear in practice and never exponential.
fn general(segs: &[Seg], hay: &str) -> bool {
    let (mut pi, mut hi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < segs.len() {
            match &segs[pi] {
                Seg::Lit(l) if hay[hi..].starts_with(l.as_str()) => {
                    pi += 1;
                    hi += l.len();
                    continue;
                }
                Seg::One => {
                    if let Some(c) = hay[hi..].chars().next() {
                        pi += 1;
                        hi += c.len_utf8();
                        continue;
                    }
                }
                Seg::Any => {
                    star = Some((pi, hi));
                    pi += 1;
                    continue;
                }
                Seg::Lit(_) => {}
            }
        } else if hi == hay.len() {
            return true;
        }
        match star {
            Some((sp, sh)) => match hay[sh..].chars().next() {
                Some(c) => {
                    let nh = sh + c.len_utf8();
                    star = Some((sp, nh));
                    pi = sp + 1;
                    hi = nh;
                }
                None => return false,
            },
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn w(p: &str) -> Wild {
        Wild::new(&segs(p), false)
    }

    fn segs(p: &str) -> Vec<Seg> {
        let mut out = Vec::new();
        let mut lit = String::new();
        for c in p.chars() {
            match c {
                '*' | '?' => {
                    if !lit.is_empty() {
                        out.push(Seg::Lit(std::mem::take(&mut lit)));
                    }
                    out.push(if c == '*' { Seg::Any } else { Seg::One });
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            out.push(Seg::Lit(lit));
        }
        out
    }

    #[test]
    fn shapes_and_general() {
        assert!(w("prog?.exe").matches("progA.exe"));
        assert!(!w("prog?.exe").matches("prog.exe"));
        assert!(w("antivirus_V*.exe").matches("antivirus_V21.2.1.exe"));
        assert!(w("*a*b*").matches("xxaxxbxx"));
        assert!(!w("*a*b*").matches("xxbxxaxx"));
        assert!(w("a*").matches("a"));
        assert!(w("?é").matches("xé"));
        assert!(w("").matches(""));
        assert!(!w("").matches("x"));
    }

    fn oracle(p: &str) -> regex::Regex {
        let mut r = String::from("(?s)^");
        for c in p.chars() {
            match c {
                '*' => r.push_str(".*"),
                '?' => r.push('.'),
                c => r.push_str(&regex::escape(&c.to_string())),
            }
        }
        r.push('$');
        regex::Regex::new(&r).unwrap()
    }

    proptest! {
        #[test]
        fn agrees_with_a_regex_oracle(p in "[ab*?é]{0,8}", v in "[abé]{0,10}") {
            prop_assert_eq!(w(&p).matches(&v), oracle(&p).is_match(&v), "pattern {:?} value {:?}", p, v);
        }
    }
}
