//! What one client may do with sockets: how many it holds (per client
//! address and per session) and how fast it sends frames.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::client::ClientKey;

/// Open sockets per key, up to a cap.
#[derive(Debug)]
pub struct Slots<K: Hash + Eq + Clone> {
    cap: usize,
    open: Mutex<HashMap<K, usize>>,
}

impl<K: Hash + Eq + Clone> Slots<K> {
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self { cap, open: Mutex::new(HashMap::new()) })
    }

    /// A slot for `key`, held until dropped; `None` when `key` holds its cap.
    pub fn take(self: &Arc<Self>, key: K) -> Option<Slot<K>> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.entry(key.clone()).or_insert(0);
        if *n >= self.cap {
            if *n == 0 {
                open.remove(&key);
            }
            return None;
        }
        *n += 1;
        Some(Slot { slots: Arc::clone(self), key: Some(key) })
    }

    /// Sockets open for `key`.
    pub fn count(&self, key: &K) -> usize {
        self.open.lock().unwrap_or_else(PoisonError::into_inner).get(key).copied().unwrap_or(0)
    }
}

/// One open socket's place; gives it back when dropped.
#[derive(Debug)]
pub struct Slot<K: Hash + Eq + Clone> {
    slots: Arc<Slots<K>>,
    key: Option<K>,
}

impl<K: Hash + Eq + Clone> Drop for Slot<K> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut open = self.slots.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&key);
            }
        }
    }
}

/// The socket caps of the server.
#[derive(Debug)]
pub struct SocketCaps {
    pub per_client: Arc<Slots<ClientKey>>,
    pub per_session: Arc<Slots<String>>,
}

impl SocketCaps {
    pub fn new(per_client: usize, per_session: usize) -> Self {
        Self { per_client: Slots::new(per_client), per_session: Slots::new(per_session) }
    }
}

/// Frames a client may send per second; more are dropped unread.
pub const FRAMES_PER_SECOND: u32 = 50;
/// Seconds in a row over [`FRAMES_PER_SECOND`] after which the socket is closed.
pub const FLOOD_SECONDS: u32 = 5;
const WINDOW: Duration = Duration::from_secs(1);

/// What to do with a frame that arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Read,
    /// Over this second's budget: drop it unread.
    Drop,
    /// Over budget for [`FLOOD_SECONDS`] seconds running: close with 1008.
    Close,
}

/// A socket's frame budget, counted in one-second windows.
#[derive(Debug)]
pub struct FrameBudget {
    window: Instant,
    count: u32,
    /// Whole windows in a row, up to the last one, that went over.
    hot: u32,
}

impl FrameBudget {
    pub fn new(now: Instant) -> Self {
        Self { window: now, count: 0, hot: 0 }
    }

    pub fn admit(&mut self, now: Instant) -> Admit {
        let elapsed = now.saturating_duration_since(self.window);
        if elapsed >= WINDOW {
            let over = self.count > FRAMES_PER_SECOND;
            // A quiet window after it ends the run.
            self.hot = if over && elapsed < WINDOW * 2 { self.hot + 1 } else { 0 };
            self.window = now;
            self.count = 0;
        }
        self.count = self.count.saturating_add(1);
        if self.hot >= FLOOD_SECONDS {
            Admit::Close
        } else if self.count > FRAMES_PER_SECOND {
            Admit::Drop
        } else {
            Admit::Read
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_cap_each_key_and_come_back_when_dropped() {
        let slots = Slots::new(2);
        let a = slots.take("a").expect("first");
        let _b = slots.take("a").expect("second");
        assert!(slots.take("a").is_none(), "the cap");
        let _other = slots.take("b").expect("another key has its own");
        drop(a);
        assert_eq!(slots.count(&"a"), 1);
        let _c = slots.take("a").expect("a freed slot");
    }

    #[test]
    fn a_cap_of_zero_refuses_and_keeps_nothing() {
        let slots = Slots::new(0);
        assert!(slots.take("a").is_none());
        assert_eq!(slots.open.lock().expect("lock").len(), 0);
    }

    /// Sends `per_second` frames a second for `seconds`, evenly; what each got.
    fn flood(budget: &mut FrameBudget, start: Instant, per_second: u32, seconds: u32) -> Vec<Admit> {
        let step = Duration::from_secs(1) / per_second;
        (0..per_second * seconds).map(|i| budget.admit(start + step * i)).collect()
    }

    #[test]
    fn a_normal_client_is_never_limited() {
        let start = Instant::now();
        let mut budget = FrameBudget::new(start);
        assert!(flood(&mut budget, start, 40, 30).iter().all(|a| *a == Admit::Read));
    }

    #[test]
    fn a_burst_loses_its_excess_but_the_socket_stays() {
        let start = Instant::now();
        let mut budget = FrameBudget::new(start);
        let got = flood(&mut budget, start, 200, 3);
        assert_eq!(got.iter().filter(|a| **a == Admit::Read).count(), 150, "50 a second are read");
        assert!(!got.contains(&Admit::Close), "three seconds are not five");
        // A quiet second, and the next burst starts from nothing.
        let later = start + Duration::from_secs(5);
        assert!(!flood(&mut budget, later, 200, 3).contains(&Admit::Close));
    }

    #[test]
    fn five_seconds_over_the_limit_closes() {
        let start = Instant::now();
        let mut budget = FrameBudget::new(start);
        let got = flood(&mut budget, start, 1000, 6);
        let first_close = got.iter().position(|a| *a == Admit::Close).expect("closed");
        let at = Duration::from_secs(1) / 1000 * u32::try_from(first_close).expect("small");
        assert!((Duration::from_secs(5)..Duration::from_secs(6)).contains(&at), "closed after {at:?}");
    }
}
