//! The run's slots for scenarios working a browser (`--concurrency`), handed out by priority.
//!
//! A scenario that measures a timeout works briefly (signing in), then waits far longer; it asks
//! for a slot with priority so its wait starts early, and gives the slot back when the wait
//! starts ([`crate::steps::LogoutWorld::start_waiting`]). The run's wall time is then about
//! `max(browser work / slots, the longest wait)` instead of their sum. Waiters of equal priority
//! are served first come, first served.
//!
//! A scenario that holds several browsers at once (two devices) takes as many slots, all at once
//! ([`Slots::acquire_many`]), when slots stand for browsers: a Selenium Grid's slots are browsers,
//! and two scenarios that each took one browser's slot and wait for a second would starve each
//! other. A waiter that needs more slots than are free holds back those behind it, so it is never
//! overtaken for ever by waiters needing fewer.
//!
//! ```
//! # tokio_test_block_on(async {
//! use logout_harness::engine::slots::{Priority, Slots};
//! let slots = Slots::new(1);
//! let first = slots.acquire(Priority::Normal).await;
//! drop(first); // the slot goes to the next waiter, or back to the pool
//! let _again = slots.acquire(Priority::Waits).await;
//! # });
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Runtime::new().unwrap().block_on(f)
//! # }
//! ```

use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// Who is served first when slots are short.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// A scenario that works a browser throughout.
    Normal,
    /// A scenario that will mostly wait (a timeout measurement): served first.
    Waits,
}

/// A fixed number of slots shared by every pass of a run.
#[derive(Clone, Debug)]
pub struct Slots {
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    free: usize,
    capacity: usize,
    next_ticket: u64,
    waiting: BinaryHeap<Waiter>,
}

#[derive(Debug)]
struct Waiter {
    priority: Priority,
    ticket: u64,
    count: usize,
    wake: oneshot::Sender<Slot>,
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        (self.priority, self.ticket) == (other.priority, other.ticket)
    }
}

impl Eq for Waiter {}

impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Waiter {
    /// The heap's greatest is served first: higher priority, then the earlier ticket.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.priority
            .cmp(&other.priority)
            .then(other.ticket.cmp(&self.ticket))
    }
}

/// One or more slots taken together, held until dropped.
#[derive(Debug)]
pub struct Slot {
    slots: Option<Slots>,
    count: usize,
}

impl Slot {
    /// How many slots this holds.
    pub fn count(&self) -> usize {
        self.count
    }
}

impl Slots {
    /// `n` slots (at least one).
    pub fn new(n: usize) -> Slots {
        Slots {
            state: Arc::new(Mutex::new(State {
                free: n.max(1),
                capacity: n.max(1),
                next_ticket: 0,
                waiting: BinaryHeap::new(),
            })),
        }
    }

    /// Waits for a slot; waiters with [`Priority::Waits`] go before the others.
    pub async fn acquire(&self, priority: Priority) -> Slot {
        self.acquire_many(priority, 1).await
    }

