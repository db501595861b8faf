//! Value transformations: Sigma escapes and wildcards, placeholders, the encoding
//! modifiers (utf16 family, base64, base64offset) and windash.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sigil_ir::{Pattern, PlaceholderPart, Seg};

/// A value on its way through the modifier pipeline.
#[derive(Clone, Debug, PartialEq)]
pub enum Piece {
    /// Pattern parts (literals, wildcards, placeholder names).
    Parts(Vec<PlaceholderPart>),
    /// Encoded bytes waiting for a base64 modifier.
    Bytes(Vec<u8>),
}

/// Parses a Sigma string value: `*` and `?` are wildcards, `\` escapes `*`, `?` and `\`
/// (and `%` when placeholders are expanded); any other backslash is literal.
pub fn parse_value(s: &str, expand: bool) -> Vec<PlaceholderPart> {
    let mut out: Vec<PlaceholderPart> = Vec::new();
    let mut lit = String::new();
    let mut chars = s.chars().peekable();
    let flush = |lit: &mut String, out: &mut Vec<PlaceholderPart>| {
        if !lit.is_empty() {
            out.push(PlaceholderPart::Seg(Seg::Lit(std::mem::take(lit))));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek().copied() {
                Some(n @ ('*' | '?' | '\\')) => {
                    chars.next();
                    lit.push(n);
                }
                Some('%') if expand => {
                    chars.next();
                    lit.push('%');
                }
                _ => lit.push('\\'),
            },
            '*' => {
                flush(&mut lit, &mut out);
                out.push(PlaceholderPart::Seg(Seg::Any));
            }
            '?' => {
                flush(&mut lit, &mut out);
                out.push(PlaceholderPart::Seg(Seg::One));
            }
            '%' if expand => {
                // `%name%` is a placeholder when a closing `%` follows a plausible name.
                let rest: String = chars.clone().collect();
                match rest.find('%') {
                    Some(end)
                        if end > 0
                            && rest[..end]
                                .chars()
                                .all(|c| c.is_alphanumeric() || "_-.".contains(c)) =>
                    {
                        flush(&mut lit, &mut out);
                        out.push(PlaceholderPart::Name(rest[..end].to_string()));
                        for _ in 0..=rest[..end].chars().count() {
                            chars.next();
                        }
                    }
                    _ => lit.push('%'),
                }
            }
            c => lit.push(c),
        }
    }
    flush(&mut lit, &mut out);
    normalise(out)
}

/// Merges adjacent literals and runs of `*`, so equal patterns have equal parts.
pub fn normalise(parts: Vec<PlaceholderPart>) -> Vec<PlaceholderPart> {
    let mut out: Vec<PlaceholderPart> = Vec::with_capacity(parts.len());
    for p in parts {
        match (out.last_mut(), p) {
            (Some(PlaceholderPart::Seg(Seg::Lit(a))), PlaceholderPart::Seg(Seg::Lit(b))) => {
                a.push_str(&b)
            }
            (Some(PlaceholderPart::Seg(Seg::Any)), PlaceholderPart::Seg(Seg::Any)) => {}
            (_, PlaceholderPart::Seg(Seg::Lit(b))) if b.is_empty() => {}
            (_, p) => out.push(p),
        }
    }
    out
}

/// The literal text of parts that hold no wildcard and no placeholder.
pub fn literal_text(parts: &[PlaceholderPart]) -> Option<String> {
    let mut s = String::new();
    for p in parts {
        match p {
            PlaceholderPart::Seg(Seg::Lit(l)) => s.push_str(l),
            _ => return None,
        }
    }
    Some(s)
}

/// Converts parts without placeholders into a pattern.
pub fn to_pattern(parts: &[PlaceholderPart]) -> Option<Pattern> {
    parts
        .iter()
        .map(|p| match p {
            PlaceholderPart::Seg(s) => Some(s.clone()),
            PlaceholderPart::Name(_) => None,
        })
        .collect::<Option<Vec<_>>>()
        .map(Pattern)
}

/// Which UTF-16 form an encoding modifier asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Utf16 {
    /// Little endian.
    Le,
    /// Big endian.
    Be,
    /// Little endian with a byte-order mark.
    Bom,
}

