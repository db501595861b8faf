//! Stateful evaluation: every query is a processor that takes occurrences (events, or the
//! alerts of the queries it builds on) in time order and emits occurrences of its own.
//! docs/semantics.md states the rules this file implements.

use crate::alert::{ALERT_VERSION, Alert, MAX_LISTED_EVENTS, RuleRef};
use crate::event::{self, Layout};
use crate::index::{self, LitKey};
use crate::matcher::{CompileError, EventCtx, Fields, Matcher, text};
use crate::prefilter::{self, ClauseScratch, Clauses, Need, Prefilter};
use crate::time;
use serde_json::Value;
use sigil_ir::{Agg, AggExpr, AggFunc, Input, Output, Query, Rule, ScoreCase, WindowKind};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;

/// An event with what the engine needs to know about it.
#[derive(Clone, Debug)]
pub struct Event {
    /// The parsed event.
    pub value: Arc<Value>,
    /// Its time in milliseconds since the epoch, when it has one.
    pub time: Option<i64>,
    /// Its id: the source's own id field, else `file:line`.
    pub id: String,
}

/// Fields that carry an event's own id, in the order they are tried.
pub const ID_FIELDS: &[&str] = &[
    "eventID",
    "EventRecordID",
    "Event.System.EventRecordID",
    "insertId",
    "id",
    "Id",
    "eventId",
];

/// Fields that carry an event's time, in the order they are tried.
pub const TIME_FIELDS: &[&str] = &[
    "eventTime",
    "@timestamp",
    "TimeGenerated",
    "time",
    "timestamp",
    "Event.System.TimeCreated",
    "UtcTime",
    "TimeCreated",
    "createdDateTime",
    "activityDateTime",
    "receiveTimestamp",
    "published",
];

/// The top-level keys the lookups of [`TIME_FIELDS`] and [`ID_FIELDS`] can touch (every
/// dot-prefix of each path), numbered, and per field the mask of its keys: a field none of
/// whose keys the event has cannot be found in it, so it is not looked up.
struct KnownFields {
    keys: HashMap<&'static str, u32, crate::index::FxBuild>,
    time: Vec<u64>,
    id: Vec<u64>,
}

fn known_fields() -> &'static KnownFields {
    static KNOWN: std::sync::OnceLock<KnownFields> = std::sync::OnceLock::new();
    KNOWN.get_or_init(|| {
        let mut keys: HashMap<&'static str, u32, _> = HashMap::default();
        let mut mask = |f: &'static str| {
            let mut m = 0u64;
            let prefixes = f.match_indices('.').map(|(i, _)| &f[..i]);
            for k in prefixes.chain(std::iter::once(f)) {
                let next = keys.len() as u32;
                let i = *keys.entry(k).or_insert(next);
                assert!(i < 64, "at most 64 known keys");
                m |= 1 << i;
            }
            m
        };
        let time = TIME_FIELDS.iter().map(|f| mask(f)).collect();
        let id = ID_FIELDS.iter().map(|f| mask(f)).collect();
        KnownFields { keys, time, id }
    })
}

impl Event {
    /// Builds an event, reading its time from the first of [`TIME_FIELDS`] (or `time_field`)
    /// that parses, and its id from [`ID_FIELDS`] (else `fallback_id`).
    pub fn new(value: Value, time_field: Option<&str>, fallback_id: String) -> Event {
        let known = known_fields();
        // Which of the known keys the event has: one pass over its members.
        let present = match &value {
            Value::Object(m) => m.keys().fold(0u64, |acc, k| {
                acc | known.keys.get(k.as_str()).map_or(0, |&i| 1 << i)
            }),
            _ => u64::MAX,
        };
        let mut found = Vec::new();
        let t = match time_field {
            Some(_) => Event::time_of(&value, time_field),
            None => TIME_FIELDS
                .iter()
                .zip(&known.time)
                .filter(|(_, m)| present & **m != 0)
                .find_map(|(f, _)| {
                    found.clear();
                    event::lookup(&value, f, &mut found);
                    found.iter().find_map(|v| time::parse_ms(v))
                }),
        };
        let mut id = None;
        for (f, m) in ID_FIELDS.iter().zip(&known.id) {
            if present & m == 0 {
                continue;
            }
            found.clear();
            event::lookup(&value, f, &mut found);
            if let Some(s) = found.iter().find_map(|v| text(v)) {
                id = Some(s.into_owned());
                break;
            }
        }
        Event {
            value: Arc::new(value),
            time: t,
            id: id.unwrap_or(fallback_id),
        }
    }

    /// The time of an event: the first of [`TIME_FIELDS`] (or `time_field`) that parses.
    pub fn time_of(value: &Value, time_field: Option<&str>) -> Option<i64> {
        let mut found = Vec::new();
        let fields: &[&str] = match &time_field {
            Some(f) => std::slice::from_ref(f),
            None => TIME_FIELDS,
        };
        for f in fields {
            found.clear();
            event::lookup(value, f, &mut found);
            if let Some(ms) = found.iter().find_map(|v| time::parse_ms(v)) {
                return Some(ms);
            }
        }
        None
    }

    /// An event known only by its time: a line the prefilter showed no search can match.
    /// It still moves windows and the stream's clock; `value` is any placeholder (shared).
    pub fn time_only(time: Option<i64>, value: Arc<Value>) -> Event {
        Event {
            value,
            time,
            id: String::new(),
        }
    }
}

/// What one processor hands to the one above it.
#[derive(Clone, Debug)]
struct Occ {
    time: i64,
    first: i64,
    events: Vec<Arc<Value>>,
    ids: Vec<String>,
    count: u64,
    /// For single events: the event. For aggregates: their group values.
    source: Source,
    score: Option<i64>,
    /// Values seen per aggregated field (thresholds), for outputs.
    values: BTreeMap<String, Vec<String>>,
}

