//! One CPU budget for the tests of this binary.
//!
//! libtest runs as many tests at once as the machine has cores, whatever each one starts. Ours
//! start harness runs, browsers, servers and JVMs: two heavy tests at once share the cores four
//! ways, while a test that mostly waits (a timeout, a Grid's start) leaves a core idle. So every
//! test first takes a share of one budget ([`take`]), sized to what it keeps busy, and holds it
//! to its end. The fault matrix, the one test that can use any number of cores, takes a share
//! per harness run instead, so its runs fill what the other tests leave. A test whose figures
//! need a quiet machine takes the whole budget ([`alone`]).
//!
//! Shares are granted first come, first served: a large one waiting is not passed by smaller
//! ones asked after it, so [`alone`] is never starved. A test takes one share at a time (never a
//! second while holding one), or two tests could each hold part of what the other waits for.
//!
//! A unit is about what one harness run at `--concurrency 1` keeps busy: 0.65 of a core on 2
//! cores (the fault matrix ran three such runs side by side to keep 2 cores busy), so the budget
//! is three units for every two cores.

use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};

/// A budget of units, granted first come, first served.
pub struct Budget {
    capacity: usize,
    state: Mutex<State>,
    changed: Condvar,
}

/// Units granted and the queue of those waiting.
struct State {
    used: usize,
    /// The ticket the next caller of [`Budget::take`] gets.
    next: u64,
    /// The ticket whose turn it is.
    serving: u64,
}

/// Part of a budget, given back when dropped.
#[must_use = "the share is given back when dropped: hold it for as long as the work runs"]
pub struct Share<'a> {
    budget: &'a Budget,
    units: usize,
}

impl Budget {
    fn new(capacity: usize) -> Budget {
        Budget {
            capacity,
            state: Mutex::new(State {
                used: 0,
                next: 0,
                serving: 0,
            }),
            changed: Condvar::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic never happens while the lock is held; a poisoned lock still holds right counts.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for `units` (at most all of them), in turn with every other caller.
    pub fn take(&self, units: usize) -> Share<'_> {
        let units = units.clamp(1, self.capacity);
        let mut s = self.state();
        let ticket = s.next;
        s.next += 1;
        // A caller that is waiting now holds a ticket: wake whoever watches the queue.
        self.changed.notify_all();
        while s.serving != ticket || s.used + units > self.capacity {
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        s.serving += 1;
        s.used += units;
        // The next ticket may fit beside this one.
        self.changed.notify_all();
        Share {
            budget: self,
            units,
        }
    }
}

impl Drop for Share<'_> {
    fn drop(&mut self) {
        self.budget.state().used -= self.units;
        self.budget.changed.notify_all();
    }
}

/// The binary's budget: three units for every two cores.
fn budget() -> &'static Budget {
    static BUDGET: OnceLock<Budget> = OnceLock::new();
    BUDGET.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Budget::new((cores * 3).div_ceil(2).max(2))
    })
}

/// The binary's budget in units.
pub fn capacity() -> usize {
    budget().capacity
}

/// Waits for `units` of the binary's budget (at most all of it), in turn with every other caller.
pub fn take(units: usize) -> Share<'static> {
    budget().take(units)
}

/// The whole budget: nothing else of this binary's that takes a share runs meanwhile.
pub fn alone() -> Share<'static> {
    take(capacity())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    impl Budget {
        /// Waits (up to 10 s) until `n` tickets have been handed out.
        fn wait_for_tickets(&self, n: u64) {
            let (s, timeout) = self
                .changed
                .wait_timeout_while(self.state(), Duration::from_secs(10), |s| s.next < n)
                .unwrap_or_else(|e| e.into_inner());
            assert!(!timeout.timed_out(), "{} of {n} tickets", s.next);
        }
    }

    /// Shares never add up to more than the budget, and a whole-budget share waiting is served
    /// before smaller ones asked after it. A budget of its own, so the binary's other tests
    /// neither wait for this one nor take tickets in its queue.
    #[test]
    fn shares_stay_within_the_budget_and_come_in_turn() {
        let budget = Budget::new(3);
        let in_use = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let order = Mutex::new(Vec::new());
        let work = |units: usize, name: &'static str| {
            let _share = budget.take(units);
            order.lock().unwrap().push(name);
            let now = in_use.fetch_add(units, Ordering::SeqCst) + units;
            peak.fetch_max(now, Ordering::SeqCst);
            // Held for a while, so that shares granted together overlap.
            std::thread::sleep(Duration::from_millis(50));
            in_use.fetch_sub(units, Ordering::SeqCst);
        };
        std::thread::scope(|scope| {
            // The first holds one unit; the whole-budget share must wait for it; the small ones
            // asked after it must wait for the whole-budget one.
            let first = budget.take(1);
            scope.spawn(|| work(3, "alone"));
            budget.wait_for_tickets(2);
            for n in 0..4 {
                scope.spawn(|| work(1, "small"));
                budget.wait_for_tickets(3 + n);
            }
            // Every caller now waits in the queue.
            assert!(
                order.lock().unwrap().is_empty(),
                "nothing may start beside the first share while the whole budget is asked for"
            );
            drop(first);
        });
        let order = order.into_inner().unwrap();
        assert_eq!(order.first(), Some(&"alone"), "{order:?}");
        assert_eq!(order.len(), 5, "{order:?}");
        assert!(peak.into_inner() <= budget.capacity);
    }
}
