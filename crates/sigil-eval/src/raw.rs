//! Light reading of raw NDJSON lines, for lines the prefilter rules out: a validity check at
//! least as strict as serde_json's (so a line it accepts is a JSON object the full parse
//! would also accept) and the few top-level members an event's time is read from, without
//! building the whole event. Anything unusual returns `None`, and the caller parses in full.

use serde_json::{Map, Value};

/// Top-level keys that time fields may read: every dot-prefix of every time field path
/// (field lookup tries `a.b.c`, `a.b` then `c` below it, and `a` then `b.c` below it).
#[derive(Clone, Debug, Default)]
pub struct TopKeys {
    keys: Vec<Vec<u8>>,
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
        TopKeys { keys }
    }

    fn contains(&self, k: &[u8]) -> bool {
        self.keys.iter().any(|x| x == k)
    }
}

/// Validates `line` (already trimmed) as one JSON object and returns its top-level members
/// named in `keys` (the last of duplicates, as a full parse keeps). `None`: parse in full.
pub fn members(line: &[u8], keys: &TopKeys) -> Option<Map<String, Value>> {
    // Control characters are never valid raw inside strings; outside them only tabs and
    // line breaks are, and refusing those too is merely stricter.
    if has_control(line) || std::str::from_utf8(line).is_err() {
        return None;
    }
    let mut p = P { b: line, i: 0 };
    let mut found: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> = Vec::new();
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
            if keys.contains(&line[key.clone()]) {
                found.push((key, start..p.i));
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
    let mut map = Map::new();
    for (k, v) in found {
        let key = std::str::from_utf8(&line[k]).ok()?.to_string();
        let value: Value = serde_json::from_slice(&line[v]).ok()?;
        map.insert(key, value);
    }
    Some(map)
}

fn has_control(b: &[u8]) -> bool {
    // Branch-free per chunk, so the loop vectorises.
    b.chunks(64)
        .any(|c| c.iter().fold(false, |acc, &x| acc | (x < 0x20)))
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
    /// A string at the cursor; returns the range of its raw content. Only escapes that are
    /// the sole spelling of their character are accepted (no `\u`, no `\/`).
    fn string(&mut self) -> Option<std::ops::Range<usize>> {
        self.eat(b'"')?;
        let start = self.i;
        loop {
            let at = self.i + memchr::memchr2(b'"', b'\\', &self.b[self.i..])?;
            if self.b[at] == b'"' {
                self.i = at + 1;
                return Some(start..at);
            }
            match self.b.get(at + 1)? {
                b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => self.i = at + 2,
                _ => return None,
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
