//! Literal tests indexed by field: every equals / prefix / suffix / contains test of every
//! rule on one field (per layout and case rule) goes into one Aho-Corasick automaton, so an
//! event's value is searched once for all of them. Each test gets an id; per event the index
//! yields the set of tests that hold, which the matcher reads instead of comparing strings,
//! and the engine uses to pick candidate rules.
//!
//! A test holds exactly when the string comparison it replaces would: the automaton reports
//! every occurrence of every literal (overlapping search), and a literal occurring at
//! `[s, e)` in a value of length `n` satisfies contains, prefix when `s = 0`, suffix when
//! `e = n`, and equals when both. Case-insensitive tests search the folded values the
//! matcher compares, case-sensitive ones the values' text.

use crate::event::Layout;
use daachorse::DoubleArrayAhoCorasick;
use sigil_ir::{Case, Predicate, Seg, Test, Value as IrValue};
use std::collections::HashMap;

/// How a literal must sit in the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The whole value.
    Exact,
    /// At the start.
    Prefix,
    /// At the end.
    Suffix,
    /// Anywhere.
    Contains,
}

/// One indexable test: field, layout, case rule, placement and literal (folded when
/// case-insensitive, as the matcher folds it).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LitKey {
    field: usize,
    windows: bool,
    ci: bool,
    kind: Kind,
    lit: String,
}

impl LitKey {
    /// The key of a predicate on field `field` (interned id), or `None` when it is not a
    /// literal test (regexes, numbers, wildcards in the middle, empty literals, …).
    pub fn of(p: &Predicate, field: usize, layout: Layout) -> Option<LitKey> {
        let (kind, lit, case) = match &p.test {
            Test::Eq(IrValue::Str(s), c) => (Kind::Exact, s.as_str(), *c),
            Test::Pattern(pat, c) => match pat.0.as_slice() {
                [Seg::Lit(l)] => (Kind::Exact, l.as_str(), *c),
                [Seg::Lit(l), Seg::Any] => (Kind::Prefix, l.as_str(), *c),
                [Seg::Any, Seg::Lit(l)] => (Kind::Suffix, l.as_str(), *c),
                [Seg::Any, Seg::Lit(l), Seg::Any] => (Kind::Contains, l.as_str(), *c),
                _ => return None,
            },
            _ => return None,
        };
        let ci = case == Case::Insensitive;
        let lit = if ci {
            crate::pattern::fold(lit)
        } else {
            lit.to_string()
        };
        if lit.is_empty() {
            return None;
        }
        Some(LitKey {
            field,
            windows: layout == Layout::Windows,
            ci,
            kind,
            lit,
        })
    }
}

