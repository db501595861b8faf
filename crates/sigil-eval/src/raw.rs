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
        TopKeys { keys, lengths }
    }

    /// The index of a key among these keys.
    #[inline]
    fn index(&self, k: &[u8]) -> Option<usize> {
        if self.lengths & (1 << k.len().min(63)) == 0 {
            return None;
        }
        self.keys.iter().position(|x| x == k)
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
    let found = member_ranges(line, keys)?;
    let mut map = Map::new();
    for (k, _, v) in found {
        map.insert(text_of(&line[k])?, value_of(&line[v])?);
    }
    Some(map)
}

/// A top-level member: its key's raw range, the key's index in the [`TopKeys`], and the
/// value's raw range.
type Member = (std::ops::Range<usize>, usize, std::ops::Range<usize>);

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
fn member_ranges(line: &[u8], keys: &TopKeys) -> Option<Vec<Member>> {
    // No raw control character (never valid inside strings; outside them only tabs and line
    // breaks are, and refusing those is merely stricter). Strings are checked for escapes and
    // UTF-8 as they are skipped; outside them the grammar below accepts ASCII only.
    if line.iter().fold(u8::MAX, |m, &c| m.min(c)) < 0x20 {
        return None;
    }
    let mut p = P { b: line, i: 0 };
    let mut found: Vec<Member> = Vec::new();
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
            p.value(1)?;
            if let Some(i) = keys.index(&line[key.clone()]) {
                found.push((key, i, start..p.i));
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
    if p.i != line.len() {
        return None;
    }
    Some(found)
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
        let found = member_ranges(line, &self.all)?;
        let present = found.iter().fold(0u64, |m, (_, i, _)| m | 1 << i);
        for (f, own, mask) in &self.fields {
            if present & mask == 0 {
                continue;
            }
            if let Some(own) = own {
                // Only the key itself can hold a dot-less field; the last duplicate counts.
                let Some((_, _, v)) = found.iter().rev().find(|(_, i, _)| i == own) else {
                    continue;
                };
                if let [b'"', inner @ .., b'"'] = &line[v.clone()]
                    && !inner.contains(&b'\\')
                {
                    match crate::time::parse_ms(&Value::String(text_of(inner)?)) {
                        Some(t) => return Some(Some(t)),
                        None => continue,
                    }
                }
            }
            let mut mini = Map::new();
            for (k, i, v) in &found {
                if mask & (1 << i) != 0 {
                    mini.insert(text_of(&line[k.clone()])?, value_of(&line[v.clone()])?);
                }
            }
            if let Some(t) = crate::Event::time_of(&Value::Object(mini), Some(f)) {
                return Some(Some(t));
            }
        }
        Some(None)
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in the bytes of `w` equal to `c` (exact for the lowest such byte).
#[inline(always)]
fn eq_mask(w: u64, c: u8) -> u64 {
    let x = w ^ (LO * c as u64);
    x.wrapping_sub(LO) & !x & HI
}

/// Length of the UTF-8 sequence a lead byte starts.
fn utf8_len(lead: u8) -> Option<usize> {
    match lead {
        0xC2..=0xDF => Some(2),
        0xE0..=0xEF => Some(3),
        0xF0..=0xF4 => Some(4),
        _ => None,
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
    /// A string at the cursor; returns the range of its raw content. Refuses invalid UTF-8,
    /// characters that fold to ASCII, and escapes other than the sole spellings of their
    /// characters (`\" \\ \b \f \n \r \t`); control characters were refused for the whole
    /// line. Eight bytes at a time while nothing needs a look.
    fn string(&mut self) -> Option<std::ops::Range<usize>> {
        self.eat(b'"')?;
        let b = self.b;
        let start = self.i;
        let mut i = start;
        loop {
            while let Some(chunk) = b.get(i..i + 8) {
                let w = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
                let m = eq_mask(w, b'"') | eq_mask(w, b'\\') | (w & HI);
                if m != 0 {
                    i += (m.trailing_zeros() / 8) as usize;
                    break;
                }
                i += 8;
            }
            match *b.get(i)? {
                b'"' => {
                    self.i = i + 1;
                    return Some(start..i);
                }
                b'\\' => match b.get(i + 1)? {
                    b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                    _ => return None,
                },
                c @ 0x80.. => {
                    let n = utf8_len(c)?;
                    let ch = std::str::from_utf8(b.get(i..i + n)?).ok()?.chars().next()?;
                    // A character that folds to ASCII could hide a literal from the prefilter.
                    if ch >= '\u{DF}' && FOLDS_TO_ASCII.contains(&ch) {
                        return None;
                    }
                    i += n;
                }
                _ => i += 1,
            }
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

    proptest! {
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
