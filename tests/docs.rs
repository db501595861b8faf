//! The YAML examples in docs/dsl.md must parse and lower: documentation that drifts from
//! the language fails here. Examples are fragments, so only the diagnostics a fragment
//! cannot avoid (a missing title or log source, a rule it names but does not define) are
//! allowed.

use sigil_diagnostics::Code;

fn yaml_blocks(md: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur: Option<(usize, String)> = None;
    for (n, line) in md.lines().enumerate() {
        match (&mut cur, line.trim_start()) {
            (None, l) if l.starts_with("```yaml") => cur = Some((n + 2, String::new())),
            (Some(_), l) if l.starts_with("```") => out.extend(cur.take()),
            (Some((_, s)), _) => {
                s.push_str(line);
                s.push('\n');
            }
            _ => {}
        }
    }
    out
}

#[test]
fn dsl_examples_parse_and_lower() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/dsl.md");
    let md = std::fs::read_to_string(path).expect("docs/dsl.md is readable");
    let blocks = yaml_blocks(&md);
    assert!(blocks.len() >= 8, "docs/dsl.md lost its examples");
    let allowed = [
        Code::MissingKey,
        Code::UnknownRule,
        Code::UnknownDocument,
        Code::MissingCondition,
        Code::InvalidFixture,
    ];
    for (line, text) in blocks {
        let name = format!("docs/dsl.md:{line}");
        let (file, mut diags) = sigil_syntax::parse_file(&name, &text);
        diags.extend(sigil_lower::lower_files(&[file]).diagnostics);
        let bad: Vec<String> = diags
            .iter()
            .filter(|d| !allowed.contains(&d.code))
            .map(|d| format!("{} {} at {:?}", d.code, d.message, d.location.span))
            .collect();
        assert!(
            bad.is_empty(),
            "example at {name} does not check:\n{}",
            bad.join("\n")
        );
    }
}