#[derive(Clone, Debug)]
enum Source {
    Event(Arc<Value>, Layout),
    Group(BTreeMap<String, String>),
}

impl Occ {
    /// The value of a field (or group key) of the occurrence, as text.
    fn get(&self, field: &str) -> Option<String> {
        match &self.source {
            Source::Event(v, layout) => {
                let mut out = Vec::new();
                event::resolve(v, field, *layout, &mut out);
                out.iter().find_map(|x| text(x)).map(|s| s.into_owned())
            }
            Source::Group(g) => g
                .get(field)
                .cloned()
                .or_else(|| self.values.get(field).and_then(|v| v.first().cloned())),
        }
    }
    /// Every value of a field, as text (for `values()` and `distinct()`).
    fn all(&self, field: &str) -> Vec<String> {
        match &self.source {
            Source::Event(v, layout) => {
                let mut out = Vec::new();
                event::resolve(v, field, *layout, &mut out);
                out.iter()
                    .filter_map(|x| text(x))
                    .map(|s| s.into_owned())
                    .collect()
            }
            Source::Group(g) => match g.get(field) {
                Some(v) => vec![v.clone()],
                None => self.values.get(field).cloned().unwrap_or_default(),
            },
        }
    }
}

fn layout_of(q: &sigil_ir::Search) -> Layout {
    if q.source.product.as_deref() == Some("windows") {
        Layout::Windows
    } else {
        Layout::Plain
    }
}

/// A compiled query: a tree of processors.
enum Proc {
    Match {
        m: Box<Matcher>,
        layout: Layout,
        /// Index of this search among the engine's searches (for the prefilter).
        leaf: u32,
    },
    Threshold(Box<ThresholdProc>),
    Sequence(Box<SequenceProc>),
    Unordered(Box<UnorderedProc>),
}

struct In {
    proc: Proc,
    fields: BTreeMap<String, Option<String>>,
}

impl In {
    /// The field an alias or group key reads in this input (`None`: absent here).
    fn field<'a>(&'a self, key: &'a str) -> Option<&'a str> {
        match self.fields.get(key) {
            Some(f) => f.as_deref(),
            None => Some(key),
        }
    }
}

/// Compiles a correlation's inputs. An input that is itself a threshold is regrouped by the
/// outer correlation's keys (read through the input's aliases): in a chain, the outer
/// group-by is what counts (Sigma: a referenced correlation's group-by does not carry over).
fn compile_inputs(
    inputs: &[&Input],
    outer: &[String],
    fields: &mut Fields,
    leaves: &mut Vec<LeafNeed>,
) -> Result<Vec<In>, CompileError> {
    inputs
        .iter()
        .map(|i| {
            let proc = match i.query.as_ref() {
                Query::Threshold(t) => {
                    let mut t = t.clone();
                    t.group_by = outer
                        .iter()
                        .filter_map(|k| i.field(k).map(str::to_owned))
                        .collect();
                    compile(&Query::Threshold(t), fields, leaves)?
                }
                q => compile(q, fields, leaves)?,
            };
            Ok(In {
                proc,
                fields: i.fields.clone(),
            })
        })
        .collect()
}

/// What a search (a leaf) needs: literals in the raw line, and indexed tests that hold.
struct LeafNeed {
    raw: Need,
    tests: Need<u32>,
}

/// The indexed tests any match of `e` needs. Its matcher registered its literal tests in
/// `fields`; tests implied by other predicates (a wildcard's longest literal, a regex's
/// prefixes) are registered here, for candidate selection only.
fn tests_needed(e: &sigil_ir::Expr, layout: Layout, fields: &mut Fields) -> Need<u32> {
    let field = |p: &sigil_ir::Predicate, fields: &Fields| match &p.target {
        sigil_ir::Target::Field(f) => fields.get(f),
        sigil_ir::Target::Keywords => None,
    };
    let mut implied = Vec::new();
    e.for_each_pred(&mut |p| {
        if let Some(id) = field(p, fields)
            && LitKey::of(p, id, layout).is_none()
            && let Some(keys) = index::implied(p, id, layout)
        {
            implied.extend(keys);
        }
    });
    for k in implied {
        fields.lits.register(k);
    }
    let fields = &*fields;
    prefilter::need_by(
        e,
        &mut |p| {
            let id = field(p, fields)?;
            let keys = match LitKey::of(p, id, layout) {
                Some(key) => vec![key],
                None => index::implied(p, id, layout)?,
            };
            keys.iter().map(|k| fields.lits.lookup(k)).collect()
        },
        &|t| fields.lits.literal_len(*t),
        &|mut c| {
            c.sort_unstable();
            c.dedup();
            c
        },
    )
}

