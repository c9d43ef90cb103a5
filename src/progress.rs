//! One progress line on stderr: redrawn in place on a terminal, plain lines now and then in a CI
//! log (where carriage returns pile up into one unreadable line).
//!
//! ```
//! use std::time::Duration;
//! use logout_harness::progress::{ProgressLine, bar};
//! let mut line = ProgressLine::new(false, Duration::from_secs(10));
//! line.show(&format!("{} 3s of about 20s", bar(3.0 / 20.0, 10)));
//! line.finish();
//! ```

use std::io::{IsTerminal as _, Write as _};
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

    /// Ends the line on a terminal, so what follows starts on a line of its own.
    pub fn finish(&mut self) {
        if self.terminal && self.drawn {
            let _ = writeln!(std::io::stderr());
            self.drawn = false;
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
