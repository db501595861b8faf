//! Arbitrary bytes as a rule file: parse, lower, print every rule; and as a fixture file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (file, _diags) = sigil_syntax::parse_file("fuzz.yml", text);
    let lowered = sigil_lower::lower_files(&[file]);
    for rule in &lowered.rules {
        let _ = sigil_ir::print_rule(rule);
    }
    let _ = sigil_syntax::fixture::parse_fixture("fuzz.tests.yml", text);
});