/// Contains-tests any match of a predicate that is not itself indexable requires (one of
/// them holds whenever it matches): a wildcard pattern's longest literal, the prefix
/// literals of a regex. `None` when nothing is known.
pub fn implied(p: &Predicate, field: usize, layout: Layout) -> Option<Vec<LitKey>> {
    let key = |lit: String, ci: bool| LitKey {
        field,
        windows: layout == Layout::Windows,
        ci,
        kind: Kind::Contains,
        lit,
    };
    match &p.test {
        Test::Pattern(pat, c) => {
            let ci = *c == Case::Insensitive;
            let longest = pat
                .0
                .iter()
                .filter_map(|s| match s {
                    Seg::Lit(l) => Some(l),
                    _ => None,
                })
                .max_by_key(|l| l.len())?;
            let lit = if ci {
                crate::pattern::fold(longest)
            } else {
                longest.clone()
            };
            (!lit.is_empty()).then(|| vec![key(lit, ci)])
        }
        Test::Regex(src, f) => {
            // The regex searches the value's text. Every match starts with one of its prefix
            // literals (when they are finitely many), and contains one of the literals each
            // required part of it holds: whichever of the two selects better.
            let hir = regex_syntax::ParserBuilder::new()
                .case_insensitive(f.ignore_case)
                .multi_line(f.multi_line)
                .dot_matches_new_line(f.dot_all)
                .build()
                .parse(src)
                .ok()?;
            let prefixes = regex_syntax::hir::literal::Extractor::new()
                .extract(&hir)
                .literals()
                .filter(|l| !l.is_empty() && l.len() <= 64)
                .map(|l| l.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>());
            let inner = required(&hir).filter(|l| l.len() <= 64);
            let score = |l: &Vec<Vec<u8>>| match l.iter().map(Vec::len).min() {
                // One byte selects only when it is rare (a backtick, not a space or dot).
                Some(1)
                    if l.iter().all(|x| {
                        x.len() > 1
                            || x[0].is_ascii_punctuation() && !b".\\-/:,_=\"'".contains(&x[0])
                    }) =>
                {
                    1
                }
                Some(1) | None => 0,
                Some(n) => n,
            };
            let best = [prefixes, inner]
                .into_iter()
                .flatten()
                .filter(|l| score(l) > 0)
                .max_by_key(score)?;
            // Case-insensitive tests on the folded text: when the text holds a literal, its
            // folded form holds the folded literal (folding is per character), and a letter
            // class of `(?i)` (`[Aa]`, `[Kk\u{212A}]`) folds to its letter.
            let mut keys: Vec<LitKey> = best
                .iter()
                .map(|l| {
                    let s = std::str::from_utf8(l).ok()?;
                    Some(key(crate::pattern::fold(s), true))
                })
                .collect::<Option<_>>()?;
            keys.sort_by(|a, b| a.lit.cmp(&b.lit));
            keys.dedup();
            Some(keys)
        }
        _ => None,
    }
}

/// The letter a `(?i)` class stands for, when every character of the class folds to it:
/// `[Aa]`, `[Kk\u{212A}]` (not `[Ssſ]`: `ſ` folds to itself).
fn case_letter(h: &regex_syntax::hir::Hir) -> Option<u8> {
    use regex_syntax::hir::{Class, HirKind};
    let HirKind::Class(Class::Unicode(c)) = h.kind() else {
        return None;
    };
    let chars: Vec<char> = c.iter().flat_map(|r| r.start()..=r.end()).take(4).collect();
    match chars.as_slice() {
        [u, l] if u.is_ascii_uppercase() && *l == u.to_ascii_lowercase() => Some(*l as u8),
        ['K', 'k', '\u{212A}'] => Some(b'k'),
        _ => None,
    }
}

/// Literals one of which every match of `h` contains, up to case (`None`: nothing is
/// known): literal nodes, and letters written case-insensitively.
fn required(h: &regex_syntax::hir::Hir) -> Option<Vec<Vec<u8>>> {
    use regex_syntax::hir::HirKind;
    let better = |a: Option<Vec<Vec<u8>>>, b: Option<Vec<Vec<u8>>>| {
        let min = |l: &Vec<Vec<u8>>| l.iter().map(Vec::len).min().unwrap_or(0);
        match (a, b) {
            (Some(a), Some(b)) => Some(if min(&b) > min(&a) { b } else { a }),
            (a, b) => a.or(b),
        }
    };
    match h.kind() {
        HirKind::Literal(l) if !l.0.is_empty() => Some(vec![l.0.to_vec()]),
        HirKind::Capture(c) => required(&c.sub),
        HirKind::Repetition(r) if r.min >= 1 => required(&r.sub),
        HirKind::Concat(items) => {
            // Adjacent literals (and `(?i)` letters) form one longer literal.
            let mut best = None;
            let mut run: Vec<u8> = Vec::new();
            for x in items {
                if let HirKind::Literal(l) = x.kind() {
                    run.extend_from_slice(&l.0);
                    continue;
                }
                if let Some(c) = case_letter(x) {
                    run.push(c);
                    continue;
                }
                if !run.is_empty() {
                    best = better(best, Some(vec![std::mem::take(&mut run)]));
                }
                best = better(best, required(x));
            }
            if !run.is_empty() {
                best = better(best, Some(vec![run]));
            }
            best
        }
        HirKind::Alternation(items) => {
            let mut all = Vec::new();
            for x in items {
                all.extend(required(x)?);
            }
            Some(all)
        }
        _ => None,
    }
}