/// Compiles a query; each search it holds gets the next leaf number and its needs are
/// pushed on `leaves`.
fn compile(
    q: &Query,
    fields: &mut Fields,
    leaves: &mut Vec<LeafNeed>,
) -> Result<Proc, CompileError> {
    Ok(match q {
        Query::Match(s) => {
            let layout = layout_of(s);
            let m = Box::new(Matcher::new(&s.expr, layout, fields)?);
            leaves.push(LeafNeed {
                raw: prefilter::need(&s.expr),
                tests: tests_needed(&s.expr, layout, fields),
            });
            Proc::Match {
                m,
                layout,
                leaf: (leaves.len() - 1) as u32,
            }
        }
        Query::Threshold(t) => {
            let inputs = compile_inputs(
                &t.inputs.iter().collect::<Vec<_>>(),
                &t.group_by,
                fields,
                leaves,
            )?;
            let mut needed = BTreeSet::new();
            collect_agg_fields(&t.condition, &mut needed);
            for s in &t.score {
                if let Some(w) = &s.when {
                    collect_agg_fields(w, &mut needed);
                }
            }
            Proc::Threshold(Box::new(ThresholdProc {
                inputs,
                group_by: t.group_by.clone(),
                length: t.window.length_ms as i64,
                kind: t.window.kind,
                condition: t.condition.clone(),
                score: t.score.clone(),
                needed: needed.into_iter().collect(),
                groups: HashMap::new(),
                watermark: i64::MIN,
                ends: BTreeSet::new(),
                expiries: BinaryHeap::new(),
            }))
        }
        Query::Sequence(s) => {
            let mut refs: Vec<&Input> = s.steps.iter().map(|st| &st.input).collect();
            if let Some(u) = &s.until {
                refs.push(u);
            }
            let inputs = compile_inputs(&refs, &s.by, fields, leaves)?;
            let mut stages = Vec::new();
            for (i, st) in s.steps.iter().enumerate() {
                for _ in 0..st.runs {
                    stages.push(i);
                }
            }
            Proc::Sequence(Box::new(SequenceProc {
                inputs,
                until: s.until.as_ref().map(|_| s.steps.len()),
                by: s.by.clone(),
                maxspan: s.maxspan_ms.map(|m| m as i64),
                stages,
                pending: HashMap::new(),
                tick: 0,
                swept: i64::MIN,
            }))
        }
        Query::Unordered(u) => {
            let inputs =
                compile_inputs(&u.inputs.iter().collect::<Vec<_>>(), &u.by, fields, leaves)?;
            Proc::Unordered(Box::new(UnorderedProc {
                inputs,
                by: u.by.clone(),
                within: u.within_ms as i64,
                seen: HashMap::new(),
                swept: i64::MIN,
            }))
        }
    })
}

fn collect_agg_fields(e: &AggExpr, out: &mut BTreeSet<String>) {
    match e {
        AggExpr::Cmp(a, _, _) => {
            if let Some(f) = &a.field {
                out.insert(f.clone());
            }
        }
        AggExpr::And(v) | AggExpr::Or(v) => v.iter().for_each(|x| collect_agg_fields(x, out)),
        AggExpr::Not(x) => collect_agg_fields(x, out),
    }
}

impl Proc {
    /// Feeds one event; returns the occurrences it completes. Searches whose leaf is off in
    /// `on` (the prefilter ruled them out) are not evaluated: they cannot match.
    fn event(&mut self, ev: &Event, ctx: &EventCtx, on: Option<&[bool]>) -> Vec<Occ> {
        // An event without a time cannot be placed in a window or a sequence.
        if ev.time.is_none() && !matches!(self, Proc::Match { .. }) {
            return Vec::new();
        }
        match self {
            Proc::Match { m, layout, leaf } => {
                if on.is_none_or(|on| on[*leaf as usize]) && m.matches(ctx) {
                    let t = ev.time.unwrap_or(0);
                    vec![Occ {
                        time: t,
                        first: t,
                        events: vec![ev.value.clone()],
                        ids: vec![ev.id.clone()],
                        count: 1,
                        source: Source::Event(ev.value.clone(), *layout),
                        score: None,
                        values: BTreeMap::new(),
                    }]
                } else {
                    Vec::new()
                }
            }
            Proc::Threshold(t) => {
                let mut out = Vec::new();
                if let Some(now) = ev.time {
                    out.extend(t.advance(now));
                }
                for i in 0..t.inputs.len() {
                    for o in t.inputs[i].proc.event(ev, ctx, on) {
                        out.extend(t.push(i, o));
                    }
                }
                out
            }
            Proc::Sequence(s) => {
                let mut out = Vec::new();
                s.tick += 1;
                if let Some(now) = ev.time {
                    s.sweep(now);
                }
                for i in 0..s.inputs.len() {
                    for o in s.inputs[i].proc.event(ev, ctx, on) {
                        out.extend(s.push(i, o));
                    }
                }
                out
            }
            Proc::Unordered(u) => {
                let mut out = Vec::new();
                if let Some(now) = ev.time {
                    u.sweep(now);
                }
                for i in 0..u.inputs.len() {
                    for o in u.inputs[i].proc.event(ev, ctx, on) {
                        out.extend(u.push(i, o));
                    }
                }
                out
            }
        }
    }

    /// Ends the stream: closes open windows and returns what they complete.
    fn flush(&mut self) -> Vec<Occ> {
        match self {
            Proc::Match { .. } => Vec::new(),
            Proc::Threshold(t) => {
                let mut out = Vec::new();
                for i in 0..t.inputs.len() {
                    for o in t.inputs[i].proc.flush() {
                        out.extend(t.push(i, o));
                    }
                }
                out.extend(t.advance(i64::MAX));
                out
            }
            Proc::Sequence(s) => {
                let mut out = Vec::new();
                s.tick += 1;
                for i in 0..s.inputs.len() {
                    for o in s.inputs[i].proc.flush() {
                        out.extend(s.push(i, o));
                    }
                }
                out
            }
            Proc::Unordered(u) => {
                let mut out = Vec::new();
                for i in 0..u.inputs.len() {
                    for o in u.inputs[i].proc.flush() {
                        out.extend(u.push(i, o));
                    }
                }
                out
            }
        }
    }

    /// Groups and partial matches held (for memory accounting and tests).
    fn state_size(&self) -> usize {
        match self {
            Proc::Match { .. } => 0,
            Proc::Threshold(t) => {
                t.groups
                    .values()
                    .map(|g| g.entries.len() + 1)
                    .sum::<usize>()
                    + t.inputs.iter().map(|i| i.proc.state_size()).sum::<usize>()
            }
            Proc::Sequence(s) => {
                s.pending
                    .values()
                    .map(|p| p.iter().flatten().count())
                    .sum::<usize>()
                    + s.inputs.iter().map(|i| i.proc.state_size()).sum::<usize>()
            }
            Proc::Unordered(u) => {
                u.seen
                    .values()
                    .map(|p| p.iter().map(VecDeque::len).sum::<usize>())
                    .sum::<usize>()
                    + u.inputs.iter().map(|i| i.proc.state_size()).sum::<usize>()
            }
        }
    }
}

