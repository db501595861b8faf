//! An exact prefilter on raw event lines: literals that any match of a search requires, found
//! with one multi-pattern (Aho-Corasick) pass over the line's bytes for every search at once.
//!
//! A search's requirement is a conjunction of clauses, each a set of literals one of which
//! must occur in the line (computed from the expression's AND/OR structure; only positive
//! string tests contribute). A line none of whose clauses hold for a search cannot match it,
//! so the search is not evaluated and, when no search is left, the line is not parsed.
//!
//! Why it is exact (docs/semantics.md, "Raw-line prefilter"): a string test compares the
//! event's decoded value, case-folded per character; the raw JSON line holds that value with
//! its escapes. The prefilter only looks for ASCII runs of a literal, in JSON-escaped form and
//! ASCII case-insensitively, and only on *safe* lines:
//! - no `\u` escape (it could spell any character) and no `\/` escape (an alternative form
//!   of `/`); the remaining escapes (`\" \\ \b \f \n \r \t`) are the only way to write their
//!   characters, so escaping is a per-character mapping and a decoded substring appears
//!   escaped in the raw line;
//! - no character outside ASCII whose lower- or upper-case form holds an ASCII letter (`İ`,
//!   the Kelvin sign, `ſ`, ligatures such as `ﬁ`, …): every other character folds to a
//!   non-ASCII one, so the ASCII run of a folded literal can only come from ASCII text that
//!   equals it up to ASCII case.
//!
//! Literals made only of characters a number's text may hold (`0-9 . + - e E`) are not used,
//! because a number's text as the matcher sees it (`1e3` reads as `1000.0`) differs from its
//! raw form. Unsafe lines make every search a candidate.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use sigil_ir::{Case, Expr, Predicate, Seg, Test, Value as IrValue};
use std::collections::HashMap;

/// At most this many clauses are kept per search (the most selective ones).
const MAX_CLAUSES: usize = 3;

/// Characters outside ASCII whose lower- or upper-case form contains an ASCII character: a
/// line holding one may match a literal it does not spell, so it is not prefiltered. The
/// list is checked against every Unicode scalar value by a test.
pub const FOLDS_TO_ASCII: &[char] = &[
    '\u{DF}', '\u{130}', '\u{131}', '\u{149}', '\u{17F}', '\u{1F0}', '\u{1E96}', '\u{1E97}',
    '\u{1E98}', '\u{1E99}', '\u{1E9A}', '\u{212A}', '\u{FB00}', '\u{FB01}', '\u{FB02}', '\u{FB03}',
    '\u{FB04}', '\u{FB05}', '\u{FB06}',
];

/// What a search needs to possibly match: clauses of atoms (raw-line literals here; the
/// engine also uses indexed test ids).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Need<A = Vec<u8>> {
    /// Nothing is known: every line is a candidate.
    Any,
    /// Every clause must hold: one of its atoms occurs (for literals: lower-case,
    /// JSON-escaped bytes found in the line, ASCII case-insensitively). An empty clause
    /// never holds.
    All(Vec<Vec<A>>),
}

/// The literals any match of `e` requires.
pub fn need(e: &Expr) -> Need {
    need_by(e, &mut literal, &|l: &Vec<u8>| l.len(), &simplify)
}