/// Encodes text as UTF-16 bytes.
pub fn utf16(s: &str, form: Utf16) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 2 + 2);
    if let Utf16::Bom = form {
        out.extend_from_slice(&[0xFF, 0xFE]);
    }
    for u in s.encode_utf16() {
        match form {
            Utf16::Be => out.extend_from_slice(&u.to_be_bytes()),
            _ => out.extend_from_slice(&u.to_le_bytes()),
        }
    }
    out
}

/// Plain base64 of the bytes.
pub fn base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// The three base64 fragments that appear whatever the value's byte offset (0, 1 or 2)
/// inside a longer encoded blob: characters influenced by neighbouring bytes are cut.
pub fn base64_offsets(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::with_capacity(3);
    for shift in 0..3usize {
        let mut padded = vec![0u8; shift];
        padded.extend_from_slice(bytes);
        let enc = STANDARD.encode(&padded);
        // Leading chars that encode the padding bytes are unstable.
        let start = [0usize, 2, 3][shift];
        // Trailing chars that mix the value's tail with whatever follows are unstable.
        let end_cut = match (bytes.len() + shift) % 3 {
            0 => 0,
            1 => 3,
            _ => 2,
        };
        let end = enc.len().saturating_sub(end_cut);
        if start < end {
            out.push(enc[start..end].to_string());
        }
    }
    out.dedup();
    out
}

/// The dash-like characters `windash` treats as interchangeable.
pub const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// Most positions `windash` expands in one value; beyond it the variants explode (5^n).
pub const WINDASH_MAX_POSITIONS: usize = 6;

/// Expands flag-like dashes: a `-` or `/` at the start of the value or after a non-word
/// character, and followed by a word character, takes each of the five dash forms.
/// Returns `None` when the value has more positions than [`WINDASH_MAX_POSITIONS`].
pub fn windash(parts: &[PlaceholderPart]) -> Option<Vec<Vec<PlaceholderPart>>> {
    let positions = dash_positions(parts);
    if positions.len() > WINDASH_MAX_POSITIONS {
        return None;
    }
    let mut variants = vec![parts.to_vec()];
    for &(pi, ci) in &positions {
        let mut next = Vec::with_capacity(variants.len() * DASHES.len());
        for v in &variants {
            for d in DASHES {
                let mut w = v.clone();
                if let PlaceholderPart::Seg(Seg::Lit(l)) = &mut w[pi] {
                    *l = l
                        .chars()
                        .enumerate()
                        .map(|(i, c)| if i == ci { d } else { c })
                        .collect();
                }
                next.push(w);
            }
        }
        variants = next;
    }
    Some(variants)
}

/// How many dashes [`windash`] expands in a value: it makes 5 to the power of this many
/// variants.
pub fn windash_positions(parts: &[PlaceholderPart]) -> usize {
    dash_positions(parts).len()
}

/// (part index, char index) of every dash that [`windash`] expands.
fn dash_positions(parts: &[PlaceholderPart]) -> Vec<(usize, usize)> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    // Positions are (part index, char index) of eligible dashes in literal parts.
    let mut positions = Vec::new();
    let mut prev: Option<char> = None;
    for (pi, p) in parts.iter().enumerate() {
        match p {
            PlaceholderPart::Seg(Seg::Lit(l)) => {
                let cs: Vec<char> = l.chars().collect();
                for (ci, &c) in cs.iter().enumerate() {
                    let next = cs
                        .get(ci + 1)
                        .copied()
                        .or_else(|| first_char(parts.get(pi + 1)));
                    if (c == '-' || c == '/')
                        && !prev.is_some_and(is_word)
                        && next.is_some_and(is_word)
                    {
                        positions.push((pi, ci));
                    }
                    prev = Some(c);
                }
            }
            // As in pySigma (`\B[-/]\b` on each literal piece), a wildcard is not a word
            // character: a dash right after `*` is a flag, a dash right before `*` is not.
            _ => prev = None,
        }
    }
    positions
}

fn first_char(p: Option<&PlaceholderPart>) -> Option<char> {
    match p? {
        PlaceholderPart::Seg(Seg::Lit(l)) => l.chars().next(),
        _ => None,
    }
}

