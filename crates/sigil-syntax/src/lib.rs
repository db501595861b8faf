//! Sigil's surface syntax: YAML rule documents (a strict superset of Sigma) with positions,
//! the nom grammars for conditions and aggregate expressions, and fixture files.
//!
//! This crate gives no meaning to modifiers or names; `sigil-lower` does. It reports
//! everything it cannot read as diagnostics and keeps going.

pub mod ast;
pub mod expr;
pub mod fixture;
mod parse;
pub mod yaml;

pub use parse::parse_file;