/// What any match of `e` requires, given the clause each predicate requires (`atom`), a
/// selectivity score of atoms (longer literals are rarer) and a clause simplifier.
pub fn need_by<A: Clone + Ord>(
    e: &Expr,
    atom: &mut dyn FnMut(&Predicate) -> Option<Vec<A>>,
    score: &dyn Fn(&A) -> usize,
    simplify: &dyn Fn(Vec<A>) -> Vec<A>,
) -> Need<A> {
    // Higher is more selective: best shortest atom first, then fewer atoms.
    let quality = |c: &[A]| {
        let shortest = c.iter().map(score).min().unwrap_or(usize::MAX);
        (shortest.min(64), std::cmp::Reverse(c.len()))
    };
    match e {
        Expr::Pred(p) => match atom(p) {
            Some(c) => Need::All(vec![simplify(c)]),
            None => Need::Any,
        },
        Expr::And(items) => {
            let mut clauses: Vec<Vec<A>> = Vec::new();
            for i in items {
                if let Need::All(c) = need_by(i, atom, score, simplify) {
                    clauses.extend(c);
                }
            }
            if clauses.is_empty() {
                return Need::Any;
            }
            clauses.sort_by_key(|c| std::cmp::Reverse(quality(c)));
            clauses.dedup();
            clauses.truncate(MAX_CLAUSES);
            Need::All(clauses)
        }
        Expr::Or(items) => {
            let mut union = Vec::new();
            for i in items {
                match need_by(i, atom, score, simplify) {
                    Need::Any => return Need::Any,
                    Need::All(c) => {
                        // The best clause of each branch: any match satisfies one branch.
                        if let Some(best) = c.into_iter().max_by_key(|c| quality(c)) {
                            union.extend(best);
                        }
                    }
                }
            }
            Need::All(vec![simplify(union)])
        }
        Expr::Not(_) => Need::Any,
        Expr::Const(true) => Need::Any,
        Expr::Const(false) => Need::All(vec![Vec::new()]),
    }
}

/// Sorts and deduplicates a clause, and drops literals that contain another of its literals
/// (when the longer one occurs, so does the shorter: the clause holds either way).
fn simplify(mut c: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    c.sort_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)));
    c.dedup();
    let mut kept: Vec<Vec<u8>> = Vec::with_capacity(c.len());
    for l in c {
        if !kept.iter().any(|k| memchr::memmem::find(&l, k).is_some()) {
            kept.push(l);
        }
    }
    kept
}

/// The clause a positive string test requires in the raw line, if it requires one: a
/// literal of it, or the spellings of one of its characters.
fn literal(p: &Predicate) -> Option<Vec<Vec<u8>>> {
    let (parts, case): (Vec<&str>, Case) = match &p.test {
        Test::Eq(IrValue::Str(s), c) => (vec![s.as_str()], *c),
        Test::Pattern(pat, c) => (
            pat.0
                .iter()
                .filter_map(|s| match s {
                    Seg::Lit(l) => Some(l.as_str()),
                    _ => None,
                })
                .collect(),
            *c,
        ),
        _ => return None,
    };
    let mut options: Vec<Vec<Vec<u8>>> = Vec::new();
    for part in parts {
        if case == Case::Sensitive {
            // Compared as is: the raw line spells the literal exactly.
            if !numeric(part) {
                options.push(vec![json_escaped(part)]);
            }
            continue;
        }
        // Case-insensitive: value and literal are folded per character. Runs of characters
        // that only they themselves fold like (ASCII letters up to ASCII case) stay literal;
        // another character gives the clause of every character folding like it.
        let mut run = String::new();
        for c in part.chars().chain(std::iter::once('\0')) {
            if c == '\0' || !c.is_ascii() && !fold_alone(c) {
                if !run.is_empty() && !numeric(&run) {
                    options.push(vec![json_escaped(&run)]);
                }
                run.clear();
                if c != '\0' {
                    let mut class: Vec<Vec<u8>> = fold_class(c)
                        .into_iter()
                        .map(|d| d.to_string().into_bytes())
                        .collect();
                    class.sort();
                    options.push(class);
                }
            } else {
                run.push(c);
            }
        }
    }
    // The most selective option: longest shortest literal, then fewest literals.
    options.into_iter().max_by_key(|c| {
        let shortest = c.iter().map(Vec::len).min().unwrap_or(0);
        (shortest.min(64), std::cmp::Reverse(c.len()))
    })
}

/// Text a number's text could hold (`1e3` reads as `1000.0`): not usable as a literal.
fn numeric(run: &str) -> bool {
    run.bytes().all(|b| b"0123456789.+-eE".contains(&b))
}

