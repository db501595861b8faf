//! The `sigil` command line: a thin layer over `sigil-driver`.

mod compile_cmd;

use clap::{Parser, Subcommand, ValueEnum};
use sigil_diagnostics::{render_human, render_json};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

mod progress;

// Parsing allocates many small strings across threads; mimalloc handles that far better
// than the system allocator (measured: see the closing notes of the foundation issue).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Sigil compiles detection rules (a strict superset of Sigma) to many SIEM query languages.
#[derive(Parser)]
#[command(name = "sigil", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse, lower and validate rule files; report every problem.
    Check {
        /// Rule files or folders (searched recursively for .yml/.yaml).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output format of diagnostics.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Print only the summary line (and errors as one line each).
        #[arg(long, short)]
        quiet: bool,
    },
    /// Print the canonical IR of the rules in the given files.
    Explain {
        /// Rule files or folders; referenced rules must be among them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print only the rule with this name or id.
        #[arg(long)]
        rule: Option<String>,
    },
    /// Run every rule's fixture cases through the reference evaluator.
    Test {
        /// Rule files or folders (default: rules/).
        paths: Vec<PathBuf>,
        /// Output format: a line per case with diffs, or one JSON object per case.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Compile rules to target query languages, with fidelity notes.
    Compile {
        /// Rule files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Targets: kql, spl, eql or all (repeat the flag or separate with commas).
        #[arg(short = 't', long = "target", default_value = "all")]
        targets: Vec<String>,
        /// A mapping file layered over the built-in one of its target (repeatable).
        #[arg(long)]
        mapping: Vec<PathBuf>,
        /// Built-in mapping: default (the target's data model), generic (common data model,
        /// unknown fields pass through) or passthrough (the rules' own field names).
        #[arg(long, default_value = "default")]
        profile: String,
        /// Write one query file per rule and target under DIR/<target>/ instead of printing.
        #[arg(short = 'o', long = "output", value_name = "DIR")]
        output: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = compile_cmd::OutFormat::Text)]
        format: compile_cmd::OutFormat,
        /// Treat every approximation as an error.
        #[arg(long)]
        strict: bool,
        /// Also compile rules that only feed correlations.
        #[arg(long)]
        include_inputs: bool,
        /// A value for an `|expand` placeholder, NAME=VALUE (repeat for several values).
        #[arg(long = "placeholder", value_name = "NAME=VALUE")]
        placeholders: Vec<String>,
    },
    /// List the targets and what each expresses exactly, approximately or not at all.
    Targets {
        /// Output format.
        #[arg(long, value_enum, default_value_t = compile_cmd::OutFormat::Text)]
        format: compile_cmd::OutFormat,
    },
    /// Stream NDJSON events (files, .gz, or - for stdin) through rules; print alerts as JSON lines.
    Hunt {
        /// Rule file or folder.
        rules: PathBuf,
        /// Event files (NDJSON, optionally gzip-compressed); `-` reads stdin.
        #[arg(required = true)]
        events: Vec<PathBuf>,
        /// Skip events before this time (RFC 3339 or epoch seconds).
        #[arg(long)]
        since: Option<String>,
        /// Skip events at or after this time (RFC 3339 or epoch seconds).
        #[arg(long)]
        until: Option<String>,
        /// How late an event may arrive and still be processed in time order (e.g. 30s, 5m; 0 for arrival order).
        #[arg(long, default_value = "1m")]
        lateness: String,
        /// Read event times from this field instead of the built-in list.
        #[arg(long)]
        time_field: Option<String>,
        /// Parse every line in full, without the raw-line prefilter (same alerts, slower).
        #[arg(long)]
        full_parse: bool,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    /// Diagnostics with source snippets, and a summary line.
    Human,
    /// One JSON object per diagnostic per line; the summary goes to stderr.
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check {
            paths,
            format,
            quiet,
        } => check(&paths, format, quiet),
        Command::Explain { paths, rule } => explain(&paths, rule.as_deref()),
        Command::Test { paths, format } => test(paths, format),
        Command::Compile {
            paths,
            targets,
            mapping,
            profile,
            output,
            format,
            strict,
            include_inputs,
            placeholders,
        } => compile_cmd::run(compile_cmd::Args {
            paths,
            targets,
            mappings: mapping,
            profile,
            output,
            format,
            strict,
            include_inputs,
            placeholders,
        }),
        Command::Targets { format } => compile_cmd::targets(format),
        Command::Hunt {
            rules,
            events,
            since,
            until,
            lateness,
            time_field,
            full_parse,
        } => hunt(
            rules, &events, since, until, &lateness, time_field, full_parse,
        ),
    }
}