/// The items of two ascending lists that are in both.
fn intersect(a: &[u32], b: &[u32], out: &mut Vec<u32>) {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
}

/// Adds `base` to the leaf numbers of a compiled query (compiled with numbers from 0).
fn renumber(p: &mut Proc, base: u32) {
    match p {
        Proc::Match { leaf, .. } => *leaf += base,
        Proc::Threshold(t) => t
            .inputs
            .iter_mut()
            .for_each(|i| renumber(&mut i.proc, base)),
        Proc::Sequence(s) => s
            .inputs
            .iter_mut()
            .for_each(|i| renumber(&mut i.proc, base)),
        Proc::Unordered(u) => u
            .inputs
            .iter_mut()
            .for_each(|i| renumber(&mut i.proc, base)),
    }
}

/// Reads the group key of an occurrence; `None` when a key is missing (it does not count).
fn key_of(input: &In, keys: &[String], o: &Occ) -> Option<Vec<String>> {
    keys.iter()
        .map(|k| input.field(k).and_then(|f| o.get(f)))
        .collect()
}

struct Entry {
    time: i64,
    occ: Occ,
    vals: Vec<Vec<String>>,
}

struct Group {
    /// The group's key, shared with the expiry queue.
    key: Arc<[String]>,
    window_start: i64,
    entries: VecDeque<Entry>,
}

struct ThresholdProc {
    inputs: Vec<In>,
    group_by: Vec<String>,
    length: i64,
    kind: WindowKind,
    condition: AggExpr,
    score: Vec<ScoreCase>,
    needed: Vec<String>,
    groups: HashMap<Arc<[String]>, Group>,
    watermark: i64,
    /// Tumbling: the open windows by end time, so time passing finds the ended ones without
    /// visiting every group.
    ends: BTreeSet<(i64, Vec<String>)>,
    /// Sliding: every entry's time and group, earliest first, so time passing finds the
    /// groups that went idle without visiting every group.
    expiries: BinaryHeap<Reverse<(i64, Arc<[String]>)>>,
}

impl ThresholdProc {
    fn push(&mut self, input: usize, o: Occ) -> Vec<Occ> {
        let Some(key) = key_of(&self.inputs[input], &self.group_by, &o) else {
            return Vec::new();
        };
        let vals: Vec<Vec<String>> = self
            .needed
            .iter()
            .map(|f| match self.inputs[input].field(f) {
                Some(field) => o.all(field),
                None => Vec::new(),
            })
            .collect();
        let t = o.time;
        let mut out = Vec::new();
        match self.kind {
            WindowKind::Tumbling => {
                let start = t.div_euclid(self.length) * self.length;
                // The window already closed (time passed its end): a late event cannot
                // reopen it, or the same window would alert twice.
                if start.saturating_add(self.length) <= self.watermark {
                    return out;
                }
                let end = start.saturating_add(self.length);
                if !self.groups.contains_key(&key[..]) {
                    self.ends.insert((end, key.clone()));
                    let k: Arc<[String]> = key.clone().into();
                    self.groups.insert(
                        k.clone(),
                        Group {
                            key: k,
                            window_start: start,
                            entries: VecDeque::new(),
                        },
                    );
                }
                let g = self.groups.get_mut(&key[..]).expect("group exists");
                if g.window_start != start {
                    if start > g.window_start {
                        let closed = std::mem::take(&mut g.entries);
                        let ws = g.window_start;
                        g.window_start = start;
                        self.ends
                            .remove(&(ws.saturating_add(self.length), key.clone()));
                        self.ends.insert((end, key.clone()));
                        if let Some(a) = self.close(&key, ws, closed) {
                            out.push(a);
                        }
                    } else {
                        // Late for a window already closed for this group: it cannot count.
                        return out;
                    }
                }
                let g = self
                    .groups
                    .get_mut(&key[..])
                    .expect("group was just inserted");
                g.entries.push_back(Entry {
                    time: t,
                    occ: o,
                    vals,
                });
            }
            WindowKind::Sliding => {
                if !self.groups.contains_key(&key[..]) {
                    let k: Arc<[String]> = key.clone().into();
                    self.groups.insert(
                        k.clone(),
                        Group {
                            key: k,
                            window_start: t,
                            entries: VecDeque::new(),
                        },
                    );
                }
                let g = self.groups.get_mut(&key[..]).expect("group exists");
                // The window holds events in [t - length, t]: a span of at most `length`.
                while g.entries.front().is_some_and(|e| e.time < t - self.length) {
                    g.entries.pop_front();
                }
                g.entries.push_back(Entry {
                    time: t,
                    occ: o,
                    vals,
                });
                self.expiries.push(Reverse((t, g.key.clone())));
                let entries = &g.entries;
                if eval_agg(&self.condition, entries, &self.needed) {
                    let closed = std::mem::take(&mut g.entries);
                    // An empty group behaves as no group: forget it now.
                    self.groups.remove(&key[..]);
                    let start = closed.front().map_or(t, |e| e.time);
                    if let Some(a) = self.alert(&key, start, closed) {
                        out.push(a);
                    }
                }
            }
        }
        out
    }

    /// Time has reached `now`: close tumbling windows that ended, drop idle sliding groups.
    fn advance(&mut self, now: i64) -> Vec<Occ> {
        if now <= self.watermark {
            return Vec::new();
        }
        self.watermark = now;
        let mut out = Vec::new();
        let length = self.length;
        match self.kind {
            WindowKind::Tumbling => {
                let mut ended: Vec<Vec<String>> = Vec::new();
                while self.ends.first().is_some_and(|(end, _)| *end <= now) {
                    let (_, k) = self.ends.pop_first().expect("checked");
                    ended.push(k);
                }
                ended.sort();
                for k in ended {
                    if let Some(g) = self.groups.remove(&k[..])
                        && let Some(a) = self.close(&k, g.window_start, g.entries)
                    {
                        out.push(a);
                    }
                }
            }
            WindowKind::Sliding => {
                // Groups whose every entry is older than the window are idle: forget them.
                // (Each entry is looked at once, when it leaves the window.)
                let limit = now.saturating_sub(length);
                while self
                    .expiries
                    .peek()
                    .is_some_and(|Reverse((t, _))| *t < limit)
                {
                    let Reverse((_, k)) = self.expiries.pop().expect("peeked");
                    if self
                        .groups
                        .get(&k)
                        .is_some_and(|g| g.entries.back().is_none_or(|e| e.time < limit))
                    {
                        self.groups.remove(&k);
                    }
                }
            }
        }
        out
    }