/// How [`crate::pattern::fold`] folds one character.
fn fold_char(c: char) -> char {
    let mut b = [0u8; 4];
    crate::pattern::fold(c.encode_utf8(&mut b))
        .chars()
        .next()
        .unwrap_or(c)
}

/// For every character that other characters fold to, those others.
fn folded_from() -> &'static HashMap<char, Vec<char>> {
    static MAP: std::sync::OnceLock<HashMap<char, Vec<char>>> = std::sync::OnceLock::new();
    MAP.get_or_init(|| {
        let mut m: HashMap<char, Vec<char>> = HashMap::new();
        for c in (0x80u32..=0x10FFFF).filter_map(char::from_u32) {
            let f = fold_char(c);
            if f != c {
                m.entry(f).or_default().push(c);
            }
        }
        m
    })
}

/// True when `c` folds to itself and no other character folds to it.
fn fold_alone(c: char) -> bool {
    fold_char(c) == c && !folded_from().contains_key(&c)
}

/// Every character that folds like `c`.
fn fold_class(c: char) -> Vec<char> {
    let f = fold_char(c);
    let mut out: Vec<char> = folded_from().get(&f).cloned().unwrap_or_default();
    if fold_char(f) == f {
        out.push(f);
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// An ASCII run in the form a JSON string spells it, lower-cased.
fn json_escaped(run: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(run.len() + 2);
    for b in run.bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b if b < 0x20 => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            b => out.push(b.to_ascii_lowercase()),
        }
    }
    out
}

/// How the literals are searched: one finder each for a few, an automaton for many.
#[derive(Clone, Debug)]
enum Search {
    Few(Vec<memchr::memmem::Finder<'static>>),
    Many(AhoCorasick),
}

/// At most this many literals are searched one by one (each a SIMD substring search).
const FEW: usize = 8;

/// Which leaves hold, given which atoms occur: the clause bookkeeping of a set of needs.
#[derive(Clone, Debug, Default)]
pub struct Clauses {
    /// Atom `a` → the clauses it satisfies: `atom_clause_ids[atom_start[a]..atom_start[a + 1]]`
    /// (one flat array: an event's hits walk it without a pointer per atom).
    atom_start: Vec<u32>,
    atom_clause_ids: Vec<u32>,
    /// Clause → its leaf.
    clause_leaf: Vec<u32>,
    /// Leaf → clauses it needs (0: always a candidate).
    leaf_need: Vec<u32>,
    /// Leaves that are candidates whatever occurs.
    always: Vec<u32>,
}

/// Working memory of [`Clauses`] (reused across events).
#[derive(Clone, Debug, Default)]
pub struct ClauseScratch {
    generation: u32,
    atom_seen: Vec<u32>,
    clause_seen: Vec<u32>,
    leaf_seen: Vec<u32>,
    leaf_hits: Vec<u32>,
    /// The candidate leaves, ascending, after [`Clauses::finish`].
    pub leaves: Vec<u32>,
}

impl Clauses {
    /// The bookkeeping of leaf `i` needing `needs[i]`, atoms numbered by `atom_id`.
    pub fn new<A>(needs: &[Need<A>], mut atom_id: impl FnMut(&A) -> u32) -> Clauses {
        let mut c = Clauses::default();
        let mut atom_clauses: Vec<Vec<u32>> = Vec::new();
        for (leaf, n) in needs.iter().enumerate() {
            match n {
                Need::Any => {
                    c.leaf_need.push(0);
                    c.always.push(leaf as u32);
                }
                Need::All(clauses) => {
                    c.leaf_need.push(clauses.len() as u32);
                    for cl in clauses {
                        let cid = c.clause_leaf.len() as u32;
                        c.clause_leaf.push(leaf as u32);
                        for a in cl {
                            let id = atom_id(a) as usize;
                            if id >= atom_clauses.len() {
                                atom_clauses.resize(id + 1, Vec::new());
                            }
                            atom_clauses[id].push(cid);
                        }
                    }
                }
            }
        }
        c.atom_start.push(0);
        for list in &atom_clauses {
            c.atom_clause_ids.extend_from_slice(list);
            c.atom_start.push(c.atom_clause_ids.len() as u32);
        }
        c
    }