/// Tests that one literal of a group can satisfy, by placement (equality is looked up).
#[derive(Clone, Debug, Default)]
struct PatTests {
    prefix: Vec<u32>,
    suffix: Vec<u32>,
    contains: Vec<u32>,
}

/// A double-array Aho-Corasick automaton (pattern value: index in the group's `pats`).
#[derive(Clone)]
struct Automaton(DoubleArrayAhoCorasick<u32>);

impl std::fmt::Debug for Automaton {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Automaton({} bytes)", self.0.heap_bytes())
    }
}

/// The automaton of one field, layout and case rule.
#[derive(Clone, Debug)]
struct Group {
    field: usize,
    layout: Layout,
    ci: bool,
    /// Equality tests by literal: one lookup of the whole value.
    exact: HashMap<Box<str>, Vec<u32>, FxBuild>,
    /// The other tests' literals, when there are any (pattern value: index in `pats`).
    ac: Option<Automaton>,
    pats: Vec<PatTests>,
}

/// The registry of literal tests and, once built, their automata.
#[derive(Clone, Debug, Default)]
pub struct LitIndex {
    ids: HashMap<LitKey, u32>,
    tests: Vec<LitKey>,
    groups: Vec<Group>,
    built: bool,
    /// Per group: tests satisfied by values seen before.
    memo: std::cell::RefCell<Vec<Memo>>,
}

/// The tests that hold for one event.
#[derive(Clone, Debug, Default)]
pub struct Hits {
    bits: Vec<u64>,
    /// Every test that holds, once.
    pub list: Vec<u32>,
}

impl Hits {
    /// True when test `id` holds.
    #[inline]
    pub fn get(&self, id: u32) -> bool {
        self.bits[(id / 64) as usize] & (1 << (id % 64)) != 0
    }

    fn set(&mut self, id: u32) {
        let w = &mut self.bits[(id / 64) as usize];
        let b = 1 << (id % 64);
        if *w & b == 0 {
            *w |= b;
            self.list.push(id);
        }
    }
}

impl LitIndex {
    /// The id of a test, registering it on first use. Adding tests undoes [`LitIndex::build`].
    pub fn register(&mut self, key: LitKey) -> u32 {
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let id = self.tests.len() as u32;
        self.ids.insert(key.clone(), id);
        self.tests.push(key);
        self.built = false;
        id
    }

    /// The id of a registered test.
    pub fn lookup(&self, key: &LitKey) -> Option<u32> {
        self.ids.get(key).copied()
    }

    /// Number of tests.
    pub fn len(&self) -> usize {
        self.tests.len()
    }

    /// True when no test is registered.
    pub fn is_empty(&self) -> bool {
        self.tests.is_empty()
    }

    /// True once the automata are built for every registered test.
    pub fn is_built(&self) -> bool {
        self.built
    }

    /// The length of a test's literal (longer literals select better).
    pub fn literal_len(&self, id: u32) -> usize {
        self.tests[id as usize].lit.len()
    }