    fn close(&self, key: &[String], start: i64, entries: VecDeque<Entry>) -> Option<Occ> {
        if entries.is_empty() || !eval_agg(&self.condition, &entries, &self.needed) {
            return None;
        }
        self.alert(key, start, entries)
    }

    fn alert(&self, key: &[String], _start: i64, entries: VecDeque<Entry>) -> Option<Occ> {
        let first = entries.front()?.time;
        let last = entries.iter().map(|e| e.time).max().unwrap_or(first);
        let score = self
            .score
            .iter()
            .find(|c| {
                c.when
                    .as_ref()
                    .is_none_or(|w| eval_agg(w, &entries, &self.needed))
            })
            .map(|c| c.value);
        let count = entries.iter().map(|e| e.occ.count).sum();
        let mut ids = Vec::new();
        let mut events = Vec::new();
        for e in &entries {
            for id in &e.occ.ids {
                if ids.len() < MAX_LISTED_EVENTS {
                    ids.push(id.clone());
                }
            }
            for ev in &e.occ.events {
                if events.len() < MAX_LISTED_EVENTS {
                    events.push(ev.clone());
                }
            }
        }
        let group: BTreeMap<String, String> = self
            .group_by
            .iter()
            .cloned()
            .zip(key.iter().cloned())
            .collect();
        let mut values = BTreeMap::new();
        for (i, f) in self.needed.iter().enumerate() {
            let mut vs: BTreeSet<&str> = BTreeSet::new();
            for e in &entries {
                for v in &e.vals[i] {
                    vs.insert(v);
                }
            }
            values.insert(
                f.clone(),
                vs.into_iter().map(str::to_owned).collect::<Vec<_>>(),
            );
        }
        Some(Occ {
            time: last,
            first,
            events,
            ids,
            count,
            source: Source::Group(group),
            score,
            values,
        })
    }
}

/// Evaluates an aggregate expression over a window's entries.
fn eval_agg(e: &AggExpr, entries: &VecDeque<Entry>, needed: &[String]) -> bool {
    match e {
        AggExpr::Cmp(a, op, v) => aggregate(a, entries, needed).is_some_and(|x| op.holds(x, *v)),
        AggExpr::And(items) => items.iter().all(|i| eval_agg(i, entries, needed)),
        AggExpr::Or(items) => items.iter().any(|i| eval_agg(i, entries, needed)),
        AggExpr::Not(x) => !eval_agg(x, entries, needed),
    }
}

/// Computes one aggregate; `None` when it has no value (a numeric aggregate over no number).
fn aggregate(a: &Agg, entries: &VecDeque<Entry>, needed: &[String]) -> Option<f64> {
    if a.func == AggFunc::Count {
        return Some(entries.iter().map(|e| e.occ.count).sum::<u64>() as f64);
    }
    let idx = needed.iter().position(|n| Some(n) == a.field.as_ref())?;
    if a.func == AggFunc::Distinct {
        let set: BTreeSet<&str> = entries
            .iter()
            .flat_map(|e| e.vals[idx].iter().map(String::as_str))
            .collect();
        return Some(set.len() as f64);
    }
    let mut nums: Vec<f64> = entries
        .iter()
        .filter_map(|e| e.vals[idx].first())
        .filter_map(|s| s.trim().parse::<f64>().ok())
        .filter(|x| x.is_finite())
        .collect();
    if nums.is_empty() {
        return None;
    }
    Some(match a.func {
        AggFunc::Sum => nums.iter().sum(),
        AggFunc::Min => nums.iter().cloned().fold(f64::INFINITY, f64::min),
        AggFunc::Max => nums.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
        AggFunc::Avg => nums.iter().sum::<f64>() / nums.len() as f64,
        AggFunc::Percentile => {
            // Nearest-rank percentile.
            nums.sort_by(f64::total_cmp);
            let p = a.rank.unwrap_or(50.0).clamp(0.0, 100.0);
            let rank = ((p / 100.0) * nums.len() as f64).ceil().max(1.0) as usize;
            nums[rank.min(nums.len()) - 1]
        }
        AggFunc::Count | AggFunc::Distinct => unreachable!("handled above"),
    })
}

struct Partial {
    first: i64,
    last: i64,
    occs: Vec<Occ>,
    /// The event (tick) that last advanced it: one event fills at most one stage.
    tick: u64,
}

struct SequenceProc {
    inputs: Vec<In>,
    until: Option<usize>,
    by: Vec<String>,
    maxspan: Option<i64>,
    /// Input index of each stage (a step with `runs: N` fills N stages).
    stages: Vec<usize>,
    /// Per key: the pending partial sequence that has completed each stage.
    pending: HashMap<Vec<String>, Vec<Option<Partial>>>,
    /// Counts the events fed, so a partial is never advanced twice by one event.
    tick: u64,
    /// Time of the last sweep of expired partials.
    swept: i64,
}

impl SequenceProc {
    /// Forgets partials older than the maximum span, so memory stays bounded by the keys
    /// active within one span. Runs at most once per span of stream time.
    fn sweep(&mut self, now: i64) {
        let Some(ms) = self.maxspan else { return };
        if now.saturating_sub(self.swept) < ms {
            return;
        }
        self.swept = now;
        self.pending.retain(|_, stages| {
            for p in stages.iter_mut() {
                if p.as_ref().is_some_and(|p| now - p.first > ms) {
                    *p = None;
                }
            }
            stages.iter().any(Option::is_some)
        });
    }

