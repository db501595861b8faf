//! The reference evaluator: what a Sigil rule means, computed over JSON events.
//!
//! Backends are held to this crate's answers. It reads only the IR. docs/semantics.md is
//! the written contract; this crate is its executable form.

pub mod alert;
pub mod engine;
pub mod event;
pub mod index;
pub mod matcher;
pub mod pattern;
pub mod prefilter;
pub mod raw;
pub mod time;

pub use alert::{ALERT_VERSION, Alert, RuleRef};
pub use engine::{Engine, Event, Rejected};
