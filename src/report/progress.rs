//! One progress line on stderr: redrawn in place on a terminal, plain lines now and then in a CI
//! log (where carriage returns pile up into one unreadable line).
//!
//! ```
//! use std::time::Duration;
//! use logout_harness::report::progress::{ProgressLine, bar};
//! let mut line = ProgressLine::new(false, Duration::from_secs(10));
//! line.show(&format!("{} 3s of about 20s", bar(3.0 / 20.0, 10)));
//! line.finish();
//! ```

use std::io::{IsTerminal as _, Write as _};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A progress line on stderr.
#[derive(Debug)]
pub struct ProgressLine {
    terminal: bool,
    every: Duration,
    last_plain: Option<Instant>,
    drawn: bool,
}

impl ProgressLine {
    /// A line redrawn in place when `terminal`, else printed at most once per `every`.
    pub fn new(terminal: bool, every: Duration) -> ProgressLine {
        ProgressLine {
            terminal,
            every,
            last_plain: None,
            drawn: false,
        }
    }

    /// A line for this process's stderr: in place on a terminal, every 10 s otherwise.
    pub fn stderr() -> ProgressLine {
        ProgressLine::new(std::io::stderr().is_terminal(), Duration::from_secs(10))
    }

    /// Shows `text` as the current progress.
    pub fn show(&mut self, text: &str) {
        let mut err = std::io::stderr().lock();
        if self.terminal {
            // Clear the line, then draw: a shorter text leaves nothing of the longer one.
            let _ = write!(err, "\r\x1b[2K{text}");
            let _ = err.flush();
            self.drawn = true;
        } else if self.last_plain.is_none_or(|t| t.elapsed() >= self.every) {
            let _ = writeln!(err, "{text}");
            self.last_plain = Some(Instant::now());
        }
    }

    /// Prints `line` on stdout above the progress line: on a terminal the progress line is
    /// cleared first and drawn again by the next [`show`](Self::show), so the two never share
    /// a row.
    pub fn print_above(&mut self, line: &str) {
        if self.terminal && self.drawn {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            self.drawn = false;
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    /// Prints `text` now in a log too (the first and the last line of a run), where
    /// [`show`](Self::show) would wait out its interval.
    pub fn show_now(&mut self, text: &str) {
        self.last_plain = None;
        self.show(text);
    }

    /// Ends the line on a terminal, so what follows starts on a line of its own.
    pub fn finish(&mut self) {
        if self.terminal && self.drawn {
            let _ = writeln!(std::io::stderr());
            self.drawn = false;
        }
    }
}

/// Scenarios done before the straight-line estimate is shown.
const STRAIGHT_LINE_AFTER: usize = 3;

/// The progress of a `run`: scenarios done of those planned, violations so far, elapsed and
/// the expected wall time, on one [`ProgressLine`]. Scenario result lines go through
/// [`scenario_line`](Self::scenario_line) so they never tear the progress line.
///
/// The expected time is the larger of two figures: the elapsed time scaled by scenarios done
/// (a straight-line estimate, once a few scenarios are done: the first to end are the short
/// ones), and the latest end a waiting scenario has announced (a timeout
/// scenario knows when its wait ends, and the run cannot end before it).
///
/// ```
/// use std::time::{Duration, Instant};
/// use logout_harness::report::progress::{ProgressLine, RunProgress};
/// let progress = RunProgress::new(4, ProgressLine::new(false, Duration::from_secs(10)));
/// progress.expect_until(Instant::now() + Duration::from_secs(30));
/// progress.scenario_done("FAIL       \"Sign Out\": 1 of 4 verdicts violated", 1);
/// assert!(progress.text().starts_with("progress: 1/4 scenarios, 1 violation"));
/// progress.finish();
/// ```
#[derive(Debug)]
pub struct RunProgress {
    started: Instant,
    total: usize,
    state: Mutex<RunState>,
}

#[derive(Debug)]
struct RunState {
    line: ProgressLine,
    done: usize,
    violations: usize,
    latest_end: Option<Instant>,
}

impl RunProgress {
    /// Progress over `total` planned scenarios, shown on `line`.
    pub fn new(total: usize, line: ProgressLine) -> RunProgress {
        let progress = RunProgress {
            started: Instant::now(),
            total,
            state: Mutex::new(RunState {
                line,
                done: 0,
                violations: 0,
                latest_end: None,
            }),
        };
        progress.show(true);
        progress
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RunState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A scenario ended with `violations` violated verdicts: its result `line` is printed
    /// above the progress line, which then counts it.
    pub fn scenario_done(&self, line: &str, violations: usize) {
        {
            let mut s = self.lock();
            s.done += 1;
            s.violations += violations;
            s.line.print_above(line);
        }
        self.show(false);
    }

    /// A scenario waits on purpose until `end`: the run ends no earlier.
    pub fn expect_until(&self, end: Instant) {
        let mut s = self.lock();
        s.latest_end = Some(s.latest_end.map_or(end, |e| e.max(end)));
    }

    /// Redraws the line (the elapsed time moves); in a log, at most once per interval.
    pub fn tick(&self) {
        self.show(false);
    }

    /// The last line, printed in a log too, then the line is ended.
    pub fn finish(&self) {
        self.show(true);
        self.lock().line.finish();
    }

    /// The progress as one line of text.
    pub fn text(&self) -> String {
        let s = self.lock();
        self.text_of(&s)
    }

    fn text_of(&self, s: &RunState) -> String {
        let elapsed = self.started.elapsed();
        let straight = (s.done >= STRAIGHT_LINE_AFTER)
            .then(|| elapsed.mul_f64(self.total as f64 / s.done as f64));
        let waiting = s
            .latest_end
            .map(|e| e.saturating_duration_since(self.started));
        let expected = match (straight, waiting) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
        .filter(|_| s.done < self.total)
        .map(|e| format!(" of about {}s", e.max(elapsed).as_secs()))
        .unwrap_or_default();
        let fraction = if self.total == 0 {
            1.0
        } else {
            s.done as f64 / self.total as f64
        };
        format!(
            "progress: {}/{} scenarios, {} violation{} so far {} {}s{expected}",
            s.done,
            self.total,
            s.violations,
            if s.violations == 1 { "" } else { "s" },
            bar(fraction, 20),
            elapsed.as_secs(),
        )
    }

    fn show(&self, now: bool) {
        let mut s = self.lock();
        let text = self.text_of(&s);
        if now {
            s.line.show_now(&text);
        } else {
            s.line.show(&text);
        }
    }
}

/// A bar `width` characters wide, `done` (0 to 1) of it filled: `[######----]`.
pub fn bar(done: f64, width: usize) -> String {
    let filled = ((done.clamp(0.0, 1.0)) * width as f64).round() as usize;
    format!("[{}{}]", "#".repeat(filled), "-".repeat(width - filled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_in_proportion_and_never_overflows() {
        assert_eq!(bar(0.0, 4), "[----]");
        assert_eq!(bar(0.5, 4), "[##--]");
        assert_eq!(bar(3.0, 4), "[####]");
    }
}