    /// Number of atoms.
    fn atoms(&self) -> usize {
        self.atom_start.len().saturating_sub(1)
    }

    /// Number of leaves.
    pub fn leaves(&self) -> usize {
        self.leaf_need.len()
    }

    /// Leaves that are candidates whatever occurs.
    pub fn always(&self) -> &[u32] {
        &self.always
    }

    /// Starts an event.
    pub fn begin(&self, sc: &mut ClauseScratch) {
        if sc.leaf_seen.len() != self.leaf_need.len()
            || sc.atom_seen.len() != self.atoms()
            || sc.generation == u32::MAX
        {
            *sc = ClauseScratch {
                generation: 0,
                atom_seen: vec![0; self.atoms()],
                clause_seen: vec![0; self.clause_leaf.len()],
                leaf_seen: vec![0; self.leaf_need.len()],
                leaf_hits: vec![0; self.leaf_need.len()],
                leaves: Vec::new(),
            };
        }
        sc.generation += 1;
        sc.leaves.clear();
    }

    /// Atom `a` occurs.
    #[inline]
    pub fn hit(&self, a: usize, sc: &mut ClauseScratch) {
        let g = sc.generation;
        if a >= self.atoms() || sc.atom_seen[a] == g {
            return;
        }
        sc.atom_seen[a] = g;
        let (from, to) = (self.atom_start[a] as usize, self.atom_start[a + 1] as usize);
        for &c in &self.atom_clause_ids[from..to] {
            let c = c as usize;
            if sc.clause_seen[c] == g {
                continue;
            }
            sc.clause_seen[c] = g;
            let leaf = self.clause_leaf[c] as usize;
            if sc.leaf_seen[leaf] != g {
                sc.leaf_seen[leaf] = g;
                sc.leaf_hits[leaf] = 0;
            }
            sc.leaf_hits[leaf] += 1;
            if sc.leaf_hits[leaf] == self.leaf_need[leaf] {
                sc.leaves.push(leaf as u32);
            }
        }
    }

    /// Ends an event: `sc.leaves` holds the candidate leaves, ascending.
    pub fn finish(&self, sc: &mut ClauseScratch) {
        sc.leaves.extend_from_slice(&self.always);
        sc.leaves.sort_unstable();
    }
}

/// The compiled prefilter over a set of searches (leaves), numbered from 0.
#[derive(Clone, Debug)]
pub struct Prefilter {
    /// Over the lower-cased line; pattern `i` is literal `i`.
    search: Search,
    clauses: Clauses,
}

/// Per-line working memory of [`Prefilter::scan`] (reused across lines).
#[derive(Clone, Debug, Default)]
pub struct Scratch {
    clauses: ClauseScratch,
    lower: Vec<u8>,
    /// The candidate leaves of the last line scanned, ascending.
    pub leaves: Vec<u32>,
}

impl Prefilter {
    /// Builds the prefilter of searches given by their needs, leaf `i` being `needs[i]`.
    pub fn new(needs: &[Need]) -> Prefilter {
        let mut lit_ids: HashMap<Vec<u8>, u32> = HashMap::new();
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let clauses = Clauses::new(needs, |l: &Vec<u8>| {
            let l = l.to_ascii_lowercase();
            *lit_ids.entry(l.clone()).or_insert_with(|| {
                patterns.push(l);
                (patterns.len() - 1) as u32
            })
        });
        let search = if patterns.len() <= FEW {
            Search::Few(
                patterns
                    .iter()
                    .map(|p| memchr::memmem::Finder::new(p).into_owned())
                    .collect(),
            )
        } else {
            // A DFA is fastest while it stays small; large sets run no faster as one.
            let kind = if patterns.len() <= 256 {
                AhoCorasickKind::DFA
            } else {
                AhoCorasickKind::ContiguousNFA
            };
            let ac = AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .kind(Some(kind))
                .build(&patterns)
                .or_else(|_| {
                    AhoCorasickBuilder::new()
                        .match_kind(MatchKind::Standard)
                        .build(&patterns)
                })
                .expect("literal patterns always build");
            Search::Many(ac)
        };
        Prefilter { search, clauses }
    }

