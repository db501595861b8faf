//! Light reading of raw NDJSON lines, for lines the prefilter rules out: a validity check at
//! least as strict as serde_json's (so a line it accepts is a JSON object the full parse
//! would also accept) and the few top-level members an event's time is read from, without
//! building the whole event. Anything unusual returns `None`, and the caller parses in full.
//! Lines it accepts are also safe for the prefilter ([`crate::prefilter`]): no `\u` or `\/`
//! escape, no character that folds to ASCII.

use crate::prefilter::FOLDS_TO_ASCII;
use serde_json::{Map, Value};

/// Top-level keys that time fields may read: every dot-prefix of every time field path
/// (field lookup tries `a.b.c`, `a.b` then `c` below it, and `a` then `b.c` below it).
#[derive(Clone, Debug, Default)]
pub struct TopKeys {
    keys: Vec<Vec<u8>>,
    /// Bit `n` set: some key is `n` bytes long (63 stands for 63 or more).
    lengths: u64,
    /// Bit `b % 128` set: some key starts with byte `b`.
    firsts: u128,
}

impl TopKeys {
    /// The top-level keys that lookups of `paths` can touch.
    pub fn new<'a>(paths: impl IntoIterator<Item = &'a str>) -> TopKeys {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for p in paths {
            for (i, _) in p.match_indices('.') {
                keys.push(p.as_bytes()[..i].to_vec());
            }
            keys.push(p.as_bytes().to_vec());
        }
        keys.sort();
        keys.dedup();
        let lengths = keys.iter().fold(0u64, |m, k| m | 1 << k.len().min(63));
        let firsts = keys
            .iter()
            .filter_map(|k| k.first())
            .fold(0u128, |m, &b| m | 1 << (b % 128));
        TopKeys {
            keys,
            lengths,
            firsts,
        }
    }

    /// The index of a key among these keys.
    #[inline]
    fn index(&self, k: &[u8]) -> Option<usize> {
        if self.lengths & (1 << k.len().min(63)) == 0
            || k.first()
                .is_some_and(|&b| self.firsts & (1 << (b % 128)) == 0)
        {
            return None;
        }
        let first = k.first();
        self.keys
            .iter()
            .position(|x| x.len() == k.len() && x.first() == first && x[..] == k[..])
    }

    /// Bit `i` set for each key `i` that `paths` can touch (at most 64 keys count).
    fn mask<'a>(&self, paths: impl IntoIterator<Item = &'a str>) -> u64 {
        let want = TopKeys::new(paths);
        want.keys
            .iter()
            .filter_map(|k| self.index(k))
            .fold(0, |m, i| m | 1u64 << i.min(63))
    }
}

/// Validates `line` (already trimmed) as one JSON object and returns its top-level members
/// named in `keys` (the last of duplicates, as a full parse keeps). `None`: parse in full.
pub fn members(line: &[u8], keys: &TopKeys) -> Option<Map<String, Value>> {
    let mut found = Found::default();
    member_ranges(line, keys, &mut found)?;
    let mut map = Map::new();
    for m in found.all() {
        map.insert(text_of(&line[m.key()])?, value_of(&line[m.value()])?);
    }
    Some(map)
}

/// A top-level member: its key's raw range, the key's index in the [`TopKeys`], and the
/// value's raw range.
#[derive(Clone, Copy, Debug, Default)]
struct Member {
    key: (usize, usize),
    index: usize,
    value: (usize, usize),
}

impl Member {
    fn key(&self) -> std::ops::Range<usize> {
        self.key.0..self.key.1
    }
    fn value(&self) -> std::ops::Range<usize> {
        self.value.0..self.value.1
    }
}

/// At most this many named members are collected from a line (more, which takes duplicate
/// keys, and the line is parsed in full).
const MAX_FOUND: usize = 8;

/// The named members of a line, in line order (no allocation per line).
#[derive(Debug, Default)]
struct Found {
    n: usize,
    m: [Member; MAX_FOUND],
}

impl Found {
    fn all(&self) -> &[Member] {
        &self.m[..self.n]
    }
}