    /// Builds one automaton per field, layout and case rule.
    pub fn build(&mut self) {
        let mut by_group: HashMap<(usize, bool, bool), Vec<u32>> = HashMap::new();
        for (id, k) in self.tests.iter().enumerate() {
            by_group
                .entry((k.field, k.windows, k.ci))
                .or_default()
                .push(id as u32);
        }
        let mut keys: Vec<(usize, bool, bool)> = by_group.keys().copied().collect();
        keys.sort_unstable();
        self.groups.clear();
        self.memo.borrow_mut().clear();
        for g in keys {
            let mut lits: Vec<&str> = Vec::new();
            let mut pats: Vec<PatTests> = Vec::new();
            let mut pos: HashMap<&str, usize> = HashMap::new();
            let mut exact: HashMap<Box<str>, Vec<u32>, FxBuild> = HashMap::default();
            for &id in &by_group[&g] {
                let k = &self.tests[id as usize];
                if k.kind == Kind::Exact {
                    exact.entry(k.lit.as_str().into()).or_default().push(id);
                    continue;
                }
                let p = *pos.entry(k.lit.as_str()).or_insert_with(|| {
                    lits.push(k.lit.as_str());
                    pats.push(PatTests::default());
                    lits.len() - 1
                });
                let t = &mut pats[p];
                match k.kind {
                    Kind::Prefix => t.prefix.push(id),
                    Kind::Suffix => t.suffix.push(id),
                    Kind::Contains | Kind::Exact => t.contains.push(id),
                }
            }
            // A double-array automaton: compact, and cheap to start on short values.
            let ac = (!lits.is_empty()).then(|| {
                Automaton(
                    DoubleArrayAhoCorasick::with_values(
                        lits.iter().zip(0u32..).map(|(l, i)| (*l, i)),
                    )
                    .expect("distinct, non-empty literals always build"),
                )
            });
            self.groups.push(Group {
                field: g.0,
                layout: if g.1 { Layout::Windows } else { Layout::Plain },
                ci: g.2,
                exact,
                ac,
                pats,
            });
        }
        self.built = true;
    }

    /// The tests that hold for the values `values(field, layout)` gives: the text of each
    /// group's field's values (folded here for case-insensitive groups). Results per value
    /// are remembered where values repeat (a field's values often do: images, hashes,
    /// products), so a repeated value costs one lookup.
    pub fn hits(&self, mut values: impl FnMut(usize, Layout, &mut dyn FnMut(&str))) -> Hits {
        let mut h = Hits {
            bits: vec![0; self.tests.len().div_ceil(64)],
            list: Vec::new(),
        };
        let mut memo = self.memo.borrow_mut();
        if memo.len() != self.groups.len() {
            *memo = vec![Memo::default(); self.groups.len()];
        }
        let mut buf = String::new();
        let mut ids = Vec::new();
        for (g, memo) in self.groups.iter().zip(memo.iter_mut()) {
            values(g.field, g.layout, &mut |text: &str| {
                let use_memo = memo.on() && text.len() <= MEMO_VALUE_LEN;
                if use_memo {
                    memo.lookups += 1;
                    if let Some(known) = memo.map.get(text) {
                        memo.hits += 1;
                        known.iter().for_each(|&id| h.set(id));
                        return;
                    }
                }
                let v: &str = if !g.ci {
                    text
                } else if text.is_ascii() {
                    buf.clear();
                    buf.push_str(text);
                    buf.make_ascii_lowercase();
                    &buf
                } else {
                    buf = crate::pattern::fold(text);
                    &buf
                };
                ids.clear();
                g.search(v, &mut ids);
                ids.iter().for_each(|&id| h.set(id));
                if use_memo && memo.map.len() < MEMO_ENTRIES {
                    memo.map.insert(text.into(), ids.as_slice().into());
                }
            });
        }
        h
    }
}

impl Group {
    /// The tests one (folded, if case-insensitive) value satisfies, pushed on `out`.
    fn search(&self, v: &str, out: &mut Vec<u32>) {
        if let Some(ids) = self.exact.get(v) {
            out.extend_from_slice(ids);
        }
        let Some(ac) = &self.ac else { return };
        let n = v.len();
        for m in ac.0.find_overlapping_iter(v) {
            let t = &self.pats[m.value() as usize];
            out.extend_from_slice(&t.contains);
            if m.start() == 0 {
                out.extend_from_slice(&t.prefix);
            }
            if m.end() == n {
                out.extend_from_slice(&t.suffix);
            }
        }
    }
}