    /// Number of leaves.
    pub fn leaves(&self) -> usize {
        self.clauses.leaves()
    }

    /// Leaves that are candidates on every line (their searches require no literal).
    pub fn always(&self) -> &[u32] {
        self.clauses.always()
    }

    /// True when some line can have no candidate at all: only then can lines be skipped.
    pub fn can_skip_lines(&self) -> bool {
        self.clauses.always().is_empty() && self.leaves() > 0
    }

    /// True when the line may hide a literal: an escape that is not the only spelling of
    /// its character, or a character that folds to ASCII. Candidates found in an unsafe
    /// line do not count: every leaf is one.
    pub fn unsafe_line(&self, line: &[u8]) -> bool {
        // Any escape but the sole spellings (`\" \\ \b \f \n \r \t`) may hide a literal;
        // invalid ones are left to the full parse to report.
        !crate::raw::escapes_ok(line) || !line.is_ascii() && crate::raw::folds_to_ascii(line)
    }

    /// Scans a line. Returns false when the line is not safe to prefilter (every leaf is a
    /// candidate); otherwise `sc.leaves` holds the candidate leaves, ascending.
    pub fn scan(&self, line: &[u8], sc: &mut Scratch) -> bool {
        if self.unsafe_line(line) {
            return false;
        }
        self.candidates(line, sc);
        true
    }

