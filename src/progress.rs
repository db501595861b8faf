//! `sigil hunt`'s progress line on stderr. The hunt (sigil-driver) only updates shared
//! counters ([`Progress`]); this module decides whether to show them, renders them and draws
//! them from a thread of its own, at most ten times a second, clearing the line at the end.

use sigil_driver::hunt::Progress;
use std::io::Write;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Inputs of known size smaller than this finish too soon to need a progress line.
pub const LARGE: u64 = 64 << 20;

/// How often the line is redrawn.
const TICK: Duration = Duration::from_millis(100);

/// Whether to show progress: only on a terminal, and for inputs of unknown size (stdin, a
/// pipe: a plain counter) or larger than [`LARGE`] in total.
pub fn wanted(stderr_is_terminal: bool, total: Option<u64>) -> bool {
    stderr_is_terminal && total.is_none_or(|t| t > LARGE)
}

/// `1234567` as `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let first = match digits.len() % 3 {
        0 => 3,
        r => r,
    };
    let mut out = digits[..first].to_string();
    for group in digits.as_bytes()[first..].chunks(3) {
        out.push(',');
        out.push_str(std::str::from_utf8(group).unwrap_or_default());
    }
    out
}

/// The unit that suits `n` bytes, and its size.
fn unit(n: u64) -> (&'static str, f64) {
    match n {
        0..0x10_0000 => ("KiB", 1024.0),
        0x10_0000..0x4000_0000 => ("MiB", 1024.0 * 1024.0),
        _ => ("GiB", 1024.0 * 1024.0 * 1024.0),
    }
}

/// One progress line (no line break, no terminal control): percent and bytes read of the
/// total when it is known, else bytes read; events, events per second since the start, alerts.
pub fn render(
    bytes: u64,
    total: Option<u64>,
    events: u64,
    alerts: u64,
    elapsed: Duration,
) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        (events as f64 / secs).round() as u64
    } else {
        0
    };
    let tail = format!(
        "{} events  {} events/s  {} alerts",
        grouped(events),
        grouped(rate),
        grouped(alerts)
    );
    match total {
        Some(total) => {
            let pct = if total == 0 {
                100.0
            } else {
                (bytes as f64 * 100.0 / total as f64).min(100.0)
            };
            let (u, size) = unit(total);
            format!(
                "{pct:5.1}%  {:.1}/{:.1} {u}  {tail}",
                bytes as f64 / size,
                total as f64 / size
            )
        }
        None => {
            let (u, size) = unit(bytes);
            format!("{:.1} {u}  {tail}", bytes as f64 / size)
        }
    }
}

/// Carriage return, then the line, then "erase to the end of the line".
fn draw(line: &str) {
    let mut e = std::io::stderr().lock();
    let _ = write!(e, "\r{line}\x1b[K");
    let _ = e.flush();
}

/// Erases the progress line (before a warning, and at the end).
pub fn clear() {
    let mut e = std::io::stderr().lock();
    let _ = write!(e, "\r\x1b[K");
    let _ = e.flush();
}

/// The thread that draws the progress line.
pub struct Ticker {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Ticker {
    /// Starts drawing `progress` every tick.
    pub fn start(progress: Arc<Progress>) -> Ticker {
        let (stop, rx) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            let mut drawn = false;
            while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(TICK) {
                let (bytes, total, events, alerts) = progress.snapshot();
                draw(&render(bytes, total, events, alerts, start.elapsed()));
                drawn = true;
            }
            if drawn {
                clear();
            }
        });
        Ticker { stop, thread }
    }

    /// Stops drawing and erases the line.
    pub fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_total_shows_percent_bytes_rate_and_alerts() {
        let line = render(
            431 << 20,
            Some(862 << 20),
            512_345,
            2_442,
            Duration::from_millis(500),
        );
        assert_eq!(
            line,
            " 50.0%  431.0/862.0 MiB  512,345 events  1,024,690 events/s  2,442 alerts"
        );
        assert!(line.len() < 80, "fits an 80-column terminal");
    }

    #[test]
    fn unknown_total_is_a_plain_counter() {
        let line = render(3 << 30, None, 7, 0, Duration::from_secs(7));
        assert_eq!(line, "3.0 GiB  7 events  1 events/s  0 alerts");
        assert!(!line.contains('%'));
    }

    #[test]
    fn edge_cases() {
        assert!(render(0, Some(0), 0, 0, Duration::ZERO).starts_with("100.0%  0.0/0.0 KiB"));
        assert!(render(10, Some(5), 0, 0, Duration::ZERO).starts_with("100.0%"));
        assert!(render(0, None, 0, 0, Duration::ZERO).contains(" 0 events/s"));
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(12_345_678), "12,345,678");
    }

    #[test]
    fn shown_only_on_a_terminal_for_large_or_unknown_inputs() {
        assert!(!wanted(false, None));
        assert!(!wanted(false, Some(LARGE * 10)));
        assert!(!wanted(true, Some(LARGE)));
        assert!(!wanted(true, Some(1000)));
        assert!(wanted(true, Some(LARGE + 1)));
        assert!(wanted(true, None));
    }
}
