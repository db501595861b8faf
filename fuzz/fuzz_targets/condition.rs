//! Arbitrary UTF-8 through both expression grammars: conditions and aggregate expressions.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = sigil_syntax::expr::parse_condition(text);
    let _ = sigil_syntax::expr::parse_agg_expr(text);
});
