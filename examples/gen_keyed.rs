//! Writes keyed synthetic events (`user` out of GROUPS, `host` out of 50, one event per
//! STEP_MS) for the sliding-threshold benchmark. Usage: `gen_keyed N GROUPS STEP_MS > file`.

fn main() -> std::io::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    let n = a.get(1).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let groups = a.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let step = a.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    sigil_driver::synth::keyed_events(n, groups, step, 42, &mut out)
}