/// Parses a Sigil/Sigma duration (`30s`, `15m`, `1h`, `2d`, `1w`) into milliseconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{s}` does not start with a whole number"))?;
    let size: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        "" => return Err(format!("`{s}` has no unit")),
        u => return Err(format!("unknown unit `{u}` in `{s}`")),
    };
    if n == 0 {
        return Err(format!("`{s}` is an empty window"));
    }
    n.checked_mul(size)
        .ok_or_else(|| format!("`{s}` is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> PlaceholderPart {
        PlaceholderPart::Seg(Seg::Lit(s.into()))
    }

    #[test]
    fn escapes_follow_the_spec_table() {
        assert_eq!(
            parse_value(r"C:\Windows\x", false),
            vec![lit(r"C:\Windows\x")]
        );
        assert_eq!(parse_value(r"a\\b", false), vec![lit(r"a\b")]);
        assert_eq!(parse_value(r"a\*", false), vec![lit("a*")]);
        assert_eq!(
            parse_value(r"a\\*", false),
            vec![lit(r"a\"), PlaceholderPart::Seg(Seg::Any)]
        );
        assert_eq!(parse_value(r"a\\\*", false), vec![lit(r"a\*")]);
        assert_eq!(parse_value(r"\\\\", false), vec![lit(r"\\")]);
        assert_eq!(parse_value(r"\\\", false), vec![lit(r"\\")]);
        assert_eq!(
            parse_value("prog?.exe", false),
            vec![lit("prog"), PlaceholderPart::Seg(Seg::One), lit(".exe")]
        );
    }

    #[test]
    fn placeholders_only_with_expand() {
        assert_eq!(parse_value("%admins%", false), vec![lit("%admins%")]);
        assert_eq!(
            parse_value("%admins%", true),
            vec![PlaceholderPart::Name("admins".into())]
        );
        assert_eq!(
            parse_value(r"\%plain%name%", true),
            vec![lit("%plain"), PlaceholderPart::Name("name".into())]
        );
    }

    #[test]
    fn base64offset_matches_known_outputs() {
        assert_eq!(base64_offsets(b"cmd"), vec!["Y21k", "NtZ", "jbW"]);
        assert_eq!(base64_offsets(b"http"), vec!["aHR0c", "h0dH", "odHRw"]);
        assert_eq!(
            base64_offsets(b"/bin/sh"),
            vec!["L2Jpbi9za", "9iaW4vc2", "vYmluL3No"]
        );
        assert_eq!(base64(&utf16("cmd", Utf16::Le)), "YwBtAGQA");
    }

    #[test]
    fn utf16_forms() {
        assert_eq!(utf16("cmd", Utf16::Le), vec![0x63, 0, 0x6d, 0, 0x64, 0]);
        assert_eq!(utf16("cmd", Utf16::Be), vec![0, 0x63, 0, 0x6d, 0, 0x64]);
        assert_eq!(
            utf16("cmd", Utf16::Bom),
            vec![0xFF, 0xFE, 0x63, 0, 0x6d, 0, 0x64, 0]
        );
    }

    #[test]
    fn windash_expands_flag_dashes_only() {
        let v = windash(&[lit(" -param-name")]).unwrap();
        assert_eq!(v.len(), 5);
        assert!(v.contains(&vec![lit(" /param-name")]));
        assert!(v.contains(&vec![lit(" \u{2015}param-name")]));
        assert_eq!(windash(&[lit("a -b -c")]).unwrap().len(), 25);
        // After `contains`, the value is `* -enc *`-like: a dash after a wildcard is a flag.
        let any = PlaceholderPart::Seg(Seg::Any);
        assert_eq!(
            windash(&[any.clone(), lit("-enc"), any.clone()])
                .unwrap()
                .len(),
            5
        );
        assert_eq!(windash(&[lit("a -"), any]).unwrap().len(), 1);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15m"), Ok(900_000));
        assert_eq!(parse_duration("90m"), Ok(5_400_000));
        assert!(parse_duration("15").is_err());
        assert!(parse_duration("1y").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }
}
