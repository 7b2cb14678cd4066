//! Token-bucket rate limits per client IP and per website, kept in memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use crate::error::AppError;

/// Buckets idle this long are forgotten when the map grows large.
const IDLE_SECS: f64 = 300.0;
const PRUNE_ABOVE: usize = 50_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// One family of buckets refilling at `rate` per second up to `burst`.
#[derive(Debug)]
struct Buckets<K> {
    rate: f64,
    burst: f64,
    map: Mutex<HashMap<K, Bucket>>,
}

impl<K: std::hash::Hash + Eq + Clone> Buckets<K> {
    fn new(rate: u32) -> Self {
        let rate = f64::from(rate.max(1));
        Self { rate, burst: rate * 4.0, map: Mutex::new(HashMap::new()) }
    }

    /// Takes one token, or says in how many whole seconds one will be there.
    fn take(&self, key: &K, now: Instant) -> Result<(), u64> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, b| now.duration_since(b.at).as_secs_f64() < IDLE_SECS);
        }
        let bucket = map.entry(key.clone()).or_insert(Bucket { tokens: self.burst, at: now });
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.rate;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }
}

/// The server's limits.
#[derive(Debug)]
pub struct RateLimiter {
    per_ip: Buckets<IpAddr>,
    per_website: Buckets<String>,
}

impl RateLimiter {
    pub fn new(per_ip: u32, per_website: u32) -> Self {
        Self { per_ip: Buckets::new(per_ip), per_website: Buckets::new(per_website) }
    }

    pub fn check_ip(&self, ip: IpAddr) -> Result<(), AppError> {
        self.per_ip.take(&ip, Instant::now()).map_err(AppError::RateLimited)
    }

    pub fn check_website(&self, website_id: &str) -> Result<(), AppError> {
        self.per_website.take(&website_id.to_owned(), Instant::now()).map_err(AppError::RateLimited)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_with_a_retry_hint() {
        let b = Buckets::new(2);
        let t0 = Instant::now();
        for _ in 0..8 {
            assert!(b.take(&"k", t0).is_ok());
        }
        assert_eq!(b.take(&"k", t0), Err(1));
    }

    #[test]
    fn a_bucket_refills_at_its_rate() {
        let b = Buckets::new(2);
        let t0 = Instant::now();
        for _ in 0..8 {
            b.take(&"k", t0).expect("burst");
        }
        assert!(b.take(&"k", t0 + Duration::from_millis(500)).is_ok());
        assert!(b.take(&"k", t0 + Duration::from_millis(500)).is_err());
    }

    #[test]
    fn keys_have_separate_buckets() {
        let b = Buckets::new(1);
        let t0 = Instant::now();
        for _ in 0..4 {
            b.take(&"a", t0).expect("burst");
        }
        assert!(b.take(&"a", t0).is_err());
        assert!(b.take(&"b", t0).is_ok());
    }
}
