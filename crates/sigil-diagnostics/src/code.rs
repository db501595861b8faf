//! The stable diagnostic codes. A code never changes meaning once released; new problems get
//! new codes. `docs/errors.md` documents each one and a test fails when the two drift.

use serde::Serialize;
use std::fmt;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The rule cannot be used as written.
    Error,
    /// The rule is valid but probably not what its author meant.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $sev:ident, $slug:literal; )*) => {
        /// A stable diagnostic code; see `docs/errors.md`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, in documentation order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as printed (`S104`).
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// The short kebab-case name of the code.
            pub fn slug(self) -> &'static str {
                match self { $(Code::$variant => $slug,)* }
            }

            /// The severity the code has unless a stage overrides it.
            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$sev,)* }
            }
        }
    };
}

codes! {
    /// A file or folder could not be read.
    Io = "S001", Error, "io-error";
    /// The text is not well-formed YAML.
    YamlSyntax = "S101", Error, "yaml-syntax";
    /// A mapping repeats a key.
    DuplicateKey = "S102", Error, "duplicate-key";
    /// YAML aliases or nesting exceed the safety limits.
    YamlLimit = "S103", Error, "yaml-limit";
    /// A document is not a mapping.
    NotAMapping = "S104", Error, "not-a-mapping";
    /// A document is neither a rule, a correlation nor a filter.
    UnknownDocument = "S105", Error, "unknown-document";
    /// A required key is missing.
    MissingKey = "S106", Error, "missing-key";
    /// A key holds a value of the wrong type.
    WrongType = "S107", Error, "wrong-type";
    /// A key holds a value outside its allowed set.
    InvalidValue = "S108", Error, "invalid-value";
    /// Two rules in the checked set share an id or a name.
    DuplicateRule = "S109", Warning, "duplicate-rule";
    /// A key that Sigil does not know at a place where only known keys are allowed.
    UnknownKey = "S110", Error, "unknown-key";
    /// The condition expression does not parse.
    ConditionSyntax = "S201", Error, "condition-syntax";
    /// An expression nests deeper than the parser allows.
    TooDeep = "S202", Error, "too-deep";
    /// The condition names a search identifier that the detection does not define.
    UndefinedIdentifier = "S203", Error, "undefined-identifier";
    /// A search identifier is defined but never used by the condition.
    UnusedIdentifier = "S204", Warning, "unused-identifier";
    /// An `x of pattern*` matches no search identifier.
    PatternMatchesNothing = "S205", Error, "pattern-matches-nothing";
    /// A detection has no condition.
    MissingCondition = "S206", Error, "missing-condition";
    /// A search is empty and can never match.
    EmptySearch = "S207", Error, "empty-search";
    /// A field modifier that Sigma and Sigil do not define.
    UnknownModifier = "S301", Error, "unknown-modifier";
    /// Modifiers that cannot be combined, or are in the wrong order.
    IncompatibleModifiers = "S302", Error, "incompatible-modifiers";
    /// A regular expression that does not compile.
    InvalidRegex = "S303", Error, "invalid-regex";
    /// A CIDR network that does not parse.
    InvalidCidr = "S304", Error, "invalid-cidr";
    /// A value whose type does not suit its modifier (a string for `gt`, a list for `exists`).
    InvalidModifierValue = "S305", Error, "invalid-modifier-value";
    /// A duration that does not parse (`15m`, `1h`, `2d` are valid).
    BadDuration = "S401", Error, "bad-duration";
    /// Aggregation without a time window.
    AggregateWithoutWindow = "S402", Error, "aggregate-without-window";
    /// An aggregate expression (threshold condition, score case) that does not parse.
    AggregateSyntax = "S403", Error, "aggregate-syntax";
    /// A correlation or sequence names a rule that is not in the checked set.
    UnknownRule = "S404", Error, "unknown-rule";
    /// A correlation document that is malformed for its type.
    InvalidCorrelation = "S405", Error, "invalid-correlation";
    /// An aggregate or output names a field that no alias or group key provides.
    UnknownAlias = "S406", Error, "unknown-alias";
    /// Rules reference each other in a cycle.
    ReferenceCycle = "S407", Error, "reference-cycle";
    /// A filter document that is malformed or names no rule.
    InvalidFilter = "S408", Error, "invalid-filter";
    /// A filter names a rule that is not in the checked set.
    UnknownFilterTarget = "S409", Warning, "unknown-filter-target";
    /// A filter's log source does not cover a rule it names, so it is not applied to it.
    FilterNotApplicable = "S410", Warning, "filter-not-applicable";
    /// A rule's fixture file is missing or malformed.
    InvalidFixture = "S501", Error, "invalid-fixture";
    /// A placeholder has no value at compile time.
    UnresolvedPlaceholder = "S601", Error, "unresolved-placeholder";
    /// A target mapping file is malformed.
    InvalidMapping = "S701", Error, "invalid-mapping";
    /// A rule's log source has no mapping for the target.
    NoSourceMapping = "S702", Error, "no-source-mapping";
    /// A rule reads a field the target's mapping does not know.
    UnmappedField = "S703", Error, "unmapped-field";
    /// The target cannot express a construct the rule uses.
    RefusedConstruct = "S704", Error, "refused-construct";
    /// The target can only approximate a construct (an error under `--strict`).
    ApproximatedConstruct = "S705", Warning, "approximated-construct";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}