/// Values longer than this are not remembered.
const MEMO_VALUE_LEN: usize = 512;
/// At most this many values are remembered per group.
const MEMO_ENTRIES: usize = 1 << 14;

/// The tests each value of one group satisfied, for values that repeat.
#[derive(Clone, Debug, Default)]
struct Memo {
    map: HashMap<Box<str>, Box<[u32]>, FxBuild>,
    lookups: u64,
    hits: u64,
}

impl Memo {
    /// Remembering stops paying when values rarely repeat (command lines): judged after a
    /// few thousand values.
    fn on(&self) -> bool {
        self.lookups < 4096 || self.hits * 4 >= self.lookups
    }
}

/// Hash maps keyed by short strings from events, with [`Fx`].
pub type FxBuild = std::hash::BuildHasherDefault<Fx>;

/// A fast, non-cryptographic hasher for strings from events. Sixteen bytes per step, each
/// step's 64×64→128-bit multiply independent of the state (folded in with a rotate and an
/// xor), so the multiplies of a long value (hashes, command lines) overlap in the pipeline
/// instead of waiting on each other as a multiply-rotate chain (rustc's `FxHasher`) does.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fx(u64);

const FX_K0: u64 = 0x243f_6a88_85a3_08d3;
const FX_K1: u64 = 0x1319_8a2e_0370_7344;
const FX_K2: u64 = 0xa409_3822_299f_31d0;

/// The two halves of a 128-bit product, xor-ed.
#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

#[inline(always)]
fn read_u64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().expect("eight bytes"))
}

impl std::hash::Hasher for Fx {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let n = bytes.len();
        let mut h = self.0 ^ (n as u64).wrapping_mul(FX_K0);
        if n <= 16 {
            // Short: two (possibly overlapping) words, or the bytes themselves.
            let (a, b) = if n >= 8 {
                (read_u64(bytes), read_u64(&bytes[n - 8..]))
            } else if n >= 4 {
                let lo = u64::from(u32::from_le_bytes(bytes[..4].try_into().expect("four")));
                let hi = u64::from(u32::from_le_bytes(bytes[n - 4..].try_into().expect("four")));
                (lo, hi)
            } else {
                let x = bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
                (x, 0)
            };
            h ^= fold_mul(a ^ FX_K1, b ^ FX_K2);
        } else {
            let mut chunks = bytes.chunks_exact(16);
            for c in &mut chunks {
                h = h.rotate_left(23) ^ fold_mul(read_u64(c) ^ FX_K1, read_u64(&c[8..]) ^ FX_K2);
            }
            // The last sixteen bytes (overlapping the chunks when the length is not a
            // multiple of sixteen).
            let t = &bytes[n - 16..];
            h = h.rotate_left(23) ^ fold_mul(read_u64(t) ^ FX_K2, read_u64(&t[8..]) ^ FX_K1);
        }
        self.0 = fold_mul(h, FX_K0);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sigil_ir::{Pattern, Target};

    fn key(kind: Kind, lit: &str) -> LitKey {
        LitKey {
            field: 0,
            windows: false,
            ci: false,
            kind,
            lit: lit.to_string(),
        }
    }

    fn holds(kind: Kind, lit: &str, v: &str) -> bool {
        match kind {
            Kind::Exact => v == lit,
            Kind::Prefix => v.starts_with(lit),
            Kind::Suffix => v.ends_with(lit),
            Kind::Contains => v.contains(lit),
        }
    }