    /// The candidate leaves of a line in `sc.leaves`, ascending, *provided the line is safe*
    /// (see [`Prefilter::unsafe_line`]; [`crate::raw::TimeReader::time`] accepts only safe
    /// lines too).
    pub fn candidates(&self, line: &[u8], sc: &mut Scratch) {
        let cs = &mut sc.clauses;
        self.clauses.begin(cs);
        let lower = &mut sc.lower;
        lower.clear();
        // One pass (copying, then lower-casing in place, is twice as slow).
        lower.extend(line.iter().map(u8::to_ascii_lowercase));
        match &self.search {
            Search::Few(finders) => {
                for (l, f) in finders.iter().enumerate() {
                    if f.find(lower).is_some() {
                        self.clauses.hit(l, cs);
                    }
                }
            }
            Search::Many(ac) => {
                for m in ac.find_overlapping_iter(&lower[..]) {
                    self.clauses.hit(m.pattern().as_usize(), cs);
                }
            }
        }
        self.clauses.finish(cs);
        std::mem::swap(&mut sc.leaves, &mut cs.leaves);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigil_ir::{Pattern, Target};

    fn pred(field: &str, test: Test) -> Expr {
        Expr::Pred(Predicate {
            target: Target::Field(field.into()),
            test,
            span: None,
        })
    }
    fn contains(field: &str, lit: &str) -> Expr {
        pred(
            field,
            Test::Pattern(
                Pattern(vec![Seg::Any, Seg::Lit(lit.into()), Seg::Any]),
                Case::Insensitive,
            ),
        )
    }
    fn lits(n: &Need) -> Vec<Vec<String>> {
        match n {
            Need::Any => vec![],
            Need::All(c) => c
                .iter()
                .map(|c| {
                    c.iter()
                        .map(|l| String::from_utf8(l.clone()).unwrap())
                        .collect()
                })
                .collect(),
        }
    }

    #[test]
    fn every_char_folding_to_ascii_is_listed() {
        let mut found = Vec::new();
        for c in (0x80u32..=0x10FFFF).filter_map(char::from_u32) {
            if c.to_lowercase()
                .chain(c.to_uppercase())
                .any(|x| x.is_ascii())
            {
                found.push(c);
            }
        }
        assert_eq!(found, FOLDS_TO_ASCII);
        let mut leads: Vec<u8> = found.iter().map(|c| c.to_string().as_bytes()[0]).collect();
        leads.sort();
        leads.dedup();
        assert_eq!(
            leads,
            [0xC3, 0xC4, 0xC5, 0xC7, 0xE1, 0xE2, 0xEF],
            "raw::folds_to_ascii"
        );
    }

    #[test]
    fn needs_from_structure() {
        let e = Expr::And(vec![
            Expr::Or(vec![
                contains("Image", "\\Whoami.exe"),
                contains("CommandLine", "whoami"),
            ]),
            contains("CommandLine", "/all"),
            Expr::Not(Box::new(contains("User", "system"))),
        ]);
        assert_eq!(
            lits(&need(&e)),
            vec![vec!["whoami"], vec!["/all"]],
            "the superstring \\\\whoami.exe is dropped from its clause"
        );
        assert_eq!(need(&Expr::Not(Box::new(contains("a", "x")))), Need::Any);
        let or_any = Expr::Or(vec![contains("a", "x"), pred("b", Test::Null)]);
        assert_eq!(need(&or_any), Need::Any);
        assert_eq!(
            need(&pred(
                "a",
                Test::Eq(IrValue::Str("12.5e3".into()), Case::Insensitive)
            )),
            Need::Any,
            "a number's text may differ from its raw form"
        );
        assert_eq!(
            lits(&need(&pred(
                "a",
                Test::Eq(IrValue::Str("Microsoft® Windows".into()), Case::Insensitive)
            ))),
            vec![vec!["microsoft® windows"]],
            "® has no case"
        );
        assert_eq!(
            lits(&need(&contains("a", "ΑΒ"))),
            vec![vec!["Β", "β"]],
            "a cased letter: every character that folds like it"
        );
        assert_eq!(
            lits(&need(&pred(
                "a",
                Test::Eq(IrValue::Str("ÉtéX".into()), Case::Sensitive)
            ))),
            vec![vec!["Étéx"]],
            "case-sensitive: the literal as is (ASCII case aside)"
        );
        assert_eq!(
            lits(&need(&contains("a", "say \"hi\"\\"))),
            vec![vec!["say \\\"hi\\\"\\\\"]]
        );
    }

    #[test]
    fn scan_finds_candidates_and_refuses_unsafe_lines() {
        let needs = vec![
            need(&contains("CommandLine", "whoami")),
            need(&Expr::And(vec![
                contains("CommandLine", "net"),
                contains("CommandLine", "user"),
            ])),
            Need::Any,
        ];
        let pf = Prefilter::new(&needs);
        let mut sc = Scratch::default();
        assert!(pf.scan(br#"{"CommandLine": "WHOAMI /all"}"#, &mut sc));
        assert_eq!(sc.leaves, vec![0, 2]);
        assert!(pf.scan(br#"{"CommandLine": "net use"}"#, &mut sc));
        assert_eq!(sc.leaves, vec![2]);
        assert!(pf.scan(br#"{"CommandLine": "net user x"}"#, &mut sc));
        assert_eq!(sc.leaves, vec![1, 2]);
        assert!(!pf.scan(br#"{"CommandLine": "\u0077hoami"}"#, &mut sc));
        assert!(pf.scan(br#"{"CommandLine": "C:\\users\\x"}"#, &mut sc));
        assert!(!pf.scan(br#"{"CommandLine": "C:\\\u0077"}"#, &mut sc));
        assert!(!pf.scan(br#"{"a": "a\/b"}"#, &mut sc));
        assert!(!pf.scan("{\"a\": \"\u{212A}\"}".as_bytes(), &mut sc));
    }
}
