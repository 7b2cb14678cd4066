//! Rate limits: keyed GCRA limiters (`governor`) per client, per website and
//! for operator sign-in, with memory bounded by a janitor that forgets every
//! key whose limit has fully recovered.

use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use tokio_util::sync::CancellationToken;

use crate::client::ClientKey;
use crate::error::AppError;

/// How often keys at rest are forgotten.
const JANITOR_EVERY: Duration = Duration::from_secs(30);
/// Longest e-mail kept as a key; longer ones are cut (no e-mail is that long).
const MAX_EMAIL_KEY: usize = 320;

/// One keyed limit.
pub struct Limit<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    clock: DefaultClock,
}

impl<K: Hash + Eq + Clone> Limit<K> {
    /// `count` per `period`, all of it available at once.
    pub fn new(count: u32, period: Duration) -> Self {
        let burst = NonZeroU32::new(count.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota =
            Quota::with_period(period / burst.get()).unwrap_or_else(|| Quota::per_second(burst)).allow_burst(burst);
        Self { limiter: DefaultKeyedRateLimiter::keyed(quota), clock: DefaultClock::default() }
    }

    /// `rate` per second with a burst of four seconds' worth.
    fn per_second_with_burst(rate: u32) -> Self {
        let rate = NonZeroU32::new(rate.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(rate.get().saturating_mul(4)).unwrap_or(rate);
        Self {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one request of `key`, or says when to retry.
    pub fn check(&self, key: &K) -> Result<(), AppError> {
        self.limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            AppError::RateLimited(wait.as_secs_f64().ceil().max(1.0) as u64)
        })
    }

    /// Keys currently remembered.
    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    pub fn is_empty(&self) -> bool {
        self.limiter.is_empty()
    }

    pub(crate) fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// The figures of [`RateLimiter`].
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    /// Public API requests per second per client (burst 4×).
    pub per_ip: u32,
    /// Public API requests per second per website (burst 4×).
    pub per_website: u32,
    /// Sign-in attempts (login, refresh) per minute per client.
    pub auth_per_ip: u32,
    /// Login attempts per minute per e-mail address.
    pub auth_per_email: u32,
}

/// Every limit of the server.
pub struct RateLimiter {
    per_ip: Limit<ClientKey>,
    per_website: Limit<String>,
    auth_per_ip: Limit<ClientKey>,
    auth_per_email: Limit<String>,
}

impl RateLimiter {
    pub fn new(rates: Rates) -> Self {
        Self {
            per_ip: Limit::per_second_with_burst(rates.per_ip),
            per_website: Limit::per_second_with_burst(rates.per_website),
            auth_per_ip: Limit::new(rates.auth_per_ip, Duration::from_secs(60)),
            auth_per_email: Limit::new(rates.auth_per_email, Duration::from_secs(60)),
        }
    }

    pub fn check_ip(&self, client: ClientKey) -> Result<(), AppError> {
        self.per_ip.check(&client)
    }

    pub fn check_website(&self, website_id: &str) -> Result<(), AppError> {
        self.per_website.check(&website_id.to_owned())
    }

    /// One sign-in attempt from `client`, for the account `email` if named.
    /// Checked before any password is hashed.
    pub fn check_sign_in(&self, client: ClientKey, email: Option<&str>) -> Result<(), AppError> {
        self.auth_per_ip.check(&client)?;
        match email {
            Some(email) => {
                let key: String = email.trim().chars().take(MAX_EMAIL_KEY).flat_map(char::to_lowercase).collect();
                self.auth_per_email.check(&key)
            }
            None => Ok(()),
        }
    }

    /// Keys remembered over all limits.
    pub fn keys(&self) -> usize {
        self.per_ip.len() + self.per_website.len() + self.auth_per_ip.len() + self.auth_per_email.len()
    }

    fn forget_idle(&self) {
        self.per_ip.forget_idle();
        self.per_website.forget_idle();
        self.auth_per_ip.forget_idle();
        self.auth_per_email.forget_idle();
    }

    /// Forgets recovered keys every half minute until `stop`.
    pub fn start_janitor(self: &Arc<Self>, stop: CancellationToken) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(JANITOR_EVERY);
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    _ = tick.tick() => this.forget_idle(),
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> ClientKey {
        ClientKey::from(s.parse::<std::net::IpAddr>().expect("ip"))
    }

    fn rates(per_ip: u32) -> Rates {
        Rates { per_ip, per_website: 1000, auth_per_ip: 3, auth_per_email: 2 }
    }

    #[test]
    fn a_client_gets_its_burst_then_a_retry_hint() {
        let limits = RateLimiter::new(rates(2));
        for _ in 0..8 {
            limits.check_ip(key("192.0.2.1")).expect("within the burst");
        }
        match limits.check_ip(key("192.0.2.1")) {
            Err(AppError::RateLimited(secs)) => assert_eq!(secs, 1),
            other => panic!("expected a limit, got {other:?}"),
        }
        limits.check_ip(key("192.0.2.2")).expect("another client has its own limit");
    }

    #[test]
    fn one_ipv6_network_shares_a_limit() {
        let limits = RateLimiter::new(rates(1));
        for i in 0..4 {
            limits.check_ip(key(&format!("2001:db8::{i}"))).expect("within the burst");
        }
        assert!(limits.check_ip(key("2001:db8::ffff")).is_err(), "the same /64 is the same client");
        limits.check_ip(key("2001:db8:0:1::1")).expect("another /64");
    }

    #[test]
    fn sign_in_is_limited_per_client_and_per_email() {
        let limits = RateLimiter::new(rates(100));
        limits.check_sign_in(key("192.0.2.1"), Some("a@example.com")).expect("first");
        limits.check_sign_in(key("192.0.2.2"), Some("A@Example.com ")).expect("second");
        match limits.check_sign_in(key("192.0.2.3"), Some("a@example.com")) {
            Err(AppError::RateLimited(secs)) => assert!((1..=30).contains(&secs), "retry in {secs} s"),
            other => panic!("the e-mail's limit should hold across clients, got {other:?}"),
        }
        limits.check_sign_in(key("192.0.2.4"), None).expect("refresh has no e-mail");
        limits.check_sign_in(key("192.0.2.4"), None).expect("second");
        limits.check_sign_in(key("192.0.2.4"), None).expect("third");
        assert!(limits.check_sign_in(key("192.0.2.4"), None).is_err(), "the client's limit");
    }

    #[test]
    fn recovered_keys_are_forgotten() {
        let limits = RateLimiter::new(Rates { per_ip: 1_000_000, ..rates(1) });
        for i in 0..100u8 {
            limits.check_ip(key(&format!("192.0.2.{i}"))).expect("within");
        }
        assert_eq!(limits.keys(), 100);
        // A key at a million per second recovers within a microsecond.
        std::thread::sleep(Duration::from_millis(5));
        limits.forget_idle();
        assert_eq!(limits.keys(), 0);
    }
}
