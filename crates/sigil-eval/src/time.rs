//! Timestamps: RFC 3339 / ISO 8601 text and Unix epoch numbers to milliseconds since the
//! epoch (UTC), and the calendar parts that time-part predicates compare.

use serde_json::Value;
use sigil_ir::TimePart;

/// Parses a timestamp value: RFC 3339 text (`2026-11-02T10:01:05Z`, fractional seconds,
/// `+hh:mm` offsets, a space instead of `T`, no zone meaning UTC) or an epoch number
/// (seconds, or milliseconds when larger than 10^11; numeric strings too).
pub fn parse_ms(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => epoch(n.as_f64()?),
        Value::String(s) => parse_text(s.trim()),
        Value::Object(m) => {
            // EVTX `TimeCreated: {"#attributes": {"SystemTime": "..."}}`.
            let a = m
                .get("#attributes")
                .and_then(|a| a.get("SystemTime"))
                .or_else(|| m.get("SystemTime"))?;
            parse_ms(a)
        }
        _ => None,
    }
}

/// Parses timestamp text, as [`parse_ms`] parses a JSON string.
pub fn parse_str(s: &str) -> Option<i64> {
    // Timestamps rarely have blanks around them: trimming (Unicode-aware) only when needed.
    let b = s.as_bytes();
    if b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
    {
        parse_text(s)
    } else {
        parse_text(s.trim())
    }
}

fn epoch(x: f64) -> Option<i64> {
    if !x.is_finite() || x < 0.0 {
        return None;
    }
    Some(if x > 1e11 {
        x as i64
    } else {
        (x * 1000.0) as i64
    })
}

fn parse_text(s: &str) -> Option<i64> {
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') && !s.is_empty() {
        return epoch(s.parse().ok()?);
    }
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let t = b.get(from..from + len)?;
        t.iter()
            .all(u8::is_ascii_digit)
            .then(|| t.iter().fold(0, |n, &c| n * 10 + i64::from(c - b'0')))
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let (mut h, mut mi, mut sec, mut ms) = (0, 0, 0, 0i64);
    let mut i = 10;
    if matches!(b.get(10), Some(b'T') | Some(b't') | Some(b' ')) {
        h = num(11, 2)?;
        mi = num(14, 2)?;
        sec = num(17, 2)?;
        i = 19;
        if b.get(i) == Some(&b'.') || b.get(i) == Some(&b',') {
            i += 1;
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            // Milliseconds: the first three digits, padded with zeros.
            ms = (0..3).fold(0, |n, k| {
                let d = if start + k < i {
                    b[start + k] - b'0'
                } else {
                    0
                };
                n * 10 + i64::from(d)
            });
        }
    }
    let offset_min = match b.get(i) {
        None | Some(b'Z') | Some(b'z') => 0,
        Some(&c @ (b'+' | b'-')) => {
            let oh = num(i + 1, 2)?;
            let om = if b.get(i + 3) == Some(&b':') {
                num(i + 4, 2)?
            } else {
                num(i + 3, 2).unwrap_or(0)
            };
            let sign = if c == b'+' { 1 } else { -1 };
            sign * (oh * 60 + om)
        }
        _ => return None,
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    Some(((days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60) * 1000) + ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number since the epoch.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A calendar part of a UTC timestamp (ISO week for `week`).
pub fn part(ms: i64, p: TimePart) -> i64 {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    match p {
        TimePart::Minute => (sod / 60) % 60,
        TimePart::Hour => sod / 3600,
        TimePart::Day => d,
        TimePart::Month => m,
        TimePart::Year => y,
        TimePart::Week => iso_week(days),
    }
}

fn iso_week(days: i64) -> i64 {
    // Monday = 0.
    let wd = (days + 3).rem_euclid(7);
    let thursday = days - wd + 3;
    let (ty, _, _) = civil_from_days(thursday);
    (thursday - days_from_civil(ty, 1, 1)) / 7 + 1
}

/// Formats milliseconds since the epoch as RFC 3339 UTC with millisecond precision.
pub fn format_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60,
        ms.rem_euclid(1000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc3339_forms() {
        let base = parse_ms(&json!("2026-11-02T10:01:05Z")).unwrap();
        assert_eq!(format_ms(base), "2026-11-02T10:01:05.000Z");
        assert_eq!(
            parse_ms(&json!("2026-11-02T10:01:05.1234567Z")),
            Some(base + 123)
        );
        assert_eq!(parse_ms(&json!("2026-11-02 12:01:05+02:00")), Some(base));
        assert_eq!(parse_ms(&json!("2026-11-02T10:01:05")), Some(base));
        assert_eq!(parse_ms(&json!(base / 1000)), Some(base));
        assert_eq!(parse_ms(&json!(base)), Some(base));
        assert_eq!(parse_ms(&json!("nope")), None);
        assert_eq!(
            parse_ms(&json!({"#attributes": {"SystemTime": "2026-11-02T10:01:05.000000Z"}})),
            Some(base)
        );
    }

    #[test]
    fn parts() {
        let t = parse_ms(&json!("2026-01-01T23:59:00Z")).unwrap();
        assert_eq!(part(t, TimePart::Hour), 23);
        assert_eq!(part(t, TimePart::Minute), 59);
        assert_eq!(part(t, TimePart::Week), 1);
        assert_eq!(
            part(
                parse_ms(&json!("2027-01-01T00:00:00Z")).unwrap(),
                TimePart::Week
            ),
            53
        );
        assert_eq!(part(t, TimePart::Year), 2026);
    }

    #[test]
    fn civil_round_trip() {
        for z in [-1000, 0, 1, 19_000, 20_394, 100_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }
}