/// True when every backslash escape of the line is one of `\" \\ \b \f \n \r \t`: the only
/// spellings of their characters (so no `\u`, no `\/`, nothing invalid).
pub fn escapes_ok(line: &[u8]) -> bool {
    // Backslashes pair up from the start: a backslash right after an escape's backslash is
    // the escaped character. (Outside strings a backslash is invalid anyway, and the
    // structural scan refuses it.)
    let mut free = 0;
    for i in memchr::memchr_iter(b'\\', line) {
        if i < free {
            continue;
        }
        match line.get(i + 1) {
            Some(b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't') => free = i + 2,
            _ => return false,
        }
    }
    true
}

/// Validates the line; the key and value ranges of the top-level members named in `keys`.
fn member_ranges(line: &[u8], keys: &TopKeys, found: &mut Found) -> Option<()> {
    // No raw control character (never valid inside strings; outside them only tabs and line
    // breaks are, and refusing those is merely stricter). The other rules for what strings
    // hold are checked by the block index as strings are skipped; outside them the grammar
    // below accepts ASCII only.
    if line.iter().fold(u8::MAX, |m, &c| m.min(c)) < 0x20 {
        return None;
    }
    let mut p = P {
        b: line,
        i: 0,
        blocks: Blocks::default(),
    };
    found.n = 0;
    p.eat(b'{')?;
    p.ws();
    if p.peek()? == b'}' {
        p.i += 1;
    } else {
        loop {
            p.ws();
            let key = p.string()?;
            p.ws();
            p.eat(b':')?;
            p.ws();
            let start = p.i;
            // Most values are strings: no call through the general value parser for them.
            if p.peek()? == b'"' {
                p.string()?;
            } else {
                p.value(1)?;
            }
            if let Some(index) = keys.index(&line[key.clone()]) {
                *found.m.get_mut(found.n)? = Member {
                    key: (key.start, key.end),
                    index,
                    value: (start, p.i),
                };
                found.n += 1;
            }
            p.ws();
            match p.peek()? {
                b',' => p.i += 1,
                b'}' => {
                    p.i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    p.ws();
    (p.i == line.len()).then_some(())
}

/// A key's text (keys read here hold no escapes).
fn text_of(raw: &[u8]) -> Option<String> {
    std::str::from_utf8(raw).ok().map(str::to_string)
}

/// A member's value: plain strings directly, anything else through serde_json.
fn value_of(raw: &[u8]) -> Option<Value> {
    if let [b'"', inner @ .., b'"'] = raw
        && !inner.contains(&b'\\')
    {
        return text_of(inner).map(Value::String);
    }
    serde_json::from_slice(raw).ok()
}

/// Reads an event's time from a raw line as [`crate::Event::time_of`] reads it from the
/// parsed event: the first of the time fields that parses, looked up by the same rules.
#[derive(Clone, Debug)]
pub struct TimeReader {
    /// Each field, the index of its own key when it has no dot, and the mask of the keys
    /// its lookup can touch.
    fields: Vec<(String, Option<usize>, u64)>,
    all: TopKeys,
}

impl TimeReader {
    /// A reader of `fields`, tried in order.
    pub fn new<'a>(fields: impl IntoIterator<Item = &'a str>) -> TimeReader {
        let names: Vec<&str> = fields.into_iter().collect();
        let all = TopKeys::new(names.iter().copied());
        assert!(all.keys.len() <= 64, "at most 64 top-level time keys");
        let fields = names
            .iter()
            .map(|f| {
                let own = (!f.contains('.'))
                    .then(|| all.index(f.as_bytes()))
                    .flatten();
                (f.to_string(), own, all.mask([*f]))
            })
            .collect();
        TimeReader { fields, all }
    }

    /// Validates the line and reads its time (`Some(None)`: it has none). `None`: the line
    /// must be parsed in full (it is unusual, or not a JSON object at all).
    pub fn time(&self, line: &[u8]) -> Option<Option<i64>> {
        let mut found = Found::default();
        member_ranges(line, &self.all, &mut found)?;
        let found = found.all();
        let present = found.iter().fold(0u64, |m, f| m | 1 << f.index);
        for (f, own, mask) in &self.fields {
            if present & mask == 0 {
                continue;
            }
            if let Some(own) = own {
                // Only the key itself can hold a dot-less field; the last duplicate counts.
                let Some(m) = found.iter().rev().find(|m| m.index == *own) else {
                    continue;
                };
                if let [b'"', inner @ .., b'"'] = &line[m.value()]
                    && !inner.contains(&b'\\')
                {
                    match crate::time::parse_str(std::str::from_utf8(inner).ok()?) {
                        Some(t) => return Some(Some(t)),
                        None => continue,
                    }
                }
            }
            let mut mini = Map::new();
            for m in found {
                if mask & (1 << m.index) != 0 {
                    mini.insert(text_of(&line[m.key()])?, value_of(&line[m.value()])?);
                }
            }
            if let Some(t) = crate::Event::time_of(&Value::Object(mini), Some(f)) {
                return Some(Some(t));
            }
        }
        Some(None)
    }
}

/// Masks of one 64-byte block: bit `i` set when byte `i` is a quote, a backslash, or
/// outside ASCII. Sixteen bytes at a time with SIMD compares where the target has them.
#[inline(always)]
fn block_masks(block: &[u8; 64]) -> (u64, u64, u64) {
    use wide::u8x16;
    let (mut q, mut bs, mut hi) = (0u64, 0u64, 0u64);
    for k in 0..4 {
        let lane: [u8; 16] = block[16 * k..16 * k + 16]
            .try_into()
            .expect("sixteen bytes");
        let v = u8x16::new(lane);
        let bits = |m: i32| u64::from(m as u16) << (16 * k);
        q |= bits(v.cmp_eq(u8x16::splat(b'"')).move_mask());
        bs |= bits(v.cmp_eq(u8x16::splat(b'\\')).move_mask());
        hi |= bits(v.move_mask());
    }
    (q, bs, hi)
}

/// The same masks, one byte at a time (the reference the tests compare with).
#[cfg(test)]
fn block_masks_scalar(block: &[u8; 64]) -> (u64, u64, u64) {
    let (mut q, mut bs, mut hi) = (0u64, 0u64, 0u64);
    for (i, &c) in block.iter().enumerate() {
        q |= u64::from(c == b'"') << i;
        bs |= u64::from(c == b'\\') << i;
        hi |= u64::from(c >= 0x80) << i;
    }
    (q, bs, hi)
}

/// Bits in odd positions.
const ODD_BITS: u64 = 0xAAAA_AAAA_AAAA_AAAA;

/// The escaped characters of a block given its backslashes (simdjson's escape scanner): a
/// character is escaped when an odd run of backslashes precedes it. `carry` is 1 when the
/// block's first character is escaped by the previous block's last backslash, and is
/// updated for the next block.
#[inline(always)]
fn escaped(backslash: u64, carry: &mut u64) -> u64 {
    if backslash == 0 {
        return std::mem::take(carry);
    }
    // Backslashes that can start an escape (one escaped by the previous block cannot).
    let potential = backslash & !*carry;
    // Subtracting the runs from the odd bits sets, after the xor, the character after each
    // odd-aligned run's end and the odd positions of even-aligned runs in the right way
    // round: escape backslashes and escaped characters alternate.
    let maybe_escaped = potential << 1;
    let code = (maybe_escaped | ODD_BITS).wrapping_sub(potential) ^ ODD_BITS;
    let escaped = code ^ (backslash | *carry);
    let escape = code & backslash;
    *carry = escape >> 63;
    escaped
}

/// The index of a line's strings, built one 64-byte block at a time as the parser moves on:
/// where the quotes that are not escaped are. Building a block checks every rule for what
/// strings may hold but the control characters (checked for the whole line first): escapes
/// are only the sole spellings of their characters (`\" \\ \b \f \n \r \t`), text is
/// UTF-8, and no character folds to ASCII (it could hide a literal from the prefilter).
#[derive(Default)]
struct Blocks {
    /// Start of the indexed block.
    base: usize,
    /// Its unescaped quotes (bit `i`: byte `base + i`).
    quotes: u64,
    /// Start of the next block to index.
    next: usize,
    /// The next block's first byte is escaped.
    carry: u64,
    /// The last byte indexed is outside ASCII (a run of such bytes goes on).
    hi_carry: u64,
}

impl Blocks {
    /// Indexes the next block of `b`; `None` when a string rule is broken.
    fn advance(&mut self, b: &[u8]) -> Option<()> {
        let start = self.next;
        let mut pad = [b' '; 64];
        let block: &[u8; 64] = match b.get(start..start + 64) {
            Some(c) => c.try_into().expect("64 bytes"),
            None => {
                let rest = b.get(start..)?;
                pad[..rest.len()].copy_from_slice(rest);
                &pad
            }
        };
        let (q, bs, hi) = block_masks(block);
        let esc = escaped(bs, &mut self.carry);
        // Escaped quotes and backslashes are fine; look at any other escaped character.
        let mut e = esc & !(q | bs);
        while e != 0 {
            if !matches!(
                block[e.trailing_zeros() as usize],
                b'b' | b'f' | b'n' | b'r' | b't'
            ) {
                return None;
            }
            e &= e - 1;
        }
        if hi != 0 {
            // Each run of non-ASCII bytes must be UTF-8 on its own (a character never
            // straddles an ASCII byte) and hold no character that folds to ASCII.
            let mut starts = hi & !(hi << 1 | self.hi_carry);
            while starts != 0 {
                let from = start + starts.trailing_zeros() as usize;
                let len = b[from..].iter().take_while(|&&c| c >= 0x80).count();
                let run = std::str::from_utf8(&b[from..from + len]).ok()?;
                if run
                    .chars()
                    .any(|ch| ch >= '\u{DF}' && FOLDS_TO_ASCII.contains(&ch))
                {
                    return None;
                }
                starts &= starts - 1;
            }
        }
        self.hi_carry = hi >> 63;
        self.base = start;
        self.quotes = q & !esc;
        self.next = start + 64;
        Some(())
    }
}

/// True when the (valid UTF-8) line holds a character of [`FOLDS_TO_ASCII`]: it could
/// hide a literal from the prefilter.
pub fn folds_to_ascii(line: &[u8]) -> bool {
    // Lead bytes of those characters' UTF-8 forms: 0xC3, 0xC4, 0xC5, 0xC7, 0xE1, 0xE2, 0xEF.
    let hit = |i: usize| {
        FOLDS_TO_ASCII.iter().any(|c| {
            let mut b = [0u8; 4];
            line[i..].starts_with(c.encode_utf8(&mut b).as_bytes())
        })
    };
    memchr::memchr3_iter(0xC3, 0xC4, 0xC5, line).any(hit)
        || memchr::memchr3_iter(0xC7, 0xE1, 0xE2, line).any(hit)
        || memchr::memchr_iter(0xEF, line).any(hit)
}

struct P<'a> {
    b: &'a [u8],
    i: usize,
    blocks: Blocks,
}

/// Deeper nesting is left to the full parse (serde_json stops at 128 levels).
const MAX_DEPTH: usize = 64;

impl P<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }
    fn ws(&mut self) {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
    }
    /// A string at the cursor; returns the range of its raw content. Its closing quote is
    /// the first unescaped quote after the opening one, found in the block index (which
    /// checks what strings hold as it is built).
    #[inline]
    fn string(&mut self) -> Option<std::ops::Range<usize>> {
        self.eat(b'"')?;
        let start = self.i;
        let mut from = start;
        loop {
            while self.blocks.next <= from {
                self.blocks.advance(self.b)?;
            }
            let m = self.blocks.quotes & (u64::MAX << (from - self.blocks.base));
            if m != 0 {
                let end = self.blocks.base + m.trailing_zeros() as usize;
                self.i = end + 1;
                return Some(start..end);
            }
            if self.blocks.next >= self.b.len() {
                return None;
            }
            from = self.blocks.next;
        }
    }
    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                self.ws();
                if self.peek()? == b'}' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.ws();
                    self.string()?;
                    self.ws();
                    self.eat(b':')?;
                    self.ws();
                    self.value(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        b'}' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                self.ws();
                if self.peek()? == b']' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.ws();
                    self.value(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b't' => self.word(b"true"),
            b'f' => self.word(b"false"),
            b'n' => self.word(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }
    fn word(&mut self, w: &[u8]) -> Option<()> {
        if self.b[self.i..].starts_with(w) {
            self.i += w.len();
            Some(())
        } else {
            None
        }
    }
    /// A JSON number; exponents and very long numbers are left to the full parse (serde_json
    /// refuses numbers out of `f64` range).
    fn number(&mut self) -> Option<()> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.i += 1;
                }
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) || self.i - start > 40 {
            return None;
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keys() -> TopKeys {
        TopKeys::new(["UtcTime", "Event.System.TimeCreated", "time"])
    }

    #[test]
    fn reads_only_the_named_top_level_members() {
        let m = members(
            br#"{"x": {"time": 1}, "UtcTime": "2026-11-01 08:00:00.034", "Event": {"System": {"TimeCreated": 5}}, "time": [1, 2.5, null, true, false, "a\\b\"c"], "time": 7}"#,
            &keys(),
        )
        .unwrap();
        assert_eq!(
            Value::Object(m),
            serde_json::json!({"UtcTime": "2026-11-01 08:00:00.034", "Event": {"System": {"TimeCreated": 5}}, "time": 7})
        );
    }

    #[test]
    fn accepts_escapes_and_utf8_in_strings() {
        let line =
            "{\"time\": \"x\\\\y\\\"z \u{e9}\u{ae}\u{1F600}\\n\", \"n\": [1, -2.5, {\"b\": null}]}";
        let m = members(line.as_bytes(), &keys()).expect("accepted");
        assert_eq!(
            m["time"],
            Value::String("x\\y\"z \u{e9}\u{ae}\u{1F600}\n".into())
        );
    }

    #[test]
    fn refuses_what_it_does_not_fully_understand() {
        for bad in [
            &br#"{"a": "\u0041"}"#[..],
            br#"{"a": "x\/y"}"#,
            br#"{"a": 1e400}"#,
            br#"{"a": 01}"#,
            br#"{"a": [1,]}"#,
            br#"{"a": tru}"#,
            br#"{"a": 1} x"#,
            br#"{"a" 1}"#,
            b"{\"a\": \"\t\"}",
            br#"[1]"#,
            br#"{"a": "x}"#,
            b"{\"a\": \"\xff\"}",
        ] {
            assert!(
                members(bad, &keys()).is_none(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = format!("{{\"a\": {}1{}}}", "[".repeat(70), "]".repeat(70));
        assert!(members(deep.as_bytes(), &keys()).is_none());
    }

    /// Which characters are escaped, one character at a time: after a backslash that is
    /// not itself escaped.
    fn escaped_scalar(line: &[u8]) -> Vec<bool> {
        let mut out = vec![false; line.len()];
        let mut i = 0;
        while i < line.len() {
            if line[i] == b'\\' && i + 1 < line.len() {
                out[i + 1] = true;
                i += 2;
            } else {
                i += 1;
            }
        }
        out
    }

    /// Blocks of a line, padded as [`Blocks::advance`] pads the last one.
    fn blocks_of(line: &[u8]) -> Vec<[u8; 64]> {
        line.chunks(64)
            .map(|c| {
                let mut b = [b' '; 64];
                b[..c.len()].copy_from_slice(c);
                b
            })
            .collect()
    }

    #[test]
    fn block_index_finds_the_quotes_that_end_strings() {
        let line = format!(
            "{{\"a\": \"{}\\\"{}\\\\\", \"b\": \"\u{e9}\u{ae}\"}}",
            "x".repeat(60),
            "\\\\".repeat(40)
        );
        let m = members(line.as_bytes(), &TopKeys::new(["a", "b"])).expect("accepted");
        let full: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(Value::Object(m), full);
    }

    #[test]
    fn block_index_refuses_what_strings_cannot_hold() {
        let long = "y".repeat(100);
        for bad in [
            format!("{{\"a\": \"{long}\\u0041\"}}"),
            format!("{{\"a\": \"{long}\\/\"}}"),
            format!("{{\"a\": \"{long}\\x\"}}"),
            format!("{{\"a\": \"{long}\u{212A}\"}}"),
            format!("{{\"a\": \"{long}\u{130}\"}}"),
            format!("{{\"a\": \"{long}\"}}\\"),
            format!("{{\"a\": \"{long}\\"),
        ] {
            assert!(members(bad.as_bytes(), &keys()).is_none(), "{bad}");
        }
        // Invalid UTF-8 in a long line, and a sequence cut by the end of a block.
        let mut b = format!("{{\"a\": \"{long}\"}}").into_bytes();
        b[70] = 0xC3;
        assert!(members(&b, &keys()).is_none());
        let mut b = format!("{{\"a\": \"{}\u{e9}\"}}", "z".repeat(55)).into_bytes();
        assert!(members(&b, &keys()).is_some(), "é across blocks 0 and 1");
        b.truncate(64);
        assert!(members(&b, &keys()).is_none());
    }

    proptest! {
        /// The SIMD masks equal the byte-by-byte ones.
        #[test]
        fn block_masks_agree_with_bytes(block in proptest::collection::vec(prop_oneof![Just(b'"'), Just(b'\\'), Just(b'a'), Just(0xC3u8), any::<u8>()], 64)) {
            let b: [u8; 64] = block.try_into().unwrap();
            prop_assert_eq!(block_masks(&b), block_masks_scalar(&b));
        }

        /// The escape scanner, across blocks, finds exactly the escaped characters.
        #[test]
        fn escapes_agree_with_a_scan(line in proptest::collection::vec(prop_oneof![3 => Just(b'\\'), 1 => Just(b'"'), 1 => Just(b'a')], 0..300)) {
            let want = escaped_scalar(&line);
            let mut carry = 0;
            for (k, b) in blocks_of(&line).iter().enumerate() {
                let (_, bs, _) = block_masks_scalar(b);
                let e = escaped(bs, &mut carry);
                for i in 0..64 {
                    let pos = k * 64 + i;
                    if pos < line.len() {
                        prop_assert_eq!(e >> i & 1 == 1, want[pos], "byte {} of {:?}", pos, String::from_utf8_lossy(&line));
                    }
                }
            }
        }

        /// Long lines with escapes, quotes and non-ASCII text across block boundaries: a
        /// line made of safe strings is accepted, with the members a full parse finds.
        #[test]
        fn long_safe_lines_are_accepted_as_parsed(values in proptest::collection::vec(r#"([a-z ]|\\\\|\\"|\\n|\\t|é|®|€|😀){0,40}"#, 1..5), pad in 0usize..64) {
            let mut line = format!("{{\"pad\": \"{}\"", "p".repeat(pad));
            for (i, v) in values.iter().enumerate() {
                line.push_str(&format!(", \"k{i}\": \"{v}\", \"n{i}\": [{i}, -1.5, true, null, {{\"x\": \"{v}\"}}]"));
            }
            line.push('}');
            let full: Value = serde_json::from_str(&line).expect("valid JSON");
            let names: Vec<String> = (0..values.len()).flat_map(|i| [format!("k{i}"), format!("n{i}")]).collect();
            let k = TopKeys::new(names.iter().map(String::as_str));
            let m = members(line.as_bytes(), &k).expect("a line of safe strings is accepted");
            for name in &names {
                prop_assert_eq!(m.get(name), full.get(name));
            }
        }

        /// Bytes changed anywhere in a valid line: whatever is still accepted parses in full.
        #[test]
        fn byte_damage_is_refused_or_harmless(pos in 0usize..80, byte in any::<u8>(), pos2 in 0usize..80, byte2 in any::<u8>()) {
            let mut line = "{\"time\": \"2026-11-01T08:00:00Z\", \"a\": \"x\\\\y\\\"z \u{e9}\u{ae}\", \"n\": [1, -2.5, {\"b\": null}]}".as_bytes().to_vec();
            let p = pos % line.len();
            line[p] = byte;
            let p2 = pos2 % line.len();
            line[p2] = byte2;
            let k = TopKeys::new(["time", "a"]);
            if let Some(m) = members(&line, &k) {
                let full: Value = serde_json::from_slice(&line).expect("accepted lines parse in full");
                let obj = full.as_object().expect("an object");
                for key in ["time", "a"] {
                    prop_assert_eq!(obj.get(key), m.get(key));
                }
            }
        }

        /// Whatever it accepts, serde_json parses as an object with the same members.
        #[test]
        fn never_more_lenient_than_serde(s in r#"\{( ?"[a-zA-Z\\"]{0,3}" ?: ?(-?[0-9]{1,3}(\.[0-9])?|"[a-z\\"/ ]{0,4}"|\[[0-9, ]{0,5}\]|true|nul|\{\}|\{"time": ?1\}),?){0,4}\}"#) {
            let k = TopKeys::new(["a", "time"]);
            if let Some(m) = members(s.as_bytes(), &k) {
                let full: Value = serde_json::from_str(&s).expect("accepted lines parse in full");
                let obj = full.as_object().expect("an object");
                for (key, v) in &m {
                    prop_assert_eq!(obj.get(key), Some(v));
                }
                for key in ["a", "time"] {
                    prop_assert_eq!(obj.get(key), m.get(key));
                }
            }
        }
    }
}
