//! At most one write or relay per session and kind per second: a socket
//! sending `seen` or typing a thousand times a second costs what one a
//! second does.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// What is throttled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Seen,
    Typing,
}

/// How often each session may do each kind.
pub const EVERY: Duration = Duration::from_secs(1);
/// Entries kept before old ones are dropped.
const MAX_ENTRIES: usize = 100_000;

/// When each session last did each kind.
#[derive(Debug, Default)]
pub struct Throttle {
    last: Mutex<HashMap<(String, Kind), Instant>>,
}

impl Throttle {
    /// `Ok` to go ahead now (and counts it), or when to try again.
    pub fn admit(&self, session_id: &str, kind: Kind, now: Instant) -> Result<(), Instant> {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = last.get(&(session_id.to_owned(), kind)) {
            if now < *at + EVERY {
                return Err(*at + EVERY);
            }
        }
        if last.len() >= MAX_ENTRIES {
            last.retain(|_, at| now < *at + EVERY);
        }
        last.insert((session_id.to_owned(), kind), now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_per_second_per_session_and_kind() {
        let t = Throttle::default();
        let t0 = Instant::now();
        assert_eq!(t.admit("s", Kind::Seen, t0), Ok(()));
        assert_eq!(t.admit("s", Kind::Seen, t0 + Duration::from_millis(300)), Err(t0 + EVERY));
        assert_eq!(t.admit("s", Kind::Typing, t0), Ok(()), "another kind");
        assert_eq!(t.admit("other", Kind::Seen, t0), Ok(()), "another session");
        assert_eq!(t.admit("s", Kind::Seen, t0 + EVERY), Ok(()));
    }
}
