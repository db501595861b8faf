//! The SPL backend (being written: every construct is refused until it lands).

use sigil_backend::{Backend, Capability, Construct, Cx, MappedRule};

/// The SPL target.
pub struct SPL;

impl Backend for SPL {
    fn name(&self) -> &'static str {
        "spl"
    }
    fn title(&self) -> &'static str {
        "SPL"
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
            "the SPL backend is not written yet",
            &[],
        );
        String::new()
    }
}
