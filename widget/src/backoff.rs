//! When to try the socket again: capped exponential backoff with jitter. The
//! random source and the clock are passed in, so tests control both.

/// A source of numbers in `[0, 1)`.
pub trait Random {
    fn next_unit(&mut self) -> f64;
}

impl<F: FnMut() -> f64> Random for F {
    fn next_unit(&mut self) -> f64 {
        self().clamp(0.0, 1.0)
    }
}

/// Reconnect delays for one socket.
#[derive(Debug, Clone)]
pub struct Backoff {
    base_ms: u32,
    cap_ms: u32,
    /// A connection that stayed up this long starts the next outage from `base_ms` again.
    stable_ms: u64,
    attempt: u32,
    opened_at_ms: Option<u64>,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(500, 30_000, 10_000)
    }
}

impl Backoff {
    pub fn new(base_ms: u32, cap_ms: u32, stable_ms: u64) -> Self {
        Self { base_ms: base_ms.max(1), cap_ms: cap_ms.max(base_ms), stable_ms, attempt: 0, opened_at_ms: None }
    }

    /// The socket opened at `now_ms`.
    pub fn opened(&mut self, now_ms: u64) {
        self.opened_at_ms = Some(now_ms);
    }

    /// The socket failed or closed at `now_ms`: how long to wait before the
    /// next try. Half of the window is fixed and half random, so clients that
    /// lost the server together do not come back together.
    pub fn next_delay(&mut self, now_ms: u64, rng: &mut impl Random) -> u32 {
        if let Some(opened) = self.opened_at_ms.take() {
            if now_ms.saturating_sub(opened) >= self.stable_ms {
                self.attempt = 0;
            }
        }
        let window = u64::from(self.base_ms).saturating_mul(1u64 << self.attempt.min(20)).min(u64::from(self.cap_ms));
        self.attempt = self.attempt.saturating_add(1);
        let half = window / 2;
        // `next_unit` is in [0, 1], so the product fits in `half`.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
        let jitter = (half as f64 * rng.next_unit()) as u64;
        u32::try_from(window - half + jitter).unwrap_or(self.cap_ms)
    }

    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_until_the_cap() {
        let mut b = Backoff::new(500, 4_000, 10_000);
        let mut top = || 1.0;
        let delays: Vec<u32> = (0..6).map(|_| b.next_delay(0, &mut top)).collect();
        assert_eq!(delays, [500, 1_000, 2_000, 4_000, 4_000, 4_000]);
    }

    #[test]
    fn jitter_stays_within_the_upper_half_of_the_window() {
        let mut low = Backoff::new(1_000, 60_000, 10_000);
        let mut high = low.clone();
        assert_eq!(low.next_delay(0, &mut || 0.0), 500);
        assert_eq!(high.next_delay(0, &mut || 0.999), 999);
    }

    #[test]
    fn a_connection_that_stayed_up_resets_the_delay() {
        let mut b = Backoff::new(500, 30_000, 10_000);
        let mut top = || 1.0;
        for _ in 0..4 {
            b.next_delay(0, &mut top);
        }
        b.opened(100_000);
        assert_eq!(b.next_delay(115_000, &mut top), 500);
    }

    #[test]
    fn a_connection_that_dropped_at_once_keeps_backing_off() {
        let mut b = Backoff::new(500, 30_000, 10_000);
        let mut top = || 1.0;
        b.next_delay(0, &mut top);
        b.next_delay(0, &mut top);
        b.opened(1_000);
        assert_eq!(b.next_delay(1_200, &mut top), 2_000);
    }

    #[test]
    fn many_failures_never_overflow() {
        let mut b = Backoff::new(500, 30_000, 10_000);
        let mut top = || 1.0;
        for _ in 0..200 {
            assert!(b.next_delay(0, &mut top) <= 30_000);
        }
    }
}
