//! The `sigil` command line: a thin layer over `sigil-driver`.

use clap::{Parser, Subcommand, ValueEnum};
use sigil_diagnostics::{render_human, render_json};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

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
