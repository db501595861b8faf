//! `sigil hunt`: streams NDJSON events (files, gzip, stdin) through many rules and writes
//! alerts as JSON lines. Memory stays bounded: the reorder buffer holds at most the
//! lateness window, and the engine evicts windows that time has passed.

use serde_json::Value;
use sigil_eval::engine::TIME_FIELDS;
use sigil_eval::prefilter::Scratch;
use sigil_eval::raw::TimeReader;
use sigil_eval::time::parse_ms;
use sigil_eval::{Engine, Event};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

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
    /// Live counters for a progress display, updated while the hunt runs.
    pub progress: Option<Arc<Progress>>,
}

/// Live counters of a running hunt, for a progress display: the hunt updates them (about
/// every 128 KiB of input) and never prints; the caller reads them from another thread.
#[derive(Debug)]
pub struct Progress {
    /// Bytes read from the input files so far (for gzip input, compressed bytes).
    pub bytes: AtomicU64,
    /// The inputs' total size in bytes, `u64::MAX` while unknown (stdin, a pipe).
    pub total: AtomicU64,
    /// Events (non-empty lines) read so far.
    pub events: AtomicU64,
    /// Alerts written so far.
    pub alerts: AtomicU64,
}

impl Default for Progress {
    fn default() -> Progress {
        Progress {
            bytes: AtomicU64::new(0),
            total: AtomicU64::new(u64::MAX),
            events: AtomicU64::new(0),
            alerts: AtomicU64::new(0),
        }
    }
}

impl Progress {
    /// The inputs' total size, when every input is a regular file.
    pub fn total(&self) -> Option<u64> {
        Some(self.total.load(Ordering::Relaxed)).filter(|&t| t != u64::MAX)
    }

    /// A snapshot: (bytes read, total if known, events, alerts).
    pub fn snapshot(&self) -> (u64, Option<u64>, u64, u64) {
        (
            self.bytes.load(Ordering::Relaxed),
            self.total(),
            self.events.load(Ordering::Relaxed),
            self.alerts.load(Ordering::Relaxed),
        )
    }
}

/// The inputs' total size in bytes: `None` unless every one is a regular file (`-` is stdin).
pub fn total_size(inputs: &[std::path::PathBuf]) -> Option<u64> {
    inputs.iter().try_fold(0u64, |sum, p| {
        if p.as_os_str() == "-" {
            return None;
        }
        let m = std::fs::metadata(p).ok()?;
        m.is_file().then(|| sum.saturating_add(m.len()))
    })
}

/// A reader that adds the bytes it reads to a progress counter.
struct Counted<R> {
    inner: R,
    progress: Option<Arc<Progress>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(p) = &self.progress {
            p.bytes.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }
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
    open_counted(path, None)
}

/// Opens an input, counting the bytes read from it (before decompression) in `progress`.
fn open_counted(path: &Path, progress: Option<Arc<Progress>>) -> std::io::Result<Box<dyn BufRead>> {
    let raw: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path)?)
    };
    let raw = Counted {
        inner: raw,
        progress,
    };
    // 1 MiB reads: a tenth of the system calls of 128 KiB ones, measurably faster on the
    // one-rule workload (docs/benchmarks.md).
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

/// An entry of the reorder buffer.
struct Pending {
    time: i64,
    seq: u64,
    what: Waiting,
}

