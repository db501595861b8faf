//! `sigil hunt`: streams NDJSON events (files, gzip, stdin) through many rules and writes
//! alerts as JSON lines. Memory stays bounded: the reorder buffer holds at most the
//! lateness window, and the engine evicts windows that time has passed.

use serde_json::Value;
use sigil_eval::engine::TIME_FIELDS;
use sigil_eval::prefilter::Scratch;
use sigil_eval::raw::{self, TopKeys};
use sigil_eval::time::parse_ms;
use sigil_eval::{Engine, Event};
use std::collections::BinaryHeap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::Arc;

/// How `hunt` reads and filters events.
#[derive(Clone, Debug, Default)]
pub struct HuntOptions {
    /// Skip events before this time (ms since the epoch).
    pub since: Option<i64>,
    /// Skip events at or after this time.
    pub until: Option<i64>,
    /// How late (ms) an event may arrive and still be put back in time order.
    pub lateness_ms: i64,
    /// Read event times from this field instead of the default list.
    pub time_field: Option<String>,
    /// Parse every line in full: no raw-line prefilter (same alerts, slower; for checking).
    pub full_parse: bool,
}

/// Counters of one hunt.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HuntStats {
    /// Lines read (non-empty).
    pub events: u64,
    /// Lines that were not JSON objects (reported, skipped).
    pub bad_lines: u64,
    /// Events outside `--since` / `--until`.
    pub filtered: u64,
    /// Events that arrived later than the lateness allows (processed out of order).
    pub late: u64,
    /// Alerts written.
    pub alerts: u64,
}

/// Parses a `--since` / `--until` value: RFC 3339 text or epoch seconds.
pub fn parse_time_arg(s: &str) -> Option<i64> {
    parse_ms(&serde_json::Value::String(s.to_string()))
}

/// Opens an input: `-` is stdin; gzip is recognised by its magic bytes.
pub fn open_input(path: &Path) -> std::io::Result<Box<dyn BufRead>> {
    let raw: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path)?)
    };
    let mut r = BufReader::with_capacity(1 << 20, raw);
    let magic = r
        .fill_buf()?
        .get(..2)
        .map(|m| m == [0x1f, 0x8b])
        .unwrap_or(false);
    Ok(if magic {
        Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::read::MultiGzDecoder::new(r),
        ))
    } else {
        Box::new(r)
    })
}

/// Which searches an event may match.
enum Cands {
    /// All of them (the line was parsed without prefiltering).
    All,
    /// Only these leaves (ascending); none for lines known only by their time.
    Some(Vec<u32>),
}

struct Pending {
    time: i64,
    seq: u64,
    event: Event,
    cands: Cands,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        (self.time, self.seq) == (o.time, o.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    // Reversed: the heap pops the earliest event first.
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (o.time, o.seq).cmp(&(self.time, self.seq))
    }
}

/// Streams every input through the engine, writing one alert per line to `out`.
/// `progress` is called with the bytes read so far, now and then.
pub fn hunt(
    engine: &mut Engine,
    inputs: &[std::path::PathBuf],
    opts: &HuntOptions,
    out: &mut dyn Write,
    warn: &mut dyn FnMut(String),
) -> std::io::Result<HuntStats> {
    let mut stats = HuntStats::default();
    let mut heap: BinaryHeap<Pending> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut max_time = i64::MIN;
    let mut released = i64::MIN;
    let mut line = Vec::with_capacity(4096);
    let mut scratch = Scratch::default();
    let time_keys = match &opts.time_field {
        Some(f) => TopKeys::new([f.as_str()]),
        None => TopKeys::new(TIME_FIELDS.iter().copied()),
    };
    let placeholder = Arc::new(Value::Object(serde_json::Map::new()));
    let emit = |engine: &mut Engine,
                ev: &Event,
                cands: &Cands,
                stats: &mut HuntStats,
                out: &mut dyn Write|
     -> std::io::Result<()> {
        let alerts = match cands {
            Cands::All => engine.process(ev),
            Cands::Some(leaves) => engine.process_candidates(ev, leaves),
        };
        for a in alerts {
            serde_json::to_writer(&mut *out, &a)?;
            out.write_all(b"\n")?;
            stats.alerts += 1;
        }
        Ok(())
    };
    for path in inputs {
        let name = path.display().to_string();
        let mut r = open_input(path)?;
        let mut n = 0u64;
        loop {
            line.clear();
            if r.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            n += 1;
            let trimmed = line.trim_ascii();
            if trimmed.is_empty() {
                continue;
            }
            stats.events += 1;
            // Lines the prefilter rules out for every search are read only for their time
            // (and checked to be JSON objects, as a full parse would).
            let mut cands = Cands::All;
            let mut light = None;
            if !opts.full_parse && engine.prefilter().scan(trimmed, &mut scratch) {
                if scratch.leaves.is_empty() {
                    light = raw::members(trimmed, &time_keys).map(|m| {
                        let t = Event::time_of(&Value::Object(m), opts.time_field.as_deref());
                        Event::time_only(t, placeholder.clone())
                    });
                    cands = Cands::Some(Vec::new());
                } else {
                    cands = Cands::Some(scratch.leaves.clone());
                }
            }
            let ev = match light {
                Some(ev) => ev,
                None => {
                    let value: serde_json::Value = match serde_json::from_slice(trimmed) {
                        Ok(v @ serde_json::Value::Object(_)) => v,
                        Ok(_) | Err(_) => {
                            stats.bad_lines += 1;
                            if stats.bad_lines <= 10 {
                                warn(format!("{name}:{n}: not a JSON object; skipped"));
                            }
                            continue;
                        }
                    };
                    Event::new(value, opts.time_field.as_deref(), format!("{name}:{n}"))
                }
            };
            if let Some(t) = ev.time {
                if opts.since.is_some_and(|s| t < s) || opts.until.is_some_and(|u| t >= u) {
                    stats.filtered += 1;
                    continue;
                }
            } else if opts.since.is_some() || opts.until.is_some() {
                stats.filtered += 1;
                continue;
            }
            match ev.time {
                None => emit(engine, &ev, &cands, &mut stats, out)?,
                Some(t) if opts.lateness_ms <= 0 => {
                    if t < released {
                        stats.late += 1;
                    }
                    released = released.max(t);
                    emit(engine, &ev, &cands, &mut stats, out)?
                }
                Some(t) => {
                    if t < released {
                        // Too late to be put back in order: process it now.
                        stats.late += 1;
                        emit(engine, &ev, &cands, &mut stats, out)?;
                        continue;
                    }
                    max_time = max_time.max(t);
                    seq += 1;
                    heap.push(Pending {
                        time: t,
                        seq,
                        event: ev,
                        cands,
                    });
                    while heap
                        .peek()
                        .is_some_and(|p| p.time <= max_time.saturating_sub(opts.lateness_ms))
                    {
                        let p = heap.pop().expect("peeked");
                        released = released.max(p.time);
                        emit(engine, &p.event, &p.cands, &mut stats, out)?;
                    }
                }
            }
        }
    }
    while let Some(p) = heap.pop() {
        emit(engine, &p.event, &p.cands, &mut stats, out)?;
    }
    for a in engine.flush() {
        serde_json::to_writer(&mut *out, &a)?;
        out.write_all(b"\n")?;
        stats.alerts += 1;
    }
    Ok(stats)
}