    fn push(&mut self, input: usize, o: Occ) -> Vec<Occ> {
        let Some(key) = key_of(&self.inputs[input], &self.by, &o) else {
            return Vec::new();
        };
        if Some(input) == self.until {
            self.pending.remove(&key);
            return Vec::new();
        }
        let n = self.stages.len();
        let state = self
            .pending
            .entry(key.clone())
            .or_insert_with(|| (0..n).map(|_| None).collect());
        let t = o.time;
        if let Some(ms) = self.maxspan {
            for p in state.iter_mut() {
                if p.as_ref().is_some_and(|p| t - p.first > ms) {
                    *p = None;
                }
            }
        }
        let mut out = Vec::new();
        // From the last stage back, so one occurrence advances a partial by one stage only.
        for s in (0..n).rev() {
            if self.stages[s] != input {
                continue;
            }
            let next = if s == 0 {
                Some(Partial {
                    first: o.first.min(t),
                    last: t,
                    occs: vec![o.clone()],
                    tick: self.tick,
                })
            } else {
                match state[s - 1].take() {
                    Some(mut p) if t >= p.last && p.tick != self.tick => {
                        p.last = t;
                        p.tick = self.tick;
                        p.occs.push(o.clone());
                        Some(p)
                    }
                    other => {
                        state[s - 1] = other;
                        None
                    }
                }
            };
            let Some(p) = next else { continue };
            if s + 1 == n {
                out.push(seq_alert(&self.by, &key, p));
                // A completed sequence consumes the key's partials: events never count twice,
                // so a burst of N runs alerts once per N, not once per event.
                state.iter_mut().for_each(|x| *x = None);
                break;
            } else {
                state[s] = Some(p);
            }
        }
        if state.iter().all(Option::is_none) {
            self.pending.remove(&key);
        }
        out
    }
}

fn seq_alert(by: &[String], key: &[String], p: Partial) -> Occ {
    let mut ids = Vec::new();
    let mut events = Vec::new();
    let mut count = 0;
    for o in &p.occs {
        count += o.count;
        ids.extend(
            o.ids
                .iter()
                .take(MAX_LISTED_EVENTS.saturating_sub(ids.len()))
                .cloned(),
        );
        events.extend(
            o.events
                .iter()
                .take(MAX_LISTED_EVENTS.saturating_sub(events.len()))
                .cloned(),
        );
    }
    let group = by.iter().cloned().zip(key.iter().cloned()).collect();
    Occ {
        time: p.last,
        first: p.first,
        events,
        ids,
        count,
        source: Source::Group(group),
        score: None,
        values: BTreeMap::new(),
    }
}

struct UnorderedProc {
    inputs: Vec<In>,
    by: Vec<String>,
    within: i64,
    /// Per key, per input: occurrences inside the span.
    seen: HashMap<Vec<String>, Vec<VecDeque<Occ>>>,
    /// Time of the last sweep of expired occurrences.
    swept: i64,
}

impl UnorderedProc {
    /// Forgets occurrences older than the span (at most once per span of stream time).
    fn sweep(&mut self, now: i64) {
        if now.saturating_sub(self.swept) < self.within {
            return;
        }
        self.swept = now;
        let within = self.within;
        self.seen.retain(|_, lists| {
            for l in lists.iter_mut() {
                while l.front().is_some_and(|x| x.time < now - within) {
                    l.pop_front();
                }
            }
            lists.iter().any(|l| !l.is_empty())
        });
    }

    fn push(&mut self, input: usize, o: Occ) -> Vec<Occ> {
        let Some(key) = key_of(&self.inputs[input], &self.by, &o) else {
            return Vec::new();
        };
        let n = self.inputs.len();
        let t = o.time;
        let lists = self
            .seen
            .entry(key.clone())
            .or_insert_with(|| (0..n).map(|_| VecDeque::new()).collect());
        for l in lists.iter_mut() {
            while l.front().is_some_and(|x| x.time < t - self.within) {
                l.pop_front();
            }
        }
        lists[input].push_back(o);
        if lists.iter().all(|l| !l.is_empty()) {
            let occs: Vec<Occ> = lists.iter_mut().flat_map(std::mem::take).collect();
            self.seen.remove(&key);
            let first = occs.iter().map(|o| o.first).min().unwrap_or(t);
            let p = Partial {
                first,
                last: t,
                occs,
                tick: 0,
            };
            return vec![seq_alert(&self.by, &key, p)];
        }
        Vec::new()
    }
}

/// The names of the inputs a query reads directly.
/// A rule ready to evaluate.
struct Compiled {
    rule: Arc<RuleRef>,
    proc: Proc,
    outputs: Vec<Output>,
    /// True for rules that only feed correlations in the set (Sigma `generate: false`).
    silent: bool,
}

/// Evaluates many rules over one stream of events.
pub struct Engine {
    rules: Vec<Compiled>,
    fields: Fields,
    /// The raw-line prefilter over every search of every rule (leaves in rule order).
    prefilter: Prefilter,
    /// Which searches can match, from the indexed tests that hold for an event.
    test_clauses: Clauses,
    test_scratch: ClauseScratch,
    /// Candidate leaves of an event (scratch).
    cands: Vec<u32>,
    /// Leaf → index of its rule.
    leaf_rule: Vec<u32>,
    /// Rules with state (windows, sequences): they see every event, for its time.
    stateful: Vec<u32>,
    /// Per-event leaf mask (scratch).
    on: Vec<bool>,
    /// Per-event rule list (scratch).
    todo: Vec<u32>,
    /// Whether alerts carry the matched events themselves.
    pub include_events: bool,
}

