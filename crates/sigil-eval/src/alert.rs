//! The one alert record (`sigil hunt`, `sigil test --format json`, snapshots, fixture
//! expectations). Its JSON shape is versioned: `"v": 1`; fields are only ever added.

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Version of the alert JSON shape.
pub const ALERT_VERSION: u32 = 1;

/// Most contributing event ids (and events) an alert lists; `count` always has the total.
pub const MAX_LISTED_EVENTS: usize = 100;

/// Which rule raised an alert.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RuleRef {
    /// The rule's id, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The rule's name, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The rule's title.
    pub title: String,
    /// The rule's level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
}

impl RuleRef {
    /// True when `key` is the rule's id or name.
    pub fn is(&self, key: &str) -> bool {
        self.id.as_deref() == Some(key) || self.name.as_deref() == Some(key)
    }
}

/// One alert.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Alert {
    /// Shape version ([`ALERT_VERSION`]).
    pub v: u32,
    /// The rule (shared by all its alerts).
    pub rule: Arc<RuleRef>,
    /// When the alert fired: the time of its last contributing event (RFC 3339, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Time of the first contributing event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    /// Time of the last contributing event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    /// Group key values (thresholds, sequences); empty for single-event rules.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub group: BTreeMap<String, String>,
    /// Number of contributing events.
    pub count: u64,
    /// Ids of contributing events (at most [`MAX_LISTED_EVENTS`]).
    pub events: Vec<String>,
    /// The risk score, when the rule has score cases.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<i64>,
    /// The rule's output fields.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, Value>,
    /// The matched event itself (single-event rules), or the first contributing events
    /// (at most [`MAX_LISTED_EVENTS`]) for thresholds and sequences, when requested.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matched: Vec<Arc<Value>>,
}
