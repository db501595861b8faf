//! The EQL backend (being written: every construct is refused until it lands).

use sigil_backend::{Backend, Capability, Construct, Cx, MappedRule};

/// The EQL target.
pub struct EQL;

impl Backend for EQL {
    fn name(&self) -> &'static str {
        "eql"
    }
    fn title(&self) -> &'static str {
        "EQL"
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
            "the EQL backend is not written yet",
            &[],
        );
        String::new()
    }
}