/// A rule that cannot be evaluated, and why.
#[derive(Debug, Clone)]
pub struct Rejected {
    /// The rule.
    pub rule: RuleRef,
    /// Why.
    pub error: CompileError,
}

/// The rule reference of an IR rule.
pub fn rule_ref(r: &Rule) -> RuleRef {
    RuleRef {
        id: r.meta.id.clone(),
        name: r.meta.name.clone(),
        title: r.meta.title.clone(),
        level: r.meta.level.map(|l| l.name().to_string()),
    }
}

impl Engine {
    /// Compiles rules. Rules that feed a correlation of the set alert on their own only if
    /// a correlation naming them has `generate: true`.
    pub fn new(rules: &[Rule]) -> (Engine, Vec<Rejected>) {
        Engine::build(rules, true)
    }

    /// The engine without its field index: every search is evaluated directly, on every
    /// event, by comparing strings. Slow; the reference the indexed engine is checked against.
    pub fn unindexed(rules: &[Rule]) -> (Engine, Vec<Rejected>) {
        Engine::build(rules, false)
    }

    fn build(rules: &[Rule], indexed: bool) -> (Engine, Vec<Rejected>) {
        let mut fields = Fields::default();
        let alerting = sigil_ir::alerting_rules(rules);
        let mut compiled = Vec::new();
        let mut rejected = Vec::new();
        let mut needs = Vec::new();
        let mut leaf_rule = Vec::new();
        let mut stateful = Vec::new();
        for (r, alerts) in rules.iter().zip(alerting) {
            let rr = rule_ref(r);
            let mut leaves = Vec::new();
            match compile(&r.query, &mut fields, &mut leaves) {
                Ok(mut proc) => {
                    let idx = compiled.len() as u32;
                    renumber(&mut proc, needs.len() as u32);
                    leaf_rule.extend(leaves.iter().map(|_| idx));
                    needs.extend(leaves);
                    if !matches!(proc, Proc::Match { .. }) {
                        stateful.push(idx);
                    }
                    if let Proc::Threshold(t) = &mut proc {
                        // Output fields are aggregated too, so alerts can list what was seen.
                        for o in &r.outputs {
                            if let Output::Values(f) | Output::Distinct(f) | Output::Field(f) = o
                                && !t.group_by.contains(f)
                                && !t.needed.contains(f)
                            {
                                t.needed.push(f.clone());
                            }
                        }
                    }
                    compiled.push(Compiled {
                        rule: Arc::new(rr),
                        proc,
                        outputs: r.outputs.clone(),
                        silent: !alerts,
                    });
                }
                Err(error) => rejected.push(Rejected { rule: rr, error }),
            }
        }
        let n = needs.len();
        if indexed {
            fields.lits.build();
        }
        (
            Engine {
                rules: compiled,
                fields,
                prefilter: Prefilter::new(&needs.iter().map(|n| n.raw.clone()).collect::<Vec<_>>()),
                test_clauses: Clauses::new(
                    &needs.iter().map(|n| n.tests.clone()).collect::<Vec<_>>(),
                    |t| *t,
                ),
                test_scratch: ClauseScratch::default(),
                cands: Vec::new(),
                leaf_rule,
                stateful,
                on: vec![false; n],
                todo: Vec::new(),
                include_events: false,
            },
            rejected,
        )
    }

    /// The raw-line prefilter of the engine's searches (see [`Engine::process_candidates`]).
    pub fn prefilter(&self) -> &Prefilter {
        &self.prefilter
    }

    /// The rule a prefilter leaf (a search) belongs to.
    pub fn leaf_rule(&self, leaf: u32) -> &RuleRef {
        &self.rules[self.leaf_rule[leaf as usize] as usize].rule
    }

    /// True when some rule keeps state, so every event's time matters.
    pub fn is_stateful(&self) -> bool {
        !self.stateful.is_empty()
    }

    /// Feeds one event of which only the searches `leaves` (ascending leaf numbers, as
    /// [`Prefilter::scan`] returns them) can match; the others are not evaluated. Gives the
    /// same alerts as [`Engine::process`] whenever the other searches do not match.
    pub fn process_candidates(&mut self, ev: &Event, leaves: &[u32]) -> Vec<Alert> {
        self.run(ev, Some(leaves))
    }

    /// Number of rules that compiled.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when no rule compiled.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Feeds one event (events should arrive in time order; see docs/semantics.md).
    pub fn process(&mut self, ev: &Event) -> Vec<Alert> {
        self.run(ev, None)
    }

    /// Evaluates the searches that can match (among `raw`, when given): those whose indexed
    /// tests hold as their needs say. Rules with state see every event, for its time.
    fn run(&mut self, ev: &Event, raw: Option<&[u32]>) -> Vec<Alert> {
        if raw.is_some_and(|l| l.is_empty()) && self.stateful.is_empty() {
            return Vec::new();
        }
        let ctx = EventCtx::new(&ev.value, &self.fields);
        self.cands.clear();
        if raw.is_none_or(|l| !l.is_empty()) {
            match ctx.lit_hits() {
                Some(h) => {
                    let sc = &mut self.test_scratch;
                    self.test_clauses.begin(sc);
                    for &t in &h.list {
                        self.test_clauses.hit(t as usize, sc);
                    }
                    self.test_clauses.finish(sc);
                    match raw {
                        // Both are necessary: a candidate passes both.
                        Some(raw) => intersect(raw, &sc.leaves, &mut self.cands),
                        None => self.cands.extend_from_slice(&sc.leaves),
                    }
                }
                None => match raw {
                    Some(raw) => self.cands.extend_from_slice(raw),
                    None => self.cands.extend(0..self.on.len() as u32),
                },
            }
        }
        self.todo.clear();
        for &l in &self.cands {
            self.on[l as usize] = true;
            let r = self.leaf_rule[l as usize];
            if self.todo.last() != Some(&r) {
                self.todo.push(r);
            }
        }
        if !self.stateful.is_empty() {
            self.todo.extend_from_slice(&self.stateful);
            self.todo.sort_unstable();
            self.todo.dedup();
        }
        let mut out = Vec::new();
        for &i in &self.todo {
            let r = &mut self.rules[i as usize];
            let occs = r.proc.event(ev, &ctx, Some(&self.on));
            if !r.silent {
                for o in occs {
                    out.push(make_alert(&r.rule, &r.outputs, o, self.include_events));
                }
            }
        }
        for &l in &self.cands {
            self.on[l as usize] = false;
        }
        out
    }

