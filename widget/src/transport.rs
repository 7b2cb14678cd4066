//! Which transport carries live messages: the socket first, polling while
//! the socket is down (or always, with `transport=polling`), and back to the
//! socket as soon as it recovers.

use crate::config::TransportMode;

/// The transport decision for one session.
#[derive(Debug, Clone)]
pub struct TransportChoice {
    mode: TransportMode,
    socket_up: bool,
    failures: u32,
}

/// Polling while the tab is hidden is this many times slower.
pub const HIDDEN_SLOWDOWN: u32 = 5;
/// ... but never slower than this.
pub const HIDDEN_MAX_MS: u32 = 30_000;

impl TransportChoice {
    pub fn new(mode: TransportMode) -> Self {
        Self { mode, socket_up: false, failures: 0 }
    }

    /// Whether a socket should be (re)opened.
    pub fn wants_socket(&self) -> bool {
        self.mode != TransportMode::Polling
    }

    /// Whether polling should run now.
    pub fn wants_polling(&self) -> bool {
        match self.mode {
            TransportMode::Polling => true,
            TransportMode::WebSocket => false,
            TransportMode::Auto => !self.socket_up && self.failures > 0,
        }
    }

    /// The socket is subscribed.
    pub fn socket_up(&mut self) {
        self.socket_up = true;
        self.failures = 0;
    }

    /// The socket could not connect, or dropped.
    pub fn socket_down(&mut self) {
        self.socket_up = false;
        self.failures = self.failures.saturating_add(1);
    }

    pub fn is_socket_up(&self) -> bool {
        self.socket_up
    }
}

/// Time between polls: `interval_ms`, or slower while the tab is hidden.
pub fn poll_delay(interval_ms: u32, hidden: bool) -> u32 {
    if hidden {
        interval_ms.saturating_mul(HIDDEN_SLOWDOWN).min(HIDDEN_MAX_MS).max(interval_ms)
    } else {
        interval_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_tries_the_socket_first_without_polling() {
        let c = TransportChoice::new(TransportMode::Auto);
        assert!(c.wants_socket());
        assert!(!c.wants_polling());
    }

    #[test]
    fn auto_polls_when_the_socket_cannot_connect_and_keeps_retrying_it() {
        let mut c = TransportChoice::new(TransportMode::Auto);
        c.socket_down();
        assert!(c.wants_polling());
        assert!(c.wants_socket());
    }

    #[test]
    fn auto_stops_polling_when_the_socket_recovers() {
        let mut c = TransportChoice::new(TransportMode::Auto);
        c.socket_down();
        c.socket_down();
        c.socket_up();
        assert!(!c.wants_polling());
        assert!(c.is_socket_up());
    }

    #[test]
    fn polling_mode_never_opens_a_socket() {
        let c = TransportChoice::new(TransportMode::Polling);
        assert!(!c.wants_socket());
        assert!(c.wants_polling());
    }

    #[test]
    fn websocket_mode_never_polls() {
        let mut c = TransportChoice::new(TransportMode::WebSocket);
        c.socket_down();
        assert!(!c.wants_polling());
    }

    #[test]
    fn hidden_tabs_poll_slower_within_a_ceiling() {
        assert_eq!(poll_delay(2_000, false), 2_000);
        assert_eq!(poll_delay(2_000, true), 10_000);
        assert_eq!(poll_delay(20_000, true), 30_000);
        assert_eq!(poll_delay(60_000, true), 60_000);
    }
}
