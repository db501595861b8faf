//! Inputs that used to take seconds to minutes (found while fuzzing) are refused or checked
//! quickly, and ordinary rules are not affected by the limits.

use sigil_diagnostics::Code;
use std::time::{Duration, Instant};

fn lower(text: &str) -> (sigil_lower::Lowered, Duration) {
    let t = Instant::now();
    let (file, diags) = sigil_syntax::parse_file("t.yml", text);
    assert!(diags.is_empty(), "{diags:?}");
    let lowered = sigil_lower::lower_files(&[file]);
    (lowered, t.elapsed())
}

fn codes(l: &sigil_lower::Lowered) -> Vec<Code> {
    l.diagnostics.iter().map(|d| d.code).collect()
}

fn rule(field: &str, value: &str) -> String {
    format!(
        "title: t\nlogsource: {{product: x}}\ndetection:\n  s:\n    {field}: {value}\n  condition: s\n"
    )
}

/// Generous: debug builds on a busy machine; the inputs took minutes before.
const QUICK: Duration = Duration::from_secs(20);

#[test]
fn windash_and_encoding_chains_are_bounded() {
    for (field, value) in [
        ("c|windash|windash", "' -a -b -c -d -e -f'"),
        (
            "c|base64offset|base64offset|base64offset|base64offset|base64offset|base64offset|base64offset|base64offset|base64offset|base64offset",
            "abcdef",
        ),
        (&format!("c{}", "|base64".repeat(100)), "abcdef"),
        (
            "c|windash|contains",
            &format!("[{}]", vec!["' -a -b -c -d -e -f'"; 150].join(", ")),
        ),
    ] {
        let (l, took) = lower(&rule(field, value));
        assert!(took < QUICK, "{field}: {took:?}");
        assert!(
            codes(&l).contains(&Code::InvalidModifierValue),
            "{field}: {:?}",
            codes(&l)
        );
    }
}

#[test]
fn ordinary_windash_and_base64offset_still_lower() {
    let (l, _) = lower(&rule(
        "CommandLine|windash|contains",
        "[' -enc ', ' -nop ', ' -w hidden', ' -a -b -c']",
    ));
    assert!(l.diagnostics.is_empty(), "{:?}", l.diagnostics);
    let (l, _) = lower(&rule(
        "CommandLine|utf16le|base64offset|contains",
        "[IEX, 'Invoke-Expression', 'http://', 'FromBase64String']",
    ));
    assert!(l.diagnostics.is_empty(), "{:?}", l.diagnostics);
    // Long plain lists are not generated values.
    let many: Vec<String> = (0..5000).map(|i| format!("'value-{i:05}'")).collect();
    let (l, _) = lower(&rule("Hashes|contains", &format!("[{}]", many.join(", "))));
    assert!(l.diagnostics.is_empty(), "{:?}", l.diagnostics);
}

#[test]
fn correlation_chains_do_not_copy_rules_exponentially() {
    let mut docs = vec![
        "title: t\nname: c0\nlogsource: {product: x}\ndetection: {s: {a: 1}, condition: s}\n"
            .to_string(),
    ];
    for k in 1..31 {
        let p = k - 1;
        docs.push(format!(
            "title: t\nname: c{k}\ncorrelation: {{type: temporal, rules: [c{p}, c{p}, c{p}], group-by: g, timespan: 1m}}\n"
        ));
    }
    let (l, took) = lower(&docs.join("---\n"));
    assert!(took < QUICK, "{took:?}");
    assert!(
        codes(&l).contains(&Code::InvalidCorrelation),
        "{:?}",
        codes(&l)
    );
    // The first levels are small and lower.
    assert!(l.rules.iter().any(|r| r.meta.name.as_deref() == Some("c2")));
}

#[test]
fn large_regexes_are_checked_without_compiling_them_whole() {
    let t = Instant::now();
    for (pattern, ok) in [
        (r"(a)\1(\w{1000}){1000}", true),
        (r"(\w{100}){100}", true),
        (r".{1000,}", true),
        (r"(?=(a{999}){999})x", true),
        (r"[z-a]{1000}", false),
        (r"\p{NoSuchClass}{1000}", false),
        (r"(a{1000}){2000,1000}", false),
        (r"(a{1000}", false),
        // Small ones are compiled whole, as before.
        (r"[z-a]", false),
        (r"(?<=a+)b", false),
        (r"^C:\\Windows\\[^\\]{1,64}\.exe$", true),
    ] {
        let (l, _) = lower(&rule("c|re", &format!("'{pattern}'")));
        let invalid = codes(&l).contains(&Code::InvalidRegex);
        assert_eq!(!invalid, ok, "{pattern}: {:?}", l.diagnostics);
    }
    assert!(t.elapsed() < QUICK, "{:?}", t.elapsed());
}

#[test]
fn many_expensive_regexes_stay_quick() {
    // Each took 50 ms (release) to 300 ms (fuzzer build) to compile: 3 KB took 96 s.
    for make in [
        |i: usize| format!("'.{{{},}}'", 1000 + i),
        |i: usize| format!(r"'\w{{{}}}'", 100 + i),
    ] {
        let values: Vec<String> = (0..280).map(make).collect();
        let (l, took) = lower(&rule("c|re", &format!("[{}]", values.join(","))));
        assert!(took < QUICK, "{took:?}");
        assert!(l.diagnostics.is_empty(), "{:?}", l.diagnostics);
    }
}

#[test]
fn conditions_do_not_copy_searches_without_bound() {
    let searches: String = (0..12)
        .map(|i| {
            let values: Vec<String> = (0..20).map(|j| j.to_string()).collect();
            format!("  x{i}: {{a: [{}]}}\n", values.join(","))
        })
        .collect();
    let doc = |cond: &str| {
        format!("title: t\nlogsource: {{product: x}}\ndetection:\n{searches}  condition: {cond}\n")
    };
    // 2.4 KB of this took minutes: each `6 of` makes 924 × 6 copies of the searches.
    for cond in [
        vec!["6 of x*"; 150].join(" or "),
        vec!["x1"; 2000].join(" or "),
        vec!["all of them"; 200].join(" and "),
    ] {
        let (l, took) = lower(&doc(&cond));
        assert!(took < QUICK, "{took:?}");
        assert!(
            codes(&l).contains(&Code::ConditionSyntax),
            "{:?}",
            codes(&l)
        );
    }
    // Ordinary conditions, naming a search a few times, still lower.
    for cond in [
        "1 of x* and not x11",
        "all of them",
        "2 of x*",
        "(x1 and x2) or (x1 and x3) or (x1 and not x2)",
    ] {
        let (l, _) = lower(&doc(cond));
        assert!(
            !codes(&l).contains(&Code::ConditionSyntax),
            "{cond}: {:?}",
            l.diagnostics
        );
        assert_eq!(l.rules.len(), 1, "{cond}: {:?}", l.diagnostics);
    }
}