fn exit_status(report: &sigil_driver::CheckReport) -> ExitCode {
    if report.io_error {
        ExitCode::from(2)
    } else if report.errors() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn check(paths: &[PathBuf], format: Format, quiet: bool) -> ExitCode {
    let start = Instant::now();
    let report = sigil_driver::check(paths);
    let elapsed = start.elapsed();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for d in &report.diagnostics {
        let _ = match format {
            Format::Json => writeln!(out, "{}", render_json(d)),
            Format::Human if quiet => {
                let s = d
                    .location
                    .span
                    .map(|s| format!(":{}:{}", s.start.line, s.start.col))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{}{s}: {}[{}] {}",
                    d.location.file, d.severity, d.code, d.message
                )
            }
            Format::Human => {
                let src = report.sources.get(&d.location.file).map(|s| &**s);
                writeln!(out, "{}", render_human(d, src))
            }
        };
    }
    let c = report.counts;
    let summary = format!(
        "checked {} files, {} documents ({} rules, {} correlations, {} filters): {} lowered; {} errors, {} warnings in {:.2}s",
        report.files,
        c.rules + c.correlations + c.filters,
        c.rules,
        c.correlations,
        c.filters,
        c.lowered,
        report.errors(),
        report.warnings(),
        elapsed.as_secs_f64()
    );
    match format {
        Format::Human => {
            let _ = writeln!(out, "{summary}");
        }
        Format::Json => eprintln!("{summary}"),
    }
    let _ = out.flush();
    exit_status(&report)
}