    /// Waits for `count` slots at once (at most all there are); waiters with [`Priority::Waits`]
    /// go before the others.
    pub async fn acquire_many(&self, priority: Priority, count: usize) -> Slot {
        let rx = {
            let mut state = self.lock();
            let count = count.clamp(1, state.capacity);
            if state.free >= count && state.waiting.is_empty() {
                state.free -= count;
                return Slot {
                    slots: Some(self.clone()),
                    count,
                };
            }
            let (tx, rx) = oneshot::channel();
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            state.waiting.push(Waiter {
                priority,
                ticket,
                count,
                wake: tx,
            });
            rx
        };
        // The sender lives in the queue until a slot is handed over; it is never dropped
        // unanswered while `self` exists (see `give_back`).
        match rx.await {
            Ok(slot) => slot,
            Err(_) => Slot {
                slots: Some(self.clone()),
                count: 1,
            },
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Slots came back: to the waiters in turn while the first one's need fits, else to the pool.
    fn give_back(&self, count: usize) {
        let mut state = self.lock();
        state.free += count;
        while state.waiting.peek().is_some_and(|w| w.count <= state.free) {
            let Some(waiter) = state.waiting.pop() else {
                break;
            };
            state.free -= waiter.count;
            let slot = Slot {
                slots: Some(self.clone()),
                count: waiter.count,
            };
            // That waiter gave up (its scenario was cancelled): its slots came back unused.
            if let Err(mut unused) = waiter.wake.send(slot) {
                unused.slots = None;
                state.free += waiter.count;
            }
        }
    }

    /// Slots free right now (for tests).
    pub fn free(&self) -> usize {
        self.lock().free
    }

    /// Scenarios waiting for a slot right now (for tests).
    pub fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(slots) = self.slots.take() {
            slots.give_back(self.count);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Waits (up to a second) until `n` scenarios wait for a slot.
    async fn until_waiting(slots: &Slots, n: usize) {
        crate::engine::wait::Wait::at_most(Duration::from_secs(1))
            .every(Duration::from_millis(1))
            .until(|| async { (slots.waiting() == n).then_some(()) })
            .await
            .expect("the waiter queued");
    }

    #[tokio::test]
    async fn a_waiting_scenario_is_served_before_earlier_normal_ones() {
        let slots = Slots::new(1);
        let held = slots.acquire(Priority::Normal).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, priority) in [
            ("normal-1", Priority::Normal),
            ("normal-2", Priority::Normal),
            ("waits", Priority::Waits),
        ] {
            let queued = tasks.len();
            let (s, order) = (slots.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _slot = s.acquire(priority).await;
                order.lock().unwrap().push(name);
            }));
            // Queue them in this order.
            until_waiting(&slots, queued + 1).await;
        }
        drop(held);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["waits", "normal-1", "normal-2"]);
        assert_eq!(slots.free(), 1);
    }

    #[tokio::test]
    async fn never_more_holders_than_slots() {
        let slots = Slots::new(2);
        let busy = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (slots, busy, most) = (slots.clone(), busy.clone(), most.clone());
                tokio::spawn(async move {
                    let _slot = slots.acquire(Priority::Normal).await;
                    let now = busy.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    most.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    busy.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(slots.free(), 2);
    }

    /// Two scenarios that each hold two browsers at once, and two that hold one, on two slots:
    /// each two-browser scenario gets both slots together, so none waits for a browser while
    /// holding another (with one slot each, both would wait for ever).
    #[tokio::test]
    async fn scenarios_needing_two_slots_never_hold_one_and_wait_for_the_other() {
        let slots = Slots::new(2);
        let busy = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = [2, 1, 2, 1]
            .into_iter()
            .map(|n| {
                let (slots, busy) = (slots.clone(), busy.clone());
                tokio::spawn(async move {
                    let slot = slots.acquire_many(Priority::Normal, n).await;
                    assert_eq!(slot.count(), n);
                    let now = busy.fetch_add(n, std::sync::atomic::Ordering::SeqCst) + n;
                    assert!(now <= 2, "{now} slots held at once");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    busy.fetch_sub(n, std::sync::atomic::Ordering::SeqCst);
                })
            })
            .collect();
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(5), t)
                .await
                .expect("no scenario starves")
                .unwrap();
        }
        assert_eq!(slots.free(), 2);
    }

    #[tokio::test]
    async fn a_waiter_for_two_is_not_overtaken_by_later_waiters_for_one() {
        let slots = Slots::new(2);
        let held = slots.acquire(Priority::Normal).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, n) in [("two", 2), ("one", 1)] {
            let queued = tasks.len();
            let (s, order) = (slots.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _slot = s.acquire_many(Priority::Normal, n).await;
                order.lock().unwrap().push(name);
            }));
            until_waiting(&slots, queued + 1).await;
        }
        // One slot is free, enough for "one", but "two" came first.
        assert_eq!(slots.free(), 1);
        drop(held);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["two", "one"]);
        // More than there are is all there are.
        assert_eq!(slots.acquire_many(Priority::Normal, 5).await.count(), 2);
    }

    #[tokio::test]
    async fn a_cancelled_waiter_does_not_lose_the_slot() {
        let slots = Slots::new(1);
        let held = slots.acquire(Priority::Normal).await;
        let waiting = {
            let slots = slots.clone();
            tokio::spawn(async move { drop(slots.acquire(Priority::Normal).await) })
        };
        until_waiting(&slots, 1).await;
        waiting.abort();
        let _ = waiting.await;
        drop(held);
        assert_eq!(slots.free(), 1);
    }
}