    /// Ends the stream and returns the alerts of windows still open.
    pub fn flush(&mut self) -> Vec<Alert> {
        let mut out = Vec::new();
        for r in &mut self.rules {
            let occs = r.proc.flush();
            if !r.silent {
                for o in occs {
                    out.push(make_alert(&r.rule, &r.outputs, o, self.include_events));
                }
            }
        }
        out
    }

    /// Total groups and partial sequences held in memory.
    pub fn state_size(&self) -> usize {
        self.rules.iter().map(|r| r.proc.state_size()).sum()
    }
}

fn make_alert(rule: &Arc<RuleRef>, outputs: &[Output], o: Occ, include: bool) -> Alert {
    let is_event = matches!(o.source, Source::Event(..));
    let group = match &o.source {
        Source::Group(g) => g.clone(),
        Source::Event(..) => BTreeMap::new(),
    };
    let mut outs = BTreeMap::new();
    for out in outputs {
        let (k, v) = match out {
            Output::Field(f) => (
                f.clone(),
                o.get(f).map(Value::String).unwrap_or(Value::Null),
            ),
            Output::Count => ("count".into(), Value::from(o.count)),
            Output::FirstSeen => ("first_seen".into(), Value::String(time::format_ms(o.first))),
            Output::LastSeen => ("last_seen".into(), Value::String(time::format_ms(o.time))),
            Output::Score => (
                "score".into(),
                o.score.map(Value::from).unwrap_or(Value::Null),
            ),
            Output::Values(f) => (format!("values({f})"), Value::from(o.all(f))),
            Output::Distinct(f) => (format!("distinct({f})"), Value::from(o.all(f).len())),
        };
        outs.insert(k, v);
    }
    let has_time = o.time != 0 || !is_event;
    Alert {
        v: ALERT_VERSION,
        rule: rule.clone(),
        time: has_time.then(|| time::format_ms(o.time)),
        first_seen: (!is_event).then(|| time::format_ms(o.first)),
        last_seen: (!is_event).then(|| time::format_ms(o.time)),
        group,
        count: o.count,
        events: o.ids,
        score: o.score,
        outputs: outs,
        matched: if include || is_event {
            o.events
        } else {
            Vec::new()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sigil_ir::{
        Agg, AggExpr, AggFunc, Case, CmpOp, Expr, Input, LogSource, Meta, Origin, Predicate, Query,
        Rule, Search, Sequence, Step, Target, Test, Threshold, Unordered, Window, WindowKind,
    };

    fn search(kind: &str) -> Query {
        Query::Match(Search {
            source: LogSource::default(),
            expr: Expr::Pred(Predicate {
                target: Target::Field("kind".into()),
                test: Test::Eq(sigil_ir::Value::Str(kind.into()), Case::Insensitive),
                span: None,
            }),
        })
    }

    fn input(name: &str) -> Input {
        Input {
            name: name.into(),
            query: Box::new(search(name)),
            fields: BTreeMap::new(),
            origin: None,
        }
    }

    fn rule(q: Query) -> Rule {
        Rule {
            meta: Meta {
                title: "t".into(),
                ..Meta::default()
            },
            origin: Origin::default(),
            query: q,
            outputs: vec![],
        }
    }

    fn feed(engine: &mut Engine, n: usize, kind: &str) {
        for i in 0..n {
            let v = json!({"kind": kind, "user": format!("u{i}"), "time": (i as i64) * 1000});
            engine.process(&Event::new(v, None, format!("e{i}")));
        }
    }

    #[test]
    fn sequence_partials_of_idle_keys_are_forgotten_after_the_span() {
        let q = Query::Sequence(Sequence {
            by: vec!["user".into()],
            maxspan_ms: Some(10_000),
            steps: vec![
                Step {
                    input: input("a"),
                    runs: 1,
                },
                Step {
                    input: input("b"),
                    runs: 1,
                },
            ],
            until: None,
        });
        let (mut e, _) = Engine::new(&[rule(q)]);
        // 100k distinct users start a sequence each; none completes.
        feed(&mut e, 100_000, "a");
        assert!(e.state_size() <= 11, "partials held: {}", e.state_size());
    }

    #[test]
    fn unordered_occurrences_of_idle_keys_are_forgotten_after_the_span() {
        let q = Query::Unordered(Unordered {
            by: vec!["user".into()],
            within_ms: 10_000,
            inputs: vec![input("a"), input("b")],
        });
        let (mut e, _) = Engine::new(&[rule(q)]);
        feed(&mut e, 100_000, "a");
        assert!(e.state_size() <= 21, "occurrences held: {}", e.state_size());
    }

    #[test]
    fn sliding_groups_of_idle_keys_are_forgotten() {
        let q = Query::Threshold(Threshold {
            inputs: vec![input("a")],
            group_by: vec!["user".into()],
            window: Window {
                length_ms: 10_000,
                kind: WindowKind::Sliding,
            },
            condition: AggExpr::Cmp(
                Agg {
                    func: AggFunc::Count,
                    field: None,
                    rank: None,
                },
                CmpOp::Gte,
                2.0,
            ),
            score: vec![],
        });
        let (mut e, _) = Engine::new(&[rule(q)]);
        feed(&mut e, 100_000, "a");
        assert!(e.state_size() <= 30, "entries held: {}", e.state_size());
    }
}