fn explain(paths: &[PathBuf], only: Option<&str>) -> ExitCode {
    let report = sigil_driver::check(paths);
    let mut errors = false;
    for d in &report.diagnostics {
        if d.is_error() {
            errors = true;
            let src = report.sources.get(&d.location.file).map(|s| &**s);
            eprintln!("{}", render_human(d, src));
        }
    }
    let mut shown = 0;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for r in &report.rules {
        let hit = only
            .is_none_or(|n| r.meta.name.as_deref() == Some(n) || r.meta.id.as_deref() == Some(n));
        if hit {
            if shown > 0 {
                let _ = writeln!(out);
            }
            let _ = write!(out, "{}", sigil_ir::print_rule(r));
            shown += 1;
        }
    }
    let _ = out.flush();
    if let (Some(n), 0) = (only, shown) {
        eprintln!("error: no rule named `{n}` lowered from the given paths");
        return ExitCode::from(1);
    }
    if report.io_error {
        ExitCode::from(2)
    } else if errors {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn print_errors(report: &sigil_driver::CheckReport) -> bool {
    let mut errors = false;
    for d in report.diagnostics.iter().filter(|d| d.is_error()) {
        errors = true;
        let src = report.sources.get(&d.location.file).map(|s| &**s);
        eprint!("{}", render_human(d, src));
    }
    errors
}

fn test(paths: Vec<PathBuf>, format: Format) -> ExitCode {
    let paths = if paths.is_empty() {
        vec![PathBuf::from("rules")]
    } else {
        paths
    };
    let report = sigil_driver::fixtures::run_tests(&paths);
    let errors = print_errors(&report.check);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for c in &report.cases {
        match format {
            Format::Json => {
                let j = serde_json::json!({
                    "rule": c.rule,
                    "fixture": c.fixture,
                    "case": c.case,
                    "passed": c.passed,
                    "error": c.error,
                    "diff": c.diff,
                    "alerts": c.actual,
                });
                let _ = writeln!(out, "{j}");
            }
            Format::Human => {
                let mark = if c.passed { "PASS" } else { "FAIL" };
                let _ = writeln!(out, "{mark} {} › {}", c.rule, c.case);
                if let Some(e) = &c.error {
                    let _ = writeln!(out, "     error: {e}");
                }
                for d in &c.diff {
                    let _ = writeln!(out, "     {d}");
                }
            }
        }
    }
    let failed = report.failed();
    let summary = format!(
        "{} rules with fixtures, {} fixture files, {} cases: {} passed, {} failed",
        report.rules_with_fixtures,
        report.fixture_files,
        report.cases.len(),
        report.cases.len() - failed,
        failed
    );
    match format {
        Format::Human => {
            let _ = writeln!(out, "{summary}");
        }
        Format::Json => eprintln!("{summary}"),
    }
    let _ = out.flush();
    if report.check.io_error {
        ExitCode::from(2)
    } else if errors || failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn hunt(
    rules: PathBuf,
    events: &[PathBuf],
    since: Option<String>,
    until: Option<String>,
    lateness: &str,
    time_field: Option<String>,
    full_parse: bool,
) -> ExitCode {
    let parse_t = |s: Option<String>, what: &str| -> Result<Option<i64>, ExitCode> {
        match s {
            None => Ok(None),
            Some(s) => sigil_driver::hunt::parse_time_arg(&s)
                .map(Some)
                .ok_or_else(|| {
                    eprintln!("error: --{what} `{s}` is not a time (RFC 3339 or epoch seconds)");
                    ExitCode::from(2)
                }),
        }
    };
    let (since, until) = match (parse_t(since, "since"), parse_t(until, "until")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let lateness_ms = if lateness == "0" {
        0
    } else {
        match sigil_lower::values::parse_duration(lateness) {
            Ok(ms) => ms as i64,
            Err(e) => {
                eprintln!("error: --lateness: {e}");
                return ExitCode::from(2);
            }
        }
    };
    let report = sigil_driver::check(&[rules]);
    if print_errors(&report) {
        return ExitCode::from(if report.io_error { 2 } else { 1 });
    }
    let (mut engine, rejected) = sigil_eval::Engine::new(&report.rules);
    // Analysts trace every alert to its input: thresholds and sequences carry their events too.
    engine.include_events = true;
    for r in &rejected {
        eprintln!(
            "warning: rule `{}` cannot be evaluated: {}",
            r.rule.title, r.error
        );
    }
    eprintln!("loaded={} rejected={}", engine.len(), rejected.len());
    // A progress line on stderr, when it is a terminal and the input is large or of unknown
    // size; the hunt only updates the counters.
    let shown = {
        use std::io::IsTerminal;
        progress::wanted(
            std::io::stderr().is_terminal(),
            sigil_driver::hunt::total_size(events),
        )
    };
    let counters = shown.then(|| std::sync::Arc::new(sigil_driver::hunt::Progress::default()));
    let ticker = counters.clone().map(progress::Ticker::start);
    let opts = sigil_driver::hunt::HuntOptions {
        since,
        until,
        lateness_ms,
        time_field,
        full_parse,
        progress: counters,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut warn = |m: String| {
        if shown {
            progress::clear();
        }
        eprintln!("warning: {m}")
    };
    let result = sigil_driver::hunt::hunt(&mut engine, events, &opts, &mut out, &mut warn);
    if let Some(t) = ticker {
        t.finish();
    }
    match result {
        Ok(stats) => {
            let _ = out.flush();
            eprintln!(
                "events={} alerts={} bad_lines={} filtered={} late={}",
                stats.events, stats.alerts, stats.bad_lines, stats.filtered, stats.late
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = out.flush();
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
