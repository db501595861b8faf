//! The KQL backend (being written: every construct is refused until it lands).

use sigil_backend::{Backend, Capability, Construct, Cx, MappedRule};

/// The KQL target.
pub struct KQL;

impl Backend for KQL {
    fn name(&self) -> &'static str {
        "kql"
    }
    fn title(&self) -> &'static str {
        "KQL"
    }
    fn capabilities(&self) -> Vec<Capability> {
        Vec::new()
    }
    fn emit(&self, rule: &MappedRule, cx: &mut Cx) -> String {
        cx.approx(
            Construct::Outputs,
            rule.rule.origin.span,
            "the backend is not written yet",
        );
        cx.refuse(
            Construct::Outputs,
            rule.rule.origin.span,
            "the KQL backend is not written yet",
            &[],
        );
        String::new()
    }
}