/// What waits in the reorder buffer.
enum Waiting {
    /// An event to process when its turn comes (some rule keeps state).
    Event(Event, Cands),
    /// The alerts of an event processed when it was read (no rule keeps state, so an
    /// event's alerts do not depend on when it is processed; only their order does).
    Alerts(Vec<sigil_eval::Alert>),
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
pub fn hunt(
    engine: &mut Engine,
    inputs: &[std::path::PathBuf],
    opts: &HuntOptions,
    out: &mut dyn Write,
    warn: &mut dyn FnMut(String),
) -> std::io::Result<HuntStats> {
    let mut h = Hunt {
        stateful: engine.is_stateful(),
        engine,
        opts,
        out,
        warn,
        stats: HuntStats::default(),
        heap: BinaryHeap::new(),
        times: BinaryHeap::new(),
        in_order: VecDeque::new(),
        seq: 0,
        max_time: i64::MIN,
        released: i64::MIN,
        scratch: Scratch::default(),
        time_reader: match &opts.time_field {
            Some(f) => TimeReader::new([f.as_str()]),
            None => TimeReader::new(TIME_FIELDS.iter().copied()),
        },
        placeholder: Arc::new(Value::Object(serde_json::Map::new())),
    };
    let progress = opts.progress.clone();
    if let Some(p) = &progress {
        p.total
            .store(total_size(inputs).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
    let mut carry: Vec<u8> = Vec::new();
    for path in inputs {
        let name = path.display().to_string();
        let mut r = open_counted(path, progress.clone())?;
        let mut n = 0u64;
        // Lines are read in place from the reader's buffer; only a line that spans two
        // buffer fills is copied.
        loop {
            let buf = r.fill_buf()?;
            if buf.is_empty() {
                if !carry.is_empty() {
                    n += 1;
                    h.line(&carry, &name, n)?;
                    carry.clear();
                }
                break;
            }
            let mut start = 0;
            for end in memchr::memchr_iter(b'\n', buf) {
                n += 1;
                if carry.is_empty() {
                    h.line(&buf[start..end], &name, n)?;
                } else {
                    carry.extend_from_slice(&buf[start..end]);
                    h.line(&carry, &name, n)?;
                    carry.clear();
                }
                start = end + 1;
            }
            carry.extend_from_slice(&buf[start..]);
            let len = buf.len();
            r.consume(len);
            if let Some(p) = &progress {
                p.events.store(h.stats.events, Ordering::Relaxed);
                p.alerts.store(h.stats.alerts, Ordering::Relaxed);
            }
        }
    }
    let stats = h.finish()?;
    if let Some(p) = &progress {
        p.events.store(stats.events, Ordering::Relaxed);
        p.alerts.store(stats.alerts, Ordering::Relaxed);
    }
    Ok(stats)
}

/// The state of one hunt.
struct Hunt<'a> {
    engine: &'a mut Engine,
    opts: &'a HuntOptions,
    out: &'a mut dyn Write,
    warn: &'a mut dyn FnMut(String),
    stats: HuntStats,
    /// The reorder buffer.
    heap: BinaryHeap<Pending>,
    /// Times of lines known only by their time, when no rule keeps state: they raise
    /// nothing, and only their times matter, to the reorder buffer (as `heap` entries would).
    /// Times arriving in order queue up in `in_order`; the others go to the heap.
    times: BinaryHeap<Reverse<i64>>,
    in_order: VecDeque<i64>,
    seq: u64,
    max_time: i64,
    released: i64,
    stateful: bool,
    scratch: Scratch,
    time_reader: TimeReader,
    placeholder: Arc<Value>,
}

impl Hunt<'_> {
    fn evaluate(&mut self, ev: &Event, cands: &Cands) -> Vec<sigil_eval::Alert> {
        match cands {
            Cands::All => self.engine.process(ev),
            Cands::Some(leaves) => self.engine.process_candidates(ev, leaves),
        }
    }

    fn write(&mut self, alerts: Vec<sigil_eval::Alert>) -> std::io::Result<()> {
        for a in alerts {
            serde_json::to_writer(&mut *self.out, &a)?;
            self.out.write_all(b"\n")?;
            self.stats.alerts += 1;
        }
        Ok(())
    }

    fn emit(&mut self, ev: &Event, cands: &Cands) -> std::io::Result<()> {
        let alerts = self.evaluate(ev, cands);
        self.write(alerts)
    }

    fn release_pending(&mut self, p: Pending) -> std::io::Result<()> {
        match p.what {
            Waiting::Event(ev, cands) => self.emit(&ev, &cands),
            Waiting::Alerts(alerts) => self.write(alerts),
        }
    }

    /// Queues the time of an event that raises nothing, for the reorder buffer's clock.
    fn queue_time(&mut self, t: i64) {
        if self.in_order.back().is_none_or(|&b| b <= t) {
            self.in_order.push_back(t);
        } else {
            self.times.push(Reverse(t));
        }
    }

    /// Releases the events of the reorder buffer that are now older than the lateness.
    fn release(&mut self) -> std::io::Result<()> {
        let limit = self.max_time.saturating_sub(self.opts.lateness_ms);
        while self.times.peek().is_some_and(|x| x.0 <= limit) {
            let t = self.times.pop().expect("peeked").0;
            self.released = self.released.max(t);
        }
        while self.in_order.front().is_some_and(|&t| t <= limit) {
            let t = self.in_order.pop_front().expect("checked");
            self.released = self.released.max(t);
        }
        while self.heap.peek().is_some_and(|p| p.time <= limit) {
            let p = self.heap.pop().expect("peeked");
            self.released = self.released.max(p.time);
            self.release_pending(p)?;
        }
        Ok(())
    }

    fn outside(&self, t: i64) -> bool {
        self.opts.since.is_some_and(|s| t < s) || self.opts.until.is_some_and(|u| t >= u)
    }

    fn line(&mut self, line: &[u8], name: &str, n: u64) -> std::io::Result<()> {
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            return Ok(());
        }
        self.stats.events += 1;
        // Lines the prefilter rules out for every search are read only for their time
        // (and checked to be JSON objects, as a full parse would).
        let mut cands = Cands::All;
        let mut light = None;
        // The raw-line prefilter only pays when some lines have no candidate at all: when
        // some search needs no literal every line is parsed anyway, and the engine picks
        // candidates from its field index.
        if !self.opts.full_parse && self.engine.prefilter().can_skip_lines() {
            let pf = self.engine.prefilter();
            pf.candidates(trimmed, &mut self.scratch);
            if self.scratch.leaves.is_empty() {
                // Accepted only if valid and safe for the prefilter.
                light = self.time_reader.time(trimmed);
                if light.is_some() || !pf.unsafe_line(trimmed) {
                    cands = Cands::Some(Vec::new());
                }
            } else if !pf.unsafe_line(trimmed) {
                cands = Cands::Some(self.scratch.leaves.clone());
            }
        }
        if !self.stateful
            && let Some(time) = light
        {
            // Exactly what the event would do below, minus processing it (a no-op).
            match time {
                None if self.opts.since.is_some() || self.opts.until.is_some() => {
                    self.stats.filtered += 1
                }
                None => {}
                Some(t) if self.outside(t) => self.stats.filtered += 1,
                Some(t) if t < self.released => self.stats.late += 1,
                Some(t) if self.opts.lateness_ms <= 0 => self.released = t,
                Some(t) => {
                    self.max_time = self.max_time.max(t);
                    self.queue_time(t);
                    self.release()?;
                }
            }
            return Ok(());
        }
        let ev = match light {
            Some(t) => Event::time_only(t, self.placeholder.clone()),
            None => {
                let value: serde_json::Value = match serde_json::from_slice(trimmed) {
                    Ok(v @ serde_json::Value::Object(_)) => v,
                    Ok(_) | Err(_) => {
                        self.stats.bad_lines += 1;
                        if self.stats.bad_lines <= 10 {
                            (self.warn)(format!("{name}:{n}: not a JSON object; skipped"));
                        }
                        return Ok(());
                    }
                };
                Event::new(
                    value,
                    self.opts.time_field.as_deref(),
                    format!("{name}:{n}"),
                )
            }
        };
        if let Some(t) = ev.time {
            if self.outside(t) {
                self.stats.filtered += 1;
                return Ok(());
            }
        } else if self.opts.since.is_some() || self.opts.until.is_some() {
            self.stats.filtered += 1;
            return Ok(());
        }
        match ev.time {
            None => self.emit(&ev, &cands)?,
            Some(t) if self.opts.lateness_ms <= 0 => {
                if t < self.released {
                    self.stats.late += 1;
                }
                self.released = self.released.max(t);
                self.emit(&ev, &cands)?
            }
            Some(t) => {
                if t < self.released {
                    // Too late to be put back in order: process it now.
                    self.stats.late += 1;
                    return self.emit(&ev, &cands);
                }
                self.max_time = self.max_time.max(t);
                let what = if self.stateful {
                    Waiting::Event(ev, cands)
                } else {
                    // Processed now, while the line is still in the cache (it would be
                    // cold after waiting out the lateness); its alerts wait instead.
                    let alerts = self.evaluate(&ev, &cands);
                    if alerts.is_empty() {
                        self.queue_time(t);
                        return self.release();
                    }
                    Waiting::Alerts(alerts)
                };
                self.seq += 1;
                self.heap.push(Pending {
                    time: t,
                    seq: self.seq,
                    what,
                });
                self.release()?;
            }
        }
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<HuntStats> {
        while let Some(p) = self.heap.pop() {
            self.release_pending(p)?;
        }
        for a in self.engine.flush() {
            serde_json::to_writer(&mut *self.out, &a)?;
            self.out.write_all(b"\n")?;
            self.stats.alerts += 1;
        }
        Ok(self.stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes a one-rule file (`CommandLine|contains: whoami`) into `dir`.
    fn whoami_rule(dir: &std::path::Path) -> std::path::PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let rule = dir.join("r.yml");
        std::fs::write(
            &rule,
            "title: t\nlogsource: {product: windows}\ndetection:\n  s:\n    CommandLine|contains: whoami\n  condition: s\n",
        )
        .unwrap();
        rule
    }

    #[test]
    fn progress_counts_bytes_events_and_alerts() {
        let dir = std::env::temp_dir().join(format!("sigil-progress-{}", std::process::id()));
        let rule = whoami_rule(&dir);
        let plain = dir.join("e.ndjson");
        let mut text = String::new();
        for i in 0..1000 {
            let cmd = if i % 10 == 0 { "whoami" } else { "dir" };
            text.push_str(&format!(
                "{{\"UtcTime\": \"2026-11-01 08:00:00.{:03}\", \"CommandLine\": \"{cmd}\"}}\n",
                i % 1000
            ));
        }
        std::fs::write(&plain, &text).unwrap();
        let gz = dir.join("e.ndjson.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(text.as_bytes()).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        let gz_len = std::fs::metadata(&gz).unwrap().len();
        let report = crate::check(std::slice::from_ref(&rule));
        for inputs in [vec![plain.clone()], vec![plain.clone(), gz.clone()]] {
            let (mut engine, _) = Engine::new(&report.rules);
            let progress = Arc::new(Progress::default());
            let opts = HuntOptions {
                progress: Some(progress.clone()),
                ..Default::default()
            };
            let stats = hunt(&mut engine, &inputs, &opts, &mut Vec::new(), &mut |_| {}).unwrap();
            let size: u64 = inputs
                .iter()
                .map(|p| std::fs::metadata(p).unwrap().len())
                .sum();
            assert_eq!(
                progress.snapshot(),
                (size, Some(size), stats.events, stats.alerts)
            );
            assert_eq!(stats.alerts, 100 * inputs.len() as u64);
        }
        assert_eq!(
            total_size(&[plain.clone(), gz]),
            Some(text.len() as u64 + gz_len)
        );
        assert_eq!(total_size(&[plain.clone(), "-".into()]), None);
        assert_eq!(
            total_size(std::slice::from_ref(&dir)),
            None,
            "a folder is not a file"
        );
        assert_eq!(total_size(&[dir.join("missing")]), None);
    }

    /// Match-only rules evaluate an event when it is read, but its alerts still leave in
    /// time order: an alert of an earlier event read later comes first.
    #[test]
    fn stateless_alerts_leave_in_time_order() {
        let dir = std::env::temp_dir().join(format!("sigil-order-{}", std::process::id()));
        let rule = whoami_rule(&dir);
        let events = dir.join("e.ndjson");
        std::fs::write(
            &events,
            concat!(
                "{\"UtcTime\": \"2026-11-01 08:00:10.000\", \"CommandLine\": \"whoami b\"}\n",
                "{\"UtcTime\": \"2026-11-01 08:00:20.000\", \"CommandLine\": \"dir\"}\n",
                "{\"UtcTime\": \"2026-11-01 08:00:05.000\", \"CommandLine\": \"whoami a\"}\n",
            ),
        )
        .unwrap();
        let report = crate::check(std::slice::from_ref(&rule));
        for full_parse in [false, true] {
            let (mut engine, _) = Engine::new(&report.rules);
            let opts = HuntOptions {
                lateness_ms: 60_000,
                full_parse,
                ..Default::default()
            };
            let mut out = Vec::new();
            hunt(
                &mut engine,
                std::slice::from_ref(&events),
                &opts,
                &mut out,
                &mut |_| {},
            )
            .unwrap();
            let lines: Vec<Value> = String::from_utf8(out)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            let cmds: Vec<&str> = lines
                .iter()
                .map(|a| a["matched"][0]["CommandLine"].as_str().unwrap())
                .collect();
            assert_eq!(cmds, ["whoami a", "whoami b"]);
        }
    }
}