    #[test]
    fn fx_hashes_spread() {
        use std::hash::BuildHasher;
        let mut seen = std::collections::HashSet::new();
        for len in 0..200usize {
            for i in 0..500u32 {
                let s: String = (0..len)
                    .map(|k| (b'a' + ((i as usize + k * 7) % 26) as u8) as char)
                    .collect();
                seen.insert(format!("{s}{i}"));
            }
        }
        let hash = |s: &str| FxBuild::default().hash_one(s);
        assert!(seen.iter().all(|s| hash(s) == hash(s)));
        let hashes: std::collections::HashSet<u64> = seen.iter().map(|s| hash(s)).collect();
        assert_eq!(hashes.len(), seen.len(), "no collisions");
    }

    proptest! {
        /// Every test holds in the index exactly when the string comparison holds.
        #[test]
        fn hits_agree_with_string_comparisons(
            lits in proptest::collection::vec("[ab]{1,3}", 1..6),
            values in proptest::collection::vec("[ab]{0,6}", 0..3),
        ) {
            let mut idx = LitIndex::default();
            let kinds = [Kind::Exact, Kind::Prefix, Kind::Suffix, Kind::Contains];
            let mut ids = Vec::new();
            for l in &lits {
                for k in kinds {
                    ids.push((idx.register(key(k, l)), k, l.clone()));
                }
            }
            idx.build();
            let h = idx.hits(|_, _, each| values.iter().for_each(|v| each(v)));
            for (id, k, l) in ids {
                let want = values.iter().any(|v| holds(k, &l, v));
                prop_assert_eq!(h.get(id), want, "{:?} {:?} over {:?}", k, l, values);
            }
        }
    }

    #[test]
    fn keys_of_predicates() {
        let p = |test| Predicate {
            target: Target::Field("f".into()),
            test,
            span: None,
        };
        let pat = |segs: Vec<Seg>| Test::Pattern(Pattern(segs), Case::Insensitive);
        let k = LitKey::of(
            &p(pat(vec![Seg::Any, Seg::Lit("ABC".into())])),
            3,
            Layout::Plain,
        );
        assert_eq!(
            k,
            Some(LitKey {
                field: 3,
                windows: false,
                ci: true,
                kind: Kind::Suffix,
                lit: "abc".into()
            })
        );
        let general = pat(vec![Seg::Lit("a".into()), Seg::Any, Seg::Lit("bcd".into())]);
        assert_eq!(LitKey::of(&p(general.clone()), 0, Layout::Plain), None);
        let imp = implied(&p(general), 0, Layout::Plain).unwrap();
        assert_eq!(imp[0].lit, "bcd");
        assert_eq!(imp[0].kind, Kind::Contains);
        let re = implied(
            &p(Test::Regex(
                "net\\s+(user|group)".into(),
                Default::default(),
            )),
            0,
            Layout::Plain,
        )
        .unwrap();
        assert!(re.iter().all(|k| k.ci && k.kind == Kind::Contains));
        // The required inner part (longer than the prefix `net`) is chosen.
        let lits: Vec<&str> = re.iter().map(|k| k.lit.as_str()).collect();
        assert_eq!(lits, ["group", "user"]);
        let tick = implied(
            &p(Test::Regex(
                "\\w+`(?:\\w+|-|.)`[\\w+|\\s]".into(),
                Default::default(),
            )),
            0,
            Layout::Plain,
        )
        .unwrap();
        assert_eq!(tick[0].lit, "`", "a rare single byte is used");
        let wsass = implied(
            &p(Test::Regex(
                "(?i)\\.exe[\"']?\\s+[^\"]{0,64}werfaultsecure\\.exe".into(),
                Default::default(),
            )),
            0,
            Layout::Plain,
        )
        .unwrap();
        let lits: Vec<&str> = wsass.iter().map(|k| k.lit.as_str()).collect();
        assert_eq!(
            lits,
            ["ecure.exe"],
            "(?i) letters count, but not s (ſ folds to itself)"
        );
        assert_eq!(
            implied(
                &p(Test::Regex("\\w+x".into(), Default::default())),
                0,
                Layout::Plain
            ),
            None
        );
    }
}
