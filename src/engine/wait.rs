//! One polling helper with a deadline, after fantoccini's `wait`: every wait in the harness is a
//! condition checked at an interval until a deadline, never a fixed sleep standing in for one.
//!
//! ```
//! # async fn demo() {
//! use std::time::Duration;
//! use logout_harness::engine::wait::Wait;
//! let mut n = 0;
//! let found = Wait::at_most(Duration::from_secs(1))
//!     .until(|| {
//!         n += 1;
//!         let done = n == 3;
//!         async move { done.then_some(n) }
//!     })
//!     .await;
//! assert_eq!(found.ok(), Some(3));
//! # }
//! ```

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How long to wait and how often to look.
#[derive(Clone, Copy, Debug)]
pub struct Wait {
    limit: Duration,
    every: Duration,
}

/// The deadline passed before the condition held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed(pub Duration);

impl std::fmt::Display for Elapsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not within {:.1}s", self.0.as_secs_f64())
    }
}

impl Wait {
    /// How often a condition is looked at unless told otherwise: a look at a page is one
    /// WebDriver round trip of a few milliseconds, so 20 ms finds a loaded page within a frame
    /// or two of the browser without keeping a core busy.
    pub const DEFAULT_EVERY: Duration = Duration::from_millis(20);

    /// Waits at most `limit`, looking every [`Wait::DEFAULT_EVERY`].
    pub fn at_most(limit: Duration) -> Wait {
        Wait {
            limit,
            every: Wait::DEFAULT_EVERY,
        }
    }

    /// Looks every `every` instead.
    pub fn every(self, every: Duration) -> Wait {
        Wait { every, ..self }
    }

    /// Calls `check` until it returns `Some`, or the deadline passes (checked once more at the
    /// deadline, so a condition that holds in time is never missed).
    pub async fn until<T, F, Fut>(self, mut check: F) -> Result<T, Elapsed>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + self.limit;
        loop {
            if let Some(v) = check().await {
                return Ok(v);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Elapsed(self.limit));
            }
            tokio::time::sleep_until((now + self.every).min(deadline)).await;
        }
    }

    /// Like [`Wait::until`], for a check that always has something to show: `check` returns
    /// `(done, value)`; the result is the value that was done, or the last one seen with `false`.
    pub async fn until_or_last<T, F, Fut>(self, mut check: F) -> (T, bool)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = (bool, T)>,
    {
        let deadline = Instant::now() + self.limit;
        loop {
            let (done, value) = check().await;
            if done {
                return (value, true);
            }
            let now = Instant::now();
            if now >= deadline {
                return (value, false);
            }
            tokio::time::sleep_until((now + self.every).min(deadline)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_condition_that_never_holds_ends_at_the_deadline() {
        let t = Instant::now();
        let r: Result<(), _> = Wait::at_most(Duration::from_millis(120))
            .until(|| async { None })
            .await;
        assert_eq!(r, Err(Elapsed(Duration::from_millis(120))));
        assert!(t.elapsed() >= Duration::from_millis(120));
    }

    #[tokio::test]
    async fn the_last_value_comes_back_when_time_runs_out() {
        let mut n = 0;
        let (v, done) = Wait::at_most(Duration::from_millis(60))
            .every(Duration::from_millis(10))
            .until_or_last(|| {
                n += 1;
                let v = n;
                async move { (false, v) }
            })
            .await;
        assert!(!done);
        assert!(v >= 2, "{v}");
    }
}
